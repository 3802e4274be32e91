/* Store tests against a real SQLite file in a fresh temporary directory and
 * a real event loop: each test submits requests, runs the loop until every
 * expected completion has arrived (a guard timer ends a stuck run), and
 * checks exact results and error codes. test_pg_store.c runs the same tests
 * (all but the SQLite file ones) against PostgreSQL: SB_TEST_PG. */
#include "store/store.h"
#include "store/store_internal.h" /* sb_store__schema_version() */

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "core/loop.h"
#include "testlib.h"

#ifndef SB_TEST_PG
#define SB_TEST_PG 0
#endif
#if SB_TEST_PG
#include "testlib_pg.h"

/* Every test starts from an empty database, as from an empty directory. */
static void pg_empty_database(void) {
    const char *url = getenv("SB_PG_URL");
    PGconn *db = url ? PQconnectdb(url) : NULL;
    if (!db || PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "SB_PG_URL unset or unreachable: run under tests/lib/pg-cluster.sh run\n");
        exit(2);
    }
    PGresult *res = PQexec(db, "SET client_min_messages = warning; "
                               "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "cannot empty the database: %s", PQerrorMessage(db));
        exit(2);
    }
    PQclear(res);
    PQfinish(db);
}
#endif

#define S(lit) SB_LIT(lit)

/* Batches that PostgreSQL's store ran again careful (a guess went wrong):
 * what should run pipelined must leave it at 0. SQLite has no guesses. */
#if SB_TEST_PG
#include "store/store_pg_internal.h"
static uint64_t careful_runs(const sb_store_t *st) {
    uint64_t n = 0;
    for (size_t i = 0; i < st->pg->n; i++)
        n += st->pg->members[i].careful_runs;
    return n;
}
#else
static uint64_t careful_runs(const sb_store_t *st) {
    (void)st;
    return 0;
}
#endif

/* ---- harness: one loop, one temp dir per test ---------------------------------- */

static sb_loop_t g_loop;
static sb_timer_t g_guard;
static bool g_timed_out;
static int g_outstanding; /* submitted with SB_OK, callback not yet seen */
static int g_calls;       /* every callback, for "never called" checks */
static char g_dir[64];
static uint64_t g_guard_ms = 5000; /* wait_all()'s bound */

static void on_guard(sb_timer_t *t) {
    (void)t;
    g_timed_out = true;
    sb_loop_stop(&g_loop);
}

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/sb_store_test_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        exit(2);
    }
    if (sb_loop_init(&g_loop) != SB_OK)
        exit(2);
    sb_timer_init(&g_loop, &g_guard, on_guard);
    g_outstanding = g_calls = 0;
#if SB_TEST_PG
    pg_empty_database();
#endif
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void) {
    sb_timer_stop(&g_guard);
    sb_loop_dispose(&g_loop);
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static sb_store_t *open_with(sb_store_config_t cfg) {
    char err[256] = "";
    char dir[128];
    snprintf(dir, sizeof dir, "%s/data", g_dir);
    cfg.data_dir = dir;
#if SB_TEST_PG
    cfg.database_url = getenv("SB_PG_URL");
#endif
    sb_store_t *st = sb_store_open(&g_loop, &cfg, err, sizeof err);
    if (!st)
        fprintf(stderr, "  open failed: %s\n", err);
    return st;
}

static sb_store_t *open_store(void) { return open_with((sb_store_config_t){0}); }

/* Counts a submit that must later complete. */
static int submitted(int rc) {
    if (rc == SB_OK)
        g_outstanding++;
    return rc;
}

static void completed(void) {
    g_calls++;
    if (--g_outstanding == 0)
        sb_loop_stop(&g_loop);
}

/* Runs the loop until every submitted request has completed (5 s guard). */
static bool wait_all(void) {
    if (g_outstanding == 0)
        return true;
    g_loop.stopping = false;
    g_timed_out = false;
    g_loop.now_ms = sb_clock_ms();
    sb_timer_start(&g_guard, g_guard_ms);
    sb_loop_run(&g_loop);
    sb_timer_stop(&g_guard);
    return !g_timed_out && g_outstanding == 0;
}

/* ---- captured results: copies made inside the callbacks ------------------------- */

typedef struct {
    int calls, rc;
    bool yes;
    char *s[8];
    int64_t v[256];
    size_t n;
    int64_t newest; /* undelivered pages */
} cap_t;

static void cap_reset(cap_t *c) {
    for (int i = 0; i < 8; i++)
        free(c->s[i]);
    memset(c, 0, sizeof *c);
}

static void cap_s(cap_t *c, int i, const char *s) {
    free(c->s[i]);
    c->s[i] = s ? strdup(s) : NULL;
}

static cap_t *cap_begin(void *ud, int rc) {
    cap_t *c = ud;
    c->calls++;
    c->rc = rc;
    return c;
}

static void on_done(void *ud, int rc) {
    cap_begin(ud, rc);
    completed();
}

static void on_sessions(void *ud, int rc, const sb_store_sessions_t *l) {
    cap_t *c = cap_begin(ud, rc);
    for (size_t i = 0; rc == SB_OK && i < l->n && i < 4; i++) {
        cap_s(c, (int)(2 * i), l->v[i].pid);
        cap_s(c, (int)(2 * i + 1), l->v[i].rooms);
        c->v[i] = l->v[i].disconnected_at_ms;
    }
    c->n = rc == SB_OK ? l->n : 0;
    completed();
}

static void on_bool(void *ud, int rc, bool yes) {
    cap_begin(ud, rc)->yes = yes;
    completed();
}

static void on_id(void *ud, int rc, const char *id) {
    cap_s(cap_begin(ud, rc), 0, id);
    completed();
}

static void on_user(void *ud, int rc, const sb_store_user_t *u) {
    cap_t *c = cap_begin(ud, rc);
    if (u) {
        cap_s(c, 0, u->id);
        cap_s(c, 1, u->name);
        cap_s(c, 2, u->avatar);
        c->v[0] = u->last_seen_ms;
    }
    completed();
}

static void on_strs(void *ud, int rc, const sb_store_strs_t *l) {
    cap_t *c = cap_begin(ud, rc);
    for (size_t i = 0; l && i < l->n && i < 8; i++)
        cap_s(c, (int)i, l->v[i]);
    c->n = l ? l->n : 0;
    completed();
}

static void on_ids(void *ud, int rc, const sb_store_ids_t *ids) {
    cap_t *c = cap_begin(ud, rc);
    for (size_t i = 0; ids && i < ids->n && i < 256; i++)
        c->v[i] = ids->v[i];
    c->n = ids ? ids->n : 0;
    completed();
}

static void on_msg(void *ud, int rc, const sb_store_msg_t *m) {
    cap_t *c = cap_begin(ud, rc);
    if (m) {
        c->v[0] = m->id;
        c->v[1] = m->created_at_ms;
        cap_s(c, 0, m->room);
        cap_s(c, 1, m->sender_id);
        cap_s(c, 2, m->content);
        cap_s(c, 3, m->type);
        cap_s(c, 4, m->sender_name);
        c->yes = m->replayed;
    }
    completed();
}

static void on_msgs(void *ud, int rc, const sb_store_msgs_t *p) {
    cap_t *c = cap_begin(ud, rc);
    for (size_t i = 0; p && i < p->n && i < 256; i++)
        c->v[i] = p->v[i].id;
    if (p && p->n) {
        cap_s(c, 0, p->v[0].room);
        cap_s(c, 1, p->v[0].sender_id);
        cap_s(c, 2, p->v[0].content);
        cap_s(c, 3, p->v[0].sender_name);
    }
    c->n = p ? p->n : 0;
    c->newest = p ? p->newest : 0;
    completed();
}

static void on_notif(void *ud, int rc, const sb_store_notification_t *n) {
    cap_t *c = cap_begin(ud, rc);
    if (n) {
        c->v[0] = n->id;
        c->v[1] = n->created_at_ms;
        c->yes = n->is_read;
        cap_s(c, 0, n->user_id);
        cap_s(c, 1, n->type);
        cap_s(c, 2, n->title);
        cap_s(c, 3, n->message);
        cap_s(c, 4, n->data);
    }
    completed();
}

static void on_notifs(void *ud, int rc, const sb_store_notifications_t *p) {
    cap_t *c = cap_begin(ud, rc);
    for (size_t i = 0; p && i < p->n && i < 256; i++)
        c->v[i] = p->v[i].id;
    if (p && p->n) {
        cap_s(c, 0, p->v[0].user_id);
        cap_s(c, 1, p->v[0].data);
        cap_s(c, 2, p->v[0].title);
        c->yes = p->v[0].is_read;
    }
    c->n = p ? p->n : 0;
    c->newest = p ? p->newest : 0;
    completed();
}

static void on_freq(void *ud, int rc, const sb_store_friend_request_t *f) {
    cap_t *c = cap_begin(ud, rc);
    if (f) {
        c->v[0] = f->id;
        cap_s(c, 0, f->from_id);
        cap_s(c, 1, f->to_id);
        cap_s(c, 2, f->status);
    }
    completed();
}

static void on_post(void *ud, int rc, const sb_store_post_t *p) {
    cap_t *c = cap_begin(ud, rc);
    if (p) {
        cap_s(c, 0, p->id);
        cap_s(c, 1, p->owner_id);
    }
    completed();
}

/* Reactions: s0 post, s1 owner, s2 "type=count,type=count", v0 total. */
static void on_reactions(void *ud, int rc, const sb_store_reactions_t *r) {
    cap_t *c = cap_begin(ud, rc);
    if (r) {
        char buf[256] = "";
        size_t o = 0;
        for (size_t i = 0; i < r->n && o < sizeof buf; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s=%lld", i ? "," : "", r->v[i].type,
                                  (long long)r->v[i].count);
        cap_s(c, 0, r->post_id);
        cap_s(c, 1, r->owner_id);
        cap_s(c, 2, buf);
        c->v[0] = r->total;
        c->n = r->n;
    }
    completed();
}

static void on_comment(void *ud, int rc, const sb_store_comment_t *cm) {
    cap_t *c = cap_begin(ud, rc);
    if (cm) {
        c->v[0] = cm->id;
        c->v[1] = cm->created_at_ms;
        cap_s(c, 0, cm->post_id);
        cap_s(c, 1, cm->owner_id);
        cap_s(c, 2, cm->user_id);
        cap_s(c, 3, cm->content);
    }
    completed();
}

static void on_doc(void *ud, int rc, const sb_store_doc_version_t *d) {
    cap_t *c = cap_begin(ud, rc);
    if (d) {
        c->v[0] = d->version;
        c->v[1] = d->created_at_ms;
        cap_s(c, 0, d->doc_id);
        cap_s(c, 1, d->user_id);
        cap_s(c, 2, d->changes);
    }
    completed();
}

/* Submits one request into a fresh capture and waits for its completion. */
#define DO(c, call)                                                                                \
    do {                                                                                           \
        cap_reset(c);                                                                              \
        CHECK_EQ(submitted(call), SB_OK);                                                          \
        CHECK(wait_all());                                                                         \
        CHECK_EQ((c)->calls, 1);                                                                   \
    } while (0)

#define STR_EQ(a, b) CHECK((a) && strcmp((a), (b)) == 0)

static int append(sb_store_t *st, sb_str_t room, sb_str_t sender, const char *text, cap_t *c) {
    sb_store_message_in_t m = {
        .room = room, .sender_id = sender, .content = sb_cstr(text), .created_at_ms = 1000};
    return submitted(sb_store_message_append(st, &m, on_msg, c));
}

/* ---- opening ---------------------------------------------------------------------- */

TEST(open_errors) {
    setup();
    char err[256];
    sb_store_config_t cfg = {0};
    CHECK(sb_store_open(&g_loop, &cfg, err, sizeof err) == NULL); /* no data_dir */
    CHECK(strstr(err, "data_dir") != NULL);

    /* A regular file where a directory should be. */
    char file[128], dir[256], db[320];
    snprintf(file, sizeof file, "%s/file", g_dir);
    FILE *f = fopen(file, "w");
    fputs("x", f);
    fclose(f);
    snprintf(dir, sizeof dir, "%s/sub", file);
    cfg.data_dir = dir;
    CHECK(sb_store_open(&g_loop, &cfg, err, sizeof err) == NULL);
    CHECK(strstr(err, "cannot create directory") != NULL);

    /* A file that is not a database. */
    snprintf(dir, sizeof dir, "%s/corrupt", g_dir);
    mkdir(dir, 0700);
    snprintf(db, sizeof db, "%s/switchboard.db", dir);
    f = fopen(db, "w");
    for (int i = 0; i < 8192; i++)
        fputc('x', f);
    fclose(f);
    cfg.data_dir = dir;
    CHECK(sb_store_open(&g_loop, &cfg, err, sizeof err) == NULL);
    CHECK(strstr(err, "not a database") != NULL);
    teardown();
}

TEST(open_creates_nested_dir_and_schema) {
    setup();
    char dir[160], path[200];
    snprintf(dir, sizeof dir, "%s/a/b/c", g_dir);
    sb_store_config_t cfg = {.data_dir = dir};
    char err[256];
    sb_store_t *st = sb_store_open(&g_loop, &cfg, err, sizeof err);
    CHECK(st != NULL);
    sb_store_close(st);
    snprintf(path, sizeof path, "%s/switchboard.db", dir);
    sqlite3 *db;
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    CHECK_EQ(sqlite3_step(s), SQLITE_ROW);
    CHECK_EQ(sqlite3_column_int(s, 0), sb_store__schema_version());
    sqlite3_finalize(s);
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
    CHECK_EQ(sqlite3_step(s), SQLITE_ROW);
    STR_EQ((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
    teardown();
}

TEST(migration_refuses_newer_schema) {
    setup();
    char dir[160], path[200], err[256] = "";
    snprintf(dir, sizeof dir, "%s/data", g_dir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/switchboard.db", dir);
    sqlite3 *db;
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(db, "CREATE TABLE future(x); PRAGMA user_version = 999", 0, 0, 0),
             SQLITE_OK);
    sqlite3_close(db);
    sb_store_config_t cfg = {.data_dir = dir};
    CHECK(sb_store_open(&g_loop, &cfg, err, sizeof err) == NULL);
    CHECK(strstr(err, "schema version 999 is newer") != NULL);
    char supports[32];
    snprintf(supports, sizeof supports, "supports (%d)", sb_store__schema_version());
    CHECK(strstr(err, supports) != NULL);
    teardown();
}

/* ---- recoverable sessions -------------------------------------------------------------- */

TEST(sessions_survive_and_expire) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0};
    DO(&c,
       sb_store_session_save(st, S("p-old"), S("/"), S("s1"), S("u1"), S("[]"), 1000, on_done, &c));
    DO(&c, sb_store_session_save(st, S("p-gone"), S("/"), S("s2"), S("u2"), S("[\"a\"]"), 5000,
                                 on_done, &c));
    DO(&c, sb_store_session_save(st, S("p-live"), S("/"), S("s3"), SB_STR_NULL, S("[]"), 0, on_done,
                                 &c));
    DO(&c, sb_store_session_save(st, S("p-other"), S("/chat"), S("s4"), S("u4"), S("[]"), 0,
                                 on_done, &c));
    DO(&c,
       sb_store_session_save(st, S("p-bad"), S("/"), S("s5"), S("u5"), S("[x"), 0, on_done, &c));
    CHECK_EQ(c.rc, SB_EINVAL); /* rooms must be JSON */
    CHECK_EQ(sb_store_session_save(st, S(""), S("/"), S("s"), S("u"), S("[]"), 0, on_done, &c),
             SB_EINVAL);
    /* Restart at t=9000 with a window from t=2000: the live one died with the
     * process (now disconnected at 9000), the oldest is past the window. */
    DO(&c, sb_store_session_load(st, S("/"), 2000, 9000, on_sessions, &c));
    CHECK(c.rc == SB_OK && c.n == 2);
    STR_EQ(c.s[0], "p-gone");
    STR_EQ(c.s[1], "[\"a\"]");
    CHECK_EQ(c.v[0], 5000);
    STR_EQ(c.s[2], "p-live");
    CHECK_EQ(c.v[1], 9000);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

#if !SB_TEST_PG
/* SQLite's page cache is emptied when the store is idle (store.c): 20,000
 * sessions, a few MiB of table and index, fill its 2 MiB; a second after
 * the last request SQLite holds under 1 MiB. */
TEST(sqlite_page_cache_emptied_when_idle) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0};
    for (unsigned i = 0; i < 20000; i++) {
        char pid[24], sid[24], owner[24], rooms[64];
        snprintf(pid, sizeof pid, "p%08x", i * 2654435761u); /* scattered, as random pids are */
        snprintf(sid, sizeof sid, "s%u", i);
        snprintf(owner, sizeof owner, "bench-u%u", i);
        snprintf(rooms, sizeof rooms, "[\"room-%u\",\"room-%u\"]", i / 10, 5000 + i / 10);
        CHECK_EQ(submitted(sb_store_session_save(st, sb_cstr(pid), S("/"), sb_cstr(sid),
                                                 sb_cstr(owner), sb_cstr(rooms), 0, on_done, &c)),
                 SB_OK);
        if (i % 1000 == 999)
            CHECK(wait_all());
    }
    sqlite3_int64 used = 0, peak = 0;
    CHECK_EQ(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &used, &peak, 0), SQLITE_OK);
    CHECK(peak > 2 * 1024 * 1024); /* the cache did fill */
    /* The store thread looks after a second without requests: given 20 s
     * on a loaded machine. */
    for (int i = 0; i < 200 && used >= 1024 * 1024; i++) {
        usleep(100 * 1000);
        sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &used, &peak, 0);
    }
    printf("# SQLite holds %lld bytes (peak %lld)\n", (long long)used, (long long)peak);
    CHECK(used > 0 && used < 1024 * 1024);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}
#endif

/* ---- users --------------------------------------------------------------------------- */

