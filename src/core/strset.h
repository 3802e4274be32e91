/* A set of byte strings, packed for very many short keys: the users online
 * anywhere in a cluster, which every node keeps (features/presence_cluster.c).
 * A pointer table (core/ptable.h) of key records from sb_slab (a 2-byte
 * length and the bytes, rounded to 8): a key of 8 bytes costs its 16-byte
 * record and about 11 bytes of table, where a chained sb_map entry costs a
 * malloc'ed entry (48 bytes with the allocator's header) and a bucket.
 * Owned by one thread, like the loop. A set may be moved by assignment (the
 * old copy is then not used again, or initialised afresh). */
#ifndef SB_CORE_STRSET_H
#define SB_CORE_STRSET_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ptable.h"
#include "core/slab.h"
#include "core/str.h"

/* Longer keys are refused (SB_EINVAL). */
#define SB_STRSET_MAX_KEY 1024u

typedef struct {
    sb_ptable_t _table; /* of key records; _table.count: the keys */
    sb_slab_t *_keys;   /* made with the first key; a pointer, so the set can move */
} sb_strset_t;

static inline size_t sb_strset_count(const sb_strset_t *s) { return s->_table.count; }

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
