/* WebSocket transport: the websocket of a session that starts on it
 * (server.c opens the session), and the upgrade of a polling session
 * (probe ping/pong, then the upgrade packet). */
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "engineio/eio_internal.h"
#include "engineio/packet.h"

static void ws_on_message(sb_ws_t *ws, const char *p, size_t n, bool binary);
static void ws_on_close(sb_ws_t *ws, uint16_t code);
static void probe_on_message(sb_ws_t *ws, const char *p, size_t n, bool binary);
static void probe_on_close(sb_ws_t *ws, uint16_t code);
static void detached_on_message(sb_ws_t *ws, const char *p, size_t n, bool binary) {}
static void detached_on_close(sb_ws_t *ws, uint16_t code) {}

static const sb_ws_handler_t session_ws = {ws_on_message, ws_on_close, NULL};
static const sb_ws_handler_t probe_ws = {probe_on_message, probe_on_close, NULL};
static const sb_ws_handler_t detached_ws = {detached_on_message, detached_on_close, NULL};

/* Parses one text frame as an Engine.IO packet and hands it on. */
static void deliver(sb_eio_session_t *s, const char *p, size_t n, bool binary) {
    sb_eio_packet_t pkt = {0};
    if (binary) {
        pkt.type = SB_EIO_MESSAGE;
        pkt.binary = true;
        pkt.data = sb_str(p, n);
    } else if (sb_eio_packet_parse_text(p, n, &pkt) != SB_OK) {
        sb_eio__drop(s, "parse error");
        return;
    }
    sb_eio__on_packet(s, &pkt);
}

static void ws_on_message(sb_ws_t *ws, const char *p, size_t n, bool binary) {
    sb_eio_session_t *s = sb_ws_get_data(ws);
    if (!sb_eio__expired(s))
        deliver(s, p, n, binary);
}

static void ws_on_close(sb_ws_t *ws, uint16_t code) {
    sb_eio_session_t *s = sb_ws_get_data(ws);
    s->ws = NULL; /* closing: its timer was taken back (sb_ws_timer) */
    sb_eio__drop(s, "transport close");
}

sb_ws_t *sb_eio__ws_accept(sb_eio_session_t *s, sb_http_req_t *req) {
    return sb_ws_accept(req, s->srv->cfg.ws, &session_ws, s);
}

/* ---- upgrade ------------------------------------------------------------------- */

static void on_upgrade_timeout(sb_timer_t *t) {
    sb_eio_polling_t *poll = sb_container_of(t, sb_eio_polling_t, upgrade_timer);
    sb_eio_session_t *s = poll->session;
    if (poll->probe_ws) {
        sb_ws_set_handler(poll->probe_ws, &detached_ws, NULL);
        sb_ws_abort(poll->probe_ws);
        poll->probe_ws = NULL;
    }
    s->upgrading = s->probed = false;
}

void sb_eio__ws_upgrade(sb_eio_session_t *s, sb_http_req_t *req) {
    sb_ws_t *ws = sb_ws_accept(req, s->srv->cfg.ws, &probe_ws, s);
    if (!ws)
        return;
    s->poll->probe_ws = ws;
    s->upgrading = true;
    s->poll->upgrade_timer.cb = on_upgrade_timeout;
    sb_timer_start(&s->poll->upgrade_timer, s->srv->cfg.upgrade_timeout_ms);
}

/* A second WebSocket for a session that has one (or is getting one): the
 * protocol says the server closes it. It is accepted first, as the
 * reference does, so that the client sees a close rather than an HTTP error
 * (which some WebSocket clients raise as an uncaught exception). */
void sb_eio__ws_refuse(sb_eio_server_t *srv, sb_http_req_t *req) {
    sb_ws_t *ws = sb_ws_accept(req, srv->cfg.ws, &detached_ws, NULL);
    if (ws)
        sb_ws_close(ws, 0, NULL);
}

/* The client switched: flush what polling still held onto the websocket. */
static void finish_upgrade(sb_eio_session_t *s) {
    sb_timer_stop(&s->poll->upgrade_timer);
    s->ws = s->poll->probe_ws;
    s->poll->probe_ws = NULL;
    s->upgrading = s->probed = false;
    sb_ws_set_handler(s->ws, &session_ws, s);
    sb_eio__polling_flush(s, true); /* the pending GET gets what is queued, or a noop */
    s->transport = SB_EIO_WEBSOCKET;
    sb_eio__beat_to_ws(s);
    sb_eio__polling_move_to_ws(s);
    s->srv->stats.upgrades++;
    s->srv->stats.active_polling--;
    s->srv->stats.active_websocket++;
}

static void probe_on_message(sb_ws_t *ws, const char *p, size_t n, bool binary) {
    sb_eio_session_t *s = sb_ws_get_data(ws);
    if (!binary && n == 6 && memcmp(p, "2probe", 6) == 0) {
        sb_ws_send(ws, "3probe", 6, false);
        s->probed = true;
        sb_eio__polling_flush(s, true); /* make the client's pending GET return */
        return;
    }
    if (!binary && n == 1 && p[0] == '5') {
        finish_upgrade(s);
        return;
    }
    sb_ws_set_handler(ws, &detached_ws, NULL);
    sb_ws_close(ws, SB_WS_CLOSE_PROTOCOL, "invalid upgrade");
    s->poll->probe_ws = NULL;
    s->upgrading = s->probed = false;
    sb_timer_stop(&s->poll->upgrade_timer);
}

static void probe_on_close(sb_ws_t *ws, uint16_t code) {
    sb_eio_session_t *s = sb_ws_get_data(ws);
    s->poll->probe_ws = NULL;
    s->upgrading = s->probed = false;
    sb_timer_stop(&s->poll->upgrade_timer);
}

void sb_eio__ws_detach(sb_eio_session_t *s) {
    sb_ws_t *all[2] = {s->ws, s->poll ? s->poll->probe_ws : NULL};
    for (int i = 0; i < 2; i++) {
        if (!all[i])
            continue;
        sb_ws_set_handler(all[i], &detached_ws, NULL);
        sb_ws_close(all[i], s->srv->ws_close_code, NULL);
        sb_conn_close_after_flush(sb_ws_conn(all[i]));
    }
    s->ws = NULL;
    if (s->poll)
        s->poll->probe_ws = NULL;
}
