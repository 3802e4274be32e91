/* Notifications, friends, posts and documents: submit functions (loop
 * thread) next to their exec functions (store thread), as in store_chat.c. */
#include "store/store_internal.h"

#include "core/err.h"

/* ---- notifications ---------------------------------------------------------- */

static bool read_notification(sb_store__req_t *r, sqlite3_stmt *s, sb_store_notification_t *n) {
    bool oom = false;
    n->id = sqlite3_column_int64(s, 0);
    n->user_id = sb_store__col(r, s, 1, &oom);
    n->type = sb_store__col(r, s, 2, &oom);
    n->title = sb_store__col(r, s, 3, &oom);
    n->message = sb_store__col(r, s, 4, &oom);
    n->data = sb_store__col(r, s, 5, &oom);
    n->is_read = sqlite3_column_int(s, 6) != 0;
    n->created_at_ms = sqlite3_column_int64(s, 7);
    return !oom;
}

static int collect_notifications(sb_store_t *st, sb_store__req_t *r, sqlite3_stmt *s,
                                 int64_t limit) {
    sb_store_notification_t *v = sb_store__alloc(r, (size_t)limit * sizeof *v);
    if (!v)
        return SB_ENOMEM;
    size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < (size_t)limit)
        if (!read_notification(r, s, &v[n++]))
            return SB_ENOMEM;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sb_store__err(st, rc);
    r->res.notifs = (sb_store_notifications_t){v, n};
    return SB_OK;
}

/* s0 user, s1 type, s2 title, s3 message, s4 data; i0 created_at_ms. */
static int exec_notif_create(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_NOTIF_INSERT);
    if (!s)
        return SB_EIO;
    sb_store__bind_slots(s, r, 5);
    sqlite3_bind_int64(s, 6, r->i[0]);
    int rc = sb_store__exec(st, s); /* SB_EINVAL: the CHECK (json_valid(data)) failed */
    r->res.notif = (sb_store_notification_t){sqlite3_last_insert_rowid(st->db),
                                             r->s[0],
                                             r->s[1],
                                             r->s[2],
                                             r->s[3],
                                             r->s[4],
                                             false,
                                             r->i[0]};
    return rc;
}

/* s0 user; i0 unread_only, i1 limit. */
static int exec_notif_list(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_NOTIF_LIST);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    sqlite3_bind_int64(s, 2, r->i[0]);
    sqlite3_bind_int64(s, 3, r->i[1]);
    return collect_notifications(st, r, s, r->i[1]);
}

/* s0 user; i0 id. The user_id condition is what keeps other users' rows safe. */
static int exec_notif_mark_read(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_NOTIF_READ);
    if (!s)
        return SB_EIO;
    sqlite3_bind_int64(s, 1, r->i[0]);
    sb_store__bind_s(s, 2, r, 0);
    int rc = sb_store__exec(st, s);
    return rc == SB_OK && sqlite3_changes(st->db) == 0 ? SB_ENOTFOUND : rc;
}

/* s0 user; i1 limit. */
static int exec_notif_undelivered(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_NOTIF_UNDELIVERED);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    sqlite3_bind_int64(s, 2, r->i[1]);
    sqlite3_bind_int64(s, 3, r->i[0]); /* after_id */
    return collect_notifications(st, r, s, r->i[1]);
}

/* s0 user; ids. */
static int exec_notif_mark_delivered(sb_store_t *st, sb_store__req_t *r) {
    return sb_store__exec_per_id(st, r, SB_SQL_NOTIF_DELIVERED);
}

/* s0 user; i0 upto_id. */
static int exec_notif_delivered_upto(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_NOTIF_DELIVERED_UPTO);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    sqlite3_bind_int64(s, 2, r->i[0]);
    return sb_store__exec(st, s);
}

static const sb_store__op_t op_notif_create = {"notification_create", true, SB_STORE__K_NOTIF,
                                               exec_notif_create};
static const sb_store__op_t op_notif_list = {"notification_list", false, SB_STORE__K_NOTIFS,
                                             exec_notif_list};
static const sb_store__op_t op_notif_mark_read = {"notification_mark_read", true, SB_STORE__K_DONE,
                                                  exec_notif_mark_read};
static const sb_store__op_t op_notif_undelivered = {"notification_undelivered", false,
                                                    SB_STORE__K_NOTIFS, exec_notif_undelivered};
static const sb_store__op_t op_notif_mark_delivered = {"notification_mark_delivered", true,
                                                       SB_STORE__K_DONE, exec_notif_mark_delivered};
