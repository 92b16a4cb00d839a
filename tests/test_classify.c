#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "classify.h"
#include "eval_metrics.h"

/* Synthetic data: class c draws most words from its own vocabulary, some from a shared
 * one; `noise` is the share of examples whose label is replaced by a random class. */
typedef struct synth {
    rr_clf_sample *s;
    char (*text)[160];
    char (*label)[16];
    size_t n;
} synth;

static uint64_t rng_next(uint64_t *x) {
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

static synth make_set(size_t n, int classes, double noise, uint64_t seed) {
    synth d = {calloc(n, sizeof(rr_clf_sample)), calloc(n, 160), calloc(n, 16), n};
    for (size_t i = 0; i < n; i++) {
        int c = (int)(rng_next(&seed) % (uint64_t)classes), len = 0;
        for (int w = 0; w < 6; w++) {
            bool own = rng_next(&seed) % 3 != 0;
            len += snprintf(d.text[i] + len, 160 - (size_t)len, "%s%s%u ", own ? "cls" : "any",
                            own ? (const char[]){(char)('a' + c), 0} : "",
                            (unsigned)(rng_next(&seed) % 12));
        }
        if ((double)(rng_next(&seed) % 1000) < noise * 1000)
            c = (int)(rng_next(&seed) % (uint64_t)classes);
        snprintf(d.label[i], 16, "label%c", 'a' + c);
        d.s[i] = (rr_clf_sample){d.text[i], strlen(d.text[i]), d.label[i]};
    }
    return d;
}

static void free_set(synth *d) {
    free(d->s), free(d->text), free(d->label);
}

static rr_clf_train_opts small_opts(void) {
    rr_clf_train_opts o;
    rr_clf_train_opts_default(&o);
    o.feat.buckets = 1u << 12;
    o.epochs = 8;
    return o;
}

static rr_classifier *train_ok(const synth *tr, const synth *va, rr_clf_train_opts *o,
                               rr_clf_train_report *rep) {
    rr_classifier *m = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_clf_train(&m, tr->s, tr->n, va ? va->s : NULL, va ? va->n : 0, o, NULL, rep,
                          &err);
    if (rc)
        fprintf(stderr, "train: %s\n", err.message);
    assert_int_equal(rc, RR_OK);
    return m;
}

static void save(rr_classifier *m, rr_buf *b, rr_alloc *a) {
    rr_alloc_init(a, NULL);
    rr_buf_init(b, a);
    assert_int_equal(rr_classifier_save(m, b), RR_OK);
}

static void test_training_is_deterministic_for_a_seed(void **state) {
    (void)state;
    synth tr = make_set(600, 4, 0.05, 7);
    rr_clf_train_opts o = small_opts();
    rr_classifier *m1 = train_ok(&tr, NULL, &o, NULL), *m2 = train_ok(&tr, NULL, &o, NULL);
    o.seed = 99;
    rr_classifier *m3 = train_ok(&tr, NULL, &o, NULL);
    rr_alloc a;
    rr_buf b1, b2, b3;
    save(m1, &b1, &a), save(m2, &b2, &a), save(m3, &b3, &a);
    assert_int_equal(b1.len, b2.len);
    assert_memory_equal(b1.p, b2.p, b1.len);
    assert_true(b1.len != b3.len || memcmp(b1.p, b3.p, b1.len) != 0);
    rr_buf_free(&b1), rr_buf_free(&b2), rr_buf_free(&b3);
    rr_classifier_free(m1), rr_classifier_free(m2), rr_classifier_free(m3);
    free_set(&tr);
}

/* ECE of `m` on `te`, calibrated or as raw softmax. */
static double test_ece(const rr_classifier *m, const synth *te, bool calibrated) {
    size_t ss = rr_classifier_scratch_size(m);
    void *scratch = malloc(ss);
    double *z = malloc(m->nlabels * sizeof *z), *conf = malloc(te->n * sizeof *conf);
    uint8_t *ok = malloc(te->n);
    rr_classifier raw = *m;
    raw.cal_method = RR_CLF_CAL_NONE;
    for (size_t i = 0; i < te->n; i++) {
        rr_clf_result r;
        assert_int_equal(rr_classifier_logits(m, te->s[i].text, te->s[i].len, scratch, ss, z),
                         RR_OK);
        rr_classifier_calibrate(calibrated ? m : &raw, z, &r);
        conf[i] = r.p_top;
        ok[i] = !strcmp(m->labels[r.top], te->s[i].label);
    }
    double e = rr_ece(conf, ok, te->n, 15);
    free(scratch), free(z), free(conf), free(ok);
    return e;
}

static void test_calibration_reduces_ece_on_held_out_data(void **state) {
    (void)state;
    /* label noise + no regularisation: the raw model is over-confident */
    synth tr = make_set(3000, 5, 0.3, 11), va = make_set(800, 5, 0.3, 12),
          te = make_set(3000, 5, 0.3, 13);
    rr_clf_train_opts o = small_opts();
    o.l2 = 0;
    o.epochs = 15;
    o.patience = 15;
    rr_clf_train_report rep;
    rr_classifier *m = train_ok(&tr, &va, &o, &rep);
    assert_int_equal(m->cal_method, RR_CLF_CAL_TEMPERATURE);
    assert_true(rep.ece_after < rep.ece_before);
    double before = test_ece(m, &te, false), after = test_ece(m, &te, true);
    print_message("ECE on held-out data: raw %.4f, calibrated %.4f\n", before, after);
    assert_true(before > 0.05);
    assert_true(after < before - 0.03);
    rr_classifier_free(m);
    free_set(&tr), free_set(&va), free_set(&te);
}

static void test_model_round_trips_through_save_and_load(void **state) {
    (void)state;
    synth tr = make_set(500, 3, 0.0, 21);
    rr_clf_train_opts o = small_opts();
    o.name = "intent";
    o.version = "7";
    rr_classifier *m = train_ok(&tr, NULL, &o, NULL), *l = NULL;
    rr_alloc a;
    rr_buf b, b2;
    save(m, &b, &a);
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_classifier_load_bytes(&l, b.p, b.len, NULL, &err), RR_OK);
    assert_string_equal(rr_classifier_name(l), "intent");
    assert_string_equal(rr_classifier_version(l), "7");
    assert_string_equal(rr_classifier_fingerprint(l), rr_classifier_fingerprint(m));
    assert_int_equal(rr_classifier_label_count(l), 3);
    assert_string_equal(rr_classifier_label(l, 1), "labelb");
    assert_int_equal(rr_classifier_label_index(l, "labelc"), 2);
    assert_null(rr_classifier_label(l, 3));
    size_t ss = rr_classifier_scratch_size(l);
    void *scratch = malloc(ss);
    double p1[3], p2[3];
    rr_clf_result r1, r2;
    for (size_t i = 0; i < 50; i++) {
        rr_classifier_predict(m, tr.s[i].text, tr.s[i].len, scratch, ss, p1, &r1);
        rr_classifier_predict(l, tr.s[i].text, tr.s[i].len, scratch, ss, p2, &r2);
        assert_memory_equal(p1, p2, sizeof p1);
        assert_int_equal(r1.label, r2.label);
    }
    save(l, &b2, &a);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.p, b2.p, b.len);
    free(scratch);
    rr_buf_free(&b), rr_buf_free(&b2);
    rr_classifier_free(m), rr_classifier_free(l);
    free_set(&tr);
}

