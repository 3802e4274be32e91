/* Size classes over sb_pool: a class's pool is set up on first use. */
#include "core/slab.h"

#include <stdlib.h>

static sb_pool_t *class_of(sb_slab_t *s, size_t size) {
    if (size == 0 || size > SB_SLAB_MAX)
        return NULL;
    size_t i = (size - 1) / SB_SLAB_STEP, rounded = (i + 1) * SB_SLAB_STEP;
    if (size > SB_SLAB_SMALL) {
        size_t big = (size - SB_SLAB_SMALL - 1) / SB_SLAB_BIG_STEP;
        i = SB_SLAB_SMALL / SB_SLAB_STEP + big;
        rounded = SB_SLAB_SMALL + (big + 1) * SB_SLAB_BIG_STEP;
    }
    sb_pool_t *p = &s->cls[i];
    if (p->size == 0) {
        sb_pool_init(p, rounded);
        sb_pool_keep_spares(p, s->spares);
    }
    return p;
}

void sb_slab_init(sb_slab_t *s) { *s = (sb_slab_t){0}; }

void sb_slab_dispose(sb_slab_t *s) {
    for (size_t i = 0; i < sizeof s->cls / sizeof s->cls[0]; i++)
        if (s->cls[i].size)
            sb_pool_dispose(&s->cls[i]);
    sb_slab_init(s);
}

void sb_slab_keep_spares(sb_slab_t *s, size_t n) {
    s->spares = n;
    for (size_t i = 0; i < SB_SLAB_CLASSES; i++)
        if (s->cls[i].size)
            sb_pool_keep_spares(&s->cls[i], n);
}

size_t sb_slab_live(const sb_slab_t *s) {
    size_t n = 0;
    for (size_t i = 0; i < SB_SLAB_CLASSES; i++)
        n += s->cls[i].live;
    return n;
}

void *sb_slab_alloc(sb_slab_t *s, size_t size) {
    sb_pool_t *p = class_of(s, size);
    return p ? sb_pool_alloc(p) : calloc(1, size);
}

void sb_slab_free(sb_slab_t *s, void *obj, size_t size) {
    if (!obj)
        return;
    sb_pool_t *p = class_of(s, size);
    if (p)
        sb_pool_free(p, obj);
    else
        free(obj);
}
