/* Which store thread runs a request. The PostgreSQL store has one thread
 * per pooled connection (store_pg.c); each thread runs its requests in the
 * order they were submitted, the threads run side by side. So every request
 * goes to the thread picked by a hash of the thing it acts on: all the
 * requests on one conversation (its messages, history, members, read
 * receipts), one user's delivery state, notifications and saved sessions,
 * one post, one document, one pair of users, one idempotency key keep their
 * order, and a read submitted after a write on the same thing sees it
 * (docs/architecture.md, "Store threads"). Requests on different things may
 * commit in any order, as they would on two servers sharing the database,
 * with one exception: every message and notification insert runs on the
 * first thread, so each stream's ids commit, and complete, in id order.
 * Delivery relies on that: a device is sent a user's events in increasing
 * id order and its recovery offset confirms everything up to the newest id
 * it got, so an id that completed after a higher one would be skipped live
 * and, after a reconnect with that offset, taken as had. What must see
 * those inserts in order goes with them: the conversations (history,
 * members, read receipts) and the notification list. The other threads
 * take users, delivery state, sessions, friends, posts, documents and keys.
 * SQLite has one thread: everything goes to it. */
#include "store/store_internal.h"

#include <string.h>

/* A message room "conversation:<id>" is the conversation <id>: its
 * messages and its members route together. */
static sb_str_t conversation_of(sb_str_t room) {
    static const char prefix[] = "conversation:";
    size_t n = sizeof prefix - 1;
    if (room.p && room.n > n && memcmp(room.p, prefix, n) == 0)
        return (sb_str_t){room.p + n, room.n - n};
    return room;
}

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

static sb_str_t first_member(const char *const *members, size_t n) {
    return n ? (sb_str_t){members[0], strlen(members[0])} : SB_STR_NULL;
}

/* The key of r: what its operation acts on. A switch without default, so
 * that a new operation cannot be added without saying where it goes. */
static uint64_t key_hash(const sb_store__req_t *r) {
    sb_str_t k = SB_STR_NULL;
    switch (r->op->id) {
    case SB_STORE__OP_user_upsert:
        k = r->args.user_upsert.id;
        break;
    case SB_STORE__OP_user_get:
        k = r->args.user_get.id;
        break;
    case SB_STORE__OP_conversation_members:
        k = r->args.conversation_members.id;
        break;
    case SB_STORE__OP_conversation_delete:
        k = r->args.conversation_delete.id;
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
    case SB_STORE__OP_conversation_create: {
        const sb_store__conversation_create_args_t *a = &r->args.conversation_create;
        /* A generated id is new: nothing submitted before can be about it. */
        k = a->id.p ? a->id : first_member(a->members, a->n_members);
        break;
    }
    case SB_STORE__OP_conversation_direct:
        k = r->args.conversation_direct.id;
        break;
    case SB_STORE__OP_conversation_is_member:
        k = r->args.conversation_is_member.conversation;
        break;
    case SB_STORE__OP_conversation_update:
        k = r->args.conversation_update.id;
        break;
    case SB_STORE__OP_message_append:
        k = conversation_of(r->args.message_append.room);
        break;
    case SB_STORE__OP_message_history:
        k = conversation_of(r->args.message_history.room);
        break;
    case SB_STORE__OP_message_mark_read:
        k = conversation_of(r->args.message_mark_read.room);
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
    case SB_STORE__OP_http_key_put:
        k = r->args.http_key_put.key;
        break;
    case SB_STORE__OP_notification_create:
        k = r->args.notification_create.user;
        break;
    case SB_STORE__OP_notification_list:
        k = r->args.notification_list.user;
        break;
    case SB_STORE__OP_notification_mark_read:
        k = r->args.notification_mark_read.user;
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
        return hash_pair(r->args.friend_request.a, r->args.friend_request.b);
    case SB_STORE__OP_friend_check:
        return hash_pair(r->args.friend_check.a, r->args.friend_check.b);
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
    return hash_str(FNV_BASIS, k);
}

/* True for the requests of the first thread: those that take a delivery
 * stream's next id, and those that must see them in submission order. */
static bool on_first_thread(const sb_store__req_t *r) {
    switch (r->op->id) {
    case SB_STORE__OP_message_append:
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
        return true;
    default:
        return false;
    }
}

size_t sb_store__route(const sb_store_t *st, const sb_store__req_t *r) {
    if (st->n_shards <= 1 || on_first_thread(r))
        return 0;
    return (size_t)(key_hash(r) % st->n_shards);
}
