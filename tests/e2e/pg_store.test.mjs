// The PostgreSQL store (--database-url) with a cluster of its own: the
// database stopped mid-traffic and started again, and two servers sharing
// one database. (The rest of the suite runs against PostgreSQL too, with
// SB_E2E_PG_URL: see tests/run.sh.)
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { startServer, NO_EVENT_LIMIT } from './lib/server.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { test, isRef, connectUser, until, record, client, mintToken } from './lib/util.mjs';

const skip = isRef ? 'C-only: the reference server has no storage' : false;
let pg;
before(async () => { if (!isRef) pg = await startPostgres(); });
after(async () => { if (pg) await pg.destroy(); });

const uid = (p) => `${p}-${Math.random().toString(36).slice(2, 8)}`;
const health = async (srv) => {
  const res = await fetch(`${srv.url}/health`);
  return { status: res.status, body: await res.json() };
};
const start = (extra = []) =>
  startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--database-url', pg.url, ...extra] });

test('PostgreSQL stopped mid-traffic: store_unavailable within the wait, never an ack; started again: the server resumes by itself', async () => {
  const srv = await start();
  try {
    const alice = uid('alice'), bob = uid('bob');
    const a = (await connectUser(srv, alice)).s;
    const first = await a.emitWithAck('message:send', { receiverId: bob, content: 'before' });
    assert.ok(!first.error, JSON.stringify(first));
    assert.equal((await health(srv)).status, 200);

    await pg.stop();
    const t0 = Date.now();
    const down = await a.timeout(15000).emitWithAck('message:send', { receiverId: bob, content: 'while down' });
    assert.equal(down.error && down.error.code, 'store_unavailable', JSON.stringify(down));
    assert.ok(Date.now() - t0 < 12000, 'bounded by the store wait (5 s), not by the outage');
    const h = await health(srv);
    assert.equal(h.status, 503);
    assert.equal(h.body.store, 'failing');
    assert.match(h.body.storeError, /PostgreSQL unavailable/);

    await pg.start();
    let again = null;
    await until(async () => {
      again = await a.timeout(15000).emitWithAck('message:send', { receiverId: bob, content: 'after' });
      return !again.error;
    }, 30000, 'a send succeeds once PostgreSQL is back');
    await until(async () => (await health(srv)).status === 200, 10000, '/health back to 200');
    const hist = await a.emitWithAck('message:history', { conversationId: first.conversationId });
    const contents = hist.messages.map((m) => m.content);
    assert.ok(contents.includes('before') && contents.includes('after'), JSON.stringify(contents));
    assert.ok(!contents.includes('while down'), 'nothing unacknowledged was stored');
  } finally {
    await srv.stop();
  }
}, { skip, timeout: 90000 });