static const sb_store__op_t op_notif_delivered_upto = {"notification_delivered_upto", true,
                                                       SB_STORE__K_DONE, exec_notif_delivered_upto};

int sb_store_notification_create(sb_store_t *st, const sb_store_notification_in_t *n,
                                 sb_store_notification_cb cb, void *ud) {
    if (!n || !sb_store__valid(n->user_id, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(n->type, 1, SB_STORE_MAX_NAME) ||
        !sb_store__valid(n->title, 0, SB_STORE_MAX_TITLE) ||
        !sb_store__valid(n->message, 0, st->cfg.max_content) ||
        !sb_store__valid_opt(n->data, 1, SB_STORE_MAX_JSON))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_notif_create, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.notif = cb;
    r->i[0] = n->created_at_ms;
    return sb_store__submit(
        st, r,
        sb_store__str(r, 0, n->user_id, false) && sb_store__str(r, 1, n->type, false) &&
            sb_store__str(r, 2, n->title, false) && sb_store__str(r, 3, n->message, false) &&
            sb_store__str(r, 4, n->data, true));
}

/* Shared shape of "user + limit" page requests. */
static int submit_user_page(sb_store_t *st, const sb_store__op_t *op, sb_str_t user, int64_t flag,
                            int limit, sb_store_notifications_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) || limit < 1 || limit > SB_STORE_MAX_PAGE)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(op, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.notifs = cb;
    r->i[0] = flag;
    r->i[1] = limit;
    return sb_store__submit(st, r, sb_store__str(r, 0, user, false));
}

int sb_store_notification_list(sb_store_t *st, sb_str_t user, bool unread_only, int limit,
                               sb_store_notifications_cb cb, void *ud) {
    return submit_user_page(st, &op_notif_list, user, unread_only, limit, cb, ud);
}

int sb_store_notification_undelivered(sb_store_t *st, sb_str_t user, int64_t after_id, int limit,
                                      sb_store_notifications_cb cb, void *ud) {
    if (after_id < 0)
        return SB_EINVAL;
    return submit_user_page(st, &op_notif_undelivered, user, after_id, limit, cb, ud);
}

int sb_store_notification_delivered_upto(sb_store_t *st, sb_str_t user, int64_t upto_id,
                                         sb_store_done_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) || upto_id < 0)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_notif_delivered_upto, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.done = cb;
    r->i[0] = upto_id;
    return sb_store__submit(st, r, sb_store__str(r, 0, user, false));
}

int sb_store_notification_mark_read(sb_store_t *st, sb_str_t user, int64_t id, sb_store_done_cb cb,
                                    void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_notif_mark_read, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.done = cb;
    r->i[0] = id;
    return sb_store__submit(st, r, sb_store__str(r, 0, user, false));
}

int sb_store_notification_mark_delivered(sb_store_t *st, sb_str_t user, const int64_t *ids,
                                         size_t n, sb_store_done_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) || !ids || n < 1 || n > SB_STORE_MAX_LIST)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_notif_mark_delivered, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.done = cb;
    return sb_store__submit(st, r, sb_store__str(r, 0, user, false) && sb_store__idlist(r, ids, n));
}

/* ---- friends ------------------------------------------------------------------------ */

/* Runs a two-user lookup; returns SB_OK when a row exists, SB_ENOTFOUND if not. */
static int pair_lookup(sb_store_t *st, sb_store__sql_t id, const sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, id);
    if (!s)
        return SB_EIO;
    sb_store__bind_slots(s, r, 2);
    return sb_store__step_one(st, s);
}

/* s0 from, s1 to; i0 created_at_ms. */
static int exec_friend_request(sb_store_t *st, sb_store__req_t *r) {
    int rc = pair_lookup(st, SB_SQL_FRIEND_CHECK, r);
    if (rc == SB_ENOTFOUND)
        rc = pair_lookup(st, SB_SQL_FRIEND_PENDING, r);
    if (rc != SB_ENOTFOUND)
        return rc == SB_OK ? SB_EEXISTS : rc;
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_FRIEND_REQ_INSERT);
    if (!s)
        return SB_EIO;
    sb_store__bind_slots(s, r, 2);
    sqlite3_bind_int64(s, 3, r->i[0]);
    rc = sb_store__exec(st, s);
    r->res.freq = (sb_store_friend_request_t){sqlite3_last_insert_rowid(st->db), r->s[0], r->s[1],
                                              "pending", r->i[0]};
    return rc;
}

