/* The compact JSON writer (src/features/json_text.c): the same bytes as
 * json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) on fixed cases (escapes,
 * integers at their limits, reals, UTF-8 jansson refuses, cycles, nesting
 * past the writer's own depth) and on randomized values built with jansson's
 * unchecked setters, so that keys and strings hold any byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/features_internal.h"
#include "testlib.h"

#define FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

/* True when both writers agree (both NULL, or the same text and length). */
static bool same_as_jansson(const json_t *v) {
    size_t n = 12345;
    char *ours = sb_feat_json_text(v, &n);
    char *theirs = json_dumps(v, FLAGS);
    bool same = (!ours && !theirs) ||
                (ours && theirs && n == strlen(theirs) && memcmp(ours, theirs, n) == 0);
    if (!same)
        fprintf(stderr, "  ours %s\n  jansson %s\n", ours ? ours : "(null)",
                theirs ? theirs : "(null)");
    free(ours);
    free(theirs);
    return same;
}

static void check_text(json_t *v, const char *want) {
    size_t n = 0;
    char *text = sb_feat_json_text(v, &n);
    CHECK(text != NULL);
    if (text) {
        CHECK_EQ(n, strlen(want));
        CHECK(strcmp(text, want) == 0);
        if (strcmp(text, want) != 0)
            fprintf(stderr, "  got %s\n  want %s\n", text, want);
    }
    CHECK(same_as_jansson(v));
    free(text);
    json_decref(v);
}

TEST(a_message_as_clients_get_it) {
    json_t *m = json_pack("{s:I,s:s,s:s,s:{s:s,s:s},s:b,s:n,s:[]}", "id", (json_int_t)42,
                          "senderId", "u1", "content", "hi \"there\"\n\\", "sender", "id", "u1",
                          "name", "Ann", "ok", 1, "none", "list");
    /* The order is the insertion order, not sorted (json_pack inserts in turn). */
    json_object_set_new(m, "conversationId", json_string("c-1"));
    check_text(json_pack("[i]", 1), "[1]");
    char want[200];
    snprintf(want, sizeof want, "%s",
             "{\"id\":42,\"senderId\":\"u1\",\"content\":\"hi \\\"there\\\"\\n\\\\\",\"sender\":"
             "{\"id\":\"u1\",\"name\":\"Ann\"},\"ok\":true,\"none\":null,\"list\":[],"
             "\"conversationId\":\"c-1\"}");
    check_text(m, want);
}

