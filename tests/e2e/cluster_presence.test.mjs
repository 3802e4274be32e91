// Presence as one truth for a cluster of Switchboard nodes over a real
// redis-server (docs/cluster.md, "Presence"): a user is online while a
// device is connected to any node and offline when the last one anywhere
// leaves; a node killed with SIGKILL has its users reported offline by the
// survivors (once) after --cluster-node-timeout; the dashboard stream lists
// every live node with its figures.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { adminSnapshot } from './lib/admin_stream.mjs';
import { startRedis } from './lib/redis.mjs';
import { metricsOf } from './lib/cluster.mjs';
import { startServer } from './lib/server.mjs';
import { ack, connectUser, disconnect, isRef, record, test, until, waitFor } from './lib/util.mjs';

const KEY = 'k';
const NODE_TIMEOUT_MS = 2000;
let redis, a, b;
let seq = 0;
const uid = (p) => `${p}-${process.pid}-${++seq}`;

const args = () => ['--redis-url', redis.url, '--api-key', KEY, '--events-per-second', '0',
  '--presence-scope', 'all', '--presence-interval', '20', '--cluster-node-timeout', String(NODE_TIMEOUT_MS)];

async function api(srv, path) {
  const r = await fetch(srv.url + path, { headers: { authorization: `Bearer ${KEY}` } });
  return { status: r.status, body: await r.json() };
}

const snapshot = (srv, pred, timeoutMs) => adminSnapshot(srv, KEY, pred, timeoutMs);
const registered = (srv, n) => snapshot(srv, (s) => s.nodes && s.nodes.list.length >= n, 15000);

/* Presence events for `user` seen by socket s, in order. */
function presenceOf(s, user) {
  const seen = [];
  s.on('user:online', (p) => { if (p.userId === user) seen.push(['online', p]); });
  s.on('user:offline', (p) => { if (p.userId === user) seen.push(['offline', p]); });
  s.on('presence:batch', (p) => {
    if (p.online.includes(user)) seen.push(['online', { userId: user }]);
    for (const o of p.offline) if (o.userId === user) seen.push(['offline', o]);
  });
  return seen;
}

before(async () => {
  if (isRef) return;
  redis = await startRedis();
  [a, b] = await Promise.all([startServer('switchboard', { args: args() }),
    startServer('switchboard', { args: args() })]);
  await Promise.all([registered(a, 2), registered(b, 2)]);
});

after(async () => {
  if (isRef) return;
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
});

test('a user on one node sees a user of the other node come online and go offline', async () => {
  const ana = uid('ana');
  const ben = uid('ben');
  const { s: sa } = await connectUser(a, ana);
  const seen = presenceOf(sa, ben);
  // b hears of ana through Redis, on its own time.
  await until(async () => (await api(b, `/api/users/${ana}/presence`)).body.online, 5000, 'node b knows ana is online');
  const { s: sb, est } = await connectUser(b, ben);
  assert.ok(est.onlineUsers.includes(ana), `ben's list has ana of the other node: ${JSON.stringify(est.onlineUsers)}`);
  await until(() => seen.length === 1, 5000, 'ana hears ben online');
  assert.equal(seen[0][0], 'online');
  assert.equal((await api(a, `/api/users/${ben}/presence`)).body.online, true, 'node a knows ben is online');
  await disconnect(sb);
  await until(() => seen.length === 2, 5000, 'ana hears ben offline');
  assert.equal(seen[1][0], 'offline');
  assert.ok(Date.now() - Date.parse(seen[1][1].lastSeen) < 60000, JSON.stringify(seen[1][1]));
  await until(async () => (await api(a, `/api/users/${ben}/presence`)).body.online === false, 5000,
    'node a knows ben is offline');
});

