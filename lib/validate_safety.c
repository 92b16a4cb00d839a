/* Safety and shape checks on the output text: emptiness, truncated JSON, refusals, deny
 * patterns, PII the model should not have produced. Patterns are compiled once (JIT when
 * available) and shared read-only; a scratch per thread holds the match data and spans. */
#include "conf.h"
#include "validate_safety.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#define PTR_MAX 512
#define DEFAULT_MATCH_LIMIT 100000
#define DEFAULT_DEPTH_LIMIT 10000
#define JSON_MAX_DEPTH 2048 /* jansson's parser limit */
/* pcre2_compile's ERR21, "failed to allocate heap memory": compile error codes are not in
 * pcre2.h, but they are stable (COMPILE_ERROR_BASE 100 + 21). */
#define PCRE2_COMPILE_NOMEMORY 121

typedef struct pattern {
    pcre2_code *re;
    char *id;
    char *ptr; /* policy pointer, "" for the built-in refusals */
} pattern;

struct rr_safety {
    rr_alloc a;
    char *name;
    bool shape;
    bool empty, truncated, refusal, pii_leak;
    pattern *deny, *refusals;
    size_t ndeny, nrefusals;
    pcre2_general_context *gctx;
    pcre2_match_context *mctx;
};

struct rr_safety_scratch {
    rr_alloc a;
    pcre2_general_context *gctx;
    pcre2_match_data *md;
    rr_pii_span spans[RR_SAFETY_MAX_SPANS];
};

/* Straight or curly apostrophe. */
#define AP "['\u2019]"
#define CANT                                                                                       \
    "(?:can(?:not|" AP "t|\\s+not)|am\\s+unable\\s+to|" AP "m\\s+unable\\s+to|won" AP              \
    "t|will\\s+not)"

static const struct {
    const char *id;
    const char *re;
} default_refusals[] = {
    {"cannot_help", "\\bI\\s*" CANT "\\s+(?:help|assist)(?:\\s+you)?\\s+with\\b"},
    {"sorry_but", "\\bI(?:" AP "m|\\s+am)\\s+(?:sorry|afraid),?\\s+(?:but\\s+)?I\\s*"
                  "(?:can(?:not|" AP "t|\\s+not)|am\\s+unable|" AP "m\\s+unable|won" AP "t|"
                  "will\\s+not)"},
    {"as_an_ai", "\\bas\\s+an\\s+AI(?:\\s+(?:language\\s+model|assistant|model))?\\s*,\\s*I\\b"},
};

/* ---- PCRE2 plumbing ------------------------------------------------------------------ */

static void *pcre_malloc(size_t n, void *ud) {
    return rr_malloc(ud, n);
}

static void pcre_free(void *p, void *ud) {
    rr_free(ud, p);
}

/* ---- config helpers (same conventions as the policy compiler) ------------------------ */

static void ptr_join(char *out, const char *base, const char *tok) {
    size_t len = (size_t)snprintf(out, PTR_MAX, "%s/", base);
    for (; *tok && len + 2 < PTR_MAX; tok++) {
        if (*tok == '~' || *tok == '/') {
            out[len++] = '~';
            out[len++] = *tok == '~' ? '0' : '1';
        } else {
            out[len++] = *tok;
        }
    }
    out[len < PTR_MAX ? len : PTR_MAX - 1] = 0;
}

static int oom(rr_error *err) {
    return rr_err(err, RR_ENOMEM, "out of memory");
}


static int get_bool(const json_t *obj, const char *ptr, const char *key, bool *out, rr_error *err) {
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return RR_OK;
    if (!json_is_boolean(v)) {
        char p[PTR_MAX];
        ptr_join(p, ptr, key);
        return rr_err_at(err, RR_EPOLICY, p, 0, 0, 0, "'%s' must be true or false, found %s", key,
                         rr_json_type_name(v));
    }
    *out = json_is_true(v);
    return RR_OK;
}

static bool has_nul(const json_t *str) {
    return strlen(json_string_value(str)) != json_string_length(str);
}

