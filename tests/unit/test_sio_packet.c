/* Socket.IO v5 codec: the spec's examples, every hostile header and payload
 * we could think of, the placeholder check and the header writer. */
#include <stdint.h>

#include "core/err.h"
#include "socketio/packet.h"
#include "testlib.h"

static const sb_sio_limits_t lim = {.max_attachments = 10, .max_depth = 8, .max_nsp_len = 64};

static int parse(const char *s, sb_sio_packet_t *pk) {
    /* A heap copy of the exact length lets ASan catch any read past the end. */
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, s, n);
    int rc = sb_sio_packet_parse(copy, n, &lim, pk);
    free(copy);
    return rc;
}

/* Parses from a string literal that outlives the packet's slices. */
static int parse_lit(const char *s, sb_sio_packet_t *pk) {
    return sb_sio_packet_parse(s, strlen(s), &lim, pk);
}

#define CHECK_STR(s, lit) CHECK_MEM((s).p, (s).n, lit)

/* ---- Examples from the protocol document --------------------------------- */

TEST(spec_connect) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse_lit("0", &pk), SB_OK);
    CHECK_EQ(pk.type, SB_SIO_CONNECT);
    CHECK_STR(pk.nsp, "/");
    CHECK(!pk.has_ack);
    CHECK_EQ(pk.data.n, 0);
    CHECK_EQ(parse_lit("0/admin,{\"token\":\"123\"}", &pk), SB_OK);
    CHECK_EQ(pk.type, SB_SIO_CONNECT);
    CHECK_STR(pk.nsp, "/admin");
    CHECK_STR(pk.data, "{\"token\":\"123\"}");
    CHECK_EQ(parse_lit("0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", &pk), SB_OK);
    CHECK_EQ(parse_lit("0{\"token\":\"abc\"}", &pk), SB_OK);
    CHECK_STR(pk.nsp, "/");
    CHECK_EQ(parse_lit("0/admin,", &pk), SB_OK);
    CHECK_STR(pk.nsp, "/admin");
    CHECK_EQ(pk.data.n, 0);
}

TEST(spec_connect_error) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse_lit("4{\"message\":\"Not authorized\"}", &pk), SB_OK);
    CHECK_EQ(pk.type, SB_SIO_CONNECT_ERROR);
    CHECK_STR(pk.data, "{\"message\":\"Not authorized\"}");
    CHECK_EQ(parse_lit("4/admin,\"Not authorized\"", &pk), SB_OK); /* v4-style string */
    CHECK_STR(pk.nsp, "/admin");
}

TEST(spec_events) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse_lit("2[\"foo\"]", &pk), SB_OK);
    CHECK_EQ(pk.type, SB_SIO_EVENT);
    CHECK_STR(pk.nsp, "/");
    CHECK_STR(pk.event, "\"foo\"");
    CHECK_STR(pk.data, "[\"foo\"]");
    CHECK_EQ(parse_lit("2/admin,[\"bar\"]", &pk), SB_OK);
    CHECK_STR(pk.nsp, "/admin");
    CHECK_STR(pk.event, "\"bar\"");
    CHECK_EQ(parse_lit("212[\"foo\"]", &pk), SB_OK);
    CHECK(pk.has_ack);
    CHECK_EQ(pk.ack_id, 12);
    CHECK_EQ(parse_lit("2/admin,12[\"foo\",{\"a\":1},[2]]", &pk), SB_OK);
    CHECK_STR(pk.nsp, "/admin");
    CHECK(pk.has_ack);
    CHECK_EQ(pk.ack_id, 12);
    CHECK_STR(pk.event, "\"foo\"");
    CHECK_EQ(parse_lit("2[\"hey\",\"Jude\"]", &pk), SB_OK);
    CHECK_EQ(parse_lit("2[\"e\\u0301v\\\"\"]", &pk), SB_OK);
    CHECK_STR(pk.event, "\"e\\u0301v\\\"\"");
}

