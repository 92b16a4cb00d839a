/* Prediction cost per model: nanoseconds per rr_classifier_predict on a 200-byte request
 * (the same text every call, so caches are warm) and over a rotating set of texts (colder),
 * each call timed on its own and reported as median and p99, beside xxh3-64 of the same 200
 * bytes (timed in batches: one hash is shorter than a clock read) as a floor measured in the
 * same run. A clock read (~20 ns) is inside every per-call figure; its own median is printed.
 *
 * Usage: bench_classifier [--texts FILE] [--kernel avx2|sse2|c] [MODEL...]
 * TEXTS_FILE holds one request per line (default: built-in support requests). Without a
 * MODEL, two models are trained first on synthetic data, with 10 and 150 labels, so that
 * the program runs without any data set (bench_classifier.py passes CLINC150 models). */
#include "classify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SAMPLES 20000
#define XXH_BATCH 100
#define MAX_TEXTS 4096

static const char *const DEFAULT_TEXTS[] = {
    "Hi, I was charged twice for my order ORD-48213 last Tuesday and the refund still has "
    "not arrived. Can you check what happened and tell me when the money will be back on "
    "my card? Thanks a lot, Maria Lopez",
    "what's the exchange rate between us dollars and euros today",
    "please set an alarm for six thirty tomorrow morning",
    "how do I reset my router after changing the wifi password, it keeps dropping",
};

typedef struct texts {
    char (*t)[256];
    size_t *len, n;
} texts;

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v; the value at quantile q. */
static double quantile(uint64_t *v, size_t n, double q) {
    qsort(v, n, sizeof *v, cmp_u64);
    return (double)v[(size_t)(q * (double)(n - 1))];
}

static void load_texts(texts *tx, const char *path) {
    tx->t = calloc(MAX_TEXTS, sizeof *tx->t);
    tx->len = calloc(MAX_TEXTS, sizeof *tx->len);
    FILE *f = path ? fopen(path, "r") : NULL;
    if (path && !f)
        fprintf(stderr, "bench_classifier: cannot read %s; using built-in texts\n", path);
    while (f && tx->n < MAX_TEXTS && fgets(tx->t[tx->n], sizeof tx->t[0], f))
        if (strlen(tx->t[tx->n]) > 1)
            tx->t[tx->n][strcspn(tx->t[tx->n], "\n")] = 0, tx->n++;
    if (f)
        fclose(f);
    for (size_t i = 0; tx->n < 4 && i < 4; i++)
        snprintf(tx->t[tx->n++], sizeof tx->t[0], "%s", DEFAULT_TEXTS[i]);
    for (size_t i = 0; i < tx->n; i++)
        tx->len[i] = strlen(tx->t[i]);
}

static void floors(char *req, uint64_t *v) {
    uint64_t sink = 0;
    for (int i = 0; i < SAMPLES / XXH_BATCH; i++) {
        uint64_t t0 = rr_now_ns();
        for (int j = 0; j < XXH_BATCH; j++) {
            req[j & 127] ^= 1; /* defeat hoisting: change one byte, hash, change it back */
            sink += XXH3_64bits(req, 200);
            req[j & 127] ^= 1;
        }
        v[i] = rr_now_ns() - t0;
    }
    double x50 = quantile(v, SAMPLES / XXH_BATCH, 0.5) / XXH_BATCH;
    double x99 = quantile(v, SAMPLES / XXH_BATCH, 0.99) / XXH_BATCH;
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t t0 = rr_now_ns();
        v[i] = rr_now_ns() - t0;
    }
    printf("xxh3-64 of the 200-byte request: median %.1f ns  p99 %.1f ns%s\n", x50, x99,
           sink == 42 ? " " : "");
    printf("clock read: median %.0f ns (inside every per-call figure below)\n",
           quantile(v, SAMPLES, 0.5));
}

