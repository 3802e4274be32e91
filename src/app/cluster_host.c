/* The node's side of the engine boundary (hub/engine.h): what another node's
 * broadcasts and requests do to this node's Socket.IO sockets. Wires the
 * Redis engine (src/cluster/) to the Socket.IO server. */
#include "app/cluster_host.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

#define SB_HOST_MAX_ROOMS 1024

struct sb_cluster_host {
    sb_sio_server_t *sio;
    sb_cluster_t *cluster;
    sb_cluster_host_user_fn user_fn;
    void *user_ud;
    uint64_t server_events;
};

/* ---- selecting local sockets ------------------------------------------------- */

typedef struct {
    sb_sio_socket_t **v;
    size_t n, cap;
    bool oom;
} socket_set_t;

static bool set_add(sb_hub_member_t *m, void *ud) {
    socket_set_t *set = ud;
    sb_sio_socket_t *s = sb_sio_socket_of_member(m);
    if (!s) /* not a Socket.IO socket (an SSE subscriber): other nodes address sockets */
        return true;
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        sb_sio_socket_t **v = realloc(set->v, sizeof *v * cap);
        if (!v) {
            set->oom = true;
            return false;
        }
        set->v = v, set->cap = cap;
    }
    set->v[set->n++] = s;
    return true;
}

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

static bool excluded(sb_sio_socket_t *s, const sb_engine_select_t *sel) {
    for (size_t i = 0; i < sel->nexcept; i++)
        if (sb_sio_in_room(s, sel->except[i]))
            return true;
    return false;
}

/* The selected sockets, each once, collected before anything acts on them
 * (joins and disconnects may not run inside a hub visit). */
static socket_set_t collect(sb_sio_nsp_t *nsp, const sb_engine_select_t *sel) {
    socket_set_t set = {0};
    sb_hub_t *hub = sb_sio_nsp_hub(nsp);
    if (sel->nrooms == 0)
        sb_hub_members(hub, set_add, &set);
    for (size_t i = 0; i < sel->nrooms && !set.oom; i++)
        sb_hub_room_members(hub, sel->rooms[i], set_add, &set);
    if (sel->nrooms > 1 && set.n > 1) {
        qsort(set.v, set.n, sizeof *set.v, cmp_ptr);
        size_t w = 1;
        for (size_t i = 1; i < set.n; i++)
            if (set.v[i] != set.v[w - 1])
                set.v[w++] = set.v[i];
        set.n = w;
    }
    size_t w = 0;
    for (size_t i = 0; i < set.n; i++)
        if (!excluded(set.v[i], sel))
            set.v[w++] = set.v[i];
    set.n = w;
    return set;
}

static sb_sio_nsp_t *find_nsp(sb_cluster_host_t *h, sb_str_t name) {
    return sb_sio_find_nsp(h->sio, name);
}

static bool host_has_nsp(void *ud, sb_str_t nsp) { return find_nsp(ud, nsp) != NULL; }

static void host_deliver(void *ud, const sb_engine_broadcast_t *b) {
    sb_sio_nsp_t *nsp = find_nsp(ud, b->nsp);
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
}

static void host_select(void *ud, sb_str_t name, const sb_engine_select_t *sel,
                        sb_engine_socket_fn fn, void *fn_ud) {
    sb_sio_nsp_t *nsp = find_nsp(ud, name);
    if (!nsp)
        return;
    socket_set_t set = collect(nsp, sel);
    for (size_t i = 0; i < set.n; i++)
        if (!fn((sb_engine_socket_t *)set.v[i], fn_ud))
            break;
    free(set.v);
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
    socket_set_t set = collect(nsp, sel);
    for (size_t i = 0; i < set.n; i++)
        for (size_t r = 0; r < nrooms; r++)
            leave ? sb_sio_leave(set.v[i], rooms[r]) : sb_sio_join(set.v[i], rooms[r]);
    free(set.v);
}

static void host_disconnect(void *ud, sb_str_t name, const sb_engine_select_t *sel, bool close) {
    sb_sio_nsp_t *nsp = find_nsp(ud, name);
    if (!nsp)
        return;
    socket_set_t set = collect(nsp, sel);
    for (size_t i = 0; i < set.n; i++) {
        if (close)
            sb_eio_close(sb_sio_socket_session(set.v[i]), "forced server close");
        else
            sb_sio_disconnect(set.v[i]);
    }
    free(set.v);
}

