/* rr_run: route -> (tools) -> model call -> validate -> escalate, until an outcome, with the
 * host's callbacks. The outcome owns two decisions (current and next, swapped each step),
 * one verdict and growable attempt records, so a reused outcome allocates nothing after
 * warm-up beyond what the callbacks do. */
#include "router.h"
#include "verdict.h"

#include <math.h>
#include <string.h>

typedef struct attempt_rec {
    int route, model;
    int status; /* RR_CALL_* or -100 for terminal (no call) */
    int failure; /* rr_failure or -1 */
    int64_t in, out;
    double cost, latency;
    uint32_t verdict_off, verdict_len; /* verdict JSON in pool */
    uint32_t reason_off, reason_len;   /* decision reason in pool */
} attempt_rec;

struct rr_outcome {
    rr_alloc a;
    const rr_router *router;
    rr_decision *dec[2];
    rr_verdict *verdict;
    attempt_rec *att;
    size_t natt, capatt;
    rr_buf pool;    /* verdict JSON and reasons of attempts */
    rr_buf text;    /* final text */
    rr_buf reason;  /* reason chain */
    rr_buf event;   /* scratch for on_event records */
    rr_buf tools;   /* tool results JSON for call_model */
    rr_buf prev;    /* previous findings JSON */
    rr_buf json;
    bool json_valid;
    const char *kind;
    int route;
    int valid;
    double cost, latency;
    int64_t in, out;
};

static const char *const status_names[] = {"ok", "retriable", "error", "timeout"};

static const char *status_name(int s) {
    return (s >= 0 && s <= 3) ? status_names[s] : s == -100 ? "terminal" : "error";
}

void rr_outcome_free(rr_outcome *o) {
    if (!o)
        return;
    rr_decision_free(o->dec[0]);
    rr_decision_free(o->dec[1]);
    rr_verdict_free(o->verdict);
    rr_free(&o->a, o->att);
    rr_buf_free(&o->pool);
    rr_buf_free(&o->text);
    rr_buf_free(&o->reason);
    rr_buf_free(&o->event);
    rr_buf_free(&o->tools);
    rr_buf_free(&o->prev);
    rr_buf_free(&o->json);
    rr_alloc a = o->a;
    rr_free(&a, o);
}

static int outcome_prepare(const rr_router *r, rr_request *q, rr_outcome **op) {
    rr_outcome *o = *op;
    if (!o) {
        o = rr_calloc(&q->a, 1, sizeof *o);
        if (!o)
            return RR_ENOMEM;
        o->a = q->a;
        rr_buf_init(&o->pool, &o->a);
        rr_buf_init(&o->text, &o->a);
        rr_buf_init(&o->reason, &o->a);
        rr_buf_init(&o->event, &o->a);
        rr_buf_init(&o->tools, &o->a);
        rr_buf_init(&o->prev, &o->a);
        rr_buf_init(&o->json, &o->a);
        rr_allocator pub = {RR_ALLOCATOR_VERSION, o->a.ud, o->a.malloc_fn, o->a.realloc_fn,
                            o->a.free_fn};
        if (rr_verdict_new(&o->verdict, &pub) != RR_OK) {
            rr_outcome_free(o);
            return RR_ENOMEM;
        }
        *op = o;
    }
    o->router = r;
    o->natt = 0;
    rr_buf_clear(&o->pool);
    rr_buf_clear(&o->text);
    rr_buf_clear(&o->reason);
    o->json_valid = false;
    o->kind = "human_review";
    o->route = -1;
    o->valid = 0;
    o->cost = o->latency = 0;
    o->in = o->out = 0;
    return RR_OK;
}

static uint64_t clock_ns(const rr_callbacks *cb) {
    return cb->now_ns ? cb->now_ns(cb->user_data) : rr_now_ns();
}

/* Send one event record; returns RR_EABORT when the host asks to stop. */
static int emit(const rr_callbacks *cb, rr_outcome *o, const char *type, uint32_t attempt,
                const char *body, size_t len) {
    if (!cb->on_event)
        return RR_OK;
    rr_buf *b = &o->event;
    rr_buf_clear(b);
    rr_buf_printf(b, "{\"event\":\"%s\",\"attempt\":%u,\"data\":", type, (unsigned)attempt);
    rr_buf_put(b, body, len);
    rr_buf_putc(b, '}');
    if (b->oom)
        return RR_ENOMEM;
    return cb->on_event(cb->user_data, b->p, b->len) ? RR_EABORT : RR_OK;
}

