/* POST /api/dev/token (--dev only): a short-lived client token for any user,
 * so the demo chat signs in with a name. Only loopback clients get one. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "auth/jwt.h"
#include "core/loop.h"

#define SB_DEV_TOKEN_TTL_S 3600
#define SB_DEV_ID_MAX 64
#define SB_DEV_NAME_MAX 64

static bool is_loopback(sb_http_req_t *req) {
    char ip[64];
    sb_conn_peer_ip(req->conn, ip, sizeof ip);
    return !strncmp(ip, "127.", 4) || !strcmp(ip, "::1") || !strncmp(ip, "::ffff:127.", 11);
}

/* 1-64 of [A-Za-z0-9_.-]: readable in URLs, logs and the page. */
static bool user_id_ok(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > SB_DEV_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(id[i] >= 'a' && id[i] <= 'z') && !(id[i] >= 'A' && id[i] <= 'Z') &&
            !(id[i] >= '0' && id[i] <= '9') && !strchr("_.-", id[i]))
            return false;
    return true;
}

static bool name_ok(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > SB_DEV_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    return true;
}

static void issue(sb_api_t *api, sb_http_req_t *req, const char *id, const char *name) {
    int64_t now = sb_wall_ms() / 1000, exp = now + SB_DEV_TOKEN_TTL_S;
    json_t *claims = json_pack("{s:s,s:s,s:I,s:I}", "sub", id, "name", name, "iat", (json_int_t)now,
                               "exp", (json_int_t)exp);
    char *text = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(claims);
    char token[1024];
    const char *secret = api->cfg.dev_token_secret;
    ssize_t n = text ? sb_jwt_sign_hs256(sb_cstr(text), (const uint8_t *)secret, strlen(secret),
                                         token, sizeof token)
                     : -1;
    free(text);
    if (n < 0) {
        sb_http_respond_error(req, 500, "internal", "cannot sign the token");
        return;
    }
    sb_api__respond_json(req, 200,
                         json_pack("{s:s,s:s,s:s,s:I}", "token", token, "userId", id, "name", name,
                                   "expiresAt", (json_int_t)exp * 1000));
}

static void on_dev_token(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    if (!api->cfg.dev_token_secret) {
        sb_http_respond_error(req, 404, "not_found", "dev tokens exist only with --dev");
        return;
    }
    if (!sb_api__method_is(req, "POST"))
        return;
    if (!is_loopback(req)) {
        sb_http_respond_error(req, 403, "forbidden", "dev tokens are for loopback clients only");
        return;
    }
    json_t *body = sb_api__body_object(req);
    if (!body)
        return;
    const char *id = json_string_value(json_object_get(body, "userId"));
    const char *name = json_string_value(json_object_get(body, "name"));
    if (!name)
        name = id;
    if (!user_id_ok(id) || !name_ok(name))
        sb_http_respond_error(req, 422, "invalid_field",
                              "userId: 1-64 of A-Z a-z 0-9 _ . -; name: 1-64 bytes of text");
    else
        issue(api, req, id, name);
    json_decref(body);
}

int sb_api__register_dev(sb_api_t *api, sb_http_server_t *http) {
    return sb_http_route(http, "/api/dev/token", on_dev_token, api);
}
