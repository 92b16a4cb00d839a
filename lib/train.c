/* Training: featurise, SGD on a multinomial logistic regression with exact L2 (weight
 * scaling), early stopping on validation loss, pruning + int16 quantisation, then
 * calibration and the out-of-scope threshold fitted on the validation data through the
 * final (quantised) model, so what is calibrated is what ships. Single-threaded and seeded:
 * the same inputs give the same bytes. */
#include "classify.h"
#include "eval_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define ECE_BINS 15

/* Rows are padded to a multiple of 4 floats; explicit vectors keep the inner loops SIMD at
 * -O2 whatever the compiler's cost model says. aligned(4): any allocator will do. */
typedef float v4f __attribute__((vector_size(16), aligned(4)));

static inline void axpy(float *restrict y, float a, const float *restrict x, uint32_t kp) {
    v4f av = {a, a, a, a};
    for (uint32_t c = 0; c < kp; c += 4) {
        v4f *yv = (v4f *)(y + c);
        *yv += av * *(const v4f *)(x + c);
    }
}
#define NO_ROW UINT32_MAX

void rr_clf_train_opts_default(rr_clf_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->feat = (rr_clf_features){.buckets = 1u << 18, .word_ngrams = 2, .char_min = 4,
                                .char_max = 4, .numeric = 1, .hash_seed = 0};
    o->l2 = 1e-6;
    o->lr = 1.0;
    o->val_split = 0.1;
    o->prune = 0.01;
    o->epochs = 30;
    o->patience = 3;
    o->seed = 1;
    o->calibrate = 1;
    o->name = "classifier";
    o->version = "1";
}

/* A featurised set in CSR form; y = -1 marks an out-of-scope example. */
typedef struct ds {
    uint32_t n;
    uint32_t *off;
    uint32_t *col;
    float *val;
    int32_t *y;
    const rr_clf_sample **src;
} ds;

typedef struct rowmap {
    uint32_t *key, *val;
    uint32_t cap, n;
} rowmap;

typedef struct fx {
    uint32_t row, g;
    float v;
} fx;

typedef struct trainer {
    rr_alloc a;
    const rr_clf_train_opts *o;
    rr_error *err;
    const char **labels;
    uint32_t k, kp;
    int32_t oos_index;
    ds tr, va;
    rowmap map;
    uint32_t *row_of; /* compact -> model row */
    float *V, *best, *bias, *bbest;
    double s;
    double *z;
    float *g; /* kp floats; padding lanes stay 0 */
    fx *tmp;
    size_t tmp_n, tmp_cap;
    size_t nnz_cap;
    bool oom;
} trainer;

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int check_opts(const rr_clf_train_opts *o, rr_error *err) {
    int rc = rr_clf_features_check(&o->feat, err);
    if (rc)
        return rc;
    if (!(o->l2 >= 0 && o->l2 <= 1))
        return rr_err(err, RR_EINVAL, "l2: %g is not within 0..1", o->l2);
    if (!(o->lr > 0 && o->lr <= 100))
        return rr_err(err, RR_EINVAL, "learning rate: %g is not within (0, 100]", o->lr);
    if (o->epochs < 1 || o->epochs > 10000)
        return rr_err(err, RR_EINVAL, "epochs: %u is not within 1..10000", o->epochs);
    if (o->patience < 1)
        return rr_err(err, RR_EINVAL, "patience: must be at least 1");
    if (!(o->val_split >= 0 && o->val_split < 0.9))
        return rr_err(err, RR_EINVAL, "validation split: %g is not within [0, 0.9)",
                      o->val_split);
    if (!(o->prune >= 0 && o->prune < 1))
        return rr_err(err, RR_EINVAL, "prune: %g is not within [0, 1)", o->prune);
    if (!(o->oos_threshold <= 1) || isnan(o->oos_threshold))
        return rr_err(err, RR_EINVAL, "out-of-scope threshold: %g is over 1", o->oos_threshold);
    if (o->oos_threshold < 0 && !o->oos_label)
        return rr_err(err, RR_EINVAL, "an automatic out-of-scope threshold needs an "
                      "out-of-scope label for the validation examples");
    return RR_OK;
}

