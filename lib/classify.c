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

static inline uint32_t bucket_of(uint64_t h, uint32_t buckets) {
    return (uint32_t)(((h >> 32) * (uint64_t)buckets) >> 32);
}

/* Feature hashing: a multiply by an odd 64-bit constant per feature, the bucket from the
 * product's top bits, which every key bit reaches through the carries. Words are hashed a
 * byte at a time as they are read (FNV-1a's shape with a dense multiplier), so there is no
 * word buffer and no dispatch on length. Format 1 hashed with xxh3, which took 0.8 us of
 * a 200-byte request; accuracy is the same (see bench/bench_classifier.py). */
#define MIX UINT64_C(0x9fb21c651e98df25)
#define MIX2 UINT64_C(0xc2b2ae3d27d4eb4f)
#define CHAR_SEED UINT64_C(0x9e3779b97f4a7c15)

static inline uint64_t word_step(uint64_t h, unsigned char c) {
    return (h ^ c) * MIX;
}
static inline uint64_t hash_pair(uint64_t first, uint64_t second) {
    return (first * MIX2 ^ second) * MIX;
}

/* The n bytes of the key are disjoint from the size tag: (key | tag) ^ seed, which is how
 * extract computes it, as (key & mask) ^ (tag ^ seed). */
uint64_t rr_clf_hash_chars(uint64_t window, uint32_t n, uint64_t seed) {
    uint64_t key = (window & ((UINT64_C(1) << (8 * n)) - 1)) | (uint64_t)n << 56;
    return (key ^ seed ^ CHAR_SEED) * MIX;
}
uint64_t rr_clf_hash_word(const unsigned char *p, size_t n, uint64_t seed) {
    uint64_t h = seed;
    for (size_t i = 0; i < n; i++)
        h = word_step(h, p[i]);
    return h;
}
uint64_t rr_clf_hash_pair(uint64_t first, uint64_t second) {
    return hash_pair(first, second);
}

/* The extraction state lives in locals and the steps are macros, not helpers taking a
 * state pointer: the callback stores through pointers the compiler cannot tell apart from
 * such a state, which would then be reloaded from memory for every byte. */
#define END_WORD()                                                                         \
    do {                                                                                   \
        if (wng >= 1) {                                                                    \
            fn(ud, RR_CLF_G_WORD, bucket_of(hw, nb), 1.0f);                                \
            cnt[RR_CLF_G_WORD]++;                                                          \
        }                                                                                  \
        if (wng >= 2 && words) {                                                           \
            fn(ud, RR_CLF_G_BIGRAM, bucket_of(hash_pair(prev, hw), nb), 1.0f);             \
            cnt[RR_CLF_G_BIGRAM]++;                                                        \
        }                                                                                  \
        prev = hw;                                                                         \
        hw = seed;                                                                         \
        words++;                                                                           \
    } while (0)

/* The n-gram hash of rr_clf_hash_chars with the mask and tag of each size precomputed. */
#define PUSH_CHAR(ch)                                                                      \
    do {                                                                                   \
        win = (win << 8) | (ch);                                                           \
        wn += wn < cmax;                                                                   \
        for (uint32_t n_ = cmin; n_ <= wn; n_++) {                                         \
            uint64_t h_ = ((win & cmask[n_]) ^ ctag[n_]) * MIX;                            \
            fn(ud, RR_CLF_G_CHAR, bucket_of(h_, nb), 1.0f);                                \
            cnt[RR_CLF_G_CHAR]++;                                                          \
        }                                                                                  \
    } while (0)

/* Each byte lower-cased if it is a word byte (ASCII letter or digit, or any byte >= 0x80),
 * 0 if it separates words. */
