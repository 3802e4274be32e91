/* Switchboard nodes in Redis: heartbeats, presence counted across nodes,
 * the cleanup of a dead node, and stored deliveries relayed to the node
 * that holds the recipient's devices (docs/cluster.md, "Presence").
 *
 * Keys under P = "<key>-sb:" (only Switchboard nodes read them):
 *   P nodes          hash  node uid -> wall ms of its last heartbeat
 *   P node:<uid>     string, TTL = --cluster-node-timeout: the node's figures
 *   P dev:<uid>      hash  user -> devices connected to that node
 *   P users          hash  user -> devices across the cluster (> 0 only)
 *   P presence       channel "+<user>" / "-<lastSeenMs> <user>"
 *   P deliver        channel "<uid> <stream> <id>/<prev>/<store> <user>\n<json>"
 * Every change runs as one Lua script, so counts and transitions are
 * atomic: a transition is published exactly once, however many nodes race,
 * and a dead node (its node:<uid> key expired) is cleaned by exactly the
 * one script that removes it from `nodes`. */
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_internal.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/sha1.h"

#define SB_NODES_DEFAULT_TIMEOUT_MS 10000
#define SB_NODES_LEAVE_FLUSH_MS 500

/* Lua: the counting and the cleanup every script shares. */
#define LUA_COMMON                                                                                 \
    "local p = KEYS[1]\n"                                                                          \
    "local users, ch = p .. 'users', p .. 'presence'\n"                                            \
    "local function count(u, d, now)\n"                                                            \
    "  local t = redis.call('HINCRBY', users, u, d)\n"                                             \
    "  if t <= 0 then\n"                                                                           \
    "    redis.call('HDEL', users, u)\n"                                                           \
    "    if t - d > 0 then redis.call('PUBLISH', ch, '-' .. now .. ' ' .. u) end\n"                \
    "  elseif t - d <= 0 then redis.call('PUBLISH', ch, '+' .. u) end\n"                           \
    "  return t\n"                                                                                 \
    "end\n"                                                                                        \
    "local function clean(id, last)\n"                                                             \
    "  redis.call('HDEL', p .. 'nodes', id)\n"                                                     \
    "  redis.call('DEL', p .. 'node:' .. id)\n"                                                    \
    "  local dev = p .. 'dev:' .. id\n"                                                            \
    "  local old = redis.call('HGETALL', dev)\n"                                                   \
    "  for j = 1, #old, 2 do count(old[j], -tonumber(old[j + 1]), last) end\n"                     \
    "  redis.call('DEL', dev)\n"                                                                   \
    "end\n"

/* ARGV: uid, now, ttl, figures, then user, devices pairs: this node's whole
 * state, replacing what Redis had of it (first connect, reconnect, after
 * being cleaned as dead). */
static const char lua_sync[] =
    LUA_COMMON "local uid, now = ARGV[1], ARGV[2]\n"
               "local dev = p .. 'dev:' .. uid\n"
               "local delta = {}\n"
               "local old = redis.call('HGETALL', dev)\n"
               "for i = 1, #old, 2 do delta[old[i]] = -tonumber(old[i + 1]) end\n"
               "redis.call('DEL', dev)\n"
               "for i = 5, #ARGV, 2 do\n"
               "  local u, n = ARGV[i], tonumber(ARGV[i + 1])\n"
               "  delta[u] = (delta[u] or 0) + n\n"
               "  redis.call('HSET', dev, u, n)\n"
               "end\n"
               "for u, d in pairs(delta) do if d ~= 0 then count(u, d, now) end end\n"
               "redis.call('HSET', p .. 'nodes', uid, now)\n"
               "redis.call('SET', p .. 'node:' .. uid, ARGV[4], 'PX', ARGV[3])\n"
               "return 1\n";

/* ARGV: uid, user, delta, now. -1 when this node is not registered (it was
 * cleaned as dead): its next heartbeat registers its whole state again. */
