/* Fuzzes the HTTP/1.1 request codec: the head parser (result, every slice,
 * its behaviour on every prefix and under tighter limits), the helpers on the
 * parsed fields (header lookup, Content-Length, token lists, query strings,
 * percent-decoding, each against a small reference written here) and the
 * chunked decoder on the bytes after the head (one shot vs arbitrary splits,
 * and a re-encode round trip). Input: one raw request, head then body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "http/parser.h"
#include "fuzz_util.h"

#define BIG_HEADERS 64
#define BODY_MAX ((uint64_t)1 << 20)

static const sb_http_limits_t big = {
    .max_request_line = 8192, .max_head_bytes = 16384, .max_headers = BIG_HEADERS};
static const sb_http_limits_t tight = {
    .max_request_line = 40, .max_head_bytes = 120, .max_headers = 3};

/* ---- independent byte classes (not the parser's) -------------------------- */

static bool ref_tchar(unsigned char c) {
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
        return true;
    for (const char *e = extra; *e; e++)
        if (c == (unsigned char)*e)
            return true;
    return false;
}

static bool ref_ows(char c) { return c == ' ' || c == '\t'; }

static int ref_hex(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- head ----------------------------------------------------------------- */

static void check_status(ssize_t r, const sb_http_request_t *req) {
    FZ_CHECK(r > 0 || r == SB_EAGAIN || r == SB_EPROTO || r == SB_ETOOBIG);
    if (r == SB_EPROTO)
        FZ_CHECK(req->error_status == 400 || req->error_status == 505);
    if (r == SB_ETOOBIG)
        FZ_CHECK(req->error_status == 414 || req->error_status == 431);
}

static void check_target(const sb_http_request_t *req) {
    sb_str_t t = req->target;
    FZ_CHECK(t.n > 0);
    if (t.p[0] == '*') {
        FZ_CHECK(t.n == 1 && sb_str_eq(req->method, SB_LIT("OPTIONS")));
    } else {
        FZ_CHECK(t.p[0] == '/');
        for (size_t i = 0; i < t.n; i++)
            FZ_CHECK((unsigned char)t.p[i] > 0x20 && (unsigned char)t.p[i] < 0x7f && t.p[i] != '#');
    }
    const char *q = memchr(t.p, '?', t.n);
    FZ_CHECK(req->path.p == t.p);
    if (!q) {
        FZ_CHECK(req->path.n == t.n && req->query.p == NULL && req->query.n == 0);
        return;
    }
    FZ_CHECK(req->path.n == (size_t)(q - t.p));
    FZ_CHECK(req->query.p == q + 1 && req->query.n == t.n - req->path.n - 1);
}

static void check_header(const sb_http_header_t *h, const char *p, size_t k) {
    FZ_CHECK(h->name.n > 0 && fz_within(h->name, p, k) && fz_within(h->value, p, k));
    for (size_t i = 0; i < h->name.n; i++)
        FZ_CHECK(ref_tchar((unsigned char)h->name.p[i]));
    FZ_CHECK(h->name.p[h->name.n] == ':');
    sb_str_t v = h->value;
    if (v.n > 0)
        FZ_CHECK(!ref_ows(v.p[0]) && !ref_ows(v.p[v.n - 1]));
    for (size_t i = 0; i < v.n; i++) {
        unsigned char c = (unsigned char)v.p[i];
        FZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
    }
}

/* Everything a successful parse promises about *req. Returns the request
 * line's length without its CRLF. */
static size_t check_request(const sb_http_request_t *req, const char *p, size_t k,
                            const sb_http_limits_t *lim) {
    FZ_CHECK(req->error_status == 0 && k >= 4 && memcmp(p + k - 4, "\r\n\r\n", 4) == 0);
    size_t start = (size_t)(req->method.p - p);
    FZ_CHECK(start % 2 == 0 && req->method.p >= p);
    for (size_t i = 0; i < start; i += 2) /* only skipped empty lines before it */
        FZ_CHECK(p[i] == '\r' && p[i + 1] == '\n');
    FZ_CHECK(req->method.n > 0 && fz_within(req->method, p, k));
    for (size_t i = 0; i < req->method.n; i++)
        FZ_CHECK(ref_tchar((unsigned char)req->method.p[i]));
    FZ_CHECK(req->target.p == req->method.p + req->method.n + 1 && req->target.p[-1] == ' ');
    FZ_CHECK(fz_within(req->target, p, k));
    check_target(req);
    const char *v = req->target.p + req->target.n;
    FZ_CHECK(req->minor_version == 0 || req->minor_version == 1);
    FZ_CHECK(memcmp(v, " HTTP/1.", 8) == 0 && v[8] == '0' + req->minor_version);
    FZ_CHECK(v[9] == '\r' && v[10] == '\n');
    FZ_CHECK(req->num_headers <= lim->max_headers);
    const char *prev = v + 11;
    for (size_t i = 0; i < req->num_headers; i++) {
        check_header(&req->headers[i], p, k);
        FZ_CHECK(req->headers[i].name.p == prev); /* one per line, nothing in between */
        const char *eol = req->headers[i].name.p + req->headers[i].name.n + 1;
        while (eol < p + k && *eol != '\r')
            eol++;
        FZ_CHECK(eol + 1 < p + k);
        FZ_CHECK(eol[1] == '\n');
        prev = eol + 2;
    }
    FZ_CHECK(prev + 2 == p + k);
    return (size_t)(v + 9 - req->method.p);
}

static ssize_t parse(const char *p, size_t n, const sb_http_limits_t *lim, sb_http_request_t *req,
                     sb_http_header_t *h) {
    ssize_t r = sb_http_request_parse(p, n, req, h, lim);
    check_status(r, req);
    if (r > 0)
        FZ_CHECK((size_t)r <= n);
    return r;
}

/* The parser is stateless: over growing prefixes its answer is SB_EAGAIN
 * until it settles, then never changes (same code, same status). Each prefix
 * lives in its own heap block so ASan sees any read past its end. */
static void check_prefixes(const char *p, size_t n, ssize_t final, int final_status) {
    sb_http_header_t h[BIG_HEADERS];
    sb_http_request_t req;
    uint64_t seed = sb_str_hash(sb_str(p, n));
    for (int t = 0; t < 6 && n > 0; t++) {
        size_t m = (size_t)(seed >> (t * 10)) % n;
        if (t == 0)
            m = n - 1;
        char *q = (char *)fz_dup(p, m);
        ssize_t r = parse(q, m, &big, &req, h);
        if (r != SB_EAGAIN) {
            FZ_CHECK(r == final);
            FZ_CHECK(r > 0 || req.error_status == final_status);
        } else if (final > 0) {
            FZ_CHECK(m < (size_t) final); /* a complete head never waits for more */
        }
        free(q);
    }
}

/* A tighter limit set only turns answers into SB_ETOOBIG: it accepts exactly
 * the heads that fit it, with the same result. */
static void check_tight(const char *p, size_t n, ssize_t r_big, const sb_http_request_t *big_req,
                        size_t line_len) {
    sb_http_header_t h[3];
    sb_http_request_t req;
    ssize_t r = parse(p, n, &tight, &req, h);
    if (r_big > 0) {
        bool fits = (size_t)r_big <= tight.max_head_bytes && line_len <= tight.max_request_line &&
                    big_req->num_headers <= tight.max_headers;
        FZ_CHECK(fits ? r == r_big : r == SB_ETOOBIG);
        return;
    }
    if (r_big == SB_EAGAIN)
        FZ_CHECK(r == SB_EAGAIN || r == SB_ETOOBIG);
    else
        FZ_CHECK(r == SB_EPROTO || r == SB_ETOOBIG);
}

/* ---- helpers on the parsed fields ----------------------------------------- */

static void check_content_length(sb_str_t v) {
    static const uint64_t maxes[] = {UINT64_MAX, 1000000, 0, 18446744073709551614u};
    for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
        uint64_t out = 12345, x = 0;
        int want = v.n ? SB_OK : SB_EPROTO;
        for (size_t i = 0; i < v.n && want == SB_OK; i++)
            if (v.p[i] < '0' || v.p[i] > '9')
                want = SB_EPROTO;
        for (size_t i = 0; i < v.n && want == SB_OK; i++) {
            unsigned __int128 y = (unsigned __int128)x * 10 + (unsigned)(v.p[i] - '0');
            if (y > maxes[m])
                want = SB_ETOOBIG;
            x = (uint64_t)y;
        }
        int rc = sb_http_content_length_parse(v, maxes[m], &out);
        FZ_CHECK(rc == want);
        FZ_CHECK(rc == SB_OK ? out == x : out == 12345);
    }
}

