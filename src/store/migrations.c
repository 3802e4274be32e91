/* Versioned schema. PRAGMA user_version holds the number of migrations
 * applied; each migration runs in its own transaction together with the
 * version bump, so a crash leaves the schema at one version or the next.
 * Append new migrations at the end; never edit one that has shipped. */
#include "store/store_internal.h"

#include <stdio.h>

#include "core/err.h"

typedef struct {
    const char *name;
    const char *sql;
} migration_t;

static const migration_t migrations[] = {
    {"initial schema",
     "CREATE TABLE users ("
     "  id TEXT PRIMARY KEY,"
     "  name TEXT NOT NULL,"
     "  avatar TEXT,"
     "  last_seen_ms INTEGER NOT NULL);"

     "CREATE TABLE conversations ("
     "  id TEXT PRIMARY KEY,"
     "  title TEXT,"
     "  is_direct INTEGER NOT NULL,"
     "  created_at_ms INTEGER NOT NULL);"
     "CREATE TABLE conversation_members ("
     "  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
     "  user_id TEXT NOT NULL,"
     "  PRIMARY KEY (conversation_id, user_id)) WITHOUT ROWID;"
     "CREATE INDEX conversation_members_by_user ON conversation_members(user_id);"

     /* AUTOINCREMENT: ids are never reused, even after the newest row is deleted. */
     "CREATE TABLE messages ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  room TEXT NOT NULL,"
     "  sender_id TEXT NOT NULL,"
     "  content TEXT NOT NULL,"
     "  type TEXT NOT NULL,"
     "  created_at_ms INTEGER NOT NULL);"
     "CREATE INDEX messages_by_room ON messages(room, id);"
     "CREATE TABLE message_deliveries ("
     "  user_id TEXT NOT NULL,"
     "  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
     "  delivered INTEGER NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (user_id, message_id)) WITHOUT ROWID;"
     "CREATE INDEX message_deliveries_pending ON message_deliveries(user_id, message_id)"
     "  WHERE delivered = 0;"
     "CREATE TABLE message_reads ("
     "  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
     "  user_id TEXT NOT NULL,"
     "  read_at_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (message_id, user_id)) WITHOUT ROWID;"

     "CREATE TABLE notifications ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  user_id TEXT NOT NULL,"
     "  type TEXT NOT NULL,"
     "  title TEXT NOT NULL,"
     "  message TEXT NOT NULL,"
     "  data TEXT CHECK (data IS NULL OR json_valid(data)),"
     "  is_read INTEGER NOT NULL DEFAULT 0,"
     "  delivered INTEGER NOT NULL DEFAULT 0,"
     "  created_at_ms INTEGER NOT NULL);"
     "CREATE INDEX notifications_by_user ON notifications(user_id, id);"
     "CREATE INDEX notifications_pending ON notifications(user_id, id) WHERE delivered = 0;"

     "CREATE TABLE friend_requests ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  from_id TEXT NOT NULL,"
     "  to_id TEXT NOT NULL,"
     "  status TEXT NOT NULL CHECK (status IN ('pending', 'accepted')),"
     "  created_at_ms INTEGER NOT NULL);"
     "CREATE INDEX friend_requests_by_pair ON friend_requests(from_id, to_id);"
     /* Both directions are stored, so a user's friends are one index range. */
     "CREATE TABLE friendships ("
     "  user_id TEXT NOT NULL,"
     "  friend_id TEXT NOT NULL,"
     "  created_at_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (user_id, friend_id)) WITHOUT ROWID;"

     "CREATE TABLE posts ("
     "  id TEXT PRIMARY KEY,"
     "  owner_id TEXT NOT NULL);"
     "CREATE TABLE post_reactions ("
     "  post_id TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,"
     "  user_id TEXT NOT NULL,"
     "  type TEXT NOT NULL,"
     "  PRIMARY KEY (post_id, user_id)) WITHOUT ROWID;"
     "CREATE TABLE post_comments ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  post_id TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,"
     "  user_id TEXT NOT NULL,"
     "  content TEXT NOT NULL,"
     "  created_at_ms INTEGER NOT NULL);"
     "CREATE INDEX post_comments_by_post ON post_comments(post_id, id);"

     "CREATE TABLE doc_versions ("
     "  doc_id TEXT NOT NULL,"
     "  version INTEGER NOT NULL,"
     "  user_id TEXT NOT NULL,"
     "  changes TEXT NOT NULL CHECK (json_valid(changes)),"
     "  created_at_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (doc_id, version)) WITHOUT ROWID;"},

    {"idempotency keys",
     /* A sender's retry with the same key returns the message stored the
      * first time (message_append); forgotten after a day. */
     "CREATE TABLE message_keys ("
     "  sender_id TEXT NOT NULL,"
     "  key TEXT NOT NULL,"
     "  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
     "  created_at_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (sender_id, key)) WITHOUT ROWID;"
     "CREATE INDEX message_keys_by_age ON message_keys(created_at_ms);"
     /* The answer to an HTTP API write, replayed to a retry with the same Idempotency-Key. */
     "CREATE TABLE http_keys ("
     "  key TEXT PRIMARY KEY,"
     "  request TEXT NOT NULL,"
     "  status INTEGER NOT NULL,"
     "  body TEXT NOT NULL,"
     "  created_at_ms INTEGER NOT NULL) WITHOUT ROWID;"
     "CREATE INDEX http_keys_by_age ON http_keys(created_at_ms);"},
    {"recoverable Socket.IO sessions",
     /* disconnected_at_ms NULL: connected (or the process died holding it). */
     "CREATE TABLE sio_sessions ("
     "  pid TEXT PRIMARY KEY,"
     "  nsp TEXT NOT NULL,"
     "  sid TEXT NOT NULL,"
     "  owner TEXT,"
     "  rooms TEXT NOT NULL CHECK (json_valid(rooms)),"
     "  disconnected_at_ms INTEGER);"
     "CREATE INDEX sio_sessions_by_time ON sio_sessions(disconnected_at_ms);"},
    {"the store's identity",
     /* Random, once: relayed deliveries name the store whose ids they carry. */
     "CREATE TABLE store_identity(id TEXT NOT NULL);"
     "INSERT INTO store_identity VALUES(lower(hex(randomblob(16))));"},
    {"message keys by message",
     /* A pending message read for a device carries its sender's key, as live. */
     "CREATE INDEX message_keys_by_message ON message_keys(message_id);"},
    {"message sender names",
     /* The name a backend gave a message's sender (POST .../messages
      * senderName); NULL: the user's. */
     "ALTER TABLE messages ADD COLUMN sender_name TEXT;"},
    {"deliveries without a foreign key",
     /* PostgreSQL's twin drops the check; here it is a lookup in the
      * process, and dropping it would rebuild the table on upgrade. */
     "SELECT 1;"},
    {"text compared byte by byte",
     /* PostgreSQL's twin gives its text columns the "C" collation: SQLite's
      * are BINARY already. */
     "SELECT 1;"},
    {"delivery floors",
     /* A user's pending deliveries are found from the user's floor (every
      * delivery up to it is confirmed), no longer by an index on the flag:
      * on PostgreSQL that index made each confirmation a new row version in
      * every index (docs/store.md, "Delivery floors"). The same here, so
      * both stores answer from the same schema. */
     "CREATE TABLE message_delivery_floors ("
     "  user_id TEXT PRIMARY KEY,"
     "  upto INTEGER NOT NULL) WITHOUT ROWID;"
     /* Each user's floor from the rows already there: one pass, once. */
     "INSERT INTO message_delivery_floors(user_id, upto) SELECT user_id, "
     "coalesce(min(CASE WHEN delivered = 0 THEN message_id END) - 1, max(message_id)) "
     "FROM message_deliveries GROUP BY user_id;"
     "DROP INDEX message_deliveries_pending;"},
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int sb_store__schema_version(void) { return N_MIGRATIONS; }

static int user_version(sqlite3 *db, int *out) {
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(s, 0);
    int frc = sqlite3_finalize(s);
    return rc == SQLITE_ROW ? SQLITE_OK : frc != SQLITE_OK ? frc : rc;
}

/* Applies migration index i (schema version i + 1) in one transaction. */
static int apply(sqlite3 *db, int i, char *err, size_t cap) {
    char bump[64];
    /* PRAGMA takes no bound parameters; the value is our own integer. */
    snprintf(bump, sizeof bump, "PRAGMA user_version = %d", i + 1);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, migrations[i].sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, bump, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return SB_OK;
    snprintf(err, cap, "store: migration %d (%s) failed: %s", i + 1, migrations[i].name,
             sqlite3_errmsg(db));
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return SB_EIO;
}

int sb_store__migrate(sqlite3 *db, char *err, size_t cap) {
    int version = 0;
    int rc = user_version(db, &version);
    if (rc != SQLITE_OK) {
        snprintf(err, cap, "store: cannot read the schema version: %s", sqlite3_errmsg(db));
        return SB_EIO;
    }
    if (version < 0) {
        snprintf(err, cap, "store: database schema version %d is invalid; refusing to open it",
                 version);
        return SB_EINVAL;
    }
    if (version > N_MIGRATIONS) {
        snprintf(err, cap,
                 "store: database schema version %d is newer than this build supports (%d); "
                 "refusing to open it (upgrade Switchboard or restore a matching backup)",
                 version, N_MIGRATIONS);
        return SB_EINVAL;
    }
    for (int i = version; i < N_MIGRATIONS; i++)
        if (apply(db, i, err, cap) != SB_OK)
            return SB_EIO;
    return SB_OK;
}
