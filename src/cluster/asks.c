/* What this node asks of the others: serverSideEmit, fetchSockets,
 * allRooms and broadcasts with acks (answers expected), and socketsJoin /
 * socketsLeave / disconnectSockets (none expected). As the Node.js adapter
 * does, the number of nodes to wait for is the count of subscribers to the
 * request channel (PUBSUB NUMSUB) minus this node; the request goes out once
 * that count is known, and the answers arrive on "<key>-response#<nsp>#". */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cluster/answers.h"
#include "cluster/cluster_internal.h"
#include "core/err.h"
#include "core/log.h"

#define SB_ASK_MAX_NODES 1024

enum { REQ_ALL_ROOMS = 1, REQ_JOIN = 2, REQ_LEAVE = 3, REQ_DISCONNECT = 4, REQ_FETCH = 5 };
enum { REQ_SERVER_SIDE_EMIT = 6, REQ_BROADCAST = 7, REQ_CLIENT_COUNT = 8, REQ_BROADCAST_ACK = 9 };

struct sb_cluster_ask {
    sb_list_node_t node; /* in cl->asks while waiting */
    sb_cluster_t *cl;
    sb_timer_t timer;
    int type; /* the request type; it decides what an answer is */
    char request_id[8];
    char *request; /* the request, published once the count is known */
    size_t request_n;
    size_t nsp_index;
    long expected; /* nodes to hear from; -1 until NUMSUB answers */
    long answered;
    uint64_t clients, acks; /* broadcast: sockets announced, acks heard */
    sb_answers_t answers;
    sb_engine_result_fn done; /* NULL once called */
    void *ud;
    bool counting; /* a NUMSUB reply is on its way: it frees a finished ask */
};

static void ask_free(sb_cluster_ask_t *a) {
    if (sb_list_linked(&a->node))
        sb_list_remove(&a->node);
    sb_timer_stop(&a->timer);
    sb_answers_dispose(&a->answers);
    free(a->request);
    free(a);
}

/* Calls `done` once; frees the ask unless a NUMSUB reply still refers to it. */
static void ask_finish(sb_cluster_ask_t *a, bool timed_out) {
    if (a->done) {
        timed_out ? a->cl->stats.asks_timed_out++ : a->cl->stats.asks_answered++;
        char *text = json_dumps(a->answers.items, JSON_COMPACT);
        sb_engine_result_t r = {.timed_out = timed_out,
                                .answers = text ? sb_cstr(text) : SB_LIT("[]"),
                                .attachments = a->answers.atts,
                                .nattachments = a->answers.natts,
                                .nodes = a->expected > 0 ? (uint32_t)a->expected : 0,
                                .nodes_answered = (uint32_t)a->answered,
                                .clients = a->clients,
                                .truncated = a->answers.truncated || !text};
        sb_engine_result_fn done = a->done;
        a->done = NULL;
        done(a->ud, &r);
        free(text);
    }
    if (sb_list_linked(&a->node))
        sb_list_remove(&a->node);
    sb_timer_stop(&a->timer);
    if (!a->counting)
        ask_free(a);
}

static bool ask_complete(const sb_cluster_ask_t *a) {
    return a->expected >= 0 && a->answered >= a->expected &&
           (a->type != REQ_BROADCAST || a->acks >= a->clients);
}

static void on_ask_timeout(sb_timer_t *t) {
    ask_finish(sb_container_of(t, sb_cluster_ask_t, timer), true);
}

static void publish_request(sb_cluster_t *cl, size_t nsp_index, const char *data, size_t n) {
    char channel[600];
    size_t chn = sb_wire_request_channel(channel, sizeof channel, sb_cstr(cl->key),
                                         sb_cstr(cl->nsps[nsp_index]));
    if (chn)
        sb_cluster__publish(cl, channel, chn, data, n);
}

static void on_numsub(redisAsyncContext *ac, void *r, void *ud) {
    redisReply *reply = r;
    sb_cluster_ask_t *a = ud;
    a->counting = false;
    if (!a->done) { /* timed out or the cluster is closing */
        ask_free(a);
        return;
    }
    long long subscribers = -1;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[1]->type == REDIS_REPLY_INTEGER)
        subscribers = reply->element[1]->integer;
    if (subscribers < 0) {
        ask_finish(a, true);
        return;
    }
    a->expected = (long)(subscribers - 1 > SB_ASK_MAX_NODES ? SB_ASK_MAX_NODES : subscribers - 1);
    if (a->expected < 0)
        a->expected = 0;
    if (ask_complete(a)) {
        ask_finish(a, false);
        return;
    }
    publish_request(a->cl, a->nsp_index, a->request, a->request_n);
}

