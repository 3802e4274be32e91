/* The statement interface over PostgreSQL: each statement of SB_STORE__SQL
 * in its PostgreSQL text, run on the store thread's connection inside the
 * batch's transaction, in the mode the batch chose (sb_store__pg_mode_t):
 * awaited, sent with a guessed result, or replayed from the result of the
 * same statement sent before. Values travel as text and PostgreSQL infers
 * their types from the SQL. */
#include "store/store_pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/put.h"
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

/* In decimal by hand: snprintf's format machinery cost more than the
 * statement's other C work (several integers a statement, every message). */
static void bind_int(sb_store__q_t *q, int idx, int64_t v) {
    if (idx < 1 || idx > SB_STORE__PG_MAX_PARAMS)
        return;
    char *out = pq(q)->ints[idx - 1]; /* 24 bytes: a sign, 19 digits and the NUL fit */
    size_t k = 0;
    if (v < 0)
        out[k++] = '-';
    sb_put_uint(out, &k, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    out[k] = '\0';
    pq(q)->vals[idx - 1] = out;
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
    sb_store__pg_t *pg = q->pg;
    const char *msg = PQresultErrorMessage(res);
    int n = (int)strcspn(msg, "\n");
    snprintf(pg->last_error, sizeof pg->last_error, "%.*s (SQLSTATE %s)", n, msg, state);
    sb_log_limited(&pg->log_limit, SB_LOG_WARN, state, "store: postgresql error %s: %.*s", state, n,
                   msg);
    return SB_EIO;
}

/* One 64-bit word into the hash: multiply and fold the high half down, so
 * every byte of w moves every bit of the result. */
static uint64_t hash_word(uint64_t h, uint64_t w) {
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 32);
}

/* A hash of the statement and its values, 8 bytes a step (each value's
 * length and presence mixed in, so values cannot run into one another): a
 * replay must run the very statement that was sent. */
static uint64_t hash_of(const sb_store__pg_q_t *q, int nparams) {
    uint64_t h = hash_word(0x243f6a8885a308d3ull, q->id);
    for (int i = 0; i < nparams; i++) {
        const char *v = q->vals[i] ? q->vals[i] : "";
        size_t n = strlen(v), k = 0;
        h = hash_word(h, ((uint64_t)n << 1) | (q->vals[i] != NULL));
        for (; n - k >= 8; k += 8) {
            uint64_t w;
            memcpy(&w, v + k, 8);
            h = hash_word(h, w);
        }
        if (k < n) {
            uint64_t w = 0;
            memcpy(&w, v + k, n - k);
            h = hash_word(h, w);
        }
    }
    return h;
}

/* REPLAY: the next statement sent for the running request, or NULL. */
static const sb_store__pg_entry_t *next_sent(sb_store__pg_t *pg) {
    while (pg->replay_next < pg->replay_end && pg->ent[pg->replay_next].sql < 0)
        pg->replay_next++;
    return pg->replay_next < pg->replay_end ? &pg->ent[pg->replay_next++] : NULL;
}

/* Sends, replays or awaits the statement; q->res stays NULL when guessed. */
static int start_run(sb_store__pg_q_t *q) {
    sb_store__pg_t *pg = q->pg;
    if (pg->lost || pg->diverged)
        return SB_EIO;
    uint64_t hash = hash_of(q, pg->nparams[q->id]);
    const sb_store__pg_entry_t *sent = NULL;
    q->res = NULL;
    switch (pg->mode) {
    case SB_STORE__PG_GUESS:
        if (!sb_store__pg_send(pg, (int)q->id, NULL, q->vals, hash))
            return SB_EIO;
        break;
    case SB_STORE__PG_REPLAY:
        sent = next_sent(pg);
        if (!sent || sent->sql != (int)q->id || sent->hash != hash) {
            pg->diverged = true; /* the guesses sent something else: it runs again, awaited */
            return SB_EIO;
        }
        q->res = sent->res;
        break;
    case SB_STORE__PG_WAIT:
        if (!sb_store__pg_send(pg, (int)q->id, NULL, q->vals, hash) || !sb_store__pg_settle(pg))
            return SB_EIO;
        q->res = pg->ent[pg->n_ent - 2].res; /* the last entry is the sync point */
        break;
    }
    ExecStatusType s = q->res ? PQresultStatus(q->res) : PGRES_COMMAND_OK;
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        int rc = map_error(q, q->res);
        q->res = NULL;
        return rc;
    }
    if (q->res) /* what the next guess of this statement will be */
        pg->guess[q->id] = (sb_store__pg_guess_t){
            PQntuples(q->res) > 0, strtoll(PQcmdTuples((PGresult *)q->res), NULL, 10)};
    q->ran = true;
    q->row = -1;
    return SB_OK;
}

