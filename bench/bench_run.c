/* rr_run overhead per request with an instant fake model, beside rr_route alone on the same
 * requests in the same run:
 *   - one attempt, text output checked by the safety validator (medium_general_v1);
 *   - one attempt, text output checked by the grounding validator (small_rag_v2, an FAQ
 *     with two evidence passages);
 *   - three attempts on a ~300-byte ticket JSON: schema failure on small_extract_v1, schema
 *     failure on medium_extract_v1, success on premium_extract_structured_v1 (the built-in
 *     policy with its extraction ladder lengthened by one rung, since as shipped a schema
 *     failure on the small model goes straight to premium).
 * Prints median and p99 ns per call and allocations per call after warm-up (through the
 * allocator hook; jansson's own allocations, e.g. parsing a JSON output, are not counted).
 *   bench_run [iterations]   (default 20000 per case) */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routeright.h"

static atomic_long g_allocs;

static void *count_malloc(size_t n, void *ud) {
    (void)ud;
    atomic_fetch_add(&g_allocs, 1);
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, void *ud) {
    (void)ud;
    atomic_fetch_add(&g_allocs, 1);
    return realloc(p, n);
}
static void count_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- the instant model ---- */

static const char general_answer[] =
    "I can help with questions about your account, billing and our product. Which of these "
    "is your message about?";
static const char faq_answer[] =
    "To reset your password, open Settings and choose Security [1]. Click Reset password and "
    "we email you a reset link that stays valid for 30 minutes [1].";
/* ~300 bytes; "urgent" is not a severity the schema allows. */
static const char ticket_bad[] =
    "{\"category\":\"billing\",\"severity\":\"urgent\",\"customer_id\":\"CUS-1042\","
    "\"summary\":\"Invoice INV-20931 charged twice\",\"needs_human\":false,"
    "\"mentioned_dates\":[\"2024-05-03T09:30:00Z\"],\"entities\":[{\"type\":\"invoice\","
    "\"value\":\"INV-20931\"}],\"line_items\":[{\"description\":\"Team plan\",\"amount\":99.5},"
    "{\"description\":\"Extra seats\",\"amount\":21}],\"invoice_total\":120.5}";
static const char ticket_good[] =
    "{\"category\":\"billing\",\"severity\":\"medium\",\"customer_id\":\"CUS-1042\","
    "\"summary\":\"Invoice INV-20931 charged twice\",\"needs_human\":false,"
    "\"mentioned_dates\":[\"2024-05-03T09:30:00Z\"],\"entities\":[{\"type\":\"invoice\","
    "\"value\":\"INV-20931\"}],\"line_items\":[{\"description\":\"Team plan\",\"amount\":99.5},"
    "{\"description\":\"Extra seats\",\"amount\":21}],\"invoice_total\":120.5}";

static int instant_model(void *ud, const rr_model_call *c, rr_model_result *r) {
    (void)ud;
    const char *o = general_answer;
    if (!strcmp(c->prompt, "faq_v2"))
        o = faq_answer;
    else if (strcmp(c->output_mode, "text"))
        o = strcmp(c->output_mode, "constrained") ? ticket_bad : ticket_good;
    r->output = o;
    r->output_len = strlen(o);
    r->input_tokens = 400;
    r->output_tokens = (int64_t)r->output_len / 4;
    r->latency_ms = 0;
    r->confidence = 0.9;
    return RR_CALL_OK;
}

/* ---- requests ---- */

typedef struct {
    const char *name;
    const char *text;
    const char *channel;
    int evidence;
    size_t want_attempts;
    const char *want_route;
} bench_case;

static const char ev1[] = "To reset your password, open Settings and choose Security. Click Reset "
                          "password and we email you a reset link that stays valid for 30 minutes.";
static const char ev2[] = "Two-factor authentication is turned on under Settings, Security.";

static void fill(rr_request *q, const bench_case *b) {
    rr_request_reset(q);
    rr_request_set_text(q, b->text, strlen(b->text));
    rr_request_set_attr(q, "tenant.tier", "standard");
    rr_request_set_attr(q, "channel", b->channel);
    rr_request_set_bool(q, "user.authenticated", 1);
    rr_request_set_attr(q, "customer.id", "CUS-1042");
    if (b->evidence) {
        rr_request_add_evidence(q, "kb-100", ev1, sizeof ev1 - 1, 0.91);
        rr_request_add_evidence(q, "kb-170", ev2, sizeof ev2 - 1, 0.52);
    }
}

