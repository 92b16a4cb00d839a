/* Hashed n-gram features, prediction, calibration and the model file. */
#include "classify.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

const char *const rr_clf_num_names[RR_CLF_NUM_FEATURES] = {
    "log_bytes", "log_words", "digit_share", "upper_share", "questions", "lines"};

static const unsigned char MAGIC[8] = {'R', 'R', 'C', 'L', 'F', 0, '\r', '\n'};
#define HEADER_BYTES 24u
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define CHECKSUM_BYTES 8u

int rr_clf_features_check(const rr_clf_features *f, rr_error *err) {
    if (f->buckets < 1 || f->buckets > RR_CLF_MAX_BUCKETS)
        return rr_err(err, RR_EINVAL, "buckets: %u is out of range 1..%u", f->buckets,
                      RR_CLF_MAX_BUCKETS);
    if (f->word_ngrams > 2)
        return rr_err(err, RR_EINVAL, "word n-grams: %u is not 0, 1 or 2", f->word_ngrams);
    if (f->char_max > RR_CLF_MAX_CHAR_N || f->char_min > f->char_max ||
        (f->char_max && !f->char_min))
        return rr_err(err, RR_EINVAL, "character n-grams: %u..%u is not within 1..%u",
                      f->char_min, f->char_max, RR_CLF_MAX_CHAR_N);
    if (f->numeric > 1)
        return rr_err(err, RR_EINVAL, "numeric features flag: %u is not 0 or 1", f->numeric);
    if (!f->word_ngrams && !f->char_max && !f->numeric)
        return rr_err(err, RR_EINVAL, "features: no feature group enabled");
    return RR_OK;
}

/* ------------------------------------------------------------------------------------
 * Feature extraction. One pass, O(1) state, so prediction needs no text-sized scratch.
 * Text features hash the ASCII-lowercased text: words are runs of letters, digits and
 * non-ASCII bytes; characters are bytes of the words joined by single spaces with a
 * space at each end (so n-grams see word boundaries).
 * ---------------------------------------------------------------------------------- */

#define WORD_MAX 64

static inline uint32_t bucket_of(uint64_t h, uint32_t buckets) {
    return (uint32_t)(((h >> 32) * (uint64_t)buckets) >> 32);
}

/* One 8-byte store where the byte order allows: the hash reads the key back as two 4-byte
 * loads, and eight 1-byte stores would defeat store-to-load forwarding. */
static inline void put64le(unsigned char *p, uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
#endif
}

/* xxh3-64 of exactly 8 / 16 bytes with a seed. The public entry point dispatches on length
 * at run time and costs more than the hash itself at these sizes, so with xxHash 0.8 call
 * the fixed-length kernels it would pick; the result is the same (a test checks). */
#if XXH_VERSION_MAJOR == 0 && XXH_VERSION_MINOR == 8
static inline uint64_t xxh3_8(const unsigned char *p, uint64_t seed) {
    return XXH3_len_4to8_64b(p, 8, XXH3_kSecret, seed);
}
static inline uint64_t xxh3_16(const unsigned char *p, uint64_t seed) {
    return XXH3_len_9to16_64b(p, 16, XXH3_kSecret, seed);
}
#else
static inline uint64_t xxh3_8(const unsigned char *p, uint64_t seed) {
    return XXH3_64bits_withSeed(p, 8, seed);
}
static inline uint64_t xxh3_16(const unsigned char *p, uint64_t seed) {
    return XXH3_64bits_withSeed(p, 16, seed);
}
#endif

uint64_t rr_clf_hash8(const unsigned char *p, uint64_t seed) {
    return xxh3_8(p, seed);
}
uint64_t rr_clf_hash16(const unsigned char *p, uint64_t seed) {
    return xxh3_16(p, seed);
}

#define CHAR_SEED UINT64_C(0x9e3779b97f4a7c15)

/* The extraction state lives in locals and the steps are macros, not helpers taking a
 * state pointer: the callback stores through pointers the compiler cannot tell apart from
 * such a state, which would then be reloaded from memory for every byte. */
#define PUSH_CHAR(ch)                                                                      \
    do {                                                                                   \
        win = (win << 8) | (ch);                                                           \
        wn++;                                                                              \
        for (uint32_t n_ = cmin; n_ && n_ <= cmax && n_ <= wn; n_++) {                     \
            unsigned char key_[8];                                                         \
            put64le(key_, (win & ((UINT64_C(1) << (8 * n_)) - 1)) | ((uint64_t)n_ << 56)); \
            fn(ud, RR_CLF_G_CHAR, bucket_of(xxh3_8(key_, cseed), nb), 1.0f);               \
            cnt[RR_CLF_G_CHAR]++;                                                          \
        }                                                                                  \
    } while (0)

