/* Collaborative documents: room doc:<id>, who is in it, edits stored as
 * numbered versions, and cursors relayed as volatile events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "features/live_internal.h"

#define SB_DOC_ROOM_MAX (SB_LIVE_ID_MAX + 5)
#define SB_DOC_CHANGES_MAX 16384

static void doc_room(const char *doc_id, char out[SB_DOC_ROOM_MAX]) {
    snprintf(out, SB_DOC_ROOM_MAX, "doc:%s", doc_id);
}

/* ---- who is in a document ---------------------------------------------------------------- */

typedef struct {
    json_t *users, *seen; /* [{userId, name}], and the ids already listed */
} users_walk_t;

static bool add_member_user(sb_hub_member_t *m, void *ud) {
    users_walk_t *w = ud;
    sb_sio_socket_t *s = sb_sio_socket_of_member(m);
    sb_client_t *c = s ? sb_sio_socket_get_data(s) : NULL;
    if (!c || !sb_sio_socket_connected(c->sock) || json_object_get(w->seen, c->user->id))
        return true; /* one entry per user, however many devices */
    json_object_set_new(w->seen, c->user->id, json_true());
    json_array_append_new(w->users, json_pack("{s:s,s:s}", "userId", c->user->id, "name",
                                              sb_feat_user_name(c->user)));
    return true;
}

static json_t *active_users(sb_features_t *f, const char *room) {
    users_walk_t w = {json_array(), json_object()};
    sb_hub_room_members(sb_sio_nsp_hub(f->nsp), sb_cstr(room), add_member_user, &w);
    json_decref(w.seen);
    return w.users;
}

typedef struct {
    const sb_client_t *me;
    bool found;
} device_walk_t;

static bool find_other_device(sb_hub_member_t *m, void *ud) {
    device_walk_t *w = ud;
    sb_sio_socket_t *s = sb_sio_socket_of_member(m);
    sb_client_t *c = s ? sb_sio_socket_get_data(s) : NULL;
    if (c && c != w->me && sb_sio_socket_connected(c->sock) && c->user == w->me->user)
        w->found = true;
    return !w->found;
}

/* True when another connected device of c's user is in `room`: then that
 * user neither joins nor leaves it in the others' eyes. */
static bool other_device_in(const sb_client_t *c, const char *room) {
    device_walk_t w = {c, false};
    sb_hub_room_members(sb_sio_nsp_hub(c->f->nsp), sb_cstr(room), find_other_device, &w);
    return w.found;
}

/* A user whose device left a document: the others hear user_left unless
 * another device of theirs is still in it, here or on another node. */
typedef struct {
    sb_features_t *f;
    char doc[SB_LIVE_ID_MAX + 1];
    const char *user, *name; /* in text[] */
    char text[];
} leaving_t;

static bool user_among(json_t *sockets, const char *user) {
    size_t i;
    json_t *s;
    const char *name;
    json_array_foreach(sockets, i, s) {
        const char *id = sb_feat_live_remote_user(s, &name);
        if (id && strcmp(id, user) == 0)
            return true;
    }
    return false;
}

static void left_on_remote(void *ud, json_t *sockets) {
    leaving_t *l = ud;
    char room[SB_DOC_ROOM_MAX];
    doc_room(l->doc, room);
    if (sockets && !user_among(sockets, l->user))
        sb_feat_emit_room(
            l->f, room, "collab:user_left",
            json_pack("{s:s,s:s,s:s}", "documentId", l->doc, "userId", l->user, "name", l->name),
            NULL);
    free(l);
}

/* The socket has left the room, or is disconnecting (then still in it:
 * `except` keeps the notice from it). */
static void announce_left(sb_client_t *c, const char *doc_id) {
    char room[SB_DOC_ROOM_MAX];
    doc_room(doc_id, room);
    if (other_device_in(c, room))
        return;
    size_t nu = strlen(c->user->id) + 1, nn = strlen(sb_feat_user_name(c->user)) + 1;
    leaving_t *l = sb_feat_clustered(c->f) ? malloc(sizeof *l + nu + nn) : NULL;
    if (!l) { /* alone (or out of memory: the other nodes' devices are not looked for) */
        sb_feat_emit_room(c->f, room, "collab:user_left",
                          json_pack("{s:s,s:s,s:s}", "documentId", doc_id, "userId", c->user->id,
                                    "name", sb_feat_user_name(c->user)),
                          c->sock);
        return;
    }
    l->f = c->f;
    snprintf(l->doc, sizeof l->doc, "%s", doc_id);
    l->user = memcpy(l->text, c->user->id, nu);
    l->name = memcpy(l->text + nu, sb_feat_user_name(c->user), nn);
    sb_feat_live_remote(c->f, room, left_on_remote, l);
}

void sb_feat_live_collab_gone(sb_client_t *c, const char *doc_id) { announce_left(c, doc_id); }

/* ---- collab:join_document id | {documentId} ------------------------------------------------ */

