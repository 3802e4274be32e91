/* Command-line set-up shared by the switchboard binary and embedders. */
#include <stdio.h>
#include <string.h>

#include "app/server.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"

int sb_config_from_args(sb_config_t *cfg, int argc, char **argv) {
    char err[512] = "";
    sb_config_init(cfg);
    int rc = sb_config_load(cfg, argc, argv, err, sizeof err);
    if (rc == 1) {
        sb_config_dispose(cfg);
        return 1;
    }
    int lvl = sb_log_level_parse(cfg->log_level);
    if (rc == SB_OK && lvl < 0)
        snprintf(err, sizeof err, "invalid --log-level '%s' (debug|info|warn|error|off)", cfg->log_level);
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