TEST(spec_binary) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse_lit("51-[\"hello\",{\"_placeholder\":true,\"num\":0}]", &pk), SB_OK);
    CHECK_EQ(pk.type, SB_SIO_BINARY_EVENT);
    CHECK_EQ(pk.attachments, 1);
    CHECK_STR(pk.nsp, "/");
    CHECK_STR(pk.event, "\"hello\"");
    CHECK_EQ(parse_lit("52-/admin,[\"baz\",{\"_placeholder\":true,\"num\":0},"
                       "{\"_placeholder\":true,\"num\":1}]",
                       &pk),
             SB_OK);
    CHECK_EQ(pk.attachments, 2);
    CHECK_STR(pk.nsp, "/admin");
    CHECK_EQ(parse_lit("61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]", &pk), SB_OK);
    CHECK_EQ(pk.type, SB_SIO_BINARY_ACK);
    CHECK(pk.has_ack);
    CHECK_EQ(pk.ack_id, 15);
    CHECK_EQ(parse_lit("61-/admin,1[{\"_placeholder\":true,\"num\":0}]", &pk), SB_OK);
    CHECK_STR(pk.nsp, "/admin");
    CHECK_EQ(pk.ack_id, 1);
    CHECK_EQ(pk.event.n, 0);
}

TEST(spec_ack_and_disconnect) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse_lit("3/admin,13[\"bar\"]", &pk), SB_OK);
    CHECK_EQ(pk.type, SB_SIO_ACK);
    CHECK_STR(pk.nsp, "/admin");
    CHECK_EQ(pk.ack_id, 13);
    CHECK_STR(pk.data, "[\"bar\"]");
    CHECK_EQ(pk.event.n, 0);
    CHECK_EQ(parse_lit("312[]", &pk), SB_OK);
    CHECK_EQ(pk.ack_id, 12);
    CHECK_EQ(parse_lit("30[1,null]", &pk), SB_OK);
    CHECK_EQ(pk.ack_id, 0);
    CHECK_EQ(parse_lit("1", &pk), SB_OK);
    CHECK_EQ(pk.type, SB_SIO_DISCONNECT);
    CHECK_EQ(parse_lit("1/admin,", &pk), SB_OK);
    CHECK_STR(pk.nsp, "/admin");
    CHECK_EQ(parse_lit("1/admin", &pk), SB_OK); /* the reference accepts the missing ',' too */
    CHECK_STR(pk.nsp, "/admin");
}

TEST(nsp_verbatim) {
    sb_sio_packet_t pk;
    /* v4 clients put a query in the namespace; like the reference, we keep it. */
    CHECK_EQ(parse_lit("0/chat?x=1,{}", &pk), SB_OK);
    CHECK_STR(pk.nsp, "/chat?x=1");
    CHECK_STR(pk.data, "{}");
    CHECK_EQ(parse_lit("0/,", &pk), SB_OK);
    CHECK_STR(pk.nsp, "/");
    CHECK_EQ(parse_lit("0/\xc3\xa9,", &pk), SB_OK);
    CHECK_STR(pk.nsp, "/\xc3\xa9");
    /* Without ',' everything after '/' is namespace, so data is never read. */
    CHECK_EQ(parse_lit("0/admin{\"a\":1}", &pk), SB_OK);
    CHECK_STR(pk.nsp, "/admin{\"a\":1}");
    CHECK_EQ(pk.data.n, 0);
}

TEST(trailing_whitespace_trimmed) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse_lit("2[\"a\"] \n", &pk), SB_OK);
    CHECK_STR(pk.data, "[\"a\"]");
    CHECK_EQ(parse_lit("2[ \"a\" , 1 ]", &pk), SB_OK);
    CHECK_STR(pk.event, "\"a\"");
}

/* ---- Hostile headers ----------------------------------------------------- */

