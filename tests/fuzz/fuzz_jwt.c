/* Fuzzes the HS256 JWT verifier. The input is verified as a token (it must
 * answer with a documented reason, zero the claims on failure, and accept
 * only tokens whose signature really is the HMAC of their first two
 * segments), then signed as a claims payload with sb_jwt_sign_hs256: that
 * token verifies or fails with a reason that is about the claims, never the
 * signature or the header; it fails under another secret; and any one-byte
 * change or truncation of it is refused. Accepted claims are compared with
 * what jansson reads from the payload. Input: a token, or claims JSON. */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/err.h"
#include "fuzz_util.h"

static const uint8_t secret[] = "fuzz-secret-0123456789";
#define SECRET_N (sizeof secret - 1)
#define NOW 1700000000

static bool why_known(const char *why) {
    static const char *const fixed[] = {
        "token missing",         "token too large",     "malformed token",
        "unsupported algorithm", "invalid signature",   "token expired",
        "token not yet valid",   "token has no expiry", "token has no user id",
        "invalid claim: sub",    "invalid claim: id",   "invalid claim: name",
        "invalid claim: avatar", "invalid claim: exp",  "invalid claim: nbf",
        "invalid claim: iat"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (why && strcmp(why, fixed[i]) == 0)
            return true;
    return false;
}

static bool text_clean(const char *s, size_t max) {
    size_t n = strnlen(s, max + 1);
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x20 || c == 0x7F ||
            (c == 0xC2 && (uint8_t)s[i + 1] >= 0x80 && (uint8_t)s[i + 1] <= 0x9F))
            return false;
    }
    return true;
}

static void b64url(const uint8_t *in, size_t n, char *out) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 8 | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = a[(acc >> bits) & 63];
        }
    }
    if (bits)
        out[o++] = a[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

/* An accepted token carries the HMAC of everything before its second dot. */
static void check_signature(sb_str_t tok) {
    const char *d1 = memchr(tok.p, '.', tok.n);
    FZ_CHECK(d1 != NULL);
    const char *d2 = memchr(d1 + 1, '.', tok.n - (size_t)(d1 + 1 - tok.p));
    FZ_CHECK(d2 != NULL && !memchr(d2 + 1, '.', tok.n - (size_t)(d2 + 1 - tok.p)));
    uint8_t mac[32];
    unsigned mac_n = 0;
    HMAC(EVP_sha256(), secret, SECRET_N, (const uint8_t *)tok.p, (size_t)(d2 - tok.p), mac, &mac_n);
    char enc[64];
    b64url(mac, 32, enc);
    FZ_CHECK(mac_n == 32 && tok.n - (size_t)(d2 + 1 - tok.p) == 43 && memcmp(d2 + 1, enc, 43) == 0);
}

static void check_claims(const sb_jwt_claims_t *c, const sb_jwt_verify_opts_t *o) {
    FZ_CHECK(c->sub[0] != '\0' && text_clean(c->sub, 128) && text_clean(c->name, 128));
    FZ_CHECK(text_clean(c->avatar, 512));
    int64_t lw = o->leeway > 0 ? o->leeway : 0;
    if (o->require_exp)
        FZ_CHECK(c->has_exp);
    if (c->has_exp)
        FZ_CHECK((__int128)c->exp + lw > o->now);
    if (c->nbf)
        FZ_CHECK((__int128)c->nbf <= (__int128)o->now + lw);
}

static int verify(sb_str_t tok, const sb_jwt_verify_opts_t *o, sb_jwt_claims_t *c,
                  const char **why) {
    char *copy = (char *)fz_dup(tok.p, tok.n); /* exact block */
    memset(c, 0x5A, sizeof *c);
    *why = "unset";
    int rc = sb_jwt_verify(sb_str(copy, tok.n), o, c, why);
    FZ_CHECK(rc == SB_OK || rc == SB_EAUTH);
    if (rc == SB_OK) {
        FZ_CHECK(*why == NULL);
        check_signature(sb_str(copy, tok.n));
        check_claims(c, o);
    } else {
        static const sb_jwt_claims_t zero;
        FZ_CHECK(why_known(*why) && memcmp(c, &zero, sizeof zero) == 0);
    }
    size_t max = o->max_token_bytes ? o->max_token_bytes : SB_JWT_DEFAULT_MAX_TOKEN_BYTES;
    if (max > SB_JWT_MAX_TOKEN_BYTES)
        max = SB_JWT_MAX_TOKEN_BYTES;
    FZ_CHECK((tok.n == 0) == (rc != SB_OK && strcmp(*why, "token missing") == 0));
    FZ_CHECK((tok.n > max) == (rc != SB_OK && strcmp(*why, "token too large") == 0));
    free(copy);
    return rc;
}

/* Accepted claims say what jansson reads from the signed payload. */
static void check_against_jansson(const uint8_t *claims, size_t n, const sb_jwt_claims_t *c) {
    json_t *j = json_loadb((const char *)claims, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    FZ_CHECK(j != NULL && json_is_object(j));
    json_t *sub = json_object_get(j, "sub");
    if (!sub || json_is_null(sub))
        sub = json_object_get(j, "id");
    FZ_CHECK(sub != NULL);
    if (json_is_string(sub)) {
        FZ_CHECK(strcmp(c->sub, json_string_value(sub)) == 0);
    } else if (json_is_integer(sub)) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(sub));
        FZ_CHECK(strcmp(c->sub, num) == 0);
    }
    json_t *name = json_object_get(j, "name");
    FZ_CHECK(json_is_string(name) ? strcmp(c->name, json_string_value(name)) == 0
                                  : c->name[0] == 0);
    json_t *exp = json_object_get(j, "exp");
    FZ_CHECK(c->has_exp == (exp && !json_is_null(exp)));
    if (json_is_integer(exp))
        FZ_CHECK(c->exp == (int64_t)json_integer_value(exp));
    json_decref(j);
}

