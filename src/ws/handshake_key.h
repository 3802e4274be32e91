/* Sec-WebSocket-Key checks and the Sec-WebSocket-Accept value (RFC 6455
 * 4.2.1 and 4.2.2). Uses OpenSSL libcrypto (link with -lcrypto). */
#ifndef SB_WS_HANDSHAKE_KEY_H
#define SB_WS_HANDSHAKE_KEY_H

#include <stdbool.h>

#include "core/str.h"

#define SB_WS_ACCEPT_LEN 28 /* base64 of a 20-byte SHA-1 digest */

/* True if `key` is base64 of exactly 16 bytes: 24 characters, 22 from the
 * base64 alphabet followed by "==". The four unused low bits of the 22nd
 * character are not required to be zero (lenient, as decoders are). */
bool sb_ws_key_valid(sb_str_t key);

/* Writes the Sec-WebSocket-Accept value for `key`: base64(SHA-1(key +
 * "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), 28 characters and a NUL. `key`
 * must have passed sb_ws_key_valid(); for any other input out is set to "". */
void sb_ws_accept_key(sb_str_t key, char out[29]);

#endif
