/* Socket.IO sockets: one per (client, namespace). Connect with middleware,
 * rooms, incoming events and acks, and the disconnect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "socketio/sio_internal.h"

#define SB_SIO_EVENT_NAME_MAX 256

static void deliver_to_socket(sb_hub_member_t *m, sb_frame_t *f) {
    sb_sio_socket_t *s = sb_container_of(m, sb_sio_socket_t, member);
    if (s->connected)
        sb_eio_send_frame(s->client->eio, f);
}

sb_sio_socket_t *sb_sio__socket_create(sb_sio_client_t *c, sb_sio_nsp_t *nsp) {
    sb_sio_socket_t *s = sb_pool_alloc(&c->srv->sockets);
    if (!s)
        return NULL;
    s->client = c;
    s->nsp = nsp;
    s->refs = 1;
    const sb_sio_config_t *cfg = &nsp->srv->cfg;
    s->events = (sb_sio_bucket_t){(uint32_t)nsp->srv->loop->now_ms,
                                  (cfg->events_burst ? cfg->events_burst : 1) * 1000u};
    s->volatile_ = (sb_sio_bucket_t){(uint32_t)nsp->srv->loop->now_ms,
                                     (cfg->volatile_burst ? cfg->volatile_burst : 1) * 1000u};
    sb_sio__random_id(c->srv, s->id);
    sb_hub_member_init(&s->member, deliver_to_socket);
    sb_list_init(&s->acks);
    if (sb_sio__recovery_socket_init(s) != SB_OK) {
        sb_pool_free(&c->srv->sockets, s);
        return NULL;
    }
    return s;
}

sb_sio_socket_t *sb_sio__client_socket(sb_sio_client_t *c, sb_str_t nsp) {
    for (sb_sio_socket_t *s = c->sockets; s; s = s->client_next)
        if (sb_str_eq(sb_cstr(s->nsp->name), nsp))
            return s;
    return NULL;
}

/* ---- connect ---------------------------------------------------------------- */

/* The socket is refused: the client gets CONNECT_ERROR, the socket goes. */
static void refuse(sb_sio_socket_t *s, const sb_sio_refusal_t *why) {
    sb_sio__send_connect_error(s->client, sb_cstr(s->nsp->name), why->message,
                               why->data[0] ? why->data : NULL);
    sb_sio_socket_unref(s);
}

static void admit(sb_sio_socket_t *s, sb_str_t auth) {
    sb_sio_client_t *c = s->client;
    sb_sio_socket_t *holder = sb_sio__recovery_holder(s, auth);
    if (holder) { /* closed first: its session is then kept for `s` to restore */
        sb_sio__send_packet(holder, SB_SIO_DISCONNECT, SB_STR_NULL);
        sb_sio__socket_close(holder, "transport close");
    }
    sb_sio__recovery_connect(s, auth);
    s->connected = true;
    sb_sio_socket_t **tail = &c->sockets;
    while (*tail)
        tail = &(*tail)->client_next;
    *tail = s;
    s->client_next = NULL;
    s->nsp->nsockets++;
    /* Unlike the reference, a socket is not put in a room named by its id:
     * that room would cost a room and a link per connection, and a socket
     * is addressed directly (sb_sio_emit). */
    sb_hub_add(s->nsp->hub, &s->member);
    if (s->nsp->srv->engine) /* other nodes address a socket by a room named by its id */
        sb_hub_join(s->nsp->hub, &s->member, sb_cstr(s->id));
    sb_sio__client_connected(c);
    char body[96];
    int n = s->rec.flags & SB_SIO_REC_ON
                ? snprintf(body, sizeof body, "{\"sid\":\"%s\",\"pid\":\"%s\"}", s->id,
                           sb_sio_socket_pid(s))
                : snprintf(body, sizeof body, "{\"sid\":\"%s\"}", s->id);
    sb_sio__send_packet(s, SB_SIO_CONNECT, sb_str(body, (size_t)n));
    sb_sio_nsp_t *nsp = s->nsp; /* the callback may end the socket */
    if (nsp->conn_fn)
        nsp->conn_fn(s, nsp->conn_ud);
    sb_sio__recovery_connected(nsp);
}

