/* The helpers every feature uses: replies, errors, payload fields,
 * asynchronous calls and event registration. Nothing here knows a
 * feature: the registry (features.c) is the only file that knows them all. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "features/features_internal.h"

sb_str_t sb_feat_user_room_name(char out[SB_FEAT_USER_ROOM_MAX], const char *user_id,
                                const char *suffix) {
    size_t k = sb_feat_copy(out, SB_FEAT_USER_ROOM_MAX, SB_LIT("user:"));
    k += sb_feat_copy(out + k, SB_FEAT_USER_ROOM_MAX - k, sb_cstr(user_id));
    return sb_str(out, k + sb_feat_copy(out + k, SB_FEAT_USER_ROOM_MAX - k, sb_cstr(suffix)));
}

size_t sb_feat_copy(char *out, size_t cap, sb_str_t s) {
    size_t n = s.n ? strnlen(s.p, s.n) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(out, s.p, n);
    out[n] = '\0';
    return n;
}

/* The last instant with a four-digit year: 9999-12-31T23:59:59.999Z. */
#define SB_ISO_FAST_MAX_MS 253402300799999LL

static void put_digits(char *out, unsigned v, int n) {
    while (n-- > 0) {
        out[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Days since 1970-01-01 to a proleptic Gregorian date, by 400-year eras
 * whose years start on March 1 (so the leap day ends a year). */
static void civil_from_days(int64_t days, unsigned *y, unsigned *m, unsigned *d) {
    int64_t z = days + 719468; /* days since 0000-03-01 */
    int64_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    unsigned mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (unsigned)(era * 400 + yoe) + (*m <= 2);
}

/* Called for every stored message and notification sent: by arithmetic, not
 * gmtime_r, strftime and snprintf, within the years 1970-9999 (the rest as
 * strftime writes them). */
void sb_feat_iso_time(int64_t ms, char out[32]) {
    if (ms < 0 || ms > SB_ISO_FAST_MAX_MS) {
        time_t sec = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&sec, &tm);
        size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
        return;
    }
    int64_t sec = ms / 1000;
    unsigned y, mo, d, s = (unsigned)(sec % 86400);
    civil_from_days(sec / 86400, &y, &mo, &d);
    memcpy(out, "0000-00-00T00:00:00.000Z", 25);
    put_digits(out, y, 4);
    put_digits(out + 5, mo, 2);
    put_digits(out + 8, d, 2);
    put_digits(out + 11, s / 3600, 2);
    put_digits(out + 14, s / 60 % 60, 2);
    put_digits(out + 17, s % 60, 2);
    put_digits(out + 20, (unsigned)(ms % 1000), 3);
}

/* Dumps a payload and strips nothing: arguments are the whole JSON value. */
static char *dump(json_t *payload, size_t *n) { return sb_feat_json_text(payload, n); }

int sb_feat_emit(sb_sio_socket_t *s, const char *event, json_t *payload) {
    size_t n;
    char *text = dump(payload, &n);
    json_decref(payload);
    if (!text)
        return SB_ENOMEM;
    int rc = sb_sio_emit(s, event, sb_str(text, n));
    free(text);
    return rc;
}

long sb_feat_broadcast(sb_features_t *f, const sb_sio_target_t *t, const char *event,
                       json_t *payload) {
    if (!sb_sio_broadcast_reaches(f->nsp, t)) {
        json_decref(payload); /* no text for nobody */
        return 0;
    }
    size_t n;
    char *text = dump(payload, &n);
    json_decref(payload);
    if (!text)
        return SB_ENOMEM;
    long rc = sb_sio_broadcast(f->nsp, t, event, sb_str(text, n), NULL, 0);
    free(text);
    return rc;
}

void sb_feat_reply(sb_sio_event_t *ev, json_t *result) {
    if (ev->has_ack) {
        size_t n;
        char *text = dump(result, &n);
        if (text)
            sb_sio_reply(ev, sb_str(text, n));
        free(text);
    }
    json_decref(result);
}

static const char *const error_codes[SB_FEAT_NERROR_CODES] = {SB_FEAT_ERROR_CODES};

void sb_feat_count_error(sb_features_t *f, const char *code) {
    size_t i = 0;
    while (i < SB_FEAT_NERROR_CODES && strcmp(error_codes[i], code) != 0)
        i++;
    f->errors[i]++;
}

void sb_features_error_counts(const sb_features_t *f,
                              void (*fn)(const char *code, uint64_t n, void *ud), void *ud) {
    for (size_t i = 0; i < SB_FEAT_NERROR_CODES; i++)
        fn(error_codes[i], f->errors[i], ud);
    fn("other", f->errors[SB_FEAT_NERROR_CODES], ud);
}

void sb_feat_fail(sb_sio_event_t *ev, const char *code, const char *fmt, ...) {
    sb_client_t *c = sb_sio_socket_get_data(ev->socket);
    if (c)
        sb_feat_count_error(c->f, code);
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:s,s:s}", "code", code, "message", msg);
    if (ev->has_ack) {
        sb_feat_reply(ev, json_pack("{s:o}", "error", err));
        return;
    }
    json_object_set_new(err, "event", json_stringn(ev->name.p, ev->name.n));
    sb_feat_emit(ev->socket, "error", err);
}

long sb_feat_emit_user(sb_features_t *f, const char *user_id, const char *event, json_t *payload,
                       const sb_sio_socket_t *except) {
    size_t n;
    char *text = dump(payload, &n);
    json_decref(payload);
    if (!text)
        return SB_ENOMEM;
    long rc = sb_feat_emit_user_text(f, user_id, event, sb_str(text, n), except);
    free(text);
    return rc;
}

long sb_feat_emit_user_text(sb_features_t *f, const char *user_id, const char *event, sb_str_t text,
                            const sb_sio_socket_t *except) {
    char room[SB_FEAT_USER_ROOM_MAX];
    sb_str_t r = sb_feat_user_room_name(room, user_id, "");
    sb_sio_target_t t = {.rooms = &r, .nrooms = 1, .except_socket = except};
    return sb_sio_broadcast(f->nsp, &t, event, text, NULL, 0);
}

bool sb_feat_room_reaches(sb_features_t *f, const char *room) {
    sb_str_t r = sb_cstr(room);
    sb_sio_target_t t = {.rooms = &r, .nrooms = 1};
    return sb_sio_broadcast_reaches(f->nsp, &t);
}

long sb_feat_emit_room(sb_features_t *f, const char *room, const char *event, json_t *payload,
                       const sb_sio_socket_t *except) {
    sb_str_t r = sb_cstr(room);
    sb_sio_target_t t = {.rooms = &r, .nrooms = 1, .except_socket = except};
    return sb_feat_broadcast(f, &t, event, payload);
}

const char *sb_features_text(json_t *v, size_t min, size_t max) {
    sb_feat_field_t f = sb_feat_field_value(v);
    return sb_feat_field_text(&f, min, max) ? f.p : NULL;
}

bool sb_feat_field_key(sb_sio_event_t *ev, const sb_feat_field_t *f, char *out) {
    out[0] = '\0';
    if (!f->present)
        return true;
    if (!f->is_string || !sb_store_key_valid(sb_str(f->p, f->n))) {
        sb_feat_fail(ev, "invalid_payload",
                     "clientMessageId must be 1-%d printable ASCII characters without spaces",
                     SB_STORE_MAX_KEY);
        return false;
    }
    memcpy(out, f->p, f->n);
    out[f->n] = '\0';
    return true;
}

bool sb_feat_client_message_id(sb_sio_event_t *ev, json_t *obj, char *out) {
    sb_feat_field_t f = sb_feat_field_of(obj, "clientMessageId");
    return sb_feat_field_key(ev, &f, out);
}

const char *sb_feat_str_field(json_t *obj, const char *name, size_t max) {
    return sb_features_text(json_object_get(obj, name), 1, max);
}

bool sb_feat_field_content(sb_sio_event_t *ev, const sb_feat_field_t *f, const char *name,
                           size_t max) {
    if (f->is_string && f->n > max) {
        sb_feat_fail(ev, "payload_too_large", "%s exceeds %zu bytes", name, max);
        return false;
    }
    if (!sb_feat_field_text(f, 1, max)) {
        sb_feat_fail(ev, "invalid_payload", "%s must be a non-empty string without U+0000", name);
        return false;
    }
    return true;
}

const char *sb_feat_text_field(sb_sio_event_t *ev, json_t *obj, const char *name, size_t max) {
    sb_feat_field_t f = sb_feat_field_of(obj, name);
    return sb_feat_field_content(ev, &f, name, max) ? f.p : NULL;
}

bool sb_feat_page_args(sb_sio_event_t *ev, json_t *obj, int64_t *before, int *limit) {
    json_t *b = json_object_get(obj, "before"), *l = json_object_get(obj, "limit");
    if ((b && (!json_is_integer(b) || json_integer_value(b) < 1)) ||
        (l && (!json_is_integer(l) || json_integer_value(l) < 1 ||
               json_integer_value(l) > SB_STORE_MAX_HISTORY))) {
        sb_feat_fail(ev, "invalid_payload", "before must be a message id, limit 1-%d",
                     SB_STORE_MAX_HISTORY);
        return false;
    }
    *before = b ? json_integer_value(b) : 0;
    *limit = l ? (int)json_integer_value(l) : SB_FEAT_PAGE_DEFAULT;
    return true;
}

/* ---- asynchronous calls ------------------------------------------------------------ */

/* A zeroed call with `extra` bytes, or NULL. Its size a multiple of 16,
 * so that every slot of its class is aligned for `extra`. */
static sb_feat_call_t *call_new(sb_features_t *f, size_t extra) {
    size_t size = (sizeof(sb_feat_call_t) + extra + 15) & ~(size_t)15;
    sb_feat_call_t *call = sb_slab_alloc(&f->loop->slab, size);
    if (call) {
        call->slab = &f->loop->slab;
        call->size = size;
    }
    return call;
}

sb_feat_call_t *sb_feat_call_begin(sb_client_t *c, const sb_sio_event_t *ev, size_t extra) {
    sb_feat_call_t *call = call_new(c->f, extra);
    if (!call) {
        sb_feat_fail((sb_sio_event_t *)ev, "server_busy", "out of memory");
        return NULL;
    }
    call->f = c->f;
    call->sock = ev->socket;
    call->has_ack = ev->has_ack;
    call->ack_id = ev->ack_id;
    sb_feat_copy(call->event, sizeof call->event, ev->name);
    sb_feat_copy(call->user_id, sizeof call->user_id, sb_cstr(c->user->id));
    sb_sio_socket_ref(call->sock);
    return call;
}

sb_feat_call_t *sb_feat_call_begin_http(sb_features_t *f, const char *user_id, const char *event,
                                        size_t extra, sb_features_answer_fn answer, void *ud) {
    sb_feat_call_t *call = call_new(f, extra);
    if (!call) {
        answer(ud, NULL, "server_busy", "out of memory");
        return NULL;
    }
    call->f = f;
    call->answer = answer;
    call->answer_ud = ud;
    snprintf(call->event, sizeof call->event, "%s", event);
    snprintf(call->user_id, sizeof call->user_id, "%s", user_id);
    return call;
}

bool sb_feat_call_live(const sb_feat_call_t *call) {
    return call->sock ? sb_sio_socket_connected(call->sock) : call->answer != NULL;
}

void sb_feat_call_ack_text(sb_feat_call_t *call, sb_str_t text) {
    sb_sio_event_t ev = {.socket = call->sock, .has_ack = call->has_ack, .ack_id = call->ack_id};
    if (call->sock && sb_feat_call_live(call))
        sb_sio_reply(&ev, text);
}

void sb_feat_call_reply(sb_feat_call_t *call, json_t *result) {
    if (call->answer) {
        sb_features_answer_fn answer = call->answer;
        call->answer = NULL; /* exactly once */
        answer(call->answer_ud, result, NULL, NULL);
        return;
    }
    sb_sio_event_t ev = {.socket = call->sock, .has_ack = call->has_ack, .ack_id = call->ack_id};
    if (sb_feat_call_live(call))
        sb_feat_reply(&ev, result);
    else
        json_decref(result);
}

void sb_feat_call_fail(sb_feat_call_t *call, const char *code, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (call->answer) {
        sb_features_answer_fn answer = call->answer;
        call->answer = NULL;
        sb_feat_count_error(call->f, code);
        answer(call->answer_ud, NULL, code, msg);
        return;
    }
    sb_sio_event_t ev = {.socket = call->sock,
                         .has_ack = call->has_ack,
                         .ack_id = call->ack_id,
                         .name = sb_cstr(call->event)};
    if (sb_feat_call_live(call))
        sb_feat_fail(&ev, code, "%s", msg);
}

/* Store results as the error codes clients see. */
static const char *store_code(int rc, const char **msg) {
    switch (rc) {
    case SB_ENOTFOUND:
        *msg = "not found";
        return "not_found";
    case SB_EEXISTS:
        *msg = "already exists";
        return "already_exists";
    case SB_EINVAL:
        *msg = "invalid value";
        return "invalid_payload";
    case SB_ETOOBIG:
    case SB_ENOMEM:
    case SB_ECLOSED:
        *msg = "server busy, try again";
        return "server_busy";
    case SB_EUNAVAIL:
        *msg = "the database is unavailable, try again";
        return "store_unavailable";
    default:
        *msg = "storage failed";
        return "storage_error";
    }
}

void sb_feat_call_fail_store(sb_feat_call_t *call, int rc) {
    const char *msg, *code = store_code(rc, &msg);
    sb_feat_call_fail(call, code, "%s", msg);
}

void sb_feat_fail_store(sb_sio_event_t *ev, int rc) {
    const char *msg, *code = store_code(rc, &msg);
    sb_feat_fail(ev, code, "%s", msg);
}

void sb_feat_call_abort(sb_feat_call_t *call, int rc) {
    sb_feat_call_fail_store(call, rc);
    sb_feat_call_end(call);
}

void sb_feat_call_end(sb_feat_call_t *call) {
    if (call->answer) /* an HTTP call ended without a word: say so rather than hang */
        sb_feat_call_fail(call, "storage_error", "no answer");
    if (call->sock)
        sb_sio_socket_unref(call->sock);
    sb_slab_free(call->slab, call, call->size); /* f may be gone: a call can outlive it */
}

/* ---- dispatch -------------------------------------------------------------------- */

static void on_event(sb_sio_event_t *ev, void *ud) {
    const sb_feature_event_t *row = ud;
    sb_client_t *c = sb_sio_socket_get_data(ev->socket);
    if (!c)
        return;
    row->fn(c, ev);
}

void sb_feat_unknown_event(sb_sio_event_t *ev) {
    sb_feat_fail(ev, "unknown_event", "unknown event '%.*s'",
                 (int)(ev->name.n > 64 ? 64 : ev->name.n), ev->name.p);
}

static void on_unknown_event(sb_sio_event_t *ev, void *ud) { sb_feat_unknown_event(ev); }

/* The contract's name for `name` (a string that outlives the server), or NULL. */
static const char *contract_event(const sb_features_t *f, sb_str_t name) {
    for (size_t t = 0; t < f->ntables; t++)
        for (size_t i = 0; i < f->tables[t].n; i++)
            if (sb_str_eq(name, sb_cstr(f->tables[t].rows[i].name)))
                return f->tables[t].rows[i].name;
    return NULL;
}

static void count_limited(sb_features_t *f, sb_str_t name) {
    const char *event = contract_event(f, name);
    size_t i = 0;
    while (event && i < f->nlimited && f->limited[i].event != event)
        i++;
    if (event && i == f->nlimited && f->nlimited < SB_FEAT_LIMITED_MAX)
        f->limited[f->nlimited++].event = event;
    if (event && i < f->nlimited)
        f->limited[i].n++;
    else
        f->limited_other++;
}

static void on_rate_limited(sb_sio_event_t *ev, void *ud) {
    count_limited(ud, ev->name);
    sb_feat_fail(ev, "rate_limited", "too many events; slow down");
}

void sb_features_rate_limited_counts(const sb_features_t *f,
                                     void (*fn)(const char *event, uint64_t n, void *ud),
                                     void *ud) {
    for (size_t i = 0; i < f->nlimited; i++)
        fn(f->limited[i].event, f->limited[i].n, ud);
    fn("other", f->limited_other, ud);
}

int sb_feat_register(sb_features_t *f, const sb_feature_event_t *rows, size_t n) {
    if (f->ntables < SB_FEAT_TABLES_MAX) {
        f->tables[f->ntables].rows = rows;
        f->tables[f->ntables++].n = n;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = sb_sio_on(f->nsp, rows[i].name, on_event, (void *)&rows[i]);
        if (rc != SB_OK)
            return rc;
    }
    return SB_OK;
}

void sb_feat_guard_events(sb_features_t *f, sb_sio_nsp_t *nsp) {
    sb_sio_on_any(nsp, on_unknown_event, f);
    sb_sio_on_rate_limited(nsp, on_rate_limited, f);
}

/* ---- emitting for other layers (features.h) ----------------------------------------- */

#define SB_FEAT_TARGET_MAX 64

/* Turns user ids into their personal rooms; the names live in `buf`. */
static void user_rooms(const char *const *users, size_t n, sb_str_t *out,
                       char buf[][SB_USER_ID_MAX + 8]) {
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(buf[i], SB_USER_ID_MAX + 8, "user:%s", users[i]);
        out[i] = sb_str(buf[i], len > 0 ? (size_t)len : 0);
    }
}

