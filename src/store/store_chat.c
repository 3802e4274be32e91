/* Users, conversations and messages: each operation is a submit function
 * (loop thread: check, copy into its arguments, queue) next to its exec
 * function (store thread: statements, on either backend). */
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/err.h"
#include "core/hex.h"
#include "core/put.h"

/* ---- users ------------------------------------------------------------------ */

int sb_store__exec_user_upsert(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__user_upsert_args_t *a = &r->args.user_upsert;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_USER_UPSERT);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, a->id);
    sb_store__bind_str(q, 2, a->name);
    sb_store__bind_str(q, 3, a->avatar);
    sb_store__bind_int(q, 4, a->last_seen_ms);
    return sb_store__exec(q);
}

int sb_store__exec_user_get(sb_store_t *st, sb_store__req_t *r) {
    sb_store__q_t *q = sb_store__q(st, SB_SQL_USER_GET);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, r->args.user_get.id);
    int rc = sb_store__step_one(q);
    if (rc != SB_OK)
        return rc;
    bool oom = false;
    sb_store_user_t *u = &r->res.USER;
    u->id = sb_store__col(r, q, 0, &oom);
    u->name = sb_store__col(r, q, 1, &oom);
    u->avatar = sb_store__col(r, q, 2, &oom);
    u->last_seen_ms = sb_store__col_int(q, 3);
    return oom ? SB_ENOMEM : SB_OK;
}

int sb_store_user_upsert(sb_store_t *st, sb_str_t id, sb_str_t name, sb_str_t avatar,
                         int64_t last_seen_ms, sb_store_done_cb cb, void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_ID) || !sb_store__valid(name, 0, SB_STORE_MAX_NAME) ||
        !sb_store__valid_opt(avatar, 0, SB_STORE_MAX_URL))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_user_upsert(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__user_upsert_args_t *a = &r->args.user_upsert;
    a->last_seen_ms = last_seen_ms;
    return sb_store__submit(st, r,
                            sb_store__copy(r, &a->id, id, false) &&
                                sb_store__copy(r, &a->name, name, false) &&
                                sb_store__copy(r, &a->avatar, avatar, true));
}

int sb_store_user_get(sb_store_t *st, sb_str_t id, sb_store_user_cb cb, void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_user_get(cb, ud);
    return sb_store__submit_lookup(st, r, r ? &r->args.user_get : NULL, id);
}

/* ---- conversations ---------------------------------------------------------------------- */

/* Returns SB_OK if the conversation was created, SB_EEXISTS if the id is taken.
 */
static int insert_conversation(sb_store_t *st, const char *id, sb_str_t title, bool direct,
                               int64_t now) {
    sb_store__q_t *q = sb_store__q(st, SB_SQL_CONV_INSERT);
    if (!q)
        return SB_EIO;
    sb_store__bind_cstr(q, 1, id);
    sb_store__bind_str(q, 2, title);
    sb_store__bind_int(q, 3, direct);
    sb_store__bind_int(q, 4, now);
    int rc = sb_store__exec(q);
    if (rc == SB_OK && sb_store__changes(q) == 0)
        rc = SB_EEXISTS;
    return rc;
}

static int insert_members(sb_store_t *st, const char *id, const char *const *users, size_t n) {
    sb_store__q_t *q = sb_store__q(st, SB_SQL_MEMBER_INSERT);
    if (!q)
        return SB_EIO;
    for (size_t i = 0; i < n; i++) {
        sb_store__bind_cstr(q, 1, id);
        sb_store__bind_cstr(q, 2, users[i]);
        int rc = sb_store__exec(q);
        if (rc != SB_OK)
            return rc;
    }
    return SB_OK;
}

