/* The store thread's PostgreSQL connection: connects without blocking past a
 * deadline, keeps libpq in pipeline mode, reconnects with capped backoff, and
 * runs a batch as one transaction whose outcome is known even when the
 * connection is lost half-way (see sb_pg_outcome_t and docs/store.md).
 *
 * A batch is two round trips: BEGIN + pg_current_xact_id() first, then every
 * statement and COMMIT in one flush. Knowing the transaction id before COMMIT
 * leaves lets a new connection ask pg_xact_status() what became of it. */
#include "store/pg_internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define RESOLVE_POLL_MS 50
/* A connection attempt, once begun, gets at least this long (TCP, TLS,
 * authentication), even past the deadline of the request that started it:
 * cut at that deadline, an attempt made just before it could never succeed,
 * and a steady stream of requests would keep the store from reconnecting. */
#define CONNECT_MIN_MS 1000

int64_t sb_pg__now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

const char *sb_pg_outcome_name(sb_pg_outcome_t o) {
    static const char *const names[] = {"committed", "failed", "not committed",
                                        "committed, results lost", "unknown"};
    return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "?";
}

/* c->error = "what: first line of detail". */
static void set_error(sb_pg_conn_t *c, const char *what, const char *detail) {
    detail = detail ? detail : "";
    int n = (int)strcspn(detail, "\n");
    snprintf(c->error, sizeof c->error, "%s%s%.*s", what, n ? ": " : "", n, detail);
}

static void drop(sb_pg_conn_t *c) {
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
}

void sb_pg_conn_init(sb_pg_conn_t *c, const sb_pg_conn_config_t *cfg) {
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    if (c->cfg.backoff_min_ms <= 0)
        c->cfg.backoff_min_ms = BACKOFF_MIN_MS;
    if (c->cfg.backoff_max_ms < c->cfg.backoff_min_ms)
        c->cfg.backoff_max_ms =
            c->cfg.backoff_min_ms > BACKOFF_MAX_MS ? c->cfg.backoff_min_ms : BACKOFF_MAX_MS;
    c->backoff_ms = c->cfg.backoff_min_ms;
}

void sb_pg_conn_dispose(sb_pg_conn_t *c) { drop(c); }

/* 1 when fd is ready for events, 0 at the deadline, -1 on a poll error. */
static int wait_fd(int fd, short events, int64_t deadline_ms) {
    for (;;) {
        int64_t left = deadline_ms - sb_pg__now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n != -1 || errno != EINTR)
            return n > 0 ? 1 : n;
    }
}

