/* The compiled policy (rr_router) and per-request scratch, shared by policy.c (compiler),
 * route.c (the layered decision) and record.c (reason line and JSON record). */
#ifndef RR_ROUTER_H
#define RR_ROUTER_H

#include "base.h"
#include "expr.h"
#include "features.h"
#include "validate.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Failure types a route's "escalate" map may name. "denied" is the reroute taken when
 * eligibility denies the route. */
#define RR_FAILURE_TABLE(X)                                                                \
    X(DENIED, "denied")                                                                    \
    X(SCHEMA, "schema")                                                                    \
    X(SEMANTIC, "semantic")                                                                \
    X(GROUNDING, "grounding")                                                              \
    X(SAFETY, "safety")                                                                    \
    X(EMPTY, "empty")                                                                      \
    X(REFUSAL, "refusal")                                                                  \
    X(TRUNCATED, "truncated")                                                              \
    X(LOW_CONFIDENCE, "low_confidence")                                                    \
    X(MODEL_ERROR, "model_error")                                                          \
    X(TOOL_ERROR, "tool_error")                                                            \
    X(TIMEOUT, "timeout")

typedef enum {
#define RR__F(name, text) RR_F_##name,
    RR_FAILURE_TABLE(RR__F)
#undef RR__F
        RR_F__COUNT
} rr_failure;

const char *rr_failure_name(int f);
int rr_failure_lookup(const char *s); /* -1 if unknown */

typedef struct rr_model_def {
    char *id;
    int tier;
    double usd_in, usd_out; /* per million tokens */
    double latency_ms;      /* expected latency of one call */
} rr_model_def;

typedef struct rr_pattern_set {
    char *name;
    size_t n;
    pcre2_code **codes;
    int32_t *prefix; /* per pattern: hash of the 3 letters every match starts a word with, or -1 */
    char **pointers; /* JSON pointer of each pattern, for error messages */
    int slot;        /* match.<name> */
} rr_pattern_set;

typedef struct rr_attr_def {
    char *name;
    rr_type type;
    rr_value def; /* default when absent (strings point into `def_str`) */
    char *def_str;
    int slot;
} rr_attr_def;

typedef struct rr_threshold_def {
    char *name;
    double value;
    int slot;
} rr_threshold_def;

typedef struct rr_elig_rule {
    char *id;
    char *pointer;
    rr_expr *when;
    int *deny_models, *deny_routes, *deny_tools;
    size_t n_models, n_routes, n_tools;
    char *reason;
} rr_elig_rule;

typedef struct rr_task_rule {
    char *id;
    char *pointer;
    rr_expr *when;
    int task; /* index into router->tasks */
} rr_task_rule;

typedef struct rr_rule {
    char *id;
    char *pointer;
    rr_expr *when;
    int route;
} rr_rule;

typedef struct rr_escalation {
    int failure; /* rr_failure */
    int target;  /* route index */
} rr_escalation;

typedef struct rr_route_def {
    char *id;
    char *version;
    int kind; /* rr_route_kind */
    int model; /* -1 for terminal kinds */
    char *prompt;
    char *output_mode; /* "text", "json", "constrained" */
    int *tools;
    size_t ntools;
    int64_t context_tokens;
    int64_t max_output_tokens;
    int *validators;
    size_t nvalidators;
    rr_escalation *esc;
    size_t nesc;
    int retries;
    double min_confidence; /* below it a model answer fails with low_confidence (-1 = off) */
    char *message;
    /* compiler-computed */
    double worst_cost_usd, worst_latency_ms;
    int worst_attempts;
    int worst_next; /* next route on the worst-case ladder, -1 at the end */
} rr_route_def;

/* A trained classifier named in the policy's "classifiers" section. */
#define RR_MAX_CLASSIFIERS 8
#define RR_CLF_TOP 3
enum { RR_CLFK_TASK = 0, RR_CLFK_BINARY, RR_CLFK_MULTI };
typedef struct rr_classifier_def {
    char *name;
    char *pointer;
    struct rr_classifier *model;
    int kind;       /* RR_CLFK_* */
    int slot_p;     /* task.p / <name>.p / p_<name> */
    int slot_label; /* <name>.label for RR_CLFK_MULTI, else -1 */
    int *label_slots; /* p.<label> for the task classifier (one per label), else NULL */
    int *label_task;  /* task classifier: label -> index into router->tasks (-1 = unknown) */
    size_t nlabels;
} rr_classifier_def;

typedef struct rr_validator_def {
    char *name;
    char *type;
    char *version;
    char *pointer;
    void *impl; /* compiled validator state, owned by the validator module */
} rr_validator_def;

