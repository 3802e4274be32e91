/* Deep validators (STYLE H20) for unit tests and SB_VALIDATE in debug
 * builds: each walks the whole structure and returns SB_OK, or SB_EPROTO
 * when an invariant is broken. O(size): never on a release hot path. */
#ifndef SB_CORE_VALIDATE_H
#define SB_CORE_VALIDATE_H

#include "core/conn.h"
#include "core/loop.h"

/* Timer wheel: every armed timer is linked in the slot of its due tick (or
 * the next one when armed already due), belongs to this loop, and the count
 * of armed timers is exact; the task list is well linked. */
int sb_loop_validate(const sb_loop_t *l);
/* Output ring of one connection: NULL exactly when empty, a power-of-two
 * capacity of at least 8, head and length inside it, every slot holding a
 * frame, and oq_bytes the sum of the queued slices. */
int sb_conn_outq_validate(const sb_conn_t *c);
/* Every connection's ring, the live count against the list of connections,
 * and the cache of emptied ring arrays against its byte count and cap. */
int sb_conn_ctx_validate(const sb_conn_ctx_t *ctx);

#endif
