/* Offline evaluation: replay recorded traffic through a policy exactly as live traffic
 * would go (rr_route, validate or read the recorded verdict, rr_escalate until accepted or
 * terminal) and keep a mergeable aggregate of what happened, overall and per task family,
 * beside policy-independent baselines. JSON output and merging live in eval_json.c. */
#include "eval_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int rr_eval_options_init(rr_eval_options *o, unsigned int version) {
    if (!o || version != RR_EVAL_OPTIONS_VERSION)
        return RR_EINVAL;
    rr_eval_options d = RR_EVAL_OPTIONS_INIT;
    *o = d;
    return RR_OK;
}

/* ---- groups ------------------------------------------------------------------------- */

static ev_group *group_new(rr_eval *ev, const char *name) {
    ev_group *g = rr_calloc(&ev->a, 1, sizeof *g);
    if (!g)
        return NULL;
    g->name = rr_strdup(&ev->a, name);
    g->rt = rr_calloc(&ev->a, ev->nroutes * RT__K + 1, sizeof *g->rt);
    if (!g->name || !g->rt) {
        rr_free(&ev->a, g->name);
        rr_free(&ev->a, g->rt);
        rr_free(&ev->a, g);
        return NULL;
    }
    return g;
}

static void group_free(rr_eval *ev, ev_group *g) {
    if (!g)
        return;
    rr_sketch_free(&g->sk, &ev->a);
    for (int k = 0; k < B__K; k++)
        rr_sketch_free(&g->base[k].sk, &ev->a);
    rr_free(&ev->a, g->name);
    rr_free(&ev->a, g->rt);
    rr_free(&ev->a, g);
}

/* The group for `name`, created on first use; past RR_EVAL_MAX_GROUPS families share
 * "(other)" so a label with unbounded values cannot grow memory without bound. */
ev_group *rr_ev_group(rr_eval *ev, const char *name) {
    if (ev->last_group < ev->ngroups && !strcmp(ev->groups[ev->last_group]->name, name))
        return ev->groups[ev->last_group];
    for (size_t i = 0; i < ev->ngroups; i++)
        if (!strcmp(ev->groups[i]->name, name))
            return ev->groups[ev->last_group = i];
    if (ev->ngroups >= RR_EVAL_MAX_GROUPS && strcmp(name, "(other)"))
        return rr_ev_group(ev, "(other)");
    if (ev->ngroups == ev->capgroups) {
        size_t nc = ev->capgroups ? ev->capgroups * 2 : 8;
        ev_group **n = rr_realloc(&ev->a, ev->groups, ev->capgroups * sizeof *n, nc * sizeof *n);
        if (!n)
            return NULL;
        ev->groups = n;
        ev->capgroups = nc;
    }
    ev_group *g = group_new(ev, name);
    if (!g)
        return NULL;
    ev->groups[ev->ngroups] = g;
    return ev->groups[ev->last_group = ev->ngroups++];
}

int rr_ev_risk(rr_eval *ev, const char *risk) {
    for (size_t i = 0; i < ev->nrisks; i++)
        if (!strcmp(ev->risks[i], risk))
            return (int)i;
    if (ev->nrisks >= RR_EVAL_MAX_RISKS)
        return -1;
    char *s = rr_strdup(&ev->a, risk);
    if (!s)
        return -1;
    ev->risks[ev->nrisks] = s;
    return (int)ev->nrisks++;
}

/* ---- construction -------------------------------------------------------------------- */

/* Size the per-route tables (names and tiers are filled by the caller). Groups made
 * before the routes were known (a merge-only evaluation's "all") get their tables too. */
