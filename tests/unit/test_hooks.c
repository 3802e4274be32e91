/* Tests for hooks/: the signature (RFC 4231 vector), settings, and the
 * libcurl client on a real loop against a loopback port nobody listens on:
 * each call ends exactly once, never inside sb_hooks_post, pushes are
 * retried with backoff, the in-flight bound refuses and counts, and
 * destroying the hooks ends what is still running. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/loop.h"
#include "hooks/hooks.h"
#include "testlib.h"

TEST(signature_rfc4231_case2) {
    char sig[SB_HOOKS_SIGNATURE_MAX];
    sb_hooks_sign("Jefe", SB_LIT("what do ya want for nothing?"), sig);
    CHECK(strcmp(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") ==
          0);
}

/* A loopback port that refuses connections: bound, never listened on. */
static int dead_port(int *fd) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    if (*fd < 0 || bind(*fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(*fd, (struct sockaddr *)&a, &n) < 0)
        return 0;
    return ntohs(a.sin_port);
}

typedef struct {
    sb_loop_t *loop;
    int calls, rc;
    bool in_post;
    char why[128];
} done_t;

static void on_done(void *ud, int rc, sb_str_t body, const char *why) {
    done_t *d = ud;
    CHECK(!d->in_post);
    d->calls++;
    d->rc = rc;
    snprintf(d->why, sizeof d->why, "%s", why);
    sb_loop_stop(d->loop);
}

static void on_deadline(sb_timer_t *t) { sb_loop_stop(t->loop); }

static sb_hooks_config_t config(char *url, size_t cap, int port) {
    snprintf(url, cap, "http://127.0.0.1:%d/hooks/", port);
    return (sb_hooks_config_t){.url = url,
                               .enabled = "event,push",
                               .secret = "s",
                               .timeout_ms = {2000, 2000, 2000},
                               .max_in_flight = 1,
                               .push_retries = 2,
                               .retry_backoff_ms = 10};
}

TEST(settings) {
    sb_loop_t loop;
    CHECK(sb_loop_init(&loop) == SB_OK);
    char err[160], url[64];
    sb_hooks_config_t cfg = config(url, sizeof url, 1);
    cfg.url = "ftp://x";
    CHECK(sb_hooks_create(&loop, &cfg, err, sizeof err) == NULL);
    CHECK(strstr(err, "http://") != NULL);
    cfg = config(url, sizeof url, 1);
    cfg.enabled = "push,nope";
    CHECK(sb_hooks_create(&loop, &cfg, err, sizeof err) == NULL);
    CHECK(strstr(err, "'nope'") != NULL);
    cfg.enabled = "push";
    sb_hooks_t *h = sb_hooks_create(&loop, &cfg, err, sizeof err);
    CHECK(h != NULL);
    CHECK(sb_hooks_enabled(h, SB_HOOK_PUSH) && !sb_hooks_enabled(h, SB_HOOK_EVENT) &&
          !sb_hooks_enabled(h, SB_HOOK_CONNECT));
    done_t d = {.loop = &loop};
    CHECK(sb_hooks_post(h, SB_HOOK_EVENT, SB_LIT("{}"), on_done, &d) == SB_EINVAL);
    sb_hooks_destroy(h);
    CHECK(d.calls == 0);
    sb_loop_dispose(&loop);
}

/* Runs the loop until a done callback stops it (or 10 s pass). */
static void run(sb_loop_t *loop) {
    sb_timer_t deadline;
    sb_timer_init(loop, &deadline, on_deadline);
    sb_timer_start(&deadline, 10000);
    loop->stopping = false;
    sb_loop_run(loop);
    sb_timer_stop(&deadline);
}

TEST(backend_down_push_retried_event_not) {
    sb_loop_t loop;
    CHECK(sb_loop_init(&loop) == SB_OK);
    int fd;
    char err[160], url[64];
    sb_hooks_config_t cfg = config(url, sizeof url, dead_port(&fd));
    sb_hooks_t *h = sb_hooks_create(&loop, &cfg, err, sizeof err);
    CHECK(h != NULL);
    done_t push = {.loop = &loop, .in_post = true}, other = {.loop = &loop, .in_post = true};
    CHECK(sb_hooks_post(h, SB_HOOK_PUSH, SB_LIT("{\"id\":1}"), on_done, &push) == SB_OK);
    push.in_post = false;
    /* One call in flight is the bound: the next is refused and counted. */
    CHECK(sb_hooks_post(h, SB_HOOK_EVENT, SB_LIT("{}"), on_done, &other) == SB_ETOOBIG);
    CHECK(sb_hooks_stats(h, SB_HOOK_EVENT)->rejected == 1);
    run(&loop);
    CHECK(push.calls == 1 && push.rc == SB_EUNAVAIL);
    const sb_hook_stats_t *ps = sb_hooks_stats(h, SB_HOOK_PUSH);
    CHECK(ps->requests == 3 && ps->retries == 2 && ps->failures == 3 && ps->in_flight == 0);
    CHECK(sb_hooks_post(h, SB_HOOK_EVENT, SB_LIT("{}"), on_done, &other) == SB_OK);
    other.in_post = false;
    run(&loop);
    CHECK(other.calls == 1 && other.rc == SB_EUNAVAIL);
    CHECK(sb_hooks_stats(h, SB_HOOK_EVENT)->requests == 1); /* events are not retried */
    sb_hooks_destroy(h);
    close(fd);
    sb_loop_dispose(&loop);
}

TEST(destroy_ends_running_calls) {
    sb_loop_t loop;
    CHECK(sb_loop_init(&loop) == SB_OK);
    int fd;
    char err[160], url[64];
    sb_hooks_config_t cfg = config(url, sizeof url, dead_port(&fd));
    cfg.retry_backoff_ms = 60000; /* the push waits for its retry when destroyed */
    sb_hooks_t *h = sb_hooks_create(&loop, &cfg, err, sizeof err);
    done_t d = {.loop = &loop};
    CHECK(h && sb_hooks_post(h, SB_HOOK_PUSH, SB_LIT("{}"), on_done, &d) == SB_OK);
    sb_hooks_destroy(h);
    CHECK(d.calls == 1 && d.rc == SB_ECLOSED);
    close(fd);
    sb_loop_dispose(&loop);
}

int main(void) {
    RUN(signature_rfc4231_case2);
    RUN(settings);
    RUN(backend_down_push_retried_event_not);
    RUN(destroy_ends_running_calls);
    TEST_MAIN_END();
}
