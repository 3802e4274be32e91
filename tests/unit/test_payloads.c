/* What every stored message and notification sent is made of
 * (src/features/payloads.c, helpers.c): the ISO time against gmtime_r and
 * strftime, the bounded copy against snprintf, the message object against
 * the json_pack it replaced, and the message's text made without a value
 * against that value's text, text for text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "features/features_internal.h"
#include "testlib.h"

/* The reference: what sb_feat_iso_time wrote before it did the arithmetic. */
static void iso_by_strftime(int64_t ms, char out[32]) {
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

static bool iso_same(int64_t ms) {
    char got[32], want[32];
    sb_feat_iso_time(ms, got);
    iso_by_strftime(ms, want);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "  %lld: got %s, want %s\n", (long long)ms, got, want);
        return false;
    }
    return true;
}

TEST(iso_time_matches_strftime) {
    char out[32];
    sb_feat_iso_time(0, out);
    CHECK(strcmp(out, "1970-01-01T00:00:00.000Z") == 0);
    sb_feat_iso_time(951782400123LL, out); /* a leap day of a century year */
    CHECK(strcmp(out, "2000-02-29T00:00:00.123Z") == 0);
    const int64_t edges[] = {1,
                             999,
                             86399999,
                             86400000,
                             4107542399999LL,   /* 2100-02-28T23:59:59.999: not a leap year */
                             4107542400000LL,   /* 2100-03-01 */
                             1709164800000LL,   /* 2024-02-29 */
                             1735689599999LL,   /* 2024-12-31T23:59:59.999 */
                             253402300799999LL, /* 9999-12-31T23:59:59.999, the last fast one */
                             253402300800000LL, /* year 10000: as strftime writes it */
                             -1,
                             -86400001};
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++)
        CHECK(iso_same(edges[i]));
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (!iso_same((int64_t)(x % 253402300800000ULL))) {
            CHECK(!"a random instant differs");
            break;
        }
    }
}

TEST(copy_is_a_bounded_snprintf) {
    char out[8];
    CHECK_EQ(sb_feat_copy(out, sizeof out, sb_cstr("abc")), 3);
    CHECK(strcmp(out, "abc") == 0);
    CHECK_EQ(sb_feat_copy(out, sizeof out, sb_cstr("abcdefghij")), 7);
    CHECK(strcmp(out, "abcdefg") == 0);
    CHECK_EQ(sb_feat_copy(out, sizeof out, sb_str("ab\0cd", 5)), 2); /* up to the NUL */
    CHECK(strcmp(out, "ab") == 0);
    CHECK_EQ(sb_feat_copy(out, sizeof out, sb_cstr(NULL)), 0);
    CHECK(out[0] == '\0');
    CHECK_EQ(sb_feat_copy(out, 1, sb_cstr("x")), 0);
    CHECK(out[0] == '\0');
}

/* The reference: the message as json_pack built it. */
static json_t *message_by_pack(const sb_store_msg_t *m, const char *sender_name) {
    char at[32];
    sb_feat_iso_time(m->created_at_ms, at);
    const char *conv = strncmp(m->room, "conversation:", 13) == 0 ? m->room + 13 : NULL;
    json_t *j =
        json_pack("{s:I,s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "id", (json_int_t)m->id, "senderId",
                  m->sender_id, "content", m->content, "messageType", m->type, "createdAt", at,
                  "sender", "id", m->sender_id, "name", sender_name ? sender_name : m->sender_id);
    json_object_set_new(j, conv ? "conversationId" : "roomId", json_string(conv ? conv : m->room));
    return j;
}

static bool message_same(const sb_store_msg_t *m, const char *name) {
    json_t *a = sb_feat_message_json(m, name), *b = message_by_pack(m, name);
    size_t n;
    char *ta = a ? sb_feat_json_text(a, &n) : NULL, *tb = b ? sb_feat_json_text(b, &n) : NULL;
    bool same = (!ta && !tb) || (ta && tb && strcmp(ta, tb) == 0);
    if (!same)
        fprintf(stderr, "  got %s\n  want %s\n", ta ? ta : "(null)", tb ? tb : "(null)");
    free(ta);
    free(tb);
    json_decref(a);
    json_decref(b);
    return same;
}

