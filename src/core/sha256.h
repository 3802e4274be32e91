/* SHA-256 (FIPS 180-4, section 6.2) and HMAC-SHA256 (RFC 2104): JWT
 * signatures, API key digests, hook request signatures. Our own code, so
 * that connections do not pull in libcrypto's provider machinery
 * (docs/operations.md, "Distinct users"); OpenSSL stays for TLS. Pure: no
 * allocation. Compare secrets' digests and MACs with sb_sha256_equal. */
#ifndef SB_CORE_SHA256_H
#define SB_CORE_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/md64.h"

#define SB_SHA256_BYTES 32

/* Starts a SHA-256 hash: then sb_md64_update, and sb_md64_final writes its
 * SB_SHA256_BYTES. */
void sb_sha256_init(sb_md64_t *m);
/* The digest of p[0..n) in one call. */
void sb_sha256(const void *p, size_t n, uint8_t out[SB_SHA256_BYTES]);

/* HMAC-SHA256 of msg[0..msg_n) under key[0..key_n) (any length; a key
 * longer than the 64-byte block is hashed first, RFC 2104 section 2). */
void sb_hmac_sha256(const void *key, size_t key_n, const void *msg, size_t msg_n,
                    uint8_t out[SB_SHA256_BYTES]);

/* True when a[0..n) equals b[0..n); the time taken depends on n only, not
 * on where the bytes differ (for MACs and digests of secrets). */
bool sb_sha256_equal(const void *a, const void *b, size_t n);

#endif
