/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate_safety.h"
#include "verdict.h"

/* ---- fixture ------------------------------------------------------------------------- */

static rr_alloc libc_alloc(void) {
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    return a;
}

static json_t *parse(const char *text) {
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("fixture JSON does not parse: %s: %s", je.text, text);
    return j;
}

static rr_safety *make(const char *type, const char *config) {
    rr_alloc a = libc_alloc();
    json_t *c = parse(config);
    rr_safety *s = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_safety_new(&s, c, type, "/validators/v", "v", &a, 0, 0, &err);
    json_decref(c);
    if (rc != RR_OK)
        fail_msg("config failed: %s", err.message);
    return s;
}

typedef struct checked {
    struct rr_verdict v;
    int rc;
    rr_error err;
} checked;

static void check_in(const rr_safety *s, const rr_safety_input *in, checked *c) {
    rr_alloc a = libc_alloc();
    rr_verdict_init(&c->v, &a);
    rr_safety_scratch *sc = NULL;
    assert_int_equal(rr_safety_scratch_new(&sc, &a), RR_OK);
    rr_error e0 = RR_ERROR_INIT;
    c->err = e0;
    c->rc = rr_safety_check(s, sc, in, &c->v, &c->err);
    rr_safety_scratch_free(sc);
}

/* Check `output` (bytes up to NUL) with an optional request text and one evidence text. */
static void check_text(const rr_safety *s, const char *output, int json, const char *request,
                       const char *evidence, checked *c) {
    const char *ev[1] = {evidence};
    rr_safety_input in = {
        output, strlen(output),   json, request, request ? strlen(request) : 0, ev,
        NULL,   evidence ? 1 : 0, NULL};
    check_in(s, &in, c);
}

static void done(checked *c) {
    rr_verdict_release(&c->v);
}

static const char *pool(const struct rr_verdict *v, uint32_t off) {
    return v->pool.p + off;
}

static void expect_pass(const checked *c, const char *what) {
    if (c->rc != RR_OK || !c->v.passed || c->v.nfindings)
        fail_msg("'%s': want a pass, got rc %d, %zu findings (first: %s %s)", what, c->rc,
                 c->v.nfindings, c->v.nfindings ? c->v.findings[0].code : "-",
                 c->v.nfindings ? c->v.findings[0].keyword : "");
}

/* Finding i has this code and keyword, and the verdict failed with `failure`. */
static const rr_finding *expect_finding(const checked *c, size_t i, const char *failure,
                                        const char *code, const char *keyword) {
    assert_int_equal(c->rc, RR_OK);
    if (c->v.nfindings <= i)
        fail_msg("want finding %zu (%s), have %zu", i, code, c->v.nfindings);
    const rr_finding *f = &c->v.findings[i];
    assert_int_equal(c->v.passed, 0);
    assert_string_equal(c->v.failure, failure);
    assert_string_equal(f->code, code);
    assert_string_equal(f->keyword, keyword);
    assert_string_equal(f->validator, "v");
    assert_string_equal(pool(&c->v, f->inst_off), "");
    return f;
}

static void expect_span(const rr_finding *f, const char *output, const char *text) {
    const char *at = strstr(output, text);
    assert_non_null(at);
    assert_int_equal(f->span_start, at - output);
    assert_int_equal(f->span_end, at - output + (ptrdiff_t)strlen(text));
}

/* ---- rr_json_is_truncated_prefix ----------------------------------------------------- */

static void test_truncated_prefix_detects_valid_prefixes(void **state) {
    (void)state;
    static const char *const cut[] = {
        "{",
        "{\"a\"",
        "{\"a\":",
        "{\"a\": 1",
        "{\"a\": 1,",
        "{\"a\": [1, 2",
        "[",
        "[1, {\"b\": \"x",
        "\"abc",
        "\"a\\",
        "\"a\\u00",
        "\"\\uD83D",
        "\"\\uD83D\\",
        "\"\\uD83D\\u",
        "\"\\uD83D\\uDE",
        "tru",
        "n",
        "fals",
        "-",
        "[1.",
        "[1e",
        "[1e+",
        "[-",
        "{\"k\": \"caf\xC3",
        "\"\xF0\x9F",
        "\"\xE2\x82",
        "[12",
        "  {  ",
        "{\"a\":{\"b\":{\"c\":[",
        "[true",
        "[null,",
        "{\"a\" ",
        "[\"\\n\\t\\/\\\"",
        "[0",
        "[-0.5E-",
        "{\"\xC3\xA9\": \"ok\", \"z\"",
        "\n\r\t[ 1 , 2 ,",
    };
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++)
        if (!rr_json_is_truncated_prefix(cut[i], strlen(cut[i])))
            fail_msg("'%s' should be a truncated prefix", cut[i]);
    /* Nesting up to jansson's limit is a prefix; past it, jansson could not read it. */
    static char deep[2050];
    memset(deep, '[', sizeof deep);
    assert_true(rr_json_is_truncated_prefix(deep, 2048));
    assert_false(rr_json_is_truncated_prefix(deep, 2049));
    /* Length, not NUL, ends the text. */
    assert_true(rr_json_is_truncated_prefix("{\"a\": 1}", 7));
}

