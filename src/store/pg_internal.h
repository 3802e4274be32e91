/* PostgreSQL backend internals (libpq), shared by pg_schema.c, pg_conn.c and
 * their unit tests. Not yet selectable: docs/store.md says what is built and
 * what remains before `--database-url` exists. */
#ifndef SB_STORE_PG_INTERNAL_H
#define SB_STORE_PG_INTERNAL_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* ---- schema (pg_schema.c) ----------------------------------------------------- */

/* Number of PostgreSQL migrations this build knows; equals the SQLite
 * schema's version (tests/unit/test_pg_schema.c compares both schemas). */
int sb_store_pg__schema_version(void);

/* Brings the database to sb_store_pg__schema_version() on the ready,
 * blocking connection `db`. Each migration runs in its own transaction that
 * first takes a transaction-scoped advisory lock, so servers starting together
 * apply each migration once. Refuses a database whose encoding is not UTF8 or
 * whose schema is newer than this build (SB_EINVAL); SB_EIO on a failed
 * statement. A message for the operator goes to err. */
int sb_store_pg__migrate(PGconn *db, char *err, size_t cap);

#endif
