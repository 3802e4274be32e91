/* Server-Sent Events: streams over taken-over connections (the wire format is
 * sse_format.c's). */
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
        sb_conn_write(s->conn, retry, sb_http_sse_format_retry(retry_ms, retry, sizeof retry));
    }
    return s;
}

int sb_http_sse_send(sb_http_sse_t *s, const char *event, const char *id, const char *data,
                     size_t n) {
    if (s->closing || (s->conn->flags & SB_CONN_CLOSING))
        return SB_ECLOSED;
    size_t need = sb_http_sse_format_size(event, id, data, n);
    char stack[2048], *buf = need <= sizeof stack ? stack : malloc(need);
    if (!buf)
        return SB_ENOMEM;
    size_t len = sb_http_sse_format(event, id, data, n, buf, need);
    int rc = len ? sb_conn_write(s->conn, buf, len) : SB_EINVAL;
    if (buf != stack)
        free(buf);
    return rc < 0 ? rc : SB_OK;
}

int sb_http_sse_comment(sb_http_sse_t *s, const char *text) {
    if (s->closing || (s->conn->flags & SB_CONN_CLOSING))
        return SB_ECLOSED;
    char line[256];
    size_t n = sb_http_sse_format_comment(sb_cstr(text), line, sizeof line);
    if (!n)
        return SB_EINVAL;
    int rc = sb_conn_write(s->conn, line, n);
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
