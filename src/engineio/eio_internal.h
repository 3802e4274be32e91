/* Private to src/engineio/. */
#ifndef SB_EIO_INTERNAL_H
#define SB_EIO_INTERNAL_H

#include "engineio/engineio.h"
#include "core/map.h"
#include "core/pool.h"
#include "core/random.h"
#include "engineio/packet.h"

#define SB_EIO_SID_LEN 20

/* What only a polling session needs: allocated with a session that opens
 * on polling and freed once it has upgraded, so the far more common
 * websocket session does not carry it (issue 4: memory per connection). */
typedef struct {
    sb_eio_session_t *session;
    sb_ws_t *probe_ws;  /* websocket being upgraded to */
    sb_http_req_t *req; /* pending polling GET */
    sb_frame_t **q;     /* packets waiting for the next polling GET */
    size_t len, cap, bytes;
    sb_timer_t upgrade_timer;
    sb_task_t flush_task; /* answers the pending GET once this loop turn's packets are queued */
} sb_eio_polling_t;

/* The heartbeat timer of a session without a websocket of its own. */
typedef struct sb_eio_beat {
    sb_timer_t timer;
    sb_eio_session_t *session;
} sb_eio_beat_t;

/* One per connected client: 112 bytes, ordered so that the short fields
 * fill the sid's tail and nothing is padded (issue 17: bytes per
 * connection). No task of its own: a closing session waits on the
 * server's closing list. */
struct sb_eio_session {
    char sid[SB_EIO_SID_LEN + 1];
    uint8_t transport; /* sb_eio_transport_t */
    bool closing : 1, upgrading : 1, probed : 1, awaiting_pong : 1;
    sb_peer_addr_t peer;
    sb_eio_server_t *srv;
    struct sb_eio_session *hash_next;
    struct sb_eio_session *closing_next; /* srv->closing, while closing */
    const char *close_reason;
    union {
        sb_ws_t *ws;   /* SB_EIO_WEBSOCKET: the active websocket transport */
        void *carrier; /* SB_EIO_CARRIED: the carrier's context */
    };
    sb_eio_polling_t *poll; /* NULL unless the transport is (still) polling */
    /* The heartbeat's timer when no websocket lends one (sb_ws_timer):
     * polling and carried sessions; NULL on a websocket. */
    sb_eio_beat_t *beat;
    void *ud;
    /* The handshake's Authorization header, NUL, its query string, NUL: one
     * allocation, and none at all when neither is kept (the query only when
     * it carries app parameters). */
    char *kept;
};

struct sb_eio_server {
    sb_loop_t *loop;
    sb_eio_config_t cfg;
    const sb_eio_handler_t *h;
    void *ud;
    sb_eio_session_t **buckets;
    size_t nbuckets, count;
    sb_eio_stats_t stats;
    uint16_t ws_close_code;     /* 1000, or 1001 while shutting down */
    sb_map_t handshake_buckets; /* peer address -> sb_eio_bucket_t */
    sb_pool_t sessions;         /* one per client: no malloc header */
    /* Dropped sessions, oldest first, released by close_task a few per
     * run (each posts again while some are left), so a storm of closes is
     * worked off between polls like other deferred work. */
    sb_eio_session_t *closing, *closing_last;
    sb_task_t close_task;
    sb_timer_cb ws_ping_cb;          /* sb_eio__on_ws_ping_timer */
    const sb_eio_carrier_t *carrier; /* NULL unless sessions are carried */
    sb_eio_handoff_fn handoff;       /* sessions of other processes (cfg.sid_prefix) */
    void *handoff_ud;
    sb_random_t random; /* session ids (session.c) */
};

/* Handshakes a client address may still make (thousandths), and when the
 * bucket was last filled. */
typedef struct {
    uint64_t at_ms;
    uint32_t tokens_milli;
} sb_eio_bucket_t;

