/* Explanations: the reason-code line and the decision's JSON record, built on demand from
 * what rr_route stored, into buffers the decision keeps between uses. */
#include "classify.h"
#include "router.h"

#include <math.h>
#include <string.h>

static void put_value(rr_buf *b, const rr_value *v, bool json) {
    switch (v->type) {
    case RR_T_NUM:
        if (json)
            rr_buf_json_num(b, v->u.num);
        else
            rr_buf_printf(b, "%.6g", v->u.num); /* the reason line is for people */
        break;
    case RR_T_BOOL:
        rr_buf_puts(b, v->u.b ? "true" : "false");
        break;
    case RR_T_STR:
        if (json)
            rr_buf_json_str(b, v->u.str, v->len);
        else {
            rr_buf_putc(b, '\'');
            rr_buf_put(b, v->u.str, v->len);
            rr_buf_putc(b, '\'');
        }
        break;
    default:
        rr_buf_puts(b, "null");
    }
}

/* "[name=value ...]" for every identifier the expression read. */
static void put_inputs(rr_buf *b, const rr_decision *d, const rr_expr *e) {
    const rr_router *r = d->router;
    size_t n = rr_expr_ref_count(e);
    if (!n)
        return;
    rr_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        int s = rr_expr_ref(e, i);
        if (i)
            rr_buf_putc(b, ' ');
        rr_buf_puts(b, r->slot_names[s]);
        rr_buf_putc(b, '=');
        put_value(b, &d->slots[s], false);
    }
    rr_buf_putc(b, ']');
}

/* A name inside a JSON string being written: escaped, without quotes of its own. */
static void put_json_chars(rr_buf *b, const char *s) {
    size_t at = b->len;
    rr_buf_json_str(b, s, strlen(s));
    if (b->oom)
        return;
    memmove(b->p + at, b->p + at + 1, b->len - at - 2);
    b->len -= 2;
    b->p[b->len] = 0;
}

/* Policy ids may hold any character: `json` escapes them for use inside a JSON string. */
static void put_denials(rr_buf *b, const rr_decision *d, bool json) {
    const rr_router *r = d->router;
    const uint8_t *dm = d->denied, *dr = dm + r->nmodels, *dt = dr + r->nroutes;
    void (*put)(rr_buf *, const char *) = json ? put_json_chars : rr_buf_puts;
    const char *sep = "";
    for (size_t i = 0; i < r->nmodels; i++)
        if (dm[i]) {
            rr_buf_printf(b, "%smodel:", sep);
            put(b, r->models[i].id);
            sep = ",";
        }
    for (size_t i = 0; i < r->nroutes; i++)
        if (dr[i]) {
            rr_buf_printf(b, "%sroute:", sep);
            put(b, r->routes[i].id);
            sep = ",";
        }
    for (size_t i = 0; i < r->ntools; i++)
        if (dt[i]) {
            rr_buf_printf(b, "%stool:", sep);
            put(b, r->tools[i]);
            sep = ",";
        }
}

static const char *denied_name(const rr_decision *d) {
    const rr_router *r = d->router;
    switch (d->denied_kind) {
    case 0: return r->routes[d->denied_index].id;
    case 1: return r->models[d->denied_index].id;
    case 2: return r->tools[d->denied_index];
    }
    return "";
}

static const char *const denied_kinds[] = {"route", "model", "tool"};

static const char *const esc_how_names[] = {"", "retry", "target", "ladder", "exhausted",
                                            "limits", "denied"};

