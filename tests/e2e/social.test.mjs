// The social group: notifications (live, offline exactly once, list,
// mark_read), friends (request/accept on every device, status updates to
// friends only, presence:query), posts (view rooms, likes and comments that
// notify the owner but never oneself), the HTTP endpoints POST
// /api/notifications and /api/posts, and payload validation of every event.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, NO_EVENT_LIMIT } from './lib/server.mjs';
import {
  test, isRef, ack, client, mintToken, record, until, isRecentTimestamp,
} from './lib/util.mjs';

const skip = isRef ? 'C-only' : false;
let srv;
// Scope all: the presence:query test learns lastSeen from user:offline.
before(async () => { if (!isRef) srv = await startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--api-key', 'k', '--presence-scope', 'all'] }); });
after(async () => {
  if (!srv) return;
  await srv.stop(); // under ASan, leaks and errors show on stderr at exit
  assert.doesNotMatch(srv.stderr(), /Sanitizer|runtime error:/, srv.stderr().slice(-4000));
});

let seq = 0;
const uid = (p) => `${p}-${process.pid}-${++seq}`;

const EVENTS = [
  'notification:new', 'notification:read', 'friend:request_received', 'friend:accepted',
  'friend_status_update', 'post:liked', 'post:commented', 'post:reaction_update',
  'post:comment_added', 'error',
];

/** Connects a device of user `id`, recording every social event from the
 *  first packet on (offline deliveries may share the CONNECT's batch). */
async function device(id, name = `Name of ${id}`) {
  const token = mintToken({ sub: id, name }, srv.secret);
  const s = client(srv.url, { transports: ['websocket'], auth: { token } });
  const rec = {};
  for (const e of EVENTS) rec[e] = [];
  s.onAny((event, ...args) => {
    if (rec[event]) rec[event].push(args[0]);
    // Confirms notifications, as a client that shows them does (docs/events.md).
    if (event === 'notification:new' && typeof args[args.length - 1] === 'function') args[args.length - 1]();
  });
  await new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
  });
  return { s, rec, id, name };
}

/** Waits until `dev` has recorded at least n `event`s; returns them. */
async function got(dev, event, n = 1) {
  await until(() => dev.rec[event].length >= n, 5000, `${n} x ${event} at ${dev.id}`);
  return dev.rec[event];
}

/** A store round trip on dev's connection: whatever the server sent this
 *  device before it handled this request has arrived once it returns. */
async function barrier(dev) {
  const r = await ack(dev.s, 'notification:list', {});
  assert.ok(Array.isArray(r.notifications), JSON.stringify(r));
}

async function closeDevice(dev) {
  if (!dev.s.connected) return;
  const gone = new Promise((r) => dev.s.once('disconnect', r));
  dev.s.disconnect();
  await gone;
}

async function api(method, path, body, key = 'k') {
  const headers = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${srv.url}${path}`, {
    method, headers, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

function assertError(r, code, what = '') {
  assert.ok(r && r.error, `${what}: expected {error}, got ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code, `${what}: ${JSON.stringify(r)}`);
  assert.equal(typeof r.error.message, 'string');
}

function assertNotification(n, { type, data }) {
  assert.equal(typeof n.id, 'number', JSON.stringify(n));
  assert.equal(n.type, type);
  assert.equal(typeof n.title, 'string');
  assert.ok(n.title.length > 0);
  assert.equal(typeof n.message, 'string');
  assert.deepEqual(n.data, data);
  assert.equal(n.isRead, false);
  assert.ok(isRecentTimestamp(n.createdAt), `createdAt ${n.createdAt}`);
  assert.deepEqual(Object.keys(n).sort(), ['createdAt', 'data', 'id', 'isRead', 'message', 'title', 'type']);
}

async function befriend(a, b) {
  const { requestId } = await ack(a.s, 'friend:request', { toUserId: b.id });
  assert.equal(typeof requestId, 'number');
  assert.deepEqual(await ack(b.s, 'friend:accept', { requestId }), { ok: true, requestId, friendId: a.id });
  return requestId;
}

async function newPost(ownerId) {
  const id = uid('post');
  const r = await api('POST', '/api/posts', { id, ownerId });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return id;
}

// ---- friends ----------------------------------------------------------------------

