/* Engine.IO v4 server: sessions over HTTP long-polling and WebSocket, the
 * polling -> websocket upgrade, and server-initiated heartbeats. Above it a
 * session carries whole messages (text or binary). */
#ifndef SB_ENGINEIO_ENGINEIO_H
#define SB_ENGINEIO_ENGINEIO_H

#include <stdbool.h>
#include <stdint.h>

#include "core/frame.h"
#include "http/http.h"
#include "ws/ws.h"

typedef struct sb_eio_server sb_eio_server_t;
typedef struct sb_eio_session sb_eio_session_t;

/* SB_EIO_CARRIED: a session carried by another protocol (the plain JSON
 * WebSocket door): no Engine.IO framing reaches the network. */
typedef enum { SB_EIO_POLLING, SB_EIO_WEBSOCKET, SB_EIO_CARRIED } sb_eio_transport_t;

typedef struct {
    /* A session opened; the open packet is already queued. */
    void (*on_open)(sb_eio_session_t *s, void *ud);
    /* A message arrived; p is valid only during the call. */
    void (*on_message)(sb_eio_session_t *s, const char *p, size_t n, bool binary);
    /* The session is gone (reason as Engine.IO names it: "transport close",
     * "ping timeout", "forced close", "transport error", "server shutting
     * down"); it is freed right after. */
    void (*on_close)(sb_eio_session_t *s, const char *reason);
} sb_eio_handler_t;

typedef struct {
    uint32_t ping_interval_ms, ping_timeout_ms, upgrade_timeout_ms;
    size_t max_payload;     /* maxHttpBufferSize */
    size_t max_queue_bytes; /* polling packets waiting for a GET before the session is cut off */
    uint32_t handshakes_per_second_per_ip; /* token bucket, burst = 2 s worth; 0: no limit */
    bool allow_polling, allow_websocket;
    /* '\0', or the first character of every session id this server makes (a
     * base64url character): processes sharing a port each have their own,
     * so a request names the process that owns its session. */
    char sid_prefix;
    const sb_ws_config_t *ws;
} sb_eio_config_t;

typedef struct {
    uint64_t sessions_opened, upgrades, polling_sessions, websocket_sessions;
    uint64_t packets_in, packets_out;
    uint64_t active_polling, active_websocket; /* gauges */
    uint64_t volatile_dropped;   /* volatile packets for a polling client between its GETs */
    uint64_t handshakes_refused; /* over handshakes_per_second_per_ip: 429 */
} sb_eio_stats_t;

/* `cfg` is copied; cfg->ws must outlive the server. */
sb_eio_server_t *sb_eio_server_create(sb_loop_t *loop, const sb_eio_config_t *cfg,
                                      const sb_eio_handler_t *h, void *ud);
/* A request whose sid is not here and starts with another prefix than
 * cfg.sid_prefix goes to fn(req, prefix, ud): SB_OK when fn took the
 * request (passed it to the process that owns the session); otherwise the
 * request is answered here: SB_EAGAIN with 503 (that process is busy),
 * anything else as an unknown session. */
typedef int (*sb_eio_handoff_fn)(sb_http_req_t *req, char prefix, void *ud);
void sb_eio_server_set_handoff(sb_eio_server_t *srv, sb_eio_handoff_fn fn, void *ud);
/* Closes every session (close packet, reason "server shutting down"). */
void sb_eio_server_close_all(sb_eio_server_t *srv);
void sb_eio_server_destroy(sb_eio_server_t *srv);
size_t sb_eio_server_session_count(const sb_eio_server_t *srv);
const sb_eio_stats_t *sb_eio_server_stats(const sb_eio_server_t *srv);
/* The HTTP handler to route the Engine.IO path to (ud = the server). */
void sb_eio_handle_request(sb_http_req_t *req, void *srv);
/* Takes one token of the per-address handshake bucket
 * (handshakes_per_second_per_ip) for a new session of any kind: other doors
 * into the same server (plain WebSocket, Server-Sent Events) spend the same
 * bucket as Engine.IO handshakes. False (counted in handshakes_refused):
 * answer 429. */
bool sb_eio_admit_handshake(sb_eio_server_t *srv, const sb_http_req_t *req);

