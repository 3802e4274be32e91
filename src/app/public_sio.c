/* include/switchboard.h: Socket.IO namespaces, middleware, events, acks,
 * emits and rooms, as thin adapters over socketio/socketio.h. Every
 * registration record is kept by the server (sb_pub__keep) and freed with it. */
#include <stdlib.h>
#include <string.h>

#include "app/public_internal.h"
#include "core/assert.h"
#include "core/json.h"

#define SB_PUB_EVENT_NAME_MAX 256 /* longer names reach on_any handlers cut here */
#define SB_PUB_MAX_ROOMS 64       /* rooms (and except rooms) in one sb_target_t */

/* What a handler sees: the event and its name as a C string. */
struct sb_call {
    const sb_sio_event_t *ev;
    const char *name;
};

struct sb_refusal {
    sb_sio_refusal_t r;
};

typedef struct {
    sb_event_fn fn;
    void *ud;
    char name[];
} event_reg_t;

typedef struct {
    sb_middleware_fn fn;
    void *ud;
} middleware_reg_t;

typedef struct hook {
    struct hook *next;
    sb_socket_fn conn;
    sb_disconnect_fn disc;
    void *ud;
} hook_t;

/* One per namespace with public connection/disconnect/any callbacks: runs
 * them after (connection) or before (disconnect) what another layer had set
 * on the namespace (the built-ins). */
typedef struct {
    sb_list_node_t node; /* in sb_pub_t.nsps */
    sb_nsp_t *nsp;
    sb_sio_hooks_t inner;
    hook_t *conns, *discs;
    sb_event_fn any_fn;
    void *any_ud;
} nsp_reg_t;

static sb_server_t *server_of(const sb_nsp_t *nsp) {
    return sb_server_of_loop(sb_sio_nsp_loop(nsp));
}

/* ---- namespaces ------------------------------------------------------------------ */

sb_nsp_t *sb_server_namespace(sb_server_t *srv, const char *name) {
    return name && name[0] == '/' ? sb_sio_of(sb_server_sio(srv), name) : NULL;
}

const char *sb_nsp_name(const sb_nsp_t *nsp) { return sb_sio_nsp_name(nsp); }
size_t sb_nsp_socket_count(const sb_nsp_t *nsp) { return sb_sio_nsp_socket_count(nsp); }

size_t sb_nsp_room_size(sb_nsp_t *nsp, const char *room) {
    return sb_hub_room_size(sb_sio_nsp_hub(nsp), sb_cstr(room));
}

static void dispatch_conn(sb_sio_socket_t *s, void *ud) {
    nsp_reg_t *r = ud;
    SB_ASSERT(r->inner.conn_fn != dispatch_conn); /* chaining to itself would loop */
    if (r->inner.conn_fn)
        r->inner.conn_fn(s, r->inner.conn_ud);
    for (hook_t *h = r->conns; h && sb_sio_socket_connected(s); h = h->next)
        h->conn(s, h->ud);
}

static void dispatch_disc(sb_sio_socket_t *s, const char *reason, void *ud) {
    nsp_reg_t *r = ud;
    SB_ASSERT(r->inner.disc_fn != dispatch_disc);
    for (hook_t *h = r->discs; h; h = h->next)
        h->disc(s, reason, h->ud);
    if (r->inner.disc_fn)
        r->inner.disc_fn(s, reason, r->inner.disc_ud);
}

static void dispatch_any(sb_sio_event_t *ev, void *ud) {
    nsp_reg_t *r = ud;
    char name[SB_PUB_EVENT_NAME_MAX];
    size_t n = ev->name.n < sizeof name - 1 ? ev->name.n : sizeof name - 1;
    memcpy(name, ev->name.p, n);
    name[n] = '\0';
    sb_call_t call = {ev, name};
    r->any_fn(&call, r->any_ud);
}