static int check_samples(const rr_clf_sample *s, size_t n, const char *what, rr_error *err) {
    for (size_t i = 0; i < n; i++) {
        if (!s[i].label || !s[i].label[0])
            return rr_err(err, RR_EDATA, "%s example %zu: empty label", what, i + 1);
        if (!s[i].text && s[i].len)
            return rr_err(err, RR_EINVAL, "%s example %zu: NULL text", what, i + 1);
        size_t bad = rr_utf8_check(s[i].text, s[i].len);
        if (bad != s[i].len)
            return rr_err(err, RR_EUTF8, "%s example %zu: invalid UTF-8 at byte %zu", what,
                          i + 1, bad);
        bad = rr_utf8_check(s[i].label, strlen(s[i].label));
        if (s[i].label[bad])
            return rr_err(err, RR_EUTF8, "%s example %zu: label is not UTF-8", what, i + 1);
    }
    return RR_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int32_t label_find(const trainer *t, const char *name) {
    const char **p = bsearch(&name, t->labels, t->k, sizeof *t->labels, cmp_str);
    return p ? (int32_t)(p - t->labels) : -1;
}

static int build_labels(trainer *t, const rr_clf_sample *s, size_t n) {
    t->labels = rr_malloc(&t->a, n * sizeof *t->labels);
    if (!t->labels)
        return rr_err(t->err, RR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        t->labels[i] = s[i].label;
    qsort(t->labels, n, sizeof *t->labels, cmp_str);
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || strcmp(t->labels[k - 1], t->labels[i]))
            t->labels[k++] = t->labels[i];
    t->k = k;
    t->kp = (k + 3) & ~3u;
    if (k < 2)
        return rr_err(t->err, RR_EDATA, "the training set has a single class (\"%s\"); a "
                      "classifier needs at least two", t->labels[0]);
    if (k > RR_CLF_MAX_LABELS)
        return rr_err(t->err, RR_EDATA, "the training set has %u classes; at most %u",
                      k, RR_CLF_MAX_LABELS);
    t->oos_index = t->o->oos_label ? label_find(t, t->o->oos_label) : -1;
    return RR_OK;
}

static int32_t sample_y(const trainer *t, const rr_clf_sample *s) {
    int32_t y = label_find(t, s->label);
    if (y < 0 && t->o->oos_label && !strcmp(s->label, t->o->oos_label))
        return -1;
    return y < 0 ? -2 : y;
}

/* Sets t->tr.src / t->va.src. With no validation set, a seeded hash of each text decides,
 * so duplicates land on one side; a class left with no training example gets its
 * held-out examples back. */
static int split(trainer *t, const rr_clf_sample *train, size_t ntrain,
                 const rr_clf_sample *val, size_t nval) {
    size_t cap = ntrain + nval;
    t->tr.src = rr_malloc(&t->a, cap * sizeof *t->tr.src);
    t->va.src = rr_malloc(&t->a, cap * sizeof *t->va.src);
    uint32_t *cnt = rr_calloc(&t->a, t->k, sizeof *cnt);
    if (!t->tr.src || !t->va.src || !cnt) {
        rr_free(&t->a, cnt);
        return rr_err(t->err, RR_ENOMEM, "out of memory");
    }
    uint32_t nt = 0, nv = 0;
    uint64_t cut = (uint64_t)(t->o->val_split * 1e6);
    for (size_t i = 0; i < ntrain; i++) {
        bool held = !nval && XXH3_64bits_withSeed(train[i].text, train[i].len, t->o->seed) %
                                     1000000 < cut;
        if (held)
            t->va.src[nv++] = &train[i];
        else {
            t->tr.src[nt++] = &train[i];
            cnt[label_find(t, train[i].label)]++;
        }
    }
    uint32_t keep = 0;
    for (uint32_t i = 0; i < nv; i++) {
        int32_t y = label_find(t, t->va.src[i]->label);
        if (cnt[y] == 0)
            t->tr.src[nt++] = t->va.src[i];
        else
            t->va.src[keep++] = t->va.src[i];
    }
    nv = keep;
    rr_free(&t->a, cnt);
    for (size_t i = 0; i < nval; i++) {
        if (sample_y(t, &val[i]) == -2)
            return rr_err(t->err, RR_EDATA, "validation example %zu has label \"%s\", which "
                          "the training set does not have", i + 1, val[i].label);
        t->va.src[nv++] = &val[i];
    }
    t->tr.n = nt;
    t->va.n = nv;
    if (!nv)
        return rr_err(t->err, RR_EDATA, "no validation data: give a validation set or a "
                      "validation split over 0 (early stopping and calibration need one)");
    return RR_OK;
}

static void collect(void *ud, uint32_t group, uint32_t row, float value) {
    trainer *t = ud;
    if (t->tmp_n == t->tmp_cap) {
        size_t nc = t->tmp_cap ? t->tmp_cap * 2 : 1024;
        fx *p = rr_realloc(&t->a, t->tmp, t->tmp_cap * sizeof *p, nc * sizeof *p);
        if (!p) {
            t->oom = true;
            return;
        }
        t->tmp = p;
        t->tmp_cap = nc;
    }
    t->tmp[t->tmp_n++] = (fx){row, group, value};
}

static int cmp_fx(const void *a, const void *b) {
    const fx *x = a, *y = b;
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    return x->g < y->g ? -1 : x->g > y->g;
}

static bool ds_reserve(trainer *t, ds *d, size_t need) {
    if (need <= t->nnz_cap)
        return true;
    size_t nc = t->nnz_cap * 2 > need ? t->nnz_cap * 2 : need + 4096;
    uint32_t *c = rr_realloc(&t->a, d->col, t->nnz_cap * 4, nc * 4);
    if (c)
        d->col = c;
    float *v = rr_realloc(&t->a, d->val, t->nnz_cap * 4, nc * 4);
    if (v)
        d->val = v;
    if (!c || !v)
        return false;
    t->nnz_cap = nc;
    return true;
}

/* One example's features, merged per row, scaled so that prediction's per-group
 * 1/sqrt(occurrences) normalisation is reproduced exactly. */
static bool featurise_one(trainer *t, ds *d, const rr_clf_sample *s, uint32_t *nnz) {
    uint32_t per[RR_CLF_G__COUNT] = {0};
    t->tmp_n = 0;
    rr_clf_extract(&t->o->feat, s->text ? s->text : "", s->len, collect, t);
    if (t->oom)
        return false;
    for (size_t i = 0; i < t->tmp_n; i++)
        per[t->tmp[i].g]++;
    qsort(t->tmp, t->tmp_n, sizeof *t->tmp, cmp_fx);
    if (!ds_reserve(t, d, *nnz + t->tmp_n))
        return false;
    for (size_t i = 0; i < t->tmp_n; i++) {
        const fx *f = &t->tmp[i];
        float v = f->g == RR_CLF_G_NUM ? f->v : (float)(1.0 / sqrt((double)per[f->g]));
        if (*nnz > d->off[d->n] && d->col[*nnz - 1] == f->row)
            d->val[*nnz - 1] += v;
        else {
            d->col[*nnz] = f->row;
            d->val[(*nnz)++] = v;
        }
    }
    return true;
}

static int featurise(trainer *t, ds *d) {
    uint32_t n = d->n, nnz = 0;
    d->off = rr_malloc(&t->a, ((size_t)n + 1) * sizeof *d->off);
    d->y = rr_malloc(&t->a, ((size_t)n + 1) * sizeof *d->y);
    t->nnz_cap = 0;
    if (!d->off || !d->y)
        return rr_err(t->err, RR_ENOMEM, "out of memory featurising");
    d->n = 0;
    d->off[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!featurise_one(t, d, d->src[i], &nnz))
            return rr_err(t->err, RR_ENOMEM, "out of memory featurising");
        d->y[i] = sample_y(t, d->src[i]);
        d->off[++d->n] = nnz;
    }
    return RR_OK;
}

