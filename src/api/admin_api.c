/* The dashboard's endpoints (behind the API key): GET /api/admin/stream, a
 * Server-Sent Events stream with a snapshot of the server every second, and
 * POST /api/admin/disconnect. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/loop.h"
#include "http/sse.h"

#define SB_ADMIN_USERS_MAX 200
#define SB_ADMIN_ROOMS_MAX 500
#define SB_ADMIN_RETRY_MS 2000
#define SB_ADMIN_ROOMS_EVERY_MS 2000 /* the cluster's rooms asked for at most this often */
#define SB_ADMIN_ROOMS_ASK_MS 2000   /* and waited for at most this long */

static void stream_closed(sb_http_sse_t *s, void *ud) {
    sb_api_t *api = ud;
    for (size_t i = 0; i < api->nstreams; i++) {
        if (api->streams[i] == s) {
            api->streams[i] = api->streams[--api->nstreams];
            return;
        }
    }
}

typedef struct {
    json_t *rooms;
    bool clustered;
} rooms_walk_t;

static bool add_room(sb_str_t room, size_t size, void *ud) {
    rooms_walk_t *w = ud;
    json_t *rooms = w->rooms;
    /* personal rooms are the users list; in a cluster each socket's own room too */
    if (sb_str_has_prefix(room, SB_LIT("user:")) ||
        (w->clustered && sb_engine_is_socket_room(room)))
        return true;
    if (json_array_size(rooms) >= SB_ADMIN_ROOMS_MAX)
        return false;
    json_array_append_new(
        rooms, json_pack("{s:s%,s:I}", "name", room.p, room.n, "members", (json_int_t)size));
    return true;
}

static json_t *counters_json(const sb_api_metrics_t *m) {
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "eventsIn",
                     (json_int_t)m->events_in, "eventsOut", (json_int_t)m->events_out, "packetsIn",
                     (json_int_t)m->packets_in, "packetsOut", (json_int_t)m->packets_out, "bytesIn",
                     (json_int_t)m->bytes_in, "bytesOut", (json_int_t)m->bytes_out, "httpRequests",
                     (json_int_t)m->http_requests, "rateLimited", (json_int_t)m->rate_limited,
                     "slowConsumers", (json_int_t)m->slow_consumers, "protocolErrors",
                     (json_int_t)m->protocol_errors, "connectionsRefused",
                     (json_int_t)m->connections_refused, "handshakesRefused",
                     (json_int_t)m->handshakes_refused, "volatileDropped",
                     (json_int_t)m->volatile_dropped, "outqBytes", (json_int_t)m->outq_bytes);
}

static json_t *store_json(sb_api_t *api) {
    sb_store_health_t h = {.state = SB_STORE_OK};
    sb_store_stats_t s = {0};
    if (api->cfg.store) {
        sb_store_health(api->cfg.store, &h);
        sb_store_stats(api->cfg.store, &s);
    }
    json_t *commit_ms = json_pack("{s:f,s:f,s:f}", "last", s.commit_us_last / 1000.0, "avg",
                                  s.commit_us_avg / 1000.0, "max", s.commit_us_max / 1000.0);
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:I,s:I}", "state",
                     sb_store_state_name(h.state), "reason", h.reason, "writeErrors",
                     (json_int_t)h.write_errors, "queue", (json_int_t)s.pending, "commits",
                     (json_int_t)s.commits, "batches", (json_int_t)s.batches, "maxBatch",
                     (json_int_t)s.max_batch, "commitMs", commit_ms, "threads",
                     (json_int_t)s.threads, "threadsBusy", (json_int_t)s.threads_busy,
                     "connectionsDown", (json_int_t)s.connections_down);
}

/* ---- the cluster's rooms ------------------------------------------------------- */

struct sb_api_rooms_ask {
    sb_api_t *api; /* NULL once the API is gone */
};

static void on_cluster_rooms(void *ud, const sb_engine_result_t *r) {
    sb_api_rooms_ask_t *ask = ud;
    sb_api_t *api = ask->api;
    free(ask);
    if (!api)
        return;
    api->rooms_ask = NULL;
    json_t *names = json_loadb(r->answers.p, r->answers.n, 0, NULL);
    if (!json_is_array(names)) {
        json_decref(names);
        return;
    }
    json_decref(api->cluster_rooms);
    api->cluster_rooms = names;
}

/* Every SB_ADMIN_ROOMS_EVERY_MS while a stream is open, one allRooms ask
 * at a time: the next snapshots list the rooms of the other nodes too. */
static void ask_cluster_rooms(sb_api_t *api) {
    int64_t now = sb_wall_ms();
    if (!api->cfg.engine || !api->cfg.view || api->rooms_ask ||
        now - api->rooms_asked_ms < SB_ADMIN_ROOMS_EVERY_MS)
        return;
    sb_api_rooms_ask_t *ask = malloc(sizeof *ask);
    if (!ask)
        return;
    api->rooms_asked_ms = now;
    ask->api = api;
    api->rooms_ask = ask; /* before the call: done may come from inside it */
    if (api->cfg.view->all_rooms(api->cfg.view->ud, SB_LIT("/"), SB_ADMIN_ROOMS_ASK_MS,
                                 on_cluster_rooms, ask) != SB_OK) {
        api->rooms_ask = NULL;
        free(ask);
    }
}

/* The rooms with a member here ({name, members}: this node's members),
 * then, in a cluster, those with members on other nodes only ({name,
 * members: 0, elsewhere: true}) as the latest allRooms answer lists them. */
