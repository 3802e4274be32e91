// Reference implementation of the first slice of the Switchboard server
// (section C of the e2e contract) on socket.io@4: JWT (HS256) auth,
// presence, chat rooms, typing, error reporting. State is in memory.
import { createHmac, timingSafeEqual, randomUUID } from 'node:crypto';
import { parseArgs, createIo, listen } from './common.mjs';

const opts = parseArgs(process.argv.slice(2));
const secret = opts['jwt-secret'] || process.env.SWITCHBOARD_JWT_SECRET || '';
const allowQueryToken = Boolean(opts['allow-query-token']);
const allowNoExp = Boolean(opts['allow-tokens-without-exp']);
const maxMessageBytes = Number(opts['max-message-bytes'] || 65536);
const { httpServer, io } = createIo(opts);

const RESERVED_PREFIXES = ['user:', 'conversation:', 'post:', 'metric:', 'doc:', 'rtc:'];

class AuthError extends Error {
  constructor(code, what) {
    super(`Authentication error: ${what}`);
    this.data = { code };
  }
}

function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

/** Verifies an HS256 JWT; returns its claims or throws AuthError. */
function verifyJwt(token) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new AuthError('token_invalid', 'invalid token');
  let header; let claims;
  try {
    header = b64urlJson(parts[0]);
    claims = b64urlJson(parts[1]);
  } catch {
    throw new AuthError('token_invalid', 'invalid token');
  }
  if (!header || header.alg !== 'HS256' || !claims || typeof claims !== 'object') {
    throw new AuthError('token_invalid', 'invalid token');
  }
  const want = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const got = Buffer.from(parts[2], 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    throw new AuthError('token_invalid', 'invalid token');
  }
  if (claims.exp === undefined) {
    if (!allowNoExp) throw new AuthError('token_invalid', 'invalid token');
  } else if (typeof claims.exp !== 'number') {
    throw new AuthError('token_invalid', 'invalid token');
  } else if (claims.exp * 1000 <= Date.now()) {
    throw new AuthError('token_expired', 'token expired');
  }
  const id = claims.sub ?? claims.id;
  if ((typeof id !== 'string' && typeof id !== 'number') || String(id) === '') {
    throw new AuthError('token_invalid', 'invalid token');
  }
  return claims;
}

function findToken(handshake) {
  const auth = handshake.auth || {};
  if (typeof auth.token === 'string' && auth.token) return auth.token;
  const h = handshake.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (m) return m[1];
  }
  if (allowQueryToken && typeof handshake.query.token === 'string' && handshake.query.token) {
    return handshake.query.token;
  }
  return null;
}

io.use((socket, next) => {
  const token = findToken(socket.handshake);
  if (!token) return next(new AuthError('token_missing', 'token missing'));
  try {
    const claims = verifyJwt(token);
    socket.data.userId = String(claims.sub ?? claims.id);
    socket.data.name = typeof claims.name === 'string' ? claims.name : socket.data.userId;
    socket.data.exp = claims.exp;
    next();
  } catch (e) {
    next(e instanceof AuthError ? e : new AuthError('token_invalid', 'invalid token'));
  }
});

/** userId -> Set of socket ids (the user's devices). */
const online = new Map();

class EventError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function checkRoom(roomId) {
  if (typeof roomId !== 'string' || roomId.length < 1 || roomId.length > 128 ||
      /[\x00-\x1f\x7f]/.test(roomId)) {
    throw new EventError('invalid_payload', 'roomId must be a string of 1-128 printable characters');
  }
  if (RESERVED_PREFIXES.some((p) => roomId.startsWith(p))) {
    throw new EventError('forbidden_room', `room "${roomId}" is reserved`);
  }
  return roomId;
}

function checkObject(payload) {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new EventError('invalid_payload', 'payload must be an object');
  }
  return payload;
}

function checkMember(socket, roomId) {
  if (!socket.rooms.has(roomId)) throw new EventError('not_in_room', `not in room "${roomId}"`);
}

/** chat:join / chat:leave take a bare room string or {roomId} (as the C server does). */
function roomArg(arg) {
  return arg && typeof arg === 'object' && !Array.isArray(arg) ? arg.roomId : arg;
}

const handlers = {
  'chat:join'(socket, arg) {
    const roomId = checkRoom(roomArg(arg));
    socket.join(roomId);
    socket.to(roomId).emit('chat:user_joined', { roomId, userId: socket.data.userId });
    return { ok: true, roomId };
  },
  'chat:leave'(socket, arg) {
    const roomId = checkRoom(roomArg(arg));
    socket.to(roomId).emit('chat:user_left', { roomId, userId: socket.data.userId });
    socket.leave(roomId);
    return { ok: true, roomId };
  },
  'chat:message'(socket, payload) {
    const { roomId, message } = checkObject(payload);
    checkRoom(roomId);
    if (typeof message !== 'string' || message.length === 0) {
      throw new EventError('invalid_payload', 'message must be a non-empty string');
    }
    if (Buffer.byteLength(message) > maxMessageBytes) {
      throw new EventError('invalid_payload', `message longer than ${maxMessageBytes} bytes`);
    }
    checkMember(socket, roomId);
    const msg = {
      id: randomUUID(),
      roomId,
      message,
      sender: { id: socket.data.userId, name: socket.data.name },
      createdAt: new Date().toISOString(),
    };
    io.to(roomId).emit('chat:message', msg);
    return msg;
  },
  'chat:typing'(socket, payload) {
    const { roomId, isTyping } = checkObject(payload);
    checkRoom(roomId);
    checkMember(socket, roomId);
    socket.to(roomId).emit('chat:typing', { roomId, userId: socket.data.userId, isTyping: Boolean(isTyping) });
    return { ok: true };
  },
};

function dispatch(socket, event, args) {
  const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
  let result;
  try {
    const h = Object.hasOwn(handlers, event) ? handlers[event] : null;
    if (!h) throw new EventError('unknown_event', `unknown event "${event}"`);
    result = h(socket, ...args);
  } catch (e) {
    if (!(e instanceof EventError)) throw e;
    if (ack) ack({ error: { code: e.code, message: e.message } });
    else socket.emit('error', { code: e.code, message: e.message, event });
    return;
  }
  if (ack) ack(result);
}

io.on('connection', (socket) => {
  const { userId } = socket.data;
  socket.join(`user:${userId}`);
  let devices = online.get(userId);
  const first = !devices;
  if (first) online.set(userId, (devices = new Set()));
  devices.add(socket.id);
  socket.emit('connection:established', { userId, onlineUsers: [...online.keys()] });
  if (first) socket.broadcast.emit('user:online', { userId });

  if (typeof socket.data.exp === 'number') {
    const left = Math.min(socket.data.exp * 1000 - Date.now(), 2 ** 31 - 1);
    const t = setTimeout(() => socket.disconnect(true), Math.max(left, 0));
    socket.once('disconnect', () => clearTimeout(t));
  }

  socket.onAny((event, ...args) => dispatch(socket, event, args));

  socket.on('disconnect', () => {
    devices.delete(socket.id);
    if (devices.size === 0 && online.get(userId) === devices) {
      online.delete(userId);
      io.emit('user:offline', { userId, lastSeen: new Date().toISOString() });
    }
  });
});

listen(httpServer, io, opts, 'switchboard');