/* The built-in policy with small -> medium -> premium on schema failures. */
static char *three_rung_policy(void) {
    json_t *p = json_loads(rr_default_policy(), 0, NULL);
    json_t *routes = json_object_get(p, "routes");
    json_object_set_new(json_object_get(json_object_get(routes, "small_extract_v1"), "escalate"),
                        "schema", json_string("medium_extract_v1"));
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    return text;
}

static void report(const char *what, uint64_t *ns, size_t n, long allocs) {
    qsort(ns, n, sizeof *ns, cmp_u64);
    printf("  %-44s median %7.2f us   p99 %7.2f us   allocs/call %.3f\n", what,
           (double)ns[n / 2] / 1e3, (double)ns[(size_t)((double)n * 0.99)] / 1e3,
           (double)allocs / (double)n);
}

static int bench(const rr_router *r, const bench_case *b, size_t iters, const rr_allocator *al) {
    rr_request *q = NULL;
    rr_outcome *o = NULL;
    rr_decision *d = NULL;
    rr_callbacks cb = RR_CALLBACKS_INIT;
    cb.call_model = instant_model;
    uint64_t *ns = malloc(iters * sizeof *ns);
    if (!ns || rr_request_new(&q, al) != RR_OK)
        return 1;
    rr_error err = RR_ERROR_INIT;
    for (size_t i = 0; i < 1000; i++) { /* warm-up, and the outcome is what we expect */
        fill(q, b);
        if (rr_run(r, q, &cb, &o, &err) != RR_OK || rr_route(r, q, &d, &err) != RR_OK) {
            fprintf(stderr, "%s: %s\n", b->name, err.message);
            return 1;
        }
    }
    if (strcmp(rr_outcome_kind(o), "answer") || rr_outcome_attempt_count(o) != b->want_attempts ||
        strcmp(rr_outcome_route(o), b->want_route)) {
        fprintf(stderr, "%s: unexpected outcome %s via %s after %zu attempts: %s\n", b->name,
                rr_outcome_kind(o), rr_outcome_route(o), rr_outcome_attempt_count(o),
                rr_outcome_reason(o));
        return 1;
    }
    printf("%s\n", b->name);
    long a0 = atomic_load(&g_allocs);
    for (size_t i = 0; i < iters; i++) {
        fill(q, b);
        uint64_t t0 = now_ns();
        rr_run(r, q, &cb, &o, NULL);
        ns[i] = now_ns() - t0;
    }
    report("rr_run", ns, iters, atomic_load(&g_allocs) - a0);
    a0 = atomic_load(&g_allocs);
    for (size_t i = 0; i < iters; i++) {
        fill(q, b);
        uint64_t t0 = now_ns();
        rr_route(r, q, &d, NULL);
        ns[i] = now_ns() - t0;
    }
    report("rr_route alone (same request)", ns, iters, atomic_load(&g_allocs) - a0);
    rr_decision_free(d);
    rr_outcome_free(o);
    rr_request_free(q);
    free(ns);
    return 0;
}

int main(int argc, char **argv) {
    size_t iters = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 20000;
    if (iters < 100)
        iters = 100;
    rr_allocator al = {RR_ALLOCATOR_VERSION, NULL, count_malloc, count_realloc, count_free};
    rr_router_options ro = RR_ROUTER_OPTIONS_INIT;
    ro.allocator = &al;
    rr_router *def = NULL, *three = NULL;
    rr_error err = RR_ERROR_INIT;
    char *policy = three_rung_policy();
    if (!policy || rr_router_new_default(&def, &ro, &err) != RR_OK ||
        rr_router_new(&three, policy, strlen(policy), &ro, &err) != RR_OK) {
        fprintf(stderr, "bench_run: %s\n", err.message);
        return 1;
    }
    free(policy);
    static const bench_case cases[] = {
        {"one attempt, safety-checked text (medium_general_v1)",
         "I would like to speak with someone about our account manager.", "chat", 0, 1,
         "medium_general_v1"},
        {"one attempt, grounding-checked FAQ answer (small_rag_v2)", "How do I reset my password?",
         "chat", 1, 1, "small_rag_v2"},
        {"three attempts, ~300-byte ticket JSON: schema, schema, ok",
         "From: Ana Lopez\nSubject: Invoice INV-20931 charged twice\n\nOur card was charged "
         "twice on 2024-05-03. Thanks, Ana, customer CUS-1042",
         "email", 0, 3, "premium_extract_structured_v1"},
    };
    printf("bench_run: %zu iterations per case, instant fake model, no tools, no on_event\n",
           iters);
    int rc = bench(def, &cases[0], iters, &al) || bench(def, &cases[1], iters, &al) ||
             bench(three, &cases[2], iters, &al);
    rr_router_free(def);
    rr_router_free(three);
    return rc;
}
