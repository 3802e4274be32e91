/* The plain JSON WebSocket door (/ws): a carrier of Socket.IO sessions that
 * speaks {"type","data"} messages to its clients (doors.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/pool.h"
#include "doors/doors.h"
#include "socketio/packet.h"
#include "socketio/socketio.h"

/* What a client-chosen "id" may be: it rides in the Socket.IO ack id above
 * three bits of the door's own, which must stay below 2^53. */
#define SB_DOOR_ID_MAX ((1ULL << 50) - 1)
#define SB_DOOR_TYPE_MAX 128
#define SB_DOOR_ROOM_MAX 512 /* longer than any room name: chat:join judges it */

/* The low bits of an ack id the door asks for: what answered. */
enum { ACK_PLAIN = 0, ACK_JOIN = 1, ACK_LEAVE = 2, ACK_HAS_ID = 4 };

struct sb_door_ws {
    sb_eio_server_t *eio;
    sb_door_ws_config_t cfg;
    sb_door_ws_stats_t stats;
    /* The last broadcast translated, kept with a reference so that the next
     * recipient of the same frame reuses the translation. */
    sb_frame_t *cache_src, *cache_out;
    sb_pool_t clients; /* a client still open when the server is destroyed goes with it */
};

typedef struct {
    sb_door_ws_t *door;
    sb_ws_t *ws;           /* NULL once the WebSocket is gone */
    sb_eio_session_t *eio; /* NULL once the session is gone */
    bool connect_sent, connected;
    char sid[SB_SIO_ID_LEN + 1];
    char *join_first; /* ?room= of the upgrade as a JSON string: joined once authenticated */
    char *room;       /* single_room: the room joined with join_room, as a JSON string */
} ws_client_t;

static void ws_on_message(sb_ws_t *ws, const char *p, size_t n, bool binary);
static void ws_on_close(sb_ws_t *ws, uint16_t code);
static void ws_on_pong(sb_ws_t *ws);
static void detached_on_message(sb_ws_t *ws, const char *p, size_t n, bool binary) {}
static void detached_on_close(sb_ws_t *ws, uint16_t code) {}

static const sb_ws_handler_t client_ws = {ws_on_message, ws_on_close, ws_on_pong};
static const sb_ws_handler_t detached_ws = {detached_on_message, detached_on_close, NULL};

/* Socket.IO event names and the seed's /ws names for the same thing. */
static const struct {
    const char *sio, *door;
} names[] = {
    {"chat:message", "new_message"},          {"chat:typing", "typing_status"},
    {"chat:user_joined", "user_joined_room"}, {"chat:user_left", "user_left_room"},
    {"connection:established", "connected"},
};

/* ---- building messages -------------------------------------------------------- */

/* One frame holding the slices in order. NULL when out of memory. */
static sb_frame_t *frame_join(const sb_str_t *parts, size_t n) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += parts[i].n;
    sb_frame_t *f = sb_frame_create(NULL, len, 0);
    if (!f)
        return NULL;
    char *o = f->data;
    for (size_t i = 0; i < n; i++, o += parts[i - 1].n)
        if (parts[i].n)
            memcpy(o, parts[i].p, parts[i].n);
    return f;
}

static int send_frame(ws_client_t *c, sb_frame_t *f) {
    if (!f)
        return SB_ENOMEM;
    if (!c->ws)
        return SB_ECLOSED;
    int rc = sb_ws_send_frame(c->ws, f);
    if (rc == SB_OK)
        c->door->stats.messages_out++;
    else if (rc == SB_ETOOBIG)
        c->door->stats.cut++; /* a slow consumer: the connection is being closed */
    return rc;
}

static int send_parts(ws_client_t *c, const sb_str_t *parts, size_t n) {
    sb_frame_t *f = frame_join(parts, n);
    int rc = send_frame(c, f);
    if (f)
        sb_frame_unref(f);
    return rc;
}

/* {"type":"error","data":{"code","message"}}; `event` (the client's type)
 * is added when known. */