static int read_friend_request(sb_store_t *st, sb_store__req_t *r, int64_t id) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_FRIEND_REQ_GET);
    if (!s)
        return SB_EIO;
    sqlite3_bind_int64(s, 1, id);
    int rc = sb_store__step_one(st, s);
    if (rc != SB_OK)
        return rc;
    bool oom = false;
    sb_store_friend_request_t *f = &r->res.freq;
    f->id = sqlite3_column_int64(s, 0);
    f->from_id = sb_store__col(r, s, 1, &oom);
    f->to_id = sb_store__col(r, s, 2, &oom);
    f->status = sb_store__col(r, s, 3, &oom);
    f->created_at_ms = sqlite3_column_int64(s, 4);
    sqlite3_reset(s);
    return oom ? SB_ENOMEM : SB_OK;
}

static int insert_friendship(sb_store_t *st, const char *a, const char *b, int64_t now) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_FRIEND_INSERT);
    if (!s)
        return SB_EIO;
    sb_store__bind_cstr(s, 1, a);
    sb_store__bind_cstr(s, 2, b);
    sqlite3_bind_int64(s, 3, now);
    return sb_store__exec(st, s);
}

/* s0 by_user; i0 request id, i1 now. */
static int exec_friend_accept(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_FRIEND_ACCEPT);
    if (!s)
        return SB_EIO;
    sqlite3_bind_int64(s, 1, r->i[0]);
    sb_store__bind_s(s, 2, r, 0);
    int rc = sb_store__exec(st, s);
    if (rc == SB_OK && sqlite3_changes(st->db) == 0)
        return SB_ENOTFOUND;
    if (rc == SB_OK)
        rc = read_friend_request(st, r, r->i[0]);
    const sb_store_friend_request_t *f = &r->res.freq;
    if (rc == SB_OK)
        rc = insert_friendship(st, f->from_id, f->to_id, r->i[1]);
    if (rc == SB_OK)
        rc = insert_friendship(st, f->to_id, f->from_id, r->i[1]);
    return rc;
}

/* s0 user. */
static int exec_friend_list(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_FRIEND_LIST);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    return sb_store__collect_strs(st, r, s, &r->res.strs);
}

/* s0 a, s1 b. */
static int exec_friend_check(sb_store_t *st, sb_store__req_t *r) {
    int rc = pair_lookup(st, SB_SQL_FRIEND_CHECK, r);
    r->res.yes = rc == SB_OK;
    return rc == SB_ENOTFOUND ? SB_OK : rc;
}

static const sb_store__op_t op_friend_request = {"friend_request", true, SB_STORE__K_FRIEND_REQ,
                                                 exec_friend_request};
static const sb_store__op_t op_friend_accept = {"friend_accept", true, SB_STORE__K_FRIEND_REQ,
                                                exec_friend_accept};
static const sb_store__op_t op_friend_list = {"friend_list", false, SB_STORE__K_STRS,
                                              exec_friend_list};
static const sb_store__op_t op_friend_check = {"friend_check", false, SB_STORE__K_BOOL,
                                               exec_friend_check};

/* Allocates a request for op with a in slot 0 and b in slot 1; *copied
 * tells whether both copies succeeded. NULL when out of memory. */
static sb_store__req_t *pair_req(const sb_store__op_t *op, sb_str_t a, sb_str_t b, void *ud,
                                 bool *copied) {
    sb_store__req_t *r = sb_store__req_new(op, ud);
    if (r)
        *copied = sb_store__str(r, 0, a, false) && sb_store__str(r, 1, b, false);
    return r;
}

int sb_store_friend_request(sb_store_t *st, sb_str_t from, sb_str_t to,
                            sb_store_friend_request_cb cb, void *ud) {
    if (!sb_store__valid(from, 1, SB_STORE_MAX_ID) || !sb_store__valid(to, 1, SB_STORE_MAX_ID) ||
        sb_str_eq(from, to))
        return SB_EINVAL;
    bool copied = false;
    sb_store__req_t *r = pair_req(&op_friend_request, from, to, ud, &copied);
    if (!r)
        return SB_ENOMEM;
    r->cb.freq = cb;
    r->i[0] = sb_wall_ms();
    return sb_store__submit(st, r, copied);
}

