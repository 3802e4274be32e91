/* Tests for the hub's kept rooms (hub.h): rooms whose members a keeper
 * lists (the built-in features keep "user:<id>" as the user's devices).
 * To every call such a room must behave as a hub room would: the union
 * of the kept members and of those that joined a hub room of that name. */
#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "hub/hub.h"
#include "testlib.h"

#define NMAX 8

/* A member and the kept room it belongs to ("k:<group>"; group 0: none). */
typedef struct {
    int got;
    char group;
    bool in;
    int placed; /* place() calls, in or out */
    char room[4];
    sb_hub_member_t member;
} tconn_t;

typedef struct {
    tconn_t *c;
    int n;
} keeper_t;

static void on_deliver(sb_hub_member_t *m, sb_frame_t *f) {
    sb_container_of(m, tconn_t, member)->got++;
}

static tconn_t *conn_of(const sb_hub_member_t *m) {
    return m->deliver == on_deliver ? sb_container_of(m, tconn_t, member) : NULL;
}

static void k_members(void *ud, sb_str_t room, sb_hub_member_fn fn, void *fn_ud) {
    keeper_t *k = ud;
    for (int i = 0; i < k->n; i++)
        if (k->c[i].in && sb_str_eq(room, sb_str(k->c[i].room, 3)) && !fn(&k->c[i].member, fn_ud))
            return;
}

static sb_str_t k_room_of(void *ud, const sb_hub_member_t *m, bool *in) {
    tconn_t *c = conn_of(m);
    *in = c && c->group && c->in;
    return c && c->group ? sb_str(c->room, 3) : SB_STR_NULL;
}

static void k_place(void *ud, sb_hub_member_t *m, bool in) {
    tconn_t *c = conn_of(m);
    c->in = in;
    c->placed++;
}

static void k_rooms(void *ud, sb_hub_room_fn fn, void *fn_ud) {
    keeper_t *k = ud;
    for (char g = 'a'; g <= 'z'; g++) {
        size_t n = 0;
        for (int i = 0; i < k->n; i++)
            n += k->c[i].in && k->c[i].group == g;
        char name[4] = {'k', ':', g, 0};
        if (n && !fn(sb_str(name, 3), n, fn_ud))
            return;
    }
}

static size_t k_count(void *ud) {
    keeper_t *k = ud;
    size_t n = 0;
    for (char g = 'a'; g <= 'z'; g++) {
        bool any = false;
        for (int i = 0; i < k->n; i++)
            any = any || (k->c[i].in && k->c[i].group == g);
        n += any;
    }
    return n;
}

/* groups: one character per member, '-' for none. */
static sb_hub_t *hub_with_keeper(tconn_t *c, const char *groups, keeper_t *k, uint32_t max_rooms) {
    int n = (int)strlen(groups);
    for (int i = 0; i < n; i++) {
        c[i] = (tconn_t){.group = groups[i] == '-' ? 0 : groups[i]};
        snprintf(c[i].room, sizeof c[i].room, "k:%c", groups[i]);
        sb_hub_member_init(&c[i].member, on_deliver);
    }
    *k = (keeper_t){c, n};
    sb_hub_t *h = sb_hub_create(&(sb_hub_config_t){.max_rooms_per_member = max_rooms});
    sb_hub_set_keeper(h, &(sb_hub_keeper_t){.prefix = "k:",
                                            .ud = k,
                                            .members = k_members,
                                            .room_of = k_room_of,
                                            .place = k_place,
                                            .rooms = k_rooms,
                                            .count = k_count});
    for (int i = 0; i < n; i++)
        sb_hub_add(h, &c[i].member);
    return h;
}

static size_t bcast(sb_hub_t *h, sb_hub_target_t t, tconn_t *c, int n) {
    for (int i = 0; i < n; i++)
        c[i].got = 0;
    sb_frame_t *f = sb_frame_create("x", 1, 0);
    size_t sent = sb_hub_broadcast(h, &t, f);
    sb_frame_unref(f);
    return sent;
}

typedef struct {
    char names[NMAX][8];
    size_t sizes[NMAX];
    int n;
} listing_t;

