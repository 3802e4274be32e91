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

/* Keys remembered before this are forgotten. */
static int64_t oldest_remembered_ms(const sb_store__req_t *r) {
    return r->submitted_wall_ms - SB_STORE_KEY_TTL_MS;
}

/* A message found by its key. Run again after an unknown COMMIT outcome,
 * the key found is the one this request's first run stored, and that
 * message was never handed out: it is new to the caller, not a replay. */
static void found_by_key(sb_store__req_t *r) {
    r->res.MSG.replayed = !r->earlier || r->earlier->MSG.replayed;
}

int sb_store__msg_key_replay(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__message_append_args_t *a = &r->args.message_append;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_MSG_KEY_GET);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, a->sender_id);
    sb_store__bind_str(q, 2, a->key);
    sb_store__bind_int(q, 3, oldest_remembered_ms(r));
    int rc = sb_store__step_one(q);
    if (rc != SB_OK)
        return rc;
    if (!sb_store__read_msg(r, q, &r->res.MSG))
        return SB_ENOMEM;
    found_by_key(r);
    return SB_OK;
}

int sb_store__msg_key_remember(sb_store_t *st, sb_store__req_t *r, int64_t id) {
    const sb_store__message_append_args_t *a = &r->args.message_append;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_MSG_KEY_PUT);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, a->sender_id);
    sb_store__bind_str(q, 2, a->key);
    sb_store__bind_int(q, 3, id);
    sb_store__bind_int(q, 4, r->submitted_wall_ms);
    return sb_store__exec(q);
}

int sb_store__msg_key_append_pg(sb_store_t *st, sb_store__req_t *r, const char *recipients) {
    const sb_store__message_append_args_t *a = &r->args.message_append;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_MSG_APPEND_KEYED);
    if (!q)
        return SB_EIO;
    sb_store__bind_msg_row(q, a, recipients, 10);
    sb_store__bind_str(q, 7, a->key);
    sb_store__bind_int(q, 8, oldest_remembered_ms(r));
    sb_store__bind_int(q, 9, r->submitted_wall_ms);
    int rc = sb_store__step(q);
    if (rc != SB_STORE__ROW)
        return rc < 0 ? rc : SB_EIO;
    if (!sb_store__col_int(q, 7)) { /* stored now */
        sb_store__appended(r, sb_store__col_int(q, 0));
        return sb_store__appended_prevs(r, q, 8);
    }
    if (!sb_store__read_msg(r, q, &r->res.MSG))
        return SB_ENOMEM;
    found_by_key(r);
    return SB_OK;
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
        sb_store__q_t *q = sb_store__q(st, purges[i]);
        if (!q) {
            rc = SB_EIO;
            break;
        }
        sb_store__bind_int(q, 1, now - SB_STORE_KEY_TTL_MS);
        rc = sb_store__exec(q);
    }
    if (rc != SB_OK || sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    sb_store__lite_reset_all(st);
}

/* ---- HTTP answers ----------------------------------------------------------------------- */

int sb_store__exec_http_key_get(sb_store_t *st, sb_store__req_t *r) {
    sb_store__q_t *q = sb_store__q(st, SB_SQL_HTTP_KEY_GET);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, r->args.http_key_get.id);
    sb_store__bind_int(q, 2, oldest_remembered_ms(r));
    int rc = sb_store__step_one(q);
    if (rc != SB_OK)
        return rc;
    bool oom = false;
    r->res.HTTP_ANSWER = (sb_store_http_answer_t){.request = sb_store__col(r, q, 0, &oom),
                                                  .status = (int)sb_store__col_int(q, 1),
                                                  .body = sb_store__col(r, q, 2, &oom)};
    return oom ? SB_ENOMEM : SB_OK;
}

int sb_store__exec_http_key_put(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__http_key_put_args_t *a = &r->args.http_key_put;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_HTTP_KEY_PUT);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, a->key);
    sb_store__bind_str(q, 2, a->request);
    sb_store__bind_int(q, 3, a->status);
    sb_store__bind_str(q, 4, a->body);
    sb_store__bind_int(q, 5, r->submitted_wall_ms);
    return sb_store__exec(q);
}

int sb_store_http_key_get(sb_store_t *st, sb_str_t key, sb_store_http_answer_cb cb, void *ud) {
    if (!sb_store__valid(key, 1, SB_STORE_MAX_KEY))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_http_key_get(cb, ud);
    return sb_store__submit_lookup(st, r, r ? &r->args.http_key_get : NULL, key);
}

int sb_store_http_key_put(sb_store_t *st, sb_str_t key, sb_str_t request, int status, sb_str_t body,
                          sb_store_done_cb cb, void *ud) {
    if (!sb_store__valid(key, 1, SB_STORE_MAX_KEY) ||
        !sb_store__valid(request, 1, SB_STORE_MAX_ROOM) ||
        !sb_store__valid(body, 0, st->cfg.max_content + SB_STORE_MAX_JSON) || status < 100 ||
        status > 599)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_http_key_put(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__http_key_put_args_t *a = &r->args.http_key_put;
    a->status = status;
    return sb_store__submit(st, r,
                            sb_store__copy(r, &a->key, key, false) &&
                                sb_store__copy(r, &a->request, request, false) &&
                                sb_store__copy(r, &a->body, body, false));
}
