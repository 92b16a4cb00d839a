/*
 * routeright — layered routing, validation and escalation for LLM services.
 *
 * This header is the whole stable C API and its documentation. It includes only
 * <stddef.h> and <stdint.h>; no dependency of the library leaks into it.
 *
 * Conventions that hold for every function below unless its comment says otherwise:
 *
 *  - Functions that can fail return an int: RR_OK (0) on success, a negative RR_E* code
 *    on failure. When they fail and `err` is not NULL, `*err` is filled with the code, a
 *    message naming what is wrong and where (JSON pointer, line and column for policies).
 *    `err` is always optional. On failure, output parameters are left unchanged.
 *  - Strings are UTF-8. "const char *" results are *borrowed*: they belong to the object
 *    they were read from and stay valid until that object is freed or reused.
 *  - `_free` functions accept NULL as a harmless no-op.
 *  - An rr_router is immutable once built and may be used from any number of threads at
 *    once. Every other object (rr_request, rr_decision) belongs to one thread at a time.
 *  - There is no global or thread-local mutable state; errors travel only through
 *    return codes and the caller-owned rr_error.
 */
#ifndef ROUTERIGHT_H
#define ROUTERIGHT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define RR_API
#elif defined(RR_BUILDING_LIBRARY) && defined(__GNUC__)
#define RR_API __attribute__((visibility("default")))
#else
#define RR_API
#endif

/* ---------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------- */

#define RR_VERSION_MAJOR 1
#define RR_VERSION_MINOR 0
#define RR_VERSION_PATCH 0
/** major*10000 + minor*100 + patch, as zstd does. */
#define RR_VERSION_NUMBER (RR_VERSION_MAJOR * 10000 + RR_VERSION_MINOR * 100 + RR_VERSION_PATCH)
#define RR_VERSION_STRING "1.0.0"

/** The version number of the library actually linked (compare with RR_VERSION_NUMBER). */
RR_API unsigned int rr_version_number(void);
/** The version string of the library actually linked, e.g. "1.0.0". Static storage. */
RR_API const char *rr_version(void);

/* ---------------------------------------------------------------------------------------
 * Errors
 *
 * One table generates the codes, rr_strerror and rr_error_name, so they cannot drift.
 * Codes are never renumbered; new codes are only ever appended.
 * ------------------------------------------------------------------------------------- */

#define RR_ERROR_TABLE(X)                                                                  \
    X(OK, 0, "success")                                                                    \
    X(EINVAL, -1, "invalid argument")                                                      \
    X(ENOMEM, -2, "out of memory")                                                         \
    X(EIO, -3, "I/O error")                                                                \
    X(EJSON, -4, "malformed JSON")                                                         \
    X(EPOLICY, -5, "invalid policy")                                                       \
    X(EEXPR, -6, "invalid expression")                                                     \
    X(EREGEX, -7, "invalid regular expression")                                            \
    X(ELIMIT, -8, "regular expression match or depth limit exceeded")                      \
    X(ETOOBIG, -9, "input larger than the configured maximum")                             \
    X(EUTF8, -10, "invalid UTF-8")                                                         \
    X(ENOTFOUND, -11, "not found")                                                         \
    X(ERANGE, -12, "index or value out of range")                                          \
    X(EVERSION, -13, "unsupported structure or file version")                              \
    X(ESCHEMA, -14, "invalid JSON Schema")                                                 \
    X(EDEPTH, -15, "nesting deeper than the configured maximum")                           \
    X(EABORT, -16, "aborted by a callback")                                                \
    X(ECALLBACK, -17, "callback misbehaved")                                               \
    X(EMODEL, -18, "invalid or corrupt classifier model")                                  \
    X(EDATA, -19, "invalid evaluation data")                                               \
    X(ESTATE, -20, "object used in the wrong state")

enum {
#define RR__ERR_ENUM(name, code, text) RR_##name = code,
    RR_ERROR_TABLE(RR__ERR_ENUM)
#undef RR__ERR_ENUM
    RR__ERR_LAST = -20
};

/** A static, human-readable description of `code` ("unknown error" if not a code). */
RR_API const char *rr_strerror(int code);
/** The symbolic name of `code` without prefix, e.g. "EPOLICY"; "UNKNOWN" if not a code. */
RR_API const char *rr_error_name(int code);

#define RR_ERROR_VERSION 1u

/**
 * A caller-owned error report. Initialise with RR_ERROR_INIT or rr_error_init().
 * Fields are filled on failure; on success they are left untouched.
 *  - line, column: 1-based position in the JSON document (policy, schema) where the
 *    offending value starts; 0 when unknown or not applicable.
 *  - expr_column: 1-based column inside an expression string; 0 when not applicable.
 *  - pointer: RFC 6901 JSON pointer of the offending value ("" when not applicable).
 *  - message: what is wrong, already prefixed with the pointer when there is one.
 * The arrays are always NUL-terminated; an over-long pointer or message is truncated.
 */
typedef struct rr_error {
    uint32_t version;
    int32_t code;
    uint32_t line;
    uint32_t column;
    uint32_t expr_column;
    uint32_t reserved_;
    char pointer[256];
    char message[512];
    uint8_t reserved[64];
} rr_error;

#define RR_ERROR_INIT {RR_ERROR_VERSION, 0, 0, 0, 0, 0, {0}, {0}, {0}}
/** Zero `err` and set its version. Returns RR_OK or RR_EINVAL for NULL / bad version. */
RR_API int rr_error_init(rr_error *err, unsigned int version);

/* ---------------------------------------------------------------------------------------
 * Allocator and router options
 * ------------------------------------------------------------------------------------- */

#define RR_ALLOCATOR_VERSION 1u

/**
 * An optional allocator. When given, every allocation the library makes on behalf of the
 * router and of objects created with it (requests, decisions, PCRE2's compiled patterns
 * and match data) goes through it. The one exception is jansson, whose allocator is
 * process-global and belongs to the host: while a policy is being parsed, jansson's
 * temporary allocations use its own functions and are released before rr_router_new
 * returns. The functions must be thread-safe if the router is used from several threads.
 * `realloc_fn` may be NULL (the library then allocates, copies and frees).
 */
