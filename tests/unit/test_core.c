/* Loop timers and tasks, the string map, configuration and query tokens. */
#include <stdlib.h>
#include <unistd.h>

#include "auth/token_source.h"
#include "app/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/frame.h"
#include "core/loop.h"
#include "core/map.h"
#include "testlib.h"

/* ---- timers: driven by hand through now_ms, as the loop does ---------------- */

typedef struct {
    sb_timer_t t;
    int fired;
    uint64_t at;
} probe_t;

static void on_probe(sb_timer_t *t) {
    probe_t *p = sb_container_of(t, probe_t, t);
    p->fired++;
    p->at = t->loop->now_ms;
}

/* Test hook in loop.c: runs the wheel up to l->now_ms. */
void sb_loop__advance_for_tests(sb_loop_t *l);

TEST(timer_fires_once_after_delay) {
    sb_loop_t l;
    CHECK_EQ(sb_loop_init(&l), SB_OK);
    probe_t p = {0};
    sb_timer_init(&l, &p.t, on_probe);
    uint64_t start = l.now_ms;
    sb_timer_start(&p.t, 30);
    CHECK(sb_timer_active(&p.t));
    /* Time moved by hand: a loaded machine's sleeps cannot overshoot it. */
    l.now_ms = start + 15;
    sb_loop__advance_for_tests(&l);
    CHECK_EQ(p.fired, 0);
    l.now_ms = start + 55;
    sb_loop__advance_for_tests(&l);
    CHECK_EQ(p.fired, 1);
    CHECK(p.at >= start + 30);
    CHECK(!sb_timer_active(&p.t));
    l.now_ms = start + 75;
    sb_loop__advance_for_tests(&l);
    CHECK_EQ(p.fired, 1);
    sb_loop_dispose(&l);
}

TEST(timer_stop_and_restart) {
    sb_loop_t l;
    sb_loop_init(&l);
    probe_t a = {0}, b = {0};
    sb_timer_init(&l, &a.t, on_probe);
    sb_timer_init(&l, &b.t, on_probe);
    sb_timer_start(&a.t, 20);
    sb_timer_start(&b.t, 20);
    sb_timer_stop(&a.t);
    sb_timer_stop(&a.t);      /* idempotent */
    sb_timer_start(&b.t, 60); /* restart moves it */
    uint64_t start = l.now_ms;
    l.now_ms = start + 40;
    sb_loop__advance_for_tests(&l);
    CHECK_EQ(a.fired, 0);
    CHECK_EQ(b.fired, 0);
    l.now_ms = start + 80;
    sb_loop__advance_for_tests(&l);
    CHECK_EQ(b.fired, 1);
    CHECK_EQ(l._timers, 0);
    sb_loop_dispose(&l);
}

/* An absolute deadline: due when asked, fired on the tick after it, and
 * one already past fires on the next tick. sb_timer_due() reports the
 * deadline itself, not the tick, so a caller can check it exactly. */
TEST(timer_start_at_absolute_deadline) {
    sb_loop_t l;
    sb_loop_init(&l);
    probe_t p = {0};
    sb_timer_init(&l, &p.t, on_probe);
    uint64_t due = l.now_ms + 21; /* not on a tick boundary on purpose */
    sb_timer_start_at(&p.t, due);
    CHECK_EQ(sb_timer_due(&p.t), due);
    l.now_ms = due - 1;
    sb_loop__advance_for_tests(&l);
    CHECK_EQ(p.fired, 0);
    l.now_ms = due + SB_WHEEL_TICK_MS;
    sb_loop__advance_for_tests(&l);
    CHECK_EQ(p.fired, 1);
    CHECK_EQ(sb_timer_due(&p.t), due); /* kept after firing: the next deadline counts from it */
    sb_timer_start_at(&p.t, sb_timer_due(&p.t) + 5); /* already past */
    l.now_ms += SB_WHEEL_TICK_MS;
    sb_loop__advance_for_tests(&l);
    CHECK_EQ(p.fired, 2);
    sb_loop_dispose(&l);
}

