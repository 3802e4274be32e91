/* POST /api/server-emit {event, data?, namespace?, ack?, timeoutMs?}: Socket.IO's
 * serverSideEmit to the other nodes of the cluster (Node.js servers run
 * their io.on(event) listeners). With ack, the answer waits for every other
 * node's reply (or the timeout) and lists them. */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/err.h"

#define SB_SERVER_EMIT_TIMEOUT_MS 5000
#define SB_SERVER_EMIT_TIMEOUT_MAX_MS 60000

static void on_answers(void *ud, const sb_engine_result_t *r) {
    sb_api_call_t *call = ud;
    json_t *list = json_loadb(r->answers.p, r->answers.n, JSON_DECODE_ANY, NULL);
    sb_api__call_respond(call, 200,
                         json_pack("{s:b,s:o,s:b,s:o}", "ok", 1, "responses",
                                   list ? list : json_array(), "timedOut", r->timed_out, "nodes",
                                   sb_api__nodes_json(r)));
    sb_api__call_end(call);
}

/* data: an array is the argument list, anything else one argument. */
static char *args_text(json_t *data, size_t *n) {
    if (!data) {
        *n = 0;
        return strdup("");
    }
    char *text = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (!text)
        return NULL;
    *n = strlen(text);
    if (json_is_array(data)) { /* strip the brackets */
        memmove(text, text + 1, *n - 2);
        *n -= 2;
        text[*n] = '\0';
    }
    return text;
}

static bool fields_ok(sb_http_req_t *req, json_t *body, const char **event, const char **nsp,
                      uint32_t *timeout_ms) {
    json_t *t = json_object_get(body, "timeoutMs");
    *event = json_string_value(json_object_get(body, "event"));
    *nsp = json_object_get(body, "namespace")
               ? json_string_value(json_object_get(body, "namespace"))
               : "/";
    if (!*event || !**event || strlen(*event) > 256) {
        sb_http_respond_error(req, 422, "invalid_field", "event must be a string of 1-256 bytes");
        return false;
    }
    if (!*nsp || (*nsp)[0] != '/') {
        sb_http_respond_error(req, 422, "invalid_field",
                              "namespace must be a name starting with /");
        return false;
    }
    if (t && (!json_is_integer(t) || json_integer_value(t) < 1 ||
              json_integer_value(t) > SB_SERVER_EMIT_TIMEOUT_MAX_MS)) {
        sb_http_respond_error(req, 422, "invalid_field", "timeoutMs must be an integer of 1-60000");
        return false;
    }
    *timeout_ms = t ? (uint32_t)json_integer_value(t) : SB_SERVER_EMIT_TIMEOUT_MS;
    return true;
}

static void refused(sb_http_req_t *req, int rc) {
    if (rc == SB_ENOTFOUND)
        sb_http_respond_error(req, 404, "not_found", "no such namespace");
    else if (rc == SB_ECLOSED)
        sb_http_respond_error(req, 503, "cluster_unavailable", "not connected to Redis");
    else
        sb_http_respond_error(req, 500, "internal", "out of memory");
}

static void emit_with(sb_api_t *api, sb_http_req_t *req, json_t *body) {
    const char *event, *nsp;
    uint32_t timeout_ms;
    size_t n;
    if (!fields_ok(req, body, &event, &nsp, &timeout_ms))
        return;
    char *args = args_text(json_object_get(body, "data"), &n);
    if (!args) {
        refused(req, SB_ENOMEM);
        return;
    }
    sb_engine_t *e = api->cfg.engine;
    bool ack = json_is_true(json_object_get(body, "ack"));
    sb_api_call_t *call = ack ? sb_api__call_begin(api, req, 0) : NULL;
    if (!ack || call) {
        int rc = e->ops->server_emit(e, sb_cstr(nsp), sb_cstr(event), sb_str(args, n), timeout_ms,
                                     ack ? on_answers : NULL, call);
        if (rc != SB_OK && call) {
            sb_api__call_respond(
                call, rc == SB_ECLOSED ? 503 : 404,
                json_pack("{s:{s:s,s:s}}", "error", "code",
                          rc == SB_ECLOSED ? "cluster_unavailable" : "not_found", "message",
                          rc == SB_ECLOSED ? "not connected to Redis" : "no such namespace"));
            sb_api__call_end(call);
        } else if (rc != SB_OK) {
            refused(req, rc);
        } else if (!ack) {
            sb_api__respond_json(req, 202, json_pack("{s:b}", "ok", 1));
        }
    }
    free(args);
}

static void on_server_emit(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    if (!sb_api__method_is(req, "POST") || !sb_api__authorized(api, req))
        return;
    if (!api->cfg.engine) {
        sb_http_respond_error(req, 409, "not_clustered", "this node runs alone (no --redis-url)");
        return;
    }
    json_t *body = sb_api__body_object(req);
    if (body)
        emit_with(api, req, body);
    json_decref(body);
}

int sb_api__register_cluster(sb_api_t *api, sb_http_server_t *http) {
    return sb_api__route(api, http, "/api/server-emit", on_server_emit);
}
