/* The support-copilot demo: workload -> rr_run with a simulated backend -> the figures an
 * operator looks at. See demo.h and README.md. */
#include "demo.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *const rr_demo_triggers[RR_DEMO_NTRIGGERS] = {
    RR_FAILURE_SCHEMA,      RR_FAILURE_SEMANTIC,   RR_FAILURE_GROUNDING, RR_FAILURE_SAFETY,
    RR_FAILURE_EMPTY,       RR_FAILURE_REFUSAL,    RR_FAILURE_TRUNCATED, RR_FAILURE_LOW_CONFIDENCE,
    RR_FAILURE_MODEL_ERROR, RR_FAILURE_TOOL_ERROR, RR_FAILURE_TIMEOUT,
};

static const char *const kind_names[5] = {"answer", "clarify", "defer", "human_review",
                                          "safe_failure"};

/* Text that json_dumps returned belongs to jansson's allocator, which the host owns. */
static void jansson_free(void *p) {
    json_free_t f = NULL;
    json_get_alloc_funcs(NULL, &f);
    f(p);
}

/* ---- what the demo needs to know about the policy beyond the router ---- */

typedef struct policy_info {
    json_t *doc;
    char *text; /* the policy as loaded (owned when read from a file) */
    size_t len;
    const char *cheapest, *top; /* model ids by tier */
    size_t nroutes;
    const char *route[RR_DEMO_MAX_ROUTES];
    int route_json[RR_DEMO_MAX_ROUTES];          /* output "json" / "constrained" */
    rr_schema *route_schema[RR_DEMO_MAX_ROUTES]; /* its first schema validator, re-compiled */
    int gated;
} policy_info;

static void policy_info_free(const rr_alloc *a, policy_info *p) {
    for (size_t i = 0; i < p->nroutes; i++)
        rr_schema_free(p->route_schema[i]);
    json_decref(p->doc);
    rr_free(a, p->text);
    memset(p, 0, sizeof *p);
}

static int read_file(const rr_alloc *a, const char *path, char **out, size_t *len, rr_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return rr_err(err, RR_EIO, "%s: %s", path, strerror(errno));
    rr_buf b;
    rr_buf_init(&b, a);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rr_buf_put(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad || b.oom) {
        rr_buf_free(&b);
        return rr_err(err, bad ? RR_EIO : RR_ENOMEM, "%s: cannot read", path);
    }
    *out = b.p ? b.p : rr_strdup(a, "");
    *len = b.len;
    return *out ? RR_OK : rr_err(err, RR_ENOMEM, "out of memory");
}

static int compile_route_schema(policy_info *p, size_t i, json_t *route, json_t *validators,
                                rr_error *err) {
    json_t *names = json_object_get(route, "validators");
    size_t k;
    json_t *name;
    json_array_foreach(names, k, name) {
        json_t *v = json_object_get(validators, json_string_value(name));
        json_t *schema = json_object_get(v, "schema");
        if (!schema || strcmp(json_string_value(json_object_get(v, "type")), "schema"))
            continue;
        char *text = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            return rr_err(err, RR_ENOMEM, "out of memory");
        rr_schema_options so = RR_SCHEMA_OPTIONS_INIT;
        so.flags = json_is_true(json_object_get(v, "format_assert")) ? RR_SCHEMA_FORMAT_ASSERT : 0;
        int rc = rr_schema_new(&p->route_schema[i], text, strlen(text), &so, err);
        jansson_free(text);
        return rc;
    }
    return RR_OK;
}

static int policy_info_load(const rr_alloc *a, const char *path, policy_info *p, rr_error *err) {
    memset(p, 0, sizeof *p);
    int rc;
    if (path) {
        if ((rc = read_file(a, path, &p->text, &p->len, err)) != RR_OK)
            return rc;
    } else {
        p->len = strlen(rr_default_policy());
    }
    json_error_t je;
    p->doc = json_loadb(p->text ? p->text : rr_default_policy(), p->len, 0, &je);
    if (!p->doc)
        return rr_err_at(err, RR_EJSON, "", (uint32_t)je.line, (uint32_t)je.column, 0, "%s",
                         je.text);
    json_t *models = json_object_get(p->doc, "models"), *m;
    const char *id;
    json_int_t lo = 0, hi = 0;
    json_object_foreach(models, id, m) {
        json_int_t t = json_integer_value(json_object_get(m, "tier"));
        if (!p->cheapest || t < lo)
            p->cheapest = id, lo = t;
        if (!p->top || t > hi)
            p->top = id, hi = t;
    }
    json_t *routes = json_object_get(p->doc, "routes"), *rt;
    json_t *validators = json_object_get(p->doc, "validators");
    json_object_foreach(routes, id, rt) {
        if (p->nroutes == RR_DEMO_MAX_ROUTES)
            return rr_err(err, RR_ERANGE, "the demo handles at most %d routes", RR_DEMO_MAX_ROUTES);
        const char *mode = json_string_value(json_object_get(rt, "output"));
        size_t i = p->nroutes++;
        p->route[i] = id;
        p->route_json[i] = mode && strcmp(mode, "text");
        p->gated |= json_object_get(rt, "min_confidence") != NULL;
        if (p->route_json[i] && (rc = compile_route_schema(p, i, rt, validators, err)) != RR_OK)
            return rc;
    }
    return RR_OK;
}

