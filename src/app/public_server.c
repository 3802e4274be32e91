/* include/switchboard.h: the server, its settings, stop hooks, alarms and
 * deferred work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/public_internal.h"
#include "core/assert.h"

typedef struct {
    sb_list_node_t node;
    _Alignas(max_align_t) char data[];
} keep_t;

struct sb_alarm {
    sb_timer_t timer;
    sb_list_node_t node; /* in sb_pub_t.alarms */
    sb_pub_t *pub;
    void (*fn)(sb_alarm_t *a, void *ud);
    void *ud;
    uint64_t repeat_ms;
    bool in_callback, destroyed;
};

typedef struct {
    sb_task_t task;
    sb_list_node_t node; /* in sb_pub_t.deferred */
    void (*fn)(void *ud);
    void *ud;
} deferred_t;

int sb_version(void) { return SB_VERSION_NUMBER; }

/* First in sb_server_destroy(): the built-ins go while the loop and the
 * namespaces still exist; alarms and deferred work stop. */
static void pub_dispose(void *ext) {
    sb_pub_t *pub = ext;
    sb_list_node_t *n, *tmp;
    if (pub->builtins_free)
        pub->builtins_free(pub->builtins);
    pub->builtins = NULL;
    pub->builtins_free = NULL;
    sb_list_foreach_safe(n, tmp, &pub->alarms) {
        sb_alarm_t *a = sb_container_of(n, sb_alarm_t, node);
        sb_alarm_stop(a);
    }
    sb_list_foreach_safe(n, tmp, &pub->deferred) {
        deferred_t *d = sb_container_of(n, deferred_t, node);
        sb_task_cancel(&d->task);
    }
}

/* Last: nothing can call back any more. */
static void pub_free(void *ext) {
    sb_pub_t *pub = ext;
    sb_list_node_t *n, *tmp;
    sb_list_foreach_safe(n, tmp, &pub->alarms) free(sb_container_of(n, sb_alarm_t, node));
    sb_list_foreach_safe(n, tmp, &pub->deferred) free(sb_container_of(n, deferred_t, node));
    sb_list_foreach_safe(n, tmp, &pub->records) free(sb_container_of(n, keep_t, node));
    if (pub->owns_cfg)
        sb_config_dispose(&pub->cfg);
    free(pub);
}

static void run_stop_hooks(void *ud) {
    sb_pub_t *pub = ud;
    for (size_t i = 0; i < pub->nstop_hooks; i++)
        pub->stop_hooks[i].fn(pub->stop_hooks[i].ud);
}

static sb_pub_t *pub_new(void) {
    sb_pub_t *pub = calloc(1, sizeof *pub);
    if (!pub)
        return NULL;
    sb_list_init(&pub->records);
    sb_list_init(&pub->alarms);
    sb_list_init(&pub->deferred);
    sb_list_init(&pub->nsps);
    return pub;
}

static void pub_attach(sb_server_t *srv, sb_pub_t *pub) {
    pub->srv = srv;
    sb_server_set_ext(srv, pub, pub_dispose, pub_free);
    sb_server_on_shutdown(srv, run_stop_hooks, pub);
}

sb_pub_t *sb_pub__of(sb_server_t *srv) {
    sb_pub_t *pub = sb_server_ext(srv);
    if (!pub && (pub = pub_new()) != NULL)
        pub_attach(srv, pub);
    return pub;
}

void *sb_pub__keep(sb_server_t *srv, size_t size) {
    sb_pub_t *pub = sb_pub__of(srv);
    keep_t *k = pub ? calloc(1, sizeof *k + size) : NULL;
    if (!k)
        return NULL;
    sb_list_push_tail(&pub->records, &k->node);
    return k->data;
}

/* ---- settings --------------------------------------------------------------------- */

