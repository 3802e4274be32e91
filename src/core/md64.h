/* The Merkle-Damgard framing that SHA-1 and SHA-256 share (FIPS 180-4,
 * section 5): input cut into 64-byte blocks, each fed to the hash's
 * compression function, then padded with 0x80, zeros and the message
 * length in bits as a big-endian 64-bit number. A hash supplies only its
 * compression function, initial state and digest length (sb_sha1_init,
 * sb_sha256_init); feeding and finishing are these. Pure: no allocation. */
#ifndef SB_CORE_MD64_H
#define SB_CORE_MD64_H

#include <stddef.h>
#include <stdint.h>

#define SB_MD64_BLOCK 64

/* Mixes one 64-byte block into the state words h. */
typedef void sb_md64_compress_fn(uint32_t *h, const uint8_t block[SB_MD64_BLOCK]);

/* A hash in progress; fields private. */
typedef struct {
    sb_md64_compress_fn *_compress;
    uint32_t _h[8];                /* the state words */
    uint32_t _words;               /* of them, the digest's */
    uint64_t _bytes;               /* message bytes so far */
    uint8_t _block[SB_MD64_BLOCK]; /* the partial block: _bytes % 64 of it used */
} sb_md64_t;

/* Starts a hash: its compression function and its `words` initial state
 * words (at most 8), which are also the digest's. */
void sb_md64_start(sb_md64_t *m, sb_md64_compress_fn *compress, const uint32_t *h0, size_t words);
/* Feeds p[0..n) (p may be NULL when n is 0), whole blocks straight from p. */
void sb_md64_update(sb_md64_t *m, const void *p, size_t n);
/* Pads, compresses the last block(s) and writes the digest, 4 bytes per
 * state word; m must be started again before more use. */
void sb_md64_final(sb_md64_t *m, uint8_t *out);
/* The digest of p[0..n) in one call, of the hash `init` starts. */
void sb_md64_digest(void (*init)(sb_md64_t *), const void *p, size_t n, uint8_t *out);

static inline uint32_t sb_md64_load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t sb_md64_rotl(uint32_t x, unsigned n) { return x << n | x >> (32 - n); }

#endif
