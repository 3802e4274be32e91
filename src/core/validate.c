/* Deep validators of the loop's timer wheel and the connections' output
 * rings: O(size) walks for unit tests and debug builds (SB_VALIDATE: the
 * output ring after each flush in conn.c; the wheel, O(timers), only in
 * tests, as a walk per tick would dominate a debug run), never
 * on a release hot path. Each returns SB_OK or SB_EPROTO. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/conn.h"
#include "core/loop.h"
#include "core/validate.h"

void sb__assert_fail(const char *cond, const char *file, int line) {
    fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, cond);
    abort();
}

/* A list is well linked when every neighbour points back. Bounded by `max`
 * so a cycle that skips the head cannot hang a test. */
static int list_check(const sb_list_t *l, size_t max, size_t *count) {
    size_t n = 0;
    for (const sb_list_node_t *p = l->next; p != l; p = p->next) {
        if (!p->next || !p->prev || p->next->prev != p || p->prev->next != p || ++n > max)
            return SB_EPROTO;
    }
    *count = n;
    return SB_OK;
}

int sb_loop_validate(const sb_loop_t *l) {
    size_t total = 0;
    for (size_t i = 0; i < SB_WHEEL_SLOTS; i++) {
        size_t n;
        if (list_check(&l->_slots[i], l->_timers, &n) != SB_OK)
            return SB_EPROTO;
        for (const sb_list_node_t *p = l->_slots[i].next; p != &l->_slots[i]; p = p->next) {
            const sb_timer_t *t = sb_container_of(p, sb_timer_t, _node);
            uint64_t tick = (t->_due_ms + SB_WHEEL_TICK_MS - 1) / SB_WHEEL_TICK_MS;
            if (t->loop != l || !t->cb)
                return SB_EPROTO;
            /* In its due tick's slot, or, when it was armed already due,
             * in the slot after the last processed tick. */
            if (tick % SB_WHEEL_SLOTS != i && tick > l->_wheel_tick + 1)
                return SB_EPROTO;
        }
        total += n;
    }
    size_t tasks;
    if (total != l->_timers || list_check(&l->_tasks, SIZE_MAX, &tasks) != SB_OK)
        return SB_EPROTO;
    return SB_OK;
}

int sb_conn_outq_validate(const sb_conn_t *c) {
    if (!c->outq)
        return c->oq_cap == 0 && c->oq_len == 0 && c->oq_head == 0 && c->oq_bytes == 0 ? SB_OK
                                                                                       : SB_EPROTO;
    /* A power-of-two ring of at least 8 slots (the size classes). */
    if (c->oq_cap < 8 || (c->oq_cap & (c->oq_cap - 1)) || c->oq_head >= c->oq_cap ||
        c->oq_len > c->oq_cap)
        return SB_EPROTO;
    size_t bytes = 0;
    for (uint32_t i = 0; i < c->oq_len; i++) {
        const sb_outq_item_t *it = &c->outq[(c->oq_head + i) & (c->oq_cap - 1)];
        if (!it->frame || (it->n && !it->p))
            return SB_EPROTO;
        bytes += it->n;
    }
    return bytes == c->oq_bytes ? SB_OK : SB_EPROTO;
}

int sb_conn_ctx_validate(const sb_conn_ctx_t *ctx) {
    size_t bytes = 0;
    for (unsigned k = 0; k < SB_CONN_OQ_CLASSES; k++) {
        size_t n = 0;
        for (const sb_outq_item_t *q = ctx->oq_cache[k]; q; n++) {
            if (n > SB_CONN_OQ_CACHE_BYTES / sizeof *q)
                return SB_EPROTO; /* a cycle */
            bytes += (sizeof *q * 8) << k;
            memcpy(&q, &q->frame, sizeof q); /* chained through the first slot */
        }
    }
    if (bytes != ctx->oq_cache_bytes || bytes > SB_CONN_OQ_CACHE_BYTES)
        return SB_EPROTO;
    size_t live;
    if (list_check(&ctx->all, SIZE_MAX, &live) != SB_OK || live != ctx->live)
        return SB_EPROTO;
    for (const sb_list_node_t *p = ctx->all.next; p != &ctx->all; p = p->next)
        if (sb_conn_outq_validate(sb_container_of(p, sb_conn_t, all_node)) != SB_OK)
            return SB_EPROTO;
    return SB_OK;
}
