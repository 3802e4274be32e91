/* Tests for the hub: membership both ways, room table growth, broadcast
 * targeting, frame references, allocation failure, misuse, and a randomized
 * run against a naive model. sb_hub_validate runs after every mutation. */
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "hub/hub.h"
#include "hub/hub_internal.h"
#include "testlib.h"

/* ---- fixtures ---------------------------------------------------------- */

#define NMAX 64
#define FRAMES_MAX 4096

typedef struct {
    int id;
    int got; /* deliveries since the last reset */
    sb_hub_member_t member;
} tconn_t;

static sb_frame_t *kept[FRAMES_MAX]; /* frames referenced by deliver */
static size_t nkept;

static void on_deliver(sb_hub_member_t *m, sb_frame_t *f) {
    tconn_t *c = sb_container_of(m, tconn_t, member);
    c->got++;
    if (nkept < FRAMES_MAX)
        kept[nkept++] = sb_frame_ref(f);
}

static void release_kept(void) {
    while (nkept)
        sb_frame_unref(kept[--nkept]);
}

static void conns_init(tconn_t *c, int n) {
    for (int i = 0; i < n; i++) {
        c[i] = (tconn_t){.id = i};
        sb_hub_member_init(&c[i].member, on_deliver);
    }
}

static void conns_reset(tconn_t *c, int n) {
    for (int i = 0; i < n; i++)
        c[i].got = 0;
    release_kept();
}

#define VALID(h) CHECK_EQ(sb_hub_validate(h), SB_OK)

static size_t bcast(sb_hub_t *h, sb_hub_target_t t) {
    sb_frame_t *f = sb_frame_create("x", 1, 0);
    size_t n = sb_hub_broadcast(h, &t, f);
    sb_frame_unref(f);
    release_kept();
    return n;
}

/* ---- membership -------------------------------------------------------- */

TEST(create_destroy_empty) {
    sb_hub_t *h = sb_hub_create(NULL);
    CHECK(h != NULL);
    VALID(h);
    CHECK_EQ(sb_hub_room_count(h), 0);
    CHECK_EQ(sb_hub_member_count(h), 0);
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("nope")), 0);
    sb_hub_destroy(h);
    sb_hub_destroy(NULL);
}

TEST(join_leave) {
    sb_hub_t *h = sb_hub_create(NULL);
    tconn_t c[2];
    conns_init(c, 2);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("lobby")), SB_OK);
    VALID(h);
    CHECK_EQ(sb_hub_join(h, &c[1].member, SB_LIT("lobby")), SB_OK);
    VALID(h);
    CHECK(sb_hub_is_member(h, &c[0].member, SB_LIT("lobby")));
    CHECK(!sb_hub_is_member(h, &c[0].member, SB_LIT("lobby2")));
    CHECK(!sb_hub_is_member(h, &c[0].member, SB_LIT("lobb")));
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("lobby")), 2);
    CHECK_EQ(sb_hub_room_count(h), 1);
    CHECK_EQ(sb_hub_leave(h, &c[0].member, SB_LIT("lobby")), SB_OK);
    VALID(h);
    CHECK_EQ(sb_hub_leave(h, &c[0].member, SB_LIT("lobby")), SB_ENOTFOUND);
    CHECK_EQ(sb_hub_leave(h, &c[0].member, SB_LIT("other")), SB_ENOTFOUND);
    CHECK_EQ(sb_hub_leave(h, &c[0].member, SB_LIT("")), SB_ENOTFOUND);
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("lobby")), 1);
    CHECK_EQ(sb_hub_room_count(h), 1);
    CHECK_EQ(sb_hub_leave(h, &c[1].member, SB_LIT("lobby")), SB_OK);
    VALID(h);
    CHECK_EQ(sb_hub_room_count(h), 0); /* freed on last leave */
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("lobby")), 0);
    sb_hub_destroy(h);
}

TEST(duplicate_join) {
    sb_hub_t *h = sb_hub_create(NULL);
    tconn_t c[1];
    conns_init(c, 1);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("r")), SB_OK);
        VALID(h);
    }
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("r")), 1);
    CHECK_EQ(bcast(h, (sb_hub_target_t){.rooms = &SB_LIT("r"), .nrooms = 1}), 1);
    CHECK_EQ(sb_hub_leave(h, &c[0].member, SB_LIT("r")), SB_OK);
    CHECK_EQ(sb_hub_room_count(h), 0);
    VALID(h);
    sb_hub_destroy(h);
}