#define WB(c)                                                                              \
    (unsigned char)((c) >= 'A' && (c) <= 'Z' ? (c) + 32                                    \
                    : ((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9') ||          \
                              (c) >= 0x80                                                  \
                          ? (c)                                                            \
                          : 0)
#define WB4(c) WB(c), WB(c + 1), WB(c + 2), WB(c + 3)
#define WB16(c) WB4(c), WB4(c + 4), WB4(c + 8), WB4(c + 12)
#define WB64(c) WB16(c), WB16(c + 16), WB16(c + 32), WB16(c + 48)
static const unsigned char WORD_BYTE[256] = {WB64(0), WB64(64), WB64(128), WB64(192)};

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

typedef uint8_t v16u __attribute__((vector_size(16)));
typedef int8_t v16s __attribute__((vector_size(16)));

/* Digits, upper-case letters, '?' and newlines, for the numeric features: 16 bytes at a
 * time, in a pass of its own so that the feature loop has four fewer counters to carry. */
static void count_bytes(const unsigned char *p, size_t len, uint32_t *k) {
    size_t i = 0;
    while (len - i >= 16) {
        v16s a[4] = {{0}, {0}, {0}, {0}};
        size_t end = i + 16 * (len - i >= 16 * 127 ? 127 : (len - i) / 16);
        for (; i < end; i += 16) { /* masks are -1: at most 127 of them per lane */
            v16u v;
            memcpy(&v, p + i, sizeof v);
            a[0] += (v16s)(v - (uint8_t)'0' < 10);
            a[1] += (v16s)(v - (uint8_t)'A' < 26);
            a[2] += (v16s)(v == '?');
            a[3] += (v16s)(v == '\n');
        }
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 16; l++)
                k[j] += (uint32_t)-a[j][l];
    }
    for (; i < len; i++) {
        k[0] += (unsigned)(p[i] - '0') < 10, k[1] += (unsigned)(p[i] - 'A') < 26;
        k[2] += p[i] == '?', k[3] += p[i] == '\n';
    }
}

/* Calls fn for each feature and counts them per group in cnt[]. */
static ALWAYS_INLINE void extract(const rr_clf_features *f, const char *text, size_t len,
                                  rr_clf_feature_fn fn, void *ud, uint32_t *cnt) {
    /* cmin > cmax when there are no character n-grams: the n-gram loop then never runs */
    const uint32_t nb = f->buckets, cmin = f->char_max ? f->char_min : 1, cmax = f->char_max;
    const uint32_t wng = f->word_ngrams;
    const uint64_t seed = f->hash_seed;
    uint64_t win = 0, prev = 0, hw = seed;
    uint64_t cmask[RR_CLF_MAX_CHAR_N + 1], ctag[RR_CLF_MAX_CHAR_N + 1];
    for (uint32_t n = cmin; n <= cmax; n++) {
        cmask[n] = (UINT64_C(1) << (8 * n)) - 1;
        ctag[n] = ((uint64_t)n << 56) ^ seed ^ CHAR_SEED;
    }
    uint32_t wn = 0, words = 0;
    bool in_word = false, last_space = true;
    PUSH_CHAR(' ');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = WORD_BYTE[(unsigned char)text[i]];
        if (c) {
            hw = word_step(hw, c);
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
    if (f->numeric) {
        uint32_t k[4] = {0, 0, 0, 0};
        count_bytes((const unsigned char *)text, len, k);
        emit_numeric(f, len, words, k, fn, ud);
    }
}

void rr_clf_extract(const rr_clf_features *f, const char *text, size_t len,
                    rr_clf_feature_fn fn, void *ud) {
    uint32_t cnt[RR_CLF_G__COUNT] = {0};
    extract(f, text, len, fn, ud, cnt);
}

/* ------------------------------------------------------------------------------------
 * Prediction
 *
 * A row holds one int8 weight per label (kp of them, zero-padded) and a request's rows are
 * summed as integers: each text group gathers the byte offsets of its rows, CHUNK at a
 * time, and a kernel adds a chunk in int16 registers (256 x 127 < 2^15, so no overflow)
 * into int32 sums per group. Integer sums make every kernel give the same bits, and the
 * per-group 1/sqrt(occurrences) and per-label scale are applied once per label at the end
 * instead of once per feature. Features whose row has no weights are never gathered.
 * ---------------------------------------------------------------------------------- */

#define CHUNK 256u
#define TEXT_GROUPS 3 /* word, bigram and char: the groups summed as integers */
/* After this many chunks a group's int32 sums could overflow (65536 x 256 x 127 < 2^31):
 * they move to doubles. Only texts of many megabytes get there. */
#define SPILL_CHUNKS 65536u

/* 32-byte vectors: two SSE2 operations each on a plain x86-64, one under AVX. The helpers
 * returning them are always inlined, so the ABI warning does not apply. */
#if defined(__clang__)
/* GCC in ISO C mode never fuses a * b + c; clang would where FMA is enabled, in the generic
 * code only, and the kernels would then round differently. */
#pragma STDC FP_CONTRACT OFF
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4l __attribute__((vector_size(32)));
typedef uint64_t v4u __attribute__((vector_size(32)));
typedef int32_t v4i __attribute__((vector_size(16)));

struct rr_clf_kernel {
    const char *name;
    void (*sum_rows)(const int8_t *w, const uint32_t *at, uint32_t n, uint32_t kp,
                     int32_t *sum);
    void (*combine)(const rr_classifier *m, int32_t *const *sums, const double *wg,
                    const float *num, double *z);
    uint32_t (*softmax)(double *z, uint32_t k, double inv_t);
};

uint32_t rr_clf_stride(uint32_t nlabels) {
    return (nlabels + RR_CLF_STRIDE_ALIGN - 1) & ~(RR_CLF_STRIDE_ALIGN - 1);
}

/* Helpers take vectors by pointer, never by value: GCC notes an ABI change for 32-byte
 * vector parameters without AVX, which the pragma above does not silence. */
#define V4(x) ((v4d){(x), (x), (x), (x)})
#define ST4(p, v)                                                                          \
    do {                                                                                   \
        v4d v_ = (v);                                                                      \
        memcpy((p), &v_, sizeof v_);                                                       \
    } while (0)
static ALWAYS_INLINE v4d ld4(const double *p) {
    v4d v;
    memcpy(&v, p, sizeof v);
    return v;
}
static ALWAYS_INLINE v4d ld4i(const int32_t *p) {
    v4i v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, v4d);
}

/* z[0..kp) = bias + scale * (sum over groups of wg * sums + the numeric features). The AVX2
 * version below spells out the same operations in the same order with intrinsics. */
static ALWAYS_INLINE void combine_impl(const rr_classifier *m, int32_t *const *sums,
                                       const double *wg, const float *num, double *z) {
    const uint32_t kp = m->kp;
    const double *bias = m->pad, *scale = bias + kp, *numw = scale + kp;
    const int32_t *s0 = sums[0], *s1 = sums[1], *s2 = sums[2];
    const v4d w0 = V4(wg[0]), w1 = V4(wg[1]), w2 = V4(wg[2]);
    v4d nv[RR_CLF_NUM_FEATURES];
    for (uint32_t i = 0; i < RR_CLF_NUM_FEATURES; i++)
        nv[i] = V4(num[i]);
    for (uint32_t k = 0; k < kp; k += 4) {
        v4d t = ld4i(s0 + k) * w0 + ld4i(s1 + k) * w1 + ld4i(s2 + k) * w2;
        if (m->nnum) {
            _Pragma("GCC unroll 6") for (uint32_t i = 0; i < RR_CLF_NUM_FEATURES; i++)
                t += nv[i] * ld4(numw + (size_t)i * kp + k);
        }
        ST4(z + k, ld4(bias + k) + ld4(scale + k) * t);
    }
}

/* exp(x) for x <= 0, without branches: Cody-Waite reduction to |r| <= ln2/2, a degree-12
 * Taylor polynomial in Estrin's form (relative error under 1e-15), 2^n built in the
 * exponent bits; 0 under -708, where 2^n would leave the normal range. glibc's exp costs
 * ~5 ns a call, a quarter of the time budget for 150 labels. */
static ALWAYS_INLINE v4d exp_le0(const v4d *px) {
    const v4d x = *px;
    const v4d magic = V4(0x1.8p52);
    v4l ok = (v4l)(x >= V4(-708.0));
    v4d t = x * V4(0x1.71547652b82fep0) + magic; /* round(x / ln2) in the low bits */
    v4d n = t - magic;
    v4d r = x - n * V4(0x1.62e42fee00000p-1) - n * V4(0x1.a39ef35793c76p-33);
    v4d r2 = r * r, r4 = r2 * r2;
    v4d a = (V4(1.0) + r) + r2 * (V4(1.0 / 2) + r * V4(1.0 / 6));
    v4d b = (V4(1.0 / 24) + r * V4(1.0 / 120)) + r2 * (V4(1.0 / 720) + r * V4(1.0 / 5040));
    v4d c = (V4(1.0 / 40320) + r * V4(1.0 / 362880)) +
            r2 * (V4(1.0 / 3628800) + r * V4(1.0 / 39916800));
    v4d p = a + r4 * (b + r4 * (c + r4 * V4(1.0 / 479001600)));
    v4u e = ((v4u)t + (v4u){1023, 1023, 1023, 1023}) << 52; /* n + 1023 survives */
    return (v4d)((v4l)(p * (v4d)e) & ok);
}

/* Softmax of z[0..k) / T in place; returns the index of the first largest logit. The
 * maximum is taken with four scalar chains (vector selects lower badly to SSE2); the last
 * partial vector goes through a copy padded with -inf, whose exp is 0. */
static ALWAYS_INLINE uint32_t softmax_impl(double *z, uint32_t k, double inv_t) {
    double m0 = z[0], m1 = z[0], m2 = z[0], m3 = z[0];
    uint32_t full = k & ~3u, i;
    for (i = 0; i < full; i += 4) {
        m0 = z[i] > m0 ? z[i] : m0, m1 = z[i + 1] > m1 ? z[i + 1] : m1;
        m2 = z[i + 2] > m2 ? z[i + 2] : m2, m3 = z[i + 3] > m3 ? z[i + 3] : m3;
    }
    for (; i < k; i++)
        m0 = z[i] > m0 ? z[i] : m0;
    m0 = m1 > m0 ? m1 : m0, m2 = m3 > m2 ? m3 : m2, m0 = m2 > m0 ? m2 : m0;
    uint32_t top = 0;
    while (top + 1 < k && z[top] != m0)
        top++;
    double rest[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    for (i = full; i < k; i++)
        rest[i - full] = z[i];
    v4d it = V4(inv_t), off = V4(m0 * inv_t), x = ld4(rest) * it - off, sum = exp_le0(&x);
    ST4(rest, sum);
    v4d sum2 = V4(0.0);
    for (i = 0; i + 8 <= full; i += 8) { /* two independent chains */
        x = ld4(z + i) * it - off;
        v4d e = exp_le0(&x);
        x = ld4(z + i + 4) * it - off;
        v4d e2 = exp_le0(&x);
        ST4(z + i, e);
        ST4(z + i + 4, e2);
        sum += e, sum2 += e2;
    }
    if (i < full) {
        x = ld4(z + i) * it - off;
        v4d e = exp_le0(&x);
        ST4(z + i, e);
        sum2 += e;
    }
    sum += sum2;
    v4d inv = V4(1.0 / ((sum[0] + sum[1]) + (sum[2] + sum[3])));
    for (i = 0; i < full; i += 4)
        ST4(z + i, ld4(z + i) * inv);
    ST4(rest, ld4(rest) * inv);
    for (i = full; i < k; i++)
        z[i] = rest[i - full];
    return top;
}

static void sum_rows_c(const int8_t *w, const uint32_t *at, uint32_t n, uint32_t kp,
                       int32_t *sum) {
    for (uint32_t i = 0; i < n; i++) {
        const int8_t *r = w + at[i];
        for (uint32_t k = 0; k < kp; k++)
            sum[k] += r[k];
    }
}

static void combine_base(const rr_classifier *m, int32_t *const *sums, const double *wg,
                         const float *num, double *z) {
    combine_impl(m, sums, wg, num, z);
}

static uint32_t softmax_base(double *z, uint32_t k, double inv_t) {
    return softmax_impl(z, k, inv_t);
}

static const rr_clf_kernel KERNEL_C = {"c", sum_rows_c, combine_base, softmax_base};

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define X86_KERNELS 1

/* One pass over the chunk for NV x 16 labels, the partial sums held in registers. */
#define SSE2_PASS(NV)                                                                      \
    do {                                                                                   \
        __m128i a_[2 * (NV)];                                                              \
        for (int j = 0; j < 2 * (NV); j++)                                                 \
            a_[j] = _mm_setzero_si128();                                                   \
        for (uint32_t i = 0; i < n; i++) {                                                 \
            const int8_t *r = w + at[i] + b;                                               \
            _Pragma("GCC unroll 4") for (int j = 0; j < (NV); j++) {                       \
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(r + 16 * j));  \
                a_[2 * j] = _mm_add_epi16(a_[2 * j],                                       \
                                          _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8));     \
                a_[2 * j + 1] = _mm_add_epi16(a_[2 * j + 1],                               \
                                              _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8)); \
            }                                                                              \
        }                                                                                  \
        for (int j = 0; j < 2 * (NV); j++) {                                               \
            __m128i *s = (__m128i *)(void *)(sum + b + 8 * j);                             \
            __m128i lo = _mm_srai_epi32(_mm_unpacklo_epi16(a_[j], a_[j]), 16);             \
            __m128i hi = _mm_srai_epi32(_mm_unpackhi_epi16(a_[j], a_[j]), 16);             \
            _mm_storeu_si128(s, _mm_add_epi32(_mm_loadu_si128(s), lo));                    \
            _mm_storeu_si128(s + 1, _mm_add_epi32(_mm_loadu_si128(s + 1), hi));            \
        }                                                                                  \
    } while (0)

