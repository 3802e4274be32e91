/* Group rooms: chat:join, chat:leave, chat:message (stored, then
 * broadcast), chat:typing, and chat:history to read a room's messages back.
 *
 * Joins and leaves are told one by one (chat:user_joined / chat:user_left)
 * while a room has at most --room-announce-max members; past that, filling
 * a room would cost O(members) per join, O(N^2) in all, so a large room's
 * changes are counted and sent as one chat:room_update per interval, an
 * interval that grows with the room. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/err.h"
#include "features/features_internal.h"
#include "hub/hub.h"

#define SB_ROOM_MAX 128

static const char *const reserved_prefixes[] = {
    "user:", "conversation:", "post:", "metric:", "doc:", "rtc:"};

/* 1-max bytes of UTF-8 text without control characters. */
static bool room_name_valid(const char *s, size_t n, size_t max) {
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static bool is_conversation_room(const char *room) {
    return strncmp(room, "conversation:", 13) == 0;
}

/* Conversation rooms may be longer: direct conversation ids embed two user ids. */
static size_t room_name_max(sb_str_t name) {
    return name.n >= 13 && memcmp(name.p, "conversation:", 13) == 0 ? SB_STORE_MAX_ROOM
                                                                    : SB_ROOM_MAX;
}

bool sb_features_room_name_valid(sb_str_t name) {
    return room_name_valid(name.p, name.n, room_name_max(name));
}

bool sb_feat_room_arg(sb_sio_event_t *ev, json_t *v, const char **room) {
    if (!json_is_string(v) ||
        !sb_features_room_name_valid(sb_str(json_string_value(v), json_string_length(v)))) {
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

/* ---- large rooms: membership changes summed per interval --------------------------- */

/* A room's entry stays while it is told, so that the next update waits for
 * the room's own interval: an update reaches every member, and a room of N
 * members past the announce limit is told at most once per
 * presence_interval * ceil(N / (SB_ROOM_UPDATE_BUDGET * room_announce_max)):
 * a large room costs at most that many deliveries per interval, however
 * fast it fills. */
#define SB_ROOM_UPDATE_BUDGET 10

typedef struct {
    uint32_t joined, left;
    uint64_t next_ms;              /* loop time before which the room is not told again */
    json_t *joined_ids, *left_ids; /* the first SB_ROOM_UPDATE_IDS_MAX of each */
    char room[];
} room_change_t;

static size_t room_members(const sb_features_t *f, const char *room) {
    return sb_hub_room_size(sb_sio_nsp_hub(f->nsp), sb_cstr(room));
}

static uint64_t room_interval_ms(const sb_features_t *f, size_t members) {
    size_t budget =
        SB_ROOM_UPDATE_BUDGET * (f->cfg.room_announce_max ? f->cfg.room_announce_max : 1);
    size_t intervals = members > budget ? (members + budget - 1) / budget : 1;
    return (uint64_t)f->cfg.presence_interval_ms * intervals;
}

static void room_change_free(room_change_t *rc) {
    json_decref(rc->joined_ids);
    json_decref(rc->left_ids);
    free(rc);
}

static void room_pending_add(sb_features_t *f, const char *room, const char *user, bool joined) {
    room_change_t *rc = sb_map_get(&f->room_pending, sb_cstr(room));
    if (!rc) {
        size_t n = strlen(room) + 1;
        if (!(rc = calloc(1, sizeof *rc + n)))
            return; /* out of memory: the next update's memberCount is still right */
        memcpy(rc->room, room, n);
        rc->joined_ids = json_array();
        rc->left_ids = json_array();
        if (sb_map_put(&f->room_pending, sb_cstr(rc->room), rc) != SB_OK) {
            room_change_free(rc);
            return;
        }
    }
    json_t *ids = joined ? rc->joined_ids : rc->left_ids;
    if (json_array_size(ids) < SB_ROOM_UPDATE_IDS_MAX)
        json_array_append_new(ids, json_string(user));
    *(joined ? &rc->joined : &rc->left) += 1;
    if (!sb_timer_active(&f->room_timer))
        sb_timer_start(&f->room_timer, f->cfg.presence_interval_ms);
}

typedef struct {
    room_change_t **v;
    size_t n;
} change_list_t;

static bool take_change(sb_str_t key, void *value, void *ud) {
    change_list_t *l = ud;
    l->v[l->n++] = value;
    return true;
}

/* Tells the room what changed, then keeps the entry, emptied, until the
 * room's interval is over. */
static void room_tell(sb_features_t *f, room_change_t *rc) {
    size_t members = room_members(f, rc->room);
    long n = sb_feat_emit_room(f, rc->room, "chat:room_update",
                               json_pack("{s:s,s:I,s:I,s:I,s:O,s:O}", "roomId", rc->room,
                                         "memberCount", (json_int_t)members, "joinedCount",
                                         (json_int_t)rc->joined, "leftCount", (json_int_t)rc->left,
                                         "joined", rc->joined_ids, "left", rc->left_ids),
                               NULL);
    f->counters.room_updates += n > 0 ? (uint64_t)n : 0;
    rc->joined = rc->left = 0;
    json_array_clear(rc->joined_ids);
    json_array_clear(rc->left_ids);
    rc->next_ms = f->loop->now_ms + room_interval_ms(f, members);
}

static void room_flush(sb_timer_t *t) {
    sb_features_t *f = sb_container_of(t, sb_features_t, room_timer);
    change_list_t l = {.v = malloc(sizeof *l.v * (f->room_pending.count + 1))};
    if (!l.v) {
        sb_timer_start(t, f->cfg.presence_interval_ms);
        return;
    }
    sb_map_foreach(&f->room_pending, take_change, &l);
    /* The wheel fires up to a tick late: a room due within a tick is due. */
    uint64_t now = f->loop->now_ms + SB_WHEEL_TICK_MS;
    for (size_t i = 0; i < l.n; i++) {
        room_change_t *rc = l.v[i];
        bool changed = rc->joined || rc->left;
        if (changed && rc->next_ms <= now) {
            room_tell(f, rc);
        } else if (!changed && rc->next_ms <= now) {
            sb_map_del(&f->room_pending, sb_cstr(rc->room));
            room_change_free(rc);
        }
    }
    free(l.v);
    if (f->room_pending.count)
        sb_timer_start(t, f->cfg.presence_interval_ms);
}

/* A join or leave: told one by one in a room of at most room_announce_max
 * members (`size`: counting the one who comes or goes), else summed. */
static void announce(sb_features_t *f, sb_sio_socket_t *sock, const char *room, size_t size,
                     const sb_user_t *u, bool joined) {
    if (size > f->cfg.room_announce_max) {
        room_pending_add(f, room, u->id, joined);
        return;
    }
    json_t *p = joined ? json_pack("{s:s,s:s,s:s}", "roomId", room, "userId", u->id, "name",
                                   sb_feat_user_name(u))
                       : json_pack("{s:s,s:s}", "roomId", room, "userId", u->id);
    long n = sb_feat_emit_room(f, room, joined ? "chat:user_joined" : "chat:user_left", p, sock);
    f->counters.room_announcements += n > 0 ? (uint64_t)n : 0;
}

/* ---- a /ws client gone: user_disconnected to its rooms ------------------------------ */

typedef struct {
    char **v;
    size_t n, cap;
} room_list_t;

/* The rooms a client joined with chat:join: open rooms and conversations. */
static bool collect_joined(sb_str_t room, void *ud) {
    room_list_t *l = ud;
    for (size_t i = 0; i < sizeof reserved_prefixes / sizeof *reserved_prefixes; i++)
        if (sb_str_has_prefix(room, sb_cstr(reserved_prefixes[i])) &&
            !sb_str_has_prefix(room, SB_LIT("conversation:")))
            return true;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return false;
        l->v = v;
        l->cap = cap;
    }
    if ((l->v[l->n] = strndup(room.p, room.n)))
        l->n++;
    return true;
}

void sb_feat_chat_departed(sb_client_t *c) {
    sb_features_t *f = c->f;
    const sb_user_t *u = c->user;
    room_list_t l = {0};
    sb_sio_socket_rooms(c->sock, collect_joined, &l);
    for (size_t i = 0; i < l.n; i++) {
        if (room_members(f, l.v[i]) > f->cfg.room_announce_max) {
            room_pending_add(f, l.v[i], u->id, false); /* summed, as a leave */
        } else {
            json_t *p =
                json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:I}", "roomId", l.v[i], "userId", u->id,
                          "name", sb_feat_user_name(u), "user", "id", u->id, "username",
                          sb_feat_user_name(u), "timestamp", (json_int_t)sb_wall_ms());
            long n = sb_feat_emit_room(f, l.v[i], "user_disconnected", p, c->sock);
            f->counters.room_announcements += n > 0 ? (uint64_t)n : 0;
        }
        free(l.v[i]);
    }
    free(l.v);
}

