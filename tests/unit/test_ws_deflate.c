/* permessage-deflate: RFC 7692 examples, round trips with and without context
 * takeover, frame splits, size limits (zip bomb), corrupt input, window
 * enforcement and offer negotiation. */
#include <stdint.h>
#include <zlib.h>

#include "core/err.h"
#include "testlib.h"
#include "ws/deflate.h"

#define B(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

static sb_ws_deflate_t *mk(uint8_t sbits, uint8_t cbits, bool snct, bool cnct) {
    sb_ws_deflate_params_t p = {sbits, cbits, snct, cnct, 6, 8};
    return sb_ws_deflate_create(&p);
}

static uint8_t *text_corpus(size_t n) {
    static const char *const words[] = {"hello ",
                                        "world ",
                                        "switchboard ",
                                        "room:",
                                        "user:42 ",
                                        "{\"type\":\"chat\",",
                                        "\"data\":[1,2,3]} ",
                                        "\xce\xba "};
    uint8_t *p = malloc(n);
    uint32_t seed = 7;
    for (size_t i = 0; i < n;) {
        seed = seed * 1103515245u + 12345u;
        const char *w = words[(seed >> 16) % 8];
        for (size_t k = 0; w[k] && i < n; k++)
            p[i++] = (uint8_t)w[k];
        if ((seed >> 8) % 5 == 0 && i < n)
            p[i++] = (uint8_t)(seed >> 3); /* sprinkle noise */
    }
    return p;
}

TEST(rfc_hello_inflate) {
    sb_ws_deflate_t *d = mk(15, 15, false, false);
    uint8_t *out;
    size_t n;
    CHECK_EQ(sb_ws_inflate(d, B("\xf2\x48\xcd\xc9\xc9\x07\x00"), true, &out, &n, 1024), SB_OK);
    CHECK_MEM(out, n, "Hello");
    /* RFC 7692 7.2.3.2: the second "Hello" refers back to the first */
    CHECK_EQ(sb_ws_inflate(d, B("\xf2\x00\x11\x00\x00"), true, &out, &n, 1024), SB_OK);
    CHECK_MEM(out, n, "Hello");
    sb_ws_deflate_destroy(d);
}

TEST(rfc_hello_every_split) {
    static const uint8_t wire[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    for (size_t cut = 0; cut <= sizeof wire; cut++) {
        sb_ws_deflate_t *d = mk(15, 15, false, false);
        uint8_t *out;
        size_t n;
        CHECK_EQ(sb_ws_inflate(d, wire, cut, false, &out, &n, 1024), SB_OK);
        CHECK_EQ(sb_ws_inflate(d, wire + cut, sizeof wire - cut, true, &out, &n, 1024), SB_OK);
        CHECK_MEM(out, n, "Hello");
        sb_ws_deflate_destroy(d);
    }
    /* one byte per frame, with an empty final frame */
    sb_ws_deflate_t *d = mk(15, 15, false, false);
    uint8_t *out;
    size_t n;
    for (size_t i = 0; i < sizeof wire; i++)
        CHECK_EQ(sb_ws_inflate(d, wire + i, 1, false, &out, &n, 1024), SB_OK);
    CHECK_EQ(sb_ws_inflate(d, NULL, 0, true, &out, &n, 1024), SB_OK);
    CHECK_MEM(out, n, "Hello");
    sb_ws_deflate_destroy(d);
}

TEST(rfc_hello_compress) {
    sb_ws_deflate_t *d = mk(15, 15, false, false);
    uint8_t *out;
    size_t n;
    CHECK_EQ(sb_ws_deflate_compress(d, B("Hello"), &out, &n), SB_OK);
    CHECK_MEM(out, n, "\xf2\x48\xcd\xc9\xc9\x07\x00");
    CHECK_EQ(sb_ws_deflate_compress(d, B("Hello"), &out, &n), SB_OK);
    CHECK_MEM(out, n, "\xf2\x00\x11\x00\x00"); /* context taken over */
    sb_ws_deflate_destroy(d);

    d = mk(15, 15, true, false);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(sb_ws_deflate_compress(d, B("Hello"), &out, &n), SB_OK);
        CHECK_MEM(out, n, "\xf2\x48\xcd\xc9\xc9\x07\x00"); /* reset every message */
    }
    sb_ws_deflate_destroy(d);
}

