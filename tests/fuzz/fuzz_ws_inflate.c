/* Fuzzes permessage-deflate. The first bytes are a Sec-WebSocket-Extensions
 * value: negotiation must produce in-range parameters and a response that is
 * a fixed point (negotiating it again gives the same answer). The rest is one
 * compressed message, inflated in 1..3 frames with max_out 64 KiB: the output
 * never exceeds it, earlier output never changes, and the result matches a
 * plain zlib reference run over the same bytes. Finally the input is
 * compressed by a peer stream and inflated back over several messages (with
 * context takeover): identity, with an exact output limit.
 *
 * Input: [L][L bytes of header value][message bytes][control bytes]. The
 * control bytes are taken from the end (see fz_src_t). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/err.h"
#include "ws/deflate.h"
#include "fuzz_util.h"

#define MAX_OUT (64 * 1024)

static const uint8_t tail4[4] = {0x00, 0x00, 0xff, 0xff};

/* ---- negotiation ---------------------------------------------------------- */

static bool same_params(const sb_ws_deflate_params_t *a, const sb_ws_deflate_params_t *b) {
    return a->server_max_window_bits == b->server_max_window_bits &&
           a->client_max_window_bits == b->client_max_window_bits &&
           a->server_no_context_takeover == b->server_no_context_takeover &&
           a->client_no_context_takeover == b->client_no_context_takeover && a->level == b->level &&
           a->mem_level == b->mem_level;
}

static int negotiate(sb_str_t v, const sb_ws_deflate_config_t *cfg, sb_ws_deflate_params_t *out,
                     char *resp, size_t cap, size_t *rn) {
    char *h = (char *)fz_dup(v.p, v.n); /* exact block: ASan sees overreads */
    int rc = sb_ws_deflate_negotiate(sb_str(h, v.n), cfg, out, resp, cap, rn);
    free(h);
    FZ_CHECK(rc == SB_OK || rc == SB_ENOTFOUND || rc == SB_ETOOBIG);
    return rc;
}

static void check_params(const sb_ws_deflate_params_t *a, const sb_ws_deflate_config_t *cfg) {
    FZ_CHECK(a->server_max_window_bits >= 9 && a->server_max_window_bits <= 15);
    FZ_CHECK(a->client_max_window_bits >= 8 && a->client_max_window_bits <= 15);
    uint8_t lvl = cfg && cfg->level >= 1 && cfg->level <= 9 ? cfg->level : 6;
    uint8_t mem = cfg && cfg->mem_level >= 1 && cfg->mem_level <= 8 ? cfg->mem_level : 8;
    FZ_CHECK(a->level == lvl && a->mem_level == mem);
    if (cfg && cfg->server_no_context_takeover)
        FZ_CHECK(a->server_no_context_takeover);
    if (cfg && cfg->client_no_context_takeover)
        FZ_CHECK(a->client_no_context_takeover);
    if (cfg && cfg->server_max_window_bits >= 9 && cfg->server_max_window_bits <= 15)
        FZ_CHECK(a->server_max_window_bits <= cfg->server_max_window_bits);
}

