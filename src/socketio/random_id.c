/* Random ids for sockets and recovery pids, apart from socket.c so that
 * recovery.c, which socket.c calls, draws pids without calling back. */
#include "socketio/sio_internal.h"

void sb_sio__random_id(sb_sio_server_t *srv, char out[SB_SIO_ID_LEN + 1]) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[SB_SIO_ID_LEN];
    /* ids double as room names, pids as bearer secrets: never guessable */
    sb_random_bytes(&srv->random, raw, sizeof raw);
    for (int i = 0; i < SB_SIO_ID_LEN; i++)
        out[i] = abc[raw[i] & 63];
    out[SB_SIO_ID_LEN] = '\0';
}