static void test_truncated_prefix_rejects_text_that_is_not_json(void **state) {
    (void)state;
    static const char *const bad[] = {
        "{\"a\" 1",
        "hello",
        "{}x",
        "{'a': 1}",
        "[1,]",
        "{,",
        "[01",
        "{\"a\":1}}",
        "\"\x01",
        "\"\\q",
        "\"\\uDC00",
        "\"\\uD800x",
        "\"\\uD800\\u0041",
        "\"\\uD800\\u00",
        "\"\\uZ",
        "tx",
        "nul1",
        "[1 2",
        "{\"a\":1 \"b\"",
        "\"\xC3\x28",
        "\"\xED\xA0\x80",
        "-a",
        "1.5.2",
        "[.5",
        "{\"a\":]",
        "[}",
        "{]",
        "\xEF\xBB\xBF{",
        "NaN",
        "[Infinity",
        "{\"a\":1,}",
        "[1,,",
        "{1:",
        "\xFF",
        "[\"\xC0\x80",
        "[+1",
        "[1.e5",
        "{\"a\"::",
        "Sure! {\"a\": 1",
        "```json\n{",
        "[{\"a\":1,}",
        "[[1,]",
        "{\"a\":[1}",
        "[{\"a\"}",
        "{\"a\":{}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (rr_json_is_truncated_prefix(bad[i], strlen(bad[i])))
            fail_msg("'%s' is not a JSON prefix", bad[i]);
    assert_false(rr_json_is_truncated_prefix("[\"a\0b", 5)); /* raw control character */
}

static void test_truncated_prefix_is_false_for_complete_json_and_blank_text(void **state) {
    (void)state;
    static const char *const whole[] = {
        "{}",
        "[]",
        "12",
        "-0.5e3",
        "\"x\"",
        "true",
        "null",
        "{\"a\":[1,{\"b\":null}]}  \n",
        "\"\\uD83D\\uDE00\"",
        "0",
        "",
        "   ",
        "\n\t",
    };
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
        if (rr_json_is_truncated_prefix(whole[i], strlen(whole[i])))
            fail_msg("'%s' is not truncated", whole[i]);
    assert_false(rr_json_is_truncated_prefix(NULL, 0));
    assert_false(rr_json_is_truncated_prefix(NULL, 5));
}

/* ---- shape ----------------------------------------------------------------------------- */

static void test_empty_or_blank_output_fails_empty_and_stops(void **state) {
    (void)state;
    rr_safety *s = make("shape", "{\"type\": \"shape\"}");
    static const char *const blank[] = {
        "", "   \n\t\r", "\xC2\xA0\xE2\x80\x8B\xE3\x80\x80\xEF\xBB\xBF", "\xE2\x80\xA8 \xC2\x85"};
    checked c;
    for (size_t i = 0; i < sizeof blank / sizeof blank[0]; i++) {
        check_text(s, blank[i], 1, NULL, NULL, &c);
        const rr_finding *f = expect_finding(&c, 0, "empty", "empty_output", "");
        assert_int_equal(c.v.nfindings, 1); /* nothing else is checked */
        assert_int_equal(f->span_start, -1);
        done(&c);
    }
    /* NUL bytes are blank too. */
    rr_safety_input in = {"\0 \0", 3, 0, NULL, 0, NULL, NULL, 0, NULL};
    check_in(s, &in, &c);
    expect_finding(&c, 0, "empty", "empty_output", "");
    done(&c);
    static const char *const full[] = {".", "\xC2\xA0x", "ok", "{}"};
    for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
        check_text(s, full[i], 0, NULL, NULL, &c);
        expect_pass(&c, full[i]);
        done(&c);
    }
    rr_safety_free(s);
    s = make("shape", "{\"empty\": false}");
    check_text(s, "  ", 0, NULL, NULL, &c);
    expect_pass(&c, "empty check off");
    done(&c);
    rr_safety_free(s);
}

