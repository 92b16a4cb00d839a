/* Semantic checks: fields read from the output by JSON pointer land in slots after the
 * router's, and each check is an ordinary compiled condition over both. Pointers are split
 * into segments once at compile time, so checking walks the parsed output without
 * allocating or re-parsing anything. */
#include "conf.h"
#include "validate_semantic.h"

#include "router.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PTR_MAX 512
#define PATH_MAX_BYTES 1024

enum { F_NUM, F_STR, F_BOOL, F_DATE, F_SUM };

static const struct {
    const char *name;
    int kind;
    rr_type type;
} field_types[] = {{"number", F_NUM, RR_T_NUM},
                   {"string", F_STR, RR_T_STR},
                   {"bool", F_BOOL, RR_T_BOOL},
                   {"date", F_DATE, RR_T_NUM}};

typedef struct seg {
    char *key; /* decoded (~0 ~1); may hold NUL bytes */
    size_t len;
    bool star;
    bool is_index; /* a valid array index: 0 or [1-9][0-9]* */
    size_t index;
} seg;

typedef struct field {
    char *name;
    char *loc;    /* instance location: the pointer, or a sum's part before its first '*' */
    char *kw_loc; /* policy pointer of the field definition */
    int kind;
    rr_type type;
    seg *segs;
    size_t nsegs, first_star; /* first_star == nsegs when there is none */
} field;

typedef struct check {
    char *id;
    char *message;
    char *kw_loc;
    rr_expr *e;
    int first_field; /* -1 when the check reads no field */
} check;

struct rr_semantic {
    rr_alloc a;
    char *name;
    size_t base; /* router slots before the fields */
    field *fields;
    size_t nfields;
    check *checks;
    size_t nchecks;
};

/* ---- small helpers ---------------------------------------------------------------- */

/* Append one RFC 6901 reference token (escaping '~' and '/') to a fixed buffer; an
 * over-long result is cut, which only shortens an error message or location. */
static size_t ptr_push(char *buf, size_t cap, size_t len, const char *tok, size_t n) {
    if (len + 1 < cap)
        buf[len++] = '/';
    for (size_t i = 0; i < n && len + 2 < cap; i++) {
        if (tok[i] == '~' || tok[i] == '/') {
            buf[len++] = '~';
            buf[len++] = tok[i] == '~' ? '0' : '1';
        } else {
            buf[len++] = tok[i];
        }
    }
    buf[len < cap ? len : cap - 1] = 0;
    return len < cap ? len : cap - 1;
}

static void ptr_join(char *out, const char *base, const char *tok) {
    snprintf(out, PTR_MAX, "%s", base);
    ptr_push(out, PTR_MAX, strlen(out), tok, strlen(tok));
}

static void ptr_index(char *out, const char *base, size_t i) {
    snprintf(out, PTR_MAX, "%s/%zu", base, i);
}

static int oom(rr_error *err) {
    return rr_err(err, RR_ENOMEM, "out of memory");
}


static int get_string(const json_t *obj, const char *ptr, const char *key, bool required,
                      const json_t **out, rr_error *err) {
    *out = json_object_get(obj, key);
    char p[PTR_MAX];
    ptr_join(p, ptr, key);
    if (!*out)
        return required ? rr_err_at(err, RR_EPOLICY, ptr, 0, 0, 0, "missing required key '%s'", key)
                        : RR_OK;
    if (!json_is_string(*out))
        return rr_err_at(err, RR_EPOLICY, p, 0, 0, 0, "'%s' must be a string, found %s", key,
                         rr_json_type_name(*out));
    if (strlen(json_string_value(*out)) != json_string_length(*out))
        return rr_err_at(err, RR_EPOLICY, p, 0, 0, 0, "'%s' must not contain NUL characters", key);
    return RR_OK;
}

/* ---- JSON pointers ---------------------------------------------------------------- */

