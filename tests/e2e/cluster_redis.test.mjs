// A mixed cluster over a real redis-server: two Switchboard nodes and a
// Node.js socket.io server with @socket.io/redis-adapter (classic PUB/SUB),
// plus @socket.io/redis-emitter, with clients on every node. Broadcasts
// both ways (rooms, all, except, binary), the adapter's requests
// (fetchSockets, allRooms, socketsJoin, disconnectSockets, serverSideEmit
// with ack, broadcast with acks), and Redis restarted mid-run.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Emitter } from '@socket.io/redis-emitter';
import { startRedis } from './lib/redis.mjs';
import { startServer } from './lib/server.mjs';
import { apiWithKey, joinRoom, quitRedisClients, redisClient, startAdapterNode } from './lib/cluster.mjs';
import { connectUser, isRef, test, until, waitFor, waitForArgs } from './lib/util.mjs';

const KEY = 'k';
const api = apiWithKey(KEY);
let redis, a, b, node, emitter;

/* Server-side listeners of the Node server: what serverSideEmit reaches. */
function listen(io) {
  io.serverEvents = [];
  io.on('sb-hello', (x, cb) => {
    io.serverEvents.push(x);
    if (cb) cb(`node:${x}`);
  });
}

const nodeClient = (room) => node.client(room);
const health = async (srv) => (await api(srv, 'GET', '/health')).json;

/* Every node has processed everything published before this returns: a
 * marker sent by the Node server reaches a client of each Switchboard node
 * (Redis delivers one publisher's messages in order). */
async function barrier(...clients) {
  const tag = `m${Math.random()}`;
  const seen = clients.map((c) => waitForArgs(c, 'marker', 5000, (t) => t === tag));
  node.io.emit('marker', tag);
  await Promise.all(seen);
}

function counter(s, event) {
  const got = [];
  s.on(event, (...args) => got.push(args));
  return got;
}

before(async () => {
  if (isRef) return;
  redis = await startRedis();
  const args = ['--redis-url', redis.url, '--api-key', KEY, '--events-per-second', '0'];
  [a, b] = await Promise.all([startServer('switchboard', { args }), startServer('switchboard', { args })]);
  node = await startAdapterNode(redis.url, listen);
  emitter = new Emitter(await redisClient(redis.url));
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

test('Node broadcasts reach Switchboard sockets: rooms, user rooms, all, binary, except', async () => {
  const { s: ua } = await connectUser(a, 'ana');
  const { s: ub } = await connectUser(b, 'ben');
  await joinRoom(ua, 'lobby');
  await joinRoom(ub, 'lobby');
  const toRoom = Promise.all([ua, ub].map((s) => waitForArgs(s, 'news')));
  node.io.to('lobby').emit('news', 'hi', { n: 1 });
  for (const args of await toRoom) assert.deepEqual(args, ['hi', { n: 1 }]);

  const toUser = waitForArgs(ub, 'private');
  node.io.to('user:ben').emit('private', 42);
  assert.deepEqual(await toUser, [42]);

  const bin = Promise.all([ua, ub].map((s) => waitForArgs(s, 'blob')));
  node.io.emit('blob', 'file', Buffer.from([0, 1, 2, 255]), { nested: Buffer.from('xy') });
  for (const [name, buf, obj] of await bin) {
    assert.equal(name, 'file');
    assert.deepEqual([...Buffer.from(buf)], [0, 1, 2, 255]);
    assert.equal(Buffer.from(obj.nested).toString(), 'xy');
  }

  const benSaw = counter(ub, 'not-ben');
  const anaGot = waitForArgs(ua, 'not-ben');
  node.io.to('lobby').except('user:ben').emit('not-ben', 1);
  await anaGot;
  await barrier(ua, ub);
  assert.equal(benSaw.length, 0, 'except user:ben still reached ben');
});

test('Switchboard broadcasts reach the Node server and the other Switchboard node, once each', async () => {
  const { s: ua } = await connectUser(a, 'cara');
  const { s: ub } = await connectUser(b, 'dan');
  const n1 = await nodeClient('hall');
  await joinRoom(ua, 'hall');
  await joinRoom(ub, 'hall');
  const aSaw = counter(ua, 'update');
  const all = Promise.all([ua, ub, n1].map((s) => waitForArgs(s, 'update')));
  const r = await api(a, 'POST', '/api/emit', { to: { room: 'hall' }, event: 'update', data: { v: 7 } });
  assert.equal(r.status, 200, r.text);
  for (const args of await all) assert.deepEqual(args, [{ v: 7 }]);

  // A node never delivers its own publication again: by the time a marker
  // published after it has reached node A's client, A has read its echo.
  await barrier(ua, ub);
  assert.equal(aSaw.length, 1, `node A delivered its own broadcast ${aSaw.length} times`);

  const toDan = waitForArgs(ub, 'direct');
  await api(a, 'POST', '/api/emit', { to: { user: 'dan' }, event: 'direct', data: 'from A' });
  assert.deepEqual(await toDan, ['from A']);

  // chat:message from a client of B reaches a plain Node client in the room.
  const nodeGot = waitForArgs(n1, 'chat:message');
  await ub.timeout(5000).emitWithAck('chat:message', { roomId: 'hall', message: 'hello all' });
  const [msg] = await nodeGot;
  assert.equal(msg.message ?? msg.content ?? msg.text, 'hello all', JSON.stringify(msg));
});

test('fetchSockets, allRooms, socketsJoin, disconnectSockets from the Node server', async () => {
  const { s: ua } = await connectUser(a, 'eve');
  const { s: ub } = await connectUser(b, 'fred');
  const sockets = await node.io.in('user:eve').fetchSockets();
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].id, ua.id);
  assert.match(sockets[0].id, /^[A-Za-z0-9_-]{20}$/);
  assert.ok(sockets[0].rooms.has('user:eve') && sockets[0].rooms.has(ua.id), [...sockets[0].rooms].join());
  assert.equal(sockets[0].data.userId, 'eve');
  const everyone = (await node.io.fetchSockets()).map((s) => s.id);
  assert.ok(everyone.includes(ua.id) && everyone.includes(ub.id));

  node.io.in('user:eve').socketsJoin('vip');
  await until(async () => (await node.io.of('/').adapter.allRooms()).has('vip'), 5000, 'vip in allRooms');
  const fredSaw = counter(ub, 'vip-only');
  const eveGot = waitForArgs(ua, 'vip-only');
  node.io.to('vip').emit('vip-only', 1);
  await eveGot;
  // A socket is addressed by its id, as in Node.js Socket.IO.
  const byId = waitForArgs(ub, 'by-id');
  node.io.to(ub.id).emit('by-id', 'yes');
  assert.deepEqual(await byId, ['yes']);
  await barrier(ua, ub);
  assert.equal(fredSaw.length, 0);

  node.io.in('user:eve').socketsLeave('vip');
  await until(async () => !(await node.io.of('/').adapter.allRooms()).has('vip'), 5000, 'vip gone');

  const gone = waitFor(ub, 'disconnect');
  node.io.in('user:fred').disconnectSockets();
  assert.equal(await gone, 'io server disconnect');
});

