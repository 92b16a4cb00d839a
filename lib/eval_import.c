/* Importers: the public routing benchmarks' CSVs -> replay JSONL. RouteLLM publishes one
 * CSV per benchmark with `prompt,<model>,<model>` correctness columns; RouterBench has
 * `sample_id, prompt, eval_name, <model>` scores plus `<model>|total_cost` and
 * `<model>|model_response`. Both are streamed one CSV record at a time. */
#include "eval.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- RFC 4180 reader ------------------------------------------------------------------ */

void rr_csv_init(rr_csv *c, FILE *f, const rr_alloc *a) {
    memset(c, 0, sizeof *c);
    c->f = f;
    c->a = *a;
    rr_buf_init(&c->field, &c->a);
    c->next_line = 1;
}

void rr_csv_free(rr_csv *c) {
    rr_buf_free(&c->field);
    rr_free(&c->a, c->off);
    c->off = NULL;
}

static bool start_field(rr_csv *c) {
    if (c->nf == c->capf) {
        size_t nc = c->capf ? c->capf * 2 : 16;
        size_t *o = rr_realloc(&c->a, c->off, c->capf * sizeof *o, nc * sizeof *o);
        if (!o)
            return false;
        c->off = o;
        c->capf = nc;
    }
    if (c->nf)
        rr_buf_putc(&c->field, 0);
    c->off[c->nf++] = c->field.len;
    return !c->field.oom;
}

int rr_csv_next(rr_csv *c, rr_error *err) {
    rr_buf_clear(&c->field);
    c->nf = 0;
    c->line = c->next_line;
    int ch = getc(c->f);
    if (!c->started) {
        c->started = true;
        if (ch == 0xEF) { /* UTF-8 byte order mark */
            int b = getc(c->f), d = getc(c->f);
            if (b != 0xBB || d != 0xBF)
                return rr_err(err, RR_EDATA, "line 1: stray bytes at the start of the file");
            ch = getc(c->f);
        }
    }
    if (ch == EOF)
        return ferror(c->f) ? rr_err(err, RR_EIO, "read error") : 0;
    uint64_t col = 1;
    for (;;) { /* one field per iteration */
        if (!start_field(c))
            return rr_err(err, RR_ENOMEM, "out of memory");
        if (ch == '"') {
            uint64_t qline = c->next_line, qcol = col;
            for (;;) {
                ch = getc(c->f);
                col++;
                if (ch == EOF)
                    return rr_err(err, RR_EDATA,
                                  "line %llu, column %llu: quoted field never "
                                  "closed",
                                  (unsigned long long)qline, (unsigned long long)qcol);
                if (ch == '\n')
                    c->next_line++, col = 0;
                if (ch == '"') {
                    ch = getc(c->f);
                    col++;
                    if (ch != '"')
                        break;
                }
                rr_buf_putc(&c->field, (char)ch);
            }
            if (ch == '\r') {
                int n = getc(c->f);
                if (n != '\n')
                    ungetc(n, c->f);
                ch = '\n';
            }
            if (ch != ',' && ch != '\n' && ch != EOF)
                return rr_err(err, RR_EDATA,
                              "line %llu, column %llu: text after a closing "
                              "quote (a quote inside a field must be doubled)",
                              (unsigned long long)c->next_line, (unsigned long long)col);
        } else {
            while (ch != ',' && ch != '\n' && ch != EOF) {
                if (ch == '\r') {
                    int n = getc(c->f);
                    if (n == '\n') {
                        ch = '\n';
                        break;
                    }
                    ungetc(n, c->f);
                }
                rr_buf_putc(&c->field, (char)ch);
                ch = getc(c->f);
                col++;
            }
        }
        if (c->field.oom)
            return rr_err(err, RR_ENOMEM, "out of memory");
        if (ch == ',') {
            ch = getc(c->f);
            col++;
            continue;
        }
        if (ch == '\n')
            c->next_line++;
        return 1;
    }
}

/* ---- model -> route map ---------------------------------------------------------------- */

