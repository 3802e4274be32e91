// The part of the Switchboard server contract (docs/events.md) that the
// idle and connect modes use, on socket.io@4: HS256 JWT middleware (auth.token
// or Authorization: Bearer), presence (a user:<id> room per user,
// connection:established, user:online / user:offline once per user however
// many devices) and chat:join / chat:leave with {ok:true, roomId} acks and a
// chat:user_joined / chat:user_left to the other members.
// Usage: node sio-chat.mjs --port P --jwt-secret S [--host H] [--engine ws|uws]
import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseArgs, startSocketIo } from './common.mjs';

const opts = parseArgs(process.argv.slice(2));
const secret = opts['jwt-secret'] || process.env.SWITCHBOARD_JWT_SECRET || '';
if (!secret) {
  process.stderr.write('sio-chat: --jwt-secret is required\n');
  process.exit(2);
}
const RESERVED = ['user:', 'conversation:', 'post:', 'metric:', 'doc:', 'rtc:'];

function authError(code, what) {
  const e = new Error(`Authentication error: ${what}`);
  e.data = { code };
  return e;
}

/** Returns the claims of a valid HS256 token, or throws an auth error. */
function verify(token) {
  const parts = token.split('.');
  if (parts.length !== 3) throw authError('token_invalid', 'invalid token');
  let header; let claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw authError('token_invalid', 'invalid token');
  }
  if (!header || header.alg !== 'HS256' || !claims || typeof claims !== 'object') {
    throw authError('token_invalid', 'invalid token');
  }
  const want = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const got = Buffer.from(parts[2], 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw authError('token_invalid', 'invalid token');
  if (typeof claims.exp !== 'number') throw authError('token_invalid', 'invalid token');
  if (claims.exp * 1000 <= Date.now() - 30000) throw authError('token_expired', 'token expired');
  const id = claims.sub ?? claims.id;
  if ((typeof id !== 'string' && typeof id !== 'number') || String(id) === '') {
    throw authError('token_invalid', 'invalid token');
  }
  return claims;
}

function tokenOf(handshake) {
  const auth = handshake.auth || {};
  if (typeof auth.token === 'string' && auth.token) return auth.token;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(handshake.headers.authorization || '');
  return m ? m[1] : null;
}

function roomOf(arg) {
  const room = arg && typeof arg === 'object' && !Array.isArray(arg) ? arg.roomId : arg;
  if (typeof room !== 'string' || room.length < 1 || room.length > 128 || /[\x00-\x1f\x7f]/.test(room)) {
    return { error: { code: 'invalid_payload', message: 'roomId must be a string of 1-128 printable characters' } };
  }
  if (RESERVED.some((p) => room.startsWith(p))) {
    return { error: { code: 'forbidden_room', message: `room "${room}" is reserved` } };
  }
  return { room };
}

const online = new Map(); // userId -> Set of socket ids

startSocketIo('sio-chat', opts, (io) => {
  io.use((socket, next) => {
    const token = tokenOf(socket.handshake);
    if (!token) return next(authError('token_missing', 'token missing'));
    try {
      const claims = verify(token);
      socket.data.userId = String(claims.sub ?? claims.id);
      socket.data.name = typeof claims.name === 'string' ? claims.name : socket.data.userId;
      return next();
    } catch (e) {
      return next(e);
    }
  });

  io.on('connection', (socket) => {
    const { userId, name } = socket.data;
    socket.join(`user:${userId}`);
    let devices = online.get(userId);
    const first = !devices;
    if (first) online.set(userId, (devices = new Set()));
    devices.add(socket.id);
    socket.emit('connection:established', { userId, onlineUsers: [...online.keys()] });
    if (first) socket.broadcast.except(`user:${userId}`).emit('user:online', { userId });

    socket.on('chat:join', (arg, ack) => {
      const r = roomOf(arg);
      if (!r.error) {
        socket.join(r.room);
        socket.to(r.room).emit('chat:user_joined', { roomId: r.room, userId, name });
      }
      if (typeof ack === 'function') ack(r.error ? { error: r.error } : { ok: true, roomId: r.room });
    });
    socket.on('chat:leave', (arg, ack) => {
      const r = roomOf(arg);
      if (!r.error) {
        socket.to(r.room).emit('chat:user_left', { roomId: r.room, userId });
        socket.leave(r.room);
      }
      if (typeof ack === 'function') ack(r.error ? { error: r.error } : { ok: true, roomId: r.room });
    });
    socket.on('disconnect', () => {
      devices.delete(socket.id);
      if (devices.size === 0 && online.get(userId) === devices) {
        online.delete(userId);
        io.emit('user:offline', { userId, lastSeen: new Date().toISOString() });
      }
    });
  });
});
