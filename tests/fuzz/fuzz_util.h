/* Shared helpers for the libFuzzer drivers in tests/fuzz/. Each driver asserts
 * the invariants of one codec: a violated invariant prints what failed and
 * aborts, so libFuzzer records the input as a crash, just like a sanitizer
 * report. Header-only: every driver is its own program. */
#ifndef SB_FUZZ_UTIL_H
#define SB_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

/* Not assert(): it must stay on whatever NDEBUG says. */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant violated at %s:%d: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* True when the slice s lies entirely within base[0..n). An empty slice may
 * also sit at base + n (one past the end) or be {NULL, 0}. */
static inline bool fz_within(sb_str_t s, const void *base, size_t n) {
    const char *b = (const char *)base;
    if (s.n == 0)
        return s.p == NULL || (s.p >= b && s.p <= b + n);
    return s.p >= b && s.p <= b + n && s.n <= (size_t)(b + n - s.p);
}

/* A cursor that hands out fuzz-chosen numbers, taken from the END of the
 * input so that the bytes at the front stay a readable protocol message:
 * mutations of the "control" tail then do not disturb the message itself. */
typedef struct {
    const uint8_t *p;
    size_t n; /* bytes still available at the front for the message */
} fz_src_t;

static inline uint8_t fz_byte(fz_src_t *s) {
    if (s->n == 0)
        return 0;
    return s->p[--s->n];
}

/* A number in [lo, hi] (hi >= lo), from one or two tail bytes. */
static inline size_t fz_range(fz_src_t *s, size_t lo, size_t hi) {
    size_t span = hi - lo + 1, v = fz_byte(s);
    if (span > 256)
        v = v << 8 | fz_byte(s);
    return lo + v % span;
}

/* A private heap copy of p[0..n): ASan then catches any read one past the end
 * of it, which it would not on libFuzzer's own buffer for every split. */
static inline uint8_t *fz_dup(const void *p, size_t n) {
    uint8_t *d = malloc(n ? n : 1);
    if (!d)
        abort();
    if (n)
        memcpy(d, p, n);
    return d;
}

#endif