/* 16 random hex digits in the request's arena, or NULL. */
static const char *random_id(sb_store__req_t *r) {
    uint8_t b[8];
    char *id = sb_store__alloc(r, 2 * sizeof b + 1);
    if (!id || getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return NULL;
    sb_hex_encode(b, sizeof b, id);
    return id;
}

int sb_store__exec_conversation_create(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__conversation_create_args_t *a = &r->args.conversation_create;
    const char *id = a->id.p;
    int rc = SB_EEXISTS;
    /* A generated id colliding is a 2^-64 event; a few retries settle it. */
    for (int attempt = 0; attempt < 4 && rc == SB_EEXISTS; attempt++) {
        if (!a->id.p && !(id = random_id(r)))
            return SB_EIO;
        rc = insert_conversation(st, id, a->title, false, a->created_at_ms);
        if (a->id.p)
            break;
    }
    if (rc == SB_OK)
        rc = insert_members(st, id, a->members, a->n_members);
    r->res.ID = id;
    return rc;
}

/* Creates direct conversation `id` of the two users unless it exists; on
 * PostgreSQL in one statement, so that it never depends on a guessed
 * "was it created". */
static int open_direct(sb_store_t *st, sb_store__req_t *r, const char *id,
                       const char *const users[2], int64_t now) {
    if (st->pg) {
        const char *members = sb_store__pg_text_array(r, users, 2);
        sb_store__q_t *q = members ? sb_store__q(st, SB_SQL_CONV_OPEN_DIRECT) : NULL;
        if (!q)
            return members ? SB_EIO : SB_ENOMEM;
        sb_store__bind_cstr(q, 1, id);
        sb_store__bind_int(q, 2, now);
        sb_store__bind_cstr(q, 3, members);
        return sb_store__exec(q);
    }
    int rc = insert_conversation(st, id, (sb_str_t){NULL, 0}, true, now);
    if (rc == SB_OK)
        rc = insert_members(st, id, users, 2);
    return rc == SB_EEXISTS ? SB_OK : rc; /* made on an earlier call */
}

int sb_store__exec_conversation_direct(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__conversation_direct_args_t *a = &r->args.conversation_direct;
    r->res.ID = a->id.p;
    return open_direct(st, r, a->id.p, a->users, a->created_at_ms);
}

static int conversation_exists(sb_store_t *st, sb_str_t id) {
    sb_store__q_t *q = sb_store__q(st, SB_SQL_CONV_EXISTS);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, id);
    return sb_store__step_one(q);
}

int sb_store__exec_conversation_members(sb_store_t *st, sb_store__req_t *r) {
    sb_str_t id = r->args.conversation_members.id;
    int rc = conversation_exists(st, id);
    if (rc != SB_OK)
        return rc;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_MEMBER_LIST);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, id);
    return sb_store__collect_strs(r, q, &r->res.STRS);
}

int sb_store__exec_conversation_is_member(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__membership_args_t *a = &r->args.conversation_is_member;
    int rc = conversation_exists(st, a->conversation);
    if (rc != SB_OK)
        return rc;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_MEMBER_CHECK);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, a->conversation);
    sb_store__bind_str(q, 2, a->user);
    rc = sb_store__step_one(q);
    r->res.BOOL = rc == SB_OK;
    return rc == SB_ENOTFOUND ? SB_OK : rc;
}

/* The members as they are, into the result; then clears them when asked. */
static int take_members(sb_store_t *st, sb_store__req_t *r, sb_str_t id, bool clear) {
    int rc = conversation_exists(st, id);
    sb_store__q_t *q = rc == SB_OK ? sb_store__q(st, SB_SQL_MEMBER_LIST) : NULL;
    if (rc != SB_OK || !q)
        return rc != SB_OK ? rc : SB_EIO;
    sb_store__bind_str(q, 1, id);
    rc = sb_store__collect_strs(r, q, &r->res.STRS);
    if (rc != SB_OK || !clear)
        return rc;
    if (!(q = sb_store__q(st, SB_SQL_MEMBER_CLEAR)))
        return SB_EIO;
    sb_store__bind_str(q, 1, id);
    return sb_store__exec(q);
}

int sb_store__exec_conversation_update(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__conversation_update_args_t *a = &r->args.conversation_update;
    int rc = take_members(st, r, a->id, a->set_members);
    if (rc == SB_OK && a->set_members)
        rc = insert_members(st, a->id.p, a->members, a->n_members);
    if (rc == SB_OK && a->title.p) {
        sb_store__q_t *q = sb_store__q(st, SB_SQL_CONV_SET_TITLE);
        if (!q)
            return SB_EIO;
        sb_store__bind_str(q, 1, a->id);
        sb_store__bind_str(q, 2, a->title);
        rc = sb_store__exec(q);
    }
    return rc;
}