int rr_eval_adopt_routes(rr_eval *ev, size_t n) {
    const rr_alloc *a = &ev->a;
    char **names = rr_calloc(a, n + 1, sizeof *names);
    int *tier = rr_calloc(a, n + 1, sizeof *tier);
    ev_always *always = rr_calloc(a, n + 1, sizeof *always);
    uint64_t *missing = rr_calloc(a, n + 1, sizeof *missing);
    uint64_t **rts = rr_calloc(a, ev->ngroups + 1, sizeof *rts);
    bool ok = names && tier && always && missing && rts;
    for (size_t i = 0; ok && i < ev->ngroups; i++)
        ok = (rts[i] = rr_calloc(a, n * RT__K + 1, sizeof **rts)) != NULL;
    if (!ok) { /* leave the evaluation as it was */
        for (size_t i = 0; rts && i < ev->ngroups; i++)
            rr_free(a, rts[i]);
        rr_free(a, names), rr_free(a, tier), rr_free(a, always), rr_free(a, missing);
        rr_free(a, rts);
        return RR_ENOMEM;
    }
    for (size_t i = 0; i < ev->ngroups; i++) {
        rr_free(a, ev->groups[i]->rt);
        ev->groups[i]->rt = rts[i];
    }
    rr_free(a, rts);
    for (size_t i = 0; i < ev->nroutes; i++)
        rr_free(a, ev->route_names[i]);
    rr_free(a, ev->route_names), rr_free(a, ev->route_tier);
    rr_free(a, ev->always), rr_free(a, ev->missing_by_route);
    ev->route_names = names, ev->route_tier = tier, ev->always = always;
    ev->missing_by_route = missing;
    ev->nroutes = n;
    return RR_OK;
}

static int adopt_router(rr_eval *ev, const rr_router *r) {
    snprintf(ev->policy_name, sizeof ev->policy_name, "%s", r->name);
    snprintf(ev->policy_version, sizeof ev->policy_version, "%s", r->version);
    snprintf(ev->fingerprint, sizeof ev->fingerprint, "%s", r->fingerprint);
    if (rr_eval_adopt_routes(ev, r->nroutes) != RR_OK)
        return RR_ENOMEM;
    ev->tier_min = INT32_MAX;
    ev->tier_max = INT32_MIN;
    for (size_t i = 0; i < r->nroutes; i++) {
        const rr_route_def *d = &r->routes[i];
        if (!(ev->route_names[i] = rr_strdup(&ev->a, d->id)))
            return RR_ENOMEM;
        ev->route_tier[i] = d->model >= 0 ? r->models[d->model].tier : -1;
        if (d->model >= 0) {
            ev->tier_min = ev->route_tier[i] < ev->tier_min ? ev->route_tier[i] : ev->tier_min;
            ev->tier_max = ev->route_tier[i] > ev->tier_max ? ev->route_tier[i] : ev->tier_max;
        }
    }
    return RR_OK;
}

int rr_eval_new(rr_eval **out, const rr_router *router, const rr_eval_options *opts,
                rr_error *err) {
    if (!out)
        return rr_err(err, RR_EINVAL, "rr_eval_new: NULL out");
    rr_eval_options o = RR_EVAL_OPTIONS_INIT;
    if (opts) {
        if (opts->version != RR_EVAL_OPTIONS_VERSION)
            return rr_err(err, RR_EINVAL, "rr_eval_new: unsupported options version %u",
                          (unsigned)opts->version);
        o = *opts;
    }
    if (!(o.acceptable_quality >= 0 && o.acceptable_quality <= 1) ||
        !(o.human_quality >= 0 && o.human_quality <= 1) || !(o.human_cost_usd >= 0) ||
        !(o.human_latency_ms >= 0) || o.bootstrap > RR_EVAL_MAX_BOOTSTRAP)
        return rr_err(err, RR_EINVAL,
                      "rr_eval_new: acceptable_quality and human_quality must "
                      "be in [0, 1], human costs >= 0, bootstrap <= %d",
                      RR_EVAL_MAX_BOOTSTRAP);
    rr_alloc a;
    rr_alloc_init(&a, o.allocator);
    rr_eval *ev = rr_calloc(&a, 1, sizeof *ev);
    if (!ev)
        return rr_err(err, RR_ENOMEM, "out of memory");
    ev->a = a;
    ev->opts = o;
    ev->opts.allocator = NULL; /* not kept: the resolved copy is ev->a */
    ev->router = router;
    rr_buf_init(&ev->out, &ev->a);
    rr_buf_init(&ev->part, &ev->a);
    rr_buf_init(&ev->report, &ev->a);
    rr_buf_init(&ev->line, &ev->a);
    int rc = rr_eval_rec_init(&ev->rec, o.allocator);
    if (rc == RR_OK && router)
        rc = adopt_router(ev, router);
    if (rc == RR_OK && router)
        rc = rr_verdict_new(&ev->verdict, o.allocator);
    if (rc == RR_OK && o.bootstrap &&
        !(ev->boot = rr_calloc(&ev->a, (size_t)o.bootstrap * RR_BOOT__K, sizeof *ev->boot)))
        rc = RR_ENOMEM;
    if (rc == RR_OK && !rr_ev_group(ev, "all"))
        rc = RR_ENOMEM;
    if (rc != RR_OK) {
        rr_eval_free(ev);
        return rr_err(err, rc, "out of memory");
    }
    *out = ev;
    return RR_OK;
}

