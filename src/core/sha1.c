#include "core/sha1.h"

/* FIPS 180-4, 6.1.2: 80 rounds over the message schedule W, kept as a
 * rolling window of 16 words. */
static void sha1_compress(uint32_t *h, const uint8_t block[SB_MD64_BLOCK]) {
    uint32_t w[16];
    for (int t = 0; t < 16; t++)
        w[t] = sb_md64_load_be32(block + 4 * t);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        if (t >= 16)
            w[t & 15] =
                sb_md64_rotl(w[(t - 3) & 15] ^ w[(t - 8) & 15] ^ w[(t - 14) & 15] ^ w[t & 15], 1);
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d); /* Ch */
            k = 0x5a827999;
        } else if (t < 40) {
            f = b ^ c ^ d; /* Parity */
            k = 0x6ed9eba1;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d); /* Maj */
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t tmp = sb_md64_rotl(a, 5) + f + e + k + w[t & 15];
        e = d;
        d = c;
        c = sb_md64_rotl(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void sb_sha1_init(sb_md64_t *m) {
    static const uint32_t h0[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    sb_md64_start(m, sha1_compress, h0, 5);
}

void sb_sha1(const void *p, size_t n, uint8_t out[SB_SHA1_BYTES]) {
    sb_md64_digest(sb_sha1_init, p, n, out);
}
