/* One Socket.IO client per Engine.IO session: parses packets, reassembles
 * binary packets with their attachments, routes to namespaces. */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/err.h"
#include "core/log.h"
#include "socketio/sio_internal.h"

static void eio_on_open(sb_eio_session_t *eio, void *ud) {
    sb_sio_server_t *srv = ud;
    sb_sio_client_t *c = sb_pool_alloc(&srv->clients);
    sb_sio_connect_wait_t *w = c ? sb_pool_alloc(&srv->connect_waits) : NULL;
    if (!w) {
        sb_pool_free(&srv->clients, c);
        sb_eio_close(eio, "out of memory");
        return;
    }
    c->eio = eio;
    c->srv = srv;
    c->sockets = NULL;
    w->client = c;
    c->connect_wait = w;
    sb_timer_init(srv->loop, &w->timer, sb_sio__on_connect_timeout);
    sb_timer_start(&w->timer, srv->cfg.connect_timeout_ms);
    sb_eio_set_data(eio, c);
}

static void binary_reset(sb_sio_client_t *c) {
    if (!c->bin)
        return;
    for (uint32_t i = 0; i < c->bin->have; i++)
        free((void *)c->bin->att[i].p);
    free(c->bin);
    c->bin = NULL;
}

static char *binary_text(sb_sio_binary_t *b) { return (char *)(b->att + b->need); }

static void client_fail(sb_sio_client_t *c, const char *why) {
    c->srv->stats.errors++;
    sb_log_debug("sio %s: %s, closing", sb_eio_sid(c->eio), why);
    binary_reset(c);
    sb_eio_close(c->eio, "parse error");
}

static void on_connect_packet(sb_sio_client_t *c, const sb_sio_packet_t *p) {
    sb_sio_nsp_t *nsp = sb_sio_find_nsp(c->srv, p->nsp);
    if (!nsp) {
        sb_sio__send_connect_error(c, p->nsp, "Invalid namespace", NULL);
        return;
    }
    sb_sio_socket_t *s = sb_sio__socket_create(c, nsp);
    if (!s) {
        sb_sio__send_connect_error(c, p->nsp, "Server out of memory", NULL);
        return;
    }
    sb_sio__socket_connect(s, p->data);
}

/* A CONNECT opens a namespace the client is not in; every other packet
 * needs one it is in. Anything else (an event before CONNECT or after
 * DISCONNECT, a second CONNECT, a CONNECT_ERROR from a client) is a client
 * out of step with the protocol: the connection closes at once. */
static void dispatch(sb_sio_client_t *c, const sb_sio_packet_t *p, const sb_str_t *att, size_t n) {
    sb_sio_socket_t *s = sb_sio__client_socket(c, p->nsp);
    bool connect = p->type == SB_SIO_CONNECT;
    if (connect && !s && !sb_sio__client_waiting(c, p->nsp)) {
        on_connect_packet(c, p);
        return;
    }
    if (connect || !s || p->type == SB_SIO_CONNECT_ERROR) {
        client_fail(c, "packet out of step with the namespace's state");
        return;
    }
    if (p->type == SB_SIO_DISCONNECT)
        sb_sio__socket_close(s, "client namespace disconnect");
    else if (p->type == SB_SIO_EVENT || p->type == SB_SIO_BINARY_EVENT)
        sb_sio__on_event(s, p, att, n);
    else
        sb_sio__on_ack(s, p, att, n);
}

static sb_sio_limits_t limits_of(const sb_sio_server_t *srv) {
    return (sb_sio_limits_t){.max_attachments = srv->cfg.max_attachments,
                             .max_depth = srv->cfg.max_json_depth,
                             .max_nsp_len = 256};
}

static void on_binary_done(sb_sio_client_t *c) {
    sb_sio_packet_t p;
    sb_sio_limits_t lim = limits_of(c->srv);
    if (sb_sio_packet_parse(binary_text(c->bin), c->bin->text_n, &lim, &p) == SB_OK)
        dispatch(c, &p, c->bin->att, c->bin->have);
    binary_reset(c);
}

static void on_attachment(sb_sio_client_t *c, const char *p, size_t n) {
    if (!c->bin) {
        client_fail(c, "unexpected binary message");
        return;
    }
    char *copy = malloc(n ? n : 1);
    if (!copy) {
        client_fail(c, "out of memory");
        return;
    }
    memcpy(copy, p, n);
    c->bin->att[c->bin->have++] = sb_str(copy, n);
    if (c->bin->have == c->bin->need)
        on_binary_done(c);
}

/* Keeps a binary packet until its attachments have arrived. */
static void begin_binary(sb_sio_client_t *c, const char *text, size_t n, const sb_sio_packet_t *p) {
    if (sb_sio_placeholders_check(p->data, p->attachments) != SB_OK) {
        client_fail(c, "invalid binary placeholders");
        return;
    }
    /* attachments <= max_attachments (the parser's limit): no overflow */
    c->bin = malloc(sizeof *c->bin + p->attachments * sizeof(sb_str_t) + n);
    if (!c->bin) {
        client_fail(c, "out of memory");
        return;
    }
    c->bin->text_n = n;
    c->bin->need = p->attachments;
    c->bin->have = 0;
    memcpy(binary_text(c->bin), text, n);
}

static void on_message(sb_eio_session_t *eio, const char *p, size_t n, bool binary) {
    sb_sio_client_t *c = sb_eio_get_data(eio);
    if (!c)
        return;
    if (binary) {
        on_attachment(c, p, n);
        return;
    }
    if (c->bin) {
        client_fail(c, "text packet while attachments were expected");
        return;
    }
    sb_sio_packet_t pkt;
    sb_sio_limits_t lim = limits_of(c->srv);
    int rc = sb_sio_packet_parse(p, n, &lim, &pkt);
    if (rc != SB_OK) {
        client_fail(c, rc == SB_ETOOBIG ? "packet over a limit" : "malformed packet");
        return;
    }
    if (pkt.attachments > 0)
        begin_binary(c, p, n, &pkt);
    else
        dispatch(c, &pkt, NULL, 0);
}

/* The client is freed only when its session closes (a deferred task): it is
 * checked after each message in debug builds, so the fuzzers check it per
 * input. */
static void eio_on_message(sb_eio_session_t *eio, const char *p, size_t n, bool binary) {
    on_message(eio, p, n, binary);
    SB_VALIDATE(sb_sio_session_validate, eio);
}

static void eio_on_close(sb_eio_session_t *eio, const char *reason) {
    sb_sio_client_t *c = sb_eio_get_data(eio);
    if (!c)
        return;
    while (c->sockets) /* each close takes its socket off the list */
        sb_sio__socket_close(c->sockets, reason);
    sb_sio__client_abandon(c);
    sb_sio__client_connected(c); /* or not: the deadline goes with the client */
    binary_reset(c);
    sb_pool_free(&c->srv->clients, c);
}

static const sb_eio_handler_t eio_handler = {eio_on_open, eio_on_message, eio_on_close};

const sb_eio_handler_t *sb_sio_eio_handler(void) { return &eio_handler; }
