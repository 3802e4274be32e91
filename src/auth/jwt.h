/* JWT (RFC 7519) verification pinned to HS256 (RFC 7515 JWS compact form).
 * The verifier is a codec: bytes and a secret in, claims out. It never reads
 * the clock (the caller injects `now`) and keeps nothing between calls. It
 * uses jansson to parse the decoded JSON, so, unlike the transport codecs, it
 * does allocate (inside jansson, freed before return). */
#ifndef SB_AUTH_JWT_H
#define SB_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/str.h"

/* Default for sb_jwt_verify_opts_t.max_token_bytes when it is 0. */
#define SB_JWT_DEFAULT_MAX_TOKEN_BYTES 8192u
/* Hard ceiling on a token whatever the options say: the decoded segments
 * live on the stack, so a bigger setting is clamped to this. */
#define SB_JWT_MAX_TOKEN_BYTES 16384u
/* Deepest JSON nesting accepted in the header or the payload ({} or [] each
 * count one level; the top-level object is level 1). */
#define SB_JWT_MAX_JSON_DEPTH 32

typedef struct {
    char sub[129];         /* user id: claim "sub", else "id"; NUL-terminated, 1..128 bytes */
    char name[129];        /* optional "name"; "" when absent */
    char avatar[513];      /* optional "avatar"; "" when absent */
    int64_t exp, nbf, iat; /* seconds since the epoch; 0 when absent; floats are floored */
    bool has_exp;
} sb_jwt_claims_t;

typedef struct {
    const uint8_t *secret; /* HMAC key; must be non-empty */
    size_t secret_n;
    int64_t now;      /* seconds since the epoch, injected by the caller */
    int64_t leeway;   /* seconds of tolerance for exp/nbf; negative counts as 0 */
    bool require_exp; /* reject tokens without "exp" */
    /* 0 means SB_JWT_DEFAULT_MAX_TOKEN_BYTES; larger than SB_JWT_MAX_TOKEN_BYTES is clamped. */
    size_t max_token_bytes;
} sb_jwt_verify_opts_t;

/* Verifies `token` (compact JWS "header.payload.signature", base64url without
 * padding) and extracts its claims.
 *
 * Order of checks: size, shape (exactly three segments, strict canonical
 * base64url), header (a JSON object; "alg" exactly "HS256"; "typ", if present,
 * "JWT" in any case; no "crit"), HMAC-SHA256 over the exact "header.payload"
 * bytes compared in constant time, and only then the payload (a JSON object,
 * no duplicate keys) and its claims. A claim whose value is JSON null counts
 * as absent. "sub" (or, when "sub" is absent, "id") is a string of 1..128
 * bytes without control characters, or an integral number written in decimal.
 * "name" (<= 128 bytes) and "avatar" (<= 512 bytes) are optional strings
 * without control characters. "exp", "nbf", "iat" are numbers. The token is
 * expired when exp <= now - leeway and not yet valid when nbf > now + leeway.
 *
 * Returns SB_OK, fills `*claims` and sets `*why` to NULL; or SB_EAUTH with
 * `*why` set to one of the static, user-facing messages "token missing",
 * "token too large",
 * "malformed token" (also a bad "typ" or a "crit" header), "unsupported
 * algorithm", "invalid signature", "token expired", "token not yet valid",
 * "token has no expiry", "token has no user id", "invalid claim: <name>";
 * or SB_EINVAL ("authentication not configured") when `opts` is NULL or the
 * secret is empty. On failure `*claims` is zeroed. `why` may be NULL. */
int sb_jwt_verify(sb_str_t token, const sb_jwt_verify_opts_t *opts, sb_jwt_claims_t *claims,
                  const char **why);

/* Signs `claims_json` (used verbatim: it is not validated, so tests can sign
 * hostile payloads) with HS256 under the header {"alg":"HS256","typ":"JWT"}
 * and writes the compact token plus a terminating NUL into `out`.
 * Returns the token length (without the NUL), SB_ETOOBIG when `cap` cannot
 * hold it and the NUL, or SB_EINVAL when the secret is empty. For tests, the
 * dev mode and the benchmark. */
ssize_t sb_jwt_sign_hs256(sb_str_t claims_json, const uint8_t *secret, size_t secret_n, char *out,
                          size_t cap);

#endif
