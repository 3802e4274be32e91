/* Membership and broadcast. The room table lives in room_map.c and the deep
 * validator in hub_validate.c. */
#include "hub/hub_internal.h"

#include <stdlib.h>
#include <string.h>

/* A caller broke the contract in hub.h (mutation from a callback, or a member
 * used with two hubs). Continuing would corrupt lists that other connections
 * share, so stop here, in release builds too (STYLE H20). */
_Noreturn static void hub_misuse(void) { abort(); }

static inline void hub_check_idle(const sb_hub_t *h) {
    if (SB_UNLIKELY(h->busy))
        hub_misuse();
}

/* ---- lifetime ---------------------------------------------------------- */

sb_hub_t *sb_hub_create(const sb_hub_config_t *cfg) {
    sb_hub_config_t c = cfg ? *cfg : (sb_hub_config_t){0};
    if (!c.max_rooms_per_member)
        c.max_rooms_per_member = 1000;
    if (!c.max_room_name)
        c.max_room_name = 256;
    if (!c.alloc != !c.dealloc)
        return NULL; /* half an allocator would free with the wrong function */
    sb_hub_t *h = c.alloc ? c.alloc(c.alloc_ud, sizeof(*h)) : malloc(sizeof(*h));
    if (!h)
        return NULL;
    *h = (sb_hub_t){.cfg = c};
    sb_list_init(&h->all);
    sb_pool_init(&h->links, sizeof(sb_hub_link_t));
    sb_slab_init(&h->rooms);
    if (sb_hub__map_init(h) != SB_OK) {
        sb_hub__free(h, h);
        return NULL;
    }
    return h;
}

static void link_put(sb_hub_t *h, sb_hub_link_t *l);

/* Detaches members that are still linked, so that they are left consistent
 * (in no room, in no hub) rather than pointing into freed memory. */
static void hub_detach_all(sb_hub_t *h) {
    for (size_t i = 0; i < h->map.nbuckets; i++) {
        for (sb_hub_room_t *r = h->map.buckets[i]; r; r = r->next) {
            sb_list_node_t *it, *tmp;
            sb_list_foreach_safe(it, tmp, &r->members) {
                sb_hub_link_t *l = sb_container_of(it, sb_hub_link_t, in_room);
                l->member->_links = NULL; /* every link of every member goes */
                l->member->_nrooms--;
                l->member->_hub = NULL;
                link_put(h, l);
            }
        }
    }
    sb_list_node_t *n;
    while ((n = sb_list_pop_head(&h->all)))
        sb_container_of(n, sb_hub_member_t, _all_node)->_hub = NULL;
}

void sb_hub_destroy(sb_hub_t *h) {
    if (!h)
        return;
    hub_check_idle(h);
    hub_detach_all(h);
    sb_hub__map_dispose(h);
    sb_pool_dispose(&h->links);
    sb_slab_dispose(&h->rooms);
    sb_hub__free(h, h);
}

void sb_hub_member_init(sb_hub_member_t *m, sb_hub_deliver_fn deliver) {
    *m = (sb_hub_member_t){.deliver = deliver};
}

/* ---- links ------------------------------------------------------------- */

/* Links are the hub's most numerous object (members x rooms): from a pool
 * they cost 40 bytes, from malloc 48. */
static sb_hub_link_t *link_get(sb_hub_t *h) {
    return h->cfg.alloc ? sb_hub__alloc(h, sizeof(sb_hub_link_t)) : sb_pool_alloc(&h->links);
}

static void link_put(sb_hub_t *h, sb_hub_link_t *l) {
    if (h->cfg.alloc)
        sb_hub__free(h, l);
    else
        sb_pool_free(&h->links, l);
}

/* Binds `m` to `h` on its first room or registration. A fresh binding resets
 * the mark, which may hold an epoch of a hub the member was in before. */
static void member_bind(const sb_hub_t *h, sb_hub_member_t *m) {
    if (m->_hub == h)
        return;
    if (SB_UNLIKELY(m->_hub != NULL))
        hub_misuse();
    m->_hub = h;
    m->_mark = 0;
}

/* ---- kept rooms (hub.h) ------------------------------------------------ */

