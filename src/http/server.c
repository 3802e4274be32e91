/* HTTP/1.1 connections: request framing, limits, timeouts and routing. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "http/http.h"
#include "http/http_internal.h"

#define SB_ACCEPTS_PER_EVENT 64

static const sb_conn_handler_t http_conn_handler;

/* ---- connection state -------------------------------------------------------- */

static void hc_arm(sb_http_conn_t *hc, uint32_t ms) { sb_timer_start(&hc->conn->timer, ms); }

static void hc_on_timer(sb_timer_t *t) {
    sb_conn_t *c = sb_container_of(t, sb_conn_t, timer);
    sb_http_conn_t *hc = c->ud;
    if (hc->state == SB_HC_HEAD && c->in_len == 0 && !hc->req) {
        sb_conn_close(c); /* idle keep-alive connection */
        return;
    }
    if (hc->state == SB_HC_WAITING && hc->flushed_fn) {
        sb_conn_close(c); /* a peer that reads none of its answers */
        return;
    }
    if (hc->state == SB_HC_WAITING)
        return;
    sb_http__send_simple_error(hc, 408, "request_timeout", "request not received in time");
}

static sb_http_conn_t *hc_create(sb_http_server_t *s, int fd, const struct sockaddr_storage *peer,
                                 bool plain) {
    sb_http_conn_t *hc = calloc(1, sizeof *hc);
    if (!hc) {
        close(fd);
        return NULL;
    }
    hc->srv = s;
    hc->conn = plain ? sb_conn_create_plain(s->ctx, fd, peer, &http_conn_handler, hc)
                     : sb_conn_create(s->ctx, fd, peer, &http_conn_handler, hc);
    if (!hc->conn) {
        free(hc);
        return NULL;
    }
    hc->conn->timer.cb = hc_on_timer;
    hc_arm(hc, s->cfg.header_timeout_ms);
    return hc;
}

/* ---- request framing ------------------------------------------------------- */

static int begin_body(sb_http_conn_t *hc, sb_http_req_t *r) {
    const sb_str_t *te = sb_http_req_header(r, "transfer-encoding");
    const sb_str_t *cl = sb_http_req_header(r, "content-length");
    hc->body_need = 0;
    hc->chunked = false;
    if (te && cl)
        return 400;
    if (te) {
        if (!sb_str_ieq(*te, SB_LIT("chunked")) ||
            sb_http__req_header_count(r, "transfer-encoding") > 1)
            return 501;
        hc->chunked = true;
        memset(&hc->chunk, 0, sizeof hc->chunk);
        return 0;
    }
    if (cl) {
        if (sb_http__req_header_count(r, "content-length") > 1)
            return 400;
        int rc = sb_http_content_length_parse(*cl, hc->srv->cfg.max_body, &hc->body_need);
        if (rc == SB_ETOOBIG)
            return 413;
        if (rc != SB_OK)
            return 400;
    }
    return 0;
}

static int body_reserve(sb_http_req_t *r, size_t *cap, size_t more, uint64_t max) {
    if (r->body_len + more <= *cap && r->body)
        return SB_OK;
    size_t want = r->body_len + more;
    if (want > max)
        return SB_ETOOBIG;
    size_t ncap = *cap ? *cap : 1024;
    while (ncap < want)
        ncap *= 2;
    char *nb = realloc(r->body, ncap + 1);
    if (!nb)
        return SB_ENOMEM;
    r->body = nb;
    *cap = ncap;
    return SB_OK;
}

/* Consumes body bytes; returns bytes used, or a negative code. Sets
 * hc->body_done when the body is complete. */
