/* Durable storage for the built-in features, on its own thread.
 *
 * The event loop never touches the disk. Every operation below copies its
 * arguments into a request, queues it for the store thread and returns at
 * once. The store thread takes all pending requests (up to batch_max), runs
 * the writes of the batch in ONE SQLite transaction (group commit; each
 * request inside its own SAVEPOINT so one failure does not undo the others),
 * commits, and only then hands the completions back to the loop through an
 * eventfd. So a callback that reports SB_OK for a write is called only after
 * the commit that made the write durable: acknowledging "saved" from it is
 * safe.
 *
 * Calling convention of every sb_store_<noun>_<verb>() submit function:
 * - Call it only from the thread running the loop given to sb_store_open().
 * - It returns SB_OK when the request was queued; `cb` (may be NULL) is then
 *   called exactly once, later, on the loop thread, never from inside the
 *   submit call itself.
 * - It returns an error immediately, and `cb` is never called, for:
 *   SB_EINVAL (a string out of its length range or containing a NUL byte, a
 *   list or limit out of range, or an argument the operation forbids),
 *   SB_ETOOBIG (the queue already holds max_queue requests or
 *   max_queue_bytes of arguments), SB_ECLOSED (the store is closing),
 *   SB_ENOMEM.
 * - Input slices are copied before the call returns; the caller's buffers
 *   may die right after.
 * - In the callback, `rc` is SB_OK or an error code; the result pointer is
 *   non-NULL only when rc == SB_OK. Result memory belongs to the store and
 *   is valid only during the callback: copy what you keep. Result strings
 *   are NUL-terminated (inputs may not contain NUL bytes, so nothing is cut).
 * - rc SB_EIO means SQLite failed (disk full, I/O error, ...); the write is
 *   then not stored.
 * - Completions arrive in submission order, and a request sees the effects
 *   of every request submitted before it (one thread runs them in order).
 *
 * Strings: an sb_str_t argument with p == NULL is "absent" (allowed only
 * where it says "optional"). Lengths are in bytes. */
#ifndef SB_STORE_STORE_H
#define SB_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "core/str.h"

/* ---- limits ---------------------------------------------------------------- */

#define SB_STORE_MAX_ID 128      /* user, post, document and caller-chosen conversation ids */
#define SB_STORE_MAX_NAME 128    /* user names, message/notification/reaction types */
#define SB_STORE_MAX_URL 2048    /* avatar */
#define SB_STORE_MAX_TITLE 256   /* conversation and notification titles */
#define SB_STORE_MAX_ROOM 320    /* fits "conversation:" + the longest direct conversation id */
#define SB_STORE_MAX_CONV_ID 280 /* fits "dm:<len>:<a>:<b>" with two 128-byte user ids */
#define SB_STORE_MAX_JSON 16384  /* notification data */
#define SB_STORE_MAX_LIST 10000  /* members, recipients, ids per request */
#define SB_STORE_MAX_HISTORY 100 /* messages per history page */
#define SB_STORE_MAX_PAGE 1000   /* rows per undelivered/notification page */
#define SB_STORE_MAX_KEY 128     /* idempotency keys */
#define SB_STORE_KEY_TTL_MS (24 * 3600 * 1000) /* how long an idempotency key is remembered */

/* ---- opening and closing --------------------------------------------------- */

typedef struct sb_store sb_store_t; /* opaque */

typedef enum {
    SB_STORE_SYNC_FULL = 0, /* fsync at every commit: an ack survives power loss (default) */
    SB_STORE_SYNC_NORMAL,   /* WAL+NORMAL: survives a process crash, may lose the last commits on
                               power loss */
    SB_STORE_SYNC_OFF       /* tests and benchmarks only */
} sb_store_sync_t;

