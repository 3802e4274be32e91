/* Presence: the personal room user:<id>, connection:established, and
 * user:online / user:offline once per user however many devices.
 *
 * Cost is what decides the shape (docs/events.md, "Presence"): telling
 * every user about every other is N^2 in a connect or disconnect storm. The
 * default scope, friends, costs one friend-list read and one delivery per
 * online friend. Scope "all" coalesces: changes wait up to
 * --presence-interval ms and go out as at most one presence:batch per
 * recipient per interval (a few changes still as the single events). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "features/features_internal.h"

/* Each connect lists who is online: capped, or N connects cost O(N^2). */
#define SB_ONLINE_LIST_MAX 1000
/* The CONNECT answer waits at most this long for connection:established
 * (the friend list's read) to leave with it in one write. */
#define SB_ESTABLISHED_HOLD_MS 500

static void user_room(const sb_user_t *u, char out[SB_USER_ID_MAX + 8]) {
    snprintf(out, SB_USER_ID_MAX + 8, "user:%s", u->id);
}

static bool add_online(const sb_user_t *u, void *ud) {
    json_t *list = ud;
    json_array_append_new(list, json_string(u->id));
    return json_array_size(list) < SB_ONLINE_LIST_MAX;
}

/* What a connecting device is told, then its backlog. */
static void established(sb_client_t *c, json_t *online, size_t count) {
    sb_feat_emit(c->sock, "connection:established",
                 json_pack("{s:s,s:o,s:I,s:O*}", "userId", c->user->id, "onlineUsers", online,
                           "onlineCount", (json_int_t)count, "data", c->hook_data));
    sb_sio_socket_release_output(c->sock);
    sb_feat_delivery_connect(c); /* every device: pending is per user, not per device */
}

static void record_seen(sb_features_t *f, const sb_user_t *u, int64_t at) {
    sb_store_user_upsert(f->cfg.store, sb_cstr(u->id), sb_cstr(sb_feat_user_name(u)),
                         sb_feat_user_avatar(u)[0] ? sb_cstr(sb_feat_user_avatar(u)) : SB_STR_NULL,
                         at, NULL, NULL);
}

/* ---- scope "friends": presence goes to online friends only ------------------------- */

typedef struct {
    char user[SB_USER_ID_MAX + 1];
    char last_seen[32];
    bool online;
    bool announce; /* tell the friends (else only list them to the device) */
} friends_req_t;

/* user:online / user:offline to `friend`'s devices. In a cluster every node
 * announces to its own sockets (each hears every change from Redis once):
 * local only. */
static void tell_friend(sb_features_t *f, const char *friend, bool online, json_t *ev) {
    char room[SB_USER_ID_MAX + 8];
    snprintf(room, sizeof room, "user:%s", friend);
    sb_str_t r = sb_cstr(room);
    sb_sio_target_t t = {.rooms = &r, .nrooms = 1, .local = sb_feat_clustered(f)};
    long n = sb_feat_broadcast(f, &t, online ? "user:online" : "user:offline", json_incref(ev));
    f->counters.presence_deliveries += n > 0 ? (uint64_t)n : 0;
}

/* Tells every online friend; on connect also lists them to the device. */
static void friends_on_list(void *ud, int rc, const sb_store_strs_t *l) {
    sb_feat_call_t *call = ud;
    friends_req_t *r = (friends_req_t *)(void *)call->extra;
    json_t *online = json_array(),
           *ev = r->online ? json_pack("{s:s}", "userId", r->user)
                           : json_pack("{s:s,s:s}", "userId", r->user, "lastSeen", r->last_seen);
    for (size_t i = 0; rc == SB_OK && i < l->n; i++) {
        if (!sb_feat_online_anywhere(call->f, l->v[i]))
            continue;
        if (json_array_size(online) < SB_ONLINE_LIST_MAX)
            json_array_append_new(online, json_string(l->v[i]));
        if (r->announce && sb_features_user_devices(call->f, l->v[i]) > 0)
            tell_friend(call->f, l->v[i], r->online, ev);
    }
    json_decref(ev);
    sb_client_t *c =
        r->online && sb_feat_call_live(call) ? sb_sio_socket_get_data(call->sock) : NULL;
    if (c)
        established(c, online, json_array_size(online));
    else
        json_decref(online);
    sb_feat_call_end(call);
}

