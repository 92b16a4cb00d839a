/* The evaluation as JSON: the metrics report (rr_eval_result_json), the raw aggregate
 * (rr_eval_partial_json) and merging partials back (rr_eval_merge_json). */
#include "eval_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double ratio(double num, double den) {
    return den > 0 ? num / den : NAN;
}

static void key(rr_buf *b, const char *k) {
    rr_buf_json_str(b, k, strlen(k));
    rr_buf_putc(b, ':');
}

static void knum(rr_buf *b, const char *k, double v) {
    key(b, k);
    rr_buf_json_num(b, v);
    rr_buf_putc(b, ',');
}

static void kstr(rr_buf *b, const char *k, const char *v) {
    key(b, k);
    rr_buf_json_str(b, v, strlen(v));
    rr_buf_putc(b, ',');
}

/* Drop a trailing comma before closing. */
static void close_(rr_buf *b, char c) {
    if (b->len && b->p[b->len - 1] == ',')
        b->len--;
    rr_buf_putc(b, c);
}

static void latency(rr_buf *b, const rr_sketch *const *s, const double *w, size_t k, double mean) {
    key(b, "latency_ms");
    rr_buf_putc(b, '{');
    knum(b, "mean", mean);
    knum(b, "p50", rr_sketch_quantile_mix(s, w, k, 0.50));
    knum(b, "p95", rr_sketch_quantile_mix(s, w, k, 0.95));
    knum(b, "p99", rr_sketch_quantile_mix(s, w, k, 0.99));
    close_(b, '}');
    rr_buf_putc(b, ',');
}

static void base_json(rr_buf *b, const char *name, const ev_base *x) {
    key(b, name);
    rr_buf_putc(b, '{');
    knum(b, "n", (double)x->n);
    knum(b, "quality", ratio(x->q, (double)x->n));
    knum(b, "cost_per_request_usd", ratio(x->cost, (double)x->n));
    const rr_sketch *s = &x->sk;
    double w = 1;
    latency(b, &s, &w, 1, ratio(x->lat, (double)x->n));
    close_(b, '}');
    rr_buf_putc(b, ',');
}

/* Random routing at the policy's premium share p: each request goes to the top tier with
 * probability p, so every figure is the p-mixture of the two baselines (exact, not
 * sampled; latency percentiles from the mixed sketches). */
static void random_json(rr_buf *b, const ev_group *g) {
    const ev_base *c = &g->base[B_CHEAP], *p = &g->base[B_PREM];
    double share = ratio((double)g->prem_final, (double)g->n);
    key(b, "random_same_premium_share");
    if (!c->n || !p->n || isnan(share)) {
        rr_buf_puts(b, "null,");
        return;
    }
    rr_buf_putc(b, '{');
    knum(b, "premium_share", share);
    knum(b, "quality", (1 - share) * c->q / (double)c->n + share * p->q / (double)p->n);
    knum(b, "cost_per_request_usd",
         (1 - share) * c->cost / (double)c->n + share * p->cost / (double)p->n);
    const rr_sketch *s[2] = {&c->sk, &p->sk};
    double w[2] = {(1 - share) * (double)g->n / (double)c->n, share * (double)g->n / (double)p->n};
    latency(b, s, w, 2, (1 - share) * c->lat / (double)c->n + share * p->lat / (double)p->n);
    close_(b, '}');
    rr_buf_putc(b, ',');
}

static void route_counts(rr_buf *b, const rr_eval *ev, const ev_group *g, const char *name,
                         int which) {
    key(b, name);
    rr_buf_putc(b, '{');
    for (size_t i = 0; i < ev->nroutes; i++)
        if (g->rt[i * RT__K + which])
            knum(b, ev->route_names[i], (double)g->rt[i * RT__K + which]);
    close_(b, '}');
    rr_buf_putc(b, ',');
}

