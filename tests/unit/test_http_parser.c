/* Unit tests for the pure HTTP/1.1 codec: request heads whole and at every split point, every
 * rejection with its status, limits on incomplete input, the chunked decoder byte by byte, and
 * the query/percent/Content-Length helpers. Inputs are copied into exact-size heap buffers so
 * ASan catches any read past `n`. */
#include "http/parser.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "testlib.h"

#define MAX_HDRS 16

static const sb_http_limits_t default_limits = {8192, 16384, MAX_HDRS};

/* Parses s[0..n) from an exact-size copy, so an over-read is an ASan error. */
static ssize_t parse_copy(const char *s, size_t n, sb_http_request_t *req, sb_http_header_t *h,
                          const sb_http_limits_t *lim, char **copy) {
    *copy = malloc(n ? n : 1);
    memcpy(*copy, s, n);
    return sb_http_request_parse(*copy, n, req, h, lim);
}

/* The copy parsed last, kept alive so that the caller can read the slices in *req. */
static char *last_copy;

static void parse_release(void) {
    free(last_copy);
    last_copy = NULL;
}

static ssize_t parse_n(const char *s, size_t n, sb_http_request_t *req,
                       const sb_http_limits_t *lim) {
    static sb_http_header_t h[MAX_HDRS];
    parse_release();
    return parse_copy(s, n, req, h, lim, &last_copy);
}

/* Every strict prefix must be SB_EAGAIN; the whole must return `n`. */
static void check_every_prefix_again(const char *s, size_t n) {
    sb_http_request_t req;
    for (size_t cut = 0; cut < n; cut++) {
        ssize_t r = parse_n(s, cut, &req, &default_limits);
        if (r != SB_EAGAIN) {
            fprintf(stderr, "  prefix %zu of %zu: got %zd\n", cut, n, r);
            CHECK_EQ(r, SB_EAGAIN);
            return;
        }
    }
    CHECK_EQ(parse_n(s, n, &req, &default_limits), (ssize_t)n);
}

/* ---- valid requests ----------------------------------------------------------------------- */

#define REQ_GET                                                                                    \
    "GET /socket.io/?EIO=4&transport=polling&t=Nx9a HTTP/1.1\r\n"                                  \
    "Host: example.com\r\n"                                                                        \
    "User-Agent: test/1.0\r\n"                                                                     \
    "\r\n"

static void check_get_fields(const sb_http_request_t *req) {
    CHECK_MEM(req->method.p, req->method.n, "GET");
    CHECK_MEM(req->target.p, req->target.n, "/socket.io/?EIO=4&transport=polling&t=Nx9a");
    CHECK_MEM(req->path.p, req->path.n, "/socket.io/");
    CHECK_MEM(req->query.p, req->query.n, "EIO=4&transport=polling&t=Nx9a");
    CHECK_EQ(req->minor_version, 1);
    CHECK_EQ(req->num_headers, 2);
    CHECK_MEM(req->headers[0].name.p, req->headers[0].name.n, "Host");
    CHECK_MEM(req->headers[0].value.p, req->headers[0].value.n, "example.com");
    CHECK_MEM(req->headers[1].name.p, req->headers[1].name.n, "User-Agent");
    CHECK_MEM(req->headers[1].value.p, req->headers[1].value.n, "test/1.0");
    CHECK_EQ(req->error_status, 0);
}

TEST(get_with_query) {
    sb_http_request_t req;
    sb_http_header_t h[MAX_HDRS];
    char *copy;
    ssize_t r = parse_copy(REQ_GET, sizeof REQ_GET - 1, &req, h, &default_limits, &copy);
    CHECK_EQ(r, sizeof REQ_GET - 1);
    check_get_fields(&req);
    CHECK(req.headers == h);
    CHECK(req.method.p == copy); /* slices point into the input */
    free(copy);
    check_every_prefix_again(REQ_GET, sizeof REQ_GET - 1);
}

/* A split feed: a prefix first (SB_EAGAIN), then the whole gives the same count and fields. */
TEST(get_every_split_same_fields) {
    const size_t n = sizeof REQ_GET - 1;
    for (size_t cut = 0; cut < n; cut++) {
        sb_http_request_t req;
        CHECK_EQ(parse_n(REQ_GET, cut, &req, &default_limits), SB_EAGAIN);
        sb_http_header_t h[MAX_HDRS];
        char *copy;
        CHECK_EQ(parse_copy(REQ_GET, n, &req, h, &default_limits, &copy), n);
        check_get_fields(&req);
        free(copy);
    }
}

#define REQ_POST                                                                                   \
    "POST /api/emit HTTP/1.1\r\n"                                                                  \
    "Host: a.example:8080\r\n"                                                                     \
    "Content-Type:application/json\r\n"                                                            \
    "Content-Length: \t 12 \t\r\n"                                                                 \
    "X-Empty:\r\n"                                                                                 \
    "X-Blank:   \r\n"                                                                              \
    "X-Inner:  a  b \r\n"                                                                          \
    "X-Obs: caf\xc3\xa9\r\n"                                                                       \
    "content-length: 12\r\n"                                                                       \
    "\r\n"