TEST(empty_messages) {
    sb_ws_deflate_t *d = mk(15, 15, false, false);
    uint8_t *out;
    size_t n;
    CHECK_EQ(sb_ws_deflate_compress(d, NULL, 0, &out, &n), SB_OK);
    CHECK_MEM(out, n, "\x00"); /* RFC 7692 7.2.3.6 */
    CHECK_EQ(sb_ws_inflate(d, B("\x00"), true, &out, &n, 16), SB_OK);
    CHECK_EQ(n, 0);
    /* no payload at all is an empty message, and must not derail the stream */
    CHECK_EQ(sb_ws_inflate(d, NULL, 0, true, &out, &n, 16), SB_OK);
    CHECK_EQ(n, 0);
    CHECK_EQ(sb_ws_inflate(d, B("\xf2\x48\xcd\xc9\xc9\x07\x00"), true, &out, &n, 16), SB_OK);
    CHECK_MEM(out, n, "Hello");
    sb_ws_deflate_destroy(d);
}

/* Sends msgs through tx's compressor and rx's inflater, fragmenting each
 * compressed message into `frag`-byte frames. */
static int roundtrip(sb_ws_deflate_t *tx, sb_ws_deflate_t *rx, const uint8_t *msg, size_t len,
                     size_t frag) {
    uint8_t *c, *out = NULL;
    size_t cn, on = 0;
    if (sb_ws_deflate_compress(tx, msg, len, &c, &cn) != SB_OK)
        return 1;
    uint8_t *copy = malloc(cn ? cn : 1);
    memcpy(copy, c, cn);
    size_t off = 0;
    int rc = SB_OK;
    do {
        size_t k = cn - off < frag ? cn - off : frag;
        rc = sb_ws_inflate(rx, copy + off, k, off + k == cn, &out, &on, len);
        off += k;
    } while (rc == SB_OK && off < cn);
    int bad = rc != SB_OK || on != len || (len && memcmp(out, msg, len) != 0);
    free(copy);
    return bad;
}

TEST(roundtrip_context_takeover) {
    size_t total = 300000;
    uint8_t *text = text_corpus(total);
    sb_ws_deflate_t *tx = mk(15, 15, false, false), *rx = mk(15, 15, false, false);
    size_t pos = 0, sizes[] = {1, 5, 100, 4096, 70000, 0, 33, 150000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        CHECK_EQ(roundtrip(tx, rx, text + pos, sizes[i], 1000), 0);
        pos += sizes[i];
    }
    /* repeated messages compress to almost nothing with takeover */
    uint8_t *c;
    size_t cn;
    CHECK_EQ(sb_ws_deflate_compress(tx, text, 4096, &c, &cn), SB_OK);
    CHECK_EQ(sb_ws_deflate_compress(tx, text, 4096, &c, &cn), SB_OK);
    CHECK(cn < 100);
    sb_ws_deflate_destroy(tx);
    sb_ws_deflate_destroy(rx);
    free(text);
}

TEST(roundtrip_no_context_takeover) {
    uint8_t *text = text_corpus(100000);
    sb_ws_deflate_t *tx = mk(15, 15, true, true), *rx = mk(15, 15, true, true);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(roundtrip(tx, rx, text, 20000, 333), 0);
    /* each message decodes on a fresh inflater: nothing refers back */
    uint8_t *c, *out;
    size_t cn, on;
    CHECK_EQ(sb_ws_deflate_compress(tx, text, 20000, &c, &cn), SB_OK);
    sb_ws_deflate_t *fresh = mk(15, 15, false, false);
    CHECK_EQ(sb_ws_inflate(fresh, c, cn, true, &out, &on, 20000), SB_OK);
    CHECK(on == 20000 && memcmp(out, text, on) == 0);
    /* trim frees what can be rebuilt; the streams keep working */
    sb_ws_deflate_trim(tx);
    sb_ws_deflate_trim(rx);
    CHECK_EQ(roundtrip(tx, rx, text + 1, 5000, 5000), 0);
    sb_ws_deflate_destroy(fresh);
    sb_ws_deflate_destroy(tx);
    sb_ws_deflate_destroy(rx);
    free(text);
}

