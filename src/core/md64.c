#include "core/md64.h"

#include <string.h>

void sb_md64_start(sb_md64_t *m, sb_md64_compress_fn *compress, const uint32_t *h0, size_t words) {
    m->_compress = compress;
    memcpy(m->_h, h0, words * sizeof *h0);
    m->_words = (uint32_t)words;
    m->_bytes = 0;
}

void sb_md64_update(sb_md64_t *m, const void *p, size_t n) {
    const uint8_t *in = p;
    if (n == 0)
        return; /* p may be NULL then */
    size_t used = (size_t)(m->_bytes % SB_MD64_BLOCK);
    m->_bytes += n;
    if (used > 0) {
        size_t take = SB_MD64_BLOCK - used < n ? SB_MD64_BLOCK - used : n;
        memcpy(m->_block + used, in, take);
        in += take;
        n -= take;
        if (used + take < SB_MD64_BLOCK)
            return;
        m->_compress(m->_h, m->_block);
    }
    for (; n >= SB_MD64_BLOCK; in += SB_MD64_BLOCK, n -= SB_MD64_BLOCK)
        m->_compress(m->_h, in);
    if (n > 0)
        memcpy(m->_block, in, n);
}

void sb_md64_final(sb_md64_t *m, uint8_t *out) {
    uint32_t *h = m->_h;
    size_t used = (size_t)(m->_bytes % SB_MD64_BLOCK);
    uint64_t bits = m->_bytes * 8; /* FIPS 180-4 takes the length modulo 2^64 */
    m->_block[used++] = 0x80;
    if (used > SB_MD64_BLOCK - 8) { /* no room for the length: one more block */
        memset(m->_block + used, 0, SB_MD64_BLOCK - used);
        m->_compress(h, m->_block);
        used = 0;
    }
    memset(m->_block + used, 0, SB_MD64_BLOCK - 8 - used);
    for (int i = 0; i < 8; i++)
        m->_block[SB_MD64_BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
    m->_compress(h, m->_block);
    for (size_t i = 0; i < m->_words; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

void sb_md64_digest(void (*init)(sb_md64_t *), const void *p, size_t n, uint8_t *out) {
    sb_md64_t m;
    init(&m);
    sb_md64_update(&m, p, n);
    sb_md64_final(&m, out);
}
