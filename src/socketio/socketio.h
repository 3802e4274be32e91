/* Socket.IO v5 server on top of Engine.IO: namespaces with connection
 * middleware, event handlers, acknowledgements both ways, binary
 * attachments, rooms (one hub per namespace) and emits encoded once.
 * Payloads are relayed byte-exact: arguments are raw JSON slices. */
#ifndef SB_SOCKETIO_SOCKETIO_H
#define SB_SOCKETIO_SOCKETIO_H

#include <stdbool.h>
#include <stdint.h>

#include "core/frame.h"
#include "core/loop.h"
#include "core/str.h"
#include "engineio/engineio.h"
#include "hub/engine.h"
#include "hub/hub.h"

#define SB_SIO_MAX_ARGS 32
#define SB_SIO_ID_LEN 20

typedef struct sb_sio_server sb_sio_server_t;
typedef struct sb_sio_nsp sb_sio_nsp_t;
typedef struct sb_sio_socket sb_sio_socket_t;
typedef struct sb_sio_recovery sb_sio_recovery_t;

/* An incoming event or ack. Every slice is valid only during the callback. */
typedef struct {
    sb_sio_socket_t *socket;
    sb_str_t name; /* unescaped event name (events only) */
    sb_str_t args; /* raw JSON of the arguments, comma-separated, no brackets */
    size_t nargs;
    sb_str_t arg[SB_SIO_MAX_ARGS]; /* raw JSON of each argument */
    const sb_str_t *attachments;   /* binary attachments the placeholders refer to */
    size_t nattachments;
    bool has_ack;
    uint64_t ack_id;
} sb_sio_event_t;

typedef void (*sb_sio_event_fn)(sb_sio_event_t *ev, void *ud);
typedef void (*sb_sio_socket_fn)(sb_sio_socket_t *s, void *ud);
typedef void (*sb_sio_disconnect_fn)(sb_sio_socket_t *s, const char *reason, void *ud);
/* Server-to-client ack: ev is NULL when it timed out (or the socket left). */
typedef void (*sb_sio_ack_fn)(sb_sio_socket_t *s, const sb_sio_event_t *ev, void *ud);

/* Connection middleware: accept (return SB_OK) or refuse with a message and
 * optional raw JSON data for the client's connect_error (err.data). */
typedef struct {
    char message[160]; /* default "Not authorized" */
    char data[256];    /* raw JSON, or "" for none */
} sb_sio_refusal_t;
typedef int (*sb_sio_middleware_fn)(sb_sio_socket_t *s, sb_str_t auth_json, sb_sio_refusal_t *why,
                                    void *ud);
/* A middleware that decides later (it asks a backend) answers SB_EAGAIN,
 * holding a reference on the socket (sb_sio_socket_ref): the socket waits,
 * not connected (the client's connect timeout still runs), until the
 * middleware calls sb_sio_socket_resume() once. A second CONNECT to the
 * namespace meanwhile is a protocol error. */
/* True while the socket waits for such a middleware and its client is still there. */
bool sb_sio_socket_pending(const sb_sio_socket_t *s);
/* The decision: rc SB_OK runs the next middleware (then the socket
 * connects); any other rc refuses the socket with `why`. Returns SB_OK, or
 * SB_ECLOSED when the client left meanwhile (then only unref the socket:
 * it is gone). Either way the caller then drops its reference. */
int sb_sio_socket_resume(sb_sio_socket_t *s, int rc, const sb_sio_refusal_t *why);

typedef struct {
    uint32_t connect_timeout_ms;
    uint32_t max_attachments;
    int max_json_depth;
    uint32_t max_rooms_per_socket;
    uint32_t max_pending_acks;
    uint32_t events_per_second; /* token bucket per socket; 0: no limit */
    uint32_t events_burst;
    /* Comma list of event names with a bucket of their own (typing,
     * cursors): they never use up the one above. NULL or "": none. The
     * string must outlive the server. */
    const char *volatile_events;
    uint32_t volatile_per_second; /* 0: no limit; events_per_second 0 lifts both */
    uint32_t volatile_burst;
} sb_sio_config_t;

typedef struct {
    uint64_t events_in, events_out, acks_in, errors, rate_limited;
} sb_sio_stats_t;

