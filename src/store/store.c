/* The store's thread with group commit, its opening and closing, and the
 * delivery of completions on the loop thread. Requests are built and queued
 * by store_request.c, run through the table of store_ops.c; the SQL of each
 * operation lives in store_chat.c, store_social.c, ...; the schema in
 * migrations.c. */
#include "store/store_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/err.h"
#include "core/log.h"

#define DEFAULT_BATCH_MAX 256
#define DEFAULT_MAX_QUEUE 100000
#define DEFAULT_MAX_QUEUE_BYTES (256u << 20)
#define DEFAULT_MAX_CONTENT 65536
#define DEFAULT_BUSY_TIMEOUT_MS 5000
#define DEFAULT_CHECK_MAX_BYTES ((int64_t)1 << 30)

/* Calls the callback typed by the operation's result kind. */
static void deliver(sb_store__req_t *r) {
    bool ok = r->rc == SB_OK;
#define CALL_NONE(kind) r->cb.kind(r->ud, r->rc)
#define CALL_VALUE(kind) r->cb.kind(r->ud, r->rc, ok ? r->res.kind : 0)
#define CALL_PTR(kind) r->cb.kind(r->ud, r->rc, ok ? &r->res.kind : NULL)
    switch (r->op->kind) {
#define SB_STORE__DELIVER_CASE(kind, cb_t, res_t, how)                                             \
    case SB_STORE__K_##kind:                                                                       \
        if (r->cb.kind)                                                                            \
            CALL_##how(kind);                                                                      \
        break;
        SB_STORE__KINDS(SB_STORE__DELIVER_CASE)
#undef SB_STORE__DELIVER_CASE
    }
#undef CALL_NONE
#undef CALL_VALUE
#undef CALL_PTR
}

/* Delivers every completion the store thread has published so far. The
 * budget is released before each callback so the callback may submit again. */
static void deliver_all(sb_store_t *st) {
    pthread_mutex_lock(&st->mu);
    SB_VALIDATE(sb_store__queue_validate, st);
    sb_store__req_t *r = st->done_head;
    st->done_head = st->done_tail = NULL;
    pthread_mutex_unlock(&st->mu);
    while (r) {
        sb_store__req_t *next = r->next;
        st->outstanding--;
        st->outstanding_bytes -= r->charge;
        deliver(r);
        sb_store__req_free(r);
        r = next;
    }
}

static void on_done_fd(sb_io_t *io, uint32_t events) {
    (void)events;
    sb_store_t *st = sb_container_of(io, sb_store_t, io);
    uint64_t v;
    while (read(io->fd, &v, sizeof v) > 0)
        ;
    deliver_all(st);
}

/* ---- batches (store thread) ------------------------------------------------------------ */

typedef sb_store__batch_stats_t batch_stats_t;

static int run_sql(sb_store_t *st, sb_store__sql_t id) {
    sb_store__q_t *q = sb_store__q(st, id);
    return q ? sb_store__exec(q) : SB_EIO;
}

static bool batch_has_write(const sb_store__req_t *r) {
    for (; r; r = r->next)
        if (r->op->write)
            return true;
    return false;
}

/* The transaction of [from, to) rolled back: its writes are lost (SB_EIO).
 * Its reads run again on their own, outside any transaction, so a failing
 * write never takes unrelated reads down with it: they now see the store
 * without the lost writes, which matches those writes' SB_EIO. */
static void abort_range(sb_store_t *st, sb_store__req_t *from, const sb_store__req_t *to) {
    for (sb_store__req_t *r = from; r != to; r = r->next) {
        if (r->op->write) {
            r->rc = SB_EIO;
        } else {
            memset(&r->res, 0, sizeof r->res);
            r->rc = sb_store__run_op(st, r);
        }
    }
}

/* Runs one write inside a savepoint so that its failure (a constraint, a
 * "not found" found halfway) undoes only its own changes. */
