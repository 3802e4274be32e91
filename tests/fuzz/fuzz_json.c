/* Fuzzes the JSON scanner. On any input: the validator answers, and the
 * helpers that take unvalidated text (array items, object get, lexer) stay
 * inside it and terminate. On valid input: the depth limit is exact, the
 * lexer's tokens tile the text, array items and object members match what
 * the token walk finds, every string token unescapes to valid UTF-8 and
 * survives escape -> validate -> unescape. And for arbitrary bytes taken as a
 * raw string: escape -> validate -> unescape gives the bytes back, with each
 * byte that is not part of valid UTF-8 replaced by U+FFFD.
 * Input: one JSON text (or anything). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "ws/utf8.h"
#include "fuzz_util.h"

#define MAX_ITEMS 64

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static bool all_ws(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_ws(p[i]))
            return false;
    return true;
}

/* ---- on any bytes --------------------------------------------------------- */

static void check_unvalidated(const char *p, size_t n) {
    sb_str_t text = sb_str(p, n), items[MAX_ITEMS], v = {NULL, 0};
    int k = sb_json_array_items(text, items, MAX_ITEMS);
    FZ_CHECK(k == SB_EPROTO || k == SB_ETOOBIG || (k >= 0 && k <= MAX_ITEMS));
    for (int i = 0; i < (k == SB_ETOOBIG ? MAX_ITEMS : k); i++)
        FZ_CHECK(fz_within(items[i], p, n));
    if (sb_json_object_get(text, SB_LIT("a"), &v) == SB_OK)
        FZ_CHECK(fz_within(v, p, n));
    sb_json_lexer_t lx;
    sb_json_token_t t;
    sb_json_lexer_init(&lx, text);
    size_t count = 0;
    const char *last = p;
    while (sb_json_lexer_next(&lx, &t)) {
        FZ_CHECK(t.text.n > 0 && fz_within(t.text, p, n) && t.text.p >= last);
        last = t.text.p + t.text.n;
        FZ_CHECK(++count <= n); /* each token takes at least one byte */
    }
    FZ_CHECK(t.kind == 0 && sb_json_lexer_next(&lx, &t) == 0);
}

/* ---- token walk over valid text ------------------------------------------- */

typedef struct {
    sb_str_t key;   /* objects: the member's key token */
    sb_str_t value; /* the raw value span */
} member_t;

typedef struct {
    int max_depth;
    char top;     /* '[' '{' or 'v' */
    size_t count; /* top-level items or members, even past MAX_ITEMS */
    member_t m[MAX_ITEMS];
} walk_t;

static void walk_text(const char *p, size_t n, walk_t *w) {
    sb_json_lexer_t lx;
    sb_json_token_t t;
    int depth = 0;
    const char *prev_end = p, *start = NULL;
    bool key_next = false;
    memset(w, 0, sizeof *w);
    sb_json_lexer_init(&lx, sb_str(p, n));
    while (sb_json_lexer_next(&lx, &t)) {
        /* Tokens tile the text: only whitespace between them. */
        FZ_CHECK(t.text.p >= prev_end && all_ws(prev_end, (size_t)(t.text.p - prev_end)));
        prev_end = t.text.p + t.text.n;
        if (!w->top)
            w->top = t.kind == 'v' ? 'v' : t.kind;
        if (t.kind == 'v') {
            /* A scalar is valid JSON on its own, and sb_json_type knows it. */
            FZ_CHECK(sb_json_validate(t.text.p, t.text.n, 0) == SB_OK);
        }
        bool closes = t.kind == ']' || t.kind == '}';
        if (depth == 1 && (closes || t.kind == ',') && start) {
            if (w->count < MAX_ITEMS)
                w->m[w->count].value = sb_str(start, (size_t)(t.text.p - start));
            w->count++;
            start = NULL;
        }
        if (depth == 1 && t.kind != ',' && !closes && !start) {
            if (w->top == '{' && (t.kind == 'v') && !key_next) {
                if (w->count < MAX_ITEMS)
                    w->m[w->count].key = t.text;
                key_next = true; /* the value starts after ':' */
            } else if (t.kind != ':') {
                start = t.text.p;
                key_next = false;
            }
        }
        if (t.kind == '[' || t.kind == '{')
            depth++;
        if (closes)
            depth--;
        FZ_CHECK(depth >= 0);
        if (depth > w->max_depth)
            w->max_depth = depth;
    }
    FZ_CHECK(depth == 0 && all_ws(prev_end, (size_t)(p + n - prev_end)));
}

