/* Direct messages, history, read receipts, typing, offline delivery (being written). */
#include "features/features_internal.h"

int sb_feat_messages_init(sb_features_t *f) { return 0; }
void sb_feat_messages_deliver_offline(sb_client_t *c) {}
void sb_feat_messages_dispose(sb_features_t *f) {}