static int run_write(sb_store_t *st, sb_store__req_t *r) {
    if (run_sql(st, SB_SQL_SAVEPOINT) != SB_OK)
        return SB_EIO;
    int rc = sb_store__run_op(st, r);
    if (rc != SB_OK && !sqlite3_get_autocommit(st->db))
        run_sql(st, SB_SQL_ROLLBACK_TO);
    if (!sqlite3_get_autocommit(st->db) && run_sql(st, SB_SQL_RELEASE) != SB_OK && rc == SB_OK)
        rc = SB_EIO;
    return rc;
}

/* COMMIT makes the whole batch durable at once; if it fails, nothing of the
 * transaction is stored and every request in it reports SB_EIO (reads too:
 * they may have seen the lost writes). */
static void commit(sb_store_t *st, sb_store__req_t *txn, batch_stats_t *bs) {
    if (run_sql(st, SB_SQL_COMMIT) == SB_OK) {
        sb_store__commit_done(st, bs);
        return;
    }
    if (!sqlite3_get_autocommit(st->db))
        run_sql(st, SB_SQL_ROLLBACK);
    abort_range(st, txn, NULL);
    bs->commit_failures++;
}

/* The backup copies committed pages only: it runs between transactions. */
static bool runs_outside_txn(const sb_store__op_t *op) { return op->mode == SB_STORE__BETWEEN; }

/* Group commit: one transaction for all the writes of the batch. Requests
 * that must not run inside a transaction (a backup) commit what precedes
 * them first. Once the store is LOST, writes are refused unrun. */
static void run_write_batch(sb_store_t *st, sb_store__req_t *first, batch_stats_t *bs) {
    sb_store__req_t *txn = NULL; /* first request of the open transaction */
    bool lost = sb_store__state(st) == SB_STORE_LOST;
    for (sb_store__req_t *r = first; r; r = r->next) {
        if (r->op->write && lost) {
            r->rc = SB_EIO;
            continue;
        }
        if (!r->op->write && (!txn || runs_outside_txn(r->op))) {
            if (txn)
                commit(st, txn, bs);
            txn = NULL;
            r->rc = sb_store__run_op(st, r);
            continue;
        }
        if (!txn) {
            bs->txn_start_us = sb_store__now_us();
            if (run_sql(st, SB_SQL_BEGIN) != SB_OK) {
                r->rc = SB_EIO;
                continue;
            }
            txn = r;
        }
        r->rc = r->op->write ? run_write(st, r) : sb_store__run_op(st, r);
        if (r->rc != SB_OK && sqlite3_get_autocommit(st->db)) {
            /* Some errors (disk full, I/O) make SQLite roll back the whole
             * transaction: the batch's earlier writes are gone. */
            abort_range(st, txn, r);
            txn = NULL;
        }
    }
    if (txn)
        commit(st, txn, bs);
}

/* Writes are acknowledged only while their files are still the ones the
 * server opened: a commit into a deleted or replaced file is not saved. */
static void refuse_if_lost(sb_store_t *st, sb_store__req_t *first) {
    if (!sb_store__watch_check(st))
        return;
    for (sb_store__req_t *r = first; r; r = r->next)
        if (r->op->write && r->rc == SB_OK)
            r->rc = SB_EIO;
}

static void run_batch(sb_store_t *st, sb_store__req_t *first, batch_stats_t *bs) {
    bool writes = batch_has_write(first);
    if (writes) {
        /* Files already gone: the writes are refused unrun, so that not even
         * the open file (which a backup still copies) holds one. */
        sb_store__watch_check(st);
        run_write_batch(st, first, bs);
    } else {
        for (sb_store__req_t *r = first; r; r = r->next)
            r->rc = sb_store__run_op(st, r);
    }
    sb_store__lite_reset_all(st);
    if (writes)
        refuse_if_lost(st, first);
    sb_store__health_after_batch(st, sb_store__count_failures(st, first, bs));
    sb_store__keys_housekeeping(st);
}

/* Detaches up to batch_max of the shard's pending requests; called with mu
 * held. All of them when they fit, without a walk: the requests were just
 * made on the loop's core, and each one looked at here under the mutex
 * (which the loop takes to submit) would be a cache miss. */
