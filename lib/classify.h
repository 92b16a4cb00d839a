/* Learned text classifiers: hashed word / character n-grams into a multinomial
 * logistic regression, with calibrated probabilities and an out-of-scope decision.
 *
 * How the router uses a classifier (policy `"classifiers": {"task": {"file": "task.rrc"}}`):
 *
 *   build time (once per policy, any thread):
 *     rr_classifier *m;
 *     rc = rr_classifier_load(&m, path, &router->alloc, err);   // RR_EIO / RR_EMODEL /
 *                                                               // RR_EVERSION / RR_ENOMEM
 *     register identifiers from the labels: for i < rr_classifier_label_count(m):
 *       "p.<rr_classifier_label(m, i)>"; plus "task" (string) and "task.p" (number);
 *       for a binary "strong needed" model, "p_strong" = probs[rr_classifier_positive(m)].
 *     scratch = max over the policy's classifiers of rr_classifier_scratch_size(m);
 *     put that many bytes (aligned for double) in each rr_request on its first use,
 *     plus one double per label of the largest model for the probabilities.
 *
 *   per request (hot path, allocation-free, many threads may share one model):
 *     rr_clf_result r;
 *     rc = rr_classifier_predict(m, text, len, scratch, scratch_size, probs, &r);
 *     task   = r.label == RR_CLF_UNKNOWN ? "unknown" : rr_classifier_label(m, r.label);
 *     task.p = r.p_top;                 p.<label i> = probs[i];
 *
 *   teardown: rr_classifier_free(m).
 *
 * A model is immutable after loading and may be used from any number of threads at once;
 * the scratch belongs to one thread at a time. Probabilities are calibrated (temperature
 * scaling for multi-class, Platt scaling for binary models) when the model was trained
 * with held-out data, which `rrctl train` always has.
 *
 * The file format (all integers little-endian), version RR_CLF_FORMAT_VERSION:
 *   magic "RRCLF\0\r\n" | u32 format version | u32 flags (0) | u64 file size |
 *   body (feature settings, name, version, hyperparameters, calibration, out-of-scope
 *   settings, labels, numeric feature names, f32 biases, f32 per-label weight scales,
 *   u32 count of rows with weights, then per such row in increasing row order: u32 row,
 *   u16 count, count x (u16 label, increasing; i8 quantised weight, non-zero, |q| <= 127)) |
 *   u64 xxh3-64 of everything before it.
 * Version 1 files (CSR offsets for every bucket, int16 weights) must be retrained.
 */
#ifndef RR_CLASSIFY_H
#define RR_CLASSIFY_H

#include "base.h"

#define RR_CLF_FORMAT_VERSION 2u
#define RR_CLF_UNKNOWN (-1)
#define RR_CLF_MAX_BUCKETS (1u << 24)
#define RR_CLF_MAX_LABELS 65535u
#define RR_CLF_MAX_CHAR_N 7u
/* Quantised weights are int8 in [-RR_CLF_Q_MAX, RR_CLF_Q_MAX]; rows are stored densely in
 * memory, RR_CLF_STRIDE_ALIGN labels at a time, and a model whose rows would take more than
 * RR_CLF_MAX_WEIGHT_BYTES is refused. */
#define RR_CLF_Q_MAX 127
#define RR_CLF_STRIDE_ALIGN 16u
#define RR_CLF_MAX_WEIGHT_BYTES ((size_t)1 << 30)

typedef struct rr_classifier rr_classifier;

/* The outcome of one prediction. `top` is the arg-max label whatever the out-of-scope
 * rules say; `label` is `top`, or RR_CLF_UNKNOWN when the calibrated top probability is
 * under the model's threshold or `top` is the model's out-of-scope class. */
typedef struct rr_clf_result {
    int32_t label;
    int32_t top;
    double p_top;
} rr_clf_result;

/* Load a model file. `a` may be NULL (libc). Errors: RR_EIO (cannot read), RR_EMODEL
 * (bad magic, truncated, checksum mismatch, inconsistent contents; the message says which
 * and where), RR_EVERSION (a format version this library does not read), RR_ENOMEM. */
int rr_classifier_load(rr_classifier **out, const char *path, const rr_alloc *a,
                       rr_error *err);
/* The same from `len` bytes in memory (copied; `data` may be freed afterwards). */
int rr_classifier_load_bytes(rr_classifier **out, const void *data, size_t len,
                             const rr_alloc *a, rr_error *err);
/* NULL is a no-op. */
void rr_classifier_free(rr_classifier *m);

uint32_t rr_classifier_label_count(const rr_classifier *m);
/* Label `i`, or NULL when out of range. Borrowed from the model. */
const char *rr_classifier_label(const rr_classifier *m, uint32_t i);
/* Index of `name`, or -1. */
int32_t rr_classifier_label_index(const rr_classifier *m, const char *name);
/* For binary "strong model needed" models: the index of the positive label ("strong");
 * -1 for multi-class models. */
