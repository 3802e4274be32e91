/* WebRTC signaling: peers (a peer id is the Socket.IO socket id) meet in
 * rtc:<roomId> rooms, and offers, answers and ICE candidates are relayed
 * between two peers that share such a room, on this node or, in a cluster,
 * on another (asked for its rooms first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "features/live_internal.h"

#define SB_RTC_ROOM_MAX (SB_LIVE_ID_MAX + 5)
#define SB_RTC_PAYLOAD_MAX 65536

static void rtc_room(const char *room_id, char out[SB_RTC_ROOM_MAX]) {
    snprintf(out, SB_RTC_ROOM_MAX, "rtc:%s", room_id);
}

/* ---- who is in a room -------------------------------------------------------------------- */

typedef struct {
    const sb_sio_socket_t *me;
    json_t *peers;
} peers_walk_t;

static bool add_peer(sb_hub_member_t *m, void *ud) {
    peers_walk_t *w = ud;
    sb_sio_socket_t *s = sb_sio_socket_of_member(m);
    sb_client_t *c = s ? sb_sio_socket_get_data(s) : NULL;
    if (c && s != w->me && sb_sio_socket_connected(s))
        json_array_append_new(w->peers,
                              json_pack("{s:s,s:s,s:s}", "peerId", sb_sio_socket_id(s), "userId",
                                        c->user->id, "name", sb_feat_user_name(c->user)));
    return true;
}

/* [{peerId, userId, name}] of the room, minus `me`. */
static json_t *room_peers(sb_features_t *f, const char *room, const sb_sio_socket_t *me) {
    peers_walk_t w = {me, json_array()};
    sb_hub_room_members(sb_sio_nsp_hub(f->nsp), sb_cstr(room), add_peer, &w);
    return w.peers;
}

static bool is_rtc_room(sb_str_t room, void *ud) {
    bool *found = ud;
    *found = room.n > 4 && memcmp(room.p, "rtc:", 4) == 0;
    return !*found;
}

/* Forgets the socket as a peer once it is in no rtc room. */
static void peer_forget_if_idle(sb_client_t *c) {
    bool in_rtc = false;
    sb_sio_socket_rooms(c->sock, is_rtc_room, &in_rtc);
    if (!in_rtc)
        sb_map_del(&c->f->live->peers, sb_cstr(sb_sio_socket_id(c->sock)));
}

void sb_feat_live_rtc_gone(sb_client_t *c, const char *room_id) {
    char room[SB_RTC_ROOM_MAX];
    rtc_room(room_id, room);
    sb_feat_emit_room(
        c->f, room, "rtc:peer_left",
        json_pack("{s:s,s:s}", "roomId", room_id, "peerId", sb_sio_socket_id(c->sock)), c->sock);
}

/* ---- rtc:join {roomId} / rtc:leave {roomId} ------------------------------------------------ */

typedef struct {
    char room_id[SB_LIVE_ID_MAX + 1];
    bool was_there;
} joining_t;

/* The other nodes' peers in `room`, added to `peers`. */
static void add_remote_peers(json_t *peers, json_t *sockets) {
    size_t i;
    json_t *s;
    json_array_foreach(sockets, i, s) {
        const char *name, *user = sb_feat_live_remote_user(s, &name);
        const char *id = json_string_value(json_object_get(s, "id"));
        if (user && id)
            json_array_append_new(
                peers, json_pack("{s:s,s:s,s:s}", "peerId", id, "userId", user, "name", name));
    }
}

