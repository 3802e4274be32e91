/* Socket.IO v5 packet codec. See packet.h for the contracts and for where we
 * are stricter than the reference parser. */
#include "socketio/packet.h"

#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/put.h"

static bool sio_is_digit(char c) { return c >= '0' && c <= '9'; }

static bool sio_is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static bool sio_is_binary(uint8_t type) {
    return type == SB_SIO_BINARY_EVENT || type == SB_SIO_BINARY_ACK;
}

/* ---- Header fields ------------------------------------------------------- */
/* Each reads one optional field at p[*i] and advances *i past it. */

static int sio_parse_attachments(const char *p, size_t n, size_t *i, const sb_sio_limits_t *lim,
                                 uint32_t *out) {
    size_t j = *i;
    uint64_t v = 0;
    for (; j < n && sio_is_digit(p[j]); j++)
        if (v <= UINT32_MAX) /* saturates: anything above is too many anyway */
            v = v * 10 + (uint64_t)(p[j] - '0');
    if (j == *i || j >= n || p[j] != '-' || v == 0)
        return SB_EPROTO;
    if (v > lim->max_attachments || v > SB_SIO_ATTACHMENTS_MAX)
        return SB_ETOOBIG;
    *out = (uint32_t)v;
    *i = j + 1;
    return SB_OK;
}

static int sio_parse_nsp(const char *p, size_t n, size_t *i, const sb_sio_limits_t *lim,
                         sb_str_t *nsp) {
    size_t s = *i, j = s;
    if (j >= n || p[j] != '/') {
        *nsp = SB_LIT("/");
        return SB_OK;
    }
    for (; j < n && p[j] != ','; j++) {
        if ((uint8_t)p[j] < 0x20 || p[j] == 0x7f)
            return SB_EPROTO;
        if (j - s >= lim->max_nsp_len)
            return SB_ETOOBIG;
    }
    *nsp = sb_str(p + s, j - s);
    *i = j < n ? j + 1 : j;
    return SB_OK;
}

static int sio_parse_ack_id(const char *p, size_t n, size_t *i, sb_sio_packet_t *out) {
    size_t s = *i, j = s;
    uint64_t v = 0;
    for (; j < n && sio_is_digit(p[j]); j++) {
        if (j - s >= 16) /* 16 digits hold SB_SIO_ACK_ID_MAX; more cannot fit */
            return SB_EPROTO;
        v = v * 10 + (uint64_t)(p[j] - '0');
    }
    if (j == s)
        return SB_OK;
    if (v > SB_SIO_ACK_ID_MAX)
        return SB_EPROTO;
    out->has_ack = true;
    out->ack_id = v;
    *i = j;
    return SB_OK;
}

static int sio_parse_data(const char *p, size_t n, size_t i, const sb_sio_limits_t *lim,
                          sb_sio_packet_t *out) {
    if (i == n)
        return SB_OK;
    /* JSON.parse would skip it, but the reference reads a leading space as
     * ack id 0; refusing it keeps both sides agreeing on the packet. */
    if (sio_is_ws(p[i]))
        return SB_EPROTO;
    size_t e = n;
    while (e > i && sio_is_ws(p[e - 1]))
        e--;
    int rc = sb_json_validate(p + i, e - i, lim->max_depth);
    if (rc < 0)
        return rc;
    out->data = sb_str(p + i, e - i);
    return SB_OK;
}

/* ---- Payload rules ------------------------------------------------------- */

/* Names the reference server refuses as incoming events, since they collide
 * with its own lifecycle and EventEmitter events. */
static bool sio_event_is_reserved(sb_str_t token) {
    static const char *const reserved[] = {"connect",       "connect_error", "disconnect",
                                           "disconnecting", "newListener",   "removeListener"};
    for (size_t k = 0; k < sizeof reserved / sizeof reserved[0]; k++)
        if (sb_json_string_eq(token, sb_cstr(reserved[k])))
            return true;
    return false;
}

static int sio_check_event(sb_sio_packet_t *out) {
    sb_str_t first;
    int rc = sb_json_array_items(out->data, &first, 1);
    if (rc == 0 || (rc < 0 && rc != SB_ETOOBIG))
        return SB_EPROTO;
    /* A number is a valid event name too (the reference's parser takes it). */
    sb_json_type_t t = sb_json_type(first);
    if ((t != SB_JSON_STRING && t != SB_JSON_NUMBER) || sio_event_is_reserved(first))
        return SB_EPROTO;
    out->event = first;
    return SB_OK;
}

