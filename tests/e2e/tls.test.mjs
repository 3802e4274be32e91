// TLS built in (--tls-cert / --tls-key): HTTPS, polling and WSS on one port
// with certificates the test makes (a root CA, an intermediate, a server
// certificate: the chain must be served), real clients (socket.io-client,
// node:https, python-socketio) verifying against the test CA, hostile raw
// input (plain HTTP, garbage, truncated and silent handshakes), a SIGHUP
// reload while clients stay connected, and the start-up errors. C-only.
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { startServer, e2eDir, repoRoot, DEFAULT_SECRET, NO_EVENT_LIMIT } from './lib/server.mjs';
import { test, isRef, ack, connect, connectError, connectUser, waitFor, until, mintToken } from './lib/util.mjs';
import { rawHttp } from './lib/raw.mjs';
import { makePki } from './lib/tls.mjs';

const SKIP = isRef ? 'TLS is a switchboard setting; the reference servers speak plain HTTP' : false;
const KEY = 'tls-test-key';
const PYTHON = '/usr/bin/python3';

let pki;
before(() => { if (!SKIP) pki = makePki(); });
after(() => { if (pki) pki.cleanup(); });

/** GET over https trusting only the test CA; resolves {status, body, cert}. */
function httpsGet(port, urlPath, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: urlPath, ca: pki.ca, headers, agent: false }, (res) => {
      let body = '';
      const cert = res.socket.getPeerCertificate();
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body, cert }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${urlPath} timed out`)));
  });
}

async function metrics(port) {
  const r = await httpsGet(port, '/metrics', { Authorization: `Bearer ${KEY}` });
  assert.equal(r.status, 200, r.body);
  const v = {};
  for (const line of r.body.split('\n')) {
    const m = /^(switchboard_tls_\w+(?:\{[^}]*\})?) (\d+)$/.exec(line);
    if (m) v[m[1]] = Number(m[2]);
  }
  return v;
}

/** The subject CN of the certificate a fresh TLS connection gets. */
function peerCn(port) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: pki.ca, servername: 'localhost' }, () => {
      const cn = s.getPeerCertificate().subject.CN;
      s.end();
      resolve(cn);
    });
    s.on('error', reject);
  });
}

/** A real ClientHello, as node:tls sends it, caught by a plain TCP server. */
function captureClientHello() {
  return new Promise((resolve, reject) => {
    const catcher = net.createServer((sock) => {
      sock.once('data', (d) => { resolve(d); sock.destroy(); catcher.close(); });
    });
    catcher.listen(0, '127.0.0.1', () => {
      const c = tls.connect({ host: '127.0.0.1', port: catcher.address().port, rejectUnauthorized: false });
      c.on('error', () => { /* the catcher hangs up: expected */ });
    });
    catcher.on('error', reject);
  });
}

/** Opens a TCP connection, writes `bytes` (and ends the write side when
 *  `end`), resolves {data, closedMs} once the server closes it. */
function rawExchange(port, bytes, { end = false, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('the server did not close the connection')); }, timeoutMs);
    sock.on('data', (d) => { data = Buffer.concat([data, d]); });
    sock.on('error', () => { /* a reset also ends it */ });
    sock.on('close', () => { clearTimeout(timer); resolve({ data, closedMs: Date.now() - t0 }); });
    sock.on('connect', () => {
      if (bytes.length) sock.write(bytes);
      if (end) sock.end();
    });
  });
}

describe('switchboard over TLS', { skip: SKIP }, () => {
  let srv, base, certPath, keyPath, work;
  before(async () => {
    // The server reads its own copies, so the reload test can replace them.
    work = mkdtempSync(path.join(tmpdir(), 'sb-tls-files-'));
    certPath = path.join(work, 'chain.pem');
    keyPath = path.join(work, 'key.pem');
    copyFileSync(pki.cert, certPath);
    copyFileSync(pki.key, keyPath);
    srv = await startServer('switchboard', {
      args: ['--tls-cert', certPath, '--tls-key', keyPath, '--api-key', KEY,
        '--header-timeout', '1500', '--log-level', 'info', '--log-connections', 'false'],
    });
    base = { url: `https://127.0.0.1:${srv.port}`, secret: srv.secret };
  });
  after(async () => {
    if (srv) await srv.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the listening line says tls; /health over HTTPS verified against the test CA (chain served)', async () => {
    assert.match(srv.stderr(), /listening on 127\.0\.0\.1:\d+ \(tls\)/);
    assert.match(srv.stderr(), /tls: certificate .*chain\.pem \(\/CN=localhost\), valid until /);
    const r = await httpsGet(srv.port, '/health');
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).status, 'ok');
    assert.equal(r.cert.subject.CN, 'localhost');
    assert.equal(r.cert.issuer.CN, 'Switchboard Test Intermediate');
    const m = await metrics(srv.port);
    assert.ok(m.switchboard_tls_handshakes_total >= 2, JSON.stringify(m));
  });

  test('TLS 1.1 is refused; TLS 1.2 and 1.3 are served', async () => {
    for (const v of ['TLSv1.2', 'TLSv1.3']) {
      const got = await new Promise((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: srv.port, ca: pki.ca, servername: 'localhost',
          minVersion: v, maxVersion: v }, () => { resolve(s.getProtocol()); s.end(); });
        s.on('error', reject);
      });
      assert.equal(got, v);
    }
    const old = await new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: srv.port, rejectUnauthorized: false,
        minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }, () => { resolve('connected'); s.end(); });
      s.on('error', (e) => resolve(e.code || e.message));
    });
    assert.notEqual(old, 'connected');
  });

  test('socket.io-client: websocket (wss), polling (https) and the upgrade, trusting the test CA', async () => {
    const opts = { ca: pki.ca };
    const { s: ws, est } = await connectUser(base, 'tls-ws', { ...opts, transports: ['websocket'] });
    assert.equal(est.userId, 'tls-ws');
    assert.equal(ws.io.engine.transport.name, 'websocket');
    const { s: poll } = await connectUser(base, 'tls-poll', { ...opts, transports: ['polling'] });
    assert.equal(poll.io.engine.transport.name, 'polling');
    const up = await connect(base.url, { ...opts, transports: ['polling', 'websocket'],
      auth: { token: mintToken({ sub: 'tls-up' }, DEFAULT_SECRET) } });
    await until(() => up.io.engine.transport.name === 'websocket', 5000, 'the upgrade to websocket');
    const room = `tls-${process.pid}`;
    for (const s of [ws, poll, up]) await ack(s, 'chat:join', room);
    const got = waitFor(poll, 'chat:message', 5000);
    const sent = await ack(up, 'chat:message', { roomId: room, message: 'over wss' });
    assert.equal(sent.message, 'over wss', JSON.stringify(sent));
    assert.equal((await got).message, 'over wss');
  });

  test('a client that does not trust the certificate is refused by its own check', async () => {
    const e = await connectError(base.url, { transports: ['websocket'],
      auth: { token: mintToken({ sub: 'untrusting' }, DEFAULT_SECRET) } });
    assert.ok(e, 'connect_error expected');
  });

  test('plain HTTP to the TLS port: a 400 saying to use https://, counted', async () => {
    const before = await metrics(srv.port);
    const r = await rawHttp(srv.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body).error.code, 'tls_required');
    assert.match(r.body, /https:\/\//);
    const m = await metrics(srv.port);
    assert.equal(m.switchboard_tls_plain_http_total, before.switchboard_tls_plain_http_total + 1);
    assert.ok(m.switchboard_tls_handshake_failures_total > before.switchboard_tls_handshake_failures_total);
    assert.match(srv.stderr(), /tls handshake failed: remote=127\.0\.0\.1 reason="plain HTTP request/);
  });

  test('hostile handshakes: garbage, garbage before a ClientHello, half a ClientHello then close, silence', async () => {
    const hello = await captureClientHello();
    assert.equal(hello[0], 0x16, 'captured a TLS handshake record');
    const before = await metrics(srv.port);
    const junk = randomBytes(4096);
    junk[0] = 0x47; // not a TLS record type
    const cases = await Promise.all([
      rawExchange(srv.port, junk),
      rawExchange(srv.port, Buffer.concat([Buffer.from('hello?\r\n'), hello])),
      rawExchange(srv.port, hello.subarray(0, hello.length >> 1), { end: true }),
      rawExchange(srv.port, hello.subarray(0, hello.length >> 1)), // then silence: the timeout ends it
      rawExchange(srv.port, Buffer.alloc(0)), // nothing at all
    ]);
    for (const c of cases) {
      // Nothing but (at most) a TLS alert record comes back: no HTTP, no crash.
      assert.ok(c.data.length === 0 || c.data[0] === 0x15, `unexpected reply ${c.data.subarray(0, 16).toString('hex')}`);
    }
    const m = await metrics(srv.port);
    assert.ok(m.switchboard_tls_handshake_failures_total >= before.switchboard_tls_handshake_failures_total + 5,
      `${JSON.stringify(before)} -> ${JSON.stringify(m)}`);
    assert.match(srv.stderr(), /reason="no complete handshake before --header-timeout \(or shutdown\)"/);
    assert.match(srv.stderr(), /reason="connection closed by the peer during the handshake"/);
    const r = await httpsGet(srv.port, '/health');
    assert.equal(r.status, 200, 'still serving');
  });

  test('SIGHUP reloads the certificate: connected clients stay, new ones get the new certificate; a bad file keeps the old', async () => {
    const { s: ws } = await connectUser(base, 'hup-ws', { ca: pki.ca, transports: ['websocket'] });
    const { s: poll } = await connectUser(base, 'hup-poll', { ca: pki.ca, transports: ['polling'] });
    let drops = 0;
    for (const s of [ws, poll]) s.on('disconnect', () => { drops++; });
    assert.equal(await peerCn(srv.port), 'localhost');

    const next = pki.leaf('reloaded.test');
    copyFileSync(next.cert, certPath);
    copyFileSync(next.key, keyPath);
    srv.proc.kill('SIGHUP');
    await until(() => /SIGHUP: tls certificate reloaded: .*CN=reloaded\.test/.test(srv.stderr()), 5000, 'the reload line');
    assert.equal(await peerCn(srv.port), 'reloaded.test');
    const room = `hup-${process.pid}`;
    await ack(ws, 'chat:join', room);
    await ack(poll, 'chat:join', room);
    const got = waitFor(poll, 'chat:message', 5000);
    await ack(ws, 'chat:message', { roomId: room, message: 'after reload' });
    assert.equal((await got).message, 'after reload');
    assert.equal(drops, 0, 'no client was dropped by the reload');

    writeFileSync(keyPath, 'not a key\n');
    srv.proc.kill('SIGHUP');
    await until(() => /SIGHUP: certificate not reloaded, the previous one stays in use: --tls-key .*key\.pem: not an unencrypted PEM private key/.test(srv.stderr()),
      5000, 'the refused reload line');
    assert.equal(await peerCn(srv.port), 'reloaded.test');
    const m = await metrics(srv.port);
    assert.equal(m.switchboard_tls_reloads_total, 1);
    assert.equal(m.switchboard_tls_reload_failures_total, 1);
    assert.equal(drops, 0);
    copyFileSync(next.key, keyPath);
  });
});

