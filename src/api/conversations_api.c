/* POST /api/conversations and GET /api/conversations/:id/messages: group
 * conversations are created by the backend; history is readable by it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/err.h"

#define SB_API_MEMBERS_MAX 1000

static void on_created(void *ud, int rc, const char *id) {
    sb_api_call_t *call = ud;
    json_t *members = *(json_t **)(void *)call->extra;
    if (rc == SB_OK)
        sb_api__call_respond(call, 201,
                             json_pack("{s:b,s:s,s:O}", "ok", 1, "id", id, "memberIds", members));
    else
        sb_api__call_fail_store(call, rc);
    json_decref(members);
    sb_api__call_end(call);
}

/* memberIds: 2..1000 distinct-or-not user ids; duplicates are harmless. */
static bool members_of(json_t *list, sb_str_t *out, size_t *n) {
    size_t i;
    json_t *v;
    if (!json_is_array(list) || json_array_size(list) < 2 ||
        json_array_size(list) > SB_API_MEMBERS_MAX)
        return false;
    json_array_foreach(list, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > SB_STORE_MAX_ID)
            return false;
        out[i] = sb_str(json_string_value(v), json_string_length(v));
    }
    *n = json_array_size(list);
    return true;
}

/* POST /api/conversations {id?, memberIds, title?} */
static void create_conversation(sb_api_t *api, sb_http_req_t *req) {
    json_t *body = sb_api__body_object(req);
    if (!body)
        return;
    sb_str_t members[SB_API_MEMBERS_MAX];
    size_t n = 0;
    json_t *id = json_object_get(body, "id"), *title = json_object_get(body, "title");
    json_t *list = json_object_get(body, "memberIds");
    if (!members_of(list, members, &n) || (id && !json_is_string(id)) ||
        (title && !json_is_string(title))) {
        sb_http_respond_error(req, 422, "invalid_field",
                              "memberIds must list 2-1000 user ids; id and title are strings");
        json_decref(body);
        return;
    }
    sb_api_call_t *call = sb_api__call_begin(api, req, sizeof(json_t *));
    if (call) {
        *(json_t **)(void *)call->extra = json_incref(list);
        int rc = sb_store_conversation_create(
            api->cfg.store,
            id ? sb_str(json_string_value(id), json_string_length(id)) : SB_STR_NULL, members, n,
            title ? sb_str(json_string_value(title), json_string_length(title)) : SB_STR_NULL,
            on_created, call);
        if (rc != SB_OK)
            on_created(call, rc, NULL);
    }
    json_decref(body);
}

/* ---- history ----------------------------------------------------------------------------- */

typedef struct {
    char id[SB_STORE_MAX_CONV_ID + 1];
    int64_t before;
    int limit;
} page_req_t;

static void on_page(void *ud, int rc, const sb_store_msgs_t *page) {
    sb_api_call_t *call = ud;
    page_req_t *p = (page_req_t *)(void *)call->extra;
    if (rc != SB_OK)
        sb_api__call_fail_store(call, rc);
    else
        sb_api__call_respond(
            call, 200,
            sb_api__page_json("conversationId", p->id, page, p->limit, sb_features_message_json));
    sb_api__call_end(call);
}

/* The conversation must exist (404 otherwise) before its page is read. */
static void on_members(void *ud, int rc, const sb_store_strs_t *l) {
    sb_api_call_t *call = ud;
    page_req_t *p = (page_req_t *)(void *)call->extra;
    char room[SB_STORE_MAX_ROOM + 1];
    snprintf(room, sizeof room, "conversation:%s", p->id);
    if (rc == SB_OK)
        rc = sb_store_message_history(call->api->cfg.store, sb_cstr(room), p->before, p->limit,
                                      on_page, call);
    if (rc != SB_OK) {
        sb_api__call_fail_store(call, rc);
        sb_api__call_end(call);
    }
}

static void read_history(sb_api_t *api, sb_http_req_t *req, sb_str_t id) {
    int64_t before;
    int limit;
    if (!sb_api__page_params(req, &before, &limit))
        return;
    sb_api_call_t *call = sb_api__call_begin(api, req, sizeof(page_req_t));
    if (!call)
        return;
    page_req_t *p = (page_req_t *)(void *)call->extra;
    snprintf(p->id, sizeof p->id, "%.*s", (int)id.n, id.p);
    p->before = before;
    p->limit = limit;
    int rc = sb_store_conversation_members(api->cfg.store, sb_cstr(p->id), on_members, call);
    if (rc != SB_OK) {
        sb_api__call_fail_store(call, rc);
        sb_api__call_end(call);
    }
}

/* ---- PATCH / DELETE /api/conversations/<id> ------------------------------------------------ */

/* What a change keeps while the store works: the id, and the body's new
 * member list (NULL when unchanged) and title. */
typedef struct {
    char id[SB_STORE_MAX_CONV_ID + 1];
    json_t *members, *title;
    bool deleted;
} change_req_t;

