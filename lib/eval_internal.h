/* The rr_eval object and its aggregate, shared by eval.c (replay), eval_json.c (result,
 * partial, merge) and eval_drive.c (summaries, bootstrap). */
#ifndef RR_EVAL_INTERNAL_H
#define RR_EVAL_INTERNAL_H

#include "eval.h"
#include "router.h"

#define RR_EVAL_MAX_GROUPS 256 /* task families kept apart; the rest share "(other)" */
#define RR_EVAL_MAX_RISKS 8
#define RR_EVAL_MAX_STEPS 32 /* attempts on one ladder (the policy's limits end it first) */
#define RR_EVAL_MAX_BOOTSTRAP 100000
#define RR_EVAL_KEEP_ERRORS 20
#define RR_EVAL_GAIN_BINS 201 /* strong - weak quality gain in [-1, 1], step 0.01 */
#define RR_EVAL_RAND_GRID 101 /* random router: shares 0, 0.01, ..., 1 */

enum { RT_FIRST, RT_FINAL, RT_ATTEMPTS, RT_VALIDATED, RT_SCHEMA_OK, RT__K };
enum { B_CHEAP, B_PREM, B_ORACLE, B__K };

typedef struct ev_base {
    uint64_t n;
    double q, cost, lat;
    rr_sketch sk;
} ev_base;

typedef struct ev_group {
    char *name;
    uint64_t n;
    double q, cost, lat;
    rr_sketch sk;
    uint64_t escalated, needed, esc_needed, needed_known;
    uint64_t cheap_final, false_cheap;
    uint64_t prem_final, prem_used, prem_overuse;
    uint64_t label_n, label_ok;
    uint64_t human, hr_required, hr_sent;
    uint64_t answered_ok; /* final outcome acceptable */
    uint64_t risk_n[RR_EVAL_MAX_RISKS], risk_cheap[RR_EVAL_MAX_RISKS];
    uint64_t *rt; /* nroutes * RT__K */
    ev_base base[B__K];
} ev_group;

typedef struct ev_always {
    uint64_t n;
    double q, cost;
} ev_always;

typedef struct ev_pair {
    uint64_t n;
    double qw, qs, qp, prem;
    double gcnt[RR_EVAL_GAIN_BINS], gsum[RR_EVAL_GAIN_BINS];
    double rdiff[RR_EVAL_RAND_GRID];
} ev_pair;

typedef struct ev_att {
    int route;
    int8_t validated, schema_ok;
} ev_att;

typedef struct ev_pick {
    int route;
    double q, cost, lat;
    bool ok;
} ev_pick;

/* One record's replay under one policy. */
typedef struct ev_result {
    int first, final, rule, missing, risk;
    const char *family;
    ev_att att[RR_EVAL_MAX_STEPS];
    size_t natt;
    double q, cost, lat;
    bool ok, escalated, human, prem_used, cheap_used;
    int needed; /* -1 unknown */
    ev_pick base[B__K];
} ev_result;

struct rr_eval {
    rr_alloc a;
    rr_eval_options opts;
    const rr_router *router;
    char policy_name[128], policy_version[64], fingerprint[17];
    size_t nroutes;
    char **route_names;
    int *route_tier; /* -1 for terminal routes */
    int tier_min, tier_max;
    rr_eval_rec rec;
    rr_decision *d[2];
    rr_verdict *verdict;
    uint64_t lines, records, malformed, missing, unknown_outcomes;
    uint64_t *missing_by_route;
    char unknown_route[64];
    struct {
        uint64_t line;
        char msg[300];
    } errs[RR_EVAL_KEEP_ERRORS];
    size_t nerrs;
    ev_group **groups; /* groups[0] is "all" */
    size_t ngroups, capgroups, last_group;
    char *risks[RR_EVAL_MAX_RISKS];
    size_t nrisks;
    ev_pair pair;
    ev_always *always; /* per route */
    double *boot;      /* bootstrap * RR_BOOT__K */
    rr_buf out, part, report, line;
};

ev_group *rr_ev_group(rr_eval *ev, const char *name);
int rr_ev_risk(rr_eval *ev, const char *risk);
int rr_ev_route_index(const rr_eval *ev, const char *id);
int rr_eval_adopt_routes(rr_eval *ev, size_t n);
/* The (weak, strong) routing curves of the random and oracle routers from the pair
 * aggregate; RR_EDATA when undefined. */
int rr_ev_random_curve(const rr_eval *ev, rr_route_curve *out);
int rr_ev_oracle_curve(const rr_eval *ev, rr_route_curve *out);
/* AIQ over the always-<route> points. NaN when fewer than one point. */
double rr_ev_models_aiq(const rr_eval *ev);

#endif
