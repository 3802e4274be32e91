/* What every part of the Redis engine uses to speak and to complain: a
 * PUBLISH on the publisher connection (bounded, counted) and the rate-
 * limited log line for a malformed message. Calls no other file of the
 * layer, so the files that publish (redis.c, requests.c, asks.c, nodes.c)
 * do not depend on each other through it. */
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include "cluster/cluster_internal.h"
#include "core/err.h"
#include "core/log.h"

void sb_cluster__publish(sb_cluster_t *cl, const char *channel, size_t chn, const char *data,
                         size_t n) {
    redisAsyncContext *ac = cl->pub.ac;
    if (!ac || !cl->pub.connected || sdslen(ac->c.obuf) + n > cl->max_queue) {
        cl->stats.publish_dropped++;
        return;
    }
    if (redisAsyncCommand(ac, NULL, NULL, "PUBLISH %b %b", channel, chn, data, n) != REDIS_OK) {
        cl->stats.publish_dropped++;
        return;
    }
    cl->stats.published++;
}

void sb_cluster__log_bad(sb_cluster_t *cl, const char *what, int rc) {
    cl->stats.decode_errors++;
    if (cl->loop->now_ms - cl->last_error_log_ms < 1000 && cl->last_error_log_ms)
        return;
    cl->last_error_log_ms = cl->loop->now_ms;
    sb_log_warn("cluster: ignored a malformed %s from Redis: %s (%llu so far)", what,
                sb_strerror(rc), (unsigned long long)cl->stats.decode_errors);
}
