/* Users, conversations and messages: each operation is a submit function
 * (loop thread: check, copy, queue) next to its exec function (store thread:
 * SQL). The comment above each exec says which argument slot holds what. */
#include "store/store_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "core/err.h"

/* ---- users ------------------------------------------------------------------ */

/* s0 id, s1 name, s2 avatar; i0 last_seen_ms. */
static int exec_user_upsert(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_USER_UPSERT);
    if (!s)
        return SB_EIO;
    sb_store__bind_slots(s, r, 3);
    sqlite3_bind_int64(s, 4, r->i[0]);
    return sb_store__exec(st, s);
}

/* s0 id. */
static int exec_user_get(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_USER_GET);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    int rc = sb_store__step_one(st, s);
    if (rc != SB_OK)
        return rc;
    bool oom = false;
    sb_store_user_t *u = &r->res.user;
    u->id = sb_store__col(r, s, 0, &oom);
    u->name = sb_store__col(r, s, 1, &oom);
    u->avatar = sb_store__col(r, s, 2, &oom);
    u->last_seen_ms = sqlite3_column_int64(s, 3);
    return oom ? SB_ENOMEM : SB_OK;
}

static const sb_store__op_t op_user_upsert = {"user_upsert", true, SB_STORE__K_DONE,
                                              exec_user_upsert};
static const sb_store__op_t op_user_get = {"user_get", false, SB_STORE__K_USER, exec_user_get};

int sb_store_user_upsert(sb_store_t *st, sb_str_t id, sb_str_t name, sb_str_t avatar,
                         int64_t last_seen_ms, sb_store_done_cb cb, void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_ID) || !sb_store__valid(name, 0, SB_STORE_MAX_NAME) ||
        !sb_store__valid_opt(avatar, 0, SB_STORE_MAX_URL))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_user_upsert, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.done = cb;
    r->i[0] = last_seen_ms;
    return sb_store__submit(st, r,
                            sb_store__str(r, 0, id, false) && sb_store__str(r, 1, name, false) &&
                                sb_store__str(r, 2, avatar, true));
}

int sb_store_user_get(sb_store_t *st, sb_str_t id, sb_store_user_cb cb, void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_user_get, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.user = cb;
    return sb_store__submit(st, r, sb_store__str(r, 0, id, false));
}

/* ---- conversations ----------------------------------------------------------------- */

/* Returns SB_OK if the conversation was created, SB_EEXISTS if the id is taken. */
static int insert_conversation(sb_store_t *st, const char *id, const char *title, bool direct,
                               int64_t now) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_CONV_INSERT);
    if (!s)
        return SB_EIO;
    sb_store__bind_cstr(s, 1, id);
    sb_store__bind_cstr(s, 2, title);
    sqlite3_bind_int(s, 3, direct);
    sqlite3_bind_int64(s, 4, now);
    int rc = sb_store__exec(st, s);
    if (rc == SB_OK && sqlite3_changes(st->db) == 0)
        rc = SB_EEXISTS;
    return rc;
}

static int insert_members(sb_store_t *st, const char *id, const char *const *users, size_t n) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_MEMBER_INSERT);
    if (!s)
        return SB_EIO;
    sb_store__bind_cstr(s, 1, id);
    for (size_t i = 0; i < n; i++) {
        sb_store__bind_cstr(s, 2, users[i]);
        int rc = sb_store__exec(st, s);
        if (rc != SB_OK)
            return rc;
    }
    return SB_OK;
}

