#include "core/strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* A key record: its length in 2 bytes, then its bytes. */
static size_t key_len(const unsigned char *rec) {
    uint16_t n;
    memcpy(&n, rec, sizeof n);
    return n;
}

static sb_str_t key_of(const void *rec) { return sb_str((const char *)rec + 2, key_len(rec)); }

void sb_strset_init(sb_strset_t *s) { *s = (sb_strset_t){0}; }

static bool free_key(void *rec, void *ud) {
    sb_slab_free(ud, rec, 2 + key_len(rec));
    return true;
}

void sb_strset_dispose(sb_strset_t *s) {
    sb_ptable_foreach(&s->_table, free_key, s->_keys);
    sb_ptable_dispose(&s->_table);
    if (s->_keys)
        sb_slab_dispose(s->_keys);
    free(s->_keys);
    sb_strset_init(s);
}

bool sb_strset_has(const sb_strset_t *s, sb_str_t key) {
    return sb_ptable_find(&s->_table, key, key_of) != NULL;
}

int sb_strset_add(sb_strset_t *s, sb_str_t key) {
    if (key.n > SB_STRSET_MAX_KEY || (key.n && !key.p))
        return SB_EINVAL;
    if (sb_strset_has(s, key))
        return SB_OK;
    if (!s->_keys && (s->_keys = malloc(sizeof *s->_keys)) != NULL)
        sb_slab_init(s->_keys);
    unsigned char *rec = s->_keys ? sb_slab_alloc(s->_keys, 2 + key.n) : NULL;
    if (!rec)
        return SB_ENOMEM;
    uint16_t n = (uint16_t)key.n;
    memcpy(rec, &n, sizeof n);
    if (key.n)
        memcpy(rec + 2, key.p, key.n);
    if (sb_ptable_add(&s->_table, rec, key_of) != SB_OK) {
        free_key(rec, s->_keys);
        return SB_ENOMEM;
    }
    return SB_OK;
}

bool sb_strset_del(sb_strset_t *s, sb_str_t key) {
    void *rec = sb_ptable_find(&s->_table, key, key_of);
    if (!rec)
        return false;
    sb_ptable_remove(&s->_table, rec, key_of);
    free_key(rec, s->_keys);
    return true;
}

typedef struct {
    bool (*cb)(sb_str_t key, void *ud);
    void *ud;
} visit_t;

static bool visit_key(void *rec, void *ud) {
    const visit_t *v = ud;
    return v->cb(key_of(rec), v->ud);
}

void sb_strset_foreach(const sb_strset_t *s, bool (*cb)(sb_str_t key, void *ud), void *ud) {
    visit_t v = {cb, ud};
    sb_ptable_foreach(&s->_table, visit_key, &v);
}
