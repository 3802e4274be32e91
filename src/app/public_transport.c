/* include/switchboard.h: raw WebSocket routes, raw Engine.IO endpoints,
 * plain HTTP routes and logging. The ws and eio send/close functions are
 * the layers' own (same declarations), so they need no adapter here. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "app/public_internal.h"
#include "http/http.h"

typedef struct {
    sb_ws_callbacks_t cb;
    sb_ws_handler_t h;
    void *ud;
} ws_route_t;

static void on_ws_open(sb_ws_t *ws, void *ud) {
    ws_route_t *r = ud;
    sb_ws_set_data(ws, r->ud);
    if (r->cb.on_open)
        r->cb.on_open(ws, r->ud);
}

static void ws_no_message(sb_ws_t *ws, const char *p, size_t n, bool binary) {}
static void ws_no_close(sb_ws_t *ws, uint16_t code) {}

int sb_server_add_ws_route(sb_server_t *srv, const char *path, const sb_ws_callbacks_t *cb,
                           void *ud) {
    ws_route_t *r = sb_pub__keep(srv, sizeof *r);
    if (!r)
        return SB_ENOMEM;
    *r = (ws_route_t){.cb = *cb,
                      .h = {.on_message = cb->on_message ? cb->on_message : ws_no_message,
                            .on_close = cb->on_close ? cb->on_close : ws_no_close},
                      .ud = ud};
    return sb_server_ws_route(srv, path, on_ws_open, &r->h, r);
}

static void eio_no_open(sb_eio_session_t *s, void *ud) {}
static void eio_no_message(sb_eio_session_t *s, const char *p, size_t n, bool binary) {}
static void eio_no_close(sb_eio_session_t *s, const char *reason) {}

int sb_server_add_eio_endpoint(sb_server_t *srv, const char *path, const sb_eio_callbacks_t *cb,
                               void *ud) {
    sb_eio_handler_t *h = sb_pub__keep(srv, sizeof *h);
    if (!h)
        return SB_ENOMEM;
    *h = (sb_eio_handler_t){cb->on_open ? cb->on_open : eio_no_open,
                            cb->on_message ? cb->on_message : eio_no_message,
                            cb->on_close ? cb->on_close : eio_no_close};
    return sb_server_eio_endpoint(srv, path, h, ud) ? SB_OK : SB_ETOOBIG;
}

/* ---- HTTP ------------------------------------------------------------------------- */

typedef struct {
    sb_http_fn fn;
    void *ud;
} http_route_t;

static void on_http(sb_http_req_t *req, void *ud) {
    http_route_t *r = ud;
    r->fn((sb_request_t *)req, r->ud);
}

int sb_server_add_http_route(sb_server_t *srv, const char *path, sb_http_fn fn, void *ud) {
    http_route_t *r = sb_pub__keep(srv, sizeof *r);
    if (!r)
        return SB_ENOMEM;
    *r = (http_route_t){fn, ud};
    return sb_http_route(sb_server_http(srv), path, on_http, r);
}

static const char *view(sb_str_t s, size_t *n) {
    *n = s.n;
    return s.p ? s.p : "";
}

const char *sb_request_method(const sb_request_t *req, size_t *n) {
    return view(((const sb_http_req_t *)req)->method, n);
}

const char *sb_request_path(const sb_request_t *req, size_t *n) {
    return view(((const sb_http_req_t *)req)->path, n);
}

const char *sb_request_body(const sb_request_t *req, size_t *n) {
    const sb_http_req_t *r = (const sb_http_req_t *)req;
    *n = r->body ? r->body_len : 0;
    return r->body ? r->body : "";
}

const char *sb_request_header(const sb_request_t *req, const char *name, size_t *n) {
    const sb_str_t *v = sb_http_req_header((const sb_http_req_t *)req, name);
    *n = v ? v->n : 0;
    return v ? v->p : NULL;
}

bool sb_request_query(const sb_request_t *req, const char *key, char *out, size_t cap) {
    return sb_http_req_query((const sb_http_req_t *)req, key, out, cap);
}

void sb_request_respond(sb_request_t *req, int status, const char *content_type, const void *body,
                        size_t n) {
    sb_http_respond((sb_http_req_t *)req, status, content_type, body, n, NULL);
}

/* ---- logging ------------------------------------------------------------------------ */

void sb_logf(int level, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    if (level < (int)sb_log_cfg.level || level < SB_LOG_DEBUG || level >= SB_LOG_OFF)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sb__log((sb_log_level_t)level, "%s", msg);
}

int sb_log_set_level(int level) {
    if (level < SB_LOG_DEBUG || level > SB_LOG_OFF)
        return SB_EINVAL;
    sb_log_cfg.level = (sb_log_level_t)level;
    return SB_OK;
}
