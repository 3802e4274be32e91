#include "core/err.h"

const char *sb_strerror(int err) {
    switch (err) {
    case SB_OK:
        return "ok";
#define SB_ERR_CASE(name, val, str)                                                                \
    case SB_E##name:                                                                               \
        return str;
        SB_ERR_MAP(SB_ERR_CASE)
#undef SB_ERR_CASE
    default:
        return "unknown error";
    }
}
