/* API tests: only the public header, linked against the shared library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routeright.h"

/* A counting allocator: proves every allocation goes through the hook, that nothing leaks,
 * and that the hot path allocates nothing after warm-up. */
typedef struct {
    atomic_long mallocs, frees, live;
    atomic_long fail_after; /* < 0: never fail */
} counter;

static void *c_malloc(size_t n, void *ud) {
    counter *c = ud;
    if (atomic_load(&c->fail_after) >= 0 && atomic_fetch_sub(&c->fail_after, 1) <= 0)
        return NULL;
    atomic_fetch_add(&c->mallocs, 1);
    atomic_fetch_add(&c->live, 1);
    return malloc(n);
}
static void *c_realloc(void *p, size_t n, void *ud) {
    counter *c = ud;
    if (atomic_load(&c->fail_after) >= 0 && atomic_fetch_sub(&c->fail_after, 1) <= 0)
        return NULL;
    atomic_fetch_add(&c->mallocs, 1);
    if (!p)
        atomic_fetch_add(&c->live, 1);
    return realloc(p, n);
}
static void c_free(void *p, void *ud) {
    counter *c = ud;
    if (p) {
        atomic_fetch_add(&c->frees, 1);
        atomic_fetch_sub(&c->live, 1);
    }
    free(p);
}

static rr_allocator counting(counter *c) {
    atomic_store(&c->mallocs, 0);
    atomic_store(&c->frees, 0);
    atomic_store(&c->live, 0);
    atomic_store(&c->fail_after, -1);
    rr_allocator a = {RR_ALLOCATOR_VERSION, c, c_malloc, c_realloc, c_free};
    return a;
}

static rr_router *default_router(void) {
    rr_router *r = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_router_new_default(&r, NULL, &err);
    if (rc != RR_OK)
        fprintf(stderr, "default policy: %s\n", err.message);
    assert_int_equal(rc, RR_OK);
    return r;
}

/* Route one JSON request through `r`; returns the decision (caller frees). */
static rr_decision *route_json(rr_router *r, const char *json) {
    rr_request *q = NULL;
    assert_int_equal(rr_request_new(&q, NULL), RR_OK);
    rr_error err = RR_ERROR_INIT;
    int rc = rr_request_from_json(q, json, strlen(json), &err);
    if (rc != RR_OK)
        fprintf(stderr, "request: %s\n", err.message);
    assert_int_equal(rc, RR_OK);
    rr_decision *d = NULL;
    rc = rr_route(r, q, &d, &err);
    if (rc != RR_OK)
        fprintf(stderr, "route: %s\n", err.message);
    assert_int_equal(rc, RR_OK);
    rr_request_free(q);
    return d;
}

static void test_version_macros_match_library(void **state) {
    (void)state;
    assert_int_equal(rr_version_number(), RR_VERSION_NUMBER);
    assert_string_equal(rr_version(), RR_VERSION_STRING);
    assert_int_equal(RR_VERSION_NUMBER, RR_VERSION_MAJOR * 10000 + RR_VERSION_MINOR * 100 +
                                            RR_VERSION_PATCH);
}

static void test_error_table_names_every_code(void **state) {
    (void)state;
    assert_string_equal(rr_error_name(RR_EPOLICY), "EPOLICY");
    assert_string_equal(rr_strerror(RR_OK), "success");
    assert_string_equal(rr_strerror(12345), "unknown error");
    assert_string_equal(rr_error_name(12345), "UNKNOWN");
    for (int c = 0; c >= RR__ERR_LAST; c--) {
        assert_string_not_equal(rr_error_name(c), "UNKNOWN");
        assert_string_not_equal(rr_strerror(c), "unknown error");
    }
    rr_error e;
    assert_int_equal(rr_error_init(&e, RR_ERROR_VERSION), RR_OK);
    assert_int_equal(e.version, RR_ERROR_VERSION);
    assert_int_equal(rr_error_init(&e, 99), RR_EINVAL);
    rr_router_options o;
    assert_int_equal(rr_router_options_init(&o, RR_ROUTER_OPTIONS_VERSION), RR_OK);
    assert_int_equal(o.version, RR_ROUTER_OPTIONS_VERSION);
    assert_int_equal(rr_router_options_init(&o, 0), RR_EINVAL);
}

