/* The team's backend (docs/hooks.md): a connecting socket waits for its
 * word (allow, with data for the socket); events outside the contract are
 * POSTed to it and its JSON answer becomes the client's ack and emits;
 * what cannot reach a user live is POSTed for a mobile push. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "features/features_internal.h"

#define SB_FEAT_HOOK_EMITS_MAX 16  /* emits one answer may ask for */
#define SB_FEAT_HOOK_DATA_MAX 4096 /* bytes of the connect hook's data kept per socket */
#define SB_FEAT_HOOK_AUTH_MAX 4096 /* bytes of the CONNECT auth sent to the backend */

static bool hook_on(const sb_features_t *f, sb_feat_hook_t hook) {
    const sb_feat_backend_t *b = &f->cfg.backend;
    return b->impl && b->enabled(b->impl, hook);
}

/* True when `name` is in the comma list (an entry ending in * is a prefix). */
static bool name_forwarded(const char *list, sb_str_t name) {
    for (const char *p = list ? list : ""; *p;) {
        size_t n = strcspn(p, ",");
        sb_str_t entry = sb_str(p, n);
        if (n && p[n - 1] == '*' ? sb_str_has_prefix(name, sb_str(p, n - 1))
                                 : sb_str_eq(name, entry))
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

static char *dump(json_t *v) {
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    return text;
}

/* ---- custom events ------------------------------------------------------------------ */

/* {event, args, socketId, user: {id, name}, ack, data (the connect hook's)?} */
static char *event_body(sb_client_t *c, const sb_sio_event_t *ev) {
    json_t *args = json_array();
    for (size_t i = 0; args && i < ev->nargs; i++)
        json_array_append_new(args, sb_feat_arg(ev, i));
    return dump(json_pack("{s:s%,s:o,s:s,s:{s:s,s:s},s:b,s:O*}", "event", ev->name.p, ev->name.n,
                          "args", args, "socketId", sb_sio_socket_id(ev->socket), "user", "id",
                          c->user->id, "name", sb_feat_user_name(c->user), "ack", ev->has_ack,
                          "data", c->hook_data));
}

/* The answer's emits, in order; a malformed one is skipped and logged. */
static void run_emits(sb_features_t *f, json_t *emits) {
    size_t i;
    json_t *e;
    json_array_foreach(emits, i, e) {
        const char *why = NULL;
        if (i >= SB_FEAT_HOOK_EMITS_MAX)
            why = "more than 16 emits";
        else
            sb_features_emit_request(f, e, &why);
        if (why)
            sb_log_limited(&f->log_limit, SB_LOG_WARN, "hook emit",
                           "hooks: an emit of the event hook's answer was skipped: %s", why);
    }
}

/* The backend's {error: "message" | {code?, message}}: the client gets hook_refused. */
static void refuse(sb_feat_call_t *call, json_t *err) {
    const char *msg = json_is_string(err) ? json_string_value(err)
                                          : json_string_value(json_object_get(err, "message"));
    sb_feat_call_fail(call, "hook_refused", "%s", msg ? msg : "refused by the backend");
}

static void on_event_answer(void *ud, int rc, sb_str_t answer, const char *why) {
    sb_feat_call_t *call = ud;
    json_t *a = rc == SB_OK ? json_loadb(answer.p, answer.n, 0, NULL) : NULL;
    if (rc != SB_OK)
        sb_feat_call_fail(call, "hook_unavailable", "the backend failed: %s", why);
    else if (!json_is_object(a))
        sb_feat_call_fail(call, "hook_unavailable", "the backend's answer is not a JSON object");
    else if (json_object_get(a, "error"))
        refuse(call, json_object_get(a, "error"));
    else {
        run_emits(call->f, json_object_get(a, "emits"));
        json_t *ack = json_object_get(a, "ack");
        sb_feat_call_reply(call, ack ? json_incref(ack) : json_null());
    }
    json_decref(a);
    sb_feat_call_end(call);
}

static void on_custom_event(sb_sio_event_t *ev, void *ud) {
    sb_features_t *f = ud;
    sb_client_t *c = sb_sio_socket_get_data(ev->socket);
    if (!c || !hook_on(f, SB_FEAT_HOOK_EVENT) ||
        !name_forwarded(f->cfg.backend.event_names, ev->name)) {
        sb_feat_unknown_event(ev);
        return;
    }
    if (ev->nattachments) {
        sb_feat_fail(ev, "invalid_payload", "binary arguments cannot go to the backend");
        return;
    }
    char *body = event_body(c, ev);
    sb_feat_call_t *call = body ? sb_feat_call_begin(c, ev, 0) : NULL;
    if (!call) {
        if (!body)
            sb_feat_fail(ev, "server_busy", "out of memory");
        free(body);
        return;
    }
    int rc = f->cfg.backend.post(f->cfg.backend.impl, SB_FEAT_HOOK_EVENT, sb_cstr(body),
                                 on_event_answer, call);
    free(body);
    if (rc == SB_OK)
        return;
    if (rc == SB_ETOOBIG)
        sb_feat_call_fail(call, "hook_busy", "too many backend calls in flight; retry later");
    else
        sb_feat_call_fail(call, "hook_unavailable", "the backend cannot be called");
    sb_feat_call_end(call);
}

/* ---- connect ----------------------------------------------------------------------- */

typedef struct {
    sb_features_t *f;
    sb_sio_socket_t *sock; /* referenced */
    sb_feat_admit_fn admit;
    sb_jwt_claims_t claims;
} connect_call_t;

bool sb_feat_backend_connect_on(const sb_features_t *f) { return hook_on(f, SB_FEAT_HOOK_CONNECT); }

static int refuse_connect(sb_sio_refusal_t *r, const char *code, const char *msg) {
    snprintf(r->message, sizeof r->message, "Connection refused: %s", msg);
    snprintf(r->data, sizeof r->data, "{\"code\":\"%s\"}", code);
    return SB_EAUTH;
}

/* The backend could not be asked or did not answer: --hook-connect-fallback. */
static int connect_failed(connect_call_t *call, const char *code, const char *why,
                          sb_sio_refusal_t *r) {
    sb_features_t *f = call->f;
    if (f->cfg.backend.connect_allow_on_failure)
        return call->admit(f, call->sock, &call->claims, NULL, r);
    char msg[120];
    snprintf(msg, sizeof msg, "the backend failed (%s)", why);
    return refuse_connect(r, code, msg);
}

/* The backend's word: {allow: true, data?} lets the socket in; {allow:
 * false, reason?} (or anything else) keeps it out. */
static int connect_verdict(connect_call_t *call, sb_str_t answer, sb_sio_refusal_t *r) {
    json_t *a = json_loadb(answer.p, answer.n, 0, NULL);
    int rc;
    if (!json_is_object(a)) {
        rc = connect_failed(call, "hook_unavailable", "its answer is not a JSON object", r);
    } else if (!json_is_true(json_object_get(a, "allow"))) {
        const char *reason = json_string_value(json_object_get(a, "reason"));
        rc = refuse_connect(r, "hook_refused", reason ? reason : "refused by the backend");
    } else {
        json_t *data = json_object_get(a, "data");
        char *text = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        bool fits = !text || strlen(text) <= SB_FEAT_HOOK_DATA_MAX;
        free(text);
        rc = fits ? call->admit(call->f, call->sock, &call->claims, json_incref(data), r)
                  : connect_failed(call, "hook_unavailable", "its data is over 4096 bytes", r);
    }
    json_decref(a);
    return rc;
}

static void on_connect_answer(void *ud, int rc, sb_str_t answer, const char *why) {
    connect_call_t *call = ud;
    sb_sio_refusal_t r = {.message = "Not authorized"};
    r.data[0] = '\0';
    /* Not pending: the client left meanwhile. SB_ECLOSED: the server is
     * stopping; the socket goes with its session. */
    if (rc != SB_ECLOSED && sb_sio_socket_pending(call->sock)) {
        int verdict = rc == SB_OK ? connect_verdict(call, answer, &r)
                                  : connect_failed(call, "hook_unavailable", why, &r);
        sb_sio_socket_resume(call->sock, verdict, &r);
    }
    sb_sio_socket_unref(call->sock);
    free(call);
}

/* {socketId, user: {id, name}, auth (the CONNECT auth without its token),
 * remoteAddress, namespace} */
static char *connect_body(sb_sio_socket_t *s, sb_str_t auth, const sb_jwt_claims_t *cl) {
    json_t *a = auth.n <= SB_FEAT_HOOK_AUTH_MAX ? json_loadb(auth.p, auth.n, 0, NULL) : NULL;
    if (!json_is_object(a)) {
        json_decref(a);
        a = json_object();
    }
    json_object_del(a, "token");
    char ip[64];
    sb_sio_socket_remote_ip(s, ip, sizeof ip);
    return dump(json_pack("{s:s,s:{s:s,s:s},s:o,s:s,s:s}", "socketId", sb_sio_socket_id(s), "user",
                          "id", cl->sub, "name", cl->name[0] ? cl->name : cl->sub, "auth", a,
                          "remoteAddress", ip, "namespace", sb_sio_nsp_name(sb_sio_socket_nsp(s))));
}

int sb_feat_backend_connect(sb_features_t *f, sb_sio_socket_t *s, sb_str_t auth,
                            const sb_jwt_claims_t *cl, sb_feat_admit_fn admit,
                            sb_sio_refusal_t *r) {
    connect_call_t *call = malloc(sizeof *call);
    char *body = call ? connect_body(s, auth, cl) : NULL;
    if (!body) {
        free(call);
        return refuse_connect(r, "server_busy", "server out of memory");
    }
    *call = (connect_call_t){.f = f, .sock = s, .admit = admit, .claims = *cl};
    int rc = f->cfg.backend.post(f->cfg.backend.impl, SB_FEAT_HOOK_CONNECT, sb_cstr(body),
                                 on_connect_answer, call);
    free(body);
    if (rc == SB_OK) {
        sb_sio_socket_ref(s);
        return SB_EAGAIN;
    }
    rc = rc == SB_ETOOBIG ? connect_failed(call, "hook_busy", "too many calls in flight", r)
                          : connect_failed(call, "hook_unavailable", "not called", r);
    free(call);
    return rc;
}

/* ---- offline push ------------------------------------------------------------------- */

static void on_push_done(void *ud, int rc, sb_str_t answer, const char *why) {
    sb_features_t *f = ud;
    if (rc != SB_OK && rc != SB_ECLOSED)
        sb_log_limited(&f->log_limit, SB_LOG_WARN, "hook push",
                       "hooks: an offline push was not delivered to the backend: %s", why);
}

void sb_feat_backend_push(sb_features_t *f, sb_stream_t st, const char *user_id, int64_t id,
                          sb_str_t text) {
    if (!hook_on(f, SB_FEAT_HOOK_PUSH))
        return;
    static const char *const kinds[SB_STREAMS] = {"message", "notification"};
    char key[SB_USER_ID_MAX + 48];
    snprintf(key, sizeof key, "%s:%lld:%s", kinds[st], (long long)id, user_id);
    json_t *payload = json_loadb(text.p, text.n, JSON_DECODE_ANY, NULL);
    char *body = dump(json_pack("{s:s,s:s,s:s,s:I,s:o*}", "id", key, "type", kinds[st], "userId",
                                user_id, "eventId", (json_int_t)id, "payload", payload));
    int rc = body ? f->cfg.backend.post(f->cfg.backend.impl, SB_FEAT_HOOK_PUSH, sb_cstr(body),
                                        on_push_done, f)
                  : SB_ENOMEM;
    free(body);
    if (rc != SB_OK)
        on_push_done(f, rc, SB_STR_NULL,
                     rc == SB_ETOOBIG ? "too many calls in flight" : "not sent");
}

int sb_feat_backend_init(sb_features_t *f) {
    if (hook_on(f, SB_FEAT_HOOK_EVENT))
        sb_sio_on_any(f->nsp, on_custom_event, f);
    return SB_OK;
}
