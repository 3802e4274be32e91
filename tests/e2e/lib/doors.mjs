// Clients of the plain doors: /ws (JSON over WebSocket, the npm `ws` client).
// Every client opened here is closed by closeDoorClients() (called by the
// tests' after-each through util's test() via registerCleanup).
import WebSocket from 'ws';
import { registerCleanup } from './util.mjs';

const open = new Set();
registerCleanup(() => {
  for (const c of open) c.close();
  open.clear();
});

/** A /ws connection that keeps every message it receives, in order. */
export class WsClient {
  constructor(url, opts = {}) {
    this.messages = [];
    this.waiters = [];
    this.ws = new WebSocket(url, opts);
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.ws.on('error', () => { /* the close that follows is what tests look at */ });
    this.ws.on('message', (data, binary) => {
      const msg = binary ? { binary: true, data } : JSON.parse(data.toString());
      this.messages.push(msg);
      this.waiters = this.waiters.filter((w) => !w(msg));
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('unexpected-response', (_, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      this.ws.once('error', reject);
    });
    open.add(this);
  }

  send(type, data, extra = {}) {
    this.ws.send(JSON.stringify({ type, data, ...extra }));
  }

  raw(text) { this.ws.send(text); }

  /** Resolves with the next message (already received or to come) of `type`
   *  for which pred(data, msg) holds; messages before it stay. */
  next(type, pred = () => true, timeoutMs = 5000) {
    const match = (m) => m.type === type && pred(m.data, m);
    const seen = this.messages.find(match);
    if (seen) {
      this.messages.splice(this.messages.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no /ws "${type}" within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`)), timeoutMs);
      this.waiters.push((m) => {
        if (!match(m)) return false;
        clearTimeout(timer);
        this.messages.splice(this.messages.indexOf(m), 1);
        resolve(m);
        return true;
      });
    });
  }

  /** Sends and waits for the answer with the same id. */
  request(type, data, id) {
    const got = this.nextWithId(id);
    this.send(type, data, { id });
    return got;
  }

  nextWithId(id, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const find = () => this.messages.find((m) => m.id === id);
      const seen = find();
      if (seen) { this.messages.splice(this.messages.indexOf(seen), 1); resolve(seen); return; }
      const timer = setTimeout(() => reject(new Error(`no /ws answer with id ${id}; got ${JSON.stringify(this.messages)}`)), timeoutMs);
      this.waiters.push((m) => {
        if (m.id !== id) return false;
        clearTimeout(timer);
        this.messages.splice(this.messages.indexOf(m), 1);
        resolve(m);
        return true;
      });
    });
  }

  close() {
    try { this.ws.terminate(); } catch { /* gone */ }
  }
}

export function wsUrl(srv, query = '') {
  return `${srv.url.replace(/^http/, "ws")}/ws${query}`;
}

/** Opens /ws with a bearer token and waits for `connected`. */
export async function wsUser(srv, token, how = 'header') {
  const c = how === 'header'
    ? new WsClient(wsUrl(srv), { headers: { Authorization: `Bearer ${token}` } })
    : new WsClient(wsUrl(srv));
  await c.opened;
  if (how === 'message') c.send('auth', { token });
  c.connected = (await c.next('connected')).data;
  return c;
}
