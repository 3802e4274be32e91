/* Notifications, friend requests and posts (being written). */
#include "features/features_internal.h"

int sb_feat_social_init(sb_features_t *f) { return 0; }

void sb_feat_social_deliver_offline(sb_client_t *c) {}