static void build_escalation_reason(rr_decision *d) {
    const rr_router *r = d->router;
    rr_buf *b = &d->reason;
    const char *f = rr_failure_name(d->esc_failure);
    rr_buf_printf(b, "attempt=%u %s@%s -> ", (unsigned)d->attempt, f, r->routes[d->esc_from].id);
    switch (d->esc_how) {
    case RR_ESC_RETRY:
        rr_buf_printf(b, "retry %u/%d of the same route", (unsigned)d->retry,
                      r->routes[d->route].retries);
        break;
    case RR_ESC_TARGET:
        rr_buf_printf(b, "escalate.%s", f);
        break;
    case RR_ESC_LADDER:
        rr_buf_printf(b, "escalate.%s target %s denied, next allowed rung", f,
                      r->routes[d->esc_skipped].id);
        break;
    case RR_ESC_EXHAUSTED:
        rr_buf_printf(b, "no escalation for %s; terminal.exhausted", f);
        break;
    case RR_ESC_LIMITS:
        rr_buf_puts(b, "the next attempt would exceed the policy's limits; terminal.limits");
        break;
    case RR_ESC_DENIED:
        rr_buf_puts(b, "every rung of the ladder is denied; terminal.denied");
        break;
    }
    const rr_route_def *rt = &r->routes[d->route];
    rr_buf_printf(b, " => %s", rt->id);
    if (rt->model >= 0)
        rr_buf_printf(b, "(model=%s)", r->models[rt->model].id);
    d->reason_valid = !b->oom;
}

static void build_reason(rr_decision *d) {
    const rr_router *r = d->router;
    rr_buf *b = &d->reason;
    rr_buf_clear(b);
    if (d->esc_from >= 0) {
        build_escalation_reason(d);
        return;
    }
    if (d->nelig_fired == 0) {
        rr_buf_puts(b, "elig=ok");
    } else {
        rr_buf_puts(b, "elig=deny(");
        put_denials(b, d, false);
        rr_buf_puts(b, " by ");
        for (size_t i = 0; i < d->nelig_fired; i++)
            rr_buf_printf(b, "%s%s", i ? "," : "", r->elig[d->elig_fired[i]].id);
        rr_buf_putc(b, ')');
    }
    rr_buf_printf(b, " task=%s", r->tasks[d->task]);
    if (d->task_rule >= 0)
        rr_buf_printf(b, "(rule=%s)", r->task_rules[d->task_rule].id);
    else if (d->task_by_classifier)
        rr_buf_printf(b, "(classifier p=%.2f%s)", d->clf[r->task_classifier].p,
                      d->clf[r->task_classifier].label < 0 ? ", out of scope" : "");
    else
        rr_buf_puts(b, "(no task rule matched)");
    if (d->rule >= 0) {
        rr_buf_printf(b, " rule=%s", r->rules[d->rule].id);
        put_inputs(b, d, r->rules[d->rule].when);
    } else {
        rr_buf_puts(b, " rule=none");
    }
    const rr_route_def *rt = &r->routes[d->route];
    switch (d->reroute) {
    case RR_REROUTE_DENIED_TARGET:
    case RR_REROUTE_LADDER:
    case RR_REROUTE_TERMINAL:
        rr_buf_printf(b, " %s denied(%s %s) -> %s", r->routes[d->first_route].id,
                      denied_kinds[d->denied_kind], denied_name(d),
                      d->reroute == RR_REROUTE_DENIED_TARGET ? "escalate.denied"
                      : d->reroute == RR_REROUTE_LADDER      ? "next allowed rung of its ladder"
                                                             : "terminal");
        break;
    case RR_REROUTE_NO_MATCH:
        rr_buf_puts(b, " no rule matched -> terminal");
        break;
    case RR_REROUTE_FORCED:
        rr_buf_printf(b, " route forced by the caller (policy chose %s)",
                      d->first_route >= 0 ? r->routes[d->first_route].id : "none");
        break;
    }
    if (d->sticky_from >= 0)
        rr_buf_printf(b, " sticky_tier(last=%d): %s -> %s", d->sticky_tier,
                      r->routes[d->sticky_from].id, rt->id);
    rr_buf_printf(b, " => %s", rt->id);
    if (rt->model >= 0)
        rr_buf_printf(b, "(model=%s)", r->models[rt->model].id);
    d->reason_valid = !b->oom;
}