typedef struct {
    char doc[SB_LIVE_ID_MAX + 1];
    int64_t version;
    bool was_there; /* another device of the user was in the document here */
} join_t;

static bool listed(json_t *users, const char *id) {
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u) {
        if (strcmp(json_string_value(json_object_get(u, "userId")), id) == 0)
            return true;
    }
    return false;
}

/* Adds the other nodes' users, each once, to `users`; true when one of
 * them is `me`. */
static bool add_remote_users(json_t *users, json_t *sockets, const char *me) {
    bool mine = false;
    size_t i;
    json_t *s;
    json_array_foreach(sockets, i, s) {
        const char *name, *id = sb_feat_live_remote_user(s, &name);
        if (!id)
            continue; /* not a user of the built-ins (a Node.js server's socket) */
        mine = mine || strcmp(id, me) == 0;
        if (!listed(users, id))
            json_array_append_new(users, json_pack("{s:s,s:s}", "userId", id, "name", name));
    }
    return mine;
}

/* Joined, and the other nodes' members known: tell the joiner who is there
 * and the others who came. */
static void join_on_remote(void *ud, json_t *sockets) {
    sb_feat_call_t *call = ud;
    join_t *j = (join_t *)(void *)call->extra;
    sb_client_t *c = sockets && sb_feat_call_live(call) ? sb_sio_socket_get_data(call->sock) : NULL;
    if (c) {
        char room[SB_DOC_ROOM_MAX];
        doc_room(j->doc, room);
        json_t *users = active_users(call->f, room);
        bool elsewhere = add_remote_users(users, sockets, c->user->id);
        sb_feat_call_reply(call,
                           json_pack("{s:b,s:s,s:O,s:I}", "ok", 1, "documentId", j->doc,
                                     "activeUsers", users, "version", (json_int_t)j->version));
        sb_feat_emit(call->sock, "collab:active_users",
                     json_pack("{s:s,s:o}", "documentId", j->doc, "users", users));
        if (!j->was_there && !elsewhere)
            sb_feat_emit_room(call->f, room, "collab:user_joined",
                              json_pack("{s:s,s:s,s:s}", "documentId", j->doc, "userId",
                                        c->user->id, "name", sb_feat_user_name(c->user)),
                              call->sock);
    }
    sb_feat_call_end(call);
}

/* The version is known: join now, so that every edit stored after that
 * version reaches the joiner, then ask the other nodes who is there. */
static void join_finish(sb_feat_call_t *call, int64_t version) {
    join_t *j = (join_t *)(void *)call->extra;
    sb_client_t *c = sb_sio_socket_get_data(call->sock);
    char room[SB_DOC_ROOM_MAX];
    doc_room(j->doc, room);
    j->version = version;
    j->was_there = sb_sio_in_room(call->sock, sb_cstr(room)) || other_device_in(c, room);
    if (sb_sio_join(call->sock, sb_cstr(room)) != SB_OK) {
        sb_feat_call_fail(call, "too_many_rooms", "a socket may join at most %u rooms",
                          call->f->cfg.max_rooms_per_socket);
        sb_feat_call_end(call);
        return;
    }
    sb_feat_live_remote(call->f, room, join_on_remote, call);
}

static void join_on_latest(void *ud, int rc, const sb_store_doc_version_t *d) {
    sb_feat_call_t *call = ud;
    if (rc != SB_OK && rc != SB_ENOTFOUND)
        sb_feat_call_abort(call, rc);
    else if (sb_feat_call_live(call))
        join_finish(call, rc == SB_OK ? d->version : 0);
    else
        sb_feat_call_end(call);
}

static void collab_on_join(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    const char *doc = sb_feat_live_id_arg(ev, arg, "documentId");
    sb_feat_call_t *call = doc ? sb_feat_call_begin(c, ev, sizeof(join_t)) : NULL;
    if (call) {
        snprintf(((join_t *)(void *)call->extra)->doc, SB_LIVE_ID_MAX + 1, "%s", doc);
        int rc = sb_store_doc_latest(c->f->cfg.store, sb_cstr(doc), join_on_latest, call);
        if (rc != SB_OK) {
            sb_feat_call_abort(call, rc);
        }
    }
    json_decref(arg);
}

/* ---- collab:leave_document id | {documentId} ----------------------------------------------- */

static void collab_on_leave(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0);
    const char *doc = sb_feat_live_id_arg(ev, arg, "documentId");
    char room[SB_DOC_ROOM_MAX];
    if (doc) {
        doc_room(doc, room);
        if (sb_sio_leave(c->sock, sb_cstr(room)) != SB_OK) {
            sb_feat_fail(ev, "not_in_room", "not in document '%s'", doc);
        } else {
            announce_left(c, doc);
            sb_feat_reply(ev, json_pack("{s:b,s:s}", "ok", 1, "documentId", doc));
        }
    }
    json_decref(arg);
}

/* ---- collab:edit {documentId, changes} ----------------------------------------------------- */

