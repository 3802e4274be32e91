#include "core/sha256.h"

#include <string.h>

/* FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rotr(uint32_t x, unsigned n) { return x >> n | x << (32 - n); }

/* FIPS 180-4, 6.2.2: the schedule kept as a rolling window of 16 words. */
static void sha256_compress(uint32_t *h, const uint8_t block[SB_MD64_BLOCK]) {
    uint32_t w[16];
    for (int t = 0; t < 16; t++)
        w[t] = sb_md64_load_be32(block + 4 * t);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        if (t >= 16) {
            uint32_t w15 = w[(t - 15) & 15], w2 = w[(t - 2) & 15];
            uint32_t s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >> 3);
            uint32_t s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >> 10);
            w[t & 15] += s0 + w[(t - 7) & 15] + s1;
        }
        uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                      sha256_k[t] + w[t & 15];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void sb_sha256_init(sb_md64_t *m) {
    /* FIPS 180-4, 5.3.3: the fractional parts of the square roots of the
     * first 8 primes. */
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    sb_md64_start(m, sha256_compress, h0, 8);
}

void sb_sha256(const void *p, size_t n, uint8_t out[SB_SHA256_BYTES]) {
    sb_md64_digest(sb_sha256_init, p, n, out);
}

/* ---- HMAC (RFC 2104) ------------------------------------------------------ */

/* H((K ^ pad) || data): the inner hash (pad 0x36, the message) and the
 * outer one (pad 0x5c, the inner digest) are both this. */
static void hmac_pass(const uint8_t key[SB_MD64_BLOCK], uint8_t pad, const void *first,
                      size_t first_n, uint8_t out[SB_SHA256_BYTES]) {
    uint8_t k[SB_MD64_BLOCK];
    for (int i = 0; i < SB_MD64_BLOCK; i++)
        k[i] = key[i] ^ pad;
    sb_md64_t s;
    sb_sha256_init(&s);
    sb_md64_update(&s, k, sizeof k);
    sb_md64_update(&s, first, first_n);
    sb_md64_final(&s, out);
    explicit_bzero(k, sizeof k);
    explicit_bzero(&s, sizeof s);
}

void sb_hmac_sha256(const void *key, size_t key_n, const void *msg, size_t msg_n,
                    uint8_t out[SB_SHA256_BYTES]) {
    uint8_t k[SB_MD64_BLOCK] = {0}, inner[SB_SHA256_BYTES];
    if (key_n > SB_MD64_BLOCK)
        sb_sha256(key, key_n, k);
    else if (key_n > 0)
        memcpy(k, key, key_n);
    hmac_pass(k, 0x36, msg, msg_n, inner);
    hmac_pass(k, 0x5c, inner, sizeof inner, out);
    explicit_bzero(k, sizeof k);
    explicit_bzero(inner, sizeof inner);
}

bool sb_sha256_equal(const void *a, const void *b, size_t n) {
    /* volatile: the compiler may neither stop at the first difference nor
     * turn the loop into memcmp. */
    const volatile uint8_t *x = a, *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}
