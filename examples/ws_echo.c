/* Raw WebSocket echo server on /echo: every message comes back as it came
 * (text or binary); "close" closes with code 4000.
 *   ./ws_echo --port 3000        then: new WebSocket("ws://localhost:3000/echo") */
#include <stdio.h>
#include <string.h>
#include <switchboard.h>

static void on_open(sb_ws_t *ws, void *ud) {
    size_t *opened = ud;
    (*opened)++;
    sb_ws_send(ws, "welcome", 7, false);
}

static void on_message(sb_ws_t *ws, const char *p, size_t n, bool binary) {
    if (!binary && n == 5 && memcmp(p, "close", 5) == 0) {
        sb_ws_close(ws, 4000, "bye");
        return;
    }
    sb_ws_send(ws, p, n, binary);
}

static void on_close(sb_ws_t *ws, uint16_t code) { sb_log_info("ws closed with %u", code); }

static const sb_ws_handler_t echo_handler = {on_message, on_close};

int main(int argc, char **argv) {
    sb_config_t cfg;
    char err[256];
    size_t opened = 0;
    int rc = sb_config_from_args(&cfg, argc, argv);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    sb_server_t *srv = sb_server_create(&cfg, err, sizeof err);
    if (!srv) {
        sb_config_dispose(&cfg);
        fprintf(stderr, "ws_echo: %s\n", err);
        return 1;
    }
    sb_server_ws_route(srv, "/echo", on_open, &echo_handler, &opened);
    rc = sb_server_run(srv);
    sb_log_info("served %zu websocket connections", opened);
    sb_server_destroy(srv);
    sb_config_dispose(&cfg);
    return rc;
}
