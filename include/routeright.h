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
 */
typedef struct rr_router_options {
    uint32_t version;
    uint32_t flags;
    const rr_allocator *allocator;
    uint64_t max_text_bytes;
    uint32_t regex_match_limit;
    uint32_t regex_depth_limit;
    const char *base_dir;
} rr_router_options;

#define RR_ROUTER_OPTIONS_INIT {RR_ROUTER_OPTIONS_VERSION, 0, NULL, 0, 0, 0, NULL}
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

#ifdef __cplusplus
}
#endif
#endif /* ROUTERIGHT_H */
