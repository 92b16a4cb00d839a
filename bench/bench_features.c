/* Benchmark of rr_text_features_extract on three realistic texts, beside the floor measured
 * in the same run over the same bytes: XXH3_64bits (a fast full read of the text) and a
 * memchr pass for a byte the text does not contain.
 *
 * Each sample times a batch of calls with a monotonic clock and divides by the batch size,
 * so the clock's own cost (~20 ns) does not swamp the 100-byte case; median and p99 are
 * taken over the samples. Usage: bench_features [samples] (default 5000). */
#include "features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const char faq[] =
    "How do I reset my password? The reset link in the email expired before I could use it.";

static const char ticket_head[] =
    "Subject: Refund request for order ORD-2024-118877 (double charge)\n"
    "\n"
    "Hello Support Team,\n"
    "\n"
    "My name is Jane Miller and I have been a customer of Acme Cloud since 2019. On "
    "2024-01-15 at 10:30 I placed order ORD-2024-118877 for the Pro plan (annual, $1,188.00) "
    "and my card was charged twice. The card ends in 1111; for reference the full number "
    "the checkout page showed was 4111 1111 1111 1111, expiry 12/27. I know I should not "
    "send that by e-mail, sorry.\n"
    "\n"
    "You can reach me at jane.miller@example.com or on my mobile +1 (415) 555-0132 between "
    "9 and 5 Pacific time. My office line is 020 7946 0958 when I am in London. If a bank "
    "transfer is easier, my IBAN is DE89 3704 0044 0532 0130 00 (Commerzbank, Berlin).\n"
    "\n"
    "The second charge shows as pending on my statement dated 2024-01-16 with reference "
    "TXN 99812-AB. I also noticed two logins from 203.0.113.45 and 2001:db8::8a2e:370:7334 "
    "that I do not recognise, so I reset my password and enabled two-factor "
    "authentication. Could you confirm whether those came from your side?\n"
    "\n"
    "For the tax form you asked for last year my SSN is 123-45-6789; please delete it once "
    "the form is filed. My account id is ACC-00017342 and the invoice number is "
    "INV/2024/00391.\n"
    "\n";

static const char ticket_tail[] =
    "What I need:\n"
    "1. A refund of the duplicate charge of $1,188.00 to the original card.\n"
    "2. Written confirmation that the annual plan is active until 2025-01-15.\n"
    "3. An explanation of the unknown logins listed above.\n"
    "\n"
    "I have attached screenshots of the statement and the two confirmation e-mails. "
    "Thanks in advance for your help, and please let me know if you need anything else "
    "from me to process this quickly.\n"
    "\n"
    "Best regards,\n"
    "Jane Miller\n"
    "Head of Operations, Miller & Sons Ltd.\n";

typedef struct sample_set {
    double *v;
    size_t n;
} sample_set;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(sample_set *s, double q) {
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    size_t i = (size_t)(q * (double)(s->n - 1) + 0.5);
    return s->v[i];
}

enum { OP_EXTRACT, OP_XXH3, OP_MEMCHR };

static volatile uint64_t sink;

static void run_op(int op, const char *t, size_t n) {
    static rr_pii_span spans[256];
    rr_text_features f;
    size_t ns;
    switch (op) {
    case OP_EXTRACT:
        rr_text_features_extract(t, n, &f, spans, 256, &ns);
        sink += f.words + ns;
        break;
    case OP_XXH3:
        sink += XXH3_64bits(t, n);
        break;
    default:
        sink += (uintptr_t)memchr(t, '\x01', n);
        break;
    }
}

static void measure(const char *name, const char *t, size_t n, size_t samples) {
    static const char *const ops[] = {"rr_text_features_extract", "XXH3_64bits", "memchr"};
    size_t batch = n < 512 ? 32 : n < 4096 ? 8 : 2;
    double *v = malloc(samples * sizeof *v);
    if (!v)
        exit(1);
    for (int op = 0; op <= OP_MEMCHR; op++) {
        for (size_t w = 0; w < 200; w++)
            run_op(op, t, n);
        for (size_t s = 0; s < samples; s++) {
            uint64_t t0 = rr_now_ns();
            for (size_t b = 0; b < batch; b++)
                run_op(op, t, n);
            v[s] = (double)(rr_now_ns() - t0) / (double)batch;
        }
        sample_set set = {v, samples};
        double med = pct(&set, 0.5), p99 = pct(&set, 0.99);
        printf("%-14s %6zu B  %-26s median %8.1f ns  p99 %8.1f ns  (%.2f ns/B)\n", name, n,
               ops[op], med, p99, med / (double)n);
    }
    free(v);
}

static void print_features(const char *name, const char *t, size_t n) {
    rr_text_features f;
    rr_text_features_extract(t, n, &f, NULL, 0, NULL);
    printf("%-14s words %u numbers %u entities %u lines %u tokens %u pii %u (", name, f.words,
           f.numbers, f.entities, f.lines, f.tokens, f.pii_total);
    for (int i = 0; i < RR_PII__COUNT; i++)
        printf("%s%s %u", i ? ", " : "", rr_pii_name((rr_pii_type)i), f.pii[i]);
    printf(")\n");
}

int main(int argc, char **argv) {
    size_t samples = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 5000;
    if (samples < 10)
        samples = 10;
    char ticket[4096], thread[16384];
    size_t tl = 0, hl = strlen(ticket_head), ttl = strlen(ticket_tail);
    memcpy(ticket, ticket_head, hl);
    memcpy(ticket + hl, ticket_tail, ttl);
    tl = hl + ttl;
    /* The thread: the ticket, quoted replies and a follow-up, about 8 KB. */
    size_t thl = 0;
    while (thl + tl + 2 < 8192) {
        memcpy(thread + thl, ticket, tl);
        thl += tl;
        thread[thl++] = '\n';
        thread[thl++] = '>';
    }
    printf("floor: XXH3_64bits and memchr over the same text, same run\n");
    print_features("faq", faq, strlen(faq));
    print_features("ticket", ticket, tl);
    print_features("thread", thread, thl);
    measure("faq", faq, strlen(faq), samples);
    measure("ticket", ticket, tl, samples);
    measure("thread", thread, thl, samples);
    return 0;
}