static void sum_rows_sse2(const int8_t *w, const uint32_t *at, uint32_t n, uint32_t kp,
                          int32_t *sum) {
    uint32_t b = 0;
    for (; b + 64 <= kp; b += 64)
        SSE2_PASS(4);
    for (; b < kp; b += 16)
        SSE2_PASS(1);
}

#define AVX2_PASS(NV)                                                                      \
    do {                                                                                   \
        __m256i a_[NV];                                                                    \
        for (int j = 0; j < (NV); j++)                                                     \
            a_[j] = _mm256_setzero_si256();                                                \
        for (uint32_t i = 0; i < n; i++) {                                                 \
            const int8_t *r = w + at[i] + b;                                               \
            _Pragma("GCC unroll 8") for (int j = 0; j < (NV); j++) {                       \
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(r + 16 * j));  \
                a_[j] = _mm256_add_epi16(a_[j], _mm256_cvtepi8_epi16(v));                  \
            }                                                                              \
        }                                                                                  \
        for (int j = 0; j < (NV); j++) {                                                   \
            __m256i *s = (__m256i *)(void *)(sum + b + 16 * j);                            \
            __m256i lo = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(a_[j]));             \
            __m256i hi = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(a_[j], 1));        \
            _mm256_storeu_si256(s, _mm256_add_epi32(_mm256_loadu_si256(s), lo));           \
            _mm256_storeu_si256(s + 1, _mm256_add_epi32(_mm256_loadu_si256(s + 1), hi));   \
        }                                                                                  \
    } while (0)

