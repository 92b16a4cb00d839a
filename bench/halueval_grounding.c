/* How well does the grounding support score separate grounded from hallucinated answers?
 *
 * HaluEval QA: each row has knowledge, a question, a right and a hallucinated answer. The
 * knowledge is the one evidence passage; the output checked is the question, a newline, and
 * the answer. Right answers are the positives. Reports, for the validator's support score
 * (mean over claims), the same score with the minimum over claims, and the naive baseline
 * (share of the answer's distinct content words found in the knowledge):
 *  - AUROC on all rows and on each half (even / odd rows),
 *  - balanced accuracy at the threshold chosen on one half, measured on the other,
 *  - balanced accuracy at the default threshold (RR_GROUNDING_CONFIG_INIT support_min).
 *
 * Usage: halueval_grounding [path/to/qa_one-turn_data.jsonl]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "validate_grounding.h"
#include "verdict.h"

#ifndef RR_SOURCE_ROOT
#define RR_SOURCE_ROOT "."
#endif
#define DEFAULT_DATA RR_SOURCE_ROOT "/../shared/data/halueval-qa/qa_one-turn_data.jsonl"

enum { S_MEAN, S_MIN, S_NAIVE, NSCORES };
static const char *const score_names[NSCORES] = {"support (mean over claims)",
                                                 "support (min over claims)",
                                                 "naive content-word share"};

typedef struct row {
    double pos[NSCORES], neg[NSCORES];
} row;

static char *read_file(const rr_alloc *a, const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    rr_buf b;
    rr_buf_init(&b, a);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rr_buf_put(&b, chunk, n);
    fclose(f);
    if (b.oom) {
        rr_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* ---- the naive baseline: its own plain tokeniser, so it shares nothing with the validator */

static const char *const naive_stop[] = {
    "the", "and", "but", "was", "were", "are", "for", "with", "from", "that", "this", "which",
    "who", "what", "when", "where", "how", "has", "have", "had", "his", "her", "its", "their",
    "they", "she", "not", "yes", "also", "both", "been", "into", "than", "then", "there"};

static bool naive_is_stop(const char *w, size_t n) {
    for (size_t i = 0; i < RR_ARRAY_LEN(naive_stop); i++)
        if (strlen(naive_stop[i]) == n && memcmp(naive_stop[i], w, n) == 0)
            return true;
    return false;
}

/* Lower-cased alphanumeric words (non-ASCII bytes count as letters) that are content words:
 * >= 3 bytes and not a stop word, or containing a digit. Written as "w1 w2 ... " into out. */
static void naive_words(const char *s, rr_buf *out) {
    rr_buf_clear(out);
    rr_buf_putc(out, ' ');
    for (size_t i = 0; s[i];) {
        unsigned char c = (unsigned char)s[i];
        if (!(c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))) {
            i++;
            continue;
        }
        size_t a = out->len;
        bool digit = false;
        for (; s[i]; i++) {
            c = (unsigned char)s[i];
            bool alnum = c >= 0x80 || (c >= '0' && c <= '9') ||
                         ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
            if (!alnum)
                break;
            digit |= c >= '0' && c <= '9';
            rr_buf_putc(out, (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c));
        }
        size_t n = out->len - a;
        if (!digit && (n < 3 || naive_is_stop(out->p + a, n)))
            out->len = a;
        else
            rr_buf_putc(out, ' ');
    }
}

/* Is " word " (key, with its spaces) in the space-separated list `hay`? */
static bool has_word(const rr_buf *hay, const char *key) {
    return hay->p && strstr(hay->p, key) != NULL;
}