test('two devices on two nodes: online once, offline only when both have left', async () => {
  const ana = uid('ana');
  const multi = uid('multi');
  const { s: sa } = await connectUser(a, ana);
  const seen = presenceOf(sa, multi);
  const { s: d1 } = await connectUser(a, multi);
  const { s: d2 } = await connectUser(b, multi);
  await until(() => seen.length >= 1, 5000, 'online once');
  await disconnect(d1);
  // A marker after it: a user online from node b, announced through the
  // same Redis channel after d1's departure was counted.
  const marker = uid('marker');
  const markerSeen = presenceOf(sa, marker);
  await connectUser(b, marker);
  await until(() => markerSeen.length === 1, 5000, 'marker online');
  assert.deepEqual(seen.map((x) => x[0]), ['online'], 'one device left, the other remains: still online');
  assert.equal((await api(a, `/api/users/${multi}/presence`)).body.online, true);
  await disconnect(d2);
  await until(() => seen.length === 2, 5000, 'offline when the last device anywhere left');
  assert.deepEqual(seen.map((x) => x[0]), ['online', 'offline']);
});

test('SIGKILL: a dead node\'s users go offline for the others once, within the node timeout', async (t) => {
  const c = await startServer('switchboard', { args: args() });
  const ana = uid('ana');
  const ben = uid('ben');
  const victim = uid('victim');
  const multi = uid('multi'); // also on node a: stays online
  const { s: sa } = await connectUser(a, ana);
  const { s: sb } = await connectUser(b, ben);
  const seenA = presenceOf(sa, victim);
  const seenB = presenceOf(sb, victim);
  const multiSeen = presenceOf(sb, multi);
  await connectUser(c, victim);
  await connectUser(c, multi);
  await connectUser(a, multi);
  await until(() => seenA.length === 1 && seenB.length === 1 && multiSeen.length === 1, 5000, 'online everywhere');
  await registered(a, 3);
  // Survivors lose nothing acknowledged: a room shared across a and b.
  await ack(sa, 'chat:join', 'kill-room');
  await ack(sb, 'chat:join', 'kill-room');
  const got = record(sb, 'chat:message');
  const sent = [];
  const deadBefore = (await metricsOf(a, KEY)).cluster_dead_nodes_total + (await metricsOf(b, KEY)).cluster_dead_nodes_total;
  const killedAt = Date.now();
  c.proc.kill('SIGKILL');
  for (let i = 0; i < 20; i++) {
    const r = await ack(sa, 'chat:message', { roomId: 'kill-room', message: `m${i}` });
    assert.ok(!r?.error, JSON.stringify(r));
    sent.push(`m${i}`);
  }
  await until(() => seenA.length === 2 && seenB.length === 2, NODE_TIMEOUT_MS * 5 + 5000, 'victim offline on a and b');
  const tookMs = Date.now() - killedAt;
  t.diagnostic(`offline ${tookMs} ms after SIGKILL (node timeout ${NODE_TIMEOUT_MS} ms)`);
  assert.equal(seenA[1][0], 'offline');
  assert.ok(Date.parse(seenA[1][1].lastSeen) <= killedAt + 1000, `lastSeen is the last heartbeat: ${seenA[1][1].lastSeen}`);
  await until(() => got.length === sent.length, 5000, 'every acknowledged message reached the other survivor');
  assert.deepEqual(got.map((m) => m[0].message), sent);
  // Cleaned once: one more heartbeat round announces nothing twice, and
  // multi, still connected to node a, never went offline.
  await registered(a, 2).then(() => registered(b, 2));
  const marker = uid('marker');
  const markerSeen = presenceOf(sb, marker);
  await connectUser(a, marker);
  await until(() => markerSeen.length === 1, 5000, 'marker');
  assert.equal(seenA.length, 2);
  assert.equal(seenB.length, 2);
  assert.deepEqual(multiSeen.map((x) => x[0]), ['online'], 'multi still has a device on node a');
  // One survivor cleaned it, and /metrics says so.
  const deadAfter = (await metricsOf(a, KEY)).cluster_dead_nodes_total + (await metricsOf(b, KEY)).cluster_dead_nodes_total;
  assert.equal(deadAfter - deadBefore, 1, 'one dead node, counted by the survivor that cleaned it');
  await c.stop(); // reaps it
}, { timeout: 40000 });

