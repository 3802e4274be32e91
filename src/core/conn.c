#include "core/conn.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/conn_tls.h"
#include "core/err.h"
#include "core/log.h"
#include "core/str.h"
#include "core/validate.h"

#define SB_SCRATCH_BYTES (256 * 1024)
#define SB_WRITEV_MAX 256
/* Output of at least this many slices averaging at most SB_COALESCE_MAX_SLICE
 * bytes, and SB_COALESCE_BYTES in all, is copied and written at once. */
#define SB_COALESCE_MIN_SLICES 8
#define SB_COALESCE_MAX_SLICE 512
#define SB_COALESCE_BYTES (64 * 1024)
#define SB_READS_PER_EVENT 16
/* Far past what any --max-outq-bytes admits; keeps the doubling in 32 bits. */
#define SB_OUTQ_MAX_SLOTS (1u << 24)
/* Plaintext in one TLS record: small slices are gathered up to this much so
 * that a burst of broadcasts becomes one record and one write. */
#define SB_TLS_RECORD 16384

static void conn_on_io(sb_io_t *io, uint32_t events);
static void conn_on_task(sb_task_t *t);

/* Asks for deferred work before the next poll; a free cancels the rest. */
static void conn_defer(sb_conn_t *c, uint8_t what) {
    c->pending = what == SB_CONN_DO_FREE ? what : (uint8_t)(c->pending | what);
    sb_task_post(c->ctx->loop, &c->task);
}

static void oq_cache_free(sb_conn_ctx_t *ctx);
static void on_oq_trim(sb_timer_t *t);

int sb_conn_ctx_init(sb_conn_ctx_t *ctx, sb_loop_t *loop) {
    memset(ctx, 0, sizeof *ctx);
    ctx->loop = loop;
    ctx->scratch_cap = SB_SCRATCH_BYTES;
    ctx->scratch = malloc(ctx->scratch_cap);
    ctx->max_inbuf = 2u * 1024 * 1024;
    ctx->max_outq = 4u * 1024 * 1024;
    sb_list_init(&ctx->all);
    sb_pool_init(&ctx->conns, sizeof(sb_conn_t));
    sb_timer_init(loop, &ctx->oq_trim, on_oq_trim);
    sb_map_init(&ctx->per_ip);
    return ctx->scratch ? SB_OK : SB_ENOMEM;
}

int sb_conn_ctx_use_tls(sb_conn_ctx_t *ctx, sb_tls_t *tls) {
    if (ctx->conns.live > 0)
        return SB_EINVAL;
    sb_pool_dispose(&ctx->conns);
    sb_pool_init(&ctx->conns, sizeof(sb_tls_conn_t));
    ctx->tls = tls;
    return SB_OK;
}

void sb_conn_ctx_shutdown(sb_conn_ctx_t *ctx) {
    sb_list_node_t *n, *tmp;
    sb_list_foreach_safe(n, tmp, &ctx->all) {
        sb_conn_t *c = sb_container_of(n, sb_conn_t, all_node);
        if (c->flags & SB_CONN_CLOSING)
            continue;
        if (c->handler->on_shutdown)
            c->handler->on_shutdown(c);
        else
            sb_conn_close_after_flush(c);
    }
}

void sb_conn_ctx_dispose(sb_conn_ctx_t *ctx) {
    sb_map_dispose(&ctx->per_ip);
    sb_pool_dispose(&ctx->conns);
    for (int i = 0; i < SB_CONN_UPPER_POOLS && ctx->upper[i].size; i++)
        sb_pool_dispose(&ctx->upper[i]);
    sb_timer_stop(&ctx->oq_trim);
    oq_cache_free(ctx);
    free(ctx->wbuf);
    free(ctx->scratch);
    ctx->scratch = NULL;
}

/* The pool for `size`, claiming a free slot on first use; NULL when all
 * slots serve other sizes. */
static sb_pool_t *upper_pool(sb_conn_ctx_t *ctx, size_t size, bool claim) {
    size_t rounded = (size + 7) & ~(size_t)7;
    for (int i = 0; i < SB_CONN_UPPER_POOLS; i++) {
        sb_pool_t *p = &ctx->upper[i];
        if (p->size == rounded)
            return p;
        if (p->size == 0) {
            if (!claim)
                return NULL;
            sb_pool_init(p, size);
            return p;
        }
    }
    return NULL;
}

void *sb_conn_ctx_obj_alloc(sb_conn_ctx_t *ctx, size_t size) {
    sb_pool_t *p = upper_pool(ctx, size, true);
    return p ? sb_pool_alloc(p) : calloc(1, size);
}

