/* UTF-8 validator: valid and invalid sequences, fail-fast positions fed byte
 * by byte, every split point, and a randomized comparison with a naive
 * reference decoder. */
#include <stdint.h>

#include "core/err.h"
#include "testlib.h"
#include "ws/utf8.h"

#define B(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

/* Feeds one byte at a time; returns the index of the byte that failed, or -1
 * if every byte was accepted. */
static long fail_at(const uint8_t *p, size_t n) {
    sb_utf8_t st = {0};
    for (size_t i = 0; i < n; i++)
        if (sb_utf8_feed(&st, p + i, 1) != SB_OK)
            return (long)i;
    return -1;
}

/* Valid and complete whole, byte by byte and split at every point. */
static int check_valid(const uint8_t *p, size_t n) {
    int bad = !sb_utf8_valid(p, n);
    for (size_t cut = 0; cut <= n; cut++) {
        sb_utf8_t st = {0};
        bad |= sb_utf8_feed(&st, p, cut) != SB_OK;
        bad |= sb_utf8_feed(&st, p + cut, n - cut) != SB_OK;
        bad |= !sb_utf8_complete(&st);
    }
    bad |= fail_at(p, n) != -1;
    return bad;
}

TEST(valid_sequences) {
    CHECK(!check_valid(B("")));
    CHECK(!check_valid(B("Hello-\x7f\x01 plain ASCII, long enough for the 8-byte path")));
    CHECK(!check_valid(B("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")));     /* kosme */
    CHECK(!check_valid(B("\xc2\x80\xdf\xbf")));                                 /* 2-byte edges */
    CHECK(!check_valid(B("\xe0\xa0\x80\xef\xbf\xbf\xed\x9f\xbf\xee\x80\x80"))); /* 3-byte */
    CHECK(!check_valid(B("\xef\xbf\xbe\xef\xbf\xbf")));                         /* U+FFFE/FFFF ok */
    CHECK(!check_valid(B("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\xf1\x80\x80\x80\xf3\xbf\xbf\xbf")));
    CHECK(!check_valid(B("abcdefg\xc3\xa9"
                         "abcdefghijklmnop\xf0\x9f\x98\x80xyz")));
    CHECK(!check_valid(B("\x00"))); /* NUL is a valid character */
}

TEST(overlongs_fail_fast) {
    CHECK_EQ(fail_at(B("\xc0\x80")), 0);
    CHECK_EQ(fail_at(B("\xc1\xbf")), 0);
    CHECK_EQ(fail_at(B("\xe0\x80\x80")), 1);
    CHECK_EQ(fail_at(B("\xe0\x9f\xbf")), 1);
    CHECK_EQ(fail_at(B("\xf0\x80\x80\x80")), 1);
    CHECK_EQ(fail_at(B("\xf0\x8f\xbf\xbf")), 1);
    CHECK(!sb_utf8_valid(B("\xc0\x80")));
    CHECK(!sb_utf8_valid(B("\xe0\x80\x80")));
    CHECK(!sb_utf8_valid(B("\xf0\x80\x80\x80")));
}

TEST(surrogates_and_range) {
    CHECK_EQ(fail_at(B("\xed\xa0\x80")), 1); /* U+D800 */
    CHECK_EQ(fail_at(B("\xed\xbf\xbf")), 1); /* U+DFFF */
    CHECK_EQ(fail_at(B("\xed\xa0\x80\xed\xb0\x80")), 1);
    CHECK_EQ(fail_at(B("\xf4\x90\x80\x80")), 1); /* U+110000 */
    CHECK_EQ(fail_at(B("\xf5\x80\x80\x80")), 0);
    CHECK_EQ(fail_at(B("\xf7\xbf\xbf\xbf")), 0);
    CHECK_EQ(fail_at(B("\xf8\x88\x80\x80\x80")), 0); /* old 5-byte form */
    CHECK_EQ(fail_at(B("\xfe")), 0);
    CHECK_EQ(fail_at(B("\xff")), 0);
    CHECK(!sb_utf8_valid(B("\xed\xa0\x80")));
    CHECK(!sb_utf8_valid(B("\xf4\x90\x80\x80")));
}

TEST(bad_continuations) {
    CHECK_EQ(fail_at(B("\x80")), 0);
    CHECK_EQ(fail_at(B("a\xbf")), 1);
    CHECK_EQ(fail_at(B("\xc2\x41")), 1);
    CHECK_EQ(fail_at(B("\xe1\x80\x41")), 2);
    CHECK_EQ(fail_at(B("\xf1\x80\x80\x41")), 3);
    CHECK_EQ(fail_at(B("\xc2\xc2\x80")), 1);
    CHECK_EQ(fail_at(B("\xe1\x80\xc0")), 2);
}