/* Zero means "default" for every numeric field. */
typedef struct {
    const char *data_dir; /* required for SQLite; created (mkdir -p, mode 0700) if missing */
    /* PostgreSQL instead of SQLite when set and not empty: a libpq URL or
     * key=value string (--database-url; docs/operations.md). */
    const char *database_url;
    /* PostgreSQL: how long a request may wait for an unreachable database
     * before it fails with SB_EUNAVAIL; default 5000. */
    int store_wait_ms;
    /* PostgreSQL: connections to the database, each with a store thread of
     * its own running batches side by side (requests on one conversation,
     * user, post or document stay on one); default 4, at most 64. */
    int pool_size;
    sb_store_sync_t synchronous; /* default SB_STORE_SYNC_FULL */
    int busy_timeout_ms;         /* default 5000: waits for another process holding the db */
    size_t batch_max;            /* default 256 requests per transaction */
    size_t max_queue;            /* default 100000 requests submitted and not yet completed */
    size_t max_queue_bytes;      /* default 256 MiB of copied arguments in those requests */
    size_t max_content; /* default 65536: message, comment, notification text, doc changes */
    /* Start-up integrity check (PRAGMA quick_check) of databases up to this
     * size; larger ones are only schema-checked, with a warning. Default
     * 1 GiB; negative: never run it. */
    int64_t check_max_bytes;
} sb_store_config_t;

/* Creates cfg->data_dir if needed, opens (or creates) <data_dir>/switchboard.db
 * in WAL mode with exclusive locking (the WAL index lives in this process's
 * heap: no -shm file, and no other process may open the live database; use
 * sb_store_backup()), checks its integrity (see check_max_bytes), applies the
 * pending schema migrations, checks that every table and column the store
 * uses exists, proves that it can write, and starts the store thread, whose
 * completions are delivered on `loop`. Runs blocking disk I/O: call it at
 * start-up, before serving. Returns the store, or NULL with a NUL-terminated
 * reason in err[0..cap) (an unwritable or invalid directory, a read-only
 * file or mount, a file that is not a database, a corrupt page, missing
 * tables, a schema newer than this build knows, a failed migration, a
 * database held by another process, ...). `cfg` is copied. */
sb_store_t *sb_store_open(sb_loop_t *loop, const sb_store_config_t *cfg, char *err, size_t cap);

/* Stops accepting requests, lets the store thread finish (and commit) every
 * queued request, delivers all their completions from inside this call,
 * joins the thread and closes the database. Blocks on disk: a shutdown step.
 * Submits made from those final callbacks fail with SB_ECLOSED. Must not be
 * called from inside a store callback. NULL is a no-op. */
void sb_store_close(sb_store_t *st);

/* Blocks until every request submitted so far has been executed and
 * committed, then delivers the completions from inside this call. For tests
 * and shutdown paths; it blocks the loop on disk. Not from a store callback. */
void sb_store_flush_sync(sb_store_t *st);

/* The upper bounds (microseconds) of the commit latency histogram. */
#define SB_STORE_COMMIT_NBUCKETS 12
extern const uint64_t SB_STORE_COMMIT_BUCKETS_US[SB_STORE_COMMIT_NBUCKETS];

typedef struct {
    uint64_t requests; /* requests executed */
    uint64_t batches;  /* batches taken by the store thread */
    uint64_t commits;  /* write transactions committed */
    uint64_t
        commit_failures; /* write transactions that could not commit (their writes got SB_EIO) */
    uint64_t failed;     /* requests completed with an error */
    size_t max_batch;    /* largest batch seen */
    size_t pending;      /* submitted and not yet completed (loop-thread view) */
    /* Commit latency: the wall time of each committed write transaction, from
     * its BEGIN to the end of its COMMIT (the batch's writes and the sync to
     * disk, or the round trips to PostgreSQL). `commits` counts them. */
    uint64_t commit_us_last; /* the latest */
    uint64_t commit_us_avg;  /* exponential average, each commit weighing 1/8 */
    uint64_t commit_us_max;  /* the slowest since the store opened */
    uint64_t commit_us_sum;  /* all of them added up */
    /* commit_buckets[i]: commits that took at most SB_STORE_COMMIT_BUCKETS_US[i]
     * and more than the bound before it; the last slot counts the slower ones. */
    uint64_t commit_buckets[SB_STORE_COMMIT_NBUCKETS + 1];
    /* Store threads (SQLite: 1; PostgreSQL: the pool's connections), those
     * running a batch now, and (PostgreSQL) those whose connection is down. */
    size_t threads, threads_busy, connections_down;
} sb_store_stats_t;

