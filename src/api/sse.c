/* Server-Sent Events (/events): read-only subscribers of rooms of the
 * default namespace (api.h, docs/events.md). A subscriber is a hub member
 * of its own kind next to the Socket.IO sockets: a broadcast frame to a room
 * is written to it as `event: <name>` / `data: <first argument>`, once per
 * frame for every subscriber. Each event carries `id: <message>-<notification>`,
 * the newest stored message and notification id the subscriber has seen;
 * EventSource sends it back as Last-Event-ID when it reconnects, and the
 * stored messages and notifications after it are written before the live
 * stream goes on: nothing missed, nothing twice. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/apikey.h"
#include "auth/jwt.h"
#include "auth/token_source.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "http/sse.h"

#define SB_SSE_MAX_CHANNELS 16
#define SB_SSE_TOKEN_MAX 8192
/* Messages a resume reads at most (all channels together); past it the subscriber gets
 * `event: reset` (reload what you show) and the stream goes on from now. */
#define SB_SSE_BACKLOG_MAX 1000
#define SB_SSE_PAGE 100

typedef struct sse_sub sse_sub_t;

/* A stored event of the backlog, already formatted (without its id line). */
typedef struct {
    int64_t id;
    bool notification;
    sb_frame_t *text;
} backlog_item_t;

struct sse_sub {
    sb_hub_member_t member;
    sb_sse_t *sse;
    sb_conn_t *conn;     /* NULL until the stream is open, and once it is gone */
    sb_http_req_t *req;  /* while membership checks run */
    sb_list_node_t node; /* in sse->subs while the stream is open */
    int64_t last_msg, last_notif;
    char user[SB_STORE_MAX_ID + 1];
    char *channels[SB_SSE_MAX_CHANNELS];
    size_t nchannels;
    uint32_t pending;     /* store requests in flight */
    bool forbidden, dead; /* a check said no / the client left while they ran */
    bool replaying, resumed, gap;
    size_t backlog_at; /* channel whose backlog is being read */
    int64_t page_before;
    backlog_item_t *backlog;
    size_t nbacklog, backlog_cap;
    sb_frame_t **held; /* live frames while replaying */
    size_t nheld, held_cap, held_bytes;
};

struct sb_sse {
    sb_sse_config_t cfg;
    sb_list_t subs;
    sb_timer_t keepalive;
    sb_frame_t *ping;
    /* The last broadcast formatted, kept with a reference: every subscriber
     * of that frame reuses it. */
    sb_frame_t *cache_src, *cache_out;
    uint64_t opened, cut, events_out;
};

static void sub_free(sse_sub_t *s);
static void on_deliver(sb_hub_member_t *m, sb_frame_t *f);

/* ---- formatting -------------------------------------------------------------------- */

/* An event without its end (http/sse.h's formatter): the end is each
 * subscriber's own id line. NULL when out of memory or the name cannot be
 * a field (CR, LF or NUL in it). */
static sb_frame_t *format_event(sb_str_t name, sb_str_t json) {
    size_t need = sb_http_sse_body_size(name, json.p, json.n);
    sb_frame_t *f = sb_frame_create(NULL, need, 0);
    if (!f)
        return NULL;
    f->len = sb_http_sse_format_body(name, json.p, json.n, f->data, need);
    if (f->len == 0) {
        sb_frame_unref(f);
        return NULL;
    }
    return f;
}

/* Ends an event without an id line. */
static void write_end(sse_sub_t *s) {
    char end[2];
    sb_conn_write(s->conn, end, sb_http_sse_format_end(SB_STR_NULL, end, sizeof end));
}

/* The id line that ends an event: both cursors. */
static int write_id(sse_sub_t *s) {
    char id[48], line[64];
    int n = snprintf(id, sizeof id, "%" PRId64 "-%" PRId64, s->last_msg, s->last_notif);
    return sb_conn_write(s->conn, line,
                         sb_http_sse_format_end(sb_str(id, (size_t)n), line, sizeof line));
}

/* Which cursor an event moves: stored messages and notifications carry
 * their store id as "id". Returns 0 for other events. */