static bool parse_index(const char *s, size_t n, size_t *out) {
    if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
        return false;
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Split `src` (RFC 6901) into decoded segments. `star` says whether an unescaped "*"
 * segment is a wildcard (sum) or refused (plain pointers have no wildcard). */
static int split_pointer(const rr_alloc *a, field *f, const char *src, size_t n, bool star,
                         const char *ptr, rr_error *err) {
    if (n && src[0] != '/')
        return rr_err_at(err, RR_EPOLICY, ptr, 0, 0, 0,
                         "a JSON pointer is empty or starts with '/'");
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += src[i] == '/';
    if (count > RR_SEMANTIC_MAX_SEGMENTS)
        return rr_err_at(err, RR_EPOLICY, ptr, 0, 0, 0,
                         "a JSON pointer may have at most %d "
                         "segments",
                         RR_SEMANTIC_MAX_SEGMENTS);
    f->segs = rr_calloc(a, count ? count : 1, sizeof *f->segs);
    if (!f->segs)
        return oom(err);
    f->first_star = count;
    for (size_t i = 1; f->nsegs < count;) {
        size_t e = i;
        while (e < n && src[e] != '/')
            e++;
        seg *sg = &f->segs[f->nsegs];
        if (!(sg->key = rr_malloc(a, e - i + 1)))
            return oom(err);
        f->nsegs++;
        for (size_t k = i; k < e; k++) {
            char c = src[k];
            if (c == '~') {
                if (k + 1 >= e || (src[k + 1] != '0' && src[k + 1] != '1'))
                    return rr_err_at(err, RR_EPOLICY, ptr, 0, 0, 0,
                                     "invalid JSON pointer: '~' must be followed by 0 or 1");
                c = src[++k] == '0' ? '~' : '/';
            }
            sg->key[sg->len++] = c;
        }
        sg->key[sg->len] = 0;
        bool raw_star = e - i == 1 && src[i] == '*';
        if (raw_star && !star)
            return rr_err_at(err, RR_EPOLICY, ptr, 0, 0, 0,
                             "a '*' segment matches many values; only \"sum\" fields take "
                             "wildcards");
        sg->star = raw_star;
        if (raw_star && f->first_star == count)
            f->first_star = f->nsegs - 1;
        sg->is_index = parse_index(sg->key, sg->len, &sg->index);
        i = e + 1;
    }
    return RR_OK;
}

/* The instance location of a field: its pointer up to the first wildcard. */
static int field_loc(const rr_alloc *a, field *f, rr_error *err) {
    char buf[PATH_MAX_BYTES];
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < f->first_star; i++)
        len = ptr_push(buf, sizeof buf, len, f->segs[i].key, f->segs[i].len);
    f->loc = rr_strndup(a, buf, len);
    return f->loc ? RR_OK : oom(err);
}

static const json_t *step(const json_t *j, const seg *sg) {
    if (json_is_object(j))
        return json_object_getn(j, sg->key, sg->len);
    if (json_is_array(j) && sg->is_index)
        return json_array_get(j, sg->index);
    return NULL;
}

/* ---- compilation -------------------------------------------------------------------- */