void sb_conn_ctx_obj_free(sb_conn_ctx_t *ctx, void *obj, size_t size) {
    sb_pool_t *p = upper_pool(ctx, size, false);
    if (p)
        sb_pool_free(p, obj);
    else
        free(obj);
}

/* An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d: it is
 * kept as the IPv4 address it is, so that limits per address, logs and
 * the addresses handlers see do not depend on how the server listens. */
static void peer_from_sockaddr(sb_peer_addr_t *out, const struct sockaddr_storage *ss) {
    memset(out, 0, sizeof *out);
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    if (ss->ss_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(a6)) {
        out->family = AF_INET6;
        memcpy(out->addr, a6, 16);
    } else {
        out->family = AF_INET;
        memcpy(out->addr,
               ss->ss_family == AF_INET6
                   ? &a6->s6_addr[12]
                   : (const void *)&((const struct sockaddr_in *)ss)->sin_addr,
               4);
    }
}

static sb_str_t peer_key(const sb_peer_addr_t *p) { return sb_str((const char *)p, sizeof *p); }

/* Adjusts the per-address count; removes the entry at zero. */
static void per_ip_add(sb_conn_ctx_t *ctx, const sb_peer_addr_t *p, int delta) {
    if (!ctx->max_conns_per_ip)
        return;
    uintptr_t n = (uintptr_t)sb_map_get(&ctx->per_ip, peer_key(p)) + (uintptr_t)(intptr_t)delta;
    if (n == 0)
        sb_map_del(&ctx->per_ip, peer_key(p));
    else
        sb_map_put(&ctx->per_ip, peer_key(p), (void *)n);
}

int sb_conn_ctx_admit(sb_conn_ctx_t *ctx, const struct sockaddr_storage *ss) {
    sb_peer_addr_t p;
    peer_from_sockaddr(&p, ss);
    bool over = (ctx->max_conns && ctx->live >= ctx->max_conns) ||
                (ctx->max_conns_per_ip &&
                 (uintptr_t)sb_map_get(&ctx->per_ip, peer_key(&p)) >= ctx->max_conns_per_ip);
    if (over)
        ctx->refused++;
    return over ? SB_ETOOBIG : SB_OK;
}

static sb_conn_t *conn_create(sb_conn_ctx_t *ctx, int fd, const struct sockaddr_storage *peer,
                              const sb_conn_handler_t *h, void *ud, sb_tls_t *tls) {
    sb_conn_t *c = sb_pool_alloc(&ctx->conns);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->ctx = ctx;
    c->handler = h;
    c->ud = ud;
    if (peer)
        peer_from_sockaddr(&c->peer, peer);
    sb_io_init(ctx->loop, &c->io, fd, conn_on_io);
    sb_task_init(&c->task, conn_on_task);
    sb_timer_init(ctx->loop, &c->timer, NULL);
    if (tls)
        c->flags |= SB_CONN_TLS;
    if ((tls && sb__conn_tls_open(c) != SB_OK) ||
        sb_io_set(&c->io, EPOLLIN | EPOLLRDHUP) != SB_OK) {
        if (c->flags & SB_CONN_TLS)
            sb__conn_tls_free(c);
        close(fd);
        sb_pool_free(&ctx->conns, c);
        return NULL;
    }
    ctx->live++;
    per_ip_add(ctx, &c->peer, 1);
    sb_list_push_tail(&ctx->all, &c->all_node);
    return c;
}

sb_conn_t *sb_conn_create(sb_conn_ctx_t *ctx, int fd, const struct sockaddr_storage *peer,
                          const sb_conn_handler_t *h, void *ud) {
    return conn_create(ctx, fd, peer, h, ud, ctx->tls);
}

sb_conn_t *sb_conn_create_plain(sb_conn_ctx_t *ctx, int fd, const struct sockaddr_storage *peer,
                                const sb_conn_handler_t *h, void *ud) {
    return conn_create(ctx, fd, peer, h, ud, NULL);
}

/* ---- closing ------------------------------------------------------------- */

static void outq_clear(sb_conn_t *c);

/* The output goes at once: in a storm of closes, memory held for
 * connections that will never write is the first to return. */
void sb_conn_close(sb_conn_t *c) {
    if (c->flags & SB_CONN_CLOSING)
        return;
    c->flags |= SB_CONN_CLOSING;
    sb_io_set(&c->io, 0);
    sb_timer_stop(&c->timer);
    c->ctx->discarded_bytes += c->oq_bytes;
    outq_clear(c);
    conn_defer(c, SB_CONN_DO_FREE);
}

