/* LD_PRELOAD shim for tests/e2e/cli.test.mjs: makes the process believe the
 * kernel has no IPv6 (socket(AF_INET6, ...) fails with EAFNOSUPPORT, as on
 * a kernel booted with ipv6.disable=1), to check that the server falls
 * back to IPv4 when it cannot listen on [::]. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol) {
    static int (*real_socket)(int, int, int);
    if (domain == AF_INET6) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    if (!real_socket)
        real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
    return real_socket(domain, type, protocol);
}
