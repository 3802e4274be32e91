// A throwaway PostgreSQL cluster for end-to-end tests, made by
// tests/lib/pg-cluster.sh: its own temp directory, a free loopback port, a
// database and role `switchboard`. Destroyed by destroy(), and in any case
// when this process exits, also on SIGINT/SIGTERM.
import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const helper = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../lib/pg-cluster.sh');
const live = new Set();

function destroySync(dir) {
  if (!live.delete(dir)) return;
  try { execFileSync(helper, ['destroy', dir], { stdio: 'ignore' }); } catch { /* best effort */ }
}
const creating = new Set(); // pg-cluster.sh create runs: on TERM they remove their own directory
process.on('exit', () => {
  for (const child of creating) child.kill('SIGTERM');
  for (const dir of [...live]) destroySync(dir);
});
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(sig, () => process.exit(code)); // 'exit' above cleans up
}

/**
 * Creates and starts a cluster. Resolves with { url, dir, stop(), start(), destroy() }:
 * stop()/start() take the server down and up again on the same port (fault
 * tests); destroy() removes everything.
 */
export async function startPostgres() {
  const pending = run(helper, ['create'], { timeout: 120_000 });
  creating.add(pending.child);
  const { stdout } = await pending.finally(() => creating.delete(pending.child));
  const value = (name) => stdout.match(new RegExp(`^${name}=(.*)$`, 'm'))?.[1];
  const dir = value('SB_PG_DIR');
  const url = value('SB_PG_URL');
  if (!dir || !url) throw new Error(`pg-cluster.sh create printed no cluster: ${stdout}`);
  live.add(dir);
  return {
    url,
    dir,
    stop: () => run(helper, ['stop', dir], { timeout: 120_000 }),
    start: () => run(helper, ['start', dir], { timeout: 120_000 }),
    destroy: async () => { destroySync(dir); },
  };
}