void sb_conn_close_after_flush(sb_conn_t *c) {
    if (c->oq_len == 0) {
        sb_conn_close(c);
        return;
    }
    c->flags |= SB_CONN_CLOSE_AFTER;
    sb_conn_hold_output(c, false);
}

void sb_conn_hold_output(sb_conn_t *c, bool hold) {
    if (hold) {
        c->flags |= SB_CONN_HOLD;
        return;
    }
    if (!(c->flags & SB_CONN_HOLD))
        return;
    c->flags &= ~(uint32_t)SB_CONN_HOLD;
    if (c->oq_len > 0)
        conn_defer(c, SB_CONN_DO_FLUSH);
}

/* Slot i of the output ring (its capacity is a power of two). */
static inline sb_outq_item_t *oq_at(const sb_conn_t *c, uint32_t i) {
    return &c->outq[(c->oq_head + i) & (c->oq_cap - 1)];
}

static unsigned oq_class(uint32_t cap) { return (unsigned)__builtin_ctz(cap / 8); }

/* An array of at least `cap` slots: the largest cached one if any is big
 * enough, else a new one. Sets *got to its capacity. */
static sb_outq_item_t *oq_array_get(sb_conn_ctx_t *ctx, uint32_t cap, uint32_t *got) {
    for (unsigned k = SB_CONN_OQ_CLASSES; k-- > oq_class(cap);) {
        sb_outq_item_t *q = ctx->oq_cache[k];
        if (q) {
            memcpy(&ctx->oq_cache[k], &q->frame, sizeof q);
            ctx->oq_cache_bytes -= (sizeof *q * 8) << k;
            ctx->oq_cache_used = true;
            if (ctx->oq_cache_bytes < ctx->oq_cache_low)
                ctx->oq_cache_low = ctx->oq_cache_bytes;
            *got = 8u << k;
            return q;
        }
    }
    *got = cap;
    return malloc(sizeof(sb_outq_item_t) * cap);
}

/* Frees cached arrays, largest first, until `bytes` are freed or none is left. */
static void oq_cache_shrink(sb_conn_ctx_t *ctx, size_t bytes) {
    size_t freed = 0;
    for (int k = SB_CONN_OQ_CLASSES; k-- > 0 && freed < bytes;) {
        sb_outq_item_t *q;
        while (freed < bytes && (q = ctx->oq_cache[k])) {
            memcpy(&ctx->oq_cache[k], &q->frame, sizeof q);
            free(q);
            freed += (sizeof *q * 8) << k;
        }
    }
    ctx->oq_cache_bytes -= freed;
}

static void oq_cache_free(sb_conn_ctx_t *ctx) {
    for (int k = 0; k < SB_CONN_OQ_CLASSES; k++) {
        sb_outq_item_t *q;
        while ((q = ctx->oq_cache[k])) {
            memcpy(&ctx->oq_cache[k], &q->frame, sizeof q);
            free(q);
        }
    }
    ctx->oq_cache_bytes = 0;
}

/* Once traffic stops (a second without a queue array taken), the cached
 * arrays go back, and so do the free pages a burst left inside the heap
 * (glibc returns only the top of the heap by itself): memory after a burst
 * returns to what the connections need. */
static void oq_cache_shrink(sb_conn_ctx_t *ctx, size_t bytes);

