/* bcast mode (issue 12's cluster benchmark): K worker processes hold N
 * authenticated connections (distinct users), each in two rooms: room A of
 * --room-size consecutive users and room B of --wide-size users N / wide
 * apart, so that room B's members land on every process sharing the port.
 * The parent sums the servers' RSS before the first connection and after an
 * idle hold (heartbeats running), then sends broadcasts one at a time with
 * POST /api/emit, each on a fresh HTTP connection (the kernel spreads them
 * over the processes sharing the port): --broadcasts to room bench-b-0,
 * then --broadcasts-all to everyone. A broadcast's latency is the time from
 * writing its request until its last member got it; every member counts
 * what it got (missing, duplicated, or delivered to a non-member). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lg.h"

enum { BC_READY = 1, BC_DONE, BC_END };

/* Worker -> parent, after the worker's first lg_counts_t on the same pipe.
 * BC_READY: a = members of the target room, b = connections joined.
 * BC_DONE: broadcast seq reached all a of this worker's recipients, the last
 * at t. BC_END: a = broadcasts received, b = duplicates, t = received after
 * a later one (overtaken), then a histogram. */
typedef struct {
    uint32_t kind, seq;
    uint64_t a, b;
    int64_t t;
} bc_rec_t;

#define TARGET "bench-b-0" /* room B number 0: members i with i % groups == 0 */

/* ---- worker side ------------------------------------------------------------ */

static struct {
    int fd;
    uint64_t members, joined, received, dups, overtaken;
    uint32_t *count; /* per broadcast seq: recipients of this worker that got it */
    int64_t *last;   /* per seq: when the last of them did */
    lg_hist_t each;  /* per delivery: request written -> this member got it */
} W;

