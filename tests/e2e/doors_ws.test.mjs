// The plain JSON WebSocket door (/ws) with the npm `ws` client: authentication
// (header, ?token=, first message, refused, timed out), every message type,
// messages crossing between /ws and socket.io-client users in one room,
// malformed input, oversize messages and rate limits.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer } from './lib/server.mjs';
import { test, ack, connectUser, mintToken, waitFor, assertFields, elapse, until } from './lib/util.mjs';
import { WsClient, wsUrl, wsUser } from './lib/doors.mjs';

let srv;
before(async () => { srv = await startServer('switchboard', { args: ['--connect-timeout', '1500'] }); });
after(async () => { if (srv) await srv.stop(); });

let seq = 0;
/** new_message as chat:message carries it: without seed 004's fields, which are checked. */
function ours(d) {
  const { content, timestamp, ...rest } = d;
  assert.deepEqual(content, d.message);
  assert.equal(typeof timestamp, 'number');
  assert.equal(d.sender.username, d.sender.name);
  const { username, ...sender } = d.sender;
  return { ...rest, sender };
}
const uid = (p) => `${p}-${process.pid}-${++seq}`;
const tokenOf = (sub, name = `Name of ${sub}`) => mintToken({ sub, name }, srv.secret);

test('auth: Authorization header, first auth message; connected carries clientId and userId', async () => {
  const a = uid('a'), b = uid('b');
  const byHeader = await wsUser(srv, tokenOf(a), 'header');
  assertFields(byHeader.connected, { userId: a });
  assert.match(byHeader.connected.clientId, /^[\w-]{20}$/);
  const byMessage = await wsUser(srv, tokenOf(b), 'message');
  assertFields(byMessage.connected, { userId: b });
  assert.notEqual(byMessage.connected.clientId, byHeader.connected.clientId);
});

test('auth refused: bad token (error + close 1008), second auth, messages before auth', async () => {
  const bad = new WsClient(wsUrl(srv), { headers: { Authorization: 'Bearer not.a.token' } });
  const err = await bad.next('error');
  assert.equal(err.data.code, 'token_invalid');
  assert.match(err.data.message, /Authentication error/);
  assert.deepEqual(await bad.closed, { code: 1008, reason: 'Authentication failed' });

  const expired = new WsClient(wsUrl(srv));
  await expired.opened;
  expired.send('auth', { token: mintToken({ sub: uid('x'), exp: Math.floor(Date.now() / 1000) - 3600 }, srv.secret) });
  assert.equal((await expired.next('error')).data.code, 'token_expired');
  assert.equal((await expired.closed).code, 1008);

  const early = new WsClient(wsUrl(srv));
  await early.opened;
  early.send('join_room', { roomId: 'r' });
  const e = await early.next('error');
  assertFields(e.data, { code: 'not_authenticated', event: 'join_room' });
  early.send('ping', null, { id: 1 });
  assert.equal((await early.nextWithId(1)).type, 'pong', 'ping works before auth');
  early.send('auth', { token: tokenOf(uid('late')) });
  await early.next('connected');
  early.send('auth', { token: tokenOf(uid('again')) });
  assert.equal((await early.next('error')).data.code, 'already_authenticated');
});

test('auth: ?token= is refused with a hint unless --allow-query-token', async () => {
  const c = new WsClient(wsUrl(srv, `?token=${tokenOf(uid('q'))}`));
  const err = await c.next('error');
  assert.equal(err.data.code, 'token_missing');
  assert.match(err.data.message, /--allow-query-token/);
  assert.equal((await c.closed).code, 1008);

  const open = await startServer('switchboard', { args: ['--allow-query-token'] });
  try {
    const sub = uid('q2');
    const q = new WsClient(`${open.url.replace(/^http/, 'ws')}/ws?token=${mintToken({ sub }, open.secret)}`);
    assertFields((await q.next('connected')).data, { userId: sub });
    q.close();
  } finally {
    await open.stop();
  }
});

test('auth: no token within --connect-timeout closes with 1008 "authentication timeout"', async () => {
  const c = new WsClient(wsUrl(srv));
  await c.opened;
  assert.deepEqual(await c.closed, { code: 1008, reason: 'authentication timeout' });
});

