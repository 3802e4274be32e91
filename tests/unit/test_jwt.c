/* Tests for auth/jwt.c and auth/apikey.c. Known-good vectors were computed
 * outside this code base (node's crypto.createHmac); hostile tokens are built
 * here with a test-local encoder and a real HMAC over the exact bytes, so each
 * rejection is caused by the rule under test and not by a bad signature. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "auth/apikey.h"
#include "auth/jwt.h"
#include "core/err.h"
#include "testlib.h"

#define NOW 1700000000LL
#define FUTURE 4102444800LL /* 2100-01-01 */
#define BIG 32768

static const char KEY[] = "switchboard-test-secret";

/* From node: header {"alg":"HS256","typ":"JWT"},
 * payload {"sub":"alice","name":"Alice","iat":1700000000,"exp":4102444800}. */
static const char VEC1[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjo0MTAyNDQ0ODAwfQ."
    "MKS4oFeRHBP7IaFXJ3v6TKosOm_hTGRZDYjlxK_KtS8";
/* From node: header {"typ":"JWT","alg":"HS256"},
 * payload {"id":42,"avatar":"https://cdn.example/a.png","exp":4102444800}. */
static const char VEC2[] =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9."
    "eyJpZCI6NDIsImF2YXRhciI6Imh0dHBzOi8vY2RuLmV4YW1wbGUvYS5wbmciLCJleHAiOjQxMDI0NDQ4MDB9."
    "pOgocyjyECCpPxaocFrAjnkgRokRq-T4W-sfyyIoFjs";
/* From node: header {"alg":"HS256"} (no typ),
 * payload {"sub":"u-7","exp":1700000100.9,"nbf":1699999999.5}. */
static const char VEC3[] = "eyJhbGciOiJIUzI1NiJ9."
                           "eyJzdWIiOiJ1LTciLCJleHAiOjE3MDAwMDAxMDAuOSwibmJmIjoxNjk5OTk5OTk5LjV9."
                           "Y6W83ZPDjGHzkimf5ThC1F8GIBCOuvuOiDuRlvkTDSg";
/* The public jwt.io example, key "your-256-bit-secret", no exp. */
static const char VEC4[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

/* ---- helpers ---------------------------------------------------------------- */

static sb_jwt_verify_opts_t opts(void) {
    return (sb_jwt_verify_opts_t){.secret = (const uint8_t *)KEY,
                                  .secret_n = sizeof KEY - 1,
                                  .now = NOW,
                                  .leeway = 30,
                                  .require_exp = true,
                                  .max_token_bytes = 8192};
}

/* Standard base64 from OpenSSL, then made url-safe and unpadded: independent
 * of the encoder under test. */
static void b64url(const void *in, size_t n, char *out) {
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (int i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
}

/* Writes "seg0.seg1.<HS256 over exactly seg0.seg1>" into out. */
static void forge_raw(const char *seg0, const char *seg1, char *out) {
    unsigned char mac[32];
    unsigned int mac_n = 0;
    size_t n = (size_t)sprintf(out, "%s.%s", seg0, seg1);
    HMAC(EVP_sha256(), KEY, sizeof KEY - 1, (unsigned char *)out, n, mac, &mac_n);
    out[n] = '.';
    b64url(mac, mac_n, out + n + 1);
}

/* Signs an arbitrary header JSON and payload JSON with the test key. */
static void forge(const char *hdr, const char *payload, char *out) {
    static char h[BIG], p[BIG];
    b64url(hdr, strlen(hdr), h);
    b64url(payload, strlen(payload), p);
    forge_raw(h, p, out);
}

/* Signs `payload` with the code under test; the header is the standard one. */
static void sign(const char *payload, char *out) {
    ssize_t n = sb_jwt_sign_hs256(sb_cstr(payload), (const uint8_t *)KEY, sizeof KEY - 1, out, BIG);
    CHECK(n > 0);
}

static int verify(const char *tok, const sb_jwt_verify_opts_t *o, sb_jwt_claims_t *c,
                  const char **why) {
    sb_jwt_verify_opts_t d = opts();
    return sb_jwt_verify(sb_cstr(tok), o ? o : &d, c, why);
}

static bool accepts(const char *tok, const sb_jwt_verify_opts_t *o, sb_jwt_claims_t *c) {
    const char *why = "unset";
    int rc = verify(tok, o, c, &why);
    if (rc != SB_OK || why != NULL)
        fprintf(stderr, "  rc=%d why=%s\n", rc, why ? why : "(null)");
    return rc == SB_OK && why == NULL;
}

/* True when `tok` fails with SB_EAUTH, the exact `msg`, and zeroed claims. */
static bool rejects(const char *tok, const sb_jwt_verify_opts_t *o, const char *msg) {
    static const sb_jwt_claims_t zero;
    sb_jwt_claims_t c;
    const char *why = NULL;
    memset(&c, 0xAB, sizeof c);
    int rc = verify(tok, o, &c, &why);
    bool ok = rc == SB_EAUTH && why && strcmp(why, msg) == 0 && memcmp(&c, &zero, sizeof c) == 0;
    if (!ok)
        fprintf(stderr, "  rc=%d why=%s, expected \"%s\"\n", rc, why ? why : "(null)", msg);
    return ok;
}

static bool rejects_claims(const char *payload, const char *msg) {
    static char tok[BIG];
    sign(payload, tok);
    return rejects(tok, NULL, msg);
}

static bool accepts_claims(const char *payload, sb_jwt_claims_t *c) {
    static char tok[BIG];
    sign(payload, tok);
    return accepts(tok, NULL, c);
}

/* ---- known vectors and signing ------------------------------------------------ */

TEST(known_vectors) {
    sb_jwt_claims_t c;
    CHECK(accepts(VEC1, NULL, &c));
    CHECK(strcmp(c.sub, "alice") == 0 && strcmp(c.name, "Alice") == 0 && c.avatar[0] == '\0');
    CHECK_EQ(c.iat, 1700000000);
    CHECK_EQ(c.exp, FUTURE);
    CHECK(c.has_exp);
    CHECK_EQ(c.nbf, 0);

    CHECK(accepts(VEC2, NULL, &c));
    CHECK(strcmp(c.sub, "42") == 0 && c.name[0] == '\0');
    CHECK(strcmp(c.avatar, "https://cdn.example/a.png") == 0);

    CHECK(accepts(VEC3, NULL, &c)); /* floats floored; nbf 1s ahead is within leeway */
    CHECK(strcmp(c.sub, "u-7") == 0);
    CHECK_EQ(c.exp, 1700000100);
    CHECK_EQ(c.nbf, 1699999999);

    static const char k4[] = "your-256-bit-secret";
    sb_jwt_verify_opts_t o = opts();
    o.secret = (const uint8_t *)k4;
    o.secret_n = sizeof k4 - 1;
    CHECK(rejects(VEC4, &o, "token has no expiry"));
    o.require_exp = false;
    CHECK(accepts(VEC4, &o, &c));
    CHECK(strcmp(c.sub, "1234567890") == 0 && strcmp(c.name, "John Doe") == 0);
    CHECK_EQ(c.iat, 1516239022);
    CHECK(!c.has_exp);
    CHECK(rejects(VEC1, &o, "invalid signature")); /* right token, wrong key */
}

TEST(sign_reproduces_vector) {
    char out[512];
    const char *p = "{\"sub\":\"alice\",\"name\":\"Alice\",\"iat\":1700000000,\"exp\":4102444800}";
    ssize_t n =
        sb_jwt_sign_hs256(sb_cstr(p), (const uint8_t *)KEY, sizeof KEY - 1, out, sizeof out);
    CHECK_MEM(out, n, VEC1);
    CHECK_EQ(out[n], '\0');
}

TEST(sign_limits) {
    char out[512];
    const uint8_t *k = (const uint8_t *)KEY;
    const size_t len = sizeof VEC1 - 1;
    sb_str_t p =
        sb_cstr("{\"sub\":\"alice\",\"name\":\"Alice\",\"iat\":1700000000,\"exp\":4102444800}");
    CHECK_EQ(sb_jwt_sign_hs256(p, k, sizeof KEY - 1, out, len), SB_ETOOBIG); /* no room for NUL */
    CHECK_EQ(sb_jwt_sign_hs256(p, k, sizeof KEY - 1, out, 0), SB_ETOOBIG);
    CHECK_EQ(sb_jwt_sign_hs256(p, k, sizeof KEY - 1, out, len + 1), (ssize_t)len);
    CHECK_EQ(sb_jwt_sign_hs256(p, k, 0, out, sizeof out), SB_EINVAL);
    CHECK_EQ(sb_jwt_sign_hs256(p, NULL, 5, out, sizeof out), SB_EINVAL);
    /* Empty claims still produce a well-formed (if useless) token. */
    CHECK_EQ(sb_jwt_sign_hs256(SB_LIT(""), k, sizeof KEY - 1, out, sizeof out),
             36 + 1 + 0 + 1 + 43);
}

/* ---- valid tokens --------------------------------------------------------------- */

TEST(valid_claims) {
    sb_jwt_claims_t c;
    CHECK(accepts_claims("{\"sub\":\"bob\",\"name\":\"Bob \xC3\xA9\",\"avatar\":\"/a/b.png\","
                         "\"exp\":4102444800,\"iat\":1699999990,\"extra\":{\"x\":[1,2,{}]}}",
                         &c));
    CHECK(strcmp(c.sub, "bob") == 0);
    CHECK(strcmp(c.name, "Bob \xC3\xA9") == 0);
    CHECK(strcmp(c.avatar, "/a/b.png") == 0);
    CHECK_EQ(c.iat, 1699999990);
    CHECK(accepts_claims("{\"id\":42,\"exp\":4102444800}", &c));
    CHECK(strcmp(c.sub, "42") == 0);
    CHECK(accepts_claims("{\"id\":-7,\"exp\":4102444800}", &c));
    CHECK(strcmp(c.sub, "-7") == 0);
    CHECK(accepts_claims("{\"sub\":9223372036854775807,\"exp\":4102444800}", &c));
    CHECK(strcmp(c.sub, "9223372036854775807") == 0);
    CHECK(accepts_claims("{\"sub\":5.0,\"exp\":4102444800}", &c)); /* integral float */
    CHECK(strcmp(c.sub, "5") == 0);
    CHECK(accepts_claims("{\"sub\":\"s\",\"id\":\"i\",\"exp\":4102444800}", &c)); /* sub wins */
    CHECK(strcmp(c.sub, "s") == 0);
    CHECK(accepts_claims("{\"sub\":null,\"id\":\"i\",\"exp\":4102444800,\"name\":null,"
                         "\"avatar\":null}",
                         &c)); /* null counts as absent */
    CHECK(strcmp(c.sub, "i") == 0 && c.name[0] == '\0' && c.avatar[0] == '\0');
    CHECK(accepts_claims("{\"sub\":\"x\",\"name\":\"\",\"exp\":4102444800}", &c));
    CHECK(c.name[0] == '\0');
}

TEST(header_typ_variants) {
    static char tok[BIG];
    sb_jwt_claims_t c;
    const char *p = "{\"sub\":\"a\",\"exp\":4102444800}";
    forge("{\"alg\":\"HS256\",\"typ\":\"jwt\"}", p, tok);
    CHECK(accepts(tok, NULL, &c));
    forge("{\"alg\":\"HS256\",\"kid\":\"k1\"}", p, tok);
    CHECK(accepts(tok, NULL, &c));
    forge("{\"alg\":\"HS256\",\"typ\":\"JWS\"}", p, tok);
    CHECK(rejects(tok, NULL, "malformed token"));
    forge("{\"alg\":\"HS256\",\"typ\":1}", p, tok);
    CHECK(rejects(tok, NULL, "malformed token"));
    forge("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", p, tok);
    CHECK(rejects(tok, NULL, "malformed token"));
    forge("{\"alg\":\"HS256\",\"crit\":[]}", p, tok);
    CHECK(rejects(tok, NULL, "malformed token"));
    forge("{\"alg\":\"HS256\",\"alg\":\"HS256\"}", p, tok);
    CHECK(rejects(tok, NULL, "malformed token")); /* duplicate key in header */
    forge("[\"HS256\"]", p, tok);
    CHECK(rejects(tok, NULL, "malformed token"));
}

/* ---- signature ---------------------------------------------------------------- */

TEST(bad_signature) {
    static char tok[BIG], h[256], p[256];
    sb_jwt_claims_t c;
    /* One character in the middle of the signature: still canonical base64url. */
    strcpy(tok, VEC1);
    char *sig = strrchr(tok, '.') + 1;
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    CHECK(rejects(tok, NULL, "invalid signature"));
    /* The same header with its keys reordered is different signed bytes. */
    b64url("{\"typ\":\"JWT\",\"alg\":\"HS256\"}", 27, h);
    sprintf(tok, "%s%s", h, strchr(VEC1, '.'));
    CHECK(rejects(tok, NULL, "invalid signature"));
    /* Another valid payload under the original signature. */
    const char *evil =
        "{\"sub\":\"admin\",\"name\":\"Alice\",\"iat\":1700000000,\"exp\":4102444800}";
    b64url(evil, strlen(evil), p);
    sprintf(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.%s%s", p, strrchr(VEC1, '.'));
    CHECK(rejects(tok, NULL, "invalid signature"));
    /* Truncated or extended signature segment. */
    strcpy(tok, VEC1);
    tok[strlen(tok) - 3] = '\0'; /* 40 chars: valid base64url, 30 bytes */
    CHECK(rejects(tok, NULL, "invalid signature"));
    sprintf(tok, "%sAAAA", VEC1);
    CHECK(rejects(tok, NULL, "invalid signature"));
    CHECK(accepts(VEC1, NULL, &c));
}

/* Every one-character change in any segment, and every strict prefix, fails. */
TEST(every_mutation_rejected) {
    char tok[sizeof VEC1];
    sb_jwt_claims_t c;
    const char *why;
    static const char repl[] = "AB_-.=+/ \n";
    int accepted = 0, not_auth = 0;
    for (size_t i = 0; i < sizeof VEC1 - 1; i++) {
        for (const char *r = repl; *r; r++) {
            if (VEC1[i] == *r)
                continue;
            memcpy(tok, VEC1, sizeof VEC1);
            tok[i] = *r;
            int rc = verify(tok, NULL, &c, &why);
            accepted += rc == SB_OK;
            not_auth += rc != SB_OK && rc != SB_EAUTH;
        }
    }
    for (size_t n = 0; n < sizeof VEC1 - 1; n++) {
        int rc = sb_jwt_verify(sb_str(VEC1, n), &(sb_jwt_verify_opts_t){0}, &c, &why);
        CHECK_EQ(rc, SB_EINVAL); /* no secret */
        sb_jwt_verify_opts_t o = opts();
        rc = sb_jwt_verify(sb_str(VEC1, n), &o, &c, &why);
        accepted += rc == SB_OK;
        not_auth += rc != SB_EAUTH;
    }
    CHECK_EQ(accepted, 0);
    CHECK_EQ(not_auth, 0);
}

/* ---- algorithm pinning ---------------------------------------------------------- */

TEST(alg_none) {
    static char tok[BIG], h[128], p[128];
    const char *pl = "{\"sub\":\"a\",\"exp\":4102444800}";
    b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}", 26, h);
    b64url(pl, strlen(pl), p);
    sprintf(tok, "%s.%s.", h, p);
    CHECK(rejects(tok, NULL, "unsupported algorithm"));
    forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", pl, tok);
    CHECK(rejects(tok, NULL, "unsupported algorithm"));
    sprintf(tok, "%s.%s", h, p);
    CHECK(rejects(tok, NULL, "malformed token")); /* two segments */
}

TEST(alg_variants) {
    static char tok[BIG];
    const char *pl = "{\"sub\":\"a\",\"exp\":4102444800}";
    static const char *const headers[] = {
        "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
        "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"hs256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS256 \"}",
        "{\"alg\":\"HS2560\"}",
        "{\"alg\":\"\"}",
        "{\"alg\":256}",
        "{\"alg\":null}",
        "{\"alg\":[\"HS256\"]}",
        "{\"typ\":\"JWT\"}",
        "{}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        forge(headers[i], pl, tok);
        CHECK(rejects(tok, NULL, "unsupported algorithm"));
    }
}

/* ---- time window -------------------------------------------------------------- */

TEST(expiry) {
    char json[256];
    sb_jwt_claims_t c;
    sprintf(json, "{\"sub\":\"a\",\"exp\":%lld}", NOW - 3600);
    CHECK(rejects_claims(json, "token expired"));
    sprintf(json, "{\"sub\":\"a\",\"exp\":%lld}", NOW - 30); /* exp <= now - leeway */
    CHECK(rejects_claims(json, "token expired"));
    sprintf(json, "{\"sub\":\"a\",\"exp\":%lld}", NOW - 29); /* within leeway */
    CHECK(accepts_claims(json, &c));
    CHECK_EQ(c.exp, NOW - 29);
    sprintf(json, "{\"sub\":\"a\",\"exp\":%lld.5}", NOW - 30); /* floored to now - 30 */
    CHECK(rejects_claims(json, "token expired"));
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":-9223372036854775808}", "token expired"));
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":-1.5}", "token expired"));
    CHECK(accepts_claims("{\"sub\":\"a\",\"exp\":9223372036854775807}", &c));

    sb_jwt_verify_opts_t o = opts();
    o.leeway = 0;
    static char tok[BIG];
    sprintf(json, "{\"sub\":\"a\",\"exp\":%lld}", NOW);
    sign(json, tok);
    CHECK(rejects(tok, &o, "token expired"));
    o.leeway = -100; /* negative counts as zero */
    CHECK(rejects(tok, &o, "token expired"));
    o.leeway = INT64_MAX; /* saturates instead of overflowing */
    CHECK(accepts(tok, &o, &c));
    o.now = INT64_MIN;
    o.leeway = 0;
    CHECK(accepts(tok, &o, &c));
}