void sb_feat_chat_dispose(sb_features_t *f) {
    sb_timer_stop(&f->room_timer);
    change_list_t l = {.v = malloc(sizeof *l.v * (f->room_pending.count + 1))};
    if (l.v)
        sb_map_foreach(&f->room_pending, take_change, &l);
    for (size_t i = 0; i < l.n; i++)
        room_change_free(l.v[i]);
    free(l.v);
    sb_map_dispose(&f->room_pending);
}

/* ---- joining and leaving ---------------------------------------------------------- */

/* Joins and tells the room; shared by open rooms and checked conversations. */
static void join_room(sb_sio_socket_t *sock, sb_features_t *f, const sb_user_t *u, const char *room,
                      sb_sio_event_t *ev) {
    if (sb_sio_join(sock, sb_cstr(room)) != SB_OK) {
        sb_feat_fail(ev, "too_many_rooms", "a socket may join at most %u rooms",
                     f->cfg.max_rooms_per_socket);
        return;
    }
    announce(f, sock, room, room_members(f, room), u, true);
    sb_feat_reply(ev, json_pack("{s:b,s:s}", "ok", 1, "roomId", room));
}

typedef struct {
    char room[SB_STORE_MAX_ROOM + 1];
} join_req_t;

static void join_on_member(void *ud, int rc, bool yes) {
    sb_feat_call_t *call = ud;
    const char *room = ((join_req_t *)(void *)call->extra)->room;
    sb_client_t *c = sb_feat_call_live(call) ? sb_sio_socket_get_data(call->sock) : NULL;
    sb_sio_event_t ev = {.socket = call->sock,
                         .has_ack = call->has_ack,
                         .ack_id = call->ack_id,
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
        announce(c->f, c->sock, room, room_members(c->f, room) + 1, c->user, false);
        sb_feat_reply(ev, json_pack("{s:b,s:s}", "ok", 1, "roomId", room));
    }
    json_decref(arg);
}

