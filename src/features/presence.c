/* Presence: the personal room user:<id>, connection:established, and
 * user:online / user:offline once per user however many devices. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "features/features_internal.h"

/* Each connect lists who is online: capped, or N connects cost O(N^2). */
#define SB_ONLINE_LIST_MAX 1000

static void user_room(const sb_user_t *u, char out[SB_USER_ID_MAX + 8]) {
    snprintf(out, SB_USER_ID_MAX + 8, "user:%s", u->id);
}

static bool add_online(sb_str_t key, void *value, void *ud) {
    json_t *list = ud;
    json_array_append_new(list, json_stringn(key.p, key.n));
    return json_array_size(list) < SB_ONLINE_LIST_MAX;
}

/* What a connecting device is told, then (first device only) its backlog. */
static void established(sb_client_t *c, json_t *online, size_t count) {
    sb_feat_emit(c->sock, "connection:established",
                 json_pack("{s:s,s:o,s:I}", "userId", c->user->id, "onlineUsers", online,
                           "onlineCount", (json_int_t)count));
    if (c->user->devices == 1) {
        sb_feat_messages_deliver_offline(c);
        sb_feat_social_deliver_offline(c);
    }
}

static void record_seen(sb_features_t *f, const sb_user_t *u, int64_t at) {
    sb_store_user_upsert(f->cfg.store, sb_cstr(u->id), sb_cstr(u->name),
                         u->avatar[0] ? sb_cstr(u->avatar) : SB_STR_NULL, at, NULL, NULL);
}

/* ---- scope "friends": presence goes to online friends only ------------------------- */

typedef struct {
    char user[SB_USER_ID_MAX + 1];
    char last_seen[32];
    bool online;
} friends_req_t;

/* Tells every online friend; on connect also lists them to the device. */
static void friends_on_list(void *ud, int rc, const sb_store_strs_t *l) {
    sb_feat_call_t *call = ud;
    friends_req_t *r = (friends_req_t *)(void *)call->extra;
    json_t *online = json_array(), *ev = r->online
        ? json_pack("{s:s}", "userId", r->user)
        : json_pack("{s:s,s:s}", "userId", r->user, "lastSeen", r->last_seen);
    for (size_t i = 0; rc == SB_OK && i < l->n; i++) {
        if (sb_features_user_devices(call->f, l->v[i]) == 0)
            continue;
        if (json_array_size(online) < SB_ONLINE_LIST_MAX)
            json_array_append_new(online, json_string(l->v[i]));
        sb_feat_emit_user(call->f, l->v[i], r->online ? "user:online" : "user:offline",
                          json_incref(ev), NULL);
    }
    json_decref(ev);
    sb_client_t *c = r->online && sb_feat_call_live(call) ? sb_sio_socket_get_data(call->sock) : NULL;
    if (c)
        established(c, online, json_array_size(online));
    else
        json_decref(online);
    sb_feat_call_end(call);
}

static void friends_notify(sb_client_t *c, bool online, const char *last_seen) {
    sb_sio_event_t ev = {.socket = c->sock, .name = SB_LIT("connect")};
    sb_feat_call_t *call = sb_feat_call_begin(c, &ev, sizeof(friends_req_t));
    if (!call)
        return;
    friends_req_t *r = (friends_req_t *)(void *)call->extra;
    snprintf(r->user, sizeof r->user, "%s", c->user->id);
    snprintf(r->last_seen, sizeof r->last_seen, "%s", last_seen ? last_seen : "");
    r->online = online;
    if (sb_store_friend_list(c->f->cfg.store, sb_cstr(c->user->id), friends_on_list, call) != SB_OK)
        sb_feat_call_end(call);
}

/* ---- connect and disconnect ----------------------------------------------------------- */

void sb_feat_presence_connect(sb_client_t *c) {
    char room[SB_USER_ID_MAX + 8];
    user_room(c->user, room);
    sb_sio_join(c->sock, sb_cstr(room));
    if (c->user->devices == 1) /* later devices: the user is already known as online */
        record_seen(c->f, c->user, sb_wall_ms());
    if (c->f->cfg.presence_friends) {
        friends_notify(c, true, NULL); /* established follows the friend list */
        return;
    }
    json_t *online = json_array();
    sb_map_foreach(&c->f->users, add_online, online);
    established(c, online, c->f->users.count);
    if (c->user->devices != 1)
        return;
    sb_str_t except = sb_cstr(room);
    sb_sio_target_t t = {.all = true, .except = &except, .nexcept = 1};
    sb_feat_broadcast(c->f, &t, "user:online", json_pack("{s:s}", "userId", c->user->id));
}

void sb_feat_presence_disconnect(sb_client_t *c) {
    if (c->user->devices != 0)
        return;
    char last_seen[32];
    int64_t now = sb_wall_ms();
    sb_feat_iso_time(now, last_seen);
    record_seen(c->f, c->user, now);
    if (c->f->draining)
        return;
    if (c->f->cfg.presence_friends) {
        friends_notify(c, false, last_seen);
        return;
    }
    sb_sio_target_t t = {.all = true, .except_socket = c->sock};
    sb_feat_broadcast(c->f, &t, "user:offline",
                      json_pack("{s:s,s:s}", "userId", c->user->id, "lastSeen", last_seen));
}
