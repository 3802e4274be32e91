/* Online users by id: a pointer table (core/ptable.h) of the users
 * themselves, keyed by the id each user holds. A server keeps one entry per
 * online user, so it costs ~11 bytes of slots per user instead of a map
 * entry with a copy of the key (48 bytes from malloc) plus its bucket. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "features/features_internal.h"

static sb_str_t id_of(const void *u) {
    const sb_user_t *user = u;
    return sb_str(user->id, user->id_len);
}

sb_user_t *sb_feat_user_find(const sb_features_t *f, sb_str_t id) {
    return sb_ptable_find(&f->users, id, id_of);
}

int sb_feat_user_add(sb_features_t *f, sb_user_t *u) { return sb_ptable_add(&f->users, u, id_of); }

void sb_feat_user_remove(sb_features_t *f, sb_user_t *u) {
    sb_ptable_remove(&f->users, u, id_of); /* not in the table: nothing happens */
}

typedef struct {
    bool (*cb)(const sb_user_t *u, void *ud);
    void *ud;
} visit_t;

static bool visit_user(void *u, void *ud) {
    const visit_t *v = ud;
    return v->cb(u, v->ud);
}

void sb_feat_users_foreach(const sb_features_t *f, bool (*cb)(const sb_user_t *u, void *ud),
                           void *ud) {
    visit_t v = {cb, ud};
    sb_ptable_foreach(&f->users, visit_user, &v);
}

static bool free_status(sb_str_t id, void *status, void *ud) {
    free(status);
    return true;
}

void sb_feat_users_dispose(sb_features_t *f) {
    sb_ptable_dispose(&f->users);
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