static void send_error(ws_client_t *c, const char *code, const char *message, sb_str_t event) {
    char msg[256], ev[SB_DOOR_TYPE_MAX * 6 + 3];
    size_t mn = sb_json_string_escape(sb_cstr(message), msg, sizeof msg);
    size_t en = event.n ? sb_json_string_escape(event, ev, sizeof ev) : 0;
    if (mn > sizeof msg || en > sizeof ev)
        return;
    sb_str_t parts[] = {SB_LIT("{\"type\":\"error\",\"data\":{\"code\":\""),
                        sb_cstr(code),
                        SB_LIT("\",\"message\":"),
                        sb_str(msg, mn),
                        en ? SB_LIT(",\"event\":") : SB_STR_NULL,
                        sb_str(ev, en),
                        SB_LIT("}}")};
    send_parts(c, parts, sizeof parts / sizeof parts[0]);
}

/* ---- what the socket is sent ----------------------------------------------------- */

static sb_str_t door_name(sb_str_t event_token) {
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (sb_json_string_eq(event_token, sb_cstr(names[i].sio)))
            return sb_cstr(names[i].door);
    return SB_STR_NULL;
}

/* Argument i of a validated array, or "null". */
static sb_str_t array_item(sb_str_t array, size_t i) {
    sb_str_t items[3];
    int n = sb_json_array_items(array, items, i + 1 < 3 ? i + 1 : 3);
    if ((n >= 0 && (size_t)n > i) || (n == SB_ETOOBIG && i < 3))
        return items[i];
    return SB_LIT("null");
}

/* Slices written in order; at most SEED_MAX (translate_event needs fewer). */
#define SEED_MAX 32
typedef struct {
    sb_str_t v[SEED_MAX];
    size_t n;
} slices_t;

static void add(slices_t *s, sb_str_t x) {
    if (s->n < SEED_MAX)
        s->v[s->n++] = x;
}

/* `"user":{"id":<userId>,"username":<name>}` from the payload's userId and
 * name (seed 004's shape of who did it). */
static void add_user(slices_t *s, sb_str_t data) {
    sb_str_t id, name;
    if (sb_json_object_get(data, SB_LIT("userId"), &id) != SB_OK)
        return;
    bool named = sb_json_object_get(data, SB_LIT("name"), &name) == SB_OK;
    add(s, SB_LIT("\"user\":{\"id\":"));
    add(s, id);
    add(s, named ? SB_LIT(",\"username\":") : SB_STR_NULL);
    add(s, named ? name : SB_STR_NULL);
    add(s, SB_LIT("},"));
}

/* Fields seed 004's clients read, put first in a mapped event's data (ours
 * stay): who (`user`), `timestamp` (ms), new_message's `content`; `connected`
 * gets the socket id (clientId), which /api/emit can address. `*sender_at`:
 * where sender's `"username":` goes (inside new_message's sender), or NULL. */
static void seed_fields(const ws_client_t *c, sb_str_t name, sb_str_t data, sb_str_t ts,
                        slices_t *front, const char **sender_at, sb_str_t *username) {
    sb_str_t v;
    if (sb_str_eq(name, SB_LIT("connected"))) {
        add(front, SB_LIT("\"clientId\":\""));
        add(front, sb_cstr(c->sid));
        add(front, SB_LIT("\","));
    } else if (sb_str_eq(name, SB_LIT("new_message"))) {
        if (sb_json_object_get(data, SB_LIT("message"), &v) == SB_OK) {
            add(front, SB_LIT("\"content\":"));
            add(front, v);
            add(front, SB_LIT(","));
        }
        if (sb_json_object_get(data, SB_LIT("sender"), &v) == SB_OK &&
            sb_json_type(v) == SB_JSON_OBJECT &&
            sb_json_object_get(v, SB_LIT("name"), username) == SB_OK)
            *sender_at = v.p + 1;
    } else {
        add_user(front, data); /* user_joined_room, user_left_room, typing_status */
    }
    if (!sb_str_eq(name, SB_LIT("connected"))) {
        add(front, SB_LIT("\"timestamp\":"));
        add(front, ts);
        add(front, SB_LIT(","));
    }
}