void sb_settings_init(sb_settings_t *s) {
    *s = (sb_settings_t){.size = sizeof *s,
                         .host = "127.0.0.1",
                         .port = 3000,
                         .socketio_path = "/socket.io/",
                         .cors_origins = "",
                         .ping_interval_ms = 25000,
                         .ping_timeout_ms = 20000,
                         .connect_timeout_ms = 45000,
                         .max_message_bytes = 1000000,
                         .max_connections = 50000,
                         .events_per_second = 10,
                         .events_burst = 20,
                         .drain_timeout_ms = 5000};
}

/* A field the caller's sb_settings_t has (an older program knows fewer). */
#define HAS(s, field) ((s)->size >= offsetof(sb_settings_t, field) + sizeof((s)->field))

static int set_int(sb_config_t *c, const char *name, long long v, char *err, size_t cap) {
    char text[32];
    snprintf(text, sizeof text, "%lld", v);
    return sb_config_set(c, name, text, err, cap);
}

static int apply_settings(sb_config_t *c, const sb_settings_t *s, char *err, size_t cap) {
    int rc = SB_OK;
    if (s->host && rc == SB_OK)
        rc = sb_config_set(c, "host", s->host, err, cap);
    if (s->socketio_path && rc == SB_OK)
        rc = sb_config_set(c, "path", s->socketio_path, err, cap);
    if (s->cors_origins && rc == SB_OK)
        rc = sb_config_set(c, "cors-origins", s->cors_origins, err, cap);
    const struct {
        const char *name;
        long long v;
        bool known;
    } ints[] = {
        {"port", s->port, HAS(s, port)},
        {"ping-interval", s->ping_interval_ms, HAS(s, ping_interval_ms)},
        {"ping-timeout", s->ping_timeout_ms, HAS(s, ping_timeout_ms)},
        {"connect-timeout", s->connect_timeout_ms, HAS(s, connect_timeout_ms)},
        {"max-http-buffer-size", (long long)s->max_message_bytes, HAS(s, max_message_bytes)},
        {"max-connections", s->max_connections, HAS(s, max_connections)},
        {"events-per-second", s->events_per_second, HAS(s, events_per_second)},
        {"events-burst", s->events_burst, HAS(s, events_burst)},
        {"drain-timeout", s->drain_timeout_ms, HAS(s, drain_timeout_ms)},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0] && rc == SB_OK; i++)
        if (ints[i].known)
            rc = set_int(c, ints[i].name, ints[i].v, err, cap);
    if (HAS(s, ws_deflate))
        c->ws_deflate = s->ws_deflate;
    if (rc == SB_OK &&
        (c->ping_interval < 1 || c->ping_timeout < 1 || c->max_http_buffer_size < 1024)) {
        snprintf(err, cap, "ping settings must be positive and max_message_bytes >= 1024");
        rc = SB_EINVAL;
    }
    return rc;
}

static sb_server_t *create_owned(sb_pub_t *pub, char *err, size_t cap) {
    sb_server_config_t sc;
    sb_server_config_from(&sc, &pub->cfg);
    sb_server_t *srv = sb_server_create_from_config(&sc, err, cap);
    if (!srv) {
        sb_config_dispose(&pub->cfg);
        free(pub);
        return NULL;
    }
    pub->owns_cfg = true;
    pub_attach(srv, pub);
    return srv;
}

sb_server_t *sb_server_create(const sb_settings_t *s, char *err, size_t cap) {
    char scratch[8];
    if (!err || cap == 0)
        err = scratch, cap = sizeof scratch;
    sb_pub_t *pub = pub_new();
    if (!pub) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    sb_config_init(&pub->cfg);
    if (apply_settings(&pub->cfg, s, err, cap) != SB_OK) {
        sb_config_dispose(&pub->cfg);
        free(pub);
        return NULL;
    }
    return create_owned(pub, err, cap);
}