static int emit_decision(const rr_callbacks *cb, rr_outcome *o, rr_decision *d) {
    if (!cb->on_event)
        return RR_OK;
    size_t n;
    const char *js = rr_decision_json(d, &n);
    if (!js)
        return RR_ENOMEM;
    return emit(cb, o, d->esc_from >= 0 ? "escalation" : "decision", d->attempt, js, n);
}

static int record_attempt(rr_outcome *o, const rr_decision *d, int status, int failure) {
    if (o->natt == o->capatt) {
        size_t cap = o->capatt ? o->capatt * 2 : 8;
        attempt_rec *n = rr_realloc(&o->a, o->att, o->capatt * sizeof *n, cap * sizeof *n);
        if (!n)
            return RR_ENOMEM;
        o->att = n;
        o->capatt = cap;
    }
    attempt_rec *a = &o->att[o->natt++];
    memset(a, 0, sizeof *a);
    const rr_route_def *rt = &o->router->routes[d->route];
    a->route = d->route;
    a->model = rt->model;
    a->status = status;
    a->failure = failure;
    a->in = d->usage_in;
    a->out = d->usage_out;
    a->cost = d->cost_usd;
    a->latency = d->latency_ms;
    const char *reason = rr_decision_reason(d);
    a->reason_off = (uint32_t)o->pool.len;
    a->reason_len = (uint32_t)strlen(reason);
    rr_buf_put(&o->pool, reason, a->reason_len);
    a->verdict_off = (uint32_t)o->pool.len;
    a->verdict_len = 0;
    if (o->reason.len)
        rr_buf_puts(&o->reason, " | ");
    rr_buf_puts(&o->reason, reason);
    o->cost += a->cost;
    o->latency += a->latency;
    o->in = rr_tokens_add(o->in, a->in);
    o->out = rr_tokens_add(o->out, a->out);
    return (o->pool.oom || o->reason.oom) ? RR_ENOMEM : RR_OK;
}

static int attach_verdict(rr_outcome *o, const char *js, size_t n) {
    attempt_rec *a = &o->att[o->natt - 1];
    a->verdict_off = (uint32_t)o->pool.len;
    rr_buf_put(&o->pool, js, n);
    if (o->pool.oom)
        return RR_ENOMEM; /* verdict_len stays 0: the record never reads past the pool */
    a->verdict_len = (uint32_t)n;
    return RR_OK;
}

static const char *terminal_kind(int kind) {
    switch (kind) {
    case RR_ROUTE_CLARIFY: return "clarify";
    case RR_ROUTE_DEFER: return "defer";
    case RR_ROUTE_REFUSE: return "safe_failure";
    default: return "human_review";
    }
}

/* Call every tool of the route; returns a failure (rr_failure) or -1, and sets *retriable. */
static int call_tools(const rr_router *r, rr_request *q, const rr_callbacks *cb, rr_outcome *o,
                      rr_decision *d, int *retriable, int *status) {
    const rr_route_def *rt = &r->routes[d->route];
    rr_buf *b = &o->tools;
    rr_buf_clear(b);
    rr_buf_putc(b, '{');
    for (size_t i = 0; i < rt->ntools && cb->call_tool; i++) {
        rr_tool_call tc = {RR_TOOL_CALL_VERSION, d->attempt, r->tools[rt->tools[i]], rt->id,
                           rr_req_str(q, q->text_off), q->text_len, q};
        rr_tool_result res = {RR_TOOL_CALL_VERSION, NULL, 0, -1};
        uint64_t t0 = clock_ns(cb);
        int st = cb->call_tool(cb->user_data, &tc, &res);
        double ms = res.latency_ms >= 0 && isfinite(res.latency_ms)
                        ? res.latency_ms
                        : (double)(clock_ns(cb) - t0) / 1e6;
        rr_decision_add_usage(d, 0, 0, ms);
        *status = st;
        if (st == RR_CALL_ABORT)
            return -2;
        if (st != RR_CALL_OK) {
            *retriable = st == RR_CALL_RETRIABLE;
            return st == RR_CALL_TIMEOUT ? RR_F_TIMEOUT : RR_F_TOOL_ERROR;
        }
        if (i)
            rr_buf_putc(b, ',');
        rr_buf_json_str(b, tc.tool, strlen(tc.tool));
        rr_buf_putc(b, ':');
        if (res.output && rr_utf8_check(res.output, res.output_len) == res.output_len)
            rr_buf_json_str(b, res.output, res.output_len);
        else
            rr_buf_puts(b, "null");
    }
    rr_buf_putc(b, '}');
    return -1;
}

