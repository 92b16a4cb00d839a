/* Validators declared in the policy: compile (policy.c calls in) and per-request scratch. */
#ifndef RR_VALIDATE_H
#define RR_VALIDATE_H

#include "base.h"
#include "expr.h"
#include <jansson.h>

struct rr_router;
struct rr_validator_def;
struct rr_evidence_ref;
struct rr_grounding_scratch;
struct rr_safety_scratch;

/* Scratch for rr_validate, kept in the request so validation allocates nothing after
 * warm-up. Zero-initialise, then set `a`. */
typedef struct rr_validate_scratch {
    rr_alloc a;
    struct rr_grounding_scratch *grounding;
    struct rr_safety_scratch *safety;
    rr_value *slots; /* semantic checks: router slots + output fields */
    size_t capslots;
    struct rr_evidence_ref *ev_refs;
    const char **ev_text;
    size_t *ev_len;
    size_t capev, nev;
} rr_validate_scratch;

void rr_validate_scratch_free(rr_validate_scratch *s);

/* Compile the validator `d` (name, type, version, pointer already set) from its policy
 * object. Errors name the pointer. */
int rr_validator_compile(struct rr_router *r, struct rr_validator_def *d, const json_t *obj,
                         rr_error *err);
void rr_validator_free(const rr_alloc *a, struct rr_validator_def *d);
/* The JSON Schema text of a schema validator, else NULL. */
const char *rr_validator_schema_json(const struct rr_validator_def *d);

#endif