/* 16 random hex digits in the request's arena, or NULL. */
static const char *random_id(sb_store__req_t *r) {
    static const char hex[] = "0123456789abcdef";
    uint8_t b[8];
    char *id = sb_store__alloc(r, 17);
    if (!id || getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return NULL;
    for (size_t i = 0; i < sizeof b; i++) {
        id[2 * i] = hex[b[i] >> 4];
        id[2 * i + 1] = hex[b[i] & 15];
    }
    id[16] = '\0';
    return id;
}

/* s0 id (NULL: generate one), s1 title; i0 created_at_ms; list: members. */
static int exec_conv_create(sb_store_t *st, sb_store__req_t *r) {
    const char *id = r->s[0];
    int rc = SB_EEXISTS;
    /* A generated id colliding is a 2^-64 event; a few retries settle it. */
    for (int attempt = 0; attempt < 4 && rc == SB_EEXISTS; attempt++) {
        if (!r->s[0] && !(id = random_id(r)))
            return SB_EIO;
        rc = insert_conversation(st, id, r->s[1], false, r->i[0]);
        if (r->s[0])
            break;
    }
    if (rc == SB_OK)
        rc = insert_members(st, id, r->list, r->nlist);
    r->res.id = id;
    return rc;
}

/* s0 the direct id, s1 a, s2 b; i0 created_at_ms. */
static int exec_conv_direct(sb_store_t *st, sb_store__req_t *r) {
    int rc = insert_conversation(st, r->s[0], NULL, true, r->i[0]);
    if (rc == SB_OK)
        rc = insert_members(st, r->s[0], &r->s[1], 2);
    else if (rc == SB_EEXISTS)
        rc = SB_OK; /* made on an earlier call */
    r->res.id = r->s[0];
    return rc;
}

static int conversation_exists(sb_store_t *st, const sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_CONV_EXISTS);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    return sb_store__step_one(st, s);
}

/* s0 id. */
static int exec_conv_members(sb_store_t *st, sb_store__req_t *r) {
    int rc = conversation_exists(st, r);
    if (rc != SB_OK)
        return rc;
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_MEMBER_LIST);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    return sb_store__collect_strs(st, r, s, &r->res.strs);
}

/* s0 id, s1 user. */
static int exec_conv_is_member(sb_store_t *st, sb_store__req_t *r) {
    int rc = conversation_exists(st, r);
    if (rc != SB_OK)
        return rc;
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_MEMBER_CHECK);
    if (!s)
        return SB_EIO;
    sb_store__bind_slots(s, r, 2);
    rc = sb_store__step_one(st, s);
    r->res.yes = rc == SB_OK;
    return rc == SB_ENOTFOUND ? SB_OK : rc;
}

static const sb_store__op_t op_conv_create = {"conversation_create", true, SB_STORE__K_ID,
                                              exec_conv_create};
static const sb_store__op_t op_conv_direct = {"conversation_direct", true, SB_STORE__K_ID,
                                              exec_conv_direct};
static const sb_store__op_t op_conv_members = {"conversation_members", false, SB_STORE__K_STRS,
                                               exec_conv_members};
static const sb_store__op_t op_conv_is_member = {"conversation_is_member", false, SB_STORE__K_BOOL,
                                                 exec_conv_is_member};

int sb_store_conversation_create(sb_store_t *st, sb_str_t id, const sb_str_t *members, size_t n,
                                 sb_str_t title, sb_store_id_cb cb, void *ud) {
    if (!sb_store__valid_opt(id, 1, SB_STORE_MAX_ID) || sb_str_has_prefix(id, SB_LIT("dm:")) ||
        !sb_store__valid_list(members, n, 0, SB_STORE_MAX_ID) ||
        !sb_store__valid_opt(title, 0, SB_STORE_MAX_TITLE))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_conv_create, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.id = cb;
    r->i[0] = sb_wall_ms();
    return sb_store__submit(st, r,
                            sb_store__str(r, 0, id, true) && sb_store__str(r, 1, title, true) &&
                                sb_store__strlist(r, members, n));
}

/* Writes "dm:<len(x)>:<x>:<y>", x < y bytewise, into slot 0. The length
 * prefix makes the encoding injective whatever bytes the ids contain. */
