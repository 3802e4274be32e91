/* Engine.IO session lifecycle: creation with its transport's state,
 * heartbeat, sending through the transport, and the deferred close that
 * releases the transports. What transports call back (incoming packets, the
 * drop) is session_state.c, so no transport calls this file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/err.h"
#include "core/log.h"
#include "core/random.h"
#include "engineio/eio_internal.h"
#include "engineio/packet.h"

static void on_beat_timer(sb_timer_t *t);

/* 15 random bytes as 20 base64url characters, like the reference ids; with
 * a prefix, it replaces the first character (114 random bits remain). */
static void make_sid(sb_eio_server_t *srv, char out[SB_EIO_SID_LEN + 1], char prefix) {
    uint8_t raw[15];
    sb_random_bytes(&srv->random, raw, sizeof raw); /* aborts rather than hand out guessable ids */
    out[sb_base64_encode(raw, sizeof raw, out, SB_BASE64_URL)] = '\0';
    if (prefix)
        out[0] = prefix;
}

/* Keeps what the layers above may read later, and nothing for the common
 * case: most handshakes carry no Authorization header and only the
 * transport's own query parameters. */
static bool keep_handshake(sb_eio_session_t *s, const sb_http_req_t *req) {
    static const char *const own[] = {"EIO=", "transport=", "sid=", "t=", "j=", "b64="};
    const sb_str_t *auth = sb_http_req_header(req, "authorization");
    bool app_params = false;
    for (const char *p = req->query.p, *end = p + req->query.n; p && p < end && !app_params;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t n = amp ? (size_t)(amp - p) : (size_t)(end - p), i = 0;
        while (i < 6 && !(n >= strlen(own[i]) && memcmp(p, own[i], strlen(own[i])) == 0))
            i++;
        app_params = i == 6 && n > 0;
        p = amp ? amp + 1 : end;
    }
    if (!auth && !app_params)
        return true;
    size_t an = auth ? auth->n : 0, qn = app_params ? req->query.n : 0;
    s->kept = malloc(an + qn + 2);
    if (!s->kept)
        return false;
    memcpy(s->kept, auth ? auth->p : "", an);
    s->kept[an] = '\0';
    memcpy(s->kept + an + 1, app_params ? req->query.p : "", qn);
    s->kept[an + 1 + qn] = '\0';
    return true;
}

sb_eio_session_t *sb_eio__session_create(sb_eio_server_t *srv, const sb_http_req_t *req,
                                         sb_eio_transport_t t) {
    sb_eio_session_t *s = sb_pool_alloc(&srv->sessions);
    if (!s)
        return NULL;
    s->srv = srv;
    s->transport = t;
    bool kept = keep_handshake(s, req);
    s->peer = req->conn->peer;
    do
        make_sid(srv, s->sid, srv->cfg.sid_prefix);
    while (sb_eio__find(srv, s->sid));
    if (t != SB_EIO_WEBSOCKET) {
        if ((s->beat = malloc(sizeof *s->beat))) {
            s->beat->session = s;
            sb_timer_init(srv->loop, &s->beat->timer, on_beat_timer);
        } else {
            kept = false;
        }
    }
    if (t == SB_EIO_POLLING && !(s->poll = sb_eio__polling_create(s)))
        kept = false;
    if (!kept || sb_eio__register(srv, s) != SB_OK) {
        sb_eio__polling_free(s);
        free(s->beat);
        free(s->kept);
        sb_pool_free(&srv->sessions, s);
        return NULL;
    }
    srv->stats.sessions_opened++;
    if (t == SB_EIO_POLLING)
        srv->stats.active_polling++;
    else if (t == SB_EIO_WEBSOCKET)
        srv->stats.active_websocket++;
    return s;
}

/* ---- heartbeat ----------------------------------------------------------------- */

static void ping(sb_eio_session_t *s, sb_timer_t *t) {
    if (s->awaiting_pong) {
        sb_eio__drop(s, "ping timeout");
        return;
    }
    s->awaiting_pong = true;
    sb_frame_t *f = sb_frame_create("2", 1, 0);
    if (f) {
        sb_eio_send_frame(s, f);
        sb_frame_unref(f);
    }
    /* The client's time runs from when the ping was due, not from when a
     * late tick sent it: the session ends pingInterval + pingTimeout after
     * the last pong, as the client computes it. Unless the send closed
     * the websocket, which took its timer back. */
    if (t == sb_eio__ping_timer(s))
        sb_timer_start_at(t, sb_timer_due(t) + s->srv->cfg.ping_timeout_ms);
}

static void on_beat_timer(sb_timer_t *t) {
    sb_eio_beat_t *b = sb_container_of(t, sb_eio_beat_t, timer);
    ping(b->session, t);
}

/* A websocket's timer, lent while it is open: its connection's ud is the
 * ws, whose data is the session. */