TEST(timer_beyond_one_wheel_revolution) {
    sb_loop_t l;
    sb_loop_init(&l);
    probe_t p = {0};
    sb_timer_init(&l, &p.t, on_probe);
    uint64_t rev = SB_WHEEL_SLOTS * SB_WHEEL_TICK_MS;
    /* Pretend time: start far in the future relative to one lap. */
    sb_timer_start(&p.t, rev + 50);
    l.now_ms += rev; /* a lap passes: the slot is visited but not due */
    sb_loop__advance_for_tests(&l);
    CHECK_EQ(p.fired, 0);
    l.now_ms += 60;
    sb_loop__advance_for_tests(&l);
    CHECK_EQ(p.fired, 1);
    sb_loop_dispose(&l);
}

typedef struct {
    sb_task_t t;
    int runs;
} task_probe_t;

static void on_task(sb_task_t *t) { sb_container_of(t, task_probe_t, t)->runs++; }

TEST(task_posted_twice_runs_once) {
    sb_loop_t l;
    sb_loop_init(&l);
    task_probe_t a, b;
    a.runs = b.runs = 0;
    sb_task_init(&a.t, on_task);
    sb_task_init(&b.t, on_task);
    sb_task_post(&l, &a.t);
    sb_task_post(&l, &a.t);
    sb_task_post(&l, &b.t);
    sb_task_cancel(&b.t);
    sb_loop_stop(&l);
    sb_loop_run(&l); /* stopping: runs pending tasks once and returns */
    CHECK_EQ(a.runs, 1);
    CHECK_EQ(b.runs, 0);
    sb_loop_dispose(&l);
}

/* ---- map ----------------------------------------------------------------------- */

static bool count_cb(sb_str_t k, void *v, void *ud) {
    (*(size_t *)ud)++;
    return true;
}

TEST(map_put_get_del_grow) {
    sb_map_t m;
    sb_map_init(&m);
    static int vals[1000];
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "user:%d", i);
        CHECK_EQ(sb_map_put(&m, sb_cstr(key), &vals[i]), SB_OK);
    }
    CHECK_EQ(m.count, 1000);
    CHECK(sb_map_get(&m, SB_LIT("user:999")) == &vals[999]);
    CHECK(sb_map_get(&m, SB_LIT("user:1000")) == NULL);
    CHECK_EQ(sb_map_put(&m, SB_LIT("user:5"), &vals[0]), SB_OK); /* replace */
    CHECK_EQ(m.count, 1000);
    CHECK(sb_map_get(&m, SB_LIT("user:5")) == &vals[0]);
    CHECK(sb_map_del(&m, SB_LIT("user:5")) == &vals[0]);
    CHECK(sb_map_del(&m, SB_LIT("user:5")) == NULL);
    size_t n = 0;
    sb_map_foreach(&m, count_cb, &n);
    CHECK_EQ(n, 999);
    CHECK(sb_map_get(&m, sb_str("a\0b", 3)) == NULL);
    CHECK_EQ(sb_map_put(&m, sb_str("a\0b", 3), &vals[1]), SB_OK); /* keys are bytes */
    CHECK(sb_map_get(&m, sb_str("a\0b", 3)) == &vals[1]);
    CHECK(sb_map_get(&m, sb_str("a\0c", 3)) == NULL);
    sb_map_dispose(&m);
}

/* ---- config ---------------------------------------------------------------------- */

TEST(config_defaults_and_precedence) {
    sb_config_t c;
    char err[256];
    sb_config_init(&c);
    CHECK_EQ(c.port, 3000);
    CHECK_EQ(c.ping_interval, 25000);
    CHECK_EQ(c.ping_timeout, 20000);
    CHECK_EQ(c.max_http_buffer_size, 1000000);
    CHECK(!c.allow_query_token);
    CHECK(strcmp(c.data_dir, "./data") == 0);
    char path[] = "/tmp/sb-config-XXXXXX";
    int fd = mkstemp(path);
    const char *file = "# comment\n\nport = 4000\nlog-level = debug\nping-timeout=7\n";
    CHECK(write(fd, file, strlen(file)) == (ssize_t)strlen(file));
    close(fd);
    setenv("SWITCHBOARD_PING_TIMEOUT", "9", 1);
    setenv("SWITCHBOARD_JWT_SECRET", "from-env", 1);
    char *argv[] = {"sb",    "--config",           path, "--jwt-secret=from-argv",
                    "--dev", "--ws-deflate=false", NULL};
    CHECK_EQ(sb_config_load(&c, 6, argv, err, sizeof err), SB_OK);
    CHECK_EQ(c.port, 4000); /* file */
    CHECK(strcmp(c.log_level, "debug") == 0);
    CHECK_EQ(c.ping_timeout, 9);                   /* env beats file */
    CHECK(strcmp(c.jwt_secret, "from-argv") == 0); /* argv beats env */
    CHECK(c.dev);
    CHECK(!c.ws_deflate);
    unsetenv("SWITCHBOARD_PING_TIMEOUT");
    unsetenv("SWITCHBOARD_JWT_SECRET");
    unlink(path);
    sb_config_dispose(&c);
}

