/* Load generator for the Switchboard side-by-side benchmark.
 *
 *   loadgen --port P --mode echo|fanout|burst|idle|connect|storm|bcast|send [--proto sio|ws] ...
 *
 * One epoll loop, non-blocking sockets, connections spread over source
 * addresses 127.0.0.1..127.0.0.N. Speaks raw WebSocket or Socket.IO v5 over
 * Engine.IO v4 websocket. Prints one JSON line (stdout) and one human line
 * (stderr) per run; every phase is bounded in time. See bench/README.md. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lg.h"

lg_opts_t O = {
    .host = "127.0.0.1",
    .label = "server",
    .user_prefix = "bench",
    .room = "bench",
    .proto = P_SIO,
    .mode = M_ECHO,
    .conns = 100,
    .publishers = 0,
    .duration = 5,
    .warmup = 1,
    .payload = 32,
    .step_ms = 1000,
    .start_dps = 50000,
    .burst = 128,
    .users = 1,
    .rooms = 1,
    .room_size = 10,
    .rooms_per_conn = 2,
    .sources = 32,
    .procs = 1,
    .hs_conc = 256,
    .setup_timeout = 60,
    .max_time = 300,
};

enum { PH_SETUP, PH_WARM, PH_RUN, PH_DRAIN, PH_RAMP, PH_HALF, PH_DRAIN2, PH_DONE };

static lg_conn_t *conns;
static long nslots, nsubs, npubs;
static long opened, pending, settled;
static int phase = PH_SETUP;
static int64_t t_start, t_phase, t_run, t_end, hard_deadline;
static lg_hist_t H;
static double srv_cpu0, srv_cpu1, self_cpu0, self_cpu1;
static uint64_t msgs_run;    /* messages counted in the measured window */
static uint64_t deliv_total; /* fanout/burst deliveries seen by live subscribers */
static uint64_t pub_total;   /* publishes sent */
static long subs_alive;
static char *pl_buf, *pl_buf2, *msg_buf;
static bool timed_out;
static const char *abort_why;

/* ---- payloads --------------------------------------------------------------- */

/* Writes "<tag><a>:<b>:<ts>:" padded with 'x' to O.payload bytes (at least
 * the prefix) into dst; returns the length. */
static size_t make_payload(char *dst, char tag, uint64_t a, uint64_t b, int64_t ts) {
    int n = sprintf(dst, "%c%llu:%llu:%lld:", tag, (unsigned long long)a, (unsigned long long)b,
                    (long long)ts);
    size_t len = (size_t)n < (size_t)O.payload ? (size_t)O.payload : (size_t)n;
    memset(dst + n, 'x', len - (size_t)n);
    dst[len] = 0;
    return len;
}

static bool parse_u64(const char **p, const char *end, uint64_t *v) {
    const char *q = *p;
    uint64_t x = 0;
    if (q >= end || *q < '0' || *q > '9')
        return false;
    while (q < end && *q >= '0' && *q <= '9')
        x = x * 10 + (uint64_t)(*q++ - '0');
    *p = q, *v = x;
    return true;
}

/* "3<id>[" -> id; returns the position after the id or NULL. */
static const char *ack_id(const char *p, size_t n, uint64_t *id) {
    const char *q = p + 1, *end = p + n;
    if (n < 3 || p[0] != '3' || !parse_u64(&q, end, id))
        return NULL;
    return q;
}

static double elapsed_s(int64_t a, int64_t b) { return (double)(b - a) / 1e6; }

/* The measured window's edges, told on stderr in send mode: bench/store.mjs
 * reads the database's CPU over the same window. */
static void tell_window(const char *edge) {
    if (O.mode == M_SEND)
        fprintf(stderr, "loadgen: window %s\n", edge);
}

static void window_begin(int64_t now) {
    tell_window("begins");
    t_run = now;
    msgs_run = 0;
    srv_cpu0 = O.server_pid ? lg_servers_cpu_ms() : -1;
    self_cpu0 = lg_self_cpu_ms();
}

static void window_end(int64_t now) {
    tell_window("ends");
    t_end = now;
    srv_cpu1 = O.server_pid ? lg_servers_cpu_ms() : -1;
    self_cpu1 = lg_self_cpu_ms();
}

/* ---- connection setup shared by the modes ----------------------------------- */

static uint8_t role_of(long i) {
    switch (O.mode) {
    case M_FANOUT:
    case M_BURST:
        return i < nsubs ? R_SUB : R_PUB;
    case M_IDLE:
    case M_STORM:
    case M_BCAST:
        return R_IDLE;
    case M_CONNECT:
        return R_CONNECT;
    default:
        return R_ECHO;
    }
}

static void settle(lg_conn_t *c) {
    if (c->settled)
        return;
    c->settled = true;
    pending--, settled++;
}

long lg_wide_groups(void) {
    long wide = O.wide_size > 0 ? O.wide_size : O.room_size;
    return O.conns / wide > 0 ? O.conns / wide : 1;
}

/* idx_base: global index of slot 0 (idle workers own a share of the indexes). */
static void pump_connects(long idx_base) {
    while (opened < nslots && pending < O.hs_conc) {
        lg_conn_t *c = &conns[opened];
        if (lg_conn_start(c, (uint32_t)(idx_base + opened), role_of(opened)) == 0)
            pending++;
        else
            settled++, c->settled = true;
        opened++;
    }
}

/* True once every connection settled (or the setup timed out); says so on
 * stderr once ("loadgen: setup done"), for a profiler that waits for the
 * measured part (bench/storm.sh). */
static bool setup_finished(int64_t now) {
    static bool told;
    if (settled >= nslots) {
        if (!told) {
            told = true;
            fprintf(stderr, "loadgen: setup done\n");
        }
        return true;
    }
    if (elapsed_s(t_start, now) > O.setup_timeout) {
        fprintf(stderr, "loadgen: setup timed out with %ld of %ld connections settled\n", settled,
                nslots);
        return true;
    }
    return false;
}

static void send_join(lg_conn_t *c) {
    char buf[256];
    int n;
    uint64_t id = c->next_ack++;
    c->wait_ack = id;
    if (O.proto == P_WS) {
        n = snprintf(buf, sizeof buf, "sub %s", O.room);
    } else if (O.chat) {
        n = snprintf(buf, sizeof buf, "42%llu[\"chat:join\",\"%s\"]", (unsigned long long)id,
                     O.room);
    } else if (O.mode == M_STORM || O.mode == M_BCAST) {
        /* Room A groups consecutive users, room B users conns / wide apart:
         * every user shares room A with size - 1 others and room B with
         * wide - 1 others (wide = size unless --wide-size). */
        const char *pfx = O.mode == M_BCAST ? "bench" : "storm";
        n = snprintf(buf, sizeof buf, "42%llu[\"chat:join\",\"%s-a-%ld\"]", (unsigned long long)id,
                     pfx, (long)c->idx / O.room_size);
        if (O.rooms_per_conn > 1) {
            lg_send_text(c, buf, (size_t)n);
            id = c->next_ack++;
            c->wait_ack = id; /* the first answer is ignored, the second settles */
            n = snprintf(buf, sizeof buf, "42%llu[\"chat:join\",\"%s-b-%ld\"]",
                         (unsigned long long)id, pfx, (long)c->idx % lg_wide_groups());
        }
    } else if (c->role == R_IDLE) {
        if (O.rooms <= 1)
            n = snprintf(buf, sizeof buf, "42%llu[\"chat:join\",\"bench-room\"]",
                         (unsigned long long)id);
        else
            n = snprintf(buf, sizeof buf, "42%llu[\"chat:join\",\"bench-room-%ld\"]",
                         (unsigned long long)id, (long)c->idx % O.rooms);
    } else {
        n = snprintf(buf, sizeof buf, "42%llu[\"join\",\"%s\"]", (unsigned long long)id, O.room);
    }
    lg_send_text(c, buf, (size_t)n);
}

