/* rr_run from many threads on one router: 8 threads x 10,000 runs against a deterministic
 * fake model must reproduce, run for run, what one thread computed alone. Public header
 * only. Also built under ThreadSanitizer by .ci/tsan, which fails on any report. */
/* cmocka.h needs these before it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routeright.h"

#define NREQ 64
#define NTHREADS 8
#define RUNS_PER_THREAD 10000
#define MAX_ATT 8

/* ---- the request set: every family of the default policy, with and without evidence,
 * authenticated or not, some with PII ---- */

typedef struct {
    const char *text;
    const char *tier;
    const char *channel;
    int auth;
    int evidence; /* 0 none, 1 strong retrieval, 2 weak */
} req_tmpl;

static const req_tmpl templates[] = {
    {"How do I reset my password?", "standard", "chat", 1, 1},
    {"How do I export my invoices to CSV?", "free", "chat", 0, 2},
    {"What is the pricing of the Team plan?", "enterprise", "chat", 1, 1},
    {"The calendar sync fails with error 502 every morning.", "standard", "chat", 1, 0},
    {"I can't log in since yesterday, it says my account is locked.", "regulated", "chat", 0, 0},
    {"Login is broken for ana.lopez@example.com and the dashboard is not working.", "standard",
     "chat", 1, 0},
    {"From: ana@example.com\nSubject: Printer offline\nOur invoices stopped printing on May 3.",
     "standard", "email", 1, 0},
    {"Please extract the ticket fields to JSON: order ORD-1234 arrived damaged.", "enterprise",
     "agent_assist", 1, 0},
    {"I want a refund for the double charge on my last invoice.", "standard", "chat", 1, 1},
    {"Our legal team asks about GDPR data retention for EU customers.", "regulated", "chat", 1, 1},
    {"hello", "standard", "chat", 0, 0},
    {"Tell me something about your company and the people who work there today", "free", "chat", 0,
     0},
};

static const char ev_strong_1[] =
    "To reset your password, open Settings, choose Security and click Reset password. A reset "
    "link is emailed to you within five minutes.";
static const char ev_strong_2[] = "Two-factor authentication is enabled under Security.";
static const char ev_weak_1[] = "Invoices are listed under Billing in the account menu.";
static const char ev_weak_2[] = "Exports run nightly for enterprise workspaces.";

typedef struct {
    char text[256];
    const req_tmpl *t;
} req_def;

static void build_requests(req_def *defs) {
    size_t nt = sizeof templates / sizeof templates[0];
    for (size_t i = 0; i < NREQ; i++) {
        defs[i].t = &templates[i % nt];
        if (i < nt)
            snprintf(defs[i].text, sizeof defs[i].text, "%s", defs[i].t->text);
        else /* distinct texts so the fake model's output varies */
            snprintf(defs[i].text, sizeof defs[i].text, "%s (ref %zu)", defs[i].t->text, i);
    }
}

static int fill_request(rr_request *q, const req_def *d) {
    rr_request_reset(q);
    int rc = rr_request_set_text(q, d->text, strlen(d->text));
    rc |= rr_request_set_attr(q, "tenant.tier", d->t->tier);
    rc |= rr_request_set_attr(q, "channel", d->t->channel);
    rc |= rr_request_set_bool(q, "user.authenticated", d->t->auth);
    if (d->t->evidence == 1) {
        rc |= rr_request_add_evidence(q, "kb-12", ev_strong_1, sizeof ev_strong_1 - 1, 0.91);
        rc |= rr_request_add_evidence(q, "kb-40", ev_strong_2, sizeof ev_strong_2 - 1, 0.52);
    } else if (d->t->evidence == 2) {
        rc |= rr_request_add_evidence(q, "kb-7", ev_weak_1, sizeof ev_weak_1 - 1, 0.48);
        rc |= rr_request_add_evidence(q, "kb-9", ev_weak_2, sizeof ev_weak_2 - 1, 0.45);
    }
    return rc;
}

/* ---- the fake model: a pure function of the request text, the attempt and the route's
 * output mode, writing into the calling thread's own buffer ---- */

typedef struct {
    char out[1024];
    long events;
} thread_ctx;

static uint64_t hash_text(const char *s, size_t n, uint64_t seed) {
    uint64_t h = 1469598103934665603ull ^ seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    h ^= h >> 29;
    return h * 0xbf58476d1ce4e5b9ull;
}