TEST(truncated_is_incomplete) {
    static const char *const cases[] = {"\xc2",         "\xe1",         "\xe1\x80", "\xf0\x90",
                                        "\xf0\x90\x80", "\xf4\x8f\xbf", "ab\xce"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const uint8_t *p = (const uint8_t *)cases[i];
        size_t n = strlen(cases[i]);
        sb_utf8_t st = {0};
        CHECK_EQ(sb_utf8_feed(&st, p, n), SB_OK);
        CHECK(!sb_utf8_complete(&st));
        CHECK(!sb_utf8_valid(p, n));
    }
    sb_utf8_t st = {0};
    CHECK(sb_utf8_complete(&st)); /* nothing fed: on a boundary */
}

TEST(error_is_sticky) {
    sb_utf8_t st = {0};
    CHECK_EQ(sb_utf8_feed(&st, B("\xff")), SB_EUTF8);
    CHECK_EQ(sb_utf8_feed(&st, B("abc")), SB_EUTF8);
    CHECK_EQ(sb_utf8_feed(&st, NULL, 0), SB_EUTF8);
    CHECK(!sb_utf8_complete(&st));
}

/* Autobahn 6.x style: a valid prefix, then the first impossible byte. */
TEST(autobahn_fail_fast) {
    /* kosme without sigma, then a surrogate: fails on A0 */
    CHECK_EQ(fail_at(B("\xce\xba\xe1\xbd\xb9\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64")),
             10);
    /* 6.4.1: kosme, then F4 90 80 80 (> U+10FFFF): fails on 90 */
    CHECK_EQ(fail_at(B("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64")),
             12);
    /* the same fed as three fragments, as 6.4.2 does */
    sb_utf8_t st = {0};
    CHECK_EQ(sb_utf8_feed(&st, B("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4")), SB_OK);
    CHECK_EQ(sb_utf8_feed(&st, B("\x90")), SB_EUTF8);
    /* 6.3.x style: invalid byte far inside an otherwise ASCII run */
    CHECK_EQ(fail_at(B("abcdefghijklmnopqrstuvwx\xc0yz")), 24);
    /* one-shot with fragments that are each fine but together wrong */
    st = (sb_utf8_t){0};
    CHECK_EQ(sb_utf8_feed(&st, B("abc\xed")), SB_OK);
    CHECK_EQ(sb_utf8_feed(&st, B("\xa0")), SB_EUTF8);
}

/* Naive reference: decode each sequence fully, then range-check it. */
static int ref_valid(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i];
        size_t len = b < 0x80             ? 1
                     : (b & 0xE0) == 0xC0 ? 2
                     : (b & 0xF0) == 0xE0 ? 3
                     : (b & 0xF8) == 0xF0 ? 4
                                          : 0;
        if (len == 0 || i + len > n)
            return 0;
        uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1Fu) : len == 3 ? (b & 0x0Fu) : (b & 0x07u);
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + k] & 0x3Fu);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

TEST(random_vs_reference) {
    static const uint8_t pool[] = {'a',  'Z',  0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
                                   0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed,
                                   0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
    uint32_t seed = 12345;
    int mismatches = 0, valid_seen = 0;
    for (int iter = 0; iter < 200000; iter++) {
        uint8_t buf[24];
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % sizeof buf;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = pool[(seed >> 16) % sizeof pool];
        }
        int want = ref_valid(buf, n);
        valid_seen += want;
        mismatches += sb_utf8_valid(buf, n) != want;
        sb_utf8_t st = {0};
        int fed = sb_utf8_feed(&st, buf, n / 2) == SB_OK &&
                  sb_utf8_feed(&st, buf + n / 2, n - n / 2) == SB_OK && sb_utf8_complete(&st);
        mismatches += fed != want;
    }
    CHECK_EQ(mismatches, 0);
    CHECK(valid_seen > 1000);
}

/* Could p[0..2) be the start of a valid string? Tries every completion of
 * up to three bytes drawn from the continuation values that matter. */
static int two_byte_viable(const uint8_t s[2]) {
    static const uint8_t tails[] = {0x80, 0x90, 0xa0, 0xbf};
    uint8_t buf[5] = {s[0], s[1]};
    for (int len = 0; len <= 3; len++) {
        int combos = 1 << (2 * len);
        for (int c = 0; c < combos; c++) {
            for (int k = 0; k < len; k++)
                buf[2 + k] = tails[(c >> (2 * k)) & 3];
            if (ref_valid(buf, 2 + (size_t)len))
                return 1;
        }
    }
    return 0;
}

TEST(all_two_byte_prefixes) {
    /* Exhaustive over every pair of bytes: the validator must reject the
     * pair exactly when no completion could make it valid (fail fast). */
    int mismatches = 0;
    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            uint8_t s[2] = {(uint8_t)a, (uint8_t)b};
            sb_utf8_t st = {0};
            int ok = sb_utf8_feed(&st, s, 2) == SB_OK;
            mismatches += ok != two_byte_viable(s);
        }
    }
    CHECK_EQ(mismatches, 0);
}

int main(void) {
    RUN(valid_sequences);
    RUN(overlongs_fail_fast);
    RUN(surrogates_and_range);
    RUN(bad_continuations);
    RUN(truncated_is_incomplete);
    RUN(error_is_sticky);
    RUN(autobahn_fail_fast);
    RUN(random_vs_reference);
    RUN(all_two_byte_prefixes);
    TEST_MAIN_END();
}
