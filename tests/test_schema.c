#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

static rr_schema *compile_opts(const char *json, const rr_schema_options *o) {
    rr_schema *s = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_schema_new(&s, json, strlen(json), o, &err);
    if (rc != RR_OK)
        fail_msg("compile failed: %s", err.message);
    return s;
}

static rr_schema *compile(const char *json) {
    return compile_opts(json, NULL);
}

static rr_verdict *verdict(void) {
    rr_verdict *v = NULL;
    assert_int_equal(rr_verdict_new(&v, NULL), RR_OK);
    return v;
}

/* Validate `inst` and return the verdict (must be freed); asserts validation ran. */
static rr_verdict *run(const rr_schema *s, const char *inst) {
    rr_verdict *v = verdict();
    rr_error err = RR_ERROR_INIT;
    int rc = rr_schema_validate(s, inst, strlen(inst), v, &err);
    if (rc != RR_OK)
        fail_msg("validate failed: %s", err.message);
    return v;
}

typedef struct code_case {
    const char *schema, *instance, *code, *inst_loc, *kw_loc;
} code_case;

static const code_case code_cases[] = {
    {"{\"type\":\"string\"}", "1", "type", "", "/type"},
    {"{\"const\":\"a\"}", "\"b\"", "const", "", "/const"},
    {"{\"enum\":[1,2]}", "3", "enum", "", "/enum"},
    {"{\"multipleOf\":3}", "7", "multipleOf", "", "/multipleOf"},
    {"{\"minimum\":5}", "4", "minimum", "", "/minimum"},
    {"{\"maximum\":5}", "6", "maximum", "", "/maximum"},
    {"{\"exclusiveMinimum\":5}", "5", "exclusiveMinimum", "", "/exclusiveMinimum"},
    {"{\"exclusiveMaximum\":5}", "5", "exclusiveMaximum", "", "/exclusiveMaximum"},
    {"{\"minLength\":3}", "\"\xc3\xa9\xc3\xa9\"", "minLength", "", "/minLength"},
    {"{\"maxLength\":1}", "\"ab\"", "maxLength", "", "/maxLength"},
    {"{\"pattern\":\"^a\"}", "\"ba\"", "pattern", "", "/pattern"},
    {"{\"minItems\":1}", "[]", "minItems", "", "/minItems"},
    {"{\"maxItems\":1}", "[1,2]", "maxItems", "", "/maxItems"},
    {"{\"uniqueItems\":true}", "[1,2,1.0]", "uniqueItems", "", "/uniqueItems"},
    {"{\"prefixItems\":[true],\"items\":false}", "[1,2]", "items", "", "/items"},
    {"{\"contains\":{\"const\":1}}", "[2]", "contains", "", "/contains"},
    {"{\"contains\":{\"const\":1},\"minContains\":2}", "[1]", "minContains", "", "/minContains"},
    {"{\"contains\":{\"const\":1},\"maxContains\":1}", "[1,1]", "maxContains", "", "/maxContains"},
    {"{\"minProperties\":1}", "{}", "minProperties", "", "/minProperties"},
    {"{\"maxProperties\":0}", "{\"a\":1}", "maxProperties", "", "/maxProperties"},
    {"{\"required\":[\"id\"]}", "{}", "required", "", "/required"},
    {"{\"dependentRequired\":{\"a\":[\"b\"]}}", "{\"a\":1}", "dependentRequired", "",
     "/dependentRequired"},
    {"{\"additionalProperties\":false}", "{\"x\":1}", "additionalProperties", "",
     "/additionalProperties"},
    {"{\"propertyNames\":{\"maxLength\":1}}", "{\"long\":1}", "propertyNames", "",
     "/propertyNames"},
    {"{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}", "1", "anyOf", "", "/anyOf"},
    {"{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"integer\"}]}", "1", "oneOf", "", "/oneOf"},
    {"{\"not\":{\"type\":\"integer\"}}", "1", "not", "", "/not"},
    {"{\"unevaluatedProperties\":false}", "{\"x\":1}", "unevaluatedProperties", "",
     "/unevaluatedProperties"},
    {"{\"unevaluatedItems\":false}", "[1]", "unevaluatedItems", "", "/unevaluatedItems"},
    {"false", "1", "false", "", ""},
    {"{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "{\"a\":\"x\"}", "type", "/a",
     "/properties/a/type"},
    {"{\"items\":{\"maximum\":1}}", "[0,5]", "maximum", "/1", "/items/maximum"},
    {"{\"if\":{\"const\":1},\"then\":{\"multipleOf\":2}}", "1", "multipleOf", "",
     "/then/multipleOf"},
    {"{\"dependentSchemas\":{\"a\":{\"required\":[\"b\"]}}}", "{\"a\":1}", "required", "",
     "/dependentSchemas/a/required"},
    {"{\"patternProperties\":{\"^x~/\":{\"type\":\"null\"}}}", "{\"x~/1\":1}", "type", "/x~0~11",
     "/patternProperties/^x~0~1/type"},
    {"{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"items\":[true],"
     "\"additionalItems\":false}",
     "[1,2]", "additionalItems", "", "/additionalItems"},
    {"{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"dependencies\":"
     "{\"a\":[\"b\"]}}",
     "{\"a\":1}", "dependencies", "", "/dependencies"},
};

static void test_each_keyword_reports_its_own_code_and_locations(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof code_cases / sizeof code_cases[0]; i++) {
        const code_case *c = &code_cases[i];
        rr_schema *s = compile(c->schema);
        rr_verdict *v = run(s, c->instance);
        if (rr_verdict_passed(v) || rr_verdict_finding_count(v) != 1)
            fail_msg("case %zu (%s): passed=%d findings=%zu", i, c->schema, rr_verdict_passed(v),
                     rr_verdict_finding_count(v));
        assert_string_equal(rr_verdict_failure(v), "schema");
        assert_string_equal(rr_verdict_finding_code(v, 0), c->code);
        assert_string_equal(rr_verdict_finding_validator(v, 0), "schema");
        assert_string_equal(rr_verdict_finding_instance_location(v, 0), c->inst_loc);
        assert_string_equal(rr_verdict_finding_keyword_location(v, 0), c->kw_loc);
        assert_true(strlen(rr_verdict_finding_message(v, 0)) > 0);
        rr_verdict_free(v);
        rr_schema_free(s);
    }
}

