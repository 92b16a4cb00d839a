/* Tests of lib/features.c: each PII detector (positives, near misses, exact spans), the text
 * counts, hostile inputs, every mask builder against the word-by-word reference, a labelled
 * synthetic evaluation, and the term set / content terms / coverage declared in features.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features.h"

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

#define MAXSP 512

static const int impls[] = {RR_FEATURES_REFERENCE, RR_FEATURES_PORTABLE, RR_FEATURES_AVX2,
                            RR_FEATURES_AVX512};

typedef struct result {
    rr_text_features f;
    rr_pii_span sp[MAXSP];
    size_t n;
} result;

static void print_features(const char *tag, const result *r) {
    const rr_text_features *f = &r->f;
    fprintf(stderr,
            "%s: bytes %u chars %u words %u tokens %u numbers %u questions %u entities %u "
            "lines %u pii %u:",
            tag, f->bytes, f->chars, f->words, f->tokens, f->numbers, f->questions, f->entities,
            f->lines, f->pii_total);
    for (size_t i = 0; i < r->n; i++)
        fprintf(stderr, " %s[%u,%u)", rr_pii_name((rr_pii_type)r->sp[i].type), r->sp[i].start,
                r->sp[i].end);
    fprintf(stderr, "\n");
}

/* Extract with every implementation available here; all must equal the reference. */
static void extract(const char *t, size_t len, result *out) {
    rr_text_features_extract_impl(RR_FEATURES_REFERENCE, t, len, &out->f, out->sp, MAXSP, &out->n);
    for (size_t i = 1; i < sizeof impls / sizeof impls[0]; i++) {
        if (!rr_text_features_impl_available(impls[i]))
            continue;
        result r;
        rr_text_features_extract_impl(impls[i], t, len, &r.f, r.sp, MAXSP, &r.n);
        if (memcmp(&r.f, &out->f, sizeof r.f) || r.n != out->n ||
            memcmp(r.sp, out->sp, r.n * sizeof r.sp[0])) {
            fprintf(stderr, "impl %d differs from the reference on %zu bytes: %.*s\n", impls[i],
                    len, len > 300 ? 300 : (int)len, t);
            print_features("reference", out);
            print_features("impl", &r);
            fail();
        }
    }
    result d; /* and the public entry point */
    rr_text_features_extract(t, len, &d.f, d.sp, MAXSP, &d.n);
    assert_memory_equal(&d.f, &out->f, sizeof d.f);
}

static result R; /* one at a time: the tests are not threaded */

static const result *run(const char *t) {
    extract(t, strlen(t), &R);
    return &R;
}

static int type_of(const char *name) {
    for (int i = 0; i < RR_PII__COUNT; i++)
        if (!strcmp(rr_pii_name((rr_pii_type)i), name))
            return i;
    return -1;
}

/* `expect`: "type:substring" items separated by '|' ("" for none). The detections must be
 * exactly these, in order, each spanning the first occurrence of its substring after the
 * previous span. */
static void expect_pii(const char *text, const char *expect) {
    const result *r = run(text);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", expect);
    size_t k = 0, from = 0;
    for (char *item = strtok(buf, "|"); item; item = strtok(NULL, "|"), k++) {
        char *colon = strchr(item, ':');
        assert_non_null(colon);
        *colon = 0;
        const char *at = strstr(text + from, colon + 1);
        assert_non_null(at);
        size_t start = (size_t)(at - text), end = start + strlen(colon + 1);
        if (k >= r->n || (int)r->sp[k].type != type_of(item) || r->sp[k].start != start ||
            r->sp[k].end != end) {
            fprintf(stderr, "text: %s\nwanted %s [%zu,%zu) as detection %zu\n", text, item, start,
                    end, k);
            print_features("got", r);
            fail();
        }
        from = end;
    }
    if (r->n != k || r->f.pii_total != k) {
        fprintf(stderr, "text: %s\nwanted %zu detections\n", text, k);
        print_features("got", r);
        fail();
    }
}

/* ---- detectors ---------------------------------------------------------------------------- */

