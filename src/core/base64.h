/* Base64 (RFC 4648): the standard alphabet, padded (Engine.IO binary
 * packets, WebSocket keys), and the URL-safe alphabet without padding
 * (JWT). Pure: no allocation; the caller sizes the output. Decoding is
 * strict, so each byte string has exactly one accepted spelling. */
#ifndef SB_CORE_BASE64_H
#define SB_CORE_BASE64_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/str.h"

typedef enum {
    SB_BASE64_STD, /* A-Z a-z 0-9 + /, padded with '=' to a multiple of 4 */
    SB_BASE64_URL, /* A-Z a-z 0-9 - _, no padding */
} sb_base64_t;

/* The 6-bit value of `c` in the alphabet, or -1 ('=' and whitespace too). */
int sb_base64_value(char c, sb_base64_t kind);
/* Characters sb_base64_encode writes for n bytes (4 * ceil(n / 3) padded;
 * without padding the tail is 2 or 3). n must be below SIZE_MAX / 4 * 3 - 2. */
size_t sb_base64_encoded_len(size_t n, sb_base64_t kind);
/* Encodes in[0..n) into out (sb_base64_encoded_len(n) bytes; no NUL
 * written). Returns the characters written. */
size_t sb_base64_encode(const uint8_t *in, size_t n, char *out, sb_base64_t kind);
/* Decodes `in` strictly: only the alphabet's characters, no whitespace;
 * SB_BASE64_STD needs a length that is a multiple of 4 with '=' only as the
 * last one or two characters; SB_BASE64_URL takes no '=' and no length of
 * 4k + 1; the unused bits of the last character must be zero. Returns the
 * decoded length, SB_EPROTO for any defect, or SB_ETOOBIG when the result
 * would not fit in cap (checked before the characters: nothing is
 * guaranteed written then). */
ssize_t sb_base64_decode(sb_str_t in, uint8_t *out, size_t cap, sb_base64_t kind);
/* True when sb_base64_decode would accept `in` (with room enough). */
bool sb_base64_valid(sb_str_t in, sb_base64_t kind);

#endif
