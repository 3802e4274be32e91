// The live group of the event contract: collaborative documents, dashboards
// (built-in metrics and POST /api/metrics/:name), WebRTC signaling and
// file:share, with several real users and devices. C-only: the reference
// server does not implement these events.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, NO_EVENT_LIMIT } from './lib/server.mjs';
import {
  test, isRef, ack, connectUser, waitFor, record, until, elapse, isRecentTimestamp, disconnect,
} from './lib/util.mjs';

const skip = isRef ? 'C-only' : false;
let srv;
before(async () => { if (!isRef) srv = await startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--api-key', 'k'] }); });
after(async () => { if (srv) await srv.stop(); });

let seq = 0;
const uid = (p) => `${p}-${process.pid}-${++seq}`;

async function api(method, path, body, key = 'k') {
  const headers = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${srv.url}${path}`, {
    method, headers, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function user(prefix, opts = {}) {
  const id = uid(prefix);
  const name = `Name ${id}`;
  const { s } = await connectUser(srv, id, opts, name);
  return { id, name, s };
}

/** A second device of an existing user. */
async function device(u, opts = {}) {
  return (await connectUser(srv, u.id, opts, u.name)).s;
}

function assertError(got, code) {
  assert.ok(got && got.error, `expected {error}, got ${JSON.stringify(got)}`);
  assert.equal(got.error.code, code, JSON.stringify(got));
  assert.equal(typeof got.error.message, 'string');
  assert.ok(got.error.message.length > 0);
}

/** An ack round trip: every event the server sent before it has arrived. */
async function barrier(s) {
  await ack(s, 'dashboard:unsubscribe', 'barrier');
}

const byUser = (a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0);
const byPeer = (a, b) => (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0);

// ---- collaborative documents --------------------------------------------------------------

test('collab: join/leave with active users (deduplicated), joined/left notices, disconnect', async () => {
  const doc = uid('doc');
  const a = await user('ca'), b = await user('cb');
  const b2 = await device(b, { transports: ['polling'] });

  const aUsers = waitFor(a.s, 'collab:active_users');
  assert.deepEqual(await ack(a.s, 'collab:join_document', doc),
    { ok: true, documentId: doc, activeUsers: [{ userId: a.id, name: a.name }], version: 0 });
  assert.deepEqual(await aUsers, { documentId: doc, users: [{ userId: a.id, name: a.name }] });

  const aJoined = record(a.s, 'collab:user_joined');
  const bSelf = record(b.s, 'collab:user_joined');
  const bUsers = waitFor(b.s, 'collab:active_users');
  const r = await ack(b.s, 'collab:join_document', { documentId: doc });
  const both = [{ userId: a.id, name: a.name }, { userId: b.id, name: b.name }].sort(byUser);
  assert.deepEqual({ ...r, activeUsers: [...r.activeUsers].sort(byUser) },
    { ok: true, documentId: doc, activeUsers: both, version: 0 });
  const bu = await bUsers;
  assert.deepEqual({ ...bu, users: [...bu.users].sort(byUser) }, { documentId: doc, users: both });
  await until(() => aJoined.length === 1, 3000, 'collab:user_joined at a');
  assert.deepEqual(aJoined[0][0], { documentId: doc, userId: b.id, name: b.name });

  // b's second device: b is already there, so nobody hears of a new user,
  // and the list still has one entry per user.
  const r2 = await ack(b2, 'collab:join_document', doc);
  assert.equal(r2.activeUsers.length, 2);
  assert.deepEqual([...r2.activeUsers].sort(byUser), both);
  await barrier(a.s);
  assert.equal(aJoined.length, 1, 'no user_joined for a second device');
  assert.deepEqual(bSelf, [], 'the joiner is not told about itself');

  // One of b's devices leaves: b is still in the document.
  const aLeft = record(a.s, 'collab:user_left');
  assert.deepEqual(await ack(b2, 'collab:leave_document', doc), { ok: true, documentId: doc });
  await barrier(a.s);
  assert.deepEqual(aLeft, []);
  assertError(await ack(b2, 'collab:leave_document', doc), 'not_in_room');

  // b's last device in the document disconnects: a hears b left.
  await disconnect(b.s);
  await until(() => aLeft.length === 1, 3000, 'collab:user_left at a');
  assert.deepEqual(aLeft[0][0], { documentId: doc, userId: b.id, name: b.name });

  // A leave announces too.
  const c = await user('cc');
  await ack(c.s, 'collab:join_document', doc);
  const cLeft = waitFor(c.s, 'collab:user_left');
  assert.deepEqual(await ack(a.s, 'collab:leave_document', { documentId: doc }), { ok: true, documentId: doc });
  assert.deepEqual(await cLeft, { documentId: doc, userId: a.id, name: a.name });
}, { skip });

test('collab:edit: stored as versions, changes to the others, later joiners see the version', async () => {
  const doc = uid('doc');
  const a = await user('ea'), b = await user('eb');
  await ack(a.s, 'collab:join_document', doc);
  await ack(b.s, 'collab:join_document', doc);
  const aChanges = record(a.s, 'collab:changes');

  const changes = { ops: [{ insert: 'héllo \u{1F600}', at: 0 }], base: 0 };
  const atB = waitFor(b.s, 'collab:changes');
  assert.deepEqual(await ack(a.s, 'collab:edit', { documentId: doc, changes }), { ok: true, version: 1 });
  const got = await atB;
  assert.ok(isRecentTimestamp(got.createdAt), JSON.stringify(got));
  assert.deepEqual(got, { documentId: doc, changes, version: 1, userId: a.id, createdAt: got.createdAt });

  // Any JSON value is a change; versions count up per document.
  const atA = waitFor(a.s, 'collab:changes');
  assert.deepEqual(await ack(b.s, 'collab:edit', { documentId: doc, changes: 'plain text' }), { ok: true, version: 2 });
  const back = await atA;
  assert.equal(back.version, 2);
  assert.equal(back.changes, 'plain text');
  assert.equal(back.userId, b.id);
  await barrier(a.s);
  assert.equal(aChanges.length, 1, 'the editor does not get its own change back');

  // Without an ack the edit is still stored and relayed.
  const third = waitFor(b.s, 'collab:changes');
  a.s.emit('collab:edit', { documentId: doc, changes: [1, 2, 3] });
  assert.equal((await third).version, 3);

  const c = await user('ec');
  const r = await ack(c.s, 'collab:join_document', doc);
  assert.equal(r.version, 3);
  // Another document has its own numbering.
  const other = uid('doc');
  await ack(c.s, 'collab:join_document', other);
  assert.deepEqual(await ack(c.s, 'collab:edit', { documentId: other, changes: {} }), { ok: true, version: 1 });
}, { skip });

test('collab:edit outside the document is not_in_room; oversized changes are payload_too_large', async () => {
  const doc = uid('doc');
  const a = await user('na'), b = await user('nb');
  await ack(b.s, 'collab:join_document', doc);
  const bChanges = record(b.s, 'collab:changes');
  assertError(await ack(a.s, 'collab:edit', { documentId: doc, changes: { x: 1 } }), 'not_in_room');
  const err = waitFor(a.s, 'error');
  a.s.emit('collab:edit', { documentId: doc, changes: 1 });
  const e = await err;
  assert.equal(e.code, 'not_in_room');
  assert.equal(e.event, 'collab:edit');

  await ack(a.s, 'collab:join_document', doc);
  assertError(await ack(a.s, 'collab:edit', { documentId: doc, changes: 'x'.repeat(16 * 1024) }), 'payload_too_large');
  // A rejected edit is not a version.
  assert.deepEqual(await ack(a.s, 'collab:edit', { documentId: doc, changes: 'x'.repeat(16 * 1024 - 2) }), { ok: true, version: 1 });
  await until(() => bChanges.length === 1, 3000, 'the accepted edit at b');
}, { skip });

test('collab:cursor_move reaches the others only, as collab:cursor_update', async () => {
  const doc = uid('doc');
  const a = await user('ka'), b = await user('kb'), c = await user('kc');
  for (const u of [a, b, c]) await ack(u.s, 'collab:join_document', doc);
  const aSeen = record(a.s, 'collab:cursor_update');
  const atB = waitFor(b.s, 'collab:cursor_update'), atC = waitFor(c.s, 'collab:cursor_update');
  assert.deepEqual(await ack(a.s, 'collab:cursor_move', { documentId: doc, x: 10, y: 20.5 }), { ok: true });
  const expected = { documentId: doc, userId: a.id, name: a.name, x: 10, y: 20.5 };
  assert.deepEqual(await atB, expected);
  assert.deepEqual(await atC, expected);
  // No ack needed.
  const next = waitFor(b.s, 'collab:cursor_update', 5000, (p) => p.x === 11);
  a.s.emit('collab:cursor_move', { documentId: doc, x: 11, y: -1 });
  assert.deepEqual(await next, { ...expected, x: 11, y: -1 });
  await barrier(a.s);
  assert.deepEqual(aSeen, []);
  const outsider = await user('ko');
  assertError(await ack(outsider.s, 'collab:cursor_move', { documentId: doc, x: 1, y: 1 }), 'not_in_room');
}, { skip });

// ---- dashboards ------------------------------------------------------------------------------

const BUILTINS = ['connections', 'online_users', 'messages_per_second', 'uptime_seconds'];

test('dashboard: built-in metrics right away and then every second; unsubscribe stops them', async () => {
  const a = await user('da');
  const updates = record(a.s, 'dashboard:update');
  assert.deepEqual(await ack(a.s, 'dashboard:subscribe', BUILTINS), { ok: true, metrics: BUILTINS });
  await until(() => BUILTINS.every((m) => updates.some(([u]) => u.metric === m)), 3000, 'one update per built-in');
  for (const [u] of updates) {
    assert.deepEqual(Object.keys(u).sort(), ['metric', 'timestamp', 'value']);
    assert.equal(typeof u.value, 'number');
    assert.ok(isRecentTimestamp(u.timestamp), JSON.stringify(u));
  }
  const first = (m) => updates.find(([u]) => u.metric === m)[0];
  assert.ok(first('connections').value >= 1);
  assert.ok(first('online_users').value >= 1);
  assert.ok(first('uptime_seconds').value >= 0);

  // The tick pushes them again within about two seconds.
  const n = updates.filter(([u]) => u.metric === 'uptime_seconds').length;
  await until(() => updates.filter(([u]) => u.metric === 'uptime_seconds').length > n, 2500, 'a tick');

  // Messages count: a burst of chat messages shows in messages_per_second.
  const room = uid('room');
  await ack(a.s, 'chat:join', room);
  for (let i = 0; i < 5; i++) await ack(a.s, 'chat:message', { roomId: room, message: `m${i}` });
  await until(() => updates.some(([u]) => u.metric === 'messages_per_second' && u.value > 0), 3500, 'a non-zero message rate');

  // Connections count this socket and another.
  const b = await user('db');
  await until(() => updates.some(([u]) => u.metric === 'connections' && u.value >= 2), 3500, 'two connections');

  assert.deepEqual(await ack(a.s, 'dashboard:unsubscribe', BUILTINS), { ok: true, metrics: BUILTINS });
  const after = updates.length;
  await elapse(1500); // time passing is the behaviour: ticks would arrive in it
  assert.equal(updates.length, after, 'no updates after unsubscribing');
  await disconnect(b.s);
}, { skip });

test('POST /api/metrics/:name pushes to subscribers at once; late subscribers get the value', async () => {
  const metric = `cpu.load:${uid('m')}`;
  const a = await user('pa'), a2 = await device(a), b = await user('pb');
  const bSeen = record(b.s, 'dashboard:update');
  // One string subscribes to one metric; unknown custom metrics send nothing yet.
  assert.deepEqual(await ack(a.s, 'dashboard:subscribe', metric), { ok: true, metrics: [metric] });
  assert.deepEqual(await ack(a2, 'dashboard:subscribe', [metric, metric]), { ok: true, metrics: [metric] });
  const atA = waitFor(a.s, 'dashboard:update', 5000, (u) => u.metric === metric);
  const atA2 = waitFor(a2, 'dashboard:update', 5000, (u) => u.metric === metric);
  const r = await api('POST', `/api/metrics/${encodeURIComponent(metric)}`, { value: 0.75 });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { ok: true, metric, value: 0.75, subscribers: 2 });
  for (const got of [await atA, await atA2]) {
    assert.equal(got.metric, metric);
    assert.equal(got.value, 0.75);
    assert.ok(isRecentTimestamp(got.timestamp), JSON.stringify(got));
  }
  // Integers stay integers; the latest value wins.
  const int = waitFor(a.s, 'dashboard:update', 5000, (u) => u.metric === metric && u.value === 42);
  assert.deepEqual((await api('POST', `/api/metrics/${metric}`, { value: 42 })).body, { ok: true, metric, value: 42, subscribers: 2 });
  const pushed = await int;

  // A later subscriber gets the current value immediately.
  const late = waitFor(b.s, 'dashboard:update', 5000, (u) => u.metric === metric);
  await ack(b.s, 'dashboard:subscribe', [metric]);
  assert.deepEqual(await late, { metric, value: 42, timestamp: pushed.timestamp });

  // Unsubscribed devices get nothing more.
  await ack(a.s, 'dashboard:unsubscribe', metric);
  await ack(a2, 'dashboard:unsubscribe', [metric]);
  const aSeen = record(a.s, 'dashboard:update');
  const atB = waitFor(b.s, 'dashboard:update', 5000, (u) => u.value === -3.5);
  assert.deepEqual((await api('POST', `/api/metrics/${metric}`, { value: -3.5 })).body, { ok: true, metric, value: -3.5, subscribers: 1 });
  await atB;
  await barrier(a.s);
  assert.deepEqual(aSeen, []);
  assert.equal(bSeen.length, 2);

  // Nobody subscribed: stored, 0 subscribers.
  const lonely = uid('lonely');
  assert.deepEqual((await api('POST', `/api/metrics/${lonely}`, { value: 1 })).body, { ok: true, metric: lonely, value: 1, subscribers: 0 });
}, { skip });

test('POST /api/metrics/:name: invalid names and values, auth, method', async () => {
  const bad = async (path, body, status, code) => {
    const r = await api('POST', path, body);
    assert.equal(r.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, code);
  };
  await bad('/api/metrics/bad%20name', { value: 1 }, 422, 'invalid_field');
  await bad('/api/metrics/a/b', { value: 1 }, 422, 'invalid_field');
  await bad(`/api/metrics/${'m'.repeat(65)}`, { value: 1 }, 422, 'invalid_field');
  await bad('/api/metrics/', { value: 1 }, 422, 'invalid_field');
  await bad('/api/metrics/connections', { value: 1 }, 422, 'invalid_field');
  await bad('/api/metrics/ok', { value: '1' }, 422, 'invalid_field');
  await bad('/api/metrics/ok', { value: null }, 422, 'invalid_field');
  await bad('/api/metrics/ok', {}, 422, 'invalid_field');
  await bad('/api/metrics/ok', '[1]', 400, 'malformed_json');
  await bad('/api/metrics/ok', '{"value":', 400, 'malformed_json');
  assert.equal((await api('POST', '/api/metrics/ok', { value: 1 }, null)).status, 401);
  assert.equal((await api('POST', '/api/metrics/ok', { value: 1 }, 'wrong')).status, 401);
  assert.equal((await api('GET', '/api/metrics/ok')).status, 405);
  // A 64-character name is fine.
  const longest = 'M'.repeat(64);
  assert.equal((await api('POST', `/api/metrics/${longest}`, { value: 1 })).status, 200);
}, { skip });

test('dashboard:subscribe / unsubscribe: invalid names are invalid_payload and join nothing', async () => {
  const a = await user('ia');
  const seen = record(a.s, 'dashboard:update');
  const cases = ['bad name', '', 'm'.repeat(65), 42, null, [], ['ok', 7], ['ok', 'no/slash'], { metrics: ['ok'] },
    Array.from({ length: 101 }, (_, i) => `m${i}`)];
  for (const c of cases) {
    assertError(await ack(a.s, 'dashboard:subscribe', c), 'invalid_payload');
    assertError(await ack(a.s, 'dashboard:unsubscribe', c), 'invalid_payload');
  }
  const err = waitFor(a.s, 'error');
  a.s.emit('dashboard:subscribe', 'bad name');
  assert.deepEqual(await err, { code: 'invalid_payload', message: (await err).message, event: 'dashboard:subscribe' });
  // ['ok', 7] joined nothing: a push to "ok" reaches no one.
  assert.equal((await api('POST', '/api/metrics/ok', { value: 5 })).body.subscribers, 0);
  await barrier(a.s);
  assert.deepEqual(seen, []);
}, { skip });

test('POST /api/metrics: at most 10,000 distinct custom metrics', async () => {
  // Metrics other tests created count too: fill up to the cap.
  let full = null;
  for (let i = 0; !full && i < 10100; i += 100) {
    const batch = await Promise.all(Array.from({ length: 100 }, (_, j) =>
      api('POST', `/api/metrics/cap.${i + j}`, { value: i + j })));
    full = batch.find((r) => r.status !== 200) || null;
  }
  assert.ok(full, 'the cap was never reached');
  assert.equal(full.status, 422);
  assert.equal(full.body.error.code, 'too_many_metrics');
  // Existing metrics still take new values.
  assert.equal((await api('POST', '/api/metrics/cap.0', { value: -1 })).status, 200);
}, { skip, timeout: 60000 });

// ---- WebRTC signaling ------------------------------------------------------------------------

test('rtc: join lists peers, announces the joiner, relays offer/answer/ice both ways', async () => {
  const room = uid('call');
  const a = await user('ra'), b = await user('rb', { transports: ['polling'] });
  const aPeers = waitFor(a.s, 'rtc:room_peers');
  assert.deepEqual(await ack(a.s, 'rtc:join', { roomId: room }), { ok: true, roomId: room, peerId: a.s.id, peers: [] });
  assert.deepEqual(await aPeers, { roomId: room, peers: [] });

  const joined = waitFor(a.s, 'rtc:peer_joined');
  const bPeers = waitFor(b.s, 'rtc:room_peers');
  const aEntry = { peerId: a.s.id, userId: a.id, name: a.name };
  assert.deepEqual(await ack(b.s, 'rtc:join', room), { ok: true, roomId: room, peerId: b.s.id, peers: [aEntry] });
  assert.deepEqual(await bPeers, { roomId: room, peers: [aEntry] });
  assert.deepEqual(await joined, { roomId: room, peerId: b.s.id, userId: b.id, name: b.name });

  const offer = { type: 'offer', sdp: 'v=0\r\no=- 46117317 2 IN IP4 127.0.0.1\r\n' };
  const gotOffer = waitFor(b.s, 'rtc:offer');
  assert.deepEqual(await ack(a.s, 'rtc:offer', { targetPeerId: b.s.id, payload: offer }), { ok: true });
  assert.deepEqual(await gotOffer, { senderPeerId: a.s.id, payload: offer, roomId: room });

  const answer = { type: 'answer', sdp: 'v=0\r\n' };
  const gotAnswer = waitFor(a.s, 'rtc:answer');
  assert.deepEqual(await ack(b.s, 'rtc:answer', { targetPeerId: a.s.id, payload: answer, roomId: room }), { ok: true });
  assert.deepEqual(await gotAnswer, { senderPeerId: b.s.id, payload: answer, roomId: room });

  const cand = { candidate: 'candidate:1 1 UDP 2122252543 192.168.1.2 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  const atB = waitFor(b.s, 'rtc:ice_candidate'), atA = waitFor(a.s, 'rtc:ice_candidate');
  a.s.emit('rtc:ice_candidate', { targetPeerId: b.s.id, payload: cand }); // no ack needed
  b.s.emit('rtc:ice_candidate', { targetPeerId: a.s.id, payload: null });
  assert.deepEqual(await atB, { senderPeerId: a.s.id, payload: cand, roomId: room });
  assert.deepEqual(await atA, { senderPeerId: b.s.id, payload: null, roomId: room });

  // A third peer sees both.
  const c = await user('rc');
  const r = await ack(c.s, 'rtc:join', { roomId: room });
  assert.deepEqual([...r.peers].sort(byPeer),
    [aEntry, { peerId: b.s.id, userId: b.id, name: b.name }].sort(byPeer));
}, { skip });

test('rtc: leave and disconnect announce peer_left; relays to gone or unrelated peers are peer_not_found', async () => {
  const room = uid('call'), elsewhere = uid('call');
  const a = await user('la'), b = await user('lb'), c = await user('lc');
  await ack(a.s, 'rtc:join', { roomId: room });
  await ack(b.s, 'rtc:join', { roomId: room });
  await ack(c.s, 'rtc:join', { roomId: elsewhere });

  // c is a peer, but shares no room with a.
  assertError(await ack(a.s, 'rtc:offer', { targetPeerId: c.s.id, payload: {} }), 'peer_not_found');
  // Unknown peer ids.
  assertError(await ack(a.s, 'rtc:offer', { targetPeerId: 'no-such-peer', payload: {} }), 'peer_not_found');
  // A room the sender is not in.
  assertError(await ack(a.s, 'rtc:offer', { targetPeerId: c.s.id, payload: {}, roomId: elsewhere }), 'not_in_room');
  // A room the sender is in but the target is not.
  assertError(await ack(a.s, 'rtc:offer', { targetPeerId: c.s.id, payload: {}, roomId: room }), 'peer_not_found');

  // b leaves: a hears it, and b is no longer reachable.
  const left = waitFor(a.s, 'rtc:peer_left');
  assert.deepEqual(await ack(b.s, 'rtc:leave', { roomId: room }), { ok: true, roomId: room });
  assert.deepEqual(await left, { roomId: room, peerId: b.s.id });
  assertError(await ack(a.s, 'rtc:offer', { targetPeerId: b.s.id, payload: {} }), 'peer_not_found');
  assertError(await ack(b.s, 'rtc:leave', { roomId: room }), 'not_in_room');
  assertError(await ack(b.s, 'rtc:offer', { targetPeerId: a.s.id, payload: {} }), 'peer_not_found');

  // c joins a's room, then disconnects.
  await ack(c.s, 'rtc:join', room);
  const cId = c.s.id;
  const cLeft = waitFor(a.s, 'rtc:peer_left', 5000, (p) => p.peerId === cId);
  await disconnect(c.s);
  assert.deepEqual(await cLeft, { roomId: room, peerId: cId });
  assertError(await ack(a.s, 'rtc:answer', { targetPeerId: cId, payload: {} }), 'peer_not_found');
  // Without an ack the failure is an error event.
  const err = waitFor(a.s, 'error');
  a.s.emit('rtc:ice_candidate', { targetPeerId: cId, payload: {} });
  const e = await err;
  assert.equal(e.code, 'peer_not_found');
  assert.equal(e.event, 'rtc:ice_candidate');
}, { skip });

// ---- file share ------------------------------------------------------------------------------

test('file:share: stored and sent as a chat:message of type file to everyone in the room', async () => {
  const room = uid('files');
  const a = await user('fa'), b = await user('fb'), out = await user('fo');
  await ack(a.s, 'chat:join', room);
  await ack(b.s, 'chat:join', room);
  const outSeen = record(out.s, 'chat:message');
  const fileInfo = { name: 'report é.pdf', size: 123456, mimeType: 'application/pdf', url: 'https://files.example/r.pdf' };
  const atA = waitFor(a.s, 'chat:message'), atB = waitFor(b.s, 'chat:message');
  const acked = await ack(a.s, 'file:share', { roomId: room, fileInfo });
  assert.equal(typeof acked.id, 'number');
  assert.ok(isRecentTimestamp(acked.createdAt), JSON.stringify(acked));
  assert.deepEqual(acked, {
    id: acked.id, roomId: room, message: fileInfo, type: 'file',
    sender: { id: a.id, name: a.name }, createdAt: acked.createdAt,
  });
  assert.deepEqual(await atA, acked);
  assert.deepEqual(await atB, acked);

  // Minimal fileInfo, no ack; ids grow.
  const next = waitFor(a.s, 'chat:message');
  b.s.emit('file:share', { roomId: room, fileInfo: { name: 'x', size: 0 } });
  const m2 = await next;
  assert.deepEqual(m2.message, { name: 'x', size: 0 });
  assert.ok(m2.id > acked.id);
  await barrier(out.s);
  assert.deepEqual(outSeen, []);

  assertError(await ack(out.s, 'file:share', { roomId: room, fileInfo }), 'not_in_room');
  assertError(await ack(a.s, 'file:share', { roomId: 'doc:x', fileInfo }), 'forbidden_room');
  assertError(await ack(a.s, 'file:share', { roomId: room, fileInfo: { ...fileInfo, extra: 'x'.repeat(4096) } }), 'payload_too_large');
}, { skip });

test('file:share in a conversation room is in its stored history', async () => {
  const a = await user('ha'), b = await user('hb');
  const conv = uid('conv');
  const created = await api('POST', '/api/conversations', { id: conv, memberIds: [a.id, b.id] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await ack(a.s, 'chat:join', `conversation:${conv}`);
  const fileInfo = { name: 'photo.png', size: 2048, mimeType: 'image/png' };
  const acked = await ack(a.s, 'file:share', { roomId: `conversation:${conv}`, fileInfo });
  assert.equal(acked.type, 'file');
  const h = await api('GET', `/api/conversations/${conv}/messages`);
  assert.equal(h.status, 200, JSON.stringify(h.body));
  const stored = h.body.messages.find((m) => m.id === acked.id);
  assert.ok(stored, JSON.stringify(h.body));
  assert.equal(stored.messageType, 'file');
  assert.deepEqual(JSON.parse(stored.content), fileInfo);
  assert.equal(stored.senderId, a.id);
}, { skip });

// ---- invalid payloads -------------------------------------------------------------------------

test('every live event refuses invalid payloads with invalid_payload (ack and error event)', async () => {
  const a = await user('va');
  const room = uid('vroom');
  await ack(a.s, 'chat:join', room);
  const long = 'x'.repeat(129);
  const cases = {
    'collab:join_document': [undefined, 42, '', long, {}, { documentId: 7 }, ['d'], null],
    'collab:leave_document': [undefined, 42, '', long, { documentId: null }],
    'collab:edit': [undefined, 'doc', { changes: 1 }, { documentId: 'd' }, { documentId: '', changes: 1 }, { documentId: long, changes: 1 }],
    'collab:cursor_move': [undefined, 'doc', { documentId: 'd', x: 1 }, { documentId: 'd', x: '1', y: 2 }, { documentId: 'd', x: 1, y: null }, { x: 1, y: 2 }],
    'rtc:join': [undefined, 5, {}, { roomId: '' }, { roomId: long }, { roomId: ['r'] }],
    'rtc:leave': [undefined, {}, { roomId: 3 }],
    'rtc:offer': [undefined, 'peer', {}, { targetPeerId: 'p' }, { payload: {} }, { targetPeerId: 3, payload: {} }, { targetPeerId: 'p', payload: {}, roomId: 4 }],
    'rtc:answer': [{ targetPeerId: '', payload: {} }],
    'rtc:ice_candidate': [{ targetPeerId: long, payload: {} }],
    'file:share': [undefined, room, { roomId: room }, { roomId: room, fileInfo: 'f' }, { roomId: room, fileInfo: {} },
      { roomId: room, fileInfo: { name: '', size: 1 } }, { roomId: room, fileInfo: { name: 'n', size: -1 } },
      { roomId: room, fileInfo: { name: 'n', size: '1' } }, { roomId: room, fileInfo: { name: 'n' } },
      { roomId: room, fileInfo: { name: 'n'.repeat(257), size: 1 } }, { roomId: room, fileInfo: { name: 'n', size: 1, mimeType: 5 } },
      { roomId: room, fileInfo: { name: 'n', size: 1, url: {} } }, { fileInfo: { name: 'n', size: 1 } }, { roomId: '', fileInfo: { name: 'n', size: 1 } }],
  };
  for (const [event, payloads] of Object.entries(cases)) {
    for (const p of payloads) {
      const got = p === undefined ? await ack(a.s, event) : await ack(a.s, event, p);
      assert.ok(got && got.error, `${event} ${JSON.stringify(p)}: ${JSON.stringify(got)}`);
      assert.equal(got.error.code, 'invalid_payload', `${event} ${JSON.stringify(p)}: ${JSON.stringify(got)}`);
    }
    const err = waitFor(a.s, 'error', 5000, (e) => e.event === event);
    a.s.emit(event, 12345);
    assert.equal((await err).code, 'invalid_payload', event);
  }
  // Oversized relay payload.
  assertError(await ack(a.s, 'rtc:offer', { targetPeerId: 'p', payload: 'x'.repeat(65536) }), 'payload_too_large');
}, { skip });
