/* Backend endpoints: services push events to users, rooms or everyone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/err.h"
#include "core/loop.h"

#define SB_API_MAX_TARGETS 64
#define SB_API_EVENT_MAX 256

static const char *const reserved_events[] = {"connect",       "connect_error", "disconnect",
                                              "disconnecting", "newListener",   "removeListener"};

static void invalid(sb_http_req_t *req, const char *message) {
    sb_http_respond_error(req, 422, "invalid_field", message);
}

/* A string or an array of strings -> list; false if anything else. */
static bool string_list(json_t *v, const char **out, size_t *n) {
    *n = 0;
    if (json_is_string(v)) {
        out[(*n)++] = json_string_value(v);
        return json_string_length(v) > 0;
    }
    if (!json_is_array(v) || json_array_size(v) > SB_API_MAX_TARGETS)
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
        json_string_length(v) > SB_API_EVENT_MAX)
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

static void emit_and_answer(sb_api_t *api, sb_http_req_t *req, const sb_feat_target_t *t,
                            const char *event, json_t *data) {
    char *text =
        data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;
    long n = sb_features_emit((sb_features_t *)api->cfg.features, t, event,
                              text ? sb_cstr(text) : SB_STR_NULL);
    free(text);
    if (n < 0) {
        sb_http_respond_error(req, 500, "internal", "emit failed");
        return;
    }
    sb_api__respond_json(req, 200, json_pack("{s:b,s:I}", "ok", 1, "recipients", (json_int_t)n));
}

/* POST /api/emit {to:{user|room|all}, event, data?, except?} */
static void on_emit(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    json_t *body = sb_api__post_body(api, req);
    if (!body)
        return;
    const char *users[SB_API_MAX_TARGETS], *rooms[SB_API_MAX_TARGETS], *except[SB_API_MAX_TARGETS];
    sb_feat_target_t t = {.except = except};
    json_t *event = json_object_get(body, "event"), *ex = json_object_get(body, "except");
    const char *why = parse_target(json_object_get(body, "to"), &t, users, rooms);
    if (!why && !event_name_valid(event))
        why = "event must be a non-reserved name of 1-256 characters";
    if (!why && ex && (json_is_string(ex) || !string_list(ex, except, &t.nexcept)))
        why = "except must be a list of room names";
    json_t *ack = json_object_get(body, "ack");
    if (!why && ack && !json_is_boolean(ack))
        why = "ack must be a boolean";
    if (why)
        invalid(req, why);
    else if (json_is_true(ack))
        sb_api__emit_with_acks(api, req, body);
    else
        emit_and_answer(api, req, &t, json_string_value(event), json_object_get(body, "data"));
    json_decref(body);
}

/* POST /api/broadcast {message, type?} -> system_message to everyone. */
static void on_broadcast(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    json_t *body = sb_api__post_body(api, req);
    if (!body)
        return;
    json_t *msg = json_object_get(body, "message"), *type = json_object_get(body, "type");
    if (!json_is_string(msg) || json_string_length(msg) == 0 || (type && !json_is_string(type))) {
        invalid(req, "message must be a non-empty string and type a string");
    } else {
        json_t *data = json_pack("{s:O,s:s,s:I}", "message", msg, "type",
                                 type ? json_string_value(type) : "info", "timestamp",
                                 (json_int_t)sb_wall_ms());
        sb_feat_target_t t = {.all = true};
        emit_and_answer(api, req, &t, "system_message", data);
        json_decref(data);
    }
    json_decref(body);
}

/* GET /api/users/:id/presence (the id percent-decoded) */
static void on_users(sb_http_req_t *req, void *ud) {
    static const sb_str_t prefix = SB_LIT("/api/users/"), suffix = SB_LIT("/presence");
    sb_api_t *api = ud;
    if (!sb_api__method_is(req, "GET") || !sb_api__authorized(api, req))
        return;
    char id[129];
    size_t n;
    if (!sb_api__path_id(req->path, prefix, suffix, id, sizeof id, &n)) {
        sb_http_respond_error(req, 404, "not_found", "expected /api/users/<id>/presence");
        return;
    }
    /* online: on any node of a cluster; devices: those on this node */
    uint32_t devices = sb_features_user_devices(api->cfg.features, id);
    bool online = sb_features_user_online(api->cfg.features, id);
    sb_api__respond_json(
        req, 200,
        json_pack("{s:s,s:b,s:i}", "userId", id, "online", online, "devices", (int)devices));
}

int sb_api__register_backend(sb_api_t *api, sb_http_server_t *http) {
    if (sb_api__route(api, http, "/api/emit", on_emit) != SB_OK ||
        sb_api__route(api, http, "/api/broadcast", on_broadcast) != SB_OK ||
        sb_http_route(http, "/api/users/", on_users, api) != SB_OK)
        return SB_ENOMEM;
    return SB_OK;
}
