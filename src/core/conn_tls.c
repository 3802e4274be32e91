#include "core/conn_tls.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/err.h"
#include "core/log.h"

static SSL *ssl_of(const sb_conn_t *c) { return ((const sb_tls_conn_t *)(const void *)c)->ssl; }

int sb__conn_tls_open(sb_conn_t *c) {
    SSL *ssl = sb_tls_session(c->ctx->tls, c->io.fd);
    ((sb_tls_conn_t *)(void *)c)->ssl = ssl;
    return ssl ? SB_OK : SB_ENOMEM;
}

/* One line per failed handshake, rate-limited by kind (a flood of one kind
 * hides no other): an operator can see why a client never got through. */
static void handshake_failed(sb_conn_t *c, const char *kind, const char *why) {
    c->flags |= SB_CONN_TLS_FAILED;
    sb_tls_stats(c->ctx->tls)->handshake_failures++;
    if (SB_LOG_INFO < sb_log_cfg.level)
        return;
    char ip[64];
    sb_conn_peer_ip(c, ip, sizeof ip);
    sb_log_limited(sb_tls_log_limiter(c->ctx->tls), SB_LOG_INFO, kind,
                   "tls handshake failed: remote=%s reason=\"%s\"", ip, why);
}

void sb__conn_tls_free(sb_conn_t *c) {
    if (!(c->flags & (SB_CONN_TLS_UP | SB_CONN_TLS_FAILED)))
        handshake_failed(c, "tls_timeout",
                         "no complete handshake before --header-timeout (or shutdown)");
    SSL_free(ssl_of(c));
    ((sb_tls_conn_t *)(void *)c)->ssl = NULL;
}

static void note_handshake_done(sb_conn_t *c) {
    if (!(c->flags & SB_CONN_TLS_UP) && SSL_is_init_finished(ssl_of(c))) {
        c->flags |= SB_CONN_TLS_UP;
        sb_tls_stats(c->ctx->tls)->handshakes++;
    }
}

/* nginx answers the same way: a browser pointed at http:// on the TLS port
 * sees why nothing works instead of an empty reply. */
static const char plain_http_answer[] =
    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n"
    "Content-Length: 92\r\n\r\n"
    "{\"error\":{\"code\":\"tls_required\",\"message\":\"this port speaks TLS: use https:// or "
    "wss://\"}}";

static long answer_plain_http(sb_conn_t *c) {
    sb_tls_stats(c->ctx->tls)->plain_http++;
    handshake_failed(c, "tls_plain_http", "plain HTTP request on the TLS port (answered 400)");
    /* Best effort: a fresh socket's buffer takes these few bytes at once. */
    ssize_t w = write(c->io.fd, plain_http_answer, sizeof plain_http_answer - 1);
    return w > 0 ? SB_ECLOSED : SB_EIO;
}

/* An error of SSL_read or SSL_write that is not a wait. */
static long tls_error(sb_conn_t *c, int e, bool reading) {
    char why[160];
    unsigned long oe = ERR_peek_last_error();
    if (e == SSL_ERROR_SSL && oe)
        snprintf(why, sizeof why, "%s",
                 ERR_reason_error_string(oe) ? ERR_reason_error_string(oe) : "?");
    else if (e == SSL_ERROR_SYSCALL && errno)
        snprintf(why, sizeof why, "%s", strerror(errno));
    else
        snprintf(why, sizeof why, "connection closed by the peer");
    ERR_clear_error();
    if (!(c->flags & SB_CONN_TLS_UP)) {
        if (reading && e == SSL_ERROR_SSL && ERR_GET_REASON(oe) == SSL_R_HTTP_REQUEST)
            return answer_plain_http(c);
        handshake_failed(c, "tls_handshake", why);
    } else if (reading) {
        sb_tls_stats(c->ctx->tls)->read_errors++;
        sb_log_debug("tls read error fd=%d: %s", c->io.fd, why);
    } else {
        sb_tls_stats(c->ctx->tls)->write_errors++;
        sb_log_debug("tls write error fd=%d: %s", c->io.fd, why);
    }
    return SB_EIO;
}

long sb__conn_tls_read(sb_conn_t *c, char *dst, size_t room) {
    ERR_clear_error();
    int r = SSL_read(ssl_of(c), dst, room > INT_MAX ? INT_MAX : (int)room);
    note_handshake_done(c);
    if (r > 0)
        return r;
    int e = SSL_get_error(ssl_of(c), r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return SB_EAGAIN;
    case SSL_ERROR_WANT_WRITE: /* handshake messages, session tickets: wait for EPOLLOUT */
        c->flags |= SB_CONN_TLS_READ_WANTS_WRITE;
        sb_io_set(&c->io, c->io.events | EPOLLOUT);
        return SB_EAGAIN;
    case SSL_ERROR_ZERO_RETURN: /* close_notify, or (IGNORE_UNEXPECTED_EOF) a plain close */
        if (!(c->flags & SB_CONN_TLS_UP))
            handshake_failed(c, "tls_eof", "connection closed by the peer during the handshake");
        return 0;
    default:
        return tls_error(c, e, true);
    }
}

long sb__conn_tls_write(sb_conn_t *c, const char *p, size_t n) {
    ERR_clear_error();
    int w = SSL_write(ssl_of(c), p, n > INT_MAX ? INT_MAX : (int)n);
    note_handshake_done(c);
    if (w > 0)
        return w;
    int e = SSL_get_error(ssl_of(c), w);
    if (e == SSL_ERROR_WANT_WRITE)
        return SB_EAGAIN;
    if (e == SSL_ERROR_WANT_READ) {
        c->flags |= SB_CONN_TLS_WRITE_WANTS_READ;
        return SB_EAGAIN;
    }
    return tls_error(c, e, false);
}

bool sb__conn_tls_pending(const sb_conn_t *c) {
    return (c->flags & SB_CONN_TLS) && SSL_has_pending(ssl_of(c));
}

void sb__conn_tls_goodbye(sb_conn_t *c) {
    if (!(c->flags & SB_CONN_TLS_UP))
        return;
    ERR_clear_error();
    SSL_shutdown(ssl_of(c));
    ERR_clear_error();
}
