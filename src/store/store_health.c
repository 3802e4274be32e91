/* The store's health: noticing its files deleted, replaced or truncated
 * under it, the OK / FAILING / LOST states that /health reports, the probe
 * write that brings FAILING back to OK, rate-limited failure lines, SQLite's
 * own diagnostics in our log, and the online backup. */
#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"

#define PROBE_INTERVAL_MS 1000

const char *sb_store_state_name(sb_store_state_t s) {
    return s == SB_STORE_OK ? "ok" : s == SB_STORE_FAILING ? "failing" : "lost";
}

void sb_store_health(sb_store_t *st, sb_store_health_t *out) {
    pthread_mutex_lock(&st->mu);
    *out = st->health;
    pthread_mutex_unlock(&st->mu);
}

sb_store_state_t sb_store__state(sb_store_t *st) {
    pthread_mutex_lock(&st->mu);
    sb_store_state_t s = st->health.state;
    pthread_mutex_unlock(&st->mu);
    return s;
}

void sb_store__set_state(sb_store_t *st, sb_store_state_t s, const char *reason) {
    pthread_mutex_lock(&st->mu);
    st->health.state = s;
    snprintf(st->health.reason, sizeof st->health.reason, "%s", reason);
    st->health.since_ms = sb_wall_ms();
    pthread_mutex_unlock(&st->mu);
}

/* ---- files deleted, replaced or truncated ---------------------------------------- */

void sb_store__watch_init(sb_store_t *st) {
    sb_store__watch_t *w = &st->watch;
    struct stat sb;
    snprintf(w->db_path, sizeof w->db_path, "%s/switchboard.db", st->dir);
    snprintf(w->wal_path, sizeof w->wal_path, "%s/switchboard.db-wal", st->dir);
    if (stat(w->db_path, &sb) == 0) {
        w->db_dev = sb.st_dev;
        w->db_ino = sb.st_ino;
        w->db_size = sb.st_size;
    }
    if (stat(w->wal_path, &sb) == 0) {
        w->wal_dev = sb.st_dev;
        w->wal_ino = sb.st_ino;
        w->wal_size = sb.st_size;
    }
}

/* Returns what happened to `path` ("deleted", ...), or NULL when it is the
 * file we opened. Neither file ever shrinks while we hold it: checkpoints
 * only grow the database (no auto-vacuum) and restart the WAL in place
 * (journal_size_limit -1), so a smaller size means someone truncated it. */
static const char *file_fate(const char *path, uint64_t dev, uint64_t ino, int64_t *size) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return errno == ENOENT ? "deleted" : NULL; /* cannot tell: assume it is fine */
    if ((uint64_t)sb.st_dev != dev || (uint64_t)sb.st_ino != ino)
        return "replaced by another file";
    if (sb.st_size < *size)
        return "truncated";
    *size = sb.st_size;
    return NULL;
}