static int route_index(const policy_info *p, const char *id) {
    for (size_t i = 0; i < p->nroutes; i++)
        if (!strcmp(p->route[i], id))
            return (int)i;
    return -1;
}

/* The baseline policy "always <model>": every model route calls `model`; escalation maps
 * keep only hand-offs to terminal routes (human, clarify...), so a failed validation ends
 * in the policy's terminal route instead of a stronger model; model denials are lifted
 * (the baseline is "one model for everything"). Routing rules, prompts, tools, validators
 * and retries of transient failures are the policy's own. */
static char *derive_policy(const policy_info *p, const char *model) {
    json_t *d = json_deep_copy(p->doc);
    if (!d)
        return NULL;
    json_t *routes = json_object_get(d, "routes"), *rt;
    const char *id;
    json_object_foreach(routes, id, rt) {
        if (!json_object_get(rt, "model"))
            continue;
        json_object_set_new(rt, "model", json_string(model));
        json_t *esc = json_object_get(rt, "escalate");
        const char *failure;
        json_t *target;
        void *tmp;
        json_object_foreach_safe(esc, tmp, failure, target) {
            json_t *t = json_object_get(routes, json_string_value(target));
            if (json_object_get(t, "model"))
                json_object_del(esc, failure);
        }
    }
    json_t *elig = json_object_get(d, "eligibility");
    for (size_t i = json_array_size(elig); i-- > 0;) {
        json_t *e = json_array_get(elig, i);
        json_object_del(e, "deny_models");
        if (!json_object_get(e, "deny_tools") && !json_object_get(e, "deny_routes"))
            json_array_remove(elig, i);
    }
    char name[128];
    const char *base = json_string_value(json_object_get(d, "policy"));
    snprintf(name, sizeof name, "%s_always_%s", base ? base : "policy", model);
    json_object_set_new(d, "policy", json_string(name));
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return text;
}

/* ---- statistics of one arm ---- */

typedef struct arm_acc {
    rr_demo_arm *arm;
    double *latency; /* per request */
    uint8_t *family; /* per request */
    double *sorted;  /* scratch for percentiles */
} arm_acc;

static size_t arm_route(rr_demo_arm *a, const char *id) {
    for (size_t i = 0; i < a->nroutes; i++)
        if (!strcmp(a->route[i], id))
            return i;
    if (a->nroutes == RR_DEMO_MAX_ROUTES)
        return RR_DEMO_MAX_ROUTES - 1; /* the policy was checked to fit */
    snprintf(a->route[a->nroutes], sizeof a->route[0], "%s", id);
    return a->nroutes++;
}

static size_t arm_model(rr_demo_arm *a, const char *id) {
    for (size_t i = 0; i < a->nmodels; i++)
        if (!strcmp(a->model[i], id))
            return i;
    if (a->nmodels == RR_DEMO_MAX_MODELS)
        return RR_DEMO_MAX_MODELS - 1;
    snprintf(a->model[a->nmodels], sizeof a->model[0], "%s", id);
    return a->nmodels++;
}

static int trigger_index(const char *failure) {
    for (int i = 0; i < RR_DEMO_NTRIGGERS; i++)
        if (!strcmp(rr_demo_triggers[i], failure))
            return i;
    return -1;
}

static void record_ladder(rr_demo_arm *a, const rr_outcome *o) {
    size_t natt = rr_outcome_attempt_count(o);
    int seen[RR_DEMO_NTRIGGERS] = {0};
    int escalated = 0, retried = 0;
    for (size_t i = 0; i < natt; i++) {
        const char *model = rr_outcome_attempt_model(o, i);
        if (model[0]) {
            size_t m = arm_model(a, model);
            a->calls[m]++;
            a->model_cost[m] += rr_outcome_attempt_cost_usd(o, i);
        }
        if (i == 0)
            continue;
        int t = trigger_index(rr_outcome_attempt_failure(o, i - 1));
        if (t < 0)
            continue;
        if (!strcmp(rr_outcome_attempt_route(o, i), rr_outcome_attempt_route(o, i - 1))) {
            a->retries[t]++;
            retried = 1;
            continue;
        }
        a->esc[t]++;
        a->esc_terminal[t] += model[0] == 0;
        if (!seen[t]++)
            a->esc_requests[t]++;
        escalated = 1;
    }
    a->requests_escalated += escalated;
    a->requests_retried += retried;
}

