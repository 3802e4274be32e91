/* Switchboard public C API: the whole contract between the library and a
 * program that embeds it. Nothing else is installed; nothing else is
 * exported from libswitchboard.a.
 *
 * A program creates a server, adds any of
 *   - raw WebSocket routes              sb_server_add_ws_route()
 *   - raw Engine.IO endpoints           sb_server_add_eio_endpoint()
 *   - Socket.IO namespaces              sb_server_namespace(), sb_nsp_*(), sb_socket_*()
 *   - plain HTTP routes                 sb_server_add_http_route()
 *   - the built-in chat/social contract sb_builtins_install()
 * and runs it with sb_server_run(). Everything runs on one event-loop thread:
 * every callback runs on it, must not block, and may call any function here.
 * No function here may be called from another thread.
 *
 * Conventions (docs/embedding.md has the full text):
 *   - Errors are int: SB_OK (0) or a negative SB_E* code; sb_strerror() names it.
 *   - Handles are opaque. `create` returns a handle the caller destroys;
 *     handles a callback receives (sockets, calls, requests, sessions) are
 *     owned by the library.
 *   - Pointers to bytes handed to a callback are valid during that call only.
 *   - Strings passed in are copied unless a comment says otherwise.
 *   - JSON is raw text: arguments are relayed byte-exact, never re-encoded.
 *
 * Build: cc app.c $(pkg-config --cflags --libs --static switchboard)
 * Compatibility: see SB_VERSION_* below and docs/embedding.md. */
#ifndef SWITCHBOARD_H
#define SWITCHBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ------------------------------------------------------------------ */

/* Within one MAJOR version, a program written against MINOR n compiles and
 * works unchanged with every later MINOR; PATCH releases change no
 * declaration. While MAJOR is 0, a MINOR release may break the API, and the
 * changelog in docs/embedding.md says how. */
#define SB_VERSION_MAJOR 0
#define SB_VERSION_MINOR 2
#define SB_VERSION_PATCH 0
#define SB_VERSION_STRING "0.2.0"
#define SB_VERSION_NUMBER (SB_VERSION_MAJOR * 10000 + SB_VERSION_MINOR * 100 + SB_VERSION_PATCH)

/* The version of the library linked in, as SB_VERSION_NUMBER. */
int sb_version(void);

/* ---- errors ------------------------------------------------------------------- */

/* The library's own sources get these from core/err.h (same values). */
#ifndef SB_CORE_ERR_H
enum {
    SB_OK = 0,
    SB_EAGAIN = -11,    /* incomplete input or would block */
    SB_ENOMEM = -12,    /* out of memory */
    SB_EINVAL = -22,    /* invalid argument */
    SB_EPROTO = -1001,  /* protocol violation */
    SB_ETOOBIG = -1002, /* limit exceeded */
    SB_EUTF8 = -1003,   /* invalid UTF-8 */
    SB_ENOTFOUND = -1004,
    SB_ECLOSED = -1005, /* connection closed */
    SB_EAUTH = -1006,   /* authentication failed */
    SB_EEXISTS = -1007,
    SB_EIO = -1008,
    SB_ETIMEOUT = -1009,
    SB_EDEPTH = -1010,   /* nesting too deep */
    SB_EUNAVAIL = -1011, /* unavailable: the database could not be reached in time */
};
/* A static description of `err`; never NULL. */
const char *sb_strerror(int err);
#endif

/* ---- handles ------------------------------------------------------------------ */

typedef struct sb_server sb_server_t;           /* yours: sb_server_destroy() */
typedef struct sb_ws sb_ws_t;                   /* library's: valid until on_close returns */
typedef struct sb_eio_session sb_eio_session_t; /* library's: valid until on_close returns */
typedef struct sb_sio_nsp sb_nsp_t;             /* the server's: lives as long as it */
typedef struct sb_sio_socket sb_socket_t;       /* library's: see sb_socket_ref() */
typedef struct sb_call sb_call_t;               /* library's: valid during the handler */
typedef struct sb_refusal sb_refusal_t;         /* library's: valid during the middleware */
typedef struct sb_request sb_request_t;         /* library's: until answered */
typedef struct sb_alarm sb_alarm_t;             /* yours: sb_alarm_destroy() */
typedef struct sb_builtins sb_builtins_t;       /* the server's: freed with it */

/* Raw bytes: a binary attachment. */
typedef struct {
    const void *p;
    size_t n;
} sb_bytes_t;

/* ---- logging ------------------------------------------------------------------ */

