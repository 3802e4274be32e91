// Operations endpoints of the main server: /health, /metrics (Prometheus
// text behind the API key) and /api/stats. C-only: the reference server has
// no operations API, so everything here skips when SB_E2E_TARGET=ref.
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { test, isRef, ack, connectUser, waitFor, until } from './lib/util.mjs';
import { rawHttp } from './lib/raw.mjs';

const SKIP = isRef ? 'the reference server has no operations API' : false;
const KEY = 'k';

let seq = 0;
const uid = (p) => `${p}-${process.pid}-${++seq}`;

/** Parses Prometheus text into {"name{labels}": number}; also checks that
 *  every sample line is well formed and that each name has HELP and TYPE. */
function parseMetrics(text) {
  const values = {};
  const typed = new Set();
  const histograms = new Set();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) (\w+) (.+)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        assert.match(m[3], /^(gauge|counter|histogram)$/, line);
        typed.add(m[2]);
        if (m[3] === 'histogram') histograms.add(m[2]);
      }
      continue;
    }
    m = /^(\w+)(\{[^}]*\})? (\d+(?:\.\d+)?)$/.exec(line);
    assert.ok(m, `malformed metrics line: ${JSON.stringify(line)}`);
    const series = /^(\w+)_(bucket|sum|count)$/.exec(m[1]);
    assert.ok(typed.has(m[1]) || (series && histograms.has(series[1])), `${m[1]} has no # TYPE line before it`);
    values[m[1] + (m[2] || '')] = Number(m[3]);
  }
  return values;
}

