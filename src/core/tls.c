#include "core/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/err.h"

struct sb_tls {
    SSL_CTX *ctx;
    char *cert_path, *key_path;
    sb_tls_stats_t stats;
    sb_log_limiter_t log_limit;
};

/* TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3 suites are all
 * of that kind and keep OpenSSL's defaults). */
#define SB_TLS12_CIPHERS                                                                           \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* An encrypted key would make OpenSSL prompt on the terminal: a server has
 * none, so such a key is refused instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *ud) { return 0; }

/* The last OpenSSL error as text, and the queue emptied. */
static const char *ossl_reason(char *buf, size_t cap) {
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(buf, cap, "%s", r ? r : "unknown OpenSSL error");
    ERR_clear_error();
    return buf;
}

/* Says why a file cannot be read before OpenSSL says something vaguer. */
static int check_readable(const char *flag, const char *path, char *err, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "%s %s: cannot read: %s", flag, path, strerror(errno));
        return SB_EINVAL;
    }
    fclose(f);
    return SB_OK;
}

static SSL_CTX *ctx_new(char *err, size_t cap) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, cap, "cannot create a TLS context (out of memory)");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_cipher_list(ctx, SB_TLS12_CIPHERS);
    /* Partial writes and a moving buffer let the output queue hand over one
     * record's worth at a time from wherever it is; idle connections give
     * their 34 KiB of record buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    static const unsigned char sid[] = "switchboard";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    return ctx;
}

static SSL_CTX *load(const char *cert, const char *key, char *err, size_t cap) {
    char why[256];
    if (check_readable("--tls-cert", cert, err, cap) != SB_OK ||
        check_readable("--tls-key", key, err, cap) != SB_OK)
        return NULL;
    SSL_CTX *ctx = ctx_new(err, cap);
    if (!ctx)
        return NULL;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(err, cap, "--tls-cert %s: not a PEM certificate chain (%s)", cert,
                 ossl_reason(why, sizeof why));
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
               SSL_CTX_check_private_key(ctx) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH ||
            ERR_peek_last_error() == 0) {
            ERR_clear_error();
            snprintf(err, cap, "--tls-key %s does not match the certificate in --tls-cert %s", key,
                     cert);
        } else {
            snprintf(err, cap, "--tls-key %s: not an unencrypted PEM private key (%s)", key,
                     ossl_reason(why, sizeof why));
        }
    } else {
        return ctx;
    }
    SSL_CTX_free(ctx);
    return NULL;
}

sb_tls_t *sb_tls_create(const char *cert_path, const char *key_path, char *err, size_t cap) {
    sb_tls_t *t = calloc(1, sizeof *t);
    if (!t || !(t->cert_path = strdup(cert_path)) || !(t->key_path = strdup(key_path))) {
        snprintf(err, cap, "out of memory");
        sb_tls_destroy(t);
        return NULL;
    }
    t->ctx = load(cert_path, key_path, err, cap);
    if (!t->ctx) {
        sb_tls_destroy(t);
        return NULL;
    }
    return t;
}

int sb_tls_reload(sb_tls_t *t, char *err, size_t cap) {
    SSL_CTX *ctx = load(t->cert_path, t->key_path, err, cap);
    if (!ctx) {
        t->stats.reload_failures++;
        return SB_EINVAL;
    }
    /* Open sessions hold a reference to the old context: it goes with the last. */
    SSL_CTX_free(t->ctx);
    t->ctx = ctx;
    t->stats.reloads++;
    return SB_OK;
}

void sb_tls_destroy(sb_tls_t *t) {
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t->cert_path);
    free(t->key_path);
    free(t);
}

SSL *sb_tls_session(sb_tls_t *t, int fd) {
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

sb_tls_stats_t *sb_tls_stats(sb_tls_t *t) { return &t->stats; }

sb_log_limiter_t *sb_tls_log_limiter(sb_tls_t *t) { return &t->log_limit; }

void sb_tls_describe(const sb_tls_t *t, char *out, size_t cap) {
    X509 *x = SSL_CTX_get0_certificate(t->ctx);
    char subject[256] = "?", until[64] = "?";
    if (x) {
        X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof subject);
        BIO *b = BIO_new(BIO_s_mem());
        if (b && ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1) {
            int n = BIO_read(b, until, (int)sizeof until - 1);
            until[n > 0 ? n : 0] = '\0';
        }
        BIO_free(b);
    }
    snprintf(out, cap, "%s (%s), valid until %s", t->cert_path, subject, until);
}