void rr_eval_free(rr_eval *ev) {
    if (!ev)
        return;
    for (size_t i = 0; i < ev->ngroups; i++)
        group_free(ev, ev->groups[i]);
    rr_free(&ev->a, ev->groups);
    for (size_t i = 0; i < ev->nroutes; i++)
        rr_free(&ev->a, ev->route_names[i]);
    for (size_t i = 0; i < ev->nrisks; i++)
        rr_free(&ev->a, ev->risks[i]);
    rr_free(&ev->a, ev->route_names);
    rr_free(&ev->a, ev->route_tier);
    rr_free(&ev->a, ev->always);
    rr_free(&ev->a, ev->missing_by_route);
    rr_free(&ev->a, ev->boot);
    rr_decision_free(ev->d[0]);
    rr_decision_free(ev->d[1]);
    rr_verdict_free(ev->verdict);
    rr_eval_rec_free(&ev->rec);
    rr_buf_free(&ev->out);
    rr_buf_free(&ev->part);
    rr_buf_free(&ev->report);
    rr_buf_free(&ev->line);
    rr_alloc a = ev->a;
    rr_free(&a, ev);
}

/* ---- outcome arithmetic -------------------------------------------------------------- */

static const rr_eval_outcome *outcome_of(const rr_eval_rec *rec, const rr_router *r, int i) {
    return rr_eval_rec_outcome(rec, r->routes[i].id);
}

/* Recorded cost, else recorded tokens, else an estimate (input ~ 4 bytes a token of text
 * and evidence; output ~ the recorded output, else the route's max_output_tokens), at the
 * policy's prices. */
static double attempt_cost(const rr_router *r, const rr_eval_rec *rec, int i,
                           const rr_eval_outcome *o) {
    if (o && !isnan(o->cost_usd))
        return o->cost_usd;
    const rr_route_def *d = &r->routes[i];
    if (d->model < 0)
        return 0;
    const rr_model_def *m = &r->models[d->model];
    double in = o && o->input_tokens >= 0 ? (double)o->input_tokens : (double)rec->in_bytes / 4;
    double out = o && o->output_tokens >= 0 ? (double)o->output_tokens
                 : o && o->output           ? (double)o->output_len / 4
                                            : (double)d->max_output_tokens;
    return (in * m->usd_in + out * m->usd_out) / 1e6;
}

static double attempt_latency(const rr_router *r, int i, const rr_eval_outcome *o) {
    if (o && !isnan(o->latency_ms))
        return o->latency_ms;
    const rr_route_def *d = &r->routes[i];
    return d->model >= 0 ? r->models[d->model].latency_ms : 0;
}

/* Ground truth: the labels' acceptable routes win, then quality against the threshold,
 * then the recorded verdict, then `fallback` (what the replayed validators said). */
static bool acceptable(const rr_eval *ev, const rr_eval_rec *rec, const char *route,
                       const rr_eval_outcome *o, bool fallback) {
    int l = rr_eval_rec_label_accepts(rec, route);
    if (l >= 0)
        return l;
    if (o && !isnan(o->quality))
        return o->quality >= ev->opts.acceptable_quality;
    if (o && o->accepted >= 0)
        return o->accepted;
    return fallback;
}

static double quality(const rr_eval_rec *rec, const char *route, const rr_eval_outcome *o,
                      double fallback) {
    if (o && !isnan(o->quality))
        return o->quality;
    int l = rr_eval_rec_label_accepts(rec, route);
    if (l >= 0)
        return l;
    if (o && o->accepted >= 0)
        return o->accepted;
    return fallback;
}

/* The failure an unaccepted recorded outcome stands for when none is recorded: the type
 * of the route's first validator that names a failure, else low_confidence. */