static void make_request_id(char out[8]) {
    static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint8_t raw[6];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        memset(raw, 0, sizeof raw); /* an id only matches answers to it: not a secret */
    for (int i = 0; i < 6; i++)
        out[i] = abc[raw[i] % 62];
    out[6] = '\0';
}

static long nsp_index(sb_cluster_t *cl, sb_str_t nsp) {
    for (size_t i = 0; i < cl->nnsps; i++)
        if (sb_str_eq(sb_cstr(cl->nsps[i]), nsp))
            return (long)i;
    return -1;
}

static int can_ask(sb_cluster_t *cl, sb_str_t nsp, long *index) {
    *index = nsp_index(cl, nsp);
    if (*index < 0)
        return SB_ENOTFOUND;
    if (!cl->pub.connected || !cl->stats.up)
        return SB_ECLOSED;
    return SB_OK;
}

/* Counts the nodes, then publishes `request` (stolen, freed on failure). */
static int ask_start(sb_cluster_t *cl, size_t index, int type, const char *rid, char *request,
                     size_t n, uint32_t timeout_ms, sb_engine_result_fn done, void *ud) {
    sb_cluster_ask_t *a = calloc(1, sizeof *a);
    char channel[600];
    size_t chn = sb_wire_request_channel(channel, sizeof channel, sb_cstr(cl->key),
                                         sb_cstr(cl->nsps[index]));
    if (!a || !chn ||
        redisAsyncCommand(cl->pub.ac, on_numsub, a, "PUBSUB NUMSUB %b", channel, chn) != REDIS_OK) {
        free(request);
        free(a);
        return SB_ENOMEM;
    }
    *a = (sb_cluster_ask_t){.cl = cl,
                            .type = type,
                            .request = request,
                            .request_n = n,
                            .nsp_index = index,
                            .expected = -1,
                            .done = done,
                            .ud = ud,
                            .counting = true};
    memcpy(a->request_id, rid, sizeof a->request_id);
    sb_answers_init(&a->answers);
    sb_list_push_tail(&cl->asks, &a->node);
    sb_timer_init(cl->loop, &a->timer, on_ask_timeout);
    sb_timer_start(&a->timer, timeout_ms);
    cl->stats.asks_sent++;
    return SB_OK;
}

static char *dump(json_t *req, size_t *n) {
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    *n = text ? strlen(text) : 0;
    return text;
}

static json_t *names_json(const sb_str_t *v, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_stringn(v[i].p, v[i].n));
    return a;
}

static json_t *select_json(const sb_engine_select_t *sel) {
    return json_pack("{s:o,s:o}", "rooms", names_json(sel->rooms, sel->nrooms), "except",
                     names_json(sel->except, sel->nexcept));
}

/* ---- serverSideEmit ------------------------------------------------------------ */

/* {uid, type: 6, data: [event, ...args], requestId?} */
static char *server_emit_request(sb_cluster_t *cl, sb_str_t event, sb_str_t args, const char *rid,
                                 size_t *n) {
    json_t *data = sb_wire_parse_args(args);
    if (!data)
        return NULL;
    json_array_insert_new(data, 0, json_stringn(event.p, event.n));
    json_t *req =
        json_pack("{s:s,s:i,s:o}", "uid", cl->uid, "type", REQ_SERVER_SIDE_EMIT, "data", data);
    if (req && rid)
        json_object_set_new(req, "requestId", json_string(rid));
    return dump(req, n);
}

int sb_cluster__server_emit(sb_engine_t *e, sb_str_t nsp, sb_str_t event, sb_str_t args,
                            uint32_t timeout_ms, sb_engine_result_fn done, void *ud) {
    sb_cluster_t *cl = (sb_cluster_t *)e;
    long i;
    int rc = can_ask(cl, nsp, &i);
    if (rc != SB_OK)
        return rc;
    char rid[8];
    make_request_id(rid);
    size_t n;
    char *text = server_emit_request(cl, event, args, done ? rid : NULL, &n);
    if (!text)
        return SB_EPROTO;
    if (!done) {
        publish_request(cl, (size_t)i, text, n);
        free(text);
        return SB_OK;
    }
    return ask_start(cl, (size_t)i, REQ_SERVER_SIDE_EMIT, rid, text, n, timeout_ms, done, ud);
}

/* ---- fetchSockets, allRooms ------------------------------------------------------ */

/* A request whose body is {uid, requestId, type} plus "opts" when given
 * (allRooms has none); the answers gather under its request id. */
static int ask_plain(sb_cluster_t *cl, sb_str_t nsp, int type, json_t *opts, uint32_t timeout_ms,
                     sb_engine_result_fn done, void *ud) {
    long i;
    int rc = can_ask(cl, nsp, &i);
    if (rc != SB_OK) {
        json_decref(opts);
        return rc;
    }
    char rid[8];
    make_request_id(rid);
    json_t *req = json_pack("{s:s,s:s,s:i}", "uid", cl->uid, "requestId", rid, "type", type);
    if (req && opts)
        json_object_set_new(req, "opts", opts);
    else
        json_decref(opts);
    size_t n;
    char *text = dump(req, &n);
    if (!text)
        return SB_ENOMEM;
    return ask_start(cl, (size_t)i, type, rid, text, n, timeout_ms, done, ud);
}

