/* The policy compiler: JSON document -> immutable rr_router.
 *
 * Every rejection names the JSON pointer of the offending value (and its line/column in the
 * document, and the column inside an expression). Parsing happens in dependency order:
 * models, thresholds, patterns, attributes, validators, routes, limits, eligibility, task
 * rules, routing rules; then whole-policy checks (cycles, contract changes, reachability,
 * worst-case ladders) and the fingerprint. */
#include "classify.h"
#include "conf.h"
#include "router.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

typedef struct pc {
    rr_router *r;
    const char *text;
    size_t len;
    rr_error *err;
    rr_buf warn; /* JSON array body of warnings */
    int stage;   /* STAGE_* while compiling expressions (what identifiers may be used) */
    uint8_t *used_slot;
    uint8_t *route_reached;
} pc;

enum { STAGE_ELIG, STAGE_TASK, STAGE_RULE };

static int fail(pc *c, int code, const char *ptr, uint32_t expr_col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(pc *c, int code, const char *ptr, uint32_t expr_col, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    uint32_t line = 0, col = 0;
    rr_json_locate(c->text, c->len, ptr, &line, &col);
    if (expr_col)
        return rr_err_at(c->err, code, ptr, line, col, expr_col, "%s (column %u)", msg,
                         (unsigned)expr_col);
    return rr_err_at(c->err, code, ptr, line, col, 0, "%s", msg);
}

static void warn(pc *c, const char *ptr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn(pc *c, const char *ptr, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->warn.len)
        rr_buf_putc(&c->warn, ',');
    rr_buf_puts(&c->warn, "{\"pointer\":");
    rr_buf_json_str(&c->warn, ptr, strlen(ptr));
    rr_buf_puts(&c->warn, ",\"message\":");
    rr_buf_json_str(&c->warn, msg, strlen(msg));
    rr_buf_putc(&c->warn, '}');
}

/* Append an RFC 6901 token to a pointer held in a fixed buffer. */
static void ptr_join(char *out, size_t cap, const char *base, const char *tok) {
    char b[256]; /* base may alias out */
    snprintf(b, sizeof b, "%s", base);
    size_t n = (size_t)snprintf(out, cap, "%s/", b);
    if (n >= cap)
        n = cap - 1;
    for (const char *s = tok; *s && n + 3 < cap; s++) {
        if (*s == '~') {
            out[n++] = '~';
            out[n++] = '0';
        } else if (*s == '/') {
            out[n++] = '~';
            out[n++] = '1';
        } else {
            out[n++] = *s;
        }
    }
    out[n < cap ? n : cap - 1] = 0;
}

static void ptr_index(char *out, size_t cap, const char *base, size_t i) {
    char b[256];
    snprintf(b, sizeof b, "%s", base);
    snprintf(out, cap, "%s/%zu", b, i);
}

#define PTR_MAX 256

#define TRY(x)                                                                             \
    do {                                                                                   \
        int rc_ = (x);                                                                     \
        if (rc_ != RR_OK)                                                                  \
            return rc_;                                                                    \
    } while (0)

static int check_keys(pc *c, json_t *obj, const char *ptr, const char *const *allowed) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (!strcmp(key, allowed[i]))
                ok = true;
        if (!ok) {
            char p[PTR_MAX];
            ptr_join(p, sizeof p, ptr, key);
            char hint[200] = "";
            size_t n = 0;
            for (size_t i = 0; allowed[i] && n < sizeof hint - 2; i++)
                n += (size_t)snprintf(hint + n, sizeof hint - n, "%s%s", i ? ", " : "",
                                      allowed[i]);
            return fail(c, RR_EPOLICY, p, 0, "unknown key '%s' (allowed: %s)", key, hint);
        }
    }
    return RR_OK;
}

/* Typed getters: missing optional keys return RR_OK with the default left in place. */

/* Look up `key` and check its JSON type with `is` (named `what` in the message). Sets *v to
 * NULL when the key is absent; `p` receives the value's pointer. */
static int lookup(pc *c, json_t *parent, const char *ptr, const char *key, bool required,
                  int (*is)(const json_t *), const char *what, json_t **v, char p[PTR_MAX]) {
    *v = json_object_get(parent, key);
    ptr_join(p, PTR_MAX, ptr, key);
    if (!*v)
        return required ? fail(c, RR_EPOLICY, ptr[0] ? ptr : "", 0,
                               "missing required key '%s'", key)
                        : RR_OK;
    if (!is(*v))
        return fail(c, RR_EPOLICY, p, 0, "'%s' must be %s, found %s", key, what,
                    rr_json_type_name(*v));
    return RR_OK;
}

static int is_object(const json_t *v) {
    return json_is_object(v);
}
static int is_array(const json_t *v) {
    return json_is_array(v);
}
static int is_string(const json_t *v) {
    return json_is_string(v);
}
static int is_number(const json_t *v) {
    return json_is_number(v);
}
static int is_integer(const json_t *v) {
    return json_is_integer(v);
}

static int get_obj(pc *c, json_t *parent, const char *ptr, const char *key, bool required,
                   json_t **out) {
    char p[PTR_MAX];
    return lookup(c, parent, ptr, key, required, is_object, "an object", out, p);
}

static int get_arr(pc *c, json_t *parent, const char *ptr, const char *key, bool required,
                   json_t **out) {
    char p[PTR_MAX];
    return lookup(c, parent, ptr, key, required, is_array, "an array", out, p);
}

static int get_str(pc *c, json_t *parent, const char *ptr, const char *key, bool required,
                   const char **out) {
    char p[PTR_MAX];
    json_t *v;
    TRY(lookup(c, parent, ptr, key, required, is_string, "a string", &v, p));
    if (v)
        *out = json_string_value(v);
    return RR_OK;
}

static int get_num(pc *c, json_t *parent, const char *ptr, const char *key, bool required,
                   double min, double *out) {
    char p[PTR_MAX];
    json_t *v;
    TRY(lookup(c, parent, ptr, key, required, is_number, "a number", &v, p));
    if (!v)
        return RR_OK;
    double d = json_number_value(v);
    if (!(d >= min))
        return fail(c, RR_EPOLICY, p, 0, "'%s' must be >= %g, found %g", key, min, d);
    *out = d;
    return RR_OK;
}

static int get_int(pc *c, json_t *parent, const char *ptr, const char *key, bool required,
                   int64_t min, int64_t max, int64_t *out) {
    char p[PTR_MAX];
    json_t *v;
    TRY(lookup(c, parent, ptr, key, required, is_integer, "an integer", &v, p));
    if (!v)
        return RR_OK;
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return fail(c, RR_EPOLICY, p, 0, "'%s' must be in %lld..%lld, found %lld", key,
                    (long long)min, (long long)max, (long long)i);
    *out = i;
    return RR_OK;
}

static int dup(pc *c, char **dst, const char *s) {
    *dst = rr_strdup(&c->r->a, s ? s : "");
    return *dst ? RR_OK : rr_err(c->err, RR_ENOMEM, "out of memory");
}

static void *alloc_array(pc *c, size_t n, size_t size) {
    void *p = rr_calloc(&c->r->a, n ? n : 1, size);
    if (!p)
        rr_err(c->err, RR_ENOMEM, "out of memory");
    return p;
}