TEST(hostile_type) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse("", &pk), SB_EPROTO);
    CHECK_EQ(parse("7", &pk), SB_EPROTO);
    CHECK_EQ(parse("7[\"a\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("9", &pk), SB_EPROTO);
    CHECK_EQ(parse("a", &pk), SB_EPROTO);
    CHECK_EQ(parse("[\"a\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("-1", &pk), SB_EPROTO);
    CHECK_EQ(sb_sio_packet_parse(NULL, 0, &lim, &pk), SB_EPROTO);
}

TEST(hostile_namespace) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse("2/admin[\"foo\"]", &pk), SB_EPROTO); /* no ',': EVENT without data */
    CHECK_EQ(parse("2/admin", &pk), SB_EPROTO);
    CHECK_EQ(parse("0/ad\nmin,", &pk), SB_EPROTO);
    CHECK_EQ(parse("0/ad\x7fmin,", &pk), SB_EPROTO);
    CHECK_EQ(sb_sio_packet_parse("0/a\0,", 5, &lim, &pk), SB_EPROTO);
    char buf[80] = "0/";
    memset(buf + 2, 'n', 63); /* 64 bytes with the '/': at the limit */
    strcpy(buf + 65, ",");
    CHECK_EQ(parse(buf, &pk), SB_OK);
    buf[65] = 'n';
    strcpy(buf + 66, ",");
    CHECK_EQ(parse(buf, &pk), SB_ETOOBIG);
    buf[66] = 0; /* too long and unterminated */
    CHECK_EQ(parse(buf, &pk), SB_ETOOBIG);
    CHECK_EQ(parse("2admin,[\"a\"]", &pk), SB_EPROTO); /* no '/': "admin,..." is not JSON */
}

TEST(hostile_ack_id) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse("29007199254740991[\"a\"]", &pk), SB_OK);
    CHECK_EQ(pk.ack_id, 9007199254740991ULL);
    CHECK_EQ(parse("29007199254740992[\"a\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("299999999999999999999999999[\"a\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("218446744073709551617[\"a\"]", &pk), SB_EPROTO); /* would wrap */
    CHECK_EQ(parse("200000000000000001[\"a\"]", &pk), SB_EPROTO);    /* 17 digits */
    CHECK_EQ(parse("20000000000000001[\"a\"]", &pk), SB_OK);         /* 16 digits */
    CHECK_EQ(pk.ack_id, 1);
    CHECK_EQ(parse("3[\"a\"]", &pk), SB_EPROTO); /* ACK without id */
    CHECK_EQ(parse("61-[{\"_placeholder\":true,\"num\":0}]", &pk), SB_EPROTO);
    CHECK_EQ(parse("01{}", &pk), SB_EPROTO); /* ids only on events and acks */
    CHECK_EQ(parse("15", &pk), SB_EPROTO);
    CHECK_EQ(parse("4/a,1\"x\"", &pk), SB_EPROTO);
    CHECK_EQ(parse("2 [\"a\"]", &pk), SB_EPROTO); /* the reference reads ' ' as id 0 */
    CHECK_EQ(parse("21 [\"a\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2\t[\"a\"]", &pk), SB_EPROTO);
}

TEST(hostile_attachments) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse("5999999999999-[\"a\"]", &pk), SB_ETOOBIG);
    CHECK_EQ(parse("599999999999999999999999999999-[\"a\"]", &pk), SB_ETOOBIG);
    CHECK_EQ(parse("511-[\"a\"]", &pk), SB_ETOOBIG); /* > max_attachments 10 */
    CHECK_EQ(parse("51[\"a\",{\"_placeholder\":true,\"num\":0}]", &pk), SB_EPROTO); /* no '-' */
    CHECK_EQ(parse("51", &pk), SB_EPROTO);
    CHECK_EQ(parse("5", &pk), SB_EPROTO);
    CHECK_EQ(parse("5-[\"a\"]", &pk), SB_EPROTO);  /* no digits */
    CHECK_EQ(parse("50-[\"a\"]", &pk), SB_EPROTO); /* zero, as the reference */
    CHECK_EQ(parse("5-1-[\"a\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("5x-[\"a\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("501-[\"a\",{\"_placeholder\":true,\"num\":0}]", &pk), SB_OK);
    CHECK_EQ(pk.attachments, 1);
    /* Types other than 5 and 6 have no attachment count. */
    CHECK_EQ(parse("21-[\"a\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("31-[\"a\"]", &pk), SB_EPROTO);
    sb_sio_limits_t big = lim;
    big.max_attachments = 100000;
    CHECK_EQ(sb_sio_packet_parse("5257-[\"a\"]", 10, &big, &pk), SB_ETOOBIG);
}

/* ---- Hostile payloads ---------------------------------------------------- */

TEST(hostile_payload_shapes) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse("2", &pk), SB_EPROTO);           /* EVENT without data */
    CHECK_EQ(parse("2[]", &pk), SB_EPROTO);         /* empty array */
    CHECK_EQ(parse_lit("2[12,\"a\"]", &pk), SB_OK); /* numeric event name: allowed */
    CHECK(pk.event.n == 2 && memcmp(pk.event.p, "12", 2) == 0);
    CHECK_EQ(parse("2[true,\"a\"]", &pk), SB_EPROTO); /* any other non-string name */
    CHECK_EQ(parse("2[null]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[[\"a\"]]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[{\"a\":1}]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2{\"a\":1}", &pk), SB_EPROTO);
    CHECK_EQ(parse("2\"a\"", &pk), SB_EPROTO);
    CHECK_EQ(parse("0[]", &pk), SB_EPROTO); /* CONNECT data must be an object */
    CHECK_EQ(parse("0\"tok\"", &pk), SB_EPROTO);
    CHECK_EQ(parse("0null", &pk), SB_EPROTO);
    CHECK_EQ(parse("1{}", &pk), SB_EPROTO); /* DISCONNECT has no data */
    CHECK_EQ(parse("1/a,[]", &pk), SB_EPROTO);
    CHECK_EQ(parse("3{}", &pk), SB_EPROTO);
    CHECK_EQ(parse("31{}", &pk), SB_EPROTO); /* ACK data must be an array */
    CHECK_EQ(parse("31", &pk), SB_EPROTO);
    CHECK_EQ(parse("4", &pk), SB_EPROTO);
    CHECK_EQ(parse("4[]", &pk), SB_EPROTO);
    CHECK_EQ(parse("4 {}", &pk), SB_EPROTO);
    CHECK_EQ(parse("41", &pk), SB_EPROTO);
}

