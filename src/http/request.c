/* A request's life: its own copy of the head, lookups in it, and its end:
 * the connection goes back to reading the next request (or closes), or is
 * handed over whole (an upgrade, a stream), or serialized again for another
 * process (http/handoff.h). Apart from server.c, which
 * frames requests, so that response.c can end one without calling back
 * into the connection's state machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "http/http.h"
#include "http/http_internal.h"

void sb_http__req_free(sb_http_req_t *r) {
    if (!r)
        return;
    if (r->on_answer)
        r->on_answer(r, 0, NULL, 0); /* ends unanswered */
    free(r->_head);
    free(r->body);
    free(r);
}

/* Copies the head so the request outlives the connection's input buffer. */
sb_http_req_t *sb_http__req_create(sb_http_conn_t *hc, const char *head, size_t n,
                                   const sb_http_request_t *pr) {
    sb_http_req_t *r = calloc(1, sizeof *r);
    char *copy = r ? malloc(n + 1) : NULL;
    if (!copy) {
        free(r);
        return NULL;
    }
    memcpy(copy, head, n);
    copy[n] = '\0';
#define REBASE(s) ((sb_str_t){(s).p ? copy + ((s).p - head) : NULL, (s).n})
    r->method = REBASE(pr->method);
    r->path = REBASE(pr->path);
    r->query = REBASE(pr->query);
    r->num_headers = pr->num_headers;
    for (size_t i = 0; i < pr->num_headers; i++) {
        r->headers[i].name = REBASE(pr->headers[i].name);
        r->headers[i].value = REBASE(pr->headers[i].value);
    }
#undef REBASE
    r->minor_version = pr->minor_version;
    r->_head = copy;
    r->conn = hc->conn;
    r->server = hc->srv;
    return r;
}

const sb_str_t *sb_http_req_header(const sb_http_req_t *r, const char *name) {
    sb_str_t key = sb_cstr(name);
    for (size_t i = 0; i < r->num_headers; i++)
        if (sb_str_ieq(r->headers[i].name, key))
            return &r->headers[i].value;
    return NULL;
}

size_t sb_http__req_header_count(const sb_http_req_t *r, const char *name) {
    size_t count = 0;
    for (size_t i = 0; i < r->num_headers; i++)
        count += sb_str_ieq(r->headers[i].name, sb_cstr(name));
    return count;
}

bool sb_http_req_query(const sb_http_req_t *r, const char *key, char *out, size_t cap) {
    size_t n = 0;
    if (cap == 0 || !sb_http_query_get(r->query, sb_cstr(key), out, cap - 1, &n))
        return false;
    out[n] = '\0';
    return true;
}

bool sb_http__req_wants_keep_alive(const sb_http_req_t *r) {
    const sb_str_t *c = sb_http_req_header(r, "connection");
    if (r->minor_version == 0)
        return c && sb_http_token_list_has(*c, SB_LIT("keep-alive"));
    return !(c && sb_http_token_list_has(*c, SB_LIT("close")));
}

/* After a response: back to reading the next request, or close. */
static void hc_finish(sb_http_conn_t *hc, bool keep_alive) {
    hc->req = NULL;
    hc->state = SB_HC_HEAD;
    if (!keep_alive) {
        sb_conn_close_after_flush(hc->conn);
        return;
    }
    sb_timer_start(&hc->conn->timer, hc->conn->in_len ? hc->srv->cfg.header_timeout_ms
                                                      : hc->srv->cfg.keepalive_timeout_ms);
    if (!hc->in_data)
        sb_conn_resume(hc->conn);
}

void sb_http__finish_request(sb_http_req_t *r, bool keep_alive) {
    sb_http_conn_t *hc = r->conn->ud;
    sb_http__req_free(r);
    hc_finish(hc, keep_alive);
}

/* The input the client sent after `r`: while it is routed, the rest of
 * the bytes being parsed; later (it waited), what the connection keeps. */
static sb_str_t input_after(const sb_http_req_t *r) {
    const sb_http_conn_t *hc = r->conn->ud;
    if (hc->in_data)
        return sb_str(hc->rest, hc->rest_n);
    return sb_str(r->conn->inbuf, r->conn->in_len);
}

int sb_http_req_serialize(const sb_http_req_t *r, bool with_rest, char **out, size_t *n) {
    sb_str_t rest = with_rest ? input_after(r) : sb_str(NULL, 0);
    const char *eol = strchr(r->_head, '\n');
    size_t line = eol ? (size_t)(eol - r->_head) + 1 : strlen(r->_head);
    size_t cap = line + 64 + r->body_len + rest.n;
    for (size_t i = 0; i < r->num_headers; i++)
        cap += r->headers[i].name.n + r->headers[i].value.n + 4;
    char *buf = malloc(cap), *w = buf;
    if (!buf)
        return SB_ENOMEM;
    memcpy(w, r->_head, line);
    w += line;
    for (size_t i = 0; i < r->num_headers; i++) {
        const sb_http_header_t *h = &r->headers[i];
        if (sb_str_ieq(h->name, SB_LIT("content-length")) ||
            sb_str_ieq(h->name, SB_LIT("transfer-encoding")))
            continue;
        w += sprintf(w, "%.*s: %.*s\r\n", (int)h->name.n, h->name.p, (int)h->value.n, h->value.p);
    }
    if (r->body_len)
        w += sprintf(w, "Content-Length: %zu\r\n", r->body_len);
    w += sprintf(w, "\r\n");
    memcpy(w, r->body, r->body_len);
    w += r->body_len;
    if (rest.n)
        memcpy(w, rest.p, rest.n);
    w += rest.n;
    *out = buf;
    *n = (size_t)(w - buf);
    return SB_OK;
}

sb_conn_t *sb_http_req_detach(sb_http_req_t *r) {
    sb_conn_t *c = r->conn;
    sb_http_conn_t *hc = c->ud;
    sb_timer_stop(&c->timer);
    c->timer.cb = NULL;
    sb_http__req_free(r);
    free(hc);
    c->ud = NULL;
    return c;
}