/* A join answer: "3<id>[true]" (sio_echo), "3<id>[{"ok":true,...}]" (chat), "ok" (raw). */
static void on_join_answer(lg_conn_t *c, const char *p, size_t n) {
    uint64_t id;
    const char *q = O.proto == P_WS ? NULL : ack_id(p, n, &id);
    bool ok;
    if (O.proto == P_WS)
        ok = n == 2 && memcmp(p, "ok", 2) == 0;
    else if (!q || id != c->wait_ack)
        return; /* some other event (connection:established, user_joined...) */
    else
        ok = memmem(q, (size_t)(p + n - q), "true", 4) != NULL;
    if (!ok) {
        lg_conn_fail(c, "join refused");
        return;
    }
    c->joined = true;
    c->wait_ack = 0;
    C.joined++;
    if (c->role == R_SUB) {
        c->expect = calloc((size_t)(npubs > 0 ? npubs : 1), sizeof *c->expect);
        subs_alive++;
    }
    settle(c);
}

/* ---- send: stored direct messages, one in flight per sender ----------------- */

static void echo_send(lg_conn_t *c, int64_t now);

/* The answer to c's request in flight came: counted (and its latency kept
 * in the measured window) unless it was refused; the next request follows
 * while the run lasts. */
static void answered(lg_conn_t *c, bool counted) {
    int64_t now = lg_now_us();
    c->inflight = false;
    if (counted) {
        c->nmsg++;
        C.msgs++;
        if (phase == PH_RUN) {
            lg_hist_add(&H, now - c->t_sent);
            msgs_run++;
        }
    }
    if (phase == PH_WARM || phase == PH_RUN)
        echo_send(c, now);
}

static uint64_t ack_errors; /* message:send answered with {"error":...} */
static uint64_t confirmed;  /* message:received answered (each a store request on the server) */

/* Sender i writes to the user of connection i+1 (the last to the first). */
static void send_message(lg_conn_t *c, int64_t now) {
    uint64_t id = c->next_ack++;
    char to[32] = "offline"; /* a lone sender writes to a user never online */
    if (O.conns > 1)
        snprintf(to, sizeof to, "%ld", ((long)(c->idx + 1) % O.conns + O.user_offset) % O.users);
    size_t n = make_payload(pl_buf, 'S', c->idx, ++c->seq, 0);
    int h = sprintf(msg_buf, "42%llu[\"message:send\",{\"receiverId\":\"%s-u%s\",\"content\":\"",
                    (unsigned long long)id, O.user_prefix, to);
    memcpy(msg_buf + h, pl_buf, n);
    memcpy(msg_buf + h + n, "\"}]", 3);
    c->wait_ack = id, c->t_sent = now, c->inflight = true;
    lg_send_text(c, msg_buf, (size_t)h + n + 3);
}

/* "2<id>[...]": an event that asks for an answer (message:received). */
static bool answer_event(lg_conn_t *c, const char *p, size_t n) {
    const char *q = p + 1, *end = p + n;
    uint64_t id;
    if (n < 3 || p[0] != '2' || !parse_u64(&q, end, &id))
        return false;
    char buf[32];
    /* Engine.IO MESSAGE ("4") carrying a Socket.IO ACK ("3"): without the
     * "4" it reads as an Engine.IO pong, and no delivery is ever confirmed. */
    int k = snprintf(buf, sizeof buf, "43%llu[]", (unsigned long long)id);
    lg_send_text(c, buf, (size_t)k);
    confirmed++;
    return true;
}

static void send_on_app(lg_conn_t *c, const char *p, size_t n) {
    uint64_t id;
    const char *q = ack_id(p, n, &id);
    if (!q || !c->inflight || id != c->wait_ack) {
        if (!answer_event(c, p, n))
            C.other++;
        return;
    }
    static const char err[] = "[{\"error\"";
    bool refused = (size_t)(p + n - q) >= sizeof err - 1 && memcmp(q, err, sizeof err - 1) == 0;
    ack_errors += refused;
    answered(c, !refused);
}

/* ---- echo --------------------------------------------------------------------- */

static void echo_send(lg_conn_t *c, int64_t now) {
    if (O.mode == M_SEND) {
        send_message(c, now);
        return;
    }
    uint64_t seq = ++c->seq;
    size_t n = make_payload(pl_buf, 'E', c->idx, seq, 0);
    c->t_sent = now, c->inflight = true;
    if (O.proto == P_WS) {
        lg_send_text(c, pl_buf, n);
        return;
    }
    uint64_t id = c->next_ack++;
    c->wait_ack = id;
    int h = sprintf(msg_buf, "42%llu[\"echo\",\"", (unsigned long long)id);
    memcpy(msg_buf + h, pl_buf, n);
    memcpy(msg_buf + h + n, "\"]", 2);
    lg_send_text(c, msg_buf, (size_t)h + n + 2);
}

static void echo_on_app(lg_conn_t *c, const char *p, size_t n) {
    if (O.mode == M_SEND) {
        send_on_app(c, p, n);
        return;
    }
    if (!c->inflight) {
        C.other++;
        return;
    }
    size_t pn = make_payload(pl_buf2, 'E', c->idx, c->seq, 0);
    bool match;
    if (O.proto == P_WS) {
        if (n == 7 && memcmp(p, "welcome", 7) == 0) {
            C.other++; /* ws_echo greets every connection */
            return;
        }
        match = n == pn && memcmp(p, pl_buf2, pn) == 0;
    } else {
        uint64_t id;
        const char *q = ack_id(p, n, &id);
        if (!q) {
            C.other++;
            return;
        }
        match = id == c->wait_ack && (size_t)(p + n - q) == pn + 4 && memcmp(q, "[\"", 2) == 0 &&
                memcmp(q + 2, pl_buf2, pn) == 0 && memcmp(q + 2 + pn, "\"]", 2) == 0;
    }
    if (!match) {
        C.bad++;
        lg_conn_fail(c, "echo reply does not match what was sent");
        return;
    }
    answered(c, true);
}

static long echo_inflight(void) {
    long k = 0;
    for (long i = 0; i < nslots; i++)
        k += conns[i].state == S_READY && conns[i].inflight;
    return k;
}

static void echo_tick(int64_t now) {
    switch (phase) {
    case PH_SETUP:
        pump_connects(0);
        if (!setup_finished(now))
            return;
        phase = PH_WARM, t_phase = now;
        for (long i = 0; i < nslots; i++)
            if (conns[i].state == S_READY)
                echo_send(&conns[i], now);
        return;
    case PH_WARM:
        if (elapsed_s(t_phase, now) >= O.warmup)
            phase = PH_RUN, window_begin(now);
        return;
    case PH_RUN:
        if (elapsed_s(t_run, now) >= O.duration)
            window_end(now), phase = PH_DRAIN, t_phase = now;
        return;
    case PH_DRAIN:
        if (echo_inflight() == 0 || elapsed_s(t_phase, now) > 3)
            phase = PH_DONE;
        return;
    }
}

/* ---- fanout and burst ----------------------------------------------------------- */

