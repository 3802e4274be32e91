/* Helpers of the unit tests that talk to PostgreSQL themselves (a session
 * of their own next to the code under test). */
#ifndef SB_TESTLIB_PG_H
#define SB_TESTLIB_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

/* Runs sql; false (and the error on stderr) unless it succeeded. */
static inline bool pg_exec_ok(PGconn *db, const char *sql) {
    PGresult *res = PQexec(db, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "  %s: %s", sql, PQerrorMessage(db));
    PQclear(res);
    return ok;
}

#endif
