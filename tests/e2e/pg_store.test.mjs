// The PostgreSQL store (--database-url) with a cluster of its own: the
// database stopped mid-traffic and started again, and two servers sharing
// one database. (The rest of the suite runs against PostgreSQL too, with
// SB_E2E_PG_URL: see tests/run.sh.)
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
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
