/* Offline evaluation: replay metrics on hand-computed fixtures, the research metrics
 * (APGR / CPT / AIQ), importers, bad input, merging shards, calibration and comparison.
 * argv[1] = tests/data/eval, argv[2] = the RouteLLM MMLU CSV directory (optional). */
/* cmocka.h needs these before it. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"

static const char *data_dir = "tests/data/eval";
static const char *mmlu_dir = "";

/* ---- helpers ------------------------------------------------------------------------- */

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", data_dir, name);
}

static rr_router *router_file(const char *name) {
    char p[1024];
    path_of(p, sizeof p, name);
    rr_router *r = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_router_new_from_file(&r, p, NULL, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, RR_OK);
    return r;
}

static rr_router *router_default(void) {
    rr_router *r = NULL;
    assert_int_equal(rr_router_new_default(&r, NULL, NULL), RR_OK);
    return r;
}

static rr_router *router_text(const char *text) {
    rr_router *r = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_router_new(&r, text, strlen(text), NULL, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, RR_OK);
    return r;
}

static rr_eval *eval_new(const rr_router *r, const rr_eval_options *o) {
    rr_eval *ev = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_eval_new(&ev, r, o, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, RR_OK);
    return ev;
}

static void add_fixture(rr_eval *ev, const char *name) {
    char p[1024];
    path_of(p, sizeof p, name);
    rr_error err = RR_ERROR_INIT;
    int rc = rr_eval_add_file(ev, p, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, RR_OK);
}

static void add_line(rr_eval *ev, const char *line) {
    rr_error err = RR_ERROR_INIT;
    int rc = rr_eval_add_line(ev, line, strlen(line), &err);
    if (rc)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(rc, RR_OK);
}

