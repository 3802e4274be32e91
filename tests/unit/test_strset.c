/* The packed string set against a plain model: random adds and removes
 * over small and large tables (so that probe runs wrap around the end and
 * removals pull keys back across it), keys as bytes, the length limit, and
 * the table shrinking once most keys are gone. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/strset.h"
#include "testlib.h"

#define KEYS 5000

static void key_name(char *buf, size_t cap, unsigned i) { snprintf(buf, cap, "user-%u", i); }

static uint64_t rng_state = 88172645463325252ull;
static unsigned rnd(unsigned n) { /* xorshift64: the same run every time */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

typedef struct {
    const bool *in;
    unsigned seen[KEYS];
    unsigned strangers;
} visit_t;

static bool visit(sb_str_t key, void *ud) {
    visit_t *v = ud;
    unsigned i;
    char tail;
    char buf[32];
    if (key.n >= sizeof buf) {
        v->strangers++;
        return true;
    }
    memcpy(buf, key.p, key.n);
    buf[key.n] = '\0';
    if (sscanf(buf, "user-%u%c", &i, &tail) != 1 || i >= KEYS || !v->in[i])
        v->strangers++;
    else
        v->seen[i]++;
    return true;
}

/* The set holds exactly the model's keys, each visited once. */
static void check_against(const sb_strset_t *s, const bool *in, unsigned universe) {
    static visit_t v;
    memset(&v, 0, sizeof v);
    v.in = in;
    size_t expected = 0;
    char name[32];
    for (unsigned i = 0; i < universe; i++) {
        key_name(name, sizeof name, i);
        CHECK_EQ(sb_strset_has(s, sb_cstr(name)), in[i]);
        expected += in[i];
    }
    CHECK_EQ(sb_strset_count(s), expected);
    sb_strset_foreach(s, visit, &v);
    CHECK_EQ(v.strangers, 0);
    for (unsigned i = 0; i < universe; i++)
        CHECK_EQ(v.seen[i], in[i] ? 1 : 0);
}

/* Random adds and removes among `universe` keys, checked every `every`. */
static void churn(unsigned universe, unsigned ops, unsigned every) {
    static bool in[KEYS];
    memset(in, 0, sizeof in);
    sb_strset_t s;
    sb_strset_init(&s);
    char name[32];
    for (unsigned op = 1; op <= ops; op++) {
        unsigned i = rnd(universe);
        key_name(name, sizeof name, i);
        if (rnd(3) < 2) { /* adds outnumber removes: the table grows */
            CHECK_EQ(sb_strset_add(&s, sb_cstr(name)), SB_OK);
            in[i] = true;
        } else {
            CHECK_EQ(sb_strset_del(&s, sb_cstr(name)), in[i]);
            in[i] = false;
        }
        if (op % every == 0)
            check_against(&s, in, universe);
    }
    check_against(&s, in, universe);
    sb_strset_dispose(&s);
    CHECK_EQ(sb_strset_count(&s), 0);
}

TEST(small_tables_match_the_model_through_wrapping_probes) {
    for (unsigned round = 0; round < 200; round++)
        churn(14, 60, 1); /* at most 14 keys: a table of 16 or 32 slots */
}

TEST(large_tables_match_the_model) { churn(KEYS, 40000, 5000); }

TEST(adding_twice_keeps_one_and_removing_a_stranger_changes_nothing) {
    sb_strset_t s;
    sb_strset_init(&s);
    CHECK(!sb_strset_has(&s, SB_LIT("alice")));
    CHECK(!sb_strset_del(&s, SB_LIT("alice")));
    CHECK_EQ(sb_strset_add(&s, SB_LIT("alice")), SB_OK);
    CHECK_EQ(sb_strset_add(&s, SB_LIT("alice")), SB_OK);
    CHECK_EQ(sb_strset_count(&s), 1);
    CHECK(!sb_strset_del(&s, SB_LIT("bob")));
    CHECK(!sb_strset_has(&s, SB_LIT("alic")));
    CHECK(!sb_strset_has(&s, SB_LIT("alice2")));
    CHECK(sb_strset_del(&s, SB_LIT("alice")));
    CHECK_EQ(sb_strset_count(&s), 0);
    sb_strset_dispose(&s);
}

