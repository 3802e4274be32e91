#!/usr/bin/env node
// Delivery chaos: users with several devices each, on WebSocket, polling and
// polling upgraded to WebSocket, drop their transports, disconnect and
// reconnect at random while senders stream direct and group messages. At
// the end every device reconnects and stays; then every message the server
// acknowledged must have reached every recipient user (some device of
// theirs), and no device may have seen one message twice. Prints the counts.
// Loopback only; bounded in clients and time; stops by itself.
//   node tests/e2e/chaos.mjs [--users 60] [--devices 3] [--senders 12] [--seconds 8] [--upgrade] [--build build]
// --upgrade: a third of the devices start on polling and upgrade to WebSocket.
// DBG=1 prints the history of every device that saw a message twice, and of
// the devices of a user a message did not reach.
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';
import { startServer } from './lib/server.mjs';
import { mintToken } from './lib/util.mjs';

const { values: opt } = parseArgs({ options: {
  users: { type: 'string', default: '60' }, devices: { type: 'string', default: '3' },
  senders: { type: 'string', default: '12' }, seconds: { type: 'string', default: '8' },
  build: { type: 'string', default: process.env.SB_BUILD_DIR || 'build' },
  upgrade: { type: 'boolean', default: false },
} });
process.env.SB_BUILD_DIR = opt.build;
const USERS = Math.min(Number(opt.users), 2000);
const DEVICES = Math.min(Number(opt.devices), 5);
const SENDERS = Math.min(Number(opt.senders), 200);
const SECONDS = Math.min(Number(opt.seconds), 600);
const GROUP_SIZE = 8;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rnd = (n) => Math.floor(Math.random() * n);
let passed = 0, failed = 0;
function check(name, ok, detail = '') {
  if (ok) { passed++; console.log(`ok - ${name}`); } else { failed++; console.log(`not ok - ${name}${detail ? `\n  ${detail}` : ''}`); }
}

const TRANSPORTS = opt.upgrade ? [['websocket'], ['polling'], ['polling', 'websocket']]
  : [['websocket'], ['polling']];

/** A device: one socket.io-client Socket kept for the whole run, so its
 *  recovery state (pid, offset) carries across its reconnects. */
function device(srv, user, k) {
  const s = io(srv.url, { transports: TRANSPORTS[k % TRANSPORTS.length], forceNew: true, autoConnect: false,
    reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 300, timeout: 10000,
    auth: { token: mintToken({ sub: user }, srv.secret) } });
  const d = { s, user, seen: new Map(), deliveries: 0, recovered: 0, log: [], sess: 0, k };
  s.on('message:received', (m, ack) => {
    if (process.env.DBG) d.log.push([m.id, d.sess, s.id, s.io.engine?.transport?.name, s._lastOffset]);
    d.deliveries++;
    d.seen.set(m.id, (d.seen.get(m.id) || 0) + 1);
    if (typeof ack === 'function') ack();
  });
  s.on('connect', () => { d.sess++; if (s.recovered) d.recovered++; if (process.env.DBG) d.log.push(['connect', d.sess, s.id, s.recovered, s._lastOffset]); });
  if (process.env.DBG) s.on('disconnect', (r) => d.log.push(['disconnect', r]));
  return d;
}

/** One random disruption of a device. */
function disrupt(d) {
  const s = d.s;
  const r = Math.random();
  if (!s.connected) { if (!s.active) s.connect(); return; }
  if (r < 0.45) s.io.engine.close();               // transport drop: the client reconnects by itself
  else if (r < 0.75) { s.disconnect(); setTimeout(() => s.connect(), 20 + rnd(300)); } // leave, come back
  // else: stays
}

async function api(srv, method, p, body) {
  const res = await fetch(`${srv.url}${p}`, { method, body: JSON.stringify(body),
    headers: { authorization: 'Bearer chaos', 'content-type': 'application/json' } });
  return res.json();
}

