/* Delivery of stored messages to their recipients' devices (docs/events.md,
 * "Delivery guarantees").
 *
 * The store writes one pending delivery row per recipient user in the same
 * transaction as the message, so nothing is decided before the commit. A row
 * stays pending until a device confirms it: by acknowledging the
 * message:received event (the server always asks for an ack), or by
 * reconnecting with a recovery offset that covers it. Writing to a socket
 * confirms nothing.
 *
 * Each device gets each pending message once per session. A device that
 * connects is "syncing" until its backlog is read: live messages skip it,
 * and the backlog, paged by id, picks them up instead (a message committed
 * before a page query is in that page; one committed after the last page
 * query completes after it, when the device is live). So a device sees
 * strictly increasing ids, and `msg_sent` is how far it has been served. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "features/features_internal.h"

#define SB_DELIVERY_PAGE 200
#define SB_DELIVERY_ACK_TIMEOUT_MS 120000 /* an ack later than this is ignored: still pending */
#define SB_DELIVERY_DEVICES_INLINE 16
#define SB_DELIVERY_RECOVERY_GRACE_MS 50

/* ---- confirmation ----------------------------------------------------------- */

static void on_confirmed(sb_sio_socket_t *s, const sb_sio_event_t *ev, void *ud) {
    sb_client_t *c = sb_sio_socket_get_data(s);
    if (!ev || !c)
        return; /* timed out or gone: the row stays pending */
    int64_t id = (int64_t)(intptr_t)ud;
    int rc = sb_store_message_mark_delivered(c->f->cfg.store, sb_cstr(c->user->id), &id, 1, NULL,
                                             NULL);
    if (rc != SB_OK)
        sb_log_warn("message %lld for %s: cannot mark delivered: %s", (long long)id, c->user->id,
                    sb_strerror(rc));
}

/* Sends one message:received asking for an ack. A device with too many
 * unconfirmed events still gets the message, without an ack request: it
 * stays pending for the user. */
static void send_one(sb_client_t *c, int64_t id, sb_str_t text) {
    int rc = sb_sio_emit_with_ack(c->sock, "message:received", text, SB_DELIVERY_ACK_TIMEOUT_MS,
                                  on_confirmed, (void *)(intptr_t)id);
    if (rc == SB_ETOOBIG)
        rc = sb_sio_emit(c->sock, "message:received", text);
    if (rc == SB_OK)
        c->msg_sent = id;
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
        sb_sio_socket_t **v = d->v == d->inline_v ? malloc(cap * sizeof *v)
                                                   : realloc(d->v, cap * sizeof *v);
        if (!v)
            return false;
        if (d->v == d->inline_v)
            memcpy(v, d->inline_v, sizeof d->inline_v);
        d->v = v;
        d->cap = cap;
    }
    sb_sio_socket_t *s = sb_sio_socket_of_member(m);
    sb_sio_socket_ref(s);
    d->v[d->n++] = s;
    return true;
}

void sb_feat_delivery_message(sb_features_t *f, const char *user_id, int64_t id, sb_str_t text) {
    if (sb_features_user_devices(f, user_id) == 0)
        return; /* pending: the next device to connect reads it */
    char room[SB_USER_ID_MAX + 8];
    snprintf(room, sizeof room, "user:%s", user_id);
    devices_t d = {.cap = SB_DELIVERY_DEVICES_INLINE};
    d.v = d.inline_v;
    /* Collected first: a send may close a slow consumer, which leaves the room. */
    sb_hub_room_members(sb_sio_nsp_hub(f->nsp), sb_cstr(room), add_device, &d);
    for (size_t i = 0; i < d.n; i++) {
        sb_client_t *c = sb_sio_socket_connected(d.v[i]) ? sb_sio_socket_get_data(d.v[i]) : NULL;
        if (c && !c->msg_syncing && id > c->msg_sent) {
            send_one(c, id, text);
            sb_feat_recovery_mark(c);
        }
        sb_sio_socket_unref(d.v[i]);
    }
    if (d.v != d.inline_v)
        free(d.v);
}

/* ---- backlog: what is pending for the user when a device connects ------------------ */

typedef struct {
    sb_features_t *f;
    sb_sio_socket_t *sock;
    char user[SB_USER_ID_MAX + 1];
} backlog_t;

static void backlog_on_page(void *ud, int rc, const sb_store_msgs_t *page);

static void backlog_end(backlog_t *b) {
    sb_sio_socket_unref(b->sock);
    free(b);
}

static void backlog_fetch(backlog_t *b, int64_t after) {
    int rc = sb_store_message_undelivered(b->f->cfg.store, sb_cstr(b->user), after,
                                          SB_DELIVERY_PAGE, backlog_on_page, b);
    if (rc == SB_OK)
        return;
    sb_log_warn("pending messages of %s: %s", b->user, sb_strerror(rc));
    sb_client_t *c = sb_sio_socket_get_data(b->sock);
    if (c && sb_sio_socket_connected(b->sock))
        c->msg_syncing = false; /* live from here; the rest waits for the next connect */
    backlog_end(b);
}

static void backlog_send(sb_client_t *c, const sb_store_msg_t *m) {
    json_t *j = sb_feat_message_json(m, m->sender_name);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (text)
        send_one(c, m->id, sb_cstr(text));
    free(text);
}

static void backlog_on_page(void *ud, int rc, const sb_store_msgs_t *page) {
    backlog_t *b = ud;
    sb_client_t *c = sb_sio_socket_connected(b->sock) ? sb_sio_socket_get_data(b->sock) : NULL;
    if (!c) {
        backlog_end(b);
        return;
    }
    if (rc != SB_OK) {
        sb_log_warn("pending messages of %s: %s", b->user, sb_strerror(rc));
        c->msg_syncing = false;
        backlog_end(b);
        return;
    }
    for (size_t i = 0; i < page->n; i++)
        if (page->v[i].id > c->msg_sent) {
            backlog_send(c, &page->v[i]);
            sb_feat_recovery_mark(c); /* per message: a drop may cut a page anywhere */
        }
    if (page->n == SB_DELIVERY_PAGE) {
        backlog_fetch(b, page->v[page->n - 1].id);
        return;
    }
    c->msg_syncing = false;
    backlog_end(b);
}

static void backlog_start(sb_client_t *c) {
    backlog_t *b = calloc(1, sizeof *b);
    if (!b) {
        sb_log_warn("pending messages of %s: out of memory", c->user->id);
        c->msg_syncing = false;
        return;
    }
    b->f = c->f;
    b->sock = c->sock;
    snprintf(b->user, sizeof b->user, "%s", c->user->id);
    sb_sio_socket_ref(b->sock);
    backlog_fetch(b, c->msg_sent);
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
