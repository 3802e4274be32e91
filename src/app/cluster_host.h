/* Joins this node to a cluster through the Redis engine: remote broadcasts
 * and requests act on the Socket.IO server's sockets (cluster_host.c). */
#ifndef SB_APP_CLUSTER_HOST_H
#define SB_APP_CLUSTER_HOST_H

#include "app/local_sockets.h"
#include "cluster/cluster.h"
#include "socketio/socketio.h"

typedef struct sb_cluster_host sb_cluster_host_t;

/* Starts the engine and attaches it to `sio`. NULL with a message in err. */
sb_cluster_host_t *sb_cluster_host_create(sb_loop_t *loop, sb_sio_server_t *sio,
                                          const sb_cluster_config_t *cfg, char *err, size_t cap);
/* Detaches and stops the engine. NULL does nothing. */
void sb_cluster_host_destroy(sb_cluster_host_t *h);
void sb_cluster_host_on_user(sb_cluster_host_t *h, sb_local_user_fn fn, void *ud);
/* This node's figures for its heartbeat: a malloc'ed JSON object. */
typedef char *(*sb_cluster_host_figures_fn)(void *ud);
typedef struct sb_features sb_features_t;
/* Presence across nodes and relayed deliveries go to `f` (and f counts its
 * devices through the engine); `figures` feeds the heartbeats. */
void sb_cluster_host_set_features(sb_cluster_host_t *h, sb_features_t *f,
                                  sb_cluster_host_figures_fn figures, void *ud);
/* NULL when h is NULL (no cluster). */
sb_engine_t *sb_cluster_host_engine(sb_cluster_host_t *h);
uint64_t sb_cluster_host_server_events(const sb_cluster_host_t *h);

#endif