static const char *default_failure(const rr_router *r, int i) {
    const rr_route_def *d = &r->routes[i];
    for (size_t k = 0; k < d->nvalidators; k++) {
        const char *t = r->validators[d->validators[k]].type;
        if (rr_failure_lookup(t) > 0)
            return t;
    }
    return RR_FAILURE_LOW_CONFIDENCE;
}

static bool has_schema_validator(const rr_router *r, int i) {
    const rr_route_def *d = &r->routes[i];
    for (size_t k = 0; k < d->nvalidators; k++)
        if (!strcmp(r->validators[d->validators[k]].type, "schema"))
            return true;
    return false;
}

/* ---- one attempt ----------------------------------------------------------------------- */

/* Decide whether the attempt on d's route is accepted; on failure set *failure. */
static int judge(rr_eval *ev, rr_eval_rec *rec, rr_decision *d, const rr_eval_outcome *o,
                 ev_att *att, const char **failure, int *retriable, rr_error *err) {
    const rr_router *r = ev->router;
    *failure = NULL;
    *retriable = o->retriable > 0;
    if (o->failure) {
        int f = rr_failure_lookup(o->failure);
        if (f <= 0) {
            char m[200];
            snprintf(m, sizeof m, "recorded failure '%s' of route '%s' is not a failure type",
                     o->failure, o->route);
            return rr_err_at(err, RR_EDATA, "", (uint32_t)rec->lineno, 0, 0, "line %llu: %s",
                             (unsigned long long)rec->lineno, m);
        }
        *failure = o->failure;
    } else if (o->output && !(ev->opts.flags & RR_EVAL_NO_REVALIDATE)) {
        int rc = rr_validate(r, d, o->output, o->output_len, rec->req, ev->verdict, err);
        if (rc == RR_ENOMEM)
            return rc;
        if (rc != RR_OK)
            return rr_err_at(err, RR_EDATA, "", (uint32_t)rec->lineno, 0, 0,
                             "line %llu: route '%s': recorded output: %s",
                             (unsigned long long)rec->lineno, o->route, err ? err->message : "");
        if (!rr_verdict_passed(ev->verdict))
            *failure = rr_verdict_failure(ev->verdict);
        if (has_schema_validator(r, d->route)) {
            att->validated = 1;
            att->schema_ok =
                !*failure || (strcmp(*failure, "schema") && strcmp(*failure, "truncated"));
        }
    } else if (o->accepted == 0) {
        *failure = default_failure(r, d->route);
    }
    if (!*failure && o->confidence >= 0 && r->routes[d->route].min_confidence >= 0 &&
        o->confidence < r->routes[d->route].min_confidence)
        *failure = RR_FAILURE_LOW_CONFIDENCE;
    if (!att->validated && o->schema_valid >= 0) {
        att->validated = 1;
        att->schema_ok = (int8_t)o->schema_valid;
    }
    return RR_OK;
}

/* ---- baselines ---------------------------------------------------------------------- */

/* Policy-independent choices among the routes the record has outcomes for (and that
 * eligibility allows it; all of them when it allows none): the cheapest tier, the top
 * tier, and the oracle (the cheapest acceptable route, else the cheapest). */
static void baselines(rr_eval *ev, const rr_eval_rec *rec, const rr_decision *first,
                      ev_result *res) {
    const rr_router *r = ev->router;
    for (int k = 0; k < B__K; k++)
        res->base[k].route = -1;
    for (int pass = 0; pass < 2 && res->base[B_CHEAP].route < 0; pass++) {
        for (size_t j = 0; j < rec->nout; j++) {
            int i = rr_ev_route_index(ev, rec->out[j].route);
            if (i < 0 || r->routes[i].model < 0)
                continue;
            int idx;
            if (pass == 0 && first && rr_route_denied(r, first->denied, i, &idx) >= 0)
                continue;
            const rr_eval_outcome *o = &rec->out[j];
            ev_pick c = {i, quality(rec, o->route, o, 1), attempt_cost(r, rec, i, o),
                         attempt_latency(r, i, o), false};
            c.ok = acceptable(ev, rec, o->route, o, true);
            int t = ev->route_tier[i];
            ev_pick *b = &res->base[B_CHEAP];
            if (b->route < 0 || t < ev->route_tier[b->route] ||
                (t == ev->route_tier[b->route] && c.cost < b->cost))
                *b = c;
            b = &res->base[B_PREM];
            if (b->route < 0 || t > ev->route_tier[b->route] ||
                (t == ev->route_tier[b->route] &&
                 (c.q > b->q || (c.q == b->q && c.cost < b->cost))))
                *b = c;
            b = &res->base[B_ORACLE];
            if (b->route < 0 || (c.ok && !b->ok) ||
                (c.ok == b->ok && (c.cost < b->cost || (c.cost == b->cost && c.q > b->q))))
                *b = c;
        }
    }
}

