/* Group rooms: chat:join, chat:leave, chat:message, chat:typing. Messages
 * are broadcast (storage arrives with the store layer). */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "features/features_internal.h"

#define SB_ROOM_MAX 128

static const char *const reserved_prefixes[] = {"user:", "conversation:", "post:",
                                                "metric:", "doc:", "rtc:"};

/* 1-128 bytes of UTF-8 text without control characters. */
static bool room_name_valid(const char *s, size_t n) {
    if (n == 0 || n > SB_ROOM_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

bool sb_feat_room_arg(sb_sio_event_t *ev, json_t *v, const char **room) {
    if (!json_is_string(v) || !room_name_valid(json_string_value(v), json_string_length(v))) {
        sb_feat_fail(ev, "invalid_payload", "roomId must be a string of 1-%d printable characters",
                     SB_ROOM_MAX);
        return false;
    }
    *room = json_string_value(v);
    for (size_t i = 0; i < sizeof reserved_prefixes / sizeof *reserved_prefixes; i++) {
        if (strncmp(*room, reserved_prefixes[i], strlen(reserved_prefixes[i])) == 0) {
            sb_feat_fail(ev, "forbidden_room", "room names starting with '%s' are reserved",
                         reserved_prefixes[i]);
            return false;
        }
    }
    return true;
}

/* Reads {roomId, ...} or a bare room string from argument 0. */
static json_t *room_payload(sb_sio_event_t *ev, const char **room, bool object_required) {
    json_t *arg = sb_feat_arg(ev, 0);
    json_t *v = json_is_object(arg) ? json_object_get(arg, "roomId") : object_required ? NULL : arg;
    if (object_required && !json_is_object(arg)) {
        sb_feat_fail(ev, "invalid_payload", "expected an object with roomId");
        json_decref(arg);
        return NULL;
    }
    if (!sb_feat_room_arg(ev, v, room)) {
        json_decref(arg);
        return NULL;
    }
    return arg;
}

static void room_emit_others(sb_client_t *c, const char *room, const char *event, json_t *payload) {
    sb_str_t r = sb_cstr(room);
    sb_sio_target_t t = {.rooms = &r, .nrooms = 1, .except_socket = c->sock};
    sb_feat_broadcast(c->f, &t, event, payload);
}

static void chat_on_join(sb_client_t *c, sb_sio_event_t *ev) {
    const char *room;
    json_t *arg = room_payload(ev, &room, false);
    if (!arg)
        return;
    if (sb_sio_join(c->sock, sb_cstr(room)) != SB_OK) {
        sb_feat_fail(ev, "too_many_rooms", "a socket may join at most %u rooms",
                     c->f->cfg.max_rooms_per_socket);
    } else {
        room_emit_others(c, room, "chat:user_joined",
                         json_pack("{s:s,s:s,s:s}", "roomId", room, "userId", c->user->id, "name",
                                   c->user->name));
        sb_feat_reply(ev, json_pack("{s:b,s:s}", "ok", 1, "roomId", room));
    }
    json_decref(arg);
}

static void chat_on_leave(sb_client_t *c, sb_sio_event_t *ev) {
    const char *room;
    json_t *arg = room_payload(ev, &room, false);
    if (!arg)
        return;
    if (sb_sio_leave(c->sock, sb_cstr(room)) != SB_OK) {
        sb_feat_fail(ev, "not_in_room", "not in room '%s'", room);
    } else {
        room_emit_others(c, room, "chat:user_left",
                         json_pack("{s:s,s:s}", "roomId", room, "userId", c->user->id));
        sb_feat_reply(ev, json_pack("{s:b,s:s}", "ok", 1, "roomId", room));
    }
    json_decref(arg);
}

static json_t *sender_of(const sb_client_t *c) {
    json_t *s = json_pack("{s:s,s:s}", "id", c->user->id, "name", c->user->name);
    if (c->user->avatar[0])
        json_object_set_new(s, "avatar", json_string(c->user->avatar));
    return s;
}

static void chat_on_message(sb_client_t *c, sb_sio_event_t *ev) {
    const char *room;
    json_t *arg = room_payload(ev, &room, true);
    if (!arg)
        return;
    json_t *text = json_object_get(arg, "message");
    if (!json_is_string(text) || json_string_length(text) == 0) {
        sb_feat_fail(ev, "invalid_payload", "message must be a non-empty string");
    } else if (json_string_length(text) > c->f->cfg.max_message_bytes) {
        sb_feat_fail(ev, "payload_too_large", "message exceeds %zu bytes", c->f->cfg.max_message_bytes);
    } else if (!sb_sio_in_room(c->sock, sb_cstr(room))) {
        sb_feat_fail(ev, "not_in_room", "join room '%s' before sending to it", room);
    } else {
        char id[32], at[32];
        snprintf(id, sizeof id, "%llu", (unsigned long long)++c->f->next_message_id);
        sb_feat_iso_time(sb_wall_ms(), at);
        json_t *msg = json_pack("{s:s,s:s,s:O,s:o,s:s}", "id", id, "roomId", room, "message", text,
                                "sender", sender_of(c), "createdAt", at);
        sb_str_t r = sb_cstr(room);
        sb_sio_target_t t = {.rooms = &r, .nrooms = 1};
        sb_feat_broadcast(c->f, &t, "chat:message", json_incref(msg));
        sb_feat_reply(ev, msg);
    }
    json_decref(arg);
}

static void chat_on_typing(sb_client_t *c, sb_sio_event_t *ev) {
    const char *room;
    json_t *arg = room_payload(ev, &room, true);
    if (!arg)
        return;
    if (!sb_sio_in_room(c->sock, sb_cstr(room))) {
        sb_feat_fail(ev, "not_in_room", "not in room '%s'", room);
    } else {
        json_t *typing = json_object_get(arg, "isTyping");
        room_emit_others(c, room, "chat:typing",
                         json_pack("{s:s,s:s,s:b}", "roomId", room, "userId", c->user->id, "isTyping",
                                   typing ? json_is_true(typing) : 1));
        sb_feat_reply(ev, json_pack("{s:b}", "ok", 1));
    }
    json_decref(arg);
}

static const sb_feature_event_t chat_events[] = {
    {"chat:join", chat_on_join},
    {"chat:leave", chat_on_leave},
    {"chat:message", chat_on_message},
    {"chat:typing", chat_on_typing},
};

int sb_feat_chat_init(sb_features_t *f) {
    return sb_feat_register(f, chat_events, sizeof chat_events / sizeof *chat_events);
}