TEST(hostile_reserved_events) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse("2[\"connect\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[\"connect_error\",1]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[\"disconnect\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[\"disconnecting\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[\"newListener\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[\"removeListener\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[\"conn\\u0065ct\"]", &pk), SB_EPROTO); /* escaped spelling */
    CHECK_EQ(parse("51-[\"connect\",{\"_placeholder\":true,\"num\":0}]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[\"connected\"]", &pk), SB_OK);
    CHECK_EQ(parse("2[\"Connect\"]", &pk), SB_OK);
    CHECK_EQ(parse("2[\"\"]", &pk), SB_OK);
}

TEST(hostile_json) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse("2[\"a\"]x", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[\"a\"][\"b\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[\"a\"]\x1e", &pk), SB_EPROTO);
    CHECK_EQ(parse("0{}}", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[\"a\",]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[\"a\"", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[\"a\\x\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2[\"\xff\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("2['a']", &pk), SB_EPROTO);
    /* Depth: lim.max_depth is 8; the outer array counts as one level. */
    CHECK_EQ(parse("2[\"a\",[[[[[[[1]]]]]]]]", &pk), SB_OK);
    CHECK_EQ(parse("2[\"a\",[[[[[[[[1]]]]]]]]]", &pk), SB_EDEPTH);
    char big[20000];
    big[0] = '2';
    memset(big + 1, '[', sizeof big - 2);
    big[sizeof big - 1] = 0;
    CHECK_EQ(parse(big, &pk), SB_EDEPTH);
}

TEST(default_limits) {
    sb_sio_packet_t pk;
    CHECK_EQ(sb_sio_packet_parse("2[\"a\"]", 6, NULL, &pk), SB_OK);
    CHECK_EQ(sb_sio_packet_parse("511-[\"a\"]", 9, NULL, &pk), SB_ETOOBIG);
}

/* Every truncation of valid packets parses or fails cleanly, never reading
 * past the cut (each parse works on an exact-size heap copy). */
TEST(every_prefix_in_bounds) {
    static const char *wire[] = {
        "52-/admin,7[\"baz\",{\"_placeholder\":true,\"num\":0},{\"num\":1,\"_placeholder\":true}]",
        "0/admin,{\"token\":\"123\",\"x\":[1.5e3,\"\\u00e9\"]}",
        "3/admin,13[\"bar\"]",
    };
    for (size_t w = 0; w < 3; w++) {
        size_t n = strlen(wire[w]);
        for (size_t cut = 0; cut <= n; cut++) {
            char *copy = malloc(cut ? cut : 1);
            memcpy(copy, wire[w], cut);
            sb_sio_packet_t pk;
            int rc = sb_sio_packet_parse(copy, cut, &lim, &pk);
            CHECK(rc == SB_OK || rc == SB_EPROTO);
            if (cut == n)
                CHECK_EQ(rc, SB_OK);
            free(copy);
        }
    }
}

/* ---- Placeholders -------------------------------------------------------- */

TEST(placeholders_valid) {
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\"]"), 0), SB_OK);
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":0}]"), 1),
             SB_OK);
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"num\":0,\"_placeholder\":true}]"), 1),
             SB_OK); /* any key order */
    CHECK_EQ(sb_sio_placeholders_check(
                 SB_LIT("[\"a\",{\"x\":[{\"_placeholder\":true,\"num\":1}],\"y\":{\"z\":"
                        "{ \"num\" : 0 , \"_placeholder\" : true }}}]"),
                 2),
             SB_OK);
    CHECK_EQ(
        sb_sio_placeholders_check(
            SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":2},{\"_placeholder\":true,\"num\":0},"
                   "{\"_placeholder\":true,\"num\":1}]"),
            3),
        SB_OK);
    /* Escaped key spelling is still a placeholder, as JSON.parse sees it. */
    CHECK_EQ(sb_sio_placeholders_check(
                 SB_LIT("[\"a\",{\"\\u005fplaceholder\":true,\"n\\u0075m\":0}]"), 1),
             SB_OK);
    /* Not placeholders: false, string "true", or key only nested deeper. */
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"_placeholder\":false,\"num\":7}]"), 0),
             SB_OK);
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"_placeholder\":\"true\",\"num\":7}]"), 0),
             SB_OK);
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"o\":{\"_placeholder\":1},\"num\":7}]"), 0),
             SB_OK);
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"_placeholder\",true,\"num\",0]"), 0), SB_OK);
    CHECK_EQ(
        sb_sio_placeholders_check(SB_LIT("[\"a\",{\"s\":\"{\\\"_placeholder\\\":true}\"}]"), 0),
        SB_OK);
    /* Last duplicate wins, as in JSON.parse. */
    CHECK_EQ(sb_sio_placeholders_check(
                 SB_LIT("[\"a\",{\"_placeholder\":true,\"_placeholder\":false,\"num\":9}]"), 0),
             SB_OK);
    CHECK_EQ(
        sb_sio_placeholders_check(SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":9,\"num\":0}]"), 1),
        SB_OK);
}

