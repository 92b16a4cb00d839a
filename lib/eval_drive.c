/* What sweeps, calibration and comparison need from an evaluation: headline figures,
 * bootstrap resamples, the research curves, and policies with thresholds overridden. */
#include "eval_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ev_group *find_group(const rr_eval *ev, const char *family) {
    if (!family || !strcmp(family, "all"))
        return ev->groups[0];
    for (size_t i = 1; i < ev->ngroups; i++)
        if (!strcmp(ev->groups[i]->name, family))
            return ev->groups[i];
    return NULL;
}

static double div_(double a, double b) {
    return b > 0 ? a / b : NAN;
}

void rr_eval_summarise(const rr_eval *ev, const char *family, rr_eval_summary *o) {
    const ev_group *g = find_group(ev, family);
    static const rr_eval_summary none = {0,   NAN, NAN, NAN, NAN, NAN, NAN, NAN,
                                         NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    *o = none;
    if (!g)
        return;
    double n = (double)g->n;
    o->n = g->n;
    o->quality = div_(g->q, n);
    o->cost_per_request = div_(g->cost, n);
    o->latency_p95 = rr_sketch_quantile(&g->sk, 0.95);
    o->premium_share = div_((double)g->prem_final, n);
    o->escalation_rate = div_((double)g->escalated, n);
    o->human_rate = div_((double)g->human, n);
    o->false_cheap_rate = div_((double)g->false_cheap, (double)g->cheap_final);
    o->premium_overuse_rate = div_((double)g->prem_overuse, (double)g->prem_used);
    const ev_base *b = g->base;
    o->q_cheapest = div_(b[B_CHEAP].q, (double)b[B_CHEAP].n);
    o->c_cheapest = div_(b[B_CHEAP].cost, (double)b[B_CHEAP].n);
    o->q_premium = div_(b[B_PREM].q, (double)b[B_PREM].n);
    o->c_premium = div_(b[B_PREM].cost, (double)b[B_PREM].n);
    o->q_oracle = div_(b[B_ORACLE].q, (double)b[B_ORACLE].n);
    o->c_oracle = div_(b[B_ORACLE].cost, (double)b[B_ORACLE].n);
}

/* The distribution-free interval for a quantile: the order statistics whose ranks bound
 * n*q within 1.96 binomial standard deviations. */
double rr_eval_latency_q(const rr_eval *ev, const char *family, double q, double *lo, double *hi) {
    const ev_group *g = find_group(ev, family);
    if (lo)
        *lo = NAN;
    if (hi)
        *hi = NAN;
    if (!g || !g->sk.total)
        return NAN;
    double n = (double)g->sk.total, sd = sqrt(n * q * (1 - q));
    double j = floor(n * q - 1.96 * sd), k = ceil(n * q + 1.96 * sd);
    j = j < 0 ? 0 : j > n - 1 ? n - 1 : j;
    k = k < 0 ? 0 : k > n - 1 ? n - 1 : k;
    if (lo)
        *lo = rr_sketch_at_rank(&g->sk, (uint64_t)j);
    if (hi)
        *hi = rr_sketch_at_rank(&g->sk, (uint64_t)k);
    return rr_sketch_quantile(&g->sk, q);
}

uint64_t rr_eval_risk_cheap(const rr_eval *ev, const char *risk, uint64_t *n) {
    if (n)
        *n = 0;
    for (size_t i = 0; i < ev->nrisks; i++)
        if (!strcmp(ev->risks[i], risk)) {
            if (n)
                *n = ev->groups[0]->risk_n[i];
            return ev->groups[0]->risk_cheap[i];
        }
    return 0;
}

size_t rr_eval_family_count(const rr_eval *ev) {
    return ev->ngroups;
}

const char *rr_eval_family_name(const rr_eval *ev, size_t i) {
    return i < ev->ngroups ? ev->groups[i]->name : NULL;
}

size_t rr_eval_boot_values(const rr_eval *ev, int m, double *out, size_t cap) {
    size_t n = 0;
    for (uint32_t b = 0; b < ev->opts.bootstrap && n < cap; b++) {
        const double *x = ev->boot + (size_t)b * RR_BOOT__K;
        if (m == RR_BOOT_QPREM)
            out[n++] = div_(x[RR_BOOT_Q], x[RR_BOOT_QPREM]);
        else
            out[n++] = div_(x[m], x[RR_BOOT_W]);
    }
    return n;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return isnan(x) ? (isnan(y) ? 0 : 1) : isnan(y) ? -1 : (x > y) - (x < y);
}

void rr_boot_interval(double *v, size_t n, double *lo, double *hi) {
    qsort(v, n, sizeof *v, cmp_d);
    while (n && isnan(v[n - 1]))
        n--;
    if (!n) {
        *lo = *hi = NAN;
        return;
    }
    *lo = v[(size_t)floor(0.025 * (double)(n - 1))];
    *hi = v[(size_t)ceil(0.975 * (double)(n - 1))];
}

/* ---- research curves ------------------------------------------------------------------ */

int rr_ev_random_curve(const rr_eval *ev, rr_route_curve *out) {
    const ev_pair *p = &ev->pair;
    if (!p->n)
        return RR_EDATA;
    double n = (double)p->n, x[RR_EVAL_RAND_GRID], q[RR_EVAL_RAND_GRID], run = 0;
    for (int k = 0; k < RR_EVAL_RAND_GRID; k++) {
        run += p->rdiff[k];
        x[k] = (double)k / (RR_EVAL_RAND_GRID - 1);
        q[k] = run / n;
    }
    return rr_route_curve_points(x, q, RR_EVAL_RAND_GRID, p->qw / n, p->qs / n, &ev->a, out, NULL);
}

/* The oracle sends the calls with the largest strong-minus-weak gain first. */
int rr_ev_oracle_curve(const rr_eval *ev, rr_route_curve *out) {
    const ev_pair *p = &ev->pair;
    if (!p->n)
        return RR_EDATA;
    double n = (double)p->n, x[RR_EVAL_GAIN_BINS], q[RR_EVAL_GAIN_BINS], cnt = 0, gain = 0;
    size_t m = 0;
    for (int k = RR_EVAL_GAIN_BINS - 1; k >= 0; k--) {
        if (!p->gcnt[k])
            continue;
        cnt += p->gcnt[k];
        gain += p->gsum[k];
        x[m] = cnt / n;
        q[m++] = (p->qw + gain) / n;
    }
    return rr_route_curve_points(x, q, m, p->qw / n, p->qs / n, &ev->a, out, NULL);
}

double rr_ev_models_aiq(const rr_eval *ev) {
    double c[64], q[64];
    size_t m = 0;
    for (size_t i = 0; i < ev->nroutes && m < 64; i++)
        if (ev->always[i].n) {
            c[m] = ev->always[i].cost / (double)ev->always[i].n;
            q[m++] = ev->always[i].q / (double)ev->always[i].n;
        }
    return m ? rr_aiq(c, q, m, &ev->a) : NAN;
}

/* ---- threshold overrides ------------------------------------------------------------- */

int rr_eval_policy_override(const char *text, size_t len, const char *const *names,
                            const double *values, size_t k, const char *version, size_t flags,
                            char **out, rr_error *err) {
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return rr_err_at(err, RR_EJSON, "", (uint32_t)je.line, (uint32_t)je.column, 0, "policy: %s",
                         je.text);
    json_t *thr = json_object_get(root, "thresholds");
    int rc = RR_OK;
    for (size_t i = 0; i < k && rc == RR_OK; i++) {
        json_t *cur = json_object_get(thr, names[i]);
        if (!json_is_number(cur)) {
            char known[400] = "";
            const char *kk;
            json_t *v;
            json_object_foreach(thr, kk, v) {
                size_t l = strlen(known);
                snprintf(known + l, sizeof known - l, "%s%s", l ? ", " : "", kk);
            }
            rc = rr_err_at(err, RR_EPOLICY, "/thresholds", 0, 0, 0,
                           "no numeric threshold '%s' (the policy has: %s)", names[i],
                           known[0] ? known : "none");
            break;
        }
        bool integral =
            json_is_integer(cur) && values[i] == floor(values[i]) && fabs(values[i]) < 9e15;
        json_t *nv = integral ? json_integer((json_int_t)values[i]) : json_real(values[i]);
        if (!nv || json_object_set_new(thr, names[i], nv))
            rc = rr_err(err, RR_ENOMEM, "out of memory");
    }
    if (rc == RR_OK && version) {
        json_t *v = json_string(version);
        if (!v || json_object_set_new(root, "version", v))
            rc = rr_err(err, RR_ENOMEM, "out of memory");
    }
    if (rc == RR_OK && !(*out = json_dumps(root, flags)))
        rc = rr_err(err, RR_ENOMEM, "out of memory");
    json_decref(root);
    return rc;
}

void rr_eval_free_dump(char *s) {
    /* json_dumps used jansson's allocator, which the host may have replaced. */
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    if (s)
        f(s);
}

double rr_eval_policy_threshold(const char *text, size_t len, const char *name) {
    json_t *root = json_loadb(text, len, 0, NULL);
    json_t *v = json_object_get(json_object_get(root, "thresholds"), name);
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    json_decref(root);
    return d;
}

void rr_eval_bump_version(const char *v, char *out, size_t cap) {
    size_t n = strlen(v), i = n;
    while (i && v[i - 1] >= '0' && v[i - 1] <= '9')
        i--;
    bool all_digits = i == 0 && n > 0;
    if (all_digits) {
        snprintf(out, cap, "%s.1", v);
    } else if (i > 0 && i < n && v[i - 1] == '.' && n - i < 9) {
        snprintf(out, cap, "%.*s%ld", (int)i, v, strtol(v + i, NULL, 10) + 1);
    } else {
        snprintf(out, cap, "%s-calibrated", v);
    }
}

static bool ident_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

/* In `e`, the identifier compared with thr.<name> ("x >= thr.n" or "thr.n < x"). */
static bool compared_ident(const char *e, const char *name, char *out, size_t cap) {
    char pat[200];
    snprintf(pat, sizeof pat, "thr.%s", name);
    size_t pl = strlen(pat);
    for (const char *p = strstr(e, pat); p; p = strstr(p + 1, pat)) {
        if ((p > e && ident_char(p[-1])) || ident_char(p[pl]))
            continue;
        /* Left: skip spaces, an operator, spaces, then read an identifier backwards. */
        const char *q = p;
        while (q > e && q[-1] == ' ')
            q--;
        const char *op_end = q;
        while (q > e && strchr("<>=!", q[-1]))
            q--;
        if (q < op_end) {
            while (q > e && q[-1] == ' ')
                q--;
            const char *end = q;
            while (q > e && ident_char(q[-1]))
                q--;
            if (end > q && !(q[0] >= '0' && q[0] <= '9')) {
                snprintf(out, cap, "%.*s", (int)(end - q), q);
                return true;
            }
        }
        /* Right: operator then identifier. */
        q = p + pl;
        while (*q == ' ')
            q++;
        const char *ops = q;
        while (*q && strchr("<>=!", *q))
            q++;
        if (q > ops) {
            while (*q == ' ')
                q++;
            const char *start = q;
            while (ident_char(*q))
                q++;
            if (q > start && !(start[0] >= '0' && start[0] <= '9')) {
                snprintf(out, cap, "%.*s", (int)(q - start), start);
                return true;
            }
        }
    }
    return false;
}

int rr_eval_threshold_feature(const rr_router *r, const char *text, size_t len, const char *name,
                              char *feature, size_t cap) {
    json_t *root = json_loadb(text, len, 0, NULL);
    static const char *lists[] = {"rules", "tasks", "eligibility"};
    int slot = -1;
    for (size_t l = 0; l < RR_ARRAY_LEN(lists) && slot < 0; l++) {
        size_t i;
        json_t *rule;
        json_array_foreach(json_object_get(root, lists[l]), i, rule) {
            const char *when = json_string_value(json_object_get(rule, "when"));
            char id[128];
            if (!when || !compared_ident(when, name, id, sizeof id))
                continue;
            for (size_t s = 0; s < r->nslots; s++)
                if (r->slot_names[s] && !strcmp(r->slot_names[s], id) &&
                    r->slot_types[s] == RR_T_NUM) {
                    slot = (int)s;
                    snprintf(feature, cap, "%s", id);
                    break;
                }
            if (slot >= 0)
                break;
        }
    }
    json_decref(root);
    return slot;
}

/* ---- calibration ------------------------------------------------------------------------ */

rr_eval_judgement rr_eval_judge(const rr_eval *ev, const rr_eval_objectives *o) {
    rr_eval_summary s;
    rr_eval_summarise(ev, NULL, &s);
    rr_eval_judgement j = {true, 0, s.cost_per_request, s.quality};
    if (o->has_min_quality && !(s.quality >= o->min_quality))
        j.violation +=
            isfinite(s.quality) ? (o->min_quality - s.quality) / fmax(o->min_quality, 1e-9) : 1;
    double qp = s.quality / s.q_premium;
    if (o->has_min_quality_of_premium && !(qp >= o->min_quality_of_premium))
        j.violation +=
            isfinite(qp) ? (o->min_quality_of_premium - qp) / fmax(o->min_quality_of_premium, 1e-9)
                         : 1;
    for (size_t i = 0; i < o->np95; i++) {
        double p = rr_eval_latency_q(ev, o->p95_family[i], 0.95, NULL, NULL);
        if (!(p <= o->p95_ms[i]))
            j.violation += isfinite(p) ? (p - o->p95_ms[i]) / o->p95_ms[i] : 1;
    }
    if (o->no_cheap_risk) {
        uint64_t n, k = rr_eval_risk_cheap(ev, o->no_cheap_risk, &n);
        if (k)
            j.violation += (double)k / (double)(n ? n : 1);
    }
    j.feasible = j.violation == 0;
    return j;
}

int rr_eval_pick(rr_eval *const *ev, size_t n, const rr_eval_objectives *o,
                 rr_eval_judgement *out) {
    int best = -1;
    rr_eval_judgement b = {false, INFINITY, INFINITY, -INFINITY};
    for (size_t i = 0; i < n; i++) {
        rr_eval_judgement j = rr_eval_judge(ev[i], o);
        bool better;
        if (best < 0 || j.feasible != b.feasible)
            better = best < 0 || j.feasible;
        else if (j.feasible)
            better = j.cost < b.cost || (j.cost == b.cost && j.quality > b.quality);
        else
            better = j.violation < b.violation || (j.violation == b.violation && j.cost < b.cost);
        if (better)
            best = (int)i, b = j;
    }
    if (out)
        *out = b;
    return best;
}

/* ---- comparison ------------------------------------------------------------------------- */

#define RR_EVAL_MAX_CHANGES 1024

void rr_eval_changes_init(rr_eval_changes *ch, const rr_alloc *a) {
    memset(ch, 0, sizeof *ch);
    ch->a = *a;
}

void rr_eval_changes_free(rr_eval_changes *ch) {
    rr_free(&ch->a, ch->c);
    ch->c = NULL;
    ch->n = ch->cap = 0;
}

void rr_eval_changes_add(rr_eval_changes *ch, const rr_router *ra, const rr_eval_trace *ta,
                         const rr_router *rb, const rr_eval_trace *tb, const rr_eval_rec *rec) {
    if (ta->status || tb->status)
        return;
    char key[256];
    const char *fa = ta->first_route >= 0 ? ra->routes[ta->first_route].id : "(none)";
    const char *fb = tb->first_route >= 0 ? rb->routes[tb->first_route].id : "(none)";
    const char *la = ta->final_route >= 0 ? ra->routes[ta->final_route].id : "(none)";
    const char *lb = tb->final_route >= 0 ? rb->routes[tb->final_route].id : "(none)";
    if (strcmp(fa, fb))
        snprintf(key, sizeof key, "%s -> %s (%s -> %s)",
                 ta->rule >= 0 ? ra->rules[ta->rule].id : "(no rule)",
                 tb->rule >= 0 ? rb->rules[tb->rule].id : "(no rule)", fa, fb);
    else if (strcmp(la, lb))
        snprintf(key, sizeof key, "same first route, ladder ended differently (%s -> %s)", la, lb);
    else
        return;
    ch->total++;
    size_t i = 0;
    while (i < ch->n && strcmp(ch->c[i].reason, key))
        i++;
    if (i == ch->n) {
        if (ch->n == RR_EVAL_MAX_CHANGES) {
            ch->other++;
            return;
        }
        if (ch->n == ch->cap) {
            size_t nc = ch->cap ? ch->cap * 2 : 16;
            rr_eval_change *c = rr_realloc(&ch->a, ch->c, ch->cap * sizeof *c, nc * sizeof *c);
            if (!c) {
                ch->other++;
                return;
            }
            ch->c = c;
            ch->cap = nc;
        }
        memset(&ch->c[i], 0, sizeof ch->c[i]);
        snprintf(ch->c[i].reason, sizeof ch->c[i].reason, "%s", key);
        ch->n++;
    }
    rr_eval_change *x = &ch->c[i];
    if (x->n < 3) {
        if (rec->id[0])
            snprintf(x->example[x->n], sizeof x->example[0], "%s", rec->id);
        else
            snprintf(x->example[x->n], sizeof x->example[0], "line %llu",
                     (unsigned long long)rec->lineno);
    }
    x->n++;
}

static int cmp_change(const void *a, const void *b) {
    const rr_eval_change *x = a, *y = b;
    return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->reason, y->reason);
}

void rr_eval_changes_sort(rr_eval_changes *ch) {
    if (ch->n)
        qsort(ch->c, ch->n, sizeof *ch->c, cmp_change);
}
