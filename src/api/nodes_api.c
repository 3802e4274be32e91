/* The cluster's nodes as the API shows them: the dashboard's `nodes` and
 * /api/stats's `cluster`, both read from the heartbeats the engine keeps
 * (docs/cluster.md, "Nodes and their figures"). */
#include <jansson.h>
#include <stdlib.h>

#include "api/api_internal.h"

/* The live nodes' list, an empty array when Redis has not answered yet. */
static json_t *live_nodes(sb_api_t *api) {
    char *text =
        api->cfg.engine->ops->nodes_json ? api->cfg.engine->ops->nodes_json(api->cfg.engine) : NULL;
    json_t *list = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return json_is_array(list) ? list : (json_decref(list), json_array());
}

json_t *sb_api__live_nodes_json(sb_api_t *api) {
    if (!api->cfg.engine)
        return json_null();
    sb_engine_stats_t s;
    api->cfg.engine->ops->stats(api->cfg.engine, &s);
    return json_pack("{s:s,s:b,s:I,s:o}", "self", s.node_id ? s.node_id : "", "redisUp", s.up,
                     "count", (json_int_t)s.nodes, "list", live_nodes(api));
}

static json_int_t figure(json_t *node, const char *a, const char *b) {
    json_t *v = json_object_get(json_object_get(node, "figures"), a);
    return json_integer_value(b ? json_object_get(v, b) : v);
}

json_t *sb_api__cluster_stats(sb_api_t *api) {
    if (!api->cfg.engine)
        return json_null();
    json_t *list = live_nodes(api);
    json_int_t sockets = 0, connections = 0;
    size_t i;
    json_t *node;
    json_array_foreach(list, i, node) {
        sockets += figure(node, "sockets", NULL);
        connections += figure(node, "connections", "total");
    }
    json_t *out =
        json_pack("{s:I,s:I,s:I,s:I}", "nodes", (json_int_t)json_array_size(list), "connectedUsers",
                  (json_int_t)sb_features_cluster_online_users(api->cfg.features), "sockets",
                  sockets, "connections", connections);
    json_decref(list);
    return out;
}
