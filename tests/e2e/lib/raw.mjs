// Raw HTTP and WebSocket clients over node:net, for protocol edge cases that
// real clients never produce (unmasked frames, bad UTF-8, interleaved control
// frames, garbage requests).
import net from 'node:net';
import { randomBytes } from 'node:crypto';

function parseHead(text) {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: m ? Number(m[1]) : null, statusLine: lines[0], headers };
}

/** Sends `request` (string or Buffer) verbatim; resolves with
 *  {status, statusLine, headers, body, raw} once the response is complete
 *  (Content-Length reached) or the server closed the connection. */
export function rawHttp(port, request, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) return reject(err);
      const raw = buf.toString('latin1');
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`incomplete HTTP response: ${JSON.stringify(raw)}`));
      const head = parseHead(raw.slice(0, end));
      resolve({ ...head, body: buf.subarray(end + 4).toString('utf8'), raw });
    };
    const timer = setTimeout(() => finish(new Error(`raw HTTP timed out; got ${JSON.stringify(buf.toString('latin1'))}`)), timeoutMs);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const raw = buf.toString('latin1');
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return;
      const { headers } = parseHead(raw.slice(0, end));
      const len = headers['content-length'];
      if (len !== undefined && buf.length - (end + 4) >= Number(len)) finish();
    });
    sock.on('end', () => finish());
    sock.on('close', () => finish());
    sock.on('error', () => finish());
    sock.write(request);
  });
}

export const OP = { CONT: 0, TEXT: 1, BIN: 2, CLOSE: 8, PING: 9, PONG: 10 };

/** Encodes one frame. Client frames are masked unless mask === false;
 *  rsv1 marks a permessage-deflate compressed message. */
export function encodeFrame({ opcode, payload = Buffer.alloc(0), fin = true, mask = true, rsv1 = false }) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const len = data.length;
  const head = [((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode)];
  const maskBit = mask ? 0x80 : 0;
  if (len < 126) head.push(maskBit | len);
  else if (len < 65536) head.push(maskBit | 126, len >> 8, len & 255);
  else {
    head.push(maskBit | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 255, (len >>> 16) & 255, (len >>> 8) & 255, len & 255);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = randomBytes(4);
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) out[i] = data[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), key, out]);
}

/** A minimal WebSocket client. Frames from the server are queued in order,
 *  as {fin, rsv1, opcode, payload, masked}. */
