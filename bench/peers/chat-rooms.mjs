// chat:join / chat:leave as Switchboard answers them (docs/events.md):
// {ok:true, roomId} acks, chat:user_joined / chat:user_left to the other
// members, the reserved prefixes refused. Shared by the peers that serve the
// built-in contract (sio-chat.mjs, sio-chat-cluster.mjs).
const RESERVED = ['user:', 'conversation:', 'post:', 'metric:', 'doc:', 'rtc:'];

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

/** Installs chat:join and chat:leave on an authenticated socket. */
export function serveChatRooms(socket) {
  const { userId, name } = socket.data;
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
}