TEST(join_name_limits) {
    sb_hub_t *h = sb_hub_create(&(sb_hub_config_t){.max_room_name = 8});
    tconn_t c[1];
    conns_init(c, 1);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("")), SB_EINVAL);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_STR_NULL), SB_EINVAL);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("123456789")), SB_ETOOBIG);
    VALID(h);
    CHECK_EQ(sb_hub_room_count(h), 0);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("12345678")), SB_OK);
    /* Names are bytes: embedded NUL and high bytes are distinct names. */
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("a\0b")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("a\0c")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("\xff\xfe")), SB_OK);
    VALID(h);
    CHECK_EQ(sb_hub_room_count(h), 4);
    CHECK(!sb_hub_is_member(h, &c[0].member, SB_LIT("a")));
    CHECK(!sb_hub_is_member(h, &c[0].member, SB_LIT("123456789")));
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("123456789")), 0);
    sb_hub_remove(h, &c[0].member);
    VALID(h);
    CHECK_EQ(sb_hub_room_count(h), 0);
    sb_hub_destroy(h);
}

TEST(name_is_copied) {
    sb_hub_t *h = sb_hub_create(NULL);
    tconn_t c[1];
    conns_init(c, 1);
    char buf[8] = "temp";
    CHECK_EQ(sb_hub_join(h, &c[0].member, sb_str(buf, 4)), SB_OK);
    memcpy(buf, "XXXX", 4);
    CHECK(sb_hub_is_member(h, &c[0].member, SB_LIT("temp")));
    CHECK(!sb_hub_is_member(h, &c[0].member, SB_LIT("XXXX")));
    VALID(h);
    sb_hub_remove(h, &c[0].member);
    sb_hub_destroy(h);
}

TEST(rooms_per_member_cap) {
    sb_hub_t *h = sb_hub_create(&(sb_hub_config_t){.max_rooms_per_member = 3});
    tconn_t c[2];
    conns_init(c, 2);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("a")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("b")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("c")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("d")), SB_ETOOBIG);
    VALID(h);
    CHECK_EQ(sb_hub_room_count(h), 3); /* no room created by the failed join */
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("b")), SB_OK); /* already in: fine at cap */
    CHECK_EQ(sb_hub_join(h, &c[1].member, SB_LIT("d")), SB_OK); /* the cap is per member */
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("d")), SB_ETOOBIG);
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("d")), 1);
    CHECK_EQ(sb_hub_leave(h, &c[0].member, SB_LIT("a")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("d")), SB_OK);
    VALID(h);
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("d")), 2);
    sb_hub_remove(h, &c[0].member);
    sb_hub_remove(h, &c[1].member);
    VALID(h);
    sb_hub_destroy(h);
}

TEST(leave_all) {
    sb_hub_t *h = sb_hub_create(NULL);
    tconn_t c[2];
    conns_init(c, 2);
    char name[16];
    for (int i = 0; i < 10; i++) {
        int n = snprintf(name, sizeof name, "r%d", i);
        CHECK_EQ(sb_hub_join(h, &c[0].member, sb_str(name, (size_t)n)), SB_OK);
        if (i % 2 == 0)
            CHECK_EQ(sb_hub_join(h, &c[1].member, sb_str(name, (size_t)n)), SB_OK);
        VALID(h);
    }
    CHECK_EQ(sb_hub_room_count(h), 10);
    sb_hub_leave_all(h, &c[0].member);
    VALID(h);
    CHECK_EQ(sb_hub_room_count(h), 5); /* rooms only c[0] was in are gone */
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("r4")), 1);
    CHECK(!sb_hub_is_member(h, &c[0].member, SB_LIT("r4")));
    sb_hub_leave_all(h, &c[0].member); /* nothing left: no-op */
    VALID(h);
    sb_hub_leave_all(h, &c[1].member);
    VALID(h);
    CHECK_EQ(sb_hub_room_count(h), 0);
    sb_hub_destroy(h);
}