int sb_store__exec_conversation_delete(sb_store_t *st, sb_store__req_t *r) {
    sb_str_t id = r->args.conversation_delete.id;
    int rc = take_members(st, r, id, true);
    sb_store__q_t *q = rc == SB_OK ? sb_store__q(st, SB_SQL_CONV_DELETE) : NULL;
    if (rc != SB_OK || !q)
        return rc != SB_OK ? rc : SB_EIO;
    sb_store__bind_str(q, 1, id);
    return sb_store__exec(q);
}

int sb_store_conversation_update(sb_store_t *st, sb_str_t id, sb_str_t title,
                                 const sb_str_t *members, size_t n, sb_store_strs_cb cb, void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_ID) || sb_str_has_prefix(id, SB_LIT("dm:")) ||
        !sb_store__valid_opt(title, 0, SB_STORE_MAX_TITLE) ||
        (members && !sb_store__valid_list(members, n, 1, SB_STORE_MAX_ID)) || (members && n == 0) ||
        (!members && !title.p))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_conversation_update(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__conversation_update_args_t *a = &r->args.conversation_update;
    a->set_members = members != NULL;
    a->members = members ? sb_store__copy_list(r, members, n) : NULL;
    a->n_members = members ? n : 0;
    return sb_store__submit(st, r,
                            sb_store__copy(r, &a->id, id, false) &&
                                sb_store__copy(r, &a->title, title, true) &&
                                (!members || a->members));
}

int sb_store_conversation_delete(sb_store_t *st, sb_str_t id, sb_store_strs_cb cb, void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_CONV_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_conversation_delete(cb, ud);
    return sb_store__submit_lookup(st, r, r ? &r->args.conversation_delete : NULL, id);
}

