/* A peer's address as text. Apart from conn.c so that the TLS half of a
 * connection (conn_tls.c), which conn.c calls, can name the peer in its
 * logs without calling back into conn.c. */
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>

#include "core/conn.h"

void sb_peer_format(const sb_peer_addr_t *p, char *out, size_t cap) {
    int fam = p->family == AF_INET6 ? AF_INET6 : AF_INET;
    if (!inet_ntop(fam, p->addr, out, (socklen_t)cap))
        snprintf(out, cap, "?");
}

void sb_conn_peer_ip(const sb_conn_t *c, char *out, size_t cap) {
    sb_peer_format(&c->peer, out, cap);
}