#define AVX2 __attribute__((target("avx2")))

AVX2 static void sum_rows_avx2(const int8_t *w, const uint32_t *at, uint32_t n, uint32_t kp,
                               int32_t *sum) {
    uint32_t b = 0;
    for (; b + 128 <= kp; b += 128)
        AVX2_PASS(8);
    switch ((kp - b) / 16) {
    case 7: AVX2_PASS(7); break;
    case 6: AVX2_PASS(6); break;
    case 5: AVX2_PASS(5); break;
    case 4: AVX2_PASS(4); break;
    case 3: AVX2_PASS(3); break;
    case 2: AVX2_PASS(2); break;
    case 1: AVX2_PASS(1); break;
    default: break;
    }
}

AVX2 static void combine_avx2(const rr_classifier *m, int32_t *const *sums, const double *wg,
                              const float *num, double *z) {
    const uint32_t kp = m->kp;
    const double *bias = m->pad, *scale = bias + kp, *numw = scale + kp;
    const int32_t *s0 = sums[0], *s1 = sums[1], *s2 = sums[2];
    const __m256d w0 = _mm256_set1_pd(wg[0]), w1 = _mm256_set1_pd(wg[1]),
                  w2 = _mm256_set1_pd(wg[2]);
    __m256d nv[RR_CLF_NUM_FEATURES];
    for (uint32_t i = 0; i < RR_CLF_NUM_FEATURES; i++)
        nv[i] = _mm256_set1_pd((double)num[i]);
#define CVT(p) _mm256_cvtepi32_pd(_mm_loadu_si128((const __m128i *)(const void *)(p)))
    for (uint32_t k = 0; k < kp; k += 4) {
        __m256d t = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(CVT(s0 + k), w0),
                                                _mm256_mul_pd(CVT(s1 + k), w1)),
                                  _mm256_mul_pd(CVT(s2 + k), w2));
        if (m->nnum) {
            _Pragma("GCC unroll 6") for (uint32_t i = 0; i < RR_CLF_NUM_FEATURES; i++)
                t = _mm256_add_pd(t, _mm256_mul_pd(nv[i],
                                                   _mm256_loadu_pd(numw + (size_t)i * kp + k)));
        }
        _mm256_storeu_pd(z + k, _mm256_add_pd(_mm256_loadu_pd(bias + k),
                                              _mm256_mul_pd(_mm256_loadu_pd(scale + k), t)));
    }
