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
// The senders run in --clients processes (bench/store-client.mjs), the same
// for every server; the CPU of each part (server and its busiest thread but
// the first, PostgreSQL, the clients) and Switchboard's store counters
// (batches, their size, commit time) are recorded with each run.
// --client c (the default) runs the senders in the C load generator instead
// (bench/loadgen.c, send mode: one process, a few % of a core), so that on a
// small machine the Node.js clients' CPU does not decide the figures.
// Usage: node bench/store.mjs [--senders "1 100 1000"] [--pools "1 2 4 8"] [--duration 4] [--warmup 1] [--client c|node]
//        [--clients 4] [--repeat 1] [--servers "sb-pg node-pg sb-sqlite-full sb-sqlite-normal"]
//        [--build DIR] [--results DIR]
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './peers/common.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const require = createRequire(path.join(here, 'peers', 'package.json'));

const opts = parseArgs(process.argv.slice(2));
const SENDERS = String(opts.senders || '1 100 1000').split(/\s+/).filter(Boolean).map(Number);
const DURATION = Number(opts.duration || 4);
const WARMUP = Number(opts.warmup || 1);
// Client processes (each one CPU at most); a run uses at most one per sender.
const CLIENTS = Number(opts.clients || 4);
const CLIENT = String(opts.client || 'c');
if (!['c', 'node'].includes(CLIENT)) throw new Error('--client is c or node');
const LOADGEN = path.join(root, 'build', 'bench', 'loadgen');
// Rounds of the whole matrix: on a shared machine one run says little.
const REPEAT = Number(opts.repeat || 1);
// --pools "1 4": sb-pg once per PostgreSQL pool size (--database-pool-size),
// as sb-pg/p1, sb-pg/p4; without it, sb-pg runs with the server's default.
const POOLS = String(opts.pools || '').split(/\s+/).filter(Boolean).map(Number);
const SERVERS = String(opts.servers || 'sb-pg node-pg sb-sqlite-full sb-sqlite-normal').split(/\s+/).filter(Boolean)
  .flatMap((id) => (id === 'sb-pg' && POOLS.length ? POOLS.map((p) => `sb-pg/p${p}`) : [id]));
const BUILD = path.resolve(root, opts.build || 'build');
const RESULTS = path.resolve(root, opts.results || process.env.BENCH_RESULTS_DIR || path.join(here, 'results'));
const SECRET = 'bench-store-secret-0123456789abcdefghijkl';
const API_KEY = 'bench-store-api-key';
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
  // A durable cluster with PostgreSQL's defaults: fsync and full-page writes
  // on, a 128MB buffer cache (the test clusters turn the first two off and
  // take 16MB on the command line, where ALTER SYSTEM cannot undo it).
  const out = execFileSync(helper, ['create'], { encoding: 'utf8', timeout: 120_000,
    env: { ...process.env, SB_PG_DURABLE: '1' } });
  clusterDir = /^SB_PG_DIR=(.*)$/m.exec(out)[1];
  return /^SB_PG_URL=(.*)$/m.exec(out)[1];
}

// ---- where the CPU goes: the server (per thread) and PostgreSQL ------------------------

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);
/** utime + stime of /proc/<pid>[/task/<tid>]/stat in ms; 0 when it is gone. */
function cpuMs(statPath) {
  try {
    const f = readFileSync(statPath, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' '); // fields 3.. (comm may hold spaces)
    return (Number(rest[11]) + Number(rest[12])) * TICK_MS;
  } catch { return 0; }
}
function threadsMs(pid) {
  const out = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) out[tid] = cpuMs(`/proc/${pid}/task/${tid}/stat`);
  } catch { /* gone */ }
  return out;
}
/** The server's store threads (named sb-store: one on SQLite, one per
 * pooled connection on PostgreSQL). */
