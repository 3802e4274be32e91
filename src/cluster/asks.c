/* What this node asks of the others: serverSideEmit, with or without
 * answers. Node peers answer a serverSideEmit that carries a requestId on
 * "<key>-response#<nsp>#"; the number of answers to wait for is the count of
 * subscribers to the request channel (PUBSUB NUMSUB) minus this node, as the
 * Node adapter counts it. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cluster/cluster_internal.h"
#include "core/err.h"
#include "core/log.h"

#define SB_ASK_MAX_ANSWERS 1024

struct sb_cluster_ask {
    sb_list_node_t node; /* in cl->asks while waiting */
    sb_cluster_t *cl;
    sb_timer_t timer;
    char request_id[8];
    char *request; /* the JSON request, published once the count is known */
    size_t nsp_index;
    long expected; /* answers to wait for; -1 until NUMSUB answers */
    json_t *answers;
    sb_engine_answers_fn done; /* NULL once called */
    void *ud;
    bool counting; /* a NUMSUB reply is on its way: it frees a finished ask */
};

static void ask_free(sb_cluster_ask_t *a) {
    if (sb_list_linked(&a->node))
        sb_list_remove(&a->node);
    sb_timer_stop(&a->timer);
    json_decref(a->answers);
    free(a->request);
    free(a);
}

/* Calls `done` once; frees the ask unless a NUMSUB reply still refers to it. */
static void ask_finish(sb_cluster_ask_t *a, bool timed_out) {
    if (a->done) {
        char *text = json_dumps(a->answers, JSON_COMPACT);
        sb_engine_answers_fn done = a->done;
        a->done = NULL;
        done(a->ud, timed_out, text ? sb_cstr(text) : SB_LIT("[]"));
        free(text);
    }
    if (sb_list_linked(&a->node))
        sb_list_remove(&a->node);
    sb_timer_stop(&a->timer);
    if (!a->counting)
        ask_free(a);
}

static void on_ask_timeout(sb_timer_t *t) {
    ask_finish(sb_container_of(t, sb_cluster_ask_t, timer), true);
}

static void publish_request(sb_cluster_t *cl, size_t nsp_index, const char *text) {
    char channel[600];
    size_t chn = sb_wire_request_channel(channel, sizeof channel, sb_cstr(cl->key),
                                         sb_cstr(cl->nsps[nsp_index]));
    if (chn)
        sb_cluster__publish(cl, channel, chn, text, strlen(text));
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
    a->expected =
        (long)(subscribers - 1 > SB_ASK_MAX_ANSWERS ? SB_ASK_MAX_ANSWERS : subscribers - 1);
    if (a->expected <= 0) {
        ask_finish(a, false);
        return;
    }
    publish_request(a->cl, a->nsp_index, a->request);
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

/* {uid, type: 6, data: [event, ...args], requestId?} */
static char *server_emit_request(sb_cluster_t *cl, sb_str_t event, sb_str_t args, const char *rid) {
    json_t *data = sb_wire_parse_args(args);
    if (!data)
        return NULL;
    json_array_insert_new(data, 0, json_stringn(event.p, event.n));
    json_t *req = json_pack("{s:s,s:i,s:o}", "uid", cl->uid, "type", 6, "data", data);
    if (req && rid)
        json_object_set_new(req, "requestId", json_string(rid));
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    return text;
}

static long nsp_index(sb_cluster_t *cl, sb_str_t nsp) {
    for (size_t i = 0; i < cl->nnsps; i++)
        if (sb_str_eq(sb_cstr(cl->nsps[i]), nsp))
            return (long)i;
    return -1;
}

int sb_cluster__server_emit(sb_cluster_t *cl, sb_str_t nsp, sb_str_t event, sb_str_t args,
                            uint32_t timeout_ms, sb_engine_answers_fn done, void *ud) {
    long i = nsp_index(cl, nsp);
    if (i < 0)
        return SB_ENOTFOUND;
    if (!cl->pub.connected || !cl->stats.up)
        return SB_ECLOSED;
    sb_cluster_ask_t *a = done ? calloc(1, sizeof *a) : NULL;
    if (done && !a)
        return SB_ENOMEM;
    char rid[8];
    make_request_id(rid);
    char *text = server_emit_request(cl, event, args, done ? rid : NULL);
    if (!text) {
        free(a);
        return SB_EPROTO;
    }
    if (!done) {
        publish_request(cl, (size_t)i, text);
        free(text);
        return SB_OK;
    }
    char channel[600];
    size_t chn = sb_wire_request_channel(channel, sizeof channel, sb_cstr(cl->key), nsp);
    *a = (sb_cluster_ask_t){.cl = cl,
                            .request = text,
                            .nsp_index = (size_t)i,
                            .expected = -1,
                            .answers = json_array(),
                            .done = done,
                            .ud = ud,
                            .counting = true};
    memcpy(a->request_id, rid, sizeof rid);
    if (!a->answers ||
        redisAsyncCommand(cl->pub.ac, on_numsub, a, "PUBSUB NUMSUB %b", channel, chn) != REDIS_OK) {
        json_decref(a->answers);
        free(text);
        free(a);
        return SB_ENOMEM;
    }
    sb_list_push_tail(&cl->asks, &a->node);
    sb_timer_init(cl->loop, &a->timer, on_ask_timeout);
    sb_timer_start(&a->timer, timeout_ms);
    return SB_OK;
}

/* An answer on the response channel: {type: 6, requestId, data}. Answers
 * to requests this node did not make (other nodes' fetchSockets...) are
 * dropped without a word. */
void sb_cluster__on_response(sb_cluster_t *cl, const char *p, size_t n) {
    if (sb_list_empty(&cl->asks) || !n || p[0] != '{')
        return;
    json_t *res = json_loadb(p, n, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
    const char *rid = json_string_value(json_object_get(res, "requestId"));
    json_t *type = json_object_get(res, "type");
    sb_list_node_t *it, *tmp;
    if (rid && json_is_number(type) && json_number_value(type) == 6) {
        sb_list_foreach_safe(it, tmp, &cl->asks) {
            sb_cluster_ask_t *a = sb_container_of(it, sb_cluster_ask_t, node);
            if (strcmp(a->request_id, rid) != 0 || a->expected < 0)
                continue;
            json_t *data = json_object_get(res, "data");
            json_array_append(a->answers, data ? data : json_null());
            if ((long)json_array_size(a->answers) >= a->expected)
                ask_finish(a, false);
            break;
        }
    }
    json_decref(res);
}

/* Closing: every ask still waiting ends as timed out. */
void sb_cluster__asks_end(sb_cluster_t *cl) {
    sb_list_node_t *it, *tmp;
    sb_list_foreach_safe(it, tmp, &cl->asks)
        ask_finish(sb_container_of(it, sb_cluster_ask_t, node), true);
}
