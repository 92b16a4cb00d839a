#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base.h"
#include "validate_grounding.h"
#include "verdict.h"

/* ---- fixtures -------------------------------------------------------------------------- */

typedef struct counting {
    size_t calls;     /* malloc + realloc */
    size_t fail_from; /* calls numbered >= this fail (0 = never) */
} counting;

static void *c_malloc(size_t n, void *ud) {
    counting *c = ud;
    if (c->fail_from && ++c->calls >= c->fail_from)
        return NULL;
    if (!c->fail_from)
        c->calls++;
    return malloc(n);
}
static void *c_realloc(void *p, size_t n, void *ud) {
    counting *c = ud;
    if (c->fail_from && ++c->calls >= c->fail_from)
        return NULL;
    if (!c->fail_from)
        c->calls++;
    return realloc(p, n);
}
static void c_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

typedef struct fx {
    counting cnt;
    rr_alloc a;
    rr_grounding *g;
    rr_grounding_scratch *s;
    struct rr_verdict v;
    rr_error err;
} fx;

static void fx_init(fx *f, const rr_grounding_config *cfg) {
    memset(f, 0, sizeof *f);
    rr_allocator pub = {RR_ALLOCATOR_VERSION, &f->cnt, c_malloc, c_realloc, c_free};
    rr_alloc_init(&f->a, &pub);
    f->err = (rr_error)RR_ERROR_INIT;
    assert_int_equal(rr_grounding_new(&f->g, cfg, &f->a, &f->err), RR_OK);
    assert_int_equal(rr_grounding_scratch_new(&f->s, &f->a), RR_OK);
    rr_verdict_init(&f->v, &f->a);
}

static void fx_free(fx *f) {
    rr_verdict_release(&f->v);
    rr_grounding_scratch_free(f->s);
    rr_grounding_free(f->g);
}

static int check(fx *f, const char *answer, const rr_evidence_ref *ev, size_t nev) {
    rr_verdict_clear(&f->v);
    return rr_grounding_check(f->g, f->s, answer, strlen(answer), ev, nev, &f->v, &f->err);
}

static const rr_grounding_result *res(const fx *f) { return rr_grounding_result_of(f->s); }

static size_t count_code(const fx *f, const char *code) {
    size_t n = 0;
    for (size_t i = 0; i < f->v.nfindings; i++)
        n += strcmp(f->v.findings[i].code, code) == 0;
    return n;
}

/* The first finding with `code`; fails the test if there is none. */
static const rr_finding *find_code(const fx *f, const char *code) {
    for (size_t i = 0; i < f->v.nfindings; i++)
        if (strcmp(f->v.findings[i].code, code) == 0)
            return &f->v.findings[i];
    fail_msg("no finding %s", code);
    return NULL;
}

static void assert_span(const rr_finding *fd, const char *answer, const char *text) {
    const char *at = strstr(answer, text);
    assert_non_null(at);
    assert_int_equal(fd->span_start, at - answer);
    assert_int_equal(fd->span_end, at - answer + (ptrdiff_t)strlen(text));
}

static double score(const fx *f, const char *name) {
    for (size_t i = 0; i < f->v.nscores; i++)
        if (strcmp(f->v.scores[i].name, name) == 0)
            return f->v.scores[i].value;
    fail_msg("no score %s", name);
    return -1;
}

#define EV(id, text) ((rr_evidence_ref){id, text, sizeof(text) - 1})

static const rr_evidence_ref paris[] = {
    EV("kb-1", "Paris is the capital of France. The city has 2.1 million inhabitants."),
    EV("kb-2", "Berlin is the capital of Germany. It hosted the 1936 Summer Olympics."),
};

/* ---- support ------------------------------------------------------------------------- */

static void test_claim_copied_from_evidence_is_fully_supported(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "Paris is the capital of France.", paris, 2), RR_OK);
    assert_int_equal(res(&f)->nclaims, 1);
    assert_true(res(&f)->claims[0].support == 1.0);
    assert_int_equal(res(&f)->claims[0].evidence, 0);
    assert_true(f.v.passed);
    assert_int_equal(f.v.nfindings, 0);
    assert_true(score(&f, "grounding_support") == 1.0);
    fx_free(&f);
}