static void test_destructors_accept_null(void **state) {
    (void)state;
    rr_router_free(NULL);
    rr_request_free(NULL);
    rr_request_reset(NULL);
    rr_decision_free(NULL);
}

static void test_default_policy_compiles_with_fingerprint(void **state) {
    (void)state;
    rr_router *r = default_router();
    assert_string_equal(rr_router_policy_name(r), "support_copilot");
    const char *fp = rr_router_fingerprint(r);
    assert_int_equal(strlen(fp), 16);
    assert_int_equal(strspn(fp, "0123456789abcdef"), 16);
    size_t n = 0;
    const char *rep = rr_router_report_json(r, &n);
    assert_non_null(strstr(rep, "\"ladders\":[{"));
    assert_null(strstr(rep, "\"warnings\":[{")); /* the shipped policy lints clean */
    rr_router_free(r);
}

static void test_fingerprint_ignores_whitespace_and_key_order(void **state) {
    (void)state;
    const char *a = "{\"policy\":\"p\",\"version\":\"1\",\"models\":{\"m\":{\"tier\":1,"
                    "\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":2}},\"rules\":[{\"id\":\"all\","
                    "\"when\":\"true\",\"route\":\"r\"}],\"routes\":{\"r\":{\"model\":\"m\"}}}";
    const char *b = "{ \"version\" : \"1\", \"policy\": \"p\",\n \"routes\": {\"r\": {\"model\": "
                    "\"m\"}}, \"rules\": [{\"route\": \"r\", \"when\": \"true\", \"id\": \"all\"}],"
                    "\"models\": {\"m\": {\"usd_per_mtok_out\": 2, \"usd_per_mtok_in\": 1, "
                    "\"tier\": 1}}}";
    const char *c = "{\"policy\":\"p\",\"version\":\"2\",\"models\":{\"m\":{\"tier\":1,"
                    "\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":2}},\"rules\":[{\"id\":\"all\","
                    "\"when\":\"true\",\"route\":\"r\"}],\"routes\":{\"r\":{\"model\":\"m\"}}}";
    rr_router *ra, *rb, *rc;
    assert_int_equal(rr_router_new(&ra, a, strlen(a), NULL, NULL), RR_OK);
    assert_int_equal(rr_router_new(&rb, b, strlen(b), NULL, NULL), RR_OK);
    assert_int_equal(rr_router_new(&rc, c, strlen(c), NULL, NULL), RR_OK);
    assert_string_equal(rr_router_fingerprint(ra), rr_router_fingerprint(rb));
    assert_string_not_equal(rr_router_fingerprint(ra), rr_router_fingerprint(rc));
    rr_router_free(ra);
    rr_router_free(rb);
    rr_router_free(rc);
}

static void test_easy_faq_with_strong_retrieval_goes_to_small_model(void **state) {
    (void)state;
    rr_router *r = default_router();
    rr_decision *d = route_json(
        r, "{\"text\":\"How do I reset my password?\",\"attrs\":{\"user.authenticated\":true},"
           "\"evidence\":[{\"id\":\"kb1\",\"text\":\"To reset your password open Settings and "
           "click Reset password.\",\"score\":0.9},{\"id\":\"kb2\",\"text\":\"Billing.\","
           "\"score\":0.3}]}");
    assert_string_equal(rr_decision_route(d), "small_rag_v2");
    assert_string_equal(rr_decision_route_version(d), "2");
    assert_string_equal(rr_decision_model(d), "small");
    assert_string_equal(rr_decision_prompt(d), "faq_v2");
    assert_string_equal(rr_decision_task(d), "faq");
    assert_string_equal(rr_decision_rule(d), "faq_easy");
    assert_int_equal(rr_decision_kind(d), RR_ROUTE_MODEL);
    assert_int_equal(rr_decision_context_tokens(d), 2000);
    assert_int_equal(rr_decision_tool_count(d), 1);
    assert_string_equal(rr_decision_tool(d, 0), "retrieval");
    assert_null(rr_decision_tool(d, 1));
    assert_int_equal(rr_decision_validator_count(d), 1);
    assert_string_equal(rr_decision_validator(d, 0), "grounding");
    assert_true(rr_decision_escalation_count(d) >= 2);
    const char *f = NULL, *t = NULL;
    int found = 0;
    for (size_t i = 0; i < rr_decision_escalation_count(d); i++) {
        assert_int_equal(rr_decision_escalation(d, i, &f, &t), RR_OK);
        if (!strcmp(f, "grounding"))
            found = !strcmp(t, "premium_rag_v1");
    }
    assert_true(found);
    assert_int_equal(rr_decision_escalation(d, 99, &f, &t), RR_ERANGE);
    const char *reason = rr_decision_reason(d);
    assert_non_null(strstr(reason, "task=faq"));
    assert_non_null(strstr(reason, "rule=faq_easy"));
    assert_non_null(strstr(reason, "=> small_rag_v2"));
    rr_decision_free(d);
    rr_router_free(r);
}

