/* Deep validators of Socket.IO clients and sockets (STYLE H20): for unit
 * tests, and after every message in debug builds (SB_VALIDATE in client.c),
 * so the events fuzzer checks them after each input. Each returns SB_OK or
 * SB_EPROTO. */
#include "core/base64.h"
#include "core/err.h"
#include "socketio/sio_internal.h"

static bool id_valid(const char *id) {
    for (size_t i = 0; i < SB_SIO_ID_LEN; i++)
        if (sb_base64_value(id[i], SB_BASE64_URL) < 0)
            return false;
    return id[SB_SIO_ID_LEN] == '\0';
}

/* Acks the socket awaits: as many as counted, each armed, ids rising. */
static bool acks_valid(const sb_sio_socket_t *s) {
    uint32_t n = 0;
    uint64_t last = 0;
    for (const sb_list_node_t *p = s->acks.next; p != &s->acks; p = p->next) {
        const sb_sio_pending_ack_t *a = sb_container_of(p, sb_sio_pending_ack_t, node);
        if (p->next->prev != p || a->socket != s || !a->cb || !sb_timer_active(&a->timer) ||
            a->id >= s->next_ack_id || (n > 0 && a->id <= last) || ++n > s->nacks)
            return false;
        last = a->id;
    }
    return n == s->nacks && n <= s->nsp->srv->cfg.max_pending_acks;
}

static bool listed(const sb_sio_client_t *c, const sb_sio_socket_t *s) {
    size_t n = 0; /* bounded: a corrupted list may loop */
    for (const sb_sio_socket_t *p = c->sockets; p && n++ <= c->srv->nnsps; p = p->client_next)
        if (p == s)
            return true;
    return false;
}

/* The recovery state (recovery.c): none at all unless the namespace
 * recovers sessions; indexed as connected only under a pid. */
static bool rec_valid(const sb_sio_socket_t *s) {
    uint8_t f = s->rec.flags;
    if (!(f & SB_SIO_REC_ON))
        return !s->nsp->rec && f == 0 && !s->rec_strings;
    return !(f & SB_SIO_REC_LIVE) || s->rec.pid[0];
}

int sb_sio_socket_validate(const sb_sio_socket_t *s) {
    if (!s->client || !s->nsp || s->nsp->srv != s->client->srv || s->refs == 0 ||
        !id_valid(s->id) || !rec_valid(s) || !acks_valid(s))
        return SB_EPROTO;
    /* Connected: in the namespace's hub and the client's list, the only
     * socket of the client there. Not (a reference outlives it): in
     * neither, nothing awaited. */
    if (s->connected)
        return sb_hub_member_hub(&s->member) == s->nsp->hub && listed(s->client, s) &&
                       sb_sio__client_socket(s->client, sb_cstr(s->nsp->name)) == s
                   ? SB_OK
                   : SB_EPROTO;
    return !sb_hub_member_hub(&s->member) && s->nacks == 0 && !listed(s->client, s) ? SB_OK
                                                                                    : SB_EPROTO;
}

int sb_sio__client_validate(const sb_sio_client_t *c) {
    size_t n = 0;
    if (!c->eio || sb_eio_get_data(c->eio) != c)
        return SB_EPROTO;
    for (const sb_sio_socket_t *s = c->sockets; s; s = s->client_next) {
        if (s->client != c || !s->connected || sb_sio_socket_validate(s) != SB_OK ||
            ++n > c->srv->nnsps)
            return SB_EPROTO;
    }
    /* The connect deadline is over once a namespace was joined; the record
     * then only bounds a hold of the output (sb_sio_socket_hold_output). */
    if (n > 0 && c->connect_wait &&
        (!sb_timer_active(&c->connect_wait->timer) ||
         sb_timer_due(&c->connect_wait->timer) > c->srv->loop->now_ms + SB_SIO_HOLD_MAX_MS))
        return SB_EPROTO;
    /* A binary packet in flight still waits for at least one attachment. */
    if (c->bin && (c->bin->need == 0 || c->bin->have >= c->bin->need ||
                   c->bin->need > c->srv->cfg.max_attachments))
        return SB_EPROTO;
    return SB_OK;
}

int sb_sio_session_validate(const sb_eio_session_t *eio) {
    const sb_sio_client_t *c = sb_eio_get_data(eio);
    return c ? sb_sio__client_validate(c) : SB_OK;
}
