/* Benchmark of rr_text_features_extract on a 100-byte FAQ question, a 2 KB support ticket
 * with PII, an 8 KB support thread, and a PII-dense stress ticket, beside the floor measured
 * in the same run over the same bytes: XXH3_64bits (one fast read of the text) and a memchr
 * pass for a byte the text does not contain.
 *
 * Each sample times a batch of calls with a monotonic clock and divides by the batch size, so
 * the clock's own cost (~20 ns) does not swamp the 100-byte case; median and p99 are over
 * the samples. Usage: bench_features [samples] (default 5000). */
#include "features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const char faq[] =
    "How do I reset my password? The reset link in the confirmation email expired before I could "
    "use it.";

/* A customer's ticket: mostly prose, a few numbers, an order id, e-mail, phone, card. */
static const char ticket[] =
    "Subject: Charged twice for my annual subscription\n"
    "\n"
    "Hi there,\n"
    "\n"
    "I hope you can help me with a billing problem. Last week I upgraded my account from the "
    "monthly plan to the annual Pro plan, and when I checked my bank statement this morning "
    "I noticed that I have been charged twice for the same upgrade. Both charges show the "
    "same amount ($1,188.00) and were made within a couple of minutes of each other on "
    "2024-01-15, so I assume the checkout page submitted the payment twice when it seemed "
    "to hang.\n"
    "\n"
    "The order number in the confirmation e-mail is ORD-2024-118877 and the card I used is "
    "4111 1111 1111 1111 (I know I should not send it by e-mail, sorry). I only received "
    "one confirmation e-mail, which is why I think the second charge is a mistake rather "
    "than a second order. I have not used any of the new features yet, so nothing should "
    "depend on the second payment.\n"
    "\n"
    "Could you please refund the duplicate charge to the original card? If you need to "
    "verify my identity first, you can reach me by e-mail at maria.gonzalez@example.com or "
    "by phone on +1 (415) 555-0132 during office hours, Pacific time. I am happy to send a "
    "screenshot of the bank statement if that helps your team.\n"
    "\n"
    "I would also like to know whether the annual plan will renew automatically next year "
    "and, if so, how I can switch that off in the account settings. I could not find the "
    "option on the billing page, and the help article I found seems to describe an older "
    "version of the settings screen. When I tried to log in from the office today the page "
    "said my address 203.0.113.45 had been blocked for a few minutes after too many "
    "attempts, which did not help either.\n"
    "\n"
    "If it makes any difference, the duplicate charge also triggered an overdraft fee from my "
    "bank, so I would appreciate it if the refund could be handled as soon as possible.\n"
    "\n"
    "Thank you very much for your help, and sorry for the long message. I have been a "
    "customer for several years and have always been happy with the service, so I hope this "
    "can be sorted out quickly.\n"
    "\n"
    "Best regards,\n"
    "Maria Gonzalez\n"
    "Operations Manager, Gonzalez & Partners\n";

/* The agent's replies around the ticket, quoted back and forth, make the thread. */
static const char reply[] =
    "\n-- Agent reply --\n"
    "Hello Maria,\n"
    "\n"
    "Thank you for contacting us and for the detailed description. I can see both charges "
    "on order ORD-2024-118877 and I have started the refund of the duplicate payment; it "
    "should appear on your statement within five to seven business days, depending on your "
    "bank. You will receive a confirmation e-mail once the refund has been processed.\n"
    "\n"
    "To switch off the automatic renewal, open Settings, then Billing, then Subscription, "
    "and clear the Renew automatically box. If you do not see the box, please send us a "
    "screenshot of the page and we will look into it. The block on your address was lifted "
    "automatically after fifteen minutes.\n"
    "\n"
    "Kind regards,\n"
    "Sam from Customer Support\n"
    "\n> ";

/* Every PII type, dates, amounts and identifiers in 1.7 KB: a stress case, not a typical
 * ticket. */
