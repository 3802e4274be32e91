/* The feature registry: the only file that knows every feature. Each
 * feature file registers its events in its init (sb_feat_register,
 * helpers.c) and may use the helpers, never this file; so the features
 * form no cycle (tests/cycles_check.sh). */
#include <stdlib.h>

#include "core/err.h"
#include "features/features_internal.h"

/* ---- lifecycle --------------------------------------------------------------------- */

static int presence_init(sb_features_t *f) {
    sb_feat_presence_init(f);
    sb_feat_cluster_init(f);
    return SB_OK;
}

static void presence_dispose(sb_features_t *f) {
    sb_feat_presence_dispose(f);
    sb_feat_cluster_dispose(f);
}

/* One row per feature (sb_feature_row_t), in the order they start; they
 * stop in the reverse order, and are told a user is gone in this order. */
static const sb_feature_row_t features[] = {
    {"users", NULL, sb_feat_users_dispose, NULL, NULL},
    {"devices", sb_feat_devices_init, sb_feat_devices_dispose, NULL, NULL},
    {"delivery", NULL, sb_feat_delivery_dispose, NULL, NULL},
    {"presence", presence_init, presence_dispose, NULL, sb_feat_presence_user_gone},
    {"session", sb_feat_session_init, sb_feat_session_dispose, NULL, NULL},
    {"recovery", sb_feat_recovery_init, sb_feat_recovery_dispose, NULL, NULL},
    {"chat", sb_feat_chat_init, sb_feat_chat_dispose, NULL, NULL},
    {"messages", sb_feat_messages_init, sb_feat_messages_dispose, NULL, NULL},
    {"social", sb_feat_social_init, NULL, NULL, NULL},
    {"live", sb_feat_live_init, sb_feat_live_dispose, sb_feat_live_tick, NULL},
    {"backend", sb_feat_backend_init, NULL, NULL, NULL},
};
#define SB_NFEATURES (sizeof features / sizeof features[0])

void sb_feat_rows_user_gone(const sb_feature_row_t *rows, size_t n, sb_client_t *c) {
    if (c->user->devices != 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (rows[i].user_gone)
            rows[i].user_gone(c);
}

/* A socket of the built-in namespace closed: the session lets the
 * connection go, the features hear when it was its user's last, then the
 * session frees what is left. */
static void on_disconnect(sb_sio_socket_t *s, const char *reason, void *ud) {
    sb_client_t *c = sb_sio_socket_get_data(s);
    if (!c) /* refused at connect */
        return;
    sb_feat_session_disconnect(c, reason);
    sb_feat_rows_user_gone(features, SB_NFEATURES, c);
    sb_feat_session_release(c);
}

sb_features_t *sb_features_create(sb_loop_t *loop, sb_sio_nsp_t *nsp,
                                  const sb_features_config_t *cfg) {
    sb_features_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->loop = loop;
    f->nsp = nsp;
    f->cfg = *cfg;
    sb_list_init(&f->graces);
    sb_pool_init(&f->clients, sizeof(sb_client_t));
    sb_slab_init(&f->user_records);
    sb_feat_guard_events(f, nsp);
    sb_sio_on_disconnect(nsp, on_disconnect, f);
    for (size_t i = 0; i < SB_NFEATURES; i++) {
        if (features[i].init && features[i].init(f) != SB_OK) {
            sb_features_destroy(f); /* every dispose copes with a feature never started */
            return NULL;
        }
    }
    return f;
}

void sb_features_destroy(sb_features_t *f) {
    if (!f)
        return;
    for (size_t i = SB_NFEATURES; i-- > 0;)
        if (features[i].dispose)
            features[i].dispose(f);
    sb_pool_dispose(&f->clients);
    sb_slab_dispose(&f->user_records);
    free(f);
}

int sb_features_guard(sb_features_t *f, sb_sio_nsp_t *nsp) {
    sb_feat_guard_events(f, nsp);
    return sb_feat_session_guard(f, nsp);
}

void sb_features_drain(sb_features_t *f) { f->draining = true; }

void sb_features_tick(sb_features_t *f) {
    for (size_t i = 0; i < SB_NFEATURES; i++)
        if (features[i].tick)
            features[i].tick(f);
}

const sb_features_counters_t *sb_features_counters(const sb_features_t *f) { return &f->counters; }
