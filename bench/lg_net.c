/* Client side of the wire: non-blocking TCP from spread source addresses,
 * the HTTP upgrade, RFC 6455 client frames (masked; headers written and
 * parsed with the project's pure codec in src/ws/frame.c), and the Engine.IO
 * v4 / Socket.IO v5 client handshake and heartbeat. Application messages
 * (Socket.IO packets without the leading Engine.IO '4', or raw WebSocket
 * text) go to lg_on_app(). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg.h"
#include "ws/frame.h"

lg_counts_t C;
int lg_epfd = -1;

#define SCRATCH (4u << 20)
#define MAX_MSG (2u << 20)
static uint8_t *scratch;
static struct sockaddr_in dst;
static char http_req[1024];
static size_t http_req_n;
static int errors_printed;

long lg_raise_nofile(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
        getrlimit(RLIMIT_NOFILE, &r);
    }
    return (long)r.rlim_cur;
}

void lg_net_init(void) {
    scratch = malloc(SCRATCH);
    lg_epfd = epoll_create1(EPOLL_CLOEXEC);
    memset(&dst, 0, sizeof dst);
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)O.port);
    if (inet_pton(AF_INET, O.host, &dst.sin_addr) != 1) {
        fprintf(stderr, "loadgen: --host must be an IPv4 address\n");
        exit(2);
    }
    const char *q = O.proto == P_SIO ? "?EIO=4&transport=websocket" : "";
    http_req_n =
        (size_t)snprintf(http_req, sizeof http_req,
                         "GET %s%s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n",
                         O.path, q, O.host, O.port);
}

/* ---- connection slots ------------------------------------------------------ */

static void ep_set(lg_conn_t *c, bool out) {
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (out != c->want_out) {
        epoll_ctl(lg_epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = out;
    }
}

/* Source address 127.0.0.(1 + idx % sources) when the target is loopback;
 * IP_BIND_ADDRESS_NO_PORT leaves the port choice to connect(), which then
 * only needs the 4-tuple to be unique. */
static int bind_source(int fd, uint32_t idx) {
    if ((ntohl(dst.sin_addr.s_addr) >> 24) != 127 || O.sources <= 1)
        return 0;
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000001u + idx % (uint32_t)O.sources);
    return bind(fd, (struct sockaddr *)&src, sizeof src);
}

int lg_conn_start(lg_conn_t *c, uint32_t idx, uint8_t role) {
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->idx = idx, c->role = role, c->next_ack = 1;
    c->mask_state = idx * 2654435761u + 12345u;
    c->t_open = lg_now_us();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        C.errors++, C.hs_fail++;
        if (errors_printed++ < 5)
            fprintf(stderr, "loadgen: socket: %s\n", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (bind_source(fd, idx) != 0 ||
        (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)) {
        if (errors_printed++ < 5)
            fprintf(stderr, "loadgen: connect: %s\n", strerror(errno));
        close(fd);
        C.errors++, C.hs_fail++;
        return -1;
    }
    c->fd = fd, c->state = S_CONNECTING, c->want_out = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(lg_epfd, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

void lg_conn_close(lg_conn_t *c) {
    if (c->fd >= 0)
        close(c->fd); /* also removes it from the epoll set */
    free(c->pend), free(c->out), free(c->frag), free(c->expect);
    c->pend = c->out = c->frag = NULL;
    c->expect = NULL;
    c->pend_n = c->pend_cap = c->out_n = c->out_off = c->out_cap = c->frag_n = c->frag_cap = 0;
    c->fd = -1;
    c->state = S_FREE;
}

void lg_conn_fail(lg_conn_t *c, const char *why) {
    if (c->state == S_FREE)
        return;
    bool in_handshake = c->state != S_READY;
    C.errors++;
    if (in_handshake)
        C.hs_fail++;
    if (errors_printed++ < 5)
        fprintf(stderr, "loadgen: connection %u: %s\n", c->idx, why);
    lg_conn_close(c);
    lg_on_gone(c);
}

/* ---- output ----------------------------------------------------------------- */

static int out_reserve(lg_conn_t *c, size_t more) {
    if (c->out_off > 0 && c->out_off == c->out_n)
        c->out_off = c->out_n = 0;
    if (c->out_n + more <= c->out_cap)
        return 0;
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_n + more)
        cap *= 2;
    uint8_t *p = realloc(c->out, cap);
    if (!p)
        return -1;
    c->out = p, c->out_cap = cap;
    return 0;
}

static void conn_flush(lg_conn_t *c) {
    while (c->out_off < c->out_n) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_n - c->out_off);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                if (errno == EAGAIN)
                    break;
                continue;
            }
            lg_conn_fail(c, "write failed");
            return;
        }
        c->out_off += (size_t)w;
    }
    if (c->out_off == c->out_n)
        c->out_off = c->out_n = 0;
    ep_set(c, c->out_n > 0);
}

