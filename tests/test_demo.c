/* The support-copilot demo (examples/support_copilot): same seed, same bytes; and the
 * figures it reports on 10,000 requests make sense for the built-in policy. */
#define _POSIX_C_SOURCE 200809L
/* cmocka.h needs these before it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../examples/support_copilot/demo.h"

static int trig(const char *name) {
    for (int i = 0; i < RR_DEMO_NTRIGGERS; i++)
        if (!strcmp(rr_demo_triggers[i], name))
            return i;
    fail_msg("unknown trigger %s", name);
    return -1;
}

/* The text report and the JSON report of one run, as strings. */
typedef struct {
    char *text, *json;
    size_t text_len, json_len;
} rendering;

static void render(const rr_demo_options *o, rendering *out, rr_demo_report *rep) {
    rr_error err = RR_ERROR_INIT;
    int rc = rr_demo_run(o, rep, &err);
    if (rc != RR_OK)
        fail_msg("rr_demo_run: %s", err.message);
    FILE *t = open_memstream(&out->text, &out->text_len);
    FILE *j = open_memstream(&out->json, &out->json_len);
    assert_non_null(t);
    assert_non_null(j);
    rr_demo_print(rep, t);
    assert_int_equal(rr_demo_write_json(rep, j), RR_OK);
    fclose(t);
    fclose(j);
}

static void test_same_seed_gives_same_bytes(void **state) {
    (void)state;
    rr_demo_options o = RR_DEMO_OPTIONS_INIT;
    o.seed = 7;
    o.requests = 3000;
    rr_demo_report *rep = calloc(1, sizeof *rep);
    rendering a = {0}, b = {0}, c = {0};
    render(&o, &a, rep);
    render(&o, &b, rep);
    assert_int_equal(a.text_len, b.text_len);
    assert_memory_equal(a.text, b.text, a.text_len);
    assert_int_equal(a.json_len, b.json_len);
    assert_memory_equal(a.json, b.json, a.json_len);
    /* ... and the seed matters. */
    o.seed = 8;
    render(&o, &c, rep);
    assert_true(c.json_len != a.json_len || memcmp(c.json, a.json, a.json_len) != 0);
    free(a.text), free(a.json), free(b.text), free(b.json), free(c.text), free(c.json);
    free(rep);
}

/* One run of the defaults (seed 42, 10,000 requests, baselines) shared by the tests below. */
typedef struct {
    rr_demo_report rep;
    rendering out;
} full_run;

static int full_run_setup(void **state) {
    full_run *f = calloc(1, sizeof *f);
    rr_demo_options o = RR_DEMO_OPTIONS_INIT;
    render(&o, &f->out, &f->rep);
    *state = f;
    return 0;
}

static int full_run_teardown(void **state) {
    full_run *f = *state;
    free(f->out.text);
    free(f->out.json);
    free(f);
    return 0;
}

static void test_every_family_is_present_near_its_share(void **state) {
    const rr_demo_report *rep = &((full_run *)*state)->rep;
    const rr_demo_arm *a = &rep->arm[0];
    assert_int_equal(rep->narms, 3);
    assert_int_equal(a->n, 10000);
    for (int f = 0; f < DEMO_NFAMILIES; f++)
        assert_true(a->fam_n[f] >= 500);
    assert_true(a->fam_n[DEMO_FAQ] > a->fam_n[DEMO_TROUBLESHOOT]);
    for (int f = 0; f < DEMO_NFAMILIES; f++) /* latency for every family, p95 >= p50 */
        assert_true(a->fam_p50[f] >= 0 && a->fam_p95[f] >= a->fam_p50[f]);
}

static void test_each_main_trigger_escalates(void **state) {
    const rr_demo_report *rep = &((full_run *)*state)->rep;
    const rr_demo_arm *a = &rep->arm[0];
    const char *main_triggers[] = {RR_FAILURE_SCHEMA,     RR_FAILURE_TRUNCATED, RR_FAILURE_SEMANTIC,
                                   RR_FAILURE_GROUNDING,  RR_FAILURE_SAFETY,    RR_FAILURE_REFUSAL,
                                   RR_FAILURE_MODEL_ERROR};
    for (size_t i = 0; i < sizeof main_triggers / sizeof *main_triggers; i++)
        if (a->esc[trig(main_triggers[i])] == 0)
            fail_msg("no escalation triggered by %s", main_triggers[i]);
    int schema = trig(RR_FAILURE_SCHEMA);
    assert_true(a->esc[schema] > a->esc_terminal[schema]); /* some went to a stronger model */
    assert_true(a->retries[trig(RR_FAILURE_MODEL_ERROR)] + a->retries[trig(RR_FAILURE_TIMEOUT)] >
                0);
    if (rep->low_confidence_gated)
        assert_true(a->esc[trig(RR_FAILURE_LOW_CONFIDENCE)] > 0);
    assert_true(a->requests_escalated > 100 && a->requests_escalated < 4000);
    /* Some human review and clarification, not a flood of it. */
    assert_true(a->kinds[3] > 0 && a->kinds[3] < 1500);
    assert_true(a->kinds[1] > 0);
}

