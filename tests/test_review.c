/* Review of the routing core: records, prefilter, escalation and error-path contracts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routeright.h"

static rr_router *router_text(const char *p, const rr_router_options *o) {
    rr_router *r = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_router_new(&r, p, strlen(p), o, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, RR_OK);
    return r;
}

static void assert_valid_json(const char *js) {
    assert_non_null(js);
    json_error_t je;
    json_t *doc = json_loads(js, 0, &je);
    if (!doc)
        fprintf(stderr, "invalid JSON (%s): %s\n", je.text, js);
    assert_non_null(doc);
    json_decref(doc);
}

/* Failing allocator: fails every allocation after `fail_after` successes (< 0 = never). */
typedef struct {
    long fail_after, live;
} fa;

static void *fa_malloc(size_t n, void *ud) {
    fa *c = ud;
    if (c->fail_after >= 0 && c->fail_after-- == 0)
        return NULL;
    c->live++;
    return malloc(n);
}
static void *fa_realloc(void *p, size_t n, void *ud) {
    fa *c = ud;
    if (c->fail_after >= 0 && c->fail_after-- == 0)
        return NULL;
    if (!p)
        c->live++;
    return realloc(p, n);
}
static void fa_free(void *p, void *ud) {
    fa *c = ud;
    if (p)
        c->live--;
    free(p);
}

static const char quote_policy[] =
    "{\"policy\":\"q\",\"version\":\"1\","
    "\"models\":{\"m\\\"x\\\\\":{\"tier\":1,\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":1},"
    "\"ok\":{\"tier\":2,\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":1}},"
    "\"eligibility\":[{\"id\":\"e\",\"when\":\"true\",\"deny_models\":[\"m\\\"x\\\\\"],"
    "\"deny_tools\":[\"t\\\"1\"]}],"
    "\"rules\":[{\"id\":\"all\",\"when\":\"true\",\"route\":\"a\"}],"
    "\"routes\":{\"a\":{\"model\":\"m\\\"x\\\\\",\"escalate\":{\"denied\":\"b\"}},"
    "\"b\":{\"model\":\"ok\",\"tools\":[\"t\\\"1\"],\"escalate\":{\"denied\":\"c\"}},"
    "\"c\":{\"model\":\"ok\",\"prompt\":\"p2\"},"
    "\"human_review\":{\"kind\":\"human\"}}}";

static void test_decision_json_escapes_denied_names(void **state) {
    (void)state;
    rr_router *r = router_text(quote_policy, NULL);
    rr_request *q = NULL;
    rr_decision *d = NULL;
    assert_int_equal(rr_request_new(&q, NULL), RR_OK);
    assert_int_equal(rr_request_set_text(q, "hello", 5), RR_OK);
    assert_int_equal(rr_route(r, q, &d, NULL), RR_OK);
    assert_string_equal(rr_decision_route(d), "c");
    assert_valid_json(rr_decision_json(d, NULL));
    rr_decision_free(d);
    rr_request_free(q);
    rr_router_free(r);
}

/* PCRE2 caseless UTF matching folds k with U+212A (Kelvin sign) and s with U+017F (long s):
 * the word-start prefilter must not skip a pattern PCRE2 would match. */
