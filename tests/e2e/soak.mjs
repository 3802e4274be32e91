#!/usr/bin/env node
// Soak and churn: many clients connect, chat in rooms, send direct messages
// with acks, join and leave rooms, and disconnect abruptly (TCP reset,
// half-open, mid-frame) for a fixed time. Then asserts that the server's
// file descriptors return to their baseline, its memory returns near its
// baseline, and every acknowledged message is stored exactly once.
// Loopback only; bounded in clients and time; stops by itself.
//   node tests/e2e/soak.mjs [--clients 200] [--seconds 8] [--build build]
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { startServer } from './lib/server.mjs';
import { mintToken } from './lib/util.mjs';
import { io } from 'socket.io-client';

const { values: opt } = parseArgs({ options: {
  clients: { type: 'string', default: '200' }, seconds: { type: 'string', default: '8' },
  build: { type: 'string', default: process.env.SB_BUILD_DIR || 'build' },
} });
process.env.SB_BUILD_DIR = opt.build;
const CLIENTS = Math.min(Number(opt.clients), 5000);
const SECONDS = Math.min(Number(opt.seconds), 600);

let passed = 0, failed = 0;
function check(name, fn) {
  try { fn(); passed++; console.log(`ok - ${name}`); } catch (e) { failed++; console.log(`not ok - ${name}\n  ${e.message}`); }
}

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const fds = (pid) => readdirSync(`/proc/${pid}/fd`).length;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (a) => a[Math.floor(Math.random() * a.length)];

async function metrics(srv) {
  const t = await (await fetch(`${srv.url}/metrics`, { headers: { authorization: 'Bearer soak' } })).text();
  const get = (n) => Number((t.split('\n').find((l) => l.startsWith(n + ' ')) || ' NaN').split(' ')[1]);
  return { connections: get('switchboard_connections') };
}

/** One well-behaved user: chats in rooms and sends acked direct messages. */
function user(srv, id, acked, deadline) {
  const s = io(srv.url, { transports: [Math.random() < 0.8 ? 'websocket' : 'polling'], forceNew: true,
    reconnection: false, auth: { token: mintToken({ sub: id }, srv.secret) } });
  const rooms = ['lobby', 'r1', 'r2', 'r3'];
  return new Promise((resolve) => {
    let sent = 0;
    s.on('connect_error', () => resolve(0));
    // Cut off before (or while) chatting, e.g. a heartbeat missed on a busy
    // machine: this client is done, whatever it managed.
    s.on('disconnect', () => resolve(sent));
    s.on('connection:established', async () => {
      while (Date.now() < deadline && s.connected) {
        const room = pick(rooms);
        try {
          await s.timeout(5000).emitWithAck('chat:join', room);
          await s.timeout(5000).emitWithAck('chat:message', { roomId: room, message: `m${sent}` });
          const peer = `u${Math.floor(Math.random() * CLIENTS)}`;
          if (peer !== id) {
            const m = await s.timeout(5000).emitWithAck('message:send', { receiverId: peer, content: `${id}#${sent}` });
            if (!m.error) acked.push(m);
          }
          if (Math.random() < 0.3) await s.timeout(5000).emitWithAck('chat:leave', room);
          sent++;
        } catch (e) { if (process.env.SOAK_DEBUG) console.log("# client", id, e.message); break; } // not acked: nothing to check
        await sleep(50 + Math.random() * 150);
      }
      s.close();
      resolve(sent);
    });
  });
}

