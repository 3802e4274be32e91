#include "app/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/err.h"
#include "core/heap.h"
#include "core/log.h"
#include "app/reuse_port.h"
#include "doors/doors.h"

#define SB_MAX_ROUTES 16

typedef struct {
    sb_server_t *srv;
    sb_ws_open_fn on_open;
    const sb_ws_handler_t *h;
    void *ud;
} ws_route_t;

struct sb_server {
    sb_server_config_t cfg;
    sb_loop_t loop;
    sb_conn_ctx_t conns;
    sb_tls_t *tls; /* --tls-cert: every connection speaks TLS */
    sb_http_server_t *http;
    sb_eio_server_t *eio;
    sb_eio_server_t *extra_eio[SB_MAX_ROUTES];
    size_t n_extra_eio;
    sb_sio_server_t *sio;
    sb_eio_server_t *carried; /* sessions of the doors (/ws) */
    sb_door_ws_t *door_ws;
    sb_cluster_host_t *cluster; /* NULL: one node alone */
    sb_http_handoff_t *handoff; /* --reuse-port */
    ws_route_t ws_routes[SB_MAX_ROUTES];
    size_t n_ws_routes;
    sb_io_t signal_io;
    sb_timer_t tick_timer, drain_timer;
    uint64_t ticks;
    sb_heap_trimmer_t trimmer;
    uint64_t drain_deadline;
    bool draining;
    void (*tick_fn)(void *);
    void *tick_ud;
    void (*listening_fn)(const char *address, void *ud);
    void *listening_ud;
    void (*shutdown_fn)(void *);
    void *shutdown_ud;
    void *ext;
    void (*dispose_ext)(void *);
    void (*free_ext)(void *);
};

sb_loop_t *sb_server_loop(sb_server_t *s) { return &s->loop; }
sb_http_server_t *sb_server_http(sb_server_t *s) { return s->http; }
sb_sio_server_t *sb_server_sio(sb_server_t *s) { return s->sio; }
sb_cluster_host_t *sb_server_cluster(sb_server_t *s) { return s->cluster; }
sb_eio_server_t *sb_server_eio(sb_server_t *s) { return s->eio; }
sb_door_ws_t *sb_server_door_ws(sb_server_t *s) { return s->door_ws; }
sb_http_handoff_t *sb_server_handoff(sb_server_t *s) { return s->handoff; }
const sb_server_config_t *sb_server_config(const sb_server_t *s) { return &s->cfg; }
sb_conn_ctx_t *sb_server_conns(sb_server_t *s) { return &s->conns; }
const sb_heap_trimmer_t *sb_server_heap(const sb_server_t *s) { return &s->trimmer; }

void sb_server_on_tick(sb_server_t *s, void (*fn)(void *), void *ud) {
    s->tick_fn = fn;
    s->tick_ud = ud;
}

void sb_server_set_ext(sb_server_t *s, void *ext, void (*dispose_ext)(void *),
                       void (*free_ext)(void *)) {
    s->ext = ext;
    s->dispose_ext = dispose_ext;
    s->free_ext = free_ext;
}

void *sb_server_ext(const sb_server_t *s) { return s->ext; }

sb_server_t *sb_server_of_loop(sb_loop_t *l) { return sb_container_of(l, sb_server_t, loop); }

void sb_server_on_shutdown(sb_server_t *s, void (*fn)(void *), void *ud) {
    s->shutdown_fn = fn;
    s->shutdown_ud = ud;
}

/* ---- configuration ----------------------------------------------------------- */

static int create_sio(sb_server_t *s) {
    s->sio = sb_sio_server_create(&s->loop, &s->cfg.sio);
    if (!s->sio)
        return SB_ENOMEM;
    s->eio = sb_eio_server_create(&s->loop, &s->cfg.eio, sb_sio_eio_handler(), s->sio);
    if (!s->eio)
        return SB_ENOMEM;
    if (s->handoff)
        sb_eio_server_set_handoff(s->eio, sb_reuse_port_hand_off, s->handoff);
    return sb_http_route_under(s->http, s->cfg.path, sb_eio_handle_request, s->eio);
}