/* Returns the agreed params in *out (defaults when nothing was agreed). */
static void check_negotiation(sb_str_t v, const sb_ws_deflate_config_t *cfg,
                              sb_ws_deflate_params_t *out) {
    char resp[SB_WS_DEFLATE_RESPONSE_MAX];
    size_t rn = 0;
    sb_ws_deflate_params_t a;
    int rc = negotiate(v, cfg, &a, resp, sizeof resp, &rn);
    FZ_CHECK(rc != SB_ETOOBIG); /* SB_WS_DEFLATE_RESPONSE_MAX always suffices */
    /* Another extension in front changes nothing. */
    char *pre = malloc(v.n + 32);
    memcpy(pre, "x-webkit-other; a=\"1,2\", ", 25);
    memcpy(pre + 25, v.p, v.n);
    char resp2[SB_WS_DEFLATE_RESPONSE_MAX];
    size_t rn2 = 0;
    sb_ws_deflate_params_t a2;
    int rc2 = negotiate(sb_str(pre, v.n + 25), cfg, &a2, resp2, sizeof resp2, &rn2);
    free(pre);
    FZ_CHECK(rc2 == rc);
    *out = (sb_ws_deflate_params_t){15, 15, false, false, 6, 8};
    if (rc != SB_OK)
        return;
    FZ_CHECK(same_params(&a, &a2) && rn2 == rn && memcmp(resp, resp2, rn) == 0);
    FZ_CHECK(rn < sizeof resp && resp[rn] == '\0' && strlen(resp) == rn);
    FZ_CHECK(strncmp(resp, "permessage-deflate", 18) == 0);
    check_params(&a, cfg);
    /* The response, offered back, is a fixed point. */
    sb_ws_deflate_params_t a3;
    char resp3[SB_WS_DEFLATE_RESPONSE_MAX];
    size_t rn3 = 0;
    FZ_CHECK(negotiate(sb_str(resp, rn), cfg, &a3, resp3, sizeof resp3, &rn3) == SB_OK);
    FZ_CHECK(same_params(&a, &a3) && rn3 == rn && memcmp(resp, resp3, rn) == 0);
    /* The capacity check counts the NUL. */
    char *exact = malloc(rn + 1);
    FZ_CHECK(negotiate(v, cfg, &a3, exact, rn, &rn3) == SB_ETOOBIG);
    FZ_CHECK(negotiate(v, cfg, &a3, exact, rn + 1, &rn3) == SB_OK && rn3 == rn);
    FZ_CHECK(memcmp(exact, resp, rn + 1) == 0);
    free(exact);
    *out = a;
}

/* ---- reference inflate ---------------------------------------------------- */

/* zlib only refuses a distance beyond the window when the bytes it points to
 * are neither in the window nor in this call's output buffer. So a loose
 * reference (one big output buffer) accepts distances up to everything
 * produced so far, and a strict one (one output byte per call) refuses any
 * distance beyond the window. The codec must give one of the two answers. */
typedef struct {
    z_stream z;
    uint8_t *out;
    size_t cap, len; /* cap = max_out + 1 */
    bool ended, strict;
} ref_t;

/* Feeds in[0..n) the way the header describes the codec; returns SB_OK,
 * SB_ETOOBIG or SB_EPROTO. */
