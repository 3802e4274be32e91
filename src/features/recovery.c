/* Connection state recovery for the built-in namespace (docs/events.md,
 * "Delivery guarantees"). The Socket.IO layer keeps disconnected sessions
 * in memory; here they are also saved in the store (at connect, so a killed
 * process loses none, and at disconnect with their rooms) and read back at
 * start-up, so recovery survives a restart.
 *
 * The offset: after each message:received and notification:new, a device
 * gets `recovery:offset` carrying "<message id>.<notification id>", the
 * newest of each it was sent, then ".<room message id>" once it has been
 * sent a stored room message (recovery_rooms.c) (the stock client keeps the
 * last string argument of any event as its offset; those events themselves
 * end with their ack callback). A device sees ids in increasing order per stream
 * (delivery.c), so a recovered offset proves that it received every event
 * up to it: those are confirmed, and the backlog replays the pending ones
 * after it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "features/features_internal.h"

#define SB_RECOVERY_MAX_ROOMS 1024 /* rooms saved per session, as the Socket.IO layer keeps */

static void on_rooms_changed(sb_sio_socket_t *s, void *ud);
static void on_rooms_task(sb_task_t *t);

/* Documents and WebRTC peers keep state beside their room: not restored. */
static bool keep_room(sb_str_t room, void *ud) {
    return !sb_str_has_prefix(room, SB_LIT("doc:")) && !sb_str_has_prefix(room, SB_LIT("rtc:"));
}

/* ---- start-up: sessions saved by the previous process --------------------------- */

static void keep_loaded(sb_features_t *f, const sb_store_session_t *x) {
    json_t *rooms = json_loads(x->rooms, 0, NULL);
    size_t n = json_is_array(rooms) ? json_array_size(rooms) : 0;
    sb_str_t *v = calloc(n ? n : 1, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; v && i < n; i++) {
        json_t *r = json_array_get(rooms, i);
        if (json_is_string(r))
            v[k++] = sb_str(json_string_value(r), json_string_length(r));
    }
    int rc = v ? sb_sio_recovery_keep(f->nsp, x->pid, x->sid, x->owner, v, k, x->disconnected_at_ms)
               : SB_ENOMEM;
    if (rc != SB_OK)
        sb_log_warn("recovery: session %s not restored: %s", x->sid, sb_strerror(rc));
    free(v);
    json_decref(rooms);
}

static void on_loaded(void *ud, int rc, const sb_store_sessions_t *list) {
    sb_features_t *f = ud;
    if (rc != SB_OK) {
        sb_log_warn("recovery: saved sessions not read: %s", sb_strerror(rc));
        return;
    }
    for (size_t i = 0; i < list->n; i++)
        keep_loaded(f, &list->v[i]);
    if (list->n)
        sb_log_info("recovery: %zu sessions recoverable from before the restart", list->n);
}

int sb_feat_recovery_init(sb_features_t *f) {
    uint32_t window = f->cfg.recovery_window_ms;
    sb_task_init(&f->rooms_task, on_rooms_task);
    sb_sio_recovery_config_t rc = {
        .window_ms = window, .keep_room = keep_room, .rooms_changed = on_rooms_changed, .ud = f};
    if (window == 0)
        return SB_OK;
    int err = sb_sio_recovery_enable(f->nsp, &rc);
    if (err != SB_OK)
        return err;
    int64_t now = sb_wall_ms();
    err = sb_store_session_load(f->cfg.store, sb_cstr(sb_sio_nsp_name(f->nsp)), now - window, now,
                                on_loaded, f);
    if (err != SB_OK)
        return err;
    sb_store_flush_sync(f->cfg.store); /* start-up: blocking on disk is allowed here */
    return SB_OK;
}

/* ---- saving sessions -------------------------------------------------------------- */

static void save(sb_client_t *c, const char *rooms, int64_t disconnected_at_ms) {
    sb_sio_socket_t *s = c->sock;
    int rc =
        sb_store_session_save(c->f->cfg.store, sb_cstr(sb_sio_socket_pid(s)),
                              sb_cstr(sb_sio_nsp_name(c->f->nsp)), sb_cstr(sb_sio_socket_id(s)),
                              sb_cstr(c->user->id), sb_cstr(rooms), disconnected_at_ms, NULL, NULL);
    if (rc != SB_OK)
        sb_log_warn("recovery: session of %s not saved: %s", c->user->id, sb_strerror(rc));
}

static bool add_room(sb_str_t room, void *ud) {
    if (keep_room(room, NULL))
        json_array_append_new(ud, json_stringn(room.p, room.n));
    return json_array_size(ud) < SB_RECOVERY_MAX_ROOMS;
}

/* Saves the session with the rooms it is in now. */
static void save_rooms(sb_client_t *c, int64_t disconnected_at_ms) {
    json_t *rooms = json_array();
    if (rooms)
        sb_sio_socket_rooms(c->sock, add_room, rooms);
    char *text = rooms ? json_dumps(rooms, JSON_COMPACT) : NULL;
    json_decref(rooms);
    save(c, text ? text : "[]", disconnected_at_ms);
    free(text);
}

/* Joins and leaves are saved too, so a killed process leaves the rooms of
 * the moment behind, not those of the connect: once per loop turn at most
 * (a burst of joins is one write), and joins are rate-limited events. The
 * sockets to save wait on one list, worked off a slice per run of one task
 * (which posts itself again while some are left), like deferred work. */
