/* Random bytes from the kernel (getrandom), drawn a block at a time: a
 * connect takes three ids (Engine.IO session, socket, recovery pid), and
 * one system call per id was a measurable part of a connect storm. The
 * block lives in the server that draws from it; bytes handed out are wiped
 * from it. */
#ifndef SB_CORE_RANDOM_H
#define SB_CORE_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#define SB_RANDOM_BLOCK 256

/* Embeddable; zero-initialised it is empty. Fields private. */
typedef struct {
    uint8_t _buf[SB_RANDOM_BLOCK];
    uint16_t _left; /* unused bytes, at the end of _buf */
} sb_random_t;

/* Fills out[0..n) with random bytes, n <= SB_RANDOM_BLOCK. Aborts when the
 * kernel gives none: ids drawn from here must never be guessable. */
void sb_random_bytes(sb_random_t *r, void *out, size_t n);

#endif
