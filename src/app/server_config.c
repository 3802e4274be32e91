/* The settings table (app/config.h) split into the server's part: each
 * layer's own config struct. The product settings go to app/builtins.c. */
#include "app/server.h"

static sb_http_config_t http_config_from(const sb_config_t *c) {
    size_t max_headers = (size_t)c->max_headers;
    if (max_headers > SB_HTTP_MAX_HEADERS)
        max_headers = SB_HTTP_MAX_HEADERS;
    return (sb_http_config_t){
        .limits = {.max_request_line = (size_t)c->max_request_line,
                   .max_head_bytes = (size_t)c->max_header_bytes,
                   .max_headers = max_headers},
        .max_body = (uint64_t)c->max_http_buffer_size,
        .header_timeout_ms = (uint32_t)c->header_timeout,
        .keepalive_timeout_ms = (uint32_t)c->keepalive_timeout,
        .cors_origins = c->cors_origins,
        .log_requests = c->log_connections,
        .reuse_port = c->reuse_port,
    };
}

static sb_eio_config_t eio_config_from(const sb_config_t *c) {
    return (sb_eio_config_t){.ping_interval_ms = (uint32_t)c->ping_interval,
                             .ping_timeout_ms = (uint32_t)c->ping_timeout,
                             .upgrade_timeout_ms = (uint32_t)c->upgrade_timeout,
                             .max_payload = (size_t)c->max_http_buffer_size,
                             .max_queue_bytes = (size_t)c->max_outq_bytes,
                             .handshakes_per_second_per_ip =
                                 (uint32_t)c->handshakes_per_second_per_ip,
                             .allow_polling = true,
                             .allow_websocket = true};
}

static sb_sio_config_t sio_config_from(const sb_config_t *c) {
    return (sb_sio_config_t){.connect_timeout_ms = (uint32_t)c->connect_timeout,
                             .max_attachments = (uint32_t)c->max_attachments,
                             .max_json_depth = (int)c->max_json_depth,
                             .max_rooms_per_socket = (uint32_t)c->max_rooms_per_socket,
                             .max_pending_acks = (uint32_t)c->max_pending_acks,
                             .events_per_second = (uint32_t)c->events_per_second,
                             .events_burst = (uint32_t)c->events_burst,
                             .volatile_events = c->volatile_events,
                             .volatile_per_second = (uint32_t)c->volatile_events_per_second,
                             .volatile_burst = (uint32_t)c->volatile_events_burst};
}

void sb_server_config_from(sb_server_config_t *out, const sb_config_t *c) {
    *out = (sb_server_config_t){
        .host = c->host,
        .port = (int)c->port,
        .path = c->path,
        .namespaces = c->namespaces,
        .ws_path = c->ws_path,
        .ws_single_room = c->ws_single_room,
        .tls_cert = c->tls_cert,
        .tls_key = c->tls_key,
        .drain_timeout_ms = (uint32_t)c->drain_timeout,
        .conns = {.max_inbuf = (size_t)c->max_http_buffer_size + 64 * 1024,
                  .max_outq = (size_t)c->max_outq_bytes,
                  .max_total_outq = (size_t)c->max_total_outq_bytes,
                  .max_conns = (size_t)c->max_connections,
                  .max_conns_per_ip = (size_t)c->max_connections_per_ip},
        .http = http_config_from(c),
        .ws = {.max_message = (size_t)c->max_http_buffer_size,
               .deflate = c->ws_deflate,
               .deflate_threshold = (size_t)c->ws_deflate_threshold,
               .close_timeout_ms = 2000},
        .eio = eio_config_from(c),
        .sio = sio_config_from(c),
        .cluster = {.url = c->redis_url,
                    .key = c->redis_key,
                    .max_queue_bytes = (uint64_t)c->redis_max_queue_bytes,
                    .node_timeout_ms = (uint32_t)c->cluster_node_timeout},
        .handoff_dir = c->handoff_dir,
    };
}
