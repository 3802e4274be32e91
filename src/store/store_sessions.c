/* Recoverable Socket.IO sessions: saved when a socket connects and when it
 * disconnects, read back at start-up so connection state recovery survives
 * a restart. Submit functions next to their exec functions. */
#include "store/store_internal.h"

#include <string.h>

#include "core/err.h"

int sb_store__exec_session_save(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__session_save_args_t *a = &r->args.session_save;
    sb_store__q_t *q = sb_store__q(st, SB_SQL_SESSION_SAVE);
    if (!q)
        return SB_EIO;
    sb_store__bind_str(q, 1, a->pid);
    sb_store__bind_str(q, 2, a->nsp);
    sb_store__bind_str(q, 3, a->sid);
    sb_store__bind_str(q, 4, a->owner);
    sb_store__bind_str(q, 5, a->rooms);
    if (a->disconnected_at_ms)
        sb_store__bind_int(q, 6, a->disconnected_at_ms);
    else
        sb_store__bind_cstr(q, 6, NULL);
    return sb_store__exec(q); /* invalid rooms JSON: SB_EINVAL */
}

static int collect_sessions(sb_store__req_t *r, sb_store__q_t *q) {
    sb_store_session_t *v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    bool oom = false;
    while (!oom && (rc = sb_store__step(q)) == SB_STORE__ROW) {
        if (!(v = sb_store__grow(r, v, &cap, n, sizeof *v)))
            return SB_ENOMEM;
        sb_store_session_t *x = &v[n++];
        x->pid = sb_store__col(r, q, 0, &oom);
        x->sid = sb_store__col(r, q, 1, &oom);
        x->owner = sb_store__col(r, q, 2, &oom);
        x->rooms = sb_store__col(r, q, 3, &oom);
        x->disconnected_at_ms = sb_store__col_int(q, 4);
    }
    if (oom)
        return SB_ENOMEM;
    if (rc != SB_STORE__DONE)
        return rc;
    r->res.SESSIONS = (sb_store_sessions_t){v, n};
    return SB_OK;
}

static int exec_with_time(sb_store_t *st, sb_store__sql_t which, int64_t t) {
    sb_store__q_t *q = sb_store__q(st, which);
    if (!q)
        return SB_EIO;
    sb_store__bind_int(q, 1, t);
    return sb_store__exec(q);
}

int sb_store__exec_session_load(sb_store_t *st, sb_store__req_t *r) {
    const sb_store__session_load_args_t *a = &r->args.session_load;
    int rc = exec_with_time(st, SB_SQL_SESSION_CRASHED, a->now_ms);
    if (rc == SB_OK)
        rc = exec_with_time(st, SB_SQL_SESSION_EXPIRE, a->since_ms);
    sb_store__q_t *q = rc == SB_OK ? sb_store__q(st, SB_SQL_SESSION_LIST) : NULL;
    if (!q)
        return rc == SB_OK ? SB_EIO : rc;
    sb_store__bind_str(q, 1, a->nsp);
    return collect_sessions(r, q);
}

int sb_store_session_save(sb_store_t *st, sb_str_t pid, sb_str_t nsp, sb_str_t sid, sb_str_t owner,
                          sb_str_t rooms, int64_t disconnected_at_ms, sb_store_done_cb cb,
                          void *ud) {
    if (!sb_store__valid(pid, 1, SB_STORE_MAX_SESSION_ID) ||
        !sb_store__valid(nsp, 1, SB_STORE_MAX_ROOM) ||
        !sb_store__valid(sid, 1, SB_STORE_MAX_SESSION_ID) ||
        !sb_store__valid_opt(owner, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(rooms, 2, SB_STORE_MAX_JSON) || disconnected_at_ms < 0)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_session_save(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__session_save_args_t *a = &r->args.session_save;
    a->disconnected_at_ms = disconnected_at_ms;
    return sb_store__submit(
        st, r,
        sb_store__copy(r, &a->pid, pid, false) && sb_store__copy(r, &a->nsp, nsp, false) &&
            sb_store__copy(r, &a->sid, sid, false) && sb_store__copy(r, &a->owner, owner, true) &&
            sb_store__copy(r, &a->rooms, rooms, false));
}

int sb_store_session_load(sb_store_t *st, sb_str_t nsp, int64_t since_ms, int64_t now_ms,
                          sb_store_sessions_cb cb, void *ud) {
    if (!sb_store__valid(nsp, 1, SB_STORE_MAX_ROOM))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__new_session_load(cb, ud);
    if (!r)
        return SB_ENOMEM;
    sb_store__session_load_args_t *a = &r->args.session_load;
    a->since_ms = since_ms;
    a->now_ms = now_ms;
    return sb_store__submit(st, r, sb_store__copy(r, &a->nsp, nsp, false));
}
