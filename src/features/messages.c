/* Direct and group conversations: message:send, history, read receipts,
 * typing with expiry (delivery to recipients: delivery.c). A conversation's room is
 * "conversation:<id>"; only members may use it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/zalloc.h"
#include "features/features_internal.h"

#define SB_TYPE_MAX 32
#define SB_TYPING_EXPIRY_MS 3000
/* Recipients of a conversation this small are listed on the stack. */
#define SEND_FEW_MEMBERS 16

/* ---- message:send ----------------------------------------------------------------- */

typedef struct {
    char conv[SB_STORE_MAX_CONV_ID + 1];
    char receiver[SB_USER_ID_MAX + 1];
    char type[SB_TYPE_MAX + 1];
    char key[SB_STORE_MAX_KEY + 1];   /* clientMessageId; "" when none */
    char name[SB_STORE_MAX_NAME + 1]; /* the sender's, as it sent (it may be gone later) */
    char *content;                    /* the call's bytes after this struct (send_extra) */
    char **members;                   /* copied from the store, or `pair` */
    char *pair[2];                    /* a direct conversation's: the call's user and receiver */
    size_t nmembers;
    bool direct; /* by receiverId alone: the append opens the direct conversation */
    bool named;  /* the name is a backend's (senderName): stored with the message */
} send_t;

static send_t *send_of(sb_feat_call_t *call) { return (send_t *)(void *)call->extra; }

/* The call's extra bytes for a content of n bytes: the content follows. */
static size_t send_extra(size_t n) { return sizeof(send_t) + n + 1; }

static void send_content(send_t *s, const char *p, size_t n) {
    s->content = (char *)(s + 1);
    memcpy(s->content, p, n);
    s->content[n] = '\0';
}

static void send_end(sb_feat_call_t *call) {
    send_t *s = send_of(call);
    if (s->members != s->pair) {
        for (size_t i = 0; i < s->nmembers; i++)
            free(s->members[i]);
        free(s->members);
    }
    sb_feat_call_end(call);
}

static bool keep_members(send_t *s, const char *const *v, size_t n) {
    s->members = sb_zalloc((n ? n : 1) * sizeof *s->members);
    if (!s->members)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s->members[s->nmembers++] = strdup(v[i])))
            return false;
    return true;
}

/* A direct conversation's members: the strings the call holds already. */
static void pair_members(sb_feat_call_t *call) {
    send_t *s = send_of(call);
    s->pair[0] = call->user_id;
    s->pair[1] = s->receiver;
    s->members = s->pair;
    s->nmembers = 2;
}

static void send_on_appended(void *ud, int rc, const sb_store_msg_t *m);

/* "conversation:<id>" into room; its length. */
static size_t conversation_room(const char *conv, char room[SB_STORE_MAX_ROOM + 1]) {
    size_t k = sb_feat_copy(room, SB_STORE_MAX_ROOM + 1, SB_LIT("conversation:"));
    return k + sb_feat_copy(room + k, SB_STORE_MAX_ROOM + 1 - k, sb_cstr(conv));
}

/* Every member but the sender gets a pending delivery row in the message's
 * own transaction, online or not: whether a recipient is connected is
 * decided by the delivery itself (delivery.c), never before the commit. */
static void send_append(sb_feat_call_t *call) {
    send_t *s = send_of(call);
    char room[SB_STORE_MAX_ROOM + 1];
    sb_str_t few[SEND_FEW_MEMBERS];
    sb_str_t *rcpt = s->nmembers <= SEND_FEW_MEMBERS ? few : malloc(s->nmembers * sizeof *rcpt);
    size_t n = 0;
    for (size_t i = 0; rcpt && i < s->nmembers; i++)
        if (strcmp(s->members[i], call->user_id) != 0)
            rcpt[n++] = sb_cstr(s->members[i]);
    sb_store_message_in_t in = {.room = sb_str(room, conversation_room(s->conv, room)),
                                .sender_id = sb_cstr(call->user_id),
                                .content = sb_cstr(s->content),
                                .type = sb_cstr(s->type),
                                .created_at_ms = sb_wall_ms(),
                                .recipients = rcpt,
                                .n_recipients = n,
                                .idempotency_key = s->key[0] ? sb_cstr(s->key) : SB_STR_NULL,
                                .direct_with = s->direct ? sb_cstr(s->receiver) : SB_STR_NULL,
                                .sender_name = s->named ? sb_cstr(s->name) : SB_STR_NULL};
    int rc =
        rcpt ? sb_store_message_append(call->f->cfg.store, &in, send_on_appended, call) : SB_ENOMEM;
    if (rcpt != few)
        free(rcpt);
    if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
        send_end(call);
    }
}