typedef struct rr_allocator {
    uint32_t version;
    void *user_data;
    void *(*malloc_fn)(size_t size, void *user_data);
    void *(*realloc_fn)(void *ptr, size_t size, void *user_data);
    void (*free_fn)(void *ptr, void *user_data);
} rr_allocator;

#define RR_ROUTER_OPTIONS_VERSION 1u

/**
 * Options for building a router. Initialise with RR_ROUTER_OPTIONS_INIT or, from bindings,
 * rr_router_options_init(). A zero field means "the default".
 *  - allocator: see rr_allocator; NULL = malloc/realloc/free.
 *  - max_text_bytes: requests with longer text fail with RR_ETOOBIG (default 1 MiB).
 *  - regex_match_limit / regex_depth_limit: PCRE2 limits for pattern sets; a request
 *    that hits one fails with RR_ELIMIT (defaults 100000 / 10000).
 *  - base_dir: directory that relative file names in the policy resolve against
 *    (default: the policy file's directory, or the working directory for text).
 *  - max_output_bytes: rr_validate rejects longer model outputs with RR_ETOOBIG
 *    (default 16 MiB).
 */
typedef struct rr_router_options {
    uint32_t version;
    uint32_t flags;
    const rr_allocator *allocator;
    uint64_t max_text_bytes;
    uint32_t regex_match_limit;
    uint32_t regex_depth_limit;
    const char *base_dir;
    uint64_t max_output_bytes;
} rr_router_options;

#define RR_ROUTER_OPTIONS_INIT {RR_ROUTER_OPTIONS_VERSION, 0, NULL, 0, 0, 0, NULL, 0}
/** Fill `opts` with defaults for structure version `version`. RR_EINVAL if unknown. */
RR_API int rr_router_options_init(rr_router_options *opts, unsigned int version);

/* ---------------------------------------------------------------------------------------
 * Router: a compiled, immutable policy
 * ------------------------------------------------------------------------------------- */

typedef struct rr_router rr_router;

/**
 * Compile the policy JSON document `policy` (`len` bytes; it need not be NUL-terminated)
 * into a router. On success `*out` owns a new router; free it with rr_router_free.
 * Errors: RR_EJSON (malformed JSON; line/column set), RR_EPOLICY (unknown key, wrong
 * type, dangling reference, escalation cycle, unreachable rule; pointer set), RR_EEXPR
 * (expression syntax, unknown identifier, type error; pointer and expr_column set),
 * RR_EREGEX (pattern does not compile), RR_ENOMEM, RR_EINVAL (NULL out/policy).
 * `opts` may be NULL. Thread-safe: builds share nothing.
 */
RR_API int rr_router_new(rr_router **out, const char *policy, size_t len,
                         const rr_router_options *opts, rr_error *err);
/** Like rr_router_new, reading the policy from `path` (RR_EIO if it cannot be read). */
RR_API int rr_router_new_from_file(rr_router **out, const char *path,
                                   const rr_router_options *opts, rr_error *err);
/** Like rr_router_new on the built-in default policy (the support copilot). */
RR_API int rr_router_new_default(rr_router **out, const rr_router_options *opts,
                                 rr_error *err);
/** The built-in default policy's JSON text (static, NUL-terminated). */
RR_API const char *rr_default_policy(void);
/** Free a router. NULL is a no-op. No request may be routing through it at the time. */
RR_API void rr_router_free(rr_router *router);

/** The policy's "policy" name, "version", and fingerprint (16 hex digits of xxh3-64
 * over the policy's canonical form: sorted keys, no whitespace). Borrowed. */
RR_API const char *rr_router_policy_name(const rr_router *router);
RR_API const char *rr_router_policy_version(const rr_router *router);
RR_API const char *rr_router_fingerprint(const rr_router *router);
/**
 * The compiler's report as a JSON document (borrowed, NUL-terminated; `len` may be NULL):
 * {"warnings":[{"pointer","message"}], "ladders":[{"route", "ladder":[...],
 * "worst_case_cost_usd", "worst_case_latency_ms", "max_attempts"}]}. What `rrctl lint`
 * prints.
 */
RR_API const char *rr_router_report_json(const rr_router *router, size_t *len);

/* ---------------------------------------------------------------------------------------
 * Request: what is being routed. Reusable; owns the per-call scratch.
 * ------------------------------------------------------------------------------------- */

typedef struct rr_request rr_request;

/** Create an empty request. `allocator` may be NULL (malloc). */
RR_API int rr_request_new(rr_request **out, const rr_allocator *allocator);
/** Free a request. NULL is a no-op. */
RR_API void rr_request_free(rr_request *request);
/**
 * Forget text, attributes, evidence and conversation, keeping every buffer, so a request
 * can be reused without allocating. NULL is a no-op.
 */
RR_API void rr_request_reset(rr_request *request);
/**
 * Set the request text (copied). `len` bytes; NUL bytes inside are allowed and count as
 * whitespace for feature extraction. The text must be valid UTF-8: otherwise RR_EUTF8 with
 * the byte offset of the first bad sequence in the message, and the text is left unset.
 */
RR_API int rr_request_set_text(rr_request *request, const char *text, size_t len);
/** Set a string attribute `key` (e.g. "tenant.tier") to `value`; both NUL-terminated and
 * copied. Setting a key again replaces its value and type. */
RR_API int rr_request_set_attr(rr_request *request, const char *key, const char *value);
/** Set a numeric attribute. RR_EINVAL for NaN. */
RR_API int rr_request_set_num(rr_request *request, const char *key, double value);
/** Set a boolean attribute (0 = false, anything else = true). */
RR_API int rr_request_set_bool(rr_request *request, const char *key, int value);
/**
 * Add one retrieved evidence passage: `id` (NUL-terminated), `text` (`len` bytes, UTF-8)
 * and the retriever's score (higher is better; any finite value). Copied.
 */
RR_API int rr_request_add_evidence(rr_request *request, const char *id, const char *text,
                                   size_t len, double score);