TEST(scalars_integers_and_escapes) {
    check_text(json_integer(0), "0");
    check_text(json_integer(-7), "-7");
    check_text(json_integer(INT64_MAX), "9223372036854775807");
    check_text(json_integer(INT64_MIN), "-9223372036854775808");
    check_text(json_true(), "true");
    check_text(json_false(), "false");
    check_text(json_null(), "null");
    check_text(json_object(), "{}");
    check_text(json_array(), "[]");
    check_text(json_stringn("a\0b\x01\x1f\x7f\b\f\r\t/", 11),
               "\"a\\u0000b\\u0001\\u001F\x7f\\b\\f\\r\\t/\"");
    check_text(json_string("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
               "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
}

TEST(reals_as_jansson_writes_them) {
    const double v[] = {0.0, -0.0, 1.0, 0.1, 1e300, -2.5e-7, 123456789012345678.0, 3.14159};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        json_t *r = json_pack("[f,{s:f}]", v[i], "x", v[i]);
        CHECK(same_as_jansson(r));
        json_decref(r);
    }
}

/* Text jansson refuses to write (not UTF-8, in a value or a key): NULL here too. */
TEST(invalid_utf8_is_refused_like_jansson) {
    const char *bad[] = {"\x80",       "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "ab\xe2\x82", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *s = json_stringn_nocheck(bad[i], strlen(bad[i]));
        json_t *in_key = json_object();
        json_object_setn_new_nocheck(in_key, bad[i], strlen(bad[i]), json_integer(1));
        size_t n = 1;
        char *text = sb_feat_json_text(s, &n);
        CHECK(text == NULL);
        free(text);
        CHECK(same_as_jansson(s));
        CHECK(same_as_jansson(in_key));
        json_decref(s);
        json_decref(in_key);
    }
}

TEST(cycles_and_deep_nesting) {
    json_t *a = json_array(), *b = json_object();
    json_array_append(a, b);
    CHECK(json_object_set(b, "back", a) == 0); /* a cycle: jansson says NULL */
    size_t n = 1;
    char *text = sb_feat_json_text(a, &n);
    CHECK(text == NULL);
    free(text);
    CHECK(same_as_jansson(a));
    json_object_clear(b);
    json_decref(b);
    json_decref(a);
    /* Deeper than the writer goes itself, not a cycle: jansson's text. */
    json_t *deep = json_integer(1);
    for (int i = 0; i < 5000; i++) {
        json_t *outer = i % 2 ? json_array() : json_object();
        if (i % 2)
            json_array_append_new(outer, deep);
        else
            json_object_set_new(outer, "k", deep);
        deep = outer;
    }
    text = sb_feat_json_text(deep, &n);
    CHECK(text != NULL && n > 10000);
    free(text);
    CHECK(same_as_jansson(deep));
    json_decref(deep);
}

/* ---- randomized: any bytes in keys and strings --------------------------- */

static uint32_t seed = 2026;
static uint32_t next(void) {
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

static size_t random_bytes(char *out, size_t max) {
    static const char *const pieces[] = {"a",
                                         "\"",
                                         "\\",
                                         "\n",
                                         "\x01",
                                         "\x7f",
                                         "/",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "\xed\xa0\x80",
                                         "\x80",
                                         "",
                                         "z9"};
    size_t n = 0, k = next() % 12;
    for (size_t i = 0; i < k; i++) {
        /* Mostly valid text; an invalid piece now and then. */
        const char *p = pieces[next() % (next() % 8 ? 10 : 14)];
        size_t len = *p ? strlen(p) : 1; /* "" stands for U+0000 */
        if (n + len > max)
            break;
        memcpy(out + n, p, len);
        n += len;
    }
    return n;
}

static json_t *random_value(int depth) {
    char buf[64];
    switch (next() % (depth > 4 ? 6 : 8)) {
    case 0:
        return json_integer((json_int_t)next() * (next() % 2 ? -977 : 1));
    case 1:
        return next() % 2 ? json_true() : json_false();
    case 2:
        return json_null();
    case 3:
        return json_real((double)next() / 7.0);
    case 4:
    case 5: {
        size_t n = random_bytes(buf, sizeof buf);
        return json_stringn_nocheck(buf, n);
    }
    case 6: {
        json_t *a = json_array();
        for (uint32_t i = next() % 5; i > 0; i--)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint32_t i = next() % 5; i > 0; i--) {
            size_t n = random_bytes(buf, sizeof buf);
            json_object_setn_new_nocheck(o, buf, n, random_value(depth + 1));
        }
        return o;
    }
    }
}

TEST(random_values_agree_with_jansson) {
    int refused = 0;
    for (int i = 0; i < 20000; i++) {
        json_t *v = random_value(0);
        char *theirs = json_dumps(v, FLAGS);
        refused += theirs == NULL;
        free(theirs);
        if (!same_as_jansson(v)) {
            CHECK(!"a random value differs");
            json_decref(v);
            break;
        }
        json_decref(v);
    }
    CHECK(refused > 100); /* the invalid pieces did come up */
}

int main(void) {
    RUN(a_message_as_clients_get_it);
    RUN(scalars_integers_and_escapes);
    RUN(reals_as_jansson_writes_them);
    RUN(invalid_utf8_is_refused_like_jansson);
    RUN(cycles_and_deep_nesting);
    RUN(random_values_agree_with_jansson);
    TEST_MAIN_END();
}
