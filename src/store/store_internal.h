/* Store internals shared by store.c (queue, thread, batches), store_sql.c
 * (statement cache, SQLite helpers), the operation files and migrations.c.
 *
 * Life of a request: the loop thread allocates it (sb_store__req_new), copies
 * the arguments into its arena and queues it (sb_store__submit). The store
 * thread runs op->exec, which fills r->res from the same arena, and moves the
 * request to the done queue after the commit. The loop thread calls the
 * typed callback (by op->kind) and frees the request with its arena. The
 * mutex hand-offs order every access; nothing is shared at the same time. */
#ifndef SB_STORE_INTERNAL_H
#define SB_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "core/log.h"
#include "store/store.h"

/* ---- per-request arena: arguments and results, freed in one go ------------ */

typedef struct sb_store__blk sb_store__blk_t;

typedef struct {
    sb_store__blk_t *head;
    size_t bytes; /* total allocated, for max_queue_bytes */
} sb_store__arena_t;

/* ---- operations -------------------------------------------------------------- */

typedef enum {
    SB_STORE__K_DONE,
    SB_STORE__K_BOOL,
    SB_STORE__K_ID,
    SB_STORE__K_USER,
    SB_STORE__K_STRS,
    SB_STORE__K_IDS,
    SB_STORE__K_MSG,
    SB_STORE__K_MSGS,
    SB_STORE__K_NOTIF,
    SB_STORE__K_NOTIFS,
    SB_STORE__K_FRIEND_REQ,
    SB_STORE__K_POST,
    SB_STORE__K_REACTIONS,
    SB_STORE__K_COMMENT,
    SB_STORE__K_DOC,
    SB_STORE__K_BACKUP,
    SB_STORE__K_HTTP_ANSWER,
    SB_STORE__K_SESSIONS
} sb_store__kind_t;

typedef struct sb_store__req sb_store__req_t;

typedef struct {
    const char *name;
    bool write;            /* runs inside the batch transaction, in a savepoint */
    sb_store__kind_t kind; /* which callback and result member */
    int (*exec)(sb_store_t *st, sb_store__req_t *r); /* store thread; returns an SB_ code */
} sb_store__op_t;

#define SB_STORE__NSTR 6
#define SB_STORE__NINT 3

struct sb_store__req {
    sb_store__req_t *next;
    const sb_store__op_t *op;
    sb_store__arena_t arena;
    size_t charge; /* bytes counted against max_queue_bytes until delivery */
    void *ud;
    int rc;
    union {
        sb_store_done_cb done;
        sb_store_bool_cb yes;
        sb_store_id_cb id;
        sb_store_user_cb user;
        sb_store_strs_cb strs;
        sb_store_ids_cb ids;
        sb_store_msg_cb msg;
        sb_store_msgs_cb msgs;
        sb_store_notification_cb notif;
        sb_store_notifications_cb notifs;
        sb_store_friend_request_cb freq;
        sb_store_post_cb post;
        sb_store_reactions_cb reactions;
        sb_store_comment_cb comment;
        sb_store_doc_version_cb doc;
        sb_store_backup_cb backup;
        sb_store_http_answer_cb http_answer;
        sb_store_sessions_cb sessions;
    } cb;
    /* Arguments: each operation documents which slot holds what. Strings
     * are NUL-terminated arena copies (NULL when absent), sn[] their lengths. */
    const char *s[SB_STORE__NSTR];
    size_t sn[SB_STORE__NSTR];
    int64_t i[SB_STORE__NINT];
    const char **list; /* string list argument */
    size_t nlist;
    int64_t *ids; /* id list argument */
    size_t nids;
    union {
        bool yes;
        const char *id;
        sb_store_user_t user;
        sb_store_strs_t strs;
        sb_store_ids_t ids;
        sb_store_msg_t msg;
        sb_store_msgs_t msgs;
        sb_store_notification_t notif;
        sb_store_notifications_t notifs;
        sb_store_friend_request_t freq;
        sb_store_post_t post;
        sb_store_reactions_t reactions;
        sb_store_comment_t comment;
        sb_store_doc_version_t doc;
        sb_store_backup_t backup;
        sb_store_http_answer_t http_answer;
        sb_store_sessions_t sessions;
    } res;
};