TEST(roundtrip_window_sizes) {
    uint8_t *text = text_corpus(50000);
    for (uint8_t bits = 9; bits <= 15; bits++) {
        /* the sender keeps within the agreed window */
        sb_ws_deflate_t *tx = mk(bits, 15, false, false), *rx = mk(15, bits, false, false);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(roundtrip(tx, rx, text + i * 7000, 12000, 4096), 0);
        sb_ws_deflate_destroy(tx);
        sb_ws_deflate_destroy(rx);
    }
    free(text);
}

TEST(window_beyond_agreement_decoded_consistently) {
    /* compressed with a 32 KB window, data repeating at a 2000-byte distance,
     * to a receiver that agreed to an 8-bit client window: decoded */
    uint8_t *text = text_corpus(2000), msg[6000];
    for (int i = 0; i < 3; i++)
        memcpy(msg + i * 2000, text, 2000);
    sb_ws_deflate_t *tx = mk(15, 15, false, false), *rx = mk(15, 8, false, false);
    uint8_t *c, *out;
    size_t cn, on;
    CHECK_EQ(sb_ws_deflate_compress(tx, msg, sizeof msg, &c, &cn), SB_OK);
    CHECK_EQ(sb_ws_inflate(rx, c, cn, true, &out, &on, 1 << 20), SB_OK);
    CHECK(on == sizeof msg && memcmp(out, msg, sizeof msg) == 0);
    sb_ws_deflate_destroy(tx);
    sb_ws_deflate_destroy(rx);
    free(text);
}

TEST(message_cut_inside_a_block_is_refused) {
    /* a stored block announcing 16 bytes that carries 3; a Huffman block cut
     * short: the restored flush marker must not be taken as data */
    static const uint8_t stored[] = {0x00, 0x10, 0x00, 0xef, 0xff, 0x61, 0x62, 0x63};
    static const uint8_t huffman[] = {0xf2, 0x48, 0xcd};
    const uint8_t *cases[] = {stored, huffman};
    size_t sizes[] = {sizeof stored, sizeof huffman};
    for (int i = 0; i < 2; i++) {
        sb_ws_deflate_t *rx = mk(15, 15, false, false);
        uint8_t *out;
        size_t on;
        CHECK_EQ(sb_ws_inflate(rx, cases[i], sizes[i], true, &out, &on, 1 << 20), SB_EPROTO);
        sb_ws_deflate_destroy(rx);
    }
}

TEST(zip_bomb) {
    size_t big = 1 << 20;
    uint8_t *zeros = calloc(1, big);
    sb_ws_deflate_t *tx = mk(15, 15, false, false), *rx = mk(15, 15, false, false);
    uint8_t *c, *out;
    size_t cn, on;
    CHECK_EQ(sb_ws_deflate_compress(tx, zeros, big, &c, &cn), SB_OK);
    CHECK(cn < 2000);
    uint8_t *bomb = malloc(cn);
    memcpy(bomb, c, cn);
    CHECK_EQ(sb_ws_inflate(rx, bomb, cn, true, &out, &on, 64 * 1024), SB_ETOOBIG);
    /* fed as frames, the frame that crosses the limit fails */
    int rc = SB_OK;
    size_t off = 0;
    for (; rc == SB_OK && off < cn; off += 64)
        rc = sb_ws_inflate(rx, bomb + off, cn - off < 64 ? cn - off : 64, off + 64 >= cn, &out, &on,
                           64 * 1024);
    CHECK_EQ(rc, SB_ETOOBIG);
    CHECK(off < cn);
    /* the exact size passes, one byte less does not */
    sb_ws_deflate_t *rx2 = mk(15, 15, true, true), *tx2 = mk(15, 15, true, true);
    CHECK_EQ(sb_ws_deflate_compress(tx2, zeros, 100000, &c, &cn), SB_OK);
    memcpy(bomb, c, cn);
    CHECK_EQ(sb_ws_inflate(rx2, bomb, cn, true, &out, &on, 99999), SB_ETOOBIG);
    CHECK_EQ(sb_ws_inflate(rx2, bomb, cn, true, &out, &on, 100000), SB_OK);
    CHECK_EQ(on, 100000);
    CHECK_EQ(sb_ws_inflate(rx2, B("\xf2\x48\xcd\xc9\xc9\x07\x00"), true, &out, &on, 0), SB_ETOOBIG);
    sb_ws_deflate_destroy(tx);
    sb_ws_deflate_destroy(rx);
    sb_ws_deflate_destroy(tx2);
    sb_ws_deflate_destroy(rx2);
    free(bomb);
    free(zeros);
}