test('a friend request to an offline user arrives as notification:new on connect, exactly once', async () => {
  const alice = await device(uid('alice'), 'Alice');
  const bobId = uid('bob');
  const r = await ack(alice.s, 'friend:request', { toUserId: bobId });
  assert.deepEqual(Object.keys(r).sort(), ['ok', 'requestId']);
  assert.equal(r.ok, true);

  const bob = await device(bobId, 'Bob');
  const [n] = await got(bob, 'notification:new');
  assertNotification(n, { type: 'friend_request', data: { requestId: r.requestId, fromUserId: alice.id, fromName: 'Alice' } });
  assert.equal(n.message, 'Alice sent you a friend request');
  await barrier(bob);
  assert.equal(bob.rec['notification:new'].length, 1);
  assert.deepEqual(bob.rec['friend:request_received'], [], 'the live event is for connected devices');

  // Delivered: the next session does not get it again, but the list keeps it.
  await closeDevice(bob);
  const again = await device(bobId, 'Bob');
  await barrier(again);
  assert.deepEqual(again.rec['notification:new'], []);
  const { notifications } = await ack(again.s, 'notification:list', {});
  assert.deepEqual(notifications, [n]);

  // And bob can accept it from the new session.
  assert.deepEqual(await ack(again.s, 'friend:accept', { requestId: r.requestId }),
    { ok: true, requestId: r.requestId, friendId: alice.id });
  const [acc] = await got(alice, 'friend:accepted');
  assert.deepEqual(acc, { requestId: r.requestId, userId: bobId, name: 'Bob' });
}, { skip });

test('friend:request and friend:accept reach every device of the other user, plus notifications', async () => {
  const aId = uid('alice'), bId = uid('bob');
  const a1 = await device(aId, 'Alice'), a2 = await device(aId, 'Alice');
  const b1 = await device(bId, 'Bob'), b2 = await device(bId, 'Bob');

  const { requestId } = await ack(a1.s, 'friend:request', { toUserId: bId });
  for (const b of [b1, b2]) {
    const [ev] = await got(b, 'friend:request_received');
    assert.deepEqual(Object.keys(ev).sort(), ['createdAt', 'fromName', 'fromUserId', 'requestId']);
    assert.equal(ev.requestId, requestId);
    assert.equal(ev.fromUserId, aId);
    assert.equal(ev.fromName, 'Alice');
    assert.ok(isRecentTimestamp(ev.createdAt));
    const [n] = await got(b, 'notification:new');
    assertNotification(n, { type: 'friend_request', data: { requestId, fromUserId: aId, fromName: 'Alice' } });
  }
  assert.deepEqual(b1.rec['notification:new'], b2.rec['notification:new']);

  assert.deepEqual(await ack(b2.s, 'friend:accept', { requestId }), { ok: true, requestId, friendId: aId });
  for (const a of [a1, a2]) {
    assert.deepEqual((await got(a, 'friend:accepted'))[0], { requestId, userId: bId, name: 'Bob' });
    const [n] = await got(a, 'notification:new');
    assertNotification(n, { type: 'friend_accepted', data: { requestId, userId: bId, name: 'Bob' } });
    assert.equal(n.message, 'Bob accepted your friend request');
  }
  for (const d of [a1, a2, b1, b2]) await barrier(d);
  for (const a of [a1, a2]) assert.deepEqual(a.rec['friend:request_received'], []);
  for (const b of [b1, b2]) {
    assert.deepEqual(b.rec['friend:accepted'], []);
    assert.equal(b.rec['notification:new'].length, 1);
  }
  for (const a of [a1, a2]) assert.equal(a.rec['notification:new'].length, 1);
}, { skip });

test('friend errors: already_exists, accept by the wrong user -> not_found, self -> invalid_payload', async () => {
  const a = await device(uid('a')), b = await device(uid('b')), c = await device(uid('c'));
  await befriend(a, b);
  assertError(await ack(a.s, 'friend:request', { toUserId: b.id }), 'already_exists');
  assertError(await ack(b.s, 'friend:request', { toUserId: a.id }), 'already_exists');

  const { requestId } = await ack(c.s, 'friend:request', { toUserId: a.id });
  assertError(await ack(c.s, 'friend:request', { toUserId: a.id }), 'already_exists');
  assertError(await ack(a.s, 'friend:request', { toUserId: c.id }), 'already_exists', 'pending the other way');
  assertError(await ack(b.s, 'friend:accept', { requestId }), 'not_found');
  assertError(await ack(c.s, 'friend:accept', { requestId }), 'not_found', 'the requester cannot accept');
  assertError(await ack(a.s, 'friend:accept', { requestId: requestId + 100000 }), 'not_found');
  assert.deepEqual(await ack(a.s, 'friend:accept', { requestId }), { ok: true, requestId, friendId: c.id });
  assertError(await ack(a.s, 'friend:accept', { requestId }), 'not_found', 'accepted twice');
  assertError(await ack(a.s, 'friend:request', { toUserId: a.id }), 'invalid_payload');
}, { skip });

