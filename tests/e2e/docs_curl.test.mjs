// Every curl example in docs/http-api.md runs against a real server: the
// documentation cannot drift from the API. A comment line "# <status>"
// right after a command states the status it must get; otherwise 2xx. On the
// PostgreSQL store (SB_E2E_PG_URL), a later comment line "# on PostgreSQL:
// <status>" among those that follow the command states its status there.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startServer, repoRoot } from './lib/server.mjs';
import { test, isRef } from './lib/util.mjs';

const skip = isRef ? 'C-only: the reference server has no backend API' : false;
const onPostgres = Boolean(process.env.SB_E2E_PG_URL);
let srv;
before(async () => { if (!isRef) srv = await startServer('switchboard', { args: ['--api-key', 'doc-key'] }); });
after(async () => { if (srv) await srv.stop(); });

/** The curl commands of the ```sh blocks, continuation lines joined, each
 *  with the status its following "# 4xx" comment expects (or null). */
function examples() {
  const text = readFileSync(path.join(repoRoot, 'docs', 'http-api.md'), 'utf8');
  const out = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = block[1].replace(/\\\n\s*/g, ' ').split('\n');
    lines.forEach((line, i) => {
      if (!line.startsWith('curl ')) return;
      const m = /^#\s*(\d{3})\b/.exec(lines[i + 1] || '');
      let status = m ? Number(m[1]) : null;
      for (let j = i + 1; j < lines.length && lines[j].startsWith('#'); j++) {
        const pg = /^#\s*on PostgreSQL:\s*(\d{3})\b/.exec(lines[j]);
        if (pg && onPostgres) status = Number(pg[1]);
      }
      out.push({ cmd: line, status });
    });
  }
  return out;
}

test('every curl example in docs/http-api.md works as documented', async () => {
  const list = examples();
  assert.ok(list.length >= 10, `found ${list.length} curl examples`);
  for (const { cmd, status } of list) {
    const real = cmd.replaceAll('localhost:3000', `127.0.0.1:${srv.port}`);
    const out = execFileSync('sh', ['-c', `${real} -o /dev/null -w '%{http_code}'`],
      { env: { ...process.env, KEY: 'doc-key' }, encoding: 'utf8' });
    const code = Number(out.trim());
    if (status) assert.equal(code, status, cmd);
    else assert.ok(code >= 200 && code < 300, `${cmd} -> ${code}`);
  }
}, { skip });
