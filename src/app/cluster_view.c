/* The whole cluster's sockets as one (hub/cluster_view.h): this node's
 * sockets, acted on at once, and the other nodes' through the engine's
 * requests, their answers gathered with this node's into one result. */
#include "app/cluster_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/answers.h"
#include "cluster/wire.h"
#include "core/err.h"

#define SB_VIEW_EVENT_MAX 256

struct sb_cluster_view_impl {
    sb_cluster_view_t view;
    sb_sio_server_t *sio;
    sb_engine_t *engine; /* NULL: a node alone */
    sb_local_user_fn user_fn;
    void *user_ud;
};

typedef enum { GATHER_SOCKETS, GATHER_ROOMS, GATHER_ACKS } gather_kind_t;

/* One request being answered: this node's part and the others'. */
typedef struct {
    gather_kind_t kind;
    sb_answers_t answers;
    size_t local_pending; /* local acks awaited, plus one while emitting */
    bool remote_pending;
    bool timed_out, truncated;
    uint32_t nodes, nodes_answered;
    uint64_t clients;
    sb_engine_result_fn done;
    void *ud;
} gather_t;

static gather_t *gather_new(gather_kind_t kind, sb_engine_result_fn done, void *ud) {
    gather_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    *g = (gather_t){.kind = kind, .done = done, .ud = ud};
    sb_answers_init(&g->answers);
    if (!g->answers.items) {
        free(g);
        return NULL;
    }
    return g;
}

static void gather_free(gather_t *g) {
    sb_answers_dispose(&g->answers);
    free(g);
}

