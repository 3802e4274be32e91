/* Fuzzes the Redis adapter's broadcast decoder (src/cluster/wire.c). On any
 * input: it answers without reading past the input or allocating for
 * elements the input only claims. On a decoded message: the arguments are
 * JSON, attachments and room names lie inside the input, and encoding the
 * message again then decoding it is a fixed point after one round. Input: a msgpack message (or anything). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/wire.h"
#include "core/err.h"
#include "fuzz_util.h"

static sb_wire_msg_t first, second, third; /* large: not on the stack */

static void check_inside(const sb_wire_msg_t *m, const uint8_t *d, size_t n) {
    for (size_t i = 0; i < m->natts; i++)
        FZ_CHECK(fz_within(m->atts[i], d, n));
    for (size_t i = 0; i < m->nrooms; i++)
        FZ_CHECK(fz_within(m->rooms[i], d, n));
    for (size_t i = 0; i < m->nexcept; i++)
        FZ_CHECK(fz_within(m->except[i], d, n));
    FZ_CHECK(fz_within(m->event, d, n) && fz_within(m->uid, d, n));
}

/* Encodes m and decodes the result into *out. */
static void re_encode(const sb_wire_msg_t *m, sb_wire_msg_t *out, msgpack_sbuffer *buf) {
    sb_engine_broadcast_t b = {.nsp = m->nsp,
                               .event = m->event,
                               .args = sb_str(m->args, m->args_n),
                               .attachments = m->atts,
                               .nattachments = m->natts,
                               .to = {m->rooms, m->nrooms, m->except, m->nexcept},
                               .is_volatile = m->is_volatile,
                               .compress = m->compress};
    msgpack_sbuffer_init(buf);
    FZ_CHECK(sb_wire_encode_broadcast(buf, m->uid, &b) == SB_OK);
    /* out's slices point into buf: the caller keeps it until out is compared */
    FZ_CHECK(sb_wire_decode_broadcast(buf->data, buf->size, out) == SB_OK);
}

static bool same(const sb_wire_msg_t *a, const sb_wire_msg_t *b) {
    if (!sb_str_eq(a->event, b->event) || !sb_str_eq(a->uid, b->uid) || a->args_n != b->args_n ||
        memcmp(a->args, b->args, a->args_n) != 0 || a->natts != b->natts ||
        a->nrooms != b->nrooms || a->nexcept != b->nexcept || a->is_volatile != b->is_volatile)
        return false;
    for (size_t i = 0; i < a->natts; i++)
        if (!sb_str_eq(a->atts[i], b->atts[i]))
            return false;
    for (size_t i = 0; i < a->nrooms; i++)
        if (!sb_str_eq(a->rooms[i], b->rooms[i]))
            return false;
    return true;
}

/* Encoding renumbers attachments that a duplicate map key dropped, so the
 * first round may differ from the input in numbering only; from then on the
 * message is a fixed point. */
static void round_trip(const sb_wire_msg_t *m) {
    msgpack_sbuffer b2, b3;
    re_encode(m, &second, &b2);
    FZ_CHECK(sb_str_eq(second.event, m->event) && second.nrooms == m->nrooms &&
             second.natts <= m->natts);
    re_encode(&second, &third, &b3);
    FZ_CHECK(same(&second, &third));
    sb_wire_msg_dispose(&second);
    sb_wire_msg_dispose(&third);
    msgpack_sbuffer_destroy(&b2);
    msgpack_sbuffer_destroy(&b3);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    int rc = sb_wire_decode_broadcast(d, n, &first);
    if (rc == SB_OK) {
        check_inside(&first, d, n);
        json_t *args = sb_wire_parse_args(sb_str(first.args, first.args_n));
        FZ_CHECK(args != NULL);
        json_decref(args);
        round_trip(&first);
    }
    sb_wire_msg_dispose(&first);
    return 0;
}
