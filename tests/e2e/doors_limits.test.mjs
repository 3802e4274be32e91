// The doors other than Socket.IO (/ws with the npm `ws` client, /events with
// the npm `eventsource` client and raw sockets) under the limits Socket.IO
// users have: the per-address rate of new sessions (one bucket for every
// door), connections per address, and their counters on /metrics and in
// the dashboard's snapshot.
import assert from 'node:assert/strict';
import net from 'node:net';
import { EventSource } from 'eventsource';
import { startServer } from './lib/server.mjs';
import { test, mintToken, until } from './lib/util.mjs';
import { WsClient, wsUrl, wsUser } from './lib/doors.mjs';

const KEY = 'doors-limits-key';
let seq = 0;
const uid = (p) => `${p}-${process.pid}-${++seq}`;
const tokenOf = (srv, sub) => mintToken({ sub, name: `Name of ${sub}` }, srv.secret);

const upgrade = (path = '/ws') => `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
  + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
const events = (srv, sub) => `GET /events?channels=lobby&token=${tokenOf(srv, sub)} HTTP/1.1\r\nHost: x\r\n\r\n`;
const polling = 'GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

async function metrics(srv) {
  const res = await fetch(`${srv.url}/metrics`, { headers: { Authorization: `Bearer ${KEY}` } });
  return res.text();
}
function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/** The first snapshot of the dashboard's stream. */
async function snapshot(srv) {
  const ac = new AbortController();
  const res = await fetch(`${srv.url}/api/admin/stream`, { headers: { Authorization: `Bearer ${KEY}` }, signal: ac.signal });
  const reader = res.body.getReader();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended: ${text}`);
      text += Buffer.from(value).toString();
      const m = /event: metrics\ndata: (.*)\n\n/.exec(text);
      if (m) return JSON.parse(m[1]);
    }
  } finally {
    ac.abort();
  }
}

/** Sends a raw request; resolves with {status, body} as soon as the answer's
 *  head is in (a stream or a 101 is not waited for: the socket is closed),
 *  or once a body of Content-Length has arrived. */
