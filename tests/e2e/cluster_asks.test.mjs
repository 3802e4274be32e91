// Switchboard asking the cluster: the HTTP API on a Switchboard node acts on
// every node of a mixed cluster (a second Switchboard node and a Node.js
// socket.io server with @socket.io/redis-adapter) over a real redis-server:
// GET /api/sockets (fetchSockets), GET /api/rooms (allRooms), POST
// /api/rooms/:room/join|leave|disconnect (socketsJoin, socketsLeave,
// disconnectSockets), POST /api/emit with ack (broadcast with acks, binary
// both ways), and a node that counts but never answers (a raw subscriber
// of the request channel): the answer says it timed out, with what came.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis } from './lib/redis.mjs';
import { startServer } from './lib/server.mjs';
import { apiWithKey, joinRoom, metricsOf, quitRedisClients, redisClient, startAdapterNode } from './lib/cluster.mjs';
import { client, connectUser, isRef, mintToken, test, until, waitFor, waitForArgs } from './lib/util.mjs';

const KEY = 'k';
const api = apiWithKey(KEY);
let redis, a, b, node;

const nodeClient = (room) => node.client(room);
const health = async (srv) => (await api(srv, 'GET', '/health')).json;

before(async () => {
  if (isRef) return;
  redis = await startRedis();
  const args = ['--redis-url', redis.url, '--api-key', KEY, '--events-per-second', '0'];
  [a, b] = await Promise.all([startServer('switchboard', { args }), startServer('switchboard', { args })]);
  node = await startAdapterNode(redis.url, (io) => io.on('sb-ping', (x, cb) => cb(`pong:${x}`)));
  await until(async () => (await health(a)).redis === 'up' && (await health(b)).redis === 'up', 10000,
    'both Switchboard nodes subscribed');
  await until(async () => (await node.io.of('/').adapter.serverCount()) === 3, 10000,
    'the Node server counts three nodes');
});

after(async () => {
  if (isRef) return;
  await node?.close();
  await quitRedisClients();
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
});

// Each node here has a store of its own (its SQLite file, or its schema on
// PostgreSQL): a message id of node a names nothing in node b's store.
test('a message relayed from a node with another store is shown without an ack and does not hide the node\'s own', async () => {
  const alice = `alice-${Date.now()}`, carol = `carol-${Date.now()}`, bob = `bob-${Date.now()}`;
  const sa = (await connectUser(a, alice)).s;
  const sc = (await connectUser(b, carol)).s;
  const dev = client(b.url, { transports: ['websocket'], auth: { token: mintToken({ sub: bob }, b.secret) } });
  const got = [];
  dev.on('message:received', (m, confirm) => {
    got.push({ content: m.content, asked: typeof confirm === 'function' });
    if (confirm) confirm();
  });
  await waitFor(dev, 'connection:established');
  const send = (s, content) => s.emitWithAck('message:send', { receiverId: bob, content });
  const own = await send(sc, 'b0');
  // Node a's ids climb past node b's next one (bounded).
  let last = { id: 0 };
  for (let i = 0; i < 60 && last.id <= own.id + 1; i++) last = await send(sa, `a${i}`);
  assert.ok(last.id > own.id + 1, `node a's ids passed node b's: ${last.id} > ${own.id + 1}`);
  await until(() => got.some((g) => g.content === last.content), 5000, 'the relayed ones arrive');
  const next = await send(sc, 'b1');
  assert.ok(next.id < last.id, 'node b\'s id is below what the device was shown from node a');
  await until(() => got.some((g) => g.content === 'b1'), 5000, 'node b\'s own message arrives live');
  for (const g of got) assert.equal(g.asked, g.content.startsWith('b'), `${g.content}: acked only when it is b's`);
}, { skip: isRef });