static void test_unsupported_claim_is_reported_with_its_span_and_fails(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    const char *ans = "Paris is the capital of France. Lyon hosts seventeen orbital shipyards. "
                      "Nice builds rockets.";
    assert_int_equal(check(&f, ans, paris, 2), RR_OK);
    assert_int_equal(res(&f)->nclaims, 3);
    assert_int_equal(count_code(&f, "unsupported_claim"), 2);
    const rr_finding *fd = find_code(&f, "unsupported_claim");
    assert_span(fd, ans, "Lyon hosts seventeen orbital shipyards.");
    assert_string_equal(fd->validator, "grounding");
    assert_true(res(&f)->claims[1].support == 0.0);
    /* the mean, 1/3, is below the default 0.5 */
    assert_false(f.v.passed);
    assert_string_equal(f.v.failure, RR_FAIL_GROUNDING);
    fx_free(&f);
}

static void test_uncited_claim_is_reported_when_citations_are_required(void **state) {
    (void)state;
    rr_grounding_config cfg = RR_GROUNDING_CONFIG_INIT;
    cfg.require_citations = 1;
    cfg.coverage_min = 1.0;
    fx f;
    fx_init(&f, &cfg);
    const char *ans = "Paris is the capital of France [1]. Berlin is the capital of Germany.";
    assert_int_equal(check(&f, ans, paris, 2), RR_OK);
    assert_int_equal(count_code(&f, "uncited_claim"), 1);
    assert_span(find_code(&f, "uncited_claim"), ans, "Berlin is the capital of Germany.");
    assert_true(score(&f, "citation_coverage") == 0.5);
    assert_false(f.v.passed);
    fx_free(&f);
}

static void test_uncited_claims_pass_when_citations_are_optional(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "Berlin is the capital of Germany.", paris, 2), RR_OK);
    assert_int_equal(count_code(&f, "uncited_claim"), 0);
    assert_true(score(&f, "citation_coverage") == 0.0);
    assert_true(f.v.passed);
    /* the best passage was found without a citation */
    assert_int_equal(res(&f)->claims[0].evidence, 1);
    fx_free(&f);
}

static void test_citation_to_unknown_id_is_reported_and_fails(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    const char *ans = "Paris is the capital of France [7]. Berlin is in Germany [doc:nope].";
    assert_int_equal(check(&f, ans, paris, 2), RR_OK);
    assert_int_equal(count_code(&f, "citation_unknown_id"), 2);
    assert_span(find_code(&f, "citation_unknown_id"), ans, "7");
    assert_int_equal(res(&f)->unknown_citations, 2);
    assert_int_equal(res(&f)->cited_claims, 0);
    assert_false(f.v.passed);
    fx_free(&f);
}

static void test_number_absent_from_evidence_is_reported_with_its_span(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    const char *ans = "Paris has 21 million inhabitants.";
    assert_int_equal(check(&f, ans, paris, 2), RR_OK);
    assert_int_equal(count_code(&f, "number_not_in_evidence"), 1);
    assert_span(find_code(&f, "number_not_in_evidence"), ans, "21");
    assert_int_equal(res(&f)->unknown_numbers, 1);
    assert_int_equal(res(&f)->claims[0].facts, 1); /* Paris is sentence-initial: not a fact */
    fx_free(&f);
}

static void test_entity_absent_from_evidence_is_reported(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    const char *ans = "The capital of France is Paris, says Dupont.";
    assert_int_equal(check(&f, ans, paris, 2), RR_OK);
    assert_int_equal(count_code(&f, "entity_not_in_evidence"), 1);
    assert_span(find_code(&f, "entity_not_in_evidence"), ans, "Dupont");
    assert_int_equal(res(&f)->unknown_entities, 1);
    fx_free(&f);
}

static void test_entities_match_case_sensitively(void **state) {
    (void)state;
    static const rr_evidence_ref ev[] = {EV("a", "she ate an apple and a pear")};
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "She bought an Apple phone.", ev, 1), RR_OK);
    assert_int_equal(count_code(&f, "entity_not_in_evidence"), 1);
    fx_free(&f);
}

