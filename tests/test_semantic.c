/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "validate_semantic.h"
#include "verdict.h"

/* ---- fixture: a router with the identifiers checks read, and the issue's config ------ */

enum { R_CUSTOMER, R_ALLOWED, R_TOL, R_PII, R_TASK, R__COUNT };

static char *slot_names[R__COUNT] = {"customer.id", "allowed_categories", "thr.sum_tolerance",
                                     "pii.any", "task"};
static rr_type slot_types[R__COUNT] = {RR_T_STR, RR_T_STR, RR_T_NUM, RR_T_BOOL, RR_T_STR};

static struct rr_router fake_router(void) {
    struct rr_router r;
    memset(&r, 0, sizeof r);
    r.nslots = R__COUNT;
    r.slot_names = slot_names;
    r.slot_types = slot_types;
    return r;
}

static const char *const issue_config =
    "{\"type\": \"semantic\", \"version\": \"1\","
    " \"fields\": {"
    "  \"total\":       {\"pointer\": \"/total\", \"type\": \"number\"},"
    "  \"items_total\": {\"sum\": \"/line_items/*/amount\"},"
    "  \"opened\":      {\"pointer\": \"/opened_at\", \"type\": \"date\"},"
    "  \"closed\":      {\"pointer\": \"/closed_at\", \"type\": \"date\"},"
    "  \"customer\":    {\"pointer\": \"/customer_id\", \"type\": \"string\"},"
    "  \"category\":    {\"pointer\": \"/category\", \"type\": \"string\"},"
    "  \"kind\":        {\"pointer\": \"/type\", \"type\": \"string\"},"
    "  \"refund\":      {\"pointer\": \"/refund_amount\", \"type\": \"number\"}"
    " },"
    " \"checks\": ["
    "  {\"id\": \"total_matches_items\", \"assert\": \"total >= items_total - thr.sum_tolerance "
    "&& total <= items_total + thr.sum_tolerance\", \"message\": \"total differs from the sum of "
    "line items\"},"
    "  {\"id\": \"dates_in_order\", \"assert\": \"!has(closed) || opened <= closed\"},"
    "  {\"id\": \"customer_is_caller\", \"assert\": \"customer == customer.id\"},"
    "  {\"id\": \"category_allowed\", \"assert\": \"category in allowed_categories\"},"
    "  {\"id\": \"refund_needs_amount\", \"assert\": \"kind != 'refund' || has(refund)\"}"
    " ]}";

/* An output that passes every check of the issue's config. */
static const char *const good_output =
    "{\"total\": 30.0, \"line_items\": [{\"amount\": 10.1}, {\"amount\": 19.9}],"
    " \"opened_at\": \"2024-05-01\", \"closed_at\": \"2024-05-02T09:00:00Z\","
    " \"customer_id\": \"C-42\", \"category\": \"billing\", \"type\": \"refund\","
    " \"refund_amount\": 30}";

static rr_value sstr(const char *s) {
    rr_value v = {RR_T_STR, 1, (uint32_t)strlen(s), {.str = s}};
    return v;
}

static rr_value snum(double d) {
    rr_value v = {RR_T_NUM, 1, 0, {.num = d}};
    return v;
}

static void router_slots(rr_value *slots) {
    slots[R_CUSTOMER] = sstr("C-42");
    slots[R_ALLOWED] = sstr("billing, technical, account");
    slots[R_TOL] = snum(0.01);
    slots[R_PII] = (rr_value){RR_T_BOOL, 1, 0, {.b = 0}};
    slots[R_TASK] = sstr("extract");
}

static rr_alloc libc_alloc(void) {
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    return a;
}

static json_t *parse(const char *text) {
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (!j)
        fail_msg("fixture JSON does not parse: %s (line %d col %d): %s", je.text, je.line,
                 je.column, text);
    return j;
}

static rr_semantic *compile_text(const char *config) {
    struct rr_router r = fake_router();
    rr_alloc a = libc_alloc();
    json_t *c = parse(config);
    rr_semantic *s = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_semantic_new(&s, &r, c, "/validators/ticket_semantic", "ticket_semantic", &a, &err);
    json_decref(c);
    if (rc != RR_OK)
        fail_msg("config failed to compile: %s", err.message);
    return s;
}

/* Validate `output` into `v` (initialised here) with the fixture's router slots. */
static void run_on(const rr_semantic *s, const char *output, rr_value *router_vals,
                   struct rr_verdict *v) {
    rr_alloc a = libc_alloc();
    rr_verdict_init(v, &a);
    rr_value slots[R__COUNT + RR_SEMANTIC_MAX_FIELDS];
    assert_true(rr_semantic_slot_count(s) <= RR_ARRAY_LEN(slots));
    if (router_vals)
        memcpy(slots, router_vals, R__COUNT * sizeof *slots);
    else
        router_slots(slots);
    json_t *j = parse(output);
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_semantic_check(s, j, slots, v, &err), RR_OK);
    json_decref(j);
}