/* Copies the counters into *out. Loop thread only. */
void sb_store_stats(sb_store_t *st, sb_store_stats_t *out);

/* ---- health ------------------------------------------------------------------ */

typedef enum {
    SB_STORE_OK = 0,  /* writes commit */
    SB_STORE_FAILING, /* the last write failed (disk full, I/O error, ...); the store thread
                         retries a small write every second and returns to OK by itself */
    SB_STORE_LOST     /* the database or its WAL was deleted, replaced or truncated under the
                         running server: every write is refused until a restart */
} sb_store_state_t;

typedef struct {
    sb_store_state_t state;
    char reason[200];      /* why it is not OK ("" when OK) */
    int64_t since_ms;      /* wall clock time of the last state change */
    uint64_t write_errors; /* write requests that failed with SB_EIO since start */
} sb_store_health_t;

/* Copies the current health into *out. Loop thread only. */
void sb_store_health(sb_store_t *st, sb_store_health_t *out);
/* "ok", "failing" or "lost". */
const char *sb_store_state_name(sb_store_state_t s);

/* Routes SQLite's own diagnostics (sqlite3_log: recovered WALs, I/O errors,
 * corruption reports) into our log, at most a few lines per kind every ten
 * seconds. SQLite keeps this setting process-wide: call it once, before
 * any database is opened (it fails with SB_EINVAL after that). */
int sb_store_route_sqlite_log(void);

/* ---- online backup ------------------------------------------------------------ */

typedef struct {
    const char *path; /* <data_dir>/backups/switchboard-<UTC time>.db */
    int64_t bytes;
    int64_t ms; /* time the copy took */
} sb_store_backup_t;

typedef void (*sb_store_backup_cb)(void *ud, int rc, const sb_store_backup_t *b);

/* Writes a consistent copy of the database, as of the moment it runs, to a
 * new file under <data_dir>/backups/ (created 0700), with SQLite's backup
 * API on the store thread: the loop keeps serving, writes queue behind the
 * copy. The file appears under its final name only once complete. Works in
 * the LOST state too (it copies what the server still has open). cb rc:
 * SB_OK with the file, or SB_EIO. SQLite only: see sb_store_can_backup(). */
int sb_store_backup(sb_store_t *st, sb_store_backup_cb cb, void *ud);

/* False on the PostgreSQL store, whose backups are the database's own
 * (pg_dump, continuous archiving): a copy taken by one of several servers
 * sharing it would be neither whole nor Switchboard's to take. */
bool sb_store_can_backup(const sb_store_t *st);

/* The store's identity: random hex, made once with its schema. Servers
 * sharing one PostgreSQL database see the same; a store's ids (messages,
 * notifications) name rows only in a store of the same identity. */
const char *sb_store_identity(const sb_store_t *st);

/* ---- results ---------------------------------------------------------------- */

typedef struct {
    const char *id, *name;
    const char *avatar; /* NULL when absent */
    int64_t last_seen_ms;
} sb_store_user_t;

typedef struct {
    const char *const *v; /* sorted ascending (bytewise) */
    size_t n;
} sb_store_strs_t;

typedef struct {
    const int64_t *v;
    size_t n;
} sb_store_ids_t;

typedef struct {
    int64_t id; /* global, assigned by the store, strictly increasing */
    const char *room, *sender_id, *content, *type;
    int64_t created_at_ms;
    const char *sender_name; /* from the users table in history and undelivered pages; NULL when
                                unknown and in append results */
    bool replayed; /* append results only: the idempotency key was used before, so this is the
                      message stored then, and nothing was stored (or queued for delivery) now */
    const char *client_key; /* undelivered pages: the sender's idempotency key while the store
                               remembers it (SB_STORE_KEY_TTL_MS); NULL otherwise */
    /* Append results on PostgreSQL only (else NULL): for each recipient, in the order given, the
     * id of that user's previous message, confirmed or not (0: none). Appends commit in id order
     * across servers, so a device that was sent that one misses nothing before this one. */
    const int64_t *recipient_prev;
} sb_store_msg_t;