static bool list_room(sb_str_t room, size_t size, void *ud) {
    listing_t *l = ud;
    snprintf(l->names[l->n], sizeof l->names[0], "%.*s", (int)room.n, room.p);
    l->sizes[l->n++] = size;
    return l->n < NMAX;
}

static bool list_member_room(sb_str_t room, void *ud) { return list_room(room, 0, ud); }

static int listed(const listing_t *l, const char *name) {
    int times = 0;
    for (int i = 0; i < l->n; i++)
        times += strcmp(l->names[i], name) == 0;
    return times;
}

static size_t listed_size(const listing_t *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return l->sizes[i];
    return 0;
}

static bool count_member(sb_hub_member_t *m, void *ud) {
    (*(int *)ud)++;
    return true;
}

/* ---- tests ------------------------------------------------------------- */

TEST(own_kept_room_is_placed_not_created) {
    tconn_t c[3];
    keeper_t k;
    sb_hub_t *h = hub_with_keeper(c, "aab", &k, 0);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("k:a")), SB_OK);
    CHECK(c[0].in);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("k:a")), SB_OK); /* already in: no change */
    CHECK_EQ(c[0].placed, 1);
    CHECK(sb_hub_is_member(h, &c[0].member, SB_LIT("k:a")));
    CHECK(!sb_hub_is_member(h, &c[1].member, SB_LIT("k:a")));
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("k:a")), 1);
    CHECK_EQ(sb_hub_room_count(h), 1);
    CHECK_EQ(sb_hub_validate(h), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[1].member, SB_LIT("k:a")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[2].member, SB_LIT("k:b")), SB_OK);
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("k:a")), 2);
    CHECK_EQ(sb_hub_room_count(h), 2);
    CHECK_EQ(sb_hub_leave(h, &c[0].member, SB_LIT("k:a")), SB_OK);
    CHECK(!c[0].in);
    CHECK_EQ(sb_hub_leave(h, &c[0].member, SB_LIT("k:a")), SB_ENOTFOUND);
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("k:a")), 1);
    for (int i = 0; i < 3; i++)
        sb_hub_remove(h, &c[i].member);
    CHECK(!c[1].in && !c[2].in); /* removal takes them out */
    CHECK_EQ(sb_hub_room_count(h), 0);
    sb_hub_destroy(h);
}

/* Another member's kept name, or a member of no kept room (a read-only
 * subscriber), joins a hub room of that name: the room is the union. */
TEST(kept_room_is_union_with_hub_room) {
    tconn_t c[4];
    keeper_t k;
    sb_hub_t *h = hub_with_keeper(c, "aab-", &k, 0);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("k:a")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[1].member, SB_LIT("k:a")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[2].member, SB_LIT("k:a")), SB_OK); /* c[2] is b's */
    CHECK_EQ(sb_hub_join(h, &c[3].member, SB_LIT("k:a")), SB_OK);
    CHECK(!c[2].in && c[2].placed == 0);
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("k:a")), 4);
    CHECK_EQ(sb_hub_room_joined(h, SB_LIT("k:a")), 2); /* c[2] and c[3]; a's own are kept */
    CHECK_EQ(sb_hub_room_count(h), 1);                 /* one room, though both hold it */
    CHECK(sb_hub_is_member(h, &c[2].member, SB_LIT("k:a")));
    listing_t l = {0};
    sb_hub_rooms(h, list_room, &l);
    CHECK_EQ(listed(&l, "k:a"), 1);
    CHECK_EQ(listed_size(&l, "k:a"), 4);
    int n = 0;
    sb_hub_room_members(h, SB_LIT("k:a"), count_member, &n);
    CHECK_EQ(n, 4);
    CHECK_EQ(bcast(h, (sb_hub_target_t){.rooms = &SB_LIT("k:a"), .nrooms = 1}, c, 4), 4);
    /* c[2] joins its own room too: two rooms listed, counted, walked. */
    CHECK_EQ(sb_hub_join(h, &c[2].member, SB_LIT("k:b")), SB_OK);
    CHECK_EQ(sb_hub_room_count(h), 2);
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("k:b")), 1);
    CHECK_EQ(sb_hub_room_joined(h, SB_LIT("k:b")), 0); /* placed by the keeper, not joined */
    l = (listing_t){0};
    sb_hub_member_rooms(&c[2].member, list_member_room, &l);
    CHECK_EQ(l.n, 2);
    CHECK(strcmp(l.names[0], "k:b") == 0); /* the kept room first */
    CHECK_EQ(sb_hub_leave(h, &c[2].member, SB_LIT("k:a")), SB_OK);
    CHECK(sb_hub_is_member(h, &c[2].member, SB_LIT("k:b")));
    CHECK_EQ(sb_hub_room_size(h, SB_LIT("k:a")), 3);
    CHECK_EQ(sb_hub_room_joined(h, SB_LIT("k:a")), 1);
    CHECK_EQ(sb_hub_validate(h), SB_OK);
    for (int i = 0; i < 4; i++)
        sb_hub_remove(h, &c[i].member);
    CHECK_EQ(sb_hub_room_count(h), 0);
    sb_hub_destroy(h);
}