/* ---- the replay ---------------------------------------------------------------------- */

static int route_err(const rr_eval_rec *rec, int rc, rr_error *err) {
    if (rc == RR_ENOMEM)
        return rc;
    return rr_err_at(err, RR_EDATA, "", (uint32_t)rec->lineno, 0, 0,
                     "line %llu: cannot route the request: %s", (unsigned long long)rec->lineno,
                     err ? err->message : rr_strerror(rc));
}

/* Close the ladder on a terminal route (human, clarify, defer, refuse). */
static void terminal(rr_eval *ev, const rr_eval_rec *rec, int i, ev_result *res) {
    const rr_router *r = ev->router;
    const rr_eval_outcome *o = outcome_of(rec, r, i);
    bool human = r->routes[i].kind == RR_ROUTE_HUMAN;
    res->cost += o && !isnan(o->cost_usd) ? o->cost_usd : human ? ev->opts.human_cost_usd : 0;
    res->lat += o && !isnan(o->latency_ms) ? o->latency_ms : human ? ev->opts.human_latency_ms : 0;
    res->q = quality(rec, r->routes[i].id, o, human ? ev->opts.human_quality : 0);
    res->ok = acceptable(ev, rec, r->routes[i].id, o, res->q >= ev->opts.acceptable_quality);
    res->human = human;
    res->final = i;
}

/* Walk the ladder from the decision in ev->d[0]. */
static int ladder(rr_eval *ev, rr_eval_rec *rec, ev_result *res, rr_error *err) {
    const rr_router *r = ev->router;
    int cur = 0;
    for (int step = 0;; step++) {
        rr_decision *d = ev->d[cur];
        int i = d->route;
        if (step >= RR_EVAL_MAX_STEPS)
            return rr_err_at(err, RR_EDATA, "", (uint32_t)rec->lineno, 0, 0,
                             "line %llu: the ladder did not end within %d steps",
                             (unsigned long long)rec->lineno, RR_EVAL_MAX_STEPS);
        if (r->routes[i].kind != RR_ROUTE_MODEL) {
            terminal(ev, rec, i, res);
            return RR_OK;
        }
        const rr_eval_outcome *o = outcome_of(rec, r, i);
        if (!o) {
            res->missing = i;
            return RR_OK;
        }
        ev_att *att = &res->att[res->natt < RR_EVAL_MAX_STEPS ? res->natt++ : res->natt - 1];
        *att = (ev_att){i, 0, 0};
        double c = attempt_cost(r, rec, i, o), l = attempt_latency(r, i, o);
        d->cost_usd += c; /* recorded cost, not tokens at list price: limits see the truth */
        d->latency_ms += l;
        res->cost += c;
        res->lat += l;
        const char *failure;
        int retriable;
        int rc = judge(ev, rec, d, o, att, &failure, &retriable, err);
        if (rc != RR_OK)
            return rc;
        if (ev->route_tier[i] == ev->tier_max)
            res->prem_used = true;
        if (ev->route_tier[i] == ev->tier_min)
            res->cheap_used = true;
        if (step == 0)
            res->needed = !acceptable(ev, rec, o->route, o, !failure);
        if (!failure) {
            res->final = i;
            res->q = quality(rec, o->route, o, 1);
            res->ok = acceptable(ev, rec, o->route, o, true);
            return RR_OK;
        }
        res->escalated = true;
        rc = rr_escalate(r, d, failure, retriable, &ev->d[!cur], err);
        if (rc != RR_OK)
            return rc == RR_ENOMEM ? rc : route_err(rec, rc, err);
        cur = !cur;
    }
}

int rr_ev_route_index(const rr_eval *ev, const char *id) {
    for (size_t i = 0; i < ev->nroutes; i++)
        if (!strcmp(ev->route_names[i], id))
            return (int)i;
    return -1;
}