static const char *json_output(uint64_t h, char *buf, size_t cap) {
    switch (h % 5) {
    case 0:
        return "{\"customer_id\": \"C-1042\", \"summary\": \"printer offline\"";
    case 1:
        return "{\"customer_id\": \"C-1042\", \"summ";
    case 2:
        return "not json at all";
    default:
        snprintf(buf, cap,
                 "{\"customer_id\":\"C-%04u\",\"category\":\"billing\",\"priority\":\"normal\","
                 "\"summary\":\"Invoices stopped printing\",\"opened\":\"2024-05-03\"}",
                 (unsigned)(h % 10000));
        return buf;
    }
}

static const char *text_output(uint64_t h) {
    static const char *const outs[] = {
        "Open Settings, choose Security and click Reset password [1]. A reset link is emailed "
        "to you within five minutes [1].",
        "Open Settings and click Reset password [7].",
        "I'm sorry, but I can't help with that.",
        "Please restart the sync from the Integrations page and sign in again.",
        "",
    };
    return outs[h % (sizeof outs / sizeof outs[0])];
}

static int fake_model(void *ud, const rr_model_call *c, rr_model_result *r) {
    thread_ctx *t = ud;
    uint64_t h = hash_text(c->text, c->text_len, c->attempt * 0x9e3779b97f4a7c15ull);
    /* Failed calls report a latency too: otherwise rr_run reads the clock. */
    r->latency_ms = 50.0 + (double)((h >> 20) % 900);
    if (c->attempt == 1 && (h >> 40) % 11 == 0)
        return RR_CALL_RETRIABLE;
    if ((h >> 40) % 13 == 1)
        return RR_CALL_TIMEOUT;
    const char *o = strcmp(c->output_mode, "text") ? json_output(h >> 3, t->out, sizeof t->out)
                                                   : text_output(h >> 3);
    r->output = o;
    r->output_len = strlen(o);
    r->input_tokens = (int64_t)(c->text_len / 4 + 120);
    r->output_tokens = (int64_t)(r->output_len / 4 + 1);
    r->confidence = (double)((h >> 12) % 100) / 100.0;
    return RR_CALL_OK;
}

static int count_event(void *ud, const char *json, size_t len) {
    thread_ctx *t = ud;
    if (len == 0 || json[0] != '{' || json[len - 1] != '}')
        return 1; /* a malformed record aborts the run, which the comparison then catches */
    t->events++;
    return 0;
}

/* ---- what one run produced, in a form that compares exactly ---- */

typedef struct {
    int rc;
    char kind[16], route[64], model[32];
    char reason[1024];
    char text[512];
    size_t natt;
    char att_route[MAX_ATT][64], att_status[MAX_ATT][16], att_failure[MAX_ATT][24];
    int64_t att_in[MAX_ATT], att_out[MAX_ATT];
    double att_cost[MAX_ATT], att_latency[MAX_ATT];
    double cost, latency;
    int valid;
    long events;
} snapshot;

static void take(snapshot *s, int rc, const rr_outcome *o, long events) {
    memset(s, 0, sizeof *s);
    s->rc = rc;
    s->events = events;
    if (rc != RR_OK)
        return;
    snprintf(s->kind, sizeof s->kind, "%s", rr_outcome_kind(o));
    snprintf(s->route, sizeof s->route, "%s", rr_outcome_route(o));
    snprintf(s->model, sizeof s->model, "%s", rr_outcome_model(o));
    snprintf(s->reason, sizeof s->reason, "%s", rr_outcome_reason(o));
    size_t tl;
    const char *tx = rr_outcome_text(o, &tl);
    snprintf(s->text, sizeof s->text, "%.*s", (int)(tl < 511 ? tl : 511), tx);
    s->natt = rr_outcome_attempt_count(o);
    for (size_t i = 0; i < s->natt && i < MAX_ATT; i++) {
        snprintf(s->att_route[i], 64, "%s", rr_outcome_attempt_route(o, i));
        snprintf(s->att_status[i], 16, "%s", rr_outcome_attempt_status(o, i));
        snprintf(s->att_failure[i], 24, "%s", rr_outcome_attempt_failure(o, i));
        s->att_in[i] = rr_outcome_attempt_input_tokens(o, i);
        s->att_out[i] = rr_outcome_attempt_output_tokens(o, i);
        s->att_cost[i] = rr_outcome_attempt_cost_usd(o, i);
        s->att_latency[i] = rr_outcome_attempt_latency_ms(o, i);
    }
    s->cost = rr_outcome_cost_usd(o);
    s->latency = rr_outcome_latency_ms(o);
    s->valid = rr_outcome_valid(o);
}