sb_sio_server_t *sb_sio_server_create(sb_loop_t *loop, const sb_sio_config_t *cfg);
void sb_sio_server_destroy(sb_sio_server_t *srv);
/* The Engine.IO callbacks to create the Engine.IO server with (ud = srv). */
const sb_eio_handler_t *sb_sio_eio_handler(void);
const sb_sio_stats_t *sb_sio_server_stats(const sb_sio_server_t *srv);

/* Returns the namespace, creating it on first use ("/" always exists).
 * NULL on OOM or an invalid name. */
sb_sio_nsp_t *sb_sio_of(sb_sio_server_t *srv, const char *name);
sb_sio_nsp_t *sb_sio_find_nsp(sb_sio_server_t *srv, sb_str_t name);
/* Namespaces in creation order ("/" first); NULL past the end. */
sb_sio_nsp_t *sb_sio_nsp_at(sb_sio_server_t *srv, size_t i);
const char *sb_sio_nsp_name(const sb_sio_nsp_t *nsp);
sb_hub_t *sb_sio_nsp_hub(sb_sio_nsp_t *nsp);
size_t sb_sio_nsp_socket_count(const sb_sio_nsp_t *nsp);
/* Namespace callbacks; the handler tables are copied, names are copied. */
int sb_sio_use(sb_sio_nsp_t *nsp, sb_sio_middleware_fn fn, void *ud);
void sb_sio_on_connection(sb_sio_nsp_t *nsp, sb_sio_socket_fn fn, void *ud);
void sb_sio_on_disconnect(sb_sio_nsp_t *nsp, sb_sio_disconnect_fn fn, void *ud);
int sb_sio_on(sb_sio_nsp_t *nsp, const char *event, sb_sio_event_fn fn, void *ud);
/* Called for events with no handler of their own. */
void sb_sio_on_any(sb_sio_nsp_t *nsp, sb_sio_event_fn fn, void *ud);
/* Called instead of the handler for an event over the socket's rate
 * (events_per_second); without it such events are dropped and counted. */
void sb_sio_on_rate_limited(sb_sio_nsp_t *nsp, sb_sio_event_fn fn, void *ud);

/* ---- sockets ------------------------------------------------------------- */
const char *sb_sio_socket_id(const sb_sio_socket_t *s);
sb_sio_nsp_t *sb_sio_socket_nsp(const sb_sio_socket_t *s);
sb_eio_session_t *sb_sio_socket_session(const sb_sio_socket_t *s);
/* The handshake request behind the socket: Authorization header, query
 * string and peer address ("" when absent). */
const char *sb_sio_socket_authorization(const sb_sio_socket_t *s);
const char *sb_sio_socket_query(const sb_sio_socket_t *s);
void sb_sio_socket_remote_ip(const sb_sio_socket_t *s, char *out, size_t cap);
void *sb_sio_socket_get_data(const sb_sio_socket_t *s);
/* The connected socket of the namespace with that id, or NULL. A walk over
 * the namespace's sockets, O(sockets): for the operations API, not for a
 * hot path. */
sb_sio_socket_t *sb_sio_nsp_find_socket(sb_sio_nsp_t *nsp, sb_str_t id);
/* The socket a member of a namespace's hub is (for sb_hub_room_members()),
 * or NULL for a member of another kind (an SSE subscriber). */
sb_sio_socket_t *sb_sio_socket_of_member(const sb_hub_member_t *m);
/* The socket's member of its namespace's hub (for a hub keeper, hub.h). */
sb_hub_member_t *sb_sio_socket_member(sb_sio_socket_t *s);
void sb_sio_socket_set_data(sb_sio_socket_t *s, void *ud);
bool sb_sio_socket_connected(const sb_sio_socket_t *s);
/* What is sent to a connected socket (its CONNECT answer first) waits in
 * its transport until sb_sio_socket_release_output(), the socket's close,
 * or max_ms: a connect handler whose first event needs a store read sends
 * the answer and that event in one write. Websocket transport only. */
#define SB_SIO_HOLD_MAX_MS 5000 /* max_ms above this is taken as this */
void sb_sio_socket_hold_output(sb_sio_socket_t *s, uint32_t max_ms);
void sb_sio_socket_release_output(sb_sio_socket_t *s);
/* Keeps the socket's memory alive across asynchronous work (a store
 * commit): check sb_sio_socket_connected() before using it again. */
