#include "app/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

typedef enum { T_STR, T_INT, T_BOOL } cfg_type_t;

typedef struct {
    const char *name;
    size_t offset;
    cfg_type_t type;
    const char *def;
    int64_t min, max; /* T_INT only */
    const char *help;
} cfg_row_t;

static const cfg_row_t rows[] = {
#define SB_CONFIG_ROW(n, f, type, d, lo, hi, h)                                                    \
    {n, offsetof(sb_config_t, f), T_##type, d, lo, hi, h},
    SB_CONFIG_MAP(SB_CONFIG_ROW)
#undef SB_CONFIG_ROW
};
#define NROWS (sizeof rows / sizeof rows[0])

static const cfg_row_t *row_find(const char *name) {
    for (size_t i = 0; i < NROWS; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

static int parse_bool(const char *v, bool *out) {
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off"))
        *out = false;
    else
        return SB_EINVAL;
    return SB_OK;
}

static int parse_int(const cfg_row_t *r, const char *v, int64_t *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < r->min || x > r->max)
        return SB_EINVAL;
    *out = x;
    return SB_OK;
}

/* Why `v` is not a value of row `r`, for messages. */
static void explain_bad(const cfg_row_t *r, char *out, size_t cap) {
    if (r->type == T_INT)
        snprintf(out, cap, "a whole number from %lld to %lld", (long long)r->min,
                 (long long)r->max);
    else if (r->type == T_BOOL)
        snprintf(out, cap, "true or false (also 1/0, yes/no, on/off)");
    else
        snprintf(out, cap, "text");
}

static int row_set(sb_config_t *c, const cfg_row_t *r, const char *v) {
    void *field = (char *)c + r->offset;
    if (r->type == T_INT)
        return parse_int(r, v, field);
    if (r->type == T_BOOL)
        return parse_bool(v, field);
    char *dup = strdup(v);
    if (!dup)
        return SB_ENOMEM;
    free(*(char **)field);
    *(char **)field = dup;
    return SB_OK;
}

void sb_config_init(sb_config_t *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NROWS; i++)
        row_set(c, &rows[i], rows[i].def);
}

void sb_config_dispose(sb_config_t *c) {
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].type == T_STR)
            free(*(char **)((char *)c + rows[i].offset));
    memset(c, 0, sizeof *c);
}

static int set_from(sb_config_t *c, const cfg_row_t *r, const char *value,
                    sb_config_source_t source) {
    int rc = row_set(c, r, value);
    if (rc == SB_OK)
        c->source[r - rows] = (unsigned char)source;
    return rc;
}

/* Set programmatically: counts as given explicitly, as a flag does. */
int sb_config_set(sb_config_t *c, const char *name, const char *value, char *err, size_t cap) {
    const cfg_row_t *r = row_find(name);
    if (!r) {
        snprintf(err, cap, "unknown setting '%s' (see --help)", name);
        return SB_ENOTFOUND;
    }
    int rc = set_from(c, r, value, SB_CONFIG_FLAG);
    if (rc == SB_EINVAL) {
        char want[96];
        explain_bad(r, want, sizeof want);
        snprintf(err, cap, "invalid value '%s' for --%s (expected %s)", value, name, want);
    }
    return rc;
}

bool sb_config_given(const sb_config_t *c, const char *name) {
    const cfg_row_t *r = row_find(name);
    return r && c->source[r - rows] != SB_CONFIG_DEFAULT;
}

/* SWITCHBOARD_JWT_SECRET -> jwt-secret */
static int apply_env(sb_config_t *c, char *err, size_t cap) {
    for (size_t i = 0; i < NROWS; i++) {
        char var[96] = "SWITCHBOARD_";
        size_t o = strlen(var);
        for (const char *p = rows[i].name; *p && o + 1 < sizeof var; p++)
            var[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        var[o] = '\0';
        const char *v = getenv(var);
        if (v && set_from(c, &rows[i], v, SB_CONFIG_ENV) != SB_OK) {
            char want[96];
            explain_bad(&rows[i], want, sizeof want);
            snprintf(err, cap, "environment variable %s: invalid value '%s' for --%s (expected %s)",
                     var, v, rows[i].name, want);
            return SB_EINVAL;
        }
    }
    return SB_OK;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* The value part of a config-file line, in place: a value in double or
 * single quotes is taken as written (no escapes); otherwise it ends at a '#'
 * that starts a comment (at the start or after a space). NULL when a quote
 * is not closed or text follows the closing quote. */
static char *file_value(char *v) {
    v = trim(v);
    if (*v == '"' || *v == '\'') {
        char *close = strchr(v + 1, *v);
        if (!close)
            return NULL;
        *close = '\0';
        char *rest = trim(close + 1);
        return *rest == '\0' || *rest == '#' ? v + 1 : NULL;
    }
    for (char *h = strchr(v, '#'); h; h = strchr(h + 1, '#'))
        if (h == v || isspace((unsigned char)h[-1])) {
            *h = '\0';
            break;
        }
    return trim(v);
}

/* One "name = value" line; names may use '_' for '-' (snake_case). */
static int file_line(sb_config_t *c, char *s, const char *where, char *err, size_t cap) {
    char *eq = strchr(s, '=');
    if (!eq) {
        snprintf(err, cap, "%s: expected name = value", where);
        return SB_EINVAL;
    }
    *eq = '\0';
    char *name = trim(s);
    for (char *p = name; *p; p++)
        if (*p == '_')
            *p = '-';
    const cfg_row_t *r = row_find(name);
    if (!r) {
        snprintf(err, cap, "%s: unknown setting '%s' (see --help)", where, name);
        return SB_EINVAL;
    }
    char *v = file_value(eq + 1);
    if (!v) {
        snprintf(err, cap, "%s: %s: unclosed quote, or text after the closing quote", where, name);
        return SB_EINVAL;
    }
    if (set_from(c, r, v, SB_CONFIG_FILE) != SB_OK) {
        char want[96];
        explain_bad(r, want, sizeof want);
        snprintf(err, cap, "%s: invalid value '%s' for %s (expected %s)", where, v, name, want);
        return SB_EINVAL;
    }
    return SB_OK;
}

/* Lines "name = value"; blank lines and '#' comments are ignored. */
int sb_config_load_file(sb_config_t *c, const char *path, char *err, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "cannot open config file %s: %s", path, strerror(errno));
        return SB_EINVAL;
    }
    char line[4096], where[512];
    int lineno = 0, rc = SB_OK;
    while (rc == SB_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        snprintf(where, sizeof where, "config file %s:%d", path, lineno);
        rc = file_line(c, s, where, err, cap);
    }
    fclose(f);
    return rc;
}

