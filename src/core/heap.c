#include "core/heap.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

bool sb_heap_trim_if_worth(sb_heap_trimmer_t *t) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    size_t free_now = mallinfo2().fordblks;
    size_t moved =
        free_now > t->free_at_trim ? free_now - t->free_at_trim : t->free_at_trim - free_now;
    bool due = t->trims == 0 || moved >= SB_HEAP_TRIM_STEP ||
               ++t->looks_since_trim >= SB_HEAP_TRIM_AGAIN_LOOKS;
    if (free_now < SB_HEAP_TRIM_MIN_FREE || !due)
        return false;
    malloc_trim(0);
    t->free_at_trim = mallinfo2().fordblks;
    t->looks_since_trim = 0;
    t->trims++;
    return true;
#else
    (void)t;
    return false;
#endif
}