static bool direct_id(sb_store__req_t *r, sb_str_t a, sb_str_t b) {
    size_t common = a.n < b.n ? a.n : b.n;
    int cmp = memcmp(a.p, b.p, common);
    if (cmp > 0 || (cmp == 0 && a.n > b.n)) {
        sb_str_t t = a;
        a = b;
        b = t;
    }
    size_t cap = a.n + b.n + 32;
    char *p = sb_store__alloc(r, cap);
    if (!p)
        return false;
    int n = snprintf(p, cap, "dm:%zu:%.*s:%.*s", a.n, (int)a.n, a.p, (int)b.n, b.p);
    r->s[0] = p;
    r->sn[0] = (size_t)n;
    return true;
}

int sb_store_conversation_direct(sb_store_t *st, sb_str_t a, sb_str_t b, sb_store_id_cb cb,
                                 void *ud) {
    if (!sb_store__valid(a, 1, SB_STORE_MAX_ID) || !sb_store__valid(b, 1, SB_STORE_MAX_ID) ||
        sb_str_eq(a, b))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_conv_direct, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.id = cb;
    r->i[0] = sb_wall_ms();
    return sb_store__submit(st, r,
                            direct_id(r, a, b) && sb_store__str(r, 1, a, false) &&
                                sb_store__str(r, 2, b, false));
}

int sb_store_conversation_members(sb_store_t *st, sb_str_t id, sb_store_strs_cb cb, void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_CONV_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_conv_members, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.strs = cb;
    return sb_store__submit(st, r, sb_store__str(r, 0, id, false));
}

int sb_store_conversation_is_member(sb_store_t *st, sb_str_t id, sb_str_t user, sb_store_bool_cb cb,
                                    void *ud) {
    if (!sb_store__valid(id, 1, SB_STORE_MAX_CONV_ID) || !sb_store__valid(user, 1, SB_STORE_MAX_ID))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_conv_is_member, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.yes = cb;
    return sb_store__submit(st, r,
                            sb_store__str(r, 0, id, false) && sb_store__str(r, 1, user, false));
}

/* ---- messages -------------------------------------------------------------------------- */

bool sb_store__read_msg(sb_store__req_t *r, sqlite3_stmt *s, sb_store_msg_t *m) {
    bool oom = false;
    m->id = sqlite3_column_int64(s, 0);
    m->room = sb_store__col(r, s, 1, &oom);
    m->sender_id = sb_store__col(r, s, 2, &oom);
    m->content = sb_store__col(r, s, 3, &oom);
    m->type = sb_store__col(r, s, 4, &oom);
    m->created_at_ms = sqlite3_column_int64(s, 5);
    m->sender_name = sqlite3_column_type(s, 6) == SQLITE_TEXT ? sb_store__col(r, s, 6, &oom) : NULL;
    return !oom;
}

/* Steps s, reading at most `limit` message rows into r->res.msgs. */
static int collect_msgs(sb_store_t *st, sb_store__req_t *r, sqlite3_stmt *s, int64_t limit) {
    sb_store_msg_t *v = sb_store__alloc(r, (size_t)limit * sizeof *v);
    if (!v)
        return SB_ENOMEM;
    size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < (size_t)limit)
        if (!sb_store__read_msg(r, s, &v[n++]))
            return SB_ENOMEM;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sb_store__err(st, rc);
    r->res.msgs.v = v;
    r->res.msgs.n = n;
    return SB_OK;
}

/* s0 room, s1 sender_id, s2 content, s3 type, s4 idempotency key (optional);
 * i0 created_at_ms; list: recipients. */
