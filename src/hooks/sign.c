/* The request signature: HMAC-SHA256 of the exact body bytes. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "core/hex.h"
#include "hooks/hooks.h"

void sb_hooks_sign(const char *secret, sb_str_t body, char out[SB_HOOKS_SIGNATURE_MAX]) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body.p, body.n, mac,
              &n) ||
        n != 32) {
        out[0] = '\0';
        return;
    }
    memcpy(out, "sha256=", 7);
    sb_hex_encode(mac, n, out + 7);
}
