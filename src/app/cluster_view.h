/* The whole cluster's sockets as the HTTP API sees them
 * (hub/cluster_view.h), over this node's Socket.IO server and, when
 * clustered, its engine. */
#ifndef SB_APP_CLUSTER_VIEW_H
#define SB_APP_CLUSTER_VIEW_H

#include "app/local_sockets.h"
#include "hub/cluster_view.h"

/* engine NULL: a node alone. NULL on OOM. */
sb_cluster_view_t *sb_cluster_view_create(sb_sio_server_t *sio, sb_engine_t *engine,
                                          sb_local_user_fn user_fn, void *user_ud);
/* NULL does nothing. Requests still waiting keep their own state. */
void sb_cluster_view_destroy(sb_cluster_view_t *view);

#endif