static void joined_on_remote(void *ud, json_t *sockets) {
    sb_feat_call_t *call = ud;
    joining_t *j = (joining_t *)(void *)call->extra;
    sb_client_t *c = sockets && sb_feat_call_live(call) ? sb_sio_socket_get_data(call->sock) : NULL;
    if (c) {
        const char *me = sb_sio_socket_id(c->sock);
        char room[SB_RTC_ROOM_MAX];
        rtc_room(j->room_id, room);
        json_t *peers = room_peers(c->f, room, c->sock);
        add_remote_peers(peers, sockets);
        sb_feat_call_reply(call, json_pack("{s:b,s:s,s:s,s:O}", "ok", 1, "roomId", j->room_id,
                                           "peerId", me, "peers", peers));
        sb_feat_emit(c->sock, "rtc:room_peers",
                     json_pack("{s:s,s:o}", "roomId", j->room_id, "peers", peers));
        if (!j->was_there)
            sb_feat_emit_room(c->f, room, "rtc:peer_joined",
                              json_pack("{s:s,s:s,s:s,s:s}", "roomId", j->room_id, "peerId", me,
                                        "userId", c->user->id, "name", sb_feat_user_name(c->user)),
                              c->sock);
    }
    sb_feat_call_end(call);
}

/* Joined here: the peers of the other nodes are asked for before the answer. */
static void rtc_joined(sb_client_t *c, sb_sio_event_t *ev, const char *room_id, const char *room,
                       bool was_there) {
    sb_feat_call_t *call = sb_feat_call_begin(c, ev, sizeof(joining_t));
    if (!call)
        return;
    joining_t *j = (joining_t *)(void *)call->extra;
    snprintf(j->room_id, sizeof j->room_id, "%s", room_id);
    j->was_there = was_there;
    sb_feat_live_remote(c->f, room, joined_on_remote, call);
}

static void rtc_on_join(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    const char *room_id = sb_feat_live_id_arg(ev, arg, "roomId");
    char room[SB_RTC_ROOM_MAX];
    if (room_id) {
        rtc_room(room_id, room);
        bool was_there = sb_sio_in_room(c->sock, sb_cstr(room));
        if (sb_sio_join(c->sock, sb_cstr(room)) != SB_OK) {
            sb_feat_fail(ev, "too_many_rooms", "a socket may join at most %u rooms",
                         c->f->cfg.max_rooms_per_socket);
        } else if (sb_map_put(&c->f->live->peers, sb_cstr(sb_sio_socket_id(c->sock)), c->sock) !=
                   SB_OK) {
            if (!was_there)
                sb_sio_leave(c->sock, sb_cstr(room));
            sb_feat_fail(ev, "server_busy", "out of memory");
        } else {
            rtc_joined(c, ev, room_id, room, was_there);
        }
    }
    json_decref(arg);
}

static void rtc_on_leave(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    const char *room_id = sb_feat_live_id_arg(ev, arg, "roomId");
    char room[SB_RTC_ROOM_MAX];
    if (room_id) {
        rtc_room(room_id, room);
        if (sb_sio_leave(c->sock, sb_cstr(room)) != SB_OK) {
            sb_feat_fail(ev, "not_in_room", "not in WebRTC room '%s'", room_id);
        } else {
            sb_feat_live_rtc_gone(c, room_id);
            peer_forget_if_idle(c);
            sb_feat_reply(ev, json_pack("{s:b,s:s}", "ok", 1, "roomId", room_id));
        }
    }
    json_decref(arg);
}

/* ---- rtc:offer / rtc:answer / rtc:ice_candidate {targetPeerId, payload, roomId?} ---------- */

typedef struct {
    const sb_sio_socket_t *target;
    char room_id[SB_LIVE_ID_MAX + 1]; /* the first rtc room both are in; "" if none */
} shared_walk_t;

static bool find_shared_room(sb_str_t room, void *ud) {
    shared_walk_t *w = ud;
    if (room.n <= 4 || memcmp(room.p, "rtc:", 4) != 0 || !sb_sio_in_room(w->target, room))
        return true;
    snprintf(w->room_id, sizeof w->room_id, "%.*s", (int)(room.n - 4), room.p + 4);
    return false;
}

/* The room the relay goes through: the given one (the sender must be in
 * it) or any shared one. Fails the event and returns false if none. */