static sb_str_t ref_trim(sb_str_t s) {
    while (s.n && ref_ows(s.p[0]))
        s.p++, s.n--;
    while (s.n && ref_ows(s.p[s.n - 1]))
        s.n--;
    return s;
}

static bool ref_token_list_has(sb_str_t v, sb_str_t tok) {
    size_t s = 0;
    for (size_t i = 0; i <= v.n; i++) {
        if (i < v.n && v.p[i] != ',')
            continue;
        sb_str_t e = ref_trim(sb_str(v.p + s, i - s));
        if (e.n == tok.n && (tok.n == 0 || strncasecmp(e.p, tok.p, tok.n) == 0))
            return true;
        s = i + 1;
    }
    return false;
}

static void check_headers(const sb_http_request_t *req) {
    for (size_t i = 0; i < req->num_headers; i++) {
        const sb_http_header_t *h = &req->headers[i];
        const sb_str_t *got = sb_http_header_get(req, h->name);
        size_t first = 0;
        while (!sb_str_ieq(req->headers[first].name, h->name))
            first++;
        FZ_CHECK(got == &req->headers[first].value && first <= i);
        FZ_CHECK(sb_http_header_count(req, h->name) >= 1);
        check_content_length(h->value);
        /* Not the empty token: whether "" holds an empty element is not specified. */
        static const sb_str_t toks[] = {SB_LIT("upgrade"), SB_LIT("keep-alive"), SB_LIT("chunked")};
        for (size_t t = 0; t < 3; t++)
            FZ_CHECK(sb_http_token_list_has(h->value, toks[t]) ==
                     ref_token_list_has(h->value, toks[t]));
    }
    FZ_CHECK(sb_http_header_get(req, SB_LIT("X-Not-There-\x01")) == NULL);
}

