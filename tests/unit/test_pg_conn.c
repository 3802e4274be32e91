/* The store thread's PostgreSQL connection against a real throwaway cluster
 * (tests/run.sh runs this under tests/lib/pg-cluster.sh): batches commit or
 * roll back whole, a connection lost mid-batch is resolved by transaction id,
 * a stopped server turns into a bounded failure and a restart into a
 * reconnection without help. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "store/pg_internal.h"
#include "testlib.h"

static const char *pg_url, *pg_dir, *pg_helper;

static PGconn *admin(void) {
    PGconn *db = PQconnectdb(pg_url);
    if (PQstatus(db) != CONNECTION_OK)
        fprintf(stderr, "  cannot connect: %s", PQerrorMessage(db));
    return db;
}

static int count_rows(const char *sql) {
    PGconn *db = admin();
    PGresult *res = PQexec(db, sql);
    int n = PQresultStatus(res) == PGRES_TUPLES_OK ? atoi(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    PQfinish(db);
    return n;
}

static void on_count(void *ud, const PGresult *res) {
    *(int *)ud = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : -1;
}

static int helper(const char *verb) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s'", pg_helper, verb, pg_dir);
    return system(cmd);
}

static sb_pg_conn_t conn;

TEST(commits_a_batch_in_one_round_of_statements) {
    const char *a[] = {"1", "one"}, *b[] = {"2", NULL};
    int seen = -1;
    sb_pg_stmt_t stmts[] = {
        {"INSERT INTO t(id, v) VALUES($1::integer, $2)", 2, a, NULL, NULL},
        {"INSERT INTO t(id, v) VALUES($1::integer, $2)", 2, b, NULL, NULL},
        {"SELECT count(*) FROM t", 0, NULL, on_count, &seen},
    };
    int failed = 99;
    sb_pg_outcome_t o = sb_pg_conn_run(&conn, stmts, 3, sb_pg__now_ms() + 10000, &failed);
    CHECK_EQ(o, SB_PG_COMMITTED);
    CHECK_EQ(failed, -1);
    CHECK_EQ(seen, 2);
    CHECK_EQ(count_rows("SELECT count(*) FROM t WHERE id IN (1, 2)"), 2);
    CHECK_EQ(count_rows("SELECT count(*) FROM t WHERE id = 2 AND v IS NULL"), 1);
    CHECK_EQ(conn.connects, 1);
}

TEST(a_failing_statement_rolls_the_whole_batch_back) {
    const char *a[] = {"10"}, *dup[] = {"1"}, *c[] = {"11"};
    sb_pg_stmt_t stmts[] = {
        {"INSERT INTO t(id) VALUES($1::integer)", 1, a, NULL, NULL},
        {"INSERT INTO t(id) VALUES($1::integer)", 1, dup, NULL, NULL},
        {"INSERT INTO t(id) VALUES($1::integer)", 1, c, NULL, NULL},
    };
    int failed = 99;
    CHECK_EQ(sb_pg_conn_run(&conn, stmts, 3, sb_pg__now_ms() + 10000, &failed), SB_PG_FAILED);
    CHECK_EQ(failed, 1);
    CHECK(strstr(conn.error, "duplicate key") != NULL);
    CHECK(strchr(conn.error, '\n') == NULL);
    CHECK_EQ(count_rows("SELECT count(*) FROM t WHERE id IN (10, 11)"), 0);
    /* The same connection goes on: no reconnection was needed. */
    CHECK_EQ(sb_pg_conn_run(&conn, stmts, 1, sb_pg__now_ms() + 10000, &failed), SB_PG_COMMITTED);
    CHECK_EQ(count_rows("SELECT count(*) FROM t WHERE id = 10"), 1);
    CHECK_EQ(conn.connects, 1);
}

/* Ends the backend running `SELECT pg_sleep(30)` from another connection
 * once it shows up; the child exits 0 if it did. */