static int replay(rr_eval *ev, rr_eval_rec *rec, ev_result *res, rr_error *err) {
    const rr_router *r = ev->router;
    memset(res, 0, sizeof *res);
    res->first = res->final = res->rule = res->missing = -1;
    res->needed = -1;
    int rc = rr_route(r, rec->req, &ev->d[0], err);
    if (rc != RR_OK)
        return route_err(rec, rc, err);
    rr_decision *d = ev->d[0];
    res->first = d->route;
    res->rule = d->rule;
    res->family = rec->task ? rec->task : r->tasks[d->task];
    baselines(ev, rec, d, res);
    return ladder(ev, rec, res, err);
}

/* ---- accumulation -------------------------------------------------------------------- */

static bool add_base(rr_eval *ev, ev_base *b, const ev_pick *p) {
    if (p->route < 0)
        return true;
    b->n++;
    b->q += p->q;
    b->cost += p->cost;
    b->lat += p->lat;
    return rr_sketch_add(&b->sk, &ev->a, p->lat, 1);
}

static bool add_group(rr_eval *ev, ev_group *g, const rr_eval_rec *rec, const ev_result *s) {
    g->n++;
    g->q += s->q;
    g->cost += s->cost;
    g->lat += s->lat;
    bool cheap_final = s->final >= 0 && ev->route_tier[s->final] == ev->tier_min;
    bool prem_final = s->final >= 0 && ev->route_tier[s->final] == ev->tier_max;
    g->escalated += s->escalated;
    if (s->needed >= 0) {
        g->needed_known++;
        g->needed += s->needed;
        g->esc_needed += s->needed && s->escalated;
    }
    g->cheap_final += cheap_final;
    g->false_cheap += cheap_final && !s->ok;
    g->prem_final += prem_final;
    g->prem_used += s->prem_used;
    if (s->prem_used && s->base[B_ORACLE].ok && s->base[B_ORACLE].route >= 0 &&
        ev->route_tier[s->base[B_ORACLE].route] < ev->tier_max)
        g->prem_overuse++;
    int l = s->final >= 0 ? rr_eval_rec_label_accepts(rec, ev->route_names[s->final]) : -1;
    if (l >= 0) {
        g->label_n++;
        g->label_ok += (uint64_t)l;
    }
    g->human += s->human;
    if (rec->human_review == 1) {
        g->hr_required++;
        g->hr_sent += s->human;
    }
    g->answered_ok += s->ok;
    if (s->risk >= 0) {
        g->risk_n[s->risk]++;
        g->risk_cheap[s->risk] += s->cheap_used;
    }
    uint64_t *rt = g->rt;
    if (s->first >= 0)
        rt[s->first * RT__K + RT_FIRST]++;
    if (s->final >= 0)
        rt[s->final * RT__K + RT_FINAL]++;
    for (size_t k = 0; k < s->natt; k++) {
        uint64_t *x = rt + s->att[k].route * RT__K;
        x[RT_ATTEMPTS]++;
        x[RT_VALIDATED] += (uint64_t)s->att[k].validated;
        x[RT_SCHEMA_OK] += (uint64_t)s->att[k].schema_ok;
    }
    bool ok = rr_sketch_add(&g->sk, &ev->a, s->lat, 1);
    for (int k = 0; k < B__K; k++)
        ok = add_base(ev, &g->base[k], &s->base[k]) && ok;
    return ok;
}

static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Poisson(1) from a uniform 64-bit value: the inverse CDF, tabulated. */
static int poisson1(uint64_t h) {
    static const double cdf[] = {0.36787944117144233, 0.7357588823428847, 0.9196986029286058,
                                 0.9810118431238463,  0.9963401531726563, 0.9994058151824183,
                                 0.999916758850712,   0.9999897508033253, 0.999998874797402,
                                 0.9999998885745216};
    double u = (double)(h >> 11) * (1.0 / 9007199254740992.0);
    int k = 0;
    while (k < (int)RR_ARRAY_LEN(cdf) && u >= cdf[k])
        k++;
    return k;
}

