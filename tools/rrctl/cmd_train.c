/* rrctl train / classify / eval-classifier: learned classifiers from the command line. */
#include "cmd_train.h"

#include "classify.h"
#include "eval_metrics.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_OK = 0, EXIT_DATA = 1, EXIT_USAGE = 2, EXIT_IO = 3 };

/* ------------------------------------------------------------------------------------
 * Data sets: JSONL, CSV, RouteLLM CSV
 * ---------------------------------------------------------------------------------- */

typedef struct dataset {
    rr_alloc a;
    rr_clf_sample *s;
    uint8_t *ok[2]; /* RouteLLM: per-model correctness, columns as read */
    size_t n, cap;
    char *models[2];
} dataset;

static void ds_free(dataset *d) {
    for (size_t i = 0; i < d->n; i++) {
        rr_free(&d->a, (void *)d->s[i].text);
        rr_free(&d->a, (void *)d->s[i].label);
    }
    rr_free(&d->a, d->s);
    rr_free(&d->a, d->ok[0]);
    rr_free(&d->a, d->ok[1]);
    rr_free(&d->a, d->models[0]);
    rr_free(&d->a, d->models[1]);
    d->s = NULL, d->n = d->cap = 0;
}

static int ds_add(dataset *d, const char *text, size_t tlen, const char *label, size_t llen,
                  int ok0, int ok1) {
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 1024;
        rr_clf_sample *s = rr_realloc(&d->a, d->s, d->cap * sizeof *s, nc * sizeof *s);
        if (s)
            d->s = s;
        for (int i = 0; i < 2 && s; i++) {
            uint8_t *o = rr_realloc(&d->a, d->ok[i], d->cap, nc);
            if (!o)
                s = NULL;
            else
                d->ok[i] = o;
        }
        if (!s)
            return RR_ENOMEM;
        d->cap = nc;
    }
    char *t = rr_strndup(&d->a, text, tlen), *l = rr_strndup(&d->a, label, llen);
    if (!t || !l) {
        rr_free(&d->a, t), rr_free(&d->a, l);
        return RR_ENOMEM;
    }
    d->s[d->n] = (rr_clf_sample){t, tlen, l};
    d->ok[0][d->n] = (uint8_t)ok0;
    d->ok[1][d->n++] = (uint8_t)ok1;
    return RR_OK;
}

static int read_all(const char *path, rr_buf *b) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "rrctl: %s: cannot open\n", path);
        return EXIT_IO;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rr_buf_put(b, chunk, n);
    bool bad = ferror(f) != 0;
    if (f != stdin)
        fclose(f);
    if (bad || b->oom) {
        fprintf(stderr, "rrctl: %s: %s\n", path, bad ? "read error" : "out of memory");
        return EXIT_IO;
    }
    if (!b->p)
        rr_buf_put(b, "", 0);
    return EXIT_OK;
}

static int check_text(const char *path, size_t line, const char *what, const char *s,
                      size_t n) {
    size_t bad = rr_utf8_check(s, n);
    if (bad == n)
        return EXIT_OK;
    fprintf(stderr, "rrctl: %s:%zu: %s is not valid UTF-8 (byte %zu)\n", path, line, what, bad);
    return EXIT_DATA;
}

static int load_jsonl(const char *path, const char *tf, const char *lf, dataset *d) {
    rr_buf b;
    rr_buf_init(&b, &d->a);
    int rc = read_all(path, &b);
    size_t line = 0;
    for (char *p = b.p, *end = b.p + b.len; !rc && p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        char *q = p;
        p += n + 1;
        while (n && (q[n - 1] == '\r' || q[n - 1] == ' ' || q[n - 1] == '\t'))
            n--;
        if (!n)
            continue;
        json_error_t je;
        json_t *o = json_loadb(q, n, 0, &je);
        json_t *t = o ? json_object_get(o, tf) : NULL, *l = o ? json_object_get(o, lf) : NULL;
        char num[64];
        const char *ls = json_is_string(l) ? json_string_value(l) : NULL;
        size_t ll = ls ? json_string_length(l) : 0;
        if (json_is_integer(l)) {
            ll = (size_t)snprintf(num, sizeof num, "%lld", (long long)json_integer_value(l));
            ls = num;
        }
        if (!o)
            fprintf(stderr, "rrctl: %s:%zu: malformed JSON: %s\n", path, line, je.text);
        else if (!json_is_string(t) || !ls)
            fprintf(stderr, "rrctl: %s:%zu: needs a string \"%s\" and a string or integer "
                    "\"%s\"\n", path, line, tf, lf);
        if (!o || !json_is_string(t) || !ls)
            rc = EXIT_DATA;
        else if (!(rc = check_text(path, line, "text", json_string_value(t),
                                   json_string_length(t))) &&
                 ds_add(d, json_string_value(t), json_string_length(t), ls, ll, 0, 0)) {
            fprintf(stderr, "rrctl: out of memory\n");
            rc = EXIT_DATA;
        }
        json_decref(o);
    }
    rr_buf_free(&b);
    return rc;
}

/* RFC 4180 records: quoted fields may hold commas, doubled quotes and newlines. */
typedef struct csv {
    const char *p;
    size_t n, pos, line, rec_line;
    rr_buf buf;
    size_t offs[64];
    size_t nf;
} csv;

/* 1: a record; 0: end of input; -1: bad quoting or more than 64 fields. */
static int csv_record(csv *c) {
    if (c->pos >= c->n)
        return 0;
    rr_buf_clear(&c->buf);
    c->nf = 0;
    c->rec_line = c->line;
    for (;;) {
        if (c->nf == 64)
            return -1;
        c->offs[c->nf++] = c->buf.len;
        if (c->pos < c->n && c->p[c->pos] == '"') {
            c->pos++;
            for (;;) {
                if (c->pos >= c->n)
                    return -1;
                char ch = c->p[c->pos++];
                if (ch == '"' && c->pos < c->n && c->p[c->pos] == '"')
                    c->pos++;
                else if (ch == '"')
                    break;
                c->line += ch == '\n';
                rr_buf_putc(&c->buf, ch);
            }
        }
        while (c->pos < c->n && c->p[c->pos] != ',' && c->p[c->pos] != '\n') {
            if (c->p[c->pos] != '\r')
                rr_buf_putc(&c->buf, c->p[c->pos]);
            c->pos++;
        }
        rr_buf_putc(&c->buf, 0);
        if (c->pos >= c->n || c->p[c->pos] == '\n') {
            c->pos++;
            c->line++;
            return 1;
        }
        c->pos++; /* comma */
    }
}

