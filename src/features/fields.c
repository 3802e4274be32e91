/* Payload fields as the event handlers check them (sb_feat_field_t): read
 * from a jansson value, or, for a hot event's argument that is an object of
 * strings (what clients send), straight from the packet's text. Both readings
 * give the same fields for the same text, so the checks, and the error
 * answers, are one code. */
#include <string.h>

#include "core/json.h"
#include "features/features_internal.h"

/* An object has at most this many members read without a tree. */
#define SB_FEAT_FLAT_MAX 16

json_t *sb_feat_arg(const sb_sio_event_t *ev, size_t i) {
    if (i >= ev->nargs)
        return NULL;
    return json_loadb(ev->arg[i].p, ev->arg[i].n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

sb_feat_field_t sb_feat_field_of(json_t *obj, const char *name) {
    return sb_feat_field_value(json_object_get(obj, name));
}

sb_feat_field_t sb_feat_field_value(json_t *v) {
    sb_feat_field_t f = {.present = v != NULL, .is_string = json_is_string(v)};
    if (f.is_string) {
        f.p = json_string_value(v);
        f.n = json_string_length(v);
    }
    return f;
}

bool sb_feat_field_text(const sb_feat_field_t *f, size_t min, size_t max) {
    return f->is_string && f->n >= min && f->n <= max && !memchr(f->p, '\0', f->n);
}

/* The index of key in names, or n. */
static size_t name_index(sb_str_t key, const char *const *names, size_t n) {
    size_t k = 0;
    while (k < n && !sb_str_eq(key, sb_cstr(names[k])))
        k++;
    return k;
}

/* The fast reading: false when the text needs jansson (not a flat object,
 * a wanted member twice, which jansson resolves its own way, or escaped
 * text that does not fit in scratch). */
static bool read_flat(sb_str_t text, const char *const *names, size_t n, sb_feat_field_t *fields,
                      char *scratch, size_t cap) {
    sb_json_member_t m[SB_FEAT_FLAT_MAX];
    int count = sb_json_flat_object(text, m, SB_FEAT_FLAT_MAX);
    if (count < 0)
        return false;
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        size_t k = name_index(m[i].key, names, n);
        if (k == n)
            continue; /* a string member nobody reads: jansson would ignore it too */
        sb_feat_field_t *f = &fields[k];
        if (f->present)
            return false;
        *f = (sb_feat_field_t){true, true, m[i].value.p + 1, m[i].value.n - 2};
        if (m[i].escaped) {
            size_t len;
            if (sb_json_string_unescape(m[i].value, scratch + used, cap - used, &len) != SB_OK)
                return false;
            f->p = scratch + used;
            f->n = len;
            used += len;
        }
    }
    return true;
}

bool sb_feat_arg_fields(const sb_sio_event_t *ev, size_t i, const char *const *names, size_t n,
                        sb_feat_field_t *fields, char *scratch, size_t cap, json_t **hold) {
    *hold = NULL;
    memset(fields, 0, n * sizeof *fields);
    if (i < ev->nargs && read_flat(ev->arg[i], names, n, fields, scratch, cap))
        return true;
    memset(fields, 0, n * sizeof *fields);
    json_t *a = *hold = sb_feat_arg(ev, i);
    if (!json_is_object(a))
        return false;
    for (size_t k = 0; k < n; k++)
        fields[k] = sb_feat_field_of(a, names[k]);
    return true;
}
