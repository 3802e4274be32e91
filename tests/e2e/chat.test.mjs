// Section C: chat rooms, messages, typing and error reporting of the main server.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import {
  test, ack, connectUser, waitFor, record, isRecentTimestamp, assertFields, mintToken, connect, until,
} from './lib/util.mjs';

let srv;
before(async () => { srv = await startServer('switchboard'); });
after(async () => { if (srv) await srv.stop(); });

let seq = 0;
const uid = (p) => `${p}-${process.pid}-${++seq}`;

/** Two or three users (one device each) who all joined `room`. */
async function usersInRoom(n, room, opts = [{}, { transports: ['polling'] }, {}]) {
  const users = [];
  for (let i = 0; i < n; i++) {
    const id = uid(`u${i}`);
    const { s } = await connectUser(srv, id, opts[i] || {}, `User ${i}`);
    assert.deepEqual(await ack(s, 'chat:join', room), { ok: true, roomId: room });
    users.push({ id, s });
  }
  return users;
}

function assertError(got, code) {
  assert.ok(got && got.error, `expected {error}, got ${JSON.stringify(got)}`);
  assert.equal(got.error.code, code, JSON.stringify(got));
  assert.equal(typeof got.error.message, 'string');
  assert.ok(got.error.message.length > 0);
}

test('chat:join / chat:leave: acks and notifications to the others', async () => {
  const room = uid('general');
  const [a] = await usersInRoom(1, room);
  const bId = uid('b');
  const { s: b } = await connectUser(srv, bId);
  const bSelf = record(b, 'chat:user_joined');
  const joined = waitFor(a.s, 'chat:user_joined');
  assert.deepEqual(await ack(b, 'chat:join', room), { ok: true, roomId: room });
  assertFields(await joined, { roomId: room, userId: bId });

  const left = waitFor(a.s, 'chat:user_left');
  assert.deepEqual(await ack(b, 'chat:leave', room), { ok: true, roomId: room });
  assertFields(await left, { roomId: room, userId: bId });
  assert.deepEqual(bSelf, [], 'the joiner is not told about itself');
});

test('chat:message reaches everyone in the room, sender included; ack gets the same', async () => {
  const room = uid('talk');
  const [a, b, c] = await usersInRoom(3, room);
  const { s: outsider } = await connectUser(srv, uid('out'));
  const outSeen = record(outsider, 'chat:message');
  const atA = waitFor(a.s, 'chat:message');
  const atB = waitFor(b.s, 'chat:message');
  const atC = waitFor(c.s, 'chat:message');
  const text = 'hello \u{1F600} "world" \\ \u00e9';
  const acked = await ack(a.s, 'chat:message', { roomId: room, message: text });
  const [ma, mb, mc] = await Promise.all([atA, atB, atC]);
  assert.ok(typeof acked.id === 'string' || typeof acked.id === 'number', `id: ${JSON.stringify(acked.id)}`);
  assert.equal(acked.roomId, room);
  assert.equal(acked.message, text);
  assertFields(acked.sender, { id: a.id, name: 'User 0' }, 'sender');
  assert.ok(isRecentTimestamp(acked.createdAt), `createdAt ${JSON.stringify(acked.createdAt)}`);
  assert.deepEqual(ma, acked);
  assert.deepEqual(mb, acked);
  assert.deepEqual(mc, acked);
  await ack(outsider, 'chat:join', uid('elsewhere'));
  assert.deepEqual(outSeen, []);

  // Without an ack the broadcast still happens; ids are distinct.
  const second = waitFor(b.s, 'chat:message');
  c.s.emit('chat:message', { roomId: room, message: 'two' });
  const m2 = await second;
  assert.equal(m2.message, 'two');
  assertFields(m2.sender, { id: c.id, name: 'User 2' }, 'sender');
  assert.notEqual(m2.id, acked.id);
});

// The user record keeps the token's name and avatar after the id (no
// name of its own: the id stands in); chat:message's sender shows both.
test('chat:message names its sender as the token did: name and avatar, either missing', async () => {
  const room = uid('faces');
  const people = [
    { name: 'Zoé Named', avatar: 'https://example.test/z.png' },
    { avatar: 'https://example.test/anon.png' },
    { name: 'Plain Name' },
    {},
  ].map((claims) => ({ id: uid('face'), claims }));
  const seen = [];
  for (const p of people) {
    const token = mintToken({ sub: p.id, ...p.claims }, srv.secret);
    p.s = await connect(srv.url, { transports: ['websocket'], auth: { token } });
    assert.deepEqual(await ack(p.s, 'chat:join', room), { ok: true, roomId: room });
    seen.push(record(p.s, 'chat:message'));
  }
  for (const p of people) {
    const m = await ack(p.s, 'chat:message', { roomId: room, message: `from ${p.id}` });
    const sender = { id: p.id, name: p.claims.name ?? p.id };
    if (p.claims.avatar) sender.avatar = p.claims.avatar;
    assert.deepEqual(m.sender, sender, JSON.stringify(m));
  }
  await until(() => seen.every((l) => l.length === people.length), 5000, 'every message everywhere');
});

test('chat:message to a room you are not in -> not_in_room', async () => {
  const room = uid('closed');
  const [member] = await usersInRoom(1, room);
  const seen = record(member.s, 'chat:message');
  const { s } = await connectUser(srv, uid('stranger'));
  assertError(await ack(s, 'chat:message', { roomId: room, message: 'let me in' }), 'not_in_room');
  const ev = waitFor(s, 'error');
  s.emit('chat:message', { roomId: room, message: 'no ack' });
  const e = await ev;
  assert.equal(e.code, 'not_in_room');
  assert.equal(e.event, 'chat:message');
  assert.equal(typeof e.message, 'string');
  await ack(member.s, 'chat:join', room);
  assert.deepEqual(seen, []);
});