/* Lines go to stderr, as text or JSON lines (--log-format). Process-wide. */
#ifndef SB_CORE_LOG_H
typedef enum { SB_LOG_DEBUG, SB_LOG_INFO, SB_LOG_WARN, SB_LOG_ERROR, SB_LOG_OFF } sb_log_level_t;
#define sb_log_debug(...) sb_logf(SB_LOG_DEBUG, __VA_ARGS__)
#define sb_log_info(...) sb_logf(SB_LOG_INFO, __VA_ARGS__)
#define sb_log_warn(...) sb_logf(SB_LOG_WARN, __VA_ARGS__)
#define sb_log_error(...) sb_logf(SB_LOG_ERROR, __VA_ARGS__)
#endif
/* Writes one line at `level` unless the current level is above it. */
void sb_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets the process-wide level (SB_LOG_*); SB_EINVAL when out of range. */
int sb_log_set_level(int level);

/* ---- the server ----------------------------------------------------------------- */

/* A server's own settings. Initialize with sb_settings_init(), then change
 * what you need. Fields are only ever added at the end; `size` tells the
 * library which ones your program knows. Strings are copied by
 * sb_server_create(). */
typedef struct {
    size_t size;                 /* set by sb_settings_init(); leave it */
    const char *host;            /* "127.0.0.1" */
    int port;                    /* 3000; 0 picks a free port (see sb_server_port()) */
    const char *socketio_path;   /* "/socket.io/" */
    const char *cors_origins;    /* "": any origin without credentials; "*"; or a comma list */
    uint32_t ping_interval_ms;   /* 25000 */
    uint32_t ping_timeout_ms;    /* 20000 */
    uint32_t connect_timeout_ms; /* 45000: Engine.IO open to Socket.IO CONNECT */
    size_t max_message_bytes;    /* 1000000: largest Engine.IO message / polling body */
    uint32_t max_connections;    /* 50000; 0: no limit */
    uint32_t events_per_second;  /* 10 per socket (token bucket); 0: no limit */
    uint32_t events_burst;       /* 20 */
    uint32_t drain_timeout_ms;   /* 5000: graceful shutdown waits this long for clients */
    bool ws_deflate;             /* false: offer permessage-deflate */
} sb_settings_t;

void sb_settings_init(sb_settings_t *s);

/* Creates a server (nothing listens yet). Returns NULL with a message in
 * `err` (cap bytes, may be 0) on a bad setting or no memory. */
sb_server_t *sb_server_create(const sb_settings_t *s, char *err, size_t cap);
/* Creates a server from the switchboard binary's flags, SWITCHBOARD_*
 * variables and --config file (docs/configuration.md), and applies
 * --log-level/--log-format. Returns NULL with *exit_code set: 0 after
 * --help was printed, 2 after a bad setting was reported, 1 when the server
 * cannot be created. */
sb_server_t *sb_server_create_from_args(int argc, char **argv, int *exit_code);
/* Frees the server and everything it owns (namespaces, routes, alarms,
 * built-ins). Not from a callback: after sb_server_run() returned. NULL is
 * a no-op. */
void sb_server_destroy(sb_server_t *srv);
/* Listens, runs until SIGTERM/SIGINT or sb_server_stop() and the drain
 * that follows; returns 0 on a clean exit, 1 when it cannot listen. */
int sb_server_run(sb_server_t *srv);
/* Starts a graceful shutdown: stop listening, run the on_stop hooks, tell
 * clients, wait drain_timeout_ms. Idempotent. */
void sb_server_stop(sb_server_t *srv);
/* The TCP port listened on (useful with port 0); 0 before sb_server_run(). */
int sb_server_port(const sb_server_t *srv);
/* Adds a hook run when a graceful shutdown begins, before clients are told
 * (in the order added). SB_OK or SB_ETOOBIG (more than 16). */
int sb_server_on_stop(sb_server_t *srv, void (*fn)(void *ud), void *ud);

/* ---- timers and deferred work ---------------------------------------------------- */

/* The loop's clock, monotonic ms, read once per loop turn. */
uint64_t sb_server_now_ms(const sb_server_t *srv);
/* A timer on the server's loop. `fn` runs on the loop; it may restart,
 * stop or destroy its own alarm. NULL on OOM. */
sb_alarm_t *sb_alarm_create(sb_server_t *srv, void (*fn)(sb_alarm_t *a, void *ud), void *ud);
/* Arms the alarm `after_ms` from now, then every `repeat_ms` (0: once).
 * Re-arming an armed alarm moves it. It fires up to one wheel tick (8 ms)
 * late, never early. */
