/* The node's side of the engine boundary (hub/engine.h): what another node's
 * broadcasts and requests do to this node's Socket.IO sockets. Wires the
 * Redis engine (src/cluster/) to the Socket.IO server. */
#include "app/cluster_host.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/local_sockets.h"
#include "core/err.h"
#include "core/log.h"
#include "features/features.h"

#define SB_HOST_MAX_ROOMS 1024

struct sb_cluster_host {
    sb_sio_server_t *sio;
    sb_cluster_t *cluster;
    sb_local_user_fn user_fn;
    void *user_ud;
    uint64_t server_events;
    sb_features_t *features; /* presence and deliveries across nodes; NULL: none */
    sb_cluster_host_figures_fn figures_fn;
    void *figures_ud;
};

static sb_sio_nsp_t *find_nsp(sb_cluster_host_t *h, sb_str_t name) {
    return sb_sio_find_nsp(h->sio, name);
}

static bool host_has_nsp(void *ud, sb_str_t nsp) { return find_nsp(ud, nsp) != NULL; }

static void host_deliver(void *ud, const sb_engine_broadcast_t *b) {
    sb_cluster_host_t *h = ud;
    sb_sio_nsp_t *nsp = find_nsp(h, b->nsp);
    char event[257];
    if (!nsp || b->event.n >= sizeof event)
        return;
    memcpy(event, b->event.p, b->event.n);
    event[b->event.n] = '\0';
    sb_sio_target_t t = {.rooms = b->to.rooms,
                         .nrooms = b->to.nrooms,
                         .all = b->to.nrooms == 0,
                         .except = b->to.except,
                         .nexcept = b->to.nexcept,
                         .is_volatile = b->is_volatile,
                         .local = true};
    sb_sio_broadcast(nsp, &t, event, b->args, b->attachments, b->nattachments);
    if (h->features && b->nattachments == 0)
        sb_features_cluster_broadcast(h->features, b->nsp, b->event, b->to.rooms, b->to.nrooms,
                                      b->args);
}

static void host_select(void *ud, sb_str_t name, const sb_engine_select_t *sel,
                        sb_engine_socket_fn fn, void *fn_ud) {
    sb_sio_nsp_t *nsp = find_nsp(ud, name);
    if (!nsp)
        return;
    sb_local_sockets_t set = sb_local_sockets_select(nsp, sel, true);
    for (size_t i = 0; i < set.n; i++)
        if (!fn((sb_engine_socket_t *)set.v[i], fn_ud))
            break;
    sb_local_sockets_free(&set);
}

typedef struct {
    sb_engine_room_fn fn;
    void *ud;
} rooms_visit_t;

static bool visit_room(sb_str_t room, size_t size, void *ud) {
    rooms_visit_t *v = ud;
    return v->fn(room, v->ud);
}

static void host_rooms(void *ud, sb_str_t name, sb_engine_room_fn fn, void *fn_ud) {
    sb_sio_nsp_t *nsp = find_nsp(ud, name);
    rooms_visit_t v = {fn, fn_ud};
    if (nsp)
        sb_hub_rooms(sb_sio_nsp_hub(nsp), visit_room, &v);
}

static void host_join(void *ud, sb_str_t name, const sb_engine_select_t *sel, const sb_str_t *rooms,
                      size_t nrooms, bool leave) {
    sb_sio_nsp_t *nsp = find_nsp(ud, name);
    if (!nsp)
        return;
    sb_local_sockets_t set = sb_local_sockets_select(nsp, sel, true);
    for (size_t i = 0; i < set.n; i++)
        for (size_t r = 0; r < nrooms; r++)
            leave ? sb_sio_leave(set.v[i], rooms[r]) : sb_sio_join(set.v[i], rooms[r]);
    sb_local_sockets_free(&set);
}

static void host_disconnect(void *ud, sb_str_t name, const sb_engine_select_t *sel, bool close) {
    sb_sio_nsp_t *nsp = find_nsp(ud, name);
    if (!nsp)
        return;
    sb_local_sockets_t set = sb_local_sockets_select(nsp, sel, true);
    for (size_t i = 0; i < set.n; i++) {
        if (close)
            sb_eio_close(sb_sio_socket_session(set.v[i]), "forced server close");
        else
            sb_sio_disconnect(set.v[i]);
    }
    sb_local_sockets_free(&set);
}

static sb_str_t host_socket_id(void *ud, sb_engine_socket_t *s) {
    return sb_cstr(sb_sio_socket_id((sb_sio_socket_t *)s));
}

/* ---- fetchSockets ------------------------------------------------------------ */