TEST(post_with_headers) {
    sb_http_request_t req;
    sb_http_header_t h[MAX_HDRS];
    char *copy;
    const char *body = REQ_POST "{\"a\":\"b\"}...";
    ssize_t r = parse_copy(body, strlen(body), &req, h, &default_limits, &copy);
    CHECK_EQ(r, sizeof REQ_POST - 1); /* stops at the blank line; the body is not consumed */
    CHECK_MEM(req.method.p, req.method.n, "POST");
    CHECK_MEM(req.path.p, req.path.n, "/api/emit");
    CHECK(req.query.p == NULL && req.query.n == 0);
    CHECK_EQ(req.num_headers, 8);
    CHECK_MEM(h[1].value.p, h[1].value.n, "application/json");
    CHECK_MEM(h[2].value.p, h[2].value.n, "12");
    CHECK_EQ(h[3].value.n, 0);
    CHECK_EQ(h[4].value.n, 0);
    CHECK_MEM(h[5].value.p, h[5].value.n, "a  b");
    CHECK_MEM(h[6].value.p, h[6].value.n, "caf\xc3\xa9");
    CHECK_EQ(sb_http_header_count(&req, SB_LIT("CONTENT-LENGTH")), 2);
    CHECK_EQ(sb_http_header_count(&req, SB_LIT("Host")), 1);
    CHECK_EQ(sb_http_header_count(&req, SB_LIT("Cookie")), 0);
    const sb_str_t *ct = sb_http_header_get(&req, SB_LIT("content-type"));
    CHECK(ct != NULL && sb_str_eq(*ct, SB_LIT("application/json")));
    CHECK(sb_http_header_get(&req, SB_LIT("Content-Typ")) == NULL);
    free(copy);
    check_every_prefix_again(REQ_POST, sizeof REQ_POST - 1);
}

TEST(options_star) {
    static const char s[] = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
    sb_http_request_t req;
    CHECK_EQ(parse_n(s, sizeof s - 1, &req, &default_limits), sizeof s - 1);
    CHECK_MEM(req.method.p, req.method.n, "OPTIONS");
    CHECK_MEM(req.target.p, req.target.n, "*");
    CHECK_MEM(req.path.p, req.path.n, "*");
    CHECK_EQ(req.query.n, 0);
    check_every_prefix_again(s, sizeof s - 1);
}

TEST(http10_no_headers) {
    static const char s[] = "GET / HTTP/1.0\r\n\r\n";
    sb_http_request_t req;
    CHECK_EQ(parse_n(s, sizeof s - 1, &req, &default_limits), sizeof s - 1);
    CHECK_EQ(req.minor_version, 0);
    CHECK_EQ(req.num_headers, 0);
    CHECK_MEM(req.path.p, req.path.n, "/");
    check_every_prefix_again(s, sizeof s - 1);
}

TEST(empty_query_and_odd_targets) {
    static const char s[] = "DELETE /a/b%20c?x=1?y=2&z HTTP/1.1\r\n\r\n";
    sb_http_request_t req;
    CHECK_EQ(parse_n(s, sizeof s - 1, &req, &default_limits), sizeof s - 1);
    CHECK_MEM(req.path.p, req.path.n, "/a/b%20c");
    CHECK_MEM(req.query.p, req.query.n, "x=1?y=2&z"); /* split at the first '?' */
    static const char e[] = "GET /p? HTTP/1.1\r\n\r\n";
    CHECK_EQ(parse_n(e, sizeof e - 1, &req, &default_limits), sizeof e - 1);
    CHECK_MEM(req.path.p, req.path.n, "/p");
    CHECK(req.query.p != NULL && req.query.n == 0);          /* present but empty */
    static const char m[] = "M-SEARCH! /x HTTP/1.1\r\n\r\n"; /* any token is a method */
    CHECK_EQ(parse_n(m, sizeof m - 1, &req, &default_limits), sizeof m - 1);
    CHECK_MEM(req.method.p, req.method.n, "M-SEARCH!");
}

TEST(leading_empty_lines_skipped) {
    static const char s[] = "\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    sb_http_request_t req;
    CHECK_EQ(parse_n(s, sizeof s - 1, &req, &default_limits), sizeof s - 1);
    CHECK_MEM(req.method.p, req.method.n, "GET");
    check_every_prefix_again(s, sizeof s - 1);
    CHECK_EQ(parse_n("\n", 1, &req, &default_limits), SB_EPROTO);
}

TEST(pipelined_heads) {
    static const char s[] = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nX: y\r\n\r\n";
    sb_http_request_t req;
    ssize_t r = parse_n(s, sizeof s - 1, &req, &default_limits);
    CHECK_EQ(r, 19);
    CHECK_MEM(req.path.p, req.path.n, "/a");
    CHECK_EQ(parse_n(s + r, sizeof s - 1 - (size_t)r, &req, &default_limits), sizeof s - 1 - 19);
    CHECK_MEM(req.path.p, req.path.n, "/b");
}

