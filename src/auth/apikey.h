/* API-key checks for the backend HTTP API: a constant-time key comparison and
 * the extraction of a token from an "Authorization: Bearer" header value. */
#ifndef SB_AUTH_APIKEY_H
#define SB_AUTH_APIKEY_H

#include <stdbool.h>

#include "core/str.h"

/* True when `presented` equals `expected`. Both are hashed with SHA-256 and
 * the digests compared with sb_sha256_equal (constant time), so the time taken depends on the
 * lengths only, never on where the contents differ. An empty `expected`
 * (no key configured) matches nothing, not even an empty `presented`. */
bool sb_apikey_matches(sb_str_t presented, sb_str_t expected);

/* Extracts the credentials from an Authorization header value of the form
 * "Bearer <token>" (RFC 6750 section 2.1): the scheme is matched in any case,
 * followed by one or more spaces, then a token of visible ASCII characters
 * (0x21..0x7E, no spaces). Spaces and tabs around the whole value are
 * ignored. Returns true and sets `*token` to a slice of
 * `authorization_header` (valid as long as that buffer); false for another
 * scheme, a missing or empty token, or a token with inner whitespace or
 * control characters (`*token` is then {NULL, 0}). */
bool sb_auth_bearer_token(sb_str_t authorization_header, sb_str_t *token);

#endif
