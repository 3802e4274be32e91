/* Leveled logging to stderr, as text or JSON lines. The macro checks the level
 * before evaluating its arguments, so disabled logs cost one compare. */
#ifndef SB_CORE_LOG_H
#define SB_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { SB_LOG_DEBUG, SB_LOG_INFO, SB_LOG_WARN, SB_LOG_ERROR, SB_LOG_OFF } sb_log_level_t;

/* Process-wide logging settings: written once at start-up, before any worker
 * runs, and read-only afterwards. */
typedef struct {
    sb_log_level_t level;
    int json; /* 1: JSON lines, 0: text */
} sb_log_config_t;

extern sb_log_config_t sb_log_cfg;

/* Parses "debug|info|warn|error|off"; returns -1 when unknown. */
int sb_log_level_parse(const char *s);

void sb__log(sb_log_level_t lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A named value of a structured line: text when str is set, else num. */
typedef struct {
    const char *key;
    const char *str;
    int64_t num;
} sb_log_field_t;
/* One line with fields, whatever the level setting (check it first): text
 * "msg key=value key=\"two words\"", JSON {"msg":..., "key":"value", "n":1}. */
void sb__log_fields(sb_log_level_t lvl, const char *msg, const sb_log_field_t *fields, size_t n);

#define sb_log(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((lvl) >= sb_log_cfg.level)                                                             \
            sb__log((lvl), __VA_ARGS__);                                                           \
    } while (0)
/* Per-kind rate limit for failure lines, so a fault that fails every
 * request logs a few lines, not one per request. Zero-initialize it (a
 * static or calloc'd object); it is thread-safe. */
#define SB_LOG_LIMIT_KINDS 16
#define SB_LOG_LIMIT_LINES 5 /* lines per kind per window */
#define SB_LOG_LIMIT_WINDOW_MS 10000
typedef struct {
    int lock; /* spin lock: taken only around a few stores */
    struct {
        uint32_t kind; /* hash of the kind name; 0: free */
        uint32_t lines;
        uint64_t suppressed;
        int64_t window_start_ms;
    } slot[SB_LOG_LIMIT_KINDS];
} sb_log_limiter_t;

/* True when a line of `kind` may be written now. When it returns true after
 * lines were dropped, *suppressed gets their number (else 0): say so in the
 * line. Kinds beyond SB_LOG_LIMIT_KINDS share slots (and limits). */
bool sb_log_limit(sb_log_limiter_t *l, const char *kind, uint64_t *suppressed);
/* Logs a line of `kind` at `lvl` unless the level is off or the limit for
 * the kind is reached; the first line after drops says how many. */
void sb_log_limited(sb_log_limiter_t *l, sb_log_level_t lvl, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define sb_log_debug(...) sb_log(SB_LOG_DEBUG, __VA_ARGS__)
#define sb_log_info(...) sb_log(SB_LOG_INFO, __VA_ARGS__)
#define sb_log_warn(...) sb_log(SB_LOG_WARN, __VA_ARGS__)
#define sb_log_error(...) sb_log(SB_LOG_ERROR, __VA_ARGS__)

#endif