int rr_import_map_parse(rr_import_map *m, const rr_alloc *a, const char *spec, rr_error *err) {
    memset(m, 0, sizeof *m);
    for (int i = 0; i < 32; i++)
        m->cost_usd[i] = NAN;
    const char *p = spec;
    while (p && *p) {
        const char *end = strchr(p, ','), *eq = strchr(p, '=');
        if (!end)
            end = p + strlen(p);
        if (!eq || eq > end || eq == p || eq + 1 == end)
            return rr_err(err, RR_EINVAL,
                          "--map: expected MODEL=ROUTE[,MODEL=ROUTE...], got '%.*s'",
                          (int)(end - p), p);
        if (m->n == 32)
            return rr_err(err, RR_EINVAL, "--map: at most 32 models");
        m->model[m->n] = rr_strndup(a, p, (size_t)(eq - p));
        m->route[m->n] = rr_strndup(a, eq + 1, (size_t)(end - eq - 1));
        if (!m->model[m->n] || !m->route[m->n])
            return rr_err(err, RR_ENOMEM, "out of memory");
        m->n++;
        p = *end ? end + 1 : end;
    }
    if (!m->n)
        return rr_err(err, RR_EINVAL, "--map: no MODEL=ROUTE pair");
    return RR_OK;
}

int rr_import_map_costs(rr_import_map *m, const char *spec, rr_error *err) {
    const char *p = spec;
    while (p && *p) {
        const char *end = strchr(p, ','), *eq = strchr(p, '=');
        if (!end)
            end = p + strlen(p);
        char *num_end;
        double v = eq && eq < end ? strtod(eq + 1, &num_end) : NAN;
        size_t i = 0;
        for (; eq && i < m->n; i++)
            if (strlen(m->route[i]) == (size_t)(eq - p) &&
                !strncmp(m->route[i], p, (size_t)(eq - p)))
                break;
        if (!eq || eq > end || !(v >= 0) || num_end != end || i == m->n)
            return rr_err(err, RR_EINVAL,
                          "--cost: expected ROUTE=USD for a mapped route, got "
                          "'%.*s'",
                          (int)(end - p), p);
        for (size_t j = 0; j < m->n; j++)
            if (!strcmp(m->route[j], m->route[i]))
                m->cost_usd[j] = v;
        p = *end ? end + 1 : end;
    }
    return RR_OK;
}

void rr_import_map_free(rr_import_map *m, const rr_alloc *a) {
    for (size_t i = 0; i < m->n; i++) {
        rr_free(a, m->model[i]);
        rr_free(a, m->route[i]);
    }
    m->n = 0;
}

/* Match a --map model name to a column: exactly, by the part after the last '/', or as
 * the one column it is a case-insensitive prefix of ("gpt-4" for "gpt-4-1106-preview"). */
static int match_column(const char *model, const char *const *cols, size_t ncols) {
    for (size_t i = 0; i < ncols; i++)
        if (!strcmp(cols[i], model))
            return (int)i;
    for (size_t i = 0; i < ncols; i++) {
        const char *base = strrchr(cols[i], '/');
        if (base && !strcasecmp(base + 1, model))
            return (int)i;
    }
    int found = -1;
    size_t ml = strlen(model);
    for (size_t i = 0; i < ncols; i++) {
        const char *base = strrchr(cols[i], '/');
        base = base ? base + 1 : cols[i];
        if (!strncasecmp(cols[i], model, ml) || !strncasecmp(base, model, ml)) {
            if (found >= 0)
                return -2;
            found = (int)i;
        }
    }
    return found;
}

/* ---- conversion ---------------------------------------------------------------------- */

typedef struct imp {
    int format;
    const rr_import_map *m;
    const char *name;
    uint32_t flags;
    int prompt, id, task; /* column indexes, -1 when absent */
    int score[32], cost[32], response[32];
    rr_buf line;
} imp;

static bool is_meta(const char *h) {
    static const char *meta[] = {"prompt", "sample_id",   "eval_name", "oracle_model_to_route_to",
                                 "id",     "question_id", ""};
    for (size_t i = 0; i < RR_ARRAY_LEN(meta); i++)
        if (!strcmp(h, meta[i]))
            return true;
    return false;
}

