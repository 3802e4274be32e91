/* A small chat-room server: "nick" sets a name, "join" enters a room (and
 * tells the room), "say" sends a line to everyone in your rooms. Shows the
 * socket data pointer, rooms and broadcasts with `except`.
 *   ./chat_room --port 3000 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <switchboard.h>

typedef struct {
    char nick[33];
    char room[65];
} member_t;

/* Copies a JSON string argument without its quotes (escapes kept as they
 * are: this example forwards names verbatim inside JSON). */
static bool str_arg(const sb_call_t *call, size_t i, char *out, size_t cap) {
    size_t n;
    const char *p = sb_call_arg(call, i, &n);
    if (!p || n < 3 || p[0] != '"' || n - 2 >= cap)
        return false;
    memcpy(out, p + 1, n - 2);
    out[n - 2] = '\0';
    return true;
}

static void on_connection(sb_socket_t *s, void *ud) {
    member_t *m = calloc(1, sizeof *m);
    if (m)
        snprintf(m->nick, sizeof m->nick, "guest-%.6s", sb_socket_id(s));
    sb_socket_set_data(s, m);
}

static void on_disconnect(sb_socket_t *s, const char *reason, void *ud) {
    free(sb_socket_get_data(s));
}

static void reply_bool(sb_call_t *call, bool ok) {
    sb_call_reply(call, ok ? "true" : "false", ok ? 4 : 5);
}

static void on_nick(sb_call_t *call, void *ud) {
    member_t *m = sb_socket_get_data(sb_call_socket(call));
    reply_bool(call, m && str_arg(call, 0, m->nick, sizeof m->nick));
}

static void on_join(sb_call_t *call, void *ud) {
    sb_socket_t *s = sb_call_socket(call);
    member_t *m = sb_socket_get_data(s);
    char line[160];
    if (!m || !str_arg(call, 0, m->room, sizeof m->room) || sb_socket_join(s, m->room)) {
        reply_bool(call, false);
        return;
    }
    const char *rooms[] = {m->room};
    sb_target_t t = {.rooms = rooms, .nrooms = 1, .except_socket = s};
    int n = snprintf(line, sizeof line, "\"%s joined\"", m->nick);
    sb_nsp_emit(sb_socket_namespace(s), &t, "notice", line, (size_t)n);
    reply_bool(call, true);
}

static void on_say(sb_call_t *call, void *ud) {
    sb_socket_t *s = sb_call_socket(call);
    member_t *m = sb_socket_get_data(s);
    char text[512], line[640];
    if (!m || !m->room[0] || !str_arg(call, 0, text, sizeof text))
        return;
    int n = snprintf(line, sizeof line, "\"%s\",\"%s\"", m->nick, text);
    const char *rooms[] = {m->room};
    sb_target_t t = {.rooms = rooms, .nrooms = 1};
    sb_nsp_emit(sb_socket_namespace(s), &t, "said", line, (size_t)n);
}

int main(int argc, char **argv) {
    int rc;
    sb_server_t *srv = sb_server_create_from_args(argc, argv, &rc);
    if (!srv)
        return rc;
    sb_nsp_t *nsp = sb_server_namespace(srv, "/");
    sb_nsp_on_connection(nsp, on_connection, NULL);
    sb_nsp_on_disconnect(nsp, on_disconnect, NULL);
    sb_nsp_on(nsp, "nick", on_nick, NULL);
    sb_nsp_on(nsp, "join", on_join, NULL);
    sb_nsp_on(nsp, "say", on_say, NULL);
    rc = sb_server_run(srv);
    sb_server_destroy(srv);
    return rc;
}
