/* Clock, latency histogram, /proc readings, HS256 minting and JSON output
 * for the load generator. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lg.h"

int64_t lg_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- histogram: values below 64 µs exact, then 32 buckets per octave ---- */

static int hist_idx(uint64_t v) {
    if (v < 64)
        return (int)v;
    int e = 63 - __builtin_clzll(v);
    int i = 64 + (e - 6) * 32 + (int)((v >> (e - 5)) & 31);
    return i < LG_HB ? i : LG_HB - 1;
}

static double hist_val(int i) {
    if (i < 64)
        return i;
    int e = (i - 64) / 32 + 6;
    uint64_t sub = (uint64_t)((i - 64) % 32);
    double lo = (double)((32 + sub) << (e - 5));
    return lo + (double)(1ull << (e - 5)) / 2; /* middle of the bucket */
}

void lg_hist_add(lg_hist_t *h, int64_t us) {
    h->b[hist_idx(us < 0 ? 0 : (uint64_t)us)]++;
    h->n++;
}

void lg_hist_merge(lg_hist_t *dst, const lg_hist_t *src) {
    for (int i = 0; i < LG_HB; i++)
        dst->b[i] += src->b[i];
    dst->n += src->n;
}

double lg_hist_q(const lg_hist_t *h, double q) {
    if (h->n == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)h->n), seen = 0;
    if (want == 0)
        want = 1;
    for (int i = 0; i < LG_HB; i++) {
        seen += h->b[i];
        if (seen >= want)
            return hist_val(i);
    }
    return hist_val(LG_HB - 1);
}

/* ---- /proc ---------------------------------------------------------------- */

double lg_proc_cpu_ms(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name may hold spaces: fields are counted after its ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

long lg_proc_rss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

double lg_servers_cpu_ms(void) {
    double sum = 0;
    for (int i = 0; i < O.nservers; i++) {
        double v = lg_proc_cpu_ms(O.server_pids[i]);
        if (v < 0)
            return -1;
        sum += v;
    }
    return O.nservers ? sum : -1;
}

long lg_servers_rss_kb(void) {
    long sum = 0;
    for (int i = 0; i < O.nservers; i++) {
        long v = lg_proc_rss_kb(O.server_pids[i]);
        if (v < 0)
            return -1;
        sum += v;
    }
    return O.nservers ? sum : -1;
}

static double tv_ms(struct timeval tv) {
    return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

double lg_self_cpu_ms(void) {
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &b);
    return tv_ms(a.ru_utime) + tv_ms(a.ru_stime) + tv_ms(b.ru_utime) + tv_ms(b.ru_stime);
}

/* ---- HS256 ---------------------------------------------------------------- */

static size_t b64url(const unsigned char *in, size_t n, char *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18], out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63], out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = tab[v >> 18], out[o++] = tab[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = tab[v >> 18], out[o++] = tab[(v >> 12) & 63], out[o++] = tab[(v >> 6) & 63];
    }
    return o;
}

int lg_jwt_mint(const char *secret, const char *sub, char *out, size_t cap) {
    char claims[512];
    int cn = snprintf(claims, sizeof claims, "{\"sub\":\"%s\",\"name\":\"%s\",\"exp\":%lld}", sub,
                      sub, (long long)time(NULL) + 3600);
    static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    if (cn < 0 || (size_t)cn >= sizeof claims || cap < 64 + (size_t)cn * 2)
        return -1;
    size_t o = b64url((const unsigned char *)hdr, sizeof hdr - 1, out);
    out[o++] = '.';
    o += b64url((const unsigned char *)claims, (size_t)cn, out + o);
    unsigned char mac[32];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)out, o, mac, &maclen);
    out[o++] = '.';
    o += b64url(mac, maclen, out + o);
    out[o] = 0;
    return (int)o;
}

/* ---- JSON line ------------------------------------------------------------ */

static char jbuf[8192];
static size_t jlen;

static void jput(const char *fmt, const char *k, const char *v) {
    if (jlen + 1 < sizeof jbuf)
        jlen += (size_t)snprintf(jbuf + jlen, sizeof jbuf - jlen, fmt, jlen > 1 ? "," : "", k, v);
    if (jlen >= sizeof jbuf)
        jlen = sizeof jbuf - 1;
}

void lg_json_begin(void) { jlen = (size_t)snprintf(jbuf, sizeof jbuf, "{"); }
void lg_json_str(const char *k, const char *v) { jput("%s\"%s\":\"%s\"", k, v); }

void lg_json_num(const char *k, double v) {
    char s[64];
    if (!isfinite(v))
        snprintf(s, sizeof s, "null");
    else
        snprintf(s, sizeof s, "%.6g", v);
    jput("%s\"%s\":%s", k, s);
}

void lg_json_int(const char *k, long long v) {
    char s[32];
    snprintf(s, sizeof s, "%lld", v);
    jput("%s\"%s\":%s", k, s);
}

void lg_json_bool(const char *k, bool v) { jput("%s\"%s\":%s", k, v ? "true" : "false"); }

void lg_json_end(void) {
    printf("%s}\n", jbuf);
    fflush(stdout);
}
