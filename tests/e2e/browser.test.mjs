// The demo chat (/) and the admin dashboard (/admin) in a real browser:
// Debian's chromium driven by playwright-core. Two browser contexts sign in
// as two users and chat (messages, typing, read receipt, notification,
// presence going offline); a reconnect after a server restart shows the
// messages missed meanwhile once; the dashboard refuses a wrong key, shows
// both users and the counters moving, emits to a room and disconnects a user.
// No console errors in any page. Screenshots go to $SB_BUILD_DIR/browser/
// (SB_SCREENSHOT_DIR overrides it: scripts/screenshots.sh writes docs/img/).
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, repoRoot, NO_EVENT_LIMIT } from './lib/server.mjs';
import { startRedis } from './lib/redis.mjs';
import { test, isRef, connect } from './lib/util.mjs';

const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';
const SKIP = isRef ? 'the web pages are the C server\'s' : false;
const KEY = 'browser-test-api-key';
const WEB = path.join(repoRoot, 'web');
const SHOTS = process.env.SB_SCREENSHOT_DIR ||
  path.join(path.resolve(repoRoot, process.env.SB_BUILD_DIR || 'build'), 'browser');
const T = 10000; // per wait: generous for the ASan build on a loaded machine

describe('the web chat and the dashboard in Chromium', { skip: SKIP }, () => {
  let browser;
  let srv;
  let dataDir;
  const consoleErrors = [];
  const allowed = []; // console errors a step expects (a refused key's 401)

  /** A page in a fresh context (its own sessionStorage: another user). */
  async function newPage(name) {
    const ctx = await browser.newContext({ viewport: { width: 1180, height: 720 } });
    const page = await ctx.newPage();
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const i = allowed.findIndex((re) => re.test(m.text()));
      if (i >= 0) allowed.splice(i, 1);
      else consoleErrors.push(`${name}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`${name}: uncaught ${e.message}`));
    return page;
  }

  async function signIn(page, name) {
    await page.goto(srv.url);
    await page.fill('#name', name);
    await page.click('#signin-btn');
    await page.waitForSelector('#conn[data-state="connected"]', { timeout: T });
  }

  async function say(page, text) {
    await page.fill('#text', text);
    await page.press('#text', 'Enter');
    await page.locator('.msg.mine .text', { hasText: text }).waitFor({ timeout: T });
  }

  /** Waits for `sel` to show `text`; on timeout says what it shows instead. */
  async function shows(page, sel, text) {
    try {
      await page.locator(sel, { hasText: text }).first().waitFor({ timeout: T });
    } catch (e) {
      const now = await page.locator(sel).allInnerTexts().catch(() => []);
      throw new Error(`${sel} never showed ${JSON.stringify(text)}; it shows ${JSON.stringify(now)}`);
    }
  }

  const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, name) });

  async function start(port = 0) {
    return startServer('switchboard', {
      args: ['--dev', '--api-key', KEY, '--web-root', WEB, '--data-dir', dataDir,
        '--port', String(port), '--recovery-window', '60000', ...NO_EVENT_LIMIT],
    });
  }

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/install-deps.sh installs chromium`);
    mkdirSync(SHOTS, { recursive: true });
    dataDir = mkdtempSync(path.join(tmpdir(), 'sb-browser-'));
    srv = await start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // As root (CI, containers) Chromium's sandbox cannot start.
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  });

  after(async () => {
    await browser?.close();
    await srv?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  let alice;
  let bob;

  test('two users chat: room message, typing, direct message, read receipt, notification', async () => {
    alice = await newPage('alice');
    bob = await newPage('bob');
    await signIn(alice, 'Alice');
    await signIn(bob, 'Bob');
    // Presence: each sees the other online.
    await alice.waitForSelector('#people li[data-user="bob"][data-online="true"]', { timeout: T });
    await bob.waitForSelector('#people li[data-user="alice"][data-online="true"]', { timeout: T });

    await say(alice, 'hello lobby');
    await bob.locator('.msg:not(.mine) .text', { hasText: 'hello lobby' }).waitFor({ timeout: T });

    await bob.locator('#text').pressSequentially('typing…', { delay: 20 });
    await shows(alice, '#typing', 'Bob is typing');
    await bob.fill('#text', '');

    // A direct message: unread on Bob's side until he opens it, then read.
    await alice.click('#people li[data-user="bob"]');
    await say(alice, 'hi Bob, direct');
    await bob.locator('#people li[data-user="alice"] .unread', { hasText: '1' }).waitFor({ timeout: T });
    await bob.click('#people li[data-user="alice"]');
    await bob.locator('.msg .text', { hasText: 'hi Bob, direct' }).waitFor({ timeout: T });
    await alice.locator('.msg.mine .receipt', { hasText: 'read' }).waitFor({ timeout: T });

    await bob.locator('#text').pressSequentially('and back', { delay: 20 });
    await shows(alice, '#typing', 'Bob is typing');
    await bob.press('#text', 'Enter');
    await alice.locator('.msg:not(.mine) .text', { hasText: 'and back' }).waitFor({ timeout: T });

    // A friend request is a notification: Bob's unread count.
    await alice.click('#people li[data-user="bob"] .add-friend');
    await bob.locator('#notif-count', { hasText: '1' }).waitFor({ timeout: T });
    await shot(alice, 'chat.png');
    assert.deepEqual(consoleErrors, []);
  }, { timeout: 60000 });

  test('the dashboard: refuses a wrong key, shows both users and moving counters, emits, disconnects', async () => {
    const admin = await newPage('admin');
    await admin.goto(`${srv.url}/admin/`);
    allowed.push(/401/);
    await admin.fill('#key', 'not-the-key');
    await admin.click('#key-btn');
    await admin.locator('#login-error', { hasText: 'not this server' }).waitFor({ timeout: T });
    assert.equal(await admin.isVisible('#dash'), false);

    await admin.fill('#key', KEY);
    await admin.click('#key-btn');
    await admin.waitForSelector('#users tr[data-user="alice"]', { timeout: T });
    await admin.waitForSelector('#users tr[data-user="bob"]', { timeout: T });
    await admin.waitForSelector('#rooms tr[data-room="lobby"]', { timeout: T });
    assert.match(await admin.locator('#store').innerText(), /commit time \(ms\)[^\n]*?[\d.]+ \/ [\d.]+ \/ [\d.]+/);
    const count = async (sel) => Number((await admin.locator(sel).innerText()).split('\n')[0]);
    assert.ok(await count('#fig-users') >= 2);
    const before = await count('#fig-events-in');
    await alice.click('#rooms li[data-room="lobby"]');
    await say(alice, 'counters, move');
    await admin.waitForFunction((n) => Number(document.querySelector('#fig-events-in').firstChild.nodeValue) > n,
      before, { timeout: T });

    await admin.fill('#room-search', 'lob');
    assert.equal(await admin.locator('#rooms tr').count(), 1);
    await admin.fill('#emit-room', 'lobby');
    await admin.fill('#emit-text', 'maintenance at five');
    await admin.click('#emit-form button');
    await alice.locator('.msg.system', { hasText: 'maintenance at five' }).waitFor({ timeout: T });
    await admin.waitForTimeout(1200); // one more second on the chart for the picture
    await shot(admin, 'admin.png');

    await admin.click('#users tr[data-user="bob"] button.disconnect');
    await bob.waitForSelector('#conn[data-state="offline"]', { timeout: T });
    await admin.waitForSelector('#users tr[data-user="bob"]', { state: 'detached', timeout: T });
    // Bob comes back by hand, then closes his tab: Alice sees him go offline.
    await bob.click('#reconnect');
    await bob.waitForSelector('#conn[data-state="connected"]', { timeout: T });
    await bob.context().close();
    await alice.waitForSelector('#people li[data-user="bob"][data-online="false"]', { timeout: T });
    await admin.context().close();
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(allowed, [], 'the refused key was reported');
  }, { timeout: 60000 });

  test('history comes a page at a time: the newest 30, then older ones on demand', async () => {
    const t = await fetch(`${srv.url}/api/dev/token`, { method: 'POST', body: JSON.stringify({ userId: 'carol' }) }).then((r) => r.json());
    const carol = await connect(srv.url, { auth: { token: t.token } });
    await carol.emitWithAck('chat:join', 'paging');
    for (let i = 1; i <= 35; i++) await carol.emitWithAck('chat:message', { roomId: 'paging', message: `page line ${i}` });
    carol.disconnect();
    await alice.fill('#join-room', 'paging');
    await alice.click('#join-form button');
    await shows(alice, '.msg .text', 'page line 35');
    assert.equal(await alice.locator('.msg .text').count(), 30);
    assert.equal(await alice.locator('.msg .text', { hasText: /^page line 5$/ }).count(), 0);
    await alice.click('#older');
    await shows(alice, '.msg .text', /^page line 1$/);
    assert.equal(await alice.locator('.msg .text').count(), 35);
    await alice.waitForSelector('#older', { state: 'hidden', timeout: T });
    assert.deepEqual(consoleErrors, []);
  });

  test('after a server restart the reconnect shows the messages missed meanwhile, once', async () => {
    bob = await newPage('bob');
    await signIn(bob, 'Bob');
    await bob.click('#people li[data-user="alice"]'); // open while she is online
    await alice.click('#rooms li[data-room="lobby"]');
    // Alice's tab stays away until told (the reconnect button), so what Bob
    // says after the restart is missed for sure.
    await alice.evaluate(() => st.socket.io.reconnection(false));
    const port = srv.port;
    await srv.stop();
    await alice.waitForSelector('#conn[data-state="reconnecting"]', { timeout: T });
    srv = await start(port);
    await bob.waitForSelector('#conn[data-state="connected"]', { timeout: 20000 });
    await say(bob, 'missed, directly');
    await bob.click('#rooms li[data-room="lobby"]');
    await say(bob, 'missed in the lobby');

    await alice.click('#reconnect');
    await alice.waitForSelector('#conn[data-state="connected"]', { timeout: T });
    await alice.locator('.msg .text', { hasText: 'missed in the lobby' }).waitFor({ timeout: T });
    await shows(alice, '#people li[data-user="bob"] .unread', '1');
    await alice.click('#people li[data-user="bob"]');
    await alice.locator('.msg .text', { hasText: 'missed, directly' }).waitFor({ timeout: T });
    assert.equal(await alice.locator('.msg .text', { hasText: 'missed, directly' }).count(), 1);
    assert.equal(await alice.locator('.msg .text', { hasText: 'hi Bob, direct' }).count(), 1);
    await alice.click('#rooms li[data-room="lobby"]');
    assert.equal(await alice.locator('.msg .text', { hasText: 'missed in the lobby' }).count(), 1);
    assert.equal(await alice.locator('.msg .text', { hasText: 'hello lobby' }).count(), 1);
    assert.deepEqual(consoleErrors, []);
  }, { timeout: 60000 });

  test('clustered, the dashboard has a row per node with its figures', async () => {
    const redis = await startRedis();
    const node = () => startServer('switchboard', {
      args: ['--api-key', KEY, '--web-root', WEB, '--redis-url', redis.url, '--cluster-node-timeout', '2000'],
    });
    const [n1, n2] = await Promise.all([node(), node()]);
    const page = await newPage('admin-cluster');
    try {
      await page.goto(`${n1.url}/admin/`);
      await page.fill('#key', KEY);
      await page.click('#key-btn');
      await page.waitForSelector('#nodes-panel:not([hidden])', { timeout: T });
      await page.waitForFunction(() => document.querySelectorAll('#nodes tr').length === 2, null, { timeout: T });
      assert.match(await page.locator('#nodes tr').first().innerText(), /\(this one\)/);
      await shot(page, 'admin-cluster.png');
      assert.deepEqual(consoleErrors, []);
    } finally {
      await page.context().close();
      await Promise.all([n1.stop(), n2.stop()]);
      await redis.stop();
    }
  }, { timeout: 60000 });
});
