/* Fuzzes the Engine.IO codec: a polling payload is iterated (with a roomy and
 * a tight binary buffer) and every packet is checked against a reference
 * split on 0x1e and a reference strict base64 decoder written here; binary
 * segments re-encode to exactly their text (the encoding is canonical). Then
 * base64 encode -> decode of the raw input must be the identity.
 * Input: one polling request body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/err.h"
#include "engineio/packet.h"
#include "fuzz_util.h"

static int ref_b64_val(char c) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *hit = c ? strchr(a, c) : NULL;
    return hit ? (int)(hit - a) : -1;
}

/* Strict padded base64, as the header specifies it, bit by bit. Returns the
 * decoded length, SB_EPROTO or SB_ETOOBIG (checked, as documented, once the
 * length is known from the padding). */
static ssize_t ref_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap) {
    if (n % 4)
        return SB_EPROTO;
    size_t pad = n >= 1 && s[n - 1] == '=' ? (n >= 2 && s[n - 2] == '=' ? 2 : 1) : 0;
    size_t len = n / 4 * 3 - pad;
    if (len > cap)
        return SB_ETOOBIG;
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < n - pad; i++) {
        int v = ref_b64_val(s[i]);
        if (v < 0)
            return SB_EPROTO;
        acc = (acc << 6 | (uint32_t)v) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return SB_EPROTO; /* unused bits must be zero */
    return (ssize_t)k;
}

typedef struct {
    const char *p;
    size_t n;
} seg_t;

static void check_payload(const char *body, size_t n, size_t cap) {
    uint8_t *bin = malloc(cap ? cap : 1), *want = malloc(n + 1);
    sb_eio_payload_iter_t it;
    sb_eio_payload_iter_init(&it, body, n);
    size_t start = 0;
    bool stopped = false;
    for (size_t seg_no = 0; !stopped; seg_no++) {
        /* The reference segment: up to the next 0x1e or the end. */
        const char *sep = start <= n ? memchr(body + start, 0x1e, n - start) : NULL;
        size_t end = sep ? (size_t)(sep - body) : n;
        seg_t s = {body + start, end - start};
        sb_eio_packet_t pk;
        memset(&pk, 0xCD, sizeof pk);
        int rc = sb_eio_payload_next(&it, &pk, bin, cap);
        int want_rc = 1;
        ssize_t wn = 0;
        if (s.n == 0 || (s.p[0] != 'b' && (s.p[0] < '0' || s.p[0] > '6')))
            want_rc = SB_EPROTO;
        else if (s.p[0] == 'b' && (wn = ref_b64_decode(s.p + 1, s.n - 1, want, cap)) < 0)
            want_rc = (int)wn;
        FZ_CHECK(rc == want_rc);
        if (rc == 1 && s.p[0] == 'b') {
            FZ_CHECK(pk.binary && pk.type == SB_EIO_MESSAGE && pk.data.p == (const char *)bin);
            FZ_CHECK(pk.data.n == (size_t)wn && memcmp(bin, want, (size_t)wn) == 0);
            /* Canonical: the decoded bytes encode back to exactly the text. */
            char *enc = malloc(sb_base64_encoded_len((size_t)wn, SB_BASE64_STD) + 1);
            size_t en = sb_base64_encode(bin, (size_t)wn, enc, SB_BASE64_STD);
            FZ_CHECK(en == s.n - 1 && memcmp(enc, s.p + 1, en) == 0);
            free(enc);
        } else if (rc == 1) {
            FZ_CHECK(!pk.binary && pk.type == (uint8_t)(s.p[0] - '0'));
            FZ_CHECK(pk.data.p == s.p + 1 && pk.data.n == s.n - 1);
            sb_eio_packet_t t;
            FZ_CHECK(sb_eio_packet_parse_text(s.p, s.n, &t) == SB_OK && t.type == pk.type);
        } else {
            FZ_CHECK(sb_eio_payload_next(&it, &pk, bin, cap) == 0); /* the payload is dead */
            stopped = true;
        }
        if (!sep && !stopped) {
            FZ_CHECK(sb_eio_payload_next(&it, &pk, bin, cap) == 0); /* the end, and it stays */
            FZ_CHECK(sb_eio_payload_next(&it, &pk, bin, cap) == 0);
            stopped = true;
        }
        start = end + 1;
        FZ_CHECK(seg_no <= n);
    }
    free(bin);
    free(want);
}

static void check_base64(const uint8_t *p, size_t n) {
    size_t en = sb_base64_encoded_len(n, SB_BASE64_STD);
    FZ_CHECK(en == (n + 2) / 3 * 4);
    char *enc = malloc(en ? en : 1);
    FZ_CHECK(sb_base64_encode(p, n, enc, SB_BASE64_STD) == en);
    uint8_t *dec = malloc(n ? n : 1);
    FZ_CHECK(sb_base64_decode(sb_str(enc, en), dec, n, SB_BASE64_STD) == (ssize_t)n);
    FZ_CHECK(n == 0 || memcmp(dec, p, n) == 0);
    if (n > 0)
        FZ_CHECK(sb_base64_decode(sb_str(enc, en), dec, n - 1, SB_BASE64_STD) == SB_ETOOBIG);
    /* The raw input read as base64 text: same verdict as the reference. */
    uint8_t *want = malloc(n + 1), *got = malloc(n + 1);
    ssize_t wr = ref_b64_decode((const char *)p, n, want, n);
    ssize_t gr = sb_base64_decode(sb_str((const char *)p, n), got, n, SB_BASE64_STD);
    FZ_CHECK(gr == wr && (gr <= 0 || memcmp(got, want, (size_t)gr) == 0));
    free(want);
    free(got);
    free(enc);
    free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *p = (char *)fz_dup(data, size);
    check_payload(p, size, 4096);
    check_payload(p, size, 5); /* small enough that binary segments overflow */
    check_payload(p, size, 0);
    check_base64(data, size);
    free(p);
    return 0;
}