TEST(add_remove) {
    sb_hub_t *h = sb_hub_create(NULL);
    tconn_t c[3];
    conns_init(c, 3);
    sb_hub_add(h, &c[0].member);
    sb_hub_add(h, &c[1].member);
    sb_hub_add(h, &c[1].member); /* twice: no-op */
    VALID(h);
    CHECK_EQ(sb_hub_member_count(h), 2);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("r")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[2].member, SB_LIT("r")), SB_OK); /* joined, never added */
    VALID(h);
    CHECK_EQ(sb_hub_member_count(h), 2);
    sb_hub_remove(h, &c[0].member);
    VALID(h);
    CHECK_EQ(sb_hub_member_count(h), 1);
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("r")), 1);
    sb_hub_remove(h, &c[0].member); /* removed already: no-op */
    sb_hub_remove(h, &c[2].member); /* never added: leaves its rooms */
    VALID(h);
    CHECK_EQ(sb_hub_room_count(h), 0);
    sb_hub_remove(h, &c[1].member);
    CHECK_EQ(sb_hub_member_count(h), 0);
    VALID(h);
    sb_hub_destroy(h);
}

/* After sb_hub_remove, a member's storage can move to another hub. */
TEST(member_moves_between_hubs) {
    sb_hub_t *a = sb_hub_create(&(sb_hub_config_t){.hash_seed = 1});
    sb_hub_t *b = sb_hub_create(&(sb_hub_config_t){.hash_seed = 2});
    tconn_t c[1];
    conns_init(c, 1);
    sb_hub_add(a, &c[0].member);
    CHECK_EQ(sb_hub_join(a, &c[0].member, SB_LIT("r")), SB_OK);
    /* The member now carries a's epoch 1, which is also b's first epoch. */
    CHECK_EQ(bcast(a, (sb_hub_target_t){.all = true}), 1);
    sb_hub_remove(a, &c[0].member);
    sb_hub_add(b, &c[0].member);
    CHECK_EQ(sb_hub_join(b, &c[0].member, SB_LIT("r")), SB_OK);
    VALID(a);
    VALID(b);
    for (int i = 0; i < 7; i++)
        CHECK_EQ(bcast(b, (sb_hub_target_t){.rooms = &SB_LIT("r"), .nrooms = 1}), 1);
    sb_hub_remove(b, &c[0].member);
    sb_hub_destroy(a);
    sb_hub_destroy(b);
}

/* Destroying a hub that still has members detaches them cleanly. */
TEST(destroy_detaches_members) {
    sb_hub_t *h = sb_hub_create(NULL);
    tconn_t c[2];
    conns_init(c, 2);
    sb_hub_add(h, &c[0].member);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("r")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[1].member, SB_LIT("r")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[1].member, SB_LIT("s")), SB_OK);
    sb_hub_destroy(h);
    CHECK(c[0].member._links == NULL);
    CHECK(c[1].member._links == NULL);
    CHECK_EQ(c[1].member._nrooms, 0);
    h = sb_hub_create(NULL);
    CHECK_EQ(sb_hub_join(h, &c[1].member, SB_LIT("t")), SB_OK);
    sb_hub_add(h, &c[0].member);
    VALID(h);
    sb_hub_remove(h, &c[0].member);
    sb_hub_remove(h, &c[1].member);
    sb_hub_destroy(h);
}

TEST(table_grows_and_shrinks) {
    sb_hub_t *h = sb_hub_create(&(sb_hub_config_t){.max_rooms_per_member = 5000});
    tconn_t c[2];
    conns_init(c, 2);
    char name[32];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(name, sizeof name, "room:%d", i);
        CHECK_EQ(sb_hub_join(h, &c[i % 2].member, sb_str(name, (size_t)n)), SB_OK);
        if (i % 500 == 0)
            VALID(h);
    }
    VALID(h);
    CHECK_EQ(sb_hub_room_count(h), 3000);
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(name, sizeof name, "room:%d", i);
        CHECK_EQ(sb_hub_room_size(h, sb_str(name, (size_t)n)), 1);
        CHECK(sb_hub_is_member(h, &c[i % 2].member, sb_str(name, (size_t)n)));
    }
    for (int i = 0; i < 2990; i++) {
        int n = snprintf(name, sizeof name, "room:%d", i);
        CHECK_EQ(sb_hub_leave(h, &c[i % 2].member, sb_str(name, (size_t)n)), SB_OK);
        if (i % 500 == 0)
            VALID(h);
    }
    VALID(h);
    CHECK_EQ(sb_hub_room_count(h), 10);
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("room:2995")), 1);
    sb_hub_leave_all(h, &c[0].member);
    sb_hub_leave_all(h, &c[1].member);
    VALID(h);
    sb_hub_destroy(h);
}