test('status:update reaches the devices of friends only', async () => {
  const aId = uid('a');
  const a = await device(aId), f1 = await device(uid('f1')), f2 = await device(uid('f2'));
  const f1b = await device(f1.id), stranger = await device(uid('x'));
  await befriend(a, f1);
  await befriend(f2, a);
  assert.deepEqual(await ack(a.s, 'status:update', { status: 'busy' }), { ok: true });
  for (const d of [f1, f1b, f2]) {
    assert.deepEqual(await got(d, 'friend_status_update'), [{ userId: aId, status: 'busy' }]);
  }
  await barrier(stranger);
  assert.deepEqual(stranger.rec['friend_status_update'], []);
  assert.deepEqual(a.rec['friend_status_update'], []);
  const custom = 'in a meeting \u{1F4C5}';
  assert.deepEqual(await ack(a.s, 'status:update', { status: custom }), { ok: true });
  assert.deepEqual((await got(f2, 'friend_status_update', 2))[1], { userId: aId, status: custom });
  // Without friends it is still acknowledged.
  assert.deepEqual(await ack(stranger.s, 'status:update', { status: 'away' }), { ok: true });
}, { skip });

test('presence:query: online from memory with status, lastSeen from the store', async () => {
  const asker = await device(uid('asker'));
  const on = await device(uid('on'));
  const gone = await device(uid('gone'));
  const never = uid('never');
  await ack(on.s, 'status:update', { status: 'away' });
  // Scope all tells a few changes as user:offline, more as a presence:batch.
  const offline = new Promise((resolve) => {
    asker.s.on('user:offline', (p) => { if (p.userId === gone.id) resolve(p); });
    asker.s.on('presence:batch', (b) => {
      const p = b.offline.find((o) => o.userId === gone.id);
      if (p) resolve(p);
    });
  });
  await closeDevice(gone);
  const { lastSeen } = await offline;

  const r = await ack(asker.s, 'presence:query', { userIds: [on.id, gone.id, never] });
  assert.deepEqual(Object.keys(r), ['statuses']);
  const st = r.statuses;
  assert.deepEqual(Object.keys(st).sort(), [gone.id, never, on.id].sort());
  assert.equal(st[on.id].online, true);
  assert.equal(st[on.id].status, 'away');
  assert.ok(isRecentTimestamp(st[on.id].lastSeen), JSON.stringify(st[on.id]));
  assert.deepEqual(st[gone.id], { online: false, lastSeen });
  assert.deepEqual(st[never], { online: false });

  const ids = Array.from({ length: 100 }, (_, i) => `${never}-${i}`);
  assert.equal(Object.keys((await ack(asker.s, 'presence:query', { userIds: ids })).statuses).length, 100);
}, { skip });

// ---- posts --------------------------------------------------------------------------

