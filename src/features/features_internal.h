/* Private to src/features/. */
#ifndef SB_FEATURES_INTERNAL_H
#define SB_FEATURES_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <string.h>

#include "core/log.h"
#include "core/map.h"
#include "core/ptable.h"
#include "core/strset.h"
#include "auth/jwt.h"
#include "core/pool.h"
#include "core/slab.h"
#include "features/features.h"
#include "hub/engine.h"

#define SB_USER_ID_MAX 128

#define SB_STATUS_MAX 64 /* bytes of a status:update text */

/* Scope "all": an interval with at most this many presence changes sends
 * them as single user:online / user:offline events, more as one batch. */
#define SB_PRESENCE_SINGLE_MAX 4
#define SB_PRESENCE_BATCH_MAX 1000 /* changes listed in one presence:batch */
/* A large room's chat:room_update lists at most this many joined and left ids. */
#define SB_ROOM_UPDATE_IDS_MAX 20

_Static_assert(SB_USER_ID_MAX <= UINT8_MAX, "sb_user_t.id_len holds an id's length");

/* A user with at least one connected device: one allocation holding the
 * struct, then the id, its name when it has one of its own and its avatar
 * ("" when none), each NUL-terminated (sized to fit: a server holds one per
 * online user; sb_feat_user_name and sb_feat_user_avatar find them). */
typedef struct {
    /* devices.c: the devices in the user's room, a ring through their
     * sb_client_t in the order they joined (this one first); NULL: none. */
    struct sb_client *room_devices;
    uint32_t devices : 24; /* at most a process's connections */
    uint32_t id_len : 8;   /* strlen(id): looked up several times a delivery */
    bool own_name;         /* a name follows the id (else the id stands in) */
    /* "user:" right before the id: together they are the name of the
     * user's room (sb_feat_user_room), which listings of rooms hand on. */
    char room_prefix[5];
    char id[];
} sb_user_t;

/* The strings after the id: 16 bytes of pointers a user less. */
static inline const char *sb_feat_user_name(const sb_user_t *u) {
    return u->own_name ? u->id + strlen(u->id) + 1 : u->id;
}
static inline const char *sb_feat_user_avatar(const sb_user_t *u) {
    const char *name = sb_feat_user_name(u);
    return name + strlen(name) + 1;
}

/* Streams of stored events delivered to users (delivery.c). */
typedef enum { SB_STREAM_MESSAGES, SB_STREAM_NOTIFICATIONS, SB_STREAMS } sb_stream_t;
/* A recovery offset: one part per stream, then the room messages' part. */
enum { SB_OFFSET_ROOMS = SB_STREAMS, SB_OFFSET_PARTS };

/* Per-socket state, the socket's data pointer. */
typedef struct sb_client {
    sb_features_t *f;
    sb_sio_socket_t *sock;
    sb_user_t *user;
    /* devices.c: neighbours on the ring of user->room_devices; NULL while
     * the socket is not in the user's room. Doubly linked: one user may
     * have thousands of devices, and each leaves in O(1). */
    struct sb_client *room_next, *room_prev;
    uint64_t expires_ms;      /* session.c: when the token expires, on the loop's clock; 0: never */
    int64_t sent[SB_STREAMS]; /* delivery.c: the newest id of each stream this device was sent */
    /* recovery.c: the newest stored room message (chat:message, message:new)
     * written to this device, the third part of its offset; while its
     * recovered rooms are replayed it stays at the recovered offset, and
     * the room messages it gets live meanwhile are kept apart. */
    int64_t room_sent, room_live_min, room_live_max;
    json_t *hook_data; /* backend.c: the connect hook's `data` for this socket; NULL: none */
    /* The low 32 bits of the monotonic clock at connect, for the closing
     * log line's duration (exact up to 49 days): 4 bytes, and the fields
     * below share one 32-bit word, so that the ring above costs 8 bytes
     * a socket, not 16 (issue 17). */
    uint32_t connected_ms;
    uint32_t expiry_slot : 26;     /* session.c: 1 + its place in f->expiring; 0: not there */
    uint32_t syncing : SB_STREAMS; /* delivery.c: bit per stream whose backlog it is reading */
    uint32_t reread : SB_STREAMS;  /* delivery.c: bit per stream: a live event waited, read again */
    uint32_t room_replaying : 1;   /* recovery.c, above */
    uint32_t rooms_dirty : 1;      /* recovery.c: in f->rooms_dirty, its rooms to be saved */
} sb_client_t;
/* expiry_slot's 26 bits: far more than the sockets of a process (its open files). */
#define SB_CLIENTS_MAX ((1u << 26) - 2)

