/* Load generator internals shared by bench/loadgen.c (options, modes, main),
 * bench/lg_net.c (sockets, WebSocket client, Engine.IO / Socket.IO client)
 * and bench/lg_util.c (clock, histogram, /proc readings, JWT, JSON output).
 * Single-threaded: every global here belongs to the one epoll loop of a
 * process (an idle-mode worker is a forked process with its own copy). */
#ifndef LG_H
#define LG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- options ------------------------------------------------------------ */

enum { P_SIO, P_WS };
enum { M_ECHO, M_FANOUT, M_BURST, M_IDLE, M_CONNECT, M_STORM, M_BCAST, M_SEND };
enum { LG_MAX_SERVERS = 16 };

typedef struct {
    const char *host, *path, *label, *token, *secret, *room;
    const char *user_prefix; /* token subjects are <prefix>-u<n> (bench) */
    int port, proto, mode;
    long conns;       /* echo/idle: connections; fanout/burst: subscribers; connect: concurrency */
    int publishers;   /* fanout/burst */
    double duration;  /* s: measured window (echo, connect, idle hold); fanout: ramp budget */
    double warmup;    /* s */
    long payload;     /* bytes of message payload */
    double rate;      /* fanout: fixed publishes/s (0 = ramp) */
    long step_ms;     /* fanout ramp step */
    double start_dps; /* fanout: deliveries/s offered by the first step */
    long burst;       /* burst: publishes in flight at once */
    long users;       /* distinct JWT subjects */
    long rooms;       /* idle: rooms the connections are spread over */
    long room_size;   /* storm: members per room */
    int rooms_per_conn; /* storm: rooms each connection joins (1 or 2) */
    long user_offset;   /* first user / room index of this process */
    pid_t server_pid;   /* 0: no server CPU/RSS readings; else the first of server_pids */
    pid_t server_pids[LG_MAX_SERVERS]; /* --server-pid A,B,...: CPU and RSS are their sums */
    int nservers;
    const char *api_key; /* bcast: Bearer key of POST /api/emit */
    long broadcasts;     /* bcast: broadcasts to the wide room */
    long bcast_all;      /* bcast: broadcasts to every connection */
    long wide_size;      /* storm/bcast: members of room B (room_size when 0) */
    int sources;         /* source addresses 127.0.0.1 .. 127.0.0.N */
    int procs;           /* idle: worker processes */
    long hs_conc;        /* handshakes in progress at once */
    double setup_timeout, max_time;
    bool quiet;
    bool chat; /* fanout: the built-in chat events (chat:join, chat:message) */
} lg_opts_t;

extern lg_opts_t O;

/* ---- clock, histogram, /proc, JWT, JSON (lg_util.c) --------------------- */

int64_t lg_now_us(void);

#define LG_HB 1280 /* log-linear buckets: 32 per octave, ~3% resolution */
typedef struct {
    uint64_t b[LG_HB];
    uint64_t n;
} lg_hist_t;

void lg_hist_add(lg_hist_t *h, int64_t us);
void lg_hist_merge(lg_hist_t *dst, const lg_hist_t *src);
/* Value (µs) at quantile q in [0,1]; 0 when the histogram is empty. */
double lg_hist_q(const lg_hist_t *h, double q);

/* utime+stime of pid in ms, or -1. */
double lg_proc_cpu_ms(pid_t pid);
/* VmRSS of pid in KiB, or -1. */
long lg_proc_rss_kb(pid_t pid);
/* The same summed over the --server-pid processes (-1 when one is gone). */
double lg_servers_cpu_ms(void);
long lg_servers_rss_kb(void);
/* This process's (and its reaped children's) CPU in ms. */
double lg_self_cpu_ms(void);

/* Mints an HS256 JWT {"sub":sub,"name":sub,"exp":now+3600} into out (NUL-
 * terminated). Returns its length, or -1 when it does not fit. */
int lg_jwt_mint(const char *secret, const char *sub, char *out, size_t cap);

/* JSON line builder: lg_json_begin() then lg_json_* fields then lg_json_end()
 * which prints the line to stdout. Strings must not need escaping beyond '"'. */