static void on_door_ws(sb_http_req_t *req, void *ud) {
    sb_server_t *s = ud;
    if (s->draining)
        sb_http_respond_error(req, 503, "shutting_down", "server is shutting down");
    else if (!sb_http_origin_allowed(req))
        sb_http_respond_error(req, 403, "origin_not_allowed", "origin not allowed");
    else if (!sb_eio_admit_handshake(s->eio, req)) /* one bucket per address for every door */
        sb_http_respond_error(req, 429, "rate_limited", "too many new sessions from this address");
    else
        sb_door_ws_handle(req, s->door_ws);
}

/* The doors into namespace "/" for clients without Socket.IO (doors.h). */
static int create_doors(sb_server_t *s) {
    const sb_server_config_t *c = &s->cfg;
    if (!c->ws_path || !c->ws_path[0])
        return SB_OK;
    s->carried = sb_eio_server_create(&s->loop, &c->eio, sb_sio_eio_handler(), s->sio);
    sb_door_ws_config_t dc = {
        .ws = &c->ws, .max_json_depth = c->sio.max_json_depth, .single_room = c->ws_single_room};
    s->door_ws = s->carried ? sb_door_ws_create(s->carried, &dc) : NULL;
    if (!s->door_ws)
        return SB_ENOMEM;
    return sb_http_route(s->http, c->ws_path, on_door_ws, s);
}

/* --reuse-port: a slot among the processes sharing the port, before any
 * Engine.IO server exists (their session ids carry it). */
static int create_handoff(sb_server_t *s, char *err, size_t cap) {
    if (!s->cfg.http.reuse_port)
        return SB_OK;
    if (s->cfg.port == 0) {
        snprintf(err, cap, "--reuse-port needs a fixed --port (0 gives each process its own)");
        return SB_EINVAL;
    }
    s->handoff = sb_reuse_port_open(s->http, s->cfg.handoff_dir, s->cfg.port,
                                    &s->cfg.eio.sid_prefix, err, cap);
    return s->handoff ? SB_OK : SB_EIO;
}

/* "/a,/b" -> namespaces registered up front. */
static int create_namespaces(sb_server_t *s) {
    char *list = strdup(s->cfg.namespaces ? s->cfg.namespaces : ""), *save = NULL;
    if (!list)
        return SB_ENOMEM;
    int rc = SB_OK;
    for (char *t = strtok_r(list, ",", &save); t && rc == SB_OK; t = strtok_r(NULL, ",", &save))
        if (*t && !sb_sio_of(s->sio, t))
            rc = SB_EINVAL;
    free(list);
    return rc;
}

/* Both TLS files or neither; a file that cannot be used stops the start. */
static int create_tls(sb_server_t *s, char *err, size_t cap) {
    const char *cert = s->cfg.tls_cert ? s->cfg.tls_cert : "",
               *key = s->cfg.tls_key ? s->cfg.tls_key : "";
    if (!cert[0] && !key[0])
        return SB_OK;
    if (!cert[0] || !key[0]) {
        snprintf(err, cap, "--tls-cert and --tls-key go together (%s is missing)",
                 cert[0] ? "--tls-key" : "--tls-cert");
        return SB_EINVAL;
    }
    s->tls = sb_tls_create(cert, key, err, cap);
    if (!s->tls)
        return SB_EINVAL;
    sb_conn_ctx_use_tls(&s->conns, s->tls); /* no connection exists yet */
    char what[512];
    sb_tls_describe(s->tls, what, sizeof what);
    sb_log_info("tls: certificate %s", what);
    return SB_OK;
}

