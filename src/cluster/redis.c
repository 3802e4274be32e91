/* The Redis engine's connections: hiredis's asynchronous API driven by our
 * epoll loop (no thread, no blocking call), reconnection with backoff,
 * subscriptions per namespace, and the broadcast path in both directions.
 * Requests from other nodes are answered in requests.c. */
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cluster/cluster_internal.h"
#include "core/err.h"
#include "core/log.h"

#define SB_REDIS_BACKOFF_MIN_MS 100
#define SB_REDIS_BACKOFF_MAX_MS 5000
#define SB_CHANNEL_MAX 600

static void rconn_start(sb_rconn_t *rc);

/* ---- hiredis on our loop ----------------------------------------------------- */

static void io_update(sb_rconn_t *rc, uint32_t events) {
    if (events == rc->io_events)
        return;
    rc->io_events = events;
    sb_io_set(&rc->io, events);
}

static void ev_add_read(void *p) {
    sb_rconn_t *rc = p;
    io_update(rc, rc->io_events | EPOLLIN);
}
static void ev_del_read(void *p) {
    sb_rconn_t *rc = p;
    io_update(rc, rc->io_events & ~(uint32_t)EPOLLIN);
}
static void ev_add_write(void *p) {
    sb_rconn_t *rc = p;
    io_update(rc, rc->io_events | EPOLLOUT);
}
static void ev_del_write(void *p) {
    sb_rconn_t *rc = p;
    io_update(rc, rc->io_events & ~(uint32_t)EPOLLOUT);
}

/* hiredis frees the context after this: forget it. */
static void ev_cleanup(void *p) {
    sb_rconn_t *rc = p;
    io_update(rc, 0);
    rc->ac = NULL;
    rc->connected = false;
}