TEST(placeholders_invalid) {
    /* Out of range. */
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":1}]"), 1),
             SB_EPROTO);
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":0}]"), 0),
             SB_EPROTO);
    CHECK_EQ(sb_sio_placeholders_check(
                 SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":99999999999999999999}]"), 2),
             SB_EPROTO);
    /* Not a plain integer. */
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":-1}]"), 1),
             SB_EPROTO);
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":0.0}]"), 1),
             SB_EPROTO);
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":1e0}]"), 2),
             SB_EPROTO);
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":\"0\"}]"), 1),
             SB_EPROTO);
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":[0]}]"), 1),
             SB_EPROTO);
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"_placeholder\":true}]"), 1), SB_EPROTO);
    CHECK_EQ(sb_sio_placeholders_check(
                 SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":0,\"num\":{}}]"), 1),
             SB_EPROTO); /* the last "num" counts */
    /* Duplicated. */
    CHECK_EQ(
        sb_sio_placeholders_check(
            SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":0}]"),
            2),
        SB_EPROTO);
    CHECK_EQ(
        sb_sio_placeholders_check(
            SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":0}]"),
            1),
        SB_EPROTO);
    /* Missing. */
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\"]"), 1), SB_EPROTO);
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\",{\"_placeholder\":true,\"num\":1}]"), 2),
             SB_EPROTO);
    /* Limits. */
    CHECK_EQ(sb_sio_placeholders_check(SB_LIT("[\"a\"]"), SB_SIO_ATTACHMENTS_MAX + 1), SB_ETOOBIG);
}

