/* Runs of a batch's requests sent as one statement (PostgreSQL): the plain
 * message appends of a batch become one insert of every message and
 * delivery (MSG_APPEND_GROUP), its delivery confirmations one update
 * (MSG_DELIVERED_GROUP, NOTIF_DELIVERED_GROUP). What PostgreSQL pays per statement (executor
 * start, the appends' lock, its share of the pipeline) is then paid once a
 * run instead of once a message; on the appends' thread, which orders every
 * append, that decides how many messages a second the store takes.
 * store_pg.c picks the runs and runs each request alone when a run fails. */
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/put.h"

enum { KIND_NONE, KIND_APPEND, KIND_DELIVERED, KIND_NOTIF_DELIVERED };

int sb_store__group_kind(const sb_store__req_t *r) {
    switch (r->op->id) {
    case SB_STORE__OP_message_append: /* a key is looked up first: a statement of its own */
        return r->args.message_append.key.p ? KIND_NONE : KIND_APPEND;
    case SB_STORE__OP_message_mark_delivered:
        return KIND_DELIVERED;
    case SB_STORE__OP_notification_mark_delivered:
        return KIND_NOTIF_DELIVERED;
    default:
        return KIND_NONE;
    }
}

/* ---- array literals: {"a","b\"c",NULL} and {1,2} ------------------------------------------ */

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} lit_t;

static void lit_raw(lit_t *l, const char *s, size_t n) {
    if (l->oom)
        return;
    if (l->n + n + 2 > l->cap) { /* room for the closing brace and NUL too */
        size_t cap = l->cap ? l->cap : 256;
        while (l->n + n + 2 > cap)
            cap *= 2;
        char *p = realloc(l->p, cap);
        if (!p) {
            l->oom = true;
            return;
        }
        l->p = p;
        l->cap = cap;
    }
    memcpy(l->p + l->n, s, n);
    l->n += n;
}

static void lit_next(lit_t *l) { lit_raw(l, l->n ? "," : "{", 1); }

/* Quoted, with '"' and '\\' escaped; NULL for an absent one. */
static void lit_text(lit_t *l, const char *s) {
    lit_next(l);
    if (!s) {
        lit_raw(l, "NULL", 4);
        return;
    }
    lit_raw(l, "\"", 1);
    for (;;) {
        size_t run = strcspn(s, "\"\\");
        lit_raw(l, s, run);
        if (!s[run])
            break;
        lit_raw(l, "\\", 1);
        lit_raw(l, s + run, 1);
        s += run + 1;
    }
    lit_raw(l, "\"", 1);
}