async function main() {
  const srv = await startServer('switchboard', {
    args: ['--events-per-second', '0', '--api-key', 'chaos', '--store-sync', 'normal',
      '--max-connections-per-ip', '0'] });
  const users = Array.from({ length: USERS }, (_, i) => `cu${i}`);
  const groups = [];
  for (let g = 0; g < Math.max(1, Math.floor(USERS / GROUP_SIZE)); g++) {
    const members = users.slice(g * GROUP_SIZE, (g + 1) * GROUP_SIZE);
    const senderId = `cs${g % SENDERS}`;
    const r = await api(srv, 'POST', '/api/conversations', { memberIds: [senderId, ...members] });
    groups.push({ id: r.id, senderId, members });
  }
  const devices = users.flatMap((u) => Array.from({ length: DEVICES }, (_, k) => device(srv, u, k)));
  for (const d of devices) d.s.connect();

  // Senders: their own users, never disrupted; each message's recipients recorded on ack.
  const acked = new Map(); // id -> recipient user ids
  let sendErrors = 0;
  const stopAt = Date.now() + SECONDS * 1000;
  const senders = Array.from({ length: SENDERS }, (_, i) => io(srv.url, { transports: ['websocket'],
    forceNew: true, auth: { token: mintToken({ sub: `cs${i}` }, srv.secret) } }));
  async function stream(i) {
    const s = senders[i];
    const mine = groups.filter((g) => g.senderId === `cs${i}`);
    while (Date.now() < stopAt) {
      const toGroup = mine.length && Math.random() < 0.3;
      const g = toGroup ? mine[rnd(mine.length)] : null;
      const to = g ? null : users[rnd(USERS)];
      try {
        const r = await s.timeout(10000).emitWithAck('message:send',
          g ? { conversationId: g.id, content: `g${i}` } : { receiverId: to, content: `d${i}` });
        if (r && !r.error) acked.set(r.id, g ? g.members : [to]); else sendErrors++;
      } catch { sendErrors++; }
    }
  }
  let chaos = true;
  const churn = (async () => {
    while (chaos) {
      for (let j = 0; j < Math.max(1, devices.length / 20); j++) disrupt(devices[rnd(devices.length)]);
      await sleep(25);
    }
  })();
  await Promise.all(senders.map((_, i) => stream(i)));
  chaos = false;
  await churn;

  // Settle: every device connected and staying; wait for every recipient.
  for (const d of devices) if (!d.s.connected && !d.s.active) d.s.connect();
  const missing = () => {
    let n = 0;
    for (const [id, to] of acked) {
      for (const u of to) {
        if (!devices.some((d) => d.user === u && d.seen.has(id))) n++;
      }
    }
    return n;
  };
  const settleBy = Date.now() + 30000;
  while (Date.now() < settleBy && (missing() > 0 || devices.some((d) => !d.s.connected))) await sleep(100);
  await sleep(300); // late duplicates, if any, would arrive now

  const expected = [...acked.values()].reduce((n, to) => n + to.length, 0);
  const deliveries = devices.reduce((n, d) => n + d.deliveries, 0);
  const lost = missing();
  const duplicated = devices.reduce((n, d) => n + [...d.seen.values()].filter((c) => c > 1).length, 0);
  const recovered = devices.reduce((n, d) => n + d.recovered, 0);
  if (process.env.DBG) for (const d of devices) for (const [id, c] of d.seen) if (c > 1) {
    const first = d.log.findIndex((x) => x[0] === id);
    console.log('DUP', d.user, d.k, id, JSON.stringify(d.log.slice(Math.max(0, first - 25), first + 12)));
  }
  if (process.env.DBG) for (const [id, to] of acked) for (const u of to) {
    if (devices.some((d) => d.user === u && d.seen.has(id))) continue;
    for (const d of devices.filter((x) => x.user === u)) {
      console.log('LOST', u, d.k, id, 'connected', d.s.connected, 'ids seen near', JSON.stringify(d.log.filter((x) => typeof x[0] !== 'number' || Math.abs(x[0] - id) < 40).slice(-40)));
    }
  }
  console.log(`chaos${opt.upgrade ? ' (with upgrades)' : ''}: ${devices.length} devices of ${USERS} users, ${SENDERS} senders, ${SECONDS} s: ` +
    `acked ${acked.size} messages (${expected} recipient deliveries owed), deliveries ${deliveries}, ` +
    `lost ${lost}, duplicated ${duplicated}, recoveries ${recovered}, send errors ${sendErrors}`);
  check('messages were acknowledged under chaos', acked.size > 0);
  check('every acknowledged message reached every recipient user', lost === 0, `${lost} (message, user) pairs missing`);
  check('no device saw a message twice', duplicated === 0, `${duplicated} (device, message) pairs seen twice`);
  check('devices recovered their sessions', recovered > 0);
  for (const s of senders) s.disconnect();
  for (const d of devices) d.s.disconnect();
  const r = await srv.stop().catch((e) => { failed++; console.log(`not ok - clean shutdown\n  ${e.message.slice(0, 2000)}`); });
  if (r) { passed++; console.log('ok - clean shutdown (exit 0, no sanitizer report)'); }
}

await main();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