static const char *csv_field(const csv *c, size_t i, size_t *len) {
    size_t end = i + 1 < c->nf ? c->offs[i + 1] - 1 : c->buf.len - 1;
    *len = end - c->offs[i];
    return c->buf.p + c->offs[i];
}

static int csv_col(const csv *c, const char *name) {
    for (size_t i = 0; i < c->nf; i++) {
        size_t n;
        const char *f = csv_field(c, i, &n);
        if (strlen(name) == n && !memcmp(f, name, n))
            return (int)i;
    }
    return -1;
}

static int csv_open(csv *c, const char *path, rr_buf *b, const rr_alloc *a) {
    memset(c, 0, sizeof *c);
    rr_buf_init(&c->buf, a);
    int rc = read_all(path, b);
    if (rc)
        return rc;
    c->p = b->p, c->n = b->len, c->line = 1;
    if (c->n >= 3 && !memcmp(c->p, "\xef\xbb\xbf", 3))
        c->pos = 3;
    if (csv_record(c) != 1 || c->buf.oom) {
        fprintf(stderr, "rrctl: %s: no CSV header\n", path);
        return EXIT_DATA;
    }
    return EXIT_OK;
}

static int load_csv(const char *path, const char *tf, const char *lf, dataset *d) {
    rr_buf b;
    csv c;
    rr_buf_init(&b, &d->a);
    int rc = csv_open(&c, path, &b, &d->a), ti = -1, li = -1, r = 0;
    if (!rc) {
        ti = csv_col(&c, tf), li = csv_col(&c, lf);
        if (ti < 0 || li < 0) {
            fprintf(stderr, "rrctl: %s: header has no column \"%s\"\n", path, ti < 0 ? tf : lf);
            rc = EXIT_DATA;
        }
    }
    while (!rc && (r = csv_record(&c)) == 1) {
        size_t tn, ln;
        if (c.nf == 1 && c.buf.len == 1)
            continue; /* blank line */
        if ((size_t)ti >= c.nf || (size_t)li >= c.nf) {
            fprintf(stderr, "rrctl: %s:%zu: record has %zu fields\n", path, c.rec_line, c.nf);
            rc = EXIT_DATA;
            break;
        }
        const char *t = csv_field(&c, (size_t)ti, &tn), *l = csv_field(&c, (size_t)li, &ln);
        if (!(rc = check_text(path, c.rec_line, "text", t, tn)) &&
            !(rc = check_text(path, c.rec_line, "label", l, ln)) && ds_add(d, t, tn, l, ln, 0, 0))
            rc = EXIT_DATA;
    }
    if (!rc && r < 0) {
        fprintf(stderr, "rrctl: %s:%zu: unterminated quote or over 64 fields\n", path,
                c.rec_line);
        rc = EXIT_DATA;
    }
    rr_buf_free(&c.buf);
    rr_buf_free(&b);
    return rc;
}

static int parse_bool(const char *s, size_t n) {
    if ((n == 4 && !memcmp(s, "True", 4)) || (n == 4 && !memcmp(s, "true", 4)) ||
        (n == 1 && *s == '1') || (n == 3 && !memcmp(s, "1.0", 3)))
        return 1;
    if ((n == 5 && !memcmp(s, "False", 5)) || (n == 5 && !memcmp(s, "false", 5)) ||
        (n == 1 && *s == '0') || (n == 3 && !memcmp(s, "0.0", 3)))
        return 0;
    return -1;
}

/* RouteLLM's `prompt,<model>,<model>` correctness CSVs. `m0`/`m1` pick the two model
 * columns (NULL: the first two after the prompt); every file must name the same two. */
static int load_routellm(const char *path, const char *tf, const char *m0, const char *m1,
                         dataset *d) {
    rr_buf b;
    csv c;
    rr_buf_init(&b, &d->a);
    int rc = csv_open(&c, path, &b, &d->a), ti = -1, mi[2] = {-1, -1}, r = 0;
    if (!rc) {
        ti = csv_col(&c, tf);
        mi[0] = m0 ? csv_col(&c, m0) : (ti == 0 ? 1 : 0);
        mi[1] = m1 ? csv_col(&c, m1) : (ti <= 1 ? 2 : 1);
        if (ti < 0 || mi[0] < 0 || mi[1] < 0 || (size_t)mi[1] >= c.nf || mi[0] == mi[1]) {
            fprintf(stderr, "rrctl: %s: header needs \"%s\" and two model columns\n", path, tf);
            rc = EXIT_DATA;
        }
    }
    for (int i = 0; !rc && i < 2; i++) {
        size_t n;
        const char *f = csv_field(&c, (size_t)mi[i], &n);
        if (!d->models[i])
            d->models[i] = rr_strndup(&d->a, f, n);
        else if (strlen(d->models[i]) != n || memcmp(d->models[i], f, n)) {
            fprintf(stderr, "rrctl: %s: model column %d is \"%.*s\", earlier files had "
                    "\"%s\"\n", path, i + 1, (int)n, f, d->models[i]);
            rc = EXIT_DATA;
        }
    }
    while (!rc && (r = csv_record(&c)) == 1) {
        size_t tn, n0, n1;
        if (c.nf == 1 && c.buf.len == 1)
            continue;
        if ((size_t)ti >= c.nf || (size_t)mi[0] >= c.nf || (size_t)mi[1] >= c.nf) {
            fprintf(stderr, "rrctl: %s:%zu: record has %zu fields\n", path, c.rec_line, c.nf);
            rc = EXIT_DATA;
            break;
        }
        const char *t = csv_field(&c, (size_t)ti, &tn);
        const char *f0 = csv_field(&c, (size_t)mi[0], &n0), *f1 = csv_field(&c, (size_t)mi[1], &n1);
        int o0 = parse_bool(f0, n0), o1 = parse_bool(f1, n1);
        if (o0 < 0 || o1 < 0) {
            fprintf(stderr, "rrctl: %s:%zu: correctness must be True/False or 1/0\n", path,
                    c.rec_line);
            rc = EXIT_DATA;
        } else if (!(rc = check_text(path, c.rec_line, "prompt", t, tn)) &&
                   ds_add(d, t, tn, "", 0, o0, o1))
            rc = EXIT_DATA;
    }
    if (!rc && r < 0) {
        fprintf(stderr, "rrctl: %s:%zu: unterminated quote\n", path, c.rec_line);
        rc = EXIT_DATA;
    }
    rr_buf_free(&c.buf);
    rr_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------------------- */

#define MAX_INPUTS 1024

typedef struct cli {
    const char *format, *text_field, *label_field, *val_path, *out_path, *model_path;
    const char *weak, *strong, *strong_label, *oos_label, *text;
    const char *inputs[MAX_INPUTS];
    int ninputs;
    rr_clf_train_opts o;
    double threshold;
    bool have_threshold, quiet, json, info, raw;
    int top;
} cli;

static bool flag_value(int argc, char **argv, int *i, const char *name, const char **out) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n))
        return false;
    if (argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return true;
    }
    if (argv[*i][n])
        return false;
    if (*i + 1 >= argc) {
        *out = NULL;
        return true;
    }
    *out = argv[++*i];
    return true;
}