static void on_io(sb_io_t *io, uint32_t events) {
    sb_rconn_t *rc = sb_container_of(io, sb_rconn_t, io);
    if (rc->ac && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        redisAsyncHandleRead(rc->ac);
    if (rc->ac && (events & EPOLLOUT))
        redisAsyncHandleWrite(rc->ac);
}

/* ---- connection life --------------------------------------------------------- */

static void schedule_retry(sb_rconn_t *rc) {
    if (rc->cl->closing)
        return;
    sb_timer_start(&rc->retry, rc->backoff_ms);
    rc->backoff_ms =
        rc->backoff_ms * 2 > SB_REDIS_BACKOFF_MAX_MS ? SB_REDIS_BACKOFF_MAX_MS : rc->backoff_ms * 2;
}

/* stats.up means "subscribed"; the publisher's state is read where needed. */
static void set_down(sb_rconn_t *rc) {
    if (rc->cl->stats.up || (!rc->is_sub && rc->ever_connected && rc->connected))
        sb_log_warn("cluster: Redis unreachable: local delivery goes on, publications are "
                    "dropped and other nodes' are missed until it is back");
    if (rc->is_sub)
        rc->cl->stats.up = false;
}

static void on_retry(sb_timer_t *t) {
    sb_rconn_t *rc = sb_container_of(t, sb_rconn_t, retry);
    if (rc->ac && !rc->connected) { /* the connect took too long */
        sb_log_warn("cluster: Redis %s: connect timed out", rc->name);
        redisAsyncFree(rc->ac);
        schedule_retry(rc);
        return;
    }
    if (!rc->ac)
        rconn_start(rc);
}

static void on_connect(const redisAsyncContext *ac, int status) {
    sb_rconn_t *rc = ac->data;
    if (status != REDIS_OK) {
        sb_log_debug("cluster: Redis %s: connect failed: %s", rc->name, ac->errstr);
        set_down(rc);
        schedule_retry(rc); /* hiredis frees the context after this */
        return;
    }
    sb_timer_stop(&rc->retry);
    rc->connected = true;
    rc->backoff_ms = SB_REDIS_BACKOFF_MIN_MS;
    if (rc->ever_connected)
        rc->cl->stats.reconnects++;
    rc->ever_connected = true;
    sb_log_info("cluster: Redis %s connected to %s:%d", rc->name, rc->cl->url.host,
                rc->cl->url.port);
    if (!rc->is_sub)
        sb_cluster__nodes_on_connect(rc->cl);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    sb_rconn_t *rc = ac->data;
    rc->connected = false;
    if (rc->cl->closing)
        return;
    sb_cluster__nodes_down(rc->cl, rc->is_sub);
    sb_log_warn("cluster: Redis %s disconnected: %s", rc->name,
                status == REDIS_OK ? "closed" : ac->errstr);
    set_down(rc);
    schedule_retry(rc);
}

static void on_auth(redisAsyncContext *ac, void *r, void *ud) {
    redisReply *reply = r;
    sb_rconn_t *rc = ud;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        sb_log_error("cluster: Redis %s refused the credentials: %.*s", rc->name, (int)reply->len,
                     reply->str);
}

static void subscribe_nsp(sb_cluster_t *cl, size_t i);

static void rconn_start(sb_rconn_t *rc) {
    sb_cluster_t *cl = rc->cl;
    redisAsyncContext *ac = redisAsyncConnect(cl->url.host, cl->url.port);
    if (!ac || ac->err) {
        sb_log_debug("cluster: Redis %s: %s", rc->name, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        set_down(rc);
        schedule_retry(rc);
        return;
    }
    rc->ac = ac;
    ac->data = rc;
    ac->ev.data = rc;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    rc->io_events = 0;
    sb_io_init(cl->loop, &rc->io, ac->c.fd, on_io);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (cl->url.password[0] && cl->url.user[0])
        redisAsyncCommand(ac, on_auth, rc, "AUTH %s %s", cl->url.user, cl->url.password);
    else if (cl->url.password[0])
        redisAsyncCommand(ac, on_auth, rc, "AUTH %s", cl->url.password);
    if (rc->is_sub) {
        cl->sub_pending = 0;
        for (size_t i = 0; i < cl->nnsps; i++)
            subscribe_nsp(cl, i);
        sb_cluster__nodes_subscribe(cl);
    }
    sb_timer_start(&rc->retry, cl->connect_timeout_ms);
}

/* ---- publishing -------------------------------------------------------------- */

static void engine_publish(sb_engine_t *e, const sb_engine_broadcast_t *b) {
    sb_cluster_t *cl = (sb_cluster_t *)e;
    if (!cl->pub.connected) {
        cl->stats.publish_dropped++;
        return;
    }
    char channel[SB_CHANNEL_MAX];
    size_t chn = sb_wire_channel(channel, sizeof channel, sb_cstr(cl->key), b->nsp,
                                 b->to.nrooms == 1 ? &b->to.rooms[0] : NULL);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    int rc = chn ? sb_wire_encode_broadcast(&buf, sb_cstr(cl->uid), b) : SB_ETOOBIG;
    if (rc == SB_OK)
        sb_cluster__publish(cl, channel, chn, buf.data, buf.size);
    else
        cl->stats.publish_dropped++;
    msgpack_sbuffer_destroy(&buf);
}

/* ---- subscriptions and incoming messages ------------------------------------- */

static void on_broadcast(sb_cluster_t *cl, size_t i, sb_str_t channel, const char *p, size_t n) {
    sb_str_t nsp = sb_cstr(cl->nsps[i]), room;
    if (!sb_wire_parse_channel(channel, sb_cstr(cl->key), nsp, &room))
        return;
    sb_wire_msg_t *m = cl->msg;
    int rc = sb_wire_decode_broadcast(p, n, m);
    if (rc != SB_OK) {
        sb_cluster__log_bad(cl, "broadcast", rc);
    } else if (sb_str_eq(m->uid, sb_cstr(cl->uid)) || !sb_str_eq(m->nsp, nsp)) {
        cl->stats.ignored++; /* our own, or another namespace's */
    } else {
        sb_engine_broadcast_t b = {.nsp = nsp,
                                   .event = m->event,
                                   .args = sb_str(m->args, m->args_n),
                                   .attachments = m->atts,
                                   .nattachments = m->natts,
                                   .to = {m->rooms, m->nrooms, m->except, m->nexcept},
                                   .is_volatile = m->is_volatile,
                                   .compress = m->compress};
        cl->stats.delivered_remote++;
        cl->host.deliver(cl->host.ud, &b);
    }
    sb_wire_msg_dispose(m);
}

static bool reply_str(const redisReply *r, sb_str_t *out) {
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS))
        return false;
    *out = sb_str(r->str, r->len);
    return true;
}

