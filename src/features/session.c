/* Connection gate: JWT verification in the Socket.IO middleware, the
 * per-socket client state, and disconnection when the token expires. */
#include <stdlib.h>
#include <string.h>

#include "auth/apikey.h"
#include "auth/jwt.h"
#include "auth/token_source.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "features/features_internal.h"

#define SB_TOKEN_MAX 8192

/* Picks the token: CONNECT auth.token, then Authorization: Bearer, then
 * ?token= when allowed. Returns false when there is none. */
static bool find_token(sb_features_t *f, sb_sio_socket_t *s, sb_str_t auth, char *out, size_t cap) {
    sb_str_t v, bearer;
    size_t n = 0;
    if (sb_json_object_get(auth, SB_LIT("token"), &v) == SB_OK &&
        sb_json_type(v) == SB_JSON_STRING &&
        sb_json_string_unescape(v, out, cap - 1, &n) == SB_OK && n > 0) {
        out[n] = '\0';
        return true;
    }
    if (sb_auth_bearer_token(sb_cstr(sb_sio_socket_authorization(s)), &bearer) && bearer.n < cap) {
        memcpy(out, bearer.p, bearer.n);
        out[bearer.n] = '\0';
        return true;
    }
    return f->cfg.allow_query_token &&
           sb_auth_query_param(sb_cstr(sb_sio_socket_query(s)), "token", out, cap) && out[0];
}

static const char *refusal_code(const char *why) {
    if (strcmp(why, "token missing") == 0)
        return "token_missing";
    if (strcmp(why, "token expired") == 0)
        return "token_expired";
    return "token_invalid";
}

/* What the client (and the log) is told besides the reason: the setting
 * that would have let the token in, when one would. */
static const char *refusal_hint(sb_features_t *f, sb_sio_socket_t *s, const char *why) {
    char ignored[SB_TOKEN_MAX + 1];
    if (!strcmp(why, "token missing") && !f->cfg.allow_query_token &&
        sb_auth_query_param(sb_cstr(sb_sio_socket_query(s)), "token", ignored, sizeof ignored))
        return "?token= in the URL is refused unless the server runs with --allow-query-token";
    if (!strcmp(why, "token has no expiry"))
        return "tokens without exp are refused unless the server runs with "
               "--allow-tokens-without-exp";
    return NULL;
}

static const char *transport_name(sb_sio_socket_t *s) {
    static const char *const names[] = {"polling", "websocket", "ws-json"};
    return names[sb_eio_transport(sb_sio_socket_session(s))];
}

static void log_refusal(sb_features_t *f, sb_sio_socket_t *s, const char *why, const char *hint) {
    uint64_t dropped;
    if (SB_LOG_INFO < sb_log_cfg.level || !sb_log_limit(&f->refusal_log, "auth", &dropped))
        return;
    char ip[64];
    sb_sio_socket_remote_ip(s, ip, sizeof ip);
    sb_log_field_t fields[] = {{"transport", transport_name(s), 0},
                               {"remote", ip, 0},
                               {"reason", why, 0},
                               {"hint", hint ? hint : "", 0},
                               {"suppressed", NULL, (int64_t)dropped}};
    sb__log_fields(SB_LOG_INFO, "authentication refused", fields, sizeof fields / sizeof fields[0]);
}

static int refuse(sb_sio_refusal_t *r, const char *why) {
    snprintf(r->message, sizeof r->message, "Authentication error: %s", why);
    snprintf(r->data, sizeof r->data, "{\"code\":\"%s\"}", refusal_code(why));
    return SB_EAUTH;
}

/* refuse(), logged, with the hint in the message and in err.data. */
static int refuse_logged(sb_features_t *f, sb_sio_socket_t *s, sb_sio_refusal_t *r,
                         const char *why) {
    const char *hint = refusal_hint(f, s, why);
    log_refusal(f, s, why, hint);
    refuse(r, why);
    if (hint) {
        snprintf(r->message, sizeof r->message, "Authentication error: %s (%s)", why, hint);
        snprintf(r->data, sizeof r->data, "{\"code\":\"%s\",\"hint\":\"%s\"}", refusal_code(why),
                 hint);
    }
    return SB_EAUTH;
}

static sb_client_t *client_create(sb_features_t *f, sb_sio_socket_t *s, const sb_jwt_claims_t *cl);

