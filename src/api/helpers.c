/* The helpers every API route uses: the API key, methods, JSON bodies and
 * answers, path ids and history pages. Nothing here knows a route: the
 * registry (api.c) is the only file that knows them all. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "auth/apikey.h"
#include "core/err.h"
#include "core/log.h"

/* Logged whatever --log-connections says, like refused client tokens: at
 * most 5 lines per 10 s, the next one counting those left out. */
static void log_refusal(sb_api_t *api, sb_http_req_t *req, const char *why) {
    uint64_t dropped;
    if (SB_LOG_INFO < sb_log_cfg.level || !sb_log_limit(&api->refusal_log, "api_key", &dropped))
        return;
    char ip[64], path[256];
    sb_conn_peer_ip(req->conn, ip, sizeof ip);
    snprintf(path, sizeof path, "%.*s", (int)req->path.n, req->path.p);
    sb_log_field_t fields[] = {{"transport", "http", 0},
                               {"remote", ip, 0},
                               {"path", path, 0},
                               {"reason", why, 0},
                               {"suppressed", NULL, (int64_t)dropped}};
    sb__log_fields(SB_LOG_INFO, "authentication refused", fields, sizeof fields / sizeof fields[0]);
}

/* True if the request carries the API key; otherwise answers 401. */
bool sb_api__authorized(sb_api_t *api, sb_http_req_t *req) {
    const sb_str_t *h = sb_http_req_header(req, "authorization");
    sb_str_t token;
    if (h && sb_auth_bearer_token(*h, &token) &&
        sb_apikey_matches(token, sb_cstr(api->cfg.api_key)))
        return true;
    /* Without a key nothing can pass: say so, or the caller hunts for a typo. */
    static const char wrong[] =
        "{\"error\":{\"code\":\"unauthorized\",\"message\":\"missing or invalid API key\"}}";
    static const char none[] =
        "{\"error\":{\"code\":\"unauthorized\",\"message\":\"this server has no API key: start "
        "it with --api-key (--dev makes one up and logs it)\"}}";
    bool keyless = api->cfg.api_key == NULL || api->cfg.api_key[0] == '\0';
    log_refusal(api, req,
                keyless ? "this server has no API key (--api-key)"
                : h     ? "invalid API key"
                        : "no Authorization: Bearer header");
    sb_http_respond(req, 401, "application/json", keyless ? none : wrong,
                    keyless ? sizeof none - 1 : sizeof wrong - 1, "WWW-Authenticate: Bearer\r\n");
    return false;
}

bool sb_api__method_is(sb_http_req_t *req, const char *method) {
    if (sb_str_eq(req->method, sb_cstr(method)))
        return true;
    char msg[32];
    snprintf(msg, sizeof msg, "use %s", method);
    sb_http_respond_error(req, 405, "method_not_allowed", msg);
    return false;
}

void sb_api__respond_json(sb_http_req_t *req, int status, json_t *body) {
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (!text) {
        sb_http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    sb_http_respond(req, status, "application/json", text, strlen(text), NULL);
    free(text);
}

bool sb_api__path_id(sb_str_t path, sb_str_t prefix, sb_str_t suffix, char *out, size_t cap,
                     size_t *n) {
    *n = 0;
    if (path.n <= prefix.n + suffix.n || memcmp(path.p, prefix.p, prefix.n) != 0 ||
        memcmp(path.p + path.n - suffix.n, suffix.p, suffix.n) != 0)
        return false;
    sb_str_t raw = sb_str(path.p + prefix.n, path.n - prefix.n - suffix.n);
    if (memchr(raw.p, '/', raw.n) || sb_http_percent_decode(raw, out, cap - 1, n) != SB_OK ||
        *n == 0 || memchr(out, 0, *n))
        return false;
    out[*n] = '\0';
    return true;
}

bool sb_api__page_params(sb_http_req_t *req, int64_t *before, int *limit) {
    char v[32], *end;
    *before = 0;
    *limit = 50;
    if (sb_http_req_query(req, "before", v, sizeof v)) {
        *before = strtoll(v, &end, 10);
        if (*end || *before < 1)
            goto bad;
    }
    if (sb_http_req_query(req, "limit", v, sizeof v)) {
        long l = strtol(v, &end, 10);
        if (*end || l < 1 || l > SB_STORE_MAX_HISTORY)
            goto bad;
        *limit = (int)l;
    }
    return true;
bad:
    sb_http_respond_error(req, 422, "invalid_field", "before must be a message id, limit 1-100");
    return false;
}

json_t *sb_api__page_json(const char *key, const char *id, const sb_store_msgs_t *page, int limit,
                          json_t *(*as_json)(const sb_store_msg_t *m)) {
    json_t *list = json_array();
    for (size_t i = 0; i < page->n; i++)
        json_array_append_new(list, as_json(&page->v[i]));
    return json_pack("{s:s,s:o,s:b}", key, id, "messages", list, "hasMore", (int)page->n == limit);
}

json_t *sb_api__body_object(sb_http_req_t *req) {
    json_error_t e;
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(body)) {
        json_decref(body);
        char msg[200];
        snprintf(msg, sizeof msg, "body must be a JSON object (%s)", e.text);
        sb_http_respond_error(req, 400, "malformed_json", msg);
        return NULL;
    }
    return body;
}

json_t *sb_api__post_body(sb_api_t *api, sb_http_req_t *req) {
    if (!sb_api__method_is(req, "POST") || !sb_api__authorized(api, req))
        return NULL;
    return sb_api__body_object(req);
}
