#include "core/heap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
#define SB_HEAP_CAN_TRIM 1

static uint64_t now_us(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Resident bytes of the process (/proc/self/statm), 0 when unknown. */
static size_t resident_bytes(void) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p;
    strtoull(buf, &p, 10); /* total size, then resident pages */
    return (size_t)strtoull(p, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

static unsigned doubled(unsigned v, unsigned max) { return v * 2 > max ? max : v * 2; }

/* Looks at the allocator and trims when worth it; `grew` / `shrunk`: the
 * resident size moved by a step since the last look. Returns true when it
 * trimmed. */
static bool look(sb_heap_trimmer_t *t, bool grew, bool shrunk) {
    size_t free_now = mallinfo2().fordblks;
    size_t moved =
        free_now > t->free_at_trim ? free_now - t->free_at_trim : t->free_at_trim - free_now;
    bool burst = t->trims == 0 || grew || moved >= SB_HEAP_TRIM_STEP;
    bool again = ++t->looks_since_trim >= t->again_looks;
    if (free_now < SB_HEAP_TRIM_MIN_FREE || !(burst || again)) {
        t->look_every = grew || shrunk ? 1 : doubled(t->look_every, SB_HEAP_LOOK_EVERY_MAX);
        return false;
    }
    size_t before = resident_bytes();
    malloc_trim(0);
    t->rss_at_look = resident_bytes();
    t->returned = before > t->rss_at_look ? before - t->rss_at_look : 0;
    t->free_at_trim = mallinfo2().fordblks;
    t->looks_since_trim = 0;
    t->trims++;
    /* Trimming while nothing comes back costs a walk of the free chunks
     * each time: looks and periodic trims slow down until one gives back. */
    if (t->returned >= SB_HEAP_TRIM_LITTLE) {
        t->again_looks = SB_HEAP_TRIM_AGAIN_LOOKS;
        t->look_every = 1;
    } else {
        if (!burst)
            t->again_looks = doubled(t->again_looks, SB_HEAP_TRIM_AGAIN_LOOKS_MAX);
        t->look_every = grew || shrunk ? 1 : doubled(t->look_every, SB_HEAP_LOOK_EVERY_MAX);
    }
    return true;
}
#endif

bool sb_heap_trim_if_worth(sb_heap_trimmer_t *t) {
#ifdef SB_HEAP_CAN_TRIM
    if (!t->again_looks) {
        t->again_looks = SB_HEAP_TRIM_AGAIN_LOOKS;
        t->look_every = 1;
    }
    size_t rss = resident_bytes();
    bool grew = rss >= t->rss_at_look + SB_HEAP_TRIM_STEP;
    /* Shrunk by a step: glibc gave back the top of the heap after frees,
     * which leave free pages in the middle too. */
    bool shrunk = rss + SB_HEAP_TRIM_STEP <= t->rss_at_look;
    if (!grew && !shrunk && ++t->ticks_since_look < t->look_every)
        return false;
    t->ticks_since_look = 0;
    t->rss_at_look = rss;
    uint64_t w0 = now_us(CLOCK_MONOTONIC), c0 = now_us(CLOCK_THREAD_CPUTIME_ID);
    bool trimmed = look(t, grew, shrunk);
    uint64_t took = now_us(CLOCK_MONOTONIC) - w0, cpu = now_us(CLOCK_THREAD_CPUTIME_ID) - c0;
    t->trim_us += took;
    if (took > t->trim_us_max)
        t->trim_us_max = took;
    if (cpu > t->trim_cpu_us_max)
        t->trim_cpu_us_max = cpu;
    return trimmed;
#else
    (void)t;
    return false;
#endif
}