/* ---- broadcast --------------------------------------------------------- */

/* Six connections: rooms a = {0,1,2}, b = {2,3}, c = {4}; 5 is in no room.
 * user:7 = {1,2} models one user with two devices. */
static sb_hub_t *fixture(tconn_t *c) {
    sb_hub_t *h = sb_hub_create(NULL);
    conns_init(c, 6);
    static const int a[] = {0, 1, 2}, b[] = {2, 3};
    for (int i = 0; i < 6; i++)
        sb_hub_add(h, &c[i].member);
    for (int i = 0; i < 3; i++)
        sb_hub_join(h, &c[a[i]].member, SB_LIT("a"));
    for (int i = 0; i < 2; i++)
        sb_hub_join(h, &c[b[i]].member, SB_LIT("b"));
    sb_hub_join(h, &c[4].member, SB_LIT("c"));
    sb_hub_join(h, &c[1].member, SB_LIT("user:7"));
    sb_hub_join(h, &c[2].member, SB_LIT("user:7"));
    return h;
}

static void fixture_done(sb_hub_t *h, tconn_t *c) {
    for (int i = 0; i < 6; i++)
        sb_hub_remove(h, &c[i].member);
    sb_hub_destroy(h);
}

/* Broadcasts and returns a bitmask of who got it; fails the case if anyone got
 * it twice or the count disagrees. */
static unsigned bmask(sb_hub_t *h, tconn_t *c, sb_hub_target_t t) {
    conns_reset(c, 6);
    size_t n = bcast(h, t);
    unsigned mask = 0;
    size_t total = 0;
    for (int i = 0; i < 6; i++) {
        CHECK(c[i].got <= 1);
        total += (size_t)c[i].got;
        if (c[i].got)
            mask |= 1u << i;
    }
    CHECK_EQ(total, n);
    return mask;
}

#define ROOMS(...)                                                                                 \
    .rooms = (const sb_str_t[]){__VA_ARGS__},                                                      \
    .nrooms = sizeof((sb_str_t[]){__VA_ARGS__}) / sizeof(sb_str_t)
#define EXCEPT(...)                                                                                \
    .except = (const sb_str_t[]){__VA_ARGS__},                                                     \
    .nexcept = sizeof((sb_str_t[]){__VA_ARGS__}) / sizeof(sb_str_t)

TEST(broadcast_one_room) {
    tconn_t c[6];
    sb_hub_t *h = fixture(c);
    VALID(h);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("a"))}), 0x07);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("c"))}), 0x10);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("zzz"))}), 0);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT(""))}), 0);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){0}), 0);
    VALID(h);
    fixture_done(h, c);
}

TEST(broadcast_overlapping_rooms) {
    tconn_t c[6];
    sb_hub_t *h = fixture(c);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("a"), SB_LIT("b"))}), 0x0f);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("a"), SB_LIT("a"), SB_LIT("user:7"))}),
             0x07);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("b"), SB_LIT("nope"), SB_LIT("c"))}), 0x1c);
    fixture_done(h, c);
}

TEST(broadcast_all) {
    tconn_t c[6];
    sb_hub_t *h = fixture(c);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){.all = true}), 0x3f);
    /* `all` ignores rooms. */
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("c")), .all = true}), 0x3f);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){.all = true, EXCEPT(SB_LIT("a"))}), 0x38);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){.all = true, .except_member = &c[5].member}), 0x1f);
    /* A joined member that was never added is not in "all". */
    tconn_t x[1];
    conns_init(x, 1);
    sb_hub_join(h, &x[0].member, SB_LIT("a"));
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){.all = true}), 0x3f);
    CHECK_EQ(x[0].got, 0);
    sb_hub_remove(h, &x[0].member);
    fixture_done(h, c);
}