void sb_alarm_start(sb_alarm_t *a, uint64_t after_ms, uint64_t repeat_ms);
void sb_alarm_stop(sb_alarm_t *a);
bool sb_alarm_active(const sb_alarm_t *a);
/* Stops and frees it (also from its own callback). NULL is a no-op. */
void sb_alarm_destroy(sb_alarm_t *a);
/* Runs fn(ud) once on the loop before it next waits for I/O: work to do
 * after the current callback has returned. SB_OK or SB_ENOMEM. Pending work
 * is dropped (not run) when the server is destroyed. */
int sb_server_defer(sb_server_t *srv, void (*fn)(void *ud), void *ud);

/* ---- raw WebSocket (RFC 6455) ------------------------------------------------------ */

#ifndef SB_WS_WS_H
enum {
    SB_WS_CLOSE_NORMAL = 1000,
    SB_WS_CLOSE_GOING_AWAY = 1001,
    SB_WS_CLOSE_PROTOCOL = 1002,
    SB_WS_CLOSE_ABNORMAL = 1006, /* reported, never sent: no close frame came */
    SB_WS_CLOSE_POLICY = 1008,
    SB_WS_CLOSE_TOO_BIG = 1009,
    SB_WS_CLOSE_INTERNAL = 1011,
};
#endif

typedef struct {
    /* Any of the three may be NULL. */
    /* A client connected. `ud` is the route's. */
    void (*on_open)(sb_ws_t *ws, void *ud);
    /* A whole message (fragments joined, UTF-8 checked, inflated). */
    void (*on_message)(sb_ws_t *ws, const char *p, size_t n, bool binary);
    /* Exactly once per connection; ws is freed right after. `code` is the
     * peer's close code, or 1006. */
    void (*on_close)(sb_ws_t *ws, uint16_t code);
} sb_ws_callbacks_t;

/* Serves WebSocket upgrades at `path` (exact match). cb is copied; the
 * route's `ud` is also each connection's initial data (sb_ws_get_data()).
 * SB_OK, SB_ETOOBIG (16 routes) or SB_ENOMEM. */
int sb_server_add_ws_route(sb_server_t *srv, const char *path, const sb_ws_callbacks_t *cb,
                           void *ud);
/* Queues a message. SB_OK, SB_ECLOSED, or SB_ETOOBIG: the connection went
 * over its output cap (slow consumer) and is being closed. */
int sb_ws_send(sb_ws_t *ws, const void *p, size_t n, bool binary);
/* Starts the close handshake (`reason` may be NULL); on_close follows. Idempotent. */
void sb_ws_close(sb_ws_t *ws, uint16_t code, const char *reason);
/* Drops the connection without a close frame; on_close follows. */
void sb_ws_abort(sb_ws_t *ws);
void *sb_ws_get_data(const sb_ws_t *ws);
void sb_ws_set_data(sb_ws_t *ws, void *data);
/* Bytes queued for the peer and not yet written. */
size_t sb_ws_queued(const sb_ws_t *ws);

/* ---- raw Engine.IO v4 --------------------------------------------------------------- */

typedef struct { /* any of the three may be NULL */
    /* A session opened (polling or websocket). `ud` is the endpoint's. */
    void (*on_open)(sb_eio_session_t *s, void *ud);
    /* A whole message; text without Engine.IO's "4" prefix. */
    void (*on_message)(sb_eio_session_t *s, const char *p, size_t n, bool binary);
    /* Once per session; it is freed right after. reason: "transport close",
     * "ping timeout", "forced close", "transport error", "server shutting down". */
    void (*on_close)(sb_eio_session_t *s, const char *reason);
} sb_eio_callbacks_t;

/* Serves Engine.IO (both transports and the upgrade) at `path`. cb is
 * copied. SB_OK, SB_ETOOBIG (16 endpoints) or SB_ENOMEM. */
int sb_server_add_eio_endpoint(sb_server_t *srv, const char *path, const sb_eio_callbacks_t *cb,
                               void *ud);
/* SB_OK, SB_ECLOSED, or SB_ETOOBIG (slow consumer: the session is closed). */
int sb_eio_send_message(sb_eio_session_t *s, const char *p, size_t n, bool binary);
/* Sends a close packet and ends the session; on_close follows. Idempotent. */
void sb_eio_close(sb_eio_session_t *s, const char *reason);
/* The session id (NUL-terminated, lives as long as the session). */
const char *sb_eio_sid(const sb_eio_session_t *s);
void *sb_eio_get_data(const sb_eio_session_t *s);
void sb_eio_set_data(sb_eio_session_t *s, void *data);

