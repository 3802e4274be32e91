// A 2-node Switchboard cluster on one PostgreSQL store and one redis-server
// (both throwaway, started here): the chat and social scenarios with the
// users spread over both nodes — direct messages live and offline (then a
// reconnect on the other node), history, typing, read receipts, chat rooms
// with history, friends' presence (scope friends: the store tells who is a
// friend, Redis who is online).
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { adminSnapshot } from './lib/admin_stream.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { startRedis } from './lib/redis.mjs';
import { NO_EVENT_LIMIT, startServer } from './lib/server.mjs';
import { ack, assertFields, client, connectUser, disconnect, isRef, mintToken, record, test, until, waitFor } from './lib/util.mjs';
import { apiWithKey, metricsOf, quitRedisClients, redisClient } from './lib/cluster.mjs';

const skip = isRef ? 'C-only: the reference server has neither store nor cluster' : false;
let pg, redis, a, b;
const uid = (p) => `${p}-${Math.random().toString(36).slice(2, 8)}`;

/* The cluster's nodes as the dashboard stream of srv lists them. */
const snapshotNodes = async (srv) => (await adminSnapshot(srv, 'k')).nodes;

before(async () => {
  if (isRef) return;
  [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  const args = [...NO_EVENT_LIMIT, '--api-key', 'k', '--database-url', pg.url, '--redis-url', redis.url,
    '--cluster-node-timeout', '2000'];
  a = await startServer('switchboard', { args }); // one at a time: the first creates the schema
  b = await startServer('switchboard', { args });
  await until(async () => (await snapshotNodes(a))?.list.length === 2 && (await snapshotNodes(b))?.list.length === 2,
    15000, 'both nodes registered');
});

after(async () => {
  if (isRef) return;
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
  await pg?.destroy();
});

async function send(sock, payload) {
  const r = await ack(sock, 'message:send', payload);
  assert.ok(!r.error, `message:send failed: ${JSON.stringify(r)}`);
  return r;
}

test('a direct message to a user on the other node arrives live, once, and is confirmed there', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const sa = (await connectUser(a, alice)).s;
  const sb = client(b.url, { transports: ['websocket'], auth: { token: mintToken({ sub: bob }, b.secret) } });
  const got = [];
  sb.on('message:received', (m, confirm) => { got.push(m); confirm(); });
  await waitFor(sb, 'connection:established');
  const [outBefore, inBefore] = [await metricsOf(a, 'k'), await metricsOf(b, 'k')];
  const m = await send(sa, { receiverId: bob, content: 'across nodes' });
  await until(() => got.length === 1, 5000, 'bob on node b gets it live');
  // Relayed once from a to b, as /metrics counts it.
  const [outAfter, inAfter] = [await metricsOf(a, 'k'), await metricsOf(b, 'k')];
  assert.equal(outAfter.cluster_relayed_out_total - outBefore.cluster_relayed_out_total, 1, 'relayed out by node a');
  assert.equal(inAfter.cluster_relayed_in_total - inBefore.cluster_relayed_in_total, 1, 'relayed in on node b');
  assert.equal(got[0].id, m.id);
  assert.equal(got[0].content, 'across nodes');
  // Confirmed on node b, in the shared store: a new device of bob on node a
  // gets no backlog of it.
  await ack(sb, 'message:history', { conversationId: m.conversationId }); // the confirm was read
  const again = client(a.url, { transports: ['websocket'], auth: { token: mintToken({ sub: bob }, a.secret) } });
  const replay = [];
  again.on('message:received', (x) => replay.push(x));
  await waitFor(again, 'connection:established');
  await ack(again, 'notification:list', {}); // a round trip after any backlog
  await ack(again, 'message:history', { conversationId: m.conversationId });
  assert.deepEqual(replay, [], 'confirmed on node b: not pending any more');
  assert.equal(got.length, 1, 'once');
}, { skip });