static int exec_msg_append(sb_store_t *st, sb_store__req_t *r) {
    int rc = r->s[4] ? sb_store__msg_key_replay(st, r) : SB_ENOTFOUND;
    if (rc != SB_ENOTFOUND)
        return rc;
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_MSG_INSERT);
    if (!s)
        return SB_EIO;
    sb_store__bind_slots(s, r, 4);
    sqlite3_bind_int64(s, 5, r->i[0]);
    rc = sb_store__exec(st, s);
    if (rc != SB_OK)
        return rc;
    int64_t id = sqlite3_last_insert_rowid(st->db);
    if (r->s[4] && (rc = sb_store__msg_key_remember(st, r, id)) != SB_OK)
        return rc;
    if (r->nlist && !(s = sb_store__stmt(st, SB_SQL_DELIVERY_INSERT)))
        return SB_EIO;
    for (size_t i = 0; i < r->nlist && rc == SB_OK; i++) {
        sqlite3_bind_int64(s, 1, id);
        sb_store__bind_cstr(s, 2, r->list[i]);
        rc = sb_store__exec(st, s);
    }
    r->res.msg = (sb_store_msg_t){id, r->s[0], r->s[1], r->s[2], r->s[3], r->i[0], NULL, false};
    return rc;
}

/* s0 room; i0 before_id (0: newest), i1 limit. */
static int exec_msg_history(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_MSG_HISTORY);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    sqlite3_bind_int64(s, 2, r->i[0] ? r->i[0] : INT64_MAX);
    sqlite3_bind_int64(s, 3, r->i[1]);
    return collect_msgs(st, r, s, r->i[1]);
}

/* s0 user, s1 room; i0 read_at_ms; ids. */
static int exec_msg_mark_read(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_MSG_READ);
    int64_t *out = sb_store__alloc(r, r->nids * sizeof *out);
    if (!s || !out)
        return !s ? SB_EIO : SB_ENOMEM;
    size_t n = 0;
    sb_store__bind_s(s, 2, r, 0);
    sb_store__bind_s(s, 3, r, 1);
    sqlite3_bind_int64(s, 4, r->i[0]);
    for (size_t i = 0; i < r->nids; i++) {
        sqlite3_bind_int64(s, 1, r->ids[i]);
        int rc = sb_store__exec(st, s);
        if (rc != SB_OK)
            return rc;
        if (sqlite3_changes(st->db) > 0) /* a message of the room, not the reader's, not yet read */
            out[n++] = r->ids[i];
    }
    r->res.ids = (sb_store_ids_t){out, n};
    return SB_OK;
}

/* s0 user; i0 after_id, i1 limit. */
static int exec_msg_undelivered(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_MSG_UNDELIVERED);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    sqlite3_bind_int64(s, 2, r->i[1]);
    sqlite3_bind_int64(s, 3, r->i[0]);
    return collect_msgs(st, r, s, r->i[1]);
}

/* s0 user; ids. */
static int exec_msg_mark_delivered(sb_store_t *st, sb_store__req_t *r) {
    return sb_store__exec_per_id(st, r, SB_SQL_MSG_DELIVERED);
}

/* s0 user; i0 upto_id. */
static int exec_msg_delivered_upto(sb_store_t *st, sb_store__req_t *r) {
    sqlite3_stmt *s = sb_store__stmt(st, SB_SQL_MSG_DELIVERED_UPTO);
    if (!s)
        return SB_EIO;
    sb_store__bind_s(s, 1, r, 0);
    sqlite3_bind_int64(s, 2, r->i[0]);
    return sb_store__exec(st, s);
}

static const sb_store__op_t op_msg_append = {"message_append", true, SB_STORE__K_MSG,
                                             exec_msg_append};
static const sb_store__op_t op_msg_history = {"message_history", false, SB_STORE__K_MSGS,
                                              exec_msg_history};
static const sb_store__op_t op_msg_mark_read = {"message_mark_read", true, SB_STORE__K_IDS,
                                                exec_msg_mark_read};
static const sb_store__op_t op_msg_undelivered = {"message_undelivered", false, SB_STORE__K_MSGS,
                                                  exec_msg_undelivered};
static const sb_store__op_t op_msg_mark_delivered = {"message_mark_delivered", true,
                                                     SB_STORE__K_DONE, exec_msg_mark_delivered};
