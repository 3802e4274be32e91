/* Delivery of stored events addressed to users — messages
 * (message:received) and notifications (notification:new) — to their
 * devices (docs/events.md, "Delivery guarantees").
 *
 * The store writes a pending row per recipient user in the same transaction
 * as the event, so nothing is decided before the commit. A row stays
 * pending until a device confirms it: by acknowledging the event (the server
 * always asks for an ack), or by reconnecting with a recovery offset that
 * covers it. Writing to a socket confirms nothing.
 *
 * Each device gets each pending event once per session. A device that
 * connects is "syncing" a stream until its backlog of that stream is read:
 * live events skip it, and the backlog, paged by id, picks them up instead
 * (an event committed before a page query is in that page; one committed
 * after the last page query completes after it, when the device is live;
 * an event relayed from another node of a cluster, which has no such
 * order, makes the backlog read one more page). So a device sees strictly
 * increasing ids per stream, and `sent[stream]` is how far it has been
 * served.
 *
 * Several servers on one PostgreSQL store complete ids out of order between
 * them: appends commit in id order (the appends' lock), but a relayed event
 * may reach a node after a higher one. Each event carries its user's
 * previous event (`prev`, confirmed or not); a live device that was not
 * sent that one does not take the event live but reads the store after
 * `sent` (as when syncing): committed before the event, the missing ones
 * still pending are in that read, in order, and `sent` then moves to the
 * event (the others were confirmed by another device). Relayed ids of another store (a node on its own
 * SQLite file) name nothing here: those are shown, without an ack and
 * without moving `sent`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "features/features_internal.h"

#define SB_DELIVERY_PAGE 200
#define SB_DELIVERY_ACK_TIMEOUT_MS 120000 /* default of --delivery-ack-timeout */
#define SB_DELIVERY_DEVICES_INLINE 16
#define SB_DELIVERY_RECOVERY_GRACE_MS 50

typedef int (*confirm_fn)(sb_store_t *st, sb_str_t user, const int64_t *ids, size_t n,
                          sb_store_done_cb cb, void *ud);

static const struct {
    const char *event;
    confirm_fn confirm;
} streams[SB_STREAMS] = {
    [SB_STREAM_MESSAGES] = {"message:received", sb_store_message_mark_delivered},
    [SB_STREAM_NOTIFICATIONS] = {"notification:new", sb_store_notification_mark_delivered},
};

static bool syncing(const sb_client_t *c, sb_stream_t st) { return c->syncing & (1u << st); }
static void synced(sb_client_t *c, sb_stream_t st) { c->syncing &= (uint8_t) ~(1u << st); }

/* ---- confirmation ----------------------------------------------------------- */

/* The ack's user data: the id, shifted, and the stream in the low bit. */
static void on_confirmed(sb_sio_socket_t *s, const sb_sio_event_t *ev, void *ud) {
    sb_client_t *c = sb_sio_socket_get_data(s);
    if (!ev || !c)
        return; /* timed out or gone: the row stays pending */
    sb_stream_t st = (sb_stream_t)((uintptr_t)ud & 1);
    int64_t id = (int64_t)((uintptr_t)ud >> 1);
    int rc = streams[st].confirm(c->f->cfg.store, sb_cstr(c->user->id), &id, 1, NULL, NULL);
    if (rc != SB_OK)
        sb_log_warn("%s %lld for %s: cannot mark delivered: %s", streams[st].event, (long long)id,
                    c->user->id, sb_strerror(rc));
}

/* Sends one event asking for an ack, then the device's offset. A device
 * with too many unconfirmed events still gets it, without an ack request:
 * it stays pending for the user. */