/* True for `{}` (whitespace allowed): no member to put a ',' before. */
static bool empty_object(sb_str_t obj) {
    size_t k = 1;
    while (k < obj.n && strchr(" \t\r\n", obj.p[k]))
        k++;
    return k < obj.n && obj.p[k] == '}';
}

/* {"type":<name>,"data":<first argument>}, a mapped name's data with seed
 * 004's fields first (seed_fields). An event the server wants confirmed
 * (message:received, notification:new) carries "ackId": the client
 * answers {"type":"ack","id":<ackId>}. */
static sb_frame_t *translate_event(ws_client_t *c, const sb_sio_packet_t *p) {
    sb_str_t name = door_name(p->event), data = array_item(p->data, 1);
    bool mapped = name.n > 0;
    char ts[24], ack[40];
    sb_str_t tss = sb_str(ts, (size_t)snprintf(ts, sizeof ts, "%" PRId64, sb_wall_ms()));
    int ackn = p->has_ack ? snprintf(ack, sizeof ack, ",\"ackId\":%" PRIu64, p->ack_id) : 0;
    slices_t out = {.n = 0};
    add(&out, SB_LIT("{\"type\":"));
    add(&out, mapped ? SB_LIT("\"") : SB_STR_NULL);
    add(&out, mapped ? name : p->event);
    add(&out, mapped ? SB_LIT("\"") : SB_STR_NULL);
    add(&out, SB_LIT(",\"data\":"));
    const char *sender_at = NULL;
    sb_str_t username = SB_STR_NULL;
    size_t before = out.n;
    if (mapped && sb_json_type(data) == SB_JSON_OBJECT) {
        add(&out, SB_LIT("{"));
        seed_fields(c, name, data, tss, &out, &sender_at, &username);
    }
    if (out.n > before + 1) { /* fields were added: then the object's own members */
        sb_str_t body = sb_str(data.p + 1, data.n - 1);
        if (empty_object(data)) /* no ',' before the '}' */
            out.v[out.n - 1].n--;
        if (sender_at) {
            add(&out, sb_str(body.p, (size_t)(sender_at - body.p)));
            add(&out, SB_LIT("\"username\":"));
            add(&out, username);
            add(&out, SB_LIT(","));
            body = sb_str(sender_at, (size_t)(body.p + body.n - sender_at));
        }
        add(&out, body);
    } else {
        out.n = before;
        add(&out, data);
    }
    add(&out, sb_str(ack, (size_t)ackn));
    add(&out, SB_LIT("}"));
    return frame_join(out.v, out.n);
}

/* Broadcasts share one translation: the frame is the same for every
 * recipient, so the last one translated is kept with a reference. */
static int on_event(ws_client_t *c, sb_frame_t *f, const sb_sio_packet_t *p) {
    sb_door_ws_t *d = c->door;
    if (d->cache_src == f)
        return send_frame(c, d->cache_out);
    sb_frame_t *out = translate_event(c, p);
    if (!out)
        return SB_ENOMEM;
    int rc = send_frame(c, out);
    if (!p->has_ack && !sb_json_string_eq(p->event, SB_LIT("connection:established"))) {
        if (d->cache_src) {
            sb_frame_unref(d->cache_src);
            sb_frame_unref(d->cache_out);
        }
        d->cache_src = sb_frame_ref(f);
        d->cache_out = sb_frame_ref(out);
    }
    sb_frame_unref(out);
    return rc;
}

/* The answer to a client message: an error, room_joined / room_left, or
 * {"type":"ack","id","data"}. */
static void feed_event(ws_client_t *c, sb_str_t event_token, sb_str_t data, bool ack,
                       uint64_t ack_id);

/* single_room: a join succeeded (answer {ok, roomId}); the room joined
 * before is left (its members are told, the client gets room_left). A
 * leave of the current room forgets it. */
