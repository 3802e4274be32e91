/* The built-in chat/social contract (JWT auth, chat, presence, friends,
 * the HTTP API, the store) plus one event of our own beside it:
 *
 *   "buddy:nudge" (userId) -> ack {"online":bool,"devices":n}
 *
 * It reads the built-in presence, and when the user is online sends every
 * device of theirs "buddy:nudged" {"from": <the sender's user id>}.
 *   ./chat_plus --port 3000 --jwt-secret s3cret --data-dir ./data
 * (the same flags as the switchboard binary). */
#include <stdio.h>
#include <string.h>
#include <switchboard.h>

#define USER_ID_MAX 128

/* Answers {"error":{"code":...,"message":...}} as the built-in events do. */
static void fail(sb_call_t *call, const char *code, const char *message) {
    char json[256];
    int n = snprintf(json, sizeof json, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code,
                     message);
    sb_call_reply(call, json, (size_t)n);
}

/* True for ids the built-ins accept too: 1-128 of [A-Za-z0-9_.:@-]. */
static bool plain_id(const char *id) {
    size_t n = strlen(id);
    return n > 0 && n <= USER_ID_MAX &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:@-") == n;
}

static void on_nudge(sb_call_t *call, void *ud) {
    sb_builtins_t *b = ud;
    char to[USER_ID_MAX + 1], json[USER_ID_MAX + 64];
    const char *me = sb_builtins_socket_user(b, sb_call_socket(call));
    if (!me || sb_call_arg_string(call, 0, to, sizeof to) != SB_OK || !plain_id(to)) {
        fail(call, "invalid_payload", "expected a user id");
        return;
    }
    uint32_t devices = sb_builtins_user_devices(b, to);
    if (devices > 0 && plain_id(me)) {
        int n = snprintf(json, sizeof json, "{\"from\":\"%s\"}", me);
        sb_builtins_emit_to_user(b, to, "buddy:nudged", json, (size_t)n);
    }
    int n = snprintf(json, sizeof json, "{\"online\":%s,\"devices\":%u}",
                     devices ? "true" : "false", devices);
    sb_call_reply(call, json, (size_t)n);
}

int main(int argc, char **argv) {
    int rc;
    char err[512];
    sb_server_t *srv = sb_server_create_from_args(argc, argv, &rc);
    if (!srv)
        return rc;
    sb_builtins_t *b = sb_builtins_install_from_args(srv, err, sizeof err);
    if (!b) {
        fprintf(stderr, "chat_plus: %s\n", err);
        sb_server_destroy(srv);
        return 1;
    }
    sb_nsp_on(sb_server_namespace(srv, "/"), "buddy:nudge", on_nudge, b);
    rc = sb_server_run(srv);
    sb_server_destroy(srv);
    return rc;
}