static void test_truncated_json_fails_only_in_json_mode(void **state) {
    (void)state;
    rr_safety *s = make("shape", "{}");
    checked c;
    check_text(s, "{\"category\": \"billing\", \"summary\": \"The cust", 1, NULL, NULL, &c);
    expect_finding(&c, 0, "truncated", "truncated_json", "");
    assert_int_equal(c.v.nfindings, 1);
    done(&c);
    check_text(s, "{\"category\": \"billing\", \"summary\": \"The cust", 0, NULL, NULL, &c);
    expect_pass(&c, "text mode");
    done(&c);
    check_text(s, "{\"category\": \"billing\"}", 1, NULL, NULL, &c);
    expect_pass(&c, "complete JSON");
    done(&c);
    check_text(s, "{\"category\": billing}", 1, NULL, NULL, &c);
    expect_pass(&c, "invalid JSON is the schema's finding, not truncation");
    done(&c);
    /* A character cut at the very end is truncation, not invalid UTF-8. */
    check_text(s, "{\"summary\": \"caf\xC3", 1, NULL, NULL, &c);
    expect_finding(&c, 0, "truncated", "truncated_json", "");
    assert_int_equal(c.v.nfindings, 1);
    done(&c);
    rr_safety_free(s);
    s = make("shape", "{\"truncated\": false}");
    check_text(s, "[1, 2", 1, NULL, NULL, &c);
    expect_pass(&c, "truncated check off");
    done(&c);
    rr_safety_free(s);
}

static void test_default_refusals_are_found_with_their_span(void **state) {
    (void)state;
    rr_safety *s = make("shape", "{}");
    static const struct {
        const char *text, *match, *id;
    } cases[] = {
        {"I can't help with that request.", "I can't help with", "cannot_help"},
        {"Sorry. I cannot assist with refunds.", "I cannot assist with", "cannot_help"},
        {"I can not help you with this.", "I can not help you with", "cannot_help"},
        {"I\xE2\x80\x99m unable to assist with that.", "I\xE2\x80\x99m unable to assist with",
         "cannot_help"},
        {"i won't help with that", "i won't help with", "cannot_help"},
        {"I'm sorry, but I can't do that.", "I'm sorry, but I can't", "sorry_but"},
        {"I am afraid I cannot share account data.", "I am afraid I cannot", "sorry_but"},
        {"I\xE2\x80\x99m sorry but I won\xE2\x80\x99t",
         "I\xE2\x80\x99m sorry but I won\xE2\x80\x99t", "sorry_but"},
        {"As an AI language model, I do not have access.", "As an AI language model, I",
         "as_an_ai"},
        {"Well, as an AI, I have no opinions.", "as an AI, I", "as_an_ai"},
    };
    checked c;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_text(s, cases[i].text, 0, NULL, NULL, &c);
        if (c.v.nfindings != 1)
            fail_msg("'%s': want one refusal, got %zu", cases[i].text, c.v.nfindings);
        const rr_finding *f = expect_finding(&c, 0, "refusal", "refusal", cases[i].id);
        expect_span(f, cases[i].text, cases[i].match);
        assert_string_equal(pool(&c.v, f->kw_off), "");
        done(&c);
    }
    static const char *const helpful[] = {
        "I can help with that: open Settings, then Billing.",
        "I'm sorry to hear that, but I can reset it for you now.",
        "As an AI-powered help desk we answer in minutes.",
        "Cancel the order; I cancelled yours already.",
        "I'm sorry for the delay. Your refund is on its way.",
    };
    for (size_t i = 0; i < sizeof helpful / sizeof helpful[0]; i++) {
        check_text(s, helpful[i], 0, NULL, NULL, &c);
        expect_pass(&c, helpful[i]);
        done(&c);
    }
    rr_safety_free(s);
}