static const char lua_device[] =
    LUA_COMMON "local uid, u, d, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]\n"
               "if redis.call('HEXISTS', p .. 'nodes', uid) == 0 then return -1 end\n"
               "local dev = p .. 'dev:' .. uid\n"
               "local n = redis.call('HINCRBY', dev, u, d)\n"
               "if n <= 0 then redis.call('HDEL', dev, u); d = d - n end\n"
               "return count(u, d, now)\n";

/* ARGV: uid, now, ttl, figures. Refreshes this node (when registered),
 * cleans every node whose heartbeat expired, and answers {registered,
 * cleaned, then id, figures, last heartbeat for each live node}. */
static const char lua_beat[] =
    LUA_COMMON "local uid, now = ARGV[1], ARGV[2]\n"
               "local known = redis.call('HEXISTS', p .. 'nodes', uid)\n"
               "if known == 1 then\n"
               "  redis.call('HSET', p .. 'nodes', uid, now)\n"
               "  redis.call('SET', p .. 'node:' .. uid, ARGV[4], 'PX', ARGV[3])\n"
               "end\n"
               "local out = {known, 0}\n"
               "local all = redis.call('HGETALL', p .. 'nodes')\n"
               "for i = 1, #all, 2 do\n"
               "  local fig = redis.call('GET', p .. 'node:' .. all[i])\n"
               "  if fig then\n"
               "    out[#out + 1] = all[i]; out[#out + 1] = fig; out[#out + 1] = all[i + 1]\n"
               "  else\n"
               "    clean(all[i], all[i + 1]); out[2] = out[2] + 1\n"
               "  end\n"
               "end\n"
               "return out\n";

/* ARGV: uid, now. A node leaving on purpose: its users go offline now. */
static const char lua_leave[] = LUA_COMMON "clean(ARGV[1], ARGV[2])\n"
                                           "return 1\n";

static const char *const scripts[SB_NODES_SCRIPTS] = {lua_sync, lua_device, lua_beat, lua_leave};
enum { SCRIPT_SYNC, SCRIPT_DEVICE, SCRIPT_BEAT, SCRIPT_LEAVE };

static void sha1_hex(const char *text, char out[41]) {
    uint8_t md[SB_SHA1_BYTES];
    sb_sha1(text, strlen(text), md);
    sb_hex_encode(md, sizeof md, out);
}