static void test_accepted_json_is_always_schema_valid(void **state) {
    const rr_demo_report *rep = &((full_run *)*state)->rep;
    const rr_demo_arm *a = &rep->arm[0];
    assert_true(a->json_accepted >= 1000);
    assert_int_equal(a->json_accepted_schema_valid, a->json_accepted);
    assert_true(a->extract_accepted * 10 >= a->extract_requests * 8);
    for (size_t k = 1; k < rep->narms; k++)
        assert_int_equal(rep->arm[k].json_accepted_schema_valid, rep->arm[k].json_accepted);
}

static void test_routing_costs_between_always_small_and_always_premium(void **state) {
    const rr_demo_report *rep = &((full_run *)*state)->rep;
    const rr_demo_arm *a = &rep->arm[0], *prem = &rep->arm[1], *small = &rep->arm[2];
    assert_string_equal(prem->forced, "premium");
    assert_string_equal(small->forced, "small");
    assert_int_equal(prem->n, 10000);
    assert_int_equal(small->n, 10000);
    assert_true(a->cost_usd < prem->cost_usd);
    assert_true(a->cost_usd > small->cost_usd);
    /* ... and answers more than small alone, with fewer wrong answers slipping by. */
    assert_true(a->kinds[0] > small->kinds[0]);
    assert_true(a->answers_flawed < small->answers_flawed);
    assert_true(prem->answers_flawed <= a->answers_flawed);
}

static void test_json_report_carries_the_same_figures(void **state) {
    const full_run *f = *state;
    const rr_demo_arm *a = &f->rep.arm[0];
    json_error_t je;
    json_t *doc = json_loadb(f->out.json, f->out.json_len, 0, &je);
    assert_non_null(doc);
    json_t *strategies = json_object_get(doc, "strategies");
    assert_int_equal(json_array_size(strategies), 3);
    json_t *routed = json_array_get(strategies, 0);
    assert_string_equal(json_string_value(json_object_get(routed, "name")), "routed");
    double cpr = json_real_value(json_object_get(routed, "cost_per_request_usd"));
    assert_true(fabs(cpr - a->cost_usd / 10000.0) < 1e-9);
    json_t *faq = json_object_get(json_object_get(doc, "families"), "faq");
    assert_int_equal(json_integer_value(json_object_get(faq, "requests")),
                     (json_int_t)a->fam_n[DEMO_FAQ]);
    json_decref(doc);
    /* The text names what an operator looks for. */
    assert_non_null(strstr(f->out.text, "Route distribution"));
    assert_non_null(strstr(f->out.text, "always-premium"));
    assert_non_null(strstr(f->out.text, "small_rag_v2"));
}

static void test_command_line_rejects_bad_options(void **state) {
    (void)state;
    char *a1[] = {"demo", "--requests", "0", NULL};
    assert_int_equal(rr_demo_main(3, a1), RR_DEMO_USAGE);
    char *a2[] = {"demo", "--seed", "x1", NULL};
    assert_int_equal(rr_demo_main(3, a2), RR_DEMO_USAGE);
    char *a3[] = {"demo", "--frobnicate", "1", NULL};
    assert_int_equal(rr_demo_main(3, a3), RR_DEMO_USAGE);
    char *a4[] = {"demo", "--json", NULL};
    assert_int_equal(rr_demo_main(2, a4), RR_DEMO_USAGE);
    char *a5[] = {"demo", "--requests", "10", "--policy", "/nonexistent/policy.json", NULL};
    assert_int_equal(rr_demo_main(5, a5), RR_DEMO_FAILURE);
    char path[] = "/tmp/rr_demo_policy_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{\"policy\": ", 11), 11);
    close(fd);
    char *a6[] = {"demo", "--requests", "10", "--policy", path, NULL};
    assert_int_equal(rr_demo_main(5, a6), RR_DEMO_POLICY);
    unlink(path);
}

static void test_json_file_written_by_the_command_line_is_json(void **state) {
    (void)state;
    char path[] = "/tmp/rr_demo_json_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char *argv[] = {"demo", "--requests", "300", "--seed", "3", "--json", path, NULL};
    assert_int_equal(rr_demo_main(7, argv), RR_DEMO_OK);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "requests")), 300);
    assert_int_equal(json_integer_value(json_object_get(doc, "seed")), 3);
    json_decref(doc);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_gives_same_bytes),
        cmocka_unit_test(test_command_line_rejects_bad_options),
        cmocka_unit_test(test_json_file_written_by_the_command_line_is_json),
    };
    const struct CMUnitTest full[] = {
        cmocka_unit_test(test_every_family_is_present_near_its_share),
        cmocka_unit_test(test_each_main_trigger_escalates),
        cmocka_unit_test(test_accepted_json_is_always_schema_valid),
        cmocka_unit_test(test_routing_costs_between_always_small_and_always_premium),
        cmocka_unit_test(test_json_report_carries_the_same_figures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    return rc | cmocka_run_group_tests(full, full_run_setup, full_run_teardown);
}
