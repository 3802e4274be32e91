// The example programs (examples/*.c) driven by real clients: ws_echo with
// the `ws` package (plain and permessage-deflate), eio_echo with
// engine.io-client on every transport, chat_room with socket.io-client, and
// a graceful shutdown with a client connected. C-only: there is no reference
// server for these kinds, so everything here skips when SB_E2E_TARGET=ref.
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inflateRawSync, constants as zlibConst } from 'node:zlib';
import WebSocket from 'ws';
import { Socket as EioSocket } from 'engine.io-client';
import { startServer } from './lib/server.mjs';
import { test, isRef, ack, connect, waitFor, waitForArgs, until } from './lib/util.mjs';
import { RawWs, OP } from './lib/raw.mjs';

const SKIP = isRef ? 'example programs have no reference server' : false;

/** A `ws` client whose messages are queued as {data: Buffer, binary}. */
class EchoClient {
  constructor(url, opts = {}) {
    this.ws = new WebSocket(url, opts);
    this.queue = [];
    this.waiters = [];
    this.upgradeHeaders = null;
    this.ws.on('upgrade', (res) => { this.upgradeHeaders = res.headers; });
    this.ws.on('message', (data, binary) => {
      this.queue.push({ data: Buffer.from(data), binary });
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.ws.on('error', () => { /* reported through close */ });
  }

  static async open(url, opts) {
    const c = new EchoClient(url, opts);
    await new Promise((resolve, reject) => {
      c.ws.once('open', resolve);
      c.ws.once('error', reject);
    });
    return c;
  }

  async next(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for an echo');
      await new Promise((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
    return this.queue.shift();
  }

  /** Sends and asserts the exact echo (same bytes, same frame type). */
  async roundTrip(payload, what) {
    const binary = typeof payload !== 'string';
    const bytes = binary ? Buffer.from(payload) : Buffer.from(payload, 'utf8');
    this.ws.send(payload, { binary });
    const got = await this.next();
    assert.equal(got.binary, binary, `${what}: frame type`);
    assert.equal(got.data.length, bytes.length, `${what}: length`);
    assert.ok(got.data.equals(bytes), `${what}: bytes differ`);
  }

  terminate() { this.ws.terminate(); }
}

/** Compressible text of exactly n bytes. */
function prose(n) {
  const base = 'the quick brown fox jumps over the lazy dog; ';
  return base.repeat(Math.ceil(n / base.length)).slice(0, n);
}

describe('ws_echo', { skip: SKIP }, () => {
  let srv;
  let url;
  const clients = [];
  before(async () => {
    srv = await startServer('ws_echo');
    url = `ws://127.0.0.1:${srv.port}/echo`;
  });
  after(async () => {
    for (const c of clients) c.terminate();
    if (srv) await srv.stop();
  });
  const open = async (opts) => {
    const c = await EchoClient.open(url, opts);
    clients.push(c);
    return c;
  };

  test('"welcome" first, then text and binary echoed exactly at every length boundary', async () => {
    const c = await open();
    assert.deepEqual(await c.next(), { data: Buffer.from('welcome'), binary: false });
    await c.roundTrip('', 'empty text');
    await c.roundTrip(Buffer.alloc(0), 'empty binary');
    for (const n of [1, 125, 126, 127, 65535, 65536, 200 * 1024]) {
      await c.roundTrip(prose(n), `text ${n}`);
      await c.roundTrip(randomBytes(n), `binary ${n}`);
    }
    await c.roundTrip('4-byte chars \u{1F600}\u{1D11E}\u{10FFFF} and \u00e9\u4e2d', 'utf-8 text');
    await c.roundTrip('closer', 'a text that only starts like the close command');
    await c.roundTrip(Buffer.from('close'), '"close" as binary is echoed, not obeyed');
  });

  test('"close" -> server closes with 4000 "bye"', async () => {
    const c = await open();
    assert.equal((await c.next()).data.toString(), 'welcome');
    c.ws.send('close');
    assert.deepEqual(await c.closed, { code: 4000, reason: 'bye' });
  });

  test('the extension is not negotiated without --ws-deflate', async () => {
    const c = await open({ perMessageDeflate: true });
    assert.equal(c.ws.extensions, '');
    assert.equal(c.upgradeHeaders['sec-websocket-extensions'], undefined);
    await c.next();
    await c.roundTrip(prose(4096), 'text 4 KB');
  });

  test('a path other than /echo -> 404 JSON not_found', async () => {
    const res = await fetch(`${srv.url}/nope`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const body = await res.json();
    assert.equal(body.error.code, 'not_found');
    assert.equal(typeof body.error.message, 'string');
    // A WebSocket handshake to an unknown path gets the same answer.
    const r = await RawWs.open(srv.port, '/echo2');
    assert.equal(r.status, 404);
    assert.equal(JSON.parse(r.body).error.code, 'not_found');
  });
});

describe('ws_echo --ws-deflate', { skip: SKIP }, () => {
  let srv;
  let url;
  const clients = [];
  before(async () => {
    srv = await startServer('ws_echo', { args: ['--ws-deflate'] });
    url = `ws://127.0.0.1:${srv.port}/echo`;
  });
  after(async () => {
    for (const c of clients) c.terminate();
    if (srv) await srv.stop();
  });
  const open = async (opts) => {
    const c = await EchoClient.open(url, opts);
    clients.push(c);
    return c;
  };

  test('permessage-deflate is negotiated; 4 KB / 100 KB messages round-trip, several in a row', async () => {
    const c = await open({ perMessageDeflate: true });
    assert.equal(c.ws.extensions, 'permessage-deflate');
    assert.match(c.upgradeHeaders['sec-websocket-extensions'], /^permessage-deflate(;|$)/);
    assert.equal((await c.next()).data.toString(), 'welcome');
    // Context takeover on both sides: each message depends on the ones before.
    for (let round = 0; round < 3; round++) {
      await c.roundTrip(prose(4096), `compressible text 4 KB #${round}`);
      await c.roundTrip(prose(100 * 1024), `compressible text 100 KB #${round}`);
      await c.roundTrip(randomBytes(4096), `random binary 4 KB #${round}`);
      await c.roundTrip(randomBytes(100 * 1024), `random binary 100 KB #${round}`);
      await c.roundTrip(Buffer.alloc(100 * 1024, round), `zeros 100 KB #${round}`);
      await c.roundTrip('short', `below the threshold #${round}`);
      await c.roundTrip('\u{1F600}'.repeat(2000), `utf-8 8 KB #${round}`);
    }
  });

  test('server frames: compressed (RSV1) from 1024 bytes, plain below', async () => {
    const { ws, status, headers } = await RawWs.open(srv.port, '/echo', {
      extraHeaders: 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n',
    });
    assert.equal(status, 101);
    assert.match(headers['sec-websocket-extensions'], /^permessage-deflate/);
    try {
      const welcome = await ws.next();
      assert.equal(welcome.rsv1, false, 'a 7-byte message is sent uncompressed');
      assert.equal(welcome.payload.toString(), 'welcome');
      const big = prose(4096);
      ws.sendText(big); // uncompressed from the client: allowed
      const f = await ws.next();
      assert.equal(f.opcode, OP.TEXT);
      assert.equal(f.rsv1, true, 'a 4 KB message is compressed');
      assert.ok(f.payload.length < 1024, `compressed size ${f.payload.length}`);
      const inflated = inflateRawSync(Buffer.concat([f.payload, Buffer.from([0, 0, 0xff, 0xff])]),
        { finishFlush: zlibConst.Z_SYNC_FLUSH });
      assert.equal(inflated.toString(), big);
      ws.sendText('x'.repeat(1023));
      const small = await ws.next();
      assert.equal(small.rsv1, false, '1023 bytes stay below --ws-deflate-threshold');
      assert.equal(small.payload.toString(), 'x'.repeat(1023));
    } finally {
      ws.destroy();
    }
  });

  test('a compressed message inflating past 1,000,000 bytes -> close 1009', async () => {
    const c = await open({ perMessageDeflate: true });
    await c.next();
    await c.roundTrip(Buffer.alloc(999_999), 'just below the limit after inflating');
    c.ws.send(Buffer.alloc(2_000_000), { compress: true, binary: true });
    const closed = await c.closed;
    assert.equal(closed.code, 1009);
  });
});

describe('eio_echo', { skip: SKIP }, () => {
  let srv;
  const sockets = [];
  before(async () => { srv = await startServer('eio_echo'); });
  after(async () => {
    for (const s of sockets) s.close();
    if (srv) await srv.stop();
  });

  function eio(transports) {
    const s = new EioSocket(srv.url, { path: '/engine.io/', transports });
    sockets.push(s);
    const msgs = [];
    s.on('message', (d) => msgs.push(d));
    return { s, msgs };
  }

  // engine.io-parser hands an empty text message ("4") over as undefined.
  function norm(d) {
    if (d === undefined) return '';
    if (typeof d === 'string') return d;
    if (d instanceof ArrayBuffer) return Buffer.from(d);
    return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  }

  async function exercise(transports, expectTransport) {
    const { s, msgs } = eio(transports);
    await waitFor(s, 'open');
    await until(() => msgs.length >= 1, 5000, '"hello"');
    assert.equal(msgs[0], 'hello');
    if (expectTransport === 'websocket' && transports.length > 1) {
      await until(() => s.transport.name === 'websocket', 5000, 'the upgrade');
    }
    assert.equal(s.transport.name, expectTransport);
    const sent = [
      'text',
      '',
      'utf-8 \u{1F600} \u00e9 "quoted" \\ \n',
      'x'.repeat(100_000),
      Buffer.from([0, 1, 2, 255]),
      new Uint8Array([9, 8, 7]),
      randomBytes(50_000),
      Buffer.alloc(0),
    ];
    for (const m of sent) s.send(m);
    await until(() => msgs.length >= 1 + sent.length, 5000, `${sent.length} echoes`);
    assert.equal(msgs.length, 1 + sent.length);
    for (let i = 0; i < sent.length; i++) {
      const want = sent[i];
      const got = norm(msgs[1 + i]);
      if (typeof want === 'string') {
        assert.equal(got, want, `message ${i}`);
      } else {
        assert.ok(Buffer.isBuffer(got), `message ${i} came back as text: ${JSON.stringify(got)}`);
        assert.ok(got.equals(Buffer.from(want)), `message ${i}: bytes differ`);
      }
    }
    const closed = waitForArgs(s, 'close');
    s.close();
    assert.equal((await closed)[0], 'forced close');
  }

  test('websocket: hello, then text and binary echo exactly', async () => {
    await exercise(['websocket'], 'websocket');
  });

  test('polling: hello, then text and binary echo exactly', async () => {
    await exercise(['polling'], 'polling');
  });

  test('polling + upgrade to websocket: hello, then text and binary echo exactly', async () => {
    await exercise(['polling', 'websocket'], 'websocket');
  });
});

describe('chat_room', { skip: SKIP }, () => {
  let srv;
  before(async () => { srv = await startServer('chat_room'); });
  after(async () => { if (srv) await srv.stop(); });

  test('nick, join (the room hears "<nick> joined"), say reaches every member', async () => {
    const a = await connect(srv.url, { transports: ['websocket'] });
    const b = await connect(srv.url, { transports: ['polling'] });
    const outsider = await connect(srv.url, { transports: ['websocket'] });
    const outsiderSaw = [];
    outsider.onAny((...args) => outsiderSaw.push(args));

    assert.equal(await ack(a, 'nick', 'alice'), true);
    assert.equal(await ack(b, 'nick', 'bob'), true);
    assert.equal(await ack(a, 'join', 'lobby'), true);
    const notice = waitForArgs(a, 'notice');
    const aSelf = [];
    b.on('notice', (...x) => aSelf.push(x));
    assert.equal(await ack(b, 'join', 'lobby'), true);
    assert.deepEqual(await notice, ['bob joined']);

    const atA = waitForArgs(a, 'said');
    const atB = waitForArgs(b, 'said');
    b.emit('say', 'hello room');
    assert.deepEqual(await atA, ['bob', 'hello room']);
    assert.deepEqual(await atB, ['bob', 'hello room']);

    const again = waitForArgs(b, 'said');
    a.emit('say', 'hi bob');
    assert.deepEqual(await again, ['alice', 'hi bob']);
    assert.equal(await ack(outsider, 'join', 'elsewhere'), true); // round trip
    assert.deepEqual(outsiderSaw, [], 'another room hears nothing');
    assert.deepEqual(aSelf, [], 'the joiner is not told about itself');
  });

  test('bad arguments: nick over 32 bytes or not a string, join without a name -> false', async () => {
    const s = await connect(srv.url, { transports: ['websocket'] });
    assert.equal(await ack(s, 'nick', 'n'.repeat(33)), false);
    assert.equal(await ack(s, 'nick', 42), false);
    assert.equal(await ack(s, 'nick', 'n'.repeat(32)), true);
    assert.equal(await ack(s, 'join', { room: 'x' }), false);
    assert.equal(await ack(s, 'join', 'r'.repeat(65)), false);
    // Before a successful join, "say" goes nowhere (not even back to the sender).
    const seen = [];
    s.on('said', (...x) => seen.push(x));
    s.emit('say', 'into the void');
    assert.equal(await ack(s, 'join', 'r'.repeat(64)), true);
    assert.deepEqual(seen, []);
    const mine = waitForArgs(s, 'said');
    s.emit('say', 'now it works');
    assert.deepEqual(await mine, ['n'.repeat(32), 'now it works']);
  });

  test('default nick is "guest-" + the first 6 characters of the socket id', async () => {
    const s = await connect(srv.url, { transports: ['websocket'] });
    assert.equal(await ack(s, 'join', 'guests'), true);
    const said = waitForArgs(s, 'said');
    s.emit('say', 'hi');
    assert.deepEqual(await said, [`guest-${s.id.slice(0, 6)}`, 'hi']);
  });
});

describe('graceful shutdown', { skip: SKIP }, () => {
  test('SIGTERM on ws_echo: the client gets close 1001, the process exits 0', async () => {
    const srv = await startServer('ws_echo');
    let c;
    try {
      c = await EchoClient.open(`ws://127.0.0.1:${srv.port}/echo`);
      assert.equal((await c.next()).data.toString(), 'welcome');
      srv.proc.kill('SIGTERM');
      const closed = await c.closed;
      assert.equal(closed.code, 1001);
      const exit = await srv.exited;
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
      assert.doesNotMatch(srv.stderr(), /Sanitizer|runtime error:/);
    } finally {
      if (c) c.terminate();
      await srv.stop();
    }
  });
});