static int sio_check_payload(sb_sio_packet_t *out) {
    bool has = out->data.n > 0;
    sb_json_type_t t = sb_json_type(out->data);
    switch (out->type) {
    case SB_SIO_CONNECT:
        return (!has || t == SB_JSON_OBJECT) && !out->has_ack ? SB_OK : SB_EPROTO;
    case SB_SIO_DISCONNECT:
        return !has && !out->has_ack ? SB_OK : SB_EPROTO;
    case SB_SIO_CONNECT_ERROR:
        return has && (t == SB_JSON_OBJECT || t == SB_JSON_STRING) && !out->has_ack ? SB_OK
                                                                                    : SB_EPROTO;
    case SB_SIO_EVENT:
    case SB_SIO_BINARY_EVENT:
        return has && t == SB_JSON_ARRAY ? sio_check_event(out) : SB_EPROTO;
    default: /* SB_SIO_ACK, SB_SIO_BINARY_ACK */
        return has && t == SB_JSON_ARRAY && out->has_ack ? SB_OK : SB_EPROTO;
    }
}

/* ---- Parser -------------------------------------------------------------- */

static int sio_parse_head(const char *p, size_t n, size_t *i, const sb_sio_limits_t *lim,
                          sb_sio_packet_t *out) {
    if (SB_UNLIKELY(n == 0 || p[0] < '0' || p[0] > '6'))
        return SB_EPROTO;
    out->type = (uint8_t)(p[0] - '0');
    *i = 1;
    int rc = SB_OK;
    if (sio_is_binary(out->type))
        rc = sio_parse_attachments(p, n, i, lim, &out->attachments);
    if (rc == SB_OK)
        rc = sio_parse_nsp(p, n, i, lim, &out->nsp);
    if (rc == SB_OK)
        rc = sio_parse_ack_id(p, n, i, out);
    return rc;
}

int sb_sio_packet_parse(const char *p, size_t n, const sb_sio_limits_t *lim, sb_sio_packet_t *out) {
    const sb_sio_limits_t def = SB_SIO_LIMITS_DEFAULT;
    if (!lim)
        lim = &def;
    *out = (sb_sio_packet_t){0};
    size_t i = 0;
    int rc = sio_parse_head(p, n, &i, lim, out);
    if (rc == SB_OK)
        rc = sio_parse_data(p, n, i, lim, out);
    if (rc == SB_OK)
        rc = sio_check_payload(out);
    if (rc == SB_OK && sio_is_binary(out->type))
        rc = sb_sio_placeholders_check(out->data, out->attachments);
    return rc;
}

/* ---- Placeholders -------------------------------------------------------- */

enum { SIO_KEY_OTHER, SIO_KEY_PLACEHOLDER, SIO_KEY_NUM };

/* State of one open container while walking the data. */
typedef struct {
    bool is_obj, expect_key, placeholder, has_num;
    uint8_t pending; /* SIO_KEY_* of the member whose value comes next */
    uint32_t num;
} sio_ph_frame_t;

typedef struct {
    sio_ph_frame_t frames[SB_SIO_PLACEHOLDER_DEPTH_MAX];
    int depth;
    uint32_t attachments, claimed;
    uint8_t seen[SB_SIO_ATTACHMENTS_MAX / 8];
} sio_ph_walk_t;

/* A placeholder index is a plain non-negative integer: digits only. */
static bool sio_ph_num(sb_str_t v, uint32_t *num) {
    if (v.n == 0 || v.n > 9)
        return false;
    uint32_t x = 0;
    for (size_t k = 0; k < v.n; k++) {
        if (!sio_is_digit(v.p[k]))
            return false;
        x = x * 10 + (uint32_t)(v.p[k] - '0');
    }
    *num = x;
    return true;
}

/* Records a member value of the innermost object; `v` is empty for a
 * container value. Later duplicates overwrite, as in JSON.parse. */
