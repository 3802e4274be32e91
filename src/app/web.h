/* The web pages at / (--web-root, --no-web) and the Socket.IO browser client
 * at <path>socket.io.min.js, as Node's serveClient does. */
#ifndef SB_APP_WEB_H
#define SB_APP_WEB_H

#include <stddef.h>

#include "app/server.h"
#include "app/config.h"

typedef struct sb_app_web sb_app_web_t;

typedef struct {
    const unsigned char *data; /* NULL or n 0: no client to serve */
    size_t n;
} sb_app_web_client_t;

/* Routes the folder and the client (copied) on `srv`; *out is NULL with
 * --no-web. Returns SB_OK, or SB_ENOMEM with err set. */
int sb_app_web_install(sb_server_t *srv, const sb_config_t *cfg, const sb_app_web_client_t *client,
                       sb_app_web_t **out, char *err, size_t cap);
/* After the server that used it is destroyed. */
void sb_app_web_destroy(sb_app_web_t *w);

#endif
