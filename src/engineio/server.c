/* Engine.IO request dispatch: parameter checks with the reference server's
 * error answers, the session registry, and handshakes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "engineio/eio_internal.h"

static const char *const error_messages[] = {
    "Transport unknown",  "Session ID unknown", "Bad handshake method",
    "Bad request",        "Forbidden",          "Unsupported protocol version",
};

enum { E_TRANSPORT, E_SID, E_METHOD, E_BAD, E_FORBIDDEN, E_VERSION };

void sb_eio__respond_error(sb_http_req_t *req, int code) {
    char body[96];
    int n = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code, error_messages[code]);
    sb_http_respond(req, code == E_FORBIDDEN ? 403 : 400, "application/json", body, (size_t)n, NULL);
}

/* ---- registry: chained hash on the sid ------------------------------------------ */

static size_t bucket_of(const sb_eio_server_t *srv, const char *sid) {
    return (size_t)sb_str_hash(sb_cstr(sid)) & (srv->nbuckets - 1);
}

sb_eio_session_t *sb_eio__find(sb_eio_server_t *srv, const char *sid) {
    for (sb_eio_session_t *s = srv->buckets[bucket_of(srv, sid)]; s; s = s->hash_next)
        if (strcmp(s->sid, sid) == 0)
            return s;
    return NULL;
}

static int registry_grow(sb_eio_server_t *srv) {
    size_t nb = srv->nbuckets * 2;
    sb_eio_session_t **b = calloc(nb, sizeof *b);
    if (!b)
        return SB_ENOMEM;
    for (size_t i = 0; i < srv->nbuckets; i++) {
        sb_eio_session_t *s = srv->buckets[i], *next;
        for (; s; s = next) {
            next = s->hash_next;
            size_t at = (size_t)sb_str_hash(sb_cstr(s->sid)) & (nb - 1);
            s->hash_next = b[at];
            b[at] = s;
        }
    }
    free(srv->buckets);
    srv->buckets = b;
    srv->nbuckets = nb;
    return SB_OK;
}

int sb_eio__register(sb_eio_server_t *srv, sb_eio_session_t *s) {
    if (srv->count >= srv->nbuckets && registry_grow(srv) != SB_OK)
        return SB_ENOMEM;
    size_t at = bucket_of(srv, s->sid);
    s->hash_next = srv->buckets[at];
    srv->buckets[at] = s;
    srv->count++;
    return SB_OK;
}

void sb_eio__unregister(sb_eio_server_t *srv, sb_eio_session_t *s) {
    for (sb_eio_session_t **pp = &srv->buckets[bucket_of(srv, s->sid)]; *pp; pp = &(*pp)->hash_next) {
        if (*pp == s) {
            *pp = s->hash_next;
            srv->count--;
            return;
        }
    }
}

/* ---- requests -------------------------------------------------------------------- */

static void handshake_polling(sb_eio_server_t *srv, sb_http_req_t *req) {
    sb_eio_session_t *s = sb_eio__session_create(srv, req, SB_EIO_POLLING);
    if (!s) {
        sb_http_respond_error(req, 503, "unavailable", "cannot create session");
        return;
    }
    char open[256];
    size_t n = sb_eio__open_packet(s, open, sizeof open);
    sb_http_respond(req, 200, "text/plain; charset=UTF-8", open, n, NULL);
    srv->stats.polling_sessions++;
    sb_eio__session_opened(s);
}

static void handle_with_sid(sb_eio_server_t *srv, sb_http_req_t *req, const char *sid, bool ws) {
    sb_eio_session_t *s = sb_eio__find(srv, sid);
    if (!s || s->closing) {
        sb_eio__respond_error(req, E_SID);
        return;
    }
    if (ws) {
        if (s->transport == SB_EIO_POLLING && !s->upgrading && sb_ws_is_upgrade(req))
            sb_eio__ws_upgrade(s, req);
        else
            sb_eio__respond_error(req, E_BAD);
        return;
    }
    if (s->transport != SB_EIO_POLLING)
        sb_eio__respond_error(req, E_BAD);
    else if (sb_str_eq(req->method, SB_LIT("GET")))
        sb_eio__polling_get(s, req);
    else if (sb_str_eq(req->method, SB_LIT("POST")))
        sb_eio__polling_post(s, req);
    else
        sb_eio__respond_error(req, E_BAD);
}

static void handle_handshake(sb_eio_server_t *srv, sb_http_req_t *req, bool ws) {
    char eio[8];
    if (!sb_str_eq(req->method, SB_LIT("GET"))) {
        sb_eio__respond_error(req, E_METHOD);
        return;
    }
    if (!sb_http_req_query(req, "EIO", eio, sizeof eio) || strcmp(eio, "4") != 0) {
        sb_eio__respond_error(req, E_VERSION);
        return;
    }
    if (ws && !sb_ws_is_upgrade(req)) {
        sb_eio__respond_error(req, E_BAD);
        return;
    }
    if (ws)
        sb_eio__ws_open(srv, req);
    else
        handshake_polling(srv, req);
}

void sb_eio_handle_request(sb_http_req_t *req, void *ud) {
    sb_eio_server_t *srv = ud;
    char transport[16], sid[64];
    if (!sb_http_req_query(req, "transport", transport, sizeof transport) ||
        (strcmp(transport, "polling") != 0 && strcmp(transport, "websocket") != 0) ||
        (!srv->cfg.allow_polling && transport[0] == 'p') ||
        (!srv->cfg.allow_websocket && transport[0] == 'w')) {
        sb_eio__respond_error(req, E_TRANSPORT);
        return;
    }
    if (!sb_http_origin_allowed(req)) {
        sb_eio__respond_error(req, E_FORBIDDEN);
        return;
    }
    bool ws = transport[0] == 'w';
    if (sb_http_req_query(req, "sid", sid, sizeof sid))
        handle_with_sid(srv, req, sid, ws);
    else
        handle_handshake(srv, req, ws);
}

/* ---- server ---------------------------------------------------------------------- */

sb_eio_server_t *sb_eio_server_create(sb_loop_t *loop, const sb_eio_config_t *cfg,
                                      const sb_eio_handler_t *h, void *ud) {
    sb_eio_server_t *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->nbuckets = 64;
    srv->buckets = calloc(srv->nbuckets, sizeof *srv->buckets);
    if (!srv->buckets) {
        free(srv);
        return NULL;
    }
    srv->loop = loop;
    srv->cfg = *cfg;
    srv->h = h;
    srv->ud = ud;
    srv->ws_close_code = SB_WS_CLOSE_NORMAL;
    return srv;
}

void sb_eio_server_close_all(sb_eio_server_t *srv) {
    srv->ws_close_code = SB_WS_CLOSE_GOING_AWAY;
    for (size_t i = 0; i < srv->nbuckets; i++)
        for (sb_eio_session_t *s = srv->buckets[i]; s; s = s->hash_next)
            sb_eio_close(s, "server shutting down");
}

void sb_eio_server_destroy(sb_eio_server_t *srv) {
    if (!srv)
        return;
    free(srv->buckets);
    free(srv);
}

size_t sb_eio_server_session_count(const sb_eio_server_t *srv) { return srv->count; }
const sb_eio_stats_t *sb_eio_server_stats(const sb_eio_server_t *srv) { return &srv->stats; }
void *sb_eio_server_data(const sb_eio_server_t *srv) { return srv->ud; }
