/* Group rooms: chat:join, chat:leave, chat:message, chat:typing. Messages
 * are broadcast (storage arrives with the store layer). */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "features/features_internal.h"

#define SB_ROOM_MAX 128

static const char *const reserved_prefixes[] = {"user:", "conversation:", "post:",
                                                "metric:", "doc:", "rtc:"};

/* 1-max bytes of UTF-8 text without control characters. */
static bool room_name_valid(const char *s, size_t n, size_t max) {
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static bool is_conversation_room(const char *room) { return strncmp(room, "conversation:", 13) == 0; }

bool sb_feat_room_arg(sb_sio_event_t *ev, json_t *v, const char **room) {
    /* Conversation rooms may be longer: direct conversation ids embed two user ids. */
    size_t max = json_is_string(v) && is_conversation_room(json_string_value(v)) ? SB_STORE_MAX_ROOM
                                                                                 : SB_ROOM_MAX;
    if (!json_is_string(v) || !room_name_valid(json_string_value(v), json_string_length(v), max)) {
        sb_feat_fail(ev, "invalid_payload", "roomId must be a string of 1-%d printable characters",
                     SB_ROOM_MAX);
        return false;
    }
    *room = json_string_value(v);
    if (is_conversation_room(*room)) /* members only: checked where it is used */
        return true;
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

/* Joins and tells the room; shared by open rooms and checked conversations. */
static void join_room(sb_sio_socket_t *sock, sb_features_t *f, const sb_user_t *u, const char *room,
                      sb_sio_event_t *ev) {
    if (sb_sio_join(sock, sb_cstr(room)) != SB_OK) {
        sb_feat_fail(ev, "too_many_rooms", "a socket may join at most %u rooms",
                     f->cfg.max_rooms_per_socket);
        return;
    }
    sb_feat_emit_room(f, room, "chat:user_joined",
                      json_pack("{s:s,s:s,s:s}", "roomId", room, "userId", u->id, "name", u->name),
                      sock);
    sb_feat_reply(ev, json_pack("{s:b,s:s}", "ok", 1, "roomId", room));
}

typedef struct {
    char room[SB_STORE_MAX_ROOM + 1];
} join_req_t;

static void join_on_member(void *ud, int rc, bool yes) {
    sb_feat_call_t *call = ud;
    const char *room = ((join_req_t *)(void *)call->extra)->room;
    sb_client_t *c = sb_feat_call_live(call) ? sb_sio_socket_get_data(call->sock) : NULL;
    sb_sio_event_t ev = {.socket = call->sock, .has_ack = call->has_ack, .ack_id = call->ack_id,
                         .name = sb_cstr(call->event)};
    if (!c)
        ;
    else if (rc == SB_OK && yes)
        join_room(call->sock, call->f, c->user, room, &ev);
    else if (rc == SB_OK || rc == SB_ENOTFOUND)
        sb_feat_call_fail(call, "forbidden_room", "not a member of this conversation");
    else
        sb_feat_call_fail_store(call, rc);
    sb_feat_call_end(call);
}

static void chat_on_join(sb_client_t *c, sb_sio_event_t *ev) {
    const char *room;
    json_t *arg = room_payload(ev, &room, false);
    if (!arg)
        return;
    if (!is_conversation_room(room)) {
        join_room(c->sock, c->f, c->user, room, ev);
    } else {
        sb_feat_call_t *call = sb_feat_call_begin(c, ev, sizeof(join_req_t));
        int rc = SB_OK;
        if (call) {
            snprintf(((join_req_t *)(void *)call->extra)->room, SB_STORE_MAX_ROOM + 1, "%s", room);
            rc = sb_store_conversation_is_member(c->f->cfg.store, sb_cstr(room + 13),
                                                 sb_cstr(c->user->id), join_on_member, call);
        }
        if (call && rc != SB_OK) {
            sb_feat_call_abort(call, rc);
        }
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

/* The stored message goes to everyone in the room, sender included. */
static void message_on_stored(void *ud, int rc, const sb_store_msg_t *m) {
    sb_feat_call_t *call = ud;
    if (rc != SB_OK) {
        sb_feat_call_abort(call, rc);
        return;
    }
    sb_user_t *u = sb_map_get(&call->f->users, sb_cstr(call->user_id));
    char at[32];
    sb_feat_iso_time(m->created_at_ms, at);
    json_t *sender = json_pack("{s:s,s:s}", "id", m->sender_id, "name", u ? u->name : m->sender_id);
    if (u && u->avatar[0])
        json_object_set_new(sender, "avatar", json_string(u->avatar));
    json_t *msg = json_pack("{s:I,s:s,s:s,s:s,s:o,s:s}", "id", (json_int_t)m->id, "roomId", m->room,
                            "message", m->content, "type", m->type, "sender", sender, "createdAt", at);
    call->f->messages_total++;
    sb_feat_emit_room(call->f, m->room, "chat:message", json_incref(msg), NULL);
    sb_feat_call_reply(call, msg);
    sb_feat_call_end(call);
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
        sb_feat_call_t *call = sb_feat_call_begin(c, ev, 0);
        sb_store_message_in_t in = {.room = sb_cstr(room), .sender_id = sb_cstr(c->user->id),
                                    .content = sb_str(json_string_value(text), json_string_length(text)),
                                    .type = SB_LIT("text"), .created_at_ms = sb_wall_ms()};
        int rc = call ? sb_store_message_append(c->f->cfg.store, &in, message_on_stored, call) : SB_OK;
        if (call && rc != SB_OK) {
            sb_feat_call_abort(call, rc);
        }
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
