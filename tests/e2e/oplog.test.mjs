// What an operator sees in the log: at info, a line per connection opened
// and closed (sid, transport, remote address, user, duration, reason) and per
// refused authentication (reason, and the setting that would let the token
// in), in text and JSON; --log-connections false turns the connection lines
// off but keeps the refusals. C-only: skips when SB_E2E_TARGET=ref.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, repoRoot, DEFAULT_SECRET } from './lib/server.mjs';
import { test, isRef, connect, connectError, disconnect, mintToken, until, closeAllClients } from './lib/util.mjs';

const skip = isRef ? 'log lines of the C server' : false;
const servers = [];
after(async () => {
  closeAllClients();
  for (const s of servers) await s.stop();
});

async function start(extra) {
  const srv = await startServer('switchboard', { args: ['--log-level', 'info', ...extra] });
  servers.push(srv);
  return srv;
}

const lines = (srv) => srv.stderr().split('\n').filter(Boolean);
const json = (srv) => lines(srv).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

test('text: connection opened/closed with sid, transport, remote, user, duration, reason', async () => {
  const srv = await start([]);
  const s = await connect(srv.url, { transports: ['websocket'], auth: { token: mintToken({ sub: 'op-alice' }, srv.secret) } });
  const sid = s.id;
  await until(() => /connection opened/.test(srv.stderr()), 5000, 'the opened line');
  const opened = lines(srv).find((l) => /connection opened/.test(l));
  assert.match(opened, /\binfo\s+connection opened /);
  assert.ok(opened.includes(`sid=${sid}`), opened);
  assert.match(opened, / transport=websocket remote=127\.0\.0\.1 user=op-alice$/);
  await disconnect(s);
  await until(() => /connection closed/.test(srv.stderr()), 5000, 'the closed line');
  const closed = lines(srv).find((l) => /connection closed/.test(l));
  assert.ok(closed.includes(`sid=${sid}`), closed);
  assert.match(closed, / transport=websocket remote=127\.0\.0\.1 user=op-alice duration_ms=\d+ reason="client namespace disconnect"$/);
}, { skip });

test('text: refused authentications name the reason; ?token= and tokens without exp get a hint', async () => {
  const srv = await start([]);
  const missing = await connectError(srv.url, { transports: ['websocket'] });
  assert.equal(missing.data.code, 'token_missing');
  await until(() => /authentication refused/.test(srv.stderr()), 5000, 'the refusal line');
  assert.match(lines(srv).find((l) => /authentication refused/.test(l)),
    /\binfo\s+authentication refused transport=websocket remote=127\.0\.0\.1 reason="token missing" hint="" suppressed=0$/);

  const query = await connectError(srv.url, { transports: ['websocket'], query: { token: mintToken({ sub: 'q' }, srv.secret) } });
  assert.equal(query.data.code, 'token_missing');
  assert.match(query.message, /--allow-query-token/);
  assert.match(query.data.hint, /--allow-query-token/);

  const noExp = await connectError(srv.url, { transports: ['websocket'], auth: { token: mintToken({ sub: 'n', exp: null }, srv.secret) } });
  assert.equal(noExp.data.code, 'token_invalid');
  assert.match(noExp.message, /no expiry.*--allow-tokens-without-exp/);

  const bad = await connectError(srv.url, { transports: ['websocket'], auth: { token: mintToken({ sub: 'b' }, 'not-the-secret') } });
  assert.equal(bad.data.hint, undefined, 'no hint where no setting helps');
  await until(() => lines(srv).filter((l) => /authentication refused/.test(l)).length >= 4, 5000, 'four refusal lines');
  const refusals = lines(srv).filter((l) => /authentication refused/.test(l));
  assert.match(refusals[1], /hint="\?token= in the URL is refused unless the server runs with --allow-query-token"/);
  assert.match(refusals[2], /reason="token has no expiry" hint=".*--allow-tokens-without-exp"/);
}, { skip });

test('json: the same fields as JSON members', async () => {
  const srv = await start(['--log-format', 'json']);
  const s = await connect(srv.url, { transports: ['polling'], auth: { token: mintToken({ sub: 'op-json' }, srv.secret) } });
  const sid = s.id;
  await until(() => json(srv).some((l) => l.msg === 'connection opened'), 5000, 'the opened line');
  const opened = json(srv).find((l) => l.msg === 'connection opened');
  assert.deepEqual({ ...opened, time: undefined }, {
    time: undefined, level: 'info', msg: 'connection opened', sid, transport: 'polling', remote: '127.0.0.1', user: 'op-json',
  });
  await disconnect(s);
  await until(() => json(srv).some((l) => l.msg === 'connection closed'), 5000, 'the closed line');
  const closed = json(srv).find((l) => l.msg === 'connection closed');
  assert.equal(closed.user, 'op-json');
  assert.equal(closed.reason, 'client namespace disconnect');
  assert.equal(typeof closed.duration_ms, 'number');
  assert.ok(closed.duration_ms >= 0);
  await connectError(srv.url, { transports: ['websocket'], auth: { token: 'garbage' } });
  await until(() => json(srv).some((l) => l.msg === 'authentication refused'), 5000, 'the refusal line');
  const refused = json(srv).find((l) => l.msg === 'authentication refused');
  assert.equal(refused.level, 'info');
  assert.equal(refused.remote, '127.0.0.1');
  assert.equal(refused.transport, 'websocket');
  assert.equal(typeof refused.reason, 'string');
  assert.equal(refused.suppressed, 0);
}, { skip });

test('--log-connections false: no connection lines, refusals still logged', async () => {
  const srv = await start(['--log-connections', 'false']);
  const s = await connect(srv.url, { transports: ['websocket'], auth: { token: mintToken({ sub: 'quiet' }, srv.secret) } });
  await disconnect(s);
  await connectError(srv.url, { transports: ['websocket'] });
  await until(() => /authentication refused/.test(srv.stderr()), 5000, 'the refusal line');
  assert.doesNotMatch(srv.stderr(), /connection (opened|closed)/);
}, { skip });

test('a database that cannot be opened: exit 1, and the message says why the system refused', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-oplog-'));
  try {
    mkdirSync(path.join(dir, 'switchboard.db')); // a directory where the file should be
    const bin = path.resolve(repoRoot, process.env.SB_BUILD_DIR || 'build', 'switchboard');
    const r = spawnSync(bin, ['--host', '127.0.0.1', '--port', '0', '--jwt-secret', DEFAULT_SECRET, '--data-dir', dir],
      { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /switchboard\.db: unable to open database file \(Is a directory\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, { skip });
