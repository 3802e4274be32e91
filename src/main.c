#include "app/app.h"

/* The Socket.IO browser client, compiled in from the pinned npm package
 * (build/gen/browser_client.c, scripts/gen-browser-client.sh). */
extern const unsigned char sb_browser_client_js[];
extern const size_t sb_browser_client_js_len;

int main(int argc, char **argv) {
    return sb_app_main_with_client(argc, argv, sb_browser_client_js, sb_browser_client_js_len);
}