/* ---------------------------------------------------------------------------------------
 * Slots: every identifier an expression can read.
 * ------------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    rr_type type;
} fixed_slots[RR_SLOT__FIXED] = {
    [RR_SLOT_TEXT_BYTES] = {"text.bytes", RR_T_NUM},
    [RR_SLOT_TEXT_CHARS] = {"text.chars", RR_T_NUM},
    [RR_SLOT_TEXT_WORDS] = {"text.words", RR_T_NUM},
    [RR_SLOT_TEXT_TOKENS] = {"text.tokens", RR_T_NUM},
    [RR_SLOT_TEXT_NUMBERS] = {"text.numbers", RR_T_NUM},
    [RR_SLOT_TEXT_QUESTIONS] = {"text.questions", RR_T_NUM},
    [RR_SLOT_TEXT_ENTITIES] = {"text.entities", RR_T_NUM},
    [RR_SLOT_TEXT_LINES] = {"text.lines", RR_T_NUM},
    [RR_SLOT_PII_ANY] = {"pii.any", RR_T_BOOL},
    [RR_SLOT_PII_COUNT] = {"pii.count", RR_T_NUM},
    [RR_SLOT_PII_FIRST + RR_PII_EMAIL] = {"pii.email", RR_T_BOOL},
    [RR_SLOT_PII_FIRST + RR_PII_PHONE] = {"pii.phone", RR_T_BOOL},
    [RR_SLOT_PII_FIRST + RR_PII_CARD] = {"pii.card", RR_T_BOOL},
    [RR_SLOT_PII_FIRST + RR_PII_IBAN] = {"pii.iban", RR_T_BOOL},
    [RR_SLOT_PII_FIRST + RR_PII_SSN] = {"pii.ssn", RR_T_BOOL},
    [RR_SLOT_PII_FIRST + RR_PII_IPV4] = {"pii.ipv4", RR_T_BOOL},
    [RR_SLOT_PII_FIRST + RR_PII_IPV6] = {"pii.ipv6", RR_T_BOOL},
    [RR_SLOT_RETR_K] = {"retrieval.k", RR_T_NUM},
    [RR_SLOT_RETR_TOP1] = {"retrieval.top1", RR_T_NUM},
    [RR_SLOT_RETR_MARGIN] = {"retrieval.margin", RR_T_NUM},
    [RR_SLOT_RETR_MEAN] = {"retrieval.mean", RR_T_NUM},
    [RR_SLOT_RETR_COVERAGE] = {"retrieval.coverage", RR_T_NUM},
    [RR_SLOT_EVIDENCE_ANY] = {"evidence.any", RR_T_BOOL},
    [RR_SLOT_CONVERSATION] = {"conversation.present", RR_T_BOOL},
    [RR_SLOT_TASK] = {"task", RR_T_STR},
};

static int add_slot(pc *c, const char *prefix, const char *name, rr_type t, int thr_index,
                    int *slot) {
    rr_router *r = c->r;
    size_t n = r->nslots;
    char full[PTR_MAX];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(r->slot_names[i], full))
            return rr_err(c->err, RR_EPOLICY, "identifier '%s' defined twice", full);
    char **names = rr_realloc(&r->a, r->slot_names, n * sizeof *names, (n + 1) * sizeof *names);
    if (!names)
        return rr_err(c->err, RR_ENOMEM, "out of memory");
    r->slot_names = names;
    rr_type *types = rr_realloc(&r->a, r->slot_types, n * sizeof *types, (n + 1) * sizeof *types);
    if (!types)
        return rr_err(c->err, RR_ENOMEM, "out of memory");
    r->slot_types = types;
    int *thr = rr_realloc(&r->a, r->slot_threshold, n * sizeof *thr, (n + 1) * sizeof *thr);
    if (!thr)
        return rr_err(c->err, RR_ENOMEM, "out of memory");
    r->slot_threshold = thr;
    names[n] = rr_strdup(&r->a, full);
    if (!names[n])
        return rr_err(c->err, RR_ENOMEM, "out of memory");
    types[n] = t;
    thr[n] = thr_index;
    r->nslots = n + 1;
    if (slot)
        *slot = (int)n;
    return RR_OK;
}

static int resolve(void *ud, const char *name, size_t len, int *slot, rr_type *type) {
    pc *c = ud;
    rr_router *r = c->r;
    for (size_t i = 0; i < r->nslots; i++) {
        if (strlen(r->slot_names[i]) == len && !memcmp(r->slot_names[i], name, len)) {
            /* The task is only known after the task stage. */
            if (i == RR_SLOT_TASK && c->stage != STAGE_RULE)
                return -1;
            *slot = (int)i;
            *type = r->slot_types[i];
            c->used_slot[i] = 1;
            return 0;
        }
    }
    return -1;
}

static int compile_when(pc *c, json_t *obj, const char *ptr, rr_expr **out) {
    const char *src = NULL;
    TRY(get_str(c, obj, ptr, "when", true, &src));
    char p[PTR_MAX];
    ptr_join(p, sizeof p, ptr, "when");
    rr_expr_diag d;
    memset(&d, 0, sizeof d);
    int rc = rr_expr_compile(&c->r->a, src, resolve, c, out, &d);
    if (rc == RR_ENOMEM)
        return rr_err(c->err, RR_ENOMEM, "out of memory");
    if (rc != RR_OK) {
        if (c->stage != STAGE_RULE && strstr(d.message, "'task'"))
            return fail(c, RR_EEXPR, p, d.column,
                        "%s: 'task' is only known to routing rules (eligibility and task "
                        "rules run before the task stage)",
                        d.message);
        return fail(c, RR_EEXPR, p, d.column, "%s", d.message[0] ? d.message : "invalid expression");
    }
    return RR_OK;
}

/* ---------------------------------------------------------------------------------------
 * Sections
 * ------------------------------------------------------------------------------------- */

static int find_name(char **names, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return (int)i;
    return -1;
}

static int model_index(const rr_router *r, const char *id) {
    for (size_t i = 0; i < r->nmodels; i++)
        if (!strcmp(r->models[i].id, id))
            return (int)i;
    return -1;
}

static int route_index(const rr_router *r, const char *id) {
    for (size_t i = 0; i < r->nroutes; i++)
        if (!strcmp(r->routes[i].id, id))
            return (int)i;
    return -1;
}

static int parse_models(pc *c, json_t *models) {
    rr_router *r = c->r;
    if (json_object_size(models) == 0)
        return fail(c, RR_EPOLICY, "/models", 0, "at least one model is required");
    r->models = alloc_array(c, json_object_size(models), sizeof *r->models);
    if (!r->models)
        return RR_ENOMEM;
    static const char *const keys[] = {"tier", "usd_per_mtok_in", "usd_per_mtok_out",
                                       "latency_ms", "description", NULL};
    const char *id;
    json_t *m;
    json_object_foreach(models, id, m) {
        char p[PTR_MAX];
        ptr_join(p, sizeof p, "/models", id);
        if (!json_is_object(m))
            return fail(c, RR_EPOLICY, p, 0, "a model must be an object, found %s",
                        rr_json_type_name(m));
        TRY(check_keys(c, m, p, keys));
        rr_model_def *d = &r->models[r->nmodels++];
        TRY(dup(c, &d->id, id));
        int64_t tier = 1;
        TRY(get_int(c, m, p, "tier", true, 1, 100, &tier));
        d->tier = (int)tier;
        TRY(get_num(c, m, p, "usd_per_mtok_in", true, 0, &d->usd_in));
        TRY(get_num(c, m, p, "usd_per_mtok_out", true, 0, &d->usd_out));
        d->latency_ms = 1000;
        TRY(get_num(c, m, p, "latency_ms", false, 0, &d->latency_ms));
    }
    return RR_OK;
}

static int parse_thresholds(pc *c, json_t *thr) {
    rr_router *r = c->r;
    r->thresholds = alloc_array(c, json_object_size(thr), sizeof *r->thresholds);
    if (!r->thresholds)
        return RR_ENOMEM;
    const char *name;
    json_t *v;
    json_object_foreach(thr, name, v) {
        char p[PTR_MAX];
        ptr_join(p, sizeof p, "/thresholds", name);
        if (!json_is_number(v))
            return fail(c, RR_EPOLICY, p, 0, "a threshold must be a number, found %s",
                        rr_json_type_name(v));
        rr_threshold_def *d = &r->thresholds[r->nthresholds++];
        TRY(dup(c, &d->name, name));
        d->value = json_number_value(v);
        TRY(add_slot(c, "thr.", name, RR_T_NUM, (int)r->nthresholds - 1, &d->slot));
    }
    return RR_OK;
}

