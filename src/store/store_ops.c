/* The one file that knows every operation's exec function: the store
 * thread runs a request through it. The operation files call down into
 * store_request.c and store_sql.c, never here, so they form no cycle. */
#include "store/store_internal.h"

static int (*const execs[SB_STORE__OP__COUNT])(sb_store_t *st, sb_store__req_t *r) = {
#define SB_STORE__EXEC_ROW(name, args, kind, mode, retry)                                          \
    [SB_STORE__OP_##name] = sb_store__exec_##name,
    SB_STORE__OPS(SB_STORE__EXEC_ROW)
#undef SB_STORE__EXEC_ROW
};

int sb_store__run_op(sb_store_t *st, sb_store__req_t *r) {
    return execs[r->op - sb_store__ops](st, r);
}
