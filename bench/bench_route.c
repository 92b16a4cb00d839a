/* rr_route benchmark: three request mixes through the built-in default policy, beside the
 * floor measured in the same run (xxh3 of the same text, one memchr pass).
 * Prints median and p99 ns per decision, decisions/s on 1 and 2 threads, allocations per
 * call after warm-up (counted through the allocator hook).
 *   bench_route [iterations]   (default 20000 per mix) */
#define _POSIX_C_SOURCE 200809L
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

#include <pthread.h>
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

typedef struct {
    const char *name;
    char *text;
    size_t len;
    int evidence;
} mix;

static char *make_text(size_t target, const char *const *parts, size_t nparts) {
    char *t = malloc(target + 256);
    size_t n = 0;
    for (size_t i = 0; n < target; i++) {
        const char *p = parts[i % nparts];
        size_t l = strlen(p);
        memcpy(t + n, p, l);
        n += l;
    }
    t[target] = 0;
    /* Do not cut a word in half at the end. */
    return t;
}

static void fill(rr_request *q, const mix *m) {
    rr_request_reset(q);
    rr_request_set_text(q, m->text, m->len);
    rr_request_set_attr(q, "tenant.tier", "enterprise");
    rr_request_set_bool(q, "user.authenticated", 1);
    if (m->evidence) {
        static const char e1[] = "To reset your password, open Settings, choose Security and click "
                                 "Reset password. A reset link is emailed to you within minutes.";
        static const char e2[] = "Two-factor authentication can be enabled under Security.";
        rr_request_add_evidence(q, "kb-12", e1, sizeof e1 - 1, 0.91);
        rr_request_add_evidence(q, "kb-40", e2, sizeof e2 - 1, 0.52);
    }
}

typedef struct {
    const rr_router *r;
    const mix *m;
    long n;
} thr_arg;

static void *thr_main(void *p) {
    thr_arg *a = p;
    rr_request *q = NULL;
    rr_decision *d = NULL;
    rr_request_new(&q, NULL);
    for (long i = 0; i < a->n; i++) {
        fill(q, a->m);
        if (rr_route(a->r, q, &d, NULL) != RR_OK)
            abort();
    }
    rr_decision_free(d);
    rr_request_free(q);
    return NULL;
}

