/* Friends: friend:request / friend:accept (stored, told to the other user
 * live and as a notification), status:update to friends, presence:query. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "features/features_internal.h"

#define SB_PRESENCE_QUERY_MAX 100

/* What a friend call keeps across the store round trip: the caller's name
 * (the user may be gone when the answer comes) or the new status. */
typedef struct {
    char name[SB_STORE_MAX_NAME + 1];
    char status[SB_STATUS_MAX + 1];
} friend_ctx_t;

static friend_ctx_t *ctx_of(sb_feat_call_t *call) { return (friend_ctx_t *)(void *)call->extra; }

/* Begins a call that remembers the caller's name. */
static sb_feat_call_t *call_with_name(sb_client_t *c, sb_sio_event_t *ev) {
    sb_feat_call_t *call = sb_feat_call_begin(c, ev, sizeof(friend_ctx_t));
    if (call)
        snprintf(ctx_of(call)->name, sizeof ctx_of(call)->name, "%s", sb_feat_user_name(c->user));
    return call;
}

/* ---- friend:request {toUserId} ----------------------------------------------------- */

static void on_requested(void *ud, int rc, const sb_store_friend_request_t *r) {
    sb_feat_call_t *call = ud;
    if (rc != SB_OK) {
        sb_feat_call_abort(call, rc);
        return;
    }
    const char *name = ctx_of(call)->name;
    char at[32], msg[200];
    sb_feat_iso_time(r->created_at_ms, at);
    sb_feat_emit_user(call->f, r->to_id, "friend:request_received",
                      json_pack("{s:I,s:s,s:s,s:s}", "requestId", (json_int_t)r->id, "fromUserId",
                                r->from_id, "fromName", name, "createdAt", at),
                      NULL);
    snprintf(msg, sizeof msg, "%s sent you a friend request", name);
    sb_feat_notify(call->f, r->to_id, "friend_request", "New friend request", msg,
                   json_pack("{s:I,s:s,s:s}", "requestId", (json_int_t)r->id, "fromUserId",
                             r->from_id, "fromName", name));
    sb_feat_call_reply(call, json_pack("{s:b,s:I}", "ok", 1, "requestId", (json_int_t)r->id));
    sb_feat_call_end(call);
}

static void friend_on_request(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    const char *to = sb_feat_str_field(arg, "toUserId", SB_USER_ID_MAX);
    if (!to || strcmp(to, c->user->id) == 0) {
        sb_feat_fail(ev, "invalid_payload",
                     to ? "you cannot befriend yourself" : "expected {toUserId: 1-128 bytes}");
        json_decref(arg);
        return;
    }
    sb_feat_call_t *call = call_with_name(c, ev);
    int rc = call ? sb_store_friend_request(c->f->cfg.store, sb_cstr(c->user->id), sb_cstr(to),
                                            on_requested, call)
                  : SB_OK;
    if (rc != SB_OK)
        sb_feat_call_abort(call, rc);
    json_decref(arg);
}

/* ---- friend:accept {requestId} ----------------------------------------------------- */

static void on_accepted(void *ud, int rc, const sb_store_friend_request_t *r) {
    sb_feat_call_t *call = ud;
    if (rc != SB_OK) {
        sb_feat_call_abort(call, rc);
        return;
    }
    const char *name = ctx_of(call)->name;
    char msg[200];
    sb_feat_emit_user(call->f, r->from_id, "friend:accepted",
                      json_pack("{s:I,s:s,s:s}", "requestId", (json_int_t)r->id, "userId", r->to_id,
                                "name", name),
                      NULL);
    snprintf(msg, sizeof msg, "%s accepted your friend request", name);
    sb_feat_notify(call->f, r->from_id, "friend_accepted", "Friend request accepted", msg,
                   json_pack("{s:I,s:s,s:s}", "requestId", (json_int_t)r->id, "userId", r->to_id,
                             "name", name));
    sb_feat_call_reply(call, json_pack("{s:b,s:I,s:s}", "ok", 1, "requestId", (json_int_t)r->id,
                                       "friendId", r->from_id));
    sb_feat_call_end(call);
}

