// CLI parsing, startup line and graceful shutdown shared by the reference
// servers. They stand in for the C binaries, so they take the same flags
// (unknown flags are ignored) and print the same "listening on" line.
import http from 'node:http';
import { Server } from 'socket.io';

const BOOLEAN_FLAGS = new Set(['--allow-query-token', '--allow-tokens-without-exp', '--dev']);

/** Parses `--name value` / `--flag` pairs into {name: value|true}. */
export function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) { opts[a.slice(2, eq)] = a.slice(eq + 1); continue; }
    if (BOOLEAN_FLAGS.has(a) || i + 1 >= argv.length || argv[i + 1].startsWith('--')) {
      opts[a.slice(2)] = true;
    } else {
      opts[a.slice(2)] = argv[++i];
    }
  }
  return opts;
}

/** Creates the HTTP server and socket.io Server with the heartbeat flags. */
export function createIo(opts, extra = {}) {
  // What socket.io's own standalone server answers outside its path.
  const httpServer = http.createServer((req, res) => { res.writeHead(404); res.end(); });
  const ioOpts = { serveClient: false, ...extra };
  if (opts['ping-interval']) ioOpts.pingInterval = Number(opts['ping-interval']);
  if (opts['ping-timeout']) ioOpts.pingTimeout = Number(opts['ping-timeout']);
  const io = new Server(httpServer, ioOpts);
  return { httpServer, io };
}

/** Listens, prints "listening on HOST:PORT" to stderr, exits 0 on SIGTERM/SIGINT. */
export function listen(httpServer, io, opts, name) {
  const host = opts.host || '127.0.0.1';
  const port = Number(opts.port ?? 3000);
  httpServer.listen(port, host, () => {
    const addr = httpServer.address();
    process.stderr.write(`${name}: listening on ${addr.address}:${addr.port}\n`);
  });
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    // Keep-alive polling connections could hold close() open: cap the wait.
    setTimeout(() => process.exit(0), 1000).unref();
    io.close(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
