/* A non-blocking TCP connection: reads into the worker's shared scratch buffer
 * and keeps bytes only while it holds a partial message (H6); writes are a
 * queue of refcounted frame slices flushed with writev before the next poll
 * (H7); closing is deferred so no callback ever sees freed memory (H8). The
 * protocol on top (HTTP, then maybe WebSocket) is a swappable handler. */
#ifndef SB_CORE_CONN_H
#define SB_CORE_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/frame.h"
#include "core/loop.h"
#include "core/map.h"
#include "core/pool.h"
#include "core/tls.h"

typedef struct sb_conn sb_conn_t;

typedef struct {
    /* Bytes arrived: p[0..n) is everything not yet consumed. Returns how many
     * bytes it consumed (the rest is kept for the next call), or a negative
     * code to close the connection. The handler may swap c->handler. */
    long (*on_data)(sb_conn_t *c, char *p, size_t n);
    /* The peer closed or an error occurred; called once, just before the
     * connection is freed. */
    void (*on_close)(sb_conn_t *c);
    /* Optional: the output queue became empty. */
    void (*on_drain)(sb_conn_t *c);
    /* Optional: the server is shutting down; say goodbye (default: close
     * once the output is flushed). */
    void (*on_shutdown)(sb_conn_t *c);
    /* Optional: the connection is being cut as a slow consumer. What it
     * queues now (a close frame) goes out after the message being written,
     * if the peer reads it before the connection timer it arms runs out;
     * everything else queued is dropped. Without it: closed at once. */
    void (*on_slow)(sb_conn_t *c);
} sb_conn_handler_t;

typedef struct {
    sb_frame_t *frame; /* holds a reference */
    const char *p;
    size_t n;
} sb_outq_item_t;

enum { SB_CONN_DO_FLUSH = 1, SB_CONN_DO_RESUME = 2, SB_CONN_DO_FREE = 4, SB_CONN_DO_READ = 8 };

enum {
    SB_CONN_CLOSING = 1u << 0,     /* closed: no more callbacks, free pending */
    SB_CONN_CLOSE_AFTER = 1u << 1, /* close once the output queue is flushed */
    SB_CONN_READ_PAUSED = 1u << 2,
    SB_CONN_CUT = 1u << 3,    /* cut as a slow consumer: a last goodbye may be queued */
    SB_CONN_LINGER = 1u << 4, /* goodbye sent, write side shut: input is read and dropped */
    SB_CONN_TLS_UP = 1u << 5, /* the TLS handshake is done */
    SB_CONN_TLS_READ_WANTS_WRITE = 1u << 6, /* SSL_read waits for the socket to take bytes */
    SB_CONN_TLS_WRITE_WANTS_READ = 1u << 7, /* SSL_write waits for bytes from the peer */
    SB_CONN_TLS_FAILED = 1u << 8,           /* the failed handshake is counted */
    SB_CONN_TLS = 1u << 9,                  /* a TLS connection: an sb_tls_conn_t */
    SB_CONN_HOLD = 1u << 10, /* queued output waits for sb_conn_hold_output(c, false) */
};

/* A peer address, compact: 17 bytes instead of a sockaddr_storage. */
typedef struct {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
} sb_peer_addr_t;

#define SB_CONN_UPPER_POOLS 4
/* Output queue arrays hold 8 << k slots, k < SB_CONN_OQ_CLASSES. */
#define SB_CONN_OQ_CLASSES 12
/* Bytes of emptied output queue arrays kept for reuse, all classes together. */
#define SB_CONN_OQ_CACHE_BYTES (4u << 20)

/* The connection limits a server sets on its context (sb_conn_ctx_set_limits). */
typedef struct {
    size_t max_inbuf;        /* bytes a connection may hold unparsed */
    size_t max_outq;         /* queued output bytes before a connection is a slow consumer */
    size_t max_total_outq;   /* all connections together; 0: no bound */
    size_t max_conns;        /* 0: no limit */
    size_t max_conns_per_ip; /* 0: no limit */
} sb_conn_limits_t;

