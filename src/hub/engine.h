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
/* A stored event for a user's devices, relayed to the other nodes. */
typedef struct {
    unsigned stream; /* 0: messages, 1: notifications */
    sb_str_t user;
    int64_t id;     /* the event's, in the store named by `store` */
    int64_t prev;   /* the user's previous event, confirmed or not (0: none or not known) */
    sb_str_t store; /* that store's identity (sb_store_identity): ids of another name nothing */
    sb_str_t text;  /* the event, JSON */
} sb_engine_delivery_t;

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
    /* This node's requests to the others that wait for answers: started,
     * ended with every expected answer, ended by their timeout. */
    uint64_t asks_sent, asks_answered, asks_timed_out;
    uint64_t dead_nodes_cleaned;      /* dead nodes whose presence this node cleaned */
    uint64_t relayed_out, relayed_in; /* stored deliveries relayed to / from other nodes */
    uint64_t queued_bytes;            /* written to the engine, not yet sent */
    const char *node_id;              /* this node's id on the wire */
    uint64_t nodes; /* servers in the cluster, this one included, as last counted; 0: not yet */
} sb_engine_stats_t;

typedef struct sb_engine sb_engine_t;

/* 20 characters of the base64id alphabet [A-Za-z0-9_-]: the name of a
 * socket's own room, which listings of rooms leave out. */
