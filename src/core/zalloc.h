/* Zeroed memory for the objects made for every message (a call, a store
 * request, an ack awaited). glibc's calloc (2.36) always takes the arena's
 * slow path, lock included; malloc serves a small size from the thread's
 * cache, and clearing it here costs less than that path. */
#ifndef SB_CORE_ZALLOC_H
#define SB_CORE_ZALLOC_H

#include <stdlib.h>
#include <string.h>

/* n bytes whose first `zeroed` (<= n) are zero, or NULL; free() them. */
static inline void *sb_zalloc_part(size_t n, size_t zeroed) {
    void *p = malloc(n);
    /* Hides that p came from malloc: GCC turns malloc + memset into calloc. */
    __asm__("" : "+r"(p));
    if (p)
        memset(p, 0, zeroed);
    return p;
}

/* n zeroed bytes, or NULL; free() them. */
static inline void *sb_zalloc(size_t n) { return sb_zalloc_part(n, n); }

#endif
