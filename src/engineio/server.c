/* Engine.IO request dispatch: parameter checks with the reference server's
 * error answers, and handshakes (the session registry is registry.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "engineio/eio_internal.h"

/* ---- requests -------------------------------------------------------------------- */

static void handshake_polling(sb_eio_server_t *srv, sb_http_req_t *req) {
    sb_eio_session_t *s = sb_eio__session_create(srv, req, SB_EIO_POLLING);
    if (!s) {
        sb_http_respond_error(req, 503, "unavailable", "cannot create session");
        return;
    }
    char open[256];
    size_t n = sb_eio__open_packet(s, open, sizeof open);
    sb_http_respond(req, 200, "text/plain; charset=UTF-8", open, n, sb_eio__no_store);
    srv->stats.polling_sessions++;
    sb_eio__session_opened(s);
}

static void handshake_websocket(sb_eio_server_t *srv, sb_http_req_t *req) {
    sb_eio_session_t *s = sb_eio__session_create(srv, req, SB_EIO_WEBSOCKET);
    if (!s) {
        sb_http_respond_error(req, 503, "unavailable", "cannot create session");
        return;
    }
    s->ws = sb_eio__ws_accept(s, req);
    if (!s->ws) {
        sb_eio__drop(s, "transport error");
        return;
    }
    char open[256];
    size_t n = sb_eio__open_packet(s, open, sizeof open);
    sb_ws_send(s->ws, open, n, false);
    srv->stats.websocket_sessions++;
    sb_eio__session_opened(s);
}

/* A sid of another process sharing the port: passed to it, or answered. */
static void hand_off_now(sb_http_req_t *req, void *ud) {
    static const char busy[] = "{\"code\":1,\"message\":\"Session owner busy\"}";
    sb_eio_server_t *srv = ud;
    char sid[SB_EIO_SID_LEN + 1] = "";
    sb_http_req_query(req, "sid", sid, sizeof sid);
    int rc = srv->handoff(req, sid[0], srv->handoff_ud);
    if (rc == SB_EAGAIN)
        sb_http_respond(req, 503, "application/json", busy, sizeof busy - 1, "Retry-After: 1\r\n");
    else if (rc != SB_OK)
        sb_eio__respond_error(req, SB_EIO_ERR_SID);
}

/* A request pipelined behind an answer still queued waits for it to be
 * written: the connection moves with everything this process owed on it
 * sent. */
static void hand_off(sb_eio_server_t *srv, sb_http_req_t *req) {
    sb_http_req_when_flushed(req, hand_off_now, srv);
}

static void handle_with_sid(sb_eio_server_t *srv, sb_http_req_t *req, const char *sid, bool ws) {
    sb_eio_session_t *s = sb_eio__find(srv, sid);
    if (!s && srv->handoff && srv->cfg.sid_prefix && sid[0] != srv->cfg.sid_prefix &&
        strlen(sid) == SB_EIO_SID_LEN) {
        hand_off(srv, req);
        return;
    }
    if (!s || sb_eio__expired(s)) {
        sb_eio__respond_error(req, SB_EIO_ERR_SID);
        return;
    }
    if (ws) {
        if (!sb_ws_is_upgrade(req))
            sb_eio__respond_error(req, SB_EIO_ERR_BAD_REQUEST);
        else if (s->transport == SB_EIO_POLLING && !s->upgrading)
            sb_eio__ws_upgrade(s, req);
        else
            sb_eio__ws_refuse(s->srv, req);
        return;
    }
    if (s->transport != SB_EIO_POLLING)
        sb_eio__respond_error(req, SB_EIO_ERR_BAD_REQUEST);
    else if (sb_str_eq(req->method, SB_LIT("GET")))
        sb_eio__polling_get(s, req);
    else if (sb_str_eq(req->method, SB_LIT("POST")))
        sb_eio__polling_post(s, req);
    else
        sb_eio__respond_error(req, SB_EIO_ERR_BAD_REQUEST);
}

/* ---- handshake rate per client address ----------------------------------------- */

#define SB_EIO_BUCKETS_SWEEP 10000

typedef struct {
    sb_eio_server_t *srv;
    sb_str_t keys[256];
    size_t n;
} sweep_t;

/* A bucket that has refilled carries no information: forget it. */
static bool collect_full(sb_str_t key, void *value, void *ud) {
    sweep_t *sw = ud;
    const sb_eio_bucket_t *b = value;
    uint32_t rate = sw->srv->cfg.handshakes_per_second_per_ip;
    if (b->tokens_milli + (sw->srv->loop->now_ms - b->at_ms) * rate >= 2000ull * rate)
        sw->keys[sw->n++] = key;
    return sw->n < sizeof sw->keys / sizeof *sw->keys;
}

static void buckets_sweep(sb_eio_server_t *srv) {
    sweep_t sw = {.srv = srv};
    sb_map_foreach(&srv->handshake_buckets, collect_full, &sw);
    for (size_t i = 0; i < sw.n; i++)
        free(sb_map_del(&srv->handshake_buckets, sw.keys[i]));
}