static bool parse_u64(const char *s, uint64_t *v) {
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long long x = strtoull(s, &end, 0);
    *v = x;
    return !*end;
}

static bool parse_f64(const char *s, double *v) {
    char *end;
    if (!s || !*s)
        return false;
    *v = strtod(s, &end);
    return !*end && isfinite(*v);
}

static int usage_error(const char *cmd, const char *msg, const char *arg) {
    fprintf(stderr, "rrctl %s: %s%s%s\nTry 'rrctl %s --help'.\n", cmd, msg, arg ? ": " : "",
            arg ? arg : "", cmd);
    return EXIT_USAGE;
}

/* Numeric options of `train`; returns 1 when argv[*i] was one, -1 on a bad value. */
static int train_number_flag(int argc, char **argv, int *i, cli *c) {
    static const char *const names[] = {"--buckets", "--word-ngrams", "--l2", "--lr",
                                        "--epochs", "--patience", "--seed", "--val-split",
                                        "--prune", "--hash-seed"};
    const char *v;
    for (size_t k = 0; k < RR_ARRAY_LEN(names); k++) {
        if (!flag_value(argc, argv, i, names[k], &v))
            continue;
        uint64_t u = 0;
        double d = 0;
        bool intflag = k <= 1 || (k >= 4 && k <= 6) || k == 9;
        if (intflag ? !parse_u64(v, &u) : !parse_f64(v, &d))
            return -1;
        if (k == 0 && u > RR_CLF_MAX_BUCKETS) {
            fprintf(stderr, "rrctl train: --buckets: %s is out of range 1..%u\n", v,
                    RR_CLF_MAX_BUCKETS);
            return -2;
        }
        if (intflag && k != 6 && k != 9 && u > UINT32_MAX)
            return -1;
        switch (k) {
        case 0: c->o.feat.buckets = (uint32_t)u; break;
        case 1: c->o.feat.word_ngrams = (uint8_t)(u > 255 ? 255 : u); break;
        case 2: c->o.l2 = d; break;
        case 3: c->o.lr = d; break;
        case 4: c->o.epochs = (uint32_t)u; break;
        case 5: c->o.patience = (uint32_t)u; break;
        case 6: c->o.seed = u; break;
        case 7: c->o.val_split = d; break;
        case 8: c->o.prune = d; break;
        default: c->o.feat.hash_seed = u; break;
        }
        return 1;
    }
    return 0;
}

static int parse_char_ngrams(const char *v, cli *c) {
    unsigned lo, hi;
    char extra;
    if (v && !strcmp(v, "0")) {
        c->o.feat.char_min = c->o.feat.char_max = 0;
        return 0;
    }
    if (!v || sscanf(v, "%u-%u%c", &lo, &hi, &extra) != 2 || lo > 255 || hi > 255)
        return -1;
    c->o.feat.char_min = (uint8_t)lo;
    c->o.feat.char_max = (uint8_t)hi;
    return 0;
}

/* Flags shared by the three subcommands. 1: consumed; 0: not ours; -1: bad value. */
static int common_flag(int argc, char **argv, int *i, cli *c) {
    const char *v = NULL;
    const char **dst = NULL;
    if (flag_value(argc, argv, i, "--format", &v))
        dst = &c->format;
    else if (flag_value(argc, argv, i, "--text-field", &v))
        dst = &c->text_field;
    else if (flag_value(argc, argv, i, "--label-field", &v))
        dst = &c->label_field;
    else if (flag_value(argc, argv, i, "--weak", &v))
        dst = &c->weak;
    else if (flag_value(argc, argv, i, "--strong", &v))
        dst = &c->strong;
    else if (flag_value(argc, argv, i, "--strong-label", &v))
        dst = &c->strong_label;
    else if (flag_value(argc, argv, i, "--oos-label", &v))
        dst = &c->oos_label;
    else if (flag_value(argc, argv, i, "--model", &v) || flag_value(argc, argv, i, "-m", &v))
        dst = &c->model_path;
    else if (!strcmp(argv[*i], "--json"))
        return c->json = true, 1;
    else if (!strcmp(argv[*i], "--quiet") || !strcmp(argv[*i], "-q"))
        return c->quiet = true, 1;
    else
        return 0;
    if (!v)
        return -1;
    *dst = v;
    return 1;
}

static void cli_init(cli *c) {
    memset(c, 0, sizeof *c);
    rr_clf_train_opts_default(&c->o);
    c->text_field = "text";
    c->label_field = "label";
    c->strong_label = "gain";
    c->top = 3;
}

static const char *format_of(const cli *c, const char *path) {
    if (c->format)
        return c->format;
    const char *dot = strrchr(path, '.');
    return dot && !strcmp(dot, ".csv") ? "csv" : "jsonl";
}

static int set_label(dataset *d, size_t i, const char *label) {
    char *l = rr_strdup(&d->a, label);
    if (!l)
        return EXIT_DATA;
    rr_free(&d->a, (void *)d->s[i].label);
    d->s[i].label = l;
    return EXIT_OK;
}

/* After all RouteLLM files are read: column 0 becomes the weak model, 1 the strong (the
 * more accurate one unless --weak / --strong named them), and each prompt is labelled
 * "strong" when the strong model is needed: by default when it gains over the weak
 * model (weak wrong, strong right); with --strong-label weak-wrong, whenever weak fails. */
