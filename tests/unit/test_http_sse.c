/* Unit tests for the Server-Sent Events wire format, the one formatter of
 * both SSE writers (the dashboard's stream and /events): fields, multi-line
 * data split at CR, LF and CRLF (so data can never start a field of its
 * own), refused CR/LF/NUL in event, id and comments, exact sizes and
 * too-small buffers, and hostile data read back by a reader that follows
 * the WHATWG parsing rules. */
#include "http/sse.h"

#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static size_t fmt(const char *event, const char *id, const char *data, char *out, size_t cap) {
    return sb_http_sse_format(event, id, data, strlen(data), out, cap);
}

#define CHECK_FMT(event, id, data, want)                                                           \
    do {                                                                                           \
        char o_[256];                                                                              \
        size_t n_ = fmt(event, id, data, o_, sizeof o_);                                           \
        CHECK_MEM(o_, n_, want);                                                                   \
        CHECK_EQ(sb_http_sse_format_size(event, id, data, strlen(data)), sizeof(want) - 1);        \
    } while (0)

TEST(fields) {
    CHECK_FMT(NULL, NULL, "hi", "data: hi\n\n");
    CHECK_FMT("metrics", NULL, "{\"a\":1}", "event: metrics\ndata: {\"a\":1}\n\n");
    CHECK_FMT("m", "42", "x", "event: m\ndata: x\nid: 42\n\n");
    CHECK_FMT(NULL, NULL, "", "data: \n\n");
}

TEST(lines_split_at_cr_lf_crlf) {
    CHECK_FMT(NULL, NULL, "a\nb", "data: a\ndata: b\n\n");
    CHECK_FMT(NULL, NULL, "a\r\nb", "data: a\ndata: b\n\n");
    CHECK_FMT(NULL, NULL, "a\rb", "data: a\ndata: b\n\n");
    CHECK_FMT(NULL, NULL, "a\n\nevent: x", "data: a\ndata: \ndata: event: x\n\n");
    CHECK_FMT(NULL, NULL, "end\n", "data: end\ndata: \n\n");
    CHECK_FMT(NULL, NULL, "\r\n\r\n\n\r", "data: \ndata: \ndata: \ndata: \ndata: \n\n");
    CHECK_FMT(NULL, NULL, "\n: comment\nid: 9", "data: \ndata: : comment\ndata: id: 9\n\n");
}

TEST(newlines_and_nul_in_event_or_id_refused) {
    char o[128];
    CHECK_EQ(fmt("a\nb", NULL, "x", o, sizeof o), 0);
    CHECK_EQ(fmt("a\rb", NULL, "x", o, sizeof o), 0);
    CHECK_EQ(fmt(NULL, "1\n", "x", o, sizeof o), 0);
    CHECK_EQ(fmt(NULL, "1\r", "x", o, sizeof o), 0);
    CHECK_EQ(sb_http_sse_format_body(sb_str("a\0b", 3), "x", 1, o, sizeof o), 0);
    CHECK_EQ(sb_http_sse_format_body(SB_LIT("ev\r"), "x", 1, o, sizeof o), 0);
    CHECK_EQ(sb_http_sse_format_end(sb_str("1\0002", 3), o, sizeof o), 0);
    CHECK_EQ(sb_http_sse_format_end(SB_LIT("1\n2"), o, sizeof o), 0);
}

TEST(body_end_comment_retry) {
    char o[64];
    size_t n = sb_http_sse_format_body(SB_LIT("chat:message"), "{}", 2, o, sizeof o);
    CHECK_MEM(o, n, "event: chat:message\ndata: {}\n");
    CHECK_EQ(sb_http_sse_body_size(SB_LIT("chat:message"), "{}", 2), n);
    n = sb_http_sse_format_end(SB_LIT("7-0"), o, sizeof o);
    CHECK_MEM(o, n, "id: 7-0\n\n");
    n = sb_http_sse_format_end(SB_STR_NULL, o, sizeof o);
    CHECK_MEM(o, n, "\n");
    n = sb_http_sse_format_comment(SB_LIT("keep-alive"), o, sizeof o);
    CHECK_MEM(o, n, ": keep-alive\n\n");
    CHECK_EQ(sb_http_sse_format_comment(SB_LIT("a\nb"), o, sizeof o), 0);
    CHECK_EQ(sb_http_sse_format_comment(SB_LIT("a\rb"), o, sizeof o), 0);
    CHECK_EQ(sb_http_sse_format_comment(sb_str("a\0b", 3), o, sizeof o), 0);
    CHECK_EQ(sb_http_sse_format_comment(SB_LIT("keep-alive"), o, 14), 14);
    CHECK_EQ(sb_http_sse_format_comment(SB_LIT("keep-alive"), o, 13), 0);
    n = sb_http_sse_format_retry(2000, o, sizeof o);
    CHECK_MEM(o, n, "retry: 2000\n\n");
    CHECK_EQ(sb_http_sse_format_retry(2000, o, 13), 0);
}

