/* Static files over HTTP: a folder served read-only (content types, ETag and
 * If-None-Match, Cache-Control, gzip when the client accepts it), and single
 * in-memory assets such as the Socket.IO browser client. Nothing outside the
 * folder is reachable: no "..", no NUL, no dot-files, no symlink leading out. */
#ifndef SB_HTTP_STATIC_H
#define SB_HTTP_STATIC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"
#include "http/http.h"

#define SB_HTTP_STATIC_PATH_MAX 1024      /* decoded request path, bytes */
#define SB_HTTP_STATIC_FILE_MAX (8 << 20) /* largest file served, bytes */

typedef struct sb_http_static sb_http_static_t;
typedef struct sb_http_asset sb_http_asset_t;

/* Turns a request path ("/a/%62/./c/") into a path relative to the root
 * ("a/b/c/index.html") in out[0..cap), NUL-terminated. Percent escapes are
 * decoded, empty and "." segments dropped, a trailing slash (or the root
 * itself) names index.html. Returns SB_OK; SB_EPROTO for a malformed escape,
 * a NUL or other control byte, or a ".." segment; SB_ENOTFOUND for a segment
 * starting with '.' (hidden files); SB_ETOOBIG when it does not fit in cap.
 * Pure: no allocation, no file system. */
int sb_http_static_path(sb_str_t path, char *out, size_t cap);

/* The Content-Type for a file name, by extension ("application/octet-stream"
 * when unknown). */
const char *sb_http_static_type(const char *name);

/* True if an Accept-Encoding value accepts gzip (q=0 refuses it). */
bool sb_http_accepts_gzip(sb_str_t accept_encoding);

/* True if an If-None-Match value matches `etag` ("*", or one of a comma list,
 * compared weakly as RFC 9110 says for GET). */
bool sb_http_etag_matches(sb_str_t if_none_match, const char *etag);

/* Serves the folder `root` (which must exist: SB_ENOTFOUND otherwise, or
 * SB_EINVAL when it is not a directory). */
int sb_http_static_create(const char *root, sb_http_static_t **out);
void sb_http_static_destroy(sb_http_static_t *st);
/* A request handler (ud: the sb_http_static_t). GET and HEAD only; files are
 * read from disk at each request (they are meant to be small and hot in the
 * page cache), at most SB_HTTP_STATIC_FILE_MAX bytes. */
void sb_http_static_handle(sb_http_req_t *r, void *ud);

/* One in-memory file (copied), served with `content_type` and
 * `cache_control`; its gzip form is made once here. */
sb_http_asset_t *sb_http_asset_create(const void *data, size_t n, const char *content_type,
                                      const char *cache_control);
void sb_http_asset_destroy(sb_http_asset_t *a);
/* A request handler (ud: the sb_http_asset_t). */
void sb_http_asset_handle(sb_http_req_t *r, void *ud);

#endif
