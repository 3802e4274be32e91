/* Requests from other nodes on "<key>-request#<nsp>#": a node subscribed to
 * that channel is counted by Node.js peers (PUBSUB NUMSUB), so it answers
 * every request type they send, or their fetchSockets() and allRooms() wait
 * for their timeout. Requests are JSON (first byte '{') or msgpack; both
 * are read into one JSON tree, binary values as attachment placeholders. */
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_internal.h"
#include "core/err.h"
#include "core/log.h"

enum {
    REQ_SOCKETS = 0,
    REQ_ALL_ROOMS = 1,
    REQ_REMOTE_JOIN = 2,
    REQ_REMOTE_LEAVE = 3,
    REQ_REMOTE_DISCONNECT = 4,
    REQ_REMOTE_FETCH = 5,
    REQ_SERVER_SIDE_EMIT = 6,
    REQ_BROADCAST = 7,
    REQ_BROADCAST_CLIENT_COUNT = 8,
    REQ_BROADCAST_ACK = 9,
};

#define SB_ACK_TIMEOUT_DEFAULT_MS 5000
#define SB_ACK_TIMEOUT_MAX_MS 600000

/* One request being handled: its tree, and what it refers to. */
typedef struct {
    sb_cluster_t *cl;
    sb_str_t nsp;
    json_t *req;
    msgpack_unpacked raw; /* the msgpack form, which attachments point into */
    sb_str_t atts[SB_WIRE_MAX_ATTACHMENTS];
    size_t natts;
    sb_str_t rooms[SB_WIRE_MAX_ROOMS], except[SB_WIRE_MAX_ROOMS];
    sb_engine_select_t sel;
} request_t;

/* ---- reading ----------------------------------------------------------------- */

static int read_msgpack(request_t *r, const char *p, size_t n) {
    int rc = sb_wire_check(p, n);
    if (rc != SB_OK)
        return rc;
    size_t off = 0;
    if (msgpack_unpack_next(&r->raw, p, n, &off) != MSGPACK_UNPACK_SUCCESS)
        return SB_EPROTO;
    rc = SB_ENOMEM;
    r->req = sb_wire_to_json(&r->raw.data, r->atts, &r->natts, SB_WIRE_MAX_ATTACHMENTS, &rc);
    return r->req ? SB_OK : rc;
}

static int read_request(request_t *r, const char *p, size_t n) {
    if (n && p[0] == '{') {
        r->req = json_loadb(p, n, JSON_ALLOW_NUL, NULL);
        if (!r->req) /* integers past 64 bits, as JavaScript reads them */
            r->req = json_loadb(p, n, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
        if (!r->req)
            return SB_EPROTO;
    } else {
        int rc = read_msgpack(r, p, n);
        if (rc != SB_OK)
            return rc;
    }
    return json_is_object(r->req) ? SB_OK : SB_EPROTO;
}

static int str_list(const json_t *v, sb_str_t *out, size_t *n) {
    *n = 0;
    if (!v || json_is_null(v))
        return SB_OK;
    if (!json_is_array(v))
        return SB_EPROTO;
    if (json_array_size(v) > SB_WIRE_MAX_ROOMS)
        return SB_ETOOBIG;
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        if (json_is_string(e))
            out[(*n)++] = sb_str(json_string_value(e), json_string_length(e));
        else if (!json_is_null(e))
            return SB_EPROTO;
    }
    return SB_OK;
}

/* opts {rooms, except} into r->sel. */
static int read_select(request_t *r, const json_t *opts) {
    if (opts && !json_is_object(opts))
        return SB_EPROTO;
    int rc = str_list(json_object_get(opts, "rooms"), r->rooms, &r->sel.nrooms);
    if (rc == SB_OK)
        rc = str_list(json_object_get(opts, "except"), r->except, &r->sel.nexcept);
    r->sel.rooms = r->rooms;
    r->sel.except = r->except;
    return rc;
}

static const char *request_id(const request_t *r) {
    const char *id = json_string_value(json_object_get(r->req, "requestId"));
    return id && strlen(id) < 64 ? id : NULL;
}

/* ---- answering --------------------------------------------------------------- */

