/* Verdicts: the findings of every validator that looked at one output, readable field by
 * field or as one JSON record. Strings of findings live in one pool so a cleared verdict
 * is refilled without allocating. */
#include "verdict.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_MAX_FINDINGS 100

void rr_verdict_init(struct rr_verdict *v, const rr_alloc *a) {
    memset(v, 0, sizeof *v);
    v->a = *a;
    v->passed = 1;
    v->failure = "";
    v->max_findings = DEFAULT_MAX_FINDINGS;
    rr_buf_init(&v->pool, &v->a);
    rr_buf_init(&v->json, &v->a);
    rr_buf_init(&v->tmp, &v->a);
}

void rr_verdict_release(struct rr_verdict *v) {
    rr_free(&v->a, v->findings);
    rr_free(&v->a, v->words);
    rr_buf_free(&v->pool);
    rr_buf_free(&v->json);
    rr_buf_free(&v->tmp);
    if (v->match_data)
        pcre2_match_data_free(v->match_data);
    v->findings = NULL;
    v->words = NULL;
    v->match_data = NULL;
    v->capfindings = v->nfindings = v->words_cap = v->words_top = 0;
}

void rr_verdict_clear(struct rr_verdict *v) {
    v->passed = 1;
    v->failure = "";
    v->nfindings = 0;
    v->dropped_findings = 0;
    rr_buf_clear(&v->pool);
    v->nscores = 0;
    v->nran = 0;
    v->ns = 0;
    v->json_valid = false;
    v->words_top = 0;
}

void rr_verdict_fail(struct rr_verdict *v, const char *failure) {
    if (v->passed || !v->failure[0])
        v->failure = failure ? failure : "";
    v->passed = 0;
    v->json_valid = false;
}

/* Append `n` bytes and a NUL to the pool; the offset of the copy goes to *off. */
static bool pool_put(struct rr_verdict *v, const char *s, size_t n, uint32_t *off, uint32_t *len) {
    if (!s) {
        s = "";
        n = 0;
    }
    if (v->pool.len + n + 1 > UINT32_MAX)
        return false;
    *off = (uint32_t)v->pool.len;
    *len = (uint32_t)n;
    rr_buf_put(&v->pool, s, n);
    rr_buf_putc(&v->pool, 0);
    return !v->pool.oom;
}

static bool grow_findings(struct rr_verdict *v) {
    size_t cap = v->capfindings ? v->capfindings * 2 : 8;
    rr_finding *f = rr_realloc(&v->a, v->findings, v->capfindings * sizeof *f, cap * sizeof *f);
    if (!f)
        return false;
    v->findings = f;
    v->capfindings = cap;
    return true;
}

int rr_verdict_add_raw(struct rr_verdict *v, const char *validator, const char *code,
                       const char *keyword, const char *instance_loc, size_t inst_len,
                       const char *keyword_loc, size_t kw_len, int64_t span_start, int64_t span_end,
                       char *msg, size_t mlen) {
    v->json_valid = false;
    if (v->nfindings >= v->max_findings) {
        v->dropped_findings++;
        return RR_OK;
    }
    if (v->nfindings == v->capfindings && !grow_findings(v))
        return RR_ENOMEM;
    rr_finding *f = &v->findings[v->nfindings];
    f->code = code ? code : "";
    f->validator = validator ? validator : "";
    f->keyword = keyword ? keyword : "";
    f->span_start = span_start;
    f->span_end = span_end;
    /* Messages quote values, possibly cut short: keep the JSON record valid UTF-8. */
    for (size_t at = 0; (at += rr_utf8_check(msg + at, mlen - at)) < mlen; at++)
        msg[at] = '?';
    size_t mark = v->pool.len;
    bool ok = pool_put(v, instance_loc, instance_loc ? inst_len : 0, &f->inst_off, &f->inst_len) &&
              pool_put(v, keyword_loc, keyword_loc ? kw_len : 0, &f->kw_off, &f->kw_len) &&
              pool_put(v, msg, mlen, &f->msg_off, &f->msg_len);
    if (!ok) {
        v->pool.oom = false;
        v->pool.len = mark;
        if (v->pool.p)
            v->pool.p[mark] = 0;
        return RR_ENOMEM;
    }
    v->nfindings++;
    return RR_OK;
}

int rr_verdict_add(struct rr_verdict *v, const char *validator, const char *code,
                   const char *keyword, const char *instance_loc, size_t inst_len,
                   const char *keyword_loc, size_t kw_len, int64_t span_start, int64_t span_end,
                   const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t mlen = n < 0 ? 0 : ((size_t)n >= sizeof msg ? sizeof msg - 1 : (size_t)n);
    return rr_verdict_add_raw(v, validator, code, keyword, instance_loc, inst_len, keyword_loc,
                              kw_len, span_start, span_end, msg, mlen);
}