static void test_email_spans_and_near_misses(void **state) {
    (void)state;
    expect_pii("mail john.doe@example.com now", "email:john.doe@example.com");
    expect_pii("<a+b_c%d-e@sub.example.co.uk>.", "email:a+b_c%d-e@sub.example.co.uk");
    expect_pii("end of sentence x@y.io.", "email:x@y.io");
    expect_pii("“ana@example.org”", "email:ana@example.org");
    expect_pii("root@localhost", "");
    expect_pii("a@b.c", "");                 /* top-level domain of one letter */
    expect_pii("me@host.123", "");           /* numeric top-level domain */
    expect_pii("john..doe@example.com", ""); /* doubled dot in the local part */
    expect_pii("john.@example.com", "");
    expect_pii("a@-bad.com", "");
    expect_pii("x@@example.com", "");
    expect_pii("@handle and @ alone", "");
}

static void test_email_wins_over_digits_in_local_part(void **state) {
    (void)state;
    expect_pii("write 555-123-4567@example.com", "email:555-123-4567@example.com");
    expect_pii("10.0.0.1@example.com", "email:10.0.0.1@example.com");
}

static void test_phone_shapes(void **state) {
    (void)state;
    expect_pii("call +1 (555) 123-4567 today", "phone:+1 (555) 123-4567");
    expect_pii("call 555-123-4567.", "phone:555-123-4567");
    expect_pii("call 555.123.4567", "phone:555.123.4567");
    expect_pii("call (555) 123-4567", "phone:(555) 123-4567");
    expect_pii("call (555)123-4567", "phone:(555)123-4567");
    expect_pii("London 020 7946 0958", "phone:020 7946 0958");
    expect_pii("London +44 20 7946 0958", "phone:+44 20 7946 0958");
    expect_pii("London +44 (0)20 7946 0958", "phone:+44 (0)20 7946 0958");
    expect_pii("Paris 06 12 34 56 78", "phone:06 12 34 56 78");
    expect_pii("NL 06-12345678", "phone:06-12345678");
    expect_pii("toll free 1 800 555 0199", "phone:1 800 555 0199");
    expect_pii("local 555-1234", "phone:555-1234");
    expect_pii("intl +4915112345678", "phone:+4915112345678");
    expect_pii("a 555-123-4567, b 555-987-6543", "phone:555-123-4567|phone:555-987-6543");
    expect_pii("total 12 555 123 4567", "phone:555 123 4567");
}

static void test_dates_times_and_numbers_are_not_phones(void **state) {
    (void)state;
    expect_pii("on 2024-01-15 at 10:30", "");
    expect_pii("on 15.01.2024 and 01/15/2024 and 15-01-2024", "");
    expect_pii("at 10:30:45 or 23:59", "");
    expect_pii("in 2024 and 1999", "");
    expect_pii("order 12345678 and #55512345", "");
    expect_pii("ORD-5551234567 and INV-5551234567", "");
    expect_pii("population 1.234.567 or 12 345 678", "");
    expect_pii("pi is 3.14159265", "");
    expect_pii("version 1.2.3", "");
    expect_pii("range 100-200", "");
    expect_pii("2024-01-15 555-123-4567", "phone:555-123-4567");
}

static void test_card_luhn(void **state) {
    (void)state;
    expect_pii("card 4111 1111 1111 1111 exp 12/27", "card:4111 1111 1111 1111");
    expect_pii("card 4111-1111-1111-1111", "card:4111-1111-1111-1111");
    expect_pii("card 4111111111111111.", "card:4111111111111111");
    expect_pii("amex 3782 822463 10005", "card:3782 822463 10005");
    expect_pii("amex 378282246310005", "card:378282246310005");
    expect_pii("bad 4111 1111 1111 1112", ""); /* Luhn fails: neither card nor phone */
    expect_pii("bad 4111111111111112", "");
    expect_pii("mixed 4111 1111-1111 1111", "");
    expect_pii("cards 4111111111111111 and 5500 0000 0000 0004",
               "card:4111111111111111|card:5500 0000 0000 0004");
}

