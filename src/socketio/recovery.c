/* Connection state recovery, the protocol of Socket.IO 4.6+: the CONNECT
 * reply carries a private session id (`pid`); a client that reconnects
 * sends {pid, offset} in its CONNECT auth, and when the session is still
 * kept the socket gets its id and rooms back and the client sees
 * `socket.recovered === true`. What is replayed after the offset is the
 * namespace owner's business (the built-in features read it from the
 * store; see sb_sio_socket_offset()).
 *
 * A disconnected session is kept for window_ms in a FIFO (oldest first),
 * bounded by max_sessions; expired entries are dropped lazily.
 *
 * A client may reconnect before the server has noticed that its old
 * transport is gone (a polling client's last requests can still be in
 * flight). Its pid then names a socket still connected: the newcomer, with
 * the same owner, takes the session over and the old socket is closed as
 * if its transport had dropped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "socketio/sio_internal.h"

#define SB_SIO_RECOVERY_MAX_SESSIONS 100000
#define SB_SIO_OFFSET_MAX 64
#define SB_SIO_OWNER_MAX 256

typedef struct {
    sb_list_node_t node; /* in rec->fifo, oldest first */
    int64_t at_ms;       /* when it disconnected (wall clock) */
    char pid[SB_SIO_ID_LEN + 1], sid[SB_SIO_ID_LEN + 1];
    char *owner;
    char **rooms;
    size_t nrooms;
} kept_t;

struct sb_sio_recovery {
    sb_sio_recovery_config_t cfg;
    sb_map_t by_pid; /* pid -> kept_t */
    sb_list_t fifo;
    sb_map_t live; /* pid -> connected sb_sio_socket_t */
};

/* Per socket, only in namespaces with recovery on: 40 bytes, plus the
 * owner's copy, plus its entry in the pid index. */
struct sb_sio_socket_rec {
    char pid[SB_SIO_ID_LEN + 1];
    bool recovered;
    char *offset; /* what the client sent with its pid; NULL when nothing */
    char *owner;
};

static void kept_free(kept_t *k) {
    for (size_t i = 0; i < k->nrooms; i++)
        free(k->rooms[i]);
    free(k->rooms);
    free(k->owner);
    free(k);
}

static void kept_drop(sb_sio_recovery_t *r, kept_t *k) {
    sb_list_remove(&k->node);
    sb_map_del(&r->by_pid, sb_cstr(k->pid));
    kept_free(k);
}

/* Drops what is past the window, then the oldest beyond the bound. */
static void sweep(sb_sio_recovery_t *r, int64_t now_ms) {
    sb_list_node_t *n;
    while ((n = r->fifo.next) != &r->fifo) {
        kept_t *k = sb_container_of(n, kept_t, node);
        if (k->at_ms + (int64_t)r->cfg.window_ms > now_ms && r->by_pid.count < r->cfg.max_sessions)
            break;
        kept_drop(r, k);
    }
}

int sb_sio_recovery_enable(sb_sio_nsp_t *nsp, const sb_sio_recovery_config_t *cfg) {
    if (nsp->rec || cfg->window_ms == 0)
        return nsp->rec ? SB_EEXISTS : SB_OK;
    sb_sio_recovery_t *r = calloc(1, sizeof *r);
    if (!r)
        return SB_ENOMEM;
    r->cfg = *cfg;
    if (!r->cfg.max_sessions)
        r->cfg.max_sessions = SB_SIO_RECOVERY_MAX_SESSIONS;
    sb_map_init(&r->by_pid);
    sb_map_init(&r->live);
    sb_list_init(&r->fifo);
    nsp->rec = r;
    return SB_OK;
}

void sb_sio__recovery_destroy(sb_sio_nsp_t *nsp) {
    if (!nsp->rec)
        return;
    sb_list_node_t *n;
    while ((n = nsp->rec->fifo.next) != &nsp->rec->fifo)
        kept_drop(nsp->rec, sb_container_of(n, kept_t, node));
    sb_map_dispose(&nsp->rec->by_pid);
    sb_map_dispose(&nsp->rec->live);
    free(nsp->rec);
    nsp->rec = NULL;
}

