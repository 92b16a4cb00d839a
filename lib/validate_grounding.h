/* Grounding validator for retrieval-augmented answers.
 *
 * Splits the answer into claims (sentences), reads citations ("[1]", "[2,3]", "[doc:ID]"
 * and an optional PCRE2 pattern), and measures for every claim how much of it the cited
 * evidence contains (or, for an uncited claim, the evidence that supports it best), with
 * numbers, dates and named entities required to appear exactly.
 *
 * Claim support = F * (U + B) / 2 where, over the claim's distinct items,
 *   U = share of content terms (lower-cased words of >= 3 bytes that are not stop words,
 *       and every number) found in the evidence,
 *   B = share of bigrams of consecutive content terms found as consecutive content terms
 *       in the evidence (U when the claim has fewer than two terms),
 *   F = share of facts (numbers, entities) found exactly (1 when the claim has none).
 * No weight in it is fitted. The answer's support is the mean over claims (measured better
 * than the minimum on HaluEval QA: see bench/halueval_grounding.c); the strict "every claim"
 * reading is available through claim_support_min.
 *
 * What is a claim: a sentence (ended by . ! ? outside abbreviations, initials and decimals,
 * or by a newline) holding at least one content term or fact. Questions (sentences ending
 * in '?') assert nothing and are not claims; their citations are still checked.
 *
 * Ownership and threads: an rr_grounding is immutable once built and may be used from any
 * number of threads at once, each with its own rr_grounding_scratch. A scratch keeps every
 * buffer between calls, so checking allocates nothing once it has seen inputs as large.
 */
#ifndef RR_VALIDATE_GROUNDING_H
#define RR_VALIDATE_GROUNDING_H

#include "base.h"
#include "verdict.h"

/* One evidence passage as the request carried it. `id` may be NULL (then it can be cited
 * only by its 1-based position); `text` is `len` bytes of UTF-8, NUL bytes allowed. */
typedef struct rr_evidence_ref {
    const char *id;
    const char *text;
    size_t len;
} rr_evidence_ref;

/*
 * Thresholds and switches. The policy's thr.* values land here.
 *  - support_min: the answer fails when its support (mean over claims) is below; each claim
 *    below it gets an `unsupported_claim` finding (thr.grounding_min).
 *  - claim_support_min: when > 0, the answer also fails if any single claim is below.
 *  - coverage_min: with require_citations, the answer fails when the share of claims that
 *    cite given evidence is below (thr.citation_coverage_min).
 *  - require_citations: report `uncited_claim` and apply coverage_min.
 *  - fail_on_unknown_citation / _number / _entity: a citation to an id not in the evidence,
 *    a number or an entity found in no evidence, fails the answer (findings are reported
 *    either way).
 *  - citation_pattern: an extra PCRE2 pattern (UTF-8) marking citations; capture group 1,
 *    when the pattern has one, is the cited id, else the whole match. NULL or "" = none.
 *  - regex_match_limit / regex_depth_limit: PCRE2 limits for that pattern (0 = default).
 *  - name / version: recorded as the validator in every finding (NULL = "grounding"/"1").
 */
typedef struct rr_grounding_config {
    double support_min;
    double claim_support_min;
    double coverage_min;
    int require_citations;
    int fail_on_unknown_citation;
    int fail_on_unknown_number;
    int fail_on_unknown_entity;
    const char *citation_pattern;
    uint32_t regex_match_limit;
    uint32_t regex_depth_limit;
    const char *name;
    const char *version;
} rr_grounding_config;

/* Defaults: support_min 0.5, a lenient floor for answers that paraphrase; no per-claim
 * floor; coverage 1.0 when citations are required; unknown citations fail; unknown numbers
 * and entities are only reported. Policies should set thr.grounding_min from their own
 * calibration: on HaluEval QA, whose right answers are copied spans, the threshold chosen on
 * one half of the rows was 0.92-1.0 (balanced accuracy 0.972-0.986 on the other half),
 * while 0.5 gives 0.832 (bench/halueval_grounding.c). */