void sb_eio__on_ws_ping_timer(sb_timer_t *t) {
    sb_ws_t *ws = sb_container_of(t, sb_conn_t, timer)->ud;
    ping(sb_ws_get_data(ws), t);
}

/* ---- sending --------------------------------------------------------------------- */

int sb_eio_send_frame(sb_eio_session_t *s, sb_frame_t *f) {
    if (s->closing)
        return SB_ECLOSED;
    for (; f; f = f->next) {
        s->srv->stats.packets_out++;
        int rc = s->transport == SB_EIO_WEBSOCKET ? sb_ws_send_frame(s->ws, f)
                 : s->transport == SB_EIO_CARRIED ? s->srv->carrier->send(s->carrier, f)
                                                  : sb_eio__polling_enqueue(s, f);
        if (rc != SB_OK)
            return rc;
    }
    return SB_OK;
}

int sb_eio_send_message(sb_eio_session_t *s, const char *p, size_t n, bool binary) {
    sb_frame_t *f = sb_frame_create(NULL, n + !binary, binary ? SB_FRAME_BINARY : 0);
    if (!f)
        return SB_ENOMEM;
    if (!binary)
        f->data[0] = '4';
    memcpy(f->data + !binary, p, n);
    int rc = sb_eio_send_frame(s, f);
    sb_frame_unref(f);
    return rc;
}

void sb_eio_hold_output(sb_eio_session_t *s, bool hold) {
    if (s->transport == SB_EIO_WEBSOCKET && s->ws && !(hold && s->closing))
        sb_conn_hold_output(sb_ws_conn(s->ws), hold);
}

/* ---- closing ---------------------------------------------------------------------- */

void sb_eio_close(sb_eio_session_t *s, const char *reason) {
    if (s->closing)
        return;
    sb_frame_t *f = sb_frame_create("1", 1, 0);
    if (f) {
        sb_eio_send_frame(s, f);
        sb_frame_unref(f);
    }
    if (s->transport == SB_EIO_POLLING)
        sb_eio__polling_flush(s, false);
    sb_eio__drop(s, reason);
}

/* Sessions released per run of the close task: a close reaches the layers
 * above (rooms, presence), so a run stays short like one task per session
 * was, and the task posts itself again while some are left. */
#define SB_EIO_CLOSES_PER_RUN 8

static void release(sb_eio_session_t *s) {
    sb_eio_server_t *srv = s->srv;
    sb_eio__unregister(srv, s);
    if (s->transport == SB_EIO_POLLING)
        srv->stats.active_polling--;
    else if (s->transport == SB_EIO_WEBSOCKET)
        srv->stats.active_websocket--;
    if (s->transport != SB_EIO_CARRIED)
        sb_eio__ws_detach(s);
    sb_eio__polling_clear(s);
    sb_eio__polling_free(s);
    srv->h->on_close(s, s->close_reason);
    if (s->transport == SB_EIO_CARRIED)
        srv->carrier->closed(s->carrier, s->close_reason);
    free(s->beat); /* stopped by the drop */
    free(s->kept);
    sb_pool_free(&srv->sessions, s);
}

void sb_eio__on_close_task(sb_task_t *t) {
    sb_eio_server_t *srv = sb_container_of(t, sb_eio_server_t, close_task);
    sb_task_post(srv->loop, t); /* pending while sessions wait (validate.c) */
    for (int i = 0; i < SB_EIO_CLOSES_PER_RUN && srv->closing; i++) {
        sb_eio_session_t *s = srv->closing;
        if (!(srv->closing = s->closing_next))
            srv->closing_last = NULL;
        release(s);
    }
    if (!srv->closing)
        sb_task_cancel(t);
}

/* ---- carried sessions -------------------------------------------------------------- */

void sb_eio_server_set_carrier(sb_eio_server_t *srv, const sb_eio_carrier_t *c) {
    srv->carrier = c;
}

sb_eio_session_t *sb_eio_carried_open(sb_eio_server_t *srv, const sb_http_req_t *req, void *ctx) {
    sb_eio_session_t *s = srv->carrier ? sb_eio__session_create(srv, req, SB_EIO_CARRIED) : NULL;
    if (!s)
        return NULL;
    s->carrier = ctx;
    sb_eio__session_opened(s);
    return s;
}

bool sb_eio_carried_feed(sb_eio_session_t *s, const char *p, size_t n) {
    sb_eio_packet_t pkt = {0};
    if (sb_eio__expired(s))
        return false;
    if (sb_eio_packet_parse_text(p, n, &pkt) != SB_OK) {
        sb_eio__drop(s, "parse error");
        return false;
    }
    return sb_eio__on_packet(s, &pkt);
}

void sb_eio_carried_end(sb_eio_session_t *s) { sb_eio__drop(s, "transport close"); }
