/* Giving free heap memory back to the kernel while the server stays busy.
 * glibc returns free memory at the top of the heap by itself, but not free
 * pages in the middle of it, which is where a burst (a storm of connects, a
 * large broadcast) leaves them once it is over; malloc_trim() does. Deciding
 * when is a policy, run every tick whatever the traffic (heartbeats never
 * stop on a busy server):
 *
 * - A look at the allocator (mallinfo2: how much is free) walks its free
 *   chunks, and so does a trim (one madvise per chunk, also for pages an
 *   earlier trim gave back): ~2 ms each with the ~18,000 free chunks a
 *   19,000-user disconnect storm leaves. So the resident size (cheap) is
 *   read first, and the allocator is looked at when that moved by a step
 *   (grew: pages dirtied by a burst; shrunk: glibc gave back the top of the
 *   heap after frees), else every `look_every` ticks, a period that doubles
 *   while looks find nothing worth a trim.
 * - A look trims when much is free and the free amount moved since the
 *   last trim, or the resident size grew, or enough looks passed since the
 *   last trim: a burst can take the free chunks a trim emptied, dirty their
 *   pages again and free them without moving the free amount. */
#ifndef SB_CORE_HEAP_H
#define SB_CORE_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Trim only when at least this much of the heap is free... */
#define SB_HEAP_TRIM_MIN_FREE (4u << 20)
/* ...and the free amount moved, or the resident size grew, by this much
 * since the last trim: after a trim the free chunks stay (their pages are
 * gone), so the free amount alone would trim again and again for nothing. */
#define SB_HEAP_TRIM_STEP (1u << 20)
/* ...or this many looks passed since the last trim. */
#define SB_HEAP_TRIM_AGAIN_LOOKS 2
/* A trim that gave back less than this was for little: the looks before
 * the next one of that kind double, up to SB_HEAP_TRIM_AGAIN_LOOKS_MAX. */
#define SB_HEAP_TRIM_LITTLE (256u << 10)
#define SB_HEAP_TRIM_AGAIN_LOOKS_MAX 32
/* Ticks between looks while they find nothing: doubling up to this. */
#define SB_HEAP_LOOK_EVERY_MAX 32

typedef struct {
    size_t free_at_trim; /* heap bytes free right after the last trim */
    size_t rss_at_look;  /* resident bytes after the last look */
    size_t returned;     /* resident bytes the last trim gave back */
    uint64_t trims;
    unsigned looks_since_trim;
    unsigned again_looks; /* looks before a trim again; 0: SB_HEAP_TRIM_AGAIN_LOOKS */
    unsigned ticks_since_look;
    unsigned look_every;           /* ticks between looks while nothing happens; 0: 1 */
    uint64_t trim_us, trim_us_max; /* a look and its trim: all, the longest */
    uint64_t trim_cpu_us_max;      /* the most CPU time one took (the rest: waiting) */
} sb_heap_trimmer_t;

/* One tick of the policy above. Returns true when it trimmed. Without
 * glibc: false. */
bool sb_heap_trim_if_worth(sb_heap_trimmer_t *t);

#endif