test('POST /api/posts registers a post (201) and validates its fields', async () => {
  const id = uid('p');
  let r = await api('POST', '/api/posts', { id, ownerId: 'o1' });
  assert.equal(r.status, 201);
  assert.deepEqual(r.body, { ok: true, id, ownerId: 'o1' });
  r = await api('POST', '/api/posts', { id, ownerId: 'o2' });
  assert.deepEqual([r.status, r.body], [201, { ok: true, id, ownerId: 'o2' }], 'a new owner');
  const invalid = [{}, { id }, { ownerId: 'o' }, { id: '', ownerId: 'o' }, { id, ownerId: '' },
    { id: 'p'.repeat(129), ownerId: 'o' }, { id, ownerId: 'o'.repeat(129) }, { id: 5, ownerId: 'o' },
    { id, ownerId: ['o'] }];
  for (const body of invalid) {
    r = await api('POST', '/api/posts', body);
    assert.equal(r.status, 422, JSON.stringify(body));
    assert.equal(r.body.error.code, 'invalid_field');
  }
  // A NUL byte inside a string is refused by the JSON parser itself.
  for (const bad of ['{', '[]', '"x"', '', '{"id":"a","id":"b","ownerId":"o"}', '{"id":"a\\u0000b","ownerId":"o"}']) {
    r = await api('POST', '/api/posts', bad);
    assert.equal(r.status, 400, bad);
    assert.equal(r.body.error.code, 'malformed_json');
  }
  assert.equal((await api('POST', '/api/posts', { id, ownerId: 'o' }, null)).status, 401);
  assert.equal((await api('POST', '/api/posts', { id, ownerId: 'o' }, 'wrong')).status, 401);
  assert.equal((await api('GET', '/api/posts')).status, 405);
}, { skip });

test('post:view / post:unview join and leave the post room; unknown posts -> not_found', async () => {
  const owner = uid('owner');
  const postId = await newPost(owner);
  const v = await device(uid('viewer'));
  assertError(await ack(v.s, 'post:view', uid('nopost')), 'not_found');
  assertError(await ack(v.s, 'post:unview', { postId: uid('nopost') }), 'not_found');
  assert.deepEqual(await ack(v.s, 'post:view', postId), { ok: true, postId });
  assert.deepEqual(await ack(v.s, 'post:view', { postId }), { ok: true, postId }, 'twice is fine');
  const liker = await device(uid('liker'));
  await ack(liker.s, 'post:like', { postId });
  await got(v, 'post:reaction_update');
  assert.deepEqual(await ack(v.s, 'post:unview', { postId }), { ok: true, postId });
  assertError(await ack(v.s, 'post:unview', postId), 'not_in_room');
  await ack(liker.s, 'post:like', { postId, reactionType: 'wow' });
  await barrier(v);
  assert.equal(v.rec['post:reaction_update'].length, 1, 'no updates after unview');
  assertError(await ack(v.s, 'chat:join', `post:${postId}`), 'forbidden_room');
}, { skip });

test('post:like notifies the owner on every device, never the liker; viewers get the counts', async () => {
  const ownerId = uid('owner');
  const o1 = await device(ownerId, 'Owner'), o2 = await device(ownerId, 'Owner');
  const liker = await device(uid('liker'), 'Liker');
  const viewer = await device(uid('viewer'));
  const postId = await newPost(ownerId);
  await ack(viewer.s, 'post:view', postId);
  await ack(liker.s, 'post:view', postId);

  let r = await ack(liker.s, 'post:like', { postId, reactionType: 'love' });
  assert.deepEqual(r, { ok: true, postId, reactions: { love: 1 }, total: 1 });
  for (const o of [o1, o2]) {
    assert.deepEqual(await got(o, 'post:liked'), [{ postId, userId: liker.id, name: 'Liker', reactionType: 'love' }]);
    const [n] = await got(o, 'notification:new');
    assertNotification(n, { type: 'post_like', data: { postId, userId: liker.id, reactionType: 'love' } });
  }
  assert.deepEqual(await got(viewer, 'post:reaction_update'), [{ postId, reactions: { love: 1 }, total: 1 }]);
  assert.deepEqual(await got(liker, 'post:reaction_update'), [{ postId, reactions: { love: 1 }, total: 1 }]);

  // Default type "like"; one reaction per user (a new type replaces the old).
  r = await ack(viewer.s, 'post:like', { postId });
  assert.deepEqual(r, { ok: true, postId, reactions: { like: 1, love: 1 }, total: 2 });
  r = await ack(liker.s, 'post:like', { postId, reactionType: 'like' });
  assert.deepEqual(r, { ok: true, postId, reactions: { like: 2 }, total: 2 });
  assert.deepEqual((await got(viewer, 'post:reaction_update', 3))[2], { postId, reactions: { like: 2 }, total: 2 });

  // The owner liking their own post: counts for the room, nothing for the owner.
  r = await ack(o1.s, 'post:like', { postId, reactionType: '\u{1F525}' });
  assert.deepEqual(r, { ok: true, postId, reactions: { like: 2, '\u{1F525}': 1 }, total: 3 });
  await got(viewer, 'post:reaction_update', 4);
  for (const d of [o1, o2, liker, viewer]) await barrier(d);
  for (const o of [o1, o2]) {
    assert.deepEqual(o.rec['post:liked'].map((e) => [e.userId, e.reactionType]),
      [[liker.id, 'love'], [viewer.id, 'like'], [liker.id, 'like']]);
    assert.deepEqual(o.rec['notification:new'].map((n) => [n.type, n.data.userId]),
      [['post_like', liker.id], ['post_like', viewer.id], ['post_like', liker.id]]);
  }
  assert.deepEqual(liker.rec['post:liked'], []);
  assert.deepEqual(liker.rec['notification:new'], []);
  assertError(await ack(liker.s, 'post:like', { postId: uid('nopost') }), 'not_found');
}, { skip });