static void test_refusal_patterns_replace_the_defaults(void **state) {
    (void)state;
    rr_safety *s = make("safety", "{\"refusal\": true, \"refusal_patterns\": [\"^nope\\\\b\", "
                                  "{\"id\": \"declined\", \"pattern\": \"we decline\"}]}");
    checked c;
    check_text(s, "Nope, not today.", 0, NULL, NULL, &c);
    const rr_finding *f = expect_finding(&c, 0, "refusal", "refusal", "0");
    expect_span(f, "Nope, not today.", "Nope");
    assert_string_equal(pool(&c.v, f->kw_off), "/validators/v/refusal_patterns/0");
    done(&c);
    check_text(s, "Sadly we DECLINE.", 0, NULL, NULL, &c);
    f = expect_finding(&c, 0, "refusal", "refusal", "declined");
    assert_string_equal(pool(&c.v, f->kw_off), "/validators/v/refusal_patterns/1/pattern");
    done(&c);
    check_text(s, "I can't help with that.", 0, NULL, NULL, &c);
    expect_pass(&c, "defaults replaced");
    done(&c);
    rr_safety_free(s);
    /* A safety validator looks for refusals only when asked to. */
    s = make("safety", "{}");
    check_text(s, "I can't help with that.", 0, NULL, NULL, &c);
    expect_pass(&c, "refusal off by default in safety");
    done(&c);
    rr_safety_free(s);
}

/* ---- safety ---------------------------------------------------------------------------- */

static void test_deny_patterns_report_each_match_with_id_and_span(void **state) {
    (void)state;
    rr_safety *s =
        make("safety", "{\"type\": \"safety\", \"version\": \"1\", \"description\": \"d\", "
                       "\"deny\": [\"\\\\bguarantee(d)? (a )?refund\", {\"id\": \"legal\", "
                       "\"pattern\": \"you are entitled to\"}, \"never matches\"]}");
    const char *out = "We GUARANTEE a refund, and you are entitled to more. We guaranteed refund.";
    checked c;
    check_text(s, out, 0, NULL, NULL, &c);
    assert_int_equal(c.v.nfindings, 2); /* one per pattern: its first match */
    const rr_finding *f = expect_finding(&c, 0, "safety", "deny_pattern", "0");
    expect_span(f, out, "GUARANTEE a refund");
    assert_string_equal(pool(&c.v, f->kw_off), "/validators/v/deny/0");
    assert_string_equal(pool(&c.v, f->msg_off), "output matches deny pattern '0'");
    f = expect_finding(&c, 1, "safety", "deny_pattern", "legal");
    expect_span(f, out, "you are entitled to");
    assert_string_equal(pool(&c.v, f->kw_off), "/validators/v/deny/1/pattern");
    done(&c);
    check_text(s, "Refunds take 5 days.", 0, NULL, NULL, &c);
    expect_pass(&c, "no deny match");
    done(&c);
    rr_safety_free(s);
}

static void test_pii_leak_is_reported_with_span_but_never_the_value(void **state) {
    (void)state;
    rr_safety *s = make("safety", "{\"pii_leak\": true}");
    const char *out = "Write to jane.doe@example.com or call +1 415 555 0100.";
    checked c;
    check_text(s, out, 0, "my order is late", "Orders ship within 3 days.", &c);
    assert_int_equal(c.v.nfindings, 2);
    const rr_finding *f = expect_finding(&c, 0, "safety", "pii_leak", "email");
    expect_span(f, out, "jane.doe@example.com");
    const char *msg = pool(&c.v, f->msg_off);
    assert_null(strstr(msg, "jane"));
    assert_string_equal(msg, "output contains an email address found in neither the request "
                             "nor the evidence");
    f = expect_finding(&c, 1, "safety", "pii_leak", "phone");
    assert_true(f->span_start > 0 && f->span_end > f->span_start);
    assert_null(strstr(pool(&c.v, f->msg_off), "555"));
    done(&c);
    /* No request and no evidence: everything the output holds is a leak. */
    check_text(s, "IP 10.1.2.3 is blocked", 0, NULL, NULL, &c);
    expect_finding(&c, 0, "safety", "pii_leak", "ipv4");
    done(&c);
    rr_safety_free(s);
}

