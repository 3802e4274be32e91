/* Command-line set-up shared by the switchboard binary and embedders. */
#include <jansson.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "app/server.h"
#include "app/config.h"
#include "core/err.h"
#include "core/log.h"
#include "switchboard.h"

#ifdef SB_DEBUG
#define SB_BUILD_KIND "debug checks on"
#else
#define SB_BUILD_KIND "release"
#endif
#if defined(__clang__)
#define SB_BUILD_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define SB_BUILD_COMPILER "gcc " __VERSION__
#else
#define SB_BUILD_COMPILER "an unknown compiler"
#endif
#ifdef __SANITIZE_ADDRESS__
#define SB_BUILD_SANITIZER ", AddressSanitizer"
#else
#define SB_BUILD_SANITIZER ""
#endif

/* --version: what an operator needs in a bug report. */
static void print_version(FILE *out) {
    fprintf(out, "switchboard %s\n", SB_VERSION_STRING);
    fprintf(out, "build: %s%s, %s\n", SB_BUILD_KIND, SB_BUILD_SANITIZER, SB_BUILD_COMPILER);
    fprintf(out, "libraries: %s, SQLite %s, jansson %s, zlib %s\n",
            OpenSSL_version(OPENSSL_VERSION), sqlite3_libversion(), JANSSON_VERSION, zlibVersion());
}

int sb_config_from_args(sb_config_t *cfg, int argc, char **argv) {
    char err[512] = "";
    sb_config_init(cfg);
    int rc = sb_config_load(cfg, argc, argv, err, sizeof err);
    if (rc == SB_CONFIG_VERSION)
        print_version(stdout);
    if (rc == SB_CONFIG_HELP || rc == SB_CONFIG_VERSION) {
        sb_config_dispose(cfg);
        return 1;
    }
    int lvl = sb_log_level_parse(cfg->log_level);
    if (rc == SB_OK && lvl < 0)
        snprintf(err, sizeof err, "invalid --log-level '%s' (debug|info|warn|error|off)",
                 cfg->log_level);
    else if (rc == SB_OK && strcmp(cfg->log_format, "text") && strcmp(cfg->log_format, "json"))
        snprintf(err, sizeof err, "invalid --log-format '%s' (text|json)", cfg->log_format);
    if (err[0]) {
        fprintf(stderr, "%s: %s\n", argv[0], err);
        sb_config_dispose(cfg);
        return 2;
    }
    sb_log_cfg.level = (sb_log_level_t)lvl;
    sb_log_cfg.json = strcmp(cfg->log_format, "json") == 0;
    return 0;
}
