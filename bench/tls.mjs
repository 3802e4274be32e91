// TLS cost side by side (part of `make bench`): Switchboard's sio_echo
// example and the Node.js peer (node:https + socket.io 4, bench/peers),
// both serving the same certificate. Two measures of the server's CPU
// (utime + stime from /proc, so the client's own cost does not count):
//   - per 1,000 TLS handshakes (fresh connections, no session resumption),
//   - per 1,000 echo round trips over wss:// (socket.io-client, acks).
// Runs alternate between the servers; medians and Node ÷ Switchboard ratios
// go to stdout and to $BENCH_RESULTS_DIR/tls.md (default bench/results).
// Usage: node bench/tls.mjs [--handshakes 2000] [--messages 20000] [--repeat 3]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { makePki } from '../tests/e2e/lib/tls.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const { io } = createRequire(path.join(root, 'tests/e2e/package.json'))('socket.io-client');
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const HANDSHAKES = arg('handshakes', 2000);
const MESSAGES = arg('messages', 20000);
const REPEAT = arg('repeat', 3);
const TICK_MS = 1000 / 100; // USER_HZ on Linux

function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime
}

function start(name, cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${name}: not listening: ${err}`)), 15000);
    p.stderr.on('data', (d) => {
      err += d;
      const m = /listening on [^ ]*:(\d+)/.exec(err);
      if (m) { clearTimeout(timer); resolve({ name, proc: p, port: Number(m[1]) }); }
    });
    p.on('exit', (code) => reject(new Error(`${name} exited ${code}: ${err}`)));
  });
}

/** n full handshakes, `conc` at a time; resolves when all are done. */
async function handshakes(port, ca, n, conc = 8) {
  let next = 0;
  const one = () => new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => { s.destroy(); resolve(); });
    s.on('error', reject);
  });
  await Promise.all(Array.from({ length: conc }, async () => { while (next++ < n) await one(); }));
}

/** n acked echoes over one wss:// socket, `window` in flight. */
async function echoes(port, ca, n, window = 64) {
  const s = io(`https://127.0.0.1:${port}`, { ca, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise((resolve, reject) => { s.once('connect', resolve); s.once('connect_error', reject); });
  const payload = 'x'.repeat(32);
  let sent = 0;
  await Promise.all(Array.from({ length: window }, async () => {
    while (sent++ < n) await s.timeout(10000).emitWithAck('echo', payload);
  }));
  s.disconnect();
}

async function measure(srv, fn) {
  const before = cpuMs(srv.proc.pid);
  await fn();
  await new Promise((r) => setTimeout(r, 200)); // let the server finish its side
  return cpuMs(srv.proc.pid) - before;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

if (!existsSync(path.join(here, 'peers/node_modules/socket.io'))) // bench/run.sh does the same
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: path.join(here, 'peers'), stdio: 'ignore' });
const pki = makePki();
const servers = [];
try {
  servers.push(await start('switchboard', path.join(root, 'build/examples/sio_echo'),
    ['--host', '127.0.0.1', '--port', '0', '--tls-cert', pki.cert, '--tls-key', pki.key,
      '--events-per-second', '0', '--log-level', 'warn']));
  servers.push(await start('node', process.execPath, [path.join(here, 'peers/sio-echo.mjs'),
    '--port', '0', '--tls-cert', pki.cert, '--tls-key', pki.key]));
  const res = Object.fromEntries(servers.map((s) => [s.name, { hs: [], echo: [] }]));
  for (let r = 0; r < REPEAT; r++) {
    for (const srv of servers) {
      res[srv.name].hs.push(await measure(srv, () => handshakes(srv.port, pki.ca, HANDSHAKES)) / HANDSHAKES * 1000);
      res[srv.name].echo.push(await measure(srv, () => echoes(srv.port, pki.ca, MESSAGES)) / MESSAGES * 1000);
    }
  }
  const sb = res.switchboard, nd = res.node;
  const row = (what, key) => {
    const a = median(sb[key]), b = median(nd[key]);
    return `| ${what} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(b / a).toFixed(1)}x |`;
  };
  const md = [
    '# TLS cost: Switchboard vs Node.js (node:https + socket.io 4)', '',
    `Server CPU in ms (utime + stime), median of ${REPEAT} alternating runs; ` +
    `${HANDSHAKES} fresh handshakes (8 at a time, TLS 1.3, P-256 certificate), ` +
    `${MESSAGES} acked 32-byte echoes over one wss:// socket (64 in flight). ` +
    'CPU is read in 10 ms ticks: the echo figures are a few ticks each (raise --messages for more precision).', '',
    '| per 1,000 | Switchboard | Node.js | Node ÷ Switchboard |', '|---|---|---|---|',
    row('TLS handshakes', 'hs'), row('echo round trips over wss', 'echo'), '',
    `runs: ${JSON.stringify(res)}`, '',
  ].join('\n');
  process.stdout.write(md);
  const dir = process.env.BENCH_RESULTS_DIR || path.join(here, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'tls.md'), md);
} finally {
  for (const s of servers) s.proc.kill('SIGTERM');
  pki.cleanup();
}
