/* The latency sketch: a log-bucketed histogram with DDSketch's index mapping, so that
 * shards merge by adding counts and every reported quantile is within RR_SKETCH_ALPHA
 * (relative) of a true sample value. */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double gamma_(void) {
    return (1 + RR_SKETCH_ALPHA) / (1 - RR_SKETCH_ALPHA);
}

static int32_t index_of(double v) {
    int32_t i = (int32_t)ceil(log(v) / log(gamma_()));
    if (i > RR_SKETCH_MAX_INDEX)
        i = RR_SKETCH_MAX_INDEX;
    if (i < -RR_SKETCH_MAX_INDEX)
        i = -RR_SKETCH_MAX_INDEX;
    return i;
}

static double value_of(int32_t i) {
    double g = gamma_();
    return 2 * pow(g, i) / (g + 1);
}

void rr_sketch_free(rr_sketch *s, const rr_alloc *a) {
    rr_free(a, s->counts);
    memset(s, 0, sizeof *s);
}

/* Make room for index i, keeping counts in place relative to their index. */
static bool cover(rr_sketch *s, const rr_alloc *a, int32_t i) {
    if (s->n && i >= s->lo && i < s->lo + (int32_t)s->n)
        return true;
    int32_t lo = s->n ? (i < s->lo ? i : s->lo) : i;
    int32_t hi = s->n ? (i >= s->lo + (int32_t)s->n ? i : s->lo + (int32_t)s->n - 1) : i;
    /* Grow by a margin so a drifting range does not reallocate on every new bucket. */
    int32_t margin = 32;
    if (s->n && lo < s->lo)
        lo -= margin;
    if (s->n && hi >= s->lo + (int32_t)s->n)
        hi += margin;
    if (!s->n)
        lo -= margin / 2, hi += margin / 2;
    uint32_t n = (uint32_t)(hi - lo + 1);
    uint64_t *c = rr_calloc(a, n, sizeof *c);
    if (!c)
        return false;
    if (s->n)
        memcpy(c + (s->lo - lo), s->counts, s->n * sizeof *c);
    rr_free(a, s->counts);
    s->counts = c;
    s->lo = lo;
    s->n = n;
    return true;
}

static void extremes(rr_sketch *s, double lo, double hi) {
    if (!s->total || lo < s->min)
        s->min = lo;
    if (!s->total || hi > s->max)
        s->max = hi;
}

bool rr_sketch_add(rr_sketch *s, const rr_alloc *a, double v, uint64_t count) {
    if (!count)
        return true;
    if (!(v >= 0))
        v = 0; /* NaN and negatives count as zero latency */
    extremes(s, v, v);
    if (v < RR_SKETCH_MIN) { /* NaN and negatives count as zero latency */
        s->zero += count;
        s->total += count;
        return true;
    }
    int32_t i = index_of(v);
    if (!cover(s, a, i))
        return false;
    s->counts[i - s->lo] += count;
    s->total += count;
    return true;
}

bool rr_sketch_merge(rr_sketch *dst, const rr_alloc *a, const rr_sketch *src) {
    if (!src->total)
        return true;
    extremes(dst, src->min, src->max);
    if (src->n) {
        if (!cover(dst, a, src->lo) || !cover(dst, a, src->lo + (int32_t)src->n - 1))
            return false;
        for (uint32_t k = 0; k < src->n; k++)
            dst->counts[src->lo + (int32_t)k - dst->lo] += src->counts[k];
    }
    dst->zero += src->zero;
    dst->total += src->total;
    return true;
}