static int read_header(imp *x, rr_csv *c, const rr_alloc *a, rr_error *err) {
    int rc = rr_csv_next(c, err);
    if (rc <= 0)
        return rc < 0 ? rc : rr_err(err, RR_EDATA, "%s: empty file (no header)", x->name);
    const char **cols = rr_calloc(a, c->nf + 1, sizeof *cols),
               **models = rr_calloc(a, c->nf + 1, sizeof *models);
    int *model_col = rr_calloc(a, c->nf + 1, sizeof *model_col);
    if (!cols || !models || !model_col) {
        rr_free(a, cols), rr_free(a, models), rr_free(a, model_col);
        return rr_err(err, RR_ENOMEM, "out of memory");
    }
    size_t nm = 0;
    x->prompt = x->id = x->task = -1;
    for (size_t i = 0; i < c->nf; i++) {
        cols[i] = rr_csv_field(c, i, NULL);
        if (!strcmp(cols[i], "prompt"))
            x->prompt = (int)i;
        else if (!strcmp(cols[i], "sample_id"))
            x->id = (int)i;
        else if (!strcmp(cols[i], "eval_name"))
            x->task = (int)i;
        else if (!strchr(cols[i], '|') && !is_meta(cols[i]))
            model_col[nm] = (int)i, models[nm++] = cols[i];
    }
    rc = RR_OK;
    if (x->prompt < 0)
        rc = rr_err(err, RR_EDATA, "%s: line 1: no 'prompt' column", x->name);
    for (size_t k = 0; k < x->m->n && rc == RR_OK; k++) {
        int j = match_column(x->m->model[k], models, nm);
        if (j < 0) {
            char list[600] = "";
            for (size_t i = 0; i < nm; i++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", models[i]);
            }
            rc = rr_err(err, RR_EDATA, "%s: --map model '%s' %s (model columns: %s)", x->name,
                        x->m->model[k], j == -2 ? "matches several columns" : "matches no column",
                        list);
            break;
        }
        x->score[k] = model_col[j];
        x->cost[k] = x->response[k] = -1;
        char want[300];
        for (size_t i = 0; i < c->nf; i++) {
            snprintf(want, sizeof want, "%s|total_cost", models[j]);
            if (!strcmp(cols[i], want))
                x->cost[k] = (int)i;
            snprintf(want, sizeof want, "%s|model_response", models[j]);
            if (!strcmp(cols[i], want))
                x->response[k] = (int)i;
        }
    }
    rr_free(a, cols), rr_free(a, models), rr_free(a, model_col);
    return rc;
}

/* "True"/"False", or a number in [0, 1]. */
static bool parse_score(const char *s, double *out) {
    if (!strcasecmp(s, "true"))
        return *out = 1, true;
    if (!strcasecmp(s, "false"))
        return *out = 0, true;
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ')
        end++;
    if (end == s || *end || !(v >= 0 && v <= 1))
        return false;
    return *out = v, true;
}

