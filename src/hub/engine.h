/* The engine boundary: how a node shares broadcasts and room operations with
 * the other nodes of a cluster. The hub delivers inside one process; an
 * engine (src/cluster/: Redis, in the wire format of the Socket.IO Redis
 * adapter) carries what must also reach other processes.
 *
 * Two directions, two tables:
 *  - sb_engine_ops_t: what the node asks of its engine (publish a broadcast,
 *    watch a namespace, report its state). Never blocks: an engine queues
 *    and returns, and drops (counting it) what it cannot queue.
 *  - sb_engine_host_t: what the engine asks of the node when another node
 *    speaks: deliver a broadcast to local members only, and the room
 *    operations and queries other nodes send (socketsJoin, fetchSockets, ...).
 *
 * A packet is described, not encoded: an event name, its arguments as raw
 * JSON (comma-separated, no brackets) in which binary values are Socket.IO
 * placeholders {"_placeholder":true,"num":i} for attachments[i]. Every slice
 * is borrowed for the duration of the call.
 *
 * Threading: an engine and its host belong to one loop thread. */
#ifndef SB_HUB_ENGINE_H
#define SB_HUB_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* Which sockets of a namespace: members of any of `rooms` (all sockets when
 * nrooms is 0) minus members of any of `except`. A socket's id is one of its
 * rooms while an engine is attached. */
typedef struct {
    const sb_str_t *rooms;
    size_t nrooms;
    const sb_str_t *except;
    size_t nexcept;
} sb_engine_select_t;

typedef struct {
    sb_str_t nsp;
    sb_str_t event;
    sb_str_t args;
    const sb_str_t *attachments;
    size_t nattachments;
    sb_engine_select_t to;
    bool is_volatile;
    bool compress;
} sb_engine_broadcast_t;

typedef struct {
    bool up; /* connected and subscribed */
    uint64_t published, publish_dropped, received, delivered_remote, ignored;
    uint64_t requests_answered, decode_errors, reconnects;
    uint64_t queued_bytes; /* written to the engine, not yet sent */
    const char *node_id;   /* this node's id on the wire */
    uint64_t nodes; /* servers in the cluster, this one included, as last counted; 0: not yet */
} sb_engine_stats_t;

typedef struct sb_engine sb_engine_t;

/* The answers of the other nodes to a serverSideEmit, as a JSON array text
 * (one element per answer); timed_out when not every node answered. */
typedef void (*sb_engine_answers_fn)(void *ud, bool timed_out, sb_str_t answers);

typedef struct {
    /* Shares a broadcast already delivered locally with the other nodes. */
    void (*publish)(sb_engine_t *e, const sb_engine_broadcast_t *b);
    /* Starts taking part for namespace `nsp` (subscriptions). Idempotent. */
    void (*watch_nsp)(sb_engine_t *e, sb_str_t nsp);
    void (*stats)(const sb_engine_t *e, sb_engine_stats_t *out);
    /* Socket.IO's serverSideEmit: `event` with raw JSON `args` to the other
     * nodes' server side. Without `done` nothing comes back; with it, done
     * is called exactly once (on the loop, never from inside this call)
     * with the answers, at the latest after timeout_ms. Returns SB_OK,
     * SB_ECLOSED (not connected), SB_ENOTFOUND (namespace not watched),
     * SB_EPROTO (args not JSON) or SB_ENOMEM; done is not called then. */
    int (*server_emit)(sb_engine_t *e, sb_str_t nsp, sb_str_t event, sb_str_t args,
                       uint32_t timeout_ms, sb_engine_answers_fn done, void *ud);
} sb_engine_ops_t;

struct sb_engine {
    const sb_engine_ops_t *ops;
};

/* A local socket as the engine sees it: an opaque handle valid during the
 * visit that produced it. */
typedef struct sb_engine_socket sb_engine_socket_t;
typedef bool (*sb_engine_socket_fn)(sb_engine_socket_t *s, void *ud);
typedef bool (*sb_engine_room_fn)(sb_str_t room, void *ud);
/* The answer to a server-side ack or a client ack: raw JSON arguments
 * (comma-separated), or timed_out. Called exactly once per request. */
typedef void (*sb_engine_ack_fn)(void *ud, bool timed_out, sb_str_t args);

typedef struct {
    void *ud;
    /* False when this node has no namespace of that name. */
    bool (*has_nsp)(void *ud, sb_str_t nsp);
    /* Delivers to the selected local sockets only; never publishes. */
    void (*deliver)(void *ud, const sb_engine_broadcast_t *b);
    /* Visits the selected local sockets until fn returns false. fn may not
     * join, leave or disconnect: collect first (sb_engine_socket_* below). */
    void (*select)(void *ud, sb_str_t nsp, const sb_engine_select_t *sel, sb_engine_socket_fn fn,
                   void *fn_ud);
    /* Rooms that have a local member, until fn returns false. */
    void (*rooms)(void *ud, sb_str_t nsp, sb_engine_room_fn fn, void *fn_ud);
    /* Joins / leaves every selected socket to / from `rooms`. */
    void (*join)(void *ud, sb_str_t nsp, const sb_engine_select_t *sel, const sb_str_t *rooms,
                 size_t nrooms, bool leave);
    /* Disconnects the selected sockets (close: the whole connection). */
    void (*disconnect)(void *ud, sb_str_t nsp, const sb_engine_select_t *sel, bool close);
    /* The socket's id (20 characters), and its description for fetchSockets
     * as a malloc'ed JSON object {id, handshake, rooms, data}, NULL on OOM. */
    sb_str_t (*socket_id)(void *ud, sb_engine_socket_t *s);
    char *(*socket_describe)(void *ud, sb_engine_socket_t *s);
    /* A serverSideEmit from another node. With ack_fn, the node answers once
     * (ack_fn may be called later, on the loop); without, none is wanted. */
    void (*server_event)(void *ud, sb_str_t nsp, sb_str_t event, sb_str_t args,
                         sb_engine_ack_fn ack_fn, void *ack_ud);
    /* A broadcast with acks from another node: delivers it to the selected
     * sockets, each with an ack; returns how many sockets it went to, and
     * calls ack_fn once per such socket (answer or timeout). */
    size_t (*deliver_with_acks)(void *ud, const sb_engine_broadcast_t *b, uint32_t timeout_ms,
                                sb_engine_ack_fn ack_fn, void *ack_ud);
} sb_engine_host_t;

#endif