/* The extremes are exact, so a bucket's representative never strays outside them. */
static double clamp(double v, double lo, double hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static double count_at(const rr_sketch *s, int32_t i) {
    return (s->n && i >= s->lo && i < s->lo + (int32_t)s->n) ? (double)s->counts[i - s->lo] : 0;
}

double rr_sketch_quantile_mix(const rr_sketch *const *s, const double *w, size_t k, double q) {
    double total = 0, vmin = INFINITY, vmax = -INFINITY;
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (size_t j = 0; j < k; j++) {
        total += w[j] * (double)s[j]->total;
        if (w[j] > 0 && s[j]->total)
            vmin = fmin(vmin, s[j]->min), vmax = fmax(vmax, s[j]->max);
        if (s[j]->n) {
            lo = s[j]->lo < lo ? s[j]->lo : lo;
            int32_t h = s[j]->lo + (int32_t)s[j]->n - 1;
            hi = h > hi ? h : hi;
        }
    }
    if (!(total > 0))
        return NAN;
    q = q < 0 ? 0 : q > 1 ? 1 : q;
    /* Counts are integers for one sketch, so rank < cum works as "the rank-th value". */
    double rank = floor(q * (total - 1) + 1e-9), cum = 0;
    for (size_t j = 0; j < k; j++)
        cum += w[j] * (double)s[j]->zero;
    if (rank <= 0)
        return vmin; /* the extremes are exact, so the ends of the ranking are too */
    if (rank >= floor(total - 1 + 1e-9))
        return vmax;
    if (rank < cum - 1e-9)
        return clamp(0, vmin, vmax);
    for (int32_t i = lo; i <= hi; i++) {
        for (size_t j = 0; j < k; j++)
            cum += w[j] * count_at(s[j], i);
        if (rank < cum - 1e-9)
            return clamp(value_of(i), vmin, vmax);
    }
    return clamp(hi >= lo ? value_of(hi) : 0, vmin, vmax);
}

double rr_sketch_quantile(const rr_sketch *s, double q) {
    double w = 1;
    return rr_sketch_quantile_mix(&s, &w, 1, q);
}

double rr_sketch_at_rank(const rr_sketch *s, uint64_t rank) {
    if (!s->total)
        return NAN;
    if (rank >= s->total)
        rank = s->total - 1;
    if (rank < s->zero)
        return clamp(0, s->min, s->max);
    uint64_t cum = s->zero;
    for (uint32_t k = 0; k < s->n; k++) {
        cum += s->counts[k];
        if (rank < cum)
            return clamp(value_of(s->lo + (int32_t)k), s->min, s->max);
    }
    return s->max;
}

/* Sparse runs keep partial files small: leading and trailing empty buckets are cut. */
void rr_sketch_json(const rr_sketch *s, rr_buf *b) {
    uint32_t first = 0, last = s->n;
    while (first < s->n && !s->counts[first])
        first++;
    while (last > first && !s->counts[last - 1])
        last--;
    rr_buf_printf(b, "{\"zero\":%llu,\"lo\":%d,\"min\":", (unsigned long long)s->zero,
                  (int)(s->lo + (int32_t)first));
    rr_buf_json_num(b, s->total ? s->min : 0);
    rr_buf_puts(b, ",\"max\":");
    rr_buf_json_num(b, s->total ? s->max : 0);
    rr_buf_puts(b, ",\"counts\":[");
    for (uint32_t k = first; k < last; k++)
        rr_buf_printf(b, "%s%llu", k > first ? "," : "", (unsigned long long)s->counts[k]);
    rr_buf_puts(b, "]}");
}

int rr_sketch_from_json(rr_sketch *s, const rr_alloc *a, const json_t *j, rr_error *err) {
    const json_t *z = json_object_get(j, "zero"), *lo = json_object_get(j, "lo"),
                 *c = json_object_get(j, "counts"), *mn = json_object_get(j, "min"),
                 *mx = json_object_get(j, "max");
    if (!json_is_integer(z) || !json_is_integer(lo) || !json_is_array(c) || !json_is_number(mn) ||
        !json_is_number(mx) || json_integer_value(z) < 0 ||
        llabs(json_integer_value(lo)) > RR_SKETCH_MAX_INDEX ||
        json_integer_value(lo) + (json_int_t)json_array_size(c) > RR_SKETCH_MAX_INDEX + 1)
        return rr_err(err, RR_EDATA,
                      "sketch: expected {\"zero\": n, \"lo\": index, "
                      "\"counts\": [n, ...]} within the index range");
    rr_sketch t = {0};
    t.zero = (uint64_t)json_integer_value(z);
    t.total = t.zero;
    size_t i;
    json_t *v;
    json_array_foreach(c, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            rr_sketch_free(&t, a);
            return rr_err(err, RR_EDATA, "sketch: counts[%zu] is not a count", i);
        }
        int32_t idx = (int32_t)json_integer_value(lo) + (int32_t)i;
        if (json_integer_value(v) && !cover(&t, a, idx)) {
            rr_sketch_free(&t, a);
            return rr_err(err, RR_ENOMEM, "out of memory");
        }
        if (json_integer_value(v)) {
            t.counts[idx - t.lo] += (uint64_t)json_integer_value(v);
            t.total += (uint64_t)json_integer_value(v);
        }
    }
    t.min = json_number_value(mn);
    t.max = json_number_value(mx);
    rr_sketch_free(s, a);
    *s = t;
    return RR_OK;
}
