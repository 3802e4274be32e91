/* RFC 6455 framing: header parse and write, payload (un)masking, and close
 * payloads. Pure: bytes in, structs out; no allocation, no I/O. Policy that
 * depends on the connection (RSV bits allowed by an extension, "client frames
 * must be masked", size limits, fragmentation sequence) is the caller's. */
#ifndef SB_WS_FRAME_H
#define SB_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/str.h"

enum {
    SB_WS_OP_CONT = 0,
    SB_WS_OP_TEXT = 1,
    SB_WS_OP_BINARY = 2,
    SB_WS_OP_CLOSE = 8,
    SB_WS_OP_PING = 9,
    SB_WS_OP_PONG = 10,
};

enum {
    SB_WS_RSV1 = 0x4, /* bit values of sb_ws_hdr_t.rsv; RSV1 = permessage-deflate */
    SB_WS_RSV2 = 0x2,
    SB_WS_RSV3 = 0x1,
};

#define SB_WS_HDR_MAX 14           /* 2 + 8 (64-bit length) + 4 (mask) */
#define SB_WS_CONTROL_MAX 125      /* largest control frame payload */
#define SB_WS_CLOSE_REASON_MAX 123 /* control payload minus the 2-byte code */

/* A decoded frame header. rsv holds RSV1..RSV3 as 0x4, 0x2, 0x1. mask is
 * meaningful only when masked is 1. hdr_len is where the payload starts. */
typedef struct {
    uint8_t fin, rsv, opcode, masked;
    uint8_t mask[4];
    uint64_t len;
    uint8_t hdr_len;
} sb_ws_hdr_t;

/* Parses the frame header at the start of p[0..n). Returns the header length
 * (2..14) when it is complete, SB_EAGAIN when more bytes are needed, or
 * SB_EPROTO for an unknown opcode (3-7, 11-15), a control frame (opcode >= 8)
 * with fin = 0 or a length over 125, a 64-bit length with its top bit set,
 * or a length not in its minimal encoding. Errors are reported as soon as the
 * bytes that prove them are present. Does not judge RSV bits or masking. `out`
 * is written only on success. */
ssize_t sb_ws_hdr_parse(const uint8_t *p, size_t n, sb_ws_hdr_t *out);

/* Writes an unmasked (server to client) header for a `len`-byte payload into
 * dst, setting RSV1 when rsv1 (a compressed message's first frame). Returns
 * the header length: 2, 4 or 10. */
size_t sb_ws_hdr_write(uint8_t dst[10], uint8_t opcode, bool fin, bool rsv1, uint64_t len);

/* Same, for a masked (client to server) header with the given key. Returns
 * 6, 8 or 14. The payload must still be masked, with sb_ws_unmask(). */
size_t sb_ws_hdr_write_masked(uint8_t dst[14], uint8_t opcode, bool fin, bool rsv1, uint64_t len,
                              const uint8_t mask[4]);

/* XORs p[0..n) in place with the 4-byte key, starting at key byte `off % 4`
 * (the payload position of p[0]), so a payload that arrives in pieces can be
 * unmasked piece by piece. Masking and unmasking are the same operation. */
void sb_ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t off);

/* Validates a close frame payload p[0..n) (already unmasked). Returns SB_OK
 * with *code = 1005 and an empty reason when n == 0; SB_OK with the code and
 * the reason when the code is 1000-1003, 1007-1014 or 3000-4999 and the
 * reason is valid UTF-8; SB_EPROTO when n == 1, n > 125 or the code is not
 * one a peer may send; SB_EUTF8 when the reason is not valid UTF-8.
 * *reason points into p and is valid as long as p is. */
int sb_ws_close_parse(const uint8_t *p, size_t n, uint16_t *code, sb_str_t *reason);

/* Writes a close payload: the code in network order then the reason. Passing
 * code 0 writes nothing (an empty close payload, which the peer reads as
 * 1005). A reason longer than 123 bytes is cut to 123 bytes or less, at a
 * UTF-8 character boundary, so the payload fits a control frame. Returns the
 * payload length; dst needs 2 + min(reason_n, 123) bytes. */
size_t sb_ws_close_write(uint8_t *dst, uint16_t code, const char *reason, size_t reason_n);

/* True for the codes sb_ws_close_parse() accepts from a peer. */
bool sb_ws_close_code_valid(uint16_t code);

#endif
