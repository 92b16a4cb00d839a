/* Evaluation metrics: ECE, AUROC, RouteLLM's APGR / CPT, macro-F1. */
#include "eval_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double rr_ece(const double *conf, const uint8_t *correct, size_t n, uint32_t bins) {
    double sum_c[64] = {0}, sum_a[64] = {0};
    size_t cnt[64] = {0};
    if (!n)
        return 0;
    if (bins < 1)
        bins = 1;
    if (bins > 64)
        bins = 64;
    for (size_t i = 0; i < n; i++) {
        double c = conf[i] < 0 ? 0 : conf[i] > 1 ? 1 : conf[i];
        uint32_t b = (uint32_t)(c * bins);
        if (b >= bins)
            b = bins - 1;
        sum_c[b] += c;
        sum_a[b] += correct[i] ? 1 : 0;
        cnt[b]++;
    }
    double ece = 0;
    for (uint32_t b = 0; b < bins; b++)
        ece += fabs(sum_a[b] - sum_c[b]);
    return ece / (double)n;
}

typedef struct scored {
    double s;
    size_t i;
} scored;

/* Descending score, then ascending index, so the order is total and reproducible. */
static int cmp_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static scored *sorted_copy(const double *score, size_t n, const rr_alloc *a) {
    scored *v = rr_malloc(a, (n ? n : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++)
        v[i] = (scored){isnan(score[i]) ? -INFINITY : score[i], i};
    qsort(v, n, sizeof *v, cmp_desc);
    return v;
}

double rr_auroc(const double *score, const uint8_t *label, size_t n, const rr_alloc *a) {
    scored *v = sorted_copy(score, n, a);
    if (!v)
        return NAN;
    /* Walk from the highest score: each negative beats every positive already passed. */
    double pos = 0, neg = 0, wins = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double p = 0, q = 0;
        for (; j < n && v[j].s == v[i].s; j++)
            label[v[j].i] ? p++ : q++;
        wins += q * pos + 0.5 * p * q;
        pos += p;
        neg += q;
        i = j;
    }
    rr_free(a, v);
    return pos && neg ? wins / (pos * neg) : NAN;
}

/* The curve's points at tie-block boundaries: x[j], pgr[j] for j = 0..m. */
static int curve_points(const double *score, const uint8_t *w, const uint8_t *s, size_t n,
                        const rr_alloc *a, double **xs, double **ps, size_t *m,
                        double *qw, double *qs) {
    double sw = 0, ss = 0;
    for (size_t i = 0; i < n; i++) {
        sw += w[i] != 0;
        ss += s[i] != 0;
    }
    *qw = sw / (double)n;
    *qs = ss / (double)n;
    if (sw == ss)
        return RR_EDATA;
    scored *v = sorted_copy(score, n, a);
    double *x = rr_malloc(a, (n + 1) * sizeof *x), *p = rr_malloc(a, (n + 1) * sizeof *p);
    if (!v || !x || !p) {
        rr_free(a, v), rr_free(a, x), rr_free(a, p);
        return RR_ENOMEM;
    }
    size_t k = 0;
    double gain = 0; /* correct(strong) - correct(weak) summed over routed calls */
    x[k] = 0, p[k++] = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        for (; j < n && v[j].s == v[i].s; j++)
            gain += (double)(s[v[j].i] != 0) - (double)(w[v[j].i] != 0);
        x[k] = (double)j / (double)n;
        p[k++] = gain / (ss - sw);
        i = j;
    }
    rr_free(a, v);
    *xs = x, *ps = p, *m = k;
    return RR_OK;
}

static double cpt_on(const double *x, const double *p, size_t m, double target) {
    for (size_t j = 1; j < m; j++) {
        if (p[j] >= target) {
            if (p[j - 1] >= target)
                return x[j - 1];
            double t = (target - p[j - 1]) / (p[j] - p[j - 1]);
            return x[j - 1] + t * (x[j] - x[j - 1]);
        }
    }
    return 1.0;
}

int rr_route_curve_compute(const double *score, const uint8_t *weak_ok, const uint8_t *strong_ok,
                           size_t n, const rr_alloc *a, rr_route_curve *out, rr_error *err) {
    if (!n)
        return rr_err(err, RR_EDATA, "routing curve: no samples");
    double *x, *p, qw, qs;
    size_t m;
    int rc = curve_points(score, weak_ok, strong_ok, n, a, &x, &p, &m, &qw, &qs);
    if (rc == RR_EDATA)
        return rr_err(err, rc, "routing curve: both models are equally accurate (%.4f), so "
                      "performance gap recovered is undefined", qw);
    if (rc)
        return rr_err(err, rc, "routing curve: out of memory");
    double area = 0;
    for (size_t j = 1; j < m; j++)
        area += (x[j] - x[j - 1]) * (p[j] + p[j - 1]) / 2;
    out->q_weak = qw;
    out->q_strong = qs;
    out->apgr = area;
    out->cpt50 = cpt_on(x, p, m, 0.5);
    out->cpt80 = cpt_on(x, p, m, 0.8);
    rr_free(a, x);
    rr_free(a, p);
    return RR_OK;
}