static void test_failure_flags_for_unknown_numbers_and_entities(void **state) {
    (void)state;
    rr_grounding_config cfg = RR_GROUNDING_CONFIG_INIT;
    cfg.support_min = 0.0;
    fx f;
    fx_init(&f, &cfg);
    assert_int_equal(check(&f, "Paris has 21 million inhabitants.", paris, 2), RR_OK);
    assert_true(f.v.passed); /* reported, not failed, by default */
    fx_free(&f);
    cfg.fail_on_unknown_number = 1;
    fx_init(&f, &cfg);
    assert_int_equal(check(&f, "Paris has 21 million inhabitants.", paris, 2), RR_OK);
    assert_false(f.v.passed);
    fx_free(&f);
    cfg.fail_on_unknown_number = 0;
    cfg.fail_on_unknown_entity = 1;
    fx_init(&f, &cfg);
    assert_int_equal(check(&f, "The capital is Paris, says Dupont.", paris, 2), RR_OK);
    assert_false(f.v.passed);
    fx_free(&f);
}

static void test_claim_support_min_fails_on_one_weak_claim(void **state) {
    (void)state;
    const char *ans = "Paris is the capital of France. Berlin is the capital of Germany. "
                      "Paris is the capital of France. Lyon makes orbital shipyards.";
    rr_grounding_config cfg = RR_GROUNDING_CONFIG_INIT;
    fx f;
    fx_init(&f, &cfg);
    assert_int_equal(check(&f, ans, paris, 2), RR_OK);
    assert_true(res(&f)->support >= 0.5); /* the mean hides one weak claim */
    assert_true(f.v.passed);
    fx_free(&f);
    cfg.claim_support_min = 0.5;
    fx_init(&f, &cfg);
    assert_int_equal(check(&f, ans, paris, 2), RR_OK);
    assert_false(f.v.passed);
    fx_free(&f);
}

/* ---- numbers ------------------------------------------------------------------------- */

static void test_numbers_must_match_exactly(void **state) {
    (void)state;
    static const rr_evidence_ref ev[] = {EV("a", "The rate rose to 3.5 percent, about 1,000 loans.")};
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "The rate rose to 35 percent.", ev, 1), RR_OK);
    assert_int_equal(count_code(&f, "number_not_in_evidence"), 1);
    assert_int_equal(check(&f, "The rate rose to 3.5 percent.", ev, 1), RR_OK);
    assert_int_equal(count_code(&f, "number_not_in_evidence"), 0);
    assert_true(res(&f)->claims[0].support == 1.0);
    assert_int_equal(check(&f, "About 1000 loans.", ev, 1), RR_OK); /* thousands separator */
    assert_int_equal(count_code(&f, "number_not_in_evidence"), 0);
    assert_int_equal(check(&f, "The rate rose to 3.50 percent.", ev, 1), RR_OK);
    assert_int_equal(count_code(&f, "number_not_in_evidence"), 1);
    fx_free(&f);
}

/* ---- citations ----------------------------------------------------------------------- */

static void test_citations_parse_numbers_lists_and_doc_ids(void **state) {
    (void)state;
    static const rr_evidence_ref ev[] = {EV("abc", "alpha beta gamma"), EV("x-2", "delta"),
                                         EV("x-3", "epsilon")};
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "Alpha beta [1].", ev, 3), RR_OK);
    assert_int_equal(res(&f)->citations, 1);
    assert_true(res(&f)->claims[0].cited);
    assert_int_equal(res(&f)->claims[0].evidence, 0);
    assert_int_equal(check(&f, "Delta and epsilon [2,3].", ev, 3), RR_OK);
    assert_int_equal(res(&f)->citations, 2);
    /* both terms found in passages 2 and 3 together; the bigram in neither */
    assert_true(res(&f)->claims[0].support == 0.5);
    assert_int_equal(check(&f, "Delta and epsilon [2, 3].", ev, 3), RR_OK);
    assert_int_equal(res(&f)->citations, 2);
    assert_true(res(&f)->claims[0].support == 0.5);
    assert_int_equal(check(&f, "Delta and epsilon [2].", ev, 3), RR_OK);
    assert_true(res(&f)->claims[0].support == 0.25);
    assert_int_equal(check(&f, "Alpha gamma [doc:abc].", ev, 3), RR_OK);
    assert_int_equal(res(&f)->citations, 1);
    assert_int_equal(res(&f)->claims[0].evidence, 0);
    assert_int_equal(check(&f, "Delta epsilon [doc:x-2, doc:x-3].", ev, 3), RR_OK);
    assert_int_equal(res(&f)->citations, 2);
    assert_int_equal(res(&f)->unknown_citations, 0);
    assert_int_equal(check(&f, "Alpha [1][2] beta.", ev, 3), RR_OK);
    assert_int_equal(res(&f)->citations, 2);
    fx_free(&f);
}