typedef struct {
    const sb_store_msg_t *v;
    size_t n;
    /* Undelivered pages on PostgreSQL only (else 0): the user's newest id, confirmed or not, read
     * before the page: with the last page read, every id up to it still pending has been in one
     * (SQLite's delivery needs none: one writer completes in id order). */
    int64_t newest;
} sb_store_msgs_t;

typedef struct {
    int64_t id;
    const char *user_id, *type, *title, *message;
    const char *data; /* JSON text, or NULL when absent */
    bool is_read;
    int64_t created_at_ms;
    int64_t prev; /* create results on PostgreSQL: the user's previous notification (0: none,
                     or not known as on SQLite); see recipient_prev */
} sb_store_notification_t;

typedef struct {
    const sb_store_notification_t *v;
    size_t n;
    int64_t newest; /* as in sb_store_msgs_t */
} sb_store_notifications_t;

typedef struct {
    int64_t id;
    const char *from_id, *to_id;
    const char *status; /* "pending" or "accepted" */
    int64_t created_at_ms;
} sb_store_friend_request_t;

typedef struct {
    const char *id, *owner_id;
} sb_store_post_t;

typedef struct {
    const char *type;
    int64_t count;
} sb_store_reaction_count_t;

typedef struct {
    const char *post_id, *owner_id;
    const sb_store_reaction_count_t *v; /* one entry per reaction type present, sorted by type */
    size_t n;
    int64_t total; /* sum of the counts: one reaction per user */
} sb_store_reactions_t;

typedef struct {
    int64_t id;
    const char *post_id, *owner_id, *user_id, *content;
    int64_t created_at_ms;
} sb_store_comment_t;

typedef struct {
    const char *doc_id;
    int64_t version; /* 1, 2, 3, ... per document */
    const char *user_id, *changes;
    int64_t created_at_ms;
} sb_store_doc_version_t;

typedef struct {
    const char *pid, *sid;
    const char *owner; /* NULL when absent */
    const char *rooms; /* JSON array of room names */
    int64_t disconnected_at_ms;
} sb_store_session_t;

typedef struct {
    const sb_store_session_t *v;
    size_t n;
} sb_store_sessions_t;

typedef void (*sb_store_done_cb)(void *ud, int rc);
typedef void (*sb_store_bool_cb)(void *ud, int rc, bool yes);
typedef void (*sb_store_id_cb)(void *ud, int rc, const char *id);
typedef void (*sb_store_user_cb)(void *ud, int rc, const sb_store_user_t *u);
typedef void (*sb_store_strs_cb)(void *ud, int rc, const sb_store_strs_t *list);
typedef void (*sb_store_ids_cb)(void *ud, int rc, const sb_store_ids_t *ids);
typedef void (*sb_store_msg_cb)(void *ud, int rc, const sb_store_msg_t *m);
typedef void (*sb_store_msgs_cb)(void *ud, int rc, const sb_store_msgs_t *page);
typedef void (*sb_store_notification_cb)(void *ud, int rc, const sb_store_notification_t *n);
typedef void (*sb_store_notifications_cb)(void *ud, int rc, const sb_store_notifications_t *page);
typedef void (*sb_store_friend_request_cb)(void *ud, int rc, const sb_store_friend_request_t *r);
typedef void (*sb_store_post_cb)(void *ud, int rc, const sb_store_post_t *p);
typedef void (*sb_store_reactions_cb)(void *ud, int rc, const sb_store_reactions_t *r);
typedef void (*sb_store_comment_cb)(void *ud, int rc, const sb_store_comment_t *c);
typedef void (*sb_store_doc_version_cb)(void *ud, int rc, const sb_store_doc_version_t *d);
typedef void (*sb_store_sessions_cb)(void *ud, int rc, const sb_store_sessions_t *list);