/* Fixed feature slots, always present in every router (see policy.c's table). */
enum {
    RR_SLOT_TEXT_BYTES = 0,
    RR_SLOT_TEXT_CHARS,
    RR_SLOT_TEXT_WORDS,
    RR_SLOT_TEXT_TOKENS,
    RR_SLOT_TEXT_NUMBERS,
    RR_SLOT_TEXT_QUESTIONS,
    RR_SLOT_TEXT_ENTITIES,
    RR_SLOT_TEXT_LINES,
    RR_SLOT_PII_ANY,
    RR_SLOT_PII_COUNT,
    RR_SLOT_PII_FIRST, /* one bool per rr_pii_type */
    RR_SLOT_RETR_K = RR_SLOT_PII_FIRST + RR_PII__COUNT,
    RR_SLOT_RETR_TOP1,
    RR_SLOT_RETR_MARGIN,
    RR_SLOT_RETR_MEAN,
    RR_SLOT_RETR_COVERAGE,
    RR_SLOT_EVIDENCE_ANY,
    RR_SLOT_CONVERSATION,
    RR_SLOT_TASK,
    RR_SLOT__FIXED
};

struct rr_router {
    rr_alloc a;
    char *name, *version, *description;
    char fingerprint[17];
    uint64_t max_text_bytes;
    uint64_t max_output_bytes;
    uint32_t regex_match_limit, regex_depth_limit;
    bool sticky_tier; /* options.sticky_tier: never drop below a conversation's last tier */
    pcre2_general_context *gctx;
    pcre2_match_context *mctx;

    rr_model_def *models;
    size_t nmodels;
    char **tools; /* every tool any route names */
    size_t ntools;
    char **tasks; /* task families; tasks[0] == "unknown" */
    size_t ntasks;
    rr_threshold_def *thresholds;
    size_t nthresholds;
    rr_pattern_set *patterns;
    size_t npatterns;
    rr_attr_def *attrs;
    size_t nattrs;
    rr_elig_rule *elig;
    size_t nelig;
    rr_task_rule *task_rules;
    size_t ntask_rules;
    rr_rule *rules;
    size_t nrules;
    rr_route_def *routes;
    size_t nroutes;
    rr_validator_def *validators;
    size_t nvalidators;
    rr_classifier_def *classifiers;
    size_t nclassifiers;
    int task_classifier;   /* index of the classifier named "task", or -1 */
    size_t clf_scratch;    /* bytes of classifier scratch a request needs */
    size_t clf_maxlabels;  /* probabilities buffer a request needs */
    char *base_dir;        /* relative file names in the policy resolve against it */

    struct {
        int64_t max_attempts;
        double max_cost_usd;
        double max_latency_ms;
    } limits;
    int terminal_denied;   /* route used when eligibility leaves nothing (-1 = built-in) */
    int terminal_no_match; /* route used when no rule matches */
    int terminal_exhausted; /* a failure with no escalation target */
    int terminal_limits;    /* a limit (attempts, cost, latency) would be exceeded */

    size_t nslots;
    char **slot_names; /* for records */
    rr_type *slot_types;
    int *slot_threshold; /* slot -> threshold index or -1 */

    char *report_json; /* rrctl lint report */
    size_t report_len;
};

/* A request attribute set by the host. */
typedef struct rr_req_attr {
    uint32_t key_off, key_len; /* in req->pool */
    uint8_t type;
    uint32_t str_off, str_len;
    double num;
} rr_req_attr;

typedef struct rr_req_evidence {
    uint32_t id_off, id_len;
    uint32_t text_off, text_len;
    double score;
} rr_req_evidence;

#define RR_MAX_SPANS 256

struct rr_request {
    rr_alloc a;
    rr_buf pool; /* text, attribute keys and values, evidence */
    bool has_text;
    uint32_t text_off, text_len;
    bool has_conv;
    uint32_t conv_off, conv_len;
    rr_req_attr *attrs;
    size_t nattrs, capattrs;
    uint64_t word_starts[64]; /* bitmap of the 3-letter prefixes of the text's words */
    rr_req_evidence *ev;
    size_t nev, capev;

    /* scratch, sized on first use with a router */
    rr_value *slots;
    size_t capslots;
    uint8_t *denied; /* models | routes | tools flags */
    size_t capdenied;
    pcre2_general_context *gctx; /* the request's allocator, for its match data */
    pcre2_match_data *md;
    rr_termset ev_set, req_set;
    const char **ev_ptrs;
    size_t *ev_lens;
    size_t capevptrs, caplens;
    rr_text_features tf;
    rr_pii_span spans[RR_MAX_SPANS];
    size_t nspans;
    rr_buf out; /* features JSON */
    rr_validate_scratch vscratch;
    double *clf_buf; /* classifier scratch followed by probabilities */
    size_t clf_cap;  /* doubles */
    struct {
        int32_t label, top[RR_CLF_TOP];
        double p, ptop[RR_CLF_TOP];
    } clf[RR_MAX_CLASSIFIERS];
    int last_tier; /* tier the conversation last used, 0 = unknown */
};

/* A decision: indexes into the router plus copies of what the record needs, so it stays
 * valid after the request is reset (but not after the router is freed). */