/* Accepts --name value, --name=value, and for booleans also --flag alone
 * (true) or --flag followed by a boolean word (what users type after
 * reading the help table). */
static int apply_arg(sb_config_t *c, int argc, char **argv, int *i, char *err, size_t cap) {
    const char *a = argv[*i] + 2;
    char name[64];
    const char *eq = strchr(a, '=');
    size_t n = eq ? (size_t)(eq - a) : strlen(a);
    if (n >= sizeof name) {
        snprintf(err, cap, "unknown option %s", argv[*i]);
        return SB_EINVAL;
    }
    memcpy(name, a, n);
    name[n] = '\0';
    const cfg_row_t *r = row_find(name);
    if (!r) {
        snprintf(err, cap, "unknown option --%s (see --help)", name);
        return SB_EINVAL;
    }
    const char *v = eq ? eq + 1 : NULL;
    bool ignored;
    if (!v && r->type == T_BOOL)
        v = *i + 1 < argc && parse_bool(argv[*i + 1], &ignored) == SB_OK ? argv[++*i] : "true";
    if (!v && *i + 1 < argc)
        v = argv[++*i];
    if (!v) {
        snprintf(err, cap, "option --%s needs a value", name);
        return SB_EINVAL;
    }
    if (sb_config_set(c, name, v, err, cap) == SB_OK)
        return SB_OK;
    size_t n2 = strlen(err);
    snprintf(err + n2, cap - n2, " on the command line");
    return SB_EINVAL;
}

static const char *find_config_arg(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--config=", 9))
            return argv[i] + 9;
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            return argv[i + 1];
    }
    return getenv("SWITCHBOARD_CONFIG");
}

int sb_config_load(sb_config_t *c, int argc, char **argv, char *err, size_t cap) {
    const char *file = find_config_arg(argc, argv);
    if (file && sb_config_load_file(c, file, err, cap) != SB_OK)
        return SB_EINVAL;
    if (apply_env(c, err, cap) != SB_OK)
        return SB_EINVAL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            sb_config_print_help(stdout, argv[0]);
            return SB_CONFIG_HELP;
        }
        if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V"))
            return SB_CONFIG_VERSION;
        if (!strcmp(argv[i], "--config")) {
            i++;
            continue;
        }
        if (!strncmp(argv[i], "--config=", 9))
            continue;
        if (strncmp(argv[i], "--", 2) != 0) {
            snprintf(err, cap, "unexpected argument '%s' (see --help)", argv[i]);
            return SB_EINVAL;
        }
        if (apply_arg(c, argc, argv, &i, err, cap) != SB_OK)
            return SB_EINVAL;
    }
    return SB_OK;
}

void sb_config_print_help(FILE *out, const char *prog) {
    fprintf(out, "Usage: %s [--config FILE] [--setting value ...]\n\n", prog);
    fprintf(out,
            "Every setting is also read from SWITCHBOARD_<NAME> (e.g. SWITCHBOARD_JWT_SECRET)\n"
            "and from a config file of 'name = value' lines.\n\n");
    fprintf(out, "  %-28s %s\n", "--config FILE", "read settings from FILE");
    fprintf(out, "  %-28s %s\n", "--version", "print the version and build information");
    for (size_t i = 0; i < NROWS; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s", rows[i].name, rows[i].type == T_BOOL ? "" : " V");
        char range[64] = "";
        if (rows[i].type == T_INT)
            snprintf(range, sizeof range, "; %lld-%lld", (long long)rows[i].min,
                     (long long)rows[i].max);
        fprintf(out, "  %-28s %s%s (default: %s)\n", flag, rows[i].help, range,
                rows[i].def[0] ? rows[i].def : "none");
    }
}
