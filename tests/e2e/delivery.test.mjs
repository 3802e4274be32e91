// Delivery guarantees (docs/events.md): a message the server acknowledged is
// pending for every recipient user until a device confirms it (acks
// message:received), whatever the size of the group and whenever devices
// connect or disconnect; and each device gets it at most once.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, NO_EVENT_LIMIT } from './lib/server.mjs';
import { test, isRef, connectUser, until, client, mintToken } from './lib/util.mjs';

const skip = isRef ? 'C-only: the reference server has no storage' : false;
let srv;
before(async () => { if (!isRef) srv = await startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--api-key', 'k'] }); });
after(async () => { if (srv) await srv.stop(); });

const uid = (p) => `${p}-${Math.random().toString(36).slice(2, 8)}`;

async function createGroup(memberIds) {
  const res = await fetch(`${srv.url}/api/conversations`, {
    method: 'POST', headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
    body: JSON.stringify({ memberIds }),
  });
  assert.equal(res.status, 201);
  return (await res.json()).id;
}

/** A device of `user` not yet connected, counting every message:received by
 *  id; it confirms each one unless `confirm` is false. */
function device(user, { confirm = true, transports = ['websocket'] } = {}) {
  const s = client(srv.url, { transports, autoConnect: false,
    auth: { token: mintToken({ sub: user }, srv.secret) } });
  const seen = new Map();
  s.on('message:received', (m, ack) => {
    seen.set(m.id, (seen.get(m.id) || 0) + 1);
    if (confirm && typeof ack === 'function') ack();
  });
  return { s, seen, user };
}

function connected(s) {
  if (s.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
    s.connect();
  });
}

function gone(s) {
  if (!s.connected) return Promise.resolve();
  return new Promise((resolve) => { s.once('disconnect', () => resolve()); s.disconnect(); });
}

test('a 70-member group whose members are all offline: every member gets the message on connect', async () => {
  const sender = uid('owner');
  const members = Array.from({ length: 70 }, (_, i) => uid(`m${i}`));
  const conv = await createGroup([sender, ...members]);
  const { s } = await connectUser(srv, sender);
  const ack = await s.emitWithAck('message:send', { conversationId: conv, content: 'to all 70' });
  assert.ok(!ack.error, JSON.stringify(ack));
  const devices = members.map((m) => device(m));
  for (let i = 0; i < devices.length; i += 10) {
    await Promise.all(devices.slice(i, i + 10).map((d) => connected(d.s)));
  }
  await until(() => devices.every((d) => d.seen.get(ack.id) === 1), 10000, 'every member got it');
  assert.deepEqual(devices.filter((d) => d.seen.size !== 1).map((d) => d.user), []);
}, { skip, timeout: 30000 });

test('a device that connects and never confirms, then drops: the next device gets everything', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const { s: a } = await connectUser(srv, alice);
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await a.emitWithAck('message:send', { receiverId: bob, content: `m${i}` })).id);
  const lazy = device(bob, { confirm: false });
  await connected(lazy.s);
  await until(() => lazy.seen.size === 5, 5000, 'the lazy device read its backlog');
  // A live one too, written to the lazy device and never confirmed.
  ids.push((await a.emitWithAck('message:send', { receiverId: bob, content: 'live' })).id);
  await until(() => lazy.seen.size === 6, 5000, 'the live message');
  lazy.s.io.engine.close(); // the transport drops
  await until(() => !lazy.s.connected, 5000, 'the drop');
  const next = device(bob);
  await connected(next.s);
  await until(() => next.seen.size === 6, 5000, 'the next device got everything');
  assert.deepEqual([...next.seen.keys()], ids, 'in order');
  // Confirmed now: a third device gets nothing.
  await gone(next.s);
  const third = device(bob);
  await connected(third.s);
  await third.s.emitWithAck('notification:list', {});
  await third.s.emitWithAck('notification:list', {});
  assert.equal(third.seen.size, 0);
}, { skip });

test('notifications too: a device that never confirms leaves them to the next device', async () => {
  const bob = uid('bob');
  const post = async (title) => {
    const res = await fetch(`${srv.url}/api/notifications`, {
      method: 'POST', headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify({ userId: bob, type: 't', title, message: '' }),
    });
    assert.equal(res.status, 201);
    return (await res.json()).notification.id;
  };
  const ids = [await post('offline')];
  const lazy = client(srv.url, { transports: ['websocket'], autoConnect: false, reconnection: false,
    auth: { token: mintToken({ sub: bob }, srv.secret) } });
  const lazySeen = [];
  lazy.on('notification:new', (n) => lazySeen.push(n.id));
  await connected(lazy);
  ids.push(await post('live'));
  await until(() => lazySeen.length === 2, 5000, 'backlog and live');
  lazy.io.engine.close();
  await until(() => !lazy.connected, 5000, 'the drop');
  const next = client(srv.url, { transports: ['websocket'], autoConnect: false, reconnection: false,
    auth: { token: mintToken({ sub: bob }, srv.secret) } });
  const seen = [];
  next.on('notification:new', (n, confirm) => { seen.push(n.id); confirm(); });
  await connected(next);
  await until(() => seen.length === 2, 5000, 'everything, on the next device');
  assert.deepEqual(seen, ids);
}, { skip });

/* One sender, one receiving device per pair; each round the sender pipelines
 * `burst` messages while the receiver disconnects (mode 'disconnect': a
 * Socket.IO DISCONNECT or a dropped transport) or connects (mode 'connect')
 * somewhere inside the burst. The device must end up with every acknowledged
 * message exactly once. Half the pairs poll: a polling client that
 * disconnects may lose its last acknowledgements in flight (its final POST
 * races the close); its reconnect recovers the session, and the offset it
 * sends confirms what it had received. */
