/* Unit tests for the Server-Sent Events wire format: fields, multi-line
 * data split at CR, LF and CRLF (so data can never start a field of its
 * own), refused CR/LF in event and id, exact sizes and too-small buffers. */
#include "http/sse.h"

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
    CHECK_FMT("m", "42", "x", "event: m\nid: 42\ndata: x\n\n");
    CHECK_FMT(NULL, NULL, "", "data: \n\n");
}

TEST(lines_split_at_cr_lf_crlf) {
    CHECK_FMT(NULL, NULL, "a\nb", "data: a\ndata: b\n\n");
    CHECK_FMT(NULL, NULL, "a\r\nb", "data: a\ndata: b\n\n");
    CHECK_FMT(NULL, NULL, "a\rb", "data: a\ndata: b\n\n");
    CHECK_FMT(NULL, NULL, "a\n\nevent: x", "data: a\ndata: \ndata: event: x\n\n");
    CHECK_FMT(NULL, NULL, "end\n", "data: end\ndata: \n\n");
}

TEST(newlines_in_event_or_id_refused) {
    char o[128];
    CHECK_EQ(fmt("a\nb", NULL, "x", o, sizeof o), 0);
    CHECK_EQ(fmt("a\rb", NULL, "x", o, sizeof o), 0);
    CHECK_EQ(fmt(NULL, "1\n", "x", o, sizeof o), 0);
}

TEST(buffer_bounds) {
    char o[32];
    size_t need = sb_http_sse_format_size("e", NULL, "abc", 3); /* "event: e\ndata: abc\n\n" */
    CHECK_EQ(need, 20);
    CHECK_EQ(sb_http_sse_format("e", NULL, "abc", 3, o, need - 1), 0);
    CHECK_EQ(sb_http_sse_format("e", NULL, "abc", 3, o, need), 20);
    /* Binary data with a NUL is carried as it is (the caller's JSON has none). */
    CHECK_EQ(sb_http_sse_format(NULL, NULL, "a\0b", 3, o, sizeof o), 11);
    CHECK_MEM(o, 11, "data: a\0b\n\n");
}

int main(void) {
    RUN(fields);
    RUN(lines_split_at_cr_lf_crlf);
    RUN(newlines_in_event_or_id_refused);
    RUN(buffer_bounds);
    TEST_MAIN_END();
}
