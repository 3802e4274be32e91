/* Size classes over the pool: a record lands in the class of its size
 * rounded up to 8 bytes, comes zeroed, keeps its bytes while others come and
 * go, and goes back to the class it came from; records over the largest
 * class come from malloc. */
#include <stdint.h>
#include <string.h>

#include "core/slab.h"
#include "testlib.h"

#define N 3000

static size_t size_of(int i) {
    return (size_t)(i * 7 % 2100) + 1;
} /* 1..2100: past SB_SLAB_SMALL and SB_SLAB_MAX too */

TEST(records_are_zeroed_and_keep_their_bytes) {
    sb_slab_t s;
    sb_slab_init(&s);
    static unsigned char *rec[N];
    for (int i = 0; i < N; i++) {
        rec[i] = sb_slab_alloc(&s, size_of(i));
        CHECK(rec[i] != NULL);
        CHECK((uintptr_t)rec[i] % 8 == 0);
        for (size_t j = 0; j < size_of(i); j++)
            CHECK_EQ(rec[i][j], 0);
        memset(rec[i], i % 251 + 1, size_of(i));
    }
    for (int i = 0; i < N; i += 2) /* every other one away, and new ones in their place */
        sb_slab_free(&s, rec[i], size_of(i));
    for (int i = 0; i < N; i += 2) {
        rec[i] = sb_slab_alloc(&s, size_of(i));
        memset(rec[i], i % 251 + 1, size_of(i));
    }
    for (int i = 0; i < N; i++) {
        for (size_t j = 0; j < size_of(i); j++)
            CHECK_EQ(rec[i][j], i % 251 + 1);
        sb_slab_free(&s, rec[i], size_of(i));
    }
    sb_slab_free(&s, NULL, 10);
    for (size_t c = 0; c < sizeof s.cls / sizeof s.cls[0]; c++)
        CHECK_EQ(s.cls[c].live, 0);
    sb_slab_dispose(&s);
}

TEST(a_record_goes_to_the_class_of_its_rounded_size) {
    sb_slab_t s;
    sb_slab_init(&s);
    void *a = sb_slab_alloc(&s, 41), *b = sb_slab_alloc(&s, 48), *c = sb_slab_alloc(&s, 49);
    CHECK_EQ(s.cls[5].size, 48);
    CHECK_EQ(s.cls[5].live, 2);
    CHECK_EQ(s.cls[6].live, 1);
    void *big = sb_slab_alloc(&s, SB_SLAB_MAX + 1);
    CHECK(big != NULL);
    for (size_t i = 0; i < sizeof s.cls / sizeof s.cls[0]; i++)
        CHECK(s.cls[i].live == 0 || i == 5 || i == 6);
    sb_slab_free(&s, a, 41);
    sb_slab_free(&s, b, 48);
    sb_slab_free(&s, c, 49);
    sb_slab_free(&s, big, SB_SLAB_MAX + 1);
    CHECK_EQ(s.cls[5].live, 0);
    CHECK_EQ(s.cls[6].live, 0);
    sb_slab_dispose(&s);
}

TEST(larger_records_go_to_classes_64_bytes_apart) {
    sb_slab_t s;
    sb_slab_init(&s);
    const size_t first = SB_SLAB_SMALL / SB_SLAB_STEP; /* the class of 257..320 bytes */
    void *a = sb_slab_alloc(&s, 256), *b = sb_slab_alloc(&s, 257), *c = sb_slab_alloc(&s, 320);
    void *d = sb_slab_alloc(&s, 321), *e = sb_slab_alloc(&s, 1000), *f = sb_slab_alloc(&s, 2048);
    CHECK_EQ(s.cls[first - 1].size, 256);
    CHECK_EQ(s.cls[first - 1].live, 1);
    CHECK_EQ(s.cls[first].size, 320);
    CHECK_EQ(s.cls[first].live, 2);
    CHECK_EQ(s.cls[first + 1].size, 384);
    CHECK_EQ(s.cls[first + 1].live, 1);
    CHECK_EQ(s.cls[first + 11].size, 1024); /* 1000 bytes: 961..1024 */
    CHECK_EQ(s.cls[first + 11].live, 1);
    CHECK_EQ(s.cls[SB_SLAB_CLASSES - 1].size, 2048);
    CHECK_EQ(s.cls[SB_SLAB_CLASSES - 1].live, 1);
    memset(f, 0xab, 2048); /* the whole record is its own */
    sb_slab_free(&s, a, 256);
    sb_slab_free(&s, b, 257);
    sb_slab_free(&s, c, 320);
    sb_slab_free(&s, d, 321);
    sb_slab_free(&s, e, 1000);
    sb_slab_free(&s, f, 2048);
    for (size_t i = 0; i < SB_SLAB_CLASSES; i++)
        CHECK_EQ(s.cls[i].live, 0);
    sb_slab_dispose(&s);
}

TEST(records_cost_their_rounded_size) {
    /* 4000 user records of 45 bytes (a 32-byte header, "u12345", a name
     * and an avatar): 48 bytes each, in 3 blocks of 64 KiB; from malloc
     * each took a 64-byte chunk. */
    sb_slab_t s;
    sb_slab_init(&s);
    static void *rec[4000];
    for (int i = 0; i < 4000; i++)
        CHECK((rec[i] = sb_slab_alloc(&s, 45)) != NULL);
    if (!s.cls[5].direct) /* AddressSanitizer build: calloc/free underneath */
        CHECK_EQ(s.cls[5].blocks, 3);
    for (int i = 0; i < 4000; i++)
        sb_slab_free(&s, rec[i], 45);
    sb_slab_dispose(&s);
}

int main(void) {
    RUN(records_are_zeroed_and_keep_their_bytes);
    RUN(a_record_goes_to_the_class_of_its_rounded_size);
    RUN(larger_records_go_to_classes_64_bytes_apart);
    RUN(records_cost_their_rounded_size);
    TEST_MAIN_END();
}
