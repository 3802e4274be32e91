/* Static files: path normalisation, content types, conditional requests,
 * gzip, and confinement of every file to the served folder. */
#include "http/static.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/err.h"
#include "http/parser.h"

#define SB_GZIP_MIN 256 /* smaller bodies are not worth the header */

struct sb_http_static {
    int root_fd;
    char *root_real; /* canonical path of the root, for the confinement check */
    size_t root_n;
};

/* One representation to send: the body, its validator, how to cache it. */
typedef struct {
    const char *data;
    size_t n;
    const char *etag, *content_type, *cache_control;
    bool gzip;   /* data is the gzip-coded form */
    bool varies; /* a gzip form exists: caches must key on Accept-Encoding */
} sb_rep_t;

struct sb_http_asset {
    char *data, *gz;
    size_t n, gz_n;
    char etag[48], gz_etag[48];
    char *content_type, *cache_control;
};

/* ---- pure helpers ------------------------------------------------------------- */

static int append(char *out, size_t cap, size_t *len, const char *p, size_t n) {
    if (*len + n + 1 > cap)
        return SB_ETOOBIG;
    memcpy(out + *len, p, n);
    *len += n;
    out[*len] = '\0';
    return SB_OK;
}

/* Checks one decoded segment and appends it (with a '/' before it unless first). */
static int add_segment(const char *seg, size_t n, char *out, size_t cap, size_t *len) {
    if (n == 0 || (n == 1 && seg[0] == '.'))
        return SB_OK;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)seg[i] < 0x20 || seg[i] == 0x7f || seg[i] == '\\')
            return SB_EPROTO;
    if (n == 2 && seg[0] == '.' && seg[1] == '.')
        return SB_EPROTO;
    if (seg[0] == '.')
        return SB_ENOTFOUND;
    if (*len && append(out, cap, len, "/", 1) != SB_OK)
        return SB_ETOOBIG;
    return append(out, cap, len, seg, n);
}

int sb_http_static_path(sb_str_t path, char *out, size_t cap) {
    char dec[SB_HTTP_STATIC_PATH_MAX];
    size_t dn = 0, len = 0;
    if (cap == 0)
        return SB_ETOOBIG;
    out[0] = '\0';
    if (path.n == 0 || path.p[0] != '/')
        return SB_EPROTO;
    int rc = sb_http_percent_decode(path, dec, sizeof dec, &dn);
    if (rc != SB_OK)
        return rc == SB_ETOOBIG ? SB_ETOOBIG : SB_EPROTO;
    /* Segments are split after decoding: an encoded "%2f" is a separator
     * too, so "..%2f" cannot hide a parent segment. */
    size_t start = 0;
    for (size_t i = 0; i <= dn; i++) {
        if (i < dn && dec[i] != '/')
            continue;
        rc = add_segment(dec + start, i - start, out, cap, &len);
        if (rc != SB_OK)
            return rc;
        start = i + 1;
    }
    if (len == 0 || dec[dn - 1] == '/')
        return append(out, cap, &len, len ? "/index.html" : "index.html", len ? 11 : 10);
    return SB_OK;
}

static const struct {
    const char *ext, *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"woff", "font/woff"},
    {"wasm", "application/wasm"},
    {"webmanifest", "application/manifest+json"},
};

