/* A refcounted, immutable outgoing packet. A broadcast encodes its packet once
 * into a frame and every recipient's output queue holds a reference; the
 * WebSocket header is cached in the headroom in front of `data`, so every
 * WebSocket recipient writes header and payload as one contiguous slice.
 * Frames belong to one worker thread: the count is not atomic. */
#ifndef SB_CORE_FRAME_H
#define SB_CORE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "core/slab.h"

enum {
    SB_FRAME_BINARY = 1u << 0,   /* raw bytes (an attachment), not text */
    SB_FRAME_VOLATILE = 1u << 1, /* may be dropped for a slow consumer */
};

#define SB_FRAME_HEADROOM 10 /* largest unmasked WebSocket header */

typedef struct sb_frame {
    uint32_t refs;
    uint32_t flags;
    struct sb_frame *next; /* following packets of one message (attachments); owned */
    sb_slab_t *slab;       /* where it goes back to (sb_frame_create_in), or NULL: free() */
    size_t len;
    uint8_t ws_hdr_len; /* 0 until the ws layer caches its header */
    uint8_t headroom[SB_FRAME_HEADROOM];
    char data[];
} sb_frame_t;

/* Allocates a frame of `len` bytes with refs = 1; copies `data` when not NULL.
 * Returns NULL when out of memory. */
sb_frame_t *sb_frame_create(const void *data, size_t len, uint32_t flags);
/* The same from `slab` (the worker's: sb_loop_t.slab), where the last
 * reference returns it: the packets made for every message are freed a
 * batch at a time, which overflows glibc's per-thread cache. */
sb_frame_t *sb_frame_create_in(sb_slab_t *slab, const void *data, size_t len, uint32_t flags);

static inline sb_frame_t *sb_frame_ref(sb_frame_t *f) {
    f->refs++;
    return f;
}

/* Drops one reference; the last one frees the frame and its `next` chain. */
void sb_frame_unref(sb_frame_t *f);

/* Total payload bytes of a frame and its chain. */
size_t sb_frame_chain_len(const sb_frame_t *f);

#endif