static bool ascii_alnum(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* A pattern that starts "\b" + three letters (not made optional by a quantifier) and has no
 * top-level alternation can only match where a word of the text starts with those letters.
 * The router skips such a pattern when no word does: most patterns, on most requests.
 * (Caseless UTF matching also folds k and s with U+212A and U+017F: the router turns the
 * prefilter off for a text holding either.) \Q..\E, comments and POSIX classes could hide
 * a top-level '|' from the scan below, so patterns with them never qualify. */
static int32_t word_prefix(const char *src) {
    if (strncmp(src, "\\b", 2) || !ascii_alnum(src[2]) || !ascii_alnum(src[3]) ||
        !ascii_alnum(src[4]) || (src[5] && strchr("?*{", src[5])))
        return -1;
    if (strstr(src, "\\Q") || strchr(src, '#') || strstr(src, "[:"))
        return -1;
    int depth = 0;
    bool cls = false;
    for (const char *p = src; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        } else if (cls) {
            cls = *p != ']';
        } else if (*p == '[') {
            cls = true;
            p += p[1] == '^';
            p += p[1] == ']'; /* a ']' first in a class is a literal */
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth--;
        } else if (*p == '|' && depth == 0) {
            return -1;
        }
    }
    unsigned l[3];
    for (int i = 0; i < 3; i++) {
        char ch = src[2 + i];
        l[i] = (unsigned)(unsigned char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
    }
    return rr_prefix_bit(l[0], l[1], l[2]);
}

static int parse_patterns(pc *c, json_t *pats) {
    rr_router *r = c->r;
    r->patterns = alloc_array(c, json_object_size(pats), sizeof *r->patterns);
    if (!r->patterns)
        return RR_ENOMEM;
    pcre2_compile_context *cctx = pcre2_compile_context_create(r->gctx);
    if (!cctx)
        return rr_err(c->err, RR_ENOMEM, "out of memory");
    int rc = RR_OK;
    const char *name;
    json_t *arr;
    json_object_foreach(pats, name, arr) {
        char p[PTR_MAX];
        ptr_join(p, sizeof p, "/patterns", name);
        if (!json_is_array(arr) || json_array_size(arr) == 0) {
            rc = fail(c, RR_EPOLICY, p, 0, "a pattern set must be a non-empty array of strings");
            break;
        }
        rr_pattern_set *s = &r->patterns[r->npatterns++];
        if ((rc = dup(c, &s->name, name)) != RR_OK)
            break;
        size_t n = json_array_size(arr);
        s->codes = alloc_array(c, n, sizeof *s->codes);
        s->pointers = alloc_array(c, n, sizeof *s->pointers);
        s->prefix = alloc_array(c, n, sizeof *s->prefix);
        if (!s->codes || !s->pointers || !s->prefix) {
            rc = RR_ENOMEM;
            break;
        }
        for (size_t i = 0; i < n && rc == RR_OK; i++) {
            char pi[PTR_MAX];
            ptr_index(pi, sizeof pi, p, i);
            json_t *v = json_array_get(arr, i);
            if (!json_is_string(v)) {
                rc = fail(c, RR_EPOLICY, pi, 0, "a pattern must be a string, found %s",
                          rr_json_type_name(v));
                break;
            }
            int ec;
            PCRE2_SIZE eo;
            /* UTF once per request (checked at set_text), so no per-match UTF check. */
            s->codes[i] = pcre2_compile((PCRE2_SPTR)json_string_value(v), json_string_length(v),
                                        PCRE2_UTF | PCRE2_CASELESS, &ec, &eo, cctx);
            s->n = i + 1;
            if (!s->codes[i]) {
                PCRE2_UCHAR8 msg[200];
                pcre2_get_error_message(ec, msg, sizeof msg);
                rc = fail(c, RR_EREGEX, pi, (uint32_t)eo + 1, "invalid regular expression: %s",
                          (const char *)msg);
                break;
            }
            pcre2_jit_compile(s->codes[i], PCRE2_JIT_COMPLETE); /* falls back to interpreter */
            s->prefix[i] = word_prefix(json_string_value(v));
            if ((rc = dup(c, &s->pointers[i], pi)) != RR_OK)
                break;
        }
        if (rc == RR_OK)
            rc = add_slot(c, "match.", name, RR_T_BOOL, -1, &s->slot);
        if (rc != RR_OK)
            break;
    }
    pcre2_compile_context_free(cctx);
    return rc;
}

static int parse_attributes(pc *c, json_t *attrs) {
    rr_router *r = c->r;
    r->attrs = alloc_array(c, json_object_size(attrs), sizeof *r->attrs);
    if (!r->attrs)
        return RR_ENOMEM;
    static const char *const keys[] = {"type", "default", "description", NULL};
    const char *name;
    json_t *v;
    json_object_foreach(attrs, name, v) {
        char p[PTR_MAX];
        ptr_join(p, sizeof p, "/attributes", name);
        const char *tname = NULL;
        json_t *def = NULL;
        if (json_is_string(v)) {
            tname = json_string_value(v);
        } else if (json_is_object(v)) {
            TRY(check_keys(c, v, p, keys));
            TRY(get_str(c, v, p, "type", true, &tname));
            def = json_object_get(v, "default");
            ptr_join(p, sizeof p, p, "type");
        } else {
            return fail(c, RR_EPOLICY, p, 0,
                        "an attribute is a type name or {\"type\", \"default\"}, found %s",
                        rr_json_type_name(v));
        }
        rr_type t;
        if (!strcmp(tname, "string"))
            t = RR_T_STR;
        else if (!strcmp(tname, "number"))
            t = RR_T_NUM;
        else if (!strcmp(tname, "bool") || !strcmp(tname, "boolean"))
            t = RR_T_BOOL;
        else
            return fail(c, RR_EPOLICY, p, 0,
                        "unknown attribute type '%s' (expected string, number or bool)", tname);
        rr_attr_def *d = &r->attrs[r->nattrs++];
        TRY(dup(c, &d->name, name));
        d->type = t;
        d->def.type = (uint8_t)t;
        if (def) {
            char pd[PTR_MAX];
            ptr_join(pd, sizeof pd, "/attributes", name);
            ptr_join(pd, sizeof pd, pd, "default");
            bool ok = (t == RR_T_STR && json_is_string(def)) ||
                      (t == RR_T_NUM && json_is_number(def)) ||
                      (t == RR_T_BOOL && json_is_boolean(def));
            if (!ok)
                return fail(c, RR_EPOLICY, pd, 0, "default must be a %s, found %s", tname,
                            rr_json_type_name(def));
            if (t == RR_T_STR)
                TRY(dup(c, &d->def_str, json_string_value(def)));
            else if (t == RR_T_NUM)
                d->def.u.num = json_number_value(def);
            else
                d->def.u.b = json_is_true(def);
        }
        if (t == RR_T_STR && !d->def_str)
            TRY(dup(c, &d->def_str, ""));
        if (t == RR_T_STR) {
            d->def.u.str = d->def_str;
            d->def.len = (uint32_t)strlen(d->def_str);
        }
        for (size_t i = 0; i < RR_SLOT__FIXED; i++)
            if (!strcmp(fixed_slots[i].name, name))
                return fail(c, RR_EPOLICY, p, 0, "attribute '%s' shadows a built-in feature",
                            name);
        if (!strncmp(name, "thr.", 4) || !strncmp(name, "match.", 6))
            return fail(c, RR_EPOLICY, p, 0, "attribute names may not start with thr. or match.");
        TRY(add_slot(c, "", name, t, -1, &d->slot));
    }
    return RR_OK;
}

static size_t task_labels(const rr_router *r) {
    return r->task_classifier >= 0 ? r->classifiers[r->task_classifier].nlabels : 0;
}

/* The task classifier's labels become task families ("unknown" for out of scope). */
static int map_task_labels(pc *c) {
    rr_router *r = c->r;
    if (r->task_classifier < 0)
        return RR_OK;
    rr_classifier_def *d = &r->classifiers[r->task_classifier];
    for (size_t i = 0; i < d->nlabels; i++) {
        const char *l = rr_classifier_label(d->model, (uint32_t)i);
        int t = find_name(r->tasks, r->ntasks, l);
        if (t < 0) {
            t = (int)r->ntasks;
            TRY(dup(c, &r->tasks[r->ntasks++], l));
        }
        d->label_task[i] = (int32_t)i == rr_classifier_oos_label(d->model) ? 0 : t;
    }
    return RR_OK;
}

static int classifier_slots(pc *c, rr_classifier_def *d) {
    rr_router *r = c->r;
    if (d->kind == RR_CLFK_BINARY)
        return add_slot(c, "p_", d->name, RR_T_NUM, -1, &d->slot_p);
    if (d->kind == RR_CLFK_MULTI) {
        TRY(add_slot(c, d->name, ".p", RR_T_NUM, -1, &d->slot_p));
        return add_slot(c, d->name, ".label", RR_T_STR, -1, &d->slot_label);
    }
    TRY(add_slot(c, "", "task.p", RR_T_NUM, -1, &d->slot_p));
    d->label_slots = alloc_array(c, d->nlabels, sizeof *d->label_slots);
    d->label_task = alloc_array(c, d->nlabels, sizeof *d->label_task);
    if (!d->label_slots || !d->label_task)
        return RR_ENOMEM;
    for (size_t i = 0; i < d->nlabels; i++)
        TRY(add_slot(c, "p.", rr_classifier_label(d->model, (uint32_t)i), RR_T_NUM, -1,
                     &d->label_slots[i]));
    (void)r;
    return RR_OK;
}

static int parse_classifiers(pc *c, json_t *clfs) {
    rr_router *r = c->r;
    size_t n = json_object_size(clfs);
    if (n > RR_MAX_CLASSIFIERS)
        return fail(c, RR_EPOLICY, "/classifiers", 0, "at most %d classifiers", RR_MAX_CLASSIFIERS);
    r->classifiers = alloc_array(c, n, sizeof *r->classifiers);
    if (!r->classifiers)
        return RR_ENOMEM;
    static const char *const keys[] = {"file", "description", NULL};
    const char *name;
    json_t *v;
    json_object_foreach(clfs, name, v) {
        char p[PTR_MAX];
        ptr_join(p, sizeof p, "/classifiers", name);
        if (!json_is_object(v))
            return fail(c, RR_EPOLICY, p, 0, "a classifier must be an object {\"file\": ...}");
        TRY(check_keys(c, v, p, keys));
        const char *file = NULL;
        TRY(get_str(c, v, p, "file", true, &file));
        rr_classifier_def *d = &r->classifiers[r->nclassifiers++];
        d->slot_label = -1;
        TRY(dup(c, &d->name, name));
        TRY(dup(c, &d->pointer, p));
        char path[4096];
        if (file[0] == '/' || !r->base_dir || !r->base_dir[0])
            snprintf(path, sizeof path, "%s", file);
        else
            snprintf(path, sizeof path, "%s/%s", r->base_dir, file);
        rr_error le = RR_ERROR_INIT;
        int rc = rr_classifier_load(&d->model, path, &r->a, &le);
        if (rc != RR_OK) {
            char pf[PTR_MAX];
            ptr_join(pf, sizeof pf, p, "file");
            return fail(c, rc, pf, 0, "cannot load classifier '%s' from %s: %s", name, path,
                        le.message);
        }
        d->nlabels = rr_classifier_label_count(d->model);
        bool binary = rr_classifier_positive(d->model) >= 0;
        if (!strcmp(name, "task")) {
            if (binary)
                return fail(c, RR_EPOLICY, p, 0, "the task classifier must be multi-class");
            d->kind = RR_CLFK_TASK;
            r->task_classifier = (int)(d - r->classifiers);
        } else {
            d->kind = binary ? RR_CLFK_BINARY : RR_CLFK_MULTI;
        }
        TRY(classifier_slots(c, d));
        size_t need = rr_classifier_scratch_size(d->model);
        if (need > r->clf_scratch)
            r->clf_scratch = need;
        if (d->nlabels > r->clf_maxlabels)
            r->clf_maxlabels = d->nlabels;
    }
    return RR_OK;
}

static const char *const validator_types[] = {"schema", "semantic", "grounding", "safety",
                                              "shape", NULL};

static int parse_validators(pc *c, json_t *vals) {
    rr_router *r = c->r;
    r->validators = alloc_array(c, json_object_size(vals), sizeof *r->validators);
    if (!r->validators)
        return RR_ENOMEM;
    const char *name;
    json_t *v;
    json_object_foreach(vals, name, v) {
        char p[PTR_MAX];
        ptr_join(p, sizeof p, "/validators", name);
        if (!json_is_object(v))
            return fail(c, RR_EPOLICY, p, 0, "a validator must be an object, found %s",
                        rr_json_type_name(v));
        const char *type = NULL, *version = "1";
        TRY(get_str(c, v, p, "type", true, &type));
        TRY(get_str(c, v, p, "version", false, &version));
        bool known = false;
        for (size_t i = 0; validator_types[i]; i++)
            if (!strcmp(type, validator_types[i]))
                known = true;
        if (!known) {
            char pt[PTR_MAX];
            ptr_join(pt, sizeof pt, p, "type");
            return fail(c, RR_EPOLICY, pt, 0,
                        "unknown validator type '%s' (expected schema, semantic, grounding, "
                        "safety or shape)",
                        type);
        }
        rr_validator_def *d = &r->validators[r->nvalidators++];
        TRY(dup(c, &d->name, name));
        TRY(dup(c, &d->type, type));
        TRY(dup(c, &d->version, version));
        TRY(dup(c, &d->pointer, p));
        /* Each type checks its own keys; locate the line of whatever it names. */
        int rc = rr_validator_compile(r, d, v, c->err);
        if (rc != RR_OK) {
            if (c->err && c->err->pointer[0] && !c->err->line)
                rr_json_locate(c->text, c->len, c->err->pointer, &c->err->line,
                               &c->err->column);
            return rc;
        }
    }
    return RR_OK;
}

static int parse_str_list(pc *c, json_t *arr, const char *ptr, const char *what,
                          char **names, size_t nnames, int **out, size_t *nout) {
    size_t n = json_array_size(arr);
    *out = alloc_array(c, n, sizeof **out);
    if (!*out)
        return RR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char p[PTR_MAX];
        ptr_index(p, sizeof p, ptr, i);
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v))
            return fail(c, RR_EPOLICY, p, 0, "a %s name must be a string, found %s", what,
                        rr_json_type_name(v));
        int idx = find_name(names, nnames, json_string_value(v));
        if (idx < 0)
            return fail(c, RR_EPOLICY, p, 0, "unknown %s '%s'", what, json_string_value(v));
        (*out)[(*nout)++] = idx;
    }
    return RR_OK;
}

