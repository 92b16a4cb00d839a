#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "verdict.h"

static rr_verdict *new_verdict(void) {
    rr_verdict *v = NULL;
    assert_int_equal(rr_verdict_new(&v, NULL), RR_OK);
    return v;
}

static void test_new_verdict_passes_with_no_findings(void **state) {
    (void)state;
    rr_verdict *v = new_verdict();
    assert_int_equal(rr_verdict_passed(v), 1);
    assert_string_equal(rr_verdict_failure(v), "");
    assert_int_equal(rr_verdict_finding_count(v), 0);
    assert_null(rr_verdict_finding_code(v, 0));
    assert_null(rr_verdict_finding_message(v, 0));
    assert_int_equal(rr_verdict_finding_span_start(v, 0), -1);
    assert_true(isnan(rr_verdict_score(v, "grounding")));
    rr_verdict_free(v);
}

static void test_first_failure_type_wins(void **state) {
    (void)state;
    rr_verdict *v = new_verdict();
    rr_verdict_fail(v, RR_FAIL_SCHEMA);
    rr_verdict_fail(v, RR_FAIL_GROUNDING);
    assert_int_equal(rr_verdict_passed(v), 0);
    assert_string_equal(rr_verdict_failure(v), "schema");
    rr_verdict_free(v);
}

static void test_finding_fields_round_trip(void **state) {
    (void)state;
    rr_verdict *v = new_verdict();
    assert_int_equal(rr_verdict_add(v, "schema", "required", "required", "/a/0", 4,
                                    "/properties/a/required", 22, 3, 9,
                                    "required property \"%s\" is missing", "id"),
                     RR_OK);
    assert_int_equal(rr_verdict_finding_count(v), 1);
    assert_string_equal(rr_verdict_finding_code(v, 0), "required");
    assert_string_equal(rr_verdict_finding_validator(v, 0), "schema");
    assert_string_equal(rr_verdict_finding_keyword(v, 0), "required");
    assert_string_equal(rr_verdict_finding_instance_location(v, 0), "/a/0");
    assert_string_equal(rr_verdict_finding_keyword_location(v, 0), "/properties/a/required");
    assert_string_equal(rr_verdict_finding_message(v, 0), "required property \"id\" is missing");
    assert_int_equal(rr_verdict_finding_span_start(v, 0), 3);
    assert_int_equal(rr_verdict_finding_span_end(v, 0), 9);
    assert_null(rr_verdict_finding_code(v, 1));
    rr_verdict_free(v);
}

static void test_findings_past_the_cap_are_counted_not_stored(void **state) {
    (void)state;
    rr_verdict *v = new_verdict();
    for (int i = 0; i < 250; i++)
        assert_int_equal(rr_verdict_add(v, "x", "c", "", NULL, 0, NULL, 0, -1, -1, "m%d", i),
                         RR_OK);
    assert_int_equal(rr_verdict_finding_count(v), 100);
    assert_int_equal(rr_verdict_dropped_findings(v), 150);
    size_t len = 0;
    const char *js = rr_verdict_json(v, &len);
    assert_non_null(js);
    assert_true(len < 100 * 200);
    assert_non_null(strstr(js, "\"findings_dropped\":150"));
    rr_verdict_free(v);
}

static void test_json_record_is_valid_json_with_every_field(void **state) {
    (void)state;
    rr_verdict *v = new_verdict();
    rr_verdict_add(v, "schema", "type", "type", "/q\"uote", 7, "/type", 5, -1, -1, "bad \n");
    rr_verdict_fail(v, RR_FAIL_SCHEMA);
    rr_verdict_set_score(v, "grounding", 0.25);
    rr_verdict_ran(v, "schema", "2020-12", "schema", 0, 1234);
    size_t len;
    const char *js = rr_verdict_json(v, &len);
    json_error_t je;
    json_t *j = json_loadb(js, len, 0, &je);
    assert_non_null(j);
    assert_true(json_is_false(json_object_get(j, "passed")));
    assert_string_equal(json_string_value(json_object_get(j, "failure")), "schema");
    json_t *f = json_array_get(json_object_get(j, "findings"), 0);
    assert_string_equal(json_string_value(json_object_get(f, "instanceLocation")), "/q\"uote");
    assert_string_equal(json_string_value(json_object_get(f, "keywordLocation")), "/type");
    assert_true(json_is_null(json_object_get(f, "span")));
    assert_true(json_real_value(json_object_get(json_object_get(j, "scores"), "grounding")) ==
                0.25);
    json_t *val = json_array_get(json_object_get(j, "validators"), 0);
    assert_string_equal(json_string_value(json_object_get(val, "version")), "2020-12");
    assert_int_equal(json_integer_value(json_object_get(j, "ns")), 1234);
    json_decref(j);
    rr_verdict_free(v);
}

