/* rrctl replay / sweep / calibrate / compare / merge / import: offline evaluation of a
 * policy on recorded outcomes (see "Offline evaluation" in routeright.h for the format). */
#define _POSIX_C_SOURCE 200809L
#include "cmd_eval.h"

#include "eval.h"
#include "router.h"
#include "rrctl.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { RRCTL_UNMET = 5 }; /* calibrate: no candidate meets the objectives */

#define MAX_THR 4
#define MAX_GRID 4096

typedef struct cli {
    const char *cmd;
    const char *policy, *data, *report, *svg, *out, *map, *cost;
    const char *thr[MAX_THR];
    size_t nthr;
    double from, to, chosen;
    bool has_from, has_to, has_chosen;
    int steps;
    int json, partial, skip, with_outputs, allow_empty;
    rr_eval_options eo;
    double min_q, min_qp;
    bool has_min_q, has_min_qp;
    struct {
        char family[64];
        double ms;
    } p95[16];
    size_t np95;
    const char *no_cheap_risk;
    const char *pos[512];
    size_t npos;
} cli;

/* ---- command line -------------------------------------------------------------------- */

static bool num_arg(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static int usage_err(const cli *c, const char *what, const char *arg) {
    fprintf(stderr, "rrctl %s: %s%s%s (see --help)\n", c->cmd, what, arg ? " " : "",
            arg ? arg : "");
    return RRCTL_USAGE;
}

/* One option with its value; returns 1 when consumed, 0 when unknown, <0 on error. */
static int opt_value(cli *c, const char *a, const char *v) {
    double d;
    if (!strcmp(a, "--policy"))
        c->policy = v;
    else if (!strcmp(a, "--data"))
        c->data = v;
    else if (!strcmp(a, "--report"))
        c->report = v;
    else if (!strcmp(a, "--svg"))
        c->svg = v;
    else if (!strcmp(a, "--out"))
        c->out = v;
    else if (!strcmp(a, "--map"))
        c->map = v;
    else if (!strcmp(a, "--cost"))
        c->cost = v;
    else if (!strcmp(a, "--threshold")) {
        if (c->nthr == MAX_THR)
            return -1;
        c->thr[c->nthr++] = v;
    } else if (!strcmp(a, "--no-cheap-on-risk"))
        c->no_cheap_risk = v;
    else if (!strcmp(a, "--max-p95-ms")) {
        const char *eq = strchr(v, '=');
        if (c->np95 == 16)
            return -1;
        snprintf(c->p95[c->np95].family, sizeof c->p95[0].family, "%.*s", eq ? (int)(eq - v) : 3,
                 eq ? v : "all");
        if (!num_arg(eq ? eq + 1 : v, &c->p95[c->np95].ms) || c->p95[c->np95].ms <= 0)
            return -1;
        c->np95++;
    } else if (!num_arg(v, &d))
        return strcmp(a, "--from") && strcmp(a, "--to") && strcmp(a, "--steps") &&
                       strcmp(a, "--chosen") && strcmp(a, "--min-quality") &&
                       strcmp(a, "--min-quality-of-premium") && strcmp(a, "--bootstrap") &&
                       strcmp(a, "--seed") && strcmp(a, "--acceptable-quality") &&
                       strcmp(a, "--human-quality") && strcmp(a, "--human-cost")
                   ? 0
                   : -1;
    else if (!strcmp(a, "--from"))
        c->from = d, c->has_from = true;
    else if (!strcmp(a, "--to"))
        c->to = d, c->has_to = true;
    else if (!strcmp(a, "--chosen"))
        c->chosen = d, c->has_chosen = true;
    else if (!strcmp(a, "--steps") && d >= 2 && d <= 1000 && d == floor(d))
        c->steps = (int)d;
    else if (!strcmp(a, "--min-quality"))
        c->min_q = d, c->has_min_q = true;
    else if (!strcmp(a, "--min-quality-of-premium"))
        c->min_qp = d, c->has_min_qp = true;
    else if (!strcmp(a, "--bootstrap") && d >= 0 && d <= 100000 && d == floor(d))
        c->eo.bootstrap = (uint32_t)d;
    else if (!strcmp(a, "--seed") && d >= 0 && d == floor(d))
        c->eo.seed = (uint64_t)d;
    else if (!strcmp(a, "--acceptable-quality"))
        c->eo.acceptable_quality = d;
    else if (!strcmp(a, "--human-quality"))
        c->eo.human_quality = d;
    else if (!strcmp(a, "--human-cost"))
        c->eo.human_cost_usd = d;
    else
        return -1;
    return 1;
}

static int parse_cli(int argc, char **argv, cli *c, const char *help) {
    memset(c, 0, sizeof *c);
    c->cmd = argv[0];
    rr_eval_options_init(&c->eo, RR_EVAL_OPTIONS_VERSION);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return -1;
        } else if (!strcmp(a, "--json")) {
            c->json = 1;
        } else if (!strcmp(a, "--partial")) {
            c->partial = 1;
        } else if (!strcmp(a, "--skip-malformed")) {
            c->skip = 1;
            c->eo.flags |= RR_EVAL_SKIP_MALFORMED;
        } else if (!strcmp(a, "--no-revalidate")) {
            c->eo.flags |= RR_EVAL_NO_REVALIDATE;
        } else if (!strcmp(a, "--allow-empty")) {
            c->allow_empty = 1;
        } else if (!strcmp(a, "--with-outputs")) {
            c->with_outputs = 1;
        } else if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc)
                return usage_err(c, "missing value for", a);
            int r = opt_value(c, a, argv[i + 1]);
            if (r == 0)
                return usage_err(c, "unknown option", a);
            if (r < 0)
                return usage_err(c, "bad value for", a);
            i++;
        } else if (c->npos < RR_ARRAY_LEN(c->pos)) {
            c->pos[c->npos++] = a;
        } else {
            return usage_err(c, "too many arguments", NULL);
        }
    }
    return 0;
}

/* ---- shared pieces --------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap);
    size_t r;
    while (p && (r = fread(p + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            char *q = realloc(p, cap *= 2);
            if (!q)
                free(p);
            p = q;
        }
    }
    bool bad = ferror(f) != 0;
    if (f != stdin)
        fclose(f);
    if (!p || bad) {
        free(p);
        return NULL;
    }
    p[n] = 0;
    *len = n;
    return p;
}

static int write_file(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(s, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "rrctl: %s: cannot write\n", path);
        if (f)
            fclose(f);
        return RRCTL_FAILURE;
    }
    return RRCTL_OK;
}

/* The directory of `path`, so relative names in a recompiled policy resolve as they did. */
static void dir_of(const char *path, char *out, size_t cap) {
    const char *s = strrchr(path, '/');
    if (!s)
        snprintf(out, cap, ".");
    else
        snprintf(out, cap, "%.*s", (int)(s - path), path);
}

/* Compile `text` (a policy from `path`) with thresholds overridden. */
static int router_with(const char *path, const char *text, size_t len, const char *const *names,
                       const double *values, size_t k, rr_router **out) {
    char *dump = NULL, dir[4096];
    rr_error err = RR_ERROR_INIT;
    int rc = rr_eval_policy_override(text, len, names, values, k, NULL, JSON_COMPACT, &dump, &err);
    if (rc == RR_OK) {
        rr_router_options o = RR_ROUTER_OPTIONS_INIT;
        dir_of(path, dir, sizeof dir);
        o.base_dir = dir;
        rc = rr_router_new(out, dump, strlen(dump), &o, &err);
    }
    rr_eval_free_dump(dump);
    if (rc != RR_OK) {
        rrctl_print_error(path, &err);
        return RRCTL_POLICY;
    }
    return RRCTL_OK;
}

/* Several evaluations fed from one pass over the data: each line is parsed once and
 * replayed through every policy. `on_record` sees the traces of all of them. */
