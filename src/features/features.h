/* The built-in event contract (DESIGN.md section 6), registered on a
 * Socket.IO namespace through the public Socket.IO API. */
#ifndef SB_FEATURES_FEATURES_H
#define SB_FEATURES_FEATURES_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/loop.h"
#include "socketio/socketio.h"
#include "store/store.h"

typedef struct sb_features sb_features_t;

/* ---- the team's backend (docs/hooks.md) ---------------------------------------------
 * The features call it through this small interface; the composition root
 * plugs src/hooks/ in (features never include it). */
typedef enum { SB_FEAT_HOOK_CONNECT, SB_FEAT_HOOK_EVENT, SB_FEAT_HOOK_PUSH } sb_feat_hook_t;
/* How a call ended: rc SB_OK with the answer's body (valid during the
 * call); SB_ETIMEOUT, SB_EUNAVAIL or SB_ECLOSED (the server is stopping)
 * with `why` in words. */
typedef void (*sb_feat_backend_done_fn)(void *ud, int rc, sb_str_t answer, const char *why);
typedef struct {
    void *impl; /* NULL: no backend, every hook off */
    bool (*enabled)(void *impl, sb_feat_hook_t hook);
    /* SB_OK: done is called exactly once, later. SB_ETOOBIG: too many calls
     * in flight; any other error: the call was not made. */
    int (*post)(void *impl, sb_feat_hook_t hook, sb_str_t body, sb_feat_backend_done_fn done,
                void *ud);
    /* Custom events the backend gets: a comma list of names, each may end
     * in * (a prefix); "*": every event outside the contract. */
    const char *event_names;
    bool connect_allow_on_failure; /* the connect hook failed or timed out: let sockets in */
} sb_feat_backend_t;

typedef struct {
    sb_store_t *store; /* durable state; must outlive the features */
    const char *jwt_secret;
    bool presence_friends; /* user:online/offline to friends only (else everyone, coalesced) */
    uint32_t presence_interval_ms; /* scope all, large rooms: changes wait this long at most */
    uint32_t room_announce_max;    /* larger rooms get chat:room_update, not user_joined/left */
    bool allow_query_token;
    bool allow_tokens_without_exp;
    bool log_connections; /* info lines per socket connected/disconnected */
    int64_t jwt_leeway_s;
    size_t max_message_bytes;
    uint32_t max_rooms_per_socket;
    uint32_t recovery_window_ms;      /* connection state recovery; 0: off */
    uint32_t delivery_ack_timeout_ms; /* a later device ack confirms nothing; 0: the default */
    sb_feat_backend_t backend;        /* hooks; all zero: none */
} sb_features_config_t;

/* Registers the auth middleware and every event on `nsp`. cfg is copied
 * (the secret string must outlive the features). NULL on OOM. */
sb_features_t *sb_features_create(sb_loop_t *loop, sb_sio_nsp_t *nsp,
                                  const sb_features_config_t *cfg);
void sb_features_destroy(sb_features_t *f);
/* Requires the same JWT on another namespace (which carries no built-in
 * events: every event there gets unknown_event). */
int sb_features_guard(sb_features_t *f, sb_sio_nsp_t *nsp);

/* The server is shutting down: every user goes offline at once, so the
 * user:offline broadcasts (N disconnects x N recipients) are skipped. */
void sb_features_drain(sb_features_t *f);

/* A stored message as clients see it: {id, conversationId|roomId,
 * senderId, content, messageType, createdAt, sender}. */
json_t *sb_features_message_json(const sb_store_msg_t *m);
/* A stored room message as chat:message and chat:history carry it: {id,
 * roomId, message, type, sender: {id, name}, createdAt}; for type "file",
 * message is the fileInfo object. */
json_t *sb_features_room_message_json(const sb_store_msg_t *m);
/* A stored notification as notification:new carries it: {id, type, title,
 * message, data, isRead, createdAt}. */
json_t *sb_features_notification_json(const sb_store_notification_t *n);
/* Deliveries meant for a user's devices (message:received,
 * notification:new) are also broadcast, without an ack, to the room
 * "user:<id>" SB_FEATURES_TAP_SUFFIX: read-only subscribers (SSE) join it.
 * No client can join it (the "user:" prefix is reserved), and it is no
 * user's own room: the suffix starts with a control character, which no
 * user id holds (with "#tap", user "bob#tap" had bob's deliveries). */
#define SB_FEATURES_TAP_SUFFIX                                                                     \
    "\x1f"                                                                                         \
    "tap"
