#include "core/ptable.h"

#include <stdlib.h>

#include "core/err.h"

#define MIN_SLOTS 16u

static size_t home(size_t cap, sb_str_t key) { return (size_t)sb_str_hash(key) & (cap - 1); }

void *sb_ptable_find(const sb_ptable_t *t, sb_str_t key, sb_ptable_key_fn key_of) {
    if (t->count == 0)
        return NULL;
    for (size_t i = home(t->cap, key);; i = (i + 1) & (t->cap - 1)) {
        void *e = t->slots[i];
        if (!e || sb_str_eq(key_of(e), key))
            return e;
    }
}

/* Places e in the first free slot of its probe run (never full). */
static void place(sb_ptable_t *t, void *e, sb_ptable_key_fn key_of) {
    size_t i = home(t->cap, key_of(e));
    while (t->slots[i])
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = e;
}

static int resize(sb_ptable_t *t, size_t cap, sb_ptable_key_fn key_of) {
    void **old = t->slots;
    size_t old_cap = t->cap;
    void **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return SB_ENOMEM;
    t->slots = slots;
    t->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            place(t, old[i], key_of);
    free(old);
    return SB_OK;
}

int sb_ptable_add(sb_ptable_t *t, void *entry, sb_ptable_key_fn key_of) {
    if ((t->count + 1) * 4 > t->cap * 3 &&
        resize(t, t->cap ? t->cap * 2 : MIN_SLOTS, key_of) != SB_OK)
        return SB_ENOMEM;
    place(t, entry, key_of);
    t->count++;
    return SB_OK;
}

bool sb_ptable_remove(sb_ptable_t *t, const void *entry, sb_ptable_key_fn key_of) {
    if (t->count == 0)
        return false;
    size_t mask = t->cap - 1, i = home(t->cap, key_of(entry));
    while (t->slots[i] != entry) {
        if (!t->slots[i])
            return false;
        i = (i + 1) & mask;
    }
    /* Backward shift: a later entry of the run moves into the hole when the
     * hole lies between its home slot and where it sits. */
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        size_t k = home(t->cap, key_of(t->slots[j]));
        if (((j - k) & mask) >= ((j - i) & mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i] = NULL;
    t->count--;
    if (t->cap > MIN_SLOTS && t->count * 8 < t->cap)
        (void)resize(t, t->cap / 2, key_of); /* on failure the larger table stays */
    return true;
}

void sb_ptable_foreach(const sb_ptable_t *t, bool (*cb)(void *entry, void *ud), void *ud) {
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i] && !cb(t->slots[i], ud))
            return;
}

void sb_ptable_dispose(sb_ptable_t *t) {
    free(t->slots);
    *t = (sb_ptable_t){0};
}
