/* Store internals shared by store.c (thread, batches), store_request.c
 * (requests and the queue), store_ops.c (every operation's exec),
 * store_sql.c (statement helpers), the operation files and migrations.c.
 *
 * Life of a request: the loop thread allocates it (sb_store__req_new), copies
 * the arguments into its arena and queues it (sb_store__submit). The store
 * thread runs its exec (sb_store__run_op), which fills r->res from the same
 * arena, and moves the request to the done queue after the commit. The loop thread calls the
 * typed callback (by op->kind) and frees the request with its arena. The
 * mutex hand-offs order every access; nothing is shared at the same time. */
#ifndef SB_STORE_INTERNAL_H
#define SB_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#include "core/log.h"
#include "store/store.h"

/* ---- per-request arena: arguments and results, freed in one go ------------ */

typedef struct sb_store__blk sb_store__blk_t;

typedef struct {
    sb_store__blk_t *head;
    size_t bytes; /* total allocated, for max_queue_bytes */
} sb_store__arena_t;

/* ---- result kinds ------------------------------------------------------------ */

/* X(KIND, callback type, result type, how the result is passed): NONE (the
 * callback gets rc only), VALUE (by value) or PTR (a pointer, NULL on error). */
#define SB_STORE__KINDS(X)                                                                         \
    X(DONE, sb_store_done_cb, char, NONE)                                                          \
    X(BOOL, sb_store_bool_cb, bool, VALUE)                                                         \
    X(ID, sb_store_id_cb, const char *, VALUE)                                                     \
    X(USER, sb_store_user_cb, sb_store_user_t, PTR)                                                \
    X(STRS, sb_store_strs_cb, sb_store_strs_t, PTR)                                                \
    X(IDS, sb_store_ids_cb, sb_store_ids_t, PTR)                                                   \
    X(MSG, sb_store_msg_cb, sb_store_msg_t, PTR)                                                   \
    X(MSGS, sb_store_msgs_cb, sb_store_msgs_t, PTR)                                                \
    X(NOTIF, sb_store_notification_cb, sb_store_notification_t, PTR)                               \
    X(NOTIFS, sb_store_notifications_cb, sb_store_notifications_t, PTR)                            \
    X(FRIEND_REQ, sb_store_friend_request_cb, sb_store_friend_request_t, PTR)                      \
    X(POST, sb_store_post_cb, sb_store_post_t, PTR)                                                \
    X(REACTIONS, sb_store_reactions_cb, sb_store_reactions_t, PTR)                                 \
    X(COMMENT, sb_store_comment_cb, sb_store_comment_t, PTR)                                       \
    X(DOC, sb_store_doc_version_cb, sb_store_doc_version_t, PTR)                                   \
    X(BACKUP, sb_store_backup_cb, sb_store_backup_t, PTR)                                          \
    X(HTTP_ANSWER, sb_store_http_answer_cb, sb_store_http_answer_t, PTR)                           \
    X(SESSIONS, sb_store_sessions_cb, sb_store_sessions_t, PTR)

typedef enum {
#define SB_STORE__KIND_ENUM(kind, cb_t, res_t, how) SB_STORE__K_##kind,
    SB_STORE__KINDS(SB_STORE__KIND_ENUM)
#undef SB_STORE__KIND_ENUM
} sb_store__kind_t;

#define SB_STORE__KIND_CB_T(kind, cb_t, res_t, how) typedef cb_t sb_store__cb_##kind##_t;
SB_STORE__KINDS(SB_STORE__KIND_CB_T)
#undef SB_STORE__KIND_CB_T

/* ---- operations: one row each ----------------------------------------------------------
 *
 * X(name, arguments, result kind, mode, retry):
 * - arguments: sb_store__<arguments>_args_t, filled by the submit function,
 *   read by sb_store__exec_<name>() on the store thread;
 * - mode: READ (may run outside a transaction), WRITE (inside the batch's
 *   transaction, in a savepoint of its own), BETWEEN (between transactions);
 * - retry: ANY (idempotent: run again after a commit whose outcome stayed
 *   unknown, it leaves the same rows and gives the same answer, see
 *   sb_store__may_run_again) or ONCE (run again only when certainly not
 *   committed: a second run would store twice, or answer "exists", "not
 *   found" or an after-the-change state instead of the first run's answer).
 * Each row generates the request constructor sb_store__new_<name>(cb, ud)
 * with the callback type of its kind, its arguments member r->args.<name>,
 * and its entry in sb_store__ops[]. */
#define SB_STORE__OPS(X)                                                                           \
    X(user_upsert, user_upsert, DONE, WRITE, ANY)                                                  \
    X(user_get, lookup, USER, READ, ANY)                                                           \
    X(conversation_create, conversation_create, ID, WRITE, ONCE)                                   \
    X(conversation_direct, conversation_direct, ID, WRITE, ANY)                                    \
    X(conversation_members, lookup, STRS, READ, ANY)                                               \
    X(conversation_is_member, membership, BOOL, READ, ANY)                                         \
    X(conversation_update, conversation_update, STRS, WRITE, ONCE)                                 \
    X(conversation_delete, lookup, STRS, WRITE, ONCE)                                              \
    X(message_append, message_append, MSG, WRITE, ONCE)                                            \
    X(message_history, message_history, MSGS, READ, ANY)                                           \
    X(message_mark_read, message_mark_read, IDS, WRITE, ANY)                                       \
    X(message_undelivered, user_page, MSGS, READ, ANY)                                             \
    X(message_mark_delivered, user_ids, DONE, WRITE, ANY)                                          \
    X(message_delivered_upto, user_upto, DONE, WRITE, ANY)                                         \
    X(message_floor_advance, lookup, DONE, WRITE, ANY)                                             \
    X(http_key_get, lookup, HTTP_ANSWER, READ, ANY)                                                \
    X(http_key_put, http_key_put, DONE, WRITE, ANY)                                                \
    X(notification_create, notification_create, NOTIF, WRITE, ONCE)                                \
    X(notification_list, notification_list, NOTIFS, READ, ANY)                                     \
    X(notification_mark_read, notification_mark_read, DONE, WRITE, ANY)                            \
    X(notification_undelivered, user_page, NOTIFS, READ, ANY)                                      \
    X(notification_mark_delivered, user_ids, DONE, WRITE, ANY)                                     \
    X(notification_delivered_upto, user_upto, DONE, WRITE, ANY)                                    \
    X(friend_request, friend_pair, FRIEND_REQ, WRITE, ONCE)                                        \
    X(friend_accept, friend_accept, FRIEND_REQ, WRITE, ONCE)                                       \
    X(friend_list, lookup, STRS, READ, ANY)                                                        \
    X(friend_check, friend_pair, BOOL, READ, ANY)                                                  \
    X(post_register, post_register, DONE, WRITE, ANY)                                              \
    X(post_get, lookup, POST, READ, ANY)                                                           \
    X(post_react, post_react, REACTIONS, WRITE, ANY)                                               \
    X(post_comment, post_comment, COMMENT, WRITE, ONCE)                                            \
    X(doc_version_add, doc_version_add, DOC, WRITE, ONCE)                                          \
    X(doc_latest, lookup, DOC, READ, ANY)                                                          \
    X(session_save, session_save, DONE, WRITE, ANY)                                                \
    X(session_load, session_load, SESSIONS, WRITE, ANY)                                            \
    X(backup, none, BACKUP, BETWEEN, ANY)

/* Arguments. Strings are NUL-terminated arena copies; p == NULL only for
 * the optional ones (absent). */