static void test_weak_retrieval_faq_goes_to_medium(void **state) {
    (void)state;
    rr_router *r = default_router();
    rr_decision *d = route_json(r, "{\"text\":\"How do I rotate API keys?\",\"conversation_id\":"
                                   "\"conv-9\",\"evidence\":["
                                   "{\"id\":\"a\",\"text\":\"Billing overview.\",\"score\":0.41},"
                                   "{\"id\":\"b\",\"text\":\"Invoices.\",\"score\":0.40}]}");
    assert_string_equal(rr_decision_route(d), "medium_rag_v1");
    assert_string_equal(rr_decision_rule(d), "faq_weak_retrieval");
    assert_non_null(strstr(rr_decision_json(d, NULL), "\"conversation_id\":\"conv-9\""));
    rr_decision_free(d);
    rr_router_free(r);
}

static void test_regulated_tenant_never_gets_small_model(void **state) {
    (void)state;
    rr_router *r = default_router();
    rr_decision *d = route_json(
        r, "{\"text\":\"How do I reset my password?\",\"attrs\":{\"tenant.tier\":\"regulated\"},"
           "\"evidence\":[{\"id\":\"kb1\",\"text\":\"To reset your password open Settings and "
           "click Reset password.\",\"score\":0.9},{\"id\":\"kb2\",\"text\":\"x\",\"score\":0.1}]}");
    assert_string_not_equal(rr_decision_model(d), "small");
    assert_string_equal(rr_decision_route(d), "medium_rag_v1");
    const char *reason = rr_decision_reason(d);
    assert_non_null(strstr(reason, "regulated_no_small"));
    assert_non_null(strstr(reason, "small_rag_v2 denied(model small) -> escalate.denied"));
    rr_decision_free(d);
    rr_router_free(r);
}

static void test_pii_in_request_denies_small_model(void **state) {
    (void)state;
    rr_router *r = default_router();
    rr_decision *d = route_json(
        r, "{\"text\":\"How do I update the email jane@example.com on my account?\","
           "\"evidence\":[{\"id\":\"kb1\",\"text\":\"Update the email on your account under "
           "Profile.\",\"score\":0.9},{\"id\":\"kb2\",\"text\":\"x\",\"score\":0.1}]}");
    assert_string_not_equal(rr_decision_model(d), "small");
    size_t n = 0;
    const char *js = rr_decision_json(d, &n);
    assert_non_null(js);
    assert_int_equal(strlen(js), n);
    assert_non_null(strstr(js, "\"pii.email\":true"));
    assert_null(strstr(js, "jane@example.com")); /* never a PII value */
    assert_null(strstr(js, "update the email"));  /* never raw text */
    rr_decision_free(d);
    rr_router_free(r);
}

static void test_denied_everywhere_reroutes_to_human_review(void **state) {
    (void)state;
    rr_router *r = default_router();
    /* Free tier: no premium. A refund request must go to the premium policy route, which is
     * denied: its escalate.denied target is human review. */
    rr_decision *d = route_json(r, "{\"text\":\"I demand a refund for last month\","
                                   "\"attrs\":{\"tenant.tier\":\"free\"}}");
    assert_string_equal(rr_decision_task(d), "draft_policy");
    assert_string_equal(rr_decision_route(d), "human_review");
    assert_int_equal(rr_decision_kind(d), RR_ROUTE_HUMAN);
    assert_true(strlen(rr_decision_message(d)) > 10);
    assert_non_null(strstr(rr_decision_reason(d), "premium_policy_v4 denied(model premium)"));
    rr_decision_free(d);
    rr_router_free(r);
}