/**
 * The model tier the conversation last used (0 = unknown, the default; reset clears it).
 * With the policy option "sticky_tier", a conversation never drops to a cheaper tier: the
 * router walks up the chosen route's ladder to the first allowed route at that tier or
 * above, and the reason line says "sticky_tier(last=T)". Read the tier a decision used
 * with rr_decision_tier and pass it back on the conversation's next request.
 */
RR_API int rr_request_set_last_tier(rr_request *request, int tier);
/** Set the conversation id (copied; NULL clears it). Decisions record it. */
RR_API int rr_request_set_conversation(rr_request *request, const char *conversation_id);
/**
 * Fill a request from one JSON object: {"text": "...", "attrs": {"k": "v"|num|bool},
 * "evidence": [{"id", "text", "score"}], "conversation_id": "..."}. Unknown keys are an
 * error (RR_EJSON with the pointer). The request is reset first. Uses jansson to parse.
 */
RR_API int rr_request_from_json(rr_request *request, const char *json, size_t len,
                                rr_error *err);

/* ---------------------------------------------------------------------------------------
 * Routing
 * ------------------------------------------------------------------------------------- */

typedef struct rr_decision rr_decision;

/** What a decided route does. */
typedef enum rr_route_kind {
    RR_ROUTE_MODEL = 0,   /* call a model */
    RR_ROUTE_HUMAN = 1,   /* hand to human review */
    RR_ROUTE_CLARIFY = 2, /* ask the user a clarifying question */
    RR_ROUTE_DEFER = 3,   /* answer later / out of band */
    RR_ROUTE_REFUSE = 4   /* refuse safely */
} rr_route_kind;

/**
 * Route `request` through `router`: eligibility, task, routing rules. On success `*decision`
 * holds the result. If `*decision` is NULL a new decision is allocated (free it with
 * rr_decision_free); if it is non-NULL it is reused, so a loop that keeps one decision and
 * one request allocates nothing after its first call. Errors: RR_EINVAL (NULL argument, or
 * no text set), RR_ETOOBIG (text over the router's max_text_bytes), RR_ELIMIT (a pattern
 * hit the PCRE2 match or depth limit; the message names the pattern), RR_ENOMEM.
 * Thread-safety: any number of threads may route through one router at once, each with
 * its own request and decision.
 */
RR_API int rr_route(const rr_router *router, rr_request *request, rr_decision **decision,
                    rr_error *err);
/**
 * Like rr_route, then replace the chosen route by `route_id` (features, eligibility and
 * task are computed as usual, and the reason line records what the policy would have
 * chosen). For validating or replaying a recorded output of a known route. RR_ENOTFOUND
 * when the policy has no such route.
 */
RR_API int rr_route_to(const rr_router *router, rr_request *request, const char *route_id,
                       rr_decision **decision, rr_error *err);
/** Free a decision. NULL is a no-op. */
RR_API void rr_decision_free(rr_decision *decision);

/* Decision getters. All strings are borrowed from the decision ("" when absent). */
RR_API const char *rr_decision_route(const rr_decision *d);
RR_API const char *rr_decision_route_version(const rr_decision *d);
RR_API rr_route_kind rr_decision_kind(const rr_decision *d);
RR_API const char *rr_decision_model(const rr_decision *d);
RR_API const char *rr_decision_prompt(const rr_decision *d);
/** The route's output mode: "text", "json" or "constrained". */
RR_API const char *rr_decision_output_mode(const rr_decision *d);
RR_API size_t rr_decision_tool_count(const rr_decision *d);
/** Tool `i` (0-based); NULL when out of range. */
RR_API const char *rr_decision_tool(const rr_decision *d, size_t i);
RR_API int64_t rr_decision_context_tokens(const rr_decision *d);
RR_API size_t rr_decision_validator_count(const rr_decision *d);
RR_API const char *rr_decision_validator(const rr_decision *d, size_t i);
RR_API size_t rr_decision_escalation_count(const rr_decision *d);
/** Escalation entry `i`: the failure type (e.g. "schema") and its target route id.
 * Returns RR_ERANGE when `i` is out of range. Either out pointer may be NULL. */
RR_API int rr_decision_escalation(const rr_decision *d, size_t i, const char **failure,
                                  const char **target);
/** The tier of the decided route's model (0 for terminal routes). */
RR_API int rr_decision_tier(const rr_decision *d);
/** The task family chosen by the task stage ("unknown" when no task rule matched). */
RR_API const char *rr_decision_task(const rr_decision *d);
/** The id of the routing rule that fired. */
RR_API const char *rr_decision_rule(const rr_decision *d);
/** For terminal routes (human, clarify, defer, refuse): the user-visible message. */
RR_API const char *rr_decision_message(const rr_decision *d);
/** The reason-code line, e.g. "task=faq(rule=faq_kw) elig=ok => small_rag_v2(rule=faq_easy)". */
RR_API const char *rr_decision_reason(const rr_decision *d);
/** Nanoseconds spent inside rr_route for this decision. */
RR_API uint64_t rr_decision_route_ns(const rr_decision *d);
/**
 * The whole decision as one JSON object (borrowed, NUL-terminated; `len` may be NULL),
 * built on first call and cached until the decision is reused. Holds the policy name,
 * version and fingerprint; route id, version, kind; "gen_ai.request.model"; prompt,
 * tools, budget, validators, escalation map; each stage with result and reason; the
 * features as numbers and flags only (never raw text or PII values); the thresholds the
 * evaluated rules referenced; the reason line; and "route_ns". NULL only on RR_ENOMEM.
 */
RR_API const char *rr_decision_json(rr_decision *d, size_t *len);

/* ---------------------------------------------------------------------------------------
 * Features (for inspection and for evaluating the detectors)
 * ------------------------------------------------------------------------------------- */

/** Include each PII detection's type and byte span in rr_request_features_json. */
#define RR_FEATURES_SPANS 1u

/**
 * Extract the features of `request` as `router` sees them and return them as a JSON
 * object (borrowed from the request, valid until the request is next used or reset).
 * With RR_FEATURES_SPANS, adds "pii_spans": [{"type","start","end"}] (byte offsets, end
 * exclusive). Values of PII are never output. Errors as rr_route; NULL on error.
 */