static void test_iban_mod97(void **state) {
    (void)state;
    expect_pii("IBAN DE89 3704 0044 0532 0130 00 thanks", "iban:DE89 3704 0044 0532 0130 00");
    expect_pii("IBAN GB82WEST12345698765432.", "iban:GB82WEST12345698765432");
    expect_pii("IBAN GB82 WEST 1234 5698 7654 32", "iban:GB82 WEST 1234 5698 7654 32");
    expect_pii("NO93 8601 1117 947 ok", "iban:NO93 8601 1117 947");
    expect_pii("bad DE89 3704 0044 0532 0130 01", ""); /* checksum fails; no card either */
    expect_pii("bad GB82WEST12345698765433", "");
    expect_pii("short DE89 3704", "");
}

static void test_ssn_ranges(void **state) {
    (void)state;
    expect_pii("SSN 123-45-6789.", "ssn:123-45-6789");
    expect_pii("SSN 000-12-3456", "");
    expect_pii("SSN 666-12-3456", "");
    expect_pii("SSN 900-12-3456 and 999-12-3456", "");
    expect_pii("SSN 123-00-4567", "");
    expect_pii("SSN 123-45-0000", "");
    expect_pii("not 123-45-6789-1 nor 12-123-45-6789", "");
    expect_pii("not 123 45 6789", "");
}

static void test_ipv4_octets(void **state) {
    (void)state;
    expect_pii("from 192.168.1.1.", "ipv4:192.168.1.1");
    expect_pii("from 10.0.0.255:8080", "ipv4:10.0.0.255");
    expect_pii("from http://203.0.113.45/x", "ipv4:203.0.113.45");
    expect_pii("not 256.1.1.1", "");
    expect_pii("not 1.2.3.4.5", "");
    expect_pii("not 01.2.3.4", "");
    expect_pii("not 1.2.3", "");
    expect_pii("not v1.2.3.4", "");
}

static void test_ipv6_forms(void **state) {
    (void)state;
    expect_pii("addr 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok",
               "ipv6:2001:0db8:85a3:0000:0000:8a2e:0370:7334");
    expect_pii("addr 2001:db8::8a2e:370:7334.", "ipv6:2001:db8::8a2e:370:7334");
    expect_pii("addr fe80::1, ::1 and ::ffff:10.0.0.1",
               "ipv6:fe80::1|ipv6:::1|ipv6:::ffff:10.0.0.1");
    expect_pii("addr FE80::A1", "ipv6:FE80::A1");
    expect_pii("time 10:30:00", "");
    expect_pii("mac 00:1a:2b:3c:4d:5e", "");
    expect_pii("code dead::beef and std::vector and add::", "");
    expect_pii("bad 1::2::3 and 1:2:3:4:5:6:7:8:9", "");
    expect_pii("bad 12345::1", "");
}

static void test_spans_are_ordered_and_counts_exceed_max_spans(void **state) {
    (void)state;
    const char *t = "a@example.com 192.168.0.1 b@example.com 10.1.1.1 123-45-6789";
    rr_text_features f;
    rr_pii_span sp[2];
    size_t n = 99;
    rr_text_features_extract(t, strlen(t), &f, sp, 2, &n);
    assert_int_equal(n, 2);
    assert_int_equal(f.pii_total, 5);
    assert_int_equal(f.pii[RR_PII_EMAIL], 2);
    assert_int_equal(f.pii[RR_PII_IPV4], 2);
    assert_int_equal(f.pii[RR_PII_SSN], 1);
    assert_int_equal(sp[0].type, RR_PII_EMAIL);
    assert_int_equal(sp[1].type, RR_PII_IPV4);
    assert_true(sp[0].end <= sp[1].start);
    rr_text_features_extract(t, strlen(t), &f, NULL, 0, NULL); /* no span output at all */
    assert_int_equal(f.pii_total, 5);
}

/* ---- counts --------------------------------------------------------------------------------- */

