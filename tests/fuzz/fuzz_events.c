/* Fuzzes the built-in event handlers (src/features/) through the real server:
 * LLVMFuzzerInitialize starts sb_app_main() on a background thread (a fresh
 * temp data dir, a free loopback port, no rate limit), registers a post and a
 * group conversation through the backend API, and opens three authenticated
 * Socket.IO clients over WebSocket: alice, alice's second device, and bob.
 *
 * Input: byte 0 picks the sender (of the three), whether the event carries an
 * ack id, and the event name from the client->server table below (every
 * sb_feature_event_t row, plus two unknown names). The rest is the argument
 * list: zero or more comma-separated JSON values, sent as
 * 42[<id>]["<event>",<rest>]. Inputs whose `[<rest>]` is not JSON (jansson)
 * return -1 so libFuzzer keeps them out of the corpus.
 *
 * After each event the driver synchronises on the sender: it sends a
 * message:history for a conversation that does not exist, with an ack (a
 * store round trip that always answers forbidden), and reads frames until that
 * ack arrives, answering Engine.IO pings. The other clients are drained
 * without blocking. A connection the server closes is reopened (logged once
 * per 1000: closing a client is allowed, crashing is not); a server that
 * stops answering aborts the run. FZ_EVENTS_TRACE=1 in the environment prints
 * each event after which the server closed the sender.
 *
 * The server runs in process, so ASan/UBSan/LSan see everything the handlers
 * reach (store, hub, JSON). It is built with SB_DEBUG (build.sh): SB_ASSERT
 * holds, and the deep validators of the Engine.IO session and of the
 * Socket.IO client and its sockets run after every packet the server
 * takes in, so after each input. The server thread allocates on its own schedule,
 * so libFuzzer's per-input malloc/free balance check would run a full LSan
 * scan after almost every input (no false reports seen, but ~6x slower):
 * run.sh runs this target with -detect_leaks=0. Leaks are still caught by
 * LSan when the process exits, after the server has been shut down (SIGTERM
 * to its thread, as on a real deployment) so its teardown runs too; rerun a
 * suspect corpus with -detect_leaks=1 to find the input that leaks. */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "auth/jwt.h"
#include "fuzz_util.h"

#define FZ_SECRET "fuzz-events-secret-0123456789abcdef"
#define FZ_API_KEY "fuzz-events-api-key"
#define FZ_TIMEOUT_S 5
#define FZ_MSG_MAX (32u << 20) /* a server message larger than this: reopen */
#define FZ_NCONN 3

/* Every client->server event of the src/features tables, then two unknown
 * names. Later events go last, so that the seeds keep picking their events. */
static const char *const events[] = {
    "chat:join",
    "chat:leave",
    "chat:message",
    "chat:typing",
    "file:share",
    "collab:join_document",
    "collab:leave_document",
    "collab:edit",
    "collab:cursor_move",
    "dashboard:subscribe",
    "dashboard:unsubscribe",
    "rtc:join",
    "rtc:leave",
    "rtc:offer",
    "rtc:answer",
    "rtc:ice_candidate",
    "message:send",
    "message:history",
    "mark-read",
    "message:typing",
    "message:stop_typing",
    "notification:list",
    "notification:mark_read",
    "friend:request",
    "friend:accept",
    "status:update",
    "presence:query",
    "post:view",
    "post:unview",
    "post:like",
    "post:comment",
    "no:such_event",
    "",
    "chat:history",
};
#define FZ_NEVENTS (sizeof events / sizeof events[0])

typedef struct {
    const char *user;
    int fd;
    uint8_t *rx; /* received bytes rx[ro..rn) not yet parsed */
    size_t ro, rn, rcap;
    char *msg; /* the text message being reassembled from fragments */
    size_t mn, mcap;
    uint64_t next_id;
    bool synced;    /* the awaited sync ack arrived */
    bool timed_out; /* the last blocking read timed out */
    uint64_t sync_id;
} fz_conn_t;

