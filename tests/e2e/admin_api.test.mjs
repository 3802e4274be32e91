// The endpoints behind the demo chat and the dashboard: POST /api/dev/token
// (only with --dev), GET /api/admin/stream (Server-Sent Events behind the API
// key) and POST /api/admin/disconnect, with real socket.io-client users.
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer } from './lib/server.mjs';
import { test, isRef, connect, waitFor } from './lib/util.mjs';
import { rawHttp } from './lib/raw.mjs';

const SKIP = isRef ? 'C server endpoints (no reference behaviour)' : false;
const KEY = 'admin-api-test-key';

function post(srv, path, body, headers = {}) {
  return fetch(`${srv.url}${path}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));
}

/** Opens the stream; resolves with {res, events: [...], next()} where next()
 *  resolves with the next parsed event. */
function openStream(srv, key = KEY) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${srv.url}/api/admin/stream`, { headers: { Authorization: `Bearer ${key}` } }, (res) => {
      const queue = [];
      const waiters = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const ev = { event: 'message', data: '', retry: null };
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) ev.data += line.slice(6);
            else if (line.startsWith('retry: ')) ev.retry = Number(line.slice(7));
          }
          if (waiters.length) waiters.shift()(ev); else queue.push(ev);
        }
      });
      const next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)));
      const metrics = async (pred = () => true) => {
        for (;;) {
          const ev = await next();
          if (ev.event === 'metrics') {
            const s = JSON.parse(ev.data);
            if (pred(s)) return s;
          }
        }
      };
      resolve({ res, req, next, metrics, ended: new Promise((r) => res.on('close', r)) });
    });
    req.on('error', reject);
  });
}

const userToken = (srv, sub) => post(srv, '/api/dev/token', { userId: sub, name: sub.toUpperCase() }).then((r) => r.body.token);

describe('dev tokens', { skip: SKIP }, () => {
  test('without --dev: 404, whatever is asked', async () => {
    const srv = await startServer('switchboard');
    try {
      const r = await post(srv, '/api/dev/token', { userId: 'alice' });
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'not_found');
    } finally {
      await srv.stop();
    }
  });

  test('with --dev: a token that connects as the user, with its name; bad ids 422; GET 405', async () => {
    const srv = await startServer('switchboard', { args: ['--dev'] });
    try {
      const r = await post(srv, '/api/dev/token', { userId: 'alice', name: 'Alice A.' });
      assert.equal(r.status, 200);
      assert.equal(r.body.userId, 'alice');
      const claims = JSON.parse(Buffer.from(r.body.token.split('.')[1], 'base64url'));
      assert.equal(claims.sub, 'alice');
      assert.equal(claims.name, 'Alice A.');
      assert.ok(claims.exp - claims.iat <= 3600, 'short-lived');
      assert.ok(Math.abs(r.body.expiresAt - claims.exp * 1000) < 1000);
      const est = [];
      const s = await connect(srv.url, { auth: { token: r.body.token } });
      s.on('connection:established', (e) => est.push(e));
      await waitFor(s, 'connection:established').catch(() => {});
      for (const bad of [{}, { userId: '' }, { userId: 'a b' }, { userId: 'x'.repeat(65) }, { userId: 'ok', name: 'tab\there' },
        { userId: 'ok', name: 'n'.repeat(65) }, { userId: 7 }]) {
        const b = await post(srv, '/api/dev/token', bad);
        assert.equal(b.status, 422, JSON.stringify(bad));
      }
      const raw = await rawHttp(srv.port, 'POST /api/dev/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{oops');
      assert.equal(raw.status, 400);
      assert.equal((await fetch(`${srv.url}/api/dev/token`)).status, 405);
      s.disconnect();
    } finally {
      await srv.stop();
    }
  });
});