int sb_store_conversation_create(sb_store_t *st, sb_str_t id, const sb_str_t *members, size_t n,
                                 sb_str_t title, sb_store_id_cb cb, void *ud) {
    if (!sb_store__valid_opt(id, 1, SB_STORE_MAX_ID) || sb_str_has_prefix(id, SB_LIT("dm:")) ||
        !sb_store__valid_list(members, n, 0, SB_STORE_MAX_ID) ||
        !sb_store__valid_opt(title, 0, SB_STORE_MAX_TITLE))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_conversation_create(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__conversation_create_args_t *a = &r->args.conversation_create;
    a->created_at_ms = sb_wall_ms();
    a->members = sb_store__copy_list(r, members, n);
    a->n_members = n;
    return sb_store__submit(st, r,
                            sb_store__copy(r, &a->id, id, true) &&
                                sb_store__copy(r, &a->title, title, true) && (!n || a->members));
}

/* "dm:<len(x)>:<x>:<y>", x < y bytewise. The length prefix makes the
 * encoding injective whatever bytes the ids contain. */
int sb_store_direct_id(sb_str_t x, sb_str_t y, char *out, size_t cap) {
    if (!sb_store__valid(x, 1, SB_STORE_MAX_ID) || !sb_store__valid(y, 1, SB_STORE_MAX_ID) ||
        sb_str_eq(x, y) || cap < SB_STORE_MAX_CONV_ID + 1)
        return SB_EINVAL;
    size_t common = x.n < y.n ? x.n : y.n;
    int cmp = memcmp(x.p, y.p, common);
    if (cmp > 0 || (cmp == 0 && x.n > y.n)) {
        sb_str_t t = x;
        x = y;
        y = t;
    }
    size_t k = 0; /* at most 3 + 3 + 1 + 128 + 1 + 128 bytes: it fits */
    SB_PUT_LIT(out, &k, "dm:");
    sb_put_uint(out, &k, x.n);
    SB_PUT_LIT(out, &k, ":");
    sb_put(out, &k, x.p, x.n);
    SB_PUT_LIT(out, &k, ":");
    sb_put(out, &k, y.p, y.n);
    out[k] = '\0';
    return SB_OK;
}

/* The pair's direct id and both users, copied into r's arena. */
static bool direct_args(sb_store__req_t *r, sb_str_t a, sb_str_t b, sb_str_t *id,
                        const char *users[2]) {
    char buf[SB_STORE_MAX_CONV_ID + 1];
    sb_str_t both[2] = {a, b};
    const char **copy = sb_store__copy_list(r, both, 2);
    if (!copy || sb_store_direct_id(a, b, buf, sizeof buf) != SB_OK)
        return false;
    users[0] = copy[0];
    users[1] = copy[1];
    return sb_store__copy(r, id, sb_cstr(buf), false);
}

int sb_store_conversation_direct(sb_store_t *st, sb_str_t a, sb_str_t b, sb_store_id_cb cb,
                                 void *ud) {
    if (!sb_store__valid(a, 1, SB_STORE_MAX_ID) || !sb_store__valid(b, 1, SB_STORE_MAX_ID) ||
        sb_str_eq(a, b))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_conversation_direct(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__conversation_direct_args_t *args = &r->args.conversation_direct;
    args->created_at_ms = sb_wall_ms();
    return sb_store__submit(st, r, direct_args(r, a, b, &args->id, args->users));
}

int sb_store_conversation_members(sb_store_t *st, sb_str_t id, sb_store_strs_cb cb, void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_CONV_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_conversation_members(cb, ud);
    return sb_store__submit_lookup(st, r, r ? &r->args.conversation_members : NULL, id);
}

int sb_store_conversation_is_member(sb_store_t *st, sb_str_t id, sb_str_t user, sb_store_bool_cb cb,
                                    void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_CONV_ID) || !sb_store__valid(user, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_conversation_is_member(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__membership_args_t *a = &r->args.conversation_is_member;
    return sb_store__submit(st, r,
                            sb_store__copy(r, &a->conversation, id, false) &&
                                sb_store__copy(r, &a->user, user, false));
}

/* ---- messages --------------------------------------------------------------------------- */

/* Steps q, reading at most `limit` message rows into r->res.MSGS; with
 * `keyed`, column 7 is the sender's key. */
static int collect_msgs(sb_store__req_t *r, sb_store__q_t *q, int64_t limit, bool keyed) {
    sb_store_msg_t *v = sb_store__alloc(r, (size_t)limit * sizeof *v);
    if (!v)
        return SB_ENOMEM;
    size_t n = 0;
    int rc;
    bool oom = false;
    while ((rc = sb_store__step(q)) == SB_STORE__ROW && n < (size_t)limit) {
        sb_store_msg_t *m = &v[n++];
        *m = (sb_store_msg_t){0}; /* the arena is not zeroed: fields no column sets */
        if (!sb_store__read_msg(r, q, m))
            return SB_ENOMEM;
        m->client_key = keyed ? sb_store__col(r, q, 7, &oom) : NULL;
        if (oom)
            return SB_ENOMEM;
    }
    if (rc < 0)
        return rc;
    r->res.MSGS = (sb_store_msgs_t){.v = v, .n = n};
    return SB_OK;
}

static int insert_deliveries(sb_store_t *st, int64_t id, const char *const *users, size_t n) {
    sb_store__q_t *q = n ? sb_store__q(st, SB_SQL_DELIVERY_INSERT) : NULL;
    if (n && !q)
        return SB_EIO;
    int rc = SB_OK;
    for (size_t i = 0; i < n && rc == SB_OK; i++) {
        sb_store__bind_int(q, 1, id);
        sb_store__bind_cstr(q, 2, users[i]);
        rc = sb_store__exec(q);
    }
    return rc;
}

/* PostgreSQL: the appends' lock, then the append as one statement (see
 * SB_STORE__SQL), opening the direct conversation in it; with an
 * idempotency key, the direct conversation goes first, a statement of its
 * own. */
static int append_on_pg(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__message_append_args_t *a = &r->args.message_append;
    const char *users = sb_store__pg_text_array(r, a->recipients, a->n_recipients);
    if (!users)
        return SB_ENOMEM;
    if (a->key.p) {
        int rc = a->direct_id.p
                     ? open_direct(st, r, a->direct_id.p, a->direct_users, a->created_at_ms)
                     : SB_OK;
        if (rc == SB_OK)
            rc = sb_store__lock_appends(st);
        return rc == SB_OK ? sb_store__msg_key_append_pg(st, r, users) : rc;
    }
    const char *members = a->direct_id.p ? sb_store__pg_text_array(r, a->direct_users, 2) : NULL;
    if (a->direct_id.p && !members)
        return SB_ENOMEM;
    int rc = sb_store__lock_appends(st);
    if (rc != SB_OK)
        return rc;
    sb_store__q_t *q = sb_store__q(st, members ? SB_SQL_MSG_APPEND_DIRECT : SB_SQL_MSG_APPEND_ONE);
    if (!q)
        return SB_EIO;
    sb_store__bind_msg_row(q, a, users, members ? 9 : 7);
    if (members) {
        sb_store__bind_str(q, 7, a->direct_id);
        sb_store__bind_cstr(q, 8, members);
    }
    rc = sb_store__step(q);
    if (rc != SB_STORE__ROW)
        return rc < 0 ? rc : SB_EIO;
    sb_store__appended(r, sb_store__col_int(q, 0));
    return sb_store__appended_prevs(r, q, 1);
}

int sb_store__exec_message_append(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__message_append_args_t *a = &r->args.message_append;
    if (st->pg)
        return append_on_pg(st, r);
    if (a->direct_id.p) {
        int rc = open_direct(st, r, a->direct_id.p, a->direct_users, a->created_at_ms);
        if (rc != SB_OK)
            return rc;
    }
    int rc = a->key.p ? sb_store__msg_key_replay(st, r) : SB_ENOTFOUND;
    if (rc != SB_ENOTFOUND)
        return rc;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_MSG_INSERT);
    if (!q)
        return SB_EIO;
    sb_store__bind_msg_row(q, a, NULL, 6);
    if ((rc = sb_store__exec(q)) != SB_OK)
        return rc;
    int64_t id = sb_store__last_id(q);
    if (a->key.p && (rc = sb_store__msg_key_remember(st, r, id)) != SB_OK)
        return rc;
    sb_store__appended(r, id);
    return insert_deliveries(st, id, a->recipients, a->n_recipients);
}

int sb_store__exec_message_history(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__message_history_args_t *a = &r->args.message_history;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_MSG_HISTORY);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, a->room);
    sb_store__bind_int(q, 2, a->before_id ? a->before_id : INT64_MAX);
    sb_store__bind_int(q, 3, a->limit);
    return collect_msgs(r, q, a->limit, false);
}