static void track_room(ws_client_t *c, uint64_t kind, sb_str_t answer) {
    sb_str_t room;
    if (!c->door->cfg.single_room || sb_json_type(answer) != SB_JSON_OBJECT ||
        sb_json_object_get(answer, SB_LIT("roomId"), &room) != SB_OK ||
        sb_json_type(room) != SB_JSON_STRING)
        return;
    bool current = c->room && sb_str_eq(room, sb_cstr(c->room));
    if (kind == ACK_LEAVE && current) {
        free(c->room);
        c->room = NULL;
    } else if (kind == ACK_JOIN && !current) {
        char *before = c->room;
        c->room = strndup(room.p, room.n);
        if (before)
            feed_event(c, SB_LIT("\"chat:leave\""), sb_cstr(before), true, ACK_LEAVE);
        free(before);
    }
}

static int on_ack(ws_client_t *c, const sb_sio_packet_t *p) {
    uint64_t kind = p->ack_id & 3, id = p->ack_id >> 3;
    bool has_id = p->ack_id & ACK_HAS_ID;
    sb_str_t arg = array_item(p->data, 0), err = SB_STR_NULL, code, message;
    char idtxt[24];
    int idn = has_id ? snprintf(idtxt, sizeof idtxt, "%" PRIu64, id) : 0;
    static const char *const types[] = {"ack", "room_joined", "room_left"};
    static const char *const events[] = {"", "join_room", "leave_room"};
    if (kind > 2)
        return SB_OK;
    if (kind != ACK_PLAIN && sb_json_type(arg) == SB_JSON_OBJECT &&
        sb_json_object_get(arg, SB_LIT("error"), &err) == SB_OK &&
        sb_json_object_get(err, SB_LIT("code"), &code) == SB_OK &&
        sb_json_object_get(err, SB_LIT("message"), &message) == SB_OK) {
        sb_str_t parts[] = {SB_LIT("{\"type\":\"error\",\"data\":{\"code\":"),
                            code,
                            SB_LIT(",\"message\":"),
                            message,
                            SB_LIT(",\"event\":\""),
                            sb_cstr(events[kind]),
                            SB_LIT("\"}"),
                            has_id ? SB_LIT(",\"id\":") : SB_STR_NULL,
                            sb_str(idtxt, (size_t)idn),
                            SB_LIT("}")};
        return send_parts(c, parts, sizeof parts / sizeof parts[0]);
    }
    sb_str_t parts[] = {SB_LIT("{\"type\":\""),
                        sb_cstr(types[kind]),
                        SB_LIT("\""),
                        has_id ? SB_LIT(",\"id\":") : SB_STR_NULL,
                        sb_str(idtxt, (size_t)idn),
                        SB_LIT(",\"data\":"),
                        arg,
                        SB_LIT("}")};
    int rc = send_parts(c, parts, sizeof parts / sizeof parts[0]);
    if (kind != ACK_PLAIN)
        track_room(c, kind, arg);
    return rc;
}

static void end_client(ws_client_t *c, uint16_t code, const char *reason) {
    if (c->ws)
        sb_ws_close(c->ws, code, reason);
    if (c->eio)
        sb_eio_carried_end(c->eio);
}

static void on_connect_error(ws_client_t *c, const sb_sio_packet_t *p) {
    sb_str_t message = SB_STR_NULL, data, code = SB_LIT("\"unauthorized\"");
    if (sb_json_type(p->data) == SB_JSON_OBJECT) {
        sb_json_object_get(p->data, SB_LIT("message"), &message);
        if (sb_json_object_get(p->data, SB_LIT("data"), &data) == SB_OK &&
            sb_json_object_get(data, SB_LIT("code"), &data) == SB_OK &&
            sb_json_type(data) == SB_JSON_STRING)
            code = data;
    }
    if (sb_json_type(message) != SB_JSON_STRING || !message.n)
        message = SB_LIT("\"Not authorized\"");
    sb_str_t parts[] = {SB_LIT("{\"type\":\"error\",\"data\":{\"code\":"), code,
                        SB_LIT(",\"message\":"), message, SB_LIT("}}")};
    send_parts(c, parts, sizeof parts / sizeof parts[0]);
    end_client(c, SB_WS_CLOSE_POLICY, "Authentication failed");
}

