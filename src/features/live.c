/* The live group: lifecycle, what a disconnecting socket leaves behind in
 * document and WebRTC rooms, and file:share. Documents, dashboards and
 * signaling live in live_collab.c, live_dashboard.c and live_rtc.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "features/live_internal.h"

#define SB_FILE_INFO_MAX 4096
#define SB_FILE_NAME_MAX 256
#define SB_FILE_MIME_MAX 255
#define SB_FILE_URL_MAX 2048

/* ---- disconnect ---------------------------------------------------------------------- */

/* The doc: and rtc: rooms of a socket, copied: leaving notifications are
 * broadcast after the walk, which must not overlap hub changes. */
typedef struct {
    char **v;
    size_t n, cap;
} room_list_t;

static bool collect_live_room(sb_str_t room, void *ud) {
    room_list_t *l = ud;
    bool doc = room.n > 4 && memcmp(room.p, "doc:", 4) == 0;
    bool rtc = room.n > 4 && memcmp(room.p, "rtc:", 4) == 0;
    if (!doc && !rtc)
        return true;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return false; /* out of memory: the others just miss a left notice */
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = strndup(room.p, room.n);
    if (l->v[l->n])
        l->n++;
    return true;
}

void sb_feat_live_disconnect(sb_client_t *c) {
    if (!c->f->live)
        return;
    sb_map_del(&c->f->live->peers, sb_cstr(sb_sio_socket_id(c->sock)));
    if (c->f->draining) /* everyone leaves at once: nobody is left to tell */
        return;
    room_list_t rooms = {0};
    sb_sio_socket_rooms(c->sock, collect_live_room, &rooms);
    for (size_t i = 0; i < rooms.n; i++) {
        if (rooms.v[i][0] == 'd')
            sb_feat_live_collab_gone(c, rooms.v[i] + 4);
        else
            sb_feat_live_rtc_gone(c, rooms.v[i] + 4);
        free(rooms.v[i]);
    }
    free(rooms.v);
}

/* ---- file:share {roomId, fileInfo} --------------------------------------------------- */

typedef struct {
    char room[SB_STORE_MAX_ROOM + 1];
    json_t *info, *sender;
} share_t;

static share_t *share_of(sb_feat_call_t *call) { return (share_t *)(void *)call->extra; }

static json_t *sender_of(const sb_client_t *c) {
    json_t *s = json_pack("{s:s,s:s}", "id", c->user->id, "name", sb_feat_user_name(c->user));
    if (sb_feat_user_avatar(c->user)[0])
        json_object_set_new(s, "avatar", json_string(sb_feat_user_avatar(c->user)));
    return s;
}

static bool optional_string(json_t *info, const char *field, size_t max) {
    json_t *v = json_object_get(info, field);
    return !v || sb_features_text(v, 0, max);
}

/* Returns what is wrong with a fileInfo, or NULL when it is valid. */
static const char *file_info_problem(json_t *info) {
    json_t *name = json_object_get(info, "name"), *size = json_object_get(info, "size");
    if (!json_is_object(info))
        return "fileInfo must be an object";
    if (!sb_features_text(name, 1, SB_FILE_NAME_MAX))
        return "fileInfo.name must be a string of 1-256 bytes without U+0000";
    if (!json_is_number(size) || json_number_value(size) < 0)
        return "fileInfo.size must be a number >= 0";
    if (!optional_string(info, "mimeType", SB_FILE_MIME_MAX))
        return "fileInfo.mimeType must be a string of up to 255 bytes without U+0000";
    if (!optional_string(info, "url", SB_FILE_URL_MAX))
        return "fileInfo.url must be a string of up to 2048 bytes without U+0000";
    return NULL;
}

