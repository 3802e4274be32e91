/* PostgreSQL backend internals (libpq), shared by pg_schema.c, pg_conn.c,
 * the PostgreSQL store (store_pg.c, store_sql_pg.c) and their unit tests.
 * docs/store.md says what is built and what remains. */
#ifndef SB_STORE_PG_INTERNAL_H
#define SB_STORE_PG_INTERNAL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- schema (pg_schema.c) ----------------------------------------------------- */

/* Number of PostgreSQL migrations this build knows; equals the SQLite
 * schema's version (tests/unit/test_pg_schema.c compares both schemas). */
int sb_store_pg__schema_version(void);

/* Brings the database to sb_store_pg__schema_version() on the ready,
 * blocking connection `db`. Each migration runs in its own transaction that
 * first takes a transaction-scoped advisory lock, so servers starting together
 * apply each migration once. Refuses a database whose encoding is not UTF8 or
 * whose schema is newer than this build (SB_EINVAL); SB_EIO on a failed
 * statement. A message for the operator goes to err. */
int sb_store_pg__migrate(PGconn *db, char *err, size_t cap);

/* ---- connection of the store thread (pg_conn.c) -------------------------------- */

/* One libpq connection, connected without blocking past a deadline, in
 * pipeline mode, reconnected with capped exponential backoff. Used by one
 * thread (the store thread); times are CLOCK_MONOTONIC milliseconds. */
typedef struct {
    const char *conninfo;   /* URL or key=value string; borrowed */
    int64_t backoff_min_ms; /* first wait after a failed attempt (0: 100) */
    int64_t backoff_max_ms; /* cap of the doubling (0: 5000) */
} sb_pg_conn_config_t;

typedef struct {
    PGconn *pg; /* NULL while disconnected */
    sb_pg_conn_config_t cfg;
    int64_t backoff_ms;      /* wait after the next failure */
    int64_t next_attempt_ms; /* no connection attempt before this */
    uint64_t connects;       /* successful connections so far */
    char xid[32];            /* the open transaction's id (sb_pg_conn_begin) */
    char error[256];         /* why the last attempt or batch failed, one line */
} sb_pg_conn_t;

/* How a batch ended. Only COMMITTED and COMMITTED_BLIND changed the database;
 * only NOT_COMMITTED and FAILED are certain that nothing changed. */
typedef enum {
    SB_PG_COMMITTED,       /* COMMIT returned; every result was delivered */
    SB_PG_FAILED,          /* a statement failed; rolled back (failed_stmt, error) */
    SB_PG_NOT_COMMITTED,   /* unavailable or lost before COMMIT could apply: retry is safe */
    SB_PG_COMMITTED_BLIND, /* lost after COMMIT, and the server says it committed:
                              some results are missing */
    SB_PG_UNKNOWN          /* lost after COMMIT was sent and not resolved in time */
} sb_pg_outcome_t;

typedef struct {
    const char *sql; /* one statement, $1.. parameters */
    int nparams;
    const char *const *params; /* text values; NULL entries are SQL NULL */
    /* Called on the store thread with the statement's rows (PGRES_TUPLES_OK or
     * PGRES_COMMAND_OK) before COMMIT's answer is known; may be NULL. */
    void (*on_result)(void *ud, const PGresult *res);
    void *ud;
} sb_pg_stmt_t;

void sb_pg_conn_init(sb_pg_conn_t *c, const sb_pg_conn_config_t *cfg);
void sb_pg_conn_dispose(sb_pg_conn_t *c);

/* Makes the connection ready, waiting (backoff included) no later than
 * deadline_ms. SB_OK, or SB_ETIMEOUT with c->error saying why: the caller
 * answers store_unavailable. */
int sb_pg_conn_ready(sb_pg_conn_t *c, int64_t deadline_ms);

/* Runs stmts in one transaction, pipelined: BEGIN and the transaction id
 * first (one round trip, so that a lost connection can be resolved later),
 * then every statement and COMMIT in one flush. failed_stmt is the index of
 * the failing statement for SB_PG_FAILED, else -1. Never waits past
 * deadline_ms. */
sb_pg_outcome_t sb_pg_conn_run(sb_pg_conn_t *c, const sb_pg_stmt_t *stmts, size_t n,
                               int64_t deadline_ms, int *failed_stmt);

const char *sb_pg_outcome_name(sb_pg_outcome_t o);

/* ---- pipelined transactions (the store's batches) -------------------------------------
 * sb_pg_conn_begin(), then commands queued without waiting (sb_pg_conn_send)
 * and sync points (sb_pg_conn_sync, which also sends what is queued), their
 * results read in order (sb_pg_conn_next), then sb_pg_conn_commit(). After a
 * failed command the server skips every command up to the next sync point
 * (PGRES_PIPELINE_ABORTED); the transaction stays open, aborted until
 * ROLLBACK TO a savepoint. A lost connection (false or NULL) ends the
 * transaction: call sb_pg_conn_drop(); nothing of it committed. */

/* Connects if needed (no later than deadline_ms), then BEGIN and the
 * transaction id, one round trip. SB_OK; SB_ETIMEOUT (unreachable) or SB_EIO
 * (lost) with nothing sent. */
int sb_pg_conn_begin(sb_pg_conn_t *c, int64_t deadline_ms);
/* Queues one statement (text parameters, NULL entries are SQL NULL); false
 * when the connection is lost. libpq sends it once enough is queued. */
bool sb_pg_conn_send(sb_pg_conn_t *c, const char *sql, int nparams, const char *const *params);
/* Queues the preparation of statement `name` (its result: PGRES_COMMAND_OK)
 * and a run of it; false when the connection is lost. A prepared statement
 * lives as long as its connection (c->connects tells a new one). */
bool sb_pg_conn_prepare(sb_pg_conn_t *c, const char *name, const char *sql, int nparams);
bool sb_pg_conn_send_prepared(sb_pg_conn_t *c, const char *name, int nparams,
                              const char *const *params);
/* Queues a sync point (its result is PGRES_PIPELINE_SYNC) and sends
 * everything queued; false when the connection is lost or deadline_ms
 * passed. */
bool sb_pg_conn_sync(sb_pg_conn_t *c, int64_t deadline_ms);
/* The next result, in the order the commands were queued (the caller
 * PQclear()s it); NULL when the connection was lost or deadline_ms passed. */
PGresult *sb_pg_conn_next(sb_pg_conn_t *c, int64_t deadline_ms);
/* COMMIT, once every earlier result was read. COMMITTED, FAILED (the server
 * rolled back: an aborted transaction, a deferred constraint), NOT_COMMITTED
 * (COMMIT never left), COMMITTED_BLIND (lost, resolved as committed: every
 * earlier result was read) or UNKNOWN. */
sb_pg_outcome_t sb_pg_conn_commit(sb_pg_conn_t *c, int64_t deadline_ms);
/* Closes the connection (after a loss, or to abandon a transaction). */
void sb_pg_conn_drop(sb_pg_conn_t *c);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t sb_pg__now_ms(void);

#endif
