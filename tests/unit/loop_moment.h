/* Unit tests over a real loop: run it for a few ms, long enough that
 * deferred flushes and frees have run. */
#ifndef SB_TEST_LOOP_MOMENT_H
#define SB_TEST_LOOP_MOMENT_H

#include "core/loop.h"

static void loop_moment_stop(sb_timer_t *t) { sb_loop_stop(t->loop); }

static void run_a_moment(sb_loop_t *l) {
    sb_timer_t t;
    sb_timer_init(l, &t, loop_moment_stop);
    sb_timer_start(&t, 5);
    sb_loop_run(l);
}

#endif