/* ---- users ---------------------------------------------------------------------
 * id 1..SB_STORE_MAX_ID bytes, name 0..SB_STORE_MAX_NAME, avatar optional
 * 0..SB_STORE_MAX_URL. */

/* Inserts or replaces the user's profile. cb rc: SB_OK. */
int sb_store_user_upsert(sb_store_t *st, sb_str_t id, sb_str_t name, sb_str_t avatar,
                         int64_t last_seen_ms, sb_store_done_cb cb, void *ud);
/* cb rc: SB_OK with the profile, or SB_ENOTFOUND. */
int sb_store_user_get(sb_store_t *st, sb_str_t id, sb_store_user_cb cb, void *ud);

/* ---- conversations ---------------------------------------------------------------
 * A stored set of members with an id. Member and user ids 1..SB_STORE_MAX_ID. */

/* Creates a group conversation. `id` is optional: absent generates 16 random
 * hex digits; given, it is 1..SB_STORE_MAX_ID bytes and may not start with
 * "dm:" (reserved for direct conversations: SB_EINVAL). members: 0..
 * SB_STORE_MAX_LIST ids (duplicates ignored). title optional,
 * 0..SB_STORE_MAX_TITLE. cb rc: SB_OK with the id, or SB_EEXISTS. */
int sb_store_conversation_create(sb_store_t *st, sb_str_t id, const sb_str_t *members, size_t n,
                                 sb_str_t title, sb_store_id_cb cb, void *ud);
/* Returns (creating it with both members on first use) the direct
 * conversation of the pair {a, b}, in either order. Its id is
 * "dm:<byte length of x>:<x>:<y>" with x < y bytewise: no other pair, and no
 * sb_store_conversation_create() id, can produce it. a == b: SB_EINVAL.
 * cb rc: SB_OK with the id (at most SB_STORE_MAX_CONV_ID bytes). */
/* Writes the id sb_store_conversation_direct() gives the pair {a, b} into
 * out (cap >= SB_STORE_MAX_CONV_ID + 1). SB_OK, or SB_EINVAL (an invalid id,
 * a == b). */
int sb_store_direct_id(sb_str_t a, sb_str_t b, char *out, size_t cap);
int sb_store_conversation_direct(sb_store_t *st, sb_str_t a, sb_str_t b, sb_store_id_cb cb,
                                 void *ud);
/* cb rc: SB_OK with the member ids, or SB_ENOTFOUND (no such conversation).
 * id 1..SB_STORE_MAX_CONV_ID here and below. */
int sb_store_conversation_members(sb_store_t *st, sb_str_t id, sb_store_strs_cb cb, void *ud);
/* Changes a group conversation: a new title (p == NULL: unchanged) and/or
 * a new member list replacing the old one (members NULL: unchanged, else
 * 1..SB_STORE_MAX_LIST ids). At least one of the two; a direct
 * conversation ("dm:") never changes (SB_EINVAL). cb rc: SB_OK with the
 * members as they were before the change, or SB_ENOTFOUND. */
int sb_store_conversation_update(sb_store_t *st, sb_str_t id, sb_str_t title,
                                 const sb_str_t *members, size_t n, sb_store_strs_cb cb, void *ud);
/* Deletes a conversation and its member list; its messages stay stored but
 * no member can reach them through it any more. cb rc: SB_OK with the
 * members it had, or SB_ENOTFOUND. */
int sb_store_conversation_delete(sb_store_t *st, sb_str_t id, sb_store_strs_cb cb, void *ud);
/* cb rc: SB_OK with yes/no, or SB_ENOTFOUND (no such conversation). */
int sb_store_conversation_is_member(sb_store_t *st, sb_str_t id, sb_str_t user, sb_store_bool_cb cb,
                                    void *ud);

/* ---- messages --------------------------------------------------------------------- */

