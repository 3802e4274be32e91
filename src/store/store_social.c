/* Notifications, friends, posts and documents: submit functions (loop
 * thread) next to their exec functions (store thread), as in store_chat.c. */
#include "store/store_internal.h"

#include "core/err.h"

/* ---- notifications ---------------------------------------------------------- */

static bool read_notification(sb_store__req_t *r, sb_store__q_t *q, sb_store_notification_t *n) {
    bool oom = false;
    n->id = sb_store__col_int(q, 0);
    n->user_id = sb_store__col(r, q, 1, &oom);
    n->type = sb_store__col(r, q, 2, &oom);
    n->title = sb_store__col(r, q, 3, &oom);
    n->message = sb_store__col(r, q, 4, &oom);
    n->data = sb_store__col(r, q, 5, &oom);
    n->is_read = sb_store__col_int(q, 6) != 0;
    n->created_at_ms = sb_store__col_int(q, 7);
    return !oom;
}

static int collect_notifications(sb_store__req_t *r, sb_store__q_t *q, int64_t limit) {
    sb_store_notification_t *v = sb_store__alloc(r, (size_t)limit * sizeof *v);
    if (!v)
        return SB_ENOMEM;
    size_t n = 0;
    int rc;
    while ((rc = sb_store__step(q)) == SB_STORE__ROW && n < (size_t)limit)
        if (!read_notification(r, q, &v[n++]))
            return SB_ENOMEM;
    if (rc < 0)
        return rc;
    r->res.NOTIFS = (sb_store_notifications_t){.v = v, .n = n};
    return SB_OK;
}

/* On PostgreSQL after the appends' lock, which returns the user's previous
 * notification too (see sb_store_msg_t's recipient_prev). */
int sb_store__exec_notification_create(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__notification_create_args_t *a = &r->args.notification_create;
    int rc = sb_store__lock_appends(st);
    sb_store__q_t *q = rc == SB_OK ? sb_store__q(st, SB_SQL_NOTIF_INSERT) : NULL;
    if (!q)
        return rc == SB_OK ? SB_EIO : rc;
    sb_store__bind_str(q, 1, a->user);
    sb_store__bind_str(q, 2, a->type);
    sb_store__bind_str(q, 3, a->title);
    sb_store__bind_str(q, 4, a->message);
    sb_store__bind_str(q, 5, a->data);
    sb_store__bind_int(q, 6, a->created_at_ms);
    int64_t id = 0, prev = 0;
    if (st->pg) {
        rc = sb_store__step(q); /* SB_EINVAL: data is not JSON */
        if (rc != SB_STORE__ROW)
            return rc < 0 ? rc : SB_EIO;
        id = sb_store__col_int(q, 0);
        prev = sb_store__col_int(q, 1);
    } else if ((rc = sb_store__exec(q)) == SB_OK) { /* SB_EINVAL: data is not JSON */
        id = sb_store__last_id(q);
    }
    r->res.NOTIF = (sb_store_notification_t){.id = id,
                                             .user_id = a->user.p,
                                             .type = a->type.p,
                                             .title = a->title.p,
                                             .message = a->message.p,
                                             .data = a->data.p,
                                             .created_at_ms = a->created_at_ms,
                                             .prev = prev};
    return rc == SB_STORE__ROW ? SB_OK : rc;
}

int sb_store__exec_notification_list(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__notification_list_args_t *a = &r->args.notification_list;
    sb_store__q_t *q =
        sb_store__q_user_page(st, SB_SQL_NOTIF_LIST, a->user, a->unread_only, a->limit);
    return q ? collect_notifications(r, q, a->limit) : SB_EIO;
}

/* The user_id condition is what keeps other users' rows safe. */
int sb_store__exec_notification_mark_read(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__notification_mark_read_args_t *a = &r->args.notification_mark_read;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_NOTIF_READ);
    if (!q)
        return SB_EIO;
    sb_store__bind_int(q, 1, a->id);
    sb_store__bind_str(q, 2, a->user);
    int rc = sb_store__exec(q);
    return rc == SB_OK && sb_store__changes(q) == 0 ? SB_ENOTFOUND : rc;
}

int sb_store__exec_notification_undelivered(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__user_page_args_t *a = &r->args.notification_undelivered;
    int64_t newest;
    int rc;
    sb_store__q_t *q = sb_store__q_pending_page(st, SB_SQL_NOTIF_NEWEST, SB_SQL_NOTIF_UNDELIVERED,
                                                a, &newest, &rc);
    if (!q)
        return rc;
    rc = collect_notifications(r, q, a->limit);
    r->res.NOTIFS.newest = newest;
    return rc;
}

