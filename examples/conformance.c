/* The server the official protocol test suites expect, on one port:
 *   - a raw Engine.IO echo at /engine.io/ (engine.io-protocol/test-suite)
 *   - Socket.IO at /socket.io/ with namespaces / and /custom
 *     (socket.io-protocol/test-suite): every socket first receives an
 *     "auth" event carrying its CONNECT payload; on "/", "message" comes
 *     back as "message-back" and "message-with-ack" is acknowledged with
 *     its own arguments.
 * Run it with the suites' settings:
 *   ./conformance --port 3000 --ping-interval 300 --ping-timeout 200 \
 *                 --connect-timeout 1000 --cors-origins '*'
 * tests/conformance/run-official.sh does that and runs both suites. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <switchboard.h>

static void eio_echo(sb_eio_session_t *s, const char *p, size_t n, bool binary) {
    sb_eio_send_message(s, p, n, binary);
}

static void eio_open(sb_eio_session_t *s, void *ud) {}
static void eio_close(sb_eio_session_t *s, const char *reason) {}

static const sb_eio_handler_t eio_echo_handler = {eio_open, eio_echo, eio_close};

/* The suite reads the CONNECT reply and then the "auth" event with two
 * separate waits, and its WebSocket client (ws 8.5) hands over every
 * message of one TCP read at once: when both packets arrive together the
 * second is lost (the Node reference fails these tests that way too, a few
 * times per run on a busy machine). So "auth" follows a few milliseconds
 * after the CONNECT reply rather than in the same write. */
#define AUTH_DELAY_MS 20

typedef struct {
    sb_timer_t timer;
    sb_sio_socket_t *socket;
    char auth[]; /* the CONNECT payload, JSON */
} pending_auth_t;

/* The CONNECT payload is only visible to middleware: keep a copy on the
 * socket until the connection handler takes it. */
static int keep_auth(sb_sio_socket_t *s, sb_str_t auth, sb_sio_refusal_t *why, void *ud) {
    pending_auth_t *p = malloc(sizeof *p + auth.n + 1);
    if (!p)
        return SB_ENOMEM;
    memcpy(p->auth, auth.p, auth.n);
    p->auth[auth.n] = '\0';
    free(sb_sio_socket_get_data(s));
    sb_sio_socket_set_data(s, p);
    return SB_OK;
}

static void send_auth(sb_timer_t *t) {
    pending_auth_t *p = sb_container_of(t, pending_auth_t, timer);
    if (sb_sio_socket_connected(p->socket))
        sb_sio_emit(p->socket, "auth", sb_str(p->auth, strlen(p->auth)));
    sb_sio_socket_unref(p->socket);
    free(p);
}

static void send_auth_later(sb_sio_socket_t *s, void *loop) {
    pending_auth_t *p = sb_sio_socket_get_data(s);
    sb_sio_socket_set_data(s, NULL);
    if (!p)
        return;
    p->socket = s;
    sb_sio_socket_ref(s);
    sb_timer_init(loop, &p->timer, send_auth);
    sb_timer_start(&p->timer, AUTH_DELAY_MS);
}

static void message_back(sb_sio_event_t *ev, void *ud) {
    sb_sio_emit_binary(ev->socket, "message-back", ev->args, ev->attachments, ev->nattachments);
}

static void ack_with_args(sb_sio_event_t *ev, void *ud) {
    sb_sio_reply_binary(ev, ev->args, ev->attachments, ev->nattachments);
}

static void add_namespace(sb_server_t *srv, const char *name, bool with_messages) {
    sb_sio_nsp_t *nsp = sb_sio_of(sb_server_sio(srv), name);
    sb_sio_use(nsp, keep_auth, NULL);
    sb_sio_on_connection(nsp, send_auth_later, sb_server_loop(srv));
    if (!with_messages)
        return;
    sb_sio_on(nsp, "message", message_back, NULL);
    sb_sio_on(nsp, "message-with-ack", ack_with_args, NULL);
}

int main(int argc, char **argv) {
    sb_config_t cfg;
    char err[256];
    int rc = sb_config_from_args(&cfg, argc, argv);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    sb_server_t *srv = sb_server_create(&cfg, err, sizeof err);
    if (!srv || !sb_server_eio_endpoint(srv, "/engine.io/", &eio_echo_handler, NULL)) {
        fprintf(stderr, "conformance: %s\n", srv ? "cannot add the endpoint" : err);
        sb_server_destroy(srv);
        sb_config_dispose(&cfg);
        return 1;
    }
    add_namespace(srv, "/", true);
    add_namespace(srv, "/custom", false);
    rc = sb_server_run(srv);
    sb_server_destroy(srv);
    sb_config_dispose(&cfg);
    return rc;
}