static int cmp_id(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* PostgreSQL: the whole list in one statement, which returns the ids it
 * marked (each once); out gets them in the request's order, as one by one. */
static int mark_read_on_pg(sb_store_t *st, sb_store__req_t *r, int64_t *out, size_t *n) {
    const sb_store__message_mark_read_args_t *a = &r->args.message_mark_read;
    const char *ids = sb_store__pg_int_array(r, a->ids, a->n_ids);
    int64_t *marked = sb_store__alloc(r, a->n_ids * sizeof *marked);
    bool *taken = sb_store__alloc(r, a->n_ids * sizeof *taken);
    sb_store__q_t *q = ids && marked && taken ? sb_store__q(st, SB_SQL_MSG_READ) : NULL;
    if (!q)
        return ids && marked && taken ? SB_EIO : SB_ENOMEM;
    sb_store__bind_cstr(q, 1, ids);
    sb_store__bind_str(q, 2, a->user);
    sb_store__bind_str(q, 3, a->room);
    sb_store__bind_int(q, 4, a->read_at_ms);
    size_t k = 0;
    int rc;
    while ((rc = sb_store__step(q)) == SB_STORE__ROW && k < a->n_ids)
        marked[k++] = sb_store__col_int(q, 0);
    if (rc < 0)
        return rc;
    qsort(marked, k, sizeof *marked, cmp_id);
    memset(taken, 0, k * sizeof *taken);
    for (size_t i = 0; i < a->n_ids; i++) {
        const int64_t *hit = bsearch(&a->ids[i], marked, k, sizeof *marked, cmp_id);
        if (hit && !taken[hit - marked]) { /* a repeated id counts once, as one by one */
            taken[hit - marked] = true;
            out[(*n)++] = a->ids[i];
        }
    }
    return SB_OK;
}

/* SQLite: one statement per id; out gets the ids it marked. */
static int mark_read_one_by_one(sb_store_t *st, sb_store__req_t *r, int64_t *out, size_t *n) {
    const sb_store__message_mark_read_args_t *a = &r->args.message_mark_read;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_MSG_READ);
    if (!q)
        return SB_EIO;
    for (size_t i = 0; i < a->n_ids; i++) {
        sb_store__bind_int(q, 1, a->ids[i]);
        sb_store__bind_str(q, 2, a->user);
        sb_store__bind_str(q, 3, a->room);
        sb_store__bind_int(q, 4, a->read_at_ms);
        int rc = sb_store__exec(q);
        if (rc != SB_OK)
            return rc;
        if (sb_store__changes(q) > 0) /* a message of the room, not the reader's, not yet read */
            out[(*n)++] = a->ids[i];
    }
    return SB_OK;
}

