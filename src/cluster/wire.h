/* The wire format of @socket.io/redis-adapter 8.x (classic PUB/SUB) and
 * @socket.io/redis-emitter: channel names, the msgpack broadcast message
 * [uid, packet, opts] and conversions between Socket.IO arguments (raw JSON
 * with attachment placeholders) and msgpack values (binary as `bin`).
 * Pure: bytes in, values out; no I/O. docs/cluster.md describes the format. */
#ifndef SB_CLUSTER_WIRE_H
#define SB_CLUSTER_WIRE_H

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"
#include "hub/engine.h"

#define SB_WIRE_MAX_DEPTH 32        /* nesting of a decoded message (msgpack-c's own stack) */
#define SB_WIRE_MAX_ROOMS 1024      /* rooms or except entries in one broadcast */
#define SB_WIRE_MAX_ATTACHMENTS 256 /* binary values in one packet */
#define SB_WIRE_MAX_ARGS 32         /* arguments after the event name */

/* Checks that p[0..n) holds exactly one well-formed msgpack value whose
 * declared lengths all fit in the bytes that follow them (so decoding never
 * reserves memory for elements that are not there), nested at most
 * SB_WIRE_MAX_DEPTH deep. Returns SB_OK, SB_EPROTO (truncated, malformed,
 * trailing bytes, a length past the end) or SB_EDEPTH. */
int sb_wire_check(const void *p, size_t n);

/* Appends [uid, {type:2, data:[event, ...args], nsp}, {rooms, except,
 * flags}] to `out`. Arguments are parsed as JSON; placeholders that name an
 * attachment become `bin`. Returns SB_OK, SB_EPROTO (arguments are not
 * JSON) or SB_ENOMEM. */
int sb_wire_encode_broadcast(msgpack_sbuffer *out, sb_str_t uid, const sb_engine_broadcast_t *b);

/* A decoded broadcast. Slices point into the message
 * bytes given to the decoder, or into `json` (the arguments), or into
 * `atts` storage, all owned by this struct: valid until disposed. */
typedef struct {
    msgpack_unpacked msg;
    sb_str_t uid; /* empty when absent (emitter requests) */
    sb_str_t nsp;
    sb_str_t event;
    char *args; /* raw JSON, comma-separated */
    size_t args_n;
    sb_str_t atts[SB_WIRE_MAX_ATTACHMENTS];
    size_t natts;
    sb_str_t rooms[SB_WIRE_MAX_ROOMS], except[SB_WIRE_MAX_ROOMS];
    size_t nrooms, nexcept;
    bool is_volatile, compress;
    bool has_packet;
} sb_wire_msg_t;

/* Decodes a broadcast message [uid, packet, opts]. `m` is initialized by
 * the call and must be disposed whatever it returns. Returns SB_OK,
 * SB_EPROTO (malformed, wrong types, not an EVENT), SB_EDEPTH, SB_ETOOBIG
 * (past a SB_WIRE_MAX_*) or SB_ENOMEM. */
int sb_wire_decode_broadcast(const void *p, size_t n, sb_wire_msg_t *m);

void sb_wire_msg_dispose(sb_wire_msg_t *m);

/* Converts a decoded msgpack value to JSON: bin (and the legacy ArrayBuffer
 * ext) becomes a placeholder for a new entry of atts[] (*natts grows, up to
 * cap), timestamps become ISO-8601 strings, non-string map keys are written
 * as text, NaN and infinities become null, legacy `undefined` null.
 * Returns a new reference, or NULL (SB_ETOOBIG past cap / OOM in *err). */
json_t *sb_wire_to_json(const msgpack_object *o, sb_str_t *atts, size_t *natts, size_t cap,
                        int *err);

/* Packs a JSON value; objects that are placeholders for one of atts[0..n)
 * become `bin`. */
int sb_wire_pack_json(msgpack_packer *pk, const json_t *v, const sb_str_t *atts, size_t n);

/* Parses raw comma-separated JSON arguments into an array (integers too big
 * for 64 bits become reals, as in JavaScript). NULL when not JSON. */
json_t *sb_wire_parse_args(sb_str_t args);

/* Writes each element of `arr` as compact JSON, comma-separated, into a
 * malloc'ed buffer (*out, *n). SB_OK or SB_ENOMEM. */
int sb_wire_dump_args(const json_t *arr, size_t from, char **out, size_t *n);

/* Channel names. `out` gets NUL-terminated text; returns its length, or 0
 * when it does not fit. */
size_t sb_wire_channel(char *out, size_t cap, sb_str_t key, sb_str_t nsp, const sb_str_t *room);
size_t sb_wire_request_channel(char *out, size_t cap, sb_str_t key, sb_str_t nsp);
size_t sb_wire_response_channel(char *out, size_t cap, sb_str_t key, sb_str_t nsp,
                                const sb_str_t *uid);

/* Splits a broadcast channel "<key>#<nsp>#[<room>#]" into the namespace
 * and the room (empty when none). False when it is not one of ours. */
bool sb_wire_parse_channel(sb_str_t channel, sb_str_t key, sb_str_t nsp, sb_str_t *room);

#endif