static void test_counts_on_small_texts(void **state) {
    (void)state;
    const result *r = run("How do I reset my password? It fails.\nThanks!");
    assert_int_equal(r->f.bytes, 45);
    assert_int_equal(r->f.chars, 45);
    assert_int_equal(r->f.words, 9);
    assert_int_equal(r->f.questions, 1);
    assert_int_equal(r->f.lines, 2);
    assert_int_equal(r->f.numbers, 0);
    assert_int_equal(r->f.entities, 0); /* How, It, Thanks start sentences; I is one letter */
    assert_int_equal(r->f.tokens, 12);  /* ceil(45 / 4) */

    r = run("Paid $1,234.56 on 2024-01-15, 3 items.");
    assert_int_equal(r->f.numbers, 5); /* 1,234.56 once; 2024, 01, 15; 3 */
    assert_int_equal(r->f.words, 10);

    r = run("naïve café 東京\n");
    assert_int_equal(r->f.bytes, 20);
    assert_int_equal(r->f.chars, 14);
    assert_int_equal(r->f.words, 3);
    assert_int_equal(r->f.lines, 1);
    assert_int_equal(r->f.tokens, 4);

    r = run("a b c d e f g h i j");
    assert_int_equal(r->f.tokens, 10); /* at least one token per word */
}

static void test_entities(void **state) {
    (void)state;
    assert_int_equal(run("Hello there. I met John Smith and Acme Corp in Paris.")->f.entities, 3);
    assert_int_equal(run("we saw \"Paris\" (France) today")->f.entities, 2);
    assert_int_equal(run("my order ORD-12345 and ticket A4 and 2nd try")->f.entities, 3);
    assert_int_equal(run("order ORD-12345 arrived")->f.entities, 1); /* name, not twice */
    assert_int_equal(run("see https://example.com/Foo_(Bar) or www.example.org now")->f.entities,
                     2);
    assert_int_equal(run("ping @support or mail a@b.co")->f.entities, 1);
    assert_int_equal(run("New York. Boston\nDenver")->f.entities, 1);  /* York only */
    assert_int_equal(run("x-Ray and foo_Bar and USA")->f.entities, 1); /* USA */
    /* Jane Miller; IBAN GB82 WEST (one run of names; GB82 is not also an identifier) */
    assert_int_equal(run("dear Jane Miller, IBAN GB82 WEST 1234 5698 7654 32")->f.entities, 2);
    assert_int_equal(run("write to Jane.Doe@example.com")->f.entities, 1);       /* Jane */
    assert_int_equal(run("Visit Https://example.com/(Foo) now")->f.entities, 1); /* the URL */
}

static void test_token_estimate_formula(void **state) {
    (void)state;
    assert_int_equal(rr_token_estimate(0, 0), 0);
    assert_int_equal(rr_token_estimate(1, 0), 1);
    assert_int_equal(rr_token_estimate(8, 1), 2);
    assert_int_equal(rr_token_estimate(9, 1), 3);
    assert_int_equal(rr_token_estimate(9, 7), 7);
    assert_int_equal(rr_token_estimate(UINT32_MAX, 0), 1073741824u);
}

static void test_pii_names(void **state) {
    (void)state;
    static const char *const want[] = {"email", "phone", "card", "iban", "ssn", "ipv4", "ipv6"};
    for (int i = 0; i < RR_PII__COUNT; i++)
        assert_string_equal(rr_pii_name((rr_pii_type)i), want[i]);
    assert_string_equal(rr_pii_name(RR_PII__COUNT), "unknown");
}

/* ---- hostile input ---------------------------------------------------------------------- */

static void test_nul_bytes_are_whitespace(void **state) {
    (void)state;
    static const char t[] = "one\0two\0\0Three 555\0"
                            "123\0"
                            "4567";
    result r;
    extract(t, sizeof t - 1, &r);
    assert_int_equal(r.f.words, 6);
    assert_int_equal(r.f.numbers, 3);
    assert_int_equal(r.f.pii_total, 0); /* NUL is not a phone separator */
    assert_int_equal(r.f.entities, 1);  /* Three, after a NUL */
    static const char e[] = "\0a@example.com\0";
    extract(e, sizeof e - 1, &r);
    assert_int_equal(r.f.pii[RR_PII_EMAIL], 1);
    assert_int_equal(r.sp[0].start, 1);
    assert_int_equal(r.sp[0].end, 14);
}

