/* SQLite helpers for the store thread: the prepared-statement cache, bind
 * and column helpers, and the mapping of SQLite errors to SB_ codes. */
#include "store/store_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

static const char *const sql_text[SB_SQL__COUNT] = {
#define SB_STORE__SQL_TEXT(name, sql) [SB_SQL_##name] = sql,
    SB_STORE__SQL(SB_STORE__SQL_TEXT)
#undef SB_STORE__SQL_TEXT
};

sqlite3_stmt *sb_store__stmt(sb_store_t *st, sb_store__sql_t id) {
    sqlite3_stmt *s = st->stmts[id];
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        return s;
    }
    int rc = sqlite3_prepare_v3(st->db, sql_text[id], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK) {
        sb_log_error("store: prepare failed: %s: %s", sqlite3_errmsg(st->db), sql_text[id]);
        return NULL;
    }
    st->stmts[id] = s;
    return s;
}

int sb_store__prepare_all(sb_store_t *st, char *err, size_t cap) {
    for (int i = 0; i < SB_SQL__COUNT; i++) {
        if (st->stmts[i])
            continue;
        int rc = sqlite3_prepare_v3(st->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &st->stmts[i], NULL);
        if (rc != SQLITE_OK) {
            snprintf(err, cap,
                     "store: schema check failed: %s (the database was changed outside "
                     "Switchboard: restore a backup)",
                     sqlite3_errmsg(st->db));
            return SB_EIO;
        }
    }
    return SB_OK;
}

void sb_store__stmts_reset(sb_store_t *st) {
    for (int i = 0; i < SB_SQL__COUNT; i++) {
        if (st->stmts[i]) {
            sqlite3_reset(st->stmts[i]);
            sqlite3_clear_bindings(st->stmts[i]);
        }
    }
}

void sb_store__stmts_finalize(sb_store_t *st) {
    for (int i = 0; i < SB_SQL__COUNT; i++) {
        sqlite3_finalize(st->stmts[i]); /* NULL is a no-op */
        st->stmts[i] = NULL;
    }
}

void sb_store__bind_s(sqlite3_stmt *s, int idx, const sb_store__req_t *r, int slot) {
    if (r->s[slot])
        sqlite3_bind_text(s, idx, r->s[slot], (int)r->sn[slot], SQLITE_STATIC);
    else
        sqlite3_bind_null(s, idx);
}

void sb_store__bind_slots(sqlite3_stmt *s, const sb_store__req_t *r, int n) {
    for (int i = 0; i < n; i++)
        sb_store__bind_s(s, i + 1, r, i);
}

void sb_store__bind_cstr(sqlite3_stmt *s, int idx, const char *p) {
    if (p)
        sqlite3_bind_text(s, idx, p, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, idx);
}

int sb_store__err(sb_store_t *st, int sqlite_rc) {
    switch (sqlite_rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return SB_EEXISTS;
    case SQLITE_CONSTRAINT_CHECK:
        return SB_EINVAL; /* e.g. json_valid() on stored JSON */
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return SB_ENOTFOUND;
    case SQLITE_NOMEM:
        return SB_ENOMEM;
    default:
        snprintf(st->last_error, sizeof st->last_error, "%s (sqlite %d)", sqlite3_errmsg(st->db),
                 sqlite_rc);
        sb_log_limited(&st->log_limit, SB_LOG_WARN, sqlite3_errstr(sqlite_rc),
                       "store: sqlite error %d (%s): %s", sqlite_rc, sqlite3_errstr(sqlite_rc),
                       sqlite3_errmsg(st->db));
        return SB_EIO;
    }
}

int sb_store__exec(sb_store_t *st, sqlite3_stmt *s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SB_OK : sb_store__err(st, rc);
}

const char *sb_store__col(sb_store__req_t *r, sqlite3_stmt *s, int col, bool *oom) {
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return NULL;
    const unsigned char *t = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    char *p = t ? sb_store__alloc(r, (size_t)n + 1) : NULL;
    if (!p) {
        *oom = true;
        return NULL;
    }
    memcpy(p, t, (size_t)n);
    p[n] = '\0';
    return p;
}

int sb_store__collect_strs(sb_store_t *st, sb_store__req_t *r, sqlite3_stmt *s,
                           sb_store_strs_t *out) {
    const char **v = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        v = sb_store__grow(r, v, &cap, n, sizeof *v);
        if (!v)
            return SB_ENOMEM;
        v[n++] = sb_store__col(r, s, 0, &oom);
        if (oom)
            return SB_ENOMEM;
    }
    if (rc != SQLITE_DONE)
        return sb_store__err(st, rc);
    out->v = v;
    out->n = n;
    return SB_OK;
}

int sb_store__step_one(sb_store_t *st, sqlite3_stmt *s) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return SB_OK;
    return rc == SQLITE_DONE ? SB_ENOTFOUND : sb_store__err(st, rc);
}

int sb_store__exec_per_id(sb_store_t *st, sb_store__req_t *r, sb_store__sql_t which) {
    sqlite3_stmt *s = sb_store__stmt(st, which);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    int rc = SB_OK;
    for (size_t i = 0; i < r->nids && rc == SB_OK; i++) {
        sqlite3_bind_int64(s, 2, r->ids[i]);
        rc = sb_store__exec(st, s);
    }
    return rc;
}
