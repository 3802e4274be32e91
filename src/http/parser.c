/* HTTP/1.1 request head parser and body helpers; see parser.h for the contracts. The head parser
 * is stateless (it rescans from the start on every call, like picohttpparser): a head is at most
 * max_head_bytes, so the rescans are cheap and no state can go stale between reads. */
#include "http/parser.h"

#include "core/err.h"
#include "core/hex.h"

/* ---- byte classes ------------------------------------------------------------------------- */

static bool is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Visible ASCII except '#': a fragment never belongs in a request target. */
static bool is_target_char(unsigned char c) { return c > 0x20 && c < 0x7f && c != '#'; }

/* field-vchar, SP and HT: every byte but CTLs (NUL, CR, LF, ...) and DEL. */
static bool is_field_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

/* ---- request head ------------------------------------------------------------------------- */

/* A read position in the head; `end` is the window the current step may look at. */
typedef struct {
    const char *p;
    size_t i, end;
} cursor_t;

static int expect_crlf(cursor_t *c) {
    if (c->i == c->end)
        return SB_EAGAIN;
    if (c->p[c->i] != '\r')
        return SB_EPROTO;
    if (c->i + 1 == c->end)
        return SB_EAGAIN;
    if (c->p[c->i + 1] != '\n')
        return SB_EPROTO;
    c->i += 2;
    return SB_OK;
}

/* Scans 1*tchar; on success *tok is the token and c->i rests on the byte after it. */
static int scan_token(cursor_t *c, sb_str_t *tok) {
    size_t start = c->i;
    while (c->i < c->end && is_tchar((unsigned char)c->p[c->i]))
        c->i++;
    if (c->i == c->end)
        return SB_EAGAIN;
    if (c->i == start)
        return SB_EPROTO;
    *tok = sb_str(c->p + start, c->i - start);
    return SB_OK;
}

static int expect_sp(cursor_t *c) {
    if (c->i == c->end)
        return SB_EAGAIN;
    if (c->p[c->i] != ' ')
        return SB_EPROTO;
    c->i++;
    return SB_OK;
}

static void split_target(sb_http_request_t *req) {
    const char *q = memchr(req->target.p, '?', req->target.n);
    if (q == NULL) {
        req->path = req->target;
        req->query = SB_STR_NULL;
        return;
    }
    req->path = sb_str(req->target.p, (size_t)(q - req->target.p));
    req->query = sb_str(q + 1, req->target.n - req->path.n - 1);
}

/* origin-form, or "*" for OPTIONS; the first byte is checked early so that a prefix such as
 * "GET x" fails at once instead of waiting for more bytes. */
static int parse_target(cursor_t *c, sb_http_request_t *req) {
    size_t start = c->i;
    if (c->i == c->end)
        return SB_EAGAIN;
    if (c->p[c->i] == '*') {
        if (!sb_str_eq(req->method, SB_LIT("OPTIONS")))
            return SB_EPROTO;
        c->i++;
    } else if (c->p[c->i] == '/') {
        while (c->i < c->end && is_target_char((unsigned char)c->p[c->i]))
            c->i++;
    } else {
        return SB_EPROTO;
    }
    req->target = sb_str(c->p + start, c->i - start);
    split_target(req);
    return expect_sp(c);
}

/* "HTTP/" DIGIT "." DIGIT. A well-formed version we do not speak is 505, anything else 400. */
static int parse_version(cursor_t *c, sb_http_request_t *req) {
    static const char pat[] = "HTTP/#.#";
    for (size_t k = 0; k < sizeof pat - 1; k++) {
        if (c->i + k == c->end)
            return SB_EAGAIN;
        unsigned char ch = (unsigned char)c->p[c->i + k];
        if (pat[k] == '#' ? (ch < '0' || ch > '9') : ch != (unsigned char)pat[k])
            return SB_EPROTO;
    }
    int major = c->p[c->i + 5] - '0', minor = c->p[c->i + 7] - '0';
    if (major != 1 || minor > 1) {
        req->error_status = 505;
        return SB_EPROTO;
    }
    req->minor_version = minor;
    c->i += sizeof pat - 1;
    return expect_crlf(c);
}

static int parse_request_line_parts(cursor_t *c, sb_http_request_t *req) {
    int r = scan_token(c, &req->method);
    if (r == SB_OK)
        r = expect_sp(c);
    if (r == SB_OK)
        r = parse_target(c, req);
    if (r == SB_OK)
        r = parse_version(c, req);
    return r;
}

