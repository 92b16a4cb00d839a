/* The C baseline of bench_bindings.sh: route the same JSONL requests the Python and Go
 * loops route, filling each request through the setters (as the bindings do) and reading
 * the route, the model and — in the first mode — the decision record. Prints the median
 * over rounds of the mean process-CPU ns per route, one line per mode:
 *   c <ns>            with the record (rr_decision_json)
 *   c_norecord <ns>   without it
 *   bench_bindings POLICY.json REQUESTS.jsonl [ROUNDS] */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routeright.h"

typedef struct {
    json_t *doc; /* owns every string below */
} req;

/* Process CPU time, not wall time: the figures must survive a busy machine. */
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void fill(rr_request *q, json_t *doc) {
    rr_request_reset(q);
    json_t *t = json_object_get(doc, "text");
    rr_request_set_text(q, json_string_value(t), json_string_length(t));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(doc, "attrs"), k, v) {
        if (json_is_string(v))
            rr_request_set_attr(q, k, json_string_value(v));
        else if (json_is_boolean(v))
            rr_request_set_bool(q, k, json_is_true(v));
        else
            rr_request_set_num(q, k, json_number_value(v));
    }
    size_t i;
    json_array_foreach(json_object_get(doc, "evidence"), i, v) {
        json_t *et = json_object_get(v, "text");
        rr_request_add_evidence(q, json_string_value(json_object_get(v, "id")),
                                json_string_value(et), json_string_length(et),
                                json_number_value(json_object_get(v, "score")));
    }
    json_t *c = json_object_get(doc, "conversation_id");
    if (c)
        rr_request_set_conversation(q, json_string_value(c));
}

static req *load(const char *path, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    req *r = NULL;
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    *n = 0;
    while (getline(&line, &lcap, f) > 0) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            r = realloc(r, cap * sizeof *r);
        }
        r[(*n)++].doc = json_loads(line, 0, NULL);
    }
    free(line);
    fclose(f);
    return r;
}

/* One round: every request once; returns mean ns per route. */
static double round_ns(const rr_router *router, rr_request *q, rr_decision **d, req *rs,
                       size_t n, int record, size_t *sink) {
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        fill(q, rs[i].doc);
        if (rr_route(router, q, d, NULL) != RR_OK)
            abort();
        *sink += strlen(rr_decision_route(*d)) + strlen(rr_decision_model(*d));
        if (record) {
            size_t len = 0;
            rr_decision_json(*d, &len);
            *sink += len;
        }
    }
    return (double)(now_ns() - t0) / (double)n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_bindings POLICY.json REQUESTS.jsonl [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 15;
    rr_error err = RR_ERROR_INIT;
    rr_router *router = NULL;
    if (rr_router_new_from_file(&router, argv[1], NULL, &err) != RR_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    size_t n = 0;
    req *rs = load(argv[2], &n);
    if (!rs || !n)
        return 1;
    rr_request *q = NULL;
    rr_decision *d = NULL;
    rr_request_new(&q, NULL);
    size_t sink = 0;
    uint64_t *per = calloc((size_t)rounds, sizeof *per);
    static const char *const names[] = {"c", "c_norecord"};
    for (int mode = 0; mode < 2; mode++) {
        round_ns(router, q, &d, rs, n, !mode, &sink); /* warm-up */
        for (int r = 0; r < rounds; r++)
            per[r] = (uint64_t)round_ns(router, q, &d, rs, n, !mode, &sink);
        qsort(per, (size_t)rounds, sizeof *per, cmp_u64);
        printf("%s %llu\n", names[mode], (unsigned long long)per[rounds / 2]);
    }
    fprintf(stderr, "(checksum %zu)\n", sink);
    free(per);
    for (size_t i = 0; i < n; i++)
        json_decref(rs[i].doc);
    free(rs);
    rr_decision_free(d);
    rr_request_free(q);
    rr_router_free(router);
    return 0;
}
