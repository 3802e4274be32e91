/* The Redis adapter's wire format: see wire.h. Decoding goes through a bounds
 * check first (sb_wire_check), so msgpack-c never reserves room for elements
 * a message only claims to have. */
#include "cluster/wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

/* ---- bounds check ----------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
} cursor_t;

static uint64_t be(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Reads one value's head: how many bytes of payload follow it directly and
 * how many nested values (elements, or keys plus values). */
static int head(cursor_t *c, uint64_t *skip, uint64_t *children) {
    if (c->p >= c->end)
        return SB_EPROTO;
    uint8_t t = *c->p++;
    size_t left = (size_t)(c->end - c->p);
    int lenw = 0;
    *skip = 0;
    *children = 0;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
        return SB_OK;
    if ((t & 0xe0) == 0xa0) {
        *skip = t & 0x1f;
        return SB_OK;
    }
    if ((t & 0xf0) == 0x90 || (t & 0xf0) == 0x80) {
        *children = (uint64_t)(t & 0x0f) * ((t & 0xf0) == 0x80 ? 2 : 1);
        return SB_OK;
    }
    switch (t) {
    case 0xcc:
    case 0xd0:
        *skip = 1;
        return SB_OK;
    case 0xcd:
    case 0xd1:
        *skip = 2;
        return SB_OK;
    case 0xca:
    case 0xce:
    case 0xd2:
        *skip = 4;
        return SB_OK;
    case 0xcb:
    case 0xcf:
    case 0xd3:
        *skip = 8;
        return SB_OK;
    case 0xd4:
        *skip = 2;
        return SB_OK; /* fixext: type byte + data */
    case 0xd5:
        *skip = 3;
        return SB_OK;
    case 0xd6:
        *skip = 5;
        return SB_OK;
    case 0xd7:
        *skip = 9;
        return SB_OK;
    case 0xd8:
        *skip = 17;
        return SB_OK;
    case 0xc4:
    case 0xd9:
    case 0xc7:
        lenw = 1;
        break;
    case 0xc5:
    case 0xda:
    case 0xc8:
    case 0xdc:
    case 0xde:
        lenw = 2;
        break;
    case 0xc6:
    case 0xdb:
    case 0xc9:
    case 0xdd:
    case 0xdf:
        lenw = 4;
        break;
    default:
        return SB_EPROTO; /* 0xc1: never used */
    }
    if (left < (size_t)lenw)
        return SB_EPROTO;
    uint64_t len = be(c->p, lenw);
    c->p += lenw;
    if (t == 0xdc || t == 0xdd)
        *children = len;
    else if (t == 0xde || t == 0xdf)
        *children = len * 2;
    else
        *skip = len + (t >= 0xc7 && t <= 0xc9); /* ext: its type byte */
    return SB_OK;
}

int sb_wire_check(const void *p, size_t n) {
    cursor_t c = {p, (const uint8_t *)p + n};
    uint64_t pending[SB_WIRE_MAX_DEPTH + 1]; /* values still to read at each level */
    int depth = 0;
    pending[0] = 1;
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        uint64_t skip, children;
        if (head(&c, &skip, &children) != SB_OK)
            return SB_EPROTO;
        size_t left = (size_t)(c.end - c.p);
        if (skip > left || children > left)
            return SB_EPROTO; /* every nested value takes at least one byte */
        c.p += skip;
        if (children) {
            if (depth == SB_WIRE_MAX_DEPTH)
                return SB_EDEPTH;
            pending[++depth] = children;
        }
    }
    return c.p == c.end ? SB_OK : SB_EPROTO;
}

/* ---- JSON <-> msgpack -------------------------------------------------------- */

static json_t *placeholder(size_t num) {
    return json_pack("{s:b,s:I}", "_placeholder", 1, "num", (json_int_t)num);
}

static json_t *add_attachment(const char *ptr, size_t n, sb_str_t *atts, size_t *natts, size_t cap,
                              int *err) {
    if (*natts >= cap) {
        *err = SB_ETOOBIG;
        return NULL;
    }
    atts[*natts] = sb_str(ptr, n);
    return placeholder((*natts)++);
}

/* Timestamp extension (-1), as notepack writes a Date: an ISO-8601 string,
 * which is what JSON.stringify makes of a Date. */
