/* Semantic checks: what a JSON Schema cannot say but automation depends on. Totals equal
 * the sum of line items, dates are in order, the customer id in the output is the caller's,
 * a category comes from the request's allowed list, a field is required when another has
 * some value. Each check is a condition-language expression (expr.h) over named fields read
 * from the output by JSON pointer, plus every identifier the router knows (request
 * attributes, thr.*, features such as pii.any, task).
 *
 * Config (the validator's object; "type", "version" and "description" are accepted and
 * ignored so the policy's whole validator entry may be passed; any other key is an error):
 *   "fields": { NAME: {"pointer": "/total", "type": "number" | "string" | "bool" | "date"}
 *             | NAME: {"sum": POINTER} ... }   e.g. POINTER = /line_items/STAR/amount
 *   "checks": [ {"id": "...", "assert": "<expression>", "message": "..."?}, ... ]  (>= 1)
 * (STAR stands for a "*" segment, which would end this comment.)
 *
 * Field semantics:
 *  - pointer: RFC 6901, "" is the whole output. The field is present when the pointer
 *    resolves to a non-null value; absent (or null) fields have has(f) false and carry the
 *    type's default (0, "", false).
 *  - date: an RFC 3339 full-date ("2024-05-01", read as midnight UTC) or date-time
 *    ("2024-05-01T10:00:00.5+02:00"; 'T', 't' or ' ' between, 'Z'/'z' or an offset) becomes
 *    seconds since the Unix epoch, a number. A string that is not such a date is a finding
 *    `invalid_date`.
 *  - sum: a pointer whose "*" segments match every element of an array or every member of
 *    an object. The field is the sum (a number) of the values found; locations that do not
 *    exist or hold null are skipped. It is present when the part before the first "*"
 *    resolves (so an empty list sums to 0 and is present).
 *  - A value of the wrong JSON type (a string where a number is expected, or a non-number
 *    under a sum) is a finding `semantic_type_mismatch` at its exact location.
 *  A field with an `invalid_date` or `semantic_type_mismatch` finding fails the verdict
 *  with "semantic"; checks that read it are skipped rather than reported a second time.
 *
 * Names: a field name is an identifier of the condition language ([A-Za-z_][A-Za-z0-9_.]*,
 * not a keyword), may not start with "thr." or "match." and may not equal any identifier
 * of the router: shadowing is an RR_EPOLICY error. Checks are compiled against the fields
 * and the router's slots; a check that is constant (reads nothing) is an RR_EEXPR error.
 *
 * Ownership and threads: an rr_semantic is immutable once built; any number of threads may
 * run rr_semantic_check at once, each with its own slots array. It copies what it needs
 * from the config and the router (the router is not referenced after rr_semantic_new).
 */
#ifndef RR_VALIDATE_SEMANTIC_H
#define RR_VALIDATE_SEMANTIC_H

#include "base.h"
#include "expr.h"
#include "verdict.h"

#include <jansson.h>

struct rr_router;

/* Bounds, enforced at compile time: fields per validator, segments per pointer. */
#define RR_SEMANTIC_MAX_FIELDS 256
#define RR_SEMANTIC_MAX_SEGMENTS 32

typedef struct rr_semantic rr_semantic;

/*
 * Compile from `config` (borrowed for the call). `router` supplies the slots checks may
 * read besides the fields (slot_names / slot_types / nslots); it may be NULL when checks
 * read fields only. Field i lives in slot router->nslots + i. `pointer` is the config's
 * JSON pointer in the policy (e.g. "/validators/ticket_semantic"), used in error messages
 * and as the keyword location of findings; `name` is the validator name findings carry.
 * Both are copied. Errors (err->pointer names the offending value, e.g.
 * "/validators/ticket_semantic/checks/2/assert" with err->expr_column for expressions):
 * RR_EPOLICY (unknown key, wrong type, bad pointer or name, shadowing, duplicate check id),
 * RR_EEXPR (the expression does not compile or is constant), RR_ENOMEM, RR_EINVAL (NULL
 * out / config / a / name).
 */
int rr_semantic_new(rr_semantic **out, const struct rr_router *router, const json_t *config,
                    const char *pointer, const char *name, const rr_alloc *a, rr_error *err);
/* NULL is a no-op. */
void rr_semantic_free(rr_semantic *s);

/* How many rr_value entries rr_semantic_check needs in `slots`: router->nslots + fields. */
size_t rr_semantic_slot_count(const rr_semantic *s);
/* The first field slot (router->nslots at compile time) and the number of fields. */
size_t rr_semantic_field_base(const rr_semantic *s);
size_t rr_semantic_field_count(const rr_semantic *s);
/* The name of field i (borrowed), NULL when out of range. */
const char *rr_semantic_field_name(const rr_semantic *s, size_t i);

/*
 * Run every check on the parsed `output` (borrowed; NULL is treated as JSON null).
 * `slots` has rr_semantic_slot_count entries: the caller fills the first
 * rr_semantic_field_base ones (the decision's snapshot of attributes, thresholds and
 * features, with their types as the router declared them); this call overwrites the field
 * slots. String field slots borrow from `output`, so they are valid only while it lives.
 * A check that evaluates false adds a finding: code "semantic_check_failed", keyword = the
 * check id, instance location = the pointer of the first field the check reads (for a sum,
 * the part before the first "*"; "" when it reads no field), keyword location = the
 * check's pointer in the policy, message = the check's "message" or its expression; and
 * fails the verdict with "semantic". Messages never quote output values.
 * Allocates nothing itself (the verdict grows its own buffers during warm-up).
 * Returns RR_OK, RR_EINVAL (NULL s / slots / v) or RR_ENOMEM (a finding could not be
 * stored; the verdict is still failed).
 */
int rr_semantic_check(const rr_semantic *s, const json_t *output, rr_value *slots,
                      struct rr_verdict *v, rr_error *err);

#endif