#define END_WORD()                                                                         \
    do {                                                                                   \
        uint64_t h_ = XXH3_64bits_withSeed(w, wl, seed);                                   \
        if (wng >= 1) {                                                                    \
            fn(ud, RR_CLF_G_WORD, bucket_of(h_, nb), 1.0f);                                \
            cnt[RR_CLF_G_WORD]++;                                                          \
        }                                                                                  \
        if (wng >= 2 && words) {                                                           \
            unsigned char pair_[16];                                                       \
            put64le(pair_, prev);                                                          \
            put64le(pair_ + 8, h_);                                                        \
            fn(ud, RR_CLF_G_BIGRAM, bucket_of(xxh3_16(pair_, seed + 1), nb), 1.0f);        \
            cnt[RR_CLF_G_BIGRAM]++;                                                        \
        }                                                                                  \
        prev = h_;                                                                         \
        words++;                                                                           \
        wl = 0;                                                                            \
    } while (0)

static inline void emit_numeric(const rr_clf_features *f, size_t len, uint32_t words,
                                const uint32_t *k, rr_clf_feature_fn fn, void *ud) {
    double n = len ? (double)len : 1.0;
    float v[RR_CLF_NUM_FEATURES] = {
        (float)(log1p((double)len) / log1p(1000.0)),
        (float)(log1p((double)words) / log1p(200.0)),
        (float)(k[0] / n),
        (float)(k[1] / n),
        (float)((k[2] > 5 ? 5 : k[2]) / 5.0),
        (float)((k[3] > 20 ? 20 : k[3]) / 20.0),
    };
    for (uint32_t i = 0; i < RR_CLF_NUM_FEATURES; i++)
        fn(ud, RR_CLF_G_NUM, f->buckets + i, v[i]);
}

/* Calls fn for each feature and counts them per group in cnt[]. */
static ALWAYS_INLINE void extract(const rr_clf_features *f, const char *text, size_t len,
                                  rr_clf_feature_fn fn, void *ud, uint32_t *cnt) {
    const uint32_t nb = f->buckets, cmin = f->char_min, cmax = f->char_max;
    const uint32_t wng = f->word_ngrams;
    const uint64_t seed = f->hash_seed, cseed = seed ^ CHAR_SEED;
    uint64_t win = 0, prev = 0;
    uint32_t wn = 0, words = 0, k[4] = {0, 0, 0, 0}; /* digits, upper, '?', newlines */
    size_t wl = 0;
    bool in_word = false, last_space = true;
    unsigned char w[WORD_MAX];
    PUSH_CHAR(' ');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 'A' && c <= 'Z') {
            c = (unsigned char)(c + 32);
            k[1]++;
        }
        bool digit = c >= '0' && c <= '9';
        k[0] += digit, k[2] += c == '?', k[3] += c == '\n';
        if (digit || (c >= 'a' && c <= 'z') || c >= 0x80) {
            if (wl < WORD_MAX)
                w[wl++] = c;
            in_word = true;
            last_space = false;
            PUSH_CHAR(c);
            continue;
        }
        if (in_word)
            END_WORD();
        in_word = false;
        if (!last_space)
            PUSH_CHAR(' ');
        last_space = true;
    }
    if (in_word)
        END_WORD();
    if (!last_space)
        PUSH_CHAR(' ');
    if (f->numeric)
        emit_numeric(f, len, words, k, fn, ud);
}

void rr_clf_extract(const rr_clf_features *f, const char *text, size_t len,
                    rr_clf_feature_fn fn, void *ud) {
    uint32_t cnt[RR_CLF_G__COUNT] = {0};
    extract(f, text, len, fn, ud, cnt);
}

/* ------------------------------------------------------------------------------------
 * Prediction
 * ---------------------------------------------------------------------------------- */

typedef struct pred_ctx {
    const rr_classifier *m;
    float *acc[RR_CLF_G__COUNT];
    uint32_t n[RR_CLF_G__COUNT];
} pred_ctx;

typedef float v4f __attribute__((vector_size(16), aligned(4)));

