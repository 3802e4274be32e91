/* Server-Sent Events: the wire format and streams over taken-over connections. */
#include "http/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

struct sb_http_sse {
    sb_conn_t *conn;
    sb_http_sse_close_fn on_close;
    void *ud;
    bool closing;
};

/* ---- the wire format ---------------------------------------------------------- */

static bool has_newline(const char *s) { return s && strpbrk(s, "\r\n") != NULL; }

/* Calls fn on each line of data[0..n): CR, LF and CRLF all end a line, as the
 * reader splits them, so no byte of data can start a field of its own. */
static void each_line(const char *data, size_t n, void (*fn)(const char *p, size_t len, void *ud),
                      void *ud) {
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && data[i] != '\r' && data[i] != '\n')
            continue;
        fn(data + start, i - start, ud);
        if (i + 1 < n && data[i] == '\r' && data[i + 1] == '\n')
            i++;
        start = i + 1;
    }
}

static void count_line(const char *p, size_t len, void *ud) { *(size_t *)ud += 7 + len; }

size_t sb_http_sse_format_size(const char *event, const char *id, const char *data, size_t n) {
    size_t need = 1; /* the blank line that ends the event */
    if (event)
        need += 8 + strlen(event);
    if (id)
        need += 5 + strlen(id);
    each_line(data, n, count_line, &need);
    return need;
}

typedef struct {
    char *out;
    size_t len;
} sb_sse_buf_t;

static void put(sb_sse_buf_t *b, const char *p, size_t n) {
    memcpy(b->out + b->len, p, n);
    b->len += n;
}

static void put_line(const char *p, size_t len, void *ud) {
    put(ud, "data: ", 6);
    put(ud, p, len);
    put(ud, "\n", 1);
}

static void put_field(sb_sse_buf_t *b, const char *name, const char *v) {
    put(b, name, strlen(name));
    put(b, v, strlen(v));
    put(b, "\n", 1);
}

size_t sb_http_sse_format(const char *event, const char *id, const char *data, size_t n, char *out,
                          size_t cap) {
    if (has_newline(event) || has_newline(id) || sb_http_sse_format_size(event, id, data, n) > cap)
        return 0;
    sb_sse_buf_t b = {out, 0};
    if (event)
        put_field(&b, "event: ", event);
    if (id)
        put_field(&b, "id: ", id);
    each_line(data, n, put_line, &b);
    put(&b, "\n", 1);
    return b.len;
}

/* ---- streams ------------------------------------------------------------------ */

static long sse_on_data(sb_conn_t *c, char *p, size_t n) { return (long)n; /* nothing to read */ }

static void sse_on_close(sb_conn_t *c) {
    sb_http_sse_t *s = c->ud;
    if (s->on_close)
        s->on_close(s, s->ud);
    free(s);
}

static void sse_on_shutdown(sb_conn_t *c) {
    sb_http_sse_t *s = c->ud;
    s->closing = true;
    sb_conn_close_after_flush(c);
}

static const sb_conn_handler_t sse_handler = {
    .on_data = sse_on_data,
    .on_close = sse_on_close,
    .on_shutdown = sse_on_shutdown,
};

sb_http_sse_t *sb_http_sse_start(sb_http_req_t *r, uint32_t retry_ms, sb_http_sse_close_fn on_close,
                                 void *ud) {
    sb_http_sse_t *s = calloc(1, sizeof *s);
    if (!s) {
        sb_http_respond_error(r, 500, "internal", "out of memory");
        return NULL;
    }
    s->conn = sb_http_respond_stream(r, 200, "text/event-stream",
                                     "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"
                                     "Connection: close\r\n");
    s->on_close = on_close;
    s->ud = ud;
    s->conn->handler = &sse_handler;
    s->conn->ud = s;
    if (retry_ms) {
        char retry[32];
        int n = snprintf(retry, sizeof retry, "retry: %u\n\n", (unsigned)retry_ms);
        sb_conn_write(s->conn, retry, (size_t)n);
    }
    return s;
}

int sb_http_sse_send(sb_http_sse_t *s, const char *event, const char *id, const char *data,
                     size_t n) {
    if (s->closing || (s->conn->flags & SB_CONN_CLOSING))
        return SB_ECLOSED;
    if (has_newline(event) || has_newline(id))
        return SB_EINVAL;
    size_t need = sb_http_sse_format_size(event, id, data, n);
    char stack[2048], *buf = need <= sizeof stack ? stack : malloc(need);
    if (!buf)
        return SB_ENOMEM;
    size_t len = sb_http_sse_format(event, id, data, n, buf, need);
    int rc = sb_conn_write(s->conn, buf, len);
    if (buf != stack)
        free(buf);
    return rc < 0 ? rc : SB_OK;
}

int sb_http_sse_comment(sb_http_sse_t *s, const char *text) {
    if (s->closing || (s->conn->flags & SB_CONN_CLOSING))
        return SB_ECLOSED;
    if (has_newline(text))
        return SB_EINVAL;
    char line[256];
    int n = snprintf(line, sizeof line, ": %s\n\n", text);
    if (n < 0 || (size_t)n >= sizeof line)
        return SB_EINVAL;
    int rc = sb_conn_write(s->conn, line, (size_t)n);
    return rc < 0 ? rc : SB_OK;
}

size_t sb_http_sse_queued(const sb_http_sse_t *s) { return sb_conn_queued(s->conn); }

void sb_http_sse_abandon(sb_http_sse_t *s) {
    s->on_close = NULL;
    sb_http_sse_close(s);
}

void sb_http_sse_close(sb_http_sse_t *s) {
    if (s->closing)
        return;
    s->closing = true;
    sb_conn_close_after_flush(s->conn);
}
