/* libFuzzer target: arbitrary bytes as a model's output, through the semantic checks (when
 * they parse as JSON), the shape and safety validators, and the truncated-prefix test,
 * which must never call text jansson accepts truncated.
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude -iquote lib -DXXH_INLINE_ALL
 *        lib/base.c lib/expr.c lib/verdict.c lib/features.c lib/validate_semantic.c
 *        lib/validate_safety.c tests/fuzz/fuzz_semantic.c -ljansson -lpcre2-8 -lm */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "validate_safety.h"
#include "validate_semantic.h"
#include "verdict.h"

static const char *const semantic_config =
    "{\"fields\": {\"total\": {\"pointer\": \"/total\", \"type\": \"number\"},"
    " \"items\": {\"sum\": \"/line_items/*/amount\"},"
    " \"deep\": {\"sum\": \"/*/*/*\"},"
    " \"opened\": {\"pointer\": \"/opened_at\", \"type\": \"date\"},"
    " \"closed\": {\"pointer\": \"/closed_at\", \"type\": \"date\"},"
    " \"customer\": {\"pointer\": \"/customer_id\", \"type\": \"string\"},"
    " \"flag\": {\"pointer\": \"/a~1b/0\", \"type\": \"bool\"}},"
    " \"checks\": ["
    "  {\"id\": \"sum\", \"assert\": \"total >= items - thr.tol && total <= items + thr.tol\"},"
    "  {\"id\": \"dates\", \"assert\": \"!has(closed) || opened <= closed\"},"
    "  {\"id\": \"caller\", \"assert\": \"customer == customer.id || flag\"},"
    "  {\"id\": \"allowed\", \"assert\": \"customer in allowed || deep / 2 > 1\"}]}";

static const char *const safety_config =
    "{\"refusal\": true, \"deny\": [\"refund\", \"(a|aa)+$\", {\"id\": \"x\", \"pattern\": "
    "\"\\\\bentitled\\\\b\"}]}";

typedef struct fixture {
    rr_alloc a;
    struct rr_router r;
    rr_semantic *sem;
    rr_safety *safety, *shape;
    rr_safety_scratch *sc;
    struct rr_verdict v;
} fixture;

static char *names[] = {"customer.id", "allowed", "thr.tol"};
static rr_type types[] = {RR_T_STR, RR_T_STR, RR_T_NUM};

static fixture *setup(void) {
    static fixture f;
    static int ready;
    if (ready)
        return &f;
    rr_alloc_init(&f.a, NULL);
    f.r.slot_names = names;
    f.r.slot_types = types;
    f.r.nslots = 3;
    json_t *c = json_loads(semantic_config, 0, NULL);
    json_t *s = json_loads(safety_config, 0, NULL);
    json_t *e = json_object();
    if (!c || !s || !e || rr_semantic_new(&f.sem, &f.r, c, "/v", "sem", &f.a, NULL) ||
        rr_safety_new(&f.safety, s, "safety", "/s", "safety", &f.a, 10000, 1000, NULL) ||
        rr_safety_new(&f.shape, e, "shape", "/h", "shape", &f.a, 0, 0, NULL) ||
        rr_safety_scratch_new(&f.sc, &f.a))
        abort();
    json_decref(c);
    json_decref(s);
    json_decref(e);
    rr_verdict_init(&f.v, &f.a);
    ready = 1;
    return &f;
}

static size_t run_semantic(fixture *f, const json_t *doc) {
    rr_value slots[16];
    slots[0] = (rr_value){RR_T_STR, 1, 4, {.str = "C-42"}};
    slots[1] = (rr_value){RR_T_STR, 1, 5, {.str = "a, b"}};
    slots[2] = (rr_value){RR_T_NUM, 1, 0, {.num = 0.01}};
    rr_verdict_clear(&f->v);
    if (rr_semantic_check(f->sem, doc, slots, &f->v, NULL) != RR_OK)
        abort();
    return f->v.nfindings;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fixture *f = setup();
    const char *text = (const char *)data;
    json_error_t je;
    json_t *doc = json_loadb(text, size, JSON_DECODE_ANY, &je);
    if (doc && rr_json_is_truncated_prefix(text, size))
        abort(); /* complete JSON called truncated */
    if (doc) {
        size_t n = run_semantic(f, doc);
        if (run_semantic(f, doc) != n)
            abort(); /* not deterministic */
        json_decref(doc);
    }
    const char *ev[1] = {"support@example.com"};
    size_t evl[1] = {19};
    rr_safety_input in = {text, size, 1, "hello", 5, ev, evl, 1, NULL};
    rr_verdict_clear(&f->v);
    int rc = rr_safety_check(f->shape, f->sc, &in, &f->v, NULL);
    if (rc != RR_OK)
        abort();
    rc = rr_safety_check(f->safety, f->sc, &in, &f->v, NULL);
    if (rc != RR_OK && rc != RR_ELIMIT)
        abort();
    for (size_t i = 0; i < f->v.nfindings; i++) {
        const rr_finding *x = &f->v.findings[i];
        if (x->span_start > x->span_end || x->span_end > (int64_t)size)
            abort(); /* spans stay inside the output */
    }
    return 0;
}