static void publish_response_text(sb_cluster_t *cl, sb_str_t nsp, const char *data, size_t n) {
    char channel[600];
    size_t chn = sb_wire_response_channel(channel, sizeof channel, sb_cstr(cl->key), nsp, NULL);
    if (chn)
        sb_cluster__publish(cl, channel, chn, data, n);
}

/* Publishes `body` (stolen) as JSON on the response channel. */
static void respond_json(sb_cluster_t *cl, sb_str_t nsp, json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        cl->stats.publish_dropped++;
        return;
    }
    publish_response_text(cl, nsp, text, strlen(text));
    cl->stats.requests_answered++;
    free(text);
}

static bool add_id(sb_engine_socket_t *s, void *ud) {
    request_t *r = ud;
    sb_str_t id = r->cl->host.socket_id(r->cl->host.ud, s);
    json_t *ids = json_object_get(r->req, "_ids");
    json_array_append_new(ids, json_stringn(id.p, id.n));
    return true;
}

static bool add_described(sb_engine_socket_t *s, void *ud) {
    request_t *r = ud;
    char *text = r->cl->host.socket_describe(r->cl->host.ud, s);
    json_t *one = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (one)
        json_array_append_new(json_object_get(r->req, "_ids"), one);
    return true;
}

static bool add_room(sb_str_t room, void *ud) {
    json_array_append_new(ud, json_stringn(room.p, room.n));
    return true;
}

/* sockets (0) and fetchSockets (5): the selected local sockets. */
static void answer_sockets(request_t *r, const char *rid, bool describe) {
    json_t *list = json_array();
    json_object_set_new(r->req, "_ids", list); /* the tree keeps it alive while visiting */
    r->cl->host.select(r->cl->host.ud, r->nsp, &r->sel, describe ? add_described : add_id, r);
    respond_json(r->cl, r->nsp, json_pack("{s:s,s:O}", "requestId", rid, "sockets", list));
}

static void answer_all_rooms(request_t *r, const char *rid) {
    json_t *rooms = json_array();
    r->cl->host.rooms(r->cl->host.ud, r->nsp, add_room, rooms);
    respond_json(r->cl, r->nsp, json_pack("{s:s,s:o}", "requestId", rid, "rooms", rooms));
}

/* The legacy single-socket form {sid, room}: a one-socket selection. */
static bool select_sid(request_t *r) {
    const char *sid = json_string_value(json_object_get(r->req, "sid"));
    if (!sid)
        return false;
    r->rooms[0] = sb_cstr(sid);
    r->sel = (sb_engine_select_t){r->rooms, 1, NULL, 0};
    return true;
}

static bool any_selected(sb_engine_socket_t *s, void *ud) {
    *(bool *)ud = true;
    return false;
}

static void room_op(request_t *r, int type) {
    const sb_engine_host_t *h = &r->cl->host;
    json_t *opts = json_object_get(r->req, "opts");
    if (!opts) { /* remoteJoin(sid, room) and friends: answered by the socket's node */
        bool local = false;
        const char *rid = request_id(r);
        if (!select_sid(r))
            return;
        h->select(h->ud, r->nsp, &r->sel, any_selected, &local);
        if (!local)
            return;
        const char *room = json_string_value(json_object_get(r->req, "room"));
        sb_str_t one = sb_cstr(room);
        if (type == REQ_REMOTE_DISCONNECT)
            h->disconnect(h->ud, r->nsp, &r->sel, json_is_true(json_object_get(r->req, "close")));
        else if (room)
            h->join(h->ud, r->nsp, &r->sel, &one, 1, type == REQ_REMOTE_LEAVE);
        if (rid)
            respond_json(r->cl, r->nsp, json_pack("{s:s}", "requestId", rid));
        return;
    }
    if (read_select(r, opts) != SB_OK)
        return;
    if (type == REQ_REMOTE_DISCONNECT) {
        h->disconnect(h->ud, r->nsp, &r->sel, json_is_true(json_object_get(r->req, "close")));
        return;
    }
    sb_str_t *rooms = malloc(sizeof *rooms * SB_WIRE_MAX_ROOMS);
    size_t n = 0;
    if (rooms && str_list(json_object_get(r->req, "rooms"), rooms, &n) == SB_OK && n)
        h->join(h->ud, r->nsp, &r->sel, rooms, n, type == REQ_REMOTE_LEAVE);
    free(rooms);
}