/* ---- prepared statements, cached per connection ------------------------------ */

/* X(name, sql): every statement the operations run. Parameters are always
 * bound, never formatted into the text. */
#define SB_STORE__SQL(X)                                                                           \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                    \
    X(COMMIT, "COMMIT")                                                                            \
    X(ROLLBACK, "ROLLBACK")                                                                        \
    X(SAVEPOINT, "SAVEPOINT req")                                                                  \
    X(RELEASE, "RELEASE req")                                                                      \
    X(ROLLBACK_TO, "ROLLBACK TO req")                                                              \
    X(USER_UPSERT,                                                                                 \
      "INSERT INTO users(id, name, avatar, last_seen_ms) VALUES(?1, ?2, ?3, ?4) "                  \
      "ON CONFLICT(id) DO UPDATE SET name = excluded.name, avatar = excluded.avatar, "             \
      "last_seen_ms = excluded.last_seen_ms")                                                      \
    X(USER_GET, "SELECT id, name, avatar, last_seen_ms FROM users WHERE id = ?1")                  \
    X(CONV_INSERT,                                                                                 \
      "INSERT INTO conversations(id, title, is_direct, created_at_ms) VALUES(?1, ?2, ?3, ?4) "     \
      "ON CONFLICT(id) DO NOTHING")                                                                \
    X(CONV_EXISTS, "SELECT 1 FROM conversations WHERE id = ?1")                                    \
    X(MEMBER_INSERT, "INSERT INTO conversation_members(conversation_id, user_id) VALUES(?1, ?2) "  \
                     "ON CONFLICT DO NOTHING")                                                     \
    X(MEMBER_LIST,                                                                                 \
      "SELECT user_id FROM conversation_members WHERE conversation_id = ?1 ORDER BY user_id")      \
    X(MEMBER_CHECK,                                                                                \
      "SELECT 1 FROM conversation_members WHERE conversation_id = ?1 AND user_id = ?2")            \
    X(MSG_INSERT, "INSERT INTO messages(room, sender_id, content, type, created_at_ms) "           \
                  "VALUES(?1, ?2, ?3, ?4, ?5)")                                                    \
    X(DELIVERY_INSERT,                                                                             \
      "INSERT INTO message_deliveries(message_id, user_id) VALUES(?1, ?2) ON CONFLICT DO NOTHING") \
    X(MSG_HISTORY, "SELECT m.id, m.room, m.sender_id, m.content, m.type, m.created_at_ms, u.name " \
                   "FROM messages m LEFT JOIN users u ON u.id = m.sender_id "                      \
                   "WHERE m.room = ?1 AND m.id < ?2 ORDER BY m.id DESC LIMIT ?3")                  \
    X(MSG_READ, "INSERT INTO message_reads(message_id, user_id, read_at_ms) "                      \
                "SELECT id, ?2, ?4 FROM messages WHERE id = ?1 AND room = ?3 AND sender_id <> ?2 " \
                "ON CONFLICT DO NOTHING")                                                          \
    X(MSG_UNDELIVERED, "SELECT m.id, m.room, m.sender_id, m.content, m.type, m.created_at_ms, "    \
                       "u.name FROM message_deliveries d INDEXED BY message_deliveries_pending "   \
                       "JOIN messages m ON m.id = d.message_id "                                   \
                       "LEFT JOIN users u ON u.id = m.sender_id "                                  \
                       "WHERE d.user_id = ?1 AND d.delivered = 0 AND d.message_id > ?3 "             \
                       "ORDER BY d.message_id LIMIT ?2")                                           \
    X(MSG_DELIVERED,                                                                               \
      "UPDATE message_deliveries SET delivered = 1 WHERE user_id = ?1 AND message_id = ?2")        \
    X(MSG_DELIVERED_UPTO, "UPDATE message_deliveries SET delivered = 1 "                           \
                          "WHERE user_id = ?1 AND delivered = 0 AND message_id <= ?2")             \
    X(NOTIF_INSERT,                                                                                \
      "INSERT INTO notifications(user_id, type, title, message, data, created_at_ms) "             \
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6)")                                                            \
    X(NOTIF_LIST, "SELECT id, user_id, type, title, message, data, is_read, created_at_ms "        \
                  "FROM notifications WHERE user_id = ?1 AND (?2 = 0 OR is_read = 0) "             \
                  "ORDER BY id DESC LIMIT ?3")                                                     \
    X(NOTIF_READ, "UPDATE notifications SET is_read = 1 WHERE id = ?1 AND user_id = ?2")           \
    X(NOTIF_UNDELIVERED,                                                                           \
      "SELECT id, user_id, type, title, message, data, is_read, created_at_ms "                    \
      "FROM notifications WHERE user_id = ?1 AND delivered = 0 AND id > ?3 ORDER BY id LIMIT ?2")  \
    X(NOTIF_DELIVERED, "UPDATE notifications SET delivered = 1 WHERE user_id = ?1 AND id = ?2")    \
    X(NOTIF_DELIVERED_UPTO, "UPDATE notifications SET delivered = 1 "                              \
                            "WHERE user_id = ?1 AND delivered = 0 AND id <= ?2")                   \
    X(FRIEND_CHECK, "SELECT 1 FROM friendships WHERE user_id = ?1 AND friend_id = ?2")             \
    X(FRIEND_PENDING, "SELECT 1 FROM friend_requests WHERE status = 'pending' AND "                \
                      "((from_id = ?1 AND to_id = ?2) OR (from_id = ?2 AND to_id = ?1))")          \
    X(FRIEND_REQ_INSERT, "INSERT INTO friend_requests(from_id, to_id, status, created_at_ms) "     \
                         "VALUES(?1, ?2, 'pending', ?3)")                                          \
    X(FRIEND_ACCEPT, "UPDATE friend_requests SET status = 'accepted' "                             \
                     "WHERE id = ?1 AND to_id = ?2 AND status = 'pending'")                        \
    X(FRIEND_REQ_GET,                                                                              \
      "SELECT id, from_id, to_id, status, created_at_ms FROM friend_requests WHERE id = ?1")       \
    X(FRIEND_INSERT,                                                                               \
      "INSERT INTO friendships(user_id, friend_id, created_at_ms) VALUES(?1, ?2, ?3) "             \
      "ON CONFLICT DO NOTHING")                                                                    \
    X(FRIEND_LIST, "SELECT friend_id FROM friendships WHERE user_id = ?1 ORDER BY friend_id")      \
    X(POST_UPSERT, "INSERT INTO posts(id, owner_id) VALUES(?1, ?2) "                               \
                   "ON CONFLICT(id) DO UPDATE SET owner_id = excluded.owner_id")                   \
    X(POST_GET, "SELECT id, owner_id FROM posts WHERE id = ?1")                                    \
    X(REACT_UPSERT, "INSERT INTO post_reactions(post_id, user_id, type) VALUES(?1, ?2, ?3) "       \
                    "ON CONFLICT(post_id, user_id) DO UPDATE SET type = excluded.type")            \
    X(REACT_COUNTS,                                                                                \
      "SELECT type, count(*) FROM post_reactions WHERE post_id = ?1 GROUP BY type ORDER BY type")  \
    X(COMMENT_INSERT, "INSERT INTO post_comments(post_id, user_id, content, created_at_ms) "       \
                      "VALUES(?1, ?2, ?3, ?4)")                                                    \
    X(DOC_NEXT, "SELECT coalesce(max(version), 0) + 1 FROM doc_versions WHERE doc_id = ?1")        \
    X(DOC_INSERT, "INSERT INTO doc_versions(doc_id, version, user_id, changes, created_at_ms) "    \
                  "VALUES(?1, ?2, ?3, ?4, ?5)")                                                    \
    X(DOC_LATEST, "SELECT doc_id, version, user_id, changes, created_at_ms FROM doc_versions "     \
                  "WHERE doc_id = ?1 ORDER BY version DESC LIMIT 1")                               \
    X(MSG_KEY_GET, "SELECT m.id, m.room, m.sender_id, m.content, m.type, m.created_at_ms, NULL "   \
                   "FROM message_keys k JOIN messages m ON m.id = k.message_id "                   \
                   "WHERE k.sender_id = ?1 AND k.key = ?2 AND k.created_at_ms >= ?3")              \
    X(MSG_KEY_PUT,                                                                                 \
      "INSERT OR REPLACE INTO message_keys(sender_id, key, message_id, created_at_ms) "            \
      "VALUES(?1, ?2, ?3, ?4)")                                                                    \
    X(MSG_KEYS_PURGE, "DELETE FROM message_keys WHERE created_at_ms < ?1")                         \
    X(HTTP_KEY_GET,                                                                                \
      "SELECT request, status, body FROM http_keys WHERE key = ?1 AND created_at_ms >= ?2")        \
    X(HTTP_KEY_PUT, "INSERT OR REPLACE INTO http_keys(key, request, status, body, created_at_ms) " \
                    "VALUES(?1, ?2, ?3, ?4, ?5)")                                                  \
    X(HTTP_KEYS_PURGE, "DELETE FROM http_keys WHERE created_at_ms < ?1")                        \
    X(SESSION_SAVE, "INSERT INTO sio_sessions(pid, nsp, sid, owner, rooms, disconnected_at_ms) "   \
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(pid) DO UPDATE SET "                \
                    "sid = excluded.sid, owner = excluded.owner, rooms = excluded.rooms, "         \
                    "disconnected_at_ms = excluded.disconnected_at_ms")                            \
    X(SESSION_CRASHED, "UPDATE sio_sessions SET disconnected_at_ms = ?1 "                          \
                       "WHERE disconnected_at_ms IS NULL")                                         \
    X(SESSION_EXPIRE, "DELETE FROM sio_sessions WHERE disconnected_at_ms < ?1")                    \
    X(SESSION_LIST, "SELECT pid, sid, owner, rooms, disconnected_at_ms FROM sio_sessions "        \
                    "WHERE nsp = ?1 ORDER BY disconnected_at_ms, pid")