static double rate; /* publishes per second offered in this step */
static int64_t step_t0, step_us, half_t0, half_t1;
static uint64_t step_pub0, step_deliv0;
static double step_cpu0, step_self0, step_srv_pct, step_self_pct;
static double peak_dps, peak_cpu_per_1k, peak_rate, half_dps, half_cpu_per_1k, peak_srv_pct,
    peak_self_pct;
static int flat_steps, nsteps;
static double factor = 2; /* ramp growth; 1.25 once a step stopped growing */
static long next_pub;
static uint64_t *pub_seq;

static void pub_send(lg_conn_t *c, long pubno, int64_t now) {
    uint64_t seq = ++c->seq;
    size_t n = make_payload(pl_buf, 'P', (uint64_t)pubno, seq, now);
    int h = O.proto == P_WS ? sprintf(msg_buf, "pub %s ", O.room)
            : O.chat
                ? sprintf(msg_buf, "42[\"chat:message\",{\"roomId\":\"%s\",\"message\":\"", O.room)
                : sprintf(msg_buf, "42[\"relay\",\"%s\",\"", O.room);
    memcpy(msg_buf + h, pl_buf, n);
    size_t len = (size_t)h + n;
    if (O.proto == P_SIO)
        memcpy(msg_buf + len, O.chat ? "\"}]" : "\"]", O.chat ? 3 : 2), len += O.chat ? 3 : 2;
    pub_seq[pubno] = seq;
    pub_total++;
    lg_send_text(c, msg_buf, len);
}

static void sub_on_delivery(lg_conn_t *c, const char *p, const char *end) {
    uint64_t pub, seq, ts;
    if (!parse_u64(&p, end, &pub) || p >= end || *p++ != ':' || !parse_u64(&p, end, &seq) ||
        p >= end || *p++ != ':' || !parse_u64(&p, end, &ts) || pub >= (uint64_t)npubs) {
        C.bad++;
        return;
    }
    int64_t now = lg_now_us();
    c->nmsg++;
    C.msgs++;
    deliv_total++;
    /* Fanout latency is that of messages sent during the half-peak step,
     * whenever they arrive; burst latency is that of the measured window. */
    if ((half_t0 && (int64_t)ts >= half_t0 && (int64_t)ts < half_t1) ||
        (O.mode == M_BURST && phase == PH_RUN))
        lg_hist_add(&H, now - (int64_t)ts);
    uint64_t *e = &c->expect[pub];
    if (seq == *e + 1) {
        *e = seq;
    } else if (seq <= *e) {
        C.dup++; /* a repeat (or an older message after a newer one) */
    } else {
        C.ooo++, C.lost += seq - *e - 1; /* a gap; counted as lost unless it shows up later */
        *e = seq;
    }
}

static void sub_on_app(lg_conn_t *c, const char *p, size_t n) {
    if (!c->joined) {
        on_join_answer(c, p, n);
        return;
    }
    const char *end = p + n;
    if (O.proto == P_WS) {
        if (n > 1 && p[0] == 'P')
            sub_on_delivery(c, p + 1, end);
        else
            C.other++;
        return;
    }
    static const char pre[] = "2[\"relay\",\"P";
    static const char chat_pre[] = "2[\"chat:message\",", chat_msg[] = "\"message\":\"P";
    const char *m;
    if (!O.chat && n > sizeof pre - 1 && memcmp(p, pre, sizeof pre - 1) == 0)
        sub_on_delivery(c, p + sizeof pre - 1, end);
    else if (O.chat && n > sizeof chat_pre - 1 && memcmp(p, chat_pre, sizeof chat_pre - 1) == 0 &&
             (m = memmem(p, n, chat_msg, sizeof chat_msg - 1)))
        sub_on_delivery(c, m + sizeof chat_msg - 1, end);
    else
        C.other++;
}

static uint64_t outstanding(void) {
    if (subs_alive <= 0)
        return 0;
    uint64_t done = deliv_total / (uint64_t)subs_alive;
    return pub_total > done ? pub_total - done : 0;
}

/* Sends what the offered rate says is due since step_t0, as long as the
 * backlog stays under half a second of the offered rate or of the best
 * delivery rate measured so far, whichever is more (at least 8 publishes):
 * an overloaded server is measured at its capacity instead of being buried
 * under a backlog it needs minutes to drain, and a server that is not
 * saturated but slow to reach every subscriber (a loaded machine schedules
 * each hop late) is not held to 8 publishes per latency. */
static void publish_due(int64_t now) {
    double due_d = rate * elapsed_s(step_t0, now) - (double)(pub_total - step_pub0);
    long due = due_d > 10000 ? 10000 : (long)due_d;
    double best = peak_dps / (double)(subs_alive > 0 ? subs_alive : 1);
    double room = (O.rate > 0 ? O.rate : rate > best ? rate : best) / 2;
    uint64_t cap = (uint64_t)(room > 8 ? room : 8);
    for (long k = 0, tries = 0; k < due && tries < due + npubs; tries++) {
        if (outstanding() >= cap)
            return;
        long p = next_pub++ % npubs;
        lg_conn_t *c = &conns[nsubs + p];
        if (c->state != S_READY || c->out_n > c->out_off)
            continue; /* kernel buffer full: the offered rate is not met */
        pub_send(c, p, now);
        k++;
    }
}

static void step_begin(int64_t now) {
    step_t0 = now;
    step_pub0 = pub_total;
    step_deliv0 = deliv_total;
    step_cpu0 = O.server_pid ? lg_servers_cpu_ms() : -1;
    step_self0 = lg_self_cpu_ms();
}

/* Deliveries per second and server CPU ms per 1000 deliveries in this step. */
static void step_measure(int64_t now, double *dps, double *cpu1k) {
    double secs = elapsed_s(step_t0, now), d = (double)(deliv_total - step_deliv0);
    *dps = secs > 0 ? d / secs : 0;
    double srv = step_cpu0 >= 0 ? lg_servers_cpu_ms() - step_cpu0 : -1;
    *cpu1k = srv >= 0 && d > 0 ? srv * 1000.0 / d : -1;
    step_srv_pct = srv >= 0 && secs > 0 ? srv / secs / 10 : -1;
    step_self_pct = secs > 0 ? (lg_self_cpu_ms() - step_self0) / secs / 10 : -1;
}

static bool all_delivered(void) {
    uint64_t want = 0, got = 0;
    for (long i = 0; i < nsubs; i++) {
        lg_conn_t *c = &conns[i];
        if (c->state != S_READY || !c->joined)
            continue;
        want += pub_total, got += c->nmsg;
    }
    return got >= want;
}

static void ramp_step_end(int64_t now) {
    double dps, cpu1k;
    step_measure(now, &dps, &cpu1k);
    nsteps++;
    if (!O.quiet)
        fprintf(stderr, "loadgen: step %d: offered %.0f pub/s -> %.0f deliveries/s\n", nsteps, rate,
                dps);
    bool grew = dps > peak_dps * 1.05;
    if (dps > peak_dps)
        peak_dps = dps, peak_cpu_per_1k = cpu1k, peak_rate = rate, peak_srv_pct = step_srv_pct,
        peak_self_pct = step_self_pct;
    bool over = elapsed_s(t_run, now) + elapsed_s(0, step_us) > O.duration;
    if (!grew && ++flat_steps >= 3)
        over = true;
    if (O.rate > 0 || over || nsteps >= 24) {
        window_end(now);
        phase = PH_DRAIN, t_phase = now;
        return;
    }
    /* Doubling overshoots: past the capacity some servers deliver less than
     * their capacity (overload), so once a step stops growing, probe again
     * from the best step upwards in steps of 25%. */
    if (!grew && factor > 1.25)
        factor = 1.25, rate = peak_rate;
    rate *= factor;
    step_begin(now);
}

