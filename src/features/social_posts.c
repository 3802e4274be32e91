/* Posts registered by the backend: post:view / post:unview (the room
 * post:<id>), post:like and post:comment (stored; the owner is told live
 * and by a notification, the room gets the new counts or the comment). */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "features/features_internal.h"

#define SB_REACTION_MAX_CHARS 32
#define SB_POST_ROOM_MAX (SB_STORE_MAX_ID + 8)

/* What a post call keeps across the store round trip. */
typedef struct {
    char post[SB_STORE_MAX_ID + 1];
    char name[SB_STORE_MAX_NAME + 1]; /* the caller's, for the owner's events */
    char type[SB_STORE_MAX_NAME + 1]; /* the reaction */
    bool view;                        /* post:view, else post:unview */
} post_ctx_t;

static post_ctx_t *ctx_of(sb_feat_call_t *call) { return (post_ctx_t *)(void *)call->extra; }

static void post_room(const char *post_id, char out[SB_POST_ROOM_MAX]) {
    snprintf(out, SB_POST_ROOM_MAX, "post:%s", post_id);
}

/* A post id, 1..128 bytes without NUL; NULL otherwise. */
static const char *post_id_of(json_t *v) { return sb_features_text(v, 1, SB_STORE_MAX_ID); }

/* Begins a call that remembers the post and the caller's name. */
static sb_feat_call_t *post_call(sb_client_t *c, sb_sio_event_t *ev, const char *post_id) {
    sb_feat_call_t *call = sb_feat_call_begin(c, ev, sizeof(post_ctx_t));
    if (call) {
        snprintf(ctx_of(call)->post, sizeof ctx_of(call)->post, "%s", post_id);
        snprintf(ctx_of(call)->name, sizeof ctx_of(call)->name, "%s", sb_feat_user_name(c->user));
    }
    return call;
}

/* ---- post:view / post:unview postId ------------------------------------------------ */

static void view_apply(sb_feat_call_t *call) {
    post_ctx_t *p = ctx_of(call);
    char room[SB_POST_ROOM_MAX];
    post_room(p->post, room);
    int rc =
        p->view ? sb_sio_join(call->sock, sb_cstr(room)) : sb_sio_leave(call->sock, sb_cstr(room));
    if (rc == SB_OK)
        sb_feat_call_reply(call, json_pack("{s:b,s:s}", "ok", 1, "postId", p->post));
    else if (p->view)
        sb_feat_call_fail(call, "too_many_rooms", "too many rooms joined");
    else
        sb_feat_call_fail(call, "not_in_room", "not viewing post '%s'", p->post);
}

/* The post must exist; the room is joined once the store said so. */
static void on_view_checked(void *ud, int rc, const sb_store_post_t *post) {
    sb_feat_call_t *call = ud;
    if (rc != SB_OK)
        sb_feat_call_fail_store(call, rc);
    else if (sb_feat_call_live(call))
        view_apply(call);
    sb_feat_call_end(call);
}

static void post_view_or_unview(sb_client_t *c, sb_sio_event_t *ev, bool view) {
    json_t *arg = sb_feat_arg(ev, 0);
    const char *id = post_id_of(json_is_object(arg) ? json_object_get(arg, "postId") : arg);
    sb_feat_call_t *call = NULL;
    if (!id) {
        sb_feat_fail(ev, "invalid_payload", "expected a post id (1-128 bytes) or {postId}");
    } else if ((call = post_call(c, ev, id))) {
        ctx_of(call)->view = view;
        int rc = sb_store_post_get(c->f->cfg.store, sb_cstr(id), on_view_checked, call);
        if (rc != SB_OK)
            sb_feat_call_abort(call, rc);
    }
    json_decref(arg);
}

static void post_on_view(sb_client_t *c, sb_sio_event_t *ev) { post_view_or_unview(c, ev, true); }
static void post_on_unview(sb_client_t *c, sb_sio_event_t *ev) {
    post_view_or_unview(c, ev, false);
}

/* ---- post:like {postId, reactionType} ---------------------------------------------- */

static json_t *reactions_json(const sb_store_reactions_t *r) {
    json_t *counts = json_object();
    for (size_t i = 0; i < r->n; i++)
        json_object_set_new(counts, r->v[i].type, json_integer(r->v[i].count));
    return counts;
}

/* The owner hears of a reaction, unless they made it themselves. */
static void like_tell_owner(sb_feat_call_t *call, const sb_store_reactions_t *r) {
    post_ctx_t *p = ctx_of(call);
    if (strcmp(r->owner_id, call->user_id) == 0)
        return;
    char msg[200];
    sb_feat_emit_user(call->f, r->owner_id, "post:liked",
                      json_pack("{s:s,s:s,s:s,s:s}", "postId", r->post_id, "userId", call->user_id,
                                "name", p->name, "reactionType", p->type),
                      NULL);
    snprintf(msg, sizeof msg, "%s reacted to your post", p->name);
    sb_feat_notify(call->f, r->owner_id, "post_like", "New reaction", msg,
                   json_pack("{s:s,s:s,s:s}", "postId", r->post_id, "userId", call->user_id,
                             "reactionType", p->type));
}

