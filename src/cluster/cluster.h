/* The Redis engine: a cluster of Switchboard and Node.js Socket.IO servers
 * that share broadcasts and room operations through Redis, in the classic
 * PUB/SUB format of @socket.io/redis-adapter 8.x (and what
 * @socket.io/redis-emitter publishes). docs/cluster.md. */
#ifndef SB_CLUSTER_CLUSTER_H
#define SB_CLUSTER_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "hub/engine.h"

typedef struct {
    const char *url;             /* redis://[[user]:password@]host[:port][/db] */
    const char *key;             /* channel prefix; NULL: "socket.io" */
    uint64_t max_queue_bytes;    /* unsent output past which publications are dropped; 0: 16 MiB */
    uint32_t connect_timeout_ms; /* 0: 5000 */
    uint32_t node_timeout_ms;    /* a node silent this long is dead; 0: 10000 */
} sb_cluster_config_t;

typedef struct sb_cluster sb_cluster_t;

/* Parses the URL and starts connecting (asynchronously: this never waits on
 * the network, a name in the URL is resolved once per connection attempt).
 * `host` is copied; cfg strings are copied. Returns NULL with a message in
 * err (bad URL, OOM). */
sb_cluster_t *sb_cluster_create(sb_loop_t *loop, const sb_cluster_config_t *cfg,
                                const sb_engine_host_t *host, char *err, size_t cap);
void sb_cluster_destroy(sb_cluster_t *c);
sb_engine_t *sb_cluster_engine(sb_cluster_t *c);
/* This node's 6-character uid on the wire. */
const char *sb_cluster_uid(const sb_cluster_t *c);

/* URL parsing, exposed for tests. host/password/user are NUL-terminated. */
typedef struct {
    char host[256];
    int port;
    char user[128];
    char password[256];
    int db;
} sb_cluster_url_t;
int sb_cluster_parse_url(const char *url, sb_cluster_url_t *out);

#endif
