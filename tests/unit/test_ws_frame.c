/* WebSocket frame codec: header parse/write at every length boundary and
 * split point, protocol errors, unmasking against a naive reference, close
 * payloads, and the handshake accept key (RFC 6455 example). */
#include <stdint.h>

#include "core/err.h"
#include "testlib.h"
#include "ws/frame.h"
#include "ws/handshake_key.h"

#define B(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

/* Parses wire[0..n) whole, then checks every strict prefix says SB_EAGAIN. */
static ssize_t parse_all_splits(const uint8_t *wire, size_t n, sb_ws_hdr_t *h) {
    ssize_t r = sb_ws_hdr_parse(wire, n, h);
    for (size_t cut = 0; r > 0 && cut < (size_t)r; cut++) {
        sb_ws_hdr_t tmp;
        if (sb_ws_hdr_parse(wire, cut, &tmp) != SB_EAGAIN)
            return -9999;
    }
    return r;
}

TEST(parse_all_opcodes) {
    for (int op = 0; op < 16; op++) {
        uint8_t wire[2] = {(uint8_t)(0x80 | op), 0x05};
        sb_ws_hdr_t h;
        ssize_t r = sb_ws_hdr_parse(wire, 2, &h);
        int known = op <= 2 || (op >= 8 && op <= 10);
        CHECK_EQ(r, known ? 2 : SB_EPROTO);
        if (known) {
            CHECK_EQ(h.opcode, op);
            CHECK_EQ(h.fin, 1);
            CHECK_EQ(h.len, 5);
            CHECK_EQ(h.masked, 0);
            CHECK_EQ(h.hdr_len, 2);
        }
        /* the first byte alone is enough to reject an unknown opcode */
        CHECK_EQ(sb_ws_hdr_parse(wire, 1, &h), known ? SB_EAGAIN : SB_EPROTO);
    }
}

TEST(parse_lengths_unmasked) {
    sb_ws_hdr_t h;
    CHECK_EQ(parse_all_splits(B("\x82\x00"), &h), 2);
    CHECK_EQ(h.len, 0);
    CHECK_EQ(parse_all_splits(B("\x82\x7d"), &h), 2);
    CHECK_EQ(h.len, 125);
    CHECK_EQ(parse_all_splits(B("\x82\x7e\x00\x7e"), &h), 4);
    CHECK_EQ(h.len, 126);
    CHECK_EQ(parse_all_splits(B("\x82\x7e\xff\xff"), &h), 4);
    CHECK_EQ(h.len, 65535);
    CHECK_EQ(parse_all_splits(B("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"), &h), 10);
    CHECK_EQ(h.len, 65536);
    CHECK_EQ(parse_all_splits(B("\x02\x7f\x7f\xff\xff\xff\xff\xff\xff\xff"), &h), 10);
    CHECK(h.len == 0x7fffffffffffffffULL);
    CHECK_EQ(h.fin, 0);
    CHECK_EQ(h.hdr_len, 10);
}

TEST(parse_lengths_masked) {
    sb_ws_hdr_t h;
    CHECK_EQ(parse_all_splits(B("\x81\xfd\x01\x02\x03\x04"), &h), 6);
    CHECK_EQ(h.len, 125);
    CHECK_EQ(h.masked, 1);
    CHECK_MEM(h.mask, 4, "\x01\x02\x03\x04");
    CHECK_EQ(parse_all_splits(B("\x81\xfe\x00\x7e\xaa\xbb\xcc\xdd"), &h), 8);
    CHECK_EQ(h.len, 126);
    CHECK_MEM(h.mask, 4, "\xaa\xbb\xcc\xdd");
    CHECK_EQ(parse_all_splits(B("\x81\xfe\xff\xff\x00\x00\x00\x00"), &h), 8);
    CHECK_EQ(h.len, 65535);
    CHECK_EQ(parse_all_splits(B("\x81\xff\x00\x00\x00\x00\x00\x01\x00\x00\x11\x22\x33\x44"), &h),
             14);
    CHECK_EQ(h.len, 65536);
    CHECK_EQ(h.hdr_len, 14);
    CHECK_MEM(h.mask, 4, "\x11\x22\x33\x44");
}