/* The users to tell: the members before, plus the new ones. */
static size_t told_of(const sb_store_strs_t *before, json_t *after, const char **out) {
    size_t n = 0, i;
    json_t *v;
    for (size_t k = 0; k < before->n; k++)
        out[n++] = before->v[k];
    json_array_foreach(after, i, v) {
        bool seen = false;
        for (size_t k = 0; k < before->n && !seen; k++)
            seen = strcmp(before->v[k], json_string_value(v)) == 0;
        if (!seen)
            out[n++] = json_string_value(v);
    }
    return n;
}

static void on_changed(void *ud, int rc, const sb_store_strs_t *before) {
    sb_api_call_t *call = ud;
    change_req_t *c = (change_req_t *)(void *)call->extra;
    if (rc != SB_OK) {
        sb_api__call_fail_store(call, rc);
    } else {
        const char **told = malloc((before->n + json_array_size(c->members) + 1) * sizeof *told);
        const char **now = malloc((json_array_size(c->members) + 1) * sizeof *now);
        size_t ntold = told ? told_of(before, c->members, told) : 0, nnow = 0, i;
        json_t *v, *ids = json_array();
        json_array_foreach(c->members, i, v) if (now) now[nnow++] = json_string_value(v);
        if (!c->members)
            for (size_t k = 0; k < before->n; k++)
                json_array_append_new(ids, json_string(before->v[k]));
        json_t *payload = c->deleted ? json_pack("{s:s}", "conversationId", c->id)
                                     : json_pack("{s:s,s:O}", "conversationId", c->id, "memberIds",
                                                 c->members ? c->members : ids);
        if (!c->deleted && c->title)
            json_object_set(payload, "title", c->title);
        char *text = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (told && now && text)
            sb_features_conversation_changed(
                (sb_features_t *)call->api->cfg.features, c->id, told, ntold,
                c->deleted   ? NULL
                : c->members ? now
                             : (const char *const *)before->v,
                c->members ? nnow : before->n,
                c->deleted ? "conversation:deleted" : "conversation:updated", sb_cstr(text));
        json_object_set_new(payload, "ok", json_true());
        sb_api__call_respond(call, 200, payload);
        free(text);
        free(told);
        free(now);
        json_decref(ids);
    }
    json_decref(c->members);
    json_decref(c->title);
    sb_api__call_end(call);
}

/* PATCH {title?, memberIds?} (at least one) or DELETE. */
static void change_conversation(sb_api_t *api, sb_http_req_t *req, sb_str_t id, bool deleting) {
    json_t *body = deleting ? NULL : sb_api__body_object(req);
    if (!deleting && !body)
        return;
    sb_str_t members[SB_API_MEMBERS_MAX];
    size_t n = 0;
    json_t *title = json_object_get(body, "title"), *list = json_object_get(body, "memberIds");
    if (!deleting && ((!title && !list) || (title && !json_is_string(title)) ||
                      (list && !members_of(list, members, &n)))) {
        sb_http_respond_error(req, 422, "invalid_field",
                              "give title (a string) and/or memberIds (2-1000 user ids)");
        json_decref(body);
        return;
    }
    sb_api_call_t *call = sb_api__call_begin(api, req, sizeof(change_req_t));
    if (call) {
        change_req_t *c = (change_req_t *)(void *)call->extra;
        snprintf(c->id, sizeof c->id, "%.*s", (int)id.n, id.p);
        c->members = list ? json_incref(list) : NULL;
        c->title = title ? json_incref(title) : NULL;
        c->deleted = deleting;
        int rc = deleting ? sb_store_conversation_delete(api->cfg.store, id, on_changed, call)
                          : sb_store_conversation_update(
                                api->cfg.store, id,
                                title ? sb_str(json_string_value(title), json_string_length(title))
                                      : SB_STR_NULL,
                                list ? members : NULL, n, on_changed, call);
        if (rc != SB_OK)
            on_changed(call, rc, NULL);
    }
    json_decref(body);
}

/* ---- POST /api/conversations/<id>/messages and /read: on behalf of a member ---------------- */

/* The HTTP status of an error code of the event contract. */
static int status_of(const char *code) {
    static const struct {
        const char *code;
        int status;
    } map[] = {{"forbidden", 403},         {"not_found", 404},      {"invalid_payload", 422},
               {"payload_too_large", 413}, {"already_exists", 409}, {"server_busy", 503},
               {"store_unavailable", 503}, {"storage_error", 500}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].code, code) == 0)
            return map[i].status;
    return 500;
}

static void on_answer(void *ud, json_t *result, const char *code, const char *message) {
    sb_api_call_t *call = ud;
    if (result) {
        sb_api__call_respond(call, json_object_get(result, "senderId") ? 201 : 200, result);
    } else {
        sb_api__keyed_forget(call);
        if (call->req) {
            call->req->on_abort = NULL;
            sb_http_respond_error(call->req, status_of(code), code, message);
            call->req = NULL;
        }
    }
    sb_api__call_end(call);
}

