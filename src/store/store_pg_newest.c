/* What a PostgreSQL member knows of each user's newest delivery, so that a
 * run of appends (store_groups.c) need not look it up. Every append of a
 * message hands each recipient the id of that user's previous one, which
 * MSG_APPEND_GROUP found with a probe of message_deliveries per recipient:
 * about a fifth of the statement, on the appends' connection, which orders
 * every append.
 *
 * What was learnt stays true while nobody else appends: the appends' lock
 * orders all appends (of every server on the database), and a member
 * learns from its own batches only once they committed. Whether someone
 * else appended in between shows in the ids: the run's first id is then not
 * the one after this member's last. The statement compares the two itself,
 * after taking its ids under the lock, and probes when they differ; the
 * member forgets everything it knew when a committed batch's first id was
 * not the expected one, or when a batch did not commit cleanly. */
#include "store/store_pg_internal.h"

#include <stdint.h>

#include "core/err.h"

/* Users remembered at most (a few MiB); past it the member starts over. */
#define NEWEST_MAX_USERS 65536

void sb_store__pg_newest_forget(sb_store__pg_t *pg) {
    sb_map_dispose(&pg->newest);
    sb_map_init(&pg->newest);
    pg->newest_upto = 0;
}

/* The values are id + 1 in the pointer: NULL means not known. */
_Static_assert(sizeof(void *) >= sizeof(int64_t), "an id must fit in the map's pointer");
int64_t sb_store__newest_known(sb_store_t *st, const char *user) {
    const sb_store__pg_t *pg = sb_store__pg_self(st);
    void *v = pg->newest_upto ? sb_map_get(&pg->newest, sb_cstr(user)) : NULL;
    return v ? (int64_t)(uintptr_t)v - 1 : -1;
}

int64_t sb_store__newest_next_id(sb_store_t *st) {
    const sb_store__pg_t *pg = sb_store__pg_self(st);
    return pg->newest_upto ? pg->newest_upto + 1 : 0;
}

static bool fresh_append(const sb_store__req_t *r) {
    return r->op->id == SB_STORE__OP_message_append && r->rc == SB_OK && !r->res.MSG.replayed &&
           r->res.MSG.id > 0;
}

/* After the batch from `first` committed: its fresh appends, in id order,
 * are each recipient's newest. */
void sb_store__pg_newest_learn(sb_store__pg_t *pg, const sb_store__req_t *first) {
    bool first_seen = false;
    for (const sb_store__req_t *r = first; r; r = r->next) {
        if (!fresh_append(r))
            continue;
        const sb_store__message_append_args_t *a = &r->args.message_append;
        int64_t id = r->res.MSG.id;
        if ((!first_seen && id != pg->newest_upto + 1) ||
            pg->newest.count + a->n_recipients > NEWEST_MAX_USERS)
            sb_store__pg_newest_forget(pg); /* another appended since, or full */
        first_seen = true;
        for (size_t u = 0; u < a->n_recipients; u++)
            if (sb_map_put(&pg->newest, sb_cstr(a->recipients[u]), (void *)(uintptr_t)(id + 1)) !=
                SB_OK) {
                sb_store__pg_newest_forget(pg);
                return;
            }
        pg->newest_upto = id;
    }
}
