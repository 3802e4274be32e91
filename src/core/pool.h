/* A pool of same-size objects carved from page-aligned blocks. Every open
 * connection holds half a dozen small objects (connection, WebSocket,
 * session, client, socket, room links); from malloc each costs 8-16 bytes of
 * header and rounding, from a pool none. A block whose objects are all free
 * goes back to the allocator (one spare, or a few, kept against churn), so memory
 * follows the number of live objects. Single-threaded, like the loop. */
#ifndef SB_CORE_POOL_H
#define SB_CORE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/list.h"

#define SB_POOL_BLOCK 65536u
/* Objects larger than this are not worth pooling (few per block). */
#define SB_POOL_MAX_OBJECT 2048u

typedef struct {
    size_t size;       /* object size, rounded up to 8 bytes */
    bool direct;       /* objects come straight from calloc/free (see pool.c) */
    sb_list_t partial; /* blocks with at least one free slot */
    sb_list_t all;     /* every block, the spares included */
    void *spares;      /* empty blocks kept for reuse, chained; NULL: none */
    size_t nspares;    /* how many */
    size_t max_spares; /* at most (1 unless sb_pool_keep_spares) */
    size_t live;       /* objects handed out */
    size_t blocks;     /* blocks allocated, the spares included */
} sb_pool_t;

/* Prepares a pool of `size`-byte objects. Sizes over SB_POOL_MAX_OBJECT,
 * and every size in AddressSanitizer builds (so that it sees each object
 * with its own redzones), are served by calloc/free, transparently. */
void sb_pool_init(sb_pool_t *p, size_t size);
/* Keeps up to n (>= 1) empty blocks for reuse instead of one: a pool of
 * objects made and freed in bursts larger than a block (a batch of
 * messages' packets) would otherwise give blocks back and map them again
 * on every burst. Bounds what an idle pool holds to n blocks. */
void sb_pool_keep_spares(sb_pool_t *p, size_t n);
/* Frees every block. Objects still live are lost: free them first. */
void sb_pool_dispose(sb_pool_t *p);
/* A zeroed object, or NULL when out of memory. */
void *sb_pool_alloc(sb_pool_t *p);
/* Returns an object from sb_pool_alloc() of the same pool; NULL is ignored. */
void sb_pool_free(sb_pool_t *p, void *obj);

#endif
