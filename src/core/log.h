/* Leveled logging to stderr, as text or JSON lines. The macro checks the level
 * before evaluating its arguments, so disabled logs cost one compare. */
#ifndef SB_CORE_LOG_H
#define SB_CORE_LOG_H

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

#define sb_log(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((lvl) >= sb_log_cfg.level)                                                             \
            sb__log((lvl), __VA_ARGS__);                                                           \
    } while (0)
#define sb_log_debug(...) sb_log(SB_LOG_DEBUG, __VA_ARGS__)
#define sb_log_info(...) sb_log(SB_LOG_INFO, __VA_ARGS__)
#define sb_log_warn(...) sb_log(SB_LOG_WARN, __VA_ARGS__)
#define sb_log_error(...) sb_log(SB_LOG_ERROR, __VA_ARGS__)

#endif