test('a plain GET on /ws answers 426 with a JSON error', async () => {
  const res = await new Promise((resolve, reject) => {
    http.get(`${srv.url}/ws`, (r) => {
      let body = '';
      r.on('data', (d) => { body += d; });
      r.on('end', () => resolve({ status: r.statusCode, body }));
    }).on('error', reject);
  });
  assert.equal(res.status, 426);
  assert.equal(JSON.parse(res.body).error.code, 'upgrade_required');
});

test('join_room / leave_room: answers, and the room is told on both doors', async () => {
  const room = uid('room');
  const sioId = uid('s'), wsId = uid('w');
  const { s } = await connectUser(srv, sioId);
  await ack(s, 'chat:join', room);
  const other = await wsUser(srv, tokenOf(uid('o')));
  other.send('join_room', room);
  assertFields((await other.next('room_joined')).data, { ok: true, roomId: room });

  const w = await wsUser(srv, tokenOf(wsId));
  const sioJoined = waitFor(s, 'chat:user_joined');
  const joined = await w.request('join_room', { roomId: room }, 11);
  assert.deepEqual(joined, { type: 'room_joined', id: 11, data: { ok: true, roomId: room } });
  assertFields(await sioJoined, { roomId: room, userId: wsId });
  const told = (await other.next('user_joined_room')).data;
  assertFields(told, { roomId: room, userId: wsId, name: `Name of ${wsId}`, user: { id: wsId, username: `Name of ${wsId}` } });
  assert.equal(typeof told.timestamp, 'number', 'seed 004\'s timestamp');

  const sioLeft = waitFor(s, 'chat:user_left');
  w.send('leave_room', { roomId: room });
  assertFields((await w.next('room_left')).data, { ok: true, roomId: room });
  assertFields(await sioLeft, { roomId: room, userId: wsId });
  assertFields((await other.next('user_left_room')).data, { roomId: room, userId: wsId, user: { id: wsId } });

  const notIn = await w.request('leave_room', { roomId: room }, 12);
  assert.equal(notIn.type, 'error');
  assertFields(notIn.data, { code: 'not_in_room', event: 'leave_room' });
  w.send('join_room', { roomId: 'conversation:not-mine' });
  assertFields((await w.next('error')).data, { event: 'join_room' });
});

test('messages cross between /ws and socket.io-client in every direction', async () => {
  const room = uid('mixed');
  const wa = await wsUser(srv, tokenOf(uid('wa'), 'Wendy'));
  const wb = await wsUser(srv, tokenOf(uid('wb')));
  const { s: sa } = await connectUser(srv, uid('sa'));
  const { s: sb } = await connectUser(srv, uid('sb'), { transports: ['polling'] });
  for (const c of [wa, wb]) {
    c.send('join_room', { roomId: room });
    await c.next('room_joined');
  }
  for (const s of [sa, sb]) await ack(s, 'chat:join', room);

  // /ws -> everyone (sender included), with the saved message as the ack.
  const atSa = waitFor(sa, 'chat:message'), atSb = waitFor(sb, 'chat:message');
  const saved = await wa.request('send_message', { roomId: room, content: 'from ws \u{1F600}' }, 21);
  assert.equal(saved.type, 'ack');
  assertFields(saved.data, { roomId: room, message: 'from ws \u{1F600}', type: 'text' });
  assertFields(saved.data.sender, { name: 'Wendy' });
  for (const got of [await atSa, await atSb]) assert.deepEqual(got, saved.data);
  for (const c of [wa, wb]) assert.deepEqual(ours((await c.next('new_message')).data), saved.data);
  // Socket.IO's recovery offset (sent before the ack to a Socket.IO sender)
  // means nothing to a /ws client, which cannot present one.
  assert.equal(wa.messages.filter((m) => m.type === 'recovery:offset').length, 0);

  // socket.io -> /ws
  const fromSio = await ack(sa, 'chat:message', { roomId: room, message: 'from sio' });
  for (const c of [wa, wb]) {
    assert.deepEqual(ours((await c.next('new_message', (d) => d.id === fromSio.id)).data), fromSio);
  }
  assert.deepEqual(await waitFor(sb, 'chat:message', 5000, (m) => m.id === fromSio.id), fromSio);
});

