// A client that never reads, in a flooded room: its output queue passes
// --max-outq-bytes, it is cut off and counted, the server's memory stays
// bounded, and everyone else in the room gets every message, in order.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, NO_EVENT_LIMIT } from './lib/server.mjs';
import { RawWs, OP } from './lib/raw.mjs';
import { test, isRef, connect, until, connectUser, mintToken } from './lib/util.mjs';

const skip = isRef ? 'C-only: the reference has no output limit' : false;
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

let srv;
before(async () => { if (!isRef) srv = await startServer('sio_echo', { args: [...NO_EVENT_LIMIT, '--max-outq-bytes', '1048576'] }); });
after(async () => { if (srv) await srv.stop(); });

test('a slow consumer is cut off; the others get every message; memory stays bounded', async () => {
  // The slow one: a raw Engine.IO websocket that joins the room, then stops reading.
  const { ws } = await RawWs.open(srv.port, '/socket.io/?EIO=4&transport=websocket');
  assert.match(await ws.nextText(), /^0\{/);
  ws.send({ opcode: OP.TEXT, payload: Buffer.from('40') });
  assert.match(await ws.nextText(), /^40\{"sid"/);
  ws.send({ opcode: OP.TEXT, payload: Buffer.from('421["join","flood"]') });
  assert.equal(await ws.nextText(), '431[true]');
  ws.sock.pause(); // never reads again: the kernel buffers fill, then our queue

  const good = await connect(srv.url, { transports: ['websocket'] });
  const pub = await connect(srv.url, { transports: ['websocket'] });
  assert.equal(await good.emitWithAck('join', 'flood'), true);
  const N = 20000, payload = 'x'.repeat(2000);
  let got = 0, inOrder = true;
  good.on('relay', (seq) => { if (seq !== got) inOrder = false; got++; });
  const base = rssKb(srv.proc.pid);
  let peak = base;
  let resumed = false;
  for (let i = 0; i < N; i++) {
    pub.emit('relay', 'flood', i, payload);
    if (i % 200 === 199) { // keep the good client's backlog under the limit; sample memory
      await pub.emitWithAck('echo', 'sync');
      peak = Math.max(peak, rssKb(srv.proc.pid));
      // Once it is cut, the slow client reads again (well within the 2 s
      // the server waits for it to take the close frame).
      if (!resumed && /closing slow consumer/.test(srv.stderr())) {
        ws.sock.resume();
        resumed = true;
      }
    }
  }
  await until(() => got === N, 30000, `all ${N} relays at the good client (got ${got})`);
  assert.ok(inOrder, 'in order, no loss, no duplicates');
  // 40 MB went to the room; the slow client's share must not pile up in the
  // server. (Under AddressSanitizer freed memory sits in quarantine: skip.)
  if (!/asan/.test(process.env.SB_BUILD_DIR || '')) {
    assert.ok(peak - base < 32 * 1024, `server RSS grew ${peak - base} KB`);
  }
  // The slow client was cut: reading again drains what the kernel held, the
  // message that was being written, then a close frame 1008, then EOF.
  assert.ok(resumed, 'the slow client was cut during the flood');
  const close = await ws.waitClose(10000);
  assert.deepEqual({ code: close.code, reason: close.reason }, { code: 1008, reason: 'slow consumer' });
  await ws.waitEnd(10000);
  assert.ok(ws.closed, 'the slow consumer was disconnected');
  assert.equal((srv.stderr().match(/closing slow consumer/g) || []).length, 1, 'exactly one connection was cut');
}, { skip, timeout: 60000 });

test('one message larger than --max-outq-bytes to a reader that keeps up is delivered, not cut', async () => {
  const big = await startServer('sio_echo', { args: ['--max-outq-bytes', '1048576', '--max-http-buffer-size', '20000000'] });
  try {
    const other = await connect(big.url, { transports: ['websocket'] });
    const { ws } = await RawWs.open(big.port, '/socket.io/?EIO=4&transport=websocket');
    assert.match(await ws.nextText(), /^0\{/);
    ws.sendText('40');
    assert.match(await ws.nextText(), /^40\{"sid"/);
    // 16 MiB in one message, 16 times the output limit, to an empty queue.
    const body = 'y'.repeat(16 * 1024 * 1024);
    ws.sendText(`42["echo","${body}"]`);
    let echoed;
    for (;;) {
      echoed = await ws.nextText(30000);
      if (echoed !== '2') break;
      ws.sendText('3');
    }
    assert.equal(echoed.length, body.length + 13);
    assert.equal(echoed, `42["echo","${body}"]`);
    ws.sendText('421["echo","after"]');
    assert.equal(await ws.nextText(), '431["after"]');
    assert.equal(await other.emitWithAck('echo', 'unaffected'), 'unaffected');
    assert.doesNotMatch(big.stderr(), /closing slow consumer/);
    ws.destroy();
  } finally {
    await big.stop();
  }
}, { skip, timeout: 60000 });

test('volatile events to a reader that is not keeping up are dropped, not the reader', async () => {
  const main = await startServer('switchboard', { args: [...NO_EVENT_LIMIT, '--api-key', 'k', '--max-outq-bytes', '1048576'] });
  try {
    const doc = `doc-${Date.now()}`;
    // The slow reader: a raw Engine.IO websocket in the document, then silent.
    const { ws } = await RawWs.open(main.port, '/socket.io/?EIO=4&transport=websocket');
    assert.match(await ws.nextText(), /^0\{/);
    ws.send({ opcode: OP.TEXT, payload: Buffer.from(`40{"token":"${mintToken({ sub: 'slow' }, main.secret)}"}`) });
    const joined = '421["collab:join_document"' + `,${JSON.stringify(doc)}]`;
    for (let t = await ws.nextText(); !t.startsWith('42["connection:established"'); t = await ws.nextText());
    ws.send({ opcode: OP.TEXT, payload: Buffer.from(joined) });
    for (let t = await ws.nextText(); !t.startsWith('431'); t = await ws.nextText());
    ws.sock.pause();
    const mover = (await connectUser(main, 'mover')).s;
    await mover.emitWithAck('collab:join_document', doc);
    let dropped = 0;
    for (let round = 0; round < 40 && dropped === 0; round++) {
      for (let i = 0; i < 5000; i++) mover.emit('collab:cursor_move', { documentId: doc, x: i, y: round });
      await mover.emitWithAck('collab:cursor_move', { documentId: doc, x: 0, y: 0 });
      dropped = await metric(main, 'switchboard_errors_total{kind="volatile_dropped"}');
    }
    assert.ok(dropped > 0, 'cursor updates to the silent reader were dropped');
    assert.equal((main.stderr().match(/closing slow consumer/g) || []).length, 0, 'nobody was cut off');
    ws.sock.resume();
    assert.ok(!ws.closed, 'the slow reader is still connected');
  } finally {
    await main.stop();
  }
}, { skip, timeout: 60000 });

async function metric(s, name) {
  const text = await (await fetch(`${s.url}/metrics`, { headers: { authorization: 'Bearer k' } })).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

test('past --max-total-outq-bytes the slow consumer is cut first; the reader keeping up is not', async () => {
  // Its own queue may hold 16 MiB, all queues together 1 MiB: the process
  // bound is what cuts it.
  const echo = await startServer('sio_echo', {
    args: [...NO_EVENT_LIMIT, '--max-outq-bytes', '16777216', '--max-total-outq-bytes', '1048576'] });
  try {
    const { ws } = await RawWs.open(echo.port, '/socket.io/?EIO=4&transport=websocket');
    assert.match(await ws.nextText(), /^0\{/);
    ws.send({ opcode: OP.TEXT, payload: Buffer.from('40') });
    assert.match(await ws.nextText(), /^40\{"sid"/);
    ws.send({ opcode: OP.TEXT, payload: Buffer.from('421["join","flood2"]') });
    assert.equal(await ws.nextText(), '431[true]');
    ws.sock.pause();
    const good = await connect(echo.url, { transports: ['websocket'] });
    const pub = await connect(echo.url, { transports: ['websocket'] });
    assert.equal(await good.emitWithAck('join', 'flood2'), true);
    const total = 6000, payload = 'x'.repeat(2000);
    let got = 0;
    good.on('relay', () => { got++; });
    for (let i = 0; i < total; i++) {
      pub.emit('relay', 'flood2', i, payload);
      if (i % 100 === 99) await pub.emitWithAck('echo', 'sync');
    }
    await until(() => got === total, 30000, `all ${total} relays at the good client (got ${got})`);
    ws.sock.resume();
    await ws.waitEnd(10000);
    assert.ok(ws.closed, 'the slow consumer was disconnected');
    assert.equal((echo.stderr().match(/closing slow consumer/g) || []).length, 1, 'exactly one connection was cut');
  } finally {
    await echo.stop();
  }
}, { skip, timeout: 60000 });
