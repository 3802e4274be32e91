/* The PostgreSQL backend of the store: opening (schema migrations on a
 * start-up connection), the pool, the batches over pg_conn.c, and the
 * store's health from the connections and from the writes PostgreSQL refuses.
 *
 * The pool: --database-pool-size members, each a connection owned by a
 * store thread of its own (store.c's shards; store_route.c sends the
 * requests on one conversation, user, ... to one of them), so several
 * batches are in flight and their commits overlap. Threads rather than one
 * thread multiplexing N connections: a batch below is a sequence of waits
 * on one connection (guesses, replays, savepoints, resolving a lost
 * COMMIT), which one thread per connection keeps as written; the waits are
 * on the database, so N threads cost only their stacks. A thread finds its
 * member with sb_store__pg_self(); everything below runs on one member.
 *
 * A batch is one transaction: BEGIN with its transaction id, then every
 * request's statements sent without waiting (pipelined, in the same flush):
 * where a request's logic reads a result it gets a guess (store_sql_pg.c),
 * then one sync point, then each request runs again over the real results
 * without sending (a replay). A request whose replay ran what its guesses
 * sent is final. Otherwise (a wrong guess, a failed statement) the batch
 * rolls back and runs again careful: a savepoint per request, and the
 * request whose guesses went wrong goes back to its savepoint and runs
 * again awaited, the later ones are sent again. Every result is read before
 * COMMIT leaves, so a connection lost after COMMIT and resolved as committed
 * still answers every request. Requests are answered only after COMMIT
 * returned.
 *
 * Lost connections: before COMMIT was sent, nothing of the batch can commit,
 * so the whole batch runs again on a new connection while the oldest
 * request's wait allows (store_wait_ms after it was submitted); after that,
 * every request of the batch fails with SB_EUNAVAIL. A connection lost after
 * COMMIT was sent is resolved with pg_xact_status(). When that cannot be
 * known in time (the batch may have committed), the requests that may run
 * again (sb_store__may_run_again: reads, mark read/delivered, upserts,
 * reactions, session saves, HTTP answers, message appends with an
 * idempotency key; the retry column of SB_STORE__OPS) run once more in a
 * transaction of their own, with a new wait of store_wait_ms; the others
 * (appends without a key, creates, comments, friend requests, document
 * versions, conversation changes) fail with SB_EUNAVAIL: a second run could
 * store twice or answer differently. docs/operations.md says the same. */
#include "store/store_pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

#define DEFAULT_WAIT_MS 5000
#define IDLE_CONNECT_MS 1000
#define PURGE_INTERVAL_MS 60000
#define PROBE_INTERVAL_MS 1000 /* after the last refused write, as SQLite's store_health.c */

/* ---- opening --------------------------------------------------------------------------- */

/* A blocking connection of its own, at start-up only: migrations need
 * several round trips with their own transactions and locks. */
static void ignore_notice(void *ud, const char *msg) { (void)ud, (void)msg; }