static long read_body(sb_http_conn_t *hc, char *p, size_t n) {
    sb_http_req_t *r = hc->req;
    if (!hc->chunked) {
        size_t take = hc->body_need < n ? (size_t)hc->body_need : n;
        if (body_reserve(r, &hc->body_cap, take, hc->srv->cfg.max_body) != SB_OK)
            return SB_ENOMEM;
        if (take)
            memcpy(r->body + r->body_len, p, take);
        r->body_len += take;
        hc->body_need -= take;
        hc->body_done = hc->body_need == 0;
        return (long)take;
    }
    size_t out = 0;
    ssize_t used = sb_http_chunked_decode(&hc->chunk, p, n, &out, hc->srv->cfg.max_body);
    if (used < 0)
        return used;
    if (body_reserve(r, &hc->body_cap, out, hc->srv->cfg.max_body) != SB_OK)
        return SB_ETOOBIG;
    if (out)
        memcpy(r->body + r->body_len, p, out);
    r->body_len += out;
    hc->body_done = sb_http_chunked_done(&hc->chunk);
    return (long)used;
}

static long parse_head(sb_http_conn_t *hc, char *p, size_t n) {
    sb_http_request_t pr;
    sb_http_header_t hdrs[SB_HTTP_MAX_HEADERS];
    ssize_t used = sb_http_request_parse(p, n, &pr, hdrs, &hc->srv->cfg.limits);
    if (used == SB_EAGAIN)
        return 0;
    if (used < 0) {
        int st = pr.error_status ? pr.error_status : 400;
        sb_http__send_simple_error(hc, st, st == 400 ? "bad_request" : "request_too_large",
                                   st == 505   ? "HTTP version not supported"
                                   : st == 400 ? "malformed HTTP request"
                                               : "request head too large");
        return SB_EPROTO;
    }
    hc->req = sb_http__req_create(hc, p, (size_t)used, &pr);
    if (!hc->req)
        return SB_ENOMEM;
    hc->body_cap = 0;
    hc->body_done = false;
    int st = begin_body(hc, hc->req);
    if (st) {
        sb_http__send_simple_error(hc, st, st == 413 ? "payload_too_large" : "bad_request",
                                   st == 413   ? "request body too large"
                                   : st == 501 ? "unsupported transfer encoding"
                                               : "conflicting body framing");
        return SB_EPROTO;
    }
    hc->state = SB_HC_BODY;
    return used;
}

static void dispatch(sb_http_conn_t *hc) {
    sb_http_req_t *r = hc->req;
    if (hc->refuse) {
        hc->state = SB_HC_WAITING;
        r->keep_alive = false;
        sb_http_respond_error(r, 503, "too_many_connections", "connection limit reached");
        return;
    }
    if (!r->body && body_reserve(r, &hc->body_cap, 0, hc->srv->cfg.max_body) != SB_OK) {
        sb_http__send_simple_error(hc, 500, "internal", "out of memory");
        return;
    }
    r->body[r->body_len] = '\0';
    r->keep_alive = sb_http__req_wants_keep_alive(r);
    hc->state = SB_HC_WAITING;
    sb_timer_stop(&hc->conn->timer);
    hc->srv->stats.requests++;
    sb_http__route(hc->srv, r);
}

/* Reads requests until one waits for its answer, bytes run out, or the
 * connection changed hands (upgrade: `hc` is then freed, so return at once). */
static long http_on_data(sb_conn_t *c, char *p, size_t n) {
    sb_http_conn_t *hc = c->ud;
    size_t off = 0;
    hc->in_data = true;
    while (!(c->flags & SB_CONN_CLOSING) && hc->state != SB_HC_WAITING) {
        long used;
        if (hc->state == SB_HC_HEAD) {
            if (off == n)
                break;
            if (!hc->head_started)
                hc_arm(hc, hc->srv->cfg.header_timeout_ms);
            hc->head_started = true;
            used = parse_head(hc, p + off, n - off);
            if (used <= 0) {
                off = used < 0 ? n : off;
                break;
            }
            off += (size_t)used;
            continue;
        }
        used = read_body(hc, p + off, n - off);
        if (used < 0) {
            sb_http__send_simple_error(hc, used == SB_ETOOBIG ? 413 : 400,
                                       used == SB_ETOOBIG ? "payload_too_large" : "bad_request",
                                       "malformed or oversized request body");
            off = n;
            break;
        }
        off += (size_t)used;
        if (!hc->body_done)
            break;
        hc->head_started = false;
        hc->rest = p + off;
        hc->rest_n = n - off;
        dispatch(hc);
        if (c->handler != &http_conn_handler)
            return (long)off;
        hc->rest = NULL;
        hc->rest_n = 0;
    }
    hc->in_data = false;
    return (long)off;
}