static sb_store__req_t *take_batch(sb_store_t *st, sb_store__shard_t *sh, sb_store__req_t **last,
                                   size_t *n) {
    sb_store__req_t *first = sh->pend_head, *r = first;
    size_t count = 1;
    if (sh->pend_n <= st->cfg.batch_max) {
        r = sh->pend_tail;
        count = sh->pend_n;
    }
    while (r->next && count < st->cfg.batch_max) {
        r = r->next;
        count++;
    }
    sh->pend_n -= count;
    sh->pend_head = r->next;
    if (!sh->pend_head)
        sh->pend_tail = NULL;
    r->next = NULL;
    *last = r;
    *n = count;
    return first;
}

static void publish_batch(sb_store_t *st, sb_store__req_t *first, sb_store__req_t *last, size_t n,
                          const batch_stats_t *bs) {
    if (st->done_tail)
        st->done_tail->next = first;
    else
        st->done_head = first;
    st->done_tail = last;
    st->stats.requests += n;
    st->stats.batches++;
    st->stats.commits += bs->commits;
    st->stats.commit_failures += bs->commit_failures;
    st->stats.failed += bs->failed;
    if (n > st->stats.max_batch)
        st->stats.max_batch = n;
    const sb_store__commit_lat_t *l = &st->commit_lat;
    st->stats.commit_us_last = l->last;
    st->stats.commit_us_avg = l->avg;
    st->stats.commit_us_max = l->max;
    st->stats.commit_us_sum = l->sum;
    memcpy(st->stats.commit_buckets, l->buckets, sizeof l->buckets);
}

/* The SQLite store's idle work: its files and health first, then the
 * keys' purge, which skips itself unless the store is OK; last, the page
 * cache is emptied. While requests come it keeps SQLite's 2 MiB (a smaller
 * one cost throughput: bench/store.mjs), but a second without any, it
 * only held the pages of what was last written (with a row per connection
 * in the sessions table, the whole 2 MiB after a connect storm: ~110 bytes
 * per idle connection at 19,000; docs/operations.md, "Distinct users").
 * A page dropped is read again from the kernel's page cache. */
static void lite_idle(sb_store_t *st) {
    sb_store__health_idle(st);
    sb_store__keys_housekeeping(st);
    if (st->db)
        sqlite3_db_release_memory(st->db);
}

/* A store thread: takes batches from its shard's queue, one at a time. */
static void *store_main(void *arg) {
    sb_store__shard_t *sh = arg;
    sb_store_t *st = sh->st;
    pthread_setname_np(pthread_self(), "sb-store"); /* for top -H and bench/store.mjs */
    pthread_mutex_lock(&st->mu); /* every shard's thread id is stored (start_threads) */
    if (st->pg)
        sb_store__pg_thread_start(st, sh->index);
    for (;;) {
        while (!sh->pend_head && !st->closing) {
            /* Idle: once a second, look at the files and retry a failing store. */
            struct timespec at;
            clock_gettime(CLOCK_REALTIME, &at);
            at.tv_sec += 1;
            if (pthread_cond_timedwait(&sh->work_cv, &st->mu, &at) != ETIMEDOUT || sh->pend_head ||
                st->closing)
                continue;
            pthread_mutex_unlock(&st->mu);
            if (st->pg)
                sb_store__pg_idle(st, sh->index);
            else
                lite_idle(st);
            pthread_mutex_lock(&st->mu);
        }
        if (!sh->pend_head)
            break; /* closing, and everything queued before it is done */
        sb_store__req_t *last;
        size_t n;
        sb_store__req_t *first = take_batch(st, sh, &last, &n);
        sh->busy = true;
        pthread_mutex_unlock(&st->mu);

        batch_stats_t bs = {0};
        if (st->pg)
            sb_store__pg_run_batch(st, sh->index, first, &bs);
        else
            run_batch(st, first, &bs);

        pthread_mutex_lock(&st->mu);
        publish_batch(st, first, last, n, &bs);
        sh->busy = false;
        pthread_cond_broadcast(&st->idle_cv);
        uint64_t one = 1;
        ssize_t w = write(st->efd, &one, sizeof one);
        (void)w; /* EAGAIN: the counter is saturated, a wakeup is pending anyway */
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* ---- opening ----------------------------------------------------------------------------- */

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static int mkdir_p(const char *dir, char *err, size_t cap) {
    char path[sizeof((sb_store_t *)0)->dir];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            goto fail;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        goto fail;
    struct stat sb;
    if (stat(path, &sb) != 0)
        goto fail;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        goto fail;
    }
    return SB_OK;
fail:
    set_err(err, cap, "store: cannot create directory '%s': %s", dir, strerror(errno));
    return SB_EIO;
}

/* Runs a pragma and copies the first column of its first row (if any). */
static int pragma(sqlite3 *db, const char *sql, char *out, size_t cap) {
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && out)
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    rc = sqlite3_finalize(s);
    return rc;
}

