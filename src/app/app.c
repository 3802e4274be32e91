/* The switchboard program: configuration, the server, the built-in features
 * and the operations API. */
#include "app/app.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "api/api.h"
#include "app/server.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "features/features.h"

#define SB_DEV_SECRET "switchboard-dev-secret-do-not-use-in-production"

typedef struct {
    sb_config_t cfg;
    sb_store_t *store;
    sb_server_t *srv;
    sb_features_t *features;
    sb_api_t *api;
    int64_t started_ms;
} sb_app_t;

/* Settings that only make sense together. */
static int validate(sb_config_t *cfg, char *err, size_t cap) {
    if (cfg->jwt_secret[0] == '\0') {
        if (!cfg->dev) {
            snprintf(err, cap, "--jwt-secret is required (or SWITCHBOARD_JWT_SECRET); use --dev to "
                               "run with a built-in development secret");
            return SB_EINVAL;
        }
        sb_config_set(cfg, "jwt-secret", SB_DEV_SECRET, err, cap);
        sb_log_warn("--dev: using the built-in JWT secret \"%s\"; never do this in production",
                    SB_DEV_SECRET);
    }
    if (strcmp(cfg->presence_scope, "all") != 0 && strcmp(cfg->presence_scope, "friends") != 0) {
        snprintf(err, cap, "invalid --presence-scope '%s' (all|friends)", cfg->presence_scope);
        return SB_EINVAL;
    }
    if (cfg->presence_interval < 1 || cfg->presence_interval > 60000 || cfg->room_announce_max < 0) {
        snprintf(err, cap, "--presence-interval must be 1-60000 ms and --room-announce-max >= 0");
        return SB_EINVAL;
    }
    if (cfg->ping_interval < 1 || cfg->ping_timeout < 1 || cfg->max_http_buffer_size < 1024) {
        snprintf(err, cap, "ping settings must be positive and --max-http-buffer-size >= 1024");
        return SB_EINVAL;
    }
    return SB_OK;
}

static void add_event_error(const char *code, uint64_t n, void *ud) {
    sb_api_metrics_t *m = ud;
    if (m->nevent_errors < sizeof m->event_errors / sizeof m->event_errors[0]) {
        m->event_errors[m->nevent_errors].code = code;
        m->event_errors[m->nevent_errors++].n = n;
    }
}

static void collect(sb_api_metrics_t *m, void *ud) {
    sb_app_t *app = ud;
    sb_conn_ctx_t *conns = sb_server_conns(app->srv);
    const sb_eio_stats_t *e = sb_eio_server_stats(sb_server_eio(app->srv));
    const sb_sio_stats_t *s = sb_sio_server_stats(sb_server_sio(app->srv));
    const sb_http_stats_t *h = sb_http_stats(sb_server_http(app->srv));
    sb_sio_nsp_t *root = sb_sio_of(sb_server_sio(app->srv), "/");
    *m = (sb_api_metrics_t){
        .connections = conns->live,
        .connections_polling = e->active_polling,
        .connections_websocket = e->active_websocket,
        .sockets = sb_sio_nsp_socket_count(root),
        .rooms = sb_hub_room_count(sb_sio_nsp_hub(root)),
        .online_users = sb_features_online_users(app->features),
        .bytes_in = conns->bytes_in,
        .bytes_out = conns->bytes_out,
        .packets_in = e->packets_in,
        .packets_out = e->packets_out,
        .events_in = s->events_in,
        .events_out = s->events_out,
        .http_requests = h->requests,
        .http_errors_4xx = h->errors_4xx,
        .slow_consumers = conns->slow_consumers,
        .protocol_errors = s->errors,
        .upgrades = e->upgrades,
        .sessions_opened = e->sessions_opened,
        .rate_limited = s->rate_limited,
        .connections_refused = conns->refused,
        .volatile_dropped = conns->volatile_dropped + e->volatile_dropped,
        .handshakes_refused = e->handshakes_refused,
        .started_ms = app->started_ms,
    };
    sb_sio_nsp_t *nsp;
    for (size_t i = 0; m->nnsps < 16 && (nsp = sb_sio_nsp_at(sb_server_sio(app->srv), i)); i++) {
        m->nsps[m->nnsps].name = sb_sio_nsp_name(nsp);
        m->nsps[m->nnsps++].sockets = sb_sio_nsp_socket_count(nsp);
    }
    sb_features_error_counts(app->features, add_event_error, m);
    const sb_features_counters_t *fc = sb_features_counters(app->features);
    m->presence_deliveries = fc->presence_deliveries;
    m->presence_batches = fc->presence_batches;
    m->room_announcements = fc->room_announcements;
    m->room_updates = fc->room_updates;
}

static void on_tick(void *ud) {
    sb_app_t *app = ud;
    sb_features_tick(app->features);
}

