/* A string-keyed hash map with chaining: keys are copied, values are
 * borrowed pointers. For registries owned by one thread (users online,
 * per-user state). Iteration order is unspecified. */
#ifndef SB_CORE_MAP_H
#define SB_CORE_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

typedef struct sb_map_entry sb_map_entry_t;
typedef struct {
    sb_map_entry_t **_buckets;
    size_t _nbuckets, count;
} sb_map_t;

void sb_map_init(sb_map_t *m);
/* Frees the entries (not the values). */
void sb_map_dispose(sb_map_t *m);
void *sb_map_get(const sb_map_t *m, sb_str_t key);
/* Inserts or replaces. Returns SB_OK or SB_ENOMEM. */
int sb_map_put(sb_map_t *m, sb_str_t key, void *value);
/* Removes and returns the value, or NULL. */
void *sb_map_del(sb_map_t *m, sb_str_t key);
/* Visits every entry until cb returns false; cb must not modify the map. */
void sb_map_foreach(const sb_map_t *m, bool (*cb)(sb_str_t key, void *value, void *ud), void *ud);

#endif
