/* The shared codecs of core/: base64 in both alphabets (RFC 4648 vectors,
 * every length, strictness), hex digits, and the size-then-write writers. */
#include <stdint.h>

#include "core/base64.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/put.h"
#include "testlib.h"

#define STD SB_BASE64_STD
#define URL SB_BASE64_URL

static ssize_t dec_std(sb_str_t in, uint8_t *out, size_t cap) {
    return sb_base64_decode(in, out, cap, STD);
}

static ssize_t dec_url(sb_str_t in, uint8_t *out, size_t cap) {
    return sb_base64_decode(in, out, cap, URL);
}

/* ---- base64, standard alphabet (Engine.IO) -------------------------------- */

/* RFC 4648 section 10, padded and (URL alphabet) unpadded. */
TEST(base64_vectors) {
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *enc[2][7] = {
        {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"},
        {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"},
    };
    for (int kind = STD; kind <= URL; kind++) {
        for (int k = 0; k < 7; k++) {
            const char *e = enc[kind][k];
            char out[16];
            uint8_t back[16];
            size_t n = strlen(plain[k]);
            CHECK_EQ(sb_base64_encoded_len(n, (sb_base64_t)kind), strlen(e));
            size_t m = sb_base64_encode((const uint8_t *)plain[k], n, out, (sb_base64_t)kind);
            CHECK_EQ(m, strlen(e));
            CHECK(memcmp(out, e, m) == 0);
            CHECK_EQ(sb_base64_decode(sb_cstr(e), back, sizeof back, (sb_base64_t)kind),
                     (ssize_t)n);
            CHECK(memcmp(back, plain[k], n) == 0);
            CHECK(sb_base64_valid(sb_cstr(e), (sb_base64_t)kind));
        }
    }
}

TEST(base64_all_bytes_roundtrip) {
    uint8_t in[256], back[256];
    char enc[400];
    for (int k = 0; k < 256; k++)
        in[k] = (uint8_t)k;
    for (size_t n = 0; n <= 256; n++) {
        size_t m = sb_base64_encode(in + (256 - n), n, enc, STD);
        CHECK_EQ(m, sb_base64_encoded_len(n, STD));
        CHECK_EQ(dec_std(sb_str(enc, m), back, n), (ssize_t)n);
        CHECK(n == 0 || memcmp(back, in + (256 - n), n) == 0);
        if (n > 0)
            CHECK_EQ(dec_std(sb_str(enc, m), back, n - 1), SB_ETOOBIG);
    }
}

TEST(base64_strict) {
    uint8_t out[32];
    CHECK_EQ(dec_std(SB_LIT("AQIDBA=="), out, sizeof out), 4);
    CHECK(memcmp(out, "\x01\x02\x03\x04", 4) == 0);
    CHECK_EQ(dec_std(SB_LIT("AQIDBA"), out, sizeof out), SB_EPROTO);  /* unpadded */
    CHECK_EQ(dec_std(SB_LIT("AQIDBA="), out, sizeof out), SB_EPROTO); /* short pad */
    CHECK_EQ(dec_std(SB_LIT("AQIDBA==="), out, sizeof out), SB_EPROTO);
    CHECK_EQ(dec_std(SB_LIT("AQID===="), out, sizeof out), SB_EPROTO);
    CHECK_EQ(dec_std(SB_LIT("===="), out, sizeof out), SB_EPROTO);
    CHECK_EQ(dec_std(SB_LIT("A==="), out, sizeof out), SB_EPROTO);
    CHECK_EQ(dec_std(SB_LIT("AQ==AQID"), out, sizeof out), SB_EPROTO); /* pad inside */
    CHECK_EQ(dec_std(SB_LIT("A=ID"), out, sizeof out), SB_EPROTO);
    CHECK_EQ(dec_std(SB_LIT("AQ=D"), out, sizeof out), SB_EPROTO);
    CHECK_EQ(dec_std(SB_LIT("AQI D"), out, sizeof out), SB_EPROTO);
    CHECK_EQ(dec_std(SB_LIT("AQ\nID"), out, sizeof out), SB_EPROTO);
    CHECK_EQ(dec_std(SB_LIT("AQI-"), out, sizeof out), SB_EPROTO); /* base64url */
    CHECK_EQ(dec_std(SB_LIT("AQI_"), out, sizeof out), SB_EPROTO);
    CHECK_EQ(dec_std(SB_LIT("AQI\x80"), out, sizeof out), SB_EPROTO);
    CHECK_EQ(dec_std(SB_LIT("AQI\0"), out, sizeof out), SB_EPROTO);
    /* Non-canonical: bits under the padding must be zero. */
    CHECK_EQ(dec_std(SB_LIT("Zh=="), out, sizeof out), SB_EPROTO);
    CHECK_EQ(dec_std(SB_LIT("Zm9="), out, sizeof out), SB_EPROTO);
    CHECK_EQ(dec_std(SB_LIT("Zg=="), out, sizeof out), 1);
    CHECK_EQ(dec_std(SB_LIT("Zm8="), out, sizeof out), 2);
    CHECK_EQ(dec_std(SB_LIT(""), NULL, 0), 0);
    CHECK_EQ(dec_std(SB_LIT("Zm9v"), out, 2), SB_ETOOBIG);
    CHECK_EQ(dec_std(SB_LIT("Zm9v"), out, 3), 3);
}

/* ---- base64url (JWT) -------------------------------------------------------- */

/* 0xfb 0xff: "+/8=" in the standard alphabet, "-_8" in the URL one. */
TEST(base64url_alphabet_and_strictness) {
    static const uint8_t bytes[] = {0xfb, 0xff};
    char out[8];
    uint8_t back[8];
    CHECK_EQ(sb_base64_encode(bytes, 2, out, STD), 4);
    CHECK(memcmp(out, "+/8=", 4) == 0);
    CHECK_EQ(sb_base64_encode(bytes, 2, out, URL), 3);
    CHECK(memcmp(out, "-_8", 3) == 0);
    CHECK_EQ(dec_url(SB_LIT("-_8"), back, sizeof back), 2);
    CHECK(memcmp(back, bytes, 2) == 0);
    CHECK_EQ(dec_url(SB_LIT("+/8"), back, sizeof back), SB_EPROTO);   /* standard alphabet */
    CHECK_EQ(dec_std(SB_LIT("-_8="), back, sizeof back), SB_EPROTO);  /* and the reverse */
    CHECK_EQ(dec_url(SB_LIT("Zg=="), back, sizeof back), SB_EPROTO);  /* no padding */
    CHECK_EQ(dec_url(SB_LIT("Zm9vY"), back, sizeof back), SB_EPROTO); /* 4k + 1 */
    CHECK_EQ(dec_url(SB_LIT("Zh"), back, sizeof back), SB_EPROTO);    /* unused bits set */
    CHECK_EQ(dec_url(SB_LIT("Zm9"), back, sizeof back), SB_EPROTO);
    CHECK_EQ(dec_url(SB_LIT("Zm 9v"), back, sizeof back), SB_EPROTO);
    CHECK_EQ(dec_url(SB_LIT("Zm9vYmFy"), back, 5), SB_ETOOBIG);
    CHECK(!sb_base64_valid(SB_LIT("Zh"), URL));
    CHECK(!sb_base64_valid(SB_LIT("Zm9vY"), URL));
    CHECK(!sb_base64_valid(SB_LIT("Zg=="), URL));
    CHECK(sb_base64_valid(SB_LIT("Zg=="), STD));
    CHECK(!sb_base64_valid(SB_LIT("Zh=="), STD));
    CHECK(!sb_base64_valid(SB_LIT("Zg="), STD));
}

/* valid() and decode() agree on every 1- to 3-character string over a
 * small alphabet that has both kinds' specials, '=' and a stranger. */
TEST(base64_valid_agrees_with_decode) {
    static const char chars[] = "AZaz09+/-_=.Q";
    char s[3];
    uint8_t out[8];
    for (size_t len = 1; len <= 3; len++) {
        size_t total = 1;
        for (size_t k = 0; k < len; k++)
            total *= sizeof chars - 1;
        for (size_t code = 0; code < total; code++) {
            size_t c = code;
            for (size_t k = 0; k < len; k++, c /= sizeof chars - 1)
                s[k] = chars[c % (sizeof chars - 1)];
            for (int kind = STD; kind <= URL; kind++)
                CHECK_EQ(sb_base64_valid(sb_str(s, len), (sb_base64_t)kind),
                         sb_base64_decode(sb_str(s, len), out, sizeof out, (sb_base64_t)kind) >= 0);
        }
    }
}

/* ---- hex ------------------------------------------------------------------------ */

TEST(hex_values_every_byte) {
    for (int c = 0; c < 256; c++) {
        int want = c >= '0' && c <= '9'   ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : -1;
        CHECK_EQ(sb_hex_value(c), want);
        CHECK_EQ(sb_hex_value((char)c), want); /* a signed char too */
    }
}

TEST(hex_encode) {
    static const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof in + 1];
    memset(out, 'x', sizeof out);
    sb_hex_encode(in, sizeof in, out);
    CHECK(strcmp(out, "00017f80abff") == 0);
    sb_hex_encode(in, 0, out);
    CHECK(out[0] == '\0');
}

/* ---- sb_put: one pass to size, one to write ------------------------------------ */

static size_t write_line(char *out, uint64_t v) {
    size_t k = 0;
    SB_PUT_LIT(out, &k, "n=");
    sb_put_uint(out, &k, v);
    sb_put(out, &k, ";", 1);
    return k;
}

TEST(put_sizes_then_writes) {
    static const struct {
        uint64_t v;
        const char *text;
    } cases[] = {{0, "n=0;"},
                 {7, "n=7;"},
                 {10, "n=10;"},
                 {18446744073709551615ull, "n=18446744073709551615;"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t need = write_line(NULL, cases[i].v);
        CHECK_EQ(need, strlen(cases[i].text));
        char buf[40];
        memset(buf, '#', sizeof buf);
        CHECK_EQ(write_line(buf, cases[i].v), need);
        CHECK(memcmp(buf, cases[i].text, need) == 0);
        CHECK(buf[need] == '#'); /* not a byte past it */
    }
}

int main(void) {
    RUN(base64_vectors);
    RUN(base64_all_bytes_roundtrip);
    RUN(base64_strict);
    RUN(base64url_alphabet_and_strictness);
    RUN(base64_valid_agrees_with_decode);
    RUN(hex_values_every_byte);
    RUN(hex_encode);
    RUN(put_sizes_then_writes);
    TEST_MAIN_END();
}