/* Queues a packet: f holds an encoded Engine.IO text packet ("4hello") or,
 * with SB_FRAME_BINARY, raw message bytes; f->next chains more packets sent
 * in order. The session takes its own references. Returns SB_OK, SB_ECLOSED,
 * or SB_ETOOBIG (slow consumer, the session is closed). */
int sb_eio_send_frame(sb_eio_session_t *s, sb_frame_t *f);
/* Sends a message: text gets the "4" prefix here. */
int sb_eio_send_message(sb_eio_session_t *s, const char *p, size_t n, bool binary);
/* Holds what is sent until released (sb_conn_hold_output): on a websocket
 * transport only; elsewhere (polling answers when asked, a carrier has its
 * own framing) it does nothing. The caller bounds the hold. */
void sb_eio_hold_output(sb_eio_session_t *s, bool hold);
/* Sends a close packet and ends the session; on_close follows. Idempotent. */
void sb_eio_close(sb_eio_session_t *s, const char *reason);

/* ---- carried sessions ------------------------------------------------------
 * A server whose sessions are carried by another protocol: it is not routed
 * to HTTP; the carrier opens sessions from its own upgrade requests, turns
 * what the session sends into its protocol, and feeds the session Engine.IO
 * packets made from what its client says. Heartbeats run as usual: the
 * carrier gets each ping ("2") and feeds "3" when its client proves alive. */
typedef struct {
    /* One packet the session sends: text ("2" ping, "4..." message, "1"
     * close) or, with SB_FRAME_BINARY, attachment bytes. f is borrowed.
     * Returns SB_OK, or an error that ends the session (slow consumer). */
    int (*send)(void *ctx, sb_frame_t *f);
    /* The session is gone (the reasons of on_close); called once, after
     * sb_eio_handler_t's on_close. ctx is not used by the server again. */
    void (*closed)(void *ctx, const char *reason);
} sb_eio_carrier_t;

/* Sets the carrier of every session of `srv` (c must outlive it). */
void sb_eio_server_set_carrier(sb_eio_server_t *srv, const sb_eio_carrier_t *c);
/* Opens a session for `req` (its Authorization header, query and peer
 * address are kept as for any handshake; the request itself is left to the
 * caller) and calls on_open. NULL when out of memory. */
sb_eio_session_t *sb_eio_carried_open(sb_eio_server_t *srv, const sb_http_req_t *req, void *ctx);
/* Feeds one Engine.IO text packet ("3", "40{...}", "42[...]"). Returns false
 * when the session has closed (now or before). */
bool sb_eio_carried_feed(sb_eio_session_t *s, const char *p, size_t n);
/* The carrier's connection is gone: the session ends ("transport close")
 * without sending anything more; `closed` still follows. */
void sb_eio_carried_end(sb_eio_session_t *s);

const char *sb_eio_sid(const sb_eio_session_t *s);
sb_eio_transport_t sb_eio_transport(const sb_eio_session_t *s);
void *sb_eio_get_data(const sb_eio_session_t *s);
void sb_eio_set_data(sb_eio_session_t *s, void *ud);
sb_eio_server_t *sb_eio_session_server(const sb_eio_session_t *s);
void *sb_eio_server_data(const sb_eio_server_t *srv);
/* Handshake request facts kept for the layers above (NUL-terminated, ""
 * when absent). The query holds the application's parameters only: it is
 * "" when the handshake carried just Engine.IO's own (EIO, transport, ...). */
const char *sb_eio_authorization(const sb_eio_session_t *s);
const char *sb_eio_query(const sb_eio_session_t *s);
/* The client's address as text ("127.0.0.1", "::1"). */
void sb_eio_remote_ip(const sb_eio_session_t *s, char *out, size_t cap);

/* Deep validators (core/validate.h): SB_OK, or SB_EPROTO when an invariant
 * is broken. A session: its sid registered, its transport state (polling
 * queue, upgrade, websocket, carrier) and its closing state consistent, a heartbeat
 * armed while a pong is awaited. The server: every session in its hash
 * bucket and valid, the counts and the transport gauges exact. O(size). */
int sb_eio_session_validate(const sb_eio_session_t *s);
int sb_eio_server_validate(const sb_eio_server_t *srv);

#endif