/* Puts the dispatchers in front of whatever the namespace has now. */
static void install(nsp_reg_t *r) {
    sb_sio_hooks_t now;
    sb_sio_nsp_hooks(r->nsp, &now);
    if (now.conn_fn != dispatch_conn) {
        r->inner.conn_fn = now.conn_fn, r->inner.conn_ud = now.conn_ud;
        sb_sio_on_connection(r->nsp, dispatch_conn, r);
    }
    if (now.disc_fn != dispatch_disc) {
        r->inner.disc_fn = now.disc_fn, r->inner.disc_ud = now.disc_ud;
        sb_sio_on_disconnect(r->nsp, dispatch_disc, r);
    }
    if (r->any_fn && now.any_fn != dispatch_any)
        sb_sio_on_any(r->nsp, dispatch_any, r);
}

static nsp_reg_t *reg_of(sb_nsp_t *nsp) {
    sb_server_t *srv = server_of(nsp);
    sb_pub_t *pub = sb_pub__of(srv);
    if (!pub)
        return NULL;
    sb_list_node_t *n, *tmp;
    sb_list_foreach_safe(n, tmp, &pub->nsps) {
        nsp_reg_t *r = sb_container_of(n, nsp_reg_t, node);
        if (r->nsp == nsp)
            return r;
    }
    nsp_reg_t *r = sb_pub__keep(srv, sizeof *r);
    if (!r)
        return NULL;
    r->nsp = nsp;
    sb_list_push_tail(&pub->nsps, &r->node);
    return r;
}

void sb_pub__rechain(sb_nsp_t *nsp) {
    sb_pub_t *pub = sb_pub__of(server_of(nsp));
    sb_list_node_t *n, *tmp;
    if (!pub)
        return;
    sb_list_foreach_safe(n, tmp, &pub->nsps) {
        nsp_reg_t *r = sb_container_of(n, nsp_reg_t, node);
        if (r->nsp == nsp)
            install(r);
    }
}

/* Appends a hook to a list, keeping the order of registration. */
static int add_hook(sb_nsp_t *nsp, hook_t **(*list)(nsp_reg_t *), hook_t h) {
    nsp_reg_t *r = reg_of(nsp);
    hook_t *k = r ? sb_pub__keep(server_of(nsp), sizeof *k) : NULL;
    if (!k)
        return SB_ENOMEM;
    *k = h;
    hook_t **at = list(r);
    while (*at)
        at = &(*at)->next;
    *at = k;
    install(r);
    return SB_OK;
}

static hook_t **conns_of(nsp_reg_t *r) { return &r->conns; }
static hook_t **discs_of(nsp_reg_t *r) { return &r->discs; }

int sb_nsp_on_connection(sb_nsp_t *nsp, sb_socket_fn fn, void *ud) {
    return add_hook(nsp, conns_of, (hook_t){.conn = fn, .ud = ud});
}

int sb_nsp_on_disconnect(sb_nsp_t *nsp, sb_disconnect_fn fn, void *ud) {
    return add_hook(nsp, discs_of, (hook_t){.disc = fn, .ud = ud});
}

int sb_nsp_on_any(sb_nsp_t *nsp, sb_event_fn fn, void *ud) {
    nsp_reg_t *r = reg_of(nsp);
    if (!r)
        return SB_ENOMEM;
    r->any_fn = fn;
    r->any_ud = ud;
    install(r);
    return SB_OK;
}

static void on_event(sb_sio_event_t *ev, void *ud) {
    event_reg_t *e = ud;
    sb_call_t call = {ev, e->name};
    e->fn(&call, e->ud);
}

int sb_nsp_on(sb_nsp_t *nsp, const char *event, sb_event_fn fn, void *ud) {
    if (!event || !event[0])
        return SB_EINVAL;
    size_t n = strlen(event) + 1;
    event_reg_t *e = sb_pub__keep(server_of(nsp), sizeof *e + n);
    if (!e)
        return SB_ENOMEM;
    e->fn = fn;
    e->ud = ud;
    memcpy(e->name, event, n);
    return sb_sio_on(nsp, event, on_event, e);
}

static int on_middleware(sb_sio_socket_t *s, sb_str_t auth, sb_sio_refusal_t *why, void *ud) {
    middleware_reg_t *m = ud;
    return m->fn(s, auth.p ? auth.p : "", auth.n, (sb_refusal_t *)why, m->ud);
}

