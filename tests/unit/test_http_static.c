/* Unit tests for the static-file helpers: request paths turned into paths
 * under the root (traversal, encodings, NUL, dot-files, length), content
 * types, Accept-Encoding and If-None-Match. Symlinks out of the root are
 * tested end to end (tests/e2e/static.test.mjs). */
#include "http/static.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "testlib.h"

static int norm(const char *path, char *out, size_t cap) {
    return sb_http_static_path(sb_cstr(path), out, cap);
}

#define CHECK_PATH(in, want)                                                                       \
    do {                                                                                           \
        char o_[256];                                                                              \
        CHECK_EQ(norm(in, o_, sizeof o_), SB_OK);                                                  \
        CHECK_MEM(o_, strlen(o_), want);                                                           \
    } while (0)

TEST(paths_normalised) {
    CHECK_PATH("/", "index.html");
    CHECK_PATH("//", "index.html");
    CHECK_PATH("/app.js", "app.js");
    CHECK_PATH("/admin/", "admin/index.html");
    CHECK_PATH("/admin", "admin");
    CHECK_PATH("/a//b/./c", "a/b/c");
    CHECK_PATH("/a/%62.css", "a/b.css");
    CHECK_PATH("/%61%64min/", "admin/index.html");
    CHECK_PATH("/x%20y.html", "x y.html");
    CHECK_PATH("/caf%C3%A9.txt", "caf\xc3\xa9.txt");
    CHECK_PATH("/a..b/c...", "a..b/c...");
}

TEST(traversal_refused) {
    char o[256];
    const char *bad[] = {"/..",
                         "/../etc/passwd",
                         "/a/../../b",
                         "/a/..",
                         "/%2e%2e/x",
                         "/%2E%2E/x",
                         "/.%2e/x",
                         "/a/%2e%2e%2fb",
                         "/..%2f..%2fetc",
                         "/a%2f..%2f..",
                         "/a\\..\\b",
                         "/a%5c..%5cb",
                         "/a%00b",
                         "/%00",
                         "/a%0d%0ab",
                         "/a%7fb",
                         "/%",
                         "/%2",
                         "/%zz",
                         "relative",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = norm(bad[i], o, sizeof o);
        if (rc != SB_EPROTO)
            fprintf(stderr, "  path \"%s\": rc %d, expected SB_EPROTO\n", bad[i], rc);
        CHECK_EQ(rc, SB_EPROTO);
    }
}

TEST(dot_files_hidden) {
    char o[256];
    CHECK_EQ(norm("/.git/config", o, sizeof o), SB_ENOTFOUND);
    CHECK_EQ(norm("/a/.env", o, sizeof o), SB_ENOTFOUND);
    CHECK_EQ(norm("/%2egit/HEAD", o, sizeof o), SB_ENOTFOUND);
    CHECK_EQ(norm("/.well-known/x", o, sizeof o), SB_ENOTFOUND);
}

TEST(long_paths_bounded) {
    char o[64];
    CHECK_EQ(norm("/abcdefghij", o, 12), SB_OK);
    CHECK_EQ(norm("/abcdefghijk", o, 12), SB_OK); /* 11 bytes and the NUL */
    CHECK_EQ(norm("/abcdefghijkl", o, 12), SB_ETOOBIG);
    CHECK_EQ(norm("/", o, 10), SB_ETOOBIG); /* index.html needs 11 bytes */
    CHECK_EQ(norm("/", o, 0), SB_ETOOBIG);
    size_t n = SB_HTTP_STATIC_PATH_MAX * 4;
    char *huge = malloc(n + 1), *out = malloc(SB_HTTP_STATIC_PATH_MAX);
    for (size_t i = 0; i < n; i++)
        huge[i] = i % 2 ? 'a' : '/';
    huge[n] = '\0';
    CHECK_EQ(sb_http_static_path(sb_str(huge, n), out, SB_HTTP_STATIC_PATH_MAX), SB_ETOOBIG);
    for (size_t i = 0; i < n; i++) /* "/" * n decodes to nothing: the root */
        huge[i] = '/';
    CHECK_EQ(sb_http_static_path(sb_str(huge, SB_HTTP_STATIC_PATH_MAX - 1), out,
                                 SB_HTTP_STATIC_PATH_MAX),
             SB_OK);
    free(huge);
    free(out);
}

