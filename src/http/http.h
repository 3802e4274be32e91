/* HTTP/1.1 server side: reads requests (Content-Length or chunked bodies)
 * off a connection within strict limits, routes them by path, and writes
 * responses, with CORS. A handler may answer later (long-polling) or take the
 * connection over (WebSocket upgrade). */
#ifndef SB_HTTP_HTTP_H
#define SB_HTTP_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conn.h"
#include "core/str.h"
#include "http/parser.h"

#define SB_HTTP_MAX_HEADERS 100

typedef struct sb_http_server sb_http_server_t;
typedef struct sb_http_req sb_http_req_t;

typedef void (*sb_http_handler_fn)(sb_http_req_t *req, void *ud);

struct sb_http_req {
    sb_str_t method, path, query;
    sb_http_header_t headers[SB_HTTP_MAX_HEADERS];
    size_t num_headers;
    int minor_version;
    char *body; /* NUL-terminated; owned by the request */
    size_t body_len;
    bool keep_alive;
    sb_conn_t *conn;
    sb_http_server_t *server;
    /* Called if the connection dies while the request waits for its answer;
     * the request is freed right after. */
    void (*on_abort)(sb_http_req_t *req);
    void *ud;
    /* Optional observer of the answer (e.g. an idempotency cache), independent
     * of on_abort/ud: called once, with the status and body just before they
     * are written, or with status 0 when the request ends unanswered. */
    void (*on_answer)(sb_http_req_t *req, int status, const char *body, size_t n);
    void *answer_ud;
    char *_head;        /* private copy the slices point into */
    uint64_t _start_ms; /* loop time the request was routed */
    bool _log;          /* answered with a log line (sb_http_config_t.log_requests) */
};

typedef struct {
    sb_http_limits_t limits;
    uint64_t max_body;
    uint32_t header_timeout_ms;
    uint32_t keepalive_timeout_ms;
    const char *cors_origins; /* comma list, "*" for any; empty: any origin, no credentials */
    /* At info, a line per answered request, except on Engine.IO endpoints
     * (sb_http_route_under: their sessions have lines of their own) and a
     * successful /health (load balancers poll it). */
    bool log_requests;
    /* SO_REUSEPORT: other processes of the same user may listen on the same
     * port, and the kernel spreads new connections over them. */
    bool reuse_port;
} sb_http_config_t;

typedef struct {
    uint64_t requests, errors_4xx;
} sb_http_stats_t;

sb_http_server_t *sb_http_server_create(sb_conn_ctx_t *ctx, const sb_http_config_t *cfg);
void sb_http_server_destroy(sb_http_server_t *s);
/* Routes requests whose path equals `path`, or starts with it when it ends
 * in '/' (then the path without that slash matches too). The first
 * matching route wins. Returns SB_OK or SB_ENOMEM. */
int sb_http_route(sb_http_server_t *s, const char *path, sb_http_handler_fn fn, void *ud);
/* Same, for a path ending in '/' that must be given with its slash: the
 * Engine.IO endpoints ("/socket.io" is 404, as with the reference). */
int sb_http_route_under(sb_http_server_t *s, const char *path, sb_http_handler_fn fn, void *ud);
/* Same as sb_http_route, but ahead of every route added so far (an exact
 * file under a prefix another route serves). */
int sb_http_route_first(sb_http_server_t *s, const char *path, sb_http_handler_fn fn, void *ud);
/* The handler of requests no route matches (a static-file folder), instead of
 * the 404 answer; fn NULL restores that. */
void sb_http_set_fallback(sb_http_server_t *s, sb_http_handler_fn fn, void *ud);
/* Listens on host:port (port 0: any free port). Returns SB_OK or SB_EIO. */
int sb_http_listen(sb_http_server_t *s, const char *host, int port);
int sb_http_bound_port(const sb_http_server_t *s);
/* Where it listens, as "ADDR:PORT" ("[::]:3000" for IPv6): after a
 * fallback from "::" this says 0.0.0.0. */
const char *sb_http_bound_address(const sb_http_server_t *s);
/* Stops accepting new connections. */
void sb_http_stop_listening(sb_http_server_t *s);
const sb_http_stats_t *sb_http_stats(const sb_http_server_t *s);

/* Finds a request header (case-insensitive); NULL if absent. */
const sb_str_t *sb_http_req_header(const sb_http_req_t *r, const char *name);
/* Looks up a percent-decoded query parameter into out. */
bool sb_http_req_query(const sb_http_req_t *r, const char *key, char *out, size_t cap);

/* Answers and frees the request; `extra` is more header lines, each ending
 * in CRLF, or NULL. CORS headers are added from the server's policy. */
void sb_http_respond(sb_http_req_t *r, int status, const char *content_type, const void *body,
                     size_t n, const char *extra);
/* Answers {"error":{"code":code,"message":message}} with `status`. */
void sb_http_respond_error(sb_http_req_t *r, int status, const char *code, const char *message);
/* Answers with a ready frame as the body (shared, not copied). */
void sb_http_respond_frame(sb_http_req_t *r, int status, const char *content_type, sb_frame_t *body,
                           const char *extra);
/* True if the request's Origin is allowed by the CORS policy (or absent). */
bool sb_http_origin_allowed(const sb_http_req_t *r);
/* Answers with a head that has no Content-Length (a stream: Server-Sent
 * Events), CORS headers included, then hands the connection over as
 * sb_http_req_detach() does: the caller writes the body and replaces the
 * handler. `extra` is more header lines ending in CRLF, or NULL. */
sb_conn_t *sb_http_respond_stream(sb_http_req_t *r, int status, const char *content_type,
                                  const char *extra);
/* Calls fn(r, ud) once everything queued on r's connection is written: at
 * once when nothing is, else when the queue drains (the request waits
 * meanwhile and no later request on the connection is read). A request
 * pipelined behind an answer still queued can so move the connection
 * elsewhere (http/handoff.h) without losing that answer. If the connection
 * dies first, or its peer reads nothing for --header-timeout, fn is never
 * called (on_abort is, as for any waiting request). */
void sb_http_req_when_flushed(sb_http_req_t *r, sb_http_handler_fn fn, void *ud);
/* The request as bytes another server can parse again (http/handoff.h):
 * its request line and headers as received, except that a chunked body is
 * given with Content-Length instead, then its body, then (with_rest)
 * whatever the client already sent after it. From its handler, or from a
 * sb_http_req_when_flushed callback. Sets *out (malloc'ed) and *n; SB_OK or
 * SB_ENOMEM. */
int sb_http_req_serialize(const sb_http_req_t *r, bool with_rest, char **out, size_t *n);
/* Serves a connection accepted elsewhere (passed by another process) as if
 * accepted here from `peer`, `bytes` being what was already read from it.
 * It speaks plain HTTP even if this server speaks TLS: a process passes
 * only plain sockets, relaying its TLS connections (http/handoff.h). Takes
 * fd (closed on failure). SB_OK, SB_ENOMEM, SB_ETOOBIG. */
int sb_http_adopt(sb_http_server_t *s, int fd, const struct sockaddr_storage *peer,
                  const void *bytes, size_t n);
/* Hands the connection to another protocol: the request is freed, the
 * connection stays open and its handler must be replaced by the caller. */
sb_conn_t *sb_http_req_detach(sb_http_req_t *r);

#endif