static void fanout_tick(int64_t now) {
    switch (phase) {
    case PH_SETUP:
        pump_connects(0);
        if (!setup_finished(now))
            return;
        if (subs_alive == 0) {
            abort_why = "no subscriber joined";
            phase = PH_DONE;
            return;
        }
        step_us = O.step_ms * 1000;
        rate = O.rate > 0 ? O.rate : O.start_dps / (double)nsubs;
        phase = PH_RAMP;
        if (O.rate > 0) /* fixed rate: the latency is that of the one step */
            half_t0 = now, half_t1 = now + step_us;
        window_begin(now);
        step_begin(now);
        return;
    case PH_RAMP:
        publish_due(now);
        if (now - step_t0 >= step_us)
            ramp_step_end(now);
        return;
    case PH_DRAIN:
        if (!all_delivered() && elapsed_s(t_phase, now) < 10)
            return;
        if (O.rate > 0 || peak_dps <= 0) {
            phase = PH_DONE;
            return;
        }
        rate = peak_dps / 2 / (double)subs_alive;
        phase = PH_HALF;
        half_t0 = now, half_t1 = now + 2 * step_us;
        step_begin(now);
        return;
    case PH_HALF:
        publish_due(now);
        if (now >= half_t1) {
            step_measure(now, &half_dps, &half_cpu_per_1k);
            phase = PH_DRAIN2, t_phase = now;
        }
        return;
    case PH_DRAIN2:
        if (all_delivered() || elapsed_s(t_phase, now) > 10)
            phase = PH_DONE;
        return;
    }
}

/* Burst: every publisher writes its share of B publishes in one system
 * call, then all wait until every subscriber has every one of them. */
static int64_t burst_t0;

static void burst_fire(int64_t now) {
    long per = O.burst / npubs, extra = O.burst % npubs;
    for (long p = 0; p < npubs; p++) {
        lg_conn_t *c = &conns[nsubs + p];
        if (c->state != S_READY)
            continue;
        c->corked = true;
        for (long k = 0; k < per + (p < extra); k++)
            pub_send(c, p, now);
        lg_conn_uncork(c);
    }
    burst_t0 = now;
}

static void burst_tick(int64_t now) {
    if (phase == PH_SETUP) {
        pump_connects(0);
        if (!setup_finished(now))
            return;
        if (subs_alive == 0) {
            abort_why = "no subscriber joined";
            phase = PH_DONE;
            return;
        }
        phase = PH_WARM, t_phase = now;
        burst_fire(now);
        return;
    }
    if (phase == PH_WARM && elapsed_s(t_phase, now) >= O.warmup) {
        phase = PH_RUN;
        window_begin(now);
        step_begin(now);
    } else if (phase == PH_RUN && elapsed_s(t_run, now) >= O.duration) {
        step_measure(now, &peak_dps, &peak_cpu_per_1k);
        peak_srv_pct = step_srv_pct, peak_self_pct = step_self_pct;
        window_end(now);
        phase = PH_DRAIN, t_phase = now;
    }
    if (outstanding() > 0) {
        if (elapsed_s(burst_t0, now) > 20) {
            abort_why = "a burst was not delivered within 20 s";
            phase = PH_DONE;
        }
        return;
    }
    if (phase == PH_DRAIN)
        phase = all_delivered() || elapsed_s(t_phase, now) > 10 ? PH_DONE : PH_DRAIN;
    else if (phase == PH_WARM || phase == PH_RUN)
        burst_fire(now);
}

/* Messages still missing at the end (after the drain): the server is far
 * behind or dropped them; either way the run is not clean. Gaps (a later
 * message arrived, an earlier one never did) are counted as lost on arrival. */
static uint64_t undelivered;

static void fanout_verify(void) {
    for (long i = 0; i < nsubs; i++) {
        lg_conn_t *c = &conns[i];
        if (c->state != S_READY || !c->expect)
            continue;
        for (long p = 0; p < npubs; p++)
            if (pub_seq[p] > c->expect[p])
                undelivered += pub_seq[p] - c->expect[p];
    }
}

/* ---- connect -------------------------------------------------------------------- */

static long next_idx;

static void connect_tick(int64_t now) {
    if (phase == PH_SETUP)
        phase = PH_WARM, t_phase = now;
    if (phase == PH_WARM && elapsed_s(t_phase, now) >= O.warmup)
        phase = PH_RUN, window_begin(now);
    if (phase == PH_RUN && elapsed_s(t_run, now) >= O.duration)
        window_end(now), phase = PH_DRAIN, t_phase = now;
    if (C.hs_fail > 1000 && phase != PH_DONE) {
        abort_why = "more than 1000 failed handshakes";
        phase = PH_DONE;
    }
    bool busy = false;
    for (long i = 0; i < nslots; i++) {
        lg_conn_t *c = &conns[i];
        if (c->state == S_FREE && (phase == PH_WARM || phase == PH_RUN))
            lg_conn_start(c, (uint32_t)next_idx++, R_CONNECT);
        busy |= c->state != S_FREE;
    }
    if (phase == PH_DRAIN && (!busy || elapsed_s(t_phase, now) > 3))
        phase = PH_DONE;
}

static void connect_on_ready(lg_conn_t *c) {
    int64_t now = lg_now_us();
    C.handshakes++;
    if (phase == PH_RUN && c->t_open >= t_run) {
        lg_hist_add(&H, now - c->t_open);
        msgs_run++;
    }
    lg_conn_close(c);
}

/* ---- hooks from lg_net.c ---------------------------------------------------------- */

void lg_on_ready(lg_conn_t *c) {
    switch (c->role) {
    case R_CONNECT:
        connect_on_ready(c);
        return;
    case R_SUB:
    case R_IDLE:
        send_join(c);
        return;
    case R_PUB:
        if (O.chat) { /* chat:message needs the sender in the room */
            send_join(c);
            return;
        }
        settle(c);
        return;
    default:
        settle(c);
    }
}

void lg_on_app(lg_conn_t *c, const char *p, size_t n) {
    switch (c->role) {
    case R_ECHO:
        echo_on_app(c, p, n);
        return;
    case R_SUB:
        sub_on_app(c, p, n);
        return;
    case R_IDLE:
    case R_PUB:
        if (!c->joined && (c->role == R_IDLE || O.chat))
            on_join_answer(c, p, n);
        else if (O.mode == M_BCAST)
            lg_bcast_on_app(c, p, n);
        else
            C.other++;
        return;
    default:
        C.other++;
    }
}

void lg_on_gone(lg_conn_t *c) {
    if (c->role == R_SUB && c->joined)
        subs_alive--, deliv_total -= c->nmsg;
    if (c->role != R_CONNECT)
        settle(c);
}

/* ---- loop and report ---------------------------------------------------------------- */

static void run_loop(void (*tick)(int64_t)) {
    while (phase != PH_DONE) {
        int64_t now = lg_now_us();
        if (now > hard_deadline) {
            timed_out = true;
            abort_why = "--max-time reached";
            break;
        }
        tick(now);
        bool busy = phase == PH_RAMP || phase == PH_HALF || O.mode == M_CONNECT;
        lg_net_poll(busy ? 1 : 10);
    }
}