void sb_hub_set_keeper(sb_hub_t *h, const sb_hub_keeper_t *k) {
    hub_check_idle(h);
    h->keeper = k ? *k : (sb_hub_keeper_t){0};
    h->keeper_prefix_n = k ? strlen(k->prefix) : 0;
    h->nprefixed = 0;
    for (size_t i = 0; i < h->map.nbuckets; i++)
        for (sb_hub_room_t *r = h->map.buckets[i]; r; r = r->next)
            h->nprefixed += sb_hub__kept_name(h, sb_hub__room_name(r));
}

/* True when `name` is the kept room of `m`; *in: whether m is in it. */
static bool kept_own(const sb_hub_t *h, const sb_hub_member_t *m, sb_str_t name, bool *in) {
    *in = false;
    if (!sb_hub__kept_name(h, name))
        return false;
    sb_str_t own = h->keeper.room_of(h->keeper.ud, m, in);
    return own.n > 0 && sb_str_eq(own, name);
}

/* 1 when `m` is in its kept room, else 0. */
static uint32_t kept_in(const sb_hub_t *h, const sb_hub_member_t *m) {
    bool in = false;
    if (h->keeper.prefix)
        h->keeper.room_of(h->keeper.ud, m, &in);
    return in;
}

static bool count_member(sb_hub_member_t *m, void *ud) {
    (*(size_t *)ud)++;
    return true;
}

/* Members the keeper lists in `name` (0 when the name is not its). */
static size_t kept_size(const sb_hub_t *h, sb_str_t name) {
    size_t n = 0;
    if (sb_hub__kept_name(h, name))
        h->keeper.members(h->keeper.ud, name, count_member, &n);
    return n;
}

static void member_unbind_if_idle(const sb_hub_t *h, sb_hub_member_t *m) {
    if (m->_nrooms == 0 && !sb_list_linked(&m->_all_node) && !kept_in(h, m))
        m->_hub = NULL;
}

/* Walks whichever list is shorter: a member in 1000 rooms joining a room of 2
 * and a member in 2 rooms joining a room of 10,000 both stay cheap. */
static sb_hub_link_t *link_find(const sb_hub_room_t *r, const sb_hub_member_t *m) {
    if (m->_nrooms <= r->size) {
        for (sb_hub_link_t *l = m->_links; l; l = l->next_of_member)
            if (l->room == r)
                return l;
    } else {
        for (const sb_list_node_t *it = r->members.next; it != &r->members; it = it->next) {
            sb_hub_link_t *l = sb_container_of(it, sb_hub_link_t, in_room);
            if (l->member == m)
                return l;
        }
    }
    return NULL;
}

/* Removes one link from both lists and frees the room when it empties. */
static void link_unlink(sb_hub_t *h, sb_hub_link_t *l) {
    sb_hub_room_t *r = l->room;
    sb_hub_member_t *m = l->member;
    sb_list_remove(&l->in_room);
    sb_hub_link_t **pp = &m->_links;
    while (*pp != l)
        pp = &(*pp)->next_of_member;
    *pp = l->next_of_member;
    r->size--;
    m->_nrooms--;
    h->nlinks--;
    link_put(h, l);
    if (r->size == 0)
        sb_hub__map_del(h, r);
    member_unbind_if_idle(h, m);
}

/* Room lookup that also bounds the hashing work for hostile names. */
static sb_hub_room_t *room_find(const sb_hub_t *h, sb_str_t name) {
    if (name.n == 0 || name.n > h->cfg.max_room_name)
        return NULL;
    return sb_hub__map_find(&h->map, name);
}

/* ---- membership -------------------------------------------------------- */

static int join_check(const sb_hub_t *h, const sb_hub_member_t *m, sb_str_t room,
                      sb_hub_room_t **out) {
    if (room.n == 0)
        return SB_EINVAL;
    if (room.n > h->cfg.max_room_name)
        return SB_ETOOBIG;
    if (SB_UNLIKELY(m->_hub != NULL && m->_hub != h))
        hub_misuse();
    *out = sb_hub__map_find(&h->map, room);
    if (*out && link_find(*out, m))
        return 1; /* already in: success without change */
    if (m->_nrooms + kept_in(h, m) >= h->cfg.max_rooms_per_member)
        return SB_ETOOBIG;
    return SB_OK;
}