/* The sender's name the message shows: the one stored with it (a retry
 * answered with the first attempt's message), else the sender's now. */
static const char *shown_name(const send_t *s, const sb_store_msg_t *m) {
    return m->sender_name ? m->sender_name : s->name;
}

/* The message as the sender's ack and every delivery carry it. */
static json_t *send_payload(sb_feat_call_t *call, const sb_store_msg_t *m) {
    send_t *s = send_of(call);
    json_t *msg = sb_feat_message_json(m, shown_name(s, m));
    if (s->receiver[0])
        json_object_set_new(msg, "receiverId", json_string(s->receiver));
    if (s->key[0])
        json_object_set_new(msg, "clientMessageId", json_string(s->key));
    return msg;
}

/* The message's text, made once and straight from the row for every copy
 * a socket gets: the deliveries, the sender's other devices, message:sent
 * and the ack. Its jansson value only where one is taken: message:new to a
 * conversation someone watches (delivery.c), an HTTP caller's answer. */
static void send_deliver(sb_feat_call_t *call, const sb_store_msg_t *m) {
    call->f->messages_total++;
    send_t *s = send_of(call);
    const char *extra[][2] = {{"receiverId", s->receiver[0] ? s->receiver : NULL},
                              {"clientMessageId", s->key[0] ? s->key : NULL}};
    size_t n = 0;
    char *text = sb_feat_message_text(m, shown_name(s, m), extra, 2, &n);
    char room[SB_STORE_MAX_ROOM + 1];
    conversation_room(s->conv, room);
    size_t k = 0; /* the recipients, in the order the append was given them */
    for (size_t i = 0; text && i < s->nmembers; i++)
        if (strcmp(s->members[i], call->user_id) != 0) {
            int64_t prev = m->recipient_prev ? m->recipient_prev[k] : 0;
            k++;
            sb_feat_delivery_live(call->f, SB_STREAM_MESSAGES, s->members[i], m->id, prev,
                                  sb_str(text, n));
        }
    if (text)
        sb_feat_emit_user_text(call->f, call->user_id, "message:received", sb_str(text, n),
                               call->sock);
    if (sb_feat_room_reaches(call->f, room))
        sb_feat_delivery_room(call->f, room, "message:new", send_payload(call, m), m->id);
    if (text && call->sock && sb_feat_call_live(call))
        sb_sio_emit(call->sock, "message:sent", sb_str(text, n));
    if (text && !call->answer)
        sb_feat_call_ack_text(call, sb_str(text, n));
    else
        sb_feat_call_reply(call, send_payload(call, m));
    free(text);
}

static void send_on_appended(void *ud, int rc, const sb_store_msg_t *m) {
    sb_feat_call_t *call = ud;
    if (rc != SB_OK)
        sb_feat_call_fail_store(call, rc);
    else if (m->replayed) /* a retry: the original ack again, nothing delivered twice */
        sb_feat_call_reply(call, send_payload(call, m));
    else
        send_deliver(call, m);
    send_end(call);
}

static void send_on_created(void *ud, int rc, const char *id) {
    sb_feat_call_t *call = ud;
    send_t *s = send_of(call);
    if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
        send_end(call);
        return;
    }
    pair_members(call);
    snprintf(s->conv, sizeof s->conv, "%s", id);
    send_append(call);
}

/* By receiverId alone: the direct conversation is opened by the append
 * itself (one store request, one commit), its members the pair. */
static void send_direct(sb_feat_call_t *call) {
    send_t *s = send_of(call);
    int rc =
        sb_store_direct_id(sb_cstr(call->user_id), sb_cstr(s->receiver), s->conv, sizeof s->conv);
    if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
        send_end(call);
        return;
    }
    pair_members(call);
    s->direct = true;
    send_append(call);
}

static bool has_member(const sb_store_strs_t *l, const char *user) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], user) == 0)
            return true;
    return false;
}

