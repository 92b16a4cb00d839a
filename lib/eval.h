/* Offline evaluation (internal): replay records, the mergeable aggregate, the latency
 * sketch, importers, threshold overrides and the report. The public face is rr_eval_* in
 * routeright.h; rrctl's replay/sweep/calibrate/compare/merge/import use these too. */
#ifndef RR_EVAL_H
#define RR_EVAL_H

#include "base.h"
#include "eval_metrics.h"

#include <jansson.h>
#include <stdio.h>

/* ---- Latency sketch --------------------------------------------------------------
 * A log-bucketed histogram (DDSketch's mapping): bucket i holds values in
 * (g^(i-1), g^i] with g = (1 + a) / (1 - a), and reports 2 g^i / (g + 1), which is within
 * a relative error `a` of every value in the bucket. Values below RR_SKETCH_MIN (0 ms
 * included) share a zero bucket reported as 0. Merging adds bucket counts, so a merged
 * sketch equals the sketch of the concatenated data. The dense store covers only the
 * index range seen, so a few hundred buckets for real latencies. */
#define RR_SKETCH_ALPHA 0.01
#define RR_SKETCH_MIN 1e-3
#define RR_SKETCH_MAX_INDEX 2000 /* ~4e17: anything larger is clamped */

typedef struct rr_sketch {
    uint64_t *counts;
    int32_t lo;    /* index of counts[0] */
    uint32_t n;    /* buckets in counts */
    uint64_t zero; /* values < RR_SKETCH_MIN */
    uint64_t total;
    double min, max; /* exact extremes: quantiles are clamped into them */
} rr_sketch;

void rr_sketch_free(rr_sketch *s, const rr_alloc *a);
/* Returns false on allocation failure (the value is then not counted). */
bool rr_sketch_add(rr_sketch *s, const rr_alloc *a, double v, uint64_t count);
bool rr_sketch_merge(rr_sketch *dst, const rr_alloc *a, const rr_sketch *src);
/* The value of rank floor(q * (total - 1)) (0-based, ascending) of a weighted mixture of
 * k sketches (weights >= 0; a plain quantile with k = 1, w = 1). NaN when empty. */
double rr_sketch_quantile_mix(const rr_sketch *const *s, const double *w, size_t k, double q);
double rr_sketch_quantile(const rr_sketch *s, double q);
/* The value at 0-based rank `rank` (clamped). NaN when empty. */
double rr_sketch_at_rank(const rr_sketch *s, uint64_t rank);
/* {"zero":Z,"lo":L,"min":m,"max":M,"counts":[...]} and back. */
void rr_sketch_json(const rr_sketch *s, rr_buf *b);
int rr_sketch_from_json(rr_sketch *s, const rr_alloc *a, const json_t *j, rr_error *err);

/* ---- Replay records ---------------------------------------------------------------- */

/* One recorded outcome of a route, as read from "outcomes": {route: {...}}. */
typedef struct rr_eval_outcome {
    const char *route;     /* key in "outcomes" (borrowed from the record) */
    double quality;        /* NaN when absent */
    int accepted;          /* 1 / 0, -1 when absent */
    double cost_usd;       /* NaN when absent */
    double latency_ms;     /* NaN when absent */
    int64_t input_tokens;  /* -1 when absent */
    int64_t output_tokens; /* -1 when absent */
    const char *output;    /* NULL when absent */
    size_t output_len;
    const char *failure; /* recorded failure type, NULL when absent */
    int retriable;
    double confidence; /* -1 when absent */
    int schema_valid;  /* -1 when absent */
} rr_eval_outcome;

/* A parsed record. Reusable: parsing again keeps its buffers. Owns the request it fills,
 * which every router of one policy can route (sweeps route one record many times). */
