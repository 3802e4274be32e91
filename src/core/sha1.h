/* SHA-1 (FIPS 180-4, section 6.1). Only where a protocol names it and no
 * secret depends on it: the WebSocket accept key (RFC 6455) and Redis
 * script ids (EVALSHA). Our own code, so that connections do not pull in
 * libcrypto's provider machinery (docs/operations.md, "Distinct users").
 * Pure: no allocation. */
#ifndef SB_CORE_SHA1_H
#define SB_CORE_SHA1_H

#include <stddef.h>
#include <stdint.h>

#include "core/md64.h"

#define SB_SHA1_BYTES 20

/* Starts a SHA-1 hash: then sb_md64_update, and sb_md64_final writes its
 * SB_SHA1_BYTES. */
void sb_sha1_init(sb_md64_t *m);
/* The digest of p[0..n) in one call. */
void sb_sha1(const void *p, size_t n, uint8_t out[SB_SHA1_BYTES]);

#endif
