/* Intrusive circular doubly linked list: the node lives inside the owner, so
 * linking costs no allocation and unlinking is O(1). Get the owner back with
 * sb_container_of(). A list head is a node whose next/prev point to itself. */
#ifndef SB_CORE_LIST_H
#define SB_CORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sb_list_node {
    struct sb_list_node *next, *prev;
} sb_list_node_t;
typedef sb_list_node_t sb_list_t;

static inline void sb_list_init(sb_list_t *l) { l->next = l->prev = l; }
static inline bool sb_list_empty(const sb_list_t *l) { return l->next == l; }
/* A node that is not on any list has next == NULL (zero-initialized). */
static inline bool sb_list_linked(const sb_list_node_t *n) { return n->next != NULL; }

static inline void sb_list_push_tail(sb_list_t *l, sb_list_node_t *n) {
    n->prev = l->prev;
    n->next = l;
    l->prev->next = n;
    l->prev = n;
}

static inline void sb_list_push_head(sb_list_t *l, sb_list_node_t *n) {
    n->next = l->next;
    n->prev = l;
    l->next->prev = n;
    l->next = n;
}

static inline void sb_list_remove(sb_list_node_t *n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
}

static inline sb_list_node_t *sb_list_pop_head(sb_list_t *l) {
    if (sb_list_empty(l))
        return NULL;
    sb_list_node_t *n = l->next;
    sb_list_remove(n);
    return n;
}

#define sb_list_foreach_safe(node, tmp, list)                                                      \
    for ((node) = (list)->next, (tmp) = (node)->next; (node) != (list);                            \
         (node) = (tmp), (tmp) = (node)->next)

#endif