static void test_numeric_citation_prefers_an_id_equal_to_it(void **state) {
    (void)state;
    static const rr_evidence_ref ev[] = {EV("2", "alpha beta"), EV("other", "gamma delta")};
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "Alpha beta [2].", ev, 2), RR_OK);
    assert_int_equal(res(&f)->claims[0].evidence, 0);
    assert_true(res(&f)->claims[0].support == 1.0);
    fx_free(&f);
}

static void test_brackets_in_prose_are_not_citations(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "Paris [citation needed] is the capital [sic] of France [].", paris,
                           2),
                     RR_OK);
    assert_int_equal(res(&f)->citations, 0);
    assert_int_equal(res(&f)->unknown_citations, 0);
    fx_free(&f);
}

static void test_citation_after_the_period_belongs_to_that_sentence(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    const char *ans = "Paris is the capital of France. [1] Berlin is the capital of Germany.";
    assert_int_equal(check(&f, ans, paris, 2), RR_OK);
    assert_int_equal(res(&f)->nclaims, 2);
    assert_true(res(&f)->claims[0].cited);
    assert_false(res(&f)->claims[1].cited);
    assert_int_equal(res(&f)->claims[0].end, strstr(ans, "[1]") + 3 - ans);
    fx_free(&f);
}

static void test_cited_claim_is_measured_on_the_cited_passage_only(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "Berlin is the capital of Germany [1].", paris, 2), RR_OK);
    assert_true(res(&f)->claims[0].support < 0.5);
    assert_int_equal(check(&f, "Berlin is the capital of Germany [2].", paris, 2), RR_OK);
    assert_true(res(&f)->claims[0].support == 1.0);
    fx_free(&f);
}

static void test_custom_citation_pattern_resolves_ids(void **state) {
    (void)state;
    rr_grounding_config cfg = RR_GROUNDING_CONFIG_INIT;
    cfg.citation_pattern = "\\(source: ([A-Za-z0-9-]+)\\)";
    fx f;
    fx_init(&f, &cfg);
    const char *ans = "Berlin is the capital of Germany (source: kb-2). Paris is in France "
                      "(source: kb-9).";
    assert_int_equal(check(&f, ans, paris, 2), RR_OK);
    assert_true(res(&f)->claims[0].cited);
    assert_int_equal(res(&f)->claims[0].evidence, 1);
    assert_true(res(&f)->claims[0].support == 1.0); /* "source", "kb" are not claim terms */
    assert_int_equal(count_code(&f, "citation_unknown_id"), 1);
    assert_span(find_code(&f, "citation_unknown_id"), ans, "kb-9");
    fx_free(&f);
}

static void test_invalid_citation_pattern_is_eregex(void **state) {
    (void)state;
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_grounding_config cfg = RR_GROUNDING_CONFIG_INIT;
    cfg.citation_pattern = "([unclosed";
    rr_grounding *g = NULL;
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_grounding_new(&g, &cfg, &a, &err), RR_EREGEX);
    assert_null(g);
    assert_non_null(strstr(err.message, "citation_pattern"));
    cfg.citation_pattern = NULL;
    cfg.support_min = 1.5;
    assert_int_equal(rr_grounding_new(&g, &cfg, &a, &err), RR_EINVAL);
    assert_null(g);
}

/* ---- claims -------------------------------------------------------------------------- */

static void test_claims_split_on_sentences_not_abbreviations(void **state) {
    (void)state;
    static const rr_evidence_ref ev[] = {EV("a", "tools hammer works smith arrived left")};
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "Use tools, e.g. a hammer. It works.", ev, 1), RR_OK);
    assert_int_equal(res(&f)->nclaims, 2);
    assert_int_equal(check(&f, "Dr. Smith arrived at 5 p.m. and left. Then he left!", ev, 1),
                     RR_OK);
    assert_int_equal(res(&f)->nclaims, 2);
    assert_int_equal(check(&f, "The U.S. Army arrived. It left.", ev, 1), RR_OK);
    assert_int_equal(res(&f)->nclaims, 2);
    assert_int_equal(check(&f, "Tools work\nhammer works", ev, 1), RR_OK);
    assert_int_equal(res(&f)->nclaims, 2); /* a newline ends a claim */
    fx_free(&f);
}

