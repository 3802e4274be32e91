/* The public API (include/switchboard.h) on a real server and loop, seen
 * only through that header: settings, alarms (repeat, stop, destroy from
 * their own callback), deferred work order, stop hooks and the bound port. */
#include <stdint.h>
#include <switchboard.h>

#include "testlib.h"

typedef struct {
    sb_server_t *srv;
    int repeats, onces, self_destroyed, stop_hooks;
    int port_seen;
    sb_alarm_t *once, *repeat, *self_destroying;
} world_t;

static world_t *quiet_server(world_t *w) {
    sb_settings_t s;
    char err[128];
    sb_settings_init(&s);
    s.port = 0;
    s.drain_timeout_ms = 100;
    sb_log_set_level(SB_LOG_WARN);
    w->srv = sb_server_create(&s, err, sizeof err);
    return w->srv ? w : NULL;
}

TEST(settings_are_checked_and_versioned) {
    sb_settings_t s;
    char err[128] = "";
    sb_settings_init(&s);
    CHECK_EQ(s.size, sizeof s);
    s.ping_interval_ms = 0;
    CHECK(sb_server_create(&s, err, sizeof err) == NULL);
    CHECK(err[0] != '\0');
    CHECK(sb_server_create(&s, NULL, 0) == NULL); /* no message buffer: still safe */
    CHECK_EQ(sb_version(), SB_VERSION_NUMBER);
    CHECK(sb_strerror(SB_ETOOBIG) != NULL);
    CHECK_EQ(sb_log_set_level(99), SB_EINVAL);
}

static void on_stop_hook(void *ud) { ((world_t *)ud)->stop_hooks++; }

static void on_self_destroying(sb_alarm_t *a, void *ud) {
    world_t *w = ud;
    w->self_destroyed++;
    sb_alarm_destroy(a); /* from its own callback */
    w->self_destroying = NULL;
}

static void on_repeat(sb_alarm_t *a, void *ud) {
    world_t *w = ud;
    w->port_seen = sb_server_port(w->srv);
    if (++w->repeats == 3) {
        sb_alarm_stop(a);
        sb_server_stop(w->srv);
    }
}

static void on_once(sb_alarm_t *a, void *ud) {
    world_t *w = ud;
    CHECK(!sb_alarm_active(a));
    w->onces++;
}

TEST(alarms_defer_and_stop_hooks_run_on_the_loop) {
    world_t w = {0};
    if (!quiet_server(&w)) {
        CHECK(!"server created");
        return;
    }
    w.repeat = sb_alarm_create(w.srv, on_repeat, &w);
    w.once = sb_alarm_create(w.srv, on_once, &w);
    w.self_destroying = sb_alarm_create(w.srv, on_self_destroying, &w);
    CHECK(w.repeat && w.once && w.self_destroying);
    sb_alarm_start(w.once, 5, 0);
    sb_alarm_start(w.self_destroying, 1, 50); /* would repeat, but destroys itself */
    sb_alarm_start(w.repeat, 20, 20);
    CHECK(sb_alarm_active(w.repeat));
    CHECK_EQ(sb_server_on_stop(w.srv, on_stop_hook, &w), SB_OK);
    CHECK_EQ(sb_server_port(w.srv), 0); /* not listening yet */
    CHECK_EQ(sb_server_run(w.srv), 0);
    CHECK_EQ(w.repeats, 3);
    CHECK_EQ(w.onces, 1);
    CHECK_EQ(w.self_destroyed, 1); /* it would have repeated */
    CHECK(w.port_seen > 0);
    CHECK_EQ(w.stop_hooks, 1);
    CHECK(!sb_alarm_active(w.repeat));
    sb_alarm_destroy(w.once);
    sb_server_destroy(w.srv); /* frees the repeat alarm too */
}

/* Deferred work runs once, in the order posted, after the current callback. */
typedef struct {
    sb_server_t *srv;
    int order[4], n;
} defer_world_t;

typedef struct {
    defer_world_t *w;
    int id;
} defer_arg_t;

static void record_defer(void *ud) {
    defer_arg_t *a = ud;
    a->w->order[a->w->n++] = a->id;
    if (a->w->n == 3)
        sb_server_stop(a->w->srv);
}

static void post_three(sb_alarm_t *alarm, void *ud) {
    static defer_arg_t args[3];
    defer_world_t *w = ud;
    for (int i = 0; i < 3; i++) {
        args[i] = (defer_arg_t){w, i + 1};
        CHECK_EQ(sb_server_defer(w->srv, record_defer, &args[i]), SB_OK);
    }
    CHECK_EQ(w->n, 0); /* not yet: after this callback */
}

TEST(deferred_work_runs_in_order_after_the_callback) {
    defer_world_t w = {0};
    world_t holder = {0};
    if (!quiet_server(&holder)) {
        CHECK(!"server created");
        return;
    }
    w.srv = holder.srv;
    sb_alarm_t *a = sb_alarm_create(w.srv, post_three, &w);
    sb_alarm_start(a, 1, 0);
    CHECK_EQ(sb_server_run(w.srv), 0);
    CHECK_EQ(w.n, 3);
    CHECK(w.order[0] == 1 && w.order[1] == 2 && w.order[2] == 3);
    sb_server_destroy(w.srv); /* the alarm goes with it */
}

static void never(void *ud) { *(int *)ud = 1; }

TEST(pending_deferred_work_is_dropped_with_the_server) {
    world_t w = {0};
    int ran = 0;
    if (!quiet_server(&w)) {
        CHECK(!"server created");
        return;
    }
    CHECK_EQ(sb_server_defer(w.srv, never, &ran), SB_OK);
    sb_alarm_t *a = sb_alarm_create(w.srv, NULL, NULL);
    sb_alarm_start(a, 10000, 0);
    sb_server_destroy(w.srv); /* never ran: no leak, no call (ASan checks the first) */
    CHECK_EQ(ran, 0);
}

TEST(namespaces_need_a_leading_slash) {
    world_t w = {0};
    if (!quiet_server(&w)) {
        CHECK(!"server created");
        return;
    }
    CHECK(sb_server_namespace(w.srv, "chat") == NULL);
    sb_nsp_t *nsp = sb_server_namespace(w.srv, "/chat");
    CHECK(nsp != NULL);
    CHECK(nsp == sb_server_namespace(w.srv, "/chat"));
    CHECK(strcmp(sb_nsp_name(nsp), "/chat") == 0);
    CHECK_EQ(sb_nsp_socket_count(nsp), 0);
    CHECK_EQ(sb_nsp_room_size(nsp, "lobby"), 0);
    CHECK_EQ(sb_nsp_on(nsp, "", NULL, NULL), SB_EINVAL);
    CHECK_EQ(sb_nsp_recovery(nsp, 0), SB_OK); /* 0: stays off */
    CHECK_EQ(sb_nsp_recovery(nsp, 120000), SB_OK);
    CHECK_EQ(sb_nsp_recovery(nsp, 120000), SB_EEXISTS);
    CHECK(sb_server_builtins(w.srv) == NULL);
    char err[128];
    CHECK(sb_builtins_install_from_args(w.srv, err, sizeof err) == NULL); /* not from args */
    sb_server_destroy(w.srv);
}

int main(void) {
    RUN(settings_are_checked_and_versioned);
    RUN(alarms_defer_and_stop_hooks_run_on_the_loop);
    RUN(deferred_work_runs_in_order_after_the_callback);
    RUN(pending_deferred_work_is_dropped_with_the_server);
    RUN(namespaces_need_a_leading_slash);
    TEST_MAIN_END();
}