/* registry.c: sessions by sid. */
int sb_eio__register(sb_eio_server_t *srv, sb_eio_session_t *s);
sb_eio_session_t *sb_eio__find(sb_eio_server_t *srv, const char *sid);
void sb_eio__unregister(sb_eio_server_t *srv, sb_eio_session_t *s);
/* error_answer.c: the reference server's error codes, answered as JSON. */
enum {
    SB_EIO_ERR_TRANSPORT,
    SB_EIO_ERR_SID,
    SB_EIO_ERR_METHOD,
    SB_EIO_ERR_BAD_REQUEST,
    SB_EIO_ERR_FORBIDDEN,
    SB_EIO_ERR_VERSION
};
void sb_eio__respond_error(sb_http_req_t *req, int code);
/* session.c: creation, sending and the close call the transports below;
 * the transports call back only session_state.c (no cycle between files). */
sb_eio_session_t *sb_eio__session_create(sb_eio_server_t *srv, const sb_http_req_t *req,
                                         sb_eio_transport_t t);
/* session_state.c */
void sb_eio__session_opened(sb_eio_session_t *s);
size_t sb_eio__open_packet(sb_eio_session_t *s, char *out, size_t cap);
/* Handles one packet from the client; returns false if the session closed. */
bool sb_eio__on_packet(sb_eio_session_t *s, const sb_eio_packet_t *pkt);
/* True when the session is closing, or has just been closed because its
 * pong is overdue: the timer wheel fires a tick late, a request must not
 * find a session alive past its deadline. */
bool sb_eio__expired(sb_eio_session_t *s);
/* Ends the session without a close packet (transport gone, ping timeout):
 * puts it on the server's closing list. */
void sb_eio__drop(sb_eio_session_t *s, const char *reason);
/* The timer of the session's heartbeat: its websocket's while that is open
 * (sb_ws_timer), else its own beat's; NULL when it has none (its websocket
 * is closing: the session goes with it). */
static inline sb_timer_t *sb_eio__ping_timer(sb_eio_session_t *s) {
    return s->beat                                     ? &s->beat->timer
           : s->transport == SB_EIO_WEBSOCKET && s->ws ? sb_ws_timer(s->ws)
                                                       : NULL;
}
/* session_state.c: moves the heartbeat's deadline onto the session's new
 * websocket and frees its own timer (after an upgrade). */
void sb_eio__beat_to_ws(sb_eio_session_t *s);
/* session_state.c: (re)arms the heartbeat for a ping in pingInterval. */
void sb_eio__ping_start(sb_eio_session_t *s);
/* session.c: the heartbeat on a websocket's lent timer (srv->ws_ping_cb,
 * set by server.c, so that session_state.c and the transports arm it
 * without calling session.c). */
void sb_eio__on_ws_ping_timer(sb_timer_t *t);
/* session.c: the server's close task, which releases closing sessions. */
void sb_eio__on_close_task(sb_task_t *t);
/* polling.c */
extern const char sb_eio__no_store[]; /* the header every polling answer carries */
void sb_eio__polling_get(sb_eio_session_t *s, sb_http_req_t *req);
void sb_eio__polling_post(sb_eio_session_t *s, sb_http_req_t *req);
int sb_eio__polling_enqueue(sb_eio_session_t *s, sb_frame_t *f);
/* Answers the pending GET with the queue, or with a noop when empty. */
void sb_eio__polling_flush(sb_eio_session_t *s, bool noop_if_empty);
void sb_eio__polling_clear(sb_eio_session_t *s);
/* After an upgrade: sends what is still queued over the websocket and frees
 * the polling state. */
void sb_eio__polling_move_to_ws(sb_eio_session_t *s);
/* The polling state of a new polling session; NULL when out of memory. */
sb_eio_polling_t *sb_eio__polling_create(sb_eio_session_t *s);
/* Drops what is queued and frees the polling state (no-op without one). */
void sb_eio__polling_free(sb_eio_session_t *s);
/* websocket.c */
/* The websocket of a session that starts on WebSocket; NULL on failure. */
sb_ws_t *sb_eio__ws_accept(sb_eio_session_t *s, sb_http_req_t *req);
void sb_eio__ws_upgrade(sb_eio_session_t *s, sb_http_req_t *req);
void sb_eio__ws_refuse(sb_eio_server_t *srv, sb_http_req_t *req);
void sb_eio__ws_detach(sb_eio_session_t *s);

#endif
