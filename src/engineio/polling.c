/* HTTP long-polling transport: a GET waits for packets, a POST carries a
 * payload of packets separated by 0x1e; binary packets travel base64'd. */
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/err.h"
#include "core/log.h"
#include "engineio/eio_internal.h"
#include "engineio/packet.h"

#define SB_EIO_MAX_PACKETS_PER_POST 10000

static const char text_type[] = "text/plain; charset=UTF-8";
/* Every polling answer is one moment of a session: no cache may keep it. */
const char sb_eio__no_store[] = "Cache-Control: no-store\r\n";

int sb_eio__polling_enqueue(sb_eio_session_t *s, sb_frame_t *f) {
    if ((f->flags & SB_FRAME_VOLATILE) && !s->poll->req) { /* no GET waiting: not writable */
        s->srv->stats.volatile_dropped++;
        return SB_OK;
    }
    if (s->poll->bytes + f->len > s->srv->cfg.max_queue_bytes) {
        sb_log_info("eio %s: polling queue over its limit, closing", s->sid);
        sb_eio__drop(s, "transport error");
        return SB_ETOOBIG;
    }
    if (s->poll->len == s->poll->cap) {
        size_t cap = s->poll->cap ? s->poll->cap * 2 : 8;
        sb_frame_t **q = realloc(s->poll->q, cap * sizeof *q);
        if (!q)
            return SB_ENOMEM;
        s->poll->q = q;
        s->poll->cap = cap;
    }
    s->poll->q[s->poll->len++] = sb_frame_ref(f);
    s->poll->bytes += f->len;
    /* Not at once: what one turn of the loop sends goes out in one answer,
     * as it does in one write over WebSocket. An event and the
     * recovery:offset that covers it then never come in different answers,
     * between which the client could close. */
    if (s->poll->req)
        sb_task_post(s->srv->loop, &s->poll->flush_task);
    return SB_OK;
}

static void on_flush_task(sb_task_t *t) {
    sb_eio_polling_t *poll = sb_container_of(t, sb_eio_polling_t, flush_task);
    sb_eio__polling_flush(poll->session, false);
}

/* Joins queued packets into one payload frame. */
static sb_frame_t *build_payload(sb_eio_session_t *s) {
    size_t total = 0;
    for (size_t i = 0; i < s->poll->len; i++) {
        sb_frame_t *f = s->poll->q[i];
        total += (i > 0) + ((f->flags & SB_FRAME_BINARY)
                                ? 1 + sb_base64_encoded_len(f->len, SB_BASE64_STD)
                                : f->len);
    }
    sb_frame_t *out = sb_frame_create(NULL, total, 0);
    if (!out)
        return NULL;
    char *w = out->data;
    for (size_t i = 0; i < s->poll->len; i++) {
        sb_frame_t *f = s->poll->q[i];
        if (i > 0)
            *w++ = SB_EIO_SEPARATOR;
        if (f->flags & SB_FRAME_BINARY) {
            *w++ = 'b';
            w += sb_base64_encode((const uint8_t *)f->data, f->len, w, SB_BASE64_STD);
        } else {
            memcpy(w, f->data, f->len);
            w += f->len;
        }
    }
    return out;
}

static void queue_clear(sb_eio_session_t *s) {
    for (size_t i = 0; i < s->poll->len; i++)
        sb_frame_unref(s->poll->q[i]);
    s->poll->len = 0;
    s->poll->bytes = 0;
}

