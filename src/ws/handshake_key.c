#include "ws/handshake_key.h"

#include <string.h>

#include "core/base64.h"
#include "core/sha1.h"

#define WS_KEY_LEN 24
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

bool sb_ws_key_valid(sb_str_t key) {
    if (key.n != WS_KEY_LEN || key.p[22] != '=' || key.p[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (sb_base64_value(key.p[i], SB_BASE64_STD) < 0)
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
    uint8_t md[SB_SHA1_BYTES];
    sb_sha1(buf, sizeof buf, md);
    out[sb_base64_encode(md, sizeof md, out, SB_BASE64_STD)] = '\0'; /* 28 + NUL */
}
