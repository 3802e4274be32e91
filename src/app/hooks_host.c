/* --hook-url: the hooks layer plugged into the features. */
#include <stdio.h>
#include <string.h>

#include "app/hooks_host.h"
#include "core/err.h"

_Static_assert((int)SB_FEAT_HOOK_CONNECT == (int)SB_HOOK_CONNECT &&
                   (int)SB_FEAT_HOOK_EVENT == (int)SB_HOOK_EVENT &&
                   (int)SB_FEAT_HOOK_PUSH == (int)SB_HOOK_PUSH,
               "the features' hook kinds are the hooks layer's");
_Static_assert(SB_API_HOOK_BUCKETS == SB_HOOKS_LATENCY_NBUCKETS, "one latency histogram");

static bool backend_enabled(void *impl, sb_feat_hook_t hook) {
    return sb_hooks_enabled(impl, (sb_hook_kind_t)hook);
}

static int backend_post(void *impl, sb_feat_hook_t hook, sb_str_t body,
                        sb_feat_backend_done_fn done, void *ud) {
    return sb_hooks_post(impl, (sb_hook_kind_t)hook, body, done, ud);
}

int sb_hooks_host_create(sb_loop_t *loop, const sb_config_t *cfg, sb_hooks_t **out,
                         sb_feat_backend_t *backend, char *err, size_t cap) {
    *out = NULL;
    *backend = (sb_feat_backend_t){0};
    if (!cfg->hook_url[0])
        return SB_OK;
    bool allow = strcmp(cfg->hook_connect_fallback, "accept") == 0;
    if (!allow && strcmp(cfg->hook_connect_fallback, "reject") != 0) {
        snprintf(err, cap, "invalid --hook-connect-fallback '%s' (reject|accept)",
                 cfg->hook_connect_fallback);
        return SB_EINVAL;
    }
    sb_hooks_config_t hc = {.url = cfg->hook_url,
                            .enabled = cfg->hook_events,
                            .secret = cfg->hook_secret,
                            .timeout_ms = {[SB_HOOK_CONNECT] = (uint32_t)cfg->hook_connect_timeout,
                                           [SB_HOOK_EVENT] = (uint32_t)cfg->hook_event_timeout,
                                           [SB_HOOK_PUSH] = (uint32_t)cfg->hook_push_timeout},
                            .max_in_flight = (uint32_t)cfg->hook_max_in_flight,
                            .push_retries = (uint32_t)cfg->hook_push_retries,
                            .retry_backoff_ms = (uint32_t)cfg->hook_retry_backoff};
    *out = sb_hooks_create(loop, &hc, err, cap);
    if (!*out)
        return SB_EINVAL;
    *backend = (sb_feat_backend_t){.impl = *out,
                                   .enabled = backend_enabled,
                                   .post = backend_post,
                                   .event_names = cfg->hook_event_names,
                                   .connect_allow_on_failure = allow};
    return SB_OK;
}

void sb_hooks_host_metrics(const sb_hooks_t *h, sb_api_metrics_t *m) {
    for (sb_hook_kind_t k = 0; h && k < SB_HOOK_KINDS; k++) {
        if (!sb_hooks_enabled(h, k))
            continue;
        const sb_hook_stats_t *s = sb_hooks_stats(h, k);
        __typeof__(m->hooks[0]) *o = &m->hooks[m->nhooks++];
        *o = (__typeof__(*o)){.hook = sb_hook_kind_name(k),
                              .requests = s->requests,
                              .failures = s->failures,
                              .timeouts = s->timeouts,
                              .retries = s->retries,
                              .rejected = s->rejected,
                              .in_flight = s->in_flight,
                              .bounds_ms = SB_HOOKS_LATENCY_BOUNDS_MS,
                              .latency_ms_sum = s->latency_ms_sum};
        for (size_t b = 0; b <= SB_HOOKS_LATENCY_NBUCKETS; b++)
            o->latency[b] = s->latency_buckets[b];
    }
}