#undef CVT
}

/* The same source as the base version: AVX without FMA rounds every operation as SSE2
 * does, so only the speed differs. */

AVX2 static uint32_t softmax_avx2(double *z, uint32_t k, double inv_t) {
    return softmax_impl(z, k, inv_t);
}

static const rr_clf_kernel KERNEL_SSE2 = {"sse2", sum_rows_sse2, combine_base, softmax_base};
static const rr_clf_kernel KERNEL_AVX2 = {"avx2", sum_rows_avx2, combine_avx2, softmax_avx2};

static bool cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
#endif

int rr_classifier_use_kernel(rr_classifier *m, const char *name) {
    if (!m || !name)
        return RR_EINVAL;
    const rr_clf_kernel *k = !strcmp(name, "c") ? &KERNEL_C : NULL;
#ifdef X86_KERNELS
    if (!strcmp(name, "sse2"))
        k = &KERNEL_SSE2;
    if (!strcmp(name, "avx2") && cpu_has_avx2())
        k = &KERNEL_AVX2;
#endif
    if (!k)
        return RR_EINVAL;
    m->kern = k;
    return RR_OK;
}

const char *rr_classifier_kernel(const rr_classifier *m) {
    return m && m->kern ? m->kern->name : "";
}

int rr_classifier_prepare(rr_classifier *m) {
    uint32_t kp = m->kp = rr_clf_stride(m->nlabels);
    rr_free(&m->a, m->pad);
    m->pad = rr_calloc(&m->a, (size_t)(2 + m->nnum) * kp, sizeof *m->pad);
    if (!m->pad)
        return RR_ENOMEM;
    for (uint32_t k = 0; k < kp; k++) {
        m->pad[k] = k < m->nlabels ? m->bias[k] : -INFINITY;
        m->pad[kp + k] = k < m->nlabels ? m->scale[k] : 0.0;
    }
    for (uint32_t i = 0; i < m->nnum; i++) {
        const int8_t *r = m->w + m->row_at[m->feat.buckets + i];
        for (uint32_t k = 0; k < m->nlabels; k++)
            m->pad[(2 + i) * (size_t)kp + k] = r[k];
    }
    if (rr_classifier_use_kernel(m, "avx2") && rr_classifier_use_kernel(m, "sse2"))
        rr_classifier_use_kernel(m, "c");
    return RR_OK;
}