static void share_on_appended(void *ud, int rc, const sb_store_msg_t *m) {
    sb_feat_call_t *call = ud;
    share_t *sh = share_of(call);
    if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
    } else {
        char at[32];
        sb_feat_iso_time(m->created_at_ms, at);
        json_t *msg =
            json_pack("{s:I,s:s,s:O,s:s,s:O,s:s}", "id", (json_int_t)m->id, "roomId", sh->room,
                      "message", sh->info, "type", "file", "sender", sh->sender, "createdAt", at);
        call->f->messages_total++;
        sb_feat_delivery_room(call->f, sh->room, "chat:message", json_incref(msg), m->id);
        sb_feat_call_reply(call, msg);
    }
    json_decref(sh->info);
    json_decref(sh->sender);
    sb_feat_call_end(call);
}

static void share_store(sb_client_t *c, sb_sio_event_t *ev, const char *room, json_t *info,
                        const char *text, size_t n) {
    sb_feat_call_t *call = sb_feat_call_begin(c, ev, sizeof(share_t));
    if (!call)
        return;
    share_t *sh = share_of(call);
    snprintf(sh->room, sizeof sh->room, "%s", room);
    sh->info = json_incref(info);
    sh->sender = sender_of(c);
    sb_store_message_in_t in = {.room = sb_cstr(room),
                                .sender_id = sb_cstr(c->user->id),
                                .content = sb_str(text, n),
                                .type = SB_LIT("file"),
                                .created_at_ms = sb_wall_ms()};
    int rc = sb_store_message_append(c->f->cfg.store, &in, share_on_appended, call);
    if (rc != SB_OK) {
        json_decref(sh->info);
        json_decref(sh->sender);
        sb_feat_call_abort(call, rc);
    }
}

/* Validated up to the room: now the size and the membership. */
static void share_checked(sb_client_t *c, sb_sio_event_t *ev, const char *room, json_t *info) {
    size_t n;
    char *text = sb_feat_live_dump(ev, info, SB_FILE_INFO_MAX, &n);
    if (!text)
        return;
    if (!sb_sio_in_room(c->sock, sb_cstr(room)))
        sb_feat_fail(ev, "not_in_room", "join room '%s' before sharing to it", room);
    else
        share_store(c, ev, room, info, text, n);
    free(text);
}

static void file_on_share(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0), *info = json_object_get(arg, "fileInfo");
    const char *room;
    const char *why = json_is_object(arg) ? file_info_problem(info) : "expected {roomId, fileInfo}";
    if (why)
        sb_feat_fail(ev, "invalid_payload", "%s", why);
    else if (sb_feat_room_arg(ev, json_object_get(arg, "roomId"), &room))
        share_checked(c, ev, room, info);
    json_decref(arg);
}

static const sb_feature_event_t file_events[] = {
    {"file:share", file_on_share},
};

/* ---- lifecycle --------------------------------------------------------------------- */

int sb_feat_live_init(sb_features_t *f) {
    f->live = calloc(1, sizeof *f->live);
    if (!f->live)
        return SB_ENOMEM;
    sb_map_init(&f->live->metrics);
    sb_map_init(&f->live->peers);
    sb_list_init(&f->live->asks);
    f->live->started_ms = sb_wall_ms();
    f->live->rate_at_ms = f->loop->now_ms;
    int rc = sb_feat_register(f, file_events, sizeof file_events / sizeof *file_events);
    if (rc == SB_OK)
        rc = sb_feat_live_collab_init(f);
    if (rc == SB_OK)
        rc = sb_feat_live_dashboard_init(f);
    if (rc == SB_OK)
        rc = sb_feat_live_rtc_init(f);
    return rc;
}

void sb_feat_live_tick(sb_features_t *f) {
    if (f->live)
        sb_feat_live_dashboard_tick(f);
}

void sb_feat_live_dispose(sb_features_t *f) {
    if (!f->live)
        return;
    sb_feat_live_remote_orphan(f->live);
    sb_feat_live_dashboard_dispose(f->live);
    sb_map_dispose(&f->live->peers);
    free(f->live);
    f->live = NULL;
}