TEST(broadcast_except) {
    tconn_t c[6];
    sb_hub_t *h = fixture(c);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("a")), EXCEPT(SB_LIT("b"))}), 0x03);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("a")), EXCEPT(SB_LIT("a"))}), 0);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("a")), EXCEPT(SB_LIT("nope"))}), 0x07);
    CHECK_EQ(bmask(h, c,
                   (sb_hub_target_t){ROOMS(SB_LIT("a"), SB_LIT("b")),
                                     EXCEPT(SB_LIT("c"), SB_LIT("user:7"))}),
             0x09);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("a")), .except_member = &c[0].member}),
             0x06);
    CHECK_EQ(bmask(h, c,
                   (sb_hub_target_t){ROOMS(SB_LIT("a"), SB_LIT("b")), EXCEPT(SB_LIT("user:7")),
                                     .except_member = &c[3].member}),
             0x01);
    /* An except member outside the target changes nothing. */
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("b")), .except_member = &c[5].member}),
             0x0c);
    fixture_done(h, c);
}

/* The 32-bit broadcast epoch wraps: members are neither skipped (a fresh
 * mark is 0) nor delivered to twice (an old mark equal to a new epoch). */
TEST(broadcast_epoch_wraps) {
    tconn_t c[6];
    sb_hub_t *h = fixture(c);
    h->epoch = UINT32_MAX - 1;
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("a"))}), 0x07); /* marks: UINT32_MAX */
    c[4].member._mark = 1;
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("a"), SB_LIT("b"), SB_LIT("c"))}), 0x1f);
    CHECK_EQ(h->epoch, 1u);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("b"), SB_LIT("c"))}), 0x1c);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){.all = true}), 0x3f);
    fixture_done(h, c);
}

/* One user with several devices: a message to the user's room reaches every
 * device once; "to the others" excludes the whole user by its room. */
TEST(broadcast_user_room_devices) {
    tconn_t c[6];
    sb_hub_t *h = fixture(c);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("user:7"))}), 0x06);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("user:7"), SB_LIT("a"))}), 0x07);
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("a")), EXCEPT(SB_LIT("user:7"))}), 0x01);
    /* The sender's other devices, but not the sending socket. */
    CHECK_EQ(bmask(h, c, (sb_hub_target_t){ROOMS(SB_LIT("user:7")), .except_member = &c[1].member}),
             0x04);
    fixture_done(h, c);
}

TEST(broadcast_frame_refs) {
    tconn_t c[6];
    sb_hub_t *h = fixture(c);
    conns_reset(c, 6);
    sb_frame_t *f = sb_frame_create("42[\"chat\",\"hi\"]", 16, 0);
    sb_hub_target_t t = {ROOMS(SB_LIT("a"), SB_LIT("b"))};
    CHECK_EQ(sb_hub_broadcast(h, &t, f), 4);
    CHECK_EQ(f->refs, 5); /* ours + one per recipient */
    CHECK_EQ(nkept, 4);
    for (size_t i = 0; i < nkept; i++)
        CHECK(kept[i] == f);
    t = (sb_hub_target_t){.all = true};
    CHECK_EQ(sb_hub_broadcast(h, &t, f), 6);
    CHECK_EQ(f->refs, 11);
    release_kept();
    CHECK_EQ(f->refs, 1);
    sb_frame_unref(f); /* ASan reports a leak if any reference was lost */
    fixture_done(h, c);
}

/* ---- iteration --------------------------------------------------------- */

static bool count_room(sb_str_t room, void *ud) {
    (void)room;
    return ++*(int *)ud < 2; /* stops after two */
}

static bool collect_member(sb_hub_member_t *m, void *ud) {
    *(unsigned *)ud |= 1u << sb_container_of(m, tconn_t, member)->id;
    return true;
}

static bool sum_rooms(sb_str_t room, size_t size, void *ud) {
    size_t *acc = ud;
    acc[0]++;
    acc[1] += size;
    if (sb_str_eq(room, SB_LIT("a")))
        acc[2] = size;
    return true;
}

