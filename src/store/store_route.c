/* Which store thread runs a request. The PostgreSQL store has one thread
 * per pooled connection (store_pg.c); each runs its requests in the order
 * submitted, the threads side by side (docs/architecture.md, "Store
 * threads").
 *
 * Every message and notification insert runs on the first thread, so each
 * delivery stream's ids commit, and complete, in id order. Delivery relies
 * on that: a device is sent a user's events in increasing id order and its
 * recovery offset confirms everything up to the newest id it got, so an id
 * that completed after a higher one would be skipped live and, after a
 * reconnect with that offset, taken as had. What must see those inserts in
 * submission order goes with them: the conversations (history, members,
 * read receipts) and the notification list.
 *
 * Everything else goes to the thread picked by a hash of what it acts on:
 * one user's delivery state and saved sessions, one post, one document, one
 * pair of users, one idempotency key keep their order, and a read submitted
 * after a write on the same thing sees it. Requests on different things may
 * commit in any order, as on two servers sharing the database. SQLite has
 * one thread: everything goes to it. */
#include "store/store_internal.h"

#include <string.h>

/* FNV-1a, 64 bits: mixes every byte, so keys differing only at their end
 * (user-1, user-2, ...) still spread. */
static uint64_t hash_str(uint64_t h, sb_str_t s) {
    for (size_t i = 0; s.p && i < s.n; i++)
        h = (h ^ (unsigned char)s.p[i]) * 1099511628211ull;
    return h;
}

#define FNV_BASIS 1469598103934665603ull

/* {a, b} in either order is one key, as in sb_store__lock(). */
static uint64_t hash_pair(sb_str_t a, sb_str_t b) {
    bool swap = a.p && b.p && (a.n != b.n ? a.n > b.n : memcmp(a.p, b.p, a.n) > 0);
    uint64_t h = hash_str(FNV_BASIS, swap ? b : a);
    h = (h ^ 0xffu) * 1099511628211ull;
    return hash_str(h, swap ? a : b);
}

/* The key of r, what its operation acts on, into *hash; false for the first
 * thread's requests. A switch without default, so that a new operation
 * cannot be added without saying where it goes. */
static bool key_hash(const sb_store__req_t *r, uint64_t *hash) {
    sb_str_t k = SB_STR_NULL;
    switch (r->op->id) {
    case SB_STORE__OP_message_append: /* the first thread's: see the top */
    case SB_STORE__OP_message_history:
    case SB_STORE__OP_message_mark_read:
    case SB_STORE__OP_conversation_create:
    case SB_STORE__OP_conversation_direct:
    case SB_STORE__OP_conversation_members:
    case SB_STORE__OP_conversation_is_member:
    case SB_STORE__OP_conversation_update:
    case SB_STORE__OP_conversation_delete:
    case SB_STORE__OP_notification_create:
    case SB_STORE__OP_notification_list:
    case SB_STORE__OP_notification_mark_read:
        return false;
    case SB_STORE__OP_user_upsert:
        k = r->args.user_upsert.id;
        break;
    case SB_STORE__OP_user_get:
        k = r->args.user_get.id;
        break;
    case SB_STORE__OP_http_key_get:
        k = r->args.http_key_get.id;
        break;
    case SB_STORE__OP_friend_list:
        k = r->args.friend_list.id;
        break;
    case SB_STORE__OP_post_get:
        k = r->args.post_get.id;
        break;
    case SB_STORE__OP_doc_latest:
        k = r->args.doc_latest.id;
        break;
    case SB_STORE__OP_message_undelivered:
        k = r->args.message_undelivered.user;
        break;
    case SB_STORE__OP_message_mark_delivered:
        k = r->args.message_mark_delivered.user;
        break;
    case SB_STORE__OP_message_delivered_upto:
        k = r->args.message_delivered_upto.user;
        break;
    case SB_STORE__OP_message_floor_advance:
        k = r->args.message_floor_advance.id;
        break;
    case SB_STORE__OP_http_key_put:
        k = r->args.http_key_put.key;
        break;
    case SB_STORE__OP_notification_undelivered:
        k = r->args.notification_undelivered.user;
        break;
    case SB_STORE__OP_notification_mark_delivered:
        k = r->args.notification_mark_delivered.user;
        break;
    case SB_STORE__OP_notification_delivered_upto:
        k = r->args.notification_delivered_upto.user;
        break;
    case SB_STORE__OP_friend_request:
        *hash = hash_pair(r->args.friend_request.a, r->args.friend_request.b);
        return true;
    case SB_STORE__OP_friend_check:
        *hash = hash_pair(r->args.friend_check.a, r->args.friend_check.b);
        return true;
    case SB_STORE__OP_friend_accept:
        k = r->args.friend_accept.by_user;
        break;
    case SB_STORE__OP_post_register:
        k = r->args.post_register.id;
        break;
    case SB_STORE__OP_post_react:
        k = r->args.post_react.post_id;
        break;
    case SB_STORE__OP_post_comment:
        k = r->args.post_comment.post_id;
        break;
    case SB_STORE__OP_doc_version_add:
        k = r->args.doc_version_add.doc_id;
        break;
    case SB_STORE__OP_session_save:
        /* With its owner's other requests (a pid has one owner): a request
         * of that user acknowledged after a join finds the join saved. */
        k = r->args.session_save.owner.p ? r->args.session_save.owner : r->args.session_save.pid;
        break;
    case SB_STORE__OP_session_load:
        k = r->args.session_load.nsp;
        break;
    case SB_STORE__OP_backup:
    case SB_STORE__OP__COUNT:
        break;
    }
    *hash = hash_str(FNV_BASIS, k);
    return true;
}

size_t sb_store__route(const sb_store_t *st, const sb_store__req_t *r) {
    uint64_t h;
    return st->n_shards > 1 && key_hash(r, &h) ? (size_t)(h % st->n_shards) : 0;
}
