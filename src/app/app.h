/* The switchboard program: configuration, the server, the built-in features
 * and the operations API, wired together. */
#ifndef SB_APP_APP_H
#define SB_APP_APP_H

/* Parses argv/env/config file, runs the server until shutdown; returns the
 * process exit code. */
int sb_app_main(int argc, char **argv);

#endif
