/* The embeddable server: an event loop, the HTTP listener, WebSocket routes,
 * an Engine.IO endpoint and a Socket.IO server, configured by each layer's
 * own config struct (sb_server_config_t), with graceful shutdown on
 * SIGTERM/SIGINT. The product settings (JWT, presence, store) are not its
 * business: app/builtins.c takes them. The switchboard binary is this plus
 * the built-in features. */
#ifndef SB_APP_SERVER_H
#define SB_APP_SERVER_H

#include "app/cluster_host.h"
#include "app/config.h"
#include "core/conn.h"
#include "core/heap.h"
#include "core/loop.h"
#include "doors/doors.h"
#include "engineio/engineio.h"
#include "http/handoff.h"
#include "http/http.h"
#include "socketio/socketio.h"
#include "ws/ws.h"

typedef struct sb_server sb_server_t;
typedef void (*sb_ws_open_fn)(sb_ws_t *ws, void *ud);

/* What the server itself needs: where to listen, and the settings of the
 * layers it composes. Strings are not copied: they must outlive the
 * server. */
typedef struct {
    const char *host;
    int port;
    const char *path;       /* the Socket.IO endpoint, "/socket.io/" */
    const char *namespaces; /* comma list of namespaces created up front, or "" */
    const char *ws_path;    /* the plain JSON WebSocket door (doors.h), or NULL/"" for none */
    bool ws_single_room;    /* its join_room leaves the room joined before (doors.h) */
    const char *tls_cert, *tls_key; /* PEM files: every connection speaks TLS; NULL/"": plain */
    uint32_t drain_timeout_ms;
    sb_conn_limits_t conns;
    sb_http_config_t http;
    sb_ws_config_t ws;
    sb_eio_config_t eio; /* eio.ws is set by the server (to its `ws`) */
    sb_sio_config_t sio;
    sb_cluster_config_t cluster; /* url NULL or "": one node alone */
    const char *handoff_dir;     /* with http.reuse_port (app/reuse_port.h) */
} sb_server_config_t;

/* The server's part of the settings table. Strings point into `cfg`. */
void sb_server_config_from(sb_server_config_t *out, const sb_config_t *cfg);

/* Initializes `cfg` from defaults, SWITCHBOARD_* variables, a --config file
 * and argv, and applies --log-level/--log-format. Returns 0 to go on, 1 when
 * --help was printed, 2 on a bad setting (message already printed); cfg
 * is disposed of unless 0 is returned, when it pairs with sb_config_dispose(). */
int sb_config_from_args(sb_config_t *cfg, int argc, char **argv);

/* Creates a server from `cfg` (copied; its strings must outlive the
 * server). Returns NULL with a message in err. Nothing listens yet. */
sb_server_t *sb_server_create_from_config(const sb_server_config_t *cfg, char *err, size_t cap);
void sb_server_destroy(sb_server_t *s);
/* Listens and runs until a signal or sb_server_stop(); returns 0 on a clean
 * exit. */
int sb_server_run(sb_server_t *s);
/* fn(address "host:port") runs once, right after the listening line. */
void sb_server_on_listening(sb_server_t *s, void (*fn)(const char *address, void *ud), void *ud);
/* Starts a graceful shutdown (safe from any callback on the loop thread). */
void sb_server_stop(sb_server_t *s);

sb_loop_t *sb_server_loop(sb_server_t *s);
sb_http_server_t *sb_server_http(sb_server_t *s);
/* The Socket.IO server on the configured path ("/socket.io/"). */
sb_sio_server_t *sb_server_sio(sb_server_t *s);
sb_eio_server_t *sb_server_eio(sb_server_t *s);
/* The plain JSON WebSocket door (--ws-path), or NULL when it is off. */
sb_door_ws_t *sb_server_door_ws(sb_server_t *s);
/* The cluster this node is part of (cluster.url set); NULL when alone. */
sb_cluster_host_t *sb_server_cluster(sb_server_t *s);
const sb_server_config_t *sb_server_config(const sb_server_t *s);
/* The hand-off between processes sharing the port (--reuse-port), or NULL. */
sb_http_handoff_t *sb_server_handoff(sb_server_t *s);
sb_conn_ctx_t *sb_server_conns(sb_server_t *s);
/* The TLS context (--tls-cert), or NULL when the server speaks plain TCP. */
sb_tls_t *sb_server_tls(sb_server_t *s);
/* How free heap memory was given back to the kernel (core/heap.h). */
const sb_heap_trimmer_t *sb_server_heap(const sb_server_t *s);
/* A raw WebSocket endpoint at `path`: on_open, then h's callbacks. */
int sb_server_ws_route(sb_server_t *s, const char *path, sb_ws_open_fn on_open,
                       const sb_ws_handler_t *h, void *ud);
/* A raw Engine.IO endpoint at `path` with its own handler (no Socket.IO). */
sb_eio_server_t *sb_server_eio_endpoint(sb_server_t *s, const char *path, const sb_eio_handler_t *h,
                                        void *ud);
/* Called once per second on the loop (metrics, housekeeping). */
void sb_server_on_tick(sb_server_t *s, void (*fn)(void *ud), void *ud);
/* The public layer's state riding on the server (app/public_*.c, the
 * include/switchboard.h API): sb_server_destroy() calls dispose_ext(ext)
 * first, while the loop, HTTP server and namespaces still exist, and
 * free_ext(ext) last, after them. */
void sb_server_set_ext(sb_server_t *s, void *ext, void (*dispose_ext)(void *ext),
                       void (*free_ext)(void *ext));
void *sb_server_ext(const sb_server_t *s);
/* The server whose loop `l` is (sb_server_loop()'s inverse). */
sb_server_t *sb_server_of_loop(sb_loop_t *l);
/* Called when shutdown begins, before connections are told. */
void sb_server_on_shutdown(sb_server_t *s, void (*fn)(void *ud), void *ud);

#endif