static int routellm_finish(const cli *c, dataset *d) {
    size_t acc[2] = {0, 0};
    for (size_t i = 0; i < d->n; i++)
        acc[0] += d->ok[0][i], acc[1] += d->ok[1][i];
    if (!c->weak && !c->strong && acc[0] > acc[1]) {
        uint8_t *t = d->ok[0];
        d->ok[0] = d->ok[1], d->ok[1] = t;
        char *m = d->models[0];
        d->models[0] = d->models[1], d->models[1] = m;
    }
    bool gain = !strcmp(c->strong_label, "gain");
    if (!gain && strcmp(c->strong_label, "weak-wrong")) {
        fprintf(stderr, "rrctl: --strong-label: \"%s\" is not gain or weak-wrong\n",
                c->strong_label);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < d->n; i++) {
        bool strong = !d->ok[0][i] && (!gain || d->ok[1][i]);
        if (set_label(d, i, strong ? "strong" : "weak"))
            return EXIT_DATA;
    }
    return EXIT_OK;
}

static int load_inputs(const cli *c, const char *const *paths, int n, dataset *d) {
    rr_alloc_init(&d->a, NULL);
    bool rl = c->format && !strcmp(c->format, "routellm");
    int rc = EXIT_OK;
    for (int i = 0; !rc && i < n; i++) {
        const char *f = format_of(c, paths[i]);
        if (rl)
            rc = load_routellm(paths[i], c->text_field ? c->text_field : "prompt", c->weak,
                               c->strong, d);
        else if (!strcmp(f, "csv"))
            rc = load_csv(paths[i], c->text_field, c->label_field, d);
        else if (!strcmp(f, "jsonl"))
            rc = load_jsonl(paths[i], c->text_field, c->label_field, d);
        else {
            fprintf(stderr, "rrctl: --format: \"%s\" is not jsonl, csv or routellm\n", f);
            rc = EXIT_USAGE;
        }
    }
    if (!rc && rl)
        rc = routellm_finish(c, d);
    return rc;
}

static int exit_for(int rc) {
    return rc == RR_EINVAL ? EXIT_USAGE : rc == RR_EIO ? EXIT_IO : EXIT_DATA;
}

/* ------------------------------------------------------------------------------------
 * rrctl train
 * ---------------------------------------------------------------------------------- */

static const char TRAIN_HELP[] =
    "Usage: rrctl train [options] -o MODEL TRAIN_FILE...\n"
    "Train a hashed n-gram logistic-regression classifier and write a model file.\n"
    "\n"
    "Input:\n"
    "  --format jsonl|csv|routellm  input format (default: by extension, .csv = csv)\n"
    "  --text-field NAME            JSON key / CSV column of the text (default text;\n"
    "                               prompt for routellm)\n"
    "  --label-field NAME           JSON key / CSV column of the label (default label)\n"
    "  --val FILE                   validation file (default: hold out --val-split)\n"
    "  --val-split F                share of the training data held out (default 0.1)\n"
    "  RouteLLM CSVs (prompt,<model>,<model> with True/False correctness) train a binary\n"
    "  \"strong model needed\" model with labels weak/strong (p_strong = P(strong)):\n"
    "  --weak MODEL, --strong MODEL  the two model columns (default: the less / more\n"
    "                               accurate of the first two)\n"
    "  --strong-label gain|weak-wrong  strong = weak wrong and strong right (default), or\n"
    "                               weak wrong\n"
    "Features:\n"
    "  --buckets N                  hash buckets, 1..16777216 (default 262144)\n"
    "  --word-ngrams N              0, 1 (unigrams) or 2 (+ bigrams; default)\n"
    "  --char-ngrams MIN-MAX        character n-gram sizes, 1..7, or 0 (default 4-4)\n"
    "  --no-numeric                 leave out the named numeric features\n"
    "  --hash-seed N                (default 0)\n"
    "Training:\n"
    "  --l2 X                       L2 regularisation, 0..1 (default 1e-6)\n"
    "  --lr X                       initial learning rate (default 1.0)\n"
    "  --epochs N                   maximum epochs, 1..10000 (default 30)\n"
    "  --patience N                 early stopping patience (default 3)\n"
    "  --seed N                     shuffling and split seed (default 1)\n"
    "  --prune X                    drop weights under X * max|w| (default 0.01)\n"
    "  --no-calibrate               keep raw softmax probabilities\n"
    "Out of scope:\n"
    "  --oos-label NAME             examples with this label are out of scope: trained as\n"
    "                               a class if in the training data, used for the\n"
    "                               threshold if only in validation\n"
    "  --oos-threshold X|auto       answer unknown under this calibrated top probability;\n"
    "                               auto picks it on validation data (default: none)\n"
    "Output:\n"
    "  -o, --output MODEL           model file to write\n"
    "  --name NAME, --model-version V  stored in the model (defaults classifier, 1)\n"
    "  -q, --quiet                  no training curve\n"
    "\n"
    "Exit status: 0 success, 1 bad data, 2 usage error or bad option value, 3 I/O error.\n";

static void print_epoch(void *ud, const rr_clf_epoch_info *e) {
    (void)ud;
    printf("epoch %3u  lr %.4f  train_loss %.4f  val_loss %.4f  val_acc %.4f%s\n", e->epoch,
           e->lr, e->train_loss, e->val_loss, e->val_acc, e->best ? "  *" : "");
    fflush(stdout);
}

static int train_flag(int argc, char **argv, int *i, cli *c) {
    const char *v = NULL;
    int r = common_flag(argc, argv, i, c);
    if (r)
        return r;
    if ((r = train_number_flag(argc, argv, i, c)))
        return r;
    if (flag_value(argc, argv, i, "--char-ngrams", &v))
        return parse_char_ngrams(v, c) ? -1 : 1;
    if (flag_value(argc, argv, i, "--oos-threshold", &v)) {
        if (v && !strcmp(v, "auto"))
            return c->o.oos_threshold = -1, 1;
        return parse_f64(v, &c->o.oos_threshold) && c->o.oos_threshold >= 0 ? 1 : -1;
    }
    if (!strcmp(argv[*i], "--no-numeric"))
        return c->o.feat.numeric = 0, 1;
    if (!strcmp(argv[*i], "--no-calibrate"))
        return c->o.calibrate = 0, 1;
    const char **dst = NULL;
    if (flag_value(argc, argv, i, "--val", &v))
        dst = &c->val_path;
    else if (flag_value(argc, argv, i, "--output", &v) || flag_value(argc, argv, i, "-o", &v))
        dst = &c->out_path;
    else if (flag_value(argc, argv, i, "--name", &v))
        dst = &c->o.name;
    else if (flag_value(argc, argv, i, "--model-version", &v))
        dst = &c->o.version;
    else
        return 0;
    if (!v)
        return -1;
    *dst = v;
    return 1;
}

