/* Latency of rr_grounding_check: a 1 KB answer against 5 x 1 KB evidence (the target is a
 * median of at most 20 us), beside the floor measured in the same run (XXH3 over the same
 * bytes: the answer and every passage), and throughput on a 1 MB answer. Texts are generated from a
 * fixed seed, so every run measures the same input. Also counts allocations after warm-up
 * (must be 0).
 *
 * The same is measured on English text (HaluEval QA knowledge passages) when the data file
 * is there.
 *
 * Usage: bench_grounding [iterations (default 20000)] [path/to/qa_one-turn_data.jsonl]
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base.h"
#include "validate_grounding.h"
#include "verdict.h"

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

#ifndef RR_SOURCE_ROOT
#define RR_SOURCE_ROOT "."
#endif
#define DEFAULT_DATA RR_SOURCE_ROOT "/../shared/data/halueval-qa/qa_one-turn_data.jsonl"

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

/* CPU time of this thread: on a shared machine, time given to other processes is left out. */
static uint64_t cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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

static volatile uint64_t sink;

/* The floor: one XXH3 pass over the bytes a check reads. A pass is a few hundred ns, so it
 * is timed in batches of 8 to keep the clock read out of it. Median and p99, in ns. */
static void floor_ns(const rr_buf *ans, const rr_evidence_ref *refs, size_t nev, size_t iters,
                     uint64_t *ns, double *med, double *p99) {
    for (size_t i = 0; i < iters; i++) {
        uint64_t t0 = rr_now_ns();
        for (int b = 0; b < 8; b++) {
            uint64_t h = XXH3_64bits(ans->p, ans->len);
            for (size_t e = 0; e < nev; e++)
                h ^= XXH3_64bits(refs[e].text, refs[e].len);
            sink += h;
        }
        ns[i] = rr_now_ns() - t0;
    }
    qsort(ns, iters, sizeof *ns, cmp_u64);
    *med = ns[iters / 2] / 8.0;
    *p99 = ns[iters * 99 / 100] / 8.0;
}

/* Run `iters` checks; print median, p90, p99, the floor and the allocations made after
 * warm-up. */
static int measure(const char *label, const rr_grounding *g, rr_grounding_scratch *s,
                   struct rr_verdict *v, const rr_buf *ans, const rr_evidence_ref *refs,
                   size_t nev, size_t iters, const counter *cnt) {
    for (int i = 0; i < 100; i++)
        if (run(g, s, v, ans, refs, nev) != RR_OK)
            return 1;
    size_t before = cnt->calls;
    uint64_t *ns = malloc(2 * iters * sizeof *ns), *cpu = ns + iters;
    if (!ns)
        return 1;
    for (size_t i = 0; i < iters; i++) {
        uint64_t c0 = cpu_ns(), t0 = rr_now_ns();
        run(g, s, v, ans, refs, nev);
        ns[i] = rr_now_ns() - t0;
        cpu[i] = cpu_ns() - c0;
    }
    size_t allocs = cnt->calls - before;
    const rr_grounding_result *res = rr_grounding_result_of(s);
    qsort(ns, iters, sizeof *ns, cmp_u64);
    qsort(cpu, iters, sizeof *cpu, cmp_u64);
    size_t evb = 0;
    for (size_t i = 0; i < nev; i++)
        evb += refs[i].len;
    printf("%s: %zu B answer (%zu claims, support %.3f, coverage %.3f) vs %zu passages, "
           "%zu B, %zu runs:\n  median %.2f us  p90 %.2f us  p99 %.2f us  (thread CPU time: "
           "median %.2f us)  allocations after warm-up: %zu\n",
           label, ans->len, res->nclaims, res->support, res->coverage, nev, evb, iters,
           ns[iters / 2] / 1e3, ns[iters * 9 / 10] / 1e3, ns[iters * 99 / 100] / 1e3,
           cpu[iters / 2] / 1e3, allocs);
    double med = (double)ns[iters / 2], fmed, fp99;
    floor_ns(ans, refs, nev, iters, ns, &fmed, &fp99);
    printf("  floor (XXH3_64bits over the same %zu B): median %.2f us  p99 %.2f us  (check "
           "median = %.0f x floor)\n", ans->len + evb, fmed / 1e3, fp99 / 1e3, med / fmed);
    free(ns);
    return 0;
}

