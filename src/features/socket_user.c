/* Which user a socket is, for code beside the built-ins (an embedder's own
 * events through include/switchboard.h). */
#include "features/features_internal.h"

const char *sb_features_socket_user(const sb_features_t *f, const sb_sio_socket_t *s) {
    if (!s || sb_sio_socket_nsp(s) != f->nsp)
        return NULL;
    const sb_client_t *c = sb_sio_socket_get_data(s);
    return c && c->f == f && c->user ? c->user->id : NULL;
}