static void put_u32(char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (char)(v >> (8 * i));
}

static void reseal(char *p, size_t n) {
    uint64_t h = XXH3_64bits(p, n - 8);
    for (int i = 0; i < 8; i++)
        p[n - 8 + (size_t)i] = (char)(h >> (8 * i));
}

static int load_code(const char *p, size_t n, rr_error *err) {
    rr_classifier *m = NULL;
    int rc = rr_classifier_load_bytes(&m, p, n, NULL, err);
    rr_classifier_free(m);
    return rc;
}

static void test_corrupt_truncated_and_wrong_version_models_are_rejected(void **state) {
    (void)state;
    synth tr = make_set(300, 3, 0.0, 31);
    rr_clf_train_opts o = small_opts();
    rr_classifier *m = train_ok(&tr, NULL, &o, NULL);
    rr_alloc a;
    rr_buf b;
    save(m, &b, &a);
    char *c = malloc(b.len);
    rr_error err = RR_ERROR_INIT;
    for (size_t cut = 0; cut < b.len; cut += 1 + cut / 3) { /* every truncation */
        assert_int_equal(load_code(b.p, cut, &err), RR_EMODEL);
    }
    memcpy(c, b.p, b.len);
    c[b.len / 2] ^= 0x40; /* one flipped bit */
    assert_int_equal(load_code(c, b.len, &err), RR_EMODEL);
    assert_non_null(strstr(err.message, "checksum"));
    memcpy(c, b.p, b.len);
    put_u32(c + 8, 1); /* the CSR / int16 format before per-label int8 weights */
    assert_int_equal(load_code(c, b.len, &err), RR_EVERSION);
    assert_non_null(strstr(err.message, "version 1"));
    put_u32(c + 8, RR_CLF_FORMAT_VERSION + 1);
    assert_int_equal(load_code(c, b.len, &err), RR_EVERSION);
    memcpy(c, b.p, b.len);
    c[0] = 'X';
    assert_int_equal(load_code(c, b.len, &err), RR_EMODEL);
    assert_non_null(strstr(err.message, "magic"));
    memcpy(c, b.p, b.len);
    put_u32(c + 24, 70000); /* label count out of range, checksum made valid again */
    reseal(c, b.len);
    assert_int_equal(load_code(c, b.len, &err), RR_EMODEL);
    assert_non_null(strstr(err.message, "label count"));
    memcpy(c, b.p, b.len);
    put_u32(c + 24, 4); /* one label more than stored: the reader runs out of labels */
    reseal(c, b.len);
    assert_int_equal(load_code(c, b.len, &err), RR_EMODEL);
    free(c);
    rr_buf_free(&b);
    rr_classifier_free(m);
    free_set(&tr);
    assert_int_equal(rr_classifier_load(&m, "/nonexistent/model.rrc", NULL, &err), RR_EIO);
}