typedef struct {
    char unused;
} sb_store__none_args_t;
typedef struct {
    sb_str_t id; /* the user, conversation, post, document or HTTP key looked up */
} sb_store__lookup_args_t;
typedef struct {
    sb_str_t id, name, avatar; /* avatar optional */
    int64_t last_seen_ms;
} sb_store__user_upsert_args_t;
typedef struct {
    sb_str_t id;    /* optional: absent generates one */
    sb_str_t title; /* optional */
    int64_t created_at_ms;
    const char **members;
    size_t n_members;
} sb_store__conversation_create_args_t;
typedef struct {
    sb_str_t id; /* "dm:<len>:<a>:<b>" */
    const char *users[2];
    int64_t created_at_ms;
} sb_store__conversation_direct_args_t;
typedef struct {
    sb_str_t conversation, user;
} sb_store__membership_args_t;
typedef struct {
    sb_str_t id;
    sb_str_t title; /* optional: absent leaves it */
    const char **members;
    size_t n_members;
    bool set_members; /* false leaves the members */
} sb_store__conversation_update_args_t;
typedef struct {
    sb_str_t room, sender_id, content, type;
    sb_str_t key; /* idempotency key, optional */
    int64_t created_at_ms;
    const char **recipients;
    size_t n_recipients;
    sb_str_t direct_id; /* optional: the direct conversation to open first */
    const char *direct_users[2];
    sb_str_t sender_name; /* optional: stored with the message (sb_store_message_in_t) */
} sb_store__message_append_args_t;
typedef struct {
    sb_str_t room;
    int64_t before_id; /* 0: from the newest */
    int64_t limit;
} sb_store__message_history_args_t;
typedef struct {
    sb_str_t user, room;
    int64_t read_at_ms;
    const int64_t *ids;
    size_t n_ids;
} sb_store__message_mark_read_args_t;
typedef struct {
    sb_str_t user;
    int64_t after_id;
    int64_t limit;
} sb_store__user_page_args_t;
typedef struct {
    sb_str_t user;
    const int64_t *ids;
    size_t n_ids;
} sb_store__user_ids_args_t;
typedef struct {
    sb_str_t user;
    int64_t upto_id;
} sb_store__user_upto_args_t;
typedef struct {
    sb_str_t key, request, body;
    int64_t status;
} sb_store__http_key_put_args_t;
typedef struct {
    sb_str_t user, type, title, message;
    sb_str_t data; /* JSON, optional */
    int64_t created_at_ms;
} sb_store__notification_create_args_t;
typedef struct {
    sb_str_t user;
    bool unread_only;
    int64_t limit;
} sb_store__notification_list_args_t;
typedef struct {
    sb_str_t user;
    int64_t id;
} sb_store__notification_mark_read_args_t;
typedef struct {
    sb_str_t a, b; /* friend_request: a asks b */
    int64_t created_at_ms;
} sb_store__friend_pair_args_t;
typedef struct {
    sb_str_t by_user;
    int64_t request_id;
    int64_t now_ms;
} sb_store__friend_accept_args_t;
typedef struct {
    sb_str_t id, owner;
} sb_store__post_register_args_t;
typedef struct {
    sb_str_t post_id, user, type;
} sb_store__post_react_args_t;
typedef struct {
    sb_str_t post_id, user, content;
    int64_t created_at_ms;
} sb_store__post_comment_args_t;
typedef struct {
    sb_str_t doc_id, user, changes;
    int64_t created_at_ms;
} sb_store__doc_version_add_args_t;
typedef struct {
    sb_str_t pid, nsp, sid;
    sb_str_t owner; /* optional */
    sb_str_t rooms;
    int64_t disconnected_at_ms; /* 0: connected (NULL) */
} sb_store__session_save_args_t;
typedef struct {
    sb_str_t nsp;
    int64_t since_ms, now_ms;
} sb_store__session_load_args_t;

typedef enum {
#define SB_STORE__OP_ENUM(name, args, kind, mode, retry) SB_STORE__OP_##name,
    SB_STORE__OPS(SB_STORE__OP_ENUM)
#undef SB_STORE__OP_ENUM
        SB_STORE__OP__COUNT
} sb_store__op_id_t;

typedef enum { SB_STORE__READ, SB_STORE__WRITE, SB_STORE__BETWEEN } sb_store__mode_t;
typedef enum { SB_STORE__ANY, SB_STORE__ONCE } sb_store__retry_t;

typedef struct sb_store__req sb_store__req_t;

typedef struct {
    const char *name;
    sb_store__op_id_t id; /* its row's index */
    sb_store__mode_t mode;
    bool write; /* mode == WRITE: runs inside the batch transaction, in a savepoint */
    sb_store__retry_t retry;
    sb_store__kind_t kind; /* which callback and result member */
} sb_store__op_t;

/* The rows, in SB_STORE__OPS order (store_request.c). */
extern const sb_store__op_t sb_store__ops[SB_STORE__OP__COUNT];

/* Runs r's operation on the store thread; returns an SB_ code (store_ops.c,
 * the only file that knows every sb_store__exec_<name>). */
int sb_store__run_op(sb_store_t *st, sb_store__req_t *r);

#define SB_STORE__EXEC_DECL(name, args, kind, mode, retry)                                         \
    int sb_store__exec_##name(sb_store_t *st, sb_store__req_t *r);
SB_STORE__OPS(SB_STORE__EXEC_DECL)
#undef SB_STORE__EXEC_DECL

/* A request's result, one member per result kind. */
typedef union {
#define SB_STORE__RES_MEMBER(kind, cb_t, res_t, how) res_t kind;
    SB_STORE__KINDS(SB_STORE__RES_MEMBER)
#undef SB_STORE__RES_MEMBER
} sb_store__res_t;

struct sb_store__req {
    /* next, op and rc first, in one cache line: a batch of a thousand is
     * walked several times (its results, its failures) after it has left
     * the cache. */
    sb_store__req_t *next;
    const sb_store__op_t *op;
    int rc;
    sb_store__arena_t arena;
    size_t charge;        /* bytes counted against max_queue_bytes until delivery */
    int64_t submitted_ms; /* CLOCK_MONOTONIC, for the PostgreSQL store's waits */
    /* Wall clock at submit: the "now" an exec binds (an idempotency key's
     * age), the same in every run of the request (PostgreSQL replays a run
     * and compares what it binds). */
    int64_t submitted_wall_ms;
    void *ud;
    union {
#define SB_STORE__CB_MEMBER(kind, cb_t, res_t, how) cb_t kind;
        SB_STORE__KINDS(SB_STORE__CB_MEMBER)
#undef SB_STORE__CB_MEMBER
    } cb;
    union {
#define SB_STORE__ARGS_MEMBER(name, args, kind, mode, retry) sb_store__##args##_args_t name;
        SB_STORE__OPS(SB_STORE__ARGS_MEMBER)
#undef SB_STORE__ARGS_MEMBER
    } args;
    sb_store__res_t res;
    /* PostgreSQL: when the request runs again after a COMMIT whose outcome
     * stayed unknown, the result of that run (NULL: it failed, or no such
     * run). exec functions whose second run would answer differently when
     * the first committed read it (store_pg.c). */
    const sb_store__res_t *earlier;
};

/* True when r may run again after a COMMIT whose outcome stayed unknown: its
 * op's retry is ANY, or it is a message_append with an idempotency key (the
 * second run finds the key and returns the message the first one stored). */
bool sb_store__may_run_again(const sb_store__req_t *r);

/* Allocates a request for op (callback left to the caller), or NULL. */
sb_store__req_t *sb_store__req_new(sb_store__op_id_t op, void *ud);

/* sb_store__new_<name>(cb, ud): the request with its typed callback. */
#define SB_STORE__NEW_FN(name, args, kind, mode, retry)                                            \
    static inline sb_store__req_t *sb_store__new_##name(sb_store__cb_##kind##_t cb, void *ud) {    \
        sb_store__req_t *r = sb_store__req_new(SB_STORE__OP_##name, ud);                           \
        if (r)                                                                                     \
            r->cb.kind = cb;                                                                       \
        return r;                                                                                  \
    }
SB_STORE__OPS(SB_STORE__NEW_FN)
#undef SB_STORE__NEW_FN

/* ---- prepared statements, cached per connection ------------------------------ */