/* ---- patterns ------------------------------------------------------------------------ */

static int compile_one(pcre2_compile_context *cc, pattern *pt, const char *src, size_t len,
                       const char *ptr, rr_error *err) {
    int ec;
    PCRE2_SIZE eo;
    pt->re = pcre2_compile((PCRE2_SPTR)src, len, PCRE2_UTF | PCRE2_CASELESS, &ec, &eo, cc);
    if (!pt->re) {
        if (ec == PCRE2_COMPILE_NOMEMORY)
            return oom(err);
        PCRE2_UCHAR8 msg[200];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return rr_err_at(err, RR_EREGEX, ptr, 0, 0, (uint32_t)eo + 1,
                         "invalid regular expression: %s (column %u)", (const char *)msg,
                         (unsigned)eo + 1);
    }
    (void)pcre2_jit_compile(pt->re, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
    return RR_OK;
}

/* One entry of "deny" / "refusal_patterns": "regex" or {"id", "pattern"}. */
static int parse_entry(rr_safety *s, pcre2_compile_context *cc, pattern *list, size_t i,
                       const json_t *e, const char *ep, rr_error *err) {
    static const char *const keys[] = {"id", "pattern", NULL};
    pattern *pt = &list[i];
    const json_t *re = e, *id = NULL;
    if (json_is_object(e)) {
        int rc = rr_conf_check_keys(e, ep, keys, "a pattern entry", err);
        if (rc != RR_OK)
            return rc;
        re = json_object_get(e, "pattern");
        id = json_object_get(e, "id");
        char p[PTR_MAX];
        ptr_join(p, ep, "id");
        if (!id || !json_is_string(id) || !json_string_length(id) || has_nul(id))
            return rr_err_at(err, RR_EPOLICY, id ? p : ep, 0, 0, 0,
                             "a pattern entry needs a non-empty string \"id\"");
        for (size_t k = 0; k < i; k++)
            if (!strcmp(list[k].id, json_string_value(id)))
                return rr_err_at(err, RR_EPOLICY, p, 0, 0, 0, "pattern id '%s' used twice",
                                 json_string_value(id));
        ptr_join(p, ep, "pattern");
        if (!re || !json_is_string(re))
            return rr_err_at(err, RR_EPOLICY, re ? p : ep, 0, 0, 0,
                             "a pattern entry needs a string \"pattern\"");
    } else if (!json_is_string(e)) {
        return rr_err_at(err, RR_EPOLICY, ep, 0, 0, 0,
                         "a pattern is a string or {\"id\", \"pattern\"}, found %s", rr_json_type_name(e));
    }
    char num[24];
    snprintf(num, sizeof num, "%zu", i);
    pt->id = rr_strdup(&s->a, id ? json_string_value(id) : num);
    char rp[PTR_MAX];
    if (json_is_object(e))
        ptr_join(rp, ep, "pattern");
    else
        snprintf(rp, sizeof rp, "%s", ep);
    pt->ptr = rr_strdup(&s->a, rp);
    if (!pt->id || !pt->ptr)
        return oom(err);
    return compile_one(cc, pt, json_string_value(re), json_string_length(re), rp, err);
}

static int parse_list(rr_safety *s, pcre2_compile_context *cc, const json_t *cfg, const char *ptr,
                      const char *key, pattern **out, size_t *n, rr_error *err) {
    const json_t *arr = json_object_get(cfg, key);
    if (!arr)
        return RR_OK;
    char p[PTR_MAX];
    ptr_join(p, ptr, key);
    if (!json_is_array(arr))
        return rr_err_at(err, RR_EPOLICY, p, 0, 0, 0, "'%s' must be an array, found %s", key,
                         rr_json_type_name(arr));
    size_t len = json_array_size(arr);
    if (len && !(*out = rr_calloc(&s->a, len, sizeof **out)))
        return oom(err);
    for (size_t i = 0; i < len; i++) {
        char ep[PTR_MAX];
        snprintf(ep, sizeof ep, "%s/%zu", p, i);
        *n = i + 1;
        int rc = parse_entry(s, cc, *out, i, json_array_get(arr, i), ep, err);
        if (rc != RR_OK)
            return rc;
    }
    return RR_OK;
}

static int default_refusal_list(rr_safety *s, pcre2_compile_context *cc, rr_error *err) {
    size_t n = RR_ARRAY_LEN(default_refusals);
    if (!(s->refusals = rr_calloc(&s->a, n, sizeof *s->refusals)))
        return oom(err);
    for (size_t i = 0; i < n; i++) {
        pattern *pt = &s->refusals[i];
        s->nrefusals = i + 1;
        if (!(pt->id = rr_strdup(&s->a, default_refusals[i].id)) ||
            !(pt->ptr = rr_strdup(&s->a, "")))
            return oom(err);
        int rc = compile_one(cc, pt, default_refusals[i].re, PCRE2_ZERO_TERMINATED, "", err);
        if (rc != RR_OK)
            return rc;
    }
    return RR_OK;
}

/* ---- building ------------------------------------------------------------------------ */

static int parse_switches(rr_safety *s, const json_t *cfg, const char *ptr, rr_error *err) {
    static const char *const safety_keys[] = {"type",     "version", "description",      "deny",
                                              "pii_leak", "refusal", "refusal_patterns", NULL};
    static const char *const shape_keys[] = {"type",      "version", "description",      "empty",
                                             "truncated", "refusal", "refusal_patterns", NULL};
    const char *tname = s->shape ? "shape" : "safety";
    if (!json_is_object(cfg))
        return rr_err_at(err, RR_EPOLICY, ptr, 0, 0, 0,
                         "a %s validator must be an object, "
                         "found %s",
                         tname, rr_json_type_name(cfg));
    char what[32];
    snprintf(what, sizeof what, "a %s validator", tname);
    int rc = rr_conf_check_keys(cfg, ptr, s->shape ? shape_keys : safety_keys, what, err);
    if (rc != RR_OK)
        return rc;
    const json_t *t = json_object_get(cfg, "type");
    if (t && (!json_is_string(t) || strcmp(json_string_value(t), tname))) {
        char p[PTR_MAX];
        ptr_join(p, ptr, "type");
        return rr_err_at(err, RR_EPOLICY, p, 0, 0, 0, "expected type \"%s\"", tname);
    }
    s->empty = s->truncated = s->shape;
    s->refusal = s->shape;
    s->pii_leak = !s->shape;
    if ((rc = get_bool(cfg, ptr, "empty", &s->empty, err)) != RR_OK ||
        (rc = get_bool(cfg, ptr, "truncated", &s->truncated, err)) != RR_OK ||
        (rc = get_bool(cfg, ptr, "refusal", &s->refusal, err)) != RR_OK ||
        (rc = get_bool(cfg, ptr, "pii_leak", &s->pii_leak, err)) != RR_OK)
        return rc;
    if (!s->refusal && json_object_get(cfg, "refusal_patterns")) {
        char p[PTR_MAX];
        ptr_join(p, ptr, "refusal_patterns");
        return rr_err_at(err, RR_EPOLICY, p, 0, 0, 0,
                         "refusal_patterns has no effect while refusal is off");
    }
    return RR_OK;
}

static int build(rr_safety *s, const json_t *cfg, const char *ptr, uint32_t match_limit,
                 uint32_t depth_limit, rr_error *err) {
    int rc = parse_switches(s, cfg, ptr, err);
    if (rc != RR_OK)
        return rc;
    s->gctx = pcre2_general_context_create(pcre_malloc, pcre_free, &s->a);
    if (!s->gctx || !(s->mctx = pcre2_match_context_create(s->gctx)))
        return oom(err);
    pcre2_set_match_limit(s->mctx, match_limit ? match_limit : DEFAULT_MATCH_LIMIT);
    pcre2_set_depth_limit(s->mctx, depth_limit ? depth_limit : DEFAULT_DEPTH_LIMIT);
    pcre2_compile_context *cc = pcre2_compile_context_create(s->gctx);
    if (!cc)
        return oom(err);
    rc = parse_list(s, cc, cfg, ptr, "deny", &s->deny, &s->ndeny, err);
    if (rc == RR_OK && s->refusal) {
        if (json_object_get(cfg, "refusal_patterns"))
            rc = parse_list(s, cc, cfg, ptr, "refusal_patterns", &s->refusals, &s->nrefusals, err);
        else
            rc = default_refusal_list(s, cc, err);
    }
    pcre2_compile_context_free(cc);
    return rc;
}

int rr_safety_new(rr_safety **out, const json_t *config, const char *type, const char *pointer,
                  const char *name, const rr_alloc *a, uint32_t match_limit, uint32_t depth_limit,
                  rr_error *err) {
    if (out)
        *out = NULL;
    if (!out || !config || !type || !name || !a ||
        (strcmp(type, "safety") != 0 && strcmp(type, "shape") != 0))
        return rr_err(err, RR_EINVAL, "invalid argument");
    rr_safety *s = rr_calloc(a, 1, sizeof *s);
    if (!s)
        return oom(err);
    s->a = *a;
    s->shape = !strcmp(type, "shape");
    int rc = (s->name = rr_strdup(&s->a, name)) ? RR_OK : oom(err);
    if (rc == RR_OK)
        rc = build(s, config, pointer ? pointer : "", match_limit, depth_limit, err);
    if (rc != RR_OK) {
        rr_safety_free(s);
        return rc;
    }
    *out = s;
    return RR_OK;
}

static void free_list(const rr_alloc *a, pattern *list, size_t n) {
    for (size_t i = 0; i < n; i++) {
        pcre2_code_free(list[i].re);
        rr_free(a, list[i].id);
        rr_free(a, list[i].ptr);
    }
    rr_free(a, list);
}

void rr_safety_free(rr_safety *s) {
    if (!s)
        return;
    free_list(&s->a, s->deny, s->ndeny);
    free_list(&s->a, s->refusals, s->nrefusals);
    pcre2_match_context_free(s->mctx);
    pcre2_general_context_free(s->gctx);
    rr_free(&s->a, s->name);
    rr_alloc a = s->a;
    rr_free(&a, s);
}

const char *rr_safety_name(const rr_safety *s) {
    return s ? s->name : NULL;
}

const char *rr_safety_type(const rr_safety *s) {
    return s ? (s->shape ? "shape" : "safety") : NULL;
}

int rr_safety_scratch_new(rr_safety_scratch **out, const rr_alloc *a) {
    if (out)
        *out = NULL;
    if (!out || !a)
        return RR_EINVAL;
    rr_safety_scratch *s = rr_calloc(a, 1, sizeof *s);
    if (!s)
        return RR_ENOMEM;
    s->a = *a;
    s->gctx = pcre2_general_context_create(pcre_malloc, pcre_free, &s->a);
    s->md = s->gctx ? pcre2_match_data_create(1, s->gctx) : NULL;
    if (!s->md) {
        rr_safety_scratch_free(s);
        return RR_ENOMEM;
    }
    *out = s;
    return RR_OK;
}

void rr_safety_scratch_free(rr_safety_scratch *s) {
    if (!s)
        return;
    pcre2_match_data_free(s->md);
    pcre2_general_context_free(s->gctx);
    rr_alloc a = s->a;
    rr_free(&a, s);
}

/* ---- UTF-8 and whitespace -------------------------------------------------------------- */

/* One UTF-8 sequence at s[*pi] (RFC 3629: no overlongs, surrogates or values past
 * U+10FFFF). 1 = valid, *pi advanced, *cp set; 0 = a valid beginning cut by the end of
 * the text; -1 = invalid. */
static int utf8_seq(const unsigned char *s, size_t n, size_t *pi, uint32_t *cp) {
    size_t i = *pi;
    unsigned c = s[i];
    unsigned need, lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
        *cp = c;
        *pi = i + 1;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return -1;
    uint32_t v = c & (0x3Fu >> need);
    for (unsigned k = 1; k <= need; k++) {
        if (i + k >= n)
            return 0;
        unsigned b = s[i + k];
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF))
            return -1;
        v = v << 6 | (b & 0x3F);
    }
    *cp = v;
    *pi = i + need + 1;
    return 1;
}