static bool is_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool valid_name(const char *s, size_t n) {
    static const char *const keywords[] = {"true", "false", "in", "has", "bucket"};
    if (n == 0 || strlen(s) != n || !is_ident_start(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_ident_start(s[i]) && !(s[i] >= '0' && s[i] <= '9') && s[i] != '.')
            return false;
    for (size_t i = 0; i < RR_ARRAY_LEN(keywords); i++)
        if (!strcmp(s, keywords[i]))
            return false;
    return true;
}

static int check_name(const struct rr_router *r, const char *name, size_t n, const char *ptr,
                      rr_error *err) {
    if (!valid_name(name, n))
        return rr_err_at(err, RR_EPOLICY, ptr, 0, 0, 0,
                         "field name '%s' is not an identifier ([A-Za-z_][A-Za-z0-9_.]*, not a "
                         "keyword)",
                         name);
    if (!strncmp(name, "thr.", 4) || !strncmp(name, "match.", 6))
        return rr_err_at(err, RR_EPOLICY, ptr, 0, 0, 0,
                         "field names may not start with thr. or match.");
    for (size_t i = 0; r && i < r->nslots; i++)
        if (!strcmp(r->slot_names[i], name))
            return rr_err_at(err, RR_EPOLICY, ptr, 0, 0, 0,
                             "field '%s' shadows the router's identifier of that name", name);
    return RR_OK;
}

static int parse_field_kind(field *f, const json_t *def, const char *fp, rr_error *err) {
    static const char *const plain_keys[] = {"pointer", "type", NULL};
    static const char *const sum_keys[] = {"sum", NULL};
    const json_t *sum = json_object_get(def, "sum"), *ptr = json_object_get(def, "pointer");
    if (!!sum == !!ptr)
        return rr_err_at(err, RR_EPOLICY, fp, 0, 0, 0,
                         "a field has exactly one of \"pointer\" or \"sum\"");
    if (sum) {
        f->kind = F_SUM;
        f->type = RR_T_NUM;
        return rr_conf_check_keys(def, fp, sum_keys, "a sum field", err);
    }
    int rc = rr_conf_check_keys(def, fp, plain_keys, "a field", err);
    const json_t *t;
    if (rc == RR_OK)
        rc = get_string(def, fp, "type", true, &t, err);
    if (rc != RR_OK)
        return rc;
    for (size_t i = 0; i < RR_ARRAY_LEN(field_types); i++) {
        if (!strcmp(json_string_value(t), field_types[i].name)) {
            f->kind = field_types[i].kind;
            f->type = field_types[i].type;
            return RR_OK;
        }
    }
    char tp[PTR_MAX];
    ptr_join(tp, fp, "type");
    return rr_err_at(err, RR_EPOLICY, tp, 0, 0, 0,
                     "unknown field type '%s' (expected number, string, bool or date)",
                     json_string_value(t));
}

static int parse_field(rr_semantic *s, const struct rr_router *r, const char *name, size_t nlen,
                       const json_t *def, const char *fp, rr_error *err) {
    field *f = &s->fields[s->nfields++];
    int rc = check_name(r, name, nlen, fp, err);
    if (rc != RR_OK)
        return rc;
    for (size_t i = 0; i + 1 < s->nfields; i++)
        if (!strcmp(s->fields[i].name, name)) /* jansson keeps the last of duplicate keys */
            return rr_err_at(err, RR_EPOLICY, fp, 0, 0, 0, "field '%s' defined twice", name);
    if (!(f->name = rr_strdup(&s->a, name)) || !(f->kw_loc = rr_strdup(&s->a, fp)))
        return oom(err);
    if (!json_is_object(def))
        return rr_err_at(err, RR_EPOLICY, fp, 0, 0, 0, "a field must be an object, found %s",
                         rr_json_type_name(def));
    if ((rc = parse_field_kind(f, def, fp, err)) != RR_OK)
        return rc;
    const char *key = f->kind == F_SUM ? "sum" : "pointer";
    const json_t *p;
    if ((rc = get_string(def, fp, key, true, &p, err)) != RR_OK)
        return rc;
    char pp[PTR_MAX];
    ptr_join(pp, fp, key);
    rc = split_pointer(&s->a, f, json_string_value(p), json_string_length(p), f->kind == F_SUM, pp,
                       err);
    return rc == RR_OK ? field_loc(&s->a, f, err) : rc;
}

static int parse_fields(rr_semantic *s, const struct rr_router *r, const json_t *fields,
                        const char *ptr, rr_error *err) {
    char fp[PTR_MAX];
    ptr_join(fp, ptr, "fields");
    if (!json_is_object(fields))
        return rr_err_at(err, RR_EPOLICY, fp, 0, 0, 0, "'fields' must be an object, found %s",
                         rr_json_type_name(fields));
    size_t n = json_object_size(fields);
    if (n > RR_SEMANTIC_MAX_FIELDS)
        return rr_err_at(err, RR_EPOLICY, fp, 0, 0, 0, "at most %d fields per validator",
                         RR_SEMANTIC_MAX_FIELDS);
    if (n && !(s->fields = rr_calloc(&s->a, n, sizeof *s->fields)))
        return oom(err);
    const char *name;
    size_t nlen;
    json_t *def;
    json_object_keylen_foreach((json_t *)fields, name, nlen, def) {
        char p[PTR_MAX];
        ptr_join(p, fp, name);
        int rc = parse_field(s, r, name, nlen, def, p, err);
        if (rc != RR_OK)
            return rc;
    }
    return RR_OK;
}

typedef struct resolve_ctx {
    const rr_semantic *s;
    const struct rr_router *r;
} resolve_ctx;

static int resolve(void *ud, const char *name, size_t len, int *slot, rr_type *type) {
    const resolve_ctx *c = ud;
    for (size_t i = 0; i < c->s->nfields; i++) {
        const field *f = &c->s->fields[i];
        if (strlen(f->name) == len && !memcmp(f->name, name, len)) {
            *slot = (int)(c->s->base + i);
            *type = f->type;
            return 0;
        }
    }
    for (size_t i = 0; c->r && i < c->r->nslots; i++) {
        if (strlen(c->r->slot_names[i]) == len && !memcmp(c->r->slot_names[i], name, len)) {
            *slot = (int)i;
            *type = c->r->slot_types[i];
            return 0;
        }
    }
    return -1;
}

static int compile_assert(rr_semantic *s, const struct rr_router *r, check *c, const char *src,
                          const char *ap, rr_error *err) {
    resolve_ctx rc = {s, r};
    rr_expr_diag d;
    int code = rr_expr_compile(&s->a, src, resolve, &rc, &c->e, &d);
    if (code == RR_ENOMEM)
        return oom(err);
    if (code != RR_OK)
        return rr_err_at(err, RR_EEXPR, ap, 0, 0, d.column, "%s (column %u)", d.message,
                         (unsigned)d.column);
    int k = rr_expr_constant(c->e);
    if (k >= 0)
        return rr_err_at(err, RR_EEXPR, ap, 0, 0, 1,
                         "check is always %s: it reads no field or request value (column 1)",
                         k ? "true" : "false");
    c->first_field = -1;
    for (size_t i = 0; i < rr_expr_ref_count(c->e) && c->first_field < 0; i++)
        if ((size_t)rr_expr_ref(c->e, i) >= s->base)
            c->first_field = rr_expr_ref(c->e, i) - (int)s->base;
    return RR_OK;
}

static int parse_check(rr_semantic *s, const struct rr_router *r, const json_t *def, const char *cp,
                       rr_error *err) {
    static const char *const keys[] = {"id", "assert", "message", NULL};
    check *c = &s->checks[s->nchecks++];
    if (!json_is_object(def))
        return rr_err_at(err, RR_EPOLICY, cp, 0, 0, 0, "a check must be an object, found %s",
                         rr_json_type_name(def));
    const json_t *id, *as, *msg;
    int rc = rr_conf_check_keys(def, cp, keys, "a check", err);
    if (rc == RR_OK)
        rc = get_string(def, cp, "id", true, &id, err);
    if (rc == RR_OK)
        rc = get_string(def, cp, "assert", true, &as, err);
    if (rc == RR_OK)
        rc = get_string(def, cp, "message", false, &msg, err);
    if (rc != RR_OK)
        return rc;
    char ip[PTR_MAX], ap[PTR_MAX];
    ptr_join(ip, cp, "id");
    ptr_join(ap, cp, "assert");
    if (!json_string_length(id))
        return rr_err_at(err, RR_EPOLICY, ip, 0, 0, 0, "a check id must not be empty");
    for (size_t i = 0; i + 1 < s->nchecks; i++)
        if (!strcmp(s->checks[i].id, json_string_value(id)))
            return rr_err_at(err, RR_EPOLICY, ip, 0, 0, 0, "check id '%s' used twice",
                             json_string_value(id));
    c->id = rr_strdup(&s->a, json_string_value(id));
    c->message = rr_strdup(&s->a, json_string_value(msg ? msg : as));
    c->kw_loc = rr_strdup(&s->a, cp);
    if (!c->id || !c->message || !c->kw_loc)
        return oom(err);
    return compile_assert(s, r, c, json_string_value(as), ap, err);
}

static int parse_checks(rr_semantic *s, const struct rr_router *r, const json_t *checks,
                        const char *ptr, rr_error *err) {
    char cp[PTR_MAX];
    ptr_join(cp, ptr, "checks");
    if (!json_is_array(checks) || json_array_size(checks) == 0)
        return rr_err_at(err, RR_EPOLICY, cp, 0, 0, 0,
                         "'checks' must be a non-empty array of checks");
    if (!(s->checks = rr_calloc(&s->a, json_array_size(checks), sizeof *s->checks)))
        return oom(err);
    for (size_t i = 0; i < json_array_size(checks); i++) {
        char p[PTR_MAX];
        ptr_index(p, cp, i);
        int rc = parse_check(s, r, json_array_get(checks, i), p, err);
        if (rc != RR_OK)
            return rc;
    }
    return RR_OK;
}

static int parse_config(rr_semantic *s, const struct rr_router *r, const json_t *config,
                        const char *ptr, rr_error *err) {
    static const char *const keys[] = {"type", "version", "description", "fields", "checks", NULL};
    if (!json_is_object(config))
        return rr_err_at(err, RR_EPOLICY, ptr, 0, 0, 0,
                         "a semantic validator must be an object, found %s", rr_json_type_name(config));
    int rc = rr_conf_check_keys(config, ptr, keys, "a semantic validator", err);
    if (rc != RR_OK)
        return rc;
    const json_t *type = json_object_get(config, "type");
    if (type && (!json_is_string(type) || strcmp(json_string_value(type), "semantic"))) {
        char tp[PTR_MAX];
        ptr_join(tp, ptr, "type");
        return rr_err_at(err, RR_EPOLICY, tp, 0, 0, 0, "expected type \"semantic\"");
    }
    const json_t *fields = json_object_get(config, "fields");
    if (fields && (rc = parse_fields(s, r, fields, ptr, err)) != RR_OK)
        return rc;
    const json_t *checks = json_object_get(config, "checks");
    if (!checks)
        return rr_err_at(err, RR_EPOLICY, ptr, 0, 0, 0, "missing required key 'checks'");
    return parse_checks(s, r, checks, ptr, err);
}

int rr_semantic_new(rr_semantic **out, const struct rr_router *router, const json_t *config,
                    const char *pointer, const char *name, const rr_alloc *a, rr_error *err) {
    if (out)
        *out = NULL;
    if (!out || !config || !a || !name)
        return rr_err(err, RR_EINVAL, "invalid argument");
    rr_semantic *s = rr_calloc(a, 1, sizeof *s);
    if (!s)
        return oom(err);
    s->a = *a;
    s->base = router ? router->nslots : 0;
    int rc = (s->name = rr_strdup(&s->a, name)) ? RR_OK : oom(err);
    if (rc == RR_OK)
        rc = parse_config(s, router, config, pointer ? pointer : "", err);
    if (rc != RR_OK) {
        rr_semantic_free(s);
        return rc;
    }
    *out = s;
    return RR_OK;
}

void rr_semantic_free(rr_semantic *s) {
    if (!s)
        return;
    const rr_alloc *a = &s->a;
    for (size_t i = 0; i < s->nfields; i++) {
        field *f = &s->fields[i];
        for (size_t k = 0; k < f->nsegs; k++)
            rr_free(a, f->segs[k].key);
        rr_free(a, f->segs);
        rr_free(a, f->name);
        rr_free(a, f->loc);
        rr_free(a, f->kw_loc);
    }
    for (size_t i = 0; i < s->nchecks; i++) {
        rr_free(a, s->checks[i].id);
        rr_free(a, s->checks[i].message);
        rr_free(a, s->checks[i].kw_loc);
        rr_expr_free(s->checks[i].e);
    }
    rr_free(a, s->fields);
    rr_free(a, s->checks);
    rr_free(a, s->name);
    rr_alloc copy = *a;
    rr_free(&copy, s);
}

size_t rr_semantic_slot_count(const rr_semantic *s) {
    return s ? s->base + s->nfields : 0;
}

size_t rr_semantic_field_base(const rr_semantic *s) {
    return s ? s->base : 0;
}

size_t rr_semantic_field_count(const rr_semantic *s) {
    return s ? s->nfields : 0;
}

const char *rr_semantic_field_name(const rr_semantic *s, size_t i) {
    return s && i < s->nfields ? s->fields[i].name : NULL;
}

/* ---- dates -------------------------------------------------------------------------- */

static bool digits(const char *s, size_t n, int *out) {
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil), exact for every year RFC 3339 can write. */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

static bool parse_full_date(const char *s, int *y, int *m, int *d) {
    return digits(s, 4, y) && s[4] == '-' && digits(s + 5, 2, m) && s[7] == '-' &&
           digits(s + 8, 2, d) && *m >= 1 && *m <= 12 && *d >= 1 && *d <= days_in_month(*y, *m);
}

/* "hh:mm:ss[.frac]" then "Z" or "+hh:mm" / "-hh:mm"; seconds of the day minus the offset. */
static bool parse_time(const char *s, size_t n, double *secs) {
    int hh, mm, ss, oh, om;
    if (n < 9 || !digits(s, 2, &hh) || s[2] != ':' || !digits(s + 3, 2, &mm) || s[5] != ':' ||
        !digits(s + 6, 2, &ss) || hh > 23 || mm > 59 || ss > 60)
        return false;
    size_t i = 8;
    double frac = 0, scale = 0.1;
    if (s[i] == '.') {
        size_t start = ++i;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            frac += (s[i] - '0') * scale;
        if (i == start)
            return false;
    }
    double off = 0;
    if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) {
        off = 0;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2, &oh) &&
               s[i + 3] == ':' && digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59) {
        off = (s[i] == '-' ? -1 : 1) * (oh * 3600.0 + om * 60.0);
    } else {
        return false;
    }
    *secs = hh * 3600.0 + mm * 60.0 + ss + frac - off;
    return true;
}

