/* Fuzzes the RFC 6455 codecs: the frame header parser (against a reference
 * decoder written here, on every prefix, and re-encoded by the writers), the
 * payload unmasking (one shot vs pieces vs a byte loop, and involution), the
 * close payload parser and writer, and UTF-8 validation: the incremental
 * validator fed at arbitrary split points and byte by byte must agree with
 * the one-shot check and with an independent fail-fast reference.
 * Input: one frame as sent on the wire (header, then payload). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ws/frame.h"
#include "ws/utf8.h"
#include "fuzz_util.h"

/* ---- reference header decoder ------------------------------------------- */

/* Returns what sb_ws_hdr_parse must return for p[0..n) and fills *h on success. */
static ssize_t ref_hdr(const uint8_t *p, size_t n, sb_ws_hdr_t *h) {
    if (n < 1)
        return SB_EAGAIN;
    unsigned op = p[0] & 0xF;
    bool control = op >= 8;
    if (!(op == 0 || op == 1 || op == 2 || op == 8 || op == 9 || op == 10))
        return SB_EPROTO;
    if (control && !(p[0] & 0x80))
        return SB_EPROTO;
    if (n < 2)
        return SB_EAGAIN;
    unsigned l7 = p[1] & 0x7F;
    if (control && l7 > 125)
        return SB_EPROTO;
    size_t ext = l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
    if (l7 == 127 && n >= 3 && (p[2] & 0x80))
        return SB_EPROTO; /* the top bit alone proves it */
    if (n < 2 + ext)
        return SB_EAGAIN;
    uint64_t len = l7;
    if (ext) {
        len = 0;
        for (size_t i = 0; i < ext; i++)
            len = len * 256 + p[2 + i];
        if ((ext == 2 && len < 126) || (ext == 8 && len < 65536))
            return SB_EPROTO; /* not the minimal encoding */
    }
    bool masked = p[1] & 0x80;
    size_t hl = 2 + ext + (masked ? 4 : 0);
    if (n < hl)
        return SB_EAGAIN;
    h->fin = p[0] >> 7;
    h->rsv = (p[0] >> 4) & 7;
    h->opcode = (uint8_t)op;
    h->masked = masked;
    memset(h->mask, 0, 4);
    if (masked)
        memcpy(h->mask, p + 2 + ext, 4);
    h->len = len;
    h->hdr_len = (uint8_t)hl;
    return (ssize_t)hl;
}

static void check_header(const uint8_t *p, size_t n, const sb_ws_hdr_t *h, ssize_t r) {
    /* Re-encoding gives back the same bytes (the writers only know RSV1). */
    uint8_t w[SB_WS_HDR_MAX];
    size_t wl = h->masked ? sb_ws_hdr_write_masked(w, h->opcode, h->fin, h->rsv & SB_WS_RSV1,
                                                   h->len, h->mask)
                          : sb_ws_hdr_write(w, h->opcode, h->fin, h->rsv & SB_WS_RSV1, h->len);
    FZ_CHECK((ssize_t)wl == r && (size_t)r <= n);
    FZ_CHECK((w[0] | (p[0] & 0x30)) == p[0] && memcmp(w + 1, p + 1, wl - 1) == 0);
}

static void check_hdr_parse(const uint8_t *p, size_t n, sb_ws_hdr_t *h) {
    sb_ws_hdr_t want;
    memset(h, 0xAB, sizeof *h);
    ssize_t r = sb_ws_hdr_parse(p, n, h);
    ssize_t wr = ref_hdr(p, n, &want);
    FZ_CHECK(r == wr);
    if (r > 0) {
        FZ_CHECK(h->fin == want.fin && h->rsv == want.rsv && h->opcode == want.opcode);
        FZ_CHECK(h->masked == want.masked && h->len == want.len && h->hdr_len == r);
        FZ_CHECK(memcmp(h->mask, want.mask, 4) == 0);
        check_header(p, n, h, r);
    } else {
        uint8_t poison[sizeof *h];
        memset(poison, 0xAB, sizeof poison);
        FZ_CHECK(memcmp(h, poison, sizeof poison) == 0); /* out untouched on failure */
    }
    /* Every prefix, each in its own heap block: the reference's answer, and
     * SB_EAGAIN until the answer is known, then that same answer. */
    bool settled = false;
    for (size_t m = 0; m <= n && m <= SB_WS_HDR_MAX; m++) {
        uint8_t *q = fz_dup(p, m);
        sb_ws_hdr_t hh, hw;
        ssize_t rm = sb_ws_hdr_parse(q, m, &hh);
        FZ_CHECK(rm == ref_hdr(q, m, &hw) && rm <= (ssize_t)m);
        free(q);
        if (settled || rm != SB_EAGAIN)
            FZ_CHECK(rm == r);
        settled |= rm != SB_EAGAIN;
    }
}

