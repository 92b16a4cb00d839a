/* Evaluation metrics shared by the classifier tools and offline evaluation: calibration
 * error, ranking quality, strong/weak routing curves (RouteLLM's APGR and CPT), macro-F1. */
#ifndef RR_EVAL_METRICS_H
#define RR_EVAL_METRICS_H

#include "base.h"

/* Expected calibration error with `bins` equal-width bins over [0, 1]: the mean over
 * samples of |accuracy(bin) - mean confidence(bin)|, weighted by bin size. conf[i] is the
 * probability given to the predicted label, correct[i] whether that label was right.
 * 0 when n == 0. Allocates nothing for bins <= 64 (larger values are clamped to 64). */
double rr_ece(const double *conf, const uint8_t *correct, size_t n, uint32_t bins);

/* Area under the ROC curve of `score` for positives label[i] != 0, ties counted half
 * (Mann-Whitney). NaN when either class is absent. Sorts a copy: RR_ENOMEM -> NaN. */
double rr_auroc(const double *score, const uint8_t *label, size_t n, const rr_alloc *a);

/* The strong/weak routing curve. Calls are sent to the strong model in decreasing order of
 * `score` (higher = more in need of the strong model); tied scores are one block over
 * which the curve is linear, i.e. the expectation over random tie-breaking. With
 * q(x) the mean correctness when a share x of calls goes to the strong model,
 * PGR(x) = (q(x) - q(0)) / (q(1) - q(0)); APGR = integral of PGR over x in [0, 1] (so a
 * random router scores 0.5 in expectation); CPT(p) = the smallest x with PGR(x) >= p. */
typedef struct rr_route_curve {
    double q_weak, q_strong; /* q(0), q(1) */
    double apgr;
    double cpt50, cpt80;     /* shares in [0, 1] */
} rr_route_curve;

/* Returns RR_OK, RR_EDATA (n == 0, or both models equally good so PGR is undefined),
 * RR_ENOMEM. */
int rr_route_curve_compute(const double *score, const uint8_t *weak_ok, const uint8_t *strong_ok,
                           size_t n, const rr_alloc *a, rr_route_curve *out, rr_error *err);
/* CPT(p) for any p in [0, 1] on the same inputs; negative on error. */
double rr_route_cpt(const double *score, const uint8_t *weak_ok, const uint8_t *strong_ok,
                    size_t n, double p, const rr_alloc *a);

/* The same curve from measured operating points, as RouteLLM computes it for a router's
 * threshold sweep: x[i] the share of calls sent to the strong model, q[i] the mean
 * quality there. The endpoints (0, q_weak) and (1, q_strong) are added, points are sorted
 * by x (equal x: the mean of their PGRs) and PGR is linear in between. RR_EDATA when
 * q_weak == q_strong, RR_ENOMEM. */
int rr_route_curve_points(const double *x, const double *q, size_t n, double q_weak,
                          double q_strong, const rr_alloc *a, rr_route_curve *out,
                          rr_error *err);

/* RouterBench's AIQ of cost-quality points: the mean, over the cost range
 * [min cost, max cost], of the non-decreasing upper convex hull of the points (any two
 * routers can be mixed at random, and spending more need not lower quality). The hull
 * at a cost c is the best quality any mixture reaches at cost <= c. When every point has
 * the same cost it is the best quality. NaN when n == 0 or on RR_ENOMEM. */
double rr_aiq(const double *cost, const double *quality, size_t n, const rr_alloc *a);

/* Classification summary over labels 0..k-1; a prediction of -1 ("unknown") is wrong for
 * every in-scope truth. macro_f1 averages F1 over labels that occur in the truth or the
 * predictions. */
typedef struct rr_cls_summary {
    double accuracy, macro_f1;
    size_t n;
} rr_cls_summary;
int rr_cls_summarise(const int32_t *truth, const int32_t *pred, size_t n, uint32_t k,
                     const rr_alloc *a, rr_cls_summary *out);

#endif
