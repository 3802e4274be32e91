/* This node's sockets selected by {rooms, except}, and described for
 * fetchSockets (local_sockets.h). */
#include "app/local_sockets.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool set_push(sb_local_sockets_t *set, sb_sio_socket_t *s) {
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        sb_sio_socket_t **v = realloc(set->v, sizeof *v * cap);
        if (!v) {
            set->oom = true;
            return false;
        }
        set->v = v, set->cap = cap;
    }
    set->v[set->n++] = s;
    return true;
}

static bool set_add(sb_hub_member_t *m, void *ud) {
    sb_sio_socket_t *s = sb_sio_socket_of_member(m);
    /* not a Socket.IO socket (an SSE subscriber): other nodes address sockets */
    return !s || set_push(ud, s);
}

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

static bool excluded(sb_sio_socket_t *s, const sb_engine_select_t *sel) {
    for (size_t i = 0; i < sel->nexcept; i++)
        if (sb_sio_in_room(s, sel->except[i]) ||
            sb_str_eq(sel->except[i], sb_cstr(sb_sio_socket_id(s))))
            return true;
    return false;
}

static void add_room(sb_local_sockets_t *set, sb_sio_nsp_t *nsp, sb_str_t room,
                     bool ids_are_rooms) {
    size_t before = set->n;
    sb_hub_room_members(sb_sio_nsp_hub(nsp), room, set_add, set);
    sb_sio_socket_t *by_id =
        set->n == before && !ids_are_rooms ? sb_sio_nsp_find_socket(nsp, room) : NULL;
    if (by_id)
        set_push(set, by_id);
}

sb_local_sockets_t sb_local_sockets_select(sb_sio_nsp_t *nsp, const sb_engine_select_t *sel,
                                           bool ids_are_rooms) {
    sb_local_sockets_t set = {0};
    if (sel->nrooms == 0)
        sb_hub_members(sb_sio_nsp_hub(nsp), set_add, &set);
    for (size_t i = 0; i < sel->nrooms && !set.oom; i++)
        add_room(&set, nsp, sel->rooms[i], ids_are_rooms);
    if (sel->nrooms > 1 && set.n > 1) {
        qsort(set.v, set.n, sizeof *set.v, cmp_ptr);
        size_t w = 1;
        for (size_t i = 1; i < set.n; i++)
            if (set.v[i] != set.v[w - 1])
                set.v[w++] = set.v[i];
        set.n = w;
    }
    size_t w = 0;
    for (size_t i = 0; i < set.n; i++)
        if (!excluded(set.v[i], sel))
            set.v[w++] = set.v[i];
    set.n = w;
    return set;
}

void sb_local_sockets_free(sb_local_sockets_t *set) {
    free(set->v);
    *set = (sb_local_sockets_t){0};
}

static bool add_room_name(sb_str_t room, void *ud) {
    json_array_append_new(ud, json_stringn(room.p, room.n));
    return true;
}

/* The query string as an object of its parameters (values as sent). */
static json_t *query_json(const char *q) {
    json_t *o = json_object();
    while (o && q && *q) {
        const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
        const char *eq = memchr(q, '=', (size_t)(end - q));
        if (eq && eq > q)
            json_object_setn_new(o, q, (size_t)(eq - q),
                                 json_stringn(eq + 1, (size_t)(end - eq - 1)));
        q = amp ? amp + 1 : NULL;
    }
    return o;
}

/* Node's handshake object, from what this node keeps (it keeps no headers
 * nor handshake time per socket: those fields are empty). */
static json_t *handshake_json(sb_sio_socket_t *s) {
    char ip[64] = "";
    sb_sio_socket_remote_ip(s, ip, sizeof ip);
    return json_pack("{s:{},s:s,s:s,s:b,s:b,s:I,s:s,s:o,s:{}}", "headers", "time", "", "address",
                     ip, "xdomain", 0, "secure", 0, "issued", (json_int_t)0, "url", "", "query",
                     query_json(sb_sio_socket_query(s)), "auth");
}

json_t *sb_local_socket_json(sb_sio_socket_t *s, sb_local_user_fn user_fn, void *user_ud) {
    json_t *rooms = json_array();
    sb_sio_socket_rooms(s, add_room_name, rooms);
    const char *name = NULL, *user = user_fn ? user_fn(user_ud, s, &name) : NULL;
    json_t *data = json_object();
    if (user)
        json_object_set_new(data, "userId", json_string(user));
    if (user && name) /* the live features list the members of other nodes by name */
        json_object_set_new(data, "name", json_string(name));
    return json_pack("{s:s,s:o,s:o,s:o}", "id", sb_sio_socket_id(s), "handshake", handshake_json(s),
                     "rooms", rooms, "data", data);
}