/* A value from the result JSON by dotted path ("overall.escalation.recall"). */
static double jget(json_t *root, const char *path) {
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", path);
    json_t *v = root;
    for (char *s = tmp, *dot; v && s; s = dot ? dot + 1 : NULL) {
        dot = strchr(s, '.');
        if (dot)
            *dot = 0;
        v = json_object_get(v, s);
    }
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static json_t *result(rr_eval *ev) {
    size_t n;
    const char *s = rr_eval_result_json(ev, &n);
    assert_non_null(s);
    json_error_t je;
    json_t *j = json_loadb(s, n, 0, &je);
    if (!j)
        fprintf(stderr, "result JSON: %s\n", je.text);
    assert_non_null(j);
    return j;
}

#define assert_near(a, b, tol)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (tol))) {                                                           \
            fprintf(stderr, "%s = %.10g, expected %.10g (+-%g)\n", #a, a_, b_, (double)(tol));     \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* A two-route strong/weak policy: everything goes to the weak route. */
static const char pair_policy[] =
    "{\"policy\":\"pair\",\"version\":\"1\","
    "\"models\":{\"weak\":{\"tier\":1,\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":1},"
    "\"strong\":{\"tier\":2,\"usd_per_mtok_in\":10,\"usd_per_mtok_out\":10}},"
    "\"thresholds\":{\"long\":1000},"
    "\"rules\":[{\"id\":\"long\",\"when\":\"text.tokens > thr.long\",\"route\":\"strong_r\"},"
    "{\"id\":\"short\",\"when\":\"true\",\"route\":\"weak_r\"}],"
    "\"routes\":{\"weak_r\":{\"model\":\"weak\"},\"strong_r\":{\"model\":\"strong\"}}}";

static void pair_line(char *out, size_t cap, int i, double w, double s, double lat) {
    snprintf(
        out, cap,
        "{\"id\":\"p%d\",\"text\":\"question %d\",\"outcomes\":{\"weak_r\":{\"quality\":%g,"
        "\"cost_usd\":0.001,\"latency_ms\":%.3f},\"strong_r\":{\"quality\":%g,\"cost_usd\":0.01,"
        "\"latency_ms\":%.3f}}}",
        i, i, w, lat, s, lat * 3);
}

/* 1000 records: 200 only the strong model answers, 500 both, 300 neither. */
static void add_dominated_pairs(rr_eval *ev) {
    char line[512];
    for (int i = 0; i < 1000; i++) {
        double w = i < 200 ? 0 : i < 700 ? 1 : 0, s = i < 700 ? 1 : 0;
        pair_line(line, sizeof line, i, w, s, 100 + (i * 37) % 900);
        add_line(ev, line);
    }
}

/* ---- the replay metrics on the hand-computed fixture --------------------------------- */

/* tests/data/eval/support_small.jsonl through the default policy; every expected value
 * below is worked out by hand in tests/data/eval/support_small.md. */
static void test_replay_metrics_match_hand_computed_fixture(void **state) {
    (void)state;
    rr_router *r = router_default();
    rr_eval *ev = eval_new(r, NULL);
    add_fixture(ev, "support_small.jsonl");
    assert_int_equal(rr_eval_record_count(ev), 8);
    assert_int_equal(rr_eval_missing_count(ev), 1);
    json_t *j = result(ev);
    assert_near(jget(j, "overall.quality"), 0.85, 1e-12);
    assert_near(jget(j, "overall.cost_per_request_usd"), 0.0145, 1e-12);
    assert_near(jget(j, "overall.escalation.rate"), 0.625, 1e-12);
    assert_near(jget(j, "overall.escalation.precision"), 0.8, 1e-12);
    assert_near(jget(j, "overall.escalation.recall"), 0.8, 1e-12);
    assert_near(jget(j, "overall.false_cheap_route_rate"), 0.5, 1e-12);
    assert_near(jget(j, "overall.premium_overuse_rate"), 0.5, 1e-12);
    assert_near(jget(j, "overall.premium_share"), 0.375, 1e-12);
    assert_near(jget(j, "overall.route_accuracy"), 1, 1e-12);
    assert_near(jget(j, "overall.human_review_rate"), 0.125, 1e-12);
    assert_near(jget(j, "overall.human_review_recall"), 1, 1e-12);
    assert_near(jget(j, "overall.schema_valid_rate.small_extract_v1"), 0, 1e-12);
    assert_near(jget(j, "overall.schema_valid_rate.premium_extract_structured_v1"), 1, 1e-12);
    assert_near(jget(j, "overall.risk.high.n"), 2, 0);
    assert_near(jget(j, "overall.risk.high.cheap"), 1, 0);
    assert_near(jget(j, "overall.routes.final.human_review"), 1, 0);
    assert_near(jget(j, "overall.routes.attempts.small_rag_v2"), 6, 0); /* r8 retried */
    assert_near(jget(j, "missing_outcome.by_route.medium_rag_v1"), 1, 0);
    /* Latencies 400 400 1000 1800 2900 2900 3000 3600: rank floor(q * 7). */
    assert_near(jget(j, "overall.latency_ms.p50"), 1800, 1800 * RR_SKETCH_ALPHA);
    assert_near(jget(j, "overall.latency_ms.p95"), 3000, 3000 * RR_SKETCH_ALPHA);
    assert_near(jget(j, "overall.latency_ms.mean"), 2000, 1e-9);
    assert_near(jget(j, "overall.baselines.always_cheapest.quality"), 0.375, 1e-12);
    assert_near(jget(j, "overall.baselines.always_cheapest.cost_per_request_usd"), 0.005125, 1e-12);
    assert_near(jget(j, "overall.baselines.always_premium.quality"), 0.8375, 1e-12);
    assert_near(jget(j, "overall.baselines.always_premium.cost_per_request_usd"), 0.0185, 1e-12);
    assert_near(jget(j, "overall.baselines.oracle.quality"), 0.7875, 1e-12);
    assert_near(jget(j, "overall.baselines.oracle.cost_per_request_usd"), 0.01175, 1e-12);
    assert_near(jget(j, "overall.baselines.random_same_premium_share.quality"), 0.5484375, 1e-12);
    assert_near(jget(j, "overall.baselines.random_same_premium_share.cost_per_request_usd"),
                0.010140625, 1e-12);
    assert_near(jget(j, "families.faq.n"), 6, 0);
    assert_near(jget(j, "families.faq.escalation.precision"), 2.0 / 3, 1e-12);
    assert_near(jget(j, "research.pair.n"), 6, 0);
    assert_near(jget(j, "research.pair.q_weak"), 2.2 / 6, 1e-12);
    json_decref(j);
    rr_eval_free(ev);
    rr_router_free(r);
}

/* A recorded output is re-validated by the route's real validators: invalid JSON from the
 * extraction route fails the schema and escalates; with RR_EVAL_NO_REVALIDATE the same
 * record (no recorded verdict) is accepted as it is. */
static void test_recorded_output_is_revalidated_unless_told_not_to(void **state) {
    (void)state;
    rr_router *r = router_default();
    const char *line =
        "{\"id\":\"x\",\"text\":\"Extract the ticket fields from this email\",\"attrs\":"
        "{\"output.format\":\"json\"},\"outcomes\":{\"small_extract_v1\":{\"quality\":0,"
        "\"output\":\"{\\\"category\\\":\\\"nope\\\"}\"},\"premium_extract_structured_v1\":"
        "{\"quality\":1}}}";
    rr_eval_options o = RR_EVAL_OPTIONS_INIT;
    for (int pass = 0; pass < 2; pass++) {
        o.flags = pass ? RR_EVAL_NO_REVALIDATE : 0;
        rr_eval *ev = eval_new(r, &o);
        add_line(ev, line);
        json_t *j = result(ev);
        assert_near(jget(j, "overall.quality"), pass ? 0 : 1, 0);
        assert_near(jget(j, "overall.escalation.rate"), pass ? 0 : 1, 0);
        assert_near(jget(j, "overall.escalation.recall"), pass ? 0 : 1, 0);
        json_decref(j);
        rr_eval_free(ev);
    }
    rr_router_free(r);
}

/* ---- research metrics ------------------------------------------------------------------ */

/* On data where the strong model dominates, the oracle answers everything right at a
 * PGR of exactly 1; its routing curve rises linearly over the 20% of calls only the
 * strong model gets right, so APGR = 1 - 0.2 / 2 = 0.9 (RouteLLM's definition integrates
 * over every share x in [0, 1]; it reaches 1 only when that share tends to 0). */
static void test_oracle_pgr_is_one_and_apgr_follows_the_published_definition(void **state) {
    (void)state;
    rr_router *r = router_text(pair_policy);
    rr_eval *ev = eval_new(r, NULL);
    add_dominated_pairs(ev);
    json_t *j = result(ev);
    double qw = jget(j, "research.pair.q_weak"), qs = jget(j, "research.pair.q_strong");
    assert_near(qw, 0.5, 1e-12);
    assert_near(qs, 0.7, 1e-12);
    double qo = jget(j, "overall.baselines.oracle.quality");
    assert_near((qo - qw) / (qs - qw), 1, 1e-12);
    assert_near(jget(j, "research.pair.oracle.apgr"), 0.9, 1e-9);
    assert_near(jget(j, "research.pair.oracle.cpt50"), 0.1, 1e-9);
    assert_near(jget(j, "research.pair.oracle.cpt80"), 0.16, 1e-9);
    assert_near(jget(j, "research.pair.policy_pgr"), 0, 1e-12); /* always weak */
    json_decref(j);
    rr_eval_free(ev);
    rr_router_free(r);
}

static void test_random_router_apgr_is_half_on_synthetic_data(void **state) {
    (void)state;
    rr_router *r = router_text(pair_policy);
    double sum = 0;
    int seeds = 20;
    for (int s = 1; s <= seeds; s++) {
        rr_eval_options o = RR_EVAL_OPTIONS_INIT;
        o.seed = (uint64_t)s;
        rr_eval *ev = eval_new(r, &o);
        add_dominated_pairs(ev);
        json_t *j = result(ev);
        sum += jget(j, "research.pair.random.apgr");
        json_decref(j);
        rr_eval_free(ev);
    }
    assert_near(sum / seeds, 0.5, 0.02);
    rr_router_free(r);
}

/* The published check: RouteLLM's random router scores APGR 0.5 on their MMLU data. */
static void test_random_router_apgr_is_half_on_routellm_mmlu(void **state) {
    (void)state;
    DIR *d = mmlu_dir[0] ? opendir(mmlu_dir) : NULL;
    if (!d) {
        fprintf(stderr, "skipping: no RouteLLM MMLU data at '%s'\n", mmlu_dir);
        skip();
    }
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_import_map m;
    assert_int_equal(rr_import_map_parse(&m, &a,
                                         "gpt-4-1106-preview=premium_route,"
                                         "Mixtral-8x7B-Instruct-v0.1=small_route",
                                         NULL),
                     RR_OK);
    struct dirent *e;
    long total = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".csv"))
            continue;
        char p[2048], name[256];
        snprintf(p, sizeof p, "%s/%s", mmlu_dir, e->d_name);
        snprintf(name, sizeof name, "%.*s", (int)(l - 4), e->d_name);
        FILE *in = fopen(p, "rb");
        assert_non_null(in);
        rr_error err = RR_ERROR_INIT;
        long n = rr_eval_import(RR_IMPORT_ROUTELLM, in, name, &m, 0, tmp, &a, &err);
        if (n < 0)
            fprintf(stderr, "%s\n", err.message);
        assert_true(n > 0);
        total += n;
        fclose(in);
    }
    closedir(d);
    rr_import_map_free(&m, &a);
    assert_true(total > 10000);
    fflush(tmp);
    rewind(tmp);
    /* Replay the imported lines for several seeds. */
    rr_router *r = router_file("routellm_policy.json");
    int seeds = 10;
    rr_eval *ev[10];
    for (int s = 0; s < seeds; s++) {
        rr_eval_options o = RR_EVAL_OPTIONS_INIT;
        o.seed = (uint64_t)s + 1;
        ev[s] = eval_new(r, &o);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, tmp)) > 0)
        for (int s = 0; s < seeds; s++)
            add_line(ev[s], line[n - 1] == '\n' ? (line[n - 1] = 0, line) : line);
    free(line);
    fclose(tmp);
    double sum = 0;
    for (int s = 0; s < seeds; s++) {
        json_t *j = result(ev[s]);
        assert_near(jget(j, "records"), (double)total, 0);
        sum += jget(j, "research.pair.random.apgr");
        json_decref(j);
        rr_eval_free(ev[s]);
    }
    fprintf(stderr, "RouteLLM MMLU (%ld records): random router APGR %.4f (mean of %d seeds)\n",
            total, sum / seeds, seeds);
    assert_near(sum / seeds, 0.5, 0.02);
    rr_router_free(r);
}

