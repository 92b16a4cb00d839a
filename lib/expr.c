/* The condition language: a recursive-descent parser that type-checks and constant-folds
 * as it builds the AST, then a code generator emitting postfix bytecode with short-circuit
 * jumps. The compiled form is one immutable allocation, so evaluation only reads memory. */
#include "expr.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

/* Longest accepted source; keeps every offset and column comfortably inside uint32_t. */
#define MAX_SRC_BYTES (4u << 20)
#define MAX_NUM_CHARS 255
#define BUCKET_MAX 1000000
/* Code generation recurses along the tree; arithmetic chains are loops in the parser, so
 * their height is bounded here instead (far above what the parser depth bound allows for
 * everything else). */
#define MAX_TREE_HEIGHT 512

enum {
    OP_END,
    OP_CONST,
    OP_SLOT,
    OP_SLOT_B,
    OP_HAS,
    OP_NOT,
    OP_NEG,
    OP_EQ_N,
    OP_NE_N,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_EQ_S,
    OP_NE_S,
    OP_EQ_B,
    OP_NE_B,
    OP_IN_N,
    OP_IN_S,
    OP_BUCKET_N,
    OP_BUCKET_S,
    OP_JF, /* &&: false on top -> jump keeping it, else pop */
    OP_JT, /* ||: true on top -> jump keeping it, else pop */
    OP_IN_CSV, /* x in IDENT: string x, then the comma-separated list, on the stack */
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
};

/* Fused forms of the commonest rule shape, `slot <cmp> literal`: one dispatch instead of
 * three. a = slot, b = constant index. Same order as OP_EQ_N..OP_NE_B. */
enum {
    OP_K_EQ_N = 32,
    OP_K_NE_N,
    OP_K_LT,
    OP_K_LE,
    OP_K_GT,
    OP_K_GE,
    OP_K_EQ_S,
    OP_K_NE_S,
    OP_K_EQ_B,
    OP_K_NE_B,
};

typedef struct ins {
    uint8_t op;
    uint8_t pad_[3];
    uint32_t a, b;
} ins;

struct rr_expr {
    rr_alloc a;
    uint64_t hash;
    int constant;
    uint32_t ncode, nconst, nrefs;
    const ins *code;
    const rr_value *consts;
    const int *refs;
};

/* ---- tokens, AST nodes, parser state ------------------------------------------------ */

enum {
    T_END,
    T_NUM,
    T_STR,
    T_IDENT,
    T_TRUE,
    T_FALSE,
    T_IN,
    T_HAS,
    T_BUCKET,
    T_LP,
    T_RP,
    T_LB,
    T_RB,
    T_COMMA,
    T_OR,
    T_AND,
    T_NOT,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_MINUS,
    T_PLUS,
    T_STAR,
    T_SLASH,
};

typedef struct tok {
    int kind;
    uint32_t off, end; /* source bytes [off, end) */
    double num;
    uint32_t soff, slen; /* decoded string in parser.strs */
} tok;

enum { N_LIT, N_SLOT, N_HAS, N_NOT, N_NEG, N_CMP, N_AND, N_OR, N_IN, N_BUCKET, N_IN_CSV, N_ARITH };
enum { A_ADD, A_SUB, A_MUL, A_DIV }; /* same order as OP_ADD.. */
enum { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE }; /* same order as T_EQ.. and OP_EQ_N.. */

typedef struct node {
    uint8_t kind, type, cmp;
    uint32_t off;      /* where the node's source text starts */
    int32_t kid, next; /* first child, next sibling; -1 = none */
    int32_t slot;      /* N_SLOT, N_HAS */
    uint32_t n;        /* N_BUCKET modulus, N_IN list length */
    double num;        /* N_LIT values */
    int b;
    uint32_t soff, slen;
} node;

typedef struct parser {
    const rr_alloc *a;
    const char *src;
    rr_expr_resolve_fn resolve;
    void *ud;
    rr_expr_diag d;
    bool failed;
    size_t pos;
    tok t;
    int depth;
    node *nodes;
    uint32_t nnodes, capnodes;
    rr_buf strs;
    /* code generation */
    uint32_t height;
    ins *code;
    uint32_t ncode, capcode;
    int32_t *kidx; /* constant -> literal node */
    uint32_t nconst, capconst;
} parser;

static const char *const type_names[] = {"?", "bool", "number", "string"};
static const char *const cmp_names[] = {"==", "!=", "<", "<=", ">", ">="};

static const char *tname(int t) {
    return t >= RR_T_BOOL && t <= RR_T_STR ? type_names[t] : type_names[0];
}

/* ---- diagnostics ----------------------------------------------------------------- */

/* Columns count UTF-8 code points, so they match what an editor shows. */
static uint32_t column_of(const parser *p, size_t off) {
    uint32_t col = 1;
    for (size_t i = 0; i < off; i++)
        col += ((unsigned char)p->src[i] & 0xC0) != 0x80;
    return col;
}

__attribute__((format(printf, 3, 4))) static bool fail(parser *p, size_t off, const char *fmt,
                                                       ...) {
    if (p->failed)
        return false;
    p->failed = true;
    p->d.code = RR_EEXPR;
    p->d.column = column_of(p, off);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->d.message, sizeof p->d.message, fmt, ap);
    va_end(ap);
    return false;
}

static bool oom(parser *p) {
    if (p->failed)
        return false;
    p->failed = true;
    p->d.code = RR_ENOMEM;
    p->d.column = 0;
    snprintf(p->d.message, sizeof p->d.message, "out of memory");
    return false;
}

/* The current token as the user wrote it, for "but found ..." messages. */
static const char *found(const parser *p, char *buf, size_t cap) {
    const tok *t = &p->t;
    if (t->kind == T_END)
        return "end of expression";
    uint32_t n = t->end - t->off, shown = n > 40 ? 40 : n;
    while (shown < n && ((unsigned char)p->src[t->off + shown] & 0xC0) == 0x80)
        shown--; /* never cut a UTF-8 sequence: messages end up in JSON records */
    snprintf(buf, cap, "'%.*s%s'", (int)shown, p->src + t->off, shown < n ? "..." : "");
    return buf;
}

static bool expect_fail(parser *p, const char *what) {
    char b[64];
    return fail(p, p->t.off, "expected %s but found %s", what, found(p, b, sizeof b));
}

/* ---- lexer ----------------------------------------------------------------------- */

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
static bool is_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_ident(char c) {
    return is_ident_start(c) || is_digit(c) || c == '.';
}

static void show_char(char *buf, size_t cap, char c) {
    unsigned char u = (unsigned char)c;
    if (u >= 0x20 && u < 0x7F)
        snprintf(buf, cap, "%c", c);
    else
        snprintf(buf, cap, "\\x%02X", u);
}

/* strtod follows LC_NUMERIC; literals always use '.', so retry with the locale's point. */
static double parse_double(const char *s, size_t n, bool *ok) {
    char buf[MAX_NUM_CHARS + 16];
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (end == buf + n) {
        *ok = true;
        return v;
    }
    const char *dp = localeconv()->decimal_point;
    size_t dl = strlen(dp), o = 0;
    char loc[sizeof buf + 64];
    for (size_t i = 0; i < n && o + dl < sizeof loc - 1; i++) {
        if (s[i] == '.') {
            memcpy(loc + o, dp, dl);
            o += dl;
        } else {
            loc[o++] = s[i];
        }
    }
    loc[o] = 0;
    v = strtod(loc, &end);
    *ok = end == loc + o;
    return v;
}