/** A rude client: opens an Engine.IO websocket and drops it in a bad way. */
function rude(srv) {
  return new Promise((resolve) => {
    const sock = net.connect(srv.port, '127.0.0.1', () => {
      sock.write(`GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      const how = Math.floor(Math.random() * 3);
      setTimeout(() => {
        if (how === 0) sock.resetAndDestroy();            // TCP reset
        else if (how === 1) { sock.write(Buffer.from([0x81, 0xfe, 0x10])); sock.destroy(); } // mid-frame
        else sock.end();                                   // half-close, then silence
        resolve();
      }, 20 + Math.random() * 200);
    });
    sock.on('error', () => resolve());
  });
}

const srv = await startServer('switchboard', { args: ['--api-key', 'soak', '--ping-interval', '2000',
  '--ping-timeout', '2000', '--store-sync', 'normal'] });
try {
  await sleep(300);
  const base = { rss: rssKb(srv.proc.pid), fds: fds(srv.proc.pid) };
  const acked = [];
  const deadline = Date.now() + SECONDS * 1000;
  const waves = [];
  for (let i = 0; i < CLIENTS; i++) waves.push(user(srv, `u${i}`, acked, deadline));
  const rudeLoop = (async () => { while (Date.now() < deadline) { await rude(srv); await sleep(10); } })();
  const sent = await Promise.all(waves);
  await rudeLoop;
  const peak = rssKb(srv.proc.pid);
  for (let i = 0; i < 500; i++) { if ((await metrics(srv)).connections <= 1) break; await sleep(20); }
  // Half-open peers are cut by the heartbeat (ping interval + timeout).
  for (let i = 0; i < 400 && fds(srv.proc.pid) > base.fds + 1; i++) await sleep(25);
  // The server gives memory back a second or two after traffic stops.
  for (let i = 0; i < 30 && rssKb(srv.proc.pid) - base.rss > (peak - base.rss) * 0.5; i++) await sleep(100);
  const end = { rss: rssKb(srv.proc.pid), fds: fds(srv.proc.pid) };
  console.log(`# clients=${CLIENTS} seconds=${SECONDS} rounds=${sent.reduce((a, b) => a + b, 0)} acked_dm=${acked.length}`);
  console.log(`# rss base=${base.rss}KB peak=${peak}KB end=${end.rss}KB fds base=${base.fds} end=${end.fds}`);
  check('most clients made progress', () => assert.ok(sent.filter((n) => n > 0).length >= CLIENTS * 0.5,
    `${sent.filter((n) => n > 0).length} of ${CLIENTS}`));
  check('file descriptors return to the baseline', () => assert.ok(end.fds <= base.fds + 1, `${end.fds} vs ${base.fds}`));
  // AddressSanitizer keeps freed memory in quarantine, so RSS says nothing
  // there; its leak check at shutdown covers that build instead.
  if (!/asan/.test(opt.build)) {
    check('memory returns near the baseline after the clients leave', () => assert.ok(end.rss - base.rss < Math.max(8 * 1024, (peak - base.rss) * 0.5),
      `end ${end.rss}KB, base ${base.rss}KB, peak ${peak}KB`));
  }
  // Every acknowledged direct message is stored exactly once.
  const byConv = new Map();
  for (const m of acked) (byConv.get(m.conversationId) || byConv.set(m.conversationId, []).get(m.conversationId)).push(m.id);
  let missing = 0, dup = 0;
  for (const [conv, ids] of byConv) {
    const stored = [];
    let before;
    for (;;) {
      const q = before ? `?limit=100&before=${before}` : '?limit=100';
      const r = await (await fetch(`${srv.url}/api/conversations/${encodeURIComponent(conv)}/messages${q}`,
        { headers: { authorization: 'Bearer soak' } })).json();
      stored.push(...r.messages.map((x) => x.id));
      if (!r.hasMore) break;
      before = r.messages[r.messages.length - 1].id;
    }
    const counts = new Map();
    for (const id of stored) counts.set(id, (counts.get(id) || 0) + 1);
    for (const id of ids) { const c = counts.get(id) || 0; if (c === 0) missing++; if (c > 1) dup++; }
  }
  check(`every acknowledged message is stored exactly once (${acked.length} in ${byConv.size} conversations)`,
    () => { assert.equal(missing, 0, `${missing} missing`); assert.equal(dup, 0, `${dup} duplicated`); });
} finally {
  const r = await srv.stop().catch((e) => { failed++; console.log(`not ok - clean shutdown\n  ${e.message.slice(0, 2000)}`); });
  if (r) { passed++; console.log('ok - clean shutdown (exit 0, no sanitizer report)'); }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
