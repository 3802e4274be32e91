/* What a finished batch leaves behind, on either backend (store.c runs
 * SQLite's batches, store_pg.c PostgreSQL's): commit latency, and failures
 * counted and logged. Store thread only. */
#include "store/store_internal.h"

#include <time.h>

#include "core/err.h"

const uint64_t SB_STORE_COMMIT_BUCKETS_US[SB_STORE_COMMIT_NBUCKETS] = {
    500, 1000, 2000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000};

int64_t sb_store__now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sb_store__commit_done(sb_store_t *st, sb_store__batch_stats_t *bs) {
    int64_t took = sb_store__now_us() - bs->txn_start_us;
    uint64_t us = took > 0 ? (uint64_t)took : 0;
    pthread_mutex_lock(&st->mu); /* the PostgreSQL pool's threads commit side by side */
    sb_store__commit_lat_t *l = &st->commit_lat;
    l->avg = l->sum ? l->avg - l->avg / 8 + us / 8 : us;
    l->last = us;
    l->sum += us;
    if (us > l->max)
        l->max = us;
    size_t i = 0;
    while (i < SB_STORE_COMMIT_NBUCKETS && us > SB_STORE_COMMIT_BUCKETS_US[i])
        i++;
    l->buckets[i]++;
    pthread_mutex_unlock(&st->mu);
    bs->commits++;
}

uint64_t sb_store__count_failures(sb_store_t *st, sb_store__req_t *first,
                                  sb_store__batch_stats_t *bs) {
    uint64_t failed_writes = 0;
    for (sb_store__req_t *r = first; r; r = r->next) {
        if (r->rc == SB_OK)
            continue;
        bs->failed++;
        /* The other errors are answers (not found, exists, ...), not faults. */
        bool fault = r->rc == SB_EIO || r->rc == SB_ENOMEM || r->rc == SB_EUNAVAIL;
        failed_writes += r->op->write && r->rc != SB_ENOMEM && fault;
        if (!fault)
            continue;
        pthread_mutex_lock(&st->mu); /* log_limit: one for all the store's threads */
        sb_log_limited(&st->log_limit, SB_LOG_WARN, r->op->name, "store: %s failed: %s",
                       r->op->name, sb_strerror(r->rc));
        pthread_mutex_unlock(&st->mu);
    }
    return failed_writes;
}
