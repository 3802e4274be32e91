/* TLS for connections (OpenSSL): a server context made from a PEM
 * certificate chain and key, TLS 1.2 and newer with forward-secret AEAD
 * ciphers only, replaceable at run time (SIGHUP) without touching the
 * sessions already open. The connection state machine (core/conn.c) drives
 * the non-blocking handshake, reads and writes. */
#ifndef SB_CORE_TLS_H
#define SB_CORE_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

typedef struct ssl_st SSL;
typedef struct sb_tls sb_tls_t;

typedef struct {
    uint64_t handshakes; /* completed */
    uint64_t
        handshake_failures; /* bad or plain-text input, a peer that left or timed out mid-way */
    uint64_t plain_http;    /* of those: plain HTTP sent to the TLS port (answered 400) */
    uint64_t read_errors, write_errors; /* after the handshake */
    uint64_t reloads, reload_failures;
} sb_tls_stats_t;

/* Loads `cert_path` (PEM: the certificate, then any intermediates) and
 * `key_path` (PEM private key). NULL with a message naming the file and
 * the reason (unreadable, not PEM, key does not match) in err. */
sb_tls_t *sb_tls_create(const char *cert_path, const char *key_path, char *err, size_t cap);
/* Loads the same paths again; new connections use the new certificate,
 * open ones keep theirs. On failure the old one stays: SB_EINVAL with the
 * reason in err. */
int sb_tls_reload(sb_tls_t *t, char *err, size_t cap);
void sb_tls_destroy(sb_tls_t *t);
/* A server-side session for an accepted socket; NULL when out of memory. */
SSL *sb_tls_session(sb_tls_t *t, int fd);
sb_tls_stats_t *sb_tls_stats(sb_tls_t *t);
/* Bounds the lines about failed handshakes. */
sb_log_limiter_t *sb_tls_log_limiter(sb_tls_t *t);
/* The subject and expiry of the certificate in use, for the log. */
void sb_tls_describe(const sb_tls_t *t, char *out, size_t cap);

#endif