TEST(corrupt_input) {
    uint8_t *out;
    size_t n;
    sb_ws_deflate_t *d = mk(15, 15, false, true);
    CHECK_EQ(sb_ws_inflate(d, B("\xff\xff\xff\xff"), true, &out, &n, 1024), SB_EPROTO);
    CHECK_EQ(sb_ws_inflate(d, B("\x07"), true, &out, &n, 1024), SB_EPROTO); /* BTYPE 11 */
    /* a stored block whose NLEN is not the complement of LEN */
    CHECK_EQ(sb_ws_inflate(d, B("\x00\x05\x00\x00\x00hello"), true, &out, &n, 1024), SB_EPROTO);
    /* distance back to before the start of the stream */
    CHECK_EQ(sb_ws_inflate(d, B("\xf2\x00\x11\x00\x00"), true, &out, &n, 1024), SB_EPROTO);
    /* the stream is usable again after an error */
    CHECK_EQ(sb_ws_inflate(d, B("\xf2\x48\xcd\xc9\xc9\x07\x00"), true, &out, &n, 1024), SB_OK);
    CHECK_MEM(out, n, "Hello");
    sb_ws_deflate_destroy(d);
}

TEST(final_block) {
    /* a sender may end a message with BFINAL set (RFC 7692 7.2.3.4) */
    uint8_t raw[64];
    z_stream z = {0};
    CHECK_EQ(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)"Hello";
    z.avail_in = 5;
    z.next_out = raw;
    z.avail_out = sizeof raw;
    CHECK_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t rn = sizeof raw - z.avail_out;
    deflateEnd(&z);
    sb_ws_deflate_t *d = mk(15, 15, false, false);
    uint8_t *out;
    size_t n;
    CHECK_EQ(sb_ws_inflate(d, raw, rn, true, &out, &n, 64), SB_OK);
    CHECK_MEM(out, n, "Hello");
    CHECK_EQ(sb_ws_inflate(d, raw, rn, true, &out, &n, 64), SB_OK); /* next message, fresh */
    CHECK_MEM(out, n, "Hello");
    raw[rn] = 0x00; /* anything after the final block is an error */
    CHECK_EQ(sb_ws_inflate(d, raw, rn + 1, true, &out, &n, 64), SB_EPROTO);
    CHECK_EQ(sb_ws_inflate(d, raw, rn, false, &out, &n, 64), SB_OK);
    CHECK_EQ(sb_ws_inflate(d, B("\x00"), true, &out, &n, 64), SB_EPROTO);
    sb_ws_deflate_destroy(d);
}

TEST(inflate_output_feeds_compress) {
    /* the two directions use separate buffers: echoing is safe */
    sb_ws_deflate_t *d = mk(15, 15, false, false), *peer = mk(15, 15, false, false);
    uint8_t *in, *c;
    size_t in_n, cn;
    CHECK_EQ(sb_ws_inflate(d, B("\xf2\x48\xcd\xc9\xc9\x07\x00"), true, &in, &in_n, 64), SB_OK);
    CHECK_EQ(sb_ws_deflate_compress(d, in, in_n, &c, &cn), SB_OK);
    CHECK_MEM(in, in_n, "Hello");
    uint8_t *out;
    size_t on;
    CHECK_EQ(sb_ws_inflate(peer, c, cn, true, &out, &on, 64), SB_OK);
    CHECK_MEM(out, on, "Hello");
    sb_ws_deflate_destroy(d);
    sb_ws_deflate_destroy(peer);
}

