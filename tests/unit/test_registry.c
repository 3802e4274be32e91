/* The feature registry's user_gone column (src/features/features.c,
 * sb_feat_rows_user_gone, the function the built-in namespace's disconnect
 * runs over the registry's table): over a table of recording rows, every
 * row's handler runs once per user gone, in table order, with the device
 * that left last; rows without one are skipped; nothing runs while the
 * user still has a device, whoever else leaves. */
#include <stdlib.h>
#include <string.h>

#include "features/features_internal.h"
#include "testlib.h"

#define LOG_MAX 32

/* What the handlers saw, in order: the row and the device it was handed. */
static struct {
    int row[LOG_MAX];
    const sb_client_t *dev[LOG_MAX];
    size_t n;
} seen;

static void record(int row, sb_client_t *last) {
    if (seen.n < LOG_MAX) {
        seen.row[seen.n] = row;
        seen.dev[seen.n] = last;
    }
    seen.n++;
}

static void gone_a(sb_client_t *last) { record(0, last); }
static void gone_c(sb_client_t *last) { record(2, last); }
static void gone_d(sb_client_t *last) { record(3, last); }

/* Rows as features.c writes them; b and e react to nobody leaving. */
static const sb_feature_row_t rows[] = {
    {"a", NULL, NULL, NULL, gone_a}, {"b", NULL, NULL, NULL, NULL}, {"c", NULL, NULL, NULL, gone_c},
    {"d", NULL, NULL, NULL, gone_d}, {"e", NULL, NULL, NULL, NULL},
};
#define NROWS (sizeof rows / sizeof rows[0])

/* A user record as session.c makes one: the id after the struct, no
 * name of its own (the id stands in), then an empty avatar. */
static sb_user_t *user_new(const char *id, uint32_t devices) {
    sb_user_t *u = calloc(1, sizeof *u + strlen(id) + 2);
    strcpy(u->id, id);
    u->devices = devices;
    return u;
}

/* What the session does to a closing device, then the registry's part. */
static void device_leaves(sb_client_t *c) {
    c->user->devices--;
    sb_feat_rows_user_gone(rows, NROWS, c);
}

static void expect_one_round(const sb_client_t *last) {
    CHECK_EQ(seen.n, 3);
    CHECK_EQ(seen.row[0], 0);
    CHECK_EQ(seen.row[1], 2);
    CHECK_EQ(seen.row[2], 3);
    for (size_t i = 0; i < 3; i++)
        CHECK(seen.dev[i] == last);
}

TEST(last_device_calls_every_handler_once_in_table_order) {
    sb_user_t *u = user_new("u1", 1);
    sb_client_t c = {.user = u};
    seen.n = 0;
    device_leaves(&c);
    expect_one_round(&c);
    free(u);
}

TEST(no_handler_while_the_user_has_another_device) {
    sb_user_t *u = user_new("u1", 3);
    sb_client_t phone = {.user = u}, laptop = {.user = u}, tab = {.user = u};
    seen.n = 0;
    device_leaves(&laptop);
    CHECK_EQ(seen.n, 0);
    device_leaves(&phone);
    CHECK_EQ(seen.n, 0);
    device_leaves(&tab); /* the last one, whichever it is */
    expect_one_round(&tab);
    free(u);
}

TEST(one_user_gone_is_not_another) {
    sb_user_t *a = user_new("alice", 1), *b = user_new("bob", 2);
    sb_client_t alice = {.user = a}, bob1 = {.user = b}, bob2 = {.user = b};
    seen.n = 0;
    device_leaves(&bob1);
    CHECK_EQ(seen.n, 0);
    device_leaves(&alice);
    expect_one_round(&alice);
    seen.n = 0;
    device_leaves(&bob2);
    expect_one_round(&bob2);
    free(a);
    free(b);
}

TEST(a_user_back_and_gone_again_is_told_again) {
    sb_user_t *u = user_new("u1", 1);
    sb_client_t first = {.user = u}, second = {.user = u};
    seen.n = 0;
    device_leaves(&first);
    expect_one_round(&first);
    u->devices++; /* reconnects */
    seen.n = 0;
    device_leaves(&second);
    expect_one_round(&second);
    free(u);
}

TEST(a_table_without_handlers_calls_nothing) {
    sb_user_t *u = user_new("u1", 1);
    sb_client_t c = {.user = u};
    seen.n = 0;
    c.user->devices--;
    sb_feat_rows_user_gone(rows + 4, 1, &c);
    sb_feat_rows_user_gone(rows, 0, &c);
    CHECK_EQ(seen.n, 0);
    free(u);
}

int main(void) {
    RUN(last_device_calls_every_handler_once_in_table_order);
    RUN(no_handler_while_the_user_has_another_device);
    RUN(one_user_gone_is_not_another);
    RUN(a_user_back_and_gone_again_is_told_again);
    RUN(a_table_without_handlers_calls_nothing);
    TEST_MAIN_END();
}
