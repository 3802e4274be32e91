/* The built-in contract as a module of the library: JWT auth, the
 * chat/social events, the HTTP API and the store, installed on a server by
 * one call (sb_builtins_install, include/switchboard.h). The switchboard
 * binary is that call plus argument parsing (app.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app/builtins.h"
#include "app/cluster_view.h"
#include "app/hooks_host.h"
#include "app/public_internal.h"
#include "features/features.h"

#define SB_DEV_SECRET "switchboard-dev-secret-do-not-use-in-production"

struct sb_builtins {
    sb_server_t *srv;
    const sb_config_t *cfg; /* product settings: the caller's, or `own` */
    sb_config_t own;
    bool owns_cfg;
    sb_store_t *store;
    sb_features_t *features;
    sb_api_t *api;
    sb_sse_t *sse;
    sb_cluster_view_t *view; /* the sockets of every node, for the API */
    sb_hooks_t *hooks;       /* --hook-url; NULL: none */
    int64_t started_ms;
    struct { /* node_figures: the previous heartbeat's counters, for rates */
        int64_t at_ms;
        uint64_t events_in, events_out;
    } fig_prev;
};

static void add_event_error(const char *code, uint64_t n, void *ud) {
    sb_api_metrics_t *m = ud;
    if (m->nevent_errors < sizeof m->event_errors / sizeof m->event_errors[0]) {
        m->event_errors[m->nevent_errors].code = code;
        m->event_errors[m->nevent_errors++].n = n;
    }
}

static void add_limited_event(const char *event, uint64_t n, void *ud) {
    sb_api_metrics_t *m = ud;
    if (m->nlimited_events < sizeof m->limited_events / sizeof m->limited_events[0]) {
        m->limited_events[m->nlimited_events].event = event;
        m->limited_events[m->nlimited_events++].n = n;
    }
}

static void collect(sb_api_metrics_t *m, void *ud);

/* This node's figures in its cluster heartbeat (the dashboard's per-node
 * table): connections by transport, sockets, users, events in and out per
 * second since the previous heartbeat, the store's queue. */