static void send_one(sb_client_t *c, sb_stream_t st, int64_t id, sb_str_t text) {
    void *ud = (void *)(((uintptr_t)id << 1) | (uintptr_t)st);
    const char *event = streams[st].event;
    /* An ack later than the timeout is ignored: the event stays pending. */
    uint32_t timeout = c->f->cfg.delivery_ack_timeout_ms ? c->f->cfg.delivery_ack_timeout_ms
                                                         : SB_DELIVERY_ACK_TIMEOUT_MS;
    int rc = sb_sio_emit_with_ack(c->sock, event, text, timeout, on_confirmed, ud);
    if (rc == SB_ETOOBIG)
        rc = sb_sio_emit(c->sock, event, text);
    if (rc != SB_OK)
        return;
    c->sent[st] = id;
    sb_feat_recovery_mark(c); /* after each event: a drop may cut a batch anywhere */
}

/* ---- live ------------------------------------------------------------------------- */

typedef struct {
    sb_sio_socket_t **v;
    size_t n, cap;
    sb_sio_socket_t *inline_v[SB_DELIVERY_DEVICES_INLINE];
} devices_t;

static bool add_device(sb_hub_member_t *m, void *ud) {
    devices_t *d = ud;
    if (d->n == d->cap) {
        size_t cap = d->cap * 2;
        sb_sio_socket_t **v =
            d->v == d->inline_v ? malloc(cap * sizeof *v) : realloc(d->v, cap * sizeof *v);
        if (!v)
            return false;
        if (d->v == d->inline_v)
            memcpy(v, d->inline_v, sizeof d->inline_v);
        d->v = v;
        d->cap = cap;
    }
    sb_sio_socket_t *s = sb_sio_socket_of_member(m);
    if (!s)
        return true; /* a read-only subscriber: it has the tap's copy */
    sb_sio_socket_ref(s);
    d->v[d->n++] = s;
    return true;
}

/* Read-only subscribers of the user (SSE) get a copy, without an ack: they
 * confirm nothing, so the event stays pending for the devices. */
static void tap_copy(sb_features_t *f, sb_stream_t st, const char *user_id, sb_str_t text) {
    char tap[SB_FEAT_USER_ROOM_MAX];
    sb_str_t room = sb_feat_user_room_name(tap, user_id, SB_FEATURES_TAP_SUFFIX);
    /* Its subscribers join it (api/sse.c); without any, not even the keeper of
     * "user:" rooms need be asked. */
    if (sb_hub_room_joined(sb_sio_nsp_hub(f->nsp), room) == 0)
        return;
    sb_sio_target_t t = {.rooms = &room, .nrooms = 1};
    sb_sio_broadcast(f->nsp, &t, streams[st].event, text, NULL, 0);
}

/* The devices in a room, referenced. Collected first: a send may close a
 * slow consumer, which leaves the room. */
static void devices_collect(sb_features_t *f, const char *room, devices_t *d) {
    d->n = 0;
    d->cap = SB_DELIVERY_DEVICES_INLINE;
    d->v = d->inline_v;
    sb_hub_room_members(sb_sio_nsp_hub(f->nsp), sb_cstr(room), add_device, d);
}

/* The client of a collected device, or NULL when it is gone. */
static sb_client_t *devices_take(devices_t *d, size_t i) {
    return sb_sio_socket_connected(d->v[i]) ? sb_sio_socket_get_data(d->v[i]) : NULL;
}

static void devices_free(devices_t *d) {
    for (size_t i = 0; i < d->n; i++)
        sb_sio_socket_unref(d->v[i]);
    if (d->v != d->inline_v)
        free(d->v);
}

/* Other nodes' devices of the user get it from their node (relayed), so
 * an event for a user online elsewhere is delivered now, not on their next
 * connect. */
void sb_feat_delivery_live(sb_features_t *f, sb_stream_t st, const char *user_id, int64_t id,
                           int64_t prev, sb_str_t text) {
    tap_copy(f, st, user_id, text);
    if (!sb_feat_online_anywhere(f, user_id)) /* once, by the node that stored it */
        sb_feat_backend_push(f, st, user_id, id, text);
    sb_feat_cluster_relay(f, st, user_id, id, prev, text);
    sb_feat_delivery_local(f, st, user_id, id, prev, text);
}