typedef struct counter {
    size_t allocs;
} counter;
static void *cnt_malloc(size_t n, void *ud) {
    ((counter *)ud)->allocs++;
    return malloc(n);
}
static void *cnt_realloc(void *p, size_t n, void *ud) {
    ((counter *)ud)->allocs++;
    return realloc(p, n);
}
static void cnt_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

static void test_predict_allocates_nothing(void **state) {
    (void)state;
    synth tr = make_set(400, 4, 0.0, 41);
    rr_clf_train_opts o = small_opts();
    rr_classifier *m = train_ok(&tr, NULL, &o, NULL), *l = NULL;
    rr_alloc a;
    rr_buf b;
    save(m, &b, &a);
    counter cnt = {0};
    rr_allocator pub = {RR_ALLOCATOR_VERSION, &cnt, cnt_malloc, cnt_realloc, cnt_free};
    rr_alloc ca;
    rr_alloc_init(&ca, &pub);
    assert_int_equal(rr_classifier_load_bytes(&l, b.p, b.len, &ca, NULL), RR_OK);
    size_t after_load = cnt.allocs;
    assert_true(after_load > 0);
    size_t ss = rr_classifier_scratch_size(l);
    double *scratch = malloc(ss), probs[4];
    rr_clf_result r;
    for (size_t i = 0; i < tr.n; i++)
        assert_int_equal(rr_classifier_predict(l, tr.s[i].text, tr.s[i].len, scratch, ss,
                                               probs, &r), RR_OK);
    assert_int_equal(cnt.allocs, after_load);
    assert_int_equal(rr_classifier_predict(l, "x", 1, scratch, ss - 8, probs, &r), RR_EINVAL);
    assert_int_equal(rr_classifier_predict(l, "x", 1, (char *)scratch + 1, ss, probs, &r),
                     RR_EINVAL);
    free(scratch);
    rr_buf_free(&b);
    rr_classifier_free(m), rr_classifier_free(l);
    free_set(&tr);
}

static void test_oos_threshold_and_class_answer_unknown(void **state) {
    (void)state;
    synth tr = make_set(800, 3, 0.0, 51), va = make_set(200, 3, 0.0, 52);
    /* out-of-scope validation examples: words no class uses */
    size_t n = va.n + 40;
    rr_clf_sample *vs = calloc(n, sizeof *vs);
    char (*oos)[64] = calloc(40, 64);
    memcpy(vs, va.s, va.n * sizeof *vs);
    for (size_t i = 0; i < 40; i++) {
        snprintf(oos[i], 64, "zz%zu qq%zu xx%zu", i % 7, i % 5, i % 3);
        vs[va.n + i] = (rr_clf_sample){oos[i], strlen(oos[i]), "oos"};
    }
    rr_clf_train_opts o = small_opts();
    o.oos_label = "oos";
    o.oos_threshold = -1;
    rr_classifier *m = NULL;
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(rr_clf_train(&m, tr.s, tr.n, vs, n, &o, NULL, NULL, &err), RR_OK);
    assert_true(m->oos_threshold > 0 && m->oos_threshold < 1);
    assert_int_equal(rr_classifier_oos_label(m), -1);
    size_t ss = rr_classifier_scratch_size(m);
    void *scratch = malloc(ss);
    rr_clf_result r;
    const char *in = "clsa1 clsa2 clsa3 clsa4";
    assert_int_equal(rr_classifier_predict(m, in, strlen(in), scratch, ss, NULL, &r), RR_OK);
    assert_string_equal(rr_classifier_label(m, (uint32_t)r.label), "labela");
    const char *out = "zz9 qq9 xx9";
    rr_classifier_predict(m, out, strlen(out), scratch, ss, NULL, &r);
    assert_int_equal(r.label, RR_CLF_UNKNOWN);
    assert_true(r.p_top < m->oos_threshold);
    assert_true(r.top >= 0);
    /* an explicit out-of-scope class answers unknown whatever its probability */
    m->oos_threshold = 0;
    m->oos_label = 0;
    rr_classifier_predict(m, in, strlen(in), scratch, ss, NULL, &r);
    assert_int_equal(r.top, 0);
    assert_int_equal(r.label, RR_CLF_UNKNOWN);
    free(scratch), free(vs), free(oos);
    rr_classifier_free(m);
    free_set(&tr), free_set(&va);
}