static bool in_any(const sb_sio_socket_t *s, const char *const *rooms, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (sb_sio_in_room(s, sb_cstr(rooms[i])))
            return true;
    return false;
}

/* To sockets by id: each is looked up (O(sockets) each, see
 * sb_sio_nsp_find_socket); a socket in an `except` room is skipped. */
static long emit_to_sockets(sb_features_t *f, const sb_feat_target_t *t, const char *event,
                            sb_str_t data) {
    long n = 0;
    for (size_t i = 0; i < t->nsockets; i++) {
        sb_sio_socket_t *s = sb_sio_nsp_find_socket(f->nsp, sb_cstr(t->sockets[i]));
        if (s && !in_any(s, t->except, t->nexcept) && sb_sio_emit(s, event, data) == SB_OK)
            n++;
    }
    return n;
}

long sb_features_emit(sb_features_t *f, const sb_feat_target_t *t, const char *event,
                      sb_str_t data) {
    /* Clustered, every socket is also in the room named by its id, so a
     * socket on another node is reached as a room. */
    bool sockets_as_rooms = sb_feat_clustered(f);
    if (t->nsockets && !sockets_as_rooms)
        return emit_to_sockets(f, t, event, data);
    char names[SB_FEAT_TARGET_MAX][SB_USER_ID_MAX + 8];
    sb_str_t rooms[SB_FEAT_TARGET_MAX], except[SB_FEAT_TARGET_MAX];
    if (t->nusers + t->nrooms + t->nsockets > SB_FEAT_TARGET_MAX || t->nexcept > SB_FEAT_TARGET_MAX)
        return SB_ETOOBIG;
    user_rooms(t->users, t->nusers, rooms, names);
    size_t nrooms = t->nusers;
    for (size_t i = 0; i < t->nrooms; i++)
        rooms[nrooms++] = sb_cstr(t->rooms[i]);
    for (size_t i = 0; i < t->nsockets; i++)
        rooms[nrooms++] = sb_cstr(t->sockets[i]);
    for (size_t i = 0; i < t->nexcept; i++)
        except[i] = sb_cstr(t->except[i]);
    sb_sio_target_t st = {
        .rooms = rooms, .nrooms = nrooms, .all = t->all, .except = except, .nexcept = t->nexcept};
    return sb_sio_broadcast(f->nsp, &st, event, data, NULL, 0);
}
