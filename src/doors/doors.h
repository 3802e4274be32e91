/* More doors into the same rooms (DESIGN §1 "One hub, several doors"):
 * clients without a Socket.IO library reach the Socket.IO namespace "/"
 * through other protocols, and meet its sockets in the same rooms.
 *
 * The plain JSON WebSocket door (/ws): each connection carries a Socket.IO
 * session (engineio's carried sessions), so it has a socket in "/" with the
 * same middleware, handlers, rooms, rate limits and heartbeats as any other;
 * the door only translates. A client message {"type","data","id"?} becomes
 * a Socket.IO event (a few seed names are mapped: join_room -> chat:join
 * ...); what the socket is sent becomes {"type","data"} (chat:message ->
 * new_message ...), and the answer to an event carrying an "id" comes back
 * as {"type":"ack","id","data"}. */
#ifndef SB_DOORS_DOORS_H
#define SB_DOORS_DOORS_H

#include <stdint.h>

#include "engineio/engineio.h"
#include "http/http.h"
#include "ws/ws.h"

typedef struct sb_door_ws sb_door_ws_t;

typedef struct {
    uint64_t open;         /* WebSocket connections open now (gauge) */
    uint64_t connections;  /* WebSocket connections accepted */
    uint64_t messages_in;  /* client messages read */
    uint64_t messages_out; /* messages written to clients */
    uint64_t errors;       /* malformed client messages answered with an error */
    uint64_t not_carried;  /* binary packets a JSON client cannot receive, dropped */
    uint64_t cut;          /* clients cut as slow consumers (output over --max-outq-bytes) */
} sb_door_ws_stats_t;

typedef struct {
    const sb_ws_config_t *ws; /* must outlive the door */
    int max_json_depth;       /* bounds client JSON */
    /* join_room leaves the room the client joined before with join_room,
     * once the new join succeeded (seed 004's one-room clients). */
    bool single_room;
} sb_door_ws_config_t;

/* The door over `carried`, an Engine.IO server created with Socket.IO's
 * handler and never routed to HTTP (the door becomes its carrier); carried
 * must outlive the door, cfg is copied. A `?room=` on the upgrade request
 * is joined (join_room) as soon as the client is authenticated. */
sb_door_ws_t *sb_door_ws_create(sb_eio_server_t *carried, const sb_door_ws_config_t *cfg);
/* Frees the door; its sessions must be gone (destroy the carried server first). */
void sb_door_ws_destroy(sb_door_ws_t *d);
/* The HTTP handler of the door's path (ud = the door): a WebSocket upgrade,
 * else 426. Origin and drain checks are the caller's. */
void sb_door_ws_handle(sb_http_req_t *req, void *door);
const sb_door_ws_stats_t *sb_door_ws_stats(const sb_door_ws_t *d);

#endif
