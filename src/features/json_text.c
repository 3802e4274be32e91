/* Compact JSON text of a jansson value, byte for byte what
 * json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) writes, at a fraction of its
 * cost: jansson keeps a hash table of the open containers (to refuse a cycle),
 * formats every number with snprintf and grows its buffer piece by piece,
 * while every event a client gets passes through here. Two walks over the
 * value: one to size the text, one to write it into one allocation.
 * What jansson would refuse (text that is not valid UTF-8, a cycle, which
 * ends here at SB_TEXT_DEPTH_MAX) is handed to json_dumps itself, so its
 * answer, NULL included, stays the answer; real numbers are formatted by it. */
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/put.h"
#include "features/features_internal.h"

/* Deeper than any value parsed from a client (jansson stops at 2048) would
 * only be built by a cycle; jansson then says NULL. */
#define SB_TEXT_DEPTH_MAX 4096

#define SB_TEXT_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

/* jansson's escapes: '"', '\\' and the C0 controls; \u00XX in upper case. */
static void put_escape(char *out, size_t *k, uint8_t c) {
    static const char named[] = "\"\\\b\f\n\r\t", as[] = "\"\\bfnrt";
    static const char hex[] = "0123456789ABCDEF";
    const char *at = c ? memchr(named, c, sizeof named - 1) : NULL;
    if (at) {
        char e[2] = {'\\', as[at - named]};
        sb_put(out, k, e, 2);
        return;
    }
    char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    sb_put(out, k, e, 6);
}

bool sb_feat_json_put_string(char *out, size_t *k, const char *s, size_t n) {
    size_t run = 0, i = 0; /* s[run..i) is copied as it is */
    sb_put(out, k, "\"", 1);
    while (i < n) {
        i += sb_json_plain_len(s + i, n - i);
        if (i == n)
            break;
        uint8_t c = (uint8_t)s[i];
        if (c >= 0x80) {
            size_t len = sb_json_utf8_len((const uint8_t *)s + i, n - i);
            if (!len)
                return false;
            i += len;
        } else if (c < 0x20 || c == '"' || c == '\\') {
            sb_put(out, k, s + run, i - run);
            put_escape(out, k, c);
            run = ++i;
        }
    }
    sb_put(out, k, s + run, n - run);
    sb_put(out, k, "\"", 1);
    return true;
}

void sb_feat_json_put_int(char *out, size_t *k, int64_t v) {
    if (v < 0)
        sb_put(out, k, "-", 1);
    sb_put_uint(out, k, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

static bool put_value(char *out, size_t *k, const json_t *v, int depth);

static bool put_array(char *out, size_t *k, const json_t *v, int depth) {
    size_t n = json_array_size(v);
    sb_put(out, k, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_put(out, k, ",", 1);
        if (!put_value(out, k, json_array_get(v, i), depth + 1))
            return false;
    }
    sb_put(out, k, "]", 1);
    return true;
}

/* Members in insertion order: jansson's order without JSON_SORT_KEYS. */
static bool put_object(char *out, size_t *k, const json_t *v, int depth) {
    json_t *obj = (json_t *)v; /* jansson's iterators take it non-const */
    bool first = true;
    sb_put(out, k, "{", 1);
    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
        if (!first)
            sb_put(out, k, ",", 1);
        first = false;
        if (!sb_feat_json_put_string(out, k, json_object_iter_key(it),
                                     json_object_iter_key_len(it)))
            return false;
        sb_put(out, k, ":", 1);
        if (!put_value(out, k, json_object_iter_value(it), depth + 1))
            return false;
    }
    sb_put(out, k, "}", 1);
    return true;
}

/* A real as jansson formats it (its precision rules and exponent form are
 * its own): rare on the hot path, so asked of jansson itself. */
static bool put_real(char *out, size_t *k, const json_t *v) {
    char *text = json_dumps(v, SB_TEXT_FLAGS);
    if (text)
        sb_put(out, k, text, strlen(text));
    free(text);
    return text != NULL;
}

static bool put_value(char *out, size_t *k, const json_t *v, int depth) {
    if (!v || depth > SB_TEXT_DEPTH_MAX)
        return false;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return put_object(out, k, v, depth);
    case JSON_ARRAY:
        return put_array(out, k, v, depth);
    case JSON_STRING:
        return sb_feat_json_put_string(out, k, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        sb_feat_json_put_int(out, k, json_integer_value(v));
        return true;
    case JSON_TRUE:
        SB_PUT_LIT(out, k, "true");
        return true;
    case JSON_FALSE:
        SB_PUT_LIT(out, k, "false");
        return true;
    case JSON_NULL:
        SB_PUT_LIT(out, k, "null");
        return true;
    case JSON_REAL:
        return put_real(out, k, v);
    default:
        return false;
    }
}

char *sb_feat_json_text(const json_t *v, size_t *n) {
    size_t need = 0;
    char *text;
    if (!put_value(NULL, &need, v, 0)) {
        text = json_dumps(v, SB_TEXT_FLAGS);
        *n = text ? strlen(text) : 0;
        return text;
    }
    if (!(text = malloc(need + 1))) {
        *n = 0;
        return NULL;
    }
    size_t k = 0;
    put_value(text, &k, v, 0);
    text[k] = '\0';
    *n = k;
    return text;
}
