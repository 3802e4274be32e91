/* Backend endpoints of the social features: POST /api/notifications and
 * POST /api/posts. Both answer from a store completion through an
 * sb_api_call_t, which forgets the request if its client leaves first. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/err.h"

#define SB_API_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)

/* The string field `name` of min..max bytes without NUL, or NULL. */
static const char *str_field(json_t *body, const char *name, size_t min, size_t max) {
    return sb_features_text(json_object_get(body, name), min, max);
}

/* Fails a call whose store request could not even be queued. */
static void call_refused(sb_api_call_t *call, int rc) {
    sb_api__call_fail_store(call, rc);
    sb_api__call_end(call);
}

/* ---- POST /api/notifications {userId, type, title, message, data?} ----------------- */

static void on_notification_done(void *ud, int rc, sb_str_t notification) {
    sb_api_call_t *call = ud;
    json_t *j =
        rc == SB_OK ? json_loadb(notification.p, notification.n, JSON_DECODE_ANY, NULL) : NULL;
    if (rc != SB_OK)
        sb_api__call_fail_store(call, rc);
    else if (!j)
        sb_api__call_fail_store(call, SB_ENOMEM);
    else
        sb_api__call_respond(call, 201, json_pack("{s:b,s:o}", "ok", 1, "notification", j));
    sb_api__call_end(call);
}

/* Checks the fields; returns an error message, or NULL with `in` filled
 * (and *data, the encoded data or NULL, for the caller to free). */
static const char *notification_fields(json_t *body, sb_store_notification_in_t *in, char **data) {
    const char *user = str_field(body, "userId", 1, SB_STORE_MAX_ID);
    const char *type = str_field(body, "type", 1, SB_STORE_MAX_NAME);
    const char *title = str_field(body, "title", 0, SB_STORE_MAX_TITLE);
    const char *message = str_field(body, "message", 0, SIZE_MAX);
    json_t *d = json_object_get(body, "data");
    if (!user || !type)
        return "userId and type must be strings of 1-128 bytes";
    if (!title || !message)
        return "title (0-256 bytes) and message must be strings";
    bool has_data = d && !json_is_null(d);
    *data = has_data ? json_dumps(d, SB_API_JSON_FLAGS) : NULL;
    if (has_data && !*data)
        return "data could not be encoded";
    if (*data && strlen(*data) > SB_STORE_MAX_JSON)
        return "data must encode to at most 16384 bytes of JSON";
    *in = (sb_store_notification_in_t){.user_id = sb_cstr(user),
                                       .type = sb_cstr(type),
                                       .title = sb_cstr(title),
                                       .message = sb_cstr(message),
                                       .data = *data ? sb_cstr(*data) : SB_STR_NULL};
    return NULL;
}

static void on_notifications(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    json_t *body = sb_api__post_body(api, req);
    if (!body)
        return;
    sb_store_notification_in_t in;
    char *data = NULL;
    const char *why = notification_fields(body, &in, &data);
    sb_api_call_t *call = NULL;
    if (why) {
        sb_http_respond_error(req, 422, "invalid_field", why);
    } else if ((call = sb_api__call_begin(api, req, 0))) {
        /* a message over --max-message-bytes is refused here: SB_EINVAL, 422 */
        int rc =
            sb_features_notify((sb_features_t *)api->cfg.features, &in, on_notification_done, call);
        if (rc != SB_OK)
            call_refused(call, rc);
    }
    free(data);
    json_decref(body);
}

/* ---- POST /api/posts {id, ownerId} ------------------------------------------------- */

typedef struct {
    char id[SB_STORE_MAX_ID + 1], owner[SB_STORE_MAX_ID + 1];
} post_t;

static post_t *post_of(sb_api_call_t *call) { return (post_t *)(void *)call->extra; }

static void on_post_registered(void *ud, int rc) {
    sb_api_call_t *call = ud;
    if (rc != SB_OK)
        sb_api__call_fail_store(call, rc);
    else
        sb_api__call_respond(call, 201,
                             json_pack("{s:b,s:s,s:s}", "ok", 1, "id", post_of(call)->id, "ownerId",
                                       post_of(call)->owner));
    sb_api__call_end(call);
}

static void on_posts(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    json_t *body = sb_api__post_body(api, req);
    if (!body)
        return;
    const char *id = str_field(body, "id", 1, SB_STORE_MAX_ID);
    const char *owner = str_field(body, "ownerId", 1, SB_STORE_MAX_ID);
    sb_api_call_t *call = NULL;
    if (!id || !owner) {
        sb_http_respond_error(req, 422, "invalid_field",
                              "id and ownerId must be strings of 1-128 bytes");
    } else if ((call = sb_api__call_begin(api, req, sizeof(post_t)))) {
        snprintf(post_of(call)->id, sizeof post_of(call)->id, "%s", id);
        snprintf(post_of(call)->owner, sizeof post_of(call)->owner, "%s", owner);
        int rc = sb_store_post_register(api->cfg.store, sb_cstr(id), sb_cstr(owner),
                                        on_post_registered, call);
        if (rc != SB_OK)
            call_refused(call, rc);
    }
    json_decref(body);
}

int sb_api__register_social(sb_api_t *api, sb_http_server_t *http) {
    if (sb_api__route(api, http, "/api/notifications", on_notifications) != SB_OK ||
        sb_api__route(api, http, "/api/posts", on_posts) != SB_OK)
        return SB_ENOMEM;
    return SB_OK;
}