/* A conversation that does not exist yet is created with sender and receiver. */
static void send_on_members(void *ud, int rc, const sb_store_strs_t *l) {
    sb_feat_call_t *call = ud;
    send_t *s = send_of(call);
    if (rc == SB_ENOTFOUND && s->receiver[0]) {
        sb_str_t both[2] = {sb_cstr(call->user_id), sb_cstr(s->receiver)};
        rc = sb_store_conversation_create(call->f->cfg.store, sb_cstr(s->conv), both, 2,
                                          SB_STR_NULL, send_on_created, call);
        if (rc == SB_OK)
            return;
    }
    if (rc == SB_OK && !has_member(l, call->user_id))
        sb_feat_call_fail(call, "forbidden", "not a member of conversation '%s'", s->conv);
    else if (rc == SB_OK && s->receiver[0] && !has_member(l, s->receiver))
        sb_feat_call_fail(call, "invalid_payload",
                          "receiverId is not a member of the conversation");
    else if (rc == SB_OK && keep_members(s, l->v, l->n)) {
        send_append(call);
        return;
    } else
        sb_feat_call_fail_store(call, rc == SB_OK ? SB_ENOMEM : rc);
    send_end(call);
}

/* message:send's members, read without a tree when they are all strings. */
enum { SEND_CONV, SEND_TO, SEND_TYPE, SEND_CONTENT, SEND_KEY, SEND_NFIELDS };
static const char *const send_names[SEND_NFIELDS] = {"conversationId", "receiverId", "messageType",
                                                     "content", "clientMessageId"};
/* Escaped text of that size is unescaped on the stack; longer goes to jansson. */
#define SEND_SCRATCH 4096

static sb_str_t field_str(const sb_feat_field_t *f, bool ok) {
    return ok ? sb_str(f->p, f->n) : SB_STR_NULL;
}

/* Validates {conversationId?, receiverId?, content, messageType?} (is_obj:
 * the argument is an object, f its members as send_names). */
static bool send_parse(sb_client_t *c, sb_sio_event_t *ev, bool is_obj, const sb_feat_field_t *f,
                       send_t *s) {
    const sb_feat_field_t *conv = &f[SEND_CONV], *to = &f[SEND_TO], *type = &f[SEND_TYPE];
    bool conv_ok = sb_feat_field_text(conv, 1, SB_STORE_MAX_CONV_ID);
    bool to_ok = sb_feat_field_text(to, 1, SB_USER_ID_MAX);
    bool type_ok = !type->present || sb_feat_field_text(type, 1, SB_TYPE_MAX);
    if (!is_obj || (!conv_ok && !to_ok) || !type_ok || (conv->present && !conv_ok) ||
        (to->present && !to_ok)) {
        sb_feat_fail(ev, "invalid_payload",
                     "expected {conversationId and/or receiverId, content, messageType?}");
        return false;
    }
    if (!sb_feat_field_content(ev, &f[SEND_CONTENT], "content", c->f->cfg.max_message_bytes))
        return false;
    if (to_ok && sb_str_eq(sb_str(to->p, to->n), sb_cstr(c->user->id))) {
        sb_feat_fail(ev, "invalid_payload", "receiverId is yourself");
        return false;
    }
    if (!sb_feat_field_key(ev, &f[SEND_KEY], s->key))
        return false;
    sb_feat_copy(s->name, sizeof s->name, sb_cstr(sb_feat_user_name(c->user)));
    sb_feat_copy(s->conv, sizeof s->conv, field_str(conv, conv_ok));
    sb_feat_copy(s->receiver, sizeof s->receiver, field_str(to, to_ok));
    sb_feat_copy(s->type, sizeof s->type, type->present ? field_str(type, true) : SB_LIT("text"));
    send_content(s, f[SEND_CONTENT].p, f[SEND_CONTENT].n);
    return true;
}

/* By conversationId: its members first (send_on_members). */
static void send_members(sb_feat_call_t *call) {
    int rc = sb_store_conversation_members(call->f->cfg.store, sb_cstr(send_of(call)->conv),
                                           send_on_members, call);
    if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
        send_end(call);
    }
}

