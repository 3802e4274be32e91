/* The reference server's error answers ({"code":N,"message":...}, 400 or
 * 403), apart from server.c so that polling.c answers with them without
 * calling back into the request dispatch. */
#include <stdio.h>

#include "engineio/eio_internal.h"

static const char *const error_messages[] = {
    "Transport unknown", "Session ID unknown", "Bad handshake method",
    "Bad request",       "Forbidden",          "Unsupported protocol version",
};

void sb_eio__respond_error(sb_http_req_t *req, int code) {
    char body[96];
    int n =
        snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code, error_messages[code]);
    sb_http_respond(req, code == SB_EIO_ERR_FORBIDDEN ? 403 : 400, "application/json", body,
                    (size_t)n, NULL);
}