static const char *const sync_pragmas[] = {
    [SB_STORE_SYNC_FULL] = "PRAGMA synchronous = FULL",
    [SB_STORE_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
    [SB_STORE_SYNC_OFF] = "PRAGMA synchronous = OFF",
};

/* Exclusive locking before the first access keeps the WAL index in heap
 * memory instead of a mapped -shm file (a truncated -shm would kill the
 * process with SIGBUS), and no mapped database file either (mmap_size 0). */
static const char *const open_pragmas[] = {
    "PRAGMA locking_mode = EXCLUSIVE", "PRAGMA mmap_size = 0",
    "PRAGMA journal_size_limit = -1", /* the WAL never shrinks: see store_health.c */
};

static int db_open(sb_store_t *st, char *err, size_t cap) {
    char path[sizeof st->dir + 32];
    snprintf(path, sizeof path, "%s/switchboard.db", st->dir);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &st->db, flags, NULL);
    char mode[32] = "";
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(st->db, 1);
        sqlite3_busy_timeout(st->db, st->cfg.busy_timeout_ms);
        for (size_t i = 0; rc == SQLITE_OK && i < sizeof open_pragmas / sizeof *open_pragmas; i++)
            rc = pragma(st->db, open_pragmas[i], NULL, 0);
    }
    if (rc == SQLITE_OK && sqlite3_db_readonly(st->db, "main") == 1) {
        set_err(err, cap,
                "store: %s is read-only (file permissions, an immutable attribute or a read-only "
                "mount): Switchboard must be able to write its database",
                path);
        return SB_EIO;
    }
    if (rc == SQLITE_OK)
        rc = pragma(st->db, "PRAGMA journal_mode = WAL", mode, sizeof mode);
    if (rc == SQLITE_OK && strcmp(mode, "wal") != 0) {
        set_err(err, cap, "store: %s: cannot enable WAL mode (journal_mode is '%s')", path, mode);
        return SB_EIO;
    }
    if (rc == SQLITE_OK)
        rc = pragma(st->db, sync_pragmas[st->cfg.synchronous], NULL, 0);
    if (rc == SQLITE_OK)
        rc = pragma(st->db, "PRAGMA foreign_keys = ON", NULL, 0);
    if (rc != SQLITE_OK) {
        /* SQLite's message leaves out why the system said no: add errno. */
        int sys = st->db ? sqlite3_system_errno(st->db) : 0;
        set_err(err, cap, "store: %s: %s%s%s%s%s", path,
                st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc), sys ? " (" : "",
                sys ? strerror(sys) : "", sys ? ")" : "",
                (rc & 0xff) == SQLITE_BUSY ? " (another process holds it: is a second server "
                                             "running on this --data-dir?)"
                                           : "");
        return SB_EIO;
    }
    return SB_OK;
}

/* PRAGMA quick_check on databases up to check_max_bytes: a corrupt page is
 * refused at start rather than failing request by request later. */
