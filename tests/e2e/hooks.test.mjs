// Backend hooks (issue 13 item 4, docs/hooks.md) against a real HTTP
// backend started here: custom events forwarded and answered (ack, emits),
// signatures, offline pushes with retries, and a backend that is down, slow
// or saturated: clear errors to the client, nothing lost, the loop serving
// everyone else meanwhile.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, NO_EVENT_LIMIT } from './lib/server.mjs';
import { test, isRef, connectUser, ack, waitFor, until, client, mintToken } from './lib/util.mjs';
import { startBackend, deadPort, HOOK_SECRET } from './lib/backend.mjs';
import { wsUser, WsClient, wsUrl } from './lib/doors.mjs';

const skip = isRef ? 'C-only: the reference server has no hooks' : false;
const KEY = 'hooks-key';
let seq = 0;
const uid = (p) => `${p}-${process.pid}-${++seq}`;

function hookArgs(url, extra = []) {
  return [...NO_EVENT_LIMIT, '--api-key', KEY, '--hook-url', url, '--hook-secret', HOOK_SECRET,
    '--hook-retry-backoff', '50', ...extra];
}

async function metrics(srv) {
  const res = await fetch(`${srv.url}/metrics`, { headers: { Authorization: `Bearer ${KEY}` } });
  assert.equal(res.status, 200);
  return res.text();
}

/** The first message:received of a device of `user` connecting now. */
function nextReceived(server, user) {
  const s = client(server.url, { transports: ['websocket'], autoConnect: false,
    auth: { token: mintToken({ sub: user }, server.secret) } });
  const got = waitFor(s, 'message:received');
  s.connect();
  return got;
}

/** The value of one metric line (name with its labels), or undefined. */
function metric(text, line) {
  const m = text.split('\n').find((l) => l.startsWith(`${line} `));
  return m === undefined ? undefined : Number(m.slice(line.length + 1));
}

let backend;
let srv;
before(async () => {
  if (isRef) return;
  backend = await startBackend();
  srv = await startServer('switchboard', { args: hookArgs(backend.url, ['--hook-event-names', 'order:*,ping:backend']) });
});
after(async () => {
  if (srv) await srv.stop();
  if (backend) await backend.close();
});

test('a custom event goes to the backend, signed; its answer is the ack and its emit reaches the room (Socket.IO and /ws)', async () => {
  const room = uid('room');
  const me = uid('me');
  backend.on('/event', (req) => ({ json: {
    ack: { accepted: true, echo: req.body.args[0] },
    emits: [{ to: { room }, event: 'order:created', data: { id: 7, by: req.body.user.id } }],
  } }));
  const { s: sender } = await connectUser(srv, me);
  const { s: watcher } = await connectUser(srv, uid('watcher'));
  await ack(watcher, 'chat:join', room);
  const seen = waitFor(watcher, 'order:created');
  const before = backend.requests.length;
  const answer = await ack(sender, 'order:create', { item: 'tea', qty: 2 });
  assert.deepEqual(answer, { accepted: true, echo: { item: 'tea', qty: 2 } });
  assert.deepEqual(await seen, { id: 7, by: me });
  const reqs = backend.requests.slice(before);
  assert.equal(reqs.length, 1);
  const [r] = reqs;
  assert.equal(r.path, '/event');
  assert.equal(r.headers['x-switchboard-hook'], 'event');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.ok(r.signed, `the signature verifies: ${r.headers['x-switchboard-signature']}`);
  assert.deepEqual(r.body, { event: 'order:create', args: [{ item: 'tea', qty: 2 }], socketId: sender.id,
    user: { id: me, name: `Name of ${me}` }, ack: true });
  // A plain WebSocket client's custom type goes the same way; the ack answers its id.
  const w = await wsUser(srv, mintToken({ sub: uid('ws') }, srv.secret));
  assert.deepEqual((await w.request('order:create', { item: 'milk' }, 9)).data, { accepted: true, echo: { item: 'milk' } });
}, { skip });

test('events outside --hook-event-names, and the contract\'s own, never reach the backend', async () => {
  const { s } = await connectUser(srv, uid('me'));
  const before = backend.requests.length;
  const r = await ack(s, 'invoice:create', {});
  assert.equal(r.error.code, 'unknown_event');
  const room = uid('room');
  assert.ok((await ack(s, 'chat:join', room)).success !== false);
  assert.equal(backend.requests.length, before);
}, { skip });