function storeThreads(pid) {
  const tids = new Set();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`))
      if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === 'sb-store') tids.add(tid);
  } catch { /* gone */ }
  return tids;
}
/** CPU ms of the cluster's postmaster and of every process it started
 * (backends, WAL writer, ...), by pid. */
function postgresMs() {
  let master;
  try { master = Number(readFileSync(path.join(clusterDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]); } catch {
    return null;
  }
  const out = { [master]: cpuMs(`/proc/${master}/stat`) };
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[1]) === master) out[p] = cpuMs(`/proc/${p}/stat`);
    } catch { /* gone */ }
  }
  return out;
}
/** CPU ms spent between two snapshots by pid: a process gone by the second
 * is left out (its last ticks are lost), a new one counts from 0. */
function spentMs(a, b) {
  let ms = 0;
  for (const [pid, v] of Object.entries(b)) ms += Math.max(0, v - (a[pid] || 0));
  return ms;
}
function cpuSnapshot(pid) {
  return { threads: threadsMs(pid), store: storeThreads(pid), pg: postgresMs() };
}
/** CPU % of one core over the window: the server (and its busiest thread
 * but the first, the store thread on Switchboard) and PostgreSQL. */
function cpuShare(a, b, secs, pid) {
  const pct = (ms) => Math.round(ms / (secs * 10));
  const server = spentMs(a.threads, b.threads);
  let other = 0, store = 0;
  for (const [tid, ms] of Object.entries(b.threads)) {
    if (Number(tid) !== pid) other = Math.max(other, ms - (a.threads[tid] || 0));
    if (b.store.has(tid)) store += ms - (a.threads[tid] || 0);
  }
  const pg = a.pg === null || b.pg === null ? null : spentMs(a.pg, b.pg);
  return { server_cpu: pct(server), server_other_thread_cpu: pct(other), store_threads_cpu: pct(store),
    pg_cpu: pg === null ? null : pct(pg), server_cpu_ms: Math.round(server), pg_cpu_ms: pg === null ? null : Math.round(pg) };
}
/** CPU µs per acknowledged message of the server and of PostgreSQL: what a
 * change to either costs or saves, whatever the noisy machine did to msg/s. */
function perMessage(row) {
  const us = (ms) => (ms === null || ms === undefined || !row.acked ? null : +(ms * 1000 / row.acked).toFixed(1));
  return { ...row, server_us_per_msg: us(row.server_cpu_ms), pg_us_per_msg: us(row.pg_cpu_ms) };
}

function serverCommand(id, url) {
  const dataDir = mkdtempSync(path.join(work, 'data-'));
  const sb = [path.join(BUILD, 'switchboard'), '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn',
    '--events-per-second', '0', '--jwt-secret', SECRET, '--data-dir', dataDir, '--api-key', API_KEY];
  const pool = /^sb-pg\/p(\d+)$/.exec(id);
  if (pool) return [...sb, '--database-url', url, '--database-pool-size', pool[1]];
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
      if (m && timer) { clearTimeout(timer); resolve({ port: Number(m[1]), pid: proc.pid, stop, stderr: () => err }); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${id} exited ${code}: ${err}`)); });
  });
}

// ---- the senders: --clients processes (bench/store-client.mjs) -----------------------

/** Forks the client processes, each with its share of the n senders connected. */
async function startClients(port, n, tag) {
  const k = Math.max(1, Math.min(CLIENTS, n));
  const clients = [];
  for (let c = 0; c < k; c++) {
    const proc = fork(path.join(here, 'store-client.mjs'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    children.add(proc);
    proc.once('exit', () => children.delete(proc));
    const next = () => new Promise((resolve, reject) => {
      proc.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
      proc.once('exit', (code) => reject(new Error(`client exited ${code}`)));
    });
    clients.push({ proc, next });
  }
  await Promise.all(clients.map((c, i) => {
    const ready = c.next();
    c.proc.send({ connect: { port, secret: SECRET, tag, n, lo: Math.floor(i * n / k), hi: Math.floor((i + 1) * n / k) } });
    return ready;
  }));
  return clients;
}

/** Switchboard's store counters (/metrics); null for the peer, and null
 * (said on stderr) when they cannot be read: a refused or cut answer must
 * not turn into NaN (null in the JSON) silently. */
async function storeStats(id, port) {
  if (!id.startsWith('sb-')) return null;
  let why = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } });
      const text = await res.text();
      const num = (name) => Number(new RegExp(`^switchboard_store_${name} ([\\d.]+)$`, 'm').exec(text)?.[1]);
      const s = { requests: num('requests_total'), batches: num('batches_total'),
        commits: num('commit_seconds_count'), commit_s: num('commit_seconds_sum') };
      if (res.ok && Object.values(s).every(Number.isFinite)) return s;
      why = `HTTP ${res.status}, ${text.length} bytes: ${text.slice(0, 80).replace(/\n/g, ' ')}`;
    } catch (e) { why = String(e.message || e); }
  }
  log(`store counters unreadable (${why})`);
  return null;
}
/** Batches per second, mean commit time (BEGIN to COMMIT's end) and the share of the window spent in them. */
function storeShare(a, b, secs) {
  if (!a || !b) return {};
  const commits = b.commits - a.commits, busy = b.commit_s - a.commit_s;
  const batches = b.batches - a.batches;
  return { batches_per_s: Math.round(batches / secs), batch_size: batches ? +((b.requests - a.requests) / batches).toFixed(1) : null,
    commit_ms: commits ? +(busy * 1000 / commits).toFixed(2) : null, store_busy_pct: Math.round(busy * 100 / secs) };
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null);