/* RFC 3339 full-date or date-time to seconds since the epoch. */
static bool parse_rfc3339(const char *s, size_t n, double *out) {
    int y, m, d;
    if (n < 10 || !parse_full_date(s, &y, &m, &d))
        return false;
    double day = (double)days_from_civil(y, m, d) * 86400.0;
    if (n == 10) {
        *out = day;
        return true;
    }
    double t;
    if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !parse_time(s + 11, n - 11, &t))
        return false;
    *out = day + t;
    return true;
}

/* ---- reading fields ----------------------------------------------------------------- */

typedef struct run {
    const rr_semantic *s;
    struct rr_verdict *v;
    int rc;
    char path[PATH_MAX_BYTES]; /* location being walked, for sum findings */
    size_t plen;
} run;

static void finding(run *r, const field *f, const char *code, const char *loc, size_t loc_len,
                    const char *what, const char *found) {
    rr_verdict_fail(r->v, RR_FAIL_SEMANTIC);
    int rc = rr_verdict_add(r->v, r->s->name, code, f->name, loc, loc_len, f->kw_loc,
                            strlen(f->kw_loc), -1, -1, "field '%s' %s%s%s", f->name, what,
                            found ? ", found " : "", found ? found : "");
    if (rc != RR_OK && r->rc == RR_OK)
        r->rc = rc;
}

