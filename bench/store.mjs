// The stored-message benchmark (part of `make bench`, bench/README.md):
// acknowledged `message:send` per second and ack latency at 1, 100 and 1000
// concurrent senders (each: send, wait for the ack, send again), on
//   sb-pg          Switchboard on PostgreSQL (group commit, ack after COMMIT)
//   node-pg        bench/peers/sio-pg-chat.mjs: socket.io + pg, one INSERT …
//                  RETURNING per message, ack after it (a pool of 10)
//   sb-sqlite-full, sb-sqlite-normal   Switchboard on SQLite (--store-sync)
// against one throwaway PostgreSQL cluster (tests/lib/pg-cluster.sh) with
// fsync and synchronous_commit on. Sender i writes to sender i+1 (online:
// the message is broadcast to its devices, which confirm it). Writes
// bench/results/store.{md,json}. Every run is bounded: --duration seconds of
// measurement after --warmup, and a hard limit per run.
// Usage: node bench/store.mjs [--senders "1 100 1000"] [--duration 4] [--warmup 1]
//        [--servers "sb-pg node-pg sb-sqlite-full sb-sqlite-normal"] [--build DIR] [--results DIR]
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './peers/common.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const require = createRequire(path.join(here, 'peers', 'package.json'));
const { io } = require('socket.io-client');

const opts = parseArgs(process.argv.slice(2));
const SENDERS = String(opts.senders || '1 100 1000').split(/\s+/).filter(Boolean).map(Number);
const DURATION = Number(opts.duration || 4);
const WARMUP = Number(opts.warmup || 1);
const SERVERS = String(opts.servers || 'sb-pg node-pg sb-sqlite-full sb-sqlite-normal').split(/\s+/).filter(Boolean);
const BUILD = path.resolve(root, opts.build || 'build');
const RESULTS = path.resolve(root, opts.results || process.env.BENCH_RESULTS_DIR || path.join(here, 'results'));
const RUN_LIMIT_MS = 120_000;
const SECRET = 'bench-store-secret-0123456789abcdefghijkl';
const helper = path.join(root, 'tests', 'lib', 'pg-cluster.sh');
const log = (m) => process.stderr.write(`[store] ${m}\n`);

// ---- the cluster and the processes: always cleaned up --------------------------

const children = new Set();
let clusterDir = null;
const work = mkdtempSync(path.join(tmpdir(), 'sb-bench-store-'));
function cleanup() {
  for (const c of children) c.kill('SIGKILL');
  if (clusterDir) try { execFileSync(helper, ['destroy', clusterDir], { stdio: 'ignore' }); } catch { /* gone */ }
  clusterDir = null;
  rmSync(work, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]]) process.on(sig, () => process.exit(code));

function startCluster() {
  const out = execFileSync(helper, ['create'], { encoding: 'utf8', timeout: 120_000 });
  clusterDir = /^SB_PG_DIR=(.*)$/m.exec(out)[1];
  const url = /^SB_PG_URL=(.*)$/m.exec(out)[1];
  // The test cluster runs with fsync off; a benchmark of durable acks wants it on.
  const port = execFileSync('cat', [path.join(clusterDir, 'port')], { encoding: 'utf8' }).trim();
  const psql = ['psql', '-X', '-q', '-h', clusterDir, '-p', port, '-U', 'postgres', '-d', 'postgres', '-c',
    'ALTER SYSTEM SET fsync = on', '-c', 'ALTER SYSTEM SET synchronous_commit = on', '-c',
    'ALTER SYSTEM SET full_page_writes = on', '-c', 'SELECT pg_reload_conf()'];
  const asOwner = process.getuid() === 0 ? ['runuser', ['-u', 'postgres', '--', ...psql]] : [psql[0], psql.slice(1)];
  execFileSync(asOwner[0], asOwner[1], { stdio: 'pipe' });
  return url;
}

function serverCommand(id, url) {
  const dataDir = mkdtempSync(path.join(work, 'data-'));
  const sb = [path.join(BUILD, 'switchboard'), '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn',
    '--events-per-second', '0', '--jwt-secret', SECRET, '--data-dir', dataDir];
  switch (id) {
  case 'sb-pg': return [...sb, '--database-url', url];
  case 'sb-sqlite-full': return [...sb, '--store-sync', 'full'];
  case 'sb-sqlite-normal': return [...sb, '--store-sync', 'normal'];
  case 'node-pg': return ['node', path.join(here, 'peers', 'sio-pg-chat.mjs'), '--host', '127.0.0.1', '--port', '0',
    '--jwt-secret', SECRET, '--database-url', url];
  default: throw new Error(`unknown server ${id}`);
  }
}