test('offline delivery: messages sent on node a while bob is away reach him when he reconnects on node b', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const sa = (await connectUser(a, alice)).s;
  const first = (await connectUser(b, bob)).s;
  await disconnect(first);
  const ids = [];
  for (const content of ['one', 'two', 'three']) ids.push((await send(sa, { receiverId: bob, content })).id);
  const sb = client(b.url, { transports: ['websocket'], autoConnect: false,
    auth: { token: mintToken({ sub: bob }, b.secret) } });
  const seen = [];
  sb.on('message:received', (m, confirm) => { seen.push(m); confirm(); });
  sb.connect();
  await until(() => seen.length === 3, 5000, 'three offline messages on node b');
  assert.deepEqual(seen.map((x) => x.id), ids);
  assert.deepEqual(seen.map((x) => x.content), ['one', 'two', 'three']);
}, { skip });

/** A psql session that holds message id `id` taken (an uncommitted row with
 * that id): an append that draws it from the sequence waits for release(). */
async function holdMessageId(url) {
  const id = Number(execFileSync('psql', ['-X', '-Atc',
    "SELECT last_value + CASE WHEN is_called THEN 1 ELSE 0 END FROM messages_id_seq", url]).toString().trim());
  const psql = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', url], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  psql.stdout.on('data', (d) => { out += d; });
  psql.stdin.write(`BEGIN;\nINSERT INTO messages(id, room, sender_id, content, type, created_at_ms) ` +
    `OVERRIDING SYSTEM VALUE VALUES (${id}, 'held', 'held', 'held', 'text', 0);\n\\echo held\n`);
  const exited = new Promise((resolve) => psql.once('exit', resolve));
  await until(() => out.includes('held'), 10000, 'psql holds the id');
  let released = null;
  return {
    id,
    release: () => { released ??= (psql.stdin.end('ROLLBACK;\n\\q\n'), exited); return released; },
  };
}

/** Sessions of the database waiting for a lock (a row's or an advisory one). */
const waitingOnLocks = (url) => Number(execFileSync('psql', ['-X', '-Atc',
  "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
  url]).toString().trim());

test('one user\'s messages stored by two nodes reach a device in id order, also when the lower id commits last; its offset then loses none', async () => {
  const alice = uid('alice'), carol = uid('carol'), bob = uid('bob');
  const sa = (await connectUser(a, alice)).s;
  const sc = (await connectUser(b, carol)).s;
  // Bob's device on node b never acknowledges: what it was sent stays
  // pending, and only its recovery offset can confirm it.
  const bobDev = client(b.url, { transports: ['websocket'], auth: { token: mintToken({ sub: bob }, b.secret) } });
  const got = [];
  bobDev.on('message:received', (m) => got.push(m.id));
  await waitFor(bobDev, 'connection:established');
  const hold = await holdMessageId(pg.url);
  try {
    // Node a's append draws the held id and waits for the psql session.
    const first = ack(sa, 'message:send', { receiverId: bob, content: 'lower id' });
    await until(() => waitingOnLocks(pg.url) >= 1, 10000, 'node a\'s append waits');
    // Node b's append, to another conversation of bob's, gets a higher id.
    // It must not commit before the lower one: bob's device would get it
    // first and skip the lower one.
    const second = ack(sc, 'message:send', { receiverId: bob, content: 'higher id' });
    let secondDone = false;
    second.then(() => { secondDone = true; }, () => { secondDone = true; });
    await until(() => secondDone || waitingOnLocks(pg.url) >= 2, 10000, 'node b\'s append waits or is done');
    await hold.release();
    const [m1, m2] = [await first, await second];
    assert.ok(!m1.error && !m2.error, JSON.stringify([m1, m2]));
    assert.equal(m1.id, hold.id, 'node a\'s message has the held id');
    assert.ok(m2.id > m1.id);
    await until(() => got.length >= 2, 5000, 'bob\'s device gets both');
    assert.deepEqual(got, [m1.id, m2.id], 'both, once, in id order');
    // A dropped transport: the device comes back with its offset, which
    // confirms what it was sent; nothing is replayed, nothing was skipped.
    const gone = waitFor(bobDev, 'disconnect', 5000);
    bobDev.io.engine.close();
    await gone;
    const back = waitFor(bobDev, 'connect', 10000);
    bobDev.connect();
    await back;
    assert.equal(bobDev.recovered, true, 'recovered on node b');
    const m3 = await send(sa, { receiverId: bob, content: 'after the reconnect' });
    await until(() => got.includes(m3.id), 5000, 'the next message');
    assert.deepEqual(got, [m1.id, m2.id, m3.id]);
    // A new device of bob's is sent only what no offset or ack confirmed.
    const other = client(a.url, { transports: ['websocket'], auth: { token: mintToken({ sub: bob }, a.secret) } });
    const replay = [];
    other.on('message:received', (m, confirm) => { replay.push(m.id); confirm(); });
    await waitFor(other, 'connection:established');
    await until(() => replay.includes(m3.id), 5000, 'the unconfirmed one');
    assert.deepEqual(replay, [m3.id], 'm1 and m2 were confirmed by the offset, m3 not yet');
  } finally {
    await hold.release().catch(() => {});
  }
}, { skip, timeout: 40000 });