static void friend_on_accept(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    json_t *id = json_is_object(arg) ? json_object_get(arg, "requestId") : NULL;
    json_int_t request_id = json_is_integer(id) ? json_integer_value(id) : 0;
    json_decref(arg);
    if (request_id < 1) {
        sb_feat_fail(ev, "invalid_payload", "expected {requestId: positive integer}");
        return;
    }
    sb_feat_call_t *call = call_with_name(c, ev);
    int rc = call ? sb_store_friend_accept(c->f->cfg.store, request_id, sb_cstr(c->user->id),
                                           on_accepted, call)
                  : SB_OK;
    if (rc != SB_OK)
        sb_feat_call_abort(call, rc);
}

/* ---- status:update {status} -------------------------------------------------------- */

/* One emit per friend: each goes to that friend's personal room. */
static void on_friends_listed(void *ud, int rc, const sb_store_strs_t *friends) {
    sb_feat_call_t *call = ud;
    if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
    } else {
        json_t *update =
            json_pack("{s:s,s:s}", "userId", call->user_id, "status", ctx_of(call)->status);
        for (size_t i = 0; i < friends->n; i++)
            sb_feat_emit_user(call->f, friends->v[i], "friend_status_update", json_incref(update),
                              NULL);
        json_decref(update);
        sb_feat_call_reply(call, json_pack("{s:b}", "ok", 1));
    }
    sb_feat_call_end(call);
}

static void status_on_update(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    const char *status = sb_feat_str_field(arg, "status", SB_STATUS_MAX);
    if (!status) {
        sb_feat_fail(ev, "invalid_payload", "expected {status: 1-%d bytes}", SB_STATUS_MAX);
        json_decref(arg);
        return;
    }
    int set = sb_feat_user_set_status(c->f, c->user, status);
    json_decref(arg);
    if (set != SB_OK) {
        sb_feat_fail(ev, "server_busy", "out of memory");
        return;
    }
    sb_feat_call_t *call = sb_feat_call_begin(c, ev, sizeof(friend_ctx_t));
    if (!call)
        return;
    snprintf(ctx_of(call)->status, sizeof ctx_of(call)->status, "%s",
             sb_feat_user_status(c->f, c->user));
    int rc = sb_store_friend_list(c->f->cfg.store, sb_cstr(c->user->id), on_friends_listed, call);
    if (rc != SB_OK)
        sb_feat_call_abort(call, rc);
}

/* ---- presence:query {userIds} ------------------------------------------------------ */

/* One user's answer; the store calls back once per slot. */
typedef struct {
    sb_feat_call_t *call;
    char id[SB_USER_ID_MAX + 1];
    bool hidden; /* presence scope "friends": not the caller's to see */
    bool known;
    int64_t last_seen_ms;
} seen_t;

typedef struct {
    size_t n, done; /* slots in the answer, slots answered so far */
    int rc;         /* first failure, if any */
    seen_t v[];
} query_t;

static query_t *query_of(sb_feat_call_t *call) { return (query_t *)(void *)call->extra; }

/* {online, status?, lastSeen?}: online and status from memory, lastSeen
 * from the store (absent for a user never seen). A hidden user is answered
 * as one never seen: {online: false}, so not even their existence leaks. */
static json_t *status_json(sb_features_t *f, const seen_t *s) {
    const sb_user_t *u = s->hidden ? NULL : sb_feat_user_find(f, sb_cstr(s->id));
    json_t *j = json_pack("{s:b}", "online", u && u->devices > 0);
    const char *status = u && u->devices > 0 ? sb_feat_user_status(f, u) : NULL;
    if (status)
        json_object_set_new(j, "status", json_string(status));
    if (s->known) {
        char at[32];
        sb_feat_iso_time(s->last_seen_ms, at);
        json_object_set_new(j, "lastSeen", json_string(at));
    }
    return j;
}

static void query_finish(sb_feat_call_t *call) {
    query_t *q = query_of(call);
    if (q->rc != SB_OK) {
        sb_feat_call_fail_store(call, q->rc);
    } else {
        json_t *statuses = json_object();
        for (size_t i = 0; i < q->n; i++)
            json_object_set_new(statuses, q->v[i].id, status_json(call->f, &q->v[i]));
        sb_feat_call_reply(call, json_pack("{s:o}", "statuses", statuses));
    }
    sb_feat_call_end(call);
}

