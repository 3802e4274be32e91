/* Connections passed between processes sharing a port: slots claimed with
 * lock files, a SOCK_SEQPACKET listener per process, and one message per
 * passed connection (http/handoff.h). */
#include "http/handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/err.h"
#include "core/list.h"
#include "core/log.h"
#include "http/http_internal.h"

/* Requests up to this size travel inside the message; larger ones (a big
 * polling POST) in a memfd passed along with the socket. */
#define SB_HANDOFF_INLINE (32 * 1024)
#define SB_HANDOFF_MAGIC 0x32484253u /* "SBH2" */
/* Messages taken per wakeup of a peer's socket: one busy peer cannot hold
 * the loop. */
#define SB_HANDOFF_BATCH 64

typedef struct {
    uint32_t magic;
    uint32_t len;        /* request bytes, inline or in the memfd */
    sb_peer_addr_t peer; /* the client, as the first process saw it */
} wire_t;

typedef struct {
    sb_io_t io;
    sb_list_node_t node;
    sb_http_handoff_t *h;
} peer_t;

struct sb_http_handoff {
    sb_http_server_t *http;
    sb_loop_t *loop;
    char dir[96];
    int slot;
    int lock_fd;
    sb_io_t listen_io;
    int out[SB_HANDOFF_SLOTS]; /* connected to the slot's process, or -1 */
    sb_list_t peers;           /* processes connected to us */
    char *rbuf;                /* one received message */
    sb_http_handoff_stats_t stats;
};

static const sb_conn_handler_t gone_handler;

static int slot_path(const sb_http_handoff_t *h, int slot, const char *ext, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%d.%s", h->dir, slot, ext);
    return n > 0 && (size_t)n < cap ? SB_OK : SB_ETOOBIG;
}

/* ---- receiving ------------------------------------------------------------- */

static void peer_free(peer_t *p) {
    sb_io_set(&p->io, 0);
    close(p->io.fd);
    sb_list_remove(&p->node);
    free(p);
}

static void peer_to_sockaddr(const sb_peer_addr_t *p, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    if (p->family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        memcpy(&a->sin6_addr, p->addr, 16);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        memcpy(&a->sin_addr, p->addr, 4);
    }
}

/* Reads `len` request bytes from a memfd into a new buffer. */
static char *read_memfd(int fd, size_t len) {
    char *buf = malloc(len ? len : 1);
    size_t got = 0;
    while (buf && got < len) {
        ssize_t r = pread(fd, buf + got, len - got, (off_t)got);
        if (r <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)r;
    }
    return buf;
}

/* One received message: fds[0] the client's socket, fds[1] the memfd if
 * the bytes did not travel inline. Takes the fds. */
static void on_message(sb_http_handoff_t *h, size_t n, int *fds, int nfds) {
    wire_t w;
    memcpy(&w, h->rbuf, n < sizeof w ? n : sizeof w);
    size_t max = h->http->ctx->max_inbuf;
    bool inline_ok = nfds == 1 && n >= sizeof w && n == sizeof w + w.len;
    bool memfd_ok = nfds == 2 && n == sizeof w && w.len <= max;
    if (n < sizeof w || w.magic != SB_HANDOFF_MAGIC || !(inline_ok || memfd_ok)) {
        h->stats.bad++;
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        return;
    }
    char *bytes = memfd_ok ? read_memfd(fds[1], w.len) : h->rbuf + sizeof w;
    if (memfd_ok)
        close(fds[1]);
    if (!bytes) {
        h->stats.bad++;
        close(fds[0]);
        return;
    }
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    h->stats.received++;
    struct sockaddr_storage peer;
    peer_to_sockaddr(&w.peer, &peer);
    sb_http_adopt(h->http, fds[0], &peer, bytes, w.len);
    if (memfd_ok)
        free(bytes);
}

/* Collects the descriptors of a message (at most 2 are expected: more
 * arrive closed by the kernel as MSG_CTRUNC). Returns how many. */
static int take_fds(struct msghdr *m, int fds[2]) {
    int n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
            if (n < 2)
                fds[n++] = fd;
            else
                close(fd);
        }
    }
    return n;
}

static void on_peer(sb_io_t *io, uint32_t events) {
    peer_t *p = sb_container_of(io, peer_t, io);
    sb_http_handoff_t *h = p->h;
    for (int i = 0; i < SB_HANDOFF_BATCH; i++) {
        union {
            char buf[CMSG_SPACE(2 * sizeof(int))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {h->rbuf, sizeof(wire_t) + SB_HANDOFF_INLINE};
        struct msghdr m = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl};
        ssize_t r = recvmsg(io->fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) {
            peer_free(p);
            return;
        }
        int fds[2], nfds = take_fds(&m, fds);
        if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
            for (int k = 0; k < nfds; k++)
                close(fds[k]);
            h->stats.bad++;
            continue;
        }
        on_message(h, (size_t)r, fds, nfds);
    }
}

/* Only processes of this user may pass connections (the directory is
 * theirs too; this holds even if its mode was loosened). */
static bool same_user(int fd) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == geteuid();
}

