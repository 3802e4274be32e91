// Sender retries that never store twice: clientMessageId on message:send and
// chat:message, Idempotency-Key on the HTTP API's writes. The retry under
// test is the real one: send, drop the connection before the ack arrives,
// reconnect, send again with the same key.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, NO_EVENT_LIMIT } from './lib/server.mjs';
import { test, isRef, connectUser, waitFor, record, until, client, mintToken } from './lib/util.mjs';

const skip = isRef ? 'C-only: the reference server has no storage' : false;
let srv;
before(async () => { if (!isRef) srv = await startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--api-key', 'k'] }); });
after(async () => { if (srv) await srv.stop(); });

const uid = (p) => `${p}-${Math.random().toString(36).slice(2, 8)}`;

/** Emits and cuts the connection at once: the server gets the event, the ack has nowhere to go. */
function sendAndDrop(sock, event, payload) {
  let acked = false;
  sock.emit(event, payload, () => { acked = true; });
  sock.io.engine.close();
  return () => acked;
}

/** Waits for `sock` to have seen everything sent to it before a fence message it receives now. */
async function fence(from, to, sockets) {
  const key = uid('fence');
  const seen = sockets.map((s) => waitFor(s, 'message:received', 5000, (m) => m.clientMessageId === key));
  const r = await from.emitWithAck('message:send', { receiverId: to, content: 'fence', clientMessageId: key });
  assert.ok(!r.error, JSON.stringify(r));
  await Promise.all(seen);
}

test('message:send retried after a dropped connection: one stored message, one delivery per device, the original ack', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const b1 = (await connectUser(srv, bob)).s, b2 = (await connectUser(srv, bob)).s;
  const a2 = (await connectUser(srv, alice)).s; // alice's other device
  const got = [b1, b2, a2].map((s) => record(s, 'message:received'));
  const key = `retry-${uid('k')}`;
  const payload = { receiverId: bob, content: 'exactly once', clientMessageId: key };

  const a1 = (await connectUser(srv, alice)).s;
  const wasAcked = sendAndDrop(a1, 'message:send', payload);
  await until(() => got.every((g) => g.length === 1), 5000, 'the first attempt delivered');
  assert.equal(wasAcked(), false, 'the connection dropped before the ack');
  const original = got[0][0][0];
  assert.equal(original.clientMessageId, key);

  const a3 = (await connectUser(srv, alice)).s; // the client reconnects and retries
  const retry = await a3.emitWithAck('message:send', payload);
  assert.deepEqual(retry, original, 'the retry gets the original message as its ack');
  const again = await a3.emitWithAck('message:send', payload);
  assert.deepEqual(again, original);

  await fence(a3, bob, [b1, b2, a2]);
  for (const g of got) {
    assert.deepEqual(g.map((x) => x[0].content), ['exactly once', 'fence'], 'one delivery per device');
  }
  const hist = await b1.emitWithAck('message:history', { conversationId: original.conversationId });
  assert.deepEqual(hist.messages.map((m) => m.content), ['fence', 'exactly once'], 'stored once');

  // The key is the sender's: bob may use the same string for his own message.
  const bobs = await b1.emitWithAck('message:send', { receiverId: alice, content: 'mine', clientMessageId: key });
  assert.notEqual(bobs.id, original.id);
  assert.equal(bobs.content, 'mine');
}, { skip });

test('an offline receiver of a retried message:send gets it once on connect', async () => {
  const alice = uid('alice'), dave = uid('dave');
  const key = uid('offline-key');
  const payload = { receiverId: dave, content: 'for later', clientMessageId: key };
  const a1 = (await connectUser(srv, alice)).s;
  const first = await a1.emitWithAck('message:send', payload);
  const a2 = (await connectUser(srv, alice)).s;
  assert.deepEqual(await a2.emitWithAck('message:send', payload), first);
  const d = client(srv.url, { transports: ['websocket'], auth: { token: mintToken({ sub: dave }, srv.secret) } });
  const got = record(d, 'message:received');
  await waitFor(d, 'connection:established');
  // The backlog is emitted before any later answer to this socket.
  await d.emitWithAck('message:history', { conversationId: first.conversationId });
  await until(() => got.length >= 1, 5000, 'the backlog');
  assert.deepEqual(got.map((x) => x[0].id), [first.id]);
}, { skip });

test('chat:message with clientMessageId: a retry is acked with the original and not broadcast again', async () => {
  const room = uid('room'), alice = uid('alice'), bob = uid('bob');
  const b = (await connectUser(srv, bob)).s;
  await b.emitWithAck('chat:join', room);
  const seen = record(b, 'chat:message');
  const a1 = (await connectUser(srv, alice)).s;
  await a1.emitWithAck('chat:join', room);
  const payload = { roomId: room, message: 'hello once', clientMessageId: 'c-1' };
  const wasAcked = sendAndDrop(a1, 'chat:message', payload);
  await until(() => seen.length === 1, 5000, 'the first attempt broadcast');
  assert.equal(wasAcked(), false);
  const a2 = (await connectUser(srv, alice)).s;
  await a2.emitWithAck('chat:join', room);
  const retry = await a2.emitWithAck('chat:message', payload);
  assert.deepEqual(retry, seen[0][0]);
  const next = await a2.emitWithAck('chat:message', { roomId: room, message: 'fence', clientMessageId: 'c-2' });
  await until(() => seen.length === 2, 5000, 'the fence');
  assert.deepEqual(seen.map((x) => x[0].message), ['hello once', 'fence']);
  assert.equal(seen[1][0].id, next.id);
}, { skip });

test('clientMessageId limits: 1-128 printable ASCII characters, no spaces', async () => {
  const a = (await connectUser(srv, uid('alice'))).s;
  for (const bad of ['', 'has space', 'x'.repeat(129), 'ü', 42, null, { a: 1 }]) {
    const r = await a.emitWithAck('message:send', { receiverId: 'bob', content: 'x', clientMessageId: bad });
    assert.equal(r.error && r.error.code, 'invalid_payload', `${JSON.stringify(bad)}: ${JSON.stringify(r)}`);
    assert.match(r.error.message, /clientMessageId/);
  }
  const ok = await a.emitWithAck('message:send', { receiverId: 'bob', content: 'x', clientMessageId: '~!'.repeat(64) });
  assert.ok(!ok.error, JSON.stringify(ok));
}, { skip });

async function post(path, body, headers = {}) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { authorization: 'Bearer k', 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, replayed: res.headers.get('idempotent-replayed'), body: await res.json() };
}