async function measure(id, url, n, tag) {
  const srv = await startServer(id, url);
  let clients = [];
  try {
    clients = await startClients(srv.port, n, tag);
    const all = (m) => { for (const c of clients) c.proc.send(m); };
    all({ go: true });
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    const stats0 = await storeStats(id, srv.port);
    const cpu0 = cpuSnapshot(srv.pid);
    all({ measure: true });
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, DURATION * 1000));
    const counts = clients.map((c) => c.next());
    all({ stop: true });
    const got = await Promise.all(counts);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuShare(cpu0, cpuSnapshot(srv.pid), secs, srv.pid);
    const store = storeShare(stats0, await storeStats(id, srv.port), secs);
    const lat = got.flatMap((g) => g.lat).sort((a, b) => a - b);
    const acked = got.reduce((a, g) => a + g.acked, 0);
    return { server: id, senders: n, acked, errors: got.reduce((a, g) => a + g.errors, 0), secs: +secs.toFixed(2),
      per_s: Math.round(acked / secs), p50_ms: +pct(lat, 0.5)?.toFixed(2), p99_ms: +pct(lat, 0.99)?.toFixed(2),
      ...cpu, client_cpu: Math.round(got.reduce((a, g) => a + g.cpu_ms, 0) / (secs * 10)), clients: clients.length,
      ...store };
  } finally {
    await Promise.all(clients.map((c) => new Promise((resolve) => {
      if (c.proc.exitCode !== null) { resolve(); return; }
      c.proc.once('exit', resolve);
      c.proc.send({ end: true });
      setTimeout(() => c.proc.kill('SIGKILL'), 35_000).unref();
    })));
    await srv.stop();
  }
}

// ---- the same with the C load generator --------------------------------------------

/** Runs loadgen's send mode against the server; the CPU and store counters
 * are read when it says its window begins and ends. */