describe('with --api-key', { skip: SKIP }, () => {
  let srv;
  before(async () => { srv = await startServer('switchboard', { args: ['--api-key', KEY] }); });
  after(async () => { if (srv) await srv.stop(); });

  const get = (path, headers = {}, init = {}) => fetch(`${srv.url}${path}`, { headers, ...init });
  const authed = { Authorization: `Bearer ${KEY}` };

  async function metrics() {
    const res = await get('/metrics', authed);
    assert.equal(res.status, 200);
    return parseMetrics(await res.text());
  }

  test('GET /health: 200 JSON status ok, no auth needed', async () => {
    const res = await get('/health');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = await res.json();
    assert.equal(body.status, 'ok');
    assert.ok(Number.isInteger(body.uptimeMs) && body.uptimeMs >= 0 && body.uptimeMs < 600000, JSON.stringify(body));
    assert.ok(Number.isInteger(body.connections) && body.connections >= 1, JSON.stringify(body));
    // A wrong key does not matter on an open endpoint.
    assert.equal((await get('/health', { Authorization: 'Bearer nope' })).status, 200);
  });

  test('/health, /metrics, /api/stats refuse other methods with 405', async () => {
    for (const path of ['/health', '/metrics', '/api/stats']) {
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const res = await get(path, authed, { method, body: method === 'DELETE' ? undefined : 'x' });
        assert.equal(res.status, 405, `${method} ${path}`);
        const body = await res.json();
        assert.equal(body.error.code, 'method_not_allowed', `${method} ${path}`);
      }
    }
  });

  test('GET /metrics without or with a wrong key -> 401 unauthorized + WWW-Authenticate', async () => {
    const cases = [
      {},
      { Authorization: 'Bearer wrong' },
      { Authorization: `Bearer ${KEY}x` },
      { Authorization: 'Bearer ' },
      { Authorization: `Basic ${Buffer.from(`u:${KEY}`).toString('base64')}` },
      { Authorization: KEY },
    ];
    for (const headers of cases) {
      for (const path of ['/metrics', '/api/stats']) {
        const res = await get(path, headers);
        assert.equal(res.status, 401, `${path} with ${JSON.stringify(headers)}`);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer');
        assert.match(res.headers.get('content-type'), /^application\/json/);
        const body = await res.json();
        assert.equal(body.error.code, 'unauthorized');
        assert.equal(body.error.message, 'missing or invalid API key', 'a server with a key does not claim to have none');
      }
    }
    // The scheme is case-insensitive (RFC 7235).
    assert.equal((await get('/metrics', { Authorization: `bearer ${KEY}` })).status, 200);
  });

  test('GET /metrics: Prometheus text; gauges and counters follow two users and a message', async () => {
    await until(async () => (await metrics())['switchboard_sockets{namespace="/"}'] === 0, 5000,
      'no sockets left from earlier tests');
    const res = await get('/metrics', authed);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    const before0 = parseMetrics(await res.text());
    for (const name of [
      'switchboard_connections', 'switchboard_sessions_polling', 'switchboard_sessions_websocket',
      'switchboard_sockets{namespace="/"}', 'switchboard_rooms', 'switchboard_online_users',
      'switchboard_bytes_in_total', 'switchboard_bytes_out_total', 'switchboard_packets_in_total',
      'switchboard_packets_out_total', 'switchboard_events_in_total', 'switchboard_events_out_total',
      'switchboard_http_requests_total', 'switchboard_errors_total{kind="http_4xx"}',
      'switchboard_errors_total{kind="slow_consumer"}', 'switchboard_errors_total{kind="protocol"}',
      'switchboard_upgrades_total', 'switchboard_sessions_opened_total',
    ]) {
      assert.ok(Number.isFinite(before0[name]), `${name} missing`);
    }
    assert.equal(before0.switchboard_online_users, 0);
    assert.ok(before0.switchboard_connections >= 1, 'this request is a connection');

    const a = uid('ma');
    const b = uid('mb');
    const { s: sa } = await connectUser(srv, a);
    const { s: sb } = await connectUser(srv, b);
    const room = uid('metrics-room');
    await ack(sa, 'chat:join', room);
    await ack(sb, 'chat:join', room);
    const got = waitFor(sb, 'chat:message');
    await ack(sa, 'chat:message', { roomId: room, message: 'counted' });
    await got;

    const m = await metrics();
    assert.equal(m['switchboard_sockets{namespace="/"}'], 2);
    assert.equal(m.switchboard_online_users, 2);
    assert.equal(m.switchboard_sessions_websocket, 2);
    assert.equal(m.switchboard_sessions_polling, 0);
    assert.ok(m.switchboard_connections >= 3, `connections ${m.switchboard_connections}`);
    assert.ok(m.switchboard_events_in_total >= before0.switchboard_events_in_total + 3,
      `events_in ${before0.switchboard_events_in_total} -> ${m.switchboard_events_in_total}`);
    assert.ok(m.switchboard_events_out_total > before0.switchboard_events_out_total);
    assert.ok(m.switchboard_sessions_opened_total >= before0.switchboard_sessions_opened_total + 2);
    assert.ok(m.switchboard_packets_in_total > before0.switchboard_packets_in_total);
    assert.ok(m.switchboard_bytes_in_total > before0.switchboard_bytes_in_total);
    assert.ok(m.switchboard_bytes_out_total > before0.switchboard_bytes_out_total);
    assert.ok(m.switchboard_http_requests_total >= before0.switchboard_http_requests_total + 3);
    // The room, two personal user:<id> rooms and the two sockets' own rooms.
    assert.ok(m.switchboard_rooms >= before0.switchboard_rooms + 3, `rooms ${m.switchboard_rooms}`);

    sb.disconnect();
    await until(async () => {
      const x = await metrics();
      return x['switchboard_sockets{namespace="/"}'] === 1 && x.switchboard_online_users === 1;
    }, 5000, 'sockets and online_users back to 1');
    sa.disconnect();
    await until(async () => (await metrics()).switchboard_online_users === 0, 5000, 'online_users 0');
  });

  test('errors_total{kind="http_4xx"} counts 4xx answers', async () => {
    const m0 = await metrics();
    assert.equal((await get('/no/such/path')).status, 404);
    assert.equal((await get('/metrics')).status, 401);
    const m1 = await metrics();
    assert.equal(m1['switchboard_errors_total{kind="http_4xx"}'], m0['switchboard_errors_total{kind="http_4xx"}'] + 2);
  });

  test('GET /api/stats: users, sockets, rooms with member counts', async () => {
    const a = uid('sa');
    const b = uid('sb');
    const { s: sa } = await connectUser(srv, a);
    const { s: sb } = await connectUser(srv, b, { transports: ['polling'] });
    const room = uid('stats-room');
    const solo = uid('solo-room');
    await ack(sa, 'chat:join', room);
    await ack(sb, 'chat:join', room);
    await ack(sb, 'chat:join', solo);
    const res = await get('/api/stats', authed);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const st = await res.json();
    for (const k of ['connectedUsers', 'connections', 'roomCount', 'rooms', 'sockets']) {
      assert.ok(k in st, `/api/stats has no ${k}: ${JSON.stringify(st)}`);
    }
    assert.equal(st.connectedUsers, 2);
    assert.equal(st.sockets, 2);
    assert.ok(st.connections >= 3, `connections ${st.connections}`);
    assert.equal(st.roomCount, st.rooms.length);
    const byName = new Map(st.rooms.map((r) => [r.name, r.members]));
    assert.equal(byName.get(room), 2);
    assert.equal(byName.get(solo), 1);
    assert.equal(byName.get(`user:${a}`), 1);
    assert.equal(byName.get(`user:${b}`), 1);
    for (const r of st.rooms) {
      assert.equal(typeof r.name, 'string', JSON.stringify(r));
      assert.ok(Number.isInteger(r.members) && r.members >= 1, JSON.stringify(r));
    }
    // A second device of `a` in the room: the user count stays 2.
    const { s: sa2 } = await connectUser(srv, a);
    await ack(sa2, 'chat:join', room);
    const st2 = await (await get('/api/stats', authed)).json();
    assert.equal(st2.connectedUsers, 2);
    assert.equal(st2.sockets, 3);
    assert.equal(new Map(st2.rooms.map((r) => [r.name, r.members])).get(room), 3);
    assert.equal(new Map(st2.rooms.map((r) => [r.name, r.members])).get(`user:${a}`), 2);
    // Leaving empties the room: it is gone from the list.
    await ack(sb, 'chat:leave', solo);
    const st3 = await (await get('/api/stats', authed)).json();
    assert.equal(st3.rooms.some((r) => r.name === solo), false, JSON.stringify(st3.rooms));
  });
});