int sb_store_friend_accept(sb_store_t *st, int64_t request_id, sb_str_t by_user,
                           sb_store_friend_request_cb cb, void *ud) {
    if (!sb_store__valid(by_user, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_friend_accept, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.freq = cb;
    r->i[0] = request_id;
    r->i[1] = sb_wall_ms();
    return sb_store__submit(st, r, sb_store__str(r, 0, by_user, false));
}

int sb_store_friend_list(sb_store_t *st, sb_str_t user, sb_store_strs_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_friend_list, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.strs = cb;
    return sb_store__submit(st, r, sb_store__str(r, 0, user, false));
}

int sb_store_friend_check(sb_store_t *st, sb_str_t a, sb_str_t b, sb_store_bool_cb cb, void *ud) {
    if (!sb_store__valid(a, 1, SB_STORE_MAX_ID) || !sb_store__valid(b, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    bool copied = false;
    sb_store__req_t *r = pair_req(&op_friend_check, a, b, ud, &copied);
    if (!r)
        return SB_ENOMEM;
    r->cb.yes = cb;
    return sb_store__submit(st, r, copied);
}

/* ---- posts -------------------------------------------------------------------------------- */

/* Reads post s0's owner into *owner; SB_ENOTFOUND for an unknown post. */
static int post_owner(sb_store_t *st, sb_store__req_t *r, const char **owner) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_POST_GET);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    int rc = sb_store__step_one(st, s);
    bool oom = false;
    if (rc == SB_OK)
        *owner = sb_store__col(r, s, 1, &oom);
    sqlite3_reset(s);
    return oom ? SB_ENOMEM : rc;
}

/* s0 id, s1 owner. */
static int exec_post_register(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_POST_UPSERT);
    if (!s)
        return SB_EIO;
    sb_store__bind_slots(s, r, 2);
    return sb_store__exec(st, s);
}

/* s0 id. */
static int exec_post_get(sb_store_t *st, sb_store__req_t *r) {
    r->res.post.id = r->s[0];
    return post_owner(st, r, &r->res.post.owner_id);
}

static int collect_reactions(sb_store_t *st, sb_store__req_t *r, sqlite3_stmt *s) {
    sb_store_reactions_t *out = &r->res.reactions;
    sb_store_reaction_count_t *v = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    int rc;
    out->total = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (!(v = sb_store__grow(r, v, &cap, n, sizeof *v)))
            return SB_ENOMEM;
        v[n].type = sb_store__col(r, s, 0, &oom);
        v[n].count = sqlite3_column_int64(s, 1);
        out->total += v[n++].count;
        if (oom)
            return SB_ENOMEM;
    }
    if (rc != SQLITE_DONE)
        return sb_store__err(st, rc);
    out->v = v;
    out->n = n;
    return SB_OK;
}

/* s0 post_id, s1 user, s2 type. */
static int exec_post_react(sb_store_t *st, sb_store__req_t *r) {
    r->res.reactions.post_id = r->s[0];
    int rc = post_owner(st, r, &r->res.reactions.owner_id);
    if (rc != SB_OK)
        return rc;
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_REACT_UPSERT);
    if (!s)
        return SB_EIO;
    sb_store__bind_slots(s, r, 3);
    if ((rc = sb_store__exec(st, s)) != SB_OK)
        return rc;
    if (!(s = sb_store__stmt(st, SB_SQL_REACT_COUNTS)))
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    return collect_reactions(st, r, s);
}

/* s0 post_id, s1 user, s2 content; i0 created_at_ms. */
static int exec_post_comment(sb_store_t *st, sb_store__req_t *r) {
    sb_store_comment_t *c = &r->res.comment;
    int rc = post_owner(st, r, &c->owner_id);
    if (rc != SB_OK)
        return rc;
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_COMMENT_INSERT);
    if (!s)
        return SB_EIO;
    sb_store__bind_slots(s, r, 3);
    sqlite3_bind_int64(s, 4, r->i[0]);
    rc = sb_store__exec(st, s);
    c->id = sqlite3_last_insert_rowid(st->db);
    c->post_id = r->s[0];
    c->user_id = r->s[1];
    c->content = r->s[2];
    c->created_at_ms = r->i[0];
    return rc;
}

static const sb_store__op_t op_post_register = {"post_register", true, SB_STORE__K_DONE,
                                                exec_post_register};
static const sb_store__op_t op_post_get = {"post_get", false, SB_STORE__K_POST, exec_post_get};
static const sb_store__op_t op_post_react = {"post_react", true, SB_STORE__K_REACTIONS,
                                             exec_post_react};
static const sb_store__op_t op_post_comment = {"post_comment", true, SB_STORE__K_COMMENT,
                                               exec_post_comment};

int sb_store_post_register(sb_store_t *st, sb_str_t id, sb_str_t owner, sb_store_done_cb cb,
                           void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_ID) || !sb_store__valid(owner, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    bool copied = false;
    sb_store__req_t *r = pair_req(&op_post_register, id, owner, ud, &copied);
    if (!r)
        return SB_ENOMEM;
    r->cb.done = cb;
    return sb_store__submit(st, r, copied);
}

