/* One emit request as JSON ({to, event, data?, except?}): what POST
 * /api/emit and a hook's answer ask for, checked and emitted. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "features/features_internal.h"

#define SB_FEAT_EMIT_TARGETS 64
#define SB_FEAT_EVENT_NAME_MAX 256

static const char *const reserved_events[] = {"connect",       "connect_error", "disconnect",
                                              "disconnecting", "newListener",   "removeListener"};

/* A string or an array of strings -> list; false if anything else. */
static bool string_list(json_t *v, const char **out, size_t *n) {
    *n = 0;
    if (json_is_string(v)) {
        out[(*n)++] = json_string_value(v);
        return json_string_length(v) > 0;
    }
    if (!json_is_array(v) || json_array_size(v) > SB_FEAT_EMIT_TARGETS)
        return false;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        if (!json_is_string(item) || json_string_length(item) == 0)
            return false;
        out[(*n)++] = json_string_value(item);
    }
    return true;
}

static bool event_name_valid(json_t *v) {
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > SB_FEAT_EVENT_NAME_MAX)
        return false;
    for (size_t i = 0; i < sizeof reserved_events / sizeof *reserved_events; i++)
        if (strcmp(json_string_value(v), reserved_events[i]) == 0)
            return false;
    return true;
}

/* Fills the target from {user|room|socket|all}; returns an error message or NULL. */
static const char *parse_target(json_t *to, sb_feat_target_t *t, const char **users,
                                const char **rooms) {
    json_t *user = json_object_get(to, "user"), *room = json_object_get(to, "room");
    json_t *all = json_object_get(to, "all"), *socket = json_object_get(to, "socket");
    if (!json_is_object(to) || (!!user + !!room + !!all + !!socket) != 1)
        return "to must be an object with exactly one of user, room, socket, all";
    if (socket && !string_list(socket, rooms, &t->nsockets))
        return "to.socket must be a socket id or a list of up to 64";
    t->sockets = socket ? rooms : NULL;
    if (user && !string_list(user, users, &t->nusers))
        return "to.user must be a user id or a list of up to 64";
    if (room && !string_list(room, rooms, &t->nrooms))
        return "to.room must be a room name or a list of up to 64";
    if (all && !json_is_true(all))
        return "to.all must be true";
    t->users = users;
    t->rooms = rooms;
    t->all = all != NULL;
    return NULL;
}

/* Checks the request into `t` (whose lists point into the arrays given). */
static const char *parse(json_t *req, sb_feat_target_t *t, const char **users, const char **rooms,
                         const char **except) {
    if (!json_is_object(req))
        return "an emit must be an object";
    json_t *event = json_object_get(req, "event"), *ex = json_object_get(req, "except");
    *t = (sb_feat_target_t){.except = except};
    const char *why = parse_target(json_object_get(req, "to"), t, users, rooms);
    if (!why && !event_name_valid(event))
        why = "event must be a non-reserved name of 1-256 characters";
    if (!why && ex && (json_is_string(ex) || !string_list(ex, except, &t->nexcept)))
        why = "except must be a list of room names";
    return why;
}

const char *sb_features_emit_check(json_t *req) {
    const char *users[SB_FEAT_EMIT_TARGETS], *rooms[SB_FEAT_EMIT_TARGETS],
        *except[SB_FEAT_EMIT_TARGETS];
    sb_feat_target_t t;
    return parse(req, &t, users, rooms, except);
}

long sb_features_emit_request(sb_features_t *f, json_t *req, const char **why) {
    const char *users[SB_FEAT_EMIT_TARGETS], *rooms[SB_FEAT_EMIT_TARGETS],
        *except[SB_FEAT_EMIT_TARGETS];
    sb_feat_target_t t;
    if ((*why = parse(req, &t, users, rooms, except)) != NULL)
        return SB_EINVAL;
    json_t *data = json_object_get(req, "data");
    char *text =
        data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;
    if (data && !text)
        return SB_ENOMEM;
    long n = sb_features_emit(f, &t, json_string_value(json_object_get(req, "event")),
                              text ? sb_cstr(text) : SB_STR_NULL);
    free(text);
    return n;
}