/* Parks the socket until sb_sio_socket_resume(); false when out of memory. */
static bool wait_for(sb_sio_socket_t *s, sb_str_t auth, size_t next_mw) {
    sb_sio_wait_t *w = malloc(sizeof *w + auth.n);
    if (!w)
        return false;
    *w = (sb_sio_wait_t){.s = s, .next_mw = next_mw, .auth_n = auth.n};
    memcpy(w->auth, auth.p, auth.n);
    sb_list_push_tail(&s->client->srv->waiting, &w->node);
    s->pending = true;
    return true;
}

/* Runs the middleware from index `from`; then admits, refuses or waits. */
static void run_middleware(sb_sio_socket_t *s, sb_str_t auth, size_t from) {
    sb_sio_refusal_t why = {.message = "Not authorized"};
    why.data[0] = '\0';
    for (size_t i = from; i < s->nsp->nmws; i++) {
        int rc = s->nsp->mws[i].fn(s, auth, &why, s->nsp->mws[i].ud);
        if (rc == SB_EAGAIN && wait_for(s, auth, i + 1))
            return;
        if (rc == SB_EAGAIN) /* the middleware holds its reference and will hear SB_ECLOSED */
            snprintf(why.message, sizeof why.message, "Server out of memory");
        if (rc != SB_OK) {
            refuse(s, &why);
            return;
        }
    }
    admit(s, auth);
}

void sb_sio__socket_connect(sb_sio_socket_t *s, sb_str_t auth) {
    run_middleware(s, auth.n ? auth : SB_LIT("{}"), 0);
}

static sb_sio_wait_t *wait_of(const sb_sio_socket_t *s) {
    sb_list_node_t *n, *tmp;
    sb_list_foreach_safe(n, tmp, &s->client->srv->waiting) {
        sb_sio_wait_t *w = sb_container_of(n, sb_sio_wait_t, node);
        if (w->s == s)
            return w;
    }
    return NULL;
}

bool sb_sio_socket_pending(const sb_sio_socket_t *s) { return s->pending; }

int sb_sio_socket_resume(sb_sio_socket_t *s, int rc, const sb_sio_refusal_t *why) {
    sb_sio_wait_t *w = s->pending ? wait_of(s) : NULL;
    if (!w)
        return SB_ECLOSED;
    sb_list_remove(&w->node);
    s->pending = false;
    if (rc == SB_OK)
        run_middleware(s, sb_str(w->auth, w->auth_n), w->next_mw);
    else
        refuse(s, why);
    free(w);
    return SB_OK;
}

bool sb_sio__client_waiting(sb_sio_client_t *c, sb_str_t nsp) {
    sb_list_node_t *n, *tmp;
    sb_list_foreach_safe(n, tmp, &c->srv->waiting) {
        sb_sio_wait_t *w = sb_container_of(n, sb_sio_wait_t, node);
        if (w->s->client == c && sb_str_eq(sb_cstr(w->s->nsp->name), nsp))
            return true;
    }
    return false;
}

void sb_sio__client_abandon(sb_sio_client_t *c) {
    sb_list_node_t *n, *tmp;
    sb_list_foreach_safe(n, tmp, &c->srv->waiting) {
        sb_sio_wait_t *w = sb_container_of(n, sb_sio_wait_t, node);
        if (w->s->client != c)
            continue;
        sb_list_remove(n);
        w->s->pending = false;
        w->s->client = NULL; /* only its middleware's reference is left */
        sb_sio_socket_unref(w->s);
        free(w);
    }
}

/* ---- disconnect ---------------------------------------------------------------- */

static void acks_cancel(sb_sio_socket_t *s) {
    sb_sio_server_t *srv = s->nsp->srv;
    sb_list_node_t *n;
    while ((n = sb_list_pop_head(&s->acks)) != NULL) {
        sb_sio_pending_ack_t *a = sb_container_of(n, sb_sio_pending_ack_t, node);
        sb_timer_stop(&a->timer);
        a->cb(s, NULL, a->ud);
        sb_pool_free(&srv->acks, a);
    }
    s->nacks = 0;
}

