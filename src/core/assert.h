/* Invariants as code (STYLE H20): SB_ASSERT checks a condition that must
 * hold in debug and sanitizer builds (-DSB_DEBUG: `make MODE=asan`) and
 * costs nothing in release builds; SB_VALIDATE runs a deep validator
 * (sb_<x>_validate, returning SB_OK) the same way. A failure prints the
 * condition and where, then aborts, so the sanitizer shows the stack. */
#ifndef SB_CORE_ASSERT_H
#define SB_CORE_ASSERT_H

#include "core/err.h"

void sb__assert_fail(const char *cond, const char *file, int line) __attribute__((noreturn));

#ifdef SB_DEBUG
#define SB_ASSERT(e) (SB_LIKELY(e) ? (void)0 : sb__assert_fail(#e, __FILE__, __LINE__))
#define SB_VALIDATE(fn, obj) SB_ASSERT((fn)(obj) == SB_OK)
#else
#define SB_ASSERT(e) ((void)0)
#define SB_VALIDATE(fn, obj) ((void)0)
#endif

#endif