/* Identical computations give identical doubles, so exact comparison is right here. */
static int same(const snapshot *a, const snapshot *b) {
    if (a->rc != b->rc || a->natt != b->natt || a->valid != b->valid || a->events != b->events ||
        a->cost != b->cost || a->latency != b->latency || strcmp(a->kind, b->kind) ||
        strcmp(a->route, b->route) || strcmp(a->model, b->model) || strcmp(a->reason, b->reason) ||
        strcmp(a->text, b->text))
        return 0;
    for (size_t i = 0; i < a->natt && i < MAX_ATT; i++)
        if (strcmp(a->att_route[i], b->att_route[i]) ||
            strcmp(a->att_status[i], b->att_status[i]) ||
            strcmp(a->att_failure[i], b->att_failure[i]) || a->att_in[i] != b->att_in[i] ||
            a->att_out[i] != b->att_out[i] || a->att_cost[i] != b->att_cost[i] ||
            a->att_latency[i] != b->att_latency[i])
            return 0;
    return 1;
}

static void report_diff(int k, const snapshot *got, const snapshot *want) {
    fprintf(stderr,
            "request %d: got %s via %s (%zu attempts, %ld events), want %s via %s (%zu "
            "attempts, %ld events)\n",
            k, got->kind, got->route, got->natt, got->events, want->kind, want->route, want->natt,
            want->events);
    for (size_t i = 0; i < got->natt && i < want->natt && i < MAX_ATT; i++)
        fprintf(stderr,
                "  attempt %zu: %s %s '%s' %lld+%lld tokens %g USD %g ms | want %s %s "
                "'%s' %lld+%lld %g %g\n",
                i, got->att_route[i], got->att_status[i], got->att_failure[i],
                (long long)got->att_in[i], (long long)got->att_out[i], got->att_cost[i],
                got->att_latency[i], want->att_route[i], want->att_status[i], want->att_failure[i],
                (long long)want->att_in[i], (long long)want->att_out[i], want->att_cost[i],
                want->att_latency[i]);
}

typedef struct {
    const rr_router *router;
    const req_def *defs;
    const snapshot *expected;
    int offset;
    int runs;
    long mismatches;
    long completed;
    char first_mismatch[256];
} worker;

static void *work(void *p) {
    worker *w = p;
    thread_ctx ctx = {{0}, 0};
    rr_callbacks cb = RR_CALLBACKS_INIT;
    cb.user_data = &ctx;
    cb.call_model = fake_model;
    cb.on_event = count_event;
    rr_request *q = NULL;
    rr_outcome *o = NULL;
    snapshot *got = calloc(1, sizeof *got);
    if (!got || rr_request_new(&q, NULL) != RR_OK) {
        free(got);
        w->mismatches = -1;
        return NULL;
    }
    for (int i = 0; i < w->runs; i++) {
        /* Each thread walks the requests in its own order so threads collide on the same
         * routes and validators at different moments. */
        int k = (i * 7 + w->offset * 13) % NREQ;
        ctx.events = 0;
        rr_error err = RR_ERROR_INIT;
        int rc = fill_request(q, &w->defs[k]) ? RR_EINVAL : rr_run(w->router, q, &cb, &o, &err);
        take(got, rc, o, ctx.events);
        if (!same(got, &w->expected[k]) && w->mismatches++ == 0) {
            snprintf(w->first_mismatch, sizeof w->first_mismatch,
                     "thread %d run %d request %d: rc %d", w->offset, i, k, rc);
            report_diff(k, got, &w->expected[k]);
        }
        w->completed++;
    }
    rr_outcome_free(o);
    rr_request_free(q);
    free(got);
    return NULL;
}

static rr_router *default_router(void) {
    rr_router *r = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_router_new_default(&r, NULL, &err);
    if (rc != RR_OK)
        fprintf(stderr, "default policy: %s\n", err.message);
    assert_int_equal(rc, RR_OK);
    return r;
}

/* The single-threaded reference, run twice: a pure fake model must give equal results on
 * a reused outcome and request, or the threaded comparison would prove nothing. */
static snapshot *reference(const rr_router *r, const req_def *defs) {
    snapshot *exp = calloc(NREQ, sizeof *exp);
    snapshot *again = calloc(1, sizeof *again);
    assert_non_null(exp);
    assert_non_null(again);
    thread_ctx ctx = {{0}, 0};
    rr_callbacks cb = RR_CALLBACKS_INIT;
    cb.user_data = &ctx;
    cb.call_model = fake_model;
    cb.on_event = count_event;
    rr_request *q = NULL;
    rr_outcome *o = NULL;
    assert_int_equal(rr_request_new(&q, NULL), RR_OK);
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < NREQ; k++) {
            ctx.events = 0;
            assert_int_equal(fill_request(q, &defs[k]), RR_OK);
            rr_error err = RR_ERROR_INIT;
            int rc = rr_run(r, q, &cb, &o, &err);
            if (rc != RR_OK)
                fprintf(stderr, "request %d: %s\n", k, err.message);
            assert_int_equal(rc, RR_OK);
            take(pass ? again : &exp[k], rc, o, ctx.events);
            if (pass && !same(again, &exp[k])) {
                report_diff(k, again, &exp[k]);
                fail();
            }
        }
    rr_outcome_free(o);
    rr_request_free(q);
    free(again);
    return exp;
}