static void test_apgr_is_half_for_random_and_near_one_for_oracle(void **state) {
    (void)state;
    enum { N = 20000 };
    double *score = malloc(N * sizeof *score), *oracle = malloc(N * sizeof *oracle);
    uint8_t *w = malloc(N), *s = malloc(N);
    uint64_t x = 12345;
    for (size_t i = 0; i < N; i++) {
        w[i] = rng_next(&x) % 100 < 75;
        s[i] = w[i] || rng_next(&x) % 100 < 20; /* strong wins on 5% of calls */
        score[i] = (double)(rng_next(&x) % 1000000);
        oracle[i] = (double)s[i] - (double)w[i];
    }
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_route_curve c;
    assert_int_equal(rr_route_curve_compute(score, w, s, N, &a, &c, NULL), RR_OK);
    assert_true(fabs(c.apgr - 0.5) < 0.03);
    assert_true(fabs(c.cpt50 - 0.5) < 0.05);
    assert_int_equal(rr_route_curve_compute(oracle, w, s, N, &a, &c, NULL), RR_OK);
    assert_true(c.apgr > 0.95);
    assert_true(c.cpt50 < 0.05);
    /* all tied: linear from 0 to 1, so exactly one half */
    for (size_t i = 0; i < N; i++)
        score[i] = 1;
    assert_int_equal(rr_route_curve_compute(score, w, s, N, &a, &c, NULL), RR_OK);
    assert_true(fabs(c.apgr - 0.5) < 1e-9);
    assert_int_equal(rr_route_curve_compute(score, w, w, N, &a, &c, NULL), RR_EDATA);
    free(score), free(oracle), free(w), free(s);
}

static void test_ece_and_auroc_match_hand_computed_values(void **state) {
    (void)state;
    double conf[4] = {0.9, 0.9, 0.6, 0.6};
    uint8_t ok[4] = {1, 0, 1, 1};
    /* bins: 0.9 -> acc 0.5 (gap 0.4), 0.6 -> acc 1.0 (gap 0.4) */
    assert_true(fabs(rr_ece(conf, ok, 4, 10) - 0.4) < 1e-12);
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    double sc[4] = {0.1, 0.4, 0.35, 0.8};
    uint8_t lab[4] = {0, 0, 1, 1};
    assert_true(fabs(rr_auroc(sc, lab, 4, &a) - 0.75) < 1e-12);
    int32_t truth[4] = {0, 1, 1, -1}, pred[4] = {0, 1, 0, -1};
    rr_cls_summary sum;
    assert_int_equal(rr_cls_summarise(truth, pred, 4, 2, &a, &sum), RR_OK);
    assert_true(fabs(sum.accuracy - 0.75) < 1e-12);
    /* F1: class 0 = 2/3, class 1 = 2/3 */
    assert_true(fabs(sum.macro_f1 - 2.0 / 3.0) < 1e-12);
}

static int train_code(const rr_clf_sample *tr, size_t n, const rr_clf_sample *va, size_t nv,
                      rr_clf_train_opts *o, rr_error *err) {
    rr_classifier *m = NULL;
    int rc = rr_clf_train(&m, tr, n, va, nv, o, NULL, NULL, err);
    rr_classifier_free(m);
    return rc;
}

