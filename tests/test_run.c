/* Escalation and the run loop, through the public API only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routeright.h"

static rr_router *router_default(void) {
    rr_router *r = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_router_new_default(&r, NULL, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, RR_OK);
    return r;
}

static rr_router *router_text(const char *p) {
    rr_router *r = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_router_new(&r, p, strlen(p), NULL, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, RR_OK);
    return r;
}

static rr_request *request(const char *json) {
    rr_request *q = NULL;
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_request_new(&q, NULL), RR_OK);
    int rc = rr_request_from_json(q, json, strlen(json), &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, RR_OK);
    return q;
}

/* A scripted fake model: per attempt, a status and an output. */
typedef struct {
    int status[8];
    const char *output[8];
    int calls;
    int tool_calls;
    int events;
    int abort_at_call; /* 1-based call that returns RR_CALL_ABORT, 0 = never */
    char models[8][32];
    char modes[8][16];
    char prev_failure[8][32];
    int had_schema[8];
    char event_types[32][16];
} script;

static int fake_model(void *ud, const rr_model_call *c, rr_model_result *res) {
    script *s = ud;
    int i = s->calls++;
    if (i >= 8)
        i = 7;
    snprintf(s->models[i], sizeof s->models[i], "%s", c->model);
    snprintf(s->modes[i], sizeof s->modes[i], "%s", c->output_mode);
    snprintf(s->prev_failure[i], sizeof s->prev_failure[i], "%s", c->previous_failure);
    s->had_schema[i] = c->schema_json != NULL;
    if (s->abort_at_call == s->calls)
        return RR_CALL_ABORT;
    res->output = s->output[i];
    res->output_len = s->output[i] ? strlen(s->output[i]) : 0;
    res->input_tokens = 100;
    res->output_tokens = 50;
    res->latency_ms = 10;
    return s->status[i];
}

static int fake_tool(void *ud, const rr_tool_call *c, rr_tool_result *res) {
    script *s = ud;
    s->tool_calls++;
    res->output = c->tool;
    res->output_len = strlen(c->tool);
    res->latency_ms = 1;
    return RR_CALL_OK;
}

static int on_event(void *ud, const char *json, size_t len) {
    script *s = ud;
    assert_true(len > 10 && json[0] == '{');
    const char *t = strstr(json, "\"event\":\"");
    assert_non_null(t);
    if (s->events < 32)
        sscanf(t + 9, "%15[a-z]", s->event_types[s->events]);
    s->events++;
    return 0;
}

static rr_callbacks callbacks(script *s) {
    rr_callbacks cb = RR_CALLBACKS_INIT;
    cb.user_data = s;
    cb.call_model = fake_model;
    cb.call_tool = fake_tool;
    cb.on_event = on_event;
    return cb;
}

static const char ticket_ok[] =
    "{\"category\":\"billing\",\"severity\":\"high\",\"customer_id\":\"ACME-2231\","
    "\"summary\":\"Invoice INV-7781 overcharged\",\"needs_human\":false,"
    "\"entities\":[{\"type\":\"invoice\",\"value\":\"INV-7781\"}]}";

static const char extract_req[] =
    "{\"text\":\"Please extract the ticket fields from this email: customer ACME-2231 reports "
    "invoice INV-7781 overcharged.\",\"attrs\":{\"channel\":\"email\",\"output.format\":\"json\","
    "\"user.authenticated\":true,\"customer.id\":\"ACME-2231\"}}";

