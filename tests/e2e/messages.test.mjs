// Direct and group conversations: message:send delivery on every device,
// offline delivery exactly once, history paging, read receipts, typing with
// expiry, membership rules, the conversation HTTP API, and durability of an
// acknowledged message across kill -9.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, NO_EVENT_LIMIT } from './lib/server.mjs';
import { test, isRef, connectUser, waitFor, record, until, client, mintToken, disconnect } from './lib/util.mjs';

const skip = isRef ? 'C-only: the reference server has no storage' : false;
let srv;
before(async () => { if (!isRef) srv = await startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--api-key', 'k'] }); });
after(async () => { if (srv) await srv.stop(); });

const uid = (p) => `${p}-${Math.random().toString(36).slice(2, 8)}`;

async function api(s, method, p, body) {
  const res = await fetch(`${s.url}${p}`, {
    method, headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Resolves with the first message:sent ack and the conversation id. */
async function send(sock, payload) {
  const r = await sock.emitWithAck('message:send', payload);
  assert.ok(!r.error, `message:send failed: ${JSON.stringify(r)}`);
  return r;
}

test('a direct message reaches every device of both users, exactly where it should', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const a1 = (await connectUser(srv, alice)).s, a2 = (await connectUser(srv, alice)).s;
  const b1 = (await connectUser(srv, bob)).s, b2 = (await connectUser(srv, bob)).s;
  const a1Received = record(a1, 'message:received');
  const sent = waitFor(a1, 'message:sent');
  const got = [waitFor(b1, 'message:received'), waitFor(b2, 'message:received'), waitFor(a2, 'message:received')];
  const ack = await send(a1, { receiverId: bob, content: 'hi bob', messageType: 'text' });
  assert.equal(ack.content, 'hi bob');
  assert.equal(ack.senderId, alice);
  assert.equal(ack.receiverId, bob);
  assert.equal(ack.messageType, 'text');
  assert.equal(typeof ack.id, 'number');
  assert.match(ack.conversationId, /^dm:/);
  assert.equal(ack.sender.id, alice);
  assert.deepEqual(await sent, ack);
  for (const p of got) assert.deepEqual(await p, ack);
  // The same pair always lands in the same conversation.
  const again = await send(b1, { receiverId: alice, content: 'hi alice' });
  assert.equal(again.conversationId, ack.conversationId);
  assert.ok(again.id > ack.id);
  await a1.emitWithAck('message:history', { conversationId: ack.conversationId });
  assert.deepEqual(a1Received.map((x) => x[0].content), ['hi alice'], 'the sending device gets message:sent, not message:received');
}, { skip });

test('a message sent with a clientMessageId to an offline user carries it when it arrives later, as live', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const a = (await connectUser(srv, alice)).s;
  const m = await send(a, { receiverId: bob, content: 'later', clientMessageId: 'k-offline-1' });
  const b = client(srv.url, { transports: ['websocket'], autoConnect: false,
    auth: { token: mintToken({ sub: bob }, srv.secret) } });
  const got = waitFor(b, 'message:received');
  b.connect();
  assert.deepEqual(await got, m, 'the pending message as the sender\'s ack has it');
}, { skip });

test('a device that connects after its user confirmed messages gets the next one live, as sent (clientMessageId too)', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const a = (await connectUser(srv, alice)).s;
  const first = client(srv.url, { transports: ['websocket'], auth: { token: mintToken({ sub: bob }, srv.secret) } });
  let confirmed = 0;
  first.on('message:received', (m, confirm) => { confirm(); confirmed++; });
  await waitFor(first, 'connection:established');
  await send(a, { receiverId: bob, content: 'confirmed' });
  await until(() => confirmed === 1, 5000, 'the first device confirmed it');
  await first.emitWithAck('notification:list', {}); // after the confirmation (the user's requests keep their order)
  await disconnect(first);
  const later = (await connectUser(srv, bob)).s;
  await later.emitWithAck('notification:list', {}); // after its backlog read (the user's requests keep their order)
  const got = waitFor(later, 'message:received');
  const m = await send(a, { receiverId: bob, content: 'live', clientMessageId: 'k-live-1' });
  assert.deepEqual(await got, m, 'the message as the sender\'s ack has it');
}, { skip });

test('messages to an offline user arrive on their next connect, oldest first, and once confirmed never again', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const a = (await connectUser(srv, alice)).s;
  const ids = [];
  for (const content of ['one', 'two', 'three']) ids.push((await send(a, { receiverId: bob, content })).id);
  // Listen before connecting: the backlog follows the connect.
  const b = client(srv.url, { transports: ['websocket'], autoConnect: false,
    auth: { token: mintToken({ sub: bob }, srv.secret) } });
  const seen = [];
  b.on('message:received', (m, confirm) => { seen.push([m]); confirm(); }); // confirms each one
  b.connect();
  await until(() => seen.length === 3, 5000, 'three offline messages');
  assert.deepEqual(seen.map((x) => x[0].content), ['one', 'two', 'three']);
  assert.deepEqual(seen.map((x) => x[0].id), ids);
  assert.equal(seen[0][0].sender.id, alice);
  assert.equal(seen[0][0].receiverId, bob, 'a pending direct message names its receiver, as live');
  assert.equal(seen[0][0].clientMessageId, undefined, 'sent without a key');
  b.disconnect();
  const again = (await connectUser(srv, bob)).s;
  const replay = record(again, 'message:received');
  await again.emitWithAck('notification:list', {}); // a round trip after any backlog
  await again.emitWithAck('message:history', { conversationId: seen[0][0].conversationId });
  assert.deepEqual(replay, [], 'nothing is delivered twice');
}, { skip });

test('history pages are complete, newest first, members only', async () => {
  const alice = uid('alice'), bob = uid('bob'), eve = uid('eve');
  const a = (await connectUser(srv, alice)).s;
  let conv;
  for (let i = 0; i < 120; i++) conv = (await send(a, { receiverId: bob, content: `m${i}` })).conversationId;
  const pages = [];
  let beforeId;
  for (;;) {
    const r = await a.emitWithAck('message:history', { conversationId: conv, before: beforeId, limit: 50 });
    assert.ok(!r.error, JSON.stringify(r));
    pages.push(r.messages.length);
    if (!r.messages.length) break;
    for (let i = 1; i < r.messages.length; i++) assert.ok(r.messages[i - 1].id > r.messages[i].id);
    beforeId = r.messages[r.messages.length - 1].id;
    if (!r.hasMore) break;
  }
  assert.deepEqual(pages, [50, 50, 20]);
  const def = await a.emitWithAck('message:history', { conversationId: conv });
  assert.equal(def.messages.length, 50, 'default limit is 50');
  assert.equal(def.messages[0].content, 'm119');
  const e = (await connectUser(srv, eve)).s;
  assert.equal((await e.emitWithAck('message:history', { conversationId: conv })).error.code, 'forbidden');
  assert.equal((await e.emitWithAck('message:history', { conversationId: 'no-such-conv' })).error.code, 'forbidden');
  for (const bad of [{}, { conversationId: 5 }, { conversationId: conv, limit: 0 }, { conversationId: conv, limit: 101 },
    { conversationId: conv, before: -1 }, { conversationId: conv, before: 'x' }]) {
    assert.equal((await a.emitWithAck('message:history', bad)).error.code, 'invalid_payload', JSON.stringify(bad));
  }
}, { skip });

test('read receipts reach the sender on every device, once', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const a1 = (await connectUser(srv, alice)).s, a2 = (await connectUser(srv, alice)).s;
  const b = (await connectUser(srv, bob)).s;
  const m1 = await send(a1, { receiverId: bob, content: 'read me' });
  const m2 = await send(a1, { receiverId: bob, content: 'me too' });
  const receipts = [waitFor(a1, 'messages-read'), waitFor(a2, 'messages-read')];
  const r = await b.emitWithAck('mark-read', { conversationId: m1.conversationId, messageIds: [m1.id, m2.id] });
  assert.deepEqual(r, { ok: true, conversationId: m1.conversationId, messageIds: [m1.id, m2.id] });
  for (const p of receipts) {
    assert.deepEqual(await p, { conversationId: m1.conversationId, messageIds: [m1.id, m2.id], readBy: bob });
  }
  const twice = await b.emitWithAck('mark-read', { conversationId: m1.conversationId, messageIds: [m1.id] });
  assert.deepEqual(twice.messageIds, [], 'already read: nothing new');
  // Own messages are not "read" by their sender.
  assert.deepEqual((await a1.emitWithAck('mark-read', { conversationId: m1.conversationId, messageIds: [m1.id] })).messageIds, []);
  const eve = (await connectUser(srv, uid('eve'))).s;
  assert.equal((await eve.emitWithAck('mark-read', { conversationId: m1.conversationId, messageIds: [m1.id] })).error.code, 'forbidden');
  for (const bad of [{ conversationId: m1.conversationId }, { conversationId: m1.conversationId, messageIds: [] },
    { conversationId: m1.conversationId, messageIds: ['x'] }, { messageIds: [1] }]) {
    assert.equal((await b.emitWithAck('mark-read', bad)).error.code, 'invalid_payload', JSON.stringify(bad));
  }
}, { skip });

