#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

sb_log_config_t sb_log_cfg = {SB_LOG_INFO, 0};

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int sb_log_level_parse(const char *s) {
    for (int i = 0; i <= SB_LOG_OFF; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

static size_t format_time(char *out, size_t cap) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n;
}

/* Escapes the message for a JSON string; cuts at the buffer end. */
static void json_escape(const char *in, char *out, size_t cap) {
    size_t o = 0;
    for (; *in && o + 7 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

void sb__log(sb_log_level_t lvl, const char *fmt, ...) {
    char msg[1024], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    format_time(ts, sizeof ts);
    if (sb_log_cfg.json) {
        char esc[sizeof msg * 2];
        json_escape(msg, esc, sizeof esc);
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", ts, level_names[lvl],
                esc);
    } else {
        fprintf(stderr, "%s %-5s %s\n", ts, level_names[lvl], msg);
    }
}

/* Text form of one field value: bare when it is one word, else quoted. */
static size_t text_value(const char *v, char *out, size_t cap) {
    bool bare = *v != '\0' && strcspn(v, " \"=\\") == strlen(v);
    if (bare)
        return (size_t)snprintf(out, cap, "%s", v);
    char esc[512];
    json_escape(v, esc, sizeof esc);
    return (size_t)snprintf(out, cap, "\"%s\"", esc);
}

void sb__log_fields(sb_log_level_t lvl, const char *msg, const sb_log_field_t *fields, size_t n) {
    char line[2048], ts[40], esc[1024];
    size_t o = 0;
    format_time(ts, sizeof ts);
    if (sb_log_cfg.json) {
        json_escape(msg, esc, sizeof esc);
        o += (size_t)snprintf(line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"",
                              ts, level_names[lvl], esc);
    } else {
        o += (size_t)snprintf(line, sizeof line, "%s %-5s %s", ts, level_names[lvl], msg);
    }
    for (size_t i = 0; i < n && o < sizeof line; i++) {
        const sb_log_field_t *f = &fields[i];
        if (sb_log_cfg.json && f->str) {
            json_escape(f->str, esc, sizeof esc);
            o += (size_t)snprintf(line + o, sizeof line - o, ",\"%s\":\"%s\"", f->key, esc);
        } else if (sb_log_cfg.json) {
            o += (size_t)snprintf(line + o, sizeof line - o, ",\"%s\":%lld", f->key,
                                  (long long)f->num);
        } else if (f->str) {
            o += (size_t)snprintf(line + o, sizeof line - o, " %s=", f->key);
            if (o < sizeof line)
                o += text_value(f->str, line + o, sizeof line - o);
        } else {
            o += (size_t)snprintf(line + o, sizeof line - o, " %s=%lld", f->key, (long long)f->num);
        }
    }
    fprintf(stderr, "%s%s\n", line, sb_log_cfg.json ? "}" : "");
}

/* ---- rate limit per kind ------------------------------------------------------ */

static uint32_t kind_hash(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h ? h : 1;
}

static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool sb_log_limit(sb_log_limiter_t *l, const char *kind, uint64_t *suppressed) {
    uint32_t h = kind_hash(kind);
    int64_t now = monotonic_ms();
    while (__atomic_exchange_n(&l->lock, 1, __ATOMIC_ACQUIRE))
        ;
    __typeof__(&l->slot[0]) s = &l->slot[h % SB_LOG_LIMIT_KINDS];
    if (now - s->window_start_ms >= SB_LOG_LIMIT_WINDOW_MS) {
        s->lines = 0;
        s->window_start_ms = now;
    }
    /* Kinds sharing a slot share its limit: restarting it whenever the other
     * kind logs would let two alternating kinds (a failing request and its
     * database error) log every line. */
    if (s->kind != h) {
        s->suppressed = 0; /* another kind had the slot: its count is not ours */
        s->kind = h;
    }
    bool ok = s->lines < SB_LOG_LIMIT_LINES;
    *suppressed = 0;
    if (ok) {
        s->lines++;
        *suppressed = s->suppressed;
        s->suppressed = 0;
    } else {
        s->suppressed++;
    }
    __atomic_store_n(&l->lock, 0, __ATOMIC_RELEASE);
    return ok;
}

void sb_log_limited(sb_log_limiter_t *l, sb_log_level_t lvl, const char *kind, const char *fmt,
                    ...) {
    uint64_t dropped;
    if (lvl < sb_log_cfg.level || !sb_log_limit(l, kind, &dropped))
        return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (dropped)
        sb__log(lvl, "%s (%llu similar lines suppressed)", msg, (unsigned long long)dropped);
    else
        sb__log(lvl, "%s", msg);
}
