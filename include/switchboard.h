/* Switchboard public C API.
 *
 * Embed a real-time server in a C program: create a server from a config,
 * then use any layer on its own:
 *   - raw WebSocket routes      sb_server_ws_route()        (ws/ws.h)
 *   - raw Engine.IO endpoints   sb_server_eio_endpoint()    (engineio/engineio.h)
 *   - Socket.IO namespaces      sb_server_sio(), sb_sio_*() (socketio/socketio.h)
 * and run it with sb_server_run(). Everything runs on one event-loop thread;
 * callbacks must not block. See examples/ for an echo server at each layer
 * and a chat-room server, and docs/embedding.md for the contracts.
 *
 * Build: cc app.c $(pkg-config --cflags --libs switchboard)
 */
#ifndef SWITCHBOARD_H
#define SWITCHBOARD_H

#include "app/server.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "engineio/engineio.h"
#include "socketio/socketio.h"
#include "ws/ws.h"

#define SWITCHBOARD_VERSION "0.1.0"

#endif