static bool blank_cp(uint32_t c) {
    if (c <= 0x20)
        return c == 0 || c == ' ' || (c >= 0x09 && c <= 0x0D);
    switch (c) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x2060:
    case 0x3000:
    case 0xFEFF:
        return true;
    default:
        return c >= 0x2000 && c <= 0x200D;
    }
}

static bool all_blank(const char *text, size_t n) {
    const unsigned char *s = (const unsigned char *)text;
    uint32_t cp;
    for (size_t i = 0; i < n;)
        if (utf8_seq(s, n, &i, &cp) != 1 || !blank_cp(cp))
            return false;
    return true;
}

/* ---- truncated JSON ------------------------------------------------------------------ */

static int hexval(unsigned c) {
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? (int)(c - 'a' + 10) : -1;
}

/* Four hex digits after "\u" at s[i]; digits must stay within [lo, hi] as far as they go,
 * so a cut escape is a prefix only when some completion lands in range. */
static int hex4(const unsigned char *s, size_t n, size_t i, unsigned lo, unsigned hi,
                unsigned *out) {
    unsigned v = 0;
    for (unsigned k = 0; k < 4; k++) {
        if (i + k >= n) {
            unsigned shift = 4 * (4 - k);
            return (v << shift) <= hi && ((v << shift) | ((1u << shift) - 1)) >= lo ? 0 : -1;
        }
        int h = hexval(s[i + k]);
        if (h < 0)
            return -1;
        v = v << 4 | (unsigned)h;
    }
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 1;
}

