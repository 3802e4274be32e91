/* A request's life on the loop thread: its arena, the copies and checks of
 * its arguments, and its place in the queue the store thread takes batches
 * from. Every operation file builds its requests here; nothing here calls
 * an operation (store_ops.c does). */
#include "store/store_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/err.h"
#include "core/zalloc.h"

/* ---- per-request arena ------------------------------------------------------ */

struct sb_store__blk {
    sb_store__blk_t *next;
    size_t cap, used;
    max_align_t data[];
};

/* Most requests are small writes (a session save, a receipt: ~150 bytes of
 * arguments) and a storm queues thousands of them at once (19,000
 * disconnects: 19,000 session saves): the first block fits those, larger
 * arguments and results grow the arena by doubling. */
#define BLK_MIN 256
#define BLK_GROW_MAX 65536

/* A message's append holds its room, sender, content, recipients and
 * result: ~370 bytes for a short direct message, which a first block of
 * BLK_MIN would leave to a second one, from malloc, every message. */
#define BLK_APPEND 512

/* The first block comes with the request, in its allocation, at this
 * offset: one malloc a request instead of two or three. */
#define FIRST_BLK_AT ((sizeof(sb_store__req_t) + 15) & ~(size_t)15)

static size_t first_cap(const sb_store__op_t *op) {
    return op == &sb_store__ops[SB_STORE__OP_message_append] ? BLK_APPEND : BLK_MIN;
}

static sb_store__blk_t *first_blk(sb_store__req_t *r) {
    return (sb_store__blk_t *)(void *)((char *)r + FIRST_BLK_AT);
}

/* A block able to hold n bytes after b (the head, or NULL): the request's
 * own first block when unused and large enough, else from malloc. */
static sb_store__blk_t *blk_new(sb_store__req_t *r, const sb_store__blk_t *b, size_t n) {
    size_t cap = b ? (b->cap * 2 < BLK_GROW_MAX ? b->cap * 2 : BLK_GROW_MAX) : first_cap(r->op);
    if (cap < n)
        cap = n;
    sb_store__blk_t *nb = !b && cap == first_cap(r->op) ? first_blk(r) : malloc(sizeof *nb + cap);
    if (nb) {
        nb->cap = cap;
        nb->used = 0;
    }
    return nb;
}

