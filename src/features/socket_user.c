/* Which user a socket is, for code beside the built-ins (an embedder's own
 * events through include/switchboard.h, the cluster's fetchSockets). */
#include "features/features_internal.h"

static const sb_user_t *user_of(const sb_features_t *f, const sb_sio_socket_t *s) {
    if (!s || sb_sio_socket_nsp(s) != f->nsp)
        return NULL;
    const sb_client_t *c = sb_sio_socket_get_data(s);
    return c && c->f == f ? c->user : NULL;
}

const char *sb_features_socket_user(const sb_features_t *f, const sb_sio_socket_t *s) {
    const sb_user_t *u = user_of(f, s);
    return u ? u->id : NULL;
}

const char *sb_features_socket_user_name(const sb_features_t *f, const sb_sio_socket_t *s) {
    const sb_user_t *u = user_of(f, s);
    return u ? sb_feat_user_name(u) : NULL;
}