/* Worker-wide state every connection shares. */
typedef struct {
    sb_loop_t *loop;
    sb_tls_t *tls; /* set: every connection speaks TLS (not owned; sb_conn_ctx_use_tls) */
    char *scratch; /* shared read buffer */
    char *wbuf;    /* staging for many small output slices, allocated on first use */
    size_t scratch_cap;
    size_t max_inbuf;      /* bytes a connection may hold unparsed */
    size_t max_outq;       /* queued output bytes before the connection is a slow consumer */
    size_t max_total_outq; /* queued output bytes of all connections together; 0: no bound */
    size_t outq_total;     /* queued output bytes now, all connections */
    uint64_t total_cut_ms; /* loop time of the last sweep for slow consumers */
    size_t live;           /* open connections */
    size_t max_conns;      /* 0: no limit */
    size_t max_conns_per_ip;
    sb_map_t per_ip; /* peer address -> open connections, when limited */
    uint64_t refused;
    sb_list_t all;                        /* every open connection */
    sb_pool_t conns;                      /* where sb_conn_t objects come from */
    sb_pool_t upper[SB_CONN_UPPER_POOLS]; /* sb_conn_ctx_obj_alloc(), by object size */
    /* Emptied output queue arrays by class, chained through their first
     * slot: a burst to a big room then costs no malloc (and no page faults
     * after the heap was trimmed) per subscriber per burst. */
    sb_outq_item_t *oq_cache[SB_CONN_OQ_CLASSES];
    size_t oq_cache_bytes;
    size_t oq_cache_low; /* fewest bytes cached since the last trim tick */
    bool oq_cache_used;  /* an array was taken since the last trim tick */
    sb_timer_t oq_trim;  /* frees the cache after a second without use */
    uint64_t bytes_in, bytes_out, slow_consumers, volatile_dropped;
    uint64_t total_outq_cuts; /* connections cut because the process-wide bound was reached */
    uint64_t refused_closing; /* writes refused because the connection was closing */
    uint64_t discarded_bytes; /* queued output dropped unsent because its connection closed */
} sb_conn_ctx_t;

/* 200 bytes, ordered so that the 32-bit fields fill no padding (issue 17:
 * bytes per connection). */
struct sb_conn {
    sb_io_t io;
    sb_conn_ctx_t *ctx;
    const sb_conn_handler_t *handler;
    void *ud;             /* the protocol object on top */
    char *inbuf;          /* unparsed bytes kept between reads; NULL when none */
    sb_outq_item_t *outq; /* ring; NULL while nothing is queued */
    size_t oq_bytes;
    uint32_t flags;
    /* 32 bits: the input kept stops at max_inbuf (SB_CONN_MAX_INBUF at
     * most), its capacity at twice that. */
    uint32_t in_len, in_cap;
    uint32_t oq_head, oq_len, oq_cap;
    sb_peer_addr_t peer;
    uint8_t pending;  /* SB_CONN_DO_* work the task has to do (here: no padding) */
    sb_task_t task;   /* one deferred task for all of `pending` (saves memory) */
    sb_timer_t timer; /* free for the protocol on top: handshake / idle deadlines */
    sb_list_node_t all_node;
};

/* A TLS connection carries its session just past the plain part (its
 * context's pool hands out objects of this size), so plain connections pay
 * nothing for TLS. */
typedef struct {
    sb_conn_t conn;
    SSL *ssl;
} sb_tls_conn_t;

int sb_conn_ctx_init(sb_conn_ctx_t *ctx, sb_loop_t *loop);
/* Sets the limits (before the first connection, or any time: they apply
 * to the next read, write and accept). */
/* The most input a connection may keep (sb_conn_t's 32-bit counts). */
#define SB_CONN_MAX_INBUF ((1u << 30) + (64u << 10))
static inline void sb_conn_ctx_set_limits(sb_conn_ctx_t *ctx, const sb_conn_limits_t *l) {
    ctx->max_inbuf = l->max_inbuf < SB_CONN_MAX_INBUF ? l->max_inbuf : SB_CONN_MAX_INBUF;
    ctx->max_outq = l->max_outq;
    ctx->max_total_outq = l->max_total_outq;
    ctx->max_conns = l->max_conns;
    ctx->max_conns_per_ip = l->max_conns_per_ip;
}
/* A zeroed object of `size` bytes for the protocol on top of a connection
 * (HTTP, WebSocket state), from a pool of that size: the first
 * SB_CONN_UPPER_POOLS sizes asked for get one, others come from calloc.
 * NULL when out of memory. Free with the same size. */
