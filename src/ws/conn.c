/* WebSocket connection state machine (server side). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "ws/frame.h"
#include "ws/handshake_key.h"
#include "ws/utf8.h"
#include "ws/ws.h"

_Static_assert(offsetof(sb_frame_t, data) == offsetof(sb_frame_t, headroom) + SB_FRAME_HEADROOM,
               "frame headroom must sit right before the payload");

enum { WS_OPEN, WS_CLOSING };

/* Whatever max_message says, a reassembled message stops here (so that its
 * length and capacity fit 32 bits). */
#define SB_WS_MSG_HARD_MAX (1u << 30)

/* A fragmented message being reassembled, its counts with its bytes (32
 * bits: messages stop at SB_WS_MSG_HARD_MAX), so an idle connection holds
 * a pointer only. */
typedef struct {
    uint32_t len, cap;
    char data[];
} ws_msg_t;

struct sb_ws {
    sb_conn_t *conn;
    const sb_ws_config_t *cfg;
    const sb_ws_handler_t *h;
    void *ud;
    uint8_t state;
    bool in_msg, msg_binary, msg_compressed, close_sent;
    uint16_t close_code;
    sb_utf8_t utf8;
    uint32_t frame_checked;   /* bytes of the incomplete frame already unmasked and UTF-8 checked */
    ws_msg_t *msg;            /* fragments of an uncompressed message; NULL when none */
    sb_ws_deflate_t *deflate; /* NULL unless negotiated */
};

static inline uint32_t msg_len(const sb_ws_t *ws) { return ws->msg ? ws->msg->len : 0; }

static const sb_conn_handler_t ws_conn_handler;

void *sb_ws_get_data(const sb_ws_t *ws) { return ws->ud; }
void sb_ws_set_data(sb_ws_t *ws, void *ud) { ws->ud = ud; }
sb_conn_t *sb_ws_conn(sb_ws_t *ws) { return ws->conn; }
size_t sb_ws_queued(const sb_ws_t *ws) { return sb_conn_queued(ws->conn); }

void sb_ws_set_handler(sb_ws_t *ws, const sb_ws_handler_t *h, void *ud) {
    ws->h = h;
    ws->ud = ud;
}

/* ---- sending ----------------------------------------------------------------- */

static int send_control(sb_ws_t *ws, uint8_t op, const void *p, size_t n) {
    uint8_t buf[2 + SB_WS_CONTROL_MAX];
    size_t hl = sb_ws_hdr_write(buf, op, true, false, n);
    memcpy(buf + hl, p, n);
    return sb_conn_write(ws->conn, buf, hl + n);
}

int sb_ws_ping(sb_ws_t *ws) {
    if (ws->state != WS_OPEN)
        return SB_ECLOSED;
    return send_control(ws, SB_WS_OP_PING, "", 0);
}

/* Compresses a message for this connection only (its deflate context). */
static int send_compressed(sb_ws_t *ws, sb_frame_t *f) {
    uint8_t *out;
    size_t out_n;
    if (sb_ws_deflate_compress(ws->deflate, (const uint8_t *)f->data, f->len, &out, &out_n) !=
        SB_OK)
        return SB_ENOMEM;
    sb_frame_t *cf = sb_frame_create(NULL, out_n, f->flags);
    if (!cf)
        return SB_ENOMEM;
    memcpy(cf->data, out, out_n);
    uint8_t hdr[10];
    size_t hl = sb_ws_hdr_write(hdr, (f->flags & SB_FRAME_BINARY) ? SB_WS_OP_BINARY : SB_WS_OP_TEXT,
                                true, true, out_n);
    memcpy(cf->data - hl, hdr, hl);
    int rc = sb_conn_write_frame(ws->conn, cf, cf->data - hl, hl + out_n);
    sb_frame_unref(cf);
    return rc;
}