#define RR_GROUNDING_CONFIG_INIT {0.5, 0.0, 1.0, 0, 1, 0, 0, NULL, 0, 0, NULL, NULL}

typedef struct rr_grounding rr_grounding;
typedef struct rr_grounding_scratch rr_grounding_scratch;

/* Compile `cfg` (copied; NULL = defaults) into an immutable validator. `a` is copied.
 * Errors: RR_EINVAL (NULL out/a, threshold outside [0,1] or NaN), RR_EREGEX (pattern does
 * not compile; message has the offset), RR_ENOMEM. */
int rr_grounding_new(rr_grounding **out, const rr_grounding_config *cfg, const rr_alloc *a,
                     rr_error *err);
/* NULL is a no-op. */
void rr_grounding_free(rr_grounding *g);
/* The validator name findings carry (borrowed). */
const char *rr_grounding_name(const rr_grounding *g);
const char *rr_grounding_version(const rr_grounding *g);

/* A per-thread (or per-request) scratch, usable with any rr_grounding. */
int rr_grounding_scratch_new(rr_grounding_scratch **out, const rr_alloc *a);
void rr_grounding_scratch_free(rr_grounding_scratch *s);

/*
 * Check `answer` (`len` bytes of UTF-8) against `ev[0..nev)`. Adds findings and the scores
 * "grounding_support" and "citation_coverage" to `v`, and calls
 * rr_verdict_fail(v, "grounding") when a threshold is missed. Recording that the validator
 * ran (rr_verdict_ran) is left to the caller, which times the whole run. `v` may be NULL (the result
 * is then only read with rr_grounding_result_of). Codes of findings: unsupported_claim,
 * uncited_claim, citation_unknown_id, number_not_in_evidence, entity_not_in_evidence; each
 * with the byte span in the answer. Messages never quote the answer's text.
 * Returns RR_OK; RR_EINVAL (NULL g/s, NULL text with len > 0); RR_EUTF8 (answer or an
 * evidence text is not UTF-8: the message names which and the byte offset); RR_ELIMIT
 * (citation pattern hit a PCRE2 limit); RR_ENOMEM. On error `v` may hold some findings
 * but has not been failed by this call. Deterministic.
 */
int rr_grounding_check(const rr_grounding *g, rr_grounding_scratch *s, const char *answer,
                       size_t len, const rr_evidence_ref *ev, size_t nev, struct rr_verdict *v,
                       rr_error *err);

typedef struct rr_grounding_claim {
    size_t start, end;    /* byte span in the answer, end exclusive (citations included) */
    double support;       /* 0..1 */
    int64_t evidence;     /* evidence the support was measured on: best one when uncited,
                             first cited one when cited; -1 when none matched */
    uint32_t terms;       /* distinct content terms */
    uint32_t facts;       /* distinct numbers and entities */
    uint32_t facts_found; /* ... of which found in the evidence measured on */
    int cited;            /* cites at least one given evidence passage */
} rr_grounding_claim;

typedef struct rr_grounding_result {
    double support;  /* mean claim support; 1 when there are no claims */
    double coverage; /* share of claims citing given evidence; 1 when there are no claims */
    int passed;
    size_t nclaims;
    const rr_grounding_claim *claims; /* borrowed from the scratch */
    size_t cited_claims;
    size_t questions;        /* sentences skipped as questions */
    size_t citations;        /* cited ids seen (each id of "[2,3]" counts) */
    size_t unknown_citations;
    size_t unknown_numbers;  /* occurrences, one per distinct number per claim */
    size_t unknown_entities;
} rr_grounding_result;

/* The result of the last successful rr_grounding_check with `s` (borrowed; valid until the
 * next check with `s`). */
const rr_grounding_result *rr_grounding_result_of(const rr_grounding_scratch *s);

#endif