/* True for a room name clients may use: 1-128 bytes without control
 * characters (up to SB_STORE_MAX_ROOM for "conversation:<id>"). */
bool sb_features_room_name_valid(sb_str_t name);

/* Deliveries of presence and room-membership news, for /metrics: what
 * keeps them linear in the number of users is asserted on these. */
typedef struct {
    uint64_t presence_deliveries; /* user:online, user:offline, presence:batch, to sockets */
    uint64_t presence_batches;    /* presence:batch broadcasts */
    uint64_t room_announcements;  /* chat:user_joined / chat:user_left, to sockets */
    uint64_t room_updates;        /* chat:room_update, to sockets */
} sb_features_counters_t;
const sb_features_counters_t *sb_features_counters(const sb_features_t *f);

/* The JSON string v when it holds min..max bytes and no U+0000, else NULL.
 * Every text a client or the backend sends goes through this (or
 * sb_feat_text_field): C strings and the store end at a NUL, so text holding
 * one is refused rather than cut short. */
const char *sb_features_text(json_t *v, size_t min, size_t max);

/* Once a second on the loop: built-in dashboard metrics. */
void sb_features_tick(sb_features_t *f);

/* Error answers sent to clients (in an ack or an `error` event), by code:
 * calls fn once per code of the event contract (docs/events.md), in a fixed
 * order, then once with "other". */
void sb_features_error_counts(const sb_features_t *f,
                              void (*fn)(const char *code, uint64_t n, void *ud), void *ud);

/* Events refused by the rate limit, by name: once per event of the contract
 * that has been limited (at most 24 names), then once with "other" (any
 * other name, and those past 24). */
void sb_features_rate_limited_counts(const sb_features_t *f,
                                     void (*fn)(const char *event, uint64_t n, void *ud), void *ud);

/* ---- dashboard metrics (POST /api/metrics/:name) ---- */
#define SB_FEAT_METRIC_NAME_MAX 64
#define SB_FEAT_METRICS_MAX 10000 /* distinct custom metrics kept in memory */
/* True for 1-64 characters of [A-Za-z0-9_.:-]. */
bool sb_features_metric_name_valid(sb_str_t name);
/* True for the metrics the server computes itself: connections,
 * online_users, messages_per_second, uptime_seconds. */
bool sb_features_metric_builtin(sb_str_t name);
/* Records `value` as the latest value of custom metric `name` and pushes
 * dashboard:update {metric, value, timestamp} to the sockets subscribed to
 * it. Returns the number of sockets reached (>= 0); SB_EINVAL for an invalid
 * or built-in name or a non-finite value; SB_ETOOBIG when `name` is new and
 * SB_FEAT_METRICS_MAX metrics exist already; SB_ENOMEM. */
long sb_features_metric_push(sb_features_t *f, sb_str_t name, double value);

/* For the operations API. */
size_t sb_features_online_users(const sb_features_t *f);
/* Online on any node of the cluster. */
bool sb_features_user_online(const sb_features_t *f, const char *user_id);
/* Devices a user has connected (0 when offline). */
uint32_t sb_features_user_devices(const sb_features_t *f, const char *user_id);

/* The dashboard's view of the online users: [{id, devices, sockets: [socket
 * ids, at most 16]}] for the first `max` users, in no particular order. */
json_t *sb_features_admin_users(sb_features_t *f, size_t max);
/* Disconnects (server side: the clients do not reconnect by themselves)
 * every socket of `user_id`, or else the one socket `socket_id`, in the
 * default namespace. Returns how many were disconnected. */
size_t sb_features_admin_disconnect(sb_features_t *f, const char *user_id, const char *socket_id);

/* Where a backend emit goes: a user's devices, rooms, sockets by id, or
 * everyone, minus the `except` rooms ("user:<id>" excludes that user). */
typedef struct {
    const char *const *sockets;
    size_t nsockets;
    const char *const *users;
    size_t nusers;
    const char *const *rooms;
    size_t nrooms;
    bool all;
    const char *const *except;
    size_t nexcept;
} sb_feat_target_t;

/* Emits `event` with `data` (one raw JSON value, relayed as it is) to the
 * target in the default namespace. Returns the number of sockets reached,
 * or a negative code. */
long sb_features_emit(sb_features_t *f, const sb_feat_target_t *t, const char *event,
                      sb_str_t data);
/* Emits what one request object asks for: {to: {user|room|socket: an id or
 * a list of up to 64, or all: true}, event (1-256 characters, not a
 * reserved name), data?, except?: [rooms]} (POST /api/emit's body, an emit
 * in a hook's answer). Returns the sockets reached; SB_EINVAL with *why
 * set when the request is malformed; another negative code on failure. */