static inline bool sb_engine_is_socket_room(sb_str_t room) {
    if (room.n != 20)
        return false;
    for (size_t i = 0; i < room.n; i++) {
        char ch = room.p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* What the other nodes answered to a request of this node, every slice
 * borrowed for the duration of the callback:
 *  - answers: a JSON array, one element per answer (serverSideEmit: each
 *    node's reply; fetchSockets: each socket {id, handshake, rooms, data};
 *    allRooms: each room, possibly twice; broadcast with acks: each
 *    client's first ack argument), in which binary values are placeholders
 *    {"_placeholder":true,"num":i} for attachments[i];
 *  - nodes: the other nodes counted when the request went out (the
 *    subscribers of the request channel minus this one, as the Node.js
 *    adapter counts them), and how many of them answered;
 *  - clients (broadcast with acks): the sockets the other nodes said they
 *    delivered to, whose acks are awaited;
 *  - timed_out: the timeout came before every expected answer;
 *  - truncated: answers past a bound (10,000 items, 256 binary values) were
 *    left out. */
typedef struct {
    bool timed_out, truncated;
    sb_str_t answers;
    const sb_str_t *attachments;
    size_t nattachments;
    uint32_t nodes, nodes_answered;
    uint64_t clients;
} sb_engine_result_t;
typedef void (*sb_engine_result_fn)(void *ud, const sb_engine_result_t *r);

/* What socketsJoin / socketsLeave / disconnectSockets do to the selection. */
typedef enum {
    SB_ENGINE_JOIN,
    SB_ENGINE_LEAVE,
    SB_ENGINE_DISCONNECT,
    SB_ENGINE_DISCONNECT_CLOSE, /* the whole connection, every namespace */
} sb_engine_sockets_op_t;

/* Requests to the other nodes (the "ask" ops below) share these rules: `done`
 * is called exactly once, on the loop and never from inside the call, at the
 * latest after timeout_ms. They return SB_OK, SB_ECLOSED (not connected),
 * SB_ENOTFOUND (namespace not watched), SB_EPROTO (args not JSON) or
 * SB_ENOMEM; done is not called then. They never act on this node's own
 * sockets: the caller does that part (hub/cluster_view.h). */
typedef struct {
    /* Shares a broadcast already delivered locally with the other nodes. */
    void (*publish)(sb_engine_t *e, const sb_engine_broadcast_t *b);
    /* Starts taking part for namespace `nsp` (subscriptions). Idempotent. */
    void (*watch_nsp)(sb_engine_t *e, sb_str_t nsp);
    void (*stats)(const sb_engine_t *e, sb_engine_stats_t *out);
    /* Socket.IO's serverSideEmit: `event` with raw JSON `args` to the other
     * nodes' server side. Without `done` nothing comes back (nor is
     * anything counted). */
    int (*server_emit)(sb_engine_t *e, sb_str_t nsp, sb_str_t event, sb_str_t args,
                       uint32_t timeout_ms, sb_engine_result_fn done, void *ud);
    /* fetchSockets: the other nodes' selected sockets. */
    int (*fetch_sockets)(sb_engine_t *e, sb_str_t nsp, const sb_engine_select_t *sel,
                         uint32_t timeout_ms, sb_engine_result_fn done, void *ud);
    /* allRooms: the rooms with a member on another node. */
    int (*all_rooms)(sb_engine_t *e, sb_str_t nsp, uint32_t timeout_ms, sb_engine_result_fn done,
                     void *ud);
    /* socketsJoin / socketsLeave (`rooms`) and disconnectSockets on the
     * other nodes; nothing comes back. */
    int (*sockets_op)(sb_engine_t *e, sb_str_t nsp, const sb_engine_select_t *sel,
                      sb_engine_sockets_op_t op, const sb_str_t *rooms, size_t nrooms);
    /* A broadcast whose every receiving client on the other nodes answers
     * an ack (their first argument each), waited for at most timeout_ms. */
    int (*broadcast_with_acks)(sb_engine_t *e, const sb_engine_broadcast_t *b, uint32_t timeout_ms,
                               sb_engine_result_fn done, void *ud);
    /* Presence as one truth for the cluster (docs/cluster.md, "Presence"):
     * a device of `user` connected (+1) or left (-1) on this node. The
     * engine counts devices per user across nodes and tells every node
     * (this one included, through sb_engine_host_t.presence) when a user
     * comes online or goes offline cluster-wide. False when it cannot
     * (not connected): the node then decides from its own devices. */
    bool (*device)(sb_engine_t *e, sb_str_t user, int delta);
    /* A stored event for a user's devices: the other nodes deliver it to
     * their devices of that user (host.relayed). */
    void (*relay)(sb_engine_t *e, const sb_engine_delivery_t *d);
    /* The live nodes as last read from the heartbeats, this one included:
     * a malloc'ed JSON array [{id, self, heartbeatAgeMs, figures}] (figures
     * as each node's host.node_figures wrote them), or NULL. */
    char *(*nodes_json)(const sb_engine_t *e);
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
 * (comma-separated) whose placeholders refer to attachments[], or
 * timed_out. Called exactly once per request. */
typedef void (*sb_engine_ack_fn)(void *ud, bool timed_out, sb_str_t args,
                                 const sb_str_t *attachments, size_t nattachments);

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
    /* Presence across the cluster (any of these may be NULL). A user came
     * online (last_seen_ms 0) or went offline cluster-wide; `announce`
     * false while the engine rebuilds the node's view, on each connect to
     * Redis: between presence_rebuild(ud, true) and (ud, false) it lists
     * every user online; at the end the node announces the differences
     * with its previous view (what changed while Redis was away). */
    void (*presence)(void *ud, sb_str_t user, bool online, int64_t last_seen_ms, bool announce);
    void (*presence_rebuild)(void *ud, bool begin);
    /* Visits this node's users with their device counts (until fn returns
     * false): what the engine registers again after a reconnect. */
    void (*local_users)(void *ud, bool (*fn)(sb_str_t user, uint32_t devices, void *fn_ud),
                        void *fn_ud);
    /* Another node's ops.relay: deliver to this node's devices of `user`. */
    void (*relayed)(void *ud, const sb_engine_delivery_t *d);
    /* This node's figures for its heartbeat: a malloc'ed JSON object, or NULL. */
    char *(*node_figures)(void *ud);
} sb_engine_host_t;

#endif
