/* Socket.IO v5 packet codec (the default socket.io-parser text encoding):
 *
 *   <type>[<attachments>-][/<nsp>,][<ack id>][<JSON>]
 *
 * Pure: no allocation, no I/O. Binary attachments travel as separate
 * Engine.IO messages; here only the text part and its placeholders are
 * checked. Every slice in a parsed packet points into the input text. */
#ifndef SB_SOCKETIO_PACKET_H
#define SB_SOCKETIO_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

enum {
    SB_SIO_CONNECT = 0,
    SB_SIO_DISCONNECT = 1,
    SB_SIO_EVENT = 2,
    SB_SIO_ACK = 3,
    SB_SIO_CONNECT_ERROR = 4,
    SB_SIO_BINARY_EVENT = 5,
    SB_SIO_BINARY_ACK = 6,
};

/* Largest ack id accepted and written: 2^53 - 1, the largest integer a
 * JavaScript peer represents exactly. */
#define SB_SIO_ACK_ID_MAX 9007199254740991ULL

/* Attachments the placeholder check can track (its bitmap is on the stack);
 * packets announcing more are refused with SB_ETOOBIG whatever the limits. */
#define SB_SIO_ATTACHMENTS_MAX 256

/* Nesting the placeholder check can track (its frame stack is on the stack). */
#define SB_SIO_PLACEHOLDER_DEPTH_MAX 128

/* Upper bound of sb_sio_packet_write_head's output for a namespace of nsp_n
 * bytes: type (1) + attachments (10) + '-' (1) + ',' (1) + ack id (20). */
#define SB_SIO_HEAD_MAX(nsp_n) ((size_t)(nsp_n) + 33)

typedef struct {
    uint8_t type;         /* SB_SIO_CONNECT .. SB_SIO_BINARY_ACK */
    sb_str_t nsp;         /* "/" when omitted; else raw bytes from '/' up to ',' */
    bool has_ack;         /* an ack id was present */
    uint64_t ack_id;      /* valid when has_ack; <= SB_SIO_ACK_ID_MAX */
    uint32_t attachments; /* BINARY_EVENT / BINARY_ACK only, else 0 */
    sb_str_t data;        /* the JSON value, validated, trailing whitespace trimmed;
                           * empty when the packet has none */
    sb_str_t event;       /* EVENT / BINARY_EVENT: the event name's raw JSON string
                           * token, quotes included (unescape before use); else empty */
} sb_sio_packet_t;

typedef struct {
    size_t max_attachments; /* > this: SB_ETOOBIG; the reference parser uses 10 */
    int max_depth;          /* JSON nesting limit, see sb_json_validate */
    size_t max_nsp_len;     /* namespace bytes including the '/': SB_ETOOBIG */
} sb_sio_limits_t;

#define SB_SIO_LIMITS_DEFAULT                                                                      \
    ((sb_sio_limits_t){.max_attachments = 10, .max_depth = 32, .max_nsp_len = 256})

/* Parses one Socket.IO text packet p[0..n) (the data of an Engine.IO MESSAGE).
 * lim may be NULL for SB_SIO_LIMITS_DEFAULT. Rules (the reference parser's,
 * made stricter where no real client is affected):
 * - type is one digit '0'..'6';
 * - BINARY_* need "<N>-" with 1 <= N <= max_attachments (and N <=
 *   SB_SIO_ATTACHMENTS_MAX), else SB_ETOOBIG; a missing '-' or N of 0 is
 *   SB_EPROTO; other types carry no attachment count;
 * - a namespace starts with '/' and runs to the first ',' (consumed) or the
 *   end of the text, like the reference parser. It is kept verbatim, so a v4
 *   style "/chat?x=1," yields the namespace "/chat?x=1", which the namespace
 *   layer will not find (v5 clients send their query in the handshake URL).
 *   Control bytes in it are SB_EPROTO; longer than max_nsp_len is SB_ETOOBIG;
 * - an ack id is 1..16 digits with value <= SB_SIO_ACK_ID_MAX, else SB_EPROTO;
 * - the JSON must start right after the header (the reference would read a
 *   leading space as ack id 0, so whitespace there is SB_EPROTO), must be one
 *   valid value within max_depth (SB_EDEPTH), nothing after it but whitespace;
 * - CONNECT: no data or an object. DISCONNECT: no data. EVENT and
 *   BINARY_EVENT: an array whose first item is a string that is not a reserved
 *   name (connect, connect_error, disconnect, disconnecting, newListener,
 *   removeListener). Unlike the reference, numeric event names are refused.
 *   ACK and BINARY_ACK: an ack id and an array. CONNECT_ERROR: object or string;
 * - BINARY_*: the data must pass sb_sio_placeholders_check.
 * Returns SB_OK, SB_EPROTO, SB_ETOOBIG or SB_EDEPTH; out is complete only on
 * SB_OK, and its slices point into p. */
int sb_sio_packet_parse(const char *p, size_t n, const sb_sio_limits_t *lim, sb_sio_packet_t *out);

/* Checks the placeholders of a binary packet's validated JSON data. A
 * placeholder is an object whose member "_placeholder" is true (keys compared
 * after unescaping; when a key repeats its last value counts, as in JSON.parse);
 * its "num" must be a plain non-negative integer below `attachments`, and each
 * index 0..attachments-1 must be used exactly once. Returns SB_OK, SB_EPROTO,
 * SB_ETOOBIG if attachments > SB_SIO_ATTACHMENTS_MAX, or SB_EDEPTH if the data
 * nests deeper than SB_SIO_PLACEHOLDER_DEPTH_MAX. Iterative, one pass. */
int sb_sio_placeholders_check(sb_str_t data, uint32_t attachments);

/* Writes the header of a packet, everything before its JSON: the type digit,
 * "<attachments>-" for BINARY_EVENT and BINARY_ACK, the namespace and ','
 * unless it is empty or "/", then the ack id when has_ack. The namespace is
 * copied verbatim and must start with '/' and contain no ','. Returns the
 * bytes needed (at most SB_SIO_HEAD_MAX(nsp.n)); writes them (no NUL) only when
 * that fits in cap. */
size_t sb_sio_packet_write_head(char *out, size_t cap, uint8_t type, sb_str_t nsp,
                                uint32_t attachments, bool has_ack, uint64_t ack_id);

#endif