/* What chat:message keeps while the store works: the sender as it was when
 * it sent (it may be gone by the completion) and its clientMessageId. */
typedef struct {
    char key[SB_STORE_MAX_KEY + 1];
    char name[sizeof((sb_jwt_claims_t *)0)->name];
    char avatar[sizeof((sb_jwt_claims_t *)0)->avatar];
} post_req_t;

/* The stored message goes to everyone in the room, sender included; a
 * retry with the same clientMessageId gets the original ack, nothing more. */
static void message_on_stored(void *ud, int rc, const sb_store_msg_t *m) {
    sb_feat_call_t *call = ud;
    const post_req_t *p = (const post_req_t *)(void *)call->extra;
    if (rc != SB_OK) {
        sb_feat_call_abort(call, rc);
        return;
    }
    json_t *msg = sb_feat_chat_message_json(m, p->name, p->avatar);
    if (p->key[0])
        json_object_set_new(msg, "clientMessageId", json_string(p->key));
    if (!m->replayed) {
        call->f->messages_total++;
        sb_feat_delivery_room(call->f, m->room, "chat:message", json_incref(msg), m->id);
    }
    sb_feat_call_reply(call, msg);
    sb_feat_call_end(call);
}

static void chat_on_message(sb_client_t *c, sb_sio_event_t *ev) {
    const char *room;
    json_t *arg = room_payload(ev, &room, true);
    if (!arg)
        return;
    const char *text = sb_feat_text_field(ev, arg, "message", c->f->cfg.max_message_bytes);
    char key[SB_STORE_MAX_KEY + 1];
    if (text && !sb_sio_in_room(c->sock, sb_cstr(room))) {
        sb_feat_fail(ev, "not_in_room", "join room '%s' before sending to it", room);
    } else if (text && sb_feat_client_message_id(ev, arg, key)) {
        sb_feat_call_t *call = sb_feat_call_begin(c, ev, sizeof(post_req_t));
        if (call) {
            post_req_t *p = (post_req_t *)(void *)call->extra;
            snprintf(p->key, sizeof p->key, "%s", key);
            snprintf(p->name, sizeof p->name, "%s", sb_feat_user_name(c->user));
            snprintf(p->avatar, sizeof p->avatar, "%s", sb_feat_user_avatar(c->user));
        }
        sb_store_message_in_t in = {.room = sb_cstr(room),
                                    .sender_id = sb_cstr(c->user->id),
                                    .content = sb_cstr(text),
                                    .type = SB_LIT("text"),
                                    .created_at_ms = sb_wall_ms(),
                                    .idempotency_key = key[0] ? sb_cstr(key) : SB_STR_NULL};
        int rc =
            call ? sb_store_message_append(c->f->cfg.store, &in, message_on_stored, call) : SB_OK;
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
                         json_pack("{s:s,s:s,s:b}", "roomId", room, "userId", c->user->id,
                                   "isTyping", typing ? json_is_true(typing) : 1));
        sb_feat_reply(ev, json_pack("{s:b}", "ok", 1));
    }
    json_decref(arg);
}

