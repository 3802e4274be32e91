/* Where a client's token comes from: the Socket.IO CONNECT auth payload, an
 * Authorization: Bearer header, or (only when allowed) a `token` query
 * parameter. */
#ifndef SB_AUTH_TOKEN_SOURCE_H
#define SB_AUTH_TOKEN_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

/* Finds `key` in a URL query string ("a=1&token=x") and percent-decodes its
 * value ('+' is a space) into out (NUL-terminated). False when absent,
 * malformed, or longer than cap - 1. */
bool sb_auth_query_param(sb_str_t query, const char *key, char *out, size_t cap);

#endif
