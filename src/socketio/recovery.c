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

/* An entry of a pid index (sio_internal.h): the head of a kept session and
 * a connected socket's own, so that neither needs a map entry (and a copy
 * of the key) of its own: a server holds one per connection. */
typedef sb_sio_pid_entry_t pid_entry_t;

/* Chained, the bucket count a power of two kept between count/2 and
 * 2 x count (at least 16). */
typedef struct {
    pid_entry_t **b;
    size_t nb, count;
} pid_index_t;

/* A disconnected session: one allocation holding the owner (NUL; absent
 * when NULL) and the rooms, each NUL-terminated, back to back. */
typedef struct {
    pid_entry_t e;
    sb_list_node_t node; /* in rec->fifo, oldest first */
    int64_t at_ms;       /* when it disconnected (wall clock) */
    char sid[SB_SIO_ID_LEN + 1];
    bool has_owner;
    uint32_t nrooms;
    char data[];
} kept_t;

struct sb_sio_recovery {
    sb_sio_recovery_config_t cfg;
    pid_index_t by_pid; /* kept sessions */
    sb_list_t fifo;
    pid_index_t live; /* records of connected sockets */
    /* The socket being connected with a kept session, and when that session
     * disconnected: read during its connection callback only, so sockets
     * carry no copy (sb_sio_socket_recovered_from). */
    const sb_sio_socket_t *restored;
    int64_t restored_at_ms;
};

/* Per socket, only in namespaces with recovery on: s->rec, its pid entry
 * (in the live index once connected), and s->rec_strings, the owner and
 * the offset in one allocation of the server's slab (16 bytes for a short
 * user id and no offset). */

/* ---- the pid index ------------------------------------------------------------ */

static pid_entry_t **pid_slot(const pid_index_t *ix, const char *pid) {
    pid_entry_t **pp = &ix->b[sb_str_hash(sb_cstr(pid)) & (ix->nb - 1)];
    while (*pp && strcmp((*pp)->pid, pid) != 0)
        pp = &(*pp)->next;
    return pp;
}

static pid_entry_t *pid_find(const pid_index_t *ix, const char *pid) {
    return ix->count ? *pid_slot(ix, pid) : NULL;
}

/* Rehashes into nb buckets; false (unchanged) when out of memory. */
static bool pid_resize(pid_index_t *ix, size_t nb) {
    pid_entry_t **b = calloc(nb, sizeof *b);
    if (!b)
        return false;
    for (size_t i = 0; i < ix->nb; i++) {
        for (pid_entry_t *e = ix->b[i], *next; e; e = next) {
            next = e->next;
            size_t at = sb_str_hash(sb_cstr(e->pid)) & (nb - 1);
            e->next = b[at];
            b[at] = e;
        }
    }
    free(ix->b);
    ix->b = b;
    ix->nb = nb;
    return true;
}

/* Adds e, whose pid is not in the index. SB_OK or SB_ENOMEM. */
static int pid_add(pid_index_t *ix, pid_entry_t *e) {
    if ((ix->nb == 0 || ix->count >= 2 * ix->nb) && !pid_resize(ix, ix->nb ? ix->nb * 2 : 16) &&
        ix->nb == 0)
        return SB_ENOMEM;
    pid_entry_t **head = &ix->b[sb_str_hash(sb_cstr(e->pid)) & (ix->nb - 1)];
    e->next = *head;
    *head = e;
    ix->count++;
    return SB_OK;
}