/* Hull of (0, .5) (0.5, .6) (1, .9) (2, .8): (0.5, .6) lies under the hull and (2, .8)
 * past the best point is lifted to .9, so AIQ = ((.5 + .9) / 2 * 1 + .9 * 1) / 2 = 0.8. */
static void test_aiq_of_a_known_hull(void **state) {
    (void)state;
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    double c1[] = {0, 0.5, 1, 2}, q1[] = {0.5, 0.6, 0.9, 0.8};
    assert_near(rr_aiq(c1, q1, 4, &a), 0.8, 1e-12);
    double c2[] = {2, 0, 1}, q2[] = {1, 0, 0.8}; /* concave already: (0.4 + 0.9) / 2 */
    assert_near(rr_aiq(c2, q2, 3, &a), 0.65, 1e-12);
    double c3[] = {1, 1}, q3[] = {0.3, 0.7}; /* one cost: the best quality */
    assert_near(rr_aiq(c3, q3, 2, &a), 0.7, 1e-12);
    assert_true(isnan(rr_aiq(c3, q3, 0, &a)));
}

/* A sweep that mixes the two models at random lies on the diagonal: APGR 0.5, CPT(p) = p. */
static void test_route_curve_from_sweep_points(void **state) {
    (void)state;
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    double x[] = {0.75, 0.25, 0.5}, q[] = {0.65, 0.55, 0.6};
    rr_route_curve c;
    assert_int_equal(rr_route_curve_points(x, q, 3, 0.5, 0.7, &a, &c, NULL), RR_OK);
    assert_near(c.apgr, 0.5, 1e-12);
    assert_near(c.cpt50, 0.5, 1e-12);
    assert_near(c.cpt80, 0.8, 1e-12);
    assert_int_equal(rr_route_curve_points(x, q, 3, 0.6, 0.6, &a, &c, NULL), RR_EDATA);
}

/* ---- importers -------------------------------------------------------------------------- */

static void test_csv_reads_quoted_commas_doubled_quotes_and_newlines(void **state) {
    (void)state;
    const char text[] = "\xEF\xBB\xBFh1,h2,h3\r\n\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\"\n"
                        "plain,,last";
    FILE *f = fmemopen((void *)text, sizeof text - 1, "r");
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_csv c;
    rr_csv_init(&c, f, &a);
    size_t l;
    assert_int_equal(rr_csv_next(&c, NULL), 1);
    assert_int_equal(c.nf, 3);
    assert_string_equal(rr_csv_field(&c, 0, NULL), "h1");
    assert_string_equal(rr_csv_field(&c, 2, NULL), "h3");
    assert_int_equal(rr_csv_next(&c, NULL), 1);
    assert_int_equal(c.line, 2);
    assert_string_equal(rr_csv_field(&c, 0, &l), "a, b");
    assert_int_equal(l, 4);
    assert_string_equal(rr_csv_field(&c, 1, NULL), "say \"hi\"");
    assert_string_equal(rr_csv_field(&c, 2, NULL), "two\nlines");
    assert_int_equal(rr_csv_next(&c, NULL), 1);
    assert_int_equal(c.line, 4);
    assert_int_equal(c.nf, 3);
    assert_string_equal(rr_csv_field(&c, 1, &l), "");
    assert_int_equal(l, 0);
    assert_string_equal(rr_csv_field(&c, 2, NULL), "last");
    assert_int_equal(rr_csv_next(&c, NULL), 0);
    rr_csv_free(&c);
    fclose(f);
}

static void test_csv_rejects_an_unclosed_quote_naming_the_line(void **state) {
    (void)state;
    const char text[] = "a,b\n1,\"open\nstill open";
    FILE *f = fmemopen((void *)text, sizeof text - 1, "r");
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_csv c;
    rr_csv_init(&c, f, &a);
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_csv_next(&c, &err), 1);
    assert_int_equal(rr_csv_next(&c, &err), RR_EDATA);
    assert_non_null(strstr(err.message, "line 2"));
    rr_csv_free(&c);
    fclose(f);
    const char stray[] = "\"x\"y,z\n";
    f = fmemopen((void *)stray, sizeof stray - 1, "r");
    rr_csv_init(&c, f, &a);
    assert_int_equal(rr_csv_next(&c, &err), RR_EDATA);
    assert_non_null(strstr(err.message, "closing quote"));
    rr_csv_free(&c);
    fclose(f);
}