static void on_accept(sb_io_t *io, uint32_t events) {
    sb_http_handoff_t *h = sb_container_of(io, sb_http_handoff_t, listen_io);
    for (int i = 0; i < SB_HANDOFF_SLOTS; i++) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        peer_t *p = same_user(fd) ? calloc(1, sizeof *p) : NULL;
        if (!p) {
            close(fd);
            continue;
        }
        p->h = h;
        sb_io_init(h->loop, &p->io, fd, on_peer);
        sb_list_push_tail(&h->peers, &p->node);
        if (sb_io_set(&p->io, EPOLLIN) != SB_OK)
            peer_free(p);
    }
}

/* ---- sending --------------------------------------------------------------- */

static int connect_slot(sb_http_handoff_t *h, int slot) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (slot_path(h, slot, "sock", sa.sun_path, sizeof sa.sun_path) != SB_OK)
        return SB_ENOTFOUND;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return SB_ENOMEM;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        return e == EAGAIN ? SB_EAGAIN : SB_ENOTFOUND;
    }
    h->out[slot] = fd;
    return SB_OK;
}

/* The request's bytes in a memfd: for those too large to travel inline. */
static int bytes_memfd(const char *p, size_t n) {
    int fd = memfd_create("sb-handoff", MFD_CLOEXEC);
    for (size_t done = 0; fd >= 0 && done < n;) {
        ssize_t w = write(fd, p + done, n - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    return fd;
}

static int send_message(int sock, const wire_t *head, int conn_fd, const char *bytes, size_t n) {
    wire_t w = *head;
    w.len = (uint32_t)n;
    int fds[2] = {conn_fd, -1}, nfds = 1;
    bool in_line = n <= SB_HANDOFF_INLINE;
    if (!in_line && (fds[nfds++] = bytes_memfd(bytes, n)) < 0)
        return SB_ENOMEM;
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov[2] = {{&w, sizeof w}, {(void *)bytes, in_line ? n : 0}};
    struct msghdr m = {.msg_iov = iov,
                       .msg_iovlen = 2,
                       .msg_control = ctl.buf,
                       .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    ssize_t r = sendmsg(sock, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    int e = errno;
    if (nfds == 2)
        close(fds[1]);
    if (r >= 0)
        return SB_OK;
    return e == EAGAIN || e == ENOBUFS ? SB_EAGAIN : e == ENOMEM ? SB_ENOMEM : SB_ECLOSED;
}

/* Sends over the kept socket to `slot`; a socket whose process has gone
 * (or restarted) is replaced once. */
static int send_to(sb_http_handoff_t *h, int slot, const wire_t *head, int conn_fd,
                   const char *bytes, size_t n) {
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh = h->out[slot] < 0;
        if (fresh) {
            int rc = connect_slot(h, slot);
            if (rc != SB_OK)
                return rc;
        }
        int rc = send_message(h->out[slot], head, conn_fd, bytes, n);
        if (rc != SB_ECLOSED)
            return rc;
        close(h->out[slot]);
        h->out[slot] = -1;
        if (fresh)
            break;
    }
    return SB_ENOTFOUND;
}

static long gone_on_data(sb_conn_t *c, char *p, size_t n) { return SB_ECLOSED; }

static const sb_conn_handler_t gone_handler = {.on_data = gone_on_data};

static void count(sb_http_handoff_t *h, int rc) {
    if (rc == SB_OK)
        h->stats.sent++;
    else if (rc == SB_ENOTFOUND)
        h->stats.no_owner++;
    else if (rc == SB_EAGAIN)
        h->stats.busy++;
}

/* The request (and what followed it, with_rest) with `fd`, a socket that
 * carries the client's plaintext. */
static int send_request(sb_http_handoff_t *h, sb_http_req_t *req, int slot, bool with_rest,
                        int fd) {
    wire_t head;
    memset(&head, 0, sizeof head);
    head.magic = SB_HANDOFF_MAGIC;
    head.peer = req->conn->peer;
    char *bytes;
    size_t n;
    if (sb_http_req_serialize(req, with_rest, &bytes, &n) != SB_OK)
        return SB_ENOMEM;
    int rc = n > h->http->ctx->max_inbuf ? SB_ETOOBIG : send_to(h, slot, &head, fd, bytes, n);
    free(bytes);
    return rc;
}

/* A TLS connection: the owner gets one end of a new socket pair as a plain
 * connection, and this process relays between the other end and the
 * client (relay.c). */
static int send_relayed(sb_http_handoff_t *h, sb_http_req_t *req, int slot) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return SB_ENOMEM;
    sb_http_relay_t *relay = sb_http__relay_open(h->http->ctx, sv[0]);
    if (!relay) {
        close(sv[1]);
        return SB_ENOMEM;
    }
    /* What the client sent after the request goes through the relay. */
    int rc = send_request(h, req, slot, false, sv[1]);
    close(sv[1]); /* the owner's now, if sent */
    if (rc != SB_OK) {
        sb_http__relay_cancel(relay);
        return rc;
    }
    sb_http__relay_attach(relay, sb_http_req_detach(req));
    return SB_OK;
}

int sb_http_handoff_send(sb_http_handoff_t *h, sb_http_req_t *req, int slot) {
    if (slot < 0 || slot >= SB_HANDOFF_SLOTS || slot == h->slot) {
        h->stats.no_owner++;
        return SB_ENOTFOUND;
    }
    if (sb_conn_queued(req->conn) > 0) {
        /* The answer would be lost with this copy of the socket: callers
         * wait for the flush first (sb_http_req_when_flushed). */
        h->stats.busy++;
        return SB_EAGAIN;
    }
    if (req->conn->flags & SB_CONN_TLS) {
        int rc = send_relayed(h, req, slot);
        count(h, rc);
        return rc;
    }
    int rc = send_request(h, req, slot, true, req->conn->io.fd);
    count(h, rc);
    if (rc != SB_OK)
        return rc;
    /* The socket is the owner's now (the message holds it): this copy
     * closes without a word. */
    sb_conn_t *c = sb_http_req_detach(req);
    c->handler = &gone_handler;
    sb_conn_close(c);
    return SB_OK;
}

/* ---- slots ----------------------------------------------------------------- */

static int open_dir(const char *dir, char *err, size_t cap) {
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, cap, "cannot create the hand-off directory %s: %s", dir, strerror(errno));
        return SB_EIO;
    }
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        snprintf(err, cap, "the hand-off directory %s is not a directory of this user", dir);
        return SB_EINVAL;
    }
    return SB_OK;
}

