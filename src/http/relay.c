/* A TLS connection whose session belongs to another process sharing the
 * port (http/handoff.h): the TLS session cannot move, so this process keeps
 * it and pumps the plaintext both ways over a local stream socket that the
 * owner serves as a plain HTTP connection. Each side stops reading while
 * the other has more than SB_RELAY_HIGH bytes queued, so a slow reader on
 * either end holds a bounded amount here. Either side closing closes the
 * other once what it was given is written. */
#include <stdlib.h>
#include <unistd.h>

#include "core/err.h"
#include "http/http_internal.h"

#define SB_RELAY_HIGH (256 * 1024)

struct sb_http_relay {
    sb_conn_t *client; /* the TLS connection (NULL until attached, and once gone) */
    sb_conn_t *pipe;   /* this process's end of the socket the owner serves */
};

static sb_conn_t **other_of(sb_http_relay_t *r, const sb_conn_t *c) {
    return c == r->client ? &r->pipe : &r->client;
}

static long relay_on_data(sb_conn_t *c, char *p, size_t n) {
    sb_http_relay_t *r = c->ud;
    sb_conn_t *to = *other_of(r, c);
    if (!to)
        return (long)n; /* the other side is closing: nobody to give it to */
    if (sb_conn_write(to, p, n) == SB_ENOMEM)
        return SB_ENOMEM;
    if (sb_conn_queued(to) > SB_RELAY_HIGH)
        sb_conn_pause_read(c, true);
    return (long)n;
}

/* `c` wrote what it was given: the other side may read again. */
static void relay_on_drain(sb_conn_t *c) {
    sb_http_relay_t *r = c->ud;
    sb_conn_t *from = *other_of(r, c);
    if (from && (from->flags & SB_CONN_READ_PAUSED))
        sb_conn_pause_read(from, false);
}

static void relay_on_close(sb_conn_t *c) {
    sb_http_relay_t *r = c->ud;
    sb_conn_t **self = c == r->client ? &r->client : &r->pipe;
    sb_conn_t *other = *other_of(r, c);
    *self = NULL;
    if (other) {
        sb_conn_pause_read(other, false); /* let its end of input arrive */
        sb_conn_close_after_flush(other);
    } else {
        free(r);
    }
}

static const sb_conn_handler_t relay_handler = {
    .on_data = relay_on_data,
    .on_close = relay_on_close,
    .on_drain = relay_on_drain,
};

sb_http_relay_t *sb_http__relay_open(sb_conn_ctx_t *ctx, int fd) {
    sb_http_relay_t *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        return NULL;
    }
    r->pipe = sb_conn_create_plain(ctx, fd, NULL, &relay_handler, r);
    if (!r->pipe) {
        free(r);
        return NULL;
    }
    return r;
}

void sb_http__relay_cancel(sb_http_relay_t *r) {
    sb_conn_close(r->pipe); /* frees r when it goes */
}

void sb_http__relay_attach(sb_http_relay_t *r, sb_conn_t *client) {
    r->client = client;
    client->handler = &relay_handler;
    client->ud = r;
    /* Input that arrived while the request waited (a pipelined request)
     * goes through too; from a handler, the rest of its input does anyway. */
    sb_conn_resume(client);
}
