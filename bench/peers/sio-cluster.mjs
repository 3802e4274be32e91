// The sio_echo contract on N socket.io@4 processes sharing rooms through
// @socket.io/redis-adapter (classic PUB/SUB): the Node.js counterpart of N
// `sio_echo --reuse-port --redis-url` processes (bench/cluster.sh). Node 20
// has no SO_REUSEPORT, so node:cluster shares the port: the primary accepts
// and hands connections to the workers in turn (the loadgen speaks
// WebSocket only, which needs no stickiness).
// Usage: node sio-cluster.mjs --port P --workers N --redis redis://H:P [--host H]
import cluster from 'node:cluster';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { parseArgs, runClusterPrimary, serveEchoContract, startSocketIo } from './common.mjs';

const opts = parseArgs(process.argv.slice(2));
const workers = Number(opts.workers ?? 2);

if (cluster.isPrimary) {
  runClusterPrimary('sio-cluster', workers);
} else {
  const pub = createClient({ url: opts.redis });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  startSocketIo(`sio-cluster worker ${process.pid}`, opts, (io) => {
    io.adapter(createAdapter(pub, sub));
    serveEchoContract(io);
  });
}