#define SB_ROOM_SAVES_PER_RUN 16

static void on_rooms_task(sb_task_t *t) {
    sb_features_t *f = sb_container_of(t, sb_features_t, rooms_task);
    struct sb_client_list *l = &f->rooms_dirty;
    for (int i = 0; i < SB_ROOM_SAVES_PER_RUN && l->n > 0; i++) {
        sb_client_t *c = l->at[--l->n]; /* the order of different sockets' saves is free */
        c->rooms_dirty = false;
        save_rooms(c, 0);
    }
    if (l->n > 0)
        sb_task_post(f->loop, t);
}

/* Saves the socket's rooms at the end of the loop turn (at once when out of
 * memory for the list). */
static void rooms_save_later(sb_client_t *c) {
    struct sb_client_list *l = &c->f->rooms_dirty;
    if (c->rooms_dirty)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        sb_client_t **at = realloc(l->at, cap * sizeof *at);
        if (!at) {
            save_rooms(c, 0);
            return;
        }
        l->at = at;
        l->cap = cap;
    }
    l->at[l->n++] = c;
    c->rooms_dirty = true;
    sb_task_post(c->f->loop, &c->f->rooms_task);
}

static void rooms_save_cancel(sb_client_t *c) {
    struct sb_client_list *l = &c->f->rooms_dirty;
    if (!c->rooms_dirty)
        return;
    c->rooms_dirty = false;
    for (size_t i = 0; i < l->n; i++) {
        if (l->at[i] == c) {
            memmove(l->at + i, l->at + i + 1, (l->n - i - 1) * sizeof *l->at);
            l->n--;
            break;
        }
    }
}

static void on_rooms_changed(sb_sio_socket_t *s, void *ud) {
    sb_client_t *c = sb_sio_socket_get_data(s);
    if (c && sb_sio_socket_connected(s))
        rooms_save_later(c);
}

void sb_feat_recovery_client_init(sb_client_t *c) {
    c->room_sent = c->room_live_min = c->room_live_max = 0;
    c->room_replaying = c->rooms_dirty = false;
}

void sb_feat_recovery_dispose(sb_features_t *f) {
    sb_task_cancel(&f->rooms_task);
    free(f->rooms_dirty.at);
    f->rooms_dirty = (struct sb_client_list){0};
}

void sb_feat_recovery_disconnect(sb_client_t *c, const char *reason) {
    rooms_save_cancel(c);
    if (!sb_sio_socket_pid(c->sock)[0])
        return;
    /* The server ended it (sb_sio_disconnect): final. Saved as long
     * expired, so a restart does not bring it back. */
    if (strcmp(reason, "server namespace disconnect") == 0) {
        save(c, "[]", 1);
        return;
    }
    save_rooms(c, sb_wall_ms());
}

/* ---- connect: confirm what the offset covers ----------------------------------------- */

/* The offset we send: "<message id>.<notification id>" and, once the
 * device has been sent a stored room message, ".<room message id>", in
 * decimal. Returns how many parts were read (2 or 3); anything else covers
 * nothing (0). */
static int parse_offset(const char *s, int64_t out[SB_OFFSET_PARTS]) {
    int k = 0;
    for (const char *p = s; k < SB_OFFSET_PARTS; k++) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (p[0] < '0' || p[0] > '9' || errno != 0 || (*end != '.' && *end != '\0'))
            return 0;
        out[k] = v;
        if (*end == '\0')
            return k + 1 >= SB_STREAMS ? k + 1 : 0;
        p = end + 1;
    }
    return 0; /* more parts than we send */
}

static void confirm_upto(sb_client_t *c, sb_stream_t st, int64_t upto) {
    if (upto <= 0)
        return;
    c->sent[st] = upto; /* the backlog replays what is pending after it */
    sb_str_t user = sb_cstr(c->user->id);
    int rc = st == SB_STREAM_MESSAGES
                 ? sb_store_message_delivered_upto(c->f->cfg.store, user, upto, NULL, NULL)
                 : sb_store_notification_delivered_upto(c->f->cfg.store, user, upto, NULL, NULL);
    if (rc != SB_OK)
        sb_log_warn("recovery: offset of %s not confirmed: %s", c->user->id, sb_strerror(rc));
}

void sb_feat_recovery_connect(sb_client_t *c) {
    if (!sb_sio_socket_pid(c->sock)[0])
        return;
    /* Honoured even when the session was not recovered (past the window):
     * it only ever names events this user's device was sent, and a device
     * is sent every event pending for its user, in id order. */
    int64_t upto[SB_OFFSET_PARTS];
    int parts = parse_offset(sb_sio_socket_offset(c->sock), upto);
    if (parts) {
        confirm_upto(c, SB_STREAM_MESSAGES, upto[SB_STREAM_MESSAGES]);
        confirm_upto(c, SB_STREAM_NOTIFICATIONS, upto[SB_STREAM_NOTIFICATIONS]);
    }
    /* A recovered socket is in its rooms again. Saved at the end of the
     * loop turn, with the personal room the connect joins next: one write. */
    rooms_save_later(c);
    if (sb_sio_socket_recovered(c->sock))
        sb_feat_recovery_replay_rooms(c, parts == SB_OFFSET_PARTS ? upto[SB_OFFSET_ROOMS] : 0);
}