TEST(create_rejects_bad_params) {
    sb_ws_deflate_params_t p = {15, 15, false, false, 6, 8};
    sb_ws_deflate_t *d = sb_ws_deflate_create(&p);
    CHECK(d != NULL);
    sb_ws_deflate_destroy(d);
    sb_ws_deflate_destroy(NULL);
    p.server_max_window_bits = 8; /* zlib cannot deflate raw with 8 */
    CHECK(sb_ws_deflate_create(&p) == NULL);
    p.server_max_window_bits = 15, p.client_max_window_bits = 16;
    CHECK(sb_ws_deflate_create(&p) == NULL);
    p.client_max_window_bits = 8, p.level = 0;
    CHECK(sb_ws_deflate_create(&p) == NULL);
    p.level = 1, p.mem_level = 9;
    CHECK(sb_ws_deflate_create(&p) == NULL);
}

/* ---- Negotiation -------------------------------------------------------- */

static char resp[SB_WS_DEFLATE_RESPONSE_MAX];
static size_t resp_n;
static sb_ws_deflate_params_t agreed;

static int nego(const char *hdr, const sb_ws_deflate_config_t *cfg) {
    memset(resp, '#', sizeof resp);
    resp_n = 0;
    memset(&agreed, 0xAA, sizeof agreed);
    return sb_ws_deflate_negotiate(sb_cstr(hdr), cfg, &agreed, resp, sizeof resp, &resp_n);
}

TEST(negotiate_basic) {
    CHECK_EQ(nego("permessage-deflate", NULL), SB_OK);
    CHECK_MEM(resp, resp_n, "permessage-deflate");
    CHECK_EQ(resp[resp_n], '\0');
    CHECK_EQ(agreed.server_max_window_bits, 15);
    CHECK_EQ(agreed.client_max_window_bits, 15);
    CHECK(!agreed.server_no_context_takeover && !agreed.client_no_context_takeover);
    CHECK_EQ(agreed.level, 6);
    CHECK_EQ(agreed.mem_level, 8);

    CHECK_EQ(nego("permessage-deflate; client_max_window_bits", NULL), SB_OK); /* browsers */
    CHECK_MEM(resp, resp_n, "permessage-deflate; client_max_window_bits=15");

    CHECK_EQ(nego("permessage-deflate; server_no_context_takeover; client_max_window_bits", NULL),
             SB_OK);
    CHECK_MEM(resp, resp_n,
              "permessage-deflate; server_no_context_takeover; client_max_window_bits=15");
    CHECK(agreed.server_no_context_takeover);

    CHECK_EQ(nego("permessage-deflate; client_no_context_takeover", NULL), SB_OK);
    CHECK_MEM(resp, resp_n, "permessage-deflate; client_no_context_takeover");
    CHECK(agreed.client_no_context_takeover);

    CHECK_EQ(nego("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12", NULL),
             SB_OK);
    CHECK_MEM(resp, resp_n,
              "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12");
    CHECK_EQ(agreed.server_max_window_bits, 10);
    CHECK_EQ(agreed.client_max_window_bits, 12);

    CHECK_EQ(nego("permessage-deflate; client_max_window_bits=8", NULL), SB_OK);
    CHECK_EQ(agreed.client_max_window_bits, 8);
    CHECK_EQ(nego("permessage-deflate; server_max_window_bits=9", NULL), SB_OK);
    CHECK_EQ(agreed.server_max_window_bits, 9);
}

