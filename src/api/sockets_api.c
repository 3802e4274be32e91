/* The Socket.IO sockets of the whole cluster (hub/cluster_view.h): GET
 * /api/sockets (fetchSockets), GET /api/rooms (allRooms), POST
 * /api/rooms/:room/join|leave|disconnect (socketsJoin, socketsLeave,
 * disconnectSockets) and POST /api/emit with "ack" (a broadcast with acks).
 * On a node alone they act on that node. docs/http-api.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/base64.h"
#include "core/err.h"

#define SB_ASK_TIMEOUT_MS 5000
#define SB_ASK_TIMEOUT_MAX_MS 60000
#define SB_SELECT_MAX 64              /* names in `to` or `except` (as /api/emit) */
#define SB_NAME_MAX 300               /* "user:" and a 256-byte id */
#define SB_ANSWERS_MAX_BINARY_API 256 /* binary values in `data` */

json_t *sb_api__nodes_json(const sb_engine_result_t *r) {
    return json_pack("{s:i,s:i}", "expected", (int)r->nodes, "answered", (int)r->nodes_answered);
}

static void refused(sb_http_req_t *req, int rc) {
    if (rc == SB_ENOTFOUND)
        sb_http_respond_error(req, 404, "not_found", "no such namespace");
    else if (rc == SB_ECLOSED)
        sb_http_respond_error(req, 503, "cluster_unavailable", "not connected to Redis");
    else if (rc == SB_EPROTO)
        sb_http_respond_error(req, 422, "invalid_field", "data is not valid");
    else
        sb_http_respond_error(req, 500, "internal", "out of memory");
}

/* A call that could not start: answered with refused() and ended. */
static void call_refused(sb_api_call_t *call, int rc) {
    sb_api__keyed_forget(call);
    if (call->req) {
        call->req->on_abort = NULL;
        refused(call->req, rc);
        call->req = NULL;
    }
    sb_api__call_end(call);
}

/* ---- selections ------------------------------------------------------------------ */

/* Owned names for a selection: rooms as given, users as "user:<id>". */
typedef struct {
    char names[2 * SB_SELECT_MAX][SB_NAME_MAX + 1];
    sb_str_t rooms[SB_SELECT_MAX], except[SB_SELECT_MAX];
    size_t used;
    sb_engine_select_t sel;
} selection_t;

static bool add_name(selection_t *s, bool except, const char *prefix, const char *name) {
    size_t *n = except ? &s->sel.nexcept : &s->sel.nrooms;
    if (*n == SB_SELECT_MAX || s->used == 2 * SB_SELECT_MAX || !*name)
        return false;
    char *out = s->names[s->used++];
    int w = snprintf(out, SB_NAME_MAX + 1, "%s%s", prefix, name);
    if (w < 0 || w > SB_NAME_MAX)
        return false;
    (except ? s->except : s->rooms)[(*n)++] = sb_str(out, (size_t)w);
    return true;
}

/* A string or a list of strings, each added with `prefix`. */
static bool add_names(selection_t *s, bool except, const char *prefix, const json_t *v) {
    if (json_is_string(v))
        return add_name(s, except, prefix, json_string_value(v));
    if (!json_is_array(v) || json_array_size(v) > SB_SELECT_MAX)
        return false;
    size_t i;
    json_t *e;
    json_array_foreach(v, i,
                       e) if (!json_is_string(e) ||
                              !add_name(s, except, prefix, json_string_value(e))) return false;
    return true;
}

static void selection_init(selection_t *s) {
    memset(&s->sel, 0, sizeof s->sel);
    s->used = 0;
    s->sel.rooms = s->rooms;
    s->sel.except = s->except;
}

/* `to` {user|room|socket|all} and `except` as /api/emit takes them; NULL
 * or the message for a 422. */
static const char *parse_selection(const json_t *to, const json_t *except, selection_t *s) {
    json_t *user = json_object_get(to, "user"), *room = json_object_get(to, "room");
    json_t *socket = json_object_get(to, "socket"), *all = json_object_get(to, "all");
    selection_init(s);
    if (!json_is_object(to) || (!!user + !!room + !!socket + !!all) != 1)
        return "to must be an object with exactly one of user, room, socket, all";
    if ((user && !add_names(s, false, "user:", user)) || (room && !add_names(s, false, "", room)) ||
        (socket && !add_names(s, false, "", socket)))
        return "to.user, to.room and to.socket take a name or a list of up to 64";
    if (all && !json_is_true(all))
        return "to.all must be true";
    if (except && (!json_is_array(except) || !add_names(s, true, "", except)))
        return "except must be a list of up to 64 room names";
    return NULL;
}