static void test_run_answers_on_first_valid_output(void **state) {
    (void)state;
    rr_router *r = router_default();
    rr_request *q = request(extract_req);
    script s = {{RR_CALL_OK}, {ticket_ok}, 0, 0, 0, 0, {{0}}, {{0}}, {{0}}, {0}, {{0}}};
    rr_callbacks cb = callbacks(&s);
    rr_outcome *o = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_run(r, q, &cb, &o, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, RR_OK);
    assert_string_equal(rr_outcome_kind(o), "answer");
    assert_string_equal(rr_outcome_route(o), "small_extract_v1");
    assert_true(rr_outcome_valid(o));
    assert_int_equal(rr_outcome_attempt_count(o), 1);
    assert_string_equal(rr_outcome_attempt_status(o, 0), "ok");
    assert_string_equal(rr_outcome_attempt_failure(o, 0), "");
    assert_int_equal(rr_outcome_input_tokens(o), 100);
    /* 100 in, 50 out at the small model's prices. */
    assert_float_equal(rr_outcome_cost_usd(o), (100 * 0.15 + 50 * 0.60) / 1e6, 1e-12);
    size_t n;
    assert_string_equal(rr_outcome_text(o, &n), ticket_ok);
    assert_string_equal(s.modes[0], "json");
    assert_true(s.had_schema[0]);
    const char *js = rr_outcome_json(o, NULL);
    assert_non_null(strstr(js, "\"gen_ai.usage.input_tokens\":100"));
    assert_non_null(strstr(js, "\"gen_ai.request.model\":\"small\""));
    assert_string_equal(s.event_types[0], "decision");
    assert_string_equal(s.event_types[1], "verdict");
    assert_string_equal(s.event_types[2], "outcome");
    rr_outcome_free(o);
    rr_request_free(q);
    rr_router_free(r);
}

static void test_schema_failure_escalates_with_changed_contract(void **state) {
    (void)state;
    rr_router *r = router_default();
    rr_request *q = request(extract_req);
    script s = {{RR_CALL_OK, RR_CALL_OK}, {"{\"category\": \"billing\", \"sev", ticket_ok}, 0, 0,
                0, 0, {{0}}, {{0}}, {{0}}, {0}, {{0}}};
    rr_callbacks cb = callbacks(&s);
    rr_outcome *o = NULL;
    assert_int_equal(rr_run(r, q, &cb, &o, NULL), RR_OK);
    assert_string_equal(rr_outcome_kind(o), "answer");
    assert_int_equal(rr_outcome_attempt_count(o), 2);
    assert_string_equal(rr_outcome_attempt_failure(o, 0), "truncated");
    assert_string_equal(rr_outcome_attempt_route(o, 1), "premium_extract_structured_v1");
    /* The stronger path is a different contract and is told what went wrong. */
    assert_string_equal(s.models[1], "premium");
    assert_string_equal(s.modes[1], "constrained");
    assert_string_equal(s.prev_failure[1], "truncated");
    assert_non_null(strstr(rr_outcome_reason(o), "escalate.truncated"));
    rr_outcome_free(o);
    rr_request_free(q);
    rr_router_free(r);
}

static void test_ladder_exhausted_ends_in_human_review(void **state) {
    (void)state;
    rr_router *r = router_default();
    rr_request *q = request(extract_req);
    script s = {{RR_CALL_OK, RR_CALL_OK, RR_CALL_OK, RR_CALL_OK},
                {"not json", "still not", "nope", "no"}, 0, 0, 0, 0, {{0}}, {{0}}, {{0}}, {0},
                {{0}}};
    rr_callbacks cb = callbacks(&s);
    rr_outcome *o = NULL;
    assert_int_equal(rr_run(r, q, &cb, &o, NULL), RR_OK);
    assert_string_equal(rr_outcome_kind(o), "human_review");
    assert_false(rr_outcome_valid(o));
    assert_string_equal(rr_outcome_route(o), "human_review");
    size_t n = rr_outcome_attempt_count(o);
    assert_true(n >= 3);
    /* Structural failures never retry the same route. */
    for (size_t i = 1; i < n; i++)
        assert_string_not_equal(rr_outcome_attempt_route(o, i), rr_outcome_attempt_route(o, i - 1));
    assert_true(strlen(rr_outcome_text(o, NULL)) > 10);
    rr_outcome_free(o);
    rr_request_free(q);
    rr_router_free(r);
}

