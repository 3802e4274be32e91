// U+0000 in free text (issue 9, item 5). C strings and the store end at a
// NUL, so every text field of the events refuses one with invalid_payload
// instead of storing a cut-down text (the HTTP API refuses any body holding
// one: its JSON parser does not allow it); JSON values
// (collab changes, fileInfo's extra fields) are kept whole. Checked with real
// clients and read back from the store, on both stores: PostgreSQL text
// cannot hold U+0000, SQLite's can, and both must answer the same (make test
// runs this file on SQLite, and on PostgreSQL with SB_E2E_PG_URL in the
// release and ASan builds).
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, NO_EVENT_LIMIT } from './lib/server.mjs';
import { test, isRef, ack, connectUser, waitFor, record, until } from './lib/util.mjs';

const skip = isRef ? 'C-only: the reference server has no storage' : false;
let srv;
before(async () => { if (!isRef) srv = await startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--api-key', 'k'] }); });
after(async () => { if (srv) await srv.stop(); });

let seq = 0;
const uid = (p) => `${p}-${process.pid}-${++seq}`;

async function api(method, p, body) {
  const res = await fetch(`${srv.url}${p}`, {
    method, headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

function assertRefused(r, what, code = 'invalid_payload') {
  assert.ok(r && r.error, `${what}: expected an error, got ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code, `${what}: ${JSON.stringify(r)}`);
}

test('message:send refuses U+0000 in content; nothing is stored or delivered', async () => {
  const alice = uid('alice'), bob = uid('bob');
  const a = (await connectUser(srv, alice)).s;
  const b = (await connectUser(srv, bob)).s;
  const bobGot = record(b, 'message:received');
  for (const content of ['before\u0000after', '\u0000hidden', 'end\u0000']) {
    const r = await ack(a, 'message:send', { receiverId: bob, content });
    assertRefused(r, JSON.stringify(content));
    assert.match(r.error.message, /U\+0000/);
  }
  // Without an ack the refusal is an error event naming the event.
  const err = waitFor(a, 'error');
  a.emit('message:send', { receiverId: bob, content: 'x\u0000y' });
  assert.deepEqual({ ...(await err), message: undefined },
    { code: 'invalid_payload', event: 'message:send', message: undefined });
  // The same conversation takes text without a NUL, whole (other control characters too).
  const text = 'line\u0001one\ttab \u{1F30D} end';
  const ok = await ack(a, 'message:send', { receiverId: bob, content: text });
  assert.equal(ok.content, text);
  const page = await ack(b, 'message:history', { conversationId: ok.conversationId });
  assert.deepEqual(page.messages.map((m) => m.content), [text], 'only the valid message was stored');
  assert.deepEqual(bobGot.map(([m]) => m.content), [text], 'only the valid message was delivered');
  // An existing group conversation refuses it too (not only a new direct one).
  const r = await ack(a, 'message:send', { conversationId: ok.conversationId, content: 'a\u0000b' });
  assertRefused(r, 'existing conversation');
}, { skip });

test('chat:message, post:comment, status:update and fileInfo refuse U+0000 with the same code', async () => {
  const room = uid('room'), owner = uid('owner'), post = uid('post');
  const a = (await connectUser(srv, uid('a'))).s;
  assert.equal((await ack(a, 'chat:join', room)).ok, true);
  const seen = record(a, 'chat:message');
  const r = await ack(a, 'chat:message', { roomId: room, message: 'hi\u0000there' });
  assertRefused(r, 'chat:message');
  assert.match(r.error.message, /message must be a non-empty string without U\+0000/);
  assert.equal((await api('POST', '/api/posts', { id: post, ownerId: owner })).status, 201);
  assertRefused(await ack(a, 'post:comment', { postId: post, content: 'nice\u0000post' }), 'post:comment');
  assertRefused(await ack(a, 'status:update', { status: 'busy\u0000x' }), 'status:update');
  assertRefused(await ack(a, 'file:share', { roomId: room, fileInfo: { name: 'a\u0000.pdf', size: 1 } }), 'fileInfo.name');
  assertRefused(await ack(a, 'file:share', { roomId: room, fileInfo: { name: 'a.pdf', size: 1, url: 'x\u0000' } }), 'fileInfo.url');
  // The length rule still answers payload_too_large, before the NUL rule.
  assertRefused(await ack(a, 'chat:message', { roomId: room, message: 'x'.repeat(70000) + '\u0000' }),
    'oversized', 'payload_too_large');
  // Valid text still goes through, and a comment reads back whole.
  const c = await ack(a, 'post:comment', { postId: post, content: 'fine \u0001 text' });
  assert.equal(c.content, 'fine \u0001 text');
  const m = await ack(a, 'chat:message', { roomId: room, message: 'ok' });
  assert.equal(m.message, 'ok');
  assert.deepEqual(seen.map(([x]) => x.message), ['ok'], 'no refused message reached the room');
}, { skip });

test('JSON values keep U+0000 whole: collab changes and fileInfo extra fields', async () => {
  const doc = uid('doc'), room = uid('room');
  const a = (await connectUser(srv, uid('a'))).s;
  const b = (await connectUser(srv, uid('b'))).s;
  await ack(a, 'collab:join_document', doc);
  await ack(b, 'collab:join_document', doc);
  const changes = { ops: [{ insert: 'a\u0000b', at: 0 }] };
  const got = waitFor(b, 'collab:changes');
  assert.deepEqual(await ack(a, 'collab:edit', { documentId: doc, changes }), { ok: true, version: 1 });
  assert.deepEqual((await got).changes, changes);
  await ack(a, 'chat:join', room);
  const fileInfo = { name: 'f.txt', size: 3, note: 'x\u0000y', list: ['\u0000'] };
  const shared = await ack(a, 'file:share', { roomId: room, fileInfo });
  assert.deepEqual(shared.message, fileInfo);
  // Stored as JSON text (the escape, not the character): read back whole.
  const page = await ack(a, 'chat:history', { roomId: room });
  assert.deepEqual(page.messages.map((m) => m.message), [fileInfo]);
}, { skip });

test('HTTP: a body holding U+0000 anywhere is refused before any field is read', async () => {
  const u1 = uid('u1'), u2 = uid('u2');
  const b = (await connectUser(srv, u2)).s;
  const got = record(b, 'ping');
  const notes = record(b, 'notification:new');
  const bad = [
    ['/api/conversations', { memberIds: [u1, u2], title: 'team\u0000x' }],
    ['/api/conversations', { memberIds: [u1, `${u2}\u0000x`] }],
    ['/api/notifications', { userId: u2, type: 't', title: 'a\u0000b', message: '' }],
    ['/api/notifications', { userId: u2, type: 't', title: '', message: 'a\u0000b' }],
    ['/api/emit', { to: { user: `${u2}\u0000evil` }, event: 'ping' }],
    ['/api/emit', { to: { user: u2 }, event: 'ping\u0000x' }],
  ];
  for (const [p, body] of bad) {
    const r = await api('POST', p, body);
    assert.equal(r.status, 400, `${p} ${JSON.stringify(body)}: ${JSON.stringify(r)}`);
    assert.equal(r.body.error.code, 'malformed_json');
    assert.match(r.body.error.message, /\\u0000 is not allowed/);
  }
  // Control: the same requests without the NUL are accepted.
  assert.equal((await api('POST', '/api/notifications', { userId: u2, type: 't', title: 'a', message: 'b' })).status, 201);
  const emitted = await api('POST', '/api/emit', { to: { user: u2 }, event: 'ping', data: 1 });
  assert.equal(emitted.body.recipients, 1);
  await until(() => got.length === 1 && notes.length === 1, 5000, 'the valid emit and notification');
  assert.deepEqual(notes.map(([n]) => n.title), ['a'], 'no refused notification was stored');
  const list = await ack(b, 'notification:list');
  assert.deepEqual(list.notifications.map((n) => n.title), ['a']);
}, { skip });