static void test_claims_split_keeps_decimals_whole(void **state) {
    (void)state;
    static const rr_evidence_ref ev[] = {EV("a", "The rate was 3.5 percent. It rose.")};
    fx f;
    fx_init(&f, NULL);
    const char *ans = "The rate was 3.5 percent. It rose.";
    assert_int_equal(check(&f, ans, ev, 1), RR_OK);
    assert_int_equal(res(&f)->nclaims, 2);
    assert_int_equal(res(&f)->claims[0].end, strlen("The rate was 3.5 percent."));
    assert_int_equal(count_code(&f, "number_not_in_evidence"), 0);
    fx_free(&f);
}

static void test_questions_and_stopword_sentences_are_not_claims(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "What is the capital of Lyonnais? Yes. It is Paris.", paris, 2),
                     RR_OK);
    assert_int_equal(res(&f)->questions, 1);
    assert_int_equal(res(&f)->nclaims, 1);
    assert_int_equal(count_code(&f, "entity_not_in_evidence"), 0);
    fx_free(&f);
}

/* ---- edge inputs --------------------------------------------------------------------- */

static void test_empty_answer_passes_with_vacuous_scores(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "", paris, 2), RR_OK);
    assert_int_equal(res(&f)->nclaims, 0);
    assert_true(f.v.passed);
    assert_true(score(&f, "grounding_support") == 1.0);
    assert_true(score(&f, "citation_coverage") == 1.0);
    assert_int_equal(rr_grounding_check(f.g, f.s, NULL, 0, NULL, 0, NULL, NULL), RR_OK);
    assert_int_equal(rr_grounding_check(f.g, f.s, NULL, 3, NULL, 0, NULL, &f.err), RR_EINVAL);
    assert_int_equal(rr_grounding_check(NULL, f.s, "", 0, NULL, 0, NULL, NULL), RR_EINVAL);
    fx_free(&f);
}

static void test_empty_evidence_leaves_every_claim_unsupported(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    const char *ans = "Paris is the capital of France [1].";
    assert_int_equal(check(&f, ans, NULL, 0), RR_OK);
    assert_true(res(&f)->support == 0.0);
    assert_int_equal(count_code(&f, "unsupported_claim"), 1);
    assert_int_equal(count_code(&f, "citation_unknown_id"), 1);
    assert_false(f.v.passed);
    static const rr_evidence_ref blank[] = {{"e", "", 0}, {NULL, NULL, 0}};
    assert_int_equal(check(&f, "Paris is the capital of France.", blank, 2), RR_OK);
    assert_true(res(&f)->support == 0.0);
    fx_free(&f);
}

static void test_invalid_utf8_is_an_error_naming_where(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "Paris is \xff the capital.", paris, 2), RR_EUTF8);
    assert_non_null(strstr(f.err.message, "answer"));
    assert_non_null(strstr(f.err.message, "byte 9"));
    rr_evidence_ref bad[] = {paris[0], EV("broken", "Berlin \xc3\x28 is")};
    assert_int_equal(check(&f, "Paris is the capital.", bad, 2), RR_EUTF8);
    assert_non_null(strstr(f.err.message, "evidence[1]"));
    assert_non_null(strstr(f.err.message, "broken"));
    fx_free(&f);
}

static void test_nul_bytes_separate_words(void **state) {
    (void)state;
    static const char evtext[] = "Paris\0is the capital of France";
    rr_evidence_ref ev = {"a", evtext, sizeof evtext - 1};
    static const char ans[] = "Paris\0is the capital\0of France.";
    fx f;
    fx_init(&f, NULL);
    rr_verdict_clear(&f.v);
    assert_int_equal(rr_grounding_check(f.g, f.s, ans, sizeof ans - 1, &ev, 1, &f.v, &f.err),
                     RR_OK);
    assert_int_equal(res(&f)->nclaims, 1);
    assert_true(res(&f)->claims[0].support == 1.0);
    fx_free(&f);
}