static void test_eight_threads_reproduce_single_threaded_outcomes(void **state) {
    (void)state;
    rr_router *r = default_router();
    req_def defs[NREQ];
    build_requests(defs);
    snapshot *exp = reference(r, defs);

    /* The comparison only means something if the set exercises the ladder. */
    int kinds_answer = 0, kinds_other = 0, escalated = 0, retried = 0;
    for (int k = 0; k < NREQ; k++) {
        if (!strcmp(exp[k].kind, "answer"))
            kinds_answer++;
        else
            kinds_other++;
        for (size_t i = 1; i < exp[k].natt; i++) {
            if (strcmp(exp[k].att_route[i], exp[k].att_route[i - 1]))
                escalated++;
            else
                retried++;
        }
    }
    assert_true(kinds_answer > 0);
    assert_true(kinds_other > 0);
    assert_true(escalated > 0);
    assert_true(retried > 0);

    worker w[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].router = r;
        w[i].defs = defs;
        w[i].expected = exp;
        w[i].offset = i;
        w[i].runs = RUNS_PER_THREAD;
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < NTHREADS; i++) {
        if (w[i].mismatches)
            fprintf(stderr, "%s (%ld mismatches)\n", w[i].first_mismatch, w[i].mismatches);
        assert_int_equal(w[i].mismatches, 0);
        assert_int_equal(w[i].completed, RUNS_PER_THREAD);
    }
    free(exp);
    rr_router_free(r);
}

/* Several threads sharing one callbacks table and one user_data, as a host with one
 * stateless client would: the callbacks run concurrently and must see consistent calls. */
typedef struct {
    atomic_long calls;
    atomic_long bad_calls;
} shared_ctx;

static int shared_model(void *ud, const rr_model_call *c, rr_model_result *r) {
    shared_ctx *s = ud;
    atomic_fetch_add(&s->calls, 1);
    if (c->version != RR_MODEL_CALL_VERSION || !c->route || !c->model || !c->text ||
        c->attempt < 1 || !c->previous_findings || !c->tool_results)
        atomic_fetch_add(&s->bad_calls, 1);
    static const char out[] = "Please restart the sync from the Integrations page.";
    r->output = out;
    r->output_len = sizeof out - 1;
    r->input_tokens = 100;
    r->output_tokens = 12;
    r->latency_ms = 10;
    return RR_CALL_OK;
}

typedef struct {
    const rr_router *r;
    const rr_callbacks *cb;
    const req_def *defs;
    long ok;
} shared_worker;

static void *shared_work(void *p) {
    shared_worker *w = p;
    rr_request *q = NULL;
    rr_outcome *o = NULL;
    if (rr_request_new(&q, NULL) != RR_OK)
        return NULL;
    for (int i = 0; i < 2000; i++) {
        if (fill_request(q, &w->defs[i % NREQ]) == RR_OK &&
            rr_run(w->r, q, w->cb, &o, NULL) == RR_OK)
            w->ok++;
    }
    rr_outcome_free(o);
    rr_request_free(q);
    return NULL;
}

static void test_threads_may_share_one_callbacks_table(void **state) {
    (void)state;
    rr_router *r = default_router();
    req_def defs[NREQ];
    build_requests(defs);
    shared_ctx ctx;
    atomic_init(&ctx.calls, 0);
    atomic_init(&ctx.bad_calls, 0);
    rr_callbacks cb = RR_CALLBACKS_INIT;
    cb.user_data = &ctx;
    cb.call_model = shared_model;
    /* One thread alone first: how many model calls 2000 runs make. */
    shared_worker solo = {r, &cb, defs, 0};
    shared_work(&solo);
    assert_int_equal(solo.ok, 2000);
    long solo_calls = atomic_load(&ctx.calls);
    assert_true(solo_calls > 0);
    atomic_store(&ctx.calls, 0);
    shared_worker w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (shared_worker){r, &cb, defs, 0};
        assert_int_equal(pthread_create(&th[i], NULL, shared_work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(w[i].ok, 2000);
    assert_int_equal(atomic_load(&ctx.calls), 4 * solo_calls);
    assert_int_equal(atomic_load(&ctx.bad_calls), 0);
    rr_router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eight_threads_reproduce_single_threaded_outcomes),
        cmocka_unit_test(test_threads_may_share_one_callbacks_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