/* ---- Socket.IO v5: namespaces ------------------------------------------------------ */

/* The namespace `name` ("/" or "/chat"), created on first use. NULL for a
 * name not starting with '/' or on OOM. */
sb_nsp_t *sb_server_namespace(sb_server_t *srv, const char *name);
/* The namespace's name, NUL-terminated. */
const char *sb_nsp_name(const sb_nsp_t *nsp);
size_t sb_nsp_socket_count(const sb_nsp_t *nsp);

/* Connection middleware, run in the order added when a client connects to
 * the namespace. `auth` is the raw JSON of the client's CONNECT payload
 * ("" when none), valid during the call. Return SB_OK to go on, or an error
 * to refuse: the client gets connect_error with the message set by
 * sb_refusal_set() (default "Not authorized"). */
typedef int (*sb_middleware_fn)(sb_socket_t *s, const char *auth, size_t auth_len,
                                sb_refusal_t *why, void *ud);
/* `data_json` (may be NULL) becomes err.data on the client; both copied,
 * truncated to 159 and 255 bytes. */
void sb_refusal_set(sb_refusal_t *why, const char *message, const char *data_json);

/* An incoming event: see sb_call_*() below. */
typedef void (*sb_event_fn)(sb_call_t *call, void *ud);
typedef void (*sb_socket_fn)(sb_socket_t *s, void *ud);
/* `reason` as Socket.IO names it ("client namespace disconnect", "transport close", ...). */
typedef void (*sb_disconnect_fn)(sb_socket_t *s, const char *reason, void *ud);

/* Registrations last as long as the server. SB_OK or SB_ENOMEM (and
 * SB_EINVAL for an empty event name). A later sb_nsp_on() for the same event
 * replaces the handler. */
int sb_nsp_use(sb_nsp_t *nsp, sb_middleware_fn fn, void *ud);
int sb_nsp_on(sb_nsp_t *nsp, const char *event, sb_event_fn fn, void *ud);
/* For events without a handler of their own. On a namespace with the
 * built-ins it replaces their "unknown_event" answer. */
int sb_nsp_on_any(sb_nsp_t *nsp, sb_event_fn fn, void *ud);
/* A socket joined the namespace (after every middleware accepted it). */
int sb_nsp_on_connection(sb_nsp_t *nsp, sb_socket_fn fn, void *ud);
/* A socket is leaving; it is still in its rooms during the call. */
int sb_nsp_on_disconnect(sb_nsp_t *nsp, sb_disconnect_fn fn, void *ud);

/* Connection state recovery, the protocol of Socket.IO 4.6+ that the stock
 * clients speak unasked (docs/embedding.md). With it on, the CONNECT reply
 * carries a pid; a socket that drops (for any reason but
 * sb_socket_disconnect()) is kept window_ms with its id, rooms and owner,
 * and a client that reconnects in time gets them back: see
 * sb_socket_recovered(). A window of 0 leaves it off. SB_OK, SB_EEXISTS
 * (already on), SB_ENOMEM. */
int sb_nsp_recovery(sb_nsp_t *nsp, uint32_t window_ms);

/* Who a broadcast goes to: sockets in any of `rooms` (or every socket of
 * the namespace when nrooms is 0), minus those in any of `except` and
 * minus `except_socket`. Room names are NUL-terminated. */
typedef struct {
    const char *const *rooms;
    size_t nrooms;
    const char *const *except;
    size_t nexcept;
    const sb_socket_t *except_socket;
    bool is_volatile; /* may be dropped for a client that cannot take it now */
} sb_target_t;

/* Emits `event` with arguments `json` (raw JSON, comma-separated, no
 * brackets; "" for none). Encoded once, shared by every recipient. Returns
 * the number of sockets reached, or a negative SB_E* code. */
long sb_nsp_emit(sb_nsp_t *nsp, const sb_target_t *to, const char *event, const char *json,
                 size_t n);
/* The same with binary attachments; `json` refers to attachment i as
 * {"_placeholder":true,"num":i}. */
long sb_nsp_emit_binary(sb_nsp_t *nsp, const sb_target_t *to, const char *event, const char *json,
                        size_t n, const sb_bytes_t *att, size_t natt);
/* Sockets in `room` of the namespace. */
size_t sb_nsp_room_size(sb_nsp_t *nsp, const char *room);

