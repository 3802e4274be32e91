/* Outbound HTTP calls to the team's backend (docs/hooks.md): connect,
 * custom events and offline push, POSTed as JSON with libcurl's multi
 * interface driven by the server's loop (its epoll and timer wheel), so a
 * slow or dead backend never blocks anything. Each request is signed
 * (HMAC-SHA256 of the body), has a timeout, and counts against a bound on
 * requests in flight; push requests, which the backend must treat as
 * idempotent, are retried with a doubling backoff. */
#ifndef SB_HOOKS_HOOKS_H
#define SB_HOOKS_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"
#include "core/str.h"

typedef enum { SB_HOOK_CONNECT, SB_HOOK_EVENT, SB_HOOK_PUSH, SB_HOOK_KINDS } sb_hook_kind_t;

/* "connect", "event", "push": the path under the base URL, the
 * X-Switchboard-Hook header and the metrics label. */
const char *sb_hook_kind_name(sb_hook_kind_t k);

typedef struct {
    const char *url;     /* base URL; each hook POSTs to <url>/<kind name>; "" or NULL: off */
    const char *enabled; /* comma list of hook kinds to call ("connect,event,push") */
    const char *secret;  /* HMAC-SHA256 key of X-Switchboard-Signature; "": unsigned */
    uint32_t timeout_ms[SB_HOOK_KINDS]; /* per attempt, connection included */
    uint32_t max_in_flight;             /* requests accepted and not done, retries waiting too */
    uint32_t push_retries;              /* extra attempts of a push after a failure */
    uint32_t retry_backoff_ms;          /* before the first retry; doubles each time */
    size_t max_answer_bytes;            /* larger answers fail (0: 65536) */
} sb_hooks_config_t;

/* How a request ended: rc SB_OK (a 2xx answer; its body, valid during the
 * call), SB_ETIMEOUT, SB_EUNAVAIL (connection failed, a non-2xx status, an
 * answer too big) or SB_ECLOSED (the hooks were destroyed first); `why`
 * says it in words ("" on success). */
typedef void (*sb_hook_done_fn)(void *ud, int rc, sb_str_t body, const char *why);

typedef struct {
    uint64_t requests;  /* attempts sent */
    uint64_t failures;  /* attempts that failed (timeouts included) */
    uint64_t timeouts;  /* attempts that timed out */
    uint64_t retries;   /* attempts that were retries */
    uint64_t rejected;  /* calls refused: too many in flight */
    uint64_t in_flight; /* calls accepted and not done */
    /* Latency of answered attempts: counts at or below each bound, in ms. */
#define SB_HOOKS_LATENCY_NBUCKETS 10
    uint64_t latency_buckets[SB_HOOKS_LATENCY_NBUCKETS + 1]; /* the last: slower */
    uint64_t latency_ms_sum;
} sb_hook_stats_t;
extern const uint32_t SB_HOOKS_LATENCY_BOUNDS_MS[SB_HOOKS_LATENCY_NBUCKETS];

typedef struct sb_hooks sb_hooks_t;

/* NULL with a message in err on a bad setting (a URL that is not http(s),
 * an unknown kind) or when libcurl cannot start. cfg strings are copied. */
sb_hooks_t *sb_hooks_create(sb_loop_t *loop, const sb_hooks_config_t *cfg, char *err, size_t cap);
/* Ends every request still running: each done callback is called with
 * SB_ECLOSED before this returns. */
void sb_hooks_destroy(sb_hooks_t *h);
bool sb_hooks_enabled(const sb_hooks_t *h, sb_hook_kind_t k);
/* POSTs `body` (JSON, copied) to the hook. SB_OK: done is called exactly
 * once, later, never from inside this call. SB_ETOOBIG: max_in_flight calls
 * are running (counted as rejected); SB_EINVAL: the hook is off; SB_ENOMEM.
 * On an error done is never called. */
int sb_hooks_post(sb_hooks_t *h, sb_hook_kind_t k, sb_str_t body, sb_hook_done_fn done, void *ud);
const sb_hook_stats_t *sb_hooks_stats(const sb_hooks_t *h, sb_hook_kind_t k);

/* The signature header's value for `body`: "sha256=" and the 64 hex digits
 * of HMAC-SHA256(secret, body); out holds SB_HOOKS_SIGNATURE_MAX. Pure. */
#define SB_HOOKS_SIGNATURE_MAX 72
void sb_hooks_sign(const char *secret, sb_str_t body, char out[SB_HOOKS_SIGNATURE_MAX]);

#endif
