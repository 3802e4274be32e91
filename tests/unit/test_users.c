/* The online-users table (src/features/users.c): lookups by id, growth,
 * shrinking and deletion by backward shift, against a naive model under a
 * randomized run of adds and removes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "features/features_internal.h"
#include "testlib.h"

#define NUSERS 3000

static sb_user_t *make_user(int i) {
    char id[32];
    int n = snprintf(id, sizeof id, "u%d", i);
    sb_user_t *u = calloc(1, sizeof *u + (size_t)n + 1);
    memcpy(u->id, id, (size_t)n + 1);
    u->id_len = (uint8_t)n;
    return u;
}

static bool count_cb(const sb_user_t *u, void *ud) {
    (*(size_t *)ud)++;
    return true;
}

TEST(add_find_remove_against_a_model) {
    sb_features_t f;
    memset(&f, 0, sizeof f);
    static sb_user_t *users[NUSERS];
    static bool in[NUSERS];
    for (int i = 0; i < NUSERS; i++)
        users[i] = make_user(i);
    CHECK(sb_feat_user_find(&f, sb_cstr("u1")) == NULL);
    uint32_t seed = 12345;
    size_t n = 0;
    for (int step = 0; step < 60000; step++) {
        seed = seed * 1103515245u + 12345u;
        int i = (int)((seed >> 8) % NUSERS);
        /* Grow for the first third, churn, then drain to empty. */
        bool add = step < 20000 ? (seed >> 4) % 4 != 0 : step < 40000 ? (seed >> 4) % 2 : false;
        if (add && !in[i]) {
            CHECK_EQ(sb_feat_user_add(&f, users[i]), SB_OK);
            in[i] = true, n++;
        } else if (!add && in[i]) {
            sb_feat_user_remove(&f, users[i]);
            in[i] = false, n--;
        }
        if (step % 997 == 0 || step > 59000) {
            CHECK_EQ(f.users.count, n);
            for (int j = 0; j < NUSERS; j++) {
                char id[32];
                snprintf(id, sizeof id, "u%d", j);
                CHECK(sb_feat_user_find(&f, sb_cstr(id)) == (in[j] ? users[j] : NULL));
            }
        }
    }
    for (int j = 0; j < NUSERS; j++)
        if (in[j])
            sb_feat_user_remove(&f, users[j]), n--;
    size_t seen = 0;
    sb_feat_users_foreach(&f, count_cb, &seen);
    CHECK_EQ(seen, 0);
    CHECK_EQ(f.users.count, 0);
    CHECK(f.users.cap <= 16);
    sb_feat_user_remove(&f, users[0]); /* absent: nothing happens */
    CHECK(sb_feat_user_find(&f, sb_cstr("u0")) == NULL);
    sb_feat_users_dispose(&f);
    for (int i = 0; i < NUSERS; i++)
        free(users[i]);
}

TEST(prefix_ids_are_distinct) {
    sb_features_t f;
    memset(&f, 0, sizeof f);
    sb_user_t *a = make_user(1), *b = make_user(12);
    CHECK_EQ(sb_feat_user_add(&f, a), SB_OK);
    CHECK_EQ(sb_feat_user_add(&f, b), SB_OK);
    CHECK(sb_feat_user_find(&f, sb_cstr("u1")) == a);
    CHECK(sb_feat_user_find(&f, sb_cstr("u12")) == b);
    CHECK(sb_feat_user_find(&f, sb_str("u12", 2)) == a);
    CHECK(sb_feat_user_find(&f, sb_cstr("u123")) == NULL);
    size_t seen = 0;
    sb_feat_users_foreach(&f, count_cb, &seen);
    CHECK_EQ(seen, 2);
    sb_feat_users_dispose(&f);
    free(a);
    free(b);
}

int main(void) {
    RUN(add_find_remove_against_a_model);
    RUN(prefix_ids_are_distinct);
    TEST_MAIN_END();
}