TEST(content_types) {
    CHECK(!strcmp(sb_http_static_type("index.html"), "text/html; charset=utf-8"));
    CHECK(!strcmp(sb_http_static_type("a/b/APP.JS"), "text/javascript; charset=utf-8"));
    CHECK(!strcmp(sb_http_static_type("style.css"), "text/css; charset=utf-8"));
    CHECK(!strcmp(sb_http_static_type("img/x.png"), "image/png"));
    CHECK(!strcmp(sb_http_static_type("i.svg"), "image/svg+xml"));
    CHECK(!strcmp(sb_http_static_type("x.json"), "application/json"));
    CHECK(!strcmp(sb_http_static_type("README"), "application/octet-stream"));
    CHECK(!strcmp(sb_http_static_type("a.b/README"), "application/octet-stream"));
    CHECK(!strcmp(sb_http_static_type("x.exe"), "application/octet-stream"));
}

TEST(accept_encoding) {
    CHECK(sb_http_accepts_gzip(SB_LIT("gzip")));
    CHECK(sb_http_accepts_gzip(SB_LIT("gzip, deflate, br")));
    CHECK(sb_http_accepts_gzip(SB_LIT("br;q=1.0, GZIP;q=0.5")));
    CHECK(sb_http_accepts_gzip(SB_LIT("*")));
    CHECK(sb_http_accepts_gzip(SB_LIT("gzip;q=0.001")));
    CHECK(!sb_http_accepts_gzip(SB_LIT("")));
    CHECK(!sb_http_accepts_gzip(SB_LIT("identity")));
    CHECK(!sb_http_accepts_gzip(SB_LIT("deflate, br")));
    CHECK(!sb_http_accepts_gzip(SB_LIT("gzip;q=0")));
    CHECK(!sb_http_accepts_gzip(SB_LIT("gzip; q=0.000, *")));
    CHECK(!sb_http_accepts_gzip(SB_LIT("*;q=0")));
    CHECK(!sb_http_accepts_gzip(SB_LIT("xgzip")));
}

TEST(if_none_match) {
    const char *tag = "\"1f-abc\"";
    CHECK(sb_http_etag_matches(SB_LIT("\"1f-abc\""), tag));
    CHECK(sb_http_etag_matches(SB_LIT("W/\"1f-abc\""), tag));
    CHECK(sb_http_etag_matches(SB_LIT("\"x\", \"1f-abc\""), tag));
    CHECK(sb_http_etag_matches(SB_LIT("*"), tag));
    CHECK(!sb_http_etag_matches(SB_LIT("\"1f-abd\""), tag));
    CHECK(!sb_http_etag_matches(SB_LIT("1f-abc"), tag));
    CHECK(!sb_http_etag_matches(SB_LIT(""), tag));
    CHECK(!sb_http_etag_matches(SB_LIT("\"1f-abc-gz\""), tag));
}

TEST(folder_create) {
    sb_http_static_t *st = NULL;
    CHECK_EQ(sb_http_static_create("/nonexistent/sb-web", &st), SB_ENOTFOUND);
    CHECK(st == NULL);
    CHECK_EQ(sb_http_static_create("/etc/hostname", &st), SB_EINVAL);
    CHECK(st == NULL);
    CHECK_EQ(sb_http_static_create("/tmp", &st), SB_OK);
    CHECK(st != NULL);
    sb_http_static_destroy(st);
}

int main(void) {
    RUN(paths_normalised);
    RUN(traversal_refused);
    RUN(dot_files_hidden);
    RUN(long_paths_bounded);
    RUN(content_types);
    RUN(accept_encoding);
    RUN(if_none_match);
    RUN(folder_create);
    TEST_MAIN_END();
}