const char *rr_decision_reason(const rr_decision *cd) {
    if (!cd || !cd->router)
        return "";
    rr_decision *d = (rr_decision *)cd; /* the cache is not part of the decision's value */
    if (!d->reason_valid)
        build_reason(d);
    return d->reason.p ? d->reason.p : "";
}

static void key(rr_buf *b, const char *k) {
    rr_buf_json_str(b, k, strlen(k));
    rr_buf_putc(b, ':');
}

void rr_policy_json(rr_buf *b, const rr_router *r) {
    rr_buf_puts(b, "\"policy\":{");
    rr_buf_json_kv(b, "name", r->name);
    rr_buf_putc(b, ',');
    rr_buf_json_kv(b, "version", r->version);
    rr_buf_putc(b, ',');
    rr_buf_json_kv(b, "fingerprint", r->fingerprint);
    rr_buf_putc(b, '}');
}

static void put_features(rr_buf *b, const rr_decision *d) {
    const rr_router *r = d->router;
    rr_buf_putc(b, '{');
    /* Built-in features: numbers and flags only, never text or PII values. */
    for (int i = 0; i < RR_SLOT_TASK; i++) {
        if (i)
            rr_buf_putc(b, ',');
        key(b, r->slot_names[i]);
        put_value(b, &d->slots[i], true);
    }
    for (size_t i = 0; i < r->npatterns; i++) {
        rr_buf_putc(b, ',');
        key(b, r->slot_names[r->patterns[i].slot]);
        put_value(b, &d->slots[r->patterns[i].slot], true);
    }
    rr_buf_putc(b, '}');
}

static void put_stage_inputs(rr_buf *b, const rr_decision *d, const rr_expr *e) {
    const rr_router *r = d->router;
    rr_buf_putc(b, '{');
    for (size_t i = 0, n = rr_expr_ref_count(e); i < n; i++) {
        int s = rr_expr_ref(e, i);
        if (i)
            rr_buf_putc(b, ',');
        key(b, r->slot_names[s]);
        /* Attribute values are the host's data; bools and numbers are shown, strings too
         * since policies compare them to literals (tiers, channels), never request text. */
        put_value(b, &d->slots[s], true);
    }
    rr_buf_putc(b, '}');
}

static void put_stages(rr_buf *b, const rr_decision *d) {
    const rr_router *r = d->router;
    rr_buf_puts(b, "[{\"stage\":\"eligibility\",\"result\":");
    rr_buf_puts(b, d->nelig_fired ? "\"deny\"" : "\"ok\"");
    rr_buf_puts(b, ",\"rules\":[");
    for (size_t i = 0; i < d->nelig_fired; i++) {
        const rr_elig_rule *e = &r->elig[d->elig_fired[i]];
        rr_buf_puts(b, i ? ",{" : "{");
        rr_buf_json_kv(b, "id", e->id);
        rr_buf_putc(b, ',');
        rr_buf_json_kv(b, "reason", e->reason);
        rr_buf_puts(b, ",\"inputs\":");
        put_stage_inputs(b, d, e->when);
        rr_buf_putc(b, '}');
    }
    rr_buf_puts(b, "],\"denied\":\"");
    put_denials(b, d, true);
    rr_buf_puts(b, "\"},{\"stage\":\"task\",");
    rr_buf_json_kv(b, "result", r->tasks[d->task]);
    rr_buf_putc(b, ',');
    rr_buf_json_kv(b, "rule", d->task_rule >= 0 ? r->task_rules[d->task_rule].id : "");
    if (d->task_rule >= 0) {
        rr_buf_puts(b, ",\"inputs\":");
        put_stage_inputs(b, d, r->task_rules[d->task_rule].when);
    }
    rr_buf_puts(b, ",\"reason\":");
    rr_buf_puts(b, d->task_rule >= 0 ? "\"task rule matched\"" : "\"no task rule matched\"");
    rr_buf_puts(b, "},{\"stage\":\"route\",");
    rr_buf_json_kv(b, "result", r->routes[d->route].id);
    rr_buf_putc(b, ',');
    rr_buf_json_kv(b, "rule", d->rule >= 0 ? r->rules[d->rule].id : "");
    if (d->rule >= 0) {
        rr_buf_puts(b, ",\"inputs\":");
        put_stage_inputs(b, d, r->rules[d->rule].when);
    }
    if (d->first_route >= 0) {
        rr_buf_putc(b, ',');
        rr_buf_json_kv(b, "selected", r->routes[d->first_route].id);
    }
    static const char *const why[] = {"rule matched", "selected route denied; took its "
                                      "escalate.denied target",
                                      "selected route denied; took the next allowed rung of its "
                                      "escalation ladder",
                                      "selected route denied and no allowed rung; terminal route",
                                      "no rule matched; terminal route",
                                      "route forced by the caller"};
    rr_buf_puts(b, ",\"reason\":");
    rr_buf_json_str(b, why[d->reroute], strlen(why[d->reroute]));
    if (d->reroute != RR_REROUTE_NONE && d->reroute != RR_REROUTE_NO_MATCH &&
        d->reroute != RR_REROUTE_FORCED) {
        rr_buf_puts(b, ",\"denied\":{");
        rr_buf_json_kv(b, "kind", denied_kinds[d->denied_kind]);
        rr_buf_putc(b, ',');
        rr_buf_json_kv(b, "name", denied_name(d));
        rr_buf_putc(b, '}');
    }
    rr_buf_puts(b, "}]");
}