const char *sb_http_static_type(const char *name) {
    const char *dot = strrchr(name, '.'), *slash = strrchr(name, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* Text compresses; images and fonts are compressed already. */
static bool compressible(const char *type) {
    return !strncmp(type, "text/", 5) || !strncmp(type, "application/json", 16) ||
           !strncmp(type, "image/svg", 9) || !strncmp(type, "application/manifest", 20);
}

static sb_str_t trim(sb_str_t s) {
    while (s.n && (s.p[0] == ' ' || s.p[0] == '\t'))
        s.p++, s.n--;
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

/* Splits `list` at commas; calls fn on each trimmed item until it returns true. */
static bool list_any(sb_str_t list, bool (*fn)(sb_str_t item, const void *ud), const void *ud) {
    size_t start = 0;
    for (size_t i = 0; i <= list.n; i++) {
        if (i < list.n && list.p[i] != ',')
            continue;
        if (fn(trim(sb_str(list.p + start, i - start)), ud))
            return true;
        start = i + 1;
    }
    return false;
}

/* "q=0", "q=0.0", "q=0.000": the coding is refused. */
static bool q_is_zero(sb_str_t params) {
    const char *q = memchr(params.p, 'q', params.n);
    if (!q || (size_t)(params.p + params.n - q) < 3 || q[1] != '=')
        return false;
    for (const char *p = q + 2; p < params.p + params.n && *p != ';'; p++)
        if (*p != '0' && *p != '.' && *p != ' ')
            return false;
    return true;
}

static bool item_accepts(sb_str_t item, const void *ud) {
    const char *name = ud;
    const char *semi = memchr(item.p, ';', item.n);
    sb_str_t coding = trim(sb_str(item.p, semi ? (size_t)(semi - item.p) : item.n));
    if (!sb_str_ieq(coding, sb_cstr(name)))
        return false;
    return !semi || !q_is_zero(sb_str(semi + 1, (size_t)(item.p + item.n - semi - 1)));
}

static bool item_names(sb_str_t item, const void *ud) {
    const char *semi = memchr(item.p, ';', item.n);
    sb_str_t coding = trim(sb_str(item.p, semi ? (size_t)(semi - item.p) : item.n));
    return sb_str_ieq(coding, sb_cstr(ud));
}

bool sb_http_accepts_gzip(sb_str_t ae) {
    if (list_any(ae, item_names, "gzip")) /* named: its own q decides */
        return list_any(ae, item_accepts, "gzip");
    return list_any(ae, item_accepts, "*");
}

static sb_str_t strip_weak(sb_str_t s) {
    return s.n >= 2 && s.p[0] == 'W' && s.p[1] == '/' ? sb_str(s.p + 2, s.n - 2) : s;
}

static bool item_is_etag(sb_str_t item, const void *ud) {
    return sb_str_eq(item, SB_LIT("*")) || sb_str_eq(strip_weak(item), strip_weak(sb_cstr(ud)));
}

bool sb_http_etag_matches(sb_str_t inm, const char *etag) {
    return list_any(inm, item_is_etag, etag);
}

/* ---- answering ----------------------------------------------------------------- */

/* The gzip form of data[0..n) in *out (malloc'd), or false when it is not
 * smaller or zlib fails. */
static bool gzip_make(const char *data, size_t n, char **out, size_t *out_n) {
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    size_t cap = deflateBound(&z, (uLong)n);
    char *buf = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)data; /* zlib's API is not const; it only reads */
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)cap;
    int zr = buf ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
    size_t got = cap - z.avail_out;
    deflateEnd(&z);
    if (zr != Z_STREAM_END || got >= n) {
        free(buf);
        return false;
    }
    *out = buf;
    *out_n = got;
    return true;
}

static bool method_ok(sb_http_req_t *r) {
    if (sb_str_eq(r->method, SB_LIT("GET")) || sb_str_eq(r->method, SB_LIT("HEAD")))
        return true;
    char body[] = "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"GET or HEAD only\"}}";
    sb_http_respond(r, 405, "application/json", body, sizeof body - 1, "Allow: GET, HEAD\r\n");
    return false;
}

static void send_rep(sb_http_req_t *r, const sb_rep_t *rep) {
    char extra[512];
    snprintf(extra, sizeof extra,
             "ETag: %s\r\nCache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n%s%s", rep->etag,
             rep->cache_control, rep->varies ? "Vary: Accept-Encoding\r\n" : "",
             rep->gzip ? "Content-Encoding: gzip\r\n" : "");
    const sb_str_t *inm = sb_http_req_header(r, "if-none-match");
    if (inm && sb_http_etag_matches(*inm, rep->etag)) {
        sb_http_respond(r, 304, NULL, NULL, 0, extra);
        return;
    }
    sb_http_respond(r, 200, rep->content_type, rep->data, rep->n, extra);
}

static bool wants_gzip(const sb_http_req_t *r) {
    const sb_str_t *ae = sb_http_req_header(r, "accept-encoding");
    return ae && sb_http_accepts_gzip(*ae);
}

/* ---- in-memory assets ------------------------------------------------------------ */

static void etag_of(const char *data, size_t n, const char *suffix, char *out, size_t cap) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)data[i]) * 1099511628211ULL;
    snprintf(out, cap, "\"%zx-%016" PRIx64 "%s\"", n, h, suffix);
}

sb_http_asset_t *sb_http_asset_create(const void *data, size_t n, const char *content_type,
                                      const char *cache_control) {
    sb_http_asset_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->data = malloc(n ? n : 1);
    a->content_type = strdup(content_type);
    a->cache_control = strdup(cache_control);
    if (!a->data || !a->content_type || !a->cache_control) {
        sb_http_asset_destroy(a);
        return NULL;
    }
    memcpy(a->data, data, n);
    a->n = n;
    etag_of(a->data, n, "", a->etag, sizeof a->etag);
    etag_of(a->data, n, "-gz", a->gz_etag, sizeof a->gz_etag);
    if (n >= SB_GZIP_MIN && compressible(content_type))
        gzip_make(a->data, n, &a->gz, &a->gz_n);
    return a;
}

void sb_http_asset_destroy(sb_http_asset_t *a) {
    if (!a)
        return;
    free(a->data);
    free(a->gz);
    free(a->content_type);
    free(a->cache_control);
    free(a);
}

void sb_http_asset_handle(sb_http_req_t *r, void *ud) {
    sb_http_asset_t *a = ud;
    if (!method_ok(r))
        return;
    bool gz = a->gz && wants_gzip(r);
    sb_rep_t rep = {.data = gz ? a->gz : a->data,
                    .n = gz ? a->gz_n : a->n,
                    .etag = gz ? a->gz_etag : a->etag,
                    .content_type = a->content_type,
                    .cache_control = a->cache_control,
                    .gzip = gz,
                    .varies = a->gz != NULL};
    send_rep(r, &rep);
}