static double naive_share(const char *answer, const char *knowledge, rr_buf *aw, rr_buf *kw,
                          rr_buf *seen) {
    naive_words(answer, aw);
    naive_words(knowledge, kw);
    rr_buf_clear(seen);
    rr_buf_putc(seen, ' ');
    size_t total = 0, found = 0;
    char key[512];
    for (size_t i = 1; i < aw->len;) {
        size_t j = i;
        while (aw->p[j] != ' ')
            j++;
        size_t n = j - i;
        i = j + 1;
        if (n + 3 > sizeof key)
            continue;
        key[0] = ' ';
        memcpy(key + 1, aw->p + j - n, n);
        key[n + 1] = ' ';
        key[n + 2] = 0;
        if (has_word(seen, key))
            continue;
        rr_buf_put(seen, key + 1, n + 1);
        total++;
        found += has_word(kw, key);
    }
    return total ? (double)found / (double)total : 1.0;
}

/* ---- metrics */

static double auroc(const row *r, size_t n, int k, int half) {
    double wins = 0, pairs = 0;
    for (size_t i = 0; i < n; i++) {
        if (half >= 0 && (int)(i % 2) != half)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (half >= 0 && (int)(j % 2) != half)
                continue;
            double p = r[i].pos[k], q = r[j].neg[k];
            wins += p > q ? 1.0 : p == q ? 0.5 : 0.0;
            pairs += 1;
        }
    }
    return pairs ? wins / pairs : 0;
}

/* Grounded = score >= t. */
static double bal_acc(const row *r, size_t n, int k, int half, double t) {
    double tp = 0, tn = 0, np = 0;
    for (size_t i = 0; i < n; i++) {
        if (half >= 0 && (int)(i % 2) != half)
            continue;
        tp += r[i].pos[k] >= t;
        tn += r[i].neg[k] < t;
        np += 1;
    }
    return np ? (tp / np + tn / np) / 2 : 0;
}

/* The threshold that maximises balanced accuracy on `half`: candidates are every score
 * seen there (grounded = score >= candidate). */
static double best_threshold(const row *r, size_t n, int k, int half) {
    double best_t = 0.5, best = -1;
    for (size_t i = 0; i < n; i++) {
        if ((int)(i % 2) != half)
            continue;
        for (int side = 0; side < 2; side++) {
            double t = side ? r[i].neg[k] : r[i].pos[k];
            double acc = bal_acc(r, n, k, half, t);
            if (acc > best || (acc == best && t < best_t)) {
                best = acc;
                best_t = t;
            }
        }
    }
    return best_t;
}

/* ---- scoring one output */

static int score_output(const rr_grounding *g, rr_grounding_scratch *s, struct rr_verdict *v,
                        const char *question, const char *answer, const char *knowledge,
                        rr_buf *out, double *mean, double *minv) {
    rr_buf_clear(out);
    rr_buf_puts(out, question);
    rr_buf_putc(out, '\n');
    rr_buf_puts(out, answer);
    if (out->oom)
        return RR_ENOMEM;
    rr_evidence_ref ev = {"knowledge", knowledge, strlen(knowledge)};
    rr_error err = RR_ERROR_INIT;
    rr_verdict_clear(v);
    int rc = rr_grounding_check(g, s, out->p, out->len, &ev, 1, v, &err);
    if (rc != RR_OK) {
        fprintf(stderr, "check failed: %s\n", err.message);
        return rc;
    }
    const rr_grounding_result *res = rr_grounding_result_of(s);
    *mean = res->support;
    *minv = 1.0;
    for (size_t i = 0; i < res->nclaims; i++)
        if (res->claims[i].support < *minv)
            *minv = res->claims[i].support;
    return RR_OK;
}