/* ---- chat:history {roomId, before?, limit?} ----------------------------------------- */

typedef struct {
    char room[SB_STORE_MAX_ROOM + 1];
    int64_t before;
    int limit;
} history_req_t;

static history_req_t *history_of(sb_feat_call_t *call) {
    return (history_req_t *)(void *)call->extra;
}

static void history_on_page(void *ud, int rc, const sb_store_msgs_t *page) {
    sb_feat_call_t *call = ud;
    if (rc != SB_OK) {
        sb_feat_call_abort(call, rc);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < page->n; i++)
        json_array_append_new(list, sb_features_room_message_json(&page->v[i]));
    sb_feat_call_reply(call,
                       json_pack("{s:s,s:o,s:b}", "roomId", history_of(call)->room, "messages",
                                 list, "hasMore", (int)page->n == history_of(call)->limit));
    sb_feat_call_end(call);
}

static void history_read(sb_feat_call_t *call) {
    history_req_t *h = history_of(call);
    int rc = sb_store_message_history(call->f->cfg.store, sb_cstr(h->room), h->before, h->limit,
                                      history_on_page, call);
    if (rc != SB_OK)
        sb_feat_call_abort(call, rc);
}

/* Membership first: a non-member learns nothing, not even if it exists. */
static void history_on_member(void *ud, int rc, bool yes) {
    sb_feat_call_t *call = ud;
    if (rc == SB_OK && yes) {
        history_read(call);
        return;
    }
    if (rc == SB_OK || rc == SB_ENOTFOUND)
        sb_feat_call_fail(call, "forbidden_room", "not a member of this conversation");
    else
        sb_feat_call_fail_store(call, rc);
    sb_feat_call_end(call);
}

