/* Socket.IO echo server: acks and emits echoed byte-exact (binary too),
 *   ./sio_echo --port 3000        then connect with socket.io-client */
#include <stdio.h>
#include <string.h>
#include <switchboard.h>

#define ROOM_MAX 256
#define MAX_ATT 64

/* Raw JSON of the arguments from index i on (comma-separated). */
static const char *args_from(const sb_call_t *call, size_t i, size_t *n) {
    size_t all_n, arg_n;
    const char *all = sb_call_args(call, &all_n), *arg = sb_call_arg(call, i, &arg_n);
    if (!arg) {
        *n = 0;
        return "";
    }
    *n = all_n - (size_t)(arg - all);
    return arg;
}

static void echo_attachments(const sb_call_t *call, sb_bytes_t *att, size_t *natt) {
    *natt = sb_call_attachment_count(call);
    for (size_t i = 0; i < *natt && i < MAX_ATT; i++)
        att[i].p = sb_call_attachment(call, i, &att[i].n);
    if (*natt > MAX_ATT)
        *natt = MAX_ATT;
}

static void on_echo(sb_call_t *call, void *ud) {
    sb_bytes_t att[MAX_ATT];
    size_t natt, n;
    const char *args = sb_call_args(call, &n);
    echo_attachments(call, att, &natt);
    if (sb_call_wants_ack(call))
        sb_call_reply_binary(call, args, n, att, natt);
    else
        sb_socket_emit_binary(sb_call_socket(call), "echo", args, n, att, natt);
}

static void on_join_leave(sb_call_t *call, void *ud) {
    char room[ROOM_MAX] = "";
    sb_socket_t *s = sb_call_socket(call);
    sb_call_arg_string(call, 0, room, sizeof room);
    int rc = ud ? sb_socket_join(s, room) : sb_socket_leave(s, room);
    sb_call_reply(call, rc == SB_OK || !ud ? "true" : "false", rc == SB_OK || !ud ? 4 : 5);
}

static void on_relay(sb_call_t *call, void *ud) {
    bool with_except = ud != NULL;
    char room[ROOM_MAX] = "", except[ROOM_MAX] = "";
    const char *rooms[] = {room}, *excepts[] = {except};
    sb_bytes_t att[MAX_ATT];
    size_t natt, n;
    sb_call_arg_string(call, 0, room, sizeof room);
    sb_target_t t = {.rooms = rooms, .nrooms = 1};
    if (with_except) {
        sb_call_arg_string(call, 1, except, sizeof except);
        t.except = excepts, t.nexcept = 1;
    } else {
        t.except_socket = sb_call_socket(call);
    }
    const char *args = args_from(call, with_except ? 2 : 1, &n);
    echo_attachments(call, att, &natt);
    sb_nsp_emit_binary(sb_socket_namespace(sb_call_socket(call)), &t, "relay", args, n, att, natt);
}

static void on_answer(sb_socket_t *s, const sb_call_t *answer, void *ud) {
    size_t n;
    if (!sb_socket_connected(s))
        return;
    if (answer) {
        const char *args = sb_call_args(answer, &n);
        sb_socket_emit(s, "answer", args, n);
    } else {
        sb_socket_emit(s, "answer_timeout", "", 0);
    }
}

static void on_ask(sb_call_t *call, void *ud) {
    size_t n;
    const char *args = sb_call_args(call, &n);
    sb_socket_emit_with_ack(sb_call_socket(call), "question", args, n, 2000, on_answer, NULL);
}

static void on_disconnect_me(sb_call_t *call, void *ud) {
    sb_socket_disconnect(sb_call_socket(call));
}

/* auth {"deny":"why"} refuses the connection with message "why". */
static int gate(sb_socket_t *s, const char *auth, size_t n, sb_refusal_t *why, void *ud) {
    char message[160];
    const char *p = memmem(auth, n, "\"deny\":\"", 8);
    if (!p)
        return SB_OK;
    const char *q = memchr(p + 8, '"', (size_t)(auth + n - p - 8));
    snprintf(message, sizeof message, "%.*s", q ? (int)(q - p - 8) : 0, p + 8);
    sb_refusal_set(why, message, NULL);
    return SB_EAUTH;
}

static void setup(sb_nsp_t *nsp) {
    sb_nsp_use(nsp, gate, NULL);
    sb_nsp_on(nsp, "echo", on_echo, NULL);
    sb_nsp_on(nsp, "join", on_join_leave, "join");
    sb_nsp_on(nsp, "leave", on_join_leave, NULL);
    sb_nsp_on(nsp, "relay", on_relay, NULL);
    sb_nsp_on(nsp, "relay_except", on_relay, "except");
    sb_nsp_on(nsp, "ask", on_ask, NULL);
    sb_nsp_on(nsp, "disconnect_me", on_disconnect_me, NULL);
}

int main(int argc, char **argv) {
    int rc;
    sb_server_t *srv = sb_server_create_from_args(argc, argv, &rc);
    if (!srv)
        return rc;
    setup(sb_server_namespace(srv, "/"));
    setup(sb_server_namespace(srv, "/admin"));
    rc = sb_server_run(srv);
    sb_server_destroy(srv);
    return rc;
}