static bool write_full(int fd, const void *p, size_t n) {
    const char *q = p;
    while (n > 0) {
        ssize_t k = write(fd, q, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        q += k, n -= (size_t)k;
    }
    return true;
}

static bool in_target(const lg_conn_t *c) { return c->idx % lg_wide_groups() == 0; }

void lg_bcast_worker_begin(lg_conn_t *cs, long n, int res_fd) {
    W.fd = res_fd;
    W.count = calloc(LG_BCAST_MAX + 1, sizeof *W.count);
    W.last = calloc(LG_BCAST_MAX + 1, sizeof *W.last);
    for (long i = 0; i < n; i++) {
        if (cs[i].state != S_READY || !cs[i].joined)
            continue;
        W.joined++;
        W.members += in_target(&cs[i]);
    }
    bc_rec_t r = {.kind = BC_READY, .a = W.members, .b = W.joined};
    if (!write_full(res_fd, &r, sizeof r))
        _exit(3);
}

/* Whether seq is new to c. Broadcasts go one at a time, but one that timed
 * out can be overtaken by the next, sent through another node: c->seq is
 * the highest seen, c->seen has bit b - 1 set when seq - b was seen. */
static bool first_copy(lg_conn_t *c, uint64_t seq) {
    uint64_t last = c->seq;
    if (seq > last) {
        uint64_t shift = seq - last;
        c->seen = shift >= 64 ? 0 : c->seen << shift;
        if (last && shift <= 64)
            c->seen |= 1ULL << (shift - 1);
        c->seq = seq;
        return true;
    }
    uint64_t back = last - seq;
    if (back == 0 || back > 64 || (c->seen & (1ULL << (back - 1))))
        return false; /* a repeat (or too old to tell, counted as one) */
    c->seen |= 1ULL << (back - 1);
    W.overtaken++;
    return true;
}

/* "2["bench","<R|A><seq>:<µs written>"]" */
void lg_bcast_on_app(lg_conn_t *c, const char *p, size_t n) {
    static const char pre[] = "2[\"bench\",\"";
    if (n < sizeof pre + 2 || memcmp(p, pre, sizeof pre - 1) != 0) {
        C.other++;
        return;
    }
    char kind = p[sizeof pre - 1];
    char *end;
    unsigned long seq = strtoul(p + sizeof pre, &end, 10);
    long long sent = *end == ':' ? strtoll(end + 1, NULL, 10) : 0;
    bool to_room = kind == 'R';
    if ((kind != 'R' && kind != 'A') || seq == 0 || seq > LG_BCAST_MAX || sent <= 0 ||
        (to_room && !in_target(c)) || W.count == NULL) {
        C.bad++; /* malformed, or a room broadcast reaching a non-member */
        return;
    }
    int64_t now = lg_now_us();
    W.received++;
    lg_hist_add(&W.each, now - sent);
    if (!first_copy(c, seq)) {
        W.dups++;
        return;
    }
    W.last[seq] = now;
    if (++W.count[seq] == (to_room ? W.members : W.joined)) {
        bc_rec_t r = {.kind = BC_DONE, .seq = (uint32_t)seq, .a = W.count[seq], .t = now};
        if (!write_full(W.fd, &r, sizeof r))
            _exit(3);
    }
}

void lg_bcast_worker_end(int res_fd) {
    bc_rec_t r = {.kind = BC_END, .a = W.received, .b = W.dups, .t = (int64_t)W.overtaken};
    if (!write_full(res_fd, &r, sizeof r) || !write_full(res_fd, &W.each, sizeof W.each))
        _exit(3);
}

/* ---- parent side ------------------------------------------------------------ */

static bool read_full(int fd, void *p, size_t n, int timeout_ms) {
    char *q = p;
    int64_t until = lg_now_us() + (int64_t)timeout_ms * 1000;
    while (n > 0) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int left = (int)((until - lg_now_us()) / 1000);
        if (left < 0 || poll(&pf, 1, left) <= 0)
            return false;
        ssize_t k = read(fd, q, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        q += k, n -= (size_t)k;
    }
    return true;
}

/* POST /api/emit on a fresh connection; the time the request was written in
 * *sent. Returns the HTTP status, or -1. */
static int emit_http(long seq, bool to_room, int64_t *sent) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)O.port)};
    inet_pton(AF_INET, O.host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char body[256], req[1024];
    *sent = lg_now_us();
    int bn = snprintf(body, sizeof body, "{\"to\":%s,\"event\":\"bench\",\"data\":\"%c%ld:%lld\"}",
                      to_room ? "{\"room\":\"" TARGET "\"}" : "{\"all\":true}", to_room ? 'R' : 'A',
                      seq, (long long)*sent);
    int rn = snprintf(req, sizeof req,
                      "POST /api/emit HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %d\r\n"
                      "Connection: close\r\n\r\n%s",
                      O.host, O.api_key, bn, body);
    int status = -1;
    char ans[512];
    ssize_t got = 0, k;
    if (rn > 0 && rn < (int)sizeof req && write_full(fd, req, (size_t)rn)) {
        while (got < (ssize_t)sizeof ans - 1 &&
               (k = read(fd, ans + got, sizeof ans - 1 - (size_t)got)) > 0)
            got += k;
        ans[got] = 0;
        if (sscanf(ans, "HTTP/1.%*d %d", &status) != 1)
            status = -1;
    }
    close(fd);
    return status;
}

typedef struct {
    int k;             /* workers */
    int (*res)[2];     /* their report pipes */
    uint64_t *members; /* per worker: recipients of the room broadcasts */
    uint64_t *joined;  /* per worker: recipients of the broadcasts to all */
} crew_t;

/* Waits until every worker with recipients reported broadcast seq complete
 * (or timeout_ms passed); returns the last arrival, or -1 when incomplete. */