static const char *mode_name(void) {
    static const char *names[] = {"echo",    "fanout", "burst", "idle",
                                  "connect", "storm",  "bcast", "send"};
    return names[O.mode];
}

static void report_common(double secs) {
    lg_json_str("mode", mode_name());
    lg_json_str("proto", O.proto == P_SIO ? "sio" : "ws");
    lg_json_str("label", O.label);
    lg_json_int("conns", O.conns);
    lg_json_int("payload", O.payload);
    lg_json_num("window_s", secs);
    lg_json_int("connected", (long long)C.connected);
    lg_json_int("errors", (long long)C.errors);
    lg_json_int("handshake_failures", (long long)C.hs_fail);
    lg_json_int("closed_by_server", (long long)C.closed_by_peer);
    lg_json_int("bad", (long long)C.bad);
}

static void report_cpu(double msgs, double secs) {
    double srv = srv_cpu0 >= 0 && srv_cpu1 >= 0 ? srv_cpu1 - srv_cpu0 : -1;
    lg_json_num("server_cpu_ms", srv);
    lg_json_num("server_cpu_pct", srv >= 0 && secs > 0 ? srv / secs / 10 : -1);
    lg_json_num("cpu_ms_per_1k", srv >= 0 && msgs > 0 ? srv * 1000 / msgs : -1);
    lg_json_num("loadgen_cpu_pct", secs > 0 ? (self_cpu1 - self_cpu0) / secs / 10 : -1);
}

static uint64_t min_per_conn(long from, long to) {
    uint64_t m = UINT64_MAX;
    for (long i = from; i < to; i++)
        if (conns[i].nmsg < m)
            m = conns[i].nmsg;
    return m == UINT64_MAX ? 0 : m;
}

static int report(void) {
    double secs = elapsed_s(t_run, t_end > t_run ? t_end : t_run);
    /* Echo: a request still unanswered after the drain, or a window without
     * a single answer, means the server stalled or dropped (e.g. a rate
     * limit): not a clean run, even though nothing arrived wrong. */
    bool echoes = O.mode == M_ECHO || O.mode == M_SEND;
    long unanswered = echoes ? echo_inflight() : 0;
    bool stalled = echoes && (unanswered > 0 || msgs_run == 0);
    bool ok = C.errors == 0 && C.bad == 0 && C.lost == 0 && C.dup == 0 && undelivered == 0 &&
              !stalled && !abort_why;
    double rate_out = secs > 0 ? (double)msgs_run / secs : 0;
    lg_json_begin();
    report_common(secs);
    if (O.mode == M_FANOUT || O.mode == M_BURST) {
        double s2 = elapsed_s(half_t0, half_t1);
        lg_json_int("publishers", npubs);
        lg_json_int("subscribers_joined", subs_alive);
        lg_json_int("published", (long long)pub_total);
        lg_json_int("deliveries", (long long)C.msgs);
        lg_json_int("expected_deliveries", (long long)pub_total * subs_alive);
        lg_json_int("lost", (long long)C.lost);
        lg_json_int("undelivered", (long long)undelivered);
        lg_json_int("dup", (long long)C.dup);
        lg_json_int("out_of_order", (long long)C.ooo);
        lg_json_int("min_per_conn", (long long)min_per_conn(0, nsubs));
        lg_json_num("peak_deliveries_per_s", peak_dps);
        lg_json_num("msgs_per_s", peak_dps);
        lg_json_num("cpu_ms_per_1k", peak_cpu_per_1k);
        if (O.mode == M_FANOUT) {
            lg_json_num("peak_offered_pub_per_s", peak_rate);
            lg_json_num("half_deliveries_per_s", half_dps);
            lg_json_num("half_cpu_ms_per_1k", half_cpu_per_1k);
            lg_json_num("half_window_s", s2);
            lg_json_int("steps", nsteps);
        } else {
            lg_json_int("burst", O.burst);
        }
        lg_json_num("p50_us", lg_hist_q(&H, 0.5));
        lg_json_num("p99_us", lg_hist_q(&H, 0.99));
        lg_json_num("p999_us", lg_hist_q(&H, 0.999));
        lg_json_num("server_cpu_pct", peak_srv_pct);
        lg_json_num("loadgen_cpu_pct", peak_self_pct);
        rate_out = peak_dps;
    } else {
        lg_json_int("msgs", (long long)msgs_run);
        lg_json_num("msgs_per_s", rate_out);
        if (O.mode == M_SEND) {
            lg_json_int("ack_errors", (long long)ack_errors);
            lg_json_int("acked_total", (long long)C.msgs); /* warm-up and window */
            lg_json_int("confirmed", (long long)confirmed);
        }
        if (echoes) {
            lg_json_int("min_per_conn", (long long)min_per_conn(0, nslots));
            lg_json_int("unanswered", unanswered);
            undelivered = (uint64_t)unanswered; /* shown on the human line */
        }
        if (O.mode == M_CONNECT)
            lg_json_int("handshakes_total", (long long)C.handshakes);
        lg_json_num("p50_us", lg_hist_q(&H, 0.5));
        lg_json_num("p99_us", lg_hist_q(&H, 0.99));
        lg_json_num("p999_us", lg_hist_q(&H, 0.999));
        report_cpu((double)msgs_run, secs);
    }
    if (abort_why)
        lg_json_str("aborted", abort_why);
    lg_json_bool("ok", ok);
    lg_json_end();
    fprintf(stderr,
            "%s %s %s conns=%ld: %.0f %s/s p50=%.0fus p99=%.0fus p999=%.0fus errors=%llu lost=%llu "
            "undelivered=%llu dup=%llu%s%s\n",
            O.label, mode_name(), O.proto == P_SIO ? "sio" : "ws", O.conns, rate_out,
            O.mode == M_CONNECT ? "handshakes"
            : echoes            ? "msgs"
                                : "deliveries",
            lg_hist_q(&H, 0.5), lg_hist_q(&H, 0.99), lg_hist_q(&H, 0.999),
            (unsigned long long)C.errors, (unsigned long long)C.lost,
            (unsigned long long)undelivered, (unsigned long long)C.dup,
            abort_why ? " aborted: " : "", abort_why ? abort_why : "");
    return ok ? 0 : 1;
}

/* ---- idle: worker processes hold the connections, the parent measures ---------------- */

static void idle_worker(long from, long count, int res_fd, int go_fd) {
    nslots = count;
    conns = calloc((size_t)count, sizeof *conns);
    t_start = lg_now_us();
    int64_t last = 0;
    while (phase == PH_SETUP && lg_now_us() < hard_deadline) {
        if (getenv("LG_DEBUG") && lg_now_us() - last > 250000) {
            last = lg_now_us();
            fprintf(stderr,
                    "setup: opened %ld pending %ld settled %ld connected %llu joined %llu\n",
                    opened, pending, settled, (unsigned long long)C.connected,
                    (unsigned long long)C.joined);
        }
        pump_connects(from);
        if (setup_finished(lg_now_us()))
            phase = PH_RUN;
        lg_net_poll(10);
    }
    if (write(res_fd, &C, sizeof C) != (ssize_t)sizeof C)
        _exit(3);
    if (O.mode == M_BCAST)
        lg_bcast_worker_begin(conns, count, res_fd);
    struct pollfd pf = {.fd = go_fd, .events = POLLIN};
    while (lg_now_us() < hard_deadline && poll(&pf, 1, 0) == 0)
        lg_net_poll(O.mode == M_BCAST ? 5 : 50);
    if (O.mode == M_BCAST)
        lg_bcast_worker_end(res_fd);
    lg_counts_t end = C; /* connections lost while holding count as errors */
    for (long i = 0; i < count; i++)
        if (conns[i].state == S_READY)
            lg_conn_close(&conns[i]);
    if (write(res_fd, &end, sizeof end) != (ssize_t)sizeof end)
        _exit(3);
    _exit(0);
}

