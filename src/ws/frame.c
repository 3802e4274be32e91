#include "ws/frame.h"

#include <string.h>

#include "core/err.h"
#include "ws/utf8.h"

/* ---- Header parsing ----------------------------------------------------- */

static bool ws_opcode_known(uint8_t op) { return op <= SB_WS_OP_BINARY || (op >= 8 && op <= 10); }

static uint64_t ws_be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* The first byte alone already proves an unknown opcode or a fragmented
 * control frame, so those fail before the rest of the header arrives. */
static int ws_check_b0(uint8_t b0) {
    uint8_t op = b0 & 0x0F;
    if (SB_UNLIKELY(!ws_opcode_known(op)))
        return SB_EPROTO;
    if (SB_UNLIKELY(op >= 8 && !(b0 & 0x80)))
        return SB_EPROTO;
    return SB_OK;
}

/* Decodes the payload length (n >= 2). Returns the number of extended length
 * bytes (0, 2 or 8), SB_EAGAIN or SB_EPROTO. RFC 6455 5.2 requires the
 * minimal encoding and a clear top bit; we reject anything else. */
static int ws_parse_len(const uint8_t *p, size_t n, uint64_t *len) {
    uint8_t l7 = p[1] & 0x7F;
    if (l7 < 126) {
        *len = l7;
        return 0;
    }
    if (l7 == 126) {
        if (n < 4)
            return SB_EAGAIN;
        uint64_t v = (uint64_t)p[2] << 8 | p[3];
        if (SB_UNLIKELY(v < 126))
            return SB_EPROTO;
        *len = v;
        return 2;
    }
    if (n >= 3 && SB_UNLIKELY(p[2] & 0x80))
        return SB_EPROTO;
    if (n < 10)
        return SB_EAGAIN;
    uint64_t v = ws_be64(p + 2);
    if (SB_UNLIKELY(v <= 0xFFFF))
        return SB_EPROTO;
    *len = v;
    return 8;
}

ssize_t sb_ws_hdr_parse(const uint8_t *p, size_t n, sb_ws_hdr_t *out) {
    if (n == 0)
        return SB_EAGAIN;
    int rc = ws_check_b0(p[0]);
    if (rc != SB_OK)
        return rc;
    if (n < 2)
        return SB_EAGAIN;
    uint8_t op = p[0] & 0x0F;
    if (SB_UNLIKELY(op >= 8 && (p[1] & 0x7F) > SB_WS_CONTROL_MAX))
        return SB_EPROTO;
    uint64_t len;
    int ext = ws_parse_len(p, n, &len);
    if (ext < 0)
        return ext;
    uint8_t masked = p[1] >> 7;
    size_t hl = 2 + (size_t)ext + (masked ? 4 : 0);
    if (n < hl)
        return SB_EAGAIN;
    out->fin = p[0] >> 7;
    out->rsv = (p[0] >> 4) & 0x7;
    out->opcode = op;
    out->masked = masked;
    if (masked)
        memcpy(out->mask, p + 2 + ext, 4);
    else
        memset(out->mask, 0, 4);
    out->len = len;
    out->hdr_len = (uint8_t)hl;
    return (ssize_t)hl;
}

/* ---- Header writing ----------------------------------------------------- */

/* Writes the 2-byte base header and the extended length; returns its size. */
static size_t ws_hdr_put(uint8_t *dst, uint8_t opcode, bool fin, bool rsv1, bool masked,
                         uint64_t len) {
    dst[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0F));
    uint8_t mbit = masked ? 0x80 : 0;
    if (len < 126) {
        dst[1] = (uint8_t)(mbit | len);
        return 2;
    }
    if (len <= 0xFFFF) {
        dst[1] = mbit | 126;
        dst[2] = (uint8_t)(len >> 8);
        dst[3] = (uint8_t)len;
        return 4;
    }
    dst[1] = mbit | 127;
    for (int i = 0; i < 8; i++)
        dst[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t sb_ws_hdr_write(uint8_t dst[10], uint8_t opcode, bool fin, bool rsv1, uint64_t len) {
    return ws_hdr_put(dst, opcode, fin, rsv1, false, len);
}

size_t sb_ws_hdr_write_masked(uint8_t dst[14], uint8_t opcode, bool fin, bool rsv1, uint64_t len,
                              const uint8_t mask[4]) {
    size_t hl = ws_hdr_put(dst, opcode, fin, rsv1, true, len);
    memcpy(dst + hl, mask, 4);
    return hl + 4;
}

/* ---- Masking ------------------------------------------------------------ */

void sb_ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t off) {
    /* Rotate the key so that key[0] applies to p[0]; then an 8-byte word of
     * two keys lines up with every 8-byte step. */
    uint8_t key[8];
    for (size_t i = 0; i < 8; i++)
        key[i] = mask[(off + i) & 3];
    uint64_t k;
    memcpy(&k, key, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= k;
        memcpy(p + i, &w, 8);
    }
    for (; i < n; i++)
        p[i] ^= key[i & 7];
}

/* ---- Close payloads ----------------------------------------------------- */

bool sb_ws_close_code_valid(uint16_t code) {
    /* 1004 is reserved; 1005, 1006 and 1015 must never be sent on the wire;
     * 1012-1014 are IANA-registered (restart, try again later, bad gateway). */
    if (code >= 1000 && code <= 1003)
        return true;
    if (code >= 1007 && code <= 1014)
        return true;
    return code >= 3000 && code <= 4999;
}

int sb_ws_close_parse(const uint8_t *p, size_t n, uint16_t *code, sb_str_t *reason) {
    if (n == 0) {
        *code = 1005;
        *reason = (sb_str_t){(const char *)p, 0};
        return SB_OK;
    }
    if (n == 1 || n > SB_WS_CONTROL_MAX)
        return SB_EPROTO;
    uint16_t c = (uint16_t)(p[0] << 8 | p[1]);
    if (!sb_ws_close_code_valid(c))
        return SB_EPROTO;
    if (!sb_utf8_valid(p + 2, n - 2))
        return SB_EUTF8;
    *code = c;
    *reason = (sb_str_t){(const char *)p + 2, n - 2};
    return SB_OK;
}

/* Largest m <= max such that s[0..m) does not end inside a UTF-8 sequence:
 * back off over continuation bytes to the lead byte and drop it too. */
static size_t ws_utf8_cut(const char *s, size_t n, size_t max) {
    if (n <= max)
        return n;
    size_t m = max;
    while (m > 0 && ((uint8_t)s[m] & 0xC0) == 0x80)
        m--;
    return m;
}

size_t sb_ws_close_write(uint8_t *dst, uint16_t code, const char *reason, size_t reason_n) {
    if (code == 0)
        return 0;
    dst[0] = (uint8_t)(code >> 8);
    dst[1] = (uint8_t)code;
    size_t m = ws_utf8_cut(reason, reason_n, SB_WS_CLOSE_REASON_MAX);
    if (m)
        memcpy(dst + 2, reason, m);
    return 2 + m;
}