static void test_training_rejects_bad_input_and_absurd_options(void **state) {
    (void)state;
    synth tr = make_set(100, 2, 0.0, 61);
    rr_clf_train_opts o = small_opts();
    rr_error err = RR_ERROR_INIT;
    assert_int_equal(train_code(tr.s, 0, NULL, 0, &o, &err), RR_EDATA);
    assert_non_null(strstr(err.message, "empty"));
    rr_clf_sample one[3] = {{"a b", 3, "x"}, {"c d", 3, "x"}, {"e f", 3, "x"}};
    assert_int_equal(train_code(one, 3, NULL, 0, &o, &err), RR_EDATA);
    assert_non_null(strstr(err.message, "single class"));
    rr_clf_sample vbad[1] = {{"a b", 3, "never_seen"}};
    assert_int_equal(train_code(tr.s, tr.n, vbad, 1, &o, &err), RR_EDATA);
    assert_non_null(strstr(err.message, "never_seen"));
    rr_clf_sample utf[2] = {{"ok", 2, "x"}, {"bad \xff", 5, "y"}};
    assert_int_equal(train_code(utf, 2, NULL, 0, &o, &err), RR_EUTF8);
    assert_non_null(strstr(err.message, "example 2"));
    rr_clf_train_opts b = o;
    b.feat.buckets = 0;
    assert_int_equal(train_code(tr.s, tr.n, NULL, 0, &b, &err), RR_EINVAL);
    assert_non_null(strstr(err.message, "buckets"));
    b = o, b.feat.buckets = RR_CLF_MAX_BUCKETS + 1;
    assert_int_equal(train_code(tr.s, tr.n, NULL, 0, &b, &err), RR_EINVAL);
    b = o, b.l2 = -0.1;
    assert_int_equal(train_code(tr.s, tr.n, NULL, 0, &b, &err), RR_EINVAL);
    assert_non_null(strstr(err.message, "l2"));
    b = o, b.epochs = 0;
    assert_int_equal(train_code(tr.s, tr.n, NULL, 0, &b, &err), RR_EINVAL);
    assert_non_null(strstr(err.message, "epochs"));
    b = o, b.feat.char_min = 5, b.feat.char_max = 3;
    assert_int_equal(train_code(tr.s, tr.n, NULL, 0, &b, &err), RR_EINVAL);
    b = o, b.val_split = 0;
    assert_int_equal(train_code(tr.s, tr.n, NULL, 0, &b, &err), RR_EDATA);
    assert_non_null(strstr(err.message, "validation"));
    free_set(&tr);
}

static void test_binary_model_is_platt_calibrated_with_a_positive_label(void **state) {
    (void)state;
    synth tr = make_set(1000, 2, 0.2, 71);
    for (size_t i = 0; i < tr.n; i++)
        tr.s[i].label = tr.label[i][5] == 'a' ? "weak" : "strong";
    rr_clf_train_opts o = small_opts();
    o.positive = "strong";
    rr_classifier *m = train_ok(&tr, NULL, &o, NULL);
    assert_int_equal(m->cal_method, RR_CLF_CAL_PLATT);
    assert_int_equal(rr_classifier_positive(m), rr_classifier_label_index(m, "strong"));
    size_t ss = rr_classifier_scratch_size(m);
    void *scratch = malloc(ss);
    double p[2];
    const char *t = "clsb1 clsb2 clsb3";
    assert_int_equal(rr_classifier_predict(m, t, strlen(t), scratch, ss, p, NULL), RR_OK);
    assert_true(fabs(p[0] + p[1] - 1) < 1e-12);
    assert_true(p[rr_classifier_positive(m)] > 0.5);
    free(scratch);
    rr_classifier_free(m);
    free_set(&tr);
}

typedef struct feats {
    uint32_t row[64], group[64], n;
} feats;

static void collect_feature(void *ud, uint32_t group, uint32_t row, float value) {
    feats *f = ud;
    assert_true(value == 1.0f);
    f->row[f->n] = row, f->group[f->n++] = group;
}

static uint32_t bucket(uint64_t h, uint32_t buckets) {
    return (uint32_t)(((h >> 32) * (uint64_t)buckets) >> 32);
}

/* The published hash functions say exactly which rows a text hits, in order: words and
 * bigrams at each word's end, a character n-gram per byte of the text with its words joined
 * by one space and a space at each end. Another implementation can reproduce the features
 * from them. */
