/* The switchboard program: configuration, the server, the built-in features
 * and the operations API, wired together. */
#ifndef SB_APP_APP_H
#define SB_APP_APP_H

#include <stddef.h>

/* Parses argv/env/config file, runs the server until shutdown; returns the
 * process exit code. */
int sb_app_main(int argc, char **argv);
/* The same, serving client[0..n) (the Socket.IO browser client, compiled
 * into the switchboard binary; n 0: none) at <path>socket.io.min.js. */
int sb_app_main_with_client(int argc, char **argv, const unsigned char *client, size_t n);

#endif