typedef struct sum_state {
    const field *f;
    double sum, comp; /* Neumaier: order-stable and exact for ordinary money amounts */
    bool bad;
} sum_state;

static void sum_add(sum_state *st, double x) {
    double t = st->sum + x;
    st->comp += fabs(st->sum) >= fabs(x) ? (st->sum - t) + x : (x - t) + st->sum;
    st->sum = t;
}

static void sum_mismatch(run *r, sum_state *st, const char *what, const json_t *j) {
    if (!st->bad) /* the first one says enough; the rest would repeat it */
        finding(r, st->f, "semantic_type_mismatch", r->path, r->plen, what, rr_json_type_name(j));
    st->bad = true;
}

static void sum_walk(run *r, sum_state *st, const json_t *j, size_t k);

static void sum_child(run *r, sum_state *st, const json_t *child, const char *key, size_t klen,
                      size_t k) {
    size_t mark = r->plen;
    r->plen = ptr_push(r->path, sizeof r->path, r->plen, key, klen);
    sum_walk(r, st, child, k);
    r->plen = mark;
    r->path[mark] = 0;
}

static void sum_walk(run *r, sum_state *st, const json_t *j, size_t k) {
    const field *f = st->f;
    if (!j || json_is_null(j))
        return;
    if (k == f->nsegs) {
        if (json_is_number(j))
            sum_add(st, json_number_value(j));
        else
            sum_mismatch(r, st, "sums numbers", j);
        return;
    }
    const seg *sg = &f->segs[k];
    if (!sg->star) {
        const json_t *c = step(j, sg);
        if (c)
            sum_child(r, st, c, sg->key, sg->len, k + 1);
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            char idx[24];
            int n = snprintf(idx, sizeof idx, "%zu", i);
            sum_child(r, st, json_array_get(j, i), idx, (size_t)n, k + 1);
        }
    } else if (json_is_object(j)) {
        for (void *it = json_object_iter((json_t *)j); it;
             it = json_object_iter_next((json_t *)j, it))
            sum_child(r, st, json_object_iter_value(it), json_object_iter_key(it),
                      json_object_iter_key_len(it), k + 1);
    } else {
        sum_mismatch(r, st, "expands '*' over arrays or objects", j);
    }
}