static bool lex_number(parser *p, size_t i) {
    const char *s = p->src;
    size_t st = i;
    while (is_digit(s[i]))
        i++;
    if (s[i] == '.') {
        if (!is_digit(s[++i]))
            return fail(p, i, "expected a digit after '.' in number");
        while (is_digit(s[i]))
            i++;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        size_t e = i++;
        if (s[i] == '+' || s[i] == '-')
            i++;
        if (!is_digit(s[i]))
            return fail(p, e, "malformed exponent in number");
        while (is_digit(s[i]))
            i++;
    }
    if (is_ident(s[i])) {
        char c[8];
        show_char(c, sizeof c, s[i]);
        return fail(p, i, "unexpected '%s' after number", c);
    }
    if (i - st > MAX_NUM_CHARS)
        return fail(p, st, "number literal longer than %d characters", MAX_NUM_CHARS);
    bool ok;
    double v = parse_double(s + st, i - st, &ok);
    if (!ok || !isfinite(v))
        return fail(p, st, "number '%.*s' is out of range", (int)(i - st), s + st);
    p->t.kind = T_NUM;
    p->t.num = v;
    p->t.end = (uint32_t)i;
    return true;
}

static bool lex_string(parser *p, size_t i) {
    const char *s = p->src;
    char q = s[i];
    size_t open = i++;
    size_t start = p->strs.len;
    for (;;) {
        size_t run = i;
        while (s[i] && s[i] != q && s[i] != '\\')
            i++;
        rr_buf_put(&p->strs, s + run, i - run);
        if (!s[i] || (s[i] == '\\' && !s[i + 1]))
            return fail(p, open, "unterminated string");
        if (s[i] == q)
            break;
        static const char from[] = "\\'\"nt", to[] = "\\'\"\n\t";
        const char *k = strchr(from, s[i + 1]); /* s[i + 1] != 0, checked above */
        if (!k) {
            char b[8];
            show_char(b, sizeof b, s[i + 1]);
            return fail(p, i, "invalid escape '\\%s' in string", b);
        }
        char c = to[k - from];
        rr_buf_putc(&p->strs, c);
        i += 2;
    }
    if (p->strs.oom)
        return oom(p);
    p->t.kind = T_STR;
    p->t.soff = (uint32_t)start;
    p->t.slen = (uint32_t)(p->strs.len - start);
    p->t.end = (uint32_t)(i + 1);
    return true;
}

static int keyword(const char *s, size_t n) {
    static const struct {
        const char *w;
        int kind;
    } kw[] = {
        {"true", T_TRUE}, {"false", T_FALSE}, {"in", T_IN}, {"has", T_HAS}, {"bucket", T_BUCKET}};
    for (size_t k = 0; k < RR_ARRAY_LEN(kw); k++)
        if (strlen(kw[k].w) == n && memcmp(kw[k].w, s, n) == 0)
            return kw[k].kind;
    return T_IDENT;
}

/* Two-character operators and their one-character fallbacks (T_END = not allowed alone). */
static bool lex_op(parser *p, size_t i) {
    static const struct {
        char c, c2;
        int kind2, kind1;
    } ops[] = {{'|', '|', T_OR, T_END}, {'&', '&', T_AND, T_END}, {'=', '=', T_EQ, T_END},
               {'!', '=', T_NE, T_NOT}, {'<', '=', T_LE, T_LT},   {'>', '=', T_GE, T_GT},
               {'(', 0, T_END, T_LP},   {')', 0, T_END, T_RP},    {'[', 0, T_END, T_LB},
               {']', 0, T_END, T_RB},   {',', 0, T_END, T_COMMA}, {'-', 0, T_END, T_MINUS},
               {'+', 0, T_END, T_PLUS},   {'*', 0, T_END, T_STAR},  {'/', 0, T_END, T_SLASH}};
    const char *s = p->src;
    for (size_t k = 0; k < RR_ARRAY_LEN(ops); k++) {
        if (ops[k].c != s[i])
            continue;
        if (ops[k].c2 && s[i + 1] == ops[k].c2) {
            p->t.kind = ops[k].kind2;
            p->t.end = (uint32_t)(i + 2);
            return true;
        }
        if (ops[k].kind1 == T_END)
            return fail(p, i, "unexpected '%c' (did you mean '%c%c'?)", s[i], s[i], ops[k].c2);
        p->t.kind = ops[k].kind1;
        p->t.end = (uint32_t)(i + 1);
        return true;
    }
    char c[8];
    show_char(c, sizeof c, s[i]);
    return fail(p, i, "unexpected character '%s'", c);
}

static bool lex(parser *p) {
    const char *s = p->src;
    size_t i = p->pos;
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
        i++;
    p->t.off = p->t.end = (uint32_t)i;
    bool ok;
    if (!s[i]) {
        p->t.kind = T_END;
        ok = true;
    } else if (is_ident_start(s[i])) {
        size_t e = i;
        while (is_ident(s[e]))
            e++;
        p->t.kind = keyword(s + i, e - i);
        p->t.end = (uint32_t)e;
        ok = true;
    } else if (is_digit(s[i])) {
        ok = lex_number(p, i);
    } else if (s[i] == '\'' || s[i] == '"') {
        ok = lex_string(p, i);
    } else {
        ok = lex_op(p, i);
    }
    p->pos = p->t.end;
    return ok;
}

static bool expect(parser *p, int kind, const char *what) {
    if (p->t.kind != kind)
        return expect_fail(p, what);
    return lex(p);
}

/* ---- AST construction and folding ------------------------------------------------ */

static int32_t new_node(parser *p, int kind, int type, uint32_t off) {
    if (p->nnodes == p->capnodes) {
        uint32_t cap = p->capnodes ? p->capnodes * 2 : 64;
        node *nn = rr_realloc(p->a, p->nodes, p->capnodes * sizeof *nn, cap * sizeof *nn);
        if (!nn)
            return oom(p), -1;
        p->nodes = nn;
        p->capnodes = cap;
    }
    node *n = &p->nodes[p->nnodes];
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->type = (uint8_t)type;
    n->off = off;
    n->kid = n->next = n->slot = -1;
    return (int32_t)p->nnodes++;
}

#define NODE(i) (&p->nodes[(i)])

static int32_t lit_bool(parser *p, uint32_t off, bool v) {
    int32_t i = new_node(p, N_LIT, RR_T_BOOL, off);
    if (i >= 0)
        NODE(i)->b = v;
    return i;
}

static int32_t lit_num(parser *p, uint32_t off, double v) {
    int32_t i = new_node(p, N_LIT, RR_T_NUM, off);
    if (i >= 0)
        NODE(i)->num = v;
    return i;
}