static char *node_figures(void *ud) {
    sb_builtins_t *b = ud;
    sb_api_metrics_t m;
    collect(&m, b);
    sb_store_stats_t st = {0};
    if (b->store)
        sb_store_stats(b->store, &st);
    int64_t now = sb_wall_ms();
    double dt = b->fig_prev.at_ms && now > b->fig_prev.at_ms
                    ? (double)(now - b->fig_prev.at_ms) / 1000.0
                    : 0;
    double in = dt > 0 ? (double)(m.events_in - b->fig_prev.events_in) / dt : 0;
    double out = dt > 0 ? (double)(m.events_out - b->fig_prev.events_out) / dt : 0;
    b->fig_prev.at_ms = now;
    b->fig_prev.events_in = m.events_in;
    b->fig_prev.events_out = m.events_out;
    json_t *j = json_pack(
        "{s:{s:I,s:I,s:I},s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:I,s:I}", "connections", "total",
        (json_int_t)m.connections, "websocket", (json_int_t)m.connections_websocket, "polling",
        (json_int_t)m.connections_polling, "sockets", (json_int_t)m.sockets, "users",
        (json_int_t)m.online_users, "eventsIn", (json_int_t)m.events_in, "eventsOut",
        (json_int_t)m.events_out, "inPerSec", in, "outPerSec", out, "messagesPerSec",
        b->features ? sb_features_messages_per_second(b->features) : 0.0, "storeQueue",
        (json_int_t)st.pending, "uptimeMs", (json_int_t)(now - b->started_ms));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

static const char *socket_user(void *ud, const sb_sio_socket_t *s, const char **name) {
    *name = sb_features_socket_user_name(ud, s);
    return sb_features_socket_user(ud, s);
}

/* The doors other than Socket.IO: /ws (server.c) and /events (ours). */
static void collect_doors(sb_builtins_t *b, sb_api_metrics_t *m) {
    sb_door_ws_t *door = sb_server_door_ws(b->srv);
    if (door) {
        const sb_door_ws_stats_t *d = sb_door_ws_stats(door);
        m->door_ws_on = true;
        m->door_ws.open = d->open;
        m->door_ws.opened = d->connections;
        m->door_ws.messages_in = d->messages_in;
        m->door_ws.messages_out = d->messages_out;
        m->door_ws.errors = d->errors;
        m->door_ws.cut = d->cut;
    }
    if (b->sse) {
        sb_sse_stats_t st;
        sb_sse_stats(b->sse, &st);
        m->door_sse_on = true;
        m->door_sse.open = st.open;
        m->door_sse.opened = st.opened;
        m->door_sse.messages_out = st.events_out;
        m->door_sse.cut = st.cut;
    }
}

static void collect(sb_api_metrics_t *m, void *ud) {
    sb_builtins_t *b = ud;
    sb_conn_ctx_t *conns = sb_server_conns(b->srv);
    const sb_eio_stats_t *e = sb_eio_server_stats(sb_server_eio(b->srv));
    const sb_sio_stats_t *s = sb_sio_server_stats(sb_server_sio(b->srv));
    const sb_http_stats_t *h = sb_http_stats(sb_server_http(b->srv));
    sb_sio_nsp_t *root = sb_sio_of(sb_server_sio(b->srv), "/");
    *m = (sb_api_metrics_t){
        .connections = conns->live,
        .connections_polling = e->active_polling,
        .connections_websocket = e->active_websocket,
        .sockets = sb_sio_nsp_socket_count(root),
        .rooms = sb_hub_room_count(sb_sio_nsp_hub(root)),
        .online_users = sb_features_online_users(b->features),
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
        .started_ms = b->started_ms,
    };
    sb_sio_nsp_t *nsp;
    for (size_t i = 0; m->nnsps < 16 && (nsp = sb_sio_nsp_at(sb_server_sio(b->srv), i)); i++) {
        m->nsps[m->nnsps].name = sb_sio_nsp_name(nsp);
        m->nsps[m->nnsps++].sockets = sb_sio_nsp_socket_count(nsp);
    }
    sb_features_error_counts(b->features, add_event_error, m);
    sb_features_rate_limited_counts(b->features, add_limited_event, m);
    const sb_features_counters_t *fc = sb_features_counters(b->features);
    m->presence_deliveries = fc->presence_deliveries;
    m->presence_batches = fc->presence_batches;
    m->room_announcements = fc->room_announcements;
    m->room_updates = fc->room_updates;
    m->outq_bytes = conns->outq_total;
    m->outq_total_cuts = conns->total_outq_cuts;
    m->output_refused_closing = conns->refused_closing;
    m->output_discarded_bytes = conns->discarded_bytes;
    const sb_heap_trimmer_t *heap = sb_server_heap(b->srv);
    m->heap_trims = heap->trims;
    m->heap_trim_us = heap->trim_us;
    m->heap_trim_us_max = heap->trim_us_max;
    m->heap_trim_cpu_us_max = heap->trim_cpu_us_max;
    collect_doors(b, m);
    sb_http_handoff_t *handoff = sb_server_handoff(b->srv);
    if (handoff) {
        const sb_http_handoff_stats_t *hs = sb_http_handoff_stats(handoff);
        m->handoff = true;
        m->handoff_slot = (uint64_t)sb_http_handoff_slot(handoff);
        m->handoffs_sent = hs->sent;
        m->handoffs_received = hs->received;
        m->handoffs_no_owner = hs->no_owner;
        m->handoffs_busy = hs->busy;
        m->handoffs_bad = hs->bad;
    }
    sb_hooks_host_metrics(b->hooks, m);
    sb_tls_t *tls = sb_server_tls(b->srv);
    if (tls) {
        const sb_tls_stats_t *ts = sb_tls_stats(tls);
        m->tls = true;
        m->tls_handshakes = ts->handshakes;
        m->tls_handshake_failures = ts->handshake_failures;
        m->tls_plain_http = ts->plain_http;
        m->tls_read_errors = ts->read_errors;
        m->tls_write_errors = ts->write_errors;
        m->tls_reloads = ts->reloads;
        m->tls_reload_failures = ts->reload_failures;
    }
}

static void on_tick(void *ud) {
    sb_builtins_t *b = ud;
    sb_features_tick(b->features);
    sb_api_tick(b->api);
}

static void on_stop(void *ud) {
    sb_builtins_t *b = ud;
    sb_features_drain(b->features);
}

static int open_store(sb_builtins_t *b, char *err, size_t cap) {
    static const char *const modes[] = {"full", "normal", "off"};
    const sb_config_t *cfg = b->cfg;
    sb_store_config_t sc = {.data_dir = cfg->data_dir,
                            .database_url = cfg->database_url,
                            .store_wait_ms = (int)cfg->database_timeout,
                            .pool_size = (int)cfg->database_pool_size,
                            .max_content = (size_t)cfg->max_message_bytes};
    size_t m = 0;
    while (m < 3 && strcmp(cfg->store_sync, modes[m]) != 0)
        m++;
    if (m == 3) {
        snprintf(err, cap, "invalid --store-sync '%s' (full|normal|off)", cfg->store_sync);
        return SB_EINVAL;
    }
    if (cfg->store_check_max_mb < 0) {
        snprintf(err, cap, "invalid --store-check-max-mb %lld (0 or more)",
                 (long long)cfg->store_check_max_mb);
        return SB_EINVAL;
    }
    sc.synchronous = (sb_store_sync_t)m;
    sc.check_max_bytes = cfg->store_check_max_mb ? cfg->store_check_max_mb << 20 : -1;
    /* Process-wide in SQLite: set once, before the first database opens. */
    if (sb_store_route_sqlite_log() != SB_OK)
        sb_log_warn(
            "store: SQLite's diagnostics cannot be routed to the log (already initialized)");
    b->store = sb_store_open(sb_server_loop(b->srv), &sc, err, cap);
    return b->store ? SB_OK : SB_EIO; /* exit 1: the server cannot start */
}

int sb_builtins__dev_secret(sb_config_t *cfg, char *err, size_t cap) {
    if (cfg->jwt_secret[0] != '\0')
        return SB_OK;
    if (!cfg->dev) {
        snprintf(err, cap,
                 "--jwt-secret is required (or SWITCHBOARD_JWT_SECRET); use --dev to "
                 "run with a built-in development secret");
        return SB_EINVAL;
    }
    sb_config_set(cfg, "jwt-secret", SB_DEV_SECRET, err, cap);
    sb_log_warn("--dev: using the built-in JWT secret \"%s\"; never do this in production",
                SB_DEV_SECRET);
    return SB_OK;
}

int sb_builtins__validate(const sb_config_t *cfg, char *err, size_t cap) {
    if (!cfg->jwt_secret[0]) {
        snprintf(err, cap, "a JWT secret is required (--jwt-secret)");
        return SB_EINVAL;
    }
    if (strcmp(cfg->presence_scope, "all") != 0 && strcmp(cfg->presence_scope, "friends") != 0) {
        snprintf(err, cap, "invalid --presence-scope '%s' (all|friends)", cfg->presence_scope);
        return SB_EINVAL;
    }
    if (cfg->presence_interval < 1 || cfg->presence_interval > 60000 ||
        cfg->room_announce_max < 0) {
        snprintf(err, cap, "--presence-interval must be 1-60000 ms and --room-announce-max >= 0");
        return SB_EINVAL;
    }
    if (cfg->recovery_window < 0 || cfg->recovery_window > 86400000) {
        snprintf(err, cap, "--recovery-window must be 0-86400000 ms");
        return SB_EINVAL;
    }
    if (cfg->delivery_ack_timeout < 1 || cfg->delivery_ack_timeout > 86400000) {
        snprintf(err, cap, "--delivery-ack-timeout must be 1-86400000 ms");
        return SB_EINVAL;
    }
    return SB_OK;
}

/* A new stream spends a token of the per-address bucket Engine.IO
 * handshakes and /ws upgrades share. */
static bool admit_stream(const sb_http_req_t *req, void *ud) {
    return sb_eio_admit_handshake(sb_server_eio(ud), req);
}

/* Server-Sent Events on --sse-path (api.h): the same rooms, read-only. */
static int create_sse(sb_builtins_t *b, sb_sio_nsp_t *root) {
    const sb_config_t *cfg = b->cfg;
    if (!cfg->sse_path[0])
        return SB_OK;
    sb_sse_config_t sc = {.path = cfg->sse_path,
                          .loop = sb_server_loop(b->srv),
                          .hub = sb_sio_nsp_hub(root),
                          .store = b->store,
                          .jwt_secret = cfg->jwt_secret,
                          .allow_tokens_without_exp = cfg->allow_tokens_without_exp,
                          .jwt_leeway_s = cfg->jwt_leeway,
                          .keepalive_ms = (uint32_t)cfg->sse_keepalive,
                          .max_held_bytes = sb_server_config(b->srv)->conns.max_outq,
                          .admit = admit_stream,
                          .admit_ud = b->srv};
    b->sse = sb_sse_create(sb_server_http(b->srv), &sc);
    return b->sse ? SB_OK : SB_ENOMEM;
}

static int wire(sb_builtins_t *b, char *err, size_t cap) {
    const sb_config_t *cfg = b->cfg;
    sb_sio_nsp_t *root = sb_sio_of(sb_server_sio(b->srv), "/");
    int rc = open_store(b, err, cap);
    sb_feat_backend_t backend;
    if (rc == SB_OK)
        rc = sb_hooks_host_create(sb_server_loop(b->srv), cfg, &b->hooks, &backend, err, cap);
    if (rc != SB_OK)
        return rc;
    sb_features_config_t fc = {.store = b->store,
                               .jwt_secret = cfg->jwt_secret,
                               .presence_friends = strcmp(cfg->presence_scope, "friends") == 0,
                               .presence_interval_ms = (uint32_t)cfg->presence_interval,
                               .room_announce_max = (uint32_t)cfg->room_announce_max,
                               .allow_query_token = cfg->allow_query_token,
                               .log_connections = cfg->log_connections,
                               .allow_tokens_without_exp = cfg->allow_tokens_without_exp,
                               .jwt_leeway_s = cfg->jwt_leeway,
                               .max_message_bytes = (size_t)cfg->max_message_bytes,
                               .max_rooms_per_socket =
                                   sb_server_config(b->srv)->sio.max_rooms_per_socket,
                               .recovery_window_ms = (uint32_t)cfg->recovery_window,
                               .delivery_ack_timeout_ms = (uint32_t)cfg->delivery_ack_timeout,
                               .backend = backend};
    b->features = sb_features_create(sb_server_loop(b->srv), root, &fc);
    sb_sio_nsp_t *nsp;
    for (size_t i = 1; b->features && (nsp = sb_sio_nsp_at(sb_server_sio(b->srv), i)); i++)
        if (sb_features_guard(b->features, nsp) != SB_OK)
            return SB_ENOMEM;
    sb_cluster_host_t *cluster = sb_server_cluster(b->srv);
    if (cluster && b->features) {
        sb_cluster_host_on_user(cluster, socket_user, b->features);
        sb_cluster_host_set_features(cluster, b->features, node_figures, b);
    }
    b->view = sb_cluster_view_create(sb_server_sio(b->srv), sb_cluster_host_engine(cluster),
                                     b->features ? socket_user : NULL, b->features);
    sb_api_config_t ac = {.api_key = cfg->api_key,
                          .collect = collect,
                          .collect_ud = b,
                          .hub = sb_sio_nsp_hub(root),
                          .features = b->features,
                          .store = b->store,
                          .engine = sb_cluster_host_engine(cluster),
                          .view = b->view,
                          .dev_token_secret = cfg->dev ? cfg->jwt_secret : NULL};
    b->api = b->features && b->view ? sb_api_create(sb_server_http(b->srv), &ac) : NULL;
    if (!b->api || sb_server_on_stop(b->srv, on_stop, b) != SB_OK) {
        snprintf(err, cap, "out of memory");
        return SB_ENOMEM;
    }
    if (create_sse(b, root) != SB_OK) {
        snprintf(err, cap, "out of memory");
        return SB_ENOMEM;
    }
    sb_pub__rechain(root); /* the embedder's hooks set before stay in front */
    sb_server_on_tick(b->srv, on_tick, b);
    if (!cfg->api_key[0])
        sb_log_warn("no --api-key: /metrics and /api answer 401");
    return SB_OK;
}

static void builtins_free(sb_builtins_t *b) {
    /* The store first: its last completions still reach features and sockets. */
    sb_store_close(b->store);
    sb_hooks_destroy(b->hooks); /* its last callbacks (SB_ECLOSED) still reach the features */
    sb_sse_destroy(b->sse);
    sb_api_destroy(b->api);
    sb_cluster_view_destroy(b->view);
    sb_cluster_host_t *cluster = sb_server_cluster(b->srv);
    if (cluster) /* the engine outlives the features: it must forget them */
        sb_cluster_host_set_features(cluster, NULL, NULL, NULL);
    sb_features_destroy(b->features);
    if (b->owns_cfg)
        sb_config_dispose(&b->own);
    free(b);
}

int sb_builtins__install(sb_server_t *srv, const sb_config_t *cfg, sb_builtins_t **out, char *err,
                         size_t cap) {
    sb_pub_t *pub = sb_pub__of(srv);
    sb_builtins_t *b = pub && !pub->builtins ? calloc(1, sizeof *b) : NULL;
    if (!b) {
        snprintf(err, cap, pub ? "the built-ins are already installed" : "out of memory");
        return pub ? SB_EEXISTS : SB_ENOMEM;
    }
    *b = (sb_builtins_t){.srv = srv, .cfg = cfg, .started_ms = sb_wall_ms()};
    pub->builtins = b;
    pub->builtins_free = builtins_free;
    int rc = sb_builtins__validate(cfg, err, cap);
    if (rc == SB_OK)
        rc = wire(b, err, cap); /* on failure, what was set up is freed with the server */
    if (out)
        *out = rc == SB_OK ? b : NULL;
    return rc;
}

/* ---- the public entry points ------------------------------------------------------- */

void sb_builtins_options_init(sb_builtins_options_t *o) {
    *o = (sb_builtins_options_t){.size = sizeof *o,
                                 .jwt_secret = "",
                                 .api_key = "",
                                 .data_dir = "./data",
                                 .store_sync = "full",
                                 .presence_scope = "friends",
                                 .presence_interval_ms = 250,
                                 .room_announce_max = 100,
                                 .max_message_bytes = 65536,
                                 .jwt_leeway_s = 30};
}

/* A field the caller's options struct has (an older program knows fewer). */
#define HAS(o, field) ((o)->size >= offsetof(sb_builtins_options_t, field) + sizeof((o)->field))

static int apply_options(sb_config_t *c, const sb_builtins_options_t *o, char *err, size_t cap) {
    const struct {
        const char *name, *v;
    } strs[] = {{"jwt-secret", o->jwt_secret},
                {"api-key", o->api_key},
                {"data-dir", o->data_dir},
                {"store-sync", o->store_sync},
                {"presence-scope", o->presence_scope}};
    int rc = SB_OK;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0] && rc == SB_OK; i++)
        if (strs[i].v)
            rc = sb_config_set(c, strs[i].name, strs[i].v, err, cap);
    if (HAS(o, jwt_leeway_s)) {
        c->presence_interval = o->presence_interval_ms;
        c->room_announce_max = o->room_announce_max;
        c->max_message_bytes = (int64_t)o->max_message_bytes;
        c->allow_query_token = o->allow_query_token;
        c->allow_tokens_without_exp = o->allow_tokens_without_exp;
        c->jwt_leeway = o->jwt_leeway_s;
    }
    return rc;
}