/* ---- masking -------------------------------------------------------------- */

static void check_unmask(const uint8_t *pay, size_t n, const uint8_t mask[4], uint64_t seed,
                         uint8_t *plain) {
    uint8_t *one = fz_dup(pay, n), *pieces = fz_dup(pay, n);
    sb_ws_unmask(one, n, mask, 0);
    for (size_t i = 0; i < n; i++)
        FZ_CHECK(one[i] == (pay[i] ^ mask[i & 3]));
    size_t at = 0;
    for (int k = 0; at < n; k++) {
        size_t len = 1 + (size_t)((seed >> ((k * 5) & 63)) % 23);
        if (len > n - at)
            len = n - at;
        uint8_t *piece = fz_dup(pieces + at, len); /* exact-size block for ASan */
        sb_ws_unmask(piece, len, mask, at);
        memcpy(pieces + at, piece, len);
        free(piece);
        at += len;
    }
    FZ_CHECK(n == 0 || memcmp(one, pieces, n) == 0);
    memcpy(plain, one, n);
    sb_ws_unmask(one, n, mask, 0); /* masking twice is the identity */
    FZ_CHECK(n == 0 || memcmp(one, pay, n) == 0);
    free(one);
    free(pieces);
}

/* ---- UTF-8 reference ------------------------------------------------------ */

/* True when some code point encoded in exactly `len` bytes starts with the
 * k bytes at s (lead included): the range those bytes leave open must meet
 * the valid range for that length, minus the surrogates. */
static bool ref_prefix_ok(const uint8_t *s, size_t k, size_t len) {
    static const uint32_t lead_mask[5] = {0, 0, 0x1F, 0x0F, 0x07};
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    static const uint32_t max_cp[5] = {0, 0, 0x7FF, 0xFFFF, 0x10FFFF};
    uint32_t v = s[0] & lead_mask[len];
    for (size_t j = 1; j < k; j++)
        v = v << 6 | (s[j] & 0x3F);
    size_t free_bits = 6 * (len - k);
    uint32_t lo = v << free_bits, hi = lo | ((1u << free_bits) - 1);
    if (hi > max_cp[len])
        hi = max_cp[len];
    if (lo < min_cp[len])
        lo = min_cp[len];
    if (lo > hi)
        return false;
    /* [lo, hi] minus [D800, DFFF] is empty only if it lies inside it. */
    return !(lo >= 0xD800 && hi <= 0xDFFF);
}

/* Index of the first byte after which no continuation can make p valid, or
 * n when there is none; *complete says whether p ends on a boundary. */
static size_t ref_utf8_fail(const uint8_t *p, size_t n, bool *complete) {
    size_t i = 0;
    *complete = true;
    while (i < n) {
        uint8_t c = p[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xE0) == 0xC0 ? 2
                     : (c & 0xF0) == 0xE0 ? 3
                     : (c & 0xF8) == 0xF0 ? 4
                                          : 0;
        if (len == 0)
            return i;
        for (size_t k = 1; k <= len && len > 1; k++) {
            if (i + k > n) {
                *complete = false;
                return n;
            }
            if (k > 1 && (p[i + k - 1] & 0xC0) != 0x80)
                return i + k - 1;
            if (!ref_prefix_ok(p + i, k, len))
                return i + k - 1;
        }
        i += len;
    }
    return n;
}

static void check_utf8(const uint8_t *p, size_t n, uint64_t seed) {
    bool complete;
    size_t f = ref_utf8_fail(p, n, &complete);
    bool valid = f == n && complete;
    FZ_CHECK(sb_utf8_valid(p, n) == valid);
    /* Byte by byte: the error comes exactly on byte f, and sticks. */
    sb_utf8_t st = {0};
    for (size_t i = 0; i < n; i++) {
        int rc = sb_utf8_feed(&st, p + i, 1);
        FZ_CHECK(rc == (i >= f ? SB_EUTF8 : SB_OK));
    }
    FZ_CHECK(sb_utf8_feed(&st, NULL, 0) == (f < n ? SB_EUTF8 : SB_OK));
    FZ_CHECK(sb_utf8_complete(&st) == valid);
    /* Arbitrary pieces, each in its own heap block. */
    sb_utf8_t sp = {0};
    size_t at = 0;
    for (int k = 0; at < n; k++) {
        size_t len = (size_t)((seed >> ((k * 7) & 63)) % 9);
        if (len > n - at)
            len = n - at;
        uint8_t *piece = fz_dup(p + at, len);
        int rc = sb_utf8_feed(&sp, len ? piece : NULL, len);
        free(piece);
        at += len;
        FZ_CHECK(rc == (f < at ? SB_EUTF8 : SB_OK));
    }
    FZ_CHECK(sb_utf8_complete(&sp) == valid);
}