bool sb_store__watch_check(sb_store_t *st) {
    if (sb_store__state(st) == SB_STORE_LOST)
        return true;
    sb_store__watch_t *w = &st->watch;
    const char *file = "switchboard.db", *fate = NULL;
    int moved = 0;
    /* SQLite's own check (same inode still behind the path) comes first. */
    if (sqlite3_file_control(st->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved)
        fate = "moved or deleted";
    if (!fate)
        fate = file_fate(w->db_path, w->db_dev, w->db_ino, &w->db_size);
    if (!fate && w->wal_ino) {
        file = "switchboard.db-wal";
        fate = file_fate(w->wal_path, w->wal_dev, w->wal_ino, &w->wal_size);
    }
    if (!fate)
        return false;
    char reason[200];
    snprintf(reason, sizeof reason, "%s was %s while the server had it open", file, fate);
    sb_store__set_state(st, SB_STORE_LOST, reason);
    sb_log_error("store: %s: refusing every write from now on (what was acknowledged since "
                 "the last backup may be gone); restore a backup and restart",
                 reason);
    return true;
}

/* ---- OK <-> FAILING --------------------------------------------------------------- */

void sb_store__health_after_batch(sb_store_t *st, uint64_t eio_writes) {
    if (eio_writes) {
        st->last_write_failure_ms = sb_wall_ms();
        pthread_mutex_lock(&st->mu);
        st->health.write_errors += eio_writes;
        pthread_mutex_unlock(&st->mu);
        if (sb_store__state(st) == SB_STORE_OK) {
            sb_store__set_state(st, SB_STORE_FAILING,
                                st->last_error[0] ? st->last_error : "write failed");
            sb_log_error("store: writes are failing: %s; retrying every second",
                         st->last_error[0] ? st->last_error : "write failed");
        }
    }
    sb_store__health_retry(st);
}

bool sb_store__probe_write(sb_store_t *st) {
    char sql[96];
    snprintf(sql, sizeof sql, "BEGIN IMMEDIATE; PRAGMA user_version = %d; COMMIT",
             sb_store__schema_version());
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK && !sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc == SQLITE_OK;
}

void sb_store__health_idle(sb_store_t *st) {
    if (sb_store__watch_check(st))
        return;
    sb_store__health_retry(st);
}

/* Some writes may commit while others fail (a full disk takes small writes
 * into space a failed one left): only a second without any failure and a
 * probe that commits bring FAILING back to OK, so the state does not flap. */
void sb_store__health_retry(sb_store_t *st) {
    if (sb_store__state(st) != SB_STORE_FAILING ||
        sb_wall_ms() - st->last_write_failure_ms < PROBE_INTERVAL_MS)
        return;
    if (sb_store__probe_write(st) && !sb_store__watch_check(st)) {
        sb_store__set_state(st, SB_STORE_OK, "");
        sb_log_warn("store: writes commit again");
    } else {
        st->last_write_failure_ms = sb_wall_ms();
    }
}

/* ---- SQLite's diagnostics ---------------------------------------------------------- */

/* SQLite's log hook is process-wide, so its limiter is too. */
static sb_log_limiter_t sqlite_log_limit;

static void on_sqlite_log(void *ud, int code, const char *msg) {
    (void)ud;
    int primary = code & 0xff;
    sb_log_level_t lvl = SB_LOG_WARN;
    if (primary == SQLITE_NOTICE)
        lvl = SB_LOG_INFO; /* e.g. a WAL recovered at open */
    else if (primary == SQLITE_CONSTRAINT || primary == SQLITE_SCHEMA)
        lvl = SB_LOG_DEBUG; /* answers to requests, and statements re-prepared */
    char kind[32];
    snprintf(kind, sizeof kind, "sqlite:%d", primary);
    sb_log_limited(&sqlite_log_limit, lvl, kind, "sqlite: %s (%s)", msg, sqlite3_errstr(code));
}

int sb_store_route_sqlite_log(void) {
    return sqlite3_config(SQLITE_CONFIG_LOG, on_sqlite_log, NULL) == SQLITE_OK ? SB_OK : SB_EINVAL;
}

/* ---- online backup ------------------------------------------------------------------ */

/* <dir>/backups/switchboard-<UTC time with ms>[-n].db, not yet existing. */
static int backup_path(sb_store_t *st, char *out, size_t cap) {
    char dir[sizeof st->dir + 16];
    snprintf(dir, sizeof dir, "%s/backups", st->dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return SB_EIO;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    size_t len = strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    snprintf(stamp + len, sizeof stamp - len, "%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
    for (int n = 0; n < 100; n++) {
        if (n == 0)
            snprintf(out, cap, "%s/switchboard-%s.db", dir, stamp);
        else
            snprintf(out, cap, "%s/switchboard-%s-%d.db", dir, stamp, n);
        if (access(out, F_OK) != 0)
            return SB_OK;
    }
    return SB_EIO;
}

static void fsync_dir(const char *file) {
    char dir[sizeof((sb_store_t *)0)->dir + 128];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Copies into "<path>.part", then renames: a backup file is always whole. */
static int copy_to(sb_store_t *st, const char *path) {
    char part[sizeof((sb_store_t *)0)->dir + 144];
    snprintf(part, sizeof part, "%s.part", path);
    unlink(part);
    sqlite3 *dst = NULL;
    int rc = sqlite3_open_v2(part, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", st->db, "main");
        if (b) {
            rc = sqlite3_backup_step(b, -1);
            rc = rc == SQLITE_DONE ? sqlite3_backup_finish(b) : (sqlite3_backup_finish(b), rc);
        } else {
            rc = sqlite3_errcode(dst);
        }
    }
    if (rc != SQLITE_OK)
        sb_log_limited(&st->log_limit, SB_LOG_WARN, "backup", "store: backup to %s failed: %s",
                       part, dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
    if (sqlite3_close(dst) != SQLITE_OK && rc == SQLITE_OK)
        rc = SQLITE_IOERR;
    if (rc == SQLITE_OK && rename(part, path) != 0)
        rc = SQLITE_IOERR;
    if (rc != SQLITE_OK) {
        unlink(part);
        return SB_EIO;
    }
    fsync_dir(path);
    return SB_OK;
}

/* No arguments. Runs between transactions (mode BETWEEN). */
int sb_store__exec_backup(sb_store_t *st, sb_store__req_t *r) {
    char path[sizeof st->dir + 128];
    int64_t t0 = sb_wall_ms();
    if (backup_path(st, path, sizeof path) != SB_OK || copy_to(st, path) != SB_OK)
        return SB_EIO;
    struct stat sb;
    char *p = sb_store__alloc(r, strlen(path) + 1);
    if (!p)
        return SB_ENOMEM;
    strcpy(p, path);
    r->res.BACKUP = (sb_store_backup_t){
        .path = p, .bytes = stat(path, &sb) == 0 ? sb.st_size : 0, .ms = sb_wall_ms() - t0};
    sb_log_info("store: backup written to %s (%lld bytes)", p, (long long)r->res.BACKUP.bytes);
    return SB_OK;
}

bool sb_store_can_backup(const sb_store_t *st) { return st->pg == NULL; }

const char *sb_store_identity(const sb_store_t *st) { return st->identity; }

int sb_store_backup(sb_store_t *st, sb_store_backup_cb cb, void *ud) {
    sb_store__req_t *r = sb_store__new_backup(cb, ud);
    if (!r)
        return SB_ENOMEM;
    return sb_store__submit(st, r, true);
}