/* Writes straight to the socket when nothing is queued; queues the rest. */
static void conn_write(lg_conn_t *c, const uint8_t *p, size_t n) {
    if (c->state == S_FREE)
        return;
    if (c->out_n == 0 && !c->corked) {
        ssize_t w = write(c->fd, p, n);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            lg_conn_fail(c, "write failed");
            return;
        }
        if (w > 0)
            p += w, n -= (size_t)w;
        if (n == 0)
            return;
    }
    if (out_reserve(c, n) != 0) {
        lg_conn_fail(c, "out of memory");
        return;
    }
    memcpy(c->out + c->out_n, p, n);
    c->out_n += n;
    if (!c->corked)
        ep_set(c, true);
}

void lg_conn_uncork(lg_conn_t *c) {
    c->corked = false;
    if (c->state != S_FREE && c->out_n > c->out_off)
        conn_flush(c);
}

static void next_mask(lg_conn_t *c, uint8_t m[4]) {
    uint32_t x = c->mask_state; /* xorshift32: masks need not be secret here */
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    c->mask_state = x;
    memcpy(m, &x, 4);
}

static void send_frame(lg_conn_t *c, uint8_t op, const uint8_t *p, size_t n) {
    uint8_t stackbuf[4096],
        *buf = n + SB_WS_HDR_MAX <= sizeof stackbuf ? stackbuf : malloc(n + SB_WS_HDR_MAX);
    if (!buf) {
        lg_conn_fail(c, "out of memory");
        return;
    }
    uint8_t m[4];
    next_mask(c, m);
    size_t h = sb_ws_hdr_write_masked(buf, op, true, false, n, m);
    memcpy(buf + h, p, n);
    sb_ws_unmask(buf + h, n, m, 0);
    conn_write(c, buf, h + n);
    if (buf != stackbuf)
        free(buf);
}

void lg_send_text(lg_conn_t *c, const char *p, size_t n) {
    send_frame(c, SB_WS_OP_TEXT, (const uint8_t *)p, n);
}

/* ---- Engine.IO / Socket.IO client ------------------------------------------- */

static void sio_send_connect(lg_conn_t *c) {
    char buf[2048];
    int n;
    if (O.token || O.secret) {
        char tok[1024], sub[128];
        const char *t = O.token;
        if (!t) {
            snprintf(sub, sizeof sub, "%s-u%ld", O.user_prefix,
                     ((long)c->idx + O.user_offset) % (O.users > 0 ? O.users : 1));
            lg_jwt_mint(O.secret, sub, tok, sizeof tok);
            t = tok;
        }
        n = snprintf(buf, sizeof buf, "40{\"token\":\"%s\"}", t);
    } else {
        n = snprintf(buf, sizeof buf, "40");
    }
    lg_send_text(c, buf, (size_t)n);
}

static void eio_on_message(lg_conn_t *c, const char *p, size_t n) {
    if (n == 0)
        return;
    switch (p[0]) {
    case '0':
        if (c->state == S_EIO_OPEN) {
            c->state = S_SIO_CONNECT;
            sio_send_connect(c);
        }
        return;
    case '2':
        lg_send_text(c, "3", 1);
        return;
    case '1':
        lg_conn_fail(c, "engine.io close");
        return;
    case '4':
        break;
    default:
        return; /* noop, pong, upgrade: nothing to do */
    }
    if (n >= 2 && p[1] == '0' && c->state == S_SIO_CONNECT) {
        c->state = S_READY;
        C.connected++;
        lg_on_ready(c);
    } else if (n >= 2 && p[1] == '4') {
        lg_conn_fail(c, "socket.io connect_error");
    } else if (n >= 2 && p[1] == '1') {
        lg_conn_fail(c, "socket.io disconnect");
    } else if (c->state == S_READY) {
        lg_on_app(c, p + 1, n - 1);
    }
}

static void on_message(lg_conn_t *c, const uint8_t *p, size_t n) {
    if (O.proto == P_SIO)
        eio_on_message(c, (const char *)p, n);
    else if (c->state == S_READY)
        lg_on_app(c, (const char *)p, n);
}

/* ---- input -------------------------------------------------------------- */

static void on_fragment(lg_conn_t *c, const sb_ws_hdr_t *h, const uint8_t *p) {
    if (c->frag_n + h->len > MAX_MSG) {
        lg_conn_fail(c, "message too big");
        return;
    }
    if (c->frag_n + h->len > c->frag_cap) {
        size_t cap = c->frag_n + h->len + 4096;
        uint8_t *q = realloc(c->frag, cap);
        if (!q) {
            lg_conn_fail(c, "out of memory");
            return;
        }
        c->frag = q, c->frag_cap = cap;
    }
    memcpy(c->frag + c->frag_n, p, h->len);
    c->frag_n += h->len;
    if (h->fin) {
        size_t len = c->frag_n;
        c->frag_n = 0;
        on_message(c, c->frag, len);
    }
}