TEST(keys_are_bytes_up_to_the_limit) {
    sb_strset_t s;
    sb_strset_init(&s);
    CHECK_EQ(sb_strset_add(&s, sb_str("a\0b", 3)), SB_OK);
    CHECK(sb_strset_has(&s, sb_str("a\0b", 3)));
    CHECK(!sb_strset_has(&s, sb_str("a\0c", 3)));
    CHECK(!sb_strset_has(&s, SB_LIT("a")));
    CHECK_EQ(sb_strset_add(&s, SB_LIT("")), SB_OK);
    CHECK(sb_strset_has(&s, SB_LIT("")));
    static char big[SB_STRSET_MAX_KEY + 1];
    memset(big, 'k', sizeof big);
    CHECK_EQ(sb_strset_add(&s, sb_str(big, SB_STRSET_MAX_KEY)), SB_OK);
    CHECK(sb_strset_has(&s, sb_str(big, SB_STRSET_MAX_KEY)));
    CHECK_EQ(sb_strset_add(&s, sb_str(big, sizeof big)), SB_EINVAL);
    CHECK(!sb_strset_has(&s, sb_str(big, sizeof big)));
    CHECK(!sb_strset_del(&s, sb_str(big, sizeof big)));
    CHECK_EQ(sb_strset_count(&s), 3);
    sb_strset_dispose(&s);
}

TEST(the_table_shrinks_once_most_keys_are_gone) {
    sb_strset_t s;
    sb_strset_init(&s);
    char name[32];
    for (unsigned i = 0; i < KEYS; i++) {
        key_name(name, sizeof name, i);
        CHECK_EQ(sb_strset_add(&s, sb_cstr(name)), SB_OK);
    }
    size_t full = s._table.cap;
    CHECK(full >= KEYS * 4 / 3);
    for (unsigned i = 10; i < KEYS; i++) {
        key_name(name, sizeof name, i);
        CHECK(sb_strset_del(&s, sb_cstr(name)));
    }
    CHECK(s._table.cap <= 128); /* 10 keys left */
    for (unsigned i = 0; i < 10; i++) {
        key_name(name, sizeof name, i);
        CHECK(sb_strset_has(&s, sb_cstr(name)));
    }
    CHECK_EQ(sb_strset_count(&s), 10);
    sb_strset_dispose(&s);
}

TEST(a_set_moved_by_assignment_keeps_working) {
    sb_strset_t a, b;
    sb_strset_init(&a);
    CHECK_EQ(sb_strset_add(&a, SB_LIT("carol")), SB_OK);
    CHECK_EQ(sb_strset_add(&a, SB_LIT("dave")), SB_OK);
    b = a; /* as a cluster view is kept aside during a rebuild */
    sb_strset_init(&a);
    CHECK_EQ(sb_strset_add(&a, SB_LIT("erin")), SB_OK);
    CHECK(sb_strset_has(&b, SB_LIT("carol")) && sb_strset_has(&b, SB_LIT("dave")));
    CHECK(!sb_strset_has(&b, SB_LIT("erin")) && !sb_strset_has(&a, SB_LIT("carol")));
    CHECK(sb_strset_del(&b, SB_LIT("carol")));
    CHECK_EQ(sb_strset_add(&b, SB_LIT("frank")), SB_OK);
    CHECK_EQ(sb_strset_count(&b), 2);
    sb_strset_dispose(&b);
    sb_strset_dispose(&a);
}

int main(void) {
    RUN(small_tables_match_the_model_through_wrapping_probes);
    RUN(large_tables_match_the_model);
    RUN(adding_twice_keeps_one_and_removing_a_stranger_changes_nothing);
    RUN(keys_are_bytes_up_to_the_limit);
    RUN(the_table_shrinks_once_most_keys_are_gone);
    RUN(a_set_moved_by_assignment_keeps_working);
    TEST_MAIN_END();
}