static bool str_eq(const char *a, uint32_t al, const char *b, uint32_t bl) {
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

/* Equal literals of one type (strings by bytes). */
static bool lit_eq(const parser *p, const node *x, const node *y) {
    if (x->type == RR_T_STR)
        return str_eq(p->strs.p + x->soff, x->slen, p->strs.p + y->soff, y->slen);
    if (x->type == RR_T_NUM)
        return x->num == y->num;
    return !x->b == !y->b;
}

static bool cmp_num(int cmp, double x, double y) {
    switch (cmp) {
    case C_EQ:
        return x == y;
    case C_NE:
        return x != y;
    case C_LT:
        return x < y;
    case C_LE:
        return x <= y;
    case C_GT:
        return x > y;
    default:
        return x >= y;
    }
}

/* "%.17g", made locale- and platform-independent: '.' as the point, zero unsigned, fixed
 * spellings for non-finite values. The result is what bucket() hashes. */
static size_t fmt_num(double v, char out[48]) {
    if (isnan(v)) {
        memcpy(out, "nan", 3);
        return 3;
    }
    if (isinf(v)) {
        memcpy(out, v < 0 ? "-inf" : "inf", v < 0 ? 4 : 3);
        return v < 0 ? 4 : 3;
    }
    if (v == 0)
        v = 0; /* -0 == 0, so it must land in the same bucket */
    char tmp[48];
    int n = snprintf(tmp, sizeof tmp, "%.17g", v);
    size_t o = 0;
    bool in_point = false;
    for (int i = 0; i < n && i < (int)sizeof tmp; i++) {
        char c = tmp[i];
        if (is_digit(c) || c == '-' || c == '+' || c == 'e') {
            out[o++] = c;
            in_point = false;
        } else if (!in_point) {
            out[o++] = '.';
            in_point = true;
        }
    }
    return o;
}

static double bucket_str(const char *s, uint32_t len, uint32_t n) {
    return (double)(XXH3_64bits(len ? s : "", len) % n);
}

static double bucket_num(double v, uint32_t n) {
    char buf[48];
    return (double)(XXH3_64bits(buf, fmt_num(v, buf)) % n);
}

/* ---- parser ---------------------------------------------------------------------- */

static int32_t parse_or(parser *p);

/* Called at each nesting operator ('(', '!', unary '-', bucket) before consuming it, so the
 * error points at the first operator past the bound. Callers undo it only on success:
 * after an error the parse is abandoned. */
static bool enter(parser *p) {
    if (++p->depth > RR_EXPR_MAX_DEPTH)
        return fail(p, p->t.off, "expression too deeply nested");
    return true;
}

static int32_t parse_ident(parser *p, int kind) {
    const tok t = p->t;
    uint32_t len = t.end - t.off;
    int shown = len > 64 ? 64 : (int)len;
    const char *more = len > 64 ? "..." : "";
    int slot = -1;
    rr_type ty = 0;
    if (p->resolve(p->ud, p->src + t.off, len, &slot, &ty) != 0)
        return fail(p, t.off, "unknown identifier '%.*s%s'", shown, p->src + t.off, more), -1;
    if (slot < 0 || ty < RR_T_BOOL || ty > RR_T_STR)
        return fail(p, t.off, "resolver returned an invalid slot or type for '%.*s%s'", shown,
                    p->src + t.off, more),
               -1;
    int32_t i = new_node(p, kind, kind == N_HAS ? RR_T_BOOL : (int)ty, t.off);
    if (i < 0 || !lex(p))
        return -1;
    NODE(i)->slot = slot;
    return i;
}

static int32_t parse_has(parser *p) {
    uint32_t off = p->t.off;
    if (!lex(p) || !expect(p, T_LP, "'(' after 'has'"))
        return -1;
    if (p->t.kind != T_IDENT)
        return expect_fail(p, "an identifier inside has()"), -1;
    int32_t i = parse_ident(p, N_HAS);
    if (i < 0 || !expect(p, T_RP, "')'"))
        return -1;
    NODE(i)->off = off;
    return i;
}

static int32_t parse_bucket(parser *p) {
    uint32_t off = p->t.off;
    if (!enter(p) || !lex(p) || !expect(p, T_LP, "'(' after 'bucket'"))
        return -1;
    uint32_t koff = p->t.off;
    int32_t k = parse_or(p);
    if (k < 0)
        return -1;
    p->depth--;
    int kt = NODE(k)->type;
    if (kt != RR_T_STR && kt != RR_T_NUM)
        return fail(p, koff, "type error: bucket key must be a string or number, found %s",
                    tname(kt)),
               -1;
    if (!expect(p, T_COMMA, "',' after the bucket key"))
        return -1;
    double n = p->t.num;
    if (p->t.kind != T_NUM || !(n >= 1 && n <= BUCKET_MAX) || n != floor(n))
        return fail(p, p->t.off, "bucket size must be an integer literal in 1..%d", BUCKET_MAX), -1;
    if (!lex(p) || !expect(p, T_RP, "')'"))
        return -1;
    const node *key = NODE(k);
    if (key->kind == N_LIT)
        return lit_num(p, off,
                       kt == RR_T_STR ? bucket_str(p->strs.p + key->soff, key->slen, (uint32_t)n)
                                      : bucket_num(key->num, (uint32_t)n));
    int32_t i = new_node(p, N_BUCKET, RR_T_NUM, off);
    if (i < 0)
        return -1;
    NODE(i)->kid = k;
    NODE(i)->n = (uint32_t)n;
    return i;
}

static int32_t parse_primary(parser *p) {
    const tok t = p->t;
    int32_t i;
    switch (t.kind) {
    case T_NUM:
        i = lit_num(p, t.off, t.num);
        break;
    case T_TRUE:
    case T_FALSE:
        i = lit_bool(p, t.off, t.kind == T_TRUE);
        break;
    case T_STR:
        i = new_node(p, N_LIT, RR_T_STR, t.off);
        if (i >= 0) {
            NODE(i)->soff = t.soff;
            NODE(i)->slen = t.slen;
        }
        break;
    case T_IDENT:
        return parse_ident(p, N_SLOT);
    case T_HAS:
        return parse_has(p);
    case T_BUCKET:
        return parse_bucket(p);
    case T_LP:
        if (!enter(p) || !lex(p) || (i = parse_or(p)) < 0 || !expect(p, T_RP, "')'"))
            return -1;
        p->depth--;
        return i;
    default:
        return expect_fail(p, "a value"), -1;
    }
    if (i < 0 || !lex(p))
        return -1;
    return i;
}

static int32_t parse_unary(parser *p) {
    if (p->t.kind != T_MINUS)
        return parse_primary(p);
    uint32_t off = p->t.off;
    if (!enter(p) || !lex(p))
        return -1;
    int32_t k = parse_unary(p);
    p->depth--;
    if (k < 0)
        return -1;
    node *x = NODE(k);
    if (x->type != RR_T_NUM)
        return fail(p, off, "type error: unary '-' needs a number, found %s", tname(x->type)), -1;
    if (x->kind == N_LIT) {
        x->num = -x->num;
        x->off = off;
        return k;
    }
    if (x->kind == N_NEG)
        return x->kid;
    int32_t i = new_node(p, N_NEG, RR_T_NUM, off);
    if (i >= 0)
        NODE(i)->kid = k;
    return i;
}

static double arith(int op, double x, double y) {
    switch (op) {
    case A_ADD:
        return x + y;
    case A_SUB:
        return x - y;
    case A_MUL:
        return x * y;
    default:
        return x / y;
    }
}

static int arith_op(int kind) {
    switch (kind) {
    case T_PLUS:
        return A_ADD;
    case T_MINUS:
        return A_SUB;
    case T_STAR:
        return A_MUL;
    case T_SLASH:
        return A_DIV;
    default:
        return -1;
    }
}

/* Binary arithmetic on numbers, IEEE 754 throughout (x / 0 is an infinity or NaN, and
 * every comparison with NaN but != is false). Literal operands fold. */
static int32_t make_arith(parser *p, int op, int32_t l, int32_t r, uint32_t opoff) {
    static const char *const names[] = {"+", "-", "*", "/"};
    const node *x = NODE(l), *y = NODE(r);
    if (x->type != RR_T_NUM || y->type != RR_T_NUM)
        return fail(p, opoff, "type error: '%s' needs numbers, %s side is %s", names[op],
                    x->type != RR_T_NUM ? "left" : "right",
                    tname(x->type != RR_T_NUM ? x->type : y->type)),
               -1;
    if (x->kind == N_LIT && y->kind == N_LIT)
        return lit_num(p, x->off, arith(op, x->num, y->num));
    int32_t i = new_node(p, N_ARITH, RR_T_NUM, x->off);
    if (i < 0)
        return -1;
    NODE(i)->cmp = (uint8_t)op;
    NODE(i)->kid = l;
    NODE(l)->next = r;
    NODE(r)->next = -1;
    return i;
}

/* additive := term ( ( "+" | "-" ) term )*;  term := unary ( ( "*" | "/" ) unary )*.
 * Left-associative loops, so long chains cost no parser depth. */
static int32_t parse_arith(parser *p, bool term) {
    int32_t l = term ? parse_unary(p) : parse_arith(p, true);
    for (;;) {
        int op = l < 0 ? -1 : arith_op(p->t.kind);
        if (op < 0 || (op >= A_MUL) != term)
            return l;
        uint32_t opoff = p->t.off;
        if (!lex(p))
            return -1;
        int32_t r = term ? parse_unary(p) : parse_arith(p, true);
        if (r < 0)
            return -1;
        l = make_arith(p, op, l, r, opoff);
    }
}

static bool check_cmp(parser *p, int cmp, int lt, int rt, uint32_t opoff) {
    if (cmp == C_EQ || cmp == C_NE) {
        if (lt != rt)
            return fail(p, opoff, "type error: '%s' compares %s with %s", cmp_names[cmp], tname(lt),
                        tname(rt));
        return true;
    }
    if (lt != RR_T_NUM || rt != RR_T_NUM)
        return fail(p, opoff, "type error: '%s' needs numbers, %s side is %s", cmp_names[cmp],
                    lt != RR_T_NUM ? "left" : "right", tname(lt != RR_T_NUM ? lt : rt));
    return true;
}

/* Literals go right (mirroring the operator), so `1 < x` and `x > 1` compile alike and
 * the fused slot-versus-literal instructions apply. */
static int32_t make_cmp(parser *p, int cmp, int32_t l, int32_t r, uint32_t off) {
    static const uint8_t mirror[] = {C_EQ, C_NE, C_GT, C_GE, C_LT, C_LE};
    const node *x = NODE(l), *y = NODE(r);
    if (x->kind == N_LIT && y->kind == N_LIT) {
        bool v =
            x->type == RR_T_NUM ? cmp_num(cmp, x->num, y->num) : lit_eq(p, x, y) == (cmp == C_EQ);
        return lit_bool(p, off, v);
    }
    if (x->kind == N_LIT) {
        int32_t t = l;
        l = r;
        r = t;
        cmp = mirror[cmp];
    }
    int32_t i = new_node(p, N_CMP, RR_T_BOOL, off);
    if (i < 0)
        return -1;
    NODE(i)->cmp = (uint8_t)cmp;
    NODE(i)->kid = l;
    NODE(l)->next = r;
    NODE(r)->next = -1;
    return i;
}

static int lit_order(const parser *p, int32_t a, int32_t b) {
    const node *x = NODE(a), *y = NODE(b);
    if (x->type == RR_T_NUM)
        return (x->num > y->num) - (x->num < y->num);
    if (x->slen != y->slen)
        return x->slen < y->slen ? -1 : 1;
    return x->slen ? memcmp(p->strs.p + x->soff, p->strs.p + y->soff, x->slen) : 0;
}

/* Heapsort: in-place, O(n log n) on any input, and takes a context (qsort does not). */
static void sift(const parser *p, int32_t *v, size_t root, size_t n) {
    for (;;) {
        size_t c = 2 * root + 1;
        if (c >= n)
            return;
        if (c + 1 < n && lit_order(p, v[c], v[c + 1]) < 0)
            c++;
        if (lit_order(p, v[root], v[c]) >= 0)
            return;
        int32_t t = v[root];
        v[root] = v[c];
        v[c] = t;
        root = c;
    }
}

static void sort_lits(const parser *p, int32_t *v, size_t n) {
    for (size_t i = n / 2; i-- > 0;)
        sift(p, v, i, n);
    for (size_t e = n; e-- > 1;) {
        int32_t t = v[0];
        v[0] = v[e];
        v[e] = t;
        sift(p, v, 0, e);
    }
}

/* Sorted and deduplicated, the list is canonical (order-insensitive hash) and searchable
 * by bisection. Returns the new head; *n receives the distinct count. */
static int32_t canon_list(parser *p, int32_t head, uint32_t *n) {
    int32_t *v = rr_malloc(p->a, *n * sizeof *v);
    if (!v)
        return oom(p), -1;
    uint32_t k = 0, m = 0;
    for (int32_t e = head; e >= 0; e = NODE(e)->next)
        v[k++] = e;
    sort_lits(p, v, k);
    for (uint32_t i = 0; i < k; i++)
        if (m == 0 || lit_order(p, v[m - 1], v[i]) != 0)
            v[m++] = v[i];
    for (uint32_t i = 0; i < m; i++)
        NODE(v[i])->next = i + 1 < m ? v[i + 1] : -1;
    head = v[0];
    rr_free(p->a, v);
    *n = m;
    return head;
}

static int32_t parse_list_item(parser *p, int *ltype) {
    uint32_t off = p->t.off;
    bool neg = p->t.kind == T_MINUS;
    if (neg && (!lex(p) || p->t.kind != T_NUM))
        return p->failed ? -1 : (expect_fail(p, "a number after '-'"), -1);
    if (p->t.kind != T_NUM && p->t.kind != T_STR)
        return expect_fail(p, "a string or number literal in the list"), -1;
    int type = p->t.kind == T_NUM ? RR_T_NUM : RR_T_STR;
    if (*ltype && type != *ltype)
        return fail(p, off, "'in' list mixes strings and numbers"), -1;
    *ltype = type;
    int32_t i = new_node(p, N_LIT, type, off);
    if (i < 0)
        return -1;
    NODE(i)->num = neg ? -p->t.num : p->t.num;
    NODE(i)->soff = p->t.soff;
    NODE(i)->slen = p->t.slen;
    return lex(p) ? i : -1;
}

static int32_t finish_in(parser *p, int32_t l, int32_t head, uint32_t n, uint32_t off) {
    if (n == 0)
        return lit_bool(p, off, false);
    if ((head = canon_list(p, head, &n)) < 0)
        return -1;
    if (NODE(l)->kind == N_LIT) {
        bool hit = false;
        for (int32_t e = head; e >= 0 && !hit; e = NODE(e)->next)
            hit = lit_eq(p, NODE(l), NODE(e));
        return lit_bool(p, off, hit);
    }
    if (n == 1)
        return make_cmp(p, C_EQ, l, head, off);
    int32_t i = new_node(p, N_IN, RR_T_BOOL, off);
    if (i < 0)
        return -1;
    NODE(i)->kid = l;
    NODE(i)->n = n;
    NODE(l)->next = head;
    return i;
}

/* `x in IDENT`: the identifier's string holds a comma-separated list, known only at
 * evaluation time, so nothing folds. */
static int32_t parse_in_csv(parser *p, int32_t l, uint32_t off, uint32_t inoff) {
    uint32_t roff = p->t.off;
    int32_t r = parse_ident(p, N_SLOT);
    if (r < 0)
        return -1;
    if (NODE(l)->type != RR_T_STR)
        return fail(p, inoff, "type error: 'in' with an identifier needs a string on the left, "
                              "found %s",
                    tname(NODE(l)->type)),
               -1;
    if (NODE(r)->type != RR_T_STR)
        return fail(p, roff, "type error: 'in' needs a list literal or a string identifier "
                             "holding a comma-separated list, found %s",
                    tname(NODE(r)->type)),
               -1;
    int32_t i = new_node(p, N_IN_CSV, RR_T_BOOL, off);
    if (i < 0)
        return -1;
    NODE(i)->kid = l;
    NODE(l)->next = r;
    NODE(r)->next = -1;
    return i;
}

static int32_t parse_in(parser *p, int32_t l, uint32_t off) {
    uint32_t inoff = p->t.off;
    int lt = NODE(l)->type, ltype = 0;
    if (!lex(p))
        return -1;
    if (p->t.kind == T_IDENT)
        return parse_in_csv(p, l, off, inoff);
    if (lt != RR_T_NUM && lt != RR_T_STR)
        return fail(p, inoff, "type error: 'in' needs a string or number on the left, found %s",
                    tname(lt)),
               -1;
    if (!expect(p, T_LB, "'[' after 'in'"))
        return -1;
    int32_t head = -1, tail = -1;
    uint32_t n = 0;
    while (p->t.kind != T_RB || n > 0) {
        int32_t e = parse_list_item(p, &ltype);
        if (e < 0)
            return -1;
        if (tail >= 0)
            NODE(tail)->next = e;
        else
            head = e;
        tail = e;
        n++;
        if (p->t.kind == T_RB)
            break;
        if (p->t.kind != T_COMMA)
            return expect_fail(p, "',' or ']'"), -1;
        if (!lex(p))
            return -1;
    }
    if (!lex(p))
        return -1;
    if (n && ltype != lt)
        return fail(p, inoff, "type error: 'in' list holds %ss, left side is %s", tname(ltype),
                    tname(lt)),
               -1;
    return finish_in(p, l, head, n, off);
}

static bool is_cmp_tok(int kind) {
    return (kind >= T_EQ && kind <= T_GE) || kind == T_IN;
}

static int32_t parse_cmp(parser *p) {
    uint32_t off = p->t.off;
    int32_t l = parse_arith(p, false), r;
    if (l < 0 || !is_cmp_tok(p->t.kind))
        return l;
    if (p->t.kind == T_IN) {
        r = parse_in(p, l, off);
    } else {
        int cmp = p->t.kind - T_EQ;
        uint32_t opoff = p->t.off;
        if (!lex(p) || (r = parse_arith(p, false)) < 0)
            return -1;
        if (!check_cmp(p, cmp, NODE(l)->type, NODE(r)->type, opoff))
            return -1;
        r = make_cmp(p, cmp, l, r, off);
    }
    if (r >= 0 && is_cmp_tok(p->t.kind))
        return fail(p, p->t.off, "comparisons do not chain; add parentheses"), -1;
    return r;
}

static int32_t parse_not(parser *p) {
    if (p->t.kind != T_NOT)
        return parse_cmp(p);
    uint32_t off = p->t.off;
    if (!enter(p) || !lex(p))
        return -1;
    int32_t k = parse_not(p);
    p->depth--;
    if (k < 0)
        return -1;
    node *x = NODE(k);
    if (x->type != RR_T_BOOL)
        return fail(p, off, "type error: '!' needs a bool, found %s", tname(x->type)), -1;
    if (x->kind == N_LIT) {
        x->b = !x->b;
        x->off = off;
        return k;
    }
    if (x->kind == N_NOT)
        return x->kid;
    int32_t i = new_node(p, N_NOT, RR_T_BOOL, off);
    if (i >= 0)
        NODE(i)->kid = k;
    return i;
}

/* An n-ary && or || under construction. Literal operands fold away: the identity (true
 * for &&) is dropped, the absorbing value decides the whole junction. Nested junctions of
 * the same kind are spliced in, so parentheses do not change the compiled form. */
typedef struct junc {
    int kind;
    int32_t head, tail;
    uint32_t off, n;
    bool absorbed;
} junc;

static bool junc_add(parser *p, junc *j, int32_t k, uint32_t opoff, bool left) {
    const node *x = NODE(k);
    if (x->type != RR_T_BOOL)
        return fail(p, opoff, "type error: '%s' needs bools, %s side is %s",
                    j->kind == N_AND ? "&&" : "||", left ? "left" : "right", tname(x->type));
    if (x->kind == N_LIT) {
        j->absorbed |= (x->b != 0) == (j->kind == N_OR);
        return true;
    }
    int32_t first = x->kind == j->kind ? x->kid : k, last = first;
    uint32_t cnt = 1;
    for (; NODE(last)->next >= 0; last = NODE(last)->next)
        cnt++;
    if (j->tail >= 0)
        NODE(j->tail)->next = first;
    else
        j->head = first;
    j->tail = last;
    j->n += cnt;
    return true;
}

static int32_t junc_end(parser *p, junc *j) {
    if (j->absorbed || j->n == 0)
        return lit_bool(p, j->off, j->absorbed ? j->kind == N_OR : j->kind == N_AND);
    if (j->n == 1)
        return j->head;
    int32_t i = new_node(p, j->kind, RR_T_BOOL, j->off);
    if (i >= 0) {
        NODE(i)->kid = j->head;
        NODE(i)->n = j->n;
    }
    return i;
}

static int32_t parse_junc(parser *p, int kind) {
    int optok = kind == N_AND ? T_AND : T_OR;
    uint32_t off = p->t.off;
    int32_t k = kind == N_AND ? parse_not(p) : parse_junc(p, N_AND);
    if (k < 0 || p->t.kind != optok)
        return k;
    junc j = {kind, -1, -1, off, 0, false};
    if (!junc_add(p, &j, k, p->t.off, true))
        return -1;
    while (p->t.kind == optok) {
        uint32_t opoff = p->t.off;
        if (!lex(p))
            return -1;
        k = kind == N_AND ? parse_not(p) : parse_junc(p, N_AND);
        if (k < 0 || !junc_add(p, &j, k, opoff, false))
            return -1;
    }
    return junc_end(p, &j);
}

static int32_t parse_or(parser *p) {
    return parse_junc(p, N_OR);
}

static int32_t parse_top(parser *p) {
    if (!lex(p))
        return -1;
    if (p->t.kind == T_END)
        return fail(p, p->t.off, "empty expression"), -1;
    uint32_t off = p->t.off;
    int32_t r = parse_or(p);
    if (r < 0)
        return -1;
    if (p->t.kind != T_END)
        return expect_fail(p, "end of expression"), -1;
    if (NODE(r)->type != RR_T_BOOL)
        return fail(p, off, "condition must be bool, found %s", tname(NODE(r)->type)), -1;
    return r;
}

/* ---- code generation ------------------------------------------------------------- */

static bool emit(parser *p, int op, uint32_t a, uint32_t b) {
    if (p->ncode == p->capcode) {
        uint32_t cap = p->capcode ? p->capcode * 2 : 32;
        ins *c = rr_realloc(p->a, p->code, p->capcode * sizeof *c, cap * sizeof *c);
        if (!c)
            return oom(p);
        p->code = c;
        p->capcode = cap;
    }
    ins *x = &p->code[p->ncode++];
    memset(x, 0, sizeof *x);
    x->op = (uint8_t)op;
    x->a = a;
    x->b = b;
    return true;
}

static bool add_const(parser *p, int32_t lit, uint32_t *idx) {
    if (p->nconst == p->capconst) {
        uint32_t cap = p->capconst ? p->capconst * 2 : 16;
        int32_t *k = rr_realloc(p->a, p->kidx, p->capconst * sizeof *k, cap * sizeof *k);
        if (!k)
            return oom(p);
        p->kidx = k;
        p->capconst = cap;
    }
    *idx = p->nconst;
    p->kidx[p->nconst++] = lit;
    return true;
}

static int cmp_op(int type, int cmp) {
    return (type == RR_T_NUM ? OP_EQ_N : type == RR_T_STR ? OP_EQ_S : OP_EQ_B) + cmp;
}

static uint32_t gen(parser *p, int32_t ni);

/* Each operand but the last gets a jump to the junction's end; the jumps are chained
 * through their own `a` fields until the end is known. */
static uint32_t gen_junc(parser *p, int32_t ni) {
    int op = NODE(ni)->kind == N_AND ? OP_JF : OP_JT;
    uint32_t need = 0, chain = UINT32_MAX;
    for (int32_t k = NODE(ni)->kid; k >= 0; k = NODE(k)->next) {
        uint32_t c = gen(p, k);
        if (!c)
            return 0;
        need = c > need ? c : need;
        if (NODE(k)->next >= 0) {
            if (!emit(p, op, chain, 0))
                return 0;
            chain = p->ncode - 1;
        }
    }
    while (chain != UINT32_MAX) {
        uint32_t prev = p->code[chain].a;
        p->code[chain].a = p->ncode;
        chain = prev;
    }
    return need;
}

static uint32_t gen_cmp(parser *p, int32_t ni) {
    int32_t l = NODE(ni)->kid, r = NODE(l)->next;
    int kind = NODE(ni)->kind;
    int op = kind == N_IN_CSV  ? OP_IN_CSV
             : kind == N_ARITH ? OP_ADD + NODE(ni)->cmp
                               : cmp_op(NODE(l)->type, NODE(ni)->cmp);
    uint32_t k;
    if (kind == N_CMP && NODE(l)->kind == N_SLOT && NODE(r)->kind == N_LIT)
        return add_const(p, r, &k) && emit(p, op - OP_EQ_N + OP_K_EQ_N, (uint32_t)NODE(l)->slot, k);
    uint32_t nl = gen(p, l), nr = nl ? gen(p, r) : 0;
    if (!nr || !emit(p, op, 0, 0))
        return 0;
    return nl > nr + 1 ? nl : nr + 1;
}

static uint32_t gen_node(parser *p, int32_t ni) {
    const node *n = NODE(ni);
    uint32_t k, need;
    switch (n->kind) {
    case N_LIT:
        return add_const(p, ni, &k) && emit(p, OP_CONST, k, 0);
    case N_SLOT:
        return emit(p, n->type == RR_T_BOOL ? OP_SLOT_B : OP_SLOT, (uint32_t)n->slot, 0);
    case N_HAS:
        return emit(p, OP_HAS, (uint32_t)n->slot, 0);
    case N_CMP:
    case N_IN_CSV:
    case N_ARITH:
        return gen_cmp(p, ni);
    case N_AND:
    case N_OR:
        return gen_junc(p, ni);
    default:
        break;
    }
    if (!(need = gen(p, n->kid)))
        return 0;
    n = NODE(ni);
    switch (n->kind) {
    case N_NOT:
        return emit(p, OP_NOT, 0, 0) ? need : 0;
    case N_NEG:
        return emit(p, OP_NEG, 0, 0) ? need : 0;
    case N_BUCKET: {
        int op = NODE(n->kid)->type == RR_T_STR ? OP_BUCKET_S : OP_BUCKET_N;
        return emit(p, op, n->n, 0) ? need : 0;
    }
    default:
        break; /* N_IN */
    }
    int op = NODE(n->kid)->type == RR_T_STR ? OP_IN_S : OP_IN_N;
    uint32_t first = p->nconst, cnt = n->n;
    for (int32_t e = NODE(n->kid)->next; e >= 0; e = NODE(e)->next)
        if (!add_const(p, e, &k))
            return 0;
    return emit(p, op, first, cnt) ? need : 0;
}

/* Returns the operand-stack depth the subtree needs, 0 on error. */
static uint32_t gen(parser *p, int32_t ni) {
    if (++p->height > MAX_TREE_HEIGHT)
        return fail(p, NODE(ni)->off, "expression too deeply nested"), 0;
    uint32_t need = gen_node(p, ni);
    p->height--;
    if (need > RR_EXPR_MAX_STACK)
        return fail(p, NODE(ni)->off, "expression too deeply nested"), 0;
    return need;
}

/* ---- assembly: one allocation holding header, constants, code, refs, strings ------- */

static size_t align8(size_t n) {
    return (n + 7) & ~(size_t)7;
}

/* Distinct slots in first-read order, deduplicated through a scratch open-addressing set
 * (slot numbers are arbitrary ints, so no bitmap). */
static int *collect_refs(parser *p, uint32_t *nrefs) {
    uint32_t reads = 0, cap = 8, n = 0;
    for (uint32_t i = 0; i < p->ncode; i++)
        reads += p->code[i].op == OP_SLOT || p->code[i].op == OP_SLOT_B ||
                 p->code[i].op == OP_HAS || p->code[i].op >= OP_K_EQ_N;
    while (cap < 2 * reads)
        cap *= 2;
    uint32_t *set = rr_calloc(p->a, cap, sizeof *set);
    int *refs = rr_malloc(p->a, (reads ? reads : 1) * sizeof *refs);
    if (!set || !refs) {
        rr_free(p->a, set);
        rr_free(p->a, refs);
        return oom(p), NULL;
    }
    for (uint32_t i = 0; i < p->ncode; i++) {
        const ins *x = &p->code[i];
        if (!(x->op == OP_SLOT || x->op == OP_SLOT_B || x->op == OP_HAS || x->op >= OP_K_EQ_N))
            continue;
        uint32_t h = (x->a * 2654435761u) & (cap - 1);
        while (set[h] && set[h] != x->a + 1)
            h = (h + 1) & (cap - 1);
        if (!set[h]) {
            set[h] = x->a + 1;
            refs[n++] = (int)x->a;
        }
    }
    rr_free(p->a, set);
    *nrefs = n;
    return refs;
}

static void h_bytes(XXH3_state_t *st, const void *b, size_t n) {
    XXH3_64bits_update(st, b, n);
}

static void h_u32(XXH3_state_t *st, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    h_bytes(st, b, 4);
}

/* Literal values go in as fixed little-endian bytes so the hash is platform-independent. */
static void h_const(XXH3_state_t *st, const rr_value *k) {
    unsigned char t = k->type;
    h_bytes(st, &t, 1);
    if (k->type == RR_T_STR) {
        h_u32(st, k->len);
        h_bytes(st, k->u.str, k->len);
    } else if (k->type == RR_T_BOOL) {
        h_u32(st, (uint32_t)k->u.b);
    } else {
        double d = k->u.num == 0 ? 0 : k->u.num;
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        h_u32(st, (uint32_t)bits);
        h_u32(st, (uint32_t)(bits >> 32));
    }
}

static uint64_t hash_code(const rr_expr *e) {
    XXH3_state_t st;
    memset(&st, 0, sizeof st);
    XXH3_64bits_reset(&st);
    for (uint32_t i = 0; i < e->ncode; i++) {
        const ins *x = &e->code[i];
        h_bytes(&st, &x->op, 1);
        switch (x->op) {
        case OP_CONST:
            h_const(&st, &e->consts[x->a]);
            break;
        case OP_SLOT:
        case OP_SLOT_B:
        case OP_HAS:
        case OP_BUCKET_N:
        case OP_BUCKET_S:
            h_u32(&st, x->a);
            break;
        case OP_JF:
        case OP_JT:
            h_u32(&st, x->a - i);
            break;
        case OP_IN_N:
        case OP_IN_S:
            h_u32(&st, x->b);
            for (uint32_t j = 0; j < x->b; j++)
                h_const(&st, &e->consts[x->a + j]);
            break;
        default:
            if (x->op >= OP_K_EQ_N) {
                h_u32(&st, x->a);
                h_const(&st, &e->consts[x->b]);
            }
        }
    }
    return XXH3_64bits_digest(&st);
}

static void fill_consts(const parser *p, rr_value *k, char *pool) {
    for (uint32_t i = 0; i < p->nconst; i++) {
        const node *n = NODE(p->kidx[i]);
        memset(&k[i], 0, sizeof k[i]);
        k[i].type = n->type;
        k[i].present = 1;
        if (n->type == RR_T_NUM) {
            k[i].u.num = n->num;
        } else if (n->type == RR_T_BOOL) {
            k[i].u.b = n->b != 0;
        } else {
            if (n->slen)
                memcpy(pool, p->strs.p + n->soff, n->slen);
            k[i].u.str = pool;
            k[i].len = n->slen;
            pool += n->slen;
        }
    }
}

static rr_expr *assemble(parser *p) {
    uint32_t nrefs;
    int *refs = collect_refs(p, &nrefs);
    if (!refs)
        return NULL;
    size_t sbytes = 0;
    for (uint32_t i = 0; i < p->nconst; i++)
        sbytes += NODE(p->kidx[i])->type == RR_T_STR ? NODE(p->kidx[i])->slen : 0;
    size_t ok = align8(sizeof(rr_expr)), oc = ok + (size_t)p->nconst * sizeof(rr_value);
    size_t orf = align8(oc + (size_t)p->ncode * sizeof(ins));
    size_t os = orf + (size_t)nrefs * sizeof(int);
    char *mem = rr_malloc(p->a, os + sbytes);
    if (!mem) {
        rr_free(p->a, refs);
        return oom(p), NULL;
    }
    rr_expr *e = (rr_expr *)(void *)mem;
    memset(e, 0, sizeof *e);
    e->a = *p->a;
    e->ncode = p->ncode;
    e->nconst = p->nconst;
    e->nrefs = nrefs;
    e->consts = (const rr_value *)(void *)(mem + ok);
    e->code = (const ins *)(void *)(mem + oc);
    e->refs = (const int *)(void *)(mem + orf);
    fill_consts(p, (rr_value *)(void *)(mem + ok), mem + os);
    memcpy(mem + oc, p->code, (size_t)p->ncode * sizeof(ins));
    if (nrefs)
        memcpy(mem + orf, refs, (size_t)nrefs * sizeof(int));
    rr_free(p->a, refs);
    e->constant = e->ncode == 2 && e->code[0].op == OP_CONST ? e->consts[0].u.b : -1;
    e->hash = hash_code(e);
    return e;
}

/* ---- public API ------------------------------------------------------------------ */

int rr_expr_compile(const rr_alloc *a, const char *src, rr_expr_resolve_fn resolve, void *ud,
                    rr_expr **out, rr_expr_diag *diag) {
    rr_expr_diag scratch;
    if (!diag)
        diag = &scratch;
    memset(diag, 0, sizeof *diag);
    if (out)
        *out = NULL;
    if (!a || !src || !resolve || !out) {
        diag->code = RR_EINVAL;
        snprintf(diag->message, sizeof diag->message, "invalid argument");
        return RR_EINVAL;
    }
    if (strnlen(src, MAX_SRC_BYTES + 1) > MAX_SRC_BYTES) {
        diag->code = RR_EEXPR;
        snprintf(diag->message, sizeof diag->message, "expression longer than %u bytes",
                 MAX_SRC_BYTES);
        return RR_EEXPR;
    }
    parser p;
    memset(&p, 0, sizeof p);
    p.a = a;
    p.src = src;
    p.resolve = resolve;
    p.ud = ud;
    rr_buf_init(&p.strs, a);
    int32_t root = parse_top(&p);
    rr_expr *e = NULL;
    if (root >= 0 && gen(&p, root) && emit(&p, OP_END, 0, 0))
        e = assemble(&p);
    rr_free(a, p.nodes);
    rr_free(a, p.code);
    rr_free(a, p.kidx);
    rr_buf_free(&p.strs);
    if (!e) {
        *diag = p.d;
        return p.d.code;
    }
    *out = e;
    return RR_OK;
}

void rr_expr_free(rr_expr *e) {
    if (e) {
        rr_alloc a = e->a;
        rr_free(&a, e);
    }
}

static int in_num(const rr_value *k, uint32_t n, double x) {
    if (n <= 8) {
        for (uint32_t i = 0; i < n; i++)
            if (k[i].u.num == x)
                return 1;
        return 0;
    }
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (k[mid].u.num < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && k[lo].u.num == x;
}

static int vstr_eq(const rr_value *x, const rr_value *y) {
    return x->len == y->len && (x->len == 0 || memcmp(x->u.str, y->u.str, x->len) == 0);
}

/* Same order as lit_order: by length, then bytes. */
static int vstr_order(const rr_value *k, const rr_value *x) {
    if (k->len != x->len)
        return k->len < x->len ? -1 : 1;
    return k->len ? memcmp(k->u.str, x->u.str, k->len) : 0;
}

static int in_str(const rr_value *k, uint32_t n, const rr_value *x) {
    if (n <= 8) {
        for (uint32_t i = 0; i < n; i++)
            if (vstr_eq(&k[i], x))
                return 1;
        return 0;
    }
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (vstr_order(&k[mid], x) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && vstr_order(&k[lo], x) == 0;
}

static bool csv_space(char c) {
    return c == ' ' || c == '\t';
}

/* Whether `x` equals an item of the comma-separated `list`, items trimmed of spaces and
 * tabs; empty items match nothing, so an empty list holds nothing. */
static int in_csv(const rr_value *x, const rr_value *list) {
    const char *s = list->u.str;
    uint32_t n = list->len, i = 0;
    while (i < n) {
        uint32_t a = i;
        const char *comma = memchr(s + i, ',', n - i);
        i = comma ? (uint32_t)(comma - s) : n;
        uint32_t b = i++;
        while (a < b && csv_space(s[a]))
            a++;
        while (b > a && csv_space(s[b - 1]))
            b--;
        if (b > a && b - a == x->len && memcmp(s + a, x->u.str, x->len) == 0)
            return 1;
    }
    return 0;
}

/* The operand stack lives here, sized by the compiler's proof that no expression needs
 * more than RR_EXPR_MAX_STACK; nothing is allocated. */
int rr_expr_eval(const rr_expr *e, const rr_value *slots) {
    rr_value st[RR_EXPR_MAX_STACK];
    rr_value *sp = st;
    const ins *code = e->code, *pc = code;
    const rr_value *k = e->consts;
    for (;; pc++) {
        switch (pc->op) {
        case OP_END:
            return sp[-1].u.b;
        case OP_CONST:
            *sp++ = k[pc->a];
            break;
        case OP_SLOT:
            *sp++ = slots[pc->a];
            break;
        case OP_SLOT_B:
            (sp++)->u.b = slots[pc->a].u.b != 0;
            break;
        case OP_HAS:
            (sp++)->u.b = slots[pc->a].present != 0;
            break;
        case OP_NOT:
            sp[-1].u.b = !sp[-1].u.b;
            break;
        case OP_NEG:
            sp[-1].u.num = -sp[-1].u.num;
            break;
        case OP_EQ_N:
            sp--, sp[-1].u.b = sp[-1].u.num == sp->u.num;
            break;
        case OP_NE_N:
            sp--, sp[-1].u.b = sp[-1].u.num != sp->u.num;
            break;
        case OP_LT:
            sp--, sp[-1].u.b = sp[-1].u.num < sp->u.num;
            break;
        case OP_LE:
            sp--, sp[-1].u.b = sp[-1].u.num <= sp->u.num;
            break;
        case OP_GT:
            sp--, sp[-1].u.b = sp[-1].u.num > sp->u.num;
            break;
        case OP_GE:
            sp--, sp[-1].u.b = sp[-1].u.num >= sp->u.num;
            break;
        case OP_EQ_S:
            sp--, sp[-1].u.b = vstr_eq(&sp[-1], sp);
            break;
        case OP_NE_S:
            sp--, sp[-1].u.b = !vstr_eq(&sp[-1], sp);
            break;
        case OP_EQ_B:
            sp--, sp[-1].u.b = sp[-1].u.b == sp->u.b;
            break;
        case OP_NE_B:
            sp--, sp[-1].u.b = sp[-1].u.b != sp->u.b;
            break;
        case OP_IN_N:
            sp[-1].u.b = in_num(k + pc->a, pc->b, sp[-1].u.num);
            break;
        case OP_IN_S:
            sp[-1].u.b = in_str(k + pc->a, pc->b, &sp[-1]);
            break;
        case OP_IN_CSV:
            sp--, sp[-1].u.b = in_csv(&sp[-1], sp);
            break;
        case OP_ADD:
            sp--, sp[-1].u.num += sp->u.num;
            break;
        case OP_SUB:
            sp--, sp[-1].u.num -= sp->u.num;
            break;
        case OP_MUL:
            sp--, sp[-1].u.num *= sp->u.num;
            break;
        case OP_DIV:
            sp--, sp[-1].u.num /= sp->u.num;
            break;
        case OP_BUCKET_N:
            sp[-1].u.num = bucket_num(sp[-1].u.num, pc->a);
            break;
        case OP_BUCKET_S:
            sp[-1].u.num = bucket_str(sp[-1].u.str, sp[-1].len, pc->a);
            break;
        case OP_JF:
            if (!sp[-1].u.b) {
                pc = code + pc->a - 1;
                continue;
            }
            sp--;
            break;
        case OP_JT:
            if (sp[-1].u.b) {
                pc = code + pc->a - 1;
                continue;
            }
            sp--;
            break;
        case OP_K_EQ_N:
            (sp++)->u.b = slots[pc->a].u.num == k[pc->b].u.num;
            break;
        case OP_K_NE_N:
            (sp++)->u.b = slots[pc->a].u.num != k[pc->b].u.num;
            break;
        case OP_K_LT:
            (sp++)->u.b = slots[pc->a].u.num < k[pc->b].u.num;
            break;
        case OP_K_LE:
            (sp++)->u.b = slots[pc->a].u.num <= k[pc->b].u.num;
            break;
        case OP_K_GT:
            (sp++)->u.b = slots[pc->a].u.num > k[pc->b].u.num;
            break;
        case OP_K_GE:
            (sp++)->u.b = slots[pc->a].u.num >= k[pc->b].u.num;
            break;
        case OP_K_EQ_S:
            (sp++)->u.b = vstr_eq(&slots[pc->a], &k[pc->b]);
            break;
        case OP_K_NE_S:
            (sp++)->u.b = !vstr_eq(&slots[pc->a], &k[pc->b]);
            break;
        case OP_K_EQ_B:
            (sp++)->u.b = (slots[pc->a].u.b != 0) == k[pc->b].u.b;
            break;
        case OP_K_NE_B:
            (sp++)->u.b = (slots[pc->a].u.b != 0) != k[pc->b].u.b;
            break;
        default:
            return 0; /* unreachable: the compiler emits only the codes above */
        }
    }
}

int rr_expr_constant(const rr_expr *e) {
    return e ? e->constant : -1;
}

uint64_t rr_expr_hash(const rr_expr *e) {
    return e ? e->hash : 0;
}

size_t rr_expr_ref_count(const rr_expr *e) {
    return e ? e->nrefs : 0;
}

int rr_expr_ref(const rr_expr *e, size_t i) {
    return e && i < e->nrefs ? e->refs[i] : -1;
}