static void msg_on_send(sb_client_t *c, sb_sio_event_t *ev) {
    sb_feat_field_t f[SEND_NFIELDS];
    char scratch[SEND_SCRATCH];
    json_t *hold;
    bool is_obj =
        sb_feat_arg_fields(ev, 0, send_names, SEND_NFIELDS, f, scratch, sizeof scratch, &hold);
    const sb_feat_field_t *content = &f[SEND_CONTENT];
    size_t content_n = sb_feat_field_text(content, 1, c->f->cfg.max_message_bytes) ? content->n : 0;
    sb_feat_call_t *call = sb_feat_call_begin(c, ev, send_extra(content_n));
    bool ok = call && send_parse(c, ev, is_obj, f, send_of(call));
    json_decref(hold);
    if (!ok) {
        if (call)
            send_end(call);
        return;
    }
    if (!send_of(call)->conv[0])
        send_direct(call);
    else
        send_members(call);
}

/* Without a senderName, the user's stored name (as its sockets show it and
 * history reads it), else its id. */
static void http_send_on_user(void *ud, int rc, const sb_store_user_t *u) {
    sb_feat_call_t *call = ud;
    send_t *s = send_of(call);
    if (rc != SB_OK && rc != SB_ENOTFOUND) {
        sb_feat_call_fail_store(call, rc);
        send_end(call);
        return;
    }
    snprintf(s->name, sizeof s->name, "%s", u && u->name[0] ? u->name : call->user_id);
    send_members(call);
}

void sb_features_send_message(sb_features_t *f, const char *conv, const char *sender,
                              const char *sender_name, const char *content, const char *type,
                              const char *key, sb_features_answer_fn answer, void *ud) {
    size_t content_n = strlen(content);
    sb_feat_call_t *call =
        sb_feat_call_begin_http(f, sender, "message:send", send_extra(content_n), answer, ud);
    if (!call)
        return;
    send_t *s = send_of(call);
    snprintf(s->conv, sizeof s->conv, "%s", conv);
    snprintf(s->name, sizeof s->name, "%s", sender_name ? sender_name : "");
    s->named = sender_name != NULL;
    snprintf(s->type, sizeof s->type, "%s", type ? type : "text");
    snprintf(s->key, sizeof s->key, "%s", key ? key : "");
    send_content(s, content, content_n);
    if (s->named) {
        send_members(call);
    } else {
        int rc = sb_store_user_get(f->cfg.store, sb_cstr(sender), http_send_on_user, call);
        if (rc != SB_OK)
            http_send_on_user(call, rc, NULL);
    }
}

/* ---- membership-checked requests: history, mark-read ------------------------------------ */

typedef struct {
    char conv[SB_STORE_MAX_CONV_ID + 1];
    int64_t before;
    int limit;
    int64_t ids[100];
    size_t nids;
    char **members; /* mark-read: who gets messages-read */
    size_t nmembers;
} conv_req_t;

static conv_req_t *req_of(sb_feat_call_t *call) { return (conv_req_t *)(void *)call->extra; }

static void conv_end(sb_feat_call_t *call) {
    conv_req_t *r = req_of(call);
    for (size_t i = 0; i < r->nmembers; i++)
        free(r->members[i]);
    free(r->members);
    sb_feat_call_end(call);
}

static void room_of(const conv_req_t *r, char out[SB_STORE_MAX_ROOM + 1]) {
    conversation_room(r->conv, out);
}

/* Starts a call on {conversationId, ...}; NULL when invalid (answered). */
static sb_feat_call_t *conv_call(sb_client_t *c, sb_sio_event_t *ev, json_t *a) {
    const char *conv = sb_feat_str_field(a, "conversationId", SB_STORE_MAX_CONV_ID);
    if (!conv) {
        sb_feat_fail(ev, "invalid_payload", "conversationId must be a string of 1-%d bytes",
                     SB_STORE_MAX_CONV_ID);
        return NULL;
    }
    sb_feat_call_t *call = sb_feat_call_begin(c, ev, sizeof(conv_req_t));
    if (call)
        snprintf(req_of(call)->conv, sizeof req_of(call)->conv, "%s", conv);
    return call;
}

static void history_on_page(void *ud, int rc, const sb_store_msgs_t *page) {
    sb_feat_call_t *call = ud;
    if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
    } else {
        json_t *list = json_array();
        for (size_t i = 0; i < page->n; i++)
            json_array_append_new(list, sb_feat_message_json(&page->v[i], page->v[i].sender_name));
        sb_feat_call_reply(call, json_pack("{s:s,s:o,s:b}", "conversationId", req_of(call)->conv,
                                           "messages", list, "hasMore",
                                           (int)page->n == req_of(call)->limit));
    }
    sb_feat_call_end(call);
}