static void test_feature_hashes_describe_extraction_exactly(void **state) {
    (void)state;
    const uint32_t nb = 1000003;
    const uint64_t seed = 42;
    rr_clf_features f = {.buckets = nb, .word_ngrams = 2, .char_min = 2, .char_max = 3,
                         .hash_seed = seed};
    feats got = {.n = 0};
    rr_clf_extract(&f, "Hi, yo!", 7, collect_feature, &got);
    uint64_t hi = rr_clf_hash_word((const unsigned char *)"hi", 2, seed);
    uint64_t yo = rr_clf_hash_word((const unsigned char *)"yo", 2, seed);
    const char *joined = " hi yo ";
    feats want = {.n = 0};
    uint64_t win = 0;
    for (uint32_t i = 0; i < 7; i++) {
        if (i == 3 || i == 6) { /* a word ends where its separator is read */
            want.row[want.n] = bucket(i == 3 ? hi : yo, nb);
            want.group[want.n++] = RR_CLF_G_WORD;
        }
        if (i == 6) {
            want.row[want.n] = bucket(rr_clf_hash_pair(hi, yo), nb);
            want.group[want.n++] = RR_CLF_G_BIGRAM;
        }
        win = win << 8 | (unsigned char)joined[i];
        for (uint32_t n = 2; n <= 3 && n <= i + 1; n++)
            want.row[want.n] = bucket(rr_clf_hash_chars(win, n, seed), nb),
            want.group[want.n++] = RR_CLF_G_CHAR;
    }
    assert_int_equal(got.n, 14);
    assert_int_equal(got.n, want.n);
    for (uint32_t i = 0; i < want.n; i++) {
        assert_int_equal(got.row[i], want.row[i]);
        assert_int_equal(got.group[i], want.group[i]);
    }
    /* only ASCII is lower-cased; bytes >= 0x80 and digits belong to words */
    rr_clf_features wf = {.buckets = nb, .word_ngrams = 1, .hash_seed = seed};
    got.n = 0;
    rr_clf_extract(&wf, "CAF\xc3\x89\t42x", 9, collect_feature, &got);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.row[0],
                     bucket(rr_clf_hash_word((const unsigned char *)"caf\xc3\x89", 5, seed), nb));
    assert_int_equal(got.row[1],
                     bucket(rr_clf_hash_word((const unsigned char *)"42x", 3, seed), nb));
    /* another seed moves (almost) every key */
    assert_true(rr_clf_hash_word((const unsigned char *)"hi", 2, seed + 1) != hi);
    assert_true(rr_clf_hash_chars(win, 3, seed + 1) != rr_clf_hash_chars(win, 3, seed));
}

/* All 17,576 three-letter n-grams into 1,024 buckets: about 17 a bucket, none far off. */
static void test_character_ngram_hash_spreads_keys_evenly(void **state) {
    (void)state;
    uint32_t load[1024] = {0};
    for (int a = 0; a < 26; a++)
        for (int b = 0; b < 26; b++)
            for (int c = 0; c < 26; c++) {
                uint64_t w = (uint64_t)('a' + a) << 16 | (uint64_t)('a' + b) << 8 | ('a' + c);
                load[bucket(rr_clf_hash_chars(w, 3, 0), 1024)]++;
            }
    uint32_t mx = 0, mn = UINT32_MAX;
    double chi = 0, e = 17576.0 / 1024;
    for (int i = 0; i < 1024; i++) {
        mx = load[i] > mx ? load[i] : mx, mn = load[i] < mn ? load[i] : mn;
        chi += (load[i] - e) * (load[i] - e) / e;
    }
    print_message("3-gram buckets: min %u max %u chi2 %.0f (1023 dof)\n", mn, mx, chi);
    assert_true(mn >= 3 && mx <= 40);
    assert_true(chi < 1250); /* a uniform random hash exceeds this with p ~ 1e-4 */
}

/* A synthetic set over `classes` labels where class c uses words "w<c>_<k>". */
static synth make_many(size_t n, int classes, uint64_t seed) {
    synth d = {calloc(n, sizeof(rr_clf_sample)), calloc(n, 160), calloc(n, 16), n};
    for (size_t i = 0; i < n; i++) {
        int c = (int)(rng_next(&seed) % (uint64_t)classes), len = 0;
        for (int w = 0; w < 7; w++) {
            bool own = rng_next(&seed) % 4 != 0;
            int cls = own ? c : (int)(rng_next(&seed) % (uint64_t)classes);
            len += snprintf(d.text[i] + len, 160 - (size_t)len, "W%d_%u%s", cls,
                            (unsigned)(rng_next(&seed) % 5), w == 3 ? "? " : " ");
        }
        snprintf(d.label[i], 16, "L%03d", c);
        d.s[i] = (rr_clf_sample){d.text[i], strlen(d.text[i]), d.label[i]};
    }
    return d;
}

/* Logits the slow way: every feature's row added in double, then the group weights. */
typedef struct ref_sum {
    const rr_classifier *m;
    double acc[RR_CLF_G__COUNT][64];
    uint32_t n[RR_CLF_G__COUNT];
} ref_sum;

