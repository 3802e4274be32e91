/* An open-addressing table of pointers to entries that hold their own key
 * (linear probing, deletion by backward shift, no tombstones): per entry
 * one pointer's share of slots, about 11 bytes at three quarters full,
 * instead of a map entry with a copy of the key and a bucket. The table is
 * at most three quarters full and halves once under an eighth full, so it
 * follows the number of entries both ways. The online users
 * (features/users.c) and the packed string set (core/strset.c) are built
 * on it. Owned by one thread, like the loop; a table may be moved by
 * assignment. */
#ifndef SB_CORE_PTABLE_H
#define SB_CORE_PTABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

/* The key an entry holds (valid while the entry is in the table). */
typedef sb_str_t (*sb_ptable_key_fn)(const void *entry);

typedef struct {
    void **slots;
    size_t cap, count; /* cap: 0 or a power of two */
} sb_ptable_t;

/* The entry whose key is `key`, or NULL. */
void *sb_ptable_find(const sb_ptable_t *t, sb_str_t key, sb_ptable_key_fn key_of);
/* Adds entry, whose key must not be in the table yet: SB_OK or SB_ENOMEM. */
int sb_ptable_add(sb_ptable_t *t, void *entry, sb_ptable_key_fn key_of);
/* Takes entry out; false when it was not in. */
bool sb_ptable_remove(sb_ptable_t *t, const void *entry, sb_ptable_key_fn key_of);
/* Visits every entry until cb returns false; cb must not modify the table. */
void sb_ptable_foreach(const sb_ptable_t *t, bool (*cb)(void *entry, void *ud), void *ud);
/* Frees the slots (not the entries); the table is empty and usable again. */
void sb_ptable_dispose(sb_ptable_t *t);

#endif