/* Prediction state. Only ever a local whose address does not escape and whose arrays are
 * indexed by constants (the group at each call site), so that the compiler keeps the counts
 * in registers: in memory, each count's store and reload would chain every feature. */
typedef struct pred_ctx {
    const rr_classifier *m;
    const uint32_t *row_at;
    uint32_t *list[TEXT_GROUPS];
    size_t n[TEXT_GROUPS]; /* not uint32_t: stores to the lists then cannot alias it */
    size_t chunks[TEXT_GROUPS], spills[TEXT_GROUPS];
    int32_t *sum[TEXT_GROUPS];
    double *spill[TEXT_GROUPS];
    float *num;
} pred_ctx;

/* The scratch, in this order: z (kp doubles), the spilled sums (kp doubles per text group),
 * the int32 sums (kp per text group), then the row lists (CHUNK per text group). */
size_t rr_classifier_scratch_size(const rr_classifier *m) {
    if (!m)
        return 0;
    size_t kp = rr_clf_stride(m->nlabels);
    return (1 + TEXT_GROUPS) * kp * sizeof(double) + TEXT_GROUPS * kp * sizeof(int32_t) +
           TEXT_GROUPS * CHUNK * sizeof(uint32_t);
}

static void spill(uint32_t kp, int32_t *sum, double *to, bool first) {
    for (uint32_t i = 0; i < kp; i++)
        to[i] = (first ? 0.0 : to[i]) + sum[i];
    memset(sum, 0, kp * sizeof *sum);
}

static ALWAYS_INLINE void flush(pred_ctx *c, uint32_t g) {
    const rr_classifier *m = c->m;
    m->kern->sum_rows(m->w, c->list[g], (uint32_t)c->n[g], m->kp, c->sum[g]);
    c->n[g] = 0;
    if (++c->chunks[g] == SPILL_CHUNKS) {
        spill(m->kp, c->sum[g], c->spill[g], c->spills[g]++ == 0);
        c->chunks[g] = 0;
    }
}

static inline void pred_feature(void *ud, uint32_t group, uint32_t row, float value) {
    pred_ctx *c = ud;
    if (group >= TEXT_GROUPS) {
        c->num[row - c->m->feat.buckets] = value;
        return;
    }
    uint32_t at = c->row_at[row];
    c->list[group][c->n[group]] = at;
    c->n[group] += at != 0;
    if (c->n[group] == CHUNK)
        flush(c, group);
}

/* The rare path after a spill: the same sum, read from doubles. */
static void combine_spilled(const rr_classifier *m, int32_t *const *sum,
                            double *const *spill, const size_t *spills, const double *wg,
                            const float *num, double *z) {
    const uint32_t kp = m->kp;
    for (uint32_t k = 0; k < kp; k++) {
        double t = 0;
        for (uint32_t g = 0; g < TEXT_GROUPS; g++)
            t += wg[g] * (spills[g] ? spill[g][k] : (double)sum[g][k]);
        for (uint32_t i = 0; i < m->nnum; i++)
            t += (double)num[i] * m->pad[(2 + i) * (size_t)kp + k];
        z[k] = m->pad[k] + m->pad[kp + k] * t;
    }
}

static int check_scratch(const rr_classifier *m, const char *text, size_t len, void *scratch,
                         size_t scratch_size) {
    if (!m || (!text && len) || !scratch || scratch_size < rr_classifier_scratch_size(m) ||
        (uintptr_t)scratch % _Alignof(double))
        return RR_EINVAL;
    return RR_OK;
}

/* Group g's last chunk and spilled sums; its weight 1/sqrt(occurrences). Called with a
 * constant g: an array of the context indexed by a variable would keep it in memory. */
static ALWAYS_INLINE double finish_group(pred_ctx *c, uint32_t g, uint32_t occurrences,
                                         bool *spilled) {
    if (c->n[g])
        flush(c, g);
    if (c->spills[g]) {
        spill(c->m->kp, c->sum[g], c->spill[g], false);
        *spilled = true;
    }
    return occurrences ? 1.0 / sqrt((double)occurrences) : 0.0;
}