int32_t rr_classifier_positive(const rr_classifier *m);
/* The model's name and version as given to `rrctl train`, and its fingerprint (16 hex
 * digits of the file's xxh3 checksum). Borrowed. */
const char *rr_classifier_name(const rr_classifier *m);
const char *rr_classifier_version(const rr_classifier *m);
const char *rr_classifier_fingerprint(const rr_classifier *m);
/* Out-of-scope settings: the threshold on the calibrated top probability (0 = none) and
 * the explicit out-of-scope label (-1 = none). */
double rr_classifier_oos_threshold(const rr_classifier *m);
int32_t rr_classifier_oos_label(const rr_classifier *m);

/* Bytes of scratch rr_classifier_predict needs for this model. */
size_t rr_classifier_scratch_size(const rr_classifier *m);

/* Classify `len` bytes of `text` (UTF-8 expected; any bytes are accepted). Writes the
 * calibrated probability of every label to probs[0..label_count) (may be NULL) and the
 * decision to `res` (may be NULL). Allocates nothing. Errors: RR_EINVAL (NULL model or
 * text with len > 0, scratch too small or not aligned for double). */
int rr_classifier_predict(const rr_classifier *m, const char *text, size_t len,
                          void *scratch, size_t scratch_size, double *probs,
                          rr_clf_result *res);

/* ---- Below: for the trainer (train.c), the CLI and tests, not for the router. ---- */

/* Feature settings, stored in the model. */
typedef struct rr_clf_features {
    uint32_t buckets;     /* hash space, 1..RR_CLF_MAX_BUCKETS */
    uint8_t word_ngrams;  /* 0 none, 1 unigrams, 2 unigrams and bigrams */
    uint8_t char_min;     /* character n-gram sizes; 0 = none */
    uint8_t char_max;     /* <= RR_CLF_MAX_CHAR_N */
    uint8_t numeric;      /* 1: add the named numeric features */
    uint64_t hash_seed;
} rr_clf_features;

/* Feature groups: each text-group's counts are scaled by 1/sqrt(occurrences). */
enum { RR_CLF_G_WORD = 0, RR_CLF_G_BIGRAM, RR_CLF_G_CHAR, RR_CLF_G_NUM, RR_CLF_G__COUNT };
#define RR_CLF_NUM_FEATURES 6u
/* "log_bytes", "log_words", "digit_share", "upper_share", "questions", "lines" */
extern const char *const rr_clf_num_names[RR_CLF_NUM_FEATURES];

/* Checks feature settings; RR_EINVAL with a message naming the bad value. */
int rr_clf_features_check(const rr_clf_features *f, rr_error *err);

/* Calls fn once per feature occurrence: `row` < buckets (+ numeric rows after them),
 * `value` 1 for text features, the feature value for numeric ones. */
typedef void (*rr_clf_feature_fn)(void *ud, uint32_t group, uint32_t row, float value);
void rr_clf_extract(const rr_clf_features *f, const char *text, size_t len,
                    rr_clf_feature_fn fn, void *ud);

enum { RR_CLF_CAL_NONE = 0, RR_CLF_CAL_TEMPERATURE = 1, RR_CLF_CAL_PLATT = 2 };

typedef struct rr_clf_hyper {
    double l2, lr, val_split, prune;
    uint32_t epochs, best_epoch, patience, n_train, n_val;
    uint64_t seed;
} rr_clf_hyper;

/* The row-summing and floating-point kernels prediction runs (see classify.c). */
typedef struct rr_clf_kernel rr_clf_kernel;
struct rr_classifier {
    rr_alloc a;
    rr_clf_features feat;
    rr_clf_hyper hyper;
    uint32_t nlabels, nrows; /* nrows = buckets + numeric features */
    uint32_t nnum;
    char **labels;
    char *name, *version;
    char fingerprint[17];
    uint32_t cal_method;
    double cal[2]; /* temperature: T; Platt: A, B on logit(1) - logit(0) */
    double oos_threshold;
    int32_t oos_label, positive;
    float *bias;      /* nlabels */
    float *scale;     /* nlabels: the weight one quantum stands for, per label */
    uint32_t kp;      /* row stride: nlabels rounded up to RR_CLF_STRIDE_ALIGN */
    uint32_t nused;   /* rows with at least one weight */
    uint32_t nnz;     /* non-zero weights */
    uint32_t *row_at; /* nrows: byte offset of the row in `w`; 0 = no weights */
    int8_t *w;        /* (nused + 1) * kp; the first row is zeros */
    /* Derived by rr_classifier_prepare: bias, scale and the numeric rows as doubles, kp
     * each (padding: bias -inf, the rest 0), and the kernels for this CPU. */
    double *pad;
    const rr_clf_kernel *kern;
};