void *sb_store__alloc(sb_store__req_t *r, size_t n) {
    if (n > SIZE_MAX / 2)
        return NULL;
    n = (n + 15) & ~(size_t)15;
    sb_store__blk_t *b = r->arena.head;
    if (!b || b->cap - b->used < n) {
        b = blk_new(r, b, n);
        if (!b)
            return NULL;
        b->next = r->arena.head;
        r->arena.head = b;
        r->arena.bytes += sizeof *b + b->cap;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

void *sb_store__grow(sb_store__req_t *r, void *arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 16;
    if (ncap > SIZE_MAX / 4 / elem)
        return NULL;
    void *p = sb_store__alloc(r, ncap * elem);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, arr, n * elem); /* the old array stays in the arena until the request dies */
    *cap = ncap;
    return p;
}

/* ---- operations: the rows of SB_STORE__OPS ------------------------------------- */

/* Without their exec functions (store_ops.c runs those): every operation
 * file builds its requests here, and none of them may depend on the file
 * that knows all of them. */
const sb_store__op_t sb_store__ops[SB_STORE__OP__COUNT] = {
#define SB_STORE__OP_ROW(name, args, kind, mode, retry)                                            \
    [SB_STORE__OP_##name] = {#name,                                                                \
                             SB_STORE__OP_##name,                                                  \
                             SB_STORE__##mode,                                                     \
                             SB_STORE__##mode == SB_STORE__WRITE,                                  \
                             SB_STORE__##retry,                                                    \
                             SB_STORE__K_##kind},
    SB_STORE__OPS(SB_STORE__OP_ROW)
#undef SB_STORE__OP_ROW
};

sb_store__req_t *sb_store__req_new(sb_store__op_id_t op, void *ud) {
    sb_store__req_t *r = sb_zalloc_part(
        FIRST_BLK_AT + sizeof(sb_store__blk_t) + first_cap(&sb_store__ops[op]), sizeof *r);
    if (r) {
        r->op = &sb_store__ops[op];
        r->ud = ud;
    }
    return r;
}

bool sb_store__may_run_again(const sb_store__req_t *r) {
    return r->op->retry == SB_STORE__ANY ||
           (r->op == &sb_store__ops[SB_STORE__OP_message_append] && r->args.message_append.key.p);
}

void sb_store__req_free(sb_store__req_t *r) {
    sb_store__blk_t *b = r->arena.head;
    while (b) {
        sb_store__blk_t *next = b->next;
        if (b != first_blk(r))
            free(b);
        b = next;
    }
    free(r);
}

bool sb_store__copy(sb_store__req_t *r, sb_str_t *dst, sb_str_t s, bool optional) {
    if (!s.p && optional) {
        *dst = (sb_str_t){NULL, 0};
        return true;
    }
    char *p = sb_store__alloc(r, s.n + 1);
    if (!p)
        return false;
    if (s.n)
        memcpy(p, s.p, s.n);
    p[s.n] = '\0';
    *dst = (sb_str_t){p, s.n};
    return true;
}

const char **sb_store__copy_list(sb_store__req_t *r, const sb_str_t *v, size_t n) {
    const char **list = n ? sb_store__alloc(r, n * sizeof *list) : NULL;
    for (size_t i = 0; list && i < n; i++) {
        sb_str_t copy;
        if (!sb_store__copy(r, &copy, v[i], false))
            return NULL;
        list[i] = copy.p;
    }
    return list;
}

const int64_t *sb_store__copy_ids(sb_store__req_t *r, const int64_t *v, size_t n) {
    int64_t *ids = sb_store__alloc(r, n * sizeof *ids);
    if (ids && n)
        memcpy(ids, v, n * sizeof *v);
    return ids;
}

/* ---- argument checks ------------------------------------------------------------ */

bool sb_store__valid(sb_str_t s, size_t min, size_t max) {
    if (!s.p)
        return s.n == 0 && min == 0; /* absent counts as empty where empty is fine */
    return s.n >= min && s.n <= max && memchr(s.p, '\0', s.n) == NULL;
}

bool sb_store__valid_opt(sb_str_t s, size_t min, size_t max) {
    return !s.p ? s.n == 0 : sb_store__valid(s, min, max);
}

bool sb_store__valid_list(const sb_str_t *v, size_t n, size_t min_n, size_t max_len) {
    if (n < min_n || n > SB_STORE_MAX_LIST || (n && !v))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!sb_store__valid(v[i], 1, max_len))
            return false;
    return true;
}

/* ---- validators (STYLE H20) ------------------------------------------------------- */

/* One of the rows of sb_store__ops, compared as addresses so that a stray
 * pointer is refused without being read. */
static bool op_valid(const sb_store__op_t *op) {
    uintptr_t p = (uintptr_t)op, first = (uintptr_t)&sb_store__ops[0];
    return p >= first && p < first + sizeof sb_store__ops && (p - first) % sizeof *op == 0;
}

/* The arena's blocks add up to arena.bytes, none filled past its end; the
 * request's charge was taken at submit and the arena only grows since. */
int sb_store__req_validate(const sb_store__req_t *r) {
    if (!op_valid(r->op))
        return SB_EPROTO;
    size_t bytes = 0;
    for (const sb_store__blk_t *b = r->arena.head; b; b = b->next) {
        if (b->used > b->cap || b->used % 16 || bytes > r->arena.bytes)
            return SB_EPROTO; /* the last test also stops a cycle */
        bytes += sizeof *b + b->cap;
    }
    if (bytes != r->arena.bytes)
        return SB_EPROTO;
    bool charged = r->charge >= sizeof *r && r->charge <= sizeof *r + bytes;
    return r->charge == 0 /* not submitted yet */ || charged ? SB_OK : SB_EPROTO;
}

/* A singly linked list whose tail is its last node, within `max` nodes
 * (a cycle runs past it); counts nodes and their charges. */
static int list_validate(const sb_store__req_t *head, const sb_store__req_t *tail, size_t max,
                         size_t *count, size_t *charge) {
    const sb_store__req_t *last = NULL;
    for (const sb_store__req_t *r = head; r; last = r, r = r->next) {
        if (++*count > max || r->charge == 0 || sb_store__req_validate(r) != SB_OK)
            return SB_EPROTO;
        *charge += r->charge;
    }
    return last == tail ? SB_OK : SB_EPROTO;
}

/* The pending queues (one per shard) and the done queue (the caller holds
 * st->mu): well formed, and together within what the loop thread counts as
 * outstanding, which includes the batches the store threads hold. O(queue): debug builds run it
 * once per delivered batch, not per submit. */
int sb_store__queue_validate(const sb_store_t *st) {
    size_t count = 0, charge = 0;
    if (st->outstanding > st->cfg.max_queue || st->outstanding_bytes > st->cfg.max_queue_bytes ||
        list_validate(st->done_head, st->done_tail, st->outstanding, &count, &charge) != SB_OK)
        return SB_EPROTO;
    for (size_t i = 0; i < st->n_shards; i++) {
        const sb_store__shard_t *sh = &st->shards[i];
        size_t before = count;
        if (list_validate(sh->pend_head, sh->pend_tail, st->outstanding, &count, &charge) !=
                SB_OK ||
            count - before != sh->pend_n)
            return SB_EPROTO;
    }
    return count <= st->outstanding && charge <= st->outstanding_bytes ? SB_OK : SB_EPROTO;
}

/* ---- queue (loop thread side) ------------------------------------------------------ */

int sb_store__submit(sb_store_t *st, sb_store__req_t *r, bool copied) {
    size_t charge = sizeof *r + r->arena.bytes;
    int rc = SB_OK;
    if (!copied)
        rc = SB_ENOMEM;
    else if (st->closing)
        rc = SB_ECLOSED;
    else if (st->outstanding >= st->cfg.max_queue ||
             charge > st->cfg.max_queue_bytes - st->outstanding_bytes)
        rc = SB_ETOOBIG;
    if (rc != SB_OK) {
        sb_store__req_free(r);
        return rc;
    }
    r->charge = charge;
    SB_VALIDATE(sb_store__req_validate, r);
    r->submitted_ms = (int64_t)sb_clock_ms();
    r->submitted_wall_ms = sb_wall_ms();
    st->outstanding++;
    st->outstanding_bytes += charge;
    sb_store__shard_t *sh = &st->shards[sb_store__route(st, r)];
    pthread_mutex_lock(&st->mu);
    bool was_empty = sh->pend_head == NULL;
    if (was_empty)
        sh->pend_head = r;
    else
        sh->pend_tail->next = r;
    sh->pend_tail = r;
    sh->pend_n++;
    if (was_empty) /* the thread re-checks its queue after each batch */
        pthread_cond_signal(&sh->work_cv);
    pthread_mutex_unlock(&st->mu);
    return SB_OK;
}

/* ---- shared submit shapes: copy the arguments every operation of a shape takes -------- */

int sb_store__submit_user_page(sb_store_t *st, sb_store__req_t *r, sb_store__user_page_args_t *a,
                               sb_str_t user, int64_t after_id, int limit) {
    if (!r)
        return SB_ENOMEM;
    a->after_id = after_id;
    a->limit = limit;
    return sb_store__submit(st, r, sb_store__copy(r, &a->user, user, false));
}

int sb_store__submit_user_ids(sb_store_t *st, sb_store__req_t *r, sb_store__user_ids_args_t *a,
                              sb_str_t user, const int64_t *ids, size_t n) {
    if (!r)
        return SB_ENOMEM;
    a->ids = sb_store__copy_ids(r, ids, n);
    a->n_ids = n;
    return sb_store__submit(st, r, sb_store__copy(r, &a->user, user, false) && a->ids);
}

int sb_store__submit_upto(sb_store_t *st, sb_store__req_t *r, sb_store__user_upto_args_t *a,
                          sb_str_t user, int64_t upto_id) {
    if (!r)
        return SB_ENOMEM;
    a->upto_id = upto_id;
    return sb_store__submit(st, r, sb_store__copy(r, &a->user, user, false));
}

int sb_store__submit_lookup(sb_store_t *st, sb_store__req_t *r, sb_store__lookup_args_t *a,
                            sb_str_t id) {
    if (!r)
        return SB_ENOMEM;
    return sb_store__submit(st, r, sb_store__copy(r, &a->id, id, false));
}