static const char *pool(const struct rr_verdict *v, uint32_t off) {
    return v->pool.p + off;
}

/* The verdict failed with "semantic" and holds exactly one finding with these fields. */
static void expect_one(const struct rr_verdict *v, const char *code, const char *keyword,
                       const char *instance, const char *kwloc, const char *message) {
    if (v->nfindings != 1)
        fail_msg("want 1 finding (%s), got %zu (first: %s %s)", code, v->nfindings,
                 v->nfindings ? v->findings[0].code : "-",
                 v->nfindings ? pool(v, v->findings[0].msg_off) : "-");
    assert_int_equal(v->passed, 0);
    assert_string_equal(v->failure, "semantic");
    const rr_finding *f = &v->findings[0];
    assert_string_equal(f->code, code);
    assert_string_equal(f->validator, "ticket_semantic");
    assert_string_equal(f->keyword, keyword);
    assert_string_equal(pool(v, f->inst_off), instance);
    if (kwloc)
        assert_string_equal(pool(v, f->kw_off), kwloc);
    if (message)
        assert_string_equal(pool(v, f->msg_off), message);
    assert_int_equal(f->span_start, -1);
}

static void expect_pass(const struct rr_verdict *v) {
    if (!v->passed || v->nfindings)
        fail_msg("want a pass, got %zu findings (first: %s: %s)", v->nfindings,
                 v->nfindings ? v->findings[0].code : "-",
                 v->nfindings ? pool(v, v->findings[0].msg_off) : "-");
}