/* ---- rejections --------------------------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t n;
    int rc, status;
} bad_case_t;

#define BAD(lit, rc, st)                                                                           \
    { lit, sizeof lit - 1, rc, st }

static const bad_case_t bad_cases[] = {
    BAD("G@T / HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET(x) / HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GE\x80T / HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD(" GET / HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("/ HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET  / HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET /  HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET\t/ HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET / HTTP/1.1 \r\n\r\n", SB_EPROTO, 400),
    BAD("GET /\r\n\r\n", SB_EPROTO, 400),
    BAD("GET / \r\n\r\n", SB_EPROTO, 400),
    BAD("GET / HTTP/1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET / HTTP/1.10\r\n\r\n", SB_EPROTO, 400),
    BAD("GET / http/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET / HTTP/x.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET / HTTP/2.0\r\n\r\n", SB_EPROTO, 505),
    BAD("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", SB_EPROTO, 400), /* '*' is only for OPTIONS */
    BAD("GET / HTTP/1.2\r\n\r\n", SB_EPROTO, 505),
    BAD("GET / HTTP/0.9\r\n\r\n", SB_EPROTO, 505),
    BAD("GET / HTTP/3.0\r\n\r\n", SB_EPROTO, 505),
    BAD("GET x HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET * HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("OPTIONS *x HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("OPTIONS */ HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET http://a/ HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("CONNECT a:443 HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET /a\x01z HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET /a\x7fz HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET /a#frag HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET /a\tb HTTP/1.1\r\n\r\n", SB_EPROTO, 400),
    BAD("GET / HTTP/1.1\rX\n\r\n", SB_EPROTO, 400),              /* bare CR */
    BAD("GET / HTTP/1.1\n\n", SB_EPROTO, 400),                   /* bare LF */
    BAD("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", SB_EPROTO, 400), /* bare CR in a value */
    BAD("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", SB_EPROTO, 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\n\n", SB_EPROTO, 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", SB_EPROTO, 400),
    BAD("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", SB_EPROTO, 400),  /* obs-fold */
    BAD("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", SB_EPROTO, 400), /* obs-fold */
    BAD("GET / HTTP/1.1\r\n X: a\r\n\r\n", SB_EPROTO, 400),
    BAD("GET / HTTP/1.1\r\nHost : a\r\n\r\n", SB_EPROTO, 400), /* space before colon */
    BAD("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", SB_EPROTO, 400),
    BAD("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", SB_EPROTO, 400), /* NUL in a value */
    BAD("GET / HTTP/1.1\r\nX: a\x01"
        "b\r\n\r\n",
        SB_EPROTO, 400),
    BAD("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", SB_EPROTO, 400),
    BAD("GET / HTTP/1.1\r\n: a\r\n\r\n", SB_EPROTO, 400),  /* empty name */
    BAD("GET / HTTP/1.1\r\nHost\r\n\r\n", SB_EPROTO, 400), /* no colon */
    BAD("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", SB_EPROTO, 400),
    BAD("GET / HTTP/1.1\r\nX\0: a\r\n\r\n", SB_EPROTO, 400),
};

/* Each bad input fails whole; every prefix is SB_EAGAIN or already the same failure, and once
 * a prefix fails every longer one fails the same way (errors are reported as early as seen). */
TEST(rejections_with_status) {
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case_t *b = &bad_cases[i];
        sb_http_request_t req;
        ssize_t r = parse_n(b->s, b->n, &req, &default_limits);
        if (r != b->rc || req.error_status != b->status)
            fprintf(stderr, "  case %zu: %zd/%d\n", i, r, req.error_status);
        CHECK_EQ(r, b->rc);
        CHECK_EQ(req.error_status, b->status);
        bool failed = false;
        for (size_t cut = 0; cut < b->n; cut++) {
            r = parse_n(b->s, cut, &req, &default_limits);
            if (r == b->rc && req.error_status == b->status)
                failed = true;
            else if (failed || r != SB_EAGAIN) {
                fprintf(stderr, "  case %zu cut %zu: %zd\n", i, cut, r);
                CHECK(0);
                break;
            }
        }
    }
}

TEST(bad_prefix_fails_early) {
    sb_http_request_t req;
    CHECK_EQ(parse_n("GET x", 5, &req, &default_limits), SB_EPROTO);
    CHECK_EQ(parse_n("G@", 2, &req, &default_limits), SB_EPROTO);
    CHECK_EQ(parse_n("GET / HTTP/2.0", 14, &req, &default_limits), SB_EPROTO);
    CHECK_EQ(req.error_status, 505);
    CHECK_EQ(parse_n("GET / HTTP/1.1\r\nX : ", 19, &req, &default_limits), SB_EPROTO);
    CHECK_EQ(parse_n("GET / HTTP/1.1\r\nX: a\r\n ", 23, &req, &default_limits), SB_EPROTO);
}

/* ---- limits ------------------------------------------------------------------------------- */