static void test_denied_tool_reroutes_and_says_why(void **state) {
    (void)state;
    rr_router *r = default_router();
    rr_decision *d = route_json(r, "{\"text\":\"The export is not working\"}");
    assert_string_equal(rr_decision_task(d), "troubleshoot");
    assert_string_equal(rr_decision_route(d), "clarify_account");
    assert_non_null(strstr(rr_decision_reason(d), "denied(tool crm)"));
    rr_decision_free(d);
    rr_router_free(r);
}

static void test_decision_record_has_policy_stages_and_otel_names(void **state) {
    (void)state;
    rr_router *r = default_router();
    rr_decision *d = route_json(r, "{\"text\":\"Our SSO login fails with error 500\","
                                   "\"attrs\":{\"user.authenticated\":true}}");
    const char *js = rr_decision_json(d, NULL);
    assert_non_null(strstr(js, "\"gen_ai.request.model\":\"medium\""));
    assert_non_null(strstr(js, "\"fingerprint\":\""));
    assert_non_null(strstr(js, "\"stage\":\"eligibility\""));
    assert_non_null(strstr(js, "\"stage\":\"task\""));
    assert_non_null(strstr(js, "\"stage\":\"route\""));
    assert_non_null(strstr(js, "\"thresholds\":{"));
    assert_non_null(strstr(js, "\"troubleshoot_long_tokens\":400"));
    assert_non_null(strstr(js, "\"route_ns\":"));
    assert_non_null(strstr(js, "\"match.troubleshoot\":true"));
    assert_null(strstr(js, "\"conversation_id\""));
    rr_decision_free(d);
    rr_router_free(r);
}

static void test_request_errors_are_clean_and_request_stays_usable(void **state) {
    (void)state;
    rr_router *r = default_router();
    rr_request *q = NULL;
    rr_decision *d = NULL;
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_request_new(&q, NULL), RR_OK);
    assert_int_equal(rr_route(r, q, &d, &err), RR_EINVAL); /* no text yet */
    assert_non_null(strstr(err.message, "no text"));
    assert_null(d);
    assert_int_equal(rr_request_set_text(q, "bad \xff utf8", 10), RR_EUTF8);
    assert_int_equal(rr_request_set_text(NULL, "x", 1), RR_EINVAL);
    assert_int_equal(rr_request_set_text(q, NULL, 3), RR_EINVAL);
    assert_int_equal(rr_request_set_num(q, "x", 0.0 / 0.0), RR_EINVAL);
    assert_int_equal(rr_request_set_attr(q, NULL, "v"), RR_EINVAL);
    assert_int_equal(rr_request_add_evidence(q, "id", "t", 1, 1.0 / 0.0), RR_EINVAL);
    assert_int_equal(rr_route(NULL, q, &d, &err), RR_EINVAL);
    assert_int_equal(rr_route(r, NULL, &d, &err), RR_EINVAL);
    assert_int_equal(rr_route(r, q, NULL, &err), RR_EINVAL);
    /* NUL bytes are text like any other. */
    assert_int_equal(rr_request_set_text(q, "how\0do I reset?", 15), RR_OK);
    assert_int_equal(rr_route(r, q, &d, &err), RR_OK);
    /* Declared number, set as string. */
    rr_request_reset(q);
    assert_int_equal(rr_request_set_text(q, "hello?", 6), RR_OK);
    assert_int_equal(rr_request_set_attr(q, "user.authenticated", "yes"), RR_OK);
    assert_int_equal(rr_route(r, q, &d, &err), RR_EINVAL);
    assert_non_null(strstr(err.message, "'user.authenticated' is declared bool"));
    /* Still usable. */
    assert_int_equal(rr_request_set_bool(q, "user.authenticated", 1), RR_OK);
    assert_int_equal(rr_route(r, q, &d, &err), RR_OK);
    /* JSON request errors name the pointer. */
    const char *bad = "{\"text\":\"x\",\"evidence\":[{\"id\":1,\"text\":\"t\"}]}";
    assert_int_equal(rr_request_from_json(q, bad, strlen(bad), &err), RR_EJSON);
    assert_string_equal(err.pointer, "/evidence/0");
    const char *unk = "{\"text\":\"x\",\"txt\":\"y\"}";
    assert_int_equal(rr_request_from_json(q, unk, strlen(unk), &err), RR_EJSON);
    assert_string_equal(err.pointer, "/txt");
    assert_int_equal(rr_request_from_json(q, "{\"text\":", 8, &err), RR_EJSON);
    assert_true(err.line >= 1);
    rr_decision_free(d);
    rr_request_free(q);
    rr_router_free(r);
}