typedef struct {
    sb_str_t room;      /* 1..SB_STORE_MAX_ROOM, e.g. "conversation:<id>" or an open room name */
    sb_str_t sender_id; /* 1..SB_STORE_MAX_ID */
    sb_str_t content;   /* 0..max_content */
    sb_str_t type;      /* 0..SB_STORE_MAX_NAME; empty or absent means "text" */
    int64_t created_at_ms;
    const sb_str_t *recipients; /* users to deliver to when they next connect; may be NULL */
    size_t n_recipients;        /* 0..SB_STORE_MAX_LIST; duplicates ignored */
    sb_str_t idempotency_key;   /* optional, 1..SB_STORE_MAX_KEY bytes */
    /* Optional, 1..SB_STORE_MAX_ID, not sender_id: the message opens the
     * direct conversation of sender_id and direct_with, created first in the
     * message's own transaction when it does not exist (as
     * sb_store_conversation_direct: one request and one commit instead of
     * two). The room is the caller's: "conversation:" + sb_store_direct_id(). */
    sb_str_t direct_with;
    /* Optional, 1..SB_STORE_MAX_NAME: the name a backend gave the sender for
     * this message, stored with it and read back instead of the user's. */
    sb_str_t sender_name;
} sb_store_message_in_t;

/* True when `key` is a valid idempotency key: 1..SB_STORE_MAX_KEY printable
 * ASCII characters, no spaces (a UUID, a ULID, a counter, ...). */
bool sb_store_key_valid(sb_str_t key);

/* Stores a message with a new global id and one pending (undelivered)
 * delivery row per recipient, in one transaction: from the commit on, the
 * message is pending for every recipient until marked delivered. cb rc:
 * SB_OK with the stored row. With an idempotency key that the same
 * sender_id used in the last SB_STORE_KEY_TTL_MS, stores nothing and returns
 * the message stored with it (replayed = true): the key and the message
 * commit together, so a retry never stores twice. */
int sb_store_message_append(sb_store_t *st, const sb_store_message_in_t *m, sb_store_msg_cb cb,
                            void *ud);
/* A page of the room's messages with id < before_id (0: from the newest),
 * newest first; limit 1..SB_STORE_MAX_HISTORY. Page on with before_id = the
 * last id of the previous page. cb rc: SB_OK (possibly empty page). */
int sb_store_message_history(sb_store_t *st, sb_str_t room, int64_t before_id, int limit,
                             sb_store_msgs_cb cb, void *ud);
/* Marks ids[0..n) (n 1..SB_STORE_MAX_LIST) read by `user`. Ids that are not
 * messages of `room`, were sent by `user`, or were already read by `user`
 * are skipped. cb rc: SB_OK with exactly the ids newly marked read, in input
 * order: calling it twice returns them only once. */
int sb_store_message_mark_read(sb_store_t *st, sb_str_t user, sb_str_t room, const int64_t *ids,
                               size_t n, sb_store_ids_cb cb, void *ud);
/* The user's undelivered messages with id > after_id (0: all), oldest
 * first; limit 1..SB_STORE_MAX_PAGE. Page on with after_id = the last id of
 * the previous page. cb rc: SB_OK (possibly empty). */
int sb_store_message_undelivered(sb_store_t *st, sb_str_t user, int64_t after_id, int limit,
                                 sb_store_msgs_cb cb, void *ud);
/* Marks the user's delivery rows of ids[0..n) delivered (n 1..SB_STORE_MAX_LIST);
 * unknown ids are ignored. cb rc: SB_OK. */
int sb_store_message_mark_delivered(sb_store_t *st, sb_str_t user, const int64_t *ids, size_t n,
                                    sb_store_done_cb cb, void *ud);
/* Marks every delivery row of `user` with message id <= upto_id delivered
 * (a recovered session confirmed them by its offset). cb rc: SB_OK. */
int sb_store_message_delivered_upto(sb_store_t *st, sb_str_t user, int64_t upto_id,
                                    sb_store_done_cb cb, void *ud);
/* Raises the user's delivery floor to just below the user's first pending
 * delivery (to the newest when none is): sb_store_message_undelivered()
 * reads from the floor on, so a page costs what arrived since, not the
 * user's whole history. Any time is correct; the delivery layer calls it
 * when a device's backlog is done. cb rc: SB_OK. */
