/* PostgreSQL schema and migrations against a real throwaway cluster:
 * tests/run.sh runs this program under tests/lib/pg-cluster.sh, which puts
 * the database's URL in SB_PG_URL. */
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "store/pg_internal.h"
#include "store/store_internal.h" /* the SQLite schema, to compare with */
#include "testlib.h"
#include "testlib_pg.h"

static const char *pg_url;

static PGconn *connect_db(void) {
    PGconn *db = PQconnectdb(pg_url);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "  cannot connect to %s: %s", pg_url, PQerrorMessage(db));
        PQfinish(db);
        return NULL;
    }
    PQclear(PQexec(db, "SET client_min_messages = warning"));
    return db;
}

/* An empty database: each test starts from nothing. */
static void reset(void) {
    PGconn *db = connect_db();
    CHECK(db && pg_exec_ok(db, "DROP SCHEMA public CASCADE") &&
          pg_exec_ok(db, "CREATE SCHEMA public"));
    PQfinish(db);
}

/* The rows of a one-column query joined by newlines (caller frees). */
static char *pg_lines(PGconn *db, const char *sql) {
    PGresult *res = PQexec(db, sql);
    size_t cap = 1, len = 0;
    for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++)
        cap += (size_t)PQgetlength(res, i, 0) + 1;
    char *out = calloc(1, cap);
    for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++)
        len += (size_t)sprintf(out + len, "%s\n", PQgetvalue(res, i, 0));
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "  %s: %s", sql, PQerrorMessage(db));
    PQclear(res);
    return out;
}

static char *sqlite_lines(sqlite3 *db, const char *sql) {
    sqlite3_stmt *s;
    size_t cap = 4096, len = 0;
    char *out = calloc(1, cap);
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return out;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(s, 0);
        size_t n = strlen(v);
        if (len + n + 2 > cap)
            out = realloc(out, cap = 2 * (cap + n));
        len += (size_t)sprintf(out + len, "%s\n", v);
    }
    sqlite3_finalize(s);
    return out;
}

static int count_rows(PGconn *db, const char *sql) {
    PGresult *res = PQexec(db, sql);
    int n = PQresultStatus(res) == PGRES_TUPLES_OK ? atoi(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    return n;
}

TEST(migrates_an_empty_database_once) {
    reset();
    PGconn *db = connect_db();
    char err[512] = "";
    CHECK_EQ(sb_store_pg__migrate(db, err, sizeof err), SB_OK);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM switchboard_schema"),
             sb_store_pg__schema_version());
    char *names = pg_lines(db, "SELECT version || ' ' || name FROM switchboard_schema ORDER BY 1");
    CHECK(strncmp(names, "1 initial schema\n2 idempotency keys\n", 36) == 0);
    free(names);
    /* Deliveries carry no foreign key (pg_schema.c): appends skip its check. */
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND "
                            "conrelid = 'message_deliveries'::regclass"),
             0);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND "
                            "conrelid = 'message_reads'::regclass"),
             1);
    /* Every text column compares as bytes (the "C" collation), as SQLite's
     * BINARY, whatever the database's locale. */
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM information_schema.columns WHERE table_schema "
                            "= current_schema() AND data_type = 'text' AND table_name <> "
                            "'switchboard_schema' AND collation_name IS DISTINCT FROM 'C'"),
             0);
    CHECK(count_rows(db, "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                         "current_schema() AND collation_name = 'C'") > 40);
    /* A second start finds nothing to do and keeps the data. */
    CHECK(pg_exec_ok(db, "INSERT INTO posts(id, owner_id) VALUES('p1', 'u1')"));
    CHECK_EQ(sb_store_pg__migrate(db, err, sizeof err), SB_OK);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM switchboard_schema"),
             sb_store_pg__schema_version());
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM posts"), 1);
    if (err[0])
        fprintf(stderr, "  %s\n", err);
    PQfinish(db);
}