TEST(not_before) {
    char json[256];
    sb_jwt_claims_t c;
    sprintf(json, "{\"sub\":\"a\",\"exp\":4102444800,\"nbf\":%lld}", NOW + 3600);
    CHECK(rejects_claims(json, "token not yet valid"));
    sprintf(json, "{\"sub\":\"a\",\"exp\":4102444800,\"nbf\":%lld}", NOW + 31);
    CHECK(rejects_claims(json, "token not yet valid"));
    sprintf(json, "{\"sub\":\"a\",\"exp\":4102444800,\"nbf\":%lld}", NOW + 30); /* within */
    CHECK(accepts_claims(json, &c));
    CHECK_EQ(c.nbf, NOW + 30);
    sprintf(json, "{\"sub\":\"a\",\"exp\":4102444800,\"nbf\":%lld.99}", NOW + 30);
    CHECK(accepts_claims(json, &c));
    CHECK(accepts_claims("{\"sub\":\"a\",\"exp\":4102444800,\"nbf\":0}", &c));

    sb_jwt_verify_opts_t o = opts();
    static char tok[BIG];
    sign("{\"sub\":\"a\",\"exp\":9223372036854775807,\"nbf\":9223372036854775807}", tok);
    o.now = INT64_MAX - 5;
    o.leeway = 100;
    CHECK(accepts(tok, &o, &c)); /* now + leeway saturates */
    o.now = NOW;
    CHECK(rejects(tok, &o, "token not yet valid"));
}

