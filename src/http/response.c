/* Response writing and CORS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "http/http.h"
#include "http/http_internal.h"

#define SB_HTTP_HEAD_MAX 2048

/* ---- CORS ----------------------------------------------------------------- */

/* Whether `origin` is in the comma list by name (or, with any_ok, through
 * a `*` item). */
static bool origin_in_list(const char *list, sb_str_t origin, bool any_ok) {
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        sb_str_t item = {p, n};
        while (item.n && item.p[0] == ' ')
            item.p++, item.n--;
        while (item.n && item.p[item.n - 1] == ' ')
            item.n--;
        if ((any_ok && sb_str_eq(item, SB_LIT("*"))) || sb_str_eq(item, origin))
            return true;
        p = e ? e + 1 : p + n;
    }
    return false;
}

static bool origin_listed(const char *list, sb_str_t origin) {
    return origin_in_list(list, origin, true);
}

bool sb_http_origin_allowed(const sb_http_req_t *r) {
    const sb_str_t *origin = sb_http_req_header(r, "origin");
    const char *list = r->server->cfg.cors_origins;
    return !origin || list[0] == '\0' || origin_listed(list, *origin);
}

/* Writes the CORS response headers for r into out; returns bytes written. */
static size_t cors_headers(const sb_http_req_t *r, char *out, size_t cap) {
    const sb_str_t *origin = sb_http_req_header(r, "origin");
    const char *list = r->server->cfg.cors_origins;
    if (!origin || origin->n > 512)
        return 0;
    /* Credentials only for an origin listed by name; `*` (or no list) lets
     * any page read the answers, never with the user's cookies. */
    bool named = list[0] != '\0' && origin_in_list(list, *origin, false);
    if (!named && (list[0] == '\0' || origin_listed(list, *origin)))
        return (size_t)snprintf(out, cap, "Access-Control-Allow-Origin: *\r\n");
    if (!named)
        return 0;
    int n = snprintf(out, cap,
                     "Access-Control-Allow-Origin: %.*s\r\nAccess-Control-Allow-Credentials: "
                     "true\r\nVary: Origin\r\n",
                     (int)origin->n, origin->p);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ---- responses -------------------------------------------------------------- */

static size_t write_head(char *out, size_t cap, int status, const char *ctype, size_t body_n,
                         bool keep_alive, const char *cors, const char *extra) {
    int n = snprintf(out, cap, "HTTP/1.1 %d %s\r\n%s%s%s%sContent-Length: %zu\r\n%s%s\r\n", status,
                     sb_http_status_reason(status), ctype ? "Content-Type: " : "",
                     ctype ? ctype : "", ctype ? "\r\n" : "",
                     keep_alive ? "" : "Connection: close\r\n", body_n, cors, extra ? extra : "");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* "http request method=GET path=/api/stats status=200 remote=… duration_ms=…" */
static void log_request(const sb_http_req_t *r, int status) {
    if (SB_LOG_INFO < sb_log_cfg.level || (status < 300 && sb_str_eq(r->path, SB_LIT("/health"))))
        return;
    char ip[64], method[16], path[256];
    sb_conn_peer_ip(r->conn, ip, sizeof ip);
    snprintf(method, sizeof method, "%.*s", (int)r->method.n, r->method.p);
    snprintf(path, sizeof path, "%.*s", (int)r->path.n, r->path.p);
    sb_log_field_t fields[] = {
        {"method", method, 0},
        {"path", path, 0},
        {"status", NULL, status},
        {"remote", ip, 0},
        {"duration_ms", NULL, (int64_t)(r->conn->ctx->loop->now_ms - r->_start_ms)}};
    sb__log_fields(SB_LOG_INFO, "http request", fields, sizeof fields / sizeof fields[0]);
}

void sb_http_respond_frame(sb_http_req_t *r, int status, const char *ctype, sb_frame_t *body,
                           const char *extra) {
    if (r->_log)
        log_request(r, status);
    char head[SB_HTTP_HEAD_MAX], cors[768];
    size_t body_n = body ? body->len : 0;
    bool keep = r->keep_alive && !(r->conn->flags & SB_CONN_CLOSE_AFTER);
    size_t cors_n = cors_headers(r, cors, sizeof cors);
    cors[cors_n] = '\0';
    size_t hn = write_head(head, sizeof head, status, ctype, body_n, keep, cors, extra);
    if (status >= 400 && status < 500)
        r->server->stats.errors_4xx++;
    if (r->on_answer) {
        void (*observer)(sb_http_req_t *, int, const char *, size_t) = r->on_answer;
        r->on_answer = NULL;
        observer(r, status, body ? body->data : NULL, body_n);
    }
    sb_conn_write(r->conn, head, hn);
    if (body_n && !sb_str_eq(r->method, SB_LIT("HEAD"))) /* HEAD: headers only */
        sb_conn_write_frame(r->conn, body, body->data, body_n);
    sb_http__finish_request(r, keep);
}

void sb_http_respond(sb_http_req_t *r, int status, const char *ctype, const void *body, size_t n,
                     const char *extra) {
    sb_frame_t *f = n ? sb_frame_create(body, n, 0) : NULL;
    if (n && !f) {
        sb_conn_close(r->conn);
        sb_http__finish_request(r, false);
        return;
    }
    sb_http_respond_frame(r, status, ctype, f, extra);
    if (f)
        sb_frame_unref(f);
}

sb_conn_t *sb_http_respond_stream(sb_http_req_t *r, int status, const char *ctype,
                                  const char *extra) {
    char head[SB_HTTP_HEAD_MAX], cors[768];
    size_t cors_n = cors_headers(r, cors, sizeof cors);
    cors[cors_n] = '\0';
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%s%s\r\n", status,
                     sb_http_status_reason(status), ctype, cors, extra ? extra : "");
    sb_conn_t *c = sb_http_req_detach(r);
    if (n > 0 && (size_t)n < sizeof head)
        sb_conn_write(c, head, (size_t)n);
    else
        sb_conn_close(c);
    return c;
}

/* {"error":{"code":…,"message":…}} with both strings JSON-escaped; a
 * message too long for `out` is replaced by a generic one. */
static size_t error_json(char *out, size_t cap, const char *code, const char *msg) {
    char c[96], m[400];
    size_t cn = sb_json_string_escape(sb_cstr(code), c, sizeof c - 1);
    size_t mn = sb_json_string_escape(sb_cstr(msg), m, sizeof m - 1);
    if (cn >= sizeof c)
        cn = sb_json_string_escape(SB_LIT("error"), c, sizeof c - 1);
    if (mn >= sizeof m)
        mn = sb_json_string_escape(SB_LIT("request failed"), m, sizeof m - 1);
    int n =
        snprintf(out, cap, "{\"error\":{\"code\":%.*s,\"message\":%.*s}}", (int)cn, c, (int)mn, m);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void sb_http_respond_error(sb_http_req_t *r, int status, const char *code, const char *message) {
    char body[512];
    size_t n = error_json(body, sizeof body, code, message);
    sb_http_respond(r, status, "application/json", body, n, NULL);
}

void sb_http__send_simple_error(sb_http_conn_t *hc, int status, const char *code, const char *msg) {
    char body[512], head[512];
    size_t bn = error_json(body, sizeof body, code, msg);
    size_t hn = write_head(head, sizeof head, status, "application/json", bn, false, "", NULL);
    hc->srv->stats.errors_4xx += status < 500;
    sb_conn_write(hc->conn, head, hn);
    sb_conn_write(hc->conn, body, bn);
    sb_conn_close_after_flush(hc->conn);
    sb_timer_stop(&hc->conn->timer);
    hc->state = SB_HC_WAITING; /* read nothing more */
}
