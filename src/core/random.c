#include "core/random.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static void refill(sb_random_t *r) {
    if (getrandom(r->_buf, sizeof r->_buf, 0) != (ssize_t)sizeof r->_buf)
        abort();
    r->_left = sizeof r->_buf;
}

void sb_random_bytes(sb_random_t *r, void *out, size_t n) {
    if (n > SB_RANDOM_BLOCK)
        abort(); /* a caller's bug: no id is that long */
    if (r->_left < n)
        refill(r);
    uint8_t *from = r->_buf + sizeof r->_buf - r->_left;
    memcpy(out, from, n);
    explicit_bzero(from, n);
    r->_left = (uint16_t)(r->_left - n);
}