static int ref_feed(ref_t *r, const uint8_t *in, size_t n) {
    if (n == 0)
        return SB_OK;
    if (r->ended)
        return SB_EPROTO; /* data after a final block */
    r->z.next_in = (Bytef *)(uintptr_t)in;
    r->z.avail_in = (uInt)n;
    for (;;) {
        size_t room = r->cap - r->len, give = r->strict && room ? 1 : room;
        r->z.next_out = r->out + r->len;
        r->z.avail_out = (uInt)give;
        int zr = inflate(&r->z, Z_SYNC_FLUSH);
        r->len += give - r->z.avail_out;
        if (r->len > r->cap - 1)
            return SB_ETOOBIG;
        if (zr == Z_STREAM_END) {
            r->ended = true;
            return r->z.avail_in ? SB_EPROTO : SB_OK;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return SB_EPROTO;
        if (r->z.avail_out != 0 && (r->z.avail_in == 0 || zr == Z_BUF_ERROR))
            return SB_OK;
    }
}

/* One whole message: its frames concatenated, plus the stripped marker. */
static int ref_inflate(int wbits, bool strict, const uint8_t *in, size_t n, uint8_t *out,
                       size_t max_out, size_t *out_n) {
    ref_t r = {.out = out, .cap = max_out + 1, .strict = strict};
    FZ_CHECK(inflateInit2(&r.z, -wbits) == Z_OK);
    int rc = ref_feed(&r, in, n);
    if (rc == SB_OK && n > 0 && !r.ended) {
        rc = ref_feed(&r, tail4, 4);
        /* The marker is an empty stored block, so after it zlib must wait for
         * a block header (data_type bit 128); otherwise the message was cut
         * short and the marker was taken as content: refused. */
        if (rc == SB_OK && !r.ended && !(r.z.data_type & 128))
            rc = SB_EPROTO;
    }
    *out_n = r.len;
    inflateEnd(&r.z);
    return rc;
}

/* ---- the fuzzed message --------------------------------------------------- */

/* Inflates msg[0..n) in `frames` frames; returns the final code and copies the
 * message output into `got` (MAX_OUT bytes) when it succeeds. */
static int inflate_frames(sb_ws_deflate_t *d, const uint8_t *msg, size_t n, int frames,
                          fz_src_t *ctl, uint8_t *got, size_t *got_n) {
    size_t at = 0, prev_n = 0;
    uint8_t *prev = malloc(MAX_OUT + 1);
    int rc = SB_OK;
    for (int f = 0; f < frames; f++) {
        bool fin = f == frames - 1;
        size_t len = fin ? n - at : fz_range(ctl, 0, n - at);
        uint8_t *piece = fz_dup(msg + at, len);
        uint8_t *out = NULL;
        size_t out_n = 0;
        rc = sb_ws_inflate(d, piece, len, fin, &out, &out_n, MAX_OUT);
        free(piece);
        at += len;
        FZ_CHECK(rc == SB_OK || rc == SB_ETOOBIG || rc == SB_EPROTO);
        if (rc != SB_OK)
            break;
        FZ_CHECK(out_n <= MAX_OUT && out_n >= prev_n && (out_n == 0 || out != NULL));
        FZ_CHECK(prev_n == 0 || memcmp(out, prev, prev_n) == 0); /* earlier output kept */
        if (out_n)
            memcpy(prev, out, out_n);
        prev_n = out_n;
    }
    memcpy(got, prev, prev_n);
    *got_n = prev_n;
    free(prev);
    return rc;
}

static int check_message(sb_ws_deflate_t *d, const sb_ws_deflate_params_t *pa, const uint8_t *msg,
                         size_t n, fz_src_t *ctl) {
    int frames = (int)fz_range(ctl, 1, 3);
    uint8_t *got = malloc(MAX_OUT + 1), *want = malloc(MAX_OUT + 1);
    size_t got_n = 0, want_n = 0;
    int rc = inflate_frames(d, msg, n, frames, ctl, got, &got_n);
    int loose = ref_inflate(pa->client_max_window_bits, false, msg, n, want, MAX_OUT, &want_n);
    int strict = loose;
    if (loose != SB_EPROTO) {
        size_t strict_n = 0;
        uint8_t *s = malloc(MAX_OUT + 1);
        strict = ref_inflate(pa->client_max_window_bits, true, msg, n, s, MAX_OUT, &strict_n);
        if (strict == loose && strict == SB_OK)
            FZ_CHECK(strict_n == want_n && memcmp(s, want, want_n) == 0);
        free(s);
    }
    if (getenv("FZ_DEBUG"))
        fprintf(stderr, "frames=%d n=%zu rc=%d got_n=%zu loose=%d strict=%d want_n=%zu wbits=%d\n",
                frames, n, rc, got_n, loose, strict, want_n, pa->client_max_window_bits);
    FZ_CHECK(rc == loose || rc == strict);
    if (rc == SB_OK)
        FZ_CHECK(got_n == want_n && memcmp(got, want, got_n) == 0);
    free(got);
    free(want);
    return rc;
}

/* ---- round trip ----------------------------------------------------------- */

/* Compresses p with `peer` and inflates it with `d` in 1 or 2 frames. */
static int roundtrip(sb_ws_deflate_t *peer, sb_ws_deflate_t *d, const uint8_t *p, size_t n,
                     size_t max_out, bool split) {
    uint8_t *c = NULL, *out = NULL;
    size_t cn = 0, out_n = 0;
    FZ_CHECK(sb_ws_deflate_compress(peer, p, n, &c, &cn) == SB_OK);
    uint8_t *cc = fz_dup(c, cn); /* inflate may run after the next compress */
    size_t first = split ? cn / 2 : cn;
    int rc = sb_ws_inflate(d, cc, first, !split, &out, &out_n, max_out);
    if (rc == SB_OK && split)
        rc = sb_ws_inflate(d, cc + first, cn - first, true, &out, &out_n, max_out);
    free(cc);
    if (rc == SB_OK)
        FZ_CHECK(out_n == n && (n == 0 || memcmp(out, p, n) == 0));
    return rc;
}

static void check_roundtrip(sb_ws_deflate_t *d, const sb_ws_deflate_params_t *dp, const uint8_t *p,
                            size_t n, fz_src_t *ctl) {
    uint8_t bits = fz_byte(ctl);
    /* The peer's window must fit our inflater's; without our context it must
     * not keep its own. */
    sb_ws_deflate_params_t pp = {
        .server_max_window_bits = dp->client_max_window_bits < 9 ? 0 : dp->client_max_window_bits,
        .client_max_window_bits = 15,
        .server_no_context_takeover = dp->client_no_context_takeover || (bits & 1),
        .client_no_context_takeover = false,
        .level = (uint8_t)(1 + (bits >> 1) % 9),
        .mem_level = (uint8_t)(1 + (bits >> 5) % 8),
    };
    if (pp.server_max_window_bits == 0)
        return; /* an 8-bit window: zlib cannot compress for it */
    sb_ws_deflate_t *peer = sb_ws_deflate_create(&pp);
    FZ_CHECK(peer != NULL);
    for (int m = 0; m < 3; m++) {
        FZ_CHECK(roundtrip(peer, d, p, n, n, (bits >> (m + 1)) & 1) == SB_OK);
        if ((bits >> 4) & 1) {
            sb_ws_deflate_trim(d);
            sb_ws_deflate_trim(peer);
        }
    }
    /* One byte under the size: refused (this resets d's inflater, so last). */
    if (n > 0)
        FZ_CHECK(roundtrip(peer, d, p, n, n - 1, bits & 2) == SB_ETOOBIG);
    sb_ws_deflate_destroy(peer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Layout: [L][header: L % 128 bytes][message][8 control bytes][cfg byte]. */
    uint8_t cfg_sel = size ? data[size - 1] : 0;
    size_t body_n = size ? size - 1 : 0;
    size_t hl = body_n ? data[0] % 128 : 0;
    if (body_n && hl > body_n - 1)
        hl = body_n - 1;
    size_t msg_off = body_n ? 1 + hl : 0, msg_n = body_n - msg_off;
    size_t reserve = msg_n < 8 ? msg_n : 8;
    msg_n -= reserve;
    fz_src_t ctl = {data + msg_off + msg_n, reserve};
    sb_ws_deflate_config_t cfg = {
        .server_max_window_bits = (uint8_t)(cfg_sel & 15),
        .client_max_window_bits = (uint8_t)((cfg_sel >> 2) & 15),
        .server_no_context_takeover = cfg_sel & 0x40,
        .client_no_context_takeover = cfg_sel & 0x80,
        .level = (uint8_t)(cfg_sel % 11),
        .mem_level = (uint8_t)(cfg_sel % 10),
    };
    sb_ws_deflate_params_t pa;
    check_negotiation(sb_str((const char *)data + (body_n ? 1 : 0), hl),
                      (cfg_sel & 3) == 0 ? NULL : &cfg, &pa);
    sb_ws_deflate_t *d = sb_ws_deflate_create(&pa);
    FZ_CHECK(d != NULL);
    int rc = check_message(d, &pa, data + msg_off, msg_n, &ctl);
    /* After an error the inflater is reset, so d must work again. After a
     * success it may sit mid-block (a message whose deflate data is cut
     * short is accepted; see the report), so then use a fresh stream. */
    sb_ws_deflate_t *d2 = rc == SB_OK ? sb_ws_deflate_create(&pa) : d;
    check_roundtrip(d2, &pa, data, size, &ctl);
    if (d2 != d)
        sb_ws_deflate_destroy(d2);
    sb_ws_deflate_destroy(d);
    return 0;
}