static void on_sub_message(redisAsyncContext *ac, void *r, void *ud) {
    redisReply *reply = r;
    sb_cluster_t *cl = ((sb_rconn_t *)ac->data)->cl;
    size_t i = (size_t)(uintptr_t)ud >> 1;
    bool response = (uintptr_t)ud & 1;
    sb_str_t kind, channel, payload;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        !reply_str(reply->element[0], &kind) || i >= cl->nnsps)
        return;
    if (sb_str_eq(kind, SB_LIT("subscribe")) || sb_str_eq(kind, SB_LIT("psubscribe"))) {
        if (cl->sub_pending && --cl->sub_pending == 0) {
            cl->stats.up = true;
            sb_log_info("cluster: subscribed on Redis as node %s", cl->uid);
        }
        return;
    }
    cl->stats.received++;
    if (sb_str_eq(kind, SB_LIT("pmessage")) && reply->elements == 4 &&
        reply_str(reply->element[2], &channel) && reply_str(reply->element[3], &payload))
        on_broadcast(cl, i, channel, payload.p, payload.n);
    else if (sb_str_eq(kind, SB_LIT("message")) && reply_str(reply->element[2], &payload))
        response ? sb_cluster__on_response(cl, payload.p, payload.n)
                 : sb_cluster__on_request(cl, i, payload.p, payload.n);
}

/* Glob-escapes a namespace for PSUBSCRIBE. */
static size_t glob_escape(char *out, size_t cap, sb_str_t s) {
    size_t w = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (w + 2 >= cap)
            return 0;
        if (strchr("*?[]\\", s.p[i]))
            out[w++] = '\\';
        out[w++] = s.p[i];
    }
    out[w] = '\0';
    return w;
}

static void subscribe_nsp(sb_cluster_t *cl, size_t i) {
    redisAsyncContext *ac = cl->sub.ac;
    char esc[SB_CHANNEL_MAX], pattern[SB_CHANNEL_MAX * 2], req[SB_CHANNEL_MAX], res[SB_CHANNEL_MAX];
    if (!ac || !glob_escape(esc, sizeof esc, sb_cstr(cl->nsps[i])))
        return;
    int pn = snprintf(pattern, sizeof pattern, "%s#%s#*", cl->key, esc);
    size_t rn = sb_wire_request_channel(req, sizeof req, sb_cstr(cl->key), sb_cstr(cl->nsps[i]));
    size_t sn =
        sb_wire_response_channel(res, sizeof res, sb_cstr(cl->key), sb_cstr(cl->nsps[i]), NULL);
    if (pn <= 0 || (size_t)pn >= sizeof pattern || !rn || !sn)
        return;
    void *ud = (void *)(uintptr_t)(i << 1);
    if (redisAsyncCommand(ac, on_sub_message, ud, "PSUBSCRIBE %b", pattern, (size_t)pn) == REDIS_OK)
        cl->sub_pending++;
    if (redisAsyncCommand(ac, on_sub_message, ud, "SUBSCRIBE %b", req, rn) == REDIS_OK)
        cl->sub_pending++;
    /* answers to this node's requests (asks.c) */
    if (redisAsyncCommand(ac, on_sub_message, (void *)(uintptr_t)(i << 1 | 1), "SUBSCRIBE %b", res,
                          sn) == REDIS_OK)
        cl->sub_pending++;
}

static void engine_watch_nsp(sb_engine_t *e, sb_str_t nsp) {
    sb_cluster_t *cl = (sb_cluster_t *)e;
    for (size_t i = 0; i < cl->nnsps; i++)
        if (sb_str_eq(sb_cstr(cl->nsps[i]), nsp))
            return;
    char **v = realloc(cl->nsps, sizeof *v * (cl->nnsps + 1));
    if (!v)
        return;
    cl->nsps = v;
    if (!(v[cl->nnsps] = strndup(nsp.p, nsp.n)))
        return;
    cl->nnsps++;
    if (cl->sub.ac) {         /* else subscribed on connect */
        cl->stats.up = false; /* until this namespace's subscriptions are confirmed */
        subscribe_nsp(cl, cl->nnsps - 1);
    }
}

static void engine_stats(const sb_engine_t *e, sb_engine_stats_t *out) {
    const sb_cluster_t *cl = (const sb_cluster_t *)e;
    *out = cl->stats;
    out->up = cl->stats.up && cl->pub.connected && cl->sub.connected;
    out->queued_bytes = cl->pub.ac ? sdslen(cl->pub.ac->c.obuf) : 0;
    out->dead_nodes_cleaned = cl->nodes.cleaned;
    out->relayed_out = cl->nodes.relayed_out;
    out->relayed_in = cl->nodes.relayed_in;
}