TEST(parse_trailing_payload_ignored) {
    sb_ws_hdr_t h;
    CHECK_EQ(sb_ws_hdr_parse(B("\x81\x05Hello"), &h), 2);
    CHECK_EQ(h.len, 5);
    CHECK_EQ(sb_ws_hdr_parse(B("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), &h), 6);
}

TEST(parse_rsv_bits_reported) {
    sb_ws_hdr_t h;
    CHECK_EQ(sb_ws_hdr_parse(B("\xc1\x00"), &h), 2);
    CHECK_EQ(h.rsv, SB_WS_RSV1);
    CHECK_EQ(sb_ws_hdr_parse(B("\xf1\x00"), &h), 2);
    CHECK_EQ(h.rsv, SB_WS_RSV1 | SB_WS_RSV2 | SB_WS_RSV3);
    CHECK_EQ(sb_ws_hdr_parse(B("\x91\x00"), &h), 2);
    CHECK_EQ(h.rsv, SB_WS_RSV3);
}

TEST(parse_non_minimal_lengths) {
    sb_ws_hdr_t h;
    CHECK_EQ(sb_ws_hdr_parse(B("\x82\x7e\x00\x00"), &h), SB_EPROTO);
    CHECK_EQ(sb_ws_hdr_parse(B("\x82\x7e\x00\x7d"), &h), SB_EPROTO);
    CHECK_EQ(sb_ws_hdr_parse(B("\x82\xfe\x00\x05\x01\x02\x03\x04"), &h), SB_EPROTO);
    CHECK_EQ(sb_ws_hdr_parse(B("\x82\x7f\x00\x00\x00\x00\x00\x00\xff\xff"), &h), SB_EPROTO);
    CHECK_EQ(sb_ws_hdr_parse(B("\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x7e"), &h), SB_EPROTO);
    CHECK_EQ(sb_ws_hdr_parse(B("\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x00"), &h), SB_EPROTO);
    /* an incomplete extended length cannot be judged yet */
    CHECK_EQ(sb_ws_hdr_parse(B("\x82\x7e\x00"), &h), SB_EAGAIN);
}

TEST(parse_64bit_msb) {
    sb_ws_hdr_t h;
    CHECK_EQ(sb_ws_hdr_parse(B("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00"), &h), SB_EPROTO);
    CHECK_EQ(sb_ws_hdr_parse(B("\x82\x7f\xff\xff\xff\xff\xff\xff\xff\xff"), &h), SB_EPROTO);
    /* fail fast: the top byte is enough */
    CHECK_EQ(sb_ws_hdr_parse(B("\x82\x7f\x80"), &h), SB_EPROTO);
    CHECK_EQ(sb_ws_hdr_parse(B("\x82\x7f\x7f"), &h), SB_EAGAIN);
}

TEST(parse_control_rules) {
    sb_ws_hdr_t h;
    CHECK_EQ(parse_all_splits(B("\x89\x7d"), &h), 2); /* ping of 125: largest allowed */
    CHECK_EQ(h.opcode, SB_WS_OP_PING);
    CHECK_EQ(sb_ws_hdr_parse(B("\x89\x7e"), &h), SB_EPROTO);
    CHECK_EQ(sb_ws_hdr_parse(B("\x89\x7e\x00\x7e"), &h), SB_EPROTO);
    CHECK_EQ(sb_ws_hdr_parse(B("\x8a\x7f"), &h), SB_EPROTO);
    CHECK_EQ(sb_ws_hdr_parse(B("\x88\xfe"), &h), SB_EPROTO);
    /* fragmented control frames, detected from the first byte */
    CHECK_EQ(sb_ws_hdr_parse(B("\x08\x00"), &h), SB_EPROTO);
    CHECK_EQ(sb_ws_hdr_parse(B("\x09"), &h), SB_EPROTO);
    CHECK_EQ(sb_ws_hdr_parse(B("\x0a\x00"), &h), SB_EPROTO);
    /* data frames may be fragmented */
    CHECK_EQ(sb_ws_hdr_parse(B("\x01\x00"), &h), 2);
    CHECK_EQ(sb_ws_hdr_parse(B("\x00\x00"), &h), 2);
    CHECK_EQ(sb_ws_hdr_parse(NULL, 0, &h), SB_EAGAIN);
}

TEST(write_roundtrip) {
    static const uint64_t lens[] = {
        0, 1, 125, 126, 127, 65535, 65536, 0xffffffffULL, 0x7fffffffffffffffULL};
    static const size_t want_hl[] = {2, 2, 2, 4, 4, 4, 10, 10, 10};
    static const uint8_t ops[] = {SB_WS_OP_CONT, SB_WS_OP_TEXT, SB_WS_OP_BINARY};
    const uint8_t mask[4] = {0xde, 0xad, 0xbe, 0xef};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (size_t o = 0; o < sizeof ops; o++) {
            for (int flags = 0; flags < 4; flags++) {
                bool fin = flags & 1, rsv1 = flags & 2;
                uint8_t w[14];
                sb_ws_hdr_t h;
                size_t hl = sb_ws_hdr_write(w, ops[o], fin, rsv1, lens[i]);
                CHECK_EQ(hl, want_hl[i]);
                CHECK_EQ(parse_all_splits(w, hl, &h), (ssize_t)hl);
                CHECK(h.len == lens[i] && h.opcode == ops[o] && h.fin == fin && !h.masked);
                CHECK_EQ(h.rsv, rsv1 ? SB_WS_RSV1 : 0);
                hl = sb_ws_hdr_write_masked(w, ops[o], fin, rsv1, lens[i], mask);
                CHECK_EQ(hl, want_hl[i] + 4);
                CHECK_EQ(parse_all_splits(w, hl, &h), (ssize_t)hl);
                CHECK(h.len == lens[i] && h.masked && memcmp(h.mask, mask, 4) == 0);
            }
        }
    }
}

TEST(write_exact_bytes) {
    uint8_t w[14];
    CHECK_MEM(w, sb_ws_hdr_write(w, SB_WS_OP_TEXT, true, false, 5), "\x81\x05");
    CHECK_MEM(w, sb_ws_hdr_write(w, SB_WS_OP_TEXT, true, true, 7), "\xc1\x07");
    CHECK_MEM(w, sb_ws_hdr_write(w, SB_WS_OP_BINARY, false, false, 256), "\x02\x7e\x01\x00");
    CHECK_MEM(w, sb_ws_hdr_write(w, SB_WS_OP_BINARY, true, false, 65536),
              "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00");
    CHECK_MEM(w, sb_ws_hdr_write(w, SB_WS_OP_PONG, true, false, 0), "\x8a\x00");
    const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    CHECK_MEM(w, sb_ws_hdr_write_masked(w, SB_WS_OP_TEXT, true, false, 5, mask),
              "\x81\x85\x37\xfa\x21\x3d");
}

TEST(unmask_rfc_example) {
    /* RFC 6455 5.7: a masked "Hello" */
    uint8_t p[] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
    const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    sb_ws_unmask(p, sizeof p, mask, 0);
    CHECK_MEM(p, sizeof p, "Hello");
}

TEST(unmask_vs_reference) {
    const uint8_t mask[4] = {0x12, 0x9c, 0xa5, 0x7e};
    uint8_t src[48], got[48], want[48];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 37 + 11);
    int bad = 0;
    for (size_t off = 0; off < 8; off++) { /* offsets past 3 wrap mod 4 */
        for (size_t n = 0; n <= 40; n++) {
            for (size_t a = 0; a < 8; a++) { /* unaligned starts too */
                memcpy(got, src, sizeof src);
                memcpy(want, src, sizeof src);
                for (size_t i = 0; i < n; i++)
                    want[a + i] ^= mask[(off + i) % 4];
                sb_ws_unmask(got + a, n, mask, off);
                bad += memcmp(got, want, sizeof got) != 0;
            }
        }
    }
    CHECK_EQ(bad, 0);
}

TEST(unmask_resumes_across_reads) {
    const uint8_t mask[4] = {1, 2, 3, 4};
    uint8_t whole[37], parts[37];
    for (size_t i = 0; i < sizeof whole; i++)
        whole[i] = parts[i] = (uint8_t)(200 - i);
    sb_ws_unmask(whole, sizeof whole, mask, 0);
    for (size_t cut1 = 0; cut1 <= sizeof parts; cut1++) {
        for (size_t cut2 = cut1; cut2 <= sizeof parts; cut2++) {
            uint8_t tmp[37];
            memcpy(tmp, parts, sizeof tmp);
            sb_ws_unmask(tmp, cut1, mask, 0);
            sb_ws_unmask(tmp + cut1, cut2 - cut1, mask, cut1);
            sb_ws_unmask(tmp + cut2, sizeof tmp - cut2, mask, cut2);
            CHECK(memcmp(tmp, whole, sizeof tmp) == 0);
        }
    }
}

TEST(close_parse_codes) {
    static const uint16_t ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                  1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const uint16_t bad[] = {0,    999,  1004, 1005, 1006, 1015,
                                   1016, 1100, 2000, 2999, 5000, 65535};
    uint16_t code;
    sb_str_t reason;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint8_t p[2] = {(uint8_t)(ok[i] >> 8), (uint8_t)ok[i]};
        CHECK_EQ(sb_ws_close_parse(p, 2, &code, &reason), SB_OK);
        CHECK_EQ(code, ok[i]);
        CHECK_EQ(reason.n, 0);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t p[2] = {(uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
        CHECK_EQ(sb_ws_close_parse(p, 2, &code, &reason), SB_EPROTO);
    }
}

TEST(close_parse_payloads) {
    uint16_t code = 0;
    sb_str_t reason;
    CHECK_EQ(sb_ws_close_parse(NULL, 0, &code, &reason), SB_OK);
    CHECK_EQ(code, 1005);
    CHECK_EQ(reason.n, 0);
    CHECK_EQ(sb_ws_close_parse(B("\x03"), &code, &reason), SB_EPROTO);
    CHECK_EQ(sb_ws_close_parse(B("\x03\xe8"
                                 "bye \xce\xba"),
                               &code, &reason),
             SB_OK);
    CHECK_EQ(code, 1000);
    CHECK_MEM(reason.p, reason.n, "bye \xce\xba");
    CHECK_EQ(sb_ws_close_parse(B("\x03\xe8\xce\xba\xe1\xbd\xb9\xed\xa0\x80"), &code, &reason),
             SB_EUTF8);
    CHECK_EQ(sb_ws_close_parse(B("\x03\xe8\xce"), &code, &reason), SB_EUTF8); /* truncated */
    CHECK_EQ(sb_ws_close_parse(B("\x03\xe8\xff"), &code, &reason), SB_EUTF8);
    CHECK_EQ(sb_ws_close_parse(B("\x03\xed\xff"), &code, &reason), SB_EPROTO); /* code first */
    uint8_t big[126];
    memset(big, 'a', sizeof big);
    big[0] = 0x03, big[1] = 0xe8;
    CHECK_EQ(sb_ws_close_parse(big, 125, &code, &reason), SB_OK);
    CHECK_EQ(reason.n, 123);
    CHECK_EQ(sb_ws_close_parse(big, 126, &code, &reason), SB_EPROTO);
}

TEST(close_write) {
    uint8_t dst[2 + SB_WS_CLOSE_REASON_MAX];
    CHECK_MEM(dst, sb_ws_close_write(dst, 1000, "bye", 3),
              "\x03\xe8"
              "bye");
    CHECK_MEM(dst, sb_ws_close_write(dst, 4001, NULL, 0), "\x0f\xa1");
    CHECK_EQ(sb_ws_close_write(dst, 0, "ignored", 7), 0);
    /* 122 ASCII bytes then a 2-byte character: the character would straddle
     * byte 123, so the reason is cut before it */
    char reason[200];
    memset(reason, 'x', 122);
    memcpy(reason + 122, "\xc3\xa9tail", 6);
    size_t n = sb_ws_close_write(dst, 1001, reason, 128);
    CHECK_EQ(n, 2 + 122);
    uint16_t code;
    sb_str_t r;
    CHECK_EQ(sb_ws_close_parse(dst, n, &code, &r), SB_OK);
    CHECK_EQ(code, 1001);
    /* 121 ASCII + the 2-byte char fits exactly */
    memset(reason, 'x', 121);
    memcpy(reason + 121, "\xc3\xa9tail", 6);
    CHECK_EQ(sb_ws_close_write(dst, 1001, reason, 127), 2 + 123);
    memset(reason, 'y', 200);
    CHECK_EQ(sb_ws_close_write(dst, 1001, reason, 200), 2 + 123);
}

TEST(handshake_accept_key) {
    char out[29];
    sb_ws_accept_key(SB_LIT("dGhlIHNhbXBsZSBub25jZQ=="), out); /* RFC 6455 1.3 */
    CHECK_MEM(out, strlen(out), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    sb_ws_accept_key(SB_LIT("x3JJHMbDL1EzLkh9GBhXDw=="), out);
    CHECK_MEM(out, strlen(out), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    sb_ws_accept_key(SB_LIT("short"), out);
    CHECK_EQ(out[0], '\0');
}

TEST(handshake_key_valid) {
    CHECK(sb_ws_key_valid(SB_LIT("dGhlIHNhbXBsZSBub25jZQ==")));
    CHECK(sb_ws_key_valid(SB_LIT("AAAAAAAAAAAAAAAAAAAA+/==")));
    CHECK(!sb_ws_key_valid(SB_LIT("")));
    CHECK(!sb_ws_key_valid(SB_LIT("dGhlIHNhbXBsZSBub25jZQ=")));
    CHECK(!sb_ws_key_valid(SB_LIT("dGhlIHNhbXBsZSBub25jZQ===")));
    CHECK(!sb_ws_key_valid(SB_LIT("dGhlIHNhbXBsZSBub25jZQAA"))); /* 18 bytes, no padding */
    CHECK(!sb_ws_key_valid(SB_LIT("dGhlIHNhbXBsZSBub25jZ==="))); /* 15 bytes */
    CHECK(!sb_ws_key_valid(SB_LIT("dGhlIHNhbXBsZSBub25j*Q==")));
    CHECK(!sb_ws_key_valid(SB_LIT("dGhlIHNhbXBsZSBub25j Q==")));
    CHECK(!sb_ws_key_valid(SB_LIT("dGhlIHNhbXBsZSBu=25jZQ==")));
    CHECK(!sb_ws_key_valid(sb_str("dGhlIHNhbXBsZSBub25jZ\0==", 24)));
}

int main(void) {
    RUN(parse_all_opcodes);
    RUN(parse_lengths_unmasked);
    RUN(parse_lengths_masked);
    RUN(parse_trailing_payload_ignored);
    RUN(parse_rsv_bits_reported);
    RUN(parse_non_minimal_lengths);
    RUN(parse_64bit_msb);
    RUN(parse_control_rules);
    RUN(write_roundtrip);
    RUN(write_exact_bytes);
    RUN(unmask_rfc_example);
    RUN(unmask_vs_reference);
    RUN(unmask_resumes_across_reads);
    RUN(close_parse_codes);
    RUN(close_parse_payloads);
    RUN(close_write);
    RUN(handshake_accept_key);
    RUN(handshake_key_valid);
    TEST_MAIN_END();
}