/* Verifies the socket's token into claims; refuses on failure. */
static int verify(sb_features_t *f, sb_sio_socket_t *s, sb_str_t auth, sb_sio_refusal_t *r,
                  sb_jwt_claims_t *claims) {
    char token[SB_TOKEN_MAX + 1];
    if (!find_token(f, s, auth, token, sizeof token))
        return refuse_logged(f, s, r, "token missing");
    const char *why = "token invalid";
    sb_jwt_verify_opts_t opts = {.secret = (const uint8_t *)f->cfg.jwt_secret,
                                 .secret_n = strlen(f->cfg.jwt_secret),
                                 .now = sb_wall_ms() / 1000,
                                 .leeway = f->cfg.jwt_leeway_s,
                                 .require_exp = !f->cfg.allow_tokens_without_exp,
                                 .max_token_bytes = SB_TOKEN_MAX};
    if (sb_jwt_verify(sb_cstr(token), &opts, claims, &why) != SB_OK)
        return refuse_logged(f, s, r, why);
    return SB_OK;
}

/* The socket is let in: its client state (with the connect hook's data). */
static int admit(sb_features_t *f, sb_sio_socket_t *s, const sb_jwt_claims_t *cl, json_t *data,
                 sb_sio_refusal_t *r) {
    sb_client_t *c = client_create(f, s, cl);
    if (!c || sb_sio_socket_set_owner(s, cl->sub) != SB_OK) {
        json_decref(data);
        return refuse(r, "server out of memory");
    }
    c->hook_data = data;
    return SB_OK;
}

static int auth_middleware(sb_sio_socket_t *s, sb_str_t auth, sb_sio_refusal_t *r, void *ud) {
    sb_jwt_claims_t claims;
    int rc = verify(ud, s, auth, r, &claims);
    if (rc != SB_OK)
        return rc;
    if (sb_feat_backend_connect_on(ud))
        return sb_feat_backend_connect(ud, s, auth, &claims, admit, r);
    return admit(ud, s, &claims, NULL, r);
}

static int guard_middleware(sb_sio_socket_t *s, sb_str_t auth, sb_sio_refusal_t *r, void *ud) {
    sb_jwt_claims_t claims;
    return verify(ud, s, auth, r, &claims);
}

int sb_feat_session_guard(sb_features_t *f, sb_sio_nsp_t *nsp) {
    return sb_sio_use(nsp, guard_middleware, f);
}

/* ---- client state ------------------------------------------------------------------ */

static void token_expired(sb_client_t *c) {
    sb_feat_emit(c->sock, "error",
                 json_pack("{s:s,s:s}", "code", "token_expired", "message", "token expired"));
    sb_feat_count_error(c->f, "token_expired");
    sb_sio_disconnect(c->sock);
}

/* Past this, an expiry is never reached by a running server: none (and
 * exp * 1000 cannot overflow below it). */
#define SB_EXPIRY_HORIZON_S (100LL * 365 * 24 * 3600)

/* The socket ends when exp passes by this server's clock. The leeway is
 * not added: it only widens the check at connect, for clock skew between
 * the token's issuer and this server, so a token let in by it (exp already
 * passed) ends at once. 0: never. */
static uint64_t expiry_due(const sb_jwt_claims_t *cl) {
    int64_t now_ms = sb_wall_ms();
    if (!cl->has_exp || cl->exp - now_ms / 1000 > SB_EXPIRY_HORIZON_S)
        return 0;
    int64_t left_ms = cl->exp * 1000 - now_ms;
    /* From the clock read now, not the loop's time (read when this
     * iteration began), so the socket never ends before exp. */
    uint64_t due = sb_clock_ms() + (left_ms > 0 ? (uint64_t)left_ms : 0);
    return due ? due : 1;
}

/* ---- sockets by token expiry: a binary heap, earliest first -------------------------- */

static void heap_place(struct sb_client_heap *h, size_t i, sb_client_t *c) {
    h->at[i] = c;
    c->expiry_slot = (uint32_t)i + 1;
}

