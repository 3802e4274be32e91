/* Notifications: stored, then delivered as notification:new to every
 * connected device of their user, pending until a device confirms
 * (delivery.c). */
#include <stdlib.h>

#include "core/err.h"
#include "core/log.h"
#include "features/features_internal.h"

#define SB_NOTIF_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)

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
        sb_feat_delivery_live(f, SB_STREAM_NOTIFICATIONS, n->user_id, n->id, n->prev,
                              sb_cstr(text));
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
    sb_store_notification_in_t in = {.user_id = sb_cstr(user_id),
                                     .type = sb_cstr(type),
                                     .title = sb_cstr(title),
                                     .message = sb_cstr(message),
                                     .data = text ? sb_cstr(text) : SB_STR_NULL};
    int rc = sb_features_notify(f, &in, NULL, NULL);
    if (rc != SB_OK)
        sb_log_limited(&f->log_limit, SB_LOG_WARN, "notification store",
                       "%s notification for %s not stored: %s", type, user_id, sb_strerror(rc));
    free(text);
}