test('GET /api/sockets and GET /api/rooms on one node list the sockets and rooms of every node', async () => {
  const { s: ua } = await connectUser(a, 'ann');
  const { s: ub } = await connectUser(b, 'bob');
  const n1 = await nodeClient('plaza');
  await joinRoom(ua, 'plaza');
  await joinRoom(ub, 'plaza');

  const r = await api(a, 'GET', '/api/sockets?room=plaza');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.timedOut, false, r.text);
  assert.deepEqual(r.json.nodes, { expected: 2, answered: 2 }, r.text);
  assert.deepEqual(r.json.sockets.map((s) => s.id).sort(), [ua.id, ub.id, n1.id].sort());
  assert.equal(r.json.count, 3);
  const bob = r.json.sockets.find((s) => s.id === ub.id);
  assert.equal(bob.data.userId, 'bob', 'the other Switchboard node tells the user');
  assert.ok(bob.rooms.includes('plaza') && bob.rooms.includes('user:bob'), bob.rooms.join());
  const fromNode = r.json.sockets.find((s) => s.id === n1.id);
  assert.ok(fromNode.rooms.includes('plaza') && fromNode.handshake, JSON.stringify(fromNode));

  const byUser = await api(b, 'GET', '/api/sockets?user=ann');
  assert.deepEqual(byUser.json.sockets.map((s) => s.id), [ua.id], byUser.text);
  const except = await api(b, 'GET', '/api/sockets?room=plaza&except=user%3Abob');
  assert.deepEqual(except.json.sockets.map((s) => s.id).sort(), [ua.id, n1.id].sort(), except.text);

  const rooms = await api(b, 'GET', '/api/rooms');
  assert.equal(rooms.status, 200, rooms.text);
  for (const room of ['plaza', 'user:ann', 'user:bob']) assert.ok(rooms.json.rooms.includes(room), rooms.text);
  assert.ok(!rooms.json.rooms.includes(n1.id) && !rooms.json.rooms.includes(ua.id), 'socket id rooms left out');
  assert.deepEqual(rooms.json.rooms, [...new Set(rooms.json.rooms)].sort(), 'each once, sorted');

  assert.equal((await api(a, 'GET', '/api/sockets?timeoutMs=0')).status, 422);
  assert.equal((await api(a, 'GET', '/api/sockets?namespace=%2Fnope')).status, 404);
  assert.equal((await fetch(`${a.url}/api/sockets`)).status, 401);
});

