/* A tiny unit-test harness: each tests/unit/test_*.c is its own program.
 * TEST(name) defines a case; RUN(name) runs it; TEST_MAIN ends with the
 * closing line "N passed, N failed" that tests/run.sh adds up. */
#ifndef SB_TESTLIB_H
#define SB_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sb_t_passed, sb_t_failed, sb_t_case_failed;

#define TEST(name) static void test_##name(void)
#define RUN(name)                                                                                  \
    do {                                                                                           \
        sb_t_case_failed = 0;                                                                      \
        test_##name();                                                                             \
        if (sb_t_case_failed) {                                                                    \
            sb_t_failed++;                                                                         \
            printf("not ok - %s\n", #name);                                                        \
        } else {                                                                                   \
            sb_t_passed++;                                                                         \
            printf("ok - %s\n", #name);                                                            \
        }                                                                                          \
    } while (0)
#define TEST_MAIN_END()                                                                            \
    do {                                                                                           \
        printf("%d passed, %d failed\n", sb_t_passed, sb_t_failed);                                \
        return sb_t_failed ? 1 : 0;                                                                \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);             \
            sb_t_case_failed = 1;                                                                  \
        }                                                                                          \
    } while (0)
#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long sb_a_ = (long long)(a), sb_b_ = (long long)(b);                                  \
        if (sb_a_ != sb_b_) {                                                                      \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a,  \
                    sb_a_, #b, sb_b_);                                                             \
            sb_t_case_failed = 1;                                                                  \
        }                                                                                          \
    } while (0)
#define CHECK_MEM(p, n, lit)                                                                       \
    do {                                                                                           \
        size_t sb_n_ = (size_t)(n);                                                                \
        if (sb_n_ != sizeof(lit) - 1 || memcmp((p), (lit), sb_n_) != 0) {                          \
            fprintf(stderr, "  %s:%d: got \"%.*s\", expected \"%s\"\n", __FILE__, __LINE__,        \
                    (int)sb_n_, (const char *)(p), (lit));                                         \
            sb_t_case_failed = 1;                                                                  \
        }                                                                                          \
    } while (0)

#endif
