/* libFuzzer target: JSON Schema compile + validate. The first byte picks options (format
 * assertion, draft-07 default); the rest is "<schema>\0<instance>" (no NUL: the schema text
 * is also the instance). */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "routeright.h"

static void check_verdict(rr_verdict *v) {
    size_t n = rr_verdict_finding_count(v);
    if (rr_verdict_passed(v) != (n == 0))
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        if (!rr_verdict_finding_code(v, i) || !rr_verdict_finding_message(v, i)[0] ||
            !rr_verdict_finding_instance_location(v, i) ||
            !rr_verdict_finding_keyword_location(v, i))
            __builtin_trap();
    size_t len;
    const char *js = rr_verdict_json(v, &len);
    if (!js)
        __builtin_trap();
    json_t *j = json_loadb(js, len, 0, NULL); /* the record must itself be JSON */
    if (!j)
        __builtin_trap();
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    rr_schema_options o = RR_SCHEMA_OPTIONS_INIT;
    o.flags = data[0] & 1 ? RR_SCHEMA_FORMAT_ASSERT : 0;
    o.default_draft = data[0] & 2 ? RR_SCHEMA_DRAFT_07 : 0;
    o.max_depth = data[0] & 4 ? 16 : 0;
    const char *text = (const char *)data + 1;
    size = size - 1;
    const char *nul = memchr(text, 0, size);
    size_t slen = nul ? (size_t)(nul - text) : size;
    const char *inst = nul ? nul + 1 : text;
    size_t ilen = nul ? size - slen - 1 : size;
    rr_schema *s = NULL;
    rr_error err = RR_ERROR_INIT;
    if (rr_schema_new(&s, text, slen, &o, &err) != RR_OK) {
        if (!err.message[0] || err.code >= 0 || s)
            __builtin_trap();
        return 0;
    }
    rr_verdict *v = NULL;
    if (rr_verdict_new(&v, NULL) == RR_OK) {
        for (int round = 0; round < 2; round++) { /* reuse must give the same answer */
            int rc = rr_schema_validate(s, inst, ilen, v, &err);
            if (rc == RR_OK)
                check_verdict(v);
            else if (rc != RR_EDEPTH && rc != RR_ETOOBIG && rc != RR_EUTF8 && rc != RR_ELIMIT &&
                     rc != RR_ENOMEM)
                __builtin_trap();
        }
    }
    rr_verdict_free(v);
    rr_schema_free(s);
    return 0;
}