/* Logits into the scratch's first kp doubles (padding lanes -inf). */
static double *logits(const rr_classifier *m, const char *text, size_t len, void *scratch) {
    const size_t kp = m->kp;
    double *z = scratch;
    int32_t *sums = (int32_t *)(z + (1 + TEXT_GROUPS) * kp);
    uint32_t *lists = (uint32_t *)(sums + TEXT_GROUPS * kp);
    float num[RR_CLF_NUM_FEATURES] = {0};
    pred_ctx c = {.m = m,
                  .row_at = m->row_at,
                  .list = {lists, lists + CHUNK, lists + 2 * CHUNK},
                  .sum = {sums, sums + kp, sums + 2 * kp},
                  .spill = {z + kp, z + 2 * kp, z + 3 * kp},
                  .num = num};
    memset(sums, 0, TEXT_GROUPS * kp * sizeof(int32_t));
    uint32_t cnt[RR_CLF_G__COUNT] = {0};
    extract(&m->feat, text ? text : "", len, pred_feature, &c, cnt);
    bool spilled = false;
    double wg[TEXT_GROUPS] = {finish_group(&c, 0, cnt[0], &spilled),
                              finish_group(&c, 1, cnt[1], &spilled),
                              finish_group(&c, 2, cnt[2], &spilled)};
    int32_t *const sum[TEXT_GROUPS] = {c.sum[0], c.sum[1], c.sum[2]};
    if (spilled) {
        double *const sp[TEXT_GROUPS] = {c.spill[0], c.spill[1], c.spill[2]};
        const size_t spills[TEXT_GROUPS] = {c.spills[0], c.spills[1], c.spills[2]};
        combine_spilled(m, sum, sp, spills, wg, num, z);
    } else {
        m->kern->combine(m, sum, wg, num, z);
    }
    return z;
}

int rr_classifier_logits(const rr_classifier *m, const char *text, size_t len, void *scratch,
                         size_t scratch_size, double *out) {
    int rc = check_scratch(m, text, len, scratch, scratch_size);
    if (rc)
        return rc;
    memcpy(out, logits(m, text, len, scratch), m->nlabels * sizeof *out);
    return RR_OK;
}

static uint32_t decide(const rr_classifier *m, double *z, uint32_t k, rr_clf_result *res) {
    uint32_t top;
    if (m->cal_method == RR_CLF_CAL_PLATT && m->nlabels == 2) {
        double d = m->cal[0] * (z[1] - z[0]) + m->cal[1];
        z[1] = 1.0 / (1.0 + exp(-d));
        z[0] = 1.0 - z[1];
        top = z[1] > z[0];
    } else {
        top = m->kern->softmax(
            z, k, m->cal_method == RR_CLF_CAL_TEMPERATURE ? 1.0 / m->cal[0] : 1.0);
    }
    if (res) {
        res->top = (int32_t)top;
        res->p_top = z[top];
        res->label = (int32_t)top;
        if ((int32_t)top == m->oos_label || z[top] < m->oos_threshold)
            res->label = RR_CLF_UNKNOWN;
    }
    return top;
}

void rr_classifier_calibrate(const rr_classifier *m, double *z, rr_clf_result *res) {
    decide(m, z, m->nlabels, res);
}

