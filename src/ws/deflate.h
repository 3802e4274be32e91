/* permessage-deflate (RFC 7692): offer negotiation and per-connection
 * compression streams. Unlike the other ws codecs this module allocates: it
 * owns zlib state and output buffers (link with -lz).
 *
 * Window bits 8 for our own compressor: zlib cannot deflate raw streams with
 * an 8-bit window (deflateInit2 rejects -8 and would use 9 for the zlib
 * format). Substituting 9 happens to stay within 256-byte distances in
 * today's zlib, but that is an implementation detail we do not want peers to
 * depend on, so an offer carrying server_max_window_bits=8 is declined and
 * the next offer, if any, is tried. Browsers never send it. A client window
 * of 8 (client_max_window_bits=8) is fine: zlib inflates 8-bit windows. */
#ifndef SB_WS_DEFLATE_H
#define SB_WS_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* Room always enough for a negotiation response value plus its NUL. */
#define SB_WS_DEFLATE_RESPONSE_MAX 160

/* Local policy. Zero-initialised means: windows of 15 bits, keep context both
 * ways, zlib level 6, memLevel 8. */
typedef struct {
    uint8_t server_max_window_bits;  /* 9..15: cap on our compressor's window (0 = 15) */
    uint8_t client_max_window_bits;  /* 8..15: ask for at most this client window when the
                                        client offers client_max_window_bits (0 = 15) */
    bool server_no_context_takeover; /* reset our compressor after every message */
    bool client_no_context_takeover; /* ask the client to reset after every message */
    uint8_t level;                   /* zlib level 1..9 (0 = 6) */
    uint8_t mem_level;               /* zlib memLevel 1..8 (0 = 8); lower saves memory */
} sb_ws_deflate_config_t;

/* The agreed parameters, plus the local tuning copied from the config. */
typedef struct {
    uint8_t server_max_window_bits; /* 9..15: our compressor's window */
    uint8_t client_max_window_bits; /* 8..15: the window the client promised to use */
    bool server_no_context_takeover;
    bool client_no_context_takeover;
    uint8_t level;
    uint8_t mem_level;
} sb_ws_deflate_params_t;

/* Picks the first acceptable permessage-deflate offer in a Sec-WebSocket-
 * Extensions request value (join repeated headers with ","). Offers with an
 * unknown or duplicate parameter, a bad value, or server_max_window_bits=8
 * are skipped; other extensions are ignored. server_cfg may be NULL for the
 * defaults. Returns SB_OK with *out filled and the response value written to
 * response[0..*response_n) and NUL-terminated; SB_ENOTFOUND when no offer is
 * acceptable; SB_ETOOBIG when cap is too small (SB_WS_DEFLATE_RESPONSE_MAX
 * always suffices). The response names only parameters the client offered,
 * plus client_no_context_takeover when the config asks for it. */
int sb_ws_deflate_negotiate(sb_str_t header_value, const sb_ws_deflate_config_t *server_cfg,
                            sb_ws_deflate_params_t *out, char *response, size_t cap,
                            size_t *response_n);

/* Opaque per-connection compression state. */
typedef struct sb_ws_deflate sb_ws_deflate_t;

/* Creates a stream for agreed params. zlib state is allocated lazily, on the
 * first compress and the first inflate, so a connection that never sends
 * compressed data costs only this small struct. Returns NULL when out of
 * memory or when params are out of range. Pair: sb_ws_deflate_destroy. */
sb_ws_deflate_t *sb_ws_deflate_create(const sb_ws_deflate_params_t *params);

/* Frees the stream, its zlib state and its buffers. NULL is allowed. */
void sb_ws_deflate_destroy(sb_ws_deflate_t *d);

/* Compresses one whole message. On SB_OK *out points to the payload to send
 * in a frame with RSV1 set (the trailing 00 00 ff ff already removed). The
 * buffer belongs to d and stays valid until the next compress, trim or
 * destroy on d; inflate does not touch it, so inflate output may be fed
 * straight back in. With context takeover the output MUST be sent: the peer's
 * window has to see every message we compressed (decide whether to compress
 * before calling). Returns SB_ENOMEM or SB_EINVAL (zlib failure); after an
 * error the compressor is reset, which is safe to continue from. */
int sb_ws_deflate_compress(sb_ws_deflate_t *d, const uint8_t *in, size_t n, uint8_t **out,
                           size_t *out_n);

/* Decompresses the payload of one frame of a compressed message; set fin on
 * the message's last frame. Output accumulates over the frames of a message:
 * on SB_OK *out / *out_n cover the whole message decompressed so far (bytes
 * before the previous *out_n are unchanged, so new output starts there; feed
 * it to sb_utf8_feed() to fail a bad text message early), and the next
 * message starts again from 0. *out may be NULL when *out_n is 0. The buffer
 * belongs to d and stays valid until the next inflate, trim or destroy on d.
 * Returns SB_ETOOBIG as soon as the message would exceed max_out bytes (the
 * buffer is grown to at most max_out + 1 bytes; one kept from an earlier
 * message may be up to 64 KiB), SB_EPROTO for corrupt data, a message cut
 * short inside a block, or data after a final block, and SB_ENOMEM. (The
 * inflater always has a 15-bit window, so a peer that refers further back
 * than its agreed window is decoded, consistently.) After
 * an error the message is abandoned and the inflater reset; the caller is
 * expected to fail the connection (1007/1009/1011). A peer that ends a
 * message with a BFINAL block loses its context: later messages that refer
 * back to it fail with SB_EPROTO. */
int sb_ws_inflate(sb_ws_deflate_t *d, const uint8_t *in, size_t n, bool fin, uint8_t **out,
                  size_t *out_n, size_t max_out);

/* Returns memory an idle connection does not need: both output buffers
 * (invalidating earlier *out pointers), and the zlib state of each direction
 * that keeps no context between messages. Call it between messages. */
void sb_ws_deflate_trim(sb_ws_deflate_t *d);

#endif