static void group_json(rr_buf *b, const rr_eval *ev, const ev_group *g) {
    double n = (double)g->n;
    rr_buf_putc(b, '{');
    knum(b, "n", n);
    knum(b, "quality", ratio(g->q, n));
    knum(b, "acceptable_rate", ratio((double)g->answered_ok, n));
    knum(b, "cost_per_request_usd", ratio(g->cost, n));
    knum(b, "total_cost_usd", g->cost);
    const rr_sketch *s = &g->sk;
    double w = 1;
    latency(b, &s, &w, 1, ratio(g->lat, n));
    knum(b, "premium_share", ratio((double)g->prem_final, n));
    key(b, "routes");
    rr_buf_putc(b, '{');
    route_counts(b, ev, g, "first", RT_FIRST);
    route_counts(b, ev, g, "final", RT_FINAL);
    route_counts(b, ev, g, "attempts", RT_ATTEMPTS);
    close_(b, '}');
    rr_buf_putc(b, ',');
    key(b, "escalation");
    rr_buf_putc(b, '{');
    knum(b, "rate", ratio((double)g->escalated, n));
    knum(b, "precision", ratio((double)g->esc_needed, (double)g->escalated));
    knum(b, "recall", ratio((double)g->esc_needed, (double)g->needed));
    knum(b, "escalated", (double)g->escalated);
    knum(b, "needed", (double)g->needed);
    close_(b, '}');
    rr_buf_putc(b, ',');
    knum(b, "false_cheap_route_rate", ratio((double)g->false_cheap, (double)g->cheap_final));
    knum(b, "false_cheap_routes", (double)g->false_cheap);
    knum(b, "premium_overuse_rate", ratio((double)g->prem_overuse, (double)g->prem_used));
    knum(b, "premium_overuse", (double)g->prem_overuse);
    knum(b, "route_accuracy", ratio((double)g->label_ok, (double)g->label_n));
    knum(b, "route_labelled", (double)g->label_n);
    knum(b, "human_review_rate", ratio((double)g->human, n));
    knum(b, "human_review_recall", ratio((double)g->hr_sent, (double)g->hr_required));
    key(b, "schema_valid_rate");
    rr_buf_putc(b, '{');
    for (size_t i = 0; i < ev->nroutes; i++) {
        const uint64_t *x = g->rt + i * RT__K;
        if (x[RT_VALIDATED])
            knum(b, ev->route_names[i], ratio((double)x[RT_SCHEMA_OK], (double)x[RT_VALIDATED]));
    }
    close_(b, '}');
    rr_buf_putc(b, ',');
    key(b, "risk");
    rr_buf_putc(b, '{');
    for (size_t i = 0; i < ev->nrisks; i++) {
        if (!g->risk_n[i])
            continue;
        key(b, ev->risks[i]);
        rr_buf_printf(b, "{\"n\":%llu,\"cheap\":%llu},", (unsigned long long)g->risk_n[i],
                      (unsigned long long)g->risk_cheap[i]);
    }
    close_(b, '}');
    rr_buf_putc(b, ',');
    key(b, "baselines");
    rr_buf_putc(b, '{');
    base_json(b, "always_cheapest", &g->base[B_CHEAP]);
    base_json(b, "always_premium", &g->base[B_PREM]);
    random_json(b, g);
    base_json(b, "oracle", &g->base[B_ORACLE]);
    close_(b, '}');
    close_(b, '}');
}

static void curve_json(rr_buf *b, const char *name, int rc, const rr_route_curve *c) {
    key(b, name);
    if (rc != RR_OK) {
        rr_buf_puts(b, "null,");
        return;
    }
    rr_buf_putc(b, '{');
    knum(b, "apgr", c->apgr);
    knum(b, "cpt50", c->cpt50);
    knum(b, "cpt80", c->cpt80);
    close_(b, '}');
    rr_buf_putc(b, ',');
}

static void research_json(rr_buf *b, const rr_eval *ev) {
    key(b, "research");
    rr_buf_putc(b, '{');
    const ev_pair *p = &ev->pair;
    key(b, "pair");
    if (!p->n) {
        rr_buf_puts(b, "null,");
    } else {
        double n = (double)p->n, qw = p->qw / n, qs = p->qs / n;
        rr_buf_putc(b, '{');
        knum(b, "n", n);
        kstr(b, "weak", "cheapest tier with an outcome");
        kstr(b, "strong", "top tier with an outcome");
        knum(b, "q_weak", qw);
        knum(b, "q_strong", qs);
        knum(b, "policy_premium_share", p->prem / n);
        knum(b, "policy_quality", p->qp / n);
        knum(b, "policy_pgr", qs != qw ? (p->qp / n - qw) / (qs - qw) : NAN);
        rr_route_curve c;
        curve_json(b, "random", rr_ev_random_curve(ev, &c), &c);
        curve_json(b, "oracle", rr_ev_oracle_curve(ev, &c), &c);
        close_(b, '}');
        rr_buf_putc(b, ',');
    }
    key(b, "models");
    rr_buf_putc(b, '[');
    for (size_t i = 0; i < ev->nroutes; i++) {
        const ev_always *x = &ev->always[i];
        if (!x->n)
            continue;
        rr_buf_putc(b, '{');
        kstr(b, "route", ev->route_names[i]);
        knum(b, "n", (double)x->n);
        knum(b, "quality", x->q / (double)x->n);
        knum(b, "cost_per_request_usd", x->cost / (double)x->n);
        close_(b, '}');
        rr_buf_putc(b, ',');
    }
    close_(b, ']');
    rr_buf_putc(b, ',');
    knum(b, "aiq_models", rr_ev_models_aiq(ev));
    close_(b, '}');
    rr_buf_putc(b, ',');
}

