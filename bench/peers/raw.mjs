// Raw WebSocket peer for the ws modes, on uWebSockets.js (--engine uws, the
// default) or on the `ws` package (--engine ws):
//   /echo    sends "welcome" on open (as examples/ws_echo.c does), then echoes
//            every message back as it came (text or binary)
//   /pubsub  "sub <room>" subscribes and answers "ok";
//            "pub <room> <payload>" sends <payload> to the room (the benchmark
//            publishers do not subscribe, so nobody gets their own message)
// Usage: node raw.mjs --port P [--host H] [--engine uws|ws]
import { WebSocketServer } from 'ws';
import { parseArgs, loadUws } from './common.mjs';

const opts = parseArgs(process.argv.slice(2));
const host = opts.host || '127.0.0.1';
const port = Number(opts.port ?? 3000);
const MAX_OUT = 4 * 1024 * 1024; // like Switchboard's --max-outq-bytes: cut slow consumers

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

function parsePubSub(text) {
  const sp1 = text.indexOf(' ');
  if (sp1 < 0) return null;
  const verb = text.slice(0, sp1);
  if (verb === 'sub') return { verb, room: text.slice(sp1 + 1) };
  const sp2 = text.indexOf(' ', sp1 + 1);
  if (verb !== 'pub' || sp2 < 0) return null;
  return { verb, room: text.slice(sp1 + 1, sp2), payload: text.slice(sp2 + 1) };
}

function startUws() {
  const uws = loadUws();
  const app = uws.App();
  const common = { maxPayloadLength: 1 << 20, idleTimeout: 0, maxBackpressure: MAX_OUT, closeOnBackpressureLimit: true };
  app.ws('/echo', {
    ...common,
    open: (ws) => ws.send('welcome', false),
    message: (ws, msg, isBinary) => ws.send(msg, isBinary),
  });
  app.ws('/pubsub', {
    ...common,
    message: (ws, msg) => {
      const m = parsePubSub(Buffer.from(msg).toString('utf8'));
      if (!m) return;
      if (m.verb === 'sub') {
        ws.subscribe(m.room);
        ws.send('ok', false);
      } else {
        app.publish(m.room, m.payload, false); // publishers do not subscribe, so no self-delivery
      }
    },
  });
  app.listen(host, port, (token) => {
    if (!token) { process.stderr.write(`raw: cannot listen on ${host}:${port}\n`); process.exit(1); }
    process.stderr.write(`raw-uws: listening on ${host}:${port === 0 ? uws.us_socket_local_port(token) : port}\n`);
  });
}

function startWs() {
  const wss = new WebSocketServer({ host, port, maxPayload: 1 << 20, perMessageDeflate: false });
  const rooms = new Map(); // room -> Set of sockets
  wss.on('connection', (ws, req) => {
    if (req.url.startsWith('/echo')) {
      ws.send('welcome');
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      return;
    }
    const mine = new Set();
    ws.on('message', (data) => {
      const m = parsePubSub(data.toString('utf8'));
      if (!m) return;
      if (m.verb === 'sub') {
        if (!rooms.has(m.room)) rooms.set(m.room, new Set());
        rooms.get(m.room).add(ws);
        mine.add(m.room);
        ws.send('ok');
        return;
      }
      for (const peer of rooms.get(m.room) || []) {
        if (peer === ws) continue;
        if (peer.bufferedAmount > MAX_OUT) peer.terminate();
        else peer.send(m.payload);
      }
    });
    ws.on('close', () => { for (const r of mine) rooms.get(r)?.delete(ws); });
  });
  wss.on('listening', () => process.stderr.write(`raw-ws: listening on ${host}:${wss.address().port}\n`));
}

if (opts.engine === 'ws') startWs();
else startUws();