static void backlog_start_stream(sb_client_t *c, sb_stream_t st, int64_t horizon);

/* The user's devices on this node, collected (NULL when it has none). */
static bool devices_of(sb_features_t *f, const char *user_id, devices_t *d) {
    if (sb_features_user_devices(f, user_id) == 0)
        return false; /* pending: the next device to connect reads it */
    char room[SB_FEAT_USER_ROOM_MAX];
    sb_feat_user_room_name(room, user_id, "");
    devices_collect(f, room, d);
    return true;
}

void sb_feat_delivery_local(sb_features_t *f, sb_stream_t st, const char *user_id, int64_t id,
                            int64_t prev, sb_str_t text) {
    devices_t d;
    if (!devices_of(f, user_id, &d))
        return;
    for (size_t i = 0; i < d.n; i++) {
        sb_client_t *c = devices_take(&d, i);
        if (!c || id <= c->sent[st])
            continue;
        if (syncing(c, st)) {
            c->reread |= (uint8_t)(1u << st); /* see backlog_next */
        } else if (prev > c->sent[st]) {      /* it was not sent `prev`: read them in order */
            c->syncing |= 1u << st;
            backlog_start_stream(c, st, id);
        } else {
            send_one(c, st, id, text);
        }
    }
    devices_free(&d);
}

/* Another store's event: shown, confirming nothing here. */
static void delivery_foreign(sb_features_t *f, sb_stream_t st, const char *user_id, sb_str_t text) {
    devices_t d;
    if (!devices_of(f, user_id, &d))
        return;
    for (size_t i = 0; i < d.n; i++) {
        sb_client_t *c = devices_take(&d, i);
        if (c)
            sb_sio_emit(c->sock, streams[st].event, text);
    }
    devices_free(&d);
}

/* Ids of another store (a node on its own SQLite file, or on another
 * database) name nothing here. */
void sb_features_cluster_relayed(sb_features_t *f, const sb_engine_delivery_t *d) {
    char uid[SB_USER_ID_MAX + 1];
    if (d->stream >= SB_STREAMS || d->user.n == 0 || d->user.n > SB_USER_ID_MAX ||
        memchr(d->user.p, '\0', d->user.n))
        return;
    memcpy(uid, d->user.p, d->user.n);
    uid[d->user.n] = '\0';
    sb_stream_t st = (sb_stream_t)d->stream;
    if (sb_str_eq(d->store, sb_cstr(sb_store_identity(f->cfg.store))))
        sb_feat_delivery_local(f, st, uid, d->id, d->prev, d->text);
    else
        delivery_foreign(f, st, uid, d->text);
}

long sb_feat_delivery_room(sb_features_t *f, const char *room, const char *event, json_t *payload,
                           int64_t id) {
    long n = sb_feat_emit_room(f, room, event, payload, NULL);
    devices_t d;
    devices_collect(f, room, &d);
    for (size_t i = 0; i < d.n; i++) {
        sb_client_t *c = devices_take(&d, i);
        if (c)
            sb_feat_recovery_room_sent(c, id);
    }
    devices_free(&d);
    return n;
}

/* ---- backlog: what is pending for the user when a device connects ------------------ */

typedef struct {
    sb_features_t *f;
    sb_sio_socket_t *sock;
    sb_stream_t stream;
    /* The event that showed a device had missed one, or the user's newest
     * id as a page read it: once the read is done, the device has
     * everything up to it that is still pending. */
    int64_t horizon;
    char user[SB_USER_ID_MAX + 1];
} backlog_t;

static void on_message_page(void *ud, int rc, const sb_store_msgs_t *page);
static void on_notification_page(void *ud, int rc, const sb_store_notifications_t *page);

static void backlog_end(backlog_t *b) {
    sb_sio_socket_unref(b->sock);
    free(b);
}

