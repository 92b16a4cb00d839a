/* Escalation: a typed failure on one attempt -> the next decision on the ladder, or a
 * terminal one. Retries only for transient failures, never to a denied route, never past
 * the policy's limits. The escalation graph is acyclic (the compiler checks), so a ladder
 * always ends. */
#include "router.h"

#include <math.h>
#include <string.h>

static double attempt_cost(const rr_router *r, int route, int64_t in, int64_t out) {
    const rr_route_def *d = &r->routes[route];
    if (d->model < 0)
        return 0;
    const rr_model_def *m = &r->models[d->model];
    return ((double)in * m->usd_in + (double)out * m->usd_out) / 1e6;
}

int rr_decision_add_usage(rr_decision *d, int64_t in, int64_t out, double latency_ms) {
    if (!d || !d->router || in < 0 || out < 0 || !isfinite(latency_ms) || latency_ms < 0)
        return RR_EINVAL;
    d->usage_in = rr_tokens_add(d->usage_in, in);
    d->usage_out = rr_tokens_add(d->usage_out, out);
    d->usage_latency_ms += latency_ms;
    d->cost_usd += attempt_cost(d->router, d->route, in, out);
    d->latency_ms += latency_ms;
    d->json_valid = false;
    return RR_OK;
}

uint32_t rr_decision_attempt(const rr_decision *d) {
    return d ? d->attempt : 0;
}

double rr_decision_total_cost_usd(const rr_decision *d) {
    return d ? d->prior_cost_usd + d->cost_usd : 0;
}

double rr_decision_total_latency_ms(const rr_decision *d) {
    return d ? d->prior_latency_ms + d->latency_ms : 0;
}

static bool transient(int f, int retriable) {
    return f == RR_F_TIMEOUT || ((f == RR_F_MODEL_ERROR || f == RR_F_TOOL_ERROR) && retriable);
}

/* Would one more attempt on `route` break a limit? Uses the route's budgets as the
 * expected usage of that attempt. */
static bool over_limits(const rr_router *r, const rr_decision *d, int route) {
    const rr_route_def *t = &r->routes[route];
    if (t->kind != RR_ROUTE_MODEL)
        return false;
    if ((int64_t)d->attempt + 1 > r->limits.max_attempts)
        return true;
    double cost = rr_decision_total_cost_usd(d) +
                  attempt_cost(r, route, t->context_tokens, t->max_output_tokens);
    double lat = rr_decision_total_latency_ms(d) + r->models[t->model].latency_ms;
    return cost > r->limits.max_cost_usd || lat > r->limits.max_latency_ms;
}

/* The first route eligibility allows, starting at `t` and walking up its ladder
 * breadth-first; -1 when none. */
static int first_allowed(const rr_router *r, const uint8_t *den, int t) {
    return rr_ladder_find(r, den, &t, 1, 0);
}

static int target_for(const rr_route_def *d, int f) {
    for (size_t k = 0; k < d->nesc; k++)
        if (d->esc[k].failure == f)
            return d->esc[k].target;
    return -1;
}

int rr_escalate(const rr_router *r, const rr_decision *d, const char *failure, int retriable,
                rr_decision **next, rr_error *err) {
    if (!r || !d || !failure || !next)
        return rr_err(err, RR_EINVAL, "rr_escalate: NULL argument");
    if (*next == d)
        return rr_err(err, RR_EINVAL, "rr_escalate: next must not be the decision itself");
    if (d->router != r)
        return rr_err(err, RR_EINVAL, "rr_escalate: the decision comes from another router");
    int f = rr_failure_lookup(failure);
    if (f < 0 || f == RR_F_DENIED)
        return rr_err(err, RR_EINVAL, "rr_escalate: unknown failure type '%s'", failure);
    rr_decision *n = *next;
    if (!n && rr_decision_alloc(&d->a, &n) != RR_OK)
        return rr_err(err, RR_ENOMEM, "out of memory");
    if (rr_decision_copy_base(d, n) != RR_OK)
        return rr_decision_failed(*next, n, err);
    n->attempt = d->attempt + 1;
    n->prior_cost_usd = rr_decision_total_cost_usd(d);
    n->prior_latency_ms = rr_decision_total_latency_ms(d);
    n->esc_failure = f;
    n->esc_from = d->route;
    const rr_route_def *cur = &r->routes[d->route];
    int to;
    if (transient(f, retriable) && (int)d->retry < cur->retries) {
        to = d->route;
        n->retry = d->retry + 1;
        n->esc_how = RR_ESC_RETRY;
    } else {
        int t = target_for(cur, f);
        if (t < 0) {
            to = r->terminal_exhausted;
            n->esc_how = RR_ESC_EXHAUSTED;
        } else {
            to = first_allowed(r, d->denied, t);
            n->esc_how = to == t ? RR_ESC_TARGET : RR_ESC_LADDER;
            if (to != t)
                n->esc_skipped = t;
            if (to < 0) {
                to = r->terminal_denied;
                n->esc_how = RR_ESC_DENIED;
            }
        }
    }
    if (n->esc_how != RR_ESC_EXHAUSTED && n->esc_how != RR_ESC_DENIED && over_limits(r, d, to)) {
        to = r->terminal_limits;
        n->esc_how = RR_ESC_LIMITS;
    }
    n->route = to;
    *next = n;
    return RR_OK;
}