/* Joining the member's own kept room: the keeper places it there. */
static int kept_join(sb_hub_t *h, sb_hub_member_t *m, bool in) {
    if (SB_UNLIKELY(m->_hub != NULL && m->_hub != h))
        hub_misuse();
    if (in)
        return SB_OK;
    if (m->_nrooms >= h->cfg.max_rooms_per_member)
        return SB_ETOOBIG;
    member_bind(h, m);
    h->keeper.place(h->keeper.ud, m, true);
    return SB_OK;
}

int sb_hub_join(sb_hub_t *h, sb_hub_member_t *m, sb_str_t room) {
    hub_check_idle(h);
    bool in;
    if (room.n <= h->cfg.max_room_name && kept_own(h, m, room, &in))
        return kept_join(h, m, in);
    sb_hub_room_t *r;
    int rc = join_check(h, m, room, &r);
    if (rc != SB_OK)
        return rc > 0 ? SB_OK : rc;
    sb_hub_link_t *l = link_get(h);
    if (!l)
        return SB_ENOMEM;
    if (!r && !(r = sb_hub__map_add(h, room))) {
        link_put(h, l);
        return SB_ENOMEM;
    }
    member_bind(h, m);
    *l = (sb_hub_link_t){.room = r, .member = m};
    sb_list_push_tail(&r->members, &l->in_room);
    sb_hub_link_t **tail = &m->_links;
    while (*tail)
        tail = &(*tail)->next_of_member;
    *tail = l;
    r->size++;
    m->_nrooms++;
    h->nlinks++;
    return SB_OK;
}

int sb_hub_leave(sb_hub_t *h, sb_hub_member_t *m, sb_str_t room) {
    hub_check_idle(h);
    bool in;
    if (kept_own(h, m, room, &in) && in) {
        h->keeper.place(h->keeper.ud, m, false);
        member_unbind_if_idle(h, m);
        return SB_OK;
    }
    sb_hub_room_t *r = room_find(h, room);
    sb_hub_link_t *l = r ? link_find(r, m) : NULL;
    if (!l)
        return SB_ENOTFOUND;
    link_unlink(h, l);
    return SB_OK;
}

void sb_hub_leave_all(sb_hub_t *h, sb_hub_member_t *m) {
    hub_check_idle(h);
    if (m->_hub == NULL)
        return; /* in no room of any hub */
    if (SB_UNLIKELY(m->_hub != h))
        hub_misuse();
    if (kept_in(h, m))
        h->keeper.place(h->keeper.ud, m, false);
    while (m->_links)
        link_unlink(h, m->_links);
    member_unbind_if_idle(h, m);
}

bool sb_hub_is_member(const sb_hub_t *h, const sb_hub_member_t *m, sb_str_t room) {
    bool in;
    if (kept_own(h, m, room, &in) && in)
        return true;
    const sb_hub_room_t *r = room_find(h, room);
    return r && link_find(r, m);
}

size_t sb_hub_room_joined(const sb_hub_t *h, sb_str_t room) {
    if (room.n == 0 || room.n > h->cfg.max_room_name)
        return 0;
    const sb_hub_room_t *r = sb_hub__map_find(&h->map, room);
    return r ? r->size : 0;
}

size_t sb_hub_room_size(const sb_hub_t *h, sb_str_t room) {
    size_t joined = sb_hub_room_joined(h, room);
    return room.n == 0 || room.n > h->cfg.max_room_name ? 0 : joined + kept_size(h, room);
}

/* Kept rooms that are hub rooms too (read-only subscribers beside the
 * devices) count once: only walked when the hub has rooms of the prefix. */
size_t sb_hub_room_count(const sb_hub_t *h) {
    if (!h->keeper.prefix)
        return h->map.count;
    size_t n = h->map.count + h->keeper.count(h->keeper.ud);
    for (size_t i = 0; h->nprefixed && i < h->map.nbuckets; i++)
        for (const sb_hub_room_t *r = h->map.buckets[i]; r; r = r->next)
            n -= kept_size(h, sb_hub__room_name(r)) > 0;
    return n;
}