typedef enum {
#define SB_STORE__SQL_ENUM(name, sql) SB_SQL_##name,
    SB_STORE__SQL(SB_STORE__SQL_ENUM)
#undef SB_STORE__SQL_ENUM
        SB_SQL__COUNT
} sb_store__sql_t;

/* ---- the store ----------------------------------------------------------------- */

/* What the store knows of its files, to notice them being deleted, replaced
 * or truncated under it (store_health.c). */
typedef struct {
    char db_path[4096 + 32];
    char wal_path[4096 + 32];
    uint64_t db_dev, db_ino, wal_dev, wal_ino; /* wal_ino 0: no WAL file seen yet */
    int64_t db_size, wal_size;                 /* sizes seen: neither ever shrinks */
} sb_store__watch_t;

struct sb_store {
    sb_loop_t *loop;
    sb_store_config_t cfg; /* defaults filled in; data_dir points at dir[] */
    char dir[4096];
    sqlite3 *db;                        /* store thread only, after open */
    sqlite3_stmt *stmts[SB_SQL__COUNT]; /* store thread only; prepared lazily */
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t mu;     /* guards everything down to `stats` */
    pthread_cond_t work_cv; /* store thread waits for requests */
    pthread_cond_t idle_cv; /* flush_sync waits for an empty, idle thread */
    sb_store__req_t *pend_head, *pend_tail;
    sb_store__req_t *done_head, *done_tail;
    bool closing; /* also read unlocked by the loop thread, its only writer */
    bool busy;    /* the store thread holds a batch */
    sb_store_stats_t stats;
    sb_store_health_t health; /* written by the store thread */