static size_t name(const sb_cluster_t *cl, char *out, size_t cap, const char *what) {
    int n = snprintf(out, cap, "%s-sb:%s", cl->key, what);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ---- this node's figures ------------------------------------------------------- */

static char *figures(sb_cluster_t *cl) {
    char *f = cl->host.node_figures ? cl->host.node_figures(cl->host.ud) : NULL;
    return f ? f : strdup("{}");
}

/* ---- scripts on the publisher ------------------------------------------------------ */

static bool pub_ready(const sb_cluster_t *cl) { return cl->pub.ac && cl->pub.connected; }

static void on_script_reply(redisAsyncContext *ac, void *r, void *ud) {
    redisReply *reply = r;
    if (!reply || reply->type != REDIS_REPLY_ERROR)
        return;
    sb_cluster_t *cl = ((sb_rconn_t *)ac->data)->cl;
    sb_log_warn("cluster: Redis refused a presence script (%s): %.*s", (const char *)ud,
                (int)reply->len, reply->str);
    if (strncmp(reply->str, "NOSCRIPT", 8) == 0) /* flushed: load again, register again */
        cl->nodes.loaded = cl->nodes.registered = false;
}

static void load_scripts(sb_cluster_t *cl) {
    for (int i = 0; i < SB_NODES_SCRIPTS; i++)
        redisAsyncCommand(cl->pub.ac, on_script_reply, "load", "SCRIPT LOAD %s", scripts[i]);
    cl->nodes.loaded = true;
}

typedef struct {
    const char **argv;
    size_t *lens;
    size_t n, cap;
    char *nums;   /* device counts as text, 11 bytes each */
    size_t nnums; /* room for that many */
    bool oom;
} argv_t;

#define SB_SYNC_HEAD 8 /* EVALSHA sha 1 prefix uid now ttl figures */

static void argv_push(argv_t *a, const char *s, size_t n) {
    if (a->n == a->cap) {
        a->oom = true;
        return;
    }
    a->argv[a->n] = s;
    a->lens[a->n++] = n;
}

/* A pair (user, devices); the users' ids are borrowed: hiredis formats the
 * whole command before the visit's strings could change. */
static bool add_user(sb_str_t user, uint32_t devices, void *ud) {
    argv_t *a = ud;
    size_t slot = (a->n - SB_SYNC_HEAD) / 2;
    if (slot >= a->nnums || a->n + 2 > a->cap) {
        a->oom = true; /* more users than counted: the next sync has them */
        return false;
    }
    char *num = a->nums + slot * 11;
    snprintf(num, 11, "%u", devices);
    argv_push(a, user.p, user.n);
    argv_push(a, num, strlen(num));
    return true;
}

static bool count_visit(sb_str_t user, uint32_t devices, void *ud) {
    (void)user, (void)devices;
    ++*(size_t *)ud;
    return true;
}

static void on_sync(redisAsyncContext *ac, void *r, void *ud) {
    redisReply *reply = r;
    if (!reply || reply->type != REDIS_REPLY_ERROR)
        return;
    on_script_reply(ac, r, ud);
    ((sb_rconn_t *)ac->data)->cl->nodes.registered = false; /* the next heartbeat tries again */
}

/* Registers this node with all its users' devices, replacing what Redis
 * had of it. The argument list holds every local user: one command,
 * atomic, so nobody sees a user flap offline and online again. */
static void sync_node(sb_cluster_t *cl) {
    size_t users = 0;
    if (cl->host.local_users)
        cl->host.local_users(cl->host.ud, count_visit, &users);
    argv_t a = {.cap = SB_SYNC_HEAD + 2 * users, .nnums = users};
    a.argv = malloc(a.cap * sizeof *a.argv);
    a.lens = malloc(a.cap * sizeof *a.lens);
    a.nums = malloc(11 * (users + 1));
    char now[24], ttl[16], prefix[160];
    char *fig = figures(cl);
    snprintf(now, sizeof now, "%lld", (long long)sb_wall_ms());
    snprintf(ttl, sizeof ttl, "%u", cl->nodes.timeout_ms);
    bool ok = a.argv && a.lens && a.nums && fig && name(cl, prefix, sizeof prefix, "");
    if (ok) {
        const char *head[SB_SYNC_HEAD] = {
            "EVALSHA", cl->nodes.sha[SCRIPT_SYNC], "1", prefix, cl->uid, now, ttl, fig};
        for (size_t i = 0; i < SB_SYNC_HEAD; i++)
            argv_push(&a, head[i], strlen(head[i]));
        if (cl->host.local_users)
            cl->host.local_users(cl->host.ud, add_user, &a);
        ok = !a.oom || a.n > SB_SYNC_HEAD; /* a short list still registers */
    }
    if (ok &&
        redisAsyncCommandArgv(cl->pub.ac, on_sync, "sync", (int)a.n, a.argv, a.lens) == REDIS_OK)
        cl->nodes.registered = true;
    else
        sb_log_warn("cluster: cannot register this node's presence in Redis (out of memory)");
    free(a.argv);
    free(a.lens);
    free(a.nums);
    free(fig);
}

/* ---- devices --------------------------------------------------------------------- */

bool sb_cluster__device(sb_cluster_t *cl, sb_str_t user, int delta) {
    if (!pub_ready(cl) || !cl->nodes.registered)
        return false;
    char prefix[160], d[8], now[24];
    snprintf(d, sizeof d, "%d", delta);
    snprintf(now, sizeof now, "%lld", (long long)sb_wall_ms());
    if (!name(cl, prefix, sizeof prefix, ""))
        return false;
    return redisAsyncCommand(cl->pub.ac, on_script_reply, "device", "EVALSHA %s 1 %s %s %b %s %s",
                             cl->nodes.sha[SCRIPT_DEVICE], prefix, cl->uid, user.p, user.n, d,
                             now) == REDIS_OK;
}

/* ---- heartbeats ------------------------------------------------------------------- */

static json_t *node_json(const redisReply *id, const redisReply *fig, const redisReply *last,
                         const sb_cluster_t *cl, int64_t now) {
    json_t *f = json_loadb(fig->str, fig->len, 0, NULL);
    long long at = strtoll(last->str, NULL, 10);
    return json_pack("{s:s%,s:b,s:I,s:o}", "id", id->str, id->len, "self",
                     id->len == strlen(cl->uid) && memcmp(id->str, cl->uid, id->len) == 0,
                     "heartbeatAgeMs", (json_int_t)(now > at ? now - at : 0), "figures",
                     f ? f : json_object());
}

static bool is_str(const redisReply *r) { return r && r->type == REDIS_REPLY_STRING; }

static void on_beat(redisAsyncContext *ac, void *r, void *ud) {
    redisReply *reply = r;
    if (!reply)
        return;
    sb_cluster_t *cl = ((sb_rconn_t *)ac->data)->cl;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER) {
        on_script_reply(ac, r, ud);
        return;
    }
    if (reply->element[0]->integer == 0 && cl->nodes.registered) {
        sb_log_warn("cluster: this node was taken for dead by the others (no heartbeat for "
                    "%u ms): registering its users again",
                    cl->nodes.timeout_ms);
        sync_node(cl);
    }
    cl->nodes.cleaned += (uint64_t)reply->element[1]->integer;
    if (reply->element[1]->integer > 0)
        sb_log_info("cluster: cleaned the presence of %lld node(s) whose heartbeat stopped",
                    reply->element[1]->integer);
    json_t *live = json_array();
    int64_t now = sb_wall_ms();
    for (size_t i = 2; i + 2 < reply->elements; i += 3) {
        const redisReply *id = reply->element[i], *fig = reply->element[i + 1],
                         *last = reply->element[i + 2];
        if (is_str(id) && is_str(fig) && is_str(last))
            json_array_append_new(live, node_json(id, fig, last, cl, now));
    }
    char *text = json_dumps(live, JSON_COMPACT);
    json_decref(live);
    if (text) {
        free(cl->nodes.live);
        cl->nodes.live = text;
    }
}