static void on_connect(ws_client_t *c, const sb_sio_packet_t *p) {
    sb_str_t sid;
    size_t n = 0;
    if (sb_json_object_get(p->data, SB_LIT("sid"), &sid) == SB_OK &&
        sb_json_type(sid) == SB_JSON_STRING &&
        sb_json_string_unescape(sid, c->sid, SB_SIO_ID_LEN, &n) == SB_OK)
        c->sid[n] = '\0';
    c->connected = true;
    if (c->join_first) {
        feed_event(c, SB_LIT("\"chat:join\""), sb_cstr(c->join_first), true, ACK_JOIN);
        free(c->join_first);
        c->join_first = NULL;
    }
}

static int on_sio_packet(ws_client_t *c, sb_frame_t *f) {
    sb_sio_limits_t lim = {.max_attachments = SB_SIO_ATTACHMENTS_MAX,
                           .max_depth = SB_JSON_DEPTH_MAX,
                           .max_nsp_len = 256};
    sb_sio_packet_t p;
    if (c->door->cache_src == f)
        return send_frame(c, c->door->cache_out);
    if (sb_sio_packet_parse(f->data + 1, f->len - 1, &lim, &p) != SB_OK)
        return SB_OK; /* our own encoder's output: cannot happen */
    switch (p.type) {
    case SB_SIO_CONNECT:
        on_connect(c, &p);
        return SB_OK;
    case SB_SIO_CONNECT_ERROR:
        on_connect_error(c, &p);
        return SB_OK;
    case SB_SIO_DISCONNECT:
        end_client(c, SB_WS_CLOSE_POLICY, "disconnected by the server");
        return SB_OK;
    case SB_SIO_EVENT:
        return on_event(c, f, &p);
    case SB_SIO_ACK:
        return on_ack(c, &p);
    default: /* binary packets: a JSON client cannot take them */
        c->door->stats.not_carried++;
        return SB_OK;
    }
}

/* ---- the carrier ------------------------------------------------------------------ */

static int carrier_send(void *ctx, sb_frame_t *f) {
    ws_client_t *c = ctx;
    if (!c->ws)
        return SB_ECLOSED;
    if ((f->flags & SB_FRAME_BINARY) || f->len == 0)
        return SB_OK; /* attachments of a binary packet, already dropped */
    if (f->data[0] == '2')
        return sb_ws_ping(c->ws);
    if (f->data[0] == '4' && f->len > 1)
        return on_sio_packet(c, f);
    return SB_OK; /* close ("1"): `closed` follows */
}

/* The WebSocket close that tells the client why its session ended. */
static void close_for(sb_ws_t *ws, const char *reason) {
    if (strcmp(reason, "server shutting down") == 0)
        sb_ws_close(ws, SB_WS_CLOSE_GOING_AWAY, "server shutting down");
    else if (strcmp(reason, "connect timeout") == 0)
        sb_ws_close(ws, SB_WS_CLOSE_POLICY, "authentication timeout");
    else
        sb_ws_close(ws, SB_WS_CLOSE_NORMAL, reason);
}

static void carrier_closed(void *ctx, const char *reason) {
    ws_client_t *c = ctx;
    if (c->ws) {
        c->door->stats.open--;
        sb_ws_set_handler(c->ws, &detached_ws, NULL);
        close_for(c->ws, reason);
        sb_conn_close_after_flush(sb_ws_conn(c->ws));
    }
    free(c->join_first);
    free(c->room);
    sb_pool_free(&c->door->clients, c);
}

static const sb_eio_carrier_t carrier = {carrier_send, carrier_closed};

/* ---- what the client says ---------------------------------------------------------- */

/* Feeds the session one Engine.IO packet made of the slices. */
static void feed_parts(ws_client_t *c, const sb_str_t *parts, size_t n) {
    sb_frame_t *f = frame_join(parts, n);
    if (!f) {
        send_error(c, "server_error", "out of memory", SB_STR_NULL);
        return;
    }
    sb_eio_carried_feed(c->eio, f->data, f->len);
    sb_frame_unref(f);
}