TEST(iteration) {
    tconn_t c[6];
    sb_hub_t *h = fixture(c);
    int n = 0;
    sb_hub_member_rooms(&c[2].member, count_room, &n);
    CHECK_EQ(n, 2); /* c2 is in a, b, user:7; callback stopped at two */
    unsigned mask = 0;
    sb_hub_room_members(h, SB_LIT("a"), collect_member, &mask);
    CHECK_EQ(mask, 0x07);
    mask = 0;
    sb_hub_room_members(h, SB_LIT("nope"), collect_member, &mask);
    CHECK_EQ(mask, 0);
    size_t acc[3] = {0};
    sb_hub_rooms(h, sum_rooms, acc);
    CHECK_EQ(acc[0], 4);
    CHECK_EQ(acc[1], 8);
    CHECK_EQ(acc[2], 3);
    fixture_done(h, c);
}

static bool append_room(sb_str_t room, void *ud) {
    strncat(ud, room.p, room.n);
    return true;
}

/* A member's rooms are listed in join order, whichever of them it leaves
 * (its list is singly linked: first, middle and last removals). */
TEST(member_rooms_keep_join_order) {
    sb_hub_t *h = sb_hub_create(NULL);
    tconn_t c[1];
    conns_init(c, 1);
    const char *names[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++)
        CHECK_EQ(sb_hub_join(h, &c[0].member, sb_cstr(names[i])), SB_OK);
    const char *leave[] = {"c", "a", "e"}, *want[] = {"abde", "bde", "bd"};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(sb_hub_leave(h, &c[0].member, sb_cstr(leave[i])), SB_OK);
        CHECK_EQ(sb_hub_leave(h, &c[0].member, sb_cstr(leave[i])), SB_ENOTFOUND);
        char got[8] = "";
        sb_hub_member_rooms(&c[0].member, append_room, got);
        CHECK(strcmp(got, want[i]) == 0);
        VALID(h);
    }
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("a")), SB_OK);
    char got[8] = "";
    sb_hub_member_rooms(&c[0].member, append_room, got);
    CHECK(strcmp(got, "bda") == 0);
    sb_hub_leave_all(h, &c[0].member);
    CHECK(c[0].member._links == NULL);
    CHECK_EQ(sb_hub_room_count(h), 0);
    VALID(h);
    sb_hub_destroy(h);
}

/* The validator itself notices corruption of counts and links. */
TEST(validate_detects_corruption) {
    tconn_t c[6];
    sb_hub_t *h = fixture(c);
    VALID(h);
    c[2].member._nrooms++;
    CHECK_EQ(sb_hub_validate(h), SB_EPROTO);
    c[2].member._nrooms--;
    struct sb_hub_link *first = c[2].member._links;
    CHECK(first != NULL);
    c[2].member._links = NULL; /* the member's list lost its links: the rooms still hold them */
    CHECK_EQ(sb_hub_validate(h), SB_EPROTO);
    c[2].member._links = first;
    sb_list_remove(&c[5].member._all_node); /* unlinked behind the hub's back */
    CHECK_EQ(sb_hub_validate(h), SB_EPROTO);
    sb_list_push_tail(&c[0].member._all_node, &c[5].member._all_node);
    VALID(h);
    fixture_done(h, c);
}

/* ---- misuse aborts ----------------------------------------------------- */

static sb_hub_t *g_hub;

static void on_deliver_leaves(sb_hub_member_t *m, sb_frame_t *f) {
    (void)f;
    sb_hub_leave(g_hub, m, SB_LIT("a")); /* forbidden: must abort, not corrupt */
}

static int run_child(void (*fn)(void)) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) ? WTERMSIG(st) : -1;
}

static void child_leave_in_deliver(void) {
    g_hub = sb_hub_create(NULL);
    sb_hub_member_t m;
    sb_hub_member_init(&m, on_deliver_leaves);
    sb_hub_join(g_hub, &m, SB_LIT("a"));
    bcast(g_hub, (sb_hub_target_t){ROOMS(SB_LIT("a"))});
}

static void child_member_in_two_hubs(void) {
    sb_hub_t *a = sb_hub_create(NULL), *b = sb_hub_create(NULL);
    sb_hub_member_t m;
    sb_hub_member_init(&m, on_deliver);
    sb_hub_join(a, &m, SB_LIT("r"));
    sb_hub_join(b, &m, SB_LIT("r"));
}

