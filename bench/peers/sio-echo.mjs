// The sio_echo contract (examples/sio_echo.c) on socket.io@4:
//   echo  -> ack with the same arguments (or emit "echo" back without an ack)
//   join  -> join the room, ack true
//   relay [room, ...rest] -> emit "relay" ...rest to the room except the sender
// Usage: node sio-echo.mjs --port P [--host H] [--engine ws|uws]
import { parseArgs, serveEchoContract, startSocketIo } from './common.mjs';

const opts = parseArgs(process.argv.slice(2));

startSocketIo('sio-echo', opts, serveEchoContract);
