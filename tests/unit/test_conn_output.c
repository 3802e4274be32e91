/* A connection's output queue, on real connections over socketpairs: the
 * process-wide bound cutting a connection that has nothing queued. */
#include <sys/socket.h>
#include <unistd.h>

#include "core/conn.h"
#include "core/err.h"
#include "core/log.h"
#include "core/loop.h"
#include "loop_moment.h"
#include "testlib.h"

static long ignore_data(sb_conn_t *c, char *p, size_t n) { return (long)n; }
static void on_conn_close(sb_conn_t *c) {}
static void on_slow(sb_conn_t *c) {} /* a protocol with no goodbye to queue */
static const sb_conn_handler_t quiet = {
    .on_data = ignore_data, .on_close = on_conn_close, .on_slow = on_slow};

typedef struct {
    sb_loop_t loop;
    sb_conn_ctx_t ctx;
    sb_conn_t *c, *c2; /* c2: a second connection, when a test opens one */
    int peer, peer2;
} world_t;

/* A connection of w's context; *peer gets the other end. */
static sb_conn_t *conn_open(world_t *w, int *peer) {
    int sv[2];
    struct sockaddr_storage addr = {.ss_family = AF_UNIX};
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    *peer = sv[1];
    sb_conn_t *c = sb_conn_create(&w->ctx, sv[0], &addr, &quiet, NULL);
    CHECK(c != NULL);
    return c;
}

static void world_open(world_t *w) {
    CHECK_EQ(sb_loop_init(&w->loop), SB_OK);
    CHECK_EQ(sb_conn_ctx_init(&w->ctx, &w->loop), SB_OK);
    w->c = conn_open(w, &w->peer);
    w->c2 = NULL;
    w->peer2 = -1;
}

/* Closes the connection and checks it is freed. */
static void conn_gone(world_t *w) {
    sb_conn_close(w->c);
    run_a_moment(&w->loop);
    CHECK_EQ(w->ctx.live, 0);
}

static void world_close(world_t *w) {
    close(w->peer);
    if (w->peer2 >= 0)
        close(w->peer2);
    sb_conn_ctx_dispose(&w->ctx);
    sb_loop_dispose(&w->loop);
}

/* All queues together would pass the bound and the connection written to
 * has nothing queued yet: it is the one cut, with nothing to keep. */
TEST(the_total_bound_cuts_a_connection_with_an_empty_queue) {
    world_t w;
    char msg[60] = {0};
    world_open(&w);
    w.ctx.max_total_outq = 100;
    w.c2 = conn_open(&w, &w.peer2);
    CHECK_EQ(sb_conn_write(w.c, msg, sizeof msg), SB_OK); /* queued: the loop has not run */
    CHECK_EQ(sb_conn_write(w.c2, msg, sizeof msg), SB_ETOOBIG);
    CHECK_EQ(w.ctx.total_outq_cuts, 1);
    CHECK_EQ(w.ctx.outq_total, sizeof msg);
    run_a_moment(&w.loop);
    CHECK_EQ(w.ctx.live, 1); /* c2 closed: nothing was queued to say goodbye with */
    conn_gone(&w);
    world_close(&w);
}

int main(void) {
    sb_log_cfg.level = SB_LOG_WARN; /* the cut's info line is expected */
    RUN(the_total_bound_cuts_a_connection_with_an_empty_queue);
    TEST_MAIN_END();
}