/* One row of an event table (STYLE H12). */
typedef struct {
    const char *name;
    void (*fn)(sb_client_t *c, sb_sio_event_t *ev);
} sb_feature_event_t;

/* The error codes of the event contract, counted for /metrics. */
#define SB_FEAT_ERROR_CODES                                                                        \
    "invalid_payload", "forbidden_room", "forbidden", "not_found", "already_exists",               \
        "server_busy", "storage_error", "not_in_room", "peer_not_found", "payload_too_large",      \
        "too_many_rooms", "unknown_event", "rate_limited", "token_expired", "hook_unavailable",    \
        "hook_busy", "hook_refused"
#define SB_FEAT_NERROR_CODES 17
#define SB_FEAT_LIMITED_MAX 24
#define SB_FEAT_TABLES_MAX 24

struct sb_features {
    sb_log_limiter_t refusal_log; /* "authentication refused" lines */
    sb_loop_t *loop;
    sb_sio_nsp_t *nsp;
    sb_features_config_t cfg;
    sb_ptable_t users;         /* users.c: online users only, by id */
    sb_map_t statuses;         /* users.c: user id -> status:update text (few users set one) */
    uint64_t messages_total;   /* chat and direct messages stored */
    sb_map_t typing;           /* messages.c: "sender|conversation|receiver" -> expiry */
    struct sb_feat_live *live; /* live*.c: documents, dashboards, WebRTC peers */
    sb_list_t graces;          /* delivery.c: recovered devices waiting to replay */
    sb_pool_t clients;         /* sb_client_t, one per socket */
    /* session.c: the sockets whose token expires, a binary heap by
     * expires_ms, and one timer for its earliest (one timer per socket
     * would cost 40 bytes each). */
    struct sb_client_heap {
        struct sb_client **at;
        size_t n, cap;
    } expiring;
    sb_timer_t expiry_timer;
    /* recovery.c: sockets whose rooms changed this loop turn, saved by one
     * task (not a task per socket: 24 bytes each). */
    struct sb_client_list {
        struct sb_client **at;
        size_t n, cap;
    } rooms_dirty;
    sb_task_t rooms_task;
    sb_slab_t user_records;                    /* sb_user_t, one per online user */
    size_t user_rooms;                         /* devices.c: users with a device in their room */
    uint64_t errors[SB_FEAT_NERROR_CODES + 1]; /* answers by code; the last: any other */
    /* Rate-limited events by name: the contract's events (the registered
     * tables), the first SB_FEAT_LIMITED_MAX of them to be limited; every
     * other name in limited_other (clients pick names: unbounded). */
    struct {
        const char *event;
        uint64_t n;
    } limited[SB_FEAT_LIMITED_MAX];
    size_t nlimited;
    uint64_t limited_other;
    struct {
        const sb_feature_event_t *rows;
        size_t n;
    } tables[SB_FEAT_TABLES_MAX]; /* sb_feat_register's */
    size_t ntables;
    sb_log_limiter_t log_limit; /* failure lines: a few per kind, not one per request */
    sb_map_t presence_pending;  /* presence.c, scope all: user id -> presence_change_t */
    sb_timer_t presence_timer;  /* flushes presence_pending */
    sb_map_t room_pending;      /* chat.c: large room name -> its joins/leaves this interval */
    sb_timer_t room_timer;      /* flushes room_pending */
    sb_features_counters_t counters;
    bool draining;
    sb_engine_t *engine;        /* the cluster's, or NULL on a node alone */
    sb_strset_t cluster_online; /* presence_cluster.c: users online on any node */
    sb_strset_t cluster_before; /* the view before a rebuild, while it runs */
};