static void test_pii_present_in_request_or_evidence_is_not_a_leak(void **state) {
    (void)state;
    rr_safety *s = make("safety", "{}");
    const char *out = "We emailed jane.doe@example.com about it.";
    checked c;
    check_text(s, out, 0, "Please reply to bob@example.org", NULL, &c);
    expect_pass(&c, "email type in the request");
    done(&c);
    check_text(s, out, 0, "no contact here", "Account owner: jane.doe@example.com", &c);
    expect_pass(&c, "email type in the evidence");
    done(&c);
    /* Several evidence texts: the one holding the type may come last. */
    const char *ev[3] = {"nothing", NULL, "contact: x@y.io"};
    size_t evl[3] = {7, 0, 15};
    rr_safety_input in = {out, strlen(out), 0, "hi", 2, ev, evl, 3, NULL};
    check_in(s, &in, &c);
    expect_pass(&c, "email in the third evidence text");
    done(&c);
    /* Precomputed request features stand in for the request text. */
    rr_text_features tf;
    memset(&tf, 0, sizeof tf);
    tf.pii[RR_PII_EMAIL] = 1;
    tf.pii_total = 1;
    rr_safety_input in2 = {out, strlen(out), 0, NULL, 0, NULL, NULL, 0, &tf};
    check_in(s, &in2, &c);
    expect_pass(&c, "email in the request's features");
    done(&c);
    /* A different type in the request does not cover an email. */
    check_text(s, out, 0, "call me on +44 20 7946 0958", NULL, &c);
    expect_finding(&c, 0, "safety", "pii_leak", "email");
    done(&c);
    rr_safety_free(s);
    s = make("safety", "{\"pii_leak\": false}");
    check_text(s, out, 0, NULL, NULL, &c);
    expect_pass(&c, "pii_leak off");
    done(&c);
    rr_safety_free(s);
}

static void test_invalid_utf8_is_a_safety_finding_and_checks_see_the_prefix(void **state) {
    (void)state;
    rr_safety *s = make("safety", "{\"deny\": [\"world\"]}");
    const char *out = "Hello \xFF world, jane@example.com";
    checked c;
    check_text(s, out, 0, NULL, NULL, &c);
    assert_int_equal(c.v.nfindings, 1);
    const rr_finding *f = expect_finding(&c, 0, "safety", "invalid_utf8", "");
    assert_int_equal(f->span_start, 6);
    assert_int_equal(f->span_end, 7);
    assert_string_equal(pool(&c.v, f->msg_off), "output is not valid UTF-8 at byte 6");
    done(&c);
    static const char *const bad[] = {"\xC0\xAF", "a\xED\xA0\x80", "\xF5\x80\x80\x80",
                                      "\xE2\x28\xA1", "x\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        check_text(s, bad[i], 0, NULL, NULL, &c);
        expect_finding(&c, 0, "safety", "invalid_utf8", "");
        done(&c);
    }
    /* A character cut at the end is not invalid content. */
    check_text(s, "Hello \xE2\x82", 0, NULL, NULL, &c);
    expect_pass(&c, "cut final character");
    done(&c);
    rr_safety_free(s);
    /* Shape reports it too, and an invalid byte is not whitespace. */
    s = make("shape", "{}");
    check_text(s, " \xFF ", 0, NULL, NULL, &c);
    expect_finding(&c, 0, "safety", "invalid_utf8", "");
    assert_int_equal(c.v.nfindings, 1);
    done(&c);
    rr_safety_free(s);
}

static void test_checks_run_in_documented_order(void **state) {
    (void)state;
    rr_safety *s = make("shape", "{}");
    checked c;
    /* Truncated and a refusal: both reported, truncation first decides the failure. */
    check_text(s, "[\"I can't help with", 1, NULL, NULL, &c);
    assert_int_equal(c.v.nfindings, 2);
    expect_finding(&c, 0, "truncated", "truncated_json", "");
    assert_string_equal(c.v.findings[1].code, "refusal");
    done(&c);
    rr_safety_free(s);
    s = make("safety", "{\"refusal\": true, \"deny\": [\"help\"]}");
    check_text(s, "I can't help with that, mail a@b.co", 0, NULL, NULL, &c);
    assert_int_equal(c.v.nfindings, 3);
    expect_finding(&c, 0, "refusal", "refusal", "cannot_help");
    assert_string_equal(c.v.findings[1].code, "deny_pattern");
    assert_string_equal(c.v.findings[2].code, "pii_leak");
    done(&c);
    rr_safety_free(s);
}

