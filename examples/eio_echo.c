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

static const sb_eio_handler_t echo_handler = {on_open, on_message, on_close};

int main(int argc, char **argv) {
    sb_config_t cfg;
    char err[256];
    size_t sessions = 0;
    int rc = sb_config_from_args(&cfg, argc, argv);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    sb_server_t *srv = sb_server_create(&cfg, err, sizeof err);
    if (!srv || !sb_server_eio_endpoint(srv, "/engine.io/", &echo_handler, &sessions)) {
        fprintf(stderr, "eio_echo: %s\n", srv ? "cannot add the endpoint" : err);
        sb_server_destroy(srv);
        sb_config_dispose(&cfg);
        return 1;
    }
    rc = sb_server_run(srv);
    sb_server_destroy(srv);
    sb_config_dispose(&cfg);
    return rc;
}