/* Parses argv for any subcommand; `flag` handles that command's options. */
static int parse_args(int argc, char **argv, cli *c, const char *help,
                      int (*flag)(int, char **, int *, cli *)) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help, stdout);
            return -1;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            const char *arg = argv[i];
            int r = flag(argc, argv, &i, c);
            if (r == 0)
                return usage_error(argv[0], "unknown option", arg);
            if (r == -2)
                return EXIT_USAGE;
            if (r < 0)
                return usage_error(argv[0], "missing or bad value for", arg);
            continue;
        }
        if (c->ninputs == MAX_INPUTS)
            return usage_error(argv[0], "too many input files", NULL);
        c->inputs[c->ninputs++] = argv[i];
    }
    return EXIT_OK;
}

static void print_summary(const cli *c, const rr_classifier *m, const rr_clf_train_report *r,
                          size_t bytes, double secs) {
    if (c->quiet)
        return;
    printf("labels %u  train %u  validation %u (+%u out of scope)  used rows %u\n", r->nlabels,
           r->n_train, r->n_val, r->n_val_oos, r->used_rows);
    printf("best epoch %u of %u  val_loss %.4f  val_acc %.4f\n", r->best_epoch, r->epochs_run,
           r->val_loss, r->val_acc);
    if (m->cal_method == RR_CLF_CAL_TEMPERATURE)
        printf("calibration temperature T=%.4f", r->cal[0]);
    else if (m->cal_method == RR_CLF_CAL_PLATT)
        printf("calibration Platt A=%.4f B=%.4f", r->cal[0], r->cal[1]);
    else
        printf("calibration none");
    printf("  ECE before %.4f after %.4f (validation, %d bins)\n", r->ece_before, r->ece_after,
           15);
    if (m->oos_threshold > 0 || m->oos_label >= 0)
        printf("out of scope: threshold %.4f  class %s\n", m->oos_threshold,
               m->oos_label >= 0 ? m->labels[m->oos_label] : "(none)");
    printf("model %s: %zu bytes, %u weights, fingerprint %s, trained in %.2f s\n", c->out_path,
           bytes, r->nnz, m->fingerprint, secs);
}

int rrctl_cmd_train(int argc, char **argv) {
    cli c;
    cli_init(&c);
    c.text_field = NULL;
    int rc = parse_args(argc, argv, &c, TRAIN_HELP, train_flag);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (!c.out_path)
        return usage_error("train", "no output file (-o MODEL)", NULL);
    if (!c.ninputs)
        return usage_error("train", "no training file", NULL);
    bool rl = c.format && !strcmp(c.format, "routellm");
    if (!c.text_field)
        c.text_field = rl ? "prompt" : "text";
    if (rl && !c.o.positive)
        c.o.positive = "strong";
    c.o.oos_label = c.oos_label;
    if (!c.quiet)
        c.o.on_epoch = print_epoch;
    dataset tr = {0}, va = {0};
    rc = load_inputs(&c, (const char *const *)c.inputs, c.ninputs, &tr);
    if (!rc && c.val_path)
        rc = load_inputs(&c, &c.val_path, 1, &va);
    rr_classifier *m = NULL;
    rr_error err = RR_ERROR_INIT;
    rr_clf_train_report rep;
    uint64_t t0 = rr_now_ns();
    if (!rc && rr_clf_train(&m, tr.s, tr.n, va.s, va.n, &c.o, NULL, &rep, &err)) {
        fprintf(stderr, "rrctl train: %s\n", err.message);
        rc = exit_for(err.code);
    }
    double secs = (double)(rr_now_ns() - t0) / 1e9;
    if (!rc && rr_classifier_write(m, c.out_path, &err)) {
        fprintf(stderr, "rrctl train: %s\n", err.message);
        rc = EXIT_IO;
    }
    if (!rc) {
        FILE *f = fopen(c.out_path, "rb");
        long bytes = 0;
        if (f && !fseek(f, 0, SEEK_END))
            bytes = ftell(f);
        if (f)
            fclose(f);
        print_summary(&c, m, &rep, bytes > 0 ? (size_t)bytes : 0, secs);
    }
    rr_classifier_free(m);
    ds_free(&tr);
    ds_free(&va);
    return rc;
}

/* ------------------------------------------------------------------------------------
 * rrctl classify
 * ---------------------------------------------------------------------------------- */

static const char CLASSIFY_HELP[] =
    "Usage: rrctl classify -m MODEL [options] [FILE...]\n"
    "Classify each line of FILE (or standard input), or the --text argument, and print one\n"
    "JSON object per input: {\"label\", \"top\", \"p\", \"probs\": {label: p}} where label is\n"
    "\"unknown\" when the model rules the text out of scope, p the calibrated top\n"
    "probability, probs the --top most probable labels.\n"
    "\n"
    "  -m, --model MODEL            model file (required)\n"
    "  --text TEXT                  classify TEXT instead of reading input\n"
    "  --format lines|jsonl         input: one text per line (default) or JSON objects\n"
    "  --text-field NAME            JSON key of the text (default text)\n"
    "  --top N                      probabilities to print (default 3)\n"
    "  --info                       print the model's metadata and exit\n"
    "\n"
    "Exit status: 0 success, 1 bad model or input, 2 usage error, 3 I/O error.\n";

static int classify_flag(int argc, char **argv, int *i, cli *c) {
    const char *v = NULL;
    int r = common_flag(argc, argv, i, c);
    if (r)
        return r;
    if (flag_value(argc, argv, i, "--text", &v))
        return v ? (c->text = v, 1) : -1;
    if (flag_value(argc, argv, i, "--top", &v)) {
        uint64_t u;
        return parse_u64(v, &u) && u <= 65535 ? (c->top = (int)u, 1) : -1;
    }
    if (!strcmp(argv[*i], "--info"))
        return c->info = true, 1;
    return 0;
}

