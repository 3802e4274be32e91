/* A client's connect deadline and the hold of a connected socket's output
 * it bounds afterwards: the one callback both client.c (at the handshake)
 * and socket.c (the hold, released at a socket's close) arm, kept apart
 * from both so that neither calls the other for it. */
#include "core/pool.h"
#include "socketio/sio_internal.h"

/* No namespace joined in time: the client goes. With one joined, the timer
 * bounded a hold of its output (sb_sio_socket_hold_output): released. */
void sb_sio__on_connect_timeout(sb_timer_t *t) {
    sb_sio_client_t *c = sb_container_of(t, sb_sio_connect_wait_t, timer)->client;
    if (!c->sockets) {
        sb_eio_close(c->eio, "connect timeout");
        return;
    }
    sb_sio__client_connected(c);
    sb_eio_hold_output(c->eio, false);
}

/* The hold is bounded by a connect-wait record of its own (the connect
 * deadline's kind, freed at the connect): sb_sio__on_connect_timeout
 * releases it. A connected client carries it only while held. */
void sb_sio_socket_hold_output(sb_sio_socket_t *s, uint32_t max_ms) {
    if (!s->connected)
        return;
    sb_sio_client_t *c = s->client;
    if (!c->connect_wait) {
        sb_sio_connect_wait_t *w = sb_pool_alloc(&c->srv->connect_waits);
        if (!w)
            return; /* out of memory: not held, only one write more */
        w->client = c;
        sb_timer_init(c->srv->loop, &w->timer, sb_sio__on_connect_timeout);
        c->connect_wait = w;
    }
    sb_eio_hold_output(c->eio, true);
    sb_timer_start(&c->connect_wait->timer,
                   max_ms < SB_SIO_HOLD_MAX_MS ? max_ms : SB_SIO_HOLD_MAX_MS);
}

void sb_sio_socket_release_output(sb_sio_socket_t *s) {
    sb_sio_client_t *c = s->client;
    if (!c || !c->sockets)
        return;
    sb_sio__client_connected(c); /* the hold's record goes */
    sb_eio_hold_output(c->eio, false);
}
