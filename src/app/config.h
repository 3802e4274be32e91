/* Every setting of the server in one table: command-line flag, environment
 * variable SWITCHBOARD_<NAME>, config-file key, default and help text come
 * from the same row, so --help and the docs cannot drift from the code.
 * Precedence: defaults < config file < environment < command line. */
#ifndef SB_APP_CONFIG_H
#define SB_APP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* X(name, field, type, default, min, max, help): type is STR, INT or BOOL;
 * min and max bound an INT (inclusive) and are 0 for the others. */
#define SB_CONFIG_MAP(X)                                                                           \
    X("host", host, STR, "::", 0, 0,                                                               \
      "address to listen on (:: also takes IPv4; one address: only that)")                         \
    X("port", port, INT, "3000", 0, 65535LL, "TCP port (0 picks a free port)")                     \
    X("tls-cert", tls_cert, STR, "", 0, 0,                                                         \
      "PEM certificate chain (the server's certificate first): serve HTTPS and WSS on --port "     \
      "(reloaded on SIGHUP)")                                                                      \
    X("tls-key", tls_key, STR, "", 0, 0,                                                           \
      "PEM private key of --tls-cert (unencrypted; reloaded on SIGHUP)")                           \
    X("jwt-secret", jwt_secret, STR, "", 0, 0,                                                     \
      "HS256 secret for client tokens, at least 32 bytes (required unless --dev)")                 \
    X("allow-short-secret", allow_short_secret, BOOL, "false", 0, 0,                               \
      "accept a --jwt-secret shorter than 32 bytes, with a warning")                               \
    X("api-key", api_key, STR, "", 0, 0,                                                           \
      "Bearer key for /metrics and /api (empty: those answer 401)")                                \
    X("data-dir", data_dir, STR, "./data", 0, 0, "directory for the database and state")           \
    X("store-sync", store_sync, STR, "full", 0, 0,                                                 \
      "SQLite durability: full (fsync each commit), normal, off (tests only)")                     \
    X("store-check-max-mb", store_check_max_mb, INT, "1024", 0, 16777216LL,                        \
      "integrity-check the database at start when it is at most this big, MiB (0: never)")         \
    X("database-url", database_url, STR, "", 0, 0,                                                 \
      "PostgreSQL store instead of SQLite: a libpq URL such as "                                   \
      "postgres://user@host/db?sslmode=verify-full (empty: SQLite in --data-dir)")                 \
    X("database-timeout", database_timeout, INT, "5000", 100, 600000LL,                            \
      "PostgreSQL: ms a request may wait for an unreachable database before it fails with "        \
      "store_unavailable")                                                                         \
    X("database-pool-size", database_pool_size, INT, "2", 1, 64,                                   \
      "PostgreSQL: connections, each running its own batches side by side (requests on one "       \
      "conversation, user, post or document stay on one)")                                         \
    X("cors-origins", cors_origins, STR, "", 0, 0,                                                 \
      "comma list of allowed origins, * for any; empty: any, without credentials")                 \
    X("path", path, STR, "/socket.io/", 0, 0, "Engine.IO endpoint path")                           \
    X("ws-path", ws_path, STR, "/ws", 0, 0,                                                        \
      "plain JSON WebSocket endpoint ({type, data} messages; empty: off)")                         \
    X("ws-single-room", ws_single_room, BOOL, "false", 0, 0,                                       \
      "a /ws join_room leaves the room the client joined before with join_room (seed 004)")        \
    X("sse-path", sse_path, STR, "/events", 0, 0,                                                  \
      "Server-Sent Events endpoint (read-only channels, Last-Event-ID resume; empty: off)")        \
    X("sse-keepalive", sse_keepalive, INT, "15000", 100, 86400000LL,                               \
      "ms between keep-alive comments on Server-Sent Events streams")                              \
    X("web-root", web_root, STR, "web", 0, 0,                                                      \
      "folder served at / (the demo chat and /admin); a missing folder serves nothing")            \
    X("no-web", no_web, BOOL, "false", 0, 0,                                                       \
      "serve no files at / (nor the Socket.IO browser client)")                                    \
    X("namespaces", namespaces, STR, "", 0, 0,                                                     \
      "comma list of extra Socket.IO namespaces besides /")                                        \
    X("ping-interval", ping_interval, INT, "25000", 1, 86400000LL,                                 \
      "Engine.IO heartbeat interval, ms")                                                          \
    X("ping-timeout", ping_timeout, INT, "20000", 1, 86400000LL,                                   \
      "Engine.IO heartbeat timeout, ms")                                                           \
    X("connect-timeout", connect_timeout, INT, "45000", 1, 86400000LL,                             \
      "ms allowed between Engine.IO open and Socket.IO CONNECT")                                   \
    X("upgrade-timeout", upgrade_timeout, INT, "10000", 1, 86400000LL,                             \
      "ms allowed for the polling to websocket upgrade")                                           \
    X("max-http-buffer-size", max_http_buffer_size, INT, "1000000", 1024, 1073741824LL,            \
      "largest Engine.IO message / polling body, bytes")                                           \
    X("max-message-bytes", max_message_bytes, INT, "65536", 1, 1073741824LL,                       \
      "largest chat message content, bytes")                                                       \
    X("max-header-bytes", max_header_bytes, INT, "16384", 256, 1048576LL,                          \
      "largest HTTP request head, bytes (431)")                                                    \
    X("max-headers", max_headers, INT, "64", 1, 10000LL, "most HTTP request headers (431)")        \
    X("max-request-line", max_request_line, INT, "8192", 64, 1048576LL,                            \
      "longest HTTP request line, bytes (414)")                                                    \
    X("max-outq-bytes", max_outq_bytes, INT, "4194304", 1024, 68719476736LL,                       \
      "queued output per connection before it is cut off as a slow consumer")                      \
    X("max-total-outq-bytes", max_total_outq_bytes, INT, "268435456", 0, 1099511627776LL,          \
      "queued output of all connections together; past it slow consumers are cut first (0: no "    \
      "bound)")                                                                                    \
    X("max-attachments", max_attachments, INT, "10", 0, 10000LL,                                   \
      "binary attachments per Socket.IO packet")                                                   \
    X("max-json-depth", max_json_depth, INT, "32", 1, 10000LL,                                     \
      "nesting depth of Socket.IO JSON payloads")                                                  \
    X("max-rooms-per-socket", max_rooms_per_socket, INT, "1000", 1, 10000000LL,                    \
      "rooms one socket may join")                                                                 \
    X("max-pending-acks", max_pending_acks, INT, "1000", 1, 10000000LL,                            \
      "server-to-client acks awaited per socket")                                                  \
    X("max-connections", max_connections, INT, "50000", 0, 100000000LL,                            \
      "open connections in total (503 past it; 0: no limit); left unset, at most the open-file "   \
      "limit less 64")                                                                             \
    X("max-connections-per-ip", max_connections_per_ip, INT, "0", 0, 100000000LL,                  \
      "open connections per client address (0: no limit; mind proxies)")                           \
    X("handshakes-per-second-per-ip", handshakes_per_second_per_ip, INT, "0", 0, 1000000LL,        \
      "new sessions per second per client address (Socket.IO handshakes, /ws upgrades and "        \
      "/events streams share it), token bucket (0: no limit)")                                     \
    X("events-per-second", events_per_second, INT, "10", 0, 1000000LL,                             \
      "events a socket may send per second, token bucket (0: no limit)")                           \
    X("events-burst", events_burst, INT, "20", 0, 1000000LL,                                       \
      "events a socket may send at once before the rate applies")                                  \
    X("volatile-events", volatile_events, STR,                                                     \
      "chat:typing,message:typing,message:stop_typing,collab:cursor_move", 0, 0,                   \
      "comma list of events with a bucket of their own, so they never use up --events-per-second") \
    X("volatile-events-per-second", volatile_events_per_second, INT, "30", 0, 1000000LL,           \
      "volatile events a socket may send per second (0: no limit; --events-per-second 0 lifts "    \
      "this too)")                                                                                 \
    X("volatile-events-burst", volatile_events_burst, INT, "60", 0, 1000000LL,                     \
      "volatile events a socket may send at once")                                                 \
    X("header-timeout", header_timeout, INT, "20000", 1, 86400000LL,                               \
      "ms to receive a whole HTTP request (408)")                                                  \
    X("keepalive-timeout", keepalive_timeout, INT, "30000", 1, 86400000LL,                         \
      "ms an idle keep-alive connection stays open")                                               \
    X("drain-timeout", drain_timeout, INT, "5000", 0, 86400000LL,                                  \
      "ms graceful shutdown waits for clients")                                                    \
    X("recovery-window", recovery_window, INT, "120000", 0, 86400000LL,                            \
      "ms a dropped client may reconnect and recover its session and missed events, across "       \
      "restarts too (0: off)")                                                                     \
    X("delivery-ack-timeout", delivery_ack_timeout, INT, "120000", 1, 86400000LL,                  \
      "ms a device has to acknowledge a message or notification; a later ack is ignored and it "   \
      "stays pending for the user's next device")                                                  \
    X("ws-deflate", ws_deflate, BOOL, "false", 0, 0, "offer permessage-deflate on WebSocket")      \
    X("ws-deflate-threshold", ws_deflate_threshold, INT, "1024", 0, 1073741824LL,                  \
      "smallest message compressed, bytes")                                                        \
    X("presence-scope", presence_scope, STR, "friends", 0, 0,                                      \
      "who sees user:online/offline: friends|all (all: small deployments, batched)")               \
    X("presence-interval", presence_interval, INT, "250", 1, 60000LL,                              \
      "ms over which presence changes (scope all) and large rooms' joins/leaves are batched")      \
    X("room-announce-max", room_announce_max, INT, "100", 0, 100000000LL,                          \
      "rooms up to this size get chat:user_joined/left; larger ones chat:room_update per "         \
      "interval")                                                                                  \
    X("allow-query-token", allow_query_token, BOOL, "false", 0, 0,                                 \
      "accept ?token= (URLs end up in logs)")                                                      \
    X("allow-tokens-without-exp", allow_tokens_without_exp, BOOL, "false", 0, 0,                   \
      "accept JWTs with no exp claim")                                                             \
    X("jwt-leeway", jwt_leeway, INT, "5", 0, 3600LL,                                               \
      "seconds of clock skew allowed for exp/nbf at connect")                                      \
    X("redis-url", redis_url, STR, "", 0, 0,                                                       \
      "join a cluster through Redis, redis://[[user]:password@]host[:port] (empty: one node "      \
      "alone)")                                                                                    \
    X("redis-key", redis_key, STR, "socket.io", 0, 0,                                              \
      "channel prefix, as the Node.js Redis adapter's key option")                                 \
    X("redis-max-queue-bytes", redis_max_queue_bytes, INT, "16777216", 1024, 1073741824LL,         \
      "publications waiting for Redis, bytes; past it they are dropped and counted")               \
    X("reuse-port", reuse_port, BOOL, "false", 0, 0,                                               \
      "share --port with other switchboard processes on this machine (SO_REUSEPORT), each a "      \
      "cluster node (--redis-url); polling requests reaching the wrong one are passed to the "     \
      "process owning the session")                                                                \
    X("handoff-dir", handoff_dir, STR, "", 0, 0,                                                   \
      "directory of the Unix sockets through which --reuse-port processes pass connections "       \
      "(empty: /tmp/switchboard-handoff-PORT)")                                                    \
    X("cluster-node-timeout", cluster_node_timeout, INT, "10000", 500, 600000LL,                   \
      "ms without a heartbeat in Redis after which a node is dead and its users offline "          \
      "(heartbeats every fifth of it)")                                                            \
    X("hook-url", hook_url, STR, "", 0, 0,                                                         \
      "the team's backend: connects, custom events and offline pushes are POSTed to "              \
      "<url>/connect, /event and /push (docs/hooks.md; empty: no hooks)")                          \
    X("hook-events", hook_events, STR, "event,push", 0, 0,                                         \
      "which hooks --hook-url gets: comma list of connect, event, push")                           \
    X("hook-event-names", hook_event_names, STR, "*", 0, 0,                                        \
      "custom events the event hook gets: comma list of names, each may end in * (a prefix); *: "  \
      "every event outside the built-in contract")                                                 \
    X("hook-secret", hook_secret, STR, "", 0, 0,                                                   \
      "HMAC-SHA256 key of each hook request's X-Switchboard-Signature header (empty: unsigned)")   \
    X("hook-connect-timeout", hook_connect_timeout, INT, "3000", 1, 600000LL,                      \
      "ms the connect hook has to answer while the socket waits (then --hook-connect-fallback)")   \
    X("hook-connect-fallback", hook_connect_fallback, STR, "reject", 0, 0,                         \
      "reject|accept: sockets when the connect hook fails, times out or is busy")                  \
    X("hook-event-timeout", hook_event_timeout, INT, "5000", 1, 600000LL,                          \
      "ms the event hook has to answer (then the client gets hook_unavailable)")                   \
    X("hook-push-timeout", hook_push_timeout, INT, "5000", 1, 600000LL,                            \
      "ms each attempt of the push hook has")                                                      \
    X("hook-push-retries", hook_push_retries, INT, "3", 0, 10LL,                                   \
      "extra attempts of a push after a timeout, a connection error, 429 or 5xx")                  \
    X("hook-retry-backoff", hook_retry_backoff, INT, "500", 1, 60000LL,                            \
      "ms before the first push retry; doubles with each retry (at most 60 s)")                    \
    X("hook-max-in-flight", hook_max_in_flight, INT, "256", 1, 100000LL,                           \
      "hook requests at once; past it events get hook_busy and pushes are dropped, counted")       \
    X("log-level", log_level, STR, "info", 0, 0, "debug|info|warn|error|off")                      \
    X("log-format", log_format, STR, "text", 0, 0, "text|json")                                    \
    X("log-connections", log_connections, BOOL, "true", 0, 0,                                      \
      "at info, a line per connection opened and closed and per HTTP API request (off at scale; "  \
      "refused authentications are logged either way)")                                            \
    X("dev", dev, BOOL, "false", 0, 0,                                                             \
      "development mode: loopback only unless --host is given, a fixed JWT secret and a printed "  \
      "API key")