static void test_text_over_maximum_is_rejected(void **state) {
    (void)state;
    rr_router_options o = RR_ROUTER_OPTIONS_INIT;
    o.max_text_bytes = 64;
    rr_router *r = NULL;
    assert_int_equal(rr_router_new(&r, rr_default_policy(), strlen(rr_default_policy()), &o, NULL),
                     RR_OK);
    rr_request *q = NULL;
    rr_decision *d = NULL;
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_request_new(&q, NULL), RR_OK);
    char big[100];
    memset(big, 'a', sizeof big);
    assert_int_equal(rr_request_set_text(q, big, sizeof big), RR_OK);
    assert_int_equal(rr_route(r, q, &d, &err), RR_ETOOBIG);
    assert_non_null(strstr(err.message, "maximum is 64"));
    assert_int_equal(rr_request_set_text(q, big, 64), RR_OK);
    assert_int_equal(rr_route(r, q, &d, &err), RR_OK);
    rr_decision_free(d);
    rr_request_free(q);
    rr_router_free(r);
}

static void test_catastrophic_regex_hits_match_limit_cleanly(void **state) {
    (void)state;
    const char *p = "{\"policy\":\"p\",\"version\":\"1\",\"models\":{\"m\":{\"tier\":1,"
                    "\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":1}},\"patterns\":{\"evil\":["
                    "\"^(a+)+$\"]},\"rules\":[{\"id\":\"e\",\"when\":\"match.evil\",\"route\":"
                    "\"r\"},{\"id\":\"all\",\"when\":\"true\",\"route\":\"r2\"}],\"routes\":{\"r\":{"
                    "\"model\":\"m\"},\"r2\":{\"model\":\"m\",\"prompt\":\"other\"}}}";
    rr_router_options o = RR_ROUTER_OPTIONS_INIT;
    o.regex_match_limit = 1000;
    rr_router *r = NULL;
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_router_new(&r, p, strlen(p), &o, &err), RR_OK);
    rr_request *q = NULL;
    rr_decision *d = NULL;
    assert_int_equal(rr_request_new(&q, NULL), RR_OK);
    const char *t = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!";
    assert_int_equal(rr_request_set_text(q, t, strlen(t)), RR_OK);
    assert_int_equal(rr_route(r, q, &d, &err), RR_ELIMIT);
    assert_string_equal(err.pointer, "/patterns/evil/0");
    assert_int_equal(rr_request_set_text(q, "aaa", 3), RR_OK);
    assert_int_equal(rr_route(r, q, &d, &err), RR_OK);
    assert_string_equal(rr_decision_route(d), "r");
    rr_decision_free(d);
    rr_request_free(q);
    rr_router_free(r);
}

static void test_pattern_prefilter_keeps_regex_semantics(void **state) {
    (void)state;
    /* Patterns starting with \b + letters are skipped when no word starts with them; the
     * answers must be exactly PCRE2's. */
    const char *p = "{\"policy\":\"p\",\"version\":\"1\",\"models\":{\"m\":{\"tier\":1,"
                    "\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":1}},\"patterns\":{"
                    "\"refund\":[\"\\\\brefund\"],\"alt\":[\"\\\\bxyz|abc\"],"
                    "\"opt\":[\"\\\\bcan'?t\"]},"
                    "\"rules\":[{\"id\":\"a\",\"when\":\"match.refund\",\"route\":\"r1\"},"
                    "{\"id\":\"b\",\"when\":\"match.alt\",\"route\":\"r2\"},"
                    "{\"id\":\"c\",\"when\":\"match.opt\",\"route\":\"r3\"},"
                    "{\"id\":\"d\",\"when\":\"true\",\"route\":\"r4\"}],"
                    "\"routes\":{\"r1\":{\"model\":\"m\",\"prompt\":\"1\"},\"r2\":{\"model\":\"m\","
                    "\"prompt\":\"2\"},\"r3\":{\"model\":\"m\",\"prompt\":\"3\"},"
                    "\"r4\":{\"model\":\"m\",\"prompt\":\"4\"}}}";
    rr_router *r = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_router_new(&r, p, strlen(p), NULL, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, RR_OK);
    static const struct {
        const char *text, *route;
    } cases[] = {{"I want a REFUND now", "r1"},  {"(refunds!)", "r1"},
                 {"it is nonrefundable", "r4"}, {"x_refund", "r4"},
                 {"abc inside", "r2"},          {"zzabczz", "r2"},
                 {"I cant log in", "r3"},       {"I can't log in", "r3"},
                 {"re", "r4"},                  {"", "r4"}};
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