static char *host_socket_describe(void *ud, sb_engine_socket_t *es) {
    sb_cluster_host_t *h = ud;
    json_t *o = sb_local_socket_json((sb_sio_socket_t *)es, h->user_fn, h->user_ud);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* ---- serverSideEmit and broadcasts with acks --------------------------------- */

/* Switchboard runs no server-side listeners of its own: a serverSideEmit is
 * counted, and one that wants an answer gets {"received":true,"node":uid},
 * so that a Node.js peer's serverSideEmit with a callback completes. */
static void host_server_event(void *ud, sb_str_t nsp, sb_str_t event, sb_str_t args,
                              sb_engine_ack_fn ack_fn, void *ack_ud) {
    sb_cluster_host_t *h = ud;
    h->server_events++;
    sb_log_debug("cluster: serverSideEmit '%.*s' in %.*s", (int)event.n, event.p, (int)nsp.n,
                 nsp.p);
    if (!ack_fn)
        return;
    char answer[64];
    int n = snprintf(answer, sizeof answer, "{\"received\":true,\"node\":\"%s\"}",
                     sb_cluster_uid(h->cluster));
    ack_fn(ack_ud, false, sb_str(answer, (size_t)n), NULL, 0);
}

typedef struct {
    sb_engine_ack_fn fn;
    void *ud;
} client_ack_t;

static void on_client_ack(sb_sio_socket_t *s, const sb_sio_event_t *ev, void *ud) {
    client_ack_t *a = ud;
    a->fn(a->ud, ev == NULL, ev ? ev->args : SB_STR_NULL, ev ? ev->attachments : NULL,
          ev ? ev->nattachments : 0);
    free(a);
}

static size_t host_deliver_with_acks(void *ud, const sb_engine_broadcast_t *b, uint32_t timeout_ms,
                                     sb_engine_ack_fn ack_fn, void *ack_ud) {
    sb_sio_nsp_t *nsp = find_nsp(ud, b->nsp);
    char event[257];
    if (!nsp || b->event.n >= sizeof event)
        return 0;
    memcpy(event, b->event.p, b->event.n);
    event[b->event.n] = '\0';
    sb_local_sockets_t set = sb_local_sockets_select(nsp, &b->to, true);
    size_t count = 0;
    for (size_t i = 0; i < set.n; i++) {
        client_ack_t *a = malloc(sizeof *a);
        if (!a)
            break;
        *a = (client_ack_t){ack_fn, ack_ud};
        if (sb_sio_emit_binary_with_ack(set.v[i], event, b->args, b->attachments, b->nattachments,
                                        timeout_ms, on_client_ack, a) == SB_OK)
            count++;
        else
            free(a);
    }
    sb_local_sockets_free(&set);
    return count;
}

/* ---- presence, relayed deliveries, this node's figures ------------------------ */

static void host_presence(void *ud, sb_str_t user, bool online, int64_t last_seen_ms,
                          bool announce) {
    sb_cluster_host_t *h = ud;
    if (h->features)
        sb_features_cluster_presence(h->features, user, online, last_seen_ms, announce);
}

static void host_presence_rebuild(void *ud, bool begin) {
    sb_cluster_host_t *h = ud;
    if (h->features)
        sb_features_cluster_rebuild(h->features, begin);
}

static void host_local_users(void *ud, bool (*fn)(sb_str_t user, uint32_t devices, void *fn_ud),
                             void *fn_ud) {
    sb_cluster_host_t *h = ud;
    if (h->features)
        sb_features_local_users(h->features, fn, fn_ud);
}

static void host_relayed(void *ud, const sb_engine_delivery_t *d) {
    sb_cluster_host_t *h = ud;
    if (h->features)
        sb_features_cluster_relayed(h->features, d);
}

static char *host_node_figures(void *ud) {
    sb_cluster_host_t *h = ud;
    return h->figures_fn ? h->figures_fn(h->figures_ud) : NULL;
}

/* ---- life -------------------------------------------------------------------- */

sb_cluster_host_t *sb_cluster_host_create(sb_loop_t *loop, sb_sio_server_t *sio,
                                          const sb_cluster_config_t *cfg, char *err, size_t cap) {
    sb_cluster_host_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    h->sio = sio;
    sb_engine_host_t eh = {.ud = h,
                           .has_nsp = host_has_nsp,
                           .deliver = host_deliver,
                           .select = host_select,
                           .rooms = host_rooms,
                           .join = host_join,
                           .disconnect = host_disconnect,
                           .socket_id = host_socket_id,
                           .socket_describe = host_socket_describe,
                           .server_event = host_server_event,
                           .deliver_with_acks = host_deliver_with_acks,
                           .presence = host_presence,
                           .presence_rebuild = host_presence_rebuild,
                           .local_users = host_local_users,
                           .relayed = host_relayed,
                           .node_figures = host_node_figures};
    h->cluster = sb_cluster_create(loop, cfg, &eh, err, cap);
    if (!h->cluster) {
        free(h);
        return NULL;
    }
    sb_sio_server_set_engine(sio, sb_cluster_engine(h->cluster));
    return h;
}

void sb_cluster_host_destroy(sb_cluster_host_t *h) {
    if (!h)
        return;
    if (h->features)
        sb_features_set_engine(h->features, NULL);
    sb_sio_server_set_engine(h->sio, NULL);
    sb_cluster_destroy(h->cluster);
    free(h);
}

void sb_cluster_host_on_user(sb_cluster_host_t *h, sb_local_user_fn fn, void *ud) {
    h->user_fn = fn;
    h->user_ud = ud;
}

void sb_cluster_host_set_features(sb_cluster_host_t *h, sb_features_t *f,
                                  sb_cluster_host_figures_fn figures, void *ud) {
    if (h->features && h->features != f)
        sb_features_set_engine(h->features, NULL);
    h->features = f;
    h->figures_fn = figures;
    h->figures_ud = ud;
    if (f)
        sb_features_set_engine(f, sb_cluster_engine(h->cluster));
}

sb_engine_t *sb_cluster_host_engine(sb_cluster_host_t *h) {
    return h ? sb_cluster_engine(h->cluster) : NULL;
}

uint64_t sb_cluster_host_server_events(const sb_cluster_host_t *h) {
    return h ? h->server_events : 0;
}
