/* Safety and shape validators: cheap checks on the output text itself, before or beside
 * schema and grounding.
 *
 * "shape" config (keys default to true): {"empty": bool, "truncated": bool,
 *   "refusal": bool, "refusal_patterns": [...]}
 *  - empty: the output is empty or only whitespace (ASCII, NUL, and the Unicode spaces
 *    U+0085 U+00A0 U+1680 U+2000..U+200D U+2028 U+2029 U+202F U+205F U+2060 U+3000
 *    U+FEFF) -> failure "empty", code `empty_output`. Nothing else is checked then.
 *  - truncated: when the route's output is JSON (rr_safety_input.output_is_json) and the
 *    text is a valid JSON prefix that stops before its top value closes
 *    (rr_json_is_truncated_prefix) -> failure "truncated", code `truncated_json`.
 * "safety" config: {"deny": [...], "pii_leak": bool (default true), "refusal": bool
 *   (default false), "refusal_patterns": [...]}
 *  - deny: PCRE2 patterns (UTF, case-insensitive unless the pattern says (?-i)); each entry
 *    is a string or {"id": "...", "pattern": "..."}. The first match of each pattern ->
 *    failure "safety", code `deny_pattern`, keyword = the id (or the 0-based index as
 *    text), byte span of the match.
 *  - pii_leak: PII types (features.h: email, phone, card, iban, ssn, ipv4, ipv6) present in
 *    the output but in neither the request text nor any evidence text -> failure "safety",
 *    code `pii_leak`, keyword = the type name, one finding per detection with its byte
 *    span. Comparison is by type, as the policy asks: an email in the request lets any
 *    email through. Messages never quote the value.
 * Both types:
 *  - refusal: the first match among the refusal patterns -> failure "refusal", code
 *    `refusal`, keyword = the pattern id, byte span. refusal_patterns (same entry forms as
 *    deny) replace the defaults, which are a small English set, case-insensitive, straight
 *    or curly apostrophes, searched over the whole output:
 *      cannot_help  "I can't / cannot / can not / am unable to / won't / will not
 *                    (help|assist) [you] with"
 *      sorry_but    "I'm / I am (sorry|afraid)[,] [but] I (can't|cannot|am unable|won't|
 *                    will not)"
 *      as_an_ai     "as an AI [language model|assistant|model], I"
 *  - invalid UTF-8 -> failure "safety", code `invalid_utf8`, span of the first bad byte;
 *    the other checks then look at the text before it. A multi-byte character cut at the
 *    very end is not reported (that is truncation, which the JSON check sees); the checks
 *    look at the text before it.
 * Every config also accepts "type" (must name the validator's type), "version" and
 * "description", so the policy's whole validator entry may be passed; other keys are
 * errors. Deny and refusal patterns only see the raw text: a JSON output that escapes
 * characters ("\u0041") is matched as written.
 * Checks run in this order, each adding its findings: empty, invalid_utf8, truncated,
 * refusal, deny, pii_leak; the verdict's failure type is the first one recorded.
 *
 * Threads: an rr_safety is immutable once built; any number of threads may check with it
 * at once, each with its own rr_safety_scratch. Checking is deterministic and allocates
 * nothing once the scratch has matched once (PCRE2 keeps its frames in the match data).
 */
#ifndef RR_VALIDATE_SAFETY_H
#define RR_VALIDATE_SAFETY_H

#include "base.h"
#include "features.h"
#include "verdict.h"

#include <jansson.h>

/* Output PII detections examined per check; counts beyond still decide the failure. */
#define RR_SAFETY_MAX_SPANS 256

typedef struct rr_safety rr_safety;
typedef struct rr_safety_scratch rr_safety_scratch;

/*
 * Compile `config` (borrowed for the call) as a validator of `type` "safety" or "shape".
 * `pointer` is the config's JSON pointer in the policy (error messages, keyword locations
 * of deny/refusal findings); `name` is the validator name findings carry. Both are copied.
 * match_limit / depth_limit are PCRE2's limits for every pattern (0 = 100000 / 10000).
 * Errors (err->pointer names the offending value): RR_EPOLICY (unknown key, wrong type,
 * empty or duplicate id), RR_EREGEX (a pattern does not compile; err->expr_column is the
 * 1-based byte offset in the pattern), RR_ENOMEM, RR_EINVAL (NULL out / config / a / name,
 * type not "safety" or "shape").
 */
int rr_safety_new(rr_safety **out, const json_t *config, const char *type, const char *pointer,
                  const char *name, const rr_alloc *a, uint32_t match_limit, uint32_t depth_limit,
                  rr_error *err);
/* NULL is a no-op. */
void rr_safety_free(rr_safety *s);

/* Per-thread scratch (PCRE2 match data, PII spans), usable with any rr_safety. */
int rr_safety_scratch_new(rr_safety_scratch **out, const rr_alloc *a);
void rr_safety_scratch_free(rr_safety_scratch *s);

typedef struct rr_safety_input {
    const char *output; /* the model's text, `output_len` bytes (may be NULL when 0) */
    size_t output_len;
    int output_is_json;       /* the route's output mode is "json" or "constrained" */
    const char *request_text; /* may be NULL */
    size_t request_len;
    const char *const *evidence; /* nevidence texts (NULL entries are skipped) */
    const size_t *evidence_len;  /* NULL: the texts are NUL-terminated */
    size_t nevidence;
    /* Optional: features already extracted from request_text (the decision has them);
     * when non-NULL its pii counts are used and request_text is not scanned again. */
    const rr_text_features *request_features;
} rr_safety_input;

/*
 * Check `in` and add findings to `v` (not cleared). Returns RR_OK when the checks ran
 * (the verdict says pass or fail); RR_EINVAL (NULL s / scratch / in / v, or NULL text with
 * a non-zero length); RR_ELIMIT (a pattern hit the match or depth limit: err->pointer
 * names the pattern; findings of earlier checks stay); RR_ENOMEM (match data or a finding
 * could not be allocated).
 */
int rr_safety_check(const rr_safety *s, rr_safety_scratch *scratch, const rr_safety_input *in,
                    struct rr_verdict *v, rr_error *err);

/* The validator's name and type ("safety" or "shape"), borrowed. */
const char *rr_safety_name(const rr_safety *s);
const char *rr_safety_type(const rr_safety *s);

/*
 * Whether `s` (`len` bytes) is a valid beginning of a JSON text (RFC 8259, as jansson
 * reads it: UTF-8, paired surrogate escapes, nesting up to 2048) that ends before its top
 * value is complete: `{"a": [1, 2`, `"abc`, `tru`, `-`, `{"k": "caf\xC3` (a cut
 * character). False for complete JSON (`{}`, `12`, `"x"  `), for text that is not JSON so
 * far (`{"a" 1`, `hello`, `{}x`), and for empty or whitespace-only text. A top-level
 * number that runs to the end (`12`) counts as complete. Allocates nothing.
 */
bool rr_json_is_truncated_prefix(const char *s, size_t len);

#endif
