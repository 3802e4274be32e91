/* The statement interface over SQLite: prepared statements cached per
 * connection, bound without copies, and SQLite's errors mapped to SB_ codes. */
#include "store/store_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

static const char *const sql_text[SB_SQL__COUNT] = {
#define SB_STORE__SQL_TEXT(name, sql, pg) [SB_SQL_##name] = sql,
    SB_STORE__SQL(SB_STORE__SQL_TEXT)
#undef SB_STORE__SQL_TEXT
};

static sqlite3_stmt *stmt_of(sb_store__q_t *q) { return ((sb_store__lite_q_t *)q)->s; }

/* The text is bound without a copy: see the interface. Binding a valid
 * index cannot fail otherwise, since the submit limits keep every length
 * far below SQLITE_LIMIT_LENGTH; so the result is not checked. */
static void bind_text(sb_store__q_t *q, int idx, const char *p, size_t n) {
    if (p)
        sqlite3_bind_text(stmt_of(q), idx, p, (int)n, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt_of(q), idx);
}

static void bind_int(sb_store__q_t *q, int idx, int64_t v) {
    sqlite3_bind_int64(stmt_of(q), idx, v);
}

static int step(sb_store__q_t *q) {
    int rc = sqlite3_step(stmt_of(q));
    if (rc == SQLITE_ROW)
        return SB_STORE__ROW;
    return rc == SQLITE_DONE ? SB_STORE__DONE
                             : sb_store__lite_err(((sb_store__lite_q_t *)q)->st, rc);
}

static void reset(sb_store__q_t *q) { sqlite3_reset(stmt_of(q)); }

static bool is_null(sb_store__q_t *q, int col) {
    return sqlite3_column_type(stmt_of(q), col) == SQLITE_NULL;
}

static int64_t col_int(sb_store__q_t *q, int col) { return sqlite3_column_int64(stmt_of(q), col); }

static const char *col_text(sb_store__q_t *q, int col, size_t *n) {
    const char *t = (const char *)sqlite3_column_text(stmt_of(q), col);
    *n = (size_t)sqlite3_column_bytes(stmt_of(q), col);
    return t;
}

static int64_t changes(sb_store__q_t *q) {
    return sqlite3_changes(((sb_store__lite_q_t *)q)->st->db);
}

static int64_t last_id(sb_store__q_t *q) {
    return sqlite3_last_insert_rowid(((sb_store__lite_q_t *)q)->st->db);
}

static const sb_store__q_ops_t lite_ops = {bind_text, bind_int, step,    reset,  is_null,
                                           col_int,   col_text, changes, last_id};

static int prepare(sb_store_t *st, int id) {
    sb_store__lite_q_t *q = &st->stmts[id];
    q->base.ops = &lite_ops;
    q->st = st;
    return sqlite3_prepare_v3(st->db, sql_text[id], -1, SQLITE_PREPARE_PERSISTENT, &q->s, NULL);
}

sb_store__q_t *sb_store__lite_q(sb_store_t *st, sb_store__sql_t id) {
    sb_store__lite_q_t *q = &st->stmts[id];
    if (q->s) {
        sqlite3_reset(q->s);
        sqlite3_clear_bindings(q->s);
        return &q->base;
    }
    if (prepare(st, id) != SQLITE_OK) {
        sb_log_error("store: prepare failed: %s: %s", sqlite3_errmsg(st->db), sql_text[id]);
        return NULL;
    }
    return &q->base;
}

int sb_store__lite_prepare_all(sb_store_t *st, char *err, size_t cap) {
    for (int i = 0; i < SB_SQL__COUNT; i++) {
        if (st->stmts[i].s)
            continue;
        if (prepare(st, i) != SQLITE_OK) {
            snprintf(err, cap,
                     "store: schema check failed: %s (the database was changed outside "
                     "Switchboard: restore a backup)",
                     sqlite3_errmsg(st->db));
            return SB_EIO;
        }
    }
    return SB_OK;
}

void sb_store__lite_reset_all(sb_store_t *st) {
    for (int i = 0; i < SB_SQL__COUNT; i++) {
        if (st->stmts[i].s) {
            sqlite3_reset(st->stmts[i].s);
            sqlite3_clear_bindings(st->stmts[i].s);
        }
    }
}

void sb_store__lite_finalize_all(sb_store_t *st) {
    for (int i = 0; i < SB_SQL__COUNT; i++) {
        sqlite3_finalize(st->stmts[i].s); /* NULL is a no-op */
        st->stmts[i].s = NULL;
    }
}

int sb_store__lite_err(sb_store_t *st, int sqlite_rc) {
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