static json_t *timestamp_json(const msgpack_object_ext *e) {
    int64_t sec;
    uint32_t nsec = 0;
    const uint8_t *d = (const uint8_t *)e->ptr;
    if (e->size == 4) {
        sec = (int64_t)be(d, 4);
    } else if (e->size == 8) {
        uint64_t v = be(d, 8);
        nsec = (uint32_t)(v >> 34);
        sec = (int64_t)(v & 0x3ffffffffULL);
    } else if (e->size == 12) {
        nsec = (uint32_t)be(d, 4);
        sec = (int64_t)be(d + 4, 8);
    } else {
        return json_null();
    }
    time_t t = (time_t)sec;
    struct tm tm;
    char buf[64];
    if (!gmtime_r(&t, &tm) || tm.tm_year > 9999 - 1900 || tm.tm_year < -1900)
        return json_null();
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec / 1000000u);
    return json_string(buf);
}

static json_t *ext_json(const msgpack_object_ext *e, sb_str_t *atts, size_t *natts, size_t cap,
                        int *err) {
    if (e->type == -1)
        return timestamp_json(e);
    if (e->type == 0 && !(e->size == 1 && e->ptr[0] == 0)) /* notepack 2.x ArrayBuffer */
        return add_attachment(e->ptr, e->size, atts, natts, cap, err);
    return json_null(); /* notepack 2.x undefined (d4 00 00), unknown extensions */
}