static const char *string_field(json_t *body, const char *name, size_t max) {
    json_t *v = json_object_get(body, name);
    return json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= max &&
                   strlen(json_string_value(v)) == json_string_length(v)
               ? json_string_value(v)
               : NULL;
}

/* {senderId, content, messageType?, clientMessageId?, senderName?} */
static void send_message(sb_api_t *api, sb_http_req_t *req, const char *conv) {
    json_t *body = sb_api__body_object(req);
    if (!body)
        return;
    const char *sender = string_field(body, "senderId", SB_STORE_MAX_ID);
    json_t *content = json_object_get(body, "content"),
           *type = json_object_get(body, "messageType");
    json_t *key = json_object_get(body, "clientMessageId"),
           *name = json_object_get(body, "senderName");
    if (!sender || !json_is_string(content) ||
        strlen(json_string_value(content)) != json_string_length(content) ||
        (type && !string_field(body, "messageType", SB_STORE_MAX_NAME)) ||
        (key && !string_field(body, "clientMessageId", SB_STORE_MAX_KEY)) ||
        (name && !string_field(body, "senderName", SB_STORE_MAX_NAME))) {
        sb_http_respond_error(
            req, 422, "invalid_field",
            "senderId and content are required strings; messageType, clientMessageId "
            "and senderName are optional strings");
    } else {
        sb_api_call_t *call = sb_api__call_begin(api, req, 0);
        if (call)
            sb_features_send_message((sb_features_t *)api->cfg.features, conv, sender,
                                     name ? json_string_value(name) : NULL,
                                     json_string_value(content),
                                     type ? json_string_value(type) : NULL,
                                     key ? json_string_value(key) : NULL, on_answer, call);
    }
    json_decref(body);
}

/* {userId, messageIds: [1..100 ids]} */
static void mark_read(sb_api_t *api, sb_http_req_t *req, const char *conv) {
    json_t *body = sb_api__body_object(req);
    if (!body)
        return;
    const char *user = string_field(body, "userId", SB_STORE_MAX_ID);
    json_t *list = json_object_get(body, "messageIds"), *v;
    int64_t ids[100];
    size_t n = 0, i;
    bool ok =
        user && json_is_array(list) && json_array_size(list) >= 1 && json_array_size(list) <= 100;
    json_array_foreach(list, i, v) {
        if (ok && (!json_is_integer(v) || json_integer_value(v) < 1))
            ok = false;
        if (ok)
            ids[n++] = json_integer_value(v);
    }
    if (!ok) {
        sb_http_respond_error(req, 422, "invalid_field",
                              "userId and messageIds (1-100 message ids) are required");
    } else {
        sb_api_call_t *call = sb_api__call_begin(api, req, 0);
        if (call)
            sb_features_mark_read((sb_features_t *)api->cfg.features, conv, user, ids, n, on_answer,
                                  call);
    }
    json_decref(body);
}

/* /api/conversations and /api/conversations/<id>/messages (id percent-decoded) */
static void on_conversations(sb_http_req_t *req, void *ud) {
    static const sb_str_t base = SB_LIT("/api/conversations"), tail = SB_LIT("/messages");
    sb_api_t *api = ud;
    if (!sb_api__authorized(api, req))
        return;
    if (req->path.n <= base.n + 1) {
        if (sb_api__method_is(req, "POST"))
            create_conversation(api, req);
        return;
    }
    char id[SB_STORE_MAX_CONV_ID + 1];
    size_t n;
    bool patch = sb_str_eq(req->method, SB_LIT("PATCH")),
         del = sb_str_eq(req->method, SB_LIT("DELETE"));
    if ((patch || del) &&
        sb_api__path_id(req->path, SB_LIT("/api/conversations/"), SB_LIT(""), id, sizeof id, &n)) {
        change_conversation(api, req, sb_str(id, n), del);
        return;
    }
    if (sb_str_eq(req->method, SB_LIT("POST")) &&
        sb_api__path_id(req->path, SB_LIT("/api/conversations/"), SB_LIT("/read"), id, sizeof id,
                        &n)) {
        mark_read(api, req, id);
        return;
    }
    if (!sb_api__path_id(req->path, SB_LIT("/api/conversations/"), tail, id, sizeof id, &n)) {
        sb_http_respond_error(req, 404, "not_found", "expected /api/conversations/<id>/messages");
        return;
    }
    if (sb_str_eq(req->method, SB_LIT("POST")))
        send_message(api, req, id);
    else if (sb_api__method_is(req, "GET"))
        read_history(api, req, sb_str(id, n));
}

int sb_api__register_conversations(sb_api_t *api, sb_http_server_t *http) {
    return sb_api__route(api, http, "/api/conversations/", on_conversations);
}