/* s[*pi] is the 'u' of an escape. Surrogates must pair, as jansson requires. */
static int scan_u_escape(const unsigned char *s, size_t n, size_t *pi) {
    size_t i = *pi + 1;
    unsigned v;
    int r = hex4(s, n, i, 0, 0xFFFF, &v);
    if (r <= 0)
        return r;
    i += 4;
    if (v >= 0xDC00 && v <= 0xDFFF)
        return -1;
    if (v >= 0xD800 && v <= 0xDBFF) {
        if (i >= n)
            return 0;
        if (s[i] != '\\')
            return -1;
        if (i + 1 >= n)
            return 0;
        if (s[i + 1] != 'u')
            return -1;
        if ((r = hex4(s, n, i + 2, 0xDC00, 0xDFFF, &v)) <= 0)
            return r;
        i += 6;
    }
    *pi = i;
    return 1;
}

/* After the opening quote: 1 = closed (*pi past it), 0 = cut, -1 = invalid. */
static int scan_string(const unsigned char *s, size_t n, size_t *pi) {
    size_t i = *pi;
    while (i < n) {
        unsigned c = s[i];
        int r;
        if (c == '"') {
            *pi = i + 1;
            return 1;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (++i >= n)
                return 0;
            c = s[i];
            if (c == 'u') {
                if ((r = scan_u_escape(s, n, &i)) <= 0)
                    return r;
                continue;
            }
            if (!c || !strchr("\"\\/bfnrt", (int)c))
                return -1;
            i++;
            continue;
        }
        uint32_t cp;
        if ((r = utf8_seq(s, n, &i, &cp)) <= 0)
            return r;
    }
    return 0;
}