TEST(placeholders_through_parse) {
    sb_sio_packet_t pk;
    CHECK_EQ(parse("51-[\"a\",{\"_placeholder\":true,\"num\":1}]", &pk), SB_EPROTO);
    CHECK_EQ(parse("52-[\"a\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":0}]",
                   &pk),
             SB_EPROTO);
    CHECK_EQ(parse("52-[\"a\",{\"_placeholder\":true,\"num\":0}]", &pk), SB_EPROTO);
    CHECK_EQ(parse("51-[\"a\"]", &pk), SB_EPROTO);
    CHECK_EQ(parse("61-1[{\"_placeholder\":true,\"num\":-0}]", &pk), SB_EPROTO);
    /* Non-binary packets are not checked: a placeholder there is plain data. */
    CHECK_EQ(parse("2[\"a\",{\"_placeholder\":true,\"num\":5}]", &pk), SB_OK);
}

TEST(placeholders_all_256) {
    static char buf[256 * 40 + 16];
    size_t k = (size_t)sprintf(buf, "[\"a\"");
    for (int i = 255; i >= 0; i--)
        k += (size_t)sprintf(buf + k, ",{\"num\":%d,\"_placeholder\":true}", i);
    buf[k++] = ']';
    CHECK_EQ(sb_sio_placeholders_check(sb_str(buf, k), 256), SB_OK);
    CHECK_EQ(sb_sio_placeholders_check(sb_str(buf, k), 255), SB_EPROTO);
}

TEST(placeholders_depth) {
    static char buf[4096];
    size_t k = 0, d = SB_SIO_PLACEHOLDER_DEPTH_MAX;
    for (size_t i = 0; i < d; i++)
        buf[k++] = '[';
    for (size_t i = 0; i < d; i++)
        buf[k++] = ']';
    CHECK_EQ(sb_sio_placeholders_check(sb_str(buf, k), 0), SB_OK);
    k = 0;
    for (size_t i = 0; i <= d; i++)
        buf[k++] = '[';
    for (size_t i = 0; i <= d; i++)
        buf[k++] = ']';
    CHECK_EQ(sb_sio_placeholders_check(sb_str(buf, k), 0), SB_EDEPTH);
}

/* ---- Header writer ------------------------------------------------------- */

static size_t head(char *out, uint8_t type, const char *nsp, uint32_t att, bool ack, uint64_t id) {
    return sb_sio_packet_write_head(out, 64, type, sb_cstr(nsp), att, ack, id);
}