TEST(require_exp) {
    static char tok[BIG];
    sb_jwt_claims_t c;
    sb_jwt_verify_opts_t o = opts();
    sign("{\"sub\":\"a\"}", tok);
    CHECK(rejects(tok, &o, "token has no expiry"));
    o.require_exp = false;
    CHECK(accepts(tok, &o, &c));
    CHECK(!c.has_exp);
    CHECK_EQ(c.exp, 0);
    sign("{\"sub\":\"a\",\"exp\":null}", tok);
    CHECK(accepts(tok, &o, &c));
    CHECK(!c.has_exp);
    o.require_exp = true;
    CHECK(rejects(tok, &o, "token has no expiry"));
}

/* ---- claims ------------------------------------------------------------------- */

TEST(user_id_rules) {
    char json[1024], big[300];
    sb_jwt_claims_t c;
    CHECK(rejects_claims("{\"exp\":4102444800}", "token has no user id"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":null,\"id\":null}", "token has no user id"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":\"\"}", "invalid claim: sub"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"id\":\"\"}", "invalid claim: id"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":\"\",\"id\":\"x\"}", "invalid claim: sub"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":\"a\\u0001b\"}", "invalid claim: sub"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":\"a\\nb\"}", "invalid claim: sub"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":\"a\\u007fb\"}", "invalid claim: sub"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":\"a\\u0085b\"}", "invalid claim: sub"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":1.5}", "invalid claim: sub"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"id\":-0.25}", "invalid claim: id"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":1e300}", "invalid claim: sub"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":true}", "invalid claim: sub"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":{}}", "invalid claim: sub"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":[\"a\"]}", "invalid claim: sub"));
    /* jansson refuses "\u0000" without JSON_ALLOW_NUL: the whole payload is bad. */
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":\"a\\u0000\"}", "malformed token"));
    CHECK(rejects_claims("{\"exp\":4102444800,\"sub\":99999999999999999999}", "malformed token"));

    memset(big, 'u', 128);
    big[128] = '\0';
    sprintf(json, "{\"exp\":4102444800,\"sub\":\"%s\"}", big);
    CHECK(accepts_claims(json, &c));
    CHECK_EQ(strlen(c.sub), 128);
    sprintf(json, "{\"exp\":4102444800,\"sub\":\"%su\"}", big);
    CHECK(rejects_claims(json, "invalid claim: sub"));
    memset(big, 0, sizeof big);
    for (int i = 0; i < 64; i++)
        memcpy(big + 2 * i, "\xC3\xA9", 2); /* 128 bytes, 64 chars */
    sprintf(json, "{\"exp\":4102444800,\"sub\":\"%s\"}", big);
    CHECK(accepts_claims(json, &c));
    sprintf(json, "{\"exp\":4102444800,\"sub\":\"%s\xC3\xA9\"}", big);
    CHECK(rejects_claims(json, "invalid claim: sub"));
}

