/* The public layer (include/switchboard.h) over the internal layers: its
 * state rides on the server (sb_server_set_ext) and is freed with it. */
#ifndef SB_APP_PUBLIC_INTERNAL_H
#define SB_APP_PUBLIC_INTERNAL_H

#include "app/server.h"
#include "app/config.h"
#include "core/list.h"
#include "core/log.h"
#include "core/err.h"
#include "ws/ws.h"
#include "engineio/engineio.h"
#include "socketio/socketio.h"

#include <switchboard.h>

#define SB_PUB_MAX_STOP_HOOKS 16

typedef struct {
    void (*fn)(void *ud);
    void *ud;
} sb_pub_hook_t;

typedef struct {
    sb_server_t *srv;
    sb_config_t cfg; /* the server's settings when the public layer created it */
    bool owns_cfg;
    sb_pub_hook_t stop_hooks[SB_PUB_MAX_STOP_HOOKS];
    size_t nstop_hooks;
    sb_list_t records; /* registrations kept for the server's life (sb_pub_keep) */
    sb_list_t alarms;
    sb_list_t deferred;
    sb_list_t nsps; /* public_sio.c: namespaces with public callbacks */
    sb_builtins_t *builtins;
    void (*builtins_free)(sb_builtins_t *b);
} sb_pub_t;

/* The public state of a server, created on first use; NULL on OOM. */
sb_pub_t *sb_pub__of(sb_server_t *srv);
/* Zeroed memory freed with the server; NULL on OOM. */
void *sb_pub__keep(sb_server_t *srv, size_t size);
/* After another layer set a namespace's callbacks directly (the built-ins),
 * puts the public dispatchers back in front of them. */
void sb_pub__rechain(sb_nsp_t *nsp);

#endif