static void test_pattern_hitting_match_limit_is_elimit_naming_it(void **state) {
    (void)state;
    rr_alloc a = libc_alloc();
    json_t *cfg = parse("{\"deny\": [\"x\", \"(a+)+$\"]}");
    rr_safety *s = NULL;
    assert_int_equal(rr_safety_new(&s, cfg, "safety", "/validators/v", "v", &a, 1000, 100, NULL),
                     RR_OK);
    json_decref(cfg);
    checked c;
    check_text(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", 0, NULL, NULL, &c);
    assert_int_equal(c.rc, RR_ELIMIT);
    assert_int_equal(c.err.code, RR_ELIMIT);
    assert_string_equal(c.err.pointer, "/validators/v/deny/1");
    assert_non_null(strstr(c.err.message, "pattern '1' failed on this output"));
    done(&c);
    rr_safety_free(s);
}

/* ---- configuration --------------------------------------------------------------------- */

static void expect_config_error(const char *type, const char *config, int code, const char *pointer,
                                uint32_t expr_column, const char *part) {
    rr_alloc a = libc_alloc();
    json_t *c = parse(config);
    rr_safety *s = (rr_safety *)&a;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_safety_new(&s, c, type, "/validators/v", "v", &a, 0, 0, &err);
    json_decref(c);
    if (rc != code || err.code != code || strcmp(err.pointer, pointer) ||
        err.expr_column != expr_column || !strstr(err.message, part))
        fail_msg("%s %s\n got rc %d ptr '%s' col %u '%s'\n want rc %d ptr '%s' col %u '...%s...'",
                 type, config, rc, err.pointer, err.expr_column, err.message, code, pointer,
                 expr_column, part);
    assert_null(s);
}

static void test_config_errors_name_their_pointer(void **state) {
    (void)state;
    const int P = RR_EPOLICY;
    expect_config_error("safety", "[]", P, "/validators/v", 0,
                        "a safety validator must be an object, found array");
    expect_config_error("safety", "{\"empty\": true}", P, "/validators/v/empty", 0,
                        "unknown key 'empty' in a safety validator");
    expect_config_error("shape", "{\"deny\": []}", P, "/validators/v/deny", 0,
                        "unknown key 'deny' in a shape validator");
    expect_config_error("shape", "{\"pii_leak\": true}", P, "/validators/v/pii_leak", 0,
                        "unknown key 'pii_leak'");
    expect_config_error("shape", "{\"type\": \"safety\"}", P, "/validators/v/type", 0,
                        "expected type \"shape\"");
    expect_config_error("safety", "{\"pii_leak\": \"yes\"}", P, "/validators/v/pii_leak", 0,
                        "'pii_leak' must be true or false, found string");
    expect_config_error("shape", "{\"truncated\": 1}", P, "/validators/v/truncated", 0,
                        "must be true or false, found number");
    expect_config_error("safety", "{\"deny\": \"x\"}", P, "/validators/v/deny", 0,
                        "'deny' must be an array, found string");
    expect_config_error("safety", "{\"deny\": [\"a\", 3]}", P, "/validators/v/deny/1", 0,
                        "a pattern is a string or {\"id\", \"pattern\"}, found number");
    expect_config_error("safety", "{\"deny\": [{\"pattern\": \"a\"}]}", P, "/validators/v/deny/0",
                        0, "needs a non-empty string \"id\"");
    expect_config_error("safety", "{\"deny\": [{\"id\": \"\", \"pattern\": \"a\"}]}", P,
                        "/validators/v/deny/0/id", 0, "needs a non-empty string \"id\"");
    expect_config_error("safety", "{\"deny\": [{\"id\": \"x\"}]}", P, "/validators/v/deny/0", 0,
                        "needs a string \"pattern\"");
    expect_config_error("safety", "{\"deny\": [{\"id\": \"x\", \"pattern\": 1}]}", P,
                        "/validators/v/deny/0/pattern", 0, "needs a string \"pattern\"");
    expect_config_error("safety",
                        "{\"deny\": [{\"id\": \"x\", \"pattern\": \"a\"}, "
                        "{\"id\": \"x\", \"pattern\": \"b\"}]}",
                        P, "/validators/v/deny/1/id", 0, "pattern id 'x' used twice");
    expect_config_error("safety", "{\"deny\": [{\"id\": \"x\", \"pattern\": \"a\", \"flags\": 1}]}",
                        P, "/validators/v/deny/0/flags", 0, "unknown key 'flags' in a pattern");
    expect_config_error("safety", "{\"deny\": [\"ok\", \"a(b\"]}", RR_EREGEX,
                        "/validators/v/deny/1", 4, "invalid regular expression");
    expect_config_error("safety", "{\"deny\": [{\"id\": \"p\", \"pattern\": \"x[\"}]}", RR_EREGEX,
                        "/validators/v/deny/0/pattern", 3, "missing terminating ]");
    expect_config_error("shape", "{\"refusal_patterns\": [\"(?<\"]}", RR_EREGEX,
                        "/validators/v/refusal_patterns/0", 4, "invalid regular expression");
    expect_config_error("shape", "{\"refusal\": false, \"refusal_patterns\": [\"x\"]}", P,
                        "/validators/v/refusal_patterns", 0, "has no effect while refusal is off");
    expect_config_error("safety", "{\"refusal_patterns\": [\"x\"]}", P,
                        "/validators/v/refusal_patterns", 0, "has no effect while refusal is off");
}

static void test_invalid_arguments(void **state) {
    (void)state;
    rr_alloc a = libc_alloc();
    json_t *c = parse("{}");
    rr_safety *s = NULL;
    assert_int_equal(rr_safety_new(NULL, c, "safety", "", "v", &a, 0, 0, NULL), RR_EINVAL);
    assert_int_equal(rr_safety_new(&s, NULL, "safety", "", "v", &a, 0, 0, NULL), RR_EINVAL);
    assert_int_equal(rr_safety_new(&s, c, NULL, "", "v", &a, 0, 0, NULL), RR_EINVAL);
    assert_int_equal(rr_safety_new(&s, c, "schema", "", "v", &a, 0, 0, NULL), RR_EINVAL);
    assert_int_equal(rr_safety_new(&s, c, "safety", "", NULL, &a, 0, 0, NULL), RR_EINVAL);
    assert_int_equal(rr_safety_new(&s, c, "safety", "", "v", NULL, 0, 0, NULL), RR_EINVAL);
    assert_null(s);
    assert_int_equal(rr_safety_new(&s, c, "shape", NULL, "v", &a, 0, 0, NULL), RR_OK);
    assert_string_equal(rr_safety_name(s), "v");
    assert_string_equal(rr_safety_type(s), "shape");
    rr_safety_scratch *sc = NULL;
    assert_int_equal(rr_safety_scratch_new(NULL, &a), RR_EINVAL);
    assert_int_equal(rr_safety_scratch_new(&sc, NULL), RR_EINVAL);
    assert_int_equal(rr_safety_scratch_new(&sc, &a), RR_OK);
    struct rr_verdict v;
    rr_verdict_init(&v, &a);
    rr_safety_input in = {NULL, 3, 0, NULL, 0, NULL, NULL, 0, NULL};
    assert_int_equal(rr_safety_check(s, sc, &in, &v, NULL), RR_EINVAL);
    in.output_len = 0;
    in.request_len = 2;
    assert_int_equal(rr_safety_check(s, sc, &in, &v, NULL), RR_EINVAL);
    in.request_len = 0;
    assert_int_equal(rr_safety_check(NULL, sc, &in, &v, NULL), RR_EINVAL);
    assert_int_equal(rr_safety_check(s, NULL, &in, &v, NULL), RR_EINVAL);
    assert_int_equal(rr_safety_check(s, sc, NULL, &v, NULL), RR_EINVAL);
    assert_int_equal(rr_safety_check(s, sc, &in, NULL, NULL), RR_EINVAL);
    /* NULL output of length 0 is the empty output. */
    assert_int_equal(rr_safety_check(s, sc, &in, &v, NULL), RR_OK);
    assert_string_equal(v.failure, "empty");
    rr_verdict_release(&v);
    rr_safety_scratch_free(sc);
    rr_safety_free(s);
    rr_safety_free(NULL);
    rr_safety_scratch_free(NULL);
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

static const char *const full_config =
    "{\"refusal\": true, \"deny\": [\"refund\", {\"id\": \"legal\", \"pattern\": \"entitled\"}]}";

static void test_allocation_failure_returns_enomem_and_leaks_nothing(void **state) {
    (void)state;
    json_t *c = parse(full_config);
    long budget = 0;
    for (;; budget++) {
        count_alloc ca = {budget, 0, 0};
        rr_alloc a = counting(&ca);
        rr_safety *s = NULL;
        rr_error err = RR_ERROR_INIT;
        int rc = rr_safety_new(&s, c, "safety", "/validators/v", "v", &a, 0, 0, &err);
        if (rc == RR_OK) {
            rr_safety_free(s);
            assert_int_equal(ca.live, 0);
            break;
        }
        assert_int_equal(rc, RR_ENOMEM);
        assert_null(s);
        assert_int_equal(ca.live, 0);
    }
    assert_true(budget > 8);
    json_decref(c);
    for (budget = 0;; budget++) {
        count_alloc ca = {budget, 0, 0};
        rr_alloc a = counting(&ca);
        rr_safety_scratch *sc = NULL;
        int rc = rr_safety_scratch_new(&sc, &a);
        if (rc == RR_OK) {
            rr_safety_scratch_free(sc);
            assert_int_equal(ca.live, 0);
            break;
        }
        assert_int_equal(rc, RR_ENOMEM);
        assert_null(sc);
        assert_int_equal(ca.live, 0);
    }
    assert_true(budget >= 2);
}

static void test_checking_allocates_nothing_after_warm_up(void **state) {
    (void)state;
    count_alloc ca = {-1, 0, 0};
    rr_alloc a = counting(&ca);
    json_t *c = parse(full_config);
    rr_safety *s = NULL, *shape = NULL;
    assert_int_equal(rr_safety_new(&s, c, "safety", "/v", "v", &a, 0, 0, NULL), RR_OK);
    json_decref(c);
    c = parse("{}");
    assert_int_equal(rr_safety_new(&shape, c, "shape", "/w", "w", &a, 0, 0, NULL), RR_OK);
    json_decref(c);
    rr_safety_scratch *sc = NULL;
    assert_int_equal(rr_safety_scratch_new(&sc, &a), RR_OK);
    struct rr_verdict v;
    rr_verdict_init(&v, &a);
    const char *outs[] = {"I can't help with a refund; you are entitled to mail jane@example.com",
                          "Fine answer with nothing to report.", "[\"I'm sorry, but I can't",
                          "bad \xFF byte", "   "};
    const char *ev[1] = {"evidence text without contacts"};
    size_t evl[1] = {strlen(ev[0])};
    size_t counts[5];
    long before = 0;
    for (int round = 0; round < 3; round++) {
        if (round == 1)
            before = ca.total;
        for (size_t i = 0; i < 5; i++) {
            rr_verdict_clear(&v);
            rr_safety_input in = {outs[i], strlen(outs[i]), 1, "hello", 5, ev, evl, 1, NULL};
            assert_int_equal(rr_safety_check(s, sc, &in, &v, NULL), RR_OK);
            assert_int_equal(rr_safety_check(shape, sc, &in, &v, NULL), RR_OK);
            if (round == 0)
                counts[i] = v.nfindings;
            else
                assert_int_equal(v.nfindings, counts[i]); /* deterministic */
        }
    }
    assert_true(counts[0] >= 4);
    assert_int_equal(counts[1], 0);
    assert_int_equal(ca.total, before);
    rr_verdict_release(&v);
    rr_safety_scratch_free(sc);
    rr_safety_free(s);
    rr_safety_free(shape);
    assert_int_equal(ca.live, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_prefix_detects_valid_prefixes),
        cmocka_unit_test(test_truncated_prefix_rejects_text_that_is_not_json),
        cmocka_unit_test(test_truncated_prefix_is_false_for_complete_json_and_blank_text),
        cmocka_unit_test(test_empty_or_blank_output_fails_empty_and_stops),
        cmocka_unit_test(test_truncated_json_fails_only_in_json_mode),
        cmocka_unit_test(test_default_refusals_are_found_with_their_span),
        cmocka_unit_test(test_refusal_patterns_replace_the_defaults),
        cmocka_unit_test(test_deny_patterns_report_each_match_with_id_and_span),
        cmocka_unit_test(test_pii_leak_is_reported_with_span_but_never_the_value),
        cmocka_unit_test(test_pii_present_in_request_or_evidence_is_not_a_leak),
        cmocka_unit_test(test_invalid_utf8_is_a_safety_finding_and_checks_see_the_prefix),
        cmocka_unit_test(test_checks_run_in_documented_order),
        cmocka_unit_test(test_pattern_hitting_match_limit_is_elimit_naming_it),
        cmocka_unit_test(test_config_errors_name_their_pointer),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_allocation_failure_returns_enomem_and_leaks_nothing),
        cmocka_unit_test(test_checking_allocates_nothing_after_warm_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
