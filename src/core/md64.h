/* The Merkle-Damgard framing that SHA-1 and SHA-256 share (FIPS 180-4,
 * section 5): input cut into 64-byte blocks, each fed to the hash's
 * compression function, then padded with 0x80, zeros and the message
 * length in bits as a big-endian 64-bit number. The hashes supply only
 * their compression function and state words. Pure: no allocation. */
#ifndef SB_CORE_MD64_H
#define SB_CORE_MD64_H

#include <stddef.h>
#include <stdint.h>

#define SB_MD64_BLOCK 64

/* Mixes one 64-byte block into the state words h. */
typedef void sb_md64_compress_fn(uint32_t *h, const uint8_t block[SB_MD64_BLOCK]);

/* Embeddable by the hashes' contexts; fields private. */
typedef struct {
    uint64_t _bytes;               /* message bytes so far */
    uint8_t _block[SB_MD64_BLOCK]; /* the partial block: _bytes % 64 of it used */
} sb_md64_t;

static inline void sb_md64_init(sb_md64_t *m) { m->_bytes = 0; }
/* Feeds p[0..n) through compress into h, whole blocks straight from p. */
void sb_md64_update(sb_md64_t *m, uint32_t *h, sb_md64_compress_fn *compress, const void *p,
                    size_t n);
/* Pads, compresses the last block(s), and writes the first `words` state
 * words big-endian into out (4 * words bytes). */
void sb_md64_final(sb_md64_t *m, uint32_t *h, sb_md64_compress_fn *compress, size_t words,
                   uint8_t *out);

static inline uint32_t sb_md64_load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t sb_md64_rotl(uint32_t x, unsigned n) { return x << n | x >> (32 - n); }

#endif