/* Form decoding: returns the length, -1 for a bad escape, -2 when over cap. */
static long ref_decode(sb_str_t s, bool plus, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < s.n;) {
        int c = (unsigned char)s.p[i];
        if (c == '%') {
            if (s.n - i < 3 || ref_hex(s.p[i + 1]) < 0 || ref_hex(s.p[i + 2]) < 0)
                return -1;
            c = ref_hex(s.p[i + 1]) * 16 + ref_hex(s.p[i + 2]);
            i += 3;
        } else {
            c = (plus && c == '+') ? ' ' : c;
            i++;
        }
        if (o == cap)
            return -2;
        out[o++] = (char)c;
    }
    return (long)o;
}

static bool ref_query_get(sb_str_t q, sb_str_t key, char *out, size_t cap, size_t *out_n) {
    size_t s = 0;
    char kbuf[512];
    for (size_t i = 0; i <= q.n; i++) {
        if (i < q.n && q.p[i] != '&')
            continue;
        if (i == q.n && s == q.n)
            break; /* an empty query, or nothing after the last '&': no pair */
        sb_str_t pair = sb_str(q.p + s, i - s);
        s = i + 1;
        const char *eq = memchr(pair.p, '=', pair.n);
        sb_str_t k = sb_str(pair.p, eq ? (size_t)(eq - pair.p) : pair.n);
        long kn = ref_decode(k, true, kbuf, sizeof kbuf);
        if (kn == -2)
            abort(); /* kbuf holds any key of a capped query */
        if (kn < 0 || (size_t)kn != key.n || memcmp(kbuf, key.p, key.n) != 0)
            continue;
        sb_str_t v = eq ? sb_str(eq + 1, pair.n - k.n - 1) : sb_str(NULL, 0);
        long vn = ref_decode(v, true, out, cap);
        if (vn < 0)
            return false;
        *out_n = (size_t)vn;
        return true;
    }
    return false;
}