static void ref_feature(void *ud, uint32_t group, uint32_t row, float value) {
    ref_sum *r = ud;
    const rr_classifier *m = r->m;
    r->n[group]++;
    if (!m->row_at[row])
        return;
    for (uint32_t k = 0; k < m->nlabels; k++)
        r->acc[group][k] += (double)value * m->w[m->row_at[row] + k];
}

static void ref_logits(const rr_classifier *m, const char *text, size_t len, double *z) {
    ref_sum *r = calloc(1, sizeof *r);
    r->m = m;
    rr_clf_extract(&m->feat, text, len, ref_feature, r);
    for (uint32_t k = 0; k < m->nlabels; k++) {
        double t = r->acc[RR_CLF_G_NUM][k];
        for (int g = 0; g < RR_CLF_G_NUM; g++)
            t += r->n[g] ? r->acc[g][k] / sqrt((double)r->n[g]) : 0.0;
        z[k] = m->bias[k] + m->scale[k] * t;
    }
    free(r);
}

/* Short texts take one chunk per group; a 6 kB text takes several (over 256 rows). */
static void test_logits_match_a_reference_sum_for_short_and_long_texts(void **state) {
    (void)state;
    synth tr = make_many(3000, 37, 81);
    rr_clf_train_opts o = small_opts();
    rr_classifier *m = train_ok(&tr, NULL, &o, NULL);
    assert_true(m->nlabels == 37 && m->nnum == RR_CLF_NUM_FEATURES);
    size_t ss = rr_classifier_scratch_size(m);
    double *scratch = malloc(ss), z[37], want[37];
    char *big = malloc(8192);
    size_t blen = 0;
    for (size_t i = 0; blen < 6000; i++)
        blen += (size_t)snprintf(big + blen, 8192 - blen, "%s\n", tr.text[i]);
    for (size_t i = 0; i <= 40; i++) {
        const char *t = i < 40 ? tr.s[i].text : big;
        size_t len = i < 40 ? tr.s[i].len : blen;
        assert_int_equal(rr_classifier_logits(m, t, len, scratch, ss, z), RR_OK);
        ref_logits(m, t, len, want);
        for (uint32_t k = 0; k < 37; k++)
            assert_true(fabs(z[k] - want[k]) <= 1e-9 * (1 + fabs(want[k])));
    }
    free(scratch), free(big);
    rr_classifier_free(m);
    free_set(&tr);
}

/* The integer sums are exact, so every kernel gives the same bits; 37 labels also send the
 * softmax through its partial last vector. */
static void test_every_kernel_gives_identical_predictions(void **state) {
    (void)state;
    synth tr = make_many(3000, 37, 91), te = make_many(300, 37, 92);
    rr_clf_train_opts o = small_opts();
    rr_classifier *m = train_ok(&tr, NULL, &o, NULL);
    const char *best = rr_classifier_kernel(m);
    size_t ss = rr_classifier_scratch_size(m);
    double *scratch = malloc(ss), *p = malloc(te.n * 37 * sizeof *p), q[37];
    rr_clf_result *r = malloc(te.n * sizeof *r), rq;
    assert_int_equal(rr_classifier_use_kernel(m, "c"), RR_OK);
    for (size_t i = 0; i < te.n; i++)
        assert_int_equal(rr_classifier_predict(m, te.s[i].text, te.s[i].len, scratch, ss,
                                               p + i * 37, &r[i]), RR_OK);
    const char *names[] = {"sse2", "avx2"};
    int ran = 0;
    for (int k = 0; k < 2; k++) {
        if (rr_classifier_use_kernel(m, names[k]) != RR_OK)
            continue;
        ran++;
        for (size_t i = 0; i < te.n; i++) {
            rr_classifier_predict(m, te.s[i].text, te.s[i].len, scratch, ss, q, &rq);
            assert_memory_equal(q, p + i * 37, sizeof q);
            assert_memory_equal(&rq, &r[i], sizeof rq);
        }
    }
    print_message("compared %d kernel(s) with the C one; the default is %s\n", ran, best);
    assert_int_equal(rr_classifier_use_kernel(m, "mmx"), RR_EINVAL);
    /* the probabilities are a distribution and the decision is their arg-max */
    for (size_t i = 0; i < te.n; i++) {
        double sum = 0;
        for (int k = 0; k < 37; k++)
            sum += p[i * 37 + k], assert_true(p[i * 37 + k] <= p[i * 37 + r[i].top]);
        assert_true(fabs(sum - 1) < 1e-12);
        assert_true(p[i * 37 + r[i].top] == r[i].p_top);
    }
    free(scratch), free(p), free(r);
    rr_classifier_free(m);
    free_set(&tr), free_set(&te);
}