void sb_sio_socket_ref(sb_sio_socket_t *s);
void sb_sio_socket_unref(sb_sio_socket_t *s);
/* Rooms of the socket's namespace. SB_OK, SB_ETOOBIG, SB_EINVAL, SB_ENOMEM. */
int sb_sio_join(sb_sio_socket_t *s, sb_str_t room);
int sb_sio_leave(sb_sio_socket_t *s, sb_str_t room);
bool sb_sio_in_room(const sb_sio_socket_t *s, sb_str_t room);
/* Visits the rooms the socket is in (no stated order) until cb returns
 * false. Names are valid during the call only; cb must not make any socket
 * join or leave a room. Also works in the disconnect callback, which runs
 * before the socket leaves its rooms. */
void sb_sio_socket_rooms(const sb_sio_socket_t *s, bool (*cb)(sb_str_t room, void *ud), void *ud);
/* Disconnects from the namespace ("server namespace disconnect"). */
void sb_sio_disconnect(sb_sio_socket_t *s);

/* ---- connection state recovery (the protocol of Socket.IO 4.6+) ----------------
 * With recovery on, the CONNECT reply carries a private session id (`pid`).
 * When such a socket disconnects for any reason but the server's own
 * sb_sio_disconnect(), its id, owner and rooms are kept for window_ms. A
 * client that reconnects sends {pid, offset} in its CONNECT auth (the stock
 * socket.io-client does, unasked); once the middleware has accepted it, the
 * socket takes the kept id and rooms back and is "recovered" (the client
 * sees socket.recovered === true). The offset is the last string argument
 * of the last event the client received: what to replay after it is up to
 * the connection callback (sb_sio_socket_offset()). */
typedef struct {
    uint32_t window_ms;  /* how long a disconnected session stays recoverable; 0: off */
    size_t max_sessions; /* disconnected sessions kept at most (oldest dropped); 0: 100000 */
    /* Which rooms a kept session restores; NULL: all of them. */
    bool (*keep_room)(sb_str_t room, void *ud);
    /* A connected socket joined or left a room it would keep (keep_room),
     * e.g. to save the session's rooms where a killed process finds them;
     * NULL: not told. */
    void (*rooms_changed)(sb_sio_socket_t *s, void *ud);
    void *ud;
} sb_sio_recovery_config_t;

/* Turns recovery on for the namespace (cfg copied). A window of 0 leaves it
 * off. SB_OK, SB_EEXISTS (already on), SB_ENOMEM. */
int sb_sio_recovery_enable(sb_sio_nsp_t *nsp, const sb_sio_recovery_config_t *cfg);
/* Keeps a session as if its socket had disconnected at disconnected_at_ms
 * (wall clock): e.g. sessions read back from storage at start-up, so they
 * survive a restart. pid and sid 1..20 bytes; owner may be NULL. SB_OK,
 * SB_EINVAL (recovery off, bad ids), SB_ENOMEM. */
int sb_sio_recovery_keep(sb_sio_nsp_t *nsp, const char *pid, const char *sid, const char *owner,
                         const sb_str_t *rooms, size_t nrooms, int64_t disconnected_at_ms);
/* The socket's private session id; "" when recovery is off. */
const char *sb_sio_socket_pid(const sb_sio_socket_t *s);
/* True when the socket took over a kept session. */
bool sb_sio_socket_recovered(const sb_sio_socket_t *s);
/* When the session a recovered socket took over had disconnected (wall
 * clock, ms); 0 when the socket was not recovered. Only known during its
 * connection callback (0 after). */
int64_t sb_sio_socket_recovered_from(const sb_sio_socket_t *s);
/* The offset a reconnecting client sent with its pid ("" when none), also
 * when its session could not be recovered (expired, unknown). */
const char *sb_sio_socket_offset(const sb_sio_socket_t *s);
/* Binds the session to an owner (a user id), from a middleware: a kept
 * session is recovered only by a socket with the same owner. */
int sb_sio_socket_set_owner(sb_sio_socket_t *s, const char *owner);

/* ---- emitting: `args` is raw JSON, comma-separated, no brackets ------------ */
int sb_sio_emit(sb_sio_socket_t *s, const char *event, sb_str_t args);
/* With binary attachments: args contain {"_placeholder":true,"num":i}. */
int sb_sio_emit_binary(sb_sio_socket_t *s, const char *event, sb_str_t args,
                       const sb_str_t *attachments, size_t n);
/* SB_OK: cb will be called exactly once (answer, timeout or socket gone);
 * an error (SB_ECLOSED, SB_ETOOBIG: too many acks pending, SB_ENOMEM):
 * cb is never called. */
