/* The fixed-size object pool: distinct zeroed objects, block reuse and
 * release, and a long random alloc/free run checked against a model (every
 * live object keeps its own byte pattern). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "testlib.h"

#define N 5000

static bool all_bytes(const void *p, size_t n, uint8_t v) {
    for (size_t i = 0; i < n; i++)
        if (((const uint8_t *)p)[i] != v)
            return false;
    return true;
}

TEST(objects_are_distinct_zeroed_and_aligned) {
    sb_pool_t pool;
    sb_pool_init(&pool, 44); /* rounded to 48 */
    CHECK_EQ(pool.size, 48);
    static char *obj[N];
    for (int i = 0; i < N; i++) {
        obj[i] = sb_pool_alloc(&pool);
        CHECK(obj[i] != NULL);
        CHECK((uintptr_t)obj[i] % 8 == 0);
        CHECK(all_bytes(obj[i], 44, 0));
        memset(obj[i], (uint8_t)(i % 251 + 1), 44);
    }
    CHECK_EQ(pool.live, N);
    for (int i = 0; i < N; i++)
        CHECK(all_bytes(obj[i], 44, (uint8_t)(i % 251 + 1)));
    /* Freed objects come back zeroed. */
    sb_pool_free(&pool, obj[7]);
    char *again = sb_pool_alloc(&pool);
    CHECK(all_bytes(again, 44, 0));
    obj[7] = again;
    for (int i = 0; i < N; i++)
        sb_pool_free(&pool, obj[i]);
    CHECK_EQ(pool.live, 0);
    if (!pool.direct) /* every block released but one spare */
        CHECK_EQ(pool.blocks, 1);
    sb_pool_free(&pool, NULL);
    sb_pool_dispose(&pool);
}

TEST(pooled_objects_cost_their_size) {
    sb_pool_t pool;
    sb_pool_init(&pool, 48);
    if (pool.direct) /* AddressSanitizer build: calloc/free underneath */
        return;
    for (int i = 0; i < 4000; i++)
        CHECK(sb_pool_alloc(&pool) != NULL);
    /* 4000 x 48 bytes fit in 3 blocks of 64 KiB: no per-object header. */
    CHECK_EQ(pool.blocks, 3);
    sb_pool_dispose(&pool);
}

TEST(large_objects_go_to_malloc) {
    sb_pool_t pool;
    sb_pool_init(&pool, SB_POOL_MAX_OBJECT + 1);
    CHECK(pool.direct);
    void *a = sb_pool_alloc(&pool), *b = sb_pool_alloc(&pool);
    CHECK(a && b && a != b);
    CHECK(all_bytes(a, SB_POOL_MAX_OBJECT + 1, 0));
    CHECK_EQ(pool.live, 2);
    sb_pool_free(&pool, a);
    sb_pool_free(&pool, b);
    CHECK_EQ(pool.live, 0);
    CHECK_EQ(pool.blocks, 0);
    sb_pool_dispose(&pool);
}

/* Random churn: a model holds the live objects and the byte each was filled
 * with; any overlap between two live objects would break a pattern. */
TEST(random_churn_keeps_every_live_object_intact) {
    sb_pool_t pool;
    sb_pool_init(&pool, 216);
    static uint8_t *live[N];
    static uint8_t fill[N];
    size_t n = 0;
    unsigned seed = 12345;
    for (int step = 0; step < 200000; step++) {
        seed = seed * 1103515245u + 12345u;
        bool grow = n == 0 || (n < N && (seed >> 16) % 100 < (step < 100000 ? 60u : 40u));
        if (grow) {
            live[n] = sb_pool_alloc(&pool);
            CHECK(live[n] != NULL);
            fill[n] = (uint8_t)((seed >> 8) | 1);
            memset(live[n], fill[n], 216);
            n++;
        } else {
            size_t k = (seed >> 4) % n;
            CHECK(all_bytes(live[k], 216, fill[k]));
            sb_pool_free(&pool, live[k]);
            live[k] = live[--n];
            fill[k] = fill[n];
        }
    }
    CHECK_EQ(pool.live, n);
    for (size_t k = 0; k < n; k++) {
        CHECK(all_bytes(live[k], 216, fill[k]));
        sb_pool_free(&pool, live[k]);
    }
    CHECK_EQ(pool.live, 0);
    CHECK(pool.blocks <= 1);
    sb_pool_dispose(&pool);
}

/* Kept spares: a burst of several blocks freed and made again maps nothing
 * new; past the spares kept, empty blocks go back. */
TEST(spares_kept_for_bursts) {
    sb_pool_t pool;
    sb_pool_init(&pool, 1000); /* 65 a block */
    sb_pool_keep_spares(&pool, 3);
    static void *obj[400];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 400; i++)
            CHECK((obj[i] = sb_pool_alloc(&pool)) != NULL);
        for (int i = 0; i < 400; i++)
            sb_pool_free(&pool, obj[i]);
        if (!pool.direct) { /* 7 blocks made; 3 kept when all went empty */
            CHECK_EQ(pool.nspares, 3);
            CHECK_EQ(pool.blocks, 3);
        }
    }
    for (int i = 0; i < 150; i++) /* fits in the 3 spares: no block mapped */
        CHECK((obj[i] = sb_pool_alloc(&pool)) != NULL);
    if (!pool.direct) {
        CHECK_EQ(pool.blocks, 3);
        CHECK_EQ(pool.nspares, 0);
    }
    for (int i = 0; i < 150; i++)
        sb_pool_free(&pool, obj[i]);
    CHECK_EQ(pool.live, 0);
    sb_pool_dispose(&pool);
}

int main(void) {
    RUN(objects_are_distinct_zeroed_and_aligned);
    RUN(pooled_objects_cost_their_size);
    RUN(large_objects_go_to_malloc);
    RUN(random_churn_keeps_every_live_object_intact);
    RUN(spares_kept_for_bursts);
    TEST_MAIN_END();
}