static void bench_model(rr_classifier *m, const char *name, const texts *tx, const char *req,
                        uint64_t *v) {
    size_t ss = rr_classifier_scratch_size(m);
    void *scratch = malloc(ss);
    double *probs = malloc(m->nlabels * sizeof *probs);
    rr_clf_result r;
    uint64_t sink = 0;
    printf("model %s: %u labels, %u weights in %u rows, kernel %s\n", name, m->nlabels, m->nnz,
           m->nused, rr_classifier_kernel(m));
    for (int i = 0; i < SAMPLES / 10; i++) /* warm-up */
        rr_classifier_predict(m, req, 200, scratch, ss, probs, &r);
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t t0 = rr_now_ns();
        rr_classifier_predict(m, req, 200, scratch, ss, probs, &r);
        v[i] = rr_now_ns() - t0;
        sink += (uint64_t)r.top;
    }
    double p50 = quantile(v, SAMPLES, 0.5), p99 = quantile(v, SAMPLES, 0.99);
    printf("  predict 200-byte request: median %.0f ns  p99 %.0f ns\n", p50, p99);
    for (int i = 0; i < SAMPLES; i++) {
        size_t k = (size_t)i % tx->n;
        uint64_t t0 = rr_now_ns();
        rr_classifier_predict(m, tx->t[k], tx->len[k], scratch, ss, probs, &r);
        v[i] = rr_now_ns() - t0;
        sink += (uint64_t)r.top;
    }
    p50 = quantile(v, SAMPLES, 0.5), p99 = quantile(v, SAMPLES, 0.99);
    printf("  predict %zu rotating texts: median %.0f ns  p99 %.0f ns%s\n", tx->n, p50, p99,
           sink == 42 ? " " : "");
    free(scratch);
    free(probs);
}

/* `classes` labels, 60 examples each of 12 words: two in three from the class's own 40
 * words, the rest from 200 shared ones. */
static rr_classifier *synthetic(uint32_t classes) {
    size_t n = (size_t)classes * 60;
    rr_clf_sample *s = calloc(n, sizeof *s);
    char(*text)[160] = calloc(n, sizeof *text), (*label)[16] = calloc(n, sizeof *label);
    uint64_t x = 0x9e3779b97f4a7c15u + classes;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = (uint32_t)(i % classes);
        int len = 0;
        for (int w = 0; w < 12; w++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            len += x % 3 ? snprintf(text[i] + len, 160 - (size_t)len, "c%uw%u ", c,
                                    (unsigned)(x >> 8) % 40)
                         : snprintf(text[i] + len, 160 - (size_t)len, "shared%u ",
                                    (unsigned)(x >> 8) % 200);
        }
        snprintf(label[i], sizeof label[i], "class%u", c);
        s[i] = (rr_clf_sample){text[i], (size_t)len, label[i]};
    }
    rr_clf_train_opts o;
    rr_clf_train_opts_default(&o);
    rr_classifier *m = NULL;
    rr_error err = RR_ERROR_INIT;
    if (rr_clf_train(&m, s, n, NULL, 0, &o, NULL, NULL, &err))
        fprintf(stderr, "bench_classifier: training a synthetic model: %s\n", err.message);
    free(s), free(text), free(label);
    return m;
}

static int bench_one(rr_classifier *m, const char *name, const char *kernel, const texts *tx,
                     const char *req, uint64_t *v) {
    if (kernel && rr_classifier_use_kernel(m, kernel)) {
        fprintf(stderr, "bench_classifier: kernel %s does not run here\n", kernel);
        return 1;
    }
    bench_model(m, name, tx, req, v);
    return 0;
}

int main(int argc, char **argv) {
    const char *texts_path = NULL, *kernel = NULL;
    int first = 1;
    for (; first + 1 < argc && argv[first][0] == '-'; first += 2) {
        if (!strcmp(argv[first], "--texts"))
            texts_path = argv[first + 1];
        else if (!strcmp(argv[first], "--kernel"))
            kernel = argv[first + 1];
        else
            break;
    }
    if (first < argc && argv[first][0] == '-') {
        fprintf(stderr, "usage: bench_classifier [--texts FILE] [--kernel avx2|sse2|c] "
                        "[MODEL...]\n");
        return 2;
    }
    texts tx = {0};
    load_texts(&tx, texts_path);
    char req[201];
    memcpy(req, DEFAULT_TEXTS[0], 200);
    req[200] = 0;
    uint64_t *v = malloc(SAMPLES * sizeof *v);
    floors(req, v);
    int rc = 0;
    for (int i = first; i < argc && !rc; i++) {
        rr_error err = RR_ERROR_INIT;
        rr_classifier *m;
        if (rr_classifier_load(&m, argv[i], NULL, &err)) {
            fprintf(stderr, "bench_classifier: %s\n", err.message);
            rc = 1;
            break;
        }
        rc = bench_one(m, argv[i], kernel, &tx, req, v);
        rr_classifier_free(m);
    }
    const uint32_t sizes[2] = {10, 150};
    for (int i = 0; first >= argc && i < 2 && !rc; i++) {
        char name[32];
        snprintf(name, sizeof name, "synthetic-%u", sizes[i]);
        rr_classifier *m = synthetic(sizes[i]);
        rc = m ? bench_one(m, name, kernel, &tx, req, v) : 1;
        rr_classifier_free(m);
    }
    free(v);
    free(tx.t);
    free(tx.len);
    return rc;
}