// A user's room on a Switchboard node is the list of its devices: the
// adapter's requests must treat it as any room.
test('user:<id> from the Node server: devices on both nodes, socketsLeave and socketsJoin of it', async () => {
  const [g1, g2] = [(await connectUser(a, 'gus')).s, (await connectUser(a, 'gus')).s];
  const g3 = (await connectUser(b, 'gus')).s;
  const got = [g1, g2, g3].map((s) => counter(s, 'to-gus'));
  node.io.to('user:gus').emit('to-gus', 1);
  await barrier(g1, g2, g3);
  assert.deepEqual(got.map((l) => l.length), [1, 1, 1], 'each device once');
  const ids = async () => (await node.io.in('user:gus').fetchSockets()).map((x) => x.id).sort();
  assert.deepEqual(await ids(), [g1.id, g2.id, g3.id].sort());
  assert.ok((await node.io.of('/').adapter.allRooms()).has('user:gus'));

  node.io.in(g2.id).socketsLeave('user:gus');
  await until(async () => (await ids()).length === 2, 5000, 'g2 out of user:gus');
  const [g2Socket] = await node.io.in(g2.id).fetchSockets();
  assert.ok(!g2Socket.rooms.has('user:gus'), [...g2Socket.rooms].join());
  node.io.to('user:gus').emit('to-gus', 2);
  node.io.except('user:gus').emit('to-gus', 'not gus');
  await barrier(g1, g2, g3);
  assert.deepEqual(got.map((l) => l.map(([x]) => x)), [[1, 2], [1, 'not gus'], [1, 2]]);

  node.io.in(g2.id).socketsJoin('user:gus');
  await until(async () => (await ids()).length === 3, 5000, 'g2 back in user:gus');
  const gone = waitFor(g1, 'disconnect');
  node.io.in(g1.id).disconnectSockets();
  await gone;
  node.io.to('user:gus').emit('to-gus', 3);
  await barrier(g2, g3);
  assert.deepEqual(got.map((l) => l.length), [2, 3, 3]);
  assert.deepEqual(await ids(), [g2.id, g3.id].sort());
});

test('serverSideEmit and broadcasts with acks from the Node server get every node\'s answers', async () => {
  const replies = await new Promise((resolve, reject) => {
    node.io.serverSideEmit('hello', 1, (err, res) => (err ? reject(err) : resolve(res)));
  });
  assert.equal(replies.length, 2, JSON.stringify(replies));
  for (const r of replies) assert.equal(r.received, true);

  const { s: ua } = await connectUser(a, 'gus');
  const { s: ub } = await connectUser(b, 'hal');
  const n1 = await nodeClient('acks');
  await joinRoom(ua, 'acks');
  await joinRoom(ub, 'acks');
  ua.on('question', (q, cb) => cb(`a:${q}`));
  ub.on('question', (q, cb) => cb(`b:${q}`));
  n1.on('question', (q, cb) => cb(`n:${q}`));
  const answers = await node.io.to('acks').timeout(4000).emitWithAck('question', 'q1');
  assert.deepEqual(answers.sort(), ['a:q1', 'b:q1', 'n:q1']);
});