int rr_classifier_predict(const rr_classifier *m, const char *text, size_t len,
                          void *scratch, size_t scratch_size, double *probs,
                          rr_clf_result *res) {
    int rc = check_scratch(m, text, len, scratch, scratch_size);
    if (rc)
        return rc;
    double *z = logits(m, text, len, scratch);
    decide(m, z, m->kp, res); /* the padding lanes are -inf: probability 0 */
    if (probs)
        memcpy(probs, z, m->nlabels * sizeof *probs);
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
    m->cal[0] = 1.0;
    m->kern = &KERNEL_C;
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
    rr_free(&a, m->scale);
    rr_free(&a, m->row_at);
    rr_free(&a, m->w);
    rr_free(&a, m->pad);
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
    for (uint32_t i = 0; i < m->nlabels; i++)
        put_f32(b, m->scale[i]);
    put_le(b, m->nused, 4);
    for (uint32_t r = 0; r < m->nrows; r++) {
        if (!m->row_at[r])
            continue;
        const int8_t *w = m->w + m->row_at[r];
        uint32_t n = 0;
        for (uint32_t k = 0; k < m->nlabels; k++)
            n += w[k] != 0;
        put_le(b, r, 4);
        put_le(b, n, 2);
        for (uint32_t k = 0; k < m->nlabels; k++) {
            if (!w[k])
                continue;
            unsigned char e[3] = {(unsigned char)k, (unsigned char)(k >> 8), (unsigned char)w[k]};
            rr_buf_put(b, e, 3);
        }
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
                      "reads version %u%s", version, RR_CLF_FORMAT_VERSION,
                      version < RR_CLF_FORMAT_VERSION ? " (retrain the model)" : "");
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
                    (m->cal_method == RR_CLF_CAL_TEMPERATURE &&
                     !(m->cal[0] >= 1e-3 && m->cal[0] <= 1e3)) ||
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

static int load_scales(rd *r, rr_classifier *m, bool *oom, rr_error *err) {
    m->bias = rr_malloc(&m->a, m->nlabels * sizeof(float));
    m->scale = rr_malloc(&m->a, m->nlabels * sizeof(float));
    if (!m->bias || !m->scale) {
        *oom = true;
        return RR_OK;
    }
    for (uint32_t i = 0; i < m->nlabels; i++) {
        m->bias[i] = rd_f32(r, "biases");
        if (!r->bad && !isfinite(m->bias[i]))
            return bad_field(err, "bias", r->off - 4);
    }
    for (uint32_t i = 0; i < m->nlabels; i++) {
        m->scale[i] = rd_f32(r, "weight scales");
        if (!r->bad && !(isfinite(m->scale[i]) && m->scale[i] >= 0))
            return bad_field(err, "weight scale", r->off - 4);
    }
    return RR_OK;
}

/* One stored row: labels increasing, weights non-zero within +-RR_CLF_Q_MAX (the int16
 * partial sums rely on that bound). */
static int load_row(rd *r, rr_classifier *m, uint32_t i, int64_t *prev, rr_error *err) {
    size_t at = r->off;
    uint32_t row = (uint32_t)rd_le(r, 4, "weight rows");
    uint32_t n = (uint32_t)rd_le(r, 2, "weight rows");
    if (r->bad)
        return RR_OK;
    if (row >= m->nrows || (int64_t)row <= *prev)
        return bad_field(err, "weight row (out of range or not increasing)", at);
    if (n == 0 || n > m->nlabels)
        return bad_field(err, "weight count of a row", at + 4);
    if (!rd_need(r, (size_t)n * 3, "weights"))
        return RR_OK;
    *prev = row;
    m->row_at[row] = (i + 1) * m->kp;
    int8_t *w = m->w + m->row_at[row];
    const unsigned char *p = r->p + r->off;
    for (uint32_t j = 0, last = 0; j < n; j++, p += 3) {
        uint32_t k = p[0] | (uint32_t)p[1] << 8;
        int8_t q = (int8_t)p[2];
        if (k >= m->nlabels || (j && k <= last))
            return bad_field(err, "weight label (out of range or not increasing)",
                             r->off + 3 * (size_t)j);
        if (q == 0 || q < -RR_CLF_Q_MAX)
            return bad_field(err, "weight (zero or under -127)", r->off + 3 * (size_t)j + 2);
        w[k] = q;
        last = k;
    }
    r->off += (size_t)n * 3;
    m->nnz += n;
    return RR_OK;
}

static int load_weights(rd *r, rr_classifier *m, bool *oom, rr_error *err) {
    m->nrows = m->feat.buckets + m->nnum;
    m->kp = rr_clf_stride(m->nlabels);
    int rc = load_scales(r, m, oom, err);
    if (rc || *oom || r->bad)
        return rc;
    size_t at = r->off;
    m->nused = (uint32_t)rd_le(r, 4, "weight row count");
    if (r->bad)
        return RR_OK;
    /* a row takes at least 9 bytes: check before allocating for it */
    if (m->nused > m->nrows || (size_t)m->nused * 9 > r->n - r->off)
        return rr_err(err, RR_EMODEL, "classifier model: %u weight rows at byte %zu do not "
                      "fit %u rows or the %zu bytes left", m->nused, at, m->nrows,
                      r->n - r->off);
    size_t bytes = ((size_t)m->nused + 1) * m->kp;
    if (bytes > RR_CLF_MAX_WEIGHT_BYTES)
        return rr_err(err, RR_EMODEL, "classifier model: %u rows x %u labels need %zu bytes "
                      "of weights; at most %zu", m->nused, m->nlabels, bytes,
                      RR_CLF_MAX_WEIGHT_BYTES);
    m->row_at = rr_calloc(&m->a, m->nrows, sizeof *m->row_at);
    m->w = rr_calloc(&m->a, bytes, 1);
    if (!m->row_at || !m->w) {
        *oom = true;
        return RR_OK;
    }
    int64_t prev = -1;
    for (uint32_t i = 0; i < m->nused && !r->bad; i++)
        if ((rc = load_row(r, m, i, &prev, err)))
            return rc;
    if (!r->bad && r->off != r->n)
        return rr_err(err, RR_EMODEL, "classifier model: %zu unexpected bytes after the "
                      "weights at byte %zu", r->n - r->off, r->off);
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