/* In memory a row is a dense run of kp weights added with SIMD, or, when dense rows would
 * take more than DENSE_BUDGET bytes, only rows with at least a quarter of the labels are
 * dense and the rest stay (label, weight) lists. Dense is faster not for the arithmetic but
 * for the branches: a list's length varies from row to row and its loop exit is
 * mispredicted about once per feature, which costs more than adding 150 floats. Empty
 * rows all point at one shared row of zeros. */
#define DENSE_BUDGET ((size_t)256 << 20)
#define DENSE_BIT 0x80000000u

static inline void pred_feature(void *ud, uint32_t group, uint32_t row, float value) {
    pred_ctx *c = ud;
    const rr_classifier *m = c->m;
    float *acc = c->acc[group];
    uint64_t info = m->rowinfo[row];
    uint32_t off = (uint32_t)info, n = (uint32_t)(info >> 32);
    if (n & DENSE_BIT) {
        const float *q = m->dense + off;
        v4f vv = {value, value, value, value};
        for (uint32_t k = 0; k < m->kp; k += 4)
            *(v4f *)(acc + k) += vv * *(const v4f *)(q + k);
        return;
    }
    const rr_clf_entry *e = m->entries + off, *end = e + n;
    for (; e < end; e++)
        acc[e->label] += value * (float)e->q;
}

int rr_classifier_prepare(rr_classifier *m) {
    uint32_t kp = (m->nlabels + 3) & ~3u, min_n = 1;
    size_t ndense = 1, nonempty = 0, big = 0;
    for (uint32_t r = 0; r < m->nrows; r++) {
        uint32_t n = m->row_ptr[r + 1] - m->row_ptr[r];
        nonempty += n > 0;
        big += (size_t)n * 4 >= kp;
    }
    if ((nonempty + 1) * kp * sizeof(float) > DENSE_BUDGET)
        min_n = (kp + 3) / 4, ndense += big;
    else
        ndense += nonempty;
    m->kp = kp;
    m->rowinfo = rr_malloc(&m->a, ((size_t)m->nrows + 1) * sizeof *m->rowinfo);
    m->dense = rr_calloc(&m->a, ndense * kp, sizeof *m->dense);
    if (!m->rowinfo || !m->dense || ndense * kp > UINT32_MAX)
        return RR_ENOMEM;
    size_t at = kp; /* row 0 of the pool: the shared zeros */
    for (uint32_t r = 0; r < m->nrows; r++) {
        uint32_t b = m->row_ptr[r], n = m->row_ptr[r + 1] - b;
        if (n == 0 || n < min_n) {
            m->rowinfo[r] = n ? (uint64_t)n << 32 | b : (uint64_t)DENSE_BIT << 32;
            continue;
        }
        for (uint32_t i = b; i < b + n; i++)
            m->dense[at + m->entries[i].label] = (float)m->entries[i].q;
        m->rowinfo[r] = (uint64_t)DENSE_BIT << 32 | at;
        at += kp;
    }
    return RR_OK;
}

static size_t padded(uint32_t k) {
    return ((size_t)k + 3) & ~(size_t)3;
}

size_t rr_classifier_scratch_size(const rr_classifier *m) {
    if (!m)
        return 0;
    return RR_CLF_G__COUNT * padded(m->nlabels) * sizeof(float) +
           padded(m->nlabels) * sizeof(double);
}

static int check_scratch(const rr_classifier *m, const char *text, size_t len, void *scratch,
                         size_t scratch_size) {
    if (!m || (!text && len) || !scratch || scratch_size < rr_classifier_scratch_size(m) ||
        (uintptr_t)scratch % _Alignof(double))
        return RR_EINVAL;
    return RR_OK;
}

int rr_classifier_logits(const rr_classifier *m, const char *text, size_t len, void *scratch,
                         size_t scratch_size, double *out) {
    int rc = check_scratch(m, text, len, scratch, scratch_size);
    if (rc)
        return rc;
    size_t kp = padded(m->nlabels);
    float *base = (float *)((double *)scratch + kp);
    pred_ctx c = {.m = m};
    memset(base, 0, RR_CLF_G__COUNT * kp * sizeof(float));
    for (int g = 0; g < RR_CLF_G__COUNT; g++)
        c.acc[g] = base + (size_t)g * kp;
    extract(&m->feat, text ? text : "", len, pred_feature, &c, c.n);
    double w[RR_CLF_G__COUNT];
    for (int g = 0; g < RR_CLF_G__COUNT; g++)
        w[g] = m->qscale / (g == RR_CLF_G_NUM || c.n[g] == 0 ? 1.0 : sqrt((double)c.n[g]));
    for (uint32_t k = 0; k < m->nlabels; k++) {
        double z = m->bias[k];
        for (int g = 0; g < RR_CLF_G__COUNT; g++)
            z += w[g] * c.acc[g][k];
        out[k] = z;
    }
    return RR_OK;
}