static void on_heartbeat(sb_timer_t *t) {
    sb_cluster_t *cl = sb_container_of(t, sb_cluster_t, nodes.heartbeat);
    sb_timer_start(t, cl->nodes.every_ms);
    if (!pub_ready(cl))
        return;
    if (!cl->nodes.loaded)
        load_scripts(cl);
    if (!cl->nodes.registered) {
        sync_node(cl);
        return;
    }
    char prefix[160], now[24], ttl[16];
    char *fig = figures(cl);
    snprintf(now, sizeof now, "%lld", (long long)sb_wall_ms());
    snprintf(ttl, sizeof ttl, "%u", cl->nodes.timeout_ms);
    if (fig && name(cl, prefix, sizeof prefix, ""))
        redisAsyncCommand(cl->pub.ac, on_beat, "beat", "EVALSHA %s 1 %s %s %s %s %s",
                          cl->nodes.sha[SCRIPT_BEAT], prefix, cl->uid, now, ttl, fig);
    free(fig);
}

/* The publisher (re)connected: scripts, this node's state, at once. */
void sb_cluster__nodes_on_connect(sb_cluster_t *cl) {
    cl->nodes.loaded = cl->nodes.registered = false;
    load_scripts(cl);
    sync_node(cl);
    on_heartbeat(&cl->nodes.heartbeat); /* the list of nodes, without waiting */
    sb_cluster__nodes_bootstrap(cl);
}

