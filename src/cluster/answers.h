/* Answers gathered from several places (other nodes, local clients), each
 * with its own binary values: one JSON array whose placeholders
 * {"_placeholder":true,"num":i} all index one list of owned copies. Pure. */
#ifndef SB_CLUSTER_ANSWERS_H
#define SB_CLUSTER_ANSWERS_H

#include <jansson.h>
#include <stdbool.h>

#include "core/str.h"

#define SB_ANSWERS_MAX_ITEMS 10000 /* sockets, rooms or acks kept */
#define SB_ANSWERS_MAX_BINARY 256  /* binary values kept */

typedef struct {
    json_t *items; /* NULL after an OOM at init */
    sb_str_t *atts;
    size_t natts;
    bool truncated; /* something was left out: a bound, or OOM */
} sb_answers_t;

void sb_answers_init(sb_answers_t *a);
/* Appends `v` (borrowed; its placeholders, numbered from 0 for atts[],
 * are renumbered in place), copying atts. NULL appends null. Past a bound
 * the answer is left out (or null, when only its binary values do not fit)
 * and `truncated` set. */
void sb_answers_add(sb_answers_t *a, json_t *v, const sb_str_t *atts, size_t natts);
/* Appends each element of the array `list` (borrowed, renumbered in place),
 * whose placeholders all index atts[]. */
void sb_answers_add_all(sb_answers_t *a, json_t *list, const sb_str_t *atts, size_t natts);
void sb_answers_dispose(sb_answers_t *a);

#endif