test('typing reaches the receiver and stops by itself after 3 s', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const a = (await connectUser(srv, alice)).s, b = (await connectUser(srv, bob)).s;
  const conv = (await send(a, { receiverId: bob, content: 'x' })).conversationId;
  const start = waitFor(b, 'typing:start');
  assert.deepEqual(await a.emitWithAck('message:typing', { conversationId: conv, receiverId: bob }), { ok: true });
  assert.deepEqual(await start, { conversationId: conv, userId: alice });
  const t0 = Date.now();
  const stop = await waitFor(b, 'typing:stop', 6000);
  const waited = Date.now() - t0;
  assert.deepEqual(stop, { conversationId: conv, userId: alice });
  assert.ok(waited >= 2500 && waited < 4500, `typing:stop after ${waited} ms`);
  // An explicit stop is immediate.
  await a.emitWithAck('message:typing', { conversationId: conv, receiverId: bob });
  const stop2 = waitFor(b, 'typing:stop', 1000);
  await a.emitWithAck('message:stop_typing', { conversationId: conv, receiverId: bob });
  assert.deepEqual(await stop2, { conversationId: conv, userId: alice });
  const eve = (await connectUser(srv, uid('eve'))).s;
  assert.equal((await eve.emitWithAck('message:typing', { conversationId: conv, receiverId: bob })).error.code, 'forbidden');
  assert.equal((await a.emitWithAck('message:typing', { conversationId: conv })).error.code, 'invalid_payload');
}, { skip });