static fz_conn_t conns[FZ_NCONN] = {{.user = "alice"}, {.user = "alice"}, {.user = "bob"}};
static char data_dir[] = "/tmp/sb-fuzz-events.XXXXXX";
static char port_s[16];
static pthread_t server_thread;
static volatile int server_exited;
static unsigned long reopened, sent, rejected;
static char *txbuf;
static size_t txcap;

/* ---- the server ------------------------------------------------------------- */

static void *server_main(void *ud) {
    char *argv[] = {"switchboard", "--host",          "127.0.0.1", "--port",
                    port_s,        "--jwt-secret",    FZ_SECRET,   "--api-key",
                    FZ_API_KEY,    "--data-dir",      data_dir,    "--log-level",
                    "off",         "--store-sync",    "off",       "--events-per-second",
                    "0",           "--drain-timeout", "200",       NULL};
    int rc = sb_app_main((int)(sizeof argv / sizeof argv[0]) - 1, argv);
    if (rc != 0)
        fprintf(stderr, "fuzz_events: sb_app_main returned %d\n", rc);
    server_exited = 1;
    return NULL;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    FZ_CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    FZ_CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A connected blocking socket with a receive timeout, or -1. */
static int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)atoi(port_s)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = FZ_TIMEOUT_S};
    int one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* One backend call; the answer is read and ignored (setup is best effort:
 * without it fewer paths are reachable, nothing breaks). */
static void api_post(const char *path, const char *body) {
    char req[1024], resp[1024];
    int fd = dial();
    if (fd < 0)
        return;
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     path, FZ_API_KEY, strlen(body), body);
    if (send_all(fd, req, (size_t)n))
        while (recv(fd, resp, sizeof resp, 0) > 0)
            ;
    close(fd);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    return remove(p);
}

/* At exit: shut the server down like a SIGTERM would, so its teardown runs
 * (and LSan judges what it leaves), then remove the data dir. */