bool lg_read_counts(int fd, lg_counts_t *out, int timeout_ms) {
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (poll(&pf, 1, timeout_ms) <= 0)
        return false;
    return read(fd, out, sizeof *out) == (ssize_t)sizeof *out;
}

void lg_sum_counts(lg_counts_t *a, const lg_counts_t *b) {
    a->connected += b->connected, a->joined += b->joined, a->errors += b->errors;
    a->closed_by_peer += b->closed_by_peer, a->hs_fail += b->hs_fail, a->other += b->other;
}

/* Forks idle worker w for connections [from, from + share). */
int lg_worker_spawn(int w, long from, long share, int res[][2], int go[][2], pid_t *pids) {
    if (pipe(res[w]) || pipe(go[w]))
        return -1;
    pids[w] = fork();
    if (pids[w] == 0) {
        close(res[w][0]), close(go[w][1]);
        for (int j = 0; j < w; j++) /* else earlier workers never see their go pipe close */
            close(res[j][0]), close(go[j][1]);
        lg_net_init();
        idle_worker(from, share, res[w][1], go[w][0]);
    }
    close(res[w][1]), close(go[w][0]);
    return 0;
}

bool lg_worker_collect(int w, int res[][2], lg_counts_t *ready) {
    lg_counts_t t;
    int left = (int)((hard_deadline - lg_now_us()) / 1000);
    if (lg_read_counts(res[w][0], &t, left > 0 ? left : 0)) {
        lg_sum_counts(ready, &t);
        return true;
    }
    abort_why = "a worker did not report";
    return false;
}

/* Worker 0 holds a warm-up group (1 % of the connections) whose RSS is the
 * baseline of the marginal figure: the first connections also page in code
 * and fill caches, a one-off cost that is not per connection. Both figures
 * are reported. */
static int idle_main(void) {
    int k = O.procs < 1 ? 1 : O.procs;
    int res[65][2], go[65][2];
    pid_t pids[65];
    long warm = O.conns >= 200 ? O.conns / 100 : 0, rest = O.conns - warm;
    long rss0 = O.server_pid ? lg_servers_rss_kb() : -1, rss_warm = rss0;
    lg_counts_t ready = {0}, fin = {0}, t;
    if (warm > 0) {
        if (lg_worker_spawn(0, 0, warm, res, go, pids))
            return 2;
        lg_worker_collect(0, res, &ready);
        usleep(500000);
        rss_warm = O.server_pid ? lg_servers_rss_kb() : -1;
    }
    int first = warm > 0, n = first + k;
    for (int w = first; w < n; w++) {
        int i = w - first;
        long share = rest / k, from = warm + share * i + (i < rest % k ? i : rest % k);
        share += i < rest % k;
        if (lg_worker_spawn(w, from, share, res, go, pids))
            return 2;
    }
    for (int w = first; w < n; w++)
        lg_worker_collect(w, res, &ready);
    usleep(1000000); /* let the server settle (deferred frees, allocator) */
    long rss1 = O.server_pid ? lg_servers_rss_kb() : -1;
    window_begin(lg_now_us());
    usleep((useconds_t)(O.duration * 1e6));
    window_end(lg_now_us());
    for (int w = 0; w < n; w++) {
        close(go[w][1]);
        if (lg_read_counts(res[w][0], &t, 10000))
            lg_sum_counts(&fin, &t);
        waitpid(pids[w], NULL, 0);
    }
    self_cpu1 = lg_self_cpu_ms();
    C = fin;
    double secs = elapsed_s(t_run, t_end);
    bool ok = ready.joined == (uint64_t)O.conns && fin.errors == 0 && !abort_why;
    lg_json_begin();
    report_common(secs);
    lg_json_int("procs", k);
    lg_json_int("rooms", O.rooms);
    lg_json_int("users", O.users);
    lg_json_int("joined", (long long)ready.joined);
    lg_json_int("rss_before_kb", rss0);
    lg_json_int("rss_after_kb", rss1);
    double kb = ready.joined > 0 && rss0 >= 0 ? (double)(rss1 - rss0) / (double)ready.joined : -1;
    double marginal = ready.joined > (uint64_t)warm && rss_warm >= 0
                          ? (double)(rss1 - rss_warm) / (double)(ready.joined - (uint64_t)warm)
                          : -1;
    lg_json_int("warmup_conns", warm);
    lg_json_int("rss_warm_kb", rss_warm);
    lg_json_num("kb_per_conn", kb);
    lg_json_num("kb_per_conn_marginal", marginal);
    lg_json_num("msgs_per_s", kb); /* the headline figure of this mode */
    lg_json_num("server_cpu_ms", srv_cpu1 - srv_cpu0);
    lg_json_num("server_cpu_pct", secs > 0 ? (srv_cpu1 - srv_cpu0) / secs / 10 : -1);
    if (abort_why)
        lg_json_str("aborted", abort_why);
    lg_json_bool("ok", ok);
    lg_json_end();
    fprintf(
        stderr,
        "%s idle conns=%ld joined=%llu: RSS %ld -> %ld KiB (%ld after %ld warm-up), %.2f KiB/conn, "
        "%.2f KiB/conn past the warm-up, idle CPU %.0f ms in %.1f s, errors=%llu%s%s\n",
        O.label, O.conns, (unsigned long long)ready.joined, rss0, rss1, rss_warm, warm, kb,
        marginal, srv_cpu1 - srv_cpu0, secs, (unsigned long long)fin.errors,
        abort_why ? " aborted: " : "", abort_why ? abort_why : "");
    return ok ? 0 : 1;
}

/* ---- storm: distinct users connect at once, idle, then all leave at once ------------- */

/* Samples the server's RSS every 2 ms until its CPU time has not moved for
 * `quiet_ms` (the work of the storm is done) or `max_ms` passed; returns the
 * peak in KiB. */
static long server_settle(int quiet_ms, int max_ms, int64_t *done_us) {
    long peak = -1;
    double cpu = lg_servers_cpu_ms();
    int64_t t0 = lg_now_us(), moved = t0;
    while (lg_now_us() - t0 < (int64_t)max_ms * 1000 &&
           lg_now_us() - moved < (int64_t)quiet_ms * 1000) {
        long rss = lg_servers_rss_kb();
        if (rss > peak)
            peak = rss;
        usleep(2000);
        double now = lg_servers_cpu_ms();
        if (now > cpu + 1) /* more than a tick of work since the last look */
            cpu = now, moved = lg_now_us();
    }
    *done_us = moved;
    return peak;
}

/* The connect storm: N users (--users N for distinct ones) connect with at
 * most --handshake-concurrency handshakes in flight per worker, join their
 * rooms; the server's CPU from the first connect until it is quiet again is
 * the storm's cost. Then they idle for --duration s (heartbeats running):
 * RSS per connection. Then every worker closes all its connections at
 * once: the disconnect storm's CPU and peak RSS. */
