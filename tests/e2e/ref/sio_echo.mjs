// Reference implementation of the sio_echo example (section A of the e2e
// contract) on socket.io@4. Namespaces "/" and "/admin" behave the same.
import { parseArgs, createIo, listen } from './common.mjs';

const opts = parseArgs(process.argv.slice(2));
const { httpServer, io } = createIo(opts);

function setup(nsp) {
  nsp.use((socket, next) => {
    const deny = socket.handshake.auth && socket.handshake.auth.deny;
    if (deny) return next(new Error(String(deny)));
    next();
  });
  nsp.on('connection', (socket) => {
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
    socket.on('relay_except', (room, except, ...rest) => {
      if (typeof rest[rest.length - 1] === 'function') rest.pop();
      nsp.to(room).except(except).emit('relay', ...rest);
    });
    socket.on('ask', (payload) => {
      socket.timeout(2000).emit('question', payload, (err, v) => {
        if (err) socket.emit('answer_timeout');
        else socket.emit('answer', v);
      });
    });
    socket.on('disconnect_me', () => socket.disconnect());
  });
}

setup(io.of('/'));
setup(io.of('/admin'));
listen(httpServer, io, opts, 'sio_echo');
