// The seeds' missing pieces (issue 13, item 3): /api/emit to one socket id,
// device_connected / device_disconnected to a user's other devices, and
// room_members, each end to end with socket.io-client and /ws users.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { test, ack, client, connectUser, mintToken, waitFor, record, assertFields, until } from './lib/util.mjs';
import { wsUser, WsClient, wsUrl } from './lib/doors.mjs';

const KEY = 'seed-pieces-key';
let srv;
before(async () => { srv = await startServer('switchboard', { args: ['--api-key', KEY] }); });
after(async () => { if (srv) await srv.stop(); });

let seq = 0;
const uid = (p) => `${p}-${process.pid}-${++seq}`;
const tokenOf = (sub) => mintToken({ sub, name: `Name of ${sub}` }, srv.secret);

async function emit(body) {
  const res = await fetch(`${srv.url}/api/emit`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

test('/api/emit to one socket id reaches that device only (socket.io and /ws)', async () => {
  const me = uid('me');
  const { s: a } = await connectUser(srv, me);
  const { s: b } = await connectUser(srv, me);
  const w = await wsUser(srv, tokenOf(me));
  const atB = record(b, 'order:shipped');
  const atA = waitFor(a, 'order:shipped');
  assert.deepEqual((await emit({ to: { socket: a.id }, event: 'order:shipped', data: { id: 1 } })).body,
    { ok: true, recipients: 1 });
  assert.deepEqual(await atA, { id: 1 });
  assert.deepEqual((await emit({ to: { socket: w.connected.clientId }, event: 'order:shipped', data: { id: 2 } })).body,
    { ok: true, recipients: 1 });
  assert.deepEqual((await w.next('order:shipped')).data, { id: 2 });
  const both = await emit({ to: { socket: [a.id, b.id, 'x'.repeat(20)] }, event: 'order:shipped', data: { id: 3 } });
  assert.deepEqual(both.body, { ok: true, recipients: 2 });
  await until(() => atB.length === 1, 5000, 'b to get the list emit');
  assert.deepEqual(atB, [[{ id: 3 }]], 'b got only the emit naming it');
  const room = uid('r');
  await ack(b, 'chat:join', room);
  assert.deepEqual((await emit({ to: { socket: [a.id, b.id] }, event: 'x', except: [room] })).body, { ok: true, recipients: 1 });
  assert.deepEqual((await emit({ to: { socket: 'nobody-has-this-id1' }, event: 'x' })).body, { ok: true, recipients: 0 });
  const bad = await emit({ to: { socket: 12 }, event: 'x' });
  assert.equal(bad.status, 422);
  const two = await emit({ to: { socket: a.id, user: me }, event: 'x' });
  assert.equal(two.status, 422);
});

test('device_connected / device_disconnected reach the user\'s other devices, not the device itself', async () => {
  const me = uid('me');
  const { s: first } = await connectUser(srv, me);
  const selfSeen = record(first, 'device_connected');
  const connected = waitFor(first, 'device_connected');
  const { s: second } = await connectUser(srv, me);
  assertFields(await connected, { socketId: second.id, userId: me, devices: 2 });
  assert.equal(typeof (await connected).timestamp, 'number');

  const viaWs = waitFor(first, 'device_connected', 5000, (d) => d.devices === 3);
  const secondSees = waitFor(second, 'device_connected');
  const w = await wsUser(srv, tokenOf(me));
  assertFields(await viaWs, { socketId: w.connected.clientId });
  assertFields(await secondSees, { socketId: w.connected.clientId });

  const secondId = second.id; // socket.io-client forgets it on disconnect
  const gone = waitFor(first, 'device_disconnected', 5000, (d) => d.socketId === secondId);
  const wsGone = w.next('device_disconnected', (d) => d.socketId === secondId);
  second.disconnect();
  assertFields(await gone, { userId: me, devices: 2 });
  await wsGone;
  assert.ok(!selfSeen.some(([d]) => d.socketId === first.id), 'no device hears of itself');

  const other = uid('other');
  const { s: stranger } = await connectUser(srv, other);
  const strangerSeen = record(stranger, 'device_connected');
  const third = waitFor(first, 'device_connected', 5000, (d) => d.devices === 3);
  await connectUser(srv, me);
  await third;
  assert.deepEqual(strangerSeen, [], 'other users are not told');
});

test('room_members: ack with the users in a room one is in (socket.io and /ws)', async () => {
  const room = uid('room');
  const alice = uid('alice'), bob = uid('bob');
  const { s: a } = await connectUser(srv, alice);
  await connectUser(srv, alice).then(({ s }) => ack(s, 'chat:join', room));
  await ack(a, 'chat:join', room);
  const w = await wsUser(srv, tokenOf(bob));
  w.send('join_room', { roomId: room });
  await w.next('room_joined');

  const got = await ack(a, 'room_members', room);
  assert.equal(got.roomId, room);
  assert.equal(got.count, 2);
  const byId = Object.fromEntries(got.members.map((m) => [m.id, m]));
  assertFields(byId[alice], { name: `Name of ${alice}`, status: 'online', devices: 2 });
  assertFields(byId[bob], { status: 'online', devices: 1 });

  const fromWs = await w.request('room_members', { roomId: room }, 4);
  assert.equal(fromWs.type, 'ack');
  assert.equal(fromWs.data.count, 2);

  const outside = await ack(a, 'room_members', uid('elsewhere'));
  assert.equal(outside.error.code, 'not_in_room');
  const reserved = await ack(a, 'room_members', `user:${bob}`);
  assert.equal(reserved.error.code, 'forbidden_room');
});

async function api(method, path, body) {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

test('PATCH / DELETE /api/conversations/:id: members told live, stored, removed members leave the room', async () => {
  const a = uid('a'), b = uid('b'), c = uid('c'), conv = uid('team');
  assert.equal((await api('POST', '/api/conversations', { id: conv, memberIds: [a, b], title: 'Team' })).status, 201);
  const { s: sa } = await connectUser(srv, a);
  const { s: sb } = await connectUser(srv, b);
  const wc = await wsUser(srv, tokenOf(c));
  await ack(sb, 'chat:join', `conversation:${conv}`);

  const atA = waitFor(sa, 'conversation:updated');
  const atB = waitFor(sb, 'conversation:updated');
  const patched = await api('PATCH', `/api/conversations/${conv}`, { title: 'Core team', memberIds: [a, c] });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assertFields(patched.body, { ok: true, conversationId: conv, title: 'Core team', memberIds: [a, c] });
  for (const got of [await atA, await atB, (await wc.next('conversation:updated')).data]) {
    assertFields(got, { conversationId: conv, title: 'Core team', memberIds: [a, c] });
  }
  // b is out: out of the room, and the membership check says so.
  const newOne = waitFor(sa, 'message:new', 5000).catch(() => null);
  await ack(sa, 'chat:join', `conversation:${conv}`);
  const bHears = record(sb, 'message:new');
  await ack(sa, 'message:send', { conversationId: conv, content: 'after the change' });
  await newOne;
  assert.equal((await ack(sb, 'chat:join', `conversation:${conv}`)).error.code, 'forbidden_room');
  wc.send('join_room', { roomId: `conversation:${conv}` });
  assert.equal((await wc.next('room_joined')).data.roomId, `conversation:${conv}`);
  assert.deepEqual(bHears, []);
  const title = await api('PATCH', `/api/conversations/${conv}`, { title: 'Renamed' });
  assertFields(title.body, { memberIds: [a, c].sort(), title: 'Renamed' });

  const gone = waitFor(sa, 'conversation:deleted');
  const del = await api('DELETE', `/api/conversations/${conv}`);
  assert.deepEqual(del.body, { conversationId: conv, ok: true });
  assert.deepEqual(await gone, { conversationId: conv });
  assert.deepEqual((await wc.next('conversation:deleted')).data, { conversationId: conv });
  assert.equal((await api('DELETE', `/api/conversations/${conv}`)).status, 404);
  assert.equal((await api('PATCH', `/api/conversations/${conv}`, { title: 'x' })).status, 404);
  assert.equal((await api('GET', `/api/conversations/${conv}/messages`)).status, 404);
  assert.equal((await ack(sa, 'message:send', { conversationId: conv, content: 'x' })).error !== undefined, true);
  assert.equal((await api('PATCH', `/api/conversations/${uid('x')}`, {})).status, 422);
  assert.equal((await api('PATCH', `/api/conversations/${uid('x')}`, { memberIds: ['only-one'] })).status, 422);
});

test('POST /api/conversations/:id/messages and /read: a backend sends and marks read for a member', async () => {
  const a = uid('a'), b = uid('b'), c = uid('c'), conv = uid('team');
  assert.equal((await api('POST', '/api/conversations', { id: conv, memberIds: [a, b, c] })).status, 201);
  const { s: sa } = await connectUser(srv, a);
  const { s: sb } = await connectUser(srv, b);
  await ack(sb, 'chat:join', `conversation:${conv}`);
  const received = waitFor(sb, 'message:received');
  const inRoom = waitFor(sb, 'message:new');
  const ownDevice = waitFor(sa, 'message:received');
  const sent = await api('POST', `/api/conversations/${conv}/messages`,
    { senderId: a, content: 'from the backend', senderName: 'Build Bot', clientMessageId: 'k-1' });
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
  assertFields(sent.body, { conversationId: conv, senderId: a, content: 'from the backend', messageType: 'text',
    clientMessageId: 'k-1', sender: { id: a, name: 'Build Bot' } });
  // Also when it reaches b while b's backlog is read (then as the store has it).
  assert.deepEqual(await received, sent.body);
  assert.deepEqual(await inRoom, sent.body);
  assert.deepEqual(await ownDevice, sent.body, 'the sender\'s devices hear of it too');
  const again = await api('POST', `/api/conversations/${conv}/messages`, { senderId: a, content: 'from the backend', clientMessageId: 'k-1' });
  assert.equal(again.body.id, sent.body.id, 'a retry with the same clientMessageId stores nothing new');
  assert.deepEqual(again.body.sender, sent.body.sender, 'the retry answers with the stored name');
  // Without senderName, the user's own name, live as in history.
  const plain = await api('POST', `/api/conversations/${conv}/messages`, { senderId: a, content: 'plain' });
  assert.equal(plain.status, 201, JSON.stringify(plain.body));
  assert.deepEqual(plain.body.sender, { id: a, name: `Name of ${a}` });
  const page = await api('GET', `/api/conversations/${conv}/messages`);
  const stored = page.body.messages.filter((m) => m.id === sent.body.id);
  assert.equal(stored.length, 1);
  assert.deepEqual(stored[0].sender, { id: a, name: 'Build Bot' }, 'history shows the name it was sent with');
  assert.deepEqual(page.body.messages.find((m) => m.id === plain.body.id).sender, plain.body.sender);
  // c was offline: its backlog carries the backend's name too (listened for
  // before the connection opens: the backlog follows the connect at once).
  const sc = client(srv.url, { transports: ['websocket'], auth: { token: mintToken({ sub: c, name: `Name of ${c}` }, srv.secret) } });
  const pending = await waitFor(sc, 'message:received');
  assert.equal(pending.id, sent.body.id);
  assert.deepEqual(pending.sender, { id: a, name: 'Build Bot' });

  const readAt = waitFor(sa, 'messages-read');
  const read = await api('POST', `/api/conversations/${conv}/read`, { userId: b, messageIds: [sent.body.id] });
  assert.equal(read.status, 200, JSON.stringify(read.body));
  assert.deepEqual(read.body, { ok: true, conversationId: conv, messageIds: [sent.body.id] });
  assert.deepEqual(await readAt, { conversationId: conv, messageIds: [sent.body.id], readBy: b });
  assert.deepEqual((await api('POST', `/api/conversations/${conv}/read`, { userId: b, messageIds: [sent.body.id] })).body.messageIds, []);

  const outsider = await api('POST', `/api/conversations/${conv}/messages`, { senderId: uid('x'), content: 'hi' });
  assert.equal(outsider.status, 403);
  assert.equal(outsider.body.error.code, 'forbidden');
  assert.equal((await api('POST', `/api/conversations/${uid('none')}/messages`, { senderId: a, content: 'hi' })).status, 404);
  assert.equal((await api('POST', `/api/conversations/${conv}/messages`, { content: 'no sender' })).status, 422);
  assert.equal((await api('POST', `/api/conversations/${conv}/read`, { userId: uid('x'), messageIds: [1] })).status, 403);
  assert.equal((await api('POST', `/api/conversations/${conv}/read`, { userId: b, messageIds: [] })).status, 422);
  const noKey = await fetch(`${srv.url}/api/conversations/${conv}/messages`, { method: 'POST', body: '{}' });
  assert.equal(noKey.status, 401);
});