static bool relay_room(sb_sio_event_t *ev, sb_sio_socket_t *from, const sb_sio_socket_t *to,
                       const char *given, shared_walk_t *w) {
    char room[SB_RTC_ROOM_MAX];
    if (given) {
        rtc_room(given, room);
        if (!sb_sio_in_room(from, sb_cstr(room))) {
            sb_feat_fail(ev, "not_in_room", "not in WebRTC room '%s'", given);
            return false;
        }
        if (sb_sio_in_room(to, sb_cstr(room)))
            snprintf(w->room_id, sizeof w->room_id, "%s", given);
    } else {
        sb_sio_socket_rooms(from, find_shared_room, w);
    }
    if (!w->room_id[0])
        sb_feat_fail(ev, "peer_not_found", "the target peer is in none of your WebRTC rooms");
    return w->room_id[0] != '\0';
}

typedef struct {
    const char *target, *room; /* room: NULL when not given */
    json_t *payload;
} relay_t;

/* Reads {targetPeerId, payload, roomId?}; fails the event and returns
 * false when a field is wrong. */
static bool relay_args(sb_sio_event_t *ev, json_t *arg, relay_t *r) {
    json_t *room = json_object_get(arg, "roomId");
    r->target = sb_feat_str_field(arg, "targetPeerId", SB_LIVE_ID_MAX);
    r->payload = json_object_get(arg, "payload");
    r->room = NULL;
    if (!r->target || !r->payload) {
        sb_feat_fail(ev, "invalid_payload", "expected {targetPeerId, payload, roomId?}");
        return false;
    }
    return !room || (r->room = sb_feat_live_id_arg(ev, room, "roomId")) != NULL;
}

static json_t *relayed(const sb_sio_socket_t *from, json_t *payload, const char *room_id) {
    return json_pack("{s:s,s:O,s:s}", "senderPeerId", sb_sio_socket_id(from), "payload", payload,
                     "roomId", room_id);
}

/* ---- a peer on another node --------------------------------------------------------------- */

typedef struct {
    char event[24];
    char target[SB_LIVE_ID_MAX + 1];
    char room_id[SB_LIVE_ID_MAX + 1]; /* as given; "" when not */
    json_t *payload;
} remote_relay_t;

/* The room the relay goes through, from the target's rooms as its node
 * described them; "" when they share none. */
static void shared_remote_room(sb_sio_socket_t *from, json_t *target, const char *given,
                               char out[SB_LIVE_ID_MAX + 1]) {
    char room[SB_RTC_ROOM_MAX];
    size_t i;
    json_t *r;
    out[0] = '\0';
    if (given) {
        rtc_room(given, room);
        if (sb_feat_live_remote_in(target, room))
            snprintf(out, SB_LIVE_ID_MAX + 1, "%s", given);
        return;
    }
    json_array_foreach(json_object_get(target, "rooms"), i, r) {
        const char *name = json_string_value(r);
        if (name && strncmp(name, "rtc:", 4) == 0 && name[4] &&
            sb_sio_in_room(from, sb_cstr(name))) {
            snprintf(out, SB_LIVE_ID_MAX + 1, "%s", name + 4);
            return;
        }
    }
}

static json_t *described(json_t *sockets, const char *id) {
    size_t i;
    json_t *s;
    json_array_foreach(sockets, i, s) {
        if (json_is_string(json_object_get(s, "id")) &&
            strcmp(json_string_value(json_object_get(s, "id")), id) == 0)
            return s;
    }
    return NULL;
}