test('post:comment: the owner is told, the room gets comment_added, the ack carries the comment', async () => {
  const ownerId = uid('owner');
  const o1 = await device(ownerId, 'Owner'), o2 = await device(ownerId, 'Owner');
  const cm = await device(uid('commenter'), 'Commenter');
  const viewer = await device(uid('viewer'));
  const postId = await newPost(ownerId);
  await ack(viewer.s, 'post:view', { postId });
  const content = 'nice \u{1F44D} "post" \\ \u00e9';
  const c = await ack(cm.s, 'post:comment', { postId, content });
  assert.deepEqual(Object.keys(c).sort(), ['commentId', 'content', 'createdAt', 'name', 'postId', 'userId']);
  assert.equal(typeof c.commentId, 'number');
  assert.deepEqual({ ...c, commentId: 0, createdAt: 0 },
    { postId, commentId: 0, userId: cm.id, name: 'Commenter', content, createdAt: 0 });
  assert.ok(isRecentTimestamp(c.createdAt));
  for (const o of [o1, o2]) {
    assert.deepEqual(await got(o, 'post:commented'), [c]);
    const [n] = await got(o, 'notification:new');
    assertNotification(n, { type: 'post_comment', data: { postId, commentId: c.commentId, userId: cm.id } });
  }
  assert.deepEqual(await got(viewer, 'post:comment_added'), [c]);

  // The owner commenting on their own post: the room hears it, the owner is not notified.
  await ack(o1.s, 'post:view', postId);
  const own = await ack(o1.s, 'post:comment', { postId, content: 'thanks' });
  assert.equal(own.userId, ownerId);
  assert.deepEqual((await got(viewer, 'post:comment_added', 2))[1], own);
  assert.deepEqual((await got(o1, 'post:comment_added'))[0], own);
  for (const d of [o1, o2, cm]) await barrier(d);
  assert.equal(o1.rec['post:commented'].length, 1);
  assert.equal(o2.rec['notification:new'].length, 1);
  assert.deepEqual(cm.rec['post:commented'], []);
  assert.deepEqual(cm.rec['notification:new'], []);

  assertError(await ack(cm.s, 'post:comment', { postId: uid('nopost'), content: 'x' }), 'not_found');
  assertError(await ack(cm.s, 'post:comment', { postId, content: 'x'.repeat(65537) }), 'payload_too_large');
}, { skip });

// ---- notifications ------------------------------------------------------------------

test('POST /api/notifications: live to every device, 201 with the notification', async () => {
  const id = uid('n');
  const d1 = await device(id), d2 = await device(id), other = await device(uid('other'));
  const r = await api('POST', '/api/notifications',
    { userId: id, type: 'order', title: 'Shipped', message: 'Your order shipped', data: { orderId: 7, items: [1, 2] } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body), ['ok', 'notification']);
  assert.equal(r.body.ok, true);
  const n = r.body.notification;
  assertNotification(n, { type: 'order', data: { orderId: 7, items: [1, 2] } });
  assert.equal(n.title, 'Shipped');
  assert.equal(n.message, 'Your order shipped');
  for (const d of [d1, d2]) assert.deepEqual(await got(d, 'notification:new'), [n]);
  await barrier(other);
  assert.deepEqual(other.rec['notification:new'], []);

  // Delivered live: a new session does not get it again.
  await closeDevice(d1);
  await closeDevice(d2);
  const d3 = await device(id);
  await barrier(d3);
  assert.deepEqual(d3.rec['notification:new'], []);
}, { skip });