static int storm_main(void) {
    int k = O.procs < 1 ? 1 : O.procs;
    int res[65][2], go[65][2];
    pid_t pids[65];
    lg_counts_t ready = {0}, fin = {0}, t;
    if (!O.server_pid) {
        fprintf(stderr, "loadgen: storm needs --server-pid\n");
        return 2;
    }
    long rss0 = lg_servers_rss_kb();
    double cpu0 = lg_servers_cpu_ms();
    int64_t t0 = lg_now_us(), t_quiet;
    for (int w = 0; w < k; w++) {
        long share = O.conns / k, from = share * w + (w < O.conns % k ? w : O.conns % k);
        share += w < O.conns % k;
        if (lg_worker_spawn(w, from, share, res, go, pids))
            return 2;
    }
    for (int w = 0; w < k; w++)
        lg_worker_collect(w, res, &ready);
    int64_t t_ready = lg_now_us();
    long rss_conn_peak = server_settle(300, 30000, &t_quiet);
    double cpu1 = lg_servers_cpu_ms();
    long rss1 = lg_servers_rss_kb();
    usleep((useconds_t)(O.duration * 1e6));
    long rss_idle = lg_servers_rss_kb();
    double cpu_idle = lg_servers_cpu_ms();
    int64_t t_leave = lg_now_us(), t_left;
    for (int w = 0; w < k; w++)
        close(go[w][1]);
    long rss_peak = server_settle(500, 60000, &t_left);
    double cpu2 = lg_servers_cpu_ms();
    for (int w = 0; w < k; w++) {
        if (lg_read_counts(res[w][0], &t, 10000))
            lg_sum_counts(&fin, &t);
        waitpid(pids[w], NULL, 0);
    }
    long rss_after = lg_servers_rss_kb();
    bool ok = ready.joined == (uint64_t)O.conns && fin.errors == 0 && !abort_why;
    double kb = ready.joined ? (double)(rss_idle - rss0) / (double)ready.joined : -1;
    lg_json_begin();
    lg_json_str("mode", "storm");
    lg_json_str("server", O.label);
    lg_json_int("conns", O.conns);
    lg_json_int("users", O.users);
    lg_json_int("room_size", O.room_size);
    lg_json_int("rooms_per_conn", O.rooms_per_conn);
    lg_json_int("joined", (long long)ready.joined);
    lg_json_num("connect_wall_s", elapsed_s(t0, t_ready));
    lg_json_num("connect_cpu_ms", cpu1 - cpu0);
    lg_json_num("connect_cpu_ms_per_1k",
                ready.joined ? (cpu1 - cpu0) * 1000.0 / (double)ready.joined : -1);
    lg_json_int("rss_before_kb", rss0);
    lg_json_int("rss_connect_peak_kb", rss_conn_peak);
    lg_json_int("rss_connected_kb", rss1);
    lg_json_num("idle_s", O.duration);
    lg_json_int("rss_idle_kb", rss_idle);
    lg_json_num("kb_per_conn_idle", kb);
    lg_json_num("idle_cpu_ms", cpu_idle - cpu1);
    lg_json_num("disconnect_wall_s", elapsed_s(t_leave, t_left));
    lg_json_num("disconnect_cpu_ms", cpu2 - cpu_idle);
    lg_json_int("rss_disconnect_peak_kb", rss_peak);
    lg_json_int("rss_after_kb", rss_after);
    lg_json_int("events_received", (long long)fin.other);
    lg_json_int("errors", (long long)fin.errors);
    lg_json_num("msgs_per_s", kb); /* the headline figure: KiB per idle connection */
    if (abort_why)
        lg_json_str("aborted", abort_why);
    lg_json_bool("ok", ok);
    lg_json_end();
    fprintf(stderr,
            "%s storm conns=%ld users=%ld joined=%llu: connect %.2f s wall, %.0f ms CPU; "
            "RSS %ld -> %ld KiB, %.2f KiB/conn after %.0f s idle; disconnect %.0f ms CPU, RSS peak "
            "%ld, "
            "after %ld KiB; events received %llu, errors=%llu%s%s\n",
            O.label, O.conns, O.users, (unsigned long long)ready.joined, elapsed_s(t0, t_ready),
            cpu1 - cpu0, rss0, rss_idle, kb, O.duration, cpu2 - cpu_idle, rss_peak, rss_after,
            (unsigned long long)fin.other, (unsigned long long)fin.errors,
            abort_why ? " aborted: " : "", abort_why ? abort_why : "");
    return ok ? 0 : 1;
}

/* ---- options -------------------------------------------------------------------- */

static void usage(void) {
    fprintf(
        stderr,
        "usage: loadgen --port P --mode echo|fanout|burst|idle|connect|storm|bcast|send [options]\n"
        "  --host A            target IPv4 address (127.0.0.1)\n"
        "  --proto sio|ws      Socket.IO over Engine.IO websocket, or raw WebSocket (sio)\n"
        "  --path P            /socket.io/ for sio, /echo for ws echo, /pubsub for ws fanout\n"
        "  --conns N           echo/idle: connections; fanout/burst: subscribers; connect: "
        "concurrency (100)\n"
        "  --publishers P      fanout: 2, burst: 1\n"
        "  --duration S        measured window; fanout: ramp time budget (5)\n"
        "  --warmup S          unmeasured time before the window (1)\n"
        "  --payload B         payload bytes (32)\n"
        "  --rate R            fanout: fixed publishes/s instead of the ramp\n"
        "  --step-ms MS        fanout: ramp step length (1000)\n"
        "  --start-dps D       fanout: first ramp step, deliveries/s (50000)\n"
        "  --burst B           burst: publishes in flight at once (128)\n"
        "  --token JWT         CONNECT auth token; or --jwt-secret S to mint HS256 tokens\n"
        "  --users U           distinct token subjects bench-u0..U-1 (1)\n"
        "  --user-prefix P     token subjects P-u0.. instead of bench-u0.. (bench)\n"
        "  send mode:          every connection a sender (--jwt-secret, sio): message:send\n"
        "                      {receiverId: next connection's user}, one in flight; answers\n"
        "                      message:received; window edges told on stderr\n"
        "  --rooms R           idle: rooms the connections are spread over (1)\n"
        "  --room NAME         fanout room (bench)\n"
        "  --chat              fanout: chat:join + chat:message of the built-in events "
        "(switchboard)\n"
        "  --server-pid PID[,PID...]  read the servers' CPU and RSS (summed) from /proc\n"
        "  --sources N         source addresses 127.0.0.1..N (32)\n"
        "  --procs K           idle, storm, bcast: worker processes (1)\n"
        "  --room-size S       storm: members per room (10)\n"
        "  --rooms-per-conn K  storm: rooms each connection joins, 1 or 2 (2)\n"
        "  --wide-size W       storm, bcast: members of room B (--room-size)\n"
        "  --broadcasts N      bcast: POST /api/emit to room bench-b-0, one at a time (0)\n"
        "  --broadcasts-all N  bcast: then to everyone (0)\n"
        "  --api-key K         bcast: the API key of /api/emit\n"
        "  --handshake-concurrency C  handshakes in progress at once (256)\n"
        "  --setup-timeout S   (60)   --max-time S  hard bound on the whole run (300)\n"
        "  --label NAME        server name in the output\n");
}

/* --server-pid A[,B...]: the servers whose CPU and RSS are summed. */
static void parse_pids(const char *v) {
    for (char *end; *v && O.nservers < LG_MAX_SERVERS; v = *end == ',' ? end + 1 : end) {
        long pid = strtol(v, &end, 10);
        if (end == v || pid <= 0) {
            fprintf(stderr, "loadgen: bad --server-pid '%s'\n", v);
            exit(2);
        }
        O.server_pids[O.nservers++] = (pid_t)pid;
    }
    O.server_pid = O.nservers ? O.server_pids[0] : 0;
}

