/* The support-copilot demo: the background article's copilot end to end on a policy (the
 * built-in default unless told otherwise), against a simulated model backend, over a
 * deterministic synthetic workload; and the same requests with every model route forced to
 * the most expensive and to the cheapest model, for comparison.
 *
 * Shared by `rrctl demo` (tools/rrctl/cmd_demo.c) and the standalone example program
 * (main.c). Output depends only on the options: the same seed gives the same bytes. */
#ifndef RR_DEMO_H
#define RR_DEMO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "routeright.h"
#include "workload.h"

/* Exit codes, as rrctl's. */
enum { RR_DEMO_OK = 0, RR_DEMO_USAGE = 1, RR_DEMO_POLICY = 2, RR_DEMO_FAILURE = 4 };

typedef struct rr_demo_options {
    uint64_t seed;           /* default 42 */
    size_t requests;         /* default 10000 */
    const char *policy_path; /* NULL: the built-in default policy */
    const char *json_path;   /* NULL: no JSON report */
    int progress;            /* show a progress line on stderr */
    int baselines;           /* also run always-<top> and always-<cheapest> (default 1) */
} rr_demo_options;

#define RR_DEMO_OPTIONS_INIT                                                                       \
    { 42, 10000, NULL, NULL, 0, 1 }

#define RR_DEMO_MAX_ROUTES 64
#define RR_DEMO_MAX_MODELS 16
/* Failure types that can trigger a retry or an escalation, in RR_FAILURE_* order. */
#define RR_DEMO_NTRIGGERS 11
extern const char *const rr_demo_triggers[RR_DEMO_NTRIGGERS];

/* One pass of the workload through one policy. */
typedef struct rr_demo_arm {
    char name[48];   /* "routed", "always-premium", ... */
    char forced[32]; /* the forced model, "" for the policy as written */
    size_t n;
    double cost_usd; /* total */
    int64_t input_tokens, output_tokens;
    size_t kinds[5];       /* answer, clarify, defer, human_review, safe_failure */
    size_t answers_flawed; /* accepted answers the simulator had made bad on purpose */
    size_t fam_n[DEMO_NFAMILIES];
    size_t fam_answer[DEMO_NFAMILIES], fam_human[DEMO_NFAMILIES], fam_clarify[DEMO_NFAMILIES];
    double fam_cost[DEMO_NFAMILIES];
    double fam_p50[DEMO_NFAMILIES], fam_p95[DEMO_NFAMILIES]; /* ms; -1 when no request */
    double p50, p95;
    /* routes, by id: how many requests each started on and ended on */
    size_t nroutes;
    char route[RR_DEMO_MAX_ROUTES][48];
    size_t route_first[RR_DEMO_MAX_ROUTES], route_final[RR_DEMO_MAX_ROUTES];
    /* ladder moves, by the failure that caused them */
    size_t esc[RR_DEMO_NTRIGGERS];          /* to another route */
    size_t esc_terminal[RR_DEMO_NTRIGGERS]; /* ... of which to a human / clarify route */
    size_t esc_requests[RR_DEMO_NTRIGGERS]; /* requests with at least one such escalation */
    size_t retries[RR_DEMO_NTRIGGERS];      /* the same route again */
    size_t requests_escalated, requests_retried;
    /* calls by model; first-try validity of JSON-route outputs */
    size_t nmodels;
    char model[RR_DEMO_MAX_MODELS][32];
    size_t calls[RR_DEMO_MAX_MODELS];
    double model_cost[RR_DEMO_MAX_MODELS];
    size_t json_outputs[RR_DEMO_MAX_MODELS], json_schema_valid[RR_DEMO_MAX_MODELS];
    /* accepted answers of JSON routes, re-validated against the route's schema */
    size_t json_accepted, json_accepted_schema_valid;
    size_t extract_requests, extract_accepted;
} rr_demo_arm;

typedef struct rr_demo_report {
    uint64_t seed;
    size_t requests;
    char policy[64], version[32], fingerprint[32];
    int low_confidence_gated; /* some model route of the policy has "min_confidence" */
    size_t narms;             /* 1 or 3: routed, always-<top>, always-<cheapest> */
    rr_demo_arm arm[3];
    double seconds; /* wall time, for stderr only: never in the report */
} rr_demo_report;

/* Run the demo. Errors: RR_EINVAL (bad options), policy errors of rr_router_new (err
 * names the policy), RR_EIO, RR_ENOMEM, or an rr_run error (err names the request). */
int rr_demo_run(const rr_demo_options *opts, rr_demo_report *out, rr_error *err);
/* The human-readable report. */
void rr_demo_print(const rr_demo_report *r, FILE *f);
/* The same as one JSON document (indented, trailing newline). RR_EIO, RR_ENOMEM. */
int rr_demo_write_json(const rr_demo_report *r, FILE *f);

/* The command line: [--seed N] [--requests N] [--json FILE] [--policy FILE]
 * [--no-baselines]; argv[0] is the program or subcommand name. Returns an exit code. */
int rr_demo_main(int argc, char **argv);

#endif