/* Membership first: a non-member learns nothing, not even if it exists. */
static void history_on_member(void *ud, int rc, bool yes) {
    sb_feat_call_t *call = ud;
    conv_req_t *r = req_of(call);
    char room[SB_STORE_MAX_ROOM + 1];
    room_of(r, room);
    if (rc == SB_OK && yes)
        rc = sb_store_message_history(call->f->cfg.store, sb_cstr(room), r->before, r->limit,
                                      history_on_page, call);
    else if (rc == SB_OK || rc == SB_ENOTFOUND)
        rc = SB_EAUTH;
    if (rc == SB_OK)
        return;
    if (rc == SB_EAUTH)
        sb_feat_call_fail(call, "forbidden", "not a member of conversation '%s'", r->conv);
    else
        sb_feat_call_fail_store(call, rc);
    sb_feat_call_end(call);
}

static void msg_on_history(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *a = sb_feat_arg(ev, 0);
    int64_t before;
    int limit;
    sb_feat_call_t *call = sb_feat_page_args(ev, a, &before, &limit) ? conv_call(c, ev, a) : NULL;
    if (call) {
        req_of(call)->before = before;
        req_of(call)->limit = limit;
        int rc = sb_store_conversation_is_member(c->f->cfg.store, sb_cstr(req_of(call)->conv),
                                                 sb_cstr(c->user->id), history_on_member, call);
        if (rc != SB_OK) {
            sb_feat_call_abort(call, rc);
        }
    }
    json_decref(a);
}

/* messages-read goes to every member's devices. */
static void read_on_marked(void *ud, int rc, const sb_store_ids_t *ids) {
    sb_feat_call_t *call = ud;
    conv_req_t *r = req_of(call);
    if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
        conv_end(call);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < ids->n; i++)
        json_array_append_new(list, json_integer(ids->v[i]));
    json_t *ev = json_pack("{s:s,s:O,s:s}", "conversationId", r->conv, "messageIds", list, "readBy",
                           call->user_id);
    for (size_t i = 0; ids->n && i < r->nmembers; i++)
        sb_feat_emit_user(call->f, r->members[i], "messages-read", json_incref(ev), NULL);
    json_decref(ev);
    sb_feat_call_reply(
        call, json_pack("{s:b,s:s,s:o}", "ok", 1, "conversationId", r->conv, "messageIds", list));
    conv_end(call);
}

static void read_on_members(void *ud, int rc, const sb_store_strs_t *l) {
    sb_feat_call_t *call = ud;
    conv_req_t *r = req_of(call);
    char room[SB_STORE_MAX_ROOM + 1];
    room_of(r, room);
    if (rc == SB_ENOTFOUND || (rc == SB_OK && !has_member(l, call->user_id))) {
        sb_feat_call_fail(call, "forbidden", "not a member of conversation '%s'", r->conv);
        conv_end(call);
        return;
    }
    if (rc == SB_OK && !(r->members = calloc(l->n, sizeof *r->members)))
        rc = SB_ENOMEM;
    for (size_t i = 0; rc == SB_OK && i < l->n; i++)
        if (!(r->members[r->nmembers++] = strdup(l->v[i])))
            rc = SB_ENOMEM;
    if (rc == SB_OK)
        rc = sb_store_message_mark_read(call->f->cfg.store, sb_cstr(call->user_id), sb_cstr(room),
                                        r->ids, r->nids, read_on_marked, call);
    if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
        conv_end(call);
    }
}

static bool parse_ids(json_t *arr, conv_req_t *r) {
    size_t i;
    json_t *v;
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 100)
        return false;
    json_array_foreach(arr, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            return false;
        r->ids[r->nids++] = json_integer_value(v);
    }
    return true;
}

static void msg_on_mark_read(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *a = sb_feat_arg(ev, 0);
    sb_feat_call_t *call = conv_call(c, ev, a);
    if (call && !parse_ids(json_object_get(a, "messageIds"), req_of(call))) {
        sb_feat_call_fail(call, "invalid_payload", "messageIds must be 1-100 message ids");
        sb_feat_call_end(call);
    } else if (call) {
        int rc = sb_store_conversation_members(c->f->cfg.store, sb_cstr(req_of(call)->conv),
                                               read_on_members, call);
        if (rc != SB_OK) {
            sb_feat_call_abort(call, rc);
        }
    }
    json_decref(a);
}