static void http_on_close(sb_conn_t *c) {
    sb_http_conn_t *hc = c->ud;
    sb_http_req_t *r = hc->req;
    if (r && hc->state == SB_HC_WAITING && r->on_abort)
        r->on_abort(r);
    sb_http__req_free(r);
    free(hc);
}

/* A request waiting for its answer (a long-poll) is answered by its owner;
 * idle keep-alive connections just close. */
static void http_on_shutdown(sb_conn_t *c) {
    sb_http_conn_t *hc = c->ud;
    if (hc->state != SB_HC_WAITING)
        sb_conn_close_after_flush(c);
    else
        hc->req->keep_alive = false;
}

static void http_on_drain(sb_conn_t *c) {
    sb_http_conn_t *hc = c->ud;
    sb_http_handler_fn fn = hc->flushed_fn;
    if (!fn || !hc->req)
        return;
    hc->flushed_fn = NULL;
    sb_timer_stop(&c->timer);
    fn(hc->req, hc->flushed_ud);
}

void sb_http_req_when_flushed(sb_http_req_t *r, sb_http_handler_fn fn, void *ud) {
    sb_conn_t *c = r->conn;
    sb_http_conn_t *hc = c->ud;
    if (sb_conn_queued(c) == 0) {
        fn(r, ud);
        return;
    }
    hc->flushed_fn = fn;
    hc->flushed_ud = ud;
    hc_arm(hc, hc->srv->cfg.header_timeout_ms);
}

static const sb_conn_handler_t http_conn_handler = {
    .on_data = http_on_data,
    .on_close = http_on_close,
    .on_drain = http_on_drain,
    .on_shutdown = http_on_shutdown,
};

/* ---- listening ------------------------------------------------------------- */

/* Out of descriptors, a pending connection would wake epoll forever: give
 * up the spare descriptor, accept and drop the peer, take the spare back. */
