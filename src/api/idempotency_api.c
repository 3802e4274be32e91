/* Idempotency-Key on the HTTP API's writes. A POST carrying the header is
 * served once: its 2xx answer is remembered in the store for a day
 * (SB_STORE_KEY_TTL_MS), and a retry with the same key and the same request
 * gets that answer again (with "Idempotent-Replayed: true") instead of
 * running a second time. The same key on a different request is refused
 * (422), and so is a retry while the first attempt is still being served
 * (409). Requests without the header, and other methods, pass straight on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/err.h"

/* The method, path and a digest of the body: the same key on another
 * request is a client bug, not a retry. */
static void fingerprint(const sb_http_req_t *req, char out[SB_API_REQUEST_MAX + 1]) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a, enough to tell requests apart */
    for (size_t i = 0; i < req->body_len; i++)
        h = (h ^ (unsigned char)req->body[i]) * 1099511628211ull;
    int path_n = req->path.n > 256 ? 256 : (int)req->path.n;
    snprintf(out, SB_API_REQUEST_MAX + 1, "%.*s %.*s %016llx", (int)req->method.n, req->method.p,
             path_n, req->path.p, (unsigned long long)h);
}

static void on_lookup(void *ud, int rc, const sb_store_http_answer_t *a) {
    sb_api_call_t *call = ud;
    sb_api__keyed_t *k = *(sb_api__keyed_t **)(void *)call->extra;
    sb_http_req_t *req = call->req;
    if (!req) {
        sb_api__keyed_free(k);
    } else if (rc == SB_OK && strcmp(a->request, k->request) != 0) {
        call->req->on_abort = NULL;
        sb_http_respond_error(req, 422, "idempotency_key_reused",
                              "this Idempotency-Key was used for a different request");
        sb_api__keyed_free(k);
    } else if (rc == SB_OK) {
        call->req->on_abort = NULL;
        sb_http_respond(req, a->status, "application/json", a->body, strlen(a->body),
                        "Idempotent-Replayed: true\r\n");
        sb_api__keyed_free(k);
    } else if (rc != SB_ENOTFOUND) {
        sb_api__call_fail_store(call, rc);
        sb_api__keyed_free(k);
    } else {
        /* First time: serve it, watching for the answer. */
        req->on_abort = NULL;
        req->ud = NULL;
        sb_api__keyed_watch(req, k);
        k->route->fn(req, k->api);
    }
    sb_api__call_end(call);
}

static void on_route(sb_http_req_t *req, void *ud) {
    const sb_api__route_t *route = ud;
    sb_api_t *api = route->api;
    const sb_str_t *key = sb_http_req_header(req, "idempotency-key");
    if (!key || !sb_str_eq(req->method, SB_LIT("POST")) || !api->cfg.store) {
        route->fn(req, api);
        return;
    }
    if (!sb_api__authorized(api, req))
        return;
    if (!sb_store_key_valid(*key)) {
        char msg[96];
        snprintf(msg, sizeof msg,
                 "Idempotency-Key must be 1-%d printable ASCII characters without spaces",
                 SB_STORE_MAX_KEY);
        sb_http_respond_error(req, 400, "invalid_idempotency_key", msg);
        return;
    }
    if (sb_map_get(&api->keys_in_flight, *key)) {
        sb_http_respond_error(req, 409, "idempotency_key_in_use",
                              "a request with this Idempotency-Key is still being served");
        return;
    }
    sb_api__keyed_t *k = calloc(1, sizeof *k);
    sb_api_call_t *call = k ? sb_api__call_begin(api, req, sizeof k) : NULL;
    if (!call) {
        free(k);
        return;
    }
    *(sb_api__keyed_t **)(void *)call->extra = k;
    k->api = api;
    k->route = route;
    memcpy(k->key, key->p, key->n);
    fingerprint(req, k->request);
    int rc = sb_map_put(&api->keys_in_flight, sb_cstr(k->key), k);
    if (rc == SB_OK)
        rc = sb_store_http_key_get(api->cfg.store, sb_cstr(k->key), on_lookup, call);
    if (rc != SB_OK) {
        sb_api__call_fail_store(call, rc);
        sb_api__call_end(call);
        sb_api__keyed_free(k);
    }
}

int sb_api__route(sb_api_t *api, sb_http_server_t *http, const char *path, sb_http_handler_fn fn) {
    if (api->nroutes == sizeof api->routes / sizeof api->routes[0])
        return SB_ETOOBIG;
    sb_api__route_t *r = &api->routes[api->nroutes++];
    *r = (sb_api__route_t){api, fn};
    return sb_http_route(http, path, on_route, r);
}