static sb_str_t host_socket_id(void *ud, sb_engine_socket_t *s) {
    return sb_cstr(sb_sio_socket_id((sb_sio_socket_t *)s));
}

/* ---- fetchSockets ------------------------------------------------------------ */

static bool add_room_name(sb_str_t room, void *ud) {
    json_array_append_new(ud, json_stringn(room.p, room.n));
    return true;
}

/* The query string as an object of its parameters (values as sent). */
static json_t *query_json(const char *q) {
    json_t *o = json_object();
    while (o && q && *q) {
        const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
        const char *eq = memchr(q, '=', (size_t)(end - q));
        if (eq && eq > q)
            json_object_setn_new(o, q, (size_t)(eq - q),
                                 json_stringn(eq + 1, (size_t)(end - eq - 1)));
        q = amp ? amp + 1 : NULL;
    }
    return o;
}

/* Node's handshake object, from what this node keeps (it keeps no headers
 * nor handshake time per socket: those fields are empty). */
static json_t *handshake_json(sb_sio_socket_t *s) {
    char ip[64] = "";
    sb_sio_socket_remote_ip(s, ip, sizeof ip);
    return json_pack("{s:{},s:s,s:s,s:b,s:b,s:I,s:s,s:o,s:{}}", "headers", "time", "", "address",
                     ip, "xdomain", 0, "secure", 0, "issued", (json_int_t)0, "url", "", "query",
                     query_json(sb_sio_socket_query(s)), "auth");
}

static char *host_socket_describe(void *ud, sb_engine_socket_t *es) {
    sb_cluster_host_t *h = ud;
    sb_sio_socket_t *s = (sb_sio_socket_t *)es;
    json_t *rooms = json_array();
    sb_sio_socket_rooms(s, add_room_name, rooms);
    const char *user = h->user_fn ? h->user_fn(h->user_ud, s) : NULL;
    json_t *data = user ? json_pack("{s:s}", "userId", user) : json_object();
    json_t *o = json_pack("{s:s,s:o,s:o,s:o}", "id", sb_sio_socket_id(s), "handshake",
                          handshake_json(s), "rooms", rooms, "data", data);
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
    ack_fn(ack_ud, false, sb_str(answer, (size_t)n));
}

typedef struct {
    sb_engine_ack_fn fn;
    void *ud;
} client_ack_t;

static void on_client_ack(sb_sio_socket_t *s, const sb_sio_event_t *ev, void *ud) {
    client_ack_t *a = ud;
    a->fn(a->ud, ev == NULL, ev ? ev->args : SB_STR_NULL);
    free(a);
}

static size_t host_deliver_with_acks(void *ud, const sb_engine_broadcast_t *b, uint32_t timeout_ms,
                                     sb_engine_ack_fn ack_fn, void *ack_ud) {
    sb_sio_nsp_t *nsp = find_nsp(ud, b->nsp);
    char event[257];
    if (!nsp || b->event.n >= sizeof event || b->nattachments)
        return 0; /* binary with acks: not carried (docs/cluster.md) */
    memcpy(event, b->event.p, b->event.n);
    event[b->event.n] = '\0';
    socket_set_t set = collect(nsp, &b->to);
    size_t count = 0;
    for (size_t i = 0; i < set.n; i++) {
        client_ack_t *a = malloc(sizeof *a);
        if (!a)
            break;
        *a = (client_ack_t){ack_fn, ack_ud};
        if (sb_sio_emit_with_ack(set.v[i], event, b->args, timeout_ms, on_client_ack, a) == SB_OK)
            count++;
        else
            free(a);
    }
    free(set.v);
    return count;
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
                           .deliver_with_acks = host_deliver_with_acks};
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
    sb_sio_server_set_engine(h->sio, NULL);
    sb_cluster_destroy(h->cluster);
    free(h);
}

void sb_cluster_host_on_user(sb_cluster_host_t *h, sb_cluster_host_user_fn fn, void *ud) {
    h->user_fn = fn;
    h->user_ud = ud;
}

sb_engine_t *sb_cluster_host_engine(sb_cluster_host_t *h) {
    return h ? sb_cluster_engine(h->cluster) : NULL;
}

uint64_t sb_cluster_host_server_events(const sb_cluster_host_t *h) {
    return h ? h->server_events : 0;
}