int sb_cluster__fetch_sockets(sb_engine_t *e, sb_str_t nsp, const sb_engine_select_t *sel,
                              uint32_t timeout_ms, sb_engine_result_fn done, void *ud) {
    json_t *opts = select_json(sel);
    if (!opts) /* without opts the request would ask for every socket */
        return SB_ENOMEM;
    return ask_plain((sb_cluster_t *)e, nsp, REQ_FETCH, opts, timeout_ms, done, ud);
}

int sb_cluster__all_rooms(sb_engine_t *e, sb_str_t nsp, uint32_t timeout_ms,
                          sb_engine_result_fn done, void *ud) {
    return ask_plain((sb_cluster_t *)e, nsp, REQ_ALL_ROOMS, NULL, timeout_ms, done, ud);
}

/* ---- socketsJoin, socketsLeave, disconnectSockets --------------------------------- */

int sb_cluster__sockets_op(sb_engine_t *e, sb_str_t nsp, const sb_engine_select_t *sel,
                           sb_engine_sockets_op_t op, const sb_str_t *rooms, size_t nrooms) {
    sb_cluster_t *cl = (sb_cluster_t *)e;
    long i;
    int rc = can_ask(cl, nsp, &i);
    if (rc != SB_OK)
        return rc;
    bool disconnect = op == SB_ENGINE_DISCONNECT || op == SB_ENGINE_DISCONNECT_CLOSE;
    int type = disconnect ? REQ_DISCONNECT : op == SB_ENGINE_LEAVE ? REQ_LEAVE : REQ_JOIN;
    json_t *req =
        json_pack("{s:s,s:i,s:o}", "uid", cl->uid, "type", type, "opts", select_json(sel));
    if (req && disconnect)
        json_object_set_new(req, "close", json_boolean(op == SB_ENGINE_DISCONNECT_CLOSE));
    else if (req)
        json_object_set_new(req, "rooms", names_json(rooms, nrooms));
    size_t n;
    char *text = dump(req, &n);
    if (!text)
        return SB_ENOMEM;
    publish_request(cl, (size_t)i, text, n);
    free(text);
    return SB_OK;
}

/* ---- broadcasts with acks --------------------------------------------------------- */

static bool pack_key(msgpack_packer *pk, const char *k) {
    return msgpack_pack_str_with_body(pk, k, strlen(k)) == 0;
}