static void previous_findings(rr_outcome *o, int failure) {
    rr_buf *b = &o->prev;
    rr_buf_clear(b);
    if (failure < 0 || o->verdict->passed) {
        rr_buf_puts(b, "[]");
        return;
    }
    size_t n;
    const char *js = rr_verdict_json(o->verdict, &n);
    const char *f = js ? strstr(js, "\"findings\":") : NULL;
    if (!f) {
        rr_buf_puts(b, "[]");
        return;
    }
    /* The findings array of the last verdict, copied as is. */
    f += 11;
    int depth = 0;
    bool str = false;
    const char *e = f;
    for (; e < js + n; e++) {
        if (str) {
            if (*e == '\\')
                e++;
            else if (*e == '"')
                str = false;
        } else if (*e == '"') {
            str = true;
        } else if (*e == '[' || *e == '{') {
            depth++;
        } else if (*e == ']' || *e == '}') {
            if (--depth == 0) {
                e++;
                break;
            }
        }
    }
    rr_buf_put(b, f, (size_t)(e - f));
}

/* One model attempt on decision d. Returns RR_OK with *failure = -1 when the output is
 * accepted, else the failure; RR_EABORT / RR_ENOMEM stop the run. */
static int attempt(const rr_router *r, rr_request *q, const rr_callbacks *cb, rr_outcome *o,
                   rr_decision *d, int prev_failure, int *failure, int *retriable, rr_error *err) {
    const rr_route_def *rt = &r->routes[d->route];
    int status = RR_CALL_OK;
    *retriable = 0;
    *failure = call_tools(r, q, cb, o, d, retriable, &status);
    if (*failure == -2)
        return rr_err(err, RR_EABORT, "call_tool asked to stop (attempt %u, route %s)",
                      (unsigned)d->attempt, rt->id);
    if (o->tools.oom)
        return rr_err(err, RR_ENOMEM, "out of memory");
    if (*failure >= 0) {
        rr_verdict_clear(o->verdict);
        return record_attempt(o, d, status, *failure);
    }
    const char *tools[64];
    for (size_t i = 0; i < rt->ntools && i < 64; i++)
        tools[i] = r->tools[rt->tools[i]];
    const char *schema = NULL;
    for (size_t i = 0; i < rt->nvalidators && !schema; i++)
        schema = rr_validator_schema_json(&r->validators[rt->validators[i]]);
    previous_findings(o, prev_failure);
    if (o->prev.oom)
        return rr_err(err, RR_ENOMEM, "out of memory");
    rr_model_call mc = {RR_MODEL_CALL_VERSION, d->attempt, rt->id, rt->version,
                        r->models[rt->model].id, rt->prompt, rt->output_mode,
                        strcmp(rt->output_mode, "text") ? schema : NULL, tools,
                        rt->ntools < 64 ? rt->ntools : 64, rt->context_tokens,
                        rt->max_output_tokens, rr_req_str(q, q->text_off), q->text_len,
                        prev_failure >= 0 ? rr_failure_name(prev_failure) : "", o->prev.p,
                        o->tools.p, q};
    rr_model_result res = {RR_MODEL_RESULT_VERSION, NULL, 0, -1, -1, -1, -1};
    uint64_t t0 = clock_ns(cb);
    status = cb->call_model(cb->user_data, &mc, &res);
    double ms = res.latency_ms >= 0 && isfinite(res.latency_ms)
                    ? res.latency_ms
                    : (double)(clock_ns(cb) - t0) / 1e6;
    if (status == RR_CALL_ABORT)
        return rr_err(err, RR_EABORT, "call_model asked to stop (attempt %u, route %s)",
                      (unsigned)d->attempt, rt->id);
    /* Garbage from the callback is a model error, never a crash or a silent pass. */
    bool garbage = status == RR_CALL_OK &&
                   (!res.output || res.input_tokens < -1 || res.output_tokens < -1);
    int64_t in = res.input_tokens >= 0 ? res.input_tokens : (int64_t)(q->text_len + 3) / 4;
    int64_t out = res.output_tokens >= 0 ? res.output_tokens
                                         : (int64_t)((res.output ? res.output_len : 0) + 3) / 4;
    if (garbage || status != RR_CALL_OK) {
        /* Count only what the host reported for a failed call. */
        in = res.input_tokens >= 0 ? res.input_tokens : 0;
        out = res.output_tokens >= 0 ? res.output_tokens : 0;
    }
    rr_decision_add_usage(d, in, out, ms);
    if (status != RR_CALL_OK || garbage) {
        rr_verdict_clear(o->verdict);
        *retriable = status == RR_CALL_RETRIABLE;
        *failure = status == RR_CALL_TIMEOUT ? RR_F_TIMEOUT : RR_F_MODEL_ERROR;
        return record_attempt(o, d, garbage ? RR_CALL_ERROR : status, *failure);
    }
    rr_buf_clear(&o->text);
    rr_buf_put(&o->text, res.output, res.output_len);
    if (o->text.oom)
        return rr_err(err, RR_ENOMEM, "out of memory");
    int rc = rr_validate(r, d, o->text.p, o->text.len, q, o->verdict, err);
    if (rc == RR_ETOOBIG) {
        rr_verdict_clear(o->verdict);
        rr_verdict_add(o->verdict, "shape", "output_too_large", "", "", 0, "", 0, -1, -1,
                       "the output is %zu bytes, over the router's maximum", o->text.len);
        rr_verdict_fail(o->verdict, RR_FAIL_SAFETY);
    } else if (rc != RR_OK) {
        return rc;
    }
    if (o->verdict->passed && rt->min_confidence >= 0 && res.confidence >= 0 &&
        res.confidence < rt->min_confidence)
        *failure = RR_F_LOW_CONFIDENCE;
    else
        *failure = o->verdict->passed ? -1 : rr_failure_lookup(o->verdict->failure);
    if ((rc = record_attempt(o, d, RR_CALL_OK, *failure)) != RR_OK)
        return rr_err(err, rc, "out of memory");
    size_t n;
    const char *vj = rr_verdict_json(o->verdict, &n);
    if (!vj)
        return rr_err(err, RR_ENOMEM, "out of memory");
    if (attach_verdict(o, vj, n) != RR_OK)
        return rr_err(err, RR_ENOMEM, "out of memory");
    if ((rc = emit(cb, o, "verdict", d->attempt, vj, n)) != RR_OK)
        return rr_err(err, rc, rc == RR_EABORT ? "on_event asked to stop" : "out of memory");
    return RR_OK;
}