describe('the dashboard stream and actions', { skip: SKIP }, () => {
  let srv;
  before(async () => { srv = await startServer('switchboard', { args: ['--dev', '--api-key', KEY] }); });
  after(async () => { await srv?.stop(); });

  test('the stream needs the API key: 401 without it or with another', async () => {
    const none = await fetch(`${srv.url}/api/admin/stream`);
    assert.equal(none.status, 401);
    const wrong = await fetch(`${srv.url}/api/admin/stream`, { headers: { Authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    const post405 = await fetch(`${srv.url}/api/admin/stream`, { method: 'POST', headers: { Authorization: `Bearer ${KEY}` } });
    assert.equal(post405.status, 405);
  });

  test('text/event-stream with a retry delay, a snapshot at once and then every second, users and rooms in it', async () => {
    const st = await openStream(srv);
    try {
      assert.equal(st.res.statusCode, 200);
      assert.equal(st.res.headers['content-type'], 'text/event-stream');
      assert.equal(st.res.headers['cache-control'], 'no-cache');
      const first = await st.next();
      assert.equal(first.retry, 2000);
      const s0 = await st.metrics();
      for (const k of ['time', 'uptimeMs', 'connections', 'namespaces', 'sockets', 'onlineUsers', 'users', 'rooms', 'counters', 'errors', 'store']) {
        assert.ok(k in s0, k);
      }
      assert.equal(s0.store.state, 'ok');
      assert.equal(s0.nodes, null, 'a single node');
      assert.deepEqual(s0.rateLimited.at(-1), { event: 'other', n: 0 }, 'by event, "other" last');
      for (const k of ['queue', 'commits', 'batches', 'writeErrors']) assert.equal(typeof s0.store[k], 'number', k);
      const alice = await connect(srv.url, { auth: { token: await userToken(srv, 'alice') } });
      const bob = await connect(srv.url, { auth: { token: await userToken(srv, 'bob') } });
      await alice.emitWithAck('chat:join', 'lobby');
      await alice.emitWithAck('chat:message', { roomId: 'lobby', message: 'hi' });
      const s1 = await st.metrics((s) => s.users.length === 2 && s.rooms.some((r) => r.name === 'lobby'));
      assert.ok(s1.time >= s0.time);
      assert.deepEqual(s1.users.map((u) => u.id).sort(), ['alice', 'bob']);
      const a = s1.users.find((u) => u.id === 'alice');
      assert.equal(a.devices, 1);
      assert.deepEqual(a.sockets, [alice.id]);
      assert.deepEqual(s1.rooms.find((r) => r.name === 'lobby'), { name: 'lobby', members: 1 });
      assert.ok(!s1.rooms.some((r) => r.name.startsWith('user:')), 'personal rooms are the users list');
      assert.ok(s1.counters.eventsIn > s0.counters.eventsIn);
      assert.equal(s1.onlineUsers, 2);
      assert.ok(s1.store.commits > s0.store.commits, 'the stored message was a commit');
      for (const k of ['last', 'avg', 'max']) assert.equal(typeof s1.store.commitMs[k], 'number', k);
      assert.ok(s1.store.commitMs.max > 0, 'a commit takes time');
      assert.ok(s1.store.commitMs.max >= s1.store.commitMs.last);
      assert.ok(s1.store.commitMs.max >= s1.store.commitMs.avg);
      const text = await (await fetch(`${srv.url}/metrics`, { headers: { Authorization: `Bearer ${KEY}` } })).text();
      const count = Number(/^switchboard_store_commit_seconds_count (\d+)$/m.exec(text)?.[1]);
      assert.ok(count >= s1.store.commits, 'every commit is in the histogram');
      assert.match(text, new RegExp(`^switchboard_store_commit_seconds_bucket\\{le="\\+Inf"\\} ${count}$`, 'm'));
      assert.match(text, /^switchboard_store_commit_seconds_sum \d+\.\d{6}$/m);
      assert.match(text, /^# TYPE switchboard_store_commit_seconds histogram$/m);
      const requests = Number(/^switchboard_store_requests_total (\d+)$/m.exec(text)?.[1]);
      const batches = Number(/^switchboard_store_batches_total (\d+)$/m.exec(text)?.[1]);
      assert.ok(batches >= s1.store.commits && requests >= batches, `${requests} requests in ${batches} batches`);
      alice.disconnect();
      bob.disconnect();
    } finally {
      st.req.destroy();
    }
  });

  test('disconnect a user (every device) or one socket; they are told, and do not come back by themselves', async () => {
    const t = await userToken(srv, 'carol');
    const c1 = await connect(srv.url, { auth: { token: t } });
    const c2 = await connect(srv.url, { auth: { token: t } });
    const d = await connect(srv.url, { auth: { token: await userToken(srv, 'dave') } });
    const auth = { Authorization: `Bearer ${KEY}` };
    assert.equal((await post(srv, '/api/admin/disconnect', { userId: 'carol' })).status, 401);
    const gone = [waitFor(c1, 'disconnect'), waitFor(c2, 'disconnect')];
    const r = await post(srv, '/api/admin/disconnect', { userId: 'carol' }, auth);
    assert.deepEqual(r.body, { ok: true, disconnected: 2 });
    assert.deepEqual(await Promise.all(gone), ['io server disconnect', 'io server disconnect']);
    const one = waitFor(d, 'disconnect');
    assert.deepEqual((await post(srv, '/api/admin/disconnect', { socketId: d.id }, auth)).body, { ok: true, disconnected: 1 });
    assert.equal(await one, 'io server disconnect');
    assert.deepEqual((await post(srv, '/api/admin/disconnect', { userId: 'nobody' }, auth)).body, { ok: true, disconnected: 0 });
    assert.deepEqual((await post(srv, '/api/admin/disconnect', { socketId: 'nope' }, auth)).body, { ok: true, disconnected: 0 });
    for (const bad of [{}, { userId: 'a', socketId: 'b' }, { userId: 5 }]) {
      assert.equal((await post(srv, '/api/admin/disconnect', bad, auth)).status, 422, JSON.stringify(bad));
    }
  });

  test('an /events subscriber in a user\'s room is neither listed as a device nor disconnected', async () => {
    const t = await userToken(srv, 'erin');
    const sub = http.get(`${srv.url}/events?channels=user:erin`, { headers: { Authorization: `Bearer ${t}` } });
    const subRes = await new Promise((resolve, reject) => { sub.on('response', resolve); sub.on('error', reject); });
    assert.equal(subRes.statusCode, 200);
    const sock = await connect(srv.url, { auth: { token: t } });
    const st = await openStream(srv);
    try {
      const s = await st.metrics((x) => x.users.some((u) => u.id === 'erin'));
      assert.deepEqual(s.users.find((u) => u.id === 'erin'), { id: 'erin', devices: 1, sockets: [sock.id] });
      const gone = waitFor(sock, 'disconnect');
      const r = await post(srv, '/api/admin/disconnect', { userId: 'erin' }, { Authorization: `Bearer ${KEY}` });
      assert.deepEqual(r.body, { ok: true, disconnected: 1 });
      await gone;
      const after = await st.metrics((x) => !x.users.some((u) => u.id === 'erin'));
      assert.ok(after, 'a user with only an /events subscriber is not listed');
      assert.ok(!subRes.destroyed && !subRes.complete, 'the subscriber stays');
    } finally {
      st.req.destroy();
      sub.destroy();
    }
  });

  test('open streams end cleanly when the server stops; a reader that left is forgotten', async () => {
    const left = await openStream(srv);
    await left.metrics();
    left.req.destroy();
    const st = await openStream(srv);
    await st.metrics();
    await srv.stop(); // exits 0, no sanitizer report: the streams were freed
    await st.ended;
    srv = null;
  });
});