TEST(write_head) {
    char out[64];
    size_t n;
    n = head(out, SB_SIO_CONNECT, "/", 0, false, 0);
    CHECK_MEM(out, n, "0");
    n = head(out, SB_SIO_CONNECT, "", 0, false, 0);
    CHECK_MEM(out, n, "0");
    n = head(out, SB_SIO_CONNECT, "/admin", 0, false, 0);
    CHECK_MEM(out, n, "0/admin,");
    n = head(out, SB_SIO_DISCONNECT, "/admin", 0, false, 0);
    CHECK_MEM(out, n, "1/admin,");
    n = head(out, SB_SIO_EVENT, "/", 0, true, 12);
    CHECK_MEM(out, n, "212");
    n = head(out, SB_SIO_ACK, "/admin", 0, true, 13);
    CHECK_MEM(out, n, "3/admin,13");
    n = head(out, SB_SIO_BINARY_EVENT, "/", 1, false, 0);
    CHECK_MEM(out, n, "51-");
    n = head(out, SB_SIO_BINARY_EVENT, "/admin", 2, false, 0);
    CHECK_MEM(out, n, "52-/admin,");
    n = head(out, SB_SIO_BINARY_ACK, "/", 1, true, 15);
    CHECK_MEM(out, n, "61-15");
    n = head(out, SB_SIO_BINARY_ACK, "/admin", 1, true, 1);
    CHECK_MEM(out, n, "61-/admin,1");
    n = head(out, SB_SIO_CONNECT_ERROR, "/", 0, false, 0);
    CHECK_MEM(out, n, "4");
    n = head(out, SB_SIO_EVENT, "/", 7, true, 0); /* attachments ignored off binary types */
    CHECK_MEM(out, n, "20");
}

TEST(write_head_bounds) {
    char out[128];
    sb_str_t nsp = SB_LIT("/a-namespace");
    size_t n = sb_sio_packet_write_head(out, sizeof out, SB_SIO_BINARY_ACK, nsp, UINT32_MAX, true,
                                        UINT64_MAX);
    CHECK_EQ(n, SB_SIO_HEAD_MAX(nsp.n));
    CHECK_MEM(out, n, "64294967295-/a-namespace,18446744073709551615");
    memset(out, '#', sizeof out);
    CHECK_EQ(
        sb_sio_packet_write_head(out, n - 1, SB_SIO_BINARY_ACK, nsp, UINT32_MAX, true, UINT64_MAX),
        n);
    CHECK_EQ(out[0], '#');
    CHECK_EQ(sb_sio_packet_write_head(NULL, 0, SB_SIO_EVENT, SB_LIT("/"), 0, false, 0), 1);
}

/* What we write, we read back. */
TEST(write_then_parse) {
    char buf[128];
    size_t n = sb_sio_packet_write_head(buf, sizeof buf, SB_SIO_BINARY_EVENT, SB_LIT("/chat"), 2,
                                        true, SB_SIO_ACK_ID_MAX);
    static const char json[] =
        "[\"up\",{\"_placeholder\":true,\"num\":1},{\"_placeholder\":true,\"num\":0}]";
    memcpy(buf + n, json, sizeof json - 1);
    n += sizeof json - 1;
    sb_sio_packet_t pk;
    CHECK_EQ(sb_sio_packet_parse(buf, n, &lim, &pk), SB_OK);
    CHECK_EQ(pk.type, SB_SIO_BINARY_EVENT);
    CHECK_EQ(pk.attachments, 2);
    CHECK_STR(pk.nsp, "/chat");
    CHECK_EQ(pk.ack_id, SB_SIO_ACK_ID_MAX);
    CHECK_STR(pk.event, "\"up\"");
}

int main(void) {
    RUN(spec_connect);
    RUN(spec_connect_error);
    RUN(spec_events);
    RUN(spec_binary);
    RUN(spec_ack_and_disconnect);
    RUN(nsp_verbatim);
    RUN(trailing_whitespace_trimmed);
    RUN(hostile_type);
    RUN(hostile_namespace);
    RUN(hostile_ack_id);
    RUN(hostile_attachments);
    RUN(hostile_payload_shapes);
    RUN(hostile_reserved_events);
    RUN(hostile_json);
    RUN(default_limits);
    RUN(every_prefix_in_bounds);
    RUN(placeholders_valid);
    RUN(placeholders_invalid);
    RUN(placeholders_through_parse);
    RUN(placeholders_all_256);
    RUN(placeholders_depth);
    RUN(write_head);
    RUN(write_head_bounds);
    RUN(write_then_parse);
    TEST_MAIN_END();
}