static void on_oq_trim(sb_timer_t *t) {
    sb_conn_ctx_t *ctx = sb_container_of(t, sb_conn_ctx_t, oq_trim);
    if (ctx->oq_cache_used) {
        /* Traffic that never stops (heartbeats) keeps the cache in use:
         * what it did not need all second (its low-water mark) goes. */
        oq_cache_shrink(ctx, ctx->oq_cache_low);
        ctx->oq_cache_low = ctx->oq_cache_bytes;
        ctx->oq_cache_used = false;
        sb_timer_start(t, 1000);
        return;
    }
    oq_cache_free(ctx);
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static void oq_array_put(sb_conn_ctx_t *ctx, sb_outq_item_t *q, uint32_t cap) {
    size_t bytes = sizeof *q * cap;
    unsigned k = cap ? oq_class(cap) : 0;
    if (!q || k >= SB_CONN_OQ_CLASSES || ctx->oq_cache_bytes + bytes > SB_CONN_OQ_CACHE_BYTES) {
        free(q);
        return;
    }
    memcpy(&q->frame, &ctx->oq_cache[k], sizeof q);
    ctx->oq_cache[k] = q;
    ctx->oq_cache_bytes += bytes;
    if (!sb_timer_active(&ctx->oq_trim))
        sb_timer_start(&ctx->oq_trim, 1000);
}

static void outq_release(sb_conn_t *c) {
    oq_array_put(c->ctx, c->outq, c->oq_cap);
    c->outq = NULL;
    c->oq_head = c->oq_cap = 0;
}

static void outq_clear(sb_conn_t *c) {
    for (uint32_t i = 0; i < c->oq_len; i++)
        sb_frame_unref(oq_at(c, i)->frame);
    outq_release(c);
    c->ctx->outq_total -= c->oq_bytes;
    c->oq_len = 0;
    c->oq_bytes = 0;
}

static void conn_free(sb_conn_t *c) {
    if (c->handler && c->handler->on_close)
        c->handler->on_close(c);
    sb_timer_stop(&c->timer);
    sb_task_cancel(&c->task);
    outq_clear(c);
    free(c->inbuf);
    if (c->flags & SB_CONN_TLS)
        sb__conn_tls_free(c);
    close(c->io.fd);
    c->ctx->live--;
    per_ip_add(c->ctx, &c->peer, -1);
    sb_list_remove(&c->all_node);
    sb_pool_free(&c->ctx->conns, c);
}

/* ---- output -------------------------------------------------------------- */

static int outq_grow(sb_conn_t *c) {
    if (c->oq_cap >= SB_OUTQ_MAX_SLOTS)
        return SB_ENOMEM;
    uint32_t cap;
    sb_outq_item_t *q = oq_array_get(c->ctx, c->oq_cap ? c->oq_cap * 2 : 8, &cap);
    if (!q)
        return SB_ENOMEM;
    for (uint32_t i = 0; i < c->oq_len; i++)
        q[i] = *oq_at(c, i);
    oq_array_put(c->ctx, c->outq, c->oq_cap);
    c->outq = q;
    c->oq_head = 0;
    c->oq_cap = cap;
    return SB_OK;
}

/* Drops every queued slice but the first (which may be half written: the
 * peer must get the rest of it before anything else). Over TLS, the slices
 * of the first record are kept: OpenSSL may hold that record half sent and
 * must be handed the same bytes again. */
static void outq_keep_head(sb_conn_t *c) {
    if (c->oq_len == 0) /* the process-wide bound cuts a connection with nothing queued */
        return;
    uint32_t keep = 1;
    for (size_t bytes = oq_at(c, 0)->n;
         (c->flags & SB_CONN_TLS) && keep < c->oq_len && bytes < SB_TLS_RECORD; keep++)
        bytes += oq_at(c, keep)->n;
    while (c->oq_len > keep) {
        sb_outq_item_t *it = oq_at(c, --c->oq_len);
        c->oq_bytes -= it->n;
        c->ctx->outq_total -= it->n;
        sb_frame_unref(it->frame);
    }
}

/* A slow consumer: the protocol on top may queue a goodbye behind the
 * message being written, then the connection closes once that is out (or
 * when the timer the protocol armed runs out). */
static void conn_cut(sb_conn_t *c) {
    if (!c->handler->on_slow) {
        sb_conn_close(c);
        return;
    }
    outq_keep_head(c);
    c->flags |= SB_CONN_CUT;
    c->handler->on_slow(c);
    sb_conn_close_after_flush(c);
}

static void cut_slow_consumer(sb_conn_t *c) {
    c->ctx->slow_consumers++;
    sb_log_info("closing slow consumer fd=%d (%zu bytes queued)", c->io.fd, c->oq_bytes);
    conn_cut(c);
}

/* All queues together would pass max_total_outq. Slow consumers go first:
 * every connection the kernel has stopped taking bytes from (waiting for
 * EPOLLOUT), found in one sweep of the connections at most once per loop
 * tick. If that frees too little, the connection being written to is cut:
 * the process holds at most the bound, plus the one message each cut
 * connection is finishing. A cut connection's goodbye always passes. */
static int total_outq_make_room(sb_conn_t *c, size_t n) {
    sb_conn_ctx_t *ctx = c->ctx;
    const uint32_t gone = SB_CONN_CLOSING | SB_CONN_CLOSE_AFTER | SB_CONN_CUT;
    if (c->flags & SB_CONN_CUT)
        return SB_OK;
    if (ctx->total_cut_ms != ctx->loop->now_ms) {
        ctx->total_cut_ms = ctx->loop->now_ms;
        sb_list_node_t *it, *tmp;
        sb_list_foreach_safe(it, tmp, &ctx->all) {
            sb_conn_t *o = sb_container_of(it, sb_conn_t, all_node);
            if (!(o->flags & gone) && (o->io.events & EPOLLOUT) && o->oq_bytes > 0) {
                ctx->total_outq_cuts++;
                cut_slow_consumer(o);
            }
        }
        if (!(c->flags & gone) && ctx->outq_total + n <= ctx->max_total_outq)
            return SB_OK;
    }
    if (!(c->flags & gone)) {
        ctx->total_outq_cuts++;
        cut_slow_consumer(c);
    }
    return SB_ETOOBIG;
}

int sb_conn_write_frame(sb_conn_t *c, sb_frame_t *f, const char *p, size_t n) {
    if (c->flags & (SB_CONN_CLOSING | SB_CONN_CLOSE_AFTER)) {
        c->ctx->refused_closing++;
        return SB_ECLOSED;
    }
    if (SB_UNLIKELY((c->flags & SB_CONN_TLS) && !(c->flags & SB_CONN_TLS_UP))) {
        /* Nothing is answered before a request, so this is the timeout's
         * answer to a handshake that never finished: nobody could read it. */
        sb_conn_close(c);
        return SB_ECLOSED;
    }
    if ((f->flags & SB_FRAME_VOLATILE) && (c->io.events & EPOLLOUT)) {
        c->ctx->volatile_dropped++;
        return SB_OK;
    }
    if (SB_UNLIKELY(c->oq_bytes > 0 && c->oq_bytes + n > c->ctx->max_outq) &&
        !(c->flags & SB_CONN_CUT)) {
        cut_slow_consumer(c);
        return SB_ETOOBIG;
    }
    if (SB_UNLIKELY(c->ctx->max_total_outq && c->ctx->outq_total + n > c->ctx->max_total_outq) &&
        total_outq_make_room(c, n) != SB_OK)
        return SB_ETOOBIG;
    if (c->oq_len == c->oq_cap && outq_grow(c) != SB_OK) {
        sb_conn_close(c);
        return SB_ENOMEM;
    }
    *oq_at(c, c->oq_len++) = (sb_outq_item_t){sb_frame_ref(f), p, n};
    c->oq_bytes += n;
    c->ctx->outq_total += n;
    conn_defer(c, SB_CONN_DO_FLUSH);
    return SB_OK;
}

int sb_conn_write(sb_conn_t *c, const void *p, size_t n) {
    sb_frame_t *f = sb_frame_create(p, n, 0);
    if (!f)
        return SB_ENOMEM;
    int rc = sb_conn_write_frame(c, f, f->data, n);
    sb_frame_unref(f);
    return rc;
}

size_t sb_conn_queued(const sb_conn_t *c) { return c->oq_bytes; }

/* Drops `written` bytes from the head of the queue. */
static void outq_consume(sb_conn_t *c, size_t written) {
    c->oq_bytes -= written;
    c->ctx->outq_total -= written;
    while (written > 0) {
        sb_outq_item_t *it = &c->outq[c->oq_head];
        if (written < it->n) {
            it->p += written;
            it->n -= written;
            return;
        }
        written -= it->n;
        sb_frame_unref(it->frame);
        c->oq_head = (c->oq_head + 1) & (c->oq_cap - 1);
        c->oq_len--;
    }
}

/* Many small slices (a burst of broadcasts: 128 frames of 50 bytes) go out
 * as one copy in a staging buffer: the kernel's cost per iovec segment is
 * larger than a memcpy. Returns what write() returns. */
static ssize_t conn_write_coalesced(sb_conn_t *c, const struct iovec *iov, int cnt, size_t total) {
    sb_conn_ctx_t *ctx = c->ctx;
    if (!ctx->wbuf && !(ctx->wbuf = malloc(SB_COALESCE_BYTES)))
        return writev(c->io.fd, iov, cnt);
    char *w = ctx->wbuf;
    for (int i = 0; i < cnt; i++) {
        memcpy(w, iov[i].iov_base, iov[i].iov_len);
        w += iov[i].iov_len;
    }
    return write(c->io.fd, ctx->wbuf, total);
}

/* The head of the queue as one TLS record's worth: a large slice as it is,
 * small ones copied together (the TLS counterpart of writev). */
static const char *tls_next_chunk(sb_conn_t *c, size_t *n) {
    sb_outq_item_t *head = oq_at(c, 0);
    sb_conn_ctx_t *ctx = c->ctx;
    if (c->oq_len == 1 || head->n >= SB_TLS_RECORD ||
        (!ctx->wbuf && !(ctx->wbuf = malloc(SB_COALESCE_BYTES)))) {
        *n = head->n;
        return head->p;
    }
    size_t total = 0;
    for (uint32_t i = 0; i < c->oq_len && total < SB_TLS_RECORD; i++) {
        sb_outq_item_t *it = oq_at(c, i);
        size_t take = it->n < SB_TLS_RECORD - total ? it->n : SB_TLS_RECORD - total;
        memcpy(ctx->wbuf + total, it->p, take);
        total += take;
    }
    *n = total;
    return ctx->wbuf;
}

/* Each SSL_write sends at most one record (partial-write mode); a record
 * the kernel did not take stays inside OpenSSL until the next call. */
static int conn_flush_tls(sb_conn_t *c) {
    while (c->oq_len > 0) {
        size_t n;
        const char *p = tls_next_chunk(c, &n);
        long w = sb__conn_tls_write(c, p, n);
        if (w < 0)
            return w == SB_EAGAIN ? SB_EAGAIN : SB_EIO;
        c->ctx->bytes_out += (uint64_t)w;
        outq_consume(c, (size_t)w);
    }
    return SB_OK;
}

/* Returns SB_OK when the queue is empty, SB_EAGAIN when the kernel is full,
 * SB_EIO on a write error. */
static int conn_flush(sb_conn_t *c) {
    if (c->flags & SB_CONN_TLS)
        return conn_flush_tls(c);
    while (c->oq_len > 0) {
        struct iovec iov[SB_WRITEV_MAX];
        int cnt = 0;
        size_t total = 0;
        for (uint32_t i = 0; i < c->oq_len && cnt < SB_WRITEV_MAX; i++, cnt++) {
            sb_outq_item_t *it = oq_at(c, i);
            iov[cnt] = (struct iovec){(void *)it->p, it->n};
            total += it->n;
        }
        bool small = cnt >= SB_COALESCE_MIN_SLICES && total <= SB_COALESCE_BYTES &&
                     total <= (size_t)cnt * SB_COALESCE_MAX_SLICE;
        ssize_t w = small ? conn_write_coalesced(c, iov, cnt, total) : writev(c->io.fd, iov, cnt);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? SB_EAGAIN : SB_EIO;
        }
        c->ctx->bytes_out += (uint64_t)w;
        outq_consume(c, (size_t)w);
        if ((size_t)w < total)
            return SB_EAGAIN; /* the kernel took what fits: trying again now would only copy and fail */
    }
    return SB_OK;
}