static const sb_store__op_t op_msg_delivered_upto = {"message_delivered_upto", true,
                                                     SB_STORE__K_DONE, exec_msg_delivered_upto};

int sb_store_message_append(sb_store_t *st, const sb_store_message_in_t *m, sb_store_msg_cb cb,
                            void *ud) {
    if (!m || !sb_store__valid(m->room, 1, SB_STORE_MAX_ROOM) ||
        !sb_store__valid(m->sender_id, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(m->content, 0, st->cfg.max_content) ||
        !sb_store__valid(m->type, 0, SB_STORE_MAX_NAME) ||
        !sb_store__valid_list(m->recipients, m->n_recipients, 0, SB_STORE_MAX_ID) ||
        !sb_store__valid_opt(m->idempotency_key, 1, SB_STORE_MAX_KEY))
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_msg_append, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.msg = cb;
    r->i[0] = m->created_at_ms;
    sb_str_t type = m->type.n ? m->type : SB_LIT("text");
    return sb_store__submit(
        st, r,
        sb_store__str(r, 0, m->room, false) && sb_store__str(r, 1, m->sender_id, false) &&
            sb_store__str(r, 2, m->content, false) && sb_store__str(r, 3, type, false) &&
            sb_store__str(r, 4, m->idempotency_key, true) &&
            sb_store__strlist(r, m->recipients, m->n_recipients));
}

int sb_store_message_history(sb_store_t *st, sb_str_t room, int64_t before_id, int limit,
                             sb_store_msgs_cb cb, void *ud) {
    if (!sb_store__valid(room, 1, SB_STORE_MAX_ROOM) || before_id < 0 || limit < 1 ||
        limit > SB_STORE_MAX_HISTORY)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_msg_history, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.msgs = cb;
    r->i[0] = before_id;
    r->i[1] = limit;
    return sb_store__submit(st, r, sb_store__str(r, 0, room, false));
}

int sb_store_message_mark_read(sb_store_t *st, sb_str_t user, sb_str_t room, const int64_t *ids,
                               size_t n, sb_store_ids_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) ||
        !sb_store__valid(room, 1, SB_STORE_MAX_ROOM) || !ids || n < 1 || n > SB_STORE_MAX_LIST)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_msg_mark_read, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.ids = cb;
    r->i[0] = sb_wall_ms();
    return sb_store__submit(st, r,
                            sb_store__str(r, 0, user, false) && sb_store__str(r, 1, room, false) &&
                                sb_store__idlist(r, ids, n));
}

int sb_store_message_undelivered(sb_store_t *st, sb_str_t user, int64_t after_id, int limit,
                                 sb_store_msgs_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) || after_id < 0 || limit < 1 ||
        limit > SB_STORE_MAX_PAGE)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_msg_undelivered, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.msgs = cb;
    r->i[0] = after_id;
    r->i[1] = limit;
    return sb_store__submit(st, r, sb_store__str(r, 0, user, false));
}

int sb_store_message_mark_delivered(sb_store_t *st, sb_str_t user, const int64_t *ids, size_t n,
                                    sb_store_done_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) || !ids || n < 1 || n > SB_STORE_MAX_LIST)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_msg_mark_delivered, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.done = cb;
    return sb_store__submit(st, r, sb_store__str(r, 0, user, false) && sb_store__idlist(r, ids, n));
}

int sb_store_message_delivered_upto(sb_store_t *st, sb_str_t user, int64_t upto_id,
                                    sb_store_done_cb cb, void *ud) {
    if (!sb_store__valid(user, 1, SB_STORE_MAX_ID) || upto_id < 0)
        return SB_EINVAL;
    sb_store__req_t *r = sb_store__req_new(&op_msg_delivered_upto, ud);
    if (!r)
        return SB_ENOMEM;
    r->cb.done = cb;
    r->i[0] = upto_id;
    return sb_store__submit(st, r, sb_store__str(r, 0, user, false));
}
