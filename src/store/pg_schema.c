/* Versioned PostgreSQL schema: the twin of migrations.c, one entry per SQLite
 * migration with the same number and name, so both stores hold the same
 * tables, columns and indexes (tests/unit/test_pg_schema.c compares them).
 * Append new migrations at the end; never edit one that has shipped.
 *
 * Translation rules: INTEGER PRIMARY KEY AUTOINCREMENT -> bigint identity
 * (never reused either); times and ids bigint; 0/1 flags stay integer so both
 * backends bind and read the same values; json_valid() checks -> the json
 * type, which validates and keeps the text exactly as given. */
#include "store/pg_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

typedef struct {
    const char *name;
    const char *sql;
} pg_migration_t;

static const pg_migration_t migrations[] = {
    {"initial schema",
     "CREATE TABLE users ("
     "  id text PRIMARY KEY,"
     "  name text NOT NULL,"
     "  avatar text,"
     "  last_seen_ms bigint NOT NULL);"

     "CREATE TABLE conversations ("
     "  id text PRIMARY KEY,"
     "  title text,"
     "  is_direct integer NOT NULL,"
     "  created_at_ms bigint NOT NULL);"
     "CREATE TABLE conversation_members ("
     "  conversation_id text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
     "  user_id text NOT NULL,"
     "  PRIMARY KEY (conversation_id, user_id));"
     "CREATE INDEX conversation_members_by_user ON conversation_members(user_id);"

     "CREATE TABLE messages ("
     "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
     "  room text NOT NULL,"
     "  sender_id text NOT NULL,"
     "  content text NOT NULL,"
     "  type text NOT NULL,"
     "  created_at_ms bigint NOT NULL);"
     "CREATE INDEX messages_by_room ON messages(room, id);"
     "CREATE TABLE message_deliveries ("
     "  user_id text NOT NULL,"
     "  message_id bigint NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
     "  delivered integer NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (user_id, message_id));"
     "CREATE INDEX message_deliveries_pending ON message_deliveries(user_id, message_id)"
     "  WHERE delivered = 0;"
     "CREATE TABLE message_reads ("
     "  message_id bigint NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
     "  user_id text NOT NULL,"
     "  read_at_ms bigint NOT NULL,"
     "  PRIMARY KEY (message_id, user_id));"

     "CREATE TABLE notifications ("
     "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
     "  user_id text NOT NULL,"
     "  type text NOT NULL,"
     "  title text NOT NULL,"
     "  message text NOT NULL,"
     "  data json,"
     "  is_read integer NOT NULL DEFAULT 0,"
     "  delivered integer NOT NULL DEFAULT 0,"
     "  created_at_ms bigint NOT NULL);"
     "CREATE INDEX notifications_by_user ON notifications(user_id, id);"
     "CREATE INDEX notifications_pending ON notifications(user_id, id) WHERE delivered = 0;"

     "CREATE TABLE friend_requests ("
     "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
     "  from_id text NOT NULL,"
     "  to_id text NOT NULL,"
     "  status text NOT NULL CHECK (status IN ('pending', 'accepted')),"
     "  created_at_ms bigint NOT NULL);"
     "CREATE INDEX friend_requests_by_pair ON friend_requests(from_id, to_id);"
     "CREATE TABLE friendships ("
     "  user_id text NOT NULL,"
     "  friend_id text NOT NULL,"
     "  created_at_ms bigint NOT NULL,"
     "  PRIMARY KEY (user_id, friend_id));"

     "CREATE TABLE posts ("
     "  id text PRIMARY KEY,"
     "  owner_id text NOT NULL);"
     "CREATE TABLE post_reactions ("
     "  post_id text NOT NULL REFERENCES posts(id) ON DELETE CASCADE,"
     "  user_id text NOT NULL,"
     "  type text NOT NULL,"
     "  PRIMARY KEY (post_id, user_id));"
     "CREATE TABLE post_comments ("
     "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
     "  post_id text NOT NULL REFERENCES posts(id) ON DELETE CASCADE,"
     "  user_id text NOT NULL,"
     "  content text NOT NULL,"
     "  created_at_ms bigint NOT NULL);"
     "CREATE INDEX post_comments_by_post ON post_comments(post_id, id);"

     "CREATE TABLE doc_versions ("
     "  doc_id text NOT NULL,"
     "  version bigint NOT NULL,"
     "  user_id text NOT NULL,"
     "  changes json NOT NULL,"
     "  created_at_ms bigint NOT NULL,"
     "  PRIMARY KEY (doc_id, version));"},

    {"idempotency keys", "CREATE TABLE message_keys ("
                         "  sender_id text NOT NULL,"
                         "  key text NOT NULL,"
                         "  message_id bigint NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
                         "  created_at_ms bigint NOT NULL,"
                         "  PRIMARY KEY (sender_id, key));"
                         "CREATE INDEX message_keys_by_age ON message_keys(created_at_ms);"
                         "CREATE TABLE http_keys ("
                         "  key text PRIMARY KEY,"
                         "  request text NOT NULL,"
                         "  status integer NOT NULL,"
                         "  body text NOT NULL,"
                         "  created_at_ms bigint NOT NULL);"
                         "CREATE INDEX http_keys_by_age ON http_keys(created_at_ms);"},
    {"recoverable Socket.IO sessions",
     "CREATE TABLE sio_sessions ("
     "  pid text PRIMARY KEY,"
     "  nsp text NOT NULL,"
     "  sid text NOT NULL,"
     "  owner text,"
     "  rooms json NOT NULL,"
     "  disconnected_at_ms bigint);"
     "CREATE INDEX sio_sessions_by_time ON sio_sessions(disconnected_at_ms);"},
    {"the store's identity",
     /* Random, once: relayed deliveries name the store whose ids they carry
      * (servers sharing this database find the same one). */
     "CREATE TABLE store_identity(id text NOT NULL);"
     "INSERT INTO store_identity SELECT md5(random()::text || clock_timestamp()::text);"},
    {"message keys by message",
     /* A pending message read for a device carries its sender's key, as live. */
     "CREATE INDEX message_keys_by_message ON message_keys(message_id);"},
    {"message sender names",
     /* The name a backend gave a message's sender (POST .../messages
      * senderName); NULL: the user's. */
     "ALTER TABLE messages ADD COLUMN sender_name text;"},
    {"deliveries without a foreign key",
     /* Each delivery is inserted by the statement that inserts its message,
      * and no operation deletes a message: the check guarded nothing, and on
      * the appends' connection, which orders every append, it was a probe
      * of messages and a row lock per delivery (docs/store.md, "Runs"). */
     "ALTER TABLE message_deliveries DROP CONSTRAINT IF EXISTS "
     "message_deliveries_message_id_fkey;"},
    {"text compared byte by byte",
     /* Ids, rooms and keys compare as bytes, as SQLite's BINARY does,
      * whatever locale the database was created with: the same order on
      * both stores, and no locale-aware comparison in every index probe (a
      * database created with en_US.UTF-8 took a quarter fewer messages a
      * second at 1,000 senders). Every text column of ours; a later
      * migration's must say COLLATE "C" itself (test_pg_schema checks each
      * one). Their indexes are rebuilt once, here. */
     "DO $$ DECLARE c record; BEGIN "
     "FOR c IN SELECT table_name, column_name FROM information_schema.columns "
     "WHERE table_schema = current_schema() AND data_type = 'text' "
     "AND collation_name IS DISTINCT FROM 'C' AND table_name = ANY (ARRAY["
     "'users', 'conversations', 'conversation_members', 'messages', 'message_deliveries', "
     "'message_reads', 'notifications', 'friend_requests', 'friendships', 'posts', "
     "'post_reactions', 'post_comments', 'doc_versions', 'message_keys', 'http_keys', "
     "'sio_sessions', 'store_identity']) "
     "ORDER BY table_name, ordinal_position LOOP "
     "EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE text COLLATE \"C\"', "
     "c.table_name, c.column_name); "
     "END LOOP; END $$;"},
    {"delivery floors",
     /* A confirmation sets `delivered` on its row. With an index on the
      * flag (the pending one) every confirmation wrote a new row version
      * and an entry in each index; without one, and with room left on each
      * page for it, the new version stays on its page and no index changes
      * (a heap-only update). The pending rows of a user are found from the
      * user's floor instead: every delivery up to it is confirmed
      * (docs/store.md, "Delivery floors"). */
     "CREATE TABLE message_delivery_floors ("
     "  user_id text COLLATE \"C\" PRIMARY KEY,"
     "  upto bigint NOT NULL);"
     /* Each user's floor from the rows already there: one pass, once. */
     "INSERT INTO message_delivery_floors(user_id, upto) SELECT user_id, "
     "coalesce(min(CASE WHEN delivered = 0 THEN message_id END) - 1, max(message_id)) "
     "FROM message_deliveries GROUP BY user_id;"
     "DROP INDEX message_deliveries_pending;"
     "ALTER TABLE message_deliveries SET (fillfactor = 50);"},
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* Any fixed 64-bit number: every Switchboard server agrees on it ("SWBSCHEM"). */
#define SCHEMA_LOCK_KEY "6004223376440575309"

int sb_store_pg__schema_version(void) { return N_MIGRATIONS; }

/* Runs one statement (or several, without parameters); false on error. */
static bool exec_ok(PGconn *db, const char *sql) {
    PGresult *res = PQexec(db, sql);
    ExecStatusType st = PQresultStatus(res);
    PQclear(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static void fail(PGconn *db, char *err, size_t cap, const char *what) {
    /* PQerrorMessage ends with a newline; drop it so the log line is one line. */
    const char *msg = PQerrorMessage(db);
    int n = (int)strcspn(msg, "\n");
    snprintf(err, cap, "store: %s: %.*s", what, n, msg);
    if (PQtransactionStatus(db) != PQTRANS_IDLE)
        PQclear(PQexec(db, "ROLLBACK"));
}

/* Opens a transaction holding the schema lock, with the version table in
 * place, and reads the version; the caller commits or rolls back. */
static int begin_locked(PGconn *db, int *version, char *err, size_t cap) {
    if (!exec_ok(db, "BEGIN") ||
        !exec_ok(db, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ")") ||
        !exec_ok(db, "CREATE TABLE IF NOT EXISTS switchboard_schema ("
                     "  version integer PRIMARY KEY,"
                     "  name text NOT NULL,"
                     "  applied_at timestamptz NOT NULL DEFAULT now())")) {
        fail(db, err, cap, "cannot lock the schema");
        return SB_EIO;
    }
    PGresult *res = PQexec(db, "SELECT coalesce(max(version), 0) FROM switchboard_schema");
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    if (ok)
        *version = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!ok) {
        fail(db, err, cap, "cannot read the schema version");
        return SB_EIO;
    }
    return SB_OK;
}

/* Applies migration index i (schema version i + 1) in the open transaction. */
static int apply(PGconn *db, int i, char *err, size_t cap) {
    char version[16];
    snprintf(version, sizeof version, "%d", i + 1);
    const char *params[2] = {version, migrations[i].name};
    bool ok = exec_ok(db, migrations[i].sql);
    if (ok) {
        PGresult *res = PQexecParams(db,
                                     "INSERT INTO switchboard_schema(version, name) "
                                     "VALUES($1::integer, $2)",
                                     2, NULL, params, NULL, NULL, 0);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
    }
    if (ok && exec_ok(db, "COMMIT"))
        return SB_OK;
    char what[128];
    snprintf(what, sizeof what, "migration %d (%s) failed", i + 1, migrations[i].name);
    fail(db, err, cap, what);
    return SB_EIO;
}

static int check_encoding(PGconn *db, char *err, size_t cap) {
    const char *enc = PQparameterStatus(db, "server_encoding");
    if (enc && strcmp(enc, "UTF8") == 0)
        return SB_OK;
    snprintf(err, cap,
             "store: the database's encoding is %s, Switchboard needs UTF8 "
             "(CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0)",
             enc ? enc : "unknown");
    return SB_EINVAL;
}

int sb_store_pg__migrate(PGconn *db, char *err, size_t cap) {
    int rc = check_encoding(db, err, cap);
    if (rc != SB_OK)
        return rc;
    for (;;) {
        int version = 0;
        if ((rc = begin_locked(db, &version, err, cap)) != SB_OK)
            return rc;
        if (version < 0 || version > N_MIGRATIONS) {
            PQclear(PQexec(db, "ROLLBACK"));
            if (version < 0) {
                snprintf(err, cap, "store: database schema version %d is invalid; refusing it",
                         version);
                return SB_EINVAL;
            }
            snprintf(err, cap,
                     "store: database schema version %d is newer than this build supports (%d); "
                     "refusing to open it (upgrade Switchboard or restore a matching backup)",
                     version, N_MIGRATIONS);
            return SB_EINVAL;
        }
        if (version == N_MIGRATIONS) {
            if (exec_ok(db, "COMMIT"))
                return SB_OK;
            fail(db, err, cap, "cannot release the schema lock");
            return SB_EIO;
        }
        if ((rc = apply(db, version, err, cap)) != SB_OK)
            return rc;
    }
}