function ask(port, request) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no answer: ${JSON.stringify(buf)}`)); }, 5000);
    const done = (r) => { clearTimeout(timer); sock.destroy(); resolve(r); };
    sock.on('data', (d) => {
      buf += d.toString();
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = Number(buf.slice(9, 12));
      const len = /\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, end));
      if (status === 101 || /text\/event-stream/.test(buf.slice(0, end))) done({ status, body: '' });
      else if (len && buf.length - end - 4 >= Number(len[1])) done({ status, body: buf.slice(end + 4), raw: buf });
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => { clearTimeout(timer); resolve({ status: Number(buf.slice(9, 12)), body: '', raw: buf }); });
    sock.write(request);
  });
}

test('--handshakes-per-second-per-ip: /ws, /events and Socket.IO spend one bucket per address; 429 rate_limited at every door', async () => {
  const srv = await startServer('switchboard', { args: ['--handshakes-per-second-per-ip', '1', '--api-key', KEY] });
  try {
    // The burst is two seconds worth (2 new sessions); one more each second.
    const kinds = [
      ['ws', () => ask(srv.port, upgrade())],
      ['events', () => ask(srv.port, events(srv, uid('e')))],
      ['socket.io', () => ask(srv.port, polling)],
    ];
    const refused = new Map();
    let admitted = 0;
    const started = Date.now();
    for (let i = 0; i < 60 && refused.size < kinds.length; i++) {
      const [kind, attempt] = kinds[i % kinds.length];
      const r = await attempt();
      if (r.status === 429) {
        assert.equal(JSON.parse(r.body).error.code, 'rate_limited', `${kind}: ${r.body}`);
        refused.set(kind, (refused.get(kind) || 0) + 1);
      } else {
        assert.ok([101, 200].includes(r.status), `${kind} answered ${r.status}`);
        admitted++;
      }
    }
    const seconds = Math.ceil((Date.now() - started) / 1000);
    assert.deepEqual([...refused.keys()].sort(), ['events', 'socket.io', 'ws'], 'every door is refused once the bucket is empty');
    assert.ok(admitted <= 2 + seconds, `${admitted} sessions admitted in ${seconds} s with a burst of 2 and 1/s`);
    const total = [...refused.values()].reduce((a, b) => a + b, 0);
    assert.ok(metric(await metrics(srv), 'switchboard_errors_total{kind="handshake_rate_limited"}') >= total);
  } finally {
    await srv.stop();
  }
});

test('--max-connections-per-ip: /ws and /events connections count; the next one gets 503 too_many_connections', async () => {
  const srv = await startServer('switchboard', { args: ['--max-connections-per-ip', '3', '--api-key', KEY] });
  try {
    const a = await wsUser(srv, tokenOf(srv, uid('a')));
    const b = await wsUser(srv, tokenOf(srv, uid('b')));
    const es = new EventSource(`${srv.url}/events?channels=lobby&token=${tokenOf(srv, uid('c'))}`);
    await new Promise((resolve, reject) => { es.addEventListener('connected', resolve); es.onerror = reject; });
    try {
      for (const request of [upgrade(), events(srv, uid('d'))]) {
        const r = await ask(srv.port, request);
        assert.equal(r.status, 503, r.raw);
        assert.equal(JSON.parse(r.body).error.code, 'too_many_connections');
      }
      const refused = new WsClient(wsUrl(srv), { headers: { Authorization: `Bearer ${tokenOf(srv, uid('e'))}` } });
      await assert.rejects(refused.opened, /HTTP 503/);
      a.close();
      // Once a connection is gone a new one is served again.
      await until(async () => (await ask(srv.port, upgrade()).catch(() => ({}))).status === 101,
        5000, 'a /ws upgrade served again');
    } finally {
      es.close();
      b.close();
    }
  } finally {
    await srv.stop();
  }
});

test('/metrics counts the doors (open by door, messages in and out) and the snapshot lists them by transport', async () => {
  const srv = await startServer('switchboard', { args: ['--api-key', KEY] });
  try {
    const room = uid('room');
    const before = await metrics(srv);
    assert.equal(metric(before, 'switchboard_door_connections{door="ws"}'), 0);
    assert.equal(metric(before, 'switchboard_door_connections{door="events"}'), 0);
    const w = await wsUser(srv, tokenOf(srv, uid('w')));
    const x = await wsUser(srv, tokenOf(srv, uid('x')));
    for (const c of [w, x]) {
      c.received = c.messages.length + 1; // connected, taken by wsUser
      c.ws.on('message', () => { c.received++; });
    }
    const es = new EventSource(`${srv.url}/events?channels=${room}&token=${tokenOf(srv, uid('s'))}`);
    const got = [];
    es.addEventListener('chat:message', (e) => got.push(JSON.parse(e.data)));
    await new Promise((resolve, reject) => { es.addEventListener('connected', resolve); es.onerror = reject; });
    try {
      w.send('join_room', { roomId: room });
      await w.next('room_joined');
      w.send('send_message', { roomId: room, content: 'counted' });
      await w.next('new_message');
      await until(() => got.length === 1, 5000, 'the message on /events');
      const m = await metrics(srv);
      assert.equal(metric(m, 'switchboard_door_connections{door="ws"}'), 2);
      assert.equal(metric(m, 'switchboard_door_connections{door="events"}'), 1);
      assert.equal(metric(m, 'switchboard_door_connections_opened_total{door="ws"}'), 2);
      assert.equal(metric(m, 'switchboard_door_connections_opened_total{door="events"}'), 1);
      assert.equal(metric(m, 'switchboard_door_messages_in_total{door="ws"}'), 2, 'join_room and send_message');
      // Whatever the clients received (connected, room_joined, new_message, presence ...).
      let received = 0;
      await until(async () => {
        received = w.received + x.received;
        return metric(await metrics(srv), 'switchboard_door_messages_out_total{door="ws"}') === received;
      }, 5000, 'messages out = messages the /ws clients received');
      assert.ok(received >= 4, `${received}: connected x2, room_joined, new_message at least`);
      assert.equal(metric(m, 'switchboard_door_messages_out_total{door="events"}'), 3,
        'connected, chat:user_joined (w) and chat:message');
      assert.equal(metric(m, 'switchboard_door_messages_in_total{door="events"}'), 0);
      w.raw('not json');
      await w.next('error');
      assert.equal(metric(await metrics(srv), 'switchboard_door_errors_total{door="ws"}'), 1);
      const snap = await snapshot(srv);
      assert.equal(snap.connections.plainWebsocket, 2);
      assert.equal(snap.connections.sse, 1);
    } finally {
      es.close();
    }
    w.close();
    x.close();
    await until(async () => {
      const m = await metrics(srv);
      return metric(m, 'switchboard_door_connections{door="ws"}') === 0
        && metric(m, 'switchboard_door_connections{door="events"}') === 0;
    }, 5000, 'the gauges back to 0');
  } finally {
    await srv.stop();
  }
});

test('a /ws client that stops reading is cut as a slow consumer (close 1008) and counted; another keeps its messages', async () => {
  const srv = await startServer('switchboard', { args: ['--api-key', KEY, '--max-outq-bytes', '262144', '--events-per-second', '0'] });
  try {
    const room = uid('big');
    const slow = await wsUser(srv, tokenOf(srv, uid('slow')));
    const fast = await wsUser(srv, tokenOf(srv, uid('fast')));
    for (const c of [slow, fast]) assert.equal((await c.request('join_room', room, 1)).type, 'room_joined');
    slow.ws._socket.pause(); // the kernel's buffers fill, then the server's queue
    let gone = false;
    slow.closed.then(() => { gone = true; });
    const blob = 'x'.repeat(60000);
    let sent = 0;
    for (let i = 0; i < 400 && !gone; i++) {
      const r = await fetch(`${srv.url}/api/emit`, { method: 'POST', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ to: { room }, event: 'blob', data: { i, blob } }) });
      assert.equal(r.status, 200);
      sent++;
      if (i % 20 === 19 && metric(await metrics(srv), 'switchboard_door_cut_total{door="ws"}') >= 1) break;
    }
    slow.ws._socket.resume();
    const closed = await slow.closed;
    assert.equal(closed.code, 1008, JSON.stringify(closed));
    assert.equal(closed.reason, 'slow consumer');
    await fast.next('blob', (d) => d.i === sent - 1, 15000);
    assert.equal(fast.ws.readyState, fast.ws.OPEN, 'the fast one still open');
    // The server shuts its side first and lingers until the client closes
    // too, so the client may see the close before the server counts it.
    await until(async () => metric(await metrics(srv), 'switchboard_door_connections{door="ws"}') <= 1, 5000,
      'the cut connection no longer counted');
    const m = await metrics(srv);
    assert.equal(metric(m, 'switchboard_door_cut_total{door="ws"}'), 1);
    assert.ok(metric(m, 'switchboard_errors_total{kind="slow_consumer"}') >= 1);
    assert.equal(metric(m, 'switchboard_door_connections{door="ws"}'), 1, 'the fast one still counted');
  } finally {
    await srv.stop();
  }
});

test('a door that is off has no series: --ws-path "" --sse-path ""', async () => {
  const srv = await startServer('switchboard', { args: ['--api-key', KEY, '--ws-path', '', '--sse-path', ''] });
  try {
    const m = await metrics(srv);
    assert.doesNotMatch(m, /switchboard_door_connections\{/);
    assert.equal((await fetch(`${srv.url}/ws`)).status, 404);
    assert.equal((await fetch(`${srv.url}/events`)).status, 404);
  } finally {
    await srv.stop();
  }
});
