/* HS256 JWT verification and signing. The algorithm is pinned: the header is
 * read only to refuse anything that is not exactly HS256, and the payload is
 * not looked at until its signature has been checked. */
#include "auth/jwt.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>

#include "core/base64.h"
#include "core/err.h"
#include "core/sha256.h"

#define JWT_SIG_BYTES 32
#define JWT_SIG_CHARS 43 /* base64url of 32 bytes, unpadded */
/* Largest decoded segment: 3 bytes per 4 characters of the biggest token. */
#define JWT_DECODE_CAP (SB_JWT_MAX_TOKEN_BYTES / 4 * 3 + 3)
#define JWT_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)
/* Integral doubles above 2^53 are not exact, so ids in floating form stop here. */
#define JWT_MAX_EXACT_DOUBLE 9007199254740992.0

/* base64("{"alg":"HS256","typ":"JWT"}"), the only header we ever sign. */
static const char jwt_header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

static const char why_missing[] = "token missing";
static const char why_too_large[] = "token too large";
static const char why_malformed[] = "malformed token";
static const char why_alg[] = "unsupported algorithm";
static const char why_signature[] = "invalid signature";
static const char why_expired[] = "token expired";
static const char why_not_yet[] = "token not yet valid";
static const char why_no_exp[] = "token has no expiry";
static const char why_no_user[] = "token has no user id";
static const char why_not_configured[] = "authentication not configured";

/* ---- token shape --------------------------------------------------------- */

/* Splits `t` at its dots into exactly three segments. */
static bool jwt_split(sb_str_t t, sb_str_t seg[3]) {
    size_t start = 0, k = 0;
    for (size_t i = 0; i <= t.n; i++) {
        if (i < t.n && t.p[i] != '.')
            continue;
        if (k == 3)
            return false;
        seg[k++] = sb_str(t.p + start, i - start);
        start = i + 1;
    }
    return k == 3;
}

/* The caller's limit, defaulted and clamped to what the stack buffer holds. */
static size_t jwt_max_bytes(const sb_jwt_verify_opts_t *o) {
    size_t m = o->max_token_bytes ? o->max_token_bytes : SB_JWT_DEFAULT_MAX_TOKEN_BYTES;
    return m < SB_JWT_MAX_TOKEN_BYTES ? m : SB_JWT_MAX_TOKEN_BYTES;
}

/* ---- JSON ------------------------------------------------------------------ */

/* Counts bracket nesting outside strings, so a deeply nested document is
 * refused before jansson recurses into it. */
static bool json_depth_ok(const uint8_t *p, size_t n) {
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > SB_JWT_MAX_JSON_DEPTH)
                return false;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

/* Decodes a segment into `buf` and parses it. Returns a new reference to a
 * JSON object, or NULL when the segment is not one. */
static json_t *jwt_segment_object(sb_str_t seg, uint8_t *buf) {
    ssize_t n = sb_base64_decode(seg, buf, JWT_DECODE_CAP, SB_BASE64_URL);
    if (n < 0 || !json_depth_ok(buf, (size_t)n))
        return NULL;
    json_t *j = json_loadb((const char *)buf, (size_t)n, JWT_JSON_FLAGS, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---- header ---------------------------------------------------------------- */

static const char *jwt_header_check_fields(const json_t *h) {
    const json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0 ||
        json_string_length(alg) != 5)
        return why_alg;
    const json_t *typ = json_object_get(h, "typ");
    if (typ && (!json_is_string(typ) || json_string_length(typ) != 3 ||
                strcasecmp(json_string_value(typ), "JWT") != 0))
        return why_malformed;
    /* We implement no extensions, so any critical one cannot be honoured. */
    if (json_object_get(h, "crit"))
        return why_malformed;
    return NULL;
}

/* Returns NULL when the header pins HS256, else the reason. */
static const char *jwt_header_check(sb_str_t seg, uint8_t *buf) {
    json_t *h = jwt_segment_object(seg, buf);
    if (!h)
        return why_malformed;
    const char *why = jwt_header_check_fields(h);
    json_decref(h);
    return why;
}

/* ---- signature ------------------------------------------------------------- */

static bool jwt_hmac(sb_str_t input, const uint8_t *key, size_t key_n, uint8_t mac[JWT_SIG_BYTES]) {
    if (key_n == 0)
        return false;
    sb_hmac_sha256(key, key_n, input.p, input.n, mac);
    return true;
}

/* Compares the MAC of the exact "header.payload" bytes with the signature
 * segment in constant time. */
static bool jwt_signature_ok(sb_str_t input, sb_str_t sig, const sb_jwt_verify_opts_t *o) {
    uint8_t want[JWT_SIG_BYTES], got[JWT_SIG_BYTES + 3];
    if (sig.n != JWT_SIG_CHARS ||
        sb_base64_decode(sig, got, sizeof got, SB_BASE64_URL) != JWT_SIG_BYTES)
        return false;
    if (!jwt_hmac(input, o->secret, o->secret_n, want))
        return false;
    return sb_sha256_equal(want, got, JWT_SIG_BYTES);
}

/* ---- claims ---------------------------------------------------------------- */

/* Floors a finite double into int64_t; false when out of range or NaN. */
static bool jwt_floor_i64(double v, int64_t *out) {
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
        return false;
    int64_t t = (int64_t)v; /* truncates toward zero */
    if ((double)t > v)
        t--;
    *out = t;
    return true;
}

/* Reads a NumericDate. Returns 1 with `*out` set, 0 when absent (or null),
 * -1 when present but not a number in range. */
static int jwt_claim_time(const json_t *obj, const char *key, int64_t *out) {
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v) && jwt_floor_i64(json_real_value(v), out))
        return 1;
    return -1;
}