/* Same version, same tables, columns and indexes as SQLite's migrations.c:
 * a migration added to one store and not the other fails here. */
TEST(has_the_same_schema_as_sqlite) {
    reset();
    PGconn *pg = connect_db();
    sqlite3 *lite = NULL;
    char err[512] = "";
    CHECK_EQ(sb_store_pg__migrate(pg, err, sizeof err), SB_OK);
    CHECK_EQ(sqlite3_open(":memory:", &lite), SQLITE_OK);
    CHECK_EQ(sb_store__migrate(lite, err, sizeof err), SB_OK);
    if (sb_store__schema_version() != sb_store_pg__schema_version())
        fprintf(stderr,
                "  SQLite schema version %d, PostgreSQL %d: give each SQLite migration its "
                "twin in src/store/pg_schema.c\n",
                sb_store__schema_version(), sb_store_pg__schema_version());
    CHECK_EQ(sb_store__schema_version(), sb_store_pg__schema_version());

    char *pc =
        pg_lines(pg, "SELECT table_name || '.' || column_name FROM information_schema.columns "
                     "WHERE table_schema = 'public' AND table_name <> 'switchboard_schema' "
                     "ORDER BY 1");
    char *lc = sqlite_lines(lite, "SELECT m.name || '.' || p.name FROM sqlite_master m, "
                                  "pragma_table_info(m.name) p WHERE m.type = 'table' "
                                  "AND m.name NOT LIKE 'sqlite_%' ORDER BY 1");
    char *pi = pg_lines(pg, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' "
                            "AND indexname NOT LIKE '%\\_pkey' ORDER BY 1");
    char *li = sqlite_lines(lite, "SELECT name FROM sqlite_master WHERE type = 'index' "
                                  "AND name NOT LIKE 'sqlite_autoindex%' ORDER BY 1");
    CHECK(strlen(lc) > 100 && strlen(li) > 50);
    CHECK(strcmp(pc, lc) == 0);
    CHECK(strcmp(pi, li) == 0);
    if (strcmp(pc, lc) != 0 || strcmp(pi, li) != 0)
        fprintf(stderr, "  PostgreSQL:\n%s%s  SQLite:\n%s%s", pc, pi, lc, li);
    free(pc), free(lc), free(pi), free(li);
    sqlite3_close(lite);
    PQfinish(pg);
}

/* Servers starting together against an empty database: each waits on the
 * advisory lock, so every migration runs once and none fails. Without the
 * lock, concurrent CREATE TABLEs collide and some process exits 1. */
TEST(servers_starting_together_do_not_race) {
    enum { N = 6 };
    reset();
    int gate[2];
    CHECK_EQ(pipe(gate), 0);
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(gate[1]);
            PGconn *db = connect_db();
            char c, err[512] = "";
            (void)!read(gate[0], &c, 1); /* returns 0 when the parent opens the gate */
            int rc = db ? sb_store_pg__migrate(db, err, sizeof err) : SB_EIO;
            if (rc != SB_OK)
                fprintf(stderr, "  child %d: %s\n", i, err);
            PQfinish(db);
            _exit(rc == SB_OK ? 0 : 1);
        }
    }
    close(gate[0]);
    usleep(200 * 1000); /* let every child connect; correctness does not depend on it */
    close(gate[1]);
    for (int i = 0; i < N; i++) {
        int status = -1;
        CHECK_EQ(waitpid(pids[i], &status, 0), pids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    PGconn *db = connect_db();
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM switchboard_schema"),
             sb_store_pg__schema_version());
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM information_schema.tables "
                            "WHERE table_schema = 'public' AND table_name = 'messages'"),
             1);
    PQfinish(db);
}

/* The appends' run is prepared (store_pg_cmds.c): its generic plan, made
 * once per connection and kept as the tables grow, must find each
 * recipient's newest delivery by the key even when made on an empty
 * database, never by reading the table. */