TEST(name_avatar_rules) {
    char json[2048], big[600];
    sb_jwt_claims_t c;
    memset(big, 'n', 128);
    big[128] = '\0';
    sprintf(json, "{\"sub\":\"a\",\"exp\":4102444800,\"name\":\"%s\"}", big);
    CHECK(accepts_claims(json, &c));
    CHECK_EQ(strlen(c.name), 128);
    sprintf(json, "{\"sub\":\"a\",\"exp\":4102444800,\"name\":\"%sn\"}", big);
    CHECK(rejects_claims(json, "invalid claim: name"));
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":4102444800,\"name\":7}", "invalid claim: name"));
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":4102444800,\"name\":\"a\\tb\"}",
                         "invalid claim: name"));
    memset(big, 'v', 512);
    big[512] = '\0';
    sprintf(json, "{\"sub\":\"a\",\"exp\":4102444800,\"avatar\":\"%s\"}", big);
    CHECK(accepts_claims(json, &c));
    CHECK_EQ(strlen(c.avatar), 512);
    sprintf(json, "{\"sub\":\"a\",\"exp\":4102444800,\"avatar\":\"%sv\"}", big);
    CHECK(rejects_claims(json, "invalid claim: avatar"));
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":4102444800,\"avatar\":false}",
                         "invalid claim: avatar"));
}

