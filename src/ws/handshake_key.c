#include "ws/handshake_key.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

#define WS_KEY_LEN 24
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static bool ws_b64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

bool sb_ws_key_valid(sb_str_t key) {
    if (key.n != WS_KEY_LEN || key.p[22] != '=' || key.p[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (!ws_b64_char(key.p[i]))
            return false;
    return true;
}

void sb_ws_accept_key(sb_str_t key, char out[29]) {
    out[0] = '\0';
    if (!sb_ws_key_valid(key))
        return;
    /* Fixed sizes: the key length is checked above, so this cannot overflow. */
    unsigned char buf[WS_KEY_LEN + sizeof WS_GUID - 1];
    memcpy(buf, key.p, WS_KEY_LEN);
    memcpy(buf + WS_KEY_LEN, WS_GUID, sizeof WS_GUID - 1);
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1(buf, sizeof buf, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH); /* writes 28 + NUL */
}
