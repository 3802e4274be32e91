// Storage faults as an operator's bad day brings them, against the real
// binary and real SQLite files: files truncated, made immutable or deleted
// under a running server, read-only and corrupt databases at start, a disk
// filling up and freed again. Each test asserts what clients, /health,
// /metrics and the log see. File-system faults use a small tmpfs mounted by
// the test (skipped with a message where the machine cannot mount one).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync, mkdtempSync, openSync, closeSync, readdirSync, renameSync, rmSync, truncateSync,
  writeFileSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, NO_EVENT_LIMIT, repoRoot, DEFAULT_SECRET } from './lib/server.mjs';
import { test, isRef, connectUser, until, record, client, mintToken } from './lib/util.mjs';
import {
  cannotMount, cannotChattr, chattr, fillDisk, mountTmpfs, remount, unmount,
} from './lib/disk.mjs';

const skip = isRef ? 'C-only: the reference server has no storage' : false;
const skipMount = skip || cannotMount;
const uid = (p) => `${p}-${Math.random().toString(36).slice(2, 8)}`;
const ARGS = ['--api-key', 'k', ...NO_EVENT_LIMIT];
const bin = () => path.resolve(repoRoot, process.env.SB_BUILD_DIR || 'build', 'switchboard');

async function api(srv, method, p, { key = 'k' } = {}) {
  const res = await fetch(`${srv.url}${p}`, { method, headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* metrics are text */ }
  return { status: res.status, body };
}

const health = async (srv) => {
  const res = await fetch(`${srv.url}/health`);
  return { status: res.status, body: await res.json() };
};

async function metric(srv, line) {
  const { body } = await api(srv, 'GET', '/metrics');
  const m = new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm').exec(body);
  return m ? Number(m[1]) : null;
}

/** message:send's ack (a message, or {error}). */
const send = (sock, to, content) => sock.emitWithAck('message:send', { receiverId: to, content });

async function sendOk(sock, to, content) {
  const r = await send(sock, to, content);
  assert.ok(!r.error, `message:send failed: ${JSON.stringify(r)}`);
  return r;
}

/** Runs a query with Python's sqlite3 (another process, as an operator would). */
function sql(db, query) {
  const py = 'import sys, sqlite3, json\n' +
    'try:\n' +
    '    c = sqlite3.connect(sys.argv[1], timeout=0.2)\n' +
    '    rows = c.execute(sys.argv[2]).fetchall(); c.commit()\n' +
    '    print(json.dumps({"rows": rows}))\n' +
    'except Exception as e:\n' +
    '    print(json.dumps({"error": str(e)}))\n';
  const r = spawnSync('python3', ['-c', py, db, query], { encoding: 'utf8', timeout: 20000 });
  return JSON.parse(r.stdout);
}

/** Starts the binary expecting it to exit by itself; resolves {status, stderr}. */
function runToExit(args) {
  const r = spawnSync(bin(), ['--host', '127.0.0.1', '--port', '0', '--jwt-secret', DEFAULT_SECRET,
    '--log-level', 'warn', ...args], { encoding: 'utf8', timeout: 20000, killSignal: 'SIGKILL' });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

/** A stopped server's data directory holding `n` messages (of ~`bytes` each). */
async function seededDir(dir, n, bytes = 100) {
  const srv = await startServer('switchboard', { args: [...ARGS, '--data-dir', dir] });
  try {
    const a = (await connectUser(srv, uid('alice'))).s;
    const bob = uid('bob');
    const ids = [];
    for (let i = 0; i < n; i++) ids.push((await sendOk(a, bob, `m${i} ${'x'.repeat(bytes)}`)).id);
    a.disconnect();
    return ids;
  } finally {
    await srv.stop();
  }
}

// ---- item 1: nothing memory-mapped; an online backup instead ---------------------------

test('storage 1: the WAL index is not a file (no SIGBUS from a truncated or immutable -shm); an online backup copies the live database', async () => {
  const srv = await startServer('switchboard', { args: ARGS });
  const db = path.join(srv.dataDir, 'switchboard.db');
  const chattrOk = !cannotChattr(srv.dataDir);
  try {
    const bob = uid('bob');
    const a = (await connectUser(srv, uid('alice'))).s;
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await sendOk(a, bob, `before ${i}`)).id);
    const hadShm = existsSync(`${db}-shm`);
    // The -shm (or a stray one) truncated and made immutable: with a mapped
    // WAL index the next write dies of SIGBUS; the server maps none of it.
    if (!hadShm) writeFileSync(`${db}-shm`, Buffer.alloc(32768, 0xff));
    truncateSync(`${db}-shm`, 0);
    if (chattrOk) chattr(`${db}-shm`, '+i');
    for (let i = 0; i < 3; i++) ids.push((await sendOk(a, bob, `after ${i}`)).id);
    assert.equal(srv.proc.signalCode, null);
    assert.equal(srv.proc.exitCode, null);
    assert.ok(!hadShm, 'exclusive locking: the WAL index lives in heap memory, not in a -shm file');
    assert.equal((await health(srv)).status, 200);

    // No other process may open the live file...
    const other = sql(db, 'SELECT count(*) FROM messages');
    assert.match(other.error || '', /locked/, `a second process reads the live db: ${JSON.stringify(other)}`);
    // ...so the API gives a consistent copy, taken while the server serves.
    assert.equal((await api(srv, 'POST', '/api/backup', { key: 'wrong' })).status, 401);
    assert.equal((await api(srv, 'GET', '/api/backup')).status, 405);
    const r = await api(srv, 'POST', '/api/backup');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(path.dirname(r.body.path), path.join(srv.dataDir, 'backups'));
    assert.ok(r.body.bytes > 0);
    assert.deepEqual(readdirSync(path.dirname(r.body.path)).filter((f) => f.endsWith('.part')), []);
    assert.deepEqual(sql(r.body.path, 'PRAGMA integrity_check').rows, [['ok']]);
    assert.deepEqual(sql(r.body.path, 'SELECT id FROM messages ORDER BY id').rows.map((x) => x[0]), ids);
    // The server goes on writing after the copy.
    await sendOk(a, bob, 'after the backup');
  } finally {
    if (chattrOk && existsSync(`${db}-shm`)) chattr(`${db}-shm`, '-i');
    await srv.stop();
  }
}, { skip });

