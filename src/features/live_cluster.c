/* The other nodes' members of a room, for the live features: a document's
 * active users and a WebRTC room's peers span the cluster, and a signal may
 * go to a peer on another node (docs/cluster.md, "Live features across
 * nodes"). One fetchSockets ask (hub/engine.h), which Switchboard and
 * Node.js nodes both answer. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "features/live_internal.h"

/* A member list is worth waiting for, not for long: a node that does not
 * answer (one dying) costs a joiner this much once. */
#define SB_LIVE_ASK_MS 3000

typedef struct {
    sb_list_node_t node; /* in live->asks while the features wait for it */
    sb_feat_live_remote_fn fn;
    void *ud;
} remote_t;

static void on_remote(void *ud, const sb_engine_result_t *r) {
    remote_t *rm = ud;
    if (!sb_list_linked(&rm->node)) { /* the features are gone */
        rm->fn(rm->ud, NULL);
        free(rm);
        return;
    }
    sb_list_remove(&rm->node);
    json_t *sockets = json_loadb(r->answers.p, r->answers.n, 0, NULL);
    if (!json_is_array(sockets)) {
        json_decref(sockets);
        sockets = json_array();
    }
    rm->fn(rm->ud, sockets);
    json_decref(sockets);
    free(rm);
}

void sb_feat_live_remote(sb_features_t *f, const char *room, sb_feat_live_remote_fn fn, void *ud) {
    remote_t *rm =
        sb_feat_clustered(f) && f->engine->ops->fetch_sockets ? malloc(sizeof *rm) : NULL;
    int rc = SB_ENOMEM;
    if (rm) {
        *rm = (remote_t){.fn = fn, .ud = ud};
        sb_str_t r = sb_cstr(room);
        sb_engine_select_t sel = {.rooms = &r, .nrooms = 1};
        rc = f->engine->ops->fetch_sockets(f->engine, sb_cstr(sb_sio_nsp_name(f->nsp)), &sel,
                                           SB_LIVE_ASK_MS, on_remote, rm);
    }
    if (rc == SB_OK) {
        sb_list_push_tail(&f->live->asks, &rm->node);
        return;
    }
    free(rm); /* alone, or Redis down: this node's members are all there is to know */
    json_t *none = json_array();
    fn(ud, none);
    json_decref(none);
}

/* The engine outlives the features (it answers their asks when it closes):
 * the asks still out learn that the features are gone. */
void sb_feat_live_remote_orphan(sb_feat_live_t *live) {
    sb_list_node_t *it, *tmp;
    sb_list_foreach_safe(it, tmp, &live->asks) {
        sb_list_remove(it);
        it->next = it->prev = NULL;
    }
}

const char *sb_feat_live_remote_user(json_t *socket, const char **name) {
    json_t *data = json_object_get(socket, "data");
    const char *user = json_string_value(json_object_get(data, "userId"));
    *name = json_string_value(json_object_get(data, "name"));
    if (!*name)
        *name = user;
    return user;
}

bool sb_feat_live_remote_in(json_t *socket, const char *room) {
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(socket, "rooms"), i, r) {
        const char *s = json_string_value(r);
        if (s && strcmp(s, room) == 0)
            return true;
    }
    return false;
}
