/* Hexadecimal digits: one implementation for the parsers (percent
 * escapes, chunk sizes, \u escapes) and for the ids and keys we print. */
#ifndef SB_CORE_HEX_H
#define SB_CORE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value 0-15 of a hex digit (either case), or -1. */
static inline int sb_hex_value(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* fold to lower case */
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Writes the 2n lower-case digits of in[0..n) and a NUL: out holds 2n + 1. */
static inline void sb_hex_encode(const uint8_t *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

#endif
