#include "core/loop.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/str.h"

#define SB_MAX_EVENTS 256

uint64_t sb_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t sb_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_wake_fd(sb_io_t *io, uint32_t events) {
    sb_loop_t *l = sb_container_of(io, sb_loop_t, _wake_io);
    uint64_t v;
    while (read(io->fd, &v, sizeof v) > 0)
        ;
    if (l->on_wakeup)
        l->on_wakeup(l, l->wakeup_ud);
}

int sb_loop_init(sb_loop_t *l) {
    memset(l, 0, sizeof *l);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->epfd < 0 || l->wake_fd < 0) {
        sb_loop_dispose(l);
        return SB_EIO;
    }
    for (size_t i = 0; i < SB_WHEEL_SLOTS; i++)
        sb_list_init(&l->_slots[i]);
    sb_list_init(&l->_tasks);
    /* A batch of a thousand messages frees as many packets at once: blocks
     * kept for the next batch, not unmapped and mapped again (1 MiB a size). */
    sb_slab_keep_spares(&l->slab, 16);
    l->now_ms = sb_clock_ms();
    l->_wheel_tick = l->now_ms / SB_WHEEL_TICK_MS;
    sb_io_init(l, &l->_wake_io, l->wake_fd, on_wake_fd);
    return sb_io_set(&l->_wake_io, EPOLLIN);
}

void sb_loop_dispose(sb_loop_t *l) {
    if (l->epfd > 0)
        close(l->epfd);
    if (l->wake_fd > 0)
        close(l->wake_fd);
    l->epfd = l->wake_fd = -1;
    /* A frame still referenced here is a leak (the sanitizers name it):
     * it must not point into blocks given back. */
    if (sb_slab_live(&l->slab) == 0)
        sb_slab_dispose(&l->slab);
}

void sb_loop_stop(sb_loop_t *l) { l->stopping = true; }

void sb_loop_wakeup(sb_loop_t *l) {
    uint64_t one = 1;
    ssize_t r = write(l->wake_fd, &one, sizeof one);
    (void)r; /* EAGAIN means a wakeup is already pending */
}

/* ---- file descriptors ---------------------------------------------------- */

void sb_io_init(sb_loop_t *l, sb_io_t *io, int fd, sb_io_cb cb) {
    io->fd = fd;
    io->events = 0;
    io->cb = cb;
    io->loop = l;
}

int sb_io_set(sb_io_t *io, uint32_t events) {
    if (events == io->events)
        return SB_OK;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    int op = io->events == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (epoll_ctl(io->loop->epfd, op, io->fd, &ev) < 0 && op != EPOLL_CTL_DEL)
        return SB_EIO;
    io->events = events;
    return SB_OK;
}

/* ---- timers: a single-level hashed wheel; far timers wait extra laps ------ */

void sb_timer_init(sb_loop_t *l, sb_timer_t *t, sb_timer_cb cb) {
    memset(t, 0, sizeof *t);
    t->cb = cb;
    t->loop = l;
}

void sb_timer_start(sb_timer_t *t, uint64_t after_ms) {
    sb_timer_start_at(t, t->loop->now_ms + after_ms);
}

void sb_timer_start_at(sb_timer_t *t, uint64_t due_ms) {
    sb_loop_t *l = t->loop;
    sb_timer_stop(t);
    t->_due_ms = due_ms;
    uint64_t tick = (t->_due_ms + SB_WHEEL_TICK_MS - 1) / SB_WHEEL_TICK_MS;
    if (tick <= l->_wheel_tick)
        tick = l->_wheel_tick + 1;
    sb_list_push_tail(&l->_slots[tick % SB_WHEEL_SLOTS], &t->_node);
    l->_timers++;
}

void sb_timer_stop(sb_timer_t *t) {
    if (!sb_timer_active(t))
        return;
    sb_list_remove(&t->_node);
    t->loop->_timers--;
}

/* Fires the due timers of one slot. A callback may start or stop any timer,
 * including others in this slot, so the slot is first moved to a local list. */
