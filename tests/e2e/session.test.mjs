// Session life of the main server: token expiry while connected, the
// Engine.IO -> Socket.IO connect timeout, malformed Socket.IO packets from a
// raw client (only that session is closed), unknown events and the message
// size limit. Most of this is C-only (the reference server has no expiry
// event, no connect timeout and other error codes): those parts skip when
// SB_E2E_TARGET=ref.
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import {
  test, isRef, ack, client, connectError, connectUser, waitFor, waitForArgs, mintToken, record, elapse,
} from './lib/util.mjs';
import { RawWs, OP, rawHttp } from './lib/raw.mjs';

const SKIP = isRef ? 'C server behaviour (no reference equivalent)' : false;
const WS_PATH = '/socket.io/?EIO=4&transport=websocket';

let seq = 0;
const uid = (p) => `${p}-${process.pid}-${++seq}`;

let srv;
before(async () => {
  srv = await startServer('switchboard', { args: ['--jwt-leeway', '0', '--connect-timeout', '300'] });
});
after(async () => { if (srv) await srv.stop(); });

const raws = [];
after(() => { for (const ws of raws) ws.destroy(); });

/** A raw Engine.IO websocket session; resolves after the open packet. */
async function rawSession() {
  const { ws, status } = await RawWs.open(srv.port, WS_PATH);
  assert.equal(status, 101);
  raws.push(ws);
  const open = await ws.nextText();
  assert.match(open, /^0\{"sid":/);
  return ws;
}

/** A raw session with a connected Socket.IO socket on "/" (the
 *  connection:established event has been read). */
async function rawConnected(sub = uid('raw')) {
  const ws = await rawSession();
  ws.sendText('40' + JSON.stringify({ token: mintToken({ sub }, srv.secret) }));
  assert.match(await ws.nextText(), /^40\{"sid":"[^"]+"(,"pid":"[^"]+")?\}$/);
  assert.match(await ws.nextText(), /^42\["connection:established",/);
  return ws;
}

/** Asserts the server ends the session: an Engine.IO close packet "1", then
 *  a WebSocket close frame 1000, then the TCP connection closes. */
async function assertSessionClosed(ws, what, timeoutMs = 2000) {
  const t0 = performance.now();
  const texts = [];
  let close = null;
  for (;;) {
    let f;
    try {
      f = await ws.next(timeoutMs - (performance.now() - t0));
    } catch (e) {
      throw new Error(`${what}: session not closed (${e.message}); got ${JSON.stringify(texts)}`);
    }
    if (f.opcode === OP.TEXT) texts.push(f.payload.toString());
    if (f.opcode === OP.CLOSE) { close = f; break; }
  }
  assert.deepEqual(texts, ['1'], `${what}: frames before the close`);
  assert.equal(close.payload.readUInt16BE(0), 1000, `${what}: close code`);
  await ws.waitEnd(timeoutMs);
  return performance.now() - t0;
}

describe('token expiry while connected (--jwt-leeway 0)', { skip: SKIP }, () => {
  test('error {code: token_expired}, then disconnect "io server disconnect", at exp', async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const id = uid('expiring');
    const token = mintToken({ sub: id, name: 'Short', exp }, srv.secret);
    const s = client(srv.url, { transports: ['websocket'], auth: { token } });
    const est = await waitFor(s, 'connection:established');
    assert.equal(est.userId, id);
    const order = [];
    s.on('error', () => order.push('error'));
    s.on('disconnect', () => order.push('disconnect'));
    const err = waitFor(s, 'error', 4000);
    const gone = waitFor(s, 'disconnect', 4000);
    assert.equal(s.connected, true);
    const e = await err;
    const t = Date.now();
    assert.equal(e.code, 'token_expired');
    assert.equal(typeof e.message, 'string');
    assert.ok(t >= exp * 1000 - 50, `expired ${exp * 1000 - t} ms early`);
    assert.ok(t < exp * 1000 + 1000, `expired ${t - exp * 1000} ms late`);
    assert.equal(await gone, 'io server disconnect');
    assert.deepEqual(order, ['error', 'disconnect']);
  });

  test('a token that expired a second ago is refused at connect with leeway 0', async () => {
    const token = mintToken({ sub: uid('late'), exp: Math.floor(Date.now() / 1000) - 1 }, srv.secret);
    const err = await connectError(srv.url, { transports: ['websocket'], auth: { token } });
    assert.equal(err.data && err.data.code, 'token_expired');
  });

  test('other devices of the user and other users are unaffected by one expiry', async () => {
    const id = uid('multi');
    const short = mintToken({ sub: id, exp: Math.floor(Date.now() / 1000) + 1 }, srv.secret);
    const a = client(srv.url, { transports: ['websocket'], auth: { token: short } });
    await waitFor(a, 'connection:established');
    const { s: b } = await connectUser(srv, id); // a long-lived device of the same user
    const room = uid('room');
    await ack(b, 'chat:join', room);
    const offline = record(b, 'user:offline');
    assert.equal(await waitFor(a, 'disconnect', 4000), 'io server disconnect');
    const m = await ack(b, 'chat:message', { roomId: room, message: 'still here' });
    assert.equal(m.message, 'still here');
    assert.deepEqual(offline, []);
  });
});

