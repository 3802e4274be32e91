/* Deep consistency check of a hub (STYLE H20). Tests call it after every
 * mutation; it is too slow for the hot path. Every walk is bounded, so a
 * corrupted list makes it fail instead of loop. */
#include "hub/hub_internal.h"

#define CHECK(e)                                                                                   \
    do {                                                                                           \
        if (!(e))                                                                                  \
            return SB_EPROTO;                                                                      \
    } while (0)

static bool node_ok(const sb_list_node_t *n) {
    return n->next && n->prev && n->next->prev == n && n->prev->next == n;
}

static bool on_member_list(const sb_hub_link_t *l) {
    const sb_hub_link_t *x = l->member->_links;
    while (x && x != l)
        x = x->next_of_member;
    return x == l;
}

static int check_room_links(const sb_hub_t *h, const sb_hub_room_t *r, size_t *nlinks) {
    size_t n = 0;
    CHECK(node_ok(&r->members));
    for (const sb_list_node_t *it = r->members.next; it != &r->members; it = it->next) {
        const sb_hub_link_t *l = sb_container_of(it, sb_hub_link_t, in_room);
        CHECK(++n <= r->size && node_ok(it));
        CHECK(l->room == r && l->member && l->member->_hub == h && on_member_list(l));
        CHECK(l->member->_nrooms > 0 && l->member->_nrooms <= h->cfg.max_rooms_per_member);
    }
    CHECK(n == r->size);
    *nlinks += n;
    return SB_OK;
}

static int check_room(const sb_hub_t *h, const sb_hub_room_t *r, size_t bucket, size_t *nlinks) {
    sb_str_t name = sb_hub__room_name(r);
    CHECK(r->name_len > 0 && r->name_len <= h->cfg.max_room_name && r->size > 0);
    CHECK(r->hash == (uint32_t)sb_hub__hash(h->map.seed, name));
    CHECK((r->hash & (h->map.nbuckets - 1)) == bucket);
    CHECK(sb_hub__map_find(&h->map, name) == r); /* also: no two rooms share a name */
    return check_room_links(h, r, nlinks);
}

static int check_map(const sb_hub_t *h) {
    const sb_hub__map_t *map = &h->map;
    size_t rooms = 0, nlinks = 0;
    CHECK(map->buckets && map->nbuckets >= SB_HUB__MAP_MIN_BUCKETS);
    CHECK((map->nbuckets & (map->nbuckets - 1)) == 0);
    for (size_t i = 0; i < map->nbuckets; i++) {
        for (const sb_hub_room_t *r = map->buckets[i]; r; r = r->next) {
            CHECK(++rooms <= map->count);
            int rc = check_room(h, r, i, &nlinks);
            if (rc != SB_OK)
                return rc;
        }
    }
    CHECK(rooms == map->count && nlinks == h->nlinks);
    return SB_OK;
}

/* Quadratic in the member's room count; fine for a debug check. */
static bool member_has_dup(const sb_hub_member_t *m, const sb_hub_link_t *upto,
                           const sb_hub_room_t *r) {
    for (const sb_hub_link_t *l = m->_links; l != upto; l = l->next_of_member)
        if (l->room == r)
            return true;
    return false;
}

static int check_member(const sb_hub_t *h, const sb_hub_member_t *m) {
    uint32_t n = 0;
    CHECK(m->_hub == h && m->deliver);
    for (const sb_hub_link_t *l = m->_links; l; l = l->next_of_member) {
        CHECK(++n <= m->_nrooms && node_ok(&l->in_room));
        CHECK(l->member == m && l->room);
        CHECK(sb_hub__map_find(&h->map, sb_hub__room_name(l->room)) == l->room);
        CHECK(!member_has_dup(m, l, l->room));
    }
    CHECK(n == m->_nrooms);
    return SB_OK;
}

static int check_members(const sb_hub_t *h) {
    size_t n = 0, links = 0;
    CHECK(node_ok(&h->all));
    for (const sb_list_node_t *it = h->all.next; it != &h->all; it = it->next) {
        const sb_hub_member_t *m = sb_container_of(it, sb_hub_member_t, _all_node);
        CHECK(++n <= h->nall && node_ok(it));
        int rc = check_member(h, m);
        if (rc != SB_OK)
            return rc;
        links += m->_nrooms;
    }
    CHECK(n == h->nall && links <= h->nlinks);
    return SB_OK;
}

/* Every link in use came from the pool (when the hub allocates them). */
static int check_free_links(const sb_hub_t *h) {
    CHECK(h->cfg.alloc || h->links.live == h->nlinks);
    return SB_OK;
}

int sb_hub_validate(const sb_hub_t *h) {
    int rc = check_map(h);
    if (rc == SB_OK)
        rc = check_members(h);
    if (rc == SB_OK)
        rc = check_free_links(h);
    return rc;
}