static int check_integrity(sb_store_t *st, char *err, size_t cap) {
    char pages[32] = "0", page_size[32] = "0", result[256] = "";
    pragma(st->db, "PRAGMA page_count", pages, sizeof pages);
    pragma(st->db, "PRAGMA page_size", page_size, sizeof page_size);
    int64_t bytes = strtoll(pages, NULL, 10) * strtoll(page_size, NULL, 10);
    if (st->cfg.check_max_bytes < 0)
        return SB_OK;
    if (bytes > st->cfg.check_max_bytes) {
        sb_log_warn("store: skipping the start-up integrity check: the database has %lld MiB, "
                    "more than the limit (--store-check-max-mb)",
                    (long long)(bytes >> 20));
        return SB_OK;
    }
    int rc = pragma(st->db, "PRAGMA quick_check(5)", result, sizeof result);
    if (rc == SQLITE_OK && strcmp(result, "ok") == 0)
        return SB_OK;
    for (char *p = result; *p; p++) /* one report, several lines: keep it one line */
        if (*p == '\n')
            *p = ';';
    set_err(err, cap,
            "store: %s/switchboard.db failed the integrity check: %s (restore a backup; see "
            "docs/operations.md, Storage faults)",
            st->dir, rc == SQLITE_OK ? result : sqlite3_errmsg(st->db));
    return SB_EIO;
}

/* Proves, before serving, that a commit goes through (a read-only
 * directory, for instance, cannot hold the WAL). */
static int check_writable(sb_store_t *st, char *err, size_t cap) {
    if (sb_store__probe_write(st))
        return SB_OK;
    set_err(err, cap,
            "store: cannot write %s/switchboard.db: %s (check the permissions, free space and "
            "mount options of the data directory)",
            st->dir, sqlite3_errmsg(st->db));
    return SB_EIO;
}

static int shards_init(sb_store_t *st, size_t n, char *err, size_t cap) {
    st->shards = calloc(n, sizeof *st->shards);
    if (!st->shards) {
        set_err(err, cap, "store: out of memory");
        return SB_ENOMEM;
    }
    st->n_shards = n;
    for (size_t i = 0; i < n; i++) {
        st->shards[i].st = st;
        st->shards[i].index = i;
        pthread_cond_init(&st->shards[i].work_cv, NULL);
    }
    return SB_OK;
}

