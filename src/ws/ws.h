/* RFC 6455 WebSocket connections on top of an HTTP upgrade: handshake
 * validation, masked client frames, fragmentation with interleaved control
 * frames, ping/pong, the close handshake, UTF-8 checks and permessage-deflate
 * (RFC 7692). Messages are delivered whole. */
#ifndef SB_WS_WS_H
#define SB_WS_WS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/frame.h"
#include "http/http.h"
#include "ws/deflate.h"

typedef struct sb_ws sb_ws_t;

enum {
    SB_WS_CLOSE_NORMAL = 1000,
    SB_WS_CLOSE_GOING_AWAY = 1001,
    SB_WS_CLOSE_PROTOCOL = 1002,
    SB_WS_CLOSE_NO_STATUS = 1005,
    SB_WS_CLOSE_ABNORMAL = 1006,
    SB_WS_CLOSE_BAD_DATA = 1007,
    SB_WS_CLOSE_POLICY = 1008,
    SB_WS_CLOSE_TOO_BIG = 1009,
    SB_WS_CLOSE_INTERNAL = 1011,
    SB_WS_CLOSE_TRY_AGAIN = 1013,
};

typedef struct {
    /* A whole message arrived. p is valid only during the call. */
    void (*on_message)(sb_ws_t *ws, const char *p, size_t n, bool binary);
    /* The connection is gone (close handshake, error or TCP close); called
     * once; ws is freed right after. code is the peer's close code, or 1006. */
    void (*on_close)(sb_ws_t *ws, uint16_t code);
    /* Optional (may be NULL): a pong frame arrived, e.g. answering sb_ws_ping(). */
    void (*on_pong)(sb_ws_t *ws);
} sb_ws_handler_t;

typedef struct {
    size_t max_message; /* 1009 past this (after inflating, too); at most 1 GiB */
    bool deflate;       /* accept permessage-deflate offers */
    size_t deflate_threshold;
    uint32_t close_timeout_ms; /* wait for the peer's close frame */
} sb_ws_config_t;

/* Validates the upgrade request and answers it: on success writes 101,
 * takes the connection over from HTTP (the request is freed) and returns the
 * WebSocket; on failure answers 400 (bad request/key) or 426 (version, with
 * Sec-WebSocket-Version: 13) and returns NULL. `cfg` must outlive the ws. */
sb_ws_t *sb_ws_accept(sb_http_req_t *req, const sb_ws_config_t *cfg, const sb_ws_handler_t *h,
                      void *ud);
/* True if the request asks for a WebSocket upgrade. */
bool sb_ws_is_upgrade(const sb_http_req_t *req);

void *sb_ws_get_data(const sb_ws_t *ws);
void sb_ws_set_data(sb_ws_t *ws, void *ud);
void sb_ws_set_handler(sb_ws_t *ws, const sb_ws_handler_t *h, void *ud);
/* Sends a frame's payload as one message (binary if SB_FRAME_BINARY). The
 * unmasked header is cached in the frame, so a broadcast frames once.
 * Returns SB_OK, SB_ECLOSED, or SB_ETOOBIG (slow consumer: closed). */
int sb_ws_send_frame(sb_ws_t *ws, sb_frame_t *f);
int sb_ws_send(sb_ws_t *ws, const void *p, size_t n, bool binary);
/* Sends a ping frame with no payload (the peer answers with a pong).
 * SB_OK, SB_ECLOSED, or an output error. */
int sb_ws_ping(sb_ws_t *ws);
/* Starts the close handshake; on_close follows. Idempotent. */
void sb_ws_close(sb_ws_t *ws, uint16_t code, const char *reason);
/* Drops the connection at once, without a close frame (on_close follows). */
void sb_ws_abort(sb_ws_t *ws);
sb_conn_t *sb_ws_conn(sb_ws_t *ws);
/* The connection's timer, which the WebSocket needs only once it closes:
 * lent to the protocol on top while the WebSocket is open (set its cb;
 * the owner of the ws is found from the timer through the connection's
 * ud, the ws). NULL once closing: the close timeout has taken it back
 * (stopped, its cb replaced). Saves that protocol a timer per connection. */
sb_timer_t *sb_ws_timer(sb_ws_t *ws);
size_t sb_ws_queued(const sb_ws_t *ws);

#endif