/* ---- Socket.IO v5: events and acks -------------------------------------------------- */

sb_socket_t *sb_call_socket(const sb_call_t *call);
/* The event name, NUL-terminated, unescaped; in an sb_nsp_on_any() handler
 * a name longer than 255 bytes is cut there. "" for an ack's answer. */
const char *sb_call_event(const sb_call_t *call);
size_t sb_call_argc(const sb_call_t *call);
/* Raw JSON of argument i (NULL when i >= argc); *n gets its length. */
const char *sb_call_arg(const sb_call_t *call, size_t i, size_t *n);
/* Raw JSON of every argument, comma-separated: relay it byte-exact. */
const char *sb_call_args(const sb_call_t *call, size_t *n);
/* Decodes argument i when it is a JSON string (escapes resolved) into
 * out (NUL-terminated). SB_OK, SB_EINVAL (absent or not a string, or
 * contains NUL) or SB_ETOOBIG (does not fit cap). */
int sb_call_arg_string(const sb_call_t *call, size_t i, char *out, size_t cap);
size_t sb_call_attachment_count(const sb_call_t *call);
/* Attachment i (NULL when absent); *n gets its length. */
const void *sb_call_attachment(const sb_call_t *call, size_t i, size_t *n);
/* True when the client waits for an acknowledgement. */
bool sb_call_wants_ack(const sb_call_t *call);
/* Acknowledges with `json` (raw, comma-separated). SB_OK also when no ack
 * was asked for (nothing is sent). Answer at most once. */
int sb_call_reply(const sb_call_t *call, const char *json, size_t n);
int sb_call_reply_binary(const sb_call_t *call, const char *json, size_t n, const sb_bytes_t *att,
                         size_t natt);

/* ---- Socket.IO v5: sockets ------------------------------------------------------------ */

/* The socket id (NUL-terminated, as long as the socket). */
const char *sb_socket_id(const sb_socket_t *s);
sb_nsp_t *sb_socket_namespace(const sb_socket_t *s);
bool sb_socket_connected(const sb_socket_t *s);
/* Keeps the socket's memory alive past its callbacks (across asynchronous
 * work); check sb_socket_connected() before using it again. Pair each ref
 * with one unref. */
void sb_socket_ref(sb_socket_t *s);
void sb_socket_unref(sb_socket_t *s);
/* Your per-socket pointer (NULL at first). On a namespace with the
 * built-ins installed it belongs to them: do not set it there. */
void *sb_socket_get_data(const sb_socket_t *s);
void sb_socket_set_data(sb_socket_t *s, void *data);
/* Facts of the handshake request: Authorization header and application
 * query string, "" when absent; the peer's address as text. */
const char *sb_socket_authorization(const sb_socket_t *s);
const char *sb_socket_query(const sb_socket_t *s);
void sb_socket_remote_ip(const sb_socket_t *s, char *out, size_t cap);

/* Rooms of the socket's namespace (a socket is not in a room named by its
 * id). SB_OK, SB_ETOOBIG (rooms per socket), SB_EINVAL, SB_ENOMEM. */
int sb_socket_join(sb_socket_t *s, const char *room);
int sb_socket_leave(sb_socket_t *s, const char *room);
bool sb_socket_in_room(const sb_socket_t *s, const char *room);

/* Emits to this socket only. SB_OK, SB_ECLOSED, SB_ENOMEM. */
int sb_socket_emit(sb_socket_t *s, const char *event, const char *json, size_t n);
int sb_socket_emit_binary(sb_socket_t *s, const char *event, const char *json, size_t n,
                          const sb_bytes_t *att, size_t natt);
/* The client's acknowledgement: `answer` is its arguments (read them with
 * sb_call_args()/sb_call_arg()), or NULL when it did not come within the
 * timeout or the socket left. Called exactly once. */
typedef void (*sb_answer_fn)(sb_socket_t *s, const sb_call_t *answer, void *ud);
int sb_socket_emit_with_ack(sb_socket_t *s, const char *event, const char *json, size_t n,
                            uint32_t timeout_ms, sb_answer_fn fn, void *ud);
/* Server-side namespace disconnect; the disconnect handlers follow. */
void sb_socket_disconnect(sb_socket_t *s);
/* Recovery (sb_nsp_recovery()): true when the socket took a kept session
 * back (same id and rooms); the offset the client sent with its pid, the
 * last string argument of the last event it processed ("" when none): what
 * to replay after it is the application's; and the owner a middleware binds
 * the session to (a user id: only a socket with the same owner recovers
 * it). */