static void test_non_ascii_words_and_punctuation(void **state) {
    (void)state;
    static const rr_evidence_ref ev[] = {EV("a", "Zürich — “die größte Stadt” der Schweiz.")};
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "Zürich is die größte Stadt.", ev, 1), RR_OK);
    assert_int_equal(res(&f)->nclaims, 1);
    assert_int_equal(count_code(&f, "entity_not_in_evidence"), 0);
    assert_true(res(&f)->claims[0].support > 0.5);
    fx_free(&f);
}

static void test_more_than_64_passages(void **state) {
    (void)state;
    enum { N = 100 };
    static char texts[N][64], ids[N][16];
    rr_evidence_ref ev[N];
    for (int i = 0; i < N; i++) {
        snprintf(texts[i], sizeof texts[i], "passage number %u tells about topic%u", (unsigned)i, (unsigned)i);
        snprintf(ids[i], sizeof ids[i], "p%u", (unsigned)i);
        ev[i] = (rr_evidence_ref){ids[i], texts[i], strlen(texts[i])};
    }
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "Passage number 80 tells about topic80.", ev, N), RR_OK);
    assert_int_equal(res(&f)->claims[0].evidence, 80);
    assert_true(res(&f)->claims[0].support == 1.0);
    assert_int_equal(check(&f, "Passage number 80 tells about topic80 [doc:p93].", ev, N), RR_OK);
    assert_int_equal(res(&f)->claims[0].evidence, 93);
    assert_true(res(&f)->claims[0].support < 1.0);
    fx_free(&f);
}

/* Words are located 64 bytes at a time and read 16 at a time: a copied sentence must match
 * its source wherever block boundaries fall in either, and however close to the end of the
 * text, for every kind of word (long, capitalised, numbers with separators, non-ASCII). */
static void test_copied_sentence_matches_at_every_offset_and_text_end(void **state) {
    (void)state;
    static const char sentence[] =
        "Researchers at Massachusettsinstitute recorded 1,234.5 electroencephalographically "
        "noisy signals in Zürich—“Genève” too, per NASA-ISS2 and v2";
    fx f;
    fx_init(&f, NULL);
    for (size_t pad = 0; pad <= 80; pad++) {
        char text[512], ans[512];
        memset(text, ' ', pad);
        memcpy(text + pad, sentence, sizeof sentence); /* ends the text with "v2" */
        rr_evidence_ref ev = {"a", text, pad + sizeof sentence - 1};
        snprintf(ans, sizeof ans, "%*s%s.", (int)(pad * 7 % 81), "", sentence);
        assert_int_equal(check(&f, ans, &ev, 1), RR_OK);
        assert_int_equal(res(&f)->nclaims, 1);
        if (res(&f)->claims[0].support != 1.0 || f.v.nfindings != 0)
            fail_msg("offset %zu: support %.3f, %zu findings", pad, res(&f)->claims[0].support,
                     f.v.nfindings);
        assert_int_equal(res(&f)->claims[0].facts_found, res(&f)->claims[0].facts);
    }
    fx_free(&f);
}

/* Words are read 16 bytes at a time: longer ones must still differ by every byte. */
static void test_long_words_differing_past_16_bytes_do_not_match(void **state) {
    (void)state;
    static const rr_evidence_ref ev[] = {
        EV("a", "nothing but electroencephalographical waves and Counterrevolutionaries here")};
    fx f;
    fx_init(&f, NULL);
    assert_int_equal(check(&f, "electroencephalographically waves.", ev, 1), RR_OK);
    assert_true(res(&f)->claims[0].support == 0.25); /* 1 of 2 terms, the bigram not */
    assert_int_equal(check(&f, "Electroencephalographical waves.", ev, 1), RR_OK);
    assert_true(res(&f)->claims[0].support == 1.0);
    assert_int_equal(check(&f, "Some Counterrevolutionary waves.", ev, 1), RR_OK);
    assert_int_equal(count_code(&f, "entity_not_in_evidence"), 1);
    assert_int_equal(check(&f, "Some Counterrevolutionaries waves.", ev, 1), RR_OK);
    assert_int_equal(count_code(&f, "entity_not_in_evidence"), 0);
    fx_free(&f);
}

/* Messages print the support as printf's "%.2f" would, halves included (0.125 -> "0.12",
 * 0.375 -> "0.38"). */