TEST(too_many_headers) {
    const sb_http_limits_t lim = {8192, 16384, 2};
    static const char two[] = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
    static const char three[] = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    sb_http_request_t req;
    CHECK_EQ(parse_n(two, sizeof two - 1, &req, &lim), sizeof two - 1);
    CHECK_EQ(req.num_headers, 2);
    CHECK_EQ(parse_n(three, sizeof three - 1, &req, &lim), SB_ETOOBIG);
    CHECK_EQ(req.error_status, 431);
    /* Incomplete: fails as soon as a third field starts. */
    CHECK_EQ(parse_n(three, 28, &req, &lim), SB_EAGAIN);
    CHECK_EQ(parse_n(three, 29, &req, &lim), SB_ETOOBIG);
    const sb_http_limits_t none = {8192, 16384, 0};
    CHECK_EQ(parse_n("GET / HTTP/1.0\r\n\r\n", 18, &req, &none), 18);
    CHECK_EQ(parse_n(two, sizeof two - 1, &req, &none), SB_ETOOBIG);
}

static char *repeat(char c, size_t n, const char *prefix, const char *suffix) {
    size_t pn = strlen(prefix), sn = strlen(suffix);
    char *s = malloc(pn + n + sn + 1);
    memcpy(s, prefix, pn);
    memset(s + pn, c, n);
    memcpy(s + pn + n, suffix, sn + 1);
    return s;
}

TEST(request_line_limit) {
    const sb_http_limits_t lim = {40, 16384, MAX_HDRS};
    sb_http_request_t req;
    /* "GET /" + 26 + " HTTP/1.1" = 40 bytes: exactly at the limit. */
    char *ok = repeat('a', 26, "GET /", " HTTP/1.1\r\n\r\n");
    CHECK_EQ(parse_n(ok, strlen(ok), &req, &lim), strlen(ok));
    free(ok);
    char *over = repeat('a', 27, "GET /", " HTTP/1.1\r\n\r\n");
    CHECK_EQ(parse_n(over, strlen(over), &req, &lim), SB_ETOOBIG);
    CHECK_EQ(req.error_status, 414);
    free(over);
    /* Incomplete and already too long: a slowloris target fails without waiting for CRLF. */
    char *slow = repeat('a', 1000, "GET /", "");
    CHECK_EQ(parse_n(slow, strlen(slow), &req, &lim), SB_ETOOBIG);
    CHECK_EQ(req.error_status, 414);
    CHECK_EQ(parse_n(slow, 40, &req, &lim), SB_EAGAIN);
    CHECK_EQ(parse_n(slow, 43, &req, &lim), SB_ETOOBIG);
    free(slow);
    /* A syntax error inside the limit still reports 400. */
    char *bad = repeat('a', 1000, "GET /\x01", "");
    CHECK_EQ(parse_n(bad, strlen(bad), &req, &lim), SB_EPROTO);
    CHECK_EQ(req.error_status, 400);
    free(bad);
}

TEST(head_limit) {
    static const char base[] = "GET / HTTP/1.1\r\nX: "; /* 19 bytes */
    const sb_http_limits_t lim = {8192, 64, MAX_HDRS};
    sb_http_request_t req;
    /* 19 + 41 + 4 = 64 bytes: exactly at the limit. */
    char *ok = repeat('v', 41, base, "\r\n\r\n");
    CHECK_EQ(strlen(ok), 64);
    CHECK_EQ(parse_n(ok, 64, &req, &lim), 64);
    CHECK_EQ(parse_n(ok, 63, &req, &lim), SB_EAGAIN);
    free(ok);
    char *over = repeat('v', 42, base, "\r\n\r\n");
    CHECK_EQ(parse_n(over, strlen(over), &req, &lim), SB_ETOOBIG);
    CHECK_EQ(req.error_status, 431);
    CHECK_EQ(parse_n(over, 64, &req, &lim), SB_ETOOBIG); /* incomplete, already too long */
    CHECK_EQ(parse_n(over, 63, &req, &lim), SB_EAGAIN);
    free(over);
    /* A slowloris head of long fields (within the header count), never finished. */
    char *buf = malloc(20000);
    size_t n = 16;
    memcpy(buf, "GET / HTTP/1.1\r\n", n);
    for (int i = 0; i < 15; i++) {
        memcpy(buf + n, "X: ", 3);
        memset(buf + n + 3, 'v', 1100);
        memcpy(buf + n + 1103, "\r\n", 2);
        n += 1105;
    }
    CHECK_EQ(parse_n(buf, 16383, &req, &default_limits), SB_EAGAIN);
    CHECK_EQ(parse_n(buf, 16384, &req, &default_limits), SB_ETOOBIG);
    CHECK_EQ(req.error_status, 431);
    CHECK_EQ(parse_n(buf, n, &req, &default_limits), SB_ETOOBIG);
    free(buf);
    /* Leading empty lines count towards the head. */
    CHECK_EQ(parse_n("\r\n\r\nGET / HTTP/1.1\r\n\r\n", 22, &req,
                     &(sb_http_limits_t){8192, 21, MAX_HDRS}),
             SB_ETOOBIG);
}

/* ---- header helpers ----------------------------------------------------------------------- */