static void friends_notify(sb_client_t *c, bool online, const char *last_seen, bool announce) {
    sb_sio_event_t ev = {.socket = c->sock, .name = SB_LIT("connect")};
    sb_feat_call_t *call = sb_feat_call_begin(c, &ev, sizeof(friends_req_t));
    if (!call) {
        sb_sio_socket_release_output(c->sock);
        return;
    }
    friends_req_t *r = (friends_req_t *)(void *)call->extra;
    snprintf(r->user, sizeof r->user, "%s", c->user->id);
    snprintf(r->last_seen, sizeof r->last_seen, "%s", last_seen ? last_seen : "");
    r->online = online;
    r->announce = announce;
    if (sb_store_friend_list(c->f->cfg.store, sb_cstr(c->user->id), friends_on_list, call) !=
        SB_OK) {
        sb_sio_socket_release_output(c->sock);
        sb_feat_call_end(call);
    }
}

/* A change the cluster announced (no device of this node in the call):
 * this node's devices of the user's friends hear of it. */
typedef struct {
    sb_features_t *f;
    bool online;
    char last_seen[32];
    char user[SB_USER_ID_MAX + 1];
} friends_told_t;

static void friends_told_list(void *ud, int rc, const sb_store_strs_t *l) {
    friends_told_t *t = ud;
    json_t *ev = t->online ? json_pack("{s:s}", "userId", t->user)
                           : json_pack("{s:s,s:s}", "userId", t->user, "lastSeen", t->last_seen);
    for (size_t i = 0; rc == SB_OK && !t->f->draining && i < l->n; i++)
        if (sb_features_user_devices(t->f, l->v[i]) > 0)
            tell_friend(t->f, l->v[i], t->online, ev);
    json_decref(ev);
    free(t);
}

static void friends_tell(sb_features_t *f, const char *user, bool online, const char *last_seen) {
    friends_told_t *t = calloc(1, sizeof *t);
    if (!t)
        return; /* out of memory: this change goes untold, the next query is right */
    *t = (friends_told_t){.f = f, .online = online};
    snprintf(t->user, sizeof t->user, "%s", user);
    snprintf(t->last_seen, sizeof t->last_seen, "%s", last_seen ? last_seen : "");
    if (sb_store_friend_list(f->cfg.store, sb_cstr(user), friends_told_list, t) != SB_OK)
        free(t);
}

/* ---- scope "all": changes coalesced per interval --------------------------------------- */

/* What an interval changed for one user: the latest state only. A flap
 * (online and offline again) is still told: others may have seen the user
 * in a connection:established list, which does not wait for the interval. */
typedef struct {
    bool online;
    char last_seen[32];
} presence_change_t;

/* Records a change for the next flush; the timer runs only while some are pending. */
static void pending_add(sb_features_t *f, const char *user, bool online, const char *last_seen) {
    presence_change_t *ch = sb_map_get(&f->presence_pending, sb_cstr(user));
    if (!ch) {
        if (!(ch = calloc(1, sizeof *ch)))
            return; /* out of memory: this change goes untold, the next query is right */
        if (sb_map_put(&f->presence_pending, sb_cstr(user), ch) != SB_OK) {
            free(ch);
            return;
        }
    }
    ch->online = online;
    snprintf(ch->last_seen, sizeof ch->last_seen, "%s", last_seen ? last_seen : "");
    if (!sb_timer_active(&f->presence_timer))
        sb_timer_start(&f->presence_timer, f->cfg.presence_interval_ms);
}

typedef struct {
    char (*ids)[SB_USER_ID_MAX + 1];
    size_t n, cap;
} id_list_t;

static bool take_id(sb_str_t key, void *value, void *ud) {
    id_list_t *l = ud;
    snprintf(l->ids[l->n++], SB_USER_ID_MAX + 1, "%.*s", (int)key.n, key.p);
    return l->n < l->cap;
}

