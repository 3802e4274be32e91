/* The TLS half of a connection's reads and writes (core/conn.c only): the
 * handshake runs inside the first reads, and OpenSSL's want-read /
 * want-write answers become the connection's SB_CONN_TLS_* flags, so the
 * loop never waits on TLS. */
#ifndef SB_CORE_CONN_TLS_H
#define SB_CORE_CONN_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/conn.h"

/* Creates the session for a new connection. SB_OK or SB_ENOMEM. */
int sb__conn_tls_open(sb_conn_t *c);
/* Frees the session; a handshake that never finished nor failed (the
 * connection timed out or the server shut down) is counted as failed. */
void sb__conn_tls_free(sb_conn_t *c);
/* Like read(): bytes read, 0 at the end of input, SB_EAGAIN (the TLS
 * flags say what it waits for), SB_EIO, or SB_ECLOSED when the peer spoke
 * plain HTTP and a plain-text 400 was written: the caller then shuts the
 * connection down gently (the answer must not be lost to a reset). */
long sb__conn_tls_read(sb_conn_t *c, char *dst, size_t room);
/* Like write(): bytes taken (at most one record), SB_EAGAIN, or SB_EIO.
 * After SB_EAGAIN the next call must start with the same bytes, no fewer. */
long sb__conn_tls_write(sb_conn_t *c, const char *p, size_t n);
/* True when OpenSSL holds decrypted input the socket will not announce. */
bool sb__conn_tls_pending(const sb_conn_t *c);
/* Sends close_notify (best effort, never waits). */
void sb__conn_tls_goodbye(sb_conn_t *c);

#endif