static void softmax(double *z, uint32_t k, double inv_t) {
    double mx = -INFINITY, sum = 0;
    for (uint32_t i = 0; i < k; i++)
        mx = z[i] * inv_t > mx ? z[i] * inv_t : mx;
    for (uint32_t i = 0; i < k; i++) {
        z[i] = exp(z[i] * inv_t - mx);
        sum += z[i];
    }
    for (uint32_t i = 0; i < k; i++)
        z[i] /= sum;
}

void rr_classifier_calibrate(const rr_classifier *m, double *z, rr_clf_result *res) {
    if (m->cal_method == RR_CLF_CAL_PLATT && m->nlabels == 2) {
        double d = m->cal[0] * (z[1] - z[0]) + m->cal[1];
        z[1] = 1.0 / (1.0 + exp(-d));
        z[0] = 1.0 - z[1];
    } else {
        softmax(z, m->nlabels, m->cal_method == RR_CLF_CAL_TEMPERATURE ? 1.0 / m->cal[0] : 1.0);
    }
    uint32_t top = 0;
    for (uint32_t i = 1; i < m->nlabels; i++)
        if (z[i] > z[top])
            top = i;
    if (res) {
        res->top = (int32_t)top;
        res->p_top = z[top];
        res->label = (int32_t)top;
        if ((int32_t)top == m->oos_label || z[top] < m->oos_threshold)
            res->label = RR_CLF_UNKNOWN;
    }
}

int rr_classifier_predict(const rr_classifier *m, const char *text, size_t len,
                          void *scratch, size_t scratch_size, double *probs,
                          rr_clf_result *res) {
    double *z = probs ? probs : (double *)scratch;
    int rc = rr_classifier_logits(m, text, len, scratch, scratch_size, z);
    if (rc)
        return rc;
    rr_classifier_calibrate(m, z, res);
    return RR_OK;
}

/* ------------------------------------------------------------------------------------
 * Accessors
 * ---------------------------------------------------------------------------------- */

uint32_t rr_classifier_label_count(const rr_classifier *m) {
    return m ? m->nlabels : 0;
}
const char *rr_classifier_label(const rr_classifier *m, uint32_t i) {
    return m && i < m->nlabels ? m->labels[i] : NULL;
}
int32_t rr_classifier_label_index(const rr_classifier *m, const char *name) {
    for (uint32_t i = 0; m && name && i < m->nlabels; i++)
        if (!strcmp(m->labels[i], name))
            return (int32_t)i;
    return -1;
}
int32_t rr_classifier_positive(const rr_classifier *m) {
    return m ? m->positive : -1;
}
const char *rr_classifier_name(const rr_classifier *m) {
    return m && m->name ? m->name : "";
}
const char *rr_classifier_version(const rr_classifier *m) {
    return m && m->version ? m->version : "";
}
const char *rr_classifier_fingerprint(const rr_classifier *m) {
    return m ? m->fingerprint : "";
}
double rr_classifier_oos_threshold(const rr_classifier *m) {
    return m ? m->oos_threshold : 0;
}
int32_t rr_classifier_oos_label(const rr_classifier *m) {
    return m ? m->oos_label : -1;
}

rr_classifier *rr_classifier_alloc(const rr_alloc *a) {
    rr_alloc la;
    if (!a) {
        rr_alloc_init(&la, NULL);
        a = &la;
    }
    rr_classifier *m = rr_calloc(a, 1, sizeof *m);
    if (!m)
        return NULL;
    m->a = *a;
    m->oos_label = -1;
    m->positive = -1;
    m->qscale = 1.0f;
    m->cal[0] = 1.0;
    return m;
}

void rr_classifier_free(rr_classifier *m) {
    if (!m)
        return;
    rr_alloc a = m->a;
    for (uint32_t i = 0; m->labels && i < m->nlabels; i++)
        rr_free(&a, m->labels[i]);
    rr_free(&a, m->labels);
    rr_free(&a, m->name);
    rr_free(&a, m->version);
    rr_free(&a, m->bias);
    rr_free(&a, m->row_ptr);
    rr_free(&a, m->entries);
    rr_free(&a, m->rowinfo);
    rr_free(&a, m->dense);
    rr_free(&a, m);
}