/* A boolean flag takes a separate true/false word, or stands alone. */
TEST(config_boolean_flag_forms) {
    sb_config_t c;
    char err[256];
    sb_config_init(&c);
    char *a1[] = {"sb", "--ws-deflate", "true", "--dev", "false", "--allow-query-token", NULL};
    CHECK_EQ(sb_config_load(&c, 6, a1, err, sizeof err), SB_OK);
    CHECK(c.ws_deflate);
    CHECK(!c.dev);
    CHECK(c.allow_query_token);
    char *a2[] = {"sb", "--ws-deflate",        "off", "--dev", "--port",
                  "7",  "--allow-query-token", "1",   NULL};
    CHECK_EQ(sb_config_load(&c, 8, a2, err, sizeof err), SB_OK);
    CHECK(!c.ws_deflate);
    CHECK(c.dev);
    CHECK_EQ(c.port, 7);
    CHECK(c.allow_query_token);
    char *a3[] = {"sb", "--dev", "maybe", NULL}; /* not a boolean word: not its value */
    CHECK_EQ(sb_config_load(&c, 3, a3, err, sizeof err), SB_EINVAL);
    CHECK(strstr(err, "unexpected argument 'maybe'") != NULL);
    sb_config_dispose(&c);
}

TEST(config_rejects_bad_input) {
    sb_config_t c;
    char err[256];
    sb_config_init(&c);
    CHECK_EQ(sb_config_set(&c, "port", "12x", err, sizeof err), SB_EINVAL);
    CHECK(strstr(err, "port") != NULL);
    CHECK_EQ(sb_config_set(&c, "port", "-1", err, sizeof err), SB_EINVAL);
    CHECK_EQ(sb_config_set(&c, "dev", "maybe", err, sizeof err), SB_EINVAL);
    CHECK_EQ(sb_config_set(&c, "no-such", "1", err, sizeof err), SB_ENOTFOUND);
    char *a1[] = {"sb", "--bogus", NULL};
    CHECK_EQ(sb_config_load(&c, 2, a1, err, sizeof err), SB_EINVAL);
    CHECK(strstr(err, "bogus") != NULL);
    char *a2[] = {"sb", "--port", NULL};
    CHECK_EQ(sb_config_load(&c, 2, a2, err, sizeof err), SB_EINVAL);
    char *a3[] = {"sb", "positional", NULL};
    CHECK_EQ(sb_config_load(&c, 2, a3, err, sizeof err), SB_EINVAL);
    char *a4[] = {"sb", "--config", "/nonexistent/x.conf", NULL};
    CHECK_EQ(sb_config_load(&c, 3, a4, err, sizeof err), SB_EINVAL);
    sb_config_dispose(&c);
}

/* ---- query tokens ------------------------------------------------------------------ */

TEST(query_param_lookup_and_decoding) {
    char out[64];
    CHECK(sb_auth_query_param(SB_LIT("EIO=4&transport=polling&token=abc.def"), "token", out,
                              sizeof out));
    CHECK(strcmp(out, "abc.def") == 0);
    CHECK(sb_auth_query_param(SB_LIT("token=a%2Eb+c"), "token", out, sizeof out));
    CHECK(strcmp(out, "a.b c") == 0);
    CHECK(!sb_auth_query_param(SB_LIT("xtoken=1&tokens=2"), "token", out, sizeof out));
    CHECK(!sb_auth_query_param(SB_LIT("token=%zz"), "token", out, sizeof out));
    CHECK(!sb_auth_query_param(SB_LIT("token=%4"), "token", out, sizeof out));
    CHECK(!sb_auth_query_param(SB_LIT("token=0123456789"), "token", out, 5)); /* too long */
    CHECK(sb_auth_query_param(SB_LIT("token="), "token", out, sizeof out));
    CHECK_EQ(out[0], '\0');
    CHECK(!sb_auth_query_param(SB_STR_NULL, "token", out, sizeof out));
}