TEST(time_claim_types) {
    sb_jwt_claims_t c;
    CHECK(accepts_claims("{\"sub\":\"a\",\"exp\":4102444800.7,\"iat\":-1.5}", &c));
    CHECK_EQ(c.exp, FUTURE);
    CHECK_EQ(c.iat, -2); /* floor, not truncation */
    CHECK(accepts_claims("{\"sub\":\"a\",\"exp\":4102444800,\"iat\":-2.0}", &c));
    CHECK_EQ(c.iat, -2);
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":\"4102444800\"}", "invalid claim: exp"));
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":true}", "invalid claim: exp"));
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":[4102444800]}", "invalid claim: exp"));
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":1e300}", "invalid claim: exp"));
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":-1e19}", "invalid claim: exp"));
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":4102444800,\"nbf\":\"0\"}", "invalid claim: nbf"));
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":4102444800,\"iat\":{}}", "invalid claim: iat"));
    CHECK(
        rejects_claims("{\"sub\":\"a\",\"exp\":1e999}", "malformed token")); /* jansson: overflow */
}

/* ---- payload shape ---------------------------------------------------------------- */

TEST(payload_not_object) {
    static const char *const bad[] = {
        "[]", "1", "\"s\"", "null", "", "{", "{}x", "{} {}", "{\"sub\":\"a\",}", "\xff\xfe"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(rejects_claims(bad[i], "malformed token"));
    CHECK(rejects_claims("{}", "token has no user id"));
}

TEST(duplicate_keys) {
    CHECK(
        rejects_claims("{\"sub\":\"a\",\"sub\":\"admin\",\"exp\":4102444800}", "malformed token"));
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":1,\"exp\":4102444800}", "malformed token"));
    CHECK(rejects_claims("{\"sub\":\"a\",\"exp\":4102444800,\"x\":{\"k\":1,\"k\":2}}",
                         "malformed token"));
}