int sb_store_message_floor_advance(sb_store_t *st, sb_str_t user, sb_store_done_cb cb, void *ud);

/* ---- HTTP idempotency keys ----------------------------------------------------------
 * The answer to an HTTP API write, remembered under the client's
 * Idempotency-Key for SB_STORE_KEY_TTL_MS. key 1..SB_STORE_MAX_KEY, request
 * 1..SB_STORE_MAX_ROOM (e.g. "POST /api/notifications <body digest>"),
 * body 0..max_content + SB_STORE_MAX_JSON. */

typedef struct {
    const char *request;
    int status;
    const char *body;
} sb_store_http_answer_t;

typedef void (*sb_store_http_answer_cb)(void *ud, int rc, const sb_store_http_answer_t *a);

/* cb rc: SB_OK with the remembered answer, or SB_ENOTFOUND. */
int sb_store_http_key_get(sb_store_t *st, sb_str_t key, sb_store_http_answer_cb cb, void *ud);
/* Remembers (or replaces) the answer under key. cb rc: SB_OK. */
int sb_store_http_key_put(sb_store_t *st, sb_str_t key, sb_str_t request, int status, sb_str_t body,
                          sb_store_done_cb cb, void *ud);

/* ---- notifications ----------------------------------------------------------------- */

typedef struct {
    sb_str_t user_id; /* 1..SB_STORE_MAX_ID */
    sb_str_t type;    /* 1..SB_STORE_MAX_NAME */
    sb_str_t title;   /* 0..SB_STORE_MAX_TITLE */
    sb_str_t message; /* 0..max_content */
    sb_str_t data;    /* optional JSON text, 1..SB_STORE_MAX_JSON */
    int64_t created_at_ms;
} sb_store_notification_in_t;

/* Stores an unread, undelivered notification. cb rc: SB_OK with the row, or
 * SB_EINVAL when `data` is not valid JSON. */
int sb_store_notification_create(sb_store_t *st, const sb_store_notification_in_t *n,
                                 sb_store_notification_cb cb, void *ud);
/* The user's notifications, newest first, only unread ones if unread_only;
 * limit 1..SB_STORE_MAX_PAGE. cb rc: SB_OK (possibly empty). */
int sb_store_notification_list(sb_store_t *st, sb_str_t user, bool unread_only, int limit,
                               sb_store_notifications_cb cb, void *ud);
/* cb rc: SB_OK (also when already read), or SB_ENOTFOUND when `user` has no
 * notification `id` (another user's notification is never touched). */
int sb_store_notification_mark_read(sb_store_t *st, sb_str_t user, int64_t id, sb_store_done_cb cb,
                                    void *ud);
/* The user's undelivered notifications with id > after_id (0: all), oldest
 * first; limit 1..SB_STORE_MAX_PAGE. */
int sb_store_notification_undelivered(sb_store_t *st, sb_str_t user, int64_t after_id, int limit,
                                      sb_store_notifications_cb cb, void *ud);
/* Marks every notification of `user` with id <= upto_id delivered (a
 * recovered device confirmed them by its offset). cb rc: SB_OK. */
int sb_store_notification_delivered_upto(sb_store_t *st, sb_str_t user, int64_t upto_id,
                                         sb_store_done_cb cb, void *ud);
/* Marks the user's notifications ids[0..n) delivered (n 1..SB_STORE_MAX_LIST);
 * other users' and unknown ids are ignored. cb rc: SB_OK. */
int sb_store_notification_mark_delivered(sb_store_t *st, sb_str_t user, const int64_t *ids,
                                         size_t n, sb_store_done_cb cb, void *ud);

/* ---- friends -------------------------------------------------------------------------- */

/* Records a pending request from -> to (from == to: SB_EINVAL at once).
 * cb rc: SB_OK with the row (status "pending"), or SB_EEXISTS when they are
 * already friends or a pending request exists between them either way. */