static void relay_on_remote(void *ud, json_t *sockets) {
    sb_feat_call_t *call = ud;
    remote_relay_t *rr = (remote_relay_t *)(void *)call->extra;
    json_t *target = sockets ? described(sockets, rr->target) : NULL;
    char room_id[SB_LIVE_ID_MAX + 1] = "";
    if (target && sb_feat_call_live(call))
        shared_remote_room(call->sock, target, rr->room_id[0] ? rr->room_id : NULL, room_id);
    if (!sockets) {
        /* the features are gone: nobody to answer */
    } else if (!room_id[0]) {
        sb_feat_call_fail(call, "peer_not_found",
                          target ? "the peer '%s' is in none of your WebRTC rooms" : "no peer '%s'",
                          rr->target);
    } else {
        /* Every socket is in the room named by its id while clustered. */
        sb_str_t to = sb_cstr(rr->target);
        sb_sio_target_t t = {.rooms = &to, .nrooms = 1};
        sb_feat_broadcast(call->f, &t, rr->event, relayed(call->sock, rr->payload, room_id));
        sb_feat_call_reply(call, json_pack("{s:b}", "ok", 1));
    }
    json_decref(rr->payload);
    sb_feat_call_end(call);
}

static void relay_remote(sb_client_t *c, sb_sio_event_t *ev, const char *event, const relay_t *r) {
    char room[SB_RTC_ROOM_MAX];
    if (r->room) {
        rtc_room(r->room, room);
        if (!sb_sio_in_room(c->sock, sb_cstr(room))) {
            sb_feat_fail(ev, "not_in_room", "not in WebRTC room '%s'", r->room);
            return;
        }
    }
    sb_feat_call_t *call = sb_feat_call_begin(c, ev, sizeof(remote_relay_t));
    if (!call)
        return;
    remote_relay_t *rr = (remote_relay_t *)(void *)call->extra;
    snprintf(rr->event, sizeof rr->event, "%s", event);
    snprintf(rr->target, sizeof rr->target, "%s", r->target);
    snprintf(rr->room_id, sizeof rr->room_id, "%s", r->room ? r->room : "");
    rr->payload = json_incref(r->payload);
    sb_feat_live_remote(c->f, r->target, relay_on_remote, call);
}

static void relay_send(sb_client_t *c, sb_sio_event_t *ev, const char *event, const relay_t *r) {
    sb_sio_socket_t *to = sb_map_get(&c->f->live->peers, sb_cstr(r->target));
    shared_walk_t w = {.target = to, .room_id = ""};
    if (!to && sb_feat_clustered(c->f)) {
        relay_remote(c, ev, event, r);
    } else if (!to || !sb_sio_socket_connected(to)) {
        sb_feat_fail(ev, "peer_not_found", "no peer '%s'", r->target);
    } else if (relay_room(ev, c->sock, to, r->room, &w)) {
        sb_feat_emit(to, event, relayed(c->sock, r->payload, w.room_id));
        sb_feat_reply(ev, json_pack("{s:b}", "ok", 1));
    }
}

static void rtc_relay(sb_client_t *c, sb_sio_event_t *ev, const char *event) {
    json_t *arg = sb_feat_arg(ev, 0);
    relay_t r;
    size_t n;
    char *text = NULL;
    if (relay_args(ev, arg, &r) &&
        (text = sb_feat_live_dump(ev, r.payload, SB_RTC_PAYLOAD_MAX, &n)))
        relay_send(c, ev, event, &r);
    free(text);
    json_decref(arg);
}

static void rtc_on_offer(sb_client_t *c, sb_sio_event_t *ev) { rtc_relay(c, ev, "rtc:offer"); }
static void rtc_on_answer(sb_client_t *c, sb_sio_event_t *ev) { rtc_relay(c, ev, "rtc:answer"); }
static void rtc_on_ice(sb_client_t *c, sb_sio_event_t *ev) {
    rtc_relay(c, ev, "rtc:ice_candidate");
}

static const sb_feature_event_t rtc_events[] = {
    {"rtc:join", rtc_on_join},     {"rtc:leave", rtc_on_leave},       {"rtc:offer", rtc_on_offer},
    {"rtc:answer", rtc_on_answer}, {"rtc:ice_candidate", rtc_on_ice},
};

int sb_feat_live_rtc_init(sb_features_t *f) {
    return sb_feat_register(f, rtc_events, sizeof rtc_events / sizeof *rtc_events);
}