test('typing goes to the others on both doors, not back to the sender', async () => {
  const room = uid('typing');
  const wId = uid('w');
  const w = await wsUser(srv, tokenOf(wId));
  const { s } = await connectUser(srv, uid('s'));
  w.send('join_room', { roomId: room });
  await w.next('room_joined');
  await ack(s, 'chat:join', room);

  const sioSees = waitFor(s, 'chat:typing');
  w.send('typing', { roomId: room, isTyping: true });
  assertFields(await sioSees, { roomId: room, userId: wId, isTyping: true });
  s.emit('chat:typing', { roomId: room, isTyping: false });
  const typing = (await w.next('typing_status')).data;
  assertFields(typing, { roomId: room, isTyping: false, user: { id: typing.userId } });
  assert.equal(typeof typing.timestamp, 'number');
  w.send('ping', null, { id: 99 }); // a marker: nothing of its own typing came back before it
  await w.nextWithId(99);
  assert.equal(w.messages.filter((m) => m.type === 'typing_status').length, 0);
});

test('any other type is the Socket.IO event of that name; an id asks for its answer', async () => {
  const w = await wsUser(srv, tokenOf(uid('w')));
  const unknown = await w.request('no:such_event', { x: 1 }, 5);
  assertFields(unknown, { type: 'ack', id: 5 });
  assert.equal(unknown.data.error.code, 'unknown_event');
  const noAck = w.next('error');
  w.send('no:such_event', { x: 1 });
  assertFields((await noAck).data, { code: 'unknown_event', event: 'no:such_event' });
  const notes = await w.request('notification:list', {}, 6);
  assert.ok(Array.isArray(notes.data.notifications) || Array.isArray(notes.data), JSON.stringify(notes));
  const pong = await w.request('ping', null, 0);
  assert.equal(pong.type, 'pong');
  assert.ok(Math.abs(pong.data.timestamp - Date.now()) < 60000);
});

test('malformed messages get an error and the connection stays usable', async () => {
  const w = await wsUser(srv, tokenOf(uid('w')));
  const cases = [
    ['not json', 'invalid_json'],
    ['[1,2]', 'invalid_json'],
    ['"text"', 'invalid_json'],
    ['{"data":1}', 'invalid_message'],
    ['{"type":12}', 'invalid_message'],
    ['{"type":""}', 'invalid_message'],
    [JSON.stringify({ type: 'x'.repeat(200) }), 'invalid_message'],
    ['{"type":"ping","id":-1}', 'invalid_message'],
    ['{"type":"ping","id":1.5}', 'invalid_message'],
    ['{"type":"ping","id":"7"}', 'invalid_message'],
    [JSON.stringify({ type: 'ping', id: 2 ** 51 }), 'invalid_message'],
    ['{"type":"connect"}', 'invalid_message'],
    ['{"type":"disconnect","data":{}}', 'invalid_message'],
    [`{"type":"x","data":${'['.repeat(100)}${']'.repeat(100)}}`, 'invalid_json'],
  ];
  for (const [text, code] of cases) {
    w.raw(text);
    const e = await w.next('error');
    assert.equal(e.data.code, code, `${text.slice(0, 60)} -> ${JSON.stringify(e)}`);
  }
  w.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  const bin = await w.next('error');
  assert.equal(bin.data.code, 'invalid_message');
  assert.match(bin.data.message, /binary messages are not accepted: send JSON text/);
  w.send('join_room', 12345);
  assert.equal((await w.next('error')).data.event, 'join_room');
  w.send('send_message', { roomId: uid('nowhere'), content: 'x' }, { id: 8 });
  const notIn = await w.nextWithId(8);
  assert.ok(notIn.data.error, JSON.stringify(notIn));
  const pong = await w.request('ping', {}, 9);
  assert.equal(pong.type, 'pong', 'still usable after all of that');
});

test('a message over --max-http-buffer-size closes with 1009', async () => {
  const w = await wsUser(srv, tokenOf(uid('w')));
  w.send('send_message', { roomId: 'r', content: 'x'.repeat(1_100_000) });
  assert.equal((await w.closed).code, 1009);
});

test('rate limits apply as to Socket.IO sockets: rate_limited errors, a calm client unaffected', async () => {
  const room = uid('flood');
  const w = await wsUser(srv, tokenOf(uid('flood')));
  w.send('join_room', { roomId: room });
  await w.next('room_joined');
  const n = 60;
  for (let i = 0; i < n; i++) w.send('chat:history', { roomId: room, limit: 1 }, { id: 1000 + i });
  const answers = [];
  for (let i = 0; i < n; i++) answers.push(await w.nextWithId(1000 + i));
  const limited = answers.filter((a) => a.data && a.data.error && a.data.error.code === 'rate_limited');
  assert.ok(limited.length >= n - 30, `expected most of ${n} over the bucket to be limited, got ${limited.length}`);
  const calm = await wsUser(srv, tokenOf(uid('calm')));
  const ok = await calm.request('join_room', { roomId: room }, 1);
  assert.equal(ok.type, 'room_joined');
});

