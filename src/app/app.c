/* The switchboard program: configuration, the server, the built-in features
 * and the operations API. */
#include "app/app.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "app/builtins.h"
#include "app/server.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"

typedef struct {
    sb_config_t cfg;
    sb_server_t *srv;
} sb_app_t;

/* Settings that only make sense together. */
static int validate(sb_config_t *cfg, char *err, size_t cap) {
    if (sb_builtins__dev_secret(cfg, err, cap) != SB_OK ||
        sb_builtins__validate(cfg, err, cap) != SB_OK)
        return SB_EINVAL;
    if (cfg->ping_interval < 1 || cfg->ping_timeout < 1 || cfg->max_http_buffer_size < 1024) {
        snprintf(err, cap, "ping settings must be positive and --max-http-buffer-size >= 1024");
        return SB_EINVAL;
    }
    return SB_OK;
}

static int load(sb_app_t *app, int argc, char **argv, char *err, size_t cap) {
    int rc = sb_config_from_args(&app->cfg, argc, argv);
    if (rc != 0)
        return rc == 1 ? 1 : SB_EINVAL;
    if (validate(&app->cfg, err, cap) != SB_OK)
        return SB_EINVAL;
    app->srv = sb_server_create_from_config(&app->cfg, err, cap);
    if (!app->srv)
        return SB_EINVAL;
    return sb_builtins__install(app->srv, &app->cfg, NULL, err, cap);
}

int sb_app_main(int argc, char **argv) {
    sb_app_t app = {0};
    char err[512] = "";
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) == (ssize_t)sizeof seed)
        json_object_seed((size_t)seed);
    int rc = load(&app, argc, argv, err, sizeof err), exit_code = 0;
    if (rc == SB_OK)
        exit_code = sb_server_run(app.srv);
    else if (rc != 1 && err[0]) /* 1: --help was printed */
        fprintf(stderr, "switchboard: %s\n", err);
    if (rc != SB_OK && rc != 1)
        exit_code = rc == SB_EINVAL ? 2 : 1;
    sb_server_destroy(app.srv); /* the built-ins with it, the store first */
    sb_config_dispose(&app.cfg);
    return exit_code;
}