static void add_boot(rr_eval *ev, const rr_eval_rec *rec, const ev_result *s) {
    uint64_t base = mix64(rec->key ^ mix64(ev->opts.seed));
    const ev_pick *p = &s->base[B_PREM];
    bool prem = s->final >= 0 && ev->route_tier[s->final] == ev->tier_max;
    for (uint32_t b = 0; b < ev->opts.bootstrap; b++) {
        int w = poisson1(mix64(base + b));
        if (!w)
            continue;
        double *x = ev->boot + (size_t)b * RR_BOOT__K;
        x[RR_BOOT_W] += w;
        x[RR_BOOT_Q] += w * s->q;
        x[RR_BOOT_COST] += w * s->cost;
        x[RR_BOOT_LAT] += w * s->lat;
        x[RR_BOOT_ESC] += w * s->escalated;
        x[RR_BOOT_HUMAN] += w * s->human;
        x[RR_BOOT_PREM] += w * prem;
        x[RR_BOOT_QPREM] += w * (p->route >= 0 ? p->q : s->q);
    }
}

/* Strong/weak research figures, on records that have both a cheapest and a top-tier
 * outcome on different routes. */
static void add_pair(rr_eval *ev, const rr_eval_rec *rec, const ev_result *s) {
    const ev_pick *w = &s->base[B_CHEAP], *st = &s->base[B_PREM];
    if (w->route < 0 || st->route < 0 || w->route == st->route)
        return;
    ev_pair *p = &ev->pair;
    p->n++;
    p->qw += w->q;
    p->qs += st->q;
    p->qp += s->q;
    p->prem += s->final >= 0 && ev->route_tier[s->final] == ev->tier_max;
    double g = st->q - w->q;
    int bin = (int)lround((g + 1) * (RR_EVAL_GAIN_BINS - 1) / 2);
    bin = bin < 0 ? 0 : bin >= RR_EVAL_GAIN_BINS ? RR_EVAL_GAIN_BINS - 1 : bin;
    p->gcnt[bin] += 1;
    p->gsum[bin] += g;
    /* Random router: strong when u < x. Its quality at grid share x_k is w for k < k0 and
     * s from k0 on, kept as a difference array so each record costs O(1). */
    double u =
        (double)(mix64(rec->key ^ mix64(ev->opts.seed + 7)) >> 11) * (1.0 / 9007199254740992.0);
    int k0 = (int)floor(u * (RR_EVAL_RAND_GRID - 1)) + 1;
    p->rdiff[0] += w->q;
    if (k0 < RR_EVAL_RAND_GRID)
        p->rdiff[k0] += g;
}

static void add_always(rr_eval *ev, const rr_eval_rec *rec) {
    const rr_router *r = ev->router;
    for (size_t j = 0; j < rec->nout; j++) {
        int i = rr_ev_route_index(ev, rec->out[j].route);
        if (i < 0 || r->routes[i].model < 0)
            continue;
        ev_always *x = &ev->always[i];
        x->n++;
        x->q += quality(rec, rec->out[j].route, &rec->out[j], 1);
        x->cost += attempt_cost(r, rec, i, &rec->out[j]);
    }
}

int rr_eval_add_record(rr_eval *ev, rr_eval_rec *rec, rr_eval_trace *trace, rr_error *err) {
    if (!ev || !rec || !ev->router)
        return rr_err(err, RR_EINVAL, "rr_eval_add_record: NULL argument or no router");
    ev_result s;
    int rc = replay(ev, rec, &s, err);
    if (trace) {
        *trace = (rr_eval_trace){rc == RR_OK ? (s.missing >= 0 ? 1 : 0) : 2,
                                 s.first,
                                 s.final,
                                 s.rule,
                                 s.missing >= 0 ? ev->route_names[s.missing] : NULL,
                                 (uint32_t)s.natt,
                                 s.q,
                                 s.cost,
                                 s.lat};
    }
    if (rc != RR_OK)
        return rc;
    for (size_t j = 0; j < rec->nout; j++)
        if (rr_ev_route_index(ev, rec->out[j].route) < 0 && !ev->unknown_outcomes++)
            snprintf(ev->unknown_route, sizeof ev->unknown_route, "%s", rec->out[j].route);
    if (s.missing >= 0) {
        ev->missing++;
        ev->missing_by_route[s.missing]++;
        return RR_OK;
    }
    s.risk = rec->risk ? rr_ev_risk(ev, rec->risk) : -1;
    ev_group *all = ev->groups[0], *fam = rr_ev_group(ev, s.family);
    if (!fam || !add_group(ev, all, rec, &s) || !add_group(ev, fam, rec, &s))
        return rr_err(err, RR_ENOMEM, "out of memory");
    ev->records++;
    add_pair(ev, rec, &s);
    add_always(ev, rec);
    if (ev->boot)
        add_boot(ev, rec, &s);
    return RR_OK;
}