int sb_nsp_use(sb_nsp_t *nsp, sb_middleware_fn fn, void *ud) {
    middleware_reg_t *m = sb_pub__keep(server_of(nsp), sizeof *m);
    if (!m)
        return SB_ENOMEM;
    *m = (middleware_reg_t){fn, ud};
    return sb_sio_use(nsp, on_middleware, m);
}

void sb_refusal_set(sb_refusal_t *why, const char *message, const char *data_json) {
    sb_sio_refusal_t *r = (sb_sio_refusal_t *)why;
    if (message)
        snprintf(r->message, sizeof r->message, "%s", message);
    snprintf(r->data, sizeof r->data, "%s", data_json ? data_json : "");
}

/* ---- broadcasts -------------------------------------------------------------------- */

static int to_strs(const char *const *names, size_t n, sb_str_t *out) {
    if (n > SB_PUB_MAX_ROOMS)
        return SB_ETOOBIG;
    for (size_t i = 0; i < n; i++)
        out[i] = sb_cstr(names[i]);
    return SB_OK;
}

long sb_nsp_emit_binary(sb_nsp_t *nsp, const sb_target_t *to, const char *event, const char *json,
                        size_t n, const sb_bytes_t *att, size_t natt) {
    sb_str_t rooms[SB_PUB_MAX_ROOMS], except[SB_PUB_MAX_ROOMS];
    sb_sio_target_t t = {.all = !to || to->nrooms == 0};
    if (to) {
        if (to_strs(to->rooms, to->nrooms, rooms) != SB_OK ||
            to_strs(to->except, to->nexcept, except) != SB_OK)
            return SB_ETOOBIG;
        t.rooms = rooms, t.nrooms = to->nrooms;
        t.except = except, t.nexcept = to->nexcept;
        t.except_socket = to->except_socket;
        t.is_volatile = to->is_volatile;
    }
    /* sb_bytes_t and sb_str_t are the same two words */
    return sb_sio_broadcast(nsp, &t, event, sb_str(json, n), (const sb_str_t *)att, natt);
}

long sb_nsp_emit(sb_nsp_t *nsp, const sb_target_t *to, const char *event, const char *json,
                 size_t n) {
    return sb_nsp_emit_binary(nsp, to, event, json, n, NULL, 0);
}

_Static_assert(sizeof(sb_bytes_t) == sizeof(sb_str_t) &&
                   offsetof(sb_bytes_t, n) == offsetof(sb_str_t, n),
               "sb_bytes_t must have sb_str_t's layout");

/* ---- calls ---------------------------------------------------------------------------- */

sb_socket_t *sb_call_socket(const sb_call_t *call) { return call->ev->socket; }
const char *sb_call_event(const sb_call_t *call) { return call->name; }
size_t sb_call_argc(const sb_call_t *call) { return call->ev->nargs; }

const char *sb_call_arg(const sb_call_t *call, size_t i, size_t *n) {
    if (i >= call->ev->nargs) {
        *n = 0;
        return NULL;
    }
    *n = call->ev->arg[i].n;
    return call->ev->arg[i].p;
}

const char *sb_call_args(const sb_call_t *call, size_t *n) {
    *n = call->ev->args.n;
    return call->ev->args.p ? call->ev->args.p : "";
}

int sb_call_arg_string(const sb_call_t *call, size_t i, char *out, size_t cap) {
    size_t n = 0;
    if (i >= call->ev->nargs || cap == 0 || sb_json_type(call->ev->arg[i]) != SB_JSON_STRING)
        return SB_EINVAL;
    int rc = sb_json_string_unescape(call->ev->arg[i], out, cap - 1, &n);
    if (rc != SB_OK)
        return rc;
    out[n] = '\0';
    return memchr(out, '\0', n) ? SB_EINVAL : SB_OK;
}

size_t sb_call_attachment_count(const sb_call_t *call) { return call->ev->nattachments; }

const void *sb_call_attachment(const sb_call_t *call, size_t i, size_t *n) {
    if (i >= call->ev->nattachments) {
        *n = 0;
        return NULL;
    }
    *n = call->ev->attachments[i].n;
    return call->ev->attachments[i].p;
}

