/* Private structures of the hub, shared by hub.c, room_map.c and
 * hub_validate.c. Include only from src/hub/. */
#ifndef SB_HUB_HUB_INTERNAL_H
#define SB_HUB_HUB_INTERNAL_H

#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "core/slab.h"
#include "hub/hub.h"

/* A room: one allocation holding the header and a copy of the name. A
 * server may hold one per few users, so the header is kept at 40 bytes:
 * the low 32 bits of the hash pick the bucket and screen comparisons. */
typedef struct sb_hub_room {
    struct sb_hub_room *next; /* bucket chain */
    sb_list_t members;        /* links, through their in_room node */
    uint32_t hash;
    uint32_t size;     /* number of links on `members` */
    uint32_t name_len; /* at most max_room_name */
    char name[];
} sb_hub_room_t;

/* One per (room, member) pair, on both lists (STYLE H14): 40 bytes. A room
 * may hold 10,000 members, so its list is doubly linked (O(1) removal); a
 * member's rooms are few (max_rooms_per_member), so its list is singly
 * linked: 8 bytes less per link and per member, and removing a link walks
 * the member's rooms. */
typedef struct sb_hub_link {
    sb_list_node_t in_room;
    struct sb_hub_link *next_of_member;
    sb_hub_room_t *room;
    sb_hub_member_t *member;
} sb_hub_link_t;

/* Rooms by name: chained hash table whose bucket count is a power of two,
 * doubled when rooms pass twice the buckets and halved below half (chains
 * of 1-2: 4-8 bytes of bucket a room). Kept rooms (hub.h) are not in it. */
typedef struct {
    sb_hub_room_t **buckets;
    size_t nbuckets;
    size_t count;
    uint64_t seed;
} sb_hub__map_t;

struct sb_hub {
    sb_hub__map_t map;
    sb_hub_keeper_t keeper; /* prefix NULL: none */
    size_t keeper_prefix_n;
    size_t nprefixed; /* rooms of the map whose name has the keeper's prefix */
    sb_list_t all;    /* members registered with sb_hub_add, via _all_node */
    size_t nall;
    size_t nlinks;
    /* Bumped per broadcast; compared with member->_mark. 32 bits, as the
     * marks (8 bytes less per connection): when it wraps, every mark of the
     * hub is reset, so an old mark never equals a new epoch. */
    uint32_t epoch;
    uint32_t busy; /* > 0 while user callbacks run: mutation then aborts */
    sb_hub_config_t cfg;
    sb_pool_t links; /* links come from here unless cfg.alloc is set */
    sb_slab_t rooms; /* and rooms from here */
};

#define SB_HUB__MAP_MIN_BUCKETS 16

/* The embedder's allocator when it gave one, else malloc. Inline here so
 * that room_map.c, which hub.c calls, allocates rooms without calling back
 * into hub.c. */
static inline void *sb_hub__alloc(const sb_hub_t *h, size_t n) {
    return h->cfg.alloc ? h->cfg.alloc(h->cfg.alloc_ud, n) : malloc(n);
}

static inline void sb_hub__free(const sb_hub_t *h, void *p) {
    if (h->cfg.dealloc)
        h->cfg.dealloc(h->cfg.alloc_ud, p);
    else
        free(p);
}

uint64_t sb_hub__hash(uint64_t seed, sb_str_t s);
int sb_hub__map_init(sb_hub_t *h);
void sb_hub__map_dispose(sb_hub_t *h);
sb_hub_room_t *sb_hub__map_find(const sb_hub__map_t *map, sb_str_t name);
/* Allocates an empty room for `name` and inserts it; NULL when out of memory. */
sb_hub_room_t *sb_hub__map_add(sb_hub_t *h, sb_str_t name);
/* Unlinks and frees an empty room. */
void sb_hub__map_del(sb_hub_t *h, sb_hub_room_t *r);

static inline sb_str_t sb_hub__room_name(const sb_hub_room_t *r) {
    return sb_str(r->name, r->name_len);
}

/* True when `name` is the keeper's to list (it has the keeper's prefix and
 * a length a room may have: hostile names are not looked up). */
static inline bool sb_hub__kept_name(const sb_hub_t *h, sb_str_t name) {
    return h->keeper.prefix && name.n >= h->keeper_prefix_n && name.n <= h->cfg.max_room_name &&
           memcmp(name.p, h->keeper.prefix, h->keeper_prefix_n) == 0;
}

#endif
