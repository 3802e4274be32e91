#include "ws/deflate.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/err.h"

/* ======================================================================== */
/* Offer parsing (RFC 6455 9.1 grammar, RFC 7692 7.1 parameters)           */
/* ======================================================================== */

#define PMD_VALUE_MAX 8 /* longer unescaped values cannot be legal */

typedef struct {
    const char *p, *end;
} ext_cur_t;

typedef struct {
    bool snct, cnct;   /* server_/client_no_context_takeover present */
    uint8_t smwb;      /* server_max_window_bits: 0 absent, else 8..15 */
    bool cmwb_present; /* client_max_window_bits present ... */
    uint8_t cmwb;      /* ... with this value, 0 when given without one */
} pmd_offer_t;

typedef struct {
    sb_str_t name;
    bool has_value;
    char value[PMD_VALUE_MAX];
    size_t value_n; /* > PMD_VALUE_MAX when the value did not fit */
} ext_param_t;

static bool ext_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void ext_skip_ows(ext_cur_t *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static bool ext_token(ext_cur_t *c, sb_str_t *tok) {
    const char *s = c->p;
    while (c->p < c->end && ext_tchar(*c->p))
        c->p++;
    *tok = sb_str(s, (size_t)(c->p - s));
    return tok->n > 0;
}

static void ext_value_put(ext_param_t *pm, char ch) {
    if (pm->value_n < PMD_VALUE_MAX)
        pm->value[pm->value_n] = ch;
    if (pm->value_n <= PMD_VALUE_MAX)
        pm->value_n++;
}

/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE; stores the
 * unescaped text, since RFC 6455 compares the value after unescaping. */
static bool ext_quoted(ext_cur_t *c, ext_param_t *pm) {
    c->p++; /* opening quote */
    while (c->p < c->end) {
        char ch = *c->p++;
        if (ch == '"')
            return true;
        if (ch == '\\') {
            if (c->p == c->end)
                return false;
            ch = *c->p++;
        }
        ext_value_put(pm, ch);
    }
    return false;
}

static bool ext_value(ext_cur_t *c, ext_param_t *pm) {
    pm->has_value = true;
    pm->value_n = 0;
    if (c->p < c->end && *c->p == '"')
        return ext_quoted(c, pm);
    sb_str_t tok;
    if (!ext_token(c, &tok))
        return false;
    for (size_t i = 0; i < tok.n; i++)
        ext_value_put(pm, tok.p[i]);
    return true;
}

/* Parses `name [= value]` after a ';'. */
static bool ext_param(ext_cur_t *c, ext_param_t *pm) {
    ext_skip_ows(c);
    if (!ext_token(c, &pm->name))
        return false;
    ext_skip_ows(c);
    pm->has_value = false;
    pm->value_n = 0;
    if (c->p < c->end && *c->p == '=') {
        c->p++;
        ext_skip_ows(c);
        return ext_value(c, pm);
    }
    return true;
}

/* After a syntax error: skip to just past the next comma outside quotes. */
static void ext_resync(ext_cur_t *c) {
    bool quoted = false;
    while (c->p < c->end) {
        char ch = *c->p++;
        if (quoted && ch == '\\' && c->p < c->end)
            c->p++;
        else if (ch == '"')
            quoted = !quoted;
        else if (ch == ',' && !quoted)
            return;
    }
}

/* "8".."15" exactly (no sign, no leading zero); 0 for anything else. */
static uint8_t pmd_bits(const ext_param_t *pm) {
    if (pm->value_n == 1 && pm->value[0] >= '8' && pm->value[0] <= '9')
        return (uint8_t)(pm->value[0] - '0');
    if (pm->value_n == 2 && pm->value[0] == '1' && pm->value[1] >= '0' && pm->value[1] <= '5')
        return (uint8_t)(10 + pm->value[1] - '0');
    return 0;
}

/* Folds one parameter into the offer; false makes the offer invalid. */
static bool pmd_param_apply(pmd_offer_t *o, const ext_param_t *pm) {
    if (sb_str_ieq(pm->name, SB_LIT("server_no_context_takeover"))) {
        if (pm->has_value || o->snct)
            return false;
        return o->snct = true;
    }
    if (sb_str_ieq(pm->name, SB_LIT("client_no_context_takeover"))) {
        if (pm->has_value || o->cnct)
            return false;
        return o->cnct = true;
    }
    if (sb_str_ieq(pm->name, SB_LIT("server_max_window_bits"))) {
        if (!pm->has_value || o->smwb)
            return false;
        return (o->smwb = pmd_bits(pm)) != 0;
    }
    if (sb_str_ieq(pm->name, SB_LIT("client_max_window_bits"))) {
        if (o->cmwb_present)
            return false;
        o->cmwb_present = true;
        return !pm->has_value || (o->cmwb = pmd_bits(pm)) != 0;
    }
    return false;
}

typedef enum { EXT_EMPTY, EXT_BAD, EXT_OTHER, EXT_PMD } ext_kind_t;

/* Parses one element of the extension list and leaves the cursor after its
 * comma. Returns EXT_PMD only for a well-formed permessage-deflate offer
 * whose parameters are all known, unique and in range. */
static ext_kind_t ext_element(ext_cur_t *c, pmd_offer_t *o) {
    ext_skip_ows(c);
    if (c->p == c->end)
        return EXT_EMPTY;
    if (*c->p == ',') { /* 1#element allows empty list items */
        c->p++;
        return EXT_EMPTY;
    }
    sb_str_t name;
    if (!ext_token(c, &name)) {
        ext_resync(c);
        return EXT_BAD;
    }
    bool pmd = sb_str_ieq(name, SB_LIT("permessage-deflate"));
    bool ok = true;
    memset(o, 0, sizeof *o);
    for (;;) {
        ext_skip_ows(c);
        if (c->p == c->end)
            break;
        if (*c->p == ',') {
            c->p++;
            break;
        }
        ext_param_t pm;
        if (*c->p != ';' || (c->p++, !ext_param(c, &pm))) {
            ext_resync(c);
            return EXT_BAD;
        }
        if (pmd && ok)
            ok = pmd_param_apply(o, &pm);
    }
    return !pmd ? EXT_OTHER : ok ? EXT_PMD : EXT_BAD;
}

/* ======================================================================== */
/* Negotiation                                                             */
/* ======================================================================== */

static uint8_t pmd_min(uint8_t a, uint8_t b) { return a < b ? a : b; }

static uint8_t cfg_bits(uint8_t v, uint8_t lo) {
    if (v == 0 || v > 15)
        return 15;
    return v < lo ? lo : v;
}

/* Decides whether an offer is acceptable and with which parameters. */
static bool pmd_accept(const pmd_offer_t *o, const sb_ws_deflate_config_t *cfg,
                       sb_ws_deflate_params_t *out) {
    if (o->smwb == 8)
        return false; /* see deflate.h: we cannot honour an 8-bit server window */
    uint8_t smax = cfg_bits(cfg->server_max_window_bits, 9);
    uint8_t cmax = cfg_bits(cfg->client_max_window_bits, 8);
    out->server_max_window_bits = pmd_min(o->smwb ? o->smwb : 15, smax);
    out->client_max_window_bits = o->cmwb_present ? pmd_min(o->cmwb ? o->cmwb : 15, cmax) : 15;
    out->server_no_context_takeover = o->snct || cfg->server_no_context_takeover;
    out->client_no_context_takeover = o->cnct || cfg->client_no_context_takeover;
    out->level = (cfg->level >= 1 && cfg->level <= 9) ? cfg->level : 6;
    out->mem_level = (cfg->mem_level >= 1 && cfg->mem_level <= 8) ? cfg->mem_level : 8;
    return true;
}

typedef struct {
    char *p;
    size_t cap, n;
    bool overflow;
} resp_t;

static void resp_put(resp_t *r, const char *s) {
    size_t k = strlen(s);
    if (r->overflow || r->cap - r->n <= k) { /* keep room for the NUL */
        r->overflow = true;
        return;
    }
    memcpy(r->p + r->n, s, k + 1);
    r->n += k;
}

static void resp_put_bits(resp_t *r, const char *name, uint8_t bits) {
    char num[4] = {(char)('0' + bits / 10), (char)('0' + bits % 10), '\0', '\0'};
    resp_put(r, name);
    resp_put(r, bits >= 10 ? num : num + 1);
}

/* Echoes only what the client offered: an unrequested window size would be
 * legal but gains nothing, since our choice of window is invisible to it. */
static int pmd_respond(const pmd_offer_t *o, const sb_ws_deflate_params_t *a, char *buf, size_t cap,
                       size_t *n) {
    resp_t r = {buf, cap, 0, cap == 0};
    resp_put(&r, "permessage-deflate");
    if (o->snct)
        resp_put(&r, "; server_no_context_takeover");
    if (a->client_no_context_takeover)
        resp_put(&r, "; client_no_context_takeover");
    if (o->smwb)
        resp_put_bits(&r, "; server_max_window_bits=", a->server_max_window_bits);
    if (o->cmwb_present)
        resp_put_bits(&r, "; client_max_window_bits=", a->client_max_window_bits);
    if (r.overflow)
        return SB_ETOOBIG;
    *n = r.n;
    return SB_OK;
}

int sb_ws_deflate_negotiate(sb_str_t header_value, const sb_ws_deflate_config_t *server_cfg,
                            sb_ws_deflate_params_t *out, char *response, size_t cap,
                            size_t *response_n) {
    static const sb_ws_deflate_config_t defaults = {0};
    const sb_ws_deflate_config_t *cfg = server_cfg ? server_cfg : &defaults;
    ext_cur_t c = {header_value.p, header_value.p + header_value.n};
    while (c.p < c.end) {
        pmd_offer_t o;
        sb_ws_deflate_params_t a;
        if (ext_element(&c, &o) != EXT_PMD || !pmd_accept(&o, cfg, &a))
            continue;
        int rc = pmd_respond(&o, &a, response, cap, response_n);
        if (rc == SB_OK)
            *out = a;
        return rc;
    }
    return SB_ENOTFOUND;
}

/* ======================================================================== */
/* Streams                                                                 */
/* ======================================================================== */

#define WS_BUF_MIN 1024
#define WS_BUF_KEEP (64 * 1024) /* larger buffers are dropped between messages */
#define WS_ZCHUNK (1u << 30)    /* z_stream counts are 32-bit: feed in slices */

static const uint8_t ws_tail[4] = {0x00, 0x00, 0xff, 0xff};

typedef struct {
    uint8_t *p;
    size_t cap;
} ws_buf_t;

struct sb_ws_deflate {
    sb_ws_deflate_params_t params;
    z_stream def, inf;
    bool def_ready, inf_ready;
    bool in_msg;    /* inflating a message whose last frame has not come */
    bool inf_ended; /* the current message hit a BFINAL block */
    bool inf_data;  /* the current message has had payload bytes */
    ws_buf_t dout;  /* compress output */
    ws_buf_t iout;  /* inflate output: the current message so far */
    size_t ilen;
};

static void ws_buf_free(ws_buf_t *b) {
    free(b->p);
    *b = (ws_buf_t){NULL, 0};
}

/* Makes cap exactly `want` (never less than in use: callers ask to grow or
 * to drop an idle buffer). */
static int ws_buf_resize(ws_buf_t *b, size_t want) {
    uint8_t *p = realloc(b->p, want);
    if (!p)
        return SB_ENOMEM;
    b->p = p;
    b->cap = want;
    return SB_OK;
}

/* Called at the start of a message: shrinks a buffer a big message left. */
static void ws_buf_idle(ws_buf_t *b) {
    if (b->cap > WS_BUF_KEEP)
        ws_buf_free(b);
}

sb_ws_deflate_t *sb_ws_deflate_create(const sb_ws_deflate_params_t *params) {
    const sb_ws_deflate_params_t *p = params;
    if (p->server_max_window_bits < 9 || p->server_max_window_bits > 15 ||
        p->client_max_window_bits < 8 || p->client_max_window_bits > 15 || p->level < 1 ||
        p->level > 9 || p->mem_level < 1 || p->mem_level > 8)
        return NULL;
    sb_ws_deflate_t *d = calloc(1, sizeof *d);
    if (d)
        d->params = *p;
    return d;
}

void sb_ws_deflate_destroy(sb_ws_deflate_t *d) {
    if (!d)
        return;
    if (d->def_ready)
        deflateEnd(&d->def);
    if (d->inf_ready)
        inflateEnd(&d->inf);
    ws_buf_free(&d->dout);
    ws_buf_free(&d->iout);
    free(d);
}

void sb_ws_deflate_trim(sb_ws_deflate_t *d) {
    ws_buf_free(&d->dout);
    if (!d->in_msg)
        ws_buf_free(&d->iout);
    if (d->def_ready && d->params.server_no_context_takeover) {
        deflateEnd(&d->def);
        d->def_ready = false;
    }
    if (d->inf_ready && !d->in_msg && d->params.client_no_context_takeover) {
        inflateEnd(&d->inf);
        d->inf_ready = false;
    }
}

/* ---- Compression -------------------------------------------------------- */

static int def_ensure(sb_ws_deflate_t *d) {
    if (d->def_ready)
        return SB_OK;
    memset(&d->def, 0, sizeof d->def);
    int zr = deflateInit2(&d->def, d->params.level, Z_DEFLATED, -d->params.server_max_window_bits,
                          d->params.mem_level, Z_DEFAULT_STRATEGY);
    if (zr != Z_OK)
        return zr == Z_MEM_ERROR ? SB_ENOMEM : SB_EINVAL;
    d->def_ready = true;
    return SB_OK;
}

/* Runs deflate(Z_SYNC_FLUSH) over one slice, growing dout as needed. A sync
 * flush is complete once deflate returns with output space left over. */
static int def_run(sb_ws_deflate_t *d, size_t *len) {
    z_stream *z = &d->def;
    for (;;) {
        if (d->dout.cap - *len < 64 && ws_buf_resize(&d->dout, d->dout.cap * 2) != SB_OK)
            return SB_ENOMEM;
        size_t room = d->dout.cap - *len;
        z->next_out = d->dout.p + *len;
        z->avail_out = room > WS_ZCHUNK ? WS_ZCHUNK : (uInt)room;
        uInt before = z->avail_out;
        int zr = deflate(z, Z_SYNC_FLUSH);
        *len += before - z->avail_out;
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return SB_EINVAL;
        if (z->avail_out != 0 && z->avail_in == 0)
            return SB_OK;
    }
}

static int def_message(sb_ws_deflate_t *d, const uint8_t *in, size_t n, size_t *len) {
    size_t bound = deflateBound(&d->def, n > WS_ZCHUNK ? WS_ZCHUNK : n) + 64;
    if (d->dout.cap < bound && ws_buf_resize(&d->dout, bound < WS_BUF_MIN ? WS_BUF_MIN : bound))
        return SB_ENOMEM;
    *len = 0;
    do {
        size_t k = n > WS_ZCHUNK ? WS_ZCHUNK : n;
        d->def.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const; it only reads */
        d->def.avail_in = (uInt)k;
        int rc = def_run(d, len);
        if (rc != SB_OK)
            return rc;
        in += k;
        n -= k;
    } while (n > 0);
    return SB_OK;
}

int sb_ws_deflate_compress(sb_ws_deflate_t *d, const uint8_t *in, size_t n, uint8_t **out,
                           size_t *out_n) {
    int rc = def_ensure(d);
    if (rc != SB_OK)
        return rc;
    ws_buf_idle(&d->dout);
    size_t len;
    rc = def_message(d, in, n, &len);
    /* A reset is always safe for the peer: it only means we stop referring
     * to its window. Without takeover it is the required behaviour. */
    if (rc != SB_OK || d->params.server_no_context_takeover)
        deflateReset(&d->def);
    if (rc != SB_OK)
        return rc;
    /* RFC 7692 7.2.1: drop the 00 00 ff ff a sync flush always ends with. */
    if (len >= 4 && memcmp(d->dout.p + len - 4, ws_tail, 4) == 0)
        len -= 4;
    *out = d->dout.p;
    *out_n = len;
    return SB_OK;
}

/* ---- Decompression ------------------------------------------------------ */

static int inf_ensure(sb_ws_deflate_t *d) {
    if (d->inf_ready)
        return SB_OK;
    memset(&d->inf, 0, sizeof d->inf);
    /* Inflate with the full window whatever client_max_window_bits says: a
     * peer that refers further back than it promised is still decoded
     * correctly, every time. zlib alone would refuse such a distance only
     * when the bytes had left its current buffer, i.e. inconsistently. */
    int zr = inflateInit2(&d->inf, -15);
    if (zr != Z_OK)
        return zr == Z_MEM_ERROR ? SB_ENOMEM : SB_EINVAL;
    d->inf_ready = true;
    return SB_OK;
}

/* Guarantees free output space, never letting the buffer pass limit bytes
 * (max_out + 1: one byte over is how we learn the message is too big). */
static int inf_reserve(sb_ws_deflate_t *d, size_t limit) {
    if (d->ilen < d->iout.cap)
        return SB_OK;
    size_t want = d->iout.cap < WS_BUF_MIN / 2 ? WS_BUF_MIN : d->iout.cap * 2;
    if (want > limit)
        want = limit;
    if (want <= d->iout.cap)
        return SB_ETOOBIG;
    return ws_buf_resize(&d->iout, want);
}

static int inf_zerr(int zr) {
    if (zr == Z_MEM_ERROR)
        return SB_ENOMEM;
    return SB_EPROTO; /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
}

/* Inflates what is in z->next_in, draining pending output too (a long match
 * can outlive its input). Stops at the end of input or at a final block. */
static int inf_run(sb_ws_deflate_t *d, size_t max_out, size_t limit) {
    z_stream *z = &d->inf;
    for (;;) {
        int rc = inf_reserve(d, limit);
        if (rc != SB_OK)
            return rc;
        size_t room = d->iout.cap - d->ilen;
        z->next_out = d->iout.p + d->ilen;
        z->avail_out = room > WS_ZCHUNK ? WS_ZCHUNK : (uInt)room;
        uInt before = z->avail_out;
        int zr = inflate(z, Z_SYNC_FLUSH);
        d->ilen += before - z->avail_out;
        if (d->ilen > max_out)
            return SB_ETOOBIG;
        if (zr == Z_STREAM_END) {
            d->inf_ended = true;
            return SB_OK;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return inf_zerr(zr);
        if (z->avail_in == 0 && z->avail_out != 0)
            return SB_OK; /* input used up and nothing left pending */
    }
}

/* Feeds in[0..n); anything after a final block is a protocol error. */
static int inf_feed(sb_ws_deflate_t *d, const uint8_t *in, size_t n, size_t max_out) {
    size_t limit = max_out < SIZE_MAX ? max_out + 1 : SIZE_MAX;
    while (n > 0) {
        if (d->inf_ended)
            return SB_EPROTO;
        size_t k = n > WS_ZCHUNK ? WS_ZCHUNK : n;
        d->inf.next_in = (Bytef *)(uintptr_t)in;
        d->inf.avail_in = (uInt)k;
        int rc = inf_run(d, max_out, limit);
        if (rc != SB_OK)
            return rc;
        size_t used = k - d->inf.avail_in;
        in += used;
        n -= used;
    }
    return SB_OK;
}

/* Ends the current message, leaving the inflater ready for the next one. A
 * final block ends the zlib stream, so it needs a reset either way. */
static void inf_end_message(sb_ws_deflate_t *d, bool failed) {
    if (failed || d->inf_ended || d->params.client_no_context_takeover)
        inflateReset(&d->inf);
    d->inf_ended = false;
    d->in_msg = false;
}

int sb_ws_inflate(sb_ws_deflate_t *d, const uint8_t *in, size_t n, bool fin, uint8_t **out,
                  size_t *out_n, size_t max_out) {
    int rc = inf_ensure(d);
    if (rc != SB_OK)
        return rc;
    if (!d->in_msg) {
        ws_buf_idle(&d->iout);
        d->ilen = 0;
        d->in_msg = true;
        d->inf_data = false;
    }
    d->inf_data |= n > 0;
    rc = inf_feed(d, in, n, max_out);
    /* RFC 7692 7.2.2: restore the flush marker the sender stripped. A message
     * with no payload at all (some senders compress "" to nothing rather than
     * to 00) is empty: the marker alone would leave a half-read block. */
    if (rc == SB_OK && fin && d->inf_data && !d->inf_ended) {
        rc = inf_feed(d, ws_tail, sizeof ws_tail, max_out);
        /* After a genuine marker zlib waits for a block header (bit 128 of
         * data_type); otherwise the peer cut a block short and the marker
         * was swallowed as data. */
        if (rc == SB_OK && !d->inf_ended && !(d->inf.data_type & 128))
            rc = SB_EPROTO;
    }
    if (rc != SB_OK || fin)
        inf_end_message(d, rc != SB_OK);
    if (rc != SB_OK)
        return rc;
    *out = d->iout.p;
    *out_n = d->ilen;
    return SB_OK;
}
