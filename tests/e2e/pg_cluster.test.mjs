// The PostgreSQL test cluster helper (lib/postgres.mjs) that the store's
// PostgreSQL tests build on: it serves, stops and starts on demand, and
// nothing of it outlives the test process, even one killed by a signal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startPostgres } from './lib/postgres.mjs';

const run = promisify(execFile);
const helper = new URL('../lib/pg-cluster.sh', import.meta.url).pathname;
const psql = (url) => run('psql', ['-X', '-Atc', 'SELECT current_user', url], { timeout: 30_000 });

test('a cluster serves its URL, stops, starts again and is removed', async () => {
  const pg = await startPostgres();
  try {
    assert.match(pg.url, /^postgres:\/\/switchboard:[^@]+@127\.0\.0\.1:\d+\/switchboard$/);
    assert.equal((await psql(pg.url)).stdout.trim(), 'switchboard');
    await pg.stop();
    await assert.rejects(psql(pg.url));
    await pg.start();
    assert.equal((await psql(pg.url)).stdout.trim(), 'switchboard');
  } finally {
    await pg.destroy();
  }
  assert.equal(existsSync(pg.dir), false);
});

test('a test process killed by SIGTERM leaves no cluster behind', async () => {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    const { startPostgres } = await import(${JSON.stringify(new URL('./lib/postgres.mjs', import.meta.url).href)});
    const pg = await startPostgres();
    console.log(pg.dir);
    setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code} before creating a cluster`)));
  });
  assert.ok(existsSync(dir), dir);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.kill('SIGTERM');
  // Exited through its handler (code 143), which is what runs the cleanup.
  assert.deepEqual(await exited, { code: 143, signal: null });
  assert.equal(existsSync(dir), false);
});

test('a test process killed while its cluster is being made leaves nothing behind', async () => {
  // A TMPDIR of its own, so that other runs' clusters do not count.
  const tmp = mkdtempSync(path.join(tmpdir(), 'sb-pgtmp-'));
  chmodSync(tmp, 0o755); // the postgres user creates its cluster inside
  const until = async (cond, what) => {
    for (let i = 0; i < 600 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(cond(), what);
  };
  try {
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      const { startPostgres } = await import(${JSON.stringify(new URL('./lib/postgres.mjs', import.meta.url).href)});
      await startPostgres();
      setInterval(() => {}, 1000);`], { stdio: 'ignore', env: { ...process.env, TMPDIR: tmp } });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await until(() => readdirSync(tmp).length > 0, 'a cluster directory appears');
    child.kill('SIGTERM');
    await exited;
    await until(() => readdirSync(tmp).length === 0, 'the cluster directory is removed');
  } finally {
    for (const dir of readdirSync(tmp)) { // only when the test failed
      spawnSync(helper, ['destroy', path.join(tmp, dir)], { env: { ...process.env, TMPDIR: tmp } });
    }
    rmSync(tmp, { recursive: true, force: true });
  }
});
