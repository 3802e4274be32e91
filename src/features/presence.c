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
    if (c->user->devices != 1)
        return;
    sb_str_t except = sb_cstr(room);
    sb_sio_target_t t = {.all = true, .except = &except, .nexcept = 1};
    sb_feat_broadcast(c->f, &t, "user:online", json_pack("{s:s}", "userId", c->user->id));
}

void sb_feat_presence_disconnect(sb_client_t *c) {
    if (c->user->devices != 0 || c->f->draining)
        return;
    char last_seen[32];
    sb_feat_iso_time(sb_wall_ms(), last_seen);
    sb_sio_target_t t = {.all = true, .except_socket = c->sock};
    sb_feat_broadcast(c->f, &t, "user:offline",
                      json_pack("{s:s,s:s}", "userId", c->user->id, "lastSeen", last_seen));
}