static void test_prefilter_keeps_caseless_unicode_equivalents(void **state) {
    (void)state;
    const char *p = "{\"policy\":\"p\",\"version\":\"1\",\"models\":{\"m\":{\"tier\":1,"
                    "\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":1}},\"patterns\":{"
                    "\"ask\":[\"\\\\bask\"],\"key\":[\"\\\\bkey\"],"
                    "\"q\":[\"\\\\babc\\\\Q(\\\\E|xyz\"],\"cls\":[\"\\\\bdef[](]|uvw\"]},"
                    "\"rules\":[{\"id\":\"a\",\"when\":\"match.ask\",\"route\":\"r1\"},"
                    "{\"id\":\"b\",\"when\":\"match.key\",\"route\":\"r2\"},"
                    "{\"id\":\"c\",\"when\":\"match.q\",\"route\":\"r3\"},"
                    "{\"id\":\"e\",\"when\":\"match.cls\",\"route\":\"r5\"},"
                    "{\"id\":\"d\",\"when\":\"true\",\"route\":\"r4\"}],"
                    "\"routes\":{\"r1\":{\"model\":\"m\",\"prompt\":\"1\"},\"r2\":{\"model\":\"m\","
                    "\"prompt\":\"2\"},\"r3\":{\"model\":\"m\",\"prompt\":\"3\"},"
                    "\"r5\":{\"model\":\"m\",\"prompt\":\"5\"},"
                    "\"r4\":{\"model\":\"m\",\"prompt\":\"4\"}}}";
    rr_router *r = router_text(p, NULL);
    static const struct {
        const char *text, *route;
    } cases[] = {{"please a\xc5\xbfk now", "r1"},   /* a, long s, k */
                 {"the x\xe2\x84\xaa" "ey", "r2"},   /* Kelvin sign after a word byte */
                 {"only xyz here", "r3"},           /* top-level | after \Q(\E */
                 {"only uvw here", "r5"},           /* top-level | after []( ] */
                 {"nothing", "r4"}};
    rr_request *q = NULL;
    rr_decision *d = NULL;
    assert_int_equal(rr_request_new(&q, NULL), RR_OK);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(rr_request_set_text(q, cases[i].text, strlen(cases[i].text)), RR_OK);
        assert_int_equal(rr_route(r, q, &d, NULL), RR_OK);
        if (strcmp(rr_decision_route(d), cases[i].route))
            fprintf(stderr, "text '%s'\n", cases[i].text);
        assert_string_equal(rr_decision_route(d), cases[i].route);
    }
    rr_decision_free(d);
    rr_request_free(q);
    rr_router_free(r);
}

static const char term_policy[] =
    "{\"policy\":\"t\",\"version\":\"1\","
    "\"models\":{\"m\":{\"tier\":1,\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":1}},"
    "\"rules\":[{\"id\":\"all\",\"when\":\"true\",\"route\":\"ask\"}],"
    "\"routes\":{\"ask\":{\"kind\":\"clarify\",\"message\":\"Which one?\"},"
    "\"a\":{\"model\":\"m\"},"
    "\"hr\":{\"kind\":\"human\",\"message\":\"A person will reply.\"}},"
    "\"terminal\":{\"exhausted\":\"hr\",\"limits\":\"hr\",\"denied\":\"hr\"}}";

/* The header: "when there is no target, the policy's terminal route for exhausted". */
static void test_escalating_a_terminal_route_goes_to_terminal_exhausted(void **state) {
    (void)state;
    rr_router *r = router_text(term_policy, NULL);
    rr_request *q = NULL;
    rr_decision *d = NULL, *n = NULL;
    assert_int_equal(rr_request_new(&q, NULL), RR_OK);
    assert_int_equal(rr_request_set_text(q, "x", 1), RR_OK);
    assert_int_equal(rr_route(r, q, &d, NULL), RR_OK);
    assert_string_equal(rr_decision_route(d), "ask");
    assert_int_equal(rr_escalate(r, d, RR_FAILURE_SCHEMA, 0, &n, NULL), RR_OK);
    assert_non_null(strstr(rr_decision_reason(n), "terminal.exhausted"));
    assert_string_equal(rr_decision_route(n), "hr");
    rr_decision_free(d);
    rr_decision_free(n);
    rr_request_free(q);
    rr_router_free(r);
}

static const char attr_policy[] =
    "{\"policy\":\"a\",\"version\":\"1\","
    "\"models\":{\"m\":{\"tier\":1,\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":1}},"
    "\"attributes\":{\"tier\":\"string\"},"
    "\"rules\":[{\"id\":\"ent\",\"when\":\"tier == 'enterprise'\",\"route\":\"a\"},"
    "{\"id\":\"other\",\"when\":\"tier != 'enterprise'\",\"route\":\"b\"}],"
    "\"routes\":{\"a\":{\"model\":\"m\",\"escalate\":{\"schema\":\"b\",\"model_error\":\"b\"}},"
    "\"b\":{\"model\":\"m\",\"prompt\":\"b\"},"
    "\"human_review\":{\"kind\":\"human\"}}}";

/* On failure output parameters are left unchanged: a decision the call allocated is not
 * handed back, and a reused one never points at memory it does not own. */
