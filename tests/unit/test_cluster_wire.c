/* The Redis adapter's wire format (src/cluster/wire.c): the bytes the
 * emitter writes, round trips with binary, and hostile input — every
 * truncation, wrong types, lengths past the end, deep nesting, too many
 * rooms or attachments, legacy notepack forms — plus URLs and channels. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "cluster/wire.h"
#include "core/err.h"
#include "testlib.h"

/* emitter.to("conv:42").emit("chat", {text: "hi"}), as notepack writes it. */
static const uint8_t EMITTER_MSG[] = {
    0x93, 0xa7, 'e', 'm',  'i',  't',  't',  'e',  'r', 0x83, 0xa4, 't', 'y',  'p',  'e',
    0x02, 0xa4, 'd', 'a',  't',  'a',  0x92, 0xa4, 'c', 'h',  'a',  't', 0x81, 0xa4, 't',
    'e',  'x',  't', 0xa2, 'h',  'i',  0xa3, 'n',  's', 'p',  0xa1, '/', 0x83, 0xa5, 'r',
    'o',  'o',  'm', 's',  0x91, 0xa7, 'c',  'o',  'n', 'v',  ':',  '4', '2',  0xa5, 'f',
    'l',  'a',  'g', 's',  0x80, 0xa6, 'e',  'x',  'c', 'e',  'p',  't', 0x90};

static sb_wire_msg_t m; /* large: not on the stack */

static int decode(const void *p, size_t n) {
    int rc = sb_wire_decode_broadcast(p, n, &m);
    return rc;
}

TEST(decodes_the_emitters_bytes) {
    CHECK_EQ(decode(EMITTER_MSG, sizeof EMITTER_MSG), SB_OK);
    CHECK_MEM(m.uid.p, m.uid.n, "emitter");
    CHECK_MEM(m.nsp.p, m.nsp.n, "/");
    CHECK_MEM(m.event.p, m.event.n, "chat");
    CHECK_MEM(m.args, m.args_n, "{\"text\":\"hi\"}");
    CHECK_EQ(m.nrooms, 1);
    CHECK_MEM(m.rooms[0].p, m.rooms[0].n, "conv:42");
    CHECK_EQ(m.nexcept, 0);
    CHECK(!m.is_volatile && !m.compress);
    sb_wire_msg_dispose(&m);
}

TEST(encodes_the_emitters_bytes) {
    sb_str_t room = SB_LIT("conv:42");
    sb_engine_broadcast_t b = {.nsp = SB_LIT("/"),
                               .event = SB_LIT("chat"),
                               .args = SB_LIT("{\"text\":\"hi\"}"),
                               .to = {&room, 1, NULL, 0}};
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    CHECK_EQ(sb_wire_encode_broadcast(&buf, SB_LIT("emitter"), &b), SB_OK);
    CHECK(buf.size == sizeof EMITTER_MSG && memcmp(buf.data, EMITTER_MSG, buf.size) == 0);
    msgpack_sbuffer_destroy(&buf);
}

TEST(binary_round_trip) {
    sb_str_t att[2] = {SB_LIT("\x01\x02\x03"), SB_LIT("")}, except = SB_LIT("user:7");
    sb_engine_broadcast_t b = {
        .nsp = SB_LIT("/admin"),
        .event = SB_LIT("file"),
        .args =
            SB_LIT("\"name\",{\"_placeholder\":true,\"num\":0},[{\"_placeholder\":true,\"num\":1}],"
                   "{\"_placeholder\":true,\"num\":5},-3,1.5,null,true"),
        .attachments = att,
        .nattachments = 2,
        .to = {NULL, 0, &except, 1},
        .is_volatile = true};
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    CHECK_EQ(sb_wire_encode_broadcast(&buf, SB_LIT("abc123"), &b), SB_OK);
    CHECK_EQ(decode(buf.data, buf.size), SB_OK);
    CHECK_MEM(m.uid.p, m.uid.n, "abc123");
    CHECK_MEM(m.nsp.p, m.nsp.n, "/admin");
    CHECK_MEM(m.event.p, m.event.n, "file");
    /* num 5 names no attachment: it stays an object */
    CHECK_MEM(m.args, m.args_n,
              "\"name\",{\"_placeholder\":true,\"num\":0},[{\"_placeholder\":true,\"num\":1}],"
              "{\"_placeholder\":true,\"num\":5},-3,1.5,null,true");
    CHECK_EQ(m.natts, 2);
    CHECK_MEM(m.atts[0].p, m.atts[0].n, "\x01\x02\x03");
    CHECK_EQ(m.atts[1].n, 0);
    CHECK_EQ(m.nrooms, 0);
    CHECK_EQ(m.nexcept, 1);
    CHECK(m.is_volatile);
    sb_wire_msg_dispose(&m);
    msgpack_sbuffer_destroy(&buf);
}