describe('token expiry with a leeway: the leeway is for the check at connect only', { skip: SKIP }, () => {
  let lsrv, dsrv;
  before(async () => {
    lsrv = await startServer('switchboard', { args: ['--jwt-leeway', '30'] });
    dsrv = await startServer('switchboard');
  });
  after(async () => {
    if (lsrv) await lsrv.stop();
    if (dsrv) await dsrv.stop();
  });

  test('--jwt-leeway 30: a socket is disconnected at exp, not at exp + 30 s', async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const s = client(lsrv.url, { transports: ['websocket'], auth: { token: mintToken({ sub: uid('exp'), exp }, lsrv.secret) } });
    await waitFor(s, 'connection:established');
    const err = waitFor(s, 'error', 12000);
    const gone = waitFor(s, 'disconnect', 12000);
    assert.equal((await err).code, 'token_expired');
    const t = Date.now();
    assert.equal(await gone, 'io server disconnect');
    // After exp (a timer never fires early; 50 ms for clock rounding), and
    // well before exp + 30 s, where it used to be: 10 s of slack for a loaded machine.
    assert.ok(t >= exp * 1000 - 50, `disconnected ${exp * 1000 - t} ms before exp`);
    assert.ok(t < exp * 1000 + 10000, `disconnected ${t - exp * 1000} ms after exp`);
  }, { timeout: 20000 });

  test('a token let in by the leeway (exp passed 3 s ago) is told token_expired and disconnected at once', async () => {
    const token = mintToken({ sub: uid('skewed'), exp: Math.floor(Date.now() / 1000) - 3 }, lsrv.secret);
    const s = client(lsrv.url, { transports: ['websocket'], auth: { token } });
    const err = waitFor(s, 'error', 5000);
    const gone = waitFor(s, 'disconnect', 5000);
    await waitFor(s, 'connect');
    assert.equal((await err).code, 'token_expired');
    assert.equal(await gone, 'io server disconnect');
  });

  test('the default leeway is at most 5 s: a token expired 6 s ago is refused at connect', async () => {
    const token = mintToken({ sub: uid('old'), exp: Math.floor(Date.now() / 1000) - 6 }, dsrv.secret);
    const err = await connectError(dsrv.url, { transports: ['websocket'], auth: { token } });
    assert.equal(err.data && err.data.code, 'token_expired');
    // The same token passes the check where the leeway is 30 s: the refusal is the leeway's doing.
    const s = client(lsrv.url, { transports: ['websocket'], auth: { token } });
    const err2 = waitFor(s, 'error', 5000);
    await waitFor(s, 'connect');
    assert.equal((await err2).code, 'token_expired');
  });
});