sb_server_t *sb_server_create_from_config(const sb_server_config_t *cfg, char *err, size_t cap) {
    sb_server_t *s = calloc(1, sizeof *s);
    if (!s || sb_loop_init(&s->loop) != SB_OK || sb_conn_ctx_init(&s->conns, &s->loop) != SB_OK) {
        snprintf(err, cap, "cannot create the event loop: %s", strerror(errno));
        free(s);
        return NULL;
    }
    s->cfg = *cfg;
    s->cfg.eio.ws = &s->cfg.ws;
    sb_conn_ctx_set_limits(&s->conns, &s->cfg.conns);
    if (create_tls(s, err, cap) != SB_OK) {
        sb_server_destroy(s);
        return NULL;
    }
    s->http = sb_http_server_create(&s->conns, &s->cfg.http);
    if (s->http && create_handoff(s, err, cap) != SB_OK) {
        sb_server_destroy(s);
        return NULL;
    }
    if (!s->http || create_sio(s) != SB_OK || create_doors(s) != SB_OK) {
        snprintf(err, cap, "out of memory");
        sb_server_destroy(s);
        return NULL;
    }
    if (create_namespaces(s) != SB_OK) {
        snprintf(err, cap, "invalid --namespaces '%s' (names start with '/')", cfg->namespaces);
        sb_server_destroy(s);
        return NULL;
    }
    if (s->cfg.cluster.url && s->cfg.cluster.url[0]) {
        s->cluster = sb_cluster_host_create(&s->loop, s->sio, &s->cfg.cluster, err, cap);
        if (!s->cluster) {
            sb_server_destroy(s);
            return NULL;
        }
    }
    return s;
}

void sb_server_destroy(sb_server_t *s) {
    if (!s)
        return;
    if (s->dispose_ext) /* first: it may still use the loop, HTTP and namespaces */
        s->dispose_ext(s->ext);
    sb_http_handoff_destroy(s->handoff);
    sb_http_server_destroy(s->http);
    sb_eio_server_destroy(s->eio);
    sb_eio_server_destroy(s->carried);
    sb_door_ws_destroy(s->door_ws);
    for (size_t i = 0; i < s->n_extra_eio; i++)
        sb_eio_server_destroy(s->extra_eio[i]);
    sb_cluster_host_destroy(s->cluster); /* after the sockets: their goodbyes are published */
    sb_sio_server_destroy(s->sio);
    sb_conn_ctx_dispose(&s->conns);
    sb_tls_destroy(s->tls);
    sb_loop_dispose(&s->loop);
    if (s->free_ext) /* last: callbacks during the teardown above still find it */
        s->free_ext(s->ext);
    free(s);
}

/* ---- extra endpoints ------------------------------------------------------------- */

static void on_ws_route(sb_http_req_t *req, void *ud) {
    ws_route_t *r = ud;
    if (r->srv->draining) {
        sb_http_respond_error(req, 503, "shutting_down", "server is shutting down");
        return;
    }
    if (!sb_http_origin_allowed(req)) {
        sb_http_respond_error(req, 403, "origin_not_allowed", "origin not allowed");
        return;
    }
    sb_ws_t *ws = sb_ws_accept(req, &r->srv->cfg.ws, r->h, r->ud);
    if (ws && r->on_open)
        r->on_open(ws, r->ud);
}

int sb_server_ws_route(sb_server_t *s, const char *path, sb_ws_open_fn on_open,
                       const sb_ws_handler_t *h, void *ud) {
    if (s->n_ws_routes == SB_MAX_ROUTES)
        return SB_ETOOBIG;
    ws_route_t *r = &s->ws_routes[s->n_ws_routes++];
    *r = (ws_route_t){s, on_open, h, ud};
    return sb_http_route(s->http, path, on_ws_route, r);
}

sb_eio_server_t *sb_server_eio_endpoint(sb_server_t *s, const char *path, const sb_eio_handler_t *h,
                                        void *ud) {
    if (s->n_extra_eio == SB_MAX_ROUTES)
        return NULL;
    sb_eio_server_t *e = sb_eio_server_create(&s->loop, &s->cfg.eio, h, ud);
    if (!e || sb_http_route_under(s->http, path, sb_eio_handle_request, e) != SB_OK) {
        sb_eio_server_destroy(e);
        return NULL;
    }
    if (s->handoff)
        sb_eio_server_set_handoff(e, sb_reuse_port_hand_off, s->handoff);
    s->extra_eio[s->n_extra_eio++] = e;
    return e;
}

/* ---- running and shutdown -------------------------------------------------------- */

static void on_drain_timer(sb_timer_t *t) {
    sb_server_t *s = sb_container_of(t, sb_server_t, drain_timer);
    if (s->conns.live == 0 || s->loop.now_ms >= s->drain_deadline) {
        if (s->conns.live)
            sb_log_warn("drain timeout: closing %zu connections", s->conns.live);
        sb_loop_stop(&s->loop);
        return;
    }
    sb_timer_start(t, 20);
}