/** Runs the binary with `args` until it exits; resolves {code, stderr}. */
function runSwitchboard(args) {
  const bin = path.resolve(repoRoot, process.env.SB_BUILD_DIR || 'build', 'switchboard');
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-tls-start-'));
  return new Promise((resolve) => {
    execFile(bin, ['--host', '127.0.0.1', '--port', '0', '--jwt-secret', DEFAULT_SECRET, '--data-dir', dir, ...args],
      { timeout: 10000 }, (err, stdout, stderr) => {
        rmSync(dir, { recursive: true, force: true });
        resolve({ code: err ? err.code : 0, stderr });
      });
  });
}

describe('TLS start-up errors (exit 2, the file and the reason named)', { skip: SKIP }, () => {
  test('missing file, not PEM, a key of another certificate, one of the two flags alone', async () => {
    let r = await runSwitchboard(['--tls-cert', '/nonexistent/chain.pem', '--tls-key', pki.key]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--tls-cert \/nonexistent\/chain\.pem: cannot read: No such file or directory/);

    r = await runSwitchboard(['--tls-cert', pki.key, '--tls-key', pki.key]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--tls-cert .*: not a PEM certificate chain \(/);

    r = await runSwitchboard(['--tls-cert', pki.cert, '--tls-key', pki.cert]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--tls-key .*: not an unencrypted PEM private key \(/);

    const other = pki.leaf('other');
    r = await runSwitchboard(['--tls-cert', pki.cert, '--tls-key', other.key]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--tls-key .* does not match the certificate in --tls-cert /);

    r = await runSwitchboard(['--tls-cert', pki.cert]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--tls-cert and --tls-key go together \(--tls-key is missing\)/);
  });
});

describe('the Socket.IO library over TLS (sio_echo example)', { skip: SKIP }, () => {
  let srv, url;
  before(async () => {
    srv = await startServer('sio_echo', { args: ['--tls-cert', pki.cert, '--tls-key', pki.key, ...NO_EVENT_LIMIT] });
    url = `https://127.0.0.1:${srv.port}`;
  });
  after(async () => { if (srv) await srv.stop(); });

  test('large messages both ways and a burst of small ones, in order, on both transports', async () => {
    for (const transports of [['websocket'], ['polling']]) {
      const a = await connect(url, { ca: pki.ca, transports });
      const b = await connect(url, { ca: pki.ca, transports });
      const big = randomBytes(600 * 1024); // many TLS records each way (base64 on polling stays under 1 MB)
      const back = await a.timeout(10000).emitWithAck('echo', big);
      assert.ok(Buffer.from(back).equals(big), `${transports}: 600 KiB binary echo intact`);
      const room = `burst-${transports}`;
      assert.equal(await a.timeout(5000).emitWithAck('join', room), true);
      assert.equal(await b.timeout(5000).emitWithAck('join', room), true);
      const seen = [];
      b.on('relay', (i) => seen.push(i));
      // Small relays queue up behind each other: gathered into shared records.
      for (let i = 0; i < 300; i++) a.emit('relay', room, i);
      await until(() => seen.length === 300, 10000, `${transports}: 300 relays`);
      assert.deepEqual(seen, [...Array(300).keys()]);
      a.disconnect();
      b.disconnect();
    }
  }, { timeout: 30000 });

  // python-engineio reads and writes one TLS socket from two threads at once
  // (its read and write loops), which OpenSSL does not promise to support:
  // in two of five full `make test` runs (20 runs of this test) a wss call
  // never got its answer (TimeoutError), and never in 38 runs of this test
  // alone, 20 of them with two CPU hogs. Such a run gets one more try, reported; any other
  // failure, or a second one, fails the test.
  test('python-socketio over https and wss, verifying against the test CA', async (t) => {
    assert.ok(existsSync(PYTHON), `${PYTHON} is missing (apt-get install python3-socketio)`);
    const run = () => new Promise((resolve) => {
      execFile(PYTHON, [path.join(e2eDir, 'python', 'client_test.py'), url, pki.caPath], { timeout: 12000 },
        (err, out, errOut) => resolve({ code: err ? (err.code ?? err.signal) : 0, stdout: out, stderr: errOut }));
    });
    let r = await run();
    if (r.code !== 0 && /^FAIL websocket: TimeoutError\(\) during call /m.test(r.stdout) &&
        !/^FAIL polling/m.test(r.stdout)) {
      t.diagnostic(`python client over wss timed out, once more:\n${r.stdout}`);
      r = await run();
    }
    assert.equal(r.code, 0, `client_test.py over TLS failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  }, { timeout: 30000 });
});