/* Feeds `42<ack>["<event>",<data>]` (no data: `42["<event>"]`). */
static void feed_event(ws_client_t *c, sb_str_t event_token, sb_str_t data, bool ack,
                       uint64_t ack_id) {
    char head[32];
    int hn = ack ? snprintf(head, sizeof head, "42%" PRIu64 "[", ack_id)
                 : snprintf(head, sizeof head, "42[");
    sb_str_t parts[] = {sb_str(head, (size_t)hn), event_token, data.n ? SB_LIT(",") : SB_STR_NULL,
                        data, SB_LIT("]")};
    feed_parts(c, parts, sizeof parts / sizeof parts[0]);
}

/* send_message {roomId, content, type?, clientMessageId?} is chat:message
 * {roomId, message, clientMessageId?}; other shapes go as they are. */
static void feed_send_message(ws_client_t *c, sb_str_t data, bool ack, uint64_t ack_id) {
    sb_str_t room, content, key;
    if (sb_json_type(data) != SB_JSON_OBJECT ||
        sb_json_object_get(data, SB_LIT("content"), &content) != SB_OK ||
        sb_json_object_get(data, SB_LIT("roomId"), &room) != SB_OK) {
        feed_event(c, SB_LIT("\"chat:message\""), data, ack, ack_id);
        return;
    }
    bool has_key = sb_json_object_get(data, SB_LIT("clientMessageId"), &key) == SB_OK;
    sb_str_t parts[] = {SB_LIT("{\"roomId\":"),
                        room,
                        SB_LIT(",\"message\":"),
                        content,
                        has_key ? SB_LIT(",\"clientMessageId\":") : SB_STR_NULL,
                        has_key ? key : SB_STR_NULL,
                        SB_LIT("}")};
    sb_frame_t *f = frame_join(parts, sizeof parts / sizeof parts[0]);
    if (!f) {
        send_error(c, "server_error", "out of memory", SB_STR_NULL);
        return;
    }
    feed_event(c, SB_LIT("\"chat:message\""), sb_str(f->data, f->len), ack, ack_id);
    sb_frame_unref(f);
}

static void on_auth(ws_client_t *c, sb_str_t data) {
    if (c->connect_sent) {
        send_error(c, "already_authenticated", "this connection is already authenticated",
                   SB_LIT("auth"));
        return;
    }
    if (sb_json_type(data) != SB_JSON_OBJECT) {
        send_error(c, "invalid_payload", "auth needs data {token}", SB_LIT("auth"));
        return;
    }
    c->connect_sent = true;
    sb_str_t parts[] = {SB_LIT("40"), data};
    feed_parts(c, parts, 2);
}

static void send_pong(ws_client_t *c, bool has_id, uint64_t id) {
    char txt[96];
    int n =
        has_id ? snprintf(txt, sizeof txt,
                          "{\"type\":\"pong\",\"id\":%" PRIu64 ",\"data\":{\"timestamp\":%" PRId64
                          "}}",
                          id, sb_wall_ms())
               : snprintf(txt, sizeof txt,
                          "{\"type\":\"pong\",\"data\":{\"timestamp\":%" PRId64 "}}", sb_wall_ms());
    sb_str_t part = sb_str(txt, (size_t)n);
    send_parts(c, &part, 1);
}

