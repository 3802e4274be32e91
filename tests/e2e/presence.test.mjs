// Section C: connection:established and presence (user:online / user:offline)
// with several devices per user.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import {
  test, ack, connectUser, waitFor, record, disconnect, elapse, isRecentTimestamp, assertFields,
} from './lib/util.mjs';

let srv;
// Scope all (the default is friends): every user hears of every other,
// batched per --presence-interval.
before(async () => { srv = await startServer('switchboard', { args: ['--presence-scope', 'all'] }); });
after(async () => { if (srv) await srv.stop(); });

let seq = 0;
const uid = (p) => `${p}-${process.pid}-${++seq}`;

test('connection:established lists the user and the others online', async () => {
  const a = uid('a');
  const b = uid('b');
  const { est: estA } = await connectUser(srv, a);
  assert.equal(estA.userId, a);
  assert.ok(Array.isArray(estA.onlineUsers));
  assert.ok(estA.onlineUsers.includes(a), 'onlineUsers includes itself');
  assert.ok(!estA.onlineUsers.includes(b));
  const { est: estB } = await connectUser(srv, b, { transports: ['polling'] });
  assert.equal(estB.userId, b);
  assert.ok(estB.onlineUsers.includes(a) && estB.onlineUsers.includes(b), JSON.stringify(estB.onlineUsers));
  assert.equal(new Set(estB.onlineUsers).size, estB.onlineUsers.length, 'no duplicates');
  // A second device of b: b is listed once.
  const { est: estB2 } = await connectUser(srv, b);
  assert.equal(estB2.onlineUsers.filter((x) => x === b).length, 1);
});

test('presence: online once per user, offline only when the last device leaves', async () => {
  const a = uid('watcher');
  const b = uid('multi');
  const room = uid('room');
  const { s: sa } = await connectUser(srv, a);
  await ack(sa, 'chat:join', room);
  const onlines = record(sa, 'user:online');
  const offlines = record(sa, 'user:offline');
  const forB = (list) => list.filter(([p]) => p && p.userId === b);

  const becameOnline = waitFor(sa, 'user:online', 5000, (p) => p.userId === b);
  const { s: b1 } = await connectUser(srv, b);
  assertFields(await becameOnline, { userId: b });

  // Second device: its chat:join reaches A after any user:online it caused.
  const { s: b2 } = await connectUser(srv, b, { transports: ['polling'] });
  const joined = waitFor(sa, 'chat:user_joined', 5000, (p) => p.userId === b);
  assert.deepEqual(await ack(b2, 'chat:join', room), { ok: true, roomId: room });
  await joined;
  assert.equal(forB(onlines).length, 1, 'no second user:online for a second device');

  // First device leaves: b is still online.
  await disconnect(b1);
  await elapse(300); // absence of an event: give a wrong user:offline time to show
  await ack(sa, 'chat:join', room);
  assert.equal(forB(offlines).length, 0, 'no user:offline while a device remains');

  // Last device leaves.
  const wentOffline = waitFor(sa, 'user:offline', 5000, (p) => p.userId === b);
  await disconnect(b2);
  const off = await wentOffline;
  assert.equal(off.userId, b);
  assert.ok(isRecentTimestamp(off.lastSeen), `lastSeen ${JSON.stringify(off.lastSeen)} is a recent ISO 8601 string or ms number`);
  assert.equal(forB(offlines).length, 1);

  // b comes back: online again.
  const again = waitFor(sa, 'user:online', 5000, (p) => p.userId === b);
  await connectUser(srv, b);
  assertFields(await again, { userId: b });
});

test('presence across transports: a polling user seen by a websocket user', async () => {
  const a = uid('ws');
  const b = uid('poll');
  const { s: sa } = await connectUser(srv, a);
  const on = waitFor(sa, 'user:online', 5000, (p) => p.userId === b);
  const { s: sb } = await connectUser(srv, b, { transports: ['polling'] });
  await on;
  const off = waitFor(sa, 'user:offline', 5000, (p) => p.userId === b);
  sb.disconnect();
  assert.equal((await off).userId, b);
});

test('abrupt transport loss counts as leaving', async () => {
  const a = uid('obs');
  const b = uid('crash');
  const { s: sa } = await connectUser(srv, a);
  const { s: sb } = await connectUser(srv, b);
  const off = waitFor(sa, 'user:offline', 5000, (p) => p.userId === b);
  sb.io.engine.transport.ws.terminate(); // TCP reset, no disconnect packet
  assert.equal((await off).userId, b);
});