/* ------------------------------------------------------------------------------------
 * The model file
 * ---------------------------------------------------------------------------------- */

static void put_le(rr_buf *b, uint64_t v, int n) {
    unsigned char p[8];
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    rr_buf_put(b, p, (size_t)n);
}
static void put_f64(rr_buf *b, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    put_le(b, v, 8);
}
static void put_f32(rr_buf *b, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    put_le(b, v, 4);
}
static void put_str(rr_buf *b, const char *s) {
    size_t n = s ? strlen(s) : 0;
    put_le(b, n, 4);
    rr_buf_put(b, s ? s : "", n);
}

static void save_body(const rr_classifier *m, rr_buf *b) {
    const rr_clf_hyper *h = &m->hyper;
    put_le(b, m->nlabels, 4);
    put_le(b, m->feat.buckets, 4);
    unsigned char fl[4] = {m->feat.word_ngrams, m->feat.char_min, m->feat.char_max,
                           m->feat.numeric};
    rr_buf_put(b, fl, 4);
    put_le(b, m->feat.hash_seed, 8);
    put_le(b, m->nnum, 4);
    put_str(b, m->name);
    put_str(b, m->version);
    put_f64(b, h->l2);
    put_f64(b, h->lr);
    put_f64(b, h->val_split);
    put_f64(b, h->prune);
    put_le(b, h->epochs, 4);
    put_le(b, h->best_epoch, 4);
    put_le(b, h->patience, 4);
    put_le(b, h->n_train, 4);
    put_le(b, h->n_val, 4);
    put_le(b, h->seed, 8);
    put_le(b, m->cal_method, 4);
    put_f64(b, m->cal[0]);
    put_f64(b, m->cal[1]);
    put_f64(b, m->oos_threshold);
    put_le(b, (uint32_t)m->oos_label, 4);
    put_le(b, (uint32_t)m->positive, 4);
    for (uint32_t i = 0; i < m->nlabels; i++)
        put_str(b, m->labels[i]);
    for (uint32_t i = 0; i < m->nnum; i++)
        put_str(b, rr_clf_num_names[i]);
    for (uint32_t i = 0; i < m->nlabels; i++)
        put_f32(b, m->bias[i]);
    put_f32(b, m->qscale);
    for (uint32_t i = 0; i <= m->nrows; i++)
        put_le(b, m->row_ptr[i], 4);
    for (uint32_t i = 0; i < m->nnz; i++) {
        put_le(b, m->entries[i].label, 2);
        put_le(b, (uint16_t)m->entries[i].q, 2);
    }
}

int rr_classifier_save(rr_classifier *m, rr_buf *b) {
    size_t start = b->len;
    rr_buf_put(b, MAGIC, sizeof MAGIC);
    put_le(b, RR_CLF_FORMAT_VERSION, 4);
    put_le(b, 0, 4);
    put_le(b, 0, 8); /* file size, patched below */
    save_body(m, b);
    if (b->oom || !rr_buf_reserve(b, CHECKSUM_BYTES))
        return RR_ENOMEM;
    uint64_t size = b->len - start + CHECKSUM_BYTES;
    for (int i = 0; i < 8; i++)
        b->p[start + 16 + (size_t)i] = (char)(size >> (8 * i));
    uint64_t sum = XXH3_64bits(b->p + start, b->len - start);
    put_le(b, sum, 8);
    snprintf(m->fingerprint, sizeof m->fingerprint, "%016llx", (unsigned long long)sum);
    return b->oom ? RR_ENOMEM : RR_OK;
}

int rr_classifier_write(rr_classifier *m, const char *path, rr_error *err) {
    rr_buf b;
    rr_buf_init(&b, &m->a);
    int rc = rr_classifier_save(m, &b);
    if (rc) {
        rr_buf_free(&b);
        return rr_err(err, rc, "%s: out of memory serialising the model", path);
    }
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(b.p, 1, b.len, f) == b.len;
    if (f && fclose(f))
        ok = false;
    rr_buf_free(&b);
    return ok ? RR_OK : rr_err(err, RR_EIO, "%s: cannot write the model file", path);
}