    int efd; /* eventfd: store thread -> loop "completions ready" */
    sb_io_t io;

    /* Store thread only (and open()). */
    sb_store__watch_t watch;
    char last_error[160]; /* the last SQLite error seen, for health reasons */
    int64_t last_write_failure_ms;
    int64_t last_keys_purge_ms;
    sb_log_limiter_t log_limit;

    /* Loop thread only. */
    size_t outstanding;
    size_t outstanding_bytes;
};

/* ---- store.c: requests --------------------------------------------------------- */

/* Allocates a request for `op` with callback slot left to the caller, or
 * NULL (SB_ENOMEM). Checks nothing. */
sb_store__req_t *sb_store__req_new(const sb_store__op_t *op, void *ud);
void sb_store__req_free(sb_store__req_t *r);
/* Arena allocation, 16-byte aligned; NULL on out of memory. */
void *sb_store__alloc(sb_store__req_t *r, size_t n);
/* Copies s into slot `slot` of r->s with a NUL. An absent slice (p == NULL)
 * becomes NULL if `optional`, "" otherwise. Returns false on out of memory. */
bool sb_store__str(sb_store__req_t *r, int slot, sb_str_t s, bool optional);
/* Returns an arena array able to hold n + 1 elements of `elem` bytes,
 * doubling *cap (copying the first n) when full; NULL on out of memory. */
