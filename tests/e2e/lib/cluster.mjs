// What the cluster tests share: Redis clients they close at the end, a
// Node.js socket.io server with @socket.io/redis-adapter, the HTTP API with
// a key, and joining rooms from either kind of client.
import assert from 'node:assert/strict';
import http from 'node:http';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { client, waitFor } from './util.mjs';

const opened = [];

/** A connected node-redis client, quit by quitRedisClients(). Errors are
 *  swallowed: it reconnects by itself (the restart tests expect errors).
 *  @socket.io/redis-adapter and -emitter do not handle the promise of the
 *  PUBLISH they send (an answer to a node's request, an emit): one in
 *  flight when a test stops Redis rejects with "Socket closed unexpectedly"
 *  as an unhandled rejection, which fails the whole file. Those promises
 *  get a handler here; a caller that awaits one still sees its error. */
export async function redisClient(url, options = {}) {
  const c = createClient({ url, ...options });
  c.on('error', () => {});
  const publish = c.publish.bind(c);
  c.publish = (...args) => {
    const p = publish(...args);
    p.catch(() => {});
    return p;
  };
  await c.connect();
  opened.push(c);
  return c;
}

export async function quitRedisClients() {
  for (const c of opened.splice(0)) await c.quit().catch(() => {});
}

/** A Node.js socket.io server on the adapter; its sockets answer 'join'
 *  (room, ack). `setup(io)` adds listeners. */
export async function startAdapterNode(url, setup = () => {}) {
  const pub = await redisClient(url, { socket: { reconnectStrategy: (n) => Math.min(50 * (n + 1), 500) } });
  const sub = await redisClient(url, { socket: { reconnectStrategy: (n) => Math.min(50 * (n + 1), 500) } });
  const hs = http.createServer();
  const io = new Server(hs, { adapter: createAdapter(pub, sub, { requestsTimeout: 3000 }) });
  io.on('connection', (s) => {
    s.on('join', (room, cb) => { s.join(room); cb(); });
  });
  setup(io);
  await new Promise((resolve) => hs.listen(0, '127.0.0.1', resolve));
  const url_ = `http://127.0.0.1:${hs.address().port}`;
  return {
    io, hs, url: url_,
    /** A websocket client of this server, in `room` when given. */
    async client(room) {
      const s = client(url_, { transports: ['websocket'] });
      await waitFor(s, 'connect');
      if (room) await s.timeout(5000).emitWithAck('join', room);
      return s;
    },
    async close() {
      await io.of('/').adapter.close();
      io.close();
    },
  };
}

/** fetch() on a server's HTTP API with the key: {status, text, json}. */
export function apiWithKey(key) {
  return async (srv, method, path, body) => {
    const r = await fetch(srv.url + path, {
      method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: r.status, text, json };
  };
}

/** chat:join from a Switchboard client, which must not answer an error. */
export async function joinRoom(s, room) {
  const r = await s.timeout(5000).emitWithAck('chat:join', room);
  assert.ok(!r || !r.error, JSON.stringify(r));
}

/** The counters and gauges of srv's /metrics (unlabelled series), by name
 *  without the switchboard_ prefix. */
export async function metricsOf(srv, key) {
  const r = await fetch(`${srv.url}/metrics`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(r.status, 200);
  const out = {};
  for (const m of (await r.text()).matchAll(/^switchboard_(\w+) (\d+(?:\.\d+)?)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}
