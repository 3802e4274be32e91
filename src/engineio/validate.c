/* Deep validators of Engine.IO sessions (STYLE H20): for unit tests, and
 * after every packet in debug builds (SB_VALIDATE in session_state.c), so the
 * events fuzzer checks them after each input. Each returns SB_OK or
 * SB_EPROTO. */
#include <string.h>

#include "core/base64.h"
#include "core/err.h"
#include "engineio/eio_internal.h"

static bool sid_valid(const char *sid) {
    for (size_t i = 0; i < SB_EIO_SID_LEN; i++)
        if (sb_base64_value(sid[i], SB_BASE64_URL) < 0)
            return false;
    return sid[SB_EIO_SID_LEN] == '\0';
}

/* The polling queue: within its capacity and byte count, every slot set. */
static bool poll_valid(const sb_eio_session_t *s) {
    const sb_eio_polling_t *p = s->poll;
    if (p->session != s || p->len > p->cap || (p->cap && !p->q))
        return false;
    size_t bytes = 0;
    for (size_t i = 0; i < p->len; i++) {
        if (!p->q[i])
            return false;
        bytes += p->q[i]->len;
    }
    return bytes == p->bytes;
}

/* Where the session is in its life: open, upgrading, closing. */
static bool state_valid(const sb_eio_session_t *s) {
    if (s->closing != (s->close_reason != NULL) ||
        (s->closing && !sb_task_pending(&s->srv->close_task)))
        return false;
    sb_timer_t *beat = sb_eio__ping_timer((sb_eio_session_t *)s);
    if (s->closing &&
        ((beat && sb_timer_active(beat)) || (s->poll && sb_timer_active(&s->poll->upgrade_timer))))
        return false;
    if (s->awaiting_pong && !s->closing && beat && !sb_timer_active(beat))
        return false; /* nothing would ever end a session that missed its pong */
    if ((s->beat != NULL) == (s->transport == SB_EIO_WEBSOCKET))
        return false; /* a websocket lends its timer; other transports have their own */
    if (s->probed && !s->upgrading)
        return false;
    if (s->upgrading && (s->transport != SB_EIO_POLLING || !s->poll || !s->poll->probe_ws))
        return false;
    switch (s->transport) {
    case SB_EIO_POLLING:
        return s->poll && !s->ws;
    case SB_EIO_WEBSOCKET:
        /* The polling state went with the upgrade; the socket goes only when
         * the transport closed, which closes the session. */
        return !s->poll && (s->ws || s->closing);
    case SB_EIO_CARRIED: /* another protocol's connection carries it */
        return !s->poll && !s->upgrading && s->carrier && s->srv->carrier;
    default:
        return false;
    }
}

int sb_eio_session_validate(const sb_eio_session_t *s) {
    if (!s || !s->srv || !sid_valid(s->sid) || sb_eio__find(s->srv, s->sid) != s)
        return SB_EPROTO;
    if (!state_valid(s) || (s->poll && !poll_valid(s)))
        return SB_EPROTO;
    return SB_OK;
}

int sb_eio_server_validate(const sb_eio_server_t *srv) {
    size_t n = 0, polling = 0, websocket = 0;
    if (srv->nbuckets == 0 || (srv->nbuckets & (srv->nbuckets - 1)) != 0)
        return SB_EPROTO;
    for (size_t i = 0; i < srv->nbuckets; i++) {
        for (const sb_eio_session_t *s = srv->buckets[i]; s; s = s->hash_next) {
            if (++n > srv->count || s->srv != srv ||
                (sb_str_hash(sb_cstr(s->sid)) & (srv->nbuckets - 1)) != i ||
                sb_eio_session_validate(s) != SB_OK)
                return SB_EPROTO;
            polling += s->transport == SB_EIO_POLLING;
            websocket += s->transport == SB_EIO_WEBSOCKET;
        }
    }
    if (n != srv->count || srv->stats.active_polling != polling ||
        srv->stats.active_websocket != websocket)
        return SB_EPROTO;
    return SB_OK;
}
