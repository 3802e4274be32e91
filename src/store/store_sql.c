/* Helpers the operations use over the statement interface: running a
 * statement, reading one row, copying columns into the request's arena.
 * Nothing here knows which backend runs the statements. */
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
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

sb_store__q_t *sb_store__q_pending_page(sb_store_t *st, sb_store__sql_t newest_sql,
                                        sb_store__sql_t page_sql,
                                        const sb_store__user_page_args_t *a, int64_t *newest,
                                        int *rc) {
    *newest = 0;
    *rc = SB_OK;
    if (st->pg) { /* first: the page's snapshot is then as new or newer */
        sb_store__q_t *q = sb_store__q(st, newest_sql);
        if (!q) {
            *rc = SB_EIO;
            return NULL;
        }
        sb_store__bind_str(q, 1, a->user);
        if ((*rc = sb_store__step_one(q)) != SB_OK)
            return NULL;
        *newest = sb_store__col_int(q, 0);
    }
    sb_store__q_t *q = sb_store__q_user_page(st, page_sql, a->user, a->limit, a->after_id);
    if (!q)
        *rc = SB_EIO;
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

int sb_store__exec_per_id(sb_store_t *st, sb_store__req_t *r, sb_store__sql_t which,
                          const sb_store__user_ids_args_t *a) {
    const char *ids = st->pg ? sb_store__pg_int_array(r, a->ids, a->n_ids) : NULL;
    sb_store__q_t *q = !st->pg || ids ? sb_store__q(st, which) : NULL;
    if (!q)
        return st->pg && !ids ? SB_ENOMEM : SB_EIO;
    if (ids) { /* PostgreSQL: the whole list at once */
        sb_store__bind_str(q, 1, a->user);
        sb_store__bind_cstr(q, 2, ids);
        return sb_store__exec(q);
    }
    int rc = SB_OK;
    for (size_t i = 0; i < a->n_ids && rc == SB_OK; i++) {
        sb_store__bind_str(q, 1, a->user);
        sb_store__bind_int(q, 2, a->ids[i]);
        rc = sb_store__exec(q);
    }
    return rc;
}

const char *sb_store__pg_text_array(sb_store__req_t *r, const char *const *v, size_t n) {
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(v[i]) + 3;
    char *out = sb_store__alloc(r, cap), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *c = v[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                *p++ = '\\';
            *p++ = *c;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

const char *sb_store__pg_int_array(sb_store__req_t *r, const int64_t *v, size_t n) {
    size_t cap = 3 + n * 21; /* "-9223372036854775808," */
    char *out = sb_store__alloc(r, cap), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++)
        p += snprintf(p, cap - (size_t)(p - out), "%s%lld", i ? "," : "", (long long)v[i]);
    snprintf(p, cap - (size_t)(p - out), "}");
    return out;
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

int sb_store__lock_appends(sb_store_t *st) {
    return sb_store__lock(st, SB_STORE__LOCK_APPENDS, SB_LIT("appends"), SB_STR_NULL);
}

/* Here rather than in store_chat.c: store_keys.c appends a message too. */
void sb_store__bind_msg_row(sb_store__q_t *q, const sb_store__message_append_args_t *a,
                            const char *recipients, int name_idx) {
    sb_store__bind_str(q, name_idx, a->sender_name); /* absent: NULL */
    sb_store__bind_str(q, 1, a->room);
    sb_store__bind_str(q, 2, a->sender_id);
    sb_store__bind_str(q, 3, a->content);
    sb_store__bind_str(q, 4, a->type);
    sb_store__bind_int(q, 5, a->created_at_ms);
    if (recipients)
        sb_store__bind_cstr(q, 6, recipients);
}

void sb_store__appended(sb_store__req_t *r, int64_t id) {
    const sb_store__message_append_args_t *a = &r->args.message_append;
    r->res.MSG = (sb_store_msg_t){.id = id,
                                  .room = a->room.p,
                                  .sender_id = a->sender_id.p,
                                  .content = a->content.p,
                                  .type = a->type.p,
                                  .created_at_ms = a->created_at_ms,
                                  .sender_name = a->sender_name.p};
}

/* "{1,0,7}": one id per recipient, or none when the text is not that
 * (a guessed result is ""). */
int sb_store__appended_prevs(sb_store__req_t *r, sb_store__q_t *q, int col) {
    size_t n = r->args.message_append.n_recipients;
    bool oom = false;
    const char *text = sb_store__col(r, q, col, &oom);
    int64_t *v = n ? sb_store__alloc(r, n * sizeof *v) : NULL;
    if (oom || (n && !v))
        return SB_ENOMEM;
    const char *p = text && text[0] == '{' ? text + 1 : NULL;
    for (size_t i = 0; p && i < n; i++) {
        char *end;
        v[i] = strtoll(p, &end, 10);
        p = end != p && (*end == ',' || *end == '}') ? end + 1 : NULL;
    }
    r->res.MSG.recipient_prev = p ? v : NULL;
    return SB_OK;
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