test('history, typing and read receipts between users on different nodes', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const sa = (await connectUser(a, alice)).s;
  const sb = (await connectUser(b, bob)).s;
  let conv;
  const sentIds = [];
  for (let i = 0; i < 5; i++) {
    const from = i % 2 ? sb : sa;
    const m = await send(from, { receiverId: i % 2 ? alice : bob, content: `h${i}` });
    conv = m.conversationId;
    sentIds.push(m.id);
  }
  for (const s of [sa, sb]) {
    const h = await ack(s, 'message:history', { conversationId: conv });
    assert.deepEqual(h.messages.map((x) => x.id), [...sentIds].reverse(), 'the same history from both nodes');
  }
  const start = waitFor(sb, 'typing:start');
  assert.deepEqual(await ack(sa, 'message:typing', { conversationId: conv, receiverId: bob }), { ok: true });
  assert.deepEqual(await start, { conversationId: conv, userId: alice });
  const stop = waitFor(sb, 'typing:stop');
  await ack(sa, 'message:stop_typing', { conversationId: conv, receiverId: bob });
  assert.deepEqual(await stop, { conversationId: conv, userId: alice });

  const aliceIds = sentIds.filter((_, i) => i % 2 === 0);
  const receipt = waitFor(sa, 'messages-read');
  const r = await ack(sb, 'mark-read', { conversationId: conv, messageIds: aliceIds });
  assert.deepEqual(r.messageIds, aliceIds);
  assert.deepEqual(await receipt, { conversationId: conv, messageIds: aliceIds, readBy: bob });
  const twice = await ack(sb, 'mark-read', { conversationId: conv, messageIds: aliceIds });
  assert.deepEqual(twice.messageIds, [], 'read once, whichever node');
}, { skip });