static bool pack_names(msgpack_packer *pk, const sb_str_t *v, size_t n) {
    if (msgpack_pack_array(pk, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (msgpack_pack_str_with_body(pk, v[i].p, v[i].n))
            return false;
    return true;
}

/* msgpack {uid, requestId, type: 7, packet: {type: 2, data: [event, ...args],
 * nsp}, opts: {rooms, except, flags: {timeout}}}, binary values as `bin`. */
static int broadcast_request(sb_cluster_t *cl, const sb_engine_broadcast_t *b, const char *rid,
                             uint32_t timeout_ms, msgpack_sbuffer *buf) {
    json_t *data = sb_wire_parse_args(b->args);
    if (!data)
        return SB_EPROTO;
    json_array_insert_new(data, 0, json_stringn(b->event.p, b->event.n));
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    bool ok = !msgpack_pack_map(&pk, 5) && pack_key(&pk, "uid") && pack_key(&pk, cl->uid) &&
              pack_key(&pk, "requestId") && pack_key(&pk, rid) && pack_key(&pk, "type") &&
              !msgpack_pack_int(&pk, REQ_BROADCAST) && pack_key(&pk, "packet") &&
              !msgpack_pack_map(&pk, 3) && pack_key(&pk, "type") && !msgpack_pack_int(&pk, 2) &&
              pack_key(&pk, "data") &&
              sb_wire_pack_json(&pk, data, b->attachments, b->nattachments) == SB_OK &&
              pack_key(&pk, "nsp") && !msgpack_pack_str_with_body(&pk, b->nsp.p, b->nsp.n) &&
              pack_key(&pk, "opts") && !msgpack_pack_map(&pk, 3) && pack_key(&pk, "rooms") &&
              pack_names(&pk, b->to.rooms, b->to.nrooms) && pack_key(&pk, "except") &&
              pack_names(&pk, b->to.except, b->to.nexcept) && pack_key(&pk, "flags") &&
              !msgpack_pack_map(&pk, 1) && pack_key(&pk, "timeout") &&
              !msgpack_pack_uint32(&pk, timeout_ms);
    json_decref(data);
    return ok ? SB_OK : SB_ENOMEM;
}

int sb_cluster__broadcast_with_acks(sb_engine_t *e, const sb_engine_broadcast_t *b,
                                    uint32_t timeout_ms, sb_engine_result_fn done, void *ud) {
    sb_cluster_t *cl = (sb_cluster_t *)e;
    long i;
    int rc = can_ask(cl, b->nsp, &i);
    if (rc != SB_OK)
        return rc;
    char rid[8];
    make_request_id(rid);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    rc = broadcast_request(cl, b, rid, timeout_ms, &buf);
    if (rc != SB_OK) {
        msgpack_sbuffer_destroy(&buf);
        return rc;
    }
    size_t n = buf.size;
    char *request = msgpack_sbuffer_release(&buf); /* the ask's from now on */
    return ask_start(cl, (size_t)i, REQ_BROADCAST, rid, request, n, timeout_ms, done, ud);
}

/* ---- answers ------------------------------------------------------------------------ */

static sb_cluster_ask_t *find_ask(sb_cluster_t *cl, const char *rid) {
    sb_list_node_t *it, *tmp;
    sb_list_foreach_safe(it, tmp, &cl->asks) {
        sb_cluster_ask_t *a = sb_container_of(it, sb_cluster_ask_t, node);
        if (a->expected >= 0 && !strcmp(a->request_id, rid))
            return a;
    }
    return NULL;
}

static void on_answer(sb_cluster_t *cl, json_t *res, const sb_str_t *atts, size_t natts) {
    const char *rid = json_string_value(json_object_get(res, "requestId"));
    sb_cluster_ask_t *a = rid ? find_ask(cl, rid) : NULL;
    json_t *type = json_object_get(res, "type");
    int t = json_is_number(type) ? (int)json_number_value(type) : -1;
    if (!a)
        return; /* an answer to another node's request */
    if (a->type == REQ_SERVER_SIDE_EMIT && t == REQ_SERVER_SIDE_EMIT) {
        a->answered++;
        sb_answers_add(&a->answers, json_object_get(res, "data"), NULL, 0);
    } else if ((a->type == REQ_FETCH || a->type == REQ_ALL_ROOMS) && t < 0) {
        json_t *list = json_object_get(res, a->type == REQ_FETCH ? "sockets" : "rooms");
        a->answered++;
        if (json_is_array(list))
            sb_answers_add_all(&a->answers, list, NULL, 0);
    } else if (a->type == REQ_BROADCAST && t == REQ_CLIENT_COUNT) {
        json_t *count = json_object_get(res, "clientCount");
        a->answered++;
        if (json_is_number(count) && json_number_value(count) > 0)
            a->clients += (uint64_t)json_number_value(count);
    } else if (a->type == REQ_BROADCAST && t == REQ_BROADCAST_ACK) {
        a->acks++;
        sb_answers_add(&a->answers, json_object_get(res, "packet"), atts, natts);
    } else {
        return;
    }
    if (ask_complete(a))
        ask_finish(a, false);
}

/* An answer on the response channel: JSON (first byte '{'), or msgpack for
 * a broadcast ack, whose binary values become placeholders. Answers to
 * requests this node did not make (other nodes' fetchSockets...) are
 * dropped without a word. */
void sb_cluster__on_response(sb_cluster_t *cl, const char *p, size_t n) {
    if (sb_list_empty(&cl->asks) || !n)
        return;
    if (p[0] == '{') {
        json_t *res = json_loadb(p, n, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
        if (json_is_object(res))
            on_answer(cl, res, NULL, 0);
        json_decref(res);
        return;
    }
    if (sb_wire_check(p, n) != SB_OK)
        return;
    msgpack_unpacked raw;
    msgpack_unpacked_init(&raw);
    size_t off = 0;
    sb_str_t *atts = malloc(sizeof *atts * SB_WIRE_MAX_ATTACHMENTS);
    size_t natts = 0;
    int err = SB_OK;
    json_t *res = atts && msgpack_unpack_next(&raw, p, n, &off) == MSGPACK_UNPACK_SUCCESS
                      ? sb_wire_to_json(&raw.data, atts, &natts, SB_WIRE_MAX_ATTACHMENTS, &err)
                      : NULL;
    if (json_is_object(res))
        on_answer(cl, res, atts, natts);
    json_decref(res);
    free(atts);
    msgpack_unpacked_destroy(&raw);
}

/* Closing: every ask still waiting ends as timed out. */
void sb_cluster__asks_end(sb_cluster_t *cl) {
    sb_list_node_t *it, *tmp;
    sb_list_foreach_safe(it, tmp, &cl->asks)
        ask_finish(sb_container_of(it, sb_cluster_ask_t, node), true);
}
