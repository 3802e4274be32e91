/* Private to src/api/. */
#ifndef SB_API_INTERNAL_H
#define SB_API_INTERNAL_H

#include <jansson.h>

#include "api/api.h"
#include "core/map.h"

/* A route whose POSTs honour Idempotency-Key (idempotency_api.c). */
typedef struct {
    struct sb_api *api;
    sb_http_handler_fn fn;
} sb_api__route_t;

#define SB_API_MAX_STREAMS 32

struct sb_http_sse;

typedef struct sb_api_rooms_ask sb_api_rooms_ask_t; /* admin_api.c */

struct sb_api {
    sb_api_config_t cfg;
    struct sb_http_sse *streams[SB_API_MAX_STREAMS]; /* open dashboard streams */
    size_t nstreams;
    sb_api__route_t routes[16];
    size_t nroutes;
    sb_map_t keys_in_flight;      /* Idempotency-Key -> its request, while it is served */
    sb_log_limiter_t refusal_log; /* lines about refused API keys */
    /* admin_api.c, in a cluster: the rooms of every node (sorted names, the
     * latest answer) for the dashboard, asked for while a stream is open */
    json_t *cluster_rooms;
    sb_api_rooms_ask_t *rooms_ask; /* the ask out, or NULL */
    int64_t rooms_asked_ms;
};

/* admin_api.c: forgets the cluster's rooms; an ask still out finds the API gone. */
void sb_api__admin_dispose(sb_api_t *api);

/* helpers.c: true when the request carries the API key; otherwise answers 401. */
bool sb_api__authorized(sb_api_t *api, sb_http_req_t *req);
/* True when the method matches; otherwise answers 405. */
bool sb_api__method_is(sb_http_req_t *req, const char *method);
/* Answers `body` (stolen) as JSON. */
void sb_api__respond_json(sb_http_req_t *req, int status, json_t *body);
/* Parses the body as a JSON object; answers 400 malformed_json and
 * returns NULL when it is not one. */
json_t *sb_api__body_object(sb_http_req_t *req);
/* A POST with the API key and a JSON object body, or NULL once answered. */
json_t *sb_api__post_body(sb_api_t *api, sb_http_req_t *req);

/* The :id of a path shaped prefix + id + suffix, percent-decoded into out
 * and NUL-terminated (cap counts the NUL), its length in *n. False for
 * another shape, an empty id, a '/' in it before decoding, or a NUL or more
 * than cap - 1 bytes after. */
bool sb_api__path_id(sb_str_t path, sb_str_t prefix, sb_str_t suffix, char *out, size_t cap,
                     size_t *n);
/* A history page's ?before= (a message id; 0 when absent: from the newest)
 * and ?limit= (1..SB_STORE_MAX_HISTORY, default 50). False, with 422
 * answered, when either is malformed. */
bool sb_api__page_params(sb_http_req_t *req, int64_t *before, int *limit);
/* {<key>: id, messages: [each as `as_json` shows it], hasMore}: hasMore is
 * true for a full page (of `limit` messages). */
json_t *sb_api__page_json(const char *key, const char *id, const sb_store_msgs_t *page, int limit,
                          json_t *(*as_json)(const sb_store_msg_t *m));

/* calls.c: an HTTP request answered from a store completion: if the client goes
 * away meanwhile, `req` becomes NULL and the completion only cleans up. */
typedef struct {
    sb_api_t *api;
    sb_http_req_t *req;
    void *keyed; /* sb_api__keyed_t: the Idempotency-Key this call answers, if any */
    char extra[];
} sb_api_call_t;
/* NULL (500 answered) when out of memory. */
sb_api_call_t *sb_api__call_begin(sb_api_t *api, sb_http_req_t *req, size_t extra);
/* Answers with the status matching a store error (404, 409, 422, 503, 500). */
void sb_api__call_fail_store(sb_api_call_t *call, int rc);
void sb_api__call_respond(sb_api_call_t *call, int status, json_t *body);
void sb_api__call_end(sb_api_call_t *call);