test('conversation rooms: members join, message:new arrives there; others are refused', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const a = (await connectUser(srv, alice)).s, b = (await connectUser(srv, bob)).s;
  const conv = (await send(a, { receiverId: bob, content: 'first' })).conversationId;
  assert.deepEqual(await b.emitWithAck('chat:join', `conversation:${conv}`), { ok: true, roomId: `conversation:${conv}` });
  const fresh = waitFor(b, 'message:new');
  const m = await send(a, { conversationId: conv, content: 'second' });
  assert.deepEqual(await fresh, m);
  const eve = (await connectUser(srv, uid('eve'))).s;
  assert.equal((await eve.emitWithAck('chat:join', `conversation:${conv}`)).error.code, 'forbidden_room');
  assert.equal((await eve.emitWithAck('message:send', { conversationId: conv, content: 'intrude' })).error.code, 'forbidden');
}, { skip });

test('message:send validation', async () => {
  const a = (await connectUser(srv, uid('v'))).s;
  const me = (await a.emitWithAck('chat:join', uid('r'))).roomId; // warm-up round trip
  assert.ok(me);
  const bad = [{}, { receiverId: 'x' }, { receiverId: 'x', content: '' }, { receiverId: 'x', content: 5 },
    { receiverId: 7, content: 'x' }, { conversationId: '', content: 'x' }, { receiverId: 'x', content: 'x', messageType: 3 },
    'string', null];
  for (const p of bad) assert.equal((await a.emitWithAck('message:send', p)).error.code, 'invalid_payload', JSON.stringify(p));
  assert.equal((await a.emitWithAck('message:send', { receiverId: 'y', content: 'z'.repeat(65537) })).error.code, 'payload_too_large');
}, { skip });

/** Sends `text` as the event array of a raw Socket.IO EVENT packet with ack id `id` (keys
 *  twice, escaped keys: what a socket.io client never writes); resolves with the ack's argument. */
function rawAck(sock, id, text) {
  const eng = sock.io.engine;
  return new Promise((resolve, reject) => {
    const on = (p) => {
      if (p.type !== 'message' || typeof p.data !== 'string' || !p.data.startsWith(`3${id}[`)) return;
      clearTimeout(t);
      eng.off('packet', on);
      resolve(JSON.parse(p.data.slice(`3${id}`.length))[0]);
    };
    const t = setTimeout(() => { eng.off('packet', on); reject(new Error(`no ack ${id} for ${text}`)); }, 5000);
    eng.on('packet', on);
    eng.write(`2${id}${text}`); // the engine adds its message type, 4
  });
}

