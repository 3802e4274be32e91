/* Stored rows as clients see them: messages and notifications. Pure
 * formatting, used by the features that send them and by delivery.c. */
#include <stdlib.h>
#include <string.h>

#include "core/put.h"
#include "features/features_internal.h"

static const char *conversation_of(const char *room) {
    return strncmp(room, "conversation:", 13) == 0 ? room + 13 : NULL;
}

/* Sets o[key] to the text v; false (o unchanged) when v is NULL or not
 * UTF-8, where json_pack's "s" fails the whole value. */
static bool set_text(json_t *o, const char *key, const char *v) {
    json_t *s = v ? json_string(v) : NULL;
    return s && json_object_set_new_nocheck(o, key, s) == 0;
}

/* The message as clients see it, from a stored row: {id, senderId, content,
 * messageType, createdAt, sender: {id, name}, conversationId | roomId}, in
 * that order; NULL when a text is missing or not UTF-8. Built member by
 * member rather than by json_pack, which reads its format and copies each
 * text once more, for every message sent and every history row. */
json_t *sb_feat_message_json(const sb_store_msg_t *m, const char *sender_name) {
    char at[32];
    sb_feat_iso_time(m->created_at_ms, at);
    const char *conv = conversation_of(m->room);
    json_t *j = json_object(), *sender = json_object();
    bool ok = j && sender && json_object_set_new_nocheck(j, "id", json_integer(m->id)) == 0 &&
              set_text(j, "senderId", m->sender_id) && set_text(j, "content", m->content) &&
              set_text(j, "messageType", m->type) && set_text(j, "createdAt", at) &&
              set_text(sender, "id", m->sender_id) &&
              set_text(sender, "name", sender_name ? sender_name : m->sender_id) &&
              json_object_set_nocheck(j, "sender", sender) == 0;
    json_decref(sender);
    if (!ok) {
        json_decref(j);
        return NULL;
    }
    set_text(j, conv ? "conversationId" : "roomId", conv ? conv : m->room);
    return j;
}

/* ,"name":"text" (name needs no escape); false when text is NULL or not UTF-8. */
static bool put_member(char *out, size_t *k, const char *name, const char *text) {
    if (!text)
        return false;
    SB_PUT_LIT(out, k, ",\"");
    sb_put(out, k, name, strlen(name));
    SB_PUT_LIT(out, k, "\":");
    return sb_feat_json_put_string(out, k, text, strlen(text));
}

/* A member that json_object_set_new leaves out when its text is missing or
 * not UTF-8 (json_string says NULL), checked before a byte is written. */
static void put_optional(char *out, size_t *k, const char *name, const char *text) {
    size_t size = 0;
    if (text && sb_feat_json_put_string(NULL, &size, text, strlen(text)))
        put_member(out, k, name, text);
}

static bool put_message(char *out, size_t *k, const sb_store_msg_t *m, const char *sender_name,
                        const char *const extra[][2], size_t nextra) {
    char at[32];
    sb_feat_iso_time(m->created_at_ms, at);
    const char *conv = conversation_of(m->room);
    SB_PUT_LIT(out, k, "{\"id\":");
    sb_feat_json_put_int(out, k, m->id);
    if (!put_member(out, k, "senderId", m->sender_id) ||
        !put_member(out, k, "content", m->content) || !put_member(out, k, "messageType", m->type) ||
        !put_member(out, k, "createdAt", at))
        return false;
    SB_PUT_LIT(out, k, ",\"sender\":{\"id\":");
    if (!m->sender_id || !sb_feat_json_put_string(out, k, m->sender_id, strlen(m->sender_id)) ||
        !put_member(out, k, "name", sender_name ? sender_name : m->sender_id))
        return false;
    SB_PUT_LIT(out, k, "}");
    put_optional(out, k, conv ? "conversationId" : "roomId", conv ? conv : m->room);
    for (size_t i = 0; i < nextra; i++)
        put_optional(out, k, extra[i][0], extra[i][1]);
    SB_PUT_LIT(out, k, "}");
    return true;
}

char *sb_feat_message_text(const sb_store_msg_t *m, const char *sender_name,
                           const char *const extra[][2], size_t nextra, size_t *n) {
    size_t need = 0, k = 0;
    char *text = put_message(NULL, &need, m, sender_name, extra, nextra) ? malloc(need + 1) : NULL;
    if (text) {
        put_message(text, &k, m, sender_name, extra, nextra);
        text[k] = '\0';
    }
    *n = text ? k : 0;
    return text;
}

json_t *sb_features_message_json(const sb_store_msg_t *m) {
    return sb_feat_message_json(m, m->sender_name);
}

/* {id, type, title, message, data, isRead, createdAt}; data null when absent. */
json_t *sb_feat_notification_json(const sb_store_notification_t *n) {
    char at[32];
    sb_feat_iso_time(n->created_at_ms, at);
    /* JSON values keep U+0000 (stored as the escape): JSON_ALLOW_NUL. */
    json_t *data = n->data ? json_loads(n->data, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
    return json_pack("{s:I,s:s,s:s,s:s,s:o,s:b,s:s}", "id", (json_int_t)n->id, "type", n->type,
                     "title", n->title, "message", n->message, "data", data ? data : json_null(),
                     "isRead", n->is_read, "createdAt", at);
}

json_t *sb_features_notification_json(const sb_store_notification_t *n) {
    return sb_feat_notification_json(n);
}

/* A stored room message as chat:message carries it: {id, roomId, message,
 * type, sender: {id, name, avatar?}, createdAt}; a file's message is its
 * fileInfo object (stored as JSON text). */
json_t *sb_feat_chat_message_json(const sb_store_msg_t *m, const char *name, const char *avatar) {
    char at[32];
    sb_feat_iso_time(m->created_at_ms, at);
    json_t *sender = json_pack("{s:s,s:s}", "id", m->sender_id, "name", name ? name : m->sender_id);
    if (avatar && avatar[0])
        json_object_set_new(sender, "avatar", json_string(avatar));
    json_t *file =
        strcmp(m->type, "file") == 0 ? json_loads(m->content, JSON_ALLOW_NUL, NULL) : NULL;
    return json_pack("{s:I,s:s,s:o,s:s,s:o,s:s}", "id", (json_int_t)m->id, "roomId", m->room,
                     "message", file ? file : json_string(m->content), "type", m->type, "sender",
                     sender, "createdAt", at);
}

json_t *sb_features_room_message_json(const sb_store_msg_t *m) {
    return sb_feat_chat_message_json(m, m->sender_name, NULL);
}