/* An event being served across an asynchronous store call: holds a
 * reference on the socket, and what is needed to answer it (its ack, its
 * name for error events, the user). `extra` bytes follow for the feature. */
typedef struct {
    sb_features_t *f;
    sb_sio_socket_t *sock; /* NULL for a call from the HTTP API (answer below) */
    sb_features_answer_fn answer;
    void *answer_ud;
    bool has_ack;
    uint64_t ack_id;
    sb_slab_t *slab; /* its loop's (sb_loop_t.slab), which outlives the features */
    size_t size;     /* sizeof it and its extra bytes */
    char event[64];
    char user_id[SB_USER_ID_MAX + 1];
    _Alignas(max_align_t) char extra[]; /* features keep pointers in it */
} sb_feat_call_t;

/* helpers.c: a call made for the HTTP API on behalf of `user_id`: no socket; its reply
 * or failure goes to answer(ud, ...) exactly once. NULL when out of memory. */
sb_feat_call_t *sb_feat_call_begin_http(sb_features_t *f, const char *user_id, const char *event,
                                        size_t extra, sb_features_answer_fn answer, void *ud);

/* json_text.c: the compact JSON text of v, exactly json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) (JSON_PRESERVE_ORDER changes nothing in jansson 2.14: members
 * keep their insertion order), its length in *n; the caller frees it. NULL
 * where json_dumps says NULL (text that is not UTF-8, a cycle) or out of memory. */
char *sb_feat_json_text(const json_t *v, size_t *n);
/* Its writers, for texts made without a jansson value (sb_feat_message_text);
 * size-then-write as core/put.h: out NULL only advances *k. A string token
 * with jansson's escapes; false (nothing sensible written) when s[0..n) is
 * not UTF-8, which jansson refuses to write. */
bool sb_feat_json_put_string(char *out, size_t *k, const char *s, size_t n);
void sb_feat_json_put_int(char *out, size_t *k, int64_t v);

