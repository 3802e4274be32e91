/* Routes: a table of paths (exact or prefix) to handlers, a fallback, and
 * the CORS preflight answered for every route. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "http/http.h"
#include "http/http_internal.h"

static int add_route(sb_http_server_t *s, const char *path, bool strict, bool first,
                     sb_http_handler_fn fn, void *ud) {
    sb_http_route_t *nr = realloc(s->routes, sizeof *nr * (s->nroutes + 1));
    if (!nr)
        return SB_ENOMEM;
    s->routes = nr;
    size_t n = strlen(path), at = first ? 0 : s->nroutes;
    memmove(nr + at + 1, nr + at, sizeof *nr * (s->nroutes - at));
    nr[at] = (sb_http_route_t){(char *)path, n, n > 1 && path[n - 1] == '/', strict, fn, ud};
    s->nroutes++;
    return SB_OK;
}

int sb_http_route(sb_http_server_t *s, const char *path, sb_http_handler_fn fn, void *ud) {
    return add_route(s, path, false, false, fn, ud);
}

int sb_http_route_under(sb_http_server_t *s, const char *path, sb_http_handler_fn fn, void *ud) {
    return add_route(s, path, true, false, fn, ud);
}

int sb_http_route_first(sb_http_server_t *s, const char *path, sb_http_handler_fn fn, void *ud) {
    return add_route(s, path, false, true, fn, ud);
}

void sb_http_set_fallback(sb_http_server_t *s, sb_http_handler_fn fn, void *ud) {
    s->fallback = fn;
    s->fallback_ud = ud;
}

static bool route_matches(const sb_http_route_t *rt, sb_str_t path) {
    if (rt->prefix) /* "/api/conversations/" also matches "/api/conversations" unless strict */
        return (path.n >= rt->path_n && memcmp(path.p, rt->path, rt->path_n) == 0) ||
               (!rt->strict && path.n + 1 == rt->path_n && memcmp(path.p, rt->path, path.n) == 0);
    return path.n == rt->path_n && memcmp(path.p, rt->path, path.n) == 0;
}

/* Answers a CORS preflight for any route. */
static bool handle_preflight(sb_http_req_t *r) {
    const sb_str_t *acrm = sb_http_req_header(r, "access-control-request-method");
    if (!sb_str_eq(r->method, SB_LIT("OPTIONS")) || !acrm || !sb_http_req_header(r, "origin"))
        return false;
    if (!sb_http_origin_allowed(r)) {
        sb_http_respond_error(r, 403, "origin_not_allowed", "origin not allowed");
        return true;
    }
    const sb_str_t *acrh = sb_http_req_header(r, "access-control-request-headers");
    char extra[768];
    int n = snprintf(extra, sizeof extra,
                     "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
                     "Access-Control-Allow-Headers: %.*s\r\nAccess-Control-Max-Age: 86400\r\n",
                     acrh && acrh->n < 512 ? (int)acrh->n : 0, acrh ? acrh->p : "");
    sb_http_respond(r, 204, NULL, NULL, 0, n > 0 ? extra : NULL);
    return true;
}

void sb_http__route(sb_http_server_t *s, sb_http_req_t *r) {
    r->_start_ms = s->ctx->loop->now_ms;
    r->_log = s->cfg.log_requests;
    if (handle_preflight(r))
        return;
    for (size_t i = 0; i < s->nroutes; i++) {
        if (route_matches(&s->routes[i], r->path)) {
            r->_log = r->_log && !s->routes[i].strict;
            s->routes[i].fn(r, s->routes[i].ud);
            return;
        }
    }
    if (s->fallback)
        s->fallback(r, s->fallback_ud);
    else
        sb_http_respond_error(r, 404, "not_found", "no such endpoint");
}