/* Bounds-checked reader: the first failure sticks and records what was being read. */
typedef struct rd {
    const unsigned char *p;
    size_t n, off;
    const char *bad;
    size_t bad_off;
} rd;

static bool rd_need(rd *r, size_t k, const char *what) {
    if (r->bad)
        return false;
    if (r->n - r->off < k) {
        r->bad = what;
        r->bad_off = r->off;
        return false;
    }
    return true;
}
static uint64_t rd_le(rd *r, int k, const char *what) {
    uint64_t v = 0;
    if (!rd_need(r, (size_t)k, what))
        return 0;
    for (int i = 0; i < k; i++)
        v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += (size_t)k;
    return v;
}
static double rd_f64(rd *r, const char *what) {
    uint64_t v = rd_le(r, 8, what);
    double d;
    memcpy(&d, &v, 8);
    return d;
}
static float rd_f32(rd *r, const char *what) {
    uint32_t v = (uint32_t)rd_le(r, 4, what);
    float f;
    memcpy(&f, &v, 4);
    return f;
}
/* Strings are limited to 4096 bytes, must be UTF-8 and hold no NUL. */
static char *rd_str(rd *r, const rr_alloc *a, const char *what, bool *oom) {
    size_t at = r->off;
    uint64_t n = rd_le(r, 4, what);
    if (r->bad)
        return NULL;
    if (n > 4096 || !rd_need(r, (size_t)n, what) || memchr(r->p + r->off, 0, (size_t)n) ||
        rr_utf8_check((const char *)r->p + r->off, (size_t)n) != n) {
        if (!r->bad) {
            r->bad = what;
            r->bad_off = at;
        }
        return NULL;
    }
    char *s = rr_strndup(a, (const char *)r->p + r->off, (size_t)n);
    if (!s)
        *oom = true;
    r->off += (size_t)n;
    return s;
}

static int load_header(rd *r, rr_error *err) {
    if (r->n < HEADER_BYTES + CHECKSUM_BYTES)
        return rr_err(err, RR_EMODEL, "classifier model truncated: %zu bytes, a model has at "
                      "least %u", r->n, HEADER_BYTES + CHECKSUM_BYTES);
    if (memcmp(r->p, MAGIC, sizeof MAGIC))
        return rr_err(err, RR_EMODEL, "not a classifier model (bad magic number)");
    r->off = sizeof MAGIC;
    uint32_t version = (uint32_t)rd_le(r, 4, "version");
    if (version != RR_CLF_FORMAT_VERSION)
        return rr_err(err, RR_EVERSION, "classifier model format version %u; this library "
                      "reads version %u", version, RR_CLF_FORMAT_VERSION);
    uint32_t flags = (uint32_t)rd_le(r, 4, "flags");
    uint64_t size = rd_le(r, 8, "size");
    if (size != r->n)
        return rr_err(err, RR_EMODEL, "classifier model %s: header says %llu bytes, got %zu",
                      size > r->n ? "truncated" : "has trailing bytes",
                      (unsigned long long)size, r->n);
    uint64_t want = rd_le(&(rd){.p = r->p + r->n - 8, .n = 8}, 8, "checksum");
    if (XXH3_64bits(r->p, r->n - CHECKSUM_BYTES) != want)
        return rr_err(err, RR_EMODEL, "classifier model checksum mismatch (corrupt file)");
    if (flags)
        return rr_err(err, RR_EVERSION, "classifier model uses unknown flags 0x%x", flags);
    r->n -= CHECKSUM_BYTES;
    return RR_OK;
}

static int bad_field(rr_error *err, const char *what, size_t off) {
    return rr_err(err, RR_EMODEL, "classifier model: invalid %s at byte %zu", what, off);
}