static int64_t stored_id(sb_str_t event_token, sb_str_t data, bool *notification) {
    static const char *const messages[] = {"chat:message", "message:new", "message:received"};
    sb_str_t v;
    *notification = sb_json_string_eq(event_token, SB_LIT("notification:new"));
    bool message = false;
    for (size_t i = 0; i < 3; i++)
        message = message || sb_json_string_eq(event_token, sb_cstr(messages[i]));
    if ((!message && !*notification) || sb_json_type(data) != SB_JSON_OBJECT ||
        sb_json_object_get(data, SB_LIT("id"), &v) != SB_OK || sb_json_type(v) != SB_JSON_NUMBER)
        return 0;
    char digits[24] = {0};
    if (v.n >= sizeof digits || strspn(v.p, "0123456789") < v.n)
        return 0;
    memcpy(digits, v.p, v.n);
    return strtoll(digits, NULL, 10);
}

/* ---- live delivery ------------------------------------------------------------------- */

static void cut(sse_sub_t *s) {
    if (!s->conn)
        return;
    s->sse->cut++;
    sb_conn_close(s->conn); /* on_close runs later, outside any broadcast */
}

/* Writes one Socket.IO frame as an event, unless a resume already wrote it. */
static void write_frame(sse_sub_t *s, sb_frame_t *f) {
    sb_sse_t *sse = s->sse;
    /* The default namespace's events are `42[<name>,<args>...]` (Engine.IO
     * message, Socket.IO EVENT, no namespace, no ack id); binary events and
     * attachments cannot be written as text and are skipped. */
    if ((f->flags & SB_FRAME_BINARY) || f->len < 4 || memcmp(f->data, "42[", 3) != 0)
        return;
    sb_str_t items[2];
    int n = sb_json_array_items(sb_str(f->data + 2, f->len - 2), items, 2);
    if (n < 1 && n != SB_ETOOBIG)
        return;
    sb_str_t event = items[0], data = n >= 2 || n == SB_ETOOBIG ? items[1] : SB_LIT("null");
    bool notification;
    int64_t id = stored_id(event, data, &notification);
    int64_t *cursor = notification ? &s->last_notif : &s->last_msg;
    if (id && id <= *cursor)
        return; /* written by the resume already */
    if (id)
        *cursor = id;
    if (sse->cache_src != f) {
        char name[256];
        size_t nn = 0;
        if (sb_json_type(event) != SB_JSON_STRING ||
            sb_json_string_unescape(event, name, sizeof name, &nn) != SB_OK)
            return;
        sb_frame_t *out = format_event(sb_str(name, nn), data);
        if (!out)
            return;
        if (sse->cache_src) {
            sb_frame_unref(sse->cache_src);
            sb_frame_unref(sse->cache_out);
        }
        sse->cache_src = sb_frame_ref(f);
        sse->cache_out = out;
    }
    if (sb_conn_write_frame(s->conn, sse->cache_out, sse->cache_out->data, sse->cache_out->len) !=
            SB_OK ||
        write_id(s) != SB_OK)
        cut(s);
    else
        sse->events_out++;
}

/* While a resume reads the store, live frames wait (bounded by the output
 * limit: a subscriber that would hold more is cut as a slow consumer). */
static void hold(sse_sub_t *s, sb_frame_t *f) {
    if (s->nheld == s->held_cap) {
        size_t cap = s->held_cap ? s->held_cap * 2 : 16;
        sb_frame_t **v = realloc(s->held, cap * sizeof *v);
        if (!v) {
            cut(s);
            return;
        }
        s->held = v;
        s->held_cap = cap;
    }
    s->held_bytes += f->len;
    if (s->held_bytes > s->sse->cfg.max_held_bytes) {
        cut(s);
        return;
    }
    s->held[s->nheld++] = sb_frame_ref(f);
}

static void on_deliver(sb_hub_member_t *m, sb_frame_t *f) {
    sse_sub_t *s = sb_container_of(m, sse_sub_t, member);
    if (!s->conn || (s->conn->flags & SB_CONN_CLOSING))
        return;
    if (s->replaying)
        hold(s, f);
    else
        write_frame(s, f);
}

/* ---- resume: the stored events after Last-Event-ID ------------------------------------- */

static void backlog_next(sse_sub_t *s);

static bool backlog_add(sse_sub_t *s, int64_t id, bool notification, sb_str_t name, json_t *j) {
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!text)
        return false;
    if (s->nbacklog == s->backlog_cap) {
        size_t cap = s->backlog_cap ? s->backlog_cap * 2 : 32;
        backlog_item_t *v = realloc(s->backlog, cap * sizeof *v);
        if (!v) {
            free(text);
            return false;
        }
        s->backlog = v;
        s->backlog_cap = cap;
    }
    sb_frame_t *f = format_event(name, sb_cstr(text));
    free(text);
    if (!f)
        return false;
    s->backlog[s->nbacklog++] = (backlog_item_t){id, notification, f};
    return true;
}