/* ---- public entry points ---------------------------------------------------------------- */

void rr_eval_note_malformed(rr_eval *ev, uint64_t lineno, const rr_error *e) {
    ev->malformed++;
    if (ev->nerrs < RR_EVAL_KEEP_ERRORS) {
        ev->errs[ev->nerrs].line = lineno;
        snprintf(ev->errs[ev->nerrs].msg, sizeof ev->errs[0].msg, "%s",
                 e && e->message[0] ? e->message : "malformed record");
        ev->nerrs++;
    }
}

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

int rr_eval_add_line(rr_eval *ev, const char *line, size_t len, rr_error *err) {
    if (!ev || (!line && len))
        return rr_err(err, RR_EINVAL, "rr_eval_add_line: NULL argument");
    if (!ev->router)
        return rr_err(err, RR_ESTATE,
                      "rr_eval_add_line: this evaluation has no router "
                      "(it was made for merging partials)");
    uint64_t no = ++ev->lines;
    if (blank(line, len))
        return RR_OK;
    rr_error local = RR_ERROR_INIT;
    rr_error *e = err ? err : &local;
    int rc = rr_eval_rec_parse(&ev->rec, line, len, no, e);
    if (rc == RR_OK) {
        rc = rr_eval_add_record(ev, &ev->rec, NULL, e);
        rr_eval_rec_clear(&ev->rec);
    }
    if (rc == RR_EDATA) {
        rr_eval_note_malformed(ev, no, e);
        if (ev->opts.flags & RR_EVAL_SKIP_MALFORMED)
            return RR_OK;
    }
    return rc;
}

int rr_eval_add_file(rr_eval *ev, const char *path, rr_error *err) {
    if (!ev || !path)
        return rr_err(err, RR_EINVAL, "rr_eval_add_file: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return rr_err(err, RR_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint64_t before = ev->records + ev->missing + ev->malformed;
    char chunk[1 << 16];
    size_t n;
    int rc = RR_OK;
    rr_buf_clear(&ev->line);
    while (rc == RR_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        size_t start = 0;
        for (size_t i = 0; i < n && rc == RR_OK; i++) {
            if (chunk[i] != '\n')
                continue;
            if (ev->line.len) { /* a line that began in an earlier chunk */
                rr_buf_put(&ev->line, chunk + start, i - start);
                rc = ev->line.oom ? RR_ENOMEM : rr_eval_add_line(ev, ev->line.p, ev->line.len, err);
                rr_buf_clear(&ev->line);
            } else {
                rc = rr_eval_add_line(ev, chunk + start, i - start, err);
            }
            start = i + 1;
        }
        if (rc == RR_OK && start < n)
            rr_buf_put(&ev->line, chunk + start, n - start);
        if (ev->line.oom)
            rc = rr_err(err, RR_ENOMEM, "out of memory");
    }
    if (rc == RR_OK && ferror(f))
        rc = rr_err(err, RR_EIO, "%s: read error", path);
    if (rc == RR_OK && ev->line.len)
        rc = rr_eval_add_line(ev, ev->line.p, ev->line.len, err);
    rr_buf_clear(&ev->line);
    fclose(f);
    if (rc == RR_OK && ev->records + ev->missing + ev->malformed == before)
        rc = rr_err(err, RR_EDATA, "%s: no records (the file is empty)", path);
    return rc;
}

uint64_t rr_eval_record_count(const rr_eval *ev) {
    return ev ? ev->records : 0;
}
uint64_t rr_eval_malformed_count(const rr_eval *ev) {
    return ev ? ev->malformed : 0;
}
uint64_t rr_eval_missing_count(const rr_eval *ev) {
    return ev ? ev->missing : 0;
}
uint64_t rr_eval_lines(const rr_eval *ev) {
    return ev->lines;
}
void rr_eval_set_lines(rr_eval *ev, uint64_t lines) {
    ev->lines = lines;
}
const rr_router *rr_eval_router(const rr_eval *ev) {
    return ev->router;
}
