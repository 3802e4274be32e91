/* Recoverable Socket.IO sessions: saved when a socket connects and when it
 * disconnects, read back at start-up so connection state recovery survives
 * a restart. Submit functions next to their exec functions. */
#include "store/store_internal.h"

#include <string.h>

#include "core/err.h"

/* s0 pid, s1 nsp, s2 sid, s3 owner (NULL: none), s4 rooms; i0 disconnected_at_ms (0: NULL). */
static int exec_session_save(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_SESSION_SAVE);
    if (!s)
        return SB_EIO;
    sb_store__bind_slots(s, r, 5);
    if (r->i[0])
        sqlite3_bind_int64(s, 6, r->i[0]);
    else
        sqlite3_bind_null(s, 6);
    return sb_store__exec(st, s); /* invalid rooms JSON: SB_EINVAL (CHECK) */
}

static int collect_sessions(sb_store_t *st, sb_store__req_t *r, sqlite3_stmt *s) {
    sb_store_session_t *v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    bool oom = false;
    while (!oom && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (!(v = sb_store__grow(r, v, &cap, n, sizeof *v)))
            return SB_ENOMEM;
        sb_store_session_t *x = &v[n++];
        x->pid = sb_store__col(r, s, 0, &oom);
        x->sid = sb_store__col(r, s, 1, &oom);
        x->owner = sb_store__col(r, s, 2, &oom);
        x->rooms = sb_store__col(r, s, 3, &oom);
        x->disconnected_at_ms = sqlite3_column_int64(s, 4);
    }
    if (oom)
        return SB_ENOMEM;
    if (rc != SQLITE_DONE)
        return sb_store__err(st, rc);
    r->res.sessions = (sb_store_sessions_t){v, n};
    return SB_OK;
}

static int exec_with_time(sb_store_t *st, sb_store__sql_t which, int64_t t) {
    sqlite3_stmt *s = sb_store__stmt(st, which);
    if (!s)
        return SB_EIO;
    sqlite3_bind_int64(s, 1, t);
    return sb_store__exec(st, s);
}

/* s0 nsp; i0 since_ms, i1 now_ms. */
static int exec_session_load(sb_store_t *st, sb_store__req_t *r) {
    int rc = exec_with_time(st, SB_SQL_SESSION_CRASHED, r->i[1]);
    if (rc == SB_OK)
        rc = exec_with_time(st, SB_SQL_SESSION_EXPIRE, r->i[0]);
    sqlite3_stmt *s = rc == SB_OK ? sb_store__stmt(st, SB_SQL_SESSION_LIST) : NULL;
    if (!s)
        return rc == SB_OK ? SB_EIO : rc;
    sb_store__bind_s(s, 1, r, 0);
    return collect_sessions(st, r, s);
}

static const sb_store__op_t op_session_save = {"session_save", true, SB_STORE__K_DONE,
                                               exec_session_save};
static const sb_store__op_t op_session_load = {"session_load", true, SB_STORE__K_SESSIONS,
                                               exec_session_load};

int sb_store_session_save(sb_store_t *st, sb_str_t pid, sb_str_t nsp, sb_str_t sid, sb_str_t owner,
                          sb_str_t rooms, int64_t disconnected_at_ms, sb_store_done_cb cb,
                          void *ud) {
    if (!sb_store__valid(pid, 1, SB_STORE_MAX_SESSION_ID) ||
        !sb_store__valid(nsp, 1, SB_STORE_MAX_ROOM) ||
        !sb_store__valid(sid, 1, SB_STORE_MAX_SESSION_ID) ||
        !sb_store__valid_opt(owner, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(rooms, 2, SB_STORE_MAX_JSON) || disconnected_at_ms < 0)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_session_save, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.done = cb;
    r->i[0] = disconnected_at_ms;
    return sb_store__submit(st, r,
                            sb_store__str(r, 0, pid, false) && sb_store__str(r, 1, nsp, false) &&
                                sb_store__str(r, 2, sid, false) && sb_store__str(r, 3, owner, true) &&
                                sb_store__str(r, 4, rooms, false));
}

int sb_store_session_load(sb_store_t *st, sb_str_t nsp, int64_t since_ms, int64_t now_ms,
                          sb_store_sessions_cb cb, void *ud) {
    if (!sb_store__valid(nsp, 1, SB_STORE_MAX_ROOM))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_session_load, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.sessions = cb;
    r->i[0] = since_ms;
    r->i[1] = now_ms;
    return sb_store__submit(st, r, sb_store__str(r, 0, nsp, false));
}
