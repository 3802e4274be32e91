#include "auth/token_source.h"

#include <string.h>

#include "core/hex.h"

static bool decode(sb_str_t in, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < in.n; i++) {
        char c = in.p[i];
        if (c == '%') {
            int hi = i + 2 < in.n ? sb_hex_value(in.p[i + 1]) : -1;
            int lo = hi >= 0 ? sb_hex_value(in.p[i + 2]) : -1;
            if (lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

bool sb_auth_query_param(sb_str_t query, const char *key, char *out, size_t cap) {
    size_t kn = strlen(key);
    const char *p = query.p, *end = query.p + query.n;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *seg_end = amp ? amp : end;
        if ((size_t)(seg_end - p) > kn && memcmp(p, key, kn) == 0 && p[kn] == '=')
            return decode(sb_str(p + kn + 1, (size_t)(seg_end - p - (ptrdiff_t)kn - 1)), out, cap);
        p = amp ? amp + 1 : NULL;
    }
    return false;
}