bool sb_socket_recovered(const sb_socket_t *s);
const char *sb_socket_recovery_offset(const sb_socket_t *s);
int sb_socket_set_owner(sb_socket_t *s, const char *owner);

/* ---- plain HTTP routes ---------------------------------------------------------------- */

/* A handler answers its request exactly once, now or later (while the
 * request lives: until answered, or until the client goes, which calls
 * nothing and frees it). */
typedef void (*sb_http_fn)(sb_request_t *req, void *ud);
/* Routes requests whose path is `path` exactly, or, for a path ending in
 * '/', starts with it. The first matching route wins (the built-ins add
 * /api/, /metrics and /health when installed). SB_OK or SB_ENOMEM. */
int sb_server_add_http_route(sb_server_t *srv, const char *path, sb_http_fn fn, void *ud);
/* Views valid until the request is answered; *n gets the length. */
const char *sb_request_method(const sb_request_t *req, size_t *n);
const char *sb_request_path(const sb_request_t *req, size_t *n);
const char *sb_request_body(const sb_request_t *req, size_t *n);
/* A header's value (case-insensitive name), NULL when absent. */
const char *sb_request_header(const sb_request_t *req, const char *name, size_t *n);
/* Decodes query parameter `key` into out. True when present and it fits. */
bool sb_request_query(const sb_request_t *req, const char *key, char *out, size_t cap);
/* Answers and frees the request. */
void sb_request_respond(sb_request_t *req, int status, const char *content_type, const void *body,
                        size_t n);

/* ---- the built-ins: JWT auth, the chat/social contract, HTTP API, store ------------- */

/* Options of the built-in contract (docs/events.md, docs/http-api.md).
 * Initialize with sb_builtins_options_init(); strings are copied. */
typedef struct {
    size_t size;                   /* set by sb_builtins_options_init(); leave it */
    const char *jwt_secret;        /* HS256 secret of client tokens; required */
    const char *api_key;           /* Bearer key of /api and /metrics; "": they answer 401 */
    const char *data_dir;          /* "./data": the SQLite database */
    const char *store_sync;        /* "full" | "normal" | "off" (tests only) */
    const char *presence_scope;    /* "friends" | "all" */
    uint32_t presence_interval_ms; /* 250 */
    uint32_t room_announce_max;    /* 100 */
    size_t max_message_bytes;      /* 65536: largest chat message content */
    bool allow_query_token;        /* false: ?token= refused */
    bool allow_tokens_without_exp; /* false */
    int64_t jwt_leeway_s;          /* 30 */
} sb_builtins_options_t;

void sb_builtins_options_init(sb_builtins_options_t *o);
/* Installs the built-ins on the server's "/" namespace (JWT middleware and
 * every event), JWT auth on every other namespace that exists now, the
 * HTTP API under /api/ plus /metrics and /health, and opens the store.
 * Your own events, middleware (run after the JWT check) and routes go
 * beside them. Owned by the server. NULL with a message in err on a bad
 * option or when the store cannot open. At most once per server. */
sb_builtins_t *sb_builtins_install(sb_server_t *srv, const sb_builtins_options_t *o, char *err,
                                   size_t cap);
/* The same with the options parsed by sb_server_create_from_args()
 * (--jwt-secret or --dev, --data-dir, --api-key, --presence-scope, ...):
 * the switchboard binary is exactly this. NULL with a message in err, also
 * for a server not created from arguments. */
sb_builtins_t *sb_builtins_install_from_args(sb_server_t *srv, char *err, size_t cap);
/* The built-ins of a server (NULL when not installed). */
sb_builtins_t *sb_server_builtins(sb_server_t *srv);
/* The authenticated user id of a socket of the "/" namespace (from its JWT
 * "sub"), NUL-terminated; NULL for another socket. */
const char *sb_builtins_socket_user(const sb_builtins_t *b, const sb_socket_t *s);
/* Presence: devices a user has connected now (0: offline), and users online. */
uint32_t sb_builtins_user_devices(const sb_builtins_t *b, const char *user_id);
size_t sb_builtins_online_users(const sb_builtins_t *b);
/* Emits `event` with one raw JSON value to every device of `user_id`;
 * returns deliveries or a negative SB_E* code. */
long sb_builtins_emit_to_user(sb_builtins_t *b, const char *user_id, const char *event,
                              const char *json, size_t n);

#ifdef __cplusplus
}
#endif

#endif
