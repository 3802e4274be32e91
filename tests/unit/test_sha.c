/* Tests for core/sha1.c, core/sha256.c (with HMAC-SHA256) and core/md64.c:
 * the FIPS 180-4 example vectors (one block, two blocks, a million 'a'),
 * RFC 4231's HMAC-SHA256 cases (keys shorter and longer than a block), and
 * a cross-check against OpenSSL over thousands of random lengths, contents
 * and update splits. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#include "core/hex.h"
#include "core/sha1.h"
#include "core/sha256.h"
#include "testlib.h"

static const char MSG_448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char MSG_896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                              "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

static bool hex_is(const uint8_t *md, size_t n, const char *want) {
    char got[2 * SB_SHA256_BYTES + 1];
    sb_hex_encode(md, n, got);
    if (strcmp(got, want) == 0)
        return true;
    fprintf(stderr, "  got %s\n  want %s\n", got, want);
    return false;
}

static bool sha1_is(const char *msg, const char *want) {
    uint8_t md[SB_SHA1_BYTES];
    sb_sha1(msg, strlen(msg), md);
    return hex_is(md, sizeof md, want);
}

static bool sha256_is(const char *msg, const char *want) {
    uint8_t md[SB_SHA256_BYTES];
    sb_sha256(msg, strlen(msg), md);
    return hex_is(md, sizeof md, want);
}

TEST(sha1_fips_vectors) {
    CHECK(sha1_is("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    CHECK(sha1_is("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"));
    CHECK(sha1_is(MSG_448, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"));
    CHECK(sha1_is(MSG_896, "a49b2446a02c645bf419f995b67091253a04a259"));
    uint8_t md[SB_SHA1_BYTES];
    sb_sha1(NULL, 0, md);
    CHECK(hex_is(md, sizeof md, "da39a3ee5e6b4b0d3255bfef95601890afd80709"));
}

TEST(sha256_fips_vectors) {
    CHECK(sha256_is("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    CHECK(sha256_is("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK(sha256_is(MSG_448, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    CHECK(sha256_is(MSG_896, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));
}

/* A million 'a', fed in pieces of 1,000 (FIPS 180-4's long example). */
TEST(million_a) {
    char a[1000];
    memset(a, 'a', sizeof a);
    sb_md64_t s1, s2;
    sb_sha1_init(&s1);
    sb_sha256_init(&s2);
    for (int i = 0; i < 1000; i++) {
        sb_md64_update(&s1, a, sizeof a);
        sb_md64_update(&s2, a, sizeof a);
    }
    uint8_t m1[SB_SHA1_BYTES], m2[SB_SHA256_BYTES];
    sb_md64_final(&s1, m1);
    sb_md64_final(&s2, m2);
    CHECK(hex_is(m1, sizeof m1, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"));
    CHECK(
        hex_is(m2, sizeof m2, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

/* Lengths around the padding edge (55, 56, 63, 64, 65 bytes) agree whole
 * and fed one byte at a time. */
TEST(block_edges_bytewise) {
    uint8_t msg[200];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + 1);
    for (size_t n = 0; n <= sizeof msg; n++) {
        uint8_t whole[SB_SHA256_BYTES], bytes[SB_SHA256_BYTES];
        sb_sha256(msg, n, whole);
        sb_md64_t s;
        sb_sha256_init(&s);
        for (size_t i = 0; i < n; i++)
            sb_md64_update(&s, msg + i, 1);
        sb_md64_final(&s, bytes);
        CHECK(memcmp(whole, bytes, sizeof whole) == 0);
    }
}

static void fill(uint8_t *p, size_t n, uint8_t v) { memset(p, v, n); }

static bool hmac_is(const uint8_t *key, size_t key_n, const char *msg, size_t msg_n,
                    const char *want) {
    uint8_t mac[SB_SHA256_BYTES];
    sb_hmac_sha256(key, key_n, msg, msg_n, mac);
    return hex_is(mac, strlen(want) / 2, want);
}

/* RFC 4231, section 4: test cases 1-7 (case 5 truncated to 128 bits). */
TEST(hmac_rfc4231) {
    uint8_t key[131], data[50];
    fill(key, 20, 0x0b);
    CHECK(hmac_is(key, 20, "Hi There", 8,
                  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
    CHECK(hmac_is((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28,
                  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
    fill(key, 20, 0xaa);
    fill(data, 50, 0xdd);
    CHECK(hmac_is(key, 20, (const char *)data, 50,
                  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"));
    for (int i = 0; i < 25; i++)
        key[i] = (uint8_t)(i + 1);
    fill(data, 50, 0xcd);
    CHECK(hmac_is(key, 25, (const char *)data, 50,
                  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"));
    fill(key, 20, 0x0c);
    CHECK(hmac_is(key, 20, "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b"));
    fill(key, 131, 0xaa);
    static const char m6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK(hmac_is(key, 131, m6, sizeof m6 - 1,
                  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
    static const char m7[] = "This is a test using a larger than block-size key and a larger "
                             "than block-size data. The key needs to be hashed before being "
                             "used by the HMAC algorithm.";
    CHECK(hmac_is(key, 131, m7, sizeof m7 - 1,
                  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"));
}

/* xorshift64*: a fixed seed, so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static void rng_fill(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(rng() >> 56);
}

/* Our streaming digest of msg (init: the hash) fed in random pieces. */
static void digest_split(void (*init)(sb_md64_t *), const uint8_t *msg, size_t n, uint8_t *out) {
    sb_md64_t s;
    init(&s);
    for (size_t off = 0; off < n;) {
        size_t take = 1 + (size_t)(rng() % 150);
        take = take < n - off ? take : n - off;
        sb_md64_update(&s, msg + off, take);
        off += take;
    }
    sb_md64_final(&s, out);
}

#define CROSS_RUNS 4000
#define CROSS_MAX 2100

TEST(openssl_cross_check) {
    static uint8_t msg[CROSS_MAX], key[300];
    int bad = 0;
    for (int run = 0; run < CROSS_RUNS && bad < 5; run++) {
        /* Mostly short, sometimes up to ~2 KiB: every block remainder is hit. */
        size_t n = (size_t)(rng() % (run % 4 == 0 ? CROSS_MAX : 260));
        size_t key_n = (size_t)(rng() % sizeof key);
        rng_fill(msg, n);
        rng_fill(key, key_n);
        uint8_t ours[SB_SHA256_BYTES], theirs[EVP_MAX_MD_SIZE];
        unsigned int theirs_n = 0;

        sb_sha1(msg, n, ours);
        SHA1(msg, n, theirs);
        bad += memcmp(ours, theirs, SB_SHA1_BYTES) != 0;
        digest_split(sb_sha1_init, msg, n, ours);
        bad += memcmp(ours, theirs, SB_SHA1_BYTES) != 0;

        sb_sha256(msg, n, ours);
        SHA256(msg, n, theirs);
        bad += memcmp(ours, theirs, SB_SHA256_BYTES) != 0;
        digest_split(sb_sha256_init, msg, n, ours);
        bad += memcmp(ours, theirs, SB_SHA256_BYTES) != 0;

        sb_hmac_sha256(key, key_n, msg, n, ours);
        HMAC(EVP_sha256(), key, (int)key_n, msg, n, theirs, &theirs_n);
        bad += theirs_n != SB_SHA256_BYTES || memcmp(ours, theirs, SB_SHA256_BYTES) != 0;
        if (bad)
            fprintf(stderr, "  run %d: length %zu, key length %zu differ\n", run, n, key_n);
    }
    CHECK_EQ(bad, 0);
}

TEST(equal_compares_every_byte) {
    uint8_t a[32], b[32];
    rng_fill(a, sizeof a);
    memcpy(b, a, sizeof b);
    CHECK(sb_sha256_equal(a, b, sizeof a));
    CHECK(sb_sha256_equal(a, b, 0));
    for (size_t i = 0; i < sizeof a; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            CHECK(!sb_sha256_equal(a, b, sizeof a));
            b[i] ^= (uint8_t)(1u << bit);
        }
    }
    CHECK(sb_sha256_equal(a, b, sizeof a));
}

int main(void) {
    RUN(sha1_fips_vectors);
    RUN(sha256_fips_vectors);
    RUN(million_a);
    RUN(block_edges_bytewise);
    RUN(hmac_rfc4231);
    RUN(openssl_cross_check);
    RUN(equal_compares_every_byte);
    TEST_MAIN_END();
}