RR_API const char *rr_request_features_json(const rr_router *router, rr_request *request,
                                            uint32_t flags, size_t *len, rr_error *err);

/* ---------------------------------------------------------------------------------------
 * --- Verdicts and findings ---
 *
 * A verdict holds what the validators found in one model output: passed or not, the
 * failure type that drives escalation, the findings, named scores and which validators
 * ran. It is reusable: validating into it again keeps every buffer, so a loop that keeps
 * one verdict allocates nothing after warm-up. A verdict belongs to one thread at a time.
 * ------------------------------------------------------------------------------------- */

typedef struct rr_verdict rr_verdict;

/** Create an empty (passed) verdict. `allocator` may be NULL (malloc). Errors: RR_EINVAL
 * (NULL out), RR_ENOMEM. Free it with rr_verdict_free. */
RR_API int rr_verdict_new(rr_verdict **out, const rr_allocator *allocator);
/** Free a verdict and everything it owns. NULL is a no-op. */
RR_API void rr_verdict_free(rr_verdict *verdict);
/** Forget every finding, score and failure, keeping buffers (back to "passed"). NULL ok. */
RR_API void rr_verdict_reset(rr_verdict *verdict);
/** 1 when no validator recorded a failure, 0 otherwise (0 for NULL). */
RR_API int rr_verdict_passed(const rr_verdict *verdict);
/** The first failure type recorded: "" when passed, else one of "schema", "semantic",
 * "grounding", "safety", "empty", "refusal", "truncated". Static storage. */
RR_API const char *rr_verdict_failure(const rr_verdict *verdict);
/** Number of findings stored (at most 100; further ones are only counted, see
 * rr_verdict_dropped_findings). */
RR_API size_t rr_verdict_finding_count(const rr_verdict *verdict);
/** Number of findings that were not stored because the verdict was full. */
RR_API size_t rr_verdict_dropped_findings(const rr_verdict *verdict);
/**
 * Fields of finding `i` (0-based), borrowed from the verdict until it is reused or freed;
 * NULL when `i` is out of range. code: what was found (for JSON Schema the keyword name,
 * e.g. "required", or "invalid_json" / "truncated_json"); validator: the validator's name;
 * keyword: the schema keyword or rule id ("" if none); instance_location: RFC 6901 pointer
 * into the output JSON; keyword_location: pointer into the schema along the evaluation
 * path (through $ref, as JSON Schema's output format describes); message: names the value
 * and the limit it broke.
 */
RR_API const char *rr_verdict_finding_code(const rr_verdict *verdict, size_t i);
RR_API const char *rr_verdict_finding_validator(const rr_verdict *verdict, size_t i);
RR_API const char *rr_verdict_finding_keyword(const rr_verdict *verdict, size_t i);
RR_API const char *rr_verdict_finding_instance_location(const rr_verdict *verdict, size_t i);
RR_API const char *rr_verdict_finding_keyword_location(const rr_verdict *verdict, size_t i);
RR_API const char *rr_verdict_finding_message(const rr_verdict *verdict, size_t i);
/** Byte span [start, end) of finding `i` in the output text; -1 when it has none or `i`
 * is out of range. */
RR_API int64_t rr_verdict_finding_span_start(const rr_verdict *verdict, size_t i);
RR_API int64_t rr_verdict_finding_span_end(const rr_verdict *verdict, size_t i);
/** The score `name` a validator recorded (e.g. "grounding"); NaN when absent. */
RR_API double rr_verdict_score(const rr_verdict *verdict, const char *name);
/** Nanoseconds spent in the validators that filled this verdict. */
RR_API uint64_t rr_verdict_ns(const rr_verdict *verdict);
/**
 * The verdict as one JSON object (borrowed, NUL-terminated; `len` may be NULL): "passed",
 * "failure", "findings" [{"code", "validator", "keyword", "instanceLocation",
 * "keywordLocation", "message", "span": [start, end] | null}], "findings_dropped",
 * "scores" {name: value}, "validators" [{"name", "type", "version", "passed", "ns"}] and
 * "ns". Built on first call and cached until the verdict changes. NULL only on RR_ENOMEM.
 */
RR_API const char *rr_verdict_json(rr_verdict *verdict, size_t *len);

/* ---------------------------------------------------------------------------------------
 * --- JSON Schema ---
 *
 * A JSON Schema (draft 2020-12 by default; draft-07 and 2019-09 selected by "$schema")
 * compiled once into an immutable rr_schema that any number of threads may use at once.
 * There is no network access: remote "$ref"s resolve only against documents added to an
 * rr_schema_registry, plus the built-in meta-schemas of the supported drafts.
 * ------------------------------------------------------------------------------------- */

/** Treat "format" as an assertion (default: annotation only, as the drafts specify). */
#define RR_SCHEMA_FORMAT_ASSERT 1u

/** Values for rr_schema_options.default_draft. */
#define RR_SCHEMA_DRAFT_2020_12 202012u
#define RR_SCHEMA_DRAFT_2019_09 201909u
#define RR_SCHEMA_DRAFT_07 7u

typedef struct rr_schema rr_schema;
typedef struct rr_schema_registry rr_schema_registry;

#define RR_SCHEMA_OPTIONS_VERSION 1u

/**
 * Options for compiling a schema. Initialise with RR_SCHEMA_OPTIONS_INIT or
 * rr_schema_options_init(). A zero field means "the default".
 *  - allocator: used for the compiled schema and its regexes; NULL = malloc.
 *  - flags: RR_SCHEMA_FORMAT_ASSERT.
 *  - default_draft: dialect when the schema has no "$schema" (RR_SCHEMA_DRAFT_2020_12).
 *  - max_depth: instances nested deeper fail with RR_EDEPTH (default 512). Evaluation
 *    recurses at most max(1024, 4 * max_depth) schema levels, about 500 bytes of stack
 *    each, then fails with RR_EDEPTH: size thread stacks accordingly.
 *  - max_instance_bytes: longer instance texts fail with RR_ETOOBIG (default 16 MiB).
 *  - registry: documents that remote "$ref"s may name; only read while compiling.
 */