TEST(nesting_depth) {
    static char json[BIG];
    sb_jwt_claims_t c;
    /* Top level is depth 1, so 31 more levels fit and 32 more do not. */
    size_t n = (size_t)sprintf(json, "{\"sub\":\"a\",\"exp\":4102444800,\"x\":");
    for (int i = 0; i < 31; i++)
        json[n++] = '[';
    for (int i = 0; i < 31; i++)
        json[n++] = ']';
    strcpy(json + n, "}");
    CHECK(accepts_claims(json, &c));
    n = (size_t)sprintf(json, "{\"sub\":\"a\",\"exp\":4102444800,\"x\":");
    for (int i = 0; i < 32; i++)
        json[n++] = '[';
    for (int i = 0; i < 32; i++)
        json[n++] = ']';
    strcpy(json + n, "}");
    CHECK(rejects_claims(json, "malformed token"));
    /* Brackets inside strings (and escaped quotes) are not nesting. */
    n = (size_t)sprintf(json, "{\"sub\":\"a\",\"exp\":4102444800,\"x\":\"\\\"");
    for (int i = 0; i < 100; i++)
        json[n++] = '[';
    strcpy(json + n, "\"}");
    CHECK(accepts_claims(json, &c));
    /* Deep enough to trouble a recursive parser, well within the size cap. */
    n = 0;
    for (int i = 0; i < 5000; i++)
        json[n++] = '[';
    json[n] = '\0';
    CHECK(rejects_claims(json, "malformed token"));
}

/* ---- token shape and base64url -------------------------------------------------- */

TEST(segments) {
    static char tok[BIG];
    CHECK(rejects("", NULL, "token missing"));
    CHECK(rejects(".", NULL, "malformed token"));
    CHECK(rejects("..", NULL, "malformed token"));
    CHECK(rejects("...", NULL, "malformed token"));
    sb_jwt_claims_t c;
    const char *why;
    sb_jwt_verify_opts_t o = opts();
    CHECK_EQ(sb_jwt_verify(SB_STR_NULL, &o, &c, &why), SB_EAUTH);
    CHECK(strcmp(why, "token missing") == 0);
    CHECK_EQ(sb_jwt_verify(sb_str(NULL, 5), &o, &c, &why), SB_EAUTH);
    *strrchr(strcpy(tok, VEC1), '.') = '\0';
    CHECK(rejects(tok, NULL, "malformed token")); /* header.payload */
    sprintf(tok, "%s.", VEC1);
    CHECK(rejects(tok, NULL, "malformed token")); /* four, last empty */
    sprintf(tok, "%s.AAAA", VEC1);
    CHECK(rejects(tok, NULL, "malformed token"));
    sprintf(tok, ".%s", VEC1);
    CHECK(rejects(tok, NULL, "malformed token"));
    CHECK(rejects("eyJhbGciOiJIUzI1NiJ9", NULL, "malformed token"));
}