TEST(broadcast_and_except_reach_kept_members_once) {
    tconn_t c[4];
    keeper_t k;
    sb_hub_t *h = hub_with_keeper(c, "aabb", &k, 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(sb_hub_join(h, &c[i].member, sb_str(c[i].room, 3)), SB_OK);
        CHECK_EQ(sb_hub_join(h, &c[i].member, SB_LIT("lobby")), SB_OK);
    }
    sb_str_t both[] = {SB_LIT("k:a"), SB_LIT("lobby"), SB_LIT("k:a")};
    CHECK_EQ(bcast(h, (sb_hub_target_t){.rooms = both, .nrooms = 3}, c, 4), 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(c[i].got, 1);
    sb_str_t a = SB_LIT("k:a"), lobby = SB_LIT("lobby");
    CHECK_EQ(
        bcast(h, (sb_hub_target_t){.rooms = &lobby, .nrooms = 1, .except = &a, .nexcept = 1}, c, 4),
        2);
    CHECK(c[0].got == 0 && c[1].got == 0 && c[2].got == 1 && c[3].got == 1);
    CHECK_EQ(bcast(h, (sb_hub_target_t){.all = true, .except = &a, .nexcept = 1}, c, 4), 2);
    CHECK_EQ(
        bcast(h, (sb_hub_target_t){.rooms = &a, .nrooms = 1, .except_member = &c[1].member}, c, 4),
        1);
    CHECK(c[0].got == 1 && c[1].got == 0);
    CHECK_EQ(bcast(h, (sb_hub_target_t){.rooms = &SB_LIT("k:z"), .nrooms = 1}, c, 4), 0);
    for (int i = 0; i < 4; i++)
        sb_hub_remove(h, &c[i].member);
    sb_hub_destroy(h);
}

/* The kept room counts among a member's rooms, as the hub room it
 * replaces did. */
TEST(kept_room_counts_toward_the_cap) {
    tconn_t c[1];
    keeper_t k;
    sb_hub_t *h = hub_with_keeper(c, "a", &k, 2);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("k:a")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("r1")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("r2")), SB_ETOOBIG);
    CHECK_EQ(sb_hub_leave(h, &c[0].member, SB_LIT("k:a")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("r2")), SB_OK);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("k:a")), SB_ETOOBIG);
    CHECK(!c[0].in);
    sb_hub_remove(h, &c[0].member);
    sb_hub_destroy(h);
}

/* A member in its kept room only, never added, stays bound to the hub
 * until it leaves: leave_all takes it out. */
TEST(kept_only_member_leaves_all) {
    tconn_t c[1];
    keeper_t k;
    sb_hub_t *h = hub_with_keeper(c, "a", &k, 0);
    sb_hub_remove(h, &c[0].member);
    CHECK_EQ(sb_hub_join(h, &c[0].member, SB_LIT("k:a")), SB_OK);
    CHECK(sb_hub_member_hub(&c[0].member) == h);
    sb_hub_leave_all(h, &c[0].member);
    CHECK(!c[0].in);
    CHECK(sb_hub_member_hub(&c[0].member) == NULL);
    sb_hub_destroy(h);
}

int main(void) {
    RUN(own_kept_room_is_placed_not_created);
    RUN(kept_room_is_union_with_hub_room);
    RUN(broadcast_and_except_reach_kept_members_once);
    RUN(kept_room_counts_toward_the_cap);
    RUN(kept_only_member_leaves_all);
    TEST_MAIN_END();
}
