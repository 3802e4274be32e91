/* This node's Socket.IO sockets as the cluster sees them: the sockets a
 * selection {rooms, except} names, and a socket described as Node.js
 * Socket.IO's fetchSockets() describes one. Shared by the answers to other
 * nodes (cluster_host.c) and the whole-cluster view (cluster_view.c). */
#ifndef SB_APP_LOCAL_SOCKETS_H
#define SB_APP_LOCAL_SOCKETS_H

#include <jansson.h>

#include "hub/engine.h"
#include "socketio/socketio.h"

typedef struct {
    sb_sio_socket_t **v;
    size_t n, cap;
    bool oom;
} sb_local_sockets_t;

/* The user a socket belongs to (fetchSockets' data.userId), or NULL; *name
 * gets the user's display name (data.name), or NULL. */
typedef const char *(*sb_local_user_fn)(void *ud, const sb_sio_socket_t *s, const char **name);

/* The selected sockets of `nsp`, each once, collected before anything acts
 * on them (joins and disconnects may not run inside a hub visit). Unless
 * ids_are_rooms (a cluster engine is attached: each socket is in a room
 * named by its id), a room with no member that is a socket's id names that
 * socket (an O(sockets) look-up). Free with sb_local_sockets_free. */
sb_local_sockets_t sb_local_sockets_select(sb_sio_nsp_t *nsp, const sb_engine_select_t *sel,
                                           bool ids_are_rooms);
void sb_local_sockets_free(sb_local_sockets_t *set);

/* {id, handshake, rooms, data: {userId?, name?}}, NULL on OOM. */
json_t *sb_local_socket_json(sb_sio_socket_t *s, sb_local_user_fn user_fn, void *user_ud);

#endif