TEST(log_limit_per_kind) {
    static sb_log_limiter_t l; /* zeroed: ready */
    uint64_t dropped = 99;
    int allowed = 0;
    for (int i = 0; i < 3 * SB_LOG_LIMIT_LINES; i++)
        allowed += sb_log_limit(&l, "disk full", &dropped);
    CHECK_EQ(allowed, SB_LOG_LIMIT_LINES);
    CHECK(sb_log_limit(&l, "another kind", &dropped)); /* kinds are limited separately */
    CHECK_EQ(dropped, 0);
    /* A new window: the next line says how many were dropped. */
    for (int i = 0; i < SB_LOG_LIMIT_KINDS; i++)
        l.slot[i].window_start_ms -= SB_LOG_LIMIT_WINDOW_MS;
    CHECK(sb_log_limit(&l, "disk full", &dropped));
    CHECK_EQ(dropped, 2 * SB_LOG_LIMIT_LINES);
    CHECK(sb_log_limit(&l, "disk full", &dropped));
    CHECK_EQ(dropped, 0);
    /* Two kinds in one slot (FNV-1a of both is 5 mod 16), alternating as a
     * failing request and its database error do, share the slot's limit. */
    static sb_log_limiter_t shared;
    allowed = 0;
    for (int i = 0; i < 3 * SB_LOG_LIMIT_LINES; i++)
        allowed += sb_log_limit(&shared, i % 2 ? "42501" : "message_append", &dropped);
    CHECK_EQ(allowed, SB_LOG_LIMIT_LINES);
}

/* A frame from the worker's slab goes back there with its last reference,
 * its chain too (from the slab or not), and keeps its bytes until then. */
TEST(frames_from_a_slab_go_back_to_it) {
    sb_loop_t l;
    CHECK_EQ(sb_loop_init(&l), SB_OK);
    sb_frame_t *f = sb_frame_create_in(&l.slab, "42[\"hi\"]", 8, 0);
    CHECK(f != NULL);
    CHECK(f->slab == &l.slab);
    CHECK_MEM(f->data, f->len, "42[\"hi\"]");
    CHECK_EQ(f->data[8], '\0');
    f->next = sb_frame_create("att", 3, SB_FRAME_BINARY); /* from malloc */
    f->next->next = sb_frame_create_in(&l.slab, NULL, 1500, SB_FRAME_BINARY);
    CHECK_EQ(sb_slab_live(&l.slab), 2);
    sb_frame_ref(f);
    sb_frame_unref(f);
    CHECK_EQ(sb_slab_live(&l.slab), 2); /* one reference left */
    CHECK_MEM(f->data, f->len, "42[\"hi\"]");
    sb_frame_unref(f);
    CHECK_EQ(sb_slab_live(&l.slab), 0);
    sb_frame_t *big = sb_frame_create_in(&l.slab, NULL, 5000, 0); /* past the slab: calloc */
    CHECK(big != NULL && big->len == 5000);
    sb_frame_unref(big);
    CHECK_EQ(sb_slab_live(&l.slab), 0);
    sb_loop_dispose(&l);
}

int main(void) {
    RUN(timer_fires_once_after_delay);
    RUN(timer_stop_and_restart);
    RUN(timer_beyond_one_wheel_revolution);
    RUN(timer_start_at_absolute_deadline);
    RUN(task_posted_twice_runs_once);
    RUN(map_put_get_del_grow);
    RUN(config_defaults_and_precedence);
    RUN(config_boolean_flag_forms);
    RUN(config_rejects_bad_input);
    RUN(query_param_lookup_and_decoding);
    RUN(log_limit_per_kind);
    RUN(frames_from_a_slab_go_back_to_it);
    TEST_MAIN_END();
}