int sb_ws_send_frame(sb_ws_t *ws, sb_frame_t *f) {
    if (ws->state != WS_OPEN)
        return SB_ECLOSED;
    if (ws->deflate && f->len >= ws->cfg->deflate_threshold)
        return send_compressed(ws, f);
    if (f->ws_hdr_len == 0) {
        uint8_t hdr[10];
        size_t hl =
            sb_ws_hdr_write(hdr, (f->flags & SB_FRAME_BINARY) ? SB_WS_OP_BINARY : SB_WS_OP_TEXT,
                            true, false, f->len);
        memcpy(f->data - hl, hdr, hl);
        f->ws_hdr_len = (uint8_t)hl;
    }
    return sb_conn_write_frame(ws->conn, f, f->data - f->ws_hdr_len, f->ws_hdr_len + f->len);
}

int sb_ws_send(sb_ws_t *ws, const void *p, size_t n, bool binary) {
    sb_frame_t *f = sb_frame_create(p, n, binary ? SB_FRAME_BINARY : 0);
    if (!f)
        return SB_ENOMEM;
    int rc = sb_ws_send_frame(ws, f);
    sb_frame_unref(f);
    return rc;
}

static void ws_on_close_timer(sb_timer_t *t) {
    sb_conn_close(sb_container_of(t, sb_conn_t, timer));
}

void sb_ws_close(sb_ws_t *ws, uint16_t code, const char *reason) {
    if (ws->close_sent)
        return;
    uint8_t payload[SB_WS_CONTROL_MAX];
    size_t rn = reason ? strlen(reason) : 0;
    if (rn > SB_WS_CLOSE_REASON_MAX)
        rn = SB_WS_CLOSE_REASON_MAX;
    size_t n = sb_ws_close_write(payload, code, reason, rn);
    ws->state = WS_CLOSING;
    ws->close_sent = true;
    if (!ws->close_code)
        ws->close_code = code;
    send_control(ws, SB_WS_OP_CLOSE, payload, n);
    /* The timer is ours again (sb_ws_timer lent it while open). */
    sb_timer_stop(&ws->conn->timer);
    ws->conn->timer.cb = ws_on_close_timer;
    sb_timer_start(&ws->conn->timer, ws->cfg->close_timeout_ms);
}

sb_timer_t *sb_ws_timer(sb_ws_t *ws) { return ws->state == WS_OPEN ? &ws->conn->timer : NULL; }

void sb_ws_abort(sb_ws_t *ws) {
    ws->state = WS_CLOSING;
    sb_conn_close(ws->conn);
}

/* Fails the connection: close frame with `code`, then TCP close once sent. */
static long ws_fail(sb_ws_t *ws, uint16_t code, const char *why) {
    sb_log_debug("websocket fd=%d: closing %u (%s)", ws->conn->io.fd, code, why);
    sb_ws_close(ws, code, why);
    sb_conn_close_after_flush(ws->conn);
    return SB_EPROTO;
}

/* ---- receiving ----------------------------------------------------------------- */

static long deliver(sb_ws_t *ws, const char *p, size_t n) {
    if (!ws->msg_binary && !sb_utf8_valid((const uint8_t *)p, n))
        return ws_fail(ws, SB_WS_CLOSE_BAD_DATA, "invalid UTF-8");
    ws->in_msg = false;
    if (ws->state == WS_OPEN)
        ws->h->on_message(ws, p, n, ws->msg_binary);
    return SB_OK;
}

static long on_compressed(sb_ws_t *ws, const uint8_t *p, size_t n, bool fin) {
    uint8_t *out;
    size_t out_n;
    int rc = sb_ws_inflate(ws->deflate, p, n, fin, &out, &out_n, ws->cfg->max_message);
    if (rc == SB_ETOOBIG)
        return ws_fail(ws, SB_WS_CLOSE_TOO_BIG, "message too big");
    if (rc != SB_OK)
        return ws_fail(ws, SB_WS_CLOSE_BAD_DATA, "invalid compressed data");
    return fin ? deliver(ws, (const char *)out, out_n) : SB_OK;
}