int sb_store_post_get(sb_store_t *st, sb_str_t id, sb_store_post_cb cb, void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_post_get, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.post = cb;
    return sb_store__submit(st, r, sb_store__str(r, 0, id, false));
}

int sb_store_post_react(sb_store_t *st, sb_str_t post_id, sb_str_t user, sb_str_t type,
                        sb_store_reactions_cb cb, void *ud) {
    if (!sb_store__valid(post_id, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(user, 1, SB_STORE_MAX_ID) || !sb_store__valid(type, 1, SB_STORE_MAX_NAME))
        return SB_EINVAL;
    bool copied = false;
    sb_store__req_t *r = pair_req(&op_post_react, post_id, user, ud, &copied);
    if (!r)
        return SB_ENOMEM;
    r->cb.reactions = cb;
    return sb_store__submit(st, r, copied && sb_store__str(r, 2, type, false));
}

int sb_store_post_comment(sb_store_t *st, sb_str_t post_id, sb_str_t user, sb_str_t content,
                          int64_t created_at_ms, sb_store_comment_cb cb, void *ud) {
    if (!sb_store__valid(post_id, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(user, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(content, 1, st->cfg.max_content))
        return SB_EINVAL;
    bool copied = false;
    sb_store__req_t *r = pair_req(&op_post_comment, post_id, user, ud, &copied);
    if (!r)
        return SB_ENOMEM;
    r->cb.comment = cb;
    r->i[0] = created_at_ms;
    return sb_store__submit(st, r, copied && sb_store__str(r, 2, content, false));
}

/* ---- documents ------------------------------------------------------------------------------ */

/* s0 doc_id, s1 user, s2 changes; i0 created_at_ms. Versions are numbered
 * under the batch's write lock, so two edits can never share a number. */
static int exec_doc_add(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_DOC_NEXT);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    int rc = sb_store__step_one(st, s);
    if (rc != SB_OK)
        return rc == SB_ENOTFOUND ? SB_EIO : rc; /* an aggregate always has a row */
    int64_t version = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (!(s = sb_store__stmt(st, SB_SQL_DOC_INSERT)))
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    sqlite3_bind_int64(s, 2, version);
    sb_store__bind_s(s, 3, r, 1);
    sb_store__bind_s(s, 4, r, 2);
    sqlite3_bind_int64(s, 5, r->i[0]);
    rc = sb_store__exec(st, s); /* SB_EINVAL: changes is not JSON */
    r->res.doc = (sb_store_doc_version_t){r->s[0], version, r->s[1], r->s[2], r->i[0]};
    return rc;
}

/* s0 doc_id. */
static int exec_doc_latest(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_DOC_LATEST);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    int rc = sb_store__step_one(st, s);
    if (rc != SB_OK)
        return rc;
    bool oom = false;
    sb_store_doc_version_t *d = &r->res.doc;
    d->doc_id = sb_store__col(r, s, 0, &oom);
    d->version = sqlite3_column_int64(s, 1);
    d->user_id = sb_store__col(r, s, 2, &oom);
    d->changes = sb_store__col(r, s, 3, &oom);
    d->created_at_ms = sqlite3_column_int64(s, 4);
    return oom ? SB_ENOMEM : SB_OK;
}

static const sb_store__op_t op_doc_add = {"doc_version_add", true, SB_STORE__K_DOC, exec_doc_add};
static const sb_store__op_t op_doc_latest = {"doc_latest", false, SB_STORE__K_DOC, exec_doc_latest};

int sb_store_doc_version_add(sb_store_t *st, sb_str_t doc_id, sb_str_t user, sb_str_t changes,
                             int64_t created_at_ms, sb_store_doc_version_cb cb, void *ud) {
    if (!sb_store__valid(doc_id, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(user, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(changes, 1, st->cfg.max_content))
        return SB_EINVAL;
    bool copied = false;
    sb_store__req_t *r = pair_req(&op_doc_add, doc_id, user, ud, &copied);
    if (!r)
        return SB_ENOMEM;
    r->cb.doc = cb;
    r->i[0] = created_at_ms;
    return sb_store__submit(st, r, copied && sb_store__str(r, 2, changes, false));
}

int sb_store_doc_latest(sb_store_t *st, sb_str_t doc_id, sb_store_doc_version_cb cb, void *ud) {
    if (!sb_store__valid(doc_id, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_doc_latest, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.doc = cb;
    return sb_store__submit(st, r, sb_store__str(r, 0, doc_id, false));
}
