/* POST /api/metrics/:name {value}: a backend sets a dashboard metric, which
 * is pushed at once to the sockets subscribed to it. */
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/err.h"

static const sb_str_t metrics_prefix = SB_LIT("/api/metrics/");

/* The percent-decoded :name into out (NUL-terminated); false when it is
 * not a valid metric name. */
static bool metric_name_of(sb_http_req_t *req, char out[SB_FEAT_METRIC_NAME_MAX + 1]) {
    sb_str_t raw = sb_str(req->path.p + metrics_prefix.n, req->path.n - metrics_prefix.n);
    size_t n = 0;
    if (sb_http_percent_decode(raw, out, SB_FEAT_METRIC_NAME_MAX, &n) != SB_OK)
        return false;
    out[n] = '\0';
    return sb_features_metric_name_valid(sb_str(out, n));
}

/* {value: number} -> *value; false otherwise (answered). */
static bool metric_value_of(sb_http_req_t *req, double *value) {
    json_t *body = sb_api__body_object(req);
    if (!body)
        return false;
    json_t *v = json_object_get(body, "value");
    bool ok = json_is_number(v);
    if (ok)
        *value = json_number_value(v);
    else
        sb_http_respond_error(req, 422, "invalid_field", "value must be a number");
    json_decref(body);
    return ok;
}

/* Integral values as integers, so 42 stays 42 (2^53: exact in a double). */
static json_t *number_json(double v) {
    if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(json_int_t)v)
        return json_integer((json_int_t)v);
    return json_real(v);
}

static void answer(sb_http_req_t *req, const char *name, double value, long rc) {
    char msg[96];
    if (rc == SB_ETOOBIG) {
        snprintf(msg, sizeof msg, "at most %d distinct metrics exist; reuse their names",
                 SB_FEAT_METRICS_MAX);
        sb_http_respond_error(req, 422, "too_many_metrics", msg);
    } else if (rc == SB_EINVAL) {
        sb_http_respond_error(req, 422, "invalid_field", "value must be a finite number");
    } else if (rc < 0) {
        sb_http_respond_error(req, 500, "internal", "out of memory");
    } else {
        sb_api__respond_json(req, 200,
                             json_pack("{s:b,s:s,s:o,s:I}", "ok", 1, "metric", name, "value",
                                       number_json(value), "subscribers", (json_int_t)rc));
    }
}

static void on_metric(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    if (!sb_api__method_is(req, "POST") || !sb_api__authorized(api, req))
        return;
    char name[SB_FEAT_METRIC_NAME_MAX + 1];
    double value;
    if (!metric_name_of(req, name)) {
        sb_http_respond_error(req, 422, "invalid_field",
                              "metric names are 1-64 characters of [A-Za-z0-9_.:-]");
        return;
    }
    if (sb_features_metric_builtin(sb_cstr(name))) {
        sb_http_respond_error(req, 422, "invalid_field", "this metric is computed by the server");
        return;
    }
    if (metric_value_of(req, &value))
        answer(req, name, value,
               sb_features_metric_push((sb_features_t *)api->cfg.features, sb_cstr(name), value));
}

int sb_api__register_live(sb_api_t *api, sb_http_server_t *http) {
    return sb_api__route(api, http, "/api/metrics/", on_metric);
}