/* ---- answers that come later (acks) ------------------------------------------ */

static sb_cluster_ack_t *ack_create(request_t *r, const char *rid, int type) {
    sb_cluster_ack_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cl = r->cl;
    a->type = type;
    snprintf(a->nsp, sizeof a->nsp, "%.*s", (int)r->nsp.n, r->nsp.p);
    snprintf(a->request_id, sizeof a->request_id, "%s", rid);
    sb_list_push_tail(&r->cl->acks, &a->node);
    return a;
}

static void ack_release(sb_cluster_ack_t *a) {
    if (--a->remaining)
        return;
    if (sb_list_linked(&a->node))
        sb_list_remove(&a->node);
    free(a);
}

/* The first answer argument, as Node's adapters pass one value on. */
static json_t *first_arg(sb_str_t args) {
    json_t *arr = sb_wire_parse_args(args);
    json_t *v = arr && json_array_size(arr) ? json_incref(json_array_get(arr, 0)) : json_null();
    json_decref(arr);
    return v;
}

/* Answered in JSON, as Node peers answer: binary values are not carried. */
static void on_server_event_ack(void *ud, bool timed_out, sb_str_t args, const sb_str_t *atts,
                                size_t natts) {
    sb_cluster_ack_t *a = ud;
    if (a->cl && !timed_out)
        respond_json(a->cl, sb_cstr(a->nsp),
                     json_pack("{s:i,s:s,s:o}", "type", REQ_SERVER_SIDE_EMIT, "requestId",
                               a->request_id, "data", first_arg(args)));
    ack_release(a);
}

static int dump_event(json_t *data, sb_str_t *event, char **args, size_t *n) {
    if (!json_is_array(data) || json_array_size(data) < 1 ||
        json_array_size(data) > SB_WIRE_MAX_ARGS + 1 || !json_is_string(json_array_get(data, 0)))
        return SB_EPROTO;
    *event = sb_str(json_string_value(json_array_get(data, 0)),
                    json_string_length(json_array_get(data, 0)));
    return sb_wire_dump_args(data, 1, args, n);
}

static void server_side_emit(request_t *r) {
    const sb_engine_host_t *h = &r->cl->host;
    sb_str_t event;
    char *args;
    size_t n;
    if (!h->server_event || dump_event(json_object_get(r->req, "data"), &event, &args, &n) != SB_OK)
        return;
    const char *rid = request_id(r);
    sb_cluster_ack_t *a = rid ? ack_create(r, rid, REQ_SERVER_SIDE_EMIT) : NULL;
    if (a)
        a->remaining = 1;
    h->server_event(h->ud, r->nsp, event, sb_str(args, n), a ? on_server_event_ack : NULL, a);
    free(args);
}

/* msgpack {type: 9, requestId, packet: first ack argument}, binary as bin. */
static void on_client_ack(void *ud, bool timed_out, sb_str_t args, const sb_str_t *atts,
                          size_t natts) {
    sb_cluster_ack_t *a = ud;
    if (a->cl && !timed_out) {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init(&buf);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
        json_t *arg = first_arg(args);
        if (!msgpack_pack_map(&pk, 3) && !msgpack_pack_str_with_body(&pk, "type", 4) &&
            !msgpack_pack_int(&pk, REQ_BROADCAST_ACK) &&
            !msgpack_pack_str_with_body(&pk, "requestId", 9) &&
            !msgpack_pack_str_with_body(&pk, a->request_id, strlen(a->request_id)) &&
            !msgpack_pack_str_with_body(&pk, "packet", 6) &&
            sb_wire_pack_json(&pk, arg, atts, natts) == SB_OK) {
            publish_response_text(a->cl, sb_cstr(a->nsp), buf.data, buf.size);
            a->cl->stats.requests_answered++;
        }
        json_decref(arg);
        msgpack_sbuffer_destroy(&buf);
    }
    ack_release(a);
}