int sb_store_friend_request(sb_store_t *st, sb_str_t from, sb_str_t to,
                            sb_store_friend_request_cb cb, void *ud);
/* Accepts pending request `request_id` addressed to `by_user`; both become
 * friends. cb rc: SB_OK with the row (status "accepted"), or SB_ENOTFOUND
 * when no pending request with that id is addressed to by_user. */
int sb_store_friend_accept(sb_store_t *st, int64_t request_id, sb_str_t by_user,
                           sb_store_friend_request_cb cb, void *ud);
/* cb rc: SB_OK with the user's friends (possibly none). */
int sb_store_friend_list(sb_store_t *st, sb_str_t user, sb_store_strs_cb cb, void *ud);
/* cb rc: SB_OK with whether a and b are friends. */
int sb_store_friend_check(sb_store_t *st, sb_str_t a, sb_str_t b, sb_store_bool_cb cb, void *ud);

/* ---- posts ------------------------------------------------------------------------------ */

/* Registers the post or changes its owner. cb rc: SB_OK. */
int sb_store_post_register(sb_store_t *st, sb_str_t id, sb_str_t owner, sb_store_done_cb cb,
                           void *ud);
/* cb rc: SB_OK with the post, or SB_ENOTFOUND. */
int sb_store_post_get(sb_store_t *st, sb_str_t id, sb_store_post_cb cb, void *ud);
/* Sets the user's single reaction on the post (a new type replaces the old);
 * type 1..SB_STORE_MAX_NAME. cb rc: SB_OK with the post's counts after the
 * change, or SB_ENOTFOUND for an unknown post. */
int sb_store_post_react(sb_store_t *st, sb_str_t post_id, sb_str_t user, sb_str_t type,
                        sb_store_reactions_cb cb, void *ud);
/* content 1..max_content. cb rc: SB_OK with the comment (and the post's
 * owner), or SB_ENOTFOUND for an unknown post. */
int sb_store_post_comment(sb_store_t *st, sb_str_t post_id, sb_str_t user, sb_str_t content,
                          int64_t created_at_ms, sb_store_comment_cb cb, void *ud);

/* ---- documents ------------------------------------------------------------------------- */

/* Appends the next version of the document; changes is JSON text,
 * 1..max_content. cb rc: SB_OK with the stored version, or SB_EINVAL when
 * changes is not valid JSON. */
int sb_store_doc_version_add(sb_store_t *st, sb_str_t doc_id, sb_str_t user, sb_str_t changes,
                             int64_t created_at_ms, sb_store_doc_version_cb cb, void *ud);
/* cb rc: SB_OK with the newest version, or SB_ENOTFOUND. */
int sb_store_doc_latest(sb_store_t *st, sb_str_t doc_id, sb_store_doc_version_cb cb, void *ud);

/* ---- recoverable Socket.IO sessions (connection state recovery) -----------------
 * pid and sid 1..SB_STORE_MAX_SESSION_ID bytes; nsp 1..SB_STORE_MAX_ROOM;
 * owner optional 1..SB_STORE_MAX_ID; rooms a JSON array, 2..SB_STORE_MAX_JSON. */
#define SB_STORE_MAX_SESSION_ID 64

/* Inserts or replaces session `pid`: connected (disconnected_at_ms 0) or
 * disconnected at that time. cb rc: SB_OK, or SB_EINVAL when rooms is not
 * valid JSON. */
int sb_store_session_save(sb_store_t *st, sb_str_t pid, sb_str_t nsp, sb_str_t sid, sb_str_t owner,
                          sb_str_t rooms, int64_t disconnected_at_ms, sb_store_done_cb cb,
                          void *ud);
/* At start-up: sessions still marked connected (the process died without
 * closing them) count as disconnected at now_ms; sessions disconnected
 * before since_ms are deleted; then cb gets the namespace's remaining
 * sessions, oldest first. cb rc: SB_OK. */
int sb_store_session_load(sb_store_t *st, sb_str_t nsp, int64_t since_ms, int64_t now_ms,
                          sb_store_sessions_cb cb, void *ud);

#endif
