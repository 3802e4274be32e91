/* Writers that size and fill with the same code: each appends at out + *k
 * and advances *k, or only advances *k when out is NULL. An encoder runs
 * once without a buffer to learn the length, then once to write. */
#ifndef SB_CORE_PUT_H
#define SB_CORE_PUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void sb_put(char *out, size_t *k, const char *s, size_t n) {
    if (out)
        memcpy(out + *k, s, n);
    *k += n;
}

/* `v` in decimal. */
static inline void sb_put_uint(char *out, size_t *k, uint64_t v) {
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sb_put(out, k, tmp + i, sizeof tmp - i);
}

#define SB_PUT_LIT(out, k, lit) sb_put((out), (k), (lit), sizeof(lit) - 1)

#endif