/* The value at segments [0, n) of `f`, or NULL. */
static const json_t *lookup(const field *f, const json_t *root, size_t n) {
    const json_t *j = root;
    for (size_t i = 0; i < n && j; i++)
        j = step(j, &f->segs[i]);
    return j;
}

static void set_default(rr_value *v, rr_type t) {
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)t;
    if (t == RR_T_STR)
        v->u.str = ""; /* never NULL, so string slots need no special case downstream */
}

/* Fill one field slot; false when the field got a finding. */
static bool read_field(run *r, const field *f, const json_t *output, rr_value *v) {
    set_default(v, f->type);
    if (f->kind == F_SUM) {
        const json_t *base = lookup(f, output, f->first_star);
        if (!base || json_is_null(base))
            return true;
        sum_state st = {f, 0, 0, false};
        memcpy(r->path, f->loc, strlen(f->loc) + 1);
        r->plen = strlen(f->loc);
        sum_walk(r, &st, base, f->first_star);
        v->present = 1;
        v->u.num = st.sum + st.comp;
        return !st.bad;
    }
    const json_t *j = lookup(f, output, f->nsegs);
    if (!j || json_is_null(j))
        return true;
    static const char *const expects[] = {"expects a number", "expects a string", "expects a bool",
                                          "expects an RFC 3339 date string"};
    bool ok = (f->kind == F_NUM && json_is_number(j)) ||
              (f->kind == F_BOOL && json_is_boolean(j)) ||
              ((f->kind == F_STR || f->kind == F_DATE) && json_is_string(j));
    if (!ok) {
        finding(r, f, "semantic_type_mismatch", f->loc, strlen(f->loc), expects[f->kind], rr_json_type_name(j));
        return false;
    }
    v->present = 1;
    if (f->kind == F_NUM) {
        v->u.num = json_number_value(j);
    } else if (f->kind == F_BOOL) {
        v->u.b = json_is_true(j);
    } else if (f->kind == F_STR) {
        v->u.str = json_string_value(j);
        v->len = (uint32_t)json_string_length(j);
    } else if (!parse_rfc3339(json_string_value(j), json_string_length(j), &v->u.num)) {
        finding(r, f, "invalid_date", f->loc, strlen(f->loc),
                "is not an RFC 3339 date or date-time", NULL);
        v->present = 0;
        v->u.num = 0;
        return false;
    }
    return true;
}

