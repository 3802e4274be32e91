/* Socket.IO server and namespaces: registration of middleware and handlers. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "socketio/sio_internal.h"

sb_sio_server_t *sb_sio_server_create(sb_loop_t *loop, const sb_sio_config_t *cfg) {
    sb_sio_server_t *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->loop = loop;
    srv->cfg = *cfg;
    sb_pool_init(&srv->clients, sizeof(sb_sio_client_t));
    sb_pool_init(&srv->sockets, sizeof(sb_sio_socket_t));
    sb_pool_init(&srv->connect_waits, sizeof(sb_sio_connect_wait_t));
    sb_pool_init(&srv->acks, sizeof(sb_sio_pending_ack_t));
    sb_pool_keep_spares(&srv->acks, 8); /* confirmed a batch at a time */
    sb_list_init(&srv->waiting);
    sb_slab_init(&srv->socket_recs);
    if (!sb_sio_of(srv, "/")) {
        free(srv);
        return NULL;
    }
    return srv;
}

static void nsp_destroy(sb_sio_nsp_t *nsp) {
    for (size_t i = 0; i < nsp->nhandlers; i++)
        free(nsp->handlers[i].name);
    free(nsp->handlers);
    free(nsp->mws);
    sb_sio__recovery_destroy(nsp);
    sb_hub_destroy(nsp->hub);
    free(nsp->name);
    free(nsp);
}

void sb_sio_server_destroy(sb_sio_server_t *srv) {
    if (!srv)
        return;
    for (size_t i = 0; i < srv->nnsps; i++)
        nsp_destroy(srv->nsps[i]);
    free(srv->nsps);
    sb_pool_dispose(&srv->clients);
    sb_pool_dispose(&srv->sockets);
    sb_pool_dispose(&srv->connect_waits);
    sb_pool_dispose(&srv->acks);
    sb_slab_dispose(&srv->socket_recs);
    free(srv);
}

const sb_sio_stats_t *sb_sio_server_stats(const sb_sio_server_t *srv) { return &srv->stats; }

sb_sio_nsp_t *sb_sio_find_nsp(sb_sio_server_t *srv, sb_str_t name) {
    for (size_t i = 0; i < srv->nnsps; i++)
        if (sb_str_eq(sb_cstr(srv->nsps[i]->name), name))
            return srv->nsps[i];
    return NULL;
}

static sb_sio_nsp_t *nsp_create(sb_sio_server_t *srv, const char *name) {
    sb_sio_nsp_t *nsp = calloc(1, sizeof *nsp);
    /* +1: a server may put a socket in one room of its own choosing (the
     * built-in features: the user's room) on top of what the client joins. */
    sb_hub_config_t hc = {.max_rooms_per_member = srv->cfg.max_rooms_per_socket + 1,
                          .max_room_name = 256};
    if (!nsp)
        return NULL;
    nsp->srv = srv;
    nsp->name = strdup(name);
    nsp->hub = sb_hub_create(&hc);
    if (!nsp->name || !nsp->hub) {
        nsp_destroy(nsp);
        return NULL;
    }
    return nsp;
}

sb_sio_nsp_t *sb_sio_of(sb_sio_server_t *srv, const char *name) {
    if (!name || name[0] != '/' || strlen(name) > 256 || strchr(name, ','))
        return NULL;
    sb_sio_nsp_t *nsp = sb_sio_find_nsp(srv, sb_cstr(name));
    if (nsp)
        return nsp;
    sb_sio_nsp_t **v = realloc(srv->nsps, sizeof *v * (srv->nnsps + 1));
    if (!v)
        return NULL;
    srv->nsps = v;
    nsp = nsp_create(srv, name);
    if (nsp)
        srv->nsps[srv->nnsps++] = nsp;
    if (nsp && srv->engine)
        srv->engine->ops->watch_nsp(srv->engine, sb_cstr(name));
    return nsp;
}

void sb_sio_server_set_engine(sb_sio_server_t *srv, sb_engine_t *engine) {
    srv->engine = engine;
    for (size_t i = 0; engine && i < srv->nnsps; i++)
        engine->ops->watch_nsp(engine, sb_cstr(srv->nsps[i]->name));
}

sb_engine_t *sb_sio_server_engine(const sb_sio_server_t *srv) { return srv->engine; }

sb_sio_nsp_t *sb_sio_nsp_at(sb_sio_server_t *srv, size_t i) {
    return i < srv->nnsps ? srv->nsps[i] : NULL;
}

const char *sb_sio_nsp_name(const sb_sio_nsp_t *nsp) { return nsp->name; }
sb_hub_t *sb_sio_nsp_hub(sb_sio_nsp_t *nsp) { return nsp->hub; }
size_t sb_sio_nsp_socket_count(const sb_sio_nsp_t *nsp) { return nsp->nsockets; }

int sb_sio_use(sb_sio_nsp_t *nsp, sb_sio_middleware_fn fn, void *ud) {
    sb_sio_mw_t *v = realloc(nsp->mws, sizeof *v * (nsp->nmws + 1));
    if (!v)
        return SB_ENOMEM;
    nsp->mws = v;
    v[nsp->nmws++] = (sb_sio_mw_t){fn, ud};
    return SB_OK;
}

void sb_sio_on_connection(sb_sio_nsp_t *nsp, sb_sio_socket_fn fn, void *ud) {
    nsp->conn_fn = fn;
    nsp->conn_ud = ud;
}

void sb_sio_on_disconnect(sb_sio_nsp_t *nsp, sb_sio_disconnect_fn fn, void *ud) {
    nsp->disc_fn = fn;
    nsp->disc_ud = ud;
}

sb_sio_handler_t *sb_sio__find_handler(sb_sio_nsp_t *nsp, sb_str_t name) {
    for (size_t i = 0; i < nsp->nhandlers; i++)
        if (sb_str_eq(sb_cstr(nsp->handlers[i].name), name))
            return &nsp->handlers[i];
    return NULL;
}

int sb_sio_on(sb_sio_nsp_t *nsp, const char *event, sb_sio_event_fn fn, void *ud) {
    sb_sio_handler_t *h = sb_sio__find_handler(nsp, sb_cstr(event));
    if (h) {
        h->fn = fn;
        h->ud = ud;
        return SB_OK;
    }
    sb_sio_handler_t *v = realloc(nsp->handlers, sizeof *v * (nsp->nhandlers + 1));
    if (!v)
        return SB_ENOMEM;
    nsp->handlers = v;
    char *name = strdup(event);
    if (!name)
        return SB_ENOMEM;
    v[nsp->nhandlers++] = (sb_sio_handler_t){name, fn, ud};
    return SB_OK;
}

void sb_sio_on_rate_limited(sb_sio_nsp_t *nsp, sb_sio_event_fn fn, void *ud) {
    nsp->limited_fn = fn;
    nsp->limited_ud = ud;
}

void sb_sio_on_any(sb_sio_nsp_t *nsp, sb_sio_event_fn fn, void *ud) {
    nsp->any_fn = fn;
    nsp->any_ud = ud;
}