void rr_verdict_set_score(struct rr_verdict *v, const char *name, double value) {
    v->json_valid = false;
    for (size_t i = 0; i < v->nscores; i++) {
        if (strcmp(v->scores[i].name, name) == 0) {
            v->scores[i].value = value;
            return;
        }
    }
    if (v->nscores < RR_VERDICT_MAX_SCORES) {
        v->scores[v->nscores].name = name;
        v->scores[v->nscores].value = value;
        v->nscores++;
    }
}

void rr_verdict_ran(struct rr_verdict *v, const char *name, const char *version, const char *type,
                    int passed, uint64_t ns) {
    v->json_valid = false;
    v->ns += ns;
    if (v->nran >= RR_VERDICT_MAX_VALIDATORS)
        return;
    v->ran[v->nran].name = name ? name : "";
    v->ran[v->nran].version = version ? version : "";
    v->ran[v->nran].type = type ? type : "";
    v->ran[v->nran].passed = passed;
    v->ran[v->nran].ns = ns;
    v->nran++;
}

bool rr_verdict_words_reserve(struct rr_verdict *v, size_t n) {
    if (v->words_top + n <= v->words_cap)
        return true;
    size_t cap = v->words_cap ? v->words_cap : 64;
    while (cap < v->words_top + n) {
        if (cap > SIZE_MAX / 16)
            return false;
        cap *= 2;
    }
    uint64_t *w = rr_realloc(&v->a, v->words, v->words_cap * sizeof *w, cap * sizeof *w);
    if (!w)
        return false;
    v->words = w;
    v->words_cap = cap;
    return true;
}

static void *md_malloc(size_t n, void *ud) {
    return rr_malloc(ud, n);
}
static void md_free(void *p, void *ud) {
    rr_free(ud, p);
}

void *rr_verdict_match_data(struct rr_verdict *v) {
    if (v->match_data)
        return v->match_data;
    pcre2_general_context *g = pcre2_general_context_create(md_malloc, md_free, &v->a);
    if (!g)
        return NULL;
    /* One pair is enough: validators only ask whether a pattern matches. */
    v->match_data = pcre2_match_data_create(1, g);
    pcre2_general_context_free(g);
    return v->match_data;
}

/* --- Public API --- */

int rr_verdict_new(rr_verdict **out, const rr_allocator *allocator) {
    if (!out)
        return RR_EINVAL;
    rr_alloc a;
    rr_alloc_init(&a, allocator);
    rr_verdict *v = rr_malloc(&a, sizeof *v);
    if (!v)
        return RR_ENOMEM;
    rr_verdict_init(v, &a);
    *out = v;
    return RR_OK;
}

void rr_verdict_free(rr_verdict *v) {
    if (!v)
        return;
    rr_alloc a = v->a;
    rr_verdict_release(v);
    rr_free(&a, v);
}

void rr_verdict_reset(rr_verdict *v) {
    if (v)
        rr_verdict_clear(v);
}

int rr_verdict_passed(const rr_verdict *v) {
    return v ? v->passed : 0;
}

const char *rr_verdict_failure(const rr_verdict *v) {
    return v ? v->failure : "";
}

size_t rr_verdict_finding_count(const rr_verdict *v) {
    return v ? v->nfindings : 0;
}

size_t rr_verdict_dropped_findings(const rr_verdict *v) {
    return v ? v->dropped_findings : 0;
}

static const rr_finding *finding(const rr_verdict *v, size_t i) {
    return v && i < v->nfindings ? &v->findings[i] : NULL;
}

const char *rr_verdict_finding_code(const rr_verdict *v, size_t i) {
    const rr_finding *f = finding(v, i);
    return f ? f->code : NULL;
}

const char *rr_verdict_finding_validator(const rr_verdict *v, size_t i) {
    const rr_finding *f = finding(v, i);
    return f ? f->validator : NULL;
}

const char *rr_verdict_finding_keyword(const rr_verdict *v, size_t i) {
    const rr_finding *f = finding(v, i);
    return f ? f->keyword : NULL;
}

const char *rr_verdict_finding_instance_location(const rr_verdict *v, size_t i) {
    const rr_finding *f = finding(v, i);
    return f ? v->pool.p + f->inst_off : NULL;
}

