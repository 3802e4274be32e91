/* Dashboards: sockets subscribe to metric:<name> rooms; the server pushes
 * its own metrics every second and custom ones when the HTTP API sets them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "features/live_internal.h"

#define SB_METRIC_ROOM_MAX (SB_FEAT_METRIC_NAME_MAX + 8)
#define SB_SUBSCRIBE_MAX 100 /* names per subscribe / unsubscribe */

typedef double (*builtin_fn)(const sb_features_t *f);

/* The other live nodes' figure `name` summed from their last heartbeats
 * (docs/cluster.md, "Nodes and their figures"); 0 on a node alone. */
static double others_figure(const sb_features_t *f, const char *name) {
    char *text = sb_feat_clustered(f) && f->engine->ops->nodes_json
                     ? f->engine->ops->nodes_json(f->engine)
                     : NULL;
    json_t *nodes = text ? json_loads(text, 0, NULL) : NULL, *node;
    double sum = 0;
    size_t i;
    json_array_foreach(nodes, i, node) {
        if (!json_is_true(json_object_get(node, "self")))
            sum += json_number_value(json_object_get(json_object_get(node, "figures"), name));
    }
    json_decref(nodes);
    free(text);
    return sum;
}

double sb_features_messages_per_second(const sb_features_t *f) {
    return f->live ? f->live->messages_per_second : 0;
}

/* Each is the cluster's figure: a dashboard shows the same whichever node
 * it is connected to. */
static double metric_connections(const sb_features_t *f) {
    return (double)sb_sio_nsp_socket_count(f->nsp) + others_figure(f, "sockets");
}
static double metric_online_users(const sb_features_t *f) {
    return (double)sb_features_cluster_online_users(f);
}
static double metric_messages_per_second(const sb_features_t *f) {
    return f->live->messages_per_second + others_figure(f, "messagesPerSec");
}
static double metric_uptime_seconds(const sb_features_t *f) {
    return (double)((sb_wall_ms() - f->live->started_ms) / 1000);
}

static const struct {
    const char *name;
    builtin_fn value;
} builtins[] = {
    {"connections", metric_connections},
    {"online_users", metric_online_users},
    {"messages_per_second", metric_messages_per_second},
    {"uptime_seconds", metric_uptime_seconds},
};
#define SB_NBUILTINS (sizeof builtins / sizeof *builtins)

static builtin_fn builtin_of(sb_str_t name) {
    for (size_t i = 0; i < SB_NBUILTINS; i++)
        if (sb_str_eq(name, sb_cstr(builtins[i].name)))
            return builtins[i].value;
    return NULL;
}

bool sb_features_metric_builtin(sb_str_t name) { return builtin_of(name) != NULL; }