bool sb_eio_admit_handshake(sb_eio_server_t *srv, const sb_http_req_t *req) {
    uint32_t rate = srv->cfg.handshakes_per_second_per_ip;
    if (rate == 0)
        return true;
    sb_str_t key = sb_str((const char *)&req->conn->peer, sizeof req->conn->peer);
    sb_eio_bucket_t *b = sb_map_get(&srv->handshake_buckets, key);
    uint64_t now = srv->loop->now_ms, cap = 2000ull * rate;
    if (!b) {
        if (srv->handshake_buckets.count >= SB_EIO_BUCKETS_SWEEP)
            buckets_sweep(srv);
        if (srv->handshake_buckets.count >= 100000 || !(b = calloc(1, sizeof *b)) ||
            sb_map_put(&srv->handshake_buckets, key, b) != SB_OK) {
            free(b);
            return true; /* out of memory for bookkeeping: do not refuse real users */
        }
        b->tokens_milli = (uint32_t)cap;
        b->at_ms = now;
    }
    uint64_t tokens = b->tokens_milli + (now - b->at_ms) * rate;
    b->tokens_milli = (uint32_t)(tokens > cap ? cap : tokens);
    b->at_ms = now;
    if (b->tokens_milli < 1000) {
        srv->stats.handshakes_refused++;
        return false;
    }
    b->tokens_milli -= 1000;
    return true;
}

static void handle_handshake(sb_eio_server_t *srv, sb_http_req_t *req, bool ws) {
    char eio[8];
    if (!sb_eio_admit_handshake(srv, req)) {
        sb_http_respond_error(req, 429, "rate_limited", "too many new sessions from this address");
        return;
    }
    if (!sb_str_eq(req->method, SB_LIT("GET"))) {
        sb_eio__respond_error(req, SB_EIO_ERR_METHOD);
        return;
    }
    if (!sb_http_req_query(req, "EIO", eio, sizeof eio) || strcmp(eio, "4") != 0) {
        sb_eio__respond_error(req, SB_EIO_ERR_VERSION);
        return;
    }
    if (ws && !sb_ws_is_upgrade(req)) {
        sb_eio__respond_error(req, SB_EIO_ERR_BAD_REQUEST);
        return;
    }
    if (ws)
        handshake_websocket(srv, req);
    else
        handshake_polling(srv, req);
}

/* True when Engine.IO's own parameters (EIO, transport, sid) appear more
 * than once: which one counts would be a guess, and the reference refuses. */
static bool own_params_repeated(sb_str_t query) {
    static const char *const own[] = {"EIO", "transport", "sid"};
    int seen[3] = {0};
    for (const char *p = query.p, *end = p + query.n; p && p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t n = amp ? (size_t)(amp - p) : (size_t)(end - p);
        const char *eq = memchr(p, '=', n);
        size_t key_n = eq ? (size_t)(eq - p) : n;
        for (int i = 0; i < 3; i++)
            if (key_n == strlen(own[i]) && memcmp(p, own[i], key_n) == 0 && ++seen[i] > 1)
                return true;
        p = amp ? amp + 1 : end;
    }
    return false;
}

void sb_eio_handle_request(sb_http_req_t *req, void *ud) {
    sb_eio_server_t *srv = ud;
    char transport[16], sid[64];
    if (own_params_repeated(req->query)) {
        sb_eio__respond_error(req, SB_EIO_ERR_BAD_REQUEST);
        return;
    }
    if (!sb_http_req_query(req, "transport", transport, sizeof transport) ||
        (strcmp(transport, "polling") != 0 && strcmp(transport, "websocket") != 0) ||
        (!srv->cfg.allow_polling && transport[0] == 'p') ||
        (!srv->cfg.allow_websocket && transport[0] == 'w')) {
        sb_eio__respond_error(req, SB_EIO_ERR_TRANSPORT);
        return;
    }
    if (!sb_http_origin_allowed(req)) {
        sb_eio__respond_error(req, SB_EIO_ERR_FORBIDDEN);
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
    sb_map_init(&srv->handshake_buckets);
    sb_pool_init(&srv->sessions, sizeof(sb_eio_session_t));
    sb_task_init(&srv->close_task, sb_eio__on_close_task);
    srv->ws_ping_cb = sb_eio__on_ws_ping_timer;
    return srv;
}

void sb_eio_server_set_handoff(sb_eio_server_t *srv, sb_eio_handoff_fn fn, void *ud) {
    srv->handoff = fn;
    srv->handoff_ud = ud;
}

void sb_eio_server_close_all(sb_eio_server_t *srv) {
    srv->ws_close_code = SB_WS_CLOSE_GOING_AWAY;
    for (size_t i = 0; i < srv->nbuckets; i++)
        for (sb_eio_session_t *s = srv->buckets[i]; s; s = s->hash_next)
            sb_eio_close(s, "server shutting down");
}

static bool free_bucket(sb_str_t key, void *value, void *ud) {
    free(value);
    return true;
}

void sb_eio_server_destroy(sb_eio_server_t *srv) {
    if (!srv)
        return;
    sb_map_foreach(&srv->handshake_buckets, free_bucket, NULL);
    sb_map_dispose(&srv->handshake_buckets);
    sb_task_cancel(&srv->close_task);
    sb_pool_dispose(&srv->sessions);
    free(srv->buckets);
    free(srv);
}

size_t sb_eio_server_session_count(const sb_eio_server_t *srv) { return srv->count; }
const sb_eio_stats_t *sb_eio_server_stats(const sb_eio_server_t *srv) { return &srv->stats; }
void *sb_eio_server_data(const sb_eio_server_t *srv) { return srv->ud; }