test('chat rooms across nodes: messages to everyone once, one stored history', async () => {
  const room = uid('room');
  const sa = (await connectUser(a, uid('ana'))).s;
  const sb = (await connectUser(b, uid('ben'))).s;
  await ack(sa, 'chat:join', room);
  await ack(sb, 'chat:join', room);
  const atA = record(sa, 'chat:message');
  const atB = record(sb, 'chat:message');
  for (let i = 0; i < 10; i++) await ack(i % 2 ? sb : sa, 'chat:message', { roomId: room, message: `r${i}` });
  await until(() => atA.length === 10 && atB.length === 10, 5000, 'ten messages on both nodes');
  // Each once on both nodes; the order across senders on different nodes
  // is not one (a node may read the other's publication after its own
  // client's next message), each sender's own order is.
  const want = Array.from({ length: 10 }, (_, i) => `r${i}`);
  for (const got of [atA, atB]) {
    const texts = got.map((x) => x[0].message);
    assert.deepEqual([...texts].sort(), [...want].sort());
    for (const parity of [0, 1]) {
      const mine = texts.filter((t) => Number(t.slice(1)) % 2 === parity);
      assert.deepEqual(mine, want.filter((_, i) => i % 2 === parity), 'one sender\'s messages in order');
    }
  }
  const late = (await connectUser(b, uid('late'))).s;
  const hist = record(late, 'chat:message');
  await ack(late, 'chat:join', room);
  const h = await ack(late, 'chat:history', { roomId: room });
  const texts = (h?.messages ?? hist.map((x) => x[0])).map((x) => x.message);
  for (const t of want) assert.ok(texts.includes(t), `history from the shared store has ${t}: ${JSON.stringify(texts)}`);
}, { skip });

test('friends on different nodes see each other come and go (scope friends)', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const sa = (await connectUser(a, alice)).s;
  const sb = (await connectUser(b, bob)).s;
  const { requestId } = await ack(sb, 'friend:request', { toUserId: alice });
  assert.equal((await ack(sa, 'friend:accept', { requestId })).ok, true);
  await disconnect(sb);
  const offline = await waitFor(sa, 'user:offline', 5000, (p) => p.userId === bob);
  assert.ok(offline.lastSeen, JSON.stringify(offline));
  const online = waitFor(sa, 'user:online', 5000, (p) => p.userId === bob);
  const { est } = await connectUser(b, bob);
  await online;
  assert.ok(est.onlineUsers.includes(alice), `bob's friend on node a is listed: ${JSON.stringify(est)}`);
}, { skip });

// ---- the live features across nodes: documents, dashboards, WebRTC signaling ----

const api = apiWithKey('k');
const names = (list) => list.map((u) => u.userId).sort();

/* A round trip through node `via` to sock's node and back: what Redis
 * carried from `via` before it has reached sock (one publisher's
 * messages arrive in order). */
async function settled(via, sock, room) {
  const got = waitFor(sock, 'system_message', 5000, (m) => m?.marker === room);
  assert.equal((await api(via, 'POST', '/api/emit', { event: 'system_message', to: { socket: sock.id }, data: { marker: room } })).status, 200);
  await got;
}

