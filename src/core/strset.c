#include "core/strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define MIN_CAP 16u

/* A key record: its length in 2 bytes, then its bytes. */
static size_t key_len(const unsigned char *rec) {
    uint16_t n;
    memcpy(&n, rec, sizeof n);
    return n;
}

static sb_str_t key_of(const unsigned char *rec) {
    return sb_str((const char *)rec + 2, key_len(rec));
}

static size_t home(size_t cap, sb_str_t key) { return (size_t)sb_str_hash(key) & (cap - 1); }

void sb_strset_init(sb_strset_t *s) { *s = (sb_strset_t){0}; }

static void free_key(sb_strset_t *s, unsigned char *rec) {
    sb_slab_free(s->_keys, rec, 2 + key_len(rec));
}

void sb_strset_dispose(sb_strset_t *s) {
    for (size_t i = 0; i < s->_cap; i++)
        if (s->_slots[i])
            free_key(s, s->_slots[i]);
    free(s->_slots);
    if (s->_keys)
        sb_slab_dispose(s->_keys);
    free(s->_keys);
    sb_strset_init(s);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t probe(const sb_strset_t *s, sb_str_t key) {
    size_t i = home(s->_cap, key);
    for (;;) {
        const unsigned char *rec = s->_slots[i];
        if (!rec || (key_len(rec) == key.n && memcmp(rec + 2, key.p, key.n) == 0))
            return i;
        i = (i + 1) & (s->_cap - 1);
    }
}

bool sb_strset_has(const sb_strset_t *s, sb_str_t key) {
    return s->count > 0 && s->_slots[probe(s, key)] != NULL;
}

/* Moves every key into a table of `cap` slots (a power of two, above count). */
static int resize(sb_strset_t *s, size_t cap) {
    unsigned char **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return SB_ENOMEM;
    for (size_t i = 0; i < s->_cap; i++) {
        unsigned char *rec = s->_slots[i];
        if (!rec)
            continue;
        size_t j = home(cap, key_of(rec));
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = rec;
    }
    free(s->_slots);
    s->_slots = slots;
    s->_cap = cap;
    return SB_OK;
}

int sb_strset_add(sb_strset_t *s, sb_str_t key) {
    if (key.n > SB_STRSET_MAX_KEY || (key.n && !key.p))
        return SB_EINVAL;
    /* At most three quarters full: probes stay short. */
    if ((s->count + 1) * 4 > s->_cap * 3 && resize(s, s->_cap ? s->_cap * 2 : MIN_CAP) != SB_OK)
        return SB_ENOMEM;
    size_t i = probe(s, key);
    if (s->_slots[i])
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
    s->_slots[i] = rec;
    s->count++;
    return SB_OK;
}

/* Whether slot k lies cyclically in (from, to]. */
static bool between(size_t from, size_t k, size_t to) {
    return from <= to ? from < k && k <= to : from < k || k <= to;
}

/* Empties slot i, then pulls back the keys after it whose probe passed
 * through it, so that no search stops early at the hole (no tombstones). */
static void remove_at(sb_strset_t *s, size_t i) {
    size_t mask = s->_cap - 1;
    s->_slots[i] = NULL;
    for (size_t j = (i + 1) & mask; s->_slots[j]; j = (j + 1) & mask) {
        size_t k = home(s->_cap, key_of(s->_slots[j]));
        if (between(i, k, j))
            continue; /* its home is after the hole: it stays */
        s->_slots[i] = s->_slots[j];
        s->_slots[j] = NULL;
        i = j;
    }
}

bool sb_strset_del(sb_strset_t *s, sb_str_t key) {
    if (s->count == 0 || key.n > SB_STRSET_MAX_KEY)
        return false;
    size_t i = probe(s, key);
    if (!s->_slots[i])
        return false;
    free_key(s, s->_slots[i]);
    remove_at(s, i);
    s->count--;
    /* A storm of users gone leaves no large empty table behind; a failed
     * shrink keeps the larger one. */
    if (s->_cap > MIN_CAP && s->count * 8 < s->_cap)
        (void)resize(s, s->_cap / 2);
    return true;
}

void sb_strset_foreach(const sb_strset_t *s, bool (*cb)(sb_str_t key, void *ud), void *ud) {
    for (size_t i = 0; i < s->_cap; i++)
        if (s->_slots[i] && !cb(key_of(s->_slots[i]), ud))
            return;
}