typedef struct rr_schema_options {
    uint32_t version;
    uint32_t flags;
    const rr_allocator *allocator;
    uint32_t default_draft;
    uint32_t max_depth;
    uint64_t max_instance_bytes;
    const rr_schema_registry *registry;
} rr_schema_options;

#define RR_SCHEMA_OPTIONS_INIT {RR_SCHEMA_OPTIONS_VERSION, 0, NULL, 0, 0, 0, NULL}
/** Fill `opts` with defaults for structure version `version`. RR_EINVAL if unknown. */
RR_API int rr_schema_options_init(rr_schema_options *opts, unsigned int version);

/** Create an empty registry of schema documents. `allocator` may be NULL. Errors:
 * RR_EINVAL, RR_ENOMEM. A registry belongs to one thread at a time. */
RR_API int rr_schema_registry_new(rr_schema_registry **out, const rr_allocator *allocator);
/**
 * Register the schema document `json` (`len` bytes, copied and parsed) under the absolute
 * URI `uri` (NUL-terminated; a trailing "#" is ignored). A "$ref" to that URI, or to an
 * "$id" inside the document, resolves to it. Errors: RR_EINVAL (NULL argument, relative
 * URI, URI already registered), RR_EJSON (malformed; line/column set), RR_ENOMEM.
 */
RR_API int rr_schema_registry_add(rr_schema_registry *registry, const char *uri,
                                  const char *json, size_t len, rr_error *err);
/** Free a registry. NULL is a no-op. Schemas compiled with it do not need it afterwards. */
RR_API void rr_schema_registry_free(rr_schema_registry *registry);

/**
 * Compile the schema `json` (`len` bytes; need not be NUL-terminated). On success `*out`
 * owns a new immutable schema; free it with rr_schema_free. Errors: RR_EJSON (malformed
 * JSON; line/column set), RR_ESCHEMA (a keyword with an invalid value, an invalid regular
 * expression, an unknown "$schema", a "$ref" that names no registered or embedded
 * document; err->pointer names the schema location), RR_EINVAL, RR_ENOMEM. `opts` may be
 * NULL. Thread-safe: compilations share nothing.
 */
RR_API int rr_schema_new(rr_schema **out, const char *json, size_t len,
                         const rr_schema_options *opts, rr_error *err);
/** Free a compiled schema. NULL is a no-op. No validation may be running on it. */
RR_API void rr_schema_free(rr_schema *schema);

/**
 * Validate the JSON text `instance` (`len` bytes) against `schema`, after resetting
 * `verdict` (see rr_verdict_reset). Returns RR_OK when validation ran; the verdict then
 * says whether the instance passed, and a failing verdict has failure "schema" with one
 * finding per violation (code = keyword name). Text that is not JSON fails the verdict
 * with code "invalid_json", or with failure "truncated" and code "truncated_json" when it
 * is a valid beginning of JSON that stops early. Errors (verdict left reset): RR_EUTF8
 * (invalid UTF-8; message names the byte offset), RR_ETOOBIG (longer than
 * max_instance_bytes), RR_EDEPTH (nested deeper than max_depth, or a schema whose
 * references recurse without consuming the instance), RR_ELIMIT (a "pattern" hit PCRE2's
 * match limit), RR_EINVAL, RR_ENOMEM. Thread-safety: any number of threads may validate
 * against one schema at once, each with its own verdict.
 */
RR_API int rr_schema_validate(const rr_schema *schema, const char *instance, size_t len,
                              rr_verdict *verdict, rr_error *err);

/* ---------------------------------------------------------------------------------------
 * --- Validation through a route, escalation and the run loop ---
 *
 * rr_validate runs the validators a decided route names; rr_escalate turns a typed failure
 * into the next decision (or a terminal one); rr_run drives route -> call -> validate ->
 * escalate with the host's callbacks until an outcome.
 * ------------------------------------------------------------------------------------- */

/**
 * Run the validators of `decision`'s route, in the policy's order, on `output` (`len`
 * bytes, the model's text) into `verdict` (reset first). `request` supplies evidence for
 * grounding, attributes for semantic checks and PII for leak detection, and holds the
 * validators' scratch so that revalidation allocates nothing; it may be NULL when the
 * route's validators need none of them (scratch is then allocated and freed per call). Returns RR_OK when validation ran (the
 * verdict says pass or fail); RR_EINVAL for NULL arguments; RR_ETOOBIG when `len` exceeds
 * the router's max_output_bytes; RR_ENOMEM. Thread-safe as rr_route is.
 */
RR_API int rr_validate(const rr_router *router, const rr_decision *decision, const char *output,
                       size_t len, rr_request *request, rr_verdict *verdict, rr_error *err);

/** Failure types rr_escalate accepts (and rr_verdict_failure returns a subset of). */
#define RR_FAILURE_SCHEMA "schema"
#define RR_FAILURE_SEMANTIC "semantic"
#define RR_FAILURE_GROUNDING "grounding"
#define RR_FAILURE_SAFETY "safety"
#define RR_FAILURE_EMPTY "empty"
#define RR_FAILURE_REFUSAL "refusal"
#define RR_FAILURE_TRUNCATED "truncated"
#define RR_FAILURE_LOW_CONFIDENCE "low_confidence"
#define RR_FAILURE_MODEL_ERROR "model_error"
#define RR_FAILURE_TOOL_ERROR "tool_error"
#define RR_FAILURE_TIMEOUT "timeout"

/**
 * Record what an attempt on `decision`'s route cost: token counts (>= 0) and latency in
 * milliseconds (>= 0). rr_escalate adds them to the ladder's totals and checks the
 * policy's limits (attempts, cost at the model's prices, latency). RR_EINVAL for negative
 * or non-finite values.
 */
RR_API int rr_decision_add_usage(rr_decision *decision, int64_t input_tokens,
                                 int64_t output_tokens, double latency_ms);
/** Attempt number of this decision on its ladder (1 for a fresh rr_route decision). */
RR_API uint32_t rr_decision_attempt(const rr_decision *decision);
/** Totals of the ladder so far (this decision and every one it escalated from). */
RR_API double rr_decision_total_cost_usd(const rr_decision *decision);
RR_API double rr_decision_total_latency_ms(const rr_decision *decision);