/* True when `s` has no C0, DEL or C1 control characters (jansson has already
 * checked that it is UTF-8 and NUL-free; C1 is U+0080..U+009F = C2 80..9F). */
static bool jwt_text_clean(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x20 || c == 0x7F)
            return false;
        if (c == 0xC2 && i + 1 < n && (uint8_t)s[i + 1] <= 0x9F)
            return false;
    }
    return true;
}

/* Copies a string claim of at most `cap - 1` clean bytes into `dst`.
 * Returns 1 when copied, 0 when absent (or null), -1 when invalid. */
static int jwt_claim_text(const json_t *obj, const char *key, char *dst, size_t cap, size_t min_n) {
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n < min_n || n >= cap || !jwt_text_clean(s, n))
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 1;
}

/* Renders an integral JSON number as a decimal id. False for fractions and
 * for doubles too large to be exact. */
static bool jwt_number_id(const json_t *v, char *dst, size_t cap) {
    long long id;
    if (json_is_integer(v)) {
        id = json_integer_value(v);
    } else {
        double d = json_real_value(v);
        if (!(d >= -JWT_MAX_EXACT_DOUBLE && d <= JWT_MAX_EXACT_DOUBLE) || d != (double)(long long)d)
            return false;
        id = (long long)d;
    }
    snprintf(dst, cap, "%lld", id);
    return true;
}

/* "sub" wins; "id" is read only when "sub" is absent. */
static const char *jwt_claim_user(const json_t *obj, sb_jwt_claims_t *c) {
    const char *key = "sub", *bad = "invalid claim: sub";
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        key = "id";
        bad = "invalid claim: id";
        v = json_object_get(obj, key);
    }
    if (!v || json_is_null(v))
        return why_no_user;
    bool ok = json_is_number(v) ? jwt_number_id(v, c->sub, sizeof c->sub)
                                : jwt_claim_text(obj, key, c->sub, sizeof c->sub, 1) > 0;
    return ok ? NULL : bad;
}

static const char *jwt_claim_times(const json_t *obj, sb_jwt_claims_t *c, bool *has_nbf) {
    int r = jwt_claim_time(obj, "exp", &c->exp);
    if (r < 0)
        return "invalid claim: exp";
    c->has_exp = r > 0;
    r = jwt_claim_time(obj, "nbf", &c->nbf);
    if (r < 0)
        return "invalid claim: nbf";
    *has_nbf = r > 0;
    if (jwt_claim_time(obj, "iat", &c->iat) < 0)
        return "invalid claim: iat";
    return NULL;
}