static void test_invalid_looking_bytes_and_empty_text(void **state) {
    (void)state;
    static const char bad[] = "\xff\xfe\x80\x80 abc\xc3 \xed\xa0\x80 4111\xe2\x80\x8f"
                              "1111";
    result r;
    extract(bad, sizeof bad - 1, &r);
    assert_int_equal(r.f.bytes, sizeof bad - 1);
    assert_int_equal(r.f.chars, (sizeof bad - 1) - 6); /* minus the 0x80..0xBF bytes */
    assert_int_equal(r.f.words, 4); /* non-ASCII bytes, valid or not, are word bytes */
    extract("", 0, &r);
    assert_int_equal(r.f.bytes, 0);
    assert_int_equal(r.f.words, 0);
    assert_int_equal(r.f.lines, 0);
    assert_int_equal(r.n, 0);
    extract(NULL, 0, &r);
    assert_int_equal(r.f.words, 0);
}

/* Every block edge: the same text at every offset inside a 64-byte block must count the same
 * and report the same spans, shifted. */
static void test_results_do_not_depend_on_block_alignment(void **state) {
    (void)state;
    const char *t = "Dear Jane Smith, call +1 (555) 123-4567 or 4111 1111 1111 1111; "
                    "ORD-2024-118877 www.example.com a@b.co 2001:db8::1 10.0.0.1 1,234.5 ";
    size_t n = strlen(t);
    result base, r;
    extract(t, n, &base);
    char buf[512];
    for (size_t pad = 1; pad < 130; pad++) {
        memset(buf, ' ', pad);
        memcpy(buf + pad, t, n);
        extract(buf, pad + n, &r);
        assert_int_equal(r.f.words, base.f.words);
        assert_int_equal(r.f.numbers, base.f.numbers);
        assert_int_equal(r.f.entities, base.f.entities);
        assert_int_equal(r.n, base.n);
        for (size_t i = 0; i < r.n; i++) {
            assert_int_equal(r.sp[i].type, base.sp[i].type);
            assert_int_equal(r.sp[i].start, base.sp[i].start + pad);
        }
    }
}

static double now_ms(void) {
    return (double)rr_now_ns() / 1e6;
}

/* 1 MB of shapes that would make a careless scanner quadratic: every implementation must
 * finish fast (and agree with the reference, which extract() checks). */
static void test_one_megabyte_inputs_stay_linear(void **state) {
    (void)state;
    static const char *const unit[] = {
        "1-",    "a@", "1 ",     "ab:", "(1) ",  "a-", "::",  "9",    "+1 ",     "1.", "Ab ", "w.",
        "DE89 ", "x",  "12:34:", "1, ", "4111 ", "é1", "?\n", "A-1_", "http://", " ",  "@a ", ".",
    };
    size_t n = 1 << 20;
    char *t = malloc(n);
    assert_non_null(t);
    for (size_t u = 0; u < sizeof unit / sizeof unit[0]; u++) {
        size_t l = strlen(unit[u]);
        for (size_t i = 0; i < n; i++)
            t[i] = unit[u][i % l];
        double t0 = now_ms();
        result *r = malloc(sizeof *r);
        assert_non_null(r);
        extract(t, n, r);
        double ms = now_ms() - t0;
        if (ms > 2000) {
            fprintf(stderr, "unit \"%s\": %.0f ms\n", unit[u], ms);
            fail();
        }
        assert_int_equal(r->f.bytes, n);
        free(r);
    }
    free(t);
}