typedef struct {
    char doc[SB_LIVE_ID_MAX + 1];
    json_t *changes;
} edit_t;

static void edit_on_stored(void *ud, int rc, const sb_store_doc_version_t *d) {
    sb_feat_call_t *call = ud;
    edit_t *e = (edit_t *)(void *)call->extra;
    if (rc != SB_OK) {
        sb_feat_call_fail_store(call, rc);
    } else {
        char room[SB_DOC_ROOM_MAX], at[32];
        doc_room(e->doc, room);
        sb_feat_iso_time(d->created_at_ms, at);
        /* Stored: the others get it even if the editor has gone since. */
        sb_feat_emit_room(call->f, room, "collab:changes",
                          json_pack("{s:s,s:O,s:I,s:s,s:s}", "documentId", e->doc, "changes",
                                    e->changes, "version", (json_int_t)d->version, "userId",
                                    call->user_id, "createdAt", at),
                          call->sock);
        sb_feat_call_reply(call,
                           json_pack("{s:b,s:I}", "ok", 1, "version", (json_int_t)d->version));
    }
    json_decref(e->changes);
    sb_feat_call_end(call);
}

static void edit_store(sb_client_t *c, sb_sio_event_t *ev, const char *doc, json_t *changes,
                       const char *text, size_t n) {
    sb_feat_call_t *call = sb_feat_call_begin(c, ev, sizeof(edit_t));
    if (!call)
        return;
    edit_t *e = (edit_t *)(void *)call->extra;
    snprintf(e->doc, sizeof e->doc, "%s", doc);
    e->changes = json_incref(changes);
    int rc = sb_store_doc_version_add(c->f->cfg.store, sb_cstr(doc), sb_cstr(c->user->id),
                                      sb_str(text, n), sb_wall_ms(), edit_on_stored, call);
    if (rc != SB_OK) {
        json_decref(e->changes);
        sb_feat_call_abort(call, rc);
    }
}

static void collab_on_edit(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0), *changes = json_object_get(arg, "changes");
    const char *doc = json_is_object(arg) ? sb_feat_live_id_arg(ev, arg, "documentId") : NULL;
    size_t n, max = c->f->cfg.max_message_bytes < SB_DOC_CHANGES_MAX ? c->f->cfg.max_message_bytes
                                                                     : SB_DOC_CHANGES_MAX;
    char room[SB_DOC_ROOM_MAX], *text = NULL;
    if (!json_is_object(arg) || (doc && !changes)) {
        sb_feat_fail(ev, "invalid_payload", "expected {documentId, changes}");
    } else if (doc && (text = sb_feat_live_dump(ev, changes, max, &n))) {
        doc_room(doc, room);
        if (!sb_sio_in_room(c->sock, sb_cstr(room)))
            sb_feat_fail(ev, "not_in_room", "join document '%s' before editing it", doc);
        else
            edit_store(c, ev, doc, changes, text, n);
    }
    free(text);
    json_decref(arg);
}

/* ---- collab:cursor_move {documentId, x, y} ------------------------------------------------- */

static void collab_on_cursor(sb_client_t *c, sb_sio_event_t *ev) {
    json_t *arg = sb_feat_arg(ev, 0), *x = json_object_get(arg, "x"),
           *y = json_object_get(arg, "y");
    const char *doc = json_is_object(arg) ? sb_feat_live_id_arg(ev, arg, "documentId") : NULL;
    char room[SB_DOC_ROOM_MAX];
    if (!json_is_object(arg) || (doc && (!json_is_number(x) || !json_is_number(y)))) {
        sb_feat_fail(ev, "invalid_payload", "expected {documentId, x, y} with numbers x and y");
    } else if (doc) {
        doc_room(doc, room);
        if (!sb_sio_in_room(c->sock, sb_cstr(room))) {
            sb_feat_fail(ev, "not_in_room", "join document '%s' first", doc);
        } else {
            /* Volatile: a cursor position is stale by the next one. */
            sb_str_t r = sb_cstr(room);
            sb_sio_target_t t = {
                .rooms = &r, .nrooms = 1, .except_socket = c->sock, .is_volatile = true};
            sb_feat_broadcast(c->f, &t, "collab:cursor_update",
                              json_pack("{s:s,s:s,s:s,s:O,s:O}", "documentId", doc, "userId",
                                        c->user->id, "name", sb_feat_user_name(c->user), "x", x,
                                        "y", y));
            sb_feat_reply(ev, json_pack("{s:b}", "ok", 1));
        }
    }
    json_decref(arg);
}

static const sb_feature_event_t collab_events[] = {
    {"collab:join_document", collab_on_join},
    {"collab:leave_document", collab_on_leave},
    {"collab:edit", collab_on_edit},
    {"collab:cursor_move", collab_on_cursor},
};

int sb_feat_live_collab_init(sb_features_t *f) {
    return sb_feat_register(f, collab_events, sizeof collab_events / sizeof *collab_events);
}