static int64_t wait_done(const crew_t *cr, uint32_t seq, bool to_room, int timeout_ms) {
    int64_t last = 0, until = lg_now_us() + (int64_t)timeout_ms * 1000;
    int want = 0, got = 0;
    bool done[65] = {0};
    for (int w = 0; w < cr->k; w++)
        want += (to_room ? cr->members[w] : cr->joined[w]) > 0;
    while (got < want) {
        struct pollfd pf[65];
        for (int w = 0; w < cr->k; w++)
            pf[w] = (struct pollfd){.fd = cr->res[w][0], .events = POLLIN};
        int left = (int)((until - lg_now_us()) / 1000);
        if (left <= 0 || poll(pf, (nfds_t)cr->k, left) <= 0)
            return -1;
        for (int w = 0; w < cr->k; w++) {
            bc_rec_t r;
            if (!(pf[w].revents & POLLIN))
                continue;
            if (!read_full(cr->res[w][0], &r, sizeof r, 1000))
                return -1;
            if (r.kind != BC_DONE || r.seq != seq || done[w])
                continue; /* a broadcast that timed out before, completed late */
            done[w] = true, got++;
            if (r.t > last)
                last = r.t;
        }
    }
    return last;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Exact quantile of n sorted values, in ms. */
static double q_ms(const int64_t *v, long n, double q) {
    if (n <= 0)
        return -1;
    long i = (long)(q * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

typedef struct {
    long sent, complete, http_errors;
    int64_t *lat; /* µs, of the complete ones, sorted at the end */
    double cpu_ms;
} series_t;

/* Sends n broadcasts one at a time (10 ms apart) and times each. */
static void run_series(const crew_t *cr, series_t *s, long n, uint32_t *seq, bool to_room,
                       int timeout_ms, int64_t deadline) {
    s->lat = calloc((size_t)(n > 0 ? n : 1), sizeof *s->lat);
    double cpu0 = lg_servers_cpu_ms();
    for (long i = 0; i < n && lg_now_us() < deadline; i++) {
        int64_t sent;
        ++*seq;
        s->sent++;
        if (emit_http(*seq, to_room, &sent) != 200) {
            s->http_errors++;
            continue;
        }
        int64_t last = wait_done(cr, *seq, to_room, timeout_ms);
        if (last > 0)
            s->lat[s->complete++] = last - sent;
        usleep(10000);
    }
    s->cpu_ms = lg_servers_cpu_ms() - cpu0;
    qsort(s->lat, (size_t)s->complete, sizeof *s->lat, cmp_i64);
}

static void report_series(const char *name, const series_t *s, uint64_t recipients) {
    char k[64];
#define FIELD(suffix) (snprintf(k, sizeof k, "%s_%s", name, suffix), k)
    lg_json_int(FIELD("recipients"), (long long)recipients);
    lg_json_int(FIELD("sent"), s->sent);
    lg_json_int(FIELD("complete"), s->complete);
    lg_json_int(FIELD("http_errors"), s->http_errors);
    lg_json_num(FIELD("p50_ms"), q_ms(s->lat, s->complete, 0.5));
    lg_json_num(FIELD("p99_ms"), q_ms(s->lat, s->complete, 0.99));
    lg_json_num(FIELD("max_ms"), q_ms(s->lat, s->complete, 1.0));
    lg_json_num(FIELD("server_cpu_ms"), s->cpu_ms);
    uint64_t d = recipients * (uint64_t)s->sent;
    lg_json_num(FIELD("cpu_us_per_delivery"), d > 0 ? s->cpu_ms * 1000.0 / (double)d : -1);
#undef FIELD
}

/* Open files of pid (its connections, mostly), or -1. */
static long open_files(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* "a,b,c": each server's RSS in KiB, or its open files. */
static void per_server(char *out, size_t cap, bool files) {
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < O.nservers && n < cap; i++) {
        pid_t p = O.server_pids[i];
        n += (size_t)snprintf(out + n, cap - n, "%s%ld", i ? "," : "",
                              files ? open_files(p) : lg_proc_rss_kb(p));
    }
}

/* The connect storm's tail runs on after the last join was acknowledged
 * (presence and join notices travel through Redis to every node): waits
 * until the servers together used under a tenth of a core for a second, at
 * most 120 s. Returns when. */
static int64_t settle(int64_t deadline) {
    int64_t t0 = lg_now_us();
    double prev = lg_servers_cpu_ms();
    while (lg_now_us() < t0 + 120 * 1000000LL && lg_now_us() < deadline) {
        usleep(1000000);
        double now = lg_servers_cpu_ms();
        if (now - prev < 100)
            break;
        prev = now;
    }
    return lg_now_us();
}

int lg_bcast_main(void) {
    int k = O.procs < 1 ? 1 : O.procs;
    int res[65][2], go[65][2];
    pid_t pids[65];
    uint64_t members[65] = {0}, joined[65] = {0}, tot_members = 0, tot_joined = 0;
    lg_counts_t ready = {0}, fin = {0}, t;
    const char *why = NULL;
    if (!O.server_pid || !O.api_key) {
        fprintf(stderr, "loadgen: bcast needs --server-pid and --api-key\n");
        return 2;
    }
    int64_t deadline = lg_now_us() + (int64_t)(O.max_time * 1e6);
    char each0[256], each1[256], files[256];
    per_server(each0, sizeof each0, false);
    long rss0 = lg_servers_rss_kb();
    double cpu0 = lg_servers_cpu_ms();
    int64_t t0 = lg_now_us();
    for (int w = 0; w < k; w++) {
        long share = O.conns / k, from = share * w + (w < O.conns % k ? w : O.conns % k);
        share += w < O.conns % k;
        if (lg_worker_spawn(w, from, share, res, go, pids))
            return 2;
    }
    for (int w = 0; w < k; w++) {
        bc_rec_t r;
        if (!lg_worker_collect(w, res, &ready)) {
            why = "a worker did not report";
            continue;
        }
        if (!read_full(res[w][0], &r, sizeof r, 10000) || r.kind != BC_READY) {
            why = "a worker did not report its members";
            continue;
        }
        members[w] = r.a, joined[w] = r.b;
        tot_members += r.a, tot_joined += r.b;
    }
    int64_t t_ready = lg_now_us();
    double cpu_conn = lg_servers_cpu_ms();
    int64_t t_quiet = settle(deadline);
    double cpu_quiet = lg_servers_cpu_ms();
    /* Idle hold: heartbeats run, deferred frees and heap trims happen. */
    while (lg_now_us() < t_quiet + (int64_t)(O.duration * 1e6) && lg_now_us() < deadline)
        usleep(100000);
    long rss_idle = lg_servers_rss_kb();
    per_server(each1, sizeof each1, false);
    per_server(files, sizeof files, true);
    double cpu_idle = lg_servers_cpu_ms();
    crew_t cr = {.k = k, .res = res, .members = members, .joined = joined};
    series_t room = {0}, all = {0};
    uint32_t seq = 0;
    if (!why) {
        run_series(&cr, &room, O.broadcasts, &seq, true, 10000, deadline);
        run_series(&cr, &all, O.bcast_all, &seq, false, 30000, deadline);
    }
    usleep(200000); /* late and duplicate deliveries */
    uint64_t received = 0, dups = 0, overtaken = 0;
    lg_hist_t each = {0}, h;
    for (int w = 0; w < k; w++) {
        bc_rec_t r = {0};
        close(go[w][1]);
        /* Skip DONE records of broadcasts that completed after their timeout. */
        while (read_full(res[w][0], &r, sizeof r, 10000) && r.kind == BC_DONE)
            ;
        if (r.kind == BC_END && read_full(res[w][0], &h, sizeof h, 10000)) {
            received += r.a, dups += r.b, overtaken += (uint64_t)r.t;
            lg_hist_merge(&each, &h);
        } else if (members[w] || joined[w]) {
            why = "a worker did not report its deliveries";
        }
        if (lg_read_counts(res[w][0], &t, 10000))
            lg_sum_counts(&fin, &t);
        waitpid(pids[w], NULL, 0);
    }
    uint64_t want = tot_members * (uint64_t)(room.sent - room.http_errors) +
                    tot_joined * (uint64_t)(all.sent - all.http_errors);
    uint64_t lost = want > received - dups ? want - (received - dups) : 0;
    double kb = tot_joined ? (double)(rss_idle - rss0) / (double)tot_joined : -1;
    bool ok = ready.joined == (uint64_t)O.conns && fin.errors == 0 && !why && lost == 0 &&
              dups == 0 && fin.bad == 0 && room.complete == O.broadcasts &&
              all.complete == O.bcast_all;
    lg_json_begin();
    lg_json_str("mode", "bcast");
    lg_json_str("server", O.label);
    lg_json_int("servers", O.nservers);
    lg_json_int("conns", O.conns);
    lg_json_int("procs", k);
    lg_json_int("room_size", O.room_size);
    lg_json_int("wide_size", O.wide_size > 0 ? O.wide_size : O.room_size);
    lg_json_int("joined", (long long)ready.joined);
    lg_json_num("connect_wall_s", (double)(t_ready - t0) / 1e6);
    lg_json_num("connect_cpu_ms", cpu_conn - cpu0);
    lg_json_num("settle_s", (double)(t_quiet - t_ready) / 1e6);
    lg_json_num("settle_cpu_ms", cpu_quiet - cpu_conn);
    lg_json_int("rss_before_kb", rss0);
    lg_json_str("rss_before_each_kb", each0);
    lg_json_num("idle_s", O.duration);
    lg_json_num("idle_cpu_ms", cpu_idle - cpu_quiet);
    lg_json_int("rss_idle_kb", rss_idle);
    lg_json_str("rss_idle_each_kb", each1);
    lg_json_num("kb_per_conn_idle", kb);
    lg_json_str("open_files_each", files);
    report_series("room", &room, tot_members);
    report_series("all", &all, tot_joined);
    lg_json_num("delivery_p50_ms", lg_hist_q(&each, 0.5) / 1000.0);
    lg_json_num("delivery_p99_ms", lg_hist_q(&each, 0.99) / 1000.0);
    lg_json_int("deliveries_expected", (long long)want);
    lg_json_int("deliveries", (long long)received);
    lg_json_int("lost", (long long)lost);
    lg_json_int("dup", (long long)dups);
    lg_json_int("overtaken", (long long)overtaken);
    lg_json_int("bad", (long long)fin.bad);
    lg_json_int("errors", (long long)fin.errors);
    lg_json_int("events_received", (long long)fin.other);
    if (why)
        lg_json_str("aborted", why);
    lg_json_bool("ok", ok);
    lg_json_end();
    fprintf(
        stderr,
        "%s bcast conns=%ld joined=%llu in %.1f s: RSS %ld -> %ld KiB, %.2f KiB/conn after %.0f "
        "s idle; room of %llu: %ld/%ld complete, p50 %.2f p99 %.2f ms; all %llu: %ld/%ld, p50 "
        "%.1f p99 %.1f ms; lost=%llu dup=%llu bad=%llu errors=%llu%s%s\n",
        O.label, O.conns, (unsigned long long)ready.joined, (double)(t_ready - t0) / 1e6, rss0,
        rss_idle, kb, O.duration, (unsigned long long)tot_members, room.complete, room.sent,
        q_ms(room.lat, room.complete, 0.5), q_ms(room.lat, room.complete, 0.99),
        (unsigned long long)tot_joined, all.complete, all.sent, q_ms(all.lat, all.complete, 0.5),
        q_ms(all.lat, all.complete, 0.99), (unsigned long long)lost, (unsigned long long)dups,
        (unsigned long long)fin.bad, (unsigned long long)fin.errors, why ? " aborted: " : "",
        why ? why : "");
    return ok ? 0 : 1;
}