static void shed_one(sb_http_server_t *s, int why) {
    if (s->spare_fd < 0)
        return;
    close(s->spare_fd);
    int fd = accept4(s->listen_io.fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    s->ctx->refused++;
    if (s->ctx->loop->now_ms - s->shed_logged_ms >= 1000) { /* at most once a second */
        s->shed_logged_ms = s->ctx->loop->now_ms;
        sb_log_warn("accept: %s: out of file descriptors; dropping new connections (raise the "
                    "open-file limit or lower --max-connections)",
                    strerror(why));
    }
}

/* Over a limit, the connection still reads its request, so that the 503 is
 * not lost to a reset, and is then closed. */
static sb_http_conn_t *serve(sb_http_server_t *s, int fd, const struct sockaddr_storage *ss,
                             bool plain) {
    bool over = sb_conn_ctx_admit(s->ctx, ss) != SB_OK;
    sb_http_conn_t *hc = hc_create(s, fd, ss, plain);
    if (hc)
        hc->refuse = over;
    return hc;
}

int sb_http_adopt(sb_http_server_t *s, int fd, const struct sockaddr_storage *peer,
                  const void *bytes, size_t n) {
    sb_http_conn_t *hc = serve(s, fd, peer, true);
    if (!hc)
        return SB_ENOMEM;
    int rc = sb_conn_feed(hc->conn, bytes, n);
    if (rc != SB_OK)
        sb_conn_close(hc->conn);
    return rc;
}

static void on_accept(sb_io_t *io, uint32_t events) {
    sb_http_server_t *s = sb_container_of(io, sb_http_server_t, listen_io);
    for (int i = 0; i < SB_ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(io->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                shed_one(s, errno);
            else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                sb_log_limited(&s->accept_log, SB_LOG_WARN, "accept", "accept: %s",
                               strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        serve(s, fd, &ss, false);
    }
}

/* A listening socket on `ai`, or -1 with errno set. The IPv6 wildcard
 * also accepts IPv4 (as ::ffff:a.b.c.d), whatever net.ipv6.bindv6only
 * says: one socket serves clients that resolve localhost to ::1 and those
 * that resolve it to 127.0.0.1. */
static int open_listener(const struct addrinfo *ai, bool reuse_port) {
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (ai->ai_family == AF_INET6 &&
        IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr))
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* `host` is an address or a name, resolved once here; a name with several
 * addresses (localhost: 127.0.0.1 and ::1) listens on the first that binds. */
static int listen_on(const char *host, int port, bool quiet, bool reuse_port) {
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int gai = getaddrinfo(host, ps, &hints, &res);
    if (gai != 0) {
        sb_log_error("cannot resolve listen address '%s': %s", host,
                     gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        errno = EINVAL;
        return -1;
    }
    int fd = -1, e = 0;
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = open_listener(ai, reuse_port);
        e = errno;
    }
    if (fd < 0 && !quiet)
        sb_log_error("cannot listen on %s:%d: %s", host, port, strerror(e));
    freeaddrinfo(res);
    errno = e;
    return fd;
}

int sb_http_listen(sb_http_server_t *s, const char *host, int port) {
    bool any6 = strcmp(host, "::") == 0;
    int fd = listen_on(host, port, any6, s->cfg.reuse_port);
    if (fd < 0 && any6 && errno != EADDRINUSE && errno != EACCES && errno != EINVAL) {
        /* A kernel or container without IPv6: IPv4 alone still serves. */
        sb_log_warn("cannot listen on [::]:%d (%s): IPv6 is not available, listening on 0.0.0.0 "
                    "(IPv4 only)",
                    port, strerror(errno));
        fd = listen_on("0.0.0.0", port, false, s->cfg.reuse_port);
    } else if (fd < 0 && any6) {
        sb_log_error("cannot listen on [::]:%d: %s", port, strerror(errno));
    }
    if (fd < 0)
        return SB_EIO;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    bool v6 = ss.ss_family == AF_INET6;
    s->port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    inet_ntop(ss.ss_family,
              v6 ? (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                 : (void *)&((struct sockaddr_in *)&ss)->sin_addr,
              ip, sizeof ip);
    snprintf(s->bound, sizeof s->bound, v6 ? "[%s]:%d" : "%s:%d", ip, s->port);
    sb_io_init(s->ctx->loop, &s->listen_io, fd, on_accept);
    return sb_io_set(&s->listen_io, EPOLLIN);
}

const char *sb_http_bound_address(const sb_http_server_t *s) { return s->bound; }

int sb_http_bound_port(const sb_http_server_t *s) { return s->port; }

void sb_http_stop_listening(sb_http_server_t *s) {
    if (s->listen_io.fd > 0) {
        sb_io_set(&s->listen_io, 0);
        close(s->listen_io.fd);
        s->listen_io.fd = -1;
    }
}

const sb_http_stats_t *sb_http_stats(const sb_http_server_t *s) { return &s->stats; }

sb_http_server_t *sb_http_server_create(sb_conn_ctx_t *ctx, const sb_http_config_t *cfg) {
    sb_http_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ctx = ctx;
    s->cfg = *cfg;
    s->cors = strdup(cfg->cors_origins ? cfg->cors_origins : "");
    s->listen_io.fd = -1;
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!s->cors) {
        free(s);
        return NULL;
    }
    s->cfg.cors_origins = s->cors;
    return s;
}

void sb_http_server_destroy(sb_http_server_t *s) {
    if (!s)
        return;
    sb_http_stop_listening(s);
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    free(s->routes);
    free(s->cors);
    free(s);
}
