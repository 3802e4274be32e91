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

void sb_feat_presence_connect(sb_client_t *c) {
    char room[SB_USER_ID_MAX + 8];
    user_room(c->user, room);
    sb_sio_join(c->sock, sb_cstr(room));
    json_t *online = json_array();
    sb_map_foreach(&c->f->users, add_online, online);
    sb_feat_emit(c->sock, "connection:established",
                 json_pack("{s:s,s:o,s:I}", "userId", c->user->id, "onlineUsers", online,
                           "onlineCount", (json_int_t)c->f->users.count));
    sb_store_user_upsert(c->f->cfg.store, sb_cstr(c->user->id), sb_cstr(c->user->name),
                         c->user->avatar[0] ? sb_cstr(c->user->avatar) : SB_STR_NULL, sb_wall_ms(),
                         NULL, NULL);
    if (c->user->devices != 1)
        return;
    sb_feat_messages_deliver_offline(c);
    sb_feat_social_deliver_offline(c);
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
    sb_store_user_upsert(c->f->cfg.store, sb_cstr(c->user->id), sb_cstr(c->user->name),
                         c->user->avatar[0] ? sb_cstr(c->user->avatar) : SB_STR_NULL, now, NULL,
                         NULL);
    if (c->f->draining)
        return;
    sb_sio_target_t t = {.all = true, .except_socket = c->sock};
    sb_feat_broadcast(c->f, &t, "user:offline",
                      json_pack("{s:s,s:s}", "userId", c->user->id, "lastSeen", last_seen));
}
