// Sticky load balancing between machines, for real: the HAProxy and nginx
// configurations of docs/operations.md, taken from the document itself
// (only addresses, ports and certificate paths replaced; HAProxy's also
// with the documented `balance source` instead of the cookie), run with the
// Debian binaries in front of two Switchboard nodes on their own ports and
// one redis-server. Through each balancer, over TLS as documented: polling,
// WebSocket and upgrading socket.io-client clients spread over both nodes,
// no request answered "Session ID unknown" (no 4xx on either node), and
// messages delivered across the nodes. Raw polling sessions check the
// stickiness request by request on fresh connections.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, startRedis } from './lib/redis.mjs';
import { repoRoot, startServer } from './lib/server.mjs';
import { makePki } from './lib/tls.mjs';
import { connect, isRef, mintToken, test, until, waitForArgs } from './lib/util.mjs';

const KEY = 'balancer-key';
const SKIP = isRef ? 'the balancers stand in front of switchboard nodes clustered over Redis' : false;

/* The fenced block that follows the paragraph starting with `lead`. */
function docBlock(lead) {
  const doc = readFileSync(path.join(repoRoot, 'docs', 'operations.md'), 'utf8');
  const at = doc.indexOf(`\n${lead}`);
  assert.ok(at >= 0, `docs/operations.md has no paragraph starting with ${lead}`);
  const m = /\n```\n([\s\S]*?)\n```\n/.exec(doc.slice(at));
  assert.ok(m, `no configuration block after ${lead}`);
  return m[1];
}

/* Replaces `from` (which must be there) in a configuration. */
function swap(text, from, to) {
  assert.ok(text.includes(from), `the documented configuration no longer has ${JSON.stringify(from)}`);
  return text.split(from).join(to);
}

/* Starts a balancer process in the foreground; resolves once `port`
 * answers HTTPS. stop() kills it by its pid. */
async function startBalancer(bin, args, port, ca, log) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const b = {
    port, output: () => out + (log ? safeRead(log) : ''),
    stop: async () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM'); await exited; },
  };
  try {
    await until(async () => {
      if (proc.exitCode !== null) throw new Error(`${bin} exited: ${b.output()}`);
      const r = await get({ port, ca }, '/health').catch(() => null);
      return r?.status === 200;
    }, 10000, `${bin} answering on ${port}`);
  } catch (e) {
    await b.stop();
    throw new Error(`${e.message}\n${b.output()}`);
  }
  return b;
}

function safeRead(file) {
  try { return readFileSync(file, 'utf8'); } catch { return ''; }
}

/* One HTTPS request on a fresh connection from `localAddress`; resolves
 * {status, body, cookie (the Set-Cookie pair)}. */
