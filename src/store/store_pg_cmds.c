/* The open transaction's commands on the PostgreSQL store's connection:
 * each is sent without waiting and remembered as an entry, in the order of
 * sending; a sync point reads every result up to it into its entry.
 * Statements are prepared once per connection. Used by the statements
 * (store_sql_pg.c) and the batches (store_pg.c); calls neither. */
#include "store/store_pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sql_names[SB_SQL__COUNT] = {
#define SB_STORE__SQL_NAME(name, sql, pg) [SB_SQL_##name] = #name,
    SB_STORE__SQL(SB_STORE__SQL_NAME)
#undef SB_STORE__SQL_NAME
};

/* Room for one more entry; false (and the batch lost) when out of memory. */
static bool grow(sb_store__pg_t *pg) {
    if (pg->n_ent < pg->cap_ent)
        return true;
    size_t cap = pg->cap_ent ? pg->cap_ent * 2 : 256;
    sb_store__pg_entry_t *e = realloc(pg->ent, cap * sizeof *e);
    if (!e) {
        snprintf(pg->conn.error, sizeof pg->conn.error, "out of memory");
        return false;
    }
    pg->ent = e;
    pg->cap_ent = cap;
    return true;
}

static bool remember(sb_store__pg_t *pg, bool sent, int sql, uint64_t hash) {
    if (!sent || !grow(pg)) {
        pg->lost = true; /* the batch is retried or failed as a whole */
        return false;
    }
    pg->ent[pg->n_ent++] = (sb_store__pg_entry_t){NULL, hash, sql, pg->req};
    return true;
}

/* Prepared statements skip PostgreSQL's parsing and planning of each run. */
static bool prepare(sb_store__pg_t *pg, int sql) {
    if (pg->prepared_on != pg->conn.connects) {
        memset(pg->prepared, 0, sizeof pg->prepared);
        pg->prepared_on = pg->conn.connects;
    }
    if (pg->prepared[sql])
        return true;
    pg->prepared[sql] = true; /* until its result says otherwise */
    return grow(pg) &&
           remember(pg,
                    sb_pg_conn_prepare(&pg->conn, sql_names[sql], pg->sql[sql], pg->nparams[sql]),
                    SB_STORE__PG_PREPARE, (uint64_t)sql);
}

/* A run's confirmations (store_groups.c) are planned with each run's
 * values, never prepared. A generic plan made while the table was small (a
 * sequential scan, hashed against the run's arrays) stays chosen as it
 * grows, until autovacuum's next ANALYZE invalidates it: on a fresh
 * database a run of 40 confirmations went from 7 to 28 ms within a minute,
 * and 1,000 senders from 22,000 to 4,500 messages/s over three 6-second
 * rounds (docs/store.md, "Runs"). Planned with the values, they walk the
 * primary key at any size. The appends' run stays prepared: its one read
 * of a table, each recipient's newest delivery, walks the key backward in
 * the generic plan made on an empty database too, and parsing and planning
 * it each run cost the appends' connection about 4 % of its messages. */
static bool planned_each_run(int sql) {
    return sql == SB_SQL_MSG_DELIVERED_GROUP || sql == SB_SQL_NOTIF_DELIVERED_GROUP;
}

bool sb_store__pg_send(sb_store__pg_t *pg, int sql, const char *text, const char *const *vals,
                       uint64_t hash) {
    if (pg->lost || !grow(pg))
        return remember(pg, false, sql, hash);
    if (sql == SB_STORE__PG_SYNC)
        return remember(pg, sb_pg_conn_sync(&pg->conn, pg->deadline_ms), sql, hash);
    if (sql == SB_STORE__PG_CMD)
        return remember(pg, sb_pg_conn_send(&pg->conn, text, 0, NULL), sql, hash);
    if (planned_each_run(sql))
        return remember(pg, sb_pg_conn_send(&pg->conn, pg->sql[sql], pg->nparams[sql], vals), sql,
                        hash);
    return prepare(pg, sql) &&
           remember(pg, sb_pg_conn_send_prepared(&pg->conn, sql_names[sql], pg->nparams[sql], vals),
                    sql, hash);
}

/* Takes the next result for the oldest unread entry; false when lost. */
static bool read_one(sb_store__pg_t *pg) {
    PGresult *res = sb_pg_conn_next(&pg->conn, pg->deadline_ms);
    sb_store__pg_entry_t *e = &pg->ent[pg->n_read];
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (!res || (s == PGRES_PIPELINE_SYNC) != (e->sql == SB_STORE__PG_SYNC)) {
        PQclear(res); /* a lost connection, or answers out of step: both end the transaction */
        pg->lost = true;
        return false;
    }
    e->res = res;
    if (e->sql == SB_STORE__PG_PREPARE && s != PGRES_COMMAND_OK)
        pg->prepared[e->hash] = false; /* skipped after a failure: prepared again next time */
    if (s == PGRES_FATAL_ERROR) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        pg->deadlocked |= state && strcmp(state, "40P01") == 0;
        if (pg->failed_ent < 0)
            pg->failed_ent = (long)pg->n_read;
    }
    pg->n_read++;
    return true;
}

bool sb_store__pg_settle(sb_store__pg_t *pg) {
    if (!sb_store__pg_send(pg, SB_STORE__PG_SYNC, NULL, NULL, 0))
        return false;
    while (pg->n_read < pg->n_ent)
        if (!read_one(pg))
            return false;
    return true;
}

void sb_store__pg_forget(sb_store__pg_t *pg) {
    for (size_t i = 0; i < pg->n_ent; i++)
        PQclear(pg->ent[i].res);
    pg->n_ent = pg->n_read = 0;
    pg->failed_ent = -1;
}