// The twin of storage_faults' "storage 6" (a full disk under SQLite): the
// database refuses writes (INSERT on messages revoked, as a database out of
// space or turned read-only would) while it still answers reads.
test('PostgreSQL refusing writes: storage_error for them, /health 503 failing, a few log lines, an offline user still gets the backlog; allowed again: writes commit, /health 200', async () => {
  const srv = await start();
  const sql = (text) => execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', pg.url, '-c', text]);
  try {
    const alice = uid('alice'), bob = uid('bob');
    const a = (await connectUser(srv, alice)).s;
    const backlog = [];
    for (const content of ['while you were away 1', 'while you were away 2']) {
      const m = await a.emitWithAck('message:send', { receiverId: bob, content });
      assert.ok(!m.error, JSON.stringify(m));
      backlog.push(m);
    }
    sql('REVOKE INSERT ON messages FROM CURRENT_USER');
    const logBefore = srv.stderr().length;
    const refused = await Promise.all(Array.from({ length: 20 }, () =>
      a.emitWithAck('message:send', { receiverId: bob, content: 'refused' })));
    assert.deepEqual([...new Set(refused.map((r) => r.error && r.error.code))], ['storage_error']);
    // Two kinds of line (at most 5 each every 10 s; these two share a slot
    // of the limiter, so at most 5 together), not one per failure. The log
    // comes on another pipe than the answers: waited for, not assumed in.
    const lines = () => srv.stderr().slice(logBefore).split('\n')
      .filter((l) => /store: message_append failed|postgresql error 42501/.test(l));
    await until(() => lines().length >= 1, 5000, 'a line for the failures');
    assert.ok(lines().length <= 10, `${lines().length} lines for 20 failures\n${lines().join('\n')}`);
    // /health says so, as on SQLite's full disk: each look follows a fresh
    // refusal (the store probes a write a second after the last failure).
    let h;
    await until(async () => {
      const r = await a.emitWithAck('message:send', { receiverId: bob, content: 'refused' });
      assert.equal(r.error && r.error.code, 'storage_error', JSON.stringify(r));
      h = await health(srv);
      return h.status === 503 && /permission denied for table messages/.test(h.body.storeError);
    }, 10000, '/health 503 with the reason while writes are refused');
    assert.equal(h.body.store, 'failing');
    await until(() => /error store: writes are failing: .*permission denied/.test(srv.stderr()), 5000,
      'the failing writes logged');
    const b = client(srv.url, { transports: ['websocket'], auth: { token: mintToken({ sub: bob }, srv.secret) } });
    const got = record(b, 'message:received');
    await until(() => got.length >= 2, 10000, 'the backlog');
    assert.deepEqual(got.map(([m]) => m.id), backlog.map((m) => m.id));
    const hist = await b.emitWithAck('message:history', { conversationId: backlog[0].conversationId });
    assert.deepEqual(hist.messages.map((m) => m.id), backlog.map((m) => m.id).reverse());
    sql('GRANT INSERT ON messages TO CURRENT_USER');
    const again = await a.emitWithAck('message:send', { receiverId: bob, content: 'allowed again' });
    assert.ok(!again.error, JSON.stringify(again));
    await until(async () => (h = await health(srv)).status === 200, 10000, '/health 200 again');
    assert.equal(h.body.store, 'ok');
    // Logged by the store thread just after /health could see the change.
    await until(() => /store: writes commit again/.test(srv.stderr()), 5000, 'the recovery logged');
  } finally {
    sql('GRANT INSERT ON messages TO CURRENT_USER');
    await srv.stop();
  }
}, { skip, timeout: 60000 });

test('--database-timeout bounds the wait for an unreachable database: the shorter wait answers store_unavailable first', async () => {
  const quick = await start(['--database-timeout', '600']);
  const patient = await start(['--database-timeout', '4000']);
  try {
    const bob = uid('bob');
    const q = (await connectUser(quick, uid('alice'))).s;
    const p = (await connectUser(patient, uid('carol'))).s;
    for (const s of [q, p]) {
      const ok = await s.emitWithAck('message:send', { receiverId: bob, content: 'up' });
      assert.ok(!ok.error, JSON.stringify(ok));
    }
    await pg.stop();
    try {
      const order = [];
      const send = (s, name) => s.timeout(15000).emitWithAck('message:send', { receiverId: bob, content: 'down' })
        .then((r) => { order.push(name); return r; });
      const [rq, rp] = await Promise.all([send(p, 'patient'), send(q, 'quick')]);
      assert.equal(rq.error && rq.error.code, 'store_unavailable', JSON.stringify(rq));
      assert.equal(rp.error && rp.error.code, 'store_unavailable', JSON.stringify(rp));
      assert.deepEqual(order, ['quick', 'patient'], 'the 600 ms wait ends before the 4000 ms one');
    } finally {
      await pg.start();
    }
  } finally {
    await quick.stop();
    await patient.stop();
  }
}, { skip, timeout: 90000 });

test('POST /api/backup on PostgreSQL: 501 not_supported_on_postgres, pointing to pg_dump', async () => {
  const srv = await start(['--api-key', 'k']);
  try {
    const res = await fetch(`${srv.url}/api/backup`, { method: 'POST', headers: { authorization: 'Bearer k' } });
    assert.equal(res.status, 501);
    const body = await res.json();
    assert.equal(body.error.code, 'not_supported_on_postgres');
    assert.match(body.error.message, /pg_dump/);
  } finally {
    await srv.stop();
  }
}, { skip });