/* p[0..checked) was validated while the frame was still arriving. */
static long on_fragment(sb_ws_t *ws, const char *p, size_t n, size_t checked, bool fin) {
    size_t len = msg_len(ws);
    if (len + n > ws->cfg->max_message || len + n > SB_WS_MSG_HARD_MAX)
        return ws_fail(ws, SB_WS_CLOSE_TOO_BIG, "message too big");
    if (!ws->msg_binary &&
        sb_utf8_feed(&ws->utf8, (const uint8_t *)p + checked, n - checked) != SB_OK)
        return ws_fail(ws, SB_WS_CLOSE_BAD_DATA, "invalid UTF-8");
    if (fin && len == 0)
        return deliver(ws, p, n); /* unfragmented: no copy */
    if (!ws->msg || len + n > ws->msg->cap) {
        size_t cap = ws->msg ? ws->msg->cap : 4096;
        while (cap < len + n)
            cap *= 2;
        ws_msg_t *nm = realloc(ws->msg, sizeof *nm + cap);
        if (!nm)
            return ws_fail(ws, SB_WS_CLOSE_INTERNAL, "out of memory");
        nm->len = (uint32_t)len;
        nm->cap = (uint32_t)cap;
        ws->msg = nm;
    }
    memcpy(ws->msg->data + len, p, n);
    ws->msg->len += (uint32_t)n;
    if (!fin)
        return SB_OK;
    long rc = deliver(ws, ws->msg->data, ws->msg->len);
    free(ws->msg);
    ws->msg = NULL;
    return rc;
}

static long on_data_frame(sb_ws_t *ws, const sb_ws_hdr_t *h, char *p, size_t checked) {
    if (h->opcode == SB_WS_OP_CONT) {
        if (!ws->in_msg || (h->rsv & SB_WS_RSV1))
            return ws_fail(ws, SB_WS_CLOSE_PROTOCOL, "unexpected continuation");
    } else {
        if (ws->in_msg)
            return ws_fail(ws, SB_WS_CLOSE_PROTOCOL, "expected continuation");
        ws->in_msg = true;
        ws->msg_binary = h->opcode == SB_WS_OP_BINARY;
        ws->msg_compressed = (h->rsv & SB_WS_RSV1) != 0;
        if (checked == 0) /* else the check of the arriving bytes started it */
            memset(&ws->utf8, 0, sizeof ws->utf8);
    }
    if (ws->msg_compressed)
        return on_compressed(ws, (const uint8_t *)p, h->len, h->fin);
    return on_fragment(ws, p, h->len, checked, h->fin);
}

/* RFC 6455 8.1 asks to fail on invalid UTF-8 as soon as it arrives: the
 * bytes of an uncompressed text frame are checked while the rest of the
 * frame is still on its way. They stay in the input buffer, unmasked, and
 * are not checked again when the frame is whole. */
static long check_arriving_text(sb_ws_t *ws, const sb_ws_hdr_t *h, char *p, size_t have) {
    bool starts = h->opcode == SB_WS_OP_TEXT && !ws->in_msg && !(h->rsv & SB_WS_RSV1);
    bool continues =
        h->opcode == SB_WS_OP_CONT && ws->in_msg && !ws->msg_binary && !ws->msg_compressed;
    size_t done = ws->frame_checked;
    if ((!starts && !continues) || have <= done)
        return SB_OK;
    if (starts && done == 0)
        memset(&ws->utf8, 0, sizeof ws->utf8);
    sb_ws_unmask((uint8_t *)p + done, have - done, h->mask, done);
    ws->frame_checked = (uint32_t)have; /* have < h->len <= max_message, checked above */
    if (sb_utf8_feed(&ws->utf8, (const uint8_t *)p + done, have - done) != SB_OK)
        return ws_fail(ws, SB_WS_CLOSE_BAD_DATA, "invalid UTF-8");
    return SB_OK;
}

