/* Encoding and sending Socket.IO packets. An event is encoded once into a
 * frame chain (text packet, then its binary attachments) and shared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "socketio/sio_internal.h"

#define SB_SIO_PUBLISH_EXCEPT_MAX 1025

/* Frame text: "4" + packet head + '[' + ["event" + ','] + args + ']'. */
sb_frame_t *sb_sio__encode(const sb_sio_nsp_t *nsp_of, uint8_t type, bool has_ack, uint64_t ack_id,
                           sb_str_t event, sb_str_t args, const sb_str_t *att, size_t natt) {
    if (natt)
        type = type == SB_SIO_EVENT ? SB_SIO_BINARY_EVENT : SB_SIO_BINARY_ACK;
    char head[SB_SIO_HEAD_MAX(256) + 1];
    sb_str_t nsp = sb_cstr(nsp_of->name);
    if (nsp.n > 256)
        return NULL;
    size_t hn =
        sb_sio_packet_write_head(head, sizeof head, type, nsp, (uint32_t)natt, has_ack, ack_id);
    size_t en = event.p ? sb_json_string_escape(event, NULL, 0) : 0;
    size_t total = 1 + hn + 1 + en + (en && args.n) + args.n + 1;
    sb_frame_t *f = sb_frame_create_in(&nsp_of->srv->loop->slab, NULL, total, 0);
    if (!f)
        return NULL;
    char *w = f->data;
    *w++ = '4';
    memcpy(w, head, hn);
    w += hn;
    *w++ = '[';
    if (en) {
        w += sb_json_string_escape(event, w, en);
        if (args.n)
            *w++ = ',';
    }
    if (args.n)
        memcpy(w, args.p, args.n);
    w[args.n] = ']';
    sb_frame_t **tail = &f->next;
    for (size_t i = 0; i < natt; i++, tail = &(*tail)->next) {
        *tail = sb_frame_create(att[i].p, att[i].n, SB_FRAME_BINARY);
        if (!*tail) {
            sb_frame_unref(f);
            return NULL;
        }
    }
    return f;
}

sb_frame_t *sb_sio_encode_event(const sb_sio_nsp_t *nsp, const char *event, sb_str_t args,
                                const sb_str_t *att, size_t n, bool has_ack, uint64_t ack_id) {
    return sb_sio__encode(nsp, SB_SIO_EVENT, has_ack, ack_id, sb_cstr(event), args, att, n);
}

static int send_frame(sb_sio_socket_t *s, sb_frame_t *f) {
    if (!f)
        return SB_ENOMEM;
    int rc = sb_eio_send_frame(s->client->eio, f);
    sb_frame_unref(f);
    return rc;
}

/* CONNECT / DISCONNECT packets with an optional JSON body. */
int sb_sio__send_packet(sb_sio_socket_t *s, uint8_t type, sb_str_t body) {
    char buf[SB_SIO_HEAD_MAX(256) + 128];
    size_t hn = sb_sio_packet_write_head(buf, sizeof buf, type, sb_cstr(s->nsp->name), 0, false, 0);
    if (hn + body.n > sizeof buf)
        return SB_ETOOBIG;
    if (body.n)
        memcpy(buf + hn, body.p, body.n);
    return sb_eio_send_message(s->client->eio, buf, hn + body.n, false);
}

int sb_sio__send_connect_error(sb_sio_client_t *c, sb_str_t nsp, const char *msg,
                               const char *data) {
    char head[SB_SIO_HEAD_MAX(256) + 1], body[1024];
    if (nsp.n > 256)
        nsp = SB_LIT("/");
    size_t hn = sb_sio_packet_write_head(head, sizeof head, SB_SIO_CONNECT_ERROR, nsp, 0, false, 0);
    size_t mn = sb_json_string_escape(sb_cstr(msg), NULL, 0);
    char *esc = malloc(mn + 1);
    if (!esc)
        return SB_ENOMEM;
    sb_json_string_escape(sb_cstr(msg), esc, mn);
    int n = snprintf(body, sizeof body, "%.*s{\"message\":%.*s%s%s}", (int)hn, head, (int)mn, esc,
                     data ? ",\"data\":" : "", data ? data : "");
    free(esc);
    if (n < 0 || (size_t)n >= sizeof body)
        return SB_ETOOBIG;
    return sb_eio_send_message(c->eio, body, (size_t)n, false);
}

