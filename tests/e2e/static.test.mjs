// Static files at / (--web-root, --no-web) and the Socket.IO browser client
// at /socket.io/socket.io.min.js, over raw HTTP: content types, ETag and
// If-None-Match, Cache-Control, gzip, HEAD, and hostile paths (.., encoded
// %2e%2e, NUL, dot-files, symlinks out of the root, very long paths).
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startServer, repoRoot } from './lib/server.mjs';
import { test, isRef, connect } from './lib/util.mjs';
import { RawHttpConn } from './lib/raw.mjs';

const SKIP = isRef ? 'C server static files (no reference behaviour)' : false;
const CLIENT = path.join(repoRoot, 'scripts/browser-client/node_modules/socket.io-client/dist/socket.io.min.js');
const conns = [];
after(() => { for (const c of conns) c.destroy(); });

/** One request on a fresh keep-alive connection; the body as bytes too. */
async function get(port, target, headers = {}, method = 'GET') {
  const c = await RawHttpConn.open(port);
  conns.push(c);
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  c.write(Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: x\r\n${lines}\r\n`, 'latin1'));
  const r = await c.response();
  const end = r.raw.indexOf('\r\n\r\n');
  r.bytes = Buffer.from(r.raw.slice(end + 4), 'latin1');
  c.destroy();
  return r;
}

/** A web root with a few files, a hidden one, a secret next to it (outside),
 *  and symlinks leading inside and out. */
function makeRoot() {
  const base = mkdtempSync(path.join(tmpdir(), 'sb-web-'));
  const root = path.join(base, 'web');
  mkdirSync(path.join(root, 'admin'), { recursive: true });
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>home</title>');
  writeFileSync(path.join(root, 'admin', 'index.html'), '<!doctype html><title>admin</title>');
  writeFileSync(path.join(root, 'app.js'), 'console.log("switchboard");\n'.repeat(200));
  writeFileSync(path.join(root, 'style.css'), 'body { color: black; }\n');
  writeFileSync(path.join(root, 'pixel.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]));
  writeFileSync(path.join(root, 'notes'), 'no extension');
  writeFileSync(path.join(root, '.env'), 'SECRET=hidden-dotfile');
  writeFileSync(path.join(base, 'secret.txt'), 'TOP-SECRET-OUTSIDE');
  symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'leak.txt'));
  symlinkSync(base, path.join(root, 'up'));
  symlinkSync('style.css', path.join(root, 'alias.css'));
  return { base, root };
}

describe('static files', { skip: SKIP }, () => {
  let srv, dirs;
  before(async () => {
    dirs = makeRoot();
    srv = await startServer('switchboard', { args: ['--web-root', dirs.root] });
  });
  after(async () => {
    await srv?.stop();
    if (dirs) rmSync(dirs.base, { recursive: true, force: true });
  });

  test('/ is index.html, a folder path its index.html, with types, ETag and Cache-Control', async () => {
    const r = await get(srv.port, '/');
    assert.equal(r.status, 200, r.raw);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.body, '<!doctype html><title>home</title>');
    assert.match(r.headers.etag, /^"[0-9a-f-]+"$/);
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    for (const p of ['/admin', '/admin/', '/admin/index.html', '//admin//', '/%61dmin/']) {
      const a = await get(srv.port, p);
      assert.equal(a.status, 200, p);
      assert.equal(a.body, '<!doctype html><title>admin</title>', p);
    }
    const types = { '/app.js': 'text/javascript; charset=utf-8', '/style.css': 'text/css; charset=utf-8',
      '/pixel.png': 'image/png', '/notes': 'application/octet-stream', '/alias.css': 'text/css; charset=utf-8' };
    for (const [p, t] of Object.entries(types)) {
      const a = await get(srv.port, p);
      assert.equal(a.status, 200, p);
      assert.equal(a.headers['content-type'], t, p);
    }
    assert.deepEqual([...(await get(srv.port, '/pixel.png')).bytes], [0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]);
  });

  test('If-None-Match with the ETag -> 304 without a body; another tag -> 200; a change -> new tag', async () => {
    const first = await get(srv.port, '/style.css');
    const tag = first.headers.etag;
    for (const inm of [tag, `W/${tag}`, `"nope", ${tag}`, '*']) {
      const r = await get(srv.port, '/style.css', { 'If-None-Match': inm });
      assert.equal(r.status, 304, inm);
      assert.equal(r.body, '', inm);
      assert.equal(r.headers.etag, tag);
    }
    const other = await get(srv.port, '/style.css', { 'If-None-Match': '"other"' });
    assert.equal(other.status, 200);
    assert.equal(other.body, 'body { color: black; }\n');
    writeFileSync(path.join(dirs.root, 'style.css'), 'body { color: red; }\n');
    const changed = await get(srv.port, '/style.css', { 'If-None-Match': tag });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.etag, tag);
    assert.equal(changed.body, 'body { color: red; }\n');
  });

  test('gzip when accepted (and smaller), with its own ETag and Vary; never when refused', async () => {
    const plain = await get(srv.port, '/app.js');
    const z = await get(srv.port, '/app.js', { 'Accept-Encoding': 'gzip, deflate, br' });
    assert.equal(z.headers['content-encoding'], 'gzip');
    assert.equal(z.headers.vary, 'Accept-Encoding');
    assert.ok(z.bytes.length < plain.bytes.length / 10, `${z.bytes.length} of ${plain.bytes.length}`);
    assert.equal(gunzipSync(z.bytes).toString(), plain.body);
    assert.notEqual(z.headers.etag, plain.headers.etag);
    assert.equal((await get(srv.port, '/app.js', { 'Accept-Encoding': 'gzip', 'If-None-Match': z.headers.etag })).status, 304);
    for (const ae of ['gzip;q=0', 'identity', 'br']) {
      const r = await get(srv.port, '/app.js', { 'Accept-Encoding': ae });
      assert.equal(r.headers['content-encoding'], undefined, ae);
      assert.equal(r.body, plain.body, ae);
    }
    const png = await get(srv.port, '/pixel.png', { 'Accept-Encoding': 'gzip' });
    assert.equal(png.headers['content-encoding'], undefined, 'images are not compressed again');
  });

  test('HEAD has the headers and no body; other methods -> 405 with Allow', async () => {
    const c = await RawHttpConn.open(srv.port);
    conns.push(c);
    c.write('HEAD /app.js HTTP/1.1\r\nHost: x\r\n\r\nGET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await c.waitClose();
    const raw = c.buf.toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 [^]*Content-Length: 5600\r\n/);
    assert.match(raw.slice(raw.indexOf('\r\n\r\n') + 4), /^HTTP\/1\.1 200 /, 'the HEAD answer has no body');
    const post = await get(srv.port, '/index.html', { 'Content-Length': '0' }, 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  test('traversal: .., encoded %2e%2e and %2f, backslashes, NUL and control bytes -> 400', async () => {
    const hostile = ['/../secret.txt', '/a/../../secret.txt', '/%2e%2e/secret.txt', '/%2E%2E/secret.txt',
      '/.%2e/secret.txt', '/%2e%2e%2fsecret.txt', '/admin/%2e%2e/%2e%2e/secret.txt', '/..%5csecret.txt',
      '/..\\secret.txt', '/index.html%00.png', '/%00', '/a%0d%0aSet-Cookie:x', '/%zz', '/%'];
    for (const p of hostile) {
      const r = await get(srv.port, p);
      assert.ok(r.status === 400, `${p}: ${r.status}`);
      assert.doesNotMatch(r.raw, /TOP-SECRET/, p);
    }
  });

  test('dot-files and symlinks leading out of the root -> 404; a symlink inside is served', async () => {
    for (const p of ['/.env', '/%2eenv', '/leak.txt', '/up/secret.txt', '/nope.html', '/admin/nope']) {
      const r = await get(srv.port, p);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.raw, /TOP-SECRET|hidden-dotfile/, p);
    }
    assert.equal((await get(srv.port, '/alias.css')).status, 200);
    // Through a link that leaves and comes back, the file is inside: served.
    assert.equal((await get(srv.port, '/up/web/style.css')).status, 200);
  });

  test('very long paths -> 414; the connection and the server stay well', async () => {
    assert.equal((await get(srv.port, `/${'a'.repeat(1100)}`)).status, 414);
    assert.equal((await get(srv.port, `/${'%61'.repeat(1100)}`)).status, 414);
    assert.equal((await get(srv.port, `/${'a/'.repeat(3000)}`)).status, 414);
    assert.equal((await get(srv.port, `/${'/'.repeat(1000)}`)).status, 200, 'only slashes: the root');
    assert.equal((await get(srv.port, '/')).status, 200);
  });

  test('the browser client: the pinned npm file, JavaScript, cached, gzip, 304; Engine.IO still answers', async () => {
    const want = readFileSync(CLIENT);
    const r = await get(srv.port, '/socket.io/socket.io.min.js');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'public, max-age=3600');
    assert.ok(r.bytes.equals(want), 'the body is the npm package\'s socket.io.min.js');
    const z = await get(srv.port, '/socket.io/socket.io.min.js', { 'Accept-Encoding': 'gzip' });
    assert.equal(z.headers['content-encoding'], 'gzip');
    assert.ok(gunzipSync(z.bytes).equals(want));
    assert.equal((await get(srv.port, '/socket.io/socket.io.min.js', { 'If-None-Match': r.headers.etag })).status, 304);
    const s = await connect(srv.url, { auth: {} }).catch((e) => e);
    assert.ok(s, 'a client still reaches Engine.IO');
    const eio = await get(srv.port, '/socket.io/?EIO=4&transport=polling');
    assert.equal(eio.status, 200);
    assert.match(eio.body, /^0\{"sid"/);
  });
});

describe('--no-web and a missing --web-root', { skip: SKIP }, () => {
  test('--no-web: / and the client answer 404; the API and Engine.IO are unchanged', async () => {
    const srv = await startServer('switchboard', { args: ['--no-web'] });
    try {
      for (const p of ['/', '/index.html', '/socket.io/socket.io.min.js']) {
        const r = await get(srv.port, p);
        assert.equal(r.status, p.startsWith('/socket.io/') ? 400 : 404, `${p}: ${r.raw}`);
      }
      assert.equal((await get(srv.port, '/health')).status, 200);
      assert.equal((await get(srv.port, '/socket.io/?EIO=4&transport=polling')).status, 200);
    } finally {
      await srv.stop();
    }
  });

  test('a --web-root that does not exist: the server runs, / is 404, the client is served', async () => {
    const srv = await startServer('switchboard', { args: ['--web-root', '/nonexistent/sb-web', '--log-level', 'info'] });
    try {
      assert.equal((await get(srv.port, '/')).status, 404);
      assert.equal((await get(srv.port, '/socket.io/socket.io.min.js')).status, 200);
      assert.match(srv.stderr(), /no folder \/nonexistent\/sb-web/);
    } finally {
      await srv.stop();
    }
  });
});
