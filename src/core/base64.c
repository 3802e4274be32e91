#include "core/base64.h"

#include "core/err.h"

static const char alphabets[2][65] = {
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
};

int sb_base64_value(char c, sb_base64_t kind) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == alphabets[kind][62])
        return 62;
    if (c == alphabets[kind][63])
        return 63;
    return -1;
}

size_t sb_base64_encoded_len(size_t n, sb_base64_t kind) {
    static const size_t tail[3] = {0, 2, 3};
    return n / 3 * 4 + (kind == SB_BASE64_STD ? (n % 3 ? 4 : 0) : tail[n % 3]);
}

size_t sb_base64_encode(const uint8_t *in, size_t n, char *out, sb_base64_t kind) {
    const char *a = alphabets[kind];
    size_t o = 0, i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    size_t left = n - i;
    if (left == 0)
        return o;
    uint32_t v = (uint32_t)in[i] << 16 | (left == 2 ? (uint32_t)in[i + 1] << 8 : 0);
    out[o++] = a[v >> 18];
    out[o++] = a[(v >> 12) & 63];
    if (left == 2)
        out[o++] = a[(v >> 6) & 63];
    if (kind == SB_BASE64_STD) {
        if (left == 1)
            out[o++] = '=';
        out[o++] = '=';
    }
    return o;
}

/* The characters that carry data: for the padded alphabet, a length that is
 * a multiple of 4 without its one or two final '='. False for a bad length. */
static bool data_part(sb_str_t in, sb_base64_t kind, sb_str_t *data) {
    *data = in;
    if (kind == SB_BASE64_STD) {
        if (in.n % 4 != 0)
            return false;
        for (int k = 0; k < 2 && data->n > 0 && data->p[data->n - 1] == '='; k++)
            data->n--;
    }
    return data->n % 4 != 1;
}

static size_t decoded_len(size_t n) { return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0); }

/* The last character of a 2- or 3-character tail carries 4 or 2 unused bits. */
static bool tail_clean(int last, size_t n) {
    return n % 4 == 0 || (last & (n % 4 == 2 ? 0xF : 0x3)) == 0;
}

ssize_t sb_base64_decode(sb_str_t in, uint8_t *out, size_t cap, sb_base64_t kind) {
    sb_str_t d;
    if (!data_part(in, kind, &d))
        return SB_EPROTO;
    if (decoded_len(d.n) > cap)
        return SB_ETOOBIG;
    uint32_t acc = 0;
    size_t o = 0;
    int v = 0;
    for (size_t i = 0; i < d.n; i++) {
        if ((v = sb_base64_value(d.p[i], kind)) < 0)
            return SB_EPROTO;
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (uint8_t)(acc >> 16);
            out[o++] = (uint8_t)(acc >> 8);
            out[o++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (!tail_clean(v, d.n))
        return SB_EPROTO;
    if (d.n % 4 == 2) {
        out[o++] = (uint8_t)(acc >> 4);
    } else if (d.n % 4 == 3) {
        out[o++] = (uint8_t)(acc >> 10);
        out[o++] = (uint8_t)(acc >> 2);
    }
    return (ssize_t)o;
}

bool sb_base64_valid(sb_str_t in, sb_base64_t kind) {
    sb_str_t d;
    if (!data_part(in, kind, &d))
        return false;
    int v = 0;
    for (size_t i = 0; i < d.n; i++)
        if ((v = sb_base64_value(d.p[i], kind)) < 0)
            return false;
    return tail_clean(v, d.n);
}