/* ---- registration ------------------------------------------------------ */

void sb_hub_add(sb_hub_t *h, sb_hub_member_t *m) {
    hub_check_idle(h);
    if (sb_list_linked(&m->_all_node)) {
        if (SB_UNLIKELY(m->_hub != h))
            hub_misuse();
        return;
    }
    member_bind(h, m);
    sb_list_push_tail(&h->all, &m->_all_node);
    h->nall++;
}

void sb_hub_remove(sb_hub_t *h, sb_hub_member_t *m) {
    sb_hub_leave_all(h, m);
    if (!sb_list_linked(&m->_all_node))
        return;
    sb_list_remove(&m->_all_node);
    h->nall--;
    m->_hub = NULL;
}

size_t sb_hub_member_count(const sb_hub_t *h) { return h->nall; }

/* ---- broadcast --------------------------------------------------------- */

static bool mark_member(sb_hub_member_t *m, void *ud) {
    m->_mark = *(const uint32_t *)ud;
    return true;
}

static void mark_room(sb_hub_t *h, sb_str_t name, uint32_t epoch) {
    sb_hub_room_t *r = room_find(h, name);
    if (sb_hub__kept_name(h, name))
        h->keeper.members(h->keeper.ud, name, mark_member, &epoch);
    if (!r)
        return;
    for (sb_list_node_t *it = r->members.next; it != &r->members; it = it->next)
        sb_container_of(it, sb_hub_link_t, in_room)->member->_mark = epoch;
}

/* Delivers to unmarked members and marks them, so a member in several target
 * rooms (or in an except room) is delivered to at most once. */
static inline size_t deliver_one(sb_hub_member_t *m, const sb_hub_member_t *skip, uint32_t epoch,
                                 sb_frame_t *f) {
    if (m->_mark == epoch || m == skip)
        return 0;
    m->_mark = epoch;
    m->deliver(m, f);
    return 1;
}

typedef struct {
    const sb_hub_member_t *skip;
    uint32_t epoch;
    sb_frame_t *f;
    size_t n;
} kept_delivery_t;

static bool deliver_kept(sb_hub_member_t *m, void *ud) {
    kept_delivery_t *d = ud;
    d->n += deliver_one(m, d->skip, d->epoch, d->f);
    return true;
}

static size_t deliver_room(sb_hub_t *h, sb_str_t name, const sb_hub_member_t *skip, uint32_t epoch,
                           sb_frame_t *f) {
    sb_hub_room_t *r = room_find(h, name);
    size_t n = 0;
    if (sb_hub__kept_name(h, name)) {
        kept_delivery_t d = {skip, epoch, f, 0};
        h->keeper.members(h->keeper.ud, name, deliver_kept, &d);
        n = d.n;
    }
    if (!r)
        return n;
    for (sb_list_node_t *it = r->members.next; it != &r->members; it = it->next)
        n += deliver_one(sb_container_of(it, sb_hub_link_t, in_room)->member, skip, epoch, f);
    return n;
}

static size_t deliver_all(sb_hub_t *h, const sb_hub_member_t *skip, uint32_t epoch, sb_frame_t *f) {
    size_t n = 0;
    for (sb_list_node_t *it = h->all.next; it != &h->all; it = it->next)
        n += deliver_one(sb_container_of(it, sb_hub_member_t, _all_node), skip, epoch, f);
    return n;
}

static bool unmark_kept_room(sb_str_t room, size_t size, void *ud) {
    const sb_hub_t *h = ud;
    uint32_t zero = 0;
    h->keeper.members(h->keeper.ud, room, mark_member, &zero);
    return true;
}

/* The epoch wrapped (once per 2^32 broadcasts): every member of the hub
 * starts over unmarked, and epochs start over at 1. */
static void marks_reset(sb_hub_t *h) {
    if (h->keeper.prefix)
        h->keeper.rooms(h->keeper.ud, unmark_kept_room, h);
    for (size_t i = 0; i < h->map.nbuckets; i++)
        for (sb_hub_room_t *r = h->map.buckets[i]; r; r = r->next)
            for (sb_list_node_t *it = r->members.next; it != &r->members; it = it->next)
                sb_container_of(it, sb_hub_link_t, in_room)->member->_mark = 0;
    for (sb_list_node_t *it = h->all.next; it != &h->all; it = it->next)
        sb_container_of(it, sb_hub_member_t, _all_node)->_mark = 0;
    h->epoch = 1;
}

