/* Records of varying size (a fixed part and a name or id at its end)
 * from pools by size class. There is one such record per online user, per
 * room and per recoverable socket; from malloc each costs a header and
 * rounding to 16 bytes, and, living long among the short-lived buffers of
 * a connect storm, it pins the heap's pages after those are freed. Here
 * they pack into their own blocks by size (8-byte classes). The objects
 * made for every message and freed a batch at a time (a call, its packets)
 * overflow glibc's per-thread cache and take its slow path; from here they
 * come back from a free list. The caller gives the size again when it
 * frees (it knows its name's length). Single-threaded, like the loop. */
#ifndef SB_CORE_SLAB_H
#define SB_CORE_SLAB_H

#include <stddef.h>

#include "core/pool.h"

#define SB_SLAB_STEP 8u
#define SB_SLAB_SMALL 256u
/* Past SB_SLAB_SMALL the classes are 64 bytes apart (fewer half-used
 * blocks for the larger records: a call, a frame); larger records come
 * from calloc/free. */
#define SB_SLAB_BIG_STEP 64u
#define SB_SLAB_MAX SB_POOL_MAX_OBJECT
#define SB_SLAB_CLASSES                                                                            \
    (SB_SLAB_SMALL / SB_SLAB_STEP + (SB_SLAB_MAX - SB_SLAB_SMALL) / SB_SLAB_BIG_STEP)

typedef struct {
    /* cls[i]: records of (i + 1) * 8 bytes up to SB_SLAB_SMALL, then
     * SB_SLAB_SMALL + (i + 1 - 32) * 64 */
    sb_pool_t cls[SB_SLAB_CLASSES];
    size_t spares; /* empty blocks each class keeps (sb_slab_keep_spares); 0: 1 */
} sb_slab_t;

void sb_slab_init(sb_slab_t *s);
/* Frees every block: every record must have been freed. */
void sb_slab_dispose(sb_slab_t *s);
/* A zeroed record of `size` bytes, or NULL when out of memory. */
void *sb_slab_alloc(sb_slab_t *s, size_t size);
/* Each class keeps up to n empty blocks (sb_pool_keep_spares). */
void sb_slab_keep_spares(sb_slab_t *s, size_t n);
/* Records allocated and not freed yet. */
size_t sb_slab_live(const sb_slab_t *s);
/* Returns a record of sb_slab_alloc(s, size), the same size; NULL is ignored. */
void sb_slab_free(sb_slab_t *s, void *p, size_t size);

#endif