static void put_thresholds(rr_buf *b, const rr_decision *d) {
    const rr_router *r = d->router;
    /* Thresholds read by the rules that were evaluated: every eligibility rule, task rules
     * up to the one that matched, routing rules up to the one that fired. */
    rr_buf_putc(b, '{');
    bool first = true;
    for (size_t t = 0; t < r->nthresholds; t++) {
        int slot = r->thresholds[t].slot;
        bool used = false;
        for (size_t i = 0; i < r->nelig && !used; i++)
            for (size_t k = 0, n = rr_expr_ref_count(r->elig[i].when); k < n; k++)
                used |= rr_expr_ref(r->elig[i].when, k) == slot;
        size_t tmax = d->task_rule >= 0 ? (size_t)d->task_rule + 1 : r->ntask_rules;
        for (size_t i = 0; i < tmax && !used; i++)
            for (size_t k = 0, n = rr_expr_ref_count(r->task_rules[i].when); k < n; k++)
                used |= rr_expr_ref(r->task_rules[i].when, k) == slot;
        size_t rmax = d->rule >= 0 ? (size_t)d->rule + 1 : r->nrules;
        for (size_t i = 0; i < rmax && !used; i++)
            for (size_t k = 0, n = rr_expr_ref_count(r->rules[i].when); k < n; k++)
                used |= rr_expr_ref(r->rules[i].when, k) == slot;
        if (!used)
            continue;
        if (!first)
            rr_buf_putc(b, ',');
        first = false;
        key(b, r->thresholds[t].name);
        rr_buf_json_num(b, r->thresholds[t].value);
    }
    rr_buf_putc(b, '}');
}