static int finish_terminal(rr_outcome *o, const rr_decision *d) {
    const rr_route_def *rt = &o->router->routes[d->route];
    o->kind = terminal_kind(rt->kind);
    o->route = d->route;
    rr_buf_clear(&o->text);
    rr_buf_puts(&o->text, rt->message ? rt->message : "");
    return o->text.oom ? RR_ENOMEM : RR_OK;
}

static int run_loop(const rr_router *r, rr_request *q, const rr_callbacks *cb, rr_outcome *o,
                    rr_error *err) {
    int cur = 0, prev_failure = -1, rc;
    rr_decision *d = o->dec[0];
    /* The ladder is acyclic and retries are bounded, so this ends; the cap is a backstop. */
    for (int step = 0; step < 256; step++) {
        if ((rc = emit_decision(cb, o, d)) != RR_OK)
            return rr_err(err, rc, rc == RR_EABORT ? "on_event asked to stop" : "out of memory");
        const rr_route_def *rt = &r->routes[d->route];
        if (rt->kind != RR_ROUTE_MODEL) {
            if ((rc = record_attempt(o, d, -100, -1)) != RR_OK ||
                (rc = finish_terminal(o, d)) != RR_OK)
                return rr_err(err, rc, "out of memory");
            return RR_OK;
        }
        int failure, retriable;
        if ((rc = attempt(r, q, cb, o, d, prev_failure, &failure, &retriable, err)) != RR_OK)
            return rc;
        if (failure < 0) {
            o->kind = "answer";
            o->route = d->route;
            o->valid = 1;
            return RR_OK;
        }
        rr_decision **next = &o->dec[1 - cur];
        if ((rc = rr_escalate(r, d, rr_failure_name(failure), retriable, next, err)) != RR_OK)
            return rc;
        cur = 1 - cur;
        d = o->dec[cur];
        prev_failure = failure;
    }
    return finish_terminal(o, d) == RR_OK ? RR_OK : rr_err(err, RR_ENOMEM, "out of memory");
}