/* ---- checking ----------------------------------------------------------------------- */

static bool reads_bad_field(const rr_semantic *s, const check *c, const uint64_t *bad) {
    for (size_t i = 0; i < rr_expr_ref_count(c->e); i++) {
        size_t slot = (size_t)rr_expr_ref(c->e, i);
        if (slot >= s->base && (bad[(slot - s->base) / 64] >> ((slot - s->base) % 64) & 1))
            return true;
    }
    return false;
}

int rr_semantic_check(const rr_semantic *s, const json_t *output, rr_value *slots,
                      struct rr_verdict *v, rr_error *err) {
    if (!s || !slots || !v)
        return rr_err(err, RR_EINVAL, "invalid argument");
    run r;
    r.s = s;
    r.v = v;
    r.rc = RR_OK;
    r.plen = 0;
    r.path[0] = 0;
    uint64_t bad[RR_SEMANTIC_MAX_FIELDS / 64] = {0};
    for (size_t i = 0; i < s->nfields; i++)
        if (!read_field(&r, &s->fields[i], output, &slots[s->base + i]))
            bad[i / 64] |= (uint64_t)1 << (i % 64);
    for (size_t i = 0; i < s->nchecks; i++) {
        const check *c = &s->checks[i];
        if (reads_bad_field(s, c, bad) || rr_expr_eval(c->e, slots))
            continue;
        rr_verdict_fail(v, RR_FAIL_SEMANTIC);
        const char *loc = c->first_field >= 0 ? s->fields[c->first_field].loc : "";
        int rc = rr_verdict_add(v, s->name, "semantic_check_failed", c->id, loc, strlen(loc),
                                c->kw_loc, strlen(c->kw_loc), -1, -1, "%s", c->message);
        if (rc != RR_OK && r.rc == RR_OK)
            r.rc = rc;
    }
    if (r.rc != RR_OK)
        return rr_err(err, r.rc, "%s: out of memory recording a finding", s->name);
    return RR_OK;
}
