/* Private to src/features/. */
#ifndef SB_FEATURES_INTERNAL_H
#define SB_FEATURES_INTERNAL_H

#include <jansson.h>

#include "core/map.h"
#include "features/features.h"

#define SB_USER_ID_MAX 128

/* A user with at least one connected device. */
typedef struct {
    char id[SB_USER_ID_MAX + 1];
    char *name, *avatar;
    uint32_t devices;
} sb_user_t;

/* Per-socket state, the socket's data pointer. */
typedef struct {
    sb_features_t *f;
    sb_sio_socket_t *sock;
    sb_user_t *user;
    int64_t exp; /* token expiry, seconds; 0: none */
    sb_timer_t expiry;
} sb_client_t;

struct sb_features {
    sb_loop_t *loop;
    sb_sio_nsp_t *nsp;
    sb_features_config_t cfg;
    sb_map_t users; /* id -> sb_user_t, online users only */
    uint64_t next_message_id;
    bool draining;
};

/* One row of an event table (STYLE H12). */
typedef struct {
    const char *name;
    void (*fn)(sb_client_t *c, sb_sio_event_t *ev);
} sb_feature_event_t;

/* features.c: replies */
/* Acks `result` (stolen) when the client asked for an ack. */
void sb_feat_reply(sb_sio_event_t *ev, json_t *result);
/* Answers an error: in the ack if asked for, else as an `error` event. */
void sb_feat_fail(sb_sio_event_t *ev, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Decodes argument i as JSON (NULL if absent); caller owns the result. */
json_t *sb_feat_arg(const sb_sio_event_t *ev, size_t i);
/* Serializes compactly and sends `event` with `payload` (stolen). */
int sb_feat_emit(sb_sio_socket_t *s, const char *event, json_t *payload);
long sb_feat_broadcast(sb_features_t *f, const sb_sio_target_t *t, const char *event, json_t *payload);
void sb_feat_iso_time(int64_t ms, char out[32]);
int sb_feat_register(sb_features_t *f, const sb_feature_event_t *rows, size_t n);

/* session.c: JWT middleware and per-socket state */
int sb_feat_session_init(sb_features_t *f);
/* Token check only, for namespaces without the built-in events. */
int sb_feat_session_guard(sb_features_t *f, sb_sio_nsp_t *nsp);
/* presence.c */
void sb_feat_presence_connect(sb_client_t *c);
void sb_feat_presence_disconnect(sb_client_t *c);
/* chat.c */
int sb_feat_chat_init(sb_features_t *f);
/* Validates a room name argument: fails the event and returns false. */
bool sb_feat_room_arg(sb_sio_event_t *ev, json_t *v, const char **room);

#endif