static void test_unsupported_claim_message_rounds_like_printf(void **state) {
    (void)state;
    static const rr_evidence_ref ev[] = {EV("a", "alpha is known. Delta is alpha; charlie too.")};
    /* Support = (terms found / terms + bigrams found / bigrams) / 2, no bigram found here:
     * 1 of 4 terms, 1 of 3, 3 of 4. */
    static const char *const ans[] = {"alpha bravo echo foxtrot.", "alpha bravo echo.",
                                      "alpha bravo charlie delta."};
    static const double sup[] = {0.125, 1.0 / 6.0, 0.375};
    static const unsigned terms[] = {4, 3, 4};
    fx f;
    fx_init(&f, NULL);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(check(&f, ans[i], ev, 1), RR_OK);
        assert_true(res(&f)->claims[0].support == sup[i]);
        const rr_finding *fd = find_code(&f, "unsupported_claim");
        char want[160];
        snprintf(want, sizeof want, "claim 1: support %.2f below %.2f (%u terms, 0 of 0 facts found)",
                 sup[i], 0.5, terms[i]);
        assert_int_equal(fd->msg_len, strlen(want));
        assert_memory_equal(f.v.pool.p + fd->msg_off, want, fd->msg_len);
    }
    fx_free(&f);
}

/* ---- properties ---------------------------------------------------------------------- */

static void test_same_input_gives_same_verdict(void **state) {
    (void)state;
    fx f;
    fx_init(&f, NULL);
    const char *ans = "Paris has 21 million people [1]. Bonn is in Germany [9]. Why?";
    assert_int_equal(check(&f, ans, paris, 2), RR_OK);
    size_t n = f.v.nfindings;
    double sup = res(&f)->support;
    rr_finding first[16];
    assert_true(n > 2 && n <= 16);
    memcpy(first, f.v.findings, n * sizeof *first);
    assert_int_equal(check(&f, "Something else entirely about Rome.", paris, 2), RR_OK);
    assert_int_equal(check(&f, ans, paris, 2), RR_OK);
    assert_int_equal(f.v.nfindings, n);
    assert_true(res(&f)->support == sup);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(f.v.findings[i].code, first[i].code);
        assert_int_equal(f.v.findings[i].span_start, first[i].span_start);
        assert_int_equal(f.v.findings[i].span_end, first[i].span_end);
    }
    fx_free(&f);
}

static void test_no_allocation_after_warm_up(void **state) {
    (void)state;
    rr_grounding_config cfg = RR_GROUNDING_CONFIG_INIT;
    cfg.citation_pattern = "\\(source: (\\w+)\\)";
    cfg.require_citations = 1;
    fx f;
    fx_init(&f, &cfg);
    const char *big = "Paris is the capital of France [1]. Berlin has 3 Olympics [2]. "
                      "Rome is old (source: kb). Lyon makes 77 shipyards [5]. Why? [doc:kb-2]";
    for (int i = 0; i < 3; i++)
        assert_int_equal(check(&f, big, paris, 2), RR_OK);
    size_t before = f.cnt.calls;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(check(&f, big, paris, 2), RR_OK);
        assert_int_equal(check(&f, "Paris is the capital of France.", paris, 2), RR_OK);
        assert_int_equal(check(&f, "", paris, 1), RR_OK);
    }
    assert_int_equal(f.cnt.calls, before);
    fx_free(&f);
}

static void test_allocation_failure_is_enomem_without_leaks(void **state) {
    (void)state;
    const char *ans = "Paris is the capital of France [1]. Berlin has 3 Olympics [2]. Why?";
    for (size_t fail = 1; fail < 200; fail++) {
        counting c = {0, fail};
        rr_allocator pub = {RR_ALLOCATOR_VERSION, &c, c_malloc, c_realloc, c_free};
        rr_alloc a;
        rr_alloc_init(&a, &pub);
        rr_grounding *g = NULL;
        rr_grounding_scratch *s = NULL;
        int rc = rr_grounding_new(&g, NULL, &a, NULL);
        if (rc == RR_OK)
            rc = rr_grounding_scratch_new(&s, &a);
        if (rc == RR_OK)
            rc = rr_grounding_check(g, s, ans, strlen(ans), paris, 2, NULL, NULL);
        assert_true(rc == RR_OK || rc == RR_ENOMEM);
        rr_grounding_scratch_free(s);
        rr_grounding_free(g);
        if (rc == RR_OK && c.calls < fail)
            break; /* every allocation point has been made to fail once */
    }
}