/* ---- a folder ---------------------------------------------------------------------- */

int sb_http_static_create(const char *root, sb_http_static_t **out) {
    *out = NULL;
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOTDIR ? SB_EINVAL : SB_ENOTFOUND;
    sb_http_static_t *st = calloc(1, sizeof *st);
    char *real = realpath(root, NULL);
    if (!st || !real) {
        free(st);
        free(real);
        close(fd);
        return SB_ENOMEM;
    }
    *st = (sb_http_static_t){.root_fd = fd, .root_real = real, .root_n = strlen(real)};
    *out = st;
    return SB_OK;
}

void sb_http_static_destroy(sb_http_static_t *st) {
    if (!st)
        return;
    close(st->root_fd);
    free(st->root_real);
    free(st);
}

/* Whether the open file really lies under the root, whatever symlinks the
 * path went through: the kernel's own name for the descriptor says. */
static bool under_root(const sb_http_static_t *st, int fd) {
    char link[64], real[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, real, sizeof real - 1);
    if (n <= 0 || (size_t)n >= sizeof real - 1)
        return false;
    real[n] = '\0';
    if (st->root_n == 1) /* the root is "/" */
        return real[0] == '/';
    return (size_t)n > st->root_n && !memcmp(real, st->root_real, st->root_n) &&
           real[st->root_n] == '/';
}

/* Opens `rel` (a directory: its index.html) as a regular file under the root;
 * -1 when there is none. */
static int open_file(const sb_http_static_t *st, char *rel, size_t cap, struct stat *sbuf) {
    int fd = openat(st->root_fd, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd >= 0 && fstat(fd, sbuf) == 0 && S_ISDIR(sbuf->st_mode)) {
        close(fd);
        size_t n = strlen(rel);
        if (n + sizeof "/index.html" > cap)
            return -1;
        memcpy(rel + n, "/index.html", sizeof "/index.html");
        fd = openat(st->root_fd, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd >= 0 && fstat(fd, sbuf) != 0) {
            close(fd);
            return -1;
        }
    }
    if (fd >= 0 && (!S_ISREG(sbuf->st_mode) || !under_root(st, fd))) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool read_all(int fd, char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return true;
}

static void bad_path(sb_http_req_t *r, int rc) {
    if (rc == SB_ETOOBIG)
        sb_http_respond_error(r, 414, "path_too_long", "request path too long");
    else if (rc == SB_EPROTO)
        sb_http_respond_error(r, 400, "bad_path", "malformed or forbidden request path");
    else
        sb_http_respond_error(r, 404, "not_found", "no such file");
}

/* Sends the file's bytes, gzip-coded when that helps and is accepted. */
static void send_file(sb_http_req_t *r, const char *rel, const struct stat *sbuf, char *data) {
    size_t n = (size_t)sbuf->st_size;
    char etag[64], gz_etag[72];
    snprintf(etag, sizeof etag, "\"%zx-%llx-%lx\"", n, (unsigned long long)sbuf->st_mtim.tv_sec,
             (unsigned long)sbuf->st_mtim.tv_nsec);
    snprintf(gz_etag, sizeof gz_etag, "%.*s-gz\"", (int)strlen(etag) - 1, etag);
    const char *type = sb_http_static_type(rel);
    bool zippable = n >= SB_GZIP_MIN && compressible(type);
    char *gz = NULL;
    size_t gz_n = 0;
    bool gzip = zippable && wants_gzip(r) && gzip_make(data, n, &gz, &gz_n);
    sb_rep_t rep = {.data = gzip ? gz : data,
                    .n = gzip ? gz_n : n,
                    .etag = gzip ? gz_etag : etag,
                    .content_type = type,
                    .cache_control = "no-cache",
                    .gzip = gzip,
                    .varies = zippable};
    send_rep(r, &rep);
    free(gz);
}

void sb_http_static_handle(sb_http_req_t *r, void *ud) {
    sb_http_static_t *st = ud;
    char rel[SB_HTTP_STATIC_PATH_MAX + 16];
    struct stat sbuf;
    if (!method_ok(r))
        return;
    int rc = sb_http_static_path(r->path, rel, SB_HTTP_STATIC_PATH_MAX);
    int fd = rc == SB_OK ? open_file(st, rel, sizeof rel, &sbuf) : -1;
    if (rc != SB_OK || fd < 0) {
        bad_path(r, rc == SB_OK ? SB_ENOTFOUND : rc);
        return;
    }
    char *data = NULL;
    if (sbuf.st_size > SB_HTTP_STATIC_FILE_MAX) {
        sb_http_respond_error(r, 500, "file_too_large", "file too large to serve");
    } else if (!(data = malloc((size_t)sbuf.st_size + 1)) ||
               !read_all(fd, data, (size_t)sbuf.st_size)) {
        sb_http_respond_error(r, 500, "read_failed", "cannot read the file");
    } else {
        send_file(r, rel, &sbuf, data);
    }
    free(data);
    close(fd);
}