test('HTTP API writes with Idempotency-Key: a retry replays the first answer and stores nothing', async () => {
  const user = uid('carol');
  const s = (await connectUser(srv, user)).s;
  const notes = record(s, 'notification:new');
  const key = uid('http-key');
  const body = { userId: user, type: 'order', title: 'Shipped', message: 'once' };
  const first = await post('/api/notifications', body, { 'idempotency-key': key });
  assert.equal(first.status, 201, JSON.stringify(first.body));
  assert.equal(first.replayed, null);
  const retry = await post('/api/notifications', body, { 'idempotency-key': key });
  assert.equal(retry.status, 201);
  assert.equal(retry.replayed, 'true');
  assert.deepEqual(retry.body, first.body);
  // The same key on another request is a client bug.
  const other = await post('/api/notifications', { ...body, message: 'twice?' }, { 'idempotency-key': key });
  assert.equal(other.status, 422);
  assert.equal(other.body.error.code, 'idempotency_key_reused');
  // Invalid keys, and requests without a key (each runs).
  const bad = await post('/api/notifications', body, { 'idempotency-key': 'two words' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'invalid_idempotency_key');
  const unkeyed = await post('/api/notifications', { ...body, message: 'unkeyed' });
  assert.equal(unkeyed.status, 201);
  // A failed request is not remembered: fixing it and retrying with the key runs it.
  const key2 = uid('http-key');
  assert.equal((await post('/api/notifications', { userId: user }, { 'idempotency-key': key2 })).status, 422);
  assert.equal((await post('/api/notifications', { ...body, message: 'fixed' }, { 'idempotency-key': key2 })).status, 201);
  // Without the API key, the key is not even looked at.
  const res = await fetch(`${srv.url}/api/notifications`, { method: 'POST', headers: { 'idempotency-key': key }, body: '{}' });
  assert.equal(res.status, 401);

  await until(() => notes.length >= 3, 5000, 'the notifications');
  const list = await s.emitWithAck('notification:list', {});
  const messages = (list.notifications || list).map((n) => n.message);
  assert.deepEqual(messages.filter((m) => m === 'once'), ['once'], 'stored once');
  assert.deepEqual(notes.map((x) => x[0].message).sort(), ['fixed', 'once', 'unkeyed']);
}, { skip });