/* Where a setting's value came from (a default, or the source that set it last). */
typedef enum {
    SB_CONFIG_DEFAULT,
    SB_CONFIG_FILE,
    SB_CONFIG_ENV,
    SB_CONFIG_FLAG
} sb_config_source_t;

enum {
#define SB_CONFIG_INDEX(name, f, type, def, lo, hi, help) SB_CONFIG_INDEX_##f,
    SB_CONFIG_MAP(SB_CONFIG_INDEX)
#undef SB_CONFIG_INDEX
        SB_CONFIG_COUNT
};

typedef struct {
#define SB_CONFIG_FIELD_STR(f) char *f;
#define SB_CONFIG_FIELD_INT(f) int64_t f;
#define SB_CONFIG_FIELD_BOOL(f) bool f;
#define SB_CONFIG_FIELD(name, f, type, def, lo, hi, help) SB_CONFIG_FIELD_##type(f)
    SB_CONFIG_MAP(SB_CONFIG_FIELD)
#undef SB_CONFIG_FIELD
    unsigned char source[SB_CONFIG_COUNT]; /* sb_config_source_t of each row */
} sb_config_t;

/* Fills defaults. Pair with sb_config_dispose. */
void sb_config_init(sb_config_t *c);
void sb_config_dispose(sb_config_t *c);
/* Sets one setting from text. Returns SB_OK, SB_ENOTFOUND (unknown name) or
 * SB_EINVAL (bad value); on error writes a message into err. */
int sb_config_set(sb_config_t *c, const char *name, const char *value, char *err, size_t cap);
#define SB_CONFIG_HELP 1    /* sb_config_load printed --help */
#define SB_CONFIG_VERSION 3 /* sb_config_load saw --version: the caller prints it */
/* Applies a --config file if given, then the environment, then argv.
 * Returns SB_OK, SB_EINVAL (message in err, naming the source),
 * SB_CONFIG_HELP or SB_CONFIG_VERSION. */
int sb_config_load(sb_config_t *c, int argc, char **argv, char *err, size_t cap);
/* True when `name` was set by a file, the environment or a flag. */
bool sb_config_given(const sb_config_t *c, const char *name);
int sb_config_load_file(sb_config_t *c, const char *path, char *err, size_t cap);
void sb_config_print_help(FILE *out, const char *prog);

#endif