/* Tools are declared implicitly by the routes that name them. */
static int collect_tools(pc *c, json_t *routes) {
    rr_router *r = c->r;
    size_t cap = 0;
    const char *id;
    json_t *rt;
    json_object_foreach(routes, id, rt) {
        json_t *tools = json_is_object(rt) ? json_object_get(rt, "tools") : NULL;
        cap += json_is_array(tools) ? json_array_size(tools) : 0;
    }
    r->tools = alloc_array(c, cap, sizeof *r->tools);
    if (!r->tools)
        return RR_ENOMEM;
    json_object_foreach(routes, id, rt) {
        json_t *tools = json_is_object(rt) ? json_object_get(rt, "tools") : NULL;
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t) {
            if (json_is_string(t) && find_name(r->tools, r->ntools, json_string_value(t)) < 0)
                TRY(dup(c, &r->tools[r->ntools++], json_string_value(t)));
        }
    }
    return RR_OK;
}

static int parse_route(pc *c, const char *id, json_t *rt, rr_route_def *d) {
    rr_router *r = c->r;
    char p[PTR_MAX];
    ptr_join(p, sizeof p, "/routes", id);
    if (!json_is_object(rt))
        return fail(c, RR_EPOLICY, p, 0, "a route must be an object, found %s", rr_json_type_name(rt));
    const char *kind = "model", *version = "1";
    TRY(get_str(c, rt, p, "kind", false, &kind));
    TRY(get_str(c, rt, p, "version", false, &version));
    TRY(dup(c, &d->version, version));
    static const char *const kinds[] = {"model", "human", "clarify", "defer", "refuse"};
    d->kind = -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(kind, kinds[i]))
            d->kind = i;
    if (d->kind < 0) {
        char pk[PTR_MAX];
        ptr_join(pk, sizeof pk, p, "kind");
        return fail(c, RR_EPOLICY, pk, 0,
                    "unknown route kind '%s' (expected model, human, clarify, defer or refuse)",
                    kind);
    }
    d->model = -1;
    d->worst_next = -1;
    if (d->kind != RR_ROUTE_MODEL) {
        static const char *const tkeys[] = {"kind", "version", "message", "description", NULL};
        TRY(check_keys(c, rt, p, tkeys));
        const char *msg = "";
        TRY(get_str(c, rt, p, "message", false, &msg));
        TRY(dup(c, &d->message, msg));
        TRY(dup(c, &d->prompt, ""));
        TRY(dup(c, &d->output_mode, "text"));
        return RR_OK;
    }
    static const char *const mkeys[] = {"kind", "version", "model", "prompt", "tools",
                                        "context_tokens", "max_output_tokens", "output",
                                        "validators", "escalate", "retries", "min_confidence",
                                        "description", NULL};
    TRY(check_keys(c, rt, p, mkeys));
    const char *model = NULL, *prompt = "default", *output = "text";
    TRY(get_str(c, rt, p, "model", true, &model));
    d->model = model_index(r, model);
    if (d->model < 0) {
        char pm[PTR_MAX];
        ptr_join(pm, sizeof pm, p, "model");
        return fail(c, RR_EPOLICY, pm, 0, "unknown model '%s'", model);
    }
    TRY(get_str(c, rt, p, "prompt", false, &prompt));
    TRY(dup(c, &d->prompt, prompt));
    TRY(get_str(c, rt, p, "output", false, &output));
    if (strcmp(output, "text") && strcmp(output, "json") && strcmp(output, "constrained")) {
        char po[PTR_MAX];
        ptr_join(po, sizeof po, p, "output");
        return fail(c, RR_EPOLICY, po, 0,
                    "unknown output mode '%s' (expected text, json or constrained)", output);
    }
    TRY(dup(c, &d->output_mode, output));
    d->context_tokens = 4000;
    d->max_output_tokens = 1000;
    TRY(get_int(c, rt, p, "context_tokens", false, 0, 100000000, &d->context_tokens));
    TRY(get_int(c, rt, p, "max_output_tokens", false, 1, 100000000, &d->max_output_tokens));
    int64_t retries = 0;
    TRY(get_int(c, rt, p, "retries", false, 0, 10, &retries));
    d->retries = (int)retries;
    d->min_confidence = -1;
    TRY(get_num(c, rt, p, "min_confidence", false, 0, &d->min_confidence));
    if (d->min_confidence > 1) {
        char pc_[PTR_MAX];
        ptr_join(pc_, sizeof pc_, p, "min_confidence");
        return fail(c, RR_EPOLICY, pc_, 0, "'min_confidence' must be in 0..1");
    }
    json_t *arr = NULL;
    char pa[PTR_MAX];
    TRY(get_arr(c, rt, p, "tools", false, &arr));
    if (arr && json_array_size(arr) > 64) {
        ptr_join(pa, sizeof pa, p, "tools");
        return fail(c, RR_EPOLICY, pa, 0, "at most 64 tools per route");
    }
    if (arr) {
        ptr_join(pa, sizeof pa, p, "tools");
        TRY(parse_str_list(c, arr, pa, "tool", r->tools, r->ntools, &d->tools, &d->ntools));
    }
    TRY(get_arr(c, rt, p, "validators", false, &arr));
    if (arr) {
        ptr_join(pa, sizeof pa, p, "validators");
        char **vnames = alloc_array(c, r->nvalidators, sizeof *vnames);
        if (!vnames)
            return RR_ENOMEM;
        for (size_t i = 0; i < r->nvalidators; i++)
            vnames[i] = r->validators[i].name;
        int rc = parse_str_list(c, arr, pa, "validator", vnames, r->nvalidators,
                                &d->validators, &d->nvalidators);
        rr_free(&r->a, vnames);
        TRY(rc);
    }
    json_t *esc = NULL;
    TRY(get_obj(c, rt, p, "escalate", false, &esc));
    if (esc) {
        d->esc = alloc_array(c, json_object_size(esc), sizeof *d->esc);
        if (!d->esc)
            return RR_ENOMEM;
        const char *f;
        json_t *tgt;
        ptr_join(pa, sizeof pa, p, "escalate");
        json_object_foreach(esc, f, tgt) {
            char pf[PTR_MAX];
            ptr_join(pf, sizeof pf, pa, f);
            int fi = rr_failure_lookup(f);
            if (fi < 0)
                return fail(c, RR_EPOLICY, pf, 0,
                            "unknown failure type '%s' (expected denied, schema, semantic, "
                            "grounding, safety, empty, refusal, truncated, low_confidence, "
                            "model_error, tool_error or timeout)",
                            f);
            if (!json_is_string(tgt))
                return fail(c, RR_EPOLICY, pf, 0, "an escalation target must be a route id");
            int ti = route_index(r, json_string_value(tgt));
            if (ti < 0)
                return fail(c, RR_EPOLICY, pf, 0, "unknown route '%s'", json_string_value(tgt));
            d->esc[d->nesc].failure = fi;
            d->esc[d->nesc].target = ti;
            d->nesc++;
        }
    }
    return RR_OK;
}

