// Connection state recovery with the stock socket.io-client (it needs no
// option: the server's CONNECT reply carries a pid, the client sends pid and
// offset back when it reconnects): same socket id and rooms, missed messages
// once and in order, also across SIGTERM and SIGKILL restarts; past the
// window a fresh session whose offline delivery is still exactly once.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { startServer, NO_EVENT_LIMIT } from './lib/server.mjs';
import { test, isRef, connectUser, until, client, mintToken, elapse, waitFor } from './lib/util.mjs';

const skip = isRef ? 'C-only: the reference server has no storage' : false;
let srv;
before(async () => { if (!isRef) srv = await startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--api-key', 'k'] }); });
after(async () => { if (srv) await srv.stop(); });

const uid = (p) => `${p}-${Math.random().toString(36).slice(2, 8)}`;

/** A device that records message:received ids in order; confirms unless told not to. */
function device(server, user, { confirm = true, transports = ['websocket'] } = {}) {
  const s = client(server.url, { transports, autoConnect: false, reconnection: false,
    auth: { token: mintToken({ sub: user }, server.secret) } });
  const ids = [];
  s.on('message:received', (m, ack) => { ids.push(m.id); if (confirm) ack(); });
  return { s, ids };
}

function connect(s) {
  return new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
    s.connect();
  });
}

function drop(s) {
  const gone = new Promise((resolve) => s.once('disconnect', resolve));
  s.io.engine.close(); // the transport closes under the socket, as a network drop does
  return gone;
}

async function sendAll(a, to, n, tag) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const r = await a.emitWithAck('message:send', { receiverId: to, content: `${tag}${i}` });
    assert.ok(!r.error, JSON.stringify(r));
    ids.push(r.id);
  }
  return ids;
}

for (const transport of ['websocket', 'polling']) {
  test(`${transport}: a dropped transport recovers: same id and rooms, missed messages once, in order`, async () => {
    const alice = uid('alice'), bob = uid('bob'), room = uid('room');
    const { s: a } = await connectUser(srv, alice);
    const d = device(srv, bob, { transports: [transport] });
    await connect(d.s);
    assert.equal(d.s.recovered, false);
    await d.s.emitWithAck('chat:join', room);
    const before = await sendAll(a, bob, 3, 'before');
    await until(() => d.ids.length === 3, 5000, 'live messages');
    const id = d.s.id;
    await drop(d.s);
    const missed = await sendAll(a, bob, 5, 'missed');
    await connect(d.s);
    assert.equal(d.s.recovered, true, 'socket.recovered');
    assert.equal(d.s.id, id, 'same socket id');
    await until(() => d.ids.length === 8, 5000, 'the missed messages');
    assert.deepEqual(d.ids, [...before, ...missed], 'once each, in order');
    // Its room came back with it: no chat:join needed.
    const inRoom = waitFor(d.s, 'chat:message', 3000);
    await a.emitWithAck('chat:join', room);
    await a.emitWithAck('chat:message', { roomId: room, message: 'still here?' });
    assert.equal((await inRoom).message, 'still here?');
  }, { skip });
}

async function createGroup(server, memberIds) {
  const res = await fetch(`${server.url}/api/conversations`, {
    method: 'POST', headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
    body: JSON.stringify({ memberIds }),
  });
  assert.equal(res.status, 201);
  return (await res.json()).id;
}

/* What a device saw of room broadcasts: chat:message texts and message:new ids. */
function roomLog(s) {
  const log = [];
  s.on('chat:message', (m) => log.push(`chat ${m.message}`));
  s.on('message:new', (m) => log.push(`new ${m.content}`));
  return log;
}