void *sb_conn_ctx_obj_alloc(sb_conn_ctx_t *ctx, size_t size);
void sb_conn_ctx_obj_free(sb_conn_ctx_t *ctx, void *obj, size_t size);
void sb_conn_ctx_dispose(sb_conn_ctx_t *ctx);
/* Makes every connection created from now on speak TLS with `tls` (kept,
 * not owned). Only before the first connection: SB_EINVAL after. */
int sb_conn_ctx_use_tls(sb_conn_ctx_t *ctx, sb_tls_t *tls);
/* Asks every connection to finish (handler->on_shutdown). */
void sb_conn_ctx_shutdown(sb_conn_ctx_t *ctx);

/* Decides whether a new connection from `peer` may be served under the
 * connection limits: SB_OK or SB_ETOOBIG (counted in ctx->refused). */
int sb_conn_ctx_admit(sb_conn_ctx_t *ctx, const struct sockaddr_storage *peer);

/* Wraps an accepted non-blocking fd. Returns NULL when out of memory (the fd
 * is then closed). The connection starts reading at once. */
sb_conn_t *sb_conn_create(sb_conn_ctx_t *ctx, int fd, const struct sockaddr_storage *peer,
                          const sb_conn_handler_t *h, void *ud);
/* The same, plain even in a context that speaks TLS: a local socket that
 * carries what a TLS connection decrypted (http/handoff.h). */
sb_conn_t *sb_conn_create_plain(sb_conn_ctx_t *ctx, int fd, const struct sockaddr_storage *peer,
                                const sb_conn_handler_t *h, void *ud);

/* Queues a slice of `f` (p within f->data-headroom .. end) for writing; takes
 * its own reference. Returns SB_OK, SB_ECLOSED, or SB_ETOOBIG when the queue
 * would pass ctx->max_outq: the connection is then cut as a slow consumer
 * (handler->on_slow). A message alone in the queue is always taken, however
 * large: a slow consumer is one that falls behind, not one big message.
 * When all queues together would pass ctx->max_total_outq, every connection
 * the kernel has stopped taking bytes from is cut first; if that is not
 * enough, this one is (SB_ETOOBIG).
 * A SB_FRAME_VOLATILE frame is dropped (and counted) instead while the
 * kernel's buffer is full: a slow reader loses cursor moves, not its link. */
int sb_conn_write_frame(sb_conn_t *c, sb_frame_t *f, const char *p, size_t n);
/* Copies n bytes into a new frame and queues it. */
int sb_conn_write(sb_conn_t *c, const void *p, size_t n);
size_t sb_conn_queued(const sb_conn_t *c);

/* Stops callbacks, drops any queued output (counted in discarded_bytes),
 * closes the socket and frees the connection after the current callbacks
 * return. Idempotent. */
void sb_conn_close(sb_conn_t *c);
/* Closes once everything queued is written (bounded by the connection timer
 * if the caller arms one). */
void sb_conn_close_after_flush(sb_conn_t *c);
void sb_conn_pause_read(sb_conn_t *c, bool paused);
/* While held, queued output is not written (the queue's bounds still
 * apply): a protocol whose answer is completed by more output soon (a store
 * read away) sends both in one write, one system call and one TCP segment
 * fewer. The caller bounds the hold; a close after flush ends it. */
void sb_conn_hold_output(sb_conn_t *c, bool hold);
/* Hands bytes already buffered to the handler again before the next poll:
 * for a protocol that stopped consuming while it waited (a held request). */
void sb_conn_resume(sb_conn_t *c);
/* Gives the handler n bytes as if they had been read from the socket, before
 * anything the socket brings later: the bytes another process read before it
 * passed the connection over (http/handoff.h). Copied. SB_OK, SB_ENOMEM, or
 * SB_ETOOBIG past ctx->max_inbuf. */
int sb_conn_feed(sb_conn_t *c, const void *p, size_t n);

/* Formats a peer address as text ("127.0.0.1", "::1") into out. */
void sb_peer_format(const sb_peer_addr_t *p, char *out, size_t cap);
void sb_conn_peer_ip(const sb_conn_t *c, char *out, size_t cap);

#endif