int sb_store__exec_notification_mark_delivered(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__user_ids_args_t *a = &r->args.notification_mark_delivered;
    return sb_store__exec_per_id(st, r, SB_SQL_NOTIF_DELIVERED, a);
}

int sb_store__exec_notification_delivered_upto(sb_store_t *st, sb_store__req_t *r) {
    return sb_store__exec_upto(st, SB_SQL_NOTIF_DELIVERED_UPTO,
                               &r->args.notification_delivered_upto);
}

int sb_store_notification_create(sb_store_t *st, const sb_store_notification_in_t *n,
                                 sb_store_notification_cb cb, void *ud) {
    if (!n || !sb_store__valid(n->user_id, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(n->type, 1, SB_STORE_MAX_NAME) ||
        !sb_store__valid(n->title, 0, SB_STORE_MAX_TITLE) ||
        !sb_store__valid(n->message, 0, st->cfg.max_content) ||
        !sb_store__valid_opt(n->data, 1, SB_STORE_MAX_JSON))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_notification_create(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__notification_create_args_t *a = &r->args.notification_create;
    a->created_at_ms = n->created_at_ms;
    return sb_store__submit(st, r,
                            sb_store__copy(r, &a->user, n->user_id, false) &&
                                sb_store__copy(r, &a->type, n->type, false) &&
                                sb_store__copy(r, &a->title, n->title, false) &&
                                sb_store__copy(r, &a->message, n->message, false) &&
                                sb_store__copy(r, &a->data, n->data, true));
}

int sb_store_notification_list(sb_store_t *st, sb_str_t user, bool unread_only, int limit,
                               sb_store_notifications_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) || limit < 1 || limit > SB_STORE_MAX_PAGE)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_notification_list(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__notification_list_args_t *a = &r->args.notification_list;
    a->unread_only = unread_only;
    a->limit = limit;
    return sb_store__submit(st, r, sb_store__copy(r, &a->user, user, false));
}

int sb_store_notification_undelivered(sb_store_t *st, sb_str_t user, int64_t after_id, int limit,
                                      sb_store_notifications_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) || after_id < 0 || limit < 1 ||
        limit > SB_STORE_MAX_PAGE)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_notification_undelivered(cb, ud);
    return sb_store__submit_user_page(st, r, r ? &r->args.notification_undelivered : NULL, user,
                                      after_id, limit);
}

int sb_store_notification_delivered_upto(sb_store_t *st, sb_str_t user, int64_t upto_id,
                                         sb_store_done_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) || upto_id < 0)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_notification_delivered_upto(cb, ud);
    return sb_store__submit_upto(st, r, r ? &r->args.notification_delivered_upto : NULL, user,
                                 upto_id);
}

int sb_store_notification_mark_read(sb_store_t *st, sb_str_t user, int64_t id, sb_store_done_cb cb,
                                    void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_notification_mark_read(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__notification_mark_read_args_t *a = &r->args.notification_mark_read;
    a->id = id;
    return sb_store__submit(st, r, sb_store__copy(r, &a->user, user, false));
}

int sb_store_notification_mark_delivered(sb_store_t *st, sb_str_t user, const int64_t *ids,
                                         size_t n, sb_store_done_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) || !ids || n < 1 || n > SB_STORE_MAX_LIST)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_notification_mark_delivered(cb, ud);
    return sb_store__submit_user_ids(st, r, r ? &r->args.notification_mark_delivered : NULL, user,
                                     ids, n);
}

/* ---- friends ---------------------------------------------------------------------------- */

/* Runs a two-user lookup; returns SB_OK when a row exists, SB_ENOTFOUND if not.
 */
static int pair_lookup(sb_store_t *st, sb_store__sql_t id, const sb_store__friend_pair_args_t *a) {
    sb_store__q_t *q = sb_store__q(st, id);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, a->a);
    sb_store__bind_str(q, 2, a->b);
    return sb_store__step_one(q);
}

int sb_store__exec_friend_request(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__friend_pair_args_t *a = &r->args.friend_request;
    /* The pair's lock (either direction) makes check-then-insert atomic
     * across servers: never two pending requests between two users. */
    int rc = sb_store__lock(st, SB_STORE__LOCK_PAIR, a->a, a->b);
    if (rc != SB_OK)
        return rc;
    rc = pair_lookup(st, SB_SQL_FRIEND_CHECK, a);
    if (rc == SB_ENOTFOUND)
        rc = pair_lookup(st, SB_SQL_FRIEND_PENDING, a);
    if (rc != SB_ENOTFOUND)
        return rc == SB_OK ? SB_EEXISTS : rc;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_FRIEND_REQ_INSERT);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, a->a);
    sb_store__bind_str(q, 2, a->b);
    sb_store__bind_int(q, 3, a->created_at_ms);
    rc = sb_store__exec(q);
    r->res.FRIEND_REQ = (sb_store_friend_request_t){sb_store__last_id(q), a->a.p, a->b.p, "pending",
                                                    a->created_at_ms};
    return rc;
}

