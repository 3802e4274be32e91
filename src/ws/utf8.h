/* UTF-8 validation for WebSocket text messages and close reasons (RFC 6455
 * 8.1, RFC 3629). Pure: no allocation, no I/O. The incremental form follows a
 * fragmented message across frames and reports an error at the first byte
 * that no valid continuation could make legal, which is what RFC 6455 asks
 * for ("fail fast"): overlongs, surrogates and code points above U+10FFFF are
 * all rejected on the byte that rules them out. */
#ifndef SB_WS_UTF8_H
#define SB_WS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embeddable validator state; zero-initialise it (or reset it by assigning
 * (sb_utf8_t){0}) before each message. The field is private. */
typedef struct {
    uint32_t _state;
} sb_utf8_t;

/* Feeds the next `n` bytes of a stream. Returns SB_OK when everything seen so
 * far is valid UTF-8 or a valid prefix of it, SB_EUTF8 as soon as a byte makes
 * the stream invalid. Once SB_EUTF8 is returned the state stays failed and
 * every later call returns SB_EUTF8 too. `p` may be NULL when `n` is 0. */
int sb_utf8_feed(sb_utf8_t *st, const uint8_t *p, size_t n);

/* True if the bytes fed so far end on a character boundary (and never
 * failed): the check to make when the final fragment has been fed. */
bool sb_utf8_complete(const sb_utf8_t *st);

/* One-shot check: true if p[0..n) is valid and complete UTF-8. */
bool sb_utf8_valid(const uint8_t *p, size_t n);

#endif