static double throughput(const rr_router *r, const mix *m, int threads, long n) {
    pthread_t th[8];
    thr_arg args[8];
    uint64_t t0 = now_ns();
    for (int i = 0; i < threads; i++) {
        args[i] = (thr_arg){r, m, n};
        pthread_create(&th[i], NULL, thr_main, &args[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    return (double)(n * threads) / ((double)(now_ns() - t0) / 1e9);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median5(double *v) {
    qsort(v, 5, sizeof *v, cmp_d);
    return v[2];
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 20000;
    if (iters < 100)
        iters = 100;
    rr_allocator alloc = {RR_ALLOCATOR_VERSION, NULL, count_malloc, count_realloc, count_free};
    rr_router_options o = RR_ROUTER_OPTIONS_INIT;
    o.allocator = &alloc;
    rr_router *r = NULL;
    rr_error err = RR_ERROR_INIT;
    if (rr_router_new_default(&r, &o, &err) != RR_OK) {
        fprintf(stderr, "bench_route: %s\n", err.message);
        return 1;
    }
    static const char *const faq[] = {"How do I reset my password? I forgot it after the trip "
                                      "and the login page keeps asking me for it again."};
    static const char *const ticket[] = {
        "Hello team, our finance department noticed a double charge on invoice INV-20931 for "
        "the March billing cycle and we would like a refund of the duplicate amount. ",
        "The card used was 4111 1111 1111 1111 and the charge appeared twice on the statement "
        "dated 2024-03-04, each for 1,249.00 USD. ",
        "You can reach our accountant Maria Lopez at maria.lopez@example-corp.com or on "
        "+1 (415) 555-0134 during business hours, Pacific time. ",
        "We have been customers since 2019 and this is the first time this happened, so we "
        "assume it is a glitch in the payment processor rather than anything intentional. ",
        "Please confirm once the refund has been issued and send the credit note to the same "
        "address. Our VAT number is DE811907980 and the account id is ACME-2231. ",
        "Thanks in advance for sorting this out quickly, since our quarter closes on Friday "
        "and the auditors will ask about the discrepancy. "};
    static const char *const thread[] = {
        "Customer: The dashboard export keeps timing out when I select the full year. ",
        "Agent: Thanks for reporting this. Could you tell me which workspace you are using? ",
        "Customer: It is the EU analytics workspace, about 40 users, and the export is CSV. ",
        "Agent: I see several large reports there. Does a smaller date range work for you? ",
        "Customer: Yes, one quarter at a time works, but we need the whole year for audit. ",
        "Agent: Understood, I will check with engineering whether the limit can be raised. ",
        "Customer: Also the scheduled email with the weekly summary did not arrive Monday. "};
    mix mixes[3] = {{"faq_100B", NULL, 100, 1}, {"ticket_2KB_pii_regulated", NULL, 2048, 0},
                    {"thread_8KB", NULL, 8192, 0}};
    mixes[0].text = make_text(100, faq, 1);
    mixes[1].text = make_text(2048, ticket, 6);
    mixes[2].text = make_text(8192, thread, 7);

    printf("rr_route on the built-in policy (%s, fingerprint %s); %ld timed calls per mix\n\n",
           rr_router_policy_name(r), rr_router_fingerprint(r), iters);
    printf("%-26s %10s %10s %11s %11s %12s %12s %8s %10s %10s\n", "mix", "median_ns", "p99_ns",
           "floor_xxh3", "floor_memchr", "1thr_dec/s", "2thr_dec/s", "2thr/1thr", "allocs/call",
           "route");
    uint64_t *lat = malloc(sizeof *lat * (size_t)iters);
    for (int mi = 0; mi < 3; mi++) {
        const mix *m = &mixes[mi];
        rr_request *q = NULL;
        rr_decision *d = NULL;
        rr_request_new(&q, &alloc);
        for (int i = 0; i < 1000; i++) { /* warm-up */
            fill(q, m);
            rr_route(r, q, &d, NULL);
        }
        long a0 = atomic_load(&g_allocs);
        for (long i = 0; i < iters; i++) {
            fill(q, m);
            uint64_t t0 = now_ns();
            int rc = rr_route(r, q, &d, NULL);
            lat[i] = now_ns() - t0;
            if (rc != RR_OK)
                abort();
        }
        long allocs = atomic_load(&g_allocs) - a0;
        qsort(lat, (size_t)iters, sizeof *lat, cmp_u64);
        uint64_t med = lat[iters / 2], p99 = lat[iters * 99 / 100];
        /* Floor: the cheapest passes over the same bytes. */
        volatile uint64_t sink = 0;
        for (long i = 0; i < iters; i++) {
            uint64_t t0 = now_ns();
            sink += XXH3_64bits(m->text, m->len);
            lat[i] = now_ns() - t0;
        }
        qsort(lat, (size_t)iters, sizeof *lat, cmp_u64);
        uint64_t xx = lat[iters / 2];
        for (long i = 0; i < iters; i++) {
            uint64_t t0 = now_ns();
            sink += (uintptr_t)memchr(m->text, 0x01, m->len);
            lat[i] = now_ns() - t0;
        }
        qsort(lat, (size_t)iters, sizeof *lat, cmp_u64);
        uint64_t mc = lat[iters / 2];
        (void)sink;
        /* Throughput: 5 interleaved rounds of ~0.2 s each per thread count, medians, so a
         * burst of other work on the machine hits both counts alike. */
        long n = (long)(2e8 / (double)(med ? med : 1));
        double r1[5], r2[5];
        for (int k = 0; k < 5; k++) {
            r1[k] = throughput(r, m, 1, n);
            r2[k] = throughput(r, m, 2, n);
        }
        double t1 = median5(r1), t2 = median5(r2);
        printf("%-26s %10llu %10llu %11llu %12llu %12.0f %12.0f %8.2f %10.3f   %s\n", m->name,
               (unsigned long long)med, (unsigned long long)p99, (unsigned long long)xx,
               (unsigned long long)mc, t1, t2, t2 / t1, (double)allocs / (double)iters,
               rr_decision_route(d));
        rr_decision_free(d);
        rr_request_free(q);
    }
    printf("\n(timer overhead is included in each per-call figure; clock_gettime costs ~20 ns)\n");
    free(lat);
    for (int i = 0; i < 3; i++)
        free(mixes[i].text);
    rr_router_free(r);
    return 0;
}