void sb_sio__socket_close(sb_sio_socket_t *s, const char *reason) {
    if (!s->connected)
        return;
    sb_sio_socket_release_output(s); /* while s is in its client's list */
    s->connected = false;
    sb_sio_socket_t **pp = &s->client->sockets;
    while (*pp != s)
        pp = &(*pp)->client_next;
    *pp = s->client_next;
    s->client_next = NULL;
    s->nsp->nsockets--;
    acks_cancel(s);
    sb_sio__recovery_disconnect(s, reason);
    if (s->nsp->disc_fn)
        s->nsp->disc_fn(s, reason, s->nsp->disc_ud);
    sb_hub_remove(s->nsp->hub, &s->member);
    sb_sio_socket_unref(s);
}

void sb_sio_disconnect(sb_sio_socket_t *s) {
    if (!s->connected)
        return;
    sb_sio__send_packet(s, SB_SIO_DISCONNECT, SB_STR_NULL);
    sb_sio__socket_close(s, "server namespace disconnect");
}

void sb_sio_socket_ref(sb_sio_socket_t *s) { s->refs++; }

void sb_sio_socket_unref(sb_sio_socket_t *s) {
    if (--s->refs == 0) {
        sb_sio__recovery_free(s);
        sb_pool_free(&s->nsp->srv->sockets, s);
    }
}

/* ---- accessors and rooms --------------------------------------------------------- */

const char *sb_sio_socket_id(const sb_sio_socket_t *s) { return s->id; }
sb_sio_nsp_t *sb_sio_socket_nsp(const sb_sio_socket_t *s) { return s->nsp; }
sb_eio_session_t *sb_sio_socket_session(const sb_sio_socket_t *s) { return s->client->eio; }
void *sb_sio_socket_get_data(const sb_sio_socket_t *s) { return s->ud; }
sb_sio_socket_t *sb_sio_socket_of_member(const sb_hub_member_t *m) {
    return m->deliver == deliver_to_socket ? sb_container_of(m, sb_sio_socket_t, member) : NULL;
}
sb_hub_member_t *sb_sio_socket_member(sb_sio_socket_t *s) { return &s->member; }
typedef struct {
    sb_str_t id;
    sb_sio_socket_t *found;
} find_t;

static bool match_id(sb_hub_member_t *m, void *ud) {
    find_t *w = ud;
    sb_sio_socket_t *s = sb_sio_socket_of_member(m);
    if (s && s->connected && sb_str_eq(sb_cstr(s->id), w->id))
        w->found = s;
    return !w->found;
}

sb_sio_socket_t *sb_sio_nsp_find_socket(sb_sio_nsp_t *nsp, sb_str_t id) {
    find_t w = {id, NULL};
    if (id.n == SB_SIO_ID_LEN)
        sb_hub_members(nsp->hub, match_id, &w);
    return w.found;
}

const char *sb_sio_socket_authorization(const sb_sio_socket_t *s) {
    return sb_eio_authorization(s->client->eio);
}
const char *sb_sio_socket_query(const sb_sio_socket_t *s) { return sb_eio_query(s->client->eio); }
void sb_sio_socket_remote_ip(const sb_sio_socket_t *s, char *out, size_t cap) {
    sb_eio_remote_ip(s->client->eio, out, cap);
}
void sb_sio_socket_set_data(sb_sio_socket_t *s, void *ud) { s->ud = ud; }
bool sb_sio_socket_connected(const sb_sio_socket_t *s) { return s->connected; }

int sb_sio_join(sb_sio_socket_t *s, sb_str_t room) {
    if (!s->connected)
        return SB_ECLOSED;
    int rc = sb_hub_join(s->nsp->hub, &s->member, room);
    if (rc == SB_OK)
        sb_sio__recovery_rooms_changed(s, room);
    return rc;
}

int sb_sio_leave(sb_sio_socket_t *s, sb_str_t room) {
    if (!s->connected)
        return SB_ECLOSED;
    int rc = sb_hub_leave(s->nsp->hub, &s->member, room);
    if (rc == SB_OK)
        sb_sio__recovery_rooms_changed(s, room);
    return rc;
}

bool sb_sio_in_room(const sb_sio_socket_t *s, sb_str_t room) {
    return s->connected && sb_hub_is_member(s->nsp->hub, &s->member, room);
}

void sb_sio_socket_rooms(const sb_sio_socket_t *s, bool (*cb)(sb_str_t room, void *ud), void *ud) {
    sb_hub_member_rooms(&s->member, cb, ud);
}

/* ---- incoming events and acks ------------------------------------------------------ */

