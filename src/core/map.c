#include "core/map.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

struct sb_map_entry {
    sb_map_entry_t *next;
    void *value;
    size_t key_n;
    char key[];
};

void sb_map_init(sb_map_t *m) { memset(m, 0, sizeof *m); }

void sb_map_dispose(sb_map_t *m) {
    for (size_t i = 0; i < m->_nbuckets; i++) {
        sb_map_entry_t *e = m->_buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(m->_buckets);
    memset(m, 0, sizeof *m);
}

static sb_map_entry_t **slot_of(const sb_map_t *m, sb_str_t key) {
    sb_map_entry_t **pp = &m->_buckets[sb_str_hash(key) & (m->_nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->key_n == key.n && memcmp((*pp)->key, key.p, key.n) == 0)
            break;
    return pp;
}

void *sb_map_get(const sb_map_t *m, sb_str_t key) {
    if (m->count == 0)
        return NULL;
    sb_map_entry_t *e = *slot_of(m, key);
    return e ? e->value : NULL;
}

static int grow(sb_map_t *m) {
    size_t nb = m->_nbuckets ? m->_nbuckets * 2 : 16;
    sb_map_entry_t **b = calloc(nb, sizeof *b);
    if (!b)
        return SB_ENOMEM;
    for (size_t i = 0; i < m->_nbuckets; i++) {
        sb_map_entry_t *e = m->_buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            size_t at = sb_str_hash(sb_str(e->key, e->key_n)) & (nb - 1);
            e->next = b[at];
            b[at] = e;
        }
    }
    free(m->_buckets);
    m->_buckets = b;
    m->_nbuckets = nb;
    return SB_OK;
}

int sb_map_put(sb_map_t *m, sb_str_t key, void *value) {
    if (m->count >= m->_nbuckets && grow(m) != SB_OK)
        return SB_ENOMEM;
    sb_map_entry_t **pp = slot_of(m, key);
    if (*pp) {
        (*pp)->value = value;
        return SB_OK;
    }
    sb_map_entry_t *e = malloc(sizeof *e + key.n + 1);
    if (!e)
        return SB_ENOMEM;
    e->next = NULL;
    e->value = value;
    e->key_n = key.n;
    memcpy(e->key, key.p, key.n);
    e->key[key.n] = '\0';
    *pp = e;
    m->count++;
    return SB_OK;
}

void *sb_map_del(sb_map_t *m, sb_str_t key) {
    if (m->count == 0)
        return NULL;
    sb_map_entry_t **pp = slot_of(m, key), *e = *pp;
    if (!e)
        return NULL;
    void *v = e->value;
    *pp = e->next;
    free(e);
    m->count--;
    return v;
}

void sb_map_foreach(const sb_map_t *m, bool (*cb)(sb_str_t, void *, void *), void *ud) {
    for (size_t i = 0; i < m->_nbuckets; i++)
        for (sb_map_entry_t *e = m->_buckets[i]; e; e = e->next)
            if (!cb(sb_str(e->key, e->key_n), e->value, ud))
                return;
}
