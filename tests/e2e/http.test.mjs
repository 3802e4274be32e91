// The HTTP/1.1 layer under hostile and unusual clients: head limits (414,
// 431), body limits and framing (413, chunked, 400), timeouts (408, idle
// keep-alive), pipelining, HTTP/1.0, HEAD, and CORS with --cors-origins.
// C-only: the limits and flags are the C server's, so everything here skips
// when SB_E2E_TARGET=ref.
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { test, isRef, connect, connectError, ack } from './lib/util.mjs';
import { rawHttp, RawWs, RawHttpConn } from './lib/raw.mjs';

const SKIP = isRef ? 'C server limits and flags (no reference behaviour)' : false;
const EIO = '/socket.io/?EIO=4';
const conns = [];

async function openConn(port) {
  const c = await RawHttpConn.open(port);
  conns.push(c);
  return c;
}

after(() => { for (const c of conns) c.destroy(); });

/** Asserts an {"error":{"code","message"}} JSON body. */
function assertJsonError(r, status, code) {
  assert.equal(r.status, status, r.raw);
  assert.match(r.headers['content-type'] || '', /^application\/json/, r.raw);
  const body = JSON.parse(r.body);
  assert.equal(typeof body.error.code, 'string', r.body);
  assert.ok(body.error.code.length > 0, r.body);
  assert.equal(typeof body.error.message, 'string', r.body);
  if (code) assert.equal(body.error.code, code, r.body);
}

/** Sends `request` on a fresh connection; asserts the answer is `status`
 *  with a JSON error, "Connection: close", and that the server then closes. */
async function assertRefused(port, request, status, code) {
  const c = await openConn(port);
  c.write(request);
  const r = await c.response();
  assertJsonError(r, status, code);
  assert.equal(r.headers.connection, 'close', r.raw);
  await c.waitClose();
  return r;
}

/** A request of exactly `total` bytes: request line, Host, one padding
 *  header, blank line. */
function headOfSize(total, path = '/no-such-path') {
  const start = `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Pad: `;
  const end = '\r\n\r\n';
  const pad = total - start.length - end.length;
  assert.ok(pad >= 1);
  return start + 'p'.repeat(pad) + end;
}

