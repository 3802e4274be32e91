/* The store's unit tests (test_store.c) against PostgreSQL: every operation
 * with the same results and error codes as on SQLite. Run by tests/run.sh
 * under tests/lib/pg-cluster.sh, which provides SB_PG_URL. */
#define SB_TEST_PG 1
/* The SQLite-only tests are compiled, not run. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_store.c"