static pid_t terminate_sleeper_later(void) {
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    PGconn *db = admin();
    for (int i = 0; i < 400; i++) {
        PGresult *res = PQexec(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'");
        int hit = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
        PQclear(res);
        if (hit) {
            PQfinish(db);
            _exit(0);
        }
        usleep(50 * 1000);
    }
    _exit(1);
}

/* The connection dies after BEGIN, with the statements in flight: the
 * transaction id tells a new connection it was rolled back, so the batch is
 * reported as certainly not committed (safe to retry). */
TEST(a_connection_lost_mid_batch_is_resolved_by_transaction_id) {
    uint64_t before = conn.connects;
    pid_t killer = terminate_sleeper_later();
    const char *a[] = {"20"};
    sb_pg_stmt_t stmts[] = {
        {"INSERT INTO t(id) VALUES($1::integer)", 1, a, NULL, NULL},
        {"SELECT pg_sleep(30)", 0, NULL, NULL, NULL},
    };
    int failed = 99, status = -1;
    sb_pg_outcome_t o = sb_pg_conn_run(&conn, stmts, 2, sb_pg__now_ms() + 20000, &failed);
    CHECK_EQ(waitpid(killer, &status, 0), killer);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (o != SB_PG_NOT_COMMITTED)
        fprintf(stderr, "  outcome %s: %s\n", sb_pg_outcome_name(o), conn.error);
    CHECK_EQ(o, SB_PG_NOT_COMMITTED);
    CHECK(strstr(conn.error, "connection lost") != NULL);
    CHECK_EQ(conn.connects, before + 1); /* reconnected to ask pg_xact_status */
    CHECK_EQ(count_rows("SELECT count(*) FROM t WHERE id = 20"), 0);
}

/* PostgreSQL stopped: a batch fails by its deadline instead of hanging, and
 * once the server is back the next batch reconnects by itself. */
TEST(a_stopped_server_fails_by_the_deadline_then_reconnects) {
    uint64_t before = conn.connects;
    CHECK_EQ(helper("stop"), 0);
    const char *a[] = {"30"};
    sb_pg_stmt_t stmts[] = {{"INSERT INTO t(id) VALUES($1::integer)", 1, a, NULL, NULL}};
    int failed = 99;
    for (int i = 0; i < 3; i++) {
        int64_t deadline = sb_pg__now_ms() + 1000;
        CHECK_EQ(sb_pg_conn_run(&conn, stmts, 1, deadline, &failed), SB_PG_NOT_COMMITTED);
        /* A protocol bound, not a speed claim: generous for a loaded machine. */
        CHECK(sb_pg__now_ms() <= deadline + 5000);
        CHECK(strstr(conn.error, "cannot connect") || strstr(conn.error, "connection lost"));
    }
    CHECK(conn.pg == NULL);
    CHECK_EQ(helper("start"), 0);
    /* Backoff is capped (5 s by default), so a 20 s deadline spans an attempt. */
    CHECK_EQ(sb_pg_conn_run(&conn, stmts, 1, sb_pg__now_ms() + 20000, &failed), SB_PG_COMMITTED);
    CHECK_EQ(conn.connects, before + 1);
    CHECK_EQ(count_rows("SELECT count(*) FROM t WHERE id = 30"), 1);
}

/* COMMIT is slow (a deferred trigger sleeps in it) and the deadline passes
 * while it runs: the outcome is UNKNOWN, never "not committed", and indeed
 * the transaction commits after the client gave up. This is why UNKNOWN
 * must neither be acknowledged nor retried unless the operation is
 * idempotent. */
TEST(a_deadline_during_commit_is_unknown_and_may_still_commit) {
    PGconn *db = admin();
    PQclear(PQexec(db,
                   "CREATE TABLE slow(id integer);"
                   "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN PERFORM pg_sleep(5); RETURN NULL; END $$;"
                   "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON slow "
                   "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()"));
    PQfinish(db);
    sb_pg_stmt_t stmts[] = {{"INSERT INTO slow(id) VALUES(1)", 0, NULL, NULL, NULL}};
    int failed = 99;
    sb_pg_outcome_t o = sb_pg_conn_run(&conn, stmts, 1, sb_pg__now_ms() + 2500, &failed);
    CHECK_EQ(o, SB_PG_UNKNOWN);
    CHECK(strstr(conn.error, "outcome unknown") != NULL);
    int rows = 0;
    for (int i = 0; i < 400 && rows == 0; i++) {
        rows = count_rows("SELECT count(*) FROM slow");
        if (rows == 0)
            usleep(50 * 1000);
    }
    CHECK_EQ(rows, 1);
}

TEST(a_wrong_password_is_a_clear_bounded_failure) {
    char url[512];
    snprintf(url, sizeof url, "%s", pg_url);
    char *pw = strstr(url, ":switchboard-test@");
    CHECK(pw != NULL);
    if (!pw)
        return;
    memcpy(pw, ":wrong-password-x@", 18);
    sb_pg_conn_t bad;
    /* A long backoff: the first refusal ends the wait, however long the
     * server took to answer it on a loaded machine. */
    sb_pg_conn_init(&bad, &(sb_pg_conn_config_t){.conninfo = url, .backoff_min_ms = 600000});
    CHECK_EQ(sb_pg_conn_ready(&bad, sb_pg__now_ms() + 60000), SB_ETIMEOUT);
    CHECK(strstr(bad.error, "password authentication failed") != NULL);
    CHECK_EQ(bad.connects, 0);
    sb_pg_conn_dispose(&bad);
}

int main(void) {
    pg_url = getenv("SB_PG_URL");
    pg_dir = getenv("SB_PG_DIR");
    pg_helper = getenv("SB_PG_HELPER");
    if (!pg_url || !pg_dir || !pg_helper) {
        fprintf(stderr, "SB_PG_URL is not set: run me as tests/lib/pg-cluster.sh run %s\n",
                "build/tests/test_pg_conn");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    PGconn *db = admin();
    PQclear(PQexec(db, "CREATE TABLE t(id integer PRIMARY KEY, v text)"));
    PQfinish(db);
    sb_pg_conn_init(&conn, &(sb_pg_conn_config_t){.conninfo = pg_url});
    RUN(commits_a_batch_in_one_round_of_statements);
    RUN(a_failing_statement_rolls_the_whole_batch_back);
    RUN(a_connection_lost_mid_batch_is_resolved_by_transaction_id);
    RUN(a_stopped_server_fails_by_the_deadline_then_reconnects);
    RUN(a_deadline_during_commit_is_unknown_and_may_still_commit);
    RUN(a_wrong_password_is_a_clear_bounded_failure);
    sb_pg_conn_dispose(&conn);
    TEST_MAIN_END();
}