typedef struct rr_eval_rec {
    rr_alloc a;
    rr_request *req;
    json_t *root; /* jansson's tree of the current line */
    uint64_t lineno;
    uint64_t key;             /* bootstrap key: xxh3 of the id, else the line number */
    char id[128];             /* "" when the record has none (truncated when longer) */
    const char *task;         /* labels.task or NULL */
    const char *risk;         /* labels.risk or NULL */
    int human_review;         /* labels.human_review: 1 / 0, -1 when absent */
    const json_t *acceptable; /* labels.acceptable_routes array or NULL */
    size_t in_bytes;          /* text + evidence bytes, to estimate input tokens */
    rr_eval_outcome *out;
    size_t nout, capout;
} rr_eval_rec;

int rr_eval_rec_init(rr_eval_rec *r, const rr_allocator *pub);
void rr_eval_rec_free(rr_eval_rec *r);
/* Parse one JSONL line. RR_EDATA (malformed record; message names the line and the JSON
 * pointer), RR_ENOMEM. The previous record is released first. */
int rr_eval_rec_parse(rr_eval_rec *r, const char *line, size_t len, uint64_t lineno, rr_error *err);
/* Release the jansson tree (the request keeps its last contents). */
void rr_eval_rec_clear(rr_eval_rec *r);
const rr_eval_outcome *rr_eval_rec_outcome(const rr_eval_rec *r, const char *route);
/* 1 when labels.acceptable_routes lists `route`, 0 when it does not, -1 when absent. */
int rr_eval_rec_label_accepts(const rr_eval_rec *r, const char *route);

/* ---- The evaluation ---------------------------------------------------------------- */

/* What happened to one record under one policy (for compare and tests). */
typedef struct rr_eval_trace {
    int status;      /* 0 replayed, 1 missing outcome, 2 not replayable */
    int first_route; /* route indexes in the router; -1 when none */
    int final_route;
    int rule;                  /* routing rule of the first decision, -1 none */
    const char *missing_route; /* route whose outcome was missing (status 1) */
    uint32_t attempts;
    double quality, cost_usd, latency_ms;
} rr_eval_trace;

/* Replay a parsed record through ev's router and add it to the aggregate. Missing
 * outcomes are counted (trace->status 1), not errors. Errors: RR_EDATA when the request
 * cannot be routed (bad text, too big; counted as malformed), RR_ENOMEM. */
int rr_eval_add_record(rr_eval *ev, rr_eval_rec *rec, rr_eval_trace *trace, rr_error *err);
/* Count a malformed line (kept with its message for the result). */
void rr_eval_note_malformed(rr_eval *ev, uint64_t lineno, const rr_error *e);
/* Lines seen so far (what rr_eval_add_line numbers lines with); drivers that parse lines
 * themselves (rr_eval_rec_parse + rr_eval_add_record) set the count with the setter. */
uint64_t rr_eval_lines(const rr_eval *ev);
void rr_eval_set_lines(rr_eval *ev, uint64_t lines);
const rr_router *rr_eval_router(const rr_eval *ev);

/* Headline figures for sweeps and calibration. NaN where undefined. */
typedef struct rr_eval_summary {
    uint64_t n;
    double quality, cost_per_request, latency_p95, premium_share, escalation_rate, human_rate,
        false_cheap_rate, premium_overuse_rate;
    double q_cheapest, q_premium, c_cheapest, c_premium, q_oracle, c_oracle;
} rr_eval_summary;
void rr_eval_summarise(const rr_eval *ev, const char *family, rr_eval_summary *out);
/* p-quantile of the latency of `family` ("all" or NULL = overall), with the 95%
 * distribution-free (binomial order statistic) interval. NaN when no such family. */
double rr_eval_latency_q(const rr_eval *ev, const char *family, double q, double *lo, double *hi);
/* Records of `family` ("all" = every) with labels.risk == risk whose answer came from the
 * cheapest tier, and how many carried that risk. */
uint64_t rr_eval_risk_cheap(const rr_eval *ev, const char *risk, uint64_t *n);
/* Family names seen (borrowed); index 0 is "all". */
size_t rr_eval_family_count(const rr_eval *ev);
const char *rr_eval_family_name(const rr_eval *ev, size_t i);