void sb_server_stop(sb_server_t *s) {
    if (s->draining)
        return;
    s->draining = true;
    sb_log_info("shutting down: draining %zu connections", s->conns.live);
    sb_http_stop_listening(s->http);
    if (s->shutdown_fn)
        s->shutdown_fn(s->shutdown_ud);
    sb_eio_server_close_all(s->eio);
    if (s->carried)
        sb_eio_server_close_all(s->carried);
    for (size_t i = 0; i < s->n_extra_eio; i++)
        sb_eio_server_close_all(s->extra_eio[i]);
    sb_conn_ctx_shutdown(&s->conns);
    s->drain_deadline = s->loop.now_ms + s->cfg.drain_timeout_ms;
    sb_timer_init(&s->loop, &s->drain_timer, on_drain_timer);
    sb_timer_start(&s->drain_timer, 10);
}

sb_tls_t *sb_server_tls(sb_server_t *s) { return s->tls; }

/* SIGHUP: a renewed certificate is taken for new connections; open ones
 * keep theirs. A bad file leaves the current one in use. */
static void reload(sb_server_t *s) {
    if (!s->tls) {
        sb_log_info("SIGHUP: nothing to reload (no --tls-cert)");
        return;
    }
    char err[512], what[512];
    if (sb_tls_reload(s->tls, err, sizeof err) != SB_OK) {
        sb_log_error("SIGHUP: certificate not reloaded, the previous one stays in use: %s", err);
        return;
    }
    sb_tls_describe(s->tls, what, sizeof what);
    sb_log_info("SIGHUP: tls certificate reloaded: %s", what);
}

static void on_signal(sb_io_t *io, uint32_t events) {
    sb_server_t *s = sb_container_of(io, sb_server_t, signal_io);
    struct signalfd_siginfo si;
    while (read(io->fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            reload(s);
            continue;
        }
        if (s->draining) {
            sb_log_warn("second signal: exiting now");
            sb_loop_stop(&s->loop);
            return;
        }
        sb_server_stop(s);
    }
}

static int watch_signals(sb_server_t *s) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        sb_log_error("cannot watch signals (signalfd): %s", strerror(errno));
        return SB_EIO;
    }
    sb_io_init(&s->loop, &s->signal_io, fd, on_signal);
    return sb_io_set(&s->signal_io, EPOLLIN);
}

/* Every 2 s the free heap is looked at (core/heap.h): memory a burst left
 * goes back even while heartbeats keep every connection writing. */
#define SB_TRIM_EVERY_TICKS 2

static void on_tick(sb_timer_t *t) {
    sb_server_t *s = sb_container_of(t, sb_server_t, tick_timer);
    if (s->tick_fn)
        s->tick_fn(s->tick_ud);
    if (++s->ticks % SB_TRIM_EVERY_TICKS == 0)
        sb_heap_trim_if_worth(&s->trimmer);
    sb_timer_start(t, 1000);
}

void sb_server_on_listening(sb_server_t *s, void (*fn)(const char *address, void *ud), void *ud) {
    s->listening_fn = fn;
    s->listening_ud = ud;
}

int sb_server_run(sb_server_t *s) {
    if (watch_signals(s) != SB_OK)
        return 1;
    if (sb_http_listen(s->http, s->cfg.host, s->cfg.port) != SB_OK)
        return 1;
    /* Always printed, whatever the log level: scripts wait for this line. */
    sb__log(SB_LOG_INFO, "listening on %s%s", sb_http_bound_address(s->http),
            s->tls ? " (tls)" : "");
    if (s->listening_fn)
        s->listening_fn(sb_http_bound_address(s->http), s->listening_ud);
    sb_timer_init(&s->loop, &s->tick_timer, on_tick);
    sb_timer_start(&s->tick_timer, 1000);
    sb_loop_run(&s->loop);
    sb_timer_stop(&s->tick_timer);
    sb_io_set(&s->signal_io, 0);
    close(s->signal_io.fd);
    sb_log_info("stopped");
    return 0;
}
