#include "ws/utf8.h"

#include <string.h>

#include "core/err.h"

/* ---- State machine -------------------------------------------------------
 * A state names how many continuation bytes are still owed and the range the
 * very next one must fall in. Only the byte right after a lead byte has a
 * narrowed range (E0, ED, F0, F4); that narrowing is what rejects overlongs,
 * surrogates and values above U+10FFFF on the first impossible byte. */

enum {
    U_ACCEPT = 0, /* on a character boundary */
    U_TAIL1,      /* one more 80..BF */
    U_TAIL2,      /* two more 80..BF */
    U_TAIL3,      /* three more 80..BF */
    U_E0,         /* after E0: A0..BF, then one more */
    U_ED,         /* after ED: 80..9F (no surrogates), then one more */
    U_F0,         /* after F0: 90..BF, then two more */
    U_F4,         /* after F4: 80..8F (<= U+10FFFF), then two more */
    U_FAIL,       /* sticky error */
};

typedef struct {
    uint8_t lo, hi, next;
} u_cont_t;

/* Indexed by state; U_ACCEPT and U_FAIL are handled before the lookup. */
static const u_cont_t u_cont[] = {
    [U_TAIL1] = {0x80, 0xBF, U_ACCEPT}, [U_TAIL2] = {0x80, 0xBF, U_TAIL1},
    [U_TAIL3] = {0x80, 0xBF, U_TAIL2},  [U_E0] = {0xA0, 0xBF, U_TAIL1},
    [U_ED] = {0x80, 0x9F, U_TAIL1},     [U_F0] = {0x90, 0xBF, U_TAIL2},
    [U_F4] = {0x80, 0x8F, U_TAIL2},
};

/* State after a byte seen on a character boundary. C0, C1 and F5..FF can
 * never start a valid sequence; bare continuation bytes cannot either. */
static uint32_t u_lead(uint8_t b) {
    if (b < 0x80)
        return U_ACCEPT;
    if (b < 0xC2)
        return U_FAIL;
    if (b < 0xE0)
        return U_TAIL1;
    if (b == 0xE0)
        return U_E0;
    if (b == 0xED)
        return U_ED;
    if (b < 0xF0)
        return U_TAIL2;
    if (b == 0xF0)
        return U_F0;
    if (b < 0xF4)
        return U_TAIL3;
    return b == 0xF4 ? U_F4 : U_FAIL;
}

static uint32_t u_step(uint32_t s, uint8_t b) {
    if (s == U_ACCEPT)
        return u_lead(b);
    const u_cont_t *c = &u_cont[s];
    return (b >= c->lo && b <= c->hi) ? c->next : U_FAIL;
}

/* Skips the ASCII prefix of p[0..n) eight bytes at a time; returns its
 * length. memcpy keeps the wide loads free of alignment UB. */
static size_t u_ascii_run(const uint8_t *p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ULL)
            break;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

/* Runs the machine over p[0..n) from state s; returns the final state and
 * stops at the first failure. */
static uint32_t u_run(uint32_t s, const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n && s != U_FAIL) {
        if (s == U_ACCEPT && p[i] < 0x80) {
            i += u_ascii_run(p + i, n - i);
            continue;
        }
        s = u_step(s, p[i++]);
    }
    return s;
}

/* ---- Public API --------------------------------------------------------- */

int sb_utf8_feed(sb_utf8_t *st, const uint8_t *p, size_t n) {
    if (st->_state >= U_FAIL)
        return SB_EUTF8;
    st->_state = u_run(st->_state, p, n);
    return st->_state == U_FAIL ? SB_EUTF8 : SB_OK;
}

bool sb_utf8_complete(const sb_utf8_t *st) { return st->_state == U_ACCEPT; }

bool sb_utf8_valid(const uint8_t *p, size_t n) { return u_run(U_ACCEPT, p, n) == U_ACCEPT; }