test('the backend refuses (error), fails (500) or answers garbage: clear error codes, one request each', async () => {
  const { s } = await connectUser(srv, uid('me'));
  const before = backend.requests.length;
  backend.on('/event', () => ({ json: { error: 'orders are closed' } }));
  assert.deepEqual((await ack(s, 'order:create', {})).error, { code: 'hook_refused', message: 'orders are closed' });
  backend.on('/event', () => ({ status: 500, json: { oops: 1 } }));
  const e500 = (await ack(s, 'order:create', {})).error;
  assert.equal(e500.code, 'hook_unavailable');
  assert.match(e500.message, /HTTP 500/);
  backend.on('/event', () => ({ text: 'not json' }));
  assert.equal((await ack(s, 'order:create', {})).error.code, 'hook_unavailable');
  assert.equal(backend.requests.length, before + 3, 'events are not retried');
  // Without an ack the error arrives as an `error` event naming the event.
  const err = waitFor(s, 'error');
  s.emit('order:create', {});
  assert.deepEqual(await err, { code: 'hook_unavailable', message: 'the backend\'s answer is not a JSON object', event: 'order:create' });
  const m = await metrics(srv);
  assert.ok(metric(m, 'switchboard_hook_failures_total{hook="event"}') >= 1);
  assert.ok(metric(m, 'switchboard_event_errors_total{code="hook_refused"}') >= 1);
  assert.ok(metric(m, 'switchboard_hook_latency_seconds_count{hook="event"}') >= 4);
}, { skip });

test('a push is POSTed once, signed, for each offline recipient, and not for an online one', async () => {
  const pushes = [];
  backend.on('/push', (req) => { pushes.push(req); return { json: { ok: true } }; });
  const me = uid('me');
  const away = uid('away');
  const here = uid('here');
  const { s } = await connectUser(srv, me);
  await connectUser(srv, here);
  const sent = await ack(s, 'message:send', { receiverId: away, content: 'are you there?' });
  await ack(s, 'message:send', { receiverId: here, content: 'hi' });
  await until(() => pushes.some((p) => p.body.userId === away), 5000, 'the push for the offline user');
  await new Promise((r) => setTimeout(r, 300)); // a duplicate would come now
  const mine = pushes.filter((p) => p.body.userId === away);
  assert.equal(mine.length, 1, 'one push per message and offline user');
  assert.ok(mine[0].signed);
  assert.equal(mine[0].headers['x-switchboard-hook'], 'push');
  assert.equal(mine[0].body.type, 'message');
  assert.equal(mine[0].body.eventId, sent.id);
  assert.equal(mine[0].body.id, `message:${sent.id}:${away}`);
  assert.equal(mine[0].body.payload.content, 'are you there?');
  assert.equal(pushes.filter((p) => p.body.userId === here).length, 0, 'an online user gets no push');
  // And the message is still pending for the user's next device.
  assert.equal((await nextReceived(srv, away)).id, sent.id);
}, { skip });

test('a notification for an offline user is pushed too (type notification)', async () => {
  const pushes = [];
  backend.on('/push', (req) => { pushes.push(req); return { json: {} }; });
  const away = uid('away');
  const res = await fetch(`${srv.url}/api/notifications`, {
    method: 'POST', headers: { Authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ userId: away, type: 'order', title: 'Shipped', message: 'on its way' }),
  });
  assert.equal(res.status, 201);
  const { id } = (await res.json()).notification;
  await until(() => pushes.some((p) => p.body.userId === away), 5000, 'the push');
  const [p] = pushes.filter((q) => q.body.userId === away);
  assert.equal(p.body.type, 'notification');
  assert.equal(p.body.id, `notification:${id}:${away}`);
  assert.equal(p.body.payload.title, 'Shipped');
  assert.ok(p.signed);
}, { skip });

test('a push answered 500 is retried (same id, next attempt) until it succeeds', async () => {
  const seen = [];
  backend.on('/push', (req) => { seen.push(req); return seen.length === 1 ? { status: 500 } : { json: {} }; });
  const { s } = await connectUser(srv, uid('me'));
  const away = uid('away');
  const m0 = metric(await metrics(srv), 'switchboard_hook_retries_total{hook="push"}');
  await ack(s, 'message:send', { receiverId: away, content: 'retry me' });
  await until(() => seen.length >= 2, 5000, 'the retry');
  assert.equal(seen[0].body.id, seen[1].body.id);
  assert.equal(seen[0].raw, seen[1].raw, 'the same body');
  assert.deepEqual([seen[0].headers['x-switchboard-attempt'], seen[1].headers['x-switchboard-attempt']], ['1', '2']);
  assert.ok(seen[1].signed);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(seen.length, 2, 'no attempt after the success');
  assert.equal(metric(await metrics(srv), 'switchboard_hook_retries_total{hook="push"}'), m0 + 1);
}, { skip });