static json_t *import_one(int format, const char *file, const char *map, const char *costs,
                          uint32_t flags, long *count) {
    char p[1024];
    path_of(p, sizeof p, file);
    FILE *in = fopen(p, "rb"), *out = tmpfile();
    assert_non_null(in);
    assert_non_null(out);
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_import_map m;
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_import_map_parse(&m, &a, map, &err), RR_OK);
    if (costs)
        assert_int_equal(rr_import_map_costs(&m, costs, &err), RR_OK);
    *count = rr_eval_import(format, in, "sample", &m, flags, out, &a, &err);
    if (*count < 0)
        fprintf(stderr, "%s\n", err.message);
    rr_import_map_free(&m, &a);
    fclose(in);
    rewind(out);
    json_t *arr = json_array();
    char line[8192];
    while (fgets(line, sizeof line, out)) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        json_array_append_new(arr, j);
    }
    fclose(out);
    return arr;
}

static void test_import_routellm_maps_models_to_routes(void **state) {
    (void)state;
    long n;
    json_t *a = import_one(RR_IMPORT_ROUTELLM, "routellm_sample.csv",
                           "gpt-4=premium_route,mixtral-8x7b-instruct-v0.1=small_route",
                           "premium_route=0.01", 0, &n);
    assert_int_equal(n, 3);
    assert_int_equal(json_array_size(a), 3);
    json_t *r0 = json_array_get(a, 0), *r2 = json_array_get(a, 2);
    assert_string_equal(json_string_value(json_object_get(r0, "text")),
                        "Which is larger, 2 or 3?\nA. 2\nB. 3\nAnswer:");
    assert_string_equal(json_string_value(json_object_get(r0, "id")), "sample:1");
    assert_near(jget(r0, "outcomes.premium_route.quality"), 1, 0);
    assert_near(jget(r0, "outcomes.small_route.quality"), 0, 0);
    assert_near(jget(r0, "outcomes.premium_route.cost_usd"), 0.01, 0);
    assert_true(isnan(jget(r0, "outcomes.small_route.cost_usd")));
    assert_string_equal(json_string_value(json_object_get(r2, "text")), "He said \"yes\", twice");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r2, "labels"), "task")),
                        "sample");
    json_decref(a);
}

static void test_import_routerbench_reads_scores_costs_and_outputs(void **state) {
    (void)state;
    long n;
    json_t *a = import_one(RR_IMPORT_ROUTERBENCH, "routerbench_sample.csv",
                           "gpt-4-1106-preview=premium,mistralai/mixtral-8x7b-chat=small", NULL,
                           RR_IMPORT_WITH_OUTPUTS, &n);
    assert_int_equal(n, 2);
    json_t *r0 = json_array_get(a, 0);
    assert_string_equal(json_string_value(json_object_get(r0, "id")), "mmlu-1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r0, "labels"), "task")),
                        "mmlu");
    assert_near(jget(r0, "outcomes.premium.quality"), 1, 0);
    assert_near(jget(r0, "outcomes.premium.cost_usd"), 0.00321, 1e-15);
    assert_near(jget(r0, "outcomes.small.quality"), 0.5, 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(r0, "outcomes"), "small"), "output")),
                        "B, because \"3\" > 2");
    json_decref(a);
    /* A model the map names but the file lacks is an error naming the columns. */
    char p[1024];
    path_of(p, sizeof p, "routerbench_sample.csv");
    FILE *in = fopen(p, "rb"), *out = tmpfile();
    rr_alloc al;
    rr_alloc_init(&al, NULL);
    rr_import_map m;
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_import_map_parse(&m, &al, "claude-9=premium", &err), RR_OK);
    assert_int_equal(rr_eval_import(RR_IMPORT_ROUTERBENCH, in, "s", &m, 0, out, &al, &err),
                     RR_EDATA);
    assert_non_null(strstr(err.message, "gpt-4-1106-preview"));
    rr_import_map_free(&m, &al);
    fclose(in);
    fclose(out);
}

/* ---- bad input --------------------------------------------------------------------------- */

static const char good_line[] =
    "{\"id\":\"g\",\"text\":\"question\",\"outcomes\":{\"weak_r\":{\"quality\":1}}}";

static void test_malformed_line_is_fatal_by_default_and_names_the_line(void **state) {
    (void)state;
    rr_router *r = router_text(pair_policy);
    rr_eval *ev = eval_new(r, NULL);
    add_line(ev, good_line);
    rr_error err = RR_ERROR_INIT;
    const char *bad = "{\"text\": \"x\", \"outcomes\": {\"weak_r\": {\"quality\": 2}}}";
    assert_int_equal(rr_eval_add_line(ev, bad, strlen(bad), &err), RR_EDATA);
    assert_non_null(strstr(err.message, "line 2"));
    assert_non_null(strstr(err.message, "quality"));
    const char *broken = "{\"text\": ";
    assert_int_equal(rr_eval_add_line(ev, broken, strlen(broken), &err), RR_EDATA);
    assert_non_null(strstr(err.message, "line 3: malformed JSON"));
    const char *typo = "{\"text\": \"x\", \"outcome\": {}}";
    assert_int_equal(rr_eval_add_line(ev, typo, strlen(typo), &err), RR_EDATA);
    assert_non_null(strstr(err.message, "unknown key 'outcome'"));
    assert_int_equal(rr_eval_malformed_count(ev), 3);
    assert_int_equal(rr_eval_record_count(ev), 1);
    rr_eval_free(ev);
    rr_router_free(r);
}

