// Connection and event limits of the main server: each breach gets its
// documented answer, is counted in /metrics, and leaves others unaffected.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer } from './lib/server.mjs';
import { test, isRef, connectUser, mintToken, connectError, client, waitFor } from './lib/util.mjs';

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
      (_, i) => flood.emitWithAck('chat:typing', { roomId: room, isTyping: i % 2 === 0 })));
    const limited = replies.filter((r) => r.error && r.error.code === 'rate_limited');
    const ok = replies.filter((r) => r.ok === true);
    assert.ok(ok.length >= 3 && ok.length <= 6, `burst lets about 4 through, got ${ok.length}`);
    assert.equal(ok.length + limited.length, 12, 'every event is either handled or refused');
    // Without an ack the refusal is an error event naming the event.
    const err = waitFor(flood, 'error');
    for (let i = 0; i < 3; i++) flood.emit('chat:typing', { roomId: room, isTyping: true });
    const e = await err;
    assert.equal(e.code, 'rate_limited');
    assert.equal(e.event, 'chat:typing');
    // The calm socket is not affected.
    const m = await calm.emitWithAck('chat:message', { roomId: room, message: 'still here' });
    assert.equal(m.message, 'still here');
    assert.ok(await metric(srv, 'switchboard_errors_total{kind="rate_limited"}') >= limited.length);
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
    const burst = () => Promise.all(Array.from({ length: 30 },
      () => s.emitWithAck('chat:typing', { roomId: room, isTyping: true })));
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