test('documents across nodes: joins, edits with one version sequence, cursors and leaves, each once', async () => {
  const doc = uid('doc'), alice = uid('alice'), bob = uid('bob');
  const sa = (await connectUser(a, alice)).s;
  const sb = (await connectUser(b, bob)).s;
  const joinedA = record(sa, 'collab:user_joined'), leftA = record(sa, 'collab:user_left');
  const changesA = record(sa, 'collab:changes'), changesB = record(sb, 'collab:changes');
  const cursorsA = record(sa, 'collab:cursor_update');
  const first = await ack(sa, 'collab:join_document', doc);
  assert.deepEqual(names(first.activeUsers), [alice]);
  assert.equal(first.version, 0);
  const activeB = waitFor(sb, 'collab:active_users');
  const second = await ack(sb, 'collab:join_document', { documentId: doc });
  assert.deepEqual(names(second.activeUsers), [alice, bob].sort(), 'the user on node a is listed on node b');
  assert.deepEqual(second.activeUsers.find((u) => u.userId === alice).name, `Name of ${alice}`);
  assert.deepEqual(names((await activeB).users), [alice, bob].sort());
  await until(() => joinedA.length === 1, 5000, 'alice hears bob join');
  assert.deepEqual(joinedA[0][0], { documentId: doc, userId: bob, name: `Name of ${bob}` });

  // One version sequence in the shared store, whichever node stores an edit.
  assert.deepEqual(await ack(sa, 'collab:edit', { documentId: doc, changes: { ops: ['a1'] } }), { ok: true, version: 1 });
  assert.deepEqual(await ack(sb, 'collab:edit', { documentId: doc, changes: { ops: ['b2'] } }), { ok: true, version: 2 });
  await until(() => changesA.length === 1 && changesB.length === 1, 5000, 'each hears the other\'s edit');
  assertFields(changesB[0][0], { documentId: doc, changes: { ops: ['a1'] }, version: 1, userId: alice });
  assertFields(changesA[0][0], { documentId: doc, changes: { ops: ['b2'] }, version: 2, userId: bob });
  assert.deepEqual(await ack(sb, 'collab:cursor_move', { documentId: doc, x: 3, y: 4 }), { ok: true });
  await until(() => cursorsA.length === 1, 5000, 'the cursor reaches node a');
  assert.deepEqual(cursorsA[0][0], { documentId: doc, userId: bob, name: `Name of ${bob}`, x: 3, y: 4 });

  // Bob's second device, on node a: bob is already there for everyone.
  const sb2 = (await connectUser(a, bob)).s;
  const again = await ack(sb2, 'collab:join_document', doc);
  assert.deepEqual(names(again.activeUsers), [alice, bob].sort(), 'bob once, with two devices');
  assert.equal(again.version, 2, 'the latest version, stored by the other node');
  // His device on node b leaves: his device on node a is still in it.
  assert.deepEqual(await ack(sb, 'collab:leave_document', doc), { ok: true, documentId: doc });
  await settled(b, sa, doc);
  assert.equal(leftA.length, 0, 'no user_left while another device of bob is in the document');
  // The last device goes: now he leaves, once.
  await disconnect(sb2);
  await until(() => leftA.length === 1, 5000, 'alice hears bob leave');
  assert.deepEqual(leftA[0][0], { documentId: doc, userId: bob, name: `Name of ${bob}` });
  await settled(b, sa, doc);
  assert.equal(joinedA.length, 1, 'one user_joined in all');
  assert.equal(leftA.length, 1, 'one user_left in all');
  assert.equal(changesA.length, 1);
  assert.equal(cursorsA.length, 1);
}, { skip });

