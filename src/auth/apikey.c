/* API keys are compared through their SHA-256 digests: sb_sha256_equal then
 * always runs over 32 bytes, whatever the key lengths, and nothing about the
 * first differing byte of the key itself reaches the timing. */
#include "auth/apikey.h"

#include "core/sha256.h"

static void apikey_digest(sb_str_t s, uint8_t md[SB_SHA256_BYTES]) { sb_sha256(s.p, s.n, md); }

bool sb_apikey_matches(sb_str_t presented, sb_str_t expected) {
    uint8_t a[SB_SHA256_BYTES], b[SB_SHA256_BYTES];
    if (expected.n == 0)
        return false; /* an unset key must not open the API */
    apikey_digest(presented, a);
    apikey_digest(expected, b);
    /* Non-short-circuit '&': both tests always run. */
    return sb_sha256_equal(a, b, sizeof a) & (presented.n == expected.n);
}

static bool auth_is_ows(char c) { return c == ' ' || c == '\t'; }

static sb_str_t auth_trim(sb_str_t s) {
    while (s.n > 0 && auth_is_ows(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && auth_is_ows(s.p[s.n - 1]))
        s.n--;
    return s;
}

static bool auth_token_chars_ok(sb_str_t t) {
    for (size_t i = 0; i < t.n; i++)
        if ((unsigned char)t.p[i] < 0x21 || (unsigned char)t.p[i] > 0x7E)
            return false;
    return t.n > 0;
}

bool sb_auth_bearer_token(sb_str_t authorization_header, sb_str_t *token) {
    const sb_str_t scheme = SB_LIT("Bearer");
    sb_str_t v = auth_trim(authorization_header);
    *token = SB_STR_NULL;
    /* RFC 6750 asks for one space; more are tolerated, nothing else is. */
    if (v.n <= scheme.n || !sb_str_ieq(sb_str(v.p, scheme.n), scheme) || v.p[scheme.n] != ' ')
        return false;
    sb_str_t t = sb_str(v.p + scheme.n, v.n - scheme.n);
    while (t.n > 0 && t.p[0] == ' ') {
        t.p++;
        t.n--;
    }
    if (!auth_token_chars_ok(t))
        return false;
    *token = t;
    return true;
}
