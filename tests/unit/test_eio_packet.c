/* Engine.IO v4 codec: text packets, polling payloads (including base64 binary
 * segments; base64 itself: test_codec.c) and the open packet's exact bytes. */
#include <stdint.h>

#include "core/err.h"
#include "engineio/packet.h"
#include "testlib.h"

/* ---- Text packets -------------------------------------------------------- */

TEST(parse_each_type) {
    static const char *wire[] = {"0{\"sid\":\"x\"}", "1", "2", "3", "4hello", "5", "6"};
    for (int t = 0; t <= 6; t++) {
        sb_eio_packet_t pk;
        size_t n = strlen(wire[t]);
        CHECK_EQ(sb_eio_packet_parse_text(wire[t], n, &pk), SB_OK);
        CHECK_EQ(pk.type, t);
        CHECK(!pk.binary);
        CHECK_EQ(pk.data.n, n - 1);
        CHECK(pk.data.p == wire[t] + 1);
    }
}

TEST(parse_data_kept_verbatim) {
    sb_eio_packet_t pk;
    CHECK_EQ(sb_eio_packet_parse_text("2probe", 6, &pk), SB_OK);
    CHECK_EQ(pk.type, SB_EIO_PING);
    CHECK_MEM(pk.data.p, pk.data.n, "probe");
    CHECK_EQ(sb_eio_packet_parse_text("42[\"a\"]", 7, &pk), SB_OK);
    CHECK_EQ(pk.type, SB_EIO_MESSAGE);
    CHECK_MEM(pk.data.p, pk.data.n, "2[\"a\"]");
    CHECK_EQ(sb_eio_packet_parse_text("4\x1e\0", 3, &pk), SB_OK); /* data is opaque here */
    CHECK_EQ(pk.data.n, 2);
}

TEST(parse_rejects) {
    sb_eio_packet_t pk;
    CHECK_EQ(sb_eio_packet_parse_text("", 0, &pk), SB_EPROTO);
    CHECK_EQ(sb_eio_packet_parse_text(NULL, 0, &pk), SB_EPROTO);
    CHECK_EQ(sb_eio_packet_parse_text("7", 1, &pk), SB_EPROTO);
    CHECK_EQ(sb_eio_packet_parse_text("9x", 2, &pk), SB_EPROTO);
    CHECK_EQ(sb_eio_packet_parse_text("/", 1, &pk), SB_EPROTO);
    CHECK_EQ(sb_eio_packet_parse_text("bAQID", 5, &pk), SB_EPROTO);
    CHECK_EQ(sb_eio_packet_parse_text("\x1e", 1, &pk), SB_EPROTO);
    CHECK_EQ(sb_eio_packet_parse_text(" 4", 2, &pk), SB_EPROTO);
}

/* ---- Payloads ------------------------------------------------------------ */

typedef struct {
    int count, rc;
    sb_eio_packet_t pk[8];
    uint8_t bin[8][16];
} drained_t;

/* Runs the iterator to its end; binary packets are copied out of bin_buf. */
static void drain(const char *p, size_t n, size_t bin_cap, drained_t *d) {
    sb_eio_payload_iter_t it;
    uint8_t bin[16];
    memset(d, 0, sizeof *d);
    sb_eio_payload_iter_init(&it, p, n);
    for (;;) {
        sb_eio_packet_t pk;
        int rc = sb_eio_payload_next(&it, &pk, bin, bin_cap);
        if (rc != 1) {
            d->rc = rc;
            CHECK_EQ(sb_eio_payload_next(&it, &pk, bin, bin_cap), 0); /* stays ended */
            return;
        }
        if (d->count == 8)
            abort();
        if (pk.binary) {
            memcpy(d->bin[d->count], pk.data.p, pk.data.n);
            pk.data.p = (const char *)d->bin[d->count];
        }
        d->pk[d->count++] = pk;
    }
}

TEST(payload_spec_example) {
    static const char body[] = "4hello\x1e"
                               "2\x1e"
                               "4world";
    drained_t d;
    drain(body, sizeof body - 1, 16, &d);
    CHECK_EQ(d.rc, 0);
    CHECK_EQ(d.count, 3);
    CHECK_EQ(d.pk[0].type, SB_EIO_MESSAGE);
    CHECK_MEM(d.pk[0].data.p, d.pk[0].data.n, "hello");
    CHECK_EQ(d.pk[1].type, SB_EIO_PING);
    CHECK_EQ(d.pk[1].data.n, 0);
    CHECK_EQ(d.pk[2].type, SB_EIO_MESSAGE);
    CHECK_MEM(d.pk[2].data.p, d.pk[2].data.n, "world");
}

TEST(payload_binary_segments) {
    static const char body[] = "4hello\x1e"
                               "bAQIDBA==\x1e"
                               "b\x1e"
                               "42[\"x\"]\x1e"
                               "b/w==";
    drained_t d;
    drain(body, sizeof body - 1, 16, &d);
    CHECK_EQ(d.rc, 0);
    CHECK_EQ(d.count, 5);
    CHECK(!d.pk[0].binary);
    CHECK(d.pk[1].binary);
    CHECK_EQ(d.pk[1].type, SB_EIO_MESSAGE);
    CHECK_MEM(d.pk[1].data.p, d.pk[1].data.n, "\x01\x02\x03\x04");
    CHECK(d.pk[2].binary); /* "b" alone is an empty binary message */
    CHECK_EQ(d.pk[2].data.n, 0);
    CHECK(!d.pk[3].binary);
    CHECK_MEM(d.pk[3].data.p, d.pk[3].data.n, "2[\"x\"]");
    CHECK(d.pk[4].binary);
    CHECK_MEM(d.pk[4].data.p, d.pk[4].data.n, "\xff");
}

