/* Verdicts: what validators found in a model's output. Internal writer API; the public
 * getters are in routeright.h. A verdict is reusable: rr_verdict_clear keeps every buffer,
 * so validation allocates nothing after warm-up. */
#ifndef RR_VERDICT_H
#define RR_VERDICT_H

#include "base.h"

/* Failure types that drive escalation (the first failure recorded wins). */
#define RR_FAIL_SCHEMA "schema"
#define RR_FAIL_SEMANTIC "semantic"
#define RR_FAIL_GROUNDING "grounding"
#define RR_FAIL_SAFETY "safety"
#define RR_FAIL_EMPTY "empty"
#define RR_FAIL_REFUSAL "refusal"
#define RR_FAIL_TRUNCATED "truncated"

typedef struct rr_finding {
    const char *code;      /* static string, e.g. "required", "citation_unknown_id" */
    const char *validator; /* borrowed: static or owned by the router/schema */
    const char *keyword;   /* borrowed/static: schema keyword or rule id ("" if none) */
    uint32_t inst_off, inst_len; /* instance location (JSON pointer) in v->pool */
    uint32_t kw_off, kw_len;     /* keyword location (schema pointer) in v->pool */
    uint32_t msg_off, msg_len;   /* message in v->pool */
    int64_t span_start, span_end; /* byte span in the output text; -1 when none */
} rr_finding;

#define RR_VERDICT_MAX_SCORES 16
#define RR_VERDICT_MAX_VALIDATORS 16

struct rr_verdict {
    rr_alloc a;
    int passed;          /* 1 until a failure is recorded */
    const char *failure; /* one of RR_FAIL_* or "" */
    rr_finding *findings;
    size_t nfindings, capfindings;
    size_t max_findings; /* findings past this are counted, not stored (default 100) */
    size_t dropped_findings;
    rr_buf pool; /* strings of findings */
    struct {
        const char *name; /* static */
        double value;
    } scores[RR_VERDICT_MAX_SCORES];
    size_t nscores;
    struct {
        const char *name;    /* borrowed */
        const char *version; /* borrowed */
        const char *type;    /* static */
        int passed;
        uint64_t ns;
    } ran[RR_VERDICT_MAX_VALIDATORS];
    size_t nran;
    uint64_t ns;
    rr_buf json;
    bool json_valid;
    /* Per-call scratch for validators, kept across clears so revalidation does not
     * allocate: a stack of 64-bit words (schema annotation bitsets), a string buffer for
     * rendering locations, and PCRE2 match data created on first use. */
    uint64_t *words;
    size_t words_cap, words_top;
    rr_buf tmp;
    void *match_data; /* pcre2_match_data_8 * */
};

/* Grow the word stack so `n` more words fit above words_top. false on ENOMEM. */
bool rr_verdict_words_reserve(struct rr_verdict *v, size_t n);
/* The PCRE2 match data of this verdict, created on first use (NULL on ENOMEM). */
void *rr_verdict_match_data(struct rr_verdict *v);
/* Record that validator `name` (borrowed; `version` borrowed, `type` static) ran. */
void rr_verdict_ran(struct rr_verdict *v, const char *name, const char *version,
                    const char *type, int passed, uint64_t ns);

void rr_verdict_init(struct rr_verdict *v, const rr_alloc *a);
void rr_verdict_release(struct rr_verdict *v); /* frees buffers, not v */
void rr_verdict_clear(struct rr_verdict *v);
/* Record a failure type (first one wins) and set passed = 0. */
void rr_verdict_fail(struct rr_verdict *v, const char *failure);
/* Append a finding. instance_loc / keyword_loc may be NULL (stored as ""). span_* = -1 for
 * none. Returns RR_OK or RR_ENOMEM. Does not by itself fail the verdict. */
int rr_verdict_add(struct rr_verdict *v, const char *validator, const char *code,
                   const char *keyword, const char *instance_loc, size_t inst_len,
                   const char *keyword_loc, size_t kw_len, int64_t span_start,
                   int64_t span_end, const char *fmt, ...) __attribute__((format(printf, 11, 12)));
/* rr_verdict_add with a ready message (msg_len bytes, need not be NUL-terminated). */
int rr_verdict_add_raw(struct rr_verdict *v, const char *validator, const char *code,
                       const char *keyword, const char *instance_loc, size_t inst_len,
                       const char *keyword_loc, size_t kw_len, int64_t span_start,
                       int64_t span_end, char *msg, size_t msg_len);
void rr_verdict_set_score(struct rr_verdict *v, const char *name, double value);

#endif