for (const transport of ['websocket', 'polling']) {
  test(`${transport}: room messages missed while away are replayed on recovery, once, in order`, async () => {
    const alice = uid('alice'), bob = uid('bob'), room = uid('room');
    const conv = await createGroup(srv, [alice, bob]);
    const { s: a } = await connectUser(srv, alice);
    await a.emitWithAck('chat:join', room);
    const d = device(srv, bob, { transports: [transport] });
    const log = roomLog(d.s);
    await connect(d.s);
    assert.ok((await d.s.emitWithAck('chat:join', room)).ok);
    assert.ok((await d.s.emitWithAck('chat:join', `conversation:${conv}`)).ok);
    await a.emitWithAck('chat:message', { roomId: room, message: 'before' });
    await until(() => log.length === 1, 5000, 'the live one');
    await drop(d.s);
    for (let i = 0; i < 3; i++) await a.emitWithAck('chat:message', { roomId: room, message: `away ${i}` });
    assert.ok(!(await a.emitWithAck('message:send', { conversationId: conv, content: 'group away' })).error);
    await a.emitWithAck('chat:message', { roomId: room, message: 'away 3' });
    await connect(d.s);
    assert.equal(d.s.recovered, true);
    await until(() => log.length === 6, 5000, 'the missed room messages');
    await a.emitWithAck('chat:message', { roomId: room, message: 'back' });
    await until(() => log.length === 7, 5000, 'a live one after');
    await d.s.emitWithAck('notification:list', {}); // a round trip: a late duplicate would be here
    assert.deepEqual(log, ['chat before', 'chat away 0', 'chat away 1', 'chat away 2', 'new group away',
      'chat away 3', 'chat back']);
    // Dropped again: only what it has not seen comes back.
    await drop(d.s);
    await a.emitWithAck('chat:message', { roomId: room, message: 'second time' });
    await connect(d.s);
    assert.equal(d.s.recovered, true);
    await until(() => log.length === 8, 5000, 'the one missed the second time');
    await d.s.emitWithAck('notification:list', {});
    assert.deepEqual(log.slice(7), ['chat second time']);
  }, { skip });
}

test('the offset confirms: what a device received and never acknowledged is not replayed, nor given to the next device', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const { s: a } = await connectUser(srv, alice);
  const d = device(srv, bob, { confirm: false });
  await connect(d.s);
  const first = await sendAll(a, bob, 4, 'unconfirmed');
  await until(() => d.ids.length === 4, 5000, 'received');
  await drop(d.s);
  const missed = await sendAll(a, bob, 2, 'missed');
  await connect(d.s);
  assert.equal(d.s.recovered, true);
  await until(() => d.ids.length === 6, 5000, 'the missed ones');
  await d.s.emitWithAck('notification:list', {});
  assert.deepEqual(d.ids, [...first, ...missed], 'nothing twice');
  // The offset covered the first four: confirmed. The last two are still pending.
  const next = device(srv, bob);
  await connect(next.s);
  await until(() => next.ids.length === 2, 5000, 'the pending ones');
  await next.s.emitWithAck('notification:list', {});
  assert.deepEqual(next.ids, missed);
}, { skip });

async function notify(userId, title) {
  const res = await fetch(`${srv.url}/api/notifications`, {
    method: 'POST', headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
    body: JSON.stringify({ userId, type: 't', title, message: '' }),
  });
  assert.equal(res.status, 201);
  return (await res.json()).notification.id;
}

test('notifications: pending until confirmed, covered by the offset, replayed once on recovery', async () => {
  const bob = uid('bob');
  const s = client(srv.url, { transports: ['websocket'], autoConnect: false, reconnection: false,
    auth: { token: mintToken({ sub: bob }, srv.secret) } });
  const seen = [];
  s.on('notification:new', (n) => seen.push(n.id)); // never confirms
  await connect(s);
  const first = [await notify(bob, 'one'), await notify(bob, 'two')];
  await until(() => seen.length === 2, 5000, 'live notifications');
  await drop(s);
  const missed = [await notify(bob, 'three')];
  await connect(s);
  assert.equal(s.recovered, true);
  await until(() => seen.length === 3, 5000, 'the missed notification');
  await s.emitWithAck('notification:list', {});
  assert.deepEqual(seen, [...first, ...missed], 'once each, in order');
  // The offset confirmed the first two; the third is still pending for the next device.
  const next = client(srv.url, { transports: ['websocket'], autoConnect: false, reconnection: false,
    auth: { token: mintToken({ sub: bob }, srv.secret) } });
  const nextSeen = [];
  next.on('notification:new', (n, confirm) => { nextSeen.push(n.id); confirm(); });
  await connect(next);
  await until(() => nextSeen.length === 1, 5000, 'the pending one');
  await next.emitWithAck('notification:list', {});
  assert.deepEqual(nextSeen, missed);
}, { skip });

