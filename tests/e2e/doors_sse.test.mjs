// Server-Sent Events (/events) with a real EventSource (the npm `eventsource`
// package) and raw HTTP: authentication and channel rights, events from
// Socket.IO and /ws users and the backend, Last-Event-ID resume delivering
// exactly the missed events (also when EventSource reconnects by itself),
// keep-alive comments, CORS and slow readers cut.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { EventSource } from 'eventsource';
import { startServer } from './lib/server.mjs';
import { test, ack, client, connectUser, mintToken, record, assertFields, until } from './lib/util.mjs';
import { wsUser } from './lib/doors.mjs';

const KEY = 'sse-test-key';
let srv;
before(async () => { srv = await startServer('switchboard', { args: ['--api-key', KEY, '--events-per-second', '0'] }); });
after(async () => { if (srv) await srv.stop(); });

let seq = 0;
const uid = (p) => `${p}-${process.pid}-${++seq}`;
const tokenOf = (sub, s = srv) => mintToken({ sub, name: `Name of ${sub}` }, s.secret);
const open = new Set();
after(() => { for (const c of open) c.close(); });

async function api(method, path, body, s = srv) {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** An EventSource that records every event of the given names, in order. */
function subscribe(url, names, init) {
  const es = new EventSource(url, init);
  open.add(es);
  const seen = [];
  const waiters = [];
  for (const name of names) {
    es.addEventListener(name, (e) => {
      const ev = { name, data: JSON.parse(e.data), id: e.lastEventId };
      seen.push(ev);
      for (const w of [...waiters]) if (w(ev)) waiters.splice(waiters.indexOf(w), 1);
    });
  }
  const next = (pred, what = 'event', timeoutMs = 8000) => new Promise((resolve, reject) => {
    const hit = seen.find(pred);
    if (hit) { resolve(hit); return; }
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms; seen ${JSON.stringify(seen)}`)), timeoutMs);
    waiters.push((ev) => { if (!pred(ev)) return false; clearTimeout(timer); resolve(ev); return true; });
  });
  return { es, seen, next };
}

const eventsUrl = (channels, token, s = srv) =>
  `${s.url}/events?channels=${encodeURIComponent(channels)}${token ? `&token=${token}` : ''}`;

/** A raw GET: resolves {status, headers, text()} once the head is in; the
 *  body keeps accumulating into text(). */
function rawGet(path, headers = {}, s = srv) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(s.port, '127.0.0.1');
    let buf = '';
    let done = false;
    const head = Object.entries({ Host: 'x', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\n${head}\r\n`));
    sock.on('data', (d) => {
      buf += d.toString();
      const end = buf.indexOf('\r\n\r\n');
      if (!done && end >= 0) {
        done = true;
        const lines = buf.slice(0, end).split('\r\n');
        const hdrs = {};
        for (const l of lines.slice(1)) { const i = l.indexOf(':'); hdrs[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
        resolve({ status: Number(lines[0].split(' ')[1]), headers: hdrs, text: () => buf.slice(end + 4), sock,
          closed: new Promise((r) => sock.on('close', r)) });
      }
    });
    sock.on('error', (e) => { if (!done) reject(e); });
    open.add({ close: () => sock.destroy() });
  });
}

test('authentication and channel rights: 401, 403, 400, 405', async () => {
  const me = uid('me');
  const t = tokenOf(me);
  assert.equal((await rawGet('/events?channels=lobby')).status, 401);
  const bad = await rawGet('/events?channels=lobby&token=not.a.token');
  assert.equal(bad.status, 401);
  assert.match(bad.text(), /token_invalid/);
  const expired = mintToken({ sub: me, exp: Math.floor(Date.now() / 1000) - 3600 }, srv.secret);
  assert.match((await rawGet(`/events?channels=lobby&token=${expired}`)).text(), /token_expired/);
  assert.equal((await rawGet(`/events?token=${t}`)).status, 400);
  assert.equal((await rawGet(`/events?channels=${'x'.repeat(200)}&token=${t}`)).status, 400);
  assert.equal((await rawGet(`/events?channels=${Array.from({ length: 17 }, (_, i) => `r${i}`).join(',')}&token=${t}`)).status, 400);
  for (const ch of [`user:${uid('other')}`, 'rtc:x', 'doc:y']) {
    const r = await rawGet(`/events?channels=${encodeURIComponent(ch)}&token=${t}`);
    assert.equal(r.status, 403, ch);
    assert.match(r.text(), /forbidden_channel/);
  }
  await api('POST', '/api/conversations', { id: `c-${me}`, memberIds: [me, 'someone'] });
  await api('POST', '/api/conversations', { id: `x-${me}`, memberIds: ['a', 'b'] });
  assert.equal((await rawGet(`/events?channels=conversation:x-${me}&token=${t}`)).status, 403);
  assert.equal((await rawGet(`/events?channels=conversation:nope-${me}&token=${t}`)).status, 403);
  const ok = await rawGet(`/events?channels=${encodeURIComponent(`conversation:c-${me},user:${me},lobby`)}`, { Authorization: `Bearer ${t}` });
  assert.equal(ok.status, 200);
  assert.match(ok.headers['content-type'], /^text\/event-stream/);
  assert.equal(ok.headers['cache-control'], 'no-cache');
  assert.equal(ok.headers['content-length'], undefined);
  await until(() => ok.text().includes('event: connected'), 5000, 'the connected event');
  const post = await fetch(`${srv.url}/events?channels=lobby&token=${t}`, { method: 'POST' });
  assert.equal(post.status, 405);
});

test('one room, three doors: EventSource sees messages from socket.io and /ws users, /ws and socket.io see each other', async () => {
  const room = uid('lobby');
  const reader = uid('reader');
  const sub = subscribe(eventsUrl(room, tokenOf(reader)), ['connected', 'chat:message', 'chat:user_joined', 'chat:typing']);
  assertFields((await sub.next((e) => e.name === 'connected', 'connected')).data, { userId: reader, channels: [room], resumed: false });
  const { s } = await connectUser(srv, uid('sio'));
  const w = await wsUser(srv, tokenOf(uid('ws')));
  await ack(s, 'chat:join', room);
  w.send('join_room', { roomId: room });
  await w.next('room_joined');
  await sub.next((e) => e.name === 'chat:user_joined', 'chat:user_joined');

  const atSio = record(s, 'chat:message');
  const fromSio = await ack(s, 'chat:message', { roomId: room, message: 'from socket.io' });
  const fromWs = (await w.request('send_message', { roomId: room, content: 'from /ws' }, 1)).data;
  const a = await sub.next((e) => e.name === 'chat:message' && e.data.id === fromSio.id, 'the socket.io message');
  const b = await sub.next((e) => e.name === 'chat:message' && e.data.id === fromWs.id, 'the /ws message');
  assert.deepEqual(a.data, fromSio);
  assert.deepEqual(b.data, fromWs);
  assert.equal(a.id, `${fromSio.id}-0`);
  assert.equal(b.id, `${fromWs.id}-0`);
  const { sender, ...rest } = fromSio;
  const got = (await w.next('new_message', (d) => d.id === fromSio.id)).data;
  assertFields(got, { ...rest, content: fromSio.message });
  assertFields(got.sender, { ...sender, username: sender.name });
  await until(() => atSio.some(([m]) => m.id === fromWs.id), 5000, 'the /ws message at socket.io');
  assert.deepEqual(atSio.find(([m]) => m.id === fromWs.id)[0], fromWs);
  s.emit('chat:typing', { roomId: room, isTyping: true });
  assertFields((await sub.next((e) => e.name === 'chat:typing', 'chat:typing')).data, { roomId: room, isTyping: true });
});

test('user channel: notifications, direct messages and backend emits; they stay pending for devices', async () => {
  const me = uid('me');
  const sub = subscribe(eventsUrl(`user:${me}`, tokenOf(me)), ['connected', 'notification:new', 'message:received', 'order:shipped']);
  await sub.next((e) => e.name === 'connected');
  const n = await api('POST', '/api/notifications', { userId: me, type: 'order', title: 'Shipped', message: 'on its way' });
  assert.equal(n.status, 201);
  const got = await sub.next((e) => e.name === 'notification:new', 'notification:new');
  assertFields(got.data, { id: n.body.notification.id, title: 'Shipped' });
  assert.equal(got.id, `0-${n.body.notification.id}`);
  const { s } = await connectUser(srv, uid('friend'));
  const sent = await ack(s, 'message:send', { receiverId: me, content: 'psst' });
  const dm = await sub.next((e) => e.name === 'message:received', 'message:received');
  assertFields(dm.data, { id: sent.id, content: 'psst' });
  assert.equal((await api('POST', '/api/emit', { to: { user: me }, event: 'order:shipped', data: { id: 7 } })).status, 200);
  assert.deepEqual((await sub.next((e) => e.name === 'order:shipped')).data, { id: 7 });
  // A body with line breaks (whitespace and inside strings) arrives whole.
  const raw = await fetch(`${srv.url}/api/emit`, { method: 'POST', headers: { Authorization: `Bearer ${KEY}` },
    body: `{"to":{"user":"${me}"},"event":"order:shipped","data":{\n"id":\r\n8,\r"lines":"a\\nb"}}` });
  assert.equal(raw.status, 200);
  assert.deepEqual((await sub.next((e) => e.name === 'order:shipped' && e.data.id === 8)).data, { id: 8, lines: 'a\nb' });
  // A reader confirms nothing: the user's first device still gets both.
  const device = client(srv.url, { transports: ['websocket'], auth: { token: tokenOf(me) } });
  const pending = [];
  device.on('message:received', (m, cb) => { pending.push(m.id); if (cb) cb(); });
  await until(() => pending.includes(sent.id), 5000, 'the pending message on the device');
});

test('a user whose id is another user\'s id with "#tap" appended gets none of that user\'s deliveries', async () => {
  const me = uid('me'), lookalike = `${me}#tap`;
  const sub = subscribe(eventsUrl(`user:${me}`, tokenOf(me)), ['connected', 'message:received']);
  await sub.next((e) => e.name === 'connected');
  const { s: other } = await connectUser(srv, lookalike);
  const wrong = [];
  other.on('message:received', (m) => wrong.push(m));
  const { s } = await connectUser(srv, uid('friend'));
  const sent = await ack(s, 'message:send', { receiverId: me, content: 'for me only' });
  assertFields((await sub.next((e) => e.name === 'message:received', 'message:received')).data, { id: sent.id });
  const mine = await ack(s, 'message:send', { receiverId: lookalike, content: 'for the lookalike' });
  await until(() => wrong.some((m) => m.id === mine.id), 5000, 'the lookalike\'s own message');
  assert.deepEqual(wrong.map((m) => m.id), [mine.id], 'only its own message, in that order');
});

test('Last-Event-ID: a reconnect gets exactly the messages and notifications it missed, then live', async () => {
  const me = uid('me');
  const room = uid('room');
  const { s } = await connectUser(srv, uid('talker'));
  await ack(s, 'chat:join', room);
  const first = subscribe(eventsUrl(`${room},user:${me}`, tokenOf(me)), ['connected', 'chat:message', 'notification:new']);
  await first.next((e) => e.name === 'connected');
  const m1 = await ack(s, 'chat:message', { roomId: room, message: 'one' });
  const n1 = (await api('POST', '/api/notifications', { userId: me, type: 't', title: 'n1', message: '' })).body.notification;
  const seen = await first.next((e) => e.name === 'notification:new' && e.data.id === n1.id);
  assert.equal(seen.id, `${m1.id}-${n1.id}`);
  first.es.close();

  const missed = [];
  for (const text of ['two', 'three', 'four']) missed.push(await ack(s, 'chat:message', { roomId: room, message: text }));
  const n2 = (await api('POST', '/api/notifications', { userId: me, type: 't', title: 'n2', message: '' })).body.notification;
  await ack(s, 'chat:message', { roomId: uid('elsewhere'), message: 'not subscribed' }).catch(() => {});

  const again = subscribe(eventsUrl(`${room},user:${me}`, tokenOf(me)), ['connected', 'chat:message', 'notification:new', 'reset'],
    { fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, 'Last-Event-ID': seen.id } }) });
  assertFields((await again.next((e) => e.name === 'connected')).data, { resumed: true });
  await again.next((e) => e.name === 'notification:new' && e.data.id === n2.id, 'n2');
  const live = await ack(s, 'chat:message', { roomId: room, message: 'live' });
  await again.next((e) => e.name === 'chat:message' && e.data.id === live.id, 'the live message');
  const names = again.seen.filter((e) => e.name !== 'connected');
  assert.deepEqual(names.map((e) => [e.name, e.data.id]), [
    ...missed.map((m) => ['chat:message', m.id]), ['notification:new', n2.id], ['chat:message', live.id]]);
  assert.deepEqual(names[0].data, missed[0], 'the stored message is the one sent live');
  assert.equal(names.at(-1).id, `${live.id}-${n2.id}`);
});

