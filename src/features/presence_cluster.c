/* Presence as one truth for a cluster (docs/cluster.md, "Presence"): this
 * node tells its engine of every device that comes and goes; the engine
 * counts devices per user across the nodes (in Redis) and tells every node
 * when a user comes online or goes offline anywhere, including when a dead
 * node's users are cleaned. Each node then announces the change to its own
 * sockets (presence.c), and keeps here the set of users online anywhere
 * (cluster_online) for the lists it sends, friends' presence and
 * deliveries to other nodes. A helper of presence.c and delivery.c: it
 * calls neither. */
#include <stdio.h>
#include <string.h>

#include "features/features_internal.h"

bool sb_feat_clustered(const sb_features_t *f) { return f->engine && f->engine->ops->device; }

bool sb_feat_cluster_device(sb_features_t *f, const sb_user_t *u, int delta) {
    if (!sb_feat_clustered(f))
        return false;
    sb_str_t id = sb_cstr(u->id);
    bool sent = f->engine->ops->device(f->engine, id, delta);
    if (delta > 0)
        (void)sb_strset_add(&f->cluster_online, id); /* at once: the lists include this user */
    else if (!sent && u->devices == 0)
        sb_strset_del(&f->cluster_online, id); /* Redis unreachable: nobody will say */
    return sent;
}

bool sb_features_user_online(const sb_features_t *f, const char *user_id) {
    return sb_feat_online_anywhere(f, user_id);
}

bool sb_feat_online_anywhere(const sb_features_t *f, const char *user_id) {
    if (sb_features_user_devices(f, user_id) > 0)
        return true;
    return sb_feat_clustered(f) && sb_strset_has(&f->cluster_online, sb_cstr(user_id));
}

/* Whatever the view says: a device that connected to another node a
 * moment ago, before this node heard of it, must not miss the event (its
 * node's backlog read may have run before the event was stored). */
void sb_feat_cluster_relay(sb_features_t *f, sb_stream_t st, const char *user_id, int64_t id,
                           int64_t prev, sb_str_t text) {
    sb_engine_delivery_t d = {.stream = (unsigned)st,
                              .user = sb_cstr(user_id),
                              .id = id,
                              .prev = prev,
                              .store = sb_cstr(sb_store_identity(f->cfg.store)),
                              .text = text};
    if (sb_feat_clustered(f) && f->engine->ops->relay)
        f->engine->ops->relay(f->engine, &d);
}

void sb_feat_cluster_set(sb_features_t *f, sb_str_t user, bool online) {
    if (online)
        (void)sb_strset_add(&f->cluster_online, user);
    else
        sb_strset_del(&f->cluster_online, user);
}

static bool mark_local(const sb_user_t *u, void *ud) {
    sb_features_t *f = ud;
    (void)sb_strset_add(&f->cluster_online, sb_cstr(u->id));
    return true;
}

void sb_feat_cluster_rebuild_begin(sb_features_t *f) {
    sb_strset_dispose(&f->cluster_before);
    f->cluster_before = f->cluster_online;
    sb_strset_init(&f->cluster_online);
    sb_feat_users_foreach(f, mark_local, f);
}

void sb_feat_cluster_rebuild_end(sb_features_t *f) { sb_strset_dispose(&f->cluster_before); }

void sb_feat_cluster_init(sb_features_t *f) {
    sb_strset_init(&f->cluster_online);
    sb_strset_init(&f->cluster_before);
}

void sb_feat_cluster_dispose(sb_features_t *f) {
    sb_strset_dispose(&f->cluster_online);
    sb_strset_dispose(&f->cluster_before);
}

/* ---- features.h: what the engine tells ------------------------------------------- */

void sb_features_set_engine(sb_features_t *f, sb_engine_t *engine) { f->engine = engine; }

typedef struct {
    bool (*fn)(sb_str_t user, uint32_t devices, void *ud);
    void *ud;
} local_visit_t;

static bool visit_local(const sb_user_t *u, void *ud) {
    local_visit_t *v = ud;
    return u->devices == 0 || v->fn(sb_cstr(u->id), u->devices, v->ud);
}

void sb_features_local_users(sb_features_t *f,
                             bool (*fn)(sb_str_t user, uint32_t devices, void *ud), void *ud) {
    local_visit_t v = {fn, ud};
    sb_feat_users_foreach(f, visit_local, &v);
}

size_t sb_features_cluster_online_users(const sb_features_t *f) {
    return sb_feat_clustered(f) ? sb_strset_count(&f->cluster_online) : f->users.count;
}
