// Starts the server under test as a child process and waits for its
// "listening on HOST:PORT" line on stderr.
//   SB_E2E_TARGET=ref  -> node tests/e2e/ref/<kind>.mjs (reference servers)
//   otherwise          -> $SB_BUILD_DIR/switchboard, $SB_BUILD_DIR/examples/<kind>
//   SB_E2E_PG_URL=url  -> the switchboard server on the PostgreSQL store: each
//                         data directory gets a schema of its own in that
//                         database (a restart on the same --data-dir finds
//                         its data again), see pgStoreArgs()
// Kinds: 'switchboard', 'sio_echo' (both have a reference server), and the
// C-only examples 'ws_echo', 'eio_echo', 'chat_room' (tests of those skip
// when SB_E2E_TARGET=ref: see hasReference()).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const e2eDir = path.resolve(here, '..');
export const repoRoot = path.resolve(e2eDir, '..', '..');
export const DEFAULT_SECRET = 'e2e-test-secret-0123456789abcdefghijkl'; // production mode wants >= 32 bytes

/** Servers started and not yet stopped (for diagnostics and exit cleanup). */
export const liveServers = new Set();

/** Kinds with a reference server in ref/ (the others are C-only). */
export const REFERENCE_KINDS = new Set(['switchboard', 'sio_echo']);
/** Kinds serving the built-in contract: they get a JWT secret and a data dir. */
const BUILTIN_KINDS = new Set(['switchboard', 'chat_plus']);

/** True when `kind` can run under the current target. */
export function hasReference(kind) {
  return REFERENCE_KINDS.has(kind);
}

function command(kind) {
  if (process.env.SB_E2E_TARGET === 'ref') {
    return [process.execPath, [path.join(e2eDir, 'ref', `${kind}.mjs`)]];
  }
  const build = path.resolve(repoRoot, process.env.SB_BUILD_DIR || 'build');
  const bin = kind === 'switchboard' ? path.join(build, 'switchboard')
    : path.join(build, 'examples', kind);
  return [bin, []];
}

function killAll() {
  for (const srv of liveServers) {
    try { srv.proc.kill('SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { killAll(); process.exit(130); });
}

/**
 * Starts `kind` ('switchboard', 'sio_echo', 'ws_echo', 'eio_echo', 'chat_room'). Resolves with
 * { kind, proc, host, port, url, secret, dataDir, stderr(), exited, stop() }.
 * `exited` resolves with {code, signal}; stop() sends SIGTERM, then SIGKILL
 * after 5 s, and resolves with the same.
 */
/* Arguments for a server that a test floods with more events than the
 * default token bucket (10/s, burst 20) allows on purpose. */
export const NO_EVENT_LIMIT = ['--events-per-second', '0'];

/**
 * With SB_E2E_PG_URL set: --database-url arguments giving the server's data
 * directory a PostgreSQL schema of its own (created if missing), so tests
 * written for SQLite directories run unchanged against PostgreSQL.
 */
function pgStoreArgs(argv) {
  const url = process.env.SB_E2E_PG_URL;
  if (!url || argv.includes('--database-url')) return [];
  const dir = argv[argv.lastIndexOf('--data-dir') + 1];
  const schema = `sb_${createHash('sha1').update(path.resolve(dir)).digest('hex').slice(0, 20)}`;
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', url, '-c',
    `SET client_min_messages = warning; CREATE SCHEMA IF NOT EXISTS ${schema}`], { stdio: 'pipe' });
  const sep = url.includes('?') ? '&' : '?';
  return ['--database-url', `${url}${sep}options=-csearch_path%3D${schema}`];
}

export async function startServer(kind, { args = [], env = {}, secret = DEFAULT_SECRET } = {}) {
  if (process.env.SB_E2E_TARGET === 'ref' && !hasReference(kind)) {
    throw new Error(`${kind} has no reference server: skip this test when SB_E2E_TARGET=ref`);
  }
  const [bin, pre] = command(kind);
  const base = ['--host', '127.0.0.1', '--port', '0'];
  let dataDir = null;
  if (BUILTIN_KINDS.has(kind)) {
    dataDir = mkdtempSync(path.join(tmpdir(), 'sb-e2e-'));
    base.push('--jwt-secret', secret, '--data-dir', dataDir, '--log-level', 'warn');
  }
  const pg = BUILTIN_KINDS.has(kind) ? pgStoreArgs([...base, ...args]) : [];
  const proc = spawn(bin, [...pre, ...base, ...args, ...pg], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let errText = '';
  const srv = {
    kind, proc, secret, dataDir, host: null, port: null, url: null,
    stderr: () => errText,
  };
  srv.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      liveServers.delete(srv);
      resolve({ code, signal });
    });
    proc.on('error', (e) => {
      liveServers.delete(srv);
      resolve({ code: null, signal: null, error: e });
    });
  });
  liveServers.add(srv);
  proc.stdout.on('data', (d) => { errText += d.toString(); });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind}: no "listening on" line within 10 s\n${errText}`)), 10000);
    proc.on('error', (e) => { clearTimeout(timer); reject(new Error(`${kind}: cannot start ${bin}: ${e.message}`)); });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${kind} exited early (code ${code}, signal ${signal})\n${errText}`));
    });
    proc.stderr.on('data', (d) => {
      errText += d.toString();
      const m = /listening on ([\d.]+|\[[\da-f:]+\]):(\d+)/.exec(errText);
      if (m && !srv.port) {
        clearTimeout(timer);
        srv.host = m[1];
        srv.port = Number(m[2]);
        const wildcard = srv.host === '0.0.0.0' || srv.host === '[::]';
        srv.url = `http://${wildcard ? '127.0.0.1' : srv.host}:${srv.port}`;
        resolve();
      }
    });
  });
  // A server stopped with SIGTERM must exit 0 with no sanitizer report: this
  // is how leaks and memory errors found by the ASan build fail the suite.
  srv.stop = async () => {
    if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const r = await srv.exited;
      clearTimeout(t);
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      if (process.env.SB_E2E_TARGET !== 'ref' &&
          (r.code !== 0 || /Sanitizer|runtime error:/.test(errText))) {
        throw new Error(`${kind} did not exit cleanly (code ${r.code}, signal ${r.signal})\n${errText}`);
      }
      return r;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    return srv.exited;
  };
  try {
    await ready;
  } catch (e) {
    await srv.stop();
    throw e;
  }
  return srv;
}
