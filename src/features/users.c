/* Online users by id: an open-addressing table (linear probing, deletion by
 * backward shift) of pointers to the users themselves, keyed by the id each
 * user holds. A server keeps one entry per online user, so it costs ~11
 * bytes of slots per user instead of a map entry with a copy of the key
 * (48 bytes from malloc) plus its bucket. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "features/features_internal.h"

#define SB_USERS_MIN_SLOTS 16

static size_t slot_of(const sb_user_table_t *t, sb_str_t id) {
    return (size_t)sb_str_hash(id) & (t->cap - 1);
}

static bool id_is(const sb_user_t *u, sb_str_t id) {
    return u->id_len == id.n && memcmp(u->id, id.p, id.n) == 0;
}

sb_user_t *sb_feat_user_find(const sb_features_t *f, sb_str_t id) {
    const sb_user_table_t *t = &f->users;
    if (t->count == 0)
        return NULL;
    for (size_t i = slot_of(t, id);; i = (i + 1) & (t->cap - 1)) {
        sb_user_t *u = t->slots[i];
        if (!u || id_is(u, id))
            return u;
    }
}

/* Places `u` in the first free slot of its probe sequence (never full). */
static void place(sb_user_table_t *t, sb_user_t *u) {
    size_t i = slot_of(t, sb_str(u->id, u->id_len));
    while (t->slots[i])
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = u;
}

static int resize(sb_user_table_t *t, size_t cap) {
    sb_user_t **old = t->slots;
    size_t old_cap = t->cap;
    sb_user_t **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return SB_ENOMEM;
    t->slots = slots;
    t->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            place(t, old[i]);
    free(old);
    return SB_OK;
}

int sb_feat_user_add(sb_features_t *f, sb_user_t *u) {
    sb_user_table_t *t = &f->users;
    if ((t->count + 1) * 4 > t->cap * 3 &&
        resize(t, t->cap ? t->cap * 2 : SB_USERS_MIN_SLOTS) != SB_OK)
        return SB_ENOMEM;
    place(t, u);
    t->count++;
    return SB_OK;
}

void sb_feat_user_remove(sb_features_t *f, sb_user_t *u) {
    sb_user_table_t *t = &f->users;
    size_t mask = t->cap - 1, i = slot_of(t, sb_cstr(u->id));
    while (t->slots[i] != u) {
        if (!t->slots[i])
            return; /* not in the table */
        i = (i + 1) & mask;
    }
    /* Backward shift: later entries of the run move up if the hole lies
     * between their home slot and where they sit. */
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        size_t home = slot_of(t, sb_cstr(t->slots[j]->id));
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i] = NULL;
    t->count--;
    if (t->cap > SB_USERS_MIN_SLOTS && t->count * 8 < t->cap)
        resize(t, t->cap / 2); /* on failure the larger table stays */
}

void sb_feat_users_foreach(const sb_features_t *f, bool (*cb)(const sb_user_t *u, void *ud),
                           void *ud) {
    for (size_t i = 0; i < f->users.cap; i++)
        if (f->users.slots[i] && !cb(f->users.slots[i], ud))
            return;
}

static bool free_status(sb_str_t id, void *status, void *ud) {
    free(status);
    return true;
}

void sb_feat_users_dispose(sb_features_t *f) {
    free(f->users.slots);
    memset(&f->users, 0, sizeof f->users);
    sb_map_foreach(&f->statuses, free_status, NULL);
    sb_map_dispose(&f->statuses);
}

/* ---- statuses: beside the records, which would carry a pointer each ---------------- */

const char *sb_feat_user_status(const sb_features_t *f, const sb_user_t *u) {
    return f->statuses.count ? sb_map_get(&f->statuses, sb_cstr(u->id)) : NULL;
}

int sb_feat_user_set_status(sb_features_t *f, const sb_user_t *u, const char *status) {
    char *copy = strdup(status);
    char *old = (char *)sb_feat_user_status(f, u);
    if (!copy || sb_map_put(&f->statuses, sb_cstr(u->id), copy) != SB_OK) {
        free(copy);
        return SB_ENOMEM;
    }
    free(old);
    return SB_OK;
}

void sb_feat_user_status_drop(sb_features_t *f, const sb_user_t *u) {
    if (f->statuses.count)
        free(sb_map_del(&f->statuses, sb_cstr(u->id)));
}

/* ---- queries of features.h ----------------------------------------------------------- */

size_t sb_features_online_users(const sb_features_t *f) { return f->users.count; }

uint32_t sb_features_user_devices(const sb_features_t *f, const char *user_id) {
    const sb_user_t *u = sb_feat_user_find(f, sb_cstr(user_id));
    return u ? u->devices : 0;
}