static void at_exit(void) {
    fprintf(stderr, "fuzz_events: %lu events sent, %lu inputs rejected (not JSON), %lu reopened\n",
            sent, rejected, reopened);
    for (size_t i = 0; i < FZ_NCONN; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    if (!server_exited) {
        pthread_kill(server_thread, SIGTERM);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 5;
        if (pthread_timedjoin_np(server_thread, NULL, &until) != 0)
            fprintf(stderr, "fuzz_events: the server did not stop within 5 s of SIGTERM\n");
    }
    nftw(data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- WebSocket client ----------------------------------------------------------- */

static void grow(void **buf, size_t *cap, size_t need) {
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    *buf = realloc(*buf, c);
    FZ_CHECK(*buf != NULL);
    *cap = c;
}

/* Sends one masked text frame (RFC 6455 5.3: clients mask every frame). */
static bool ws_send(fz_conn_t *c, const char *p, size_t n) {
    uint8_t mask[4];
    size_t h = 2;
    grow((void **)&txbuf, &txcap, n + 14);
    uint8_t *f = (uint8_t *)txbuf;
    f[0] = 0x81;
    if (n < 126) {
        f[1] = (uint8_t)(0x80 | n);
    } else if (n <= 0xffff) {
        f[1] = 0x80 | 126;
        f[2] = (uint8_t)(n >> 8);
        f[3] = (uint8_t)n;
        h = 4;
    } else {
        f[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            f[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        h = 10;
    }
    uint32_t r = (uint32_t)rand();
    memcpy(mask, &r, 4);
    memcpy(f + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        f[h + i] = (uint8_t)p[i] ^ mask[i & 3];
    return send_all(c->fd, f, h + n);
}

static bool ws_send_str(fz_conn_t *c, const char *s) { return ws_send(c, s, strlen(s)); }

/* Reads more bytes; false on EOF, error or (when blocking) timeout. With
 * nonblock, *idle is set when nothing was there. */
static bool fill(fz_conn_t *c, bool nonblock, bool *idle) {
    if (c->ro > 0 && c->ro == c->rn)
        c->ro = c->rn = 0;
    if (c->rcap - c->rn < 65536) {
        if (c->ro > 0) {
            memmove(c->rx, c->rx + c->ro, c->rn - c->ro);
            c->rn -= c->ro;
            c->ro = 0;
        }
        grow((void **)&c->rx, &c->rcap, c->rn + 65536);
    }
    ssize_t r;
    do
        r = recv(c->fd, c->rx + c->rn, c->rcap - c->rn, nonblock ? MSG_DONTWAIT : 0);
    while (r < 0 && errno == EINTR);
    if (r < 0 && nonblock && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        *idle = true;
        return true;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        c->timed_out = true;
    if (r <= 0)
        return false;
    c->rn += (size_t)r;
    return true;
}

/* Parses one complete frame at rx[ro..rn): 1 done (*out set for a finished
 * text/binary message, else NULL), 0 need more, -1 protocol trouble. */
static int ws_frame(fz_conn_t *c, const char **out, size_t *outn) {
    const uint8_t *p = c->rx + c->ro;
    size_t avail = c->rn - c->ro, h = 2;
    uint64_t len;
    *out = NULL;
    if (avail < 2)
        return 0;
    len = p[1] & 0x7f;
    if (len == 126) {
        if (avail < 4)
            return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        h = 4;
    } else if (len == 127) {
        if (avail < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        h = 10;
    }
    if (p[1] & 0x80)
        return -1; /* a server must not mask */
    if (len > FZ_MSG_MAX)
        return -1;
    if (avail - h < len)
        return 0;
    unsigned op = p[0] & 0x0f;
    bool fin = p[0] & 0x80;
    const uint8_t *pl = p + h;
    c->ro += h + (size_t)len;
    if (op == 0x8)
        return -1; /* close */
    if (op == 0x9 || op == 0xA)
        return 1; /* the server pings at the Engine.IO level, not here */
    if (op != 0x0 && op != 0x1 && op != 0x2)
        return -1;
    if (op != 0x0)
        c->mn = 0;
    if (c->mn + len > FZ_MSG_MAX)
        return -1;
    grow((void **)&c->msg, &c->mcap, c->mn + (size_t)len + 1);
    memcpy(c->msg + c->mn, pl, (size_t)len);
    c->mn += (size_t)len;
    if (fin) {
        c->msg[c->mn] = '\0';
        *out = c->msg;
        *outn = c->mn;
        c->mn = 0;
    }
    return 1;
}

/* Reacts to one Engine.IO message; false when the session is over. */
static bool on_message(fz_conn_t *c, const char *m, size_t n) {
    if (n == 1 && m[0] == '2')
        return ws_send_str(c, "3");
    if (n >= 1 && m[0] == '1')
        return false; /* Engine.IO close */
    if (n >= 2 && m[0] == '4' && m[1] == '1')
        return false; /* Socket.IO disconnect of "/" */
    if (n >= 3 && m[0] == '4' && m[1] == '3' && c->sync_id) {
        char want[32];
        int k = snprintf(want, sizeof want, "43%llu[", (unsigned long long)c->sync_id);
        if ((size_t)k <= n && memcmp(m, want, (size_t)k) == 0)
            c->synced = true;
    }
    return true;
}

/* Processes whatever complete frames are buffered, reading more: until
 * `until` is set (blocking), or until the socket is empty (nonblocking).
 * Returns false when the connection is gone or timed out. */
static bool pump(fz_conn_t *c, bool nonblock, const bool *until) {
    for (;;) {
        const char *m;
        size_t n = 0;
        int r;
        while ((r = ws_frame(c, &m, &n)) == 1) {
            if (m && !on_message(c, m, n))
                return false;
            if (until && *until)
                return true;
        }
        if (r < 0)
            return false;
        bool idle = false;
        if (!fill(c, nonblock, &idle))
            return false;
        if (idle)
            return true;
    }
}

/* HTTP upgrade, Engine.IO open, Socket.IO CONNECT with a token. */
static bool ws_open(fz_conn_t *c) {
    static const char req[] = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                              "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: c3dpdGNoYm9hcmQtZnV6eg==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
    c->ro = c->rn = c->mn = 0;
    c->sync_id = 0;
    if ((c->fd = dial()) < 0 || !send_all(c->fd, req, sizeof req - 1))
        return false;
    char *end = NULL;
    bool idle = false;
    while (!end) {
        if (!fill(c, false, &idle))
            return false;
        grow((void **)&c->rx, &c->rcap, c->rn + 1);
        c->rx[c->rn] = '\0';
        end = strstr((char *)c->rx, "\r\n\r\n");
    }
    if (strncmp((char *)c->rx, "HTTP/1.1 101", 12) != 0)
        return false;
    c->ro = (size_t)(end + 4 - (char *)c->rx);
    /* The Engine.IO open packet first, then our CONNECT. */
    const char *m = NULL;
    size_t n;
    while (!m) {
        int r = ws_frame(c, &m, &n);
        if (r < 0 || (r == 0 && !fill(c, false, &idle)))
            return false;
    }
    if (m[0] != '0')
        return false;
    char claims[256], token[1024], pkt[1100];
    snprintf(claims, sizeof claims, "{\"sub\":\"%s\",\"name\":\"%s\",\"exp\":%lld}", c->user,
             c->user, (long long)time(NULL) + 30 * 86400);
    ssize_t tn = sb_jwt_sign_hs256(sb_cstr(claims), (const uint8_t *)FZ_SECRET, strlen(FZ_SECRET),
                                   token, sizeof token);
    FZ_CHECK(tn > 0);
    snprintf(pkt, sizeof pkt, "40{\"token\":\"%s\"}", token);
    if (!ws_send_str(c, pkt))
        return false;
    for (;;) { /* the CONNECT ack "40{"sid":...}" */
        m = NULL;
        int r = ws_frame(c, &m, &n);
        if (r < 0 || (r == 0 && !fill(c, false, &idle)))
            return false;
        if (m && n >= 2 && m[0] == '4' && m[1] == '0')
            return true;
        if (m && (m[0] == '1' || (n >= 2 && m[0] == '4' && m[1] == '4')))
            return false; /* closed or CONNECT refused */
        if (m && n == 1 && m[0] == '2' && !ws_send_str(c, "3"))
            return false;
    }
}

/* Reopens a connection the server closed; a second failure in a row means
 * the server is gone, which aborts (an in-process server cannot just vanish). */
static void reopen(fz_conn_t *c, const char *why) {
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (reopened++ % 1000 == 0)
        fprintf(stderr, "fuzz_events: reopening %s's connection (%s); %lu so far\n", c->user, why,
                reopened);
    for (int attempt = 0; attempt < 3; attempt++) {
        if (ws_open(c))
            return;
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        usleep(100 * 1000);
    }
    fprintf(stderr, "fuzz_events: cannot reconnect %s: the server stopped answering\n", c->user);
    abort();
}

/* ---- libFuzzer ---------------------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    /* OpenSSL initializes itself on first use and keeps per-thread error
     * state of the thread that did it, which it never frees for a thread
     * other than the main one (LSan would report it at exit): so use it here
     * first, on the main thread. */
    char tok[256];
    FZ_CHECK(sb_jwt_sign_hs256(SB_LIT("{}"), (const uint8_t *)"k", 1, tok, sizeof tok) > 0);
    FZ_CHECK(mkdtemp(data_dir) != NULL);
    snprintf(port_s, sizeof port_s, "%d", free_port());
    FZ_CHECK(pthread_create(&server_thread, NULL, server_main, NULL) == 0);
    int fd = -1;
    for (int i = 0; i < 200 && fd < 0 && !server_exited; i++) {
        usleep(50 * 1000);
        fd = dial();
    }
    if (fd < 0) {
        fprintf(stderr, "fuzz_events: the server did not start on port %s\n", port_s);
        abort();
    }
    close(fd);
    for (size_t i = 0; i < FZ_NCONN; i++) {
        conns[i].fd = -1;
        conns[i].next_id = 1; /* sync_id 0 means "not waiting" */
    }
    atexit(at_exit);
    api_post("/api/posts", "{\"id\":\"p1\",\"ownerId\":\"bob\"}");
    api_post("/api/posts", "{\"id\":\"p2\",\"ownerId\":\"alice\"}");
    api_post("/api/conversations", "{\"id\":\"g1\",\"memberIds\":[\"alice\",\"bob\",\"carol\"]}");
    api_post("/api/metrics/orders", "{\"value\":1}");
    api_post("/api/notifications", "{\"userId\":\"alice\",\"type\":\"t\",\"title\":\"x\","
                                   "\"message\":\"m\",\"data\":{\"k\":1}}");
    for (size_t i = 0; i < FZ_NCONN; i++)
        if (!ws_open(&conns[i]))
            reopen(&conns[i], "first open failed");
    return 0;
}

/* `[<rest>]` must be JSON: the arguments are then a well-formed list. A raw
 * NUL byte is never JSON, but jansson takes one right after a number for the
 * end of its input; the server rightly cuts such a client off, so these
 * would only waste time reconnecting. */
static bool args_ok(const uint8_t *p, size_t n, size_t *nargs) {
    if (memchr(p, 0, n))
        return false;
    char *buf = malloc(n + 2);
    FZ_CHECK(buf != NULL);
    buf[0] = '[';
    memcpy(buf + 1, p, n);
    buf[n + 1] = ']';
    json_t *v = json_loadb(buf, n + 2, JSON_ALLOW_NUL, NULL);
    free(buf);
    if (!v)
        return false;
    *nargs = json_array_size(v);
    json_decref(v);
    return true;
}

/* Sends the event, then waits for the sync ack on the same connection. */
static void deliver(fz_conn_t *c, const char *pkt, size_t n) {
    char sync[128];
    if (!ws_send(c, pkt, n)) {
        reopen(c, "send failed");
        return;
    }
    c->sync_id = c->next_id++;
    c->synced = c->timed_out = false;
    snprintf(sync, sizeof sync, "42%llu[\"message:history\",{\"conversationId\":\"fz:sync\"}]",
             (unsigned long long)c->sync_id);
    if (!ws_send_str(c, sync) || !pump(c, false, &c->synced)) {
        /* A silent server is worth a look (slow or stuck); a close is not. */
        if (c->timed_out || getenv("FZ_EVENTS_TRACE"))
            fprintf(stderr, "fuzz_events: %s after %.*s\n",
                    c->timed_out ? "no sync ack within the timeout" : "closed",
                    (int)(n > 300 ? 300 : n), pkt);
        reopen(c, c->timed_out ? "timed out" : "closed by the server");
    }
    c->sync_id = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t nargs;
    if (size < 1 || !args_ok(data + 1, size - 1, &nargs)) {
        rejected++;
        return -1;
    }
    sent++;
    unsigned v = data[0] >> 1;
    fz_conn_t *c = &conns[v % FZ_NCONN];
    const char *name = events[(v / FZ_NCONN) % FZ_NEVENTS];
    bool ack = data[0] & 1;
    if (c->fd < 0)
        reopen(c, "was closed");
    size_t cap = size + strlen(name) + 48;
    char *pkt = malloc(cap);
    FZ_CHECK(pkt != NULL);
    int h = ack ? snprintf(pkt, cap, "42%llu[\"%s\"", (unsigned long long)c->next_id++, name)
                : snprintf(pkt, cap, "42[\"%s\"", name);
    size_t n = (size_t)h;
    if (nargs > 0) {
        pkt[n++] = ',';
        memcpy(pkt + n, data + 1, size - 1);
        n += size - 1;
    }
    pkt[n++] = ']';
    deliver(c, pkt, n);
    free(pkt);
    /* The others only drain (broadcasts, pings) so they never look slow. */
    for (size_t i = 0; i < FZ_NCONN; i++)
        if (&conns[i] != c && conns[i].fd >= 0 && !pump(&conns[i], true, NULL))
            reopen(&conns[i], "closed by the server");
    return 0;
}