TEST(buffer_bounds) {
    char o[32];
    size_t need = sb_http_sse_format_size("e", NULL, "abc", 3); /* "event: e\ndata: abc\n\n" */
    CHECK_EQ(need, 20);
    CHECK_EQ(sb_http_sse_format("e", NULL, "abc", 3, o, need - 1), 0);
    CHECK_EQ(sb_http_sse_format("e", NULL, "abc", 3, o, need), 20);
    CHECK_EQ(sb_http_sse_format_body(SB_LIT("e"), "abc", 3, o, 18), 0);
    CHECK_EQ(sb_http_sse_format_body(SB_LIT("e"), "abc", 3, o, 19), 19);
    /* A NUL in data is carried as it is (the readers' data is a string of
     * any characters; JSON from the server has none). */
    CHECK_EQ(sb_http_sse_format(NULL, NULL, "a\0b", 3, o, sizeof o), 11);
    CHECK_MEM(o, 11, "data: a\0b\n\n");
}

/* ---- a reader, as the WHATWG "interpret an event stream" rules say ------------------ */

typedef struct {
    char event[64];
    char *data;
    size_t data_n, events, fields_other;
    char id[64];
} reader_t;

static void reader_field(reader_t *r, const char *line, size_t n) {
    if (n == 0 || line[0] == ':')
        return; /* a blank line dispatches (counted by the caller); a comment is ignored */
    const char *colon = memchr(line, ':', n);
    size_t name_n = colon ? (size_t)(colon - line) : n;
    const char *v = colon ? colon + 1 : line + n;
    size_t vn = (size_t)(line + n - v);
    if (vn && v[0] == ' ')
        v++, vn--;
    if (name_n == 4 && memcmp(line, "data", 4) == 0) {
        memcpy(r->data + r->data_n, v, vn);
        r->data_n += vn;
        r->data[r->data_n++] = '\n';
    } else if (name_n == 5 && memcmp(line, "event", 5) == 0 && vn < sizeof r->event) {
        memcpy(r->event, v, vn);
        r->event[vn] = '\0';
    } else if (name_n == 2 && memcmp(line, "id", 2) == 0 && vn < sizeof r->id) {
        memcpy(r->id, v, vn);
        r->id[vn] = '\0';
    } else {
        r->fields_other++;
    }
}

/* Reads one stream; data keeps the last event's data without its final LF. */
static void reader_read(reader_t *r, const char *s, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\r' && s[i] != '\n')
            continue;
        if (i == start)
            r->events++;
        reader_field(r, s + start, i - start);
        if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
            i++;
        start = i + 1;
    }
    if (r->data_n)
        r->data_n--;
}

TEST(hostile_data_reads_back_as_one_event) {
    static const char alphabet[] = {'\r', '\n', '\0', ':', ' ', 'a', 'd', 'i', 'e', 'v', 't'};
    unsigned seed = 12345;
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(rand_r(&seed) % 200);
        if (round % 500 == 0)
            n = 100000; /* a long line or many */
        char *data = malloc(n + 1), *want = malloc(n + 1);
        size_t wn = 0;
        for (size_t i = 0; i < n; i++)
            data[i] = alphabet[rand_r(&seed) % sizeof alphabet];
        for (size_t i = 0; i < n; i++) { /* what the reader must see: CRLF and CR read as LF */
            if (data[i] == '\r' && i + 1 < n && data[i + 1] == '\n')
                continue;
            want[wn++] = data[i] == '\r' ? '\n' : data[i];
        }
        size_t cap = sb_http_sse_format_size("chat:message", "3-4", data, n);
        char *out = malloc(cap);
        CHECK_EQ(sb_http_sse_format("chat:message", "3-4", data, n, out, cap), cap);
        reader_t r = {.data = malloc(cap)};
        reader_read(&r, out, cap);
        CHECK_EQ(r.events, 1);
        CHECK_EQ(r.fields_other, 0);
        CHECK(strcmp(r.event, "chat:message") == 0);
        CHECK(strcmp(r.id, "3-4") == 0);
        CHECK_EQ(r.data_n, wn);
        CHECK(memcmp(r.data, want, wn) == 0);
        free(r.data);
        free(out);
        free(data);
        free(want);
    }
}

int main(void) {
    RUN(fields);
    RUN(lines_split_at_cr_lf_crlf);
    RUN(newlines_and_nul_in_event_or_id_refused);
    RUN(body_end_comment_retry);
    RUN(buffer_bounds);
    RUN(hostile_data_reads_back_as_one_event);
    TEST_MAIN_END();
}