static bool timeout_param(sb_http_req_t *req, const json_t *body, uint32_t *ms) {
    char v[16], *end = NULL;
    long t = SB_ASK_TIMEOUT_MS;
    json_t *field = json_object_get(body, "timeoutMs");
    if (field)
        t = json_is_integer(field) ? (long)json_integer_value(field) : -1;
    else if (!body && sb_http_req_query(req, "timeoutMs", v, sizeof v) &&
             ((t = strtol(v, &end, 10)), *end))
        t = -1;
    if (t < 1 || t > SB_ASK_TIMEOUT_MAX_MS) {
        sb_http_respond_error(req, 422, "invalid_field", "timeoutMs must be an integer of 1-60000");
        return false;
    }
    *ms = (uint32_t)t;
    return true;
}

/* body.namespace, or ?namespace= for a GET; "/" when absent. */
static bool namespace_of(sb_http_req_t *req, const json_t *body, char *out, size_t cap) {
    json_t *field = json_object_get(body, "namespace");
    if (field)
        snprintf(out, cap, "%s", json_is_string(field) ? json_string_value(field) : "");
    else if (body || !sb_http_req_query(req, "namespace", out, cap))
        snprintf(out, cap, "/");
    if (out[0] != '/' || strlen(out) > 256) {
        sb_http_respond_error(req, 422, "invalid_field",
                              "namespace must be a name starting with /");
        return false;
    }
    return true;
}

/* ---- GET /api/sockets ------------------------------------------------------------- */

static void respond_result(sb_api_call_t *call, const char *key, const sb_engine_result_t *r) {
    json_t *list = json_loadb(r->answers.p, r->answers.n, 0, NULL);
    json_t *body = json_pack("{s:o,s:I,s:b,s:o}", key, list ? list : json_array(), "count",
                             (json_int_t)json_array_size(list), "timedOut", r->timed_out, "nodes",
                             sb_api__nodes_json(r));
    if (body && r->truncated)
        json_object_set_new(body, "truncated", json_true());
    sb_api__call_respond(call, 200, body);
    sb_api__call_end(call);
}

static void on_sockets(void *ud, const sb_engine_result_t *r) { respond_result(ud, "sockets", r); }
static void on_rooms(void *ud, const sb_engine_result_t *r) { respond_result(ud, "rooms", r); }

static bool view_ready(sb_api_t *api, sb_http_req_t *req) {
    if (api->cfg.view)
        return true;
    sb_http_respond_error(req, 500, "internal", "no socket view configured");
    return false;
}

/* ?room= | ?user= (one), ?except=, ?namespace=, ?timeoutMs= */
static void on_fetch_sockets(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    if (!sb_api__method_is(req, "GET") || !sb_api__authorized(api, req) || !view_ready(api, req))
        return;
    selection_t *s = malloc(sizeof *s);
    char nsp[257], v[SB_NAME_MAX + 1];
    uint32_t timeout_ms;
    if (!s) {
        refused(req, SB_ENOMEM);
        return;
    }
    selection_init(s);
    bool ok = true;
    if (sb_http_req_query(req, "room", v, sizeof v))
        ok = add_name(s, false, "", v);
    if (ok && sb_http_req_query(req, "user", v, sizeof v))
        ok = add_name(s, false, "user:", v);
    if (ok && sb_http_req_query(req, "except", v, sizeof v))
        ok = add_name(s, true, "", v);
    if (!ok)
        sb_http_respond_error(req, 422, "invalid_field", "room, user and except take one name");
    else if (namespace_of(req, NULL, nsp, sizeof nsp) && timeout_param(req, NULL, &timeout_ms)) {
        sb_api_call_t *call = sb_api__call_begin(api, req, 0);
        const sb_cluster_view_t *view = api->cfg.view;
        int rc = call ? view->fetch_sockets(view->ud, sb_cstr(nsp), &s->sel, timeout_ms, on_sockets,
                                            call)
                      : SB_OK;
        if (rc != SB_OK)
            call_refused(call, rc);
    }
    free(s);
}

/* GET /api/rooms?namespace=&timeoutMs= (rooms_api.c routes it here) */
void sb_api__all_rooms(sb_api_t *api, sb_http_req_t *req) {
    char nsp[257];
    uint32_t timeout_ms;
    if (!view_ready(api, req) || !namespace_of(req, NULL, nsp, sizeof nsp) ||
        !timeout_param(req, NULL, &timeout_ms))
        return;
    sb_api_call_t *call = sb_api__call_begin(api, req, 0);
    const sb_cluster_view_t *view = api->cfg.view;
    int rc = call ? view->all_rooms(view->ud, sb_cstr(nsp), timeout_ms, on_rooms, call) : SB_OK;
    if (rc != SB_OK)
        call_refused(call, rc);
}