static void print_info(const rr_classifier *m) {
    rr_buf b;
    rr_buf_init(&b, &m->a);
    rr_buf_puts(&b, "{\"name\":");
    rr_buf_json_str(&b, m->name, strlen(m->name));
    rr_buf_puts(&b, ",\"version\":");
    rr_buf_json_str(&b, m->version, strlen(m->version));
    rr_buf_printf(&b, ",\"fingerprint\":\"%s\",\"format_version\":%u,\"labels\":[",
                  m->fingerprint, RR_CLF_FORMAT_VERSION);
    for (uint32_t i = 0; i < m->nlabels; i++) {
        rr_buf_puts(&b, i ? "," : "");
        rr_buf_json_str(&b, m->labels[i], strlen(m->labels[i]));
    }
    rr_buf_printf(&b, "],\"buckets\":%u,\"word_ngrams\":%u,\"char_ngrams\":[%u,%u],"
                  "\"numeric\":%u,\"weights\":%u,\"calibration\":\"%s\",\"cal\":[%.6g,%.6g],"
                  "\"oos_threshold\":%.6g,\"oos_label\":%d,\"positive\":%d,"
                  "\"hyper\":{\"l2\":%g,\"lr\":%g,\"epochs\":%u,\"best_epoch\":%u,"
                  "\"patience\":%u,\"seed\":%llu,\"val_split\":%g,\"prune\":%g,"
                  "\"n_train\":%u,\"n_val\":%u}}\n",
                  m->feat.buckets, m->feat.word_ngrams, m->feat.char_min, m->feat.char_max,
                  m->feat.numeric, m->nnz,
                  m->cal_method == RR_CLF_CAL_TEMPERATURE ? "temperature"
                  : m->cal_method == RR_CLF_CAL_PLATT     ? "platt"
                                                          : "none",
                  m->cal[0], m->cal[1], m->oos_threshold, m->oos_label, m->positive,
                  m->hyper.l2, m->hyper.lr, m->hyper.epochs, m->hyper.best_epoch,
                  m->hyper.patience, (unsigned long long)m->hyper.seed, m->hyper.val_split,
                  m->hyper.prune, m->hyper.n_train, m->hyper.n_val);
    fputs(b.p ? b.p : "", stdout);
    rr_buf_free(&b);
}

typedef struct predictor {
    const rr_classifier *m;
    void *scratch;
    size_t ss;
    double *probs;
    uint32_t *order;
    rr_buf out;
} predictor;

static void print_one(predictor *p, const char *text, size_t len, int top) {
    const rr_classifier *m = p->m;
    rr_clf_result r;
    rr_classifier_predict(m, text, len, p->scratch, p->ss, p->probs, &r);
    rr_buf_clear(&p->out);
    const char *label = r.label == RR_CLF_UNKNOWN ? "unknown" : m->labels[r.label];
    rr_buf_puts(&p->out, "{\"label\":");
    rr_buf_json_str(&p->out, label, strlen(label));
    rr_buf_puts(&p->out, ",\"top\":");
    rr_buf_json_str(&p->out, m->labels[r.top], strlen(m->labels[r.top]));
    rr_buf_printf(&p->out, ",\"p\":%.6f,\"probs\":{", r.p_top);
    /* partial selection of the `top` most probable labels */
    uint32_t k = m->nlabels, n = (uint32_t)top < k ? (uint32_t)top : k;
    for (uint32_t i = 0; i < k; i++)
        p->order[i] = i;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t best = i;
        for (uint32_t j = i + 1; j < k; j++)
            best = p->probs[p->order[j]] > p->probs[p->order[best]] ? j : best;
        uint32_t t = p->order[i];
        p->order[i] = p->order[best], p->order[best] = t;
        const char *l = m->labels[p->order[i]];
        rr_buf_puts(&p->out, i ? "," : "");
        rr_buf_json_str(&p->out, l, strlen(l));
        rr_buf_printf(&p->out, ":%.6f", p->probs[p->order[i]]);
    }
    rr_buf_puts(&p->out, "}}\n");
    fputs(p->out.p, stdout);
}

static int classify_stream(predictor *p, const cli *c, const char *path) {
    rr_buf b;
    rr_buf_init(&b, &p->m->a);
    int rc = read_all(path, &b);
    bool jsonl = c->format && !strcmp(c->format, "jsonl");
    size_t line = 0;
    for (char *s = b.p, *end = b.p + b.len; !rc && s < end;) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        char *q = s;
        s += n + 1;
        line++;
        if (n && q[n - 1] == '\r')
            n--;
        if (!jsonl) {
            if (!(rc = check_text(path, line, "line", q, n)))
                print_one(p, q, n, c->top);
            continue;
        }
        if (!n)
            continue;
        json_error_t je;
        json_t *o = json_loadb(q, n, 0, &je), *t = o ? json_object_get(o, c->text_field) : NULL;
        if (!json_is_string(t)) {
            fprintf(stderr, "rrctl: %s:%zu: no string \"%s\"\n", path, line, c->text_field);
            rc = EXIT_DATA;
        } else {
            print_one(p, json_string_value(t), json_string_length(t), c->top);
        }
        json_decref(o);
    }
    rr_buf_free(&b);
    return rc;
}

static int open_model(const cli *c, const char *cmd, rr_classifier **m) {
    if (!c->model_path)
        return usage_error(cmd, "no model (-m MODEL)", NULL);
    rr_error err = RR_ERROR_INIT;
    int rc = rr_classifier_load(m, c->model_path, NULL, &err);
    if (rc) {
        fprintf(stderr, "rrctl %s: %s\n", cmd, err.message);
        return exit_for(rc);
    }
    return EXIT_OK;
}

static int predictor_init(predictor *p, const rr_classifier *m) {
    memset(p, 0, sizeof *p);
    p->m = m;
    p->ss = rr_classifier_scratch_size(m);
    p->scratch = rr_malloc(&m->a, p->ss);
    p->probs = rr_malloc(&m->a, m->nlabels * sizeof *p->probs);
    p->order = rr_malloc(&m->a, m->nlabels * sizeof *p->order);
    rr_buf_init(&p->out, &m->a);
    return p->scratch && p->probs && p->order ? EXIT_OK : EXIT_DATA;
}

static void predictor_free(predictor *p) {
    rr_free(&p->m->a, p->scratch);
    rr_free(&p->m->a, p->probs);
    rr_free(&p->m->a, p->order);
    rr_buf_free(&p->out);
}