/* A lingering close is bounded in time and in bytes thrown away. */
#define SB_CONN_LINGER_MS 2000
#define SB_CONN_LINGER_BYTES (4u << 20)

static void conn_on_linger_timeout(sb_timer_t *t) {
    sb_conn_close(sb_container_of(t, sb_conn_t, timer));
}

/* close() with unread input makes the kernel answer with a reset, and a
 * reset can destroy the goodbye just written (a close frame, an error
 * response) before the peer reads it. So the write side is shut first and
 * what the peer still sends is read and dropped until it closes too. While
 * lingering, in_len counts the bytes dropped (the input buffer is gone). */
static void conn_linger(sb_conn_t *c) {
    if (c->flags & SB_CONN_TLS)
        sb__conn_tls_goodbye(c);
    if (shutdown(c->io.fd, SHUT_WR) != 0) {
        sb_conn_close(c);
        return;
    }
    free(c->inbuf);
    c->inbuf = NULL;
    c->in_len = c->in_cap = 0;
    c->flags |= SB_CONN_LINGER;
    sb_io_set(&c->io, EPOLLIN | EPOLLRDHUP);
    /* The timer may be armed (a WebSocket's close timeout): it is stopped
     * before it changes hands. */
    sb_timer_stop(&c->timer);
    c->timer.cb = conn_on_linger_timeout;
    sb_timer_start(&c->timer, SB_CONN_LINGER_MS);
}

