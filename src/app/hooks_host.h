/* The hooks layer (src/hooks/, --hook-url) behind the features' backend
 * interface (features.h), with its counters for /metrics. */
#ifndef SB_APP_HOOKS_HOST_H
#define SB_APP_HOOKS_HOST_H

#include "api/api.h"
#include "app/config.h"
#include "features/features.h"
#include "hooks/hooks.h"

/* Creates the hooks of `cfg` on `loop` and fills *backend for the features
 * (all zero, *out NULL, when --hook-url is empty). SB_OK or SB_EINVAL with a
 * message in err. */
int sb_hooks_host_create(sb_loop_t *loop, const sb_config_t *cfg, sb_hooks_t **out,
                         sb_feat_backend_t *backend, char *err, size_t cap);
/* Adds the counters of the hooks that are on to m (h may be NULL). */
void sb_hooks_host_metrics(const sb_hooks_t *h, sb_api_metrics_t *m);

#endif
