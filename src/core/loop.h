/* The event loop: epoll for file descriptors, a timer wheel for deadlines,
 * and deferred tasks that run before each poll (output flushes, frees).
 * One loop per worker thread; nothing here is thread-safe except
 * sb_loop_wakeup(). */
#ifndef SB_CORE_LOOP_H
#define SB_CORE_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "core/list.h"
#include "core/slab.h"

#define SB_WHEEL_SLOTS 1024
#define SB_WHEEL_TICK_MS 8

typedef struct sb_loop sb_loop_t;

/* A watched file descriptor, embedded in its owner (H9). */
typedef struct sb_io sb_io_t;
typedef void (*sb_io_cb)(sb_io_t *io, uint32_t events);
struct sb_io {
    int fd;
    uint32_t events; /* EPOLLIN | EPOLLOUT | ... currently registered; 0 = not registered */
    sb_io_cb cb;
    sb_loop_t *loop;
};

/* A one-shot deadline, embedded in its owner; O(1) start and stop. */
typedef struct sb_timer sb_timer_t;
typedef void (*sb_timer_cb)(sb_timer_t *t);
struct sb_timer {
    sb_list_node_t _node;
    uint64_t _due_ms;
    sb_timer_cb cb;
    sb_loop_t *loop;
};

/* A task run once before the next poll; embedded in its owner. */
typedef struct sb_task sb_task_t;
typedef void (*sb_task_cb)(sb_task_t *t);
struct sb_task {
    sb_list_node_t _node;
    sb_task_cb cb;
};

struct sb_loop {
    int epfd;
    int wake_fd; /* eventfd: other threads call sb_loop_wakeup() */
    bool stopping;
    uint64_t now_ms;      /* monotonic, read once per iteration */
    uint64_t _wheel_tick; /* last processed tick */
    size_t _timers;       /* active timers */
    sb_list_t _slots[SB_WHEEL_SLOTS];
    sb_list_t _tasks;
    sb_io_t _wake_io;
    void (*on_wakeup)(sb_loop_t *l, void *ud);
    void *wakeup_ud;
    /* The worker's objects made for every message: its packets
     * (sb_frame_create_in), its calls (features). The loop goes last, so
     * whatever outlives the layers that made them still has its slab. */
    sb_slab_t slab;
};

/* Initializes caller-owned loop storage. Returns SB_OK or SB_EIO. */
int sb_loop_init(sb_loop_t *l);
void sb_loop_dispose(sb_loop_t *l);
/* Runs until sb_loop_stop(); returns SB_OK. */
int sb_loop_run(sb_loop_t *l);
void sb_loop_stop(sb_loop_t *l);
/* Thread-safe: makes the loop call l->on_wakeup from its own thread soon. */
void sb_loop_wakeup(sb_loop_t *l);
uint64_t sb_clock_ms(void);
/* Wall clock in milliseconds since the epoch (for timestamps users see). */
int64_t sb_wall_ms(void);

void sb_io_init(sb_loop_t *l, sb_io_t *io, int fd, sb_io_cb cb);
/* Registers or updates the events watched; 0 unregisters. Returns SB_OK or SB_EIO. */
int sb_io_set(sb_io_t *io, uint32_t events);

void sb_timer_init(sb_loop_t *l, sb_timer_t *t, sb_timer_cb cb);
/* (Re)arms the timer to fire `after_ms` from the loop's current time. */
void sb_timer_start(sb_timer_t *t, uint64_t after_ms);
/* Arms the timer for an absolute time on the loop's clock (a time already
 * past fires on the next tick). The wheel fires up to one tick late; a
 * deadline that must be exact is also checked with sb_timer_due() when
 * something happens. */
void sb_timer_start_at(sb_timer_t *t, uint64_t due_ms);
/* When the timer is (or last was) due, on the loop's clock. */
static inline uint64_t sb_timer_due(const sb_timer_t *t) { return t->_due_ms; }
void sb_timer_stop(sb_timer_t *t);
static inline bool sb_timer_active(const sb_timer_t *t) { return t->_node.next != NULL; }

void sb_task_init(sb_task_t *t, sb_task_cb cb);
/* Queues the task for the next before-poll phase; no-op if already queued. */
void sb_task_post(sb_loop_t *l, sb_task_t *t);
void sb_task_cancel(sb_task_t *t);
static inline bool sb_task_pending(const sb_task_t *t) { return t->_node.next != NULL; }

#endif