static bool valid_id(const char *id) {
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= SB_SIO_ID_LEN;
}

int sb_sio_recovery_keep(sb_sio_nsp_t *nsp, const char *pid, const char *sid, const char *owner,
                         const sb_str_t *rooms, size_t nrooms, int64_t disconnected_at_ms) {
    sb_sio_recovery_t *r = nsp->rec;
    if (!r)
        return SB_EINVAL;
    if (!valid_id(pid) || !valid_id(sid) || (owner && strlen(owner) > SB_SIO_OWNER_MAX))
        return SB_EINVAL;
    kept_t *old = sb_map_get(&r->by_pid, sb_cstr(pid));
    if (old)
        kept_drop(r, old);
    kept_t *k = calloc(1, sizeof *k);
    if (!k)
        return SB_ENOMEM;
    k->at_ms = disconnected_at_ms;
    snprintf(k->pid, sizeof k->pid, "%s", pid);
    snprintf(k->sid, sizeof k->sid, "%s", sid);
    k->owner = owner ? strdup(owner) : NULL;
    k->rooms = calloc(nrooms ? nrooms : 1, sizeof *k->rooms);
    bool ok = k->rooms && (!owner || k->owner);
    for (size_t i = 0; ok && i < nrooms; i++, k->nrooms++)
        ok = (k->rooms[i] = strndup(rooms[i].p, rooms[i].n)) != NULL;
    if (!ok || sb_map_put(&r->by_pid, sb_cstr(k->pid), k) != SB_OK) {
        kept_free(k);
        return SB_ENOMEM;
    }
    sb_list_push_tail(&r->fifo, &k->node);
    sweep(r, sb_wall_ms());
    return SB_OK;
}

/* ---- per socket ---------------------------------------------------------------- */

void sb_sio__recovery_free(sb_sio_socket_t *s) {
    if (!s->rec)
        return;
    free(s->rec->owner);
    free(s->rec->offset);
    free(s->rec);
    s->rec = NULL;
}

/* A string field of the CONNECT auth object, or false. */
static bool auth_string(sb_str_t auth, const char *key, char *out, size_t cap) {
    sb_str_t v;
    size_t n = 0;
    if (sb_json_object_get(auth, sb_cstr(key), &v) != SB_OK || sb_json_type(v) != SB_JSON_STRING ||
        sb_json_string_unescape(v, out, cap - 1, &n) != SB_OK)
        return false;
    out[n] = '\0';
    return n > 0;
}


static void restore(sb_sio_socket_t *s, kept_t *k) {
    snprintf(s->id, sizeof s->id, "%s", k->sid);
    snprintf(s->rec->pid, sizeof s->rec->pid, "%s", k->pid);
    s->rec->recovered = true;
    for (size_t i = 0; i < k->nrooms; i++) {
        int rc = sb_hub_join(s->nsp->hub, &s->member, sb_cstr(k->rooms[i]));
        if (rc != SB_OK)
            sb_log_debug("sio %s: room %s not restored: %s", s->id, k->rooms[i], sb_strerror(rc));
    }
}

