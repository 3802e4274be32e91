/* Private to src/http/. */
#ifndef SB_HTTP_INTERNAL_H
#define SB_HTTP_INTERNAL_H

#include "core/log.h"
#include "http/http.h"

typedef struct {
    char *path;
    size_t path_n;
    bool prefix;
    bool strict; /* a prefix route that does not take its path without the slash */
    sb_http_handler_fn fn;
    void *ud;
} sb_http_route_t;

struct sb_http_server {
    sb_conn_ctx_t *ctx;
    sb_http_config_t cfg;
    char *cors;
    sb_io_t listen_io;
    int port;
    char bound[64]; /* "[::]:3000", "127.0.0.1:3000": where it listens */
    int spare_fd;   /* reserve descriptor for shedding load at EMFILE */
    uint64_t shed_logged_ms;
    sb_log_limiter_t accept_log; /* accept() failures other than running out of descriptors */
    sb_http_route_t *routes;
    size_t nroutes;
    sb_http_handler_fn fallback;
    void *fallback_ud;
    sb_http_stats_t stats;
};

typedef enum { SB_HC_HEAD, SB_HC_BODY, SB_HC_WAITING } sb_hc_state_t;

typedef struct {
    sb_conn_t *conn;
    sb_http_server_t *srv;
    sb_hc_state_t state;
    sb_http_req_t *req;
    uint64_t body_need;
    size_t body_cap;
    sb_http_chunked_t chunk;
    bool chunked, body_done, head_started, in_data;
    bool refuse; /* over a connection limit: answer 503 and close */
    /* While a request is routed: the input after it (sb_http_req_serialize). */
    const char *rest;
    size_t rest_n;
    /* sb_http_req_when_flushed: called once the output queue is empty. */
    sb_http_handler_fn flushed_fn;
    void *flushed_ud;
} sb_http_conn_t;

/* Answers without a request object (parse errors, timeouts) and closes. */
void sb_http__send_simple_error(sb_http_conn_t *hc, int status, const char *code, const char *msg);
/* Hands a complete request to its route (router.c). */
void sb_http__route(sb_http_server_t *s, sb_http_req_t *r);

/* A request's life (request.c). Creates the request from the parsed head,
 * copying it: NULL when out of memory. */
sb_http_req_t *sb_http__req_create(sb_http_conn_t *hc, const char *head, size_t n,
                                   const sb_http_request_t *pr);
/* Frees it; a request never answered tells its on_answer observer so. */
void sb_http__req_free(sb_http_req_t *r);
size_t sb_http__req_header_count(const sb_http_req_t *r, const char *name);
bool sb_http__req_wants_keep_alive(const sb_http_req_t *r);
/* After the answer: frees the request, and the connection reads the next
 * one (keep_alive) or closes once its output is flushed. */
void sb_http__finish_request(sb_http_req_t *r, bool keep_alive);

/* A TLS connection relayed to the process that serves its requests
 * (relay.c, for handoff.c). */
typedef struct sb_http_relay sb_http_relay_t;
/* Serves `fd`, this process's end of a local stream socket whose other end
 * the owner serves. Takes fd. NULL when out of memory. */
sb_http_relay_t *sb_http__relay_open(sb_conn_ctx_t *ctx, int fd);
/* The owner was never reached: closes the socket and frees the relay. */
void sb_http__relay_cancel(sb_http_relay_t *r);
/* From now on `client` (detached from its request) and the socket pass
 * each other's bytes, what `client` already holds unread first. */
void sb_http__relay_attach(sb_http_relay_t *r, sb_conn_t *client);

#endif