static void check_signed(const uint8_t *claims, size_t n, sb_jwt_verify_opts_t o, uint8_t pos) {
    size_t need = 36 + 1 + (n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0)) + 1 + 43;
    char *tok = malloc(need + 1);
    FZ_CHECK(sb_jwt_sign_hs256(sb_str((const char *)claims, n), secret, SECRET_N, tok, need) ==
             SB_ETOOBIG);
    FZ_CHECK(sb_jwt_sign_hs256(sb_str((const char *)claims, n), secret, 0, tok, need + 1) ==
             SB_EINVAL);
    ssize_t tn =
        sb_jwt_sign_hs256(sb_str((const char *)claims, n), secret, SECRET_N, tok, need + 1);
    FZ_CHECK(tn == (ssize_t)need && tok[need] == '\0' && strlen(tok) == need);
    o.max_token_bytes = SB_JWT_MAX_TOKEN_BYTES;
    sb_jwt_claims_t c;
    const char *why;
    sb_str_t t = sb_str(tok, need);
    int rc = verify(t, &o, &c, &why);
    if (need > SB_JWT_MAX_TOKEN_BYTES) {
        FZ_CHECK(rc == SB_EAUTH && strcmp(why, "token too large") == 0);
        free(tok);
        return;
    }
    if (rc != SB_OK) {
        FZ_CHECK(strcmp(why, "invalid signature") != 0 &&
                 strcmp(why, "unsupported algorithm") != 0);
        FZ_CHECK(strcmp(why, "token missing") != 0);
    } else {
        check_against_jansson(claims, n, &c);
    }
    /* Another secret: refused for the signature. */
    sb_jwt_verify_opts_t other = o;
    other.secret = (const uint8_t *)"another-secret";
    other.secret_n = 14;
    sb_jwt_claims_t c2;
    FZ_CHECK(sb_jwt_verify(t, &other, &c2, &why) == SB_EAUTH &&
             strcmp(why, "invalid signature") == 0);
    /* Any one-byte change, or a cut, is refused. */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=";
    size_t i = pos % need;
    char old = tok[i];
    tok[i] = alphabet[(strchr(alphabet, old) - alphabet + 1 + pos / 64) % (sizeof alphabet - 1)];
    if (tok[i] == old)
        tok[i] = old == 'A' ? 'B' : 'A';
    FZ_CHECK(verify(t, &o, &c2, &why) == SB_EAUTH);
    tok[i] = old;
    FZ_CHECK(verify(sb_str(tok, need - 1 - pos % 3), &o, &c2, &why) == SB_EAUTH);
    FZ_CHECK(verify(t, &o, &c2, &why) == rc); /* unchanged token: same answer */
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_src_t ctl = {data, size};
    uint8_t sel = fz_byte(&ctl), pos = fz_byte(&ctl);
    static const int64_t leeways[] = {0, 30, -5, INT64_MAX};
    static const size_t maxes[] = {0, 64, 100000, 8192};
    sb_jwt_verify_opts_t o = {
        .secret = secret,
        .secret_n = SECRET_N,
        .now = (sel & 0x40) ? INT64_MAX - 1 : NOW,
        .leeway = leeways[sel & 3],
        .require_exp = sel & 4,
        .max_token_bytes = maxes[(sel >> 3) & 3],
    };
    sb_jwt_claims_t c;
    const char *why;
    /* The input without its two control bytes (at the end) as a token... */
    verify(sb_str((const char *)data, ctl.n), &o, &c, &why);
    FZ_CHECK(sb_jwt_verify(sb_str((const char *)data, size), NULL, &c, &why) == SB_EINVAL);
    FZ_CHECK(strcmp(why, "authentication not configured") == 0);
    /* ...and as claims. */
    check_signed(data, ctl.n, o, pos);
    return 0;
}
