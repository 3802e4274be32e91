/* Private to the live group: live.c (lifecycle, disconnect, file:share),
 * live_common.c (helpers the others share),
 * live_collab.c (documents), live_dashboard.c (metrics), live_rtc.c
 * (WebRTC signaling). */
#ifndef SB_FEATURES_LIVE_INTERNAL_H
#define SB_FEATURES_LIVE_INTERNAL_H

#include "features/features_internal.h"

#define SB_LIVE_ID_MAX 128 /* document and WebRTC room ids, in bytes */

struct sb_feat_live {
    sb_map_t metrics; /* custom metric name -> sb_feat_metric_t (owned) */
    sb_map_t peers;   /* socket id -> sb_sio_socket_t (borrowed): sockets in an rtc room */
    sb_list_t asks;   /* live_cluster.c: look-ups waiting for the other nodes */
    int64_t started_ms;
    uint64_t rate_base;  /* f->messages_total at rate_at_ms */
    uint64_t rate_at_ms; /* loop clock */
    double messages_per_second;
};
typedef struct sb_feat_live sb_feat_live_t;

typedef struct {
    double value;
    int64_t at_ms; /* wall clock of the last push */
} sb_feat_metric_t;

/* live_common.c: reads an id given as a bare string or as the object field `field`:
 * 1..SB_LIVE_ID_MAX bytes without NUL. Fails the event and returns NULL
 * otherwise; the result points into `arg`. */
const char *sb_feat_live_id_arg(sb_sio_event_t *ev, json_t *arg, const char *field);
/* Compact JSON text of `v` when it is at most `max` bytes: caller frees.
 * Fails the event (payload_too_large, or server_busy on OOM) and returns
 * NULL otherwise. */
char *sb_feat_live_dump(sb_sio_event_t *ev, json_t *v, size_t max, size_t *n);
/* A JSON number: integral values as integers, so 42 stays 42. */
json_t *sb_feat_live_number(double v);

/* live_cluster.c: the other nodes' sockets in `room`, as fetchSockets
 * describes them ([{id, rooms, data: {userId?, name?}}], borrowed for the
 * call). fn is called once: later, or at once with [] on a node alone or
 * while Redis is down; with NULL when the features were disposed of in
 * between (then it only frees what it was given: ud must stay valid). */
typedef void (*sb_feat_live_remote_fn)(void *ud, json_t *sockets);
void sb_feat_live_remote(sb_features_t *f, const char *room, sb_feat_live_remote_fn fn, void *ud);
void sb_feat_live_remote_orphan(sb_feat_live_t *live);
/* A described socket's data.userId (NULL: not a user of the built-ins) and
 * its name (data.name, else the id). */
const char *sb_feat_live_remote_user(json_t *socket, const char **name);
bool sb_feat_live_remote_in(json_t *socket, const char *room);

/* live_collab.c */
int sb_feat_live_collab_init(sb_features_t *f);
/* A disconnecting socket was in room doc:<doc_id>. */
void sb_feat_live_collab_gone(sb_client_t *c, const char *doc_id);

/* live_dashboard.c */
int sb_feat_live_dashboard_init(sb_features_t *f);
void sb_feat_live_dashboard_tick(sb_features_t *f);
void sb_feat_live_dashboard_dispose(sb_feat_live_t *live);

/* live_rtc.c */
int sb_feat_live_rtc_init(sb_features_t *f);
/* A disconnecting socket was in room rtc:<room_id>. */
void sb_feat_live_rtc_gone(sb_client_t *c, const char *room_id);

#endif