/* The walk's value spans include whitespace before the closing token; trim it. */
static sb_str_t rtrim(sb_str_t s) {
    while (s.n && is_ws(s.p[s.n - 1]))
        s.n--;
    return s;
}

static void check_array(sb_str_t text, const walk_t *w) {
    sb_str_t items[MAX_ITEMS];
    int k = sb_json_array_items(text, items, MAX_ITEMS);
    if (w->count > MAX_ITEMS) {
        FZ_CHECK(k == SB_ETOOBIG);
        return;
    }
    FZ_CHECK(k == (int)w->count);
    for (int i = 0; i < k; i++) {
        FZ_CHECK(sb_str_eq(items[i], rtrim(w->m[i].value)) && items[i].p == w->m[i].value.p);
        FZ_CHECK(sb_json_validate(items[i].p, items[i].n, SB_JSON_DEPTH_MAX) == SB_OK);
    }
    if (k > 0) {
        FZ_CHECK(sb_json_array_items(text, items, (size_t)k - 1) == SB_ETOOBIG);
        FZ_CHECK(sb_json_array_items(text, items, (size_t)k) == k);
    }
}

static void check_object(sb_str_t text, const walk_t *w) {
    size_t members = w->count < MAX_ITEMS ? w->count : MAX_ITEMS;
    for (size_t i = 0; i < members; i++) {
        sb_str_t key = w->m[i].key;
        char *raw = malloc(key.n); /* unescaping never grows a token */
        size_t raw_n;
        FZ_CHECK(sb_json_string_unescape(key, raw, key.n, &raw_n) == SB_OK);
        sb_str_t v;
        FZ_CHECK(sb_json_object_get(text, sb_str(raw, raw_n), &v) == SB_OK);
        /* The first member with an equal key wins. */
        size_t first = 0;
        while (!sb_json_string_eq(w->m[first].key, sb_str(raw, raw_n)))
            first++;
        FZ_CHECK(first <= i);
        FZ_CHECK(sb_str_eq(v, rtrim(w->m[first].value)) && v.p == w->m[first].value.p);
        FZ_CHECK(sb_json_validate(v.p, v.n, SB_JSON_DEPTH_MAX) == SB_OK);
        free(raw);
    }
    sb_str_t v;
    /* Unescaped keys are valid UTF-8 (lone surrogates become U+FFFD): no 0xFF. */
    FZ_CHECK(sb_json_object_get(text, SB_LIT("\xff"), &v) == SB_ENOTFOUND);
}

/* ---- strings -------------------------------------------------------------- */

/* What escape then unescape must give for raw bytes: valid UTF-8 sequences
 * kept, every other byte replaced by U+FFFD. Returns the length. */
static size_t ref_sanitize(const uint8_t *s, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t len = 0;
        for (size_t l = 1; l <= 4 && l <= n - i && !len; l++)
            if (sb_utf8_valid(s + i, l))
                len = l;
        if (len) {
            memcpy(out + k, s + i, len);
            k += len;
            i += len;
        } else {
            memcpy(out + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        }
    }
    return k;
}

/* Escapes s[0..n) into an exact-size heap block; returns it and its length. */
static char *escape_exact(sb_str_t s, size_t *len) {
    size_t need = sb_json_string_escape(s, NULL, 0);
    FZ_CHECK(need >= 2 && need <= 2 + 6 * s.n);
    char *out = malloc(need);
    memset(out, '#', need);
    if (need > 2)
        FZ_CHECK(sb_json_string_escape(s, out, need - 1) == need && out[0] == '#'); /* no write */
    FZ_CHECK(sb_json_string_escape(s, out, need) == need);
    *len = need;
    return out;
}

