// Section A: Socket.IO protocol behaviour of the sio_echo example server,
// driven by the real socket.io-client over every transport setup.
import { before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, NO_EVENT_LIMIT } from './lib/server.mjs';
import {
  test, ack, connect, connectError, client, waitFor, waitForArgs, record, elapse, normBin,
} from './lib/util.mjs';

let srv;
before(async () => { srv = await startServer('sio_echo', { args: NO_EVENT_LIMIT }); });
after(async () => { if (srv) await srv.stop(); });

const TRANSPORTS = {
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'] },
  upgrade: {},
};

const UNICODE = 'h\u00e9llo \u{1F30D} \u65e5\u672c \u2028 "quoted" \\ \u0000 end';
const NESTED = { a: 1, b: [true, null, { c: 'x', d: [1.5, -2, 1e21] }], e: {}, f: [] };

function binaryPayload() {
  return {
    img: Buffer.from([0, 1, 2, 255, 254]),
    list: [Buffer.from('abc'), { deep: Buffer.alloc(300, 7) }, 'text'],
    empty: Buffer.alloc(0),
  };
}

for (const [name, topts] of Object.entries(TRANSPORTS)) {
  describe(`transport: ${name}`, () => {
    test('echo with ack returns the same arguments', async () => {
      const s = await connect(srv.url, topts);
      assert.deepEqual(await ack(s, 'echo', 'hello'), 'hello');
      assert.deepEqual(await ack(s, 'echo', 42), 42);
      assert.deepEqual(await ack(s, 'echo', NESTED), NESTED);
      assert.deepEqual(await ack(s, 'echo', UNICODE), UNICODE);
      const multi = await new Promise((resolve) => s.emit('echo', 'a', 2, { three: [3] }, (...args) => resolve(args)));
      assert.deepEqual(multi, ['a', 2, { three: [3] }]);
    });

    test('echo without ack is emitted back', async () => {
      const s = await connect(srv.url, topts);
      const got = waitForArgs(s, 'echo');
      s.emit('echo', UNICODE, NESTED, 7);
      assert.deepEqual(await got, [UNICODE, NESTED, 7]);
    });

    test('binary nested in objects and arrays, both directions', async () => {
      const s = await connect(srv.url, topts);
      const acked = await ack(s, 'echo', binaryPayload());
      assert.deepEqual(normBin(acked), binaryPayload());
      const got = waitForArgs(s, 'echo');
      s.emit('echo', [Buffer.from('x'), { y: Buffer.from([9, 8]) }], Buffer.from('top'));
      assert.deepEqual(normBin(await got), [[Buffer.from('x'), { y: Buffer.from([9, 8]) }], Buffer.from('top')]);
    });

    test('rooms: join, relay to others, leave', async () => {
      const [a, b, c] = await Promise.all([connect(srv.url, topts), connect(srv.url, topts), connect(srv.url, topts)]);
      const room = `r-${name}`;
      assert.equal(await ack(a, 'join', room), true);
      assert.equal(await ack(b, 'join', room), true);
      const aSeen = record(a, 'relay');
      const cSeen = record(c, 'relay');
      const got = waitForArgs(b, 'relay');
      a.emit('relay', room, 'hi', { x: 1 });
      assert.deepEqual(await got, ['hi', { x: 1 }]);
      // An ack round trip on each socket after delivery orders any stray relay before it.
      await ack(a, 'echo', 'barrier');
      await ack(c, 'echo', 'barrier');
      assert.deepEqual(aSeen, [], 'the sender must not get its own relay');
      assert.deepEqual(cSeen, [], 'a socket outside the room must not get the relay');

      assert.equal(await ack(b, 'leave', room), true);
      assert.equal(await ack(c, 'join', room), true);
      const bSeen = record(b, 'relay');
      const toC = waitForArgs(c, 'relay');
      a.emit('relay', room, 'again');
      assert.deepEqual(await toC, ['again']);
      await ack(b, 'echo', 'barrier');
      assert.deepEqual(bSeen, [], 'a socket that left must not get the relay');
    });

    test('relay_except: room minus the except room, sender included', async () => {
      const [s1, s2, s3, s4] = await Promise.all([1, 2, 3, 4].map(() => connect(srv.url, topts)));
      const room = `re-${name}`;
      const ex = `ex-${name}`;
      await ack(s1, 'join', room); await ack(s1, 'join', ex);
      await ack(s2, 'join', room);
      await ack(s3, 'join', room); await ack(s3, 'join', ex);
      await ack(s4, 'join', ex);
      const seen = [s1, s2, s3, s4].map((s) => record(s, 'relay'));

      const to2 = waitForArgs(s2, 'relay');
      s1.emit('relay_except', room, ex, 'm1', 1);
      assert.deepEqual(await to2, ['m1', 1]);
      await Promise.all([s1, s3, s4].map((s) => ack(s, 'echo', 'barrier')));
      assert.deepEqual(seen.map((x) => x.length), [0, 1, 0, 0]);

      // s2 is in the room and not excluded: it receives its own broadcast.
      const self = waitForArgs(s2, 'relay', 5000, (m) => m === 'm2');
      s2.emit('relay_except', room, ex, 'm2');
      assert.deepEqual(await self, ['m2']);
      await Promise.all([s1, s3, s4].map((s) => ack(s, 'echo', 'barrier')));
      assert.deepEqual(seen.map((x) => x.length), [0, 2, 0, 0]);
    });

    test('server-to-client ack: ask / question / answer', async () => {
      const s = await connect(srv.url, topts);
      s.on('question', (payload, ack) => ack({ reply: payload.q + '!' }));
      const answer = waitFor(s, 'answer');
      s.emit('ask', { q: 'why' });
      assert.deepEqual(await answer, { reply: 'why!' });
    });

    test('disconnect_me: io server disconnect, then manual reconnect works', async () => {
      const s = await connect(srv.url, topts);
      const reason = waitFor(s, 'disconnect');
      s.emit('disconnect_me');
      assert.equal(await reason, 'io server disconnect');
      const back = waitFor(s, 'connect');
      s.connect();
      await back;
      assert.equal(await ack(s, 'echo', 'back'), 'back');
    });
  });
}

