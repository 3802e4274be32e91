/* JSON scanner: an iterative validator plus helpers that slice validated text.
 * The validator is strict because what it accepts is forwarded to other peers'
 * JSON.parse; the slicing helpers trust validated input for meaning but still
 * never read outside the span they are given. */
#include "core/json.h"

#include <limits.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hex.h"
#include "core/put.h"

/* ---- Characters ---------------------------------------------------------- */

static bool json_is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static size_t json_skip_ws(const char *p, size_t n, size_t i) {
    while (i < n && json_is_ws(p[i]))
        i++;
    return i;
}

static bool json_is_digit(char c) { return c >= '0' && c <= '9'; }

static size_t json_skip_digits(const char *p, size_t n, size_t i) {
    while (i < n && json_is_digit(p[i]))
        i++;
    return i;
}

/* Reads four hex digits at p[i..); returns the value or -1. */
static long json_hex4(const char *p, size_t end, size_t i) {
    if (i > end || end - i < 4)
        return -1;
    long v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = sb_hex_value(p[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* ---- UTF-8 --------------------------------------------------------------- */

static bool json_is_cont(uint8_t c) { return (c & 0xC0) == 0x80; }

size_t sb_json_utf8_len(const uint8_t *s, size_t avail) {
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2 || c > 0xF4)
        return 0; /* stray continuation, overlong 2-byte lead, or > U+10FFFF */
    size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (avail < len)
        return 0;
    for (size_t k = 1; k < len; k++)
        if (!json_is_cont(s[k]))
            return 0;
    /* The second byte's range closes the remaining gaps of each lead byte. */
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F))
        return 0;
    if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return len;
}