static bool same_owner(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Closes the connected socket holding `pid` when `s` may take it over. */
static void take_over(sb_sio_recovery_t *r, sb_sio_socket_t *s, const char *pid) {
    sb_sio_socket_t *old = sb_map_get(&r->live, sb_cstr(pid));
    if (!old || old == s || !same_owner(old->rec->owner, s->rec->owner))
        return;
    sb_sio__send_packet(old, SB_SIO_DISCONNECT, SB_STR_NULL);
    sb_sio__socket_close(old, "transport close"); /* keeps the session */
}

void sb_sio__recovery_connect(sb_sio_socket_t *s, sb_str_t auth) {
    sb_sio_recovery_t *r = s->nsp->rec;
    if (!r || !s->rec)
        return;
    char pid[SB_SIO_ID_LEN + 2];
    sweep(r, sb_wall_ms());
    bool asked = auth_string(auth, "pid", pid, sizeof pid);
    char offset[SB_SIO_OFFSET_MAX + 1];
    if (asked) {
        take_over(r, s, pid);
        if (auth_string(auth, "offset", offset, sizeof offset))
            s->rec->offset = strdup(offset); /* NULL on OOM: as if none was sent */
    }
    kept_t *k = asked ? sb_map_get(&r->by_pid, sb_cstr(pid)) : NULL;
    if (k && same_owner(k->owner, s->rec->owner)) {
        restore(s, k);
        kept_drop(r, k);
    } else {
        sb_sio__random_id(s->rec->pid);
    }
    if (sb_map_put(&r->live, sb_cstr(s->rec->pid), s) != SB_OK)
        sb_log_debug("sio %s: cannot index its pid", s->id); /* only takeovers miss it */
}

int sb_sio__recovery_socket_init(sb_sio_socket_t *s) {
    if (!s->nsp->rec)
        return SB_OK;
    s->rec = calloc(1, sizeof *s->rec);
    return s->rec ? SB_OK : SB_ENOMEM;
}

/* A server-side disconnect (the server chose to end it) is final; every
 * other reason (transport closed or failed, ping timeout, the client's own
 * DISCONNECT, the server shutting down) leaves the session recoverable. */
static bool recoverable(const char *reason) {
    return strcmp(reason, "server namespace disconnect") != 0;
}

typedef struct {
    sb_str_t v[SB_SIO_MAX_KEPT_ROOMS];
    size_t n;
    const sb_sio_recovery_config_t *cfg;
} rooms_t;

static bool collect_room(sb_str_t room, void *ud) {
    rooms_t *rs = ud;
    if (!rs->cfg->keep_room || rs->cfg->keep_room(room, rs->cfg->ud))
        rs->v[rs->n++] = room;
    return rs->n < SB_SIO_MAX_KEPT_ROOMS;
}

void sb_sio__recovery_disconnect(sb_sio_socket_t *s, const char *reason) {
    if (!s->rec || !s->nsp->rec || !s->rec->pid[0])
        return;
    if (sb_map_get(&s->nsp->rec->live, sb_cstr(s->rec->pid)) == s)
        sb_map_del(&s->nsp->rec->live, sb_cstr(s->rec->pid));
    if (!recoverable(reason))
        return;
    rooms_t *rs = malloc(sizeof *rs);
    if (!rs)
        return;
    rs->n = 0;
    rs->cfg = &s->nsp->rec->cfg;
    sb_hub_member_rooms(&s->member, collect_room, rs);
    int rc = sb_sio_recovery_keep(s->nsp, s->rec->pid, s->id, s->rec->owner, rs->v, rs->n,
                                  sb_wall_ms());
    if (rc != SB_OK)
        sb_log_debug("sio %s: session not kept: %s", s->id, sb_strerror(rc));
    free(rs);
}

/* ---- accessors --------------------------------------------------------------------- */

const char *sb_sio_socket_pid(const sb_sio_socket_t *s) { return s->rec ? s->rec->pid : ""; }

bool sb_sio_socket_recovered(const sb_sio_socket_t *s) { return s->rec && s->rec->recovered; }

const char *sb_sio_socket_offset(const sb_sio_socket_t *s) {
    return s->rec && s->rec->offset ? s->rec->offset : "";
}

int sb_sio_socket_set_owner(sb_sio_socket_t *s, const char *owner) {
    if (!s->rec)
        return SB_OK;
    if (strlen(owner) > SB_SIO_OWNER_MAX)
        return SB_EINVAL;
    char *copy = strdup(owner);
    if (!copy)
        return SB_ENOMEM;
    free(s->rec->owner);
    s->rec->owner = copy;
    return SB_OK;
}
