/* The statement interface over PostgreSQL: each statement of SB_STORE__SQL
 * in its PostgreSQL text, run on the store thread's connection inside the
 * batch's transaction. The first step sends the statement and waits (by the
 * batch's deadline) for its result; the following steps walk its rows.
 * Values travel as text and PostgreSQL infers their types from the SQL. */
#include "store/store_pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

/* The SQLite text, with ?N turned into $N, unless a row gives its own. */
static const char *const lite_text[SB_SQL__COUNT] = {
#define SB_STORE__SQL_LITE(name, sql, pg) [SB_SQL_##name] = sql,
    SB_STORE__SQL(SB_STORE__SQL_LITE)
#undef SB_STORE__SQL_LITE
};
static const char *const pg_text[SB_SQL__COUNT] = {
#define SB_STORE__SQL_PG(name, sql, pg) [SB_SQL_##name] = pg,
    SB_STORE__SQL(SB_STORE__SQL_PG)
#undef SB_STORE__SQL_PG
};

static sb_store__pg_q_t *pq(sb_store__q_t *q) { return (sb_store__pg_q_t *)q; }

static void bind_text(sb_store__q_t *q, int idx, const char *p, size_t n) {
    (void)n; /* arena strings are NUL-terminated and hold no NUL (checked at submit) */
    if (idx >= 1 && idx <= SB_STORE__PG_MAX_PARAMS)
        pq(q)->vals[idx - 1] = p;
}

static void bind_int(sb_store__q_t *q, int idx, int64_t v) {
    if (idx < 1 || idx > SB_STORE__PG_MAX_PARAMS)
        return;
    snprintf(pq(q)->ints[idx - 1], sizeof pq(q)->ints[0], "%lld", (long long)v);
    pq(q)->vals[idx - 1] = pq(q)->ints[idx - 1];
}

/* SQLSTATEs that are answers about the request, not store failures. */
static int map_error(sb_store__pg_q_t *q, const PGresult *res) {
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    state = state ? state : "";
    if (strcmp(state, "40P01") == 0)
        return SB_EAGAIN; /* deadlock_detected: this request's locks are undone; run it again */
    if (strcmp(state, "23505") == 0)
        return SB_EEXISTS; /* unique_violation */
    if (strcmp(state, "23503") == 0)
        return SB_ENOTFOUND; /* foreign_key_violation */
    if (strcmp(state, "23514") == 0 || strcmp(state, "22P02") == 0 || strcmp(state, "22021") == 0)
        return SB_EINVAL; /* check_violation, invalid JSON text, bad encoding */
    sb_store_t *st = q->st;
    const char *msg = PQresultErrorMessage(res);
    int n = (int)strcspn(msg, "\n");
    snprintf(st->last_error, sizeof st->last_error, "%.*s (SQLSTATE %s)", n, msg, state);
    sb_log_limited(&st->log_limit, SB_LOG_WARN, state, "store: postgresql error %s: %.*s", state, n,
                   msg);
    return SB_EIO;
}

static int step(sb_store__q_t *base) {
    sb_store__pg_q_t *q = pq(base);
    if (!q->ran) {
        PQclear(q->res);
        q->res = NULL;
        sb_store__pg_t *pg = q->st->pg;
        if (pg->lost)
            return SB_EIO;
        q->res = sb_pg_conn_query(&pg->conn, pg->sql[q->id], pg->nparams[q->id], q->vals,
                                  pg->deadline_ms);
        if (!q->res) {
            pg->lost = true; /* the batch is retried or failed as a whole */
            return SB_EIO;
        }
        ExecStatusType s = PQresultStatus(q->res);
        if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
            int rc = map_error(q, q->res);
            PQclear(q->res);
            q->res = NULL;
            return rc;
        }
        q->ran = true;
        q->row = -1;
    }
    q->row++;
    return q->row < PQntuples(q->res) ? SB_STORE__ROW : SB_STORE__DONE;
}

static void reset(sb_store__q_t *q) { pq(q)->ran = false; }

static bool is_null(sb_store__q_t *q, int col) {
    sb_store__pg_q_t *p = pq(q);
    return !p->res || p->row < 0 || p->row >= PQntuples(p->res) || col >= PQnfields(p->res) ||
           PQgetisnull(p->res, p->row, col);
}

static int64_t col_int(sb_store__q_t *q, int col) {
    return is_null(q, col) ? 0 : strtoll(PQgetvalue(pq(q)->res, pq(q)->row, col), NULL, 10);
}

static const char *col_text(sb_store__q_t *q, int col, size_t *n) {
    if (is_null(q, col)) {
        *n = 0;
        return NULL;
    }
    *n = (size_t)PQgetlength(pq(q)->res, pq(q)->row, col);
    return PQgetvalue(pq(q)->res, pq(q)->row, col);
}

static int64_t changes(sb_store__q_t *q) {
    return pq(q)->res ? strtoll(PQcmdTuples(pq(q)->res), NULL, 10) : 0;
}

/* Inserts whose id is read back end in RETURNING id. */
static int64_t last_id(sb_store__q_t *q) {
    const PGresult *res = pq(q)->res;
    return res && PQntuples(res) > 0 && PQnfields(res) > 0
               ? strtoll(PQgetvalue(res, 0, 0), NULL, 10)
               : 0;
}

static const sb_store__q_ops_t pg_ops = {bind_text, bind_int, step,    reset,  is_null,
                                         col_int,   col_text, changes, last_id};

sb_store__q_t *sb_store__pg_q(sb_store_t *st, sb_store__sql_t id) {
    sb_store__pg_q_t *q = &st->pg->stmts[id];
    PQclear(q->res);
    memset(q, 0, sizeof *q);
    q->base.ops = &pg_ops;
    q->st = st;
    q->id = id;
    return &q->base;
}

/* "?12" -> "$12"; the highest parameter number goes to *nparams. */
static char *convert(const char *lite, int *nparams) {
    size_t n = strlen(lite);
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    *nparams = 0;
    for (size_t i = 0; i <= n; i++) {
        out[i] = lite[i] == '?' ? '$' : lite[i];
        if (lite[i] == '?' || lite[i] == '$') {
            int k = atoi(lite + i + 1);
            if (k > *nparams)
                *nparams = k;
        }
    }
    return out;
}

int sb_store__pg_sql_init(sb_store__pg_t *pg, char *err, size_t cap) {
    for (int i = 0; i < SB_SQL__COUNT; i++) {
        pg->sql[i] = convert(pg_text[i] ? pg_text[i] : lite_text[i], &pg->nparams[i]);
        if (!pg->sql[i]) {
            snprintf(err, cap, "store: out of memory");
            return SB_ENOMEM;
        }
        if (pg->nparams[i] > SB_STORE__PG_MAX_PARAMS) {
            snprintf(err, cap, "store: statement %d has too many parameters", i);
            return SB_EINVAL;
        }
    }
    return SB_OK;
}

void sb_store__pg_sql_dispose(sb_store__pg_t *pg) {
    for (int i = 0; i < SB_SQL__COUNT; i++) {
        PQclear(pg->stmts[i].res);
        pg->stmts[i].res = NULL;
        free(pg->sql[i]);
        pg->sql[i] = NULL;
    }
}
