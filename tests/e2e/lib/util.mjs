// Shared helpers for the end-to-end tests: waiting on events and conditions,
// JWT minting, socket.io-client connections that are closed after each test,
// and a test() wrapper that prints the servers' stderr when a test fails.
import { test as nodeTest } from 'node:test';
import { createHmac } from 'node:crypto';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { liveServers } from './server.mjs';

export const isRef = process.env.SB_E2E_TARGET === 'ref';

const openClients = new Set();

/** Resolves with the arguments (array) of the next `event` on `emitter`
 *  for which `pred(...args)` is true; rejects after `timeoutMs`. */
export function waitForArgs(emitter, event, timeoutMs = 5000, pred = () => true) {
  return new Promise((resolve, reject) => {
    const onEvent = (...args) => {
      if (!pred(...args)) return;
      clearTimeout(timer);
      emitter.off(event, onEvent);
      resolve(args);
    };
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`));
    }, timeoutMs);
    emitter.on(event, onEvent);
  });
}

/** Like waitForArgs but resolves with the first argument only. */
export async function waitFor(emitter, event, timeoutMs = 5000, pred = () => true) {
  const args = await waitForArgs(emitter, event, timeoutMs, pred);
  return args[0];
}

/** Polls `cond` (sync or async) every 10 ms until truthy; rejects after timeoutMs. */
export async function until(cond, timeoutMs = 5000, what = 'condition') {
  const deadline = performance.now() + timeoutMs; // monotonic: the wall clock can step
  for (;;) {
    if (await cond()) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves after ms. Only for tests where time passing IS the behaviour. */
export function elapse(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Records every `event` on emitter; returns the live array of argument lists. */
export function record(emitter, event) {
  const seen = [];
  emitter.on(event, (...args) => seen.push(args));
  return seen;
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

/** HS256 JWT with the given claims. exp defaults to now + 1 h; pass exp: null to omit. */
export function mintToken(claims, secret, header = { alg: 'HS256', typ: 'JWT' }) {
  const body = { ...claims };
  if (body.exp === undefined) body.exp = Math.floor(Date.now() / 1000) + 3600;
  if (body.exp === null) delete body.exp;
  const head = b64url(JSON.stringify(header)) + '.' + b64url(JSON.stringify(body));
  const sig = createHmac('sha256', secret).update(head).digest('base64url');
  return head + '.' + sig;
}

/** An unsigned `alg: none` token (must be rejected). */
export function mintNoneToken(claims) {
  const body = { exp: Math.floor(Date.now() / 1000) + 3600, ...claims };
  return b64url(JSON.stringify({ alg: 'none', typ: 'JWT' })) + '.' + b64url(JSON.stringify(body)) + '.';
}

/** A socket.io-client socket (not yet awaited), closed automatically after the test. */
export function client(url, opts = {}) {
  const s = io(url, { forceNew: true, reconnection: false, timeout: 5000, ...opts });
  openClients.add(s);
  return s;
}

/** Connects and resolves with the socket; rejects with the connect_error. */
export function connect(url, opts = {}, timeoutMs = 5000) {
  const s = client(url, opts);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connect to ${url} timed out`)), timeoutMs);
    s.once('connect', () => { clearTimeout(timer); resolve(s); });
    s.once('connect_error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/** Connects expecting failure; resolves with the connect_error Error. */
export function connectError(url, opts = {}, timeoutMs = 5000) {
  const s = client(url, opts);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connect_error from ${url}`)), timeoutMs);
    s.once('connect', () => { clearTimeout(timer); reject(new Error('connected but an error was expected')); });
    s.once('connect_error', (e) => { clearTimeout(timer); s.disconnect(); resolve(e); });
  });
}

/** Disconnects and resolves once the socket has seen its 'disconnect'. */
export async function disconnect(s) {
  if (!s.connected) { s.disconnect(); return; }
  const gone = waitFor(s, 'disconnect', 3000);
  s.disconnect();
  await gone;
}

const cleanups = [];
/** fn() runs after each test() too (clients of other libraries: lib/doors.mjs). */
export function registerCleanup(fn) { cleanups.push(fn); }

export function closeAllClients() {
  for (const s of openClients) {
    try { s.disconnect(); } catch { /* already gone */ }
  }
  openClients.clear();
  for (const fn of cleanups) fn();
}

/** Deep copy where every ArrayBuffer / typed array becomes a Buffer, so
 *  binary payloads compare equal whatever form the transport produced. */
export function normBin(x) {
  if (Buffer.isBuffer(x)) return Buffer.from(x);
  if (x instanceof ArrayBuffer) return Buffer.from(x);
  if (ArrayBuffer.isView(x)) return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  if (Array.isArray(x)) return x.map(normBin);
  if (x && typeof x === 'object') {
    const o = {};
    for (const [k, v] of Object.entries(x)) o[k] = normBin(v);
    return o;
  }
  return x;
}

/** Asserts-helper: true when v is an ISO 8601 string or ms number within
 *  `windowMs` of now. */
export function isRecentTimestamp(v, windowMs = 60000) {
  let ms;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/.test(v)) ms = Date.parse(v);
  else return false;
  return Number.isFinite(ms) && Math.abs(Date.now() - ms) < windowMs;
}

function stderrDump() {
  const parts = [];
  for (const srv of liveServers) {
    const tail = srv.stderr().slice(-4000);
    parts.push(`--- ${srv.kind} (pid ${srv.proc.pid}) stderr ---\n${tail}`);
  }
  return parts.join('\n');
}

/** node:test's test() with a per-test deadline; on failure the live
 *  servers' stderr is attached as diagnostics; open clients are closed. */
export function test(name, fn, { timeout = 15000, skip = false } = {}) {
  return nodeTest(name, { timeout: timeout + 5000, skip }, async (t) => {
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`test exceeded ${timeout} ms`)), timeout);
    });
    try {
      await Promise.race([fn(t), deadline]);
    } catch (e) {
      const dump = stderrDump();
      if (dump) for (const line of dump.split('\n')) t.diagnostic(line);
      throw e;
    } finally {
      clearTimeout(timer);
      closeAllClients();
    }
  });
}

/** Connects user `sub` to the main server with a fresh token; resolves with
 *  {s, est} where est is the `connection:established` payload (listened for
 *  before connecting, since it may arrive in the same batch as the CONNECT). */
export async function connectUser(srv, sub, opts = {}, name = `Name of ${sub}`) {
  const token = mintToken({ sub, name }, srv.secret);
  const s = client(srv.url, { transports: ['websocket'], auth: { token }, ...opts });
  const est = waitFor(s, 'connection:established', 5000);
  const connected = new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
  });
  await connected;
  return { s, est: await est };
}

/** Asserts that `actual` is an object carrying every field of `expected`
 *  with a deep-equal value. Extra fields are allowed: server events may add
 *  information beyond the contract's minimum. */
export function assertFields(actual, expected, what = 'payload') {
  assert.ok(actual && typeof actual === 'object', `${what}: not an object: ${JSON.stringify(actual)}`);
  for (const [k, v] of Object.entries(expected)) {
    assert.deepStrictEqual(actual[k], v, `${what}.${k} in ${JSON.stringify(actual)}`);
  }
}

/** emitWithAck with a 5 s limit; a timeout error names the event and points
 *  at the caller's line. */
export async function ack(s, ...args) {
  const where = new Error(`no ack for ${JSON.stringify(args[0])} within 5000 ms`);
  try {
    return await s.timeout(5000).emitWithAck(...args);
  } catch (e) {
    if (e && e.message === 'operation has timed out') throw where;
    throw e;
  }
}