void lg_json_begin(void);
void lg_json_str(const char *k, const char *v);
void lg_json_num(const char *k, double v);
void lg_json_int(const char *k, long long v);
void lg_json_bool(const char *k, bool v);
void lg_json_end(void);

/* ---- connections (lg_net.c) --------------------------------------------- */

enum { S_FREE, S_CONNECTING, S_HTTP, S_EIO_OPEN, S_SIO_CONNECT, S_READY };
enum { R_ECHO, R_SUB, R_PUB, R_IDLE, R_CONNECT };

typedef struct {
    int fd;
    uint8_t state, role;
    bool joined, corked, want_out, inflight, settled;
    uint32_t idx;  /* index of this connection (user id, room, source address) */
    uint8_t *pend; /* partial input kept between reads */
    size_t pend_n, pend_cap;
    uint8_t *out; /* output the kernel did not take yet, or corked output */
    size_t out_n, out_off, out_cap;
    uint8_t *frag; /* fragmented WebSocket message being assembled */
    size_t frag_n, frag_cap;
    uint64_t next_ack, wait_ack, seq, nmsg;
    int64_t t_sent, t_open;
    uint64_t *expect; /* subscriber: next seq expected from each publisher */
    uint64_t seen;    /* bcast: the 64 broadcasts before seq, a bit each if received */
    uint32_t mask_state;
} lg_conn_t;

/* Counters of one process; summed across idle workers. */
typedef struct {
    uint64_t connected, handshakes, joined, errors, closed_by_peer, hs_fail, other;
    uint64_t msgs, lost, dup, ooo, bad;
} lg_counts_t;

extern lg_counts_t C;
extern int lg_epfd;

/* Hooks the modes implement (loadgen.c). */
void lg_on_ready(lg_conn_t *c);                        /* handshake (and SIO CONNECT) done */
void lg_on_app(lg_conn_t *c, const char *p, size_t n); /* a message for the application */
void lg_on_gone(lg_conn_t *c);                         /* connection failed or closed by peer */

/* ---- worker processes (loadgen.c) --------------------------------------- */

/* Forks worker w for connections [from, from + share); it reports its
 * counts on res[w] once set up, holds them until go[w] closes, then reports
 * again and exits. */
int lg_worker_spawn(int w, long from, long share, int res[][2], int go[][2], pid_t *pids);
/* Adds worker w's first report to *ready; false (and the run aborted) when
 * it did not come before --max-time. */
bool lg_worker_collect(int w, int res[][2], lg_counts_t *ready);
bool lg_read_counts(int fd, lg_counts_t *out, int timeout_ms);
void lg_sum_counts(lg_counts_t *a, const lg_counts_t *b);
/* Room B groups: connection i is in room B number i % lg_wide_groups(). */
long lg_wide_groups(void);

/* ---- bcast mode (lg_bcast.c) -------------------------------------------- */

enum { LG_BCAST_MAX = 100000 }; /* broadcasts in one run, both kinds */
int lg_bcast_main(void);
/* In a worker: after setup (counts its members, tells the parent), for every
 * message of a held connection, and before its last report. */
void lg_bcast_worker_begin(lg_conn_t *cs, long n, int res_fd);
void lg_bcast_on_app(lg_conn_t *c, const char *p, size_t n);
void lg_bcast_worker_end(int res_fd);

void lg_net_init(void);
/* Starts a non-blocking connection in slot c. Returns 0 or -1 (counted). */
int lg_conn_start(lg_conn_t *c, uint32_t idx, uint8_t role);
/* Closes c (no error counted) and frees its buffers; the slot becomes S_FREE. */
void lg_conn_close(lg_conn_t *c);
/* Counts an error, prints the first few, closes c and calls lg_on_gone(). */
void lg_conn_fail(lg_conn_t *c, const char *why);
/* Sends one WebSocket text message (masked). While c->corked, output is only
 * queued; lg_conn_uncork() writes it in one system call. */
void lg_send_text(lg_conn_t *c, const char *p, size_t n);
void lg_conn_uncork(lg_conn_t *c);
/* Runs ready events for at most timeout_ms. */
void lg_net_poll(int timeout_ms);
/* Raises RLIMIT_NOFILE to the hard limit; returns the new soft limit. */
long lg_raise_nofile(void);

#endif