/* Narrows the window to max_request_line + CRLF, so running out of it means the line is too
 * long whether or not the rest of it has arrived. */
static int parse_request_line(cursor_t *c, sb_http_request_t *req, const sb_http_limits_t *lim) {
    size_t full_end = c->end, avail = c->end - c->i;
    bool cut = avail > 2 && avail - 2 > lim->max_request_line;
    if (cut)
        c->end = c->i + lim->max_request_line + 2;
    int r = parse_request_line_parts(c, req);
    c->end = full_end;
    if (r == SB_EAGAIN && cut) {
        req->error_status = 414;
        return SB_ETOOBIG;
    }
    return r;
}

static int parse_header(cursor_t *c, sb_http_header_t *h) {
    int r = scan_token(c, &h->name);
    if (r != SB_OK)
        return r;
    if (c->p[c->i] != ':') /* includes whitespace before the colon (RFC 9112 section 5.1) */
        return SB_EPROTO;
    c->i++;
    while (c->i < c->end && is_ows(c->p[c->i]))
        c->i++;
    size_t start = c->i;
    while (c->i < c->end && is_field_char((unsigned char)c->p[c->i]))
        c->i++;
    size_t stop = c->i;
    while (stop > start && is_ows(c->p[stop - 1]))
        stop--;
    h->value = sb_str(c->p + start, stop - start);
    return expect_crlf(c);
}

static int parse_headers(cursor_t *c, sb_http_request_t *req, const sb_http_limits_t *lim) {
    for (;;) {
        if (c->i == c->end)
            return SB_EAGAIN;
        char ch = c->p[c->i];
        if (ch == '\r')
            return expect_crlf(c);
        if (is_ows(ch)) /* obs-fold, or whitespace before the first field */
            return SB_EPROTO;
        if (req->num_headers == lim->max_headers) {
            req->error_status = 431;
            return SB_ETOOBIG;
        }
        int r = parse_header(c, &req->headers[req->num_headers]);
        if (r != SB_OK)
            return r;
        req->num_headers++;
    }
}

/* RFC 9112 section 2.2: a server SHOULD ignore empty lines before the request line (some clients
 * send a stray CRLF after a POST body). */
static int skip_empty_lines(cursor_t *c) {
    while (c->i < c->end && c->p[c->i] == '\r') {
        int r = expect_crlf(c);
        if (r != SB_OK)
            return r;
    }
    return SB_OK;
}

ssize_t sb_http_request_parse(const char *p, size_t n, sb_http_request_t *req,
                              sb_http_header_t *headers, const sb_http_limits_t *lim) {
    memset(req, 0, sizeof *req);
    req->headers = headers;
    cursor_t c = {p, 0, n < lim->max_head_bytes ? n : lim->max_head_bytes};
    int r = skip_empty_lines(&c);
    if (r == SB_OK)
        r = parse_request_line(&c, req, lim);
    if (r == SB_OK)
        r = parse_headers(&c, req, lim);
    if (r == SB_OK)
        return (ssize_t)c.i;
    if (r == SB_EAGAIN && n >= lim->max_head_bytes) {
        /* Out of window: the head cannot end within max_head_bytes. */
        req->error_status = 431;
        return SB_ETOOBIG;
    }
    if (r == SB_EPROTO && req->error_status == 0)
        req->error_status = 400;
    return r;
}

/* ---- header helpers ----------------------------------------------------------------------- */

const sb_str_t *sb_http_header_get(const sb_http_request_t *r, sb_str_t name) {
    for (size_t i = 0; i < r->num_headers; i++) {
        if (sb_str_ieq(r->headers[i].name, name))
            return &r->headers[i].value;
    }
    return NULL;
}

size_t sb_http_header_count(const sb_http_request_t *r, sb_str_t name) {
    size_t count = 0;
    for (size_t i = 0; i < r->num_headers; i++)
        count += sb_str_ieq(r->headers[i].name, name);
    return count;
}

static sb_str_t trim_ows(sb_str_t s) {
    while (s.n > 0 && is_ows(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && is_ows(s.p[s.n - 1]))
        s.n--;
    return s;
}

bool sb_http_token_list_has(sb_str_t value, sb_str_t token) {
    size_t i = 0;
    while (i < value.n) {
        const char *comma = memchr(value.p + i, ',', value.n - i);
        size_t stop = comma ? (size_t)(comma - value.p) : value.n;
        if (sb_str_ieq(trim_ows(sb_str(value.p + i, stop - i)), token))
            return true;
        i = stop + 1;
    }
    return false;
}

int sb_http_content_length_parse(sb_str_t v, uint64_t max, uint64_t *out) {
    if (v.n == 0)
        return SB_EPROTO;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return SB_EPROTO;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < v.n; i++) {
        unsigned d = (unsigned)(v.p[i] - '0');
        if (d > max || x > (max - d) / 10) /* x * 10 + d > max, without overflowing */
            return SB_ETOOBIG;
        x = x * 10 + d;
    }
    *out = x;
    return SB_OK;
}

