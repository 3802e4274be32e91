/* JSON scanner: validator corpus, depth limits, slicing helpers and string
 * escaping. Every validator input is placed against a PROT_NONE page, so a read
 * past the end crashes the test instead of passing by luck. */
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/json.h"
#include "testlib.h"

/* ---- Guard-page helper --------------------------------------------------- */

static char *guard_base;
static size_t guard_page;

/* Copies p[0..n) so that it ends right before an unreadable page. */
static const char *guarded(const char *p, size_t n) {
    if (!guard_base) {
        guard_page = (size_t)sysconf(_SC_PAGESIZE);
        size_t span = guard_page * 300; /* room for the big nesting inputs */
        guard_base = mmap(NULL, span + guard_page, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (guard_base == MAP_FAILED)
            abort();
        mprotect(guard_base + span, guard_page, PROT_NONE);
    }
    size_t span = guard_page * 300;
    if (n > span)
        abort();
    char *dst = guard_base + span - n;
    if (n)
        memcpy(dst, p, n);
    return dst;
}

static int validate(const char *p, size_t n, int depth) {
    return sb_json_validate(guarded(p, n), n, depth);
}

#define VALID(lit) CHECK_EQ(validate((lit), sizeof(lit) - 1, 64), SB_OK)
#define INVALID(lit) CHECK_EQ(validate((lit), sizeof(lit) - 1, 64), SB_EPROTO)

/* ---- Validator corpus ---------------------------------------------------- */

TEST(numbers) {
    VALID("0");
    VALID("-0");
    VALID("1e5");
    VALID("1E+2");
    VALID("1e-2");
    VALID("-1.5e10");
    VALID("123456789012345678901234567890");
    VALID("0.5");
    VALID("0e0");
    VALID("-0.0E-0");
    INVALID("01");
    INVALID("-01");
    INVALID("1.");
    INVALID(".5");
    INVALID("-");
    INVALID("+1");
    INVALID("1e");
    INVALID("1e+");
    INVALID("1E-");
    INVALID("--1");
    INVALID("0x10");
    INVALID("1.e5");
    INVALID("1.5.");
    INVALID("Infinity");
    INVALID("-Infinity");
    INVALID("NaN");
    INVALID("1 2");
    INVALID("- 1");
}

TEST(literals) {
    VALID("true");
    VALID("false");
    VALID("null");
    VALID(" \t\r\n null \t\r\n ");
    INVALID("tru");
    INVALID("nul");
    INVALID("fals");
    INVALID("truex");
    INVALID("True");
    INVALID("NULL");
    INVALID("undefined");
    INVALID("");
    INVALID("   ");
    INVALID("\f1"); /* form feed is not JSON whitespace */
    CHECK_EQ(validate("1\0", 2, 64), SB_EPROTO);
    CHECK_EQ(validate("\0", 1, 64), SB_EPROTO);
}

TEST(strings) {
    VALID("\"\"");
    VALID("\"abc\"");
    VALID("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\u00E9\"");
    VALID("\"\\ud83d\\ude00\"");
    VALID("\"\\ud800\"");        /* lone high surrogate: JSON.parse accepts it */
    VALID("\"\\udc00\\ud800\""); /* reversed pair: two lone surrogates */
    VALID("\"\\uDBFF\\uDFFF\"");
    VALID("\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");
    VALID("\"\x7f\"");
    VALID("\"'\"");
    INVALID("\"\\x41\"");
    INVALID("\"\\a\"");
    INVALID("\"\\'\"");
    INVALID("\"\\U00e9\"");
    INVALID("\"\\u12\"");
    INVALID("\"\\u12G4\"");
    INVALID("\"\\u\"");
    INVALID("\"\\");
    INVALID("\"abc");
    INVALID("\"");
    INVALID("'abc'");
    INVALID("\"a\nb\"");
    INVALID("\"a\tb\"");
    INVALID("\"\x01\"");
    INVALID("\"\x1f\"");
    CHECK_EQ(validate("\"\0\"", 3, 64), SB_EPROTO);
}

TEST(strings_bad_utf8) {
    INVALID("\"\xc3\"");             /* truncated 2-byte */
    INVALID("\"\xc3\x28\"");         /* bad continuation */
    INVALID("\"\xc0\x80\"");         /* overlong NUL */
    INVALID("\"\xc1\xbf\"");         /* overlong */
    INVALID("\"\xe0\x80\xaf\"");     /* overlong 3-byte */
    INVALID("\"\xe2\x82\"");         /* truncated 3-byte */
    INVALID("\"\xed\xa0\x80\"");     /* encoded surrogate U+D800 */
    INVALID("\"\xed\xbf\xbf\"");     /* encoded surrogate U+DFFF */
    INVALID("\"\xf0\x80\x80\xaf\""); /* overlong 4-byte */
    INVALID("\"\xf4\x90\x80\x80\""); /* U+110000 */
    INVALID("\"\xf5\x80\x80\x80\"");
    INVALID("\"\xff\"");
    INVALID("\"\xfe\"");
    INVALID("\"\x80\"");         /* stray continuation */
    INVALID("\"\xf0\x9f\x98\""); /* truncated 4-byte */
    VALID("\"\xed\x9f\xbf\"");   /* U+D7FF, just below the surrogates */
    VALID("\"\xee\x80\x80\"");   /* U+E000, just above */
    INVALID("\xc3\xa9");         /* non-ASCII outside a string */
}

TEST(structures) {
    VALID("[]");
    VALID("{}");
    VALID("[ ]");
    VALID("{ }");
    VALID(" [ 1 , 2 ] ");
    VALID("{\"a\":[1,{\"b\":null}],\"c\":\"d\"}");
    VALID("{ \"a\" : 1 , \"b\" : [ ] }");
    VALID("[[],[[]],{},{\"\":{}}]");
    VALID("{\"a\":1,\"a\":2}"); /* duplicates are legal JSON */
    INVALID("[1,]");
    INVALID("{\"a\":1,}");
    INVALID("[,1]");
    INVALID("[,]");
    INVALID("{,}");
    INVALID("[1 2]");
    INVALID("[1,,2]");
    INVALID("{\"a\" 1}");
    INVALID("{\"a\":}");
    INVALID("{\"a\"}");
    INVALID("{1:2}");
    INVALID("{a:1}");
    INVALID("{'a':1}");
    INVALID("{\"a\":1 \"b\":2}");
    INVALID("[");
    INVALID("]");
    INVALID("{");
    INVALID("}");
    INVALID("[1");
    INVALID("[1,");
    INVALID("{\"a\":1");
    INVALID("{\"a\":");
    INVALID("{\"a\"");
    INVALID("[}");
    INVALID("{]");
    INVALID("[1]]");
    INVALID("[] []");
    INVALID("{} x");
    INVALID("\"a\" x");
    INVALID("[1]\x1e");
}

/* Every strict prefix of a document with no bare number at its end is
 * invalid, and the check never reads past the prefix. */
TEST(prefixes_invalid) {
    static const char doc[] =
        "{\"a\":[1,-2.5e+3,\"x\\u00e9\\\"\xc3\xa9\",true,false,null,{}],\"b\":{\"c\":[]}}";
    size_t n = sizeof doc - 1;
    CHECK_EQ(validate(doc, n, 64), SB_OK);
    for (size_t cut = 0; cut < n; cut++)
        CHECK_EQ(validate(doc, cut, 64), SB_EPROTO);
}

/* ---- Depth --------------------------------------------------------------- */

static char nest_buf[300 * 4096];

static size_t make_nest(int depth, char open, char close) {
    size_t k = 0;
    for (int d = 0; d < depth; d++)
        nest_buf[k++] = open;
    nest_buf[k++] = '1';
    for (int d = 0; d < depth; d++)
        nest_buf[k++] = close;
    return k;
}

TEST(depth_limits) {
    CHECK_EQ(validate("[[[1]]]", 7, 3), SB_OK);
    CHECK_EQ(validate("[[[[1]]]]", 9, 3), SB_EDEPTH);
    CHECK_EQ(validate("[[[]]]", 6, 3), SB_OK);
    CHECK_EQ(validate("[[[[]]]]", 8, 3), SB_EDEPTH);
    CHECK_EQ(validate("{\"a\":{\"b\":[1]}}", 15, 3), SB_OK);
    CHECK_EQ(validate("[[[{}]]]", 8, 3), SB_EDEPTH);
    CHECK_EQ(validate("[1,[2,[3]],[4]]", 15, 3), SB_OK);
    CHECK_EQ(validate("1", 1, 0), SB_OK);
    CHECK_EQ(validate("\"s\"", 3, 0), SB_OK);
    CHECK_EQ(validate("[]", 2, 0), SB_EDEPTH);
    CHECK_EQ(validate("{}", 2, -5), SB_EDEPTH);
    CHECK_EQ(validate("[1]", 3, 1), SB_OK);
    /* Siblings do not add up: depth is about nesting, not count. */
    CHECK_EQ(validate("[[1],[2],[3],[4]]", 17, 2), SB_OK);
}

TEST(depth_hard_cap) {
    size_t n = make_nest(SB_JSON_DEPTH_MAX, '[', ']');
    CHECK_EQ(validate(nest_buf, n, SB_JSON_DEPTH_MAX), SB_OK);
    CHECK_EQ(validate(nest_buf, n, 1 << 30), SB_OK); /* clamped, still enough */
    CHECK_EQ(validate(nest_buf, n, SB_JSON_DEPTH_MAX - 1), SB_EDEPTH);
    n = make_nest(SB_JSON_DEPTH_MAX + 1, '[', ']');
    CHECK_EQ(validate(nest_buf, n, 1 << 30), SB_EDEPTH);
    /* Objects and arrays alternate through the bit stack. */
    size_t k = 0;
    for (int d = 0; d < 100; d++) {
        memcpy(nest_buf + k, d % 2 ? "[" : "{\"k\":", d % 2 ? 1 : 5);
        k += d % 2 ? 1 : 5;
    }
    nest_buf[k++] = '0';
    for (int d = 99; d >= 0; d--)
        nest_buf[k++] = d % 2 ? ']' : '}';
    CHECK_EQ(validate(nest_buf, k, 100), SB_OK);
    CHECK_EQ(validate(nest_buf, k, 99), SB_EDEPTH);
    nest_buf[k - 1] = ']'; /* wrong closer for the outermost object */
    CHECK_EQ(validate(nest_buf, k, 100), SB_EPROTO);
}

TEST(hostile_nesting_fast) {
    size_t n = 100000;
    memset(nest_buf, '[', n);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK_EQ(validate(nest_buf, n, 32), SB_EDEPTH);
    CHECK_EQ(validate(nest_buf, n, 1 << 30), SB_EDEPTH);
    n = 1 << 20; /* 1 MB of '[' */
    memset(nest_buf, '[', n);
    CHECK_EQ(sb_json_validate(nest_buf, n, 1 << 30), SB_EDEPTH);
    memset(nest_buf, '{', n);
    CHECK_EQ(sb_json_validate(nest_buf, n, 1 << 30), SB_EPROTO); /* '{' needs a key */
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    CHECK(ms < 500);
}

/* ---- Types --------------------------------------------------------------- */

TEST(types) {
    CHECK_EQ(sb_json_type(SB_LIT("null")), SB_JSON_NULL);
    CHECK_EQ(sb_json_type(SB_LIT(" false")), SB_JSON_FALSE);
    CHECK_EQ(sb_json_type(SB_LIT("\ttrue")), SB_JSON_TRUE);
    CHECK_EQ(sb_json_type(SB_LIT("-1")), SB_JSON_NUMBER);
    CHECK_EQ(sb_json_type(SB_LIT("0.5")), SB_JSON_NUMBER);
    CHECK_EQ(sb_json_type(SB_LIT("\"x\"")), SB_JSON_STRING);
    CHECK_EQ(sb_json_type(SB_LIT("\n[1]")), SB_JSON_ARRAY);
    CHECK_EQ(sb_json_type(SB_LIT("{}")), SB_JSON_OBJECT);
    CHECK_EQ(sb_json_type(SB_LIT("")), SB_JSON_NULL);
    CHECK_EQ(sb_json_type(SB_STR_NULL), SB_JSON_NULL);
}

/* ---- Array items --------------------------------------------------------- */

TEST(array_items) {
    sb_str_t it[8];
    sb_str_t a = SB_LIT(" [ 1 , \"a,]\\\"\" , {\"b\":[2,\"]\"]} , [] , null,-2.5e3 ] ");
    CHECK_EQ(sb_json_validate(a.p, a.n, 8), SB_OK);
    CHECK_EQ(sb_json_array_items(a, it, 8), 6);
    CHECK_MEM(it[0].p, it[0].n, "1");
    CHECK_MEM(it[1].p, it[1].n, "\"a,]\\\"\"");
    CHECK_MEM(it[2].p, it[2].n, "{\"b\":[2,\"]\"]}");
    CHECK_MEM(it[3].p, it[3].n, "[]");
    CHECK_MEM(it[4].p, it[4].n, "null");
    CHECK_MEM(it[5].p, it[5].n, "-2.5e3");
    CHECK_EQ(sb_json_array_items(a, it, 6), 6);
    CHECK_EQ(sb_json_array_items(a, it, 5), SB_ETOOBIG);
    CHECK_EQ(sb_json_array_items(a, it, 1), SB_ETOOBIG);
    CHECK_MEM(it[0].p, it[0].n, "1");
    CHECK_EQ(sb_json_array_items(a, NULL, 0), SB_ETOOBIG);
    CHECK_EQ(sb_json_array_items(SB_LIT("[]"), NULL, 0), 0);
    CHECK_EQ(sb_json_array_items(SB_LIT(" [ \n ] "), it, 8), 0);
    CHECK_EQ(sb_json_array_items(SB_LIT("[[[]]]"), it, 8), 1);
    CHECK_MEM(it[0].p, it[0].n, "[[]]");
    CHECK_EQ(sb_json_array_items(SB_LIT("{}"), it, 8), SB_EPROTO);
    CHECK_EQ(sb_json_array_items(SB_LIT("\"[1]\""), it, 8), SB_EPROTO);
    CHECK_EQ(sb_json_array_items(SB_LIT(""), it, 8), SB_EPROTO);
}

/* Unvalidated garbage must not make the helpers read out of bounds. */
TEST(slicers_stay_in_bounds) {
    static const char *junk[] = {
        "[",      "[\"",     "[\"\\",    "[{",     "[1,",      "{\"a",
        "{\"a\"", "{\"a\":", "{\"a\":[", "{\"a\\", "[\"a\\\"", "{\"a\":\"\\u12"};
    sb_str_t it[4], v;
    for (size_t k = 0; k < sizeof junk / sizeof junk[0]; k++) {
        size_t n = strlen(junk[k]);
        sb_str_t s = sb_str(guarded(junk[k], n), n);
        int rc = sb_json_array_items(s, it, 4);
        CHECK(rc >= 0 || rc == SB_ETOOBIG || rc == SB_EPROTO);
        (void)sb_json_object_get(s, SB_LIT("a"), &v);
        sb_json_lexer_t lx;
        sb_json_token_t t;
        sb_json_lexer_init(&lx, s);
        int guard = 0;
        while (sb_json_lexer_next(&lx, &t) && guard < 100)
            guard++;
        CHECK(guard < 100);
    }
}

/* ---- Object get ---------------------------------------------------------- */

TEST(object_get) {
    sb_str_t o =
        SB_LIT("{ \"a\" : 1 , \"b\":{\"a\":2,\"f\":3},\"c\\u0064\":\"x\", \"e\":[1,{\"f\":2}],"
               "\"q\\\"k\":[\"}\"],\"\\u00e9\":true,\"\\ud83d\\ude00\":null,\"\":0,\"a\":3 }");
    sb_str_t v;
    CHECK_EQ(sb_json_validate(o.p, o.n, 8), SB_OK);
    CHECK_EQ(sb_json_object_get(o, SB_LIT("a"), &v), SB_OK);
    CHECK_MEM(v.p, v.n, "1"); /* first match wins */
    CHECK_EQ(sb_json_object_get(o, SB_LIT("b"), &v), SB_OK);
    CHECK_MEM(v.p, v.n, "{\"a\":2,\"f\":3}");
    CHECK_EQ(sb_json_object_get(o, SB_LIT("cd"), &v), SB_OK);
    CHECK_MEM(v.p, v.n, "\"x\"");
    CHECK_EQ(sb_json_object_get(o, SB_LIT("c\\u0064"), &v), SB_ENOTFOUND);
    CHECK_EQ(sb_json_object_get(o, SB_LIT("e"), &v), SB_OK);
    CHECK_MEM(v.p, v.n, "[1,{\"f\":2}]");
    CHECK_EQ(sb_json_object_get(o, SB_LIT("f"), &v), SB_ENOTFOUND); /* only the top level */
    CHECK_EQ(sb_json_object_get(o, SB_LIT("q\"k"), &v), SB_OK);
    CHECK_MEM(v.p, v.n, "[\"}\"]");
    CHECK_EQ(sb_json_object_get(o, SB_LIT("\xc3\xa9"), &v), SB_OK);
    CHECK_MEM(v.p, v.n, "true");
    CHECK_EQ(sb_json_object_get(o, SB_LIT("\xf0\x9f\x98\x80"), &v), SB_OK);
    CHECK_MEM(v.p, v.n, "null");
    CHECK_EQ(sb_json_object_get(o, SB_LIT(""), &v), SB_OK);
    CHECK_MEM(v.p, v.n, "0");
    CHECK_EQ(sb_json_object_get(o, SB_LIT("x"), &v), SB_ENOTFOUND);
    CHECK_EQ(sb_json_object_get(o, SB_LIT("aa"), &v), SB_ENOTFOUND);
    CHECK_EQ(sb_json_object_get(SB_LIT("{}"), SB_LIT("a"), &v), SB_ENOTFOUND);
    CHECK_EQ(sb_json_object_get(SB_LIT("[\"a\",1]"), SB_LIT("a"), &v), SB_ENOTFOUND);
    CHECK_EQ(sb_json_object_get(SB_LIT("\"a\""), SB_LIT("a"), &v), SB_ENOTFOUND);
}

/* ---- Strings ------------------------------------------------------------- */

static int unescape(sb_str_t tok, char *out, size_t cap, size_t *n) {
    return sb_json_string_unescape(tok, out, cap, n);
}

TEST(string_unescape) {
    char out[64];
    size_t n;
    CHECK_EQ(unescape(SB_LIT("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), out, sizeof out, &n), SB_OK);
    CHECK_MEM(out, n, "\"\\/\b\f\n\r\t");
    CHECK_EQ(unescape(SB_LIT("\"a\\u00e9\\u20AC\\u0000z\""), out, sizeof out, &n), SB_OK);
    CHECK_EQ(n, 1 + 2 + 3 + 1 + 1);
    CHECK(memcmp(out, "a\xc3\xa9\xe2\x82\xac\0z", n) == 0);
    CHECK_EQ(unescape(SB_LIT("\"\\ud83d\\ude00\""), out, sizeof out, &n), SB_OK);
    CHECK_MEM(out, n, "\xf0\x9f\x98\x80");
    CHECK_EQ(unescape(SB_LIT("\"\\uDBFF\\uDFFF\""), out, sizeof out, &n), SB_OK);
    CHECK_MEM(out, n, "\xf4\x8f\xbf\xbf");
    CHECK_EQ(unescape(SB_LIT("\"\\ud800\""), out, sizeof out, &n), SB_OK);
    CHECK_MEM(out, n, "\xef\xbf\xbd");
    CHECK_EQ(unescape(SB_LIT("\"\\udc00\\ud800x\""), out, sizeof out, &n), SB_OK);
    CHECK_MEM(out, n, "\xef\xbf\xbd\xef\xbf\xbdx");
    CHECK_EQ(unescape(SB_LIT("\"\\ud800\\u0041\""), out, sizeof out, &n), SB_OK);
    CHECK_MEM(out, n,
              "\xef\xbf\xbd"
              "A");
    CHECK_EQ(unescape(SB_LIT("\"\\ud800\\n\""), out, sizeof out, &n), SB_OK);
    CHECK_MEM(out, n, "\xef\xbf\xbd\n");
    CHECK_EQ(unescape(SB_LIT("\"raw \xc3\xa9\""), out, sizeof out, &n), SB_OK);
    CHECK_MEM(out, n, "raw \xc3\xa9");
    CHECK_EQ(unescape(SB_LIT("\"\""), out, 0, &n), SB_OK);
    CHECK_EQ(n, 0);
    CHECK_EQ(unescape(SB_LIT("\"abc\""), out, 2, &n), SB_ETOOBIG);
    CHECK_EQ(unescape(SB_LIT("\"\\ud83d\\ude00\""), out, 3, &n), SB_ETOOBIG);
    CHECK_EQ(unescape(SB_LIT("\"abc\""), out, 3, &n), SB_OK);
    CHECK_EQ(unescape(SB_LIT("abc"), out, sizeof out, &n), SB_EINVAL);
    CHECK_EQ(unescape(SB_LIT("\""), out, sizeof out, &n), SB_EINVAL);
    CHECK_EQ(unescape(SB_STR_NULL, out, sizeof out, &n), SB_EINVAL);
}

TEST(string_eq) {
    CHECK(sb_json_string_eq(SB_LIT("\"abc\""), SB_LIT("abc")));
    CHECK(sb_json_string_eq(SB_LIT("\"\\u0061bc\""), SB_LIT("abc")));
    CHECK(sb_json_string_eq(SB_LIT("\"\""), SB_LIT("")));
    CHECK(!sb_json_string_eq(SB_LIT("\"abc\""), SB_LIT("ab")));
    CHECK(!sb_json_string_eq(SB_LIT("\"ab\""), SB_LIT("abc")));
    CHECK(!sb_json_string_eq(SB_LIT("abc"), SB_LIT("abc")));
    CHECK(sb_json_string_eq(SB_LIT("\"a\\\"b\""), SB_LIT("a\"b")));
}

TEST(string_escape) {
    char out[128];
    sb_str_t s = SB_LIT("a\"b\\c\n\x01\x1f/\x7f\xc3\xa9\t\b\f\r");
    size_t n = sb_json_string_escape(s, out, sizeof out);
    CHECK_MEM(out, n, "\"a\\\"b\\\\c\\n\\u0001\\u001f/\x7f\xc3\xa9\\t\\b\\f\\r\"");
    n = sb_json_string_escape(SB_LIT(""), out, sizeof out);
    CHECK_MEM(out, n, "\"\"");
    n = sb_json_string_escape(SB_LIT("\xff"
                                     "a\xc3"),
                              out, sizeof out);
    CHECK_MEM(out, n,
              "\"\xef\xbf\xbd"
              "a\xef\xbf\xbd\"");
    n = sb_json_string_escape(SB_LIT("\xed\xa0\x80"), out, sizeof out); /* encoded surrogate */
    CHECK_EQ(n, 2 + 9);
    CHECK_EQ(sb_json_validate(out, n, 1), SB_OK);
    /* snprintf-like sizing: nothing written when it does not fit. */
    memset(out, '#', sizeof out);
    CHECK_EQ(sb_json_string_escape(SB_LIT("a\nb"), out, 5), 6);
    CHECK_EQ(out[0], '#');
    CHECK_EQ(sb_json_string_escape(SB_LIT("a\nb"), NULL, 0), 6);
    CHECK_EQ(sb_json_string_escape(SB_LIT("a\nb"), out, 6), 6);
    CHECK_MEM(out, 6, "\"a\\nb\"");
    /* Nothing to escape (the copy without a second look): the same rule. */
    memset(out, '#', sizeof out);
    CHECK_EQ(sb_json_string_escape(SB_LIT("message:sent"), out, 13), 14);
    CHECK_EQ(out[0], '#');
    CHECK_EQ(sb_json_string_escape(SB_LIT("message:sent"), out, 14), 14);
    CHECK_MEM(out, 14, "\"message:sent\"");
}

TEST(string_roundtrip_all_bytes) {
    char raw[128], esc[1024], back[128];
    for (int c = 0; c < 128; c++)
        raw[c] = (char)c;
    sb_str_t s = sb_str(raw, sizeof raw);
    size_t n = sb_json_string_escape(s, esc, sizeof esc);
    CHECK(n <= sizeof esc);
    CHECK_EQ(sb_json_validate(esc, n, 0), SB_OK);
    size_t m = 0;
    CHECK_EQ(sb_json_string_unescape(sb_str(esc, n), back, sizeof back, &m), SB_OK);
    CHECK_EQ(m, sizeof raw);
    CHECK(memcmp(raw, back, sizeof raw) == 0);
    CHECK(sb_json_string_eq(sb_str(esc, n), s));
}

/* ---- Lexer --------------------------------------------------------------- */

TEST(lexer_tokens) {
    sb_json_lexer_t lx;
    sb_json_token_t t;
    static const char *want_text[] = {"{", "\"a\"",  ":", "[",           "1",
                                      ",", "-2.5e3", ",", "\"x\\\"y]\"", "]",
                                      ",", "\"b\"",  ":", "null",        "}"};
    static const char want_kind[] = "{v:[v,v,v],v:v}";
    sb_json_lexer_init(&lx, SB_LIT(" {\"a\" : [1, -2.5e3, \"x\\\"y]\"], \"b\":null} "));
    size_t k = 0;
    while (sb_json_lexer_next(&lx, &t)) {
        CHECK(k < sizeof want_text / sizeof want_text[0]);
        if (k >= sizeof want_text / sizeof want_text[0])
            break;
        CHECK_EQ(t.kind, want_kind[k]);
        CHECK(sb_str_eq(t.text, sb_cstr(want_text[k])));
        k++;
    }
    CHECK_EQ(k, 15);
    CHECK_EQ(t.kind, 0);
    CHECK_EQ(sb_json_lexer_next(&lx, &t), 0);
    sb_json_lexer_init(&lx, SB_STR_NULL);
    CHECK_EQ(sb_json_lexer_next(&lx, &t), 0);
}

/* Eight bytes a step agrees with a byte at a time: every byte value at
 * every place of a 19-byte text of plain letters, and mixed texts. */
static size_t plain_len_slow(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && (uint8_t)s[i] >= 0x20 && (uint8_t)s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
        i++;
    return i;
}

TEST(plain_len) {
    char t[19];
    for (int c = 0; c < 256; c++)
        for (size_t at = 0; at < sizeof t; at++) {
            memset(t, 'a', sizeof t);
            t[at] = (char)c;
            for (size_t n = 0; n <= sizeof t; n++) {
                const char *g = guarded(t, n);
                CHECK_EQ(sb_json_plain_len(g, n), plain_len_slow(g, n));
            }
        }
    uint32_t seed = 7;
    for (int round = 0; round < 2000; round++) {
        char m[40];
        for (size_t i = 0; i < sizeof m; i++) {
            seed = seed * 1103515245u + 12345u;
            m[i] = (char)(seed >> 16 & 0x3 ? 0x21 + (seed >> 8) % 0x5e : (seed >> 8) & 0xff);
        }
        const char *g = guarded(m, sizeof m);
        CHECK_EQ(sb_json_plain_len(g, sizeof m), plain_len_slow(g, sizeof m));
    }
}

static int flat(const char *p, size_t n, sb_json_member_t *out, size_t max) {
    return sb_json_flat_object(sb_str(guarded(p, n), n), out, max);
}

#define FLAT_NO(lit) CHECK_EQ(flat((lit), sizeof(lit) - 1, m, 8), SB_EPROTO)

TEST(flat_object) {
    sb_json_member_t m[8];
    CHECK_EQ(flat("{}", 2, m, 8), 0);
    CHECK_EQ(flat(" {\t}\r\n", 6, m, 8), 0);
    const char t[] =
        " { \"a\" : \"x\" ,\"b\":\"y\\n\\ud83d\\ude00\",\"c\":\"\xc3\xa9\",\"a\":\"\"} ";
    CHECK_EQ(flat(t, sizeof t - 1, m, 8), 4);
    CHECK_MEM(m[0].key.p, m[0].key.n, "a");
    CHECK_MEM(m[0].value.p, m[0].value.n, "\"x\"");
    CHECK(!m[0].escaped);
    CHECK_MEM(m[1].key.p, m[1].key.n, "b");
    CHECK_MEM(m[1].value.p, m[1].value.n, "\"y\\n\\ud83d\\ude00\"");
    CHECK(m[1].escaped);
    CHECK_MEM(m[2].value.p, m[2].value.n, "\"\xc3\xa9\"");
    CHECK(!m[2].escaped);
    CHECK_MEM(m[3].key.p, m[3].key.n, "a"); /* duplicates as they come: the caller decides */
    CHECK_MEM(m[3].value.p, m[3].value.n, "\"\"");
    CHECK_EQ(validate(t, sizeof t - 1, 64), SB_OK);     /* what it reads is valid JSON */
    CHECK_EQ(flat("{\"k\":\"\\u0000\"}", 14, m, 8), 1); /* a NUL: the caller's to refuse */
    CHECK_EQ(flat("{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}", 25, m, 2), SB_ETOOBIG);
}

TEST(flat_object_refuses) {
    sb_json_member_t m[8];
    FLAT_NO("");
    FLAT_NO("   ");
    FLAT_NO("{");
    FLAT_NO("{\"a\"}");
    FLAT_NO("{\"a\":}");
    FLAT_NO("{\"a\" \"b\"}");
    FLAT_NO("{\"a\":\"b\",}");
    FLAT_NO("{,}");
    FLAT_NO("{\"a\":\"b\"}x");
    FLAT_NO("{\"a\":\"b\"}{}");
    FLAT_NO("{\"a\":\"b\"");
    FLAT_NO("{\"a\":\"b}");
    FLAT_NO("[\"a\",\"b\"]");
    FLAT_NO("\"a\"");
    FLAT_NO("{a:\"b\"}");
    FLAT_NO("{'a':'b'}");
    /* valid JSON, but not flat: a full parser reads it */
    FLAT_NO("{\"a\":1}");
    FLAT_NO("{\"a\":true}");
    FLAT_NO("{\"a\":null}");
    FLAT_NO("{\"a\":{}}");
    FLAT_NO("{\"a\":[\"b\"]}");
    FLAT_NO("{\"a\":\"b\",\"c\":{\"d\":\"e\"}}");
    FLAT_NO("{\"\\u0061\":\"b\"}");
    FLAT_NO("{\"a\\n\":\"b\"}");
    /* strings a strict parser refuses */
    FLAT_NO("{\"a\":\"\\ud800\"}");
    FLAT_NO("{\"a\":\"\\udc00\"}");
    FLAT_NO("{\"a\":\"\\ud800\\u0041\"}");
    FLAT_NO("{\"a\":\"\\ud800\\n\"}");
    FLAT_NO("{\"a\":\"\\ude00\\ud83d\"}");
    FLAT_NO("{\"a\":\"\\x\"}");
    FLAT_NO("{\"a\":\"\\u12\"}");
    FLAT_NO("{\"a\":\"\\u12g4\"}");
    FLAT_NO("{\"a\":\"\\\"}");
    FLAT_NO("{\"a\":\"\x01\"}");
    FLAT_NO("{\"a\":\"\n\"}");
    FLAT_NO("{\"a\":\"\xc3\x28\"}");
    FLAT_NO("{\"a\":\"\xc0\xaf\"}");
    FLAT_NO("{\"a\":\"\xed\xa0\x80\"}");
    FLAT_NO("{\"a\":\"\xf4\x90\x80\x80\"}");
    FLAT_NO("{\"a\":\"\xe2\x82\"}");
    FLAT_NO("{\"a\xff\":\"b\"}");
}

/* Every proper prefix of a flat object is refused without reading past it. */
TEST(flat_object_prefixes) {
    const char t[] =
        "{\"conversationId\":\"c1\",\"content\":\"h\\u00e9\\ud83d\\ude00 \xe2\x82\xac\"}";
    sb_json_member_t m[4];
    CHECK_EQ(flat(t, sizeof t - 1, m, 4), 2);
    for (size_t n = 0; n < sizeof t - 1; n++)
        CHECK_EQ(flat(t, n, m, 4), SB_EPROTO);
}

int main(void) {
    RUN(numbers);
    RUN(literals);
    RUN(strings);
    RUN(strings_bad_utf8);
    RUN(structures);
    RUN(prefixes_invalid);
    RUN(depth_limits);
    RUN(depth_hard_cap);
    RUN(hostile_nesting_fast);
    RUN(types);
    RUN(array_items);
    RUN(slicers_stay_in_bounds);
    RUN(object_get);
    RUN(string_unescape);
    RUN(string_eq);
    RUN(string_escape);
    RUN(string_roundtrip_all_bytes);
    RUN(lexer_tokens);
    RUN(plain_len);
    RUN(flat_object);
    RUN(flat_object_refuses);
    RUN(flat_object_prefixes);
    TEST_MAIN_END();
}
