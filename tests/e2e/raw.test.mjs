// Section B: raw Engine.IO / WebSocket / HTTP edge cases against sio_echo.
// Expected values are what the Node reference (engine.io 6 + ws 8) answers.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { test, ack, isRef, connect } from './lib/util.mjs';
import { rawHttp, RawWs, OP, encodeFrame } from './lib/raw.mjs';

let srv;
before(async () => { srv = await startServer('sio_echo'); });
after(async () => { if (srv) await srv.stop(); });

const EIO = '/socket.io/?EIO=4';

async function getJson(path, init = {}) {
  const res = await fetch(`${srv.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), text };
}

async function handshake() {
  const res = await fetch(`${srv.url}${EIO}&transport=polling`);
  const body = await res.text();
  assert.equal(res.status, 200);
  assert.ok(body.startsWith('0{"sid":'), `handshake body: ${body}`);
  return { res, body, open: JSON.parse(body.slice(1)) };
}

async function assertEioError(path, init, code, message) {
  const r = await getJson(path, init);
  assert.equal(r.status, 400, `${path}: status`);
  assert.match(r.type || '', /^application\/json/, `${path}: content-type`);
  assert.deepEqual(JSON.parse(r.text), { code, message }, `${path}: body`);
}

test('Engine.IO HTTP errors: exact status and JSON body', async () => {
  await assertEioError(`${EIO}&transport=foo`, {}, 0, 'Transport unknown');
  await assertEioError('/socket.io/?transport=foo', {}, 0, 'Transport unknown');
  await assertEioError(`${EIO}&transport=polling&sid=doesnotexist`, {}, 1, 'Session ID unknown');
  await assertEioError(`${EIO}&transport=polling&sid=doesnotexist`, { method: 'POST', body: '40' }, 1, 'Session ID unknown');
  await assertEioError(`${EIO}&transport=polling`, { method: 'POST', body: '40' }, 2, 'Bad handshake method');
  await assertEioError(`${EIO}&transport=polling`, { method: 'PUT', body: '40' }, 2, 'Bad handshake method');
  await assertEioError('/socket.io/?EIO=3&transport=polling', {}, 5, 'Unsupported protocol version');
  await assertEioError('/socket.io/?EIO=5&transport=polling', {}, 5, 'Unsupported protocol version');
  await assertEioError('/socket.io/?transport=polling', {}, 5, 'Unsupported protocol version');
  // transport=websocket without an Upgrade header
  await assertEioError(`${EIO}&transport=websocket`, {}, 3, 'Bad request');
});

test('polling handshake: open packet fields and headers', async () => {
  const { res, open } = await handshake();
  assert.match(res.headers.get('content-type'), /^text\/plain/);
  assert.equal(typeof open.sid, 'string');
  assert.ok(open.sid.length > 0);
  assert.deepEqual(open.upgrades, ['websocket']);
  assert.equal(open.pingInterval, 25000);
  assert.equal(open.pingTimeout, 20000);
  assert.equal(open.maxPayload, 1000000);
});

test('websocket handshake: open packet has no upgrades', async () => {
  const { ws, status } = await RawWs.open(srv.port, `${EIO}&transport=websocket`);
  assert.equal(status, 101);
  const text = await ws.nextText();
  assert.ok(text.startsWith('0{"sid":'), text);
  const open = JSON.parse(text.slice(1));
  assert.deepEqual(open.upgrades, []);
  assert.equal(open.maxPayload, 1000000);
  ws.destroy();
});

test('polling POST with two packets separated by \\x1e is accepted', async () => {
  const { open } = await handshake();
  const url = `${srv.url}${EIO}&transport=polling&sid=${open.sid}`;
  const post = await fetch(url, { method: 'POST', body: '40\x1e40/admin,' });
  assert.equal(post.status, 200);
  assert.equal(await post.text(), 'ok');
  const got = await fetch(url);
  assert.equal(got.status, 200);
  const packets = (await got.text()).split('\x1e').sort();
  assert.equal(packets.length, 2, JSON.stringify(packets));
  assert.match(packets[0], /^40\/admin,\{"sid":"[^"]+"\}$/);
  assert.match(packets[1], /^40\{"sid":"[^"]+"(,"pid":"[^"]+")?\}$/);
});

test('polling after the session upgraded to websocket -> 400 Bad request', async () => {
  const { open } = await handshake();
  const { ws } = await RawWs.open(srv.port, `${EIO}&transport=websocket&sid=${open.sid}`);
  ws.sendText('2probe');
  assert.equal(await ws.nextText(), '3probe');
  ws.sendText('5');
  // Any frame round trip proves the upgrade packet was processed.
  ws.sendText('40');
  assert.match(await ws.nextText(), /^40\{"sid":/);
  await assertEioError(`${EIO}&transport=polling&sid=${open.sid}`, {}, 3, 'Bad request');
  ws.destroy();
});

test('upgrade: a polling GET parked before the probe, or sent after it, is answered with a noop', async () => {
  // The client pauses polling once it has the probe answer; it can only send
  // the upgrade packet after its in-flight GET returned.
  const { open } = await handshake();
  const url = `${srv.url}${EIO}&transport=polling&sid=${open.sid}`;
  assert.equal(await (await fetch(url, { method: 'POST', body: '40' })).text(), 'ok');
  assert.match(await (await fetch(url)).text(), /^40\{"sid":/);
  const parked = fetch(url).then(async (r) => ({ status: r.status, text: await r.text() }));
  const { ws } = await RawWs.open(srv.port, `${EIO}&transport=websocket&sid=${open.sid}`);
  ws.sendText('2probe');
  assert.equal(await ws.nextText(), '3probe');
  assert.deepEqual(await parked, { status: 200, text: '6' });
  // A GET that arrives after the probe exchange must not park either.
  const t0 = Date.now();
  const late = await fetch(url, { signal: AbortSignal.timeout(3000) });
  assert.equal(late.status, 200);
  assert.equal(await late.text(), '6');
  assert.ok(Date.now() - t0 < 1000, `late GET answered after ${Date.now() - t0} ms`);
  ws.sendText('5');
  ws.sendText('421["echo","upgraded"]');
  assert.equal(await ws.nextText(), '431["upgraded"]');
  ws.destroy();
});

test('websocket upgrade with an unknown sid -> HTTP 400', async () => {
  const r = await RawWs.open(srv.port, `${EIO}&transport=websocket&sid=doesnotexist`);
  assert.equal(r.status, 400);
  assert.equal(r.ws, null);
});

test('two concurrent GETs on one sid: 400 for the second, close packet for the first, session gone', async () => {
  const { open } = await handshake();
  const url = `${srv.url}${EIO}&transport=polling&sid=${open.sid}`;
  const c = await fetch(url, { method: 'POST', body: '40' });
  assert.equal(await c.text(), 'ok');
  const connected = await (await fetch(url)).text();
  assert.match(connected, /^40\{"sid":/);
  // Now no packet is pending: the first GET parks until the server has
  // something. Whichever GET the server sees second gets the 400; the parked
  // one is answered with a close packet. Assert order-independently.
  const get = () => fetch(url).then(async (r) => ({ status: r.status, text: await r.text() }));
  const first = get();
  await fetch(`${srv.url}${EIO}&transport=polling`).then((r) => r.text()); // head start
  const results = await Promise.all([first, get()]);
  results.sort((a, b) => a.status - b.status);
  assert.deepEqual(results.map((r) => r.status), [200, 400], JSON.stringify(results));
  const packets = results[0].text.split('\x1e');
  assert.equal(packets[packets.length - 1], '1', `parked GET body ${JSON.stringify(results[0].text)} must end with a close packet`);
  await assertEioError(`${EIO}&transport=polling&sid=${open.sid}`, {}, 1, 'Session ID unknown');
});

async function wsOpen() {
  const { ws, status } = await RawWs.open(srv.port, `${EIO}&transport=websocket`);
  assert.equal(status, 101);
  assert.ok((await ws.nextText()).startsWith('0{'));
  return ws;
}

test('websocket: unmasked client frame -> close 1002', async () => {
  const ws = await wsOpen();
  ws.send({ opcode: OP.TEXT, payload: Buffer.from('40'), mask: false });
  assert.equal((await ws.waitClose()).code, 1002);
  await ws.waitEnd();
});

test('websocket: invalid UTF-8 in a text frame -> close 1007', async () => {
  const ws = await wsOpen();
  ws.send({ opcode: OP.TEXT, payload: Buffer.from([0x34, 0xff, 0xfe]) });
  assert.equal((await ws.waitClose()).code, 1007);
  await ws.waitEnd();
});

test('websocket: reserved opcode -> close 1002', async () => {
  const ws = await wsOpen();
  ws.send({ opcode: 3, payload: Buffer.from('x') });
  assert.equal((await ws.waitClose()).code, 1002);
  await ws.waitEnd();
});

test('websocket: text message over maxHttpBufferSize (1e6) -> close 1009', async () => {
  const ws = await wsOpen();
  // The header alone announces the size and is refused.
  const frame = encodeFrame({ opcode: OP.TEXT, payload: Buffer.alloc(1e6 + 1, 0x61) });
  ws.sock.write(frame.subarray(0, 64));
  assert.equal((await ws.waitClose()).code, 1009);
  await ws.waitEnd();
});

test('websocket: a peer still writing its oversized message reads the 1009 close (lingering close, no reset)', async () => {
  for (let round = 0; round < 5; round++) {
    const ws = await wsOpen();
    ws.send({ opcode: OP.TEXT, payload: Buffer.alloc(4e6, 0x61) });
    assert.equal((await ws.waitClose()).code, 1009);
    await ws.waitEnd();
  }
});

test('websocket: fragmented text with an interleaved ping is reassembled', async () => {
  const ws = await wsOpen();
  ws.sendText('40');
  assert.match(await ws.nextText(), /^40\{"sid":/);
  ws.send({ opcode: OP.TEXT, payload: Buffer.from('42["ec'), fin: false });
  ws.send({ opcode: OP.PING, payload: Buffer.from('pp') });
  ws.send({ opcode: OP.CONT, payload: Buffer.from('ho","fr\u00e9'), fin: false });
  ws.send({ opcode: OP.CONT, payload: Buffer.from('g"]'), fin: true });
  const pong = await ws.next();
  assert.equal(pong.opcode, OP.PONG);
  assert.equal(pong.payload.toString(), 'pp');
  assert.equal(pong.masked, false, 'server frames are never masked');
  assert.equal(await ws.nextText(), '42["echo","fr\u00e9g"]');
  ws.send({ opcode: OP.CLOSE, payload: Buffer.from([0x03, 0xe8]) });
  assert.equal((await ws.waitClose()).code, 1000);
  await ws.waitEnd();
});

test('websocket: raw ack and binary attachment round trip', async () => {
  const ws = await wsOpen();
  ws.sendText('40');
  assert.match(await ws.nextText(), /^40\{"sid":/);
  ws.sendText('421["echo","a",{"b":[1]}]');
  assert.equal(await ws.nextText(), '431["a",{"b":[1]}]');
  ws.sendText('451-["echo",{"_placeholder":true,"num":0}]');
  ws.send({ opcode: OP.BIN, payload: Buffer.from([1, 2, 3, 0, 255]) });
  assert.equal(await ws.nextText(), '451-["echo",{"_placeholder":true,"num":0}]');
  const bin = await ws.next();
  assert.equal(bin.opcode, OP.BIN);
  assert.deepEqual(bin.payload, Buffer.from([1, 2, 3, 0, 255]));
  ws.destroy();
});

test('websocket: bad Sec-WebSocket-Version -> HTTP 400 (Node/ws) or 426 (RFC 6455 4.4)', async () => {
  const r = await RawWs.open(srv.port, `${EIO}&transport=websocket`, { version: '99' });
  assert.ok([400, 426].includes(r.status), `status ${r.status}`);
  assert.equal(r.ws, null);
  if (!isRef) {
    assert.match(r.headers['sec-websocket-version'] || '', /\b13\b/, 'C server must advertise Sec-WebSocket-Version: 13');
  }
});

test('HTTP garbage -> 400, and the server keeps serving', async () => {
  const r = await rawHttp(srv.port, 'GARBAGE\r\n\r\n');
  assert.equal(r.status, 400);
  const r2 = await rawHttp(srv.port, Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x0d, 0x0a]));
  assert.equal(r2.status, 400);
  await handshake();
  const s = await connect(srv.url, { transports: ['websocket'] });
  assert.equal(await ack(s, 'echo', 'still here'), 'still here');
});