static int by_kind_then_id(const void *a, const void *b) {
    const backlog_item_t *x = a, *y = b;
    if (x->notification != y->notification)
        return x->notification ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* `event: reset` (reload what you show): the resume could not give all it missed. */
static void write_reset(sse_sub_t *s) {
    sb_frame_t *f = format_event(SB_LIT("reset"), SB_LIT("{}"));
    if (f) {
        sb_conn_write_frame(s->conn, f, f->data, f->len);
        sb_frame_unref(f);
        write_end(s);
        s->sse->events_out++;
    }
}

/* The backlog in id order (messages, then notifications), then what was
 * held meanwhile, minus what the backlog already had. */
static void replay_finish(sse_sub_t *s) {
    qsort(s->backlog, s->nbacklog, sizeof *s->backlog, by_kind_then_id);
    if (s->gap && s->conn)
        write_reset(s);
    for (size_t i = 0; i < s->nbacklog; i++) {
        backlog_item_t *b = &s->backlog[i];
        int64_t *cursor = b->notification ? &s->last_notif : &s->last_msg;
        if (s->conn && b->id > *cursor) {
            *cursor = b->id;
            if (sb_conn_write_frame(s->conn, b->text, b->text->data, b->text->len) != SB_OK ||
                write_id(s) != SB_OK)
                cut(s);
            else
                s->sse->events_out++;
        }
        sb_frame_unref(b->text);
    }
    free(s->backlog);
    s->backlog = NULL;
    s->nbacklog = s->backlog_cap = 0;
    s->replaying = false;
    for (size_t i = 0; i < s->nheld; i++) {
        if (s->conn && !(s->conn->flags & SB_CONN_CLOSING))
            write_frame(s, s->held[i]);
        sb_frame_unref(s->held[i]);
    }
    free(s->held);
    s->held = NULL;
    s->nheld = s->held_cap = s->held_bytes = 0;
}

static bool is_user_channel(const char *ch) { return strncmp(ch, "user:", 5) == 0; }
static bool is_conversation(const char *ch) { return strncmp(ch, "conversation:", 13) == 0; }

/* Counts a store answer in; false when the subscriber left meanwhile (it
 * is freed with its last answer). */
static bool answer_arrived(sse_sub_t *s) {
    s->pending--;
    if (!s->dead)
        return true;
    if (s->pending == 0)
        sub_free(s);
    return false;
}

static void on_history(void *ud, int rc, const sb_store_msgs_t *page) {
    sse_sub_t *s = ud;
    if (!answer_arrived(s))
        return;
    const char *ch = s->channels[s->backlog_at];
    sb_str_t name = is_conversation(ch) ? SB_LIT("message:new") : SB_LIT("chat:message");
    bool more = rc == SB_OK && page->n == SB_SSE_PAGE;
    for (size_t i = 0; rc == SB_OK && i < page->n; i++) {
        const sb_store_msg_t *m = &page->v[i];
        if (m->id <= s->last_msg) {
            more = false;
            break;
        }
        if (s->nbacklog >= SB_SSE_BACKLOG_MAX) {
            s->gap = true;
            more = false;
            break;
        }
        json_t *j =
            is_conversation(ch) ? sb_features_message_json(m) : sb_features_room_message_json(m);
        if (!backlog_add(s, m->id, false, name, j))
            s->gap = true;
        s->page_before = m->id;
    }
    if (rc != SB_OK)
        s->gap = true;
    if (!more) {
        s->backlog_at++;
        s->page_before = 0;
    }
    backlog_next(s);
}

static void on_notifications(void *ud, int rc, const sb_store_notifications_t *page) {
    sse_sub_t *s = ud;
    if (!answer_arrived(s))
        return;
    size_t newer = 0;
    for (size_t i = 0; rc == SB_OK && i < page->n; i++) {
        const sb_store_notification_t *n = &page->v[i];
        if (n->id > s->last_notif && !backlog_add(s, n->id, true, SB_LIT("notification:new"),
                                                  sb_features_notification_json(n)))
            s->gap = true;
        newer += n->id > s->last_notif;
    }
    if (rc != SB_OK || newer == SB_STORE_MAX_PAGE)
        s->gap = true; /* the page was all new: older ones may be missing */
    s->backlog_at++;
    backlog_next(s);
}

/* Reads the next channel's stored events, or finishes. */
static void backlog_next(sse_sub_t *s) {
    sb_store_t *st = s->sse->cfg.store;
    while (s->backlog_at < s->nchannels) {
        const char *ch = s->channels[s->backlog_at];
        int rc;
        if (is_user_channel(ch))
            rc = sb_store_notification_list(st, sb_cstr(s->user), false, SB_STORE_MAX_PAGE,
                                            on_notifications, s);
        else
            rc = sb_store_message_history(st, sb_cstr(ch), s->page_before, SB_SSE_PAGE, on_history,
                                          s);
        if (rc == SB_OK) {
            s->pending++;
            return;
        }
        s->gap = true;
        s->backlog_at++;
        s->page_before = 0;
    }
    replay_finish(s);
}

/* ---- the stream ------------------------------------------------------------------------- */

static long sse_on_data(sb_conn_t *c, char *p, size_t n) { return (long)n; /* a reader only */ }

static void sse_on_close(sb_conn_t *c) {
    sse_sub_t *s = c->ud;
    s->conn = NULL;
    sb_hub_leave_all(s->sse->cfg.hub, &s->member);
    sb_list_remove(&s->node);
    if (s->pending)
        s->dead = true; /* the store's answers free it */
    else
        sub_free(s);
}

static void sse_on_shutdown(sb_conn_t *c) { sb_conn_close(c); }

static const sb_conn_handler_t sse_conn = {
    .on_data = sse_on_data, .on_close = sse_on_close, .on_shutdown = sse_on_shutdown};

static void detached_on_close(sb_conn_t *c) {}
static const sb_conn_handler_t detached_conn = {.on_data = sse_on_data,
                                                .on_close = detached_on_close};

/* The hub rooms of a channel: a user channel is also the user's tap, where
 * the deliveries meant for devices (message:received, notification:new)
 * are copied (features/delivery.c). */
static int join_channel(sse_sub_t *s, const char *ch) {
    sb_hub_t *hub = s->sse->cfg.hub;
    int rc = sb_hub_join(hub, &s->member, sb_cstr(ch));
    if (rc == SB_OK && is_user_channel(ch)) {
        char tap[SB_STORE_MAX_ID + 16];
        snprintf(tap, sizeof tap, "%s%s", ch, SB_FEATURES_TAP_SUFFIX);
        rc = sb_hub_join(hub, &s->member, sb_cstr(tap));
    }
    return rc;
}

static void write_connected(sse_sub_t *s) {
    json_t *chs = json_array();
    for (size_t i = 0; i < s->nchannels; i++)
        json_array_append_new(chs, json_string(s->channels[i]));
    json_t *j = json_pack("{s:s,s:o,s:b,s:I}", "userId", s->user, "channels", chs, "resumed",
                          s->resumed, "timestamp", (json_int_t)sb_wall_ms());
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    sb_frame_t *f = text ? format_event(SB_LIT("connected"), sb_cstr(text)) : NULL;
    free(text);
    if (f) {
        sb_conn_write_frame(s->conn, f, f->data, f->len);
        sb_frame_unref(f);
        write_end(s);
        s->sse->events_out++;
    }
}

static void open_stream(sse_sub_t *s) {
    sb_http_req_t *req = s->req;
    s->req = NULL;
    s->conn = sb_http_respond_stream(req, 200, "text/event-stream; charset=utf-8",
                                     "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    s->conn->handler = &sse_conn;
    s->conn->ud = s;
    sb_list_push_tail(&s->sse->subs, &s->node);
    s->sse->opened++;
    char retry[32];
    sb_conn_write(s->conn, retry, sb_http_sse_format_retry(2000, retry, sizeof retry));
    write_connected(s);
    for (size_t i = 0; i < s->nchannels; i++)
        if (join_channel(s, s->channels[i]) != SB_OK) {
            cut(s);
            return;
        }
    if (s->resumed) {
        s->replaying = true;
        backlog_next(s);
    }
}

/* ---- the request -------------------------------------------------------------------------- */

static void sub_free(sse_sub_t *s) {
    for (size_t i = 0; i < s->nchannels; i++)
        free(s->channels[i]);
    for (size_t i = 0; i < s->nbacklog; i++)
        sb_frame_unref(s->backlog[i].text);
    free(s->backlog);
    for (size_t i = 0; i < s->nheld; i++)
        sb_frame_unref(s->held[i]);
    free(s->held);
    free(s);
}

static void on_req_abort(sb_http_req_t *req) {
    sse_sub_t *s = req->ud;
    s->req = NULL;
    s->dead = true;
}

static void checks_done(sse_sub_t *s) {
    if (s->dead) {
        sub_free(s);
    } else if (s->forbidden) {
        s->req->on_abort = NULL;
        sb_http_respond_error(s->req, 403, "forbidden_channel",
                              "not a member of that conversation");
        sub_free(s);
    } else {
        s->req->on_abort = NULL;
        open_stream(s);
    }
}

static void on_member(void *ud, int rc, bool yes) {
    sse_sub_t *s = ud;
    if (rc != SB_OK || !yes)
        s->forbidden = true;
    if (--s->pending == 0)
        checks_done(s);
}

/* "channels=a,b" into s->channels; answers 400/403 and returns false on a
 * channel the token may not read. */
static bool parse_channels(sse_sub_t *s, sb_http_req_t *req) {
    char list[4096];
    if (!sb_http_req_query(req, "channels", list, sizeof list) || !list[0]) {
        sb_http_respond_error(req, 400, "invalid_channels",
                              "channels=a,b is required (at most 16)");
        return false;
    }
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        bool dup = false;
        for (size_t i = 0; i < s->nchannels; i++)
            dup = dup || strcmp(s->channels[i], t) == 0;
        if (dup)
            continue;
        if (s->nchannels == SB_SSE_MAX_CHANNELS || !sb_features_room_name_valid(sb_cstr(t))) {
            sb_http_respond_error(req, 400, "invalid_channels",
                                  "at most 16 channels of 1-128 printable characters");
            return false;
        }
        bool own = is_user_channel(t) && strcmp(t + 5, s->user) == 0;
        if ((is_user_channel(t) && !own) || strncmp(t, "rtc:", 4) == 0 ||
            strncmp(t, "doc:", 4) == 0) {
            sb_http_respond_error(
                req, 403, "forbidden_channel",
                "user:<id> is only yours; rtc: and doc: rooms are not readable here");
            return false;
        }
        if (!(s->channels[s->nchannels] = strdup(t))) {
            sb_http_respond_error(req, 503, "unavailable", "out of memory");
            return false;
        }
        s->nchannels++;
    }
    return true;
}

/* The bearer token or ?token= (EventSource cannot send headers) into claims;
 * answers 401 and returns false when it is missing or refused. */
static bool authenticate(sb_sse_t *sse, sb_http_req_t *req, sb_jwt_claims_t *claims) {
    char token[SB_SSE_TOKEN_MAX + 1];
    const sb_str_t *h = sb_http_req_header(req, "authorization");
    sb_str_t bearer;
    if (h && sb_auth_bearer_token(*h, &bearer) && bearer.n <= SB_SSE_TOKEN_MAX) {
        memcpy(token, bearer.p, bearer.n);
        token[bearer.n] = '\0';
    } else if (!sb_http_req_query(req, "token", token, sizeof token)) {
        token[0] = '\0';
    }
    if (!token[0]) {
        sb_http_respond_error(req, 401, "token_missing", "Authentication error: token missing");
        return false;
    }
    const char *why = "token invalid";
    const sb_sse_config_t *c = &sse->cfg;
    sb_jwt_verify_opts_t opts = {.secret = (const uint8_t *)c->jwt_secret,
                                 .secret_n = strlen(c->jwt_secret),
                                 .now = sb_wall_ms() / 1000,
                                 .leeway = c->jwt_leeway_s,
                                 .require_exp = !c->allow_tokens_without_exp,
                                 .max_token_bytes = SB_SSE_TOKEN_MAX};
    if (sb_jwt_verify(sb_cstr(token), &opts, claims, &why) != SB_OK) {
        char msg[160];
        snprintf(msg, sizeof msg, "Authentication error: %s", why);
        sb_http_respond_error(
            req, 401, strcmp(why, "token expired") == 0 ? "token_expired" : "token_invalid", msg);
        return false;
    }
    return true;
}

/* Last-Event-ID (or ?lastEventId= for clients that cannot set it): "<m>-<n>". */
static void parse_cursor(sse_sub_t *s, sb_http_req_t *req) {
    char v[64] = "";
    const sb_str_t *h = sb_http_req_header(req, "last-event-id");
    if (h && h->n < sizeof v) {
        memcpy(v, h->p, h->n);
        v[h->n] = '\0';
    } else if (!sb_http_req_query(req, "lastEventId", v, sizeof v)) {
        return;
    }
    long long m, n;
    char end;
    if (sscanf(v, "%lld-%lld%c", &m, &n, &end) == 2 && m >= 0 && n >= 0) {
        s->last_msg = m;
        s->last_notif = n;
        s->resumed = true;
    }
}

static void on_events(sb_http_req_t *req, void *ud) {
    sb_sse_t *sse = ud;
    sb_jwt_claims_t claims;
    if (!sb_str_eq(req->method, SB_LIT("GET"))) {
        sb_http_respond_error(req, 405, "method_not_allowed", "GET /events?channels=a,b");
        return;
    }
    if (!sb_http_origin_allowed(req)) {
        sb_http_respond_error(req, 403, "origin_not_allowed", "origin not allowed");
        return;
    }
    if (sse->cfg.admit && !sse->cfg.admit(req, sse->cfg.admit_ud)) {
        sb_http_respond_error(req, 429, "rate_limited", "too many new sessions from this address");
        return;
    }
    if (!authenticate(sse, req, &claims))
        return;
    sse_sub_t *s = calloc(1, sizeof *s);
    if (!s) {
        sb_http_respond_error(req, 503, "unavailable", "out of memory");
        return;
    }
    s->sse = sse;
    sb_hub_member_init(&s->member, on_deliver);
    snprintf(s->user, sizeof s->user, "%s", claims.sub);
    if (!parse_channels(s, req)) {
        sub_free(s);
        return;
    }
    parse_cursor(s, req);
    s->req = req;
    for (size_t i = 0; i < s->nchannels; i++) {
        if (!is_conversation(s->channels[i]))
            continue;
        if (sb_store_conversation_is_member(sse->cfg.store, sb_cstr(s->channels[i] + 13),
                                            sb_cstr(s->user), on_member, s) == SB_OK)
            s->pending++;
        else
            s->forbidden = true;
    }
    if (s->pending == 0) {
        checks_done(s);
        return;
    }
    req->on_abort = on_req_abort;
    req->ud = s;
}

/* ---- the endpoint --------------------------------------------------------------------------- */

static void on_keepalive(sb_timer_t *t) {
    sb_sse_t *sse = sb_container_of(t, sb_sse_t, keepalive);
    for (sb_list_node_t *n = sse->subs.next; n != &sse->subs; n = n->next) {
        sse_sub_t *s = sb_container_of(n, sse_sub_t, node);
        if (s->conn &&
            sb_conn_write_frame(s->conn, sse->ping, sse->ping->data, sse->ping->len) != SB_OK)
            cut(s);
    }
    sb_timer_start(t, sse->cfg.keepalive_ms);
}

sb_sse_t *sb_sse_create(sb_http_server_t *http, const sb_sse_config_t *cfg) {
    sb_sse_t *sse = calloc(1, sizeof *sse);
    if (!sse)
        return NULL;
    sse->cfg = *cfg;
    sb_list_init(&sse->subs);
    char ping[32];
    size_t pn = sb_http_sse_format_comment(SB_LIT("keep-alive"), ping, sizeof ping);
    sse->ping = sb_frame_create(ping, pn, 0);
    sb_timer_init(cfg->loop, &sse->keepalive, on_keepalive);
    if (!sse->ping || sb_http_route(http, cfg->path, on_events, sse) != SB_OK) {
        sb_sse_destroy(sse);
        return NULL;
    }
    sb_timer_start(&sse->keepalive, cfg->keepalive_ms);
    return sse;
}

void sb_sse_destroy(sb_sse_t *sse) {
    if (!sse)
        return;
    sb_timer_stop(&sse->keepalive);
    while (sse->subs.next !=
           &sse->subs) { /* streams still open: the connections go with the server */
        sse_sub_t *s = sb_container_of(sse->subs.next, sse_sub_t, node);
        sb_list_remove(&s->node);
        sb_hub_leave_all(sse->cfg.hub, &s->member);
        if (s->conn)
            s->conn->ud = NULL, s->conn->handler = &detached_conn;
        s->conn = NULL;
        if (s->pending)
            s->dead = true;
        else
            sub_free(s);
    }
    if (sse->ping)
        sb_frame_unref(sse->ping);
    if (sse->cache_src) {
        sb_frame_unref(sse->cache_src);
        sb_frame_unref(sse->cache_out);
    }
    free(sse);
}

void sb_sse_stats(const sb_sse_t *sse, sb_sse_stats_t *out) {
    size_t n = 0;
    for (const sb_list_node_t *x = sse->subs.next; x != &sse->subs; x = x->next)
        n++;
    *out = (sb_sse_stats_t){
        .open = n, .opened = sse->opened, .events_out = sse->events_out, .cut = sse->cut};
}