TEST(misuse_aborts) {
    CHECK_EQ(run_child(child_leave_in_deliver), SIGABRT);
    CHECK_EQ(run_child(child_member_in_two_hubs), SIGABRT);
}

/* ---- allocation failure ------------------------------------------------ */

static long alloc_left = -1; /* allocations until failure; -1: never fail */
static long alloc_live;

static void *t_alloc(void *ud, size_t n) {
    (void)ud;
    if (alloc_left == 0)
        return NULL;
    if (alloc_left > 0)
        alloc_left--;
    alloc_live++;
    return malloc(n);
}

static void t_free(void *ud, void *p) {
    (void)ud;
    if (p)
        alloc_live--;
    free(p);
}

/* A scripted sequence that creates and frees rooms (and grows the table)
 * runs with allocation number `fail_at` failing, for every value until the
 * script no longer reaches it: each step either succeeds or reports
 * SB_ENOMEM, leaving the hub valid and unchanged. Returns whether the failure
 * point was reached. */
static bool oom_script(long fail_at) {
    static const sb_hub_config_t cfg = {.alloc = t_alloc, .dealloc = t_free};
    alloc_left = fail_at;
    sb_hub_t *h = sb_hub_create(&cfg);
    if (!h) {
        alloc_left = -1;
        CHECK_EQ(alloc_live, 0);
        return true;
    }
    tconn_t c[3];
    conns_init(c, 3);
    char name[16];
    for (int i = 0; i < 40; i++) {
        int n = snprintf(name, sizeof name, "r%d", i % 25);
        sb_hub_member_t *m = &c[i % 3].member;
        sb_str_t room = sb_str(name, (size_t)n);
        size_t before = sb_hub_room_count(h);
        bool was = sb_hub_is_member(h, m, room);
        int rc = sb_hub_join(h, m, room);
        CHECK(rc == SB_OK || rc == SB_ENOMEM);
        if (rc == SB_ENOMEM) {
            CHECK(!was);
            CHECK(!sb_hub_is_member(h, m, room));
            CHECK_EQ(sb_hub_room_count(h), before);
        }
        CHECK_EQ(sb_hub_validate(h), SB_OK);
        if (i % 7 == 6)
            sb_hub_leave_all(h, &c[i % 3].member);
    }
    for (int i = 0; i < 3; i++)
        sb_hub_remove(h, &c[i].member);
    CHECK_EQ(sb_hub_validate(h), SB_OK);
    sb_hub_destroy(h);
    bool reached = alloc_left == 0; /* else the script never got to the failure */
    alloc_left = -1;
    CHECK_EQ(alloc_live, 0);
    return reached;
}

TEST(oom_every_allocation) {
    long n = 0;
    while (oom_script(n))
        n++;
    CHECK(n > 10); /* the script did allocate that often */
}

/* ---- randomized against a model ---------------------------------------- */