// Elapsed times on the monotonic clock: the wall clock of this machine can
// step (one run measured 6.7 s for a test that took 0.9 s).
describe('connect timeout (--connect-timeout 300)', { skip: SKIP }, () => {
  test('websocket: an Engine.IO session without a Socket.IO CONNECT is closed within ~1 s', async () => {
    const t0 = performance.now();
    const ws = await rawSession();
    await assertSessionClosed(ws, 'no CONNECT');
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 250 && elapsed < 1200, `closed after ${elapsed} ms`);
  });

  test('websocket: Engine.IO pings/noops do not count as a CONNECT', async () => {
    const t0 = performance.now();
    const ws = await rawSession();
    ws.sendText('6');
    ws.sendText('3');
    await assertSessionClosed(ws, 'noop only');
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 250 && elapsed < 1200, `closed after ${elapsed} ms`);
  });

  test('polling: the parked GET is answered with the close packet', async () => {
    const t0 = performance.now();
    const hs = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`);
    const sid = JSON.parse((await hs.text()).slice(1)).sid;
    const url = `${srv.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '1');
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 250 && elapsed < 1200, `closed after ${elapsed} ms`);
    const again = await fetch(url);
    assert.equal(again.status, 400);
    assert.deepEqual(await again.json(), { code: 1, message: 'Session ID unknown' });
  });

  test('a refused CONNECT (bad token) does not stop the timer: the session is closed', async () => {
    const ws = await rawSession();
    ws.sendText('40{"token":"nope"}');
    const refused = await ws.nextText();
    assert.match(refused, /^44\{"message":"Authentication error/);
    await assertSessionClosed(ws, 'after a refused CONNECT');
  });

  test('a socket that did connect outlives the timeout', async () => {
    const ws = await rawConnected();
    await elapse(600); // time passing is the behaviour under test
    ws.sendText('42["no:such",1]');
    assert.match(await ws.nextText(), /^42\["error",\{"code":"unknown_event"/);
    ws.sendText('41');
    ws.destroy();
  });
});

describe('malformed Socket.IO packets close only the offending session', { skip: SKIP }, () => {
  const nest = (depth) => '42["x",' + '['.repeat(depth - 1) + ']'.repeat(depth - 1) + ']';
  const placeholders = (n) => `45${n}-["x"` +
    Array.from({ length: n }, (_, i) => `,{"_placeholder":true,"num":${i}}`).join('') + ']';
  const BAD = [
    ['event with a non-JSON payload', '42garbage'],
    ['event name neither a string nor a number', '42[true,2]'],
    ['truncated JSON', '42["x"'],
    ['empty event array', '42[]'],
    ['object instead of an array', '42{}'],
    ['trailing bytes after the JSON', '42["x",1]x'],
    ['nesting depth 40', nest(40)],
    ['nesting depth 33 (one over --max-json-depth)', nest(33)],
    ['11 attachments (over --max-attachments)', placeholders(11)],
    ['ack without an id', '43["x"]'],
    ['CONNECT_ERROR sent by a client', '44{"message":"x"}'],
    ['unknown packet type', '48'],
    ['binary attachment without a binary packet', null],
  ];

  for (const [what, packet] of BAD) {
    test(`${what}: session closed, a concurrent client unaffected`, async () => {
      const { s: good } = await connectUser(srv, uid('good'));
      const room = uid('lobby');
      assert.deepEqual(await ack(good, 'chat:join', room), { ok: true, roomId: room });
      const ws = await rawConnected();
      if (packet === null) ws.send({ opcode: OP.BIN, payload: Buffer.from([1, 2, 3]) });
      else ws.sendText(packet);
      await assertSessionClosed(ws, what);
      const got = waitFor(good, 'chat:message');
      const m = await ack(good, 'chat:message', { roomId: room, message: `after ${what}` });
      assert.equal(m.message, `after ${what}`);
      assert.equal((await got).message, `after ${what}`);
      assert.equal(good.connected, true);
    });
  }

  test('within the limits (depth 32, 10 attachments) the packet is processed', async () => {
    const ws = await rawConnected();
    ws.sendText(nest(32));
    assert.match(await ws.nextText(), /^42\["error",\{"code":"unknown_event","message":"[^"]*","event":"x"\}\]$/);
    ws.sendText(placeholders(10));
    for (let i = 0; i < 10; i++) ws.send({ opcode: OP.BIN, payload: Buffer.from([i]) });
    assert.match(await ws.nextText(), /^42\["error",\{"code":"unknown_event"/);
    ws.sendText('421["no:such"]');
    assert.match(await ws.nextText(), /^431\[\{"error":\{"code":"unknown_event"/);
  });
});

describe('event errors', () => {
  test('unknown event with an ack -> {error: {code: unknown_event}} (websocket and polling)', async () => {
    for (const transports of [['websocket'], ['polling']]) {
      const { s } = await connectUser(srv, uid('u'), { transports });
      const r = await ack(s, 'definitely:not:an:event', { x: 1 });
      assert.equal(r.error.code, 'unknown_event');
      assert.equal(typeof r.error.message, 'string');
      const r2 = await ack(s, 'x', 1, 'two', [3]);
      assert.equal(r2.error.code, 'unknown_event');
    }
  });

  test('chat:message of 65536 bytes works; 65537 -> payload_too_large', async () => {
    const { s } = await connectUser(srv, uid('big'));
    const { s: other } = await connectUser(srv, uid('peer'));
    const room = uid('big-room');
    await ack(s, 'chat:join', room);
    await ack(other, 'chat:join', room);
    const seen = record(other, 'chat:message');
    for (const [text, ok] of [
      ['a'.repeat(65536), true],
      ['\u00e9'.repeat(32768), true], // 2-byte characters: 65536 bytes
      ['\u{1F600}'.repeat(16384), true], // 4-byte characters: 65536 bytes
      ['a'.repeat(65537), false],
      ['\u00e9'.repeat(32768) + 'a', false], // 32769 characters but 65537 bytes
      ['a'.repeat(65535) + '\u00e9', false], // 65537 bytes
      ['a'.repeat(200000), false],
    ]) {
      const what = `${text.length} chars / ${Buffer.byteLength(text)} bytes`;
      const r = await ack(s, 'chat:message', { roomId: room, message: text });
      if (ok) {
        assert.equal(r.message, text, what);
      } else {
        assert.equal(r.error && r.error.code, 'payload_too_large', `${what}: ${JSON.stringify(r).slice(0, 200)}`);
      }
    }
    await ack(other, 'chat:join', room); // round trip: deliveries are done
    assert.equal(seen.length, 3);
    // Without an ack the refusal is an error event naming the event.
    const ev = waitForArgs(s, 'error');
    s.emit('chat:message', { roomId: room, message: 'b'.repeat(65537) });
    const [e] = await ev;
    assert.equal(e.code, 'payload_too_large');
    assert.equal(e.event, 'chat:message');
  }, { skip: SKIP });

  test('the server is still healthy', async () => {
    const r = await rawHttp(srv.port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(r.status, 200);
  }, { skip: SKIP });
});
