/* JSON Schema validation benchmark on the ticket-extraction schema: a ~300-byte valid and
 * invalid instance, validated (a) already parsed, (b) from text including the parse, beside
 * (c) jansson's parse-only time of the same bytes, measured in the same run. Medians of
 * batches, in ns per validation, and validations/s; also allocations per validation after
 * warm-up.
 *   bench_schema [iterations]      (default 200000 per measurement)
 *   bench_schema --dump DIR        write schema.json, valid.json, invalid.json for peers
 *   bench_schema --loop MODE N [valid|invalid] [fmt]
 *                                  only N calls of one mode (parsed, check, text, parse,
 *                                  walk), for callgrind: instruction counts are stable on a
 *                                  busy machine where times are not */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "schema.h"

static const char schema_json[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
    "\"required\":[\"category\",\"urgent\",\"dates\",\"entities\"],"
    "\"additionalProperties\":false,\"properties\":{"
    "\"category\":{\"enum\":[\"billing\",\"technical\",\"account\",\"shipping\",\"other\"]},"
    "\"urgent\":{\"type\":\"boolean\"},"
    "\"dates\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"format\":\"date-time\"}},"
    "\"entities\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
    "\"required\":[\"type\",\"value\"],\"additionalProperties\":false,\"properties\":{"
    "\"type\":{\"enum\":[\"person\",\"org\",\"product\",\"order_id\"]},"
    "\"value\":{\"type\":\"string\",\"minLength\":1}}}}}}";

static const char valid_json[] =
    "{\"category\":\"billing\",\"urgent\":true,"
    "\"dates\":[\"2024-05-01T10:00:00Z\",\"2024-05-03T17:30:00+02:00\"],"
    "\"entities\":[{\"type\":\"person\",\"value\":\"Maria Lopez\"},"
    "{\"type\":\"org\",\"value\":\"ACME Corp\"},"
    "{\"type\":\"order_id\",\"value\":\"ORD-20240501-7781\"},"
    "{\"type\":\"product\",\"value\":\"Router X200\"}]}";

static const char invalid_json[] =
    "{\"category\":\"refund\",\"urgent\":\"yes\","
    "\"dates\":[\"2024-05-01T10:00:00Z\",\"next tuesday\"],"
    "\"entities\":[{\"type\":\"person\",\"value\":\"Maria Lopez\"},"
    "{\"type\":\"company\",\"value\":\"ACME Corp\"},"
    "{\"type\":\"order_id\",\"value\":\"\"},"
    "{\"type\":\"product\"}],\"note\":\"customer was double charged\"}";

static size_t g_allocs;

static void *cnt_malloc(size_t n, void *ud) {
    (void)ud;
    g_allocs++;
    return malloc(n);
}
static void *cnt_realloc(void *p, size_t n, void *ud) {
    (void)ud;
    g_allocs++;
    return realloc(p, n);
}
static void cnt_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef enum { M_PARSED, M_CHECK, M_TEXT, M_PARSE_ONLY, M_WALK } mode;

/* Visit every value with the jansson accessors a validator must call: the floor under any
 * validator of an already-parsed jansson document. */
static size_t walk(const json_t *j) {
    size_t acc = 0;
    if (json_is_object(j)) {
        for (void *it = json_object_iter((json_t *)j); it;
             it = json_object_iter_next((json_t *)j, it))
            acc += json_object_iter_key_len(it) + (unsigned char)json_object_iter_key(it)[0] +
                   walk(json_object_iter_value(it));
    } else if (json_is_array(j)) {
        for (size_t i = 0, n = json_array_size(j); i < n; i++)
            acc += walk(json_array_get(j, i));
    } else if (json_is_string(j)) {
        acc += json_string_length(j);
    }
    return acc;
}

static volatile size_t g_sink;

typedef struct ctx {
    const rr_schema *s;
    rr_verdict *v;
    const char *text;
    size_t len;
    json_t *parsed;
} ctx;

static int once(ctx *c, mode m) {
    switch (m) {
    case M_PARSED:
        rr_verdict_reset(c->v);
        return rr_schema_validate_json(c->s, c->parsed, c->v, "schema", NULL);
    case M_CHECK:
        return rr_schema_check_json(c->s, c->parsed, c->v) < 0;
    case M_TEXT:
        return rr_schema_validate(c->s, c->text, c->len, c->v, NULL);
    case M_WALK:
        g_sink += walk(c->parsed);
        return 0;
    default: {
        json_t *j = json_loadb(c->text, c->len, 0, NULL);
        json_decref(j);
        return j == NULL;
    }
    }
}

#define BATCHES 21

static double g_min; /* fastest batch of the last measure(): robust on a busy machine */

/* Median ns per call over BATCHES batches of iters/BATCHES calls. */
static double measure(ctx *c, mode m, size_t iters) {
    double per[BATCHES];
    size_t n = iters / BATCHES + 1;
    for (size_t i = 0; i < n; i++)
        once(c, m); /* warm-up */
    for (int b = 0; b < BATCHES; b++) {
        uint64_t t0 = now_ns();
        for (size_t i = 0; i < n; i++)
            if (once(c, m) != 0) {
                fprintf(stderr, "validation error\n");
                exit(1);
            }
        per[b] = (double)(now_ns() - t0) / (double)n;
    }
    qsort(per, BATCHES, sizeof per[0], cmp_d);
    g_min = per[0];
    return per[BATCHES / 2];
}

static int dump(const char *dir) {
    const char *names[] = {"schema.json", "valid.json", "invalid.json"};
    const char *texts[] = {schema_json, valid_json, invalid_json};
    for (int i = 0; i < 3; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        FILE *f = fopen(p, "w");
        if (!f || fputs(texts[i], f) < 0 || fclose(f) != 0) {
            perror(p);
            return 1;
        }
    }
    return 0;
}

static void report(const char *name, double ns) {
    printf("%-34s %9.1f ns  %12.0f /s   (fastest batch %.1f ns)\n", name, ns, 1e9 / ns, g_min);
}

static void run_instance(const rr_schema *s, rr_verdict *v, const char *label, const char *text,
                         size_t iters) {
    ctx c = {s, v, text, strlen(text), json_loadb(text, strlen(text), 0, NULL)};
    char name[96];
    snprintf(name, sizeof name, "%s: validate parsed", label);
    double parsed = measure(&c, M_PARSED, iters);
    report(name, parsed);
    snprintf(name, sizeof name, "%s: check parsed (no findings)", label);
    report(name, measure(&c, M_CHECK, iters));
    snprintf(name, sizeof name, "%s: jansson walk only (floor)", label);
    report(name, measure(&c, M_WALK, iters));
    snprintf(name, sizeof name, "%s: validate text (parse incl.)", label);
    double text_ns = measure(&c, M_TEXT, iters), text_min = g_min;
    report(name, text_ns);
    snprintf(name, sizeof name, "%s: jansson parse only", label);
    double parse = measure(&c, M_PARSE_ONLY, iters);
    report(name, parse);
    printf("%-34s %9.2f x jansson parse-only (fastest batches: %.2f x)\n", "", text_ns / parse,
           text_min / g_min);
    size_t before = g_allocs;
    for (int i = 0; i < 1000; i++)
        once(&c, M_PARSED);
    printf("%-34s %9.2f allocations per parsed validation\n", "",
           (double)(g_allocs - before) / 1000.0);
    rr_schema_validate(s, text, strlen(text), v, NULL);
    printf("%-34s passed=%d findings=%zu\n", "", rr_verdict_passed(v), rr_verdict_finding_count(v));
    json_decref(c.parsed);
}

static int loop(int argc, char **argv) {
    static const char *modes[] = {"parsed", "check", "text", "parse", "walk"};
    static const mode ms[] = {M_PARSED, M_CHECK, M_TEXT, M_PARSE_ONLY, M_WALK};
    size_t k = 0;
    while (k < 5 && strcmp(argv[2], modes[k]) != 0)
        k++;
    if (k == 5) {
        fprintf(stderr, "unknown mode %s\n", argv[2]);
        return 2;
    }
    size_t n = strtoul(argv[3], NULL, 10);
    const char *text = argc > 4 && strcmp(argv[4], "invalid") == 0 ? invalid_json : valid_json;
    rr_schema_options o = RR_SCHEMA_OPTIONS_INIT;
    o.flags = argc > 5 ? RR_SCHEMA_FORMAT_ASSERT : 0;
    rr_schema *s = NULL;
    rr_verdict *v = NULL;
    if (rr_schema_new(&s, schema_json, strlen(schema_json), &o, NULL) != RR_OK ||
        rr_verdict_new(&v, NULL) != RR_OK)
        return 1;
    ctx c = {s, v, text, strlen(text), json_loadb(text, strlen(text), 0, NULL)};
    for (size_t i = 0; i < n; i++)
        once(&c, ms[k]);
    json_decref(c.parsed);
    rr_verdict_free(v);
    rr_schema_free(s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "--dump") == 0)
        return dump(argv[2]);
    if (argc > 3 && strcmp(argv[1], "--loop") == 0)
        return loop(argc, argv);
    size_t iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
    rr_allocator al = {RR_ALLOCATOR_VERSION, NULL, cnt_malloc, cnt_realloc, cnt_free};
    printf("instance sizes: valid %zu bytes, invalid %zu bytes; %zu iterations, median of %d "
           "batches\n",
           strlen(valid_json), strlen(invalid_json), iters, BATCHES);
    for (int assert_fmt = 0; assert_fmt < 2; assert_fmt++) {
        rr_schema_options o = RR_SCHEMA_OPTIONS_INIT;
        o.allocator = &al;
        o.flags = assert_fmt ? RR_SCHEMA_FORMAT_ASSERT : 0;
        rr_schema *s = NULL;
        rr_verdict *v = NULL;
        rr_error err = RR_ERROR_INIT;
        if (rr_schema_new(&s, schema_json, strlen(schema_json), &o, &err) != RR_OK ||
            rr_verdict_new(&v, &al) != RR_OK) {
            fprintf(stderr, "setup failed: %s\n", err.message);
            return 1;
        }
        printf("\n-- format %s --\n", assert_fmt ? "asserted" : "annotation only");
        run_instance(s, v, "valid", valid_json, iters);
        run_instance(s, v, "invalid", invalid_json, iters);
        rr_verdict_free(v);
        rr_schema_free(s);
    }
    return 0;
}