TEST(token_list) {
    CHECK(sb_http_token_list_has(SB_LIT("keep-alive, Upgrade"), SB_LIT("upgrade")));
    CHECK(sb_http_token_list_has(SB_LIT("keep-alive,Upgrade"), SB_LIT("KEEP-ALIVE")));
    CHECK(sb_http_token_list_has(SB_LIT(" \tUpgrade\t "), SB_LIT("upgrade")));
    CHECK(sb_http_token_list_has(SB_LIT("a,,b"), SB_LIT("b")));
    CHECK(!sb_http_token_list_has(SB_LIT("upgrades"), SB_LIT("upgrade")));
    CHECK(!sb_http_token_list_has(SB_LIT("upgrade-x, close"), SB_LIT("upgrade")));
    CHECK(!sb_http_token_list_has(SB_LIT(""), SB_LIT("upgrade")));
    CHECK(!sb_http_token_list_has(SB_STR_NULL, SB_LIT("upgrade")));
    CHECK(!sb_http_token_list_has(SB_LIT("up grade"), SB_LIT("upgrade")));
}

TEST(content_length) {
    uint64_t v = 99;
    CHECK_EQ(sb_http_content_length_parse(SB_LIT(""), 100, &v), SB_EPROTO);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("-1"), 100, &v), SB_EPROTO);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("+1"), 100, &v), SB_EPROTO);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("12a"), 100, &v), SB_EPROTO);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT(" 1"), 100, &v), SB_EPROTO);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("1,1"), 100, &v), SB_EPROTO);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("0x10"), 100, &v), SB_EPROTO);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("99999999999999999999999x"), 100, &v), SB_EPROTO);
    CHECK_EQ(v, 99); /* untouched on error */
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("18446744073709551616"), UINT64_MAX, &v),
             SB_ETOOBIG);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("99999999999999999999999"), UINT64_MAX, &v),
             SB_ETOOBIG);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("18446744073709551615"), UINT64_MAX, &v), SB_OK);
    CHECK(v == UINT64_MAX);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("1048576"), 1048576, &v), SB_OK);
    CHECK_EQ(v, 1048576);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("1048577"), 1048576, &v), SB_ETOOBIG);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("007"), 100, &v), SB_OK);
    CHECK_EQ(v, 7);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("0"), 0, &v), SB_OK);
    CHECK_EQ(v, 0);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("5"), 0, &v), SB_ETOOBIG);
    CHECK_EQ(sb_http_content_length_parse(SB_LIT("10"), 9, &v), SB_ETOOBIG);
}

TEST(status_reasons) {
    static const int codes[] = {101, 200, 204, 400, 401, 403, 404, 405, 408, 411, 413,
                                414, 415, 422, 426, 429, 431, 500, 501, 503, 505};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        CHECK(strcmp(sb_http_status_reason(codes[i]), "Unknown") != 0);
    CHECK(strcmp(sb_http_status_reason(404), "Not Found") == 0);
    CHECK(strcmp(sb_http_status_reason(101), "Switching Protocols") == 0);
    CHECK(strcmp(sb_http_status_reason(431), "Request Header Fields Too Large") == 0);
    CHECK(strcmp(sb_http_status_reason(999), "Unknown") == 0);
    CHECK(strcmp(sb_http_status_reason(-1), "Unknown") == 0);
}

/* ---- chunked ------------------------------------------------------------------------------ */

#define CHUNKED_BODY "5\r\nhello\r\n6\r\n world\r\nA\r\n0123456789\r\n0\r\n\r\n"

/* Decodes s in pieces of `step` bytes (0 = all at once) from a fresh exact-size copy of each
 * piece; appends the payload to out. Returns the last result, or the first error. */
static ssize_t chunked_feed(sb_http_chunked_t *st, const char *s, size_t n, size_t step,
                            uint64_t max, char *out, size_t *out_n, size_t *consumed) {
    *out_n = 0;
    *consumed = 0;
    if (step == 0)
        step = n;
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        char *piece = malloc(k);
        memcpy(piece, s + off, k);
        size_t got = 99;
        ssize_t r = sb_http_chunked_decode(st, piece, k, &got, max);
        if (r < 0) {
            free(piece);
            return r;
        }
        memcpy(out + *out_n, piece, got);
        *out_n += got;
        *consumed += (size_t)r;
        free(piece);
        if (sb_http_chunked_done(st))
            return r;
    }
    return SB_OK;
}

TEST(chunked_whole_and_bytewise) {
    const size_t n = sizeof CHUNKED_BODY - 1;
    for (size_t step = 0; step <= 7; step++) {
        sb_http_chunked_t st = {0};
        char out[64];
        size_t out_n, consumed;
        CHECK(chunked_feed(&st, CHUNKED_BODY, n, step, 1000, out, &out_n, &consumed) >= 0);
        CHECK(sb_http_chunked_done(&st));
        CHECK_EQ(consumed, n);
        CHECK_MEM(out, out_n, "hello world0123456789");
    }
}

/* Two calls, split at every point, on one buffer (the decoder writes in place). */
TEST(chunked_every_split) {
    const size_t n = sizeof CHUNKED_BODY - 1;
    for (size_t cut = 0; cut <= n; cut++) {
        sb_http_chunked_t st = {0};
        char buf[sizeof CHUNKED_BODY], out[64];
        memcpy(buf, CHUNKED_BODY, n);
        size_t a = 0, b = 0;
        ssize_t r1 = sb_http_chunked_decode(&st, buf, cut, &a, 1000);
        CHECK_EQ(r1, cut);
        CHECK(a <= (size_t)r1);
        memcpy(out, buf, a);
        ssize_t r2 = sb_http_chunked_decode(&st, buf + cut, n - cut, &b, 1000);
        CHECK_EQ(r2, n - cut);
        memcpy(out + a, buf + cut, b);
        CHECK(sb_http_chunked_done(&st));
        CHECK_MEM(out, a + b, "hello world0123456789");
    }
}

