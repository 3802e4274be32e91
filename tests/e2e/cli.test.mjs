// The switchboard command line: --help against docs/configuration.md, exit
// codes for bad settings (2) and start-up failures (1), the three ways to
// give settings (file, environment, flags) and their precedence, --dev, and
// the JSON log format. C-only: skips when SB_E2E_TARGET=ref.
import { describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './lib/server.mjs';
import { test, isRef, connect, connectError, mintToken, until } from './lib/util.mjs';
import { RawWs, rawHttp } from './lib/raw.mjs';

const SKIP = isRef ? 'command line of the C binaries' : false;
const BUILD = path.resolve(repoRoot, process.env.SB_BUILD_DIR || 'build');
const BIN = path.join(BUILD, 'switchboard');
/** A secret long enough for production mode (32 bytes or more). */
const sec = (name) => name.padEnd(32, '.');
const work = mkdtempSync(path.join(tmpdir(), 'sb-cli-'));
const running = new Set();

after(async () => {
  for (const p of running) p.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

/** The environment without any SWITCHBOARD_* variable, plus `extra`. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SWITCHBOARD_')) env[k] = v;
  return { ...env, ...extra };
}

/** Runs bin with args; resolves {code, signal, stdout, stderr} at exit.
 *  Processes that do not exit within timeoutMs are killed (test fails). */
function run(args, { env = {}, bin = BIN, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { cwd: work, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`${args.join(' ')}: still running after ${timeoutMs} ms\n${stderr}`)); }, timeoutMs);
    p.on('error', (e) => { clearTimeout(t); running.delete(p); reject(e); });
    p.on('exit', (code, signal) => {
      clearTimeout(t);
      running.delete(p);
      // 'exit' may come before the pipes are drained.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
}

/** Starts bin and waits for "listening on HOST:PORT"; resolves
 *  {port, url, proc, stderr(), stop()} where stop() SIGTERMs and resolves the exit. */
function start(args, { env = {}, bin = BIN } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { cwd: work, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(p);
    let stderr = '';
    let stdout = '';
    const exited = new Promise((r) => p.on('exit', (code, signal) => { running.delete(p); setImmediate(() => r({ code, signal })); }));
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`no "listening on" within 10 s\n${stderr}`)); }, 10000);
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => {
      stderr += d;
      const m = /listening on ([\d.]+|\[[\da-f:]+\]):(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(t);
        const wildcard = m[1] === '0.0.0.0' || m[1] === '[::]';
        resolve({
          host: m[1],
          port: Number(m[2]),
          url: `http://${wildcard ? '127.0.0.1' : m[1]}:${m[2]}`,
          proc: p,
          stderr: () => stderr,
          stdout: () => stdout,
          async stop() {
            p.kill('SIGTERM');
            const r = await exited;
            assert.deepEqual(r, { code: 0, signal: null }, `exit after SIGTERM\n${stderr}`);
            assert.doesNotMatch(stderr, /Sanitizer|runtime error:/);
            return r;
          },
        });
      }
    });
    exited.then((r) => { clearTimeout(t); reject(new Error(`exited early (${JSON.stringify(r)})\n${stderr}`)); });
  });
}

/** True when this machine has an IPv6 loopback to test with. */
async function loopbackV6() {
  const s = net.createServer();
  try {
    await new Promise((resolve, reject) => { s.once('error', reject); s.listen(0, '::1', resolve); });
    return true;
  } catch {
    return false;
  } finally {
    s.close();
  }
}