static int kind_index(const char *k) {
    for (int i = 0; i < 5; i++)
        if (!strcmp(kind_names[i], k))
            return i;
    return 3;
}

static int record(arm_acc *acc, const policy_info *p, const demo_request *q, rr_outcome *o,
                  int flawed, rr_error *err) {
    rr_demo_arm *a = acc->arm;
    size_t i = a->n++;
    int f = q->family, k = kind_index(rr_outcome_kind(o));
    double cost = rr_outcome_cost_usd(o);
    a->cost_usd += cost;
    a->input_tokens += rr_outcome_input_tokens(o);
    a->output_tokens += rr_outcome_output_tokens(o);
    a->kinds[k]++;
    a->answers_flawed += k == 0 && flawed;
    a->fam_n[f]++;
    a->fam_answer[f] += k == 0;
    a->fam_clarify[f] += k == 1;
    a->fam_human[f] += k == 3;
    a->fam_cost[f] += cost;
    acc->latency[i] = rr_outcome_latency_ms(o);
    acc->family[i] = (uint8_t)f;
    if (rr_outcome_attempt_count(o))
        a->route_first[arm_route(a, rr_outcome_attempt_route(o, 0))]++;
    a->route_final[arm_route(a, rr_outcome_route(o))]++;
    record_ladder(a, o);
    for (size_t t = 0; t < rr_outcome_attempt_count(o); t++) {
        int r = route_index(p, rr_outcome_attempt_route(o, t));
        if (r < 0 || !p->route_json[r] || strcmp(rr_outcome_attempt_status(o, t), "ok"))
            continue;
        const char *fail = rr_outcome_attempt_failure(o, t);
        size_t m = arm_model(a, rr_outcome_attempt_model(o, t));
        a->json_outputs[m]++;
        a->json_schema_valid[m] +=
            strcmp(fail, RR_FAILURE_SCHEMA) && strcmp(fail, RR_FAILURE_TRUNCATED);
    }
    if (f == DEMO_EXTRACT) {
        a->extract_requests++;
        a->extract_accepted += k == 0;
    }
    int r = route_index(p, rr_outcome_route(o));
    if (k != 0 || r < 0 || !p->route_json[r])
        return RR_OK;
    a->json_accepted++;
    if (!p->route_schema[r]) {
        a->json_accepted_schema_valid++;
        return RR_OK;
    }
    /* Re-check what was accepted against an independently compiled schema. */
    size_t len;
    const char *text = rr_outcome_text(o, &len);
    rr_verdict *v = NULL;
    int rc = rr_verdict_new(&v, NULL);
    if (rc == RR_OK)
        rc = rr_schema_validate(p->route_schema[r], text, len, v, err);
    if (rc == RR_OK)
        a->json_accepted_schema_valid += rr_verdict_passed(v) != 0;
    rr_verdict_free(v);
    return rc;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Nearest-rank percentile of v[0..n), sorted in place; -1 when empty. */
static double percentile(double *v, size_t n, double q) {
    if (!n)
        return -1;
    qsort(v, n, sizeof *v, cmp_double);
    size_t rank = (size_t)ceil(q * (double)n);
    return v[rank ? rank - 1 : 0];
}

static void finish_arm(arm_acc *acc) {
    rr_demo_arm *a = acc->arm;
    memcpy(acc->sorted, acc->latency, a->n * sizeof *acc->sorted);
    a->p50 = percentile(acc->sorted, a->n, 0.50);
    memcpy(acc->sorted, acc->latency, a->n * sizeof *acc->sorted);
    a->p95 = percentile(acc->sorted, a->n, 0.95);
    for (int f = 0; f < DEMO_NFAMILIES; f++) {
        size_t n = 0;
        for (size_t i = 0; i < a->n; i++)
            if (acc->family[i] == f)
                acc->sorted[n++] = acc->latency[i];
        a->fam_p50[f] = percentile(acc->sorted, n, 0.50);
        a->fam_p95[f] = percentile(acc->sorted, n, 0.95);
    }
}

/* ---- running the workload through one policy ---- */

typedef struct run_ctx {
    const rr_alloc *a;
    const rr_demo_options *opts;
    const policy_info *policy;
    int tty;
    const char *phase;
} run_ctx;

static void progress(const run_ctx *c, size_t done, size_t total) {
    if (c->tty && (done % 500 == 0 || done == total))
        fprintf(stderr, "\rdemo: %-16s %zu/%zu", c->phase, done, total);
}

static int setup_backend(const policy_info *p, demo_backend *b) {
    json_t *m;
    const char *id;
    json_object_foreach(json_object_get(p->doc, "models"), id, m) {
        int rc = demo_backend_add_model(b, id, (int)json_integer_value(json_object_get(m, "tier")));
        if (rc != RR_OK)
            return rc;
    }
    return RR_OK;
}

static int run_arm(run_ctx *c, const rr_router *router, rr_demo_arm *arm, arm_acc *acc,
                   rr_error *err) {
    const rr_demo_options *o = c->opts;
    demo_backend be;
    demo_backend_init(&be, c->a, o->seed);
    demo_request req;
    demo_request_init(&req, c->a);
    rr_request *q = NULL;
    rr_outcome *out = NULL;
    rr_callbacks cb = RR_CALLBACKS_INIT;
    cb.user_data = &be;
    cb.call_model = demo_call_model;
    cb.call_tool = demo_call_tool;
    acc->arm = arm;
    for (size_t i = 0; i < c->policy->nroutes; i++) /* the policy's order */
        arm_route(arm, c->policy->route[i]);
    int rc = setup_backend(c->policy, &be);
    if (rc != RR_OK)
        rr_err(err, rc, "the demo simulates at most 16 models with ids under 32 bytes");
    else if ((rc = rr_request_new(&q, NULL)) != RR_OK)
        rr_err(err, rc, "out of memory");
    for (size_t i = 0; i < o->requests && rc == RR_OK; i++) {
        if ((rc = demo_request_generate(&req, o->seed, i)) != RR_OK ||
            (rc = demo_request_apply(&req, q)) != RR_OK) {
            rr_err(err, rc, "request %zu: cannot build it", i);
            break;
        }
        be.cur = &req;
        be.last_flawed = 0;
        rr_error re = RR_ERROR_INIT;
        if ((rc = rr_run(router, q, &cb, &out, &re)) != RR_OK) {
            rr_err(err, rc, "%s: request %zu (%s): %s", arm->name, i, demo_family_name(req.family),
                   re.message);
            break;
        }
        rc = record(acc, c->policy, &req, out, be.last_flawed, err);
        progress(c, i + 1, o->requests);
    }
    if (rc == RR_OK)
        finish_arm(acc);
    rr_outcome_free(out);
    rr_request_free(q);
    demo_request_free(&req);
    demo_backend_free(&be);
    return rc;
}

static int build_router(const rr_demo_options *o, const policy_info *p, const char *forced,
                        rr_router **out, rr_error *err) {
    if (!forced)
        return o->policy_path ? rr_router_new_from_file(out, o->policy_path, NULL, err)
                              : rr_router_new_default(out, NULL, err);
    char *text = derive_policy(p, forced);
    if (!text)
        return rr_err(err, RR_ENOMEM, "out of memory");
    rr_router_options ro = RR_ROUTER_OPTIONS_INIT;
    char dir[4096] = ".";
    if (o->policy_path) { /* relative files in the policy resolve as for the original */
        snprintf(dir, sizeof dir, "%s", o->policy_path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, sizeof dir, ".");
        ro.base_dir = dir;
    }
    int rc = rr_router_new(out, text, strlen(text), &ro, err);
    if (rc != RR_OK) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        rr_err(err, rc, "the always-%s baseline derived from the policy: %s", forced, msg);
    }
    jansson_free(text);
    return rc;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_all(run_ctx *c, rr_demo_report *rep, arm_acc *acc, rr_error *err) {
    const policy_info *p = c->policy;
    const char *forced[3] = {NULL, p->top, p->cheapest};
    int rc = RR_OK;
    for (size_t k = 0; k < rep->narms && rc == RR_OK; k++) {
        rr_demo_arm *arm = &rep->arm[k];
        if (forced[k]) {
            snprintf(arm->name, sizeof arm->name, "always-%s", forced[k]);
            snprintf(arm->forced, sizeof arm->forced, "%s", forced[k]);
        } else {
            snprintf(arm->name, sizeof arm->name, "routed");
        }
        c->phase = arm->name;
        rr_router *router = NULL;
        if ((rc = build_router(c->opts, p, forced[k], &router, err)) != RR_OK)
            break;
        if (k == 0) {
            snprintf(rep->policy, sizeof rep->policy, "%s", rr_router_policy_name(router));
            snprintf(rep->version, sizeof rep->version, "%s", rr_router_policy_version(router));
            snprintf(rep->fingerprint, sizeof rep->fingerprint, "%s",
                     rr_router_fingerprint(router));
        }
        rc = run_arm(c, router, arm, acc, err);
        rr_router_free(router);
    }
    if (c->tty)
        fprintf(stderr, "\r\033[K");
    return rc;
}

int rr_demo_run(const rr_demo_options *o, rr_demo_report *rep, rr_error *err) {
    if (!o || !rep || !o->requests)
        return rr_err(err, RR_EINVAL, "rr_demo_run: no options, no report or no requests");
    memset(rep, 0, sizeof *rep);
    rep->seed = o->seed;
    rep->requests = o->requests;
    rep->narms = o->baselines ? 3 : 1;
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    policy_info p;
    int rc = policy_info_load(&a, o->policy_path, &p, err);
    if (rc != RR_OK) {
        policy_info_free(&a, &p);
        return rc;
    }
    if (!p.cheapest) {
        policy_info_free(&a, &p);
        return rr_err(err, RR_EPOLICY, "the policy declares no models");
    }
    rep->low_confidence_gated = p.gated;
    arm_acc acc = {NULL, rr_calloc(&a, o->requests, sizeof(double)), rr_calloc(&a, o->requests, 1),
                   rr_calloc(&a, o->requests, sizeof(double))};
    double t0 = now_s();
    run_ctx c = {&a, o, &p, o->progress && isatty(2), ""};
    if (!acc.latency || !acc.family || !acc.sorted)
        rc = rr_err(err, RR_ENOMEM, "out of memory for %zu requests", o->requests);
    else
        rc = run_all(&c, rep, &acc, err);
    rep->seconds = now_s() - t0;
    rr_free(&a, acc.latency);
    rr_free(&a, acc.family);
    rr_free(&a, acc.sorted);
    policy_info_free(&a, &p);
    return rc;
}

/* ---- the report ---- */

static double pct(size_t a, size_t b) {
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

/* "$0.001712" right-aligned in `width`. */
static void print_usd(FILE *f, int width, int decimals, double v) {
    char b[48];
    snprintf(b, sizeof b, "$%.*f", decimals, v);
    fprintf(f, " %*s", width, b);
}

static void print_ms(FILE *f, double ms) {
    if (ms < 0)
        fprintf(f, " %9s", "-");
    else
        fprintf(f, " %9.0f", ms);
}

static void print_families(const rr_demo_arm *a, FILE *f) {
    fprintf(f, "Outcomes by family\n");
    fprintf(f, "  %-14s %8s %9s %9s %8s %12s %9s %9s\n", "family", "requests", "answered",
            "clarify", "human", "cost/req", "p50 ms", "p95 ms");
    for (int k = 0; k < DEMO_NFAMILIES; k++) {
        size_t n = a->fam_n[k];
        fprintf(f, "  %-14s %8zu %8.1f%% %8.1f%% %7.1f%%", demo_family_name(k), n,
                pct(a->fam_answer[k], n), pct(a->fam_clarify[k], n), pct(a->fam_human[k], n));
        print_usd(f, 12, 6, n ? a->fam_cost[k] / (double)n : 0.0);
        print_ms(f, a->fam_p50[k]);
        print_ms(f, a->fam_p95[k]);
        fputc('\n', f);
    }
    fprintf(f, "  %-14s %8zu %8.1f%% %8.1f%% %7.1f%%", "all", a->n, pct(a->kinds[0], a->n),
            pct(a->kinds[1], a->n), pct(a->kinds[3], a->n));
    print_usd(f, 12, 6, a->n ? a->cost_usd / (double)a->n : 0.0);
    print_ms(f, a->p50);
    print_ms(f, a->p95);
    fprintf(f, "\n\n");
}

static void print_routes(const rr_demo_arm *a, FILE *f) {
    fprintf(f, "Route distribution\n  %-32s %16s %18s\n", "route", "first decision",
            "final outcome");
    for (size_t i = 0; i < a->nroutes; i++)
        fprintf(f, "  %-32s %8zu %6.1f%% %10zu %6.1f%%\n", a->route[i], a->route_first[i],
                pct(a->route_first[i], a->n), a->route_final[i], pct(a->route_final[i], a->n));
    fputc('\n', f);
}

static void print_escalations(const rr_demo_report *r, const rr_demo_arm *a, FILE *f) {
    fprintf(f, "Escalations (a failed attempt sends the request to another route)\n");
    fprintf(f,
            "  requests escalated: %zu (%.1f%%); requests retried on the same route after a "
            "transient failure: %zu (%.1f%%)\n",
            a->requests_escalated, pct(a->requests_escalated, a->n), a->requests_retried,
            pct(a->requests_retried, a->n));
    fprintf(f, "  %-16s %11s %13s %14s %14s %9s\n", "trigger", "escalations", "% of requests",
            "to a model", "to human/ask", "retries");
    for (int t = 0; t < RR_DEMO_NTRIGGERS; t++) {
        if (!a->esc[t] && !a->retries[t])
            continue;
        fprintf(f, "  %-16s %11zu %12.2f%% %14zu %14zu %9zu\n", rr_demo_triggers[t], a->esc[t],
                pct(a->esc_requests[t], a->n), a->esc[t] - a->esc_terminal[t], a->esc_terminal[t],
                a->retries[t]);
    }
    if (!r->low_confidence_gated)
        fprintf(f, "  (no route of this policy sets \"min_confidence\": low-confidence answers "
                   "are accepted, not escalated)\n");
    fprintf(f, "  human review: %zu requests (%.1f%%); clarification asked: %zu (%.1f%%)\n\n",
            a->kinds[3], pct(a->kinds[3], a->n), a->kinds[1], pct(a->kinds[1], a->n));
}

static void print_structured(const rr_demo_arm *a, FILE *f) {
    fprintf(f, "Structured output\n");
    fprintf(f, "  extraction requests answered: %zu of %zu (%.1f%%)\n", a->extract_accepted,
            a->extract_requests, pct(a->extract_accepted, a->extract_requests));
    fprintf(f,
            "  accepted JSON answers schema-valid on an independent re-check: %zu of %zu "
            "(%.1f%%)\n",
            a->json_accepted_schema_valid, a->json_accepted,
            pct(a->json_accepted_schema_valid, a->json_accepted));
    fprintf(f, "  JSON a model produced that parsed and met the schema, by model:");
    for (size_t m = 0; m < a->nmodels; m++)
        if (a->json_outputs[m])
            fprintf(f, " %s %.1f%% (of %zu)", a->model[m],
                    pct(a->json_schema_valid[m], a->json_outputs[m]), a->json_outputs[m]);
    fprintf(f, "\n\n");
}

static void print_costs(const rr_demo_report *r, FILE *f) {
    fprintf(f, "Cost per request (the same %zu requests through each strategy)\n", r->requests);
    fprintf(f, "  %-18s %12s %12s %9s %8s %9s %9s %9s\n", "strategy", "cost/req", "total",
            "answered", "wrong*", "human", "p50 ms", "p95 ms");
    for (size_t k = 0; k < r->narms; k++) {
        const rr_demo_arm *a = &r->arm[k];
        fprintf(f, "  %-18s", a->name);
        print_usd(f, 12, 6, a->cost_usd / (double)a->n);
        print_usd(f, 12, 2, a->cost_usd);
        fprintf(f, " %8.1f%% %8.1f%% %7.1f%%", pct(a->kinds[0], a->n), pct(a->answers_flawed, a->n),
                pct(a->kinds[3], a->n));
        print_ms(f, a->p50);
        print_ms(f, a->p95);
        fputc('\n', f);
    }
    const rr_demo_arm *a = &r->arm[0];
    fprintf(f, "  * answers accepted although the simulator had made them wrong: what the "
               "validators\n    could not see (a live service cannot measure this column)\n");
    fprintf(f, "  calls by model (routed):");
    for (size_t m = 0; m < a->nmodels; m++)
        fprintf(f, " %s %zu ($%.2f)", a->model[m], a->calls[m], a->model_cost[m]);
    fputc('\n', f);
    if (r->narms == 3 && r->arm[1].cost_usd > 0 && r->arm[2].cost_usd > 0)
        fprintf(f, "  routing costs %.1f%% of %s and %.1fx %s\n",
                100.0 * a->cost_usd / r->arm[1].cost_usd, r->arm[1].name,
                a->cost_usd / r->arm[2].cost_usd, r->arm[2].name);
    if (r->narms == 3)
        fprintf(f, "  (always-<model>: the policy with every model route on that model, its "
                   "escalation maps cut to\n   hand-offs to human/clarify routes and model "
                   "denials lifted; a failed validation goes to human review)\n");
}

void rr_demo_print(const rr_demo_report *r, FILE *f) {
    const rr_demo_arm *a = &r->arm[0];
    fprintf(f, "routeright support-copilot demo: policy %s v%s (fingerprint %s)\n", r->policy,
            r->version, r->fingerprint);
    fprintf(f,
            "%zu synthetic requests, seed %llu, simulated model backend; every output "
            "judged by the policy's validators\n\n",
            r->requests, (unsigned long long)r->seed);
    print_families(a, f);
    print_routes(a, f);
    print_escalations(r, a, f);
    print_structured(a, f);
    print_costs(r, f);
}

/* ---- the same as JSON ---- */

static json_t *ratio(size_t a, size_t b) {
    return json_real(b ? (double)a / (double)b : 0.0);
}

static json_t *ms_or_null(double ms) {
    return ms < 0 ? json_null() : json_real(ms);
}

static json_t *families_json(const rr_demo_arm *a) {
    json_t *o = json_object();
    for (int k = 0; k < DEMO_NFAMILIES; k++) {
        size_t n = a->fam_n[k];
        json_object_set_new(
            o, demo_family_name(k),
            json_pack("{s:I,s:o,s:o,s:o,s:f,s:o,s:o}", "requests", (json_int_t)n, "answer_rate",
                      ratio(a->fam_answer[k], n), "clarify_rate", ratio(a->fam_clarify[k], n),
                      "human_review_rate", ratio(a->fam_human[k], n), "cost_per_request_usd",
                      n ? a->fam_cost[k] / (double)n : 0.0, "latency_p50_ms",
                      ms_or_null(a->fam_p50[k]), "latency_p95_ms", ms_or_null(a->fam_p95[k])));
    }
    return o;
}

static json_t *routes_json(const rr_demo_arm *a) {
    json_t *o = json_object();
    for (size_t i = 0; i < a->nroutes; i++)
        json_object_set_new(o, a->route[i],
                            json_pack("{s:I,s:o,s:I,s:o}", "first", (json_int_t)a->route_first[i],
                                      "first_share", ratio(a->route_first[i], a->n), "final",
                                      (json_int_t)a->route_final[i], "final_share",
                                      ratio(a->route_final[i], a->n)));
    return o;
}

static json_t *escalations_json(const rr_demo_report *r, const rr_demo_arm *a) {
    json_t *by = json_object();
    for (int t = 0; t < RR_DEMO_NTRIGGERS; t++) {
        if (!a->esc[t] && !a->retries[t])
            continue;
        json_object_set_new(
            by, rr_demo_triggers[t],
            json_pack("{s:I,s:I,s:o,s:I,s:I,s:I}", "escalations", (json_int_t)a->esc[t], "requests",
                      (json_int_t)a->esc_requests[t], "request_rate",
                      ratio(a->esc_requests[t], a->n), "to_model",
                      (json_int_t)(a->esc[t] - a->esc_terminal[t]), "to_terminal",
                      (json_int_t)a->esc_terminal[t], "retries", (json_int_t)a->retries[t]));
    }
    return json_pack(
        "{s:I,s:o,s:I,s:o,s:b,s:o}", "requests_escalated", (json_int_t)a->requests_escalated,
        "escalation_rate", ratio(a->requests_escalated, a->n), "requests_retried",
        (json_int_t)a->requests_retried, "retry_rate", ratio(a->requests_retried, a->n),
        "low_confidence_gated", r->low_confidence_gated, "by_trigger", by);
}

static json_t *structured_json(const rr_demo_arm *a) {
    json_t *by = json_object();
    for (size_t m = 0; m < a->nmodels; m++)
        if (a->json_outputs[m])
            json_object_set_new(by, a->model[m],
                                json_pack("{s:I,s:I,s:o}", "outputs",
                                          (json_int_t)a->json_outputs[m], "schema_valid",
                                          (json_int_t)a->json_schema_valid[m], "rate",
                                          ratio(a->json_schema_valid[m], a->json_outputs[m])));
    return json_pack(
        "{s:I,s:I,s:I,s:I,s:o,s:o}", "extraction_requests", (json_int_t)a->extract_requests,
        "extraction_answered", (json_int_t)a->extract_accepted, "accepted_json",
        (json_int_t)a->json_accepted, "accepted_json_schema_valid",
        (json_int_t)a->json_accepted_schema_valid, "accepted_schema_valid_rate",
        ratio(a->json_accepted_schema_valid, a->json_accepted), "model_output_schema_valid", by);
}

static json_t *arm_json(const rr_demo_arm *a) {
    json_t *calls = json_object();
    for (size_t m = 0; m < a->nmodels; m++)
        json_object_set_new(
            calls, a->model[m],
            json_pack("{s:I,s:f}", "calls", (json_int_t)a->calls[m], "cost_usd", a->model_cost[m]));
    json_t *kinds = json_object();
    for (int k = 0; k < 5; k++)
        json_object_set_new(kinds, kind_names[k], json_integer((json_int_t)a->kinds[k]));
    return json_pack("{s:s,s:s?,s:f,s:f,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "name", a->name,
                     "forced_model", a->forced[0] ? a->forced : NULL, "cost_usd", a->cost_usd,
                     "cost_per_request_usd", a->cost_usd / (double)a->n,
                     "gen_ai.usage.input_tokens", (json_int_t)a->input_tokens,
                     "gen_ai.usage.output_tokens", (json_int_t)a->output_tokens, "outcomes", kinds,
                     "answer_rate", ratio(a->kinds[0], a->n), "wrong_answer_rate",
                     ratio(a->answers_flawed, a->n), "human_review_rate", ratio(a->kinds[3], a->n),
                     "latency_p50_ms", ms_or_null(a->p50), "latency_p95_ms", ms_or_null(a->p95),
                     "calls_by_model", calls, "extraction_answer_rate",
                     ratio(a->extract_accepted, a->extract_requests));
}

int rr_demo_write_json(const rr_demo_report *r, FILE *f) {
    const rr_demo_arm *a = &r->arm[0];
    json_t *arms = json_array();
    for (size_t k = 0; k < r->narms; k++)
        json_array_append_new(arms, arm_json(&r->arm[k]));
    json_t *doc =
        json_pack("{s:{s:s,s:s,s:s},s:I,s:I,s:o,s:o,s:o,s:o,s:o}", "policy", "name", r->policy,
                  "version", r->version, "fingerprint", r->fingerprint, "seed", (json_int_t)r->seed,
                  "requests", (json_int_t)r->requests, "families", families_json(a), "routes",
                  routes_json(a), "escalations", escalations_json(r, a), "structured_output",
                  structured_json(a), "strategies", arms);
    if (!doc)
        return RR_ENOMEM;
    int rc = json_dumpf(doc, f, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) ? RR_EIO : RR_OK;
    json_decref(doc);
    if (rc == RR_OK && fputc('\n', f) == EOF)
        rc = RR_EIO;
    return rc;
}

/* ---- command line ---- */

static void usage(FILE *f, const char *prog) {
    fprintf(f,
            "usage: %s [--seed N] [--requests N] [--json FILE] [--policy FILE] [--no-baselines]\n"
            "\n"
            "Runs the support copilot end to end: N synthetic requests (default 10000) from seed\n"
            "N (default 42) through the policy (default: the built-in support policy) with a\n"
            "simulated model backend, then the same requests with every model route forced to\n"
            "the top-tier and to the cheapest model. Prints route distribution, escalations by\n"
            "trigger, human-review rate, schema validity of accepted JSON, cost per request\n"
            "against the baselines and latency by family; --json FILE writes the same as JSON.\n"
            "The output depends only on the options.\n",
            prog);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out) {
    if (!s || !*s || *s == '-')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, const char *prog, rr_demo_options *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, prog);
            return 1;
        } else if (!strcmp(a, "--no-baselines")) {
            o->baselines = 0;
            continue;
        } else if (!v) {
            fprintf(stderr, "%s: %s needs a value (or is unknown)\n", prog, a);
            return -1;
        } else if (!strcmp(a, "--seed")) {
            if (parse_u64(v, UINT64_MAX, &o->seed)) {
                fprintf(stderr, "%s: --seed wants an unsigned integer, not '%s'\n", prog, v);
                return -1;
            }
        } else if (!strcmp(a, "--requests")) {
            if (parse_u64(v, 10000000, &n) || n == 0) {
                fprintf(stderr, "%s: --requests wants 1..10000000, not '%s'\n", prog, v);
                return -1;
            }
            o->requests = (size_t)n;
        } else if (!strcmp(a, "--json")) {
            o->json_path = v;
        } else if (!strcmp(a, "--policy")) {
            o->policy_path = v;
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n", prog, a);
            return -1;
        }
        i++;
    }
    return 0;
}

