// Section C: Debian's python3-socketio client (tests/e2e/python/client_test.py)
// against sio_echo over websocket and polling. Uses /usr/bin/python3 on purpose:
// the python3 on PATH may be another interpreter without python3-socketio.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startServer, e2eDir } from './lib/server.mjs';
import { test } from './lib/util.mjs';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(e2eDir, 'python', 'client_test.py');

let srv;
before(async () => { srv = await startServer('sio_echo'); });
after(async () => { if (srv) await srv.stop(); });

test('python-socketio: connect, call, echo, room relay (websocket and polling)', async () => {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing (apt-get install python3-socketio)`);
  const { code, stdout, stderr } = await new Promise((resolve) => {
    execFile(PYTHON, [SCRIPT, srv.url], { timeout: 25000 }, (err, out, errOut) => {
      resolve({ code: err ? (err.code ?? err.signal) : 0, stdout: out, stderr: errOut });
    });
  });
  assert.equal(code, 0, `client_test.py failed (${code}):\n${stdout}\n${stderr}`);
}, { timeout: 30000 });
