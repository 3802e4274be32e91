/* The Socket.IO sockets of the whole cluster as one: this node's and, with a
 * cluster engine (engine.h), every other node's, Switchboard or Node.js.
 * What the HTTP API acts on (GET /api/sockets, GET /api/rooms, POST
 * /api/rooms/:room/join, /api/emit with ack, ...). The composition root
 * implements it (app/cluster_view.c); on a node alone it sees that node.
 *
 * Results come as sb_engine_result_t (engine.h) with this node's part
 * included: `nodes` counts the other nodes only, `clients` every socket a
 * broadcast with acks went to. `done` is called exactly once, possibly from
 * inside the call (a node alone has nothing to wait for). The calls return
 * SB_OK, SB_ENOTFOUND (no such namespace), SB_ECLOSED (clustered, but Redis
 * is down: nothing was done), SB_EPROTO (args not JSON) or SB_ENOMEM; done is
 * not called then. */
#ifndef SB_HUB_CLUSTER_VIEW_H
#define SB_HUB_CLUSTER_VIEW_H

#include "hub/engine.h"

typedef struct {
    void *ud;
    /* Every selected socket {id, handshake, rooms, data}, this node's first. */
    int (*fetch_sockets)(void *ud, sb_str_t nsp, const sb_engine_select_t *sel, uint32_t timeout_ms,
                         sb_engine_result_fn done, void *done_ud);
    /* Every room with a member, each once, sorted; rooms named like a
     * socket id (20 characters of [A-Za-z0-9_-]: each socket's own room)
     * are left out. */
    int (*all_rooms)(void *ud, sb_str_t nsp, uint32_t timeout_ms, sb_engine_result_fn done,
                     void *done_ud);
    /* socketsJoin / socketsLeave / disconnectSockets: this node's selected
     * sockets now (their number in *local), the other nodes' when they read
     * the request (*published: false when Redis is down; nothing comes
     * back from them). */
    int (*sockets_op)(void *ud, sb_str_t nsp, const sb_engine_select_t *sel,
                      sb_engine_sockets_op_t op, const sb_str_t *rooms, size_t nrooms,
                      size_t *local, bool *published);
    /* A broadcast to the selected sockets of every node, each asked for an
     * ack (answers: each client's first ack argument). */
    int (*emit_with_acks)(void *ud, const sb_engine_broadcast_t *b, uint32_t timeout_ms,
                          sb_engine_result_fn done, void *done_ud);
} sb_cluster_view_t;

#endif
