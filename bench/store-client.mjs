// One load-generating process of bench/store.mjs, which forks several so
// that the client side is not what limits a fast server (each Node.js
// process is one CPU at most). Driven over IPC:
//   {connect: {port, secret, tag, n, lo, hi}}  connect senders lo..hi-1 of n  -> {ready}
//   {go}        every sender starts its loop: send, wait for the ack, send again
//   {measure}   count acks and latencies from now on
//   {stop}      stop counting                 -> {acked, errors, lat, cpu_ms}
//   {end}       the loops end, sockets close  -> exit
// Sender i writes to sender i+1 (mod n); its device confirms what it receives.
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, 'peers', 'package.json'));
const { io } = require('socket.io-client');
const RUN_LIMIT_MS = 120_000;

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function token(secret, sub) {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

function connect(port, secret, user) {
  const s = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false,
    auth: { token: token(secret, user) }, timeout: 30_000 });
  s.on('message:received', (m, confirm) => { if (typeof confirm === 'function') confirm(); });
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', (e) => reject(new Error(`${user}: ${e.message}`)));
  });
}

const sockets = [];
let cfg = null, loops = [], lat = [], acked = 0, errors = 0, measuring = false, running = true, cpu0 = 0;
const cpuMs = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; };
const content = 'x'.repeat(32);

async function loop(s, i) {
  const receiverId = `${cfg.tag}-u${cfg.n > 1 ? (i + 1) % cfg.n : 'offline'}`;
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
}

process.on('message', async (m) => {
  try {
    if (m.connect) {
      cfg = m.connect;
      for (let i = cfg.lo; i < cfg.hi; i += 100) {
        const ids = Array.from({ length: Math.min(100, cfg.hi - i) }, (_, k) => i + k);
        sockets.push(...await Promise.all(ids.map((u) => connect(cfg.port, cfg.secret, `${cfg.tag}-u${u}`))));
      }
      process.send({ ready: true });
    } else if (m.go) {
      loops = sockets.map((s, k) => loop(s, cfg.lo + k));
      setTimeout(() => { running = false; }, RUN_LIMIT_MS).unref();
    } else if (m.measure) {
      cpu0 = cpuMs();
      measuring = true;
    } else if (m.stop) {
      measuring = false;
      process.send({ acked, errors, lat, cpu_ms: cpuMs() - cpu0 });
    } else if (m.end) {
      running = false;
      await Promise.all(loops);
      for (const s of sockets) s.disconnect();
      process.exit(0);
    }
  } catch (e) {
    process.send({ error: String(e.message || e) });
    process.exit(1);
  }
});