bool sb_features_metric_name_valid(sb_str_t name) {
    if (name.n == 0 || name.n > SB_FEAT_METRIC_NAME_MAX)
        return false;
    for (size_t i = 0; i < name.n; i++) {
        char ch = name.p[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

static void metric_room(const char *name, char out[SB_METRIC_ROOM_MAX]) {
    snprintf(out, SB_METRIC_ROOM_MAX, "metric:%s", name);
}

static json_t *update_json(const char *name, double value, int64_t at_ms) {
    return json_pack("{s:s,s:o,s:I}", "metric", name, "value", sb_feat_live_number(value),
                     "timestamp", (json_int_t)at_ms);
}

/* The current value of a metric; false for a custom metric never pushed. */
static bool metric_current(const sb_features_t *f, const char *name, double *value, int64_t *at) {
    builtin_fn fn = builtin_of(sb_cstr(name));
    const sb_feat_metric_t *m = fn ? NULL : sb_map_get(&f->live->metrics, sb_cstr(name));
    if (!fn && !m)
        return false;
    *value = fn ? fn(f) : m->value;
    *at = fn ? sb_wall_ms() : m->at_ms;
    return true;
}

/* ---- the HTTP API's custom metrics ------------------------------------------------------ */

static int metric_record(sb_features_t *f, sb_str_t name, double value, int64_t now) {
    sb_feat_metric_t *m = sb_map_get(&f->live->metrics, name);
    if (!m) {
        if (f->live->metrics.count >= SB_FEAT_METRICS_MAX)
            return SB_ETOOBIG;
        if (!(m = malloc(sizeof *m)))
            return SB_ENOMEM;
        if (sb_map_put(&f->live->metrics, name, m) != SB_OK) {
            free(m);
            return SB_ENOMEM;
        }
    }
    m->value = value;
    m->at_ms = now;
    return SB_OK;
}

long sb_features_metric_push(sb_features_t *f, sb_str_t name, double value) {
    if (!sb_features_metric_name_valid(name) || builtin_of(name) || !isfinite(value))
        return SB_EINVAL;
    int64_t now = sb_wall_ms();
    int rc = metric_record(f, name, value, now);
    if (rc != SB_OK)
        return rc;
    char text[SB_FEAT_METRIC_NAME_MAX + 1], room[SB_METRIC_ROOM_MAX];
    snprintf(text, sizeof text, "%.*s", (int)name.n, name.p);
    metric_room(text, room);
    return sb_feat_emit_room(f, room, "dashboard:update", update_json(text, value, now), NULL);
}

/* A dashboard:update to a metric room that another node broadcast (its
 * POST /api/metrics/:name, an emitter's): remembered, so that a later
 * subscriber here gets the latest value too. Delivered as it came. */
void sb_features_cluster_broadcast(sb_features_t *f, sb_str_t nsp, sb_str_t event,
                                   const sb_str_t *rooms, size_t nrooms, sb_str_t args) {
    const sb_str_t update = SB_LIT("dashboard:update"), prefix = SB_LIT("metric:");
    if (!f->live || !sb_str_eq(event, update) || nrooms != 1 || rooms[0].n <= prefix.n ||
        memcmp(rooms[0].p, prefix.p, prefix.n) != 0 ||
        !sb_str_eq(nsp, sb_cstr(sb_sio_nsp_name(f->nsp))))
        return;
    sb_str_t name = sb_str(rooms[0].p + prefix.n, rooms[0].n - prefix.n);
    json_t *u = json_loadb(args.p, args.n, 0, NULL);
    json_t *value = json_object_get(u, "value"), *at = json_object_get(u, "timestamp");
    const char *metric = json_string_value(json_object_get(u, "metric"));
    if (metric && sb_str_eq(sb_cstr(metric), name) && sb_features_metric_name_valid(name) &&
        !builtin_of(name) && json_is_number(value) && json_is_integer(at) &&
        isfinite(json_number_value(value)))
        metric_record(f, name, json_number_value(value), json_integer_value(at));
    json_decref(u);
}

/* ---- subscribe / unsubscribe [names] | name ------------------------------------------------ */

/* The metric names of argument 0, deduplicated; fails the event and returns
 * NULL when any is invalid. */
static json_t *metric_names(sb_sio_event_t *ev, json_t *arg) {
    json_t *list = json_is_string(arg) ? json_pack("[O]", arg) : json_incref(arg);
    json_t *names = json_array(), *item;
    size_t i, n = json_array_size(list);
    bool ok = json_is_array(list) && n > 0 && n <= SB_SUBSCRIBE_MAX;
    json_array_foreach(list, i, item) {
        sb_str_t s = json_is_string(item)
                         ? sb_str(json_string_value(item), json_string_length(item))
                         : SB_STR_NULL;
        ok = ok && sb_features_metric_name_valid(s);
        if (!ok)
            break;
        bool dup = false;
        for (size_t j = 0; j < json_array_size(names) && !dup; j++)
            dup = json_equal(json_array_get(names, j), item);
        if (!dup)
            json_array_append(names, item);
    }
    json_decref(list);
    if (ok)
        return names;
    json_decref(names);
    sb_feat_fail(ev, "invalid_payload",
                 "expected a metric name or a list of 1-%d; names are 1-%d characters of "
                 "[A-Za-z0-9_.:-]",
                 SB_SUBSCRIBE_MAX, SB_FEAT_METRIC_NAME_MAX);
    return NULL;
}

/* Joins every metric room, or none: on failure the rooms joined here are left. */
static bool join_all(sb_client_t *c, json_t *names) {
    bool fresh[SB_SUBSCRIBE_MAX];
    char room[SB_METRIC_ROOM_MAX];
    size_t i, k;
    json_t *name;
    json_array_foreach(names, i, name) {
        metric_room(json_string_value(name), room);
        fresh[i] = !sb_sio_in_room(c->sock, sb_cstr(room));
        if (sb_sio_join(c->sock, sb_cstr(room)) != SB_OK)
            break;
    }
    if (i == json_array_size(names))
        return true;
    for (k = 0; k < i; k++) {
        metric_room(json_string_value(json_array_get(names, k)), room);
        if (fresh[k])
            sb_sio_leave(c->sock, sb_cstr(room));
    }
    return false;
}

static void send_current(sb_client_t *c, json_t *names) {
    size_t i;
    json_t *name;
    json_array_foreach(names, i, name) {
        double value;
        int64_t at;
        if (metric_current(c->f, json_string_value(name), &value, &at))
            sb_feat_emit(c->sock, "dashboard:update",
                         update_json(json_string_value(name), value, at));
    }
}

static void dashboard_on_subscribe(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    json_t *names = metric_names(ev, arg);
    if (names && !join_all(c, names)) {
        sb_feat_fail(ev, "too_many_rooms", "a socket may join at most %u rooms",
                     c->f->cfg.max_rooms_per_socket);
    } else if (names) {
        sb_feat_reply(ev, json_pack("{s:b,s:O}", "ok", 1, "metrics", names));
        send_current(c, names);
    }
    json_decref(names);
    json_decref(arg);
}

static void dashboard_on_unsubscribe(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    json_t *names = metric_names(ev, arg), *name;
    size_t i;
    char room[SB_METRIC_ROOM_MAX];
    json_array_foreach(names, i, name) {
        metric_room(json_string_value(name), room);
        sb_sio_leave(c->sock, sb_cstr(room)); /* not subscribed: nothing to undo */
    }
    if (names)
        sb_feat_reply(ev, json_pack("{s:b,s:o}", "ok", 1, "metrics", names));
    json_decref(arg);
}

static const sb_feature_event_t dashboard_events[] = {
    {"dashboard:subscribe", dashboard_on_subscribe},
    {"dashboard:unsubscribe", dashboard_on_unsubscribe},
};

int sb_feat_live_dashboard_init(sb_features_t *f) {
    return sb_feat_register(f, dashboard_events,
                            sizeof dashboard_events / sizeof *dashboard_events);
}

/* ---- every second ------------------------------------------------------------------------ */

static void rate_update(sb_features_t *f) {
    sb_feat_live_t *live = f->live;
    uint64_t now = f->loop->now_ms, elapsed = now - live->rate_at_ms;
    if (elapsed == 0)
        return;
    double rate = (double)(f->messages_total - live->rate_base) * 1000.0 / (double)elapsed;
    live->messages_per_second = round(rate * 100.0) / 100.0;
    live->rate_base = f->messages_total;
    live->rate_at_ms = now;
}

void sb_feat_live_dashboard_tick(sb_features_t *f) {
    rate_update(f);
    sb_hub_t *hub = sb_sio_nsp_hub(f->nsp);
    int64_t now = sb_wall_ms();
    char room[SB_METRIC_ROOM_MAX];
    for (size_t i = 0; i < SB_NBUILTINS; i++) {
        metric_room(builtins[i].name, room);
        if (sb_hub_room_size(hub, sb_cstr(room)) == 0) /* nobody watching: nothing to encode */
            continue;
        /* This node's subscribers only: every node ticks for its own, so a
         * subscriber hears one update a second, not one per node. */
        sb_str_t r = sb_cstr(room);
        sb_sio_target_t t = {.rooms = &r, .nrooms = 1, .local = true};
        sb_feat_broadcast(f, &t, "dashboard:update",
                          update_json(builtins[i].name, builtins[i].value(f), now));
    }
}

static bool free_metric(sb_str_t key, void *value, void *ud) {
    free(value);
    return true;
}

void sb_feat_live_dashboard_dispose(sb_feat_live_t *live) {
    sb_map_foreach(&live->metrics, free_metric, live);
    sb_map_dispose(&live->metrics);
}
