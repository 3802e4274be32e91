/* Pure HTTP/1.1 request codec (RFC 9112): the request head parser, chunked body decoder and the
 * small helpers the routers need (header lookup, token lists, Content-Length, query strings,
 * percent-decoding, reason phrases). Nothing here allocates, logs, reads a clock or does I/O:
 * bytes come in, slices and caller-provided buffers go out. */
#ifndef SB_HTTP_PARSER_H
#define SB_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/str.h"

/* ---- request head ------------------------------------------------------------------------- */

typedef struct {
    sb_str_t name, value; /* value has its leading and trailing SP/HT removed */
} sb_http_header_t;

typedef struct {
    size_t max_request_line; /* bytes of the request line without its CRLF; longer -> 414 */
    size_t max_head_bytes;   /* bytes of the whole head including the final CRLFCRLF; more -> 431 */
    size_t max_headers;      /* header fields accepted; must be <= the caller array's capacity */
} sb_http_limits_t;

typedef struct {
    sb_str_t method;   /* case-sensitive token, e.g. "GET" */
    sb_str_t target;   /* "/path?query" (origin-form) or "*" (only with OPTIONS) */
    sb_str_t path;     /* target up to the first '?' (still percent-encoded) */
    sb_str_t query;    /* after the first '?', without it; {NULL,0} when the target has no '?' */
    int minor_version; /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
    sb_http_header_t *headers; /* the caller's array */
    size_t num_headers;
    int error_status; /* 0 unless the parse failed: then 400, 414, 431 or 505 */
} sb_http_request_t;

/* Parses one request head from p[0..n). The parser keeps no state: on SB_EAGAIN call it again
 * with the same start and more bytes.
 *
 * Returns the bytes consumed (>0, through the blank line that ends the head) when the head is
 * complete; SB_EAGAIN when p[0..n) is a strict prefix of a head that could still be valid and
 * fit the limits; SB_EPROTO on bad syntax (req->error_status 400, or 505 for a well-formed
 * version other than HTTP/1.0 and HTTP/1.1); SB_ETOOBIG when a limit is exceeded (414 for the
 * request line, 431 for the head size or the header count). Limits are enforced on incomplete
 * input too, so a slowloris head fails as soon as it is too long.
 *
 * Strictness: CRLF line endings only (a bare CR or bare LF is 400); exactly one SP between the
 * request-line parts; the target is origin-form or "*" for OPTIONS (absolute-form and
 * authority-form are 400), made of visible ASCII except '#'; header names are tokens directly
 * followed by ':'; obsolete line folding is 400; values may hold SP, HT, VCHAR and obs-text
 * (0x80-0xFF) but no other control byte. Empty lines before the request line are skipped
 * (RFC 9112 section 2.2) and count towards the consumed bytes and max_head_bytes.
 *
 * All slices in *req and `headers` point into p and stay valid while p does. `headers` must
 * hold lim->max_headers entries. On errors and SB_EAGAIN the other fields of *req are
 * unspecified. */
ssize_t sb_http_request_parse(const char *p, size_t n, sb_http_request_t *req,
                              sb_http_header_t *headers, const sb_http_limits_t *lim);

/* Returns the value of the first header named `name` (ASCII case-insensitive), or NULL. The
 * pointer is into r->headers. */
const sb_str_t *sb_http_header_get(const sb_http_request_t *r, sb_str_t name);

/* Returns how many header fields are named `name` (to reject duplicate Content-Length/Host). */
size_t sb_http_header_count(const sb_http_request_t *r, sb_str_t name);

/* Returns true if the comma-separated list `value` has an element equal to `token`, comparing
 * ASCII case-insensitively after trimming SP/HT ("keep-alive, Upgrade" has "upgrade"). */
bool sb_http_token_list_has(sb_str_t value, sb_str_t token);

/* Parses a Content-Length value: 1*DIGIT, no sign, no whitespace, no list. Returns SB_OK and
 * sets *out, SB_EPROTO if malformed (including empty), SB_ETOOBIG if the number is greater
 * than `max` (including numbers that do not fit in 64 bits). *out is untouched on error. */
int sb_http_content_length_parse(sb_str_t v, uint64_t max, uint64_t *out);

/* ---- chunked transfer coding -------------------------------------------------------------- */

#define SB_HTTP_CHUNK_EXT_MAX 256 /* bytes of extensions after one chunk size */
#define SB_HTTP_TRAILER_MAX 4096  /* bytes of the whole trailer section */

/* Decoder state: embed it and zero-initialize it before the first call; fields are private. */
typedef struct {
    uint8_t _state;
    uint8_t _digits;
    uint16_t _ext;
    uint32_t _trailer;
    uint64_t _left;  /* data bytes still due in the current chunk */
    uint64_t _total; /* decoded body bytes so far */
    int _err;        /* sticky error once a call failed */
} sb_http_chunked_t;

/* Decodes the chunked body bytes in buf[0..n) in place: the payload is written to the start of
 * buf and *out_len is set to the payload bytes this call produced (always <= the return value).
 *
 * Returns the bytes of input consumed, which is n unless the body ends inside buf: then it is
 * the bytes through the CRLF that ends the trailer section, sb_http_chunked_done() becomes
 * true and buf[ret..n) (untouched) belongs to whatever follows the body. Once done, further
 * calls return 0. Chunk extensions and trailer fields are checked for stray control bytes and
 * then skipped.
 *
 * Errors (sticky; *out_len and buf are then unspecified): SB_EPROTO for a bad or missing hex
 * size, a size that needs more than 16 hex digits or overflows, a missing CRLF or a bare CR/LF
 * or NUL; SB_ETOOBIG when the decoded body would exceed max_body (reported as soon as a chunk
 * size announces it), extensions longer than SB_HTTP_CHUNK_EXT_MAX or trailers longer than
 * SB_HTTP_TRAILER_MAX. */
ssize_t sb_http_chunked_decode(sb_http_chunked_t *st, char *buf, size_t n, size_t *out_len,
                               uint64_t max_body);

/* Returns true once the last chunk and the trailer section have been consumed. */
bool sb_http_chunked_done(const sb_http_chunked_t *st);

/* ---- query strings and percent-encoding --------------------------------------------------- */

/* Percent-decodes `in` into out[0..cap) ('+' stays '+'). Returns SB_OK and sets *out_n,
 * SB_EPROTO on a '%' not followed by two hex digits, SB_ETOOBIG if the result does not fit.
 * The output is not NUL-terminated and may contain any byte, including NUL. */
int sb_http_percent_decode(sb_str_t in, char *out, size_t cap, size_t *out_n);

/* Finds the first `key` in an application/x-www-form-urlencoded `query` ("a=1&b=x+y"); keys are
 * compared after decoding. Decodes its value (percent escapes, '+' -> SP) into out[0..cap) and
 * sets *out_n; a key without '=' has an empty value. Returns false if the key is missing, the
 * value has a malformed escape, or it does not fit in cap. Not NUL-terminated. */
bool sb_http_query_get(sb_str_t query, sb_str_t key, char *out, size_t cap, size_t *out_n);

/* ---- responses ---------------------------------------------------------------------------- */

/* Returns the static reason phrase for `status` ("Not Found"), or "Unknown" (never NULL). */
const char *sb_http_status_reason(int status);

#endif