int sb_store__exec_message_mark_read(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__message_mark_read_args_t *a = &r->args.message_mark_read;
    int64_t *out = sb_store__alloc(r, a->n_ids * sizeof *out);
    if (!out)
        return SB_ENOMEM;
    size_t n = 0;
    int rc = st->pg ? mark_read_on_pg(st, r, out, &n) : mark_read_one_by_one(st, r, out, &n);
    if (rc != SB_OK)
        return rc;
    r->res.IDS = (sb_store_ids_t){out, n};
    /* Run again after an unknown COMMIT outcome: had the first run not
     * committed, this run marks what it marked (minus what another server
     * marked meanwhile). Nothing marked now means the first run committed:
     * its ids are the answer, or their receipts would never go out (or, in
     * a race with the same reader on another server, twice: never lost). */
    if (n == 0 && r->earlier)
        r->res.IDS = r->earlier->IDS;
    return SB_OK;
}

int sb_store__exec_message_undelivered(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__user_page_args_t *a = &r->args.message_undelivered;
    int64_t newest;
    int rc;
    sb_store__q_t *q =
        sb_store__q_pending_page(st, SB_SQL_MSG_NEWEST, SB_SQL_MSG_UNDELIVERED, a, &newest, &rc);
    if (!q)
        return rc;
    rc = collect_msgs(r, q, a->limit, true);
    r->res.MSGS.newest = newest;
    return rc;
}

int sb_store__exec_message_mark_delivered(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__user_ids_args_t *a = &r->args.message_mark_delivered;
    return sb_store__exec_per_id(st, r, SB_SQL_MSG_DELIVERED, a);
}

/* Runs a "user, upto id" update. */
int sb_store__exec_upto(sb_store_t *st, sb_store__sql_t which,
                        const sb_store__user_upto_args_t *a) {
    sb_store__q_t *q = sb_store__q(st, which);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, a->user);
    sb_store__bind_int(q, 2, a->upto_id);
    return sb_store__exec(q);
}

int sb_store__exec_message_delivered_upto(sb_store_t *st, sb_store__req_t *r) {
    return sb_store__exec_upto(st, SB_SQL_MSG_DELIVERED_UPTO, &r->args.message_delivered_upto);
}

int sb_store__exec_message_floor_advance(sb_store_t *st, sb_store__req_t *r) {
    sb_store__q_t *q = sb_store__q(st, SB_SQL_MSG_FLOOR_ADVANCE);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, r->args.message_floor_advance.id);
    return sb_store__exec(q);
}