/* ---- presence and deliveries from the channels ------------------------------------ */

#define HEARD_ONLINE ((void *)1)
#define HEARD_OFFLINE ((void *)2)

/* The changes heard while the online users were asked, applied again over
 * the answer: the channel and the answer come on two connections, so a
 * change Redis made after it answered can be read here before the answer
 * (and the answer alone would undo it until the user's next change). Each
 * change carries the state it leads to: the last one heard per user wins. */
static bool apply_heard(sb_str_t user, void *value, void *ud) {
    sb_cluster_t *cl = ud;
    cl->host.presence(cl->host.ud, user, value == HEARD_ONLINE, 0, false);
    return true;
}

static void stop_hearing(sb_cluster_t *cl) {
    sb_map_dispose(&cl->nodes.heard);
    sb_map_init(&cl->nodes.heard);
    cl->nodes.asking = cl->nodes.heard_lost = false;
}

static void on_users(redisAsyncContext *ac, void *r, void *ud) {
    redisReply *reply = r;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return;
    sb_cluster_t *cl = ((sb_rconn_t *)ac->data)->cl;
    if (!cl->nodes.asking || (uint32_t)(uintptr_t)ud != cl->nodes.asked)
        return; /* a later read follows: its answer is newer */
    bool lost = cl->nodes.heard_lost;
    if (cl->host.presence && cl->host.presence_rebuild) {
        cl->host.presence_rebuild(cl->host.ud, true);
        for (size_t i = 0; i < reply->elements; i++)
            if (is_str(reply->element[i]))
                cl->host.presence(cl->host.ud,
                                  sb_str(reply->element[i]->str, reply->element[i]->len), true, 0,
                                  false);
        sb_map_foreach(&cl->nodes.heard, apply_heard, cl);
        cl->host.presence_rebuild(cl->host.ud, false);
    }
    stop_hearing(cl);
    if (lost) { /* out of memory meanwhile: ask again */
        cl->nodes.bootstrapped = false;
        sb_cluster__nodes_bootstrap(cl);
    }
}

/* Once both connections are up and the presence channel is subscribed:
 * who is online now. Changes from here on arrive on the channel, before
 * the answer or after it (on_users). */
void sb_cluster__nodes_bootstrap(sb_cluster_t *cl) {
    char key[160];
    if (cl->nodes.bootstrapped || !cl->nodes.subscribed || !pub_ready(cl) ||
        !name(cl, key, sizeof key, "users"))
        return;
    uint32_t asked = cl->nodes.asked + 1;
    if (redisAsyncCommand(cl->pub.ac, on_users, (void *)(uintptr_t)asked, "HKEYS %s", key) !=
        REDIS_OK)
        return;
    stop_hearing(cl);
    cl->nodes.asked = asked;
    cl->nodes.asking = cl->nodes.bootstrapped = true;
}

static void heard(sb_cluster_t *cl, sb_str_t user, bool online, int64_t last_seen_ms) {
    if (cl->nodes.asking &&
        sb_map_put(&cl->nodes.heard, user, online ? HEARD_ONLINE : HEARD_OFFLINE) != SB_OK)
        cl->nodes.heard_lost = true;
    cl->host.presence(cl->host.ud, user, online, last_seen_ms, true);
}

static void on_presence(sb_cluster_t *cl, sb_str_t m) {
    if (!cl->host.presence || m.n < 2)
        return;
    if (m.p[0] == '+') {
        heard(cl, sb_str(m.p + 1, m.n - 1), true, 0);
        return;
    }
    const char *sp = memchr(m.p, ' ', m.n);
    if (m.p[0] != '-' || !sp || sp + 1 == m.p + m.n) {
        sb_cluster__log_bad(cl, "presence change", SB_EPROTO);
        return;
    }
    int64_t last = strtoll(m.p + 1, NULL, 10);
    sb_str_t user = sb_str(sp + 1, (size_t)(m.p + m.n - sp - 1));
    heard(cl, user, false, last);
}