static json_t *real_json(double d) {
    if (!isfinite(d))
        return json_null();
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

static json_t *map_json(const msgpack_object_map *m, sb_str_t *atts, size_t *natts, size_t cap,
                        int *err) {
    json_t *obj = json_object();
    for (uint32_t i = 0; obj && i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        char key[64];
        const char *kp = key;
        size_t kn;
        if (k->type == MSGPACK_OBJECT_STR) {
            kp = k->via.str.ptr, kn = k->via.str.size;
            if (memchr(kp, 0, kn)) { /* jansson cannot read such a key back */
                *err = SB_EPROTO;
                json_decref(obj);
                return NULL;
            }
        } else if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            kn = (size_t)snprintf(key, sizeof key, "%llu", (unsigned long long)k->via.u64);
        } else if (k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
            kn = (size_t)snprintf(key, sizeof key, "%lld", (long long)k->via.i64);
        } else {
            continue; /* JSON has no such key; JavaScript would have stringified it */
        }
        json_t *v = sb_wire_to_json(&m->ptr[i].val, atts, natts, cap, err);
        if (!v || json_object_setn_new(obj, kp, kn, v) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *sb_wire_to_json(const msgpack_object *o, sb_str_t *atts, size_t *natts, size_t cap,
                        int *err) {
    json_t *v = NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 > (uint64_t)INT64_MAX ? json_real((double)o->via.u64)
                                                : json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return real_json(o->via.f64);
    case MSGPACK_OBJECT_STR:
        v = json_stringn(o->via.str.ptr, o->via.str.size);
        if (!v)
            *err = SB_EUTF8; /* JSON carries text only */
        return v;
    case MSGPACK_OBJECT_BIN:
        return add_attachment(o->via.bin.ptr, o->via.bin.size, atts, natts, cap, err);
    case MSGPACK_OBJECT_EXT:
        return ext_json(&o->via.ext, atts, natts, cap, err);
    case MSGPACK_OBJECT_ARRAY:
        v = json_array();
        for (uint32_t i = 0; v && i < o->via.array.size; i++) {
            json_t *e = sb_wire_to_json(&o->via.array.ptr[i], atts, natts, cap, err);
            if (!e || json_array_append_new(v, e) != 0) {
                json_decref(v);
                return NULL;
            }
        }
        return v;
    case MSGPACK_OBJECT_MAP:
        return map_json(&o->via.map, atts, natts, cap, err);
    }
    return v;
}

/* {"_placeholder":true,"num":i} with i < n: the attachment's index, else -1. */
static long placeholder_num(const json_t *v, size_t n) {
    if (!json_is_object(v) || json_object_size(v) != 2 ||
        !json_is_true(json_object_get(v, "_placeholder")))
        return -1;
    json_t *num = json_object_get(v, "num");
    if (!json_is_integer(num) || json_integer_value(num) < 0 ||
        (size_t)json_integer_value(num) >= n)
        return -1;
    return (long)json_integer_value(num);
}

static int pack_str(msgpack_packer *pk, const char *p, size_t n) {
    if (n > UINT32_MAX)
        return SB_ETOOBIG;
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, p, n) ? SB_ENOMEM : SB_OK;
}

static int pack_object(msgpack_packer *pk, const json_t *v, const sb_str_t *atts, size_t n) {
    if (msgpack_pack_map(pk, (uint32_t)json_object_size(v)))
        return SB_ENOMEM;
    const char *k;
    size_t kn;
    json_t *e;
    json_object_keylen_foreach((json_t *)v, k, kn, e) {
        int rc = pack_str(pk, k, kn);
        if (rc == SB_OK)
            rc = sb_wire_pack_json(pk, e, atts, n);
        if (rc != SB_OK)
            return rc;
    }
    return SB_OK;
}

int sb_wire_pack_json(msgpack_packer *pk, const json_t *v, const sb_str_t *atts, size_t n) {
    int rc = 0;
    switch (json_typeof(v)) {
    case JSON_NULL:
        rc = msgpack_pack_nil(pk);
        break;
    case JSON_TRUE:
        rc = msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        rc = msgpack_pack_false(pk);
        break;
    case JSON_INTEGER:
        rc = msgpack_pack_int64(pk, json_integer_value(v));
        break;
    case JSON_REAL:
        rc = msgpack_pack_double(pk, json_real_value(v));
        break;
    case JSON_STRING:
        return pack_str(pk, json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        if (msgpack_pack_array(pk, (uint32_t)json_array_size(v)))
            return SB_ENOMEM;
        for (size_t i = 0; i < json_array_size(v); i++)
            if ((rc = sb_wire_pack_json(pk, json_array_get(v, i), atts, n)) != SB_OK)
                return rc;
        return SB_OK;
    }
    case JSON_OBJECT: {
        long num = placeholder_num(v, n);
        if (num < 0)
            return pack_object(pk, v, atts, n);
        rc = msgpack_pack_bin(pk, atts[num].n) ||
             msgpack_pack_bin_body(pk, atts[num].p, atts[num].n);
        break;
    }
    }
    return rc ? SB_ENOMEM : SB_OK;
}

json_t *sb_wire_parse_args(sb_str_t args) {
    size_t n = args.n + 2;
    char *text = malloc(n);
    if (!text)
        return NULL;
    text[0] = '[';
    if (args.n)
        memcpy(text + 1, args.p, args.n);
    text[n - 1] = ']';
    json_t *arr = json_loadb(text, n, JSON_ALLOW_NUL, NULL);
    if (!arr) /* an integer past 64 bits: JavaScript holds it as a double */
        arr = json_loadb(text, n, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
    free(text);
    if (arr && !json_is_array(arr)) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

int sb_wire_dump_args(const json_t *arr, size_t from, char **out, size_t *n) {
    size_t cap = 64, len = 0;
    char *buf = malloc(cap);
    for (size_t i = from; buf && i < json_array_size(arr); i++) {
        char *one = json_dumps(json_array_get(arr, i), JSON_COMPACT | JSON_ENCODE_ANY);
        size_t on = one ? strlen(one) : 0;
        if (one && len + on + 2 > cap) {
            cap = (len + on + 2) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                buf = NULL;
            } else {
                buf = nb;
            }
        }
        if (!one || !buf) {
            free(one);
            free(buf);
            return SB_ENOMEM;
        }
        if (len)
            buf[len++] = ',';
        memcpy(buf + len, one, on);
        len += on;
        free(one);
    }
    if (!buf)
        return SB_ENOMEM;
    buf[len] = '\0';
    *out = buf;
    *n = len;
    return SB_OK;
}

/* ---- broadcast message ------------------------------------------------------- */

static int pack_key(msgpack_packer *pk, const char *k) { return pack_str(pk, k, strlen(k)); }

static int pack_strs(msgpack_packer *pk, const sb_str_t *v, size_t n) {
    if (msgpack_pack_array(pk, (uint32_t)n))
        return SB_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (pack_str(pk, v[i].p, v[i].n) != SB_OK)
            return SB_ENOMEM;
    return SB_OK;
}

static int pack_packet(msgpack_packer *pk, const sb_engine_broadcast_t *b) {
    json_t *args = sb_wire_parse_args(b->args);
    if (!args)
        return SB_EPROTO;
    int rc = msgpack_pack_map(pk, 3) || pack_key(pk, "type") || msgpack_pack_int(pk, 2) ||
                     pack_key(pk, "data") ||
                     msgpack_pack_array(pk, (uint32_t)(1 + json_array_size(args))) ||
                     pack_str(pk, b->event.p, b->event.n)
                 ? SB_ENOMEM
                 : SB_OK;
    for (size_t i = 0; rc == SB_OK && i < json_array_size(args); i++)
        rc = sb_wire_pack_json(pk, json_array_get(args, i), b->attachments, b->nattachments);
    json_decref(args);
    if (rc == SB_OK && (pack_key(pk, "nsp") || pack_str(pk, b->nsp.p, b->nsp.n)))
        rc = SB_ENOMEM;
    return rc;
}

static int pack_opts(msgpack_packer *pk, const sb_engine_broadcast_t *b) {
    size_t nflags = (size_t)b->is_volatile + (size_t)b->compress;
    /* In the emitter's key order, so equal messages are equal bytes. */
    if (msgpack_pack_map(pk, 3) || pack_key(pk, "rooms") ||
        pack_strs(pk, b->to.rooms, b->to.nrooms) || pack_key(pk, "flags") ||
        msgpack_pack_map(pk, (uint32_t)nflags))
        return SB_ENOMEM;
    if (b->is_volatile && (pack_key(pk, "volatile") || msgpack_pack_true(pk)))
        return SB_ENOMEM;
    if (b->compress && (pack_key(pk, "compress") || msgpack_pack_true(pk)))
        return SB_ENOMEM;
    return pack_key(pk, "except") || pack_strs(pk, b->to.except, b->to.nexcept) ? SB_ENOMEM : SB_OK;
}

int sb_wire_encode_broadcast(msgpack_sbuffer *out, sb_str_t uid, const sb_engine_broadcast_t *b) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    if (msgpack_pack_array(&pk, 3) || pack_str(&pk, uid.p, uid.n) != SB_OK)
        return SB_ENOMEM;
    int rc = pack_packet(&pk, b);
    return rc == SB_OK ? pack_opts(&pk, b) : rc;
}

/* ---- decoding ---------------------------------------------------------------- */

static const msgpack_object *map_get(const msgpack_object *map, const char *key) {
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t kn = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kn &&
            memcmp(k->via.str.ptr, key, kn) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static bool as_str(const msgpack_object *o, sb_str_t *out) {
    if (!o || o->type != MSGPACK_OBJECT_STR)
        return false;
    *out = sb_str(o->via.str.ptr, o->via.str.size);
    return true;
}

static bool is_true(const msgpack_object *o) {
    return o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

/* A list of room names; absent or nil is empty. Socket.IO sends arrays (a
 * Set becomes an array on the way). */
static int room_list(const msgpack_object *o, sb_str_t *out, size_t *n) {
    *n = 0;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return SB_OK;
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return SB_EPROTO;
    if (o->via.array.size > SB_WIRE_MAX_ROOMS)
        return SB_ETOOBIG;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        if (e->type == MSGPACK_OBJECT_STR)
            out[(*n)++] = sb_str(e->via.str.ptr, e->via.str.size);
        else if (e->type != MSGPACK_OBJECT_NIL)
            return SB_EPROTO; /* a number room name does not exist in Socket.IO */
    }
    return SB_OK;
}

static int decode_opts(const msgpack_object *opts, sb_wire_msg_t *m) {
    if (opts && opts->type != MSGPACK_OBJECT_MAP && opts->type != MSGPACK_OBJECT_NIL)
        return SB_EPROTO;
    int rc = room_list(map_get(opts, "rooms"), m->rooms, &m->nrooms);
    if (rc == SB_OK)
        rc = room_list(map_get(opts, "except"), m->except, &m->nexcept);
    const msgpack_object *flags = map_get(opts, "flags");
    m->is_volatile = is_true(map_get(flags, "volatile"));
    m->compress = is_true(map_get(flags, "compress"));
    return rc;
}

static int decode_packet(const msgpack_object *pkt, sb_wire_msg_t *m) {
    const msgpack_object *type = map_get(pkt, "type"), *data = map_get(pkt, "data");
    if (!type || type->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        (type->via.u64 != 2 && type->via.u64 != 5))
        return SB_EPROTO; /* EVENT or BINARY_EVENT */
    if (!data || data->type != MSGPACK_OBJECT_ARRAY || data->via.array.size < 1 ||
        !as_str(&data->via.array.ptr[0], &m->event))
        return SB_EPROTO;
    if (data->via.array.size - 1 > SB_WIRE_MAX_ARGS)
        return SB_ETOOBIG;
    if (!as_str(map_get(pkt, "nsp"), &m->nsp))
        m->nsp = SB_LIT("/");
    int err = SB_ENOMEM;
    json_t *args = json_array();
    for (uint32_t i = 1; args && i < data->via.array.size; i++) {
        json_t *v = sb_wire_to_json(&data->via.array.ptr[i], m->atts, &m->natts,
                                    SB_WIRE_MAX_ATTACHMENTS, &err);
        if (!v || json_array_append_new(args, v) != 0) {
            json_decref(args);
            return err;
        }
    }
    int rc = args ? sb_wire_dump_args(args, 0, &m->args, &m->args_n) : SB_ENOMEM;
    json_decref(args);
    m->has_packet = rc == SB_OK;
    return rc;
}

static int unpack(const void *p, size_t n, sb_wire_msg_t *m) {
    memset(m, 0, sizeof *m);
    msgpack_unpacked_init(&m->msg);
    int rc = sb_wire_check(p, n);
    if (rc != SB_OK)
        return rc;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(&m->msg, p, n, &off);
    if (r == MSGPACK_UNPACK_NOMEM_ERROR)
        return SB_ENOMEM;
    return r == MSGPACK_UNPACK_SUCCESS && off == n ? SB_OK : SB_EPROTO;
}

int sb_wire_decode_broadcast(const void *p, size_t n, sb_wire_msg_t *m) {
    int rc = unpack(p, n, m);
    if (rc != SB_OK)
        return rc;
    const msgpack_object *root = &m->msg.data;
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size < 2)
        return SB_EPROTO;
    const msgpack_object *v = root->via.array.ptr;
    if (!as_str(&v[0], &m->uid))
        return SB_EPROTO;
    rc = decode_packet(&v[1], m);
    return rc == SB_OK ? decode_opts(root->via.array.size > 2 ? &v[2] : NULL, m) : rc;
}

void sb_wire_msg_dispose(sb_wire_msg_t *m) {
    msgpack_unpacked_destroy(&m->msg);
    free(m->args);
    m->args = NULL;
}

/* ---- channels ---------------------------------------------------------------- */

static size_t fmt(char *out, size_t cap, int n) { return n > 0 && (size_t)n < cap ? (size_t)n : 0; }

size_t sb_wire_channel(char *out, size_t cap, sb_str_t key, sb_str_t nsp, const sb_str_t *room) {
    if (room)
        return fmt(out, cap,
                   snprintf(out, cap, "%.*s#%.*s#%.*s#", (int)key.n, key.p, (int)nsp.n, nsp.p,
                            (int)room->n, room->p));
    return fmt(out, cap, snprintf(out, cap, "%.*s#%.*s#", (int)key.n, key.p, (int)nsp.n, nsp.p));
}

size_t sb_wire_request_channel(char *out, size_t cap, sb_str_t key, sb_str_t nsp) {
    return fmt(out, cap,
               snprintf(out, cap, "%.*s-request#%.*s#", (int)key.n, key.p, (int)nsp.n, nsp.p));
}

size_t sb_wire_response_channel(char *out, size_t cap, sb_str_t key, sb_str_t nsp,
                                const sb_str_t *uid) {
    if (uid)
        return fmt(out, cap,
                   snprintf(out, cap, "%.*s-response#%.*s#%.*s#", (int)key.n, key.p, (int)nsp.n,
                            nsp.p, (int)uid->n, uid->p));
    return fmt(out, cap,
               snprintf(out, cap, "%.*s-response#%.*s#", (int)key.n, key.p, (int)nsp.n, nsp.p));
}

bool sb_wire_parse_channel(sb_str_t channel, sb_str_t key, sb_str_t nsp, sb_str_t *room) {
    size_t pre = key.n + 1 + nsp.n + 1;
    if (channel.n < pre || memcmp(channel.p, key.p, key.n) != 0 || channel.p[key.n] != '#' ||
        memcmp(channel.p + key.n + 1, nsp.p, nsp.n) != 0 || channel.p[pre - 1] != '#')
        return false;
    *room = sb_str(channel.p + pre, channel.n - pre);
    if (room->n == 0)
        return true;
    if (room->p[room->n - 1] != '#')
        return false;
    room->n--;
    return true;
}