sb_builtins_t *sb_builtins_install(sb_server_t *srv, const sb_builtins_options_t *o, char *err,
                                   size_t cap) {
    char scratch[8];
    if (!err || cap == 0)
        err = scratch, cap = sizeof scratch;
    if (sb_server_builtins(srv)) {
        snprintf(err, cap, "the built-ins are already installed");
        return NULL;
    }
    sb_config_t *own = malloc(sizeof *own);
    if (!own) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    sb_config_init(own);
    if (apply_options(own, o, err, cap) != SB_OK) {
        sb_config_dispose(own);
        free(own);
        return NULL;
    }
    sb_builtins_t *b = NULL;
    sb_builtins__install(srv, own, &b, err, cap);
    sb_pub_t *pub = sb_pub__of(srv);
    if (pub && pub->builtins) { /* it holds the settings from now on, even on failure */
        pub->builtins->own = *own;
        pub->builtins->cfg = &pub->builtins->own;
        pub->builtins->owns_cfg = true;
        free(own);
    } else {
        sb_config_dispose(own);
        free(own);
    }
    return b;
}

sb_builtins_t *sb_builtins_install_from_args(sb_server_t *srv, char *err, size_t cap) {
    char scratch[8];
    if (!err || cap == 0)
        err = scratch, cap = sizeof scratch;
    sb_pub_t *pub = sb_server_ext(srv);
    if (!pub || !pub->owns_cfg) {
        snprintf(err, cap, "the server was not created by sb_server_create_from_args()");
        return NULL;
    }
    sb_builtins_t *b = NULL;
    if (sb_builtins__dev_secret(&pub->cfg, err, cap) == SB_OK)
        sb_builtins__install(srv, &pub->cfg, &b, err, cap);
    return b;
}

sb_builtins_t *sb_server_builtins(sb_server_t *srv) {
    sb_pub_t *pub = sb_server_ext(srv);
    return pub ? pub->builtins : NULL;
}

const char *sb_builtins_socket_user(const sb_builtins_t *b, const sb_socket_t *s) {
    return sb_features_socket_user(b->features, s);
}

uint32_t sb_builtins_user_devices(const sb_builtins_t *b, const char *user_id) {
    return sb_features_user_devices(b->features, user_id);
}

size_t sb_builtins_online_users(const sb_builtins_t *b) {
    return sb_features_online_users(b->features);
}

long sb_builtins_emit_to_user(sb_builtins_t *b, const char *user_id, const char *event,
                              const char *json, size_t n) {
    sb_feat_target_t t = {.users = &user_id, .nusers = 1};
    return sb_features_emit(b->features, &t, event, sb_str(json, n));
}
