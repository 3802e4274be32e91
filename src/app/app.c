/* The switchboard program: configuration, the server, the built-in features
 * and the operations API. */
#include "app/app.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>

#include "app/builtins.h"
#include "app/server.h"
#include "app/config.h"
#include "app/web.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/log.h"

#define SB_MIN_SECRET_BYTES 32
/* Descriptors besides the clients': listener, epoll, signals, the store's
 * files, the spare kept for accept() when the limit is reached. */
#define SB_FD_MARGIN 64

typedef struct {
    sb_config_t cfg;
    sb_server_t *srv;
    sb_app_web_t *web;
    const unsigned char *client; /* the browser client, client_n bytes */
    size_t client_n;
    bool dev_key_made; /* --dev made up the API key: print it */
} sb_app_t;

/* --dev: loopback unless --host was given, presence told to everyone unless
 * --presence-scope was given (the demo chat's users are not friends), and an
 * API key made up for this run when none is set, so the curl examples work
 * on the first try. */
static int dev_defaults(sb_app_t *app, char *err, size_t cap) {
    sb_config_t *cfg = &app->cfg;
    if (!cfg->dev)
        return SB_OK;
    if (!sb_config_given(cfg, "host") && sb_config_set(cfg, "host", "127.0.0.1", err, cap) != SB_OK)
        return SB_EINVAL;
    if (!sb_config_given(cfg, "presence-scope") &&
        sb_config_set(cfg, "presence-scope", "all", err, cap) != SB_OK)
        return SB_EINVAL;
    if (cfg->api_key[0])
        return SB_OK;
    uint8_t raw[16];
    char key[sizeof raw * 2 + 5] = "dev-";
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        snprintf(err, cap, "--dev: no random bytes for the API key: %s", strerror(errno));
        return SB_EIO;
    }
    sb_hex_encode(raw, sizeof raw, key + 4);
    app->dev_key_made = true;
    return sb_config_set(cfg, "api-key", key, err, cap) == SB_OK ? SB_OK : SB_EINVAL;
}

/* Anyone who can guess the secret can mint tokens for any user. */
static int check_secret(const sb_config_t *cfg, char *err, size_t cap) {
    size_t n = strlen(cfg->jwt_secret);
    if (cfg->dev || n >= SB_MIN_SECRET_BYTES)
        return SB_OK;
    if (cfg->allow_short_secret) {
        sb_log_warn("--jwt-secret is %zu bytes, shorter than %d: tokens can be forged by guessing "
                    "it (--allow-short-secret)",
                    n, SB_MIN_SECRET_BYTES);
        return SB_OK;
    }
    snprintf(err, cap,
             "--jwt-secret is %zu bytes; at least %d are required (make one with "
             "`openssl rand -hex 32`), or pass --allow-short-secret true to accept it",
             n, SB_MIN_SECRET_BYTES);
    return SB_EINVAL;
}

static void dev_banner(const char *address, void *ud) {
    sb_app_t *app = ud;
    /* A wildcard address is not something to open: name the loopback. */
    const char *colon = strrchr(address, ':');
    bool wildcard = !strncmp(address, "0.0.0.0:", 8) || !strncmp(address, "[::]:", 5);
    const char *scheme = app->cfg.tls_cert[0] ? "https" : "http";
    char url[128];
    if (wildcard && colon)
        snprintf(url, sizeof url, "%s://127.0.0.1%s", scheme, colon);
    else
        snprintf(url, sizeof url, "%s://%s", scheme, address);
    sb_log_warn("--dev: open %s (Socket.IO at %s%s)", url, url, app->cfg.path);
    if (app->dev_key_made)
        sb_log_warn("--dev: API key for this run: %s (try: curl -H 'Authorization: Bearer "
                    "%s' %s/api/stats)",
                    app->cfg.api_key, app->cfg.api_key, url);
}

/* Raises the soft open-file limit to the hard one (the default soft limit,
 * 1024, is far below what a server holds). Left unset, --max-connections
 * then fits under it (one info line); set explicitly above it, a warning
 * says so at start rather than at the first failing accept. */
static void check_fd_limit(sb_config_t *cfg) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        sb_log_warn("cannot read the open-file limit: %s", strerror(errno));
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            sb_log_info("open-file limit raised from %llu to the hard limit %llu",
                        (unsigned long long)was, (unsigned long long)rl.rlim_max);
        else
            rl.rlim_cur = was;
    }
    if (rl.rlim_cur == RLIM_INFINITY ||
        (uint64_t)cfg->max_connections + SB_FD_MARGIN <= rl.rlim_cur)
        return;
    unsigned long long fit =
        rl.rlim_cur > SB_FD_MARGIN + 1 ? (unsigned long long)(rl.rlim_cur - SB_FD_MARGIN) : 1ULL;
    if (!sb_config_given(cfg, "max-connections")) {
        sb_log_info("--max-connections %llu: the open-file limit %llu less %d for the server's own "
                    "files (set --max-connections, or raise the limit: ulimit -n, LimitNOFILE=)",
                    fit, (unsigned long long)rl.rlim_cur, SB_FD_MARGIN);
        cfg->max_connections = (int64_t)fit;
    } else if (cfg->max_connections > 0) {
        sb_log_warn("open-file limit %llu is below --max-connections %lld + %d: connections past "
                    "about %llu will be refused; raise it (ulimit -n, LimitNOFILE=) or lower "
                    "--max-connections",
                    (unsigned long long)rl.rlim_cur, (long long)cfg->max_connections, SB_FD_MARGIN,
                    fit);
    }
}

/* Settings that only make sense together. */
static int validate(sb_config_t *cfg, char *err, size_t cap) {
    if (sb_builtins__dev_secret(cfg, err, cap) != SB_OK || check_secret(cfg, err, cap) != SB_OK ||
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
    rc = dev_defaults(app, err, cap);
    if (rc != SB_OK)
        return rc;
    if (validate(&app->cfg, err, cap) != SB_OK)
        return SB_EINVAL;
    check_fd_limit(&app->cfg);
    sb_server_config_t sc;
    sb_server_config_from(&sc, &app->cfg);
    app->srv = sb_server_create_from_config(&sc, err, cap);
    if (!app->srv)
        return SB_EINVAL;
    if (app->cfg.dev)
        sb_server_on_listening(app->srv, dev_banner, app);
    rc = sb_builtins__install(app->srv, &app->cfg, NULL, err, cap);
    if (rc != SB_OK)
        return rc;
    sb_app_web_client_t client = {app->client, app->client_n};
    return sb_app_web_install(app->srv, &app->cfg, &client, &app->web, err, cap);
}

int sb_app_main(int argc, char **argv) { return sb_app_main_with_client(argc, argv, NULL, 0); }

int sb_app_main_with_client(int argc, char **argv, const unsigned char *client, size_t n) {
    sb_app_t app = {.client = client, .client_n = n};
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
    sb_app_web_destroy(app.web);
    sb_config_dispose(&app.cfg);
    return exit_code;
}
