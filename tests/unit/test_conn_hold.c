/* sb_conn_hold_output: held output stays queued across loop turns and
 * leaves in one write once released; a close after flush ends the hold. A
 * real connection over a socketpair. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/conn.h"
#include "core/err.h"
#include "core/loop.h"
#include "loop_moment.h"
#include "testlib.h"

static long ignore_data(sb_conn_t *c, char *p, size_t n) { return (long)n; }
static void on_conn_close(sb_conn_t *c) {}
static const sb_conn_handler_t quiet = {.on_data = ignore_data, .on_close = on_conn_close};

typedef struct {
    sb_loop_t loop;
    sb_conn_ctx_t ctx;
    sb_conn_t *c;
    int peer;
} world_t;

static void world_open(world_t *w) {
    int sv[2];
    struct sockaddr_storage peer = {.ss_family = AF_UNIX};
    CHECK_EQ(sb_loop_init(&w->loop), SB_OK);
    CHECK_EQ(sb_conn_ctx_init(&w->ctx, &w->loop), SB_OK);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    w->peer = sv[1];
    w->c = sb_conn_create(&w->ctx, sv[0], &peer, &quiet, NULL);
    CHECK(w->c != NULL);
}

/* A connection whose output is held with `text` queued. */
static void world_open_held(world_t *w, const char *text) {
    world_open(w);
    sb_conn_hold_output(w->c, true);
    CHECK_EQ(sb_conn_write(w->c, text, strlen(text)), SB_OK);
}

/* Closes the connection and checks it is freed. */
static void conn_gone(world_t *w) {
    sb_conn_close(w->c);
    run_a_moment(&w->loop);
    CHECK_EQ(w->ctx.live, 0);
}

static void world_close(world_t *w) {
    close(w->peer);
    sb_conn_ctx_dispose(&w->ctx);
    sb_loop_dispose(&w->loop);
}

/* What the peer can read now (0 when nothing). */
static long peer_read(world_t *w, char *buf, size_t cap) {
    long r = read(w->peer, buf, cap);
    return r < 0 && errno == EAGAIN ? 0 : r;
}

TEST(held_output_waits_then_leaves_in_one_write) {
    world_t w;
    char buf[64];
    world_open_held(&w, "answer;");
    run_a_moment(&w.loop);
    run_a_moment(&w.loop);
    CHECK_EQ(peer_read(&w, buf, sizeof buf), 0); /* held across turns */
    CHECK_EQ(sb_conn_queued(w.c), 7);
    CHECK_EQ(sb_conn_write(w.c, "event", 5), SB_OK);
    sb_conn_hold_output(w.c, false);
    run_a_moment(&w.loop);
    long r = peer_read(&w, buf, sizeof buf);
    CHECK_MEM(buf, r > 0 ? r : 0, "answer;event"); /* both, in order, one read */
    CHECK_EQ(sb_conn_queued(w.c), 0);
    sb_conn_hold_output(w.c, false);                /* releasing twice: nothing happens */
    CHECK_EQ(sb_conn_write(w.c, "live", 4), SB_OK); /* not held any more */
    run_a_moment(&w.loop);
    r = peer_read(&w, buf, sizeof buf);
    CHECK_MEM(buf, r > 0 ? r : 0, "live");
    conn_gone(&w);
    world_close(&w);
}

TEST(close_after_flush_ends_a_hold) {
    world_t w;
    char buf[64];
    world_open_held(&w, "goodbye");
    sb_conn_close_after_flush(w.c);
    run_a_moment(&w.loop);
    long r = peer_read(&w, buf, sizeof buf);
    CHECK_MEM(buf, r > 0 ? r : 0, "goodbye"); /* written, the hold ended */
    CHECK_EQ(sb_conn_queued(w.c), 0);
    conn_gone(&w); /* the lingering close's end, without waiting for the peer */
    world_close(&w);
}

TEST(a_close_drops_held_output) {
    world_t w;
    char buf[64];
    world_open_held(&w, "never");
    conn_gone(&w);
    CHECK_EQ(w.ctx.discarded_bytes, 5);
    CHECK_EQ(read(w.peer, buf, sizeof buf), 0); /* EOF, nothing before it */
    world_close(&w);
}

int main(void) {
    RUN(held_output_waits_then_leaves_in_one_write);
    RUN(close_after_flush_ends_a_hold);
    RUN(a_close_drops_held_output);
    TEST_MAIN_END();
}
