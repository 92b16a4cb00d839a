/* Latency of rr_grounding_check: a 1 KB answer against 5 x 1 KB evidence (the target is a
 * median of at most 20 us), and throughput on a 1 MB answer. Texts are generated from a
 * fixed seed, so every run measures the same input. Also counts allocations after warm-up
 * (must be 0).
 *
 * Usage: bench_grounding [iterations]   (default 20000)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "validate_grounding.h"
#include "verdict.h"

/* Text with English-like statistics: about 45% of tokens are stop words, content words
 * come from a vocabulary of 2000 pronounceable pseudo-words with Zipf (1/rank)
 * frequencies, and some tokens are capitalised names and numbers. */
static const char *const stops[] = {"the", "a", "of", "to", "in", "is", "and", "for", "with",
                                    "on", "by", "that", "it", "as", "are", "was", "be", "at",
                                    "this", "from", "or", "an", "which", "their", "has"};
static const char *const syl[] = {"ka", "lo", "mi", "ren", "sta", "tor", "vi", "dan", "pel",
                                  "qu", "ser", "nor", "tha", "bri", "gen", "ul", "com", "par",
                                  "ex", "ti", "ma", "ber", "ing", "ous", "al", "ic"};
static const char *const names[] = {"Acme", "Berlin", "Stripe", "Visa", "Lisbon", "Zendesk",
                                    "March", "Friday", "Europe", "Nordea", "Ortega", "Kyoto"};
#define NWORDS 2000

typedef struct rng {
    uint64_t s;
} rng;
static uint32_t next(rng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)(r->s >> 16);
}

/* Word k of the vocabulary: 2-3 syllables chosen by k's digits in base 26. */
static void put_word(rr_buf *b, uint32_t k) {
    uint32_t n = 2 + k % 2;
    for (uint32_t i = 0; i < n; i++, k /= 26)
        rr_buf_puts(b, syl[(k + i * 7) % RR_ARRAY_LEN(syl)]);
}

/* A Zipf-distributed rank in [0, NWORDS): inverse of the harmonic CDF, approximated. */
static uint32_t zipf(rng *r) {
    double u = (next(r) % 1000000) / 1000000.0;
    double k = exp(u * log((double)NWORDS + 1.0)) - 1.0;
    return (uint32_t)k % NWORDS;
}

static void sentence(rng *r, rr_buf *b) {
    int words = 10 + (int)(next(r) % 12);
    for (int i = 0; i < words; i++) {
        uint32_t x = next(r) % 100;
        rr_buf_puts(b, i ? " " : "");
        if (x < 45)
            rr_buf_puts(b, i ? stops[next(r) % RR_ARRAY_LEN(stops)] : "The");
        else if (x < 49)
            rr_buf_printf(b, "%u", next(r) % 2000);
        else if (x < 55)
            rr_buf_puts(b, names[next(r) % RR_ARRAY_LEN(names)]);
        else
            put_word(b, zipf(r));
    }
    rr_buf_puts(b, ". ");
}

/* Evidence passages of about `bytes` bytes each. */
static void make_evidence(rng *r, rr_buf *ev, size_t n, size_t bytes) {
    for (size_t i = 0; i < n; i++) {
        while (ev[i].len < bytes)
            sentence(r, &ev[i]);
    }
}

/* An answer of about `bytes`: sentences copied from evidence with a citation, and new ones. */
static void make_answer(rng *r, const rr_buf *ev, size_t nev, rr_buf *out, size_t bytes) {
    while (out->len < bytes) {
        size_t e = next(r) % nev;
        if (next(r) % 3) {
            const char *p = ev[e].p;
            size_t start = next(r) % (ev[e].len / 2);
            const char *a = strstr(p + start, ". ");
            if (!a)
                continue;
            a += 2;
            const char *z = strstr(a, ". ");
            if (!z)
                continue;
            rr_buf_put(out, a, (size_t)(z - a));
            rr_buf_printf(out, " [%zu]. ", e + 1);
        } else {
            sentence(r, out);
        }
    }
}