/* ---- chunked transfer coding -------------------------------------------------------------- */

enum {
    CH_SIZE = 0, /* hex digits of a chunk size */
    CH_SIZE_WS,  /* BWS after the size, before ';' or CR */
    CH_EXT,      /* chunk extensions after ';', up to CR */
    CH_SIZE_LF,  /* LF after the size line's CR */
    CH_DATA,     /* _left payload bytes */
    CH_DATA_CR,  /* CRLF after the payload */
    CH_DATA_LF,
    CH_TRAILER_START, /* start of a trailer line, or the final CRLF */
    CH_TRAILER,       /* inside a trailer field line */
    CH_TRAILER_LF,    /* LF after a trailer field line's CR */
    CH_END_LF,        /* LF of the final CRLF */
    CH_DONE,
};

#define CH_MAX_DIGITS 16

/* Size-line bytes after the digits: BWS, then ';' and extensions, then CR. Anything else after
 * the digits ("5x") is refused rather than guessed at: lenient chunk framing invites smuggling. */
static int chunk_ext_byte(sb_http_chunked_t *st, unsigned char c) {
    if (++st->_ext > SB_HTTP_CHUNK_EXT_MAX)
        return SB_ETOOBIG;
    if (c == '\r') {
        st->_state = CH_SIZE_LF;
        return SB_OK;
    }
    if (st->_state == CH_EXT)
        return is_field_char(c) ? SB_OK : SB_EPROTO;
    if (c == ';')
        st->_state = CH_EXT;
    else if (!is_ows((char)c))
        return SB_EPROTO;
    return SB_OK;
}

static int chunk_size_byte(sb_http_chunked_t *st, unsigned char c, uint64_t max_body) {
    int v = sb_hex_value(c);
    if (v >= 0) {
        if (++st->_digits > CH_MAX_DIGITS)
            return SB_EPROTO;
        st->_left = st->_left << 4 | (uint64_t)v;
        return SB_OK;
    }
    if (st->_digits == 0)
        return SB_EPROTO;
    /* The size is known: refuse an oversized body before any of it arrives. */
    if (st->_total > max_body || st->_left > max_body - st->_total)
        return SB_ETOOBIG;
    st->_state = CH_SIZE_WS;
    st->_ext = 0;
    return chunk_ext_byte(st, c);
}

static int chunk_size_lf(sb_http_chunked_t *st, unsigned char c) {
    if (c != '\n')
        return SB_EPROTO;
    st->_state = st->_left == 0 ? CH_TRAILER_START : CH_DATA;
    st->_digits = 0;
    return SB_OK;
}

static int expect_byte(sb_http_chunked_t *st, unsigned char c, unsigned char want, int next) {
    if (c != want)
        return SB_EPROTO;
    st->_state = (uint8_t)next;
    return SB_OK;
}

/* Trailer fields are skipped, but their bytes are capped and checked for control bytes. */
static int trailer_byte(sb_http_chunked_t *st, unsigned char c) {
    if (++st->_trailer > SB_HTTP_TRAILER_MAX)
        return SB_ETOOBIG;
    switch (st->_state) {
    case CH_TRAILER_START:
        if (c == '\r') {
            st->_state = CH_END_LF;
            return SB_OK;
        }
        if (!is_tchar(c)) /* a field name starts every trailer line; obs-fold is refused */
            return SB_EPROTO;
        st->_state = CH_TRAILER;
        return SB_OK;
    case CH_TRAILER:
        if (c == '\r')
            st->_state = CH_TRAILER_LF;
        else if (!is_field_char(c))
            return SB_EPROTO;
        return SB_OK;
    case CH_TRAILER_LF:
        return expect_byte(st, c, '\n', CH_TRAILER_START);
    default: /* CH_END_LF */
        return expect_byte(st, c, '\n', CH_DONE);
    }
}

