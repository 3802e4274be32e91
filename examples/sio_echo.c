/* Socket.IO echo server: acks and emits echoed byte-exact (binary too),
 *   ./sio_echo --port 3000        then connect with socket.io-client */
#include <stdio.h>
#include <string.h>
#include <switchboard.h>

/* Raw JSON of the arguments from index i on (comma-separated). */
static sb_str_t args_from(const sb_sio_event_t *ev, size_t i) {
    if (i >= ev->nargs)
        return SB_STR_NULL;
    const char *end = ev->args.p + ev->args.n;
    return sb_str(ev->arg[i].p, (size_t)(end - ev->arg[i].p));
}

/* Room name from a JSON string argument (no escapes expected here). */
static sb_str_t room_arg(const sb_sio_event_t *ev, size_t i) {
    if (i >= ev->nargs || ev->arg[i].n < 2 || ev->arg[i].p[0] != '"')
        return SB_STR_NULL;
    return sb_str(ev->arg[i].p + 1, ev->arg[i].n - 2);
}

static void on_echo(sb_sio_event_t *ev, void *ud) {
    if (ev->has_ack)
        sb_sio_reply_binary(ev, ev->args, ev->attachments, ev->nattachments);
    else
        sb_sio_emit_binary(ev->socket, "echo", ev->args, ev->attachments, ev->nattachments);
}

static void on_join_leave(sb_sio_event_t *ev, void *ud) {
    sb_str_t room = room_arg(ev, 0);
    int rc = ud ? sb_sio_join(ev->socket, room) : sb_sio_leave(ev->socket, room);
    sb_sio_reply(ev, rc == SB_OK || !ud ? SB_LIT("true") : SB_LIT("false"));
}

static void on_relay(sb_sio_event_t *ev, void *ud) {
    bool with_except = ud != NULL;
    sb_str_t room = room_arg(ev, 0), except = room_arg(ev, 1);
    sb_sio_target_t t = {.rooms = &room, .nrooms = 1};
    if (with_except)
        t.except = &except, t.nexcept = 1;
    else
        t.except_socket = ev->socket;
    sb_sio_broadcast(sb_sio_socket_nsp(ev->socket), &t, "relay", args_from(ev, with_except ? 2 : 1),
                     ev->attachments, ev->nattachments);
}

static void on_answer(sb_sio_socket_t *s, const sb_sio_event_t *ack, void *ud) {
    if (!sb_sio_socket_connected(s))
        return;
    if (ack)
        sb_sio_emit(s, "answer", ack->args);
    else
        sb_sio_emit(s, "answer_timeout", SB_STR_NULL);
}

static void on_ask(sb_sio_event_t *ev, void *ud) {
    sb_sio_emit_with_ack(ev->socket, "question", ev->args, 2000, on_answer, NULL);
}

static void on_disconnect_me(sb_sio_event_t *ev, void *ud) { sb_sio_disconnect(ev->socket); }

/* auth {"deny":"why"} refuses the connection with message "why". */
static int gate(sb_sio_socket_t *s, sb_str_t auth, sb_sio_refusal_t *why, void *ud) {
    const char *p = memmem(auth.p, auth.n, "\"deny\":\"", 8);
    if (!p)
        return SB_OK;
    const char *q = memchr(p + 8, '"', (size_t)(auth.p + auth.n - p - 8));
    snprintf(why->message, sizeof why->message, "%.*s", q ? (int)(q - p - 8) : 0, p + 8);
    return SB_EAUTH;
}

static void setup(sb_sio_nsp_t *nsp) {
    sb_sio_use(nsp, gate, NULL);
    sb_sio_on(nsp, "echo", on_echo, NULL);
    sb_sio_on(nsp, "join", on_join_leave, "join");
    sb_sio_on(nsp, "leave", on_join_leave, NULL);
    sb_sio_on(nsp, "relay", on_relay, NULL);
    sb_sio_on(nsp, "relay_except", on_relay, "except");
    sb_sio_on(nsp, "ask", on_ask, NULL);
    sb_sio_on(nsp, "disconnect_me", on_disconnect_me, NULL);
}

int main(int argc, char **argv) {
    sb_config_t cfg;
    char err[256];
    int rc = sb_config_from_args(&cfg, argc, argv);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    sb_server_t *srv = sb_server_create(&cfg, err, sizeof err);
    if (!srv) {
        sb_config_dispose(&cfg);
        fprintf(stderr, "sio_echo: %s\n", err);
        return 1;
    }
    setup(sb_sio_of(sb_server_sio(srv), "/"));
    setup(sb_sio_of(sb_server_sio(srv), "/admin"));
    rc = sb_server_run(srv);
    sb_server_destroy(srv);
    sb_config_dispose(&cfg);
    return rc;
}