async function measureC(id, url, n, tag) {
  const srv = await startServer(id, url);
  try {
    const lg = spawn(LOADGEN, ['--port', String(srv.port), '--mode', 'send', '--conns', String(n),
      '--jwt-secret', SECRET, '--user-prefix', tag, '--duration', String(DURATION), '--warmup', String(WARMUP),
      '--server-pid', String(srv.pid), '--max-time', String(DURATION + WARMUP + 120), '--quiet'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(lg);
    let out = '', err = '', begin = null, end = null;
    lg.stdout.on('data', (d) => { out += d; });
    lg.stderr.on('data', (d) => {
      err += d;
      if (!begin && err.includes('window begins')) begin = (async () => ({ stats: await storeStats(id, srv.port), cpu: cpuSnapshot(srv.pid) }))();
      if (!end && err.includes('window ends')) end = { cpu: cpuSnapshot(srv.pid), stats: storeStats(id, srv.port) };
    });
    const code = await new Promise((resolve) => lg.once('exit', resolve));
    children.delete(lg);
    const r = JSON.parse(out.trim().split('\n').pop() || '{}');
    if (code !== 0 || !begin || !end) throw new Error(`loadgen exit ${code}: ${err.slice(-300)}`);
    const b = await begin, secs = r.window_s;
    const cpu = cpuShare(b.cpu, end.cpu, secs, srv.pid);
    const store = storeShare(b.stats, await end.stats, secs);
    return { server: id, senders: n, acked: r.msgs, errors: r.ack_errors + r.errors, secs: +secs.toFixed(2),
      per_s: Math.round(r.msgs_per_s), p50_ms: +(r.p50_us / 1000).toFixed(2), p99_ms: +(r.p99_us / 1000).toFixed(2),
      ...cpu, client_cpu: Math.round(r.loadgen_cpu_pct), clients: 1, ...store };
  } finally {
    await srv.stop();
  }
}

// ---- the matrix and the report ------------------------------------------------------

if (CLIENT === 'c') execFileSync('make', ['-s', '-C', here], { stdio: 'inherit' });
const url = startCluster();
log(`PostgreSQL ${execFileSync('psql', ['-XAtq', url, '-c', 'SHOW server_version'], { encoding: 'utf8' }).trim()} ` +
  `(fsync ${execFileSync('psql', ['-XAtq', url, '-c', 'SHOW fsync'], { encoding: 'utf8' }).trim()}); ` +
  `senders [${SENDERS}], ${DURATION} s each after ${WARMUP} s`);
const rows = [];
for (let rep = 1; rep <= REPEAT; rep++) {
  for (const n of SENDERS) {
    for (const id of SERVERS) {
      let row;
      const load = loadavg()[0];
      try {
        row = perMessage(await (CLIENT === 'c' ? measureC : measure)(id, url, n, `${id}-${n}-${rep}`));
      } catch (e) {
        row = { server: id, senders: n, error: String(e.message || e).slice(0, 300) };
      }
      row.rep = rep;
      row.load1 = +load.toFixed(1); // the machine's 1-minute load average as the run began
      log(JSON.stringify(row));
      rows.push(row);
    }
  }
}

// Each cell: the median of the repetitions, and their range when there are
// several. The ratio pairs each run with the peer's run of the same round.
const runs = (id, n) => rows.filter((r) => r.server === id && r.senders === n);
const cell = (v) => (v === undefined || v === null || Number.isNaN(v) ? '—' : String(v));
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : null; };
const spread = (v, fmt = (x) => String(x)) => {
  const ok = v.filter((x) => x !== null && x !== undefined && !Number.isNaN(x));
  if (!ok.length) return '—';
  const lo = Math.min(...ok), hi = Math.max(...ok);
  return ok.length > 1 && lo !== hi ? `${fmt(median(ok))} (${fmt(lo)}–${fmt(hi)})` : fmt(median(ok));
};
const lines = [
  '# Stored messages: acknowledged `message:send`',
  '',
  `${new Date().toISOString()}, ${REPEAT} round(s) of every case, ${DURATION} s per run after ${WARMUP} s of warm-up, ` +
  '32-byte messages, each sender with one message in flight; the senders in ' +
  `${CLIENT === 'c' ? 'the C load generator (bench/loadgen.c, send mode)' : `up to ${CLIENTS} Node.js client processes`}; PostgreSQL 15 with its defaults (fsync, full_page_writes, synchronous_commit on, shared_buffers 128MB) on the same machine. ` +
  '`node-pg`: socket.io 4 + pg, one INSERT … RETURNING per message (bench/peers/sio-pg-chat.mjs). ' +
  'Produced by `node bench/store.mjs` (bench/README.md). Cells: the median of the rounds (their range). ' +
  '÷ node-pg: each round\'s run over the peer\'s run of the same round. CPU: % of one core during the ' +
  'measured window (server, in brackets its store threads; PostgreSQL, every process of the cluster; the client processes). batch: requests per ' +
  'store batch and the mean time from BEGIN to the end of COMMIT. µs/msg: CPU per acknowledged message, server / PostgreSQL. "load avg": the machine\'s 1-minute load ' +
  `average as the runs began (${require('node:os').cpus().length} CPUs; other work shares them).`,
  '',
  '| senders | server | acked msg/s | ÷ node-pg | p50 ms | p99 ms | errors | CPU server (store) / PG / clients | µs/msg | batch (ms) | load avg |',
  '|---:|---|---:|---:|---:|---:|---:|---|---|---|---|',
];
for (const n of SENDERS) {
  for (const id of SERVERS) {
    const rs = runs(id, n);
    if (!rs.length) continue;
    const ok = rs.filter((r) => !r.error);
    const ratios = id === 'node-pg' ? [] : ok.map((r) => {
      const peer = runs('node-pg', n).find((p) => p.rep === r.rep && p.per_s);
      return peer && r.per_s ? r.per_s / peer.per_s : null;
    });
    const failed = rs.find((r) => r.error);
    const col = (k) => ok.map((r) => r[k]);
    const store = ok.some((r) => r.store_threads_cpu !== undefined) ? ` (${median(col('store_threads_cpu'))})` : '';
    const cpu = ok.length ? `${median(col('server_cpu'))}${store} / ${cell(median(col('pg_cpu')))} / ${median(col('client_cpu'))}` : '—';
    const batch = ok.some((r) => r.batch_size) ? `${median(col('batch_size'))} (${median(col('commit_ms'))})` : '';
    lines.push(`| ${n} | ${id} | ${spread(col('per_s'))} | ${ratios.length ? spread(ratios, (x) => `${x.toFixed(1)}x`) : ''} | ` +
      `${spread(col('p50_ms'))} | ${spread(col('p99_ms'))} | ` +
      `${failed ? `failed: ${failed.error.replace(/\|/g, '/').slice(0, 80)}` : ok.reduce((a, r) => a + r.errors, 0)} | ` +
      `${cpu} | ${cell(median(col('server_us_per_msg')))} / ${cell(median(col('pg_us_per_msg')))} | ${batch} | ` +
      `${spread(rs.map((r) => r.load1))} |`);
  }
}
mkdirSync(RESULTS, { recursive: true });
writeFileSync(path.join(RESULTS, 'store.md'), `${lines.join('\n')}\n`);
writeFileSync(path.join(RESULTS, 'store.json'),
  `${JSON.stringify({ duration_s: DURATION, warmup_s: WARMUP, clients: CLIENTS, repeat: REPEAT, rows }, null, 2)}\n`);
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(0);