test('POST /api/rooms/:room/join, leave and disconnect act on sockets of every node', async () => {
  const { s: ua } = await connectUser(a, 'cid');
  const { s: ub } = await connectUser(b, 'dot');
  const n1 = await nodeClient('lounge');
  await joinRoom(ua, 'lounge');
  await joinRoom(ub, 'lounge');

  let r = await api(a, 'POST', '/api/rooms/vip/join', { to: { room: 'lounge' }, except: ['user:cid'] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { ok: true, localSockets: 0, clusterWide: true });
  await until(async () => (await node.io.in('vip').fetchSockets()).length === 2, 5000, 'dot and the Node client in vip');
  const inVip = (await node.io.in('vip').fetchSockets()).map((s) => s.id).sort();
  assert.deepEqual(inVip, [ub.id, n1.id].sort());

  const got = Promise.all([ub, n1].map((s) => waitForArgs(s, 'vip:news')));
  await api(a, 'POST', '/api/emit', { to: { room: 'vip' }, event: 'vip:news', data: 1 });
  await got;

  r = await api(b, 'POST', '/api/rooms/vip/leave', {});
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.localSockets, 1);
  await until(async () => (await node.io.in('vip').fetchSockets()).length === 0, 5000, 'vip empty');

  r = await api(a, 'POST', '/api/rooms/vip/join', {});
  assert.equal(r.status, 422, r.text);

  const gone = Promise.all([ub, n1].map((s) => waitFor(s, 'disconnect')));
  r = await api(a, 'POST', '/api/rooms/lounge/disconnect', { except: ['user:cid'] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(await gone, ['io server disconnect', 'io server disconnect']);
  assert.ok(ua.connected, 'the excepted socket stays');
});

test('POST /api/emit with ack gathers the acks of clients on every node, binary both ways', async () => {
  const { s: ua } = await connectUser(a, 'eli');
  const { s: ub } = await connectUser(b, 'fay');
  const n1 = await nodeClient('quiz');
  await joinRoom(ua, 'quiz');
  await joinRoom(ub, 'quiz');
  ua.on('q', (x, cb) => cb(`a:${x}`));
  ub.on('q', (x, cb) => cb(`b:${x}`));
  n1.on('q', (x, cb) => cb(`n:${x}`));
  let r = await api(a, 'POST', '/api/emit', { to: { room: 'quiz' }, event: 'q', data: 1, ack: true, timeoutMs: 4000 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.recipients, 3, r.text);
  assert.deepEqual(r.json.responses.sort(), ['a:1', 'b:1', 'n:1']);
  assert.equal(r.json.timedOut, false);

  // Binary out: {"$binary": base64} reaches every client as binary; their
  // binary answers come back as {"$binary"} (msgpack bin from the others).
  for (const s of [ua, ub, n1]) {
    s.on('blob', (x, cb) => cb({ echo: Buffer.concat([Buffer.from(x.bytes), Buffer.from([s === n1 ? 0xee : 0xaa])]) }));
  }
  r = await api(a, 'POST', '/api/emit', {
    to: { room: 'quiz' }, event: 'blob', data: { bytes: { $binary: Buffer.from([1, 2, 3]).toString('base64') } },
    ack: true, timeoutMs: 4000,
  });
  assert.equal(r.status, 200, r.text);
  const echoes = r.json.responses.map((x) => [...Buffer.from(x.echo.$binary, 'base64')]).sort();
  assert.deepEqual(echoes, [[1, 2, 3, 0xaa], [1, 2, 3, 0xaa], [1, 2, 3, 0xee]], r.text);

  // The reverse: a Node broadcast with acks and binary reaches Switchboard
  // clients as binary, and their binary acks reach the Node server.
  const answers = await node.io.to('quiz').timeout(4000).emitWithAck('blob', { bytes: Buffer.from([7]) });
  assert.deepEqual(answers.map((x) => [...Buffer.from(x.echo)]).sort(), [[7, 0xaa], [7, 0xaa], [7, 0xee]]);

  r = await api(a, 'POST', '/api/emit', { to: { user: 'fay' }, event: 'q', data: 2, ack: true });
  assert.deepEqual(r.json.responses, ['b:2'], r.text);
  r = await api(a, 'POST', '/api/emit', { to: { room: 'quiz' }, event: 'q', ack: 'yes' });
  assert.equal(r.status, 422, r.text);
  r = await api(a, 'POST', '/api/emit', { to: { room: 'quiz' }, event: 'q', data: { $binary: '%%' }, ack: true });
  assert.equal(r.status, 422, r.text);
});

test('a node that counts but never answers: the request ends at its timeout with what came', async () => {
  const { s: ua } = await connectUser(a, 'gil');
  const n1 = await nodeClient('slow');
  await joinRoom(ua, 'slow');
  ua.on('q', (x, cb) => cb('a'));
  n1.on('q', (x, cb) => cb('n'));
  const mute = await redisClient(redis.url);
  await mute.subscribe('socket.io-request#/#', () => {}); // counted by PUBSUB NUMSUB, never answers
  const before = await metricsOf(a, KEY);
  try {
    await until(async () => (await node.io.of('/').adapter.serverCount()) === 4, 5000, 'four subscribers');
    let r = await api(a, 'GET', '/api/sockets?room=slow&timeoutMs=800');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.timedOut, true, r.text);
    assert.deepEqual(r.json.nodes, { expected: 3, answered: 2 }, r.text);
    assert.deepEqual(r.json.sockets.map((s) => s.id).sort(), [ua.id, n1.id].sort(), 'the answers that came');

    r = await api(a, 'GET', '/api/rooms?timeoutMs=800');
    assert.equal(r.json.timedOut, true, r.text);
    assert.ok(r.json.rooms.includes('slow'), r.text);

    r = await api(a, 'POST', '/api/emit', { to: { room: 'slow' }, event: 'q', data: 0, ack: true, timeoutMs: 800 });
    assert.equal(r.json.timedOut, true, r.text);
    assert.deepEqual(r.json.responses.sort(), ['a', 'n'], r.text);

    r = await api(a, 'POST', '/api/server-emit', { event: 'sb-ping', data: 1, ack: true, timeoutMs: 800 });
    assert.equal(r.json.timedOut, true, r.text);
    assert.deepEqual(r.json.nodes, { expected: 3, answered: 2 }, r.text);
    // /metrics counts the four asks, each timed out.
    const during = await metricsOf(a, KEY);
    assert.equal(during.cluster_asks_sent_total - before.cluster_asks_sent_total, 4);
    assert.equal(during.cluster_asks_timed_out_total - before.cluster_asks_timed_out_total, 4);
    assert.equal(during.cluster_asks_answered_total, before.cluster_asks_answered_total);
  } finally {
    await mute.unsubscribe('socket.io-request#/#');
  }
  await until(async () => (await api(a, 'GET', '/api/sockets?room=slow&timeoutMs=2000')).json.timedOut === false,
    5000, 'answers complete again once the mute subscriber left');
  const after_ = await metricsOf(a, KEY);
  assert.ok(after_.cluster_asks_answered_total > before.cluster_asks_answered_total, 'an ask answered in full');
  assert.equal(after_.cluster_asks_sent_total - before.cluster_asks_sent_total,
    after_.cluster_asks_answered_total - before.cluster_asks_answered_total + 4, 'every ask ended one way or the other');
}, { timeout: 30000 });

test('on a node alone the same endpoints act on that node', async () => {
  const solo = await startServer('switchboard', { args: ['--api-key', KEY, '--events-per-second', '0'] });
  try {
    const { s } = await connectUser(solo, 'hum');
    s.on('q', (x, cb) => cb(x * 2));
    let r = await api(solo, 'GET', `/api/sockets?room=${s.id}`);
    assert.deepEqual(r.json.sockets.map((x) => x.id), [s.id], r.text);
    assert.deepEqual(r.json.nodes, { expected: 0, answered: 0 });
    r = await api(solo, 'POST', '/api/rooms/solo/join', { to: { socket: s.id } });
    assert.deepEqual(r.json, { ok: true, localSockets: 1, clusterWide: false }, r.text);
    assert.ok((await api(solo, 'GET', '/api/rooms')).json.rooms.includes('solo'));
    r = await api(solo, 'POST', '/api/emit', { to: { room: 'solo' }, event: 'q', data: 21, ack: true });
    assert.deepEqual([r.json.recipients, r.json.responses, r.json.timedOut], [1, [42], false], r.text);
  } finally {
    await solo.stop();
  }
});