static void boot_json(rr_buf *b, const rr_eval *ev) {
    if (!ev->opts.bootstrap)
        return;
    static const struct {
        const char *name;
        int m;
    } ms[] = {{"quality", RR_BOOT_Q},
              {"cost_per_request_usd", RR_BOOT_COST},
              {"latency_mean_ms", RR_BOOT_LAT},
              {"escalation_rate", RR_BOOT_ESC},
              {"human_review_rate", RR_BOOT_HUMAN},
              {"premium_share", RR_BOOT_PREM},
              {"quality_of_premium", RR_BOOT_QPREM}};
    double *v = rr_malloc(&ev->a, ev->opts.bootstrap * sizeof *v);
    if (!v) {
        ((rr_buf *)b)->oom = true;
        return;
    }
    key(b, "bootstrap");
    rr_buf_printf(b,
                  "{\"resamples\":%u,\"seed\":%llu,\"method\":\"Poisson bootstrap, "
                  "percentile 95%% interval\",\"ci\":{",
                  (unsigned)ev->opts.bootstrap, (unsigned long long)ev->opts.seed);
    for (size_t i = 0; i < RR_ARRAY_LEN(ms); i++) {
        size_t n = rr_eval_boot_values(ev, ms[i].m, v, ev->opts.bootstrap);
        double lo, hi;
        rr_boot_interval(v, n, &lo, &hi);
        key(b, ms[i].name);
        rr_buf_putc(b, '[');
        rr_buf_json_num(b, lo);
        rr_buf_putc(b, ',');
        rr_buf_json_num(b, hi);
        rr_buf_puts(b, "],");
    }
    close_(b, '}');
    rr_buf_puts(b, "},");
    rr_free(&ev->a, v);
}

static void head_json(rr_buf *b, const rr_eval *ev) {
    key(b, "policy");
    rr_buf_putc(b, '{');
    kstr(b, "name", ev->policy_name);
    kstr(b, "version", ev->policy_version);
    kstr(b, "fingerprint", ev->fingerprint);
    close_(b, '}');
    rr_buf_putc(b, ',');
    knum(b, "lines", (double)ev->lines);
    knum(b, "records", (double)ev->records);
    knum(b, "malformed", (double)ev->malformed);
    key(b, "errors");
    rr_buf_putc(b, '[');
    for (size_t i = 0; i < ev->nerrs; i++) {
        rr_buf_printf(b, "{\"line\":%llu,\"message\":", (unsigned long long)ev->errs[i].line);
        rr_buf_json_str(b, ev->errs[i].msg, strlen(ev->errs[i].msg));
        rr_buf_puts(b, "},");
    }
    close_(b, ']');
    rr_buf_putc(b, ',');
    key(b, "missing_outcome");
    rr_buf_putc(b, '{');
    knum(b, "total", (double)ev->missing);
    key(b, "by_route");
    rr_buf_putc(b, '{');
    for (size_t i = 0; i < ev->nroutes; i++)
        if (ev->missing_by_route[i])
            knum(b, ev->route_names[i], (double)ev->missing_by_route[i]);
    close_(b, '}');
    close_(b, '}');
    rr_buf_putc(b, ',');
    if (ev->unknown_outcomes) {
        key(b, "outcomes_for_unknown_routes");
        rr_buf_printf(b, "{\"count\":%llu,\"first\":", (unsigned long long)ev->unknown_outcomes);
        rr_buf_json_str(b, ev->unknown_route, strlen(ev->unknown_route));
        rr_buf_puts(b, "},");
    }
}

const char *rr_eval_result_json(rr_eval *ev, size_t *len) {
    if (!ev)
        return NULL;
    rr_buf *b = &ev->out;
    rr_buf_clear(b);
    rr_buf_puts(b, "{\"format\":\"routeright-eval-result\",\"version\":1,");
    head_json(b, ev);
    key(b, "overall");
    group_json(b, ev, ev->groups[0]);
    rr_buf_putc(b, ',');
    key(b, "families");
    rr_buf_putc(b, '{');
    for (size_t i = 1; i < ev->ngroups; i++) {
        key(b, ev->groups[i]->name);
        group_json(b, ev, ev->groups[i]);
        rr_buf_putc(b, ',');
    }
    close_(b, '}');
    rr_buf_putc(b, ',');
    research_json(b, ev);
    boot_json(b, ev);
    rr_buf_printf(b,
                  "\"sketch\":{\"type\":\"log-bucketed histogram (DDSketch mapping)\","
                  "\"relative_error\":%g}}",
                  RR_SKETCH_ALPHA);
    if (b->oom)
        return NULL;
    if (len)
        *len = b->len;
    return b->p;
}