test('chat:typing goes to the others only', async () => {
  const room = uid('typing');
  const [a, b, c] = await usersInRoom(3, room);
  const aSeen = record(a.s, 'chat:typing');
  const atB = waitFor(b.s, 'chat:typing');
  const atC = waitFor(c.s, 'chat:typing');
  a.s.emit('chat:typing', { roomId: room, isTyping: true });
  assertFields(await atB, { roomId: room, userId: a.id, isTyping: true });
  assertFields(await atC, { roomId: room, userId: a.id, isTyping: true });
  const stop = waitFor(b.s, 'chat:typing');
  a.s.emit('chat:typing', { roomId: room, isTyping: false });
  assertFields(await stop, { roomId: room, userId: a.id, isTyping: false });
  await ack(a.s, 'chat:join', room); // round trip after delivery
  assert.deepEqual(aSeen, [], 'the typist does not get its own chat:typing');
});

test('chat:join payload validation -> invalid_payload', async () => {
  const { s } = await connectUser(srv, uid('v'));
  const bad = [42, '', 'x'.repeat(129), null, ['r'], true, 'tab\there', 'nl\n', {}, { roomId: 42 }, { roomId: '' }];
  for (const roomId of bad) {
    assertError(await ack(s, 'chat:join', roomId), 'invalid_payload');
  }
  const ok128 = 'y'.repeat(128);
  assert.deepEqual(await ack(s, 'chat:join', ok128), { ok: true, roomId: ok128 });
  // The object form {roomId} is accepted too (both servers do).
  const objRoom = uid('obj');
  assert.deepEqual(await ack(s, 'chat:join', { roomId: objRoom }), { ok: true, roomId: objRoom });
  assert.deepEqual(await ack(s, 'chat:leave', { roomId: objRoom }), { ok: true, roomId: objRoom });
  const uni = 'salle-\u00e9t\u00e9-\u{1F3E0}';
  assert.deepEqual(await ack(s, 'chat:join', uni), { ok: true, roomId: uni });
});

test('chat:join reserved prefixes -> forbidden_room', async () => {
  const me = uid('me');
  const { s } = await connectUser(srv, me);
  const rooms = ['user:someoneelse', 'conversation:1', 'post:1', 'metric:cpu', 'doc:1', 'rtc:1'];
  for (const roomId of rooms) {
    assertError(await ack(s, 'chat:join', roomId), 'forbidden_room');
  }
  // And the other user's private room really was not joined.
  const victim = uid('victim');
  const { s: v } = await connectUser(srv, victim);
  const seen = record(s, 'chat:user_joined');
  assertError(await ack(s, 'chat:join', `user:${victim}`), 'forbidden_room');
  const ev = waitFor(s, 'error');
  s.emit('chat:join', `user:${victim}`);
  const e = await ev;
  assert.equal(e.code, 'forbidden_room');
  assert.equal(e.event, 'chat:join');
  assert.equal(typeof e.message, 'string');
  await ack(v, 'chat:join', uid('x'));
  assert.deepEqual(seen, []);
});

test('chat:message / chat:typing payload validation -> invalid_payload', async () => {
  const room = uid('val');
  const [a] = await usersInRoom(1, room);
  const bad = [
    { roomId: room },
    { roomId: room, message: 42 },
    { roomId: room, message: null },
    { message: 'no room' },
    { roomId: 7, message: 'x' },
    'just a string',
    null,
    [room, 'x'],
  ];
  for (const p of bad) assertError(await ack(a.s, 'chat:message', p), 'invalid_payload');
  assertError(await ack(a.s, 'chat:message'), 'invalid_payload');
  assertError(await ack(a.s, 'chat:typing', { isTyping: true }), 'invalid_payload');
  assertError(await ack(a.s, 'chat:typing', 'nope'), 'invalid_payload');
  const ev = waitFor(a.s, 'error');
  a.s.emit('chat:message', { roomId: room });
  const e = await ev;
  assert.equal(e.code, 'invalid_payload');
  assert.equal(e.event, 'chat:message');
});

test('unknown event -> unknown_event (ack and error event)', async () => {
  const { s } = await connectUser(srv, uid('unk'));
  assertError(await ack(s, 'no:such:event', { a: 1 }), 'unknown_event');
  assertError(await ack(s, 'foo'), 'unknown_event');
  const ev = waitFor(s, 'error');
  s.emit('bogus', 1, 2);
  const e = await ev;
  assert.equal(e.code, 'unknown_event');
  assert.equal(e.event, 'bogus');
  assert.equal(typeof e.message, 'string');
  // The connection survives errors.
  assert.equal(s.connected, true);
  const room = uid('after');
  assert.deepEqual(await ack(s, 'chat:join', room), { ok: true, roomId: room });
});

test('two users, two rooms: messages stay in their room', async () => {
  const r1 = uid('r1');
  const r2 = uid('r2');
  const [a, b] = await usersInRoom(2, r1);
  assert.deepEqual(await ack(b.s, 'chat:join', r2), { ok: true, roomId: r2 });
  const aMsgs = record(a.s, 'chat:message');
  const got = waitFor(b.s, 'chat:message');
  await ack(b.s, 'chat:message', { roomId: r2, message: 'only r2' });
  assert.equal((await got).roomId, r2);
  await ack(a.s, 'chat:join', r1);
  assert.deepEqual(aMsgs, []);
  const both = Promise.all([waitFor(a.s, 'chat:message'), waitFor(b.s, 'chat:message')]);
  await ack(b.s, 'chat:message', { roomId: r1, message: 'to r1' });
  const [x, y] = await both;
  assert.equal(x.message, 'to r1');
  assert.deepEqual(x, y);
});