static long on_control_frame(sb_ws_t *ws, const sb_ws_hdr_t *h, const uint8_t *p) {
    if (h->opcode == SB_WS_OP_PING) {
        if (ws->state == WS_OPEN)
            send_control(ws, SB_WS_OP_PONG, p, h->len);
        return SB_OK;
    }
    if (h->opcode == SB_WS_OP_PONG) {
        if (ws->state == WS_OPEN && ws->h->on_pong)
            ws->h->on_pong(ws);
        return SB_OK;
    }
    uint16_t code;
    sb_str_t reason;
    if (sb_ws_close_parse(p, h->len, &code, &reason) != SB_OK)
        return ws_fail(ws, SB_WS_CLOSE_PROTOCOL, "invalid close frame");
    if (!ws->close_code || !ws->close_sent)
        ws->close_code = code;
    sb_ws_close(ws, code == SB_WS_CLOSE_NO_STATUS ? SB_WS_CLOSE_NORMAL : code, NULL);
    sb_conn_close_after_flush(ws->conn);
    return SB_ECLOSED;
}

static long check_header(sb_ws_t *ws, const sb_ws_hdr_t *h) {
    if (!h->masked)
        return ws_fail(ws, SB_WS_CLOSE_PROTOCOL, "client frames must be masked");
    if ((h->rsv & (SB_WS_RSV2 | SB_WS_RSV3)) ||
        ((h->rsv & SB_WS_RSV1) && (!ws->deflate || h->opcode >= SB_WS_OP_CLOSE)))
        return ws_fail(ws, SB_WS_CLOSE_PROTOCOL, "reserved bits set");
    if (h->opcode < SB_WS_OP_CLOSE && h->len + msg_len(ws) > ws->cfg->max_message)
        return ws_fail(ws, SB_WS_CLOSE_TOO_BIG, "message too big");
    return SB_OK;
}

static long ws_on_data(sb_conn_t *c, char *p, size_t n) {
    sb_ws_t *ws = c->ud;
    size_t off = 0;
    while (off < n && !(c->flags & (SB_CONN_CLOSING | SB_CONN_CLOSE_AFTER))) {
        sb_ws_hdr_t h;
        ssize_t hl = sb_ws_hdr_parse((const uint8_t *)p + off, n - off, &h);
        if (hl == SB_EAGAIN)
            break;
        if (hl < 0 || check_header(ws, &h) != SB_OK) {
            if (hl < 0)
                ws_fail(ws, SB_WS_CLOSE_PROTOCOL, "malformed frame");
            return (long)n;
        }
        char *payload = p + off + hl;
        if (n - off - (size_t)hl <
            h.len) { /* wait for the whole frame; its size is already capped */
            if (check_arriving_text(ws, &h, payload, n - off - (size_t)hl) != SB_OK)
                return (long)n;
            break;
        }
        size_t checked = ws->frame_checked;
        ws->frame_checked = 0;
        sb_ws_unmask((uint8_t *)payload + checked, h.len - checked, h.mask, checked);
        off += (size_t)hl + h.len;
        long rc = h.opcode >= SB_WS_OP_CLOSE ? on_control_frame(ws, &h, (uint8_t *)payload)
                                             : on_data_frame(ws, &h, payload, checked);
        if (rc != SB_OK)
            return (long)n;
    }
    return (long)off;
}

static void ws_on_conn_close(sb_conn_t *c) {
    sb_ws_t *ws = c->ud;
    ws->state = WS_CLOSING;
    if (ws->h && ws->h->on_close)
        ws->h->on_close(ws, ws->close_code ? ws->close_code : SB_WS_CLOSE_ABNORMAL);
    sb_ws_deflate_destroy(ws->deflate);
    free(ws->msg);
    sb_conn_ctx_obj_free(c->ctx, ws, sizeof *ws);
}

static void ws_on_shutdown(sb_conn_t *c) {
    sb_ws_close(c->ud, SB_WS_CLOSE_GOING_AWAY, "server shutting down");
}

/* Cut for not reading fast enough: 1008 (a policy, the output limit, was
 * violated) with a reason, sent if the peer reads on before the close
 * timeout. */