void *sb_store__grow(sb_store__req_t *r, void *arr, size_t *cap, size_t n, size_t elem);
/* Copies a list of slices into r->list / r->nlist. Returns false on OOM. */
bool sb_store__strlist(sb_store__req_t *r, const sb_str_t *v, size_t n);
/* Copies ids into r->ids / r->nids. Returns false on OOM. */
bool sb_store__idlist(sb_store__req_t *r, const int64_t *v, size_t n);
/* Queues r. `copied` is the caller's "all arguments were copied": when
 * false, r is freed and SB_ENOMEM returned. Also frees r and returns
 * SB_ECLOSED or SB_ETOOBIG when the store cannot take it. */
int sb_store__submit(sb_store_t *st, sb_store__req_t *r, bool copied);

/* True if s is a present slice of min..max bytes without NUL bytes. */
bool sb_store__valid(sb_str_t s, size_t min, size_t max);
/* Like sb_store__valid, but an absent slice (p == NULL) is also fine. */
bool sb_store__valid_opt(sb_str_t s, size_t min, size_t max);
bool sb_store__valid_list(const sb_str_t *v, size_t n, size_t min_n, size_t max_len);

/* ---- store_sql.c ------------------------------------------------------------------ */

/* Returns the cached statement, reset and with cleared bindings, or NULL. */
sqlite3_stmt *sb_store__stmt(sb_store_t *st, sb_store__sql_t id);
void sb_store__stmts_finalize(sb_store_t *st);
/* Resets every cached statement and clears its bindings, so no read
 * transaction lingers and no binding points at a freed request. */
void sb_store__stmts_reset(sb_store_t *st);
/* Binds argument string slot `slot` of r (NULL binds SQL NULL) to parameter
 * idx. The text is bound without a copy: it lives in r's arena, and the
 * bindings are cleared after every batch, before any request is freed.
 * Binding a valid index cannot fail otherwise, since the submit limits keep
 * every length far below SQLITE_LIMIT_LENGTH; so the result is not checked. */
void sb_store__bind_s(sqlite3_stmt *s, int idx, const sb_store__req_t *r, int slot);
/* Binds slots 0..n-1 to parameters 1..n. */
void sb_store__bind_slots(sqlite3_stmt *s, const sb_store__req_t *r, int n);
/* Binds a NUL-terminated string (NULL binds SQL NULL) that outlives the step. */
void sb_store__bind_cstr(sqlite3_stmt *s, int idx, const char *p);
/* Steps a statement that returns no rows, then resets it. Returns SB_OK or a mapped error. */
int sb_store__exec(sb_store_t *st, sqlite3_stmt *s);
/* Runs statement `which` once per id of r->ids, binding s0 as ?1 and the
 * id as ?2 (the per-user "mark delivered" updates). */