/* ---- counting the nodes --------------------------------------------------------
 * Every server of the cluster (Switchboard or @socket.io/redis-adapter)
 * subscribes to the request channel of "/": the number of subscribers Redis
 * reports is the number of servers, as the adapter's serverCount() counts. */

#define SB_CLUSTER_COUNT_EVERY_MS 1000

static void on_numsub(redisAsyncContext *ac, void *r, void *ud) {
    (void)ud;
    redisReply *reply = r; /* NULL when the connection closes */
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[1]->type != REDIS_REPLY_INTEGER || reply->element[1]->integer < 0)
        return;
    sb_cluster_t *cl = ((sb_rconn_t *)ac->data)->cl;
    cl->stats.nodes = (uint64_t)reply->element[1]->integer;
}

static void on_count_nodes(sb_timer_t *t) {
    sb_cluster_t *cl = sb_container_of(t, sb_cluster_t, count_nodes);
    char req[SB_CHANNEL_MAX];
    size_t rn = sb_wire_request_channel(req, sizeof req, sb_cstr(cl->key), SB_LIT("/"));
    if (rn && cl->pub.ac && cl->pub.connected)
        redisAsyncCommand(cl->pub.ac, on_numsub, NULL, "PUBSUB NUMSUB %b", req, rn);
    sb_timer_start(t, SB_CLUSTER_COUNT_EVERY_MS);
}

static bool engine_device(sb_engine_t *e, sb_str_t user, int delta) {
    return sb_cluster__device((sb_cluster_t *)e, user, delta);
}

static void engine_relay(sb_engine_t *e, const sb_engine_delivery_t *d) {
    sb_cluster__relay((sb_cluster_t *)e, d);
}

static char *engine_nodes_json(const sb_engine_t *e) {
    return sb_cluster__nodes_json((const sb_cluster_t *)e);
}

static const sb_engine_ops_t redis_ops = {.publish = engine_publish,
                                          .watch_nsp = engine_watch_nsp,
                                          .stats = engine_stats,
                                          .server_emit = sb_cluster__server_emit,
                                          .fetch_sockets = sb_cluster__fetch_sockets,
                                          .all_rooms = sb_cluster__all_rooms,
                                          .sockets_op = sb_cluster__sockets_op,
                                          .broadcast_with_acks = sb_cluster__broadcast_with_acks,
                                          .device = engine_device,
                                          .relay = engine_relay,
                                          .nodes_json = engine_nodes_json};

/* ---- create / destroy --------------------------------------------------------- */

static void rconn_init(sb_cluster_t *cl, sb_rconn_t *rc, bool is_sub) {
    rc->cl = cl;
    rc->is_sub = is_sub;
    rc->name = is_sub ? "subscriber" : "publisher";
    rc->backoff_ms = SB_REDIS_BACKOFF_MIN_MS;
    sb_timer_init(cl->loop, &rc->retry, on_retry);
}

static void make_uid(char out[7]) {
    static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint8_t raw[6];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        abort(); /* two nodes with one uid would drop each other's messages */
    for (int i = 0; i < 6; i++)
        out[i] = abc[raw[i] % 62];
    out[6] = '\0';
}

sb_cluster_t *sb_cluster_create(sb_loop_t *loop, const sb_cluster_config_t *cfg,
                                const sb_engine_host_t *host, char *err, size_t cap) {
    sb_cluster_t *cl = calloc(1, sizeof *cl);
    if (!cl || !(cl->msg = malloc(sizeof *cl->msg))) {
        snprintf(err, cap, "out of memory");
        free(cl);
        return NULL;
    }
    if (sb_cluster_parse_url(cfg->url, &cl->url) != SB_OK) {
        snprintf(err, cap,
                 "--redis-url: expected redis://[[user]:password@]host[:port][/db], got '%s'",
                 cfg->url);
        free(cl->msg);
        free(cl);
        return NULL;
    }
    const char *key = cfg->key && cfg->key[0] ? cfg->key : "socket.io";
    snprintf(cl->key, sizeof cl->key, "%s", key);
    cl->engine.ops = &redis_ops;
    cl->loop = loop;
    cl->host = *host;
    cl->max_queue = cfg->max_queue_bytes ? cfg->max_queue_bytes : 16u << 20;
    cl->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 5000;
    sb_list_init(&cl->acks);
    sb_list_init(&cl->asks);
    make_uid(cl->uid);
    rconn_init(cl, &cl->pub, false);
    rconn_init(cl, &cl->sub, true);
    sb_cluster__nodes_init(cl, cfg->node_timeout_ms);
    rconn_start(&cl->pub);
    rconn_start(&cl->sub);
    cl->stats.node_id = cl->uid;
    sb_timer_init(loop, &cl->count_nodes, on_count_nodes);
    sb_timer_start(&cl->count_nodes, SB_CLUSTER_COUNT_EVERY_MS);
    return cl;
}