static json_t *rooms_json(sb_api_t *api) {
    rooms_walk_t w = {json_array(), api->cfg.engine != NULL};
    sb_hub_rooms(api->cfg.hub, add_room, &w);
    size_t i;
    json_t *name;
    json_array_foreach(api->cluster_rooms, i, name) {
        sb_str_t room = sb_str(json_string_value(name), json_string_length(name));
        if (json_array_size(w.rooms) >= SB_ADMIN_ROOMS_MAX)
            break;
        if (room.p && !sb_str_has_prefix(room, SB_LIT("user:")) &&
            sb_hub_room_size(api->cfg.hub, room) == 0)
            json_array_append_new(w.rooms, json_pack("{s:s%,s:i,s:b}", "name", room.p, room.n,
                                                     "members", 0, "elsewhere", 1));
    }
    return w.rooms;
}

void sb_api__admin_dispose(sb_api_t *api) {
    if (api->rooms_ask)
        api->rooms_ask->api = NULL; /* its answer finds the API gone */
    json_decref(api->cluster_rooms);
}

/* One snapshot; rates are the dashboard's job (differences of counters). */
static json_t *snapshot(sb_api_t *api) {
    sb_api_metrics_t m = {0};
    api->cfg.collect(&m, api->cfg.collect_ud);
    json_t *nsps = json_array(), *errors = json_array(), *rooms = rooms_json(api);
    json_t *limited = json_array();
    for (size_t i = 0; i < m.nlimited_events; i++)
        json_array_append_new(limited, json_pack("{s:s,s:I}", "event", m.limited_events[i].event,
                                                 "n", (json_int_t)m.limited_events[i].n));
    for (size_t i = 0; i < m.nnsps; i++)
        json_array_append_new(nsps, json_pack("{s:s,s:I}", "name", m.nsps[i].name, "sockets",
                                              (json_int_t)m.nsps[i].sockets));
    for (size_t i = 0; i < m.nevent_errors; i++)
        json_array_append_new(errors, json_pack("{s:s,s:I}", "code", m.event_errors[i].code, "n",
                                                (json_int_t)m.event_errors[i].n));
    json_t *users = sb_features_admin_users((sb_features_t *)api->cfg.features, SB_ADMIN_USERS_MAX);
    int64_t now = sb_wall_ms();
    return json_pack(
        "{s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I},s:o,s:I,s:I,s:o,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "time",
        (json_int_t)now, "uptimeMs", (json_int_t)(now - m.started_ms), "connections", "total",
        (json_int_t)m.connections, "polling", (json_int_t)m.connections_polling, "websocket",
        (json_int_t)m.connections_websocket, "plainWebsocket", (json_int_t)m.door_ws.open, "sse",
        (json_int_t)m.door_sse.open, "namespaces", nsps, "sockets", (json_int_t)m.sockets,
        "onlineUsers", (json_int_t)m.online_users, "users", users, "roomCount", (json_int_t)m.rooms,
        "rooms", rooms, "counters", counters_json(&m), "errors", errors, "rateLimited", limited,
        "store", store_json(api), "nodes", sb_api__live_nodes_json(api));
}

static void send_snapshot(sb_api_t *api, sb_http_sse_t *only) {
    json_t *snap = snapshot(api);
    char *text = json_dumps(snap, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(snap);
    if (!text)
        return;
    /* Backwards: a failed send may close the stream, which moves the last one here. */
    for (size_t i = api->nstreams; i-- > 0;)
        if (!only || api->streams[i] == only)
            sb_http_sse_send(api->streams[i], "metrics", NULL, text, strlen(text));
    free(text);
}

void sb_api_tick(sb_api_t *api) {
    if (!api->nstreams)
        return;
    ask_cluster_rooms(api);
    send_snapshot(api, NULL);
}

static void on_stream(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    if (!sb_api__method_is(req, "GET") || !sb_api__authorized(api, req))
        return;
    if (api->nstreams == SB_API_MAX_STREAMS) {
        sb_http_respond_error(req, 503, "too_many_streams", "too many dashboard streams open");
        return;
    }
    sb_http_sse_t *s = sb_http_sse_start(req, SB_ADMIN_RETRY_MS, stream_closed, api);
    if (!s)
        return;
    api->streams[api->nstreams++] = s;
    ask_cluster_rooms(api); /* for the next snapshots */
    send_snapshot(api, s);  /* at once: the page shows something before the first tick */
}

/* POST /api/admin/disconnect {userId} or {socketId} -> {ok, disconnected} */
static void on_disconnect(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    json_t *body = sb_api__post_body(api, req);
    if (!body)
        return;
    const char *user = json_string_value(json_object_get(body, "userId"));
    const char *sid = json_string_value(json_object_get(body, "socketId"));
    if (!user == !sid) {
        sb_http_respond_error(req, 422, "invalid_field", "give exactly one of userId, socketId");
    } else {
        size_t n = sb_features_admin_disconnect((sb_features_t *)api->cfg.features, user, sid);
        sb_api__respond_json(req, 200,
                             json_pack("{s:b,s:I}", "ok", 1, "disconnected", (json_int_t)n));
    }
    json_decref(body);
}

int sb_api__register_admin(sb_api_t *api, sb_http_server_t *http) {
    if (sb_http_route(http, "/api/admin/stream", on_stream, api) != SB_OK)
        return SB_ENOMEM;
    return sb_http_route(http, "/api/admin/disconnect", on_disconnect, api);
}

void sb_api__close_streams(sb_api_t *api) {
    while (api->nstreams)
        sb_http_sse_abandon(api->streams[--api->nstreams]);
}
