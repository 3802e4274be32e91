/* Notifications: stored rows, pending for their user until a device
 * confirms notification:new (delivery.c); notification:list and
 * notification:mark_read. Also
 * registers the rest of the social group (social_friends.c, social_posts.c),
 * which notify through sb_feat_notify(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "features/features_internal.h"

#define SB_NOTIF_LIST_MAX 100
#define SB_NOTIF_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)

/* {id, type, title, message, data, isRead, createdAt}; data null when absent. */
json_t *sb_feat_notification_json(const sb_store_notification_t *n) {
    char at[32];
    sb_feat_iso_time(n->created_at_ms, at);
    json_t *data = n->data ? json_loads(n->data, JSON_DECODE_ANY, NULL) : NULL;
    return json_pack("{s:I,s:s,s:s,s:s,s:o,s:b,s:s}", "id", (json_int_t)n->id, "type", n->type,
                     "title", n->title, "message", n->message, "data", data ? data : json_null(),
                     "isRead", n->is_read, "createdAt", at);
}

json_t *sb_features_notification_json(const sb_store_notification_t *n) {
    return sb_feat_notification_json(n);
}

/* ---- creating and delivering ------------------------------------------------------- */

typedef struct {
    sb_features_t *f;
    sb_features_notify_cb cb;
    void *ud;
} notify_t;

/* Every device of the user that is connected gets it now, asking for an
 * ack; it stays pending until one confirms (delivery.c). */
static void deliver_live(sb_features_t *f, const sb_store_notification_t *n, json_t *j) {
    char *text = json_dumps(j, SB_NOTIF_JSON_FLAGS);
    json_decref(j);
    if (text)
        sb_feat_delivery_live(f, SB_STREAM_NOTIFICATIONS, n->user_id, n->id, sb_cstr(text));
    free(text);
}

static void on_notification_stored(void *ud, int rc, const sb_store_notification_t *n) {
    notify_t *ctx = ud;
    json_t *j = rc == SB_OK ? sb_feat_notification_json(n) : NULL;
    if (rc == SB_OK && !j)
        rc = SB_ENOMEM;
    if (ctx->cb) {
        char *text = j ? json_dumps(j, SB_NOTIF_JSON_FLAGS) : NULL;
        ctx->cb(ctx->ud, j && !text ? SB_ENOMEM : rc, text ? sb_cstr(text) : SB_STR_NULL);
        free(text);
    }
    if (j)
        deliver_live(ctx->f, n, j);
    else if (rc != SB_OK && !ctx->cb)
        sb_log_limited(&ctx->f->log_limit, SB_LOG_WARN, "notification store",
                       "notification not stored: %s", sb_strerror(rc));
    free(ctx);
}

int sb_features_notify(sb_features_t *f, const sb_store_notification_in_t *in,
                       sb_features_notify_cb cb, void *ud) {
    notify_t *ctx = malloc(sizeof *ctx);
    if (!ctx)
        return SB_ENOMEM;
    *ctx = (notify_t){.f = f, .cb = cb, .ud = ud};
    sb_store_notification_in_t row = *in;
    row.created_at_ms = sb_wall_ms();
    int rc = sb_store_notification_create(f->cfg.store, &row, on_notification_stored, ctx);
    if (rc != SB_OK)
        free(ctx);
    return rc;
}

void sb_feat_notify(sb_features_t *f, const char *user_id, const char *type, const char *title,
                    const char *message, json_t *data) {
    char *text = data ? json_dumps(data, SB_NOTIF_JSON_FLAGS) : NULL;
    json_decref(data);
    sb_store_notification_in_t in = {.user_id = sb_cstr(user_id), .type = sb_cstr(type),
                                     .title = sb_cstr(title), .message = sb_cstr(message),
                                     .data = text ? sb_cstr(text) : SB_STR_NULL};
    int rc = sb_features_notify(f, &in, NULL, NULL);
    if (rc != SB_OK)
        sb_log_limited(&f->log_limit, SB_LOG_WARN, "notification store",
                       "%s notification for %s not stored: %s", type, user_id, sb_strerror(rc));
    free(text);
}

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