void sb_features_mark_read(sb_features_t *f, const char *conv, const char *user, const int64_t *ids,
                           size_t n, sb_features_answer_fn answer, void *ud) {
    sb_feat_call_t *call =
        sb_feat_call_begin_http(f, user, "mark-read", sizeof(conv_req_t), answer, ud);
    if (!call)
        return;
    conv_req_t *r = req_of(call);
    snprintf(r->conv, sizeof r->conv, "%s", conv);
    if (n == 0 || n > sizeof r->ids / sizeof r->ids[0]) {
        sb_feat_call_fail(call, "invalid_payload", "messageIds must be 1-100 message ids");
        conv_end(call);
        return;
    }
    memcpy(r->ids, ids, n * sizeof *ids);
    r->nids = n;
    int rc = sb_store_conversation_members(f->cfg.store, sb_cstr(r->conv), read_on_members, call);
    if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
        conv_end(call);
    }
}

/* ---- typing: typing:start, and typing:stop by the client or after 3 s ---------------------- */

typedef struct {
    sb_timer_t timer;
    sb_features_t *f;
    char key[2 * SB_USER_ID_MAX + SB_STORE_MAX_CONV_ID + 3];
    char sender[SB_USER_ID_MAX + 1], receiver[SB_USER_ID_MAX + 1], conv[SB_STORE_MAX_CONV_ID + 1];
} typing_t;

typedef struct {
    char conv[SB_STORE_MAX_CONV_ID + 1];
    char receiver[SB_USER_ID_MAX + 1];
    bool start;
} typing_req_t;

static void typing_emit(sb_features_t *f, const char *sender, const char *receiver,
                        const char *conv, bool start) {
    sb_feat_emit_user(f, receiver, start ? "typing:start" : "typing:stop",
                      json_pack("{s:s,s:s}", "conversationId", conv, "userId", sender), NULL);
}

static void typing_free(typing_t *t) {
    sb_timer_stop(&t->timer);
    sb_map_del(&t->f->typing, sb_cstr(t->key));
    free(t);
}

static void typing_on_expiry(sb_timer_t *timer) {
    typing_t *t = sb_container_of(timer, typing_t, timer);
    typing_emit(t->f, t->sender, t->receiver, t->conv, false);
    typing_free(t);
}

/* Starts or renews the 3 s expiry; false when out of memory. */
static bool typing_arm(sb_features_t *f, const char *key, const char *sender,
                       const typing_req_t *r) {
    typing_t *t = sb_map_get(&f->typing, sb_cstr(key));
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t)
            return false;
        t->f = f;
        snprintf(t->key, sizeof t->key, "%s", key);
        snprintf(t->sender, sizeof t->sender, "%s", sender);
        snprintf(t->receiver, sizeof t->receiver, "%s", r->receiver);
        snprintf(t->conv, sizeof t->conv, "%s", r->conv);
        sb_timer_init(f->loop, &t->timer, typing_on_expiry);
        if (sb_map_put(&f->typing, sb_cstr(t->key), t) != SB_OK) {
            free(t);
            return false;
        }
    }
    sb_timer_start(&t->timer, SB_TYPING_EXPIRY_MS);
    return true;
}

static void typing_on_members(void *ud, int rc, const sb_store_strs_t *l) {
    sb_feat_call_t *call = ud;
    typing_req_t *r = (typing_req_t *)(void *)call->extra;
    char key[sizeof((typing_t *)0)->key];
    snprintf(key, sizeof key, "%s\x1f%s\x1f%s", call->user_id, r->conv, r->receiver);
    if (rc == SB_ENOTFOUND ||
        (rc == SB_OK && (!has_member(l, call->user_id) || !has_member(l, r->receiver)))) {
        sb_feat_call_fail(call, "forbidden", "sender and receiver must both be members");
    } else if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
    } else if (r->start && !typing_arm(call->f, key, call->user_id, r)) {
        sb_feat_call_fail(call, "server_busy", "out of memory");
    } else {
        typing_t *t = r->start ? NULL : sb_map_get(&call->f->typing, sb_cstr(key));
        if (t)
            typing_free(t);
        typing_emit(call->f, call->user_id, r->receiver, r->conv, r->start);
        sb_feat_call_reply(call, json_pack("{s:b}", "ok", 1));
    }
    sb_feat_call_end(call);
}

