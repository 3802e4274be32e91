/* WebRTC signaling: peers (a peer id is the Socket.IO socket id) meet in
 * rtc:<roomId> rooms, and offers, answers and ICE candidates are relayed
 * between two peers that share such a room. */
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
        json_array_append_new(w->peers, json_pack("{s:s,s:s,s:s}", "peerId", sb_sio_socket_id(s),
                                                  "userId", c->user->id, "name", c->user->name));
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

static void rtc_joined(sb_client_t *c, sb_sio_event_t *ev, const char *room_id, const char *room,
                       bool was_there) {
    const char *me = sb_sio_socket_id(c->sock);
    json_t *peers = room_peers(c->f, room, c->sock);
    sb_feat_reply(ev, json_pack("{s:b,s:s,s:s,s:O}", "ok", 1, "roomId", room_id, "peerId", me,
                                "peers", peers));
    sb_feat_emit(c->sock, "rtc:room_peers",
                 json_pack("{s:s,s:o}", "roomId", room_id, "peers", peers));
    if (!was_there)
        sb_feat_emit_room(c->f, room, "rtc:peer_joined",
                          json_pack("{s:s,s:s,s:s,s:s}", "roomId", room_id, "peerId", me, "userId",
                                    c->user->id, "name", c->user->name),
                          c->sock);
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

static void relay_send(sb_client_t *c, sb_sio_event_t *ev, const char *event, const relay_t *r) {
    sb_sio_socket_t *to = sb_map_get(&c->f->live->peers, sb_cstr(r->target));
    shared_walk_t w = {.target = to, .room_id = ""};
    if (!to || !sb_sio_socket_connected(to)) {
        sb_feat_fail(ev, "peer_not_found", "no peer '%s'", r->target);
    } else if (relay_room(ev, c->sock, to, r->room, &w)) {
        sb_feat_emit(to, event,
                     json_pack("{s:s,s:O,s:s}", "senderPeerId", sb_sio_socket_id(c->sock),
                               "payload", r->payload, "roomId", w.room_id));
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
