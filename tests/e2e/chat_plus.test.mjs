// examples/chat_plus.c: the built-in contract installed by one library call
// plus a custom event beside it, driven by real socket.io-client sockets:
// a built-in event (chat:join / chat:message) and the custom "buddy:nudge",
// which reads the built-in presence and emits to a user's devices.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, NO_EVENT_LIMIT } from './lib/server.mjs';
import {
  test, ack, connectUser, connectError, waitFor, disconnect, until, isRef,
} from './lib/util.mjs';

const skip = isRef; // a C example: no reference server
let srv;
before(async () => { if (!skip) srv = await startServer('chat_plus', { args: NO_EVENT_LIMIT }); });
after(async () => { if (srv) await srv.stop(); });

let seq = 0;
const uid = (p) => `${p}-${process.pid}-${++seq}`;

test('built-in events work on the embedded server', async () => {
  const a = uid('a');
  const room = uid('room');
  const { s, est } = await connectUser(srv, a);
  assert.equal(est.userId, a);
  assert.deepEqual(await ack(s, 'chat:join', room), { ok: true, roomId: room });
  const heard = waitFor(s, 'chat:message', 5000, (m) => m.roomId === room);
  const sent = await ack(s, 'chat:message', { roomId: room, message: 'hello' });
  assert.equal(sent.message, 'hello');
  assert.equal((await heard).id, sent.id);
  await disconnect(s);
}, { skip });

test('the custom event reads presence and reaches every device of the user', async () => {
  const a = uid('nudger');
  const b = uid('buddy');
  const { s: sa } = await connectUser(srv, a);
  assert.deepEqual(await ack(sa, 'buddy:nudge', b), { online: false, devices: 0 });

  const { s: b1 } = await connectUser(srv, b);
  const { s: b2 } = await connectUser(srv, b, { transports: ['polling'] });
  const got1 = waitFor(b1, 'buddy:nudged');
  const got2 = waitFor(b2, 'buddy:nudged');
  assert.deepEqual(await ack(sa, 'buddy:nudge', b), { online: true, devices: 2 });
  assert.deepEqual(await got1, { from: a });
  assert.deepEqual(await got2, { from: a });

  await disconnect(b1);
  await until(async () => (await ack(sa, 'buddy:nudge', b)).devices === 1, 5000, 'one device left');
  await disconnect(b2);
  await disconnect(sa);
}, { skip });

test('the custom event validates like the built-ins', async () => {
  const { s } = await connectUser(srv, uid('v'));
  const bad = await ack(s, 'buddy:nudge', { not: 'a string' });
  assert.equal(bad.error.code, 'invalid_payload');
  const spaced = await ack(s, 'buddy:nudge', 'has space');
  assert.equal(spaced.error.code, 'invalid_payload');
  // Unknown events still get the built-in answer: the custom handler sits beside them.
  const unknown = await ack(s, 'buddy:unknown', 1);
  assert.equal(unknown.error.code, 'unknown_event');
  await disconnect(s);
}, { skip });

test('the built-in JWT middleware guards the custom event too', async () => {
  const err = await connectError(srv.url, { transports: ['websocket'], auth: { token: 'not-a-jwt' } });
  assert.ok(err.message, 'a bad token is refused with a message');
}, { skip });