test('dashboards across nodes: a metric set on one node reaches and stays on the other; built-ins are the cluster\'s, once a second', async () => {
  const metric = `orders.${uid('m')}`;
  const early = (await connectUser(b, uid('dash'))).s;
  const updates = record(early, 'dashboard:update');
  assert.deepEqual(await ack(early, 'dashboard:subscribe', metric), { ok: true, metrics: [metric] });
  const set = await api(a, 'POST', `/api/metrics/${metric}`, { value: 42 });
  assert.equal(set.status, 200, set.text);
  await until(() => updates.length === 1, 5000, 'the update set on node a reaches node b');
  assertFields(updates[0][0], { metric, value: 42 });
  // A later subscriber on node b gets the value node a set.
  const late = (await connectUser(b, uid('late'))).s;
  const first = waitFor(late, 'dashboard:update', 5000, (u) => u.metric === metric);
  await ack(late, 'dashboard:subscribe', [metric]);
  assertFields(await first, { metric, value: 42, timestamp: updates[0][0].timestamp });

  // online_users and connections count both nodes: users only on node a are in node b's figures.
  const watcher = (await connectUser(b, uid('watch'))).s;
  const onA = [];
  for (let i = 0; i < 3; i++) onA.push((await connectUser(a, uid('crowd'))).s);
  const online = record(watcher, 'dashboard:update');
  await ack(watcher, 'dashboard:subscribe', ['online_users', 'connections']);
  const statsB = (await api(b, 'GET', '/api/stats')).json;
  const last = (m) => online.filter((u) => u[0].metric === m).at(-1)?.[0].value;
  // The first values come at once; those from the heartbeat's figures follow within a heartbeat.
  // 6 sockets of 6 users: early, late and watcher on node b, the crowd on node a.
  await until(() => last('online_users') === 6 && last('connections') === 6, 8000,
    'the cluster\'s figures on node b');
  assert.equal(statsB.cluster.connectedUsers, 6, JSON.stringify(statsB));
  // Nothing built-in goes through Redis: each node ticks for its own subscribers.
  const sub = await redisClient(redis.url);
  const seen = [];
  await sub.pSubscribe('socket.io#/#metric:*', (msg, ch) => seen.push(ch), true);
  const ticks = record(watcher, 'dashboard:update');
  await until(() => ticks.length >= 4, 5000, 'two ticks on node b');
  await sub.pUnsubscribe();
  assert.deepEqual(seen.filter((ch) => /metric:(online_users|connections)#$/.test(ch)), [],
    'built-in metrics are not published');
  await quitRedisClients();
}, { skip });

test('WebRTC signaling between peers on different nodes: peers, offer/answer/ICE once each, leaving', async () => {
  const roomId = uid('call'), alice = uid('alice'), bob = uid('bob'), carl = uid('carl');
  const pa = (await connectUser(a, alice)).s;
  const pb = (await connectUser(b, bob)).s;
  const joinedA = record(pa, 'rtc:peer_joined'), leftA = record(pa, 'rtc:peer_left');
  const offersA = record(pa, 'rtc:offer'), answersB = record(pb, 'rtc:answer');
  const iceA = record(pa, 'rtc:ice_candidate'), iceB = record(pb, 'rtc:ice_candidate');
  const ja = await ack(pa, 'rtc:join', { roomId });
  assert.deepEqual(ja.peers, []);
  const roomPeers = waitFor(pb, 'rtc:room_peers');
  const jb = await ack(pb, 'rtc:join', roomId);
  const alicePeer = { peerId: pa.id, userId: alice, name: `Name of ${alice}` };
  assert.deepEqual(jb, { ok: true, roomId, peerId: pb.id, peers: [alicePeer] }, 'the peer on node a is listed');
  assert.deepEqual(await roomPeers, { roomId, peers: [alicePeer] });
  await until(() => joinedA.length === 1, 5000, 'alice hears bob join');
  assert.deepEqual(joinedA[0][0], { roomId, peerId: pb.id, userId: bob, name: `Name of ${bob}` });

  const offer = { type: 'offer', sdp: 'v=0 b' };
  assert.deepEqual(await ack(pb, 'rtc:offer', { targetPeerId: pa.id, payload: offer }), { ok: true });
  await until(() => offersA.length === 1, 5000, 'the offer crosses to node a');
  assert.deepEqual(offersA[0][0], { senderPeerId: pb.id, payload: offer, roomId });
  const answer = { type: 'answer', sdp: 'v=0 a' };
  assert.deepEqual(await ack(pa, 'rtc:answer', { targetPeerId: pb.id, payload: answer, roomId }), { ok: true });
  await until(() => answersB.length === 1, 5000, 'the answer crosses to node b');
  assert.deepEqual(answersB[0][0], { senderPeerId: pa.id, payload: answer, roomId });
  assert.deepEqual(await ack(pa, 'rtc:ice_candidate', { targetPeerId: pb.id, payload: { c: 1 } }), { ok: true });
  assert.deepEqual(await ack(pb, 'rtc:ice_candidate', { targetPeerId: pa.id, payload: { c: 2 } }), { ok: true });
  await until(() => iceA.length === 1 && iceB.length === 1, 5000, 'ICE both ways');
  assert.deepEqual(iceA[0][0], { senderPeerId: pb.id, payload: { c: 2 }, roomId });
  assert.deepEqual(iceB[0][0], { senderPeerId: pa.id, payload: { c: 1 }, roomId });

  // A peer on the other node that shares no room with the sender, or a room the sender is not in.
  const pc = (await connectUser(b, carl)).s;
  await ack(pc, 'rtc:join', uid('elsewhere'));
  const code = async (s, payload) => (await ack(s, 'rtc:offer', { payload: offer, ...payload })).error?.code;
  assert.equal(await code(pa, { targetPeerId: pc.id }), 'peer_not_found', 'no shared room');
  assert.equal(await code(pa, { targetPeerId: pc.id, roomId }), 'peer_not_found', 'the target is not in the given room');
  assert.equal(await code(pa, { targetPeerId: 'AAAAAAAAAAAAAAAAAAAA' }), 'peer_not_found', 'no such peer anywhere');
  assert.equal(await code(pa, { targetPeerId: pb.id, roomId: 'not-mine' }), 'not_in_room');
  assert.equal(await code(pc, { targetPeerId: pa.id, roomId }), 'not_in_room');

  // Carl joins the call on node b, then disconnects; bob leaves.
  await ack(pc, 'rtc:join', roomId);
  await until(() => joinedA.length === 2, 5000, 'alice hears carl join');
  const carlPeer = pc.id; // the client forgets it on disconnect
  await disconnect(pc);
  assert.deepEqual(await ack(pb, 'rtc:leave', { roomId }), { ok: true, roomId });
  await until(() => leftA.length === 2, 5000, 'alice hears both go');
  assert.deepEqual(leftA.map((x) => x[0]).sort((x, y) => x.peerId.localeCompare(y.peerId)),
    [{ roomId, peerId: pb.id }, { roomId, peerId: carlPeer }].sort((x, y) => x.peerId.localeCompare(y.peerId)));
  await settled(b, pa, roomId);
  assert.equal(offersA.length, 1, 'one offer');
  assert.equal(answersB.length, 1, 'one answer');
  assert.equal(joinedA.length, 2);
  assert.equal(leftA.length, 2);
  assert.equal(iceA.length + iceB.length, 2);
}, { skip });

test('a node stopped while its live look-ups wait for a silent node exits cleanly', async () => {
  const c = await startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--api-key', 'k', '--database-url', pg.url,
    '--redis-url', redis.url, '--cluster-node-timeout', '2000'] });
  const mute = await redisClient(redis.url);
  await mute.subscribe('socket.io-request#/#', () => {}); // counted, never answers: the asks wait
  try {
    const s = (await connectUser(c, uid('ida'))).s;
    const peer = (await connectUser(a, uid('joe'))).s;
    await ack(peer, 'rtc:join', 'wait-room');
    s.emit('collab:join_document', uid('doc'), () => {});
    s.emit('rtc:join', 'wait-room', () => {});
    s.emit('rtc:offer', { targetPeerId: peer.id, payload: {} }, () => {});
    await until(async () => (await metricsOf(c, 'k')).cluster_asks_sent_total >= 3, 5000, 'three asks out');
    await c.stop(); // exit 0 and no sanitizer report, or it throws
  } finally {
    await mute.unsubscribe('socket.io-request#/#');
    await quitRedisClients();
  }
}, { skip });

test('the dashboard\'s room list is the cluster\'s: rooms of the other node marked, socket rooms left out', async () => {
  const here = uid('here'), there = uid('there'), both = uid('both');
  const sa = (await connectUser(a, uid('ana'))).s;
  const sb = (await connectUser(b, uid('ben'))).s;
  await ack(sa, 'chat:join', there);
  await ack(sa, 'chat:join', both);
  await ack(sb, 'chat:join', both);
  await ack(sb, 'chat:join', here);
  const snap = await adminSnapshot(b, 'k', (s) => s.rooms.some((r) => r.name === there), 10000);
  const byName = Object.fromEntries(snap.rooms.map((r) => [r.name, r]));
  assert.deepEqual(byName[there], { name: there, members: 0, elsewhere: true }, 'only on node a');
  assert.deepEqual(byName[both], { name: both, members: 1 }, 'this node\'s members');
  assert.deepEqual(byName[here], { name: here, members: 1 });
  assert.ok(!byName[sa.id] && !byName[sb.id], 'no socket\'s own room');
  assert.ok(!snap.rooms.some((r) => r.name.startsWith('user:')));
}, { skip });