/* ---- partial aggregate ------------------------------------------------------------- */

static void u64s(rr_buf *b, const char *k, const uint64_t *v, size_t n) {
    key(b, k);
    rr_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++)
        rr_buf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)v[i]);
    rr_buf_puts(b, "],");
}

static void nums(rr_buf *b, const char *k, const double *v, size_t n) {
    key(b, k);
    rr_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            rr_buf_putc(b, ',');
        rr_buf_json_num(b, v[i]);
    }
    rr_buf_puts(b, "],");
}

/* The counters of a group in one fixed order (the partial's "c" array). */
#define GROUP_COUNTERS(X)                                                                          \
    X(escalated)                                                                                   \
    X(needed) X(esc_needed) X(needed_known) X(cheap_final) X(false_cheap) X(prem_final)            \
        X(prem_used) X(prem_overuse) X(label_n) X(label_ok) X(human) X(hr_required) X(hr_sent)     \
            X(answered_ok)

static void group_partial(rr_buf *b, const rr_eval *ev, const ev_group *g) {
    rr_buf_putc(b, '{');
    kstr(b, "name", g->name);
    knum(b, "n", (double)g->n);
    nums(b, "sums", (double[]){g->q, g->cost, g->lat}, 3);
#define PUT(f) (double)g->f,
    nums(b, "c", (double[]){GROUP_COUNTERS(PUT) 0}, 15);
#undef PUT
    u64s(b, "risk_n", g->risk_n, ev->nrisks);
    u64s(b, "risk_cheap", g->risk_cheap, ev->nrisks);
    u64s(b, "rt", g->rt, ev->nroutes * RT__K);
    key(b, "sk");
    rr_sketch_json(&g->sk, b);
    rr_buf_puts(b, ",\"base\":[");
    for (int k = 0; k < B__K; k++) {
        const ev_base *x = &g->base[k];
        rr_buf_printf(b, "%s{\"n\":%llu,", k ? "," : "", (unsigned long long)x->n);
        nums(b, "sums", (double[]){x->q, x->cost, x->lat}, 3);
        key(b, "sk");
        rr_sketch_json(&x->sk, b);
        rr_buf_putc(b, '}');
    }
    rr_buf_puts(b, "]}");
}

const char *rr_eval_partial_json(rr_eval *ev, size_t *len) {
    if (!ev)
        return NULL;
    rr_buf *b = &ev->part;
    rr_buf_clear(b);
    rr_buf_puts(b, "{\"format\":\"routeright-eval-partial\",\"version\":1,");
    head_json(b, ev);
    key(b, "options");
    rr_buf_putc(b, '{');
    knum(b, "acceptable_quality", ev->opts.acceptable_quality);
    knum(b, "human_quality", ev->opts.human_quality);
    knum(b, "human_cost_usd", ev->opts.human_cost_usd);
    knum(b, "human_latency_ms", ev->opts.human_latency_ms);
    knum(b, "flags", ev->opts.flags & RR_EVAL_NO_REVALIDATE);
    knum(b, "bootstrap", ev->opts.bootstrap);
    rr_buf_printf(b, "\"seed\":\"%llu\"},", (unsigned long long)ev->opts.seed);
    knum(b, "sketch_alpha", RR_SKETCH_ALPHA);
    key(b, "routes");
    rr_buf_putc(b, '[');
    for (size_t i = 0; i < ev->nroutes; i++) {
        rr_buf_printf(b, "%s{\"id\":", i ? "," : "");
        rr_buf_json_str(b, ev->route_names[i], strlen(ev->route_names[i]));
        rr_buf_printf(b, ",\"tier\":%d}", ev->route_tier[i]);
    }
    rr_buf_puts(b, "],");
    rr_buf_printf(b, "\"tier_min\":%d,\"tier_max\":%d,", ev->tier_min, ev->tier_max);
    u64s(b, "missing_by_route", ev->missing_by_route, ev->nroutes);
    key(b, "risks");
    rr_buf_putc(b, '[');
    for (size_t i = 0; i < ev->nrisks; i++) {
        if (i)
            rr_buf_putc(b, ',');
        rr_buf_json_str(b, ev->risks[i], strlen(ev->risks[i]));
    }
    rr_buf_puts(b, "],\"groups\":[");
    for (size_t i = 0; i < ev->ngroups; i++) {
        if (i)
            rr_buf_putc(b, ',');
        group_partial(b, ev, ev->groups[i]);
    }
    rr_buf_puts(b, "],\"pair\":{");
    knum(b, "n", (double)ev->pair.n);
    nums(b, "sums", (double[]){ev->pair.qw, ev->pair.qs, ev->pair.qp, ev->pair.prem}, 4);
    nums(b, "gcnt", ev->pair.gcnt, RR_EVAL_GAIN_BINS);
    nums(b, "gsum", ev->pair.gsum, RR_EVAL_GAIN_BINS);
    nums(b, "rdiff", ev->pair.rdiff, RR_EVAL_RAND_GRID);
    close_(b, '}');
    rr_buf_puts(b, ",\"always\":[");
    for (size_t i = 0; i < ev->nroutes; i++) {
        rr_buf_printf(b, "%s[%llu,", i ? "," : "", (unsigned long long)ev->always[i].n);
        rr_buf_json_num(b, ev->always[i].q);
        rr_buf_putc(b, ',');
        rr_buf_json_num(b, ev->always[i].cost);
        rr_buf_putc(b, ']');
    }
    rr_buf_puts(b, "],");
    nums(b, "boot", ev->boot, (size_t)ev->opts.bootstrap * RR_BOOT__K);
    close_(b, '}');
    if (b->oom)
        return NULL;
    if (len)
        *len = b->len;
    return b->p;
}