static void lit_int(lit_t *l, int64_t v) {
    char b[24]; /* a sign and 20 digits */
    size_t n = 0;
    if (v < 0)
        b[n++] = '-';
    sb_put_uint(b, &n, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    lit_next(l);
    lit_raw(l, b, n);
}

/* The literal, or NULL when it could not be built. */
static const char *lit_end(lit_t *l) {
    if (!l->n)
        lit_raw(l, "{", 1);
    lit_raw(l, "}", 1);
    if (l->oom)
        return NULL;
    l->p[l->n] = '\0';
    return l->p;
}

/* Binds each literal as parameter 1..n; false when one could not be built. */
static bool bind_lits(sb_store__q_t *q, lit_t *l, int n) {
    for (int i = 0; i < n; i++) {
        const char *text = lit_end(&l[i]);
        if (!text)
            return false;
        sb_store__bind_cstr(q, i + 1, text);
    }
    return true;
}

static void free_lits(lit_t *l, int n) {
    for (int i = 0; i < n; i++)
        free(l[i].p);
}

/* ---- the runs ------------------------------------------------------------------------------ */

/* In the order of MSG_APPEND_GROUP's parameters. */
enum {
    ROOM,
    SENDER,
    CONTENT,
    TYPE,
    AT,
    DIRECT,
    REC_MSG,
    REC_USER,
    MEM_CONV,
    MEM_USER,
    NAME,
    KNOWN,
    N_APPEND
};

/* The recipient's newest delivery as the member knew it, or NULL. */
static void known_lit(sb_store_t *st, lit_t *l, const char *user, bool any) {
    int64_t known = any ? sb_store__newest_known(st, user) : -1;
    if (known >= 0)
        lit_int(l, known);
    else
        lit_text(l, NULL);
}

static void append_lits(sb_store_t *st, sb_store__req_t *const *g, size_t n, lit_t *l) {
    bool any = sb_store__newest_next_id(st) != 0;
    for (size_t k = 0; k < n; k++) {
        const sb_store__message_append_args_t *a = &g[k]->args.message_append;
        lit_text(&l[ROOM], a->room.p);
        lit_text(&l[SENDER], a->sender_id.p);
        lit_text(&l[CONTENT], a->content.p);
        lit_text(&l[TYPE], a->type.p);
        lit_int(&l[AT], a->created_at_ms);
        lit_text(&l[DIRECT], a->direct_id.p);
        lit_text(&l[NAME], a->sender_name.p);
        for (size_t u = 0; u < a->n_recipients; u++) {
            lit_int(&l[REC_MSG], (int64_t)k + 1);
            lit_text(&l[REC_USER], a->recipients[u]);
            known_lit(st, &l[KNOWN], a->recipients[u], any);
        }
        for (size_t u = 0; a->direct_id.p && u < 2; u++) {
            lit_text(&l[MEM_CONV], a->direct_id.p);
            lit_text(&l[MEM_USER], a->direct_users[u]);
        }
    }
}

/* One row per message, in the run's order: its id, its recipients' previous ids. */
static int read_appended(sb_store__q_t *q, sb_store__req_t *const *g, size_t n) {
    for (size_t k = 0; k < n; k++) {
        int rc = sb_store__step(q);
        if (rc != SB_STORE__ROW)
            return rc < 0 ? rc : SB_EIO; /* also a guessed result: the replay reads the real one */
        sb_store__appended(g[k], sb_store__col_int(q, 0));
        if ((rc = sb_store__appended_prevs(g[k], q, 1)) != SB_OK)
            return rc;
    }
    return SB_OK;
}

static int append_run(sb_store_t *st, sb_store__req_t *const *g, size_t n) {
    lit_t l[N_APPEND] = {{0}};
    append_lits(st, g, n, l);
    sb_store__q_t *q = sb_store__q(st, SB_SQL_MSG_APPEND_GROUP);
    int64_t next = q ? sb_store__newest_next_id(st) : 0;
    if (next)
        sb_store__bind_int(q, N_APPEND + 1, next);
    else if (q)
        sb_store__bind_str(q, N_APPEND + 1, SB_STR_NULL);
    int rc = !q ? SB_EIO : bind_lits(q, l, N_APPEND) ? sb_store__lock_appends(st) : SB_ENOMEM;
    if (rc == SB_OK)
        rc = read_appended(q, g, n);
    free_lits(l, N_APPEND);
    return rc;
}

/* Confirmations (the user_ids arguments of either kind) by one statement. */
static int delivered_run(sb_store_t *st, sb_store__sql_t sql, sb_store__req_t *const *g, size_t n) {
    lit_t l[2] = {{0}};
    for (size_t k = 0; k < n; k++) {
        const sb_store__user_ids_args_t *a = sql == SB_SQL_MSG_DELIVERED_GROUP
                                                 ? &g[k]->args.message_mark_delivered
                                                 : &g[k]->args.notification_mark_delivered;
        for (size_t i = 0; i < a->n_ids; i++) {
            lit_text(&l[0], a->user.p);
            lit_int(&l[1], a->ids[i]);
        }
    }
    sb_store__q_t *q = sb_store__q(st, sql);
    int rc = !q ? SB_EIO : bind_lits(q, l, 2) ? sb_store__exec(q) : SB_ENOMEM;
    free_lits(l, 2);
    return rc;
}

int sb_store__run_group(sb_store_t *st, sb_store__req_t *const *g, size_t n) {
    for (size_t k = 0; k < n; k++)
        memset(&g[k]->res, 0, sizeof g[k]->res);
    switch (sb_store__group_kind(g[0])) {
    case KIND_APPEND:
        return append_run(st, g, n);
    case KIND_DELIVERED:
        return delivered_run(st, SB_SQL_MSG_DELIVERED_GROUP, g, n);
    case KIND_NOTIF_DELIVERED:
        return delivered_run(st, SB_SQL_NOTIF_DELIVERED_GROUP, g, n);
    default:
        return SB_EINVAL;
    }
}