// ---- item 2: read-only at start is refused; a healable failure heals itself -----------

test('storage 2a: a database that cannot be written refuses to start (read-only mount, immutable file), exit 1', async () => {
  const mnt = mountTmpfs('16m');
  try {
    const dir = path.join(mnt, 'data');
    await seededDir(dir, 1);
    remount(mnt, 'ro');
    let r = runToExit(['--data-dir', dir]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /store: .*switchboard\.db is read-only/);
    assert.doesNotMatch(r.stderr, /listening on/);
    remount(mnt, 'rw');
    const back = await startServer('switchboard', { args: [...ARGS, '--data-dir', dir] });
    assert.equal((await health(back)).status, 200);
    await back.stop();

    // The same file made immutable (root ignores chmod, not chattr +i).
    const noChattr = cannotChattr(dir);
    if (noChattr) {
      console.log(`# skipped the chattr part: ${noChattr}`);
      return;
    }
    const db = path.join(dir, 'switchboard.db');
    chattr(db, '+i');
    try {
      r = runToExit(['--data-dir', dir]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /read-only/);
    } finally {
      chattr(db, '-i');
    }
  } finally {
    unmount(mnt);
  }
}, { skip: skipMount });

test('storage 2b: a full disk fails writes with storage_error, /health and /metrics say so, and it heals by itself once space is freed', async () => {
  const mnt = mountTmpfs('8m');
  let srv;
  try {
    srv = await startServer('switchboard', { args: [...ARGS, '--data-dir', path.join(mnt, 'data')] });
    const bob = uid('bob');
    const a = (await connectUser(srv, uid('alice'))).s;
    await sendOk(a, bob, 'fits');
    assert.equal(await metric(srv, 'switchboard_store_state{state="ok"}'), 1);
    const filler = path.join(mnt, 'filler');
    fillDisk(filler);
    const big = 'x'.repeat(60000);
    const failed = await send(a, bob, big);
    assert.equal(failed.error && failed.error.code, 'storage_error', JSON.stringify(failed));
    let h;
    await until(async () => (h = await health(srv)).status === 503, 5000, '/health 503');
    assert.equal(h.body.store, 'failing');
    assert.match(h.body.storeError, /full/);
    // (The store retries a small write a second after the last failure; a
    // fresh failure keeps it "failing" while we look.)
    assert.equal((await send(a, bob, big)).error.code, 'storage_error');
    assert.equal(await metric(srv, 'switchboard_store_state{state="failing"}'), 1);
    assert.ok(await metric(srv, 'switchboard_store_write_errors_total') >= 2);
    assert.match(srv.stderr(), /error store: writes are failing: database or disk is full/);

    rmSync(filler);
    // No client writes: the store's own retry finds the space.
    await until(async () => (await health(srv)).status === 200, 10000, '/health 200 again');
    assert.equal((await health(srv)).body.store, 'ok');
    assert.equal(await metric(srv, 'switchboard_store_state{state="ok"}'), 1);
    assert.match(srv.stderr(), /store: writes commit again/);
    const ok = await sendOk(a, bob, big);
    const hist = await a.emitWithAck('message:history', { conversationId: ok.conversationId });
    assert.deepEqual(hist.messages.map((m) => m.content.length), [60000, 4], 'the failed write was not stored');
  } finally {
    if (srv) await srv.stop();
    unmount(mnt);
  }
}, { skip: skipMount });