long sb_features_emit_request(sb_features_t *f, json_t *req, const char **why);
/* The check alone: NULL when `req` is a valid emit request, else why not. */
const char *sb_features_emit_check(json_t *req);

/* A conversation changed through the backend API: every user of `told`
 * (members before and after) gets `event` with `payload` (one JSON value);
 * sockets in "conversation:<id>" whose user is not in `members` (NULL: the
 * conversation is gone, so nobody is) leave that room. */
void sb_features_conversation_changed(sb_features_t *f, const char *conv_id,
                                      const char *const *told, size_t ntold,
                                      const char *const *members, size_t nmembers,
                                      const char *event, sb_str_t payload);

/* The answer to a request the HTTP API makes on behalf of a user: the
 * result (stolen; NULL on failure) or an error code of the event contract
 * (docs/events.md) with its message. */
typedef void (*sb_features_answer_fn)(void *ud, json_t *result, const char *code,
                                      const char *message);
/* message:send for a backend or a client without a socket: stores the
 * message from `sender` (a member) in conversation `conv` and delivers it
 * as message:send does (message:received, message:new); answer gets the
 * stored message. sender_name, type and key may be NULL. */
void sb_features_send_message(sb_features_t *f, const char *conv, const char *sender,
                              const char *sender_name, const char *content, const char *type,
                              const char *key, sb_features_answer_fn answer, void *ud);
/* mark-read over HTTP: marks ids[0..n) (1..100) of `conv` read by `user`
 * (a member); members get messages-read; answer gets {ok, conversationId,
 * messageIds (newly read)}. */
void sb_features_mark_read(sb_features_t *f, const char *conv, const char *user, const int64_t *ids,
                           size_t n, sb_features_answer_fn answer, void *ud);

/* Called once the notification is stored: rc SB_OK with the notification
 * as clients see it (JSON text, valid only during the call), or an error
 * (SB_EINVAL: `data` is not JSON) with an empty slice. */
typedef void (*sb_features_notify_cb)(void *ud, int rc, sb_str_t notification);
/* Stores a notification (createdAt: now) and sends it as notification:new
 * to the user's devices, or on the user's next connect when offline.
 * Returns SB_OK (cb, which may be NULL, is called later) or a store submit
 * error (SB_EINVAL, SB_ETOOBIG, ...; cb is never called). */
int sb_features_notify(sb_features_t *f, const sb_store_notification_in_t *in,
                       sb_features_notify_cb cb, void *ud);

/* ---- a cluster (docs/cluster.md, "Presence") ---- */
typedef struct sb_engine sb_engine_t;
/* The engine that counts presence across nodes (NULL: a node alone). */
void sb_features_set_engine(sb_features_t *f, sb_engine_t *engine);
/* The engine says `user` came online / went offline cluster-wide;
 * announce: tell this node's sockets (false while rebuilding the view). */
void sb_features_cluster_presence(sb_features_t *f, sb_str_t user, bool online,
                                  int64_t last_seen_ms, bool announce);
/* The view of who is online anywhere is rebuilt (begin), then complete
 * (!begin): the differences with the previous view are announced. */
void sb_features_cluster_rebuild(sb_features_t *f, bool begin);
/* This node's online users and their devices, until fn returns false. */
void sb_features_local_users(sb_features_t *f,
                             bool (*fn)(sb_str_t user, uint32_t devices, void *ud), void *ud);
/* A stored event another node relayed for this node's devices of its user. */
void sb_features_cluster_relayed(sb_features_t *f, const sb_engine_delivery_t *d);
/* Another node's broadcast, just delivered here: the features remember
 * what they keep of it (a custom metric's latest value). */
void sb_features_cluster_broadcast(sb_features_t *f, sb_str_t nsp, sb_str_t event,
                                   const sb_str_t *rooms, size_t nrooms, sb_str_t args);
/* Chat, direct and file messages stored per second on this node over the
 * last second (the dashboards' messages_per_second; a heartbeat figure). */
double sb_features_messages_per_second(const sb_features_t *f);
/* Users online on any node (this node's count on a node alone). */
size_t sb_features_cluster_online_users(const sb_features_t *f);

/* The user id of a socket of the features' namespace, once its token was
 * accepted (NUL-terminated, valid while the socket is connected); NULL
 * for any other socket. */
const char *sb_features_socket_user(const sb_features_t *f, const sb_sio_socket_t *s);
/* That user's display name, likewise. */
const char *sb_features_socket_user_name(const sb_features_t *f, const sb_sio_socket_t *s);

#endif