static int read_friend_request(sb_store_t *st, sb_store__req_t *r, int64_t id) {
    sb_store__q_t *q = sb_store__q(st, SB_SQL_FRIEND_REQ_GET);
    if (!q)
        return SB_EIO;
    sb_store__bind_int(q, 1, id);
    int rc = sb_store__step_one(q);
    if (rc != SB_OK)
        return rc;
    bool oom = false;
    sb_store_friend_request_t *f = &r->res.FRIEND_REQ;
    f->id = sb_store__col_int(q, 0);
    f->from_id = sb_store__col(r, q, 1, &oom);
    f->to_id = sb_store__col(r, q, 2, &oom);
    f->status = sb_store__col(r, q, 3, &oom);
    f->created_at_ms = sb_store__col_int(q, 4);
    q->ops->reset(q);
    return oom ? SB_ENOMEM : SB_OK;
}

static int insert_friendship(sb_store_t *st, const char *a, const char *b, int64_t now) {
    sb_store__q_t *q = sb_store__q(st, SB_SQL_FRIEND_INSERT);
    if (!q)
        return SB_EIO;
    sb_store__bind_cstr(q, 1, a);
    sb_store__bind_cstr(q, 2, b);
    sb_store__bind_int(q, 3, now);
    return sb_store__exec(q);
}

int sb_store__exec_friend_accept(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__friend_accept_args_t *a = &r->args.friend_accept;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_FRIEND_ACCEPT);
    if (!q)
        return SB_EIO;
    sb_store__bind_int(q, 1, a->request_id);
    sb_store__bind_str(q, 2, a->by_user);
    int rc = sb_store__exec(q);
    if (rc == SB_OK && sb_store__changes(q) == 0)
        return SB_ENOTFOUND;
    if (rc == SB_OK)
        rc = read_friend_request(st, r, a->request_id);
    const sb_store_friend_request_t *f = &r->res.FRIEND_REQ;
    if (rc == SB_OK)
        rc = insert_friendship(st, f->from_id, f->to_id, a->now_ms);
    if (rc == SB_OK)
        rc = insert_friendship(st, f->to_id, f->from_id, a->now_ms);
    return rc;
}

int sb_store__exec_friend_list(sb_store_t *st, sb_store__req_t *r) {
    sb_store__q_t *q = sb_store__q(st, SB_SQL_FRIEND_LIST);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, r->args.friend_list.id);
    return sb_store__collect_strs(r, q, &r->res.STRS);
}

int sb_store__exec_friend_check(sb_store_t *st, sb_store__req_t *r) {
    int rc = pair_lookup(st, SB_SQL_FRIEND_CHECK, &r->args.friend_check);
    r->res.BOOL = rc == SB_OK;
    return rc == SB_ENOTFOUND ? SB_OK : rc;
}

/* Fills a friend_pair request (r may be NULL: SB_ENOMEM). */
static int submit_pair(sb_store_t *st, sb_store__req_t *r, sb_store__friend_pair_args_t *a,
                       sb_str_t x, sb_str_t y) {
    if (!r)
        return SB_ENOMEM;
    a->created_at_ms = sb_wall_ms();
    return sb_store__submit(
        st, r, sb_store__copy(r, &a->a, x, false) && sb_store__copy(r, &a->b, y, false));
}

int sb_store_friend_request(sb_store_t *st, sb_str_t from, sb_str_t to,
                            sb_store_friend_request_cb cb, void *ud) {
    if (!sb_store__valid(from, 1, SB_STORE_MAX_ID) || !sb_store__valid(to, 1, SB_STORE_MAX_ID) ||
        sb_str_eq(from, to))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_friend_request(cb, ud);
    return submit_pair(st, r, r ? &r->args.friend_request : NULL, from, to);
}