static void conn_drop_input(sb_conn_t *c) {
    for (int i = 0; i < SB_READS_PER_EVENT; i++) {
        ssize_t r = read(c->io.fd, c->ctx->scratch, c->ctx->scratch_cap);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0 || (c->in_len += (size_t)r) > SB_CONN_LINGER_BYTES) {
            sb_conn_close(c);
            return;
        }
    }
}

static void conn_after_flush(sb_conn_t *c, int rc) {
    SB_VALIDATE(sb_conn_outq_validate, c); /* O(queued frames): what is left after the write */
    uint32_t want = (c->flags & SB_CONN_READ_PAUSED) ? 0 : (EPOLLIN | EPOLLRDHUP);
    if (rc == SB_EIO) {
        sb_conn_close(c);
        return;
    }
    if (rc == SB_EAGAIN && (c->flags & SB_CONN_TLS_WRITE_WANTS_READ)) {
        sb_io_set(&c->io, EPOLLIN | EPOLLRDHUP); /* even while paused: the write waits for it */
        return;
    }
    if (rc == SB_EAGAIN || (c->flags & SB_CONN_TLS_READ_WANTS_WRITE)) {
        sb_io_set(&c->io, want | EPOLLOUT);
        return;
    }
    outq_release(c); /* an idle connection holds no output memory */
    sb_io_set(&c->io, want);
    if (c->flags & SB_CONN_CLOSE_AFTER)
        conn_linger(c);
    else if (c->handler->on_drain)
        c->handler->on_drain(c);
}