double rr_route_cpt(const double *score, const uint8_t *weak_ok, const uint8_t *strong_ok,
                    size_t n, double target, const rr_alloc *a) {
    double *x, *p, qw, qs;
    size_t m;
    if (!n || curve_points(score, weak_ok, strong_ok, n, a, &x, &p, &m, &qw, &qs))
        return -1;
    double r = cpt_on(x, p, m, target);
    rr_free(a, x);
    rr_free(a, p);
    return r;
}

int rr_cls_summarise(const int32_t *truth, const int32_t *pred, size_t n, uint32_t k,
                     const rr_alloc *a, rr_cls_summary *out) {
    size_t *tp = rr_calloc(a, (size_t)k * 3 + 1, sizeof *tp);
    if (!tp)
        return RR_ENOMEM;
    size_t *fp = tp + k, *fn = fp + k, right = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t t = truth[i], p = pred[i];
        bool tin = t >= 0 && (uint32_t)t < k, pin = p >= 0 && (uint32_t)p < k;
        if (t == p) {
            right++;
            if (tin)
                tp[t]++;
            continue;
        }
        if (tin)
            fn[t]++;
        if (pin)
            fp[p]++;
    }
    double f1 = 0;
    size_t used = 0;
    for (uint32_t c = 0; c < k; c++) {
        if (!tp[c] && !fp[c] && !fn[c])
            continue;
        used++;
        f1 += 2.0 * (double)tp[c] / (double)(2 * tp[c] + fp[c] + fn[c]);
    }
    out->n = n;
    out->accuracy = n ? (double)right / (double)n : 0;
    out->macro_f1 = used ? f1 / (double)used : 0;
    rr_free(a, tp);
    return RR_OK;
}

typedef struct xy {
    double x, y;
} xy;

static int cmp_xy(const void *a, const void *b) {
    const xy *p = a, *q = b;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    return p->y > q->y ? -1 : p->y < q->y; /* equal x: best first */
}

int rr_route_curve_points(const double *x, const double *q, size_t n, double q_weak,
                          double q_strong, const rr_alloc *a, rr_route_curve *out,
                          rr_error *err) {
    if (q_weak == q_strong)
        return rr_err(err, RR_EDATA, "routing curve: both models are equally accurate (%.4f), "
                      "so performance gap recovered is undefined", q_weak);
    xy *p = rr_malloc(a, (n + 2) * sizeof *p);
    if (!p)
        return rr_err(err, RR_ENOMEM, "out of memory");
    size_t m = 0;
    p[m++] = (xy){0, 0};
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(q[i]))
            p[m++] = (xy){x[i] < 0 ? 0 : x[i] > 1 ? 1 : x[i],
                          (q[i] - q_weak) / (q_strong - q_weak)};
    p[m++] = (xy){1, 1};
    qsort(p, m, sizeof *p, cmp_xy);
    /* Equal shares: average them, so a flat stretch of a sweep counts once. */
    size_t k = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        double s = 0;
        for (; j < m && p[j].x == p[i].x; j++)
            s += p[j].y;
        p[k++] = (xy){p[i].x, s / (double)(j - i)};
        i = j;
    }
    double area = 0, *xs = rr_malloc(a, k * sizeof *xs), *ps = rr_malloc(a, k * sizeof *ps);
    if (!xs || !ps) {
        rr_free(a, p), rr_free(a, xs), rr_free(a, ps);
        return rr_err(err, RR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < k; i++) {
        xs[i] = p[i].x, ps[i] = p[i].y;
        if (i)
            area += (xs[i] - xs[i - 1]) * (ps[i] + ps[i - 1]) / 2;
    }
    out->q_weak = q_weak;
    out->q_strong = q_strong;
    out->apgr = area;
    out->cpt50 = cpt_on(xs, ps, k, 0.5);
    out->cpt80 = cpt_on(xs, ps, k, 0.8);
    rr_free(a, p), rr_free(a, xs), rr_free(a, ps);
    return RR_OK;
}

static double cross(xy o, xy a, xy b) {
    return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

double rr_aiq(const double *cost, const double *quality, size_t n, const rr_alloc *a) {
    if (!n)
        return NAN;
    xy *p = rr_malloc(a, n * sizeof *p);
    if (!p)
        return NAN;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(cost[i]) && isfinite(quality[i]))
            p[m++] = (xy){cost[i], quality[i]};
    if (!m) {
        rr_free(a, p);
        return NAN;
    }
    qsort(p, m, sizeof *p, cmp_xy);
    double lo = p[0].x, hi = p[m - 1].x;
    /* Upper hull, left to right (monotone chain), one point per cost. */
    size_t h = 0;
    for (size_t i = 0; i < m; i++) {
        if (h && p[i].x == p[h - 1].x)
            continue;
        while (h >= 2 && cross(p[h - 2], p[h - 1], p[i]) >= 0)
            h--;
        p[h++] = p[i];
    }
    /* Non-decreasing: past the best vertex the hull stays flat at the best quality. */
    size_t best = 0;
    for (size_t i = 1; i < h; i++)
        if (p[i].y > p[best].y)
            best = i;
    double area = 0;
    for (size_t i = 1; i <= best; i++)
        area += (p[i].x - p[i - 1].x) * (p[i].y + p[i - 1].y) / 2;
    area += (hi - p[best].x) * p[best].y;
    double r = hi > lo ? area / (hi - lo) : p[best].y;
    rr_free(a, p);
    return r;
}
