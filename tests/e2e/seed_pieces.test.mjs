// The seeds' missing pieces (issue 13, item 3): /api/emit to one socket id,
// device_connected / device_disconnected to a user's other devices, and
// room_members, each end to end with socket.io-client and /ws users.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { test, ack, connectUser, mintToken, waitFor, record, assertFields, until } from './lib/util.mjs';
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