/* ---- merge -------------------------------------------------------------------------- */

typedef struct reader {
    rr_error *err;
    int rc;
    char where[64];
} reader;

static bool fail(reader *r, const char *what) {
    if (r->rc == RR_OK)
        r->rc =
            rr_err(r->err, RR_EDATA, "partial: %s%s%s", r->where, r->where[0] ? ": " : "", what);
    return false;
}

static bool get_u64(reader *r, const json_t *o, const char *k, uint64_t *out) {
    const json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) &&
        !(json_is_real(v) && json_real_value(v) == floor(json_real_value(v))))
        return fail(r, k);
    double d = json_number_value(v);
    if (d < 0)
        return fail(r, k);
    *out = json_is_integer(v) ? (uint64_t)json_integer_value(v) : (uint64_t)d;
    return true;
}

static bool get_nums(reader *r, const json_t *o, const char *k, double *out, size_t n) {
    const json_t *a = json_object_get(o, k);
    if (!json_is_array(a) || json_array_size(a) != n)
        return fail(r, k);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(a, i);
        if (!json_is_number(v))
            return fail(r, k);
        out[i] = json_number_value(v);
    }
    return true;
}

static bool get_u64s(reader *r, const json_t *o, const char *k, uint64_t *out, size_t n) {
    const json_t *a = json_object_get(o, k);
    if (!json_is_array(a) || json_array_size(a) != n)
        return fail(r, k);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return fail(r, k);
        out[i] = (uint64_t)json_integer_value(v);
    }
    return true;
}