TEST(negotiate_config) {
    sb_ws_deflate_config_t cfg = {.server_max_window_bits = 12,
                                  .client_max_window_bits = 10,
                                  .server_no_context_takeover = true,
                                  .level = 1,
                                  .mem_level = 4};
    CHECK_EQ(nego("permessage-deflate", &cfg), SB_OK);
    CHECK_MEM(resp, resp_n, "permessage-deflate"); /* our choices are invisible to the peer */
    CHECK_EQ(agreed.server_max_window_bits, 12);
    CHECK_EQ(agreed.client_max_window_bits, 15); /* not offered: the client may use 15 */
    CHECK(agreed.server_no_context_takeover);
    CHECK_EQ(agreed.level, 1);
    CHECK_EQ(agreed.mem_level, 4);

    CHECK_EQ(nego("permessage-deflate; server_max_window_bits=14; client_max_window_bits", &cfg),
             SB_OK);
    CHECK_MEM(resp, resp_n,
              "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10");
    CHECK_EQ(nego("permessage-deflate; server_max_window_bits=11; client_max_window_bits=9", &cfg),
             SB_OK);
    CHECK_MEM(resp, resp_n,
              "permessage-deflate; server_max_window_bits=11; client_max_window_bits=9");

    cfg = (sb_ws_deflate_config_t){.client_no_context_takeover = true};
    CHECK_EQ(nego("permessage-deflate", &cfg), SB_OK);
    CHECK_MEM(resp, resp_n, "permessage-deflate; client_no_context_takeover");

    cfg = (sb_ws_deflate_config_t){.server_max_window_bits = 8}; /* clamped to 9 */
    CHECK_EQ(nego("permessage-deflate", &cfg), SB_OK);
    CHECK_EQ(agreed.server_max_window_bits, 9);
}

TEST(negotiate_several_offers) {
    CHECK_EQ(nego("permessage-deflate; server_max_window_bits=8", NULL), SB_ENOTFOUND);
    CHECK_EQ(nego("permessage-deflate; server_max_window_bits=8, permessage-deflate; "
                  "client_max_window_bits",
                  NULL),
             SB_OK);
    CHECK_MEM(resp, resp_n, "permessage-deflate; client_max_window_bits=15");
    CHECK_EQ(nego("permessage-deflate; server_no_context_takeover; server_no_context_takeover, "
                  "permessage-deflate",
                  NULL),
             SB_OK);
    CHECK_MEM(resp, resp_n, "permessage-deflate");
    CHECK_EQ(nego("permessage-deflate; foo, permessage-deflate; client_no_context_takeover", NULL),
             SB_OK);
    CHECK_MEM(resp, resp_n, "permessage-deflate; client_no_context_takeover");
    CHECK_EQ(nego("x-webkit-deflate-frame, permessage-deflate; client_max_window_bits", NULL),
             SB_OK);
    CHECK_EQ(nego("foo; bar=\"a, permessage-deflate\", permessage-deflate; "
                  "server_max_window_bits=13",
                  NULL),
             SB_OK);
    CHECK_MEM(resp, resp_n, "permessage-deflate; server_max_window_bits=13");
    CHECK_EQ(nego("foo; bar=\"a, permessage-deflate\"", NULL), SB_ENOTFOUND);
    CHECK_EQ(nego(" , ,permessage-deflate ,", NULL), SB_OK);
    /* first acceptable wins */
    CHECK_EQ(nego("permessage-deflate; server_max_window_bits=10, permessage-deflate", NULL),
             SB_OK);
    CHECK_EQ(agreed.server_max_window_bits, 10);
}

TEST(negotiate_bad_offers) {
    static const char *const bad[] = {
        "",
        " ",
        ",,,",
        ";",
        "deflate-stream",
        "permessage-deflate;",
        "permessage-deflate; ;",
        "permessage-deflate foo",
        "permessage-deflate; foo",
        "permessage-deflate; foo=1",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=\"\"",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=+9",
        "permessage-deflate; server_max_window_bits=1e1",
        "permessage-deflate; server_max_window_bits=99999999999999999999",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=\"10",
        "permessage-deflate; server_max_window_bits=\"1\\",
        "permessage-deflate; server_max_window_bits=\"\"",
        "permessage-deflate; =10",
        "permessage-deflate, ",
        "\"permessage-deflate\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = nego(bad[i], NULL);
        if (i == 30) { /* trailing comma is an empty list element: still fine */
            CHECK_EQ(rc, SB_OK);
            continue;
        }
        if (rc != SB_ENOTFOUND)
            fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK_EQ(rc, SB_ENOTFOUND);
    }
}

