/* The hub: which members are in which rooms, and broadcast of already-encoded
 * frames to them. A pure in-memory structure: it allocates, but performs no
 * I/O and knows nothing of sockets or Socket.IO. A transport embeds one
 * sb_hub_member_t in each of its connection objects and receives frames
 * through the member's deliver callback (STYLE H9, H13).
 *
 * Membership is indexed both ways (STYLE H14): one link record per
 * (room, member) pair sits on the room's member list and on the member's room
 * list, so leaving every room on disconnect costs O(memberships) and room
 * sizes are exact.
 *
 * Threading: a hub belongs to one worker thread, like the frames it carries.
 *
 * Re-entrancy: deliver callbacks and iteration callbacks must NOT modify the
 * hub (join, leave, leave_all, add, remove, destroy). A transport that wants
 * to close a connection from a deliver callback marks it and closes it after
 * the broadcast (STYLE H8). Breaking this rule aborts the process rather than
 * corrupting memory. */
#ifndef SB_HUB_HUB_H
#define SB_HUB_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/frame.h"
#include "core/list.h"
#include "core/str.h"

typedef struct sb_hub sb_hub_t; /* opaque */
typedef struct sb_hub_member sb_hub_member_t;

/* Called once per recipient of a broadcast. `f` is borrowed for the duration
 * of the call: the callee takes sb_frame_ref(f) if it keeps it (usually by
 * queueing it for output). Must not modify the hub. */
typedef void (*sb_hub_deliver_fn)(sb_hub_member_t *m, sb_frame_t *f);

/* Embeddable in the transport's connection object. Zero-initialize, then call
 * sb_hub_member_init(). Fields starting with `_` are private to the hub. A
 * member belongs to at most one hub at a time. Before the storage of a member
 * is freed, call sb_hub_remove() (or sb_hub_leave_all() if it was never
 * added). */
struct sb_hub_member {
    sb_hub_deliver_fn deliver;  /* find the owner with sb_container_of() */
    struct sb_hub_link *_links; /* this member's room links, in join order (next_of_member) */
    sb_list_node_t _all_node;   /* in the hub's all-members list; NULL next when not added */
    const sb_hub_t *_hub;       /* hub this member is in, NULL when in none */
    uint32_t _nrooms;
    uint32_t _mark; /* broadcast epoch: de-duplicates deliveries and applies `except` */
};

typedef struct {
    uint32_t max_rooms_per_member; /* join fails with SB_ETOOBIG beyond this; 0 means 1000 */
    size_t max_room_name;          /* longest room name in bytes; 0 means 256 */
    /* Hash seed. The app passes a random value so that peers, who choose room
     * names, cannot aim many names at one bucket. 0 is a valid (fixed) seed. */
    uint64_t hash_seed;
    /* Optional allocator (tests fail allocations with it); NULL means
     * malloc/free. Both must be set or both NULL. */
    void *(*alloc)(void *ud, size_t n);
    void (*dealloc)(void *ud, void *p);
    void *alloc_ud;
} sb_hub_config_t;

/* Creates an empty hub. `cfg` is copied; NULL means all defaults. Returns NULL
 * when out of memory. */
sb_hub_t *sb_hub_create(const sb_hub_config_t *cfg);

/* Frees the hub, its rooms and its links. Members should have been removed
 * first; any still linked are detached (left in no room and no hub), so their
 * storage stays safe to reuse. NULL does nothing. Aborts if called from a
 * hub callback. */
void sb_hub_destroy(sb_hub_t *h);

/* Initializes caller-owned member storage with its deliver callback (not
 * NULL). The member is embedded in its owner, which the callback finds with
 * sb_container_of(): no user-data pointer per member. */
void sb_hub_member_init(sb_hub_member_t *m, sb_hub_deliver_fn deliver);
/* The hub `m` is in, or NULL (for validators of the owner's state). */
static inline const sb_hub_t *sb_hub_member_hub(const sb_hub_member_t *m) { return m->_hub; }

/* Puts `m` in `room`, creating the room if needed. The name bytes are copied:
 * `room` may be freed after the call. Returns SB_OK (also when `m` was already
 * in the room), SB_EINVAL for an empty name, SB_ETOOBIG when the name is longer
 * than max_room_name or `m` is already in max_rooms_per_member rooms, or
 * SB_ENOMEM (the hub is unchanged). */
int sb_hub_join(sb_hub_t *h, sb_hub_member_t *m, sb_str_t room);

/* Takes `m` out of `room`; the room is freed when its last member leaves.
 * Returns SB_OK, or SB_ENOTFOUND when `m` was not in that room. */
int sb_hub_leave(sb_hub_t *h, sb_hub_member_t *m, sb_str_t room);

/* Takes `m` out of every room it is in, in O(memberships). */
void sb_hub_leave_all(sb_hub_t *h, sb_hub_member_t *m);

/* True when `m` is in `room`. Costs one lookup plus a walk of the shorter of
 * the room's member list and the member's room list. */
bool sb_hub_is_member(const sb_hub_t *h, const sb_hub_member_t *m, sb_str_t room);