static int open_store(sb_app_t *app, char *err, size_t cap) {
    static const char *const modes[] = {"full", "normal", "off"};
    sb_store_config_t sc = {.data_dir = app->cfg.data_dir,
                            .max_content = (size_t)app->cfg.max_message_bytes};
    size_t m = 0;
    while (m < 3 && strcmp(app->cfg.store_sync, modes[m]) != 0)
        m++;
    if (m == 3) {
        snprintf(err, cap, "invalid --store-sync '%s' (full|normal|off)", app->cfg.store_sync);
        return SB_EINVAL;
    }
    if (app->cfg.store_check_max_mb < 0) {
        snprintf(err, cap, "invalid --store-check-max-mb %lld (0 or more)",
                 (long long)app->cfg.store_check_max_mb);
        return SB_EINVAL;
    }
    sc.synchronous = (sb_store_sync_t)m;
    sc.check_max_bytes = app->cfg.store_check_max_mb ? app->cfg.store_check_max_mb << 20 : -1;
    /* Process-wide in SQLite: set once, before the first database opens. */
    if (sb_store_route_sqlite_log() != SB_OK)
        sb_log_warn(
            "store: SQLite's diagnostics cannot be routed to the log (already initialized)");
    app->store = sb_store_open(sb_server_loop(app->srv), &sc, err, cap);
    return app->store ? SB_OK : SB_EIO; /* exit 1: the server cannot start */
}

static void on_shutdown(void *ud) {
    sb_app_t *app = ud;
    sb_features_drain(app->features);
}

static int wire(sb_app_t *app, char *err, size_t cap) {
    sb_sio_nsp_t *root = sb_sio_of(sb_server_sio(app->srv), "/");
    int rc = open_store(app, err, cap);
    if (rc != SB_OK)
        return rc;
    sb_features_config_t fc = {.store = app->store,
                               .jwt_secret = app->cfg.jwt_secret,
                               .presence_friends = strcmp(app->cfg.presence_scope, "friends") == 0,
                               .presence_interval_ms = (uint32_t)app->cfg.presence_interval,
                               .room_announce_max = (uint32_t)app->cfg.room_announce_max,
                               .allow_query_token = app->cfg.allow_query_token,
                               .allow_tokens_without_exp = app->cfg.allow_tokens_without_exp,
                               .jwt_leeway_s = app->cfg.jwt_leeway,
                               .max_message_bytes = (size_t)app->cfg.max_message_bytes,
                               .max_rooms_per_socket = (uint32_t)app->cfg.max_rooms_per_socket};
    app->features = sb_features_create(sb_server_loop(app->srv), root, &fc);
    sb_sio_nsp_t *nsp;
    for (size_t i = 1; app->features && (nsp = sb_sio_nsp_at(sb_server_sio(app->srv), i)); i++)
        if (sb_features_guard(app->features, nsp) != SB_OK)
            return SB_ENOMEM;
    sb_api_config_t ac = {.api_key = app->cfg.api_key, .collect = collect, .collect_ud = app,
                          .hub = sb_sio_nsp_hub(root), .features = app->features,
                          .store = app->store};
    app->api = app->features ? sb_api_create(sb_server_http(app->srv), &ac) : NULL;
    if (!app->api) {
        snprintf(err, cap, "out of memory");
        return SB_ENOMEM;
    }
    sb_server_on_shutdown(app->srv, on_shutdown, app);
    sb_server_on_tick(app->srv, on_tick, app);
    if (!app->cfg.api_key[0])
        sb_log_warn("no --api-key: /metrics and /api answer 401");
    return SB_OK;
}

static int load(sb_app_t *app, int argc, char **argv, char *err, size_t cap) {
    int rc = sb_config_from_args(&app->cfg, argc, argv);
    if (rc != 0)
        return rc == 1 ? 1 : SB_EINVAL;
    if (validate(&app->cfg, err, cap) != SB_OK)
        return SB_EINVAL;
    app->srv = sb_server_create(&app->cfg, err, cap);
    if (!app->srv)
        return SB_EINVAL;
    return wire(app, err, cap);
}

int sb_app_main(int argc, char **argv) {
    sb_app_t app = {0};
    char err[512] = "";
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) == (ssize_t)sizeof seed)
        json_object_seed((size_t)seed);
    app.started_ms = sb_wall_ms();
    int rc = load(&app, argc, argv, err, sizeof err), exit_code = 0;
    if (rc == SB_OK)
        exit_code = sb_server_run(app.srv);
    else if (rc != 1 && err[0]) /* 1: --help was printed */
        fprintf(stderr, "switchboard: %s\n", err);
    if (rc != SB_OK && rc != 1)
        exit_code = rc == SB_EINVAL ? 2 : 1;
    /* The store first: its last completions still reach features and sockets. */
    sb_store_close(app.store);
    sb_api_destroy(app.api);
    sb_features_destroy(app.features);
    sb_server_destroy(app.srv);
    sb_config_dispose(&app.cfg);
    return exit_code;
}