static bool reserved_name(sb_str_t type) {
    static const char *const reserved[] = {"connect",       "connect_error", "disconnect",
                                           "disconnecting", "newListener",   "removeListener"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (sb_str_eq(type, sb_cstr(reserved[i])))
            return true;
    return false;
}

typedef struct {
    sb_str_t type_token, data;
    char type[SB_DOOR_TYPE_MAX + 1];
    size_t type_n;
    bool has_id;
    uint64_t id;
} client_msg_t;

/* Checks {"type": string, "data"?: any, "id"?: integer}; answers an error
 * and returns false when the message is not one. */
static bool parse_message(ws_client_t *c, const char *p, size_t n, client_msg_t *m) {
    sb_str_t obj = sb_str(p, n), idv;
    if (sb_json_validate(p, n, c->door->cfg.max_json_depth) != SB_OK ||
        sb_json_type(obj) != SB_JSON_OBJECT) {
        send_error(c, "invalid_json", "a message is a JSON object {type, data}", SB_STR_NULL);
        return false;
    }
    if (sb_json_object_get(obj, SB_LIT("type"), &m->type_token) != SB_OK ||
        sb_json_type(m->type_token) != SB_JSON_STRING ||
        sb_json_string_unescape(m->type_token, m->type, SB_DOOR_TYPE_MAX, &m->type_n) != SB_OK ||
        m->type_n == 0 || memchr(m->type, '\0', m->type_n)) {
        send_error(c, "invalid_message", "type must be a non-empty string of at most 128 bytes",
                   SB_STR_NULL);
        return false;
    }
    m->type[m->type_n] = '\0';
    if (sb_json_object_get(obj, SB_LIT("data"), &m->data) != SB_OK)
        m->data = SB_STR_NULL;
    m->has_id = sb_json_object_get(obj, SB_LIT("id"), &idv) == SB_OK;
    if (m->has_id) {
        char digits[20] = {0};
        bool ok = idv.n > 0 && idv.n < sizeof digits && strspn(idv.p, "0123456789") >= idv.n;
        memcpy(digits, idv.p, ok ? idv.n : 0);
        m->id = ok ? strtoull(digits, NULL, 10) : 0;
        if (!ok || m->id > SB_DOOR_ID_MAX) {
            send_error(c, "invalid_message", "id must be an integer from 0 to 2^50-1",
                       sb_str(m->type, m->type_n));
            return false;
        }
    }
    return true;
}

/* {"type":"ack","id":<ackId>,"data"?}: the answer to an event the server
 * asked to be confirmed, as a Socket.IO ACK packet `43<id>[<data>]`. */
static void feed_ack(ws_client_t *c, const client_msg_t *m) {
    if (!m->has_id) {
        send_error(c, "invalid_message", "ack needs the id of the event's ackId", SB_LIT("ack"));
        return;
    }
    char head[32];
    int hn = snprintf(head, sizeof head, "43%" PRIu64 "[", m->id);
    sb_str_t parts[] = {sb_str(head, (size_t)hn), m->data, SB_LIT("]")};
    feed_parts(c, parts, sizeof parts / sizeof parts[0]);
}

static void dispatch(ws_client_t *c, const client_msg_t *m) {
    sb_str_t type = sb_str(m->type, m->type_n);
    uint64_t with_id = m->has_id ? (m->id << 3) | ACK_HAS_ID : 0;
    if (sb_str_eq(type, SB_LIT("ping")))
        send_pong(c, m->has_id, m->id);
    else if (sb_str_eq(type, SB_LIT("auth")))
        on_auth(c, m->data);
    else if (!c->connected)
        send_error(c, "not_authenticated",
                   "send {\"type\":\"auth\",\"data\":{\"token\":...}} first", type);
    else if (sb_str_eq(type, SB_LIT("ack")))
        feed_ack(c, m);
    else if (sb_str_eq(type, SB_LIT("join_room")))
        feed_event(c, SB_LIT("\"chat:join\""), m->data, true, with_id | ACK_JOIN);
    else if (sb_str_eq(type, SB_LIT("leave_room")))
        feed_event(c, SB_LIT("\"chat:leave\""), m->data, true, with_id | ACK_LEAVE);
    else if (sb_str_eq(type, SB_LIT("send_message")))
        feed_send_message(c, m->data, m->has_id, with_id);
    else if (sb_str_eq(type, SB_LIT("typing")))
        feed_event(c, SB_LIT("\"chat:typing\""), m->data, m->has_id, with_id);
    else if (reserved_name(type))
        send_error(c, "invalid_message", "reserved type", type);
    else
        feed_event(c, m->type_token, m->data, m->has_id, with_id);
}

static void ws_on_message(sb_ws_t *ws, const char *p, size_t n, bool binary) {
    ws_client_t *c = sb_ws_get_data(ws);
    client_msg_t m;
    if (!c->eio)
        return;
    c->door->stats.messages_in++;
    if (binary) {
        c->door->stats.errors++;
        send_error(c, "invalid_message", "binary messages are not accepted: send JSON text",
                   SB_STR_NULL);
        return;
    }
    if (!parse_message(c, p, n, &m)) {
        c->door->stats.errors++;
        return;
    }
    dispatch(c, &m);
}

static void ws_on_pong(sb_ws_t *ws) {
    ws_client_t *c = sb_ws_get_data(ws);
    if (c->eio)
        sb_eio_carried_feed(c->eio, "3", 1);
}

static void ws_on_close(sb_ws_t *ws, uint16_t code) {
    ws_client_t *c = sb_ws_get_data(ws);
    c->ws = NULL;
    c->door->stats.open--;
    if (c->eio)
        sb_eio_carried_end(c->eio); /* `closed` frees c */
}

/* ---- the door ------------------------------------------------------------------------ */

sb_door_ws_t *sb_door_ws_create(sb_eio_server_t *carried, const sb_door_ws_config_t *cfg) {
    sb_door_ws_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->eio = carried;
    d->cfg = *cfg;
    sb_pool_init(&d->clients, sizeof(ws_client_t));
    sb_eio_server_set_carrier(carried, &carrier);
    return d;
}

void sb_door_ws_destroy(sb_door_ws_t *d) {
    if (!d)
        return;
    if (d->cache_src) {
        sb_frame_unref(d->cache_src);
        sb_frame_unref(d->cache_out);
    }
    sb_pool_dispose(&d->clients);
    free(d);
}

const sb_door_ws_stats_t *sb_door_ws_stats(const sb_door_ws_t *d) { return &d->stats; }

/* A token in the upgrade request itself: connect at once (the middleware
 * reads it, and refuses a ?token= the settings do not allow, with a hint);
 * otherwise the client has until the connect timeout to send auth. */
static bool token_in_request(const sb_http_req_t *req) {
    char token[8200];
    return sb_http_req_header(req, "authorization") ||
           (sb_http_req_query(req, "token", token, sizeof token) && token[0]);
}

/* ?room= as a JSON string (seed 004's default room), or NULL. Its checks
 * are chat:join's: a bad name gets the usual error once authenticated. */
static char *room_in_request(const sb_http_req_t *req) {
    char room[SB_DOOR_ROOM_MAX + 1], token[SB_DOOR_ROOM_MAX * 6 + 3];
    if (!sb_http_req_query(req, "room", room, sizeof room) || !room[0])
        return NULL;
    size_t n = sb_json_string_escape(sb_cstr(room), token, sizeof token);
    return n <= sizeof token ? strndup(token, n) : NULL;
}

void sb_door_ws_handle(sb_http_req_t *req, void *ud) {
    sb_door_ws_t *d = ud;
    if (!sb_ws_is_upgrade(req)) {
        sb_http_respond(
            req, 426, "application/json",
            "{\"error\":{\"code\":\"upgrade_required\",\"message\":\"this endpoint speaks "
            "WebSocket: messages {type, data}\"}}",
            sizeof "{\"error\":{\"code\":\"upgrade_required\",\"message\":\"this endpoint speaks "
                   "WebSocket: messages {type, data}\"}}" -
                1,
            "Upgrade: websocket\r\n");
        return;
    }
    ws_client_t *c = sb_pool_alloc(&d->clients);
    if (c)
        *c = (ws_client_t){.door = d};
    if (!c || !(c->eio = sb_eio_carried_open(d->eio, req, c))) {
        if (c)
            sb_pool_free(&d->clients, c);
        sb_http_respond_error(req, 503, "unavailable", "cannot create session");
        return;
    }
    bool connect_now = token_in_request(req);
    c->join_first = room_in_request(req);
    c->ws = sb_ws_accept(req, d->cfg.ws, &client_ws, c);
    if (!c->ws) {
        sb_eio_carried_end(c->eio);
        return;
    }
    d->stats.connections++;
    d->stats.open++;
    if (connect_now) {
        c->connect_sent = true;
        sb_eio_carried_feed(c->eio, "40", 2);
    }
}