int rr_run(const rr_router *r, rr_request *q, const rr_callbacks *cb, rr_outcome **op,
           rr_error *err) {
    if (!r || !q || !cb || !op)
        return rr_err(err, RR_EINVAL, "rr_run: NULL argument");
    if (cb->version == 0 || cb->version > RR_CALLBACKS_VERSION)
        return rr_err(err, RR_EINVAL, "rr_run: unsupported callbacks version %u",
                      (unsigned)cb->version);
    if (!cb->call_model)
        return rr_err(err, RR_EINVAL, "rr_run: callbacks.call_model is required");
    rr_outcome *given = *op;
    int rc = outcome_prepare(r, q, op);
    if (rc != RR_OK)
        return rr_err(err, rc, "out of memory");
    rr_outcome *o = *op;
    if ((rc = rr_route(r, q, &o->dec[0], err)) == RR_OK) {
        rr_verdict_clear(o->verdict);
        rc = run_loop(r, q, cb, o, err);
    }
    if (rc == RR_OK && cb->on_event) {
        size_t n;
        const char *js = rr_outcome_json(o, &n);
        /* The outcome record is the last event; an abort here changes nothing. */
        if (!js || emit(cb, o, "outcome", (uint32_t)o->natt, js, n) == RR_ENOMEM)
            rc = rr_err(err, RR_ENOMEM, "out of memory");
    }
    if (rc != RR_OK && !given) { /* on failure the caller's pointer is left unchanged */
        rr_outcome_free(o);
        *op = NULL;
    }
    return rc;
}

/* Getters */

const char *rr_outcome_kind(const rr_outcome *o) {
    return o ? o->kind : "";
}
const char *rr_outcome_text(const rr_outcome *o, size_t *len) {
    if (!o)
        return NULL;
    if (len)
        *len = o->text.len;
    return o->text.p ? o->text.p : "";
}
const char *rr_outcome_route(const rr_outcome *o) {
    return (o && o->route >= 0) ? o->router->routes[o->route].id : "";
}
const char *rr_outcome_model(const rr_outcome *o) {
    if (!o || o->route < 0 || o->router->routes[o->route].model < 0)
        return "";
    return o->router->models[o->router->routes[o->route].model].id;
}
const char *rr_outcome_reason(const rr_outcome *o) {
    return (o && o->reason.p) ? o->reason.p : "";
}
size_t rr_outcome_attempt_count(const rr_outcome *o) {
    return o ? o->natt : 0;
}
static const attempt_rec *att(const rr_outcome *o, size_t i) {
    return (o && i < o->natt) ? &o->att[i] : NULL;
}
const char *rr_outcome_attempt_route(const rr_outcome *o, size_t i) {
    const attempt_rec *a = att(o, i);
    return a ? o->router->routes[a->route].id : NULL;
}
const char *rr_outcome_attempt_model(const rr_outcome *o, size_t i) {
    const attempt_rec *a = att(o, i);
    return a ? (a->model >= 0 ? o->router->models[a->model].id : "") : NULL;
}
const char *rr_outcome_attempt_status(const rr_outcome *o, size_t i) {
    const attempt_rec *a = att(o, i);
    return a ? status_name(a->status) : NULL;
}
const char *rr_outcome_attempt_failure(const rr_outcome *o, size_t i) {
    const attempt_rec *a = att(o, i);
    return a ? (a->failure >= 0 ? rr_failure_name(a->failure) : "") : NULL;
}
int64_t rr_outcome_attempt_input_tokens(const rr_outcome *o, size_t i) {
    const attempt_rec *a = att(o, i);
    return a ? a->in : -1;
}
int64_t rr_outcome_attempt_output_tokens(const rr_outcome *o, size_t i) {
    const attempt_rec *a = att(o, i);
    return a ? a->out : -1;
}
double rr_outcome_attempt_cost_usd(const rr_outcome *o, size_t i) {
    const attempt_rec *a = att(o, i);
    return a ? a->cost : -1;
}
double rr_outcome_attempt_latency_ms(const rr_outcome *o, size_t i) {
    const attempt_rec *a = att(o, i);
    return a ? a->latency : -1;
}
double rr_outcome_cost_usd(const rr_outcome *o) {
    return o ? o->cost : 0;
}
double rr_outcome_latency_ms(const rr_outcome *o) {
    return o ? o->latency : 0;
}
int64_t rr_outcome_input_tokens(const rr_outcome *o) {
    return o ? o->in : 0;
}
int64_t rr_outcome_output_tokens(const rr_outcome *o) {
    return o ? o->out : 0;
}
int rr_outcome_valid(const rr_outcome *o) {
    return o ? o->valid : 0;
}