test('POST /api/notifications to an offline user: delivered on connect, oldest first, once', async () => {
  const id = uid('off');
  const sent = [];
  for (const [i, data] of [{ k: 1 }, undefined, null].entries()) {
    const body = { userId: id, type: 't', title: `title ${i}`, message: '' };
    if (data !== undefined) body.data = data;
    const r = await api('POST', '/api/notifications', body);
    assert.equal(r.status, 201);
    sent.push(r.body.notification);
  }
  assert.deepEqual(sent.map((n) => n.data), [{ k: 1 }, null, null]);
  assert.ok(sent[0].id < sent[1].id && sent[1].id < sent[2].id);
  const d1 = await device(id);
  assert.deepEqual(await got(d1, 'notification:new', 3), sent);
  const d2 = await device(id);
  await barrier(d1);
  await barrier(d2);
  assert.equal(d1.rec['notification:new'].length, 3);
  assert.deepEqual(d2.rec['notification:new'], [], 'confirmed by the first device: not offered again');
  await closeDevice(d1);
  await closeDevice(d2);
  const d3 = await device(id);
  await barrier(d3);
  assert.deepEqual(d3.rec['notification:new'], []);
  const { notifications } = await ack(d3.s, 'notification:list', {});
  assert.deepEqual(notifications, [...sent].reverse(), 'newest first');
}, { skip });

test('POST /api/notifications validation: 422, 400, 401, 405', async () => {
  const ok = { userId: 'u', type: 't', title: 'x', message: 'y' };
  const invalid = [{}, { ...ok, userId: '' }, { ...ok, userId: 'u'.repeat(129) }, { ...ok, userId: 3 },
    { ...ok, type: '' }, { ...ok, type: 't'.repeat(129) }, { ...ok, title: 5 }, { ...ok, title: 't'.repeat(257) },
    { ...ok, message: undefined }, { ...ok, message: ['m'] }, { ...ok, message: 'm'.repeat(65537) },
    { ...ok, data: { big: 'd'.repeat(16385) } }];
  for (const body of invalid) {
    const r = await api('POST', '/api/notifications', body);
    assert.equal(r.status, 422, JSON.stringify(body).slice(0, 100));
    assert.equal(r.body.error.code, 'invalid_field');
    assert.equal(typeof r.body.error.message, 'string');
  }
  for (const bad of ['{', '[1]', 'null', '', '{"userId":"a\\u0000b","type":"t","title":"","message":""}']) {
    const r = await api('POST', '/api/notifications', bad);
    assert.equal(r.status, 400, bad);
    assert.equal(r.body.error.code, 'malformed_json');
  }
  assert.equal((await api('POST', '/api/notifications', ok, null)).status, 401);
  assert.equal((await api('PUT', '/api/notifications', ok)).status, 405);
  const r = await api('POST', '/api/notifications', { ...ok, data: 'plain string' });
  assert.equal(r.status, 201);
  assert.equal(r.body.notification.data, 'plain string');
}, { skip });

test('notification:list and notification:mark_read (notification:read on every device)', async () => {
  const id = uid('reader');
  const d1 = await device(id), d2 = await device(id), other = await device(uid('other'));
  const ids = [];
  for (let i = 0; i < 3; i++) {
    ids.push((await api('POST', '/api/notifications', { userId: id, type: 'n', title: `#${i}`, message: 'm' })).body.notification.id);
  }
  const otherId = (await api('POST', '/api/notifications', { userId: other.id, type: 'n', title: 'o', message: 'm' })).body.notification.id;
  await got(d1, 'notification:new', 3);
  let { notifications } = await ack(d1.s, 'notification:list', {});
  assert.deepEqual(notifications.map((n) => n.id), [...ids].reverse());
  assert.deepEqual((await ack(d1.s, 'notification:list')).notifications, notifications, 'no argument');

  assert.deepEqual(await ack(d1.s, 'notification:mark_read', ids[0]), { ok: true, notificationId: ids[0] });
  for (const d of [d1, d2]) assert.deepEqual(await got(d, 'notification:read'), [{ notificationId: ids[0] }]);
  assert.deepEqual(await ack(d2.s, 'notification:mark_read', { notificationId: ids[2] }), { ok: true, notificationId: ids[2] });
  assert.deepEqual((await got(d1, 'notification:read', 2))[1], { notificationId: ids[2] });

  ({ notifications } = await ack(d1.s, 'notification:list', { unreadOnly: true }));
  assert.deepEqual(notifications.map((n) => n.id), [ids[1]]);
  ({ notifications } = await ack(d1.s, 'notification:list', { unreadOnly: false }));
  assert.deepEqual(notifications.map((n) => [n.id, n.isRead]), [[ids[2], true], [ids[1], false], [ids[0], true]]);

  assertError(await ack(d1.s, 'notification:mark_read', otherId), 'not_found');
  assertError(await ack(d1.s, 'notification:mark_read', { notificationId: ids[2] + 100000 }), 'not_found');
  await barrier(other);
  assert.deepEqual(other.rec['notification:read'], []);
  assert.deepEqual((await ack(other.s, 'notification:list', { unreadOnly: true })).notifications.map((n) => n.id), [otherId]);
  // Marking twice is fine.
  assert.deepEqual(await ack(d1.s, 'notification:mark_read', ids[0]), { ok: true, notificationId: ids[0] });
}, { skip });