function get(lb, urlPath, { method = 'GET', body, cookie, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: lb.port, path: urlPath, method, ca: lb.ca, servername: 'localhost', agent: false,
      localAddress,
      headers: { ...(cookie ? { cookie } : {}), ...(body === undefined ? {} : { 'content-length': Buffer.byteLength(body) }) },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: text, cookie: res.headers['set-cookie']?.[0]?.split(';')[0] }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

describe('sticky balancers from docs/operations.md in front of two nodes', { skip: SKIP }, () => {
  let redis, pki, work;
  const nodes = [];

  /* Per node, read on its own port: {http_4xx, sessions opened}. */
  async function nodeCounters() {
    return Promise.all(nodes.map(async (n) => {
      const r = await fetch(`${n.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } });
      const text = await r.text();
      const num = (re) => Number(re.exec(text)?.[1] ?? NaN);
      return {
        http4xx: num(/^switchboard_errors_total\{kind="http_4xx"\} (\d+)$/m),
        opened: num(/^switchboard_sessions_opened_total (\d+)$/m),
      };
    }));
  }

  /* Since `before`: no request answered 4xx ("Session ID unknown"), and
   * sessions opened on both nodes. */
  async function assertNoErrorsOnEitherNode(before, lb) {
    const after = await nodeCounters();
    after.forEach((a, i) => {
      assert.equal(a.http4xx, before[i].http4xx, `node ${i} answered 4xx: ${lb.output()}`);
      assert.ok(a.opened > before[i].opened, `no session on node ${i}`);
    });
  }

  /* The node owning a polling session: a noop packet is "ok" there only
   * (the other answers 400: counters are read after this). */
  async function ownerOf(sid) {
    for (const [i, n] of nodes.entries()) {
      const r = await fetch(`${n.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '6' });
      if (r.status === 200) return i;
    }
    return -1;
  }

  /* A raw polling session through the balancer, each request on a fresh
   * connection: the handshake, a CONNECT, then a GET that must find the
   * session's answer, and a few noops. Returns the owning node. */
  async function rawSession(lb, localAddress) {
    const open = await get(lb, '/socket.io/?EIO=4&transport=polling', { localAddress });
    assert.equal(open.status, 200, open.body);
    const { sid } = JSON.parse(open.body.slice(1));
    const q = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const opts = { localAddress, cookie: open.cookie };
    const token = mintToken({ sub: `raw-${sid}` }, nodes[0].secret);
    const post = await get(lb, q, { ...opts, method: 'POST', body: `40${JSON.stringify({ token })}` });
    assert.deepEqual([post.status, post.body], [200, 'ok']);
    const answer = await get(lb, q, opts);
    assert.equal(answer.status, 200, answer.body);
    assert.match(answer.body, /^40\{"sid":/, answer.body);
    for (let i = 0; i < 4; i++) {
      const noop = await get(lb, q, { ...opts, method: 'POST', body: '6' });
      assert.deepEqual([noop.status, noop.body], [200, 'ok'], `request ${i} of session ${sid}`);
    }
    return { sid, cookie: open.cookie };
  }

  /* Clients through the balancer: polling-only, WebSocket-only and
   * upgrading, in one room; each sends one message, everyone gets every
   * message once; sessions never change (no "Session ID unknown"). */
  async function roomThrough(lb, clientOpts, tag) {
    const url = `https://127.0.0.1:${lb.port}`;
    const kinds = [['polling'], ['websocket'], ['polling', 'websocket']];
    const users = [];
    for (const [i, opts] of clientOpts.entries()) {
      for (const [k, transports] of kinds.entries()) {
        const sub = `${tag}-${i}-${k}`;
        const s = await connect(url, { ca: lb.ca, transports, ...opts, auth: { token: mintToken({ sub, name: sub }, nodes[0].secret) } });
        s.sub = sub;
        s.firstId = s.io.engine.id;
        s.drops = [];
        s.on('disconnect', (why) => s.drops.push(why));
        users.push(s);
      }
    }
    const room = `${tag}-room`;
    for (const s of users) {
      const r = await s.timeout(5000).emitWithAck('chat:join', room);
      assert.ok(!r?.error, JSON.stringify(r));
    }
    const upgraders = users.filter((s) => s.io.opts.transports.length === 2);
    await until(() => upgraders.every((s) => s.io.engine.transport.name === 'websocket'), 8000, 'the upgrades through the balancer');
    await new Promise((r) => setTimeout(r, 300)); // every join known on both nodes
    const got = users.map(() => new Map());
    users.forEach((s, i) => s.on('chat:message', (m) => got[i].set(m.clientMessageId, (got[i].get(m.clientMessageId) ?? 0) + 1)));
    const acks = await Promise.all(users.map((s) => s.timeout(8000).emitWithAck('chat:message',
      { roomId: room, message: `from ${s.sub}`, clientMessageId: s.sub })));
    for (const a of acks) assert.ok(a && !a.error && a.id, JSON.stringify(a));
    const want = users.map((s) => s.sub).sort();
    await until(() => got.every((g) => g.size === want.length), 10000, 'every message delivered to everyone');
    // A last message closes the window for duplicates.
    const end = users.map((s) => waitForArgs(s, 'chat:message', 8000, (m) => m.clientMessageId === `${tag}-end`));
    await users[0].timeout(8000).emitWithAck('chat:message', { roomId: room, message: 'end', clientMessageId: `${tag}-end` });
    await Promise.all(end);
    for (const g of got) assert.deepEqual([...g.entries()].filter(([k]) => k !== `${tag}-end`).sort(), want.map((k) => [k, 1]));
    for (const s of users) {
      assert.equal(s.io.engine.id, s.firstId, `${s.sub} changed sessions`);
      assert.deepEqual(s.drops, [], `${s.sub} was disconnected`);
    }
    return users;
  }

  before(async () => {
    redis = await startRedis();
    pki = makePki();
    work = mkdtempSync(path.join(tmpdir(), 'sb-balancers-'));
    for (let i = 0; i < 2; i++) {
      nodes.push(await startServer('switchboard', {
        args: ['--redis-url', redis.url, '--api-key', KEY, '--events-per-second', '0'],
      }));
    }
    await until(async () => {
      const hs = await Promise.all(nodes.map((n) => fetch(`${n.url}/health`).then((r) => r.json())));
      return hs.every((h) => h.redis === 'up');
    }, 10000, 'both nodes subscribed to Redis');
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /* The documented HAProxy configuration, listening on `port`. */
  function haproxyConfig(port) {
    let cfg = docBlock('**HAProxy**');
    const pem = path.join(work, 'site.pem');
    writeFileSync(pem, readFileSync(pki.cert, 'utf8') + readFileSync(pki.key, 'utf8'));
    cfg = swap(cfg, 'bind :443 ssl crt /etc/haproxy/site.pem', `bind 127.0.0.1:${port} ssl crt ${pem}`);
    cfg = swap(cfg, '10.0.0.11:3000', `127.0.0.1:${nodes[0].port}`);
    return swap(cfg, '10.0.0.12:3000', `127.0.0.1:${nodes[1].port}`);
  }

  async function startHaproxy(cfg, port) {
    const file = path.join(work, `haproxy-${port}.cfg`);
    writeFileSync(file, `global\n    maxconn 512\n\n${cfg}\n`);
    const lb = await startBalancer('/usr/sbin/haproxy', ['-db', '-f', file], port, pki.ca);
    lb.ca = pki.ca;
    return lb;
  }

  /* A balancer sticky on the client's address: client addresses
   * (127.0.0.0/8 is all loopback) are tried until both nodes have one;
   * every session from an address lands on its node. Then clients from
   * one address per node. */
  async function stickyByAddress(lb, tag) {
    const byNode = new Map();
    for (let a = 2; a < 40 && byNode.size < 2; a++) {
      const addr = `127.0.0.${a}`;
      const owners = new Set();
      for (let i = 0; i < 3; i++) owners.add(await ownerOf((await rawSession(lb, addr)).sid));
      assert.equal(owners.size, 1, `sessions from ${addr} on nodes ${[...owners]}`);
      const [owner] = owners;
      if (!byNode.has(owner)) byNode.set(owner, addr);
    }
    assert.equal(byNode.size, 2, 'no client address hashed to the second node');
    const before = await nodeCounters();
    for (const addr of byNode.values()) await rawSession(lb, addr);
    const agents = [...byNode.values()].map((localAddress) => new https.Agent({ localAddress, keepAlive: true }));
    try {
      await roomThrough(lb, agents.map((agent) => ({ agent })), tag);
    } finally {
      for (const a of agents) a.destroy();
    }
    await assertNoErrorsOnEitherNode(before, lb);
  }

  test('HAProxy with the inserted cookie: handshakes spread, every later request sticks, clients with withCredentials work', async () => {
    const port = await freePort();
    const lb = await startHaproxy(haproxyConfig(port), port);
    try {
      const owners = new Set();
      for (let i = 0; i < 4; i++) {
        const { sid, cookie } = await rawSession(lb);
        const owner = await ownerOf(sid);
        assert.equal(cookie, `SB=sb${owner + 1}`, `session ${sid} on node ${owner}`);
        owners.add(owner);
      }
      assert.equal(owners.size, 2, 'the handshakes went to one node only');
      const before = await nodeCounters();
      for (let i = 0; i < 4; i++) await rawSession(lb);
      await roomThrough(lb, [{ withCredentials: true }, { withCredentials: true }], 'hap');
      await assertNoErrorsOnEitherNode(before, lb);
    } finally {
      await lb.stop();
    }
  }, { timeout: 40000 });

  test('nginx hashing the client address: each client address sticks to one node, clients from two addresses on two nodes', async () => {
    const port = await freePort();
    let cfg = docBlock('**nginx**');
    cfg = swap(cfg, 'listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`);
    cfg = swap(cfg, '/etc/nginx/site.crt', pki.cert);
    cfg = swap(cfg, '/etc/nginx/site.key', pki.key);
    cfg = swap(cfg, '10.0.0.11:3000', `127.0.0.1:${nodes[0].port}`);
    cfg = swap(cfg, '10.0.0.12:3000', `127.0.0.1:${nodes[1].port}`);
    const log = path.join(work, 'nginx-error.log');
    const temp = (n) => `${n}_temp_path ${path.join(work, `nginx-${n}`)};`;
    const file = path.join(work, 'nginx.conf');
    writeFileSync(file, [
      'daemon off;', 'master_process off;', `pid ${path.join(work, 'nginx.pid')};`, `error_log ${log} warn;`,
      'events { worker_connections 512; }',
      'http {', 'access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp),
      cfg, '}', ''].join('\n'));
    const lb = await startBalancer('/usr/sbin/nginx', ['-p', work, '-c', file, '-e', log], port, pki.ca, log);
    lb.ca = pki.ca;
    try {
      await stickyByAddress(lb, 'ngx');
    } finally {
      await lb.stop();
    }
  }, { timeout: 40000 });

  test('HAProxy without cookies (balance source, as documented): each client address sticks to one node', async () => {
    const port = await freePort();
    let cfg = haproxyConfig(port);
    cfg = swap(cfg, 'balance leastconn', 'balance source');
    cfg = swap(cfg, 'cookie SB insert indirect nocache httponly secure', 'hash-type consistent');
    const lb = await startHaproxy(cfg, port);
    try {
      await stickyByAddress(lb, 'src');
    } finally {
      await lb.stop();
    }
  }, { timeout: 40000 });
});
