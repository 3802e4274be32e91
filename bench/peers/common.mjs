// Shared by the benchmark peers: flags, the socket.io server on either
// engine, and the "listening on HOST:PORT" line the bench scripts wait for.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import { Server } from 'socket.io';

const require = createRequire(import.meta.url);

/** Parses `--name value`, `--name=value` and bare `--flag` into an object. */
export function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) opts[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) opts[a.slice(2)] = true;
    else opts[a.slice(2)] = argv[++i];
  }
  return opts;
}

/** Loads the native uWebSockets.js build, or exits: the package silently
 *  falls back to a slow pure-JS emulation, which must never be measured. */
export function loadUws() {
  const uws = require('@trufflesuite/uws-js-unofficial');
  if (typeof uws.SSLApp !== 'function') {
    process.stderr.write('uWebSockets.js native build not available on this Node.js\n');
    process.exit(3);
  }
  return uws;
}

function announce(name, host, port) {
  process.stderr.write(`${name}: listening on ${host}:${port}\n`);
}

function exitOnSignal() {
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Starts socket.io on the `ws` engine (default) or attached to a uWS app,
 *  calls setup(io), then listens. Heartbeat flags mirror Switchboard's. */
export function startSocketIo(name, opts, setup) {
  const host = opts.host || '127.0.0.1';
  const port = Number(opts.port ?? 3000);
  const ioOpts = { serveClient: false };
  if (opts['ping-interval']) ioOpts.pingInterval = Number(opts['ping-interval']);
  if (opts['ping-timeout']) ioOpts.pingTimeout = Number(opts['ping-timeout']);
  exitOnSignal();
  if (opts.engine === 'uws') {
    const uws = loadUws();
    const app = uws.App();
    const io = new Server(ioOpts);
    io.attachApp(app);
    setup(io);
    app.listen(host, port, (token) => {
      if (!token) { process.stderr.write(`${name}: cannot listen on ${host}:${port}\n`); process.exit(1); }
      announce(name, host, uws.us_socket_local_port(token));
    });
    return io;
  }
  // --tls-cert/--tls-key: node:https, as a small team would serve wss://.
  const httpServer = opts['tls-cert']
    ? https.createServer({ cert: readFileSync(opts['tls-cert']), key: readFileSync(opts['tls-key']) })
    : http.createServer();
  const io = new Server(httpServer, ioOpts);
  setup(io);
  httpServer.listen(port, host, () => announce(name, host, httpServer.address().port));
  return io;
}

/** The sio_echo contract (examples/sio_echo.c) on `io`: echo, join, leave,
 *  relay to a room except the sender. */
export function serveEchoContract(io) {
  io.on('connection', (socket) => {
    socket.on('echo', (...args) => {
      const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
      if (ack) ack(...args);
      else socket.emit('echo', ...args);
    });
    socket.on('join', (room, ack) => {
      socket.join(room);
      if (typeof ack === 'function') ack(true);
    });
    socket.on('leave', (room, ack) => {
      socket.leave(room);
      if (typeof ack === 'function') ack(true);
    });
    socket.on('relay', (room, ...rest) => {
      if (typeof rest[rest.length - 1] === 'function') rest.pop();
      socket.to(room).emit('relay', ...rest);
    });
  });
}

/** In a node:cluster primary: forks `workers` workers, reports their exits,
 *  and stops them on SIGTERM / SIGINT. (Node 20 has no SO_REUSEPORT: the
 *  primary accepts and hands connections to the workers in turn.) */
export function runClusterPrimary(name, workers) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (w, code, signal) => {
    process.stderr.write(`${name}: worker ${w.process.pid} exited (${code ?? signal})\n`);
  });
  const stop = () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