void sb_eio__polling_flush(sb_eio_session_t *s, bool noop_if_empty) {
    sb_http_req_t *req = s->poll ? s->poll->req : NULL;
    if (!req || (s->poll->len == 0 && !noop_if_empty))
        return;
    s->poll->req = NULL;
    req->on_abort = NULL;
    if (s->poll->len == 0) {
        sb_http_respond(req, 200, text_type, "6", 1, sb_eio__no_store);
        return;
    }
    sb_frame_t *body = build_payload(s);
    if (!body) {
        sb_http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    queue_clear(s);
    sb_http_respond_frame(req, 200, text_type, body, sb_eio__no_store);
    sb_frame_unref(body);
}

void sb_eio__polling_clear(sb_eio_session_t *s) {
    if (!s->poll)
        return;
    if (s->poll->req) {
        if (s->poll->len)
            sb_eio__polling_flush(s, false);
        else {
            s->poll->req->on_abort = NULL;
            sb_http_respond(s->poll->req, 200, text_type, "1", 1, sb_eio__no_store);
            s->poll->req = NULL;
        }
    }
    queue_clear(s);
}

/* Drops what is queued and answers the pending GET, if any, with a noop. */
static void polling_end_noop(sb_eio_session_t *s) {
    queue_clear(s);
    sb_eio__polling_flush(s, true);
}

static void on_get_abort(sb_http_req_t *req) {
    sb_eio_session_t *s = req->ud; /* a GET is only held while polling */
    s->poll->req = NULL;
    sb_eio__drop(s, "transport close");
}

void sb_eio__polling_get(sb_eio_session_t *s, sb_http_req_t *req) {
    if (s->poll->req) {
        /* Two GETs at once: the client is confused or hostile. */
        sb_eio__respond_error(req, SB_EIO_ERR_BAD_REQUEST);
        sb_eio__drop(s, "transport error");
        return;
    }
    s->poll->req = req;
    req->ud = s;
    req->on_abort = on_get_abort;
    /* Once the client has probed a websocket it pauses polling: its pending
     * GET must return at once so it can send the upgrade packet. */
    if (s->poll->len || s->probed)
        sb_eio__polling_flush(s, s->probed);
}

void sb_eio__polling_post(sb_eio_session_t *s, sb_http_req_t *req) {
    sb_eio_payload_iter_t it;
    sb_eio_packet_t pkt;
    /* Decoded base64 is never longer than the body it came in. */
    size_t bin_cap = req->body_len ? req->body_len : 1;
    uint8_t *bin = malloc(bin_cap);
    int rc = bin ? 1 : SB_ENOMEM, count = 0;
    sb_eio_payload_iter_init(&it, req->body, req->body_len);
    while (rc == 1 && count++ < SB_EIO_MAX_PACKETS_PER_POST) {
        rc = sb_eio_payload_next(&it, &pkt, bin, bin_cap);
        if (rc != 1)
            break;
        /* A close from the client: the waiting GET ends with a noop (a `1`
         * there would tell the client the server closed), and what was
         * queued is dropped, before the session drops. */
        if (pkt.type == SB_EIO_CLOSE && !s->closing)
            polling_end_noop(s);
        if (!sb_eio__on_packet(s, &pkt))
            break;
    }
    free(bin);
    if (rc < 0) {
        sb_eio__respond_error(req, SB_EIO_ERR_BAD_REQUEST);
        sb_eio__drop(s, "parse error");
        return;
    }
    sb_http_respond(req, 200, "text/html", "ok", 2, sb_eio__no_store);
}

void sb_eio__polling_move_to_ws(sb_eio_session_t *s) {
    for (size_t i = 0; i < s->poll->len && s->ws; i++)
        sb_ws_send_frame(s->ws, s->poll->q[i]);
    sb_eio__polling_free(s);
}

sb_eio_polling_t *sb_eio__polling_create(sb_eio_session_t *s) {
    sb_eio_polling_t *p = calloc(1, sizeof *p);
    if (p) {
        p->session = s;
        sb_timer_init(s->srv->loop, &p->upgrade_timer, NULL);
        sb_task_init(&p->flush_task, on_flush_task);
    }
    return p;
}

void sb_eio__polling_free(sb_eio_session_t *s) {
    if (!s->poll)
        return;
    queue_clear(s);
    sb_timer_stop(&s->poll->upgrade_timer);
    sb_task_cancel(&s->poll->flush_task);
    free(s->poll->q);
    free(s->poll);
    s->poll = NULL;
}
