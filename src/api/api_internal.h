/* Private to src/api/. */
#ifndef SB_API_INTERNAL_H
#define SB_API_INTERNAL_H

#include <jansson.h>

#include "api/api.h"

struct sb_api {
    sb_api_config_t cfg;
};

/* True when the request carries the API key; otherwise answers 401. */
bool sb_api__authorized(sb_api_t *api, sb_http_req_t *req);
/* True when the method matches; otherwise answers 405. */
bool sb_api__method_is(sb_http_req_t *req, const char *method);
/* Answers `body` (stolen) as JSON. */
void sb_api__respond_json(sb_http_req_t *req, int status, json_t *body);
/* backend.c: /api/emit, /api/broadcast, /api/users/:id/presence */
int sb_api__register_backend(sb_api_t *api, sb_http_server_t *http);

#endif