static void test_malformed_lines_skipped_by_flag_are_counted_and_reported(void **state) {
    (void)state;
    rr_router *r = router_text(pair_policy);
    rr_eval_options o = RR_EVAL_OPTIONS_INIT;
    o.flags = RR_EVAL_SKIP_MALFORMED;
    rr_eval *ev = eval_new(r, &o);
    add_fixture(ev, "malformed.jsonl");
    assert_int_equal(rr_eval_record_count(ev), 2);
    assert_int_equal(rr_eval_malformed_count(ev), 2);
    json_t *j = result(ev);
    json_t *errs = json_object_get(j, "errors");
    assert_int_equal(json_array_size(errs), 2);
    assert_near(jget(json_array_get(errs, 0), "line"), 2, 0);
    assert_near(jget(json_array_get(errs, 1), "line"), 4, 0);
    assert_near(jget(j, "lines"), 5, 0); /* the blank line counts as a line, not a record */
    json_decref(j);
    rr_eval_free(ev);
    /* Without the flag the file stops at line 2. */
    ev = eval_new(r, NULL);
    char p[1024];
    path_of(p, sizeof p, "malformed.jsonl");
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_eval_add_file(ev, p, &err), RR_EDATA);
    assert_non_null(strstr(err.message, "line 2"));
    assert_int_equal(rr_eval_record_count(ev), 1);
    rr_eval_free(ev);
    rr_router_free(r);
}

static void test_empty_file_is_an_error(void **state) {
    (void)state;
    rr_router *r = router_text(pair_policy);
    rr_eval *ev = eval_new(r, NULL);
    char p[1024];
    path_of(p, sizeof p, "empty.jsonl");
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_eval_add_file(ev, p, &err), RR_EDATA);
    assert_non_null(strstr(err.message, "no records"));
    path_of(p, sizeof p, "does-not-exist.jsonl");
    assert_int_equal(rr_eval_add_file(ev, p, &err), RR_EIO);
    rr_eval_free(ev);
    rr_router_free(r);
}

static void test_missing_outcomes_are_counted_by_route_not_dropped(void **state) {
    (void)state;
    rr_router *r = router_text(pair_policy);
    rr_eval *ev = eval_new(r, NULL);
    add_line(ev, good_line);
    add_line(ev, "{\"text\":\"q\",\"outcomes\":{\"strong_r\":{\"quality\":1}}}");
    add_line(ev, "{\"text\":\"q\",\"outcomes\":{}}");
    add_line(ev, "{\"text\":\"q\",\"outcomes\":{\"weak_r\":{\"quality\":1},\"typo_r\":{}}}");
    assert_int_equal(rr_eval_record_count(ev), 2);
    assert_int_equal(rr_eval_missing_count(ev), 2);
    json_t *j = result(ev);
    assert_near(jget(j, "missing_outcome.by_route.weak_r"), 2, 0);
    assert_near(jget(j, "outcomes_for_unknown_routes.count"), 1, 0);
    json_decref(j);
    rr_eval_free(ev);
    rr_router_free(r);
}

/* ---- merging shards ------------------------------------------------------------------------ */

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_merged_shards_equal_one_run(void **state) {
    (void)state;
    rr_router *r = router_text(pair_policy);
    rr_eval_options o = RR_EVAL_OPTIONS_INIT;
    o.bootstrap = 50;
    enum { N = 3000, SHARDS = 3 };
    rr_eval *whole = eval_new(r, &o), *shard[SHARDS];
    for (int k = 0; k < SHARDS; k++)
        shard[k] = eval_new(r, &o);
    double *lat = malloc(N * sizeof *lat);
    uint64_t seed = 42;
    char line[512];
    for (int i = 0; i < N; i++) {
        double l = 50 + (double)(lcg(&seed) % 100000) / 10.0 * (lcg(&seed) % 7 == 0 ? 5 : 1);
        pair_line(line, sizeof line, i, (double)(lcg(&seed) % 2), (double)(lcg(&seed) % 3 != 0), l);
        lat[i] = l; /* weak route, accepted: the request's latency is the weak one's */
        add_line(whole, line);
        add_line(shard[i % SHARDS], line);
    }
    rr_eval *merged = eval_new(NULL, NULL);
    for (int k = 0; k < SHARDS; k++) {
        size_t n;
        const char *p = rr_eval_partial_json(shard[k], &n);
        rr_error err = RR_ERROR_INIT;
        int rc = rr_eval_merge_json(merged, p, n, &err);
        if (rc)
            fprintf(stderr, "%s\n", err.message);
        assert_int_equal(rc, RR_OK);
    }
    json_t *a = result(whole), *b = result(merged);
    static const char *exact[] = {"records",
                                  "overall.n",
                                  "overall.escalation.escalated",
                                  "overall.routes.final.weak_r",
                                  "overall.latency_ms.p50",
                                  "overall.latency_ms.p95",
                                  "overall.latency_ms.p99",
                                  "overall.baselines.always_premium.latency_ms.p95",
                                  "research.pair.n",
                                  "research.pair.random.apgr",
                                  "research.pair.oracle.apgr"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        assert_near(jget(b, exact[i]), jget(a, exact[i]), 1e-9 * fabs(jget(a, exact[i])));
    assert_near(jget(b, "overall.quality"), jget(a, "overall.quality"), 1e-12);
    assert_near(jget(b, "overall.cost_per_request_usd"), jget(a, "overall.cost_per_request_usd"),
                1e-15);
    json_t *ca = json_object_get(json_object_get(json_object_get(a, "bootstrap"), "ci"), "quality");
    json_t *cb = json_object_get(json_object_get(json_object_get(b, "bootstrap"), "ci"), "quality");
    assert_near(json_number_value(json_array_get(cb, 0)), json_number_value(json_array_get(ca, 0)),
                1e-12);
    /* Percentiles within the sketch's stated error of the exact order statistics. */
    qsort(lat, N, sizeof *lat, cmp_dbl);
    static const double qs[] = {0.5, 0.95, 0.99};
    static const char *keys[] = {"overall.latency_ms.p50", "overall.latency_ms.p95",
                                 "overall.latency_ms.p99"};
    for (int i = 0; i < 3; i++) {
        double exact_v = lat[(size_t)floor(qs[i] * (N - 1))];
        assert_near(jget(b, keys[i]), exact_v, exact_v * RR_SKETCH_ALPHA);
    }
    json_decref(a);
    json_decref(b);
    free(lat);
    for (int k = 0; k < SHARDS; k++)
        rr_eval_free(shard[k]);
    rr_eval_free(whole);
    rr_eval_free(merged);
    rr_router_free(r);
}

static void test_merge_rejects_a_partial_of_another_policy_unchanged(void **state) {
    (void)state;
    rr_router *r1 = router_text(pair_policy), *r2 = router_default();
    rr_eval *a = eval_new(r1, NULL), *b = eval_new(r2, NULL);
    add_line(a, good_line);
    add_fixture(b, "support_small.jsonl");
    size_t n;
    const char *p = rr_eval_partial_json(b, &n);
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_eval_merge_json(a, p, n, &err), RR_EDATA);
    assert_non_null(strstr(err.message, "fingerprint"));
    assert_int_equal(rr_eval_record_count(a), 1);
    assert_int_equal(rr_eval_merge_json(a, "{\"format\":1}", 12, &err), RR_EDATA);
    assert_int_equal(rr_eval_merge_json(a, "{", 1, &err), RR_EJSON);
    /* Different options make figures incomparable: refused too. */
    rr_eval_options o = RR_EVAL_OPTIONS_INIT;
    o.acceptable_quality = 0.9;
    rr_eval *c = eval_new(r1, &o);
    add_line(c, good_line);
    p = rr_eval_partial_json(c, &n);
    assert_int_equal(rr_eval_merge_json(a, p, n, &err), RR_EDATA);
    assert_non_null(strstr(err.message, "acceptable_quality"));
    rr_eval_free(a);
    rr_eval_free(b);
    rr_eval_free(c);
    rr_router_free(r1);
    rr_router_free(r2);
}