/* Takes the first slot whose lock file no live process holds. */
static int claim_slot(sb_http_handoff_t *h) {
    char path[128];
    for (int i = 0; i < SB_HANDOFF_SLOTS; i++) {
        if (slot_path(h, i, "lock", path, sizeof path) != SB_OK)
            return -1;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return -1;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            h->lock_fd = fd;
            return i;
        }
        close(fd);
    }
    return -1;
}

static int listen_slot(sb_http_handoff_t *h, char *err, size_t cap) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    slot_path(h, h->slot, "sock", sa.sun_path, sizeof sa.sun_path);
    unlink(sa.sun_path); /* left by the slot's previous process: it is dead (its lock was free) */
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0) {
        snprintf(err, cap, "cannot listen on %s: %s", sa.sun_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return SB_EIO;
    }
    sb_io_init(h->loop, &h->listen_io, fd, on_accept);
    return sb_io_set(&h->listen_io, EPOLLIN);
}

sb_http_handoff_t *sb_http_handoff_create(sb_http_server_t *http, const char *dir, char *err,
                                          size_t cap) {
    sb_http_handoff_t *h = calloc(1, sizeof *h);
    if (!h || !(h->rbuf = malloc(sizeof(wire_t) + SB_HANDOFF_INLINE))) {
        free(h);
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    h->http = http;
    h->loop = http->ctx->loop;
    h->lock_fd = h->listen_io.fd = -1;
    sb_list_init(&h->peers);
    for (int i = 0; i < SB_HANDOFF_SLOTS; i++)
        h->out[i] = -1;
    /* The longest socket path, "<dir>/63.sock", must fit in sun_path (108). */
    if (strlen(dir) + 9 > sizeof(((struct sockaddr_un *)0)->sun_path) ||
        strlen(dir) >= sizeof h->dir) {
        snprintf(err, cap, "the hand-off directory path is too long (at most 90 bytes): %s", dir);
        sb_http_handoff_destroy(h);
        return NULL;
    }
    snprintf(h->dir, sizeof h->dir, "%s", dir);
    if (open_dir(dir, err, cap) != SB_OK) {
        sb_http_handoff_destroy(h);
        return NULL;
    }
    h->slot = claim_slot(h);
    if (h->slot < 0) {
        snprintf(err, cap, "no free hand-off slot in %s (at most %d processes share a port)", dir,
                 SB_HANDOFF_SLOTS);
        sb_http_handoff_destroy(h);
        return NULL;
    }
    if (listen_slot(h, err, cap) != SB_OK) {
        sb_http_handoff_destroy(h);
        return NULL;
    }
    return h;
}

void sb_http_handoff_destroy(sb_http_handoff_t *h) {
    if (!h)
        return;
    if (h->listen_io.fd >= 0) {
        char path[128];
        sb_io_set(&h->listen_io, 0);
        close(h->listen_io.fd);
        if (slot_path(h, h->slot, "sock", path, sizeof path) == SB_OK)
            unlink(path);
    }
    while (!sb_list_empty(&h->peers))
        peer_free(sb_container_of(h->peers.next, peer_t, node));
    for (int i = 0; i < SB_HANDOFF_SLOTS; i++)
        if (h->out[i] >= 0)
            close(h->out[i]);
    if (h->lock_fd >= 0)
        close(h->lock_fd); /* frees the slot */
    free(h->rbuf);
    free(h);
}

int sb_http_handoff_slot(const sb_http_handoff_t *h) { return h->slot; }

const sb_http_handoff_stats_t *sb_http_handoff_stats(const sb_http_handoff_t *h) {
    return &h->stats;
}
