/* Raw Engine.IO echo server on /engine.io/ (both transports and the
 * upgrade): every message comes back, text or binary. Connect with the
 * engine.io-client package: new Socket("ws://localhost:3000"). */
#include <stdio.h>
#include <switchboard.h>

static void on_open(sb_eio_session_t *s, void *ud) {
    size_t *sessions = ud;
    (*sessions)++;
    sb_eio_send_message(s, "hello", 5, false);
}

static void on_message(sb_eio_session_t *s, const char *p, size_t n, bool binary) {
    sb_eio_send_message(s, p, n, binary);
}

static void on_close(sb_eio_session_t *s, const char *reason) {
    sb_log_info("session %s closed: %s", sb_eio_sid(s), reason);
}

static const sb_eio_callbacks_t echo = {on_open, on_message, on_close};

int main(int argc, char **argv) {
    int rc;
    size_t sessions = 0;
    sb_server_t *srv = sb_server_create_from_args(argc, argv, &rc);
    if (!srv)
        return rc;
    if (sb_server_add_eio_endpoint(srv, "/engine.io/", &echo, &sessions) != SB_OK) {
        fprintf(stderr, "eio_echo: cannot add the endpoint\n");
        sb_server_destroy(srv);
        return 1;
    }
    rc = sb_server_run(srv);
    sb_server_destroy(srv);
    return rc;
}
