/* Server-Sent Events (the WHATWG text/event-stream format) over an HTTP/1.1
 * answer that stays open: the head goes out at once, then events as they
 * come, until either side ends it. Output is bounded like any connection's
 * (--max-outq-bytes): a reader that stops reading is cut as a slow consumer. */
#ifndef SB_HTTP_SSE_H
#define SB_HTTP_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "http/http.h"

typedef struct sb_http_sse sb_http_sse_t;

/* Called once when the stream ends (peer gone, cut, server shutdown or
 * sb_http_sse_close); the stream is freed right after it returns. */
typedef void (*sb_http_sse_close_fn)(sb_http_sse_t *s, void *ud);

/* Answers `r` with 200 text/event-stream (Cache-Control: no-cache, the CORS
 * headers of any answer, Connection: close: the end of the body is the end of
 * the stream) and takes its connection over; `r` is freed. `retry_ms` > 0 is
 * sent as the client's reconnection delay. Returns NULL when out of memory
 * (then `r` was answered 500). */
sb_http_sse_t *sb_http_sse_start(sb_http_req_t *r, uint32_t retry_ms, sb_http_sse_close_fn on_close,
                                 void *ud);
/* Queues one event: `event` (NULL: the default "message") and `id` (NULL:
 * none) must hold no CR or LF; data[0..n) may span lines (each becomes a
 * "data:" line). Returns SB_OK, SB_EINVAL for a CR/LF in event or id,
 * SB_ECLOSED once the stream is ending, SB_ENOMEM. */
int sb_http_sse_send(sb_http_sse_t *s, const char *event, const char *id, const char *data,
                     size_t n);
/* Queues a comment line (": text"), which readers ignore: a keep-alive that
 * stops proxies from timing the stream out. */
int sb_http_sse_comment(sb_http_sse_t *s, const char *text);
/* Bytes queued and not yet written to the peer. */
size_t sb_http_sse_queued(const sb_http_sse_t *s);
/* Ends the stream once what is queued is written; on_close follows. */
void sb_http_sse_close(sb_http_sse_t *s);
/* The same, for an owner going away: on_close is not called. */
void sb_http_sse_abandon(sb_http_sse_t *s);

/* ---- the wire format (http/sse_format.c): pure, the one formatter of every
 * SSE writer. A field value (event, id, comment) holding CR, LF or NUL is
 * refused (0): it would end its line early or be cut short by the reader.
 * Data may hold anything: each line of it (CR, LF and CRLF all end a line,
 * as readers split them) becomes a "data: " line, so no byte of data can
 * start a field of its own. Every function returns the length written, or 0
 * when the result does not fit in cap or a value is refused. */

/* "event: <event>\n" (none when event is empty), then the data lines: an
 * event without its end, for a writer that shares one body between readers
 * and ends it with each reader's own id. */
size_t sb_http_sse_format_body(sb_str_t event, const char *data, size_t n, char *out, size_t cap);
/* The bytes sb_http_sse_format_body needs (whether or not the event name is valid). */
size_t sb_http_sse_body_size(sb_str_t event, const char *data, size_t n);
/* "id: <id>\n" (none when id is empty), then the blank line that ends an event. */
size_t sb_http_sse_format_end(sb_str_t id, char *out, size_t cap);
/* ": <text>\n\n": a comment, which readers ignore (a keep-alive). */
size_t sb_http_sse_format_comment(sb_str_t text, char *out, size_t cap);
/* "retry: <ms>\n\n": the reader's reconnection delay. */
size_t sb_http_sse_format_retry(uint32_t ms, char *out, size_t cap);
/* One whole event: body, then end (event and id NULL: none). */
size_t sb_http_sse_format(const char *event, const char *id, const char *data, size_t n, char *out,
                          size_t cap);
/* The bytes sb_http_sse_format needs for these arguments. */
size_t sb_http_sse_format_size(const char *event, const char *id, const char *data, size_t n);

#endif