test('server-to-client ack times out after 2 s: answer_timeout', async () => {
  const s = await connect(srv.url, { transports: ['websocket'] });
  const asked = waitFor(s, 'question');
  s.on('question', () => { /* never ack */ });
  const timedOut = waitForArgs(s, 'answer_timeout', 5000);
  const t0 = Date.now();
  s.emit('ask', 'silent');
  assert.equal(await asked, 'silent');
  await timedOut;
  const dt = Date.now() - t0;
  assert.ok(dt >= 1800, `answer_timeout after ${dt} ms, expected about 2000`);
});

test('namespace /admin works like /', async () => {
  const s = await connect(`${srv.url}/admin`, { transports: ['websocket'] });
  assert.equal(await ack(s, 'echo', 'adm'), 'adm');
  const d = await connectError(`${srv.url}/admin`, { transports: ['websocket'], auth: { deny: 'no admin' } });
  assert.equal(d.message, 'no admin');
});

test('/ and /admin multiplexed on one connection', async () => {
  const root = client(srv.url, { transports: ['websocket'], forceNew: true });
  await waitFor(root, 'connect');
  const adm = root.io.socket('/admin'); // opens by itself (autoConnect)
  await waitFor(adm, 'connect');
  const [x, y] = await Promise.all([ack(root, 'echo', 'root'), ack(adm, 'echo', 'admin')]);
  assert.equal(x, 'root');
  assert.equal(y, 'admin');
  adm.disconnect();
});

test('connection middleware: auth {deny} -> connect_error with that message', async () => {
  for (const transports of [['websocket'], ['polling']]) {
    const e = await connectError(srv.url, { transports, auth: { deny: 'why' } });
    assert.equal(e.message, 'why');
  }
});

test('unknown namespace -> connect_error "Invalid namespace"', async () => {
  for (const transports of [['websocket'], ['polling']]) {
    const e = await connectError(`${srv.url}/nope`, { transports });
    assert.equal(e.message, 'Invalid namespace');
  }
});