static void build_json(rr_decision *d) {
    const rr_router *r = d->router;
    const rr_route_def *rt = &r->routes[d->route];
    static const char *const kinds[] = {"model", "human", "clarify", "defer", "refuse"};
    rr_buf *b = &d->json;
    rr_buf_clear(b);
    rr_buf_putc(b, '{');
    rr_policy_json(b, r);
    rr_buf_puts(b, ",\"route\":{");
    rr_buf_json_kv(b, "id", rt->id);
    rr_buf_putc(b, ',');
    rr_buf_json_kv(b, "version", rt->version);
    rr_buf_putc(b, ',');
    rr_buf_json_kv(b, "kind", kinds[rt->kind]);
    rr_buf_puts(b, "},");
    rr_buf_json_kv(b, "gen_ai.request.model", rt->model >= 0 ? r->models[rt->model].id : "");
    rr_buf_putc(b, ',');
    rr_buf_json_kv(b, "task", r->tasks[d->task]);
    rr_buf_putc(b, ',');
    rr_buf_json_kv(b, "rule", d->rule >= 0 ? r->rules[d->rule].id : "");
    rr_buf_putc(b, ',');
    rr_buf_json_kv(b, "prompt", rt->prompt);
    rr_buf_putc(b, ',');
    rr_buf_json_kv(b, "output_mode", rt->output_mode);
    rr_buf_puts(b, ",\"tools\":[");
    for (size_t i = 0; i < rt->ntools; i++) {
        if (i)
            rr_buf_putc(b, ',');
        rr_buf_json_str(b, r->tools[rt->tools[i]], strlen(r->tools[rt->tools[i]]));
    }
    rr_buf_printf(b, "],\"context_tokens\":%lld,\"max_output_tokens\":%lld,\"validators\":[",
                  (long long)rt->context_tokens, (long long)rt->max_output_tokens);
    for (size_t i = 0; i < rt->nvalidators; i++) {
        const rr_validator_def *v = &r->validators[rt->validators[i]];
        rr_buf_puts(b, i ? ",{" : "{");
        rr_buf_json_kv(b, "name", v->name);
        rr_buf_putc(b, ',');
        rr_buf_json_kv(b, "type", v->type);
        rr_buf_putc(b, ',');
        rr_buf_json_kv(b, "version", v->version);
        rr_buf_putc(b, '}');
    }
    rr_buf_puts(b, "],\"escalation\":{");
    for (size_t i = 0; i < rt->nesc; i++) {
        if (i)
            rr_buf_putc(b, ',');
        rr_buf_json_kv(b, rr_failure_name(rt->esc[i].failure), r->routes[rt->esc[i].target].id);
    }
    rr_buf_putc(b, '}');
    if (rt->kind != RR_ROUTE_MODEL) {
        rr_buf_putc(b, ',');
        rr_buf_json_kv(b, "message", rt->message ? rt->message : "");
    }
    if (d->has_conv && d->pool.p) {
        rr_buf_putc(b, ',');
        key(b, "conversation_id");
        rr_buf_json_str(b, d->pool.p + d->conv_off, d->conv_len);
    }
    rr_buf_printf(b, ",\"attempt\":%u", (unsigned)d->attempt);
    if (d->esc_from >= 0) {
        rr_buf_puts(b, ",\"escalated_from\":{");
        rr_buf_json_kv(b, "route", r->routes[d->esc_from].id);
        rr_buf_putc(b, ',');
        rr_buf_json_kv(b, "failure", rr_failure_name(d->esc_failure));
        rr_buf_putc(b, ',');
        rr_buf_json_kv(b, "how", esc_how_names[d->esc_how]);
        rr_buf_puts(b, ",\"prior_cost_usd\":");
        rr_buf_json_num(b, d->prior_cost_usd);
        rr_buf_puts(b, ",\"prior_latency_ms\":");
        rr_buf_json_num(b, d->prior_latency_ms);
        rr_buf_putc(b, '}');
    }
    rr_buf_puts(b, ",\"stages\":");
    put_stages(b, d);
    rr_buf_puts(b, ",\"features\":");
    put_features(b, d);
    if (r->nclassifiers) {
        rr_buf_puts(b, ",\"classifiers\":{");
        for (size_t i = 0; i < r->nclassifiers; i++) {
            const rr_classifier_def *cd = &r->classifiers[i];
            if (i)
                rr_buf_putc(b, ',');
            key(b, cd->name);
            rr_buf_putc(b, '{');
            rr_buf_json_kv(b, "model", rr_classifier_name(cd->model));
            rr_buf_putc(b, ',');
            rr_buf_json_kv(b, "version", rr_classifier_version(cd->model));
            rr_buf_putc(b, ',');
            rr_buf_json_kv(b, "fingerprint", rr_classifier_fingerprint(cd->model));
            rr_buf_putc(b, ',');
            int32_t l = d->clf[i].label;
            rr_buf_json_kv(b, "label", l >= 0 ? rr_classifier_label(cd->model, (uint32_t)l) : "unknown");
            rr_buf_puts(b, ",\"p\":");
            rr_buf_json_num(b, d->clf[i].p);
            rr_buf_puts(b, ",\"top\":[");
            for (int k = 0; k < RR_CLF_TOP && d->clf[i].top[k] >= 0; k++) {
                if (k)
                    rr_buf_putc(b, ',');
                rr_buf_puts(b, "{\"label\":");
                const char *ln = rr_classifier_label(cd->model, (uint32_t)d->clf[i].top[k]);
                rr_buf_json_str(b, ln, strlen(ln));
                rr_buf_puts(b, ",\"p\":");
                rr_buf_json_num(b, d->clf[i].ptop[k]);
                rr_buf_putc(b, '}');
            }
            rr_buf_puts(b, "]}");
        }
        rr_buf_putc(b, '}');
    }
    rr_buf_puts(b, ",\"thresholds\":");
    put_thresholds(b, d);
    rr_buf_puts(b, ",\"reason\":");
    const char *reason = rr_decision_reason(d);
    rr_buf_json_str(b, reason, strlen(reason));
    rr_buf_printf(b, ",\"route_ns\":%llu}", (unsigned long long)d->ns);
    d->json_valid = !b->oom;
}