static void on_reacted(void *ud, int rc, const sb_store_reactions_t *r) {
    sb_feat_call_t *call = ud;
    if (rc != SB_OK) {
        sb_feat_call_abort(call, rc);
        return;
    }
    char room[SB_POST_ROOM_MAX];
    post_room(r->post_id, room);
    like_tell_owner(call, r);
    json_t *counts = reactions_json(r);
    sb_feat_emit_room(call->f, room, "post:reaction_update",
                      json_pack("{s:s,s:O,s:I}", "postId", r->post_id, "reactions", counts, "total",
                                (json_int_t)r->total),
                      NULL);
    sb_feat_call_reply(call, json_pack("{s:b,s:s,s:o,s:I}", "ok", 1, "postId", r->post_id,
                                       "reactions", counts, "total", (json_int_t)r->total));
    sb_feat_call_end(call);
}

/* 1..32 characters of UTF-8 (continuation bytes are not counted), no NUL. */
static bool reaction_valid(json_t *v) {
    const char *text = sb_features_text(v, 1, SB_STORE_MAX_NAME);
    if (!text)
        return false;
    size_t chars = 0;
    for (const unsigned char *s = (const unsigned char *)text; *s; s++)
        chars += (*s & 0xC0) != 0x80;
    return chars <= SB_REACTION_MAX_CHARS;
}

static void post_on_like(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    const char *id = post_id_of(json_object_get(arg, "postId"));
    json_t *type = json_object_get(arg, "reactionType");
    sb_feat_call_t *call = NULL;
    if (!id || (type && !reaction_valid(type))) {
        sb_feat_fail(ev, "invalid_payload",
                     "expected {postId: 1-128 bytes, reactionType?: 1-%d characters}",
                     SB_REACTION_MAX_CHARS);
    } else if ((call = post_call(c, ev, id))) {
        snprintf(ctx_of(call)->type, sizeof ctx_of(call)->type, "%s",
                 type ? json_string_value(type) : "like");
        int rc = sb_store_post_react(c->f->cfg.store, sb_cstr(id), sb_cstr(c->user->id),
                                     sb_cstr(ctx_of(call)->type), on_reacted, call);
        if (rc != SB_OK)
            sb_feat_call_abort(call, rc);
    }
    json_decref(arg);
}

/* ---- post:comment {postId, content} ------------------------------------------------ */

static void comment_tell_owner(sb_feat_call_t *call, const sb_store_comment_t *cm, json_t *j) {
    if (strcmp(cm->owner_id, cm->user_id) == 0)
        return;
    char msg[200];
    sb_feat_emit_user(call->f, cm->owner_id, "post:commented", json_incref(j), NULL);
    snprintf(msg, sizeof msg, "%s commented on your post", ctx_of(call)->name);
    sb_feat_notify(call->f, cm->owner_id, "post_comment", "New comment", msg,
                   json_pack("{s:s,s:I,s:s}", "postId", cm->post_id, "commentId",
                             (json_int_t)cm->id, "userId", cm->user_id));
}

static void on_commented(void *ud, int rc, const sb_store_comment_t *cm) {
    sb_feat_call_t *call = ud;
    if (rc != SB_OK) {
        sb_feat_call_abort(call, rc);
        return;
    }
    char at[32], room[SB_POST_ROOM_MAX];
    sb_feat_iso_time(cm->created_at_ms, at);
    post_room(cm->post_id, room);
    json_t *j = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s}", "postId", cm->post_id, "commentId",
                          (json_int_t)cm->id, "userId", cm->user_id, "name", ctx_of(call)->name,
                          "content", cm->content, "createdAt", at);
    comment_tell_owner(call, cm, j);
    sb_feat_emit_room(call->f, room, "post:comment_added", json_incref(j), NULL);
    sb_feat_call_reply(call, j);
    sb_feat_call_end(call);
}

static void post_on_comment(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    const char *id = post_id_of(json_object_get(arg, "postId"));
    const char *content = NULL;
    sb_feat_call_t *call = NULL;
    if (!id)
        sb_feat_fail(ev, "invalid_payload", "expected {postId: 1-128 bytes, content: non-empty}");
    else if ((content = sb_feat_text_field(ev, arg, "content", c->f->cfg.max_message_bytes)) &&
             (call = post_call(c, ev, id))) {
        int rc = sb_store_post_comment(c->f->cfg.store, sb_cstr(id), sb_cstr(c->user->id),
                                       sb_cstr(content), sb_wall_ms(), on_commented, call);
        if (rc != SB_OK)
            sb_feat_call_abort(call, rc);
    }
    json_decref(arg);
}

/* ---- registration ---------------------------------------------------------------- */

static const sb_feature_event_t post_events[] = {
    {"post:view", post_on_view},
    {"post:unview", post_on_unview},
    {"post:like", post_on_like},
    {"post:comment", post_on_comment},
};

int sb_feat_posts_init(sb_features_t *f) {
    return sb_feat_register(f, post_events, sizeof post_events / sizeof *post_events);
}
