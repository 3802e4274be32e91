/* The Server-Sent Events wire format (the WHATWG text/event-stream syntax),
 * the one formatter of every SSE writer (http/sse.h): pure functions that
 * write into the caller's buffer. */
#include <stdio.h>
#include <string.h>

#include "http/sse.h"

/* A field value that cannot end its line early or be cut short: no CR, LF or NUL. */
static bool value_ok(sb_str_t v) {
    for (size_t i = 0; i < v.n; i++)
        if (v.p[i] == '\r' || v.p[i] == '\n' || v.p[i] == '\0')
            return false;
    return true;
}

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

typedef struct {
    char *out;
    size_t len;
} sse_buf_t;

static void put(sse_buf_t *b, const char *p, size_t n) {
    if (n)
        memcpy(b->out + b->len, p, n);
    b->len += n;
}

static void put_line(const char *p, size_t len, void *ud) {
    put(ud, "data: ", 6);
    put(ud, p, len);
    put(ud, "\n", 1);
}

size_t sb_http_sse_body_size(sb_str_t event, const char *data, size_t n) {
    size_t need = event.n ? 8 + event.n : 0; /* "event: " name "\n" */
    each_line(data, n, count_line, &need);
    return need;
}

size_t sb_http_sse_format_body(sb_str_t event, const char *data, size_t n, char *out, size_t cap) {
    if (!value_ok(event) || sb_http_sse_body_size(event, data, n) > cap)
        return 0;
    sse_buf_t b = {out, 0};
    if (event.n) {
        put(&b, "event: ", 7);
        put(&b, event.p, event.n);
        put(&b, "\n", 1);
    }
    each_line(data, n, put_line, &b);
    return b.len;
}

size_t sb_http_sse_format_end(sb_str_t id, char *out, size_t cap) {
    size_t need = (id.n ? 5 + id.n : 0) + 1;
    if (!value_ok(id) || need > cap)
        return 0;
    sse_buf_t b = {out, 0};
    if (id.n) {
        put(&b, "id: ", 4);
        put(&b, id.p, id.n);
        put(&b, "\n", 1);
    }
    put(&b, "\n", 1);
    return b.len;
}

size_t sb_http_sse_format_comment(sb_str_t text, char *out, size_t cap) {
    if (!value_ok(text) || text.n + 4 > cap)
        return 0;
    sse_buf_t b = {out, 0};
    put(&b, ": ", 2);
    put(&b, text.p, text.n);
    put(&b, "\n\n", 2);
    return b.len;
}

size_t sb_http_sse_format_retry(uint32_t ms, char *out, size_t cap) {
    int n = snprintf(out, cap, "retry: %u\n\n", (unsigned)ms);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static sb_str_t opt(const char *s) { return s ? sb_cstr(s) : SB_STR_NULL; }

size_t sb_http_sse_format_size(const char *event, const char *id, const char *data, size_t n) {
    return sb_http_sse_body_size(opt(event), data, n) + (id ? 5 + strlen(id) : 0) + 1;
}

size_t sb_http_sse_format(const char *event, const char *id, const char *data, size_t n, char *out,
                          size_t cap) {
    if (!value_ok(opt(event)) || !value_ok(opt(id)) ||
        sb_http_sse_format_size(event, id, data, n) > cap)
        return 0;
    size_t body = sb_http_sse_format_body(opt(event), data, n, out, cap);
    return body + sb_http_sse_format_end(opt(id), out + body, cap - body);
}