static const char *str_at(const json_t *o, const char *k) {
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Routes, tiers, policy identity: must match ev's, or become ev's when it is fresh. */
static bool load_head(reader *r, rr_eval *ev, const json_t *root, bool fresh) {
    const json_t *pol = json_object_get(root, "policy"), *routes = json_object_get(root, "routes");
    const char *fp = str_at(pol, "fingerprint"), *name = str_at(pol, "name"),
               *ver = str_at(pol, "version");
    if (!fp || !name || !ver || !json_is_array(routes))
        return fail(r, "policy and routes expected");
    if (!fresh && strcmp(fp, ev->fingerprint)) {
        char m[200];
        snprintf(m, sizeof m, "policy fingerprint %s differs from this evaluation's %s", fp,
                 ev->fingerprint);
        return fail(r, m);
    }
    if (!fresh && json_array_size(routes) != ev->nroutes)
        return fail(r, "route list differs");
    if (fresh) {
        snprintf(ev->policy_name, sizeof ev->policy_name, "%s", name);
        snprintf(ev->policy_version, sizeof ev->policy_version, "%s", ver);
        snprintf(ev->fingerprint, sizeof ev->fingerprint, "%s", fp);
        if (json_array_size(routes) > 100000 || rr_eval_adopt_routes(ev, json_array_size(routes)))
            return fail(r, "out of memory");
    }
    for (size_t i = 0; i < ev->nroutes; i++) {
        const json_t *x = json_array_get(routes, i), *t = json_object_get(x, "tier");
        const char *id = str_at(x, "id");
        if (!id || !json_is_integer(t))
            return fail(r, "routes[] must be {id, tier}");
        if (fresh) {
            ev->route_names[i] = rr_strdup(&ev->a, id);
            ev->route_tier[i] = (int)json_integer_value(t);
            if (!ev->route_names[i])
                return fail(r, "out of memory");
        } else if (strcmp(id, ev->route_names[i])) {
            return fail(r, "route list differs");
        }
    }
    if (fresh) {
        const json_t *lo = json_object_get(root, "tier_min"),
                     *hi = json_object_get(root, "tier_max");
        if (!json_is_integer(lo) || !json_is_integer(hi))
            return fail(r, "tier_min / tier_max");
        ev->tier_min = (int)json_integer_value(lo);
        ev->tier_max = (int)json_integer_value(hi);
    }
    return true;
}

static bool load_options(reader *r, rr_eval *ev, const json_t *root, bool fresh) {
    const json_t *o = json_object_get(root, "options");
    double v[5];
    const char *seed = str_at(o, "seed");
    uint64_t boot;
    if (!json_is_object(o) || !seed || !get_u64(r, o, "bootstrap", &boot))
        return fail(r, "options");
    static const char *k[5] = {"acceptable_quality", "human_quality", "human_cost_usd",
                               "human_latency_ms", "flags"};
    for (int i = 0; i < 5; i++) {
        const json_t *x = json_object_get(o, k[i]);
        if (!json_is_number(x))
            return fail(r, k[i]);
        v[i] = json_number_value(x);
    }
    uint64_t s = strtoull(seed, NULL, 10);
    double mine[5] = {ev->opts.acceptable_quality, ev->opts.human_quality, ev->opts.human_cost_usd,
                      ev->opts.human_latency_ms, (double)(ev->opts.flags & RR_EVAL_NO_REVALIDATE)};
    if (fresh) {
        if (boot > RR_EVAL_MAX_BOOTSTRAP)
            return fail(r, "bootstrap");
        ev->opts.acceptable_quality = v[0], ev->opts.human_quality = v[1];
        ev->opts.human_cost_usd = v[2], ev->opts.human_latency_ms = v[3];
        ev->opts.flags =
            (ev->opts.flags & ~RR_EVAL_NO_REVALIDATE) | (v[4] ? RR_EVAL_NO_REVALIDATE : 0);
        ev->opts.seed = s;
        if (boot != ev->opts.bootstrap) {
            rr_free(&ev->a, ev->boot);
            ev->boot = boot ? rr_calloc(&ev->a, boot * RR_BOOT__K, sizeof *ev->boot) : NULL;
            ev->opts.bootstrap = (uint32_t)boot;
            if (boot && !ev->boot)
                return fail(r, "out of memory");
        }
        return true;
    }
    for (int i = 0; i < 5; i++)
        if (v[i] != mine[i]) {
            char m[160];
            snprintf(m, sizeof m, "option %s is %g here but %g in the partial", k[i], mine[i],
                     v[i]);
            return fail(r, m);
        }
    if (s != ev->opts.seed || boot != ev->opts.bootstrap)
        return fail(r, "bootstrap seed or resample count differs");
    return true;
}

/* Read one group into a scratch group `g` (counts only; sketches loaded separately). */
static bool load_group(reader *r, rr_eval *ev, const json_t *j, ev_group *g, const char **risk,
                       size_t nrisk) {
    double sums[3], c[15];
    if (!get_u64(r, j, "n", &g->n) || !get_nums(r, j, "sums", sums, 3) ||
        !get_nums(r, j, "c", c, 15) || !get_u64s(r, j, "rt", g->rt, ev->nroutes * RT__K))
        return false;
    g->q = sums[0], g->cost = sums[1], g->lat = sums[2];
    size_t i = 0;
#define GET(f) g->f = (uint64_t)c[i++];
    GROUP_COUNTERS(GET)
#undef GET
    uint64_t rn[RR_EVAL_MAX_RISKS], rc[RR_EVAL_MAX_RISKS];
    if (!get_u64s(r, j, "risk_n", rn, nrisk) || !get_u64s(r, j, "risk_cheap", rc, nrisk))
        return false;
    for (size_t k = 0; k < nrisk; k++) {
        int x = rr_ev_risk(ev, risk[k]);
        if (x < 0)
            continue;
        g->risk_n[x] = rn[k], g->risk_cheap[x] = rc[k];
    }
    if (rr_sketch_from_json(&g->sk, &ev->a, json_object_get(j, "sk"), r->err) != RR_OK)
        return fail(r, "sketch");
    const json_t *base = json_object_get(j, "base");
    if (!json_is_array(base) || json_array_size(base) != B__K)
        return fail(r, "base");
    for (int k = 0; k < B__K; k++) {
        const json_t *x = json_array_get(base, (size_t)k);
        double s[3];
        if (!get_u64(r, x, "n", &g->base[k].n) || !get_nums(r, x, "sums", s, 3))
            return false;
        g->base[k].q = s[0], g->base[k].cost = s[1], g->base[k].lat = s[2];
        if (rr_sketch_from_json(&g->base[k].sk, &ev->a, json_object_get(x, "sk"), r->err))
            return fail(r, "base sketch");
    }
    return true;
}

static bool add_into(rr_eval *ev, ev_group *d, const ev_group *s) {
    d->n += s->n;
    d->q += s->q, d->cost += s->cost, d->lat += s->lat;
#define ADD(f) d->f += s->f;
    GROUP_COUNTERS(ADD)
#undef ADD
    for (size_t k = 0; k < RR_EVAL_MAX_RISKS; k++)
        d->risk_n[k] += s->risk_n[k], d->risk_cheap[k] += s->risk_cheap[k];
    for (size_t k = 0; k < ev->nroutes * RT__K; k++)
        d->rt[k] += s->rt[k];
    bool ok = rr_sketch_merge(&d->sk, &ev->a, &s->sk);
    for (int k = 0; k < B__K; k++) {
        d->base[k].n += s->base[k].n;
        d->base[k].q += s->base[k].q;
        d->base[k].cost += s->base[k].cost;
        d->base[k].lat += s->base[k].lat;
        ok = rr_sketch_merge(&d->base[k].sk, &ev->a, &s->base[k].sk) && ok;
    }
    return ok;
}

/* Load the whole partial into a scratch evaluation first, so a bad partial leaves `ev`
 * unchanged; then add the scratch into ev. */
static int load_partial(rr_eval *t, const json_t *root, bool fresh_like, rr_error *err) {
    reader r = {err, RR_OK, ""};
    const char *fmt = str_at(root, "format");
    if (!fmt || strcmp(fmt, "routeright-eval-partial"))
        return rr_err(err, RR_EDATA, "partial: not a routeright-eval-partial document");
    const json_t *ver = json_object_get(root, "version"),
                 *alpha = json_object_get(root, "sketch_alpha");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1)
        return rr_err(err, RR_EDATA, "partial: unsupported version");
    if (!json_is_number(alpha) || json_number_value(alpha) != RR_SKETCH_ALPHA)
        return rr_err(err, RR_EDATA, "partial: sketch relative error differs");
    (void)fresh_like;
    if (!load_head(&r, t, root, true) || !load_options(&r, t, root, true))
        return r.rc;
    if (!get_u64(&r, root, "lines", &t->lines) || !get_u64(&r, root, "records", &t->records) ||
        !get_u64(&r, root, "malformed", &t->malformed) ||
        !get_u64s(&r, root, "missing_by_route", t->missing_by_route, t->nroutes))
        return r.rc;
    const json_t *mo = json_object_get(root, "missing_outcome"),
                 *errs = json_object_get(root, "errors");
    if (!get_u64(&r, mo, "total", &t->missing))
        return r.rc;
    size_t i;
    json_t *e;
    json_array_foreach(errs, i, e) {
        uint64_t line;
        const char *msg = str_at(e, "message");
        if (!get_u64(&r, e, "line", &line) || !msg)
            return r.rc ? r.rc : rr_err(err, RR_EDATA, "partial: errors[]");
        if (t->nerrs < RR_EVAL_KEEP_ERRORS) {
            t->errs[t->nerrs].line = line;
            snprintf(t->errs[t->nerrs++].msg, sizeof t->errs[0].msg, "%s", msg);
        }
    }
    const json_t *risks = json_object_get(root, "risks"), *groups = json_object_get(root, "groups");
    const char *rn[RR_EVAL_MAX_RISKS];
    size_t nr = json_array_size(risks);
    if (!json_is_array(risks) || nr > RR_EVAL_MAX_RISKS || !json_is_array(groups) ||
        !json_array_size(groups))
        return rr_err(err, RR_EDATA, "partial: risks / groups");
    for (size_t k = 0; k < nr; k++)
        if (!(rn[k] = json_string_value(json_array_get(risks, k))))
            return rr_err(err, RR_EDATA, "partial: risks");
    json_array_foreach(groups, i, e) {
        const char *name = str_at(e, "name");
        if (!name || (i == 0) != !strcmp(name, "all"))
            return rr_err(err, RR_EDATA, "partial: groups[%zu] name", i);
        ev_group *g = rr_ev_group(t, name);
        if (!g)
            return rr_err(err, RR_ENOMEM, "out of memory");
        snprintf(r.where, sizeof r.where, "group '%.40s'", name);
        if (g->n || !load_group(&r, t, e, g, rn, nr))
            return r.rc ? r.rc : rr_err(err, RR_EDATA, "partial: group '%s' twice", name);
    }
    r.where[0] = 0;
    const json_t *pair = json_object_get(root, "pair"), *always = json_object_get(root, "always");
    double ps[4];
    if (!get_u64(&r, pair, "n", &t->pair.n) || !get_nums(&r, pair, "sums", ps, 4) ||
        !get_nums(&r, pair, "gcnt", t->pair.gcnt, RR_EVAL_GAIN_BINS) ||
        !get_nums(&r, pair, "gsum", t->pair.gsum, RR_EVAL_GAIN_BINS) ||
        !get_nums(&r, pair, "rdiff", t->pair.rdiff, RR_EVAL_RAND_GRID) ||
        !get_nums(&r, root, "boot", t->boot, (size_t)t->opts.bootstrap * RR_BOOT__K))
        return r.rc;
    t->pair.qw = ps[0], t->pair.qs = ps[1], t->pair.qp = ps[2], t->pair.prem = ps[3];
    if (!json_is_array(always) || json_array_size(always) != t->nroutes)
        return rr_err(err, RR_EDATA, "partial: always");
    for (size_t k = 0; k < t->nroutes; k++) {
        const json_t *x = json_array_get(always, k);
        if (!json_is_array(x) || json_array_size(x) != 3 ||
            !json_is_integer(json_array_get(x, 0)) || !json_is_number(json_array_get(x, 1)) ||
            !json_is_number(json_array_get(x, 2)))
            return rr_err(err, RR_EDATA, "partial: always[%zu]", k);
        t->always[k].n = (uint64_t)json_integer_value(json_array_get(x, 0));
        t->always[k].q = json_number_value(json_array_get(x, 1));
        t->always[k].cost = json_number_value(json_array_get(x, 2));
    }
    return RR_OK;
}