/* Bootstrap metrics kept per Poisson resample. */
enum {
    RR_BOOT_W = 0,
    RR_BOOT_Q,
    RR_BOOT_COST,
    RR_BOOT_LAT,
    RR_BOOT_ESC,
    RR_BOOT_HUMAN,
    RR_BOOT_PREM,
    RR_BOOT_QPREM,
    RR_BOOT__K
};
/* The resample values of metric `m` (a per-request mean, or quality / premium quality for
 * RR_BOOT_QPREM) into out[0..B); returns B (0 when bootstrap is off). */
size_t rr_eval_boot_values(const rr_eval *ev, int m, double *out, size_t cap);
/* 2.5th and 97.5th percentiles of v[0..n) (sorts v). */
void rr_boot_interval(double *v, size_t n, double *lo, double *hi);

/* ---- Calibration and comparison ---------------------------------------------------- */

typedef struct rr_eval_objectives {
    bool has_min_quality, has_min_quality_of_premium;
    double min_quality;            /* mean quality >= this */
    double min_quality_of_premium; /* quality >= this x always-premium quality */
    size_t np95;
    const char *p95_family[16]; /* "all" or a task family */
    double p95_ms[16];          /* p95 latency of that family <= this */
    const char *no_cheap_risk;  /* no request with this labels.risk touches the cheapest tier */
} rr_eval_objectives;

typedef struct rr_eval_judgement {
    bool feasible;
    double violation; /* sum of relative shortfalls; 0 when feasible */
    double cost, quality;
} rr_eval_judgement;

rr_eval_judgement rr_eval_judge(const rr_eval *ev, const rr_eval_objectives *o);
/* The cheapest candidate meeting every objective (ties: higher quality, then the first),
 * or, when none does, the closest one (smallest total relative shortfall, then cheapest).
 * Returns its index (-1 when n == 0) and fills *j. */
int rr_eval_pick(rr_eval *const *ev, size_t n, const rr_eval_objectives *o, rr_eval_judgement *j);

/* Route changes between two policies, grouped by reason. */
typedef struct rr_eval_change {
    char reason[256];
    uint64_t n;
    char example[3][48];
} rr_eval_change;

typedef struct rr_eval_changes {
    rr_alloc a;
    rr_eval_change *c;
    size_t n, cap;
    uint64_t total, other;
} rr_eval_changes;

void rr_eval_changes_init(rr_eval_changes *ch, const rr_alloc *a);
void rr_eval_changes_free(rr_eval_changes *ch);
/* Count one record if its route differs between policy A (ra, ta) and B (rb, tb): reason
 * "ruleA -> ruleB (routeA -> routeB)" when the first route differs, else "same first
 * route, ladder ended differently (finalA -> finalB)". At most 1024 reasons; the rest go
 * to `other`. */
void rr_eval_changes_add(rr_eval_changes *ch, const rr_router *ra, const rr_eval_trace *ta,
                         const rr_router *rb, const rr_eval_trace *tb, const rr_eval_rec *rec);
/* Most frequent first. */
void rr_eval_changes_sort(rr_eval_changes *ch);

/* ---- Threshold overrides ----------------------------------------------------------- */

/* The policy `json` with thresholds.names[i] = values[i] (and "version" replaced when
 * `version` is not NULL), dumped with `flags` (jansson's JSON_* dump flags). The result
 * belongs to jansson's allocator: free it with rr_eval_free_dump. RR_EJSON, RR_EPOLICY
 * (no such threshold; the message lists the known ones), RR_ENOMEM. */
int rr_eval_policy_override(const char *json, size_t len, const char *const *names,
                            const double *values, size_t k, const char *version, size_t flags,
                            char **out, rr_error *err);