int rrctl_cmd_classify(int argc, char **argv) {
    cli c;
    cli_init(&c);
    int rc = parse_args(argc, argv, &c, CLASSIFY_HELP, classify_flag);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (c.format && strcmp(c.format, "lines") && strcmp(c.format, "jsonl"))
        return usage_error("classify", "--format must be lines or jsonl", c.format);
    rr_classifier *m = NULL;
    if ((rc = open_model(&c, "classify", &m)))
        return rc;
    predictor p;
    if (c.info)
        print_info(m);
    else if (predictor_init(&p, m))
        rc = EXIT_DATA;
    else {
        if (c.text)
            print_one(&p, c.text, strlen(c.text), c.top);
        for (int i = 0; !rc && i < c.ninputs; i++)
            rc = classify_stream(&p, &c, c.inputs[i]);
        if (!c.text && !c.ninputs)
            rc = classify_stream(&p, &c, "-");
        predictor_free(&p);
    }
    rr_classifier_free(m);
    return rc;
}

/* ------------------------------------------------------------------------------------
 * rrctl eval-classifier
 * ---------------------------------------------------------------------------------- */

static const char EVAL_HELP[] =
    "Usage: rrctl eval-classifier -m MODEL [options] FILE...\n"
    "Evaluate a model on labelled data: accuracy, macro-F1, the most frequent confusions,\n"
    "expected calibration error (15 bins; raw softmax and calibrated), and with\n"
    "out-of-scope examples the in-scope accuracy and out-of-scope recall at the model's\n"
    "threshold. For a RouteLLM file and a binary model: AUROC, APGR and CPT(50%/80%).\n"
    "\n"
    "  -m, --model MODEL            model file (required)\n"
    "  --format jsonl|csv|routellm, --text-field NAME, --label-field NAME  as for train\n"
    "  --weak MODEL, --strong MODEL  RouteLLM model columns, as for train\n"
    "  --oos-label NAME             label of out-of-scope examples (default: the model's\n"
    "                               out-of-scope class, else \"oos\")\n"
    "  --threshold X                override the model's out-of-scope threshold\n"
    "  --json                       print one JSON object instead of text\n"
    "\n"
    "Exit status: 0 success, 1 bad model or data (e.g. a label the model does not know),\n"
    "2 usage error, 3 I/O error.\n";

static int eval_flag(int argc, char **argv, int *i, cli *c) {
    const char *v = NULL;
    int r = common_flag(argc, argv, i, c);
    if (r)
        return r;
    if (flag_value(argc, argv, i, "--threshold", &v)) {
        c->have_threshold = true;
        return parse_f64(v, &c->threshold) && c->threshold >= 0 && c->threshold <= 1 ? 1 : -1;
    }
    return 0;
}

typedef struct evalres {
    size_t n, nin, nout, in_right, out_caught;
    rr_cls_summary sum;
    double ece_raw, ece_cal, auroc;
    rr_route_curve curve;
    bool have_curve;
} evalres;

typedef struct evalbuf {
    int32_t *truth, *pred, *top;
    double *conf, *raw, *pos;
    uint8_t *ok, *rok, *isin;
} evalbuf;

static void raw_softmax_top(double *z, uint32_t k, double *p_top, uint32_t *top) {
    double mx = z[0], s = 0;
    *top = 0;
    for (uint32_t i = 1; i < k; i++)
        if (z[i] > mx)
            mx = z[i], *top = i;
    for (uint32_t i = 0; i < k; i++)
        s += exp(z[i] - mx);
    *p_top = 1.0 / s;
}

static int eval_predict(const cli *c, const rr_classifier *m, const dataset *d, evalbuf *b,
                        evalres *r) {
    predictor p;
    if (predictor_init(&p, m))
        return EXIT_DATA;
    const char *oos = c->oos_label ? c->oos_label
                      : m->oos_label >= 0 ? m->labels[m->oos_label] : "oos";
    double thr = c->have_threshold ? c->threshold : m->oos_threshold;
    int rc = EXIT_OK;
    size_t j = 0;
    for (size_t i = 0; i < d->n && !rc; i++) {
        int32_t t = rr_classifier_label_index(m, d->s[i].label);
        bool out = !strcmp(d->s[i].label, oos);
        if (t < 0 && !out) {
            fprintf(stderr, "rrctl eval-classifier: example %zu has label \"%s\", which the "
                    "model does not know (out-of-scope examples need --oos-label)\n", i + 1,
                    d->s[i].label);
            rc = EXIT_DATA;
            break;
        }
        rr_clf_result res;
        uint32_t rtop;
        rr_classifier_logits(m, d->s[i].text, d->s[i].len, p.scratch, p.ss, p.probs);
        raw_softmax_top(p.probs, m->nlabels, &b->raw[i], &rtop);
        rr_classifier_calibrate(m, p.probs, &res);
        if (res.p_top < thr)
            res.label = RR_CLF_UNKNOWN;
        else if (res.top != m->oos_label)
            res.label = res.top;
        b->truth[i] = out ? -1 : t;
        b->pred[i] = res.label;
        b->pos[i] = m->positive >= 0 ? p.probs[m->positive] : 0;
        b->isin[i] = !out;
        if (!out) {
            b->conf[j] = res.p_top;
            b->ok[j] = res.top == t;
            b->raw[j] = b->raw[i];
            b->rok[j++] = (int32_t)rtop == t;
            r->in_right += res.label == t;
        } else {
            r->out_caught += res.label == RR_CLF_UNKNOWN;
        }
    }
    r->n = d->n;
    r->nin = j;
    r->nout = d->n - j;
    predictor_free(&p);
    return rc;
}

typedef struct pair {
    int32_t t, p;
    size_t n;
} pair;

static int cmp_pair(const void *a, const void *b) {
    const pair *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return x->t != y->t ? (x->t < y->t ? -1 : 1) : (x->p < y->p ? -1 : x->p > y->p);
}