static int start_threads(sb_store_t *st, char *err, size_t cap) {
    st->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (st->efd < 0) {
        set_err(err, cap, "store: eventfd: %s", strerror(errno));
        return SB_EIO;
    }
    sb_io_init(st->loop, &st->io, st->efd, on_done_fd);
    if (sb_io_set(&st->io, EPOLLIN) != SB_OK) {
        set_err(err, cap, "store: cannot watch the eventfd");
        return SB_EIO;
    }
    /* The threads start with every signal blocked, so signals (and a
     * signalfd in app/) stay with the loop threads. They wait for mu, held
     * here until every thread id is stored. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->n_shards && rc == 0; i++) {
        sb_store__shard_t *sh = &st->shards[i];
        rc = pthread_create(&sh->thread, NULL, store_main, sh);
        sh->started = rc == 0;
    }
    pthread_mutex_unlock(&st->mu);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        set_err(err, cap, "store: cannot start a store thread: %s", strerror(rc));
        return SB_EIO;
    }
    return SB_OK;
}

/* Lets every started thread finish its queue, then joins it. */
static void stop_threads(sb_store_t *st) {
    pthread_mutex_lock(&st->mu);
    st->closing = true;
    for (size_t i = 0; i < st->n_shards; i++)
        pthread_cond_signal(&st->shards[i].work_cv);
    pthread_mutex_unlock(&st->mu);
    for (size_t i = 0; i < st->n_shards; i++)
        if (st->shards[i].started)
            pthread_join(st->shards[i].thread, NULL);
}

/* Frees everything open() set up; the thread must be stopped already. */
static void destroy(sb_store_t *st) {
    if (st->io.events)
        sb_io_set(&st->io, 0);
    if (st->efd >= 0)
        close(st->efd);
    sb_store__lite_finalize_all(st);
    sb_store__pg_destroy(st);
    if (st->db)
        sqlite3_close_v2(st->db);
    for (size_t i = 0; i < st->n_shards; i++)
        pthread_cond_destroy(&st->shards[i].work_cv);
    free(st->shards);
    pthread_cond_destroy(&st->idle_cv);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

static void apply_defaults(sb_store_config_t *c) {
    if (!c->batch_max)
        c->batch_max = DEFAULT_BATCH_MAX;
    if (!c->max_queue)
        c->max_queue = DEFAULT_MAX_QUEUE;
    if (!c->max_queue_bytes)
        c->max_queue_bytes = DEFAULT_MAX_QUEUE_BYTES;
    if (!c->max_content)
        c->max_content = DEFAULT_MAX_CONTENT;
    if (c->busy_timeout_ms <= 0)
        c->busy_timeout_ms = DEFAULT_BUSY_TIMEOUT_MS;
    if (!c->check_max_bytes)
        c->check_max_bytes = DEFAULT_CHECK_MAX_BYTES;
}

static sb_store_t *store_new(sb_loop_t *loop, const sb_store_config_t *cfg) {
    sb_store_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->loop = loop;
    st->efd = -1;
    st->cfg = *cfg;
    apply_defaults(&st->cfg);
    snprintf(st->dir, sizeof st->dir, "%s", cfg->data_dir ? cfg->data_dir : "");
    st->cfg.data_dir = st->dir;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->idle_cv, NULL);
    return st;
}

/* The identity the schema's migration made (store_identity). */
static int read_identity(sb_store_t *st, char *err, size_t cap) {
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT id FROM store_identity", -1, &q, NULL);
    const unsigned char *id =
        rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_text(q, 0) : NULL;
    if (id)
        snprintf(st->identity, sizeof st->identity, "%s", (const char *)id);
    sqlite3_finalize(q);
    if (id && st->identity[0])
        return SB_OK;
    set_err(err, cap, "store: cannot read the store's identity");
    return SB_EIO;
}

sb_store_t *sb_store_open(sb_loop_t *loop, const sb_store_config_t *cfg, char *err, size_t cap) {
    char scratch[8];
    if (!err || cap == 0) {
        err = scratch;
        cap = sizeof scratch;
    }
    bool pg = cfg && cfg->database_url && cfg->database_url[0];
    if (!loop || !cfg || (!pg && (!cfg->data_dir || !cfg->data_dir[0])) ||
        (cfg->data_dir && strlen(cfg->data_dir) >= sizeof((sb_store_t *)0)->dir) ||
        (unsigned)cfg->synchronous > SB_STORE_SYNC_OFF) {
        set_err(err, cap, "store: invalid configuration (data_dir missing or too long?)");
        return NULL;
    }
    sb_store_t *st = store_new(loop, cfg);
    if (!st) {
        set_err(err, cap, "store: out of memory");
        return NULL;
    }
    if (pg) {
        if (sb_store__pg_open(st, err, cap) != SB_OK ||
            shards_init(st, sb_store__pg_pool_size(st), err, cap) != SB_OK ||
            start_threads(st, err, cap) != SB_OK) {
            stop_threads(st);
            destroy(st);
            return NULL;
        }
        return st;
    }
    if (shards_init(st, 1, err, cap) != SB_OK || mkdir_p(st->dir, err, cap) != SB_OK ||
        db_open(st, err, cap) != SB_OK || check_integrity(st, err, cap) != SB_OK ||
        sb_store__migrate(st->db, err, cap) != SB_OK || read_identity(st, err, cap) != SB_OK ||
        sb_store__lite_prepare_all(st, err, cap) != SB_OK ||
        check_writable(st, err, cap) != SB_OK) {
        destroy(st);
        return NULL;
    }
    sb_store__watch_init(st);
    if (start_threads(st, err, cap) != SB_OK) {
        stop_threads(st);
        destroy(st);
        return NULL;
    }
    return st;
}

/* ---- closing, flushing, stats -----------------------------------------------------------------
 */

void sb_store_close(sb_store_t *st) {
    if (!st)
        return;
    stop_threads(st);
    deliver_all(st);
    destroy(st);
}

void sb_store_flush_sync(sb_store_t *st) {
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->n_shards; i++)
        while (st->shards[i].pend_head || st->shards[i].busy)
            pthread_cond_wait(&st->idle_cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
    deliver_all(st);
}

void sb_store_stats(sb_store_t *st, sb_store_stats_t *out) {
    pthread_mutex_lock(&st->mu);
    *out = st->stats;
    out->threads = st->n_shards;
    for (size_t i = 0; i < st->n_shards; i++)
        out->threads_busy += st->shards[i].busy;
    out->connections_down = sb_store__pg_down(st);
    pthread_mutex_unlock(&st->mu);
    out->pending = st->outstanding;
}