void rr_eval_free_dump(char *s);
/* The current value of thresholds.name, NaN when absent. */
double rr_eval_policy_threshold(const char *json, size_t len, const char *name);
/* "3" -> "3.1", "3.1" -> "3.2", otherwise "<v>-calibrated". */
void rr_eval_bump_version(const char *v, char *out, size_t cap);
/* The feature a rule compares against thr.name ("retrieval.margin" for
 * "retrieval.margin >= thr.faq_margin"): its slot in `r`, or -1. */
int rr_eval_threshold_feature(const rr_router *r, const char *policy, size_t len, const char *name,
                              char *feature, size_t cap);

/* ---- Importers ----------------------------------------------------------------------- */

/* RFC 4180 CSV, streamed one record at a time: quoted fields may hold commas, doubled
 * quotes and newlines; CRLF or LF line ends; a UTF-8 BOM is skipped. */
typedef struct rr_csv {
    FILE *f;
    rr_alloc a;
    rr_buf field; /* all fields of the record, NUL-separated */
    size_t *off;  /* field start offsets in `field` */
    size_t nf, capf;
    uint64_t line; /* physical line where the current record started (1-based) */
    uint64_t next_line;
    bool started;
} rr_csv;

void rr_csv_init(rr_csv *c, FILE *f, const rr_alloc *a);
void rr_csv_free(rr_csv *c);
/* 1 when a record was read, 0 at end of file, negative on error (RR_EDATA for a quote
 * left open or stray text after a closing quote, RR_ENOMEM, RR_EIO). */
int rr_csv_next(rr_csv *c, rr_error *err);
static inline const char *rr_csv_field(const rr_csv *c, size_t i, size_t *len) {
    if (i >= c->nf)
        return NULL;
    if (len)
        *len = (i + 1 < c->nf ? c->off[i + 1] - 1 : c->field.len) - c->off[i];
    return c->field.p + c->off[i];
}

/* Model column -> route: "gpt-4-1106-preview=premium_route,mixtral=small_route". */
typedef struct rr_import_map {
    size_t n;
    char *model[32];
    char *route[32];
    double cost_usd[32]; /* --cost route=USD for formats without costs; NaN = none */
} rr_import_map;

int rr_import_map_parse(rr_import_map *m, const rr_alloc *a, const char *spec, rr_error *err);
/* "route=USD,route=USD": a fixed per-call cost for routes whose data has none. */
int rr_import_map_costs(rr_import_map *m, const char *spec, rr_error *err);
void rr_import_map_free(rr_import_map *m, const rr_alloc *a);

enum { RR_IMPORT_ROUTELLM = 1, RR_IMPORT_ROUTERBENCH = 2 };
#define RR_IMPORT_WITH_OUTPUTS 1u

/* Convert one CSV (`name` is used in ids and, for RouteLLM, as the task label: the file's
 * stem, e.g. "mmlu_anatomy") to replay JSONL on `out`. Returns the number of records
 * written (>= 0) or a negative error (RR_EDATA naming the line and column). */
long rr_eval_import(int format, FILE *in, const char *name, const rr_import_map *m, uint32_t flags,
                    FILE *out, const rr_alloc *a, rr_error *err);

/* ---- Report ------------------------------------------------------------------------ */

typedef struct rr_plot_point {
    double cost, quality;
    const char *label;
    int kind; /* 0 sweep point, 1 chosen point, 2 baseline, 3 oracle */
} rr_plot_point;

/* An SVG cost-quality chart: the sweep points joined in order, baselines as labelled
 * markers, the random line from always-cheapest to always-premium, the chosen point
 * ringed. Appends to b. */
void rr_eval_svg_frontier(rr_buf *b, const char *title, const rr_plot_point *p, size_t n,
                          double width, double height);
/* A self-contained HTML (or, when `svg_only`, one SVG) report of a replay result JSON. */
int rr_eval_render(const char *result_json, size_t len, int svg_only, rr_buf *out, rr_error *err);

#endif