export class RawWs {
  constructor(sock, rest) {
    this.sock = sock;
    this.buf = rest;
    this.frames = [];
    this.waiters = [];
    this.closed = false;
    sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this._parse(); });
    const onGone = () => { this.closed = true; this._wake(); };
    sock.on('close', onGone);
    sock.on('error', onGone);
    this._parse();
  }

  /** Opens `path` on port; resolves with {ws, status, headers} (ws is null if
   *  the server did not answer 101). */
  static open(port, path, { version = '13', extraHeaders = '' } = {}, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1');
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => { sock.destroy(); reject(new Error('websocket handshake timed out')); }, timeoutMs);
      const onData = (d) => {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        sock.off('data', onData);
        clearTimeout(timer);
        const head = parseHead(buf.subarray(0, end).toString('latin1'));
        const rest = buf.subarray(end + 4);
        if (head.status !== 101) {
          sock.destroy();
          resolve({ ws: null, ...head, body: rest.toString('utf8') });
          return;
        }
        resolve({ ws: new RawWs(sock, rest), ...head });
      };
      sock.on('data', onData);
      sock.on('error', (e) => { clearTimeout(timer); reject(e); });
      sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
        `Sec-WebSocket-Version: ${version}\r\n${extraHeaders}\r\n`);
    });
  }

  _parse() {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (b.length < 4) break; len = b.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (b.length < 10) break; len = Number(b.readBigUInt64BE(2)); off = 10; }
      const masked = (b[1] & 0x80) !== 0;
      if (masked) off += 4;
      if (b.length < off + len) break;
      let payload = Buffer.from(b.subarray(off, off + len));
      if (masked) {
        const key = b.subarray(off - 4, off);
        for (let i = 0; i < len; i++) payload[i] ^= key[i & 3];
      }
      this.frames.push({ fin: (b[0] & 0x80) !== 0, rsv1: (b[0] & 0x40) !== 0, opcode: b[0] & 0x0f, payload, masked });
      this.buf = b.subarray(off + len);
    }
    this._wake();
  }

  _wake() {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  send(frame) { this.sock.write(encodeFrame(frame)); }
  sendText(text) { this.send({ opcode: OP.TEXT, payload: Buffer.from(text) }); }

  /** Next frame from the server (skipping none); rejects on timeout or if the
   *  TCP connection ended with no frame left. */
  async next(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed) throw new Error('connection closed, no more frames');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a websocket frame');
      await new Promise((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
    return this.frames.shift();
  }

  /** Next text message payload (as string), answering nothing. */
  async nextText(timeoutMs = 5000) {
    for (;;) {
      const f = await this.next(timeoutMs);
      if (f.opcode === OP.TEXT) return f.payload.toString('utf8');
      if (f.opcode === OP.CLOSE) throw new Error(`got close ${closeInfo(f).code} while waiting for text`);
    }
  }

  /** Waits for the server's close frame; resolves {code, reason, elapsed}
   *  ({code: null} if the TCP connection ended without one). */
  async waitClose(timeoutMs = 5000) {
    const t0 = Date.now();
    for (;;) {
      let f;
      try {
        f = await this.next(timeoutMs - (Date.now() - t0));
      } catch (e) {
        if (this.closed) return { code: null, reason: '', elapsed: Date.now() - t0 };
        throw e;
      }
      if (f.opcode === OP.CLOSE) return { ...closeInfo(f), elapsed: Date.now() - t0 };
    }
  }

  /** Resolves when the TCP connection is closed by the server. */
  async waitEnd(timeoutMs = 5000) {
    await new Promise((resolve, reject) => {
      if (this.closed) return resolve();
      const t = setTimeout(() => reject(new Error('server did not close the TCP connection')), timeoutMs);
      this.sock.once('close', () => { clearTimeout(t); resolve(); });
    });
  }

  destroy() { this.sock.destroy(); }
}

function closeInfo(f) {
  if (f.payload.length < 2) return { code: 1005, reason: '' };
  return { code: f.payload.readUInt16BE(0), reason: f.payload.subarray(2).toString('utf8') };
}

/** One raw HTTP/1.1 connection kept open across requests: write bytes,
 *  read responses one at a time (framed by Content-Length), and watch for
 *  the server closing it. */
export class RawHttpConn {
  constructor(port) {
    this.sock = net.connect(port, '127.0.0.1');
    this.buf = Buffer.alloc(0);
    this.closed = false;
    this.closedAt = null;
    this.waiters = [];
    this.sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this._wake(); });
    const onGone = () => {
      if (!this.closed) { this.closed = true; this.closedAt = Date.now(); }
      this._wake();
    };
    this.sock.on('close', onGone);
    this.sock.on('error', onGone);
  }

  static open(port) {
    const c = new RawHttpConn(port);
    return new Promise((resolve, reject) => {
      c.sock.once('connect', () => resolve(c));
      c.sock.once('error', reject);
    });
  }

  _wake() {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  async _until(cond, timeoutMs, what) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = cond();
      if (v) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; have ${JSON.stringify(this.buf.toString('latin1'))}`);
      await new Promise((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  write(data) { this.sock.write(data); }

  /** Next complete response {status, statusLine, headers, body, raw};
   *  without Content-Length the body runs to the end of the connection. */
  async response(timeoutMs = 5000) {
    const r = await this._until(() => {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return this.closed ? { error: 'connection closed before a complete response' } : null;
      const head = parseHead(this.buf.subarray(0, end).toString('latin1'));
      const len = head.headers['content-length'];
      const total = len === undefined ? (this.closed ? this.buf.length : -1) : end + 4 + Number(len);
      if (total < 0 || this.buf.length < total) {
        return this.closed ? { error: 'connection closed inside a response body' } : null;
      }
      const raw = this.buf.subarray(0, total);
      this.buf = this.buf.subarray(total);
      return { ...head, body: raw.subarray(end + 4).toString('utf8'), raw: raw.toString('latin1') };
    }, timeoutMs, 'an HTTP response');
    if (r.error) throw new Error(`${r.error}: ${JSON.stringify(this.buf.toString('latin1'))}`);
    return r;
  }

  /** Resolves with the time (Date.now()) the server closed the connection. */
  async waitClose(timeoutMs = 5000) {
    await this._until(() => this.closed, timeoutMs, 'the server to close the connection');
    return this.closedAt;
  }

  destroy() { this.sock.destroy(); }
}