/**
 * A TCP proxy in front of PostgreSQL that can lose a connection at the worst
 * moment: armed, once a client chunk has held an INSERT into messages (its
 * text, or the name of the prepared statement that holds it), it
 * passes the next one holding COMMIT, waits for the database's answer (the
 * transaction has committed by then), and cuts both sides without passing
 * that answer on. refuseAfterCut: new connections are then cut at once
 * (the outcome cannot be asked) until the test sets refusing = false.
 * beforeCommit: the cut comes right after that chunk instead, before COMMIT.
 * chunks: when an array, what the server sends is recorded there.
 */
async function commitCutter(pgUrl, { beforeCommit = false } = {}) {
  const target = new URL(pgUrl);
  const state = { armed: false, cuts: 0, refuseAfterCut: false, refusing: false, chunks: null };
  const sockets = new Set();
  const server = net.createServer((down) => {
    sockets.add(down);
    if (state.refusing) { down.destroy(); return; }
    const up = net.connect(Number(target.port), target.hostname);
    sockets.add(up);
    let inserted = false, cutting = false;
    const cut = () => { down.destroy(); up.destroy(); };
    down.on('data', (d) => {
      if (state.chunks) state.chunks.push(d.toString('latin1'));
      if (state.armed && /INSERT INTO messages|MSG_APPEND_|MSG_INSERT/.test(d.toString('latin1'))) inserted = true;
      if (state.armed && inserted && beforeCommit) {
        // The batch's statements pass; its COMMIT will not: the connection
        // is lost in the middle of the transaction.
        state.armed = false;
        state.cuts++;
        up.write(d);
        setImmediate(cut);
        return;
      }
      if (state.armed && inserted && d.includes('COMMIT')) { state.armed = false; cutting = true; }
      up.write(d);
    });
    up.on('data', (d) => {
      if (!cutting) { down.write(d); return; }
      state.cuts++;
      state.refusing = state.refuseAfterCut;
      cut();
    });
    for (const s of [up, down]) { s.on('error', cut); s.on('close', cut); }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(pgUrl);
  url.port = String(server.address().port);
  return {
    url: url.toString(), state,
    close: () => { for (const s of sockets) s.destroy(); server.close(); },
  };
}

test('connection lost after COMMIT applied, before its answer: resolved as committed, acknowledged once, never run twice', async () => {
  const proxy = await commitCutter(pg.url);
  const srv = await startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--database-url', proxy.url] });
  try {
    const bob = uid('bob');
    const a = (await connectUser(srv, uid('alice'))).s;
    const first = await a.emitWithAck('message:send', { receiverId: bob, content: 'warm' });
    assert.ok(!first.error, JSON.stringify(first));
    proxy.state.armed = true;
    const blind = await a.timeout(15000).emitWithAck('message:send', { receiverId: bob, content: 'blind' });
    assert.equal(proxy.state.cuts, 1, 'the connection was cut after COMMIT');
    assert.ok(!blind.error, `committed, so acknowledged: ${JSON.stringify(blind)}`);
    const hist = await a.emitWithAck('message:history', { conversationId: first.conversationId });
    assert.deepEqual(hist.messages.filter((m) => m.content === 'blind').map((m) => m.id), [blind.id],
      'stored once (a blind retry would store it twice)');
  } finally {
    await srv.stop();
    proxy.close();
  }
}, { skip, timeout: 60000 });

test('connection lost after COMMIT and the outcome unknowable within the wait, twice: store_unavailable, never an ack; the idempotency key then finds the saved message', async () => {
  const proxy = await commitCutter(pg.url);
  const srv = await startServer('switchboard', {
    args: [...NO_EVENT_LIMIT, '--database-url', proxy.url, '--database-timeout', '1500'] });
  try {
    const bob = uid('bob');
    const a = (await connectUser(srv, uid('alice'))).s;
    const first = await a.emitWithAck('message:send', { receiverId: bob, content: 'warm' });
    assert.ok(!first.error, JSON.stringify(first));
    proxy.state.refuseAfterCut = true; // until the answer: the keyed send's second run fails too
    proxy.state.armed = true;
    const payload = { receiverId: bob, content: 'unknown', clientMessageId: uid('key') };
    const lost = await a.timeout(15000).emitWithAck('message:send', payload);
    proxy.state.refusing = false;
    assert.equal(proxy.state.cuts, 1, 'the connection was cut after COMMIT');
    assert.equal(lost.error && lost.error.code, 'store_unavailable', JSON.stringify(lost));
    assert.match(srv.stderr(), /outcome unknown.*; 1 request\(s\) of the batch run again \(idempotent\), 0 fail/);
    let hist = null;
    await until(async () => {
      hist = await a.timeout(15000).emitWithAck('message:history', { conversationId: first.conversationId });
      return !hist.error;
    }, 20000, 'history answers once the database does');
    const stored = hist.messages.filter((m) => m.content === 'unknown');
    assert.equal(stored.length, 1, 'it had been saved, yet it was not acknowledged');
    const retry = await a.emitWithAck('message:send', payload);
    assert.ok(!retry.error, JSON.stringify(retry));
    const after = await a.emitWithAck('message:history', { conversationId: first.conversationId });
    assert.equal(after.messages.filter((m) => m.content === 'unknown').length, 1,
      'the retry with its idempotency key did not store it again');
    assert.equal(retry.id, stored[0].id);
  } finally {
    await srv.stop();
    proxy.close();
  }
}, { skip, timeout: 60000 });

test('connection lost after COMMIT, outcome unknown: a send with an idempotency key runs again once the database answers; acknowledged and delivered once, stored once', async () => {
  const proxy = await commitCutter(pg.url);
  // 3000 ms: the reconnection backoff (0.1, 0.2, 0.4, 0.8, 1.6 s) gives up on
  // the outcome at about 1.5 s, and the second run's new 3 s wait holds the
  // next attempt (about 3.1 s), by which time connections pass again.
  const srv = await startServer('switchboard', {
    args: [...NO_EVENT_LIMIT, '--database-url', proxy.url, '--database-timeout', '3000'] });
  try {
    const alice = uid('alice'), bob = uid('bob');
    const a = (await connectUser(srv, alice)).s;
    const b = (await connectUser(srv, bob)).s;
    const first = await a.emitWithAck('message:send', { receiverId: bob, content: 'warm' });
    assert.ok(!first.error, JSON.stringify(first));
    const got = record(b, 'message:received');
    proxy.state.refuseAfterCut = true;
    proxy.state.armed = true;
    const payload = { conversationId: first.conversationId, content: 'again', clientMessageId: uid('key') };
    const pending = a.timeout(20000).emitWithAck('message:send', payload);
    await until(() => /outcome unknown/.test(srv.stderr()), 15000, 'the outcome given up');
    assert.match(srv.stderr(), /; 1 request\(s\) of the batch run again \(idempotent\), 0 fail/);
    proxy.state.refusing = false;
    const sent = await pending;
    assert.equal(proxy.state.cuts, 1, 'the connection was cut after COMMIT');
    assert.ok(!sent.error, `run again, so acknowledged: ${JSON.stringify(sent)}`);
    assert.equal(sent.clientMessageId, payload.clientMessageId);
    const hist = await a.emitWithAck('message:history', { conversationId: first.conversationId });
    assert.deepEqual(hist.messages.filter((m) => m.content === 'again').map((m) => m.id), [sent.id],
      'stored once: the second run found the key');
    // New to bob: the first run's message was never handed out, so the second
    // run delivers it (live, once) instead of treating it as a client's retry.
    await until(() => got.some(([m]) => m.id === sent.id), 5000, 'delivered live');
    assert.equal(got.filter(([m]) => m.content === 'again').length, 1);
  } finally {
    await srv.stop();
    proxy.close();
  }
}, { skip, timeout: 60000 });

/** Every message of a conversation, newest first, paging through history. */
async function wholeHistory(s, conversationId) {
  const seen = [];
  let before = 0;
  for (;;) {
    const page = await s.emitWithAck('message:history', { conversationId, limit: 50, ...(before ? { before } : {}) });
    assert.ok(!page.error, JSON.stringify(page));
    if (!page.messages.length) return seen;
    seen.push(...page.messages);
    before = page.messages[page.messages.length - 1].id;
  }
}

/** `pairs` pairs of users, the first of each sending `n` messages to the
 *  second at once; each pair's acks in the order sent. */
async function busyPairs(srv, pairs, n) {
  const users = await Promise.all(Array.from({ length: pairs }, async () => {
    const x = uid('px'), y = uid('py');
    return { x, y, s: (await connectUser(srv, x)).s };
  }));
  await Promise.all(users.map(async (u) => {
    u.acks = await Promise.all(Array.from({ length: n }, (_, i) =>
      u.s.timeout(20000).emitWithAck('message:send', { receiverId: u.y, content: `p${i}` })));
  }));
  return users;
}

test('a pool of 4 connections: one user\'s pipelined sends and the read after them stay in order; two users\' concurrent sends to one conversation keep one ordered history, ids unique', async () => {
  const KEY = 'pool-test-api-key';
  const srv = await start(['--database-pool-size', '4', '--api-key', KEY]);
  try {
    const alice = uid('alice'), bob = uid('bob');
    const a = (await connectUser(srv, alice)).s;
    const b = (await connectUser(srv, bob)).s;
    const opened = await a.emitWithAck('message:send', { receiverId: bob, content: 'open' });
    assert.ok(!opened.error, JSON.stringify(opened));
    const N = 30;
    // Other conversations keep the other connections busy meanwhile.
    const others = busyPairs(srv, 6, 10);
    // Emitted without waiting: alice's sends, then her read of the
    // conversation, while bob writes to the same conversation.
    const mine = Array.from({ length: N }, (_, i) => a.emitWithAck('message:send', { receiverId: bob, content: `a${i}` }));
    const read = a.emitWithAck('message:history', { conversationId: opened.conversationId, limit: 100 });
    const his = Array.from({ length: N }, (_, i) => b.emitWithAck('message:send', { receiverId: alice, content: `b${i}` }));
    const [aAcks, page, bAcks, busy] = await Promise.all([Promise.all(mine), read, Promise.all(his), others]);
    for (const r of [...aAcks, ...bAcks, ...busy.flatMap((u) => u.acks)]) assert.ok(!r.error, JSON.stringify(r));
    for (const acks of [aAcks, bAcks])
      for (let i = 1; i < N; i++) assert.ok(acks[i].id > acks[i - 1].id, 'a sender\'s messages in the order sent');
    assert.ok(!page.error, JSON.stringify(page));
    const seen = new Set(page.messages.map((m) => m.id));
    assert.ok(aAcks.every((r) => seen.has(r.id)), 'the read submitted after the sends sees every one of them');

    const ids = (await wholeHistory(a, opened.conversationId)).map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
    assert.deepEqual(ids, [...ids].sort((x, y) => y - x), 'newest first');
    assert.deepEqual([...ids].sort(), [opened.id, ...aAcks.map((r) => r.id), ...bAcks.map((r) => r.id)].sort(),
      'every acknowledged message, nothing else');

    const health = await (await fetch(`${srv.url}/health`)).json();
    assert.deepEqual(health.storePool, { connections: 4, down: 0 }, JSON.stringify(health));
    const metrics = await (await fetch(`${srv.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
    assert.match(metrics, /^switchboard_store_threads 4$/m);
    assert.match(metrics, /^switchboard_store_connections_down 0$/m);
  } finally {
    await srv.stop();
  }
}, { skip, timeout: 60000 });

test('a pool member\'s connection lost in the middle of a batch (before COMMIT): the batch runs again on a new connection, every send acknowledged and stored once; the other members go on', async () => {
  const proxy = await commitCutter(pg.url, { beforeCommit: true });
  const srv = await startServer('switchboard', {
    args: [...NO_EVENT_LIMIT, '--database-url', proxy.url, '--database-pool-size', '4'] });
  try {
    proxy.state.chunks = [];
    const [warm] = await busyPairs(srv, 1, 1);
    assert.ok(!warm.acks[0].error, JSON.stringify(warm.acks[0]));
    // Two round trips per clean batch: BEGIN leaves in the same write as
    // the batch's statements (then COMMIT), never in one of its own.
    const begins = proxy.state.chunks.filter((c) => c.includes('BEGIN'));
    proxy.state.chunks = null;
    assert.ok(begins.some((c) => c.includes('MSG_APPEND_DIRECT')), 'the append went with its BEGIN');
    assert.ok(begins.every((c) => c.includes('pg_current_xact_id') && !c.includes('COMMIT')));
    proxy.state.armed = true;
    const pairs = await busyPairs(srv, 8, 8);
    assert.equal(proxy.state.cuts, 1, 'one connection was cut mid-batch');
    for (const u of pairs) {
      for (const r of u.acks) assert.ok(!r.error, JSON.stringify(r));
      const stored = await wholeHistory(u.s, u.acks[0].conversationId);
      assert.deepEqual(stored.map((m) => m.id).reverse(), u.acks.map((r) => r.id),
        'stored once each, in the order sent');
    }
    assert.doesNotMatch(srv.stderr(), /outcome unknown/, 'lost before COMMIT: certainly not committed');
  } finally {
    await srv.stop();
    proxy.close();
  }
}, { skip, timeout: 60000 });

test('two servers on one database: concurrent sends to one conversation are all stored, with unique ids, in one history', async () => {
  const one = await start(), two = await start();
  try {
    const alice = uid('alice'), bob = uid('bob');
    const a = (await connectUser(one, alice)).s;
    const b = (await connectUser(two, bob)).s;
    const opened = await a.emitWithAck('message:send', { receiverId: bob, content: 'open' });
    assert.ok(!opened.error, JSON.stringify(opened));
    const N = 40;
    const acks = await Promise.all([
      ...Array.from({ length: N }, (_, i) => a.emitWithAck('message:send', { receiverId: bob, content: `a${i}` })),
      ...Array.from({ length: N }, (_, i) => b.emitWithAck('message:send', { receiverId: alice, content: `b${i}` })),
    ]);
    for (const r of acks) assert.ok(!r.error, JSON.stringify(r));
    const ids = acks.map((r) => r.id);
    assert.equal(new Set(ids).size, 2 * N, 'ids unique across both servers');
    // History from either server: every message, once, newest first.
    for (const s of [a, b]) {
      const seen = [];
      let before = 0;
      for (;;) {
        const page = await s.emitWithAck('message:history',
          { conversationId: opened.conversationId, limit: 50, ...(before ? { before } : {}) });
        assert.ok(!page.error, JSON.stringify(page));
        if (!page.messages.length) break;
        seen.push(...page.messages.map((m) => m.id));
        before = page.messages[page.messages.length - 1].id;
      }
      assert.equal(seen.length, 2 * N + 1);
      assert.equal(new Set(seen).size, seen.length, 'no duplicates');
      assert.deepEqual(seen, [...seen].sort((x, y) => y - x), 'newest first');
    }
  } finally {
    await one.stop();
    await two.stop();
  }
}, { skip, timeout: 60000 });

test('two servers on one database: a message to an offline user reaches them on whichever server they connect to, exactly once', async () => {
  const one = await start(), two = await start();
  try {
    const alice = uid('alice'), bob = uid('bob');
    const a = (await connectUser(one, alice)).s;
    const sent = await a.emitWithAck('message:send', { receiverId: bob, content: 'while you were away' });
    assert.ok(!sent.error, JSON.stringify(sent));
    // Listen before connecting: the backlog follows the connect.
    const b = client(two.url, { transports: ['websocket'], autoConnect: false,
      auth: { token: mintToken({ sub: bob }, two.secret) } });
    const got = [];
    b.on('message:received', (m, confirm) => { got.push(m); confirm(); });
    b.connect();
    await until(() => got.length >= 1, 5000, 'the offline message on the other server');
    assert.equal(got[0].id, sent.id);
    // Two store round trips on the same server after the confirmation: its
    // store commits in submission order, so the confirmation is committed.
    await b.emitWithAck('notification:list', {});
    await b.emitWithAck('message:history', { conversationId: sent.conversationId });
    b.disconnect();
    const again = (await connectUser(one, bob)).s;
    const replay = record(again, 'message:received');
    await again.emitWithAck('notification:list', {});
    await again.emitWithAck('message:history', { conversationId: sent.conversationId });
    assert.equal(replay.length, 0, 'confirmed once, never delivered again');
  } finally {
    await one.stop();
    await two.stop();
  }
}, { skip, timeout: 60000 });

// docs/store.md, "Delivery floors": pending deliveries are read from the
// user's floor, which each device's backlog raises when it is done, and
// never past a delivery still pending.
test('a device\'s backlog raises its user\'s delivery floor, never past a pending message; the next device gets exactly what is pending', async () => {
  const srv = await start();
  const bob = uid('bob');
  const value = (text) => {
    const out = execFileSync('psql', ['-X', '-q', '-t', '-A', pg.url, '-c', text]).toString().trim();
    return out === '' ? null : Number(out);
  };
  const floor = () => value(`SELECT upto FROM message_delivery_floors WHERE user_id = '${bob}'`);
  const pending = () =>
    value(`SELECT count(*) FROM message_deliveries WHERE user_id = '${bob}' AND delivered = 0`);
  const device = (confirm) => {
    const s = client(srv.url, { transports: ['websocket'], autoConnect: false,
      auth: { token: mintToken({ sub: bob }, srv.secret) } });
    const got = [];
    s.on('message:received', (m, ack) => { got.push(m.id); if (confirm) ack(); });
    s.connect();
    return { s, got };
  };
  try {
    const a = (await connectUser(srv, uid('alice'))).s;
    const send = async (content) => {
      const m = await a.emitWithAck('message:send', { receiverId: bob, content });
      assert.ok(!m.error, JSON.stringify(m));
      return m.id;
    };
    const first = [await send('1'), await send('2')];
    // A device that never confirms: its backlog ends with both pending.
    const quiet = device(false);
    await until(() => quiet.got.length === 2, 5000, 'the backlog on the quiet device');
    await until(() => floor() !== null, 5000, 'the floor written after the backlog');
    assert.equal(floor(), first[0] - 1, 'just below the first pending message');
    quiet.s.disconnect();
    const third = await send('3');
    // A confirming device gets all three, then its backlog raises the floor.
    const eager = device(true);
    await until(() => eager.got.length === 3, 5000, 'everything pending');
    assert.deepEqual(eager.got, [...first, third]);
    await until(() => pending() === 0, 5000, 'the confirmations committed');
    eager.s.disconnect();
    const fourth = await send('4');
    const last = device(true);
    await until(() => last.got.length === 1, 5000, 'the one message sent since');
    // Its backlog ends before or after its confirmation commits: the floor
    // is past the three confirmed before it connected, at most at the fourth.
    await until(() => floor() >= third, 5000, `the floor past the confirmed messages (${floor()})`);
    assert.ok(floor() <= fourth);
    await until(() => pending() === 0, 5000, 'the fourth confirmed');
    assert.deepEqual(last.got, [fourth]);
    last.s.disconnect();
  } finally {
    await srv.stop();
  }
}, { skip, timeout: 60000 });

test('two servers on one database: concurrent document edits get unique versions; friend requests from both ends leave one pending request', async () => {
  const one = await start(), two = await start();
  try {
    const alice = uid('alice'), bob = uid('bob');
    const a = (await connectUser(one, alice)).s;
    const b = (await connectUser(two, bob)).s;
    const doc = uid('doc');
    for (const s of [a, b]) {
      const joined = await s.emitWithAck('collab:join_document', { documentId: doc });
      assert.equal(joined.ok, true, JSON.stringify(joined));
    }
    const N = 20;
    const edits = await Promise.all([
      ...Array.from({ length: N }, (_, i) => a.emitWithAck('collab:edit', { documentId: doc, changes: { a: i } })),
      ...Array.from({ length: N }, (_, i) => b.emitWithAck('collab:edit', { documentId: doc, changes: { b: i } })),
    ]);
    for (const r of edits) assert.equal(r.ok, true, JSON.stringify(r));
    assert.deepEqual(edits.map((r) => r.version).sort((x, y) => x - y),
      Array.from({ length: 2 * N }, (_, i) => i + 1), 'versions 1..2N, each once');

    // Pairs of users on different servers asking each other at once.
    const P = 10;
    const pairs = await Promise.all(Array.from({ length: P }, async () => {
      const x = uid('x'), y = uid('y');
      const sx = (await connectUser(one, x)).s, sy = (await connectUser(two, y)).s;
      const answers = await Promise.all([
        sx.emitWithAck('friend:request', { toUserId: y }),
        sy.emitWithAck('friend:request', { toUserId: x }),
      ]);
      sx.disconnect();
      sy.disconnect();
      return answers;
    }));
    for (const answers of pairs) {
      const stored = answers.filter((r) => r.ok);
      const refused = answers.filter((r) => r.error && r.error.code === 'already_exists');
      assert.equal(stored.length, 1, JSON.stringify(answers));
      assert.equal(refused.length, 1, JSON.stringify(answers));
    }
  } finally {
    await one.stop();
    await two.stop();
  }
}, { skip, timeout: 60000 });
