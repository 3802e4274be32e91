// What the bcast mode of the load generator uses of the Switchboard server
// contract (bench/cluster100k.sh), on N socket.io@4 processes sharing rooms
// through @socket.io/redis-adapter (classic PUB/SUB): HS256 JWT middleware,
// a user:<id> room per socket, connection:established, chat:join /
// chat:leave (chat-rooms.mjs), and POST /api/emit with the API key
// ({"to":{"room":R}|{"all":true},"event":E,"data":D} -> io.to(R).emit(E, D)
// or io.emit(E, D) across the cluster). Like Switchboard's default presence
// scope (friends) with no friendships, it tells nobody of anyone's presence.
// node:cluster shares the port (Node 20 has no SO_REUSEPORT): the primary
// accepts and hands connections to the workers in turn.
// Usage: node sio-chat-cluster.mjs --port P --workers N --redis redis://H:P
//        --jwt-secret S --api-key K [--host H]
import cluster from 'node:cluster';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { parseArgs, runClusterPrimary, startSocketIo } from './common.mjs';
import { jwtMiddleware } from './jwt.mjs';
import { serveChatRooms } from './chat-rooms.mjs';

const opts = parseArgs(process.argv.slice(2));
const workers = Number(opts.workers ?? 2);

/** POST /api/emit on the socket.io server's HTTP server. */
function serveEmit(io, key) {
  io.httpServer.on('request', (req, res) => {
    if (req.url !== '/api/emit') return; // engine.io answers its own path
    const answer = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST') return answer(405, { error: 'method_not_allowed' });
    if (req.headers.authorization !== `Bearer ${key}`) return answer(401, { error: 'unauthorized' });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      let m;
      try { m = JSON.parse(body); } catch { return answer(400, { error: 'invalid_json' }); }
      if (!m || typeof m.event !== 'string' || !m.to) return answer(400, { error: 'invalid_payload' });
      if (m.to.all === true) io.emit(m.event, m.data);
      else if (typeof m.to.room === 'string') io.to(m.to.room).emit(m.event, m.data);
      else return answer(400, { error: 'invalid_payload' });
      return answer(200, { ok: true });
    });
  });
}

if (cluster.isPrimary) {
  runClusterPrimary('sio-chat-cluster', workers);
} else {
  const secret = opts['jwt-secret'];
  const key = opts['api-key'];
  if (!secret || !key) {
    process.stderr.write('sio-chat-cluster: --jwt-secret and --api-key are required\n');
    process.exit(2);
  }
  const pub = createClient({ url: opts.redis });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  startSocketIo(`sio-chat-cluster worker ${process.pid}`, opts, (io) => {
    io.adapter(createAdapter(pub, sub));
    io.use(jwtMiddleware(secret));
    io.on('connection', (socket) => {
      const { userId } = socket.data;
      socket.join(`user:${userId}`);
      socket.emit('connection:established', { userId });
      serveChatRooms(socket);
    });
    serveEmit(io, key);
  });
}