static int parse_routes(pc *c, json_t *routes) {
    rr_router *r = c->r;
    if (json_object_size(routes) == 0)
        return fail(c, RR_EPOLICY, "/routes", 0, "at least one route is required");
    if (json_object_size(routes) >= RR_MAX_ROUTES)
        return fail(c, RR_EPOLICY, "/routes", 0, "at most %d routes", RR_MAX_ROUTES - 1);
    TRY(collect_tools(c, routes));
    r->routes = alloc_array(c, json_object_size(routes), sizeof *r->routes);
    if (!r->routes)
        return RR_ENOMEM;
    /* Ids first, so escalation targets can point forward. */
    const char *id;
    json_t *rt;
    json_object_foreach(routes, id, rt) TRY(dup(c, &r->routes[r->nroutes++].id, id));
    size_t i = 0;
    json_object_foreach(routes, id, rt) TRY(parse_route(c, id, rt, &r->routes[i++]));
    return RR_OK;
}

static int parse_limits(pc *c, json_t *lim) {
    static const char *const keys[] = {"max_attempts", "max_cost_usd", "max_latency_ms", NULL};
    rr_router *r = c->r;
    r->limits.max_attempts = 4;
    r->limits.max_cost_usd = INFINITY;
    r->limits.max_latency_ms = INFINITY;
    if (!lim)
        return RR_OK;
    TRY(check_keys(c, lim, "/limits", keys));
    TRY(get_int(c, lim, "/limits", "max_attempts", false, 1, 100, &r->limits.max_attempts));
    TRY(get_num(c, lim, "/limits", "max_cost_usd", false, 0, &r->limits.max_cost_usd));
    TRY(get_num(c, lim, "/limits", "max_latency_ms", false, 0, &r->limits.max_latency_ms));
    return RR_OK;
}

static int terminal_ref(pc *c, json_t *term, const char *key, int *out) {
    const char *id = NULL;
    TRY(get_str(c, term, "/terminal", key, false, &id));
    if (!id)
        return RR_OK;
    char p[PTR_MAX];
    ptr_join(p, sizeof p, "/terminal", key);
    int idx = route_index(c->r, id);
    if (idx < 0)
        return fail(c, RR_EPOLICY, p, 0, "unknown route '%s'", id);
    if (c->r->routes[idx].kind == RR_ROUTE_MODEL)
        return fail(c, RR_EPOLICY, p, 0,
                    "terminal route '%s' must be a human, clarify, defer or refuse route", id);
    *out = idx;
    return RR_OK;
}

static int parse_terminal(pc *c, json_t *term) {
    static const char *const keys[] = {"denied", "no_match", "exhausted", "limits", NULL};
    rr_router *r = c->r;
    r->terminal_exhausted = r->terminal_limits = -1;
    if (term) {
        TRY(check_keys(c, term, "/terminal", keys));
        TRY(terminal_ref(c, term, "denied", &r->terminal_denied));
        TRY(terminal_ref(c, term, "no_match", &r->terminal_no_match));
        TRY(terminal_ref(c, term, "exhausted", &r->terminal_exhausted));
        TRY(terminal_ref(c, term, "limits", &r->terminal_limits));
    }
    /* Without an explicit choice, a route named human_review (a human route) serves. */
    int hr = route_index(r, "human_review");
    if (hr >= 0 && r->routes[hr].kind != RR_ROUTE_HUMAN)
        hr = -1;
    if (hr < 0 && (r->terminal_denied < 0 || r->terminal_no_match < 0 ||
                   r->terminal_exhausted < 0 || r->terminal_limits < 0)) {
        /* No human lane declared: add a built-in one so every request has somewhere safe to
         * go. It is reported by name in records and by `rrctl lint`. */
        rr_route_def *n = rr_realloc(&r->a, r->routes, r->nroutes * sizeof *n,
                                     (r->nroutes + 1) * sizeof *n);
        if (!n)
            return rr_err(c->err, RR_ENOMEM, "out of memory");
        r->routes = n;
        rr_route_def *d = &r->routes[r->nroutes];
        memset(d, 0, sizeof *d);
        d->kind = RR_ROUTE_HUMAN;
        d->model = -1;
        d->worst_next = -1;
        hr = (int)r->nroutes++;
        TRY(dup(c, &d->id, "builtin_human_review"));
        TRY(dup(c, &d->version, "builtin"));
        TRY(dup(c, &d->prompt, ""));
        TRY(dup(c, &d->output_mode, "text"));
        TRY(dup(c, &d->message, "A person from our team will review this request and reply."));
    }
    if (r->terminal_denied < 0)
        r->terminal_denied = hr;
    if (r->terminal_no_match < 0)
        r->terminal_no_match = hr;
    if (r->terminal_exhausted < 0)
        r->terminal_exhausted = hr;
    if (r->terminal_limits < 0)
        r->terminal_limits = hr;
    return RR_OK;
}