describe('without --api-key', { skip: SKIP }, () => {
  let srv;
  before(async () => { srv = await startServer('switchboard'); });
  after(async () => { if (srv) await srv.stop(); });

  test('/metrics and /api/stats always answer 401, even to an empty Bearer', async () => {
    for (const path of ['/metrics', '/api/stats']) {
      for (const headers of [{}, { Authorization: 'Bearer ' }, { Authorization: 'Bearer' }, { Authorization: 'Bearer ""' }]) {
        const res = await fetch(`${srv.url}${path}`, { headers });
        assert.equal(res.status, 401, `${path} ${JSON.stringify(headers)}`);
        const { error } = await res.json();
        assert.equal(error.code, 'unauthorized');
        assert.match(error.message, /this server has no API key: start it with --api-key/);
      }
    }
    // Raw, so that no client trims the trailing space of "Bearer ".
    const r = await rawHttp(srv.port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \r\nConnection: close\r\n\r\n');
    assert.equal(r.status, 401);
    assert.equal((await fetch(`${srv.url}/health`)).status, 200);
  });

  test('the missing key is announced at start-up', async () => {
    assert.match(srv.stderr(), /no --api-key/);
  });
});

describe('log lines for HTTP requests and refused API keys', { skip: SKIP }, () => {
  const logged = (srv) => srv.stderr().split('\n');

  test('at info: one line per answered request on the HTTP routes (not Engine.IO, not a 200 /health); refusals with their reason; both formats', async () => {
    for (const format of ['text', 'json']) {
      const srv = await startServer('switchboard', { args: ['--api-key', KEY, '--log-level', 'info', '--log-format', format] });
      try {
        const get = (p, headers = {}) => fetch(`${srv.url}${p}`, { headers });
        assert.equal((await get('/api/stats', { Authorization: `Bearer ${KEY}` })).status, 200);
        assert.equal((await get('/api/stats', { Authorization: 'Bearer wrong' })).status, 401);
        assert.equal((await get('/metrics')).status, 401);
        assert.equal((await get('/no-such-path')).status, 404);
        assert.equal((await get('/health')).status, 200);
        assert.equal((await get('/socket.io/?EIO=4&transport=polling')).status, 200);
        await until(() => logged(srv).filter((l) => /http request/.test(l)).length >= 4, 5000, 'the request lines');
        const lines = logged(srv);
        const requests = lines.filter((l) => /http request/.test(l));
        const refusals = lines.filter((l) => /authentication refused/.test(l));
        if (format === 'json') {
          const rq = requests.map((l) => JSON.parse(l));
          assert.deepEqual(rq.map((r) => [r.method, r.path, r.status]),
            [['GET', '/api/stats', 200], ['GET', '/api/stats', 401], ['GET', '/metrics', 401], ['GET', '/no-such-path', 404]]);
          for (const r of rq) {
            assert.equal(r.level, 'info');
            assert.equal(r.remote, '127.0.0.1');
            assert.equal(typeof r.duration_ms, 'number');
          }
          const rf = refusals.map((l) => JSON.parse(l));
          assert.deepEqual(rf.map((r) => [r.transport, r.path, r.reason]),
            [['http', '/api/stats', 'invalid API key'], ['http', '/metrics', 'no Authorization: Bearer header']]);
        } else {
          assert.equal(requests.length, 4, requests.join('\n'));
          assert.match(requests[0], /\binfo\s+http request method=GET path=\/api\/stats status=200 remote=127\.0\.0\.1 duration_ms=\d+/);
          assert.match(requests[2], /path=\/metrics status=401/);
          assert.match(requests[3], /path=\/no-such-path status=404/);
          assert.match(refusals[0], /authentication refused transport=http remote=127\.0\.0\.1 path=\/api\/stats reason="invalid API key"/);
        }
        assert.ok(!requests.some((l) => /\/socket\.io|\/health/.test(l)), 'Engine.IO and a healthy /health are not logged');
      } finally {
        await srv.stop();
      }
    }
  });

  test('--log-connections false: no request lines, refusals still logged', async () => {
    const srv = await startServer('switchboard', { args: ['--api-key', KEY, '--log-level', 'info', '--log-connections', 'false'] });
    try {
      assert.equal((await fetch(`${srv.url}/metrics`, { headers: { Authorization: 'Bearer nope' } })).status, 401);
      assert.equal((await fetch(`${srv.url}/api/stats`, { headers: { Authorization: `Bearer ${KEY}` } })).status, 200);
      await until(() => /authentication refused/.test(srv.stderr()), 5000, 'the refusal line');
      assert.doesNotMatch(srv.stderr(), /http request/);
    } finally {
      await srv.stop();
    }
  });
});