static void test_sketch_quantiles_are_within_the_relative_error(void **state) {
    (void)state;
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_sketch s = {0}, t = {0}, u = {0};
    enum { N = 20000 };
    double *v = malloc(N * sizeof *v);
    uint64_t seed = 7;
    for (int i = 0; i < N; i++) {
        v[i] = exp((double)(lcg(&seed) % 100000) / 100000.0 * 12) * 0.01; /* 0.01 .. 1600 */
        assert_true(rr_sketch_add(&s, &a, v[i], 1));
        assert_true(rr_sketch_add(i % 2 ? &t : &u, &a, v[i], 1));
    }
    assert_true(rr_sketch_merge(&t, &a, &u));
    qsort(v, N, sizeof *v, cmp_dbl);
    for (double q = 0; q <= 1.0001; q += 0.05) {
        double e = v[(size_t)floor(fmin(q, 1) * (N - 1))];
        assert_near(rr_sketch_quantile(&s, fmin(q, 1)), e, e * RR_SKETCH_ALPHA);
        assert_near(rr_sketch_quantile(&t, fmin(q, 1)), rr_sketch_quantile(&s, fmin(q, 1)), 0);
    }
    assert_near(rr_sketch_quantile(&s, 1), v[N - 1], 0); /* extremes are exact */
    assert_true(s.n < 1300);
    rr_sketch_free(&s, &a);
    rr_sketch_free(&t, &a);
    rr_sketch_free(&u, &a);
    free(v);
}

/* ---- calibration and comparison ------------------------------------------------------------ */

/* Candidates over thresholds.long of a policy that sends long prompts to the strong model;
 * texts have 2, 20 and 100 words. */
static void grid(rr_eval **ev, rr_router **rs, const double *vals, size_t n) {
    const char *texts[3] = {"short one", NULL, NULL};
    static char mid[400], lng[1200];
    mid[0] = lng[0] = 0;
    for (int i = 0; i < 20; i++)
        strcat(mid, "word ");
    for (int i = 0; i < 100; i++)
        strcat(lng, "word ");
    texts[1] = mid, texts[2] = lng;
    for (size_t i = 0; i < n; i++) {
        char *policy = NULL;
        const char *name = "long";
        assert_int_equal(rr_eval_policy_override(pair_policy, strlen(pair_policy), &name, &vals[i],
                                                 1, NULL, JSON_COMPACT, &policy, NULL),
                         RR_OK);
        rs[i] = router_text(policy);
        rr_eval_free_dump(policy);
        ev[i] = eval_new(rs[i], NULL);
        for (int k = 0; k < 30; k++) {
            char line[2048];
            int t = k % 3;
            /* The weak model fails the long prompts; the strong one answers everything. */
            snprintf(line, sizeof line,
                     "{\"id\":\"c%d\",\"text\":\"%s\",\"labels\":{\"risk\":\"%s\"},"
                     "\"outcomes\":{\"weak_r\":{\"quality\":%d,\"cost_usd\":0.001},\"strong_r\":"
                     "{\"quality\":1,\"cost_usd\":0.01}}}",
                     k, texts[t], t == 2 ? "high" : "low", t < 2);
            add_line(ev[i], line);
        }
    }
}

static void test_calibrate_picks_the_cheapest_candidate_meeting_objectives(void **state) {
    (void)state;
    double vals[] = {1, 10, 50, 1000};
    rr_eval *ev[4];
    rr_router *rs[4];
    grid(ev, rs, vals, 4);
    rr_eval_objectives o = {0};
    o.has_min_quality = true;
    o.min_quality = 0.95;
    rr_eval_judgement j;
    /* long=50 sends only the 100-word prompts to the strong model: quality 1, cheapest. */
    assert_int_equal(rr_eval_pick(ev, 4, &o, &j), 2);
    assert_true(j.feasible);
    assert_near(j.quality, 1, 1e-12);
    o.min_quality = 0;
    o.no_cheap_risk = "high";
    assert_int_equal(rr_eval_pick(ev, 4, &o, &j), 2);
    for (int i = 0; i < 4; i++) {
        rr_eval_free(ev[i]);
        rr_router_free(rs[i]);
    }
}

static void test_calibrate_refuses_with_the_closest_point_when_nothing_meets(void **state) {
    (void)state;
    double vals[] = {1000, 50, 10};
    rr_eval *ev[3];
    rr_router *rs[3];
    grid(ev, rs, vals, 3);
    rr_eval_objectives o = {0};
    o.has_min_quality = true;
    o.min_quality = 1.01; /* unreachable: quality is at most 1 */
    o.np95 = 1;
    o.p95_family[0] = "all";
    o.p95_ms[0] = 1e9;
    rr_eval_judgement j;
    int best = rr_eval_pick(ev, 3, &o, &j);
    assert_false(j.feasible);
    /* Closest = smallest shortfall (quality 1, reached by long=50 and long=10), then the
     * cheaper of those: long=50. */
    assert_int_equal(best, 1);
    assert_near(j.violation, 0.01 / 1.01, 1e-12);
    for (int i = 0; i < 3; i++) {
        rr_eval_free(ev[i]);
        rr_router_free(rs[i]);
    }
}