static int64_t sat_add(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

static const char *jwt_check_window(const sb_jwt_claims_t *c, bool has_nbf,
                                    const sb_jwt_verify_opts_t *o) {
    int64_t leeway = o->leeway > 0 ? o->leeway : 0;
    if (!c->has_exp && o->require_exp)
        return why_no_exp;
    /* exp <= now - leeway, written so that nothing overflows. */
    if (c->has_exp && sat_add(c->exp, leeway) <= o->now)
        return why_expired;
    if (has_nbf && c->nbf > sat_add(o->now, leeway))
        return why_not_yet;
    return NULL;
}

static const char *jwt_claims_extract(const json_t *obj, const sb_jwt_verify_opts_t *o,
                                      sb_jwt_claims_t *c) {
    bool has_nbf = false;
    const char *why = jwt_claim_user(obj, c);
    if (!why && jwt_claim_text(obj, "name", c->name, sizeof c->name, 0) < 0)
        why = "invalid claim: name";
    if (!why && jwt_claim_text(obj, "avatar", c->avatar, sizeof c->avatar, 0) < 0)
        why = "invalid claim: avatar";
    if (!why)
        why = jwt_claim_times(obj, c, &has_nbf);
    if (!why)
        why = jwt_check_window(c, has_nbf, o);
    return why;
}

/* ---- verify ---------------------------------------------------------------- */

static const char *jwt_verify_steps(sb_str_t token, const sb_jwt_verify_opts_t *o,
                                    sb_jwt_claims_t *c) {
    uint8_t buf[JWT_DECODE_CAP]; /* one decoded segment at a time */
    sb_str_t seg[3];
    if (token.n == 0 || !token.p)
        return why_missing;
    if (token.n > jwt_max_bytes(o))
        return why_too_large;
    if (!jwt_split(token, seg) || !sb_base64_valid(seg[0], SB_BASE64_URL) ||
        !sb_base64_valid(seg[1], SB_BASE64_URL) || !sb_base64_valid(seg[2], SB_BASE64_URL))
        return why_malformed;
    const char *why = jwt_header_check(seg[0], buf);
    if (why)
        return why;
    /* The signing input is everything before the second dot, byte for byte. */
    sb_str_t signed_part = sb_str(token.p, (size_t)(seg[2].p - token.p) - 1);
    if (!jwt_signature_ok(signed_part, seg[2], o))
        return why_signature;
    json_t *payload = jwt_segment_object(seg[1], buf);
    if (!payload)
        return why_malformed;
    why = jwt_claims_extract(payload, o, c);
    json_decref(payload);
    return why;
}

int sb_jwt_verify(sb_str_t token, const sb_jwt_verify_opts_t *opts, sb_jwt_claims_t *claims,
                  const char **why) {
    const char *w;
    int rc = SB_EAUTH;
    memset(claims, 0, sizeof *claims);
    if (!opts || !opts->secret || opts->secret_n == 0) {
        w = why_not_configured;
        rc = SB_EINVAL;
    } else if (!(w = jwt_verify_steps(token, opts, claims))) {
        rc = SB_OK;
    }
    if (rc != SB_OK)
        memset(claims, 0, sizeof *claims);
    if (why)
        *why = rc == SB_OK ? NULL : w;
    return rc;
}

/* ---- sign ------------------------------------------------------------------ */

ssize_t sb_jwt_sign_hs256(sb_str_t claims_json, const uint8_t *secret, size_t secret_n, char *out,
                          size_t cap) {
    const size_t hdr_n = sizeof jwt_header_b64 - 1;
    uint8_t mac[JWT_SIG_BYTES];
    if (!secret || secret_n == 0 || secret_n > INT_MAX)
        return SB_EINVAL;
    if (claims_json.n > (SIZE_MAX - 64) / 2)
        return SB_ETOOBIG;
    size_t body_n = hdr_n + 1 + sb_base64_encoded_len(claims_json.n, SB_BASE64_URL);
    size_t total = body_n + 1 + JWT_SIG_CHARS;
    if (total >= cap || total > SSIZE_MAX)
        return SB_ETOOBIG;
    memcpy(out, jwt_header_b64, hdr_n);
    out[hdr_n] = '.';
    sb_base64_encode((const uint8_t *)claims_json.p, claims_json.n, out + hdr_n + 1, SB_BASE64_URL);
    if (!jwt_hmac(sb_str(out, body_n), secret, secret_n, mac))
        return SB_EINVAL;
    out[body_n] = '.';
    sb_base64_encode(mac, sizeof mac, out + body_n + 1, SB_BASE64_URL);
    out[total] = '\0';
    return (ssize_t)total;
}
