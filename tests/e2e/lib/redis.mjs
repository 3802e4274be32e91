// A throwaway redis-server (Debian's) for cluster tests: a free loopback
// port, no persistence, stopped when the test process exits (also on
// SIGINT/SIGTERM). stop()/start() take it down and up on the same port.
import { spawn } from 'node:child_process';
import net from 'node:net';

const live = new Set();
process.on('exit', () => { for (const p of live) p.kill('SIGKILL'); });
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  if (process.listenerCount(sig) === 0) process.on(sig, () => process.exit(code));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function launch(port) {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'warning'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let out = '';
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
    live.delete(proc);
    resolve({ code, signal });
  }));
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  return { proc, exited, output: () => out };
}

async function waitReady(port, limitMs = 10000) {
  const end = Date.now() + limitMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('error', () => resolve(false));
      c.once('connect', () => {
        c.write('PING\r\n');
        c.once('data', (d) => { c.destroy(); resolve(d.toString().startsWith('+PONG')); });
      });
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`redis-server on ${port} not ready within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts redis-server; resolves with { url, port, stop(), start() }. */
export async function startRedis() {
  const port = await freePort();
  let cur = null;
  const r = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      cur = launch(port);
      const early = cur.exited.then((x) => { throw new Error(`redis-server exited ${JSON.stringify(x)}: ${cur.output()}`); });
      await Promise.race([waitReady(port), early]);
      early.catch(() => {});
    },
    async stop() {
      if (!cur || cur.proc.exitCode !== null || cur.proc.signalCode !== null) return;
      cur.proc.kill('SIGTERM');
      const t = setTimeout(() => cur.proc.kill('SIGKILL'), 5000);
      await cur.exited;
      clearTimeout(t);
    },
  };
  await r.start();
  return r;
}