/**
 * Given that the attempt on `decision` failed with `failure` (one of RR_FAILURE_*;
 * `retriable` matters for model_error and tool_error), decide the next step into `*next`
 * (allocated when NULL, else reused; it must not be `decision` itself):
 *  - transient failures (timeout, retriable model_error / tool_error) retry the same route
 *    while its "retries" allow; structural failures never retry the same route;
 *  - otherwise the route's escalation target for that failure, skipping any route, model
 *    or tool eligibility denied for this request (up the target's own ladder);
 *  - when there is no target, the policy's terminal route for "exhausted"; when the next
 *    attempt would exceed a limit (attempts, total cost, total latency), the terminal
 *    route for "limits"; both default to human review.
 * The next decision carries the ladder's totals and a reason line that says which of
 * these happened. Terminal decisions have kind != RR_ROUTE_MODEL. Errors: RR_EINVAL
 * (NULL argument, unknown failure type, next == decision), RR_ENOMEM.
 */
RR_API int rr_escalate(const rr_router *router, const rr_decision *decision,
                       const char *failure, int retriable, rr_decision **next, rr_error *err);
/** rr_escalate with the verdict's failure type (RR_EINVAL if the verdict passed). */
RR_API int rr_escalate_verdict(const rr_router *router, const rr_decision *decision,
                               const rr_verdict *verdict, rr_decision **next, rr_error *err);

/* ---- rr_run: the host's callbacks ---- */

/** What call_model / call_tool return. Any other value is treated as RR_CALL_ERROR. */
#define RR_CALL_OK 0
#define RR_CALL_RETRIABLE 1 /* transient: the route may be retried (429, 5xx) */
#define RR_CALL_ERROR 2     /* permanent failure of this call */
#define RR_CALL_TIMEOUT 3
#define RR_CALL_ABORT (-16) /* == RR_EABORT: stop rr_run now; it returns RR_EABORT */

#define RR_MODEL_CALL_VERSION 1u

/** The route context handed to call_model. Everything is borrowed for the call only. */
typedef struct rr_model_call {
    uint32_t version;
    uint32_t attempt;          /* 1-based attempt number on the ladder */
    const char *route;         /* route id */
    const char *route_version;
    const char *model;         /* model id from the policy */
    const char *prompt;        /* prompt variant */
    const char *output_mode;   /* "text", "json" or "constrained" */
    const char *schema_json;   /* constrained/json: the JSON Schema to enforce, else NULL */
    const char *const *tools;  /* tool ids */
    size_t ntools;
    int64_t context_tokens;    /* context budget */
    int64_t max_output_tokens;
    const char *text;          /* the request text */
    size_t text_len;
    const char *previous_failure;  /* "" on the first attempt, else the failure type */
    const char *previous_findings; /* JSON array of the failed verdict's findings, or "[]" */
    const char *tool_results;      /* JSON object {tool: output} from call_tool, or "{}" */
    const rr_request *request;     /* evidence and attributes, read-only */
} rr_model_call;

#define RR_MODEL_RESULT_VERSION 1u

/**
 * What call_model fills in. `output` must stay valid until call_model is called again or
 * rr_run returns (the library copies it at once). Token counts must be >= 0; -1 = unknown
 * (then estimated from the text at 4 bytes per token). latency_ms < 0 = measure with the
 * clock. confidence in [0, 1], or < 0 when the model gives none; a route with
 * "min_confidence" fails with low_confidence below it.
 */
typedef struct rr_model_result {
    uint32_t version;
    const char *output;
    size_t output_len;
    int64_t input_tokens;
    int64_t output_tokens;
    double latency_ms;
    double confidence;
} rr_model_result;

#define RR_TOOL_CALL_VERSION 1u
typedef struct rr_tool_call {
    uint32_t version;
    uint32_t attempt;
    const char *tool;
    const char *route;
    const char *text;
    size_t text_len;
    const rr_request *request;
} rr_tool_call;

typedef struct rr_tool_result {
    uint32_t version;
    const char *output; /* valid until the next callback or rr_run returns; may be NULL */
    size_t output_len;
    double latency_ms;  /* < 0 = measure with the clock */
} rr_tool_result;

#define RR_CALLBACKS_VERSION 1u

/**
 * The host's callbacks (`version` first; the struct only grows at the end; NULL = not
 * provided). call_model is required. call_tool, when given, is called once per tool of a
 * model route before its model call; its outputs reach call_model as tool_results.
 * on_event receives each decision, verdict, escalation and the outcome as a JSON record
 * (borrowed for the call); returning non-zero from it aborts the run like RR_CALL_ABORT.
 * now_ns, when given, replaces the monotonic clock (for deterministic tests).
 * Callbacks may run concurrently when several threads run on one router.
 */
typedef struct rr_callbacks {
    uint32_t version;
    void *user_data;
    int (*call_model)(void *user_data, const rr_model_call *call, rr_model_result *result);
    int (*call_tool)(void *user_data, const rr_tool_call *call, rr_tool_result *result);
    int (*on_event)(void *user_data, const char *json, size_t len);
    uint64_t (*now_ns)(void *user_data);
} rr_callbacks;

#define RR_CALLBACKS_INIT {RR_CALLBACKS_VERSION, NULL, NULL, NULL, NULL, NULL}

typedef struct rr_outcome rr_outcome;

/**
 * Route `request`, call the model, validate, escalate — until an outcome. On RR_OK,
 * `*outcome` (allocated when NULL, else reused) holds the result; a ladder that ends in
 * human review, a clarification or a safe failure is still RR_OK: read rr_outcome_kind.
 * Errors: RR_EINVAL (NULL argument, no call_model, unsupported callbacks version), errors
 * of rr_route (bad request), RR_EABORT (a callback asked to stop), RR_ENOMEM. When rr_run
 * returns an error, no callback is invoked after the point of failure.
 * Reentrant: any number of threads may run on one router at once.
 */
RR_API int rr_run(const rr_router *router, rr_request *request, const rr_callbacks *callbacks,
                  rr_outcome **outcome, rr_error *err);