int sb_store_friend_accept(sb_store_t *st, int64_t request_id, sb_str_t by_user,
                           sb_store_friend_request_cb cb, void *ud) {
    if (!sb_store__valid(by_user, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_friend_accept(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__friend_accept_args_t *a = &r->args.friend_accept;
    a->request_id = request_id;
    a->now_ms = sb_wall_ms();
    return sb_store__submit(st, r, sb_store__copy(r, &a->by_user, by_user, false));
}

int sb_store_friend_list(sb_store_t *st, sb_str_t user, sb_store_strs_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_friend_list(cb, ud);
    return sb_store__submit_lookup(st, r, r ? &r->args.friend_list : NULL, user);
}

int sb_store_friend_check(sb_store_t *st, sb_str_t a, sb_str_t b, sb_store_bool_cb cb, void *ud) {
    if (!sb_store__valid(a, 1, SB_STORE_MAX_ID) || !sb_store__valid(b, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_friend_check(cb, ud);
    return submit_pair(st, r, r ? &r->args.friend_check : NULL, a, b);
}

/* ---- posts ------------------------------------------------------------------------------ */

/* Reads the post's owner into *owner; SB_ENOTFOUND for an unknown post. */
static int post_owner(sb_store_t *st, sb_store__req_t *r, sb_str_t post, const char **owner) {
    sb_store__q_t *q = sb_store__q(st, SB_SQL_POST_GET);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, post);
    int rc = sb_store__step_one(q);
    bool oom = false;
    if (rc == SB_OK)
        *owner = sb_store__col(r, q, 1, &oom);
    q->ops->reset(q);
    return oom ? SB_ENOMEM : rc;
}

int sb_store__exec_post_register(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__post_register_args_t *a = &r->args.post_register;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_POST_UPSERT);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, a->id);
    sb_store__bind_str(q, 2, a->owner);
    return sb_store__exec(q);
}

int sb_store__exec_post_get(sb_store_t *st, sb_store__req_t *r) {
    r->res.POST.id = r->args.post_get.id.p;
    return post_owner(st, r, r->args.post_get.id, &r->res.POST.owner_id);
}

static int collect_reactions(sb_store__req_t *r, sb_store__q_t *q) {
    sb_store_reactions_t *out = &r->res.REACTIONS;
    sb_store_reaction_count_t *v = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    int rc;
    out->total = 0;
    while ((rc = sb_store__step(q)) == SB_STORE__ROW) {
        if (!(v = sb_store__grow(r, v, &cap, n, sizeof *v)))
            return SB_ENOMEM;
        v[n].type = sb_store__col(r, q, 0, &oom);
        v[n].count = sb_store__col_int(q, 1);
        out->total += v[n++].count;
        if (oom)
            return SB_ENOMEM;
    }
    if (rc != SB_STORE__DONE)
        return rc;
    out->v = v;
    out->n = n;
    return SB_OK;
}

int sb_store__exec_post_react(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__post_react_args_t *a = &r->args.post_react;
    r->res.REACTIONS.post_id = a->post_id.p;
    int rc = post_owner(st, r, a->post_id, &r->res.REACTIONS.owner_id);
    if (rc != SB_OK)
        return rc;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_REACT_UPSERT);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, a->post_id);
    sb_store__bind_str(q, 2, a->user);
    sb_store__bind_str(q, 3, a->type);
    if ((rc = sb_store__exec(q)) != SB_OK)
        return rc;
    if (!(q = sb_store__q(st, SB_SQL_REACT_COUNTS)))
        return SB_EIO;
    sb_store__bind_str(q, 1, a->post_id);
    return collect_reactions(r, q);
}

int sb_store__exec_post_comment(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__post_comment_args_t *a = &r->args.post_comment;
    sb_store_comment_t *c = &r->res.COMMENT;
    int rc = post_owner(st, r, a->post_id, &c->owner_id);
    if (rc != SB_OK)
        return rc;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_COMMENT_INSERT);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, a->post_id);
    sb_store__bind_str(q, 2, a->user);
    sb_store__bind_str(q, 3, a->content);
    sb_store__bind_int(q, 4, a->created_at_ms);
    rc = sb_store__exec(q);
    c->id = sb_store__last_id(q);
    c->post_id = a->post_id.p;
    c->user_id = a->user.p;
    c->content = a->content.p;
    c->created_at_ms = a->created_at_ms;
    return rc;
}