static uint32_t map_slot(const rowmap *m, uint32_t row) {
    uint32_t i = (uint32_t)((row * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & (m->cap - 1);
    while (m->key[i] != NO_ROW && m->key[i] != row)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static bool map_grow(trainer *t) {
    rowmap old = t->map, *m = &t->map;
    m->cap = old.cap ? old.cap * 2 : 1u << 16;
    m->key = rr_malloc(&t->a, (size_t)m->cap * 4);
    m->val = rr_malloc(&t->a, (size_t)m->cap * 4);
    if (!m->key || !m->val) {
        rr_free(&t->a, m->key), rr_free(&t->a, m->val);
        *m = old;
        return false;
    }
    memset(m->key, 0xff, (size_t)m->cap * 4);
    for (uint32_t i = 0; i < old.cap; i++) {
        if (old.key[i] == NO_ROW)
            continue;
        uint32_t j = map_slot(m, old.key[i]);
        m->key[j] = old.key[i];
        m->val[j] = old.val[i];
    }
    rr_free(&t->a, old.key);
    rr_free(&t->a, old.val);
    return true;
}

/* Training rows get compact ids in order of first use; validation rows the training set
 * never saw are dropped (their weights would stay zero). */
static int compact(trainer *t) {
    ds *d = &t->tr;
    for (uint32_t j = 0; j < d->off[d->n]; j++) {
        if (2 * (t->map.n + 1) > t->map.cap && !map_grow(t))
            return rr_err(t->err, RR_ENOMEM, "out of memory");
        uint32_t i = map_slot(&t->map, d->col[j]);
        if (t->map.key[i] == NO_ROW) {
            t->map.key[i] = d->col[j];
            t->map.val[i] = t->map.n++;
        }
        d->col[j] = t->map.val[i];
    }
    t->row_of = rr_malloc(&t->a, ((size_t)t->map.n + 1) * 4);
    if (!t->row_of)
        return rr_err(t->err, RR_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < t->map.cap; i++)
        if (t->map.key[i] != NO_ROW)
            t->row_of[t->map.val[i]] = t->map.key[i];
    d = &t->va;
    uint32_t w = 0;
    for (uint32_t e = 0; e < d->n; e++) {
        uint32_t from = d->off[e], to = d->off[e + 1];
        d->off[e] = w;
        for (uint32_t j = from; j < to; j++) {
            uint32_t i = map_slot(&t->map, d->col[j]);
            if (t->map.key[i] != NO_ROW) {
                d->col[w] = t->map.val[i];
                d->val[w++] = d->val[j];
            }
        }
    }
    d->off[d->n] = w;
    return RR_OK;
}

/* z = bias + s * sum x_j V[col_j]; returns -log softmax(z)[y] (0 when y < 0). */
static double forward(const trainer *t, const ds *d, uint32_t e, const float *V, double s,
                      const float *bias, double *z) {
    uint32_t kp = t->kp, k = t->k;
    float *acc = t->g;
    memset(acc, 0, kp * sizeof *acc);
    for (uint32_t j = d->off[e]; j < d->off[e + 1]; j++) {
        axpy(acc, d->val[j], V + (size_t)d->col[j] * kp, kp);
    }
    double mx = -INFINITY, sum = 0;
    for (uint32_t c = 0; c < k; c++) {
        z[c] = bias[c] + s * acc[c];
        mx = z[c] > mx ? z[c] : mx;
    }
    for (uint32_t c = 0; c < k; c++)
        sum += exp(z[c] - mx);
    int32_t y = d->y[e];
    return y >= 0 ? log(sum) + mx - z[y] : 0;
}

static void softmax_from(double *z, uint32_t k) {
    double mx = -INFINITY, sum = 0;
    for (uint32_t c = 0; c < k; c++)
        mx = z[c] > mx ? z[c] : mx;
    for (uint32_t c = 0; c < k; c++)
        sum += (z[c] = exp(z[c] - mx));
    for (uint32_t c = 0; c < k; c++)
        z[c] /= sum;
}

/* One SGD step on example e: exact L2 via the scale s (W = s V). */
static double sgd_step(trainer *t, uint32_t e, double lr) {
    ds *d = &t->tr;
    double loss = forward(t, d, e, t->V, t->s, t->bias, t->z);
    uint32_t k = t->k, kp = t->kp;
    int32_t y = d->y[e];
    softmax_from(t->z, k);
    t->z[y] -= 1.0;
    t->s *= 1.0 - lr * t->o->l2;
    if (t->s < 1e-3) {
        size_t n = (size_t)t->map.n * kp;
        for (size_t i = 0; i < n; i++)
            t->V[i] = (float)(t->V[i] * t->s);
        t->s = 1.0;
    }
    double coef = lr / t->s;
    float *g = t->g;
    for (uint32_t c = 0; c < kp; c++)
        g[c] = c < k ? (float)t->z[c] : 0.0f;
    for (uint32_t c = 0; c < k; c++)
        t->bias[c] -= (float)(lr * t->z[c]);
    for (uint32_t j = d->off[e]; j < d->off[e + 1]; j++) {
        axpy(t->V + (size_t)d->col[j] * kp, (float)(-coef * d->val[j]), g, kp);
    }
    return loss;
}

static void evaluate(trainer *t, double *loss, double *acc) {
    double l = 0;
    uint32_t n = 0, right = 0;
    for (uint32_t e = 0; e < t->va.n; e++) {
        if (t->va.y[e] < 0)
            continue;
        l += forward(t, &t->va, e, t->V, t->s, t->bias, t->z);
        uint32_t top = 0;
        for (uint32_t c = 1; c < t->k; c++)
            top = t->z[c] > t->z[top] ? c : top;
        right += (int32_t)top == t->va.y[e];
        n++;
    }
    *loss = n ? l / n : 0;
    *acc = n ? (double)right / n : 0;
}

static void snapshot(trainer *t) {
    size_t n = (size_t)t->map.n * t->kp;
    for (size_t i = 0; i < n; i++)
        t->best[i] = (float)(t->V[i] * t->s);
    memcpy(t->bbest, t->bias, t->k * sizeof *t->bias);
}

/* Learning rate decays as lr / (1 + epoch / 4); stops after `patience` epochs without a
 * lower validation loss and keeps the best epoch's weights. */
static int run_epochs(trainer *t, rr_clf_train_report *rep) {
    uint32_t n = t->tr.n, *order = rr_malloc(&t->a, (size_t)n * 4);
    if (!order)
        return rr_err(t->err, RR_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++)
        order[i] = i;
    uint64_t rng = t->o->seed;
    double best = INFINITY;
    uint32_t since = 0;
    for (uint32_t ep = 1; ep <= t->o->epochs && since < t->o->patience; ep++) {
        for (uint32_t i = n; i > 1; i--) {
            uint32_t j = (uint32_t)(splitmix(&rng) % i);
            uint32_t tmp = order[i - 1];
            order[i - 1] = order[j];
            order[j] = tmp;
        }
        double lr = t->o->lr / (1.0 + (ep - 1) / 4.0), tl = 0, vl, va;
        for (uint32_t i = 0; i < n; i++)
            tl += sgd_step(t, order[i], lr);
        evaluate(t, &vl, &va);
        rr_clf_epoch_info info = {ep, lr, tl / n, vl, va, vl < best};
        rep->epochs_run = ep;
        if (vl < best) {
            best = vl;
            since = 0;
            snapshot(t);
            rep->best_epoch = ep;
            rep->val_loss = vl;
            rep->val_acc = va;
        } else {
            since++;
        }
        if (t->o->on_epoch)
            t->o->on_epoch(t->o->ud, &info);
    }
    rr_free(&t->a, order);
    return RR_OK;
}

static int fill_meta(trainer *t, rr_classifier *m, const rr_clf_train_report *rep) {
    const rr_clf_train_opts *o = t->o;
    m->feat = o->feat;
    m->nnum = o->feat.numeric ? RR_CLF_NUM_FEATURES : 0;
    m->nrows = o->feat.buckets + m->nnum;
    m->nlabels = t->k;
    m->hyper = (rr_clf_hyper){.l2 = o->l2, .lr = o->lr, .val_split = o->val_split,
                              .prune = o->prune, .epochs = o->epochs,
                              .best_epoch = rep->best_epoch, .patience = o->patience,
                              .n_train = t->tr.n, .n_val = t->va.n, .seed = o->seed};
    m->oos_label = t->oos_index;
    m->positive = o->positive ? label_find(t, o->positive) : -1;
    if (o->positive && m->positive < 0)
        return rr_err(t->err, RR_EDATA, "positive label \"%s\" is not in the training set",
                      o->positive);
    if (o->positive && t->k != 2)
        return rr_err(t->err, RR_EDATA, "a binary model needs exactly two labels, the "
                      "training set has %u", t->k);
    m->name = rr_strdup(&m->a, o->name ? o->name : "classifier");
    m->version = rr_strdup(&m->a, o->version ? o->version : "1");
    m->labels = rr_calloc(&m->a, t->k, sizeof *m->labels);
    m->bias = rr_malloc(&m->a, t->k * sizeof *m->bias);
    if (!m->name || !m->version || !m->labels || !m->bias)
        return rr_err(t->err, RR_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < t->k; i++)
        if (!(m->labels[i] = rr_strdup(&m->a, t->labels[i])))
            return rr_err(t->err, RR_ENOMEM, "out of memory");
    memcpy(m->bias, t->bbest, t->k * sizeof *m->bias);
    return RR_OK;
}

/* Each label's weights are int8 with a scale of its own: one scale for all labels left
 * rare labels' weights a few quanta wide. Weights under prune * max|w| are dropped. */
static int8_t quantum(float w, float scale, float cut) {
    if (!(fabsf(w) >= cut) || scale <= 0)
        return 0;
    long q = lrintf(w / scale);
    return (int8_t)(q > RR_CLF_Q_MAX ? RR_CLF_Q_MAX : q < -RR_CLF_Q_MAX ? -RR_CLF_Q_MAX : q);
}

static int fill_weights(trainer *t, rr_classifier *m) {
    uint32_t k = t->k, tk = t->kp, u = t->map.n, nused = 0;
    uint64_t nnz = 0;
    m->kp = rr_clf_stride(k);
    m->scale = rr_calloc(&m->a, k, sizeof *m->scale);
    m->row_at = rr_calloc(&m->a, m->nrows, sizeof *m->row_at);
    if (!m->scale || !m->row_at)
        return rr_err(t->err, RR_ENOMEM, "out of memory");
    float mx = 0;
    for (uint32_t i = 0; i < u; i++)
        for (uint32_t c = 0; c < k; c++) {
            float a = fabsf(t->best[(size_t)i * tk + c]);
            m->scale[c] = a > m->scale[c] ? a : m->scale[c];
            mx = a > mx ? a : mx;
        }
    for (uint32_t c = 0; c < k; c++)
        m->scale[c] /= RR_CLF_Q_MAX;
    float cut = (float)(t->o->prune * mx);
    for (uint32_t i = 0; i < u; i++) { /* mark the rows that keep a weight */
        const float *w = t->best + (size_t)i * tk;
        uint32_t n = 0;
        for (uint32_t c = 0; c < k; c++)
            n += quantum(w[c], m->scale[c], cut) != 0;
        m->row_at[t->row_of[i]] = n > 0;
        nused += n > 0, nnz += n;
    }
    size_t bytes = ((size_t)nused + 1) * m->kp;
    if (bytes > RR_CLF_MAX_WEIGHT_BYTES)
        return rr_err(t->err, RR_EDATA, "model too large: %u rows x %u labels need %zu bytes "
                      "of weights, at most %zu (use fewer buckets or more pruning)", nused, k,
                      bytes, RR_CLF_MAX_WEIGHT_BYTES);
    m->w = rr_calloc(&m->a, bytes, 1);
    if (!m->w)
        return rr_err(t->err, RR_ENOMEM, "out of memory");
    for (uint32_t r = 0, at = m->kp; r < m->nrows; r++) /* rows in bucket order, as loaded */
        if (m->row_at[r])
            m->row_at[r] = at, at += m->kp;
    for (uint32_t i = 0; i < u; i++) {
        uint32_t at = m->row_at[t->row_of[i]];
        for (uint32_t c = 0; at && c < k; c++)
            m->w[at + c] = quantum(t->best[(size_t)i * tk + c], m->scale[c], cut);
    }
    m->nused = nused, m->nnz = (uint32_t)nnz;
    if (rr_classifier_prepare(m))
        return rr_err(t->err, RR_ENOMEM, "out of memory");
    return RR_OK;
}

static double nll_temp(const double *Z, const int32_t *y, uint32_t n, uint32_t k, double t) {
    double l = 0;
    for (uint32_t e = 0; e < n; e++) {
        const double *z = Z + (size_t)e * k;
        if (y[e] < 0)
            continue;
        double mx = -INFINITY, s = 0;
        for (uint32_t c = 0; c < k; c++)
            mx = z[c] / t > mx ? z[c] / t : mx;
        for (uint32_t c = 0; c < k; c++)
            s += exp(z[c] / t - mx);
        l += log(s) + mx - z[y[e]] / t;
    }
    return l;
}

/* Golden-section search over log T in [-4, 4]: NLL is unimodal in T. */
static double fit_temperature(const double *Z, const int32_t *y, uint32_t n, uint32_t k) {
    const double g = (sqrt(5.0) - 1) / 2;
    double lo = -4, hi = 4, a = hi - g * (hi - lo), b = lo + g * (hi - lo);
    double fa = nll_temp(Z, y, n, k, exp(a)), fb = nll_temp(Z, y, n, k, exp(b));
    for (int it = 0; it < 60; it++) {
        if (fa < fb) {
            hi = b, b = a, fb = fa;
            a = hi - g * (hi - lo);
            fa = nll_temp(Z, y, n, k, exp(a));
        } else {
            lo = a, a = b, fa = fb;
            b = lo + g * (hi - lo);
            fb = nll_temp(Z, y, n, k, exp(b));
        }
    }
    return exp((lo + hi) / 2);
}

static double platt_nll(const double *Z, const int32_t *y, uint32_t n, double A, double B) {
    double l = 0;
    for (uint32_t e = 0; e < n; e++) {
        if (y[e] < 0)
            continue;
        double f = A * (Z[2 * e + 1] - Z[2 * e]) + B;
        /* -log sigmoid(+-f), computed stably */
        double m = y[e] == 1 ? -f : f;
        l += m > 0 ? m + log1p(exp(-m)) : log1p(exp(m));
    }
    return l;
}

/* Platt scaling on d = z1 - z0: Newton steps with backtracking on the 2-parameter NLL. */
static void fit_platt(const double *Z, const int32_t *y, uint32_t n, double *A, double *B) {
    double a = 1, b = 0, f = platt_nll(Z, y, n, a, b);
    for (int it = 0; it < 100; it++) {
        double ga = 0, gb = 0, haa = 1e-9, hab = 0, hbb = 1e-9;
        for (uint32_t e = 0; e < n; e++) {
            if (y[e] < 0)
                continue;
            double d = Z[2 * e + 1] - Z[2 * e], p = 1 / (1 + exp(-(a * d + b)));
            double r = p - (y[e] == 1), w = p * (1 - p);
            ga += r * d, gb += r;
            haa += w * d * d, hab += w * d, hbb += w;
        }
        double det = haa * hbb - hab * hab;
        if (!(det > 0))
            break;
        double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det, step = 1;
        double nf = platt_nll(Z, y, n, a - da, b - db);
        while (nf > f && step > 1e-6) {
            step /= 2;
            nf = platt_nll(Z, y, n, a - step * da, b - step * db);
        }
        if (nf > f || f - nf < 1e-10 * (1 + f))
            break;
        a -= step * da, b -= step * db, f = nf;
    }
    *A = a, *B = b;
}

/* ECE of the model's current calibration over the in-scope validation examples. */
static double ece_of(const rr_classifier *m, const double *Z, const int32_t *y, uint32_t n,
                     double *p, double *conf, uint8_t *ok) {
    uint32_t k = m->nlabels, j = 0;
    for (uint32_t e = 0; e < n; e++) {
        if (y[e] < 0)
            continue;
        rr_clf_result r;
        memcpy(p, Z + (size_t)e * k, k * sizeof *p);
        rr_classifier_calibrate(m, p, &r);
        conf[j] = r.p_top;
        ok[j++] = r.top == y[e];
    }
    return rr_ece(conf, ok, j, ECE_BINS);
}

typedef struct confidx {
    double conf;
    uint32_t e;
} confidx;

static int cmp_conf(const void *a, const void *b) {
    const confidx *x = a, *y = b;
    if (x->conf != y->conf)
        return x->conf < y->conf ? -1 : 1;
    return x->e < y->e ? -1 : x->e > y->e;
}

/* Threshold maximising validation accuracy when "unknown" is the right answer for
 * out-of-scope examples (they count like one more class). Sweeping the threshold up past
 * each distinct confidence rejects those examples: in-scope ones lose their hit, out-of-scope
 * ones not already caught by the out-of-scope class gain one. Ties keep the lower value. */
static double pick_threshold(const rr_classifier *m, const double *Z, const int32_t *y,
                             uint32_t n, double *p, confidx *v) {
    uint32_t k = m->nlabels;
    double score = 0;
    for (uint32_t e = 0; e < n; e++) {
        rr_clf_result r;
        memcpy(p, Z + (size_t)e * k, k * sizeof *p);
        rr_classifier_calibrate(m, p, &r);
        v[e] = (confidx){r.p_top, e};
        bool ok = y[e] >= 0 ? r.label == y[e] : r.label == RR_CLF_UNKNOWN;
        score += ok;
        /* the top bit remembers whether the example is right when nothing is rejected */
        v[e].e = e | (ok ? 0x80000000u : 0);
    }
    qsort(v, n, sizeof *v, cmp_conf);
    double best = score, best_t = 0;
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        for (; j < n && v[j].conf == v[i].conf; j++) {
            uint32_t e = v[j].e & 0x7fffffffu;
            bool ok = v[j].e >> 31;
            score += y[e] >= 0 ? -(double)ok : (double)!ok;
        }
        /* every example with conf <= v[i].conf is now rejected: threshold half-way up */
        double t = j < n ? (v[i].conf + v[j].conf) / 2 : 1.0;
        if (score > best)
            best = score, best_t = t;
        i = j;
    }
    return best_t;
}

static int calibrate(trainer *t, rr_classifier *m, rr_clf_train_report *rep) {
    uint32_t n = t->va.n, k = t->k, nin = 0;
    size_t ss = rr_classifier_scratch_size(m);
    void *scratch = rr_malloc(&t->a, ss);
    double *Z = rr_malloc(&t->a, (size_t)n * k * sizeof *Z);
    double *p = rr_malloc(&t->a, (size_t)k * sizeof *p);
    double *conf = rr_malloc(&t->a, (size_t)n * sizeof *conf);
    uint8_t *ok = rr_malloc(&t->a, n);
    confidx *v = rr_malloc(&t->a, (size_t)n * sizeof *v);
    int rc = RR_OK;
    if (!scratch || !Z || !p || !conf || !ok || !v)
        rc = rr_err(t->err, RR_ENOMEM, "out of memory calibrating");
    for (uint32_t e = 0; !rc && e < n; e++) {
        const rr_clf_sample *s = t->va.src[e];
        rr_classifier_logits(m, s->text ? s->text : "", s->len, scratch, ss, Z + (size_t)e * k);
        nin += t->va.y[e] >= 0;
    }
    if (!rc) {
        m->cal_method = RR_CLF_CAL_NONE;
        rep->ece_before = ece_of(m, Z, t->va.y, n, p, conf, ok);
        if (t->o->calibrate && nin && k == 2) {
            fit_platt(Z, t->va.y, n, &m->cal[0], &m->cal[1]);
            m->cal_method = RR_CLF_CAL_PLATT;
        } else if (t->o->calibrate && nin) {
            m->cal[0] = fit_temperature(Z, t->va.y, n, k);
            m->cal_method = RR_CLF_CAL_TEMPERATURE;
        }
        rep->ece_after = ece_of(m, Z, t->va.y, n, p, conf, ok);
        rep->cal[0] = m->cal[0], rep->cal[1] = m->cal[1];
        if (t->o->oos_threshold < 0) {
            if (nin == n && t->oos_index < 0)
                rc = rr_err(t->err, RR_EDATA, "an automatic out-of-scope threshold needs "
                            "validation examples labelled \"%s\"", t->o->oos_label);
            else
                m->oos_threshold = pick_threshold(m, Z, t->va.y, n, p, v);
        } else {
            m->oos_threshold = t->o->oos_threshold;
        }
        rep->oos_threshold = m->oos_threshold;
        rep->n_val_oos = n - nin;
    }
    rr_free(&t->a, scratch), rr_free(&t->a, Z), rr_free(&t->a, p);
    rr_free(&t->a, conf), rr_free(&t->a, ok), rr_free(&t->a, v);
    return rc;
}

static void trainer_free(trainer *t) {
    ds *sets[2] = {&t->tr, &t->va};
    for (int i = 0; i < 2; i++) {
        rr_free(&t->a, sets[i]->off), rr_free(&t->a, sets[i]->col);
        rr_free(&t->a, sets[i]->val), rr_free(&t->a, sets[i]->y);
        rr_free(&t->a, (void *)sets[i]->src);
    }
    rr_free(&t->a, t->labels), rr_free(&t->a, t->map.key), rr_free(&t->a, t->map.val);
    rr_free(&t->a, t->row_of), rr_free(&t->a, t->V), rr_free(&t->a, t->best);
    rr_free(&t->a, t->bias), rr_free(&t->a, t->bbest), rr_free(&t->a, t->z);
    rr_free(&t->a, t->g), rr_free(&t->a, t->tmp);
}

static int prepare(trainer *t, const rr_clf_sample *train, size_t ntrain,
                   const rr_clf_sample *val, size_t nval) {
    int rc = check_opts(t->o, t->err);
    if (!rc && !ntrain)
        rc = rr_err(t->err, RR_EDATA, "the training set is empty");
    if (!rc && (ntrain > UINT32_MAX / 2 || nval > UINT32_MAX / 2))
        rc = rr_err(t->err, RR_EDATA, "too many examples");
    if (!rc)
        rc = check_samples(train, ntrain, "training", t->err);
    if (!rc)
        rc = check_samples(val, nval, "validation", t->err);
    if (!rc)
        rc = build_labels(t, train, ntrain);
    if (!rc)
        rc = split(t, train, ntrain, val, nval);
    if (!rc)
        rc = featurise(t, &t->tr);
    if (!rc)
        rc = featurise(t, &t->va);
    if (!rc)
        rc = compact(t);
    if (rc)
        return rc;
    size_t w = (size_t)t->map.n * t->kp;
    t->V = rr_calloc(&t->a, w ? w : 1, sizeof *t->V);
    t->best = rr_calloc(&t->a, w ? w : 1, sizeof *t->best);
    t->bias = rr_calloc(&t->a, t->kp, sizeof *t->bias);
    t->bbest = rr_calloc(&t->a, t->kp, sizeof *t->bbest);
    t->z = rr_calloc(&t->a, t->kp, sizeof *t->z);
    t->g = rr_calloc(&t->a, t->kp, sizeof *t->g);
    t->s = 1.0;
    if (!t->V || !t->best || !t->bias || !t->bbest || !t->z || !t->g)
        return rr_err(t->err, RR_ENOMEM, "out of memory for %zu weights", w);
    return RR_OK;
}

int rr_clf_train(rr_classifier **out, const rr_clf_sample *train, size_t ntrain,
                 const rr_clf_sample *val, size_t nval, const rr_clf_train_opts *o,
                 const rr_alloc *a, rr_clf_train_report *rep, rr_error *err) {
    if (!out || !o || (!train && ntrain) || (!val && nval))
        return rr_err(err, RR_EINVAL, "train: NULL argument");
    trainer t = {.o = o, .err = err, .oos_index = -1};
    rr_clf_train_report local;
    rep = rep ? rep : &local;
    memset(rep, 0, sizeof *rep);
    rr_alloc_init(&t.a, NULL);
    if (a)
        t.a = *a;
    rr_classifier *m = NULL;
    int rc = prepare(&t, train, ntrain, val, nval);
    if (!rc)
        rc = run_epochs(&t, rep);
    if (!rc && !(m = rr_classifier_alloc(&t.a)))
        rc = rr_err(err, RR_ENOMEM, "out of memory");
    if (!rc)
        rc = fill_meta(&t, m, rep);
    if (!rc)
        rc = fill_weights(&t, m);
    if (!rc)
        rc = calibrate(&t, m, rep);
    if (!rc) {
        rep->n_train = t.tr.n;
        rep->n_val = t.va.n - rep->n_val_oos;
        rep->nlabels = t.k;
        rep->used_rows = t.map.n;
        rep->nnz = m->nnz;
        *out = m;
    } else {
        rr_classifier_free(m);
    }
    trainer_free(&t);
    return rc;
}