static void rconn_dispose(sb_rconn_t *rc) {
    sb_timer_stop(&rc->retry);
    if (rc->ac)
        redisAsyncFree(rc->ac); /* pending callbacks get NULL replies */
}

void sb_cluster_destroy(sb_cluster_t *cl) {
    if (!cl)
        return;
    sb_cluster__nodes_leave(cl); /* before closing: it still writes */
    cl->closing = true;
    sb_timer_stop(&cl->count_nodes);
    rconn_dispose(&cl->pub); /* NUMSUB replies still awaited end their asks */
    rconn_dispose(&cl->sub);
    sb_cluster__asks_end(cl);
    sb_cluster__acks_orphan(cl);
    for (size_t i = 0; i < cl->nnsps; i++)
        free(cl->nsps[i]);
    free(cl->nsps);
    free(cl->msg);
    free(cl);
}

sb_engine_t *sb_cluster_engine(sb_cluster_t *cl) { return &cl->engine; }
const char *sb_cluster_uid(const sb_cluster_t *cl) { return cl->uid; }

/* ---- URL --------------------------------------------------------------------- */

static int parse_userinfo(const char *p, size_t n, sb_cluster_url_t *out) {
    const char *colon = memchr(p, ':', n);
    size_t un = colon ? (size_t)(colon - p) : 0;
    const char *pw = colon ? colon + 1 : p;
    size_t pn = n - (size_t)(pw - p);
    if (un >= sizeof out->user || pn >= sizeof out->password)
        return SB_EINVAL;
    memcpy(out->user, p, un);
    out->user[un] = '\0';
    memcpy(out->password, pw, pn);
    out->password[pn] = '\0';
    return SB_OK;
}

static int parse_port(const char *p, size_t n, int *port) {
    if (n == 0 || n > 5)
        return SB_EINVAL;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return SB_EINVAL;
        v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return SB_EINVAL;
    *port = v;
    return SB_OK;
}

int sb_cluster_parse_url(const char *url, sb_cluster_url_t *out) {
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (!url || strncmp(url, "redis://", 8) != 0)
        return SB_EINVAL;
    const char *p = url + 8, *end = p + strlen(p);
    const char *slash = strchr(p, '/');
    const char *auth_end = end;
    if (slash)
        auth_end = slash;
    const char *at = memrchr(p, '@', (size_t)(auth_end - p));
    if (at) {
        if (parse_userinfo(p, (size_t)(at - p), out) != SB_OK)
            return SB_EINVAL;
        p = at + 1;
    }
    const char *hend = slash ? slash : end;
    const char *colon = NULL;
    if (*p == '[') { /* [IPv6]:port */
        const char *close = memchr(p, ']', (size_t)(hend - p));
        if (!close)
            return SB_EINVAL;
        colon = close + 1 < hend && close[1] == ':' ? close + 1 : NULL;
        if (close + 1 != hend && !colon)
            return SB_EINVAL;
        if ((size_t)(close - p - 1) >= sizeof out->host)
            return SB_EINVAL;
        memcpy(out->host, p + 1, (size_t)(close - p - 1));
    } else {
        colon = memrchr(p, ':', (size_t)(hend - p));
        size_t hn = (size_t)((colon ? colon : hend) - p);
        if (hn >= sizeof out->host)
            return SB_EINVAL;
        memcpy(out->host, p, hn);
    }
    if (!out->host[0] ||
        (colon && parse_port(colon + 1, (size_t)(hend - colon - 1), &out->port) != SB_OK))
        return SB_EINVAL;
    if (slash && slash[1]) {
        char *e;
        long db = strtol(slash + 1, &e, 10);
        if (*e || db < 0 || db > 1000000)
            return SB_EINVAL;
        out->db = (int)db;
    }
    return SB_OK;
}