test('polling -> websocket upgrade loses no message (50 acks across it)', async () => {
  const s = client(srv.url, { autoConnect: false });
  const acks = [];
  let firstTransport = null;
  let upgraded = null;
  s.io.once('open', () => {
    const eng = s.io.engine;
    firstTransport = eng.transport.name;
    upgraded = waitFor(eng, 'upgrade', 5000);
    // Emitted while the probe is in flight: the client buffers them until the switch.
    eng.once('upgrading', () => {
      for (let i = 25; i < 50; i++) acks.push(ack(s, 'echo', { i }));
    });
  });
  const connected = waitFor(s, 'connect');
  s.connect();
  await connected;
  for (let i = 0; i < 25; i++) acks.push(ack(s, 'echo', { i }));
  assert.equal(firstTransport, 'polling');
  await upgraded;
  assert.equal(s.io.engine.transport.name, 'websocket');
  assert.equal(acks.length, 50, 'the upgrade happened without an "upgrading" phase');
  const got = await Promise.all(acks);
  got.sort((x, y) => x.i - y.i);
  assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => ({ i })));
  assert.deepEqual(normBin(await ack(s, 'echo', { after: Buffer.from('up') })), { after: Buffer.from('up') });
});

describe('heartbeat', () => {
  let hb;
  before(async () => { hb = await startServer('sio_echo', { args: ['--ping-interval', '300', '--ping-timeout', '200'] }); });
  after(async () => { if (hb) await hb.stop(); });

  test('handshake advertises the configured ping values', async () => {
    const res = await fetch(`${hb.url}/socket.io/?EIO=4&transport=polling`);
    const body = await res.text();
    const open = JSON.parse(body.slice(1));
    assert.equal(open.pingInterval, 300);
    assert.equal(open.pingTimeout, 200);
  });

  test('a websocket client that never answers pings is closed', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${hb.port}/socket.io/?EIO=4&transport=websocket`);
    const msgs = [];
    let opened = 0;
    ws.on('message', (d) => {
      const s = d.toString();
      if (s.startsWith('0')) opened = Date.now();
      msgs.push(s);
    });
    const [code] = await waitForArgs(ws, 'close', 3000);
    const dt = Date.now() - opened;
    assert.ok(opened > 0, 'no open packet');
    assert.ok(msgs.includes('2'), `no ping received; got ${JSON.stringify(msgs)}`);
    assert.ok(dt >= 400 && dt <= 1000, `closed ${dt} ms after open, expected within (300+200)*2`);
    assert.ok(typeof code === 'number');
  });

  test('a well-behaved client stays connected over 2 s', async () => {
    for (const transports of [['websocket'], ['polling']]) {
      const s = await connect(hb.url, { transports });
      const drops = record(s, 'disconnect');
      await elapse(2000); // time passing is the behaviour under test
      assert.deepEqual(drops, []);
      assert.equal(s.connected, true);
      assert.equal(await ack(s, 'echo', 'alive'), 'alive');
    }
  });
});

test('graceful shutdown: SIGTERM disconnects clients and exits 0 within 5 s', async () => {
  const own = await startServer('sio_echo');
  try {
    const s = await connect(own.url, { transports: ['websocket'] });
    const p = await connect(own.url, { transports: ['polling'] });
    const reason = waitFor(s, 'disconnect');
    const preason = waitFor(p, 'disconnect');
    const t0 = Date.now();
    own.proc.kill('SIGTERM');
    const r = await own.exited;
    assert.ok(['transport close', 'io server disconnect'].includes(await reason), 'websocket disconnect reason');
    assert.ok(['transport close', 'io server disconnect', 'transport error'].includes(await preason), 'polling disconnect reason');
    assert.deepEqual(r, { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 5000);
  } finally {
    await own.stop();
  }
});

test('several clients upgrading at the same time all complete the upgrade', async () => {
  const socks = Array.from({ length: 4 }, () => client(srv.url, { autoConnect: false }));
  const upgraded = socks.map((s) => new Promise((resolve) => {
    s.io.once('open', () => resolve(waitFor(s.io.engine, 'upgrade', 5000)));
  }));
  const connected = socks.map((s) => waitFor(s, 'connect'));
  socks.forEach((s) => s.connect());
  await Promise.all(connected);
  // Emitted while the upgrades are in flight (or just after).
  const acks = socks.map((s, i) => ack(s, 'echo', { i }));
  await Promise.all(upgraded);
  assert.deepEqual(await Promise.all(acks), socks.map((_, i) => ({ i })));
  for (const s of socks) assert.equal(s.io.engine.transport.name, 'websocket');
});