static void single_event(sb_features_t *f, const char *user, const presence_change_t *ch) {
    char room[SB_USER_ID_MAX + 8];
    snprintf(room, sizeof room, "user:%s", user);
    sb_str_t except = sb_cstr(room);
    sb_sio_target_t t = {
        .all = true, .except = &except, .nexcept = 1, .local = sb_feat_clustered(f)};
    json_t *p = ch->online ? json_pack("{s:s}", "userId", user)
                           : json_pack("{s:s,s:s}", "userId", user, "lastSeen", ch->last_seen);
    long n = sb_feat_broadcast(f, &t, ch->online ? "user:online" : "user:offline", p);
    f->counters.presence_deliveries += n > 0 ? (uint64_t)n : 0;
}

/* Sends what the interval changed: a few changes as the single events, more
 * as one presence:batch per recipient listing at most SB_PRESENCE_BATCH_MAX
 * (the rest waits for the next interval). */
static void presence_flush(sb_timer_t *t) {
    sb_features_t *f = sb_container_of(t, sb_features_t, presence_timer);
    id_list_t l = {.cap = SB_PRESENCE_BATCH_MAX};
    if (!(l.ids = malloc(sizeof *l.ids * l.cap)))
        return;
    sb_map_foreach(&f->presence_pending, take_id, &l);
    bool single = f->presence_pending.count <= SB_PRESENCE_SINGLE_MAX;
    json_t *online = json_array(), *offline = json_array();
    for (size_t i = 0; i < l.n; i++) {
        presence_change_t *ch = sb_map_del(&f->presence_pending, sb_cstr(l.ids[i]));
        if (f->draining)
            ;
        else if (single)
            single_event(f, l.ids[i], ch);
        else if (ch->online)
            json_array_append_new(online, json_string(l.ids[i]));
        else
            json_array_append_new(
                offline, json_pack("{s:s,s:s}", "userId", l.ids[i], "lastSeen", ch->last_seen));
        free(ch);
    }
    free(l.ids);
    if (json_array_size(online) + json_array_size(offline) > 0) {
        sb_sio_target_t all = {.all = true, .local = sb_feat_clustered(f)};
        size_t count = sb_features_cluster_online_users(f);
        long n = sb_feat_broadcast(f, &all, "presence:batch",
                                   json_pack("{s:o,s:o,s:I}", "online", online, "offline", offline,
                                             "onlineCount", (json_int_t)count));
        f->counters.presence_deliveries += n > 0 ? (uint64_t)n : 0;
        f->counters.presence_batches++;
    } else {
        json_decref(online);
        json_decref(offline);
    }
    if (f->presence_pending.count > 0)
        sb_timer_start(t, f->cfg.presence_interval_ms);
}

static bool free_change(sb_str_t key, void *value, void *ud) {
    free(value);
    return true;
}

void sb_feat_presence_init(sb_features_t *f) {
    sb_map_init(&f->presence_pending);
    sb_timer_init(f->loop, &f->presence_timer, presence_flush);
}

void sb_feat_presence_dispose(sb_features_t *f) {
    sb_timer_stop(&f->presence_timer);
    sb_map_foreach(&f->presence_pending, free_change, NULL);
    sb_map_dispose(&f->presence_pending);
}

/* ---- connect and disconnect ----------------------------------------------------------- */

/* The user's other devices hear of this one (seed 004's device events):
 * {socketId, userId, devices, timestamp}. */
static void tell_other_devices(sb_client_t *c, const char *event) {
    if (c->user->devices == 0 || c->f->draining)
        return;
    sb_feat_emit_user(c->f, c->user->id, event,
                      json_pack("{s:s,s:s,s:i,s:I}", "socketId", sb_sio_socket_id(c->sock),
                                "userId", c->user->id, "devices", (int)c->user->devices,
                                "timestamp", (json_int_t)sb_wall_ms()),
                      c->sock);
}

static bool add_online_id(sb_str_t key, void *ud) {
    json_t *list = ud;
    json_array_append_new(list, json_stringn(key.p, key.n));
    return json_array_size(list) < SB_ONLINE_LIST_MAX;
}

void sb_feat_presence_announce(sb_features_t *f, const char *user, bool online,
                               const char *last_seen) {
    if (f->draining)
        return;
    if (f->cfg.presence_friends)
        friends_tell(f, user, online, last_seen);
    else
        pending_add(f, user, online, last_seen);
}