const char *rr_verdict_finding_keyword_location(const rr_verdict *v, size_t i) {
    const rr_finding *f = finding(v, i);
    return f ? v->pool.p + f->kw_off : NULL;
}

const char *rr_verdict_finding_message(const rr_verdict *v, size_t i) {
    const rr_finding *f = finding(v, i);
    return f ? v->pool.p + f->msg_off : NULL;
}

int64_t rr_verdict_finding_span_start(const rr_verdict *v, size_t i) {
    const rr_finding *f = finding(v, i);
    return f ? f->span_start : -1;
}

int64_t rr_verdict_finding_span_end(const rr_verdict *v, size_t i) {
    const rr_finding *f = finding(v, i);
    return f ? f->span_end : -1;
}

double rr_verdict_score(const rr_verdict *v, const char *name) {
    if (v && name) {
        for (size_t i = 0; i < v->nscores; i++)
            if (strcmp(v->scores[i].name, name) == 0)
                return v->scores[i].value;
    }
    return NAN;
}

uint64_t rr_verdict_ns(const rr_verdict *v) {
    return v ? v->ns : 0;
}

static void json_key(rr_buf *b, const char *k) {
    rr_buf_json_str(b, k, strlen(k));
    rr_buf_putc(b, ':');
}

static void json_finding(rr_buf *b, const rr_verdict *v, const rr_finding *f) {
    rr_buf_puts(b, "{\"code\":");
    rr_buf_json_str(b, f->code, strlen(f->code));
    rr_buf_puts(b, ",\"validator\":");
    rr_buf_json_str(b, f->validator, strlen(f->validator));
    rr_buf_puts(b, ",\"keyword\":");
    rr_buf_json_str(b, f->keyword, strlen(f->keyword));
    rr_buf_puts(b, ",\"instanceLocation\":");
    rr_buf_json_str(b, v->pool.p + f->inst_off, f->inst_len);
    rr_buf_puts(b, ",\"keywordLocation\":");
    rr_buf_json_str(b, v->pool.p + f->kw_off, f->kw_len);
    rr_buf_puts(b, ",\"message\":");
    rr_buf_json_str(b, v->pool.p + f->msg_off, f->msg_len);
    if (f->span_start >= 0)
        rr_buf_printf(b, ",\"span\":[%lld,%lld]", (long long)f->span_start, (long long)f->span_end);
    else
        rr_buf_puts(b, ",\"span\":null");
    rr_buf_putc(b, '}');
}

static void json_validators(rr_buf *b, const rr_verdict *v) {
    rr_buf_puts(b, ",\"validators\":[");
    for (size_t i = 0; i < v->nran; i++) {
        if (i)
            rr_buf_putc(b, ',');
        rr_buf_puts(b, "{\"name\":");
        rr_buf_json_str(b, v->ran[i].name, strlen(v->ran[i].name));
        rr_buf_puts(b, ",\"type\":");
        rr_buf_json_str(b, v->ran[i].type, strlen(v->ran[i].type));
        rr_buf_puts(b, ",\"version\":");
        rr_buf_json_str(b, v->ran[i].version, strlen(v->ran[i].version));
        rr_buf_printf(b, ",\"passed\":%s,\"ns\":%llu}", v->ran[i].passed ? "true" : "false",
                      (unsigned long long)v->ran[i].ns);
    }
    rr_buf_putc(b, ']');
}

const char *rr_verdict_json(rr_verdict *v, size_t *len) {
    if (!v)
        return NULL;
    if (!v->json_valid) {
        rr_buf *b = &v->json;
        rr_buf_clear(b);
        rr_buf_printf(b, "{\"passed\":%s,\"failure\":", v->passed ? "true" : "false");
        rr_buf_json_str(b, v->failure, strlen(v->failure));
        rr_buf_puts(b, ",\"findings\":[");
        for (size_t i = 0; i < v->nfindings; i++) {
            if (i)
                rr_buf_putc(b, ',');
            json_finding(b, v, &v->findings[i]);
        }
        rr_buf_printf(b, "],\"findings_dropped\":%zu,\"scores\":{", v->dropped_findings);
        for (size_t i = 0; i < v->nscores; i++) {
            if (i)
                rr_buf_putc(b, ',');
            json_key(b, v->scores[i].name);
            rr_buf_json_num(b, v->scores[i].value);
        }
        rr_buf_putc(b, '}');
        json_validators(b, v);
        rr_buf_printf(b, ",\"ns\":%llu}", (unsigned long long)v->ns);
        if (b->oom)
            return NULL;
        v->json_valid = true;
    }
    if (len)
        *len = v->json.len;
    return v->json.p;
}
