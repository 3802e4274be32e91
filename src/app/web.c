/* The web pages and the Socket.IO browser client. */
#include "app/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "http/static.h"

struct sb_app_web {
    sb_http_static_t *files;
    sb_http_asset_t *client;
    char client_path[256];
};

static int route_client(sb_server_t *srv, sb_app_web_t *w, const sb_app_web_client_t *client,
                        const char *eio_path) {
    if (!client || !client->data || client->n == 0) {
        sb_log_warn("web: this build has no Socket.IO browser client (run scripts/install-deps.sh "
                    "run, then make): %ssocket.io.min.js answers 404",
                    eio_path);
        return SB_OK;
    }
    /* Cached for an hour, as Node's serveClient does with its ETag. */
    w->client = sb_http_asset_create(client->data, client->n, "text/javascript; charset=utf-8",
                                     "public, max-age=3600");
    if (!w->client)
        return SB_ENOMEM;
    snprintf(w->client_path, sizeof w->client_path, "%ssocket.io.min.js", eio_path);
    /* Ahead of the Engine.IO route, which takes everything under its path. */
    return sb_http_route_first(sb_server_http(srv), w->client_path, sb_http_asset_handle,
                               w->client);
}

static void route_files(sb_server_t *srv, sb_app_web_t *w, const char *root) {
    int rc = sb_http_static_create(root, &w->files);
    if (rc == SB_OK) {
        sb_http_set_fallback(sb_server_http(srv), sb_http_static_handle, w->files);
        sb_log_info("web: serving %s at /", root);
    } else if (rc == SB_ENOTFOUND) {
        sb_log_info("web: no folder %s (--web-root): / answers 404", root);
    } else {
        sb_log_warn("web: --web-root %s is not a readable folder: / answers 404", root);
    }
}

int sb_app_web_install(sb_server_t *srv, const sb_config_t *cfg, const sb_app_web_client_t *client,
                       sb_app_web_t **out, char *err, size_t cap) {
    *out = NULL;
    if (cfg->no_web)
        return SB_OK;
    sb_app_web_t *w = calloc(1, sizeof *w);
    if (!w || route_client(srv, w, client, cfg->path) != SB_OK) {
        sb_app_web_destroy(w);
        snprintf(err, cap, "out of memory");
        return SB_ENOMEM;
    }
    if (cfg->web_root[0])
        route_files(srv, w, cfg->web_root);
    *out = w;
    return SB_OK;
}

void sb_app_web_destroy(sb_app_web_t *w) {
    if (!w)
        return;
    sb_http_static_destroy(w->files);
    sb_http_asset_destroy(w->client);
    free(w);
}