test('storage 2c: the database write-protected while running (chattr +i) fails writes with storage_error and /health 503, and heals by itself when lifted', async () => {
  const srv = await startServer('switchboard', { args: ARGS });
  const db = path.join(srv.dataDir, 'switchboard.db');
  const noChattr = cannotChattr(srv.dataDir);
  const locked = [];
  try {
    if (noChattr) {
      console.log(`# skipped: ${noChattr}`);
      return;
    }
    const bob = uid('bob');
    const a = (await connectUser(srv, uid('alice'))).s;
    const before = await sendOk(a, bob, 'before');
    for (const f of [db, `${db}-wal`]) { chattr(f, '+i'); locked.push(f); }
    const r = await send(a, bob, 'while protected');
    assert.equal(r.error && r.error.code, 'storage_error', JSON.stringify(r));
    const h = await health(srv);
    assert.equal(h.status, 503);
    assert.equal(h.body.store, 'failing');
    while (locked.length) chattr(locked.pop(), '-i');
    await until(async () => (await health(srv)).status === 200, 10000, '/health 200 again');
    const after = await sendOk(a, bob, 'after');
    const hist = await a.emitWithAck('message:history', { conversationId: before.conversationId });
    assert.deepEqual(hist.messages.map((m) => m.id), [after.id, before.id]);
  } finally {
    while (locked.length) chattr(locked.pop(), '-i');
    await srv.stop();
  }
}, { skip });

// ---- item 3: files deleted, replaced or truncated under the server --------------------

for (const [what, harm] of [
  ['the WAL deleted', (db) => rmSync(`${db}-wal`)],
  ['the database deleted', (db) => rmSync(db)],
  ['the database moved away and replaced', (db) => { renameSync(db, `${db}.moved`); writeFileSync(db, ''); }],
  ['the database truncated', (db) => truncateSync(db, 0)],
]) {
  test(`storage 3: ${what} while running -> writes refused with storage_error, an error logged, /health 503 "lost"; a backup still saves what was acknowledged`, async () => {
    const srv = await startServer('switchboard', { args: ARGS });
    try {
      const db = path.join(srv.dataDir, 'switchboard.db');
      const bob = uid('bob');
      const a = (await connectUser(srv, uid('alice'))).s;
      const before = await sendOk(a, bob, 'acknowledged before');
      harm(db);
      const r = await send(a, bob, 'after the harm');
      assert.equal(r.error && r.error.code, 'storage_error', `acknowledged a write into a lost file: ${JSON.stringify(r)}`);
      const h = await health(srv);
      assert.equal(h.status, 503);
      assert.equal(h.body.store, 'lost');
      assert.match(h.body.storeError, /switchboard\.db(-wal)? was (deleted|moved|replaced|truncated)/);
      assert.equal(await metric(srv, 'switchboard_store_state{state="lost"}'), 1);
      assert.match(srv.stderr(), /error store: switchboard\.db(-wal)? was .* refusing every write/);
      const again = await send(a, bob, 'still refused');
      assert.equal(again.error && again.error.code, 'storage_error');
      // What the server still holds open can be saved.
      const b = await api(srv, 'POST', '/api/backup');
      assert.equal(b.status, 200, JSON.stringify(b.body));
      assert.deepEqual(sql(b.body.path, 'SELECT content FROM messages').rows, [['acknowledged before']]);
      assert.equal(before.content, 'acknowledged before');
    } finally {
      await srv.stop();
    }
  }, { skip });
}

// ---- item 4: start-up checks and exit codes -------------------------------------------