struct rr_decision {
    rr_alloc a;
    const rr_router *router;
    int route;      /* final route */
    int rule;       /* routing rule that fired, -1 when none matched */
    int first_route; /* route the rule chose before any reroute (-1 when none) */
    int task;       /* index into router->tasks */
    int task_rule;  /* -1 when no task rule matched */
    int reroute;    /* RR_REROUTE_* */
    int denied_kind; /* what denied first_route: 0 route, 1 model, 2 tool */
    int denied_index;
    int *elig_fired; /* eligibility rules that matched */
    size_t nelig_fired, capelig;
    uint8_t *denied; /* copy of the deny flags: models | routes | tools */
    size_t capdenied;
    rr_value *slots; /* copy of the slot values (strings re-pointed into pool) */
    size_t capslots;
    rr_buf pool;
    rr_text_features tf;
    bool has_conv;
    uint32_t conv_off, conv_len; /* conversation id, in pool */
    uint64_t ns;
    struct {
        int32_t label, top[RR_CLF_TOP];
        double p, ptop[RR_CLF_TOP];
    } clf[RR_MAX_CLASSIFIERS];
    bool task_by_classifier;
    /* escalation ladder state (escalate.c) */
    uint32_t attempt;     /* 1-based attempt number on the ladder */
    uint32_t retry;       /* retries already spent on this route */
    int esc_failure;      /* failure that led here (rr_failure), -1 for a fresh decision */
    int esc_from;         /* route escalated from, -1 for a fresh decision */
    int esc_how;          /* RR_ESC_* */
    int esc_skipped;      /* denied target skipped on the way (-1 none) */
    int sticky_from;      /* route replaced to keep the conversation's tier (-1 none) */
    int sticky_tier;      /* the conversation's last tier when sticky applied */
    int64_t usage_in, usage_out; /* this attempt's usage as reported */
    double usage_latency_ms;
    double prior_cost_usd, prior_latency_ms; /* totals of the attempts before this one */
    double cost_usd, latency_ms;             /* this attempt's cost and latency */
    rr_buf reason;
    rr_buf json;
    bool reason_valid, json_valid;
};

enum { RR_ESC_NONE = 0, RR_ESC_RETRY, RR_ESC_TARGET, RR_ESC_LADDER, RR_ESC_EXHAUSTED,
       RR_ESC_LIMITS, RR_ESC_DENIED };

/* escalate.c / route.c: copy the request-derived state of a decision into another. */
int rr_decision_copy_base(const struct rr_decision *src, struct rr_decision *dst);
int rr_decision_alloc(const rr_alloc *a, struct rr_decision **out);
/* route.c: RR_ENOMEM after a decision was allocated (`given` NULL: freed) or reused (emptied). */
int rr_decision_failed(struct rr_decision *given, struct rr_decision *d, rr_error *err);
/* A policy has at most this many routes (the compiler says so), so ladder walks need no
 * allocation. */
#define RR_MAX_ROUTES 1024
/* route.c: breadth-first over the escalation ladder from start[0..nstart), each route once:
 * the first route eligibility allows (and, when min_tier > 0, a model route of at least that
 * tier), or -1. */
int rr_ladder_find(const struct rr_router *r, const uint8_t *den, const int *start,
                   size_t nstart, int min_tier);
/* route.c: which of (route 0, model 1, tool 2) the deny flags forbid for route i, or -1. */
int rr_route_denied(const struct rr_router *r, const uint8_t *den, int i, int *index);

enum { RR_REROUTE_NONE = 0, RR_REROUTE_DENIED_TARGET, RR_REROUTE_LADDER, RR_REROUTE_TERMINAL,
       RR_REROUTE_NO_MATCH, RR_REROUTE_FORCED };

/* Token totals: counts come from the host and may be absurd; saturate, never wrap. b >= 0. */
static inline int64_t rr_tokens_add(int64_t a, int64_t b) {
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* Request helpers for route.c */
static inline const char *rr_req_str(const struct rr_request *r, uint32_t off) {
    return r->pool.p + off;
}

/* Bit index (0..4095) of a lower-cased 3-byte word prefix, shared by the compiler (pattern
 * prefixes) and the router (the text's word starts). */
static inline int rr_prefix_bit(unsigned a, unsigned b, unsigned c) {
    uint32_t key = (a << 16) | (b << 8) | c;
    return (int)((key * 2654435761u) >> 20);
}

/* record.c: append "policy":{"name","version","fingerprint"} (every record starts so). */
void rr_policy_json(rr_buf *b, const struct rr_router *r);

/* policy.c */
int rr_policy_compile(struct rr_router *r, const char *text, size_t len, rr_error *err);

/* route.c: extract features into req->slots (sizes scratch). */
int rr_extract(const struct rr_router *r, struct rr_request *req, rr_error *err);

/* Locate the value at JSON `pointer` in raw JSON text; 1-based line/column or 0/0. */
void rr_json_locate(const char *text, size_t len, const char *pointer, uint32_t *line,
                    uint32_t *column);

#endif
