// --presence-scope friends: user:online / user:offline reach online friends
// only, and connection:established lists online friends only.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { test, isRef, connectUser, waitFor, record } from './lib/util.mjs';

const skip = isRef ? 'C-only: friends live in the store' : false;
let srv;
before(async () => { if (!isRef) srv = await startServer('switchboard', { args: ['--presence-scope', 'friends'] }); });
after(async () => { if (srv) await srv.stop(); });

const uid = (p) => `${p}-${Math.random().toString(36).slice(2, 8)}`;

test('friends see each other come and go; strangers see nothing', async () => {
  const alice = uid('alice'), bob = uid('bob'), carol = uid('carol');
  const a = await connectUser(srv, alice);
  const c = await connectUser(srv, carol);
  assert.deepEqual(a.est.onlineUsers, [], 'no friends yet');
  let b = await connectUser(srv, bob);
  const { requestId } = await b.s.emitWithAck('friend:request', { toUserId: alice });
  assert.equal((await a.s.emitWithAck('friend:accept', { requestId })).ok, true);
  b.s.disconnect();
  await waitFor(a.s, 'user:offline'); // bob's last device left, and they are friends now
  const carolSaw = record(c.s, 'user:online');
  const online = waitFor(a.s, 'user:online');
  b = await connectUser(srv, bob);
  assert.deepEqual(await online, { userId: bob });
  assert.deepEqual(b.est.onlineUsers, [alice], 'only online friends are listed');
  assert.equal(b.est.onlineCount, 1);
  const offline = waitFor(a.s, 'user:offline');
  b.s.disconnect();
  const off = await offline;
  assert.equal(off.userId, bob);
  assert.ok(Math.abs(Date.parse(off.lastSeen) - Date.now()) < 60000);
  await c.s.emitWithAck('chat:join', uid('barrier'));
  assert.deepEqual(carolSaw, [], 'carol is not a friend');
}, { skip });
