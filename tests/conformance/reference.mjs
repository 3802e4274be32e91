// The Node reference for tests/conformance/run-official.sh (SB_OFFICIAL_TARGET=ref):
// socket.io 4 and engine.io 6 from tests/e2e/node_modules, set up as the
// official suites' READMEs describe, on one port: Socket.IO at /socket.io/
// (namespaces / and /custom) and a raw Engine.IO echo at /engine.io/.
//   node tests/conformance/reference.mjs --port 3000
import http from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'e2e', 'package.json'));
const { Server } = require('socket.io');
const { attach } = require('engine.io');

const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : 3000;
const heartbeat = { pingInterval: 300, pingTimeout: 200, maxPayload: 1000000, cors: { origin: '*' } };

const httpServer = http.createServer((req, res) => { res.writeHead(404); res.end(); });
const io = new Server(httpServer, { ...heartbeat, connectTimeout: 1000 });
io.on('connection', (socket) => {
  socket.emit('auth', socket.handshake.auth);
  socket.on('message', (...args) => socket.emit('message-back', ...args));
  socket.on('message-with-ack', (...args) => { const ack = args.pop(); ack(...args); });
});
io.of('/custom').on('connection', (socket) => socket.emit('auth', socket.handshake.auth));
const eio = attach(httpServer, { ...heartbeat, path: '/engine.io/' });
eio.on('connection', (socket) => socket.on('data', (...args) => socket.send(...args)));
httpServer.listen(port, '127.0.0.1', () => process.stderr.write(`reference: listening on 127.0.0.1:${port}\n`));
process.on('SIGTERM', () => process.exit(0));