static void test_message_cut_inside_a_character_keeps_json_valid(void **state) {
    (void)state;
    rr_verdict *v = new_verdict();
    /* "\xc3\xa9" cut after its first byte, and a stray byte from an error text */
    rr_verdict_add(v, "schema", "x", "", "", 0, "", 0, -1, -1, "%.*s|\xde", 3, "ab\xc3\xa9");
    assert_string_equal(rr_verdict_finding_message(v, 0), "ab?|?");
    size_t len;
    const char *js = rr_verdict_json(v, &len);
    json_t *j = json_loadb(js, len, 0, NULL);
    assert_non_null(j);
    json_decref(j);
    rr_verdict_free(v);
}

static void test_json_is_rebuilt_after_change(void **state) {
    (void)state;
    rr_verdict *v = new_verdict();
    const char *a = rr_verdict_json(v, NULL);
    assert_non_null(strstr(a, "\"passed\":true"));
    rr_verdict_fail(v, RR_FAIL_EMPTY);
    const char *b = rr_verdict_json(v, NULL);
    assert_non_null(strstr(b, "\"passed\":false"));
    assert_non_null(strstr(b, "\"failure\":\"empty\""));
    rr_verdict_free(v);
}

/* Counts allocations so a test can prove reuse allocates nothing. */
typedef struct counting {
    size_t allocs;
    size_t fail_after; /* 0 = never fail */
} counting;

static void *cnt_malloc(size_t n, void *ud) {
    counting *c = ud;
    if (c->fail_after && c->allocs >= c->fail_after)
        return NULL;
    c->allocs++;
    return malloc(n);
}
static void *cnt_realloc(void *p, size_t n, void *ud) {
    counting *c = ud;
    if (c->fail_after && c->allocs >= c->fail_after)
        return NULL;
    c->allocs++;
    return realloc(p, n);
}
static void cnt_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

static void test_reset_verdict_refills_without_allocating(void **state) {
    (void)state;
    counting c = {0, 0};
    rr_allocator al = {RR_ALLOCATOR_VERSION, &c, cnt_malloc, cnt_realloc, cnt_free};
    rr_verdict *v = NULL;
    assert_int_equal(rr_verdict_new(&v, &al), RR_OK);
    for (int round = 0; round < 3; round++) {
        if (round == 2)
            c.allocs = 0;
        rr_verdict_reset(v);
        for (int i = 0; i < 20; i++)
            rr_verdict_add(v, "schema", "type", "type", "/a", 2, "/type", 5, -1, -1, "m %d", i);
        rr_verdict_fail(v, RR_FAIL_SCHEMA);
        assert_non_null(rr_verdict_json(v, NULL));
    }
    assert_int_equal(c.allocs, 0);
    rr_verdict_free(v);
}

static void test_failing_allocator_reports_enomem(void **state) {
    (void)state;
    counting c = {0, 1};
    rr_allocator al = {RR_ALLOCATOR_VERSION, &c, cnt_malloc, cnt_realloc, cnt_free};
    rr_verdict *v = NULL;
    assert_int_equal(rr_verdict_new(&v, &al), RR_OK); /* the one allowed allocation */
    assert_int_equal(rr_verdict_add(v, "x", "c", "", "/a", 2, "", 0, -1, -1, "m"), RR_ENOMEM);
    assert_int_equal(rr_verdict_finding_count(v), 0);
    assert_null(rr_verdict_json(v, NULL));
    rr_verdict_free(v);
    counting none = {1, 1}; /* refuses the very first allocation */
    rr_allocator al0 = {RR_ALLOCATOR_VERSION, &none, cnt_malloc, cnt_realloc, cnt_free};
    rr_verdict *w = NULL;
    assert_int_equal(rr_verdict_new(&w, &al0), RR_ENOMEM);
    assert_null(w);
}

static void test_null_verdict_getters_are_safe(void **state) {
    (void)state;
    rr_verdict_free(NULL);
    rr_verdict_reset(NULL);
    assert_int_equal(rr_verdict_passed(NULL), 0);
    assert_int_equal(rr_verdict_finding_count(NULL), 0);
    assert_null(rr_verdict_finding_code(NULL, 0));
    assert_null(rr_verdict_json(NULL, NULL));
    assert_int_equal(rr_verdict_new(NULL, NULL), RR_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_verdict_passes_with_no_findings),
        cmocka_unit_test(test_first_failure_type_wins),
        cmocka_unit_test(test_finding_fields_round_trip),
        cmocka_unit_test(test_findings_past_the_cap_are_counted_not_stored),
        cmocka_unit_test(test_json_record_is_valid_json_with_every_field),
        cmocka_unit_test(test_message_cut_inside_a_character_keeps_json_valid),
        cmocka_unit_test(test_json_is_rebuilt_after_change),
        cmocka_unit_test(test_reset_verdict_refills_without_allocating),
        cmocka_unit_test(test_failing_allocator_reports_enomem),
        cmocka_unit_test(test_null_verdict_getters_are_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