/** Resolves whether a TCP connection to host:port is accepted. */
function tcpConnects(host, port) {
  return new Promise((resolve) => {
    const c = net.connect({ host, port });
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/** A Socket.IO client reaches the server at url (any token: a refusal is
 *  an answer too). */
async function assertSioConnects(url) {
  const err = await connectError(url, { transports: ['polling'], auth: { token: 'x' } });
  assert.equal(err.data && err.data.code, 'token_invalid', `${url}: ${err.message}`);
}

function assertNoSanitizer(r) {
  assert.doesNotMatch(r.stderr, /Sanitizer|runtime error:/, r.stderr);
}

/** Flags listed in the settings table of docs/configuration.md. */
function documentedFlags() {
  const text = readFileSync(path.join(repoRoot, 'docs', 'configuration.md'), 'utf8');
  const flags = [];
  for (const line of text.split('\n')) {
    const m = /^\|\s*`(--[a-z0-9-]+)`\s*\|/.exec(line);
    if (m) flags.push(m[1]);
  }
  return flags;
}

/** A token for user `sub` signed with `secret`. */
const tokenFor = (secret, sub = 'cli-user') => mintToken({ sub, name: 'Cli' }, secret);

/** Asserts the server at url accepts tokens signed with `good` and refuses
 *  tokens signed with `bad` (which proves which secret it runs with). */
async function assertSecret(url, good, bad) {
  const s = await connect(url, { transports: ['websocket'], auth: { token: tokenFor(good) } });
  assert.equal(s.connected, true);
  s.disconnect();
  const err = await connectError(url, { transports: ['websocket'], auth: { token: tokenFor(bad) } });
  assert.equal(err.data && err.data.code, 'token_invalid');
}

describe('switchboard command line', { skip: SKIP }, () => {
  test('--help exits 0 and lists every setting documented in docs/configuration.md', async () => {
    const flags = documentedFlags();
    assert.ok(flags.length >= 30, `only ${flags.length} flags parsed from the docs`);
    const r = await run(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: /);
    const listed = new Set([...r.stdout.matchAll(/^\s+(--[a-z0-9-]+)/gm)].map((m) => m[1]));
    const missing = flags.filter((f) => !listed.has(f));
    assert.deepEqual(missing, [], 'documented but not in --help');
    listed.delete('--config');
    listed.delete('--version');
    const undocumented = [...listed].filter((f) => !flags.includes(f));
    assert.deepEqual(undocumented, [], 'in --help but not documented in docs/configuration.md');
    assert.equal((await run(['-h'])).stdout, r.stdout);
    assertNoSanitizer(r);
  });

  test('an unknown flag -> exit 2 with a message naming it', async () => {
    for (const args of [['--no-such-flag'], ['--dev', '--no-such-flag', '1'], ['--no-such-flag=1', '--dev']]) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /--no-such-flag/);
      assertNoSanitizer(r);
    }
    const stray = await run(['--dev', 'stray']);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /stray/);
  });

  test('bad values -> exit 2 with a message naming the setting', async () => {
    const cases = [
      [['--dev', '--port', 'abc'], /port/],
      [['--dev', '--port', '-1'], /port/],
      [['--dev', '--ping-interval', '1x'], /ping-interval/],
      [['--dev', '--ws-deflate=maybe'], /ws-deflate/],
      [['--dev', '--log-level', 'loud'], /log-level/],
      [['--dev', '--log-format', 'xml'], /log-format/],
      [['--dev', '--presence-scope', 'nobody'], /presence-scope/],
      [['--dev', '--store-sync', 'maybe'], /store-sync/],
      [['--dev', '--database-pool-size', '0'], /database-pool-size/],
      [['--dev', '--database-pool-size', '65'], /database-pool-size/],
      [['--dev', '--database-pool-size', 'four'], /database-pool-size/],
      [['--dev', '--max-http-buffer-size', '100'], /max-http-buffer-size/],
      [['--dev', '--port'], /port/],
    ];
    for (const [args, re] of cases) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assertNoSanitizer(r);
    }
    const env = await run(['--dev'], { env: { SWITCHBOARD_DATABASE_POOL_SIZE: '100' } });
    assert.equal(env.code, 2, env.stderr);
    assert.match(env.stderr, /database-pool-size/, 'the variable is read and bounded too');
  });

  test('no --jwt-secret, no --dev, no SWITCHBOARD_JWT_SECRET -> exit 2 naming --jwt-secret', async () => {
    const r = await run(['--port', '0', '--host', '127.0.0.1']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--jwt-secret/);
    assert.doesNotMatch(r.stderr, /listening on/);
    assertNoSanitizer(r);
    const empty = await run(['--port', '0', '--host', '127.0.0.1', '--jwt-secret', '']);
    assert.equal(empty.code, 2, 'an empty secret is no secret');
  });

  test('SWITCHBOARD_JWT_SECRET=x is used (environment variables work)', async () => {
    const srv = await start(['--port', '0', '--host', '127.0.0.1'], { env: { SWITCHBOARD_JWT_SECRET: sec('x') } });
    try {
      await assertSecret(srv.url, sec('x'), sec('y'));
    } finally {
      await srv.stop();
    }
  });

  test('SWITCHBOARD_HOST / SWITCHBOARD_PORT / boolean variables are read too', async () => {
    const srv = await start([], {
      env: { SWITCHBOARD_JWT_SECRET: sec('envs'), SWITCHBOARD_HOST: '127.0.0.1', SWITCHBOARD_PORT: '0', SWITCHBOARD_ALLOW_QUERY_TOKEN: 'yes' },
    });
    try {
      assert.match(srv.stderr(), /listening on 127\.0\.0\.1:\d+/);
      const s = await connect(srv.url, { transports: ['websocket'], query: { token: tokenFor(sec('envs')) } });
      assert.equal(s.connected, true);
      s.disconnect();
    } finally {
      await srv.stop();
    }
  });

  test('--config FILE with port = 0 and jwt-secret = s', async () => {
    const file = path.join(work, 'switchboard.conf');
    writeFileSync(file, `# test config\n\nport = 0\n  host=127.0.0.1  \njwt-secret = ${sec('s')}\n   # indented comment\nlog-level = warn\n`);
    const srv = await start(['--config', file]);
    try {
      await assertSecret(srv.url, sec('s'), sec('x'));
    } finally {
      await srv.stop();
    }
    // --config=FILE and SWITCHBOARD_CONFIG work the same way.
    const eq = await start([`--config=${file}`]);
    await eq.stop();
    const viaEnv = await start([], { env: { SWITCHBOARD_CONFIG: file } });
    await viaEnv.stop();
  });

  test('precedence: config file < environment < command line', async () => {
    const file = path.join(work, 'prec.conf');
    writeFileSync(file, `port = 0\nhost = 127.0.0.1\njwt-secret = ${sec('from-file')}\n`);
    const envWins = await start(['--config', file], { env: { SWITCHBOARD_JWT_SECRET: sec('from-env') } });
    try { await assertSecret(envWins.url, sec('from-env'), sec('from-file')); } finally { await envWins.stop(); }
    const cliWins = await start(['--config', file, '--jwt-secret', sec('from-cli')], { env: { SWITCHBOARD_JWT_SECRET: sec('from-env') } });
    try { await assertSecret(cliWins.url, sec('from-cli'), sec('from-env')); } finally { await cliWins.stop(); }
  });

  test('a broken config file -> exit 2 with the file and line', async () => {
    const file = path.join(work, 'broken.conf');
    writeFileSync(file, 'port = 0\njust some words\n');
    const r = await run(['--config', file, '--dev']);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(`${file}:2`), r.stderr);
    const unknown = path.join(work, 'unknown.conf');
    writeFileSync(unknown, 'no-such-setting = 1\n');
    const u = await run(['--config', unknown, '--dev']);
    assert.equal(u.code, 2, u.stderr);
    assert.match(u.stderr, /no-such-setting/);
    const missing = await run(['--config', path.join(work, 'does-not-exist.conf'), '--dev']);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /does-not-exist\.conf/);
  });

  test('--dev starts with a warning about the built-in development secret', async () => {
    const srv = await start(['--dev', '--port', '0', '--host', '127.0.0.1']);
    try {
      const warn = srv.stderr().split('\n').find((l) => /--dev/.test(l));
      assert.ok(warn, srv.stderr());
      assert.match(warn, /warn/i);
      assert.match(warn, /secret/);
      assert.match(warn, /production/);
      // The secret it announces is the one it verifies with.
      const secret = /"([^"]+)"/.exec(warn)[1];
      await assertSecret(srv.url, secret, 'not-the-dev-secret');
    } finally {
      await srv.stop();
    }
    // An explicit secret wins over --dev, and then there is no warning.
    const explicit = await start(['--dev', '--jwt-secret', 'mine', '--port', '0', '--host', '127.0.0.1']);
    try {
      assert.doesNotMatch(explicit.stderr(), /built-in JWT secret/);
      await assertSecret(explicit.url, 'mine', 'other');
    } finally {
      await explicit.stop();
    }
  });

  test('--dev listens on loopback only, prints the URL to open and an API key that works', async () => {
    const srv = await start(['--dev', '--port', '0']);
    try {
      assert.equal(srv.host, '127.0.0.1', srv.stderr());
      await until(() => /API key for this run/.test(srv.stderr()), 5000, 'the --dev banner');
      const open = /--dev: open (http:\/\/127\.0\.0\.1:(\d+))/.exec(srv.stderr());
      assert.ok(open, srv.stderr());
      assert.equal(Number(open[2]), srv.port);
      const key = /--dev: API key for this run: (\S+)/.exec(srv.stderr());
      assert.ok(key, srv.stderr());
      assert.match(key[1], /^dev-[0-9a-f]{32}$/);
      const ok = await fetch(`${open[1]}/api/stats`, { headers: { authorization: `Bearer ${key[1]}` } });
      assert.equal(ok.status, 200);
      const bad = await fetch(`${open[1]}/api/stats`, { headers: { authorization: 'Bearer dev-wrong' } });
      assert.equal(bad.status, 401);
    } finally {
      await srv.stop();
    }
    // A second run makes up a different key.
    const again = await start(['--dev', '--port', '0']);
    try {
      await until(() => /API key for this run/.test(again.stderr()), 5000, 'the --dev banner');
      const k1 = /API key for this run: (\S+)/.exec(again.stderr())[1];
      assert.doesNotMatch(srv.stderr(), new RegExp(k1));
    } finally {
      await again.stop();
    }
  });

  test('--dev with an explicit --host or --api-key keeps them (and prints no made-up key)', async (t) => {
    const srv = await start(['--dev', '--port', '0', '--host', '0.0.0.0', '--api-key', 'my-key'], {});
    try {
      assert.equal(srv.host, '0.0.0.0');
      await until(() => /--dev: open/.test(srv.stderr()), 5000, 'the --dev banner');
      assert.match(srv.stderr(), /--dev: open http:\/\/127\.0\.0\.1:\d+/);
      assert.doesNotMatch(srv.stderr(), /API key for this run/);
      const ok = await fetch(`${srv.url}/api/stats`, { headers: { authorization: 'Bearer my-key' } });
      assert.equal(ok.status, 200);
    } finally {
      await srv.stop();
    }
    const viaEnv = await start(['--dev', '--port', '0'], { env: { SWITCHBOARD_HOST: '0.0.0.0' } });
    try { assert.equal(viaEnv.host, '0.0.0.0'); } finally { await viaEnv.stop(); }
  });

  test('--dev banner in json log format', async () => {
    const srv = await start(['--dev', '--port', '0', '--log-format', 'json']);
    try {
      await until(() => /API key for this run/.test(srv.stderr()), 5000, 'the --dev banner');
      const lines = srv.stderr().trim().split('\n').map((l) => JSON.parse(l));
      const open = lines.find((l) => /^--dev: open http:/.test(l.msg));
      assert.ok(open, srv.stderr());
      assert.equal(open.level, 'warn');
      assert.ok(lines.find((l) => /^--dev: API key for this run: dev-[0-9a-f]{32}/.test(l.msg)));
    } finally {
      await srv.stop();
    }
  });

  test('production mode refuses a JWT secret shorter than 32 bytes -> exit 2, unless --allow-short-secret', async () => {
    for (const [args, env, source] of [
      [['--jwt-secret', 'x'.repeat(31)], {}, 'flag'],
      [[], { SWITCHBOARD_JWT_SECRET: 'short' }, 'environment'],
    ]) {
      const r = await run(['--port', '0', '--host', '127.0.0.1', ...args], { env });
      assert.equal(r.code, 2, `${source}: ${r.stderr}`);
      assert.match(r.stderr, /--jwt-secret is \d+ bytes; at least 32/);
      assert.match(r.stderr, /--allow-short-secret/);
      assert.doesNotMatch(r.stderr, /listening on/);
      assertNoSanitizer(r);
    }
    const exact = await start(['--port', '0', '--host', '127.0.0.1', '--jwt-secret', 'x'.repeat(32)]);
    try { assert.doesNotMatch(exact.stderr(), /allow-short-secret/); } finally { await exact.stop(); }
    const allowed = await start(['--port', '0', '--host', '127.0.0.1', '--jwt-secret', 'short', '--allow-short-secret', 'true']);
    try {
      assert.match(allowed.stderr(), /warn.*--jwt-secret is 5 bytes, shorter than 32/);
      await assertSecret(allowed.url, 'short', 'other');
    } finally {
      await allowed.stop();
    }
    const json = await start(['--port', '0', '--host', '127.0.0.1', '--jwt-secret', 'short', '--allow-short-secret', 'true', '--log-format', 'json']);
    try {
      const line = json.stderr().split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => /shorter than 32/.test(l.msg));
      assert.equal(line.level, 'warn');
    } finally {
      await json.stop();
    }
  });

  test('a port already in use -> exit 1 with a message', async () => {
    const blocker = net.createServer();
    await new Promise((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address();
    try {
      const r = await run(['--dev', '--host', '127.0.0.1', '--port', String(port)]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(r.stderr, /in use/i);
      assert.doesNotMatch(r.stderr, /listening on/);
      assertNoSanitizer(r);
    } finally {
      blocker.close();
    }
  });

  test('--host takes a name, resolved at start: localhost works; a name that does not resolve -> exit 1', async () => {
    const srv = await start(['--dev', '--host', 'localhost', '--port', '0']);
    try {
      assert.ok(srv.host === '127.0.0.1' || srv.host === '[::1]', srv.stderr());
      const s = await connect(srv.url, { transports: ['websocket'], auth: { token: tokenFor('switchboard-dev-secret-do-not-use-in-production') } });
      assert.equal(s.connected, true);
      s.disconnect();
    } finally {
      await srv.stop();
    }
    const r = await run(['--dev', '--host', 'no-such-host.invalid', '--port', '0']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot resolve listen address 'no-such-host\.invalid'/);
    assert.doesNotMatch(r.stderr, /listening on/);
    assertNoSanitizer(r);
  });

  test('open-file limit: the soft limit is raised to the hard one; a hard limit below --max-connections + 64 is a warning at start', async () => {
    const sh = (limit, args) => ['-c', `${limit}; exec "$0" "$@"`, BIN, ...args];
    const base = ['--dev', '--port', '0', '--max-connections', '100'];
    const raised = await start(sh('ulimit -S -n 64', base), { bin: '/bin/bash' });
    try {
      const hard = Number(/open-file limit raised from 64 to the hard limit (\d+)/.exec(raised.stderr())?.[1]);
      assert.ok(hard >= 164, raised.stderr());
      const limits = readFileSync(`/proc/${raised.proc.pid}/limits`, 'utf8');
      assert.match(limits, new RegExp(`Max open files\\s+${hard}\\s+${hard}`));
      assert.doesNotMatch(raised.stderr(), /is below --max-connections/);
    } finally {
      await raised.stop();
    }
    for (const format of ['text', 'json']) {
      const low = await start(sh('ulimit -n 64', [...base, '--log-format', format]), { bin: '/bin/bash' });
      try {
        const line = low.stderr().split('\n').find((l) => /open-file limit 64 is below --max-connections 100 \+ 64/.test(l));
        assert.ok(line, low.stderr());
        if (format === 'json') assert.equal(JSON.parse(line).level, 'warn');
        else assert.match(line, /\bwarn\b/);
      } finally {
        await low.stop();
      }
    }
  });

  test('--max-connections left unset fits under the open-file limit (one info line, no warning) and is enforced', async () => {
    const sh = (limit, args) => ['-c', `${limit}; exec "$0" "$@"`, BIN, ...args];
    const srv = await start(sh('ulimit -n 70', ['--dev', '--port', '0']), { bin: '/bin/bash' });
    const held = [];
    try {
      const line = srv.stderr().split('\n').find((l) => /--max-connections 6: the open-file limit 70 less 64/.test(l));
      assert.ok(line && /\binfo\b/.test(line), srv.stderr());
      assert.doesNotMatch(srv.stderr(), /\bwarn\b.*open-file limit/);
      for (let i = 0; i < 6; i++) {
        const sock = net.connect(srv.port, '127.0.0.1');
        await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
        held.push(sock);
      }
      const r = await rawHttp(srv.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(r.status, 503, r.raw);
      assert.match(r.body, /too_many_connections/);
    } finally {
      for (const sock of held) sock.destroy();
      await srv.stop();
    }
  });

  test('--version prints the version of include/switchboard.h, the build and the libraries; exit 0', async () => {
    const header = readFileSync(path.join(repoRoot, 'include', 'switchboard.h'), 'utf8');
    const version = /#define SB_VERSION_STRING "([^"]+)"/.exec(header)[1];
    for (const flag of ['--version', '-V']) {
      const r = await run([flag]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines[0], `switchboard ${version}`);
      assert.match(lines[1], /^build: (release|debug checks on)(, AddressSanitizer)?, (gcc|clang) \d/);
      assert.match(lines[2], /^libraries: OpenSSL \d.*, SQLite \d+\.\d+.*, jansson \d.*, zlib \d/);
      assert.equal(r.stderr, '');
    }
  });

  test('every numeric setting has a range in --help; one past either end -> exit 2 naming the setting', async () => {
    const help = (await run(['--help'])).stdout;
    const numeric = [...help.matchAll(/^  --([a-z0-9-]+) V .*; (\d+)-(\d+) \(default: (\d+)\)$/gm)]
      .map((m) => ({ name: m[1], lo: BigInt(m[2]), hi: BigInt(m[3]), def: BigInt(m[4]) }));
    assert.ok(numeric.length >= 25, `ranges found for ${numeric.length} settings`);
    for (const line of help.split('\n').filter((l) => / V .*\(default: \d+\)$/.test(l)))
      assert.match(line, /; \d+-\d+ \(default/, `numeric setting without a range: ${line}`);
    for (const { name, lo, hi, def } of numeric) {
      assert.ok(def >= lo && def <= hi, `${name}: default ${def} outside ${lo}-${hi}`);
      for (const bad of [hi + 1n, ...(lo > 0n ? [lo - 1n] : [])]) {
        const r = await run(['--dev', `--${name}`, String(bad), '--port', '0']);
        assert.equal(r.code, 2, `--${name} ${bad}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`--${name} \\(expected a whole number from ${lo} to ${hi}\\) on the command line`));
      }
    }
    const r = await run(['--dev', '--port', '70000']);
    assert.equal(r.code, 2, 'no silent wrap-around of --port');
  });

  test('a bad value from the environment or a config file -> exit 2 with a message naming the source', async () => {
    const env = await run(['--dev', '--port', '0'], { env: { SWITCHBOARD_MAX_CONNECTIONS: 'abc' } });
    assert.equal(env.code, 2, env.stderr);
    assert.match(env.stderr, /environment variable SWITCHBOARD_MAX_CONNECTIONS: invalid value 'abc' for --max-connections/);
    assert.doesNotMatch(env.stderr, /listening on/);
    const envBool = await run(['--dev', '--port', '0'], { env: { SWITCHBOARD_WS_DEFLATE: 'maybe' } });
    assert.equal(envBool.code, 2, envBool.stderr);
    assert.match(envBool.stderr, /SWITCHBOARD_WS_DEFLATE.*true or false/);
    const file = path.join(work, 'range.conf');
    writeFileSync(file, '# ok so far\nport = 0\nping_interval = 0\n');
    const f = await run(['--config', file, '--dev']);
    assert.equal(f.code, 2, f.stderr);
    assert.ok(f.stderr.includes(`config file ${file}:3: invalid value '0' for ping-interval`), f.stderr);
    const quote = path.join(work, 'quote.conf');
    writeFileSync(quote, 'port = 0\njwt-secret = "unclosed\n');
    const q = await run(['--config', quote]);
    assert.equal(q.code, 2, q.stderr);
    assert.ok(q.stderr.includes(`${quote}:2`) && /quote/.test(q.stderr), q.stderr);
  });

  test('config files: # comments after values, quoted values, snake_case names', async () => {
    const secret = 'has # and spaces, 32 bytes or more!';
    const file = path.join(work, 'friendly.conf');
    const write = (lastLine) => writeFileSync(file, [
      'port = 0   # any free port',
      "host = '127.0.0.1'",
      `jwt_secret = "${secret}"   # quoted: the # inside is kept`,
      'log_level = warn # quiet',
      lastLine,
      '',
    ].join('\n'));
    write('allow_query_token = true#a # without a space before it is part of the value');
    const bad = await run(['--config', file]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /allow-query-token/);
    write('allow_query_token = yes # snake_case works for booleans too');
    const srv = await start(['--config', file]);
    try {
      await assertSecret(srv.url, secret, sec('other'));
      const s = await connect(srv.url, { transports: ['websocket'], query: { token: tokenFor(secret) } });
      assert.equal(s.connected, true, '?token= accepted: allow_query_token was read');
      s.disconnect();
      const info = srv.stderr().split('\n').filter((l) => /\binfo\b/.test(l) && !/listening on/.test(l));
      assert.deepEqual(info, [], 'log_level = warn # quiet was read as warn');
    } finally {
      await srv.stop();
    }
  });

  test('boolean settings take a separate true/false word: --ws-deflate true, --dev false', async () => {
    const offer = 'Sec-WebSocket-Extensions: permessage-deflate\r\n';
    const deflateAnswer = async (srv) => {
      const r = await RawWs.open(srv.port, '/socket.io/?EIO=4&transport=websocket', { extraHeaders: offer });
      assert.equal(r.status, 101);
      r.ws.destroy();
      return r.headers['sec-websocket-extensions'] || null;
    };
    const on = await start(['--dev', 'true', '--ws-deflate', 'true', '--port', '0', '--host', '127.0.0.1']);
    try {
      assert.match(on.stderr(), /--dev/, 'the --dev warning: --dev true is on');
      assert.match(await deflateAnswer(on), /^permessage-deflate/);
    } finally {
      await on.stop();
    }
    const off = await start(['--jwt-secret', sec('s'), '--dev', 'false', '--ws-deflate', 'off', '--port', '0', '--host', '127.0.0.1']);
    try {
      assert.doesNotMatch(off.stderr(), /--dev/);
      assert.equal(await deflateAnswer(off), null);
    } finally {
      await off.stop();
    }
    // A word that is not a boolean is not taken as the flag's value.
    const r = await run(['--dev', 'maybe', '--port', '0']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /unexpected argument 'maybe'/);
  });

  test('by default it listens on [::] and takes IPv4 and IPv6 clients; --host picks one address', async () => {
    const v6 = await loopbackV6();
    const srv = await start(['--jwt-secret', sec('dual-stack'), '--port', '0']);
    try {
      assert.equal(srv.host, '[::]', srv.stderr());
      await assertSioConnects(`http://127.0.0.1:${srv.port}`);
      await assertSioConnects(`http://localhost:${srv.port}`);
      if (v6) await assertSioConnects(`http://[::1]:${srv.port}`);
    } finally {
      await srv.stop();
    }
    const only4 = await start(['--dev', '--port', '0', '--host', '127.0.0.1']);
    try {
      assert.equal(only4.host, '127.0.0.1');
      await assertSioConnects(only4.url);
      if (v6) assert.equal(await tcpConnects('::1', only4.port), false, '--host 127.0.0.1 must not take IPv6');
    } finally {
      await only4.stop();
    }
    if (!v6) return;
    const only6 = await start(['--dev', '--port', '0', '--host', '::1']);
    try {
      assert.equal(only6.host, '[::1]');
      await assertSioConnects(`http://[::1]:${only6.port}`);
      assert.equal(await tcpConnects('127.0.0.1', only6.port), false, '--host ::1 must not take IPv4');
    } finally {
      await only6.stop();
    }
  });

  test('without IPv6 in the kernel, the default listen falls back to 0.0.0.0 with a warning', async () => {
    // A preloaded shim makes socket(AF_INET6) fail as on a kernel without IPv6.
    const shim = path.join(work, 'no_ipv6.so');
    const cc = spawnSync('cc', ['-shared', '-fPIC', '-o', shim, path.join(repoRoot, 'tests/e2e/lib/no_ipv6.c'), '-ldl']);
    assert.equal(cc.status, 0, `cannot build the shim: ${cc.stderr}`);
    const asan = [process.env.ASAN_OPTIONS, 'verify_asan_link_order=0'].filter(Boolean).join(':');
    const srv = await start(['--jwt-secret', sec('no-v6'), '--port', '0'], { env: { LD_PRELOAD: shim, ASAN_OPTIONS: asan } });
    try {
      assert.equal(srv.host, '0.0.0.0', srv.stderr());
      const warn = srv.stderr().split('\n').find((l) => /IPv6/.test(l));
      assert.ok(warn && /warn/.test(warn) && /0\.0\.0\.0/.test(warn), srv.stderr());
      await assertSioConnects(srv.url);
    } finally {
      await srv.stop();
    }
    // An explicit IPv6 address does not fall back: it is what was asked for.
    const r = await run(['--dev', '--port', '0', '--host', '::1'], { env: { LD_PRELOAD: shim, ASAN_OPTIONS: asan } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot listen on ::1/);
  });

  test('--log-format json: one JSON object per line, including "listening on"', async () => {
    const srv = await start(['--dev', '--port', '0', '--host', '127.0.0.1', '--log-format', 'json']);
    await srv.stop();
    const lines = srv.stderr().split('\n').filter((l) => l.length > 0);
    assert.ok(lines.length >= 3, srv.stderr());
    for (const l of lines) {
      const o = JSON.parse(l);
      assert.equal(typeof o.time, 'string', l);
      assert.ok(!Number.isNaN(Date.parse(o.time)), l);
      assert.match(o.level, /^(debug|info|warn|error)$/, l);
      assert.equal(typeof o.msg, 'string', l);
    }
    assert.ok(lines.some((l) => /listening on 127\.0\.0\.1:\d+/.test(JSON.parse(l).msg)));
  });

  test('--log-level off still prints "listening on", and nothing else', async () => {
    const srv = await start(['--dev', '--port', '0', '--host', '127.0.0.1', '--log-level', 'off']);
    await srv.stop();
    const lines = srv.stderr().split('\n').filter((l) => l.length > 0);
    assert.equal(lines.length, 1, srv.stderr());
    assert.match(lines[0], /listening on 127\.0\.0\.1:\d+/);
  });

  test('SIGINT also shuts down cleanly (exit 0)', async () => {
    const srv = await start(['--dev', '--port', '0', '--host', '127.0.0.1']);
    const s = await connect(srv.url, { transports: ['websocket'], auth: { token: tokenFor('switchboard-dev-secret-do-not-use-in-production') } });
    const gone = new Promise((r) => s.once('disconnect', r));
    srv.proc.kill('SIGINT');
    assert.equal(await gone, 'transport close');
    await srv.stop();
  });
});

describe('example programs share the command line', { skip: SKIP }, () => {
  for (const kind of ['sio_echo', 'ws_echo', 'eio_echo', 'chat_room']) {
    test(`${kind}: --help exits 0, an unknown flag exits 2`, async () => {
      const bin = path.join(BUILD, 'examples', kind);
      const help = await run(['--help'], { bin });
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^Usage: /);
      assert.match(help.stdout, /--max-http-buffer-size/);
      const bad = await run(['--frobnicate'], { bin });
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /--frobnicate/);
      assertNoSanitizer(help);
      assertNoSanitizer(bad);
    });
  }
});
