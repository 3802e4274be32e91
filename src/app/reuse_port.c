/* The Engine.IO side of --reuse-port: slot <-> session id prefix. */
#include "app/reuse_port.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

/* Slot i is the i-th base64url character: every prefix is a valid sid
 * character, and SB_HANDOFF_SLOTS (64) slots use them all. */
static const char slot_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

_Static_assert(sizeof slot_chars - 1 == SB_HANDOFF_SLOTS, "one sid character per slot");

sb_http_handoff_t *sb_reuse_port_open(sb_http_server_t *http, const char *dir, int port,
                                      char *sid_prefix, char *err, size_t cap) {
    char def[64];
    if (!dir || !dir[0]) {
        snprintf(def, sizeof def, "/tmp/switchboard-handoff-%d", port);
        dir = def;
    }
    sb_http_handoff_t *h = sb_http_handoff_create(http, dir, err, cap);
    if (!h)
        return NULL;
    int slot = sb_http_handoff_slot(h);
    *sid_prefix = slot_chars[slot];
    sb_log_info("reuse-port: hand-off slot %d in %s (session ids start with '%c')", slot, dir,
                *sid_prefix);
    return h;
}

int sb_reuse_port_hand_off(sb_http_req_t *req, char prefix, void *ud) {
    const char *at = prefix ? strchr(slot_chars, prefix) : NULL;
    if (!at)
        return SB_ENOTFOUND;
    return sb_http_handoff_send(ud, req, (int)(at - slot_chars));
}
