// The part of the Switchboard server contract (docs/events.md) that the
// idle and connect modes use, on socket.io@4: HS256 JWT middleware (auth.token
// or Authorization: Bearer), presence (a user:<id> room per user,
// connection:established, user:online / user:offline once per user however
// many devices) and chat:join / chat:leave with {ok:true, roomId} acks and a
// chat:user_joined / chat:user_left to the other members.
// Usage: node sio-chat.mjs --port P --jwt-secret S [--host H] [--engine ws|uws]
import { parseArgs, startSocketIo } from './common.mjs';
import { jwtMiddleware } from './jwt.mjs';
import { serveChatRooms } from './chat-rooms.mjs';

const opts = parseArgs(process.argv.slice(2));
const secret = opts['jwt-secret'] || process.env.SWITCHBOARD_JWT_SECRET || '';
if (!secret) {
  process.stderr.write('sio-chat: --jwt-secret is required\n');
  process.exit(2);
}
const online = new Map(); // userId -> Set of socket ids

startSocketIo('sio-chat', opts, (io) => {
  io.use(jwtMiddleware(secret));

  io.on('connection', (socket) => {
    const { userId } = socket.data;
    socket.join(`user:${userId}`);
    let devices = online.get(userId);
    const first = !devices;
    if (first) online.set(userId, (devices = new Set()));
    devices.add(socket.id);
    socket.emit('connection:established', { userId, onlineUsers: [...online.keys()] });
    if (first) socket.broadcast.except(`user:${userId}`).emit('user:online', { userId });

    serveChatRooms(socket);
    socket.on('disconnect', () => {
      devices.delete(socket.id);
      if (devices.size === 0 && online.get(userId) === devices) {
        online.delete(userId);
        io.emit('user:offline', { userId, lastSeen: new Date().toISOString() });
      }
    });
  });
});