/* Check t against ev (identity and options), then add. */
static int add_eval(rr_eval *ev, rr_eval *t, const json_t *root, rr_error *err) {
    bool fresh = !ev->nroutes && !ev->router;
    reader r = {err, RR_OK, ""};
    if (!load_head(&r, ev, root, fresh) || !load_options(&r, ev, root, fresh && !ev->records))
        return r.rc;
    ev->lines += t->lines, ev->records += t->records, ev->malformed += t->malformed;
    ev->missing += t->missing;
    for (size_t i = 0; i < ev->nroutes; i++) {
        ev->missing_by_route[i] += t->missing_by_route[i];
        ev->always[i].n += t->always[i].n;
        ev->always[i].q += t->always[i].q;
        ev->always[i].cost += t->always[i].cost;
    }
    for (size_t i = 0; i < t->nerrs && ev->nerrs < RR_EVAL_KEEP_ERRORS; i++)
        ev->errs[ev->nerrs++] = t->errs[i];
    for (size_t i = 0; i < t->ngroups; i++) {
        ev_group *s = t->groups[i], *d = rr_ev_group(ev, s->name);
        if (!d)
            return rr_err(err, RR_ENOMEM, "out of memory");
        /* Risk indexes differ between evaluations: re-key by name. */
        ev_group tmp = *s;
        memset(tmp.risk_n, 0, sizeof tmp.risk_n);
        memset(tmp.risk_cheap, 0, sizeof tmp.risk_cheap);
        for (size_t k = 0; k < t->nrisks; k++) {
            int x = rr_ev_risk(ev, t->risks[k]);
            if (x >= 0)
                tmp.risk_n[x] = s->risk_n[k], tmp.risk_cheap[x] = s->risk_cheap[k];
        }
        if (!add_into(ev, d, &tmp))
            return rr_err(err, RR_ENOMEM, "out of memory");
    }
    ev_pair *p = &ev->pair;
    p->n += t->pair.n, p->qw += t->pair.qw, p->qs += t->pair.qs, p->qp += t->pair.qp;
    p->prem += t->pair.prem;
    for (int k = 0; k < RR_EVAL_GAIN_BINS; k++)
        p->gcnt[k] += t->pair.gcnt[k], p->gsum[k] += t->pair.gsum[k];
    for (int k = 0; k < RR_EVAL_RAND_GRID; k++)
        p->rdiff[k] += t->pair.rdiff[k];
    for (size_t k = 0; k < (size_t)ev->opts.bootstrap * RR_BOOT__K; k++)
        ev->boot[k] += t->boot[k];
    return RR_OK;
}

int rr_eval_merge_json(rr_eval *ev, const char *partial, size_t len, rr_error *err) {
    if (!ev || !partial)
        return rr_err(err, RR_EINVAL, "rr_eval_merge_json: NULL argument");
    json_error_t je;
    json_t *root = json_loadb(partial, len, 0, &je);
    if (!root)
        return rr_err_at(err, RR_EJSON, "", (uint32_t)je.line, (uint32_t)je.column, 0,
                         "partial: %s", je.text);
    rr_eval_options o = ev->opts;
    o.bootstrap = 0;
    rr_eval *t = NULL;
    int rc = rr_eval_new(&t, NULL, &o, err);
    if (rc == RR_OK)
        rc = load_partial(t, root, true, err);
    if (rc == RR_OK)
        rc = add_eval(ev, t, root, err);
    rr_eval_free(t);
    json_decref(root);
    return rc;
}