describe('limits and framing (sio_echo --max-http-buffer-size 2000)', { skip: SKIP }, () => {
  let srv;
  before(async () => { srv = await startServer('sio_echo', { args: ['--max-http-buffer-size', '2000'] }); });
  after(async () => { if (srv) await srv.stop(); });

  async function handshake() {
    const r = await rawHttp(srv.port, `GET ${EIO}&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 200, r.raw);
    return JSON.parse(r.body.slice(1)).sid;
  }

  test('64 headers are fine; 65 -> 431 and the connection closes', async () => {
    const headers = (n) => Array.from({ length: n - 1 }, (_, i) => `X-H${i}: v${i}\r\n`).join('');
    const ok = await rawHttp(srv.port, `GET ${EIO}&transport=polling HTTP/1.1\r\nHost: x\r\n${headers(64)}\r\n`);
    assert.equal(ok.status, 200, ok.raw);
    assert.match(ok.body, /^0\{"sid":/);
    await assertRefused(srv.port, `GET ${EIO}&transport=polling HTTP/1.1\r\nHost: x\r\n${headers(65)}\r\n`, 431);
    await assertRefused(srv.port, `GET ${EIO}&transport=polling HTTP/1.1\r\nHost: x\r\n${headers(200)}\r\n`, 431);
  });

  test('request line of 8192 bytes is fine (404); 8193 -> 414', async () => {
    const line = (n) => `GET /${'a'.repeat(n - 'GET / HTTP/1.1'.length)} HTTP/1.1`;
    assert.equal(line(8192).length, 8192);
    const ok = await rawHttp(srv.port, `${line(8192)}\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assertJsonError(ok, 404, 'not_found');
    await assertRefused(srv.port, `${line(8193)}\r\nHost: x\r\n\r\n`, 414);
    // Refused as soon as the line is too long, before the rest arrives.
    const c = await openConn(srv.port);
    c.write(`GET /${'b'.repeat(9000)}`);
    assert.equal((await c.response()).status, 414);
    await c.waitClose();
  });

  test('head of 16384 bytes is fine (404); 16385 -> 431; 40 KB -> 431', async () => {
    const ok = await rawHttp(srv.port, headOfSize(16384));
    assertJsonError(ok, 404, 'not_found');
    await assertRefused(srv.port, headOfSize(16385), 431);
    await assertRefused(srv.port, headOfSize(40000), 431);
    // Many medium headers, each well under the limit, add up to too much.
    const many = Array.from({ length: 20 }, (_, i) => `X-M${i}: ${'m'.repeat(1000)}\r\n`).join('');
    await assertRefused(srv.port, `GET / HTTP/1.1\r\nHost: x\r\n${many}\r\n`, 431);
  });

  test('POST body over --max-http-buffer-size -> 413 (Content-Length and chunked); 2000 bytes work', async () => {
    const sid = await handshake();
    const path = `${EIO}&transport=polling&sid=${sid}`;
    const post = (body) => `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    await assertRefused(srv.port, post('4' + 'x'.repeat(2000)), 413);
    // Declared too big: refused before the body is sent.
    await assertRefused(srv.port, `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n`, 413);
    const chunk = 'y'.repeat(1500);
    await assertRefused(srv.port, `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `${chunk.length.toString(16)}\r\n${chunk}\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`, 413);

    // The session survived the refusals: exactly 2000 bytes go through.
    const c = await openConn(srv.port);
    c.write(post('40'));
    assert.equal((await c.response()).body, 'ok');
    c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match((await c.response()).body, /^40\{"sid":"[^"]+"(,"pid":"[^"]+")?\}$/);
    const event = `42["echo","${'z'.repeat(2000 - 13)}"]`;
    assert.equal(event.length, 2000);
    c.write(post(event));
    const r = await c.response();
    assert.equal(r.status, 200, r.raw);
    assert.equal(r.body, 'ok');
    c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal((await c.response()).body, event);
  });

  test('chunked polling POST: the packets are processed', async () => {
    const sid = await handshake();
    const path = `${EIO}&transport=polling&sid=${sid}`;
    const c = await openConn(srv.port);
    // "40" split over two chunks, with a chunk extension, then a trailer.
    c.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n4\r\n1;ext=1\r\n0\r\n0\r\nX-Trailer: t\r\n\r\n`);
    const r = await c.response();
    assert.equal(r.status, 200, r.raw);
    assert.equal(r.body, 'ok');
    c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match((await c.response()).body, /^40\{"sid":"[^"]+"(,"pid":"[^"]+")?\}$/);
    // A chunked body arriving byte by byte.
    const body = '42["echo","chunky"]';
    const req = `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    for (const ch of req) c.write(ch);
    assert.equal((await c.response()).body, 'ok');
    c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal((await c.response()).body, '42["echo","chunky"]');
  });

  test('bad body framing -> 400 (both CL and TE, two CLs, bad chunk size); other codings -> 501', async () => {
    const sid = await handshake();
    const path = `${EIO}&transport=polling&sid=${sid}`;
    await assertRefused(srv.port, `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n40\r\n0\r\n\r\n`, 400);
    await assertRefused(srv.port, `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n40`, 400);
    await assertRefused(srv.port, `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n40`, 400);
    await assertRefused(srv.port, `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: -2\r\n\r\n40`, 400);
    await assertRefused(srv.port, `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n40\r\n0\r\n\r\n`, 400);
    await assertRefused(srv.port, `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n`, 501);
  });

  test('unknown path -> 404 JSON not_found, and the connection stays open', async () => {
    const c = await openConn(srv.port);
    for (const path of ['/', '/nope', '/socket.ioX', '/socket', '/favicon.ico']) {
      c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      const r = await c.response();
      assertJsonError(r, 404, 'not_found');
      assert.equal(r.headers.connection, undefined, `${path}: keep-alive expected`);
    }
  });

  test('HTTP/1.0 without keep-alive gets "Connection: close" and the server closes', async () => {
    const c = await openConn(srv.port);
    c.write('GET /nope HTTP/1.0\r\n\r\n');
    const r = await c.response();
    assert.equal(r.status, 404);
    assert.equal(r.headers.connection, 'close');
    await c.waitClose();
    // With keep-alive asked for, the connection is reused.
    const k = await openConn(srv.port);
    k.write('GET /nope HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const r1 = await k.response();
    assert.equal(r1.status, 404);
    assert.equal(r1.headers.connection, undefined, r1.raw);
    k.write('GET /nope2 HTTP/1.0\r\n\r\n');
    assert.equal((await k.response()).headers.connection, 'close');
    await k.waitClose();
    // HTTP/1.1 with Connection: close.
    const h = await openConn(srv.port);
    h.write('GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal((await h.response()).headers.connection, 'close');
    await h.waitClose();
  });

  test('HEAD: the response has no body, so the next pipelined response follows the head', async () => {
    const c = await openConn(srv.port);
    c.write('HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await c.waitClose();
    const raw = c.buf.toString('latin1');
    const first = raw.indexOf('\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 404 /);
    assert.match(raw.slice(first + 4), /^HTTP\/1\.1 404 /,
      `bytes after the HEAD response's head must be the next response: ${JSON.stringify(raw)}`);
  });

  test('HTTP versions other than 1.x -> 505; garbage request line -> 400', async () => {
    await assertRefused(srv.port, 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505);
    await assertRefused(srv.port, 'GET / HTTP/1.2\r\nHost: x\r\n\r\n', 505);
    await assertRefused(srv.port, 'GET /\r\n\r\n', 400);
    await assertRefused(srv.port, 'GET  / HTTP/1.1\r\nHost: x\r\n\r\n', 400);
  });

  test('without --cors-origins any Origin is answered with ACAO "*" (no credentials)', async () => {
    const r = await rawHttp(srv.port, `GET ${EIO}&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://anything.example\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.headers['access-control-allow-credentials'], undefined);
    const pre = await rawHttp(srv.port, `OPTIONS ${EIO}&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://anything.example\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n`);
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    const s = await connect(srv.url, { transports: ['websocket'], extraHeaders: { Origin: 'http://evil.example' } });
    assert.equal(await ack(s, 'echo', 'any origin'), 'any origin');
  });
});

describe('timeouts (sio_echo --header-timeout 300 --keepalive-timeout 300)', { skip: SKIP }, () => {
  let srv;
  before(async () => {
    srv = await startServer('sio_echo', { args: ['--header-timeout', '300', '--keepalive-timeout', '300'] });
  });
  after(async () => { if (srv) await srv.stop(); });

  test('slowloris: half a request head, then nothing -> 408 and close within ~1 s', async () => {
    const c = await openConn(srv.port);
    const t0 = Date.now();
    c.write('GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const r = await c.response(3000);
    assertJsonError(r, 408);
    assert.equal(r.headers.connection, 'close');
    const closedAt = await c.waitClose(3000);
    const elapsed = closedAt - t0;
    assert.ok(elapsed >= 250 && elapsed < 1200, `closed after ${elapsed} ms`);
  });

  test('a trickle of header bytes does not extend the deadline', async () => {
    const c = await openConn(srv.port);
    const t0 = Date.now();
    const req = 'GET /nope HTTP/1.1\r\nHost: x\r\nX-Drip: ' + 'd'.repeat(100);
    let i = 0;
    const drip = setInterval(() => { if (i < req.length && !c.closed) c.write(req[i++]); }, 20);
    try {
      const r = await c.response(3000);
      assertJsonError(r, 408);
      const elapsed = (await c.waitClose(3000)) - t0;
      assert.ok(elapsed >= 250 && elapsed < 1200, `closed after ${elapsed} ms`);
    } finally {
      clearInterval(drip);
    }
  });

  test('a body that stalls -> 408', async () => {
    const c = await openConn(srv.port);
    const t0 = Date.now();
    c.write('POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345');
    assertJsonError(await c.response(3000), 408);
    const elapsed = (await c.waitClose(3000)) - t0;
    assert.ok(elapsed >= 250 && elapsed < 1200, `closed after ${elapsed} ms`);
  });

  test('an idle keep-alive connection is closed after --keepalive-timeout', async () => {
    const c = await openConn(srv.port);
    c.write('GET /nope HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await c.response();
    assert.equal(r.status, 404);
    assert.equal(r.headers.connection, undefined);
    const t0 = Date.now();
    const elapsed = (await c.waitClose(3000)) - t0;
    assert.ok(elapsed >= 200 && elapsed < 1200, `closed after ${elapsed} ms`);
    assert.equal(c.buf.length, 0, 'closed without sending anything (no 408 for an idle connection)');
  });

  test('a connection that never sends a byte is closed too', async () => {
    const c = await openConn(srv.port);
    const t0 = Date.now();
    const elapsed = (await c.waitClose(3000)) - t0;
    assert.ok(elapsed >= 200 && elapsed < 1200, `closed after ${elapsed} ms`);
  });

  test('a parked long-poll GET is not cut by the header timeout', async () => {
    const s = await connect(srv.url, { transports: ['polling'] });
    // The client keeps a GET parked; across several header timeouts, the
    // session still works.
    for (let i = 0; i < 4; i++) {
      assert.equal(await ack(s, 'echo', i), i);
      await new Promise((r) => setTimeout(r, 150)); // time passing is the behaviour here
    }
    assert.equal(s.connected, true);
    assert.equal(s.io.engine.transport.name, 'polling');
  });
});

describe('pipelining (main server)', { skip: SKIP }, () => {
  let srv;
  before(async () => { srv = await startServer('switchboard'); });
  after(async () => { if (srv) await srv.stop(); });

  test('pipelined requests on one connection are answered in order', async () => {
    const c = await openConn(srv.port);
    c.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const r = await c.response();
      statuses.push(r.status);
      if (r.status === 200) assert.equal(JSON.parse(r.body).status, 'ok');
    }
    assert.deepEqual(statuses, [200, 200, 404, 200]);
    await c.waitClose();
    assert.equal(c.buf.length, 0);
  });

  test('a pipelined request split at every byte boundary', async () => {
    const two = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n';
    for (const cut of [1, 10, 33, 34, 35, two.length - 1]) {
      const c = await openConn(srv.port);
      c.write(two.slice(0, cut));
      await new Promise((r) => setImmediate(r));
      c.write(two.slice(cut));
      assert.equal((await c.response()).status, 200, `cut ${cut}`);
      assert.equal((await c.response()).status, 200, `cut ${cut}`);
      c.destroy();
    }
  });
});

describe('CORS (sio_echo --cors-origins "http://good.example, http://also.example")', { skip: SKIP }, () => {
  let srv;
  const GOOD = 'http://good.example';
  const EVIL = 'http://evil.example';
  before(async () => {
    srv = await startServer('sio_echo', { args: ['--cors-origins', `${GOOD}, http://also.example`] });
  });
  after(async () => { if (srv) await srv.stop(); });

  const preflight = (origin) => rawHttp(srv.port,
    `OPTIONS ${EIO}&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: ${origin}\r\n` +
    'Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: authorization\r\nConnection: close\r\n\r\n');
  const poll = (origin) => rawHttp(srv.port,
    `GET ${EIO}&transport=polling HTTP/1.1\r\nHost: x\r\n${origin ? `Origin: ${origin}\r\n` : ''}Connection: close\r\n\r\n`);

  test('preflight from an allowed origin -> 204 with ACAO, credentials and methods', async () => {
    for (const origin of [GOOD, 'http://also.example']) {
      const r = await preflight(origin);
      assert.equal(r.status, 204, r.raw);
      assert.equal(r.headers['access-control-allow-origin'], origin);
      assert.equal(r.headers['access-control-allow-credentials'], 'true');
      assert.match(r.headers['access-control-allow-methods'], /\bGET\b/);
      assert.match(r.headers['access-control-allow-methods'], /\bPOST\b/);
      assert.equal(r.headers['access-control-allow-headers'], 'authorization');
      assert.equal(r.body, '');
    }
  });

  test('preflight from another origin -> 403', async () => {
    for (const origin of [EVIL, 'http://good.example.evil.example', 'https://good.example', 'http://good.example:8080', 'null']) {
      const r = await preflight(origin);
      assert.equal(r.status, 403, `${origin}: ${r.raw}`);
      assert.equal(r.headers['access-control-allow-origin'], undefined);
    }
  });

  test('polling handshake: evil Origin -> 403 Forbidden; good -> 200 with ACAO; none -> 200', async () => {
    const bad = await poll(EVIL);
    assert.equal(bad.status, 403);
    assert.deepEqual(JSON.parse(bad.body), { code: 4, message: 'Forbidden' });
    assert.equal(bad.headers['access-control-allow-origin'], undefined);
    const good = await poll(GOOD);
    assert.equal(good.status, 200);
    assert.match(good.body, /^0\{"sid":/);
    assert.equal(good.headers['access-control-allow-origin'], GOOD);
    assert.equal(good.headers['access-control-allow-credentials'], 'true');
    const none = await poll(null);
    assert.equal(none.status, 200, 'non-browser clients send no Origin');
    assert.equal(none.headers['access-control-allow-origin'], undefined);
  });

  test('an existing session is refused from an evil Origin too', async () => {
    const open = JSON.parse((await poll(GOOD)).body.slice(1));
    const r = await rawHttp(srv.port,
      `POST ${EIO}&transport=polling&sid=${open.sid} HTTP/1.1\r\nHost: x\r\nOrigin: ${EVIL}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n40`);
    assert.equal(r.status, 403);
    assert.deepEqual(JSON.parse(r.body), { code: 4, message: 'Forbidden' });
  });

  test('WebSocket upgrade from an evil Origin -> 403', async () => {
    const r = await RawWs.open(srv.port, `${EIO}&transport=websocket`, { extraHeaders: `Origin: ${EVIL}\r\n` });
    assert.equal(r.status, 403);
    assert.equal(r.ws, null);
    const ok = await RawWs.open(srv.port, `${EIO}&transport=websocket`, { extraHeaders: `Origin: ${GOOD}\r\n` });
    assert.equal(ok.status, 101);
    ok.ws.destroy();
  });

  test('socket.io-client with an evil Origin is refused (websocket and polling); good connects', async () => {
    for (const transports of [['websocket'], ['polling']]) {
      const err = await connectError(srv.url, { transports, extraHeaders: { Origin: EVIL } });
      assert.ok(err instanceof Error);
      const s = await connect(srv.url, { transports, extraHeaders: { Origin: GOOD } });
      assert.equal(await ack(s, 'echo', transports[0]), transports[0]);
      s.disconnect();
    }
  });
});

describe('CORS with "*" (sio_echo --cors-origins "*", then "http://good.example,*")', { skip: SKIP }, () => {
  const ask = (srv, method, origin) => rawHttp(srv.port,
    `${method} /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: ${origin}\r\n` +
    (method === 'OPTIONS' ? 'Access-Control-Request-Method: GET\r\n' : '') + 'Connection: close\r\n\r\n');

  test('"*": any origin gets a literal ACAO "*" and never credentials', async () => {
    const srv = await startServer('sio_echo', { args: ['--cors-origins', '*'] });
    try {
      for (const origin of ['http://anything.example', 'https://evil.example', 'null']) {
        const r = await ask(srv, 'GET', origin);
        assert.equal(r.status, 200, r.raw);
        assert.match(r.body, /^0\{"sid":/);
        assert.equal(r.headers['access-control-allow-origin'], '*', origin);
        assert.equal(r.headers['access-control-allow-credentials'], undefined, origin);
        const pre = await ask(srv, 'OPTIONS', origin);
        assert.equal(pre.status, 204);
        assert.equal(pre.headers['access-control-allow-credentials'], undefined, origin);
      }
    } finally {
      await srv.stop();
    }
  });

  test('"http://good.example,*": the listed origin by name gets credentials, the rest "*" without', async () => {
    const srv = await startServer('sio_echo', { args: ['--cors-origins', 'http://good.example,*'] });
    try {
      const good = await ask(srv, 'GET', 'http://good.example');
      assert.equal(good.headers['access-control-allow-origin'], 'http://good.example');
      assert.equal(good.headers['access-control-allow-credentials'], 'true');
      const other = await ask(srv, 'GET', 'http://other.example');
      assert.equal(other.status, 200);
      assert.equal(other.headers['access-control-allow-origin'], '*');
      assert.equal(other.headers['access-control-allow-credentials'], undefined);
    } finally {
      await srv.stop();
    }
  });
});