int sb_store_message_append(sb_store_t *st, const sb_store_message_in_t *m, sb_store_msg_cb cb,
                            void *ud) {
    if (!m || !sb_store__valid(m->room, 1, SB_STORE_MAX_ROOM) ||
        !sb_store__valid(m->sender_id, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(m->content, 0, st->cfg.max_content) ||
        !sb_store__valid(m->type, 0, SB_STORE_MAX_NAME) ||
        !sb_store__valid_list(m->recipients, m->n_recipients, 0, SB_STORE_MAX_ID) ||
        !sb_store__valid_opt(m->idempotency_key, 1, SB_STORE_MAX_KEY) ||
        !sb_store__valid_opt(m->sender_name, 1, SB_STORE_MAX_NAME) ||
        (m->direct_with.p && (!sb_store__valid(m->direct_with, 1, SB_STORE_MAX_ID) ||
                              sb_str_eq(m->direct_with, m->sender_id))))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_message_append(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__message_append_args_t *a = &r->args.message_append;
    a->created_at_ms = m->created_at_ms;
    a->recipients = sb_store__copy_list(r, m->recipients, m->n_recipients);
    a->n_recipients = m->n_recipients;
    sb_str_t type = m->type.n ? m->type : SB_LIT("text");
    return sb_store__submit(st, r,
                            sb_store__copy(r, &a->room, m->room, false) &&
                                sb_store__copy(r, &a->sender_id, m->sender_id, false) &&
                                sb_store__copy(r, &a->content, m->content, false) &&
                                sb_store__copy(r, &a->type, type, false) &&
                                sb_store__copy(r, &a->key, m->idempotency_key, true) &&
                                sb_store__copy(r, &a->sender_name, m->sender_name, true) &&
                                (!m->n_recipients || a->recipients) &&
                                (!m->direct_with.p || direct_args(r, m->sender_id, m->direct_with,
                                                                  &a->direct_id, a->direct_users)));
}

int sb_store_message_history(sb_store_t *st, sb_str_t room, int64_t before_id, int limit,
                             sb_store_msgs_cb cb, void *ud) {
    if (!sb_store__valid(room, 1, SB_STORE_MAX_ROOM) || before_id < 0 || limit < 1 ||
        limit > SB_STORE_MAX_HISTORY)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_message_history(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__message_history_args_t *a = &r->args.message_history;
    a->before_id = before_id;
    a->limit = limit;
    return sb_store__submit(st, r, sb_store__copy(r, &a->room, room, false));
}

int sb_store_message_mark_read(sb_store_t *st, sb_str_t user, sb_str_t room, const int64_t *ids,
                               size_t n, sb_store_ids_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(room, 1, SB_STORE_MAX_ROOM) || !ids || n < 1 || n > SB_STORE_MAX_LIST)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_message_mark_read(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__message_mark_read_args_t *a = &r->args.message_mark_read;
    a->read_at_ms = sb_wall_ms();
    a->ids = sb_store__copy_ids(r, ids, n);
    a->n_ids = n;
    return sb_store__submit(st, r,
                            sb_store__copy(r, &a->user, user, false) &&
                                sb_store__copy(r, &a->room, room, false) && a->ids);
}

int sb_store_message_undelivered(sb_store_t *st, sb_str_t user, int64_t after_id, int limit,
                                 sb_store_msgs_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) || after_id < 0 || limit < 1 ||
        limit > SB_STORE_MAX_PAGE)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_message_undelivered(cb, ud);
    return sb_store__submit_user_page(st, r, r ? &r->args.message_undelivered : NULL, user,
                                      after_id, limit);
}

int sb_store_message_mark_delivered(sb_store_t *st, sb_str_t user, const int64_t *ids, size_t n,
                                    sb_store_done_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) || !ids || n < 1 || n > SB_STORE_MAX_LIST)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_message_mark_delivered(cb, ud);
    return sb_store__submit_user_ids(st, r, r ? &r->args.message_mark_delivered : NULL, user, ids,
                                     n);
}

int sb_store_message_floor_advance(sb_store_t *st, sb_str_t user, sb_store_done_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_message_floor_advance(cb, ud);
    return sb_store__submit_lookup(st, r, r ? &r->args.message_floor_advance : NULL, user);
}

int sb_store_message_delivered_upto(sb_store_t *st, sb_str_t user, int64_t upto_id,
                                    sb_store_done_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) || upto_id < 0)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_message_delivered_upto(cb, ud);
    return sb_store__submit_upto(st, r, r ? &r->args.message_delivered_upto : NULL, user, upto_id);
}