static void wheel_run_slot(sb_loop_t *l, sb_list_t *slot) {
    sb_list_t due;
    sb_list_init(&due);
    sb_list_node_t *n, *tmp;
    sb_list_foreach_safe(n, tmp, slot) {
        sb_timer_t *t = sb_container_of(n, sb_timer_t, _node);
        if (t->_due_ms <= l->now_ms) {
            sb_list_remove(n);
            sb_list_push_tail(&due, n);
        }
    }
    while ((n = sb_list_pop_head(&due)) != NULL) {
        l->_timers--;
        sb_timer_t *t = sb_container_of(n, sb_timer_t, _node);
        t->cb(t);
    }
}

static void wheel_advance(sb_loop_t *l) {
    uint64_t now_tick = l->now_ms / SB_WHEEL_TICK_MS;
    uint64_t from = l->_wheel_tick + 1;
    if (now_tick >= from + SB_WHEEL_SLOTS)
        from = now_tick - SB_WHEEL_SLOTS + 1; /* a long stall: every slot once */
    for (uint64_t tick = from; tick <= now_tick && l->_timers; tick++)
        wheel_run_slot(l, &l->_slots[tick % SB_WHEEL_SLOTS]);
    l->_wheel_tick = now_tick;
}

/* Runs the wheel up to l->now_ms: for tests that drive time by hand. */
void sb_loop__advance_for_tests(sb_loop_t *l);
void sb_loop__advance_for_tests(sb_loop_t *l) { wheel_advance(l); }

/* Milliseconds until the next non-empty slot, or -1 without timers. */
static int wheel_timeout(const sb_loop_t *l) {
    if (l->_timers == 0)
        return -1;
    for (uint64_t i = 1; i <= SB_WHEEL_SLOTS; i++) {
        if (!sb_list_empty(&l->_slots[(l->_wheel_tick + i) % SB_WHEEL_SLOTS])) {
            uint64_t at = (l->_wheel_tick + i) * SB_WHEEL_TICK_MS;
            return at > l->now_ms ? (int)(at - l->now_ms) : 0;
        }
    }
    return SB_WHEEL_TICK_MS;
}

/* ---- deferred tasks ------------------------------------------------------- */

void sb_task_init(sb_task_t *t, sb_task_cb cb) {
    t->_node.next = t->_node.prev = NULL;
    t->cb = cb;
}

void sb_task_post(sb_loop_t *l, sb_task_t *t) {
    if (!sb_task_pending(t))
        sb_list_push_tail(&l->_tasks, &t->_node);
}

void sb_task_cancel(sb_task_t *t) {
    if (sb_task_pending(t))
        sb_list_remove(&t->_node);
}

/* Deferred work one loop turn may do before it polls again. A storm of N
 * closes (each a task that may post more) is then worked off in slices,
 * with reads, timers and the flushes it queued in between, instead of one
 * turn that holds everything it produced until the end. */
#define SB_TASKS_PER_TURN 1024

/* Runs tasks in order, including those the tasks post, up to the budget. */
static void run_tasks(sb_loop_t *l) {
    for (int budget = SB_TASKS_PER_TURN; budget > 0; budget--) {
        sb_list_node_t *n = sb_list_pop_head(&l->_tasks);
        if (!n)
            return;
        sb_task_t *t = sb_container_of(n, sb_task_t, _node);
        t->cb(t);
    }
}

int sb_loop_run(sb_loop_t *l) {
    struct epoll_event evs[SB_MAX_EVENTS];
    while (!l->stopping) {
        run_tasks(l);
        int timeout = sb_list_empty(&l->_tasks) ? wheel_timeout(l) : 0;
        int n = epoll_wait(l->epfd, evs, SB_MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            sb_log_error("epoll_wait: %s", strerror(errno));
            return SB_EIO;
        }
        l->now_ms = sb_clock_ms();
        for (int i = 0; i < n; i++) {
            sb_io_t *io = evs[i].data.ptr;
            io->cb(io, evs[i].events);
        }
        wheel_advance(l);
    }
    run_tasks(l);
    return SB_OK;
}