static int parse_eligibility(pc *c, json_t *arr) {
    rr_router *r = c->r;
    size_t n = json_array_size(arr);
    r->elig = alloc_array(c, n, sizeof *r->elig);
    if (!r->elig)
        return RR_ENOMEM;
    static const char *const keys[] = {"id", "when", "deny_models", "deny_routes", "deny_tools",
                                       "reason", "description", NULL};
    c->stage = STAGE_ELIG;
    char **mnames = alloc_array(c, r->nmodels, sizeof *mnames);
    char **rnames = alloc_array(c, r->nroutes, sizeof *rnames);
    int rc = (mnames && rnames) ? RR_OK : RR_ENOMEM;
    for (size_t i = 0; i < r->nmodels && rc == RR_OK; i++)
        mnames[i] = r->models[i].id;
    for (size_t i = 0; i < r->nroutes && rc == RR_OK; i++)
        rnames[i] = r->routes[i].id;
    for (size_t i = 0; i < n && rc == RR_OK; i++) {
        char p[PTR_MAX];
        ptr_index(p, sizeof p, "/eligibility", i);
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e)) {
            rc = fail(c, RR_EPOLICY, p, 0, "an eligibility rule must be an object");
            break;
        }
        rr_elig_rule *d = &r->elig[r->nelig++];
        const char *id = NULL, *reason = NULL;
        json_t *dm = NULL, *dr = NULL, *dt = NULL;
        char pa[PTR_MAX];
        if ((rc = check_keys(c, e, p, keys)) || (rc = get_str(c, e, p, "id", true, &id)) ||
            (rc = dup(c, &d->id, id)) || (rc = dup(c, &d->pointer, p)) ||
            (rc = get_str(c, e, p, "reason", false, &reason)) ||
            (rc = dup(c, &d->reason, reason ? reason : id)) ||
            (rc = compile_when(c, e, p, &d->when)) ||
            (rc = get_arr(c, e, p, "deny_models", false, &dm)) ||
            (rc = get_arr(c, e, p, "deny_routes", false, &dr)) ||
            (rc = get_arr(c, e, p, "deny_tools", false, &dt)))
            break;
        if (dm && (ptr_join(pa, sizeof pa, p, "deny_models"),
                   rc = parse_str_list(c, dm, pa, "model", mnames, r->nmodels, &d->deny_models,
                                       &d->n_models)))
            break;
        if (dr && (ptr_join(pa, sizeof pa, p, "deny_routes"),
                   rc = parse_str_list(c, dr, pa, "route", rnames, r->nroutes, &d->deny_routes,
                                       &d->n_routes)))
            break;
        if (dt && (ptr_join(pa, sizeof pa, p, "deny_tools"),
                   rc = parse_str_list(c, dt, pa, "tool", r->tools, r->ntools, &d->deny_tools,
                                       &d->n_tools)))
            break;
        if (!d->n_models && !d->n_routes && !d->n_tools)
            rc = fail(c, RR_EPOLICY, p, 0,
                      "an eligibility rule must deny at least one model, route or tool");
        else if (rr_expr_constant(d->when) == 0)
            rc = fail(c, RR_EPOLICY, p, 0, "eligibility rule '%s' can never fire: its "
                      "condition is always false", id);
    }
    rr_free(&r->a, mnames);
    rr_free(&r->a, rnames);
    return rc;
}

static int parse_task_rules(pc *c, json_t *arr) {
    rr_router *r = c->r;
    size_t n = json_array_size(arr);
    r->task_rules = alloc_array(c, n, sizeof *r->task_rules);
    r->tasks = alloc_array(c, n + 1 + task_labels(r), sizeof *r->tasks);
    if (!r->task_rules || !r->tasks)
        return RR_ENOMEM;
    TRY(dup(c, &r->tasks[r->ntasks++], "unknown"));
    static const char *const keys[] = {"id", "when", "task", "description", NULL};
    c->stage = STAGE_TASK;
    for (size_t i = 0; i < n; i++) {
        char p[PTR_MAX];
        ptr_index(p, sizeof p, "/tasks", i);
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e))
            return fail(c, RR_EPOLICY, p, 0, "a task rule must be an object");
        TRY(check_keys(c, e, p, keys));
        rr_task_rule *d = &r->task_rules[r->ntask_rules++];
        const char *id = NULL, *task = NULL;
        TRY(get_str(c, e, p, "id", true, &id));
        TRY(dup(c, &d->id, id));
        TRY(dup(c, &d->pointer, p));
        TRY(get_str(c, e, p, "task", true, &task));
        d->task = find_name(r->tasks, r->ntasks, task);
        if (d->task < 0) {
            d->task = (int)r->ntasks;
            TRY(dup(c, &r->tasks[r->ntasks++], task));
        }
        TRY(compile_when(c, e, p, &d->when));
    }
    return RR_OK;
}

/* A rule can never fire if its condition is constant false, if an earlier rule always
 * matches, or if an earlier rule has the very same condition. */
static int check_reachable(pc *c, const char *section, char **ids, rr_expr **whens,
                           char **ptrs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char pw[PTR_MAX];
        ptr_join(pw, sizeof pw, ptrs[i], "when");
        if (rr_expr_constant(whens[i]) == 0)
            return fail(c, RR_EPOLICY, pw, 0,
                        "%s '%s' can never fire: its condition is always false", section, ids[i]);
        for (size_t j = 0; j < i; j++) {
            if (rr_expr_constant(whens[j]) == 1)
                return fail(c, RR_EPOLICY, ptrs[i], 0,
                            "%s '%s' can never fire: earlier %s '%s' (%s) always matches",
                            section, ids[i], section, ids[j], ptrs[j]);
            if (rr_expr_hash(whens[j]) == rr_expr_hash(whens[i]))
                return fail(c, RR_EPOLICY, pw, 0,
                            "%s '%s' can never fire: earlier %s '%s' (%s) has the same "
                            "condition",
                            section, ids[i], section, ids[j], ptrs[j]);
        }
    }
    return RR_OK;
}

static int parse_rules(pc *c, json_t *arr) {
    rr_router *r = c->r;
    size_t n = json_array_size(arr);
    if (n == 0)
        return fail(c, RR_EPOLICY, "/rules", 0, "at least one routing rule is required");
    r->rules = alloc_array(c, n, sizeof *r->rules);
    if (!r->rules)
        return RR_ENOMEM;
    static const char *const keys[] = {"id", "when", "route", "description", NULL};
    c->stage = STAGE_RULE;
    for (size_t i = 0; i < n; i++) {
        char p[PTR_MAX];
        ptr_index(p, sizeof p, "/rules", i);
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e))
            return fail(c, RR_EPOLICY, p, 0, "a routing rule must be an object");
        TRY(check_keys(c, e, p, keys));
        rr_rule *d = &r->rules[r->nrules++];
        const char *id = NULL, *route = NULL;
        TRY(get_str(c, e, p, "id", true, &id));
        TRY(dup(c, &d->id, id));
        TRY(dup(c, &d->pointer, p));
        TRY(get_str(c, e, p, "route", true, &route));
        d->route = route_index(r, route);
        if (d->route < 0) {
            char pr[PTR_MAX];
            ptr_join(pr, sizeof pr, p, "route");
            return fail(c, RR_EPOLICY, pr, 0, "unknown route '%s'", route);
        }
        TRY(compile_when(c, e, p, &d->when));
    }
    return RR_OK;
}

static int check_unique_ids(pc *c, const char *section, char **ids, char **ptrs, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(ids[i], ids[j]))
                return fail(c, RR_EPOLICY, ptrs[i], 0, "duplicate %s id '%s' (first at %s)",
                            section, ids[i], ptrs[j]);
    return RR_OK;
}

/* Gather the id / when / pointer columns of a rule array for the generic checks. */
#define RULE_COLUMNS(arr, n, field_ids, field_whens, field_ptrs)                           \
    do {                                                                                   \
        for (size_t k_ = 0; k_ < (n); k_++) {                                              \
            field_ids[k_] = (arr)[k_].id;                                                  \
            field_whens[k_] = (arr)[k_].when;                                              \
            field_ptrs[k_] = (arr)[k_].pointer;                                            \
        }                                                                                  \
    } while (0)