/* Number of members in `room`; 0 when the room does not exist. */
size_t sb_hub_room_size(const sb_hub_t *h, sb_str_t room);

/* Of those, the members that joined it (sb_hub_join), not the keeper's:
 * one lookup, the keeper not asked. */
size_t sb_hub_room_joined(const sb_hub_t *h, sb_str_t room);

/* Number of rooms that have at least one member. */
size_t sb_hub_room_count(const sb_hub_t *h);

/* Who a broadcast reaches: every member of any room in `rooms[0..nrooms)`, or
 * every member registered with sb_hub_add() when `all` is true (then `rooms` is
 * ignored); minus members in any room of `except[0..nexcept)` and minus
 * `except_member` (may be NULL). Rooms that do not exist match nobody. */
typedef struct {
    const sb_str_t *rooms;
    size_t nrooms;
    bool all;
    const sb_str_t *except;
    size_t nexcept;
    const sb_hub_member_t *except_member;
} sb_hub_target_t;

/* Calls each targeted member's deliver callback with `f`, each member at most
 * once even when it is in several target rooms. `f` stays owned by the
 * caller. Returns the number of deliveries. */
size_t sb_hub_broadcast(sb_hub_t *h, const sb_hub_target_t *t, sb_frame_t *f);

/* Registers `m` as connected: it then receives broadcasts to all and counts in
 * sb_hub_member_count(). Adding an added member does nothing. */
void sb_hub_add(sb_hub_t *h, sb_hub_member_t *m);

/* Leaves every room and unregisters `m`. Safe on a member never added. After
 * this the member's storage may be freed or reused with another hub. */
void sb_hub_remove(sb_hub_t *h, sb_hub_member_t *m);

/* Number of members registered with sb_hub_add(). */
size_t sb_hub_member_count(const sb_hub_t *h);

/* Iteration, for presence and statistics. Each visits in no stated order and
 * stops when `cb` returns false. Room names passed to `cb` point into the hub
 * and are valid until the room is freed (a kept room's, below: as its
 * keeper's room_of says); the callbacks must not modify the hub. A member's
 * kept room comes first in its list. */
void sb_hub_member_rooms(const sb_hub_member_t *m, bool (*cb)(sb_str_t room, void *ud), void *ud);
void sb_hub_room_members(sb_hub_t *h, sb_str_t room, bool (*cb)(sb_hub_member_t *m, void *ud),
                         void *ud);
void sb_hub_rooms(sb_hub_t *h, bool (*cb)(sb_str_t room, size_t size, void *ud), void *ud);
/* Every member registered with sb_hub_add(). */
void sb_hub_members(sb_hub_t *h, bool (*cb)(sb_hub_member_t *m, void *ud), void *ud);

/* ---- kept rooms ---------------------------------------------------------
 * Rooms whose members the embedder keeps itself: every name that starts
 * with the keeper's prefix. The built-in features keep each user's room
 * "user:<id>" as the list of the user's devices on the user's record (16
 * bytes a device, where a room of its own costs a room, a link and a bucket:
 * ~110 bytes a user). To every call of this header such a room is a room
 * like any other: the union of the members the keeper lists and of those
 * that joined a hub room of that name (members the keeper does not place,
 * such as read-only subscribers). A member is in at most one kept room,
 * the one room_of names; joining or leaving that name places it there or
 * takes it out (place), any other name of the prefix is a hub room. The
 * kept room counts among the member's max_rooms_per_member.
 *
 * The callbacks run while the hub is busy: they must not modify the hub. */
typedef bool (*sb_hub_member_fn)(sb_hub_member_t *m, void *ud);
typedef bool (*sb_hub_room_fn)(sb_str_t room, size_t size, void *ud);
typedef struct {
    const char *prefix; /* not empty */
    void *ud;
    /* Visits the members kept in `room` (prefix included) until fn returns false. */
    void (*members)(void *ud, sb_str_t room, sb_hub_member_fn fn, void *fn_ud);
    /* The name of the kept room `m` belongs to (empty: none), valid as long
     * as m may be in it (listings hand it on), and in *in whether m is in it
     * now. */
    sb_str_t (*room_of)(void *ud, const sb_hub_member_t *m, bool *in);
    /* Puts `m` in its kept room (in) or takes it out. */
    void (*place)(void *ud, sb_hub_member_t *m, bool in);
    /* Visits every kept room that has members, with its size, until fn
     * returns false; and counts them. */
    void (*rooms)(void *ud, sb_hub_room_fn fn, void *fn_ud);
    size_t (*count)(void *ud);
} sb_hub_keeper_t;

/* Installs the keeper (copied; NULL removes it). Only while no member is
 * in a kept room: before the first socket and after the last. */
void sb_hub_set_keeper(sb_hub_t *h, const sb_hub_keeper_t *k);

/* Deep consistency check for tests (cost: every room, link and registered
 * member; quadratic in rooms per member). Checks counts, both link
 * directions, that every room sits in the right bucket and that no member is
 * twice in a room. Returns SB_OK or SB_EPROTO. */
int sb_hub_validate(const sb_hub_t *h);

#endif