void sb_feat_presence_connect(sb_client_t *c) {
    char room[SB_USER_ID_MAX + 8];
    user_room(c->user, room);
    sb_sio_join(c->sock, sb_cstr(room));
    /* In a cluster, Redis decides when the user comes online anywhere, and
     * every node (this one too) announces it when told (presence_cluster.c). */
    bool cluster = sb_feat_cluster_device(c->f, c->user, +1);
    if (c->user->devices == 1) /* later devices: the user is already known as online */
        record_seen(c->f, c->user, sb_wall_ms());
    else
        tell_other_devices(c, "device_connected");
    if (c->f->cfg.presence_friends) {
        /* established follows the friend list; the CONNECT answer waits for it */
        sb_sio_socket_hold_output(c->sock, SB_ESTABLISHED_HOLD_MS);
        friends_notify(c, true, NULL, !cluster);
        return;
    }
    json_t *online = json_array();
    if (sb_feat_clustered(c->f))
        sb_strset_foreach(&c->f->cluster_online, add_online_id, online);
    else
        sb_feat_users_foreach(c->f, add_online, online);
    established(c, online, sb_features_cluster_online_users(c->f));
    if (c->user->devices == 1 && !cluster)
        pending_add(c->f, c->user->id, true, NULL);
}

void sb_feat_presence_disconnect(sb_client_t *c) {
    tell_other_devices(c, "device_disconnected");
    if (c->user->devices != 0) /* the last device: sb_feat_presence_user_gone tells the cluster */
        sb_feat_cluster_device(c->f, c->user, -1);
}

void sb_feat_presence_user_gone(sb_client_t *c) {
    bool cluster = sb_feat_cluster_device(c->f, c->user, -1);
    char last_seen[32];
    int64_t now = sb_wall_ms();
    sb_feat_iso_time(now, last_seen);
    record_seen(c->f, c->user, now);
    if (c->f->draining || cluster)
        return; /* a cluster announces when the user's last device anywhere has left */
    if (c->f->cfg.presence_friends)
        friends_notify(c, false, last_seen, true);
    else
        pending_add(c->f, c->user->id, false, last_seen);
}

/* ---- what the cluster tells (presence_cluster.c keeps the view) ---------------------- */

void sb_features_cluster_presence(sb_features_t *f, sb_str_t user, bool online,
                                  int64_t last_seen_ms, bool announce) {
    char id[SB_USER_ID_MAX + 1];
    if (user.n == 0 || user.n > SB_USER_ID_MAX || memchr(user.p, '\0', user.n))
        return;
    memcpy(id, user.p, user.n);
    id[user.n] = '\0';
    if (!online && sb_features_user_devices(f, id) > 0)
        return; /* connected here: that news is older than this node's own */
    sb_feat_cluster_set(f, user, online);
    if (!announce)
        return;
    char last_seen[32];
    if (!online)
        sb_feat_iso_time(last_seen_ms, last_seen);
    sb_feat_presence_announce(f, id, online, online ? NULL : last_seen);
}

typedef struct {
    sb_features_t *f;
    const sb_strset_t *other;
    bool online;
    int64_t now;
} diff_t;

/* A user in one view and not in the other: announced. */
static bool announce_missing(sb_str_t user, void *ud) {
    diff_t *d = ud;
    char id[SB_USER_ID_MAX + 1], last_seen[32];
    if (sb_strset_has(d->other, user) || user.n > SB_USER_ID_MAX)
        return true;
    memcpy(id, user.p, user.n);
    id[user.n] = '\0';
    sb_feat_iso_time(d->now, last_seen);
    sb_feat_presence_announce(d->f, id, d->online, d->online ? NULL : last_seen);
    return true;
}

void sb_features_cluster_rebuild(sb_features_t *f, bool begin) {
    if (begin) {
        sb_feat_cluster_rebuild_begin(f);
        return;
    }
    /* What changed while this node could not hear: users gone and users come. */
    diff_t gone = {f, &f->cluster_online, false, sb_wall_ms()};
    diff_t came = {f, &f->cluster_before, true, 0};
    sb_strset_foreach(&f->cluster_before, announce_missing, &gone);
    sb_strset_foreach(&f->cluster_online, announce_missing, &came);
    sb_feat_cluster_rebuild_end(f);
}