static void check_query_key(sb_str_t q, sb_str_t key) {
    static const size_t caps[] = {0, 3, 64, 512};
    for (size_t c = 0; c < 4; c++) {
        char got[512], want[512];
        size_t got_n = 9999, want_n = 9999;
        bool g = sb_http_query_get(q, key, got, caps[c], &got_n);
        bool w = ref_query_get(q, key, want, caps[c], &want_n);
        FZ_CHECK(g == w);
        if (g)
            FZ_CHECK(got_n == want_n && got_n <= caps[c] && memcmp(got, want, got_n) == 0);
    }
}

/* The decoded names of the first few pairs, so real hits get exercised. */
static void check_query_pairs(sb_str_t q) {
    size_t s = 0;
    for (int pairs = 0; pairs < 3 && s < q.n; pairs++) {
        const char *amp = q.n > s ? memchr(q.p + s, '&', q.n - s) : NULL;
        size_t e = amp ? (size_t)(amp - q.p) : q.n;
        const char *eq = memchr(q.p + s, '=', e - s);
        char kbuf[512];
        long kn = ref_decode(sb_str(q.p + s, eq ? (size_t)(eq - q.p) - s : e - s), true, kbuf,
                             sizeof kbuf);
        if (kn >= 0)
            check_query_key(q, sb_str(kbuf, (size_t)kn));
        s = e + 1;
    }
}

static void check_path(sb_str_t path) {
    char got[256], want[256];
    size_t got_n = 0;
    int rc = sb_http_percent_decode(path, got, sizeof got, &got_n);
    long wn = ref_decode(path, false, want, sizeof want);
    FZ_CHECK(rc == (wn == -1 ? SB_EPROTO : wn == -2 ? SB_ETOOBIG : SB_OK));
    if (rc == SB_OK)
        FZ_CHECK((long)got_n == wn && memcmp(got, want, got_n) == 0);
}

static void check_query(const sb_http_request_t *req) {
    sb_str_t q = req->query;
    if (q.n > 400)
        q.n = 400; /* keeps ref_query_get's key buffer sufficient */
    static const sb_str_t keys[] = {SB_LIT("EIO"), SB_LIT("transport"), SB_LIT("sid"), SB_LIT("t"),
                                    SB_LIT("")};
    for (size_t k = 0; k < 5; k++)
        check_query_key(q, keys[k]);
    check_query_pairs(q);
    check_path(req->path);
}

/* ---- chunked body --------------------------------------------------------- */

typedef struct {
    ssize_t rc;     /* last return: the consumed count of the final call, or an error */
    size_t in, out; /* total input consumed, payload produced */
    bool done;
    char *payload;
} chunk_result_t;

/* Decodes body[0..n) split at `cuts` (sorted, within [0, n]). */
static chunk_result_t chunk_run(const char *body, size_t n, const size_t *cuts, size_t ncuts,
                                uint64_t max_body) {
    chunk_result_t res = {0, 0, 0, false, malloc(n ? n : 1)};
    sb_http_chunked_t st = {0};
    size_t from = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t to = c < ncuts ? cuts[c] : n;
        size_t len = to - from, out_len = 777;
        char *piece = (char *)fz_dup(body + from, len);
        ssize_t r = sb_http_chunked_decode(&st, piece, len, &out_len, max_body);
        res.rc = r;
        if (r < 0) {
            FZ_CHECK(r == SB_EPROTO || r == SB_ETOOBIG);
            size_t again_n = 1;
            FZ_CHECK(sb_http_chunked_decode(&st, piece, len, &again_n, max_body) == r); /* sticky */
            free(piece);
            return res;
        }
        FZ_CHECK((size_t)r <= len && out_len <= (size_t)r);
        memcpy(res.payload + res.out, piece, out_len);
        res.out += out_len;
        res.in += (size_t)r;
        free(piece);
        res.done = sb_http_chunked_done(&st);
        if (!res.done) {
            FZ_CHECK((size_t)r == len); /* only the end of the body stops it early */
        } else {
            size_t z = 5;
            char dummy = 'x';
            FZ_CHECK(sb_http_chunked_decode(&st, &dummy, 1, &z, max_body) == 0 && z == 0);
            return res;
        }
        from = to;
    }
    return res;
}

