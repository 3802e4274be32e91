/* Answers gathered from several places (src/cluster/answers.c): each
 * source's placeholders numbered from 0 end up indexing one list of owned
 * copies; past the bounds answers are left out and the list says so. */
#include <stdlib.h>
#include <string.h>

#include "cluster/answers.h"
#include "core/err.h"
#include "testlib.h"

static char *dump(const sb_answers_t *a) { return json_dumps(a->items, JSON_COMPACT); }

static json_t *placeholder(int num) {
    return json_pack("{s:b,s:i}", "_placeholder", 1, "num", num);
}

TEST(placeholders_of_each_source_are_renumbered) {
    sb_answers_t a;
    sb_answers_init(&a);
    char b1[] = "ab", b2[] = "xyz";
    sb_str_t one[1] = {sb_str(b1, 2)}, two[2] = {sb_str(b2, 3), sb_str(b1, 1)};
    json_t *v1 = json_pack("{s:o}", "echo", placeholder(0));
    json_t *v2 = json_pack("[o,o]", placeholder(1), placeholder(0));
    sb_answers_add(&a, v1, one, 1);
    sb_answers_add(&a, v2, two, 2);
    sb_answers_add(&a, NULL, NULL, 0);
    memset(b1, '!', 2); /* the answers keep their own copies */
    memset(b2, '!', 3);
    char *text = dump(&a);
    CHECK(!strcmp(text, "[{\"echo\":{\"_placeholder\":true,\"num\":0}},"
                        "[{\"_placeholder\":true,\"num\":2},{\"_placeholder\":true,\"num\":1}],"
                        "null]"));
    CHECK_EQ(a.natts, 3);
    CHECK_MEM(a.atts[0].p, a.atts[0].n, "ab");
    CHECK_MEM(a.atts[1].p, a.atts[1].n, "xyz");
    CHECK_MEM(a.atts[2].p, a.atts[2].n, "a");
    CHECK(!a.truncated);
    free(text);
    json_decref(v1);
    json_decref(v2);
    sb_answers_dispose(&a);
}

TEST(a_list_with_binary_is_added_element_by_element) {
    sb_answers_t a;
    sb_answers_init(&a);
    sb_str_t first = SB_LIT("1"), rest[2] = {SB_LIT("22"), SB_LIT("")};
    json_t *v = placeholder(0);
    sb_answers_add(&a, v, &first, 1);
    json_t *list = json_pack("[o,s,o]", placeholder(1), "plain", placeholder(0));
    sb_answers_add_all(&a, list, rest, 2);
    CHECK_EQ(json_array_size(a.items), 4);
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(a.items, 1), "num")), 2);
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(a.items, 3), "num")), 1);
    CHECK_MEM(a.atts[1].p, a.atts[1].n, "22");
    CHECK_EQ(a.atts[2].n, 0);
    json_decref(v);
    json_decref(list);
    sb_answers_dispose(&a);
}

TEST(bounds_leave_answers_out_and_say_so) {
    sb_answers_t a;
    sb_answers_init(&a);
    json_t *n = json_integer(1);
    for (int i = 0; i < SB_ANSWERS_MAX_ITEMS + 5; i++)
        sb_answers_add(&a, n, NULL, 0);
    CHECK_EQ(json_array_size(a.items), SB_ANSWERS_MAX_ITEMS);
    CHECK(a.truncated);
    sb_answers_dispose(&a);

    sb_answers_init(&a);
    static sb_str_t many[SB_ANSWERS_MAX_BINARY + 1];
    for (size_t i = 0; i < SB_ANSWERS_MAX_BINARY + 1; i++)
        many[i] = SB_LIT("b");
    json_t *p = placeholder(0);
    sb_answers_add(&a, p, many, SB_ANSWERS_MAX_BINARY); /* fits exactly */
    CHECK(!a.truncated);
    sb_answers_add(&a, p, many, 1); /* one binary value too many: null instead */
    CHECK(a.truncated);
    CHECK_EQ(a.natts, SB_ANSWERS_MAX_BINARY);
    CHECK(json_is_null(json_array_get(a.items, 1)));
    json_decref(p);
    json_decref(n);
    sb_answers_dispose(&a);
}

int main(void) {
    RUN(placeholders_of_each_source_are_renumbered);
    RUN(a_list_with_binary_is_added_element_by_element);
    RUN(bounds_leave_answers_out_and_say_so);
    TEST_MAIN_END();
}