static int emit(imp *x, rr_csv *c, uint64_t row, FILE *out, rr_error *err) {
    rr_buf *b = &x->line;
    rr_buf_clear(b);
    size_t plen, ilen, tlen;
    const char *prompt = rr_csv_field(c, (size_t)x->prompt, &plen);
    if (!prompt)
        return rr_err(err, RR_EDATA, "%s: line %llu: %zu fields, the header has more", x->name,
                      (unsigned long long)c->line, c->nf);
    if (rr_utf8_check(prompt, plen) != plen)
        return rr_err(err, RR_EDATA, "%s: line %llu: the prompt is not valid UTF-8", x->name,
                      (unsigned long long)c->line);
    const char *id = x->id >= 0 ? rr_csv_field(c, (size_t)x->id, &ilen) : NULL;
    const char *task = x->task >= 0 ? rr_csv_field(c, (size_t)x->task, &tlen) : NULL;
    rr_buf_puts(b, "{\"id\":");
    if (id && ilen && rr_utf8_check(id, ilen) == ilen) {
        rr_buf_json_str(b, id, ilen);
    } else {
        char tmp[300];
        int n = snprintf(tmp, sizeof tmp, "%s:%llu", x->name, (unsigned long long)row);
        rr_buf_json_str(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
    }
    rr_buf_puts(b, ",\"text\":");
    rr_buf_json_str(b, prompt, plen);
    rr_buf_puts(b, ",\"labels\":{\"task\":");
    if (task && tlen && rr_utf8_check(task, tlen) == tlen)
        rr_buf_json_str(b, task, tlen);
    else
        rr_buf_json_str(b, x->name, strlen(x->name));
    rr_buf_puts(b, "},\"outcomes\":{");
    for (size_t k = 0; k < x->m->n; k++) {
        const char *s = rr_csv_field(c, (size_t)x->score[k], NULL);
        double q, cost = x->m->cost_usd[k];
        if (!s || !parse_score(s, &q))
            return rr_err(err, RR_EDATA,
                          "%s: line %llu: column %d ('%s'): expected True, False "
                          "or a score in [0, 1], got '%.40s'",
                          x->name, (unsigned long long)c->line, x->score[k] + 1, x->m->model[k],
                          s ? s : "(missing)");
        rr_buf_puts(b, k ? "," : "");
        rr_buf_json_str(b, x->m->route[k], strlen(x->m->route[k]));
        rr_buf_puts(b, ":{\"quality\":");
        rr_buf_json_num(b, q);
        if (x->cost[k] >= 0) {
            const char *cs = rr_csv_field(c, (size_t)x->cost[k], NULL);
            char *end;
            cost = cs ? strtod(cs, &end) : NAN;
            if (!cs || end == cs || *end || !(cost >= 0))
                return rr_err(err, RR_EDATA, "%s: line %llu: %s|total_cost is not a cost", x->name,
                              (unsigned long long)c->line, x->m->model[k]);
        }
        if (!isnan(cost)) {
            rr_buf_puts(b, ",\"cost_usd\":");
            rr_buf_json_num(b, cost);
        }
        size_t rl;
        const char *resp =
            x->response[k] >= 0 ? rr_csv_field(c, (size_t)x->response[k], &rl) : NULL;
        if ((x->flags & RR_IMPORT_WITH_OUTPUTS) && resp && rr_utf8_check(resp, rl) == rl) {
            rr_buf_puts(b, ",\"output\":");
            rr_buf_json_str(b, resp, rl);
        }
        rr_buf_putc(b, '}');
    }
    rr_buf_puts(b, "}}\n");
    if (b->oom)
        return rr_err(err, RR_ENOMEM, "out of memory");
    if (fwrite(b->p, 1, b->len, out) != b->len)
        return rr_err(err, RR_EIO, "write error");
    return RR_OK;
}

long rr_eval_import(int format, FILE *in, const char *name, const rr_import_map *m, uint32_t flags,
                    FILE *out, const rr_alloc *a, rr_error *err) {
    if (format != RR_IMPORT_ROUTELLM && format != RR_IMPORT_ROUTERBENCH)
        return rr_err(err, RR_EINVAL, "import: unknown format");
    imp x = {.format = format, .m = m, .name = name, .flags = flags};
    rr_buf_init(&x.line, a);
    rr_csv c;
    rr_csv_init(&c, in, a);
    int rc = read_header(&x, &c, a, err);
    long n = 0;
    while (rc == RR_OK) {
        int r = rr_csv_next(&c, err);
        if (r < 0)
            rc = r;
        if (r <= 0)
            break;
        size_t l0;
        if (c.nf == 1 && (rr_csv_field(&c, 0, &l0), l0 == 0))
            continue; /* a blank line */
        rc = emit(&x, &c, (uint64_t)n + 1, out, err);
        n++;
    }
    rr_csv_free(&c);
    rr_buf_free(&x.line);
    return rc == RR_OK ? n : rc;
}