/* One attempt, driven by PQconnectPoll so that it ends by the deadline. */
static int connect_once(sb_pg_conn_t *c, int64_t deadline_ms) {
    PGconn *pg = PQconnectStart(c->cfg.conninfo);
    if (!pg) {
        set_error(c, "cannot connect", "out of memory");
        return SB_ENOMEM;
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (PQstatus(pg) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        int ready =
            wait_fd(PQsocket(pg), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline_ms);
        if (ready <= 0) {
            set_error(c, "cannot connect", ready == 0 ? "timed out" : strerror(errno));
            PQfinish(pg);
            return SB_ETIMEOUT;
        }
        st = PQconnectPoll(pg);
    }
    if (PQstatus(pg) != CONNECTION_OK || PQsetnonblocking(pg, 1) != 0 ||
        PQenterPipelineMode(pg) != 1) {
        set_error(c, "cannot connect", PQerrorMessage(pg));
        PQfinish(pg);
        return SB_EIO;
    }
    c->pg = pg;
    c->connects++;
    c->backoff_ms = c->cfg.backoff_min_ms;
    c->next_attempt_ms = 0;
    return SB_OK;
}

int sb_pg_conn_ready(sb_pg_conn_t *c, int64_t deadline_ms) {
    for (;;) {
        if (c->pg && PQstatus(c->pg) == CONNECTION_OK)
            return SB_OK;
        drop(c);
        int64_t now = sb_pg__now_ms();
        if (now >= deadline_ms)
            return SB_ETIMEOUT;
        /* While the server is down, a request whose deadline comes before the
         * next attempt fails at once instead of holding the store thread. */
        if (c->next_attempt_ms > now) {
            if (c->next_attempt_ms >= deadline_ms)
                return SB_ETIMEOUT;
            sleep_ms(c->next_attempt_ms - now);
        }
        int64_t budget = sb_pg__now_ms() + CONNECT_MIN_MS;
        if (connect_once(c, deadline_ms > budget ? deadline_ms : budget) == SB_OK)
            return SB_OK;
        c->next_attempt_ms = sb_pg__now_ms() + c->backoff_ms;
        c->backoff_ms =
            c->backoff_ms * 2 > c->cfg.backoff_max_ms ? c->cfg.backoff_max_ms : c->backoff_ms * 2;
    }
}

/* Sends what libpq has buffered; false when the connection is lost. */
static bool flush(sb_pg_conn_t *c, int64_t deadline_ms) {
    int r;
    while ((r = PQflush(c->pg)) == 1) {
        /* Reading while waiting to write keeps a full server buffer from
         * deadlocking both sides (libpq's advice for non-blocking mode). */
        if (wait_fd(PQsocket(c->pg), POLLOUT | POLLIN, deadline_ms) <= 0 || !PQconsumeInput(c->pg))
            break;
    }
    if (r != 0)
        set_error(c, "connection lost", r == 1 ? "timed out" : PQerrorMessage(c->pg));
    return r == 0;
}

/* An error that ends the session (FATAL, PANIC: the server is going away or
 * ended this backend) is a lost connection, not a failed statement. */
static bool session_ended(sb_pg_conn_t *c, const PGresult *r) {
    if (PQstatus(c->pg) == CONNECTION_BAD)
        return true;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    return sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0);
}

/* The next result of the pipeline (the NULL ending each statement's results
 * is skipped); NULL when the connection is lost or the deadline passes. */
static PGresult *next_result(sb_pg_conn_t *c, int64_t deadline_ms) {
    if (!flush(c, deadline_ms))
        return NULL;
    for (int nulls = 0; nulls < 2; nulls++) {
        while (PQisBusy(c->pg)) {
            int ready = wait_fd(PQsocket(c->pg), POLLIN, deadline_ms);
            if (ready <= 0 || !PQconsumeInput(c->pg)) {
                set_error(c, "connection lost", ready == 0 ? "timed out" : PQerrorMessage(c->pg));
                return NULL;
            }
        }
        PGresult *r = PQgetResult(c->pg);
        if (r && PQresultStatus(r) == PGRES_FATAL_ERROR && session_ended(c, r)) {
            set_error(c, "connection lost", PQresultErrorMessage(r));
            PQclear(r);
            return NULL;
        }
        if (r)
            return r;
        if (PQstatus(c->pg) == CONNECTION_BAD)
            break;
    }
    set_error(c, "connection lost", PQerrorMessage(c->pg));
    return NULL;
}

PGresult *sb_pg_conn_next(sb_pg_conn_t *c, int64_t deadline_ms) {
    return c->pg ? next_result(c, deadline_ms) : NULL;
}