/* One bucket and one-byte n-grams: every byte of a 17 MB text adds 127 to label 0's sum,
 * 2.2e9 in all, past int32; the sums must move to doubles on the way. */
static void test_huge_texts_do_not_overflow_the_integer_sums(void **state) {
    (void)state;
    rr_classifier *m = rr_classifier_alloc(NULL);
    m->feat = (rr_clf_features){.buckets = 1, .char_min = 1, .char_max = 1};
    m->nlabels = 2, m->nrows = 1, m->nused = 1, m->nnz = 2;
    m->labels = calloc(2, sizeof *m->labels);
    m->labels[0] = strdup("up"), m->labels[1] = strdup("down");
    m->bias = calloc(2, sizeof *m->bias), m->scale = calloc(2, sizeof *m->scale);
    m->scale[0] = m->scale[1] = 1;
    m->kp = rr_clf_stride(2);
    m->row_at = calloc(1, sizeof *m->row_at);
    m->w = calloc(2 * m->kp, 1);
    m->row_at[0] = m->kp, m->w[m->kp] = 127, m->w[m->kp + 1] = -127;
    assert_int_equal(rr_classifier_prepare(m), RR_OK);
    size_t n = 17000000, ss = rr_classifier_scratch_size(m);
    char *text = malloc(n);
    memset(text, 'a', n);
    double *scratch = malloc(ss), z[2], want = 127 * sqrt((double)(n + 2)); /* + 2 spaces */
    assert_int_equal(rr_classifier_logits(m, text, n, scratch, ss, z), RR_OK);
    assert_true(fabs(z[0] - want) < 1e-9 * want);
    assert_true(fabs(z[1] + want) < 1e-9 * want);
    free(text), free(scratch);
    rr_classifier_free(m);
}

/* The last stored weight sits just before the checksum: (u16 label, i8 weight). */
static void test_weights_out_of_range_or_out_of_order_are_rejected(void **state) {
    (void)state;
    synth tr = make_set(300, 3, 0.0, 33);
    rr_clf_train_opts o = small_opts();
    rr_classifier *m = train_ok(&tr, NULL, &o, NULL);
    rr_alloc a;
    rr_buf b;
    save(m, &b, &a);
    char *c = malloc(b.len);
    size_t q = b.len - 9, lab = b.len - 11;
    rr_error err = RR_ERROR_INIT;
    memcpy(c, b.p, b.len);
    c[q] = (char)0x80; /* -128: would break the int16 partial sums' bound */
    reseal(c, b.len);
    assert_int_equal(load_code(c, b.len, &err), RR_EMODEL);
    assert_non_null(strstr(err.message, "weight"));
    memcpy(c, b.p, b.len);
    c[q] = 0;
    reseal(c, b.len);
    assert_int_equal(load_code(c, b.len, &err), RR_EMODEL);
    memcpy(c, b.p, b.len);
    c[lab] = 3, c[lab + 1] = 0; /* label 3 of 3 */
    reseal(c, b.len);
    assert_int_equal(load_code(c, b.len, &err), RR_EMODEL);
    assert_non_null(strstr(err.message, "label"));
    memcpy(c, b.p, b.len);
    assert_int_equal(load_code(c, b.len, &err), RR_OK);
    free(c);
    rr_buf_free(&b);
    rr_classifier_free(m);
    free_set(&tr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_is_deterministic_for_a_seed),
        cmocka_unit_test(test_calibration_reduces_ece_on_held_out_data),
        cmocka_unit_test(test_model_round_trips_through_save_and_load),
        cmocka_unit_test(test_corrupt_truncated_and_wrong_version_models_are_rejected),
        cmocka_unit_test(test_predict_allocates_nothing),
        cmocka_unit_test(test_oos_threshold_and_class_answer_unknown),
        cmocka_unit_test(test_apgr_is_half_for_random_and_near_one_for_oracle),
        cmocka_unit_test(test_ece_and_auroc_match_hand_computed_values),
        cmocka_unit_test(test_training_rejects_bad_input_and_absurd_options),
        cmocka_unit_test(test_binary_model_is_platt_calibrated_with_a_positive_label),
        cmocka_unit_test(test_feature_hashes_describe_extraction_exactly),
        cmocka_unit_test(test_character_ngram_hash_spreads_keys_evenly),
        cmocka_unit_test(test_logits_match_a_reference_sum_for_short_and_long_texts),
        cmocka_unit_test(test_every_kernel_gives_identical_predictions),
        cmocka_unit_test(test_huge_texts_do_not_overflow_the_integer_sums),
        cmocka_unit_test(test_weights_out_of_range_or_out_of_order_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