/* ---- differential: random token soup, every builder against the reference --------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const char *const soup[] = {
    "the",
    "Refund",
    "I",
    "John",
    "Smith",
    "ORD-",
    "12345",
    "2024-01-15",
    "10:30",
    "+1",
    "(555)",
    "123-4567",
    "555",
    "4111",
    "1111",
    "4111111111111111",
    "DE89",
    "3704",
    "0044",
    "0532",
    "0130",
    "00",
    "GB82WEST12345698765432",
    "123-45-6789",
    "000-12-3456",
    "192.168.1.1",
    "256.1.1.1",
    "fe80::1",
    "2001:db8::",
    "::1",
    "a@b.co",
    "x.y@ex.com",
    "@h",
    "https://x.io/A",
    "www.",
    "w",
    ".",
    ",",
    "!",
    "?",
    "\n",
    " ",
    " ",
    " ",
    "  ",
    "-",
    "_",
    ":",
    "::",
    "(",
    ")",
    "\"",
    "'",
    "[",
    "<",
    "+",
    "@",
    "1",
    "12",
    "1,234.5",
    "3.14",
    "é",
    "東京",
    "\xe2\x80\x9c",
    "\xff",
    "\0",
    "A4",
    "x-Ray",
    "USA",
    "e-mail",
    "7",
    "020",
    "7946",
    "0958",
    "06",
    "12",
    "34",
    "56",
    "78",
    "ff",
    "dead",
    "beef",
    "1.2.3.4.5",
    "99",
    "Ab",
    "aB",
    "Zz9",
    "\t",
    "\r\n",
    "www.example.com",
    "http",
    "s3",
    "ftp://",
    "0x1F",
};

static void test_every_builder_matches_the_reference_on_random_text(void **state) {
    (void)state;
    static char t[4096];
    result r;
    for (int iter = 0; iter < 4000; iter++) {
        size_t n = 0, want = rnd(iter < 3000 ? 200 : 4000);
        while (n < want) {
            const char *w = soup[rnd(sizeof soup / sizeof soup[0])];
            size_t l = w[0] ? strlen(w) : 1;
            if (n + l > sizeof t)
                break;
            memcpy(t + n, w, l);
            n += l;
        }
        extract(t, n, &r); /* fails on any difference */
    }
}

/* ---- labelled evaluation ------------------------------------------------------------------ */

typedef struct labelled {
    const char *value;
    int type; /* -1: must not be detected */
} labelled;

static const labelled positives[] = {
    {"jane.miller@example.com", RR_PII_EMAIL},
    {"ops+alerts@mail.example.org", RR_PII_EMAIL},
    {"+1 (415) 555-0132", RR_PII_PHONE},
    {"020 7946 0958", RR_PII_PHONE},
    {"555-123-4567", RR_PII_PHONE},
    {"+49 30 1234567", RR_PII_PHONE},
    {"4111 1111 1111 1111", RR_PII_CARD},
    {"5500-0000-0000-0004", RR_PII_CARD},
    {"378282246310005", RR_PII_CARD},
    {"DE89 3704 0044 0532 0130 00", RR_PII_IBAN},
    {"GB82WEST12345698765432", RR_PII_IBAN},
    {"FR1420041010050500013M02606", RR_PII_IBAN},
    {"123-45-6789", RR_PII_SSN},
    {"078-05-1120", RR_PII_SSN},
    {"203.0.113.45", RR_PII_IPV4},
    {"10.0.0.1", RR_PII_IPV4},
    {"2001:db8::8a2e:370:7334", RR_PII_IPV6},
    {"fe80::1", RR_PII_IPV6},
};

static const labelled negatives[] = {
    {"2024-01-15", -1},
    {"15.01.2024", -1},
    {"10:30:45", -1},
    {"ORD-2024-118877", -1},
    {"12345678", -1},
    {"4111 1111 1111 1112", -1},
    {"DE89 3704 0044 0532 0130 01", -1},
    {"000-12-3456", -1},
    {"666-12-3456", -1},
    {"256.1.1.1", -1},
    {"1.2.3.4.5", -1},
    {"00:1a:2b:3c:4d:5e", -1},
    {"user@localhost", -1},
    {"3.14159265", -1},
    {"1.234.567", -1},
};

static const char *const frames[] = {
    "Please contact %s about this.",
    "%s",
    "Value: %s\n",
    "(%s)",
    "On 2019-03-04 the customer wrote \"%s\" and left.",
    "Hi Team,\n\nmy reference is %s, thanks!",
};