int sb_sio_emit_with_ack(sb_sio_socket_t *s, const char *event, sb_str_t args, uint32_t timeout_ms,
                         sb_sio_ack_fn cb, void *ud);
/* Same, with binary attachments the placeholders of args refer to. */
int sb_sio_emit_binary_with_ack(sb_sio_socket_t *s, const char *event, sb_str_t args,
                                const sb_str_t *attachments, size_t n, uint32_t timeout_ms,
                                sb_sio_ack_fn cb, void *ud);
/* Answers ack `ack_id` of a socket (kept from an event with has_ack). */
int sb_sio_ack(sb_sio_socket_t *s, uint64_t ack_id, sb_str_t args);
/* Answers an event's ack; a no-op returning SB_OK when it asked for none. */
int sb_sio_reply(const sb_sio_event_t *ev, sb_str_t args);
int sb_sio_reply_binary(const sb_sio_event_t *ev, sb_str_t args, const sb_str_t *attachments,
                        size_t n);
int sb_sio_ack_binary(sb_sio_socket_t *s, uint64_t ack_id, sb_str_t args,
                      const sb_str_t *attachments, size_t n);

/* Broadcast in a namespace: to rooms (or all), minus except rooms / socket. */
typedef struct {
    const sb_str_t *rooms;
    size_t nrooms;
    bool all;
    const sb_str_t *except;
    size_t nexcept;
    const sb_sio_socket_t *except_socket;
    bool is_volatile;
    bool local; /* this node only: not shared through the engine */
} sb_sio_target_t;
/* Encodes the packet once and shares it; returns local deliveries or < 0.
 * With an engine attached (and t->local false), the broadcast is also
 * published once for the other nodes. */
long sb_sio_broadcast(sb_sio_nsp_t *nsp, const sb_sio_target_t *t, const char *event, sb_str_t args,
                      const sb_str_t *attachments, size_t n);

/* False when a broadcast to t would reach nobody: no local socket but
 * t->except_socket in its one room, and no other node (no engine, or
 * t->local). True whenever that is not certain (t->all, several rooms,
 * excepted rooms). A caller may then skip making the payload at all. */
bool sb_sio_broadcast_reaches(const sb_sio_nsp_t *nsp, const sb_sio_target_t *t);

/* Encodes an EVENT (binary when attachments) into a frame chain ready for
 * sb_eio_send_frame / hub delivery; NULL on OOM. */
sb_frame_t *sb_sio_encode_event(const sb_sio_nsp_t *nsp, const char *event, sb_str_t args,
                                const sb_str_t *attachments, size_t n, bool has_ack,
                                uint64_t ack_id);

/* The namespace's current connection, disconnect and catch-all callbacks
 * (NULL when unset), so that a layer above can chain to them
 * (socketio/hooks.c). Any out-pointer may be NULL. */
typedef struct {
    sb_sio_socket_fn conn_fn;
    void *conn_ud;
    sb_sio_disconnect_fn disc_fn;
    void *disc_ud;
    sb_sio_event_fn any_fn;
    void *any_ud;
} sb_sio_hooks_t;
void sb_sio_nsp_hooks(const sb_sio_nsp_t *nsp, sb_sio_hooks_t *out);
/* Attaches a cluster engine (NULL detaches): broadcasts are published
 * through it, every namespace is watched, and each socket is also in a room
 * named by its id (as in Node.js Socket.IO: other nodes address a socket
 * that way). Attach before sockets connect. */
void sb_sio_server_set_engine(sb_sio_server_t *srv, sb_engine_t *engine);
sb_engine_t *sb_sio_server_engine(const sb_sio_server_t *srv);

/* The loop the namespace's server runs on. */
sb_loop_t *sb_sio_nsp_loop(const sb_sio_nsp_t *nsp);

/* Deep validators (core/validate.h): SB_OK, or SB_EPROTO when an invariant
 * is broken. A socket: its id, its pending acks (counted, armed, ids
 * rising), and connected exactly when it is in its namespace's hub and its
 * client's list. A session: the Socket.IO client riding on an Engine.IO
 * session of sb_sio_eio_handler() and all its sockets, the connect deadline
 * over once one joined, a binary packet in flight still short of its
 * attachments. O(sockets of the client). */
int sb_sio_socket_validate(const sb_sio_socket_t *s);
int sb_sio_session_validate(const sb_eio_session_t *eio);

#endif