test('storage 4: a corrupt page or a missing table refuses to start (exit 1); --store-check-max-mb 0 skips the integrity check; bad settings exit 2', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-corrupt-'));
  try {
    await seededDir(dir, 40, 2000);
    const db = path.join(dir, 'switchboard.db');
    const [[root]] = sql(db, "SELECT rootpage FROM sqlite_schema WHERE name = 'messages'").rows;
    const fd = openSync(db, 'r+');
    writeSync(fd, Buffer.alloc(64, 0xee), 0, 64, (root - 1) * 4096); // the b-tree page header
    closeSync(fd);
    let r = runToExit(['--data-dir', dir]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /store: .*switchboard\.db failed the integrity check: .+ \(restore a backup/);
    assert.match(r.stderr, /warn +sqlite: database corruption at line \d+/, 'SQLite\'s own report, in our log');
    assert.doesNotMatch(r.stderr, /listening on/);
    // On a database too big to check at every start, the operator may skip it.
    const skipped = await startServer('switchboard', { args: [...ARGS, '--data-dir', dir, '--store-check-max-mb', '0'] });
    await skipped.stop();

    const dir2 = mkdtempSync(path.join(tmpdir(), 'sb-schema-'));
    try {
      await seededDir(dir2, 1);
      assert.deepEqual(sql(path.join(dir2, 'switchboard.db'), 'DROP TABLE post_comments').rows, []);
      r = runToExit(['--data-dir', dir2]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /store: schema check failed: no such table: post_comments/);
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }

    for (const bad of [['--store-check-max-mb', '-1'], ['--store-sync', 'sometimes']]) {
      r = runToExit(['--data-dir', dir, ...bad]);
      assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(bad[0]));
    }
    // A data directory that cannot exist: the server cannot start (1), no setting is wrong.
    writeFileSync(path.join(dir, 'a-file'), 'x');
    r = runToExit(['--data-dir', path.join(dir, 'a-file', 'sub')]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /cannot create directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, { skip });

// ---- item 5: SQLite's diagnostics in our log, failure lines rate-limited ---------------

test('storage 5: SQLite\'s own diagnostics reach the log; a fault failing every request logs a few lines per kind, not one per request', async () => {
  // SQLite's notice when it recovers a WAL left by a killed process.
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-recover-'));
  try {
    const one = await startServer('switchboard', { args: [...ARGS, '--data-dir', dir] });
    const a = (await connectUser(one, uid('alice'))).s;
    await sendOk(a, uid('bob'), 'in the WAL');
    one.proc.kill('SIGKILL');
    await one.exited;
    const two = await startServer('switchboard', { args: [...ARGS, '--data-dir', dir, '--log-level', 'info'] });
    await two.stop();
    assert.match(two.stderr(), /info +sqlite: recovered \d+ frames from WAL file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, { skip });

test('storage 5b: 40 writes failing on a full disk log at most 5 lines of each kind and one state change', async () => {
  const mnt = mountTmpfs('8m');
  let srv;
  try {
    srv = await startServer('switchboard', { args: [...ARGS, '--data-dir', path.join(mnt, 'data')] });
    const a = (await connectUser(srv, uid('alice'))).s;
    const bob = uid('bob');
    await sendOk(a, bob, 'fits');
    fillDisk(path.join(mnt, 'filler'));
    const logBefore = srv.stderr().length;
    const big = 'y'.repeat(30000);
    const acks = await Promise.all(Array.from({ length: 40 }, () => send(a, bob, big)));
    assert.equal(acks.filter((r) => r.error && r.error.code === 'storage_error').length, 40);
    // The server logs before it answers, but its stderr pipe and the
    // socket are read by this process in either order.
    const failing = /error store: writes are failing/;
    await until(() => failing.test(srv.stderr().slice(logBefore)), 5000, 'the state change logged');
    const lines = srv.stderr().slice(logBefore).split('\n').filter(Boolean);
    const count = (re) => lines.filter((l) => re.test(l)).length;
    assert.equal(count(failing), 1, 'the state changed once');
    for (const kind of [/store: message_append failed/, /store: sqlite error 13 /]) {
      assert.ok(count(kind) <= 5, `${kind}: ${count(kind)} lines\n${lines.join('\n')}`);
    }
    assert.ok(lines.length <= 20, `${lines.length} lines for 40 failures:\n${lines.join('\n')}`);
  } finally {
    if (srv) await srv.stop();
    unmount(mnt);
  }
}, { skip: skipMount });

// ---- item 6: a failing write does not fail the reads of its batch ---------------------

test('storage 6: on a full disk an offline user still gets the backlog (reads do not share a failing write\'s fate)', async () => {
  const mnt = mountTmpfs('8m');
  let srv;
  try {
    srv = await startServer('switchboard', { args: [...ARGS, '--data-dir', path.join(mnt, 'data')] });
    const alice = uid('alice'), bob = uid('bob');
    const a = (await connectUser(srv, alice)).s;
    const backlog = [await sendOk(a, bob, 'while you were away 1'), await sendOk(a, bob, 'while you were away 2')];
    fillDisk(path.join(mnt, 'filler'));
    // Writes fail (bob's connect writes his profile: it fails too)...
    const failed = await send(a, bob, 'z'.repeat(60000));
    assert.equal(failed.error && failed.error.code, 'storage_error');
    // ...while bob's backlog is read and delivered, whatever shares its batch.
    const b = client(srv.url, { transports: ['websocket'], auth: { token: mintToken({ sub: bob }, srv.secret) } });
    const got = record(b, 'message:received');
    await until(() => got.length >= 2, 5000, 'the backlog');
    assert.deepEqual(got.map((x) => x[0].id), backlog.map((m) => m.id));
    const hist = await b.emitWithAck('message:history', { conversationId: backlog[0].conversationId });
    assert.deepEqual(hist.messages.map((m) => m.id), backlog.map((m) => m.id).reverse());
  } finally {
    if (srv) await srv.stop();
    unmount(mnt);
  }
}, { skip: skipMount });