test('a node stopped on purpose takes its users offline at once', async () => {
  const c = await startServer('switchboard', { args: args() });
  const ana = uid('ana');
  const leaver = uid('leaver');
  const { s: sa } = await connectUser(a, ana);
  const seen = presenceOf(sa, leaver);
  await connectUser(c, leaver);
  await until(() => seen.length === 1, 5000, 'online');
  await c.stop();
  await until(() => seen.length === 2, NODE_TIMEOUT_MS, 'offline before the node timeout');
  assert.equal(seen[1][0], 'offline');
});

test('the dashboard stream lists every live node with its figures', async () => {
  const u1 = uid('fig');
  const u2 = uid('fig');
  await connectUser(a, u1);
  await connectUser(b, u2, { transports: ['polling'] });
  // A node's figures are as of its last heartbeat, and u2's polling session
  // may be counted in one before its user is: wait for both.
  const s = await snapshot(a, (x) => {
    const nb = x.nodes?.list.find((n) => !n.self);
    return nb && nb.figures.connections.polling >= 1 && nb.figures.users >= 1;
  });
  assert.equal(s.nodes.list.length, 2, JSON.stringify(s.nodes.list));
  const self = s.nodes.list.find((n) => n.self);
  const other = s.nodes.list.find((n) => !n.self);
  assert.equal(self.id, s.nodes.self);
  assert.match(other.id, /^[A-Za-z0-9]{6}$/);
  for (const n of [self, other]) {
    for (const k of ['sockets', 'users', 'eventsIn', 'eventsOut', 'inPerSec', 'outPerSec', 'storeQueue']) {
      assert.equal(typeof n.figures[k], 'number', `${k} in ${JSON.stringify(n)}`);
    }
    assert.ok(n.heartbeatAgeMs >= 0 && n.heartbeatAgeMs < NODE_TIMEOUT_MS, JSON.stringify(n));
  }
  assert.ok(self.figures.users >= 1 && other.figures.users >= 1);
  assert.ok(other.figures.connections.total >= 1);
  const fromB = await snapshot(b, (x) => x.nodes?.list.length === 2);
  assert.equal(fromB.nodes.list.find((n) => n.self).id, other.id, 'b lists itself as self');
  // /api/stats: this node's figures, and the cluster's summed from the heartbeats.
  const stats = (await api(a, '/api/stats')).body;
  assert.equal(stats.cluster.nodes, 2, JSON.stringify(stats));
  assert.ok(stats.cluster.connectedUsers >= 2 && stats.cluster.connectedUsers >= stats.connectedUsers, JSON.stringify(stats));
  assert.ok(stats.cluster.sockets > stats.sockets, `u2's socket on b counts: ${JSON.stringify(stats)}`);
  assert.ok(stats.cluster.connections > stats.connections, JSON.stringify(stats));
});

test('Redis restarted empty: the nodes register their users again and presence goes on', async () => {
  const ana = uid('ana');
  const ben = uid('ben');
  const { s: sa } = await connectUser(a, ana);
  const { s: sb } = await connectUser(b, ben);
  const seen = presenceOf(sa, ben);
  const gone = uid('gone');
  const goneSeen = presenceOf(sa, gone);
  const { s: sg } = await connectUser(b, gone);
  await until(async () => (await api(a, `/api/users/${ben}/presence`)).body.online && goneSeen.length === 1, 5000,
    'ben and gone online for a');
  await redis.stop();
  const health = async (srv) => (await (await fetch(`${srv.url}/health`)).json()).redis;
  await until(async () => (await health(a)) === 'down' && (await health(b)) === 'down', 10000, 'both saw Redis go');
  await disconnect(sg); // nobody on node a can hear of it now
  await redis.start(); // no persistence: every key is gone
  await Promise.all([registered(a, 2), registered(b, 2)]);
  await until(async () => (await api(a, `/api/users/${ben}/presence`)).body.online, 15000,
    'ben online for a again, from what b registered');
  await until(() => goneSeen.length >= 2, 15000, 'gone, who left during the outage, is announced offline after it');
  assert.equal(goneSeen.at(-1)[0], 'offline');
  const before = seen.length;
  await disconnect(sb);
  await until(() => seen.length > before && seen.at(-1)[0] === 'offline', 15000, 'ana hears ben offline after the restart');
}, { timeout: 70000 });

