/* A device's recovery offset as the client keeps it (`recovery:offset`),
 * told after what moves it: apart from recovery.c and recovery_rooms.c,
 * which both tell it, so they do not call each other back. */
#include "core/put.h"
#include "features/features_internal.h"

static uint64_t offset_part(int64_t id) { return id > 0 ? (uint64_t)id : 0; }

void sb_feat_recovery_mark(sb_client_t *c) {
    /* A /ws client (a carried session) has no way to present an offset. */
    if (!sb_sio_socket_pid(c->sock)[0] ||
        sb_eio_transport(sb_sio_socket_session(c->sock)) == SB_EIO_CARRIED)
        return;
    /* Sent to every member of a room after each stored message: no
     * snprintf (a tenth of the server's CPU in a 10,000-member room). */
    char arg[72];
    size_t k = 0;
    SB_PUT_LIT(arg, &k, "\"");
    sb_put_uint(arg, &k, offset_part(c->sent[SB_STREAM_MESSAGES]));
    SB_PUT_LIT(arg, &k, ".");
    sb_put_uint(arg, &k, offset_part(c->sent[SB_STREAM_NOTIFICATIONS]));
    if (c->room_sent > 0) {
        SB_PUT_LIT(arg, &k, ".");
        sb_put_uint(arg, &k, offset_part(c->room_sent));
    }
    SB_PUT_LIT(arg, &k, "\"");
    sb_sio_emit(c->sock, "recovery:offset", sb_str(arg, k));
}