test('a slow backend times out: hook_unavailable, while the loop serves everyone else', async () => {
  const slow = await startBackend({ '/event': () => ({ hang: true }) });
  const s2 = await startServer('switchboard', { args: hookArgs(slow.url, ['--hook-event-timeout', '400']) });
  try {
    const { s } = await connectUser(s2, uid('me'));
    const { s: other } = await connectUser(s2, uid('other'));
    const pending = ack(s, 'order:create', {});
    // While the backend holds the request, the server answers others.
    assert.ok((await ack(other, 'chat:join', uid('room'))) !== undefined);
    const r = await pending;
    assert.equal(r.error.code, 'hook_unavailable');
    assert.match(r.error.message, /timed out/);
    const m = await metrics(s2);
    assert.equal(metric(m, 'switchboard_hook_timeouts_total{hook="event"}'), 1);
    assert.equal(metric(m, 'switchboard_hook_in_flight{hook="event"}'), 0);
  } finally {
    await s2.stop();
    await slow.close();
  }
}, { skip });

test('over --hook-max-in-flight: hook_busy at once, counted; the held call still completes', async () => {
  let release;
  const held = new Promise((r) => { release = r; });
  const busy = await startBackend({ '/event': async () => { await held; return { json: { ack: 'late' } }; } });
  const s2 = await startServer('switchboard', { args: hookArgs(busy.url, ['--hook-max-in-flight', '1']) });
  try {
    const { s } = await connectUser(s2, uid('me'));
    const first = ack(s, 'order:create', {});
    await until(() => busy.requests.length === 1, 5000, 'the first call to reach the backend');
    const second = await ack(s, 'order:create', {});
    assert.equal(second.error.code, 'hook_busy');
    release();
    assert.equal(await first, 'late');
    const m = await metrics(s2);
    assert.equal(metric(m, 'switchboard_hook_rejected_total{hook="event"}'), 1);
    assert.equal(metric(m, 'switchboard_event_errors_total{code="hook_busy"}'), 1);
  } finally {
    await s2.stop();
    await busy.close();
  }
}, { skip });

test('the backend down: hook_unavailable, the push retried then dropped, the message kept, no crash', async () => {
  const port = await deadPort();
  const s2 = await startServer('switchboard', { args: hookArgs(`http://127.0.0.1:${port}`, ['--hook-push-retries', '2']) });
  try {
    const me = uid('me');
    const away = uid('away');
    const { s } = await connectUser(s2, me);
    const r = await ack(s, 'order:create', {});
    assert.equal(r.error.code, 'hook_unavailable');
    const sent = await ack(s, 'message:send', { receiverId: away, content: 'kept' });
    assert.ok(sent.id > 0, 'the message is stored although the push fails');
    await until(async () => metric(await metrics(s2), 'switchboard_hook_failures_total{hook="push"}') === 3,
      5000, 'three push attempts (one and two retries)');
    const m = await metrics(s2);
    assert.equal(metric(m, 'switchboard_hook_retries_total{hook="push"}'), 2);
    assert.equal(metric(m, 'switchboard_hook_in_flight{hook="push"}'), 0);
    assert.equal((await nextReceived(s2, away)).content, 'kept');
  } finally {
    await s2.stop();
  }
}, { skip });

test('a bad --hook-url or --hook-events stops the server at start with a clear message', async () => {
  for (const [args, re] of [[['--hook-url', 'ftp://x'], /--hook-url must start with http/],
    [['--hook-url', 'http://127.0.0.1:1', '--hook-events', 'event,bogus'], /unknown hook 'bogus'/]]) {
    await assert.rejects(startServer('switchboard', { args }), re);
  }
}, { skip });

// ---- connect ------------------------------------------------------------------------

/** Resolves with the socket once connected (with connection:established),
 *  or rejects with the connect_error. */
function connectWith(server, sub, auth = {}) {
  const s = client(server.url, { transports: ['websocket'], reconnection: false,
    auth: { token: mintToken({ sub, name: `Name of ${sub}` }, server.secret), ...auth } });
  const est = waitFor(s, 'connection:established');
  est.catch(() => {});
  return new Promise((resolve, reject) => {
    s.once('connect', async () => resolve({ s, est: await est }));
    s.once('connect_error', reject);
  });
}