/* Encodes payload[0..n) as a few chunks with an extension and a trailer. */
static size_t chunk_encode(const char *payload, size_t n, char *out) {
    size_t k = 0, i = 0, step = 1;
    while (i < n) {
        size_t m = n - i < step ? n - i : step;
        k += (size_t)sprintf(out + k, step % 2 ? "%zx\r\n" : "%zX ;ext=\"v\"\r\n", m);
        memcpy(out + k, payload + i, m);
        k += m;
        memcpy(out + k, "\r\n", 2);
        k += 2;
        i += m;
        step = step * 3 + 1;
    }
    memcpy(out + k, "0\r\nX-T: 1\r\n\r\n", 13);
    return k + 13;
}

static void check_chunked(const char *body, size_t n) {
    chunk_result_t one = chunk_run(body, n, NULL, 0, BODY_MAX);
    uint64_t seed = sb_str_hash(sb_str(body, n)) | 1;
    size_t cuts[8], nc = 0;
    for (int t = 0; t < 8 && n > 0; t++) {
        size_t c = (size_t)(seed >> (t * 8)) % (n + 1);
        size_t j = nc++;
        while (j > 0 && cuts[j - 1] > c) { /* insertion sort */
            cuts[j] = cuts[j - 1];
            j--;
        }
        cuts[j] = c;
    }
    chunk_result_t split = chunk_run(body, n, cuts, nc, BODY_MAX);
    FZ_CHECK((one.rc < 0) == (split.rc < 0));
    if (one.rc < 0) {
        FZ_CHECK(one.rc == split.rc);
    } else {
        FZ_CHECK(one.done == split.done && one.in == split.in && one.out == split.out);
        FZ_CHECK(memcmp(one.payload, split.payload, one.out) == 0);
    }
    if (one.rc >= 0 && one.done) {
        /* The limit is exact: the decoded size passes, one byte less fails. */
        chunk_result_t at = chunk_run(body, n, NULL, 0, one.out);
        FZ_CHECK(at.rc >= 0 && at.done && at.out == one.out);
        free(at.payload);
        if (one.out > 0) {
            chunk_result_t under = chunk_run(body, n, NULL, 0, one.out - 1);
            FZ_CHECK(under.rc == SB_ETOOBIG);
            free(under.payload);
        }
        /* Re-encoding the payload our own way decodes to the same bytes. */
        char *enc = malloc(one.out * 2 + 256);
        size_t en = chunk_encode(one.payload, one.out, enc);
        chunk_result_t back = chunk_run(enc, en, NULL, 0, BODY_MAX);
        FZ_CHECK(back.rc >= 0 && back.done && back.in == en && back.out == one.out);
        FZ_CHECK(memcmp(back.payload, one.payload, one.out) == 0);
        free(back.payload);
        free(enc);
    }
    free(one.payload);
    free(split.payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *p = (char *)fz_dup(data, size);
    sb_http_header_t h[BIG_HEADERS];
    sb_http_request_t req;
    ssize_t r = parse(p, size, &big, &req, h);
    size_t line_len = 0;
    if (r > 0)
        line_len = check_request(&req, p, (size_t)r, &big);
    int status = req.error_status;
    check_prefixes(p, size, r, status);
    check_tight(p, size, r, &req, line_len);
    /* check_tight/check_prefixes used their own request structs: req is intact. */
    if (r > 0) {
        check_headers(&req);
        check_query(&req);
        check_chunked(p + r, size - (size_t)r);
    } else if (size > 0 && (data[0] & 0x0F) == 0x0F) {
        check_chunked(p, size); /* bodies alone too, so the decoder sees raw bytes often */
    }
    free(p);
    return 0;
}