/* Reads one result and checks its status; false when lost or different. */
static bool expect(sb_pg_conn_t *c, int64_t deadline_ms, ExecStatusType want, char *val,
                   size_t cap) {
    PGresult *r = next_result(c, deadline_ms);
    if (!r)
        return false;
    bool ok = PQresultStatus(r) == want;
    if (ok && val)
        snprintf(val, cap, "%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
    if (!ok)
        set_error(c, "unexpected answer", PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

static bool send_query(sb_pg_conn_t *c, const char *sql, int nparams, const char *const *params) {
    if (PQsendQueryParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0))
        return true;
    set_error(c, "connection lost", PQerrorMessage(c->pg));
    return false;
}

bool sb_pg_conn_send(sb_pg_conn_t *c, const char *sql, int nparams, const char *const *params) {
    return c->pg && send_query(c, sql, nparams, params);
}

bool sb_pg_conn_prepare(sb_pg_conn_t *c, const char *name, const char *sql, int nparams) {
    if (c->pg && PQsendPrepare(c->pg, name, sql, nparams, NULL))
        return true;
    if (c->pg)
        set_error(c, "connection lost", PQerrorMessage(c->pg));
    return false;
}

bool sb_pg_conn_send_prepared(sb_pg_conn_t *c, const char *name, int nparams,
                              const char *const *params) {
    if (c->pg && PQsendQueryPrepared(c->pg, name, nparams, params, NULL, NULL, 0))
        return true;
    if (c->pg)
        set_error(c, "connection lost", PQerrorMessage(c->pg));
    return false;
}

bool sb_pg_conn_sync(sb_pg_conn_t *c, int64_t deadline_ms) {
    if (c->pg && PQpipelineSync(c->pg) == 1)
        return flush(c, deadline_ms);
    if (c->pg)
        set_error(c, "connection lost", PQerrorMessage(c->pg));
    return false;
}

/* BEGIN and the transaction's id, one round trip; false when lost. */
static bool begin(sb_pg_conn_t *c, int64_t deadline_ms, char *xid, size_t cap) {
    return send_query(c, "BEGIN", 0, NULL) &&
           send_query(c, "SELECT pg_current_xact_id()::text", 0, NULL) && PQpipelineSync(c->pg) &&
           expect(c, deadline_ms, PGRES_COMMAND_OK, NULL, 0) &&
           expect(c, deadline_ms, PGRES_TUPLES_OK, xid, cap) && xid[0] &&
           expect(c, deadline_ms, PGRES_PIPELINE_SYNC, NULL, 0);
}

/* After a lost connection with COMMIT possibly applied: asks a new
 * connection what became of transaction xid, until the deadline. */
static sb_pg_outcome_t resolve(sb_pg_conn_t *c, const char *xid, int64_t deadline_ms) {
    char lost[sizeof c->error], status[32];
    memcpy(lost, c->error, sizeof lost);
    drop(c);
    const char *params[1] = {xid};
    while (sb_pg_conn_ready(c, deadline_ms) == SB_OK) {
        status[0] = 0;
        bool asked = send_query(c, "SELECT pg_xact_status($1::xid8)", 1, params) &&
                     PQpipelineSync(c->pg) &&
                     expect(c, deadline_ms, PGRES_TUPLES_OK, status, sizeof status) &&
                     expect(c, deadline_ms, PGRES_PIPELINE_SYNC, NULL, 0);
        if (asked && strcmp(status, "committed") == 0)
            return SB_PG_COMMITTED_BLIND;
        if (asked && strcmp(status, "aborted") == 0) {
            memcpy(c->error, lost, sizeof lost);
            return SB_PG_NOT_COMMITTED;
        }
        if (!asked)
            drop(c);
        /* "in progress": the old backend has not noticed yet; ask again. */
        if (sb_pg__now_ms() + RESOLVE_POLL_MS >= deadline_ms)
            break;
        sleep_ms(RESOLVE_POLL_MS);
    }
    set_error(c, "connection lost after COMMIT was sent; outcome unknown", lost);
    return SB_PG_UNKNOWN;
}

/* Ends the failed transaction; losing the connection instead also ends it. */
static void roll_back(sb_pg_conn_t *c, int64_t deadline_ms) {
    char why[sizeof c->error];
    memcpy(why, c->error, sizeof why);
    if (!(send_query(c, "ROLLBACK", 0, NULL) && PQpipelineSync(c->pg) &&
          expect(c, deadline_ms, PGRES_COMMAND_OK, NULL, 0) &&
          expect(c, deadline_ms, PGRES_PIPELINE_SYNC, NULL, 0)))
        drop(c);
    memcpy(c->error, why, sizeof why);
}

/* Reads the statements' results, COMMIT's and the sync's. Returns false when
 * the connection was lost; *failed is the failing statement or -1. */
static bool read_batch(sb_pg_conn_t *c, const sb_pg_stmt_t *stmts, size_t n, int64_t deadline_ms,
                       int *failed) {
    for (size_t i = 0; i < n; i++) {
        PGresult *r = next_result(c, deadline_ms);
        if (!r)
            return false;
        ExecStatusType st = PQresultStatus(r);
        if ((st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) && stmts[i].on_result)
            stmts[i].on_result(stmts[i].ud, r);
        if (st == PGRES_FATAL_ERROR && *failed < 0) {
            *failed = (int)i;
            set_error(c, "statement failed", PQresultErrorMessage(r));
        }
        PQclear(r);
    }
    /* COMMIT: PGRES_PIPELINE_ABORTED after a failed statement. */
    PGresult *r = next_result(c, deadline_ms);
    if (!r)
        return false;
    if (*failed < 0 && PQresultStatus(r) != PGRES_COMMAND_OK) {
        *failed = (int)n;
        set_error(c, "COMMIT failed", PQresultErrorMessage(r));
    }
    PQclear(r);
    return expect(c, deadline_ms, PGRES_PIPELINE_SYNC, NULL, 0);
}

sb_pg_outcome_t sb_pg_conn_run(sb_pg_conn_t *c, const sb_pg_stmt_t *stmts, size_t n,
                               int64_t deadline_ms, int *failed_stmt) {
    char xid[32] = "";
    *failed_stmt = -1;
    /* A connection found dead at BEGIN (the server restarted since the last
     * batch) is replaced once: nothing of the batch was sent yet. */
    for (int attempt = 0;; attempt++) {
        if (sb_pg_conn_ready(c, deadline_ms) != SB_OK)
            return SB_PG_NOT_COMMITTED;
        if (begin(c, deadline_ms, xid, sizeof xid))
            break;
        drop(c);
        if (attempt == 1)
            return SB_PG_NOT_COMMITTED;
    }
    bool sent = true;
    for (size_t i = 0; i < n && sent; i++)
        sent = send_query(c, stmts[i].sql, stmts[i].nparams, stmts[i].params);
    if (!sent || !send_query(c, "COMMIT", 0, NULL) || !PQpipelineSync(c->pg)) {
        drop(c); /* COMMIT never left: the server rolls the transaction back */
        return SB_PG_NOT_COMMITTED;
    }
    if (!read_batch(c, stmts, n, deadline_ms, failed_stmt))
        return resolve(c, xid, deadline_ms);
    if (*failed_stmt < 0)
        return SB_PG_COMMITTED;
    roll_back(c, deadline_ms);
    return SB_PG_FAILED;
}

/* ---- interactive transactions (the store's batches) ---------------------------------- */

void sb_pg_conn_drop(sb_pg_conn_t *c) { drop(c); }

int sb_pg_conn_begin(sb_pg_conn_t *c, int64_t deadline_ms) {
    /* A connection found dead at BEGIN (the server restarted since the last
     * batch) is replaced once: nothing of the batch was sent yet. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (sb_pg_conn_ready(c, deadline_ms) != SB_OK)
            return SB_ETIMEOUT;
        if (begin(c, deadline_ms, c->xid, sizeof c->xid))
            return SB_OK;
        drop(c);
    }
    return SB_EIO;
}

sb_pg_outcome_t sb_pg_conn_commit(sb_pg_conn_t *c, int64_t deadline_ms) {
    if (!c->pg || !send_query(c, "COMMIT", 0, NULL) || !PQpipelineSync(c->pg)) {
        sb_pg_conn_drop(c); /* COMMIT never left: the server rolls the transaction back */
        return SB_PG_NOT_COMMITTED;
    }
    PGresult *r = next_result(c, deadline_ms);
    if (!r)
        return resolve(c, c->xid, deadline_ms);
    /* COMMIT of a transaction left aborted answers "ROLLBACK". */
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0;
    if (!ok)
        set_error(c, "COMMIT failed", PQresultErrorMessage(r));
    PQclear(r);
    if (!expect(c, deadline_ms, PGRES_PIPELINE_SYNC, NULL, 0))
        sb_pg_conn_drop(c); /* the outcome is known; the connection is not usable */
    return ok ? SB_PG_COMMITTED : SB_PG_FAILED;
}