/* Splits an event/ack array into its arguments; `skip` leading items (the
 * event name) are not arguments. Returns SB_OK or SB_EPROTO. */
static int split_args(sb_str_t data, size_t skip, sb_sio_event_t *ev, sb_str_t *first) {
    sb_str_t items[SB_SIO_MAX_ARGS + 1];
    int n = sb_json_array_items(data, items, SB_SIO_MAX_ARGS + 1);
    if (n == SB_ETOOBIG)
        n = SB_SIO_MAX_ARGS + 1;
    if (n < 0 || (size_t)n < skip)
        return SB_EPROTO;
    if (skip)
        *first = items[0];
    ev->nargs = (size_t)n - skip;
    memcpy(ev->arg, items + skip, ev->nargs * sizeof(sb_str_t));
    if (ev->nargs == 0) {
        ev->args = SB_STR_NULL;
        return SB_OK;
    }
    /* The raw arguments run from the first one to the array's closing bracket. */
    const char *end = data.p + data.n - 1;
    while (end > ev->arg[0].p && *end != ']')
        end--;
    while (end > ev->arg[0].p &&
           (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t'))
        end--;
    ev->args = sb_str(ev->arg[0].p, (size_t)(end - ev->arg[0].p));
    return SB_OK;
}

/* True if `b` (refilled at `rate` per second up to `burst`) has one more
 * event now; takes it. */
static bool bucket_take(sb_sio_bucket_t *b, uint64_t now, uint32_t rate, uint32_t burst) {
    if (rate == 0)
        return true;
    uint64_t cap = (uint64_t)(burst ? burst : 1) * 1000;
    uint64_t tokens = b->milli + (uint64_t)(uint32_t)((uint32_t)now - b->at_ms) * rate;
    b->at_ms = (uint32_t)now;
    b->milli = (uint32_t)(tokens > cap ? cap : tokens);
    if (b->milli < 1000)
        return false;
    b->milli -= 1000;
    return true;
}

/* `name` is one of the comma list's names. */
static bool in_list(const char *list, sb_str_t name) {
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n == name.n && memcmp(p, name.p, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* Volatile events (typing, cursors) draw on their own bucket, so a fast
 * typist's keystrokes never use up the budget of the messages. */
static bool rate_allows(sb_sio_socket_t *s, sb_str_t name) {
    const sb_sio_config_t *cfg = &s->nsp->srv->cfg;
    uint64_t now = s->nsp->srv->loop->now_ms;
    if (cfg->events_per_second == 0) /* rate limiting off, volatile events included */
        return true;
    if (in_list(cfg->volatile_events, name))
        return bucket_take(&s->volatile_, now, cfg->volatile_per_second, cfg->volatile_burst);
    return bucket_take(&s->events, now, cfg->events_per_second, cfg->events_burst);
}

static void on_rate_limited(sb_sio_socket_t *s, sb_sio_event_t *ev) {
    s->nsp->srv->stats.rate_limited++;
    if (!s->limit_logged) { /* once per socket, not per event */
        char ip[48];
        s->limit_logged = true;
        sb_eio_remote_ip(s->client->eio, ip, sizeof ip);
        sb_log_info("sio %s (%s): over %u events/s, limiting", s->id, ip,
                    s->nsp->srv->cfg.events_per_second);
    }
    if (s->nsp->limited_fn)
        s->nsp->limited_fn(ev, s->nsp->limited_ud);
}

/* The event name as handlers see it: a string unescaped, a number as it
 * was written (`42[1,2]` is event "1"). */
static bool event_name(sb_str_t token, char name[SB_SIO_EVENT_NAME_MAX], size_t *n) {
    if (sb_json_type(token) != SB_JSON_NUMBER)
        return sb_json_string_unescape(token, name, SB_SIO_EVENT_NAME_MAX, n) == SB_OK;
    if (token.n >= SB_SIO_EVENT_NAME_MAX)
        return false;
    memcpy(name, token.p, token.n);
    *n = token.n;
    return true;
}

void sb_sio__on_event(sb_sio_socket_t *s, const sb_sio_packet_t *p, const sb_str_t *att,
                      size_t natt) {
    sb_sio_event_t ev = {.socket = s,
                         .attachments = att,
                         .nattachments = natt,
                         .has_ack = p->has_ack,
                         .ack_id = p->ack_id};
    char name[SB_SIO_EVENT_NAME_MAX];
    sb_str_t token;
    size_t name_n = 0;
    if (split_args(p->data, 1, &ev, &token) != SB_OK || !event_name(token, name, &name_n)) {
        /* Only a hostile client sends a 256-byte event name: close. */
        s->nsp->srv->stats.errors++;
        sb_log_debug("sio %s: event name unusable, closing the session", s->id);
        sb_eio_close(s->client->eio, "parse error");
        return;
    }
    ev.name = sb_str(name, name_n);
    s->nsp->srv->stats.events_in++;
    if (!rate_allows(s, ev.name)) {
        on_rate_limited(s, &ev);
        return;
    }
    sb_sio_handler_t *h = sb_sio__find_handler(s->nsp, ev.name);
    if (h)
        h->fn(&ev, h->ud);
    else if (s->nsp->any_fn)
        s->nsp->any_fn(&ev, s->nsp->any_ud);
}

void sb_sio__on_ack(sb_sio_socket_t *s, const sb_sio_packet_t *p, const sb_str_t *att,
                    size_t natt) {
    sb_list_node_t *n, *tmp;
    sb_list_foreach_safe(n, tmp, &s->acks) {
        sb_sio_pending_ack_t *a = sb_container_of(n, sb_sio_pending_ack_t, node);
        if (a->id != p->ack_id)
            continue;
        sb_sio_event_t ev = {.socket = s, .attachments = att, .nattachments = natt};
        sb_list_remove(&a->node);
        s->nacks--;
        sb_timer_stop(&a->timer);
        sb_sio_server_t *srv = s->nsp->srv;
        srv->stats.acks_in++;
        if (split_args(p->data, 0, &ev, NULL) == SB_OK)
            a->cb(s, &ev, a->ud);
        else
            a->cb(s, NULL, a->ud);
        sb_pool_free(&srv->acks, a);
        return;
    }
}

/* ---- server-to-client acks ---------------------------------------------------------- */

static void on_ack_timeout(sb_timer_t *t) {
    sb_sio_pending_ack_t *a = sb_container_of(t, sb_sio_pending_ack_t, timer);
    sb_list_remove(&a->node);
    sb_sio_server_t *srv = a->socket->nsp->srv; /* the callback may let the socket go */
    a->socket->nacks--;
    a->cb(a->socket, NULL, a->ud);
    sb_pool_free(&srv->acks, a);
}

int sb_sio_emit_with_ack(sb_sio_socket_t *s, const char *event, sb_str_t args, uint32_t timeout_ms,
                         sb_sio_ack_fn cb, void *ud) {
    return sb_sio_emit_binary_with_ack(s, event, args, NULL, 0, timeout_ms, cb, ud);
}

int sb_sio_emit_binary_with_ack(sb_sio_socket_t *s, const char *event, sb_str_t args,
                                const sb_str_t *attachments, size_t n, uint32_t timeout_ms,
                                sb_sio_ack_fn cb, void *ud) {
    if (!s->connected)
        return SB_ECLOSED;
    if (s->nacks >= s->nsp->srv->cfg.max_pending_acks)
        return SB_ETOOBIG;
    sb_sio_pending_ack_t *a = sb_pool_alloc(&s->nsp->srv->acks);
    if (!a)
        return SB_ENOMEM;
    a->id = s->next_ack_id++;
    a->cb = cb;
    a->ud = ud;
    a->socket = s;
    sb_frame_t *f =
        sb_sio__encode(s->nsp, SB_SIO_EVENT, true, a->id, sb_cstr(event), args, attachments, n);
    if (!f) {
        sb_pool_free(&s->nsp->srv->acks, a);
        return SB_ENOMEM;
    }
    sb_timer_init(s->nsp->srv->loop, &a->timer, on_ack_timeout);
    sb_timer_start(&a->timer, timeout_ms);
    sb_list_push_tail(&s->acks, &a->node);
    s->nacks++;
    /* A failed send closes the session: the ack then reports NULL like any
     * other, so the caller sees SB_OK and hears once, through cb. */
    sb_eio_send_frame(s->client->eio, f);
    sb_frame_unref(f);
    return SB_OK;
}
