/* Idempotency keys: a sender's retry of a message append, and an HTTP API
 * client's retry of a write, find what the first attempt stored instead of
 * storing again. Keys are forgotten after SB_STORE_KEY_TTL_MS. */
#include "store/store_internal.h"

#include <string.h>

#include "core/err.h"

#define PURGE_INTERVAL_MS 60000

bool sb_store_key_valid(sb_str_t key) {
    if (!key.p || key.n < 1 || key.n > SB_STORE_MAX_KEY)
        return false;
    for (size_t i = 0; i < key.n; i++)
        if ((unsigned char)key.p[i] < 0x21 || (unsigned char)key.p[i] > 0x7e)
            return false;
    return true;
}

static int64_t oldest_remembered_ms(void) { return sb_wall_ms() - SB_STORE_KEY_TTL_MS; }

int sb_store__msg_key_replay(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_MSG_KEY_GET);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 1);
    sb_store__bind_s(s, 2, r, 4);
    sqlite3_bind_int64(s, 3, oldest_remembered_ms());
    int rc = sb_store__step_one(st, s);
    if (rc != SB_OK)
        return rc;
    if (!sb_store__read_msg(r, s, &r->res.msg))
        return SB_ENOMEM;
    r->res.msg.replayed = true;
    return SB_OK;
}

int sb_store__msg_key_remember(sb_store_t *st, sb_store__req_t *r, int64_t id) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_MSG_KEY_PUT);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 1);
    sb_store__bind_s(s, 2, r, 4);
    sqlite3_bind_int64(s, 3, id);
    sqlite3_bind_int64(s, 4, sb_wall_ms());
    return sb_store__exec(st, s);
}

/* Its own small transaction, between batches; a failure only delays it. */
void sb_store__keys_housekeeping(sb_store_t *st) {
    int64_t now = sb_wall_ms();
    if (now - st->last_keys_purge_ms < PURGE_INTERVAL_MS || sb_store__state(st) != SB_STORE_OK)
        return;
    st->last_keys_purge_ms = now;
    static const sb_store__sql_t purges[] = {SB_SQL_MSG_KEYS_PURGE, SB_SQL_HTTP_KEYS_PURGE};
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return;
    int rc = SB_OK;
    for (size_t i = 0; rc == SB_OK && i < sizeof purges / sizeof *purges; i++) {
        sqlite3_stmt *s = sb_store__stmt(st, purges[i]);
        if (!s) {
            rc = SB_EIO;
            break;
        }
        sqlite3_bind_int64(s, 1, now - SB_STORE_KEY_TTL_MS);
        rc = sb_store__exec(st, s);
    }
    if (rc != SB_OK || sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    sb_store__stmts_reset(st);
}

/* ---- HTTP answers -------------------------------------------------------------------- */

/* s0 key. */
static int exec_http_key_get(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_HTTP_KEY_GET);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    sqlite3_bind_int64(s, 2, oldest_remembered_ms());
    int rc = sb_store__step_one(st, s);
    if (rc != SB_OK)
        return rc;
    bool oom = false;
    r->res.http_answer = (sb_store_http_answer_t){.request = sb_store__col(r, s, 0, &oom),
                                                  .status = sqlite3_column_int(s, 1),
                                                  .body = sb_store__col(r, s, 2, &oom)};
    return oom ? SB_ENOMEM : SB_OK;
}

/* s0 key, s1 request, s2 body; i0 status. */
static int exec_http_key_put(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_HTTP_KEY_PUT);
    if (!s)
        return SB_EIO;
    sb_store__bind_slots(s, r, 2);
    sqlite3_bind_int64(s, 3, r->i[0]);
    sb_store__bind_s(s, 4, r, 2);
    sqlite3_bind_int64(s, 5, sb_wall_ms());
    return sb_store__exec(st, s);
}

static const sb_store__op_t op_http_key_get = {"http_key_get", false, SB_STORE__K_HTTP_ANSWER,
                                               exec_http_key_get};
static const sb_store__op_t op_http_key_put = {"http_key_put", true, SB_STORE__K_DONE,
                                               exec_http_key_put};

int sb_store_http_key_get(sb_store_t *st, sb_str_t key, sb_store_http_answer_cb cb, void *ud) {
    if (!sb_store__valid(key, 1, SB_STORE_MAX_KEY))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_http_key_get, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.http_answer = cb;
    return sb_store__submit(st, r, sb_store__str(r, 0, key, false));
}

int sb_store_http_key_put(sb_store_t *st, sb_str_t key, sb_str_t request, int status, sb_str_t body,
                          sb_store_done_cb cb, void *ud) {
    if (!sb_store__valid(key, 1, SB_STORE_MAX_KEY) ||
        !sb_store__valid(request, 1, SB_STORE_MAX_ROOM) ||
        !sb_store__valid(body, 0, st->cfg.max_content + SB_STORE_MAX_JSON) || status < 100 ||
        status > 599)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_http_key_put, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.done = cb;
    r->i[0] = status;
    return sb_store__submit(st, r,
                            sb_store__str(r, 0, key, false) &&
                                sb_store__str(r, 1, request, false) &&
                                sb_store__str(r, 2, body, false));
}
