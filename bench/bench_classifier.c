/* Prediction cost: median nanoseconds per rr_classifier_predict on a 200-byte request
 * (the same text every call, so caches are warm) and over a rotating set of texts (colder),
 * beside xxh3-64 of the same bytes as a floor. Usage: bench_classifier MODEL [TEXTS_FILE]
 * where TEXTS_FILE holds one request per line (default: built-in support requests). */
#include "classify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define ROUNDS 31
#define PER_ROUND 2000

static const char *const DEFAULT_TEXTS[] = {
    "Hi, I was charged twice for my order ORD-48213 last Tuesday and the refund still has "
    "not arrived. Can you check what happened and tell me when the money will be back on "
    "my card? Thanks a lot, Maria Lopez",
    "what's the exchange rate between us dollars and euros today",
    "please set an alarm for six thirty tomorrow morning",
    "how do I reset my router after changing the wifi password, it keeps dropping",
};

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double median_ns(uint64_t *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_u64);
    return (double)v[n / 2] / PER_ROUND;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_classifier MODEL [TEXTS_FILE]\n");
        return 2;
    }
    rr_error err = RR_ERROR_INIT;
    rr_classifier *m;
    if (rr_classifier_load(&m, argv[1], NULL, &err)) {
        fprintf(stderr, "bench_classifier: %s\n", err.message);
        return 1;
    }
    static char texts[4096][256];
    size_t nt = 0;
    FILE *f = argc > 2 ? fopen(argv[2], "r") : NULL;
    while (f && nt < 4096 && fgets(texts[nt], sizeof texts[nt], f))
        if (strlen(texts[nt]) > 1)
            texts[nt][strcspn(texts[nt], "\n")] = 0, nt++;
    if (f)
        fclose(f);
    for (size_t i = 0; nt < 4 && i < 4; i++)
        snprintf(texts[nt++], sizeof texts[0], "%s", DEFAULT_TEXTS[i]);
    char req[201];
    memcpy(req, DEFAULT_TEXTS[0], 200);
    req[200] = 0;
    size_t ss = rr_classifier_scratch_size(m);
    void *scratch = malloc(ss);
    double *probs = malloc(m->nlabels * sizeof *probs);
    uint64_t tp[ROUNDS], th[ROUNDS], tr[ROUNDS], sink = 0;
    rr_clf_result r;
    for (int round = 0; round < ROUNDS; round++) {
        uint64_t t0 = rr_now_ns();
        for (int i = 0; i < PER_ROUND; i++) {
            rr_classifier_predict(m, req, 200, scratch, ss, probs, &r);
            sink += (uint64_t)r.top;
        }
        uint64_t t1 = rr_now_ns();
        for (int i = 0; i < PER_ROUND; i++) {
            req[i & 127] ^= 1; /* defeat hoisting: change one byte, hash, change it back */
            sink += XXH3_64bits(req, 200);
            req[i & 127] ^= 1;
        }
        uint64_t t2 = rr_now_ns();
        for (int i = 0; i < PER_ROUND; i++) {
            const char *t = texts[(size_t)(round * PER_ROUND + i) % nt];
            rr_classifier_predict(m, t, strlen(t), scratch, ss, probs, &r);
            sink += (uint64_t)r.top;
        }
        tp[round] = t1 - t0, th[round] = t2 - t1, tr[round] = rr_now_ns() - t2;
    }
    printf("labels %u  weights %u\n", m->nlabels, m->nnz);
    printf("predict 200-byte request: median %.0f ns\n", median_ns(tp, ROUNDS));
    printf("xxh3-64 of the same 200 bytes: median %.1f ns\n", median_ns(th, ROUNDS));
    printf("predict over %zu rotating texts: median %.0f ns\n", nt, median_ns(tr, ROUNDS));
    free(scratch);
    free(probs);
    rr_classifier_free(m);
    return sink == 42 ? 3 : 0;
}