static void test_labelled_synthetic_set(void **state) {
    (void)state;
    int tp[RR_PII__COUNT] = {0}, fp[RR_PII__COUNT] = {0}, fn[RR_PII__COUNT] = {0};
    char t[256];
    size_t npos = sizeof positives / sizeof positives[0];
    size_t nneg = sizeof negatives / sizeof negatives[0];
    for (size_t fi = 0; fi < sizeof frames / sizeof frames[0]; fi++) {
        for (size_t i = 0; i < npos + nneg; i++) {
            const labelled *l = i < npos ? &positives[i] : &negatives[i - npos];
            snprintf(t, sizeof t, frames[fi], l->value);
            const result *r = run(t);
            size_t start = (size_t)(strstr(t, l->value) - t), end = start + strlen(l->value);
            for (size_t k = 0; k < r->n; k++) {
                bool hit =
                    (int)r->sp[k].type == l->type && r->sp[k].start == start && r->sp[k].end == end;
                if (hit)
                    tp[l->type]++;
                else
                    fp[r->sp[k].type]++;
            }
            bool found = false;
            for (size_t k = 0; k < r->n; k++)
                found |= (int)r->sp[k].type == l->type && r->sp[k].start == start;
            if (l->type >= 0 && !found)
                fn[l->type]++;
        }
    }
    fprintf(stderr, "%-6s %4s %4s %4s %9s %6s\n", "type", "tp", "fp", "fn", "precision", "recall");
    for (int i = 0; i < RR_PII__COUNT; i++) {
        double p = tp[i] + fp[i] ? (double)tp[i] / (tp[i] + fp[i]) : 1;
        double rc = tp[i] + fn[i] ? (double)tp[i] / (tp[i] + fn[i]) : 1;
        fprintf(stderr, "%-6s %4d %4d %4d %9.3f %6.3f\n", rr_pii_name((rr_pii_type)i), tp[i], fp[i],
                fn[i], p, rc);
        /* exact expectation: every labelled value found with its exact span, nothing else */
        assert_int_equal(fp[i], 0);
        assert_int_equal(fn[i], 0);
    }
    int want[RR_PII__COUNT] = {0};
    for (size_t i = 0; i < npos; i++)
        want[positives[i].type] += (int)(sizeof frames / sizeof frames[0]);
    for (int i = 0; i < RR_PII__COUNT; i++)
        assert_int_equal(tp[i], want[i]);
}

/* ---- term sets, content terms, coverage -------------------------------------------------- */

typedef struct budget {
    int left; /* allocations that succeed before every later one fails */
} budget;

static void *budget_malloc(size_t n, void *ud) {
    budget *b = ud;
    return b->left-- > 0 ? malloc(n) : NULL;
}
static void *budget_realloc(void *p, size_t n, void *ud) {
    budget *b = ud;
    return b->left-- > 0 ? realloc(p, n) : NULL;
}
static void budget_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

static void test_termset_grows_and_survives_failing_allocator(void **state) {
    (void)state;
    budget bud = {2};
    rr_alloc a = {budget_malloc, budget_realloc, budget_free, &bud};
    rr_termset s;
    rr_termset_init(&s, &a);
    assert_false(rr_termset_has(&s, 42));
    size_t added = 0;
    for (uint64_t h = 1; h <= 10000; h++) {
        if (!rr_termset_add(&s, h * 0x9E3779B97F4A7C15ull))
            break;
        added++;
        assert_true(s.cap && (s.cap & (s.cap - 1)) == 0);
        assert_true(s.n * 2 <= s.cap);
    }
    assert_true(added > 0 && added < 10000); /* the third allocation failed */
    assert_int_equal(s.n, added);
    for (uint64_t h = 1; h <= added; h++) /* nothing lost by the failed growth */
        assert_true(rr_termset_has(&s, h * 0x9E3779B97F4A7C15ull));
    assert_false(rr_termset_add(&s, 0xDEADBEEFull) && s.n * 2 > s.cap);
    uint64_t *slots = s.slots;
    size_t cap = s.cap;
    rr_termset_clear(&s);
    assert_int_equal(s.n, 0);
    assert_ptr_equal(s.slots, slots); /* clear keeps the memory */
    assert_int_equal(s.cap, cap);
    assert_false(rr_termset_has(&s, 1 * 0x9E3779B97F4A7C15ull));
    assert_true(rr_termset_add(&s, 0)); /* 0 is stored as 1, not as "empty" */
    assert_true(rr_termset_has(&s, 0));
    assert_true(rr_termset_has(&s, 1));
    assert_int_equal(s.n, 1);
    rr_termset_free(&s);
    rr_termset_free(&s); /* twice is harmless */
}