static void heap_up(struct sb_client_heap *h, size_t i, sb_client_t *c) {
    while (i > 0 && h->at[(i - 1) / 2]->expires_ms > c->expires_ms) {
        heap_place(h, i, h->at[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_place(h, i, c);
}

static void heap_down(struct sb_client_heap *h, size_t i, sb_client_t *c) {
    for (size_t kid; (kid = 2 * i + 1) < h->n; i = kid) {
        if (kid + 1 < h->n && h->at[kid + 1]->expires_ms < h->at[kid]->expires_ms)
            kid++;
        if (h->at[kid]->expires_ms >= c->expires_ms)
            break;
        heap_place(h, i, h->at[kid]);
    }
    heap_place(h, i, c);
}

/* The timer follows the earliest expiry. */
static void expiry_rearm(sb_features_t *f) {
    if (f->expiring.n == 0)
        sb_timer_stop(&f->expiry_timer);
    else if (!sb_timer_active(&f->expiry_timer) ||
             sb_timer_due(&f->expiry_timer) != f->expiring.at[0]->expires_ms)
        sb_timer_start_at(&f->expiry_timer, f->expiring.at[0]->expires_ms);
}

static void expiry_remove(sb_features_t *f, sb_client_t *c) {
    struct sb_client_heap *h = &f->expiring;
    if (!c->expiry_slot)
        return;
    size_t i = c->expiry_slot - 1;
    c->expiry_slot = 0;
    sb_client_t *last = h->at[--h->n];
    if (i < h->n) {
        if (i > 0 && h->at[(i - 1) / 2]->expires_ms > last->expires_ms)
            heap_up(h, i, last);
        else
            heap_down(h, i, last);
    }
    expiry_rearm(f);
}

/* Room in the heap for every socket there is (f->clients.live bounds it),
 * so that adding one at connect cannot fail; halved when mostly empty.
 * False when out of memory. */
static bool expiry_reserve(sb_features_t *f) {
    struct sb_client_heap *h = &f->expiring;
    size_t want = f->clients.live, cap = h->cap;
    if (want > SB_CLIENTS_MAX) /* its place would not fit sb_client_t.expiry_slot */
        return false;
    if (want > cap)
        cap = cap ? 2 * cap : 64;
    else if (cap > 64 && want < cap / 4)
        cap /= 2;
    if (cap == h->cap || cap < h->n)
        return want <= h->cap;
    sb_client_t **at = realloc(h->at, cap * sizeof *at);
    if (!at)
        return want <= h->cap;
    h->at = at;
    h->cap = cap;
    return true;
}

static void expiry_add(sb_features_t *f, sb_client_t *c) {
    heap_up(&f->expiring, f->expiring.n++, c);
    expiry_rearm(f);
}

/* Ends the sockets whose token has expired: a few hundred per tick at most
 * (the rest on the next), each told why. */
static void on_expiry_timer(sb_timer_t *t) {
    sb_features_t *f = sb_container_of(t, sb_features_t, expiry_timer);
    uint64_t now = sb_clock_ms();
    for (int budget = 256; budget > 0 && f->expiring.n > 0; budget--) {
        sb_client_t *c = f->expiring.at[0];
        if (c->expires_ms > now)
            break;
        expiry_remove(f, c);
        token_expired(c);
    }
    if (f->expiring.n > 0)
        sb_timer_start_at(t, f->expiring.at[0]->expires_ms); /* past: the next tick */
}

/* The id, the name when it is not the id, and the avatar follow the record. */
static size_t user_size(const sb_user_t *u) {
    return offsetof(sb_user_t, id) + u->id_len + 1 +
           (u->own_name ? strlen(sb_feat_user_name(u)) + 1 : 0) + strlen(sb_feat_user_avatar(u)) +
           1;
}

static sb_user_t *user_get(sb_features_t *f, const sb_jwt_claims_t *cl) {
    sb_user_t *u = sb_feat_user_find(f, sb_cstr(cl->sub));
    if (u)
        return u;
    /* The id stands in for a missing name, and is not stored twice: a
     * server holds one of these per online user. */
    bool own_name = cl->name[0] && strcmp(cl->name, cl->sub) != 0;
    size_t id_n = strlen(cl->sub) + 1, name_n = own_name ? strlen(cl->name) + 1 : 0;
    size_t av_n = strlen(cl->avatar) + 1;
    u = sb_slab_alloc(&f->user_records, offsetof(sb_user_t, id) + id_n + name_n + av_n);
    if (!u)
        return NULL;
    sb_feat_user_room_init(u);
    memcpy(u->id, cl->sub, id_n);
    u->id_len = (uint8_t)(id_n - 1); /* a claim's sub holds at most SB_USER_ID_MAX bytes */
    u->own_name = own_name;
    memcpy(u->id + id_n, cl->name, name_n);
    memcpy(u->id + id_n + name_n, cl->avatar, av_n);
    if (sb_feat_user_add(f, u) != SB_OK) {
        sb_slab_free(&f->user_records, u, user_size(u));
        return NULL;
    }
    return u;
}

static void user_release(sb_features_t *f, sb_user_t *u) {
    if (u->devices > 0)
        return;
    sb_feat_user_remove(f, u);
    sb_feat_user_status_drop(f, u);
    sb_slab_free(&f->user_records, u, user_size(u));
}

static sb_client_t *client_create(sb_features_t *f, sb_sio_socket_t *s, const sb_jwt_claims_t *cl) {
    sb_client_t *c = sb_pool_alloc(&f->clients);
    sb_user_t *u = c ? user_get(f, cl) : NULL;
    if (!u || (cl->has_exp && !expiry_reserve(f))) {
        if (u)
            user_release(f, u);
        sb_pool_free(&f->clients, c);
        return NULL;
    }
    u->devices++;
    c->f = f;
    c->sock = s;
    c->user = u;
    c->room_next = c->room_prev = NULL;
    c->expires_ms = expiry_due(cl);
    c->sent[SB_STREAM_MESSAGES] = c->sent[SB_STREAM_NOTIFICATIONS] = 0;
    c->hook_data = NULL;
    c->syncing = (1u << SB_STREAMS) - 1; /* until sb_feat_delivery_connect() has read its backlog */
    c->reread = 0;
    sb_feat_recovery_client_init(c);
    sb_sio_socket_set_data(s, c);
    return c;
}

/* "connection opened/closed" at info: who, from where, over what. */
static void log_connection(sb_client_t *c, const char *msg, const char *reason) {
    if (!c->f->cfg.log_connections || SB_LOG_INFO < sb_log_cfg.level)
        return;
    char ip[64];
    sb_sio_socket_remote_ip(c->sock, ip, sizeof ip);
    sb_log_field_t fields[] = {{"sid", sb_sio_socket_id(c->sock), 0},
                               {"transport", transport_name(c->sock), 0},
                               {"remote", ip, 0},
                               {"user", c->user->id, 0},
                               {"duration_ms", NULL, (uint32_t)sb_clock_ms() - c->connected_ms},
                               {"reason", reason, 0}};
    sb__log_fields(SB_LOG_INFO, msg, fields, reason ? 6 : 4);
}

static void on_connection(sb_sio_socket_t *s, void *ud) {
    sb_client_t *c = sb_sio_socket_get_data(s);
    c->connected_ms = (uint32_t)sb_clock_ms();
    log_connection(c, "connection opened", NULL);
    if (c->expires_ms)
        expiry_add(c->f, c);
    sb_feat_recovery_connect(c);
    sb_feat_presence_connect(c);
}

void sb_feat_session_disconnect(sb_client_t *c, const char *reason) {
    log_connection(c, "connection closed", reason);
    expiry_remove(c->f, c);
    if (sb_eio_transport(sb_sio_socket_session(c->sock)) == SB_EIO_CARRIED)
        sb_feat_chat_departed(c);
    sb_feat_recovery_disconnect(c, reason);
    c->user->devices--;
    sb_feat_live_disconnect(c);
    sb_feat_presence_disconnect(c);
}

void sb_feat_session_release(sb_client_t *c) {
    sb_feat_devices_leave(c);
    user_release(c->f, c->user);
    json_decref(c->hook_data);
    sb_sio_socket_set_data(c->sock, NULL);
    sb_pool_free(&c->f->clients, c);
}

void sb_feat_session_dispose(sb_features_t *f) {
    sb_timer_stop(&f->expiry_timer);
    free(f->expiring.at);
    f->expiring = (struct sb_client_heap){0};
}

int sb_feat_session_init(sb_features_t *f) {
    sb_timer_init(f->loop, &f->expiry_timer, on_expiry_timer);
    sb_sio_on_connection(f->nsp, on_connection, f); /* disconnection: the registry's */
    return sb_sio_use(f->nsp, auth_middleware, f);
}