typedef struct multi {
    rr_eval **ev;
    size_t n;
    int skip;
    uint64_t malformed;
    void (*on_record)(void *ud, const rr_eval_rec *rec, const rr_eval_trace *t, size_t n);
    void *ud;
    int allow_empty; /* a shard of a map step may be empty */
} multi;

static int multi_line(multi *m, rr_eval_rec *rec, const char *line, size_t len, uint64_t no,
                      rr_eval_trace *tr, const char *path) {
    rr_error err = RR_ERROR_INIT;
    int rc = rr_eval_rec_parse(rec, line, len, no, &err);
    /* A record one policy cannot replay (its router rejects the request) is noted as
     * malformed in every evaluation; the policies before it have counted it already, which
     * only happens when their limits (e.g. max_text_bytes) differ. */
    for (size_t i = 0; rc == RR_OK && i < m->n; i++)
        rc = rr_eval_add_record(m->ev[i], rec, &tr[i], &err);
    if (rc == RR_OK && m->on_record)
        m->on_record(m->ud, rec, tr, m->n);
    rr_eval_rec_clear(rec);
    if (rc == RR_EDATA) {
        m->malformed++;
        for (size_t i = 0; i < m->n; i++)
            rr_eval_note_malformed(m->ev[i], no, &err);
        fprintf(stderr, "rrctl: %s: %s\n", path, err.message);
        return m->skip ? RRCTL_OK : RRCTL_INPUT;
    }
    if (rc != RR_OK) {
        fprintf(stderr, "rrctl: %s: %s\n", path, err.message);
        return RRCTL_FAILURE;
    }
    return RRCTL_OK;
}

static int multi_run(multi *m, const char *path) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "rrctl: %s: cannot open\n", path);
        return RRCTL_FAILURE;
    }
    rr_eval_rec rec;
    rr_eval_trace *tr = calloc(m->n, sizeof *tr);
    if (!tr || rr_eval_rec_init(&rec, NULL) != RR_OK) {
        free(tr);
        if (f != stdin)
            fclose(f);
        return RRCTL_FAILURE;
    }
    char *buf = NULL;
    size_t cap = 0;
    long n;
    uint64_t no = 0, records = 0;
    int rc = RRCTL_OK;
    while (rc == RRCTL_OK && (n = rrctl_getline(&buf, &cap, f)) >= 0) {
        no++;
        size_t k = 0;
        while (k < (size_t)n && (buf[k] == ' ' || buf[k] == '\t'))
            k++;
        if (k == (size_t)n)
            continue;
        records++;
        rc = multi_line(m, &rec, buf, (size_t)n, no, tr, path);
    }
    if (rc == RRCTL_OK && ferror(f)) {
        fprintf(stderr, "rrctl: %s: read error\n", path);
        rc = RRCTL_FAILURE;
    }
    for (size_t i = 0; i < m->n; i++)
        rr_eval_set_lines(m->ev[i], no);
    if (rc == RRCTL_OK && !records && !m->allow_empty) {
        fprintf(stderr, "rrctl: %s: no records (the file is empty)\n", path);
        rc = RRCTL_INPUT;
    }
    free(buf);
    free(tr);
    rr_eval_rec_free(&rec);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* After a run: missing outcomes and an all-missing file are reported, never silent. */
static int check_counts(rr_eval *ev, const char *path, int allow_empty) {
    if (rr_eval_malformed_count(ev))
        fprintf(stderr, "rrctl: %s: %llu malformed line(s) skipped (listed above)\n", path,
                (unsigned long long)rr_eval_malformed_count(ev));
    if (rr_eval_missing_count(ev))
        fprintf(stderr,
                "rrctl: %s: %llu record(s) lack the outcome their route needs and are "
                "left out (see \"missing_outcome\")\n",
                path, (unsigned long long)rr_eval_missing_count(ev));
    if (!rr_eval_record_count(ev) && !allow_empty) {
        fprintf(stderr, "rrctl: %s: no record could be replayed\n", path);
        return RRCTL_INPUT;
    }
    return RRCTL_OK;
}

