/* --reuse-port: several processes on one machine share one port, each a
 * node of the cluster. Engine.IO session ids start with the process's
 * hand-off slot, so a polling request that the kernel gives to another
 * process is passed to the owner (http/handoff.h) without asking anyone. */
#ifndef SB_APP_REUSE_PORT_H
#define SB_APP_REUSE_PORT_H

#include "http/handoff.h"

/* Claims a hand-off slot in `dir` ("" : /tmp/switchboard-handoff-<port>)
 * and sets *sid_prefix to the character session ids of this process start
 * with. NULL with a message in err. */
sb_http_handoff_t *sb_reuse_port_open(sb_http_server_t *http, const char *dir, int port,
                                      char *sid_prefix, char *err, size_t cap);
/* An sb_eio_handoff_fn (ud: the sb_http_handoff_t). */
int sb_reuse_port_hand_off(sb_http_req_t *req, char prefix, void *ud);

#endif