static int cmp_json_str(const void *a, const void *b) {
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* Rooms each once, sorted, socket-id rooms left out. */
static json_t *rooms_sorted(const json_t *all) {
    size_t n = json_array_size(all), w = 0;
    json_t **v = malloc(sizeof *v * (n ? n : 1)), *out = json_array();
    for (size_t i = 0; v && i < n; i++) {
        json_t *r = json_array_get(all, i);
        if (json_is_string(r) &&
            !sb_engine_is_socket_room(sb_str(json_string_value(r), json_string_length(r))))
            v[w++] = r;
    }
    if (v)
        qsort(v, w, sizeof *v, cmp_json_str);
    for (size_t i = 0; v && out && i < w; i++)
        if (i == 0 || strcmp(json_string_value(v[i]), json_string_value(v[i - 1])) != 0)
            json_array_append(out, v[i]);
    free(v);
    return out;
}

static void gather_check(gather_t *g) {
    if (g->local_pending || g->remote_pending)
        return;
    json_t *list =
        g->kind == GATHER_ROOMS ? rooms_sorted(g->answers.items) : json_incref(g->answers.items);
    char *text = list ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    sb_engine_result_t r = {.timed_out = g->timed_out,
                            .truncated = g->truncated || g->answers.truncated || !text,
                            .answers = text ? sb_cstr(text) : SB_LIT("[]"),
                            .attachments = g->answers.atts,
                            .nattachments = g->answers.natts,
                            .nodes = g->nodes,
                            .nodes_answered = g->nodes_answered,
                            .clients = g->clients};
    g->done(g->ud, &r);
    free(text);
    gather_free(g);
}

static void on_remote(void *ud, const sb_engine_result_t *r) {
    gather_t *g = ud;
    json_t *list = json_loadb(r->answers.p, r->answers.n, 0, NULL);
    if (json_is_array(list))
        sb_answers_add_all(&g->answers, list, r->attachments, r->nattachments);
    json_decref(list);
    g->remote_pending = false;
    g->timed_out |= r->timed_out;
    g->truncated |= r->truncated || !list;
    g->nodes = r->nodes;
    g->nodes_answered = r->nodes_answered;
    g->clients += r->clients;
    gather_check(g);
}

static sb_sio_nsp_t *find_nsp(struct sb_cluster_view_impl *v, sb_str_t name) {
    return sb_sio_find_nsp(v->sio, name);
}

/* ---- fetchSockets, allRooms ---------------------------------------------------- */

static int view_fetch_sockets(void *ud, sb_str_t name, const sb_engine_select_t *sel,
                              uint32_t timeout_ms, sb_engine_result_fn done, void *done_ud) {
    struct sb_cluster_view_impl *v = ud;
    sb_sio_nsp_t *nsp = find_nsp(v, name);
    if (!nsp)
        return SB_ENOTFOUND;
    gather_t *g = gather_new(GATHER_SOCKETS, done, done_ud);
    if (!g)
        return SB_ENOMEM;
    sb_local_sockets_t set = sb_local_sockets_select(nsp, sel, v->engine != NULL);
    for (size_t i = 0; i < set.n; i++) {
        json_t *one = sb_local_socket_json(set.v[i], v->user_fn, v->user_ud);
        sb_answers_add(&g->answers, one, NULL, 0);
        json_decref(one);
    }
    g->truncated = set.oom;
    sb_local_sockets_free(&set);
    g->remote_pending = v->engine != NULL;
    int rc = v->engine
                 ? v->engine->ops->fetch_sockets(v->engine, name, sel, timeout_ms, on_remote, g)
                 : SB_OK;
    if (rc != SB_OK) {
        gather_free(g);
        return rc;
    }
    gather_check(g);
    return SB_OK;
}

static bool add_room(sb_str_t room, size_t size, void *ud) {
    json_t *one = json_stringn(room.p, room.n);
    sb_answers_add(ud, one, NULL, 0);
    json_decref(one);
    return true;
}

static int view_all_rooms(void *ud, sb_str_t name, uint32_t timeout_ms, sb_engine_result_fn done,
                          void *done_ud) {
    struct sb_cluster_view_impl *v = ud;
    sb_sio_nsp_t *nsp = find_nsp(v, name);
    if (!nsp)
        return SB_ENOTFOUND;
    gather_t *g = gather_new(GATHER_ROOMS, done, done_ud);
    if (!g)
        return SB_ENOMEM;
    sb_hub_rooms(sb_sio_nsp_hub(nsp), add_room, &g->answers);
    g->remote_pending = v->engine != NULL;
    int rc =
        v->engine ? v->engine->ops->all_rooms(v->engine, name, timeout_ms, on_remote, g) : SB_OK;
    if (rc != SB_OK) {
        gather_free(g);
        return rc;
    }
    gather_check(g);
    return SB_OK;
}

/* ---- socketsJoin, socketsLeave, disconnectSockets --------------------------------- */

static int view_sockets_op(void *ud, sb_str_t name, const sb_engine_select_t *sel,
                           sb_engine_sockets_op_t op, const sb_str_t *rooms, size_t nrooms,
                           size_t *local, bool *published) {
    struct sb_cluster_view_impl *v = ud;
    sb_sio_nsp_t *nsp = find_nsp(v, name);
    *local = 0;
    *published = false;
    if (!nsp)
        return SB_ENOTFOUND;
    sb_local_sockets_t set = sb_local_sockets_select(nsp, sel, v->engine != NULL);
    if (set.oom) {
        sb_local_sockets_free(&set);
        return SB_ENOMEM;
    }
    for (size_t i = 0; i < set.n; i++) {
        for (size_t r = 0; r < nrooms && op <= SB_ENGINE_LEAVE; r++)
            op == SB_ENGINE_LEAVE ? sb_sio_leave(set.v[i], rooms[r])
                                  : sb_sio_join(set.v[i], rooms[r]);
        if (op == SB_ENGINE_DISCONNECT_CLOSE)
            sb_eio_close(sb_sio_socket_session(set.v[i]), "forced server close");
        else if (op == SB_ENGINE_DISCONNECT)
            sb_sio_disconnect(set.v[i]);
    }
    *local = set.n;
    sb_local_sockets_free(&set);
    *published =
        v->engine && v->engine->ops->sockets_op(v->engine, name, sel, op, rooms, nrooms) == SB_OK;
    return SB_OK;
}

/* ---- broadcasts with acks ----------------------------------------------------------- */

static void on_local_ack(sb_sio_socket_t *s, const sb_sio_event_t *ev, void *ud) {
    gather_t *g = ud;
    if (!ev) {
        g->timed_out = true;
    } else { /* the first argument, as the other nodes pass it on */
        json_t *args = sb_wire_parse_args(ev->args);
        sb_answers_add(&g->answers, json_array_get(args, 0), ev->attachments, ev->nattachments);
        json_decref(args);
    }
    g->local_pending--;
    gather_check(g);
}

static int view_emit_with_acks(void *ud, const sb_engine_broadcast_t *b, uint32_t timeout_ms,
                               sb_engine_result_fn done, void *done_ud) {
    struct sb_cluster_view_impl *v = ud;
    sb_sio_nsp_t *nsp = find_nsp(v, b->nsp);
    char event[SB_VIEW_EVENT_MAX + 1];
    if (!nsp)
        return SB_ENOTFOUND;
    if (b->event.n > SB_VIEW_EVENT_MAX)
        return SB_EPROTO;
    snprintf(event, sizeof event, "%.*s", (int)b->event.n, b->event.p);
    gather_t *g = gather_new(GATHER_ACKS, done, done_ud);
    if (!g)
        return SB_ENOMEM;
    g->remote_pending = v->engine != NULL;
    int rc = v->engine ? v->engine->ops->broadcast_with_acks(v->engine, b, timeout_ms, on_remote, g)
                       : SB_OK;
    if (rc != SB_OK) { /* nothing went out: the caller hears the error */
        gather_free(g);
        return rc;
    }
    g->local_pending = 1; /* held while emitting: an ack may come back at once */
    sb_local_sockets_t set = sb_local_sockets_select(nsp, &b->to, v->engine != NULL);
    g->truncated = set.oom;
    for (size_t i = 0; i < set.n; i++) {
        g->local_pending++;
        if (sb_sio_emit_binary_with_ack(set.v[i], event, b->args, b->attachments, b->nattachments,
                                        timeout_ms, on_local_ack, g) == SB_OK)
            g->clients++;
        else
            g->local_pending--;
    }
    sb_local_sockets_free(&set);
    g->local_pending--;
    gather_check(g);
    return SB_OK;
}

/* ---- life ------------------------------------------------------------------------- */

sb_cluster_view_t *sb_cluster_view_create(sb_sio_server_t *sio, sb_engine_t *engine,
                                          sb_local_user_fn user_fn, void *user_ud) {
    struct sb_cluster_view_impl *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    *v = (struct sb_cluster_view_impl){
        .sio = sio, .engine = engine, .user_fn = user_fn, .user_ud = user_ud};
    v->view = (sb_cluster_view_t){.ud = v,
                                  .fetch_sockets = view_fetch_sockets,
                                  .all_rooms = view_all_rooms,
                                  .sockets_op = view_sockets_op,
                                  .emit_with_acks = view_emit_with_acks};
    return &v->view;
}

void sb_cluster_view_destroy(sb_cluster_view_t *view) {
    if (view)
        free(view->ud);
}