/* "<uid> <stream> <id>/<prev>/<store> <user>\n<json>". A node of an
 * earlier version sends "<uid> <stream> <id> <user>": its id names no store
 * (shown, confirming nothing); one reading this format takes
 * "/<prev>/<store> <user>" for a user and drops it (it stays pending). */
static bool parse_deliver(char *head, sb_engine_delivery_t *d, char uid[8], char store[33]) {
    long long id, prev = 0;
    int at = 0, used = 0;
    store[0] = '\0';
    if (sscanf(head, "%7s %u %lld%n", uid, &d->stream, &id, &at) != 3 || d->stream > 1)
        return false;
    if (head[at] == '/' &&
        (sscanf(head + at, "/%lld/%32[0-9a-f]%n", &prev, store, &used) != 2 || prev < 0))
        return false;
    at += used;
    if (head[at] != ' ' || !head[at + 1])
        return false;
    d->user = sb_cstr(head + at + 1);
    d->id = id;
    d->prev = prev;
    d->store = sb_cstr(store);
    return true;
}

static void on_deliver(sb_cluster_t *cl, sb_str_t m) {
    const char *nl = memchr(m.p, '\n', m.n);
    char head[240], uid[8], store[33];
    sb_engine_delivery_t d;
    if (nl && (size_t)(nl - m.p) < sizeof head) {
        memcpy(head, m.p, (size_t)(nl - m.p));
        head[nl - m.p] = '\0';
    }
    if (!nl || (size_t)(nl - m.p) >= sizeof head || !parse_deliver(head, &d, uid, store)) {
        sb_cluster__log_bad(cl, "relayed delivery", SB_EPROTO);
        return;
    }
    if (strcmp(uid, cl->uid) == 0 || !cl->host.relayed)
        return; /* ours: delivered here already */
    cl->nodes.relayed_in++;
    d.text = sb_str(nl + 1, (size_t)(m.p + m.n - nl - 1));
    cl->host.relayed(cl->host.ud, &d);
}

static void on_channel(redisAsyncContext *ac, void *r, void *ud) {
    redisReply *reply = r;
    sb_cluster_t *cl = ((sb_rconn_t *)ac->data)->cl;
    bool deliver = (uintptr_t)ud;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        (!is_str(reply->element[0]) && reply->element[0]->type != REDIS_REPLY_STATUS))
        return;
    sb_str_t kind = sb_str(reply->element[0]->str, reply->element[0]->len);
    if (sb_str_eq(kind, SB_LIT("subscribe"))) {
        if (cl->sub_pending && --cl->sub_pending == 0)
            cl->stats.up = true;
        if (!deliver) {
            cl->nodes.subscribed = true;
            sb_cluster__nodes_bootstrap(cl);
        }
        return;
    }
    if (!sb_str_eq(kind, SB_LIT("message")) || !is_str(reply->element[2]))
        return;
    sb_str_t m = sb_str(reply->element[2]->str, reply->element[2]->len);
    deliver ? on_deliver(cl, m) : on_presence(cl, m);
}

void sb_cluster__nodes_subscribe(sb_cluster_t *cl) {
    char presence[160], deliver[160];
    cl->nodes.subscribed = cl->nodes.bootstrapped = false;
    if (!cl->sub.ac || !name(cl, presence, sizeof presence, "presence") ||
        !name(cl, deliver, sizeof deliver, "deliver"))
        return;
    if (redisAsyncCommand(cl->sub.ac, on_channel, (void *)0, "SUBSCRIBE %s", presence) == REDIS_OK)
        cl->sub_pending++;
    if (redisAsyncCommand(cl->sub.ac, on_channel, (void *)1, "SUBSCRIBE %s", deliver) == REDIS_OK)
        cl->sub_pending++;
}