typedef struct terms {
    char buf[16][32];
    uint64_t h[16];
    size_t n;
} terms;

static void collect(void *ud, uint64_t hash, const char *term, size_t len) {
    terms *t = ud;
    assert_int_not_equal(hash, 0);
    if (t->n < 16) {
        snprintf(t->buf[t->n], sizeof t->buf[0], "%.*s", (int)len, term);
        t->h[t->n++] = hash;
    }
}

static void test_content_terms_skip_stop_words_and_keep_numbers(void **state) {
    (void)state;
    terms t = {.n = 0};
    const char *s = "The refund for ORDER 7 is on its way, an ok Refund!";
    rr_content_terms(s, strlen(s), collect, &t);
    assert_int_equal(t.n, 4);
    assert_string_equal(t.buf[0], "refund");
    assert_string_equal(t.buf[1], "ORDER");
    assert_string_equal(t.buf[2], "7");
    assert_string_equal(t.buf[3], "Refund");
    assert_true(t.h[0] == t.h[3]); /* ASCII-lowercased before hashing */
    assert_true(t.h[1] == XXH3_64bits("order", 5));
}

static void test_coverage_on_small_examples(void **state) {
    (void)state;
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_termset ev, req;
    rr_termset_init(&ev, &a);
    rr_termset_init(&req, &a);
    const char *q = "Where is the refund for order 12345?";
    const char *e1 = "Refunds: order 12345 was refunded on Monday.";
    const char *e2 = "The refund reaches the card in five days.";
    const char *evs[] = {e1, e2};
    size_t lens[] = {strlen(e1), strlen(e2)};
    /* request terms: refund, order, 12345 (where/is/the/for are stop words or short) */
    assert_true(rr_coverage(q, strlen(q), evs, lens, 2, &ev, &req) == 1.0);
    double c = rr_coverage(q, strlen(q), evs, lens, 1, &ev, &req);
    assert_true(c > 0.66 && c < 0.67); /* order, 12345 of 3 ("Refunds" is another term) */
    assert_true(rr_coverage(q, strlen(q), evs, lens, 0, &ev, &req) == 0.0);
    assert_true(rr_coverage("the and for", 11, evs, lens, 2, &ev, &req) == 0.0);
    rr_termset_free(&ev);
    rr_termset_free(&req);

    budget bud = {0};
    rr_alloc fa = {budget_malloc, budget_realloc, budget_free, &bud};
    rr_termset_init(&ev, &fa);
    rr_termset_init(&req, &fa);
    assert_true(rr_coverage(q, strlen(q), evs, lens, 2, &ev, &req) < 0);
    rr_termset_free(&ev);
    rr_termset_free(&req);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_spans_and_near_misses),
        cmocka_unit_test(test_email_wins_over_digits_in_local_part),
        cmocka_unit_test(test_phone_shapes),
        cmocka_unit_test(test_dates_times_and_numbers_are_not_phones),
        cmocka_unit_test(test_card_luhn),
        cmocka_unit_test(test_iban_mod97),
        cmocka_unit_test(test_ssn_ranges),
        cmocka_unit_test(test_ipv4_octets),
        cmocka_unit_test(test_ipv6_forms),
        cmocka_unit_test(test_spans_are_ordered_and_counts_exceed_max_spans),
        cmocka_unit_test(test_counts_on_small_texts),
        cmocka_unit_test(test_entities),
        cmocka_unit_test(test_token_estimate_formula),
        cmocka_unit_test(test_pii_names),
        cmocka_unit_test(test_nul_bytes_are_whitespace),
        cmocka_unit_test(test_invalid_looking_bytes_and_empty_text),
        cmocka_unit_test(test_results_do_not_depend_on_block_alignment),
        cmocka_unit_test(test_one_megabyte_inputs_stay_linear),
        cmocka_unit_test(test_every_builder_matches_the_reference_on_random_text),
        cmocka_unit_test(test_labelled_synthetic_set),
        cmocka_unit_test(test_termset_grows_and_survives_failing_allocator),
        cmocka_unit_test(test_content_terms_skip_stop_words_and_keep_numbers),
        cmocka_unit_test(test_coverage_on_small_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
