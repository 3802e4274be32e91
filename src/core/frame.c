#include "core/frame.h"

#include <stdlib.h>
#include <string.h>

sb_frame_t *sb_frame_create(const void *data, size_t len, uint32_t flags) {
    return sb_frame_create_in(NULL, data, len, flags);
}

sb_frame_t *sb_frame_create_in(sb_slab_t *slab, const void *data, size_t len, uint32_t flags) {
    sb_frame_t *f = slab ? sb_slab_alloc(slab, sizeof(*f) + len + 1) : malloc(sizeof(*f) + len + 1);
    if (!f)
        return NULL;
    f->slab = slab;
    f->refs = 1;
    f->flags = flags;
    f->next = NULL;
    f->len = len;
    f->ws_hdr_len = 0;
    if (data && len)
        memcpy(f->data, data, len);
    f->data[len] = '\0'; /* lets text frames be logged and parsed as C strings */
    return f;
}

void sb_frame_unref(sb_frame_t *f) {
    while (f && --f->refs == 0) {
        sb_frame_t *next = f->next;
        if (f->slab)
            sb_slab_free(f->slab, f, sizeof(*f) + f->len + 1);
        else
            free(f);
        f = next;
    }
}

size_t sb_frame_chain_len(const sb_frame_t *f) {
    size_t n = 0;
    for (; f; f = f->next)
        n += f->len;
    return n;
}