TEST(arguments_that_are_not_json_are_refused) {
    sb_engine_broadcast_t b = {.nsp = SB_LIT("/"), .event = SB_LIT("x"), .args = SB_LIT("{bad")};
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    CHECK_EQ(sb_wire_encode_broadcast(&buf, SB_LIT("u"), &b), SB_EPROTO);
    msgpack_sbuffer_destroy(&buf);
}

TEST(every_truncation_is_refused) {
    for (size_t n = 0; n < sizeof EMITTER_MSG; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any read past it */
        memcpy(copy, EMITTER_MSG, n);
        CHECK_EQ(decode(copy, n), SB_EPROTO);
        sb_wire_msg_dispose(&m);
        free(copy);
    }
}

TEST(trailing_bytes_and_reserved_bytes_are_refused) {
    uint8_t more[sizeof EMITTER_MSG + 1];
    memcpy(more, EMITTER_MSG, sizeof EMITTER_MSG);
    more[sizeof EMITTER_MSG] = 0xc0;
    CHECK_EQ(decode(more, sizeof more), SB_EPROTO);
    sb_wire_msg_dispose(&m);
    CHECK_EQ(sb_wire_check("\xc1", 1), SB_EPROTO);
    CHECK_EQ(sb_wire_check("", 0), SB_EPROTO);
}

TEST(lengths_past_the_end_are_refused_before_any_allocation) {
    /* array32 / map32 claiming 4 billion elements, str32 / bin32 / ext32 past the end */
    CHECK_EQ(sb_wire_check("\xdd\xff\xff\xff\xff\xc0", 6), SB_EPROTO);
    CHECK_EQ(sb_wire_check("\xdf\xff\xff\xff\xff\xc0\xc0", 7), SB_EPROTO);
    CHECK_EQ(sb_wire_check("\xdb\xff\xff\xff\xff"
                           "abc",
                           8),
             SB_EPROTO);
    CHECK_EQ(sb_wire_check("\xc6\x00\x00\x00\x04"
                           "abc",
                           8),
             SB_EPROTO);
    CHECK_EQ(sb_wire_check("\xc9\x00\x00\x00\x03\x00"
                           "ab",
                           8),
             SB_EPROTO);
    CHECK_EQ(sb_wire_check("\xdc\x00\x03\xc0\xc0", 5), SB_EPROTO);
    CHECK_EQ(sb_wire_check("\xdc\x00\x02\xc0\xc0", 5), SB_OK);
    CHECK_EQ(decode("\x93\xdd\xff\xff\xff\xff", 6), SB_EPROTO);
    sb_wire_msg_dispose(&m);
}

TEST(deep_nesting_is_refused) {
    uint8_t deep[200];
    memset(deep, 0x91, sizeof deep - 1);
    deep[sizeof deep - 1] = 0xc0;
    CHECK_EQ(sb_wire_check(deep, sizeof deep), SB_EDEPTH);
    CHECK_EQ(sb_wire_check(deep + sizeof deep - 1 - SB_WIRE_MAX_DEPTH, SB_WIRE_MAX_DEPTH + 1),
             SB_OK);
}

