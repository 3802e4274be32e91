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
static bool str_arg(const sb_sio_event_t *ev, size_t i, char *out, size_t cap) {
    if (i >= ev->nargs || ev->arg[i].n < 3 || ev->arg[i].p[0] != '"' || ev->arg[i].n - 2 >= cap)
        return false;
    memcpy(out, ev->arg[i].p + 1, ev->arg[i].n - 2);
    out[ev->arg[i].n - 2] = '\0';
    return true;
}

static void on_connection(sb_sio_socket_t *s, void *ud) {
    member_t *m = calloc(1, sizeof *m);
    if (m)
        snprintf(m->nick, sizeof m->nick, "guest-%.6s", sb_sio_socket_id(s));
    sb_sio_socket_set_data(s, m);
}

static void on_disconnect(sb_sio_socket_t *s, const char *reason, void *ud) {
    free(sb_sio_socket_get_data(s));
}

static void on_nick(sb_sio_event_t *ev, void *ud) {
    member_t *m = sb_sio_socket_get_data(ev->socket);
    bool ok = m && str_arg(ev, 0, m->nick, sizeof m->nick);
    sb_sio_reply(ev, ok ? SB_LIT("true") : SB_LIT("false"));
}

static void on_join(sb_sio_event_t *ev, void *ud) {
    member_t *m = sb_sio_socket_get_data(ev->socket);
    char line[160];
    if (!m || !str_arg(ev, 0, m->room, sizeof m->room) || sb_sio_join(ev->socket, sb_cstr(m->room))) {
        sb_sio_reply(ev, SB_LIT("false"));
        return;
    }
    sb_str_t room = sb_cstr(m->room);
    sb_sio_target_t t = {.rooms = &room, .nrooms = 1, .except_socket = ev->socket};
    int n = snprintf(line, sizeof line, "\"%s joined\"", m->nick);
    sb_sio_broadcast(sb_sio_socket_nsp(ev->socket), &t, "notice", sb_str(line, (size_t)n), NULL, 0);
    sb_sio_reply(ev, SB_LIT("true"));
}

static void on_say(sb_sio_event_t *ev, void *ud) {
    member_t *m = sb_sio_socket_get_data(ev->socket);
    char text[512], line[640];
    if (!m || !m->room[0] || !str_arg(ev, 0, text, sizeof text))
        return;
    int n = snprintf(line, sizeof line, "\"%s\",\"%s\"", m->nick, text);
    sb_str_t room = sb_cstr(m->room);
    sb_sio_target_t t = {.rooms = &room, .nrooms = 1};
    sb_sio_broadcast(sb_sio_socket_nsp(ev->socket), &t, "said", sb_str(line, (size_t)n), NULL, 0);
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
        fprintf(stderr, "chat_room: %s\n", err);
        return 1;
    }
    sb_sio_nsp_t *nsp = sb_sio_of(sb_server_sio(srv), "/");
    sb_sio_on_connection(nsp, on_connection, NULL);
    sb_sio_on_disconnect(nsp, on_disconnect, NULL);
    sb_sio_on(nsp, "nick", on_nick, NULL);
    sb_sio_on(nsp, "join", on_join, NULL);
    sb_sio_on(nsp, "say", on_say, NULL);
    rc = sb_server_run(srv);
    sb_server_destroy(srv);
    sb_config_dispose(&cfg);
    return rc;
}
