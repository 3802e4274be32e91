/* Private to src/socketio/. */
#ifndef SB_SIO_INTERNAL_H
#define SB_SIO_INTERNAL_H

#include "core/list.h"
#include "core/pool.h"
#include "core/random.h"
#include "core/slab.h"
#include "socketio/packet.h"
#include "socketio/socketio.h"

typedef struct {
    char *name;
    sb_sio_event_fn fn;
    void *ud;
} sb_sio_handler_t;

typedef struct {
    sb_sio_middleware_fn fn;
    void *ud;
} sb_sio_mw_t;

struct sb_sio_nsp {
    sb_sio_server_t *srv;
    char *name;
    sb_hub_t *hub;
    sb_sio_mw_t *mws;
    size_t nmws;
    sb_sio_handler_t *handlers;
    size_t nhandlers;
    sb_sio_event_fn any_fn;
    void *any_ud;
    sb_sio_socket_fn conn_fn;
    void *conn_ud;
    sb_sio_disconnect_fn disc_fn;
    void *disc_ud;
    sb_sio_event_fn limited_fn;
    void *limited_ud;
    size_t nsockets;
    sb_sio_recovery_t *rec; /* NULL unless connection state recovery is on */
};

struct sb_sio_server {
    sb_loop_t *loop;
    sb_sio_config_t cfg;
    sb_sio_nsp_t **nsps;
    size_t nnsps;
    sb_sio_stats_t stats;
    sb_pool_t clients, sockets; /* one of each per connection: no malloc header */
    sb_pool_t connect_waits;    /* sb_sio_connect_wait_t */
    sb_pool_t acks; /* sb_sio_pending_ack_t: one per delivery awaiting its ack, freed in bursts */
    /* sb_sio_wait_t: sockets a middleware is still deciding on (few: the
     * server's, not each client's, so an idle client pays nothing). */
    sb_list_t waiting;
    sb_slab_t socket_recs; /* sockets' recovery strings: owner, offset (recovery.c) */
    sb_engine_t *engine;   /* NULL: a single node */
    sb_random_t random;    /* socket ids and recovery pids (random_id.c) */
};

/* A binary packet waiting for its attachments: one allocation holding the
 * attachment slices (each its own copy) and then the packet's text. Only
 * exists while a binary packet is in flight, so idle clients do not pay it. */
typedef struct {
    size_t text_n;
    uint32_t need, have;
    sb_str_t att[]; /* `need` slots, followed by text_n bytes of text */
} sb_sio_binary_t;

/* The deadline of a client that has not joined a namespace yet: a record of
 * its own, so that a connected client carries a pointer, not a timer. */
typedef struct sb_sio_connect_wait sb_sio_connect_wait_t;

/* One per Engine.IO session: multiplexes the namespaces. */
typedef struct {
    sb_eio_session_t *eio;
    sb_sio_server_t *srv;
    /* Its connected sockets, one per namespace, in join order through
     * client_next: singly linked, 8 bytes a client and a socket less than a
     * list of O(1) removal, which a handful of namespaces never needs. */
    struct sb_sio_socket *sockets;
    sb_sio_connect_wait_t *connect_wait; /* NULL once a namespace was joined, unless held */
    sb_sio_binary_t *bin;                /* NULL unless a binary packet is in flight */
} sb_sio_client_t;

struct sb_sio_connect_wait {
    sb_timer_t timer;
    sb_sio_client_t *client;
};

typedef struct {
    sb_list_node_t node;
    uint64_t id;
    sb_timer_t timer;
    sb_sio_ack_fn cb;
    void *ud;
    sb_sio_socket_t *socket;
} sb_sio_pending_ack_t;

/* Fields ordered so that no padding is wasted (issue 4: bytes per idle
 * connection): 192 bytes (test_conn_budget.c). */
/* A token bucket: events available, in thousandths, as of at_ms (the low
 * 32 bits of the loop's clock: 8 bytes a bucket, not 16). Time since then
 * is taken modulo 2^32 ms, so a socket silent for a multiple of 49.7 days
 * give or take its refill time finds its bucket less full than it
 * should: a refill of the bucket's own time at most. */
typedef struct {
    uint32_t at_ms;
    uint32_t milli;
} sb_sio_bucket_t;

/* An entry of recovery.c's pid indexes: the head of a kept session, and a
 * socket's own recovery state, embedded in the socket (issue 17: a record
 * of its own cost 72 bytes of the slab per connection). */
typedef struct sb_sio_pid_entry {
    struct sb_sio_pid_entry *next; /* bucket chain */
    char pid[SB_SIO_ID_LEN + 1];   /* the session id; "" until connected */
    uint8_t flags;                 /* a socket's SB_SIO_REC_*; 0 in a kept session */
} sb_sio_pid_entry_t;

enum {
    SB_SIO_REC_ON = 1,        /* the namespace recovers sessions */
    SB_SIO_REC_RECOVERED = 2, /* the socket took a kept session back */
    SB_SIO_REC_LIVE = 4,      /* rec is in the namespace's index of connected sockets */
};