/* [uid, {type, data, nsp}, opts] with the parts given as raw msgpack. */
static size_t build(uint8_t *out, const char *uid, size_t un, const char *pkt, size_t pn,
                    const char *opts, size_t on) {
    size_t w = 0;
    out[w++] = 0x93;
    memcpy(out + w, uid, un), w += un;
    memcpy(out + w, pkt, pn), w += pn;
    memcpy(out + w, opts, on), w += on;
    return w;
}

#define PKT_OK                                                                                     \
    "\x82\xa4type\x02\xa4"                                                                         \
    "data\x91\xa1"                                                                                 \
    "e"
#define OPTS_OK "\x80"

static int try_parts(const char *uid, size_t un, const char *pkt, size_t pn, const char *opts,
                     size_t on) {
    uint8_t buf[256];
    size_t n = build(buf, uid, un, pkt, pn, opts, on);
    int rc = decode(buf, n);
    sb_wire_msg_dispose(&m);
    return rc;
}
#define TRY(uid, pkt, opts)                                                                        \
    try_parts(uid, sizeof uid - 1, pkt, sizeof pkt - 1, opts, sizeof opts - 1)

TEST(wrong_types_are_refused) {
    CHECK_EQ(TRY("\xa1u", PKT_OK, OPTS_OK), SB_OK);
    CHECK_EQ(TRY("\x01", PKT_OK, OPTS_OK), SB_EPROTO);  /* uid not a string */
    CHECK_EQ(TRY("\xa1u", "\x90", OPTS_OK), SB_EPROTO); /* packet not a map */
    CHECK_EQ(TRY("\xa1u",
                 "\x82\xa4type\x03\xa4"
                 "data\x91\xa1"
                 "e",
                 OPTS_OK),
             SB_EPROTO); /* ACK */
    CHECK_EQ(TRY("\xa1u",
                 "\x82\xa4type\xa1"
                 "2\xa4"
                 "data\x91\xa1"
                 "e",
                 OPTS_OK),
             SB_EPROTO);
    CHECK_EQ(TRY("\xa1u",
                 "\x82\xa4type\x02\xa4"
                 "data\x80",
                 OPTS_OK),
             SB_EPROTO); /* data a map */
    CHECK_EQ(TRY("\xa1u",
                 "\x82\xa4type\x02\xa4"
                 "data\x90",
                 OPTS_OK),
             SB_EPROTO); /* no event */
    CHECK_EQ(TRY("\xa1u",
                 "\x82\xa4type\x02\xa4"
                 "data\x91\x05",
                 OPTS_OK),
             SB_EPROTO);                                                /* event 5 */
    CHECK_EQ(TRY("\xa1u", PKT_OK, "\x91\xc0"), SB_EPROTO);              /* opts an array */
    CHECK_EQ(TRY("\xa1u", PKT_OK, "\x81\xa5rooms\x91\x07"), SB_EPROTO); /* a number room */
    CHECK_EQ(TRY("\xa1u", PKT_OK, "\x81\xa5rooms\xa1r"), SB_EPROTO);    /* rooms a string */
    CHECK_EQ(TRY("\xa1u", PKT_OK,
                 "\x81\xa6"
                 "except\x91\xa1r"),
             SB_OK);
    CHECK_EQ(TRY("\xa1u",
                 "\x82\xa4type\x02\xa4"
                 "data\x92\xa1"
                 "e\xa2\xc3\x28",
                 OPTS_OK),
             SB_EUTF8);
}

