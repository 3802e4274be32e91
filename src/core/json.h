/* A pure JSON scanner: validates text, classifies values and slices arrays and
 * objects into raw spans without building a tree. Nothing here allocates; every
 * slice points into the caller's buffer and is valid as long as that buffer. The
 * hot path (Socket.IO packets) only needs to check, route and forward JSON, so a
 * full DOM is left to a real JSON library where the content must be read. */
#ifndef SB_CORE_JSON_H
#define SB_CORE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* Hard ceiling on nesting, whatever max_depth a caller asks for: the validator
 * keeps one bit per open container on its stack, so this bounds its frame. */
#define SB_JSON_DEPTH_MAX 1024

/* Validates that p[0..n) is exactly one JSON value (RFC 8259) with optional
 * surrounding whitespace (space, tab, CR, LF). Strings must be valid UTF-8
 * (no overlong forms, no encoded surrogates, nothing above U+10FFFF) with no
 * raw control characters; escapes are \" \\ \/ \b \f \n \r \t and \uXXXX with
 * exactly four hex digits. Escaped lone surrogates (\uD800) are accepted, as
 * JSON.parse accepts them. Numbers follow the RFC grammar exactly.
 * Depth counts open containers: "1" has depth 0, "[1]" depth 1, "[{}]" depth 2.
 * max_depth is clamped to SB_JSON_DEPTH_MAX; max_depth <= 0 allows only scalars.
 * Returns SB_OK, SB_EDEPTH if nesting passes max_depth, or SB_EPROTO for any
 * other defect. Iterative: runs in O(n) time and constant stack. */
int sb_json_validate(const char *p, size_t n, int max_depth);

typedef enum {
    SB_JSON_NULL,
    SB_JSON_FALSE,
    SB_JSON_TRUE,
    SB_JSON_NUMBER,
    SB_JSON_STRING,
    SB_JSON_ARRAY,
    SB_JSON_OBJECT
} sb_json_type_t;

/* Returns the type of an already-validated value, judged by its first
 * non-whitespace byte. An empty or blank span reports SB_JSON_NULL. */
sb_json_type_t sb_json_type(sb_str_t value);

/* Splits an already-validated JSON array (surrounding whitespace allowed) into
 * the raw spans of its top-level items, whitespace trimmed, in order. Writes at
 * most `max` spans into items (which may be NULL when max is 0). Returns the item
 * count, SB_ETOOBIG if the array has more than `max` items (items[0..max) are
 * then filled), or SB_EPROTO if `array` is not an array. Spans point into
 * array.p. Never reads outside `array`, even when it was not validated. */
int sb_json_array_items(sb_str_t array, sb_str_t *items, size_t max);

/* Finds member `key` (raw bytes, compared with each key after unescaping it) in
 * an already-validated object and stores the raw span of its value, whitespace
 * trimmed, in *value. On duplicate keys the first match wins. Only the top level
 * is searched. Returns SB_OK, or SB_ENOTFOUND (also when `object` is not an
 * object). *value points into object.p. */
int sb_json_object_get(sb_str_t object, sb_str_t key, sb_str_t *value);

/* A member of a flat object: its key's bytes (between the quotes, never
 * escaped), its value's string token (quotes included) and whether that
 * token holds an escape (else its bytes between the quotes are the text). */
typedef struct {
    sb_str_t key;
    sb_str_t value;
    bool escaped;
} sb_json_member_t;

/* Reads text (not validated beforehand) as one JSON object, with optional
 * surrounding whitespace, whose every member is a string with an unescaped
 * key, the strings held to sb_json_validate's rules and, as strict parsers
 * (jansson) do, without an escaped surrogate that is not half of a pair.
 * Writes its members in order into out (duplicates as they come). Returns
 * the member count, SB_ETOOBIG when there are more than `max`, or SB_EPROTO
 * for any other text, valid JSON included (a nested value, a number, an
 * escaped key): a caller then reads it with a full parser. A hot event's
 * arguments are read here without building a tree. Never reads outside text. */
int sb_json_flat_object(sb_str_t text, sb_json_member_t *out, size_t max);

/* Unescapes a validated JSON string token, quotes included, into out as UTF-8.
 * Surrogate pairs are combined; lone surrogates become U+FFFD. Does not write a
 * NUL. Returns SB_OK with *out_n set, SB_ETOOBIG if the text needs more than
 * `cap` bytes (out then holds a prefix), or SB_EINVAL if token is not quoted. */
int sb_json_string_unescape(sb_str_t token, char *out, size_t cap, size_t *out_n);

/* Writes s as a JSON string token with quotes. '"', '\\' and control bytes are
 * escaped (\b \f \n \r \t, else \u00XX); bytes that are not valid UTF-8 are
 * replaced by U+FFFD so the output is always valid JSON. Returns the number of
 * bytes the token needs; writes (without a NUL) only when that fits in `cap`,
 * otherwise leaves out untouched, so a caller can size a buffer with cap 0. */
size_t sb_json_string_escape(sb_str_t s, char *out, size_t cap);

/* The length of the longest prefix of s[0..n) that a JSON string holds as
 * it is: printable ASCII but '"' and '\\'. Eight bytes a step. */
size_t sb_json_plain_len(const char *s, size_t n);

/* Returns the length (1..4) of the well-formed UTF-8 sequence at s[0..avail)
 * (avail >= 1), or 0 if it is malformed, overlong, a surrogate or above
 * U+10FFFF: the rule every JSON string here is held to. */
size_t sb_json_utf8_len(const uint8_t *s, size_t avail);

/* ---- Token walk over validated JSON -------------------------------------- */

/* Walks an already-validated JSON text token by token, without recursion.
 * Embeddable; fields are private; initialise with sb_json_lexer_init. */
typedef struct {
    const char *_p;
    size_t _n, _off;
} sb_json_lexer_t;

typedef struct {
    /* One of '{' '}' '[' ']' ':' ',' for punctuation, 'v' for a scalar
     * (string, number or literal: classify it with sb_json_type), or 0 at the
     * end of the text. */
    char kind;
    sb_str_t text; /* the token's raw bytes in the lexer's buffer */
} sb_json_token_t;

void sb_json_lexer_init(sb_json_lexer_t *lx, sb_str_t text);

/* Stores the next token in *tok. Returns 1 for a token, 0 at the end. On text
 * that was not validated the tokens may be meaningless, but no byte outside
 * the text is ever read. */
int sb_json_lexer_next(sb_json_lexer_t *lx, sb_json_token_t *tok);

/* Compares a validated JSON string token (quotes included) with raw bytes
 * after unescaping it, without any buffer. Returns true when equal. */
bool sb_json_string_eq(sb_str_t token, sb_str_t raw);

#endif