test('the server answers WebSocket pongs as heartbeats: an idle client stays past ping-interval + ping-timeout', async () => {
  const quick = await startServer('switchboard', { args: ['--ping-interval', '200', '--ping-timeout', '300'] });
  try {
    const c = new WsClient(`${quick.url.replace(/^http/, 'ws')}/ws`, { headers: { Authorization: `Bearer ${mintToken({ sub: 'hb' }, quick.secret)}` } });
    await c.next('connected');
    let pings = 0;
    c.ws.on('ping', () => { pings++; });
    await elapse(1200); // what passing time shows here is the heartbeat itself
    assert.ok(pings >= 2, `pings seen: ${pings}`);
    const pong = await c.request('ping', null, 1);
    assert.equal(pong.type, 'pong');

    // A client that stops answering pings (autoPong off) is dropped by the ping timeout.
    const mute = new WsClient(`${quick.url.replace(/^http/, 'ws')}/ws`, { autoPong: false, headers: { Authorization: `Bearer ${mintToken({ sub: 'mute' }, quick.secret)}` } });
    await mute.next('connected');
    const closed = await mute.closed;
    assert.equal(closed.code, 1000);
    assert.equal(closed.reason, 'ping timeout');
  } finally {
    await quick.stop();
  }
});

test('presence: a /ws user comes online and goes offline for socket.io users', async () => {
  const all = await startServer('switchboard', { args: ['--presence-scope', 'all'] });
  try {
    const wId = uid('pres');
    const { s } = await connectUser(all, uid('watcher'));
    const online = waitFor(s, 'user:online', 5000, (p) => p.userId === wId);
    const w = new WsClient(`${all.url.replace(/^http/, 'ws')}/ws`, { headers: { Authorization: `Bearer ${mintToken({ sub: wId }, all.secret)}` } });
    await w.next('connected');
    await online;
    const offline = waitFor(s, 'user:offline', 5000, (p) => p.userId === wId);
    w.close();
    await offline;
  } finally {
    await all.stop();
  }
});

test('seed 004: ?room= joins at connect; a /ws client that leaves sends user_disconnected to its rooms', async () => {
  const room = uid('seed');
  const sioId = uid('s'), otherId = uid('o'), wsId = uid('w');
  const { s } = await connectUser(srv, sioId);
  await ack(s, 'chat:join', room);
  const other = await wsUser(srv, tokenOf(otherId));
  other.send('join_room', { roomId: room });
  await other.next('room_joined');

  const sioJoined = waitFor(s, 'chat:user_joined', 5000, (p) => p.userId === wsId);
  const w = new WsClient(wsUrl(srv, `?room=${encodeURIComponent(room)}`), { headers: { Authorization: `Bearer ${tokenOf(wsId)}` } });
  await w.next('connected');
  assertFields((await w.next('room_joined')).data, { ok: true, roomId: room });
  await sioJoined;

  // A Socket.IO device leaving tells nobody in the room (its contract is unchanged) ...
  const s2Id = uid('s2');
  const { s: s2 } = await connectUser(srv, s2Id);
  await ack(s2, 'chat:join', room);
  s2.disconnect();
  await until(async () => {
    const r = await other.request('room_members', { roomId: room }, ++seq);
    return !r.data.members.some((m) => m.id === s2Id);
  }, 5000, 'the Socket.IO device gone from the room');
  // ... a /ws client does, to every door.
  const sioGone = waitFor(s, 'user_disconnected');
  w.close();
  const gone = await other.next('user_disconnected');
  assertFields(gone.data, { roomId: room, userId: wsId, name: `Name of ${wsId}`, user: { id: wsId, username: `Name of ${wsId}` } });
  assert.equal(typeof gone.data.timestamp, 'number');
  assertFields(await sioGone, { roomId: room, userId: wsId });
  assert.equal(other.messages.filter((m) => m.type === 'user_disconnected').length, 0, 'once, and only for the /ws client');

  const bad = new WsClient(wsUrl(srv, '?room=user%3Asomeone'), { headers: { Authorization: `Bearer ${tokenOf(uid('b'))}` } });
  await bad.next('connected');
  assertFields((await bad.next('error')).data, { code: 'forbidden_room', event: 'join_room' });
});

