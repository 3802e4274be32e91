/* The API's registry (route_groups: the only place that knows every
 * group of routes) and the operations routes: /health, /metrics,
 * /api/stats and /api/backup. */
#include "api/api.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "auth/apikey.h"
#include "core/err.h"
#include "core/loop.h"

static bool method_is_get(sb_http_req_t *req) {
    return sb_str_eq(req->method, SB_LIT("HEAD")) || sb_api__method_is(req, "GET");
}

/* 200 while the store commits writes; 503 while they fail (it may heal by
 * itself) or after its files were lost: send no traffic to this instance. */
static void on_health(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    if (!method_is_get(req))
        return;
    sb_api_metrics_t m = {0};
    api->cfg.collect(&m, api->cfg.collect_ud);
    sb_store_health_t h = {.state = SB_STORE_OK};
    if (api->cfg.store)
        sb_store_health(api->cfg.store, &h);
    bool ok = h.state == SB_STORE_OK;
    json_t *body = json_pack("{s:s,s:I,s:I,s:s}", "status", ok ? "ok" : "unavailable", "uptimeMs",
                             (json_int_t)(sb_wall_ms() - m.started_ms), "connections",
                             (json_int_t)m.connections, "store", sb_store_state_name(h.state));
    if (!ok)
        json_object_set_new(body, "storeError", json_string(h.reason));
    if (api->cfg.store && !sb_store_can_backup(api->cfg.store)) { /* PostgreSQL: its pool */
        sb_store_stats_t s;
        sb_store_stats(api->cfg.store, &s);
        json_object_set_new(body, "storePool",
                            json_pack("{s:I,s:I}", "connections", (json_int_t)s.threads, "down",
                                      (json_int_t)s.connections_down));
    }
    if (api->cfg.engine) { /* local delivery goes on without Redis: reported, not fatal */
        sb_engine_stats_t es;
        api->cfg.engine->ops->stats(api->cfg.engine, &es);
        json_object_set_new(body, "redis", json_string(es.up ? "up" : "down"));
    }
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (!text) {
        sb_http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    sb_http_respond(req, ok ? 200 : 503, "application/json", text, strlen(text),
                    "Cache-Control: no-store\r\n");
    free(text);
}

/* Appends to a bounded text buffer; output past the end is cut, never
 * written out of bounds. */
typedef struct {
    char buf[32768];
    size_t n;
} text_t;

__attribute__((format(printf, 2, 3))) static void put(text_t *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(t->buf + t->n, sizeof t->buf - t->n, fmt, ap);
    va_end(ap);
    if (w > 0)
        t->n += (size_t)w < sizeof t->buf - t->n ? (size_t)w : sizeof t->buf - t->n - 1;
}

#define METRIC(name, type, help, value) METRIC_TO(&t, name, type, help, value)
#define METRIC_TO(tp, name, type, help, value)                                                     \
    put(tp,                                                                                        \
        "# HELP switchboard_" name " " help "\n# TYPE switchboard_" name " " type                  \
        "\nswitchboard_" name " %llu\n",                                                           \
        (unsigned long long)(value))

static void cluster_metrics(text_t *tp, sb_engine_t *e) {
    sb_engine_stats_t s;
    e->ops->stats(e, &s);
    METRIC_TO(tp, "redis_up", "gauge", "1 while connected and subscribed to Redis (--redis-url).",
              s.up);
    METRIC_TO(tp, "cluster_published_total", "counter",
              "Broadcasts and answers published to Redis.", s.published);
    METRIC_TO(tp, "cluster_publish_dropped_total", "counter",
              "Publications dropped: Redis down or its queue full (--redis-max-queue-bytes).",
              s.publish_dropped);
    METRIC_TO(tp, "cluster_received_total", "counter", "Messages received from Redis.", s.received);
    METRIC_TO(tp, "cluster_delivered_remote_total", "counter",
              "Other nodes' broadcasts delivered to local sockets.", s.delivered_remote);
    METRIC_TO(tp, "cluster_requests_answered_total", "counter", "Answers to other nodes' requests.",
              s.requests_answered);
    METRIC_TO(tp, "cluster_decode_errors_total", "counter",
              "Malformed messages from Redis, ignored.", s.decode_errors);
    METRIC_TO(tp, "redis_reconnects_total", "counter",
              "Connections to Redis made again after a loss.", s.reconnects);
    METRIC_TO(tp, "redis_queued_bytes", "gauge", "Publications written but not yet sent to Redis.",
              s.queued_bytes);
    METRIC_TO(tp, "cluster_asks_sent_total", "counter",
              "Requests to the other nodes that wait for answers (fetchSockets, allRooms, "
              "serverSideEmit, broadcasts with acks).",
              s.asks_sent);
    METRIC_TO(tp, "cluster_asks_answered_total", "counter",
              "Requests to the other nodes that got every expected answer.", s.asks_answered);
    METRIC_TO(tp, "cluster_asks_timed_out_total", "counter",
              "Requests to the other nodes that ended at their timeout, answers missing.",
              s.asks_timed_out);
    METRIC_TO(tp, "cluster_dead_nodes_total", "counter",
              "Nodes found dead (heartbeat expired) whose presence this node cleaned.",
              s.dead_nodes_cleaned);
    METRIC_TO(tp, "cluster_relayed_out_total", "counter",
              "Stored deliveries relayed to the other nodes' devices of their users.",
              s.relayed_out);
    METRIC_TO(tp, "cluster_relayed_in_total", "counter",
              "Stored deliveries other nodes relayed, received here for local devices.",
              s.relayed_in);
}

/* One labelled series per door that is on: door="ws" (--ws-path), door="events" (--sse-path). */
static void door_series(text_t *t, const sb_api_metrics_t *m, const char *name, const char *type,
                        const char *help, uint64_t ws, uint64_t sse) {
    put(t, "# HELP switchboard_%s %s\n# TYPE switchboard_%s %s\n", name, help, name, type);
    if (m->door_ws_on)
        put(t, "switchboard_%s{door=\"ws\"} %llu\n", name, (unsigned long long)ws);
    if (m->door_sse_on)
        put(t, "switchboard_%s{door=\"events\"} %llu\n", name, (unsigned long long)sse);
}

static void door_metrics(text_t *t, const sb_api_metrics_t *m) {
    door_series(t, m, "door_connections", "gauge",
                "Open connections of the plain WebSocket (ws) and Server-Sent Events (events) "
                "doors.",
                m->door_ws.open, m->door_sse.open);
    door_series(t, m, "door_connections_opened_total", "counter",
                "Connections the doors accepted (authenticated or not).", m->door_ws.opened,
                m->door_sse.opened);
    door_series(t, m, "door_messages_in_total", "counter",
                "Client messages a door read (events: always 0, a read-only door).",
                m->door_ws.messages_in, m->door_sse.messages_in);
    door_series(t, m, "door_messages_out_total", "counter",
                "Messages (ws) and events (events) a door wrote; keep-alives not counted.",
                m->door_ws.messages_out, m->door_sse.messages_out);
    door_series(t, m, "door_errors_total", "counter",
                "Malformed client messages answered with an error.", m->door_ws.errors,
                m->door_sse.errors);
    door_series(t, m, "door_cut_total", "counter",
                "Streams cut: readers too slow for --max-outq-bytes (also counted as slow "
                "consumers), or a write error.",
                m->door_ws.cut, m->door_sse.cut);
}

/* One labelled counter per hook ({hook="event"}). */
#define HOOK_COUNTER(name, help, field)                                                            \
    do {                                                                                           \
        put(t, "# HELP switchboard_hook_" name " " help "\n# TYPE switchboard_hook_" name          \
               " counter\n");                                                                      \
        for (size_t i = 0; i < m->nhooks; i++)                                                     \
            put(t, "switchboard_hook_" name "{hook=\"%s\"} %llu\n", m->hooks[i].hook,              \
                (unsigned long long)m->hooks[i].field);                                            \
    } while (0)

/* --hook-url: requests, failures and a latency histogram per hook. */
static void hook_metrics(text_t *t, const sb_api_metrics_t *m) {
    HOOK_COUNTER("requests_total", "Requests sent to the backend (retries included).", requests);
    HOOK_COUNTER("failures_total", "Requests that failed: errors, timeouts, non-2xx answers.",
                 failures);
    HOOK_COUNTER("timeouts_total", "Requests that timed out.", timeouts);
    HOOK_COUNTER("retries_total", "Requests that were retries (push only).", retries);
    HOOK_COUNTER("rejected_total", "Calls refused: --hook-max-in-flight reached.", rejected);
    put(t, "# HELP switchboard_hook_in_flight Calls running (retries waiting included).\n"
           "# TYPE switchboard_hook_in_flight gauge\n");
    for (size_t i = 0; i < m->nhooks; i++)
        put(t, "switchboard_hook_in_flight{hook=\"%s\"} %llu\n", m->hooks[i].hook,
            (unsigned long long)m->hooks[i].in_flight);
    put(t, "# HELP switchboard_hook_latency_seconds Time to the backend's answer.\n"
           "# TYPE switchboard_hook_latency_seconds histogram\n");
    for (size_t i = 0; i < m->nhooks; i++) {
        uint64_t below = 0;
        for (size_t b = 0; b <= SB_API_HOOK_BUCKETS; b++) {
            below += m->hooks[i].latency[b];
            char le[24];
            if (b < SB_API_HOOK_BUCKETS)
                snprintf(le, sizeof le, "%.3f", m->hooks[i].bounds_ms[b] / 1000.0);
            put(t, "switchboard_hook_latency_seconds_bucket{hook=\"%s\",le=\"%s\"} %llu\n",
                m->hooks[i].hook, b < SB_API_HOOK_BUCKETS ? le : "+Inf", (unsigned long long)below);
        }
        put(t,
            "switchboard_hook_latency_seconds_sum{hook=\"%s\"} %.3f\n"
            "switchboard_hook_latency_seconds_count{hook=\"%s\"} %llu\n",
            m->hooks[i].hook, m->hooks[i].latency_ms_sum / 1000.0, m->hooks[i].hook,
            (unsigned long long)below);
    }
}

static void put_seconds(text_t *t, const char *name, uint64_t us) {
    put(t, "switchboard_store_commit_%s %llu.%06llu\n", name, (unsigned long long)(us / 1000000),
        (unsigned long long)(us % 1000000));
}

/* A Prometheus histogram of the store's commit latency, in seconds. */
static void commit_metrics(text_t *t, sb_store_t *store) {
    sb_store_stats_t s;
    sb_store_stats(store, &s);
    put(t, "# HELP switchboard_store_commit_seconds Time from BEGIN to the end of COMMIT of the "
           "store's write transactions.\n# TYPE switchboard_store_commit_seconds histogram\n");
    uint64_t below = 0;
    for (size_t i = 0; i < SB_STORE_COMMIT_NBUCKETS; i++) {
        below += s.commit_buckets[i];
        uint64_t le = SB_STORE_COMMIT_BUCKETS_US[i];
        put(t, "switchboard_store_commit_seconds_bucket{le=\"%llu.%06llu\"} %llu\n",
            (unsigned long long)(le / 1000000), (unsigned long long)(le % 1000000),
            (unsigned long long)below);
    }
    below += s.commit_buckets[SB_STORE_COMMIT_NBUCKETS];
    put(t, "switchboard_store_commit_seconds_bucket{le=\"+Inf\"} %llu\n",
        (unsigned long long)below);
    put_seconds(t, "seconds_sum", s.commit_us_sum);
    put(t, "switchboard_store_commit_seconds_count %llu\n", (unsigned long long)below);
    put(t, "# HELP switchboard_store_commit_max_seconds The slowest commit since the start.\n"
           "# TYPE switchboard_store_commit_max_seconds gauge\n");
    put_seconds(t, "max_seconds", s.commit_us_max);
    METRIC_TO(t, "store_requests_total", "counter", "Store requests executed.", s.requests);
    METRIC_TO(t, "store_batches_total", "counter",
              "Batches of requests the store threads took (one transaction each with a write).",
              s.batches);
    METRIC_TO(t, "store_threads", "gauge",
              "Store threads: 1 on SQLite, one per pooled connection on PostgreSQL.", s.threads);
    METRIC_TO(t, "store_threads_busy", "gauge", "Store threads running a batch now.",
              s.threads_busy);
    METRIC_TO(t, "store_connections_down", "gauge",
              "PostgreSQL: pooled connections that could not reach the database.",
              s.connections_down);
}

static void on_metrics(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    if (!method_is_get(req) || !sb_api__authorized(api, req))
        return;
    sb_api_metrics_t m = {0};
    api->cfg.collect(&m, api->cfg.collect_ud);
    text_t t = {.n = 0};
    METRIC("connections", "gauge", "Open TCP connections.", m.connections);
    METRIC("sessions_polling", "gauge", "Engine.IO sessions on long-polling.",
           m.connections_polling);
    METRIC("sessions_websocket", "gauge", "Engine.IO sessions on WebSocket.",
           m.connections_websocket);
    put(&t, "# HELP switchboard_sockets Connected Socket.IO sockets by namespace.\n"
            "# TYPE switchboard_sockets gauge\n");
    for (size_t i = 0; i < m.nnsps; i++)
        put(&t, "switchboard_sockets{namespace=\"%s\"} %llu\n", m.nsps[i].name,
            (unsigned long long)m.nsps[i].sockets);
    METRIC("rooms", "gauge", "Rooms in the default namespace.", m.rooms);
    METRIC("online_users", "gauge", "Users with at least one connected device.", m.online_users);
    METRIC("bytes_in_total", "counter", "Bytes read from clients.", m.bytes_in);
    METRIC("bytes_out_total", "counter", "Bytes written to clients.", m.bytes_out);
    METRIC("packets_in_total", "counter", "Engine.IO packets received.", m.packets_in);
    METRIC("packets_out_total", "counter", "Engine.IO packets sent.", m.packets_out);
    METRIC("events_in_total", "counter", "Socket.IO events received.", m.events_in);
    METRIC("events_out_total", "counter", "Socket.IO events delivered.", m.events_out);
    METRIC("http_requests_total", "counter", "HTTP requests handled.", m.http_requests);
    put(&t,
        "# HELP switchboard_errors_total Errors by kind.\n# TYPE switchboard_errors_total counter\n"
        "switchboard_errors_total{kind=\"http_4xx\"} %llu\n"
        "switchboard_errors_total{kind=\"slow_consumer\"} %llu\n"
        "switchboard_errors_total{kind=\"protocol\"} %llu\n"
        "switchboard_errors_total{kind=\"rate_limited\"} %llu\n"
        "switchboard_errors_total{kind=\"connection_refused\"} %llu\n"
        "switchboard_errors_total{kind=\"volatile_dropped\"} %llu\n"
        "switchboard_errors_total{kind=\"handshake_rate_limited\"} %llu\n",
        (unsigned long long)m.http_errors_4xx, (unsigned long long)m.slow_consumers,
        (unsigned long long)m.protocol_errors, (unsigned long long)m.rate_limited,
        (unsigned long long)m.connections_refused, (unsigned long long)m.volatile_dropped,
        (unsigned long long)m.handshakes_refused);
    put(&t, "# HELP switchboard_event_errors_total Error answers to client events, by code.\n"
            "# TYPE switchboard_event_errors_total counter\n");
    for (size_t i = 0; i < m.nevent_errors; i++)
        put(&t, "switchboard_event_errors_total{code=\"%s\"} %llu\n", m.event_errors[i].code,
            (unsigned long long)m.event_errors[i].n);
    put(&t, "# HELP switchboard_rate_limited_events_total Events refused by --events-per-second, "
            "by event (\"other\": names outside the event contract).\n"
            "# TYPE switchboard_rate_limited_events_total counter\n");
    for (size_t i = 0; i < m.nlimited_events; i++)
        put(&t, "switchboard_rate_limited_events_total{event=\"%s\"} %llu\n",
            m.limited_events[i].event, (unsigned long long)m.limited_events[i].n);
    METRIC("presence_deliveries_total", "counter",
           "user:online, user:offline and presence:batch events delivered.", m.presence_deliveries);
    METRIC("presence_batches_total", "counter", "presence:batch broadcasts.", m.presence_batches);
    METRIC("room_announcements_total", "counter",
           "chat:user_joined and chat:user_left events delivered.", m.room_announcements);
    METRIC("room_updates_total", "counter", "chat:room_update events delivered (large rooms).",
           m.room_updates);
    sb_store_health_t h = {.state = SB_STORE_OK};
    if (api->cfg.store)
        sb_store_health(api->cfg.store, &h);
    put(&t, "# HELP switchboard_store_state 1 for the store's current state: ok, failing (writes "
            "fail, retried every second) or lost (files gone, writes refused until a restart).\n"
            "# TYPE switchboard_store_state gauge\n");
    for (sb_store_state_t st = SB_STORE_OK; st <= SB_STORE_LOST; st++)
        put(&t, "switchboard_store_state{state=\"%s\"} %d\n", sb_store_state_name(st),
            h.state == st);
    METRIC("store_write_errors_total", "counter", "Store writes that failed (not stored).",
           h.write_errors);
    if (api->cfg.store)
        commit_metrics(&t, api->cfg.store);
    METRIC("output_queued_bytes", "gauge", "Output queued for all connections.", m.outq_bytes);
    METRIC("output_total_cuts_total", "counter",
           "Connections cut because all queued output reached --max-total-outq-bytes.",
           m.outq_total_cuts);
    METRIC("output_refused_closing_total", "counter",
           "Writes refused because their connection was closing.", m.output_refused_closing);
    METRIC("output_discarded_bytes_total", "counter",
           "Queued output dropped unsent because its connection closed.", m.output_discarded_bytes);
    METRIC("heap_trims_total", "counter", "Free heap given back to the kernel.", m.heap_trims);
    METRIC("heap_trim_microseconds_total", "counter",
           "Time the loop spent looking at the free heap and trimming it.", m.heap_trim_us);
    METRIC("heap_trim_microseconds_max", "gauge",
           "The longest one heap look and trim held the loop.", m.heap_trim_us_max);
    METRIC("heap_trim_cpu_microseconds_max", "gauge",
           "The most CPU time one heap look and trim took.", m.heap_trim_cpu_us_max);
    if (api->cfg.engine)
        cluster_metrics(&t, api->cfg.engine);
    if (m.door_ws_on || m.door_sse_on)
        door_metrics(&t, &m);
    if (m.nhooks)
        hook_metrics(&t, &m);
    METRIC("upgrades_total", "counter", "Polling to WebSocket upgrades.", m.upgrades);
    METRIC("sessions_opened_total", "counter", "Engine.IO sessions opened.", m.sessions_opened);
    if (m.handoff)
        METRIC("handoff_slot", "gauge",
               "This process's slot among those sharing the port (--reuse-port).", m.handoff_slot);
    if (m.handoff)
        put(&t,
            "# HELP switchboard_handoffs_total Requests passed between processes sharing the port "
            "(--reuse-port), by result: sent to the session's process, received from another, "
            "refused (no such process, its socket full), bad messages dropped.\n"
            "# TYPE switchboard_handoffs_total counter\n"
            "switchboard_handoffs_total{result=\"sent\"} %llu\n"
            "switchboard_handoffs_total{result=\"received\"} %llu\n"
            "switchboard_handoffs_total{result=\"no_owner\"} %llu\n"
            "switchboard_handoffs_total{result=\"busy\"} %llu\n"
            "switchboard_handoffs_total{result=\"bad\"} %llu\n",
            (unsigned long long)m.handoffs_sent, (unsigned long long)m.handoffs_received,
            (unsigned long long)m.handoffs_no_owner, (unsigned long long)m.handoffs_busy,
            (unsigned long long)m.handoffs_bad);
    if (m.tls) {
        METRIC("tls_handshakes_total", "counter", "TLS handshakes completed.", m.tls_handshakes);
        METRIC("tls_handshake_failures_total", "counter",
               "TLS handshakes that failed: bad input, plain HTTP, a peer that left or timed out.",
               m.tls_handshake_failures);
        METRIC("tls_plain_http_total", "counter",
               "Plain HTTP requests sent to the TLS port (answered 400; counted as failures too).",
               m.tls_plain_http);
        put(&t,
            "# HELP switchboard_tls_errors_total TLS errors after the handshake, by direction.\n"
            "# TYPE switchboard_tls_errors_total counter\n"
            "switchboard_tls_errors_total{op=\"read\"} %llu\n"
            "switchboard_tls_errors_total{op=\"write\"} %llu\n",
            (unsigned long long)m.tls_read_errors, (unsigned long long)m.tls_write_errors);
        METRIC("tls_reloads_total", "counter", "Certificate reloads on SIGHUP that took effect.",
               m.tls_reloads);
        METRIC("tls_reload_failures_total", "counter",
               "Certificate reloads on SIGHUP refused (the previous certificate stayed).",
               m.tls_reload_failures);
    }
    sb_http_respond(req, 200, "text/plain; version=0.0.4", t.buf, t.n, NULL);
}

static bool add_room_entry(sb_str_t room, size_t size, void *ud) {
    json_t *rooms = ud;
    if (json_array_size(rooms) >= 1000)
        return false;
    json_array_append_new(
        rooms, json_pack("{s:s%,s:I}", "name", room.p, room.n, "members", (json_int_t)size));
    return true;
}

static void on_stats(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    if (!method_is_get(req) || !sb_api__authorized(api, req))
        return;
    sb_api_metrics_t m = {0};
    api->cfg.collect(&m, api->cfg.collect_ud);
    json_t *rooms = json_array();
    sb_hub_rooms(api->cfg.hub, add_room_entry, rooms);
    json_t *stats =
        json_pack("{s:I,s:I,s:I,s:I,s:o}", "connectedUsers", (json_int_t)m.online_users, "sockets",
                  (json_int_t)m.sockets, "connections", (json_int_t)m.connections, "roomCount",
                  (json_int_t)m.rooms, "rooms", rooms);
    if (stats && api->cfg.engine) /* this node's figures above, the cluster's here */
        json_object_set_new(stats, "cluster", sb_api__cluster_stats(api));
    sb_api__respond_json(req, 200, stats);
}

static void backup_on_done(void *ud, int rc, const sb_store_backup_t *b) {
    sb_api_call_t *call = ud;
    if (rc != SB_OK)
        sb_api__call_fail_store(call, rc);
    else
        sb_api__call_respond(call, 200,
                             json_pack("{s:s,s:I,s:I}", "path", b->path, "bytes",
                                       (json_int_t)b->bytes, "ms", (json_int_t)b->ms));
    sb_api__call_end(call);
}

/* POST /api/backup: a consistent copy of the live database (store.h);
 * SQLite only: PostgreSQL is backed up with its own tools. */
static void on_backup(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    if (!sb_api__method_is(req, "POST") || !sb_api__authorized(api, req))
        return;
    if (!sb_store_can_backup(api->cfg.store)) {
        sb_http_respond_error(req, 501, "not_supported_on_postgres",
                              "the store is PostgreSQL: back it up with pg_dump (or continuous "
                              "archiving), see docs/operations.md");
        return;
    }
    sb_api_call_t *call = sb_api__call_begin(api, req, 0);
    if (!call)
        return;
    int rc = sb_store_backup(api->cfg.store, backup_on_done, call);
    if (rc != SB_OK) {
        sb_api__call_fail_store(call, rc);
        sb_api__call_end(call);
    }
}

static int register_ops(sb_api_t *api, sb_http_server_t *http) {
    if (sb_http_route(http, "/health", on_health, api) != SB_OK ||
        sb_http_route(http, "/metrics", on_metrics, api) != SB_OK ||
        sb_http_route(http, "/api/stats", on_stats, api) != SB_OK ||
        sb_http_route(http, "/api/backup", on_backup, api) != SB_OK)
        return SB_ENOMEM;
    return SB_OK;
}

/* Every group of routes, registered in this order. */
static int (*const route_groups[])(sb_api_t *api, sb_http_server_t *http) = {
    register_ops,                   /* /health, /metrics, /api/stats, /api/backup */
    sb_api__register_backend,       /* backend.c */
    sb_api__register_conversations, /* conversations_api.c */
    sb_api__register_rooms,         /* rooms_api.c */
    sb_api__register_social,        /* social_api.c */
    sb_api__register_live,          /* live_api.c */
    sb_api__register_cluster,       /* cluster_api.c */
    sb_api__register_sockets,       /* sockets_api.c */
    sb_api__register_admin,         /* admin_api.c */
    sb_api__register_dev,           /* dev_api.c */
};

sb_api_t *sb_api_create(sb_http_server_t *http, const sb_api_config_t *cfg) {
    sb_api_t *api = calloc(1, sizeof *api);
    if (!api)
        return NULL;
    api->cfg = *cfg;
    sb_map_init(&api->keys_in_flight);
    for (size_t i = 0; i < sizeof route_groups / sizeof route_groups[0]; i++) {
        if (route_groups[i](api, http) != SB_OK) {
            sb_api_destroy(api);
            return NULL;
        }
    }
    return api;
}

void sb_api_destroy(sb_api_t *api) {
    if (!api)
        return;
    sb_api__keys_orphan(api);
    sb_api__admin_dispose(api);
    sb_api__close_streams(api);
    sb_map_dispose(&api->keys_in_flight);
    free(api);
}