static void test_compare_groups_route_changes_by_rule(void **state) {
    (void)state;
    double vals[] = {10, 50};
    rr_eval *ev[2];
    rr_router *rs[2];
    grid(ev, rs, vals, 2);
    /* Replay the mid-length prompt through both: long=10 sends it strong, long=50 weak. */
    rr_eval_rec rec;
    assert_int_equal(rr_eval_rec_init(&rec, NULL), RR_OK);
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_eval_changes ch;
    rr_eval_changes_init(&ch, &a);
    const char *lines[] = {
        "{\"id\":\"m1\",\"text\":\"word word word word word word word word word word word word "
        "word word word word word word word word\",\"outcomes\":{\"weak_r\":{\"quality\":1},"
        "\"strong_r\":{\"quality\":1}}}",
        "{\"id\":\"s1\",\"text\":\"short\",\"outcomes\":{\"weak_r\":{\"quality\":1}}}",
        "{\"id\":\"m2\",\"text\":\"word word word word word word word word word word word word "
        "word word word word word word word word\",\"outcomes\":{\"weak_r\":{\"quality\":1},"
        "\"strong_r\":{\"quality\":1}}}"};
    for (int i = 0; i < 3; i++) {
        rr_eval_trace t[2];
        assert_int_equal(rr_eval_rec_parse(&rec, lines[i], strlen(lines[i]), (uint64_t)i + 1, NULL),
                         RR_OK);
        for (int k = 0; k < 2; k++)
            assert_int_equal(rr_eval_add_record(ev[k], &rec, &t[k], NULL), RR_OK);
        rr_eval_changes_add(&ch, rs[0], &t[0], rs[1], &t[1], &rec);
        rr_eval_rec_clear(&rec);
    }
    rr_eval_changes_sort(&ch);
    assert_int_equal(ch.total, 2);
    assert_int_equal(ch.n, 1);
    assert_string_equal(ch.c[0].reason, "long -> short (strong_r -> weak_r)");
    assert_int_equal(ch.c[0].n, 2);
    assert_string_equal(ch.c[0].example[0], "m1");
    assert_string_equal(ch.c[0].example[1], "m2");
    rr_eval_changes_free(&ch);
    rr_eval_rec_free(&rec);
    for (int i = 0; i < 2; i++) {
        rr_eval_free(ev[i]);
        rr_router_free(rs[i]);
    }
}

static void test_paired_bootstrap_is_deterministic_and_brackets_the_estimate(void **state) {
    (void)state;
    rr_router *r = router_default();
    rr_eval_options o = RR_EVAL_OPTIONS_INIT;
    o.bootstrap = 400;
    o.seed = 9;
    rr_eval *a = eval_new(r, &o), *b = eval_new(r, &o);
    add_fixture(a, "support_small.jsonl");
    add_fixture(b, "support_small.jsonl");
    size_t na, nb;
    const char *ja = rr_eval_result_json(a, &na), *jb = rr_eval_result_json(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(ja, jb, na);
    json_t *j = result(a);
    json_t *ci = json_object_get(json_object_get(json_object_get(j, "bootstrap"), "ci"), "quality");
    double lo = json_number_value(json_array_get(ci, 0)),
           hi = json_number_value(json_array_get(ci, 1));
    assert_true(lo <= 0.85 && 0.85 <= hi && lo < hi);
    /* Same data, same seed: the paired differences are all exactly zero. */
    double va[400], vb[400];
    assert_int_equal(rr_eval_boot_values(a, RR_BOOT_COST, va, 400), 400);
    rr_eval_boot_values(b, RR_BOOT_COST, vb, 400);
    for (int i = 0; i < 400; i++)
        assert_true(va[i] - vb[i] == 0);
    json_decref(j);
    rr_eval_free(a);
    rr_eval_free(b);
    rr_router_free(r);
}

/* ---- policy overrides, report, API edges ---------------------------------------------------- */

static void test_policy_override_sets_thresholds_and_names_unknown_ones(void **state) {
    (void)state;
    const char *p = rr_default_policy();
    const char *names[] = {"faq_margin", "extract_long_tokens"};
    double vals[] = {0.3, 2000};
    char *out = NULL;
    assert_int_equal(
        rr_eval_policy_override(p, strlen(p), names, vals, 2, "1.1", JSON_COMPACT, &out, NULL),
        RR_OK);
    assert_near(rr_eval_policy_threshold(out, strlen(out), "faq_margin"), 0.3, 0);
    assert_non_null(strstr(out, "\"extract_long_tokens\":2000,"));
    rr_router *r = router_text(out);
    assert_string_equal(rr_router_policy_version(r), "1.1");
    rr_router_free(r);
    rr_eval_free_dump(out);
    rr_error err = RR_ERROR_INIT;
    const char *bad = "faq_margn";
    assert_int_equal(rr_eval_policy_override(p, strlen(p), &bad, vals, 1, NULL, 0, &out, &err),
                     RR_EPOLICY);
    assert_non_null(strstr(err.message, "faq_margin"));
    char v[64];
    rr_eval_bump_version("3", v, sizeof v);
    assert_string_equal(v, "3.1");
    rr_eval_bump_version("3.9", v, sizeof v);
    assert_string_equal(v, "3.10");
    rr_eval_bump_version("2024-06", v, sizeof v);
    assert_string_equal(v, "2024-06-calibrated");
    char feature[64];
    rr_router *d = router_default();
    assert_true(rr_eval_threshold_feature(d, p, strlen(p), "faq_margin", feature, sizeof feature) >=
                0);
    assert_string_equal(feature, "retrieval.margin");
    assert_true(rr_eval_threshold_feature(d, p, strlen(p), "nope", feature, sizeof feature) < 0);
    rr_router_free(d);
}

static void test_report_is_self_contained_html_with_charts(void **state) {
    (void)state;
    rr_router *r = router_default();
    rr_eval *ev = eval_new(r, NULL);
    assert_null(rr_eval_report(ev, 0, NULL)); /* nothing replayed yet */
    add_fixture(ev, "support_small.jsonl");
    size_t n;
    const char *html = rr_eval_report(ev, 0, &n);
    assert_non_null(html);
    assert_int_equal(strlen(html), n);
    assert_non_null(strstr(html, "<!DOCTYPE html>"));
    assert_non_null(strstr(html, "<svg"));
    assert_non_null(strstr(html, "this policy"));
    assert_non_null(strstr(html, "Cost per request (USD"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "src="));
    assert_null(strstr(html, "href="));
    assert_null(strstr(html, "url("));
    /* The only URL is the SVG namespace, which is a name, not a fetch. */
    for (const char *p = strstr(html, "http"); p; p = strstr(p + 1, "http"))
        assert_int_equal(strncmp(p, "http://www.w3.org/2000/svg", 26), 0);
    const char *svg = rr_eval_report(ev, RR_EVAL_REPORT_SVG, &n);
    assert_int_equal(strncmp(svg, "<svg", 4), 0);
    rr_eval_free(ev);
    rr_router_free(r);
}

static void test_api_edges(void **state) {
    (void)state;
    rr_eval_options o;
    assert_int_equal(rr_eval_options_init(&o, 99), RR_EINVAL);
    assert_int_equal(rr_eval_options_init(&o, RR_EVAL_OPTIONS_VERSION), RR_OK);
    assert_near(o.acceptable_quality, 0.5, 0);
    assert_near(o.human_quality, 1, 0);
    o.acceptable_quality = 2;
    rr_eval *ev = NULL;
    assert_int_equal(rr_eval_new(&ev, NULL, &o, NULL), RR_EINVAL);
    assert_int_equal(rr_eval_new(NULL, NULL, NULL, NULL), RR_EINVAL);
    ev = eval_new(NULL, NULL);
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_eval_add_line(ev, good_line, strlen(good_line), &err), RR_ESTATE);
    rr_eval_free(ev);
    rr_eval_free(NULL);
    assert_int_equal(rr_eval_record_count(NULL), 0);
    assert_null(rr_eval_result_json(NULL, NULL));
}