static bool is_digit(unsigned c) {
    return c - '0' < 10u;
}

/* 1 = complete and followed by another byte (*pi at it), 2 = complete at the end of the
 * text, 0 = cut before it could be complete, -1 = invalid. */
static int scan_number(const unsigned char *s, size_t n, size_t *pi) {
    size_t i = *pi;
    if (s[i] == '-' && ++i >= n)
        return 0;
    if (s[i] == '0')
        i++;
    else if (is_digit(s[i]))
        while (i < n && is_digit(s[i]))
            i++;
    else
        return -1;
    if (i < n && s[i] == '.') {
        if (++i >= n)
            return 0;
        if (!is_digit(s[i]))
            return -1;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i >= n)
            return 0;
        if ((s[i] == '+' || s[i] == '-') && ++i >= n)
            return 0;
        if (!is_digit(s[i]))
            return -1;
        while (i < n && is_digit(s[i]))
            i++;
    }
    *pi = i;
    return i >= n ? 2 : 1;
}

enum { J_VALUE, J_VALUE_OR_CLOSE, J_KEY, J_KEY_OR_CLOSE, J_COLON, J_NEXT, J_DONE };

typedef struct jstate {
    uint64_t objs[JSON_MAX_DEPTH / 64]; /* bit per level: object (1) or array (0) */
    size_t depth;
    int st;
} jstate;

