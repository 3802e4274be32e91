/* Tests for core/random.c: bytes are handed out once each (wiped from the
 * block as they go), across refills, and look random. */
#include <stdbool.h>
#include <string.h>

#include "core/random.h"
#include "testlib.h"

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

TEST(bytes_handed_out_are_wiped) {
    sb_random_t r = {0};
    uint8_t a[20];
    sb_random_bytes(&r, a, sizeof a);
    CHECK_EQ(r._left, SB_RANDOM_BLOCK - 20);
    CHECK(all_zero(r._buf, 20));
    CHECK(!all_zero(r._buf + 20, SB_RANDOM_BLOCK - 20)); /* 2^-1888 to fail by chance */
    CHECK(!all_zero(a, sizeof a));
}

TEST(draws_across_refills_differ) {
    sb_random_t r = {0};
    enum { N = 400 }; /* 20-byte ids: ~32 refills */
    uint8_t ids[N][20];
    for (int i = 0; i < N; i++)
        sb_random_bytes(&r, ids[i], sizeof ids[i]);
    int same = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            same += memcmp(ids[i], ids[j], sizeof ids[i]) == 0;
    CHECK_EQ(same, 0);
    /* Every byte value shows up in 8,000 random bytes (a value missing:
     * (255/256)^8000, ~3e-14; any of the 256: under 1e-11). */
    int seen[256] = {0};
    for (int i = 0; i < N; i++)
        for (int k = 0; k < 20; k++)
            seen[ids[i][k]]++;
    int missing = 0;
    for (int v = 0; v < 256; v++)
        missing += seen[v] == 0;
    CHECK_EQ(missing, 0);
}

TEST(a_whole_block_at_once) {
    sb_random_t r = {0};
    uint8_t a[5], b[SB_RANDOM_BLOCK];
    sb_random_bytes(&r, a, sizeof a);
    sb_random_bytes(&r, b, sizeof b); /* more than is left: a fresh block */
    CHECK_EQ(r._left, 0);
    CHECK(all_zero(r._buf, SB_RANDOM_BLOCK));
}

int main(void) {
    RUN(bytes_handed_out_are_wiped);
    RUN(draws_across_refills_differ);
    RUN(a_whole_block_at_once);
    TEST_MAIN_END();
}