sb_server_t *sb_server_create_from_args(int argc, char **argv, int *exit_code) {
    char err[512] = "";
    sb_pub_t *pub = pub_new();
    int rc = pub ? sb_config_from_args(&pub->cfg, argc, argv) : 2;
    if (rc != 0) { /* 1: --help printed; 2: the message is printed */
        free(pub);
        *exit_code = rc == 1 ? 0 : 2;
        return NULL;
    }
    sb_server_t *srv = create_owned(pub, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "%s: %s\n", argc > 0 ? argv[0] : "switchboard", err);
        *exit_code = 1;
    }
    return srv;
}

int sb_server_port(const sb_server_t *srv) {
    return sb_http_bound_port(sb_server_http((sb_server_t *)srv));
}

int sb_server_on_stop(sb_server_t *srv, void (*fn)(void *ud), void *ud) {
    sb_pub_t *pub = sb_pub__of(srv);
    if (!pub)
        return SB_ENOMEM;
    if (pub->nstop_hooks == SB_PUB_MAX_STOP_HOOKS)
        return SB_ETOOBIG;
    pub->stop_hooks[pub->nstop_hooks++] = (sb_pub_hook_t){fn, ud};
    return SB_OK;
}

uint64_t sb_server_now_ms(const sb_server_t *srv) {
    return sb_server_loop((sb_server_t *)srv)->now_ms;
}

/* ---- alarms ------------------------------------------------------------------------ */

static void on_alarm(sb_timer_t *t) {
    sb_alarm_t *a = sb_container_of(t, sb_alarm_t, timer);
    SB_ASSERT(!a->in_callback && !a->destroyed && a->fn);
    if (a->repeat_ms)
        sb_timer_start(&a->timer, a->repeat_ms); /* the callback may move or stop it */
    a->in_callback = true;
    a->fn(a, a->ud);
    a->in_callback = false;
    if (a->destroyed)
        free(a);
}

sb_alarm_t *sb_alarm_create(sb_server_t *srv, void (*fn)(sb_alarm_t *a, void *ud), void *ud) {
    sb_pub_t *pub = sb_pub__of(srv);
    sb_alarm_t *a = pub ? calloc(1, sizeof *a) : NULL;
    if (!a)
        return NULL;
    *a = (sb_alarm_t){.pub = pub, .fn = fn, .ud = ud};
    sb_timer_init(sb_server_loop(srv), &a->timer, on_alarm);
    sb_list_push_tail(&pub->alarms, &a->node);
    return a;
}

void sb_alarm_start(sb_alarm_t *a, uint64_t after_ms, uint64_t repeat_ms) {
    SB_ASSERT(!a->destroyed);
    a->repeat_ms = repeat_ms;
    sb_timer_start(&a->timer, after_ms);
}

void sb_alarm_stop(sb_alarm_t *a) {
    a->repeat_ms = 0;
    sb_timer_stop(&a->timer);
}

bool sb_alarm_active(const sb_alarm_t *a) { return sb_timer_active(&a->timer); }

void sb_alarm_destroy(sb_alarm_t *a) {
    if (!a || a->destroyed)
        return;
    sb_alarm_stop(a);
    sb_list_remove(&a->node);
    if (a->in_callback)
        a->destroyed = true; /* freed when its callback returns */
    else
        free(a);
}

/* ---- deferred work ----------------------------------------------------------------- */

static void on_deferred(sb_task_t *t) {
    deferred_t *d = sb_container_of(t, deferred_t, task);
    SB_ASSERT(sb_list_linked(&d->node));
    sb_list_remove(&d->node);
    void (*fn)(void *) = d->fn;
    void *ud = d->ud;
    free(d);
    fn(ud);
}

int sb_server_defer(sb_server_t *srv, void (*fn)(void *ud), void *ud) {
    sb_pub_t *pub = sb_pub__of(srv);
    deferred_t *d = pub ? calloc(1, sizeof *d) : NULL;
    if (!d)
        return SB_ENOMEM;
    d->fn = fn;
    d->ud = ud;
    sb_task_init(&d->task, on_deferred);
    sb_list_push_tail(&pub->deferred, &d->node);
    sb_task_post(sb_server_loop(srv), &d->task);
    return SB_OK;
}
