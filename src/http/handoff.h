/* Hand-off of HTTP connections between processes that share one port
 * (SO_REUSEPORT, sb_http_config_t.reuse_port). The kernel gives a new
 * connection to any of them, but a long-polling session lives in one: a
 * request for another process's session is passed to that process, the
 * socket itself over a Unix socket (SCM_RIGHTS) with the bytes already read
 * from it, and the owner serves it and the rest of the connection as if it
 * had accepted it. A TLS session cannot move: a TLS connection stays, and
 * its plaintext is relayed (relay.c) over a local socket pair whose other
 * end the owner serves as a plain connection.
 *
 * Each process claims a slot 0..SB_HANDOFF_SLOTS-1 in a directory (a lock
 * file per slot, held while the process lives, so a crashed process frees
 * its slot) and listens on "<dir>/<slot>.sock" (SOCK_SEQPACKET). Callers
 * name the owner by slot: Engine.IO puts it in its session ids. Nothing
 * blocks: a send that the owner's socket cannot take now fails at once. */
#ifndef SB_HTTP_HANDOFF_H
#define SB_HTTP_HANDOFF_H

#include <stdint.h>

#include "http/http.h"

#define SB_HANDOFF_SLOTS 64

typedef struct sb_http_handoff sb_http_handoff_t;

typedef struct {
    uint64_t sent;     /* requests passed to their owner */
    uint64_t received; /* requests taken from another process */
    uint64_t no_owner; /* sends refused: no process in that slot (dead, never started) */
    uint64_t busy;     /* sends refused: the owner's socket was full */
    uint64_t bad;      /* messages received that were not a hand-off (dropped) */
} sb_http_handoff_stats_t;

/* Claims the first free slot in `dir` (created 0700 if missing; refused if
 * it belongs to another user or is not a directory) and listens there for
 * the connections other processes pass, serving them with `http`. NULL with
 * a message in err when no slot is free or the directory is unusable. */
sb_http_handoff_t *sb_http_handoff_create(sb_http_server_t *http, const char *dir, char *err,
                                          size_t cap);
/* Stops listening, closes every socket, frees its slot. */
void sb_http_handoff_destroy(sb_http_handoff_t *h);
int sb_http_handoff_slot(const sb_http_handoff_t *h);
/* Passes `req`'s connection to the process in `slot`, from req's handler.
 * SB_OK: the request and its connection are gone from this process.
 * Otherwise `req` is untouched and the caller answers it: SB_ENOTFOUND (no
 * process in that slot, or it is this one), SB_EAGAIN (its socket is full,
 * or an answer is still queued on the connection: wait for the flush,
 * sb_http_req_when_flushed), SB_ENOMEM, SB_ETOOBIG. */
int sb_http_handoff_send(sb_http_handoff_t *h, sb_http_req_t *req, int slot);
const sb_http_handoff_stats_t *sb_http_handoff_stats(const sb_http_handoff_t *h);

#endif
