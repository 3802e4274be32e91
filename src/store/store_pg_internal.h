/* The PostgreSQL store: its state, its statements (store_sql_pg.c) and its
 * batches (store_pg.c). Store thread only, except where it says. */
#ifndef SB_STORE_STORE_PG_INTERNAL_H
#define SB_STORE_STORE_PG_INTERNAL_H

#include "store/pg_internal.h"
#include "store/store_internal.h"

#define SB_STORE__PG_MAX_PARAMS 8

/* A statement behind the statement interface. */
typedef struct {
    sb_store__q_t base;
    sb_store_t *st;
    sb_store__sql_t id;
    const char *vals[SB_STORE__PG_MAX_PARAMS]; /* NULL: SQL NULL */
    char ints[SB_STORE__PG_MAX_PARAMS][24];    /* bound integers as text */
    PGresult *res;                             /* the last run's result */
    int row;                                   /* current row; -1 before the first step */
    bool ran;                                  /* res belongs to this run */
} sb_store__pg_q_t;

struct sb_store__pg {
    char *url;
    sb_pg_conn_t conn;
    char *sql[SB_SQL__COUNT]; /* PostgreSQL text of each statement */
    int nparams[SB_SQL__COUNT];
    sb_store__pg_q_t stmts[SB_SQL__COUNT];
    int64_t deadline_ms; /* the running batch's: no wait goes past it */
    bool lost;           /* the connection was lost during the running batch */
};

/* store_sql_pg.c */
int sb_store__pg_sql_init(sb_store__pg_t *pg, char *err, size_t cap);
void sb_store__pg_sql_dispose(sb_store__pg_t *pg);
sb_store__q_t *sb_store__pg_q(sb_store_t *st, sb_store__sql_t id);

#endif
