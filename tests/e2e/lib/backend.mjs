// A real HTTP backend for the hook tests (docs/hooks.md): a Node `http`
// server on a free loopback port that records every request, checks its
// X-Switchboard-Signature with the shared secret, and answers through a
// handler the test sets per hook ("/connect", "/event", "/push").
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';

export const HOOK_SECRET = 'hook-secret-for-the-e2e-backend';

/** True when `header` is "sha256=" + hex HMAC-SHA256(secret, body). */
export function signatureValid(body, header, secret = HOOK_SECRET) {
  const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const got = Buffer.from(String(header || ''));
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * Starts the backend. handlers: { '/event': (req) => answer, ... } where req
 * is {path, headers, body (parsed), raw, signed} and answer is
 * {status?, json?, text?, delayMs?, hang?} (hang: never answer; the request
 * is released by close()). Resolves with {url, port, requests, on(path, fn),
 * close()}.
 */
export async function startBackend(handlers = {}) {
  const requests = [];
  const hanging = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try { body = JSON.parse(raw); } catch { /* recorded as null */ }
      const rec = { path: req.url, headers: req.headers, body, raw,
        signed: signatureValid(raw, req.headers['x-switchboard-signature']) };
      requests.push(rec);
      const fn = handlers[req.url];
      const a = fn ? await fn(rec) : { status: 404, json: { error: 'no handler' } };
      if (a.hang) { hanging.add(res); return; }
      if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
      const text = a.text !== undefined ? a.text : JSON.stringify(a.json ?? {});
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
      res.end(text);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    on(path, fn) { handlers[path] = fn; },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A loopback port with nothing listening (bound, then closed). */
export async function deadPort() {
  const s = http.createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}