/* One byte of framing (everything but payload). */
static int chunk_frame_byte(sb_http_chunked_t *st, unsigned char c, uint64_t max_body) {
    switch (st->_state) {
    case CH_SIZE:
        return chunk_size_byte(st, c, max_body);
    case CH_SIZE_WS:
    case CH_EXT:
        return chunk_ext_byte(st, c);
    case CH_SIZE_LF:
        return chunk_size_lf(st, c);
    case CH_DATA_CR:
        return expect_byte(st, c, '\r', CH_DATA_LF);
    case CH_DATA_LF:
        return expect_byte(st, c, '\n', CH_SIZE);
    default:
        return trailer_byte(st, c);
    }
}

/* Moves up to _left payload bytes from buf[*in..n) down to buf[*out..]. */
static void chunk_copy_data(sb_http_chunked_t *st, char *buf, size_t n, size_t *in, size_t *out) {
    size_t k = n - *in;
    if (k > st->_left)
        k = (size_t)st->_left;
    memmove(buf + *out, buf + *in, k);
    *in += k;
    *out += k;
    st->_left -= k;
    st->_total += k;
    if (st->_left == 0)
        st->_state = CH_DATA_CR;
}

ssize_t sb_http_chunked_decode(sb_http_chunked_t *st, char *buf, size_t n, size_t *out_len,
                               uint64_t max_body) {
    size_t in = 0, out = 0;
    *out_len = 0;
    if (st->_err != 0)
        return st->_err;
    while (in < n && st->_state != CH_DONE) {
        if (st->_state == CH_DATA) {
            chunk_copy_data(st, buf, n, &in, &out);
            continue;
        }
        int r = chunk_frame_byte(st, (unsigned char)buf[in], max_body);
        if (r != SB_OK) {
            st->_err = r;
            return r;
        }
        in++;
    }
    *out_len = out;
    return (ssize_t)in;
}

bool sb_http_chunked_done(const sb_http_chunked_t *st) { return st->_state == CH_DONE; }

/* ---- query strings and percent-encoding --------------------------------------------------- */

/* Decodes the byte at s.p[*i], advancing *i. Returns the byte (0-255) or -1 on a bad escape. */
static int pct_next(sb_str_t s, size_t *i, bool plus_is_space) {
    unsigned char c = (unsigned char)s.p[*i];
    if (c == '+' && plus_is_space) {
        (*i)++;
        return ' ';
    }
    if (c != '%') {
        (*i)++;
        return c;
    }
    if (s.n - *i < 3)
        return -1;
    int hi = sb_hex_value((unsigned char)s.p[*i + 1]),
        lo = sb_hex_value((unsigned char)s.p[*i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    *i += 3;
    return hi << 4 | lo;
}

static int pct_decode(sb_str_t in, bool plus_is_space, char *out, size_t cap, size_t *out_n) {
    size_t i = 0, o = 0;
    while (i < in.n) {
        int c = pct_next(in, &i, plus_is_space);
        if (c < 0)
            return SB_EPROTO;
        if (o == cap)
            return SB_ETOOBIG;
        out[o++] = (char)c;
    }
    *out_n = o;
    return SB_OK;
}

int sb_http_percent_decode(sb_str_t in, char *out, size_t cap, size_t *out_n) {
    return pct_decode(in, false, out, cap, out_n);
}

/* Compares the form-decoded `enc` with the plain `key` without a scratch buffer. */
static bool form_key_eq(sb_str_t enc, sb_str_t key) {
    size_t i = 0, k = 0;
    while (i < enc.n) {
        int c = pct_next(enc, &i, true);
        if (c < 0 || k == key.n || (unsigned char)key.p[k] != c)
            return false;
        k++;
    }
    return k == key.n;
}

bool sb_http_query_get(sb_str_t query, sb_str_t key, char *out, size_t cap, size_t *out_n) {
    size_t i = 0;
    while (i < query.n) {
        const char *amp = memchr(query.p + i, '&', query.n - i);
        size_t stop = amp ? (size_t)(amp - query.p) : query.n;
        sb_str_t pair = sb_str(query.p + i, stop - i);
        const char *eq = memchr(pair.p, '=', pair.n);
        size_t kn = eq ? (size_t)(eq - pair.p) : pair.n;
        if (form_key_eq(sb_str(pair.p, kn), key)) {
            sb_str_t val = eq ? sb_str(eq + 1, pair.n - kn - 1) : sb_str(pair.p + kn, 0);
            return pct_decode(val, true, out, cap, out_n) == SB_OK;
        }
        i = stop + 1;
    }
    return false;
}

/* ---- responses ---------------------------------------------------------------------------- */

const char *sb_http_status_reason(int status) {
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