static int parse_enum(const char *v, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    fprintf(stderr, "loadgen: unknown value '%s'\n", v);
    exit(2);
}

static void parse_args(int argc, char **argv) {
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},
        {"port", 1, 0, 'p'},
        {"proto", 1, 0, 'P'},
        {"path", 1, 0, 'a'},
        {"mode", 1, 0, 'm'},
        {"conns", 1, 0, 'c'},
        {"publishers", 1, 0, 'b'},
        {"duration", 1, 0, 'd'},
        {"warmup", 1, 0, 'w'},
        {"payload", 1, 0, 's'},
        {"rate", 1, 0, 'r'},
        {"step-ms", 1, 0, 'S'},
        {"burst", 1, 0, 'B'},
        {"token", 1, 0, 't'},
        {"jwt-secret", 1, 0, 'j'},
        {"users", 1, 0, 'u'},
        {"rooms", 1, 0, 'R'},
        {"room", 1, 0, 'o'},
        {"server-pid", 1, 0, 'i'},
        {"sources", 1, 0, 'n'},
        {"procs", 1, 0, 'k'},
        {"handshake-concurrency", 1, 0, 'C'},
        {"setup-timeout", 1, 0, 'T'},
        {"max-time", 1, 0, 'M'},
        {"room-size", 1, 0, 'Z'},
        {"rooms-per-conn", 1, 0, 'K'},
        {"chat", 0, 0, 'H'},
        {"start-dps", 1, 0, 'D'},
        {"label", 1, 0, 'l'},
        {"quiet", 0, 0, 'q'},
        {"api-key", 1, 0, 'A'},
        {"broadcasts", 1, 0, 'x'},
        {"broadcasts-all", 1, 0, 'X'},
        {"wide-size", 1, 0, 'W'},
        {"user-prefix", 1, 0, 'U'},
        {"help", 0, 0, '?'},
        {0, 0, 0, 0},
    };
    static const char *const protos[] = {"sio", "ws"};
    static const char *const modes[] = {"echo",    "fanout", "burst", "idle",
                                        "connect", "storm",  "bcast", "send"};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'h':
            O.host = optarg;
            break;
        case 'p':
            O.port = atoi(optarg);
            break;
        case 'P':
            O.proto = parse_enum(optarg, protos, 2);
            break;
        case 'a':
            O.path = optarg;
            break;
        case 'm':
            O.mode = parse_enum(optarg, modes, 8);
            break;
        case 'Z':
            O.room_size = atol(optarg);
            break;
        case 'K':
            O.rooms_per_conn = atoi(optarg);
            break;
        case 'c':
            O.conns = atol(optarg);
            break;
        case 'b':
            O.publishers = atoi(optarg);
            break;
        case 'd':
            O.duration = atof(optarg);
            break;
        case 'w':
            O.warmup = atof(optarg);
            break;
        case 's':
            O.payload = atol(optarg);
            break;
        case 'r':
            O.rate = atof(optarg);
            break;
        case 'S':
            O.step_ms = atol(optarg);
            break;
        case 'B':
            O.burst = atol(optarg);
            break;
        case 't':
            O.token = optarg;
            break;
        case 'j':
            O.secret = optarg;
            break;
        case 'u':
            O.users = atol(optarg);
            break;
        case 'R':
            O.rooms = atol(optarg);
            break;
        case 'o':
            O.room = optarg;
            break;
        case 'i':
            parse_pids(optarg);
            break;
        case 'A':
            O.api_key = optarg;
            break;
        case 'x':
            O.broadcasts = atol(optarg);
            break;
        case 'X':
            O.bcast_all = atol(optarg);
            break;
        case 'W':
            O.wide_size = atol(optarg);
            break;
        case 'n':
            O.sources = atoi(optarg);
            break;
        case 'k':
            O.procs = atoi(optarg);
            break;
        case 'C':
            O.hs_conc = atol(optarg);
            break;
        case 'T':
            O.setup_timeout = atof(optarg);
            break;
        case 'M':
            O.max_time = atof(optarg);
            break;
        case 'D':
            O.start_dps = atof(optarg);
            break;
        case 'l':
            O.label = optarg;
            break;
        case 'q':
            O.quiet = true;
            break;
        case 'H':
            O.chat = true;
            break;
        case 'U':
            O.user_prefix = optarg;
            break;
        default:
            usage();
            exit(ch == '?' ? 2 : 2);
        }
    }
    if (O.port <= 0 || O.conns <= 0 || O.payload < 0 || O.payload > (1 << 20) || O.duration <= 0 ||
        O.procs < 1 || O.procs > 64 || O.sources < 1 || O.sources > 250 || O.burst < 1 ||
        O.hs_conc < 1 || O.room_size < 1 || O.rooms_per_conn < 1 || O.rooms_per_conn > 2 ||
        O.wide_size < 0 || O.broadcasts < 0 || O.bcast_all < 0 ||
        O.broadcasts + O.bcast_all > LG_BCAST_MAX ||
        (O.mode == M_SEND && (O.proto != P_SIO || !O.secret)) || strlen(O.user_prefix) > 64) {
        usage();
        exit(2);
    }
    if (!O.path)
        O.path = O.proto == P_SIO ? "/socket.io/" : (O.mode == M_ECHO ? "/echo" : "/pubsub");
    if (O.mode == M_SEND)
        O.users = O.conns; /* one user per sender */
    if (O.publishers <= 0)
        O.publishers = O.mode == M_BURST ? 1 : 2;
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    long lim = lg_raise_nofile();
    alarm((unsigned)O.max_time + 30); /* last resort if the loop itself hangs */
    t_start = lg_now_us();
    hard_deadline = t_start + (int64_t)(O.max_time * 1e6);
    pl_buf = malloc((size_t)O.payload + 128), pl_buf2 = malloc((size_t)O.payload + 128);
    msg_buf = malloc((size_t)O.payload + 512);
    if (O.mode == M_IDLE || O.mode == M_STORM || O.mode == M_BCAST) {
        if (O.conns / O.procs + 64 > lim) {
            fprintf(stderr,
                    "loadgen: %ld connections per process exceed the %ld open files allowed; raise "
                    "--procs\n",
                    O.conns / O.procs, lim);
            return 2;
        }
        return O.mode == M_STORM ? storm_main() : O.mode == M_BCAST ? lg_bcast_main() : idle_main();
    }
    nsubs = O.conns;
    npubs = O.mode == M_FANOUT || O.mode == M_BURST ? O.publishers : 0;
    nslots = nsubs + npubs;
    if (nslots + 64 > lim) {
        fprintf(stderr, "loadgen: %ld connections exceed the %ld open files allowed\n", nslots,
                lim);
        return 2;
    }
    conns = calloc((size_t)nslots, sizeof *conns);
    pub_seq = calloc((size_t)(npubs > 0 ? npubs : 1), sizeof *pub_seq);
    for (long i = 0; i < nslots; i++)
        conns[i].fd = -1;
    lg_net_init();
    static void (*const ticks[])(int64_t) = {
        [M_ECHO] = echo_tick,       [M_FANOUT] = fanout_tick, [M_BURST] = burst_tick,
        [M_CONNECT] = connect_tick, [M_SEND] = echo_tick,
    };
    run_loop(ticks[O.mode]);
    if (O.mode == M_FANOUT || O.mode == M_BURST)
        fanout_verify();
    if (t_end == 0)
        window_end(lg_now_us());
    return report();
}