bool sb_call_wants_ack(const sb_call_t *call) { return call->ev->has_ack; }

int sb_call_reply(const sb_call_t *call, const char *json, size_t n) {
    return sb_sio_reply(call->ev, sb_str(json, n));
}

int sb_call_reply_binary(const sb_call_t *call, const char *json, size_t n, const sb_bytes_t *att,
                         size_t natt) {
    return sb_sio_reply_binary(call->ev, sb_str(json, n), (const sb_str_t *)att, natt);
}

/* ---- sockets ---------------------------------------------------------------------------- */

const char *sb_socket_id(const sb_socket_t *s) { return sb_sio_socket_id(s); }
sb_nsp_t *sb_socket_namespace(const sb_socket_t *s) { return sb_sio_socket_nsp(s); }
bool sb_socket_connected(const sb_socket_t *s) { return sb_sio_socket_connected(s); }
void sb_socket_ref(sb_socket_t *s) { sb_sio_socket_ref(s); }
void sb_socket_unref(sb_socket_t *s) { sb_sio_socket_unref(s); }
void *sb_socket_get_data(const sb_socket_t *s) { return sb_sio_socket_get_data(s); }
void sb_socket_set_data(sb_socket_t *s, void *data) { sb_sio_socket_set_data(s, data); }
const char *sb_socket_authorization(const sb_socket_t *s) { return sb_sio_socket_authorization(s); }
const char *sb_socket_query(const sb_socket_t *s) { return sb_sio_socket_query(s); }

void sb_socket_remote_ip(const sb_socket_t *s, char *out, size_t cap) {
    sb_sio_socket_remote_ip(s, out, cap);
}

int sb_socket_join(sb_socket_t *s, const char *room) { return sb_sio_join(s, sb_cstr(room)); }
int sb_socket_leave(sb_socket_t *s, const char *room) { return sb_sio_leave(s, sb_cstr(room)); }

bool sb_socket_in_room(const sb_socket_t *s, const char *room) {
    return sb_sio_in_room(s, sb_cstr(room));
}

void sb_socket_disconnect(sb_socket_t *s) { sb_sio_disconnect(s); }

int sb_nsp_recovery(sb_nsp_t *nsp, uint32_t window_ms) {
    sb_sio_recovery_config_t cfg = {.window_ms = window_ms};
    return sb_sio_recovery_enable(nsp, &cfg);
}

bool sb_socket_recovered(const sb_socket_t *s) { return sb_sio_socket_recovered(s); }

const char *sb_socket_recovery_offset(const sb_socket_t *s) { return sb_sio_socket_offset(s); }

int sb_socket_set_owner(sb_socket_t *s, const char *owner) {
    return owner ? sb_sio_socket_set_owner(s, owner) : SB_EINVAL;
}

int sb_socket_emit(sb_socket_t *s, const char *event, const char *json, size_t n) {
    return sb_sio_emit(s, event, sb_str(json, n));
}

int sb_socket_emit_binary(sb_socket_t *s, const char *event, const char *json, size_t n,
                          const sb_bytes_t *att, size_t natt) {
    return sb_sio_emit_binary(s, event, sb_str(json, n), (const sb_str_t *)att, natt);
}

typedef struct {
    sb_answer_fn fn;
    void *ud;
} answer_t;

static void on_answer(sb_sio_socket_t *s, const sb_sio_event_t *ev, void *ud) {
    answer_t a = *(answer_t *)ud;
    free(ud);
    sb_call_t call = {ev, ""};
    a.fn(s, ev ? &call : NULL, a.ud);
}

int sb_socket_emit_with_ack(sb_socket_t *s, const char *event, const char *json, size_t n,
                            uint32_t timeout_ms, sb_answer_fn fn, void *ud) {
    answer_t *a = malloc(sizeof *a);
    if (!a)
        return SB_ENOMEM;
    *a = (answer_t){fn, ud};
    int rc = sb_sio_emit_with_ack(s, event, sb_str(json, n), timeout_ms, on_answer, a);
    if (rc != SB_OK)
        free(a);
    return rc;
}
