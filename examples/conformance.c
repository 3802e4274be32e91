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

static const sb_eio_callbacks_t eio_echo_handler = {NULL, eio_echo, NULL};

/* The suite reads the CONNECT reply and then the "auth" event with two
 * separate waits, and its WebSocket client (ws 8.5) hands over every
 * message of one TCP read at once: when both packets arrive together the
 * second is lost (the Node reference fails these tests that way too, a few
 * times per run on a busy machine). So "auth" follows a few milliseconds
 * after the CONNECT reply rather than in the same write. */
#define AUTH_DELAY_MS 20

typedef struct {
    sb_socket_t *socket;
    size_t len;
    char auth[]; /* the CONNECT payload, JSON */
} pending_auth_t;

/* The CONNECT payload is only visible to middleware: keep a copy on the
 * socket until the connection handler takes it. */
static int keep_auth(sb_socket_t *s, const char *auth, size_t n, sb_refusal_t *why, void *ud) {
    pending_auth_t *p = malloc(sizeof *p + n + 1);
    if (!p)
        return SB_ENOMEM;
    memcpy(p->auth, auth, n);
    p->auth[n] = '\0';
    p->len = n;
    free(sb_socket_get_data(s));
    sb_socket_set_data(s, p);
    return SB_OK;
}

static void send_auth(sb_alarm_t *a, void *ud) {
    pending_auth_t *p = ud;
    if (sb_socket_connected(p->socket))
        sb_socket_emit(p->socket, "auth", p->auth, p->len);
    sb_socket_unref(p->socket);
    free(p);
    sb_alarm_destroy(a);
}

static void send_auth_later(sb_socket_t *s, void *srv) {
    pending_auth_t *p = sb_socket_get_data(s);
    sb_socket_set_data(s, NULL);
    if (!p)
        return;
    sb_alarm_t *a = sb_alarm_create(srv, send_auth, p);
    if (!a) {
        free(p);
        return;
    }
    p->socket = s;
    sb_socket_ref(s);
    sb_alarm_start(a, AUTH_DELAY_MS, 0);
}

/* The call's attachments, for echoing them (at most 64). */
static size_t attachments(const sb_call_t *call, sb_bytes_t att[64]) {
    size_t natt = sb_call_attachment_count(call);
    natt = natt < 64 ? natt : 64;
    for (size_t i = 0; i < natt; i++)
        att[i].p = sb_call_attachment(call, i, &att[i].n);
    return natt;
}

static void message_back(sb_call_t *call, void *ud) {
    sb_bytes_t att[64];
    size_t n, natt = attachments(call, att);
    const char *args = sb_call_args(call, &n);
    sb_socket_emit_binary(sb_call_socket(call), "message-back", args, n, att, natt);
}

static void ack_with_args(sb_call_t *call, void *ud) {
    sb_bytes_t att[64];
    size_t n, natt = attachments(call, att);
    const char *args = sb_call_args(call, &n);
    sb_call_reply_binary(call, args, n, att, natt);
}

static void add_namespace(sb_server_t *srv, const char *name, bool with_messages) {
    sb_nsp_t *nsp = sb_server_namespace(srv, name);
    sb_nsp_use(nsp, keep_auth, NULL);
    sb_nsp_on_connection(nsp, send_auth_later, srv);
    if (!with_messages)
        return;
    sb_nsp_on(nsp, "message", message_back, NULL);
    sb_nsp_on(nsp, "message-with-ack", ack_with_args, NULL);
}

int main(int argc, char **argv) {
    int rc;
    sb_server_t *srv = sb_server_create_from_args(argc, argv, &rc);
    if (!srv)
        return rc;
    if (sb_server_add_eio_endpoint(srv, "/engine.io/", &eio_echo_handler, NULL) != SB_OK) {
        fprintf(stderr, "conformance: cannot add the endpoint\n");
        sb_server_destroy(srv);
        return 1;
    }
    add_namespace(srv, "/", true);
    add_namespace(srv, "/custom", false);
    rc = sb_server_run(srv);
    sb_server_destroy(srv);
    return rc;
}