static void test_route_and_escalate_enomem_leave_no_half_decision(void **state) {
    (void)state;
    fa c = {-1, 0};
    rr_allocator a = {RR_ALLOCATOR_VERSION, &c, fa_malloc, fa_realloc, fa_free};
    rr_router_options o = RR_ROUTER_OPTIONS_INIT;
    o.allocator = &a;
    rr_router *r = router_text(attr_policy, &o);
    char big[600];
    memset(big, 'e', sizeof big - 1);
    big[sizeof big - 1] = 0;
    int failures = 0, ok = 0;
    for (long n = 0; n < 60; n++) {
        rr_request *q = NULL;
        c.fail_after = -1;
        assert_int_equal(rr_request_new(&q, &a), RR_OK);
        assert_int_equal(rr_request_set_text(q, "hi", 2), RR_OK);
        assert_int_equal(rr_request_set_attr(q, "tier", big), RR_OK);
        rr_decision *d = NULL, *next = NULL;
        c.fail_after = n;
        int rc = rr_route(r, q, &d, NULL);
        c.fail_after = -1;
        if (rc != RR_OK) {
            assert_int_equal(rc, RR_ENOMEM);
            assert_null(d);
            failures++;
        } else {
            c.fail_after = n;
            rc = rr_escalate(r, d, RR_FAILURE_SCHEMA, 0, &next, NULL);
            c.fail_after = -1;
            if (rc != RR_OK) {
                assert_int_equal(rc, RR_ENOMEM);
                assert_null(next);
                assert_string_equal(rr_decision_route(d), "b"); /* the caller's, intact */
            } else {
                ok++;
                assert_valid_json(rr_decision_json(next, NULL));
            }
        }
        /* A reused decision whose re-route failed must stay safe to read. */
        rr_decision *keep = NULL;
        assert_int_equal(rr_request_set_attr(q, "tier", "x"), RR_OK);
        assert_int_equal(rr_route(r, q, &keep, NULL), RR_OK);
        assert_int_equal(rr_request_set_attr(q, "tier", big), RR_OK);
        c.fail_after = n;
        rc = rr_route(r, q, &keep, NULL);
        c.fail_after = -1;
        const char *js = rr_decision_json(keep, NULL);
        if (js)
            assert_valid_json(js);
        (void)rr_decision_reason(keep);
        rr_decision_free(keep);
        rr_decision_free(d);
        rr_decision_free(next);
        rr_request_free(q);
    }
    assert_true(failures > 0);
    assert_true(ok > 0);
    rr_router_free(r);
    assert_int_equal(c.live, 0);
}

static int never_called(void *ud, const rr_model_call *call, rr_model_result *res) {
    (void)call;
    (void)res;
    ++*(int *)ud;
    return RR_CALL_OK;
}

static void test_run_error_leaves_outcome_unset(void **state) {
    (void)state;
    rr_router *r = router_text(attr_policy, NULL);
    rr_request *q = NULL;
    assert_int_equal(rr_request_new(&q, NULL), RR_OK); /* no text: rr_route fails */
    int calls = 0;
    rr_callbacks cb = RR_CALLBACKS_INIT;
    cb.user_data = &calls;
    cb.call_model = never_called;
    rr_outcome *o = NULL;
    assert_int_equal(rr_run(r, q, &cb, &o, NULL), RR_EINVAL);
    assert_null(o);
    assert_int_equal(calls, 0);
    rr_outcome_free(o);
    rr_request_free(q);
    rr_router_free(r);
}

static int huge_tokens(void *ud, const rr_model_call *call, rr_model_result *res) {
    (void)ud;
    (void)call;
    res->output = "not json";
    res->output_len = 8;
    res->input_tokens = INT64_MAX;
    res->output_tokens = INT64_MAX;
    res->latency_ms = 1;
    return RR_CALL_ERROR;
}

/* Garbage token counts from the host saturate instead of wrapping negative. */
static void test_run_totals_saturate_on_huge_token_counts(void **state) {
    (void)state;
    rr_router *r = router_text(attr_policy, NULL);
    rr_request *q = NULL;
    assert_int_equal(rr_request_new(&q, NULL), RR_OK);
    assert_int_equal(rr_request_set_text(q, "hi", 2), RR_OK);
    assert_int_equal(rr_request_set_attr(q, "tier", "enterprise"), RR_OK);
    rr_callbacks cb = RR_CALLBACKS_INIT;
    cb.call_model = huge_tokens;
    rr_outcome *o = NULL;
    assert_int_equal(rr_run(r, q, &cb, &o, NULL), RR_OK);
    assert_true(rr_outcome_attempt_count(o) >= 2);
    assert_true(rr_outcome_input_tokens(o) >= 0);
    assert_true(rr_outcome_output_tokens(o) >= 0);
    assert_valid_json(rr_outcome_json(o, NULL));
    rr_outcome_free(o);
    rr_request_free(q);
    rr_router_free(r);
}