static void typing_request(sb_client_t *c, sb_sio_event_t *ev, bool start) {
    json_t *a = sb_feat_arg(ev, 0);
    const char *conv = sb_feat_str_field(a, "conversationId", SB_STORE_MAX_CONV_ID);
    const char *to = sb_feat_str_field(a, "receiverId", SB_USER_ID_MAX);
    sb_feat_call_t *call = NULL;
    if (!conv || !to)
        sb_feat_fail(ev, "invalid_payload", "expected {conversationId, receiverId}");
    else if ((call = sb_feat_call_begin(c, ev, sizeof(typing_req_t)))) {
        typing_req_t *r = (typing_req_t *)(void *)call->extra;
        snprintf(r->conv, sizeof r->conv, "%s", conv);
        snprintf(r->receiver, sizeof r->receiver, "%s", to);
        r->start = start;
        int rc =
            sb_store_conversation_members(c->f->cfg.store, sb_cstr(conv), typing_on_members, call);
        if (rc != SB_OK) {
            sb_feat_call_abort(call, rc);
        }
    }
    json_decref(a);
}

static void msg_on_typing(sb_client_t *c, sb_sio_event_t *ev) { typing_request(c, ev, true); }
static void msg_on_stop_typing(sb_client_t *c, sb_sio_event_t *ev) { typing_request(c, ev, false); }

/* ---- registration ---------------------------------------------------------------------------- */

static const sb_feature_event_t message_events[] = {
    {"message:send", msg_on_send},
    {"message:history", msg_on_history},
    {"mark-read", msg_on_mark_read},
    {"message:typing", msg_on_typing},
    {"message:stop_typing", msg_on_stop_typing},
};

int sb_feat_messages_init(sb_features_t *f) {
    sb_map_init(&f->typing);
    return sb_feat_register(f, message_events, sizeof message_events / sizeof *message_events);
}

static bool free_typing(sb_str_t key, void *value, void *ud) {
    typing_t *t = value;
    sb_timer_stop(&t->timer);
    free(t);
    return true;
}

void sb_feat_messages_dispose(sb_features_t *f) {
    sb_map_foreach(&f->typing, free_typing, NULL);
    sb_map_dispose(&f->typing);
}

/* ---- conversations changed by the backend (PATCH / DELETE /api/conversations/:id) ---- */

#define SB_EVICT_MAX 4096 /* sockets taken out of one conversation room per change */

typedef struct {
    const char *const *members;
    size_t nmembers;
    sb_sio_socket_t *out[SB_EVICT_MAX];
    size_t n;
} evict_walk_t;

static bool is_listed(const char *id, const char *const *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], id) == 0)
            return true;
    return false;
}

static bool collect_evicted(sb_hub_member_t *m, void *ud) {
    evict_walk_t *w = ud;
    sb_sio_socket_t *s = sb_sio_socket_of_member(m);
    sb_client_t *c = s ? sb_sio_socket_get_data(s) : NULL;
    if (c && !(w->members && is_listed(c->user->id, w->members, w->nmembers)))
        w->out[w->n++] = s;
    return w->n < SB_EVICT_MAX;
}

void sb_features_conversation_changed(sb_features_t *f, const char *conv_id,
                                      const char *const *told, size_t ntold,
                                      const char *const *members, size_t nmembers,
                                      const char *event, sb_str_t payload) {
    for (size_t i = 0; i < ntold; i += 64) {
        sb_feat_target_t t = {.users = told + i, .nusers = ntold - i < 64 ? ntold - i : 64};
        sb_features_emit(f, &t, event, payload);
    }
    char room[SB_STORE_MAX_ROOM + 1];
    conversation_room(conv_id, room);
    evict_walk_t *w = malloc(sizeof *w);
    if (!w)
        return;
    w->members = members;
    w->nmembers = nmembers;
    w->n = 0;
    /* Collected first: leaving changes the room the walk is in. */
    sb_hub_room_members(sb_sio_nsp_hub(f->nsp), sb_cstr(room), collect_evicted, w);
    for (size_t i = 0; i < w->n; i++)
        sb_sio_leave(w->out[i], sb_cstr(room));
    free(w);
}