TEST(limits_on_rooms_and_attachments) {
    size_t cap = 16 + 3 * (SB_WIRE_MAX_ATTACHMENTS + SB_WIRE_MAX_ROOMS + 8);
    uint8_t *buf = malloc(cap + 64);
    /* too many rooms */
    size_t w = build(buf, "\xa1u", 2, PKT_OK, sizeof PKT_OK - 1, "", 0);
    memcpy(buf + w, "\x81\xa5rooms\xdc", 8), w += 8;
    buf[w++] = (SB_WIRE_MAX_ROOMS + 1) >> 8, buf[w++] = (SB_WIRE_MAX_ROOMS + 1) & 0xff;
    for (int i = 0; i <= SB_WIRE_MAX_ROOMS; i++)
        buf[w++] = 0xa1, buf[w++] = 'r';
    CHECK_EQ(decode(buf, w), SB_ETOOBIG);
    sb_wire_msg_dispose(&m);
    /* too many binary values */
    w = 0;
    buf[w++] = 0x93, buf[w++] = 0xa1, buf[w++] = 'u';
    memcpy(buf + w,
           "\x82\xa4type\x02\xa4"
           "data\x91\xa1"
           "e",
           15),
        w += 15;
    buf[w - 3] = 0x92; /* data: [event, [bins...]] */
    buf[w++] = 0xdc, buf[w++] = (SB_WIRE_MAX_ATTACHMENTS + 1) >> 8,
    buf[w++] = (SB_WIRE_MAX_ATTACHMENTS + 1) & 0xff;
    for (int i = 0; i <= SB_WIRE_MAX_ATTACHMENTS; i++)
        buf[w++] = 0xc4, buf[w++] = 0;
    buf[w++] = 0x80;
    CHECK_EQ(decode(buf, w), SB_ETOOBIG);
    sb_wire_msg_dispose(&m);
    free(buf);
}

static json_t *to_json(const char *p, size_t n, size_t *natts) {
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    json_t *v = NULL;
    sb_str_t atts[4];
    int err = 0;
    *natts = 0;
    if (sb_wire_check(p, n) == SB_OK &&
        msgpack_unpack_next(&u, p, n, &off) == MSGPACK_UNPACK_SUCCESS)
        v = sb_wire_to_json(&u.data, atts, natts, 4, &err);
    msgpack_unpacked_destroy(&u);
    return v;
}

static int json_is(const char *p, size_t n, const char *want) {
    size_t natts;
    json_t *v = to_json(p, n, &natts);
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    int ok = text && strcmp(text, want) == 0;
    if (!ok)
        fprintf(stderr, "  got %s, want %s\n", text ? text : "(null)", want);
    free(text);
    json_decref(v);
    return ok;
}
#define JSON_IS(lit, want) json_is(lit, sizeof lit - 1, want)

TEST(legacy_and_odd_values) {
    CHECK(JSON_IS("\xd4\x00\x00", "null")); /* notepack 2 undefined */
    CHECK(
        JSON_IS("\xc7\x02\x00\x01\x02", "{\"_placeholder\":true,\"num\":0}")); /* ArrayBuffer ext */
    CHECK(JSON_IS("\xd6\xff\x00\x00\x00\x00", "\"1970-01-01T00:00:00.000Z\"")); /* Date */
    CHECK(JSON_IS("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", "null"));             /* NaN */
    CHECK(JSON_IS("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", "1.5"));
    CHECK(JSON_IS("\xcb\x40\x00\x00\x00\x00\x00\x00\x00", "2")); /* integral double */
    CHECK(JSON_IS("\xca\x3f\xc0\x00\x00", "1.5"));               /* float32 */
    CHECK(JSON_IS("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", "1.8446744073709552e19"));
    CHECK(JSON_IS("\x82\x01\xa1"
                  "a\xc2\xa1"
                  "b",
                  "{\"1\":\"a\"}")); /* int key; bool key dropped */
    CHECK(JSON_IS("\xd3\x80\x00\x00\x00\x00\x00\x00\x00", "-9223372036854775808"));
}

TEST(random_bytes_never_crash) {
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(i % 64) + 1;
        uint8_t *p = malloc(n);
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            p[k] = (uint8_t)x;
        }
        if (i % 3 == 0)
            p[0] = 0x93; /* mostly broadcast-shaped */
        decode(p, n);
        sb_wire_msg_dispose(&m);
        free(p);
    }
    CHECK(1);
}

