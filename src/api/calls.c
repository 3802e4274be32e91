/* Requests answered from store completions (sb_api_call_t), and the
 * answers of keyed requests remembered for Idempotency-Key
 * (idempotency_api.c does the lookup). */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/err.h"

void sb_api__keyed_free(sb_api__keyed_t *k) {
    if (k->api)
        sb_map_del(&k->api->keys_in_flight, sb_cstr(k->key));
    free(k);
}

static bool orphan(sb_str_t key, void *value, void *ud) {
    ((sb_api__keyed_t *)value)->api = NULL;
    return true;
}

void sb_api__keys_orphan(sb_api_t *api) { sb_map_foreach(&api->keys_in_flight, orphan, NULL); }

/* Remembers a 2xx answer; anything else lets a retry run again. */
static void answered(sb_api__keyed_t *k, int status, const char *body, size_t n) {
    if (status >= 200 && status < 300 && body && k->api && k->api->cfg.store)
        sb_store_http_key_put(k->api->cfg.store, sb_cstr(k->key), sb_cstr(k->request), status,
                              sb_str(body, n), NULL, NULL);
    sb_api__keyed_free(k);
}

/* A keyed request answered at once (no store call in between). */
static void on_answer(sb_http_req_t *req, int status, const char *body, size_t n) {
    sb_api__keyed_t *k = req->answer_ud;
    req->answer_ud = NULL;
    answered(k, status, body ? body : "", n);
}

void sb_api__keyed_watch(sb_http_req_t *req, sb_api__keyed_t *k) {
    req->on_answer = on_answer;
    req->answer_ud = k;
}

void sb_api__keyed_adopt(sb_api_call_t *call, sb_http_req_t *req) {
    if (req->on_answer != on_answer)
        return;
    call->keyed = req->answer_ud;
    req->on_answer = NULL;
    req->answer_ud = NULL;
}

void sb_api__keyed_answer(sb_api_call_t *call, int status, json_t *body) {
    sb_api__keyed_t *k = call->keyed;
    if (!k)
        return;
    call->keyed = NULL;
    /* The same bytes sb_api__respond_json() sends. */
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    answered(k, status, text, text ? strlen(text) : 0);
    free(text);
}

void sb_api__keyed_forget(sb_api_call_t *call) {
    if (call->keyed)
        sb_api__keyed_free(call->keyed);
    call->keyed = NULL;
}

static void call_on_abort(sb_http_req_t *req) {
    sb_api_call_t *call = req->ud;
    call->req = NULL;
}

sb_api_call_t *sb_api__call_begin(sb_api_t *api, sb_http_req_t *req, size_t extra) {
    sb_api_call_t *call = calloc(1, sizeof *call + extra);
    if (!call) {
        sb_http_respond_error(req, 500, "internal", "out of memory");
        return NULL;
    }
    call->api = api;
    call->req = req;
    req->ud = call;
    req->on_abort = call_on_abort;
    sb_api__keyed_adopt(call, req);
    return call;
}

void sb_api__call_respond(sb_api_call_t *call, int status, json_t *body) {
    sb_api__keyed_answer(call, status, body);
    if (!call->req) {
        json_decref(body);
        return;
    }
    call->req->on_abort = NULL;
    sb_api__respond_json(call->req, status, body);
    call->req = NULL;
}

void sb_api__call_fail_store(sb_api_call_t *call, int rc) {
    static const struct {
        int rc, status;
        const char *code, *msg;
    } map[] = {{SB_ENOTFOUND, 404, "not_found", "not found"},
               {SB_EEXISTS, 409, "already_exists", "already exists"},
               {SB_EINVAL, 422, "invalid_field", "invalid value"},
               {SB_ETOOBIG, 503, "server_busy", "server busy, try again"},
               {SB_ECLOSED, 503, "server_busy", "shutting down"},
               {SB_EUNAVAIL, 503, "store_unavailable", "the database is unavailable, try again"}};
    size_t i = 0;
    while (i < sizeof map / sizeof *map && map[i].rc != rc)
        i++;
    sb_api__keyed_forget(call);
    if (!call->req)
        return;
    call->req->on_abort = NULL;
    if (i < sizeof map / sizeof *map)
        sb_http_respond_error(call->req, map[i].status, map[i].code, map[i].msg);
    else
        sb_http_respond_error(call->req, 500, "storage_error", "storage failed");
    call->req = NULL;
}

void sb_api__call_end(sb_api_call_t *call) {
    sb_api__keyed_forget(call);
    free(call);
}
