/* Fixed-size object pool: slots are carved from SB_POOL_BLOCK-aligned
 * blocks, so a slot finds its block by masking its address. A block keeps
 * its free slots on a list threaded through them, and hands out never-used
 * slots in address order (`fresh`), so a new block costs no page until its
 * slots are used. Blocks are mapped from the kernel, not malloc'd: aligned
 * malloc leaves a block-sized hole in the heap for every block. */
#include "core/pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/str.h"

#if defined(__SANITIZE_ADDRESS__)
#define SB_POOL_DIRECT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_POOL_DIRECT 1
#endif
#endif
#ifndef SB_POOL_DIRECT
#define SB_POOL_DIRECT 0
#endif

typedef struct {
    sb_list_node_t partial_node; /* on pool->partial while a slot is free; else unlinked */
    sb_list_node_t all_node;
    void *free;     /* freed slots, chained through their first word */
    uint32_t used;  /* slots handed out */
    uint32_t fresh; /* slots from this index on were never handed out */
} block_t;

#define HEADER ((sizeof(block_t) + 15) & ~(size_t)15)

static size_t capacity(const sb_pool_t *p) { return (SB_POOL_BLOCK - HEADER) / p->size; }

void sb_pool_init(sb_pool_t *p, size_t size) {
    size_t rounded = size < sizeof(void *) ? sizeof(void *) : (size + 7) & ~(size_t)7;
    *p = (sb_pool_t){
        .size = rounded, .direct = SB_POOL_DIRECT || rounded > SB_POOL_MAX_OBJECT, .max_spares = 1};
    sb_list_init(&p->partial);
    sb_list_init(&p->all);
}

void sb_pool_dispose(sb_pool_t *p) {
#ifdef SB_DEBUG
    if (p->live)
        abort(); /* an owner outlived its pool: in release builds a use after free */
#endif
    sb_list_node_t *n;
    while ((n = sb_list_pop_head(&p->all)))
        munmap(sb_container_of(n, block_t, all_node), SB_POOL_BLOCK);
    sb_list_init(&p->partial);
    p->spares = NULL;
    p->nspares = 0;
    p->blocks = 0;
}

void sb_pool_keep_spares(sb_pool_t *p, size_t n) { p->max_spares = n ? n : 1; }

/* Maps twice the block size and unmaps what lies outside the aligned block. */
static void *block_map(void) {
    size_t n = 2 * (size_t)SB_POOL_BLOCK;
    char *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *b = (char *)(((uintptr_t)m + SB_POOL_BLOCK - 1) & ~(uintptr_t)(SB_POOL_BLOCK - 1));
    if (b > m)
        munmap(m, (size_t)(b - m));
    if (b + SB_POOL_BLOCK < m + n)
        munmap(b + SB_POOL_BLOCK, (size_t)(m + n - (b + SB_POOL_BLOCK)));
    return b;
}

static block_t *block_new(sb_pool_t *p) {
    block_t *b = p->spares;
    if (b) {
        p->spares = b->free; /* a spare's free list chains the spares */
        p->nspares--;
    } else {
        b = block_map();
        if (!b)
            return NULL;
        sb_list_push_tail(&p->all, &b->all_node);
        p->blocks++;
    }
    b->free = NULL;
    b->used = b->fresh = 0;
    sb_list_push_head(&p->partial, &b->partial_node);
    return b;
}

void *sb_pool_alloc(sb_pool_t *p) {
    if (p->direct) {
        void *o = calloc(1, p->size);
        p->live += o != NULL;
        return o;
    }
    block_t *b = sb_list_empty(&p->partial)
                     ? block_new(p)
                     : sb_container_of(p->partial.next, block_t, partial_node);
    if (!b)
        return NULL;
    void *o;
    if (b->free) {
        o = b->free;
        memcpy(&b->free, o, sizeof b->free);
    } else {
        o = (char *)b + HEADER + (size_t)b->fresh++ * p->size;
    }
    b->used++;
    if (!b->free && b->fresh == capacity(p))
        sb_list_remove(&b->partial_node); /* full */
    p->live++;
    return memset(o, 0, p->size);
}

/* An empty block is kept as a spare while there are fewer than
 * max_spares, else freed. */
static void block_release(sb_pool_t *p, block_t *b) {
    sb_list_remove(&b->partial_node);
    if (p->nspares < p->max_spares) {
        b->free = p->spares;
        p->spares = b;
        p->nspares++;
        return;
    }
    sb_list_remove(&b->all_node);
    p->blocks--;
    munmap(b, SB_POOL_BLOCK);
}

void sb_pool_free(sb_pool_t *p, void *obj) {
    if (!obj)
        return;
    p->live--;
    if (p->direct) {
        free(obj);
        return;
    }
    block_t *b = (block_t *)((uintptr_t)obj & ~(uintptr_t)(SB_POOL_BLOCK - 1));
    memcpy(obj, &b->free, sizeof b->free);
    b->free = obj;
    if (!sb_list_linked(&b->partial_node))
        sb_list_push_tail(&p->partial, &b->partial_node); /* was full */
    if (--b->used == 0)
        block_release(p, b);
}