TEST(appends_run_generic_plan_reads_by_key) {
    reset();
    PGconn *db = connect_db();
    char err[512] = "";
    CHECK_EQ(sb_store_pg__migrate(db, err, sizeof err), SB_OK);
    CHECK(pg_exec_ok(db, "PREPARE run AS " SB_STORE__PG_APPEND_GROUP));
    CHECK(pg_exec_ok(db, "SET plan_cache_mode = force_generic_plan"));
    char *plan = pg_lines(db, "EXPLAIN EXECUTE run(NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
                              "NULL, NULL, NULL, NULL, NULL, NULL)");
    CHECK(strstr(plan, "Index Only Scan Backward using message_deliveries_pkey") != NULL);
    CHECK(strstr(plan, "Seq Scan") == NULL);
    if (!strstr(plan, "message_deliveries_pkey") || strstr(plan, "Seq Scan"))
        fprintf(stderr, "  %s", plan);
    free(plan);
    PQfinish(db);
}

static const char *const pg_text[SB_SQL__COUNT] = {
#define PG_TEXT(name, sql, pg) [SB_SQL_##name] = pg,
    SB_STORE__SQL(PG_TEXT)
#undef PG_TEXT
};

/* A confirmation only sets `delivered`: with no index on it and room kept on
 * each page, the new row version stays on its page and no index gets an
 * entry (a heap-only update). An index on the flag, or full pages, and each
 * confirmation costs a row and an index entry more (docs/store.md). */
TEST(confirmations_are_heap_only_updates) {
    reset();
    PGconn *db = connect_db();
    char err[512] = "";
    CHECK_EQ(sb_store_pg__migrate(db, err, sizeof err), SB_OK);
    CHECK(pg_exec_ok(db, "INSERT INTO message_deliveries(user_id, message_id) "
                         "SELECT 'user-' || (i % 50), i FROM generate_series(1, 2000) i"));
    for (int run = 0; run < 4; run++) { /* four confirmation runs of 500 */
        char users[8192], ids[8192];
        size_t nu = 0, ni = 0;
        for (int i = run * 500 + 1; i <= run * 500 + 500; i++) {
            nu += (size_t)snprintf(users + nu, sizeof users - nu, "%suser-%d", nu ? "," : "{",
                                   i % 50);
            ni += (size_t)snprintf(ids + ni, sizeof ids - ni, "%s%d", ni ? "," : "{", i);
        }
        snprintf(users + nu, sizeof users - nu, "}");
        snprintf(ids + ni, sizeof ids - ni, "}");
        const char *params[] = {users, ids};
        PGresult *res =
            PQexecParams(db, pg_text[SB_SQL_MSG_DELIVERED_GROUP], 2, NULL, params, NULL, NULL, 0);
        CHECK_EQ(PQresultStatus(res), PGRES_COMMAND_OK);
        CHECK(strcmp(PQcmdTuples(res), "500") == 0);
        PQclear(res);
    }
    CHECK(pg_exec_ok(db, "SELECT pg_stat_force_next_flush()"));
    CHECK_EQ(count_rows(db, "SELECT n_tup_upd FROM pg_stat_user_tables "
                            "WHERE relname = 'message_deliveries'"),
             2000);
    CHECK_EQ(count_rows(db, "SELECT n_tup_hot_upd FROM pg_stat_user_tables "
                            "WHERE relname = 'message_deliveries'"),
             2000);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM message_deliveries WHERE delivered = 1"), 2000);
    PQfinish(db);
}

/* Upgrading a database that has deliveries: each user's floor starts just
 * below their first pending one (or at their newest), so no backlog after
 * the upgrade reads a whole history, and none misses a pending row. */
