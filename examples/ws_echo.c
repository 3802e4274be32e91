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

static const sb_ws_callbacks_t echo = {on_open, on_message, on_close};

int main(int argc, char **argv) {
    int rc;
    size_t opened = 0;
    sb_server_t *srv = sb_server_create_from_args(argc, argv, &rc);
    if (!srv)
        return rc;
    sb_server_add_ws_route(srv, "/echo", &echo, &opened);
    rc = sb_server_run(srv);
    sb_log_info("served %zu websocket connections", opened);
    sb_server_destroy(srv);
    return rc;
}