static int step(sb_store__q_t *base) {
    sb_store__pg_q_t *q = pq(base);
    if (!q->ran) {
        int rc = start_run(q);
        if (rc != SB_OK)
            return rc;
    }
    q->row++;
    int rows = q->res ? PQntuples(q->res) : q->pg->guess[q->id].rows;
    return q->row < rows ? SB_STORE__ROW : SB_STORE__DONE;
}

static void reset(sb_store__q_t *q) { pq(q)->ran = false; }

/* A guessed row has every column present and empty (text "", integer 0). */
static bool guessed(const sb_store__pg_q_t *p) { return p->ran && !p->res; }

static bool is_null(sb_store__q_t *q, int col) {
    sb_store__pg_q_t *p = pq(q);
    if (guessed(p))
        return false;
    return !p->res || p->row < 0 || p->row >= PQntuples(p->res) || col >= PQnfields(p->res) ||
           PQgetisnull(p->res, p->row, col);
}

static int64_t col_int(sb_store__q_t *q, int col) {
    return is_null(q, col) || guessed(pq(q))
               ? 0
               : strtoll(PQgetvalue(pq(q)->res, pq(q)->row, col), NULL, 10);
}

static const char *col_text(sb_store__q_t *q, int col, size_t *n) {
    *n = 0;
    if (guessed(pq(q)))
        return "";
    if (is_null(q, col))
        return NULL;
    *n = (size_t)PQgetlength(pq(q)->res, pq(q)->row, col);
    return PQgetvalue(pq(q)->res, pq(q)->row, col);
}

static int64_t changes(sb_store__q_t *q) {
    sb_store__pg_q_t *p = pq(q);
    if (guessed(p))
        return p->pg->guess[p->id].changes;
    return p->res ? strtoll(PQcmdTuples((PGresult *)p->res), NULL, 10) : 0;
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

sb_store__pg_t *sb_store__pg_self(sb_store_t *st) { return pthread_getspecific(st->pg->self); }

sb_store__q_t *sb_store__pg_q(sb_store_t *st, sb_store__sql_t id) {
    sb_store__pg_t *pg = sb_store__pg_self(st);
    sb_store__pg_q_t *q = &pg->stmts[id];
    memset(q, 0, sizeof *q); /* q->res belongs to the batch's entries */
    q->base.ops = &pg_ops;
    q->st = st;
    q->pg = pg;
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
        const char *t = pg->sql[i];
        pg->pure[i] = strncmp(t, "SELECT", 6) == 0 && !strstr(t, "INSERT") &&
                      !strstr(t, "UPDATE") && !strstr(t, "DELETE") && !strstr(t, "lock");
        /* First guesses: a row, one row changed, none where a conflict does nothing. */
        pg->guess[i] = (sb_store__pg_guess_t){true, strstr(t, "DO NOTHING") ? 0 : 1};
    }
    return SB_OK;
}

void sb_store__pg_sql_dispose(sb_store__pg_t *pg) {
    for (int i = 0; i < SB_SQL__COUNT; i++) {
        pg->stmts[i].res = NULL;
        free(pg->sql[i]);
        pg->sql[i] = NULL;
    }
}