static void test_transient_error_retries_same_route_within_retries(void **state) {
    (void)state;
    rr_router *r = router_default();
    rr_request *q = request(extract_req);
    script s = {{RR_CALL_RETRIABLE, RR_CALL_OK}, {NULL, ticket_ok}, 0, 0, 0, 0, {{0}}, {{0}},
                {{0}}, {0}, {{0}}};
    rr_callbacks cb = callbacks(&s);
    rr_outcome *o = NULL;
    assert_int_equal(rr_run(r, q, &cb, &o, NULL), RR_OK);
    assert_string_equal(rr_outcome_kind(o), "answer");
    assert_int_equal(rr_outcome_attempt_count(o), 2);
    assert_string_equal(rr_outcome_attempt_status(o, 0), "retriable");
    assert_string_equal(rr_outcome_attempt_route(o, 1), "small_extract_v1");
    assert_non_null(strstr(rr_outcome_reason(o), "retry 1/1"));
    rr_outcome_free(o);
    rr_request_free(q);
    rr_router_free(r);
}

static void test_garbage_from_callback_is_a_model_error(void **state) {
    (void)state;
    rr_router *r = router_default();
    rr_request *q = request(extract_req);
    /* NULL output with ok, then invalid UTF-8, then a valid ticket. */
    script s = {{RR_CALL_OK, RR_CALL_OK, RR_CALL_OK}, {NULL, "{\"a\":\"\xff\"}", ticket_ok}, 0, 0,
                0, 0, {{0}}, {{0}}, {{0}}, {0}, {{0}}};
    rr_callbacks cb = callbacks(&s);
    rr_outcome *o = NULL;
    assert_int_equal(rr_run(r, q, &cb, &o, NULL), RR_OK);
    assert_string_equal(rr_outcome_attempt_failure(o, 0), "model_error");
    assert_string_equal(rr_outcome_attempt_status(o, 0), "error");
    assert_string_equal(rr_outcome_attempt_route(o, 1), "medium_extract_v1");
    assert_string_equal(rr_outcome_attempt_failure(o, 1), "safety");
    rr_outcome_free(o);
    rr_request_free(q);
    rr_router_free(r);
}

static void test_abort_stops_without_further_callbacks(void **state) {
    (void)state;
    rr_router *r = router_default();
    rr_request *q = request(extract_req);
    script s = {{RR_CALL_OK}, {"x"}, 0, 0, 0, 1, {{0}}, {{0}}, {{0}}, {0}, {{0}}};
    rr_callbacks cb = callbacks(&s);
    rr_outcome *o = NULL;
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_run(r, q, &cb, &o, &err), RR_EABORT);
    assert_int_equal(err.code, RR_EABORT);
    assert_int_equal(s.calls, 1);
    int events = s.events;
    assert_int_equal(events, 1); /* the decision only: nothing after the abort */
    rr_outcome_free(o);
    rr_request_free(q);
    rr_router_free(r);
}

static void test_run_rejects_bad_callbacks_before_calling_anything(void **state) {
    (void)state;
    rr_router *r = router_default();
    rr_request *q = request(extract_req);
    rr_callbacks cb = RR_CALLBACKS_INIT;
    rr_outcome *o = NULL;
    assert_int_equal(rr_run(r, q, &cb, &o, NULL), RR_EINVAL); /* no call_model */
    script s = {{0}, {0}, 0, 0, 0, 0, {{0}}, {{0}}, {{0}}, {0}, {{0}}};
    cb = callbacks(&s);
    cb.version = 99;
    assert_int_equal(rr_run(r, q, &cb, &o, NULL), RR_EINVAL);
    assert_int_equal(s.calls + s.events, 0);
    rr_outcome_free(o);
    rr_request_free(q);
    rr_router_free(r);
}

static void test_terminal_decision_needs_no_model_call(void **state) {
    (void)state;
    rr_router *r = router_default();
    rr_request *q = request("{\"text\":\"help\"}");
    script s = {{0}, {0}, 0, 0, 0, 0, {{0}}, {{0}}, {{0}}, {0}, {{0}}};
    rr_callbacks cb = callbacks(&s);
    rr_outcome *o = NULL;
    assert_int_equal(rr_run(r, q, &cb, &o, NULL), RR_OK);
    assert_string_equal(rr_outcome_kind(o), "clarify");
    assert_int_equal(s.calls, 0);
    assert_true(strlen(rr_outcome_text(o, NULL)) > 10);
    rr_outcome_free(o);
    rr_request_free(q);
    rr_router_free(r);
}

