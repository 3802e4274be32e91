/* Helpers shared by live*.c. */
#include <stdlib.h>
#include <string.h>

#include "features/live_internal.h"

const char *sb_feat_live_id_arg(sb_sio_event_t *ev, json_t *arg, const char *field) {
    json_t *v = json_is_object(arg) ? json_object_get(arg, field) : arg;
    const char *id = sb_features_text(v, 1, SB_LIVE_ID_MAX);
    if (!id)
        sb_feat_fail(ev, "invalid_payload", "%s must be a string of 1-%d bytes", field,
                     SB_LIVE_ID_MAX);
    return id;
}

char *sb_feat_live_dump(sb_sio_event_t *ev, json_t *v, size_t max, size_t *n) {
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    *n = text ? strlen(text) : 0;
    if (!text)
        sb_feat_fail(ev, "server_busy", "out of memory");
    else if (*n > max)
        sb_feat_fail(ev, "payload_too_large", "the value exceeds %zu bytes of JSON", max);
    if (text && *n <= max)
        return text;
    free(text);
    return NULL;
}

json_t *sb_feat_live_number(double v) {
    /* 2^53: every integer below it is exact in a double. */
    if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(json_int_t)v)
        return json_integer((json_int_t)v);
    return json_real(v);
}