int sb_sio_emit(sb_sio_socket_t *s, const char *event, sb_str_t args) {
    return sb_sio_emit_binary(s, event, args, NULL, 0);
}

int sb_sio_emit_binary(sb_sio_socket_t *s, const char *event, sb_str_t args, const sb_str_t *att,
                       size_t n) {
    if (!s->connected)
        return SB_ECLOSED;
    s->nsp->srv->stats.events_out++;
    return send_frame(s, sb_sio_encode_event(s->nsp, event, args, att, n, false, 0));
}

int sb_sio_ack(sb_sio_socket_t *s, uint64_t ack_id, sb_str_t args) {
    return sb_sio_ack_binary(s, ack_id, args, NULL, 0);
}

int sb_sio_ack_binary(sb_sio_socket_t *s, uint64_t ack_id, sb_str_t args, const sb_str_t *att,
                      size_t n) {
    if (!s->connected)
        return SB_ECLOSED;
    return send_frame(s,
                      sb_sio__encode(s->nsp, SB_SIO_ACK, true, ack_id, SB_STR_NULL, args, att, n));
}

int sb_sio_reply(const sb_sio_event_t *ev, sb_str_t args) {
    return sb_sio_reply_binary(ev, args, NULL, 0);
}

int sb_sio_reply_binary(const sb_sio_event_t *ev, sb_str_t args, const sb_str_t *att, size_t n) {
    if (!ev->has_ack)
        return SB_OK;
    return sb_sio_ack_binary(ev->socket, ev->ack_id, args, att, n);
}

/* The socket left out becomes one more `except` room: its id. */
static void publish(sb_sio_nsp_t *nsp, const sb_sio_target_t *t, const char *event, sb_str_t args,
                    const sb_str_t *att, size_t n) {
    sb_str_t except[SB_SIO_PUBLISH_EXCEPT_MAX];
    size_t nexcept =
        t->nexcept < SB_SIO_PUBLISH_EXCEPT_MAX - 1 ? t->nexcept : SB_SIO_PUBLISH_EXCEPT_MAX - 1;
    for (size_t i = 0; i < nexcept; i++)
        except[i] = t->except[i];
    if (t->except_socket)
        except[nexcept++] = sb_cstr(t->except_socket->id);
    sb_engine_broadcast_t b = {
        .nsp = sb_cstr(nsp->name),
        .event = sb_cstr(event),
        .args = args,
        .attachments = att,
        .nattachments = n,
        .to = {t->all ? NULL : t->rooms, t->all ? 0 : t->nrooms, except, nexcept},
        .is_volatile = t->is_volatile};
    nsp->srv->engine->ops->publish(nsp->srv->engine, &b);
}

bool sb_sio_broadcast_reaches(const sb_sio_nsp_t *nsp, const sb_sio_target_t *t) {
    if ((nsp->srv->engine && !t->local) || t->all || t->nrooms != 1 || t->nexcept)
        return true; /* other nodes, or more than one room's question: assumed */
    size_t n = sb_hub_room_size(nsp->hub, t->rooms[0]);
    if (n == 1 && t->except_socket)
        return !sb_hub_is_member(nsp->hub, &t->except_socket->member, t->rooms[0]);
    return n > 0;
}

long sb_sio_broadcast(sb_sio_nsp_t *nsp, const sb_sio_target_t *t, const char *event, sb_str_t args,
                      const sb_str_t *att, size_t n) {
    if (!sb_sio_broadcast_reaches(nsp, t))
        return 0; /* nothing encoded for nobody */
    sb_frame_t *f = sb_sio_encode_event(nsp, event, args, att, n, false, 0);
    if (!f)
        return SB_ENOMEM;
    if (t->is_volatile)
        f->flags |= SB_FRAME_VOLATILE;
    sb_hub_target_t ht = {.rooms = t->rooms,
                          .nrooms = t->nrooms,
                          .all = t->all,
                          .except = t->except,
                          .nexcept = t->nexcept,
                          .except_member = t->except_socket ? &t->except_socket->member : NULL};
    size_t count = sb_hub_broadcast(nsp->hub, &ht, f);
    nsp->srv->stats.events_out += count;
    sb_frame_unref(f);
    if (nsp->srv->engine && !t->local && (t->all || t->nrooms))
        publish(nsp, t, event, args, att, n);
    return (long)count;
}