static uint32_t ack_timeout(const json_t *opts) {
    json_t *t = json_object_get(json_object_get(opts, "flags"), "timeout");
    if (!json_is_number(t) || json_number_value(t) <= 0)
        return SB_ACK_TIMEOUT_DEFAULT_MS;
    double ms = json_number_value(t);
    return ms > SB_ACK_TIMEOUT_MAX_MS ? SB_ACK_TIMEOUT_MAX_MS : (uint32_t)ms;
}

static void broadcast_with_acks(request_t *r) {
    const sb_engine_host_t *h = &r->cl->host;
    json_t *packet = json_object_get(r->req, "packet"), *opts = json_object_get(r->req, "opts");
    const char *rid = request_id(r);
    sb_engine_broadcast_t b = {.nsp = r->nsp, .attachments = r->atts, .nattachments = r->natts};
    char *args;
    size_t n;
    if (!rid || !h->deliver_with_acks || read_select(r, opts) != SB_OK ||
        dump_event(json_object_get(packet, "data"), &b.event, &args, &n) != SB_OK)
        return;
    b.args = sb_str(args, n);
    b.to = r->sel;
    sb_cluster_ack_t *a = ack_create(r, rid, REQ_BROADCAST);
    if (!a) {
        free(args);
        return;
    }
    a->remaining = 1; /* held until the count is known */
    size_t count = h->deliver_with_acks(h->ud, &b, ack_timeout(opts), on_client_ack, a);
    free(args);
    a->remaining += count;
    respond_json(r->cl, r->nsp,
                 json_pack("{s:i,s:s,s:I}", "type", REQ_BROADCAST_CLIENT_COUNT, "requestId", rid,
                           "clientCount", (json_int_t)count));
    ack_release(a);
}

/* ---- dispatch ---------------------------------------------------------------- */

static void dispatch(request_t *r, int type) {
    const char *rid = request_id(r);
    switch (type) {
    case REQ_SOCKETS:
        if (rid && str_list(json_object_get(r->req, "rooms"), r->rooms, &r->sel.nrooms) == SB_OK) {
            r->sel.rooms = r->rooms;
            answer_sockets(r, rid, false);
        }
        break;
    case REQ_ALL_ROOMS:
        if (rid)
            answer_all_rooms(r, rid);
        break;
    case REQ_REMOTE_JOIN:
    case REQ_REMOTE_LEAVE:
    case REQ_REMOTE_DISCONNECT:
        room_op(r, type);
        break;
    case REQ_REMOTE_FETCH:
        if (rid && read_select(r, json_object_get(r->req, "opts")) == SB_OK)
            answer_sockets(r, rid, true);
        break;
    case REQ_SERVER_SIDE_EMIT:
        server_side_emit(r);
        break;
    case REQ_BROADCAST:
        broadcast_with_acks(r);
        break;
    default:
        break; /* a newer adapter's request: nothing to answer */
    }
}

void sb_cluster__on_request(sb_cluster_t *cl, size_t nsp_index, const char *p, size_t n) {
    request_t *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->cl = cl;
    r->nsp = sb_cstr(cl->nsps[nsp_index]);
    msgpack_unpacked_init(&r->raw);
    int rc = read_request(r, p, n);
    json_t *type = rc == SB_OK ? json_object_get(r->req, "type") : NULL;
    const char *uid = json_string_value(json_object_get(r->req, "uid"));
    if (rc != SB_OK || !json_is_integer(type)) {
        sb_cluster__log_bad(cl, "request", rc != SB_OK ? rc : SB_EPROTO);
    } else if (uid && !strcmp(uid, cl->uid)) {
        cl->stats.ignored++; /* we never ask, but a twin uid must not loop */
    } else if (cl->host.has_nsp(cl->host.ud, r->nsp)) {
        dispatch(r, (int)json_integer_value(type));
    }
    json_decref(r->req);
    msgpack_unpacked_destroy(&r->raw);
    free(r);
}

void sb_cluster__acks_orphan(sb_cluster_t *cl) {
    sb_list_node_t *n, *tmp;
    sb_list_foreach_safe(n, tmp, &cl->acks) {
        sb_cluster_ack_t *a = sb_container_of(n, sb_cluster_ack_t, node);
        a->cl = NULL;
        sb_list_remove(&a->node);
    }
}