static void ws_on_slow(sb_conn_t *c) { sb_ws_close(c->ud, SB_WS_CLOSE_POLICY, "slow consumer"); }

static const sb_conn_handler_t ws_conn_handler = {
    .on_data = ws_on_data,
    .on_close = ws_on_conn_close,
    .on_shutdown = ws_on_shutdown,
    .on_slow = ws_on_slow,
};

/* ---- handshake ------------------------------------------------------------------ */

bool sb_ws_is_upgrade(const sb_http_req_t *req) {
    const sb_str_t *up = sb_http_req_header(req, "upgrade");
    return up && sb_http_token_list_has(*up, SB_LIT("websocket"));
}

/* Returns 0 when the request is a valid RFC 6455 opening handshake, else the
 * HTTP status to answer. */
static int handshake_check(const sb_http_req_t *req) {
    const sb_str_t *conn = sb_http_req_header(req, "connection");
    const sb_str_t *ver = sb_http_req_header(req, "sec-websocket-version");
    const sb_str_t *key = sb_http_req_header(req, "sec-websocket-key");
    if (!sb_str_eq(req->method, SB_LIT("GET")) || req->minor_version < 1 ||
        !sb_ws_is_upgrade(req) || !conn || !sb_http_token_list_has(*conn, SB_LIT("upgrade")))
        return 400;
    if (!ver || !sb_str_eq(*ver, SB_LIT("13")))
        return 426;
    if (!key || !sb_ws_key_valid(*key))
        return 400;
    return 0;
}

static size_t negotiate_deflate(const sb_http_req_t *req, const sb_ws_config_t *cfg,
                                sb_ws_deflate_params_t *params, char *ext, size_t cap) {
    const sb_str_t *offer = sb_http_req_header(req, "sec-websocket-extensions");
    sb_ws_deflate_config_t dc = {0};
    size_t n = 0;
    if (!cfg->deflate || !offer)
        return 0;
    dc.mem_level = 8;
    if (sb_ws_deflate_negotiate(*offer, &dc, params, ext, cap, &n) != SB_OK)
        return 0;
    return n;
}

sb_ws_t *sb_ws_accept(sb_http_req_t *req, const sb_ws_config_t *cfg, const sb_ws_handler_t *h,
                      void *ud) {
    int status = handshake_check(req);
    if (status == 426) {
        static const char body[] = "{\"error\":{\"code\":\"upgrade_required\",\"message\":"
                                   "\"WebSocket version 13 required\"}}";
        sb_http_respond(req, 426, "application/json", body, sizeof body - 1,
                        "Sec-WebSocket-Version: 13\r\n");
        return NULL;
    }
    if (status) {
        sb_http_respond_error(req, 400, "bad_request", "invalid WebSocket handshake");
        return NULL;
    }
    sb_ws_t *ws = sb_conn_ctx_obj_alloc(req->conn->ctx, sizeof *ws);
    if (!ws) {
        sb_http_respond_error(req, 500, "internal", "out of memory");
        return NULL;
    }
    char accept[29], ext[SB_WS_DEFLATE_RESPONSE_MAX], resp[512];
    sb_ws_deflate_params_t params;
    sb_ws_accept_key(*sb_http_req_header(req, "sec-websocket-key"), accept);
    size_t en = negotiate_deflate(req, cfg, &params, ext, sizeof ext);
    if (en && !(ws->deflate = sb_ws_deflate_create(&params)))
        en = 0;
    int rn =
        snprintf(resp, sizeof resp,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                 "Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%.*s%s\r\n",
                 accept, en ? "Sec-WebSocket-Extensions: " : "", (int)en, ext, en ? "\r\n" : "");
    ws->cfg = cfg;
    ws->h = h;
    ws->ud = ud;
    ws->conn = sb_http_req_detach(req);
    ws->conn->handler = &ws_conn_handler;
    ws->conn->ud = ws;
    ws->conn->timer.cb = ws_on_close_timer;
    sb_conn_write(ws->conn, resp, (size_t)rn);
    return ws;
}