static void on_user_seen(void *ud, int rc, const sb_store_user_t *u) {
    seen_t *s = ud;
    query_t *q = query_of(s->call);
    if (rc == SB_OK) {
        s->known = true;
        s->last_seen_ms = u->last_seen_ms;
    } else if (rc != SB_ENOTFOUND && q->rc == SB_OK) {
        q->rc = rc;
    }
    if (++q->done == q->n)
        query_finish(s->call);
}

/* Copies 1..100 user ids into the slots; false if the list is malformed. */
static bool query_ids(json_t *ids, query_t *q) {
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        const char *id = sb_features_text(v, 1, SB_USER_ID_MAX);
        if (!id)
            return false;
        memcpy(q->v[i].id, id, json_string_length(v) + 1);
    }
    return true;
}

/* Queues one lookup per visible id (the hidden ones are answered without
 * the store); completions never run inside a submit, so the counts are
 * final before the first one arrives. */
static void query_submit(sb_feat_call_t *call, size_t n) {
    query_t *q = query_of(call);
    size_t queued = 0, answered = 0;
    for (size_t i = 0; i < n && q->rc == SB_OK; i++) {
        seen_t *s = &q->v[i];
        s->call = call;
        if (s->hidden) {
            answered++;
            continue;
        }
        int rc = sb_store_user_get(call->f->cfg.store, sb_cstr(s->id), on_user_seen, s);
        if (rc != SB_OK)
            q->rc = rc;
        else
            queued++;
    }
    q->n = queued + answered;
    q->done = answered;
    if (queued == 0 && q->rc != SB_OK)
        sb_feat_call_abort(call, q->rc);
    else if (queued == 0)
        query_finish(call);
}

static int compare_ids(const void *key, const void *item) {
    return strcmp(key, *(const char *const *)item);
}

/* The list is sorted bytewise, as strcmp orders; an empty one may have no array. */
static bool is_friend(const sb_store_strs_t *friends, const char *id) {
    return friends->n > 0 && bsearch(id, friends->v, friends->n, sizeof *friends->v, compare_ids);
}

/* Scope "friends": the caller sees their friends and themselves only. */
static void query_on_friends(void *ud, int rc, const sb_store_strs_t *friends) {
    sb_feat_call_t *call = ud;
    query_t *q = query_of(call);
    if (rc != SB_OK) {
        sb_feat_call_abort(call, rc);
        return;
    }
    for (size_t i = 0; i < q->n; i++)
        q->v[i].hidden = strcmp(q->v[i].id, call->user_id) != 0 && !is_friend(friends, q->v[i].id);
    query_submit(call, q->n);
}

static void query_start(sb_client_t *c, sb_feat_call_t *call, size_t n) {
    if (!c->f->cfg.presence_friends) {
        query_submit(call, n);
        return;
    }
    query_of(call)->n = n; /* the slots to judge once the friends are known */
    int rc = sb_store_friend_list(c->f->cfg.store, sb_cstr(c->user->id), query_on_friends, call);
    if (rc != SB_OK)
        sb_feat_call_abort(call, rc);
}

static void presence_on_query(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    json_t *ids = json_is_object(arg) ? json_object_get(arg, "userIds") : NULL;
    size_t n = json_is_array(ids) ? json_array_size(ids) : 0;
    sb_feat_call_t *call = NULL;
    if (n < 1 || n > SB_PRESENCE_QUERY_MAX) {
        sb_feat_fail(ev, "invalid_payload", "expected {userIds: 1-%d user ids}",
                     SB_PRESENCE_QUERY_MAX);
    } else if ((call = sb_feat_call_begin(c, ev, sizeof(query_t) + n * sizeof(seen_t)))) {
        if (query_ids(ids, query_of(call))) {
            query_start(c, call, n);
        } else {
            sb_feat_call_fail(call, "invalid_payload", "each user id must be 1-128 bytes");
            sb_feat_call_end(call);
        }
    }
    json_decref(arg);
}

static const sb_feature_event_t friend_events[] = {
    {"friend:request", friend_on_request},
    {"friend:accept", friend_on_accept},
    {"status:update", status_on_update},
    {"presence:query", presence_on_query},
};

int sb_feat_friends_init(sb_features_t *f) {
    return sb_feat_register(f, friend_events, sizeof friend_events / sizeof *friend_events);
}