/* good_output with one member replaced (or removed, when `value` is NULL). */
static char *variant(const char *key, const char *value) {
    json_t *j = parse(good_output);
    if (value) {
        json_t *x = parse(value);
        json_object_set_new(j, key, x);
    } else {
        json_object_del(j, key);
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static void run_variant(const rr_semantic *s, const char *key, const char *value,
                        struct rr_verdict *v) {
    char *out = variant(key, value);
    run_on(s, out, NULL, v);
    free(out);
}

/* ---- the five kinds of check from the issue -------------------------------------------- */

static void test_issue_config_passes_a_consistent_output(void **state) {
    (void)state;
    rr_semantic *s = compile_text(issue_config);
    assert_int_equal(rr_semantic_field_count(s), 8);
    assert_int_equal(rr_semantic_field_base(s), R__COUNT);
    assert_int_equal(rr_semantic_slot_count(s), R__COUNT + 8);
    assert_string_equal(rr_semantic_field_name(s, 0), "total");
    assert_null(rr_semantic_field_name(s, 8));
    struct rr_verdict v;
    run_on(s, good_output, NULL, &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    rr_semantic_free(s);
}

static void test_total_must_equal_sum_of_line_items_within_tolerance(void **state) {
    (void)state;
    rr_semantic *s = compile_text(issue_config);
    struct rr_verdict v;
    /* 10.1 + 19.9 within 0.01 of the total: floating-point noise does not fail it. */
    run_variant(s, "total", "30.009", &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    run_variant(s, "total", "29.991", &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    run_variant(s, "total", "30.02", &v);
    expect_one(&v, "semantic_check_failed", "total_matches_items", "/total",
               "/validators/ticket_semantic/checks/0", "total differs from the sum of line items");
    rr_verdict_release(&v);
    /* The tolerance is the request's threshold, read at check time. */
    rr_value rv[R__COUNT];
    router_slots(rv);
    rv[R_TOL] = snum(0.05);
    char *out = variant("total", "30.02");
    run_on(s, out, rv, &v);
    free(out);
    expect_pass(&v);
    rr_verdict_release(&v);
    /* No line items: the sum is 0 and present. */
    run_variant(s, "line_items", "[]", &v);
    expect_one(&v, "semantic_check_failed", "total_matches_items", "/total", NULL, NULL);
    rr_verdict_release(&v);
    rr_semantic_free(s);
}

static void test_dates_must_be_in_order_unless_closed_is_absent(void **state) {
    (void)state;
    rr_semantic *s = compile_text(issue_config);
    struct rr_verdict v;
    run_variant(s, "closed_at", "\"2024-04-30T23:59:59Z\"", &v);
    expect_one(&v, "semantic_check_failed", "dates_in_order", "/closed_at",
               "/validators/ticket_semantic/checks/1", "!has(closed) || opened <= closed");
    rr_verdict_release(&v);
    run_variant(s, "closed_at", NULL, &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    run_variant(s, "closed_at", "null", &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    /* Offsets count: 10:00+02:00 is 08:00Z, before 09:30Z. */
    char *out = variant("opened_at", "\"2024-05-02T10:00:00+02:00\"");
    json_t *j = parse(out);
    json_object_set_new(j, "closed_at", json_string("2024-05-02T09:30:00Z"));
    char *out2 = json_dumps(j, JSON_COMPACT);
    run_on(s, out2, NULL, &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    json_object_set_new(j, "closed_at", json_string("2024-05-02T07:59:59.5z"));
    free(out2);
    out2 = json_dumps(j, JSON_COMPACT);
    run_on(s, out2, NULL, &v);
    expect_one(&v, "semantic_check_failed", "dates_in_order", "/closed_at", NULL, NULL);
    rr_verdict_release(&v);
    free(out2);
    free(out);
    json_decref(j);
    rr_semantic_free(s);
}

static void test_field_must_equal_request_attribute(void **state) {
    (void)state;
    rr_semantic *s = compile_text(issue_config);
    struct rr_verdict v;
    run_variant(s, "customer_id", "\"C-43\"", &v);
    expect_one(&v, "semantic_check_failed", "customer_is_caller", "/customer_id",
               "/validators/ticket_semantic/checks/2", "customer == customer.id");
    rr_verdict_release(&v);
    run_variant(s, "customer_id", "\"C-4\"", &v);
    expect_one(&v, "semantic_check_failed", "customer_is_caller", "/customer_id", NULL, NULL);
    rr_verdict_release(&v);
    /* Missing is the empty string, which is not the caller. */
    run_variant(s, "customer_id", NULL, &v);
    expect_one(&v, "semantic_check_failed", "customer_is_caller", "/customer_id", NULL, NULL);
    rr_verdict_release(&v);
    rr_value rv[R__COUNT];
    router_slots(rv);
    rv[R_CUSTOMER] = sstr("C-43");
    char *out = variant("customer_id", "\"C-43\"");
    run_on(s, out, rv, &v);
    free(out);
    expect_pass(&v);
    rr_verdict_release(&v);
    rr_semantic_free(s);
}

static void test_enum_must_be_drawn_from_request_attribute(void **state) {
    (void)state;
    rr_semantic *s = compile_text(issue_config);
    struct rr_verdict v;
    run_variant(s, "category", "\"account\"", &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    run_variant(s, "category", "\"shipping\"", &v);
    expect_one(&v, "semantic_check_failed", "category_allowed", "/category",
               "/validators/ticket_semantic/checks/3", "category in allowed_categories");
    rr_verdict_release(&v);
    rr_value rv[R__COUNT];
    router_slots(rv);
    rv[R_ALLOWED] = sstr("");
    run_on(s, good_output, rv, &v);
    expect_one(&v, "semantic_check_failed", "category_allowed", "/category", NULL, NULL);
    rr_verdict_release(&v);
    rr_semantic_free(s);
}

static void test_field_required_if_another_has_a_value(void **state) {
    (void)state;
    rr_semantic *s = compile_text(issue_config);
    struct rr_verdict v;
    run_variant(s, "refund_amount", NULL, &v);
    expect_one(&v, "semantic_check_failed", "refund_needs_amount", "/type",
               "/validators/ticket_semantic/checks/4", "kind != 'refund' || has(refund)");
    rr_verdict_release(&v);
    run_variant(s, "refund_amount", "null", &v);
    expect_one(&v, "semantic_check_failed", "refund_needs_amount", "/type", NULL, NULL);
    rr_verdict_release(&v);
    char *out = variant("refund_amount", NULL);
    json_t *j = parse(out);
    json_object_set_new(j, "type", json_string("question"));
    char *out2 = json_dumps(j, JSON_COMPACT);
    run_on(s, out2, NULL, &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    free(out);
    free(out2);
    json_decref(j);
    rr_semantic_free(s);
}

static void test_every_failed_check_is_reported(void **state) {
    (void)state;
    rr_semantic *s = compile_text(issue_config);
    struct rr_verdict v;
    run_on(s, "{\"total\": 1, \"line_items\": [], \"type\": \"refund\"}", NULL, &v);
    assert_int_equal(v.nfindings, 4);
    const char *want[] = {"total_matches_items", "customer_is_caller", "category_allowed",
                          "refund_needs_amount"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(v.findings[i].keyword, want[i]);
    assert_string_equal(v.failure, "semantic");
    rr_verdict_release(&v);
    rr_semantic_free(s);
}

/* ---- field reading --------------------------------------------------------------------- */

static rr_semantic *one_check(const char *fields, const char *assert_src) {
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "{\"fields\": %s, \"checks\": [{\"id\": \"c\", \"assert\": \"%s\"}]}",
             fields, assert_src);
    return compile_text(cfg);
}

static void test_dates_parse_rfc3339_to_epoch_seconds(void **state) {
    (void)state;
    static const struct {
        const char *date;
        const char *value;
    } ok[] = {
        {"1970-01-01", "0"},
        {"2024-05-01", "1714521600"},
        {"2024-02-29", "1709164800"},
        {"2000-02-29T00:00:00Z", "951782400"},
        {"2024-05-01T10:00:00Z", "1714557600"},
        {"2024-05-01t10:00:00z", "1714557600"},
        {"2024-05-01 10:00:00Z", "1714557600"},
        {"2024-05-01T12:30:00+02:30", "1714557600"},
        {"2024-05-01T05:00:00-05:00", "1714557600"},
        {"2024-05-01T10:00:00.25Z", "1714557600.25"},
        {"1969-12-31T23:59:59Z", "-1"},
        {"1900-03-01", "-2203891200"},
    };
    for (size_t i = 0; i < RR_ARRAY_LEN(ok); i++) {
        char src[128], out[128];
        snprintf(src, sizeof src, "d == %s", ok[i].value);
        rr_semantic *s = one_check("{\"d\": {\"pointer\": \"/d\", \"type\": \"date\"}}", src);
        snprintf(out, sizeof out, "{\"d\": \"%s\"}", ok[i].date);
        struct rr_verdict v;
        run_on(s, out, NULL, &v);
        if (!v.passed)
            fail_msg("'%s' should read as %s (%zu findings: %s)", ok[i].date, ok[i].value,
                     v.nfindings, v.nfindings ? v.findings[0].code : "-");
        rr_verdict_release(&v);
        rr_semantic_free(s);
    }
}

static void test_unparsable_date_is_a_finding_and_skips_its_checks(void **state) {
    (void)state;
    static const char *const bad[] = {
        "2024-02-30",
        "2023-02-29",
        "1900-02-29",
        "2024-13-01",
        "2024-00-10",
        "2024-5-01",
        "24-05-01",
        "2024/05/01",
        "2024-05-01T",
        "2024-05-01T10:00Z",
        "2024-05-01T10:00:00",
        "2024-05-01T24:00:00Z",
        "2024-05-01T10:60:00Z",
        "2024-05-01T10:00:61Z",
        "2024-05-01T10:00:00.Z",
        "2024-05-01T10:00:00+2:00",
        "2024-05-01T10:00:00+24:00",
        "2024-05-01X10:00:00Z",
        "2024-05-01T10:00:00Zjunk",
        "yesterday",
        "",
    };
    rr_semantic *s = compile_text(issue_config);
    for (size_t i = 0; i < RR_ARRAY_LEN(bad); i++) {
        char val[96];
        snprintf(val, sizeof val, "\"%s\"", bad[i]);
        struct rr_verdict v;
        run_variant(s, "opened_at", val, &v);
        if (v.nfindings != 1 || strcmp(v.findings[0].code, "invalid_date"))
            fail_msg("'%s': want exactly one invalid_date, got %zu (%s)", bad[i], v.nfindings,
                     v.nfindings ? v.findings[0].code : "-");
        expect_one(&v, "invalid_date", "opened", "/opened_at",
                   "/validators/ticket_semantic/fields/opened",
                   "field 'opened' is not an RFC 3339 date or date-time");
        rr_verdict_release(&v);
    }
    rr_semantic_free(s);
}

static void test_wrong_json_type_is_reported_at_its_location(void **state) {
    (void)state;
    rr_semantic *s = compile_text(issue_config);
    struct rr_verdict v;
    run_variant(s, "total", "\"30\"", &v);
    expect_one(&v, "semantic_type_mismatch", "total", "/total",
               "/validators/ticket_semantic/fields/total",
               "field 'total' expects a number, found string");
    rr_verdict_release(&v);
    run_variant(s, "opened_at", "20240501", &v);
    expect_one(&v, "semantic_type_mismatch", "opened", "/opened_at", NULL,
               "field 'opened' expects an RFC 3339 date string, found number");
    rr_verdict_release(&v);
    run_variant(s, "category", "[\"billing\"]", &v);
    expect_one(&v, "semantic_type_mismatch", "category", "/category", NULL,
               "field 'category' expects a string, found array");
    rr_verdict_release(&v);
    /* Only the first non-number of a sum is reported; the total check is skipped. */
    run_variant(s, "line_items",
                "[{\"amount\": 10}, {\"amount\": \"20\"}, {\"amount\": true}, {\"note\": 1}]", &v);
    expect_one(&v, "semantic_type_mismatch", "items_total", "/line_items/1/amount",
               "/validators/ticket_semantic/fields/items_total",
               "field 'items_total' sums numbers, found string");
    rr_verdict_release(&v);
    run_variant(s, "line_items", "\"none\"", &v);
    expect_one(&v, "semantic_type_mismatch", "items_total", "/line_items", NULL,
               "field 'items_total' expands '*' over arrays or objects, found string");
    rr_verdict_release(&v);
    rr_semantic_free(s);
}

static void test_sum_expands_objects_and_nested_wildcards(void **state) {
    (void)state;
    rr_semantic *s = one_check("{\"n\": {\"sum\": \"/orders/*/items/*/price\"},"
                               " \"m\": {\"sum\": \"/fees/*\"}, \"one\": {\"sum\": \"/x\"}}",
                               "n == 10 && m == 7 && one == 2.5 && has(n)");
    struct rr_verdict v;
    run_on(s,
           "{\"orders\": {\"a\": {\"items\": [{\"price\": 1}, {\"price\": 2}]},"
           " \"b\": {\"items\": {\"x\": {\"price\": 3}, \"y\": {\"price\": 4}}},"
           " \"c\": {\"items\": []}, \"d\": {}, \"e\": null},"
           " \"fees\": [3, 4, null], \"x\": 2.5}",
           NULL, &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    /* A missing collection is absent: has() false, value 0. */
    rr_semantic_free(s);
    s = one_check("{\"n\": {\"sum\": \"/orders/*/total\"}}", "!has(n) && n == 0");
    run_on(s, "{\"other\": 1}", NULL, &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    run_on(s, "{\"orders\": null}", NULL, &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    run_on(s, "{\"orders\": []}", NULL, &v);
    expect_one(&v, "semantic_check_failed", "c", "/orders", NULL, NULL);
    rr_verdict_release(&v);
    rr_semantic_free(s);
}

static void test_pointers_follow_rfc6901(void **state) {
    (void)state;
    rr_semantic *s = one_check("{\"a\": {\"pointer\": \"/a~1b/c~0d\", \"type\": \"number\"},"
                               " \"i\": {\"pointer\": \"/list/1\", \"type\": \"string\"},"
                               " \"z\": {\"pointer\": \"/list/01\", \"type\": \"string\"},"
                               " \"e\": {\"pointer\": \"/\", \"type\": \"bool\"}}",
                               "a == 5 && i == 'y' && !has(z) && e");
    struct rr_verdict v;
    run_on(s, "{\"a/b\": {\"c~d\": 5}, \"list\": [\"x\", \"y\"], \"\": true}", NULL, &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    run_on(s, "{\"a/b\": {\"c~d\": \"5\"}, \"list\": [\"x\", \"y\"], \"\": true}", NULL, &v);
    expect_one(&v, "semantic_type_mismatch", "a", "/a~1b/c~0d", NULL, NULL);
    rr_verdict_release(&v);
    rr_semantic_free(s);
    /* The whole output as a field; NULL output means nothing is present. */
    s = one_check("{\"w\": {\"pointer\": \"\", \"type\": \"string\"}}", "has(w) && w == 'hi'");
    run_on(s, "\"hi\"", NULL, &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    rr_value slots[R__COUNT + 1];
    router_slots(slots);
    rr_alloc a = libc_alloc();
    rr_verdict_init(&v, &a);
    assert_int_equal(rr_semantic_check(s, NULL, slots, &v, NULL), RR_OK);
    expect_one(&v, "semantic_check_failed", "c", "", NULL, NULL);
    rr_verdict_release(&v);
    rr_semantic_free(s);
}

static void test_check_reading_no_field_has_empty_instance_location(void **state) {
    (void)state;
    rr_semantic *s = one_check("{}", "task == 'extract' && !pii.any");
    struct rr_verdict v;
    run_on(s, "{}", NULL, &v);
    expect_pass(&v);
    rr_verdict_release(&v);
    rr_value rv[R__COUNT];
    router_slots(rv);
    rv[R_TASK] = sstr("faq");
    run_on(s, "{}", rv, &v);
    expect_one(&v, "semantic_check_failed", "c", "", "/validators/ticket_semantic/checks/0",
               "task == 'extract' && !pii.any");
    rr_verdict_release(&v);
    rr_semantic_free(s);
}

/* ---- configuration errors -------------------------------------------------------------- */

static void expect_config_error(const char *config, int code, const char *pointer,
                                uint32_t expr_column, const char *message_part) {
    struct rr_router r = fake_router();
    rr_alloc a = libc_alloc();
    json_t *c = parse(config);
    rr_semantic *s = (rr_semantic *)&a;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_semantic_new(&s, &r, c, "/validators/v", "v", &a, &err);
    json_decref(c);
    if (rc != code || err.code != code || strcmp(err.pointer, pointer) ||
        err.expr_column != expr_column || !strstr(err.message, message_part))
        fail_msg("%s\n got rc %d ptr '%s' col %u '%s'\n want rc %d ptr '%s' col %u '...%s...'",
                 config, rc, err.pointer, err.expr_column, err.message, code, pointer, expr_column,
                 message_part);
    assert_null(s);
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s: ", pointer);
    assert_true(strncmp(err.message, prefix, strlen(prefix)) == 0);
}

#define CHK(x) "\"checks\": [{\"id\": \"c\", \"assert\": \"" x "\"}]"
#define NUMF(name, ptr) "\"" name "\": {\"pointer\": \"" ptr "\", \"type\": \"number\"}"

static void test_config_errors_name_their_pointer(void **state) {
    (void)state;
    const int P = RR_EPOLICY, E = RR_EEXPR;
    expect_config_error("[]", P, "/validators/v", 0, "must be an object, found array");
    expect_config_error("{\"type\": \"semantic\", \"checks\": [], \"extra\": 1}", P,
                        "/validators/v/extra", 0, "unknown key 'extra'");
    expect_config_error("{\"type\": \"shape\", " CHK("true") "}", P, "/validators/v/type", 0,
                        "expected type \"semantic\"");
    expect_config_error("{\"fields\": {}}", P, "/validators/v", 0, "missing required key 'checks'");
    expect_config_error("{\"checks\": []}", P, "/validators/v/checks", 0, "non-empty array");
    expect_config_error("{\"checks\": {}}", P, "/validators/v/checks", 0, "non-empty array");
    expect_config_error("{\"fields\": [], " CHK("true") "}", P, "/validators/v/fields", 0,
                        "must be an object, found array");
    expect_config_error("{\"fields\": {\"t\": 1}, " CHK("true") "}", P, "/validators/v/fields/t", 0,
                        "a field must be an object, found number");
    expect_config_error("{\"fields\": {\"t\": {\"pointer\": \"/t\", \"type\": \"number\", "
                        "\"default\": 0}}, " CHK("t > 0") "}",
                        P, "/validators/v/fields/t/default", 0, "unknown key 'default' in a field");
    expect_config_error(
        "{\"fields\": {\"t\": {\"sum\": \"/t/*\", \"type\": \"number\"}}, " CHK("t > 0") "}", P,
        "/validators/v/fields/t/type", 0, "unknown key 'type' in a sum field");
    expect_config_error("{\"fields\": {\"t\": {\"pointer\": \"/t\"}}, " CHK("t > 0") "}", P,
                        "/validators/v/fields/t", 0, "missing required key 'type'");
    expect_config_error(
        "{\"fields\": {\"t\": {\"pointer\": \"/t\", \"type\": \"int\"}}, " CHK("t > 0") "}", P,
        "/validators/v/fields/t/type", 0, "unknown field type 'int'");
    expect_config_error(
        "{\"fields\": {\"t\": {\"pointer\": \"/t\", \"type\": 3}}, " CHK("t > 0") "}", P,
        "/validators/v/fields/t/type", 0, "'type' must be a string");
    expect_config_error("{\"fields\": {\"t\": {\"type\": \"number\"}}, " CHK("t > 0") "}", P,
                        "/validators/v/fields/t", 0, "exactly one of \"pointer\" or \"sum\"");
    expect_config_error(
        "{\"fields\": {\"t\": {\"pointer\": \"/t\", \"sum\": \"/t\"}}, " CHK("t > 0") "}", P,
        "/validators/v/fields/t", 0, "exactly one of \"pointer\" or \"sum\"");
    expect_config_error("{\"fields\": {" NUMF("t", "t") "}, " CHK("t > 0") "}", P,
                        "/validators/v/fields/t/pointer", 0, "starts with '/'");
    expect_config_error("{\"fields\": {" NUMF("t", "/a~2") "}, " CHK("t > 0") "}", P,
                        "/validators/v/fields/t/pointer", 0, "'~' must be followed by 0 or 1");
    expect_config_error("{\"fields\": {" NUMF("t", "/a~") "}, " CHK("t > 0") "}", P,
                        "/validators/v/fields/t/pointer", 0, "'~' must be followed by 0 or 1");
    expect_config_error("{\"fields\": {" NUMF("t", "/a/*/b") "}, " CHK("t > 0") "}", P,
                        "/validators/v/fields/t/pointer", 0, "only \"sum\" fields");
    expect_config_error("{\"fields\": {\"t\": {\"sum\": \"/"
                        "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/"
                        "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a\"}}, " CHK("t > 0") "}",
                        P, "/validators/v/fields/t/sum", 0, "at most 32 segments");
    expect_config_error("{\"fields\": {" NUMF("1t", "/t") "}, " CHK("true") "}", P,
                        "/validators/v/fields/1t", 0, "is not an identifier");
    expect_config_error("{\"fields\": {" NUMF("in", "/t") "}, " CHK("true") "}", P,
                        "/validators/v/fields/in", 0, "is not an identifier");
    expect_config_error("{\"fields\": {" NUMF("a/b", "/t") "}, " CHK("true") "}", P,
                        "/validators/v/fields/a~1b", 0, "is not an identifier");
    expect_config_error("{\"fields\": {" NUMF("customer.id", "/c") "}, " CHK("true") "}", P,
                        "/validators/v/fields/customer.id", 0,
                        "field 'customer.id' shadows the router's identifier");
    expect_config_error("{\"fields\": {" NUMF("pii.any", "/c") "}, " CHK("true") "}", P,
                        "/validators/v/fields/pii.any", 0, "shadows");
    expect_config_error("{\"fields\": {" NUMF("thr.x", "/c") "}, " CHK("true") "}", P,
                        "/validators/v/fields/thr.x", 0, "may not start with thr. or match.");
    expect_config_error("{\"checks\": [1]}", P, "/validators/v/checks/0", 0,
                        "a check must be an object, found number");
    expect_config_error("{\"checks\": [{\"assert\": \"task == 'x'\"}]}", P,
                        "/validators/v/checks/0", 0, "missing required key 'id'");
    expect_config_error("{\"checks\": [{\"id\": \"\", \"assert\": \"task == 'x'\"}]}", P,
                        "/validators/v/checks/0/id", 0, "must not be empty");
    expect_config_error("{\"checks\": [{\"id\": \"a\"}]}", P, "/validators/v/checks/0", 0,
                        "missing required key 'assert'");
    expect_config_error("{\"checks\": [{\"id\": \"a\", \"assert\": \"task == 'x'\", "
                        "\"when\": \"x\"}]}",
                        P, "/validators/v/checks/0/when", 0, "unknown key 'when' in a check");
    expect_config_error("{\"checks\": [{\"id\": \"a\", \"assert\": \"task == 'x'\", "
                        "\"message\": 5}]}",
                        P, "/validators/v/checks/0/message", 0, "'message' must be a string");
    expect_config_error("{\"checks\": [{\"id\": \"a\", \"assert\": \"task == 'x'\"}, "
                        "{\"id\": \"a\", \"assert\": \"task == 'y'\"}]}",
                        P, "/validators/v/checks/1/id", 0, "check id 'a' used twice");
    expect_config_error(
        "{\"fields\": {" NUMF(
            "t", "/t") "}, \"checks\": [{\"id\": \"a\", "
                       "\"assert\": \"t > 0\"}, {\"id\": \"b\", \"assert\": \"t >= \"}]}",
        E, "/validators/v/checks/1/assert", 6, "expected a value");
    expect_config_error("{\"fields\": {" NUMF("t", "/t") "}, " CHK("t > 0 && nope") "}", E,
                        "/validators/v/checks/0/assert", 10, "unknown identifier 'nope'");
    expect_config_error("{\"fields\": {" NUMF("t", "/t") "}, " CHK("t == customer.id") "}", E,
                        "/validators/v/checks/0/assert", 3,
                        "type error: '==' compares number with string");
    expect_config_error("{\"fields\": {" NUMF("t", "/t") "}, " CHK("t in allowed_categories") "}",
                        E, "/validators/v/checks/0/assert", 3,
                        "'in' with an identifier needs a string on the left");
    expect_config_error("{" CHK("1 < 2") "}", E, "/validators/v/checks/0/assert", 1,
                        "check is always true");
    expect_config_error("{\"fields\": {" NUMF("t", "/t") "}, " CHK("t > 1 && false") "}", E,
                        "/validators/v/checks/0/assert", 1, "check is always false");
}

static void test_invalid_arguments(void **state) {
    (void)state;
    rr_alloc a = libc_alloc();
    json_t *c = parse("{\"checks\": [{\"id\": \"a\", \"assert\": \"task == 'x'\"}]}");
    struct rr_router r = fake_router();
    rr_semantic *s = NULL;
    assert_int_equal(rr_semantic_new(NULL, &r, c, "", "v", &a, NULL), RR_EINVAL);
    assert_int_equal(rr_semantic_new(&s, &r, NULL, "", "v", &a, NULL), RR_EINVAL);
    assert_int_equal(rr_semantic_new(&s, &r, c, "", "v", NULL, NULL), RR_EINVAL);
    assert_int_equal(rr_semantic_new(&s, &r, c, "", NULL, &a, NULL), RR_EINVAL);
    /* Without a router, only fields resolve. */
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_semantic_new(&s, NULL, c, NULL, "v", &a, &err), RR_EEXPR);
    assert_string_equal(err.pointer, "/checks/0/assert");
    assert_int_equal(rr_semantic_new(&s, &r, c, NULL, "v", &a, &err), RR_OK);
    assert_int_equal(rr_semantic_slot_count(s), R__COUNT);
    rr_value slots[R__COUNT];
    struct rr_verdict v;
    rr_verdict_init(&v, &a);
    assert_int_equal(rr_semantic_check(NULL, NULL, slots, &v, NULL), RR_EINVAL);
    assert_int_equal(rr_semantic_check(s, NULL, NULL, &v, NULL), RR_EINVAL);
    assert_int_equal(rr_semantic_check(s, NULL, slots, NULL, NULL), RR_EINVAL);
    rr_verdict_release(&v);
    rr_semantic_free(s);
    rr_semantic_free(NULL);
    assert_int_equal(rr_semantic_slot_count(NULL), 0);
    json_decref(c);
}

/* ---- allocation ------------------------------------------------------------------------ */

typedef struct count_alloc {
    long budget; /* allocations left before failing; < 0 = unlimited */
    long live, total;
} count_alloc;

static void *ca_malloc(size_t n, void *ud) {
    count_alloc *c = ud;
    if (c->budget == 0)
        return NULL;
    if (c->budget > 0)
        c->budget--;
    void *p = malloc(n);
    if (p) {
        c->live++;
        c->total++;
    }
    return p;
}

static void *ca_realloc(void *p, size_t n, void *ud) {
    count_alloc *c = ud;
    if (c->budget == 0)
        return NULL;
    if (c->budget > 0)
        c->budget--;
    void *q = realloc(p, n);
    if (q) {
        c->total++;
        if (!p)
            c->live++;
    }
    return q;
}

static void ca_free(void *p, void *ud) {
    count_alloc *c = ud;
    if (p)
        c->live--;
    free(p);
}

static rr_alloc counting(count_alloc *c) {
    rr_allocator pub = {.version = RR_ALLOCATOR_VERSION,
                        .user_data = c,
                        .malloc_fn = ca_malloc,
                        .realloc_fn = ca_realloc,
                        .free_fn = ca_free};
    rr_alloc a;
    rr_alloc_init(&a, &pub);
    return a;
}

static void test_allocation_failure_returns_enomem_and_leaks_nothing(void **state) {
    (void)state;
    json_t *c = parse(issue_config);
    struct rr_router r = fake_router();
    long budget = 0;
    for (;; budget++) {
        count_alloc ca = {budget, 0, 0};
        rr_alloc a = counting(&ca);
        rr_semantic *s = NULL;
        rr_error err = RR_ERROR_INIT;
        int rc = rr_semantic_new(&s, &r, c, "/validators/v", "v", &a, &err);
        if (rc == RR_OK) {
            rr_semantic_free(s);
            assert_int_equal(ca.live, 0);
            break;
        }
        assert_int_equal(rc, RR_ENOMEM);
        assert_null(s);
        assert_int_equal(ca.live, 0);
    }
    assert_true(budget > 20); /* every field, segment, check and expression was reached */
    json_decref(c);
}

static void test_checking_allocates_nothing_after_warm_up(void **state) {
    (void)state;
    count_alloc ca = {-1, 0, 0};
    rr_alloc a = counting(&ca);
    json_t *c = parse(issue_config);
    struct rr_router r = fake_router();
    rr_semantic *s = NULL;
    assert_int_equal(rr_semantic_new(&s, &r, c, "/validators/v", "v", &a, NULL), RR_OK);
    json_decref(c);
    json_t *bad = parse("{\"total\": \"x\", \"line_items\": [{\"amount\": \"1\"}], "
                        "\"opened_at\": \"never\", \"category\": \"other\", \"type\": \"refund\"}");
    json_t *good = parse(good_output);
    struct rr_verdict v;
    rr_verdict_init(&v, &a);
    rr_value slots[R__COUNT + 8];
    router_slots(slots);
    assert_int_equal(rr_semantic_check(s, bad, slots, &v, NULL), RR_OK);
    assert_int_equal(v.passed, 0);
    size_t findings = v.nfindings;
    assert_true(findings >= 5);
    long before = ca.total;
    for (int i = 0; i < 50; i++) {
        rr_verdict_clear(&v);
        assert_int_equal(rr_semantic_check(s, i % 2 ? good : bad, slots, &v, NULL), RR_OK);
        assert_int_equal(v.nfindings, i % 2 ? 0 : findings);
    }
    assert_int_equal(ca.total, before);
    rr_verdict_release(&v);
    rr_semantic_free(s);
    json_decref(bad);
    json_decref(good);
    assert_int_equal(ca.live, 0);
}

static void test_finding_that_cannot_be_stored_returns_enomem_and_still_fails(void **state) {
    (void)state;
    rr_semantic *s = compile_text(issue_config);
    count_alloc ca = {0, 0, 0};
    rr_alloc a = counting(&ca);
    struct rr_verdict v;
    rr_verdict_init(&v, &a);
    rr_value slots[R__COUNT + 8];
    router_slots(slots);
    json_t *j = parse("{\"total\": 99}");
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_semantic_check(s, j, slots, &v, &err), RR_ENOMEM);
    assert_int_equal(err.code, RR_ENOMEM);
    assert_int_equal(v.passed, 0);
    assert_string_equal(v.failure, "semantic");
    json_decref(j);
    rr_verdict_release(&v);
    rr_semantic_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_config_passes_a_consistent_output),
        cmocka_unit_test(test_total_must_equal_sum_of_line_items_within_tolerance),
        cmocka_unit_test(test_dates_must_be_in_order_unless_closed_is_absent),
        cmocka_unit_test(test_field_must_equal_request_attribute),
        cmocka_unit_test(test_enum_must_be_drawn_from_request_attribute),
        cmocka_unit_test(test_field_required_if_another_has_a_value),
        cmocka_unit_test(test_every_failed_check_is_reported),
        cmocka_unit_test(test_dates_parse_rfc3339_to_epoch_seconds),
        cmocka_unit_test(test_unparsable_date_is_a_finding_and_skips_its_checks),
        cmocka_unit_test(test_wrong_json_type_is_reported_at_its_location),
        cmocka_unit_test(test_sum_expands_objects_and_nested_wildcards),
        cmocka_unit_test(test_pointers_follow_rfc6901),
        cmocka_unit_test(test_check_reading_no_field_has_empty_instance_location),
        cmocka_unit_test(test_config_errors_name_their_pointer),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_allocation_failure_returns_enomem_and_leaks_nothing),
        cmocka_unit_test(test_checking_allocates_nothing_after_warm_up),
        cmocka_unit_test(test_finding_that_cannot_be_stored_returns_enomem_and_still_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
