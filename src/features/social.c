/* The social group's registry, and notification:list and
 * notification:mark_read. Friends and posts live in social_friends.c and
 * social_posts.c, which notify through sb_feat_notify() (notify.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "features/features_internal.h"

#define SB_NOTIF_LIST_MAX 100

/* ---- notification:list ------------------------------------------------------------ */

static void on_list_page(void *ud, int rc, const sb_store_notifications_t *page) {
    sb_feat_call_t *call = ud;
    if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
    } else {
        json_t *list = json_array();
        for (size_t i = 0; i < page->n; i++)
            json_array_append_new(list, sb_feat_notification_json(&page->v[i]));
        sb_feat_call_reply(call, json_pack("{s:o}", "notifications", list));
    }
    sb_feat_call_end(call);
}

/* notification:list {unreadOnly?} (no argument: everything). */
static void notification_on_list(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    json_t *unread = json_is_object(arg) ? json_object_get(arg, "unreadOnly") : NULL;
    bool shaped = !arg || json_is_null(arg) || json_is_object(arg);
    if (!shaped || (unread && !json_is_boolean(unread))) {
        sb_feat_fail(ev, "invalid_payload", "expected {unreadOnly?: boolean}");
        json_decref(arg);
        return;
    }
    bool unread_only = json_is_true(unread);
    json_decref(arg);
    sb_feat_call_t *call = sb_feat_call_begin(c, ev, 0);
    if (!call)
        return;
    int rc = sb_store_notification_list(c->f->cfg.store, sb_cstr(c->user->id), unread_only,
                                        SB_NOTIF_LIST_MAX, on_list_page, call);
    if (rc != SB_OK) {
        sb_feat_call_abort(call, rc);
    }
}

/* ---- notification:mark_read ------------------------------------------------------- */

static int64_t *mark_id_of(sb_feat_call_t *call) { return (int64_t *)(void *)call->extra; }

static void on_marked_read(void *ud, int rc) {
    sb_feat_call_t *call = ud;
    int64_t id = *mark_id_of(call);
    if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
    } else {
        sb_feat_emit_user(call->f, call->user_id, "notification:read",
                          json_pack("{s:I}", "notificationId", (json_int_t)id), NULL);
        sb_feat_call_reply(call, json_pack("{s:b,s:I}", "ok", 1, "notificationId", (json_int_t)id));
    }
    sb_feat_call_end(call);
}

/* A notification id: a positive integer, bare or as {notificationId}. */
static bool mark_read_id(json_t *arg, int64_t *id) {
    json_t *v = json_is_object(arg) ? json_object_get(arg, "notificationId") : arg;
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return false;
    *id = json_integer_value(v);
    return true;
}

static void notification_on_mark_read(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    int64_t id;
    bool ok = mark_read_id(arg, &id);
    json_decref(arg);
    if (!ok) {
        sb_feat_fail(ev, "invalid_payload", "expected a notification id or {notificationId}");
        return;
    }
    sb_feat_call_t *call = sb_feat_call_begin(c, ev, sizeof id);
    if (!call)
        return;
    *mark_id_of(call) = id;
    int rc = sb_store_notification_mark_read(c->f->cfg.store, sb_cstr(c->user->id), id,
                                             on_marked_read, call);
    if (rc != SB_OK) {
        sb_feat_call_abort(call, rc);
    }
}

static const sb_feature_event_t notification_events[] = {
    {"notification:list", notification_on_list},
    {"notification:mark_read", notification_on_mark_read},
};

int sb_feat_social_init(sb_features_t *f) {
    int rc = sb_feat_register(f, notification_events,
                              sizeof notification_events / sizeof *notification_events);
    if (rc == SB_OK)
        rc = sb_feat_friends_init(f);
    return rc == SB_OK ? sb_feat_posts_init(f) : rc;
}