/** Starts a server; resolves { port, stop() } once it prints "listening on". */
function startServer(id, url) {
  const [bin, ...args] = serverCommand(id, url);
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(proc);
  let err = '';
  const stop = () => new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode) { children.delete(proc); resolve(); return; }
    proc.once('exit', () => { children.delete(proc); resolve(); });
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { stop(); reject(new Error(`${id} did not start: ${err}`)); }, 30_000);
    proc.stderr.on('data', (d) => {
      err += d;
      const m = /listening on [^\s]*:(\d+)/.exec(err);
      if (m && timer) { clearTimeout(timer); resolve({ port: Number(m[1]), stop, stderr: () => err }); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${id} exited ${code}: ${err}`)); });
  });
}

// ---- the senders -------------------------------------------------------------------

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function token(sub) {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${head}.${createHmac('sha256', SECRET).update(head).digest('base64url')}`;
}

function connect(port, user) {
  const s = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false,
    auth: { token: token(user) }, timeout: 30_000 });
  s.on('message:received', (m, confirm) => { if (typeof confirm === 'function') confirm(); });
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', (e) => reject(new Error(`${user}: ${e.message}`)));
  });
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null);

async function measure(id, url, n, tag) {
  const srv = await startServer(id, url);
  const sockets = [];
  try {
    for (let i = 0; i < n; i += 100) {
      sockets.push(...await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, (_, k) => connect(srv.port, `${tag}-u${i + k}`))));
    }
    const lat = [];
    let acked = 0, errors = 0, measuring = false, running = true;
    const content = 'x'.repeat(32);
    const loop = async (s, i) => {
      const receiverId = `${tag}-u${n > 1 ? (i + 1) % n : 'offline'}`;
      while (running) {
        const t0 = process.hrtime.bigint();
        let r;
        try {
          r = await s.timeout(30_000).emitWithAck('message:send', { receiverId, content });
        } catch {
          r = { error: { code: 'timeout' } };
        }
        if (!measuring) continue;
        if (r && r.error) { errors++; continue; }
        acked++;
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    };
    const loops = sockets.map(loop);
    const hard = setTimeout(() => { running = false; }, RUN_LIMIT_MS);
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    measuring = true;
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, DURATION * 1000));
    measuring = false;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    running = false;
    await Promise.all(loops);
    clearTimeout(hard);
    lat.sort((a, b) => a - b);
    return { server: id, senders: n, acked, errors, secs: +secs.toFixed(2),
      per_s: Math.round(acked / secs), p50_ms: +pct(lat, 0.5)?.toFixed(2), p99_ms: +pct(lat, 0.99)?.toFixed(2) };
  } finally {
    for (const s of sockets) s.disconnect();
    await srv.stop();
  }
}

// ---- the matrix and the report ------------------------------------------------------

const url = startCluster();
log(`PostgreSQL ${execFileSync('psql', ['-XAtq', url, '-c', 'SHOW server_version'], { encoding: 'utf8' }).trim()} ` +
  `(fsync ${execFileSync('psql', ['-XAtq', url, '-c', 'SHOW fsync'], { encoding: 'utf8' }).trim()}); ` +
  `senders [${SENDERS}], ${DURATION} s each after ${WARMUP} s`);
const rows = [];
for (const n of SENDERS) {
  for (const id of SERVERS) {
    let row;
    const load = loadavg()[0];
    try {
      row = await measure(id, url, n, `${id}-${n}`);
    } catch (e) {
      row = { server: id, senders: n, error: String(e.message || e).slice(0, 300) };
    }
    row.load1 = +load.toFixed(1); // the machine's 1-minute load average as the run began
    log(JSON.stringify(row));
    rows.push(row);
  }
}

const get = (id, n) => rows.find((r) => r.server === id && r.senders === n);
const cell = (v) => (v === undefined || v === null || Number.isNaN(v) ? '—' : String(v));
const lines = [
  '# Stored messages: acknowledged `message:send`',
  '',
  `${new Date().toISOString()}, ${DURATION} s per run after ${WARMUP} s of warm-up, 32-byte messages, ` +
  'each sender with one message in flight; PostgreSQL 15 (fsync, synchronous_commit on) on the same machine. ' +
  '`node-pg`: socket.io 4 + pg, one INSERT … RETURNING per message (bench/peers/sio-pg-chat.mjs). ' +
  'Produced by `node bench/store.mjs` (bench/README.md). "load avg": the machine\'s 1-minute load ' +
  `average as the run began (${require('node:os').cpus().length} CPUs; other work shares them).`,
  '',
  '| senders | server | acked msg/s | p50 ms | p99 ms | errors | ÷ node-pg | load avg |',
  '|---:|---|---:|---:|---:|---:|---:|---:|',
];
for (const n of SENDERS) {
  const peer = get('node-pg', n);
  for (const id of SERVERS) {
    const r = get(id, n);
    if (!r) continue;
    const ratio = peer && peer.per_s && r.per_s && id !== 'node-pg' ? `${(r.per_s / peer.per_s).toFixed(1)}x` : '';
    lines.push(`| ${n} | ${id} | ${cell(r.per_s)} | ${cell(r.p50_ms)} | ${cell(r.p99_ms)} | ` +
      `${r.error ? `failed: ${r.error.replace(/\|/g, '/').slice(0, 80)}` : cell(r.errors)} | ${ratio} | ${r.load1} |`);
  }
}
mkdirSync(RESULTS, { recursive: true });
writeFileSync(path.join(RESULTS, 'store.md'), `${lines.join('\n')}\n`);
writeFileSync(path.join(RESULTS, 'store.json'), `${JSON.stringify({ duration_s: DURATION, warmup_s: WARMUP, rows }, null, 2)}\n`);
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(0);