static const char ladder_policy[] =
    "{\"policy\":\"ladder\",\"version\":\"1\","
    "\"models\":{\"s\":{\"tier\":1,\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":1,\"latency_ms\":100},"
    "\"m\":{\"tier\":2,\"usd_per_mtok_in\":2,\"usd_per_mtok_out\":2,\"latency_ms\":100},"
    "\"p\":{\"tier\":3,\"usd_per_mtok_in\":3,\"usd_per_mtok_out\":3,\"latency_ms\":100}},"
    "\"attributes\":{\"strict\":\"bool\"},"
    "\"options\":{\"sticky_tier\":true},"
    "\"eligibility\":[{\"id\":\"no_m\",\"when\":\"strict\",\"deny_models\":[\"m\"]}],"
    "\"rules\":[{\"id\":\"all\",\"when\":\"true\",\"route\":\"small\"}],"
    "\"routes\":{\"small\":{\"model\":\"s\",\"retries\":1,\"escalate\":{\"schema\":\"mid\","
    "\"timeout\":\"mid\"}},"
    "\"mid\":{\"model\":\"m\",\"escalate\":{\"schema\":\"top\"}},"
    "\"top\":{\"model\":\"p\",\"escalate\":{\"schema\":\"hr\"}},"
    "\"hr\":{\"kind\":\"human\",\"message\":\"A person will reply.\"}},"
    "\"limits\":{\"max_attempts\":3},\"terminal\":{\"exhausted\":\"hr\",\"limits\":\"hr\"}}";

static void test_escalation_never_targets_denied_model(void **state) {
    (void)state;
    rr_router *r = router_text(ladder_policy);
    rr_request *q = request("{\"text\":\"x\",\"attrs\":{\"strict\":true}}");
    rr_decision *d = NULL, *n = NULL;
    assert_int_equal(rr_route(r, q, &d, NULL), RR_OK);
    assert_string_equal(rr_decision_route(d), "small");
    assert_int_equal(rr_escalate(r, d, RR_FAILURE_SCHEMA, 0, &n, NULL), RR_OK);
    assert_string_equal(rr_decision_route(n), "top"); /* mid's model is denied */
    assert_string_not_equal(rr_decision_model(n), "m");
    assert_non_null(strstr(rr_decision_reason(n), "target mid denied"));
    assert_int_equal(rr_decision_attempt(n), 2);
    rr_decision_free(d);
    rr_decision_free(n);
    rr_request_free(q);
    rr_router_free(r);
}

static void test_structural_failure_never_retries_transient_does(void **state) {
    (void)state;
    rr_router *r = router_text(ladder_policy);
    rr_request *q = request("{\"text\":\"x\"}");
    rr_decision *d = NULL, *n = NULL, *n2 = NULL;
    assert_int_equal(rr_route(r, q, &d, NULL), RR_OK);
    assert_int_equal(rr_escalate(r, d, RR_FAILURE_TIMEOUT, 0, &n, NULL), RR_OK);
    assert_string_equal(rr_decision_route(n), "small"); /* retries: 1 */
    assert_int_equal(rr_escalate(r, n, RR_FAILURE_TIMEOUT, 0, &n2, NULL), RR_OK);
    assert_string_equal(rr_decision_route(n2), "mid"); /* retries used up */
    assert_int_equal(rr_escalate(r, d, RR_FAILURE_SCHEMA, 0, &n, NULL), RR_OK);
    assert_string_equal(rr_decision_route(n), "mid");
    assert_int_equal(rr_escalate(r, d, RR_FAILURE_MODEL_ERROR, 1, &n, NULL), RR_OK);
    assert_string_equal(rr_decision_route(n), "small"); /* retriable model error */
    assert_int_equal(rr_escalate(r, d, RR_FAILURE_GROUNDING, 0, &n, NULL), RR_OK);
    assert_string_equal(rr_decision_route(n), "hr"); /* no target: exhausted */
    assert_int_equal(rr_decision_kind(n), RR_ROUTE_HUMAN);
    assert_non_null(strstr(rr_decision_reason(n), "terminal.exhausted"));
    assert_int_equal(rr_escalate(r, d, "bogus", 0, &n, NULL), RR_EINVAL);
    assert_int_equal(rr_escalate(r, d, RR_FAILURE_SCHEMA, 0, &d, NULL), RR_EINVAL);
    rr_decision_free(d);
    rr_decision_free(n);
    rr_decision_free(n2);
    rr_request_free(q);
    rr_router_free(r);
}

