/* GET /api/rooms/:id/messages: the backend reads a room's stored messages
 * (chat:message, file:share), a page at a time, newest first. */
#include <stdio.h>

#include "api/api_internal.h"
#include "core/err.h"

typedef struct {
    char room[SB_STORE_MAX_ROOM + 1];
    int limit;
} room_page_t;

static void on_room_page(void *ud, int rc, const sb_store_msgs_t *page) {
    sb_api_call_t *call = ud;
    room_page_t *p = (room_page_t *)(void *)call->extra;
    if (rc != SB_OK)
        sb_api__call_fail_store(call, rc);
    else
        sb_api__call_respond(
            call, 200,
            sb_api__page_json("roomId", p->room, page, p->limit, sb_features_room_message_json));
    sb_api__call_end(call);
}

/* A room is not an object of its own: a room nobody wrote to has an empty
 * history, not a 404. */
static void read_room(sb_api_t *api, sb_http_req_t *req, const char *room) {
    int64_t before;
    int limit;
    if (!sb_api__page_params(req, &before, &limit))
        return;
    sb_api_call_t *call = sb_api__call_begin(api, req, sizeof(room_page_t));
    if (!call)
        return;
    room_page_t *p = (room_page_t *)(void *)call->extra;
    snprintf(p->room, sizeof p->room, "%s", room);
    p->limit = limit;
    int rc = sb_store_message_history(api->cfg.store, sb_cstr(p->room), before, limit, on_room_page,
                                      call);
    if (rc != SB_OK) {
        sb_api__call_fail_store(call, rc);
        sb_api__call_end(call);
    }
}

/* POST /api/rooms/<id>/join|leave|disconnect: sockets_api.c. True when
 * the path is one of those. */
static bool room_op(sb_api_t *api, sb_http_req_t *req) {
    static const sb_str_t verbs[] = {SB_LIT("/join"), SB_LIT("/leave"), SB_LIT("/disconnect")};
    char room[SB_STORE_MAX_ROOM + 1];
    size_t n;
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++) {
        if (!sb_api__path_id(req->path, SB_LIT("/api/rooms/"), verbs[i], room, sizeof room, &n))
            continue;
        if (!sb_features_room_name_valid(sb_str(room, n)))
            sb_http_respond_error(req, 404, "not_found", "not a valid room name");
        else
            sb_api__room_op(api, req, room, sb_str(verbs[i].p + 1, verbs[i].n - 1));
        return true;
    }
    return false;
}

/* /api/rooms: the rooms of the cluster; /api/rooms/<id>/messages (id
 * percent-decoded: "lobby", "team%2Fdev", ...); /api/rooms/<id>/join... */
static void on_rooms(sb_http_req_t *req, void *ud) {
    sb_api_t *api = ud;
    if (room_op(api, req))
        return;
    if (!sb_api__method_is(req, "GET") || !sb_api__authorized(api, req))
        return;
    if (sb_str_eq(req->path, SB_LIT("/api/rooms")) || sb_str_eq(req->path, SB_LIT("/api/rooms/"))) {
        sb_api__all_rooms(api, req);
        return;
    }
    char room[SB_STORE_MAX_ROOM + 1];
    size_t n;
    if (!sb_api__path_id(req->path, SB_LIT("/api/rooms/"), SB_LIT("/messages"), room, sizeof room,
                         &n) ||
        !sb_features_room_name_valid(sb_str(room, n))) {
        sb_http_respond_error(req, 404, "not_found",
                              "expected /api/rooms/<id>/messages with a valid room name");
        return;
    }
    read_room(api, req, room);
}

int sb_api__register_rooms(sb_api_t *api, sb_http_server_t *http) {
    return sb_http_route(http, "/api/rooms/", on_rooms, api);
}
