// Connection and event limits of the main server: each breach gets its
// documented answer, is counted in /metrics, and leaves others unaffected.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer } from './lib/server.mjs';
import { RawWs } from './lib/raw.mjs';
import { test, isRef, connectUser, mintToken, connectError, client, waitFor, until } from './lib/util.mjs';

const skip = isRef ? 'C-only limits' : false;

/** Opens a raw TCP connection and resolves with everything the server sends
 *  until it closes (or after a request, for a served connection). */
function rawExchange(port, request) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => { data += d.toString(); });
    sock.on('close', () => resolve(data));
    sock.on('error', reject);
    sock.setTimeout(3000, () => { sock.destroy(); resolve(data); });
    if (request) sock.write(request);
  });
}

async function metric(srv, name) {
  const res = await fetch(`${srv.url}/metrics`, { headers: { authorization: 'Bearer k' } });
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

test('events over --events-per-second get rate_limited; a calm socket keeps working', async () => {
  const srv = await startServer('switchboard', {
    args: ['--events-per-second', '2', '--events-burst', '5', '--api-key', 'k'] });
  try {
    const room = `rl-${Date.now()}`;
    const flood = (await connectUser(srv, 'flooder')).s;
    const calm = (await connectUser(srv, 'calm')).s;
    assert.deepEqual(await flood.emitWithAck('chat:join', room), { ok: true, roomId: room });
    assert.deepEqual(await calm.emitWithAck('chat:join', room), { ok: true, roomId: room });
    const replies = await Promise.all(Array.from({ length: 12 },
      () => flood.emitWithAck('chat:join', room)));
    const limited = replies.filter((r) => r.error && r.error.code === 'rate_limited');
    const ok = replies.filter((r) => r.ok === true);
    assert.ok(ok.length >= 3 && ok.length <= 6, `burst lets about 4 through, got ${ok.length}`);
    assert.equal(ok.length + limited.length, 12, 'every event is either handled or refused');
    // Without an ack the refusal is an error event naming the event.
    const err = waitFor(flood, 'error');
    for (let i = 0; i < 3; i++) flood.emit('chat:join', room);
    const e = await err;
    assert.equal(e.code, 'rate_limited');
    assert.equal(e.event, 'chat:join');
    // The calm socket is not affected.
    const m = await calm.emitWithAck('chat:message', { roomId: room, message: 'still here' });
    assert.equal(m.message, 'still here');
    assert.ok(await metric(srv, 'switchboard_errors_total{kind="rate_limited"}') >= limited.length);
    // By event: the contract's names each, any other name as "other".
    const other = waitFor(flood, 'error');
    flood.emit('no:such-event', 1);
    assert.equal((await other).code, 'rate_limited');
    const joins = await metric(srv, 'switchboard_rate_limited_events_total{event="chat:join"}');
    assert.ok(joins >= limited.length + 1, `chat:join limited ${joins}`);
    assert.equal(await metric(srv, 'switchboard_rate_limited_events_total{event="other"}'), 1);
    assert.equal(joins + 1, await metric(srv, 'switchboard_errors_total{kind="rate_limited"}'));
  } finally {
    await srv.stop();
  }
}, { skip });

test('by default a socket may send a burst of 20 events, then 10 per second', async () => {
  const srv = await startServer('switchboard');
  try {
    const { s } = await connectUser(srv, 'bursty');
    const room = `default-rl-${Date.now()}`;
    assert.deepEqual(await s.emitWithAck('chat:join', room), { ok: true, roomId: room });
    await new Promise((r) => setTimeout(r, 200)); // the join's token is back
    const burst = () => Promise.all(Array.from({ length: 30 }, () => s.emitWithAck('chat:join', room)));
    const first = await burst();
    const handled = first.filter((r) => r.ok === true).length;
    const limited = first.filter((r) => r.error && r.error.code === 'rate_limited').length;
    // The CONNECT itself is not an event; the bucket refills 10/s while the
    // burst is in flight, so one or two more may pass on a slow machine.
    assert.ok(handled >= 20 && handled <= 23, `a burst of 20 is handled, got ${handled}`);
    assert.equal(handled + limited, 30);
    // After a second the bucket holds about 10 tokens again.
    await new Promise((r) => setTimeout(r, 1000));
    const again = (await burst()).filter((r) => r.ok === true).length;
    assert.ok(again >= 9 && again <= 13, `about 10 per second refill, got ${again}`);
  } finally {
    await srv.stop();
  }
}, { skip });

test('typing and cursors have their own bucket (default 30/s, burst 60): a fast typist can still send', async () => {
  const srv = await startServer('switchboard');
  try {
    const { s } = await connectUser(srv, 'typist');
    const room = `typist-${Date.now()}`;
    assert.deepEqual(await s.emitWithAck('chat:join', room), { ok: true, roomId: room });
    // 40 keystrokes at once: far past the 20-event burst of other events.
    const keys = await Promise.all(Array.from({ length: 40 },
      (_, i) => s.emitWithAck('chat:typing', { roomId: room, isTyping: i % 2 === 0 })));
    assert.equal(keys.filter((r) => r.ok === true).length, 40, JSON.stringify(keys.find((r) => !r.ok)));
    const sent = await s.emitWithAck('chat:message', { roomId: room, message: 'typed fast' });
    assert.equal(sent.message, 'typed fast', JSON.stringify(sent));
    // The volatile bucket has its own bound: 60 at once, then refusals. 100
    // more keys leave 80 past the burst; a slow machine refills 30 a second
    // between the batches, so ask for far fewer refusals than 80.
    const more = await Promise.all(Array.from({ length: 100 },
      () => s.emitWithAck('chat:typing', { roomId: room, isTyping: true })));
    const limited = more.filter((r) => r.error && r.error.code === 'rate_limited').length;
    assert.ok(limited >= 15, `typing past the volatile burst is refused, ${limited} of 100`);
    const still = await s.emitWithAck('chat:message', { roomId: room, message: 'still sends' });
    assert.equal(still.message, 'still sends', 'refused typing does not use up the message budget');
  } finally {
    await srv.stop();
  }
}, { skip });

test('--volatile-events names the events of the second bucket; --volatile-events-burst bounds it', async () => {
  const srv = await startServer('switchboard', {
    args: ['--volatile-events', 'chat:join', '--volatile-events-per-second', '1', '--volatile-events-burst', '3'] });
  try {
    const { s } = await connectUser(srv, 'vol');
    const room = `vol-${Date.now()}`;
    const joins = await Promise.all(Array.from({ length: 8 }, () => s.emitWithAck('chat:join', room)));
    const ok = joins.filter((r) => r.ok === true).length;
    assert.ok(ok >= 3 && ok <= 4, `a burst of 3 joins, got ${ok}`);
    // chat:typing is no longer volatile: it draws on the main bucket (20).
    const keys = await Promise.all(Array.from({ length: 10 },
      () => s.emitWithAck('chat:typing', { roomId: room, isTyping: true })));
    assert.equal(keys.filter((r) => r.ok === true).length, 10);
  } finally {
    await srv.stop();
  }
}, { skip });

test('--max-connections-per-ip: the next connection gets 503 too_many_connections', async () => {
  const srv = await startServer('switchboard', { args: ['--max-connections-per-ip', '2', '--api-key', 'k'] });
  try {
    const held = [net.connect(srv.port, '127.0.0.1'), net.connect(srv.port, '127.0.0.1')];
    await Promise.all(held.map((s) => new Promise((r) => s.on('connect', r))));
    const answer = await rawExchange(srv.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.match(answer, /"code":"too_many_connections"/);
    held.forEach((s) => s.destroy());
    // Once they are gone, new connections are served again.
    let served = '';
    for (let i = 0; i < 50 && !/200 OK/.test(served); i++) {
      served = await rawExchange(srv.port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    }
    assert.match(served, /^HTTP\/1\.1 200 OK/);
    assert.ok(await metric(srv, 'switchboard_errors_total{kind="connection_refused"}') >= 1);
  } finally {
    await srv.stop();
  }
}, { skip });

test('--max-connections: a full server answers 503 and recovers', async () => {
  const srv = await startServer('switchboard', { args: ['--max-connections', '1'] });
  try {
    const held = net.connect(srv.port, '127.0.0.1');
    await new Promise((r) => held.on('connect', r));
    const answer = await rawExchange(srv.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 503 /);
    held.destroy();
  } finally {
    await srv.stop();
  }
}, { skip });

test('extra namespaces require the token too and have no built-in events', async () => {
  const srv = await startServer('switchboard', { args: ['--namespaces', '/admin'] });
  try {
    const e = await connectError(`${srv.url}/admin`, { transports: ['websocket'] });
    assert.match(e.message, /^Authentication error/);
    assert.equal(e.data.code, 'token_missing');
    const s = client(`${srv.url}/admin`, { transports: ['websocket'],
      auth: { token: mintToken({ sub: 'adm' }, srv.secret) } });
    await waitFor(s, 'connect');
    const r = await s.emitWithAck('chat:join', 'lobby');
    assert.equal(r.error.code, 'unknown_event');
  } finally {
    await srv.stop();
  }
}, { skip });

test('--handshakes-per-second-per-ip: past the burst a new session gets 429, then the bucket refills', async () => {
  const srv = await startServer('switchboard', { args: ['--handshakes-per-second-per-ip', '2', '--api-key', 'k'] });
  try {
    const handshake = () => fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`);
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await handshake()).status);
    assert.deepEqual(codes.slice(0, 4), [200, 200, 200, 200], 'a burst of two seconds worth');
    const res = await handshake();
    assert.equal(res.status, 429);
    assert.equal((await res.json()).error.code, 'rate_limited');
    // Existing sessions are not affected: requests with a sid are not handshakes.
    await new Promise((r) => setTimeout(r, 600)); // the refill is the behaviour under test
    assert.equal((await handshake()).status, 200);
    assert.ok(await metric(srv, 'switchboard_errors_total{kind="handshake_rate_limited"}') >= 2);
  } finally {
    await srv.stop();
  }
}, { skip });

test('--max-rooms-per-socket: the next join gets too_many_rooms; other sockets unaffected', async () => {
  const srv = await startServer('switchboard', { args: ['--max-rooms-per-socket', '3', '--api-key', 'k'] });
  try {
    const a = (await connectUser(srv, 'roomy')).s;
    const b = (await connectUser(srv, 'other')).s;
    const tag = Date.now();
    for (const r of ['r1', 'r2', 'r3']) {
      assert.deepEqual(await a.emitWithAck('chat:join', `${r}-${tag}`), { ok: true, roomId: `${r}-${tag}` });
    }
    const over = await a.emitWithAck('chat:join', `r4-${tag}`);
    assert.equal(over.error && over.error.code, 'too_many_rooms');
    // The refused join joined nothing: a message there does not reach a.
    assert.deepEqual(await b.emitWithAck('chat:join', `r4-${tag}`), { ok: true, roomId: `r4-${tag}` });
    let leaked = false;
    a.on('chat:message', (m) => { if (m.roomId === `r4-${tag}`) leaked = true; });
    await b.emitWithAck('chat:message', { roomId: `r4-${tag}`, message: 'only b' });
    // Leaving frees a slot.
    assert.deepEqual(await a.emitWithAck('chat:leave', `r1-${tag}`), { ok: true, roomId: `r1-${tag}` });
    assert.deepEqual(await a.emitWithAck('chat:join', `r4-${tag}`), { ok: true, roomId: `r4-${tag}` });
    assert.equal(leaked, false, 'a got a message of a room it was refused');
    assert.equal(await metric(srv, 'switchboard_event_errors_total{code="too_many_rooms"}'), 1);
    assert.equal(await metric(srv, 'switchboard_event_errors_total{code="invalid_payload"}'), 0);
  } finally {
    await srv.stop();
  }
}, { skip });

test('--max-message-bytes: one byte over gets payload_too_large, at the limit is stored', async () => {
  const srv = await startServer('switchboard', { args: ['--max-message-bytes', '100', '--api-key', 'k'] });
  try {
    const { s } = await connectUser(srv, 'writer');
    const room = `mmb-${Date.now()}`;
    await s.emitWithAck('chat:join', room);
    const over = await s.emitWithAck('chat:message', { roomId: room, message: 'x'.repeat(101) });
    assert.equal(over.error && over.error.code, 'payload_too_large');
    const ok = await s.emitWithAck('chat:message', { roomId: room, message: 'y'.repeat(100) });
    assert.equal(ok.message, 'y'.repeat(100));
    assert.equal(await metric(srv, 'switchboard_event_errors_total{code="payload_too_large"}'), 1);
  } finally {
    await srv.stop();
  }
}, { skip });

test('--max-pending-acks: emits past the limit are refused until acks come back or time out', async () => {
  const srv = await startServer('sio_echo', { args: ['--max-pending-acks', '3'] });
  try {
    const s = client(srv.url);
    await new Promise((resolve, reject) => { s.on('connect', resolve); s.on('connect_error', reject); });
    const questions = [];
    s.on('question', (...args) => { questions.push(args); }); // never answers
    const timeouts = [];
    s.on('answer_timeout', () => timeouts.push(Date.now()));
    for (let i = 0; i < 5; i++) s.emit('ask', i);
    // The server's ack timeout is 2 s: 3 questions arrive, then 3 timeouts.
    await until(() => timeouts.length === 3, 5000, 'three answer_timeout events');
    assert.equal(questions.length, 3, `questions sent while 3 acks were pending: ${questions.length}`);
    // The slots are free again.
    s.emit('ask', 'again');
    await until(() => questions.length === 4, 3000, 'a question after the timeouts');
    s.close();
  } finally {
    await srv.stop();
  }
}, { skip, timeout: 20000 });

test('--upgrade-timeout: a probe that never completes is dropped and polling carries on', async () => {
  const srv = await startServer('sio_echo', { args: ['--upgrade-timeout', '300'] });
  try {
    const eio = `${srv.url}/socket.io/?EIO=4&transport=polling`;
    const open = JSON.parse((await (await fetch(eio)).text()).slice(1));
    const url = `${eio}&sid=${open.sid}`;
    assert.equal(await (await fetch(url, { method: 'POST', body: '40' })).text(), 'ok');
    assert.match(await (await fetch(url)).text(), /^40\{"sid":/);
    const { ws } = await RawWs.open(srv.port, `/socket.io/?EIO=4&transport=websocket&sid=${open.sid}`);
    ws.sendText('2probe');
    assert.equal(await ws.nextText(), '3probe');
    // No upgrade packet follows: the server drops the probe after 300 ms.
    const t0 = Date.now();
    await ws.waitEnd(3000);
    const waited = Date.now() - t0;
    assert.ok(waited >= 200 && waited < 2500, `probe dropped after ${waited} ms`);
    // The session still works over polling, GETs park again (no noop loop).
    assert.equal(await (await fetch(url, { method: 'POST', body: '42["echo","still here"]' })).text(), 'ok');
    assert.equal(await (await fetch(url)).text(), '42["echo","still here"]');
  } finally {
    await srv.stop();
  }
}, { skip });
