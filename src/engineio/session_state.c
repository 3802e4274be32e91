/* What transports call of a session: incoming packets, the pong deadline,
 * the drop (which only schedules the close that session.c runs), and the
 * session's accessors. Calls no transport, so every transport may call it
 * while session.c calls the transports. */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/err.h"
#include "engineio/eio_internal.h"
#include "engineio/packet.h"

size_t sb_eio__open_packet(sb_eio_session_t *s, char *out, size_t cap) {
    const sb_eio_config_t *c = &s->srv->cfg;
    return sb_eio_open_packet_write(out, cap, sb_cstr(s->sid),
                                    s->transport == SB_EIO_POLLING && c->allow_websocket,
                                    c->ping_interval_ms, c->ping_timeout_ms, c->max_payload);
}

void sb_eio__session_opened(sb_eio_session_t *s) {
    sb_eio__ping_start(s);
    s->srv->h->on_open(s, s->srv->ud);
}

/* ---- heartbeat deadline ----------------------------------------------------------- */

void sb_eio__ping_start(sb_eio_session_t *s) {
    sb_timer_t *t = sb_eio__ping_timer(s);
    if (!t)
        return;
    if (!s->beat)
        t->cb = s->srv->ws_ping_cb; /* a websocket's timer, lent */
    sb_timer_start(t, s->srv->cfg.ping_interval_ms);
}

void sb_eio__beat_to_ws(sb_eio_session_t *s) {
    sb_timer_t *from = &s->beat->timer, *to = sb_ws_timer(s->ws);
    if (to) {
        to->cb = s->srv->ws_ping_cb;
        if (sb_timer_active(from))
            sb_timer_start_at(to, sb_timer_due(from));
    }
    sb_timer_stop(from);
    free(s->beat);
    s->beat = NULL;
}

bool sb_eio__expired(sb_eio_session_t *s) {
    sb_timer_t *t = s->closing || !s->awaiting_pong ? NULL : sb_eio__ping_timer(s);
    if (t && sb_timer_due(t) <= s->srv->loop->now_ms)
        sb_eio__drop(s, "ping timeout");
    return s->closing;
}

/* ---- closing ---------------------------------------------------------------------- */

void sb_eio__drop(sb_eio_session_t *s, const char *reason) {
    if (s->closing)
        return;
    s->closing = true;
    s->close_reason = reason;
    sb_timer_t *t = sb_eio__ping_timer(s);
    if (t)
        sb_timer_stop(t);
    if (s->poll)
        sb_timer_stop(&s->poll->upgrade_timer);
    sb_eio_server_t *srv = s->srv;
    s->closing_next = NULL;
    if (srv->closing_last)
        srv->closing_last->closing_next = s;
    else
        srv->closing = s;
    srv->closing_last = s;
    sb_task_post(srv->loop, &srv->close_task);
}

/* ---- receiving -------------------------------------------------------------------- */

static bool on_packet(sb_eio_session_t *s, const sb_eio_packet_t *pkt) {
    if (s->closing)
        return false;
    s->srv->stats.packets_in++;
    switch (pkt->type) {
    case SB_EIO_PONG:
        s->awaiting_pong = false;
        sb_eio__ping_start(s);
        return true;
    case SB_EIO_MESSAGE:
        s->srv->h->on_message(s, pkt->data.p, pkt->data.n, pkt->binary);
        return !s->closing;
    case SB_EIO_CLOSE:
        /* Over WebSocket the client closes the WebSocket itself; a `1` there
         * is ignored, as the reference does. Over polling, polling.c has
         * answered the waiting GET already (sb_eio__polling_post). */
        if (s->transport != SB_EIO_POLLING)
            return true;
        sb_eio__drop(s, "transport close");
        return false;
    case SB_EIO_NOOP:
        return true;
    case SB_EIO_UPGRADE: /* a session already on WebSocket: nothing to do (the reference ignores it) */
        if (s->transport != SB_EIO_POLLING)
            return true;
        sb_eio__drop(s, "parse error");
        return false;
    default: /* open and ping are not valid from a client */
        sb_eio__drop(s, "parse error");
        return false;
    }
}

/* The session stays valid after each packet (freed only by the close
 * task): checked in debug builds, so the fuzzers check it per input. */
bool sb_eio__on_packet(sb_eio_session_t *s, const sb_eio_packet_t *pkt) {
    bool open = on_packet(s, pkt);
    SB_VALIDATE(sb_eio_session_validate, s);
    return open;
}

const char *sb_eio_sid(const sb_eio_session_t *s) { return s->sid; }
sb_eio_transport_t sb_eio_transport(const sb_eio_session_t *s) { return s->transport; }
void *sb_eio_get_data(const sb_eio_session_t *s) { return s->ud; }
void sb_eio_set_data(sb_eio_session_t *s, void *ud) { s->ud = ud; }
sb_eio_server_t *sb_eio_session_server(const sb_eio_session_t *s) { return s->srv; }
const char *sb_eio_authorization(const sb_eio_session_t *s) { return s->kept ? s->kept : ""; }
const char *sb_eio_query(const sb_eio_session_t *s) {
    return s->kept ? s->kept + strlen(s->kept) + 1 : "";
}
void sb_eio_remote_ip(const sb_eio_session_t *s, char *out, size_t cap) {
    sb_peer_format(&s->peer, out, cap);
}
