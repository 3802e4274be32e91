/* Helpers the operations use over the statement interface: running a
 * statement, reading one row, copying columns into the request's arena.
 * Nothing here knows which backend runs the statements. */
#include "store/store_internal.h"

#include <string.h>

#include "core/err.h"

sb_store__q_t *sb_store__q(sb_store_t *st, sb_store__sql_t id) {
    return st->pg ? sb_store__pg_q(st, id) : sb_store__lite_q(st, id);
}

sb_store__q_t *sb_store__q_user_page(sb_store_t *st, sb_store__sql_t id, sb_str_t user, int64_t p2,
                                     int64_t p3) {
    sb_store__q_t *q = sb_store__q(st, id);
    if (q) {
        sb_store__bind_str(q, 1, user);
        sb_store__bind_int(q, 2, p2);
        sb_store__bind_int(q, 3, p3);
    }
    return q;
}

int sb_store__exec(sb_store__q_t *q) {
    int rc = sb_store__step(q);
    q->ops->reset(q);
    return rc == SB_STORE__ROW || rc == SB_STORE__DONE ? SB_OK : rc;
}

int sb_store__step_one(sb_store__q_t *q) {
    int rc = sb_store__step(q);
    if (rc == SB_STORE__ROW)
        return SB_OK;
    return rc == SB_STORE__DONE ? SB_ENOTFOUND : rc;
}

const char *sb_store__col(sb_store__req_t *r, sb_store__q_t *q, int col, bool *oom) {
    if (q->ops->is_null(q, col))
        return NULL;
    size_t n = 0;
    const char *t = q->ops->col_text(q, col, &n);
    char *p = t ? sb_store__alloc(r, n + 1) : NULL;
    if (!p) {
        *oom = true;
        return NULL;
    }
    memcpy(p, t, n);
    p[n] = '\0';
    return p;
}

int sb_store__collect_strs(sb_store__req_t *r, sb_store__q_t *q, sb_store_strs_t *out) {
    const char **v = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    int rc;
    while ((rc = sb_store__step(q)) == SB_STORE__ROW) {
        v = sb_store__grow(r, v, &cap, n, sizeof *v);
        if (!v)
            return SB_ENOMEM;
        v[n++] = sb_store__col(r, q, 0, &oom);
        if (oom)
            return SB_ENOMEM;
    }
    if (rc != SB_STORE__DONE)
        return rc;
    out->v = v;
    out->n = n;
    return SB_OK;
}

int sb_store__exec_per_id(sb_store_t *st, sb_store__sql_t which, sb_str_t user, const int64_t *ids,
                          size_t n) {
    sb_store__q_t *q = sb_store__q(st, which);
    if (!q)
        return SB_EIO;
    int rc = SB_OK;
    for (size_t i = 0; i < n && rc == SB_OK; i++) {
        sb_store__bind_str(q, 1, user);
        sb_store__bind_int(q, 2, ids[i]);
        rc = sb_store__exec(q);
    }
    return rc;
}

int sb_store__lock(sb_store_t *st, sb_store__lock_t kind, sb_str_t a, sb_str_t b) {
    if (!st->pg)
        return SB_OK;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_KEY_LOCK);
    if (!q)
        return SB_EIO;
    sb_store__bind_int(q, 1, kind);
    sb_store__bind_str(q, 2, a);
    sb_store__bind_str(q, 3, b.p ? b : (sb_str_t){"", 0});
    return sb_store__exec(q);
}

/* Here rather than in store_chat.c: store_keys.c replays a message too. */
bool sb_store__read_msg(sb_store__req_t *r, sb_store__q_t *q, sb_store_msg_t *m) {
    bool oom = false;
    m->id = sb_store__col_int(q, 0);
    m->room = sb_store__col(r, q, 1, &oom);
    m->sender_id = sb_store__col(r, q, 2, &oom);
    m->content = sb_store__col(r, q, 3, &oom);
    m->type = sb_store__col(r, q, 4, &oom);
    m->created_at_ms = sb_store__col_int(q, 5);
    m->sender_name = sb_store__col(r, q, 6, &oom); /* NULL when unknown */
    return !oom;
}