static void backlog_fetch(backlog_t *b, int64_t after) {
    sb_store_t *st = b->f->cfg.store;
    int rc = b->stream == SB_STREAM_MESSAGES
                 ? sb_store_message_undelivered(st, sb_cstr(b->user), after, SB_DELIVERY_PAGE,
                                                on_message_page, b)
                 : sb_store_notification_undelivered(st, sb_cstr(b->user), after, SB_DELIVERY_PAGE,
                                                     on_notification_page, b);
    if (rc == SB_OK)
        return;
    sb_log_warn("pending %s of %s: %s", streams[b->stream].event, b->user, sb_strerror(rc));
    sb_client_t *c = sb_sio_socket_get_data(b->sock);
    if (c && sb_sio_socket_connected(b->sock))
        synced(c, b->stream); /* live from here; the rest waits for the next connect */
    backlog_end(b);
}

/* The device of a page, or NULL (then the backlog has ended). */
static sb_client_t *backlog_client(backlog_t *b, int rc) {
    sb_client_t *c = sb_sio_socket_connected(b->sock) ? sb_sio_socket_get_data(b->sock) : NULL;
    if (c && rc != SB_OK) {
        sb_log_warn("pending %s of %s: %s", streams[b->stream].event, b->user, sb_strerror(rc));
        synced(c, b->stream);
        c = NULL;
    }
    if (!c)
        backlog_end(b);
    return c;
}

static void backlog_send(sb_client_t *c, sb_stream_t st, int64_t id, json_t *j) {
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (text)
        send_one(c, st, id, sb_cstr(text));
    free(text);
}

/* The next device's backlog reads from the user's delivery floor: past
 * what was confirmed by now, it costs what arrived since, not the user's
 * whole history (sb_store_message_floor_advance). Best effort: a floor
 * left low is only slower to read from, so a full store queue (a connect
 * storm) or a closing store skips it without a line per device. */
static void raise_floor(const backlog_t *b) {
    int rc = sb_store_message_floor_advance(b->f->cfg.store, sb_cstr(b->user), NULL, NULL);
    if (rc != SB_OK && rc != SB_ETOOBIG && rc != SB_ECLOSED)
        sb_log_warn("delivery floor of %s: %s", b->user, sb_strerror(rc));
}

/* After a page of n rows ending at last_id: the next page, or live. A
 * live event that came while the device was syncing is in a page when it
 * was stored on this node (the store completes in order); one relayed by
 * another node may have been stored after this node's last page query:
 * then one more page is read, after what the device was sent. */
static void backlog_next(backlog_t *b, sb_client_t *c, size_t n, int64_t newest, int64_t last_id) {
    if (newest > b->horizon) /* read before the page: each page's is as new */
        b->horizon = newest;
    if (n == SB_DELIVERY_PAGE) {
        backlog_fetch(b, last_id);
        return;
    }
    if (c->sent[b->stream] < b->horizon) /* the rest up to it was confirmed elsewhere */
        c->sent[b->stream] = b->horizon;
    if (c->reread & (1u << b->stream)) {
        c->reread &= (uint8_t) ~(1u << b->stream);
        backlog_fetch(b, c->sent[b->stream]);
        return;
    }
    synced(c, b->stream);
    if (b->stream == SB_STREAM_MESSAGES)
        raise_floor(b);
    backlog_end(b);
}

/* A pending message as it was sent live: a direct one names its receiver,
 * the device's user, and the sender's key comes while it is remembered. */
static json_t *pending_message_json(const backlog_t *b, const sb_store_msg_t *m) {
    json_t *j = sb_feat_message_json(m, m->sender_name);
    if (j && sb_str_has_prefix(sb_cstr(m->room), SB_LIT("conversation:dm:")) &&
        strcmp(m->sender_id, b->user) != 0)
        json_object_set_new(j, "receiverId", json_string(b->user));
    if (j && m->client_key)
        json_object_set_new(j, "clientMessageId", json_string(m->client_key));
    return j;
}