int sb_store__exec_per_id(sb_store_t *st, sb_store__req_t *r, sb_store__sql_t which);
/* Maps an SQLite result code to an SB_ code, logging unexpected ones. */
int sb_store__err(sb_store_t *st, int sqlite_rc);
/* Copies column `col` of the current row into the arena; SQL NULL gives
 * NULL. Sets *oom (and returns NULL) when out of memory. */
const char *sb_store__col(sb_store__req_t *r, sqlite3_stmt *s, int col, bool *oom);
/* Steps s to the end, collecting column 0 of each row into out (arena
 * memory). Returns SB_OK, SB_ENOMEM or a mapped SQLite error. */
int sb_store__collect_strs(sb_store_t *st, sb_store__req_t *r, sqlite3_stmt *s,
                           sb_store_strs_t *out);
/* Steps s once. Returns SB_OK on a row (read it, then reset), SB_ENOTFOUND
 * when there is none, or a mapped SQLite error. */
int sb_store__step_one(sb_store_t *st, sqlite3_stmt *s);

/* Prepares every statement of SB_STORE__SQL: proves that each table and
 * column the store uses exists. Returns SB_OK, or SB_EIO with a message. */
int sb_store__prepare_all(sb_store_t *st, char *err, size_t cap);

/* ---- store_chat.c, store_keys.c ----------------------------------------------------- */

/* Reads columns 0..6 (id, room, sender_id, content, type, created_at_ms,
 * sender name) of the current row into m; false when out of memory. */
bool sb_store__read_msg(sb_store__req_t *r, sqlite3_stmt *s, sb_store_msg_t *m);
/* Message append with its key in slot s4 (store_chat.c: exec_msg_append):
 * SB_OK with r->res.msg replayed when the sender used the key before,
 * SB_ENOTFOUND when not, or an error. */
int sb_store__msg_key_replay(sb_store_t *st, sb_store__req_t *r);
/* Remembers the key of slot s4 for message `id`, in the same transaction. */
int sb_store__msg_key_remember(sb_store_t *st, sb_store__req_t *r, int64_t id);
/* At most once a minute: forgets the keys older than SB_STORE_KEY_TTL_MS. */
void sb_store__keys_housekeeping(sb_store_t *st);

/* ---- store_health.c ---------------------------------------------------------------- */

/* Records the files' identities after open. */
void sb_store__watch_init(sb_store_t *st);
/* Checks the database and WAL files against what was recorded; on a
 * deleted, replaced or truncated file, moves to SB_STORE_LOST (for good)
 * and logs an error. Returns true when the store is LOST. */
bool sb_store__watch_check(sb_store_t *st);
/* After a batch: a write that failed with SB_EIO moves OK to FAILING;
 * then sb_store__health_retry(). */
void sb_store__health_after_batch(sb_store_t *st, uint64_t eio_writes);
/* While FAILING and a second after the last failed write: tries a small
 * write, and returns to OK when it commits. */
void sb_store__health_retry(sb_store_t *st);
/* Called when the store thread is idle: checks the files, then retries. */
void sb_store__health_idle(sb_store_t *st);
/* A small write transaction (the schema version rewritten): true when it
 * commits. */
bool sb_store__probe_write(sb_store_t *st);
/* The state, read on the store thread. */
sb_store_state_t sb_store__state(sb_store_t *st);

/* ---- migrations.c ----------------------------------------------------------------- */

/* Brings the schema to the newest known version. Returns SB_OK, or an
 * error with a message in err (schema newer than known, failed migration). */
int sb_store__migrate(sqlite3 *db, char *err, size_t cap);
/* The newest schema version this build knows. */
int sb_store__schema_version(void);

#endif