test('--ws-single-room: join_room leaves the room joined before (told to its members); a refused join leaves nothing', async () => {
  const own = await startServer('switchboard', { args: ['--ws-single-room'] });
  try {
    const a = uid('A'), b = uid('B'), wsId = uid('w');
    const { s } = await connectUser(own, uid('watch'));
    await ack(s, 'chat:join', a);
    await ack(s, 'chat:join', b);
    const w = new WsClient(`${own.url.replace(/^http/, 'ws')}/ws`, { headers: { Authorization: `Bearer ${mintToken({ sub: wsId }, own.secret)}` } });
    await w.next('connected');
    assertFields((await w.request('join_room', { roomId: a }, 1)).data, { ok: true, roomId: a });
    const leftA = waitFor(s, 'chat:user_left', 5000, (p) => p.roomId === a);
    assertFields((await w.request('join_room', { roomId: b }, 2)).data, { ok: true, roomId: b });
    assertFields((await w.next('room_left')).data, { ok: true, roomId: a });
    assertFields(await leftA, { roomId: a, userId: wsId });
    // Joining the room it is in leaves nothing; a refused join leaves nothing.
    assert.equal((await w.request('join_room', { roomId: b }, 3)).type, 'room_joined');
    assert.equal((await w.request('join_room', { roomId: 'user:nope' }, 4)).type, 'error');
    await ack(s, 'chat:message', { roomId: a, message: 'to A' });
    await ack(s, 'chat:message', { roomId: b, message: 'to B' });
    assertFields((await w.next('new_message')).data, { roomId: b, message: 'to B' });
    assert.equal(w.messages.filter((m) => m.type === 'room_left').length, 0);
  } finally {
    await own.stop();
  }
});

test('without --ws-single-room join_room keeps the other rooms (a socket may be in many)', async () => {
  const a = uid('A'), b = uid('B');
  const { s } = await connectUser(srv, uid('watch'));
  await ack(s, 'chat:join', a);
  const w = await wsUser(srv, tokenOf(uid('w')));
  assert.equal((await w.request('join_room', a, 1)).type, 'room_joined');
  assert.equal((await w.request('join_room', b, 2)).type, 'room_joined');
  await ack(s, 'chat:message', { roomId: a, message: 'still in A' });
  assertFields((await w.next('new_message')).data, { roomId: a, message: 'still in A' });
  assert.equal(w.messages.filter((m) => m.type === 'room_left').length, 0);
});

test('deliveries: message:received carries ackId; {"type":"ack","id"} confirms it, else it stays pending for the next connection', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const { s: a } = await connectUser(srv, alice);
  let w = await wsUser(srv, tokenOf(bob));
  const kept = await a.emitWithAck('message:send', { receiverId: bob, content: 'not confirmed' });
  const first = await w.next('message:received', (d) => d.id === kept.id);
  assert.equal(typeof first.ackId, 'number');
  w.close();
  // Not confirmed: the next connection of bob gets it again, and confirms it.
  w = await wsUser(srv, tokenOf(bob));
  const again = await w.next('message:received', (d) => d.id === kept.id);
  w.send('ack', null, { id: again.ackId });
  const confirmed = await a.emitWithAck('message:send', { receiverId: bob, content: 'confirmed' });
  const live = await w.next('message:received', (d) => d.id === confirmed.id);
  w.send('ack', null, { id: live.ackId });
  // The ping's answer comes after the server has read both acks (one session, in order).
  assert.equal((await w.request('ping', null, 5)).type, 'pong');
  w.close();
  w = await wsUser(srv, tokenOf(bob));
  const marker = await a.emitWithAck('message:send', { receiverId: bob, content: 'marker' });
  await w.next('message:received', (d) => d.id === marker.id);
  assert.deepEqual(w.messages.filter((m) => m.type === 'message:received').map((m) => m.data.id), [],
    'nothing confirmed came back before the marker');
  w.send('ack', {}, {});
  assertFields((await w.next('error')).data, { code: 'invalid_message', event: 'ack' });
});

test('shutdown closes /ws clients with 1001', async () => {
  const own = await startServer('switchboard');
  const c = new WsClient(`${own.url.replace(/^http/, 'ws')}/ws`, { headers: { Authorization: `Bearer ${mintToken({ sub: 'bye' }, own.secret)}` } });
  await c.next('connected');
  const stopped = own.stop();
  assert.equal((await c.closed).code, 1001);
  await stopped;
});