TEST(chunked_leaves_following_bytes) {
    char buf[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    sb_http_chunked_t st = {0};
    size_t out_n;
    ssize_t r = sb_http_chunked_decode(&st, buf, sizeof buf - 1, &out_n, 100);
    CHECK_EQ(r, 13);
    CHECK(sb_http_chunked_done(&st));
    CHECK_MEM(buf, out_n, "abc");
    CHECK_MEM(buf + r, sizeof buf - 1 - (size_t)r, "GET / HTTP/1.1\r\n");
    /* Once done, nothing more is consumed. */
    CHECK_EQ(sb_http_chunked_decode(&st, buf + r, 3, &out_n, 100), 0);
    CHECK_EQ(out_n, 0);
}

TEST(chunked_extensions_and_trailers) {
    static const char s[] = "5;name=value;x\r\nhello\r\n"
                            "3 ;a=\"q s\"\r\nabc\r\n"
                            "2\t\r\nde\r\n"
                            "b \t\r\n"
                            " 0123456789\r\n"
                            "0;last\r\n"
                            "X-Trailer: a\r\n"
                            "Y: caf\xc3\xa9\r\n"
                            "\r\n";
    for (size_t step = 0; step <= 2; step++) {
        sb_http_chunked_t st = {0};
        char out[64];
        size_t out_n, consumed;
        CHECK(chunked_feed(&st, s, sizeof s - 1, step, 1000, out, &out_n, &consumed) >= 0);
        CHECK(sb_http_chunked_done(&st));
        CHECK_EQ(consumed, sizeof s - 1);
        CHECK_MEM(out, out_n, "helloabcde 0123456789");
    }
}

TEST(chunked_zero_length) {
    sb_http_chunked_t st = {0};
    char buf[] = "0\r\n\r\n";
    size_t out_n = 7;
    CHECK_EQ(sb_http_chunked_decode(&st, buf, 0, &out_n, 0), 0);
    CHECK_EQ(out_n, 0);
    CHECK(!sb_http_chunked_done(&st));
    CHECK_EQ(sb_http_chunked_decode(&st, buf, 5, &out_n, 0), 5);
    CHECK_EQ(out_n, 0);
    CHECK(sb_http_chunked_done(&st));
    sb_http_chunked_t st2 = {0};
    char zeros[] = "000\r\n\r\n";
    CHECK_EQ(sb_http_chunked_decode(&st2, zeros, 7, &out_n, 0), 7);
    CHECK(sb_http_chunked_done(&st2));
}

TEST(chunked_max_body) {
    char out[64];
    size_t out_n, consumed;
    sb_http_chunked_t st = {0};
    const size_t n = sizeof CHUNKED_BODY - 1;
    CHECK(chunked_feed(&st, CHUNKED_BODY, n, 1, 21, out, &out_n, &consumed) >= 0);
    CHECK(sb_http_chunked_done(&st)); /* exactly max_body */
    sb_http_chunked_t st2 = {0};
    CHECK_EQ(chunked_feed(&st2, CHUNKED_BODY, n, 1, 20, out, &out_n, &consumed), SB_ETOOBIG);
    CHECK_EQ(out_n, 11); /* refused at the third size line, before its data */
    sb_http_chunked_t st3 = {0};
    char huge[] = "FFFFFFFFFFFFFFFF\r\n";
    CHECK_EQ(sb_http_chunked_decode(&st3, huge, sizeof huge - 1, &out_n, 1 << 20), SB_ETOOBIG);
    sb_http_chunked_t st4 = {0};
    char big[] = "FFFFFFFFFFFFFFFF\r\nab";
    CHECK_EQ(sb_http_chunked_decode(&st4, big, sizeof big - 1, &out_n, UINT64_MAX), sizeof big - 1);
    CHECK_MEM(big, out_n, "ab");
}

typedef struct {
    const char *s;
    size_t n;
    int rc;
} chunk_bad_t;

#define CBAD(lit, rc)                                                                              \
    { lit, sizeof lit - 1, rc }

static const chunk_bad_t chunk_bad[] = {
    CBAD("x\r\n", SB_EPROTO),
    CBAD("\r\n", SB_EPROTO),
    CBAD(";a\r\n", SB_EPROTO),
    CBAD("-1\r\n", SB_EPROTO),
    CBAD("0x5\r\n", SB_EPROTO),
    CBAD("5x\r\nhello\r\n", SB_EPROTO),
    CBAD("5 x\r\nhello\r\n", SB_EPROTO),
    CBAD("5\nhello\r\n", SB_EPROTO),
    CBAD("5\rhello\r\n", SB_EPROTO),
    CBAD("5\r\nhelloX\r\n", SB_EPROTO),
    CBAD("5\r\nhello\rX", SB_EPROTO),
    CBAD("5\r\nhello\n", SB_EPROTO),
    CBAD("00000000000000001\r\n", SB_EPROTO), /* 17 digits */
    CBAD("10000000000000000\r\n", SB_EPROTO),
    CBAD("1;a\rb\r\n", SB_EPROTO),
    CBAD("1;a\0b\r\n", SB_EPROTO),
    CBAD("0\r\n X: a\r\n\r\n", SB_EPROTO), /* obs-fold in trailers */
    CBAD("0\r\nX: a\0\r\n\r\n", SB_EPROTO),
    CBAD("0\r\nX: a\rb\r\n\r\n", SB_EPROTO),
    CBAD("0\r\n\rX", SB_EPROTO),
    CBAD("0\r\n\n", SB_EPROTO),
};

TEST(chunked_errors) {
    for (size_t i = 0; i < sizeof chunk_bad / sizeof chunk_bad[0]; i++) {
        for (size_t step = 0; step <= 1; step++) {
            sb_http_chunked_t st = {0};
            char out[64];
            size_t out_n, consumed;
            ssize_t r = chunked_feed(&st, chunk_bad[i].s, chunk_bad[i].n, step, 1000, out, &out_n,
                                     &consumed);
            if (r != chunk_bad[i].rc)
                fprintf(stderr, "  chunk case %zu step %zu: %zd\n", i, step, r);
            CHECK_EQ(r, chunk_bad[i].rc);
            /* Errors are sticky. */
            char again[] = "0\r\n\r\n";
            CHECK_EQ(sb_http_chunked_decode(&st, again, 5, &out_n, 1000), chunk_bad[i].rc);
            CHECK(!sb_http_chunked_done(&st));
        }
    }
}

TEST(chunked_bounded_extensions_and_trailers) {
    sb_http_chunked_t st = {0};
    size_t out_n;
    char *ext = repeat('a', 300, "1;", "\r\nx\r\n0\r\n\r\n");
    CHECK_EQ(sb_http_chunked_decode(&st, ext, strlen(ext), &out_n, 1000), SB_ETOOBIG);
    free(ext);
    /* Just under the cap passes: ';' + 250 bytes + CR. */
    sb_http_chunked_t st2 = {0};
    char *ok = repeat('a', 250, "1;", "\r\nx\r\n0\r\n\r\n");
    CHECK_EQ(sb_http_chunked_decode(&st2, ok, strlen(ok), &out_n, 1000), strlen(ok));
    CHECK(sb_http_chunked_done(&st2));
    CHECK_MEM(ok, out_n, "x");
    free(ok);
    /* Endless whitespace after the size is bounded too. */
    sb_http_chunked_t st3 = {0};
    char *ws = repeat(' ', 1000, "1", "");
    CHECK_EQ(sb_http_chunked_decode(&st3, ws, strlen(ws), &out_n, 1000), SB_ETOOBIG);
    free(ws);
    /* A trailer section that never ends. */
    sb_http_chunked_t st4 = {0};
    char *tr = repeat('v', 5000, "0\r\nX: ", "");
    CHECK_EQ(sb_http_chunked_decode(&st4, tr, strlen(tr), &out_n, 1000), SB_ETOOBIG);
    free(tr);
    sb_http_chunked_t st5 = {0};
    char *many = malloc(6000);
    memcpy(many, "0\r\n", 3);
    for (size_t i = 3; i + 6 <= 6000; i += 6)
        memcpy(many + i, "A: b\r\n", 6);
    CHECK_EQ(sb_http_chunked_decode(&st5, many, 6000 - 3, &out_n, 1000), SB_ETOOBIG);
    free(many);
}

/* ---- query and percent-decoding ----------------------------------------------------------- */

static bool qget(const char *q, const char *key, char *out, size_t cap, size_t *n) {
    return sb_http_query_get(sb_cstr(q), sb_cstr(key), out, cap, n);
}

TEST(query_get) {
    char out[32];
    size_t n = 0;
    CHECK(qget("EIO=4&transport=polling&t=N1a", "transport", out, sizeof out, &n));
    CHECK_MEM(out, n, "polling");
    CHECK(qget("EIO=4&transport=polling&t=N1a", "EIO", out, sizeof out, &n));
    CHECK_MEM(out, n, "4");
    CHECK(qget("EIO=4&transport=polling&t=N1a", "t", out, sizeof out, &n));
    CHECK_MEM(out, n, "N1a");
    CHECK(!qget("EIO=4&transport=polling", "trans", out, sizeof out, &n));
    CHECK(!qget("EIO=4&transport=polling", "sid", out, sizeof out, &n));
    CHECK(!qget("EIO=4&transport=polling", "eio", out, sizeof out, &n)); /* keys are exact */
    CHECK(!qget("", "a", out, sizeof out, &n));
    CHECK(qget("a=1&b=x+y%20z%2B", "b", out, sizeof out, &n));
    CHECK_MEM(out, n, "x y z+");
    CHECK(qget("a=1&a=2", "a", out, sizeof out, &n)); /* first match wins */
    CHECK_MEM(out, n, "1");
    CHECK(qget("flag&x=1", "flag", out, sizeof out, &n));
    CHECK_EQ(n, 0);
    CHECK(qget("x=&y=2", "x", out, sizeof out, &n));
    CHECK_EQ(n, 0);
    CHECK(qget("a%62c=1", "abc", out, sizeof out, &n)); /* keys are decoded */
    CHECK_MEM(out, n, "1");
    CHECK(qget("my+key=v", "my key", out, sizeof out, &n));
    CHECK_MEM(out, n, "v");
    CHECK(qget("a=b=c", "a", out, sizeof out, &n));
    CHECK_MEM(out, n, "b=c");
    CHECK(qget("&&a=1&", "a", out, sizeof out, &n));
    CHECK_MEM(out, n, "1");
    CHECK(qget("%zz=1&a=2", "a", out, sizeof out, &n)); /* a bad key elsewhere is skipped */
    CHECK_MEM(out, n, "2");
}

TEST(query_get_malformed_and_overflow) {
    char out[8];
    size_t n = 77;
    CHECK(!qget("a=%zz", "a", out, sizeof out, &n));
    CHECK(!qget("a=%4", "a", out, sizeof out, &n));
    CHECK(!qget("a=%", "a", out, sizeof out, &n));
    CHECK(!qget("a=%4&b=1", "a", out, sizeof out, &n));
    CHECK(!qget("a=%g1", "a", out, sizeof out, &n));
    CHECK_EQ(n, 77); /* untouched on failure */
    CHECK(qget("a=12345678", "a", out, 8, &n));
    CHECK_MEM(out, n, "12345678");
    CHECK(!qget("a=123456789", "a", out, 8, &n));
    CHECK(!qget("a=%41%41%41", "a", out, 2, &n));
    CHECK(qget("a=%41%41%41", "a", out, 3, &n));
    CHECK_MEM(out, n, "AAA");
    CHECK(qget("a=", "a", NULL, 0, &n));
    CHECK_EQ(n, 0);
}

TEST(percent_decode) {
    char out[16];
    size_t n = 0;
    CHECK_EQ(sb_http_percent_decode(SB_LIT("a%2Fb+c%2f"), out, sizeof out, &n), SB_OK);
    CHECK_MEM(out, n, "a/b+c/");
    CHECK_EQ(sb_http_percent_decode(SB_LIT("%41%42"), out, sizeof out, &n), SB_OK);
    CHECK_MEM(out, n, "AB");
    CHECK_EQ(sb_http_percent_decode(SB_LIT("%00"), out, sizeof out, &n), SB_OK);
    CHECK_EQ(n, 1);
    CHECK_EQ(out[0], 0);
    CHECK_EQ(sb_http_percent_decode(SB_LIT("%ff%C3%A9"), out, sizeof out, &n), SB_OK);
    CHECK_MEM(out, n, "\xff\xc3\xa9");
    CHECK_EQ(sb_http_percent_decode(SB_LIT(""), out, sizeof out, &n), SB_OK);
    CHECK_EQ(n, 0);
    n = 55;
    CHECK_EQ(sb_http_percent_decode(SB_LIT("%zz"), out, sizeof out, &n), SB_EPROTO);
    CHECK_EQ(sb_http_percent_decode(SB_LIT("%4"), out, sizeof out, &n), SB_EPROTO);
    CHECK_EQ(sb_http_percent_decode(SB_LIT("ab%"), out, sizeof out, &n), SB_EPROTO);
    CHECK_EQ(sb_http_percent_decode(SB_LIT("%%41"), out, sizeof out, &n), SB_EPROTO);
    CHECK_EQ(sb_http_percent_decode(SB_LIT("abcd"), out, 3, &n), SB_ETOOBIG);
    CHECK_EQ(n, 55);
    CHECK_EQ(sb_http_percent_decode(SB_LIT("abc"), out, 3, &n), SB_OK);
    CHECK_EQ(n, 3);
    /* Exact-size input: "%4" at the very end must not read past it. */
    char *tail = malloc(2);
    memcpy(tail, "%4", 2);
    CHECK_EQ(sb_http_percent_decode(sb_str(tail, 2), out, sizeof out, &n), SB_EPROTO);
    free(tail);
}

int main(void) {
    RUN(get_with_query);
    RUN(get_every_split_same_fields);
    RUN(post_with_headers);
    RUN(options_star);
    RUN(http10_no_headers);
    RUN(empty_query_and_odd_targets);
    RUN(leading_empty_lines_skipped);
    RUN(pipelined_heads);
    RUN(rejections_with_status);
    RUN(bad_prefix_fails_early);
    RUN(too_many_headers);
    RUN(request_line_limit);
    RUN(head_limit);
    RUN(token_list);
    RUN(content_length);
    RUN(status_reasons);
    RUN(chunked_whole_and_bytewise);
    RUN(chunked_every_split);
    RUN(chunked_leaves_following_bytes);
    RUN(chunked_extensions_and_trailers);
    RUN(chunked_zero_length);
    RUN(chunked_max_body);
    RUN(chunked_errors);
    RUN(chunked_bounded_extensions_and_trailers);
    RUN(query_get);
    RUN(query_get_malformed_and_overflow);
    RUN(percent_decode);
    parse_release();
    TEST_MAIN_END();
}