/* The 10 most frequent (truth, prediction) errors, as text or a JSON array. */
static void print_confusions(const rr_classifier *m, const evalbuf *b, size_t n, bool json) {
    pair *v = rr_malloc(&m->a, (n ? n : 1) * sizeof *v);
    size_t nv = 0;
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        if (b->truth[i] != b->pred[i])
            v[nv++] = (pair){b->truth[i], b->pred[i], 1};
    qsort(v, nv, sizeof *v, cmp_pair); /* groups equal pairs (count 1 each) */
    size_t w = 0;
    for (size_t i = 0; i < nv; i++) {
        if (w && v[w - 1].t == v[i].t && v[w - 1].p == v[i].p)
            v[w - 1].n++;
        else
            v[w++] = v[i];
    }
    qsort(v, w, sizeof *v, cmp_pair);
    printf(json ? ",\"confusions\":[" : "most frequent confusions (truth -> predicted):\n");
    for (size_t i = 0; i < w && i < 10; i++) {
        const char *t = v[i].t < 0 ? "(out of scope)" : m->labels[v[i].t];
        const char *p = v[i].p < 0 ? "unknown" : m->labels[v[i].p];
        if (json)
            printf("%s{\"truth\":\"%s\",\"predicted\":\"%s\",\"count\":%zu}", i ? "," : "", t, p,
                   v[i].n);
        else
            printf("  %6zu  %s -> %s\n", v[i].n, t, p);
    }
    if (json)
        printf("]");
    rr_free(&m->a, v);
}

static void print_eval(const cli *c, const rr_classifier *m, const evalbuf *b, const evalres *r) {
    double thr = c->have_threshold ? c->threshold : m->oos_threshold;
    double ina = r->nin ? (double)r->in_right / r->nin : 0;
    double rec = r->nout ? (double)r->out_caught / r->nout : 0;
    if (c->json) {
        printf("{\"examples\":%zu,\"in_scope\":%zu,\"out_of_scope\":%zu,\"accuracy\":%.6f,"
               "\"macro_f1\":%.6f,\"ece_raw\":%.6f,\"ece\":%.6f,\"in_scope_accuracy\":%.6f,"
               "\"oos_recall\":%.6f,\"threshold\":%.6f",
               r->n, r->nin, r->nout, r->sum.accuracy, r->sum.macro_f1, r->ece_raw,
               r->ece_cal, ina, rec, thr);
        if (r->have_curve)
            printf(",\"auroc\":%.6f,\"apgr\":%.6f,\"cpt50\":%.6f,\"cpt80\":%.6f,\"q_weak\":%.6f,"
                   "\"q_strong\":%.6f",
                   r->auroc, r->curve.apgr, r->curve.cpt50, r->curve.cpt80, r->curve.q_weak,
                   r->curve.q_strong);
        print_confusions(m, b, r->n, true);
        printf("}\n");
        return;
    }
    printf("examples %zu (in scope %zu, out of scope %zu)\n", r->n, r->nin, r->nout);
    printf("accuracy %.4f  macro-F1 %.4f\n", r->sum.accuracy, r->sum.macro_f1);
    printf("ECE (in scope, 15 bins): raw %.4f  calibrated %.4f\n", r->ece_raw, r->ece_cal);
    if (r->nout || thr > 0 || m->oos_label >= 0)
        printf("in-scope accuracy %.4f  out-of-scope recall %.4f  (threshold %.4f)\n", ina, rec,
               thr);
    if (r->have_curve)
        printf("AUROC %.4f  APGR %.4f  CPT(50%%) %.2f%%  CPT(80%%) %.2f%%  (weak %.4f, strong "
               "%.4f)\n",
               r->auroc, r->curve.apgr, 100 * r->curve.cpt50, 100 * r->curve.cpt80,
               r->curve.q_weak, r->curve.q_strong);
    print_confusions(m, b, r->n, false);
}

static int eval_run(const cli *c, const rr_classifier *m, const dataset *d) {
    rr_alloc a = m->a;
    size_t n = d->n ? d->n : 1;
    evalbuf b = {rr_malloc(&a, n * 4), rr_malloc(&a, n * 4), NULL,
                 rr_malloc(&a, n * 8), rr_malloc(&a, n * 8), rr_malloc(&a, n * 8),
                 rr_malloc(&a, n),     rr_malloc(&a, n),     rr_malloc(&a, n)};
    evalres r = {0};
    int rc = b.truth && b.pred && b.conf && b.raw && b.pos && b.ok && b.rok && b.isin
                 ? EXIT_OK
                 : EXIT_DATA;
    if (!rc && !d->n) {
        fprintf(stderr, "rrctl eval-classifier: no examples\n");
        rc = EXIT_DATA;
    }
    if (!rc)
        rc = eval_predict(c, m, d, &b, &r);
    if (!rc && rr_cls_summarise(b.truth, b.pred, d->n, m->nlabels, &a, &r.sum))
        rc = EXIT_DATA;
    if (!rc) {
        r.ece_raw = rr_ece(b.raw, b.rok, r.nin, 15);
        r.ece_cal = rr_ece(b.conf, b.ok, r.nin, 15);
        bool rl = c->format && !strcmp(c->format, "routellm");
        if (rl && m->positive >= 0) {
            rr_error err = RR_ERROR_INIT;
            for (size_t i = 0; i < d->n; i++)
                b.ok[i] = b.truth[i] == m->positive;
            r.auroc = rr_auroc(b.pos, b.ok, d->n, &a);
            if (rr_route_curve_compute(b.pos, d->ok[0], d->ok[1], d->n, &a, &r.curve, &err))
                fprintf(stderr, "rrctl eval-classifier: %s\n", err.message);
            else
                r.have_curve = true;
        }
        print_eval(c, m, &b, &r);
    }
    rr_free(&a, b.truth), rr_free(&a, b.pred), rr_free(&a, b.conf), rr_free(&a, b.raw);
    rr_free(&a, b.pos), rr_free(&a, b.ok), rr_free(&a, b.rok), rr_free(&a, b.isin);
    return rc;
}

int rrctl_cmd_eval_classifier(int argc, char **argv) {
    cli c;
    cli_init(&c);
    c.text_field = NULL;
    int rc = parse_args(argc, argv, &c, EVAL_HELP, eval_flag);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (!c.ninputs)
        return usage_error("eval-classifier", "no data file", NULL);
    bool rl = c.format && !strcmp(c.format, "routellm");
    if (!c.text_field)
        c.text_field = rl ? "prompt" : "text";
    rr_classifier *m = NULL;
    if ((rc = open_model(&c, "eval-classifier", &m)))
        return rc;
    dataset d = {0};
    rc = load_inputs(&c, (const char *const *)c.inputs, c.ninputs, &d);
    if (!rc)
        rc = eval_run(&c, m, &d);
    ds_free(&d);
    rr_classifier_free(m);
    return rc;
}