/* ---- POST /api/rooms/:room/join|leave|disconnect ------------------------------------ */

/* join {to, except?}: the selected sockets join :room; leave {to?, except?}:
 * they leave it (all its members without `to`); disconnect {except?,
 * close?}: the members of :room are disconnected. */
void sb_api__room_op(sb_api_t *api, sb_http_req_t *req, const char *room, sb_str_t verb) {
    sb_engine_sockets_op_t op = sb_str_eq(verb, SB_LIT("join"))    ? SB_ENGINE_JOIN
                                : sb_str_eq(verb, SB_LIT("leave")) ? SB_ENGINE_LEAVE
                                                                   : SB_ENGINE_DISCONNECT;
    json_t *body = sb_api__post_body(api, req);
    selection_t *s = body ? malloc(sizeof *s) : NULL;
    char nsp[257];
    const char *why = NULL;
    if (!body || !view_ready(api, req) || !namespace_of(req, body, nsp, sizeof nsp))
        goto out;
    if (!s) {
        refused(req, SB_ENOMEM);
        goto out;
    }
    json_t *to = json_object_get(body, "to"), *except = json_object_get(body, "except");
    if (op == SB_ENGINE_JOIN && !to)
        why = "to is required: the sockets that join";
    else if (op == SB_ENGINE_DISCONNECT && to)
        why = "disconnect takes the members of the room: no to";
    else if (to)
        why = parse_selection(to, except, s);
    else { /* the room's own members */
        json_t *members = json_pack("{s:s}", "room", room);
        why = members ? parse_selection(members, except, s) : "out of memory";
        json_decref(members);
    }
    json_t *close = json_object_get(body, "close");
    if (!why && close && !json_is_boolean(close))
        why = "close must be a boolean";
    if (why) {
        sb_http_respond_error(req, 422, "invalid_field", why);
        goto out;
    }
    if (json_is_true(close))
        op = SB_ENGINE_DISCONNECT_CLOSE;
    sb_str_t target = sb_cstr(room);
    size_t local;
    bool published;
    const sb_cluster_view_t *view = api->cfg.view;
    int rc = view->sockets_op(view->ud, sb_cstr(nsp), &s->sel, op, &target, 1, &local, &published);
    if (rc != SB_OK)
        refused(req, rc);
    else
        sb_api__respond_json(req, 200,
                             json_pack("{s:b,s:I,s:b}", "ok", 1, "localSockets", (json_int_t)local,
                                       "clusterWide", published));
out:
    free(s);
    json_decref(body);
}

/* ---- POST /api/emit with ack ---------------------------------------------------------- */

/* Binary values travel in JSON as {"$binary": "<base64>"}: in `data` they
 * become Socket.IO attachments, and binary ack answers come back so. */
typedef struct {
    sb_str_t v[SB_ANSWERS_MAX_BINARY_API];
    size_t n;
} binaries_t;

static bool is_binary(const json_t *v) {
    return json_is_object(v) && json_object_size(v) == 1 &&
           json_is_string(json_object_get(v, "$binary"));
}

/* The replacement of v (new reference) when it is or holds a binary value,
 * else NULL; *bad on base64 that does not decode, too many values or OOM. */
static json_t *binary_in(json_t *v, binaries_t *b, bool *bad) {
    if (is_binary(v)) {
        json_t *s = json_object_get(v, "$binary");
        sb_str_t text = sb_str(json_string_value(s), json_string_length(s));
        uint8_t *bytes = b->n < SB_ANSWERS_MAX_BINARY_API ? malloc(text.n / 4 * 3 + 3) : NULL;
        ssize_t n = bytes ? sb_base64_decode(text, bytes, text.n / 4 * 3 + 3, SB_BASE64_STD) : -1;
        if (n < 0) {
            free(bytes);
            *bad = true;
            return NULL;
        }
        b->v[b->n] = sb_str((char *)bytes, (size_t)n);
        return json_pack("{s:b,s:I}", "_placeholder", 1, "num", (json_int_t)b->n++);
    }
    size_t i;
    const char *k;
    json_t *e, *r;
    void *tmp;
    if (json_is_array(v))
        json_array_foreach(v, i, e) if ((r = binary_in(e, b, bad))) json_array_set_new(v, i, r);
    if (json_is_object(v))
        json_object_foreach_safe(v, tmp, k, e) if ((r = binary_in(e, b, bad)))
            json_object_set_new(v, k, r);
    return NULL;
}

