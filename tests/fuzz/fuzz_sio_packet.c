/* Fuzzes the Socket.IO packet codec. A parsed packet must keep every slice in
 * the input, obey its type's rules, validate as JSON, re-encode (head writer
 * plus data) to text that parses to the same packet, and agree with a
 * reference placeholder scan written here (a small recursive descent over
 * the validated JSON, keys decoded by hand). The placeholder check is also
 * run on the raw input whenever it is valid JSON, for several attachment
 * counts. Input: the data of one Engine.IO message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "socketio/packet.h"
#include "fuzz_util.h"

/* ---- reference placeholder scan ------------------------------------------- */

#define REF_MAX_PH 512

typedef struct {
    const char *p;
    size_t n, i;
    size_t count; /* placeholder objects seen */
    bool bad;     /* one had no usable "num" */
    uint32_t nums[REF_MAX_PH];
} ref_t;

static void ref_ws(ref_t *r) {
    while (r->i < r->n && strchr(" \t\r\n", r->p[r->i]) && r->p[r->i])
        r->i++;
}

static int ref_hex(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Compares a string token (validated) with an ASCII word after decoding it. */
static bool ref_key_is(sb_str_t tok, const char *word) {
    size_t i = 1, k = 0, wn = strlen(word);
    while (i < tok.n - 1) {
        int c = (unsigned char)tok.p[i++];
        if (c == '\\') {
            char e = tok.p[i++];
            if (e == 'u') {
                c = 0;
                for (int d = 0; d < 4; d++)
                    c = c * 16 + ref_hex(tok.p[i++]);
            } else {
                c = e == 'n'   ? '\n'
                    : e == 't' ? '\t'
                    : e == 'r' ? '\r'
                    : e == 'b' ? '\b'
                    : e == 'f' ? '\f'
                               : e;
            }
        }
        if (k == wn || c != (unsigned char)word[k])
            return false;
        k++;
    }
    return k == wn;
}

static sb_str_t ref_scalar(ref_t *r) {
    size_t s = r->i;
    if (r->p[s] == '"') {
        r->i++;
        while (r->p[r->i] != '"')
            r->i += r->p[r->i] == '\\' ? 2 : 1;
        r->i++;
    } else {
        while (r->i < r->n && !strchr(",]} \t\r\n", r->p[r->i]))
            r->i++;
    }
    return sb_str(r->p + s, r->i - s);
}

static bool ref_digits(sb_str_t v, uint32_t *num) {
    if (v.n == 0 || v.n > 9)
        return false;
    uint32_t x = 0;
    for (size_t k = 0; k < v.n; k++) {
        if (v.p[k] < '0' || v.p[k] > '9')
            return false;
        x = x * 10 + (uint32_t)(v.p[k] - '0');
    }
    *num = x;
    return true;
}

/* Parses one value at r->i. Returns its token for scalars, {NULL, 0} for
 * containers (and records placeholder objects). */
static sb_str_t ref_value(ref_t *r) {
    ref_ws(r);
    char c = r->p[r->i];
    if (c != '[' && c != '{')
        return ref_scalar(r);
    r->i++;
    ref_ws(r);
    bool is_ph = false, has_num = false;
    uint32_t num = 0;
    while (r->p[r->i] != (c == '[' ? ']' : '}')) {
        sb_str_t key = {NULL, 0};
        if (c == '{') {
            key = ref_scalar(r);
            ref_ws(r);
            r->i++; /* ':' */
        }
        sb_str_t v = ref_value(r);
        if (key.p && ref_key_is(key, "_placeholder"))
            is_ph = sb_str_eq(v, SB_LIT("true")); /* the last one counts */
        if (key.p && ref_key_is(key, "num"))
            has_num = v.p && ref_digits(v, &num);
        ref_ws(r);
        if (r->p[r->i] == ',') {
            r->i++;
            ref_ws(r);
        }
    }
    r->i++;
    if (is_ph) {
        if (!has_num)
            r->bad = true;
        else if (r->count < REF_MAX_PH)
            r->nums[r->count] = num;
        r->count++;
    }
    return SB_STR_NULL;
}

/* What sb_sio_placeholders_check must answer for validated data. */
static int ref_placeholders(sb_str_t data, uint32_t att) {
    if (att > SB_SIO_ATTACHMENTS_MAX)
        return SB_ETOOBIG;
    if (data.n == 0)
        return att == 0 ? SB_OK : SB_EPROTO;
    ref_t *r = calloc(1, sizeof *r);
    r->p = data.p;
    r->n = data.n;
    ref_value(r);
    int rc = SB_OK;
    if (r->bad || r->count != att)
        rc = SB_EPROTO;
    uint8_t seen[SB_SIO_ATTACHMENTS_MAX] = {0};
    for (size_t k = 0; rc == SB_OK && k < r->count; k++) {
        if (r->nums[k] >= att || seen[r->nums[k]])
            rc = SB_EPROTO;
        else
            seen[r->nums[k]] = 1;
    }
    free(r);
    return rc;
}

/* ---- packets -------------------------------------------------------------- */

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void check_event_name(const sb_sio_packet_t *pk) {
    static const char *const reserved[] = {"connect",       "connect_error", "disconnect",
                                           "disconnecting", "newListener",   "removeListener"};
    sb_str_t first;
    FZ_CHECK(sb_json_array_items(pk->data, &first, 1) != 0);
    FZ_CHECK(sb_str_eq(first, pk->event) && first.p == pk->event.p);
    /* A string, or a number (the reference takes numeric event names). */
    sb_json_type_t t = sb_json_type(pk->event);
    FZ_CHECK((t == SB_JSON_STRING && pk->event.n >= 2 && pk->event.p[0] == '"') ||
             t == SB_JSON_NUMBER);
    for (size_t k = 0; k < 6; k++)
        FZ_CHECK(!ref_key_is(pk->event, reserved[k]));
}

static void check_type_rules(const sb_sio_packet_t *pk) {
    sb_json_type_t t = sb_json_type(pk->data);
    bool has = pk->data.n > 0;
    bool binary = pk->type == SB_SIO_BINARY_EVENT || pk->type == SB_SIO_BINARY_ACK;
    FZ_CHECK(binary ? pk->attachments >= 1 && pk->attachments <= 10 : pk->attachments == 0);
    FZ_CHECK(!pk->has_ack ? pk->ack_id == 0 : pk->ack_id <= SB_SIO_ACK_ID_MAX);
    switch (pk->type) {
    case SB_SIO_CONNECT:
        FZ_CHECK((!has || t == SB_JSON_OBJECT) && !pk->has_ack);
        break;
    case SB_SIO_DISCONNECT:
        FZ_CHECK(!has && !pk->has_ack);
        break;
    case SB_SIO_CONNECT_ERROR:
        FZ_CHECK(has && (t == SB_JSON_OBJECT || t == SB_JSON_STRING) && !pk->has_ack);
        break;
    case SB_SIO_EVENT:
    case SB_SIO_BINARY_EVENT:
        FZ_CHECK(has && t == SB_JSON_ARRAY);
        check_event_name(pk);
        break;
    case SB_SIO_ACK:
    case SB_SIO_BINARY_ACK:
        FZ_CHECK(has && t == SB_JSON_ARRAY && pk->has_ack);
        break;
    default:
        FZ_CHECK(!"unknown type");
    }
    if (pk->type != SB_SIO_EVENT && pk->type != SB_SIO_BINARY_EVENT)
        FZ_CHECK(pk->event.n == 0);
}

static void check_slices(const sb_sio_packet_t *pk, const char *p, size_t n) {
    FZ_CHECK(fz_within(pk->nsp, p, n) || (pk->nsp.n == 1 && pk->nsp.p[0] == '/'));
    FZ_CHECK(pk->nsp.n >= 1 && pk->nsp.n <= 256 && pk->nsp.p[0] == '/');
    for (size_t i = 0; i < pk->nsp.n; i++)
        FZ_CHECK((unsigned char)pk->nsp.p[i] >= 0x20 && pk->nsp.p[i] != 0x7f &&
                 pk->nsp.p[i] != ',');
    FZ_CHECK(fz_within(pk->data, p, n) && fz_within(pk->event, p, n));
    if (pk->event.n)
        FZ_CHECK(fz_within(pk->event, pk->data.p, pk->data.n));
    if (pk->data.n) {
        FZ_CHECK(!is_ws(pk->data.p[0]) && !is_ws(pk->data.p[pk->data.n - 1]));
        for (const char *c = pk->data.p + pk->data.n; c < p + n; c++)
            FZ_CHECK(is_ws(*c)); /* only whitespace was trimmed */
        FZ_CHECK(sb_json_validate(pk->data.p, pk->data.n, 32) == SB_OK);
    }
}

static bool same_packet(const sb_sio_packet_t *a, const sb_sio_packet_t *b) {
    return a->type == b->type && sb_str_eq(a->nsp, b->nsp) && a->has_ack == b->has_ack &&
           a->ack_id == b->ack_id && a->attachments == b->attachments &&
           sb_str_eq(a->data, b->data) && sb_str_eq(a->event, b->event);
}

/* Head writer + data parses back to the same packet; the writer honours cap. */
static void check_reencode(const sb_sio_packet_t *pk) {
    size_t need = sb_sio_packet_write_head(NULL, 0, pk->type, pk->nsp, pk->attachments, pk->has_ack,
                                           pk->ack_id);
    FZ_CHECK(need >= 1 && need <= SB_SIO_HEAD_MAX(pk->nsp.n));
    char *buf = malloc(need + pk->data.n);
    memset(buf, '#', need);
    FZ_CHECK(sb_sio_packet_write_head(buf, need - 1, pk->type, pk->nsp, pk->attachments,
                                      pk->has_ack, pk->ack_id) == need);
    FZ_CHECK(buf[0] == '#');
    FZ_CHECK(sb_sio_packet_write_head(buf, need, pk->type, pk->nsp, pk->attachments, pk->has_ack,
                                      pk->ack_id) == need);
    if (pk->data.n)
        memcpy(buf + need, pk->data.p, pk->data.n);
    sb_sio_packet_t again;
    FZ_CHECK(sb_sio_packet_parse(buf, need + pk->data.n, NULL, &again) == SB_OK);
    FZ_CHECK(same_packet(pk, &again));
    free(buf);
}

static void check_packet(const char *p, size_t n) {
    sb_sio_packet_t pk, pk2;
    int rc = sb_sio_packet_parse(p, n, NULL, &pk);
    FZ_CHECK(rc == SB_OK || rc == SB_EPROTO || rc == SB_ETOOBIG || rc == SB_EDEPTH);
    sb_sio_limits_t def = SB_SIO_LIMITS_DEFAULT;
    FZ_CHECK(sb_sio_packet_parse(p, n, &def, &pk2) == rc);
    if (rc != SB_OK)
        return;
    FZ_CHECK(same_packet(&pk, &pk2));
    FZ_CHECK(pk.type <= SB_SIO_BINARY_ACK && (size_t)(p[0] - '0') == pk.type);
    check_slices(&pk, p, n);
    check_type_rules(&pk);
    check_reencode(&pk);
    /* The placeholder check, consistent with the parse and the reference. */
    bool binary = pk.type == SB_SIO_BINARY_EVENT || pk.type == SB_SIO_BINARY_ACK;
    int ph = sb_sio_placeholders_check(pk.data, pk.attachments);
    FZ_CHECK(ph == ref_placeholders(pk.data, pk.attachments));
    if (binary)
        FZ_CHECK(ph == SB_OK);
    /* Tighter limits only refuse more. */
    sb_sio_limits_t tight = {.max_attachments = 1, .max_depth = 2, .max_nsp_len = 4};
    int rt = sb_sio_packet_parse(p, n, &tight, &pk2);
    FZ_CHECK(rt == SB_OK || rt == SB_ETOOBIG || rt == SB_EDEPTH);
    if (rt == SB_OK)
        FZ_CHECK(same_packet(&pk, &pk2));
}

/* The raw input as packet data: when it is valid JSON, the placeholder check
 * must agree with the reference for any attachment count. */
static void check_placeholders_raw(const char *p, size_t n) {
    if (sb_json_validate(p, n, SB_SIO_PLACEHOLDER_DEPTH_MAX) != SB_OK)
        return;
    /* Trim like the parser does: the reference wants no trailing whitespace. */
    size_t s = 0, e = n;
    while (s < e && is_ws(p[s]))
        s++;
    while (e > s && is_ws(p[e - 1]))
        e--;
    sb_str_t d = sb_str(p + s, e - s);
    ref_t *r = calloc(1, sizeof *r);
    r->p = d.p;
    r->n = d.n;
    if (d.n)
        ref_value(r);
    uint32_t counts[] = {0,
                         1,
                         2,
                         10,
                         (uint32_t)r->count,
                         (uint32_t)r->count + 1,
                         SB_SIO_ATTACHMENTS_MAX,
                         SB_SIO_ATTACHMENTS_MAX + 1};
    free(r);
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++)
        FZ_CHECK(sb_sio_placeholders_check(d, counts[k]) == ref_placeholders(d, counts[k]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *p = (char *)fz_dup(data, size);
    check_packet(p, size);
    check_placeholders_raw(p, size);
    /* The payload of a packet whose first byte is a type: the JSON after it. */
    if (size > 1)
        check_placeholders_raw(p + 1, size - 1);
    free(p);
    return 0;
}
