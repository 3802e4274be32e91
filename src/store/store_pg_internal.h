/* The PostgreSQL store: its state, its statements (store_sql_pg.c) and its
 * batches (store_pg.c). Store thread only, except where it says. */
#ifndef SB_STORE_STORE_PG_INTERNAL_H
#define SB_STORE_STORE_PG_INTERNAL_H

#include "core/map.h"
#include "store/pg_internal.h"
#include "store/store_internal.h"

#define SB_STORE__PG_MAX_PARAMS 13

/* How a statement runs (store_pg.c's batches choose):
 * - WAIT: sent with a sync point, its result awaited (one round trip);
 * - GUESS: sent without waiting; the operation goes on with a guessed
 *   result (the statement's last real row count and changes, empty values);
 * - REPLAY: not sent; the result of the statement sent at the same place by
 *   the GUESS run, which must be the same statement with the same values. */
typedef enum { SB_STORE__PG_WAIT, SB_STORE__PG_GUESS, SB_STORE__PG_REPLAY } sb_store__pg_mode_t;

/* A statement behind the statement interface. */
typedef struct {
    sb_store__q_t base;
    sb_store_t *st;
    sb_store__pg_t *pg; /* the member it runs on */
    sb_store__sql_t id;
    const char *vals[SB_STORE__PG_MAX_PARAMS]; /* NULL: SQL NULL */
    char ints[SB_STORE__PG_MAX_PARAMS][24];    /* bound integers as text */
    const PGresult *res;                       /* the run's result (an entry's); NULL: guessed */
    int row;                                   /* current row; -1 before the first step */
    bool ran;                                  /* the current run was sent or replayed */
} sb_store__pg_q_t;

/* What an entry is when it is not a statement (sql >= 0: SB_SQL_ id). */
#define SB_STORE__PG_CMD (-1)     /* a command without values: SAVEPOINT, ROLLBACK TO, ... */
#define SB_STORE__PG_SYNC (-2)    /* a sync point */
#define SB_STORE__PG_PREPARE (-3) /* the preparation of statement `hash` on this connection */

/* A command sent in the open transaction, in the order of sending: its
 * result is read in the same order. */
typedef struct {
    PGresult *res; /* once read */
    uint64_t hash; /* statement id and values (statements) */
    int sql;       /* SB_SQL_ id, or SB_STORE__PG_CMD, _SYNC, _PREPARE */
    int req;       /* the request's index in the batch */
} sb_store__pg_entry_t;

/* What the last real run of a statement gave: the next guess. */
typedef struct {
    bool rows;       /* at least one row */
    int64_t changes; /* rows changed */
} sb_store__pg_guess_t;

/* One member of the pool: a connection, the statements prepared on it and
 * the batch it runs, used by its own store thread only (except `down`,
 * under st->mu). */
struct sb_store__pg {
    sb_pg_conn_t conn;
    bool down;                  /* its last connection attempt or batch failed to reach */
    char last_error[160];       /* the last PostgreSQL error its statements met */
    sb_log_limiter_t log_limit; /* for those errors' log lines */
    char *sql[SB_SQL__COUNT];   /* PostgreSQL text of each statement */
    int nparams[SB_SQL__COUNT];
    bool pure[SB_SQL__COUNT];     /* a plain read: sent in vain, it changed nothing */
    bool prepared[SB_SQL__COUNT]; /* on the connection of the `connects` count below */
    uint64_t prepared_on;
    sb_store__pg_guess_t guess[SB_SQL__COUNT];
    sb_store__pg_q_t stmts[SB_SQL__COUNT];
    int64_t deadline_ms;   /* the running batch's: no wait goes past it */
    bool lost;             /* the connection was lost during the running batch */
    bool deadlocked;       /* a result said deadlock_detected */
    int careful;           /* batches still to run with a savepoint per request */
    uint64_t careful_runs; /* batches run again careful since open (tests read it) */
    uint64_t run_requests; /* requests sent in a run with others (store_groups.c; tests read it) */
    /* Each recipient's newest delivery as this member's committed appends
     * left it (store_pg_newest.c): user -> id + 1; and the newest id those
     * appends took (0: nothing known). */
    sb_map_t newest;
    int64_t newest_upto;
    bool committed; /* the running batch committed cleanly */

    /* The open transaction's commands (store_pg.c). */
    sb_store__pg_entry_t *ent;
    size_t n_ent, cap_ent;
    size_t n_read;   /* entries whose result was read */
    long failed_ent; /* the first entry that failed; -1: none */

    /* The request running now. */
    sb_store__pg_mode_t mode;
    int req;            /* its index in the batch */
    size_t replay_next; /* REPLAY: its next entry */
    size_t replay_end;  /* REPLAY: the end of its entries */
    bool diverged;      /* REPLAY: it did not run the statements sent for it */
};

/* The PostgreSQL store (st->pg): a fixed pool of members, one store thread
 * each (store.c's shards, same index). */
struct sb_store__pg_pool {
    char *url;
    size_t n;
    sb_store__pg_t *members;
    pthread_key_t self; /* each store thread's member */
    bool self_made;
    size_t down; /* members down, under st->mu: the store is OK when none is */
    /* Writes PostgreSQL refused (an error of its own, SB_EIO), under st->mu:
     * the last one's time (0: none since the last probe write committed)
     * and its reason. The store is not OK while there is one. */
    int64_t refused_ms;
    char refused_reason[160];
};

/* The member of the calling store thread. */
sb_store__pg_t *sb_store__pg_self(sb_store_t *st);

/* store_pg_newest.c: after a batch that committed cleanly, and after any
 * other outcome. */
void sb_store__pg_newest_learn(sb_store__pg_t *pg, const sb_store__req_t *first);
void sb_store__pg_newest_forget(sb_store__pg_t *pg);

/* store_sql_pg.c */
int sb_store__pg_sql_init(sb_store__pg_t *pg, char *err, size_t cap);
void sb_store__pg_sql_dispose(sb_store__pg_t *pg);
sb_store__q_t *sb_store__pg_q(sb_store_t *st, sb_store__sql_t id);

/* store_pg_cmds.c: the open transaction's commands. */
/* Sends a command (SB_STORE__PG_CMD with its text, SB_STORE__PG_SYNC, or a
 * statement id with its values, prepared first on a connection that has not
 * seen it), remembered as an entry; false when the connection is lost
 * (pg->lost). */
bool sb_store__pg_send(sb_store__pg_t *pg, int sql, const char *text, const char *const *vals,
                       uint64_t hash);
/* Sends a sync point and reads every result up to it; false when the
 * connection is lost (pg->lost). */
bool sb_store__pg_settle(sb_store__pg_t *pg);
/* Frees every entry's result. */
void sb_store__pg_forget(sb_store__pg_t *pg);

#endif
