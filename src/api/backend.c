/* Backend endpoints: services push events to users, rooms or everyone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/err.h"
#include "core/loop.h"

static void invalid(sb_http_req_t *req, const char *message) {
    sb_http_respond_error(req, 422, "invalid_field", message);
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

/* POST /api/emit {to:{user|room|socket|all}, event, data?, except?, ack?} */
static void on_emit(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    json_t *body = sb_api__post_body(api, req);
    if (!body)
        return;
    const char *why = sb_features_emit_check(body);
    json_t *ack = json_object_get(body, "ack");
    if (!why && ack && !json_is_boolean(ack))
        why = "ack must be a boolean";
    long n = 0;
    if (why)
        invalid(req, why);
    else if (json_is_true(ack))
        sb_api__emit_with_acks(api, req, body);
    else if ((n = sb_features_emit_request((sb_features_t *)api->cfg.features, body, &why)) < 0)
        sb_http_respond_error(req, 500, "internal", "emit failed");
    else
        sb_api__respond_json(req, 200,
                             json_pack("{s:b,s:I}", "ok", 1, "recipients", (json_int_t)n));
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
