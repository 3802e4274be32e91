/* A device's recovery offset as the client keeps it (`recovery:offset`),
 * told after what moves it: apart from recovery.c and recovery_rooms.c,
 * which both tell it, so they do not call each other back. */
#include <stdio.h>

#include "features/features_internal.h"

void sb_feat_recovery_mark(sb_client_t *c) {
    /* A /ws client (a carried session) has no way to present an offset. */
    if (!sb_sio_socket_pid(c->sock)[0] ||
        sb_eio_transport(sb_sio_socket_session(c->sock)) == SB_EIO_CARRIED)
        return;
    char arg[72];
    long long m = c->sent[SB_STREAM_MESSAGES], n = c->sent[SB_STREAM_NOTIFICATIONS];
    int len = c->room_sent > 0
                  ? snprintf(arg, sizeof arg, "\"%lld.%lld.%lld\"", m, n, (long long)c->room_sent)
                  : snprintf(arg, sizeof arg, "\"%lld.%lld\"", m, n);
    sb_sio_emit(c->sock, "recovery:offset", sb_str(arg, (size_t)len));
}