static int load_meta(rd *r, rr_classifier *m, bool *oom, rr_error *err) {
    rr_clf_hyper *h = &m->hyper;
    m->nlabels = (uint32_t)rd_le(r, 4, "label count");
    m->feat.buckets = (uint32_t)rd_le(r, 4, "bucket count");
    m->feat.word_ngrams = (uint8_t)rd_le(r, 1, "feature settings");
    m->feat.char_min = (uint8_t)rd_le(r, 1, "feature settings");
    m->feat.char_max = (uint8_t)rd_le(r, 1, "feature settings");
    m->feat.numeric = (uint8_t)rd_le(r, 1, "feature settings");
    m->feat.hash_seed = rd_le(r, 8, "hash seed");
    size_t at = r->off;
    m->nnum = (uint32_t)rd_le(r, 4, "numeric feature count");
    if (!r->bad && m->nnum != (m->feat.numeric ? RR_CLF_NUM_FEATURES : 0))
        return bad_field(err, "numeric feature count", at);
    if (!r->bad && (m->nlabels < 2 || m->nlabels > RR_CLF_MAX_LABELS))
        return bad_field(err, "label count", 24);
    if (!r->bad && rr_clf_features_check(&m->feat, NULL))
        return bad_field(err, "feature settings", 32);
    m->name = rd_str(r, &m->a, "name", oom);
    m->version = rd_str(r, &m->a, "version", oom);
    h->l2 = rd_f64(r, "hyperparameters");
    h->lr = rd_f64(r, "hyperparameters");
    h->val_split = rd_f64(r, "hyperparameters");
    h->prune = rd_f64(r, "hyperparameters");
    h->epochs = (uint32_t)rd_le(r, 4, "hyperparameters");
    h->best_epoch = (uint32_t)rd_le(r, 4, "hyperparameters");
    h->patience = (uint32_t)rd_le(r, 4, "hyperparameters");
    h->n_train = (uint32_t)rd_le(r, 4, "hyperparameters");
    h->n_val = (uint32_t)rd_le(r, 4, "hyperparameters");
    h->seed = rd_le(r, 8, "hyperparameters");
    at = r->off;
    m->cal_method = (uint32_t)rd_le(r, 4, "calibration");
    m->cal[0] = rd_f64(r, "calibration");
    m->cal[1] = rd_f64(r, "calibration");
    if (!r->bad && (m->cal_method > RR_CLF_CAL_PLATT || !isfinite(m->cal[0]) ||
                    !isfinite(m->cal[1]) ||
                    (m->cal_method == RR_CLF_CAL_TEMPERATURE && !(m->cal[0] > 0)) ||
                    (m->cal_method == RR_CLF_CAL_PLATT && m->nlabels != 2)))
        return bad_field(err, "calibration", at);
    at = r->off;
    m->oos_threshold = rd_f64(r, "out-of-scope settings");
    m->oos_label = (int32_t)(uint32_t)rd_le(r, 4, "out-of-scope settings");
    m->positive = (int32_t)(uint32_t)rd_le(r, 4, "out-of-scope settings");
    if (!r->bad && (!(m->oos_threshold >= 0 && m->oos_threshold <= 1) || m->oos_label < -1 ||
                    m->oos_label >= (int32_t)m->nlabels || m->positive < -1 ||
                    m->positive >= (int32_t)m->nlabels))
        return bad_field(err, "out-of-scope settings", at);
    return RR_OK;
}

static int load_labels(rd *r, rr_classifier *m, bool *oom, rr_error *err) {
    m->labels = rr_calloc(&m->a, m->nlabels, sizeof *m->labels);
    if (!m->labels) {
        *oom = true;
        return RR_OK;
    }
    for (uint32_t i = 0; i < m->nlabels && !r->bad && !*oom; i++) {
        size_t at = r->off;
        m->labels[i] = rd_str(r, &m->a, "label", oom);
        if (m->labels[i] && (!m->labels[i][0] || rr_classifier_label_index(m, m->labels[i]) !=
                                                     (int32_t)i))
            return bad_field(err, "label (empty or repeated)", at);
    }
    for (uint32_t i = 0; i < m->nnum && !r->bad && !*oom; i++) {
        size_t at = r->off;
        char *s = rd_str(r, &m->a, "numeric feature name", oom);
        bool same = s && !strcmp(s, rr_clf_num_names[i]);
        rr_free(&m->a, s);
        if (s && !same)
            return bad_field(err, "numeric feature name (unknown to this library)", at);
    }
    return RR_OK;
}

