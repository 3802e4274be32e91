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
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", ts,
                level_names[lvl], esc);
    } else {
        fprintf(stderr, "%s %-5s %s\n", ts, level_names[lvl], msg);
    }
}