static int check_rule_arrays(pc *c) {
    rr_router *r = c->r;
    size_t n = r->nrules > r->ntask_rules ? r->nrules : r->ntask_rules;
    n = n > r->nelig ? n : r->nelig;
    char **ids = alloc_array(c, n, sizeof *ids);
    char **ptrs = alloc_array(c, n, sizeof *ptrs);
    rr_expr **whens = alloc_array(c, n, sizeof *whens);
    int rc = (ids && ptrs && whens) ? RR_OK : RR_ENOMEM;
    if (rc == RR_OK) {
        RULE_COLUMNS(r->elig, r->nelig, ids, whens, ptrs);
        rc = check_unique_ids(c, "eligibility rule", ids, ptrs, r->nelig);
    }
    if (rc == RR_OK) {
        RULE_COLUMNS(r->task_rules, r->ntask_rules, ids, whens, ptrs);
        rc = check_unique_ids(c, "task rule", ids, ptrs, r->ntask_rules);
        if (rc == RR_OK)
            rc = check_reachable(c, "task rule", ids, whens, ptrs, r->ntask_rules);
    }
    if (rc == RR_OK) {
        RULE_COLUMNS(r->rules, r->nrules, ids, whens, ptrs);
        rc = check_unique_ids(c, "rule", ids, ptrs, r->nrules);
        if (rc == RR_OK)
            rc = check_reachable(c, "rule", ids, whens, ptrs, r->nrules);
    }
    rr_free(&r->a, ids);
    rr_free(&r->a, ptrs);
    rr_free(&r->a, whens);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Escalation graph: no cycles, every step changes the contract, worst-case ladders.
 * ------------------------------------------------------------------------------------- */

static bool same_contract(const rr_route_def *a, const rr_route_def *b) {
    if (a->kind != RR_ROUTE_MODEL || b->kind != RR_ROUTE_MODEL)
        return false;
    if (a->model != b->model || strcmp(a->prompt, b->prompt) ||
        strcmp(a->output_mode, b->output_mode) || a->nvalidators != b->nvalidators)
        return false;
    for (size_t i = 0; i < a->nvalidators; i++)
        if (a->validators[i] != b->validators[i])
            return false;
    return true;
}

static double attempt_cost(const rr_router *r, const rr_route_def *d) {
    if (d->kind != RR_ROUTE_MODEL)
        return 0;
    const rr_model_def *m = &r->models[d->model];
    return ((double)d->context_tokens * m->usd_in + (double)d->max_output_tokens * m->usd_out) /
           1e6;
}

/* DFS with colours: 0 new, 1 on stack, 2 done. Computes worst-case figures bottom-up. */
static int visit(pc *c, int i, uint8_t *colour, int *stack, int depth) {
    rr_router *r = c->r;
    rr_route_def *d = &r->routes[i];
    colour[i] = 1;
    stack[depth] = i;
    double best_cost = 0, best_lat = 0;
    int best_att = 0, best_next = -1;
    for (size_t k = 0; k < d->nesc; k++) {
        int t = d->esc[k].target;
        char p[PTR_MAX], pe[PTR_MAX];
        ptr_join(p, sizeof p, "/routes", d->id);
        ptr_join(pe, sizeof pe, p, "escalate");
        ptr_join(pe, sizeof pe, pe, rr_failure_name(d->esc[k].failure));
        if (colour[t] == 1) {
            char cyc[400];
            size_t n = 0;
            int from = 0;
            while (stack[from] != t)
                from++;
            for (int s = from; s <= depth && n < sizeof cyc - 80; s++)
                n += (size_t)snprintf(cyc + n, sizeof cyc - n, "%s -> ", r->routes[stack[s]].id);
            snprintf(cyc + n, sizeof cyc - n, "%s", r->routes[t].id);
            return fail(c, RR_EPOLICY, pe, 0, "escalation cycle: %s", cyc);
        }
        if (same_contract(d, &r->routes[t]))
            return fail(c, RR_EPOLICY, pe, 0,
                        "escalation from '%s' to '%s' does not change the contract (same model, "
                        "prompt, output mode and validators): that is a retry, use 'retries'",
                        d->id, r->routes[t].id);
        if (colour[t] == 0)
            TRY(visit(c, t, colour, stack, depth + 1));
        const rr_route_def *td = &r->routes[t];
        if (td->worst_cost_usd > best_cost ||
            (td->worst_cost_usd == best_cost && td->worst_attempts > best_att)) {
            best_cost = td->worst_cost_usd;
            best_lat = td->worst_latency_ms;
            best_att = td->worst_attempts;
            best_next = t;
        }
    }
    int tries = d->kind == RR_ROUTE_MODEL ? d->retries + 1 : 0;
    d->worst_cost_usd = tries * attempt_cost(r, d) + best_cost;
    d->worst_latency_ms =
        (d->kind == RR_ROUTE_MODEL ? tries * r->models[d->model].latency_ms : 0) + best_lat;
    d->worst_attempts = tries + best_att;
    d->worst_next = best_next;
    colour[i] = 2;
    return RR_OK;
}

static int check_escalation(pc *c) {
    rr_router *r = c->r;
    uint8_t *colour = alloc_array(c, r->nroutes, 1);
    int *stack = alloc_array(c, r->nroutes + 1, sizeof *stack);
    int rc = (colour && stack) ? RR_OK : RR_ENOMEM;
    for (size_t i = 0; i < r->nroutes && rc == RR_OK; i++)
        if (colour[i] == 0)
            rc = visit(c, (int)i, colour, stack, 0);
    rr_free(&r->a, colour);
    rr_free(&r->a, stack);
    return rc;
}

static void mark_reached(pc *c, int i) {
    if (i < 0 || c->route_reached[i])
        return;
    c->route_reached[i] = 1;
    for (size_t k = 0; k < c->r->routes[i].nesc; k++)
        mark_reached(c, c->r->routes[i].esc[k].target);
}

static bool ident_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.';
}

/* Validators read thresholds ("thr.x") and attributes in their own configuration; count an
 * identifier as used when it appears as a whole word anywhere besides its declaration. */
static bool read_by_validator(const pc *c, const char *name) {
    /* "thr.x" and "match.x" never appear in their declarations; an attribute's key does. */
    bool prefixed = !strncmp(name, "thr.", 4) || !strncmp(name, "match.", 6);
    const char *key = name;
    size_t n = strlen(key), seen = 0;
    for (const char *p = c->text; p + n <= c->text + c->len; p++) {
        if (memcmp(p, key, n) || (p > c->text && ident_char(p[-1])) ||
            (p + n < c->text + c->len && ident_char(p[n])))
            continue;
        seen++;
    }
    return seen >= (prefixed ? 1u : 2u);
}

/* Classifier outputs are offered to conditions, not required to be read. */
static bool classifier_slot(const rr_router *r, int slot) {
    for (size_t i = 0; i < r->nclassifiers; i++) {
        const rr_classifier_def *d = &r->classifiers[i];
        if (d->slot_p == slot || d->slot_label == slot)
            return true;
        for (size_t l = 0; d->label_slots && l < d->nlabels; l++)
            if (d->label_slots[l] == slot)
                return true;
    }
    return false;
}

static void lint_warnings(pc *c) {
    rr_router *r = c->r;
    for (size_t i = 0; i < r->nrules; i++)
        mark_reached(c, r->rules[i].route);
    mark_reached(c, r->terminal_denied);
    mark_reached(c, r->terminal_no_match);
    mark_reached(c, r->terminal_exhausted);
    mark_reached(c, r->terminal_limits);
    for (size_t i = 0; i < r->nroutes; i++) {
        char p[PTR_MAX];
        ptr_join(p, sizeof p, "/routes", r->routes[i].id);
        if (!c->route_reached[i])
            warn(c, p, "route '%s' is never used: no rule or escalation leads to it",
                 r->routes[i].id);
    }
    for (size_t i = RR_SLOT__FIXED; i < r->nslots; i++) {
        if (c->used_slot[i] || read_by_validator(c, r->slot_names[i]) ||
            classifier_slot(r, (int)i))
            continue;
        const char *n = r->slot_names[i];
        char p[PTR_MAX];
        if (!strncmp(n, "thr.", 4))
            ptr_join(p, sizeof p, "/thresholds", n + 4);
        else if (!strncmp(n, "match.", 6))
            ptr_join(p, sizeof p, "/patterns", n + 6);
        else
            ptr_join(p, sizeof p, "/attributes", n);
        warn(c, p, "'%s' is never used by any condition", n);
    }
    if (r->nrules && rr_expr_constant(r->rules[r->nrules - 1].when) != 1)
        warn(c, "/rules", "the last rule is not a catch-all ('when': 'true'): requests that match "
                          "no rule go to %s",
             r->terminal_no_match >= 0 ? r->routes[r->terminal_no_match].id
                                       : "built-in human review");
    if (route_index(r, "builtin_human_review") >= 0)
        warn(c, "/terminal", "no human route named human_review and no terminal.denied / "
                             "terminal.no_match: the built-in route builtin_human_review is used");
}