static size_t json_utf8_put(uint32_t cp, char u[4]) {
    if (cp < 0x80) {
        u[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- Scalar scanners (validating) ---------------------------------------- */
/* Each takes the index of the token's first byte and returns the index just
 * past it, or 0 on error (no token can end at index 0). */

static size_t json_scan_escape(const char *p, size_t n, size_t i) {
    if (n - i < 2)
        return 0;
    switch (p[i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return i + 2;
    case 'u':
        return json_hex4(p, n, i + 2) < 0 ? 0 : i + 6;
    default:
        return 0;
    }
}

static size_t json_scan_string(const char *p, size_t n, size_t i) {
    i++;
    while (i < n) {
        uint8_t c = (uint8_t)p[i];
        if (c == '"')
            return i + 1;
        if (c == '\\') {
            i = json_scan_escape(p, n, i);
        } else if (c < 0x20) {
            return 0;
        } else if (c < 0x80) {
            i++;
            continue;
        } else {
            size_t len = sb_json_utf8_len((const uint8_t *)p + i, n - i);
            i = len ? i + len : 0;
        }
        if (i == 0)
            return 0;
    }
    return 0;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static size_t json_scan_number(const char *p, size_t n, size_t i) {
    if (i < n && p[i] == '-')
        i++;
    if (i >= n || !json_is_digit(p[i]))
        return 0;
    i = p[i] == '0' ? i + 1 : json_skip_digits(p, n, i);
    if (i < n && p[i] == '.') {
        size_t j = json_skip_digits(p, n, i + 1);
        if (j == i + 1)
            return 0;
        i = j;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t j = json_skip_digits(p, n, i);
        if (j == i)
            return 0;
        i = j;
    }
    return i;
}

static size_t json_scan_literal(const char *p, size_t n, size_t i, const char *lit, size_t len) {
    return n - i >= len && memcmp(p + i, lit, len) == 0 ? i + len : 0;
}

static size_t json_scan_scalar(const char *p, size_t n, size_t i) {
    switch (p[i]) {
    case '"':
        return json_scan_string(p, n, i);
    case 't':
        return json_scan_literal(p, n, i, "true", 4);
    case 'f':
        return json_scan_literal(p, n, i, "false", 5);
    case 'n':
        return json_scan_literal(p, n, i, "null", 4);
    default:
        return json_scan_number(p, n, i);
    }
}

/* ---- Validator ----------------------------------------------------------- */

/* One bit per open container (1 = object) replaces recursion, so a hostile
 * "[[[[..." costs a bounded frame instead of the call stack. */
typedef struct {
    const char *p;
    size_t n, i;
    int depth, max_depth;
    uint8_t is_obj[SB_JSON_DEPTH_MAX / 8];
} json_vs_t;

static bool vs_top_is_obj(const json_vs_t *v) {
    int d = v->depth - 1;
    return (v->is_obj[d >> 3] >> (d & 7)) & 1;
}

static void vs_push(json_vs_t *v, bool obj) {
    int d = v->depth++;
    uint8_t bit = (uint8_t)(1u << (d & 7));
    v->is_obj[d >> 3] =
        obj ? (uint8_t)(v->is_obj[d >> 3] | bit) : (uint8_t)(v->is_obj[d >> 3] & ~bit);
}

/* Consumes `"key" :` and the whitespace after it. */
static int vs_key(json_vs_t *v) {
    if (v->i >= v->n || v->p[v->i] != '"')
        return SB_EPROTO;
    size_t e = json_scan_string(v->p, v->n, v->i);
    if (e == 0)
        return SB_EPROTO;
    e = json_skip_ws(v->p, v->n, e);
    if (e >= v->n || v->p[e] != ':')
        return SB_EPROTO;
    v->i = json_skip_ws(v->p, v->n, e + 1);
    return SB_OK;
}

/* Consumes the start of a value. Returns 1 when it opened a non-empty
 * container (another value comes next), 0 when a whole value was consumed. */
static int vs_value(json_vs_t *v) {
    if (v->i >= v->n)
        return SB_EPROTO;
    char c = v->p[v->i];
    if (c != '[' && c != '{') {
        size_t e = json_scan_scalar(v->p, v->n, v->i);
        if (e == 0)
            return SB_EPROTO;
        v->i = e;
        return 0;
    }
    if (v->depth >= v->max_depth)
        return SB_EDEPTH;
    v->i = json_skip_ws(v->p, v->n, v->i + 1);
    if (v->i < v->n && v->p[v->i] == (c == '[' ? ']' : '}')) {
        v->i++;
        return 0;
    }
    vs_push(v, c == '{');
    if (c == '{') {
        int rc = vs_key(v);
        if (rc < 0)
            return rc;
    }
    return 1;
}

/* After a whole value: consumes closing brackets and at most one comma.
 * Returns 1 when a value must follow, 0 when the document ended cleanly. */
static int vs_after(json_vs_t *v) {
    for (;;) {
        v->i = json_skip_ws(v->p, v->n, v->i);
        if (v->depth == 0)
            return v->i == v->n ? 0 : SB_EPROTO;
        if (v->i >= v->n)
            return SB_EPROTO;
        char c = v->p[v->i++];
        bool obj = vs_top_is_obj(v);
        if (c == ',') {
            v->i = json_skip_ws(v->p, v->n, v->i);
            int rc = obj ? vs_key(v) : SB_OK;
            return rc < 0 ? rc : 1;
        }
        if (c != (obj ? '}' : ']'))
            return SB_EPROTO;
        v->depth--;
    }
}

int sb_json_validate(const char *p, size_t n, int max_depth) {
    json_vs_t v = {.p = p, .n = n};
    v.max_depth = max_depth < 0 ? 0 : max_depth > SB_JSON_DEPTH_MAX ? SB_JSON_DEPTH_MAX : max_depth;
    v.i = json_skip_ws(p, n, 0);
    for (;;) {
        int rc = vs_value(&v);
        if (rc < 0)
            return rc;
        if (rc == 1)
            continue;
        rc = vs_after(&v);
        if (rc <= 0)
            return rc;
    }
}

/* ---- Skipping over validated text ---------------------------------------- */
/* These trust the text's structure but clamp every index to n. */

static size_t json_skip_string(const char *p, size_t n, size_t i) {
    for (i++; i < n; i++) {
        if (p[i] == '\\')
            i++;
        else if (p[i] == '"')
            return i + 1;
    }
    return n;
}

static bool json_is_delim(char c) {
    return json_is_ws(c) || c == ',' || c == ':' || c == '[' || c == ']' || c == '{' || c == '}' ||
           c == '"';
}

/* Always consumes at least one byte, so callers' loops make progress. */
static size_t json_skip_scalar(const char *p, size_t n, size_t i) {
    if (p[i] == '"')
        return json_skip_string(p, n, i);
    size_t s = i;
    while (i < n && !json_is_delim(p[i]))
        i++;
    return i == s ? i + 1 : i;
}

static size_t json_skip_value(const char *p, size_t n, size_t i) {
    if (i >= n)
        return n;
    if (p[i] != '[' && p[i] != '{')
        return json_skip_scalar(p, n, i);
    size_t depth = 0;
    while (i < n) {
        char c = p[i];
        if (c == '"') {
            i = json_skip_string(p, n, i);
            continue;
        }
        if (c == '[' || c == '{')
            depth++;
        else if ((c == ']' || c == '}') && --depth == 0)
            return i + 1;
        i++;
    }
    return n;
}

/* ---- Queries on validated values ----------------------------------------- */

sb_json_type_t sb_json_type(sb_str_t value) {
    size_t i = json_skip_ws(value.p, value.n, 0);
    if (i >= value.n)
        return SB_JSON_NULL;
    switch (value.p[i]) {
    case 'n':
        return SB_JSON_NULL;
    case 'f':
        return SB_JSON_FALSE;
    case 't':
        return SB_JSON_TRUE;
    case '"':
        return SB_JSON_STRING;
    case '[':
        return SB_JSON_ARRAY;
    case '{':
        return SB_JSON_OBJECT;
    default:
        return SB_JSON_NUMBER;
    }
}

int sb_json_array_items(sb_str_t array, sb_str_t *items, size_t max) {
    const char *p = array.p;
    size_t n = array.n, i = json_skip_ws(p, n, 0), count = 0;
    if (i >= n || p[i] != '[')
        return SB_EPROTO;
    if (max > INT_MAX)
        max = INT_MAX;
    i = json_skip_ws(p, n, i + 1);
    if (i < n && p[i] == ']')
        return 0;
    while (i < n) {
        if (count == max)
            return SB_ETOOBIG;
        size_t e = json_skip_value(p, n, i);
        items[count++] = sb_str(p + i, e - i);
        i = json_skip_ws(p, n, e);
        if (i >= n || p[i] != ',')
            break;
        i = json_skip_ws(p, n, i + 1);
    }
    return (int)count;
}

int sb_json_object_get(sb_str_t object, sb_str_t key, sb_str_t *value) {
    const char *p = object.p;
    size_t n = object.n, i = json_skip_ws(p, n, 0);
    if (i >= n || p[i] != '{')
        return SB_ENOTFOUND;
    i = json_skip_ws(p, n, i + 1);
    while (i < n && p[i] == '"') {
        size_t ke = json_skip_string(p, n, i);
        sb_str_t k = sb_str(p + i, ke - i);
        i = json_skip_ws(p, n, ke);
        if (i >= n || p[i] != ':')
            return SB_ENOTFOUND;
        i = json_skip_ws(p, n, i + 1);
        size_t ve = json_skip_value(p, n, i);
        if (sb_json_string_eq(k, key)) {
            *value = sb_str(p + i, ve - i);
            return SB_OK;
        }
        i = json_skip_ws(p, n, ve);
        if (i >= n || p[i] != ',')
            break;
        i = json_skip_ws(p, n, i + 1);
    }
    return SB_ENOTFOUND;
}

/* ---- Flat objects: every member a string ------------------------------------ */

/* The escape at p[i] (a backslash) in a flat string; the index past it, or 0
 * when it is bad or a surrogate without its pair (which strict parsers refuse). */
static size_t json_flat_escape(const char *p, size_t n, size_t i) {
    if (n - i < 2 || p[i + 1] != 'u')
        return json_scan_escape(p, n, i);
    long cp = json_hex4(p, n, i + 2);
    if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return 0;
    if (cp < 0xD800 || cp > 0xDBFF)
        return i + 6;
    long lo = n - i >= 12 && p[i + 6] == '\\' && p[i + 7] == 'u' ? json_hex4(p, n, i + 8) : -1;
    return lo >= 0xDC00 && lo <= 0xDFFF ? i + 12 : 0;
}

/* The string token at p[i] (a quote): the index past it, or 0 when bad.
 * *escaped tells whether it holds an escape. */
static size_t json_flat_string(const char *p, size_t n, size_t i, bool *escaped) {
    *escaped = false;
    for (i++; i < n;) {
        i += sb_json_plain_len(p + i, n - i);
        if (i == n)
            return 0;
        uint8_t c = (uint8_t)p[i];
        if (c == '"')
            return i + 1;
        size_t next = 0;
        if (c == '\\') {
            *escaped = true;
            next = json_flat_escape(p, n, i);
        } else if (c >= 0x80) {
            size_t len = sb_json_utf8_len((const uint8_t *)p + i, n - i);
            next = len ? i + len : 0;
        }
        if (next == 0) /* a bad escape or byte, or a raw control character */
            return 0;
        i = next;
    }
    return 0;
}

/* One "key": "value" at p[*i]; false when it is anything else. */
static bool json_flat_member(const char *p, size_t n, size_t *i, sb_json_member_t *m) {
    bool escaped;
    size_t ke = *i < n && p[*i] == '"' ? json_flat_string(p, n, *i, &escaped) : 0;
    if (!ke || escaped)
        return false;
    m->key = sb_str(p + *i + 1, ke - *i - 2);
    size_t v = json_skip_ws(p, n, ke);
    if (v >= n || p[v] != ':')
        return false;
    v = json_skip_ws(p, n, v + 1);
    size_t ve = v < n && p[v] == '"' ? json_flat_string(p, n, v, &m->escaped) : 0;
    if (!ve)
        return false;
    m->value = sb_str(p + v, ve - v);
    *i = json_skip_ws(p, n, ve);
    return true;
}

int sb_json_flat_object(sb_str_t text, sb_json_member_t *out, size_t max) {
    const char *p = text.p;
    size_t n = text.n, i = json_skip_ws(p, n, 0), count = 0;
    if (i >= n || p[i] != '{')
        return SB_EPROTO;
    i = json_skip_ws(p, n, i + 1);
    if (i < n && p[i] == '}')
        return json_skip_ws(p, n, i + 1) == n ? 0 : SB_EPROTO;
    for (;;) {
        sb_json_member_t m;
        if (!json_flat_member(p, n, &i, &m))
            return SB_EPROTO;
        if (count == max)
            return SB_ETOOBIG;
        out[count++] = m;
        if (i < n && p[i] == '}')
            return json_skip_ws(p, n, i + 1) == n ? (int)count : SB_EPROTO;
        if (i >= n || p[i] != ',' || count > INT_MAX - 1)
            return SB_EPROTO;
        i = json_skip_ws(p, n, i + 1);
    }
}

/* ---- String tokens ------------------------------------------------------- */

static bool json_is_token(sb_str_t t) { return t.n >= 2 && t.p[0] == '"' && t.p[t.n - 1] == '"'; }

/* Decodes \uXXXX (p[*i] is the first hex digit), pairing surrogates. */
static size_t json_str_unicode(const char *p, size_t end, size_t *i, char u[4]) {
    long cp = json_hex4(p, end, *i);
    if (cp < 0) {
        *i = end; /* only reachable on text that was not validated */
        return json_utf8_put(0xFFFD, u);
    }
    *i += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF && end - *i >= 6 && p[*i] == '\\' && p[*i + 1] == 'u') {
        long lo = json_hex4(p, end, *i + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            *i += 6;
        }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD;
    return json_utf8_put((uint32_t)cp, u);
}

/* Decodes the character at p[*i] (*i < end, end = index of the closing quote)
 * into UTF-8 bytes in u; returns their count and advances *i. Raw bytes are
 * passed through one at a time. */
static size_t json_str_next(const char *p, size_t end, size_t *i, char u[4]) {
    if (p[*i] != '\\' || end - *i < 2) {
        u[0] = p[(*i)++];
        return 1;
    }
    char e = p[*i + 1];
    *i += 2;
    switch (e) {
    case 'b':
        u[0] = '\b';
        return 1;
    case 'f':
        u[0] = '\f';
        return 1;
    case 'n':
        u[0] = '\n';
        return 1;
    case 'r':
        u[0] = '\r';
        return 1;
    case 't':
        u[0] = '\t';
        return 1;
    case 'u':
        return json_str_unicode(p, end, i, u);
    default:
        u[0] = e;
        return 1; /* '"', '\\' and '/' stand for themselves */
    }
}

bool sb_json_string_eq(sb_str_t token, sb_str_t raw) {
    if (!json_is_token(token))
        return false;
    size_t i = 1, end = token.n - 1, k = 0;
    while (i < end) {
        char u[4];
        size_t m = json_str_next(token.p, end, &i, u);
        if (raw.n - k < m || memcmp(raw.p + k, u, m) != 0)
            return false;
        k += m;
    }
    return k == raw.n;
}

int sb_json_string_unescape(sb_str_t token, char *out, size_t cap, size_t *out_n) {
    if (!json_is_token(token))
        return SB_EINVAL;
    size_t i = 1, end = token.n - 1, k = 0;
    *out_n = 0;
    while (i < end) {
        char u[4];
        size_t m = json_str_next(token.p, end, &i, u);
        if (cap - k < m)
            return SB_ETOOBIG;
        memcpy(out + k, u, m);
        k += m;
        *out_n = k;
    }
    return SB_OK;
}

/* Appends len bytes at *k, or only counts them when out is NULL. */
static void json_escape_ctl(char *out, size_t *k, uint8_t c) {
    const char *shorts = NULL;
    switch (c) {
    case '\b':
        shorts = "\\b";
        break;
    case '\f':
        shorts = "\\f";
        break;
    case '\n':
        shorts = "\\n";
        break;
    case '\r':
        shorts = "\\r";
        break;
    case '\t':
        shorts = "\\t";
        break;
    default:
        break;
    }
    if (shorts) {
        sb_put(out, k, shorts, 2);
        return;
    }
    char u[7] = {'\\', 'u', '0', '0'};
    sb_hex_encode(&c, 1, u + 4);
    sb_put(out, k, u, 6);
}

static size_t json_escape_into(sb_str_t s, char *out) {
    size_t k = 0, i = 0;
    sb_put(out, &k, "\"", 1);
    while (i < s.n) {
        uint8_t c = (uint8_t)s.p[i];
        if (c >= 0x80) {
            size_t len = sb_json_utf8_len((const uint8_t *)s.p + i, s.n - i);
            if (len)
                sb_put(out, &k, s.p + i, len);
            else
                sb_put(out, &k, "\xEF\xBF\xBD", 3);
            i += len ? len : 1;
            continue;
        }
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(out, &k, e, 2);
        } else if (c < 0x20) {
            json_escape_ctl(out, &k, c);
        } else {
            sb_put(out, &k, s.p + i, 1);
        }
        i++;
    }
    sb_put(out, &k, "\"", 1);
    return k;
}

/* Printable ASCII but '"' and '\\': copied as it is. */
static bool json_plain(uint8_t c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

/* True when no byte of w needs a look: all ASCII, none below 0x20, no
 * quote, no backslash. The tests for a byte below n are exact about
 * whether one is there (not which), which is all this asks. */
static bool json_word_plain(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t below_space = (w - ones * 0x20) & ~w;
    uint64_t quote = (q - ones) & ~q, backslash = (b - ones) & ~b;
    return ((w | below_space | quote | backslash) & high) == 0;
}

size_t sb_json_plain_len(const char *s, size_t n) {
    size_t i = 0;
    for (uint64_t w; n - i >= 8 && (memcpy(&w, s + i, 8), json_word_plain(w));)
        i += 8;
    while (i < n && json_plain((uint8_t)s[i]))
        i++;
    return i;
}

size_t sb_json_string_escape(sb_str_t s, char *out, size_t cap) {
    if (sb_json_plain_len(s.p, s.n) == s.n) { /* every event name, every id: nothing to escape */
        if (s.n + 2 <= cap && out) {
            out[0] = '"';
            if (s.n)
                memcpy(out + 1, s.p, s.n);
            out[s.n + 1] = '"';
        }
        return s.n + 2;
    }
    size_t need = json_escape_into(s, NULL);
    if (need <= cap && out)
        json_escape_into(s, out);
    return need;
}

/* ---- Lexer --------------------------------------------------------------- */

void sb_json_lexer_init(sb_json_lexer_t *lx, sb_str_t text) {
    lx->_p = text.p;
    lx->_n = text.n;
    lx->_off = 0;
}

int sb_json_lexer_next(sb_json_lexer_t *lx, sb_json_token_t *tok) {
    size_t i = json_skip_ws(lx->_p, lx->_n, lx->_off);
    lx->_off = i;
    if (i >= lx->_n) {
        tok->kind = 0;
        tok->text = SB_STR_NULL;
        return 0;
    }
    char c = lx->_p[i];
    size_t e;
    switch (c) {
    case '{':
    case '}':
    case '[':
    case ']':
    case ':':
    case ',':
        tok->kind = c;
        e = i + 1;
        break;
    default:
        tok->kind = 'v';
        e = json_skip_scalar(lx->_p, lx->_n, i);
        break;
    }
    tok->text = sb_str(lx->_p + i, e - i);
    lx->_off = e;
    return 1;
}