TEST(base64url_strict) {
    static char tok[BIG], seg[BIG];
    const char *h = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
    /* 28 bytes -> 38 chars (length % 4 == 2): room for padding and stray bits. */
    const char *pl = "{\"sub\":\"a\",\"exp\":4102444800}";
    char p[128];
    b64url(pl, strlen(pl), p);
    CHECK_EQ(strlen(p) % 4, 2);
    sb_jwt_claims_t c;
    forge_raw(h, p, tok);
    CHECK(accepts(tok, NULL, &c)); /* control: the forge itself is right */

    sprintf(seg, "%s==", p); /* padded, correctly signed */
    forge_raw(h, seg, tok);
    CHECK(rejects(tok, NULL, "malformed token"));
    sprintf(seg, "%s=", p);
    forge_raw(h, seg, tok);
    CHECK(rejects(tok, NULL, "malformed token"));
    strcpy(seg, p); /* last char with non-zero unused bits decodes to the same bytes */
    char *last = seg + strlen(seg) - 1;
    CHECK((strchr("AQgw", *last) != NULL)); /* canonical: low 4 bits zero */
    *last = *last + 1;
    forge_raw(h, seg, tok);
    CHECK(rejects(tok, NULL, "malformed token"));
    /* The header, 3 bytes short of a multiple of 4... ("{\"alg\":\"HS256\"}" -> 20 chars) */
    forge_raw("eyJhbGciOiJIUzI1NiJ9", p, tok);
    CHECK(accepts(tok, NULL, &c));
    forge_raw("eyJhbGciOiJIUzI1NiJ9=", p, tok);
    CHECK(rejects(tok, NULL, "malformed token"));
    /* 4k+1 characters can never be base64. */
    sprintf(seg, "%sAAA", p);
    forge_raw(h, seg, tok);
    CHECK(rejects(tok, NULL, "malformed token"));
    /* Signature: 43 chars, the last carries 2 unused bits. */
    strcpy(tok, VEC1);
    last = tok + strlen(tok) - 1;
    CHECK_EQ(*last, '8'); /* 60 = 0b111100 */
    *last = '9';
    CHECK(rejects(tok, NULL, "malformed token"));
    *last = '8';
    CHECK(accepts(tok, NULL, &c));
    /* Standard-alphabet characters and whitespace, all correctly signed. */
    static const char *const subst[] = {"+", "/", " ", "\t", "\n", "\r\n", "%2B"};
    for (size_t i = 0; i < sizeof subst / sizeof subst[0]; i++) {
        sprintf(seg, "%.10s%s%s", p, subst[i], p + 10);
        forge_raw(h, seg, tok);
        CHECK(rejects(tok, NULL, "malformed token"));
    }
    /* '/' in place of an existing '_' (same 6-bit value in the standard alphabet). */
    strcpy(tok, VEC1);
    char *u = strrchr(tok, '_');
    CHECK(u != NULL && u > strrchr(tok, '.'));
    *u = '/';
    CHECK(rejects(tok, NULL, "malformed token"));
    /* Whitespace around the whole token is not trimmed by the codec. */
    sprintf(tok, " %s", VEC1);
    CHECK(rejects(tok, NULL, "malformed token"));
    sprintf(tok, "%s\n", VEC1);
    CHECK(rejects(tok, NULL, "malformed token"));
}

TEST(size_limits) {
    static char tok[BIG], json[BIG];
    sb_jwt_claims_t c;
    sb_jwt_verify_opts_t o = opts();
    /* 36 + 1 + b64(json) + 1 + 43 = 8192 needs 8111 base64 chars = 6083 JSON bytes. */
    size_t n = (size_t)sprintf(json, "{\"sub\":\"a\",\"exp\":4102444800,\"pad\":\"");
    size_t fill = 6083 - n - 2;
    memset(json + n, 'x', fill);
    strcpy(json + n + fill, "\"}");
    sign(json, tok);
    CHECK_EQ(strlen(tok), 8192);
    CHECK(accepts(tok, &o, &c));
    o.max_token_bytes = 0; /* default is 8192 */
    CHECK(accepts(tok, &o, &c));
    o.max_token_bytes = 8191;
    CHECK(rejects(tok, &o, "token too large"));
    o.max_token_bytes = 100;
    CHECK(rejects(VEC1, &o, "token too large"));
    sprintf(tok + strlen(tok), "x"); /* 8193 bytes: rejected before any parsing */
    CHECK(rejects(tok, NULL, "token too large"));
    /* A huge setting is clamped to the hard ceiling. */
    o.max_token_bytes = (size_t)1 << 30;
    memset(tok, 'A', SB_JWT_MAX_TOKEN_BYTES + 1);
    tok[SB_JWT_MAX_TOKEN_BYTES + 1] = '\0';
    CHECK(rejects(tok, &o, "token too large"));
    tok[SB_JWT_MAX_TOKEN_BYTES] = '\0';
    CHECK(rejects(tok, &o, "malformed token"));
}

TEST(not_configured) {
    sb_jwt_claims_t c;
    const char *why = NULL;
    sb_jwt_verify_opts_t o = opts();
    CHECK_EQ(sb_jwt_verify(sb_cstr(VEC1), NULL, &c, &why), SB_EINVAL);
    CHECK(why && strcmp(why, "authentication not configured") == 0);
    o.secret_n = 0;
    CHECK_EQ(sb_jwt_verify(sb_cstr(VEC1), &o, &c, &why), SB_EINVAL);
    o = opts();
    o.secret = NULL;
    CHECK_EQ(sb_jwt_verify(sb_cstr(VEC1), &o, &c, NULL), SB_EINVAL);
    o = opts();
    CHECK_EQ(sb_jwt_verify(sb_cstr(VEC1), &o, &c, NULL), SB_OK); /* why may be NULL */
}

