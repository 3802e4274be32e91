/* The request signature: HMAC-SHA256 of the exact body bytes. */
#include <string.h>

#include "core/hex.h"
#include "core/sha256.h"
#include "hooks/hooks.h"

void sb_hooks_sign(const char *secret, sb_str_t body, char out[SB_HOOKS_SIGNATURE_MAX]) {
    uint8_t mac[SB_SHA256_BYTES];
    sb_hmac_sha256(secret, strlen(secret), body.p, body.n, mac);
    memcpy(out, "sha256=", 7);
    sb_hex_encode(mac, sizeof mac, out + 7);
}
