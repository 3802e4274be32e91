/* Rooms by name. Room names come from peers, so the table hashes with a
 * seeded SipHash-1-3 rather than the unseeded FNV of core/str.h: without the
 * seed a client cannot compute names that share a bucket. */
#include "hub/hub_internal.h"

#include <string.h>

/* ---- hashing ----------------------------------------------------------- */

static inline uint64_t rotl64(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static inline void sip_round(uint64_t v[4]) {
    v[0] += v[1], v[1] = rotl64(v[1], 13), v[1] ^= v[0], v[0] = rotl64(v[0], 32);
    v[2] += v[3], v[3] = rotl64(v[3], 16), v[3] ^= v[2];
    v[0] += v[3], v[3] = rotl64(v[3], 21), v[3] ^= v[0];
    v[2] += v[1], v[1] = rotl64(v[1], 17), v[1] ^= v[2], v[2] = rotl64(v[2], 32);
}

static inline uint64_t load_le64(const unsigned char *p, size_t n) {
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    return w;
}

static inline void sip_absorb(uint64_t v[4], uint64_t m) {
    v[3] ^= m;
    sip_round(v);
    v[0] ^= m;
}

/* SipHash-1-3 with the 128-bit key (seed, ~seed rotated). */
uint64_t sb_hub__hash(uint64_t seed, sb_str_t s) {
    uint64_t k0 = seed, k1 = rotl64(~seed, 29);
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                     k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
    const unsigned char *p = (const unsigned char *)s.p;
    size_t full = s.n & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8)
        sip_absorb(v, load_le64(p + i, 8));
    sip_absorb(v, load_le64(p + full, s.n - full) | ((uint64_t)(s.n & 0xff) << 56));
    v[2] ^= 0xff;
    for (int i = 0; i < 3; i++)
        sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- table ------------------------------------------------------------- */

int sb_hub__map_init(sb_hub_t *h) {
    size_t n = SB_HUB__MAP_MIN_BUCKETS;
    h->map.buckets = sb_hub__alloc(h, n * sizeof(*h->map.buckets));
    if (!h->map.buckets)
        return SB_ENOMEM;
    memset(h->map.buckets, 0, n * sizeof(*h->map.buckets));
    h->map.nbuckets = n;
    h->map.count = 0;
    h->map.seed = h->cfg.hash_seed;
    return SB_OK;
}

/* A room holds its name (no NUL) at its end. */
static sb_hub_room_t *room_alloc(sb_hub_t *h, size_t name_len) {
    size_t n = sizeof(sb_hub_room_t) + name_len;
    return h->cfg.alloc ? sb_hub__alloc(h, n) : sb_slab_alloc(&h->rooms, n);
}

static void room_free(sb_hub_t *h, sb_hub_room_t *r) {
    if (h->cfg.alloc)
        sb_hub__free(h, r);
    else
        sb_slab_free(&h->rooms, r, sizeof *r + r->name_len);
}

/* Frees every room; their links must already be gone. */
void sb_hub__map_dispose(sb_hub_t *h) {
    for (size_t i = 0; i < h->map.nbuckets; i++) {
        for (sb_hub_room_t *r = h->map.buckets[i], *next; r; r = next) {
            next = r->next;
            room_free(h, r);
        }
    }
    sb_hub__free(h, h->map.buckets);
    h->map.buckets = NULL;
    h->map.nbuckets = h->map.count = 0;
}

sb_hub_room_t *sb_hub__map_find(const sb_hub__map_t *map, sb_str_t name) {
    uint32_t hv = (uint32_t)sb_hub__hash(map->seed, name);
    for (sb_hub_room_t *r = map->buckets[hv & (map->nbuckets - 1)]; r; r = r->next) {
        if (r->hash == hv && sb_str_eq(sb_hub__room_name(r), name))
            return r;
    }
    return NULL;
}

/* Moves every room into a table of `n` buckets. When the allocation fails the
 * old table stays: lookups only get slower, so the failure is not reported. */
static void map_resize(sb_hub_t *h, size_t n) {
    sb_hub_room_t **nb = sb_hub__alloc(h, n * sizeof(*nb));
    if (!nb)
        return;
    memset(nb, 0, n * sizeof(*nb));
    for (size_t i = 0; i < h->map.nbuckets; i++) {
        for (sb_hub_room_t *r = h->map.buckets[i], *next; r; r = next) {
            next = r->next;
            r->next = nb[r->hash & (n - 1)];
            nb[r->hash & (n - 1)] = r;
        }
    }
    sb_hub__free(h, h->map.buckets);
    h->map.buckets = nb;
    h->map.nbuckets = n;
}

sb_hub_room_t *sb_hub__map_add(sb_hub_t *h, sb_str_t name) {
    sb_hub_room_t *r = room_alloc(h, name.n);
    if (!r)
        return NULL;
    r->hash = (uint32_t)sb_hub__hash(h->map.seed, name);
    sb_list_init(&r->members);
    r->size = 0;
    r->name_len = (uint32_t)name.n;
    memcpy(r->name, name.p, name.n);
    sb_hub_room_t **b = &h->map.buckets[r->hash & (h->map.nbuckets - 1)];
    r->next = *b;
    *b = r;
    h->map.count++;
    h->nprefixed += sb_hub__kept_name(h, name);
    if (h->map.count > 2 * h->map.nbuckets && h->map.nbuckets <= SIZE_MAX / 2 / sizeof(r))
        map_resize(h, h->map.nbuckets * 2);
    return r;
}

void sb_hub__map_del(sb_hub_t *h, sb_hub_room_t *r) {
    sb_hub_room_t **pp = &h->map.buckets[r->hash & (h->map.nbuckets - 1)];
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    h->nprefixed -= sb_hub__kept_name(h, sb_hub__room_name(r));
    room_free(h, r);
    h->map.count--;
    if (h->map.nbuckets > SB_HUB__MAP_MIN_BUCKETS && h->map.count < h->map.nbuckets / 2)
        map_resize(h, h->map.nbuckets / 2);
}