/* helpers.c: replies */
/* Acks `result` (stolen) when the client asked for an ack. */
void sb_feat_reply(sb_sio_event_t *ev, json_t *result);
/* Counts an error answer under its code (sb_features_error_counts). */
void sb_feat_count_error(sb_features_t *f, const char *code);
/* Answers an error: in the ack if asked for, else as an `error` event. */
void sb_feat_fail(sb_sio_event_t *ev, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Serializes compactly and sends `event` with `payload` (stolen). */
int sb_feat_emit(sb_sio_socket_t *s, const char *event, json_t *payload);
long sb_feat_broadcast(sb_features_t *f, const sb_sio_target_t *t, const char *event,
                       json_t *payload);
void sb_feat_iso_time(int64_t ms, char out[32]);
/* Copies s up to its first NUL, at most cap - 1 (cap >= 1) bytes, and a
 * NUL into out: snprintf(out, cap, "%.*s", ...) without reading a format,
 * for the copies every message makes. Returns the bytes copied. */
size_t sb_feat_copy(char *out, size_t cap, sb_str_t s);
/* "user:<id><suffix>" (a user's room, or its tap with SB_FEATURES_TAP_SUFFIX)
 * into out, without snprintf: one or two per delivery. */
#define SB_FEAT_USER_ROOM_MAX (SB_USER_ID_MAX + 16)
sb_str_t sb_feat_user_room_name(char out[SB_FEAT_USER_ROOM_MAX], const char *user_id,
                                const char *suffix);
/* Emits to every device of a user, minus `except` (may be NULL). */
long sb_feat_emit_user(sb_features_t *f, const char *user_id, const char *event, json_t *payload,
                       const sb_sio_socket_t *except);
/* The same with the payload's text (sb_feat_json_text) already made. */
long sb_feat_emit_user_text(sb_features_t *f, const char *user_id, const char *event, sb_str_t text,
                            const sb_sio_socket_t *except);
/* False when an event to the room would reach nobody: no socket in it here,
 * no other node (sb_sio_broadcast_reaches): its payload need not be made. */
bool sb_feat_room_reaches(sb_features_t *f, const char *room);
/* Emits to a room (minus `except`, may be NULL). */
long sb_feat_emit_room(sb_features_t *f, const char *room, const char *event, json_t *payload,
                       const sb_sio_socket_t *except);

/* ---- asynchronous calls ---------------------------------------------------- */
/* Starts serving `ev` asynchronously; NULL (and the event failed) when out
 * of memory. Pair with sb_feat_call_end() in the completion. */
sb_feat_call_t *sb_feat_call_begin(sb_client_t *c, const sb_sio_event_t *ev, size_t extra);
/* False once the socket has gone: skip replies, but still end the call. */
bool sb_feat_call_live(const sb_feat_call_t *call);
void sb_feat_call_reply(sb_feat_call_t *call, json_t *result);
/* A socket's call: acks with a result's text already made (an HTTP call,
 * which takes a value, is answered with sb_feat_call_reply). */
void sb_feat_call_ack_text(sb_feat_call_t *call, sb_str_t text);
void sb_feat_call_fail(sb_feat_call_t *call, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fails the call with the error code matching a store result. */
void sb_feat_call_fail_store(sb_feat_call_t *call, int rc);
void sb_feat_call_end(sb_feat_call_t *call);
/* sb_feat_call_fail_store() then sb_feat_call_end(): the usual error exit. */
void sb_feat_call_abort(sb_feat_call_t *call, int rc);
/* Fails an event whose store request could not even be queued. */
void sb_feat_fail_store(sb_sio_event_t *ev, int rc);
/* fields.c: a payload member as the handlers check it: absent, a string
 * (its text p[0..n), which may hold a NUL and need not end with one), or
 * another JSON value (present, not is_string). */
typedef struct {
    bool present, is_string;
    const char *p;
    size_t n;
} sb_feat_field_t;
/* Decodes argument i as JSON (NULL if absent); caller owns the result. */
json_t *sb_feat_arg(const sb_sio_event_t *ev, size_t i);
/* The value v (NULL: absent), and member `name` of obj (absent when obj is
 * not an object). */
sb_feat_field_t sb_feat_field_value(json_t *v);
sb_feat_field_t sb_feat_field_of(json_t *obj, const char *name);
/* True for a string of min..max bytes without U+0000 (sb_features_text's rule). */
bool sb_feat_field_text(const sb_feat_field_t *f, size_t min, size_t max);
/* Argument i read for its members names[0..n) into fields[0..n), as
 * sb_feat_field_of on sb_feat_arg(ev, i) would; false (fields absent) when it
 * is not an object. An object of strings is read from the packet's text
 * without a tree (escaped text unescaped into scratch[0..cap)); any other
 * through jansson, whose value *hold keeps for the fields (json_decref it
 * when done with them; NULL when not needed). */
bool sb_feat_arg_fields(const sb_sio_event_t *ev, size_t i, const char *const *names, size_t n,
                        sb_feat_field_t *fields, char *scratch, size_t cap, json_t **hold);
/* sb_feat_client_message_id and sb_feat_text_field on a field: */
bool sb_feat_field_key(sb_sio_event_t *ev, const sb_feat_field_t *f, char *out);
bool sb_feat_field_content(sb_sio_event_t *ev, const sb_feat_field_t *f, const char *name,
                           size_t max);
/* The payload field `name` as a string of 1..max bytes without U+0000, or NULL. */
const char *sb_feat_str_field(json_t *obj, const char *name, size_t max);
/* The optional idempotency key `clientMessageId` of a payload into
 * out[SB_STORE_MAX_KEY + 1] ("" when absent). False (event failed with
 * invalid_payload) when present and not a valid key (sb_store_key_valid). */
bool sb_feat_client_message_id(sb_sio_event_t *ev, json_t *obj, char *out);
/* The payload field `name` as message text (content of chat:message,
 * message:send, post:comment): 1..max bytes without U+0000. Otherwise fails
 * the event (payload_too_large when only the length is wrong, else
 * invalid_payload) and returns NULL. */
const char *sb_feat_text_field(sb_sio_event_t *ev, json_t *obj, const char *name, size_t max);
/* A history page's {before?, limit?} of obj: before a message id (0 when
 * absent: from the newest), limit 1..SB_STORE_MAX_HISTORY (default
 * SB_FEAT_PAGE_DEFAULT). Otherwise fails the event (invalid_payload), false. */
#define SB_FEAT_PAGE_DEFAULT 50
bool sb_feat_page_args(sb_sio_event_t *ev, json_t *obj, int64_t *before, int *limit);
int sb_feat_register(sb_features_t *f, const sb_feature_event_t *rows, size_t n);
/* Answers unknown and rate-limited events of `nsp` with an error. */
void sb_feat_guard_events(sb_features_t *f, sb_sio_nsp_t *nsp);
/* Answers an event nobody serves with unknown_event. */
void sb_feat_unknown_event(sb_sio_event_t *ev);

/* users.c: the online users. add: `u` is not in yet (SB_OK or SB_ENOMEM). */
sb_user_t *sb_feat_user_find(const sb_features_t *f, sb_str_t id);
int sb_feat_user_add(sb_features_t *f, sb_user_t *u);
void sb_feat_user_remove(sb_features_t *f, sb_user_t *u);
void sb_feat_users_foreach(const sb_features_t *f, bool (*cb)(const sb_user_t *u, void *ud),
                           void *ud);
void sb_feat_users_dispose(sb_features_t *f);
/* The user's status:update text, NULL when none; set: SB_OK or SB_ENOMEM;
 * drop: when the user goes (it lasts while the user is online). */
const char *sb_feat_user_status(const sb_features_t *f, const sb_user_t *u);
int sb_feat_user_set_status(sb_features_t *f, const sb_user_t *u, const char *status);
void sb_feat_user_status_drop(sb_features_t *f, const sb_user_t *u);

/* devices.c: each user's room "user:<id>" is the ring of its devices on
 * its record, which the namespace's hub asks about (its keeper, hub.h). A
 * socket joins it with sb_sio_join like any room, and leaves it with
 * sb_feat_devices_leave before its client is freed. */
int sb_feat_devices_init(sb_features_t *f);
void sb_feat_devices_dispose(sb_features_t *f);
void sb_feat_devices_leave(sb_client_t *c);
/* A new user record's room: "user:" and no device. */
void sb_feat_user_room_init(sb_user_t *u);
/* "user:<id>", valid as long as the record. */
sb_str_t sb_feat_user_room(const sb_user_t *u);

/* One row of the feature registry (features.c), one per feature; any
 * function may be NULL. */
typedef struct {
    const char *name; /* for a reader and a debugger */
    int (*init)(sb_features_t *f);
    void (*dispose)(sb_features_t *f);
    void (*tick)(sb_features_t *f); /* once per second */
    /* The user's last connection ended (`last`, still connected, is that
     * device; user->devices is 0); called before the user record goes. */
    void (*user_gone)(sb_client_t *last);
} sb_feature_row_t;

/* features.c: calls the user_gone of `rows`, in table order, when `c` was
 * its user's last device; nothing while the user has another. Exported for
 * tests/unit/test_registry.c, which runs it over rows of its own. */
void sb_feat_rows_user_gone(const sb_feature_row_t *rows, size_t n, sb_client_t *c);

/* session.c: JWT middleware and per-socket state */
int sb_feat_session_init(sb_features_t *f);
void sb_feat_session_dispose(sb_features_t *f);
/* A socket of the built-in namespace closed: what each feature keeps per
 * connection is let go and the device counted out (then c->user->devices
 * is what is left). */
void sb_feat_session_disconnect(sb_client_t *c, const char *reason);
/* After sb_feat_session_disconnect and the registry's user_gone: frees the
 * client, and the user record when it was the last device. */
void sb_feat_session_release(sb_client_t *c);
/* Token check only, for namespaces without the built-in events. */
int sb_feat_session_guard(sb_features_t *f, sb_sio_nsp_t *nsp);
/* presence.c */
void sb_feat_presence_init(sb_features_t *f);
void sb_feat_presence_dispose(sb_features_t *f);
void sb_feat_presence_connect(sb_client_t *c);
/* One device of the user left: the others hear device_disconnected. */
void sb_feat_presence_disconnect(sb_client_t *c);
/* The registry's user_gone: last seen recorded, user:offline told. */
void sb_feat_presence_user_gone(sb_client_t *last);
/* presence.c: what a change of presence tells this node's sockets: the
 * friends scope reads the user's friends; scope all queues it for the next
 * interval's flush. last_seen: ISO time, NULL when online. */
void sb_feat_presence_announce(sb_features_t *f, const char *user, bool online,
                               const char *last_seen);
/* presence_cluster.c: presence as the cluster sees it (docs/cluster.md). */
bool sb_feat_clustered(const sb_features_t *f);
/* Tells the cluster a device of u came (+1) or left (-1); true when the
 * cluster decides (and announces) the user's presence, false when this
 * node decides alone (no cluster, or Redis unreachable). */
bool sb_feat_cluster_device(sb_features_t *f, const sb_user_t *u, int delta);
/* Online on this node or, as the cluster last told, on another. */
bool sb_feat_online_anywhere(const sb_features_t *f, const char *user_id);
/* The cluster's other nodes deliver to their devices of the user too. */
void sb_feat_cluster_relay(sb_features_t *f, sb_stream_t st, const char *user_id, int64_t id,
                           int64_t prev, sb_str_t text);
/* The view: user online anywhere, or not; a rebuild moves the view aside
 * (cluster_before, for presence.c to compare) and starts from this node's
 * users; its end forgets the old view. */
void sb_feat_cluster_set(sb_features_t *f, sb_str_t user, bool online);
void sb_feat_cluster_rebuild_begin(sb_features_t *f);
void sb_feat_cluster_rebuild_end(sb_features_t *f);
void sb_feat_cluster_init(sb_features_t *f);
void sb_feat_cluster_dispose(sb_features_t *f);
/* chat.c: open rooms and conversation rooms */
int sb_feat_chat_init(sb_features_t *f);
void sb_feat_chat_dispose(sb_features_t *f);
/* A plain WebSocket (/ws) client's connection ended: its open and
 * conversation rooms get `user_disconnected` (seed 004), before it leaves them. */
void sb_feat_chat_departed(sb_client_t *c);
/* recovery.c: connection state recovery of the built-in namespace */
int sb_feat_recovery_init(sb_features_t *f);
void sb_feat_recovery_dispose(sb_features_t *f);
/* On connect, before the backlog: a recovered offset confirms what it covers. */
void sb_feat_recovery_connect(sb_client_t *c);
void sb_feat_recovery_disconnect(sb_client_t *c, const char *reason);
/* Before the client is used: its recovery state. */
void sb_feat_recovery_client_init(sb_client_t *c);
/* recovery_offset.c: sends the device its offset (`recovery:offset`)
 * after message:received, notification:new and stored room messages. */
void sb_feat_recovery_mark(sb_client_t *c);
/* A stored room message `id` was written to the device. */
void sb_feat_recovery_room_sent(sb_client_t *c, int64_t id);
/* recovery_rooms.c: a recovered device gets the stored room messages of its
 * rooms that it missed — after `after_id`, the room part of its offset, or
 * when it had none, those stored since its session disconnected — then its
 * new offset. */
void sb_feat_recovery_replay_rooms(sb_client_t *c, int64_t after_id);
/* messages.c: direct messages, history, receipts, typing */
int sb_feat_messages_init(sb_features_t *f);
void sb_feat_messages_dispose(sb_features_t *f);
/* delivery.c: stored messages and notifications pending for their users
 * until a device confirms them. Starts sending a connected device its
 * backlog. */
void sb_feat_delivery_connect(sb_client_t *c);
void sb_feat_delivery_dispose(sb_features_t *f);
/* Offers event `id` of a stream (its client JSON in `text`) to every device
 * of a recipient, asking each for an ack that confirms it. `prev`: the
 * user's previous event of the stream when it was stored (0: none, or not
 * known: one store completes in id order); a device not sent that one
 * reads the store in id order instead (delivery.c). */
void sb_feat_delivery_live(sb_features_t *f, sb_stream_t st, const char *user_id, int64_t id,
                           int64_t prev, sb_str_t text);
/* delivery.c: to this node's devices of the user only (a relayed delivery). */
void sb_feat_delivery_local(sb_features_t *f, sb_stream_t st, const char *user_id, int64_t id,
                            int64_t prev, sb_str_t text);
/* Broadcasts stored message `id` to a room (`payload` stolen), and moves
 * the offset of every device it reached past it. */
long sb_feat_delivery_room(sb_features_t *f, const char *room, const char *event, json_t *payload,
                           int64_t id);
/* payloads.c: a stored room message as chat:message carries it (name and
 * avatar of the sender may be NULL: the id stands in, no avatar). */
json_t *sb_feat_chat_message_json(const sb_store_msg_t *m, const char *name, const char *avatar);
/* payloads.c: a stored message as clients see it (conversationId or roomId). */
json_t *sb_feat_message_json(const sb_store_msg_t *m, const char *sender_name);
/* The text of that object with the members extra[i] = {name, text} after its
 * own (a NULL text is left out), exactly as sb_feat_json_text writes it, in
 * one allocation and without a jansson value: message:send's copies. NULL
 * where the object would be NULL (a text that is not UTF-8) or out of memory. */
char *sb_feat_message_text(const sb_store_msg_t *m, const char *sender_name,
                           const char *const extra[][2], size_t nextra, size_t *n);
/* payloads.c: a stored notification as clients see it. */
json_t *sb_feat_notification_json(const sb_store_notification_t *n);
/* social.c: the social group (notifications, friends, posts) */
int sb_feat_social_init(sb_features_t *f);
/* notify.c: stores a notification for `user_id` and delivers it as notification:new
 * to every device when the user is online, else on their next connect.
 * Fire and forget (failures are logged); `data` is stolen, may be NULL. */
void sb_feat_notify(sb_features_t *f, const char *user_id, const char *type, const char *title,
                    const char *message, json_t *data);
/* social_friends.c, social_posts.c: their event tables */
int sb_feat_friends_init(sb_features_t *f);
int sb_feat_posts_init(sb_features_t *f);
/* live.c: collaborative documents, dashboards, WebRTC signaling, file share */
int sb_feat_live_init(sb_features_t *f);
void sb_feat_live_disconnect(sb_client_t *c);
void sb_feat_live_tick(sb_features_t *f);
void sb_feat_live_dispose(sb_features_t *f);
/* session.c's last step of a connect: the socket's client state, with the
 * connect hook's data (stolen; may be NULL). SB_OK, or a refusal in r. */
typedef int (*sb_feat_admit_fn)(sb_features_t *f, sb_sio_socket_t *s, const sb_jwt_claims_t *cl,
                                json_t *data, sb_sio_refusal_t *r);
/* backend.c: true when connects wait for the backend's word. */
bool sb_feat_backend_connect_on(const sb_features_t *f);
/* Asks the backend about the socket of verified claims `cl`: SB_EAGAIN
 * (the socket waits; admit runs if the backend lets it in), or at once,
 * when the backend cannot be asked, admit's result or a refusal in r. */
int sb_feat_backend_connect(sb_features_t *f, sb_sio_socket_t *s, sb_str_t auth,
                            const sb_jwt_claims_t *cl, sb_feat_admit_fn admit, sb_sio_refusal_t *r);
/* backend.c: the team's backend (docs/hooks.md). Custom events of the
 * default namespace go to it (its catch-all replaces unknown_event). */
int sb_feat_backend_init(sb_features_t *f);
/* Stream event `id` could not reach `user_id` live (no device): the backend
 * is told, once, so it can send a mobile push. */
void sb_feat_backend_push(sb_features_t *f, sb_stream_t st, const char *user_id, int64_t id,
                          sb_str_t text);
/* Validates a room name argument: fails the event and returns false. */
bool sb_feat_room_arg(sb_sio_event_t *ev, json_t *v, const char **room);

#endif