/* Complete RESP values at the start of buf (RESP2: what hiredis speaks). */
function respCount(buf) {
  let at = 0;
  const line = () => {
    const end = buf.indexOf('\r\n', at);
    if (end < 0) return null;
    const s = buf.toString('latin1', at + 1, end);
    at = end + 2;
    return s;
  };
  const value = () => {
    if (at >= buf.length) return false;
    const type = String.fromCharCode(buf[at]);
    const head = line();
    if (head === null) return false;
    if (type === '$') {
      const n = Number(head);
      if (n < 0) return true;
      if (at + n + 2 > buf.length) return false;
      at += n + 2;
      return true;
    }
    if (type === '*') {
      for (let i = 0; i < Number(head); i++) if (!value()) return false;
    }
    return true;
  };
  let n = 0;
  for (;;) {
    const start = at;
    if (!value()) { at = start; return n; }
    n++;
  }
}

/* A TCP proxy to Redis that holds back Redis's answers on the connection
 * that asks HKEYS (a node's "who is online"), from that HKEYS on, until
 * release(). answered() is true once Redis has answered it (it ran). */
async function hkeysHoldingProxy(port) {
  const socks = new Set();
  let held = null; // { client, commands, got, chunks }
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    socks.add(client).add(upstream);
    const conn = { client, sent: Buffer.alloc(0), got: Buffer.alloc(0), chunks: null };
    client.on('data', (d) => {
      if (!held) {
        conn.sent = Buffer.concat([conn.sent, d]);
        if (d.includes('HKEYS')) {
          conn.commands = respCount(conn.sent);
          conn.chunks = [];
          held = conn;
        }
      }
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!held || held === conn) conn.got = Buffer.concat([conn.got, d]); // answers, counted
      if (conn.chunks) conn.chunks.push(d);
      else client.write(d);
    });
    for (const s of [client, upstream]) {
      s.on('error', () => {});
      s.on('close', () => { client.destroy(); upstream.destroy(); });
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `redis://127.0.0.1:${server.address().port}`,
    answered: () => !!held && respCount(held.got) >= held.commands,
    release() {
      if (!held?.chunks) return;
      for (const c of held.chunks) held.client.write(c);
      held.chunks = null;
    },
    async close() {
      for (const s of socks) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

test('a change heard before the answer to "who is online" stays: the older answer does not undo it', async () => {
  // The channel and the answer come on two connections: a node may read a
  // change Redis made after answering before it reads the answer.
  const proxy = await hkeysHoldingProxy(redis.port);
  let c;
  try {
    const known = uid('known'); // online before c asks: in the answer
    await connectUser(b, known);
    await until(async () => (await api(a, `/api/users/${known}/presence`)).body.online, 5000, 'known online');
    c = await startServer('switchboard', { args: args().map((x) => (x === redis.url ? proxy.url : x)) });
    await until(() => proxy.answered(), 10000, 'Redis answered c who is online (the answer held)');
    const { s: sw } = await connectUser(c, uid('watcher'));
    const late = uid('late'); // online after that answer
    const lateSeen = presenceOf(sw, late);
    const knownSeen = presenceOf(sw, known);
    await connectUser(b, late);
    await until(() => lateSeen.length === 1, 5000, 'c hears late online on the channel');
    proxy.release();
    await until(() => knownSeen.length === 1, 5000, 'c applied the answer (known comes online for it)');
    assert.equal((await api(c, `/api/users/${late}/presence`)).body.online, true, 'late still online for c');
    assert.deepEqual(lateSeen.map((x) => x[0]), ['online'], 'late never announced offline');
  } finally {
    proxy.release();
    await c?.stop();
    await proxy.close();
  }
}, { timeout: 30000 });