static json_t *binary_out(json_t *v, const sb_engine_result_t *res) {
    json_t *num = json_object_get(v, "num");
    if (json_is_object(v) && json_is_true(json_object_get(v, "_placeholder")) &&
        json_is_integer(num) && json_integer_value(num) >= 0 &&
        (size_t)json_integer_value(num) < res->nattachments) {
        sb_str_t bin = res->attachments[json_integer_value(num)];
        char *text = malloc(sb_base64_encoded_len(bin.n, SB_BASE64_STD) + 1);
        if (!text)
            return json_null();
        size_t n = sb_base64_encode((const uint8_t *)bin.p, bin.n, text, SB_BASE64_STD);
        json_t *out = json_pack("{s:s%}", "$binary", text, n);
        free(text);
        return out;
    }
    size_t i;
    const char *k;
    json_t *e, *r;
    void *tmp;
    if (json_is_array(v))
        json_array_foreach(v, i, e) if ((r = binary_out(e, res))) json_array_set_new(v, i, r);
    if (json_is_object(v))
        json_object_foreach_safe(v, tmp, k, e) if ((r = binary_out(e, res)))
            json_object_set_new(v, k, r);
    return NULL;
}

static void on_acks(void *ud, const sb_engine_result_t *r) {
    sb_api_call_t *call = ud;
    json_t *list = json_loadb(r->answers.p, r->answers.n, 0, NULL);
    if (!list)
        list = json_array();
    else if (r->nattachments)
        binary_out(list, r);
    json_t *body =
        json_pack("{s:b,s:I,s:o,s:b,s:o}", "ok", 1, "recipients", (json_int_t)r->clients,
                  "responses", list, "timedOut", r->timed_out, "nodes", sb_api__nodes_json(r));
    if (body && r->truncated)
        json_object_set_new(body, "truncated", json_true());
    sb_api__call_respond(call, 200, body);
    sb_api__call_end(call);
}

static void emit_selected(sb_api_t *api, sb_http_req_t *req, json_t *body, selection_t *s,
                          binaries_t *b) {
    char nsp[257];
    uint32_t timeout_ms;
    bool bad = false;
    json_t *data = json_object_get(body, "data");
    json_t *swapped = data ? binary_in(data, b, &bad) : NULL;
    if (swapped)
        json_object_set_new(body, "data", swapped), data = swapped;
    if (bad) {
        sb_http_respond_error(req, 422, "invalid_field",
                              "data: a {\"$binary\"} value must be standard base64 (256 at most)");
        return;
    }
    if (!namespace_of(req, body, nsp, sizeof nsp) || !timeout_param(req, body, &timeout_ms))
        return;
    char *args =
        data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : strdup("");
    const char *event = json_string_value(json_object_get(body, "event"));
    sb_engine_broadcast_t bc = {.nsp = sb_cstr(nsp),
                                .event = sb_cstr(event),
                                .args = sb_cstr(args ? args : ""),
                                .attachments = b->v,
                                .nattachments = b->n,
                                .to = s->sel};
    sb_api_call_t *call = args ? sb_api__call_begin(api, req, 0) : NULL;
    const sb_cluster_view_t *view = api->cfg.view;
    int rc = call ? view->emit_with_acks(view->ud, &bc, timeout_ms, on_acks, call) : SB_OK;
    if (!args)
        refused(req, SB_ENOMEM);
    else if (rc != SB_OK)
        call_refused(call, rc);
    free(args);
}

/* /api/emit {to, event, data?, except?, ack: true, timeoutMs?, namespace?}:
 * every selected socket of the cluster gets the event with an ack; the
 * answer lists their first ack arguments. backend.c checked the event. */
void sb_api__emit_with_acks(sb_api_t *api, sb_http_req_t *req, json_t *body) {
    selection_t *s = malloc(sizeof *s);
    binaries_t *b = calloc(1, sizeof *b);
    if (!s || !b || !view_ready(api, req)) {
        if (!s || !b)
            refused(req, SB_ENOMEM);
    } else {
        const char *why =
            parse_selection(json_object_get(body, "to"), json_object_get(body, "except"), s);
        if (why)
            sb_http_respond_error(req, 422, "invalid_field", why);
        else
            emit_selected(api, req, body, s, b);
    }
    for (size_t i = 0; b && i < b->n; i++)
        free((void *)b->v[i].p);
    free(b);
    free(s);
}

int sb_api__register_sockets(sb_api_t *api, sb_http_server_t *http) {
    return sb_http_route(http, "/api/sockets", on_fetch_sockets, api);
}