static int build_report(pc *c) {
    rr_router *r = c->r;
    rr_buf b;
    rr_buf_init(&b, &r->a);
    rr_buf_puts(&b, "{\"policy\":");
    rr_buf_json_str(&b, r->name, strlen(r->name));
    rr_buf_puts(&b, ",\"version\":");
    rr_buf_json_str(&b, r->version, strlen(r->version));
    rr_buf_printf(&b, ",\"fingerprint\":\"%s\",\"warnings\":[", r->fingerprint);
    if (c->warn.len)
        rr_buf_put(&b, c->warn.p, c->warn.len);
    rr_buf_puts(&b, "],\"ladders\":[");
    bool first = true;
    for (size_t i = 0; i < r->nroutes; i++) {
        bool entry = false;
        for (size_t k = 0; k < r->nrules; k++)
            entry |= r->rules[k].route == (int)i;
        if (!entry)
            continue;
        const rr_route_def *d = &r->routes[i];
        rr_buf_puts(&b, first ? "{\"route\":" : ",{\"route\":");
        first = false;
        rr_buf_json_str(&b, d->id, strlen(d->id));
        rr_buf_puts(&b, ",\"ladder\":[");
        for (int j = (int)i, n = 0; j >= 0; j = r->routes[j].worst_next, n++) {
            if (n)
                rr_buf_putc(&b, ',');
            rr_buf_json_str(&b, r->routes[j].id, strlen(r->routes[j].id));
        }
        rr_buf_puts(&b, "],\"worst_case_cost_usd\":");
        rr_buf_json_num(&b, d->worst_cost_usd);
        rr_buf_puts(&b, ",\"worst_case_latency_ms\":");
        rr_buf_json_num(&b, d->worst_latency_ms);
        rr_buf_printf(&b, ",\"max_attempts\":%d", d->worst_attempts);
        if (d->worst_attempts > r->limits.max_attempts)
            rr_buf_printf(&b, ",\"capped_by_limits\":{\"max_attempts\":%lld}",
                          (long long)r->limits.max_attempts);
        rr_buf_putc(&b, '}');
    }
    rr_buf_puts(&b, "]}");
    if (b.oom) {
        rr_buf_free(&b);
        return rr_err(c->err, RR_ENOMEM, "out of memory");
    }
    r->report_json = b.p;
    r->report_len = b.len;
    return RR_OK;
}

static int fingerprint(pc *c, json_t *root) {
    /* Canonical form: sorted keys, compact separators, so whitespace and key order do not
     * change it. */
    char *canon = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!canon)
        return rr_err(c->err, RR_ENOMEM, "out of memory");
    snprintf(c->r->fingerprint, sizeof c->r->fingerprint, "%016llx",
             (unsigned long long)XXH3_64bits(canon, strlen(canon)));
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree); /* the host's jansson allocator, not ours */
    jfree(canon);
    return RR_OK;
}

static int compile_root(pc *c, json_t *root) {
    rr_router *r = c->r;
    if (!json_is_object(root))
        return fail(c, RR_EPOLICY, "", 0, "a policy must be a JSON object, found %s",
                    rr_json_type_name(root));
    static const char *const keys[] = {
        "policy", "version", "description", "models", "thresholds", "patterns", "attributes",
        "eligibility", "tasks", "rules", "routes", "validators", "limits", "terminal", "options",
        "classifiers", NULL};
    TRY(check_keys(c, root, "", keys));
    const char *name = NULL, *version = NULL, *desc = "";
    TRY(get_str(c, root, "", "policy", true, &name));
    TRY(get_str(c, root, "", "version", true, &version));
    TRY(get_str(c, root, "", "description", false, &desc));
    TRY(dup(c, &r->name, name));
    TRY(dup(c, &r->version, version));
    TRY(dup(c, &r->description, desc));
    for (int i = 0; i < RR_SLOT__FIXED; i++)
        TRY(add_slot(c, "", fixed_slots[i].name, fixed_slots[i].type, -1, NULL));
    json_t *models, *thr, *pats, *attrs, *vals, *routes, *lim, *term, *elig, *tasks, *rules;
    json_t *opts = NULL;
    TRY(get_obj(c, root, "", "options", false, &opts));
    if (opts) {
        static const char *const okeys[] = {"sticky_tier", NULL};
        TRY(check_keys(c, opts, "/options", okeys));
        json_t *st = json_object_get(opts, "sticky_tier");
        if (st && !json_is_boolean(st))
            return fail(c, RR_EPOLICY, "/options/sticky_tier", 0, "'sticky_tier' must be a boolean");
        r->sticky_tier = json_is_true(st);
    }
    TRY(get_obj(c, root, "", "models", true, &models));
    TRY(parse_models(c, models));
    TRY(get_obj(c, root, "", "thresholds", false, &thr));
    if (thr)
        TRY(parse_thresholds(c, thr));
    TRY(get_obj(c, root, "", "patterns", false, &pats));
    if (pats)
        TRY(parse_patterns(c, pats));
    TRY(get_obj(c, root, "", "attributes", false, &attrs));
    if (attrs)
        TRY(parse_attributes(c, attrs));
    json_t *clfs = NULL;
    TRY(get_obj(c, root, "", "classifiers", false, &clfs));
    if (clfs)
        TRY(parse_classifiers(c, clfs));
    c->used_slot = alloc_array(c, r->nslots, 1);
    if (!c->used_slot)
        return RR_ENOMEM;
    TRY(get_obj(c, root, "", "validators", false, &vals));
    if (vals)
        TRY(parse_validators(c, vals));
    TRY(get_obj(c, root, "", "routes", true, &routes));
    TRY(parse_routes(c, routes));
    TRY(get_obj(c, root, "", "limits", false, &lim));
    TRY(parse_limits(c, lim));
    TRY(get_obj(c, root, "", "terminal", false, &term));
    TRY(parse_terminal(c, term));
    TRY(get_arr(c, root, "", "eligibility", false, &elig));
    if (elig)
        TRY(parse_eligibility(c, elig));
    TRY(get_arr(c, root, "", "tasks", false, &tasks));
    if (tasks)
        TRY(parse_task_rules(c, tasks));
    else {
        r->tasks = alloc_array(c, 1 + task_labels(r), sizeof *r->tasks);
        if (!r->tasks)
            return RR_ENOMEM;
        TRY(dup(c, &r->tasks[r->ntasks++], "unknown"));
    }
    TRY(map_task_labels(c));
    TRY(get_arr(c, root, "", "rules", true, &rules));
    TRY(parse_rules(c, rules));
    TRY(check_rule_arrays(c));
    TRY(check_escalation(c));
    c->route_reached = alloc_array(c, r->nroutes, 1);
    if (!c->route_reached)
        return RR_ENOMEM;
    lint_warnings(c);
    TRY(fingerprint(c, root));
    return build_report(c);
}

int rr_policy_compile(rr_router *r, const char *text, size_t len, rr_error *err) {
    pc c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.text = text;
    c.len = len;
    c.err = err;
    rr_buf_init(&c.warn, &r->a);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        rr_buf_free(&c.warn);
        return rr_err_at(err, RR_EJSON, "", (uint32_t)(je.line > 0 ? je.line : 0),
                         (uint32_t)(je.column > 0 ? je.column : 0), 0,
                         "malformed JSON at line %d, column %d: %s", je.line, je.column, je.text);
    }
    int rc = compile_root(&c, root);
    json_decref(root);
    rr_buf_free(&c.warn);
    rr_free(&r->a, c.used_slot);
    rr_free(&r->a, c.route_reached);
    return rc;
}

const char *rr_failure_name(int f) {
    static const char *const names[] = {
#define RR__FN(name, text) text,
        RR_FAILURE_TABLE(RR__FN)
#undef RR__FN
    };
    return (f >= 0 && f < RR_F__COUNT) ? names[f] : "unknown";
}

int rr_failure_lookup(const char *s) {
    for (int i = 0; i < RR_F__COUNT; i++)
        if (!strcmp(rr_failure_name(i), s))
            return i;
    return -1;
}
