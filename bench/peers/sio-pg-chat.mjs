// The Node.js peer of the stored-message benchmark (bench/store.mjs): the
// usual hand-written socket.io + pg server. `message:send {receiverId,
// content}` is one INSERT … RETURNING into PostgreSQL per message, then the
// message goes to the receiver's devices (`message:received`) and the ack
// (the stored message) after the INSERT's commit, as Switchboard acks after
// COMMIT. A pg.Pool of --pool connections (default 10, pg's own default).
// Usage: node sio-pg-chat.mjs --port P --jwt-secret S --database-url URL [--pool N]
import pg from 'pg';
import { parseArgs, startSocketIo } from './common.mjs';
import { jwtMiddleware } from './jwt.mjs';

const opts = parseArgs(process.argv.slice(2));
const secret = opts['jwt-secret'] || '';
if (!secret || !opts['database-url']) {
  process.stderr.write('sio-pg-chat: --jwt-secret and --database-url are required\n');
  process.exit(2);
}
const pool = new pg.Pool({ connectionString: opts['database-url'], max: Number(opts.pool || 10) });
await pool.query(`CREATE TABLE IF NOT EXISTS peer_messages (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id text NOT NULL, sender_id text NOT NULL, content text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now())`);

const direct = (a, b) => (a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`);

startSocketIo('sio-pg-chat', opts, (io) => {
  io.use(jwtMiddleware(secret));
  io.on('connection', (socket) => {
    const { userId, name } = socket.data;
    socket.join(`user:${userId}`);
    socket.on('message:send', async (arg, ack) => {
      if (typeof ack !== 'function') return;
      const { receiverId, content } = arg || {};
      if (typeof receiverId !== 'string' || typeof content !== 'string' || !content) {
        ack({ error: { code: 'invalid_payload', message: 'receiverId and content are required' } });
        return;
      }
      const conversationId = direct(userId, receiverId);
      try {
        const { rows } = await pool.query(
          'INSERT INTO peer_messages (conversation_id, sender_id, content) VALUES ($1, $2, $3) RETURNING id, created_at',
          [conversationId, userId, content]);
        const msg = { id: Number(rows[0].id), conversationId, senderId: userId, receiverId, content,
          messageType: 'text', createdAt: rows[0].created_at.toISOString(), sender: { id: userId, name } };
        io.to(`user:${receiverId}`).emit('message:received', msg);
        ack(msg);
      } catch (e) {
        ack({ error: { code: 'store_unavailable', message: String(e.message || e) } });
      }
    });
  });
});