typedef struct counter {
    size_t calls;
} counter;
static void *c_malloc(size_t n, void *ud) {
    ((counter *)ud)->calls++;
    return malloc(n);
}
static void *c_realloc(void *p, size_t n, void *ud) {
    ((counter *)ud)->calls++;
    return realloc(p, n);
}
static void c_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static int run(const rr_grounding *g, rr_grounding_scratch *s, struct rr_verdict *v,
               const rr_buf *ans, const rr_evidence_ref *refs, size_t nev) {
    rr_verdict_clear(v);
    return rr_grounding_check(g, s, ans->p, ans->len, refs, nev, v, NULL);
}

int main(int argc, char **argv) {
    size_t iters = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 20000;
    if (iters == 0)
        iters = 1;
    counter cnt = {0};
    rr_allocator pub = {RR_ALLOCATOR_VERSION, &cnt, c_malloc, c_realloc, c_free};
    rr_alloc a;
    rr_alloc_init(&a, &pub);
    rng r = {0x9E3779B97F4A7C15ull};
    rr_buf ev[5], ans, big;
    rr_evidence_ref refs[5];
    static const char *const ids[5] = {"kb-1", "kb-2", "kb-3", "kb-4", "kb-5"};
    for (size_t i = 0; i < 5; i++)
        rr_buf_init(&ev[i], &a);
    rr_buf_init(&ans, &a);
    rr_buf_init(&big, &a);
    make_evidence(&r, ev, 5, 1024);
    make_answer(&r, ev, 5, &ans, 1024);
    make_answer(&r, ev, 5, &big, 1 << 20);
    for (size_t i = 0; i < 5; i++)
        refs[i] = (rr_evidence_ref){ids[i], ev[i].p, ev[i].len};

    rr_grounding_config cfg = RR_GROUNDING_CONFIG_INIT;
    rr_grounding *g = NULL;
    rr_grounding_scratch *s = NULL;
    struct rr_verdict v;
    if (rr_grounding_new(&g, &cfg, &a, NULL) != RR_OK ||
        rr_grounding_scratch_new(&s, &a) != RR_OK)
        return 1;
    rr_verdict_init(&v, &a);
    for (int i = 0; i < 100; i++)
        if (run(g, s, &v, &ans, refs, 5) != RR_OK)
            return 1;
    size_t before = cnt.calls;
    uint64_t *ns = malloc(iters * sizeof *ns);
    if (!ns)
        return 1;
    for (size_t i = 0; i < iters; i++) {
        uint64_t t0 = rr_now_ns();
        run(g, s, &v, &ans, refs, 5);
        ns[i] = rr_now_ns() - t0;
    }
    size_t allocs = cnt.calls - before;
    const rr_grounding_result *res = rr_grounding_result_of(s);
    qsort(ns, iters, sizeof *ns, cmp_u64);
    printf("grounding check, %zu B answer (%zu claims, support %.3f, coverage %.3f) vs 5 x "
           "~1 KB evidence, %zu runs:\n  median %.2f us  p90 %.2f us  p99 %.2f us  "
           "allocations after warm-up: %zu\n",
           ans.len, res->nclaims, res->support, res->coverage, iters, ns[iters / 2] / 1e3,
           ns[iters * 9 / 10] / 1e3, ns[iters * 99 / 100] / 1e3, allocs);
    free(ns);

    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = rr_now_ns();
        if (run(g, s, &v, &big, refs, 5) != RR_OK)
            return 1;
        uint64_t t = rr_now_ns() - t0;
        best = t < best ? t : best;
    }
    printf("1 MB answer (%zu claims): best of 5 %.2f ms = %.0f MB/s\n",
           rr_grounding_result_of(s)->nclaims, best / 1e6, (double)big.len / (best / 1e3));

    rr_verdict_release(&v);
    rr_grounding_scratch_free(s);
    rr_grounding_free(g);
    for (size_t i = 0; i < 5; i++)
        rr_buf_free(&ev[i]);
    rr_buf_free(&ans);
    rr_buf_free(&big);
    return 0;
}