static int load_weights(rd *r, rr_classifier *m, bool *oom, rr_error *err) {
    m->nrows = m->feat.buckets + m->nnum;
    m->bias = rr_malloc(&m->a, m->nlabels * sizeof(float));
    m->row_ptr = rr_malloc(&m->a, ((size_t)m->nrows + 1) * sizeof(uint32_t));
    if (!m->bias || !m->row_ptr) {
        *oom = true;
        return RR_OK;
    }
    for (uint32_t i = 0; i < m->nlabels; i++) {
        m->bias[i] = rd_f32(r, "biases");
        if (!r->bad && !isfinite(m->bias[i]))
            return bad_field(err, "bias", r->off - 4);
    }
    m->qscale = rd_f32(r, "weight scale");
    if (!r->bad && !(isfinite(m->qscale) && m->qscale >= 0))
        return bad_field(err, "weight scale", r->off - 4);
    size_t at = r->off;
    if (!rd_need(r, ((size_t)m->nrows + 1) * 4, "row offsets"))
        return RR_OK;
    for (uint32_t i = 0; i <= m->nrows; i++) {
        m->row_ptr[i] = (uint32_t)rd_le(r, 4, "row offsets");
        if ((i == 0 && m->row_ptr[0]) || (i && m->row_ptr[i] < m->row_ptr[i - 1]))
            return bad_field(err, "row offsets (not increasing from 0)", at + 4 * (size_t)i);
    }
    m->nnz = m->row_ptr[m->nrows];
    if (r->n - r->off != (size_t)m->nnz * 4)
        return rr_err(err, RR_EMODEL, "classifier model: %u weights need %zu bytes at byte "
                      "%zu, found %zu", m->nnz, (size_t)m->nnz * 4, r->off, r->n - r->off);
    m->entries = rr_malloc(&m->a, (size_t)m->nnz * sizeof *m->entries);
    if (!m->entries) {
        *oom = true;
        return RR_OK;
    }
    for (uint32_t i = 0; i < m->nnz; i++) {
        m->entries[i].label = (uint16_t)rd_le(r, 2, "weights");
        m->entries[i].q = (int16_t)(uint16_t)rd_le(r, 2, "weights");
        if (m->entries[i].label >= m->nlabels)
            return bad_field(err, "weight label", r->off - 4);
    }
    return RR_OK;
}

int rr_classifier_load_bytes(rr_classifier **out, const void *data, size_t len,
                             const rr_alloc *a, rr_error *err) {
    if (!out || (!data && len))
        return rr_err(err, RR_EINVAL, "classifier load: NULL argument");
    rd r = {.p = data, .n = len};
    int rc = load_header(&r, err);
    if (rc)
        return rc;
    rr_classifier *m = rr_classifier_alloc(a);
    if (!m)
        return rr_err(err, RR_ENOMEM, "out of memory loading a classifier model");
    bool oom = false;
    rc = load_meta(&r, m, &oom, err);
    if (!rc && !oom && !r.bad)
        rc = load_labels(&r, m, &oom, err);
    if (!rc && !oom && !r.bad)
        rc = load_weights(&r, m, &oom, err);
    if (!rc && !oom && !r.bad && rr_classifier_prepare(m))
        oom = true;
    if (!rc && oom)
        rc = rr_err(err, RR_ENOMEM, "out of memory loading a classifier model");
    if (!rc && r.bad)
        rc = rr_err(err, RR_EMODEL, "classifier model: %s truncated at byte %zu", r.bad,
                    r.bad_off);
    if (rc) {
        rr_classifier_free(m);
        return rc;
    }
    uint64_t sum = rd_le(&(rd){.p = (const unsigned char *)data + len - 8, .n = 8}, 8, "");
    snprintf(m->fingerprint, sizeof m->fingerprint, "%016llx", (unsigned long long)sum);
    *out = m;
    return RR_OK;
}

int rr_classifier_load(rr_classifier **out, const char *path, const rr_alloc *a,
                       rr_error *err) {
    rr_alloc la;
    if (!a) {
        rr_alloc_init(&la, NULL);
        a = &la;
    }
    if (!out || !path)
        return rr_err(err, RR_EINVAL, "classifier load: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return rr_err(err, RR_EIO, "%s: cannot open the classifier model", path);
    rr_buf b;
    rr_buf_init(&b, a);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && !b.oom)
        rr_buf_put(&b, chunk, n);
    bool ioerr = ferror(f) != 0;
    fclose(f);
    int rc;
    if (ioerr)
        rc = rr_err(err, RR_EIO, "%s: read error", path);
    else if (b.oom)
        rc = rr_err(err, RR_ENOMEM, "%s: out of memory reading the model", path);
    else {
        rc = rr_classifier_load_bytes(out, b.p, b.len, a, err);
        if (rc && err) {
            char msg[sizeof err->message];
            memcpy(msg, err->message, sizeof msg);
            rr_err(err, rc, "%s: %s", path, msg);
        }
    }
    rr_buf_free(&b);
    return rc;
}
