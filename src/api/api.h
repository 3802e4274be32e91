/* Operations and backend HTTP endpoints: GET /health (open), GET /metrics
 * (Prometheus text) and GET /api/stats, the last two behind the API key. */
#ifndef SB_API_API_H
#define SB_API_API_H

#include <stdint.h>

#include "features/features.h"
#include "http/http.h"
#include "hub/cluster_view.h"
#include "hub/engine.h"
#include "hub/hub.h"
#include "store/store.h"

/* A snapshot of counters, filled by the composition root's collector. */
typedef struct {
    uint64_t connections, connections_polling, connections_websocket;
    uint64_t sockets, rooms, online_users;
    uint64_t bytes_in, bytes_out, packets_in, packets_out;
    uint64_t events_in, events_out, http_requests, http_errors_4xx;
    uint64_t slow_consumers, protocol_errors, upgrades, sessions_opened;
    uint64_t rate_limited, connections_refused, volatile_dropped, handshakes_refused;
    uint64_t presence_deliveries, presence_batches, room_announcements, room_updates;
    uint64_t outq_bytes, outq_total_cuts, output_refused_closing, output_discarded_bytes,
        heap_trims, heap_trim_us, heap_trim_us_max, heap_trim_cpu_us_max;
    /* The doors other than Socket.IO (DESIGN §1), when they are on. */
    bool door_ws_on, door_sse_on;
    struct {
        uint64_t open, opened, messages_in, messages_out, errors, cut;
    } door_ws, door_sse;
    bool tls; /* the counters below mean something */
    uint64_t tls_handshakes, tls_handshake_failures, tls_plain_http, tls_read_errors,
        tls_write_errors;
    uint64_t tls_reloads, tls_reload_failures;
    bool handoff;          /* --reuse-port: the hand-off counters below mean something */
    uint64_t handoff_slot; /* this process's slot: session ids start with its character */
    uint64_t handoffs_sent, handoffs_received, handoffs_no_owner, handoffs_busy, handoffs_bad;
    int64_t started_ms;
    struct {
        const char *name;
        uint64_t sockets;
    } nsps[16]; /* sockets by namespace */
    size_t nnsps;
    struct {
        const char *code;
        uint64_t n;
    } event_errors[24]; /* error answers to client events, by code */
    size_t nevent_errors;
    struct {
        const char *event;
        uint64_t n;
    } limited_events[25]; /* rate-limited events by name, "other" last */
    size_t nlimited_events;
    struct {
        const char *hook; /* connect, event, push */
        uint64_t requests, failures, timeouts, retries, rejected, in_flight;
        /* Answered requests at or below bounds_ms[i] (not cumulative), the last: slower. */
#define SB_API_HOOK_BUCKETS 10
        const uint32_t *bounds_ms;
        uint64_t latency[SB_API_HOOK_BUCKETS + 1];
        uint64_t latency_ms_sum;
    } hooks[3]; /* --hook-url's hooks that are on */
    size_t nhooks;
} sb_api_metrics_t;

typedef struct {
    const char *api_key; /* empty: the protected endpoints answer 401 */
    void (*collect)(sb_api_metrics_t *m, void *ud);
    void *collect_ud;
    sb_hub_t *hub; /* rooms of the default namespace */
    const sb_features_t *features;
    sb_store_t *store;
    /* --dev: the JWT secret POST /api/dev/token signs with; NULL: it answers 404 */
    const char *dev_token_secret;
    sb_engine_t *engine;           /* the cluster's (--redis-url); NULL: one node alone */
    const sb_cluster_view_t *view; /* every node's sockets (this one's alone without a cluster) */
} sb_api_config_t;

typedef struct sb_api sb_api_t;

/* Server-Sent Events (api/sse.c): GET <path>?channels=a,b with a JWT
 * (Authorization: Bearer, or ?token= since EventSource sends no headers);
 * rooms of the default namespace's hub as text/event-stream, resumed from
 * the store after Last-Event-ID. */
typedef struct {
    const char *path;
    sb_loop_t *loop;
    sb_hub_t *hub; /* rooms of the default namespace */
    sb_store_t *store;
    const char *jwt_secret;
    bool allow_tokens_without_exp;
    int64_t jwt_leeway_s;
    uint32_t keepalive_ms; /* a comment line this often */
    size_t max_held_bytes; /* live events held while a resume reads the store */
    /* Whether a new stream from this client may open now (the per-address
     * rate of new sessions every door shares); false: 429. NULL: always. */
    bool (*admit)(const sb_http_req_t *req, void *ud);
    void *admit_ud;
} sb_sse_config_t;

typedef struct {
    uint64_t open;       /* streams open now */
    uint64_t opened;     /* streams opened since start */
    uint64_t events_out; /* events written (keep-alive comments not counted) */
    uint64_t cut;        /* streams cut: slow readers (output over --max-outq-bytes), errors */
} sb_sse_stats_t;

typedef struct sb_sse sb_sse_t;

/* Routes cfg->path on `http`; cfg is copied, pointers must outlive it. */
sb_sse_t *sb_sse_create(sb_http_server_t *http, const sb_sse_config_t *cfg);
void sb_sse_destroy(sb_sse_t *sse);
void sb_sse_stats(const sb_sse_t *sse, sb_sse_stats_t *out);

/* Registers the routes on `http`. cfg is copied; pointers must outlive it. */
sb_api_t *sb_api_create(sb_http_server_t *http, const sb_api_config_t *cfg);
void sb_api_destroy(sb_api_t *api);
/* Once a second: sends the dashboard streams their snapshot. */
void sb_api_tick(sb_api_t *api);

#endif