int sb_store_post_register(sb_store_t *st, sb_str_t id, sb_str_t owner, sb_store_done_cb cb,
                           void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_ID) || !sb_store__valid(owner, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_post_register(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__post_register_args_t *a = &r->args.post_register;
    return sb_store__submit(
        st, r, sb_store__copy(r, &a->id, id, false) && sb_store__copy(r, &a->owner, owner, false));
}

int sb_store_post_get(sb_store_t *st, sb_str_t id, sb_store_post_cb cb, void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_post_get(cb, ud);
    return sb_store__submit_lookup(st, r, r ? &r->args.post_get : NULL, id);
}

int sb_store_post_react(sb_store_t *st, sb_str_t post_id, sb_str_t user, sb_str_t type,
                        sb_store_reactions_cb cb, void *ud) {
    if (!sb_store__valid(post_id, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(user, 1, SB_STORE_MAX_ID) || !sb_store__valid(type, 1, SB_STORE_MAX_NAME))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_post_react(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__post_react_args_t *a = &r->args.post_react;
    return sb_store__submit(st, r,
                            sb_store__copy(r, &a->post_id, post_id, false) &&
                                sb_store__copy(r, &a->user, user, false) &&
                                sb_store__copy(r, &a->type, type, false));
}

int sb_store_post_comment(sb_store_t *st, sb_str_t post_id, sb_str_t user, sb_str_t content,
                          int64_t created_at_ms, sb_store_comment_cb cb, void *ud) {
    if (!sb_store__valid(post_id, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(user, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(content, 1, st->cfg.max_content))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_post_comment(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__post_comment_args_t *a = &r->args.post_comment;
    a->created_at_ms = created_at_ms;
    return sb_store__submit(st, r,
                            sb_store__copy(r, &a->post_id, post_id, false) &&
                                sb_store__copy(r, &a->user, user, false) &&
                                sb_store__copy(r, &a->content, content, false));
}

/* ---- documents -------------------------------------------------------------------------- */

/* Versions are numbered under the batch's write lock (SQLite) or the
 * document's lock (PostgreSQL, across servers), so two edits can never
 * share a number. */
/* The document's lock is a statement of its own: on PostgreSQL the next
 * version is read in a snapshot taken after the lock was granted, so it
 * sees the version another server committed meanwhile. */
int sb_store__exec_doc_version_add(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__doc_version_add_args_t *a = &r->args.doc_version_add;
    int rc = sb_store__lock(st, SB_STORE__LOCK_DOC, a->doc_id, SB_STR_NULL);
    sb_store__q_t *q = rc == SB_OK ? sb_store__q(st, SB_SQL_DOC_ADD) : NULL;
    if (!q)
        return rc == SB_OK ? SB_EIO : rc;
    sb_store__bind_str(q, 1, a->doc_id);
    sb_store__bind_str(q, 2, a->user);
    sb_store__bind_str(q, 3, a->changes);
    sb_store__bind_int(q, 4, a->created_at_ms);
    rc = sb_store__step_one(q); /* SB_EINVAL: changes is not JSON */
    int64_t version = rc == SB_OK ? sb_store__col_int(q, 0) : 0;
    q->ops->reset(q);
    if (rc != SB_OK)
        return rc == SB_ENOTFOUND ? SB_EIO : rc; /* an insert of an aggregate always has a row */
    r->res.DOC =
        (sb_store_doc_version_t){a->doc_id.p, version, a->user.p, a->changes.p, a->created_at_ms};
    return SB_OK;
}

int sb_store__exec_doc_latest(sb_store_t *st, sb_store__req_t *r) {
    sb_store__q_t *q = sb_store__q(st, SB_SQL_DOC_LATEST);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, r->args.doc_latest.id);
    int rc = sb_store__step_one(q);
    if (rc != SB_OK)
        return rc;
    bool oom = false;
    sb_store_doc_version_t *d = &r->res.DOC;
    d->doc_id = sb_store__col(r, q, 0, &oom);
    d->version = sb_store__col_int(q, 1);
    d->user_id = sb_store__col(r, q, 2, &oom);
    d->changes = sb_store__col(r, q, 3, &oom);
    d->created_at_ms = sb_store__col_int(q, 4);
    return oom ? SB_ENOMEM : SB_OK;
}

int sb_store_doc_version_add(sb_store_t *st, sb_str_t doc_id, sb_str_t user, sb_str_t changes,
                             int64_t created_at_ms, sb_store_doc_version_cb cb, void *ud) {
    if (!sb_store__valid(doc_id, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(user, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(changes, 1, st->cfg.max_content))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_doc_version_add(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__doc_version_add_args_t *a = &r->args.doc_version_add;
    a->created_at_ms = created_at_ms;
    return sb_store__submit(st, r,
                            sb_store__copy(r, &a->doc_id, doc_id, false) &&
                                sb_store__copy(r, &a->user, user, false) &&
                                sb_store__copy(r, &a->changes, changes, false));
}

int sb_store_doc_latest(sb_store_t *st, sb_str_t doc_id, sb_store_doc_version_cb cb, void *ud) {
    if (!sb_store__valid(doc_id, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_doc_latest(cb, ud);
    return sb_store__submit_lookup(st, r, r ? &r->args.doc_latest : NULL, doc_id);
}