/* Who may read a room's history: for an open room, a socket that has joined
 * it (as for chat:message); for a conversation room, a conversation member. */
static void history_start(sb_client_t *c, sb_sio_event_t *ev, const char *room, int64_t before,
                          int limit) {
    bool conversation = is_conversation_room(room);
    if (!conversation && !sb_sio_in_room(c->sock, sb_cstr(room))) {
        sb_feat_fail(ev, "not_in_room", "join room '%s' before reading its history", room);
        return;
    }
    sb_feat_call_t *call = sb_feat_call_begin(c, ev, sizeof(history_req_t));
    if (!call)
        return;
    history_req_t *h = history_of(call);
    snprintf(h->room, sizeof h->room, "%s", room);
    h->before = before;
    h->limit = limit;
    if (!conversation) {
        history_read(call);
        return;
    }
    int rc = sb_store_conversation_is_member(c->f->cfg.store, sb_cstr(room + 13),
                                             sb_cstr(c->user->id), history_on_member, call);
    if (rc != SB_OK)
        sb_feat_call_abort(call, rc);
}

static void chat_on_history(sb_client_t *c, sb_sio_event_t *ev) {
    const char *room;
    json_t *arg = room_payload(ev, &room, true);
    int64_t before;
    int limit;
    if (arg && sb_feat_page_args(ev, arg, &before, &limit))
        history_start(c, ev, room, before, limit);
    json_decref(arg);
}

/* ---- room_members roomId: who is in a room one is in ---------------------------------- */

#define SB_ROOM_MEMBERS_MAX 1000

typedef struct {
    json_t *members, *seen; /* [{id, name, status, devices}], and the ids already listed */
    size_t users;           /* distinct users in the room, listed or not */
} members_walk_t;

static bool add_room_member(sb_hub_member_t *m, void *ud) {
    members_walk_t *w = ud;
    sb_sio_socket_t *s = sb_sio_socket_of_member(m);
    sb_client_t *c = s && sb_sio_socket_connected(s) ? sb_sio_socket_get_data(s) : NULL;
    if (!c || json_object_get(w->seen, c->user->id))
        return true; /* a read-only subscriber, or a user already listed */
    json_object_set_new(w->seen, c->user->id, json_true());
    if (w->users++ < SB_ROOM_MEMBERS_MAX)
        json_array_append_new(w->members, json_pack("{s:s,s:s,s:s,s:i}", "id", c->user->id, "name",
                                                    sb_feat_user_name(c->user), "status", "online",
                                                    "devices", (int)c->user->devices));
    return true;
}

static void chat_on_members(sb_client_t *c, sb_sio_event_t *ev) {
    const char *room;
    json_t *arg = room_payload(ev, &room, false);
    if (!arg)
        return;
    if (!sb_sio_in_room(c->sock, sb_cstr(room))) {
        sb_feat_fail(ev, "not_in_room", "not in room '%s'", room);
    } else {
        members_walk_t w = {json_array(), json_object(), 0};
        sb_hub_room_members(sb_sio_nsp_hub(c->f->nsp), sb_cstr(room), add_room_member, &w);
        json_decref(w.seen);
        sb_feat_reply(ev, json_pack("{s:s,s:o,s:I}", "roomId", room, "members", w.members, "count",
                                    (json_int_t)w.users));
    }
    json_decref(arg);
}

static const sb_feature_event_t chat_events[] = {
    {"room_members", chat_on_members}, {"chat:join", chat_on_join},
    {"chat:leave", chat_on_leave},     {"chat:message", chat_on_message},
    {"chat:typing", chat_on_typing},   {"chat:history", chat_on_history},
};

int sb_feat_chat_init(sb_features_t *f) {
    sb_map_init(&f->room_pending);
    sb_timer_init(f->loop, &f->room_timer, room_flush);
    return sb_feat_register(f, chat_events, sizeof chat_events / sizeof *chat_events);
}