static int write_json_file(const rr_demo_report *rep, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "demo: %s: %s\n", path, strerror(errno));
        return RR_DEMO_FAILURE;
    }
    int rc = rr_demo_write_json(rep, f);
    if (fclose(f) != 0 || rc != RR_OK) {
        fprintf(stderr, "demo: %s: cannot write the JSON report\n", path);
        return RR_DEMO_FAILURE;
    }
    return RR_DEMO_OK;
}

int rr_demo_main(int argc, char **argv) {
    rr_demo_options o = RR_DEMO_OPTIONS_INIT;
    o.progress = 1;
    /* Under rrctl, argv[0] is the subcommand. */
    const char *prog = argc < 1 ? "demo" : strcmp(argv[0], "demo") ? argv[0] : "rrctl demo";
    int p = parse_args(argc, argv, prog, &o);
    if (p)
        return p > 0 ? RR_DEMO_OK : RR_DEMO_USAGE;
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_demo_report *rep = rr_calloc(&a, 1, sizeof *rep);
    if (!rep)
        return RR_DEMO_FAILURE;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_demo_run(&o, rep, &err);
    int exit_code = RR_DEMO_OK;
    if (rc != RR_OK) {
        fprintf(stderr, "demo: %s [%s]", err.message[0] ? err.message : rr_strerror(rc),
                rr_error_name(rc));
        if (err.line)
            fprintf(stderr, " (line %u, column %u)", (unsigned)err.line, (unsigned)err.column);
        fputc('\n', stderr);
        exit_code = rc == RR_EPOLICY || rc == RR_EJSON || rc == RR_EEXPR || rc == RR_EREGEX ||
                            rc == RR_ESCHEMA
                        ? RR_DEMO_POLICY
                        : RR_DEMO_FAILURE;
    } else {
        rr_demo_print(rep, stdout);
        if (fflush(stdout) != 0)
            exit_code = RR_DEMO_FAILURE;
        if (o.json_path && exit_code == RR_DEMO_OK)
            exit_code = write_json_file(rep, o.json_path);
        if (isatty(2))
            fprintf(stderr, "demo: %zu runs of rr_run in %.2f s\n", rep->narms * rep->requests,
                    rep->seconds);
    }
    rr_free(&a, rep);
    return exit_code;
}