/* The identity the schema's migration made (store_identity). */
static int read_identity(PGconn *db, sb_store_t *st, char *err, size_t cap) {
    PGresult *res = PQexec(db, "SELECT id FROM store_identity");
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    if (ok)
        snprintf(st->identity, sizeof st->identity, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (ok && st->identity[0])
        return SB_OK;
    snprintf(err, cap, "store: cannot read the store's identity");
    return SB_EIO;
}

static int migrate(sb_store_t *st, const char *url, char *err, size_t cap) {
    PGconn *db = PQconnectdb(url);
    PQsetNoticeProcessor(db, ignore_notice, NULL); /* "already exists, skipping" */
    if (PQstatus(db) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(db);
        snprintf(err, cap, "store: cannot connect to PostgreSQL: %.*s", (int)strcspn(msg, "\n"),
                 msg);
        PQfinish(db);
        return SB_EIO;
    }
    int rc = sb_store_pg__migrate(db, err, cap);
    if (rc == SB_OK)
        rc = read_identity(db, st, err, cap);
    PQfinish(db);
    return rc;
}

#define DEFAULT_POOL_SIZE 2
#define MAX_POOL_SIZE 64

size_t sb_store__pg_pool_size(const sb_store_t *st) { return st->pg->n; }

size_t sb_store__pg_down(const sb_store_t *st) { return st->pg ? st->pg->down : 0; }

static void member_dispose(sb_store__pg_t *pg) {
    sb_map_dispose(&pg->newest);
    sb_store__pg_forget(pg);
    free(pg->ent);
    sb_store__pg_sql_dispose(pg);
    sb_pg_conn_dispose(&pg->conn);
}

int sb_store__pg_open(sb_store_t *st, char *err, size_t cap) {
    sb_store__pg_pool_t *pool = calloc(1, sizeof *pool);
    int size = st->cfg.pool_size > 0 ? st->cfg.pool_size : DEFAULT_POOL_SIZE;
    size = size > MAX_POOL_SIZE ? MAX_POOL_SIZE : size;
    if (pool)
        st->pg = pool;
    if (!pool || !(pool->url = strdup(st->cfg.database_url)) ||
        !(pool->members = calloc((size_t)size, sizeof *pool->members))) {
        snprintf(err, cap, "store: out of memory");
        return SB_ENOMEM;
    }
    if (pthread_key_create(&pool->self, NULL) != 0) {
        snprintf(err, cap, "store: cannot create a thread key");
        return SB_ENOMEM;
    }
    pool->self_made = true;
    if (st->cfg.store_wait_ms <= 0)
        st->cfg.store_wait_ms = DEFAULT_WAIT_MS;
    int rc = SB_OK;
    for (; rc == SB_OK && pool->n < (size_t)size; pool->n++) {
        sb_store__pg_t *pg = &pool->members[pool->n];
        pg->failed_ent = -1;
        sb_pg_conn_init(&pg->conn, &(sb_pg_conn_config_t){.conninfo = pool->url});
        rc = sb_store__pg_sql_init(pg, err, cap);
    }
    if (rc == SB_OK)
        rc = migrate(st, pool->url, err, cap);
    return rc;
}

void sb_store__pg_destroy(sb_store_t *st) {
    sb_store__pg_pool_t *pool = st->pg;
    if (!pool)
        return;
    for (size_t i = 0; i < pool->n; i++)
        member_dispose(&pool->members[i]);
    if (pool->self_made)
        pthread_key_delete(pool->self);
    free(pool->members);
    free(pool->url);
    free(pool);
    st->pg = NULL;
}

void sb_store__pg_thread_start(sb_store_t *st, size_t member) {
    pthread_setspecific(st->pg->self, &st->pg->members[member]);
}

/* ---- health ---------------------------------------------------------------------------- */

/* The store is OK while every member reaches PostgreSQL and no write it
 * refused is still unanswered by a probe write; FAILING, with the reason,
 * otherwise. Called under st->mu; returns the state it had. */
static sb_store_state_t update_state(sb_store_t *st, const char *reason) {
    sb_store__pg_pool_t *pool = st->pg;
    sb_store_health_t *h = &st->health;
    sb_store_state_t was = h->state;
    if (reason) {
        snprintf(h->reason, sizeof h->reason, "%s", reason);
        h->state = SB_STORE_FAILING;
    } else if (pool->down == 0 && pool->refused_ms) {
        snprintf(h->reason, sizeof h->reason, "%s", pool->refused_reason);
        h->state = SB_STORE_FAILING;
    } else if (pool->down == 0) {
        h->reason[0] = '\0';
        h->state = SB_STORE_OK;
    }
    if (h->state != was)
        h->since_ms = sb_wall_ms();
    return was;
}

/* A member reached PostgreSQL (up) or could not. One critical section, so
 * that two members' news cannot cross. */
static void member_health(sb_store_t *st, sb_store__pg_t *pg, bool up) {
    sb_store__pg_pool_t *pool = st->pg;
    char reason[sizeof st->health.reason];
    snprintf(reason, sizeof reason, "PostgreSQL unavailable: %.150s", pg->conn.error);
    pthread_mutex_lock(&st->mu);
    if (pg->down == up) {
        pg->down = !up;
        pool->down = up ? pool->down - 1 : pool->down + 1;
    }
    sb_store_state_t was = update_state(st, up ? NULL : reason), now = st->health.state;
    pthread_mutex_unlock(&st->mu);
    if (was == SB_STORE_OK && !up)
        sb_log_warn("store: PostgreSQL unavailable: %s", pg->conn.error);
    else if (was != SB_STORE_OK && now == SB_STORE_OK)
        sb_log_info("store: PostgreSQL reachable again");
}

/* Write requests of the batch that PostgreSQL answered with an error of
 * its own (refused: a privilege, a read-only database, no space there). */
static uint64_t refused_writes(const sb_store__req_t *first) {
    uint64_t n = 0;
    for (const sb_store__req_t *r = first; r; r = r->next)
        n += r->op->write && r->rc == SB_EIO;
    return n;
}

/* As SQLite's store does on a full disk: FAILING with the database's
 * reason, logged once; a probe write brings it back (retry_refused). */
static void writes_refused(sb_store_t *st, sb_store__pg_t *pg, uint64_t n) {
    sb_store__pg_pool_t *pool = st->pg;
    pthread_mutex_lock(&st->mu);
    st->health.write_errors += n;
    pool->refused_ms = sb_wall_ms();
    snprintf(pool->refused_reason, sizeof pool->refused_reason, "%s",
             pg->last_error[0] ? pg->last_error : "write failed");
    sb_store_state_t was = update_state(st, NULL);
    pthread_mutex_unlock(&st->mu);
    if (was == SB_STORE_OK)
        sb_log_error("store: writes are failing: %s; retrying every second", pool->refused_reason);
}

static bool probe_write(sb_store_t *st);

/* A second after the last refused write, while every member is up: a probe
 * write of this member; when it commits (and no write was refused
 * meanwhile), the refusals are over. */
static void retry_refused(sb_store_t *st) {
    sb_store__pg_pool_t *pool = st->pg;
    pthread_mutex_lock(&st->mu);
    int64_t seen = pool->refused_ms;
    bool due = seen && pool->down == 0 && sb_wall_ms() - seen >= PROBE_INTERVAL_MS;
    pthread_mutex_unlock(&st->mu);
    if (!due)
        return;
    bool ok = probe_write(st);
    pthread_mutex_lock(&st->mu);
    if (pool->refused_ms == seen) /* no refusal since: this probe answers it */
        pool->refused_ms = ok ? 0 : sb_wall_ms();
    sb_store_state_t was = update_state(st, NULL), now = st->health.state;
    pthread_mutex_unlock(&st->mu);
    if (was != SB_STORE_OK && now == SB_STORE_OK)
        sb_log_warn("store: writes commit again");
}

/* Idle: reconnect (with the connection's backoff) so that /health follows
 * the database even without traffic; probe refused writes. */
void sb_store__pg_idle(sb_store_t *st, size_t member) {
    sb_store__pg_t *pg = &st->pg->members[member];
    sb_pg_conn_t *c = &pg->conn;
    if (sb_pg_conn_ready(c, sb_pg__now_ms() + IDLE_CONNECT_MS) == SB_OK)
        member_health(st, pg, true);
    else if (c->next_attempt_ms) /* an attempt was made and failed */
        member_health(st, pg, false);
    retry_refused(st);
}

/* ---- batches ----------------------------------------------------------------------------- */

/* A careful batch after its first anomalies runs the rest of its requests
 * awaited, one round trip per statement: requests that keep failing cost no
 * more than that. */
#define MAX_GUESS_ROUNDS 4
/* After a batch whose guesses went wrong, this many batches run careful. */
#define CAREFUL_BATCHES 16

static void fail_all(sb_store__req_t *first, int rc) {
    for (sb_store__req_t *r = first; r; r = r->next)
        r->rc = rc;
}

/* Where a request's commands are among the entries: its savepoint first. */
typedef struct {
    size_t first, end;
    bool rolled_back; /* its run asked for ROLLBACK TO its savepoint */
} slot_t;

/* A batch's requests in order, where each one's commands are, and its runs
 * (store_groups.c): lead[i] is the request whose statement runs request i
 * with it (i itself when it runs alone or leads), run_len[i] how many
 * requests request i's statement runs (0 for one that another leads). */
typedef struct {
    sb_store__req_t **reqs;
    slot_t *slots;
    int *lead, *run_len;
    sb_store__req_t **run; /* the run being sent */
    int n;
} batch_t;

/* A run's arguments stop growing past this: its statement's values are
 * built, hashed and sent as one. */
#define RUN_MAX_BYTES (1u << 20)

/* Careful batches run every request alone. A run passes over requests of
 * the other run kind (disjoint rows), never over anything else. */
static void plan_runs(batch_t *b, bool careful) {
    int open[SB_STORE__GROUP_KINDS];
    size_t bytes[SB_STORE__GROUP_KINDS] = {0};
    for (int k = 0; k < SB_STORE__GROUP_KINDS; k++)
        open[k] = -1;
    for (int i = 0; i < b->n; i++) {
        int kind = careful ? 0 : sb_store__group_kind(b->reqs[i]);
        size_t size = b->reqs[i]->arena.bytes;
        b->lead[i] = i;
        b->run_len[i] = 1;
        if (!kind) {
            for (int k = 0; k < SB_STORE__GROUP_KINDS; k++)
                open[k] = -1;
        } else if (open[kind] >= 0 && bytes[kind] + size <= RUN_MAX_BYTES) {
            b->lead[i] = open[kind];
            b->run_len[open[kind]]++;
            b->run_len[i] = 0;
            bytes[kind] += size;
        } else {
            open[kind] = i;
            bytes[kind] = size;
        }
    }
}

/* Runs request i: alone, or, leading a run, with the rest of it (each
 * one's rc set). */
static int exec_request(sb_store_t *st, batch_t *b, int i) {
    sb_store__req_t *r = b->reqs[i];
    if (b->run_len[i] == 1) {
        memset(&r->res, 0, sizeof r->res);
        return sb_store__run_op(st, r);
    }
    size_t k = 0;
    for (int j = i; j < b->n && k < (size_t)b->run_len[i]; j++)
        if (b->lead[j] == i)
            b->run[k++] = b->reqs[j];
    sb_store__pg_t *pg = sb_store__pg_self(st);
    if (pg->mode != SB_STORE__PG_REPLAY)
        pg->run_requests += k;
    int rc = sb_store__run_group(st, b->run, k);
    for (size_t j = 0; j < k; j++)
        b->run[j]->rc = rc;
    return rc;
}

typedef enum { RAN, LOST, DEADLOCKED, CAREFUL } run_t;

static void savepoint_cmd(char *out, size_t cap, const char *verb, int i) {
    snprintf(out, cap, "%s s%d", verb, i);
}

/* Runs request i in mode m; careful, after a savepoint of its own, and a
 * failed request goes back to it (sent, not awaited). */
static void run_one(sb_store_t *st, batch_t *b, int i, sb_store__pg_mode_t m, bool careful) {
    sb_store__pg_t *pg = sb_store__pg_self(st);
    sb_store__req_t *r = b->reqs[i];
    slot_t *slot = &b->slots[i];
    char cmd[48];
    pg->req = i;
    slot->first = pg->n_ent;
    if (careful) /* formatted only when sent: most requests run without */
        savepoint_cmd(cmd, sizeof cmd, "SAVEPOINT", i);
    if (!careful || sb_store__pg_send(pg, SB_STORE__PG_CMD, cmd, NULL, 0)) {
        pg->mode = m;
        r->rc = exec_request(st, b, i);
        pg->mode = SB_STORE__PG_WAIT;
        pg->deadlocked |= r->rc == SB_EAGAIN;
        slot->rolled_back = careful && r->rc != SB_OK;
        if (slot->rolled_back) {
            savepoint_cmd(cmd, sizeof cmd, "ROLLBACK TO SAVEPOINT", i);
            sb_store__pg_send(pg, SB_STORE__PG_CMD, cmd, NULL, 0);
        }
    }
    slot->end = pg->n_ent;
}

/* Whether the statements sent for a request changed something when run: a
 * write that reported rows (a lock counts as one). */
static bool slot_writes(const sb_store__pg_t *pg, const slot_t *slot) {
    for (size_t k = slot->first; k < slot->end; k++) {
        const sb_store__pg_entry_t *e = &pg->ent[k];
        if (e->sql < 0 || pg->pure[e->sql])
            continue;
        ExecStatusType s = e->res ? PQresultStatus(e->res) : PGRES_FATAL_ERROR;
        if ((s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) ||
            strtoll(PQcmdTuples(e->res), NULL, 10) != 0)
            return true;
    }
    return false;
}

/* After a GUESS run: runs the request again over the real results. True
 * when it ran exactly what was sent (then its answer is final); false when
 * a guess sent something the real results would not have (a statement, a
 * value, a rollback), or a statement of it failed. */
static bool replay(sb_store_t *st, batch_t *b, int i) {
    sb_store__pg_t *pg = sb_store__pg_self(st);
    sb_store__req_t *r = b->reqs[i];
    const slot_t *slot = &b->slots[i];
    if (!b->run_len[i])
        return true; /* its run's leader replayed it */
    if (pg->failed_ent >= (long)slot->first && pg->failed_ent < (long)slot->end)
        return false;
    pg->req = i;
    pg->mode = SB_STORE__PG_REPLAY;
    pg->replay_next = slot->first;
    pg->replay_end = slot->end;
    pg->diverged = false;
    int rc = exec_request(st, b, i);
    pg->mode = SB_STORE__PG_WAIT;
    bool same = !pg->diverged;
    for (size_t k = pg->replay_next; same && k < slot->end; k++) /* sent, yet not run now */
        same = pg->ent[k].sql < 0 || pg->pure[pg->ent[k].sql];
    if (same && (rc != SB_OK) != slot->rolled_back)
        same = !slot_writes(pg, slot);
    pg->diverged = false;
    if (same)
        r->rc = rc;
    return same;
}

/* Request m's guesses went wrong (or a statement of it failed, which also
 * skipped everything sent after it): back to its savepoint, which undoes it
 * and every later request, then it runs again awaited. False when lost. */
static bool redo_awaited(sb_store_t *st, sb_store__req_t *r, int m, slot_t *slot) {
    sb_store__pg_t *pg = sb_store__pg_self(st);
    char cmd[48];
    pg->req = m;
    savepoint_cmd(cmd, sizeof cmd, "ROLLBACK TO SAVEPOINT", m);
    if (!sb_store__pg_send(pg, SB_STORE__PG_CMD, cmd, NULL, 0) || !sb_store__pg_settle(pg))
        return false;
    if (PQresultStatus(pg->ent[pg->n_ent - 2].res) != PGRES_COMMAND_OK) {
        snprintf(pg->conn.error, sizeof pg->conn.error, "ROLLBACK TO SAVEPOINT failed");
        pg->lost = true; /* the transaction cannot go on: it runs again from its start */
        return false;
    }
    pg->mode = SB_STORE__PG_WAIT;
    memset(&r->res, 0, sizeof r->res);
    r->rc = sb_store__run_op(st, r);
    pg->deadlocked |= r->rc == SB_EAGAIN;
    slot->rolled_back = r->rc != SB_OK;
    if (slot->rolled_back)
        sb_store__pg_send(pg, SB_STORE__PG_CMD, cmd, NULL, 0);
    return !pg->lost;
}

/* BEGIN and the transaction's id (which resolves a COMMIT whose answer was
 * lost, pg_conn.c) are sent in the same flush as the batch's statements:
 * a clean batch is two round trips (that flush, then COMMIT), not three. */
static const char XID_SQL[] = "SELECT pg_current_xact_id()::text";

static bool send_begin(sb_store__pg_t *pg) {
    pg->req = -1;
    return sb_store__pg_send(pg, SB_STORE__PG_CMD, "BEGIN", NULL, 0) &&
           sb_store__pg_send(pg, SB_STORE__PG_CMD, XID_SQL, NULL, 0);
}

/* After the first sync point: BEGIN's and the id's results (entries 0 and
 * 1); false (the transaction cannot go on: lost) unless both came. */
static bool begun(sb_store__pg_t *pg) {
    const PGresult *b = pg->n_read > 1 ? pg->ent[0].res : NULL;
    const PGresult *x = pg->n_read > 1 ? pg->ent[1].res : NULL;
    if (PQresultStatus(b) != PGRES_COMMAND_OK || PQresultStatus(x) != PGRES_TUPLES_OK ||
        PQntuples(x) != 1) {
        snprintf(pg->conn.error, sizeof pg->conn.error, "BEGIN failed: %.200s",
                 b ? PQresultErrorMessage(b) : "no answer");
        pg->lost = true;
        return false;
    }
    snprintf(pg->conn.xid, sizeof pg->conn.xid, "%s", PQgetvalue(x, 0, 0));
    return true;
}

/* Runs every request inside the open transaction, pipelined: each round
 * sends the requests from `start` on with guessed results, then one sync
 * point, then replays each over the real results. Not careful, a request
 * whose guesses went wrong, or that failed after changing something, ends
 * the attempt (CAREFUL: it runs again with savepoints). Careful, that
 * request runs again awaited, and the round starts over after it. LOST: the
 * connection was lost; DEADLOCKED: a request lost a deadlock. None of these
 * committed anything. */
static run_t run_requests(sb_store_t *st, batch_t *b, bool careful) {
    sb_store__pg_t *pg = sb_store__pg_self(st);
    sb_store__req_t **reqs = b->reqs;
    slot_t *slots = b->slots;
    int n = b->n, start = 0;
    for (int round = 0; start < n; round++) {
        bool guess = !careful || round < MAX_GUESS_ROUNDS;
        pg->failed_ent = -1;
        for (int i = start; i < n && !pg->lost && !pg->deadlocked; i++) {
            if (reqs[i]->op->mode == SB_STORE__BETWEEN)
                reqs[i]->rc = SB_EINVAL; /* backups of PostgreSQL are pg_dump's job */
            else if (!b->run_len[i])     /* sent with its run's leader */
                slots[i] = (slot_t){pg->n_ent, pg->n_ent, false};
            else
                run_one(st, b, i, guess ? SB_STORE__PG_GUESS : SB_STORE__PG_WAIT, careful);
        }
        if (!pg->lost && !pg->deadlocked)
            sb_store__pg_settle(pg);
        if (!pg->lost && round == 0)
            begun(pg);
        if (pg->lost || pg->deadlocked)
            return pg->lost ? LOST : DEADLOCKED;
        int m = start;
        while (guess && m < n && (reqs[m]->op->mode == SB_STORE__BETWEEN || replay(st, b, m)))
            m++;
        if (!guess || m == n)
            return RAN;
        if (!careful)
            return CAREFUL;
        if (!redo_awaited(st, reqs[m], m, &slots[m]) || pg->deadlocked)
            return pg->lost ? LOST : DEADLOCKED;
        start = m + 1;
    }
    return sb_store__pg_settle(pg) ? RAN : LOST; /* the last request's rollback, if any */
}

/* Two servers' batches can wait on each other's locks (room A then B
 * against B then A). The loser cannot go on by rolling back only its
 * request: the lock the other waits for may belong to an earlier request of
 * its batch. So the whole transaction rolls back, releasing every lock of
 * the batch (the other batch goes on), and the batch runs again: nothing of
 * it committed. */
static void abandon(sb_store_t *st) {
    sb_store__pg_t *pg = sb_store__pg_self(st);
    pg->deadlocked = false;
    if (!sb_store__pg_send(pg, SB_STORE__PG_CMD, "ROLLBACK", NULL, 0) || !sb_store__pg_settle(pg))
        sb_pg_conn_drop(&pg->conn);
}

static void batch_free(batch_t *b) {
    free(b->reqs);
    free(b->slots);
    free(b->lead);
    free(b->run_len);
    free(b->run);
}

/* The batch from its first request; false when out of memory. */
static bool batch_open(batch_t *b, sb_store__req_t *first, bool careful) {
    size_t n = 0;
    for (sb_store__req_t *r = first; r; r = r->next)
        n++;
    *b = (batch_t){.reqs = malloc(n * sizeof *b->reqs),
                   .slots = calloc(n, sizeof *b->slots),
                   .lead = malloc(n * sizeof *b->lead),
                   .run_len = malloc(n * sizeof *b->run_len),
                   .run = malloc(n * sizeof *b->run)};
    if (!b->reqs || !b->slots || !b->lead || !b->run_len || !b->run)
        return false;
    for (sb_store__req_t *r = first; r; r = r->next)
        b->reqs[b->n++] = r;
    plan_runs(b, careful);
    return true;
}

typedef enum { SETTLED, RETRY, GIVE_UP, UNKNOWN } attempt_t;

/* One attempt. SETTLED: rc is set on every request. RETRY: the batch
 * certainly did not commit and may run again. GIVE_UP: the database could
 * not be reached by the deadline. UNKNOWN: COMMIT was sent and its outcome
 * could not be learnt by the deadline. */
static attempt_t attempt(sb_store_t *st, sb_store__req_t *first, sb_store__batch_stats_t *bs) {
    sb_store__pg_t *pg = sb_store__pg_self(st);
    pg->lost = pg->deadlocked = false;
    sb_store__pg_forget(pg);
    bs->txn_start_us = sb_store__now_us();
    if (sb_pg_conn_ready(&pg->conn, pg->deadline_ms) != SB_OK)
        return GIVE_UP;
    if (!send_begin(pg)) {
        sb_store__pg_forget(pg);
        sb_pg_conn_drop(&pg->conn);
        return RETRY;
    }
    batch_t b;
    bool careful = pg->careful > 0;
    run_t ran = batch_open(&b, first, careful) ? run_requests(st, &b, careful) : LOST;
    batch_free(&b);
    sb_store__pg_forget(pg);
    switch (ran) {
    case RAN:
        break;
    case CAREFUL:
        pg->careful = CAREFUL_BATCHES;
        pg->careful_runs++;
        abandon(st);
        sb_store__pg_forget(pg);
        return RETRY;
    case LOST:
        sb_pg_conn_drop(&pg->conn);
        return RETRY;
    case DEADLOCKED:
        sb_log_limited(&pg->log_limit, SB_LOG_INFO, "deadlock",
                       "store: a batch lost a deadlock with another transaction; running it again");
        abandon(st);
        sb_store__pg_forget(pg);
        return RETRY;
    }
    sb_pg_outcome_t oc = sb_pg_conn_commit(&pg->conn, pg->deadline_ms);
    switch (oc) {
    case SB_PG_COMMITTED:
    case SB_PG_COMMITTED_BLIND: /* every result was read before COMMIT left */
        pg->committed = true;
        sb_store__commit_done(st, bs);
        return SETTLED;
    case SB_PG_NOT_COMMITTED:
        return RETRY;
    case SB_PG_FAILED:
        fail_all(first, SB_EIO);
        bs->commit_failures++;
        return SETTLED;
    case SB_PG_UNKNOWN:
        break;
    }
    bs->commit_failures++;
    return UNKNOWN;
}

/* The batch may have committed: the requests that may run again do, in a
 * transaction of their own with a new wait (each keeps its first run's
 * result in r->earlier); the others fail with SB_EUNAVAIL, never
 * acknowledged. The batch's order is restored afterwards. */
static void run_again(sb_store_t *st, sb_store__req_t *first, sb_store__batch_stats_t *bs) {
    size_t n = 0, again = 0;
    for (sb_store__req_t *r = first; r; r = r->next)
        n++;
    sb_store__req_t **order = malloc(n * sizeof *order);
    if (!order) {
        fail_all(first, SB_EUNAVAIL);
        return;
    }
    sb_store__req_t *head = NULL, **tail = &head;
    n = 0;
    for (sb_store__req_t *r = first; r; r = r->next) {
        order[n++] = r;
        sb_store__res_t *earlier = r->rc == SB_OK ? sb_store__alloc(r, sizeof *earlier) : NULL;
        if (earlier)
            *earlier = r->res;
        r->earlier = earlier;
        r->rc = SB_EUNAVAIL;
    }
    for (size_t i = 0; i < n; i++) {
        if (sb_store__may_run_again(order[i])) {
            *tail = order[i];
            tail = &order[i]->next;
            again++;
        }
    }
    *tail = NULL;
    sb_log_warn("store: %s; %zu request(s) of the batch run again (idempotent), %zu fail with "
                "store_unavailable",
                sb_store__pg_self(st)->conn.error, again, n - again);
    if (head) {
        sb_store__pg_t *pg = sb_store__pg_self(st);
        pg->deadline_ms = sb_pg__now_ms() + st->cfg.store_wait_ms;
        attempt_t a = RETRY;
        while (a == RETRY && sb_pg__now_ms() < pg->deadline_ms)
            a = attempt(st, head, bs);
        if (a != SETTLED)
            fail_all(head, SB_EUNAVAIL);
    }
    for (size_t i = 0; i < n; i++)
        order[i]->next = i + 1 < n ? order[i + 1] : NULL;
    free(order);
}

static void housekeeping(sb_store_t *st);

void sb_store__pg_run_batch(sb_store_t *st, size_t member, sb_store__req_t *first,
                            sb_store__batch_stats_t *bs) {
    sb_store__pg_t *pg = &st->pg->members[member];
    pg->deadline_ms = first->submitted_ms + st->cfg.store_wait_ms; /* the oldest request's */
    if (pg->careful > 0)
        pg->careful--;
    pg->committed = false;
    attempt_t a = RETRY;
    while (a == RETRY && sb_pg__now_ms() < pg->deadline_ms)
        a = attempt(st, first, bs);
    if (a == UNKNOWN) {
        run_again(st, first, bs);
        pg->committed = false; /* what the first attempt committed is not known */
        a = SETTLED;
    }
    bool settled = a == SETTLED;
    if (settled && pg->committed)
        sb_store__pg_newest_learn(pg, first);
    else
        sb_store__pg_newest_forget(pg);
    if (!settled)
        fail_all(first, SB_EUNAVAIL);
    member_health(st, pg, pg->conn.pg != NULL);
    uint64_t failed_writes = sb_store__count_failures(st, first, bs);
    uint64_t refused = refused_writes(first);
    if (failed_writes > refused) {
        pthread_mutex_lock(&st->mu);
        st->health.write_errors += failed_writes - refused;
        pthread_mutex_unlock(&st->mu);
    }
    if (refused)
        writes_refused(st, pg, refused);
    else
        retry_refused(st);
    if (settled)
        housekeeping(st);
}

/* Runs the n statements (each with `bound` as its parameter 1 when it has
 * one) awaited, in a transaction of their own on the calling thread's
 * member; true when it committed. */
static bool own_transaction(sb_store_t *st, const sb_store__sql_t *sql, size_t n, int64_t bound) {
    sb_store__pg_t *pg = sb_store__pg_self(st);
    pg->lost = pg->deadlocked = false;
    pg->deadline_ms = sb_pg__now_ms() + st->cfg.store_wait_ms;
    if (sb_pg_conn_begin(&pg->conn, pg->deadline_ms) != SB_OK)
        return false;
    for (size_t i = 0; i < n && !pg->lost; i++) {
        sb_store__q_t *q = sb_store__pg_q(st, sql[i]);
        sb_store__bind_int(q, 1, bound);
        sb_store__exec(q);
    }
    sb_store__pg_forget(pg);
    if (pg->lost) {
        sb_pg_conn_drop(&pg->conn);
        return false;
    }
    sb_pg_outcome_t oc = sb_pg_conn_commit(&pg->conn, pg->deadline_ms);
    return oc == SB_PG_COMMITTED || oc == SB_PG_COMMITTED_BLIND;
}

/* Once a minute: forgets old idempotency keys. The first member to finish
 * a batch after the minute does it. */
static void housekeeping(sb_store_t *st) {
    int64_t now = sb_wall_ms();
    pthread_mutex_lock(&st->mu);
    bool due = now - st->last_keys_purge_ms >= PURGE_INTERVAL_MS;
    if (due)
        st->last_keys_purge_ms = now;
    pthread_mutex_unlock(&st->mu);
    static const sb_store__sql_t purges[] = {SB_SQL_MSG_KEYS_PURGE, SB_SQL_HTTP_KEYS_PURGE};
    if (due)
        own_transaction(st, purges, sizeof purges / sizeof *purges, now - SB_STORE_KEY_TTL_MS);
}

/* A small write (PROBE_WRITE) in a transaction of its own. */
static bool probe_write(sb_store_t *st) {
    static const sb_store__sql_t probe[] = {SB_SQL_PROBE_WRITE};
    return own_transaction(st, probe, 1, 0);
}