const char *rr_decision_json(rr_decision *d, size_t *len) {
    if (!d || !d->router)
        return NULL;
    if (!d->json_valid)
        build_json(d);
    if (!d->json_valid)
        return NULL;
    if (len)
        *len = d->json.len;
    return d->json.p;
}

const char *rr_request_features_json(const rr_router *r, rr_request *q, uint32_t flags,
                                     size_t *len, rr_error *err) {
    if (!r || !q) {
        rr_err(err, RR_EINVAL, "rr_request_features_json: %s is NULL", r ? "request" : "router");
        return NULL;
    }
    if (rr_extract(r, q, err) != RR_OK)
        return NULL;
    rr_buf *b = &q->out;
    rr_buf_clear(b);
    rr_buf_putc(b, '{');
    for (size_t i = 0; i < r->nslots; i++) {
        if (i == RR_SLOT_TASK || r->slot_threshold[i] >= 0)
            continue;
        if (b->len > 1)
            rr_buf_putc(b, ',');
        key(b, r->slot_names[i]);
        const rr_value *v = &q->slots[i];
        /* Host attributes are listed by presence only: they are inputs, not features. */
        if (i >= RR_SLOT__FIXED && v->type == RR_T_STR)
            rr_buf_puts(b, v->present ? "\"<set>\"" : "null");
        else
            put_value(b, v, true);
    }
    if (flags & RR_FEATURES_SPANS) {
        rr_buf_puts(b, ",\"pii_spans\":[");
        for (size_t i = 0; i < q->nspans; i++) {
            const rr_pii_span *s = &q->spans[i];
            if (i)
                rr_buf_putc(b, ',');
            rr_buf_printf(b, "{\"type\":\"%s\",\"start\":%u,\"end\":%u}",
                          rr_pii_name((rr_pii_type)s->type), (unsigned)s->start, (unsigned)s->end);
        }
        rr_buf_printf(b, "],\"pii_spans_truncated\":%s",
                      q->tf.pii_total > q->nspans ? "true" : "false");
    }
    rr_buf_putc(b, '}');
    if (b->oom) {
        rr_err(err, RR_ENOMEM, "out of memory");
        return NULL;
    }
    if (len)
        *len = b->len;
    return b->p;
}