TEST(message_json_as_json_pack_built_it) {
    sb_store_msg_t m = {.id = 42,
                        .room = "conversation:dm:2:u1:u2",
                        .sender_id = "u1",
                        .content = "hi \"you\"\n",
                        .type = "text",
                        .created_at_ms = 1764936000123LL};
    json_t *j = sb_feat_message_json(&m, "Ann");
    size_t n;
    char *text = sb_feat_json_text(j, &n);
    CHECK(text &&
          strcmp(text, "{\"id\":42,\"senderId\":\"u1\",\"content\":\"hi \\\"you\\\"\\n\","
                       "\"messageType\":\"text\",\"createdAt\":\"2025-12-05T12:00:00.123Z\","
                       "\"sender\":{\"id\":\"u1\",\"name\":\"Ann\"},"
                       "\"conversationId\":\"dm:2:u1:u2\"}") == 0);
    free(text);
    json_decref(j);
    CHECK(message_same(&m, NULL));
    m.room = "lobby"; /* a room message: roomId */
    CHECK(message_same(&m, "Ann"));
    m.content = "bad \xff text"; /* not UTF-8: no message at all */
    CHECK(sb_feat_message_json(&m, "Ann") == NULL);
    CHECK(message_same(&m, "Ann"));
    m.content = "ok";
    CHECK(message_same(&m, "bad \xc0 name"));
    m.room = "conversation:\xff"; /* the conversation id alone is left out, as before */
    CHECK(message_same(&m, "Ann"));
}

/* The reference: the value send_payload makes, written by sb_feat_json_text. */
static char *text_by_value(const sb_store_msg_t *m, const char *name, const char *const extra[][2],
                           size_t nextra) {
    json_t *j = sb_feat_message_json(m, name);
    for (size_t i = 0; j && i < nextra; i++)
        if (extra[i][1])
            json_object_set_new(j, extra[i][0], json_string(extra[i][1]));
    size_t n;
    char *text = j ? sb_feat_json_text(j, &n) : NULL;
    json_decref(j);
    return text;
}

static bool text_same(const sb_store_msg_t *m, const char *name, const char *const extra[][2],
                      size_t nextra) {
    size_t n = 7;
    char *got = sb_feat_message_text(m, name, extra, nextra, &n);
    char *want = text_by_value(m, name, extra, nextra);
    bool same =
        (!got && !want && n == 0) || (got && want && strlen(want) == n && strcmp(got, want) == 0);
    if (!same)
        fprintf(stderr, "  got %s\n  want %s\n", got ? got : "(null)", want ? want : "(null)");
    free(got);
    free(want);
    return same;
}

TEST(message_text_as_the_value_writes) {
    sb_store_msg_t m = {.id = 9007199254740993LL,
                        .room = "conversation:c1",
                        .sender_id = "u1",
                        .content = "a",
                        .type = "text",
                        .created_at_ms = 1764936000123LL};
    const char *extra[][2] = {{"receiverId", "u2"}, {"clientMessageId", "k-1"}};
    CHECK(text_same(&m, "Ann", extra, 2));
    CHECK(text_same(&m, NULL, extra, 0));
    /* Texts of every kind in every field: escapes, U+0000, other scripts,
     * bytes that are not UTF-8 (the whole message, or one member, goes). */
    const char *texts[] = {"plain",
                           "q\"b\\s/\n\t\x01\x1f\x7f",
                           "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
                           "",
                           "bad\xff",
                           "\xed\xa0\x80",
                           NULL};
    size_t nt = sizeof texts / sizeof *texts;
    uint32_t x = 7;
    for (int i = 0; i < 4000; i++) {
        const char *pick[7];
        for (size_t j = 0; j < 7; j++) {
            x = x * 1103515245u + 12345u;
            pick[j] = texts[(x >> 8) % nt];
        }
        char room[64];
        snprintf(room, sizeof room, "%s%s", i % 2 ? "conversation:" : "", pick[0] ? pick[0] : "r");
        sb_store_msg_t r = {.id = i - 2000,
                            .room = room,
                            .sender_id = pick[1] ? pick[1] : "u",
                            .content = pick[2] ? pick[2] : "c",
                            .type = pick[3] ? pick[3] : "text",
                            .created_at_ms = (int64_t)x * 1000};
        const char *ex[][2] = {{"receiverId", pick[4]}, {"clientMessageId", pick[5]}};
        if (!text_same(&r, pick[6], ex, 2)) {
            CHECK(!"a message differs from its value's text");
            break;
        }
    }
}

int main(void) {
    RUN(iso_time_matches_strftime);
    RUN(copy_is_a_bounded_snprintf);
    RUN(message_json_as_json_pack_built_it);
    RUN(message_text_as_the_value_writes);
    TEST_MAIN_END();
}
