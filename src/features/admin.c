/* What the operations dashboard shows of users and sockets, and its
 * disconnect action. Every authenticated socket of the namespace is in its
 * user's room "user:<id>", so the personal rooms list the users and their
 * devices (other members there, such as /events subscribers, are skipped). */
#include <stdlib.h>
#include <string.h>

#include "features/features_internal.h"

#define SB_ADMIN_SOCKETS_PER_USER 16

typedef struct {
    json_t *users;
    size_t max;
} users_walk_t;

typedef struct {
    json_t *ids;
    size_t sockets;
} sockets_t;

static bool add_socket_id(sb_hub_member_t *m, void *ud) {
    sockets_t *s = ud;
    sb_sio_socket_t *sock = sb_sio_socket_of_member(m);
    if (!sock)
        return true;
    if (s->sockets++ < SB_ADMIN_SOCKETS_PER_USER)
        json_array_append_new(s->ids, json_string(sb_sio_socket_id(sock)));
    return true;
}

typedef struct {
    sb_hub_t *hub;
    users_walk_t *walk;
} users_ctx_t;

static bool add_user(sb_str_t room, size_t size, void *ud) {
    users_ctx_t *ctx = ud;
    if (!sb_str_has_prefix(room, SB_LIT("user:")))
        return true;
    if (json_array_size(ctx->walk->users) >= ctx->walk->max)
        return false;
    sockets_t s = {json_array(), 0};
    sb_hub_room_members(ctx->hub, room, add_socket_id, &s);
    if (s.sockets == 0) { /* only other kinds of members */
        json_decref(s.ids);
        return true;
    }
    json_array_append_new(ctx->walk->users,
                          json_pack("{s:s%,s:I,s:o}", "id", room.p + 5, room.n - 5, "devices",
                                    (json_int_t)s.sockets, "sockets", s.ids));
    return true;
}

json_t *sb_features_admin_users(sb_features_t *f, size_t max) {
    users_walk_t walk = {json_array(), max};
    users_ctx_t ctx = {sb_sio_nsp_hub(f->nsp), &walk};
    sb_hub_rooms(ctx.hub, add_user, &ctx);
    return walk.users;
}

/* Sockets to disconnect, held by a reference: disconnecting one changes
 * the room being walked, so they are collected first. */
typedef struct {
    sb_sio_socket_t **v;
    size_t n, cap;
} victims_t;

static bool add_victim(sb_hub_member_t *m, void *ud) {
    victims_t *v = ud;
    sb_sio_socket_t *s = sb_sio_socket_of_member(m);
    if (!s)
        return true;
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 8;
        sb_sio_socket_t **nv = realloc(v->v, ncap * sizeof *nv);
        if (!nv)
            return false;
        v->v = nv;
        v->cap = ncap;
    }
    sb_sio_socket_ref(s);
    v->v[v->n++] = s;
    return true;
}

size_t sb_features_admin_disconnect(sb_features_t *f, const char *user_id, const char *socket_id) {
    victims_t v = {0};
    if (user_id) {
        char room[SB_USER_ID_MAX + 8];
        size_t n = strlen(user_id);
        if (n == 0 || n > SB_USER_ID_MAX)
            return 0;
        memcpy(room, "user:", 5);
        memcpy(room + 5, user_id, n);
        sb_hub_room_members(sb_sio_nsp_hub(f->nsp), sb_str(room, n + 5), add_victim, &v);
    } else if (socket_id) {
        sb_sio_socket_t *s = sb_sio_nsp_find_socket(f->nsp, sb_cstr(socket_id));
        if (!s || !sb_features_socket_user(f, s)) /* only an authenticated socket of ours */
            return 0;
        sb_sio_disconnect(s);
        return 1;
    }
    for (size_t i = 0; i < v.n; i++) {
        if (sb_sio_socket_connected(v.v[i]))
            sb_sio_disconnect(v.v[i]);
        sb_sio_socket_unref(v.v[i]);
    }
    free(v.v);
    return v.n;
}
