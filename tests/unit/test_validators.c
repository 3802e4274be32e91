/* The deep validators (core/validate.h) on real structures: they accept
 * every state the timer wheel and the output rings go through (arming,
 * moving, firing, growing, wrapping around, draining), and they refuse a
 * corrupted one, so a test that calls them can fail. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/conn.h"
#include "core/err.h"
#include "core/loop.h"
#include "core/validate.h"
#include "loop_moment.h"
#include "testlib.h"

void sb_loop__advance_for_tests(sb_loop_t *l); /* loop.c test hook */

#define NTIMERS 600

static int fired;
static void count_fire(sb_timer_t *t) { fired++; }

TEST(wheel_valid_through_arm_move_stop_and_fire) {
    static sb_timer_t t[NTIMERS];
    sb_loop_t l;
    CHECK_EQ(sb_loop_init(&l), SB_OK);
    CHECK_EQ(sb_loop_validate(&l), SB_OK);
    srand(7);
    fired = 0;
    for (int i = 0; i < NTIMERS; i++) {
        sb_timer_init(&l, &t[i], count_fire);
        /* near, far (more than one lap of the wheel) and already due */
        uint64_t after = i % 10 == 0 ? 0 : (uint64_t)(rand() % 20000);
        sb_timer_start(&t[i], after);
        CHECK_EQ(sb_loop_validate(&l), SB_OK);
    }
    for (int i = 0; i < NTIMERS; i += 3)
        sb_timer_stop(&t[i]);
    for (int i = 1; i < NTIMERS; i += 7)
        sb_timer_start(&t[i], (uint64_t)(rand() % 500)); /* moved, or armed again */
    int armed = 0;
    for (int i = 0; i < NTIMERS; i++)
        armed += sb_timer_active(&t[i]);
    CHECK_EQ(sb_loop_validate(&l), SB_OK);
    uint64_t end = l.now_ms + 21000;
    while (l.now_ms < end) { /* drive time by hand: 21 s in 37 ms steps */
        l.now_ms += 37;
        sb_loop__advance_for_tests(&l);
        if (sb_loop_validate(&l) != SB_OK) {
            CHECK(!"wheel invalid while firing");
            break;
        }
    }
    CHECK(armed > NTIMERS / 2);
    CHECK_EQ(fired, armed);
    CHECK_EQ(l._timers, 0);
    sb_loop_dispose(&l);
}

TEST(wheel_corruption_is_refused) {
    sb_loop_t l;
    sb_timer_t a, b;
    CHECK_EQ(sb_loop_init(&l), SB_OK);
    sb_timer_init(&l, &a, count_fire);
    sb_timer_init(&l, &b, count_fire);
    sb_timer_start(&a, 1000);
    sb_timer_start(&b, 5000);
    CHECK_EQ(sb_loop_validate(&l), SB_OK);
    l._timers++; /* a count that lies */
    CHECK_EQ(sb_loop_validate(&l), SB_EPROTO);
    l._timers--;
    uint64_t due = a._due_ms;
    a._due_ms += 3 * SB_WHEEL_TICK_MS; /* in the wrong slot */
    CHECK_EQ(sb_loop_validate(&l), SB_EPROTO);
    a._due_ms = due;
    sb_list_node_t *prev = b._node.prev;
    b._node.prev = &a._node; /* a broken back link */
    CHECK_EQ(sb_loop_validate(&l), SB_EPROTO);
    b._node.prev = prev;
    CHECK_EQ(sb_loop_validate(&l), SB_OK);
    sb_timer_stop(&a);
    sb_timer_stop(&b);
    sb_loop_dispose(&l);
}

/* ---- output rings: a real connection over a socketpair whose peer reads
 * slowly, so the ring grows, drains partly and wraps around. ---- */

typedef struct {
    sb_loop_t loop;
    sb_conn_ctx_t ctx;
    sb_conn_t *c;
    int peer;
    sb_timer_t step;
    int steps, invalid;
    uint32_t max_cap;
    bool wrapped;
} ring_world_t;

static long ignore_data(sb_conn_t *c, char *p, size_t n) { return (long)n; }
static void on_conn_close(sb_conn_t *c) {}
static const sb_conn_handler_t quiet = {.on_data = ignore_data, .on_close = on_conn_close};

static void check_ring(ring_world_t *w) {
    if (sb_conn_ctx_validate(&w->ctx) != SB_OK)
        w->invalid++;
    if (w->c) {
        if (w->c->oq_cap > w->max_cap)
            w->max_cap = w->c->oq_cap;
        if (w->c->oq_len && w->c->oq_head + w->c->oq_len > w->c->oq_cap)
            w->wrapped = true;
    }
}

