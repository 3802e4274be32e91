/* Engine.IO v4 packet codec: one text packet (a WebSocket text frame or one
 * segment of a polling payload), polling payloads split on the record separator
 * 0x1e, the strict base64 used for binary packets in payloads, and the open
 * packet. Pure: no allocation, no I/O; every slice points into the caller's
 * buffers (the input, or bin_buf for decoded binary). */
#ifndef SB_ENGINEIO_PACKET_H
#define SB_ENGINEIO_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/str.h"

enum {
    SB_EIO_OPEN = 0,
    SB_EIO_CLOSE = 1,
    SB_EIO_PING = 2,
    SB_EIO_PONG = 3,
    SB_EIO_MESSAGE = 4,
    SB_EIO_UPGRADE = 5,
    SB_EIO_NOOP = 6,
};

/* The polling payload separator (ASCII record separator). */
#define SB_EIO_SEPARATOR '\x1e'

typedef struct {
    uint8_t type;  /* SB_EIO_OPEN .. SB_EIO_NOOP */
    bool binary;   /* true only for decoded 'b' payload segments (always MESSAGE) */
    sb_str_t data; /* bytes after the type; may be empty */
} sb_eio_packet_t;

/* Parses one text packet p[0..n): a type digit '0'..'6' then data. Returns
 * SB_OK, or SB_EPROTO when p is empty or the type is unknown (this includes the
 * payload-only 'b' base64 prefix: binary over WebSocket travels in binary
 * frames, which are messages as they are). out->data points into p. */
int sb_eio_packet_parse_text(const char *p, size_t n, sb_eio_packet_t *out);

/* ---- Polling payloads ---------------------------------------------------- */

/* Iterates over the packets of a polling request body. Embeddable; fields are
 * private; the body must outlive the iterator and the packets it yields. */
typedef struct {
    const char *_p;
    size_t _n, _off; /* _off > _n once the last segment was returned */
} sb_eio_payload_iter_t;

void sb_eio_payload_iter_init(sb_eio_payload_iter_t *it, const char *p, size_t n);

/* Yields the next packet. A segment "b<base64>" is a binary MESSAGE: it is
 * decoded into bin_buf[0..bin_cap) and out->data points there (so it is
 * overwritten by the next binary segment), with out->binary set. Other
 * segments are parsed as by sb_eio_packet_parse_text, data pointing into the
 * body. Returns 1 for a packet, 0 at the end, SB_EPROTO for an empty segment
 * (so an empty body or a trailing separator is an error), an unknown type or
 * bad base64, SB_ETOOBIG if decoded binary exceeds bin_cap. After an error the
 * whole payload must be rejected; further calls return 0. The caller counts
 * packets and enforces its own per-payload packet limit. */
int sb_eio_payload_next(sb_eio_payload_iter_t *it, sb_eio_packet_t *out, uint8_t *bin_buf,
                        size_t bin_cap);

/* ---- Open packet --------------------------------------------------------- */

/* Writes the handshake packet, byte for byte as the Node reference server:
 *   0{"sid":"<sid>","upgrades":["websocket"],"pingInterval":25000,
 *     "pingTimeout":20000,"maxPayload":1000000}
 * ("upgrades":[] when upgrades_websocket is false; sid JSON-escaped). Returns
 * the bytes needed; writes them (no NUL) only if that fits in cap. */
size_t sb_eio_open_packet_write(char *out, size_t cap, sb_str_t sid, bool upgrades_websocket,
                                unsigned ping_interval, unsigned ping_timeout, size_t max_payload);

#endif