static void test_route_allocates_nothing_after_warmup(void **state) {
    (void)state;
    counter c;
    rr_allocator a = counting(&c);
    rr_router_options o = RR_ROUTER_OPTIONS_INIT;
    o.allocator = &a;
    rr_router *r = NULL;
    assert_int_equal(rr_router_new_default(&r, &o, NULL), RR_OK);
    assert_true(atomic_load(&c.mallocs) > 0); /* the router itself used the hook */
    rr_request *q = NULL;
    rr_decision *d = NULL;
    assert_int_equal(rr_request_new(&q, &a), RR_OK);
    const char *texts[] = {"How do I reset my password?",
                           "I want a refund, call me at +1 415 555 0134 or jane@example.com",
                           "Our SSO login fails with error 500 for 10.1.2.3"};
    for (int round = 0; round < 3; round++) {
        long before = atomic_load(&c.mallocs);
        for (int i = 0; i < 3; i++) {
            rr_request_reset(q);
            assert_int_equal(rr_request_set_text(q, texts[i], strlen(texts[i])), RR_OK);
            assert_int_equal(rr_request_set_attr(q, "tenant.tier", "enterprise"), RR_OK);
            assert_int_equal(rr_request_add_evidence(q, "kb1", "Reset password in Settings", 26,
                                                     0.8), RR_OK);
            assert_int_equal(rr_request_add_evidence(q, "kb2", "Billing", 7, 0.2), RR_OK);
            assert_int_equal(rr_route(r, q, &d, NULL), RR_OK);
            assert_non_null(rr_decision_json(d, NULL));
        }
        if (round > 0)
            assert_int_equal(atomic_load(&c.mallocs), before);
    }
    rr_decision_free(d);
    rr_request_free(q);
    rr_router_free(r);
    assert_int_equal(atomic_load(&c.live), 0); /* nothing leaked through the hook */
}

static void test_allocation_failures_are_clean(void **state) {
    (void)state;
    counter c;
    rr_allocator a = counting(&c);
    rr_router_options o = RR_ROUTER_OPTIONS_INIT;
    o.allocator = &a;
    /* Fail the n-th allocation for every n until the build succeeds. */
    int succeeded = 0;
    for (long n = 0; n < 5000 && !succeeded; n += 7) {
        atomic_store(&c.fail_after, n);
        rr_router *r = NULL;
        rr_error err = RR_ERROR_INIT;
        int rc = rr_router_new_default(&r, &o, &err);
        if (rc == RR_OK) {
            succeeded = 1;
            atomic_store(&c.fail_after, -1);
            rr_router_free(r);
        } else {
            assert_int_equal(rc, RR_ENOMEM);
        }
        assert_int_equal(atomic_load(&c.live), 0);
    }
    assert_true(succeeded);
    /* The same for routing: an allocation failure mid-route is RR_ENOMEM, and the request,
     * decision and router stay usable and leak nothing. */
    rr_router *r = NULL;
    assert_int_equal(rr_router_new_default(&r, &o, NULL), RR_OK);
    int routed = 0;
    for (long n = 0; n < 200 && !routed; n++) {
        rr_request *q = NULL;
        rr_decision *d = NULL;
        atomic_store(&c.fail_after, -1);
        assert_int_equal(rr_request_new(&q, &a), RR_OK);
        const char *t = "How do I reset my password? mail me at a@b.co";
        assert_int_equal(rr_request_set_text(q, t, strlen(t)), RR_OK);
        assert_int_equal(rr_request_add_evidence(q, "k", "reset password", 14, 0.5), RR_OK);
        atomic_store(&c.fail_after, n);
        int rc = rr_route(r, q, &d, NULL);
        atomic_store(&c.fail_after, -1);
        if (rc == RR_OK) {
            routed = 1;
            assert_non_null(rr_decision_json(d, NULL));
        } else {
            assert_int_equal(rc, RR_ENOMEM);
            assert_int_equal(rr_route(r, q, &d, NULL), RR_OK); /* still usable */
        }
        rr_decision_free(d);
        rr_request_free(q);
    }
    assert_true(routed);
    rr_router_free(r);
    assert_int_equal(atomic_load(&c.live), 0);
}