static void on_step(sb_timer_t *t) {
    ring_world_t *w = sb_container_of(t, ring_world_t, step);
    char buf[65536];
    check_ring(w);
    if (w->steps++ < 40 && w->c) {
        for (int i = 0; i < 7; i++) { /* queue more than the peer reads */
            char msg[3000];
            memset(msg, 'a' + (w->steps % 26), sizeof msg);
            sb_conn_write(w->c, msg, sizeof msg);
            check_ring(w);
        }
        while (read(w->peer, buf, sizeof buf) > 0) /* the peer catches up a little */
            if (w->steps % 2)
                break;
        sb_timer_start(t, 2);
        return;
    }
    if (w->c) {
        sb_conn_close(w->c);
        w->c = NULL;
        sb_timer_start(t, 2); /* one more turn frees it */
        return;
    }
    sb_loop_stop(&w->loop);
}

TEST(output_rings_valid_while_growing_draining_and_wrapping) {
    ring_world_t *w = calloc(1, sizeof *w);
    int sv[2];
    struct sockaddr_storage peer = {.ss_family = AF_UNIX};
    int small = 4096;
    CHECK_EQ(sb_loop_init(&w->loop), SB_OK);
    CHECK_EQ(sb_conn_ctx_init(&w->ctx, &w->loop), SB_OK);
    w->ctx.max_outq = 64u << 20;
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    w->peer = sv[1];
    w->c = sb_conn_create(&w->ctx, sv[0], &peer, &quiet, w);
    CHECK(w->c != NULL);
    sb_timer_init(&w->loop, &w->step, on_step);
    sb_timer_start(&w->step, 1);
    sb_loop_run(&w->loop);
    CHECK_EQ(w->invalid, 0);
    CHECK(w->max_cap >= 16); /* it grew */
    CHECK(w->wrapped);       /* and wrapped around */
    CHECK_EQ(w->ctx.live, 0);
    CHECK_EQ(sb_conn_ctx_validate(&w->ctx), SB_OK);
    close(sv[1]);
    sb_conn_ctx_dispose(&w->ctx);
    sb_loop_dispose(&w->loop);
    free(w);
}

TEST(ring_corruption_is_refused) {
    sb_loop_t l;
    sb_conn_ctx_t ctx;
    int sv[2];
    struct sockaddr_storage peer = {.ss_family = AF_UNIX};
    CHECK_EQ(sb_loop_init(&l), SB_OK);
    CHECK_EQ(sb_conn_ctx_init(&ctx, &l), SB_OK);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    sb_conn_t *c = sb_conn_create(&ctx, sv[0], &peer, &quiet, NULL);
    for (int i = 0; i < 10; i++)
        sb_conn_write(c, "hello", 5); /* queued: the loop has not flushed */
    CHECK_EQ(sb_conn_outq_validate(c), SB_OK);
    CHECK_EQ(sb_conn_ctx_validate(&ctx), SB_OK);
    c->oq_bytes++;
    CHECK_EQ(sb_conn_outq_validate(c), SB_EPROTO);
    CHECK_EQ(sb_conn_ctx_validate(&ctx), SB_EPROTO);
    c->oq_bytes--;
    uint32_t head = c->oq_head;
    c->oq_head = c->oq_cap; /* outside the ring */
    CHECK_EQ(sb_conn_outq_validate(c), SB_EPROTO);
    c->oq_head = head;
    ctx.live++;
    CHECK_EQ(sb_conn_ctx_validate(&ctx), SB_EPROTO);
    ctx.live--;
    CHECK_EQ(sb_conn_ctx_validate(&ctx), SB_OK);
    sb_conn_close(c);
    run_a_moment(&l);
    CHECK_EQ(ctx.live, 0);
    close(sv[1]);
    sb_conn_ctx_dispose(&ctx);
    sb_loop_dispose(&l);
}

TEST(assert_is_on_in_debug_builds_only) {
#ifdef SB_DEBUG
    CHECK(1); /* SB_ASSERT(false) would abort here: not run */
#endif
    SB_ASSERT(1 + 1 == 2);
    SB_VALIDATE(sb_conn_outq_validate, &(sb_conn_t){0});
}

int main(void) {
    RUN(wheel_valid_through_arm_move_stop_and_fire);
    RUN(wheel_corruption_is_refused);
    RUN(output_rings_valid_while_growing_draining_and_wrapping);
    RUN(ring_corruption_is_refused);
    RUN(assert_is_on_in_debug_builds_only);
    TEST_MAIN_END();
}