static void check_raw_roundtrip(const uint8_t *s, size_t n) {
    size_t en;
    char *tok = escape_exact(sb_str((const char *)s, n), &en);
    FZ_CHECK(sb_json_validate(tok, en, 0) == SB_OK);
    FZ_CHECK(sb_json_type(sb_str(tok, en)) == SB_JSON_STRING);
    char *want = malloc(3 * n + 1), *got = malloc(3 * n + 1);
    size_t wn = ref_sanitize(s, n, want), gn = 0;
    FZ_CHECK(sb_json_string_unescape(sb_str(tok, en), got, 3 * n, &gn) == SB_OK);
    FZ_CHECK(gn == wn && memcmp(got, want, wn) == 0);
    FZ_CHECK(sb_json_string_eq(sb_str(tok, en), sb_str(want, wn)));
    if (wn > 0) {
        FZ_CHECK(sb_json_string_unescape(sb_str(tok, en), got, wn - 1, &gn) == SB_ETOOBIG);
        FZ_CHECK(gn <= wn - 1 && memcmp(got, want, gn) == 0); /* a prefix */
        FZ_CHECK(!sb_json_string_eq(sb_str(tok, en), sb_str(want, wn - 1)));
    }
    free(tok);
    free(want);
    free(got);
}

/* A string token from valid text: unescapes to valid UTF-8 that escapes back
 * to an equivalent token. */
static void check_string_token(sb_str_t t) {
    char *raw = malloc(t.n * 2 + 4); /* \uXXXX (6 bytes) gives at most 3 */
    size_t rn;
    FZ_CHECK(sb_json_string_unescape(t, raw, t.n * 2 + 4, &rn) == SB_OK);
    FZ_CHECK(sb_utf8_valid((const uint8_t *)raw, rn));
    FZ_CHECK(sb_json_string_eq(t, sb_str(raw, rn)));
    size_t en;
    char *tok = escape_exact(sb_str(raw, rn), &en);
    FZ_CHECK(sb_json_validate(tok, en, 0) == SB_OK);
    FZ_CHECK(sb_json_string_eq(sb_str(tok, en), sb_str(raw, rn)));
    free(tok);
    free(raw);
}

static void check_strings(const char *p, size_t n) {
    sb_json_lexer_t lx;
    sb_json_token_t t;
    sb_json_lexer_init(&lx, sb_str(p, n));
    while (sb_json_lexer_next(&lx, &t)) {
        if (t.kind != 'v')
            continue;
        sb_json_type_t ty = sb_json_type(t.text);
        char c = t.text.p[0];
        FZ_CHECK(ty == (c == '"'   ? SB_JSON_STRING
                        : c == 't' ? SB_JSON_TRUE
                        : c == 'f' ? SB_JSON_FALSE
                        : c == 'n' ? SB_JSON_NULL
                                   : SB_JSON_NUMBER));
        if (ty == SB_JSON_STRING)
            check_string_token(t.text);
    }
}

/* ---- valid text ----------------------------------------------------------- */

static void check_valid(const char *p, size_t n) {
    walk_t w;
    walk_text(p, n, &w);
    /* The depth limit is exact. */
    FZ_CHECK(sb_json_validate(p, n, w.max_depth) == SB_OK);
    if (w.max_depth > 0)
        FZ_CHECK(sb_json_validate(p, n, w.max_depth - 1) == SB_EDEPTH);
    sb_str_t text = sb_str(p, n);
    sb_json_type_t ty = sb_json_type(text);
    FZ_CHECK((w.top == '[') == (ty == SB_JSON_ARRAY) && (w.top == '{') == (ty == SB_JSON_OBJECT));
    if (w.top == '[')
        check_array(text, &w);
    else
        FZ_CHECK(sb_json_array_items(text, NULL, 0) == SB_EPROTO);
    if (w.top == '{')
        check_object(text, &w);
    check_strings(p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *p = (char *)fz_dup(data, size);
    int rc = sb_json_validate(p, size, SB_JSON_DEPTH_MAX);
    FZ_CHECK(rc == SB_OK || rc == SB_EPROTO || rc == SB_EDEPTH);
    /* Limits below the need only ever turn the answer into SB_EDEPTH. */
    int rc0 = sb_json_validate(p, size, 0), rc_neg = sb_json_validate(p, size, -5);
    FZ_CHECK(rc0 == rc_neg && (rc0 == rc || rc0 == SB_EDEPTH));
    FZ_CHECK(sb_json_validate(p, size, 1 << 30) == rc); /* clamped to SB_JSON_DEPTH_MAX */
    check_unvalidated(p, size);
    if (rc == SB_OK)
        check_valid(p, size);
    check_raw_roundtrip(data, size);
    free(p);
    return 0;
}