/* An attribute whose value could not be stored must not linger without a type: routing
 * would then fail for every later call with "the request set a " (EINVAL). */
static void test_set_attr_enomem_leaves_request_routable(void **state) {
    (void)state;
    fa c = {-1, 0};
    rr_allocator a = {RR_ALLOCATOR_VERSION, &c, fa_malloc, fa_realloc, fa_free};
    rr_router *r = router_text(attr_policy, NULL);
    char big[600];
    memset(big, 'e', sizeof big - 1);
    big[sizeof big - 1] = 0;
    int failures = 0;
    for (long n = 0; n < 8; n++) {
        rr_request *q = NULL;
        rr_decision *d = NULL;
        assert_int_equal(rr_request_new(&q, &a), RR_OK);
        assert_int_equal(rr_request_set_text(q, "hi", 2), RR_OK);
        c.fail_after = n;
        int rc = rr_request_set_attr(q, "tier", big);
        c.fail_after = -1;
        if (rc != RR_OK) {
            assert_int_equal(rc, RR_ENOMEM);
            failures++;
        }
        rr_error err = RR_ERROR_INIT;
        rc = rr_route(r, q, &d, &err);
        if (rc)
            fprintf(stderr, "%s\n", err.message);
        assert_int_equal(rc, RR_OK);
        rr_decision_free(d);
        rr_request_free(q);
    }
    assert_true(failures > 0);
    rr_router_free(r);
    assert_int_equal(c.live, 0);
}

static int answer_ok(void *ud, const rr_model_call *call, rr_model_result *res) {
    (void)ud;
    assert_non_null(call->previous_findings);
    assert_non_null(call->tool_results);
    res->output = "fine";
    res->output_len = 4;
    return RR_CALL_OK;
}

/* Out of memory anywhere in rr_run is RR_ENOMEM; an RR_OK outcome is whole. */
static void test_run_enomem_never_returns_a_broken_outcome(void **state) {
    (void)state;
    char id[420], policy[1400];
    memset(id, 'r', sizeof id - 1);
    id[sizeof id - 1] = 0; /* a long route id makes the reason outgrow the first buffer */
    snprintf(policy, sizeof policy,
             "{\"policy\":\"l\",\"version\":\"1\",\"models\":{\"m\":{\"tier\":1,"
             "\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":1}},"
             "\"rules\":[{\"id\":\"all\",\"when\":\"true\",\"route\":\"%s\"}],"
             "\"routes\":{\"%s\":{\"model\":\"m\"},\"human_review\":{\"kind\":\"human\"}}}",
             id, id);
    fa c = {-1, 0};
    rr_allocator a = {RR_ALLOCATOR_VERSION, &c, fa_malloc, fa_realloc, fa_free};
    rr_router *r = router_text(policy, NULL);
    rr_callbacks cb = RR_CALLBACKS_INIT;
    cb.call_model = answer_ok;
    int ok = 0, failed = 0;
    for (long n = 0; n < 80; n++) {
        rr_request *q = NULL;
        assert_int_equal(rr_request_new(&q, &a), RR_OK);
        assert_int_equal(rr_request_set_text(q, "hi", 2), RR_OK);
        rr_outcome *o = NULL;
        c.fail_after = n;
        int rc = rr_run(r, q, &cb, &o, NULL);
        c.fail_after = -1;
        if (rc == RR_OK) {
            ok++;
            assert_string_equal(rr_outcome_kind(o), "answer");
            assert_valid_json(rr_outcome_json(o, NULL));
        } else {
            failed++;
            assert_int_equal(rc, RR_ENOMEM);
        }
        rr_outcome_free(o);
        rr_request_free(q);
    }
    assert_true(ok > 0 && failed > 0);
    rr_router_free(r);
    assert_int_equal(c.live, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_json_escapes_denied_names),
        cmocka_unit_test(test_prefilter_keeps_caseless_unicode_equivalents),
        cmocka_unit_test(test_escalating_a_terminal_route_goes_to_terminal_exhausted),
        cmocka_unit_test(test_route_and_escalate_enomem_leave_no_half_decision),
        cmocka_unit_test(test_run_error_leaves_outcome_unset),
        cmocka_unit_test(test_run_totals_saturate_on_huge_token_counts),
        cmocka_unit_test(test_set_attr_enomem_leaves_request_routable),
        cmocka_unit_test(test_run_enomem_never_returns_a_broken_outcome),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