/* ---- close payloads ------------------------------------------------------- */

static bool ref_close_code(unsigned c) {
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

static void check_close(const uint8_t *p, size_t n) {
    uint16_t code = 7;
    sb_str_t reason = {NULL, 99};
    int rc = sb_ws_close_parse(p, n, &code, &reason);
    unsigned c = n >= 2 ? (unsigned)(p[0] << 8 | p[1]) : 0;
    int want = n == 0                                      ? SB_OK
               : (n == 1 || n > 125 || !ref_close_code(c)) ? SB_EPROTO
               : !sb_utf8_valid(p + 2, n - 2)              ? SB_EUTF8
                                                           : SB_OK;
    FZ_CHECK(rc == want);
    if (rc != SB_OK)
        return;
    if (n == 0) {
        FZ_CHECK(code == 1005 && reason.n == 0);
        return;
    }
    FZ_CHECK(code == c && reason.p == (const char *)p + 2 && reason.n == n - 2);
    FZ_CHECK(sb_ws_close_code_valid(code));
    uint8_t w[2 + SB_WS_CLOSE_REASON_MAX];
    size_t wn = sb_ws_close_write(w, code, reason.p, reason.n);
    FZ_CHECK(wn == n && memcmp(w, p, n) == 0); /* a valid payload writes back verbatim */
}

/* Any reason, any length: the writer's output always fits a control frame,
 * is a prefix cut on a character boundary, as long as possible, and parses
 * back when the reason was valid UTF-8. */
static void check_close_write(const uint8_t *p, size_t n) {
    uint16_t code = (uint16_t)(n >= 2 ? (p[0] << 8 | p[1]) : 1000);
    uint8_t w[2 + SB_WS_CLOSE_REASON_MAX];
    size_t wn = sb_ws_close_write(w, code, (const char *)p, n);
    if (code == 0) {
        FZ_CHECK(wn == 0);
        return;
    }
    FZ_CHECK(wn >= 2 && wn <= 125 && w[0] == code >> 8 && w[1] == (code & 0xFF));
    size_t m = wn - 2;
    FZ_CHECK(m <= n && (m == 0 || memcmp(w + 2, p, m) == 0));
    if (n <= SB_WS_CLOSE_REASON_MAX) {
        FZ_CHECK(m == n);
    } else {
        FZ_CHECK((p[m] & 0xC0) != 0x80 || m == 0); /* cut before a lead or ASCII byte */
        for (size_t k = m + 1; k <= SB_WS_CLOSE_REASON_MAX; k++)
            FZ_CHECK((p[k] & 0xC0) == 0x80); /* ...the last such boundary */
    }
    if (sb_utf8_valid(p, n) && sb_ws_close_code_valid(code)) {
        uint16_t c2;
        sb_str_t r2;
        FZ_CHECK(sb_ws_close_parse(w, wn, &c2, &r2) == SB_OK && c2 == code && r2.n == m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *p = fz_dup(data, size);
    uint64_t seed = sb_str_hash(sb_str((const char *)data, size));
    sb_ws_hdr_t h;
    check_hdr_parse(p, size, &h);
    /* The payload: what follows a parsed header (up to its length), else the
     * whole input under a fixed key. */
    size_t off = 0, n = size;
    uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    ssize_t hr = sb_ws_hdr_parse(p, size, &h);
    if (hr > 0) {
        off = (size_t)hr;
        n = size - off;
        if (h.masked)
            memcpy(mask, h.mask, 4);
        if (h.len < n)
            n = (size_t)h.len;
    }
    uint8_t *plain = fz_dup(p + off, n);
    check_unmask(p + off, n, mask, seed, plain);
    uint8_t *pl = fz_dup(plain, n); /* exact-size block */
    check_close(pl, n);
    check_close_write(pl, n);
    check_utf8(pl, n, seed);
    check_utf8(p, size, seed >> 3); /* the raw bytes as text too */
    free(pl);
    free(plain);
    free(p);
    return 0;
}