static const char dense[] =
    "Subject: Refund request for order ORD-2024-118877 (double charge)\n\nHello Support "
    "Team,\n\nMy name is Jane Miller and I have been a customer of Acme Cloud since 2019. On "
    "2024-01-15 at 10:30 I placed order ORD-2024-118877 for the Pro plan (annual, $1,188.00) "
    "and my card was charged twice. The card ends in 1111; for reference the full number the "
    "checkout page showed was 4111 1111 1111 1111, expiry 12/27. I know I should not send "
    "that by e-mail, sorry.\n\nYou can reach me at jane.miller@example.com or on my mobile "
    "+1 (415) 555-0132 between 9 and 5 Pacific time. My office line is 020 7946 0958 when I "
    "am in London. If a bank transfer is easier, my IBAN is DE89 3704 0044 0532 0130 00 "
    "(Commerzbank, Berlin).\n\nThe second charge shows as pending on my statement dated "
    "2024-01-16 with reference TXN 99812-AB. I also noticed two logins from 203.0.113.45 and "
    "2001:db8::8a2e:370:7334 that I do not recognise, so I reset my password and enabled "
    "two-factor authentication. Could you confirm whether those came from your side?\n\nFor "
    "the tax form you asked for last year my SSN is 123-45-6789; please delete it once the "
    "form is filed. My account id is ACC-00017342 and the invoice number is "
    "INV/2024/00391.\n\nWhat I need:\n1. A refund of the duplicate charge of $1,188.00 to the "
    "original card.\n2. Written confirmation that the annual plan is active until "
    "2025-01-15.\n3. An explanation of the unknown logins listed above.\n\nI have attached "
    "screenshots of the statement and the two confirmation e-mails. Thanks in advance for "
    "your help, and please let me know if you need anything else from me to process this "
    "quickly.\n\nBest regards,\nJane Miller\nHead of Operations, Miller & Sons Ltd.\n";

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
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
    static const char *const ops[] = {"rr_text_features_extract", "XXH3_64bits (floor)",
                                      "memchr (floor)"};
    size_t batch = n < 512 ? 32 : n < 4096 ? 8 : 2;
    double *v = malloc(samples * sizeof *v);
    if (!v)
        exit(1);
    for (int op = 0; op <= OP_MEMCHR; op++) {
        for (size_t w = 0; w < 500; w++)
            run_op(op, t, n);
        for (size_t s = 0; s < samples; s++) {
            uint64_t t0 = rr_now_ns();
            for (size_t b = 0; b < batch; b++)
                run_op(op, t, n);
            v[s] = (double)(rr_now_ns() - t0) / (double)batch;
        }
        qsort(v, samples, sizeof *v, cmp_double);
        double med = v[samples / 2], p99 = v[(size_t)((double)(samples - 1) * 0.99)];
        printf("%-7s %5zu B  %-25s median %7.1f ns  p99 %7.1f ns  %5.3f ns/B\n", name, n, ops[op],
               med, p99, med / (double)n);
    }
    free(v);
}

static void describe(const char *name, const char *t, size_t n) {
    rr_text_features f;
    rr_text_features_extract(t, n, &f, NULL, 0, NULL);
    printf("%-7s %5zu B  words %u numbers %u entities %u lines %u tokens %u pii %u (", name, n,
           f.words, f.numbers, f.entities, f.lines, f.tokens, f.pii_total);
    for (int i = 0; i < RR_PII__COUNT; i++)
        printf("%s%s %u", i ? ", " : "", rr_pii_name((rr_pii_type)i), f.pii[i]);
    printf(")\n");
}

int main(int argc, char **argv) {
    size_t samples = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 5000;
    if (samples < 10)
        samples = 10;
    static char thread[16384];
    size_t tl = strlen(ticket), rl = strlen(reply), hl = 0;
    while (hl < 8192) { /* ticket, reply, the ticket quoted again, ..., cut at 8 KB */
        memcpy(thread + hl, ticket, tl);
        hl += tl;
        memcpy(thread + hl, reply, rl);
        hl += rl;
    }
    hl = 8192;
    const char *impl = rr_text_features_impl_available(RR_FEATURES_AVX512) ? "AVX-512BW"
                       : rr_text_features_impl_available(RR_FEATURES_AVX2) ? "AVX2"
                                                                           : "portable";
    printf("mask builder: %s; floor = XXH3_64bits and memchr over the same bytes, same run\n",
           impl);
    describe("faq", faq, strlen(faq));
    describe("ticket", ticket, tl);
    describe("thread", thread, hl);
    describe("dense", dense, strlen(dense));
    measure("faq", faq, strlen(faq), samples);
    measure("ticket", ticket, tl, samples);
    measure("thread", thread, hl, samples);
    measure("dense", dense, strlen(dense), samples);
    return 0;
}
