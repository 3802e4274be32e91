/* Collaborative documents, dashboards, WebRTC signaling, file share (being written). */
#include "features/features_internal.h"

int sb_feat_live_init(sb_features_t *f) { return 0; }
void sb_feat_live_disconnect(sb_client_t *c) {}
void sb_feat_live_tick(sb_features_t *f) {}
void sb_feat_live_dispose(sb_features_t *f) {}