/** Free an outcome. NULL is a no-op. */
RR_API void rr_outcome_free(rr_outcome *outcome);
/** "answer", "clarify", "defer", "human_review" or "safe_failure". */
RR_API const char *rr_outcome_kind(const rr_outcome *outcome);
/** The final text: the accepted model output for answers, else the route's message. */
RR_API const char *rr_outcome_text(const rr_outcome *outcome, size_t *len);
/** The route that produced the outcome, and its model ("" for terminal routes). */
RR_API const char *rr_outcome_route(const rr_outcome *outcome);
RR_API const char *rr_outcome_model(const rr_outcome *outcome);
/** The chain of reason codes, one per attempt, joined by " | ". */
RR_API const char *rr_outcome_reason(const rr_outcome *outcome);
RR_API size_t rr_outcome_attempt_count(const rr_outcome *outcome);
/** Attempt `i` (0-based): route, model, call status ("ok", "retriable", "error",
 * "timeout"), failure ("" when it passed), tokens, cost (USD at the policy's prices) and
 * latency. Strings NULL / numbers -1 when `i` is out of range. */
RR_API const char *rr_outcome_attempt_route(const rr_outcome *outcome, size_t i);
RR_API const char *rr_outcome_attempt_model(const rr_outcome *outcome, size_t i);
RR_API const char *rr_outcome_attempt_status(const rr_outcome *outcome, size_t i);
RR_API const char *rr_outcome_attempt_failure(const rr_outcome *outcome, size_t i);
RR_API int64_t rr_outcome_attempt_input_tokens(const rr_outcome *outcome, size_t i);
RR_API int64_t rr_outcome_attempt_output_tokens(const rr_outcome *outcome, size_t i);
RR_API double rr_outcome_attempt_cost_usd(const rr_outcome *outcome, size_t i);
RR_API double rr_outcome_attempt_latency_ms(const rr_outcome *outcome, size_t i);
RR_API double rr_outcome_cost_usd(const rr_outcome *outcome);
RR_API double rr_outcome_latency_ms(const rr_outcome *outcome);
RR_API int64_t rr_outcome_input_tokens(const rr_outcome *outcome);
RR_API int64_t rr_outcome_output_tokens(const rr_outcome *outcome);
/** 1 when the accepted output passed every validator of its route (answers only). */
RR_API int rr_outcome_valid(const rr_outcome *outcome);
/**
 * The whole trace as one JSON object (borrowed; `len` may be NULL): kind, text length,
 * route, reason chain, totals ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
 * cost_usd, latency_ms) and "attempts" [{route, "gen_ai.request.model", status, failure,
 * verdict, "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", cost_usd,
 * latency_ms, reason}], with the policy's name, version and fingerprint.
 */
RR_API const char *rr_outcome_json(rr_outcome *outcome, size_t *len);

/* ---------------------------------------------------------------------------------------
 * --- Offline evaluation ---
 *
 * Replay recorded traffic through a policy exactly as live traffic would go: rr_route,
 * then the recorded output re-validated with rr_validate (or the recorded verdict), then
 * rr_escalate on failure, until an accepted answer or a terminal route, adding up the
 * cost and latency of every attempt. The result is a JSON report (quality, cost, latency
 * percentiles, routes, escalation precision and recall, baselines, RouteLLM's APGR/CPT
 * and RouterBench's AIQ) and a mergeable partial aggregate for sharded runs.
 *
 * Replay format: one JSON object per line (JSONL).
 *   {"id": "r1",                                  string or integer, optional
 *    "text": "...", "attrs": {...}, "evidence": [...], "conversation_id": "...",
 *                                                 the request, as rr_request_from_json
 *    "labels": {"task": "faq", "risk": "high", "human_review": false,
 *               "acceptable_routes": ["medium_rag_v1", "premium_rag_v1"]},  optional
 *    "outcomes": {"small_rag_v2": {"quality": 0.4, "accepted": false, "cost_usd": 0.0004,
 *                 "latency_ms": 420, "output": "...", "failure": "grounding",
 *                 "retriable": false, "input_tokens": 900, "output_tokens": 120,
 *                 "confidence": 0.7, "schema_valid": true}, ...},
 *    "meta": anything (ignored)}
 * Every outcome field is optional. Whether an attempt is accepted: a recorded "failure"
 * fails it with that type; else a recorded "output" is re-validated by the route's
 * validators (unless RR_EVAL_NO_REVALIDATE); else "accepted": false fails it with the
 * type of the route's first validator (low_confidence when it has none); a "confidence"
 * under the route's min_confidence fails it with low_confidence; otherwise it passes.
 * Whether an outcome is acceptable (ground truth for the metrics): labels'
 * acceptable_routes when given, else quality >= acceptable_quality, else "accepted",
 * else what the validators said. Cost: cost_usd, else the tokens (recorded, or estimated
 * at 4 bytes a token from the text and evidence and from the output or the route's
 * max_output_tokens) at the policy's prices; latency: latency_ms, else the model's.
 * A record whose ladder reaches a model route it has no outcome for is counted as
 * "missing outcome" (per route) and left out of the metrics.
 * ------------------------------------------------------------------------------------- */

typedef struct rr_eval rr_eval;

/** Malformed lines are counted and reported in the result but do not fail
 * rr_eval_add_line (default: it returns RR_EDATA). */
#define RR_EVAL_SKIP_MALFORMED 1u
/** Use recorded verdicts ("accepted", "failure") even when an output is recorded. */
#define RR_EVAL_NO_REVALIDATE 2u

#define RR_EVAL_OPTIONS_VERSION 1u

