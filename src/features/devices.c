/* Each user's room "user:<id>" as the ring of the user's devices on the
 * user's record: the namespace hub's keeper (hub/hub.h, "kept rooms"). A
 * room of the hub per user cost a room (56 bytes with its name), a link
 * (40) and a share of a bucket; the ring costs two pointers per device
 * and one per user. Emits to a user, `except` of a user, the listings and
 * other nodes' emits to "user:<id>" all still name the room: the hub asks
 * here who is in it. */
#include <string.h>

#include "core/err.h"
#include "features/features_internal.h"

#define SB_USER_ROOM_PREFIX "user:"
#define SB_USER_ROOM_PREFIX_N 5

_Static_assert(sizeof(((sb_user_t *)0)->room_prefix) == SB_USER_ROOM_PREFIX_N,
               "the prefix fills room_prefix");
_Static_assert(offsetof(sb_user_t, id) == offsetof(sb_user_t, room_prefix) + SB_USER_ROOM_PREFIX_N,
               "the id follows the prefix");

void sb_feat_user_room_init(sb_user_t *u) {
    memcpy(u->room_prefix, SB_USER_ROOM_PREFIX, SB_USER_ROOM_PREFIX_N);
    u->room_devices = NULL;
}

sb_str_t sb_feat_user_room(const sb_user_t *u) {
    return sb_str(u->room_prefix, SB_USER_ROOM_PREFIX_N + u->id_len);
}

/* The client of a member of the namespace's hub, or NULL (another kind of
 * member, or a socket not let in). */
static sb_client_t *client_of(const sb_features_t *f, const sb_hub_member_t *m) {
    const sb_sio_socket_t *s = sb_sio_socket_of_member(m);
    sb_client_t *c = s ? sb_sio_socket_get_data(s) : NULL;
    return c && c->f == f ? c : NULL;
}

static void ring_insert(sb_features_t *f, sb_client_t *c) {
    sb_user_t *u = c->user;
    sb_client_t *first = u->room_devices;
    if (!first) {
        c->room_next = c->room_prev = c;
        u->room_devices = c;
        f->user_rooms++;
        return;
    }
    c->room_next = first; /* last on the ring: join order */
    c->room_prev = first->room_prev;
    first->room_prev->room_next = c;
    first->room_prev = c;
}

static void ring_remove(sb_features_t *f, sb_client_t *c) {
    sb_user_t *u = c->user;
    if (c->room_next == c) {
        u->room_devices = NULL;
        f->user_rooms--;
    } else {
        c->room_prev->room_next = c->room_next;
        c->room_next->room_prev = c->room_prev;
        if (u->room_devices == c)
            u->room_devices = c->room_next;
    }
    c->room_next = c->room_prev = NULL;
}

void sb_feat_devices_leave(sb_client_t *c) {
    if (c->room_next)
        ring_remove(c->f, c);
}

/* ---- the keeper ------------------------------------------------------------------- */

static void kept_members(void *ud, sb_str_t room, sb_hub_member_fn fn, void *fn_ud) {
    sb_features_t *f = ud;
    sb_str_t id = sb_str(room.p + SB_USER_ROOM_PREFIX_N, room.n - SB_USER_ROOM_PREFIX_N);
    const sb_user_t *u = id.n ? sb_feat_user_find(f, id) : NULL;
    sb_client_t *first = u ? u->room_devices : NULL, *c = first;
    if (!c)
        return;
    do {
        sb_client_t *next = c->room_next;
        if (!fn(sb_sio_socket_member(c->sock), fn_ud))
            return;
        c = next;
    } while (c != first);
}

static sb_str_t kept_room_of(void *ud, const sb_hub_member_t *m, bool *in) {
    const sb_client_t *c = client_of(ud, m);
    *in = c && c->room_next;
    return c ? sb_feat_user_room(c->user) : SB_STR_NULL;
}

static void kept_place(void *ud, sb_hub_member_t *m, bool in) {
    sb_client_t *c = client_of(ud, m);
    if (!c || !c->room_next == !in)
        return;
    if (in)
        ring_insert(ud, c);
    else
        ring_remove(ud, c);
}

typedef struct {
    sb_hub_room_fn fn;
    void *ud;
} rooms_walk_t;

static bool visit_user_room(const sb_user_t *u, void *ud) {
    rooms_walk_t *w = ud;
    const sb_client_t *first = u->room_devices, *c = first;
    size_t n = 0;
    if (!first)
        return true;
    do
        n++;
    while ((c = c->room_next) != first);
    return w->fn(sb_feat_user_room(u), n, w->ud);
}

static void kept_rooms(void *ud, sb_hub_room_fn fn, void *fn_ud) {
    rooms_walk_t w = {fn, fn_ud};
    sb_feat_users_foreach(ud, visit_user_room, &w);
}

static size_t kept_count(void *ud) { return ((const sb_features_t *)ud)->user_rooms; }

int sb_feat_devices_init(sb_features_t *f) {
    sb_hub_keeper_t k = {.prefix = SB_USER_ROOM_PREFIX,
                         .ud = f,
                         .members = kept_members,
                         .room_of = kept_room_of,
                         .place = kept_place,
                         .rooms = kept_rooms,
                         .count = kept_count};
    sb_hub_set_keeper(sb_sio_nsp_hub(f->nsp), &k);
    return SB_OK;
}

void sb_feat_devices_dispose(sb_features_t *f) {
    if (f->nsp)
        sb_hub_set_keeper(sb_sio_nsp_hub(f->nsp), NULL);
}