static void pid_del(pid_index_t *ix, pid_entry_t *e) {
    pid_entry_t **pp = &ix->b[sb_str_hash(sb_cstr(e->pid)) & (ix->nb - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (!*pp)
        return;
    *pp = e->next;
    ix->count--;
    if (ix->nb > 16 && ix->count < ix->nb / 2)
        pid_resize(ix, ix->nb / 2); /* out of memory: stays larger */
}

static void pid_dispose(pid_index_t *ix) {
    free(ix->b);
    memset(ix, 0, sizeof *ix);
}

/* ---- kept sessions --------------------------------------------------------------- */

static const char *kept_owner(const kept_t *k) { return k->has_owner ? k->data : NULL; }

static void kept_drop(sb_sio_recovery_t *r, kept_t *k) {
    sb_list_remove(&k->node);
    pid_del(&r->by_pid, &k->e);
    free(k);
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
    sb_list_init(&r->fifo);
    nsp->rec = r;
    return SB_OK;
}

/* Sockets still connected keep their records: only the index goes. */
void sb_sio__recovery_destroy(sb_sio_nsp_t *nsp) {
    if (!nsp->rec)
        return;
    sb_list_node_t *n;
    while ((n = nsp->rec->fifo.next) != &nsp->rec->fifo)
        kept_drop(nsp->rec, sb_container_of(n, kept_t, node));
    pid_dispose(&nsp->rec->by_pid);
    pid_dispose(&nsp->rec->live);
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
    if (!valid_id(pid) || !valid_id(sid) || (owner && strlen(owner) > SB_SIO_OWNER_MAX) ||
        nrooms > UINT32_MAX)
        return SB_EINVAL;
    kept_t *old = (kept_t *)pid_find(&r->by_pid, pid);
    if (old)
        kept_drop(r, old);
    size_t n = owner ? strlen(owner) + 1 : 0;
    for (size_t i = 0; i < nrooms; i++)
        n += rooms[i].n + 1;
    kept_t *k = malloc(sizeof *k + n);
    if (!k)
        return SB_ENOMEM;
    memset(k, 0, sizeof *k);
    k->at_ms = disconnected_at_ms;
    snprintf(k->e.pid, sizeof k->e.pid, "%s", pid);
    snprintf(k->sid, sizeof k->sid, "%s", sid);
    char *p = k->data;
    if (owner) {
        k->has_owner = true;
        p = stpcpy(p, owner) + 1;
    }
    for (size_t i = 0; i < nrooms; i++) {
        memcpy(p, rooms[i].p, rooms[i].n);
        p[rooms[i].n] = '\0';
        p += rooms[i].n + 1;
    }
    k->nrooms = (uint32_t)nrooms;
    if (pid_add(&r->by_pid, &k->e) != SB_OK) {
        free(k);
        return SB_ENOMEM;
    }
    sb_list_push_tail(&r->fifo, &k->node);
    sweep(r, sb_wall_ms());
    return SB_OK;
}

/* ---- per socket ---------------------------------------------------------------- */

static void live_del(sb_sio_socket_t *s) {
    if (!(s->rec.flags & SB_SIO_REC_LIVE))
        return;
    if (s->nsp->rec)
        pid_del(&s->nsp->rec->live, &s->rec);
    s->rec.flags &= (uint8_t)~SB_SIO_REC_LIVE;
}

static const char *rec_owner_or_empty(const sb_sio_socket_t *s) {
    return s->rec_strings ? s->rec_strings : "";
}

static const char *rec_offset(const sb_sio_socket_t *s) {
    return s->rec_strings ? s->rec_strings + strlen(s->rec_strings) + 1 : "";
}

static size_t strings_size(const char *owner, const char *offset) {
    return strlen(owner) + 1 + strlen(offset) + 1;
}

/* Replaces the socket's owner and offset; SB_ENOMEM leaves them as they were. */
static int set_strings(sb_sio_socket_t *s, const char *owner, const char *offset) {
    sb_slab_t *slab = &s->nsp->srv->socket_recs;
    char *p = NULL;
    if (owner[0] || offset[0]) {
        size_t n = strlen(owner) + 1;
        p = sb_slab_alloc(slab, strings_size(owner, offset));
        if (!p)
            return SB_ENOMEM;
        memcpy(p, owner, n);
        memcpy(p + n, offset, strlen(offset) + 1);
    }
    if (s->rec_strings)
        sb_slab_free(slab, s->rec_strings, strings_size(s->rec_strings, rec_offset(s)));
    s->rec_strings = p;
    return SB_OK;
}

void sb_sio__recovery_free(sb_sio_socket_t *s) {
    if (!(s->rec.flags & SB_SIO_REC_ON))
        return;
    live_del(s);
    set_strings(s, "", ""); /* frees: cannot fail */
    s->rec.flags = 0;
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
    snprintf(s->rec.pid, sizeof s->rec.pid, "%s", k->e.pid);
    s->rec.flags |= SB_SIO_REC_RECOVERED;
    s->nsp->rec->restored = s;
    s->nsp->rec->restored_at_ms = k->at_ms;
    const char *room = k->data + (k->has_owner ? strlen(k->data) + 1 : 0);
    for (uint32_t i = 0; i < k->nrooms; i++, room += strlen(room) + 1) {
        int rc = sb_hub_join(s->nsp->hub, &s->member, sb_cstr(room));
        if (rc != SB_OK)
            sb_log_debug("sio %s: room %s not restored: %s", s->id, room, sb_strerror(rc));
    }
}

static const char *rec_owner(const sb_sio_socket_t *s) {
    return s->rec_strings && s->rec_strings[0] ? s->rec_strings : NULL;
}

static bool same_owner(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

sb_sio_socket_t *sb_sio__recovery_holder(const sb_sio_socket_t *s, sb_str_t auth) {
    sb_sio_recovery_t *r = s->nsp->rec;
    char pid[SB_SIO_ID_LEN + 2];
    if (!r || !(s->rec.flags & SB_SIO_REC_ON) || !auth_string(auth, "pid", pid, sizeof pid))
        return NULL;
    pid_entry_t *e = pid_find(&r->live, pid);
    sb_sio_socket_t *old = e ? sb_container_of(e, sb_sio_socket_t, rec) : NULL;
    if (!old || old == s || !same_owner(rec_owner(old), rec_owner(s)))
        return NULL;
    return old;
}

void sb_sio__recovery_connect(sb_sio_socket_t *s, sb_str_t auth) {
    sb_sio_recovery_t *r = s->nsp->rec;
    if (!r || !(s->rec.flags & SB_SIO_REC_ON))
        return;
    char pid[SB_SIO_ID_LEN + 2];
    sweep(r, sb_wall_ms());
    bool asked = auth_string(auth, "pid", pid, sizeof pid);
    char offset[SB_SIO_OFFSET_MAX + 1];
    if (asked && auth_string(auth, "offset", offset, sizeof offset))
        set_strings(s, rec_owner_or_empty(s), offset); /* out of memory: as if none was sent */
    kept_t *k = asked ? (kept_t *)pid_find(&r->by_pid, pid) : NULL;
    if (k && same_owner(kept_owner(k), rec_owner(s))) {
        restore(s, k);
        kept_drop(r, k);
    } else {
        sb_sio__random_id(s->nsp->srv, s->rec.pid);
    }
    if (pid_find(&r->live, s->rec.pid) || pid_add(&r->live, &s->rec) != SB_OK)
        sb_log_debug("sio %s: cannot index its pid", s->id); /* only takeovers miss it */
    else
        s->rec.flags |= SB_SIO_REC_LIVE;
}

int sb_sio__recovery_socket_init(sb_sio_socket_t *s) {
    if (s->nsp->rec)
        s->rec.flags = SB_SIO_REC_ON;
    return SB_OK;
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

void sb_sio__recovery_rooms_changed(sb_sio_socket_t *s, sb_str_t room) {
    const sb_sio_recovery_t *r = s->nsp->rec;
    if (!r || !(s->rec.flags & SB_SIO_REC_ON) || !r->cfg.rooms_changed ||
        (r->cfg.keep_room && !r->cfg.keep_room(room, r->cfg.ud)))
        return;
    r->cfg.rooms_changed(s, r->cfg.ud);
}

void sb_sio__recovery_disconnect(sb_sio_socket_t *s, const char *reason) {
    if (!(s->rec.flags & SB_SIO_REC_ON) || !s->nsp->rec || !s->rec.pid[0])
        return;
    live_del(s);
    if (!recoverable(reason))
        return;
    rooms_t *rs = malloc(sizeof *rs);
    if (!rs)
        return;
    rs->n = 0;
    rs->cfg = &s->nsp->rec->cfg;
    sb_hub_member_rooms(&s->member, collect_room, rs);
    int rc =
        sb_sio_recovery_keep(s->nsp, s->rec.pid, s->id, rec_owner(s), rs->v, rs->n, sb_wall_ms());
    if (rc != SB_OK)
        sb_log_debug("sio %s: session not kept: %s", s->id, sb_strerror(rc));
    free(rs);
}

/* ---- accessors --------------------------------------------------------------------- */

const char *sb_sio_socket_pid(const sb_sio_socket_t *s) {
    return s->rec.flags & SB_SIO_REC_ON ? s->rec.pid : "";
}

bool sb_sio_socket_recovered(const sb_sio_socket_t *s) {
    return s->rec.flags & SB_SIO_REC_RECOVERED;
}

void sb_sio__recovery_connected(sb_sio_nsp_t *nsp) {
    if (nsp->rec)
        nsp->rec->restored = NULL;
}

int64_t sb_sio_socket_recovered_from(const sb_sio_socket_t *s) {
    const sb_sio_recovery_t *r = s->nsp->rec;
    return r && sb_sio_socket_recovered(s) && r->restored == s ? r->restored_at_ms : 0;
}

const char *sb_sio_socket_offset(const sb_sio_socket_t *s) { return rec_offset(s); }

int sb_sio_socket_set_owner(sb_sio_socket_t *s, const char *owner) {
    if (!(s->rec.flags & SB_SIO_REC_ON))
        return SB_OK;
    if (strlen(owner) > SB_SIO_OWNER_MAX)
        return SB_EINVAL;
    return set_strings(s, owner, rec_offset(s));
}