const char *rr_outcome_json(rr_outcome *o, size_t *len) {
    if (!o || !o->router)
        return NULL;
    if (!o->json_valid) {
        const rr_router *r = o->router;
        rr_buf *b = &o->json;
        rr_buf_clear(b);
        rr_buf_putc(b, '{');
        rr_policy_json(b, r);
        rr_buf_putc(b, ',');
        rr_buf_json_kv(b, "kind", o->kind);
        rr_buf_putc(b, ',');
        rr_buf_json_kv(b, "route", rr_outcome_route(o));
        rr_buf_putc(b, ',');
        rr_buf_json_kv(b, "gen_ai.response.model", rr_outcome_model(o));
        rr_buf_printf(b, ",\"valid\":%s,\"text_bytes\":%zu,", o->valid ? "true" : "false",
                      o->text.len);
        rr_buf_json_kv(b, "reason", rr_outcome_reason(o));
        rr_buf_printf(b, ",\"gen_ai.usage.input_tokens\":%lld,\"gen_ai.usage.output_tokens\":%lld",
                      (long long)o->in, (long long)o->out);
        rr_buf_puts(b, ",\"cost_usd\":");
        rr_buf_json_num(b, o->cost);
        rr_buf_puts(b, ",\"latency_ms\":");
        rr_buf_json_num(b, o->latency);
        rr_buf_puts(b, ",\"attempts\":[");
        for (size_t i = 0; i < o->natt; i++) {
            const attempt_rec *a = &o->att[i];
            rr_buf_puts(b, i ? ",{" : "{");
            rr_buf_json_kv(b, "route", r->routes[a->route].id);
            rr_buf_putc(b, ',');
            rr_buf_json_kv(b, "gen_ai.request.model", a->model >= 0 ? r->models[a->model].id : "");
            rr_buf_putc(b, ',');
            rr_buf_json_kv(b, "status", status_name(a->status));
            rr_buf_putc(b, ',');
            rr_buf_json_kv(b, "failure", a->failure >= 0 ? rr_failure_name(a->failure) : "");
            rr_buf_printf(b, ",\"gen_ai.usage.input_tokens\":%lld,"
                             "\"gen_ai.usage.output_tokens\":%lld,\"cost_usd\":",
                          (long long)a->in, (long long)a->out);
            rr_buf_json_num(b, a->cost);
            rr_buf_puts(b, ",\"latency_ms\":");
            rr_buf_json_num(b, a->latency);
            rr_buf_puts(b, ",\"reason\":");
            rr_buf_json_str(b, o->pool.p + a->reason_off, a->reason_len);
            rr_buf_puts(b, ",\"verdict\":");
            if (a->verdict_len)
                rr_buf_put(b, o->pool.p + a->verdict_off, a->verdict_len);
            else
                rr_buf_puts(b, "null");
            rr_buf_putc(b, '}');
        }
        rr_buf_puts(b, "]}");
        if (b->oom)
            return NULL;
        o->json_valid = true;
    }
    if (len)
        *len = o->json.len;
    return o->json.p;
}