test('connect hook: the backend lets a user in with data, keeps another out; the socket waits for its word', async () => {
  const gate = await startBackend({
    '/connect': (req) => (req.body.user.id.startsWith('banned')
      ? { json: { allow: false, reason: 'you are banned' } }
      : { delayMs: 100, json: { allow: true, data: req.body.auth.device ? { plan: 'gold', seen: req.body.auth.device } : { plan: 'gold' } } }),
    '/event': (req) => ({ json: { ack: req.body.data } }),
  });
  const s2 = await startServer('switchboard', { args: hookArgs(gate.url, ['--hook-events', 'connect,event']) });
  try {
    const me = uid('me');
    const { s, est } = await connectWith(s2, me, { device: 'phone' });
    assert.deepEqual(est.data, { plan: 'gold', seen: 'phone' });
    const [req] = gate.requests.filter((r) => r.path === '/connect');
    assert.ok(req.signed);
    assert.equal(req.headers['x-switchboard-hook'], 'connect');
    assert.deepEqual(req.body.user, { id: me, name: `Name of ${me}` });
    assert.deepEqual(req.body.auth, { device: 'phone' }, 'the token is not sent to the backend');
    assert.equal(req.body.namespace, '/');
    assert.equal(req.body.remoteAddress, '127.0.0.1');
    assert.equal(req.body.socketId, s.id);
    // The data rides along with the socket's custom events.
    assert.deepEqual(await ack(s, 'whoami'), { plan: 'gold', seen: 'phone' });
    const err = await connectWith(s2, uid('banned')).catch((e) => e);
    assert.equal(err.message, 'Connection refused: you are banned');
    assert.deepEqual(err.data, { code: 'hook_refused' });
    // The plain WebSocket door asks the same backend.
    const w = await wsUser(s2, mintToken({ sub: uid('ws') }, s2.secret));
    assert.deepEqual(w.connected.data, { plan: 'gold' });
    const banned = new WsClient(wsUrl(s2), { headers: { Authorization: `Bearer ${mintToken({ sub: uid('banned') }, s2.secret)}` } });
    await banned.opened;
    assert.deepEqual((await banned.next('error')).data, { code: 'hook_refused', message: 'Connection refused: you are banned' });
    const m = await metrics(s2);
    assert.equal(metric(m, 'switchboard_hook_requests_total{hook="connect"}'), 4);
    assert.equal(metric(m, 'switchboard_online_users'), 2, 'the refused users never came online');
  } finally {
    await s2.stop();
    await gate.close();
  }
}, { skip });

test('connect hook timing out: refused by default, let in with --hook-connect-fallback accept; clients leaving while they wait', async () => {
  const slow = await startBackend({ '/connect': () => ({ hang: true }) });
  const strict = await startServer('switchboard', { args: hookArgs(slow.url, ['--hook-events', 'connect', '--hook-connect-timeout', '300']) });
  const lenient = await startServer('switchboard', { args: hookArgs(slow.url, ['--hook-events', 'connect', '--hook-connect-timeout', '300', '--hook-connect-fallback', 'accept']) });
  try {
    const err = await connectWith(strict, uid('me')).catch((e) => e);
    assert.match(err.message, /^Connection refused: the backend failed \(timed out\)/);
    assert.deepEqual(err.data, { code: 'hook_unavailable' });
    const { est } = await connectWith(lenient, uid('me'));
    assert.equal(est.data, undefined, 'no data without the backend');
    // Clients that give up while their connect waits: nothing left behind.
    for (let i = 0; i < 5; i++) {
      const s = client(strict.url, { transports: ['websocket'], reconnection: false,
        auth: { token: mintToken({ sub: uid('quitter') }, strict.secret) } });
      await until(() => slow.requests.filter((r) => r.body.user.id === `quitter-${process.pid}-${seq}`).length === 1,
        5000, 'its connect to reach the backend');
      s.close();
    }
    await new Promise((r) => setTimeout(r, 500)); // their hook calls time out after they left
    const m = await metrics(strict);
    assert.equal(metric(m, 'switchboard_hook_in_flight{hook="connect"}'), 0);
    assert.equal(metric(m, 'switchboard_sockets{namespace="/"}'), 0);
  } finally {
    await strict.stop();
    await lenient.stop();
    await slow.close();
  }
}, { skip, timeout: 20000 });