test('EventSource reconnects by itself after a drop and resumes from its last id', async () => {
  const me = uid('me');
  const room = uid('room');
  const { s } = await connectUser(srv, uid('talker'));
  await ack(s, 'chat:join', room);
  // A proxy between EventSource and the server that can drop every stream
  // and hold new connections while the test sends what the reader misses.
  const conns = new Set();
  let held = [];
  let holding = false;
  const proxy = net.createServer((c) => {
    const go = () => {
      const up = net.connect(srv.port, '127.0.0.1');
      c.pipe(up); up.pipe(c);
      conns.add(c); conns.add(up);
      const drop = () => { c.destroy(); up.destroy(); };
      c.on('error', drop); up.on('error', drop); c.on('close', drop); up.on('close', drop);
    };
    if (holding) held.push(go); else go();
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  open.add({ close: () => { for (const c of conns) c.destroy(); proxy.close(); } });
  const url = `http://127.0.0.1:${proxy.address().port}/events?channels=${room}&token=${tokenOf(me)}`;
  const sub = subscribe(url, ['connected', 'chat:message']);
  await sub.next((e) => e.name === 'connected');
  const before = await ack(s, 'chat:message', { roomId: room, message: 'before' });
  await sub.next((e) => e.data.id === before.id);

  holding = true;
  for (const c of conns) c.destroy();
  const missed = [];
  for (const text of ['a', 'b']) missed.push(await ack(s, 'chat:message', { roomId: room, message: text }));
  await until(() => held.length > 0, 10000, 'EventSource to reconnect');
  holding = false;
  for (const go of held) go();
  held = [];
  for (const m of missed) await sub.next((e) => e.name === 'chat:message' && e.data.id === m.id, `missed ${m.id}`);
  const ids = sub.seen.filter((e) => e.name === 'chat:message').map((e) => e.data.id);
  assert.deepEqual(ids, [before.id, ...missed.map((m) => m.id)], 'each once, in order');
});

test('keep-alive comments and CORS', async () => {
  const own = await startServer('switchboard', { args: ['--sse-keepalive', '200', '--cors-origins', 'https://app.example'] });
  try {
    const t = tokenOf(uid('k'), own);
    const r = await rawGet(`/events?channels=lobby&token=${t}`, { Origin: 'https://app.example' }, own);
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example');
    await until(() => r.text().includes(': keep-alive\n\n'), 5000, 'a keep-alive comment');
    const refused = await rawGet(`/events?channels=lobby&token=${t}`, { Origin: 'https://evil.example' }, own);
    assert.equal(refused.status, 403);
  } finally {
    await own.stop();
  }
});

test('hostile names and data cannot forge fields: an event name with CR or LF is not written; data lines split', async () => {
  const room = uid('hostile');
  const r = await rawGet(`/events?channels=${room}&token=${tokenOf(uid('h'))}`);
  await until(() => r.text().includes('event: connected'), 5000, 'connected');
  for (const event of ['evil\rdata: forged', 'evil\nid: 999-999', 'evil\r\nevent: forged']) {
    assert.equal((await api('POST', '/api/emit', { to: { room }, event, data: { n: 1 } })).status, 200);
  }
  // A string is JSON-escaped in data; a line break can only come from the
  // JSON itself, and each becomes its own data: line.
  await api('POST', '/api/emit', { to: { room }, event: 'after', data: 'a\r\nevent: forged\n\ndata: x' });
  await until(() => r.text().includes('event: after'), 5000, 'the event after the hostile ones');
  const text = r.text();
  assert.doesNotMatch(text, /evil|forged\n|999-999/, text);
  assert.match(text, /event: after\ndata: "a\\r\\nevent: forged\\n\\ndata: x"\nid: \d+-\d+\n\n/);
});

test('a reader that stops reading is cut once its queue passes --max-outq-bytes; others keep their stream', async () => {
  const own = await startServer('switchboard', { args: ['--api-key', KEY, '--max-outq-bytes', '262144'] });
  try {
    const room = uid('big');
    const slow = await rawGet(`/events?channels=${room}&token=${tokenOf(uid('slow'), own)}`, {}, own);
    await until(() => slow.text().includes('event: connected'), 5000, 'connected');
    slow.sock.pause();
    const fast = subscribe(eventsUrl(room, tokenOf(uid('fast'), own), own), ['connected', 'blob']);
    await fast.next((e) => e.name === 'connected');
    const blob = 'x'.repeat(60000);
    let sent = 0;
    let gone = false;
    slow.closed.then(() => { gone = true; });
    for (let i = 0; i < 400 && !gone; i++) {
      await api('POST', '/api/emit', { to: { room }, event: 'blob', data: { i, blob } }, own);
      sent++;
      if (i % 20 === 19) {
        const m = await (await fetch(`${own.url}/metrics`, { headers: { Authorization: `Bearer ${KEY}` } })).text();
        if (/switchboard_errors_total\{kind="slow_consumer"\} [1-9]/.test(m)) break;
      }
    }
    slow.sock.resume();
    await slow.closed;
    assert.ok(slow.text().length < sent * blob.length, 'the slow reader did not get everything');
    await fast.next((e) => e.name === 'blob' && e.data.i === sent - 1, 'the last blob at the fast reader', 15000);
    const m = await (await fetch(`${own.url}/metrics`, { headers: { Authorization: `Bearer ${KEY}` } })).text();
    assert.match(m, /switchboard_door_cut_total\{door="events"\} [1-9]/, 'counted as a cut reader of the door');
    assert.match(m, /switchboard_door_connections\{door="events"\} 1\n/, 'the fast reader still open');
  } finally {
    await own.stop();
  }
});