TEST(upgrade_sets_each_users_delivery_floor) {
    reset();
    PGconn *db = connect_db();
    char err[512] = "";
    CHECK_EQ(sb_store_pg__migrate(db, err, sizeof err), SB_OK);
    /* Back to the version before "delivery floors", with rows written then. */
    char back[160];
    snprintf(back, sizeof back, "DELETE FROM switchboard_schema WHERE version = %d",
             sb_store_pg__schema_version());
    CHECK(pg_exec_ok(db, "DROP TABLE message_delivery_floors") &&
          pg_exec_ok(db, "CREATE INDEX message_deliveries_pending ON "
                         "message_deliveries(user_id, message_id) WHERE delivered = 0") &&
          pg_exec_ok(db, back));
    CHECK(pg_exec_ok(db, "INSERT INTO message_deliveries(user_id, message_id, delivered) VALUES "
                         "('ann', 1, 1), ('ann', 2, 0), ('ann', 3, 1), ('ann', 4, 0), "
                         "('bo', 2, 1), ('bo', 5, 1)"));
    CHECK_EQ(sb_store_pg__migrate(db, err, sizeof err), SB_OK);
    CHECK_EQ(count_rows(db, "SELECT upto FROM message_delivery_floors WHERE user_id = 'ann'"), 1);
    CHECK_EQ(count_rows(db, "SELECT upto FROM message_delivery_floors WHERE user_id = 'bo'"), 5);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM pg_indexes "
                            "WHERE indexname = 'message_deliveries_pending'"),
             0);
    PQfinish(db);
}

TEST(refuses_a_newer_schema) {
    reset();
    PGconn *db = connect_db();
    char err[512] = "", sql[128];
    CHECK_EQ(sb_store_pg__migrate(db, err, sizeof err), SB_OK);
    snprintf(sql, sizeof sql, "INSERT INTO switchboard_schema(version, name) VALUES(%d, 'future')",
             sb_store_pg__schema_version() + 1);
    CHECK(pg_exec_ok(db, sql));
    err[0] = 0;
    CHECK_EQ(sb_store_pg__migrate(db, err, sizeof err), SB_EINVAL);
    CHECK(strstr(err, "newer than this build supports") != NULL);
    /* The refusal left no transaction open and changed nothing. */
    CHECK_EQ(PQtransactionStatus(db), PQTRANS_IDLE);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM switchboard_schema"),
             sb_store_pg__schema_version() + 1);
    PQfinish(db);
}

/* A failing migration rolls back whole: its tables and version row are gone. */
TEST(a_failed_migration_leaves_the_previous_version) {
    reset();
    PGconn *db = connect_db();
    char err[512] = "";
    /* A table the first migration wants to create makes it fail half-way. */
    CHECK(pg_exec_ok(db, "CREATE TABLE posts(x integer)"));
    CHECK_EQ(sb_store_pg__migrate(db, err, sizeof err), SB_EIO);
    CHECK(strstr(err, "migration 1 (initial schema) failed") != NULL);
    CHECK(strchr(err, '\n') == NULL);
    CHECK_EQ(PQtransactionStatus(db), PQTRANS_IDLE);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM information_schema.tables "
                            "WHERE table_schema = 'public' AND table_name IN "
                            "('users', 'switchboard_schema')"),
             0);
    PQfinish(db);
}

int main(void) {
    pg_url = getenv("SB_PG_URL");
    if (!pg_url) {
        fprintf(stderr, "SB_PG_URL is not set: run me as tests/lib/pg-cluster.sh run %s\n",
                "build/tests/test_pg_schema");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(migrates_an_empty_database_once);
    RUN(has_the_same_schema_as_sqlite);
    RUN(servers_starting_together_do_not_race);
    RUN(refuses_a_newer_schema);
    RUN(appends_run_generic_plan_reads_by_key);
    RUN(confirmations_are_heap_only_updates);
    RUN(upgrade_sets_each_users_delivery_floor);
    RUN(a_failed_migration_leaves_the_previous_version);
    TEST_MAIN_END();
}