test('message:send reads its argument as a JSON parser does, whatever the text', async () => {
  const alice = uid('ja'), bob = uid('jb');
  const a = (await connectUser(srv, alice)).s;
  // Escapes of every kind come back as the text the client sent.
  const text = 'q " b \\ n \n t \t \u00e9 \u2028 \u{1F600} \u0001 / end';
  let r = await a.emitWithAck('message:send', { receiverId: bob, content: text });
  assert.equal(r.content, text);
  const long = 'x\n'.repeat(3000); // more escaped text than the fast reading unescapes on its stack
  assert.equal((await a.emitWithAck('message:send', { receiverId: bob, content: long })).content, long);
  assert.equal((await a.emitWithAck('message:send', { receiverId: bob, content: '\n'.repeat(65537) })).error.code, 'payload_too_large');
  // A lone surrogate is not text: refused, paired it is one character.
  for (const bad of ['a\ud800b', '\udc00', 'x\ud800\u0041']) {
    r = await a.emitWithAck('message:send', { receiverId: bob, content: bad });
    assert.equal(r.error?.code, 'invalid_payload', JSON.stringify(bad));
  }
  const b = JSON.stringify(bob);
  const cases = [
    [`{"receiverId":${b},"content":"first","content":"second"}`, 'second'], // the last one counts
    [`{"receiverId":${b},"con\\u0074ent":"escaped key"}`, 'escaped key'],
    [`{"receiverId":${b},"content":"x","extra":{"a":[1,2,null]}}`, 'x'],
    [` { "receiverId" : ${b} , "content" : "spaced" } `, 'spaced'],
    [`{"receiverId":${b},"content":"x","n":123456789012345678901234567890}`, null], // too big an integer
    [`{"receiverId":${b},"content":"x","content":7}`, null],
    [`{"receiverId":${b},"content":"a\\u0000b"}`, null],
    [`{"receiverId":${b},"content":"\\udbff\\udfff"}`, '\u{10FFFF}'],
  ];
  let id = 9000;
  for (const [arg, want] of cases) {
    r = await rawAck(a, ++id, `["message:send",${arg}]`);
    if (want === null) assert.equal(r.error?.code, 'invalid_payload', arg);
    else assert.equal(r.content, want, arg);
  }
}, { skip });

test('group conversations through the HTTP API, history through the API', async () => {
  const [u1, u2, u3] = [uid('g1'), uid('g2'), uid('g3')];
  const id = uid('team');
  let r = await api(srv, 'POST', '/api/conversations', { id, memberIds: [u1, u2, u3], title: 'Team' });
  assert.equal(r.status, 201);
  assert.deepEqual(r.body, { ok: true, id, memberIds: [u1, u2, u3] });
  assert.equal((await api(srv, 'POST', '/api/conversations', { id, memberIds: [u1, u2] })).status, 409);
  r = await api(srv, 'POST', '/api/conversations', { memberIds: [u1, u2] });
  assert.equal(r.status, 201);
  assert.ok(r.body.id.length > 0, 'a generated id');
  for (const bad of [{ memberIds: [u1] }, { memberIds: 'x' }, { id: 5, memberIds: [u1, u2] }]) {
    assert.equal((await api(srv, 'POST', '/api/conversations', bad)).status, 422);
  }
  const s1 = (await connectUser(srv, u1)).s, s2 = (await connectUser(srv, u2)).s;
  const got = waitFor(s2, 'message:received');
  const m = await send(s1, { conversationId: id, content: 'hello team' });
  assert.deepEqual(await got, m);
  const s3 = client(srv.url, { transports: ['websocket'], autoConnect: false, // u3 was offline
    auth: { token: mintToken({ sub: u3 }, srv.secret) } });
  const backlog = waitFor(s3, 'message:received');
  s3.connect();
  assert.equal((await backlog).content, 'hello team');
  r = await api(srv, 'GET', `/api/conversations/${id}/messages?limit=10`);
  assert.equal(r.status, 200);
  assert.equal(r.body.conversationId, id);
  assert.deepEqual(r.body.messages.map((x) => x.content), ['hello team']);
  assert.equal((await api(srv, 'GET', '/api/conversations/nope/messages')).status, 404);
  assert.equal((await api(srv, 'GET', `/api/conversations/${id}/messages?limit=0`)).status, 422);
  assert.equal((await api(srv, 'GET', `/api/conversations/${id}/other`)).status, 404);
}, { skip });

test('an acknowledged message survives kill -9 of the server', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-durable-'));
  try {
    const one = await startServer('switchboard', { args: ['--data-dir', dir] });
    const alice = uid('alice'), bob = uid('bob');
    const a = (await connectUser(one, alice)).s;
    const ack = await send(a, { receiverId: bob, content: 'must survive' });
    one.proc.kill('SIGKILL'); // right after the ack
    await one.exited;
    const two = await startServer('switchboard', { args: ['--data-dir', dir] });
    try {
      const b = (await connectUser(two, bob)).s;
      const r = await b.emitWithAck('message:history', { conversationId: ack.conversationId });
      assert.deepEqual(r.messages.map((x) => x.id), [ack.id]);
      assert.equal(r.messages[0].content, 'must survive');
    } finally {
      await two.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, { skip });