static void conn_flush_now(sb_conn_t *c) {
    if (c->flags & (SB_CONN_CLOSING | SB_CONN_HOLD))
        return;
    if (c->io.events & EPOLLOUT)
        return; /* waiting for the kernel: EPOLLOUT will flush */
    if (c->flags & SB_CONN_TLS_WRITE_WANTS_READ)
        return; /* waiting for the peer: EPOLLIN will flush */
    conn_after_flush(c, conn_flush(c));
}

/* ---- input --------------------------------------------------------------- */

/* Hands the unparsed bytes to the handler and keeps what it leaves. A
 * handler that switches protocols (HTTP upgrade) gets the rest at once. */
static int conn_dispatch(sb_conn_t *c, char *p, size_t n) {
    for (;;) {
        const sb_conn_handler_t *h = c->handler;
        long used = h->on_data(c, p, n);
        if (used < 0 || (c->flags & SB_CONN_CLOSING))
            return SB_ECLOSED;
        p += used;
        n -= (size_t)used;
        if (n == 0 || c->handler == h)
            break;
    }
    if (n > c->ctx->max_inbuf)
        return SB_ETOOBIG;
    if (n == 0) {
        free(c->inbuf);
        c->inbuf = NULL;
        c->in_len = c->in_cap = 0;
        return SB_OK;
    }
    if (c->inbuf && p >= c->inbuf && p < c->inbuf + c->in_cap) {
        memmove(c->inbuf, p, n);
    } else {
        size_t cap = n < 4096 ? 4096 : n;
        char *nb = malloc(cap);
        if (!nb)
            return SB_ENOMEM;
        memcpy(nb, p, n);
        free(c->inbuf);
        c->inbuf = nb;
        c->in_cap = cap;
    }
    c->in_len = n;
    return SB_OK;
}

/* Reads once. Returns bytes read, 0 at EOF, SB_EAGAIN, or SB_EIO. */
static long conn_read_once(sb_conn_t *c, bool *drained) {
    char *dst;
    size_t room;
    if (c->in_len == 0) {
        dst = c->ctx->scratch;
        room = c->ctx->scratch_cap;
    } else {
        if (c->in_cap - c->in_len < 16384) {
            size_t cap = c->in_cap * 2;
            char *nb = realloc(c->inbuf, cap);
            if (!nb)
                return SB_EIO;
            c->inbuf = nb;
            c->in_cap = cap;
        }
        dst = c->inbuf + c->in_len;
        room = c->in_cap - c->in_len;
    }
    ssize_t r;
    if (c->flags & SB_CONN_TLS) {
        /* A record is at most SB_TLS_RECORD bytes, and room is never less:
         * each read empties OpenSSL's current record. */
        r = sb__conn_tls_read(c, dst, room);
        if (r <= 0)
            return r;
    } else {
        r = read(c->io.fd, dst, room);
        if (r < 0)
            return (errno == EAGAIN || errno == EINTR) ? SB_EAGAIN : SB_EIO;
        if (r == 0)
            return 0;
    }
    c->ctx->bytes_in += (uint64_t)r;
    /* Over TLS a short read says nothing of the socket: OpenSSL reads one
     * record at a time, so only its own buffer tells. */
    *drained =
        (c->flags & SB_CONN_TLS) ? !sb__conn_tls_pending(c) && (size_t)r < room : (size_t)r < room;
    if (c->in_len == 0)
        return conn_dispatch(c, dst, (size_t)r) == SB_OK ? r : SB_EIO;
    c->in_len += (size_t)r;
    return conn_dispatch(c, c->inbuf, c->in_len) == SB_OK ? r : SB_EIO;
}

/* A short read means the socket is empty: epoll is level-triggered and will
 * say when more arrives, so the read that would only return EAGAIN is
 * skipped (a third of the syscalls of a request/response exchange). */