/* Pieces of PostgreSQL's single-statement forms below. $1..$6 of a message
 * append: room, sender, content, type, created_at_ms, the recipients as a
 * text[] literal; `name` the parameter of its sender name (NULL: none). Every append runs after the appends' lock, a statement
 * of its own (sb_store__lock_appends), so the snapshot of the append sees
 * every append committed before it. */
#define SB_STORE__PG_MSG_ROW(name)                                                                 \
    "INSERT INTO messages(room, sender_id, content, type, created_at_ms, sender_name) "            \
    "SELECT $1::text, $2::text, $3::text, $4::text, $5::bigint, " name "::text"
#define SB_STORE__PG_DELIVERIES                                                                    \
    "d AS (INSERT INTO message_deliveries(message_id, user_id) "                                   \
    "SELECT m.id, u FROM m, unnest($6::text[]) AS u ON CONFLICT DO NOTHING)"
/* Each recipient's previous message (0: none) as a bigint[] in $6's order:
 * the statement's snapshot does not see its own deliveries (d). Pending or
 * not: the newest key of the user in the primary key is one step. */
#define SB_STORE__PG_PREVS                                                                         \
    "ARRAY(SELECT coalesce((SELECT max(x.message_id) FROM message_deliveries x "                   \
    "WHERE x.user_id = t.u), 0) FROM unnest($6::text[]) WITH ORDINALITY AS t(u, i) "               \
    "ORDER BY t.i)::text"
/* A direct conversation (id, created_at_ms) and, only when this statement
 * created it, its two members (a text[] literal). */
#define SB_STORE__PG_DIRECT(id, at)                                                                \
    "c AS (INSERT INTO conversations(id, title, is_direct, created_at_ms) "                        \
    "VALUES(" id "::text, NULL, 1, " at "::bigint) ON CONFLICT(id) DO NOTHING RETURNING id)"
#define SB_STORE__PG_DIRECT_MEMBERS(users)                                                         \
    "INSERT INTO conversation_members(conversation_id, user_id) "                                  \
    "SELECT c.id, u FROM c, unnest(" users "::text[]) AS u ON CONFLICT DO NOTHING"
/* Both as CTEs: c (the new conversation's id) and cm (its members). */
#define SB_STORE__PG_DIRECT_CTE(id, at, users)                                                     \
    SB_STORE__PG_DIRECT(id, at) ", cm AS (" SB_STORE__PG_DIRECT_MEMBERS(users) ")"
/* The message, its deliveries; the message's id, the recipients' previous ones. */
#define SB_STORE__PG_APPEND(name)                                                                  \
    "m AS (" SB_STORE__PG_MSG_ROW(name) " RETURNING id), " SB_STORE__PG_DELIVERIES                 \
                                        " SELECT id, " SB_STORE__PG_PREVS " FROM m"

/* A run of plain appends as one statement (store_groups.c): $1..$6 and $11
 * one element per message (room, sender, content, type, created_at_ms, the
 * direct conversation to open or NULL, the sender name or NULL), $7/$8/$12
 * one per recipient (its message's position from 1, the user, its newest
 * delivery as the member knew it or NULL), $9/$10 one per member of a direct
 * conversation (conversation, user), $13 the id the run's first message
 * takes if nobody appended since the member's last batch (or NULL). The ids
 * are taken from the sequence first and handed out in the messages' order;
 * a recipient's previous message is its latest earlier one in the run, else
 * what the member knew when $13 holds (store_pg_newest.c), else the newest
 * in the snapshot (taken after the appends' lock). The deliveries are new rows
 * (their messages are): no conflict to look for. One row per message, in
 * order: its id, the recipients' previous ids. */
#define SB_STORE__PG_APPEND_GROUP                                                                  \
    "WITH t AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "             \
    "$5::bigint[], $6::text[], $11::text[]) "                                                      \
    "WITH ORDINALITY AS t(room, sender, content, type, at, direct, name, ord)), "                  \
    "s AS MATERIALIZED (SELECT nextval((SELECT pg_get_serial_sequence('messages', "                \
    "'id'))::regclass) "                                                                           \
    "AS id FROM t), "                                                                              \
    "i AS (SELECT t.*, s.id FROM t JOIN (SELECT id, row_number() OVER (ORDER BY id) AS ord "       \
    "FROM s) s USING (ord)), "                                                                     \
    "c AS (INSERT INTO conversations(id, title, is_direct, created_at_ms) "                        \
    "SELECT DISTINCT ON (direct) direct, NULL, 1, at FROM t WHERE direct IS NOT NULL "             \
    "ORDER BY direct, ord ON CONFLICT(id) DO NOTHING RETURNING id), "                              \
    "cm AS (INSERT INTO conversation_members(conversation_id, user_id) "                           \
    "SELECT DISTINCT c.id, x.u FROM c JOIN unnest($9::text[], $10::text[]) AS x(conv, u) "         \
    "ON x.conv = c.id ON CONFLICT DO NOTHING), "                                                   \
    "m AS (INSERT INTO messages(id, room, sender_id, content, type, created_at_ms, sender_name) "  \
    "OVERRIDING SYSTEM VALUE SELECT id, room, sender, content, type, at, name FROM i "             \
    "ORDER BY id), "                                                                               \
    "r AS (SELECT i.id, x.u, x.k, i.ord, x.known FROM unnest($7::bigint[], $8::text[], "           \
    "$12::bigint[]) WITH ORDINALITY AS x(ord, u, known, k) JOIN i ON i.ord = x.ord), "             \
    "d AS (INSERT INTO message_deliveries(message_id, user_id) SELECT DISTINCT id, u FROM r), "    \
    "p AS (SELECT ord, array_agg(prev ORDER BY k) AS prevs FROM (SELECT r.ord, r.k, "              \
    "coalesce(max(r.id) OVER (PARTITION BY r.u ORDER BY r.id "                                     \
    "RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), "                                         \
    "CASE WHEN (SELECT min(id) FROM s) = $13::bigint THEN r.known END, "                           \
    "(SELECT max(x.message_id) FROM message_deliveries x WHERE x.user_id = r.u), 0) AS prev "      \
    "FROM r) q GROUP BY ord) "                                                                     \
    "SELECT i.id, coalesce(p.prevs, '{}')::text FROM i LEFT JOIN p USING (ord) ORDER BY i.ord"

/* A user's new delivery floor as a row (user u, the floor), from the
 * current one f.upto: just below the first delivery after it still pending,
 * else the user's newest. Sound when read in one snapshot: a confirmed
 * delivery never turns pending again, and a new one has a greater id than
 * any committed before it (appends commit in id order, under the appends'
 * lock). */
#define SB_STORE__FLOOR_ROW(u)                                                                     \
    "SELECT " u ", coalesce((SELECT d.message_id - 1 FROM message_deliveries d "                   \
    "WHERE d.user_id = " u " AND d.delivered = 0 AND d.message_id > f.upto "                       \
    "ORDER BY d.message_id LIMIT 1), (SELECT max(d.message_id) FROM message_deliveries d "         \
    "WHERE d.user_id = " u "), 0) FROM (SELECT coalesce((SELECT upto "                             \
    "FROM message_delivery_floors WHERE user_id = " u "), 0) AS upto) f"

/* X(name, SQLite text, PostgreSQL text): every statement the operations
 * run. Parameters are always bound, never formatted into the text. A NULL
 * PostgreSQL text is the SQLite one with ?N read as $N; inserts whose id is
 * read back end in RETURNING id there.
 *
 * PostgreSQL runs a batch's statements pipelined with guessed results
 * (store_sql_pg.c): an operation whose later statements depend on an
 * earlier one's result (a new id, "was it created") would make the batch
 * careful. So there an operation is one statement wherever it can be, and
 * these rows are PostgreSQL's only (never run on SQLite, whose text only
 * numbers the parameters): MSG_APPEND_ONE (message_append without a key:
 * the message, its deliveries), MSG_APPEND_DIRECT (the same opening the
 * direct conversation first, $7 its id, $8 its two members),
 * CONV_OPEN_DIRECT and MSG_APPEND_KEYED (the key is looked up in the
 * snapshot taken after the appends' lock was granted), MSG_APPEND_GROUP,
 * MSG_DELIVERED_GROUP and NOTIF_DELIVERED_GROUP (a run of a batch's
 * requests as one statement, store_groups.c), and PROBE_WRITE (/health's probe of a store whose writes
 * failed). MSG_READ, MSG_DELIVERED and NOTIF_DELIVERED take a request's
 * whole id list there (a bigint[] literal). */