static void sio_ph_value(sio_ph_walk_t *w, sb_str_t v) {
    if (w->depth == 0)
        return;
    sio_ph_frame_t *f = &w->frames[w->depth - 1];
    if (!f->is_obj)
        return;
    if (f->pending == SIO_KEY_PLACEHOLDER)
        f->placeholder = v.n > 0 && sb_json_type(v) == SB_JSON_TRUE;
    else if (f->pending == SIO_KEY_NUM)
        f->has_num = sio_ph_num(v, &f->num);
    f->pending = SIO_KEY_OTHER;
}

static int sio_ph_open(sio_ph_walk_t *w, bool is_obj) {
    sio_ph_value(w, SB_STR_NULL);
    if (w->depth >= SB_SIO_PLACEHOLDER_DEPTH_MAX)
        return SB_EDEPTH;
    w->frames[w->depth++] = (sio_ph_frame_t){.is_obj = is_obj, .expect_key = is_obj};
    return SB_OK;
}

static int sio_ph_close(sio_ph_walk_t *w) {
    if (w->depth == 0)
        return SB_EPROTO;
    sio_ph_frame_t *f = &w->frames[--w->depth];
    if (!f->is_obj || !f->placeholder)
        return SB_OK;
    if (!f->has_num || f->num >= w->attachments)
        return SB_EPROTO;
    uint8_t bit = (uint8_t)(1u << (f->num & 7));
    if (w->seen[f->num >> 3] & bit)
        return SB_EPROTO;
    w->seen[f->num >> 3] |= bit;
    w->claimed++;
    return SB_OK;
}

static void sio_ph_scalar(sio_ph_walk_t *w, sb_str_t v) {
    sio_ph_frame_t *f = w->depth ? &w->frames[w->depth - 1] : NULL;
    if (!f || !f->is_obj || !f->expect_key) {
        sio_ph_value(w, v);
        return;
    }
    f->expect_key = false;
    f->pending = sb_json_string_eq(v, SB_LIT("_placeholder")) ? SIO_KEY_PLACEHOLDER
                 : sb_json_string_eq(v, SB_LIT("num"))        ? SIO_KEY_NUM
                                                              : SIO_KEY_OTHER;
}

static int sio_ph_token(sio_ph_walk_t *w, const sb_json_token_t *t) {
    switch (t->kind) {
    case '{':
    case '[':
        return sio_ph_open(w, t->kind == '{');
    case '}':
    case ']':
        return sio_ph_close(w);
    case ',':
        if (w->depth && w->frames[w->depth - 1].is_obj)
            w->frames[w->depth - 1].expect_key = true;
        return SB_OK;
    case ':':
        return SB_OK;
    default:
        sio_ph_scalar(w, t->text);
        return SB_OK;
    }
}

int sb_sio_placeholders_check(sb_str_t data, uint32_t attachments) {
    if (attachments > SB_SIO_ATTACHMENTS_MAX)
        return SB_ETOOBIG;
    sio_ph_walk_t w;
    memset(&w, 0, sizeof w);
    w.attachments = attachments;
    sb_json_lexer_t lx;
    sb_json_token_t t;
    sb_json_lexer_init(&lx, data);
    while (sb_json_lexer_next(&lx, &t)) {
        int rc = sio_ph_token(&w, &t);
        if (rc < 0)
            return rc;
    }
    return w.claimed == attachments ? SB_OK : SB_EPROTO;
}

/* ---- Encoder ------------------------------------------------------------- */

static size_t sio_head_emit(char *out, uint8_t type, sb_str_t nsp, uint32_t attachments,
                            bool has_ack, uint64_t ack_id) {
    size_t k = 0;
    char t = (char)('0' + type % 10);
    sb_put(out, &k, &t, 1);
    if (sio_is_binary(type)) {
        sb_put_uint(out, &k, attachments);
        sb_put(out, &k, "-", 1);
    }
    if (nsp.n > 0 && !sb_str_eq(nsp, SB_LIT("/"))) {
        sb_put(out, &k, nsp.p, nsp.n);
        sb_put(out, &k, ",", 1);
    }
    if (has_ack)
        sb_put_uint(out, &k, ack_id);
    return k;
}

size_t sb_sio_packet_write_head(char *out, size_t cap, uint8_t type, sb_str_t nsp,
                                uint32_t attachments, bool has_ack, uint64_t ack_id) {
    size_t need = sio_head_emit(NULL, type, nsp, attachments, has_ack, ack_id);
    if (need <= cap && out)
        sio_head_emit(out, type, nsp, attachments, has_ack, ack_id);
    return need;
}