test('serverSideEmit from Switchboard (POST /api/server-emit) reaches the Node server and is answered', async () => {
  let r = await api(a, 'POST', '/api/server-emit', { event: 'sb-hello', data: 'one' });
  assert.equal(r.status, 202, r.text);
  await until(() => node.io.serverEvents.includes('one'), 5000, 'the Node listener ran');

  r = await api(a, 'POST', '/api/server-emit', { event: 'sb-hello', data: ['two'], ack: true, timeoutMs: 4000 });
  assert.equal(r.status, 200, r.text);
  const body = JSON.parse(r.text);
  assert.equal(body.timedOut, false, r.text);
  assert.equal(body.responses.length, 2, r.text); // the Node server and node B
  assert.ok(body.responses.includes('node:two'), r.text);
  assert.ok(body.responses.some((x) => x && x.received === true), r.text);

  r = await api(a, 'POST', '/api/server-emit', { event: '', ack: true });
  assert.equal(r.status, 422, r.text);
  r = await api(a, 'POST', '/api/server-emit', { event: 'x', namespace: '/nope' });
  assert.equal(r.status, 404, r.text);
});

test('@socket.io/redis-emitter publications reach Switchboard sockets', async () => {
  const { s: ua } = await connectUser(a, 'ida');
  const { s: ub } = await connectUser(b, 'jon');
  const toIda = waitForArgs(ua, 'job:done');
  emitter.to('user:ida').emit('job:done', { id: 3 }, Buffer.from([9, 8]));
  const [payload, buf] = await toIda;
  assert.deepEqual(payload, { id: 3 });
  assert.deepEqual([...Buffer.from(buf)], [9, 8]);
  const toAll = Promise.all([ua, ub].map((s) => waitForArgs(s, 'announce')));
  emitter.emit('announce', 'all');
  for (const args of await toAll) assert.deepEqual(args, ['all']);
  emitter.in('user:jon').socketsJoin('emitted');
  await until(async () => (await node.io.in('emitted').fetchSockets()).length === 1, 5000, 'jon joined');
});

/* The first snapshot of the dashboard's stream. */
async function snapshot(srv) {
  const ac = new AbortController();
  const res = await fetch(`${srv.url}/api/admin/stream`, { headers: { authorization: `Bearer ${KEY}` }, signal: ac.signal });
  assert.equal(res.status, 200);
  let text = '';
  const dec = new TextDecoder();
  try {
    for await (const chunk of res.body) {
      text += dec.decode(chunk, { stream: true });
      const m = /event: metrics\ndata: (.*)\n\n/.exec(text);
      if (m) return JSON.parse(m[1]);
    }
  } finally {
    ac.abort();
  }
  throw new Error('the stream ended without a snapshot');
}

test('the dashboard shows this node\'s id, its link to Redis and the servers of the cluster', async () => {
  let sa;
  for (let i = 0; i < 50 && !(sa?.nodes?.count === 3); i++) {
    if (i) await new Promise((r) => setTimeout(r, 200));
    sa = await snapshot(a);
  }
  assert.equal(sa.nodes.count, 3, 'two Switchboard nodes and the Node.js server');
  assert.match(sa.nodes.self, /^[A-Za-z0-9]{6}$/);
  assert.equal(sa.nodes.redisUp, true);
  const sbn = await snapshot(b);
  assert.match(sbn.nodes.self, /^[A-Za-z0-9]{6}$/);
  assert.notEqual(sbn.nodes.self, sa.nodes.self);
});

test('Redis restarting: local delivery goes on, /health and /metrics show it, the cluster heals', async () => {
  const { s: ua } = await connectUser(a, 'kim');
  await joinRoom(ua, 'local');
  await redis.stop();
  await until(async () => (await health(a)).redis === 'down', 10000, '/health shows redis down');
  const h = await api(a, 'GET', '/health');
  assert.equal(h.status, 200, 'a node without Redis still serves its own clients');
  const local = waitForArgs(ua, 'still-here');
  await api(a, 'POST', '/api/emit', { to: { room: 'local' }, event: 'still-here', data: 1 });
  assert.deepEqual(await local, [1]);
  assert.match((await api(a, 'GET', '/metrics')).text, /switchboard_redis_up 0/);
  const refused = await api(a, 'POST', '/api/server-emit', { event: 'x', ack: true });
  assert.equal(refused.status, 503, refused.text);
  assert.match(refused.text, /cluster_unavailable/);

  await redis.start();
  await until(async () => (await health(a)).redis === 'up' && (await health(b)).redis === 'up', 20000,
    'both nodes resubscribed');
  const metrics = (await api(a, 'GET', '/metrics')).text;
  assert.match(metrics, /switchboard_redis_up 1/);
  assert.match(metrics, /switchboard_redis_reconnects_total [1-9]/);
  await until(async () => (await node.io.of('/').adapter.serverCount()) === 3, 20000, 'Node sees 3 nodes');
  const healed = waitForArgs(ua, 'healed');
  node.io.to('user:kim').emit('healed', true);
  assert.deepEqual(await healed, [true]);
}, { timeout: 60000 });
