/* Answers with binary values from several places, in one list (answers.h). */
#include "cluster/answers.h"

#include <stdlib.h>
#include <string.h>

void sb_answers_init(sb_answers_t *a) { *a = (sb_answers_t){.items = json_array()}; }

void sb_answers_dispose(sb_answers_t *a) {
    json_decref(a->items);
    for (size_t i = 0; i < a->natts; i++)
        free((void *)a->atts[i].p);
    free(a->atts);
    *a = (sb_answers_t){0};
}

/* Placeholders of one answer (numbered from 0) renumbered from `base`. */
static void renumber(json_t *v, size_t base) {
    size_t i;
    const char *k;
    json_t *e;
    if (json_is_array(v)) {
        json_array_foreach(v, i, e) renumber(e, base);
    } else if (json_is_object(v)) {
        json_t *num = json_object_get(v, "num");
        if (json_is_true(json_object_get(v, "_placeholder")) && json_is_integer(num)) {
            json_integer_set(num, json_integer_value(num) + (json_int_t)base);
            return;
        }
        json_object_foreach(v, k, e) renumber(e, base);
    }
}

static void append(sb_answers_t *a, json_t *v) {
    if (!a->items || json_array_size(a->items) >= SB_ANSWERS_MAX_ITEMS ||
        json_array_append(a->items, v ? v : json_null()) != 0)
        a->truncated = true;
}

static bool copy_binary(sb_answers_t *a, const sb_str_t *atts, size_t natts) {
    if (natts > SB_ANSWERS_MAX_BINARY - a->natts)
        return false;
    sb_str_t *v = realloc(a->atts, sizeof *v * (a->natts + natts));
    if (!v)
        return false;
    a->atts = v;
    for (size_t i = 0; i < natts; i++) {
        char *copy = malloc(atts[i].n ? atts[i].n : 1);
        if (copy)
            memcpy(copy, atts[i].p, atts[i].n);
        else
            a->truncated = true; /* that value reads as empty */
        a->atts[a->natts + i] = sb_str(copy, copy ? atts[i].n : 0);
    }
    return true;
}

void sb_answers_add(sb_answers_t *a, json_t *v, const sb_str_t *atts, size_t natts) {
    if (natts && (!v || !copy_binary(a, atts, natts))) {
        a->truncated = true;
        append(a, NULL);
        return;
    }
    if (natts)
        renumber(v, a->natts);
    a->natts += natts;
    append(a, v);
}

void sb_answers_add_all(sb_answers_t *a, json_t *list, const sb_str_t *atts, size_t natts) {
    size_t i;
    json_t *v;
    if (natts && !copy_binary(a, atts, natts)) {
        a->truncated = true;
        return;
    }
    if (natts)
        renumber(list, a->natts);
    a->natts += natts;
    json_array_foreach(list, i, v) append(a, v);
}