static void conn_on_readable(sb_conn_t *c) {
    if (c->flags & SB_CONN_LINGER) {
        conn_drop_input(c);
        return;
    }
    for (int i = 0; i < SB_READS_PER_EVENT && !(c->flags & SB_CONN_CLOSING); i++) {
        bool drained = false;
        long r = conn_read_once(c, &drained);
        if (r == SB_EAGAIN)
            return;
        if (r == SB_ECLOSED &&
            (c->flags & SB_CONN_TLS)) { /* plain HTTP on the TLS port: answered */
            c->flags |= SB_CONN_CLOSE_AFTER;
            conn_linger(c);
            return;
        }
        if (r <= 0) {
            sb_conn_close(c);
            return;
        }
        if (drained || (c->flags & SB_CONN_READ_PAUSED))
            return;
    }
    /* Out of turns with input inside OpenSSL that epoll cannot see. */
    if (!(c->flags & (SB_CONN_CLOSING | SB_CONN_READ_PAUSED)) && sb__conn_tls_pending(c))
        conn_defer(c, SB_CONN_DO_READ);
}

static void conn_on_io(sb_io_t *io, uint32_t events) {
    sb_conn_t *c = sb_container_of(io, sb_conn_t, io);
    if (c->flags & SB_CONN_CLOSING)
        return;
    if (events & EPOLLOUT) {
        bool read_waits = c->flags & SB_CONN_TLS_READ_WANTS_WRITE;
        c->flags &= ~(uint32_t)SB_CONN_TLS_READ_WANTS_WRITE;
        sb_io_set(&c->io, c->io.events & ~(uint32_t)EPOLLOUT);
        conn_after_flush(c, conn_flush(c));
        if (read_waits && !(c->flags & (SB_CONN_CLOSING | SB_CONN_READ_PAUSED)))
            conn_on_readable(c);
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !(c->flags & SB_CONN_CLOSING) &&
        (c->flags & SB_CONN_TLS_WRITE_WANTS_READ)) {
        c->flags &= ~(uint32_t)SB_CONN_TLS_WRITE_WANTS_READ;
        conn_after_flush(c, conn_flush(c));
        if (c->flags & SB_CONN_READ_PAUSED)
            return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !(c->flags & SB_CONN_CLOSING))
        conn_on_readable(c);
}

void sb_conn_pause_read(sb_conn_t *c, bool paused) {
    if (c->flags & (SB_CONN_CLOSING | SB_CONN_LINGER))
        return;
    if (paused)
        c->flags |= SB_CONN_READ_PAUSED;
    else
        c->flags &= ~(uint32_t)SB_CONN_READ_PAUSED;
    uint32_t ev = (c->io.events & EPOLLOUT) | (paused ? 0 : (EPOLLIN | EPOLLRDHUP));
    if (c->flags & SB_CONN_TLS_WRITE_WANTS_READ)
        ev |= EPOLLIN | EPOLLRDHUP;
    sb_io_set(&c->io, ev);
    if (!paused && sb__conn_tls_pending(c))
        conn_defer(c, SB_CONN_DO_READ);
}

static void conn_resume_now(sb_conn_t *c) {
    if ((c->flags & (SB_CONN_CLOSING | SB_CONN_LINGER)) || c->in_len == 0)
        return;
    if (conn_dispatch(c, c->inbuf, c->in_len) != SB_OK)
        sb_conn_close(c);
}

void sb_conn_resume(sb_conn_t *c) {
    if (!(c->flags & (SB_CONN_CLOSING | SB_CONN_LINGER)) && c->in_len > 0)
        conn_defer(c, SB_CONN_DO_RESUME);
}

int sb_conn_feed(sb_conn_t *c, const void *p, size_t n) {
    if (n == 0)
        return SB_OK;
    if (c->in_len + n > c->ctx->max_inbuf)
        return SB_ETOOBIG;
    size_t cap = c->in_len + n < 4096 ? 4096 : c->in_len + n;
    if (cap > c->in_cap) {
        char *nb = realloc(c->inbuf, cap);
        if (!nb)
            return SB_ENOMEM;
        c->inbuf = nb;
        c->in_cap = cap;
    }
    memcpy(c->inbuf + c->in_len, p, n);
    c->in_len += n;
    sb_conn_resume(c);
    return SB_OK;
}

/* Buffered input first (it may queue output), then the flush; a free ends
 * everything. Work asked for meanwhile re-posts the task. */
static void conn_on_task(sb_task_t *t) {
    sb_conn_t *c = sb_container_of(t, sb_conn_t, task);
    uint8_t what = c->pending;
    c->pending = 0;
    if (what & SB_CONN_DO_FREE) {
        conn_free(c);
        return;
    }
    if (what & SB_CONN_DO_RESUME)
        conn_resume_now(c);
    if ((what & SB_CONN_DO_READ) && !(c->flags & (SB_CONN_CLOSING | SB_CONN_READ_PAUSED)))
        conn_on_readable(c);
    if (what & SB_CONN_DO_FLUSH)
        conn_flush_now(c);
}