TEST(channels) {
    char ch[128];
    sb_str_t room = SB_LIT("conv:42"), uid = SB_LIT("abc"), r;
    CHECK_MEM(ch, sb_wire_channel(ch, sizeof ch, SB_LIT("socket.io"), SB_LIT("/"), NULL),
              "socket.io#/#");
    CHECK_MEM(ch, sb_wire_channel(ch, sizeof ch, SB_LIT("socket.io"), SB_LIT("/"), &room),
              "socket.io#/#conv:42#");
    CHECK_MEM(ch, sb_wire_request_channel(ch, sizeof ch, SB_LIT("k"), SB_LIT("/a")),
              "k-request#/a#");
    CHECK_MEM(ch, sb_wire_response_channel(ch, sizeof ch, SB_LIT("k"), SB_LIT("/"), &uid),
              "k-response#/#abc#");
    CHECK_EQ(sb_wire_channel(ch, 8, SB_LIT("socket.io"), SB_LIT("/"), NULL), 0);
    CHECK(sb_wire_parse_channel(SB_LIT("socket.io#/#conv:42#"), SB_LIT("socket.io"), SB_LIT("/"),
                                &r));
    CHECK_MEM(r.p, r.n, "conv:42");
    CHECK(sb_wire_parse_channel(SB_LIT("socket.io#/#"), SB_LIT("socket.io"), SB_LIT("/"), &r) &&
          r.n == 0);
    CHECK(!sb_wire_parse_channel(SB_LIT("socket.io#/#x"), SB_LIT("socket.io"), SB_LIT("/"), &r));
    CHECK(!sb_wire_parse_channel(SB_LIT("socket.io#/a#"), SB_LIT("socket.io"), SB_LIT("/"), &r));
    CHECK(!sb_wire_parse_channel(SB_LIT("sock"), SB_LIT("socket.io"), SB_LIT("/"), &r));
}

TEST(urls) {
    sb_cluster_url_t u;
    CHECK_EQ(sb_cluster_parse_url("redis://127.0.0.1:6380", &u), SB_OK);
    CHECK(!strcmp(u.host, "127.0.0.1") && u.port == 6380 && !u.password[0]);
    CHECK_EQ(sb_cluster_parse_url("redis://localhost", &u), SB_OK);
    CHECK(!strcmp(u.host, "localhost") && u.port == 6379);
    CHECK_EQ(sb_cluster_parse_url("redis://:s3cret@h:1/2", &u), SB_OK);
    CHECK(!strcmp(u.password, "s3cret") && !u.user[0] && u.port == 1 && u.db == 2);
    CHECK_EQ(sb_cluster_parse_url("redis://me:pw@h", &u), SB_OK);
    CHECK(!strcmp(u.user, "me") && !strcmp(u.password, "pw"));
    CHECK_EQ(sb_cluster_parse_url("redis://[::1]:7000", &u), SB_OK);
    CHECK(!strcmp(u.host, "::1") && u.port == 7000);
    CHECK_EQ(sb_cluster_parse_url("http://h", &u), SB_EINVAL);
    CHECK_EQ(sb_cluster_parse_url("redis://", &u), SB_EINVAL);
    CHECK_EQ(sb_cluster_parse_url("redis://h:0", &u), SB_EINVAL);
    CHECK_EQ(sb_cluster_parse_url("redis://h:65536", &u), SB_EINVAL);
    CHECK_EQ(sb_cluster_parse_url("redis://h:12x", &u), SB_EINVAL);
    CHECK_EQ(sb_cluster_parse_url("redis://h/x", &u), SB_EINVAL);
    CHECK_EQ(sb_cluster_parse_url("redis://[::1", &u), SB_EINVAL);
}

int main(void) {
    RUN(decodes_the_emitters_bytes);
    RUN(encodes_the_emitters_bytes);
    RUN(binary_round_trip);
    RUN(arguments_that_are_not_json_are_refused);
    RUN(every_truncation_is_refused);
    RUN(trailing_bytes_and_reserved_bytes_are_refused);
    RUN(lengths_past_the_end_are_refused_before_any_allocation);
    RUN(deep_nesting_is_refused);
    RUN(wrong_types_are_refused);
    RUN(limits_on_rooms_and_attachments);
    RUN(legacy_and_odd_values);
    RUN(random_bytes_never_crash);
    RUN(channels);
    RUN(urls);
    TEST_MAIN_END();
}
