// The sio_echo contract (examples/sio_echo.c) on socket.io@4:
//   echo  -> ack with the same arguments (or emit "echo" back without an ack)
//   join  -> join the room, ack true
//   relay [room, ...rest] -> emit "relay" ...rest to the room except the sender
// Usage: node sio-echo.mjs --port P [--host H] [--engine ws|uws]
import { parseArgs, startSocketIo } from './common.mjs';

const opts = parseArgs(process.argv.slice(2));

startSocketIo('sio-echo', opts, (io) => {
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
});
