/* One error currency for every layer: 0 is success, negative values come from
 * this table. Parsers additionally return a positive byte count on success. */
#ifndef SB_CORE_ERR_H
#define SB_CORE_ERR_H

#define SB_ERR_MAP(X)                                                                              \
    X(AGAIN, -11, "incomplete input or would block")                                               \
    X(NOMEM, -12, "out of memory")                                                                 \
    X(INVAL, -22, "invalid argument")                                                              \
    X(PROTO, -1001, "protocol violation")                                                          \
    X(TOOBIG, -1002, "limit exceeded")                                                             \
    X(UTF8, -1003, "invalid UTF-8")                                                                \
    X(NOTFOUND, -1004, "not found")                                                                \
    X(CLOSED, -1005, "connection closed")                                                          \
    X(AUTH, -1006, "authentication failed")                                                        \
    X(EXISTS, -1007, "already exists")                                                             \
    X(IO, -1008, "I/O error")                                                                      \
    X(TIMEOUT, -1009, "timed out")                                                                 \
    X(DEPTH, -1010, "nesting too deep")                                                            \
    X(UNAVAIL, -1011, "unavailable")

enum {
    SB_OK = 0,
#define SB_ERR_ENUM(name, val, str) SB_E##name = (val),
    SB_ERR_MAP(SB_ERR_ENUM)
#undef SB_ERR_ENUM
};

/* Returns a static description of `err` (never NULL). */
const char *sb_strerror(int err);

#if defined(__GNUC__)
#define SB_LIKELY(x) __builtin_expect(!!(x), 1)
#define SB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SB_LIKELY(x) (x)
#define SB_UNLIKELY(x) (x)
#endif

#endif