TEST(negotiate_syntax_variants) {
    CHECK_EQ(nego("Permessage-Deflate; Client_Max_Window_Bits", NULL), SB_OK);
    CHECK_EQ(nego("permessage-deflate;server_max_window_bits=11;client_no_context_takeover", NULL),
             SB_OK);
    CHECK_EQ(agreed.server_max_window_bits, 11);
    CHECK_EQ(nego("permessage-deflate \t;\t server_max_window_bits = 12 ", NULL), SB_OK);
    CHECK_EQ(agreed.server_max_window_bits, 12);
    CHECK_EQ(nego("permessage-deflate; server_max_window_bits=\"10\"", NULL), SB_OK);
    CHECK_EQ(agreed.server_max_window_bits, 10);
    CHECK_EQ(nego("permessage-deflate; server_max_window_bits=\"1\\3\"", NULL), SB_OK);
    CHECK_EQ(agreed.server_max_window_bits, 13);
    CHECK_EQ(nego("permessage-deflate; client_max_window_bits=\"9\"", NULL), SB_OK);
    CHECK_EQ(agreed.client_max_window_bits, 9);
}

TEST(negotiate_response_cap) {
    const char *hdr = "permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
                      " server_max_window_bits=15; client_max_window_bits=15";
    sb_ws_deflate_params_t p;
    char buf[SB_WS_DEFLATE_RESPONSE_MAX];
    size_t n = 0;
    CHECK_EQ(sb_ws_deflate_negotiate(sb_cstr(hdr), NULL, &p, buf, sizeof buf, &n), SB_OK);
    CHECK_EQ(n, strlen(hdr));
    CHECK_MEM(buf, n,
              "permessage-deflate; server_no_context_takeover; "
              "client_no_context_takeover; server_max_window_bits=15; "
              "client_max_window_bits=15");
    size_t need = n;
    CHECK_EQ(sb_ws_deflate_negotiate(sb_cstr(hdr), NULL, &p, buf, need + 1, &n), SB_OK);
    CHECK_EQ(sb_ws_deflate_negotiate(sb_cstr(hdr), NULL, &p, buf, need, &n), SB_ETOOBIG);
    CHECK_EQ(sb_ws_deflate_negotiate(sb_cstr(hdr), NULL, &p, buf, 0, &n), SB_ETOOBIG);
}

TEST(negotiate_hostile) {
    /* random bytes drawn from the grammar's alphabet: must never crash or
     * read outside the slice (the buffer is sized exactly for ASan) */
    static const char alpha[] = "permessage-deflate;,=\" \\\t1089server_max_window_bits";
    uint32_t seed = 99;
    for (int iter = 0; iter < 50000; iter++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % 60;
        char *h = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            h[i] = alpha[(seed >> 16) % (sizeof alpha - 1)];
        }
        sb_ws_deflate_params_t p;
        char buf[SB_WS_DEFLATE_RESPONSE_MAX];
        size_t rn;
        int rc = sb_ws_deflate_negotiate(sb_str(h, n), NULL, &p, buf, sizeof buf, &rn);
        CHECK(rc == SB_OK || rc == SB_ENOTFOUND);
        free(h);
    }
    char *longh = malloc(100000);
    memset(longh, ',', 100000);
    sb_ws_deflate_params_t p;
    size_t rn;
    CHECK_EQ(sb_ws_deflate_negotiate(sb_str(longh, 100000), NULL, &p, resp, sizeof resp, &rn),
             SB_ENOTFOUND);
    free(longh);
}

int main(void) {
    RUN(rfc_hello_inflate);
    RUN(rfc_hello_every_split);
    RUN(rfc_hello_compress);
    RUN(empty_messages);
    RUN(roundtrip_context_takeover);
    RUN(roundtrip_no_context_takeover);
    RUN(roundtrip_window_sizes);
    RUN(window_beyond_agreement_decoded_consistently);
    RUN(message_cut_inside_a_block_is_refused);
    RUN(zip_bomb);
    RUN(corrupt_input);
    RUN(final_block);
    RUN(inflate_output_feeds_compress);
    RUN(create_rejects_bad_params);
    RUN(negotiate_basic);
    RUN(negotiate_config);
    RUN(negotiate_several_offers);
    RUN(negotiate_bad_offers);
    RUN(negotiate_syntax_variants);
    RUN(negotiate_response_cap);
    RUN(negotiate_hostile);
    TEST_MAIN_END();
}