async function raceRounds(mode, pairs, rounds, burst) {
  let lost = 0, dups = 0, acked = 0;
  async function pair(p) {
    const alice = uid(`ra${p}`), bob = uid(`rb${p}`);
    const { s: a } = await connectUser(srv, alice);
    const rx = device(bob, { transports: p % 2 ? ['polling'] : ['websocket'] });
    if (mode === 'disconnect') await connected(rx.s);
    const expected = [];
    for (let r = 0; r < rounds; r++) {
      const at = Math.floor(Math.random() * burst);
      const sends = [];
      let flip = null;
      for (let i = 0; i < burst; i++) {
        sends.push(a.emitWithAck('message:send', { receiverId: bob, content: `r${r}i${i}` }));
        if (i === at) {
          flip = mode === 'disconnect'
            ? (r % 2 ? gone(rx.s) : dropTransport(rx.s)).then(() => connected(rx.s))
            : connected(rx.s);
        }
      }
      for (const res of await Promise.all(sends)) {
        assert.ok(!res.error, JSON.stringify(res));
        expected.push(res.id);
      }
      await flip;
      if (mode === 'connect' && r < rounds - 1) {
        await until(() => expected.every((id) => rx.seen.has(id)), 5000, 'the round').catch(() => {});
        await gone(rx.s);
      }
    }
    await until(() => expected.every((id) => rx.seen.has(id)), 8000, 'every message').catch(() => {});
    await a.emitWithAck('notification:list', {}); // a round trip: late duplicates would be here
    acked += expected.length;
    lost += expected.filter((id) => !rx.seen.has(id)).length;
    dups += [...rx.seen.values()].filter((n) => n > 1).length;
  }
  await Promise.all(Array.from({ length: pairs }, (_, p) => pair(p)));
  return { acked, lost, dups };
}

function dropTransport(s) {
  return new Promise((resolve) => {
    s.once('disconnect', () => resolve());
    s.io.engine.close();
  });
}

test('disconnect during the commit, 200 rounds: nothing lost, nothing twice', async (t) => {
  const r = await raceRounds('disconnect', 10, 20, 12);
  t.diagnostic(`disconnect race: ${JSON.stringify(r)}`);
  assert.deepEqual({ lost: r.lost, dups: r.dups }, { lost: 0, dups: 0 });
  assert.equal(r.acked, 10 * 20 * 12);
}, { skip, timeout: 60000 });

test('connect during the commit, 200 rounds: nothing lost, nothing twice', async (t) => {
  const r = await raceRounds('connect', 10, 20, 12);
  t.diagnostic(`connect race: ${JSON.stringify(r)}`);
  assert.deepEqual({ lost: r.lost, dups: r.dups }, { lost: 0, dups: 0 });
  assert.equal(r.acked, 10 * 20 * 12);
}, { skip, timeout: 60000 });

/* --delivery-ack-timeout: a device's confirmation that comes after it is
 * ignored (the message stays pending for the user's next device); one that
 * comes before it counts. The late confirmation is sent a full second after
 * the event reached the device, so the server's 300 ms have passed whatever
 * the load; the one in time is sent at once. */
async function lateConfirmation(server, delayMs) {
  const alice = uid('alice'), bob = uid('bob');
  const a = client(server.url, { transports: ['websocket'], auth: { token: mintToken({ sub: alice }, server.secret) } });
  await connected(a);
  const first = await a.emitWithAck('message:send', { receiverId: bob, content: 'confirmed late' });
  assert.ok(!first.error, JSON.stringify(first));
  const slow = client(server.url, { transports: ['websocket'], autoConnect: false, reconnection: false,
    auth: { token: mintToken({ sub: bob }, server.secret) } });
  const got = new Promise((resolve) => slow.on('message:received', (m, confirm) => resolve([m, confirm])));
  await connected(slow);
  const [m, confirm] = await got;
  assert.equal(m.id, first.id);
  await new Promise((r) => setTimeout(r, delayMs));
  confirm();
  await slow.emitWithAck('notification:list', {}); // the confirmation has been read (and queued)
  slow.disconnect();
  const next = client(server.url, { transports: ['websocket'], autoConnect: false, reconnection: false,
    auth: { token: mintToken({ sub: bob }, server.secret) } });
  const seen = [];
  next.on('message:received', (x, ok) => { seen.push(x.id); ok(); });
  await connected(next);
  // A message sent now arrives after anything still pending (the backlog comes first).
  const second = await a.emitWithAck('message:send', { receiverId: bob, content: 'later' });
  await until(() => seen.includes(second.id), 5000, 'the later message');
  a.disconnect();
  next.disconnect();
  return { seen, first: first.id, second: second.id };
}

test('--delivery-ack-timeout: a confirmation later than it is ignored, the next device gets the message', async () => {
  const short = await startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--delivery-ack-timeout', '300'] });
  try {
    const r = await lateConfirmation(short, 1000);
    assert.deepEqual(r.seen, [r.first, r.second], 'still pending after the late confirmation');
  } finally {
    await short.stop();
  }
}, { skip, timeout: 20000 });

test('--delivery-ack-timeout: by default a confirmation a second late still counts', async () => {
  const r = await lateConfirmation(srv, 1000);
  assert.deepEqual(r.seen, [r.second], 'confirmed: not offered again');
}, { skip, timeout: 20000 });