void sb_cluster__nodes_down(sb_cluster_t *cl, bool sub) {
    if (sub) {
        cl->nodes.subscribed = false;
    } else {
        cl->nodes.registered = cl->nodes.loaded = false;
        free(cl->nodes.live); /* no list of nodes while Redis is away */
        cl->nodes.live = NULL;
    }
    cl->nodes.bootstrapped = false;
    stop_hearing(cl); /* the next read starts over */
}

void sb_cluster__relay(sb_cluster_t *cl, const sb_engine_delivery_t *d) {
    char channel[160];
    size_t chn = name(cl, channel, sizeof channel, "deliver");
    char head[240];
    int hn = snprintf(head, sizeof head, "%s %u %lld/%lld/%.*s %.*s\n", cl->uid, d->stream,
                      (long long)d->id, (long long)d->prev, (int)d->store.n, d->store.p,
                      (int)d->user.n, d->user.p);
    if (!chn || hn <= 0 || (size_t)hn >= sizeof head || !pub_ready(cl)) {
        cl->stats.publish_dropped++;
        return;
    }
    char *msg = malloc((size_t)hn + d->text.n);
    if (!msg) {
        cl->stats.publish_dropped++;
        return;
    }
    memcpy(msg, head, (size_t)hn);
    memcpy(msg + hn, d->text.p, d->text.n);
    sb_cluster__publish(cl, channel, chn, msg, (size_t)hn + d->text.n);
    cl->nodes.relayed_out++;
    free(msg);
}

char *sb_cluster__nodes_json(const sb_cluster_t *cl) {
    return cl->nodes.live ? strdup(cl->nodes.live) : NULL;
}

/* ---- life -------------------------------------------------------------------------- */

void sb_cluster__nodes_init(sb_cluster_t *cl, uint32_t timeout_ms) {
    cl->nodes.timeout_ms = timeout_ms ? timeout_ms : SB_NODES_DEFAULT_TIMEOUT_MS;
    cl->nodes.every_ms = cl->nodes.timeout_ms / 5 ? cl->nodes.timeout_ms / 5 : 1;
    sb_map_init(&cl->nodes.heard);
    for (int i = 0; i < SB_NODES_SCRIPTS; i++)
        sha1_hex(scripts[i], cl->nodes.sha[i]);
    sb_timer_init(cl->loop, &cl->nodes.heartbeat, on_heartbeat);
    sb_timer_start(&cl->nodes.heartbeat, cl->nodes.every_ms);
}

/* A node stopping on purpose tells Redis at once (its users go offline for
 * the others now, not after the timeout): the cleanup is queued behind
 * the devices its closed sockets already queued, and the publisher's
 * output is flushed for at most SB_NODES_LEAVE_FLUSH_MS. The only wait on
 * Redis in the node's life, at its very end. */
void sb_cluster__nodes_leave(sb_cluster_t *cl) {
    sb_timer_stop(&cl->nodes.heartbeat);
    char prefix[160], now[24];
    snprintf(now, sizeof now, "%lld", (long long)sb_wall_ms());
    if (pub_ready(cl) && cl->nodes.registered && name(cl, prefix, sizeof prefix, "")) {
        redisAsyncContext *ac = cl->pub.ac;
        redisAsyncCommand(ac, NULL, NULL, "EVALSHA %s 1 %s %s %s", cl->nodes.sha[SCRIPT_LEAVE],
                          prefix, cl->uid, now);
        uint64_t end = sb_clock_ms() + SB_NODES_LEAVE_FLUSH_MS;
        int done = 0;
        while (cl->pub.ac && sdslen(ac->c.obuf) > 0 && !(ac->c.flags & REDIS_DISCONNECTING)) {
            struct pollfd pfd = {.fd = ac->c.fd, .events = POLLOUT};
            int64_t left = (int64_t)end - (int64_t)sb_clock_ms();
            if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
                break;
            if (redisBufferWrite(&ac->c, &done) != REDIS_OK)
                break;
        }
    }
    free(cl->nodes.live);
    cl->nodes.live = NULL;
    sb_map_dispose(&cl->nodes.heard);
}