/* The row stride for `nlabels` labels. */
uint32_t rr_clf_stride(uint32_t nlabels);
/* An empty model to be filled by the trainer (labels, weights allocated by the caller
 * through m->a). */
rr_classifier *rr_classifier_alloc(const rr_alloc *a);
/* Derives the prediction tables from the weights (after loading or training) and picks the
 * fastest kernels this CPU runs. RR_ENOMEM on failure. */
int rr_classifier_prepare(rr_classifier *m);
/* Forces kernels: "avx2", "sse2" or "c"; RR_EINVAL if unknown or not runnable here. All
 * give bit-identical results (integer sums, then the same floating-point operations in the
 * same order), which tests check. Changes the model: not while another thread predicts. */
int rr_classifier_use_kernel(rr_classifier *m, const char *name);
/* The name of the kernels in use. */
const char *rr_classifier_kernel(const rr_classifier *m);
/* The feature hashes (for tests and other implementations): a character n-gram of the
 * last n bytes of `window` (the latest lowest), a word's bytes (ASCII lower-cased), a pair
 * of word hashes for a bigram. The bucket is (hash >> 32) * buckets >> 32. */
uint64_t rr_clf_hash_chars(uint64_t window, uint32_t n, uint64_t seed);
uint64_t rr_clf_hash_word(const unsigned char *p, size_t n, uint64_t seed);
uint64_t rr_clf_hash_pair(uint64_t first, uint64_t second);
/* Raw (uncalibrated) logits into out[0..nlabels). Scratch as predict. */
int rr_classifier_logits(const rr_classifier *m, const char *text, size_t len, void *scratch,
                         size_t scratch_size, double *out);
/* Turn logits into calibrated probabilities (in place) and a decision. */
void rr_classifier_calibrate(const rr_classifier *m, double *logits_to_probs,
                             rr_clf_result *res);
/* Serialise to `out` (appended) and set m->fingerprint. RR_ENOMEM on failure. */
int rr_classifier_save(rr_classifier *m, rr_buf *out);
int rr_classifier_write(rr_classifier *m, const char *path, rr_error *err);

/* ---- Training (train.c) ---- */

typedef struct rr_clf_sample {
    const char *text;
    size_t len;
    const char *label;
} rr_clf_sample;

typedef struct rr_clf_epoch_info {
    uint32_t epoch;
    double lr, train_loss, val_loss, val_acc;
    int best;
} rr_clf_epoch_info;

typedef struct rr_clf_train_opts {
    rr_clf_features feat;
    double l2;          /* >= 0 */
    double lr;          /* initial learning rate, (0, 100] */
    double val_split;   /* share of the training set held out when `val` is empty */
    double prune;       /* drop weights under prune * max |w|; [0, 1) */
    uint32_t epochs;    /* maximum, 1..10000 */
    uint32_t patience;  /* epochs without validation improvement before stopping */
    uint64_t seed;
    const char *positive;  /* binary models: the label whose probability is "p_strong" */
    const char *oos_label; /* examples with this label are out of scope (may be NULL) */
    double oos_threshold;  /* 0 none, (0, 1] fixed, < 0: chosen on validation data */
    int calibrate;         /* 1: fit temperature / Platt scaling on validation data */
    const char *name, *version;
    void (*on_epoch)(void *ud, const rr_clf_epoch_info *e);
    void *ud;
} rr_clf_train_opts;

/* Sensible defaults (what `rrctl train` uses). */
void rr_clf_train_opts_default(rr_clf_train_opts *o);

typedef struct rr_clf_train_report {
    uint32_t n_train, n_val, n_val_oos, nlabels, used_rows, best_epoch, epochs_run;
    double val_acc, val_loss, ece_before, ece_after, oos_threshold;
    double cal[2];
    uint32_t nnz;
} rr_clf_train_report;

/* Train a model on `train` (and `val`, or a split of `train` when nval == 0). Labels are
 * sorted by name. Deterministic for a seed: the same inputs and options give a
 * byte-identical model file. Errors: RR_EINVAL (bad option), RR_EDATA (empty set, one
 * class, validation label unknown to training, empty label, no validation data),
 * RR_EUTF8 (text not UTF-8; the message names the example and byte), RR_ENOMEM. */
int rr_clf_train(rr_classifier **out, const rr_clf_sample *train, size_t ntrain,
                 const rr_clf_sample *val, size_t nval, const rr_clf_train_opts *o,
                 const rr_alloc *a, rr_clf_train_report *rep, rr_error *err);

#endif