test('notification:list returns at most 100, newest first', async () => {
  const id = uid('many');
  for (let i = 0; i < 105; i++) {
    assert.equal((await api('POST', '/api/notifications', { userId: id, type: 'n', title: `${i}`, message: '' })).status, 201);
  }
  const d = await device(id);
  await got(d, 'notification:new', 105);
  const { notifications } = await ack(d.s, 'notification:list', {});
  assert.equal(notifications.length, 100);
  assert.equal(notifications[0].title, '104');
  assert.equal(notifications[99].title, '5');
}, { skip, timeout: 30000 });

// ---- validation ---------------------------------------------------------------------

test('invalid payloads -> invalid_payload for every social event (ack or error event)', async () => {
  const me = await device(uid('me'));
  const postId = await newPost('someone');
  const long = 'x'.repeat(129);
  const cases = {
    'notification:list': [42, 'x', [1], { unreadOnly: 'yes' }, { unreadOnly: 1 }],
    'notification:mark_read': [undefined, 'x', 0, -1, 1.5, '7', {}, { notificationId: '7' }, { notificationId: 0 }, [1], null],
    'friend:request': [undefined, 'bob', {}, { toUserId: '' }, { toUserId: 7 }, { toUserId: long }, { toUserId: 'a\u0000b' }, { toUserId: me.id }, null],
    'friend:accept': [undefined, 7, {}, { requestId: 'x' }, { requestId: 0 }, { requestId: -3 }, { requestId: 1.5 }, null],
    'status:update': [undefined, 'busy', {}, { status: '' }, { status: 's'.repeat(65) }, { status: 5 }, null],
    'presence:query': [undefined, ['a'], {}, { userIds: [] }, { userIds: 'a' }, { userIds: [1] }, { userIds: [''] },
      { userIds: [long] }, { userIds: Array(101).fill('a') }, null],
    'post:view': [undefined, 7, '', long, {}, { postId: 7 }, { postId: '' }, null, [postId]],
    'post:unview': [undefined, 7, '', long, { postId: long }, null],
    'post:like': [undefined, postId, {}, { postId: '' }, { postId, reactionType: '' }, { postId, reactionType: 'r'.repeat(33) },
      { postId, reactionType: 5 }, { postId: long }, null],
    'post:comment': [undefined, postId, { postId }, { postId, content: '' }, { postId, content: 5 }, { content: 'x' },
      { postId: long, content: 'x' }, null],
  };
  for (const [event, payloads] of Object.entries(cases)) {
    for (const p of payloads) {
      const r = p === undefined ? await ack(me.s, event) : await ack(me.s, event, p);
      assertError(r, 'invalid_payload');
    }
  }
  // 32 characters (not bytes) is the reaction limit.
  const emoji32 = '\u{1F600}'.repeat(32);
  assert.equal((await ack(me.s, 'post:like', { postId, reactionType: emoji32 })).ok, true);
  // Without an ack the error arrives as an `error` event naming the event.
  me.s.emit('friend:request', { toUserId: 42 });
  const [e] = await got(me, 'error');
  assert.equal(e.code, 'invalid_payload');
  assert.equal(e.event, 'friend:request');
  assert.equal(typeof e.message, 'string');
}, { skip, timeout: 30000 });
