/* The built-ins installed from the whole sb_config_t (the switchboard
 * binary's path; embedders use sb_builtins_install in switchboard.h). */
#ifndef SB_APP_BUILTINS_H
#define SB_APP_BUILTINS_H

#include <stddef.h>

#include "app/server.h"
#include "app/config.h"

typedef struct sb_builtins sb_builtins_t;

/* --dev: a fixed JWT secret when none is given, with a warning; without
 * --dev a missing secret is SB_EINVAL (message in err). */
int sb_builtins__dev_secret(sb_config_t *cfg, char *err, size_t cap);
/* Checks the product settings (JWT secret, presence). SB_OK or SB_EINVAL
 * with a message in err. */
int sb_builtins__validate(const sb_config_t *cfg, char *err, size_t cap);
/* Installs the built-ins on `srv` with the product settings of `cfg`, which
 * must outlive the server; *out (may be NULL) gets them. SB_OK, SB_EINVAL
 * (a bad setting), SB_EIO (the store cannot open) or SB_ENOMEM, with a
 * message in err; what was set up is freed with the server. */
int sb_builtins__install(sb_server_t *srv, const sb_config_t *cfg, sb_builtins_t **out, char *err,
                         size_t cap);

#endif