static bool top_is_object(const jstate *j) {
    size_t d = j->depth - 1;
    return (j->objs[d / 64] >> (d % 64)) & 1;
}

static void after_value(jstate *j) {
    j->st = j->depth ? J_NEXT : J_DONE;
}

static bool open_container(jstate *j, bool obj) {
    if (j->depth >= JSON_MAX_DEPTH)
        return false;
    size_t d = j->depth++;
    if (obj)
        j->objs[d / 64] |= (uint64_t)1 << (d % 64);
    else
        j->objs[d / 64] &= ~((uint64_t)1 << (d % 64));
    j->st = obj ? J_KEY_OR_CLOSE : J_VALUE_OR_CLOSE;
    return true;
}

/* A value starting at s[*pi]. 1 = complete (state advanced), 0 = the text ends inside it
 * (truncated), -1 = invalid, 2 = a top-level number ran to the end (complete JSON). */
static int scan_value(jstate *j, const unsigned char *s, size_t n, size_t *pi) {
    static const char *const lits[] = {"true", "false", "null"};
    unsigned c = s[*pi];
    int r;
    if (c == '{' || c == '[') {
        ++*pi;
        return open_container(j, c == '{') ? 1 : -1;
    }
    if (c == '"') {
        ++*pi;
        if ((r = scan_string(s, n, pi)) == 1)
            after_value(j);
        return r;
    }
    if (c == '-' || is_digit(c)) {
        if ((r = scan_number(s, n, pi)) == 1)
            after_value(j);
        return r == 2 ? (j->depth ? 0 : 2) : r;
    }
    for (size_t k = 0; k < RR_ARRAY_LEN(lits); k++) {
        if ((unsigned char)lits[k][0] != c)
            continue;
        for (size_t m = 1; lits[k][m]; m++) {
            if (*pi + m >= n)
                return 0;
            if (s[*pi + m] != (unsigned char)lits[k][m])
                return -1;
        }
        *pi += strlen(lits[k]);
        after_value(j);
        return 1;
    }
    return -1;
}

/* One structural step at s[*pi] (not whitespace). 1 = go on, 0 = truncated, -1 = not a
 * prefix, 2 = complete. */
static int json_step(jstate *j, const unsigned char *s, size_t n, size_t *pi) {
    unsigned c = s[*pi];
    switch (j->st) {
    case J_DONE:
        return -1;
    case J_COLON:
        if (c != ':')
            return -1;
        ++*pi;
        j->st = J_VALUE;
        return 1;
    case J_NEXT:
        if (c == ',') {
            ++*pi;
            j->st = top_is_object(j) ? J_KEY : J_VALUE;
            return 1;
        }
        if (c != (top_is_object(j) ? '}' : ']'))
            return -1;
        break; /* close below */
    case J_KEY_OR_CLOSE:
    case J_KEY:
        if (c == '}' && j->st == J_KEY_OR_CLOSE)
            break;
        if (c != '"')
            return -1;
        ++*pi;
        int r = scan_string(s, n, pi);
        if (r == 1)
            j->st = J_COLON;
        return r;
    default: /* J_VALUE, J_VALUE_OR_CLOSE */
        if (c == ']' && j->st == J_VALUE_OR_CLOSE)
            break;
        return scan_value(j, s, n, pi);
    }
    ++*pi;
    j->depth--;
    after_value(j);
    return 1;
}