/* The token ends right at an unreadable page: any read past `n` faults. */
TEST(no_read_past_end) {
    long pg = sysconf(_SC_PAGESIZE);
    char *map =
        mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    if (map == MAP_FAILED)
        return;
    CHECK_EQ(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
    sb_jwt_claims_t c;
    const char *why;
    sb_jwt_verify_opts_t o = opts();
    const size_t n = sizeof VEC1 - 1;
    char *tok = map + pg - n;
    memcpy(tok, VEC1, n);
    CHECK_EQ(sb_jwt_verify(sb_str(tok, n), &o, &c, &why), SB_OK);
    for (size_t k = 0; k < n; k++)
        CHECK_EQ(sb_jwt_verify(sb_str(map + pg - k, k), &o, &c, &why), SB_EAUTH);
    sb_str_t t;
    memcpy(map + pg - 10, "Bearer abc", 10);
    CHECK(sb_auth_bearer_token(sb_str(map + pg - 10, 10), &t));
    CHECK_MEM(t.p, t.n, "abc");
    munmap(map, (size_t)pg * 2);
}

/* ---- API keys and bearer ---------------------------------------------------------- */

TEST(apikey_matches) {
    CHECK(sb_apikey_matches(SB_LIT("s3cr3t-key"), SB_LIT("s3cr3t-key")));
    CHECK(!sb_apikey_matches(SB_LIT("s3cr3t-kez"), SB_LIT("s3cr3t-key")));
    CHECK(!sb_apikey_matches(SB_LIT("t3cr3t-key"), SB_LIT("s3cr3t-key")));
    CHECK(!sb_apikey_matches(SB_LIT("s3cr3t-ke"), SB_LIT("s3cr3t-key")));
    CHECK(!sb_apikey_matches(SB_LIT("s3cr3t-keyy"), SB_LIT("s3cr3t-key")));
    CHECK(!sb_apikey_matches(SB_LIT(""), SB_LIT("s3cr3t-key")));
    CHECK(!sb_apikey_matches(SB_STR_NULL, SB_LIT("s3cr3t-key")));
    CHECK(!sb_apikey_matches(SB_LIT(""), SB_LIT("")));   /* no key configured */
    CHECK(!sb_apikey_matches(SB_LIT("x"), SB_STR_NULL)); /* no key configured */
    CHECK(sb_apikey_matches(sb_str("a\0b", 3), sb_str("a\0b", 3)));
    CHECK(!sb_apikey_matches(sb_str("a\0b", 3), sb_str("a\0c", 3)));
}

static bool bearer_is(const char *hdr, const char *want) {
    sb_str_t t = {(const char *)1, 99};
    bool ok = sb_auth_bearer_token(sb_cstr(hdr), &t);
    if (!want)
        return !ok && t.p == NULL && t.n == 0;
    return ok && t.n == strlen(want) && memcmp(t.p, want, t.n) == 0;
}

TEST(bearer_parse) {
    CHECK(bearer_is("Bearer abc", "abc"));
    CHECK(bearer_is("bearer abc", "abc"));
    CHECK(bearer_is("BEARER abc", "abc"));
    CHECK(bearer_is("Bearer   abc", "abc"));
    CHECK(bearer_is(" Bearer abc \t", "abc"));
    CHECK(bearer_is("Bearer a.b-c_d~e+f/g==", "a.b-c_d~e+f/g=="));
    CHECK(bearer_is(VEC1, NULL));
    CHECK(bearer_is("Basic abc", NULL));
    CHECK(bearer_is("Bearer", NULL));
    CHECK(bearer_is("Bearer ", NULL));
    CHECK(bearer_is("Bearer    ", NULL));
    CHECK(bearer_is("Bearerabc", NULL));
    CHECK(bearer_is("Bearer\tabc", NULL));
    CHECK(bearer_is("Bearer abc def", NULL));
    CHECK(bearer_is("Bearer abc\x01", NULL));
    CHECK(bearer_is("Bearer ab\xC3\xA9", NULL));
    CHECK(bearer_is("Bear abc", NULL));
    CHECK(bearer_is("", NULL));
    sb_str_t t;
    CHECK(!sb_auth_bearer_token(SB_STR_NULL, &t));
}

int main(void) {
    RUN(known_vectors);
    RUN(sign_reproduces_vector);
    RUN(sign_limits);
    RUN(valid_claims);
    RUN(header_typ_variants);
    RUN(bad_signature);
    RUN(every_mutation_rejected);
    RUN(alg_none);
    RUN(alg_variants);
    RUN(expiry);
    RUN(not_before);
    RUN(require_exp);
    RUN(user_id_rules);
    RUN(name_avatar_rules);
    RUN(time_claim_types);
    RUN(payload_not_object);
    RUN(duplicate_keys);
    RUN(nesting_depth);
    RUN(segments);
    RUN(base64url_strict);
    RUN(size_limits);
    RUN(not_configured);
    RUN(no_read_past_end);
    RUN(apikey_matches);
    RUN(bearer_parse);
    TEST_MAIN_END();
}
