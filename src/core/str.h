/* Non-owning string slices. A slice stays valid only as long as the buffer it
 * points into; every function that returns one says how long that is. */
#ifndef SB_CORE_STR_H
#define SB_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *p;
    size_t n;
} sb_str_t;

#define SB_LIT(s) ((sb_str_t){(s), sizeof(s) - 1})
#define SB_STR_NULL ((sb_str_t){NULL, 0})

static inline sb_str_t sb_str(const char *p, size_t n) { return (sb_str_t){p, n}; }
static inline sb_str_t sb_cstr(const char *s) { return (sb_str_t){s, s ? strlen(s) : 0}; }

static inline bool sb_str_eq(sb_str_t a, sb_str_t b) {
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static inline bool sb_str_ieq(sb_str_t a, sb_str_t b) {
    return a.n == b.n && (a.n == 0 || strncasecmp(a.p, b.p, a.n) == 0);
}

static inline bool sb_str_has_prefix(sb_str_t s, sb_str_t prefix) {
    return s.n >= prefix.n && memcmp(s.p, prefix.p, prefix.n) == 0;
}

/* FNV-1a: used by the hash tables; not exposed to peers as anything secret. */
static inline uint64_t sb_str_hash(sb_str_t s) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < s.n; i++) {
        h ^= (uint8_t)s.p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#define sb_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