for (const signal of ['SIGTERM', 'SIGKILL']) {
  test(`recovery across a ${signal} restart of the server`, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sb-recover-'));
    let one, two;
    try {
      one = await startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--data-dir', dir] });
      const alice = uid('alice'), bob = uid('bob'), room = uid('room');
      const { s: a } = await connectUser(one, alice);
      const d = device(one, bob, { confirm: false });
      const log = roomLog(d.s);
      await connect(d.s);
      await d.s.emitWithAck('chat:join', room);
      const seen = await sendAll(a, bob, 3, 'seen');
      await until(() => d.ids.length === 3, 5000, 'received');
      // A store round trip of bob's after the join: its session save, queued
      // with bob's requests (PostgreSQL's pool runs other users' side by
      // side), is committed when this answers.
      await d.s.emitWithAck('notification:list', {});
      const id = d.s.id;
      const gone = new Promise((resolve) => d.s.once('disconnect', resolve));
      if (signal === 'SIGKILL') {
        one.proc.kill('SIGKILL');
        await one.exited;
      } else {
        await one.stop();
      }
      await gone;
      two = await startServer('switchboard', {
        args: [...NO_EVENT_LIMIT, '--data-dir', dir, '--port', String(one.port)] });
      const { s: a2 } = await connectUser(two, alice);
      const missed = await sendAll(a2, bob, 4, 'missed');
      await a2.emitWithAck('chat:join', room);
      await a2.emitWithAck('chat:message', { roomId: room, message: 'while away' });
      await connect(d.s); // same URL: the restarted server
      assert.equal(d.s.recovered, true, 'socket.recovered after the restart');
      assert.equal(d.s.id, id);
      await until(() => d.ids.length === 7, 5000, 'the missed messages');
      await d.s.emitWithAck('notification:list', {});
      assert.deepEqual(d.ids, [...seen, ...missed], 'once each, in order');
      // The room it joined after connecting is back, also after a SIGKILL
      // (joins are saved as they happen, not only at a graceful stop), and
      // what was said there meanwhile is replayed from the store.
      await until(() => log.length === 1, 5000, 'the room message it missed');
      await a2.emitWithAck('chat:message', { roomId: room, message: 'after restart' });
      await until(() => log.length === 2, 5000, 'a live one');
      assert.deepEqual(log, ['chat while away', 'chat after restart']);
      const own = await d.s.emitWithAck('chat:message', { roomId: room, message: 'from the recovered socket' });
      assert.ok(!own.error, JSON.stringify(own));
    } finally {
      if (two) await two.stop();
      if (one && one.proc.exitCode === null && one.proc.signalCode === null) await one.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, { skip, timeout: 30000 });
}

test('past the recovery window: a fresh session, no replay, offline delivery still exactly once', async () => {
  const short = await startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--recovery-window', '300'] });
  try {
    const alice = uid('alice'), bob = uid('bob');
    const { s: a } = await connectUser(short, alice);
    const d = device(short, bob);
    await connect(d.s);
    const seen = await sendAll(a, bob, 2, 'seen');
    await until(() => d.ids.length === 2, 5000, 'received');
    const id = d.s.id;
    await drop(d.s);
    await elapse(600); // the window passing is the behaviour under test
    const missed = await sendAll(a, bob, 3, 'missed');
    await connect(d.s);
    assert.equal(d.s.recovered, false, 'a fresh session');
    assert.notEqual(d.s.id, id);
    await until(() => d.ids.length === 5, 5000, 'offline delivery');
    await d.s.emitWithAck('notification:list', {});
    assert.deepEqual(d.ids, [...seen, ...missed], 'exactly once');
  } finally {
    await short.stop();
  }
}, { skip });

test('--recovery-window 0: no pid, plain sessions', async () => {
  const off = await startServer('switchboard', { args: ['--recovery-window', '0'] });
  try {
    const d = device(off, uid('bob'));
    await connect(d.s);
    const id = d.s.id;
    await drop(d.s);
    await connect(d.s);
    assert.ok(!d.s.recovered);
    assert.notEqual(d.s.id, id);
  } finally {
    await off.stop();
  }
}, { skip });

test('a reconnect naming a pid still connected takes the session over (same owner only)', async () => {
  const { RawWs } = await import('./lib/raw.mjs');
  const PATH = '/socket.io/?EIO=4&transport=websocket';
  const open = async (sub, pid) => {
    const { ws } = await RawWs.open(srv.port, PATH);
    assert.match(await ws.nextText(), /^0\{/);
    ws.sendText('40' + JSON.stringify({ token: mintToken({ sub }, srv.secret), ...(pid ? { pid } : {}) }));
    const m = /^40(\{.*\})$/.exec(await ws.nextText());
    assert.ok(m, 'CONNECT answer');
    return { ws, ...JSON.parse(m[1]) };
  };
  const user = uid('owner');
  const a = await open(user);
  assert.ok(a.pid, 'recovery is on: a pid');
  // Someone else naming that pid gets a session of their own; a keeps it.
  const stranger = await open(uid('stranger'), a.pid);
  assert.notEqual(stranger.pid, a.pid);
  assert.notEqual(stranger.sid, a.sid);
  // The owner's second connection takes it over: a is disconnected, b
  // continues as a (same socket id and pid).
  const b = await open(user, a.pid);
  assert.equal(b.pid, a.pid);
  assert.equal(b.sid, a.sid);
  let text;
  do text = await a.ws.nextText(); while (text !== '41' && text.startsWith('42'));
  assert.equal(text, '41', 'the old socket is told DISCONNECT');
  // Taken over again by a third connection: the index follows the session.
  const c = await open(user, a.pid);
  assert.equal(c.sid, a.sid);
  for (const x of [a, b, c, stranger]) x.ws.destroy();
}, { skip });

/* Engine.IO long-polling with plain HTTP requests, so the test decides when a
 * GET is waiting: `sent` settles once the request is written, `answer` with
 * the packets of the response. */
function request(server, query, body) {
  let sent;
  const answer = new Promise((resolve, reject) => {
    const req = http.request(`${server.url}/socket.io/?EIO=4&transport=polling${query}`,
      { method: body === undefined ? 'GET' : 'POST', agent: false,
        headers: body === undefined ? {} : { 'content-type': 'text/plain;charset=UTF-8' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve(text.split('\x1e')));
      });
    req.on('error', reject);
    sent = new Promise((r) => req.on('finish', r));
    req.end(body);
  });
  return { sent, answer };
}
const poll = (server, query, body) => request(server, query, body).answer;

/* The client may close its transport right after reading one polling answer
 * (engine.io-client does while it upgrades, with its acks held back), so an
 * event must come in the same answer as the recovery:offset that covers it:
 * else its reconnect's offset does not cover an event it has shown, and that
 * event is replayed (seen twice). The GET waits before the message exists. */
test('polling: an event and the recovery:offset covering it come in one answer', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const { s: a } = await connectUser(srv, alice);
  const [open] = await poll(srv, '');
  const sid = JSON.parse(open.slice(1)).sid;
  const q = `&sid=${sid}`;
  assert.deepEqual(await poll(srv, q, `40${JSON.stringify({ token: mintToken({ sub: bob }, srv.secret) })}`), ['ok']);
  for (let n = 0; !(await poll(srv, q)).some((p) => p.includes('"connection:established"')); n++) {
    assert.ok(n < 20, 'connection:established');
  }
  for (let round = 0; round < 5; round++) {
    const { sent, answer } = request(srv, q);
    await sent; // the GET is on its way before the message is sent
    const r = await a.emitWithAck('message:send', { receiverId: bob, content: `waiting GET ${round}` });
    assert.ok(!r.error, JSON.stringify(r));
    let packets = await answer;
    for (let n = 0; !packets.some((p) => /^42\d*\["message:received"/.test(p)); n++) {
      assert.ok(n < 20, `message:received ${r.id}`); // an answer with something else: poll on
      packets = await poll(srv, q);
    }
    const received = packets.findIndex((p) => /^42\d*\["message:received"/.test(p));
    assert.equal(JSON.parse(packets[received].replace(/^42\d*/, ''))[1].id, r.id);
    const offsets = packets.slice(received + 1).filter((p) => p.startsWith('42["recovery:offset"'))
      .map((p) => Number(JSON.parse(p.slice(2))[1].split('.')[0]));
    assert.ok(offsets.some((m) => m >= r.id), `no offset covering ${r.id} after it in ${JSON.stringify(packets)}`);
  }
  await poll(srv, q, '1');
}, { skip });