TEST(users) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0};
    DO(&c, sb_store_user_upsert(st, S("u1"), S("Alice"), SB_STR_NULL, 100, on_done, &c));
    CHECK_EQ(c.rc, SB_OK);
    DO(&c, sb_store_user_get(st, S("u1"), on_user, &c));
    CHECK_EQ(c.rc, SB_OK);
    STR_EQ(c.s[0], "u1");
    STR_EQ(c.s[1], "Alice");
    CHECK(c.s[2] == NULL);
    CHECK_EQ(c.v[0], 100);
    DO(&c, sb_store_user_upsert(st, S("u1"), S("Alicia"), S("https://a/x.png"), 200, on_done, &c));
    DO(&c, sb_store_user_get(st, S("u1"), on_user, &c));
    STR_EQ(c.s[1], "Alicia");
    STR_EQ(c.s[2], "https://a/x.png");
    CHECK_EQ(c.v[0], 200);
    DO(&c, sb_store_user_get(st, S("nobody"), on_user, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND);
    CHECK(c.s[0] == NULL);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* ---- conversations ---------------------------------------------------------------------- */

TEST(conversations) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0};
    sb_str_t members[] = {S("bob"), S("alice"), S("bob")};
    DO(&c, sb_store_conversation_create(st, S("team"), members, 3, S("Team"), on_id, &c));
    CHECK_EQ(c.rc, SB_OK);
    STR_EQ(c.s[0], "team");
    DO(&c, sb_store_conversation_create(st, S("team"), members, 1, SB_STR_NULL, on_id, &c));
    CHECK_EQ(c.rc, SB_EEXISTS);
    CHECK(c.s[0] == NULL);
    DO(&c, sb_store_conversation_members(st, S("team"), on_strs, &c));
    CHECK_EQ(c.n, 2);
    STR_EQ(c.s[0], "alice");
    STR_EQ(c.s[1], "bob");

    DO(&c, sb_store_conversation_create(st, SB_STR_NULL, members, 1, SB_STR_NULL, on_id, &c));
    CHECK_EQ(c.rc, SB_OK);
    CHECK(c.s[0] && strlen(c.s[0]) == 16 && strspn(c.s[0], "0123456789abcdef") == 16);
    char gen[32];
    snprintf(gen, sizeof gen, "%s", c.s[0] ? c.s[0] : "");
    DO(&c, sb_store_conversation_is_member(st, sb_cstr(gen), S("bob"), on_bool, &c));
    CHECK(c.rc == SB_OK && c.yes);

    DO(&c, sb_store_conversation_is_member(st, S("team"), S("alice"), on_bool, &c));
    CHECK(c.rc == SB_OK && c.yes);
    DO(&c, sb_store_conversation_is_member(st, S("team"), S("carol"), on_bool, &c));
    CHECK(c.rc == SB_OK && !c.yes);
    DO(&c, sb_store_conversation_is_member(st, S("nope"), S("alice"), on_bool, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND);
    DO(&c, sb_store_conversation_members(st, S("nope"), on_strs, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND);

    /* Caller-chosen ids may not squat on the direct-conversation namespace. */
    CHECK_EQ(
        sb_store_conversation_create(st, S("dm:5:alice:bob"), members, 1, SB_STR_NULL, on_id, &c),
        SB_EINVAL);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

TEST(conversation_update_and_delete) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0};
    sb_str_t members[] = {S("alice"), S("bob")}, next[] = {S("carol"), S("alice")};
    DO(&c, sb_store_conversation_create(st, S("team"), members, 2, S("Team"), on_id, &c));
    CHECK_EQ(c.rc, SB_OK);
    /* The answer is the members before the change. */
    DO(&c, sb_store_conversation_update(st, S("team"), S("Core"), next, 2, on_strs, &c));
    CHECK_EQ(c.rc, SB_OK);
    CHECK_EQ(c.n, 2);
    STR_EQ(c.s[0], "alice");
    STR_EQ(c.s[1], "bob");
    DO(&c, sb_store_conversation_update(st, S("team"), S("Core 2"), NULL, 0, on_strs, &c));
    CHECK_EQ(c.n, 2);
    STR_EQ(c.s[1], "carol");
    DO(&c, sb_store_conversation_is_member(st, S("team"), S("bob"), on_bool, &c));
    CHECK(c.rc == SB_OK && !c.yes);
    CHECK_EQ(sb_store_conversation_update(st, S("team"), SB_STR_NULL, NULL, 0, on_strs, &c),
             SB_EINVAL);
    CHECK_EQ(sb_store_conversation_update(st, S("dm:5:alice:bob"), S("x"), NULL, 0, on_strs, &c),
             SB_EINVAL);
    DO(&c, sb_store_conversation_update(st, S("nope"), S("x"), NULL, 0, on_strs, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND);

    DO(&c, sb_store_conversation_delete(st, S("team"), on_strs, &c));
    CHECK_EQ(c.rc, SB_OK);
    CHECK_EQ(c.n, 2);
    DO(&c, sb_store_conversation_members(st, S("team"), on_strs, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND);
    DO(&c, sb_store_conversation_delete(st, S("team"), on_strs, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND);
    /* The id is free again. */
    DO(&c, sb_store_conversation_create(st, S("team"), members, 2, SB_STR_NULL, on_id, &c));
    CHECK_EQ(c.rc, SB_OK);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

TEST(conversation_direct) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0};
    DO(&c, sb_store_conversation_direct(st, S("bob"), S("alice"), on_id, &c));
    CHECK_EQ(c.rc, SB_OK);
    STR_EQ(c.s[0], "dm:5:alice:bob");
    DO(&c, sb_store_conversation_direct(st, S("alice"), S("bob"), on_id, &c));
    STR_EQ(c.s[0], "dm:5:alice:bob");
    DO(&c, sb_store_conversation_members(st, S("dm:5:alice:bob"), on_strs, &c));
    CHECK_EQ(c.n, 2);
    STR_EQ(c.s[0], "alice");
    STR_EQ(c.s[1], "bob");

    /* Pairs whose naive "a:b" joins collide get different conversations. */
    DO(&c, sb_store_conversation_direct(st, S("a:b"), S("c"), on_id, &c));
    STR_EQ(c.s[0], "dm:3:a:b:c");
    DO(&c, sb_store_conversation_direct(st, S("a"), S("b:c"), on_id, &c));
    STR_EQ(c.s[0], "dm:1:a:b:c");
    DO(&c, sb_store_conversation_is_member(st, S("dm:1:a:b:c"), S("a:b"), on_bool, &c));
    CHECK(c.rc == SB_OK && !c.yes);
    /* A prefix pair: "ab" vs "abc" orders the shorter first. */
    DO(&c, sb_store_conversation_direct(st, S("abc"), S("ab"), on_id, &c));
    STR_EQ(c.s[0], "dm:2:ab:abc");

    CHECK_EQ(sb_store_conversation_direct(st, S("alice"), S("alice"), on_id, &c), SB_EINVAL);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* ---- messages ---------------------------------------------------------------------------------
 */

/* An append with direct_with opens the pair's direct conversation in its
 * own transaction: the id sb_store_direct_id() gives, both members, the
 * same conversation sb_store_conversation_direct() returns. */
TEST(message_append_opens_direct_conversation) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0};
    char id[SB_STORE_MAX_CONV_ID + 1], room[SB_STORE_MAX_CONV_ID + 16];
    CHECK_EQ(sb_store_direct_id(S("bob"), S("alice"), id, sizeof id), SB_OK);
    CHECK(strcmp(id, "dm:5:alice:bob") == 0);
    CHECK_EQ(sb_store_direct_id(S("bob"), S("bob"), id, sizeof id), SB_EINVAL);
    CHECK_EQ(sb_store_direct_id(S("bob"), S("alice"), id, 10), SB_EINVAL);
    CHECK_EQ(sb_store_direct_id(S("bob"), S("alice"), id, sizeof id), SB_OK);
    snprintf(room, sizeof room, "conversation:%s", id);
    sb_str_t to[1] = {S("alice")};
    sb_store_message_in_t m = {.room = sb_cstr(room),
                               .sender_id = S("bob"),
                               .content = S("hi"),
                               .created_at_ms = 5,
                               .recipients = to,
                               .n_recipients = 1,
                               .direct_with = S("alice")};
    DO(&c, sb_store_message_append(st, &m, on_msg, &c));
    CHECK_EQ(c.rc, SB_OK);
    int64_t first = c.v[0];
    DO(&c, sb_store_conversation_members(st, sb_cstr(id), on_strs, &c));
    CHECK_EQ(c.n, 2);
    STR_EQ(c.s[0], "alice");
    STR_EQ(c.s[1], "bob");
    DO(&c, sb_store_message_append(st, &m, on_msg, &c)); /* it exists now: just the message */
    CHECK(c.rc == SB_OK && c.v[0] > first);
    DO(&c, sb_store_conversation_direct(st, S("alice"), S("bob"), on_id, &c));
    STR_EQ(c.s[0], id);
    DO(&c, sb_store_message_undelivered(st, S("alice"), 0, 10, on_msgs, &c));
    CHECK_EQ(c.n, 2);
    m.direct_with = S("bob"); /* with oneself */
    CHECK_EQ(sb_store_message_append(st, &m, on_msg, &c), SB_EINVAL);
    m.direct_with = (sb_str_t){"x\0y", 3};
    CHECK_EQ(sb_store_message_append(st, &m, on_msg, &c), SB_EINVAL);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* message:send by receiverId: sends to a new pair and to a known one share
 * a batch; each is stored once, the new pair's conversation and members
 * once, and (PostgreSQL) the batch stays pipelined: one statement each. */
TEST(direct_sends_new_and_known_pairs_in_one_batch) {
    setup();
    sb_store_t *st = open_with((sb_store_config_t){.pool_size = 1}); /* one thread: one batch */
    cap_t c = {0};
    sb_str_t to_bob[1] = {S("bob")}, to_dan[1] = {S("dan")}, to_cat[1] = {S("cat")};
    sb_store_message_in_t known = {.room = S("conversation:dm:3:amy:bob"),
                                   .sender_id = S("amy"),
                                   .content = S("k"),
                                   .created_at_ms = 7,
                                   .recipients = to_bob,
                                   .n_recipients = 1,
                                   .direct_with = S("bob")};
    DO(&c, sb_store_message_append(st, &known, on_msg, &c));
    CHECK_EQ(c.rc, SB_OK);
    CHECK_EQ(careful_runs(st), 0); /* a careful batch would hide the ones after it */
    enum { N = 40 };
    static cap_t pre[N], sent[6];
    for (int i = 0; i < N; i++) /* keeps the thread busy so what follows shares a batch */
        append(st, S("room:busy"), S("u"), "pre", &pre[i]);
    sb_store_message_in_t fresh = known, back = known, keyed = known;
    fresh.room = back.room = S("conversation:dm:3:cat:dan");
    fresh.sender_id = S("cat"), fresh.direct_with = S("dan"), fresh.recipients = to_dan;
    back.sender_id = S("dan"), back.direct_with = S("cat"), back.recipients = to_cat;
    keyed.room = S("conversation:dm:3:eve:fay");
    keyed.sender_id = S("eve"), keyed.direct_with = S("fay"), keyed.idempotency_key = S("k1");
    submitted(sb_store_message_append(st, &fresh, on_msg, &sent[0]));
    submitted(sb_store_message_append(st, &known, on_msg, &sent[1]));
    submitted(sb_store_message_append(st, &back, on_msg, &sent[2]));
    submitted(sb_store_conversation_direct(st, S("dan"), S("cat"), on_id, &sent[3]));
    submitted(sb_store_message_append(st, &keyed, on_msg, &sent[4]));
    submitted(sb_store_message_append(st, &keyed, on_msg, &sent[5]));
    CHECK(wait_all());
    for (int i = 0; i < 6; i++)
        CHECK_EQ(sent[i].rc, SB_OK);
    CHECK(sent[0].v[0] > pre[N - 1].v[0] && sent[1].v[0] > sent[0].v[0] &&
          sent[2].v[0] > sent[1].v[0] && sent[4].v[0] > sent[2].v[0]);
    STR_EQ(sent[3].s[0], "dm:3:cat:dan");
    CHECK(!sent[4].yes && sent[5].yes && sent[5].v[0] == sent[4].v[0]);
    CHECK_EQ(careful_runs(st), 0);
    const char *convs[] = {"dm:3:cat:dan", "dm:3:amy:bob", "dm:3:eve:fay"};
    for (int i = 0; i < 3; i++) {
        DO(&c, sb_store_conversation_members(st, sb_cstr(convs[i]), on_strs, &c));
        CHECK(c.rc == SB_OK && c.n == 2);
    }
    STR_EQ(c.s[0], "eve");
    STR_EQ(c.s[1], "fay");
    DO(&c, sb_store_message_history(st, S("conversation:dm:3:cat:dan"), 0, 10, on_msgs, &c));
    CHECK(c.n == 2 && c.v[0] == sent[2].v[0] && c.v[1] == sent[0].v[0]);
    DO(&c, sb_store_message_history(st, S("conversation:dm:3:amy:bob"), 0, 10, on_msgs, &c));
    CHECK_EQ(c.n, 2);
    DO(&c, sb_store_message_history(st, S("conversation:dm:3:eve:fay"), 0, 10, on_msgs, &c));
    CHECK_EQ(c.n, 1);
    DO(&c, sb_store_message_undelivered(st, S("dan"), 0, 10, on_msgs, &c));
    CHECK(c.n == 1 && c.v[0] == sent[0].v[0]);
    for (int i = 0; i < N; i++)
        cap_reset(&pre[i]);
    for (int i = 0; i < 6; i++)
        cap_reset(&sent[i]);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

TEST(message_append_and_history_paging) {
    setup();
    sb_store_t *st = open_store();
    static cap_t caps[300];
    int n = 0;
    for (int i = 0; i < 250; i++) {
        char text[32];
        snprintf(text, sizeof text, "m%d", i);
        CHECK_EQ(append(st, S("room:a"), S("alice"), text, &caps[n++]), SB_OK);
        if (i % 5 == 0) /* noise in another room */
            CHECK_EQ(append(st, S("room:b"), S("bob"), "other", &caps[n++]), SB_OK);
    }
    CHECK(wait_all());
    int64_t prev[2] = {0, 0}; /* per room: PostgreSQL's pool runs rooms side by side */
    for (int i = 0; i < n; i++) {
        CHECK_EQ(caps[i].rc, SB_OK);
        int room = strcmp(caps[i].s[0], "room:a") != 0;
        CHECK(caps[i].v[0] > prev[room]); /* a room's ids increase in submit order */
        prev[room] = caps[i].v[0];
    }
    STR_EQ(caps[0].s[0], "room:a");
    STR_EQ(caps[0].s[1], "alice");
    STR_EQ(caps[0].s[2], "m0");
    STR_EQ(caps[0].s[3], "text");
    CHECK_EQ(caps[0].v[1], 1000);

    cap_t c = {0};
    int64_t before = 0, last = INT64_MAX;
    size_t total = 0, sizes[4] = {0};
    for (int page = 0; page < 4; page++) {
        DO(&c, sb_store_message_history(st, S("room:a"), before, 100, on_msgs, &c));
        CHECK_EQ(c.rc, SB_OK);
        sizes[page] = c.n;
        for (size_t i = 0; i < c.n; i++) {
            CHECK(c.v[i] < last); /* strictly decreasing: no dups across pages */
            last = c.v[i];
        }
        total += c.n;
        if (c.n)
            before = c.v[c.n - 1];
        if (page == 0)
            STR_EQ(c.s[2], "m249");
    }
    CHECK_EQ(sizes[0], 100);
    CHECK_EQ(sizes[1], 100);
    CHECK_EQ(sizes[2], 50);
    CHECK_EQ(sizes[3], 0);
    CHECK_EQ(total, 250);
    CHECK_EQ(last, caps[0].v[0]); /* reached the very first message: no gaps */

    DO(&c, sb_store_message_history(st, S("room:none"), 0, 10, on_msgs, &c));
    CHECK(c.rc == SB_OK && c.n == 0);
    for (int i = 0; i < n; i++)
        cap_reset(&caps[i]);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

TEST(message_mark_read) {
    setup();
    sb_store_t *st = open_store();
    cap_t m[4] = {{0}}, c = {0};
    append(st, S("conversation:c1"), S("alice"), "1", &m[0]);
    append(st, S("conversation:c1"), S("alice"), "2", &m[1]);
    append(st, S("conversation:c1"), S("bob"), "3", &m[2]);
    append(st, S("conversation:c2"), S("alice"), "4", &m[3]);
    CHECK(wait_all());
    int64_t ids[] = {m[0].v[0], m[1].v[0], m[2].v[0], m[3].v[0], 999999, m[0].v[0]};
    DO(&c, sb_store_message_mark_read(st, S("bob"), S("conversation:c1"), ids, 6, on_ids, &c));
    CHECK_EQ(c.rc, SB_OK);
    CHECK_EQ(c.n, 2); /* own message, other room, unknown id and the duplicate are skipped */
    CHECK_EQ(c.v[0], m[0].v[0]);
    CHECK_EQ(c.v[1], m[1].v[0]);
    DO(&c, sb_store_message_mark_read(st, S("bob"), S("conversation:c1"), ids, 6, on_ids, &c));
    CHECK(c.rc == SB_OK && c.n == 0); /* idempotent */
    DO(&c, sb_store_message_mark_read(st, S("alice"), S("conversation:c1"), ids, 6, on_ids, &c));
    CHECK_EQ(c.n, 1);
    CHECK_EQ(c.v[0], m[2].v[0]);
    /* The answer keeps the request's order (PostgreSQL marks the whole list
     * in one statement): unknown, other room and repeated ids left out. */
    int64_t mixed[] = {999999, m[1].v[0], m[3].v[0], m[1].v[0], m[0].v[0], m[2].v[0], 0};
    DO(&c, sb_store_message_mark_read(st, S("carol"), S("conversation:c1"), mixed, 7, on_ids, &c));
    CHECK_EQ(c.rc, SB_OK);
    CHECK_EQ(c.n, 3);
    CHECK_EQ(c.v[0], m[1].v[0]);
    CHECK_EQ(c.v[1], m[0].v[0]);
    CHECK_EQ(c.v[2], m[2].v[0]);
    CHECK_EQ(careful_runs(st), 0);
    for (int i = 0; i < 4; i++)
        cap_reset(&m[i]);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

TEST(message_offline_delivery) {
    setup();
    sb_store_t *st = open_store();
    cap_t m[3] = {{0}}, c = {0};
    sb_str_t rcpt[] = {S("bob"), S("carol"), S("bob")};
    for (int i = 0; i < 3; i++) {
        sb_store_message_in_t in = {.room = S("conversation:g"),
                                    .sender_id = S("alice"),
                                    .content = S("hi"),
                                    .type = S("file"),
                                    .created_at_ms = i,
                                    .recipients = rcpt,
                                    .n_recipients = 3};
        CHECK_EQ(submitted(sb_store_message_append(st, &in, on_msg, &m[i])), SB_OK);
    }
    CHECK(wait_all());
    STR_EQ(m[0].s[3], "file");
    DO(&c, sb_store_message_undelivered(st, S("bob"), 0, 10, on_msgs, &c));
    CHECK_EQ(c.n, 3); /* duplicate recipient stored once; oldest first */
    CHECK(c.v[0] == m[0].v[0] && c.v[1] == m[1].v[0] && c.v[2] == m[2].v[0]);
    DO(&c, sb_store_message_undelivered(st, S("bob"), 0, 2, on_msgs, &c));
    CHECK_EQ(c.n, 2);
    int64_t first[] = {m[0].v[0], 424242};
    DO(&c, sb_store_message_mark_delivered(st, S("bob"), first, 2, on_done, &c));
    CHECK_EQ(c.rc, SB_OK);
    DO(&c, sb_store_message_undelivered(st, S("bob"), 0, 10, on_msgs, &c));
    CHECK(c.n == 2 && c.v[0] == m[1].v[0]);
    int64_t rest[] = {m[1].v[0], m[2].v[0]};
    DO(&c, sb_store_message_mark_delivered(st, S("bob"), rest, 2, on_done, &c));
    DO(&c, sb_store_message_undelivered(st, S("bob"), 0, 10, on_msgs, &c));
    CHECK(c.rc == SB_OK && c.n == 0);
    CHECK_EQ(c.newest, SB_TEST_PG ? m[2].v[0] : 0); /* the newest, confirmed or not */
    DO(&c, sb_store_message_undelivered(st, S("carol"), 0, 10, on_msgs, &c));
    CHECK_EQ(c.n, 3); /* carol's rows untouched */
    DO(&c, sb_store_message_undelivered(st, S("carol"), m[0].v[0], 10, on_msgs, &c));
    CHECK(c.n == 2 && c.v[0] == m[1].v[0]); /* paging by cursor */
    DO(&c, sb_store_message_delivered_upto(st, S("carol"), m[1].v[0], on_done, &c));
    CHECK_EQ(c.rc, SB_OK);
    DO(&c, sb_store_message_undelivered(st, S("carol"), 0, 10, on_msgs, &c));
    CHECK(c.n == 1 && c.v[0] == m[2].v[0]); /* confirmed up to an offset */
    DO(&c, sb_store_message_undelivered(st, S("alice"), 0, 10, on_msgs, &c));
    CHECK_EQ(c.n, 0);
    for (int i = 0; i < 3; i++)
        cap_reset(&m[i]);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* ---- notifications -------------------------------------------------------------------------- */

static int notify(sb_store_t *st, sb_str_t user, sb_str_t data, cap_t *c) {
    sb_store_notification_in_t n = {.user_id = user,
                                    .type = S("friend"),
                                    .title = S("T"),
                                    .message = S("msg"),
                                    .data = data,
                                    .created_at_ms = 77};
    return submitted(sb_store_notification_create(st, &n, on_notif, c));
}

/* The user's delivery floor as stored (-1: none), read beside the store;
 * SQLite's holds its file exclusively, so it is closed and opened again. */
static int64_t stored_floor(sb_store_t **st, const char *user) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT upto FROM message_delivery_floors WHERE user_id = '%s'",
             user);
    int64_t v = -1;
#if SB_TEST_PG
    PGconn *db = PQconnectdb(getenv("SB_PG_URL"));
    PGresult *res = PQexec(db, sql);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    PQfinish(db);
    (void)st;
#else
    sb_store_close(*st);
    char path[128];
    snprintf(path, sizeof path, "%s/data/switchboard.db", g_dir);
    sqlite3 *db;
    sqlite3_stmt *q = NULL;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    *st = open_store();
#endif
    return v;
}

/* The floor rises to just below the first pending delivery, never past it,
 * and pages read from it: a pending message below it would be lost. */
TEST(delivery_floor_stops_at_the_first_pending) {
    setup();
    sb_store_t *st = open_store();
    cap_t m[6] = {{0}}, c = {0};
    sb_str_t bob[] = {S("bob")};
    sb_store_message_in_t in = {.room = S("conversation:f"),
                                .sender_id = S("alice"),
                                .content = S("hi"),
                                .recipients = bob,
                                .n_recipients = 1};
    for (int i = 0; i < 5; i++)
        CHECK_EQ(submitted(sb_store_message_append(st, &in, on_msg, &m[i])), SB_OK);
    CHECK(wait_all());
    DO(&c, sb_store_message_floor_advance(st, S("bob"), on_done, &c));
    CHECK_EQ(c.rc, SB_OK);
    CHECK_EQ(stored_floor(&st, "bob"), m[0].v[0] - 1); /* all pending: below the first */
    int64_t some[] = {m[0].v[0], m[1].v[0], m[3].v[0]};
    DO(&c, sb_store_message_mark_delivered(st, S("bob"), some, 3, on_done, &c));
    DO(&c, sb_store_message_floor_advance(st, S("bob"), on_done, &c));
    CHECK_EQ(stored_floor(&st, "bob"), m[2].v[0] - 1);
    DO(&c, sb_store_message_undelivered(st, S("bob"), 0, 10, on_msgs, &c));
    CHECK(c.n == 2 && c.v[0] == m[2].v[0] && c.v[1] == m[4].v[0]);
    int64_t third[] = {m[2].v[0]};
    DO(&c, sb_store_message_mark_delivered(st, S("bob"), third, 1, on_done, &c));
    DO(&c, sb_store_message_floor_advance(st, S("bob"), on_done, &c));
    CHECK_EQ(stored_floor(&st, "bob"), m[4].v[0] - 1); /* past the confirmed fourth */
    int64_t last[] = {m[4].v[0]};
    DO(&c, sb_store_message_mark_delivered(st, S("bob"), last, 1, on_done, &c));
    DO(&c, sb_store_message_floor_advance(st, S("bob"), on_done, &c));
    CHECK_EQ(stored_floor(&st, "bob"), m[4].v[0]); /* none pending: the newest */
    DO(&c, sb_store_message_undelivered(st, S("bob"), 0, 10, on_msgs, &c));
    CHECK_EQ(c.n, 0);
    CHECK_EQ(submitted(sb_store_message_append(st, &in, on_msg, &m[5])), SB_OK);
    CHECK(wait_all());
    DO(&c, sb_store_message_undelivered(st, S("bob"), 0, 10, on_msgs, &c));
    CHECK(c.n == 1 && c.v[0] == m[5].v[0]); /* new after the floor */
    DO(&c, sb_store_message_floor_advance(st, S("nobody"), on_done, &c));
    CHECK_EQ(c.rc, SB_OK);
    CHECK_EQ(stored_floor(&st, "nobody"), 0);
    CHECK_EQ(sb_store_message_floor_advance(st, S(""), on_done, &c), SB_EINVAL);
    for (int i = 0; i < 6; i++)
        cap_reset(&m[i]);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

#if !SB_TEST_PG
/* test_pg_schema's upgrade_sets_each_users_delivery_floor, on SQLite. */
TEST(upgrade_sets_each_users_delivery_floor) {
    setup();
    sb_store_t *st = open_store();
    sb_store_close(st);
    char path[128], back[64];
    snprintf(path, sizeof path, "%s/data/switchboard.db", g_dir);
    snprintf(back, sizeof back, "PRAGMA user_version = %d", sb_store__schema_version() - 1);
    sqlite3 *db;
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(db,
                          "DROP TABLE message_delivery_floors;"
                          "CREATE INDEX message_deliveries_pending ON "
                          "message_deliveries(user_id, message_id) WHERE delivered = 0;"
                          "INSERT INTO messages(id, room, sender_id, content, type, created_at_ms) "
                          "VALUES (1, 'r', 's', 'c', 'text', 0), (2, 'r', 's', 'c', 'text', 0), "
                          "(3, 'r', 's', 'c', 'text', 0), (4, 'r', 's', 'c', 'text', 0), "
                          "(5, 'r', 's', 'c', 'text', 0);"
                          "INSERT INTO message_deliveries(user_id, message_id, delivered) VALUES "
                          "('ann', 1, 1), ('ann', 2, 0), ('ann', 3, 1), ('ann', 4, 0), "
                          "('bo', 2, 1), ('bo', 5, 1);",
                          NULL, NULL, NULL),
             SQLITE_OK);
    CHECK_EQ(sqlite3_exec(db, back, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    st = open_store();
    CHECK(st != NULL);
    CHECK_EQ(stored_floor(&st, "ann"), 1);
    CHECK_EQ(stored_floor(&st, "bo"), 5);
    sb_store_close(st);
    teardown();
}
#endif

TEST(notifications) {
    setup();
    sb_store_t *st = open_store();
    cap_t n[4] = {{0}}, c = {0};
    notify(st, S("bob"), S("{\"a\":1}"), &n[0]);
    notify(st, S("bob"), SB_STR_NULL, &n[1]);
    notify(st, S("bob"), S("[1,2]"), &n[2]);
    notify(st, S("alice"), SB_STR_NULL, &n[3]);
    CHECK(wait_all());
    CHECK_EQ(n[0].rc, SB_OK);
    STR_EQ(n[0].s[0], "bob");
    STR_EQ(n[0].s[1], "friend");
    STR_EQ(n[0].s[3], "msg");
    STR_EQ(n[0].s[4], "{\"a\":1}");
    CHECK(n[1].s[4] == NULL && !n[0].yes && n[0].v[1] == 77);

    DO(&c, sb_store_notification_list(st, S("bob"), false, 10, on_notifs, &c));
    CHECK_EQ(c.n, 3); /* newest first */
    CHECK(c.v[0] == n[2].v[0] && c.v[1] == n[1].v[0] && c.v[2] == n[0].v[0]);
    STR_EQ(c.s[1], "[1,2]");
    DO(&c, sb_store_notification_mark_read(st, S("bob"), n[0].v[0], on_done, &c));
    CHECK_EQ(c.rc, SB_OK);
    DO(&c, sb_store_notification_mark_read(st, S("bob"), n[0].v[0], on_done, &c));
    CHECK_EQ(c.rc, SB_OK); /* already read is still fine */
    DO(&c, sb_store_notification_mark_read(st, S("alice"), n[1].v[0], on_done, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND); /* bob's notification: untouched */
    DO(&c, sb_store_notification_mark_read(st, S("bob"), 987654, on_done, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND);
    DO(&c, sb_store_notification_list(st, S("bob"), true, 10, on_notifs, &c));
    CHECK(c.n == 2 && c.v[0] == n[2].v[0] && c.v[1] == n[1].v[0] && !c.yes);
    DO(&c, sb_store_notification_list(st, S("bob"), false, 1, on_notifs, &c));
    CHECK_EQ(c.n, 1);

    /* Invalid JSON data is refused by the schema's CHECK, asynchronously. */
    cap_reset(&c);
    CHECK_EQ(notify(st, S("bob"), S("{bad"), &c), SB_OK);
    CHECK(wait_all());
    CHECK_EQ(c.rc, SB_EINVAL);

    DO(&c, sb_store_notification_undelivered(st, S("bob"), 0, 10, on_notifs, &c));
    CHECK(c.n == 3 && c.v[0] == n[0].v[0]); /* oldest first */
    int64_t ids[] = {n[0].v[0], n[1].v[0], n[3].v[0] /* alice's: ignored */};
    DO(&c, sb_store_notification_mark_delivered(st, S("bob"), ids, 3, on_done, &c));
    CHECK_EQ(c.rc, SB_OK);
    DO(&c, sb_store_notification_undelivered(st, S("bob"), 0, 10, on_notifs, &c));
    CHECK(c.n == 1 && c.v[0] == n[2].v[0]);
    DO(&c, sb_store_notification_undelivered(st, S("alice"), 0, 10, on_notifs, &c));
    CHECK(c.n == 1 && c.v[0] == n[3].v[0]);
    DO(&c, sb_store_notification_undelivered(st, S("alice"), n[3].v[0], 10, on_notifs, &c));
    CHECK_EQ(c.n, 0); /* paging by cursor */
    DO(&c, sb_store_notification_delivered_upto(st, S("bob"), n[2].v[0], on_done, &c));
    DO(&c, sb_store_notification_undelivered(st, S("bob"), 0, 10, on_notifs, &c));
    CHECK_EQ(c.n, 0);                               /* confirmed up to an offset */
    CHECK_EQ(c.newest, SB_TEST_PG ? n[2].v[0] : 0); /* the newest, confirmed or not */
    DO(&c, sb_store_notification_undelivered(st, S("alice"), 0, 10, on_notifs, &c));
    CHECK_EQ(c.n, 1); /* another user's rows untouched */
    for (int i = 0; i < 4; i++)
        cap_reset(&n[i]);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* PostgreSQL runs a pool of store threads side by side: requests on one
 * conversation (or one user's notifications) must still run in the order
 * submitted, so a read submitted right after writes, without waiting for
 * them, sees every one of them. */
TEST(pool_keeps_each_keys_order) {
    setup();
    sb_store_t *st = open_with((sb_store_config_t){.pool_size = 4});
    sb_store_stats_t stats;
    sb_store_stats(st, &stats);
    CHECK_EQ(stats.threads, SB_TEST_PG ? 4 : 1); /* SQLite: one writer, whatever the setting */
    enum { ROOMS = 8, ROUNDS = 12 };
    static cap_t sent[ROOMS][ROUNDS], seen[ROOMS][ROUNDS], notes[ROOMS][ROUNDS],
        listed[ROOMS][ROUNDS];
    char room[ROOMS][32], user[ROOMS][32];
    for (int r = 0; r < ROOMS; r++) {
        snprintf(room[r], sizeof room[r], "conversation:c%d", r);
        snprintf(user[r], sizeof user[r], "n%d", r);
    }
    for (int k = 0; k < ROUNDS; k++) {
        for (int r = 0; r < ROOMS; r++) {
            CHECK_EQ(append(st, sb_cstr(room[r]), S("u"), "x", &sent[r][k]), SB_OK);
            CHECK_EQ(submitted(sb_store_message_history(st, sb_cstr(room[r]), 0, 100, on_msgs,
                                                        &seen[r][k])),
                     SB_OK);
            CHECK_EQ(notify(st, sb_cstr(user[r]), SB_STR_NULL, &notes[r][k]), SB_OK);
            CHECK_EQ(submitted(sb_store_notification_list(st, sb_cstr(user[r]), false, 100,
                                                          on_notifs, &listed[r][k])),
                     SB_OK);
        }
    }
    CHECK(wait_all());
    for (int r = 0; r < ROOMS; r++) {
        for (int k = 0; k < ROUNDS; k++) {
            CHECK(sent[r][k].rc == SB_OK && seen[r][k].rc == SB_OK);
            CHECK(k == 0 || sent[r][k].v[0] > sent[r][k - 1].v[0]); /* ids in submit order */
            CHECK_EQ(seen[r][k].n, (size_t)k + 1); /* every earlier append of the room */
            CHECK_EQ(seen[r][k].v[0], sent[r][k].v[0]);
            CHECK(notes[r][k].rc == SB_OK && listed[r][k].rc == SB_OK);
            CHECK_EQ(listed[r][k].n, (size_t)k + 1);
            CHECK_EQ(listed[r][k].v[0], notes[r][k].v[0]);
            cap_reset(&sent[r][k]);
            cap_reset(&seen[r][k]);
            cap_reset(&notes[r][k]);
            cap_reset(&listed[r][k]);
        }
    }
    sb_store_close(st);
    teardown();
}

/* Completion order of the appends and notifications below: their ids. */
static int64_t g_done_ids[2][400];
static size_t g_done_n[2];

static void on_msg_in_order(void *ud, int rc, const sb_store_msg_t *m) {
    (void)ud;
    if (rc == SB_OK && m && g_done_n[0] < 400)
        g_done_ids[0][g_done_n[0]++] = m->id;
    completed();
}

static void on_notif_in_order(void *ud, int rc, const sb_store_notification_t *n) {
    (void)ud;
    if (rc == SB_OK && n && g_done_n[1] < 400)
        g_done_ids[1][g_done_n[1]++] = n->id;
    completed();
}

/* A device is sent a user's messages and notifications in increasing id
 * order, and its recovery offset confirms every id up to the newest it got:
 * with a pool, appends to many conversations and notifications to many
 * users must still complete in id order, or a lower id completing after a
 * higher one would be skipped (and taken as had after a reconnect). */
TEST(pool_completes_each_stream_in_id_order) {
    setup();
    sb_store_t *st = open_with((sb_store_config_t){.pool_size = 4});
    g_done_n[0] = g_done_n[1] = 0;
    enum { N = 400 };
    for (int i = 0; i < N; i++) {
        char room[32], user[32];
        snprintf(room, sizeof room, "conversation:order%d", i % 50);
        snprintf(user, sizeof user, "order-user%d", i % 50);
        sb_store_message_in_t m = {
            .room = sb_cstr(room), .sender_id = S("u"), .content = S("x"), .created_at_ms = 1000};
        CHECK_EQ(submitted(sb_store_message_append(st, &m, on_msg_in_order, NULL)), SB_OK);
        sb_store_notification_in_t n = {.user_id = sb_cstr(user),
                                        .type = S("friend"),
                                        .title = S("T"),
                                        .message = S("msg"),
                                        .created_at_ms = 77};
        CHECK_EQ(submitted(sb_store_notification_create(st, &n, on_notif_in_order, NULL)), SB_OK);
    }
    CHECK(wait_all());
    for (int s = 0; s < 2; s++) {
        CHECK_EQ(g_done_n[s], (size_t)N);
        for (size_t i = 1; i < g_done_n[s]; i++)
            CHECK(g_done_ids[s][i] > g_done_ids[s][i - 1]);
    }
    sb_store_close(st);
    teardown();
}

/* ---- each recipient's previous pending event ------------------------------------------------ */

typedef struct {
    int rc;
    int64_t id, prev[2];
    bool told; /* recipient_prev was given (PostgreSQL) */
} prev_cap_t;

static void on_msg_prev(void *ud, int rc, const sb_store_msg_t *m) {
    prev_cap_t *c = ud;
    c->rc = rc;
    c->id = m ? m->id : 0;
    c->told = m && m->recipient_prev;
    for (int i = 0; c->told && i < 2; i++)
        c->prev[i] = m->recipient_prev[i];
    completed();
}

static void on_notif_prev(void *ud, int rc, const sb_store_notification_t *n) {
    prev_cap_t *c = ud;
    c->rc = rc;
    c->id = n ? n->id : 0;
    c->prev[0] = n ? n->prev : -1;
    completed();
}

static int append_to(sb_store_t *st, sb_str_t a, sb_str_t b, prev_cap_t *c) {
    sb_str_t rcpt[] = {a, b};
    sb_store_message_in_t in = {.room = S("conversation:p"),
                                .sender_id = S("alice"),
                                .content = S("hi"),
                                .created_at_ms = 1,
                                .recipients = rcpt,
                                .n_recipients = b.p ? 2 : 1};
    return submitted(sb_store_message_append(st, &in, on_msg_prev, c));
}

static int notify_prev(sb_store_t *st, prev_cap_t *c) {
    sb_store_notification_in_t n = {.user_id = S("bob"),
                                    .type = S("t"),
                                    .title = S("T"),
                                    .message = S("m"),
                                    .created_at_ms = 1};
    return submitted(sb_store_notification_create(st, &n, on_notif_prev, c));
}

/* PostgreSQL tells, with each append, every recipient's previous event,
 * confirmed or not (what a node uses to notice that a device was not sent
 * one: delivery.c), in the recipients' order, within a batch too. SQLite,
 * one writer completing in id order, tells none. */
TEST(append_tells_each_recipients_previous) {
    setup();
    sb_store_t *st = open_store();
    prev_cap_t m1 = {0}, m2 = {0}, m3 = {0}, m4 = {0}, n1 = {0}, n2 = {0}, n3 = {0};
    cap_t c = {0};
    CHECK_EQ(append_to(st, S("bob"), S("carol"), &m1), SB_OK);
    CHECK_EQ(append_to(st, S("carol"), S("bob"), &m2), SB_OK); /* the same batch */
    CHECK_EQ(notify_prev(st, &n1), SB_OK);
    CHECK_EQ(notify_prev(st, &n2), SB_OK);
    CHECK(wait_all());
    CHECK(m1.rc == SB_OK && m2.rc == SB_OK && n1.rc == SB_OK && n2.rc == SB_OK);
    int64_t delivered[] = {m2.id};
    DO(&c, sb_store_message_mark_delivered(st, S("bob"), delivered, 1, on_done, &c));
    CHECK_EQ(append_to(st, S("bob"), SB_STR_NULL, &m3), SB_OK);
    CHECK(wait_all());
    int64_t first[] = {m1.id};
    DO(&c, sb_store_message_mark_delivered(st, S("bob"), first, 1, on_done, &c));
    CHECK_EQ(append_to(st, S("bob"), SB_STR_NULL, &m4), SB_OK);
    CHECK(wait_all());
    int64_t notes[] = {n1.id, n2.id}; /* the user's thread, not the appends': waited for */
    DO(&c, sb_store_notification_mark_delivered(st, S("bob"), notes, 2, on_done, &c));
    CHECK_EQ(notify_prev(st, &n3), SB_OK);
    CHECK(wait_all());
#if SB_TEST_PG
    CHECK(m1.told && m2.told && m3.told && m4.told);
    CHECK(m1.prev[0] == 0 && m1.prev[1] == 0);         /* bob, carol: none before */
    CHECK(m2.prev[0] == m1.id && m2.prev[1] == m1.id); /* carol, bob: m1, earlier in the batch */
    CHECK_EQ(m3.prev[0], m2.id);                       /* confirmed or not */
    CHECK_EQ(m4.prev[0], m3.id);
    CHECK(n1.prev[0] == 0 && n2.prev[0] == n1.id && n3.prev[0] == n2.id);
#else
    CHECK(!m1.told && !m2.told && !m3.told && !m4.told);
    CHECK(n1.prev[0] == 0 && n2.prev[0] == 0 && n3.prev[0] == 0);
#endif
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* A direct message from alice to `to` with `text`, opening the conversation. */
static int append_direct(sb_store_t *st, const char *to, const char *text, prev_cap_t *c) {
    char id[SB_STORE_MAX_CONV_ID + 1], room[SB_STORE_MAX_ROOM + 1];
    if (sb_store_direct_id(S("alice"), sb_cstr(to), id, sizeof id) != SB_OK)
        return SB_EINVAL;
    snprintf(room, sizeof room, "conversation:%s", id);
    sb_str_t rcpt[] = {sb_cstr(to)};
    sb_store_message_in_t in = {.room = sb_cstr(room),
                                .sender_id = S("alice"),
                                .content = sb_cstr(text),
                                .created_at_ms = 2,
                                .recipients = rcpt,
                                .n_recipients = 1,
                                .direct_with = sb_cstr(to)};
    return submitted(sb_store_message_append(st, &in, on_msg_prev, c));
}

#if SB_TEST_PG
static uint64_t run_requests(const sb_store_t *st) {
    uint64_t n = 0;
    for (size_t i = 0; i < st->pg->n; i++)
        n += st->pg->members[i].run_requests;
    return n;
}
#endif

/* PostgreSQL sends a batch's plain appends as one statement and its
 * delivery confirmations as another (store_groups.c); each request answers
 * as it would alone: texts an array literal must escape, a direct
 * conversation opened twice in one run, recipients shared by messages of
 * the run, a keyed append between two runs; confirmations of messages and
 * notifications in runs that pass over each other. */
TEST(runs_answer_as_one_by_one) {
    setup();
    sb_store_t *st = open_store();
    static const char *const texts[] = {"\"quoted\" \\back\\slash\\",
                                        "{brace},comma",
                                        "",
                                        "NULL",
                                        "\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80",
                                        "tab\there\nline"};
    enum { N = sizeof texts / sizeof *texts, FILL = 40 };
    static cap_t fill[FILL];
    static cap_t noop[FILL];
    prev_cap_t first = {0}, second = {0}, m[N], keyed = {0}, after = {0};
    prev_cap_t n1 = {0}, n2 = {0}, n3 = {0};
    cap_t c = {0}, conf[3] = {{0}}, nconf[2] = {{0}};
    memset(m, 0, sizeof m);
    CHECK_EQ(append_to(st, S("bob"), SB_STR_NULL, &first), SB_OK);
    CHECK_EQ(append_to(st, S("carol"), SB_STR_NULL, &second), SB_OK);
    CHECK_EQ(notify_prev(st, &n1), SB_OK);
    CHECK_EQ(notify_prev(st, &n2), SB_OK);
    CHECK_EQ(notify_prev(st, &n3), SB_OK);
    CHECK(wait_all());
    for (int i = 0; i < FILL; i++) /* keeps the thread busy so what follows shares a batch */
        append(st, S("room:fill"), S("u"), "fill", &fill[i]);
    for (int i = 0; i < N; i++) {
        if (i == 3) {
            sb_str_t rcpt[] = {S("bob")};
            sb_store_message_in_t in = {.room = S("conversation:p"),
                                        .sender_id = S("alice"),
                                        .content = S("keyed"),
                                        .created_at_ms = 3,
                                        .recipients = rcpt,
                                        .n_recipients = 1,
                                        .idempotency_key = S("k1")};
            CHECK_EQ(submitted(sb_store_message_append(st, &in, on_msg_prev, &keyed)), SB_OK);
        }
        CHECK_EQ(i % 2 ? append_direct(st, "bob", texts[i], &m[i])
                       : append_to(st, S("bob"), S("carol"), &m[i]),
                 SB_OK);
    }
    CHECK_EQ(append_direct(st, "dave", texts[0], &after), SB_OK);
    CHECK(wait_all());
    CHECK(keyed.rc == SB_OK && after.rc == SB_OK);
    int64_t last = fill[FILL - 1].v[0], bob_prev = first.id, carol_prev = second.id;
    for (int i = 0; i < N; i++) { /* ids in the order submitted, the keyed one before m[3] */
        CHECK_EQ(m[i].rc, SB_OK);
        if (i == 3) {
            CHECK(keyed.id > last);
            last = bob_prev = keyed.id;
        }
        CHECK(m[i].id > last);
#if SB_TEST_PG
        CHECK(m[i].told);
        CHECK_EQ(m[i].prev[0], bob_prev); /* the latest before it, in the run or not */
        if (i % 2 == 0)
            CHECK_EQ(m[i].prev[1], carol_prev);
#endif
        last = bob_prev = m[i].id;
        carol_prev = i % 2 == 0 ? m[i].id : carol_prev;
    }
    CHECK(after.id > m[N - 1].id);
#if SB_TEST_PG
    CHECK(run_requests(st) >= N); /* they did run as runs */
    CHECK_EQ(careful_runs(st), 0);
#endif
    /* Every text reads back as sent; the direct conversation has its two members. */
    char id[SB_STORE_MAX_CONV_ID + 1], room[SB_STORE_MAX_ROOM + 1];
    CHECK_EQ(sb_store_direct_id(S("alice"), S("bob"), id, sizeof id), SB_OK);
    snprintf(room, sizeof room, "conversation:%s", id);
    for (int i = 1; i < N; i += 2) {
        DO(&c, sb_store_message_history(st, sb_cstr(room), m[i].id + 1, 1, on_msgs, &c));
        CHECK(c.rc == SB_OK && c.n == 1 && c.v[0] == m[i].id);
        STR_EQ(c.s[2], texts[i]);
    }
    DO(&c, sb_store_conversation_members(st, sb_cstr(id), on_strs, &c));
    CHECK(c.rc == SB_OK && c.n == 2);
    STR_EQ(c.s[0], "alice");
    STR_EQ(c.s[1], "bob");
    CHECK_EQ(sb_store_direct_id(S("alice"), S("dave"), id, sizeof id), SB_OK);
    DO(&c, sb_store_conversation_members(st, sb_cstr(id), on_strs, &c));
    CHECK(c.rc == SB_OK && c.n == 2);

    /* One user's confirmations share a batch on the user's thread (what
     * comes first keeps it busy), messages' and notifications' in runs of
     * their own that pass over each other. */
#if SB_TEST_PG
    uint64_t runs_before = run_requests(st);
#endif
    static int64_t unknown[FILL];
    for (int i = 0; i < FILL; i++) {
        unknown[i] = 1000000000 + i;
        submitted(sb_store_message_mark_delivered(st, S("bob"), &unknown[i], 1, on_done, &noop[i]));
    }
    int64_t bob_seen[] = {first.id}, bob_later[] = {m[0].id}, carol_seen[] = {second.id, 999999};
    int64_t note2[] = {n2.id}, note3[] = {n3.id};
    submitted(sb_store_message_mark_delivered(st, S("bob"), bob_seen, 1, on_done, &conf[0]));
    submitted(sb_store_notification_mark_delivered(st, S("bob"), note2, 1, on_done, &nconf[0]));
    submitted(sb_store_notification_mark_delivered(st, S("bob"), note3, 1, on_done, &nconf[1]));
    submitted(sb_store_message_mark_delivered(st, S("bob"), bob_later, 1, on_done, &conf[1]));
    submitted(sb_store_message_mark_delivered(st, S("carol"), carol_seen, 2, on_done, &conf[2]));
    CHECK(wait_all());
    int ok = 0;
    for (int i = 0; i < FILL; i++)
        ok += noop[i].rc == SB_OK;
    CHECK_EQ(ok, FILL);
    CHECK(conf[0].rc == SB_OK && conf[1].rc == SB_OK && conf[2].rc == SB_OK);
    CHECK(nconf[0].rc == SB_OK && nconf[1].rc == SB_OK);
#if SB_TEST_PG
    CHECK(run_requests(st) - runs_before >= FILL / 2);
    CHECK_EQ(careful_runs(st), 0);
#endif
    /* They took: bob's first and m[0], carol's second, bob's notes 2 and 3. */
    DO(&c, sb_store_message_undelivered(st, S("bob"), 0, 100, on_msgs, &c));
    CHECK(c.rc == SB_OK && c.n == N && c.v[0] == m[1].id);
    DO(&c, sb_store_message_undelivered(st, S("carol"), 0, 100, on_msgs, &c));
    CHECK(c.rc == SB_OK && c.n == (N + 1) / 2 && c.v[0] == m[0].id);
    DO(&c, sb_store_notification_undelivered(st, S("bob"), 0, 10, on_notifs, &c));
    CHECK(c.rc == SB_OK && c.n == 1 && c.v[0] == n1.id);
    for (int i = 0; i < FILL; i++) {
        cap_reset(&fill[i]);
        cap_reset(&noop[i]);
    }
    for (int i = 0; i < 3; i++)
        cap_reset(&conf[i]);
    cap_reset(&nconf[0]);
    cap_reset(&nconf[1]);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* A run whose statement fails (PostgreSQL refuses one message's text as
 * not UTF-8) is run again request by request: only that request fails,
 * the others of its run are stored and answered. SQLite stores the bytes. */
TEST(run_with_a_refused_request_fails_only_it) {
    setup();
    sb_store_t *st = open_store();
    enum { FILL = 20, N = 5 };
    static cap_t fill[FILL], m[N];
    cap_t c = {0};
    for (int i = 0; i < FILL; i++) /* keeps the thread busy: what follows is one run */
        append(st, S("room:fill"), S("u"), "fill", &fill[i]);
    for (int i = 0; i < N; i++)
        append(st, S("room:r"), S("u"), i == 2 ? "bad \xff text" : "good", &m[i]);
    CHECK(wait_all());
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += m[i].rc == SB_OK;
#if SB_TEST_PG
    CHECK_EQ(m[2].rc, SB_EINVAL);
    CHECK_EQ(ok, N - 1);
    CHECK_EQ(careful_runs(st), 1); /* the batch, once */
#else
    CHECK_EQ(ok, N);
#endif
    DO(&c, sb_store_message_history(st, S("room:r"), 0, 100, on_msgs, &c));
    CHECK(c.rc == SB_OK && c.n == (size_t)ok);
    STR_EQ(c.s[2], "good");
    for (int i = 0; i < FILL; i++)
        cap_reset(&fill[i]);
    for (int i = 0; i < N; i++)
        cap_reset(&m[i]);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* A name a backend gave the sender is stored with the message and read back
 * (history, pending) instead of the user's; others read the user's name. A
 * single append, a run of them (PostgreSQL) and a keyed one. */
TEST(sender_name_stored_with_the_message) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0}, named[3] = {{0}}, plain = {0};
    DO(&c, sb_store_user_upsert(st, S("alice"), S("Alice"), SB_STR_NULL, 1, on_done, &c));
    sb_str_t rcpt[] = {S("bob")};
    sb_store_message_in_t in = {.room = S("room:n"),
                                .sender_id = S("alice"),
                                .content = S("hi"),
                                .created_at_ms = 1,
                                .recipients = rcpt,
                                .n_recipients = 1,
                                .sender_name = S("Build Bot")};
    CHECK_EQ(submitted(sb_store_message_append(st, &in, on_msg, &named[0])), SB_OK);
    CHECK(wait_all());
    enum { FILL = 20 };
    static cap_t fill[FILL];
    for (int i = 0; i < FILL; i++) /* keeps the thread busy: what follows is one run */
        append(st, S("room:fill"), S("u"), "fill", &fill[i]);
    CHECK_EQ(submitted(sb_store_message_append(st, &in, on_msg, &named[1])), SB_OK);
    in.sender_name = SB_STR_NULL;
    CHECK_EQ(submitted(sb_store_message_append(st, &in, on_msg, &plain)), SB_OK);
    in.sender_name = S("Keyed \"Bot\"");
    in.idempotency_key = S("k-named");
    CHECK_EQ(submitted(sb_store_message_append(st, &in, on_msg, &named[2])), SB_OK);
    CHECK(wait_all());
    CHECK(named[0].rc == SB_OK && named[1].rc == SB_OK && named[2].rc == SB_OK &&
          plain.rc == SB_OK);
    static const char *const want[] = {"Build Bot", "Build Bot", "Keyed \"Bot\""};
    for (int i = 0; i < 3; i++) {
        DO(&c, sb_store_message_history(st, S("room:n"), named[i].v[0] + 1, 1, on_msgs, &c));
        CHECK(c.rc == SB_OK && c.n == 1);
        STR_EQ(c.s[3], want[i]);
    }
    DO(&c, sb_store_message_history(st, S("room:n"), plain.v[0] + 1, 1, on_msgs, &c));
    CHECK(c.rc == SB_OK && c.n == 1);
    STR_EQ(c.s[3], "Alice");
    DO(&c, sb_store_message_undelivered(st, S("bob"), 0, 1, on_msgs, &c));
    CHECK(c.rc == SB_OK && c.n == 1 && c.v[0] == named[0].v[0]);
    STR_EQ(c.s[3], "Build Bot");
    /* The keyed retry answers with the stored message, its name too. */
    cap_t again = {0};
    DO(&again, sb_store_message_append(st, &in, on_msg, &again));
    CHECK(again.rc == SB_OK && again.v[0] == named[2].v[0] && again.yes);
    STR_EQ(again.s[4], "Keyed \"Bot\"");
    STR_EQ(named[0].s[4], "Build Bot"); /* as stored */
    in.sender_name = (sb_str_t){"x", 0};
    CHECK_EQ(sb_store_message_append(st, &in, on_msg, &again), SB_EINVAL); /* empty */
    cap_reset(&again);
    for (int i = 0; i < FILL; i++)
        cap_reset(&fill[i]);
    for (int i = 0; i < 3; i++)
        cap_reset(&named[i]);
    cap_reset(&plain);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* ---- friends --------------------------------------------------------------------------------- */

TEST(friends) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0};
    DO(&c, sb_store_friend_request(st, S("alice"), S("bob"), on_freq, &c));
    CHECK_EQ(c.rc, SB_OK);
    STR_EQ(c.s[0], "alice");
    STR_EQ(c.s[1], "bob");
    STR_EQ(c.s[2], "pending");
    int64_t req = c.v[0];
    CHECK(req > 0);
    DO(&c, sb_store_friend_request(st, S("alice"), S("bob"), on_freq, &c));
    CHECK_EQ(c.rc, SB_EEXISTS);
    DO(&c, sb_store_friend_request(st, S("bob"), S("alice"), on_freq, &c));
    CHECK_EQ(c.rc, SB_EEXISTS);
    int calls = g_calls;
    CHECK_EQ(sb_store_friend_request(st, S("alice"), S("alice"), on_freq, &c), SB_EINVAL);

    DO(&c, sb_store_friend_accept(st, req, S("alice"), on_freq, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND); /* the sender cannot accept her own request */
    DO(&c, sb_store_friend_accept(st, req, S("carol"), on_freq, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND);
    DO(&c, sb_store_friend_check(st, S("alice"), S("bob"), on_bool, &c));
    CHECK(c.rc == SB_OK && !c.yes);
    DO(&c, sb_store_friend_accept(st, req, S("bob"), on_freq, &c));
    CHECK_EQ(c.rc, SB_OK);
    CHECK_EQ(c.v[0], req);
    STR_EQ(c.s[0], "alice");
    STR_EQ(c.s[1], "bob");
    STR_EQ(c.s[2], "accepted");
    DO(&c, sb_store_friend_accept(st, req, S("bob"), on_freq, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND); /* no longer pending */
    DO(&c, sb_store_friend_accept(st, 999999, S("bob"), on_freq, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND);

    DO(&c, sb_store_friend_check(st, S("alice"), S("bob"), on_bool, &c));
    CHECK(c.rc == SB_OK && c.yes);
    DO(&c, sb_store_friend_check(st, S("bob"), S("alice"), on_bool, &c));
    CHECK(c.rc == SB_OK && c.yes);
    DO(&c, sb_store_friend_check(st, S("alice"), S("carol"), on_bool, &c));
    CHECK(c.rc == SB_OK && !c.yes);
    DO(&c, sb_store_friend_request(st, S("bob"), S("alice"), on_freq, &c));
    CHECK_EQ(c.rc, SB_EEXISTS); /* already friends */

    DO(&c, sb_store_friend_request(st, S("carol"), S("alice"), on_freq, &c));
    int64_t req2 = c.v[0];
    DO(&c, sb_store_friend_accept(st, req2, S("alice"), on_freq, &c));
    CHECK_EQ(c.rc, SB_OK);
    DO(&c, sb_store_friend_list(st, S("alice"), on_strs, &c));
    CHECK_EQ(c.n, 2);
    STR_EQ(c.s[0], "bob");
    STR_EQ(c.s[1], "carol");
    DO(&c, sb_store_friend_list(st, S("bob"), on_strs, &c));
    CHECK_EQ(c.n, 1);
    STR_EQ(c.s[0], "alice");
    DO(&c, sb_store_friend_list(st, S("dave"), on_strs, &c));
    CHECK(c.rc == SB_OK && c.n == 0);
    CHECK_EQ(g_calls, calls + 15); /* the refused self-request never called back */
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* ---- posts and documents ------------------------------------------------------------------------
 */

TEST(posts) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0};
    DO(&c, sb_store_post_get(st, S("p1"), on_post, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND);
    DO(&c, sb_store_post_react(st, S("p1"), S("bob"), S("like"), on_reactions, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND);
    DO(&c, sb_store_post_comment(st, S("p1"), S("bob"), S("hi"), 5, on_comment, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND);

    DO(&c, sb_store_post_register(st, S("p1"), S("alice"), on_done, &c));
    CHECK_EQ(c.rc, SB_OK);
    DO(&c, sb_store_post_get(st, S("p1"), on_post, &c));
    STR_EQ(c.s[0], "p1");
    STR_EQ(c.s[1], "alice");
    DO(&c, sb_store_post_react(st, S("p1"), S("bob"), S("like"), on_reactions, &c));
    CHECK_EQ(c.rc, SB_OK);
    STR_EQ(c.s[0], "p1");
    STR_EQ(c.s[1], "alice");
    STR_EQ(c.s[2], "like=1");
    CHECK_EQ(c.v[0], 1);
    DO(&c, sb_store_post_react(st, S("p1"), S("carol"), S("like"), on_reactions, &c));
    STR_EQ(c.s[2], "like=2");
    DO(&c, sb_store_post_react(st, S("p1"), S("bob"), S("love"), on_reactions, &c));
    STR_EQ(c.s[2], "like=1,love=1"); /* bob's like replaced */
    CHECK_EQ(c.v[0], 2);
    DO(&c, sb_store_post_react(st, S("p1"), S("bob"), S("love"), on_reactions, &c));
    STR_EQ(c.s[2], "like=1,love=1");
    CHECK_EQ(c.v[0], 2);

    DO(&c, sb_store_post_comment(st, S("p1"), S("bob"), S("nice"), 55, on_comment, &c));
    CHECK_EQ(c.rc, SB_OK);
    CHECK(c.v[0] > 0 && c.v[1] == 55);
    STR_EQ(c.s[0], "p1");
    STR_EQ(c.s[1], "alice");
    STR_EQ(c.s[2], "bob");
    STR_EQ(c.s[3], "nice");
    int64_t first = c.v[0];
    DO(&c, sb_store_post_comment(st, S("p1"), S("carol"), S("2nd"), 56, on_comment, &c));
    CHECK(c.v[0] > first);

    DO(&c, sb_store_post_register(st, S("p1"), S("dave"), on_done, &c));
    DO(&c, sb_store_post_get(st, S("p1"), on_post, &c));
    STR_EQ(c.s[1], "dave");
    CHECK_EQ(sb_store_post_comment(st, S("p1"), S("bob"), S(""), 1, on_comment, &c), SB_EINVAL);
    CHECK_EQ(sb_store_post_react(st, S("p1"), S("bob"), S(""), on_reactions, &c), SB_EINVAL);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

TEST(documents) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0};
    /* Several versions of one document in one batch: each sees the one
     * before it, and no guess goes wrong (one statement after the lock). */
    cap_t v[8] = {{0}};
    for (int i = 0; i < 8; i++)
        submitted(sb_store_doc_version_add(st, S("d3"), S("dave"), S("{}"), 20 + i, on_doc, &v[i]));
    CHECK(wait_all());
    for (int i = 0; i < 8; i++) {
        CHECK(v[i].rc == SB_OK && v[i].v[0] == i + 1);
        cap_reset(&v[i]);
    }
    CHECK_EQ(careful_runs(st), 0);
    DO(&c, sb_store_doc_latest(st, S("d1"), on_doc, &c));
    CHECK_EQ(c.rc, SB_ENOTFOUND);
    DO(&c, sb_store_doc_version_add(st, S("d1"), S("alice"), S("{\"op\":1}"), 10, on_doc, &c));
    CHECK(c.rc == SB_OK && c.v[0] == 1);
    STR_EQ(c.s[0], "d1");
    STR_EQ(c.s[1], "alice");
    DO(&c, sb_store_doc_version_add(st, S("d1"), S("bob"), S("{\"op\":2}"), 11, on_doc, &c));
    CHECK_EQ(c.v[0], 2);
    DO(&c, sb_store_doc_version_add(st, S("d2"), S("bob"), S("[]"), 12, on_doc, &c));
    CHECK_EQ(c.v[0], 1);
    DO(&c, sb_store_doc_version_add(st, S("d1"), S("bob"), S("not json"), 13, on_doc, &c));
    CHECK_EQ(c.rc, SB_EINVAL);
    DO(&c, sb_store_doc_version_add(st, S("d1"), S("carol"), S("{\"op\":3}"), 14, on_doc, &c));
    CHECK_EQ(c.v[0], 3); /* the refused edit used no version */
    DO(&c, sb_store_doc_latest(st, S("d1"), on_doc, &c));
    CHECK(c.rc == SB_OK && c.v[0] == 3 && c.v[1] == 14);
    STR_EQ(c.s[1], "carol");
    STR_EQ(c.s[2], "{\"op\":3}");
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* ---- limits ------------------------------------------------------------------------------------
 */

TEST(limits_refused_before_queueing) {
    setup();
    sb_store_t *st = open_with((sb_store_config_t){.max_content = 100});
    cap_t c = {0};
    static char big[SB_STORE_MAX_JSON + 2];
    memset(big, 'a', sizeof big);
    sb_str_t id129 = sb_str(big, 129), id128 = sb_str(big, 128);
    sb_str_t nul = sb_str("a\0b", 3);
    CHECK_EQ(sb_store_user_get(st, id129, on_user, &c), SB_EINVAL);
    CHECK_EQ(sb_store_user_get(st, S(""), on_user, &c), SB_EINVAL);
    CHECK_EQ(sb_store_user_get(st, nul, on_user, &c), SB_EINVAL);
    CHECK_EQ(sb_store_user_upsert(st, S("u"), id129, SB_STR_NULL, 0, on_done, &c), SB_EINVAL);
    CHECK_EQ(
        sb_store_user_upsert(st, S("u"), S("n"), sb_str(big, SB_STORE_MAX_URL + 1), 0, on_done, &c),
        SB_EINVAL);

    sb_store_message_in_t m = {.room = S("r"), .sender_id = S("s"), .content = sb_str(big, 101)};
    CHECK_EQ(sb_store_message_append(st, &m, on_msg, &c), SB_EINVAL); /* over max_content */
    m.content = sb_str(big, 100);
    m.room = sb_str(big, SB_STORE_MAX_ROOM + 1);
    CHECK_EQ(sb_store_message_append(st, &m, on_msg, &c), SB_EINVAL);
    m.room = S("r");
    m.type = id129;
    CHECK_EQ(sb_store_message_append(st, &m, on_msg, &c), SB_EINVAL);
    m.type = S("text");
    /* U+0000 in any string: PostgreSQL text cannot hold it, so neither
     * backend takes it (events refuse it before, docs/events.md "Errors"). */
    m.content = nul;
    CHECK_EQ(sb_store_message_append(st, &m, on_msg, &c), SB_EINVAL);
    m.content = sb_str(big, 100);
    static sb_str_t many[SB_STORE_MAX_LIST + 1];
    for (size_t i = 0; i < SB_STORE_MAX_LIST + 1; i++)
        many[i] = S("u");
    m.recipients = many;
    m.n_recipients = SB_STORE_MAX_LIST + 1;
    CHECK_EQ(sb_store_message_append(st, &m, on_msg, &c), SB_EINVAL);
    many[0] = S("");
    m.n_recipients = 2;
    CHECK_EQ(sb_store_message_append(st, &m, on_msg, &c), SB_EINVAL); /* empty recipient */

    CHECK_EQ(sb_store_message_history(st, S("r"), 0, 0, on_msgs, &c), SB_EINVAL);
    CHECK_EQ(sb_store_message_history(st, S("r"), 0, 101, on_msgs, &c), SB_EINVAL);
    CHECK_EQ(sb_store_message_history(st, S("r"), -1, 10, on_msgs, &c), SB_EINVAL);
    int64_t ids[] = {1};
    CHECK_EQ(sb_store_message_mark_read(st, S("u"), S("r"), ids, 0, on_ids, &c), SB_EINVAL);
    CHECK_EQ(sb_store_message_mark_read(st, S("u"), S("r"), NULL, 1, on_ids, &c), SB_EINVAL);
    CHECK_EQ(sb_store_message_undelivered(st, S("u"), 0, 0, on_msgs, &c), SB_EINVAL);
    CHECK_EQ(sb_store_message_undelivered(st, S("u"), 0, SB_STORE_MAX_PAGE + 1, on_msgs, &c),
             SB_EINVAL);
    CHECK_EQ(sb_store_message_mark_delivered(st, S("u"), ids, SB_STORE_MAX_LIST + 1, on_done, &c),
             SB_EINVAL);

    sb_store_notification_in_t n = {
        .user_id = S("u"), .type = S("t"), .data = sb_str(big, SB_STORE_MAX_JSON + 1)};
    CHECK_EQ(sb_store_notification_create(st, &n, on_notif, &c), SB_EINVAL);
    n.data = SB_STR_NULL;
    n.title = sb_str(big, SB_STORE_MAX_TITLE + 1);
    CHECK_EQ(sb_store_notification_create(st, &n, on_notif, &c), SB_EINVAL);
    n.title = S("");
    n.type = S("");
    CHECK_EQ(sb_store_notification_create(st, &n, on_notif, &c), SB_EINVAL);
    CHECK_EQ(sb_store_notification_list(st, S("u"), false, 0, on_notifs, &c), SB_EINVAL);
    CHECK_EQ(sb_store_conversation_create(st, id129, NULL, 0, SB_STR_NULL, on_id, &c), SB_EINVAL);
    CHECK_EQ(sb_store_conversation_create(st, S("x"), NULL, 0, sb_str(big, 257), on_id, &c),
             SB_EINVAL);
    CHECK_EQ(sb_store_conversation_direct(st, id129, S("b"), on_id, &c), SB_EINVAL);
    CHECK_EQ(sb_store_doc_version_add(st, S("d"), S("u"), sb_str(big, 101), 0, on_doc, &c),
             SB_EINVAL);
    CHECK_EQ(sb_store_post_register(st, S("p"), S(""), on_done, &c), SB_EINVAL);

    /* The largest legal values are accepted. */
    sb_store_message_in_t ok = {.room = sb_str(big, SB_STORE_MAX_ROOM),
                                .sender_id = id128,
                                .content = sb_str(big, 100),
                                .type = id128};
    DO(&c, sb_store_message_append(st, &ok, on_msg, &c));
    CHECK_EQ(c.rc, SB_OK);
    CHECK_EQ(strlen(c.s[2] ? c.s[2] : ""), 100);
    DO(&c, sb_store_conversation_direct(st, id128, sb_str(big + 1, 127), on_id, &c));
    CHECK(c.rc == SB_OK && c.s[0] && strlen(c.s[0]) <= SB_STORE_MAX_CONV_ID);
    CHECK_EQ(g_calls, 2); /* only the two accepted requests called back */
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

TEST(queue_limit) {
    setup();
    sb_store_t *st = open_with((sb_store_config_t){.max_queue = 10, .max_queue_bytes = 200000});
    static cap_t caps[11];
    for (int i = 0; i < 10; i++)
        CHECK_EQ(append(st, S("r"), S("u"), "x", &caps[i]), SB_OK);
    CHECK_EQ(append(st, S("r"), S("u"), "x", &caps[10]), SB_ETOOBIG);
    sb_store_stats_t stats;
    sb_store_stats(st, &stats);
    CHECK_EQ(stats.pending, 10);
    CHECK(wait_all());
    for (int i = 0; i < 10; i++)
        CHECK_EQ(caps[i].rc, SB_OK);
    CHECK_EQ(caps[10].calls, 0);
    CHECK_EQ(append(st, S("r"), S("u"), "x", &caps[10]), SB_OK); /* room again */
    CHECK(wait_all());

    /* The byte budget: one 60 KB message fits in 200 KB, four do not. */
    static char text[60001];
    memset(text, 'z', sizeof text - 1);
    int ok = 0, refused = 0;
    for (int i = 0; i < 4; i++) {
        int rc = append(st, S("r"), S("u"), text, &caps[i]);
        ok += rc == SB_OK;
        refused += rc == SB_ETOOBIG;
    }
    CHECK(ok >= 1 && ok <= 3);
    CHECK_EQ(ok + refused, 4);
    CHECK(wait_all());
    for (int i = 0; i < 11; i++)
        cap_reset(&caps[i]);
    sb_store_close(st);
    teardown();
}

/* The queue validator accepts a live store's queues and refuses each kind
 * of corruption, shown on a copy of the queue state built by hand so that
 * the store thread cannot take the requests meanwhile. */
TEST(queue_validator_refuses_corruption) {
    setup();
    sb_store_t *st = open_store();
    static cap_t caps[20];
    for (int i = 0; i < 20; i++)
        CHECK_EQ(append(st, S("r"), S("u"), "x", &caps[i]), SB_OK);
    pthread_mutex_lock(&st->mu);
    CHECK_EQ(sb_store__queue_validate(st), SB_OK);
    pthread_mutex_unlock(&st->mu);
    CHECK(wait_all());
    pthread_mutex_lock(&st->mu);
    CHECK_EQ(sb_store__queue_validate(st), SB_OK);
    pthread_mutex_unlock(&st->mu);

    sb_store_t *q = calloc(1, sizeof *q);
    sb_store__shard_t shards[2] = {{0}}; /* the request sits in the second one's queue */
    q->shards = shards;
    q->n_shards = 2;
    q->cfg.max_queue = 10;
    q->cfg.max_queue_bytes = 1 << 20;
    sb_store__req_t *a = sb_store__req_new(SB_STORE__OP_message_append, NULL);
    sb_store__req_t *b = sb_store__req_new(SB_STORE__OP_user_get, NULL);
    CHECK(sb_store__alloc(a, 100) && sb_store__alloc(b, 1000));
    a->charge = sizeof *a + a->arena.bytes;
    b->charge = sizeof *b + b->arena.bytes;
    shards[1].pend_head = shards[1].pend_tail = a;
    shards[1].pend_n = 1;
    q->done_head = q->done_tail = b;
    q->outstanding = 2;
    q->outstanding_bytes = a->charge + b->charge;
    CHECK_EQ(sb_store__req_validate(a), SB_OK);
    CHECK_EQ(sb_store__queue_validate(q), SB_OK);

    shards[1].pend_n = 2; /* a count that is not the list's */
    CHECK_EQ(sb_store__queue_validate(q), SB_EPROTO);
    shards[1].pend_n = 1;
    shards[1].pend_tail = NULL; /* a tail that is not the last node */
    CHECK_EQ(sb_store__queue_validate(q), SB_EPROTO);
    shards[1].pend_tail = a;
    a->next = a; /* a cycle */
    CHECK_EQ(sb_store__queue_validate(q), SB_EPROTO);
    a->next = NULL;
    q->outstanding = 1; /* more queued than counted */
    CHECK_EQ(sb_store__queue_validate(q), SB_EPROTO);
    q->outstanding = 11; /* over the queue's capacity */
    CHECK_EQ(sb_store__queue_validate(q), SB_EPROTO);
    q->outstanding = 2;
    q->outstanding_bytes--; /* charges over the counted bytes */
    CHECK_EQ(sb_store__queue_validate(q), SB_EPROTO);
    q->outstanding_bytes++;
    const sb_store__op_t *op = b->op;
    b->op = (const sb_store__op_t *)((const char *)op + 1); /* not a row */
    CHECK_EQ(sb_store__req_validate(b), SB_EPROTO);
    CHECK_EQ(sb_store__queue_validate(q), SB_EPROTO);
    b->op = &sb_store__ops[SB_STORE__OP__COUNT]; /* past the table */
    CHECK_EQ(sb_store__queue_validate(q), SB_EPROTO);
    b->op = op;
    b->arena.bytes += 16; /* blocks that do not add up */
    CHECK_EQ(sb_store__queue_validate(q), SB_EPROTO);
    b->arena.bytes -= 16;
    b->charge = sizeof *b + b->arena.bytes + 1; /* charged more than it holds */
    CHECK_EQ(sb_store__queue_validate(q), SB_EPROTO);
    b->charge = sizeof *b + b->arena.bytes;
    CHECK_EQ(sb_store__queue_validate(q), SB_OK);

    sb_store__req_free(a);
    sb_store__req_free(b);
    free(q);
    for (int i = 0; i < 20; i++)
        cap_reset(&caps[i]);
    sb_store_close(st);
    teardown();
}

/* ---- batches, group commit, isolation
 * ----------------------------------------------------------------- */

/* Every commit between the two snapshots is timed and in the histogram. */
static void check_commit_latency(const sb_store_stats_t *before, const sb_store_stats_t *after) {
    uint64_t in_buckets = 0;
    for (size_t i = 0; i <= SB_STORE_COMMIT_NBUCKETS; i++) {
        CHECK(after->commit_buckets[i] >= before->commit_buckets[i]);
        in_buckets += after->commit_buckets[i] - before->commit_buckets[i];
    }
    CHECK_EQ(in_buckets, after->commits - before->commits);
    CHECK(after->commit_us_last > 0); /* a commit writes a file: never instant */
    CHECK(after->commit_us_max >= after->commit_us_last);
    CHECK(after->commit_us_max >= after->commit_us_avg);
    CHECK(after->commit_us_avg > 0);
    CHECK(after->commit_us_sum - before->commit_us_sum >= after->commit_us_last);
}

TEST(group_commit) {
    setup();
    sb_store_t *st = open_store();
    enum { N = 1000 };
    static cap_t caps[N];
    sb_store_stats_t before, after;
    sb_store_stats(st, &before);
    uint64_t t0 = sb_clock_ms();
    for (int i = 0; i < N; i++) /* all in one loop iteration */
        CHECK_EQ(append(st, S("room:g"), S("u"), "group", &caps[i]), SB_OK);
    CHECK(wait_all());
    uint64_t ms = sb_clock_ms() - t0;
    sb_store_stats(st, &after);
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += caps[i].rc == SB_OK && (i == 0 || caps[i].v[0] > caps[i - 1].v[0]);
    CHECK_EQ(ok, N);
    uint64_t commits = after.commits - before.commits;
    CHECK(commits >= 4 && commits <= 50); /* batch_max 256: at least 4, far fewer than 1000 */
    CHECK_EQ(after.requests - before.requests, N);
    CHECK(after.max_batch <= 256 && after.max_batch >= 100);
    CHECK_EQ(after.pending, 0);
    check_commit_latency(&before, &after);
    printf("  group commit: %d appends -> %llu commits in %llu batches (max batch %zu), %llu ms\n",
           N, (unsigned long long)commits, (unsigned long long)(after.batches - before.batches),
           after.max_batch, (unsigned long long)ms);
    for (int i = 0; i < N; i++)
        cap_reset(&caps[i]);
    sb_store_close(st);
    teardown();
}

TEST(failure_in_batch_keeps_the_others) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0};
    DO(&c, sb_store_conversation_create(st, S("dup"), NULL, 0, SB_STR_NULL, on_id, &c));
    enum { N = 300 };
    static cap_t pre[N], post[N];
    cap_t bad = {0}, good = {0}, f1 = {0}, f2 = {0}, nf = {0};
    for (int i = 0; i < N; i++) /* keeps the thread busy so what follows shares a batch */
        append(st, S("room:x"), S("u"), "pre", &pre[i]);
    submitted(sb_store_conversation_create(st, S("dup"), NULL, 0, SB_STR_NULL, on_id, &bad));
    submitted(sb_store_conversation_create(st, S("fresh"), NULL, 0, SB_STR_NULL, on_id, &good));
    submitted(sb_store_friend_request(st, S("a"), S("b"), on_freq, &f1));
    submitted(sb_store_friend_request(st, S("b"), S("a"), on_freq, &f2));
    submitted(sb_store_notification_mark_read(st, S("a"), 12345, on_done, &nf));
    for (int i = 0; i < N; i++)
        append(st, S("room:x"), S("u"), "post", &post[i]);
    CHECK(wait_all());
    CHECK_EQ(bad.rc, SB_EEXISTS);
    CHECK_EQ(good.rc, SB_OK);
    CHECK_EQ(f1.rc, SB_OK);
    CHECK_EQ(f2.rc, SB_EEXISTS); /* sees f1, written earlier in the same transaction */
    CHECK_EQ(nf.rc, SB_ENOTFOUND);
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += (pre[i].rc == SB_OK) + (post[i].rc == SB_OK);
    CHECK_EQ(ok, 2 * N);
    sb_store_stats_t stats;
    sb_store_stats(st, &stats);
    CHECK_EQ(stats.failed, 3);
    CHECK_EQ(stats.commit_failures, 0);
    sb_store_close(st);

    /* Everything that reported SB_OK is there after a reopen. */
    st = open_store();
    DO(&c, sb_store_conversation_members(st, S("fresh"), on_strs, &c));
    CHECK_EQ(c.rc, SB_OK);
    int64_t before = 0;
    size_t total = 0;
    for (;;) {
        DO(&c, sb_store_message_history(st, S("room:x"), before, 100, on_msgs, &c));
        if (c.n == 0)
            break;
        total += c.n;
        before = c.v[c.n - 1];
    }
    CHECK_EQ(total, 2 * N);
    for (int i = 0; i < N; i++) {
        cap_reset(&pre[i]);
        cap_reset(&post[i]);
    }
    cap_reset(&bad), cap_reset(&good), cap_reset(&f1), cap_reset(&f2), cap_reset(&nf);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* One batch mixing requests whose statements depend on earlier results, a
 * statement that fails, a refusal after a write and plain appends: each
 * answers as it would alone, in submission order (on PostgreSQL the batch
 * is pipelined: sent with guessed results, then replayed over the real
 * ones, the requests whose guesses were wrong run again), and only what
 * answered SB_OK stays. */
TEST(mixed_batch_answers_as_one_by_one) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0};
    DO(&c, sb_store_post_register(st, S("p1"), S("alice"), on_done, &c));
    enum { N = 300 };
    static cap_t pre[N], post[N];
    cap_t d1 = {0}, bad_json = {0}, d2 = {0}, conv = {0}, dup = {0}, gen = {0}, nf = {0};
    cap_t orphan = {0}, comment = {0}, direct = {0}, direct2 = {0}, d3 = {0};
    for (int i = 0; i < N; i++) /* keeps the thread busy so what follows shares a batch */
        append(st, S("room:m"), S("u"), "pre", &pre[i]);
    submitted(sb_store_doc_version_add(st, S("d"), S("a"), S("{\"v\":1}"), 1, on_doc, &d1));
    submitted(sb_store_doc_version_add(st, S("d"), S("a"), S("not json"), 2, on_doc, &bad_json));
    submitted(sb_store_doc_version_add(st, S("d"), S("b"), S("{\"v\":2}"), 3, on_doc, &d2));
    submitted(sb_store_conversation_create(st, S("c1"), NULL, 0, SB_STR_NULL, on_id, &conv));
    submitted(sb_store_conversation_create(st, S("c1"), NULL, 0, SB_STR_NULL, on_id, &dup));
    submitted(sb_store_conversation_create(st, SB_STR_NULL, NULL, 0, S("t"), on_id, &gen));
    submitted(sb_store_notification_mark_read(st, S("a"), 777, on_done, &nf));
    submitted(sb_store_post_comment(st, S("nope"), S("bob"), S("x"), 4, on_comment, &orphan));
    submitted(sb_store_post_comment(st, S("p1"), S("bob"), S("y"), 5, on_comment, &comment));
    submitted(sb_store_conversation_direct(st, S("a"), S("b"), on_id, &direct));
    submitted(sb_store_conversation_direct(st, S("b"), S("a"), on_id, &direct2));
    submitted(sb_store_doc_version_add(st, S("d"), S("c"), S("{\"v\":3}"), 6, on_doc, &d3));
    for (int i = 0; i < N; i++)
        append(st, S("room:m"), S("u"), "post", &post[i]);
    CHECK(wait_all());
    CHECK(d1.rc == SB_OK && d1.v[0] == 1);
    CHECK_EQ(bad_json.rc, SB_EINVAL);
    CHECK(d2.rc == SB_OK && d2.v[0] == 2); /* the refused edit used no version */
    CHECK(d3.rc == SB_OK && d3.v[0] == 3);
    STR_EQ(d3.s[1], "c");
    CHECK_EQ(conv.rc, SB_OK);
    STR_EQ(conv.s[0], "c1");
    CHECK_EQ(dup.rc, SB_EEXISTS);
    CHECK(gen.rc == SB_OK && gen.s[0] && strlen(gen.s[0]) == 16);
    CHECK_EQ(nf.rc, SB_ENOTFOUND);
    CHECK_EQ(orphan.rc, SB_ENOTFOUND);
    CHECK(comment.rc == SB_OK && comment.v[0] > 0);
    CHECK(direct.rc == SB_OK && direct2.rc == SB_OK && direct.s[0] && direct2.s[0]);
    STR_EQ(direct.s[0], direct2.s[0]);
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += pre[i].rc == SB_OK && post[i].rc == SB_OK &&
              (i == 0 || (pre[i].v[0] > pre[i - 1].v[0] && post[i].v[0] > post[i - 1].v[0]));
    CHECK_EQ(ok, N);
    CHECK(post[0].v[0] > pre[N - 1].v[0]);

    /* What answered SB_OK is stored once; nothing of the refusals is. */
    DO(&c, sb_store_doc_latest(st, S("d"), on_doc, &c));
    CHECK(c.rc == SB_OK && c.v[0] == 3);
    DO(&c, sb_store_conversation_members(st, sb_cstr(direct.s[0]), on_strs, &c));
    CHECK_EQ(c.n, 2);
    DO(&c, sb_store_conversation_members(st, S("c1"), on_strs, &c));
    CHECK_EQ(c.rc, SB_OK);
    DO(&c, sb_store_conversation_members(st, sb_cstr(gen.s[0]), on_strs, &c));
    CHECK_EQ(c.rc, SB_OK);
    size_t total = 0;
    for (int64_t before = 0;; before = c.v[c.n - 1]) {
        DO(&c, sb_store_message_history(st, S("room:m"), before, 100, on_msgs, &c));
        if (c.n == 0)
            break;
        total += c.n;
    }
    CHECK_EQ(total, 2 * N);
    for (int i = 0; i < N; i++) {
        cap_reset(&pre[i]);
        cap_reset(&post[i]);
    }
    cap_t *all[] = {&d1,     &bad_json, &d2,     &conv,    &dup, &gen, &nf,
                    &orphan, &comment,  &direct, &direct2, &d3,  &c};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        cap_reset(all[i]);
    sb_store_close(st);
    teardown();
}

/* The key and the message commit together; a retry, even in the same
 * batch, finds the first message and stores nothing. */
TEST(message_append_idempotency_key) {
    setup();
    sb_store_t *st = open_store();
    sb_str_t rcpt[] = {S("bob")};
    sb_store_message_in_t m = {.room = S("room:k"),
                               .sender_id = S("alice"),
                               .content = S("once"),
                               .created_at_ms = 1000,
                               .recipients = rcpt,
                               .n_recipients = 1,
                               .idempotency_key = S("k-1")};
    cap_t first = {0}, retry = {0}, other = {0}, mine = {0}, c = {0};
    submitted(sb_store_message_append(st, &m, on_msg, &first));
    m.content = S("retry payload is ignored");
    m.created_at_ms = 2000;
    submitted(sb_store_message_append(st, &m, on_msg, &retry));
    m.sender_id = S("carol"); /* keys are per sender */
    submitted(sb_store_message_append(st, &m, on_msg, &other));
    m.sender_id = S("alice");
    m.idempotency_key = S("k-2");
    submitted(sb_store_message_append(st, &m, on_msg, &mine));
    CHECK(wait_all());
    CHECK_EQ(first.rc, SB_OK);
    CHECK(!first.yes);
    CHECK_EQ(retry.rc, SB_OK);
    CHECK(retry.yes);
    CHECK_EQ(retry.v[0], first.v[0]);
    CHECK_EQ(retry.v[1], 1000);
    CHECK(retry.s[2] && strcmp(retry.s[2], "once") == 0);
    CHECK(!other.yes && other.v[0] != first.v[0]);
    CHECK(!mine.yes && mine.v[0] != first.v[0]);
    CHECK_EQ(careful_runs(st), 0); /* the retry in the same batch: one statement, no wrong guess */
    DO(&c, sb_store_message_history(st, S("room:k"), 0, 100, on_msgs, &c));
    CHECK_EQ(c.n, 3);
    DO(&c, sb_store_message_undelivered(st, S("bob"), 0, 100, on_msgs, &c));
    CHECK_EQ(c.n, 3); /* one delivery row per stored message, none for the retry */
    /* Invalid keys are refused before queueing. */
    m.idempotency_key = sb_str("x", 0);
    CHECK_EQ(sb_store_message_append(st, &m, on_msg, &c), SB_EINVAL);
    char big[SB_STORE_MAX_KEY + 2];
    memset(big, 'k', sizeof big);
    m.idempotency_key = sb_str(big, sizeof big);
    CHECK_EQ(sb_store_message_append(st, &m, on_msg, &c), SB_EINVAL);
    CHECK(sb_store_key_valid(S("~abc-123")) && !sb_store_key_valid(S("a b")));
    cap_reset(&first), cap_reset(&retry), cap_reset(&other), cap_reset(&mine), cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* Fills the file system holding `dir` to its last byte. */
static void fill_disk(const char *dir) {
    char path[256];
    snprintf(path, sizeof path, "%s/filler", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    static char buf[65536];
    for (size_t n = sizeof buf; fd >= 0 && n >= 1; n /= 2)
        while (write(fd, buf, n) == (ssize_t)n)
            ;
    if (fd >= 0)
        close(fd);
}

/* On a full disk every write of the batches below fails, and every read
 * that shares a batch (a transaction) with one still gets its answer. */
TEST(failing_writes_do_not_fail_reads_of_their_batch) {
    setup();
    char dir[128];
    snprintf(dir, sizeof dir, "%s/data", g_dir);
    mkdir(dir, 0700);
    if (mount("tmpfs", dir, "tmpfs", 0, "size=4m,mode=0700") != 0) {
        printf("  skipped: cannot mount a tmpfs here (%s)\n", strerror(errno));
        teardown();
        return;
    }
    sb_store_t *st = open_store();
    cap_t c = {0};
    append(st, S("room:r"), S("u"), "kept", &c);
    CHECK(wait_all());
    fill_disk(dir);
    enum { N = 200 };
    static char big[60000];
    memset(big, 'b', sizeof big - 1);
    static cap_t w[N], rd[N];
    for (int i = 0; i < N; i++) {
        append(st, S("room:r"), S("u"), big, &w[i]);
        submitted(sb_store_message_history(st, S("room:r"), 0, 10, on_msgs, &rd[i]));
    }
    CHECK(wait_all());
    int failed_writes = 0, good_reads = 0;
    for (int i = 0; i < N; i++) {
        failed_writes += w[i].rc == SB_EIO;
        good_reads += rd[i].rc == SB_OK && rd[i].n >= 1;
        cap_reset(&w[i]);
        cap_reset(&rd[i]);
    }
    CHECK(failed_writes > 0);
    CHECK_EQ(good_reads, N);
    sb_store_stats_t stats;
    sb_store_stats(st, &stats);
    CHECK(stats.batches < 2 * N); /* reads and writes did share batches */
    cap_reset(&c);
    sb_store_close(st);
    umount2(dir, MNT_DETACH);
    teardown();
}

#if SB_TEST_PG
/* PostgreSQL refusing writes (INSERT on messages revoked, as a database out
 * of disk space or a read-only one would): the writes fail with SB_EIO, the
 * reads sharing their batches still answer; once allowed again, writes
 * commit. The twin of the SQLite test above (a full tmpfs). */
TEST(refused_writes_do_not_fail_reads_of_their_batch) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0};
    append(st, S("room:r"), S("u"), "kept", &c);
    CHECK(wait_all());
    PGconn *other = PQconnectdb(getenv("SB_PG_URL"));
    CHECK(PQstatus(other) == CONNECTION_OK);
    CHECK(pg_exec_ok(other, "REVOKE INSERT ON messages FROM CURRENT_USER"));
    enum { N = 200 };
    static cap_t w[N], rd[N];
    for (int i = 0; i < N; i++) {
        append(st, S("room:r"), S("u"), "refused", &w[i]);
        submitted(sb_store_message_history(st, S("room:r"), 0, 10, on_msgs, &rd[i]));
    }
    CHECK(wait_all());
    int failed_writes = 0, good_reads = 0;
    for (int i = 0; i < N; i++) {
        failed_writes += w[i].rc == SB_EIO;
        good_reads += rd[i].rc == SB_OK && rd[i].n == 1;
        cap_reset(&w[i]);
        cap_reset(&rd[i]);
    }
    CHECK_EQ(failed_writes, N);
    CHECK_EQ(good_reads, N);
    sb_store_stats_t stats;
    sb_store_stats(st, &stats);
    CHECK(stats.batches < 2 * N); /* reads and writes did share batches */
    /* /health says so, as on SQLite (a probe write a second after the last
     * failure brings it back); the connection itself is fine. */
    sb_store_health_t h;
    sb_store_health(st, &h);
    CHECK_EQ(h.state, SB_STORE_FAILING);
    CHECK(strstr(h.reason, "permission denied") != NULL);
    CHECK(h.write_errors >= N);
    CHECK(pg_exec_ok(other, "GRANT INSERT ON messages TO CURRENT_USER"));
    PQfinish(other);
    for (uint64_t t = sb_clock_ms(); h.state != SB_STORE_OK && sb_clock_ms() - t < 10000;) {
        usleep(100 * 1000);
        sb_store_health(st, &h);
    }
    CHECK_EQ(h.state, SB_STORE_OK);
    DO(&c, sb_store_message_history(st, S("room:r"), 0, 10, on_msgs, &c));
    CHECK_EQ(c.n, 1); /* nothing of the refused writes was stored */
    CHECK_EQ(append(st, S("room:r"), S("u"), "again", &c), SB_OK);
    CHECK(wait_all());
    CHECK_EQ(c.rc, SB_OK);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}
#endif

/* ---- durability
 * -------------------------------------------------------------------------------------------- */

TEST(reopen_keeps_everything) {
    setup();
    sb_store_t *st = open_store();
    cap_t c = {0}, m = {0};
    DO(&c, sb_store_user_upsert(st, S("u1"), S("Ann"), SB_STR_NULL, 5, on_done, &c));
    DO(&c, sb_store_conversation_direct(st, S("u1"), S("u2"), on_id, &c));
    DO(&m, sb_store_message_append(st,
                                   &(sb_store_message_in_t){.room = S("conversation:dm:2:u1:u2"),
                                                            .sender_id = S("u1"),
                                                            .content = S("persist me"),
                                                            .created_at_ms = 9,
                                                            .recipients = &S("u2"),
                                                            .n_recipients = 1},
                                   on_msg, &m));
    DO(&c, sb_store_friend_request(st, S("u1"), S("u2"), on_freq, &c));
    DO(&c, sb_store_post_register(st, S("p"), S("u1"), on_done, &c));
    DO(&c, sb_store_doc_version_add(st, S("d"), S("u1"), S("{}"), 1, on_doc, &c));
    sb_store_close(st);

    st = open_store();
    CHECK(st != NULL);
    DO(&c, sb_store_user_get(st, S("u1"), on_user, &c));
    STR_EQ(c.s[1], "Ann");
    DO(&c, sb_store_conversation_is_member(st, S("dm:2:u1:u2"), S("u2"), on_bool, &c));
    CHECK(c.rc == SB_OK && c.yes);
    DO(&c, sb_store_message_history(st, S("conversation:dm:2:u1:u2"), 0, 10, on_msgs, &c));
    CHECK(c.n == 1 && c.v[0] == m.v[0]);
    STR_EQ(c.s[2], "persist me");
    DO(&c, sb_store_message_undelivered(st, S("u2"), 0, 10, on_msgs, &c));
    CHECK_EQ(c.n, 1);
    DO(&c, sb_store_friend_request(st, S("u2"), S("u1"), on_freq, &c));
    CHECK_EQ(c.rc, SB_EEXISTS); /* the pending request survived */
    DO(&c, sb_store_post_get(st, S("p"), on_post, &c));
    CHECK_EQ(c.rc, SB_OK);
    DO(&c, sb_store_doc_latest(st, S("d"), on_doc, &c));
    CHECK(c.rc == SB_OK && c.v[0] == 1);
    /* Ids keep increasing after a reopen. */
    cap_t m2 = {0};
    DO(&m2, sb_store_message_append(
                st, &(sb_store_message_in_t){.room = S("r"), .sender_id = S("u1")}, on_msg, &m2));
    CHECK(m2.v[0] > m.v[0]);
    cap_reset(&c), cap_reset(&m), cap_reset(&m2);
    sb_store_close(st);
    teardown();
}

static int g_pipe_w;

static void on_child_append(void *ud, int rc, const sb_store_msg_t *m) {
    (void)ud;
    int64_t id = rc == SB_OK ? m->id : -1;
    if (write(g_pipe_w, &id, sizeof id) != (ssize_t)sizeof id)
        _exit(4);
    raise(SIGKILL); /* die right after the ack: no close, no checkpoint */
}

/* The child appends and dies by SIGKILL inside the completion callback; the
 * acknowledged row must be in the database the parent reopens. */
TEST(durability_kill_after_ack) {
    setup();
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        g_pipe_w = fds[1];
        sb_loop_t loop;
        if (sb_loop_init(&loop) != SB_OK)
            _exit(2);
        char dir[128];
        snprintf(dir, sizeof dir, "%s/data", g_dir);
        sb_store_config_t cfg = {.data_dir = dir};
#if SB_TEST_PG
        cfg.database_url = getenv("SB_PG_URL");
#endif
        sb_store_t *st = sb_store_open(&loop, &cfg, NULL, 0);
        if (!st)
            _exit(3);
        for (int i = 0; i < 50; i++) {
            sb_store_message_in_t m = {
                .room = S("room:k"), .sender_id = S("child"), .content = S("acked")};
            sb_store_message_append(st, &m, on_child_append, NULL);
        }
        sb_loop_run(&loop);
        _exit(5);
    }
    close(fds[1]);
    int64_t id = 0;
    CHECK_EQ(read(fds[0], &id, sizeof id), (ssize_t)sizeof id);
    close(fds[0]);
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(id > 0);

    sb_store_t *st = open_store();
    CHECK(st != NULL);
    cap_t c = {0};
    DO(&c, sb_store_message_history(st, S("room:k"), id + 1, 1, on_msgs, &c));
    CHECK(c.rc == SB_OK && c.n == 1 && c.v[0] == id);
    STR_EQ(c.s[1], "child");
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* ---- close and concurrency
 * ------------------------------------------------------------------------------ */

static sb_store_t *g_closing_store;
static int g_late_rc;

static void on_close_msg(void *ud, int rc, const sb_store_msg_t *m) {
    on_msg(ud, rc, m);
    sb_store_message_in_t in = {.room = S("r"), .sender_id = S("late")};
    g_late_rc = sb_store_message_append(g_closing_store, &in, on_msg, NULL);
}

TEST(close_finishes_queued_requests) {
    setup();
    sb_store_t *st = open_store();
    enum { N = 100 };
    static cap_t caps[N];
    g_closing_store = st;
    for (int i = 0; i < N; i++) {
        sb_store_message_in_t m = {.room = S("room:c"), .sender_id = S("u"), .content = S("q")};
        CHECK_EQ(submitted(sb_store_message_append(st, &m, on_close_msg, &caps[i])), SB_OK);
    }
    sb_store_close(st); /* the loop never ran: close delivers everything */
    CHECK_EQ(g_outstanding, 0);
    CHECK_EQ(g_late_rc, SB_ECLOSED);
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += caps[i].rc == SB_OK && caps[i].calls == 1;
    CHECK_EQ(ok, N);

    st = open_store();
    cap_t c = {0};
    DO(&c, sb_store_message_history(st, S("room:c"), 0, 100, on_msgs, &c));
    CHECK_EQ(c.n, N);
    for (int i = 0; i < N; i++)
        cap_reset(&caps[i]);
    cap_reset(&c);

    /* flush_sync: executes and delivers without running the loop. */
    cap_t f = {0};
    CHECK_EQ(submitted(sb_store_user_get(st, S("nobody"), on_user, &f)), SB_OK);
    sb_store_flush_sync(st);
    CHECK(f.calls == 1 && f.rc == SB_ENOTFOUND);
    cap_reset(&f);
    sb_store_close(st);
    sb_store_close(NULL);
    teardown();
}

static void on_count_ok(void *ud, int rc, const sb_store_msg_t *m) {
    *(int *)ud += rc == SB_OK && m && m->id > 0;
    completed();
}

static int g_ticks, g_ticks_busy;
static uint64_t g_last_tick, g_max_gap;
static sb_timer_t g_tick;

static void on_tick(sb_timer_t *t) {
    uint64_t now = sb_clock_ms();
    if (g_last_tick && now - g_last_tick > g_max_gap)
        g_max_gap = now - g_last_tick;
    g_last_tick = now;
    g_ticks++;
    g_ticks_busy += g_outstanding > 0;
    sb_timer_start(t, 2);
}

/* A large write load commits on the store thread while the loop keeps
 * running its timers. */
TEST(loop_keeps_running_during_commits) {
    setup();
    sb_store_t *st = open_store();
    /* PostgreSQL answers each statement over a socket: fewer appends keep
     * the run well inside the 5 s guard on a loaded machine, and enough
     * that it lasts a few hundred ms (2,000 took under 100 ms, so one stall
     * of the machine could leave fewer than 3 ticks in it). */
    enum { N = SB_TEST_PG ? 6000 : 20000 };
    static char text[1025];
    memset(text, 'c', sizeof text - 1);
    int ok = 0;
    sb_timer_init(&g_loop, &g_tick, on_tick);
    g_loop.now_ms = sb_clock_ms();
    sb_timer_start(&g_tick, 2);
    uint64_t t0 = sb_clock_ms();
    for (int i = 0; i < N; i++) {
        sb_store_message_in_t m = {
            .room = S("room:big"), .sender_id = S("u"), .content = sb_cstr(text)};
        submitted(sb_store_message_append(st, &m, on_count_ok, &ok));
    }
    uint64_t submit_ms = sb_clock_ms() - t0;
    g_last_tick = sb_clock_ms();
    CHECK(wait_all());
    uint64_t total_ms = sb_clock_ms() - t0;
    sb_timer_stop(&g_tick);
    CHECK_EQ(ok, N);
    sb_store_stats_t stats;
    sb_store_stats(st, &stats);
    CHECK(g_ticks_busy >= 3);
    /* A loop blocked by the commits would show one gap as long as most of
     * the run; a loaded machine (ASan, other processes) may stall the loop
     * now and then for other reasons, so only such a gap fails. */
    CHECK(g_max_gap < 250 || g_max_gap * 2 < total_ms);
    printf("  %d x 1 KiB appends: submit %llu ms, all committed after %llu ms, %llu commits; "
           "timer ticks while busy %d, max gap %llu ms\n",
           N, (unsigned long long)submit_ms, (unsigned long long)total_ms,
           (unsigned long long)stats.commits, g_ticks_busy, (unsigned long long)g_max_gap);
    sb_store_close(st);
    teardown();
}

#if SB_TEST_PG
/* ---- PostgreSQL down and back ------------------------------------------------------- */

static int cluster(const char *verb) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' >/dev/null 2>&1", getenv("SB_PG_HELPER"), verb,
             getenv("SB_PG_DIR"));
    return system(cmd);
}

/* Stopping PostgreSQL mid-run: writes fail with SB_EUNAVAIL after the
 * bounded wait (never an acknowledgement), /health says failing; started
 * again, the same store serves again by itself, and everything acknowledged
 * before is there. */
/* append() counts the submit itself, so not DO(). */
#define APPEND_WAIT(c, text)                                                                       \
    do {                                                                                           \
        cap_reset(c);                                                                              \
        CHECK_EQ(append(st, S("room:f"), S("u"), text, c), SB_OK);                                 \
        CHECK(wait_all());                                                                         \
    } while (0)

TEST(unavailable_then_recovers) {
    setup();
    sb_store_t *st = open_with((sb_store_config_t){.store_wait_ms = 1500});
    CHECK(st != NULL);
    cap_t c = {0};
    CHECK(getenv("SB_PG_HELPER") && getenv("SB_PG_DIR"));
    APPEND_WAIT(&c, "before");
    CHECK_EQ(c.rc, SB_OK);
    int64_t first = c.v[0];
    CHECK_EQ(cluster("stop"), 0);
    uint64_t t0 = sb_clock_ms();
    APPEND_WAIT(&c, "while down");
    uint64_t waited = sb_clock_ms() - t0;
    CHECK_EQ(c.rc, SB_EUNAVAIL);
    CHECK(waited < 4500); /* bounded by store_wait_ms (1.5 s), not by the outage */
    DO(&c, sb_store_user_get(st, S("nobody"), on_user, &c));
    CHECK_EQ(c.rc, SB_EUNAVAIL); /* reads too: "not found" would be a lie */
    sb_store_health_t h;
    sb_store_health(st, &h);
    CHECK_EQ(h.state, SB_STORE_FAILING);
    CHECK(strstr(h.reason, "PostgreSQL unavailable") != NULL);
    CHECK(h.write_errors >= 1);
    CHECK_EQ(cluster("start"), 0);
    /* The store reconnects by itself, by its backoff (at most 5 s between
     * attempts); until then a request fails with SB_EUNAVAIL. */
    int rc = SB_EUNAVAIL;
    for (uint64_t t = sb_clock_ms(); rc != SB_OK && sb_clock_ms() - t < 20000;) {
        APPEND_WAIT(&c, "after");
        rc = c.rc;
        if (rc != SB_OK)
            usleep(200 * 1000);
    }
    CHECK_EQ(rc, SB_OK);
    sb_store_health(st, &h);
    CHECK_EQ(h.state, SB_STORE_OK);
    DO(&c, sb_store_message_history(st, S("room:f"), 0, 10, on_msgs, &c));
    CHECK(c.rc == SB_OK && c.n == 2); /* "before" and "after"; nothing of the outage */
    CHECK_EQ(c.v[1], first);
    cap_reset(&c);
    sb_store_close(st);
    teardown();
}

/* ---- two servers on one database ------------------------------------------------------ */

/* Two stores (two servers' store threads) write one room, one document and
 * the same friend pairs in overlapping batches. Each round's batches hold
 * appends and a history read: a read that shows a room's id n while a
 * smaller id of that room commits later would break "history is ordered"
 * across servers. */
enum { CROSS_ROUNDS = 25 }; /* 4 messages a round: one history page (100) holds all */
typedef struct {
    cap_t append[2][2], hist[2], doc[2], freq[2];
} cross_round_t;

static sb_store_t *open_second(void) {
    char dir[128], err[256] = "";
    snprintf(dir, sizeof dir, "%s/data2", g_dir);
    sb_store_config_t cfg = {.data_dir = dir, .database_url = getenv("SB_PG_URL")};
    sb_store_t *st = sb_store_open(&g_loop, &cfg, err, sizeof err);
    if (!st)
        fprintf(stderr, "  open failed: %s\n", err);
    return st;
}

static void cross_round_submit(sb_store_t *const st[2], cross_round_t *c, int round) {
    char from[32], to[32];
    for (int k = 0; k < 2; k++) {
        /* the same pair from both ends: one request between them, not two */
        snprintf(from, sizeof from, "p%d-%c", round, k ? 'b' : 'a');
        snprintf(to, sizeof to, "p%d-%c", round, k ? 'a' : 'b');
        CHECK_EQ(submitted(sb_store_friend_request(st[k], sb_cstr(from), sb_cstr(to), on_freq,
                                                   &c->freq[k])),
                 SB_OK);
        CHECK_EQ(append(st[k], S("room:x"), S("u"), "m", &c->append[k][0]), SB_OK);
        CHECK_EQ(append(st[k], S("room:x"), S("u"), "m", &c->append[k][1]), SB_OK);
        CHECK_EQ(submitted(sb_store_message_history(st[k], S("room:x"), 0, SB_STORE_MAX_HISTORY,
                                                    on_msgs, &c->hist[k])),
                 SB_OK);
        CHECK_EQ(submitted(sb_store_doc_version_add(st[k], S("doc:x"), S("u"), S("{}"), 1, on_doc,
                                                    &c->doc[k])),
                 SB_OK);
    }
}

/* Every id of the final history up to a snapshot's newest id is in it. */
static bool snapshot_is_prefix(const cap_t *snap, const cap_t *all) {
    if (snap->n == 0)
        return true;
    size_t below = 0;
    for (size_t i = 0; i < all->n; i++)
        below += all->v[i] <= snap->v[0];
    return below == snap->n;
}

static void cross_round_free(cross_round_t *r) {
    for (int k = 0; k < 2; k++) {
        cap_reset(&r->append[k][0]);
        cap_reset(&r->append[k][1]);
        cap_reset(&r->hist[k]);
        cap_reset(&r->doc[k]);
        cap_reset(&r->freq[k]);
    }
}

TEST(two_stores_one_database) {
    setup();
    sb_store_t *st[2] = {open_store(), open_second()};
    CHECK(st[0] && st[1]);
    cross_round_t *r = calloc(CROSS_ROUNDS, sizeof *r);
    CHECK(r != NULL);
    for (int i = 0; i < CROSS_ROUNDS; i++) {
        cross_round_submit(st, &r[i], i);
        CHECK(wait_all());
    }
    cap_t all = {0};
    DO(&all, sb_store_message_history(st[0], S("room:x"), 0, SB_STORE_MAX_HISTORY, on_msgs, &all));
    CHECK_EQ(all.n, (size_t)CROSS_ROUNDS * 4);
    int gaps = 0, doc_errors = 0, pairs_ok = 0, pairs_dup = 0;
    bool seen[CROSS_ROUNDS * 2 + 1] = {false};
    for (int i = 0; i < CROSS_ROUNDS; i++)
        for (int k = 0; k < 2; k++) {
            CHECK_EQ(r[i].hist[k].rc, SB_OK);
            gaps += !snapshot_is_prefix(&r[i].hist[k], &all);
            doc_errors += r[i].doc[k].rc != SB_OK;
            int64_t v = r[i].doc[k].v[0];
            if (r[i].doc[k].rc == SB_OK && v >= 1 && v <= CROSS_ROUNDS * 2) {
                CHECK(!seen[v]);
                seen[v] = true;
            }
            pairs_ok += r[i].freq[k].rc == SB_OK;
            pairs_dup += r[i].freq[k].rc == SB_EEXISTS;
        }
    printf("  %d rounds: %d history snapshots with a gap, %d failed versions, "
           "%d/%d pair requests stored/refused\n",
           CROSS_ROUNDS, gaps, doc_errors, pairs_ok, pairs_dup);
    CHECK_EQ(gaps, 0);
    CHECK_EQ(doc_errors, 0);
    CHECK_EQ(pairs_ok, CROSS_ROUNDS);
    CHECK_EQ(pairs_dup, CROSS_ROUNDS);
    for (int i = 0; i < CROSS_ROUNDS; i++)
        cross_round_free(&r[i]);
    free(r);
    cap_reset(&all);
    sb_store_close(st[0]);
    sb_store_close(st[1]);
    teardown();
}

#if SB_TEST_PG
/* Appends from `st` to x, then to y, in one run: filler appends keep the
 * thread busy so that they share a batch. */
static void run_to(sb_store_t *st, const char *x, const char *y, prev_cap_t c[2]) {
    enum { FILL = 8 };
    cap_t fill[FILL] = {{0}};
    for (int i = 0; i < FILL; i++)
        append(st, S("room:fill"), S("u"), "f", &fill[i]);
    CHECK_EQ(append_to(st, sb_cstr(x), SB_STR_NULL, &c[0]), SB_OK);
    CHECK_EQ(append_to(st, sb_cstr(y), SB_STR_NULL, &c[1]), SB_OK);
    CHECK(wait_all());
    CHECK(c[0].rc == SB_OK && c[1].rc == SB_OK && c[0].told && c[1].told);
    for (int i = 0; i < FILL; i++)
        cap_reset(&fill[i]);
}

/* A run hands each recipient the previous id its member remembers from its
 * own committed batches (store_pg_newest.c), only while nobody else
 * appended: another store appends to bob once while the first store's next
 * run goes to others (what it knew of bob must be forgotten), once right
 * before a run to bob (the run must see it and look). */
TEST(previous_ids_exact_when_another_store_appends) {
    setup();
    sb_store_t *st[2] = {open_store(), open_second()};
    CHECK(st[0] && st[1]);
    prev_cap_t r1[2] = {{0}}, r2[2] = {{0}}, r3[2] = {{0}}, r4[2] = {{0}}, r5[2] = {{0}};
    prev_cap_t b1 = {0}, b2 = {0};
    uint64_t runs = run_requests(st[0]);
    run_to(st[0], "bob", "carol", r1);
    CHECK_EQ(append_to(st[1], S("bob"), SB_STR_NULL, &b1), SB_OK);
    CHECK(wait_all());
    run_to(st[0], "dave", "erin", r2);
    run_to(st[0], "bob", "carol", r3);
    CHECK_EQ(r3[0].prev[0], b1.id); /* not r1's: forgotten when b1's id showed */
    CHECK_EQ(r3[1].prev[0], r1[1].id);
    run_to(st[0], "bob", "carol", r4);
    CHECK_EQ(r4[0].prev[0], r3[0].id); /* remembered */
    CHECK_EQ(r4[1].prev[0], r3[1].id);
    CHECK_EQ(append_to(st[1], S("bob"), SB_STR_NULL, &b2), SB_OK);
    CHECK(wait_all());
    run_to(st[0], "bob", "carol", r5);
    CHECK_EQ(r5[0].prev[0], b2.id); /* not r4's: the run saw b2's id and looked */
    CHECK_EQ(r5[1].prev[0], r4[1].id);
    CHECK(run_requests(st[0]) - runs >= 10); /* they ran as runs */
    CHECK_EQ(careful_runs(st[0]), 0);
    sb_store_close(st[0]);
    sb_store_close(st[1]);
    teardown();
}
#endif

/* Read receipts across servers: two stores mark the same messages read for
 * one user in overlapping batches; each id is reported newly read by exactly
 * one of them (the receipt is sent once), never by both or neither. */
TEST(two_stores_read_receipts_once) {
    enum { ROUNDS = 20, PER = 5 };
    setup();
    sb_store_t *st[2] = {open_store(), open_second()};
    CHECK(st[0] && st[1]);
    static cap_t m[ROUNDS * PER], got[ROUNDS][2];
    for (int i = 0; i < ROUNDS * PER; i++)
        append(st[i % 2], S("room:r"), S("sender"), "m", &m[i]);
    CHECK(wait_all());
    int twice = 0, never = 0;
    for (int i = 0; i < ROUNDS; i++) {
        int64_t ids[PER];
        for (int j = 0; j < PER; j++)
            ids[j] = m[i * PER + j].v[0];
        for (int k = 0; k < 2; k++)
            CHECK_EQ(submitted(sb_store_message_mark_read(st[k], S("reader"), S("room:r"), ids, PER,
                                                          on_ids, &got[i][k])),
                     SB_OK);
        CHECK(wait_all());
        CHECK(got[i][0].rc == SB_OK && got[i][1].rc == SB_OK); /* no conflict error either */
        for (int j = 0; j < PER; j++) {
            int times = 0;
            for (int k = 0; k < 2; k++)
                for (size_t x = 0; x < got[i][k].n; x++)
                    times += got[i][k].v[x] == ids[j];
            twice += times > 1;
            never += times == 0;
        }
    }
    printf("  %d ids marked read from two stores at once: %d reported twice, %d never\n",
           ROUNDS * PER, twice, never);
    CHECK_EQ(twice, 0);
    CHECK_EQ(never, 0);
    for (int i = 0; i < ROUNDS * PER; i++)
        cap_reset(&m[i]);
    for (int i = 0; i < ROUNDS; i++)
        cap_reset(&got[i][0]), cap_reset(&got[i][1]);
    sb_store_close(st[0]);
    sb_store_close(st[1]);
    teardown();
}

/* ---- a real deadlock between the store and another session ---------------------------- */

/* Advisory lock keys as sb_store__lock() takes them (store_internal.h,
 * KEY_LOCK): the appends' lock (a session-level one here serves as a gate
 * that holds the store thread in a batch) and the lock of a pair of users. */
#define APPENDS_KEY "4, hashtext('' || chr(10) || 'appends')"
#define GATE_CLOSE "SELECT pg_advisory_lock(" APPENDS_KEY ")"
#define GATE_OPEN "SELECT pg_advisory_unlock(" APPENDS_KEY ")"
#define PAIR_XACT_LOCK(a, b)                                                                       \
    "SELECT pg_advisory_xact_lock(3, hashtext('" a "' || chr(10) || '" b "'))"

/* Polls (up to 10 s) until `n` sessions other than `db` wait for an advisory lock. */
static bool others_wait_for_lock(PGconn *db, int n) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) >= %d FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
             "AND pid <> pg_backend_pid()",
             n);
    for (int i = 0; i < 1000; i++) {
        PGresult *res = PQexec(db, sql);
        bool yes = PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        if (yes)
            return true;
        usleep(10000);
    }
    return false;
}

/* The store's batch holds the appends' lock (an append) and waits for a
 * pair's lock (a friend request), which another session holds; that session
 * then asks for the appends' lock. PostgreSQL finds the deadlock in the
 * store's session (it waited first): the whole batch rolls back, releasing
 * the appends' lock, so the other session gets it; once that one ends, the
 * batch runs again: the append and the request succeed, each stored once. */
TEST(deadlock_is_retried_and_applies_once) {
    setup();
    /* One connection: the append and the request share a batch. */
    sb_store_t *st = open_with((sb_store_config_t){.store_wait_ms = 20000, .pool_size = 1});
    CHECK(st != NULL);
    cap_t warm = {0}, a = {0}, req = {0}, gate = {0}, hist = {0}, again = {0};
    DO(&warm,
       sb_store_user_upsert(st, S("u"), S("u"), SB_STR_NULL, 1, on_done, &warm)); /* connected */
    PGconn *other = PQconnectdb(getenv("SB_PG_URL"));
    CHECK(PQstatus(other) == CONNECTION_OK);
    CHECK(pg_exec_ok(other, GATE_CLOSE));
    CHECK(pg_exec_ok(other, "BEGIN"));
    CHECK(pg_exec_ok(other, PAIR_XACT_LOCK("x", "y")));
    CHECK_EQ(append(st, S("room:gate"), S("u"), "gate", &gate), SB_OK);
    CHECK(others_wait_for_lock(other, 1));
    CHECK_EQ(append(st, S("room:A"), S("u"), "a", &a), SB_OK);
    CHECK_EQ(submitted(sb_store_friend_request(st, S("x"), S("y"), on_freq, &req)), SB_OK);
    CHECK(pg_exec_ok(other, GATE_OPEN));
    CHECK(others_wait_for_lock(other, 1)); /* the store: appends held, waiting for the pair */
    /* Blocks until the store's session loses the deadlock and lets it go. */
    PGresult *res = PQexec(other, "SELECT pg_advisory_xact_lock(" APPENDS_KEY ")");
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    printf("  the other session's lock request: %s\n", state ? state : "granted");
    CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
    PQclear(res);
    CHECK(pg_exec_ok(other, "ROLLBACK")); /* lets the pair go: the batch runs again */
    PQfinish(other);
    g_guard_ms = 20000;
    CHECK(wait_all());
    g_guard_ms = 5000;
    CHECK_EQ(gate.rc, SB_OK);
    CHECK_EQ(a.rc, SB_OK);
    CHECK_EQ(req.rc, SB_OK);
    DO(&hist, sb_store_message_history(st, S("room:A"), 0, 10, on_msgs, &hist));
    CHECK(hist.rc == SB_OK && hist.n == 1); /* once, not twice */
    CHECK_EQ(hist.v[0], a.v[0]);
    DO(&again, sb_store_friend_request(st, S("x"), S("y"), on_freq, &again));
    CHECK_EQ(again.rc, SB_EEXISTS); /* stored by the batch's second run */
    cap_reset(&warm), cap_reset(&a), cap_reset(&req), cap_reset(&gate), cap_reset(&hist);
    cap_reset(&again);
    sb_store_close(st);
    teardown();
}

/* A COMMIT whose outcome stays unknown: a deferred trigger makes the batch's
 * COMMIT take 2 s (once) against a 1.5 s wait, so the store gives up on it
 * and drops the connection, and the database commits it all the same. The
 * requests that may run again (a keyed append, a mark read, a read) run in a
 * transaction of their own with a new wait and answer as if the first run
 * had been acknowledged; the unkeyed append fails with SB_EUNAVAIL and was
 * stored once. */
TEST(unknown_outcome_runs_idempotent_requests_again) {
    setup();
    sb_store_t *st = open_with((sb_store_config_t){.store_wait_ms = 1500});
    CHECK(st != NULL);
    cap_t m = {0}, gate = {0}, keyed = {0}, plain = {0}, read = {0}, hist = {0}, after = {0};
    append(st, S("room:u"), S("alice"), "m", &m);
    CHECK(wait_all());
    PGconn *other = PQconnectdb(getenv("SB_PG_URL"));
    CHECK(PQstatus(other) == CONNECTION_OK);
    CHECK(pg_exec_ok(other, "CREATE TABLE slow_once(x int)"));
    CHECK(pg_exec_ok(other, "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ "
                            "BEGIN IF NOT EXISTS (SELECT 1 FROM slow_once) THEN "
                            "INSERT INTO slow_once VALUES (1); PERFORM pg_sleep(2); END IF; "
                            "RETURN NULL; END $$"));
    CHECK(pg_exec_ok(other, "CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON message_reads "
                            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "
                            "slow_commit()"));
    /* The gate holds the store thread so that the four requests share a batch. */
    CHECK(pg_exec_ok(other, GATE_CLOSE));
    CHECK_EQ(append(st, S("room:gate"), S("u"), "gate", &gate), SB_OK);
    CHECK(others_wait_for_lock(other, 1));
    sb_store_message_in_t k = {.room = S("room:u"),
                               .sender_id = S("alice"),
                               .content = S("keyed"),
                               .idempotency_key = S("k-u")};
    CHECK_EQ(submitted(sb_store_message_append(st, &k, on_msg, &keyed)), SB_OK);
    CHECK_EQ(append(st, S("room:u"), S("alice"), "plain", &plain), SB_OK);
    int64_t ids[] = {m.v[0]};
    CHECK_EQ(
        submitted(sb_store_message_mark_read(st, S("bob"), S("room:u"), ids, 1, on_ids, &read)),
        SB_OK);
    CHECK_EQ(submitted(sb_store_message_history(st, S("room:u"), 0, 10, on_msgs, &hist)), SB_OK);
    CHECK(pg_exec_ok(other, GATE_OPEN));
    PQfinish(other);
    g_guard_ms = 20000;
    CHECK(wait_all());
    g_guard_ms = 5000;
    CHECK_EQ(gate.rc, SB_OK);
    CHECK_EQ(plain.rc, SB_EUNAVAIL); /* may have committed: never run twice */
    CHECK_EQ(keyed.rc, SB_OK);
    CHECK(!keyed.yes); /* its first run stored it: new to the caller, not a replay */
    STR_EQ(keyed.s[2], "keyed");
    CHECK_EQ(read.rc, SB_OK);
    CHECK_EQ(read.n, 1); /* the first run's answer, though the second marked nothing */
    CHECK_EQ(read.v[0], m.v[0]);
    CHECK_EQ(hist.rc, SB_OK);
    CHECK_EQ(hist.n, 3); /* the second run sees what the first committed */
    DO(&after, sb_store_message_history(st, S("room:u"), 0, 10, on_msgs, &after));
    CHECK_EQ(after.n, 3); /* m, keyed and plain, each once */
    CHECK_EQ(after.v[1], keyed.v[0]);
    DO(&after, sb_store_message_mark_read(st, S("bob"), S("room:u"), ids, 1, on_ids, &after));
    CHECK(after.rc == SB_OK && after.n == 0);
    cap_reset(&m), cap_reset(&gate), cap_reset(&keyed), cap_reset(&plain), cap_reset(&read);
    cap_reset(&hist), cap_reset(&after);
    sb_store_close(st);
    teardown();
}
#endif

int main(void) {
#if !SB_TEST_PG /* about the SQLite file and directory */
    RUN(open_errors);
    RUN(open_creates_nested_dir_and_schema);
    RUN(migration_refuses_newer_schema);
#endif
    RUN(users);
    RUN(conversations);
    RUN(conversation_update_and_delete);
    RUN(conversation_direct);
    RUN(message_append_opens_direct_conversation);
    RUN(direct_sends_new_and_known_pairs_in_one_batch);
    RUN(message_append_and_history_paging);
    RUN(message_mark_read);
    RUN(message_offline_delivery);
    RUN(delivery_floor_stops_at_the_first_pending);
#if !SB_TEST_PG
    RUN(upgrade_sets_each_users_delivery_floor);
#endif
    RUN(append_tells_each_recipients_previous);
    RUN(runs_answer_as_one_by_one);
    RUN(sender_name_stored_with_the_message);
    RUN(run_with_a_refused_request_fails_only_it);
    RUN(notifications);
    RUN(pool_keeps_each_keys_order);
    RUN(pool_completes_each_stream_in_id_order);
    RUN(friends);
    RUN(posts);
    RUN(documents);
    RUN(limits_refused_before_queueing);
    RUN(queue_limit);
    RUN(queue_validator_refuses_corruption);
    RUN(group_commit);
    RUN(failure_in_batch_keeps_the_others);
    RUN(mixed_batch_answers_as_one_by_one);
    RUN(message_append_idempotency_key);
#if !SB_TEST_PG /* fails writes by filling the SQLite file's disk */
    RUN(failing_writes_do_not_fail_reads_of_their_batch);
#else /* fails writes by revoking INSERT */
    RUN(refused_writes_do_not_fail_reads_of_their_batch);
#endif
    RUN(reopen_keeps_everything);
    RUN(durability_kill_after_ack);
    RUN(close_finishes_queued_requests);
    RUN(loop_keeps_running_during_commits);
    RUN(sessions_survive_and_expire);
#if !SB_TEST_PG
    RUN(sqlite_page_cache_emptied_when_idle);
#endif
#if SB_TEST_PG
    RUN(unavailable_then_recovers);
    RUN(two_stores_one_database);
    RUN(previous_ids_exact_when_another_store_appends);
    RUN(two_stores_read_receipts_once);
    RUN(deadlock_is_retried_and_applies_once);
    RUN(unknown_outcome_runs_idempotent_requests_again);
#endif
    TEST_MAIN_END();
}