static double jnum(const json_t *o, const char *path) {
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s", path);
    const json_t *v = o;
    for (char *s = tmp, *dot; v && s; s = dot ? dot + 1 : NULL) {
        dot = strchr(s, '.');
        if (dot)
            *dot = 0;
        v = json_object_get(v, s);
    }
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void pr_pct(double v) {
    if (isfinite(v))
        printf(" %7.1f%%", 100 * v);
    else
        printf(" %8s", "-");
}

static void pr_row(const char *name, const json_t *g, bool policy, int name_w) {
    printf("%-*s %7.3f  $%-9.5f %7.0f %7.0f %7.0f", name_w, name, jnum(g, "quality"),
           jnum(g, "cost_per_request_usd"), jnum(g, "latency_ms.p50"), jnum(g, "latency_ms.p95"),
           jnum(g, "latency_ms.p99"));
    if (policy) {
        pr_pct(jnum(g, "premium_share"));
        pr_pct(jnum(g, "escalation.rate"));
        pr_pct(jnum(g, "escalation.precision"));
        pr_pct(jnum(g, "escalation.recall"));
        pr_pct(jnum(g, "false_cheap_route_rate"));
        pr_pct(jnum(g, "premium_overuse_rate"));
        pr_pct(jnum(g, "human_review_rate"));
        pr_pct(jnum(g, "route_accuracy"));
    } else if (json_object_get(g, "premium_share")) {
        pr_pct(jnum(g, "premium_share"));
    }
    printf("\n");
}

static void pr_routes(const json_t *g) {
    const json_t *fin = json_object_get(json_object_get(g, "routes"), "final");
    const char *k;
    json_t *v;
    double n = jnum(g, "n");
    printf("final routes:");
    json_object_foreach((json_t *)fin, k, v)
        printf("  %s %.0f (%.1f%%)", k, json_number_value(v), 100 * json_number_value(v) / n);
    printf("\n");
    const json_t *sv = json_object_get(g, "schema_valid_rate");
    if (json_object_size(sv)) {
        printf("schema-valid rate:");
        json_object_foreach((json_t *)sv, k, v)
            printf("  %s %.1f%%", k, 100 * json_number_value(v));
        printf("\n");
    }
}

/* The human-readable summary of a result JSON. */
static void print_summary(const char *js, size_t len) {
    json_t *r = json_loadb(js, len, 0, NULL);
    if (!r)
        return;
    const json_t *pol = json_object_get(r, "policy"), *o = json_object_get(r, "overall");
    const json_t *b = json_object_get(o, "baselines");
    printf("policy %s version %s (fingerprint %s): %.0f records replayed from %.0f lines; "
           "%.0f malformed; %.0f missing an outcome\n\n",
           json_string_value(json_object_get(pol, "name")),
           json_string_value(json_object_get(pol, "version")),
           json_string_value(json_object_get(pol, "fingerprint")), jnum(r, "records"),
           jnum(r, "lines"), jnum(r, "malformed"), jnum(r, "missing_outcome.total"));
    const char *fk;
    json_t *fg;
    int name_w = 24;
    json_object_foreach(json_object_get(r, "families"), fk, fg) {
        int w = (int)strlen(fk) + 2 + snprintf(NULL, 0, "%.0f", jnum(fg, "n"));
        name_w = w > name_w ? (w > 60 ? 60 : w) : name_w;
    }
    printf("%-*s %7s  %-10s %7s %7s %7s %8s %8s %8s %8s %8s %8s %8s %8s\n", name_w, "", "quality",
           "cost/req", "p50 ms", "p95 ms", "p99 ms", "premium", "escal.", "esc.prec", "esc.rec",
           "falsechp", "overuse", "human", "routeacc");
    pr_row("this policy", o, true, name_w);
    pr_row("always cheapest", json_object_get(b, "always_cheapest"), false, name_w);
    pr_row("always premium", json_object_get(b, "always_premium"), false, name_w);
    if (json_is_object(json_object_get(b, "random_same_premium_share")))
        pr_row("random, same share", json_object_get(b, "random_same_premium_share"), false,
               name_w);
    pr_row("oracle", json_object_get(b, "oracle"), false, name_w);
    printf("\n");
    pr_routes(o);
    const char *k;
    json_t *g;
    printf("\nby task family:\n");
    json_object_foreach(json_object_get(r, "families"), k, g) {
        char name[64];
        snprintf(name, sizeof name, "%s (%.0f)", k, jnum(g, "n"));
        pr_row(name, g, true, name_w);
    }
    const json_t *p = json_object_get(json_object_get(r, "research"), "pair");
    if (json_is_object(p))
        printf("\nresearch: weak %.3f, strong %.3f; policy PGR %.3f at %.1f%% top tier; "
               "random APGR %.3f (CPT50 %.1f%%, CPT80 %.1f%%); oracle APGR %.3f\n",
               jnum(p, "q_weak"), jnum(p, "q_strong"), jnum(p, "policy_pgr"),
               100 * jnum(p, "policy_premium_share"), jnum(p, "random.apgr"),
               100 * jnum(p, "random.cpt50"), 100 * jnum(p, "random.cpt80"),
               jnum(p, "oracle.apgr"));
    printf("AIQ of the models' frontier: %.4f\n",
           jnum(json_object_get(r, "research"), "aiq_models"));
    const json_t *ci = json_object_get(json_object_get(r, "bootstrap"), "ci");
    if (json_object_size(ci)) {
        printf("\n95%% intervals (%.0f Poisson-bootstrap resamples):\n",
               jnum(r, "bootstrap.resamples"));
        json_object_foreach((json_t *)ci, k, g)
            printf("  %-26s %.6g .. %.6g\n", k, json_number_value(json_array_get(g, 0)),
                   json_number_value(json_array_get(g, 1)));
    }
    json_decref(r);
}

static bool ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

/* Print the evaluation as asked (--partial, --json, or the summary) and write --report. */
static int emit(rr_eval *ev, const cli *c) {
    size_t n;
    const char *s = c->partial ? rr_eval_partial_json(ev, &n) : rr_eval_result_json(ev, &n);
    if (!s)
        return RRCTL_FAILURE;
    if (c->partial || c->json)
        printf("%s\n", s);
    else
        print_summary(s, n);
    if (c->report) {
        const char *rep =
            rr_eval_report(ev, ends_with(c->report, ".svg") ? RR_EVAL_REPORT_SVG : 0, &n);
        if (!rep)
            return RRCTL_FAILURE;
        int rc = write_file(c->report, rep, n);
        if (rc)
            return rc;
        fprintf(stderr, "rrctl: report written to %s\n", c->report);
    }
    return fflush(stdout) ? RRCTL_FAILURE : RRCTL_OK;
}

/* ---- replay ------------------------------------------------------------------------------ */

static const char replay_help[] =
    "usage: rrctl replay [--policy FILE] --data FILE|- [--json | --partial] [--report FILE]\n"
    "                    [--skip-malformed] [--no-revalidate] [--bootstrap N] [--seed S]\n"
    "                    [--acceptable-quality X] [--human-quality X] [--human-cost USD]\n\n"
    "Replay recorded traffic (JSONL, the format in routeright.h's \"Offline evaluation\") through\n"
    "the policy as live traffic would go, and report quality, cost, latency percentiles,\n"
    "routes, escalation precision/recall, false cheap routes, premium overuse, route accuracy,\n"
    "human review, schema validity, beside always-cheapest, always-premium, random at the same\n"
    "premium share and the oracle; RouteLLM's APGR/CPT and RouterBench's AIQ.\n\n"
    "  --json            the metrics as JSON instead of the table\n"
    "  --partial         the mergeable aggregate (for `rrctl merge`, e.g. one per shard)\n"
    "  --allow-empty     with --partial: an empty shard gives an empty aggregate, not an error\n"
    "  --report FILE     a self-contained HTML report (or SVG when FILE ends in .svg)\n"
    "  --skip-malformed  report malformed lines and go on (default: stop at the first)\n"
    "  --no-revalidate   trust recorded verdicts even where an output is recorded\n"
    "  --bootstrap N     Poisson-bootstrap confidence intervals with N resamples\n";

int rrctl_cmd_replay(int argc, char **argv) {
    cli c;
    int rc = parse_cli(argc, argv, &c, replay_help);
    if (rc)
        return rc < 0 ? RRCTL_OK : rc;
    if (!c.data || c.npos)
        return usage_err(&c, "needs --data FILE and no positional arguments", NULL);
    rr_router *r = NULL;
    if ((rc = rrctl_load_router(c.policy, &r)))
        return rc;
    rr_eval *ev = NULL;
    rr_error err = RR_ERROR_INIT;
    if (rr_eval_new(&ev, r, &c.eo, &err)) {
        rrctl_print_error("replay", &err);
        rr_router_free(r);
        return RRCTL_USAGE;
    }
    multi m = {&ev, 1, c.skip, 0, NULL, NULL, c.allow_empty && c.partial};
    rc = multi_run(&m, c.data);
    if (rc == RRCTL_OK)
        rc = check_counts(ev, c.data, c.allow_empty && c.partial);
    if (rc == RRCTL_OK)
        rc = emit(ev, &c);
    rr_eval_free(ev);
    rr_router_free(r);
    return rc;
}

/* ---- merge ------------------------------------------------------------------------------- */

static const char merge_help[] =
    "usage: rrctl merge [--policy FILE] [--json | --partial] [--report FILE] FILE|-...\n\n"
    "Merge the aggregates `rrctl replay --partial` wrote (one per shard) and report as one\n"
    "replay over all the data would: counts add exactly, latency percentiles come from the\n"
    "merged sketches (within 1%). Each FILE holds one partial per line. With --policy,\n"
    "every partial must come from that policy. --partial prints the merged aggregate, for\n"
    "merging in a tree.\n";

int rrctl_cmd_merge(int argc, char **argv) {
    cli c;
    int rc = parse_cli(argc, argv, &c, merge_help);
    if (rc)
        return rc < 0 ? RRCTL_OK : rc;
    if (!c.npos)
        return usage_err(&c, "needs at least one partial file", NULL);
    rr_router *r = NULL;
    if (c.policy && (rc = rrctl_load_router(c.policy, &r)))
        return rc;
    rr_eval *ev = NULL;
    rr_error err = RR_ERROR_INIT;
    rc = rr_eval_new(&ev, r, &c.eo, &err) ? RRCTL_FAILURE : RRCTL_OK;
    for (size_t i = 0; rc == RRCTL_OK && i < c.npos; i++) {
        size_t n;
        char *s = read_file(c.pos[i], &n);
        if (!s) {
            fprintf(stderr, "rrctl merge: %s: cannot read\n", c.pos[i]);
            rc = RRCTL_FAILURE;
        }
        /* One partial per line (what a map step's outputs concatenate to); Hadoop
         * streaming's trailing tab is whitespace to JSON. */
        size_t line = 0;
        for (char *p = s, *end; rc == RRCTL_OK && p && p < s + n; p = end + 1) {
            end = memchr(p, '\n', (size_t)(s + n - p));
            if (!end)
                end = s + n;
            line++;
            size_t k = 0;
            while (p + k < end && strchr(" \t\r", p[k]))
                k++;
            if (p + k == end)
                continue;
            if (rr_eval_merge_json(ev, p, (size_t)(end - p), &err) != RR_OK) {
                char what[1100];
                snprintf(what, sizeof what, "%s: line %zu", c.pos[i], line);
                rrctl_print_error(what, &err);
                rc = err.code == RR_ENOMEM ? RRCTL_FAILURE : RRCTL_INPUT;
            }
        }
        free(s);
    }
    if (rc == RRCTL_OK)
        rc = check_counts(ev, "merged partials", c.partial);
    if (rc == RRCTL_OK)
        rc = emit(ev, &c);
    rr_eval_free(ev);
    rr_router_free(r);
    return rc;
}

/* JSON output helpers: numbers through rr_buf_json_num, so NaN becomes null. */
static void jkv(rr_buf *b, const char *k, double v) {
    rr_buf_json_str(b, k, strlen(k));
    rr_buf_putc(b, ':');
    rr_buf_json_num(b, v);
    rr_buf_putc(b, ',');
}

static void print_jstr(const char *s) {
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_buf b;
    rr_buf_init(&b, &a);
    rr_buf_json_str(&b, s, strlen(s));
    fputs(b.oom ? "null" : b.p, stdout);
    rr_buf_free(&b);
}

static void jclose(rr_buf *b, char c) {
    if (b->len && b->p[b->len - 1] == ',')
        b->len--;
    rr_buf_putc(b, c);
}

/* ---- sweep ------------------------------------------------------------------------------- */

static const char sweep_help[] =
    "usage: rrctl sweep [--policy FILE] --data FILE --threshold NAME --from A --to B\n"
    "                   --steps N [--chosen V] [--svg FILE] [--json] [--skip-malformed]\n\n"
    "Replay the data once per value of thresholds.NAME (N values from A to B; the policy is\n"
    "recompiled with each) and print the cost-quality table beside the baselines, with the\n"
    "sweep's APGR / CPT (RouteLLM) and AIQ (RouterBench). --svg draws the frontier with the\n"
    "baselines and the chosen point (the policy's current value unless --chosen).\n";

typedef struct policy_src {
    const char *path;
    char *text;
    size_t len;
} policy_src;

static int load_src(const char *path, policy_src *p) {
    p->path = path ? path : "built-in policy";
    if (!path) {
        p->text = strdup(rr_default_policy());
        p->len = p->text ? strlen(p->text) : 0;
    } else {
        p->text = read_file(path, &p->len);
    }
    if (!p->text) {
        fprintf(stderr, "rrctl: %s: cannot read\n", p->path);
        return RRCTL_FAILURE;
    }
    return RRCTL_OK;
}

static void free_evals(rr_eval **ev, rr_router **r, size_t n) {
    for (size_t i = 0; i < n; i++) {
        rr_eval_free(ev[i]);
        rr_router_free(r[i]);
    }
    free(ev);
    free(r);
}

/* Build n routers (values[i*k .. i*k+k) for names[0..k)) and their evaluations. */
static int build_grid(const policy_src *p, const char *const *names, size_t k, const double *values,
                      size_t n, const rr_eval_options *eo, rr_router ***rs, rr_eval ***evs) {
    *rs = calloc(n ? n : 1, sizeof **rs);
    *evs = calloc(n ? n : 1, sizeof **evs);
    if (!*rs || !*evs)
        return RRCTL_FAILURE;
    for (size_t i = 0; i < n; i++) {
        int rc = router_with(p->path, p->text, p->len, names, values + i * k, k, &(*rs)[i]);
        if (rc)
            return rc;
        rr_error err = RR_ERROR_INIT;
        if (rr_eval_new(&(*evs)[i], (*rs)[i], eo, &err)) {
            rrctl_print_error("evaluation", &err);
            return RRCTL_FAILURE;
        }
    }
    return RRCTL_OK;
}

static void sweep_svg(const cli *c, const char *name, const double *vals, rr_eval **ev, size_t n,
                      int chosen) {
    rr_plot_point pts[1100];
    static char labels[1100][64];
    size_t m = 0;
    for (size_t i = 0; i < n && m < 1090; i++) {
        rr_eval_summary s;
        rr_eval_summarise(ev[i], NULL, &s);
        if ((int)i == chosen)
            snprintf(labels[m], sizeof labels[m], "chosen %s=%g", name, vals[i]);
        else if (i == 0 || i + 1 == n)
            snprintf(labels[m], sizeof labels[m], "%s=%g", name, vals[i]);
        else /* the ends name the threshold; the points between carry its value */
            snprintf(labels[m], sizeof labels[m], "%g", vals[i]);
        pts[m] = (rr_plot_point){s.cost_per_request, s.quality, labels[m], (int)i == chosen};
        m++;
    }
    rr_eval_summary s;
    rr_eval_summarise(ev[0], NULL, &s);
    pts[m++] = (rr_plot_point){s.c_cheapest, s.q_cheapest, "always cheapest", 2};
    pts[m++] = (rr_plot_point){s.c_premium, s.q_premium, "always premium", 2};
    pts[m++] = (rr_plot_point){s.c_oracle, s.q_oracle, "oracle (cheapest acceptable)", 3};
    char title[200];
    snprintf(title, sizeof title, "Cost-quality frontier: sweeping thresholds.%s", name);
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_buf b;
    rr_buf_init(&b, &a);
    rr_eval_svg_frontier(&b, title, pts, m, 820, 500);
    if (!b.oom && write_file(c->svg, b.p, b.len) == RRCTL_OK)
        fprintf(stderr, "rrctl: frontier written to %s\n", c->svg);
    rr_buf_free(&b);
}

/* The sweep's table (or JSON), its APGR / CPT / AIQ, and the SVG. */
static int sweep_report(const cli *cp, const char *name, const double *vals, rr_eval **ev, size_t n,
                        int chosen_i) {
    cli c = *cp;
    int rc = RRCTL_OK;
    double *xs = calloc(n, sizeof *xs), *qs = calloc(n, sizeof *qs), *cs = calloc(n, sizeof *cs);
    rr_eval_summary s0;
    rr_eval_summarise(ev[0], NULL, &s0);
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_buf jb;
    rr_buf_init(&jb, &a);
    rr_buf_puts(&jb, "{\"threshold\":");
    rr_buf_json_str(&jb, name, strlen(name));
    rr_buf_puts(&jb, ",\"points\":[");
    if (!c.json)
        printf("%-14s %8s %11s %8s %8s %8s %8s\n", name, "quality", "cost/req", "p95 ms", "premium",
               "escal.", "human");
    for (size_t i = 0; i < n; i++) {
        rr_eval_summary s;
        rr_eval_summarise(ev[i], NULL, &s);
        xs[i] = s.premium_share, qs[i] = s.quality, cs[i] = s.cost_per_request;
        rr_buf_putc(&jb, '{');
        jkv(&jb, "value", vals[i]);
        jkv(&jb, "quality", s.quality);
        jkv(&jb, "cost_per_request_usd", s.cost_per_request);
        jkv(&jb, "p95_ms", s.latency_p95);
        jkv(&jb, "premium_share", s.premium_share);
        jkv(&jb, "escalation_rate", s.escalation_rate);
        jkv(&jb, "human_review_rate", s.human_rate);
        rr_buf_printf(&jb, "\"chosen\":%s},", (int)i == chosen_i ? "true" : "false");
        if (!c.json)
            printf("%-14g %8.4f  $%-9.6f %8.0f %7.1f%% %7.1f%% %7.1f%%%s\n", vals[i], s.quality,
                   s.cost_per_request, s.latency_p95, 100 * s.premium_share,
                   100 * s.escalation_rate, 100 * s.human_rate,
                   (int)i == chosen_i ? "   <- chosen" : "");
    }
    rr_route_curve curve;
    int crc = xs && qs
                  ? rr_route_curve_points(xs, qs, n, s0.q_cheapest, s0.q_premium, &a, &curve, NULL)
                  : RR_ENOMEM;
    double aiq = cs && qs ? rr_aiq(cs, qs, n, &a) : NAN;
    if (c.json) {
        jclose(&jb, ']');
        rr_buf_puts(&jb, ",\"baselines\":{\"always_cheapest\":{");
        jkv(&jb, "quality", s0.q_cheapest);
        jkv(&jb, "cost_per_request_usd", s0.c_cheapest);
        jclose(&jb, '}');
        rr_buf_puts(&jb, ",\"always_premium\":{");
        jkv(&jb, "quality", s0.q_premium);
        jkv(&jb, "cost_per_request_usd", s0.c_premium);
        jclose(&jb, '}');
        rr_buf_puts(&jb, ",\"oracle\":{");
        jkv(&jb, "quality", s0.q_oracle);
        jkv(&jb, "cost_per_request_usd", s0.c_oracle);
        jclose(&jb, '}');
        rr_buf_puts(&jb, "},");
        jkv(&jb, "aiq", aiq);
        jkv(&jb, "apgr", crc == RR_OK ? curve.apgr : NAN);
        jkv(&jb, "cpt50", crc == RR_OK ? curve.cpt50 : NAN);
        jkv(&jb, "cpt80", crc == RR_OK ? curve.cpt80 : NAN);
        jclose(&jb, '}');
        if (jb.oom)
            rc = RRCTL_FAILURE;
        else
            printf("%s\n", jb.p);
    } else {
        printf("%-14s %8.4f  $%-9.6f\n%-14s %8.4f  $%-9.6f\n%-14s %8.4f  $%-9.6f\n", "always cheap",
               s0.q_cheapest, s0.c_cheapest, "always premium", s0.q_premium, s0.c_premium, "oracle",
               s0.q_oracle, s0.c_oracle);
        if (crc == RR_OK)
            printf("\nsweep APGR %.4f, CPT(50%%) %.1f%%, CPT(80%%) %.1f%% (share of requests "
                   "answered by the top tier)\n",
                   curve.apgr, 100 * curve.cpt50, 100 * curve.cpt80);
        printf("sweep AIQ %.4f (RouterBench, over the sweep's cost range)\n", aiq);
    }
    rr_buf_free(&jb);
    if (c.svg)
        sweep_svg(&c, name, vals, ev, n, chosen_i);
    free(xs), free(qs), free(cs);
    return rc;
}

int rrctl_cmd_sweep(int argc, char **argv) {
    cli c;
    int rc = parse_cli(argc, argv, &c, sweep_help);
    if (rc)
        return rc < 0 ? RRCTL_OK : rc;
    if (!c.data || c.nthr != 1 || !c.has_from || !c.has_to || !c.steps || c.npos)
        return usage_err(&c, "needs --data, one --threshold NAME, --from, --to and --steps", NULL);
    policy_src p;
    if ((rc = load_src(c.policy, &p)))
        return rc;
    const char *name = c.thr[0];
    double cur = rr_eval_policy_threshold(p.text, p.len, name);
    double chosen = c.has_chosen ? c.chosen : cur;
    size_t n = (size_t)c.steps;
    double *vals = calloc(n + 1, sizeof *vals);
    int chosen_i = -1;
    for (size_t i = 0; vals && i < n; i++) {
        vals[i] = c.from + (c.to - c.from) * (double)i / (double)(n - 1);
        if (isfinite(chosen) && fabs(vals[i] - chosen) <= 1e-12 * fmax(1, fabs(chosen)))
            chosen_i = (int)i;
    }
    if (vals && chosen_i < 0 && isfinite(chosen)) { /* evaluate the chosen value too */
        size_t at = 0;
        while (at < n && (c.from <= c.to ? vals[at] < chosen : vals[at] > chosen))
            at++;
        memmove(vals + at + 1, vals + at, (n - at) * sizeof *vals);
        vals[at] = chosen;
        chosen_i = (int)at;
        n++;
    }
    rr_router **rs = NULL;
    rr_eval **ev = NULL;
    c.eo.bootstrap = 0;
    rc = vals ? build_grid(&p, &name, 1, vals, n, &c.eo, &rs, &ev) : RRCTL_FAILURE;
    multi m = {ev, n, c.skip, 0, NULL, NULL, 0};
    if (rc == RRCTL_OK)
        rc = multi_run(&m, c.data);
    if (rc == RRCTL_OK)
        rc = check_counts(ev[0], c.data, 0);
    if (rc == RRCTL_OK)
        rc = sweep_report(&c, name, vals, ev, n, chosen_i);
    free_evals(ev, rs, rs ? n : 0);
    free(vals);
    free(p.text);
    return rc;
}

/* ---- calibrate ------------------------------------------------------------------------- */

static const char calibrate_help[] =
    "usage: rrctl calibrate [--policy FILE] --data FILE --threshold NAME[=A:B] [...]\n"
    "                       [--steps N] [--min-quality X] [--min-quality-of-premium Y]\n"
    "                       [--max-p95-ms FAMILY=MS ...] [--no-cheap-on-risk TIER]\n"
    "                       [--out NEW_POLICY] [--bootstrap N] [--seed S]\n\n"
    "Grid-search the thresholds (N values each, default 21 / 9 / 6 / 4 for 1-4 thresholds,\n"
    "over A:B or, when no range is given, over the quantiles of the feature the policy\n"
    "compares the threshold with) for the cheapest policy that meets every objective:\n"
    "  --min-quality X              mean quality >= X\n"
    "  --min-quality-of-premium Y   quality >= Y x the always-premium quality\n"
    "  --max-p95-ms FAMILY=MS       p95 latency of a task family (or all) <= MS\n"
    "  --no-cheap-on-risk TIER      no request labelled with that risk touches the cheapest tier\n"
    "Prints the objective figures with 95% confidence intervals (Poisson bootstrap, 1000\n"
    "resamples by default; binomial order statistics for p95) and writes the policy with the\n"
    "chosen values and its version bumped to --out. Exit 5, printing the closest candidate,\n"
    "when none meets the objectives.\n";

static void objectives_of(const cli *c, rr_eval_objectives *o) {
    memset(o, 0, sizeof *o);
    o->has_min_quality = c->has_min_q;
    o->min_quality = c->min_q;
    o->has_min_quality_of_premium = c->has_min_qp;
    o->min_quality_of_premium = c->min_qp;
    o->np95 = c->np95;
    for (size_t i = 0; i < c->np95; i++) {
        o->p95_family[i] = c->p95[i].family;
        o->p95_ms[i] = c->p95[i].ms;
    }
    o->no_cheap_risk = c->no_cheap_risk;
}

/* Candidate values for one threshold: A:B in `steps` steps, or the feature's quantiles. */
static int threshold_values(const cli *c, const policy_src *p, const rr_router *base,
                            const char *spec, int steps, char *name, size_t cap, double *vals,
                            size_t *nvals) {
    const char *eq = strchr(spec, '=');
    snprintf(name, cap, "%.*s", (int)(eq ? (size_t)(eq - spec) : strlen(spec)), spec);
    double cur = rr_eval_policy_threshold(p->text, p->len, name);
    if (!isfinite(cur)) {
        fprintf(stderr, "rrctl calibrate: the policy has no numeric threshold '%s'\n", name);
        return RRCTL_USAGE;
    }
    if (eq) {
        double a, b;
        char *colon = strchr(eq + 1, ':');
        char left[64];
        snprintf(left, sizeof left, "%.*s", colon ? (int)(colon - eq - 1) : 0, eq + 1);
        if (!colon || !num_arg(left, &a) || !num_arg(colon + 1, &b))
            return usage_err(c, "--threshold NAME=A:B expected, got", spec);
        for (int i = 0; i < steps; i++)
            vals[i] = a + (b - a) * i / (steps - 1);
        *nvals = (size_t)steps;
        return RRCTL_OK;
    }
    char feature[128];
    int slot = rr_eval_threshold_feature(base, p->text, p->len, name, feature, sizeof feature);
    if (slot < 0) {
        fprintf(stderr,
                "rrctl calibrate: no rule compares a numeric feature with thr.%s; give "
                "a range: --threshold %s=A:B\n",
                name, name);
        return RRCTL_USAGE;
    }
    /* One pass routing the data with the base policy, keeping the feature's values. */
    FILE *f = fopen(c->data, "rb");
    if (!f) {
        fprintf(stderr, "rrctl: %s: cannot open\n", c->data);
        return RRCTL_FAILURE;
    }
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_sketch sk = {0};
    rr_eval_rec rec;
    rr_decision *d = NULL;
    rr_eval_rec_init(&rec, NULL);
    char *buf = NULL;
    size_t bcap = 0;
    long n;
    uint64_t no = 0;
    double lo = INFINITY, hi = -INFINITY;
    bool integral = true; /* then candidates are whole numbers too */
    while ((n = rrctl_getline(&buf, &bcap, f)) >= 0) {
        no++;
        if (rr_eval_rec_parse(&rec, buf, (size_t)n, no, NULL) == RR_OK &&
            rr_route(base, rec.req, &d, NULL) == RR_OK && d->slots[slot].type == RR_T_NUM) {
            double v = d->slots[slot].u.num;
            if (isfinite(v)) {
                rr_sketch_add(&sk, &a, v, 1); /* ranks only: the sign is kept below */
                lo = fmin(lo, v), hi = fmax(hi, v);
                integral &= v == floor(v);
            }
        }
        rr_eval_rec_clear(&rec);
    }
    free(buf);
    fclose(f);
    rr_decision_free(d);
    rr_eval_rec_free(&rec);
    size_t m = 0;
    if (isfinite(lo)) {
        /* Quantiles of a non-negative feature; a signed one falls back to an even grid. */
        for (int i = 0; i < steps; i++) {
            double q = (double)i / (steps - 1);
            double v = lo >= 0 ? rr_sketch_quantile(&sk, q) : lo + (hi - lo) * q;
            if (i == 0)
                v = lo;
            if (i == steps - 1)
                v = hi;
            if (integral)
                v = round(v);
            if (!m || v > vals[m - 1] + 1e-12)
                vals[m++] = v;
        }
    }
    rr_sketch_free(&sk, &a);
    bool have = false;
    for (size_t i = 0; i < m; i++)
        have |= vals[i] == cur;
    if (!have)
        vals[m++] = cur;
    *nvals = m;
    fprintf(stderr, "rrctl calibrate: %s: %zu candidates from the data's %s (%g .. %g)\n", name, m,
            feature, lo, hi);
    return RRCTL_OK;
}

static void print_ci(const char *what, double v, double lo, double hi, const char *target) {
    printf("  %-34s %10.5g   95%% CI [%.5g, %.5g]%s%s\n", what, v, lo, hi, target ? "   " : "",
           target ? target : "");
}

static void report_objectives(const cli *c, rr_eval *ev) {
    rr_eval_summary s;
    rr_eval_summarise(ev, NULL, &s);
    size_t B = c->eo.bootstrap;
    double *v = calloc(B ? B : 1, sizeof *v), lo = NAN, hi = NAN;
    char t[96];
#define CI(m)                                                                                      \
    do {                                                                                           \
        size_t k = v ? rr_eval_boot_values(ev, m, v, B) : 0;                                       \
        rr_boot_interval(v, k, &lo, &hi);                                                          \
    } while (0)
    CI(RR_BOOT_Q);
    snprintf(t, sizeof t, "(objective >= %g)", c->min_q);
    print_ci("quality", s.quality, lo, hi, c->has_min_q ? t : NULL);
    CI(RR_BOOT_QPREM);
    snprintf(t, sizeof t, "(objective >= %g; premium %.4f)", c->min_qp, s.q_premium);
    print_ci("quality / always-premium quality", s.quality / s.q_premium, lo, hi,
             c->has_min_qp ? t : NULL);
    CI(RR_BOOT_COST);
    snprintf(t, sizeof t, "(always premium $%.6f)", s.c_premium);
    print_ci("cost per request (USD)", s.cost_per_request, lo, hi, t);
    CI(RR_BOOT_PREM);
    print_ci("premium share", s.premium_share, lo, hi, NULL);
    CI(RR_BOOT_ESC);
    print_ci("escalation rate", s.escalation_rate, lo, hi, NULL);
    CI(RR_BOOT_HUMAN);
    print_ci("human review rate", s.human_rate, lo, hi, NULL);
#undef CI
    for (size_t i = 0; i < c->np95; i++) {
        double p = rr_eval_latency_q(ev, c->p95[i].family, 0.95, &lo, &hi);
        char what[96];
        snprintf(what, sizeof what, "p95 latency ms (%s)", c->p95[i].family);
        snprintf(t, sizeof t, "(objective <= %g)", c->p95[i].ms);
        print_ci(what, p, lo, hi, t);
    }
    if (c->no_cheap_risk) {
        uint64_t n, k = rr_eval_risk_cheap(ev, c->no_cheap_risk, &n);
        printf("  %-34s %10llu   of %llu labelled risk=%s   (objective 0)\n",
               "cheapest tier on risk", (unsigned long long)k, (unsigned long long)n,
               c->no_cheap_risk);
    }
    printf("  (intervals: %u Poisson-bootstrap resamples, seed %llu; p95 by binomial order "
           "statistics)\n",
           (unsigned)B, (unsigned long long)c->eo.seed);
    free(v);
}

static int write_policy(const cli *c, const policy_src *p, const char *const *names,
                        const double *vals, size_t k, const char *old_version) {
    char ver[128];
    rr_eval_bump_version(old_version, ver, sizeof ver);
    char *dump = NULL;
    rr_error err = RR_ERROR_INIT;
    if (rr_eval_policy_override(p->text, p->len, names, vals, k, ver, JSON_INDENT(2), &dump,
                                &err)) {
        rrctl_print_error(p->path, &err);
        return RRCTL_POLICY;
    }
    rr_router *check = NULL;
    char dir[4096];
    rr_router_options o = RR_ROUTER_OPTIONS_INIT;
    dir_of(p->path, dir, sizeof dir);
    o.base_dir = dir;
    int rc = rr_router_new(&check, dump, strlen(dump), &o, &err) ? RRCTL_POLICY : RRCTL_OK;
    if (rc)
        rrctl_print_error("calibrated policy", &err);
    rr_router_free(check);
    if (rc == RRCTL_OK) {
        FILE *f = fopen(c->out, "wb");
        if (!f || fputs(dump, f) == EOF || fputc('\n', f) == EOF || fclose(f)) {
            fprintf(stderr, "rrctl: %s: cannot write\n", c->out);
            rc = RRCTL_FAILURE;
        } else {
            fprintf(stderr, "rrctl: policy version %s written to %s\n", ver, c->out);
        }
    }
    rr_eval_free_dump(dump);
    return rc;
}

static void print_candidate(const char *const *names, const double *v, size_t k) {
    for (size_t j = 0; j < k; j++)
        printf("%s%s = %g", j ? ", " : "", names[j], v[j]);
}

/* Second pass: the winner replayed again with bootstrap resamples for its intervals,
 * its figures printed, and the calibrated policy written when it meets the objectives. */
static int calibrate_finish(cli *c, const policy_src *p, const char *const *names,
                            const double *chosen, size_t total, const rr_eval_judgement *bo,
                            uint32_t boot, const rr_router *base) {
    int rc;
    rr_router *r = NULL;
    rr_eval *e = NULL;
    rr_eval_options eb = c->eo;
    eb.bootstrap = boot;
    c->eo.bootstrap = boot;
    rc = router_with(p->path, p->text, p->len, names, chosen, c->nthr, &r);
    rr_error err = RR_ERROR_INIT;
    if (rc == RRCTL_OK && rr_eval_new(&e, r, &eb, &err))
        rc = RRCTL_FAILURE;
    multi m2 = {&e, 1, c->skip, 0, NULL, NULL, 0};
    if (rc == RRCTL_OK)
        rc = multi_run(&m2, c->data);
    if (rc == RRCTL_OK) {
        printf("%zu candidates evaluated; the chosen values replay %llu records", total,
               (unsigned long long)rr_eval_record_count(e));
        if (rr_eval_missing_count(e))
            printf(" (%llu more lack the outcome their route needs and are left out)",
                   (unsigned long long)rr_eval_missing_count(e));
        printf(".\n");
        if (bo->feasible) {
            printf("chosen (cheapest meeting every objective): ");
            print_candidate(names, chosen, c->nthr);
            printf("\n");
        } else {
            printf("NO candidate meets the objectives. Closest (smallest total relative "
                   "shortfall %.4f): ",
                   bo->violation);
            print_candidate(names, chosen, c->nthr);
            printf("\n");
        }
        report_objectives(c, e);
        if (bo->feasible && c->out)
            rc = write_policy(c, p, names, chosen, c->nthr, rr_router_policy_version(base));
        else if (bo->feasible)
            printf("(use --out FILE to write the calibrated policy)\n");
        else
            rc = RRCTL_UNMET;
    }
    rr_eval_free(e);
    rr_router_free(r);
    return rc;
}

int rrctl_cmd_calibrate(int argc, char **argv) {
    cli c;
    int rc = parse_cli(argc, argv, &c, calibrate_help);
    if (rc)
        return rc < 0 ? RRCTL_OK : rc;
    if (!c.data || !strcmp(c.data, "-") || !c.nthr || c.npos)
        return usage_err(&c,
                         "needs --data FILE (not stdin: it is read more than once) and "
                         "--threshold NAME",
                         NULL);
    if (!c.has_min_q && !c.has_min_qp && !c.np95 && !c.no_cheap_risk)
        return usage_err(&c, "needs at least one objective", NULL);
    int steps = c.steps ? c.steps : (int[]){21, 9, 6, 4}[c.nthr - 1];
    uint32_t boot = c.eo.bootstrap ? c.eo.bootstrap : 1000;
    policy_src p;
    if ((rc = load_src(c.policy, &p)))
        return rc;
    rr_router *base = NULL;
    if ((rc = rrctl_load_router(c.policy, &base))) {
        free(p.text);
        return rc;
    }
    char names_buf[MAX_THR][128];
    const char *names[MAX_THR];
    double axis[MAX_THR][1024];
    size_t naxis[MAX_THR], total = 1;
    for (size_t i = 0; rc == RRCTL_OK && i < c.nthr; i++) {
        rc = threshold_values(&c, &p, base, c.thr[i], steps, names_buf[i], sizeof names_buf[i],
                              axis[i], &naxis[i]);
        names[i] = names_buf[i];
        total *= naxis[i];
    }
    if (rc == RRCTL_OK && total > MAX_GRID) {
        fprintf(stderr, "rrctl calibrate: %zu candidates; at most %d (lower --steps)\n", total,
                MAX_GRID);
        rc = RRCTL_USAGE;
    }
    double *grid = rc == RRCTL_OK ? calloc(total * c.nthr, sizeof *grid) : NULL;
    for (size_t g = 0; grid && g < total; g++) /* mixed-radix counter over the axes */
        for (size_t i = 0, r = g; i < c.nthr; r /= naxis[i], i++)
            grid[g * c.nthr + i] = axis[i][r % naxis[i]];
    rr_router **rs = NULL;
    rr_eval **ev = NULL;
    rr_eval_options eo = c.eo;
    eo.bootstrap = 0;
    if (grid)
        rc = build_grid(&p, names, c.nthr, grid, total, &eo, &rs, &ev);
    else if (rc == RRCTL_OK)
        rc = RRCTL_FAILURE;
    multi m = {ev, total, c.skip, 0, NULL, NULL, 0};
    if (rc == RRCTL_OK)
        rc = multi_run(&m, c.data);
    if (rc == RRCTL_OK)
        rc = check_counts(ev[0], c.data, 0);
    rr_eval_objectives obj;
    objectives_of(&c, &obj);
    rr_eval_judgement bo = {false, INFINITY, INFINITY, NAN};
    int best = rc == RRCTL_OK ? rr_eval_pick(ev, total, &obj, &bo) : -1;
    if (rc == RRCTL_OK)
        rc = calibrate_finish(&c, &p, names, grid + (size_t)best * c.nthr, total, &bo, boot, base);
    free_evals(ev, rs, rs ? total : 0);
    free(grid);
    rr_router_free(base);
    free(p.text);
    return rc;
}

/* ---- compare --------------------------------------------------------------------------- */

static const char compare_help[] =
    "usage: rrctl compare A.json B.json --data FILE [--bootstrap N] [--seed S] [--json]\n"
    "                     [--skip-malformed]\n\n"
    "Replay the data through both policies in one pass and print each metric for A and B\n"
    "with the difference B - A and its 95% confidence interval (paired Poisson bootstrap:\n"
    "each record carries the same resample weights under both), then the requests whose\n"
    "route changed, grouped by reason (\"ruleA -> ruleB (routeA -> routeB): count\").\n";

typedef struct cmp_ud {
    rr_eval_changes ch;
    rr_eval *a, *b;
} cmp_ud;

static void on_compare(void *ud, const rr_eval_rec *rec, const rr_eval_trace *t, size_t n) {
    cmp_ud *u = ud;
    if (n == 2)
        rr_eval_changes_add(&u->ch, rr_eval_router(u->a), &t[0], rr_eval_router(u->b), &t[1], rec);
}

static void compare_metric(const char *name, int m, double va, double vb, rr_eval *a, rr_eval *b,
                           uint32_t B, bool json, bool first) {
    double *x = calloc(B ? B : 1, sizeof *x), *y = calloc(B ? B : 1, sizeof *y), lo = NAN, hi = NAN;
    if (x && y && m >= 0) {
        size_t n = rr_eval_boot_values(a, m, x, B);
        rr_eval_boot_values(b, m, y, B);
        for (size_t i = 0; i < n; i++)
            y[i] -= x[i];
        rr_boot_interval(y, n, &lo, &hi);
    }
    if (json) {
        double v[5] = {va, vb, vb - va, lo, hi};
        char t[5][32];
        for (int i = 0; i < 5; i++) /* JSON has no NaN: undefined figures are null */
            snprintf(t[i], sizeof t[i], isfinite(v[i]) ? "%.17g" : "null", v[i]);
        printf("%s\"%s\":{\"a\":%s,\"b\":%s,\"delta\":%s,\"ci\":%s%s%s%s%s}", first ? "" : ",",
               name, t[0], t[1], t[2], m < 0 ? "" : "[", m < 0 ? "null" : t[3], m < 0 ? "" : ",",
               m < 0 ? "" : t[4], m < 0 ? "" : "]");
    } else if (m < 0) /* percentiles and ratios of counts have no per-resample sums */
        printf("%-26s %12.6g %12.6g %+12.6g   (no interval)\n", name, va, vb, vb - va);
    else
        printf("%-26s %12.6g %12.6g %+12.6g   [%+.6g, %+.6g]%s\n", name, va, vb, vb - va, lo, hi,
               (lo > 0 || hi < 0) ? "  *" : "");
    free(x), free(y);
}

/* Metric deltas with paired intervals, then the route changes grouped by reason. */
static void compare_print(const cli *c, rr_eval **ev, rr_eval_changes *ch) {
    rr_eval_summary a, b;
    rr_eval_summarise(ev[0], NULL, &a);
    rr_eval_summarise(ev[1], NULL, &b);
    if (c->json)
        printf("{\"a\":"), print_jstr(c->pos[0]), printf(",\"b\":"), print_jstr(c->pos[1]),
            printf(",\"records\":%llu,\"metrics\":{", (unsigned long long)a.n);
    else
        printf("A = %s, B = %s, %llu records; * = the 95%% interval excludes 0\n\n%-26s %12s "
               "%12s %12s   %s\n",
               c->pos[0], c->pos[1], (unsigned long long)a.n, "metric", "A", "B", "B - A",
               "95% CI (paired bootstrap)");
    uint32_t B = c->eo.bootstrap;
    compare_metric("quality", RR_BOOT_Q, a.quality, b.quality, ev[0], ev[1], B, c->json, true);
    compare_metric("cost_per_request_usd", RR_BOOT_COST, a.cost_per_request, b.cost_per_request,
                   ev[0], ev[1], B, c->json, false);
    compare_metric("escalation_rate", RR_BOOT_ESC, a.escalation_rate, b.escalation_rate, ev[0],
                   ev[1], B, c->json, false);
    compare_metric("human_review_rate", RR_BOOT_HUMAN, a.human_rate, b.human_rate, ev[0], ev[1], B,
                   c->json, false);
    compare_metric("premium_share", RR_BOOT_PREM, a.premium_share, b.premium_share, ev[0], ev[1], B,
                   c->json, false);
    compare_metric("latency_p95_ms", -1, a.latency_p95, b.latency_p95, ev[0], ev[1], B, c->json,
                   false);
    compare_metric("false_cheap_route_rate", -1, a.false_cheap_rate, b.false_cheap_rate, ev[0],
                   ev[1], B, c->json, false);
    rr_eval_changes_sort(ch);
    if (c->json) {
        printf("},\"changed\":%llu,\"groups\":[", (unsigned long long)ch->total);
        for (size_t i = 0; i < ch->n; i++) {
            printf("%s{\"reason\":", i ? "," : "");
            print_jstr(ch->c[i].reason);
            printf(",\"count\":%llu}", (unsigned long long)ch->c[i].n);
        }
        printf("]}\n");
    } else {
        printf("\n%llu request(s) changed route:\n", (unsigned long long)ch->total);
        for (size_t i = 0; i < ch->n; i++) {
            printf("  %s: %llu   e.g.", ch->c[i].reason, (unsigned long long)ch->c[i].n);
            for (size_t k = 0; k < 3 && k < ch->c[i].n; k++)
                printf(" %s", ch->c[i].example[k]);
            printf("\n");
        }
        if (ch->other)
            printf("  (other reasons): %llu\n", (unsigned long long)ch->other);
    }
}

int rrctl_cmd_compare(int argc, char **argv) {
    cli c;
    int rc = parse_cli(argc, argv, &c, compare_help);
    if (rc)
        return rc < 0 ? RRCTL_OK : rc;
    if (c.npos != 2 || !c.data)
        return usage_err(&c, "needs two policies and --data FILE", NULL);
    if (!c.eo.bootstrap)
        c.eo.bootstrap = 1000;
    rr_router *r[2] = {NULL, NULL};
    rr_eval *ev[2] = {NULL, NULL};
    rr_error err = RR_ERROR_INIT;
    for (int i = 0; i < 2 && rc == RRCTL_OK; i++) {
        rc = rrctl_load_router(c.pos[i], &r[i]);
        if (rc == RRCTL_OK && rr_eval_new(&ev[i], r[i], &c.eo, &err)) {
            rrctl_print_error("compare", &err);
            rc = RRCTL_FAILURE;
        }
    }
    cmp_ud u = {.a = ev[0], .b = ev[1]};
    rr_alloc al;
    rr_alloc_init(&al, NULL);
    rr_eval_changes_init(&u.ch, &al);
    rr_eval_changes *ch = &u.ch;
    multi m = {ev, 2, c.skip, 0, on_compare, &u, 0};
    if (rc == RRCTL_OK)
        rc = multi_run(&m, c.data);
    if (rc == RRCTL_OK)
        rc = check_counts(ev[0], c.data, 0);
    if (rc == RRCTL_OK)
        compare_print(&c, ev, ch);
    rr_eval_changes_free(ch);
    for (int i = 0; i < 2; i++) {
        rr_eval_free(ev[i]);
        rr_router_free(r[i]);
    }
    return rc;
}

/* ---- import ---------------------------------------------------------------------------- */

static const char import_help[] =
    "usage: rrctl import routellm|routerbench --map MODEL=ROUTE[,MODEL=ROUTE...]\n"
    "                    [--cost ROUTE=USD,...] [--with-outputs] [--out FILE] CSV...\n\n"
    "Convert public routing benchmarks to replay JSONL. RouteLLM: one CSV per benchmark,\n"
    "`prompt,<model>,<model>` with True/False correctness (task label = the file's name).\n"
    "RouterBench: `sample_id,prompt,eval_name,<model>...` scores with `<model>|total_cost`\n"
    "(cost_usd) and `<model>|model_response` (output, with --with-outputs). MODEL matches a\n"
    "column exactly, by the name after its last '/', or as a unique prefix. --cost sets a\n"
    "per-call cost for routes whose data has none (else the policy's prices apply).\n";

int rrctl_cmd_import(int argc, char **argv) {
    cli c;
    int rc = parse_cli(argc, argv, &c, import_help);
    if (rc)
        return rc < 0 ? RRCTL_OK : rc;
    if (c.npos < 2 || !c.map)
        return usage_err(&c, "needs a format, --map and at least one CSV file", NULL);
    int format = !strcmp(c.pos[0], "routellm")      ? RR_IMPORT_ROUTELLM
                 : !strcmp(c.pos[0], "routerbench") ? RR_IMPORT_ROUTERBENCH
                                                    : 0;
    if (!format)
        return usage_err(&c, "unknown format (routellm or routerbench):", c.pos[0]);
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_import_map map;
    rr_error err = RR_ERROR_INIT;
    if (rr_import_map_parse(&map, &a, c.map, &err) ||
        (c.cost && rr_import_map_costs(&map, c.cost, &err))) {
        fprintf(stderr, "rrctl import: %s\n", err.message);
        rr_import_map_free(&map, &a);
        return RRCTL_USAGE;
    }
    FILE *out = c.out ? fopen(c.out, "wb") : stdout;
    if (!out) {
        fprintf(stderr, "rrctl import: %s: cannot write\n", c.out);
        rr_import_map_free(&map, &a);
        return RRCTL_FAILURE;
    }
    long total = 0;
    for (size_t i = 1; i < c.npos && rc == RRCTL_OK; i++) {
        FILE *in = fopen(c.pos[i], "rb");
        if (!in) {
            fprintf(stderr, "rrctl import: %s: cannot open\n", c.pos[i]);
            rc = RRCTL_FAILURE;
            break;
        }
        const char *base = strrchr(c.pos[i], '/');
        char name[256];
        snprintf(name, sizeof name, "%s", base ? base + 1 : c.pos[i]);
        char *dot = strrchr(name, '.');
        if (dot && !strcmp(dot, ".csv"))
            *dot = 0;
        long n = rr_eval_import(format, in, name, &map, c.with_outputs ? RR_IMPORT_WITH_OUTPUTS : 0,
                                out, &a, &err);
        fclose(in);
        if (n < 0) {
            fprintf(stderr, "rrctl import: %s: %s\n", c.pos[i], err.message);
            rc = n == RR_EIO || n == RR_ENOMEM ? RRCTL_FAILURE : RRCTL_INPUT;
        } else {
            total += n;
        }
    }
    if (out != stdout && fclose(out))
        rc = RRCTL_FAILURE;
    if (rc == RRCTL_OK)
        fprintf(stderr, "rrctl import: %ld records from %zu file(s)\n", total, c.npos - 1);
    rr_import_map_free(&map, &a);
    return rc;
}