/* One complete frame; returns false when the connection is gone. */
static bool on_frame(lg_conn_t *c, const sb_ws_hdr_t *h, const uint8_t *p) {
    if (h->masked) {
        lg_conn_fail(c, "server frame masked");
        return false;
    }
    switch (h->opcode) {
    case SB_WS_OP_TEXT:
    case SB_WS_OP_BINARY:
        if (h->fin && c->frag_n == 0)
            on_message(c, p, h->len);
        else
            on_fragment(c, h, p);
        break;
    case SB_WS_OP_CONT:
        on_fragment(c, h, p);
        break;
    case SB_WS_OP_PING:
        send_frame(c, SB_WS_OP_PONG, p, h->len);
        break;
    case SB_WS_OP_CLOSE:
        C.closed_by_peer++;
        lg_conn_fail(c, "closed by server");
        return false;
    default:
        break;
    }
    return c->state != S_FREE;
}

static size_t parse_frames(lg_conn_t *c, uint8_t *p, size_t n) {
    size_t off = 0;
    while (off < n) {
        sb_ws_hdr_t h;
        ssize_t r = sb_ws_hdr_parse(p + off, n - off, &h);
        if (r < 0) {
            if (r == -11) /* SB_EAGAIN */
                break;
            lg_conn_fail(c, "bad frame header");
            return n;
        }
        if (h.len > MAX_MSG) {
            lg_conn_fail(c, "frame too big");
            return n;
        }
        if ((size_t)r + h.len > n - off)
            break;
        if (!on_frame(c, &h, p + off + (size_t)r))
            return n;
        off += (size_t)r + h.len;
    }
    return off;
}

static size_t parse_http(lg_conn_t *c, uint8_t *p, size_t n) {
    uint8_t *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end) {
        if (n > 16384)
            lg_conn_fail(c, "response head too big");
        return n > 16384 ? n : 0;
    }
    if (n < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0) {
        char why[80];
        snprintf(why, sizeof why, "upgrade refused: %.*s", (int)(n < 40 ? n : 40), (const char *)p);
        for (char *q = why; *q; q++)
            if (*q == '\r' || *q == '\n')
                *q = ' ';
        lg_conn_fail(c, why);
        return n;
    }
    if (O.proto == P_SIO) {
        c->state = S_EIO_OPEN;
    } else {
        c->state = S_READY;
        C.connected++;
        lg_on_ready(c);
    }
    return (size_t)(end + 4 - p);
}

static size_t parse_input(lg_conn_t *c, uint8_t *p, size_t n) {
    size_t off = 0;
    if (c->state == S_HTTP)
        off = parse_http(c, p, n);
    if (c->state == S_FREE || c->state == S_HTTP)
        return off;
    return off + parse_frames(c, p + off, n - off);
}

static int keep_pending(lg_conn_t *c, const uint8_t *p, size_t n) {
    c->pend_n = 0;
    if (n == 0)
        return 0;
    if (n > c->pend_cap) {
        uint8_t *q = realloc(c->pend, n);
        if (!q)
            return -1;
        c->pend = q, c->pend_cap = n;
    }
    memmove(c->pend, p, n);
    c->pend_n = n;
    return 0;
}

static void on_readable(lg_conn_t *c) {
    for (int rounds = 0; rounds < 4 && c->state != S_FREE; rounds++) {
        size_t have = c->pend_n;
        if (have)
            memcpy(scratch, c->pend, have);
        ssize_t r = read(c->fd, scratch + have, SCRATCH - have);
        if (r <= 0) {
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            if (r == 0)
                C.closed_by_peer++;
            lg_conn_fail(c, r == 0 ? "closed by server (EOF)" : "read failed");
            return;
        }
        size_t n = have + (size_t)r, used = parse_input(c, scratch, n);
        if (c->state == S_FREE)
            return;
        if (keep_pending(c, scratch + used, n - used) != 0) {
            lg_conn_fail(c, "out of memory");
            return;
        }
        if ((size_t)r < SCRATCH - have)
            return;
    }
}

static void on_connected(lg_conn_t *c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        char why[96];
        snprintf(why, sizeof why, "connect: %s", strerror(err));
        lg_conn_fail(c, why);
        return;
    }
    c->state = S_HTTP;
    ep_set(c, false);
    conn_write(c, (const uint8_t *)http_req, http_req_n);
}

void lg_net_poll(int timeout_ms) {
    struct epoll_event evs[512];
    int n = epoll_wait(lg_epfd, evs, 512, timeout_ms);
    for (int i = 0; i < n; i++) {
        lg_conn_t *c = evs[i].data.ptr;
        if (c->state == S_FREE)
            continue;
        if (c->state == S_CONNECTING) {
            if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                on_connected(c);
            continue;
        }
        if ((evs[i].events & EPOLLOUT) && c->out_n > c->out_off)
            conn_flush(c);
        if (c->state != S_FREE && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            on_readable(c);
    }
}