static void test_limits_send_the_ladder_to_its_terminal(void **state) {
    (void)state;
    rr_router *r = router_text(ladder_policy);
    rr_request *q = request("{\"text\":\"x\"}");
    rr_decision *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(rr_route(r, q, &a, NULL), RR_OK);
    assert_int_equal(rr_escalate(r, a, RR_FAILURE_SCHEMA, 0, &b, NULL), RR_OK); /* attempt 2 */
    assert_int_equal(rr_escalate(r, b, RR_FAILURE_SCHEMA, 0, &c, NULL), RR_OK); /* attempt 3 */
    assert_string_equal(rr_decision_route(c), "top");
    assert_int_equal(rr_escalate(r, c, RR_FAILURE_SCHEMA, 0, &a, NULL), RR_OK);
    assert_string_equal(rr_decision_route(a), "hr");
    /* Usage adds up along the ladder. */
    assert_int_equal(rr_decision_add_usage(b, 1000000, 0, 5), RR_OK);
    assert_float_equal(rr_decision_total_cost_usd(b), 2.0, 1e-9);
    assert_int_equal(rr_escalate(r, b, RR_FAILURE_SCHEMA, 0, &c, NULL), RR_OK);
    assert_float_equal(rr_decision_total_cost_usd(c), 2.0, 1e-9);
    assert_float_equal(rr_decision_total_latency_ms(c), 5.0, 1e-9);
    assert_int_equal(rr_decision_add_usage(b, -1, 0, 0), RR_EINVAL);
    rr_decision_free(a);
    rr_decision_free(b);
    rr_decision_free(c);
    rr_request_free(q);
    rr_router_free(r);
}

static void test_sticky_tier_keeps_conversation_on_its_tier(void **state) {
    (void)state;
    rr_router *r = router_text(ladder_policy);
    rr_request *q = request("{\"text\":\"x\",\"conversation_id\":\"c1\"}");
    rr_decision *d = NULL;
    assert_int_equal(rr_route(r, q, &d, NULL), RR_OK);
    assert_int_equal(rr_decision_tier(d), 1);
    assert_int_equal(rr_request_set_last_tier(q, 3), RR_OK);
    assert_int_equal(rr_route(r, q, &d, NULL), RR_OK);
    assert_string_equal(rr_decision_route(d), "top");
    assert_int_equal(rr_decision_tier(d), 3);
    assert_non_null(strstr(rr_decision_reason(d), "sticky_tier(last=3)"));
    rr_decision_free(d);
    rr_request_free(q);
    rr_router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_answers_on_first_valid_output),
        cmocka_unit_test(test_schema_failure_escalates_with_changed_contract),
        cmocka_unit_test(test_ladder_exhausted_ends_in_human_review),
        cmocka_unit_test(test_transient_error_retries_same_route_within_retries),
        cmocka_unit_test(test_garbage_from_callback_is_a_model_error),
        cmocka_unit_test(test_abort_stops_without_further_callbacks),
        cmocka_unit_test(test_run_rejects_bad_callbacks_before_calling_anything),
        cmocka_unit_test(test_terminal_decision_needs_no_model_call),
        cmocka_unit_test(test_escalation_never_targets_denied_model),
        cmocka_unit_test(test_structural_failure_never_retries_transient_does),
        cmocka_unit_test(test_limits_send_the_ladder_to_its_terminal),
        cmocka_unit_test(test_sticky_tier_keeps_conversation_on_its_tier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
