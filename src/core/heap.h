/* Giving free heap memory back to the kernel while the server stays busy.
 * glibc returns free memory at the top of the heap by itself, but not free
 * pages in the middle of it, which is where a burst (a storm of connects, a
 * large broadcast) leaves them once it is over; malloc_trim() does, at a
 * cost that grows with the heap. Deciding when is a policy: trim when much
 * is free and the free amount changed since the last trim, whatever the
 * traffic (heartbeats never stop on a busy server). */
#ifndef SB_CORE_HEAP_H
#define SB_CORE_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Trim only when at least this much of the heap is free... */
#define SB_HEAP_TRIM_MIN_FREE (4u << 20)
/* ...and the free amount moved by this much since the last trim: after a
 * trim the free chunks stay (their pages are gone), so the free amount
 * alone would trim again and again for nothing. */
#define SB_HEAP_TRIM_STEP (1u << 20)
/* ...or this many looks passed since the last trim: a burst can take the
 * free chunks a trim emptied, dirty their pages again and free them, all
 * without moving the free amount, and those pages would stay resident. */
#define SB_HEAP_TRIM_AGAIN_LOOKS 2

typedef struct {
    size_t free_at_trim; /* heap bytes free right after the last trim */
    uint64_t trims;
    unsigned looks_since_trim;
} sb_heap_trimmer_t;

/* Looks at the allocator's free bytes (cost: a walk of its free lists) and
 * trims when worth it. Returns true when it trimmed. Without glibc: false. */
bool sb_heap_trim_if_worth(sb_heap_trimmer_t *t);

#endif