/* CPU time of this thread: time the scheduler gives other processes does not count. */
static uint64_t cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The fastest of several runs. */
static uint64_t best_time(fx *f, const char *text, size_t len) {
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = cpu_ns();
        rr_verdict_clear(&f->v);
        assert_int_equal(rr_grounding_check(f->g, f->s, text, len, paris, 2, &f->v, NULL), RR_OK);
        uint64_t t = cpu_ns() - t0;
        best = t < best ? t : best;
    }
    return best;
}

static void test_megabyte_answer_takes_linear_time(void **state) {
    (void)state;
    static const char unit[] = "Paris is the capital of France [1]. Lyon has 3 ports e.g. one. "
                               "Berlin [doc:kb-2] hosted 1936 games\n";
    size_t n = 1 << 20;
    char *text = malloc(n);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++)
        text[i] = unit[i % (sizeof unit - 1)];
    fx f;
    fx_init(&f, NULL);
    uint64_t quarter = best_time(&f, text, n / 4);
    uint64_t whole = best_time(&f, text, n);
    assert_true(res(&f)->nclaims > 30000);
    /* linear: about 4x; quadratic would be 16x */
    if (whole >= quarter * 10)
        fail_msg("1 MiB took %.2f ms, 256 KiB %.2f ms", whole / 1e6, quarter / 1e6);
    free(text);
    fx_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_copied_from_evidence_is_fully_supported),
        cmocka_unit_test(test_unsupported_claim_is_reported_with_its_span_and_fails),
        cmocka_unit_test(test_uncited_claim_is_reported_when_citations_are_required),
        cmocka_unit_test(test_uncited_claims_pass_when_citations_are_optional),
        cmocka_unit_test(test_citation_to_unknown_id_is_reported_and_fails),
        cmocka_unit_test(test_number_absent_from_evidence_is_reported_with_its_span),
        cmocka_unit_test(test_entity_absent_from_evidence_is_reported),
        cmocka_unit_test(test_entities_match_case_sensitively),
        cmocka_unit_test(test_failure_flags_for_unknown_numbers_and_entities),
        cmocka_unit_test(test_claim_support_min_fails_on_one_weak_claim),
        cmocka_unit_test(test_numbers_must_match_exactly),
        cmocka_unit_test(test_citations_parse_numbers_lists_and_doc_ids),
        cmocka_unit_test(test_numeric_citation_prefers_an_id_equal_to_it),
        cmocka_unit_test(test_brackets_in_prose_are_not_citations),
        cmocka_unit_test(test_citation_after_the_period_belongs_to_that_sentence),
        cmocka_unit_test(test_cited_claim_is_measured_on_the_cited_passage_only),
        cmocka_unit_test(test_custom_citation_pattern_resolves_ids),
        cmocka_unit_test(test_invalid_citation_pattern_is_eregex),
        cmocka_unit_test(test_claims_split_on_sentences_not_abbreviations),
        cmocka_unit_test(test_claims_split_keeps_decimals_whole),
        cmocka_unit_test(test_questions_and_stopword_sentences_are_not_claims),
        cmocka_unit_test(test_empty_answer_passes_with_vacuous_scores),
        cmocka_unit_test(test_empty_evidence_leaves_every_claim_unsupported),
        cmocka_unit_test(test_invalid_utf8_is_an_error_naming_where),
        cmocka_unit_test(test_nul_bytes_separate_words),
        cmocka_unit_test(test_non_ascii_words_and_punctuation),
        cmocka_unit_test(test_more_than_64_passages),
        cmocka_unit_test(test_copied_sentence_matches_at_every_offset_and_text_end),
        cmocka_unit_test(test_long_words_differing_past_16_bytes_do_not_match),
        cmocka_unit_test(test_unsupported_claim_message_rounds_like_printf),
        cmocka_unit_test(test_same_input_gives_same_verdict),
        cmocka_unit_test(test_no_allocation_after_warm_up),
        cmocka_unit_test(test_allocation_failure_is_enomem_without_leaks),
        cmocka_unit_test(test_megabyte_answer_takes_linear_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