static void test_messages_name_the_value_and_the_limit(void **state) {
    (void)state;
    rr_schema *s = compile("{\"properties\":{\"n\":{\"maximum\":5}},\"required\":[\"severity\"]}");
    rr_verdict *v = run(s, "{\"n\":7}");
    assert_int_equal(rr_verdict_finding_count(v), 2);
    size_t req = strcmp(rr_verdict_finding_code(v, 0), "required") == 0 ? 0 : 1;
    assert_string_equal(rr_verdict_finding_code(v, req), "required");
    assert_non_null(strstr(rr_verdict_finding_message(v, req), "severity"));
    assert_string_equal(rr_verdict_finding_code(v, 1 - req), "maximum");
    assert_non_null(strstr(rr_verdict_finding_message(v, 1 - req), "7"));
    assert_non_null(strstr(rr_verdict_finding_message(v, 1 - req), "5"));
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_keyword_location_follows_refs(void **state) {
    (void)state;
    rr_schema *s = compile("{\"$defs\":{\"sev\":{\"enum\":[\"low\",\"high\"]}},"
                           "\"properties\":{\"severity\":{\"$ref\":\"#/$defs/sev\"}}}");
    rr_verdict *v = run(s, "{\"severity\":\"urgent\"}");
    assert_int_equal(rr_verdict_finding_count(v), 1);
    assert_string_equal(rr_verdict_finding_keyword_location(v, 0),
                        "/properties/severity/$ref/enum");
    assert_string_equal(rr_verdict_finding_instance_location(v, 0), "/severity");
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_format_is_asserted_only_when_asked(void **state) {
    (void)state;
    const char *schema = "{\"format\":\"date-time\"}";
    rr_schema *lax = compile(schema);
    rr_verdict *v = run(lax, "\"yesterday\"");
    assert_int_equal(rr_verdict_passed(v), 1);
    rr_verdict_free(v);
    rr_schema_options o = RR_SCHEMA_OPTIONS_INIT;
    o.flags = RR_SCHEMA_FORMAT_ASSERT;
    rr_schema *strict = compile_opts(schema, &o);
    v = run(strict, "\"yesterday\"");
    assert_int_equal(rr_verdict_passed(v), 0);
    assert_string_equal(rr_verdict_finding_code(v, 0), "format");
    rr_verdict_free(v);
    v = run(strict, "\"2024-02-29T12:00:00Z\"");
    assert_int_equal(rr_verdict_passed(v), 1);
    rr_verdict_free(v);
    rr_schema_free(lax);
    rr_schema_free(strict);
}

static void test_integer_and_float_equal_in_enum_and_const(void **state) {
    (void)state;
    rr_schema *s = compile("{\"enum\":[1,{\"a\":[2.0]}]}");
    rr_verdict *v = run(s, "1.0");
    assert_int_equal(rr_verdict_passed(v), 1);
    rr_verdict_free(v);
    v = run(s, "{\"a\":[2]}");
    assert_int_equal(rr_verdict_passed(v), 1);
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_multiple_of_handles_binary_fractions(void **state) {
    (void)state;
    rr_schema *s = compile("{\"multipleOf\":0.01}");
    rr_verdict *v = run(s, "19.99");
    assert_int_equal(rr_verdict_passed(v), 1);
    rr_verdict_free(v);
    v = run(s, "19.995");
    assert_int_equal(rr_verdict_passed(v), 0);
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_not_json_fails_with_invalid_json(void **state) {
    (void)state;
    rr_schema *s = compile("true");
    rr_verdict *v = run(s, "{\"a\":1,}");
    assert_int_equal(rr_verdict_passed(v), 0);
    assert_string_equal(rr_verdict_failure(v), "schema");
    assert_string_equal(rr_verdict_finding_code(v, 0), "invalid_json");
    assert_non_null(strstr(rr_verdict_finding_message(v, 0), "line 1"));
    rr_verdict_free(v);
    v = run(s, "");
    assert_string_equal(rr_verdict_finding_code(v, 0), "invalid_json");
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_text_cut_short_fails_as_truncated(void **state) {
    (void)state;
    rr_schema *s = compile("true");
    const char *cuts[] = {"{\"a\":[1,2", "{\"a\":\"hel", "[tru",     "{\"a\"",
                          "[1.",         "{\"a\":-",     "[\"\\u00", "{\"t\":\"caf\xc3"};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        rr_verdict *v = run(s, cuts[i]);
        if (strcmp(rr_verdict_failure(v), "truncated") != 0)
            fail_msg("%s: failure %s", cuts[i], rr_verdict_failure(v));
        assert_string_equal(rr_verdict_finding_code(v, 0), "truncated_json");
        rr_verdict_free(v);
    }
    const char *more[] = {"{\"a\":1,", "{\"a\" :", "[ ", "{\"a\":{\"b\":[{}", "\"x\\"};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        rr_verdict *v = run(s, more[i]);
        if (strcmp(rr_verdict_failure(v), "truncated") != 0)
            fail_msg("%s: failure %s", more[i], rr_verdict_failure(v));
        rr_verdict_free(v);
    }
    const char *bad[] = {"[1,2]]", "[1 2", "{\"a\":1]", "{,", "\"\\q", "[nul1", "{\"a\"}", "01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rr_verdict *v = run(s, bad[i]);
        if (strcmp(rr_verdict_finding_code(v, 0), "invalid_json") != 0)
            fail_msg("%s: code %s", bad[i], rr_verdict_finding_code(v, 0));
        rr_verdict_free(v);
    }
    rr_schema_free(s);
}

static void test_deep_nesting_is_refused_without_recursion(void **state) {
    (void)state;
    rr_schema *s = compile("{\"items\":{\"$ref\":\"#\"}}");
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = 0;
    rr_verdict *v = verdict();
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_schema_validate(s, deep, 2 * n, v, &err), RR_EDEPTH);
    assert_non_null(strstr(err.message, "512"));
    /* Unterminated too. */
    assert_int_equal(rr_schema_validate(s, deep, n, v, &err), RR_EDEPTH);
    /* At the limit it validates. */
    assert_int_equal(rr_schema_validate(s, deep + n - 512, 1024, v, &err), RR_OK);
    assert_int_equal(rr_verdict_passed(v), 1);
    free(deep);
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_depth_limit_ignores_brackets_inside_strings(void **state) {
    (void)state;
    rr_schema_options o = RR_SCHEMA_OPTIONS_INIT;
    o.max_depth = 2;
    rr_schema *s = compile_opts("true", &o);
    rr_verdict *v = verdict();
    rr_error err = RR_ERROR_INIT;
    const char *ok = "[[\"\\\"[[[[{{\",\"x\\\\\"],1]";
    assert_int_equal(rr_schema_validate(s, ok, strlen(ok), v, &err), RR_OK);
    assert_int_equal(rr_verdict_passed(v), 1);
    const char *deep = "[[\"x\\\\\",[1]]]";
    assert_int_equal(rr_schema_validate(s, deep, strlen(deep), v, &err), RR_EDEPTH);
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_recursive_ref_without_progress_is_an_error_not_a_crash(void **state) {
    (void)state;
    rr_schema *s = compile("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":"
                           "\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}");
    rr_verdict *v = verdict();
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_schema_validate(s, "1", 1, v, &err), RR_EDEPTH);
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_catastrophic_pattern_hits_the_match_limit(void **state) {
    (void)state;
    rr_schema *s = compile("{\"pattern\":\"^(a|aa)+$\"}");
    char inst[80] = "\"";
    memset(inst + 1, 'a', 60);
    memcpy(inst + 61, "!\"", 3);
    rr_verdict *v = verdict();
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_schema_validate(s, inst, strlen(inst), v, &err), RR_ELIMIT);
    assert_non_null(strstr(err.message, "limit"));
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_oversized_instance_is_refused(void **state) {
    (void)state;
    rr_schema_options o = RR_SCHEMA_OPTIONS_INIT;
    o.max_instance_bytes = 8;
    rr_schema *s = compile_opts("true", &o);
    rr_verdict *v = verdict();
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_schema_validate(s, "[1,2,3,4,5]", 11, v, &err), RR_ETOOBIG);
    assert_int_equal(rr_schema_validate(s, "[1,2,3]", 7, v, &err), RR_OK);
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_huge_output_keeps_findings_bounded(void **state) {
    (void)state;
    rr_schema *s = compile("{\"items\":{\"type\":\"string\"}}");
    size_t n = 100000;
    char *big = malloc(2 * n + 2);
    big[0] = '[';
    for (size_t i = 0; i < n; i++) {
        big[1 + 2 * i] = '1';
        big[2 + 2 * i] = i + 1 < n ? ',' : ']';
    }
    big[2 * n + 1] = 0;
    rr_verdict *v = run(s, big);
    assert_int_equal(rr_verdict_passed(v), 0);
    assert_int_equal(rr_verdict_finding_count(v), 100);
    assert_int_equal(rr_verdict_dropped_findings(v), n - 100);
    size_t len;
    assert_non_null(rr_verdict_json(v, &len));
    assert_true(len < 64 * 1024);
    free(big);
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_invalid_utf8_is_refused_with_its_offset(void **state) {
    (void)state;
    rr_schema *s = compile("true");
    rr_verdict *v = verdict();
    rr_error err = RR_ERROR_INIT;
    const char bad[] = "{\"a\":\"x\xff\"}";
    assert_int_equal(rr_schema_validate(s, bad, sizeof bad - 1, v, &err), RR_EUTF8);
    assert_non_null(strstr(err.message, "offset 7"));
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_nul_bytes_escaped_are_data_raw_are_not_json(void **state) {
    (void)state;
    rr_schema *s = compile("{\"maxLength\":3,\"const\":\"a\\u0000b\"}");
    rr_verdict *v = run(s, "\"a\\u0000b\"");
    assert_int_equal(rr_verdict_passed(v), 1);
    rr_verdict_free(v);
    v = verdict();
    rr_error err = RR_ERROR_INIT;
    const char raw[] = "\"a\0b\"";
    assert_int_equal(rr_schema_validate(s, raw, sizeof raw - 1, v, &err), RR_OK);
    assert_int_equal(rr_verdict_passed(v), 0);
    assert_string_equal(rr_verdict_finding_code(v, 0), "invalid_json");
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_invalid_schema_names_the_pointer(void **state) {
    (void)state;
    struct {
        const char *schema, *pointer;
        int code;
    } cases[] = {
        {"{\"properties\":{\"a\":{\"minLength\":-1}}}", "/properties/a/minLength", RR_ESCHEMA},
        {"{\"type\":\"strin\"}", "/type", RR_ESCHEMA},
        {"{\"items\":{\"pattern\":\"(\"}}", "/items/pattern", RR_ESCHEMA},
        {"{\"allOf\":[]}", "/allOf", RR_ESCHEMA},
        {"{\"properties\":{\"a\":3}}", "/properties/a", RR_ESCHEMA},
        {"{\"$ref\":\"http://example.com/nope.json\"}", "/$ref", RR_ESCHEMA},
        {"{\"$ref\":\"#/$defs/missing\"}", "/$ref", RR_ESCHEMA},
        {"{\"$schema\":\"http://example.com/custom\"}", "", RR_ESCHEMA},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rr_schema *s = NULL;
        rr_error err = RR_ERROR_INIT;
        int rc = rr_schema_new(&s, cases[i].schema, strlen(cases[i].schema), NULL, &err);
        if (rc != cases[i].code || strcmp(err.pointer, cases[i].pointer) != 0)
            fail_msg("%s: rc %d pointer '%s' message '%s'", cases[i].schema, rc, err.pointer,
                     err.message);
        assert_null(s);
    }
}

static void test_absurdly_nested_schema_is_refused(void **state) {
    (void)state;
    size_t n = 2000;
    char *deep = malloc(n * 8 + 8);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(deep + o, "{\"not\":");
    o += (size_t)sprintf(deep + o, "true");
    for (size_t i = 0; i < n; i++)
        deep[o++] = '}';
    rr_schema *s = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_schema_new(&s, deep, o, NULL, &err);
    assert_true(rc == RR_EDEPTH || rc == RR_EJSON);
    assert_null(s);
    free(deep);
}

static void test_malformed_schema_json_reports_line_and_column(void **state) {
    (void)state;
    rr_schema *s = NULL;
    rr_error err = RR_ERROR_INIT;
    const char *bad = "{\n  \"type\": \"string\",\n  oops\n}";
    assert_int_equal(rr_schema_new(&s, bad, strlen(bad), NULL, &err), RR_EJSON);
    assert_int_equal(err.line, 3);
    assert_true(err.column > 0);
}

static void test_registry_resolves_remote_refs_and_nothing_else(void **state) {
    (void)state;
    rr_schema_registry *reg = NULL;
    assert_int_equal(rr_schema_registry_new(&reg, NULL), RR_OK);
    const char *ticket = "{\"$defs\":{\"id\":{\"type\":\"string\",\"pattern\":\"^T-\"}}}";
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(
        rr_schema_registry_add(reg, "https://x.test/ticket.json#", ticket, strlen(ticket), &err),
        RR_OK);
    assert_int_equal(
        rr_schema_registry_add(reg, "https://x.test/ticket.json", ticket, strlen(ticket), &err),
        RR_EINVAL);
    assert_int_equal(rr_schema_registry_add(reg, "relative.json", "{}", 2, &err), RR_EINVAL);
    assert_int_equal(rr_schema_registry_add(reg, "https://x.test/bad.json", "{", 1, &err),
                     RR_EJSON);
    rr_schema_options o = RR_SCHEMA_OPTIONS_INIT;
    o.registry = reg;
    rr_schema *s = compile_opts("{\"$id\":\"https://x.test/out.json\",\"properties\":{\"id\":"
                                "{\"$ref\":\"ticket.json#/$defs/id\"}}}",
                                &o);
    rr_schema_registry_free(reg); /* the schema keeps what it needs */
    rr_verdict *v = run(s, "{\"id\":\"T-1\"}");
    assert_int_equal(rr_verdict_passed(v), 1);
    rr_verdict_free(v);
    v = run(s, "{\"id\":\"X-1\"}");
    assert_string_equal(rr_verdict_finding_keyword_location(v, 0), "/properties/id/$ref/pattern");
    rr_verdict_free(v);
    rr_schema_free(s);
    rr_schema *none = NULL;
    const char *remote = "{\"$ref\":\"https://x.test/ticket.json\"}";
    assert_int_equal(rr_schema_new(&none, remote, strlen(remote), NULL, &err), RR_ESCHEMA);
    assert_string_equal(err.pointer, "/$ref");
}

static void test_meta_schema_is_built_in(void **state) {
    (void)state;
    rr_schema *s = compile("{\"$ref\":\"https://json-schema.org/draft/2020-12/schema\"}");
    rr_verdict *v = run(s, "{\"type\":\"object\",\"properties\":{\"a\":{\"minimum\":1}}}");
    assert_int_equal(rr_verdict_passed(v), 1);
    rr_verdict_free(v);
    v = run(s, "{\"properties\":{\"a\":{\"minLength\":-1}}}");
    assert_int_equal(rr_verdict_passed(v), 0);
    rr_verdict_free(v);
    rr_schema_free(s);
    s = compile("{\"$ref\":\"http://json-schema.org/draft-07/schema#\"}");
    v = run(s, "{\"items\":[{\"type\":\"strin\"}]}");
    assert_int_equal(rr_verdict_passed(v), 0);
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_draft7_ref_overrides_siblings_and_items_array_is_a_tuple(void **state) {
    (void)state;
    rr_schema *s = compile("{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
                           "\"definitions\":{\"i\":{\"type\":\"integer\"}},"
                           "\"properties\":{\"a\":{\"$ref\":\"#/definitions/i\",\"maximum\":0},"
                           "\"t\":{\"items\":[{\"type\":\"string\"}],\"additionalItems\":"
                           "{\"type\":\"boolean\"}},\"h\":{\"$id\":\"#hash\",\"const\":1},"
                           "\"r\":{\"$ref\":\"#hash\"}},"
                           "\"dependencies\":{\"x\":{\"required\":[\"y\"]}}}");
    assert_string_equal(rr_schema_dialect(s), "draft-07");
    rr_verdict *v = run(s, "{\"a\":5,\"t\":[\"s\",true,false],\"r\":1}");
    assert_int_equal(rr_verdict_passed(v), 1); /* maximum beside $ref is ignored */
    rr_verdict_free(v);
    v = run(s, "{\"t\":[\"s\",1]}");
    assert_string_equal(rr_verdict_finding_keyword_location(v, 0),
                        "/properties/t/additionalItems/type");
    rr_verdict_free(v);
    v = run(s, "{\"x\":1}");
    assert_string_equal(rr_verdict_finding_keyword_location(v, 0), "/dependencies/x/required");
    rr_verdict_free(v);
    v = run(s, "{\"r\":2}");
    assert_int_equal(rr_verdict_passed(v), 0);
    rr_verdict_free(v);
    rr_schema_free(s);
    /* Without $schema, the option picks the draft; 2020-12 keywords are then unknown. */
    rr_schema_options o = RR_SCHEMA_OPTIONS_INIT;
    o.default_draft = RR_SCHEMA_DRAFT_07;
    s = compile_opts("{\"prefixItems\":[{\"type\":\"string\"}],\"unevaluatedProperties\":false}",
                     &o);
    v = run(s, "[1]");
    assert_int_equal(rr_verdict_passed(v), 1);
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_draft2019_recursive_ref_extends_to_the_outermost_anchor(void **state) {
    (void)state;
    rr_schema *s =
        compile("{\"$schema\":\"https://json-schema.org/draft/2019-09/schema\","
                "\"$id\":\"http://localhost:4242/\",\"$recursiveAnchor\":true,"
                "\"$defs\":{\"obj\":{\"$id\":\"obj.json\",\"$recursiveAnchor\":true,"
                "\"anyOf\":[{\"type\":\"string\"},{\"type\":\"object\",\"additionalProperties\":"
                "{\"$recursiveRef\":\"#\"}}]}},"
                "\"anyOf\":[{\"type\":\"integer\"},{\"$ref\":\"#/$defs/obj\"}],"
                "\"items\":[{\"type\":\"string\"}],\"additionalItems\":false}");
    assert_string_equal(rr_schema_dialect(s), "2019-09");
    rr_verdict *v = run(s, "{\"foo\":1}"); /* integer allowed through the outer anchor */
    assert_int_equal(rr_verdict_passed(v), 1);
    rr_verdict_free(v);
    v = run(s, "{\"foo\":true}");
    assert_int_equal(rr_verdict_passed(v), 0);
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_draft7_ids_with_fragments_and_base_changes_resolve(void **state) {
    (void)state;
    /* "$id": "#foo" inside a subschema that changed the base; "$id" beside "$ref" ignored */
    rr_schema *s =
        compile("{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
                "\"$id\":\"http://localhost:1234/sibling_id/base/\",\"definitions\":{"
                "\"nested\":{\"$id\":\"nested.json\",\"definitions\":{\"B\":{\"$id\":\"#foo\","
                "\"type\":\"integer\"}}},\"abs\":{\"$id\":\"http://localhost:1234/bar#baz\","
                "\"minimum\":0},\"base_foo\":{\"$id\":\"foo.json\",\"type\":\"number\"}},"
                "\"properties\":{\"a\":{\"$ref\":\"http://localhost:1234/sibling_id/base/"
                "nested.json#foo\"},\"b\":{\"$ref\":\"http://localhost:1234/bar#baz\"},"
                "\"c\":{\"$id\":\"http://localhost:1234/sibling_id/\",\"$ref\":\"foo.json\"}}}");
    rr_verdict *v = run(s, "{\"a\":1,\"b\":2,\"c\":3}");
    assert_int_equal(rr_verdict_passed(v), 1);
    rr_verdict_free(v);
    v = run(s, "{\"a\":\"x\",\"b\":-1,\"c\":\"s\"}");
    assert_int_equal(rr_verdict_finding_count(v), 3);
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_unevaluated_properties_see_through_applicators(void **state) {
    (void)state;
    rr_schema *s = compile("{\"properties\":{\"kind\":{\"type\":\"string\"}},"
                           "\"oneOf\":[{\"properties\":{\"a\":true},\"required\":[\"a\"]},"
                           "{\"properties\":{\"b\":true},\"required\":[\"b\"]}],"
                           "\"unevaluatedProperties\":false}");
    rr_verdict *v = run(s, "{\"kind\":\"x\",\"a\":1}");
    assert_int_equal(rr_verdict_passed(v), 1);
    rr_verdict_free(v);
    v = run(s, "{\"kind\":\"x\",\"a\":1,\"c\":2}");
    assert_int_equal(rr_verdict_finding_count(v), 1);
    assert_string_equal(rr_verdict_finding_code(v, 0), "unevaluatedProperties");
    assert_non_null(strstr(rr_verdict_finding_message(v, 0), "\"c\""));
    rr_verdict_free(v);
    rr_schema_free(s);
}

/* Allocation counting and failure injection. */
typedef struct counting {
    size_t allocs, fail_at; /* fail the fail_at-th allocation (1-based); 0 = never */
} counting;

static void *c_malloc(size_t n, void *ud) {
    counting *c = ud;
    if (c->fail_at && ++c->allocs == c->fail_at)
        return NULL;
    if (!c->fail_at)
        c->allocs++;
    return malloc(n);
}
static void *c_realloc(void *p, size_t n, void *ud) {
    counting *c = ud;
    if (c->fail_at && ++c->allocs == c->fail_at)
        return NULL;
    if (!c->fail_at)
        c->allocs++;
    return realloc(p, n);
}
static void c_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

static const char ticket_schema[] =
    "{\"type\":\"object\",\"required\":[\"category\",\"urgent\",\"dates\",\"entities\"],"
    "\"additionalProperties\":false,\"properties\":{"
    "\"category\":{\"enum\":[\"billing\",\"technical\",\"account\",\"other\"]},"
    "\"urgent\":{\"type\":\"boolean\"},"
    "\"dates\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"format\":\"date-time\"}},"
    "\"entities\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"type\","
    "\"value\"],\"additionalProperties\":false,\"properties\":{\"type\":{\"enum\":[\"person\","
    "\"org\",\"product\"]},\"value\":{\"type\":\"string\",\"minLength\":1,\"pattern\":\"\\\\S\"}}}}"
    "}}";

typedef struct agree_case {
    const char *schema, *instance;
    int valid;
} agree_case;

/* Each case takes a different branch of the yes/no first pass (leaves settled inline,
 * keywords handed to the full evaluator, unevaluated*, large "properties"). */
static const agree_case agree_cases[] = {
    {"{\"type\":\"integer\"}", "1.0", 1},
    {"{\"type\":\"integer\"}", "1.5", 0},
    {"{\"properties\":{\"a\":false}}", "{\"a\":1}", 0},
    {"{\"properties\":{\"a\":false}}", "{\"b\":1}", 1},
    {"{\"additionalProperties\":{\"type\":\"string\"}}", "{\"x\":\"s\"}", 1},
    {"{\"additionalProperties\":{\"type\":\"string\"}}", "{\"x\":1}", 0},
    {"{\"required\":[\"a\"],\"properties\":{\"a\":true}}", "{}", 0},
    {"{\"required\":[\"a\"],\"properties\":{\"a\":true}}", "{\"a\":null}", 1},
    {"{\"minLength\":2}", "\"\xc3\xa9\"", 0},
    {"{\"minLength\":2}", "\"\xc3\xa9\xc3\xa9\"", 1},
    {"{\"maxLength\":1}", "\"\xc3\xa9\"", 1},
    {"{\"maxLength\":1}", "\"ab\"", 0},
    {"{\"enum\":[\"a\",1]}", "1.0", 1},
    {"{\"enum\":[\"abcdefghij\"]}", "\"abcdefghij\"", 1},
    {"{\"enum\":[\"abcdefghij\"]}", "\"abcdefghiX\"", 0},
    {"{\"items\":{\"$ref\":\"#/$defs/p\"},\"$defs\":{\"p\":{\"type\":\"string\"}}}", "[\"a\"]", 1},
    {"{\"items\":{\"$ref\":\"#/$defs/p\"},\"$defs\":{\"p\":{\"type\":\"string\"}}}", "[1]", 0},
    {"{\"prefixItems\":[{\"type\":\"string\"}],\"items\":{\"type\":\"integer\"}}", "[\"a\",1]", 1},
    {"{\"prefixItems\":[{\"type\":\"string\"}],\"items\":{\"type\":\"integer\"}}", "[\"a\",\"b\"]",
     0},
    {"{\"properties\":{\"a\":{\"type\":\"integer\"}},\"unevaluatedProperties\":false}", "{\"a\":1}",
     1},
    {"{\"properties\":{\"a\":{\"type\":\"integer\"}},\"unevaluatedProperties\":false}",
     "{\"a\":1,\"b\":2}", 0},
    {"{\"items\":{\"properties\":{\"x\":{\"const\":1}}}}", "[{\"x\":1}]", 1},
    {"{\"items\":{\"properties\":{\"x\":{\"const\":1}}}}", "[{\"x\":2}]", 0},
    {"{\"patternProperties\":{\"^a\":{\"type\":\"integer\"}},\"additionalProperties\":false}",
     "{\"ab\":1}", 1},
    {"{\"patternProperties\":{\"^a\":{\"type\":\"integer\"}},\"additionalProperties\":false}",
     "{\"b\":1}", 0},
    {"{\"type\":\"string\",\"pattern\":\"^a\",\"minLength\":1}", "\"ab\"", 1},
    {"{\"type\":\"string\",\"pattern\":\"^a\",\"minLength\":1}", "\"ba\"", 0},
};

static void expect_agreement(const rr_schema *s, const char *inst, int valid) {
    json_t *j = json_loads(inst, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    rr_verdict *v = verdict();
    assert_int_equal(rr_schema_validate_json(s, j, v, "schema", NULL), RR_OK);
    if (rr_verdict_passed(v) != valid)
        fail_msg("%s: expected %s", inst, valid ? "valid" : "invalid");
    assert_int_equal(rr_verdict_finding_count(v) == 0, valid);
    assert_int_equal(rr_verdict_json(v, NULL) != NULL, 1);
    assert_int_equal(rr_schema_check_json(s, j, v), valid);
    rr_verdict_free(v);
    json_decref(j);
}

static void test_first_pass_and_full_evaluation_agree(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof agree_cases / sizeof agree_cases[0]; i++) {
        rr_schema *s = compile(agree_cases[i].schema);
        expect_agreement(s, agree_cases[i].instance, agree_cases[i].valid);
        rr_schema_free(s);
    }
    /* more than 64 properties: looked up through the XXH3 index, "required" not folded */
    char schema[4096] = "{\"required\":[\"p69\"],\"properties\":{";
    for (int i = 0; i < 70; i++)
        snprintf(schema + strlen(schema), sizeof schema - strlen(schema),
                 "%s\"p%d\":{\"type\":\"integer\"}", i ? "," : "", i);
    strcat(schema, "}}");
    rr_schema *s = compile(schema);
    expect_agreement(s, "{\"p69\":1,\"p3\":2,\"other\":\"x\"}", 1);
    expect_agreement(s, "{\"p69\":\"x\"}", 0);
    expect_agreement(s, "{\"p3\":1}", 0);
    rr_schema_free(s);
}

/* An instance nested N arrays deep under {"items": {"$ref": "#"}}. */
static json_t *nested_arrays(int n) {
    json_t *j = json_array();
    for (int i = 1; i < n; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, j);
        j = outer;
    }
    return j;
}

static void test_valid_but_too_deep_evaluation_is_an_error_on_every_path(void **state) {
    (void)state;
    rr_schema *s = compile("{\"items\":{\"$ref\":\"#\"}}");
    rr_verdict *v = verdict();
    json_t *shallow = nested_arrays(100), *deep = nested_arrays(1500);
    assert_int_equal(rr_schema_validate_json(s, shallow, v, "schema", NULL), RR_OK);
    assert_int_equal(rr_verdict_passed(v), 1);
    assert_int_equal(rr_schema_check_json(s, shallow, v), 1);
    rr_verdict_reset(v);
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_schema_validate_json(s, deep, v, "schema", &err), RR_EDEPTH);
    assert_non_null(strstr(err.message, "nested too deeply"));
    assert_int_equal(rr_schema_check_json(s, deep, v), RR_EDEPTH);
    json_decref(shallow);
    json_decref(deep);
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_revalidation_allocates_nothing_after_warm_up(void **state) {
    (void)state;
    counting c = {0, 0};
    rr_allocator al = {RR_ALLOCATOR_VERSION, &c, c_malloc, c_realloc, c_free};
    rr_schema_options o = RR_SCHEMA_OPTIONS_INIT;
    o.allocator = &al;
    o.flags = RR_SCHEMA_FORMAT_ASSERT;
    rr_schema *s = compile_opts(ticket_schema, &o);
    rr_verdict *v = NULL;
    assert_int_equal(rr_verdict_new(&v, &al), RR_OK);
    json_t *good = json_loads("{\"category\":\"billing\",\"urgent\":true,\"dates\":"
                              "[\"2024-05-01T10:00:00Z\"],\"entities\":[{\"type\":\"org\","
                              "\"value\":\"ACME\"}]}",
                              0, NULL);
    json_t *bad =
        json_loads("{\"category\":\"x\",\"dates\":[\"soon\"],\"entities\":[{}]}", 0, NULL);
    for (int round = 0; round < 3; round++) {
        if (round == 2)
            c.allocs = 0;
        rr_verdict_reset(v);
        assert_int_equal(rr_schema_validate_json(s, good, v, "schema", NULL), RR_OK);
        assert_int_equal(rr_verdict_passed(v), 1);
        rr_verdict_reset(v);
        assert_int_equal(rr_schema_validate_json(s, bad, v, "schema", NULL), RR_OK);
        assert_int_equal(rr_verdict_passed(v), 0);
    }
    assert_int_equal(c.allocs, 0);
    json_decref(good);
    json_decref(bad);
    rr_verdict_free(v);
    rr_schema_free(s);
}

static void test_failing_allocator_never_crashes_or_leaks(void **state) {
    (void)state;
    int failures = 0;
    for (size_t k = 1; k < 400; k++) {
        counting c = {0, k};
        rr_allocator al = {RR_ALLOCATOR_VERSION, &c, c_malloc, c_realloc, c_free};
        rr_schema_options o = RR_SCHEMA_OPTIONS_INIT;
        o.allocator = &al;
        rr_schema *s = NULL;
        rr_error err = RR_ERROR_INIT;
        int rc = rr_schema_new(&s, ticket_schema, strlen(ticket_schema), &o, k % 2 ? &err : NULL);
        if (rc != RR_OK) {
            assert_int_equal(rc, RR_ENOMEM);
            assert_null(s);
            failures++;
            continue;
        }
        rr_verdict *v = NULL;
        if (rr_verdict_new(&v, &al) == RR_OK) {
            const char *inst = "{\"category\":\"x\",\"urgent\":1,\"dates\":[],\"entities\":[]}";
            rc = rr_schema_validate(s, inst, strlen(inst), v, &err);
            assert_true(rc == RR_OK || rc == RR_ENOMEM);
            rr_verdict_free(v);
        }
        rr_schema_free(s);
    }
    assert_true(failures > 10);
}

typedef struct shared {
    const rr_schema *s;
    int ok;
} shared;

static void *worker(void *arg) {
    shared *sh = arg;
    rr_verdict *v = NULL;
    if (rr_verdict_new(&v, NULL) != RR_OK)
        return NULL;
    const char *good = "{\"category\":\"other\",\"urgent\":false,\"dates\":[],\"entities\":[]}";
    const char *bad = "{\"category\":\"other\"}";
    int ok = 1;
    for (int i = 0; i < 2000; i++) {
        rr_schema_validate(sh->s, good, strlen(good), v, NULL);
        ok &= rr_verdict_passed(v) == 1;
        rr_schema_validate(sh->s, bad, strlen(bad), v, NULL);
        ok &= rr_verdict_passed(v) == 0 && rr_verdict_finding_count(v) == 3;
    }
    sh->ok = ok;
    rr_verdict_free(v);
    return NULL;
}

static void test_one_schema_validates_from_many_threads(void **state) {
    (void)state;
    rr_schema *s = compile(ticket_schema);
    pthread_t th[4];
    shared sh[4];
    for (int i = 0; i < 4; i++) {
        sh[i] = (shared){s, 0};
        pthread_create(&th[i], NULL, worker, &sh[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(sh[i].ok, 1);
    }
    rr_schema_free(s);
}

static void test_bad_arguments_are_rejected(void **state) {
    (void)state;
    rr_schema *s = NULL;
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_schema_new(NULL, "{}", 2, NULL, &err), RR_EINVAL);
    assert_int_equal(rr_schema_new(&s, NULL, 2, NULL, &err), RR_EINVAL);
    rr_schema_options o;
    assert_int_equal(rr_schema_options_init(&o, 99), RR_EINVAL);
    assert_int_equal(rr_schema_options_init(&o, RR_SCHEMA_OPTIONS_VERSION), RR_OK);
    o.default_draft = 3;
    assert_int_equal(rr_schema_new(&s, "{}", 2, &o, &err), RR_EINVAL);
    s = compile("{}");
    assert_int_equal(rr_schema_validate(s, "1", 1, NULL, &err), RR_EINVAL);
    rr_schema_free(s);
    rr_schema_free(NULL);
    rr_schema_registry_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_keyword_reports_its_own_code_and_locations),
        cmocka_unit_test(test_messages_name_the_value_and_the_limit),
        cmocka_unit_test(test_keyword_location_follows_refs),
        cmocka_unit_test(test_format_is_asserted_only_when_asked),
        cmocka_unit_test(test_integer_and_float_equal_in_enum_and_const),
        cmocka_unit_test(test_multiple_of_handles_binary_fractions),
        cmocka_unit_test(test_not_json_fails_with_invalid_json),
        cmocka_unit_test(test_text_cut_short_fails_as_truncated),
        cmocka_unit_test(test_deep_nesting_is_refused_without_recursion),
        cmocka_unit_test(test_depth_limit_ignores_brackets_inside_strings),
        cmocka_unit_test(test_recursive_ref_without_progress_is_an_error_not_a_crash),
        cmocka_unit_test(test_catastrophic_pattern_hits_the_match_limit),
        cmocka_unit_test(test_oversized_instance_is_refused),
        cmocka_unit_test(test_huge_output_keeps_findings_bounded),
        cmocka_unit_test(test_invalid_utf8_is_refused_with_its_offset),
        cmocka_unit_test(test_nul_bytes_escaped_are_data_raw_are_not_json),
        cmocka_unit_test(test_invalid_schema_names_the_pointer),
        cmocka_unit_test(test_absurdly_nested_schema_is_refused),
        cmocka_unit_test(test_malformed_schema_json_reports_line_and_column),
        cmocka_unit_test(test_registry_resolves_remote_refs_and_nothing_else),
        cmocka_unit_test(test_meta_schema_is_built_in),
        cmocka_unit_test(test_draft7_ref_overrides_siblings_and_items_array_is_a_tuple),
        cmocka_unit_test(test_draft2019_recursive_ref_extends_to_the_outermost_anchor),
        cmocka_unit_test(test_draft7_ids_with_fragments_and_base_changes_resolve),
        cmocka_unit_test(test_unevaluated_properties_see_through_applicators),
        cmocka_unit_test(test_first_pass_and_full_evaluation_agree),
        cmocka_unit_test(test_valid_but_too_deep_evaluation_is_an_error_on_every_path),
        cmocka_unit_test(test_revalidation_allocates_nothing_after_warm_up),
        cmocka_unit_test(test_failing_allocator_never_crashes_or_leaks),
        cmocka_unit_test(test_one_schema_validates_from_many_threads),
        cmocka_unit_test(test_bad_arguments_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
