/* A set of byte strings, packed for very many short keys: the users online
 * anywhere in a cluster, which every node keeps (features/presence_cluster.c).
 * Open addressing with linear probing over one array of pointers; each key
 * is a record of sb_slab (a 2-byte length and its bytes, rounded to 8). A
 * key of 8 bytes costs its 16-byte record and about 11 bytes of table, where
 * a chained sb_map entry costs a malloc'ed entry (48 bytes with the
 * allocator's header) and a bucket. Owned by one thread, like the loop.
 * A set may be moved by assignment (the old copy is then not used again,
 * or initialised afresh). */
#ifndef SB_CORE_STRSET_H
#define SB_CORE_STRSET_H

#include <stdbool.h>
#include <stddef.h>

#include "core/slab.h"
#include "core/str.h"

/* Longer keys are refused (SB_EINVAL). */
#define SB_STRSET_MAX_KEY 1024u

typedef struct {
    unsigned char **_slots; /* NULL: empty; else a key record */
    size_t _cap;            /* a power of two, or 0 */
    size_t count;
    sb_slab_t *_keys; /* made with the first key; a pointer, so the set can move */
} sb_strset_t;

void sb_strset_init(sb_strset_t *s);
/* Frees every key and the table; the set is empty and usable again. */
void sb_strset_dispose(sb_strset_t *s);
bool sb_strset_has(const sb_strset_t *s, sb_str_t key);
/* Adds key (copied) unless present: SB_OK, SB_ENOMEM, or SB_EINVAL for a key
 * longer than SB_STRSET_MAX_KEY. */
int sb_strset_add(sb_strset_t *s, sb_str_t key);
/* Removes key; false when it was not there. */
bool sb_strset_del(sb_strset_t *s, sb_str_t key);
/* Visits every key until cb returns false; cb must not modify the set. */
void sb_strset_foreach(const sb_strset_t *s, bool (*cb)(sb_str_t key, void *ud), void *ud);

#endif
