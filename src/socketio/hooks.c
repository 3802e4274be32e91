/* Reading a namespace's callbacks back, for layers that chain to them. */
#include "socketio/sio_internal.h"

void sb_sio_nsp_hooks(const sb_sio_nsp_t *nsp, sb_sio_hooks_t *out) {
    *out = (sb_sio_hooks_t){nsp->conn_fn, nsp->conn_ud, nsp->disc_fn,
                            nsp->disc_ud, nsp->any_fn,  nsp->any_ud};
}

sb_loop_t *sb_sio_nsp_loop(const sb_sio_nsp_t *nsp) { return nsp->srv->loop; }