/* English text: HaluEval QA knowledge passages, when the file is there. Evidence: 5
 * passages of >= 1 KB from consecutive rows; answer: >= 1 KB of sentences, two in three
 * taken from a passage and citing it, the others from rows the evidence does not hold. */
static bool load_real(const rr_alloc *a, const char *path, rng *r, rr_buf *ev, rr_buf *ans) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    rr_buf other;
    rr_buf_init(&other, a);
    char line[65536];
    size_t row = 0, e = 0;
    while (fgets(line, sizeof line, f) && (e < 5 || other.len < 8192)) {
        json_t *o = json_loads(line, 0, NULL);
        const char *k = json_string_value(json_object_get(o, "knowledge"));
        if (k && e < 5) {
            rr_buf_puts(&ev[e], k);
            rr_buf_putc(&ev[e], ' ');
            e += ev[e].len >= 1024;
        } else if (k && row >= 200) {
            rr_buf_puts(&other, k);
            rr_buf_putc(&other, ' ');
        }
        json_decref(o);
        row++;
    }
    fclose(f);
    bool ok = e == 5 && other.len > 0;
    for (size_t i = 0; ok && i < 5; i++) { /* cut to 1 KB at a space */
        size_t n = 1024;
        while (n > 0 && ev[i].p[n] != ' ')
            n--;
        ev[i].len = n;
        ev[i].p[n] = 0;
    }
    for (int tries = 0; ok && ans->len < 1000 && tries < 10000; tries++) {
        bool cite = next(r) % 3 != 0;
        size_t src = next(r) % 5;
        const rr_buf *b = cite ? &ev[src] : &other;
        const char *from = b->p + next(r) % b->len;
        const char *a0 = strstr(from, ". "), *z = a0 ? strstr(a0 + 2, ". ") : NULL;
        if (!z || ans->len + (size_t)(z - a0) > 1040)
            continue;
        rr_buf_put(ans, a0 + 2, (size_t)(z - a0 - 2));
        if (cite)
            rr_buf_printf(ans, " [%zu]", src + 1);
        rr_buf_puts(ans, ". ");
    }
    rr_buf_free(&other);
    return ok;
}

int main(int argc, char **argv) {
    size_t iters = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 20000;
    const char *path = argc > 2 ? argv[2] : DEFAULT_DATA;
    if (iters == 0)
        iters = 1;
    counter cnt = {0};
    rr_allocator pub = {RR_ALLOCATOR_VERSION, &cnt, c_malloc, c_realloc, c_free};
    rr_alloc a;
    rr_alloc_init(&a, &pub);
    rng r = {0x9E3779B97F4A7C15ull};
    rr_buf ev[5], rev[5], ans, rans, big;
    rr_evidence_ref refs[5];
    static const char *const ids[5] = {"kb-1", "kb-2", "kb-3", "kb-4", "kb-5"};
    for (size_t i = 0; i < 5; i++) {
        rr_buf_init(&ev[i], &a);
        rr_buf_init(&rev[i], &a);
    }
    rr_buf_init(&ans, &a);
    rr_buf_init(&rans, &a);
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
    int rc = measure("synthetic text", g, s, &v, &ans, refs, 5, iters, &cnt);
    if (rc == 0 && load_real(&a, path, &r, rev, &rans)) {
        rr_evidence_ref rrefs[5];
        for (size_t i = 0; i < 5; i++)
            rrefs[i] = (rr_evidence_ref){ids[i], rev[i].p, rev[i].len};
        rc = measure("HaluEval knowledge text", g, s, &v, &rans, rrefs, 5, iters, &cnt);
    } else if (rc == 0) {
        printf("(no %s: English-text run skipped)\n", path);
    }

    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5 && rc == 0; i++) {
        uint64_t t0 = rr_now_ns();
        if (run(g, s, &v, &big, refs, 5) != RR_OK)
            return 1;
        uint64_t t = rr_now_ns() - t0;
        best = t < best ? t : best;
    }
    if (rc == 0)
        printf("1 MB answer (%zu claims): best of 5 %.2f ms = %.0f MB/s\n",
               rr_grounding_result_of(s)->nclaims, best / 1e6, (double)big.len / (best / 1e3));

    rr_verdict_release(&v);
    rr_grounding_scratch_free(s);
    rr_grounding_free(g);
    for (size_t i = 0; i < 5; i++) {
        rr_buf_free(&ev[i]);
        rr_buf_free(&rev[i]);
    }
    rr_buf_free(&ans);
    rr_buf_free(&rans);
    rr_buf_free(&big);
    return rc;
}