bool rr_json_is_truncated_prefix(const char *text, size_t n) {
    if (!text)
        return false;
    const unsigned char *s = (const unsigned char *)text;
    jstate j;
    j.depth = 0;
    j.st = J_VALUE;
    bool started = false;
    for (size_t i = 0;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i >= n)
            return started && j.st != J_DONE;
        started = true;
        int r = json_step(&j, s, n, &i);
        if (r != 1)
            return r == 0;
    }
}

/* ---- checking ------------------------------------------------------------------------ */

typedef struct run {
    const rr_safety *s;
    rr_safety_scratch *sc;
    struct rr_verdict *v;
    rr_error *err;
    int rc;
} run;

__attribute__((format(printf, 8, 9))) static void report(run *r, const char *failure,
                                                         const char *code, const char *kw,
                                                         const char *kwloc, int64_t a, int64_t b,
                                                         const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rr_verdict_fail(r->v, failure);
    int rc = rr_verdict_add(r->v, r->s->name, code, kw, "", 0, kwloc, kwloc ? strlen(kwloc) : 0, a,
                            b, "%s", msg);
    if (rc != RR_OK && r->rc == RR_OK)
        r->rc = rr_err(r->err, rc, "%s: out of memory recording a finding", r->s->name);
}

/* 1 = match (span set), 0 = none, < 0 = error code (err filled). */
static int first_match(run *r, const pattern *pt, const char *text, size_t len, int64_t *a,
                       int64_t *b) {
    int rc =
        pcre2_match(pt->re, (PCRE2_SPTR)text, len, 0, PCRE2_NO_UTF_CHECK, r->sc->md, r->s->mctx);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0) {
        PCRE2_UCHAR8 msg[120];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return rr_err_at(r->err, rc == PCRE2_ERROR_NOMEMORY ? RR_ENOMEM : RR_ELIMIT, pt->ptr, 0, 0,
                         0, "%s: pattern '%s' failed on this output: %s", r->s->name, pt->id,
                         (const char *)msg);
    }
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->sc->md);
    /* \K can put the start after the end; report the covered bytes either way. */
    *a = (int64_t)(ov[0] < ov[1] ? ov[0] : ov[1]);
    *b = (int64_t)(ov[0] < ov[1] ? ov[1] : ov[0]);
    return 1;
}

static int check_refusal(run *r, const char *text, size_t len) {
    for (size_t i = 0; i < r->s->nrefusals; i++) {
        const pattern *pt = &r->s->refusals[i];
        int64_t a, b;
        int m = first_match(r, pt, text, len, &a, &b);
        if (m < 0)
            return m;
        if (m) {
            report(r, RR_FAIL_REFUSAL, "refusal", pt->id, pt->ptr, a, b,
                   "output reads as a refusal (pattern '%s')", pt->id);
            return RR_OK;
        }
    }
    return RR_OK;
}

static int check_deny(run *r, const char *text, size_t len) {
    for (size_t i = 0; i < r->s->ndeny; i++) {
        const pattern *pt = &r->s->deny[i];
        int64_t a, b;
        int m = first_match(r, pt, text, len, &a, &b);
        if (m < 0)
            return m;
        if (m)
            report(r, RR_FAIL_SAFETY, "deny_pattern", pt->id, pt->ptr, a, b,
                   "output matches deny pattern '%s'", pt->id);
    }
    return RR_OK;
}

static uint32_t pii_mask(const rr_text_features *f) {
    uint32_t m = 0;
    for (unsigned t = 0; t < RR_PII__COUNT; t++)
        m |= f->pii[t] ? 1u << t : 0;
    return m;
}

/* PII types found in `text` (only its valid UTF-8 prefix is scanned). */
static uint32_t text_pii(const char *text, size_t len) {
    if (!text || !len)
        return 0;
    rr_text_features f;
    size_t nspans = 0;
    rr_text_features_extract(text, rr_utf8_check(text, len), &f, NULL, 0, &nspans);
    return pii_mask(&f);
}