size_t sb_hub_broadcast(sb_hub_t *h, const sb_hub_target_t *t, sb_frame_t *f) {
    if (SB_UNLIKELY(++h->epoch == 0))
        marks_reset(h);
    uint32_t epoch = h->epoch;
    size_t n = 0;
    h->busy++;
    for (size_t i = 0; i < t->nexcept; i++)
        mark_room(h, t->except[i], epoch);
    if (t->all)
        n = deliver_all(h, t->except_member, epoch, f);
    else
        for (size_t i = 0; i < t->nrooms; i++)
            n += deliver_room(h, t->rooms[i], t->except_member, epoch, f);
    h->busy--;
    return n;
}

/* ---- iteration --------------------------------------------------------- */

void sb_hub_member_rooms(const sb_hub_member_t *m, bool (*cb)(sb_str_t room, void *ud), void *ud) {
    const sb_hub_t *h = m->_hub;
    bool in = false;
    sb_str_t kept = h && h->keeper.prefix ? h->keeper.room_of(h->keeper.ud, m, &in) : SB_STR_NULL;
    if (in && kept.n > 0 && !cb(kept, ud))
        return;
    for (const sb_hub_link_t *l = m->_links; l; l = l->next_of_member)
        if (!cb(sb_hub__room_name(l->room), ud))
            return;
}

typedef struct {
    sb_hub_member_fn cb;
    void *ud;
    bool stopped;
} visit_t;

static bool visit_member(sb_hub_member_t *m, void *ud) {
    visit_t *v = ud;
    v->stopped = !v->cb(m, v->ud);
    return !v->stopped;
}

/* The keeper's members first, as a member's kept room comes first in its list. */
void sb_hub_room_members(sb_hub_t *h, sb_str_t room, bool (*cb)(sb_hub_member_t *m, void *ud),
                         void *ud) {
    sb_hub_room_t *r = room_find(h, room);
    visit_t v = {cb, ud, false};
    h->busy++;
    if (sb_hub__kept_name(h, room))
        h->keeper.members(h->keeper.ud, room, visit_member, &v);
    for (sb_list_node_t *it = r ? r->members.next : NULL; r && !v.stopped && it != &r->members;
         it = it->next)
        v.stopped = !cb(sb_container_of(it, sb_hub_link_t, in_room)->member, ud);
    h->busy--;
}

void sb_hub_members(sb_hub_t *h, bool (*cb)(sb_hub_member_t *m, void *ud), void *ud) {
    h->busy++;
    for (sb_list_node_t *it = h->all.next; it != &h->all; it = it->next)
        if (!cb(sb_container_of(it, sb_hub_member_t, _all_node), ud))
            break;
    h->busy--;
}

typedef struct {
    sb_hub_t *h;
    sb_hub_room_fn cb;
    void *ud;
    bool stopped;
} rooms_visit_t;

/* A kept room that is also a hub room was listed with the hub's rooms. */
static bool visit_kept_room(sb_str_t room, size_t size, void *ud) {
    rooms_visit_t *v = ud;
    if (v->h->nprefixed && sb_hub__map_find(&v->h->map, room))
        return true;
    v->stopped = !v->cb(room, size, v->ud);
    return !v->stopped;
}

void sb_hub_rooms(sb_hub_t *h, bool (*cb)(sb_str_t room, size_t size, void *ud), void *ud) {
    rooms_visit_t v = {h, cb, ud, false};
    h->busy++;
    for (size_t i = 0; i < h->map.nbuckets && !v.stopped; i++) {
        for (sb_hub_room_t *r = h->map.buckets[i]; r && !v.stopped; r = r->next) {
            sb_str_t name = sb_hub__room_name(r);
            v.stopped = !cb(name, r->size + kept_size(h, name), ud);
        }
    }
    if (!v.stopped && h->keeper.prefix)
        h->keeper.rooms(h->keeper.ud, visit_kept_room, &v);
    h->busy--;
}
