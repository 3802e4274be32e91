/* Sessions by sid: a chained hash that doubles as sessions pass twice its
 * buckets (chains of 1-2: a bucket pointer per two sessions). Calls nothing else of the layer, so that the session
 * lifecycle and the request dispatch may both use it. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "engineio/eio_internal.h"

static size_t bucket_of(const sb_eio_server_t *srv, const char *sid) {
    return (size_t)sb_str_hash(sb_cstr(sid)) & (srv->nbuckets - 1);
}

sb_eio_session_t *sb_eio__find(sb_eio_server_t *srv, const char *sid) {
    for (sb_eio_session_t *s = srv->buckets[bucket_of(srv, sid)]; s; s = s->hash_next)
        if (strcmp(s->sid, sid) == 0)
            return s;
    return NULL;
}

static int registry_grow(sb_eio_server_t *srv) {
    size_t nb = srv->nbuckets * 2;
    sb_eio_session_t **b = calloc(nb, sizeof *b);
    if (!b)
        return SB_ENOMEM;
    for (size_t i = 0; i < srv->nbuckets; i++) {
        sb_eio_session_t *s = srv->buckets[i], *next;
        for (; s; s = next) {
            next = s->hash_next;
            size_t at = (size_t)sb_str_hash(sb_cstr(s->sid)) & (nb - 1);
            s->hash_next = b[at];
            b[at] = s;
        }
    }
    free(srv->buckets);
    srv->buckets = b;
    srv->nbuckets = nb;
    return SB_OK;
}

int sb_eio__register(sb_eio_server_t *srv, sb_eio_session_t *s) {
    if (srv->count >= 2 * srv->nbuckets && registry_grow(srv) != SB_OK)
        return SB_ENOMEM;
    size_t at = bucket_of(srv, s->sid);
    s->hash_next = srv->buckets[at];
    srv->buckets[at] = s;
    srv->count++;
    return SB_OK;
}

void sb_eio__unregister(sb_eio_server_t *srv, sb_eio_session_t *s) {
    for (sb_eio_session_t **pp = &srv->buckets[bucket_of(srv, s->sid)]; *pp;
         pp = &(*pp)->hash_next) {
        if (*pp == s) {
            *pp = s->hash_next;
            srv->count--;
            return;
        }
    }
}