/* "POST <path, cut> <body digest>" fits SB_STORE_MAX_ROOM */
#define SB_API_REQUEST_MAX 300
/* calls.c: a keyed request between the key lookup and its answer. */
typedef struct {
    sb_api_t *api;
    const sb_api__route_t *route;
    char key[SB_STORE_MAX_KEY + 1];
    char request[SB_API_REQUEST_MAX + 1];
} sb_api__keyed_t;

/* Frees `k`, and its key is no longer in flight. */
void sb_api__keyed_free(sb_api__keyed_t *k);
/* Serves `req` watching for its answer, which is remembered under k. */
void sb_api__keyed_watch(sb_http_req_t *req, sb_api__keyed_t *k);

/* A call answering a keyed request takes its key over from the request,
 * so the answer is remembered even when the client has gone meanwhile
 * (sb_api__call_begin does this). */
void sb_api__keyed_adopt(sb_api_call_t *call, sb_http_req_t *req);
/* The call's answer: remembered under its key when 2xx (body not stolen). */
void sb_api__keyed_answer(sb_api_call_t *call, int status, json_t *body);
/* The call failed or ended unanswered: its key is free again. */
void sb_api__keyed_forget(sb_api_call_t *call);
/* Before the api is freed: requests still being served forget it. */
void sb_api__keys_orphan(sb_api_t *api);

/* idempotency_api.c: routes `path` to fn(req, api) through the
 * Idempotency-Key check. */
int sb_api__route(sb_api_t *api, sb_http_server_t *http, const char *path, sb_http_handler_fn fn);

/* conversations_api.c: POST /api/conversations, GET /api/conversations/:id/messages */
int sb_api__register_conversations(sb_api_t *api, sb_http_server_t *http);
/* rooms_api.c: GET /api/rooms/:id/messages */
int sb_api__register_rooms(sb_api_t *api, sb_http_server_t *http);
/* backend.c: /api/emit, /api/broadcast, /api/users/:id/presence */
int sb_api__register_backend(sb_api_t *api, sb_http_server_t *http);
/* social_api.c: /api/notifications, /api/posts */
int sb_api__register_social(sb_api_t *api, sb_http_server_t *http);
/* live_api.c: POST /api/metrics/:name */
int sb_api__register_live(sb_api_t *api, sb_http_server_t *http);
/* admin_api.c: GET /api/admin/stream, POST /api/admin/disconnect */
int sb_api__register_admin(sb_api_t *api, sb_http_server_t *http);
/* Ends the dashboard streams (the api is going away). */
void sb_api__close_streams(sb_api_t *api);
/* dev_api.c: POST /api/dev/token */
int sb_api__register_dev(sb_api_t *api, sb_http_server_t *http);
/* cluster_api.c: POST /api/server-emit */
int sb_api__register_cluster(sb_api_t *api, sb_http_server_t *http);
/* sockets_api.c: GET /api/sockets; the rest is reached from rooms_api.c
 * (GET /api/rooms, POST /api/rooms/:room/join|leave|disconnect) and
 * backend.c (POST /api/emit with "ack"). */
int sb_api__register_sockets(sb_api_t *api, sb_http_server_t *http);
void sb_api__all_rooms(sb_api_t *api, sb_http_req_t *req);
void sb_api__room_op(sb_api_t *api, sb_http_req_t *req, const char *room, sb_str_t verb);
void sb_api__emit_with_acks(sb_api_t *api, sb_http_req_t *req, json_t *body);
/* {expected, answered}: the other nodes counted for a request, and how many
 * answered. */
json_t *sb_api__nodes_json(const sb_engine_result_t *r);

/* nodes_api.c: null on a node alone; else this node's id, its link to
 * Redis, the servers counted and the live Switchboard nodes with their
 * figures (the dashboard's `nodes`); /api/stats's `cluster`: the live
 * nodes, users online on any of them, their sockets and connections. */
json_t *sb_api__live_nodes_json(sb_api_t *api);
json_t *sb_api__cluster_stats(sb_api_t *api);

#endif
