/* JSON Schema validator, internal interface for the router, rr_validate and benchmarks. */
#ifndef RR_SCHEMA_H
#define RR_SCHEMA_H

#include "base.h"
#include "verdict.h"

#include <jansson.h>

/* Validate an already-parsed instance, appending findings to `verdict` without clearing
 * it. Findings carry `validator` (borrowed; must outlive the verdict's use) as their
 * validator name. On failure the verdict is failed with RR_FAIL_SCHEMA. Returns RR_OK when
 * validation ran, else RR_EDEPTH / RR_ELIMIT / RR_ENOMEM (err filled). Does not check the
 * instance depth limit (the parser's caller does); recursion is still bounded. */
int rr_schema_validate_json(const rr_schema *schema, const json_t *instance, rr_verdict *verdict,
                            const char *validator, rr_error *err);

/* Whether `instance` is valid, without findings; 1 valid, 0 invalid, <0 error code.
 * `verdict` only lends its scratch. */
int rr_schema_check_json(const rr_schema *schema, const json_t *instance, rr_verdict *verdict);

/* Parse instance text as rr_schema_validate does (limits, UTF-8, truncation). On success
 * *out is a new jansson reference. When the text is not JSON, returns RR_EJSON and sets
 * *truncated to whether it is a valid prefix that ended early; err names line/column and
 * err->reserved_ holds the byte offset. `verdict` lends its scratch. */
int rr_schema_parse_instance(const rr_schema *schema, const char *text, size_t len,
                             rr_verdict *verdict, json_t **out, bool *truncated, rr_error *err);

/* The dialect the root schema was compiled as: "2020-12", "2019-09" or "draft-07". */
const char *rr_schema_dialect(const rr_schema *schema);

/* Format assertions (schema_format.c). Formats the library knows get an id > 0. */
int rr_format_id(const char *name);
/* 1 if `s` (len bytes, valid UTF-8) is a valid instance of format `id`, else 0. Only
 * "regex" allocates (through `a`, to compile the pattern). */
int rr_format_check(const rr_alloc *a, int id, const char *s, size_t len);

/* Whether `s` (len bytes) is an ECMA-262 regular expression as far as this library can
 * tell: it compiles with PCRE2 after translation and uses no escape ECMA-262 rejects. */
int rr_schema_regex_ok(const rr_alloc *a, const char *s, size_t len);

#endif
