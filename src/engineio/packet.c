/* Engine.IO v4 packet codec. See packet.h for the contracts. */
#include "engineio/packet.h"

#include <string.h>

#include "core/base64.h"
#include "core/err.h"
#include "core/json.h"
#include "core/put.h"

/* ---- Text packets -------------------------------------------------------- */

int sb_eio_packet_parse_text(const char *p, size_t n, sb_eio_packet_t *out) {
    if (SB_UNLIKELY(n == 0 || p[0] < '0' || p[0] > '6'))
        return SB_EPROTO;
    out->type = (uint8_t)(p[0] - '0');
    out->binary = false;
    out->data = sb_str(p + 1, n - 1);
    return SB_OK;
}

/* ---- Payloads ------------------------------------------------------------ */

void sb_eio_payload_iter_init(sb_eio_payload_iter_t *it, const char *p, size_t n) {
    it->_p = p;
    it->_n = n;
    it->_off = 0;
}

static int eio_segment_parse(const char *s, size_t n, sb_eio_packet_t *out, uint8_t *bin,
                             size_t cap) {
    if (n == 0 || s[0] != 'b')
        return sb_eio_packet_parse_text(s, n, out);
    ssize_t m = sb_base64_decode(sb_str(s + 1, n - 1), bin, cap, SB_BASE64_STD);
    if (m < 0)
        return (int)m;
    out->type = SB_EIO_MESSAGE;
    out->binary = true;
    out->data = sb_str((const char *)bin, (size_t)m);
    return SB_OK;
}

int sb_eio_payload_next(sb_eio_payload_iter_t *it, sb_eio_packet_t *out, uint8_t *bin_buf,
                        size_t bin_cap) {
    if (it->_off > it->_n)
        return 0;
    size_t rest = it->_n - it->_off;
    const char *seg = rest ? it->_p + it->_off : "";
    const char *sep = rest ? memchr(seg, SB_EIO_SEPARATOR, rest) : NULL;
    size_t len = sep ? (size_t)(sep - seg) : rest;
    /* A separator at the very end leaves _off == _n: the empty last segment
     * is then reported as an error on the next call. */
    it->_off = sep ? it->_off + len + 1 : it->_n + 1;
    int rc = eio_segment_parse(seg, len, out, bin_buf, bin_cap);
    if (rc < 0) {
        it->_off = it->_n + 1;
        return rc;
    }
    return 1;
}

/* ---- Open packet --------------------------------------------------------- */

static size_t eio_open_emit(char *out, sb_str_t sid, bool ws, unsigned interval, unsigned timeout,
                            size_t max_payload) {
    size_t k = 0;
    SB_PUT_LIT(out, &k, "0{\"sid\":");
    k += sb_json_string_escape(sid, out ? out + k : NULL, out ? SIZE_MAX : 0);
    if (ws)
        SB_PUT_LIT(out, &k, ",\"upgrades\":[\"websocket\"],\"pingInterval\":");
    else
        SB_PUT_LIT(out, &k, ",\"upgrades\":[],\"pingInterval\":");
    sb_put_uint(out, &k, interval);
    SB_PUT_LIT(out, &k, ",\"pingTimeout\":");
    sb_put_uint(out, &k, timeout);
    SB_PUT_LIT(out, &k, ",\"maxPayload\":");
    sb_put_uint(out, &k, max_payload);
    SB_PUT_LIT(out, &k, "}");
    return k;
}

size_t sb_eio_open_packet_write(char *out, size_t cap, sb_str_t sid, bool upgrades_websocket,
                                unsigned ping_interval, unsigned ping_timeout, size_t max_payload) {
    size_t need =
        eio_open_emit(NULL, sid, upgrades_websocket, ping_interval, ping_timeout, max_payload);
    if (need <= cap && out)
        eio_open_emit(out, sid, upgrades_websocket, ping_interval, ping_timeout, max_payload);
    return need;
}