/**
 * Options for an evaluation. Initialise with RR_EVAL_OPTIONS_INIT or, from bindings,
 * rr_eval_options_init(); unlike the router's, these defaults are not all zero.
 *  - flags: RR_EVAL_SKIP_MALFORMED, RR_EVAL_NO_REVALIDATE.
 *  - allocator: NULL = malloc (jansson's parse trees use jansson's allocator).
 *  - acceptable_quality: an outcome of at least this quality is acceptable (0.5).
 *  - human_quality, human_cost_usd, human_latency_ms: credited to a human-review route
 *    when the record has no outcome for it (1, 0, 0). Other terminal routes (clarify,
 *    defer, refuse) count quality 0 and cost 0 unless recorded or listed as acceptable.
 *  - bootstrap: Poisson-bootstrap resamples for confidence intervals (0 = none; at most
 *    100000); seed: their seed, also the random baseline's (1). Weights come from a hash
 *    of the seed and the record's id (else its line number), so two evaluations of the
 *    same file with the same seed are paired and shards agree.
 */
typedef struct rr_eval_options {
    uint32_t version;
    uint32_t flags;
    const rr_allocator *allocator;
    double acceptable_quality;
    double human_quality;
    double human_cost_usd;
    double human_latency_ms;
    uint32_t bootstrap;
    uint32_t reserved_;
    uint64_t seed;
} rr_eval_options;

#define RR_EVAL_OPTIONS_INIT {RR_EVAL_OPTIONS_VERSION, 0, NULL, 0.5, 1.0, 0.0, 0.0, 0, 0, 1}
/** Fill `opts` with the defaults for structure version `version`. RR_EINVAL if unknown. */
RR_API int rr_eval_options_init(rr_eval_options *opts, unsigned int version);

/**
 * Create an evaluation of `router` (borrowed: it must outlive the evaluation; several
 * evaluations on several threads may share it). `router` may be NULL for an evaluation
 * that only merges partials (rr_eval_merge_json); adding lines to it fails with
 * RR_ESTATE. `opts` may be NULL. Errors: RR_EINVAL (NULL out, bad option values or
 * version), RR_ENOMEM. Free with rr_eval_free. An evaluation belongs to one thread at a
 * time.
 */
RR_API int rr_eval_new(rr_eval **out, const rr_router *router, const rr_eval_options *opts,
                       rr_error *err);
/** Free an evaluation and every string it returned. NULL is a no-op. */
RR_API void rr_eval_free(rr_eval *eval);

/**
 * Replay one JSONL line (`len` bytes, without its newline; need not be NUL-terminated).
 * Lines are numbered from 1 in the order they are given; blank lines are counted and
 * skipped. A record missing the outcome its ladder needs is counted, not an error.
 * Errors: RR_EDATA (malformed record, or a request the router rejects: err names the line
 * and the JSON pointer; the line is counted as malformed and kept in the result's
 * "errors"; with RR_EVAL_SKIP_MALFORMED the call returns RR_OK instead), RR_ESTATE (no
 * router), RR_EINVAL, RR_ENOMEM.
 */
RR_API int rr_eval_add_line(rr_eval *eval, const char *line, size_t len, rr_error *err);
/**
 * Replay every line of the file at `path`, streaming: memory does not grow with the
 * file. Stops at the first error rr_eval_add_line returns. Errors as rr_eval_add_line,
 * plus RR_EIO (cannot open or read) and RR_EDATA when the file holds no record.
 */
RR_API int rr_eval_add_file(rr_eval *eval, const char *path, rr_error *err);

/** Records replayed into the metrics; lines counted as malformed; records left out
 * because an outcome was missing. 0 for NULL. */
RR_API uint64_t rr_eval_record_count(const rr_eval *eval);
RR_API uint64_t rr_eval_malformed_count(const rr_eval *eval);
RR_API uint64_t rr_eval_missing_count(const rr_eval *eval);

/**
 * The metrics as one JSON object (borrowed, NUL-terminated, valid until the evaluation
 * is next changed or freed; `len` may be NULL): "policy", "records", "lines",
 * "malformed", "errors" [{line, message}], "missing_outcome" {total, by_route},
 * "overall" and "families" {name: ...}, each with n, quality, cost_per_request_usd,
 * latency_ms {mean, p50, p95, p99}, premium_share, routes {first, final}, escalation
 * {rate, precision, recall}, false_cheap_route_rate, premium_overuse_rate,
 * route_accuracy, human_review_rate, schema_valid_rate {route: rate}, risk {tier: {n,
 * cheap}} and baselines {always_cheapest, always_premium, random_same_premium_share,
 * oracle}; "research" {pair: {q_weak, q_strong, policy_pgr, random: {apgr, cpt50,
 * cpt80}, oracle: {...}}, aiq_models, models: [...]}; "bootstrap" {resamples, seed, ci:
 * {metric: [lo, hi]}} when enabled; "sketch" {relative_error}. Rates whose denominator is
 * zero are null. Percentiles come from the sketch: within 1% (relative) of the sample
 * value of rank floor(q * (n - 1)). NULL only on RR_ENOMEM.
 */
RR_API const char *rr_eval_result_json(rr_eval *eval, size_t *len);
/**
 * The aggregate itself as JSON (borrowed, as rr_eval_result_json): counts, sums and
 * sketches, with the policy fingerprint and the options that shape them. Feed it to
 * rr_eval_merge_json of another evaluation (e.g. one per shard, merged in a reduce step).
 * NULL only on RR_ENOMEM.
 */
RR_API const char *rr_eval_partial_json(rr_eval *eval, size_t *len);
/**
 * Add a partial (from rr_eval_partial_json) into `eval`. Counts add exactly, so merged
 * shards report the same counts and sketches as one run over all the data. Errors:
 * RR_EJSON (not JSON), RR_EDATA (not a partial, another policy fingerprint or other
 * options; the evaluation is unchanged), RR_EINVAL, RR_ENOMEM.
 */
RR_API int rr_eval_merge_json(rr_eval *eval, const char *partial, size_t len, rr_error *err);

/** rr_eval_report: one SVG image instead of an HTML page. */
#define RR_EVAL_REPORT_SVG 1u
/**
 * A report a person can read: a self-contained HTML page (inline SVG charts, inline CSS,
 * no external assets) or, with RR_EVAL_REPORT_SVG, one SVG image. Borrowed as
 * rr_eval_result_json. NULL on RR_ENOMEM or when no record was replayed.
 */
RR_API const char *rr_eval_report(rr_eval *eval, uint32_t flags, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* ROUTERIGHT_H */