static int load_rows(const rr_alloc *a, const char *path, row **rows, size_t *nrows) {
    size_t len = 0;
    char *text = read_file(a, path, &len);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        return RR_EIO;
    }
    rr_grounding_config cfg = RR_GROUNDING_CONFIG_INIT;
    rr_grounding *g = NULL;
    rr_grounding_scratch *s = NULL;
    rr_error err = RR_ERROR_INIT;
    int rc = rr_grounding_new(&g, &cfg, a, &err);
    if (rc == RR_OK)
        rc = rr_grounding_scratch_new(&s, a);
    struct rr_verdict v;
    rr_verdict_init(&v, a);
    rr_buf out, aw, kw, seen;
    rr_buf_init(&out, a);
    rr_buf_init(&aw, a);
    rr_buf_init(&kw, a);
    rr_buf_init(&seen, a);
    size_t cap = 0, n = 0;
    row *r = NULL;
    for (char *line = text; rc == RR_OK && line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        json_error_t je;
        json_t *o = ll ? json_loadb(line, ll, 0, &je) : NULL;
        line += ll + 1;
        if (!o)
            continue;
        const char *k = json_string_value(json_object_get(o, "knowledge"));
        const char *q = json_string_value(json_object_get(o, "question"));
        const char *ra = json_string_value(json_object_get(o, "right_answer"));
        const char *ha = json_string_value(json_object_get(o, "hallucinated_answer"));
        if (k && q && ra && ha) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 256;
                row *nr = rr_realloc(a, r, cap * sizeof *r, nc * sizeof *r);
                if (!nr)
                    rc = RR_ENOMEM;
                else {
                    r = nr;
                    cap = nc;
                }
            }
            if (rc == RR_OK)
                rc = score_output(g, s, &v, q, ra, k, &out, &r[n].pos[S_MEAN], &r[n].pos[S_MIN]);
            if (rc == RR_OK)
                rc = score_output(g, s, &v, q, ha, k, &out, &r[n].neg[S_MEAN], &r[n].neg[S_MIN]);
            if (rc == RR_OK) {
                r[n].pos[S_NAIVE] = naive_share(ra, k, &aw, &kw, &seen);
                r[n].neg[S_NAIVE] = naive_share(ha, k, &aw, &kw, &seen);
                n++;
            }
        }
        json_decref(o);
    }
    rr_buf_free(&out);
    rr_buf_free(&aw);
    rr_buf_free(&kw);
    rr_buf_free(&seen);
    rr_verdict_release(&v);
    rr_grounding_scratch_free(s);
    rr_grounding_free(g);
    rr_free(a, text);
    *rows = r;
    *nrows = n;
    return rc;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : DEFAULT_DATA;
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    row *r = NULL;
    size_t n = 0;
    if (load_rows(&a, path, &r, &n) != RR_OK || n < 2) {
        fprintf(stderr, "halueval_grounding: no usable rows in %s\n", path);
        rr_free(&a, r);
        return 1;
    }
    rr_grounding_config defaults = RR_GROUNDING_CONFIG_INIT;
    printf("HaluEval QA grounding: %zu rows (%zu grounded + %zu hallucinated outputs)\n", n, n, n);
    printf("%-28s %7s %7s %7s | %-26s %-26s | %s\n", "score", "AUROC", "even", "odd",
           "t(even)->bal.acc(odd)", "t(odd)->bal.acc(even)", "bal.acc@default");
    for (int k = 0; k < NSCORES; k++) {
        double te = best_threshold(r, n, k, 0), to = best_threshold(r, n, k, 1);
        char a1[40], a2[40];
        snprintf(a1, sizeof a1, "%.3f -> %.4f", te, bal_acc(r, n, k, 1, te));
        snprintf(a2, sizeof a2, "%.3f -> %.4f", to, bal_acc(r, n, k, 0, to));
        printf("%-28s %7.4f %7.4f %7.4f | %-26s %-26s | %.4f @ %.2f\n", score_names[k],
               auroc(r, n, k, -1), auroc(r, n, k, 0), auroc(r, n, k, 1), a1, a2,
               bal_acc(r, n, k, -1, defaults.support_min), defaults.support_min);
    }
    printf("balanced accuracy (all rows) at fixed thresholds:\n");
    static const double fixed[] = {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
    for (int k = 0; k < NSCORES; k++) {
        printf("  %-26s", score_names[k]);
        for (size_t i = 0; i < RR_ARRAY_LEN(fixed); i++)
            printf("  %.1f:%.3f", fixed[i], bal_acc(r, n, k, -1, fixed[i]));
        printf("\n");
    }
    rr_free(&a, r);
    return 0;
}
