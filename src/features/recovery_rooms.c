/* Connection state recovery of room messages (docs/events.md, "Delivery
 * guarantees"): the stored messages broadcast to rooms (chat:message,
 * message:new) that a recovered device missed are replayed from the store,
 * so they too survive a restart.
 *
 * Every stored room message written to a device moves the room part of its
 * offset (sb_feat_recovery_room_sent); stored room messages are broadcast in
 * id order (the store completes in commit order), so an offset proves which
 * ones the device read. A recovered device gets those of its rooms after
 * that part, or, with no room part (it had been sent none), those stored
 * since its session disconnected. Bounded: the newest
 * SB_RECOVERY_REPLAY_MAX messages of the first SB_RECOVERY_REPLAY_ROOMS
 * rooms, at most SB_STORE_MAX_HISTORY per room; sessions are only
 * recovered within --recovery-window. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "features/features_internal.h"

#define SB_RECOVERY_REPLAY_ROOMS 64
#define SB_RECOVERY_REPLAY_MAX 200

typedef struct {
    int64_t id;
    bool conversation; /* message:new, else chat:message */
    char *text;
} replayed_t;

typedef struct {
    sb_features_t *f;
    sb_sio_socket_t *sock;
    int64_t after_id, since_ms; /* after_id 0: by time */
    size_t pending;             /* history pages still to come */
    replayed_t *v;
    size_t n, cap;
    char *rooms[SB_RECOVERY_REPLAY_ROOMS];
    size_t nrooms;
} replay_t;

void sb_feat_recovery_room_sent(sb_client_t *c, int64_t id) {
    if (!sb_sio_socket_pid(c->sock)[0])
        return;
    if (c->room_replaying) { /* the offset waits for the replay; these are not replayed */
        if (!c->room_live_min)
            c->room_live_min = id;
        c->room_live_max = id;
        return;
    }
    if (id <= c->room_sent)
        return;
    c->room_sent = id;
    sb_feat_recovery_mark(c);
}

static bool missed(const replay_t *r, const sb_store_msg_t *m) {
    return r->after_id ? m->id > r->after_id : m->created_at_ms >= r->since_ms;
}

static void keep(replay_t *r, const sb_store_msg_t *m) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        replayed_t *v = realloc(r->v, cap * sizeof *v);
        if (!v)
            return;
        r->v = v;
        r->cap = cap;
    }
    bool conv = sb_str_has_prefix(sb_cstr(m->room), SB_LIT("conversation:"));
    json_t *j = conv ? sb_feat_message_json(m, m->sender_name) : sb_features_room_message_json(m);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (text)
        r->v[r->n++] = (replayed_t){m->id, conv, text};
}

static int by_id(const void *a, const void *b) {
    int64_t x = ((const replayed_t *)a)->id, y = ((const replayed_t *)b)->id;
    return (x > y) - (x < y);
}

static void replay_free(replay_t *r) {
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].text);
    for (size_t i = 0; i < r->nrooms; i++)
        free(r->rooms[i]);
    free(r->v);
    sb_sio_socket_unref(r->sock);
    free(r);
}

/* Every page is in: the newest missed ones, oldest first, then the offset.
 * Those it got live since it reconnected (ids from room_live_min on) are
 * not sent again. */
static void replay_finish(replay_t *r) {
    sb_client_t *c = sb_sio_socket_connected(r->sock) ? sb_sio_socket_get_data(r->sock) : NULL;
    if (c) {
        if (r->n)
            qsort(r->v, r->n, sizeof *r->v, by_id);
        int64_t upto = r->after_id;
        for (size_t i = r->n > SB_RECOVERY_REPLAY_MAX ? r->n - SB_RECOVERY_REPLAY_MAX : 0; i < r->n;
             i++) {
            if (c->room_live_min && r->v[i].id >= c->room_live_min)
                break;
            sb_sio_emit(c->sock, r->v[i].conversation ? "message:new" : "chat:message",
                        sb_cstr(r->v[i].text));
            upto = r->v[i].id;
        }
        c->room_replaying = false;
        c->room_sent = c->room_live_max > upto ? c->room_live_max : upto;
        sb_feat_recovery_mark(c);
    }
    replay_free(r);
}

static void on_history(void *ud, int rc, const sb_store_msgs_t *page) {
    replay_t *r = ud;
    if (rc != SB_OK)
        sb_log_warn("recovery: room messages not replayed: %s", sb_strerror(rc));
    for (size_t i = 0; rc == SB_OK && i < page->n; i++)
        if (missed(r, &page->v[i]))
            keep(r, &page->v[i]);
    if (--r->pending == 0)
        replay_finish(r);
}

/* Rooms with stored messages: not a user's own room (documents and WebRTC
 * peers are not kept at all). */
static bool add_room(sb_str_t room, void *ud) {
    replay_t *r = ud;
    if (!sb_str_has_prefix(room, SB_LIT("user:")) &&
        (r->rooms[r->nrooms] = strndup(room.p, room.n)))
        r->nrooms++;
    return r->nrooms < SB_RECOVERY_REPLAY_ROOMS;
}

void sb_feat_recovery_replay_rooms(sb_client_t *c, int64_t after_id) {
    replay_t *r = calloc(1, sizeof *r);
    if (!r) {
        sb_log_warn("recovery: room messages of %s not replayed: out of memory", c->user->id);
        return;
    }
    r->f = c->f;
    r->sock = c->sock;
    sb_sio_socket_ref(r->sock);
    r->after_id = after_id;
    r->since_ms = sb_sio_socket_recovered_from(c->sock);
    c->room_replaying = true;
    c->room_sent = after_id;
    sb_sio_socket_rooms(c->sock, add_room, r);
    r->pending = 1; /* this function's own, so no page finishes it early */
    for (size_t i = 0; i < r->nrooms; i++)
        if (sb_store_message_history(c->f->cfg.store, sb_cstr(r->rooms[i]), 0, SB_STORE_MAX_HISTORY,
                                     on_history, r) == SB_OK)
            r->pending++;
    if (--r->pending == 0)
        replay_finish(r);
}