static void on_message_page(void *ud, int rc, const sb_store_msgs_t *page) {
    backlog_t *b = ud;
    sb_client_t *c = backlog_client(b, rc);
    if (!c)
        return;
    for (size_t i = 0; i < page->n; i++)
        if (page->v[i].id > c->sent[SB_STREAM_MESSAGES])
            backlog_send(c, SB_STREAM_MESSAGES, page->v[i].id,
                         pending_message_json(b, &page->v[i]));
    backlog_next(b, c, page->n, page->newest, page->n ? page->v[page->n - 1].id : 0);
}

static void on_notification_page(void *ud, int rc, const sb_store_notifications_t *page) {
    backlog_t *b = ud;
    sb_client_t *c = backlog_client(b, rc);
    if (!c)
        return;
    for (size_t i = 0; i < page->n; i++)
        if (page->v[i].id > c->sent[SB_STREAM_NOTIFICATIONS])
            backlog_send(c, SB_STREAM_NOTIFICATIONS, page->v[i].id,
                         sb_feat_notification_json(&page->v[i]));
    backlog_next(b, c, page->n, page->newest, page->n ? page->v[page->n - 1].id : 0);
}

/* Reads what is pending for the user after what the device was sent, then
 * live (syncing until then). */
static void backlog_start_stream(sb_client_t *c, sb_stream_t st, int64_t horizon) {
    backlog_t *b = calloc(1, sizeof *b);
    if (!b) {
        sb_log_warn("pending %s of %s: out of memory", streams[st].event, c->user->id);
        synced(c, st);
        return;
    }
    b->f = c->f;
    b->sock = c->sock;
    b->stream = st;
    b->horizon = horizon;
    snprintf(b->user, sizeof b->user, "%s", c->user->id);
    sb_sio_socket_ref(b->sock);
    backlog_fetch(b, c->sent[st]);
}

static void backlog_start(sb_client_t *c) {
    backlog_start_stream(c, SB_STREAM_MESSAGES, 0);
    backlog_start_stream(c, SB_STREAM_NOTIFICATIONS, 0);
}

/* A recovered device waiting for its replay (rare: allocated only then). */
typedef struct {
    sb_list_node_t node; /* in f->graces */
    sb_timer_t timer;
    sb_sio_socket_t *sock;
} grace_t;

static void grace_free(grace_t *g) {
    sb_list_remove(&g->node);
    sb_sio_socket_unref(g->sock);
    free(g);
}

static void on_grace_over(sb_timer_t *t) {
    grace_t *g = sb_container_of(t, grace_t, timer);
    sb_client_t *c = sb_sio_socket_connected(g->sock) ? sb_sio_socket_get_data(g->sock) : NULL;
    if (c)
        backlog_start(c);
    grace_free(g);
}

void sb_feat_delivery_dispose(sb_features_t *f) {
    sb_list_node_t *n;
    while ((n = f->graces.next) != &f->graces) {
        grace_t *g = sb_container_of(n, grace_t, node);
        sb_timer_stop(&g->timer);
        grace_free(g);
    }
}

/* A device that recovers may have reconnected before its old connection's
 * last bytes were read: acknowledgements it sent just before the drop, on
 * that other connection. Its replay waits a moment so they count first;
 * the offset it sent covers the rest. */
void sb_feat_delivery_connect(sb_client_t *c) {
    grace_t *g = sb_sio_socket_recovered(c->sock) ? calloc(1, sizeof *g) : NULL;
    if (!g) {
        backlog_start(c);
        return;
    }
    g->sock = c->sock;
    sb_sio_socket_ref(g->sock);
    sb_list_push_tail(&c->f->graces, &g->node);
    sb_timer_init(c->f->loop, &g->timer, on_grace_over);
    sb_timer_start(&g->timer, SB_DELIVERY_RECOVERY_GRACE_MS);
}