#define RM 50
#define RR 30
#define RCAP 20

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n) {
    rng_state ^= rng_state << 13; /* xorshift64 */
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

typedef struct {
    bool in[RM][RR];
    int nrooms[RM];
} model_t;

static sb_str_t rname(int r) {
    static char names[RR][8];
    int n = snprintf(names[r], sizeof names[r], "g%d", r);
    return sb_str(names[r], (size_t)n);
}

static int model_room_size(const model_t *md, int r) {
    int n = 0;
    for (int m = 0; m < RM; m++)
        n += md->in[m][r];
    return n;
}

static bool model_in_any(const model_t *md, int m, const int *rooms, int n) {
    for (int i = 0; i < n; i++)
        if (md->in[m][rooms[i]])
            return true;
    return false;
}

static void rand_join(sb_hub_t *h, tconn_t *c, model_t *md) {
    int m = (int)rnd(RM), r = (int)rnd(RR);
    int want = md->in[m][r] ? SB_OK : md->nrooms[m] >= RCAP ? SB_ETOOBIG : SB_OK;
    CHECK_EQ(sb_hub_join(h, &c[m].member, rname(r)), want);
    if (want == SB_OK && !md->in[m][r]) {
        md->in[m][r] = true;
        md->nrooms[m]++;
    }
}

static void rand_leave(sb_hub_t *h, tconn_t *c, model_t *md) {
    int m = (int)rnd(RM), r = (int)rnd(RR);
    CHECK_EQ(sb_hub_leave(h, &c[m].member, rname(r)), md->in[m][r] ? SB_OK : SB_ENOTFOUND);
    if (md->in[m][r]) {
        md->in[m][r] = false;
        md->nrooms[m]--;
    }
}

static void rand_leave_all(sb_hub_t *h, tconn_t *c, model_t *md) {
    int m = (int)rnd(RM);
    sb_hub_leave_all(h, &c[m].member);
    memset(md->in[m], 0, sizeof md->in[m]);
    md->nrooms[m] = 0;
}

static void rand_broadcast(sb_hub_t *h, tconn_t *c, const model_t *md) {
    int rooms[4], except[3], nr = 1 + (int)rnd(4), ne = (int)rnd(3);
    sb_str_t rs[4], es[3];
    for (int i = 0; i < nr; i++)
        rs[i] = rname(rooms[i] = (int)rnd(RR));
    for (int i = 0; i < ne; i++)
        es[i] = rname(except[i] = (int)rnd(RR));
    bool all = rnd(10) == 0;
    int skip = rnd(3) == 0 ? (int)rnd(RM) : -1;
    sb_hub_target_t t = {rs, (size_t)nr, all, es, (size_t)ne, skip >= 0 ? &c[skip].member : NULL};
    conns_reset(c, RM);
    size_t n = bcast(h, t), want = 0;
    for (int m = 0; m < RM; m++) {
        bool hit = (all || model_in_any(md, m, rooms, nr)) && !model_in_any(md, m, except, ne) &&
                   m != skip;
        want += hit;
        if (c[m].got != (int)hit) {
            CHECK_EQ(c[m].got, hit);
            return;
        }
    }
    CHECK_EQ(n, want);
}

static void rand_check_sizes(sb_hub_t *h, const model_t *md) {
    size_t nonempty = 0;
    for (int r = 0; r < RR; r++) {
        int n = model_room_size(md, r);
        nonempty += n > 0;
        CHECK_EQ(sb_hub_room_size(h, rname(r)), n);
    }
    CHECK_EQ(sb_hub_room_count(h), nonempty);
}

TEST(randomized_against_model) {
    sb_hub_t *h = sb_hub_create(&(sb_hub_config_t){.max_rooms_per_member = RCAP, .hash_seed = 7});
    static tconn_t c[RM];
    static model_t md;
    memset(&md, 0, sizeof md);
    conns_init(c, RM);
    for (int m = 0; m < RM; m++)
        sb_hub_add(h, &c[m].member);
    for (int op = 0; op < 10000 && !sb_t_case_failed; op++) {
        uint32_t k = rnd(100);
        if (k < 45)
            rand_join(h, c, &md);
        else if (k < 75)
            rand_leave(h, c, &md);
        else if (k < 77)
            rand_leave_all(h, c, &md);
        else
            rand_broadcast(h, c, &md);
        CHECK_EQ(sb_hub_validate(h), SB_OK);
        if (op % 100 == 0)
            rand_check_sizes(h, &md);
    }
    rand_check_sizes(h, &md);
    for (int m = 0; m < RM; m++)
        sb_hub_remove(h, &c[m].member);
    VALID(h);
    CHECK_EQ(sb_hub_room_count(h), 0);
    sb_hub_destroy(h);
}

int main(void) {
    RUN(create_destroy_empty);
    RUN(join_leave);
    RUN(duplicate_join);
    RUN(join_name_limits);
    RUN(name_is_copied);
    RUN(rooms_per_member_cap);
    RUN(leave_all);
    RUN(add_remove);
    RUN(member_moves_between_hubs);
    RUN(destroy_detaches_members);
    RUN(table_grows_and_shrinks);
    RUN(broadcast_one_room);
    RUN(broadcast_overlapping_rooms);
    RUN(broadcast_all);
    RUN(broadcast_except);
    RUN(broadcast_epoch_wraps);
    RUN(broadcast_user_room_devices);
    RUN(broadcast_frame_refs);
    RUN(iteration);
    RUN(member_rooms_keep_join_order);
    RUN(validate_detects_corruption);
    RUN(misuse_aborts);
    RUN(oom_every_allocation);
    RUN(randomized_against_model);
    TEST_MAIN_END();
}