#define SB_STORE__SQL(X)                                                                           \
    X(BEGIN, "BEGIN IMMEDIATE", "BEGIN")                                                           \
    X(COMMIT, "COMMIT", NULL)                                                                      \
    X(ROLLBACK, "ROLLBACK", NULL)                                                                  \
    X(SAVEPOINT, "SAVEPOINT req", NULL)                                                            \
    X(RELEASE, "RELEASE req", NULL)                                                                \
    X(ROLLBACK_TO, "ROLLBACK TO req", NULL)                                                        \
    X(PROBE_WRITE, "SELECT 1",                                                                     \
      "UPDATE switchboard_schema SET name = name "                                                 \
      "WHERE version = (SELECT max(version) FROM switchboard_schema)")                             \
    X(KEY_LOCK, "SELECT ?1, ?2, ?3",                                                               \
      "SELECT pg_advisory_xact_lock($1::int, hashtext(least($2::text, $3::text) || chr(10) || "    \
      "greatest($2::text, $3::text)))")                                                            \
    X(USER_UPSERT,                                                                                 \
      "INSERT INTO users(id, name, avatar, last_seen_ms) VALUES(?1, ?2, ?3, ?4) "                  \
      "ON CONFLICT(id) DO UPDATE SET name = excluded.name, avatar = excluded.avatar, "             \
      "last_seen_ms = excluded.last_seen_ms",                                                      \
      NULL)                                                                                        \
    X(USER_GET, "SELECT id, name, avatar, last_seen_ms FROM users WHERE id = ?1", NULL)            \
    X(CONV_INSERT,                                                                                 \
      "INSERT INTO conversations(id, title, is_direct, created_at_ms) VALUES(?1, ?2, ?3, ?4) "     \
      "ON CONFLICT(id) DO NOTHING",                                                                \
      NULL)                                                                                        \
    X(CONV_OPEN_DIRECT, "SELECT ?1, ?2, ?3",                                                       \
      "WITH " SB_STORE__PG_DIRECT("$1", "$2") " " SB_STORE__PG_DIRECT_MEMBERS("$3"))               \
    X(CONV_EXISTS, "SELECT 1 FROM conversations WHERE id = ?1", NULL)                              \
    X(CONV_SET_TITLE, "UPDATE conversations SET title = ?2 WHERE id = ?1", NULL)                   \
    X(CONV_DELETE, "DELETE FROM conversations WHERE id = ?1", NULL)                                \
    X(MEMBER_CLEAR, "DELETE FROM conversation_members WHERE conversation_id = ?1", NULL)           \
    X(MEMBER_INSERT,                                                                               \
      "INSERT INTO conversation_members(conversation_id, user_id) VALUES(?1, ?2) "                 \
      "ON CONFLICT DO NOTHING",                                                                    \
      NULL)                                                                                        \
    X(MEMBER_LIST,                                                                                 \
      "SELECT user_id FROM conversation_members WHERE conversation_id = ?1 ORDER BY user_id",      \
      NULL)                                                                                        \
    X(MEMBER_CHECK,                                                                                \
      "SELECT 1 FROM conversation_members WHERE conversation_id = ?1 AND user_id = ?2", NULL)      \
    X(MSG_INSERT,                                                                                  \
      "INSERT INTO messages(room, sender_id, content, type, created_at_ms, sender_name) "          \
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",                                                            \
      "INSERT INTO messages(room, sender_id, content, type, created_at_ms, sender_name) "          \
      "VALUES($1, $2, $3, $4, $5, $6) RETURNING id")                                               \
    X(MSG_APPEND_ONE, "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7", "WITH " SB_STORE__PG_APPEND("$7"))      \
    X(MSG_APPEND_DIRECT, "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9",                              \
      "WITH " SB_STORE__PG_DIRECT_CTE("$7", "$5", "$8") ", " SB_STORE__PG_APPEND("$9"))            \
    X(MSG_APPEND_KEYED, "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10",                          \
      "WITH k AS (SELECT m.id, m.room, m.sender_id, m.content, m.type, m.created_at_ms, "          \
      "m.sender_name FROM message_keys mk JOIN messages m ON m.id = mk.message_id "                \
      "WHERE mk.sender_id = $2::text AND mk.key = $7::text AND mk.created_at_ms >= $8::bigint), "  \
      "m AS (" SB_STORE__PG_MSG_ROW(                                                               \
          "$10") " WHERE NOT EXISTS (SELECT 1 FROM k) "                                            \
                 "RETURNING id, room, sender_id, content, type, created_at_ms, sender_name), "     \
                 "p AS (INSERT INTO message_keys(sender_id, key, message_id, created_at_ms) "      \
                 "SELECT $2::text, $7::text, id, $9::bigint FROM m ON CONFLICT(sender_id, key) "   \
                 "DO UPDATE "                                                                      \
                 "SET message_id = excluded.message_id, created_at_ms = "                          \
                 "excluded.created_at_ms), " SB_STORE__PG_DELIVERIES                               \
                 " SELECT *, 0, " SB_STORE__PG_PREVS " FROM m UNION ALL SELECT *, 1, NULL FROM k") \
    X(MSG_APPEND_GROUP, "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13",           \
      SB_STORE__PG_APPEND_GROUP)                                                                   \
    X(MSG_DELIVERED_GROUP, "SELECT ?1, ?2",                                                        \
      "UPDATE message_deliveries d SET delivered = 1 FROM (SELECT DISTINCT u, id "                 \
      "FROM unnest($1::text[], $2::bigint[]) AS x(u, id)) x "                                      \
      "WHERE d.user_id = x.u AND d.message_id = x.id")                                             \
    X(NOTIF_DELIVERED_GROUP, "SELECT ?1, ?2",                                                      \
      "UPDATE notifications n SET delivered = 1 FROM (SELECT DISTINCT u, id "                      \
      "FROM unnest($1::text[], $2::bigint[]) AS x(u, id)) x "                                      \
      "WHERE n.user_id = x.u AND n.id = x.id")                                                     \
    X(DELIVERY_INSERT,                                                                             \
      "INSERT INTO message_deliveries(message_id, user_id) VALUES(?1, ?2) ON CONFLICT DO NOTHING", \
      NULL)                                                                                        \
    X(MSG_HISTORY,                                                                                 \
      "SELECT m.id, m.room, m.sender_id, m.content, m.type, m.created_at_ms, "                     \
      "coalesce(m.sender_name, u.name) "                                                           \
      "FROM messages m LEFT JOIN users u ON u.id = m.sender_id "                                   \
      "WHERE m.room = ?1 AND m.id < ?2 ORDER BY m.id DESC LIMIT ?3",                               \
      NULL)                                                                                        \
    X(MSG_READ,                                                                                    \
      "INSERT INTO message_reads(message_id, user_id, read_at_ms) "                                \
      "SELECT id, ?2, ?4 FROM messages WHERE id = ?1 AND room = ?3 AND sender_id <> ?2 "           \
      "ON CONFLICT DO NOTHING",                                                                    \
      "INSERT INTO message_reads(message_id, user_id, read_at_ms) "                                \
      "SELECT id, $2::text, $4::bigint FROM messages WHERE id = ANY($1::bigint[]) "                \
      "AND room = $3::text AND sender_id <> $2::text ON CONFLICT DO NOTHING RETURNING message_id") \
    X(MSG_NEWEST,                                                                                  \
      "SELECT coalesce(max(message_id), 0) FROM message_deliveries WHERE user_id = ?1", NULL)      \
    X(MSG_UNDELIVERED,                                                                             \
      "SELECT m.id, m.room, m.sender_id, m.content, m.type, m.created_at_ms, "                     \
      "coalesce(m.sender_name, u.name), k.key "                                                    \
      "FROM message_deliveries d JOIN messages m ON m.id = d.message_id "                          \
      "LEFT JOIN users u ON u.id = m.sender_id "                                                   \
      "LEFT JOIN message_keys k ON k.message_id = m.id AND k.sender_id = m.sender_id "             \
      "WHERE d.user_id = ?1 AND d.delivered = 0 AND d.message_id > max(?3, coalesce((SELECT "      \
      "f.upto FROM message_delivery_floors f WHERE f.user_id = ?1), 0)) "                          \
      "ORDER BY d.message_id LIMIT ?2",                                                            \
      "SELECT m.id, m.room, m.sender_id, m.content, m.type, m.created_at_ms, "                     \
      "coalesce(m.sender_name, u.name), k.key "                                                    \
      "FROM message_deliveries d JOIN messages m ON m.id = d.message_id "                          \
      "LEFT JOIN users u ON u.id = m.sender_id "                                                   \
      "LEFT JOIN message_keys k ON k.message_id = m.id AND k.sender_id = m.sender_id "             \
      "WHERE d.user_id = $1 AND d.delivered = 0 AND d.message_id > greatest($3::bigint, "          \
      "coalesce((SELECT f.upto FROM message_delivery_floors f WHERE f.user_id = $1), 0)) "         \
      "ORDER BY d.message_id LIMIT $2")                                                            \
    X(MSG_DELIVERED,                                                                               \
      "UPDATE message_deliveries SET delivered = 1 WHERE user_id = ?1 AND message_id = ?2",        \
      "UPDATE message_deliveries SET delivered = 1 "                                               \
      "WHERE user_id = $1 AND message_id = ANY($2::bigint[])")                                     \
    X(MSG_DELIVERED_UPTO,                                                                          \
      "UPDATE message_deliveries SET delivered = 1 "                                               \
      "WHERE user_id = ?1 AND delivered = 0 AND message_id <= ?2",                                 \
      NULL)                                                                                        \
    X(MSG_FLOOR_ADVANCE,                                                                           \
      "INSERT INTO message_delivery_floors(user_id, upto) " SB_STORE__FLOOR_ROW(                   \
          "?1") " WHERE true ON CONFLICT(user_id) DO UPDATE SET upto = max(upto, excluded.upto)",  \
      "INSERT INTO message_delivery_floors AS o(user_id, upto) " SB_STORE__FLOOR_ROW(              \
          "$1") " ON CONFLICT(user_id) DO UPDATE SET upto = greatest(o.upto, excluded.upto)")      \
    X(NOTIF_INSERT,                                                                                \
      "INSERT INTO notifications(user_id, type, title, message, data, created_at_ms) "             \
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",                                                            \
      "INSERT INTO notifications AS t(user_id, type, title, message, data, created_at_ms) "        \
      "VALUES($1, $2, $3, $4, $5, $6) RETURNING id, (SELECT coalesce(max(p.id), 0) "               \
      "FROM notifications p WHERE p.user_id = t.user_id AND p.id < t.id)")                         \
    X(NOTIF_LIST,                                                                                  \
      "SELECT id, user_id, type, title, message, data, is_read, created_at_ms "                    \
      "FROM notifications WHERE user_id = ?1 AND (?2 = 0 OR is_read = 0) "                         \
      "ORDER BY id DESC LIMIT ?3",                                                                 \
      "SELECT id, user_id, type, title, message, data, is_read, created_at_ms "                    \
      "FROM notifications WHERE user_id = $1 AND ($2::bigint = 0 OR is_read = 0) "                 \
      "ORDER BY id DESC LIMIT $3")                                                                 \
    X(NOTIF_READ, "UPDATE notifications SET is_read = 1 WHERE id = ?1 AND user_id = ?2", NULL)     \
    X(NOTIF_NEWEST, "SELECT coalesce(max(id), 0) FROM notifications WHERE user_id = ?1", NULL)     \
    X(NOTIF_UNDELIVERED,                                                                           \
      "SELECT id, user_id, type, title, message, data, is_read, created_at_ms "                    \
      "FROM notifications WHERE user_id = ?1 AND delivered = 0 AND id > ?3 ORDER BY id LIMIT ?2",  \
      NULL)                                                                                        \
    X(NOTIF_DELIVERED, "UPDATE notifications SET delivered = 1 WHERE user_id = ?1 AND id = ?2",    \
      "UPDATE notifications SET delivered = 1 WHERE user_id = $1 AND id = ANY($2::bigint[])")      \
    X(NOTIF_DELIVERED_UPTO,                                                                        \
      "UPDATE notifications SET delivered = 1 "                                                    \
      "WHERE user_id = ?1 AND delivered = 0 AND id <= ?2",                                         \
      NULL)                                                                                        \
    X(FRIEND_CHECK, "SELECT 1 FROM friendships WHERE user_id = ?1 AND friend_id = ?2", NULL)       \
    X(FRIEND_PENDING,                                                                              \
      "SELECT 1 FROM friend_requests WHERE status = 'pending' AND "                                \
      "((from_id = ?1 AND to_id = ?2) OR (from_id = ?2 AND to_id = ?1))",                          \
      NULL)                                                                                        \
    X(FRIEND_REQ_INSERT,                                                                           \
      "INSERT INTO friend_requests(from_id, to_id, status, created_at_ms) "                        \
      "VALUES(?1, ?2, 'pending', ?3)",                                                             \
      "INSERT INTO friend_requests(from_id, to_id, status, created_at_ms) "                        \
      "VALUES($1, $2, 'pending', $3) RETURNING id")                                                \
    X(FRIEND_ACCEPT,                                                                               \
      "UPDATE friend_requests SET status = 'accepted' "                                            \
      "WHERE id = ?1 AND to_id = ?2 AND status = 'pending'",                                       \
      NULL)                                                                                        \
    X(FRIEND_REQ_GET,                                                                              \
      "SELECT id, from_id, to_id, status, created_at_ms FROM friend_requests WHERE id = ?1", NULL) \
    X(FRIEND_INSERT,                                                                               \
      "INSERT INTO friendships(user_id, friend_id, created_at_ms) VALUES(?1, ?2, ?3) "             \
      "ON CONFLICT DO NOTHING",                                                                    \
      NULL)                                                                                        \
    X(FRIEND_LIST, "SELECT friend_id FROM friendships WHERE user_id = ?1 ORDER BY friend_id",      \
      NULL)                                                                                        \
    X(POST_UPSERT,                                                                                 \
      "INSERT INTO posts(id, owner_id) VALUES(?1, ?2) "                                            \
      "ON CONFLICT(id) DO UPDATE SET owner_id = excluded.owner_id",                                \
      NULL)                                                                                        \
    X(POST_GET, "SELECT id, owner_id FROM posts WHERE id = ?1", NULL)                              \
    X(REACT_UPSERT,                                                                                \
      "INSERT INTO post_reactions(post_id, user_id, type) VALUES(?1, ?2, ?3) "                     \
      "ON CONFLICT(post_id, user_id) DO UPDATE SET type = excluded.type",                          \
      NULL)                                                                                        \
    X(REACT_COUNTS,                                                                                \
      "SELECT type, count(*) FROM post_reactions WHERE post_id = ?1 GROUP BY type ORDER BY type",  \
      NULL)                                                                                        \
    X(COMMENT_INSERT,                                                                              \
      "INSERT INTO post_comments(post_id, user_id, content, created_at_ms) "                       \
      "VALUES(?1, ?2, ?3, ?4)",                                                                    \
      "INSERT INTO post_comments(post_id, user_id, content, created_at_ms) "                       \
      "VALUES($1, $2, $3, $4) RETURNING id")                                                       \
    X(DOC_ADD,                                                                                     \
      "INSERT INTO doc_versions(doc_id, version, user_id, changes, created_at_ms) "                \
      "SELECT ?1, coalesce(max(version), 0) + 1, ?2, ?3, ?4 FROM doc_versions WHERE doc_id = ?1 "  \
      "RETURNING version",                                                                         \
      "INSERT INTO doc_versions(doc_id, version, user_id, changes, created_at_ms) "                \
      "SELECT $1::text, coalesce(max(version), 0) + 1, $2::text, $3::json, $4::bigint "            \
      "FROM doc_versions WHERE doc_id = $1::text RETURNING version")                               \
    X(DOC_LATEST,                                                                                  \
      "SELECT doc_id, version, user_id, changes, created_at_ms FROM doc_versions "                 \
      "WHERE doc_id = ?1 ORDER BY version DESC LIMIT 1",                                           \
      NULL)                                                                                        \
    X(MSG_KEY_GET,                                                                                 \
      "SELECT m.id, m.room, m.sender_id, m.content, m.type, m.created_at_ms, m.sender_name "       \
      "FROM message_keys k JOIN messages m ON m.id = k.message_id "                                \
      "WHERE k.sender_id = ?1 AND k.key = ?2 AND k.created_at_ms >= ?3",                           \
      NULL)                                                                                        \
    X(MSG_KEY_PUT,                                                                                 \
      "INSERT OR REPLACE INTO message_keys(sender_id, key, message_id, created_at_ms) "            \
      "VALUES(?1, ?2, ?3, ?4)",                                                                    \
      "INSERT INTO message_keys(sender_id, key, message_id, created_at_ms) "                       \
      "VALUES($1, $2, $3, $4) ON CONFLICT(sender_id, key) DO UPDATE SET "                          \
      "message_id = excluded.message_id, created_at_ms = excluded.created_at_ms")                  \
    X(MSG_KEYS_PURGE, "DELETE FROM message_keys WHERE created_at_ms < ?1", NULL)                   \
    X(HTTP_KEY_GET,                                                                                \
      "SELECT request, status, body FROM http_keys WHERE key = ?1 AND created_at_ms >= ?2", NULL)  \
    X(HTTP_KEY_PUT,                                                                                \
      "INSERT OR REPLACE INTO http_keys(key, request, status, body, created_at_ms) "               \
      "VALUES(?1, ?2, ?3, ?4, ?5)",                                                                \
      "INSERT INTO http_keys(key, request, status, body, created_at_ms) "                          \
      "VALUES($1, $2, $3, $4, $5) ON CONFLICT(key) DO UPDATE SET request = excluded.request, "     \
      "status = excluded.status, body = excluded.body, created_at_ms = excluded.created_at_ms")    \
    X(HTTP_KEYS_PURGE, "DELETE FROM http_keys WHERE created_at_ms < ?1", NULL)                     \
    X(SESSION_SAVE,                                                                                \
      "INSERT INTO sio_sessions(pid, nsp, sid, owner, rooms, disconnected_at_ms) "                 \
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(pid) DO UPDATE SET "                             \
      "sid = excluded.sid, owner = excluded.owner, rooms = excluded.rooms, "                       \
      "disconnected_at_ms = excluded.disconnected_at_ms",                                          \
      NULL)                                                                                        \
    X(SESSION_CRASHED,                                                                             \
      "UPDATE sio_sessions SET disconnected_at_ms = ?1 "                                           \
      "WHERE disconnected_at_ms IS NULL",                                                          \
      NULL)                                                                                        \
    X(SESSION_EXPIRE, "DELETE FROM sio_sessions WHERE disconnected_at_ms < ?1", NULL)              \
    X(SESSION_LIST,                                                                                \
      "SELECT pid, sid, owner, rooms, disconnected_at_ms FROM sio_sessions "                       \
      "WHERE nsp = ?1 ORDER BY disconnected_at_ms, pid",                                           \
      NULL)

typedef enum {
#define SB_STORE__SQL_ENUM(name, sql, pg) SB_SQL_##name,
    SB_STORE__SQL(SB_STORE__SQL_ENUM)
#undef SB_STORE__SQL_ENUM
        SB_SQL__COUNT
} sb_store__sql_t;

/* ---- statements: what the operations run, on either backend -------------------------
 *
 * The operations' logic (store_chat.c, store_social.c, ...) is written once
 * against this interface; store_sql_lite.c implements it with SQLite. A
 * statement is bound, then stepped: the first step runs it, each step makes
 * the next row current. Bound text is not copied: it must live until the
 * statement is taken again (arguments and results live in the request's
 * arena, which outlives its batch). */

#define SB_STORE__ROW 1  /* sb_store__step(): a row is current */
#define SB_STORE__DONE 0 /* sb_store__step(): no (more) rows */

typedef struct sb_store__q sb_store__q_t;

typedef struct {
    void (*bind_text)(sb_store__q_t *q, int idx, const char *p, size_t n); /* p NULL: SQL NULL */
    void (*bind_int)(sb_store__q_t *q, int idx, int64_t v);
    int (*step)(sb_store__q_t *q);   /* SB_STORE__ROW, SB_STORE__DONE or an SB_E code */
    void (*reset)(sb_store__q_t *q); /* the next step runs the statement again */
    bool (*is_null)(sb_store__q_t *q, int col);
    int64_t (*col_int)(sb_store__q_t *q, int col);
    const char *(*col_text)(sb_store__q_t *q, int col, size_t *n);
    int64_t (*changes)(sb_store__q_t *q); /* rows changed by the last run */
    int64_t (*last_id)(sb_store__q_t *q); /* id of the row the last run inserted */
} sb_store__q_ops_t;

struct sb_store__q {
    const sb_store__q_ops_t *ops;
};

static inline void sb_store__bind_str(sb_store__q_t *q, int idx, sb_str_t s) {
    q->ops->bind_text(q, idx, s.p, s.n);
}
static inline void sb_store__bind_cstr(sb_store__q_t *q, int idx, const char *p) {
    q->ops->bind_text(q, idx, p, p ? strlen(p) : 0);
}
static inline void sb_store__bind_int(sb_store__q_t *q, int idx, int64_t v) {
    q->ops->bind_int(q, idx, v);
}
static inline int sb_store__step(sb_store__q_t *q) { return q->ops->step(q); }
static inline bool sb_store__col_null(sb_store__q_t *q, int col) { return q->ops->is_null(q, col); }
static inline int64_t sb_store__col_int(sb_store__q_t *q, int col) {
    return q->ops->col_int(q, col);
}
static inline int64_t sb_store__changes(sb_store__q_t *q) { return q->ops->changes(q); }
static inline int64_t sb_store__last_id(sb_store__q_t *q) { return q->ops->last_id(q); }

/* ---- the store ----------------------------------------------------------------- */

/* An SQLite statement behind the statement interface (store_sql_lite.c). */
typedef struct {
    sb_store__q_t base;
    sqlite3_stmt *s; /* NULL until prepared */
    sb_store_t *st;
} sb_store__lite_q_t;

/* What the store knows of its files, to notice them being deleted, replaced
 * or truncated under it (store_health.c). */
typedef struct {
    char db_path[4096 + 32];
    char wal_path[4096 + 32];
    uint64_t db_dev, db_ino, wal_dev, wal_ino; /* wal_ino 0: no WAL file seen yet */
    int64_t db_size, wal_size;                 /* sizes seen: neither ever shrinks */
} sb_store__watch_t;

typedef struct sb_store__pg sb_store__pg_t;           /* store_pg_internal.h */
typedef struct sb_store__pg_pool sb_store__pg_pool_t; /* store_pg_internal.h */

typedef struct {
    uint64_t commits, commit_failures, failed;
    int64_t txn_start_us; /* when the open write transaction began */
} sb_store__batch_stats_t;

/* Commit latency as the store thread measures it; copied into the stats
 * with each batch (the sb_store_stats_t fields of the same names). */
typedef struct {
    uint64_t last, avg, max, sum;
    uint64_t buckets[SB_STORE_COMMIT_NBUCKETS + 1];
} sb_store__commit_lat_t;

/* store_batch.c. Monotonic microseconds, for commit latency. */
int64_t sb_store__now_us(void);
/* The transaction begun at bs->txn_start_us has just committed: counts it
 * and records its duration. Store thread only. */
void sb_store__commit_done(sb_store_t *st, sb_store__batch_stats_t *bs);

/* A store thread and the requests routed to it (store.c). SQLite has one;
 * PostgreSQL one per connection of its pool (--database-pool-size), each
 * thread owning its connection: see store_route.c for which requests go
 * where, and store_pg.c for why threads rather than one thread
 * multiplexing the connections. */
typedef struct {
    sb_store_t *st;
    size_t index;                           /* in st->shards; the PostgreSQL pool member */
    sb_store__req_t *pend_head, *pend_tail; /* under st->mu */
    size_t pend_n;                          /* under st->mu: the requests in that list */
    pthread_cond_t work_cv;                 /* its thread waits for requests */
    bool busy;                              /* under st->mu: its thread holds a batch */
    bool started;
    pthread_t thread;
} sb_store__shard_t;

struct sb_store {
    sb_loop_t *loop;
    sb_store__pg_pool_t *pg; /* the PostgreSQL backend (its pool); NULL: SQLite */
    sb_store_config_t cfg;   /* defaults filled in; data_dir points at dir[] */
    char dir[4096];
    char identity[33];                       /* store_identity's id, read at open; fixed after */
    sqlite3 *db;                             /* store thread only, after open */
    sb_store__lite_q_t stmts[SB_SQL__COUNT]; /* store thread only; prepared lazily */
    sb_store__shard_t *shards;               /* n_shards of them, fixed after open */
    size_t n_shards;

    pthread_mutex_t mu;     /* guards everything down to `stats`, and the shards' queues */
    pthread_cond_t idle_cv; /* flush_sync waits for empty, idle threads */
    sb_store__req_t *done_head, *done_tail;
    bool closing; /* also read unlocked by the loop thread, its only writer */
    sb_store_stats_t stats;
    sb_store_health_t health; /* written by the store thread */

    int efd; /* eventfd: store thread -> loop "completions ready" */
    sb_io_t io;

    /* Store thread only (and open()); on PostgreSQL, whose pool has several
     * store threads, log_limit is used under mu and commit_lat is written
     * under mu (store_batch.c). */
    sb_store__watch_t watch;
    char last_error[160]; /* the last SQLite error seen, for health reasons */
    int64_t last_write_failure_ms;
    int64_t last_keys_purge_ms;
    sb_log_limiter_t log_limit;
    sb_store__commit_lat_t commit_lat;

    /* Loop thread only. */
    size_t outstanding;
    size_t outstanding_bytes;
};

/* ---- store_route.c: which store thread runs a request ------------------------- */

/* The shard of r: requests with the same key (the conversation, user,
 * post, document, pair of users, idempotency key or session they act on)
 * always go to the same one, so they run in the order submitted. */
size_t sb_store__route(const sb_store_t *st, const sb_store__req_t *r);

/* ---- store_groups.c: runs of requests as one statement (PostgreSQL) ---------- */

/* The kind of run r can join (a plain message append, a message's or a
 * notification's delivery confirmation), or 0. Requests of these kinds
 * touch disjoint rows, so a run may pass over requests of the other kinds,
 * never over anything else. */
int sb_store__group_kind(const sb_store__req_t *r);
#define SB_STORE__GROUP_KINDS 4 /* sb_store__group_kind() < this */
/* Runs the n requests of one kind as one statement in the batch's
 * transaction: sets each one's result; returns the rc of all of them. */
int sb_store__run_group(sb_store_t *st, sb_store__req_t *const *g, size_t n);
/* PostgreSQL, the calling thread's member (store_pg_newest.c): a user's
 * newest delivery as its committed appends left it (-1: not known), and the
 * id the next append takes if nobody else appended since (0: not known). */
int64_t sb_store__newest_known(sb_store_t *st, const char *user);
int64_t sb_store__newest_next_id(sb_store_t *st);

/* ---- store_request.c: requests ----------------------------------------------- */

void sb_store__req_free(sb_store__req_t *r);
/* Arena allocation, 16-byte aligned; NULL on out of memory. */
void *sb_store__alloc(sb_store__req_t *r, size_t n);
/* Copies s into *dst with a NUL. An absent slice (p == NULL) stays absent if
 * `optional`, becomes "" otherwise. Returns false on out of memory. */
bool sb_store__copy(sb_store__req_t *r, sb_str_t *dst, sb_str_t s, bool optional);
/* Returns an arena array able to hold n + 1 elements of `elem` bytes,
 * doubling *cap (copying the first n) when full; NULL on out of memory. */
void *sb_store__grow(sb_store__req_t *r, void *arr, size_t *cap, size_t n, size_t elem);
/* Copies a list of slices into NUL-terminated arena strings. NULL on OOM
 * (and for n == 0, which is not an error: check n). */
const char **sb_store__copy_list(sb_store__req_t *r, const sb_str_t *v, size_t n);
/* Copies ids into the arena; NULL on OOM. */
const int64_t *sb_store__copy_ids(sb_store__req_t *r, const int64_t *v, size_t n);
/* Queues r. `copied` is the caller's "all arguments were copied": when
 * false, r is freed and SB_ENOMEM returned. Also frees r and returns
 * SB_ECLOSED or SB_ETOOBIG when the store cannot take it. */
int sb_store__submit(sb_store_t *st, sb_store__req_t *r, bool copied);

/* True if s is a present slice of min..max bytes without NUL bytes. */
bool sb_store__valid(sb_str_t s, size_t min, size_t max);
/* Like sb_store__valid, but an absent slice (p == NULL) is also fine. */
bool sb_store__valid_opt(sb_str_t s, size_t min, size_t max);
bool sb_store__valid_list(const sb_str_t *v, size_t n, size_t min_n, size_t max_len);

/* Deep validators (core/validate.h): SB_OK, or SB_EPROTO when an invariant
 * is broken. A request: its operation row, arena and charge. The queues:
 * pending and done lists, their tails, counts and charges within the
 * outstanding budget; the caller holds st->mu. */
int sb_store__req_validate(const sb_store__req_t *r);
int sb_store__queue_validate(const sb_store_t *st);

/* ---- store_sql.c: helpers over the statement interface ------------------------------ */

/* Statement `id` of the store's backend, unbound and ready to run; NULL
 * when it cannot be prepared (the caller answers SB_EIO). */
sb_store__q_t *sb_store__q(sb_store_t *st, sb_store__sql_t id);
/* Statement `id` with user bound as parameter 1, p2 and p3 as 2 and 3 (the
 * per-user pages); NULL as sb_store__q(). */
sb_store__q_t *sb_store__q_user_page(sb_store_t *st, sb_store__sql_t id, sb_str_t user, int64_t p2,
                                     int64_t p3);
/* Runs a statement to its first row or its end, then resets it. Returns
 * SB_OK or the step's error. */
int sb_store__exec(sb_store__q_t *q);
/* Steps once. SB_OK on a row (read it before the statement is taken
 * again), SB_ENOTFOUND when there is none, or an error. */
int sb_store__step_one(sb_store__q_t *q);
/* An undelivered page's statement (page_sql, as sb_store__q_user_page())
 * after, on PostgreSQL, the user's newest id read by newest_sql (MSG_NEWEST,
 * NOTIF_NEWEST) into *newest (0 on SQLite). NULL with *rc set on failure. */
sb_store__q_t *sb_store__q_pending_page(sb_store_t *st, sb_store__sql_t newest_sql,
                                        sb_store__sql_t page_sql,
                                        const sb_store__user_page_args_t *a, int64_t *newest,
                                        int *rc);
/* Copies column `col` of the current row into the arena; SQL NULL gives
 * NULL. Sets *oom (and returns NULL) when out of memory. */
const char *sb_store__col(sb_store__req_t *r, sb_store__q_t *q, int col, bool *oom);
/* Steps q to the end, collecting column 0 of each row into out (arena
 * memory). Returns SB_OK, SB_ENOMEM or the step's error. */
int sb_store__collect_strs(sb_store__req_t *r, sb_store__q_t *q, sb_store_strs_t *out);
/* The per-user "mark delivered" updates: statement `which` with the user as
 * parameter 1 and, as 2, each id in turn (SQLite) or the whole list as a
 * bigint[] literal (PostgreSQL: one statement). */
int sb_store__exec_per_id(sb_store_t *st, sb_store__req_t *r, sb_store__sql_t which,
                          const sb_store__user_ids_args_t *a);
/* PostgreSQL array literals in r's arena, {"a","b"} and {1,2}; NULL on OOM. */
const char *sb_store__pg_text_array(sb_store__req_t *r, const char *const *v, size_t n);
const char *sb_store__pg_int_array(sb_store__req_t *r, const int64_t *v, size_t n);
/* Reads columns 0..6 (id, room, sender_id, content, type, created_at_ms,
 * sender name) of q's current row into m; false when out of memory. */
bool sb_store__read_msg(sb_store__req_t *r, sb_store__q_t *q, sb_store_msg_t *m);

/* What a cross-server lock serializes: versions of one document, requests
 * between one pair of users, the appends of the delivery streams (messages
 * and notifications commit in id order across servers, which delivery
 * relies on; one server runs them on one thread anyway; one lock for both,
 * so that two servers' batches with both never take them in two orders).
 * 1 was a room's. */
typedef enum {
    SB_STORE__LOCK_DOC = 2,
    SB_STORE__LOCK_PAIR,
    SB_STORE__LOCK_APPENDS
} sb_store__lock_t;
/* On PostgreSQL, takes a transaction-scoped advisory lock on (kind, a, b),
 * b in either order ({a, b} is one key), held until the batch commits:
 * another server's writes under the same key wait for that commit. On
 * SQLite it does nothing: BEGIN IMMEDIATE already serializes every writer. */
int sb_store__lock(sb_store_t *st, sb_store__lock_t kind, sb_str_t a, sb_str_t b);
/* The appends' lock, a statement before each message or notification
 * append: the append's own snapshot then sees every earlier append (the
 * recipients' previous ids are read in it). */
int sb_store__lock_appends(sb_store_t *st);

/* ---- store_sql_lite.c: the SQLite statements ---------------------------------------- */

/* Prepares every statement of SB_STORE__SQL: proves that each table and
 * column the store uses exists. Returns SB_OK, or SB_EIO with a message. */
int sb_store__lite_prepare_all(sb_store_t *st, char *err, size_t cap);
sb_store__q_t *sb_store__lite_q(sb_store_t *st, sb_store__sql_t id);
/* Resets every statement and clears its bindings, so no read transaction
 * lingers and no binding points at a freed request. */
void sb_store__lite_reset_all(sb_store_t *st);
void sb_store__lite_finalize_all(sb_store_t *st);
/* Maps an SQLite result code to an SB_ code, logging unexpected ones. */
int sb_store__lite_err(sb_store_t *st, int sqlite_rc);

/* ---- store_chat.c, store_keys.c ----------------------------------------------------- */

/* Message append with an idempotency key: SB_OK with r->res.MSG replayed
 * when the sender used the key before, SB_ENOTFOUND when not, or an error. */
int sb_store__msg_key_replay(sb_store_t *st, sb_store__req_t *r);
/* Remembers the append's key for message `id`, in the same transaction. */
int sb_store__msg_key_remember(sb_store_t *st, sb_store__req_t *r, int64_t id);
/* PostgreSQL, after the room's lock: the keyed append as one statement
 * (MSG_APPEND_KEYED): the message the key names, or the new one stored
 * with its key and deliveries. recipients: their text[] literal. */
int sb_store__msg_key_append_pg(sb_store_t *st, sb_store__req_t *r, const char *recipients);
/* Binds a message append's room, sender, content, type and created_at_ms as
 * parameters 1..5, recipients (when not NULL) as 6 and its sender name
 * (NULL when absent) as name_idx. */
void sb_store__bind_msg_row(sb_store__q_t *q, const sb_store__message_append_args_t *a,
                            const char *recipients, int name_idx);
/* r->res.MSG: the message of r's arguments, stored now as `id`. */
void sb_store__appended(sb_store__req_t *r, int64_t id);
/* PostgreSQL: r->res.MSG.recipient_prev from q's column col (SB_STORE__PG_PREVS). */
int sb_store__appended_prevs(sb_store__req_t *r, sb_store__q_t *q, int col);
/* Shared submit shapes (the request r may be NULL: SB_ENOMEM; a is its arguments). */
int sb_store__submit_user_page(sb_store_t *st, sb_store__req_t *r, sb_store__user_page_args_t *a,
                               sb_str_t user, int64_t after_id, int limit);
int sb_store__submit_user_ids(sb_store_t *st, sb_store__req_t *r, sb_store__user_ids_args_t *a,
                              sb_str_t user, const int64_t *ids, size_t n);
int sb_store__submit_upto(sb_store_t *st, sb_store__req_t *r, sb_store__user_upto_args_t *a,
                          sb_str_t user, int64_t upto_id);
int sb_store__submit_lookup(sb_store_t *st, sb_store__req_t *r, sb_store__lookup_args_t *a,
                            sb_str_t id);
/* Runs statement `which` with the user as parameter 1 and upto_id as 2. */
int sb_store__exec_upto(sb_store_t *st, sb_store__sql_t which, const sb_store__user_upto_args_t *a);
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
/* Called when the store thread is idle: checks the files, then retries
 * (store.c purges the idempotency keys next, store_keys.c). */
void sb_store__health_idle(sb_store_t *st);
/* A small write transaction (the schema version rewritten): true when it
 * commits. */
bool sb_store__probe_write(sb_store_t *st);
/* store_batch.c: counts and logs the failed requests of a finished batch
 * into bs; returns the number of writes that failed for a fault (not
 * stored). */
uint64_t sb_store__count_failures(sb_store_t *st, sb_store__req_t *first,
                                  sb_store__batch_stats_t *bs);
/* Sets the state and its reason (store thread). */
void sb_store__set_state(sb_store_t *st, sb_store_state_t s, const char *reason);
/* The state, read on the store thread. */
sb_store_state_t sb_store__state(sb_store_t *st);

/* ---- store_pg.c: the PostgreSQL backend ------------------------------------------------ */

/* Connects to cfg.database_url and applies the migrations (blocking, at
 * start-up). SB_OK, or an error with a message in err. */
int sb_store__pg_open(sb_store_t *st, char *err, size_t cap);
void sb_store__pg_destroy(sb_store_t *st);
/* Members whose connection is down (0 on SQLite); the caller holds st->mu. */
size_t sb_store__pg_down(const sb_store_t *st);
/* The pool's size: the number of store threads (cfg.pool_size, bounded). */
size_t sb_store__pg_pool_size(const sb_store_t *st);
/* Called first by the store thread of pool member `member`: the statements
 * it runs go to that member's connection. */
void sb_store__pg_thread_start(sb_store_t *st, size_t member);
void sb_store__pg_run_batch(sb_store_t *st, size_t member, sb_store__req_t *first,
                            sb_store__batch_stats_t *bs);
/* Called when member's store thread is idle: reconnects, updates the health. */
void sb_store__pg_idle(sb_store_t *st, size_t member);
/* Statement `id` on PostgreSQL (store_sql_pg.c). */
sb_store__q_t *sb_store__pg_q(sb_store_t *st, sb_store__sql_t id);

/* ---- migrations.c ----------------------------------------------------------------- */

/* Brings the schema to the newest known version. Returns SB_OK, or an
 * error with a message in err (schema newer than known, failed migration). */
int sb_store__migrate(sqlite3 *db, char *err, size_t cap);
/* The newest schema version this build knows. */
int sb_store__schema_version(void);

#endif