typedef struct {
    rr_router *r;
    int n;
    char route[6][64]; /* last route seen for each of the six texts */
} thread_arg;

static const char *const thread_texts[] = {
    "How do I reset my password?", "I want a refund now", "The export is not working",
    "help", "Extract the ticket fields from this email please", "What is the pricing?"};

static void *route_many(void *p) {
    thread_arg *t = p;
    rr_request *q = NULL;
    rr_decision *d = NULL;
    if (rr_request_new(&q, NULL) != RR_OK)
        return NULL;
    for (int i = 0; i < t->n; i++) {
        const char *txt = thread_texts[i % 6];
        rr_request_reset(q);
        rr_request_set_text(q, txt, strlen(txt));
        if (rr_route(t->r, q, &d, NULL) != RR_OK)
            break;
        snprintf(t->route[i % 6], 64, "%s", rr_decision_route(d));
    }
    rr_decision_free(d);
    rr_request_free(q);
    return NULL;
}

static void test_one_router_routes_from_many_threads(void **state) {
    (void)state;
    rr_router *r = default_router();
    thread_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&args[i], 0, sizeof args[i]);
        args[i].r = r;
        args[i].n = 3000;
        pthread_create(&th[i], NULL, route_many, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    thread_arg single = {r, 6, {{0}}};
    route_many(&single);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 6; k++) {
            assert_true(single.route[k][0] != 0);
            assert_string_equal(args[i].route[k], single.route[k]);
        }
    rr_router_free(r);
}

static void test_policy_errors_name_pointer_line_and_column(void **state) {
    (void)state;
    const char *p = "{\"policy\":\"p\",\"version\":\"1\",\n"
                    "\"models\":{\"m\":{\"tier\":1,\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":1}},\n"
                    "\"rules\":[{\"id\":\"a\",\"when\":\"text.tokens > 'x'\",\"route\":\"r\"}],\n"
                    "\"routes\":{\"r\":{\"model\":\"m\"}}}";
    rr_router *r = NULL;
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_router_new(&r, p, strlen(p), NULL, &err), RR_EEXPR);
    assert_null(r);
    assert_string_equal(err.pointer, "/rules/0/when");
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 27);
    assert_true(err.expr_column >= 1);
    assert_int_equal(rr_router_new(&r, "{\"policy\":", 10, NULL, &err), RR_EJSON);
    assert_int_equal(err.line, 1);
    assert_int_equal(rr_router_new(NULL, "{}", 2, NULL, &err), RR_EINVAL);
    assert_int_equal(rr_router_new_from_file(&r, "/nonexistent/policy.json", NULL, &err), RR_EIO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_macros_match_library),
        cmocka_unit_test(test_error_table_names_every_code),
        cmocka_unit_test(test_destructors_accept_null),
        cmocka_unit_test(test_default_policy_compiles_with_fingerprint),
        cmocka_unit_test(test_fingerprint_ignores_whitespace_and_key_order),
        cmocka_unit_test(test_easy_faq_with_strong_retrieval_goes_to_small_model),
        cmocka_unit_test(test_weak_retrieval_faq_goes_to_medium),
        cmocka_unit_test(test_regulated_tenant_never_gets_small_model),
        cmocka_unit_test(test_pii_in_request_denies_small_model),
        cmocka_unit_test(test_denied_everywhere_reroutes_to_human_review),
        cmocka_unit_test(test_denied_tool_reroutes_and_says_why),
        cmocka_unit_test(test_decision_record_has_policy_stages_and_otel_names),
        cmocka_unit_test(test_request_errors_are_clean_and_request_stays_usable),
        cmocka_unit_test(test_text_over_maximum_is_rejected),
        cmocka_unit_test(test_catastrophic_regex_hits_match_limit_cleanly),
        cmocka_unit_test(test_pattern_prefilter_keeps_regex_semantics),
        cmocka_unit_test(test_route_allocates_nothing_after_warmup),
        cmocka_unit_test(test_allocation_failures_are_clean),
        cmocka_unit_test(test_one_router_routes_from_many_threads),
        cmocka_unit_test(test_policy_errors_name_pointer_line_and_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