/* ---- allocation failure ------------------------------------------------------------------- */

typedef struct failing {
    long left;
} failing;

static void *f_malloc(size_t n, void *ud) {
    failing *f = ud;
    return f->left-- > 0 ? malloc(n) : NULL;
}
static void *f_realloc(void *p, size_t n, void *ud) {
    failing *f = ud;
    return f->left-- > 0 ? realloc(p, n) : NULL;
}
static void f_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

/* Every allocation failing in turn: a clean RR_ENOMEM (or success), never a crash or a
 * leak (ASan checks the latter). */
static void test_allocation_failure_is_clean(void **state) {
    (void)state;
    rr_router *r = router_default();
    char p[1024];
    path_of(p, sizeof p, "support_small.jsonl");
    for (long k = 0; k < 400; k++) {
        failing f = {k};
        rr_allocator al = {RR_ALLOCATOR_VERSION, &f, f_malloc, f_realloc, f_free};
        rr_eval_options o = RR_EVAL_OPTIONS_INIT;
        o.allocator = &al;
        o.bootstrap = 3;
        rr_eval *ev = NULL;
        int rc = rr_eval_new(&ev, r, &o, NULL);
        if (rc == RR_OK) {
            rc = rr_eval_add_file(ev, p, NULL);
            assert_true(rc == RR_OK || rc == RR_ENOMEM || rc == RR_EDATA);
            size_t n;
            const char *s = rr_eval_partial_json(ev, &n);
            if (s) {
                char *copy = strndup(s, n);
                rr_eval_merge_json(ev, copy, n, NULL);
                free(copy);
            }
            rr_eval_result_json(ev, NULL);
            rr_eval_report(ev, 0, NULL);
        } else {
            assert_int_equal(rc, RR_ENOMEM);
        }
        rr_eval_free(ev);
    }
    rr_router_free(r);
}

int main(int argc, char **argv) {
    if (argc > 1)
        data_dir = argv[1];
    if (argc > 2)
        mmlu_dir = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_metrics_match_hand_computed_fixture),
        cmocka_unit_test(test_recorded_output_is_revalidated_unless_told_not_to),
        cmocka_unit_test(test_oracle_pgr_is_one_and_apgr_follows_the_published_definition),
        cmocka_unit_test(test_random_router_apgr_is_half_on_synthetic_data),
        cmocka_unit_test(test_random_router_apgr_is_half_on_routellm_mmlu),
        cmocka_unit_test(test_aiq_of_a_known_hull),
        cmocka_unit_test(test_route_curve_from_sweep_points),
        cmocka_unit_test(test_csv_reads_quoted_commas_doubled_quotes_and_newlines),
        cmocka_unit_test(test_csv_rejects_an_unclosed_quote_naming_the_line),
        cmocka_unit_test(test_import_routellm_maps_models_to_routes),
        cmocka_unit_test(test_import_routerbench_reads_scores_costs_and_outputs),
        cmocka_unit_test(test_malformed_line_is_fatal_by_default_and_names_the_line),
        cmocka_unit_test(test_malformed_lines_skipped_by_flag_are_counted_and_reported),
        cmocka_unit_test(test_empty_file_is_an_error),
        cmocka_unit_test(test_missing_outcomes_are_counted_by_route_not_dropped),
        cmocka_unit_test(test_merged_shards_equal_one_run),
        cmocka_unit_test(test_merge_rejects_a_partial_of_another_policy_unchanged),
        cmocka_unit_test(test_sketch_quantiles_are_within_the_relative_error),
        cmocka_unit_test(test_calibrate_picks_the_cheapest_candidate_meeting_objectives),
        cmocka_unit_test(test_calibrate_refuses_with_the_closest_point_when_nothing_meets),
        cmocka_unit_test(test_compare_groups_route_changes_by_rule),
        cmocka_unit_test(test_paired_bootstrap_is_deterministic_and_brackets_the_estimate),
        cmocka_unit_test(test_policy_override_sets_thresholds_and_names_unknown_ones),
        cmocka_unit_test(test_report_is_self_contained_html_with_charts),
        cmocka_unit_test(test_api_edges),
        cmocka_unit_test(test_allocation_failure_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