TEST(payload_single_and_data_pointers) {
    static const char body[] = "6";
    drained_t d;
    drain(body, 1, 0, &d);
    CHECK_EQ(d.rc, 0);
    CHECK_EQ(d.count, 1);
    CHECK_EQ(d.pk[0].type, SB_EIO_NOOP);
    CHECK(d.pk[0].data.p == body + 1);
}

TEST(payload_errors) {
    drained_t d;
    drain("", 0, 16, &d); /* empty body */
    CHECK_EQ(d.count, 0);
    CHECK_EQ(d.rc, SB_EPROTO);
    drain(NULL, 0, 16, &d);
    CHECK_EQ(d.rc, SB_EPROTO);
    drain("4a\x1e", 3, 16, &d); /* trailing separator */
    CHECK_EQ(d.count, 1);
    CHECK_EQ(d.rc, SB_EPROTO);
    drain("\x1e"
          "4a",
          3, 16, &d); /* leading separator */
    CHECK_EQ(d.count, 0);
    CHECK_EQ(d.rc, SB_EPROTO);
    drain("4a\x1e\x1e"
          "4b",
          6, 16, &d); /* empty middle segment */
    CHECK_EQ(d.count, 1);
    CHECK_EQ(d.rc, SB_EPROTO);
    drain("4a\x1e"
          "7b\x1e"
          "4c",
          8, 16, &d); /* unknown type stops the payload */
    CHECK_EQ(d.count, 1);
    CHECK_EQ(d.rc, SB_EPROTO);
    drain("4a\x1e"
          "bAQID*A==",
          12, 16, &d); /* invalid base64 */
    CHECK_EQ(d.count, 1);
    CHECK_EQ(d.rc, SB_EPROTO);
    drain("bAQIDBA", 7, 16, &d); /* unpadded */
    CHECK_EQ(d.rc, SB_EPROTO);
    drain("bAQIDBA==", 9, 3, &d); /* decodes to 4 > bin_cap 3 */
    CHECK_EQ(d.count, 0);
    CHECK_EQ(d.rc, SB_ETOOBIG);
    drain("bAQIDBA==", 9, 4, &d);
    CHECK_EQ(d.rc, 0);
    CHECK_EQ(d.count, 1);
}

/* Each payload is also checked against a body cut short at every byte: no
 * cut may read past it, and the error or packet count is consistent. */
TEST(payload_every_cut_in_bounds) {
    static const char body[] = "4hello\x1e"
                               "bAQIDBA==\x1e"
                               "2probe";
    for (size_t cut = 0; cut <= sizeof body - 1; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, body, cut);
        drained_t d;
        drain(copy, cut, 16, &d);
        CHECK(d.rc == 0 || d.rc == SB_EPROTO);
        if (cut == sizeof body - 1)
            CHECK_EQ(d.count, 3);
        free(copy);
    }
}

/* ---- Open packet --------------------------------------------------------- */

TEST(open_packet_exact) {
    char out[256];
    size_t n = sb_eio_open_packet_write(out, sizeof out, SB_LIT("lv_VI97HAXpY6yYWAAAC"), true,
                                        25000, 20000, 1000000);
    CHECK_MEM(
        out, n,
        "0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,"
        "\"pingTimeout\":20000,\"maxPayload\":1000000}");
    n = sb_eio_open_packet_write(out, sizeof out, SB_LIT("s"), false, 0, 1, 0);
    CHECK_MEM(
        out, n,
        "0{\"sid\":\"s\",\"upgrades\":[],\"pingInterval\":0,\"pingTimeout\":1,\"maxPayload\":0}");
    n = sb_eio_open_packet_write(out, sizeof out, SB_LIT("a\"b"), false, 4294967295u, 5,
                                 (size_t)18446744073709551615ull);
    CHECK_MEM(out, n,
              "0{\"sid\":\"a\\\"b\",\"upgrades\":[],\"pingInterval\":4294967295,\"pingTimeout\":5,"
              "\"maxPayload\":18446744073709551615}");
}

TEST(open_packet_sizing) {
    char out[256];
    size_t need = sb_eio_open_packet_write(NULL, 0, SB_LIT("abc"), true, 25000, 20000, 1000000);
    CHECK_EQ(need, strlen("0{\"sid\":\"abc\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,"
                          "\"pingTimeout\":20000,\"maxPayload\":1000000}"));
    memset(out, '#', sizeof out);
    CHECK_EQ(sb_eio_open_packet_write(out, need - 1, SB_LIT("abc"), true, 25000, 20000, 1000000),
             need);
    CHECK_EQ(out[0], '#');
    CHECK_EQ(sb_eio_open_packet_write(out, need, SB_LIT("abc"), true, 25000, 20000, 1000000), need);
    CHECK_EQ(out[0], '0');
    CHECK_EQ(out[need - 1], '}');
    CHECK_EQ(out[need], '#');
}

int main(void) {
    RUN(parse_each_type);
    RUN(parse_data_kept_verbatim);
    RUN(parse_rejects);
    RUN(payload_spec_example);
    RUN(payload_binary_segments);
    RUN(payload_single_and_data_pointers);
    RUN(payload_errors);
    RUN(payload_every_cut_in_bounds);
    RUN(open_packet_exact);
    RUN(open_packet_sizing);
    TEST_MAIN_END();
}