struct sb_sio_socket {
    sb_sio_client_t *client;
    sb_sio_nsp_t *nsp;
    char id[SB_SIO_ID_LEN + 1];
    bool connected;
    bool limit_logged;
    bool pending; /* a middleware answered SB_EAGAIN; its client is still there */
    sb_hub_member_t member;
    struct sb_sio_socket *client_next; /* in client->sockets while connected */
    uint32_t refs;
    uint32_t nacks;
    void *ud;
    sb_list_t acks;
    uint64_t next_ack_id;
    sb_sio_bucket_t events;    /* rate limit of most events */
    sb_sio_bucket_t volatile_; /* rate limit of cfg.volatile_events */
    /* recovery.c: the owner and the offset the client sent, each NUL-
     * terminated, back to back in the server's slab; NULL while both are "". */
    char *rec_strings;
    sb_sio_pid_entry_t rec; /* recovery.c; flags 0 unless the namespace recovers sessions */
};

#define SB_SIO_MAX_KEPT_ROOMS 1024 /* rooms a recoverable session remembers */

/* A socket waiting for a middleware's decision: where the chain resumes,
 * and the CONNECT auth the rest of it (and recovery) reads. */
typedef struct {
    sb_list_node_t node; /* srv->waiting */
    sb_sio_socket_t *s;
    size_t next_mw;
    size_t auth_n;
    char auth[];
} sb_sio_wait_t;

/* random_id.c: 20 random characters of [A-Za-z0-9_-] (socket ids, recovery pids). */
void sb_sio__random_id(sb_sio_server_t *srv, char out[SB_SIO_ID_LEN + 1]);
/* socket.c */
sb_sio_socket_t *sb_sio__socket_create(sb_sio_client_t *c, sb_sio_nsp_t *nsp);
void sb_sio__socket_connect(sb_sio_socket_t *s, sb_str_t auth);
void sb_sio__socket_close(sb_sio_socket_t *s, const char *reason);
/* The client joined a namespace: its connect deadline is over. Inline, so
 * that socket.c and client.c both use it and call each other in no cycle
 * (tests/cycles_check.sh). */
static inline void sb_sio__client_connected(sb_sio_client_t *c) {
    if (!c->connect_wait)
        return;
    sb_timer_stop(&c->connect_wait->timer);
    sb_pool_free(&c->srv->connect_waits, c->connect_wait);
    c->connect_wait = NULL;
}
/* The connect deadline passed, or the hold of a connected client's output
 * it bounds (sb_sio_socket_hold_output). */
void sb_sio__on_connect_timeout(sb_timer_t *t);
/* True when a socket of the client waits for a middleware in namespace `nsp`. */
bool sb_sio__client_waiting(sb_sio_client_t *c, sb_str_t nsp);
/* The client's session closed: its waiting sockets are given up. */
void sb_sio__client_abandon(sb_sio_client_t *c);
sb_sio_socket_t *sb_sio__client_socket(sb_sio_client_t *c, sb_str_t nsp);
void sb_sio__on_event(sb_sio_socket_t *s, const sb_sio_packet_t *p, const sb_str_t *att,
                      size_t natt);
void sb_sio__on_ack(sb_sio_socket_t *s, const sb_sio_packet_t *p, const sb_str_t *att, size_t natt);
/* emit.c */
int sb_sio__send_connect_error(sb_sio_client_t *c, sb_str_t nsp, const char *msg, const char *data);
int sb_sio__send_packet(sb_sio_socket_t *s, uint8_t type, sb_str_t body);
/* A packet of nsp in a frame of its worker's (sb_loop_t.frames). */
sb_frame_t *sb_sio__encode(const sb_sio_nsp_t *nsp, uint8_t type, bool has_ack, uint64_t ack_id,
                           sb_str_t event, sb_str_t args, const sb_str_t *att, size_t natt);
/* recovery.c */
int sb_sio__recovery_socket_init(sb_sio_socket_t *s);
void sb_sio__recovery_free(sb_sio_socket_t *s);
/* The connected socket holding the session auth.pid names, when `s` may
 * take it over (same owner); socket.c closes it before
 * sb_sio__recovery_connect, which then finds its session kept. */
sb_sio_socket_t *sb_sio__recovery_holder(const sb_sio_socket_t *s, sb_str_t auth);
/* After the middleware accepted: restores the session named by auth.pid, or
 * gives the socket a new pid. */
void sb_sio__recovery_connect(sb_sio_socket_t *s, sb_str_t auth);
/* The connection callback of a socket has returned. */
void sb_sio__recovery_connected(sb_sio_nsp_t *nsp);
/* The socket joined or left `room`: tells rooms_changed when it is kept. */
void sb_sio__recovery_rooms_changed(sb_sio_socket_t *s, sb_str_t room);
/* Keeps the session for the recovery window unless `reason` is final. */
void sb_sio__recovery_disconnect(sb_sio_socket_t *s, const char *reason);
void sb_sio__recovery_destroy(sb_sio_nsp_t *nsp);
/* server.c */
sb_sio_handler_t *sb_sio__find_handler(sb_sio_nsp_t *nsp, sb_str_t name);
/* validate.c: the client and each of its sockets. */
int sb_sio__client_validate(const sb_sio_client_t *c);

#endif
