/* Private to src/cluster/. */
#ifndef SB_CLUSTER_INTERNAL_H
#define SB_CLUSTER_INTERNAL_H

#include <hiredis/async.h>
#include <stdbool.h>

#include "cluster/cluster.h"
#include "cluster/wire.h"
#include "core/list.h"
#include "core/map.h"

typedef struct sb_cluster_ask sb_cluster_ask_t; /* asks.c */

/* One Redis connection (the cluster has two: a subscriber, which Redis
 * reserves for pub/sub, and a publisher), attached to our epoll loop. */
typedef struct {
    sb_cluster_t *cl;
    redisAsyncContext *ac; /* NULL while disconnected */
    sb_io_t io;
    uint32_t io_events;
    sb_timer_t retry;    /* connect timeout, then the reconnect delay */
    uint32_t backoff_ms; /* next reconnect delay */
    bool connected;
    bool is_sub;
    bool ever_connected;
    const char *name; /* "publisher" / "subscriber", for logs */
} sb_rconn_t;

#define SB_NODES_SCRIPTS 4

/* nodes.c: heartbeats, presence across nodes, relayed deliveries. */
typedef struct {
    sb_timer_t heartbeat;
    uint32_t timeout_ms, every_ms;
    char sha[SB_NODES_SCRIPTS][41];
    bool loaded;       /* SCRIPT LOAD sent on this publisher connection */
    bool registered;   /* this node's state sent on this publisher connection */
    bool subscribed;   /* to the presence channel, on this subscriber connection */
    bool bootstrapped; /* the online users read since both came up */
    uint32_t asked;    /* which read of the online users is the latest */
    bool asking;       /* that read is not answered yet */
    bool heard_lost;   /* a change heard meanwhile could not be kept */
    sb_map_t heard;    /* user -> the presence change heard last while asking */
    char *live;        /* JSON array of the live nodes, from the last heartbeat */
    uint64_t cleaned, relayed_in, relayed_out;
} sb_nodes_t;

struct sb_cluster {
    sb_engine_t engine; /* first: sb_engine_t * converts back */
    sb_loop_t *loop;
    sb_engine_host_t host;
    sb_cluster_url_t url;
    char key[128];
    char uid[7];
    uint64_t max_queue;
    uint32_t connect_timeout_ms;
    sb_rconn_t pub, sub;
    char **nsps; /* watched namespaces, in order */
    size_t nnsps;
    uint32_t sub_pending; /* subscriptions not yet confirmed */
    bool closing;
    sb_engine_stats_t stats;
    sb_wire_msg_t *msg; /* decoding scratch, one message at a time */
    sb_list_t acks;     /* sb_cluster_ack_t waiting on the host */
    sb_list_t asks;     /* sb_cluster_ask_t waiting on other nodes */
    uint64_t last_error_log_ms;
    sb_timer_t count_nodes; /* every second: how many servers listen for requests */
    sb_nodes_t nodes;
};

/* An answer the host owes another node (serverSideEmit ack, a client's ack
 * to a broadcast). Outlives the cluster if need be: then `cl` is NULL and
 * the answer is dropped. */
typedef struct {
    sb_list_node_t node;
    sb_cluster_t *cl;
    char nsp[257];
    char request_id[64];
    char requester[16]; /* uid of the requesting node */
    int type;
    size_t remaining; /* answers still expected */
} sb_cluster_ack_t;

/* publish.c */
/* PUBLISH, unless the publisher is down or its queue is full (counted). */
void sb_cluster__publish(sb_cluster_t *cl, const char *channel, size_t chn, const char *data,
                         size_t n);
/* A log line for a bad message from Redis, at most one per second. */
void sb_cluster__log_bad(sb_cluster_t *cl, const char *what, int rc);
/* requests.c */
void sb_cluster__on_request(sb_cluster_t *cl, size_t nsp_index, const char *p, size_t n);
void sb_cluster__acks_orphan(sb_cluster_t *cl);
/* asks.c */
/* The engine's asks (hub/engine.h). */
int sb_cluster__server_emit(sb_engine_t *e, sb_str_t nsp, sb_str_t event, sb_str_t args,
                            uint32_t timeout_ms, sb_engine_result_fn done, void *ud);
int sb_cluster__fetch_sockets(sb_engine_t *e, sb_str_t nsp, const sb_engine_select_t *sel,
                              uint32_t timeout_ms, sb_engine_result_fn done, void *ud);
int sb_cluster__all_rooms(sb_engine_t *e, sb_str_t nsp, uint32_t timeout_ms,
                          sb_engine_result_fn done, void *ud);
int sb_cluster__sockets_op(sb_engine_t *e, sb_str_t nsp, const sb_engine_select_t *sel,
                           sb_engine_sockets_op_t op, const sb_str_t *rooms, size_t nrooms);
int sb_cluster__broadcast_with_acks(sb_engine_t *e, const sb_engine_broadcast_t *b,
                                    uint32_t timeout_ms, sb_engine_result_fn done, void *ud);
void sb_cluster__on_response(sb_cluster_t *cl, const char *p, size_t n);
void sb_cluster__asks_end(sb_cluster_t *cl);
/* nodes.c */
void sb_cluster__nodes_init(sb_cluster_t *cl, uint32_t timeout_ms);
void sb_cluster__nodes_on_connect(sb_cluster_t *cl); /* the publisher is up */
void sb_cluster__nodes_subscribe(sb_cluster_t *cl);  /* on a new subscriber connection */
void sb_cluster__nodes_bootstrap(sb_cluster_t *cl);
void sb_cluster__nodes_down(sb_cluster_t *cl, bool sub);
void sb_cluster__nodes_leave(sb_cluster_t *cl);
bool sb_cluster__device(sb_cluster_t *cl, sb_str_t user, int delta);
void sb_cluster__relay(sb_cluster_t *cl, const sb_engine_delivery_t *d);
char *sb_cluster__nodes_json(const sb_cluster_t *cl);

#endif