static uint32_t allowed_pii(const rr_safety_input *in, uint32_t found) {
    uint32_t ok = in->request_features ? pii_mask(in->request_features)
                                       : text_pii(in->request_text, in->request_len);
    for (size_t i = 0; i < in->nevidence && (found & ~ok); i++)
        if (in->evidence && in->evidence[i])
            ok |= text_pii(in->evidence[i],
                           in->evidence_len ? in->evidence_len[i] : strlen(in->evidence[i]));
    return ok;
}

static const char *pii_label(uint32_t t) {
    static const char *const labels[RR_PII__COUNT] = {"an email address",
                                                      "a phone number",
                                                      "a card number",
                                                      "an IBAN",
                                                      "a US social security number",
                                                      "an IPv4 address",
                                                      "an IPv6 address"};
    return t < RR_PII__COUNT ? labels[t] : "PII";
}

static void check_pii(run *r, const rr_safety_input *in, const char *text, size_t len) {
    rr_text_features f;
    size_t nspans = 0;
    rr_text_features_extract(text, len, &f, r->sc->spans, RR_SAFETY_MAX_SPANS, &nspans);
    uint32_t found = pii_mask(&f);
    if (!found)
        return;
    uint32_t leak = found & ~allowed_pii(in, found), reported = 0;
    for (size_t i = 0; i < nspans && leak; i++) {
        const rr_pii_span *sp = &r->sc->spans[i];
        if (sp->type >= RR_PII__COUNT || !(leak >> sp->type & 1))
            continue;
        reported |= 1u << sp->type;
        report(r, RR_FAIL_SAFETY, "pii_leak", rr_pii_name((rr_pii_type)sp->type), NULL, sp->start,
               sp->end,
               "output contains %s found in neither the request nor the "
               "evidence",
               pii_label(sp->type));
    }
    for (uint32_t t = 0; t < RR_PII__COUNT; t++) /* detections past the span buffer */
        if ((leak & ~reported) >> t & 1)
            report(r, RR_FAIL_SAFETY, "pii_leak", rr_pii_name((rr_pii_type)t), NULL, -1, -1,
                   "output contains %s found in neither the request nor the evidence",
                   pii_label(t));
}

int rr_safety_check(const rr_safety *s, rr_safety_scratch *scratch, const rr_safety_input *in,
                    struct rr_verdict *v, rr_error *err) {
    if (!s || !scratch || !in || !v || (!in->output && in->output_len) ||
        (!in->request_text && in->request_len))
        return rr_err(err, RR_EINVAL, "invalid argument");
    run r = {s, scratch, v, err, RR_OK};
    const char *out = in->output ? in->output : "";
    size_t len = in->output_len, valid = rr_utf8_check(out, len);
    if (s->shape && s->empty && valid == len && all_blank(out, len)) {
        report(&r, RR_FAIL_EMPTY, "empty_output", "", NULL, -1, -1,
               len ? "output is only whitespace" : "output is empty");
        return r.rc;
    }
    if (valid < len) {
        size_t i = valid;
        uint32_t cp;
        if (utf8_seq((const unsigned char *)out, len, &i, &cp) != 0) /* 0: cut at the end */
            report(&r, RR_FAIL_SAFETY, "invalid_utf8", "", NULL, (int64_t)valid, (int64_t)valid + 1,
                   "output is not valid UTF-8 at byte %zu", valid);
    }
    if (s->shape && s->truncated && in->output_is_json && rr_json_is_truncated_prefix(out, len))
        report(&r, RR_FAIL_TRUNCATED, "truncated_json", "", NULL, -1, -1,
               "output is JSON that stops before its top value is complete");
    int rc = s->refusal ? check_refusal(&r, out, valid) : RR_OK;
    if (rc == RR_OK)
        rc = check_deny(&r, out, valid);
    if (rc != RR_OK)
        return rc;
    if (s->pii_leak)
        check_pii(&r, in, out, valid);
    return r.rc;
}
