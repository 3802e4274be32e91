/* What one WebSocket connection of a distinct user holds in pooled objects
 * (docs/operations.md, "Distinct users": 19,000 users cost ~0.93 KiB per
 * connection, issue 17 asks for 1 KiB or less). A field added to any of these
 * objects is paid 19,000 times over: this fails until the budget below and
 * the documented breakdown are updated with it, on purpose. */
#include "core/conn.h"
#include "engineio/eio_internal.h"
#include "features/features_internal.h"
#include "hub/hub_internal.h"
#include "socketio/sio_internal.h"
#include "testlib.h"

TEST(pooled_objects_of_a_connection_stay_within_budget) {
    size_t bytes[] = {
        sizeof(sb_conn_t),        /* 200 */
        sizeof(sb_eio_session_t), /* 112 */
        sizeof(sb_sio_client_t),  /* 40 */
        sizeof(sb_sio_socket_t),  /* 192: with its recovery state (pid, flags) */
        sizeof(sb_client_t),      /* 104: the features' per-socket state */
        2 * sizeof(sb_hub_link_t) /* 80: two rooms (the user's room is a ring through
                                     sb_client_t, features/devices.c) */
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof bytes / sizeof bytes[0]; i++) {
        printf("# object %zu: %zu bytes\n", i, bytes[i]);
        total += bytes[i];
    }
    /* The WebSocket state (64, private to ws/conn.c) comes on top. The
     * socket's recovery state (32) was a slab record of its own (72). */
    CHECK(total <= 728);
}

TEST(records_of_a_distinct_user_stay_within_budget) {
    /* Headers of the slab records: the user (its id, name and avatar
     * follow the header's last field, not its padding), a room; each adds
     * its id or name, as a socket's recovery strings are its owner's id
     * (docs/operations.md). */
    CHECK(offsetof(sb_user_t, id) <= 18);
    CHECK(sizeof(sb_hub_room_t) <= 40);
}

int main(void) {
    RUN(pooled_objects_of_a_connection_stay_within_budget);
    RUN(records_of_a_distinct_user_stay_within_budget);
    TEST_MAIN_END();
}
