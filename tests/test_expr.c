/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

/* ---- fixture: a resolver with identifiers of every type, and slot builders ---------- */

enum {
    S_TIER,
    S_PII,
    S_TASK,
    S_MARGIN,
    S_THR,
    S_MATCH,
    S_USER,
    S_TOKENS,
    S_FLAG,
    S_N,
    S_ALLOWED,
    S__COUNT
};

static const struct {
    const char *name;
    int slot;
    rr_type type;
} idents[] = {
    {"tenant.tier", S_TIER, RR_T_STR},   {"pii.any", S_PII, RR_T_BOOL},
    {"task", S_TASK, RR_T_STR},          {"retrieval.margin", S_MARGIN, RR_T_NUM},
    {"thr.faq_margin", S_THR, RR_T_NUM}, {"match.regulated", S_MATCH, RR_T_BOOL},
    {"user.id", S_USER, RR_T_STR},       {"text.tokens", S_TOKENS, RR_T_NUM},
    {"flag", S_FLAG, RR_T_BOOL},         {"n", S_N, RR_T_NUM},
    {"allowed_categories", S_ALLOWED, RR_T_STR},
};

static int resolve(void *ud, const char *name, size_t len, int *slot, rr_type *type) {
    int *calls = ud;
    if (calls)
        (*calls)++;
    for (size_t i = 0; i < sizeof idents / sizeof idents[0]; i++) {
        if (strlen(idents[i].name) == len && memcmp(idents[i].name, name, len) == 0) {
            *slot = idents[i].slot;
            *type = idents[i].type;
            return 0;
        }
    }
    return -1;
}

static rr_value vstr(const char *s) {
    rr_value v = {RR_T_STR, 1, (uint32_t)strlen(s), {.str = s}};
    return v;
}
static rr_value vnum(double d) {
    rr_value v = {RR_T_NUM, 1, 0, {.num = d}};
    return v;
}
static rr_value vbool(int b) {
    rr_value v = {RR_T_BOOL, 1, 0, {.b = b}};
    return v;
}

/* A request where nothing is set: every slot absent, carrying its default. */
static void defaults(rr_value *s) {
    s[S_TIER] = vstr("standard");
    s[S_PII] = vbool(0);
    s[S_TASK] = vstr("unknown");
    s[S_MARGIN] = vnum(0);
    s[S_THR] = vnum(0.15);
    s[S_MATCH] = vbool(0);
    s[S_USER] = vstr("");
    s[S_TOKENS] = vnum(0);
    s[S_FLAG] = vbool(0);
    s[S_N] = vnum(0);
    s[S_ALLOWED] = vstr("");
    for (int i = 0; i < S__COUNT; i++)
        s[i].present = 0;
}

static rr_alloc libc_alloc(void) {
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    return a;
}

static rr_expr *compile_ok(const char *src) {
    rr_alloc a = libc_alloc();
    rr_expr *e = NULL;
    rr_expr_diag d;
    int rc = rr_expr_compile(&a, src, resolve, NULL, &e, &d);
    if (rc != RR_OK)
        fail_msg("'%s' failed to compile: %s (column %u)", src, d.message, d.column);
    return e;
}

static int eval_src(const char *src, const rr_value *slots) {
    rr_expr *e = compile_ok(src);
    int r = rr_expr_eval(e, slots);
    rr_expr_free(e);
    return r;
}

static void expect_error(const char *src, const char *message, uint32_t column) {
    rr_alloc a = libc_alloc();
    rr_expr *e = (rr_expr *)&a; /* must be reset to NULL on failure */
    rr_expr_diag d;
    int rc = rr_expr_compile(&a, src, resolve, NULL, &e, &d);
    if (rc != RR_EEXPR || d.code != RR_EEXPR || strcmp(d.message, message) != 0 ||
        d.column != column)
        fail_msg("'%s': got rc %d \"%s\" column %u; want \"%s\" column %u", src, rc, d.message,
                 d.column, message, column);
    assert_null(e);
}

static uint64_t hash_of(const char *src) {
    rr_expr *e = compile_ok(src);
    uint64_t h = rr_expr_hash(e);
    rr_expr_free(e);
    return h;
}

/* ---- evaluation semantics ------------------------------------------------------------- */

static void test_and_binds_tighter_than_or(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    for (int m = 0; m < 16; m++) {
        int a = m & 1, b = (m >> 1) & 1, c = (m >> 2) & 1, d = (m >> 3) & 1;
        s[S_FLAG] = vbool(a);
        s[S_PII] = vbool(b);
        s[S_MATCH] = vbool(c);
        s[S_N] = vnum(d);
        assert_int_equal(eval_src("flag || pii.any && match.regulated", s), a || (b && c));
        assert_int_equal(eval_src("(flag || pii.any) && match.regulated", s), (a || b) && c);
        assert_int_equal(eval_src("flag && pii.any || match.regulated && n == 1", s),
                         (a && b) || (c && d));
        assert_int_equal(eval_src("flag && (pii.any || match.regulated) && n == 1", s),
                         a && (b || c) && d);
        assert_int_equal(eval_src("!flag || !(pii.any && !match.regulated)", s), !a || !(b && !c));
    }
}

static void test_not_binds_looser_than_comparison(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    s[S_TASK] = vstr("faq");
    assert_int_equal(eval_src("!task == 'faq'", s), 0);
    assert_int_equal(eval_src("!task == 'draft'", s), 1);
    assert_int_equal(eval_src("!!(task == 'faq')", s), 1);
}

/* A string slot whose pointer is NULL with a non-zero length crashes if it is read, so
 * these only pass if the right-hand side is skipped. */
static void test_short_circuit_skips_right_side(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    s[S_TASK].u.str = NULL;
    s[S_TASK].len = 3;
    s[S_PII] = vbool(1);
    assert_int_equal(eval_src("pii.any || task == 'faq'", s), 1);
    assert_int_equal(eval_src("!pii.any && task == 'faq'", s), 0);
    assert_int_equal(eval_src("flag || pii.any || task == 'faq' || task != 'x'", s), 1);
    assert_int_equal(eval_src("(pii.any || task == 'faq') && !(flag && task == 'x')", s), 1);
    assert_int_equal(eval_src("flag && (task == 'faq' || task == 'x') || pii.any", s), 1);
}

static void test_numeric_operators_follow_ieee(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    s[S_MARGIN] = vnum(0.2);
    s[S_THR] = vnum(0.15);
    static const struct {
        const char *src;
        int want;
    } cases[] = {
        {"retrieval.margin >= thr.faq_margin", 1},
        {"retrieval.margin > thr.faq_margin", 1},
        {"retrieval.margin <= thr.faq_margin", 0},
        {"retrieval.margin < thr.faq_margin", 0},
        {"retrieval.margin == thr.faq_margin", 0},
        {"retrieval.margin != thr.faq_margin", 1},
        {"retrieval.margin == 0.2", 1},
        {"retrieval.margin != 0.2", 0},
        {"retrieval.margin < 0.2", 0},
        {"retrieval.margin <= 0.2", 1},
        {"retrieval.margin > 0.2", 0},
        {"retrieval.margin >= 0.2", 1},
        {"0.1 < retrieval.margin", 1},
        {"0.3 <= retrieval.margin", 0},
        {"0.3 > retrieval.margin", 1},
        {"0.2 >= retrieval.margin", 1},
        {"2e-1 == retrieval.margin", 1},
        {"retrieval.margin == 20E-2", 1},
        {"-retrieval.margin == -0.2", 1},
        {"-(-retrieval.margin) == 0.2", 1},
        {"--retrieval.margin > 0.19", 1},
        {"-retrieval.margin < -thr.faq_margin", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (eval_src(cases[i].src, s) != cases[i].want)
            fail_msg("'%s' should be %d", cases[i].src, cases[i].want);
    }
}

static void test_string_equality_compares_length_and_bytes(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    static const char with_nul[] = {'f', 'a', 'q', 0, 'x'};
    s[S_TASK].u.str = with_nul;
    s[S_TASK].len = 5;
    assert_int_equal(eval_src("task == 'faq'", s), 0);
    assert_int_equal(eval_src("task != 'faq'", s), 1);
    s[S_TASK].len = 3; /* borrowed, not NUL-terminated: the length decides */
    assert_int_equal(eval_src("task == 'faq'", s), 1);
    assert_int_equal(eval_src("task == \"faq\"", s), 1);
    assert_int_equal(eval_src("task == 'fa'", s), 0);
    assert_int_equal(eval_src("task == 'FAQ'", s), 0);
    s[S_TASK] = vstr("it's \"x\"\\\n\t");
    assert_int_equal(eval_src("task == 'it\\'s \\\"x\\\"\\\\\\n\\t'", s), 1);
    assert_int_equal(eval_src("task == \"it's \\\"x\\\"\\\\\\n\\t\"", s), 1);
    s[S_TASK] = vstr("");
    assert_int_equal(eval_src("task == ''", s), 1);
    s[S_TIER] = vstr("regulated");
    s[S_TASK] = vstr("regulated");
    assert_int_equal(eval_src("task == tenant.tier", s), 1);
    s[S_TIER] = vstr("regulatee");
    assert_int_equal(eval_src("task == tenant.tier", s), 0);
    assert_int_equal(eval_src("task != tenant.tier", s), 1);
}

static void test_bool_equality(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    s[S_FLAG].u.b = 7; /* any non-zero int is true */
    s[S_PII].u.b = 1;
    assert_int_equal(eval_src("flag == pii.any", s), 1);
    assert_int_equal(eval_src("flag == true", s), 1);
    assert_int_equal(eval_src("flag != true", s), 0);
    assert_int_equal(eval_src("false == flag", s), 0);
    assert_int_equal(eval_src("(n == 0) == flag", s), 1);
    assert_int_equal(eval_src("(n == 1) != (task == 'x')", s), 0);
}

static void test_in_list_small_and_large(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    const char *big_s = "task in ['a','bb','ccc','dd','e','faq','g','hh','iii','j','kk','faq']";
    const char *big_n = "n in [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1, -2.5, 1e3]";
    const char *tasks[] = {"faq", "a", "kk", "iii", "j", "zz", "fa", "faqq", ""};
    const int want[] = {1, 1, 1, 1, 1, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
        s[S_TASK] = vstr(tasks[i]);
        assert_int_equal(eval_src(big_s, s), want[i]);
        assert_int_equal(eval_src("task in ['faq', 'a', 'kk', 'iii', 'j']", s), want[i]);
    }
    const double nums[] = {9, 0, -1, -2.5, 1000, 10, 0.5, -3};
    const int nwant[] = {1, 1, 1, 1, 1, 0, 0, 0};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        s[S_N] = vnum(nums[i]);
        assert_int_equal(eval_src(big_n, s), nwant[i]);
        assert_int_equal(eval_src("n in [1e3, -2.5, 9, -1, 0]", s), nwant[i]);
    }
    s[S_N] = vnum(3);
    assert_int_equal(eval_src("n in [3]", s), 1);
    assert_int_equal(eval_src("!(n in [4])", s), 1);
}

static void test_in_identifier_matches_trimmed_comma_separated_items(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    s[S_ALLOWED] = vstr("billing, technical ,\taccount\t");
    const char *tasks[] = {"billing", "technical", "account", "bill", "Billing",
                           "billing, technical", " billing", "", "accountx"};
    const int want[] = {1, 1, 1, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
        s[S_TASK] = vstr(tasks[i]);
        if (eval_src("task in allowed_categories", s) != want[i])
            fail_msg("'%s' in the list: want %d", tasks[i], want[i]);
        assert_int_equal(eval_src("!(task in allowed_categories)", s), !want[i]);
    }
    assert_int_equal(eval_src("'account' in allowed_categories", s), 1);
    assert_int_equal(eval_src("'accounts' in allowed_categories", s), 0);
    /* Inside a junction: the jump targets and stack depth must stay right. */
    s[S_TASK] = vstr("technical");
    s[S_N] = vnum(2);
    assert_int_equal(eval_src("n > 1 && task in allowed_categories && !flag", s), 1);
    assert_int_equal(eval_src("n > 5 || task in allowed_categories", s), 1);
    assert_int_equal(eval_src("n > 5 || user.id in allowed_categories", s), 0);
}

static void test_in_identifier_empty_lists_and_items_hold_nothing(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    const char *lists[] = {"", " ", ",", " , ,", "a,,b", ",a", "a,", "a"};
    const int want_empty[] = {0, 0, 0, 0, 0, 0, 0, 0};
    const int want_a[] = {0, 0, 0, 0, 1, 1, 1, 1};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        s[S_ALLOWED] = vstr(lists[i]);
        s[S_TASK] = vstr("");
        assert_int_equal(eval_src("task in allowed_categories", s), want_empty[i]);
        s[S_TASK] = vstr("a");
        if (eval_src("task in allowed_categories", s) != want_a[i])
            fail_msg("'a' in '%s': want %d", lists[i], want_a[i]);
    }
    /* Absent attributes carry their default, here the empty list. */
    s[S_ALLOWED].present = 0;
    s[S_ALLOWED].len = 0;
    s[S_ALLOWED].u.str = NULL;
    assert_int_equal(eval_src("task in allowed_categories", s), 0);
    assert_int_equal(eval_src("!has(allowed_categories) || task in allowed_categories", s), 1);
}

static void test_in_identifier_is_type_checked(void **state) {
    (void)state;
    expect_error("n in allowed_categories",
                 "type error: 'in' with an identifier needs a string on the left, found number", 3);
    expect_error("flag in allowed_categories",
                 "type error: 'in' with an identifier needs a string on the left, found bool", 6);
    expect_error("task in n",
                 "type error: 'in' needs a list literal or a string identifier holding a "
                 "comma-separated list, found number",
                 9);
    expect_error("task in pii.any",
                 "type error: 'in' needs a list literal or a string identifier holding a "
                 "comma-separated list, found bool",
                 9);
    expect_error("task in nope", "unknown identifier 'nope'", 9);
    expect_error("task in allowed_categories in ['a']", "comparisons do not chain; add parentheses",
                 28);
    expect_error("task in allowed_categories == true",
                 "comparisons do not chain; add parentheses", 28);
}

static void test_in_identifier_reads_both_slots_and_hashes_by_them(void **state) {
    (void)state;
    rr_expr *e = compile_ok("task in allowed_categories");
    assert_int_equal(rr_expr_constant(e), -1);
    assert_int_equal(rr_expr_ref_count(e), 2);
    assert_int_equal(rr_expr_ref(e, 0), S_TASK);
    assert_int_equal(rr_expr_ref(e, 1), S_ALLOWED);
    rr_expr_free(e);
    assert_true(hash_of("task in allowed_categories") == hash_of("(task)in  allowed_categories"));
    assert_true(hash_of("task in allowed_categories") != hash_of("task == allowed_categories"));
    assert_true(hash_of("task in allowed_categories") != hash_of("user.id in allowed_categories"));
    assert_true(hash_of("task in allowed_categories") != hash_of("task in tenant.tier"));
    /* `x && false` still folds away whatever the operand. */
    e = compile_ok("task in allowed_categories && false");
    assert_int_equal(rr_expr_constant(e), 0);
    rr_expr_free(e);
}

static void test_arithmetic_precedence_and_associativity(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    s[S_N] = vnum(10);
    s[S_MARGIN] = vnum(0.25);
    static const char *const truths[] = {
        "n - 2 - 3 == 5",         "n - 2 * 3 == 4",       "(n - 2) * 3 == 24",
        "n / 4 / 5 == 0.5",       "n / 4 == 2.5",         "-n + 1 == -9",
        "n * -1 == -10",          "n - -1 == 11",         "1 + n * 2 == 21",
        "n + 1 > n",              "2 * n == n + n",       "retrieval.margin + thr.faq_margin == 0.4",
        "n >= 9.99 + 0.01 && n <= 10 + 0.01", "bucket(n * 2, 7) == bucket(20, 7)",
    };
    for (size_t i = 0; i < sizeof truths / sizeof truths[0]; i++)
        if (eval_src(truths[i], s) != 1)
            fail_msg("'%s' should be true", truths[i]);
    assert_int_equal(eval_src("n - 2 - 3 == 9", s), 0);
}

static void test_arithmetic_follows_ieee_754(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    s[S_N] = vnum(1);
    assert_int_equal(eval_src("n / 0 > 1e308", s), 1);
    assert_int_equal(eval_src("-n / 0 < -1e308", s), 1);
    s[S_N] = vnum(0);
    assert_int_equal(eval_src("n / 0 == n / 0", s), 0);
    assert_int_equal(eval_src("n / 0 != n / 0", s), 1);
    assert_int_equal(eval_src("n / 0 < 1 || n / 0 >= 1", s), 0);
    s[S_N] = vnum(0.1);
    assert_int_equal(eval_src("n + 0.2 == 0.3", s), 0); /* doubles, not decimals */
    assert_int_equal(eval_src("n + 0.2 > 0.3 - 1e-9 && n + 0.2 < 0.3 + 1e-9", s), 1);
}

static void test_arithmetic_on_literals_folds(void **state) {
    (void)state;
    rr_expr *e = compile_ok("2 * 3 == 6 && 1 / 4 == 0.25");
    assert_int_equal(rr_expr_constant(e), 1);
    rr_expr_free(e);
    e = compile_ok("n > 2 * 3 + 1");
    assert_int_equal(rr_expr_constant(e), -1);
    assert_int_equal(rr_expr_ref_count(e), 1);
    rr_expr_free(e);
    assert_true(hash_of("n > 2 * 3 + 1") == hash_of("n > 7"));
    assert_true(hash_of("n + 1 > 2") != hash_of("n - 1 > 2"));
    assert_true(hash_of("n * 2 > 2") != hash_of("n / 2 > 2"));
    /* A long chain is a loop in the parser and two stack entries in the evaluator. */
    char src[16384];
    size_t o = 0;
    for (int i = 0; i < 400; i++)
        o += (size_t)sprintf(src + o, "%sn", i ? " + " : "");
    sprintf(src + o, " == 400");
    rr_value s[S__COUNT];
    defaults(s);
    s[S_N] = vnum(1);
    assert_int_equal(eval_src(src, s), 1);
    /* Much longer ones are refused, not a deep recursion in code generation. */
    o = 0;
    for (int i = 0; i < 2000; i++)
        o += (size_t)sprintf(src + o, "%sn", i ? " + " : "");
    sprintf(src + o, " == 1");
    expect_error(src, "expression too deeply nested", 1);
}

static void test_arithmetic_is_type_checked(void **state) {
    (void)state;
    expect_error("task + 1 == 2", "type error: '+' needs numbers, left side is string", 6);
    expect_error("n * flag", "type error: '*' needs numbers, right side is bool", 3);
    expect_error("n - 'a' > 1", "type error: '-' needs numbers, right side is string", 3);
    expect_error("1 / has(n) > 1", "type error: '/' needs numbers, right side is bool", 3);
    expect_error("n + 1", "condition must be bool, found number", 1);
    expect_error("n + > 1", "expected a value but found '>'", 5);
    expect_error("n * * 2 > 1", "expected a value but found '*'", 5);
    expect_error("flag + 1 > 0 || flag", "type error: '+' needs numbers, left side is bool", 6);
}

static void test_has_reads_presence_not_value(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    assert_int_equal(eval_src("has(tenant.tier)", s), 0);
    s[S_TIER].present = 1; /* set, even to the default value */
    assert_int_equal(eval_src("has(tenant.tier)", s), 1);
    assert_int_equal(eval_src("has(tenant.tier) && tenant.tier == 'standard'", s), 1);
    s[S_FLAG] = vbool(1);
    s[S_FLAG].present = 0;
    assert_int_equal(eval_src("has(flag)", s), 0);
    assert_int_equal(eval_src("!has(flag) && flag", s), 1);
}

static void test_absent_slots_evaluate_with_their_defaults(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    assert_int_equal(eval_src("tenant.tier == 'regulated' || pii.any", s), 0);
    assert_int_equal(eval_src("tenant.tier == 'standard'", s), 1);
    assert_int_equal(eval_src("user.id == ''", s), 1);
    assert_int_equal(eval_src("retrieval.margin >= thr.faq_margin", s), 0);
    assert_int_equal(eval_src("text.tokens < 1 && !match.regulated", s), 1);
    s[S_USER].u.str = NULL; /* an empty absent string may carry no pointer at all */
    assert_int_equal(eval_src("user.id == ''", s), 1);
    assert_int_equal(eval_src("user.id in ['', 'x']", s), 1);
    assert_int_equal(eval_src("bucket(user.id, 100) == 38", s), 1);
}

/* ---- bucket ---------------------------------------------------------------------------- */

static int bucket_is(const char *key_expr, uint64_t n, uint64_t want, const rr_value *s) {
    char src[256];
    snprintf(src, sizeof src, "bucket(%s, %llu) == %llu", key_expr, (unsigned long long)n,
             (unsigned long long)want);
    return eval_src(src, s);
}

static void test_bucket_is_xxh3_of_key_bytes_mod_n(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    /* Pinned values: a change here reshuffles every rollout in production. */
    assert_int_equal(XXH3_64bits("user-42", 7) % 100, 21);
    assert_int_equal(XXH3_64bits("tenant-acme", 11) % 1000000, 16286);
    assert_int_equal(XXH3_64bits("42", 2) % 100, 73);
    assert_int_equal(XXH3_64bits("0.10000000000000001", 19) % 100, 97);

    const char *keys[] = {"user-42", "tenant-acme", "x", ""};
    const uint64_t mods[] = {1, 2, 100, 1000000};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        s[S_USER] = vstr(keys[i]);
        for (size_t j = 0; j < sizeof mods / sizeof mods[0]; j++) {
            uint64_t want = XXH3_64bits(keys[i], strlen(keys[i])) % mods[j];
            assert_true(bucket_is("user.id", mods[j], want, s));
            assert_false(bucket_is("user.id", mods[j], want + 1, s));
        }
    }
    s[S_USER] = vstr("user-42");
    assert_int_equal(eval_src("bucket(user.id, 100) < 25", s), 1);
    assert_int_equal(eval_src("bucket(user.id, 100) == 21", s), 1);
}

static void test_bucket_formats_number_keys_with_17_digits(void **state) {
    (void)state;
    rr_value s[S__COUNT];
    defaults(s);
    s[S_N] = vnum(42);
    assert_true(bucket_is("n", 100, 73, s));
    s[S_N] = vnum(0.1);
    assert_true(bucket_is("n", 100, 97, s));
    s[S_N] = vnum(-7);
    assert_true(bucket_is("n", 100, XXH3_64bits("-7", 2) % 100, s));
    assert_true(bucket_is("-n", 100, XXH3_64bits("7", 1) % 100, s));
    s[S_N] = vnum(-0.0); /* -0 == 0, so it shares 0's bucket */
    assert_true(bucket_is("n", 1000000, XXH3_64bits("0", 1) % 1000000, s));
    /* Literal keys fold at compile time to the same value. */
    rr_expr *e = compile_ok("bucket('user-42', 100) == 21 && bucket(42, 100) == 73");
    assert_int_equal(rr_expr_constant(e), 1);
    rr_expr_free(e);
}

/* ---- folding, constants, hashing, refs ------------------------------------------------ */

static void test_constant_expressions_are_detected(void **state) {
    (void)state;
    static const struct {
        const char *src;
        int want;
    } cases[] = {
        {"true", 1},
        {"false", 0},
        {"1 == 1", 1},
        {"!false", 1},
        {"'a' != 'a'", 0},
        {"1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 4", 0},
        {"-1 < 0", 1},
        {"'faq' in ['a', 'faq']", 1},
        {"3 in [1, 2]", 0},
        {"n in []", 0},
        {"flag && false", 0},
        {"pii.any || true", 1},
        {"!(flag || true)", 0},
        {"(true == false) == false", 1},
        {"flag", -1},
        {"true && flag", -1},
        {"false || pii.any", -1},
        {"has(flag) || false", -1},
        {"n == n", -1},
        {"bucket(user.id, 1) == 0", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rr_expr *e = compile_ok(cases[i].src);
        if (rr_expr_constant(e) != cases[i].want)
            fail_msg("'%s': constant %d, want %d", cases[i].src, rr_expr_constant(e),
                     cases[i].want);
        if (cases[i].want >= 0)
            assert_int_equal(rr_expr_eval(e, NULL), cases[i].want);
        rr_expr_free(e);
    }
}


static void test_hash_ignores_layout_and_canonical_rewrites(void **state) {
    (void)state;
    static const char *const same[][2] = {
        {"n==1 && flag", "(n == 1)&&flag"},
        {"n==1 && flag", "  ((n  ==  1)) && (flag)  "},
        {"flag && pii.any && match.regulated", "flag && (pii.any && match.regulated)"},
        {"flag || pii.any", "(flag || pii.any) && true"},
        {"1 < n", "n > 1"},
        {"task in ['b', 'a', 'b']", "task in ['a', 'b']"},
        {"task in ['faq']", "task == 'faq'"},
        {"!!flag", "flag"},
        {"n == --1", "n == 1"},
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        if (hash_of(same[i][0]) != hash_of(same[i][1]))
            fail_msg("'%s' and '%s' should hash equal", same[i][0], same[i][1]);
}

static void test_hash_differs_for_different_code_or_literals(void **state) {
    (void)state;
    static const char *const differ[][2] = {
        {"n == 1", "n == 2"},
        {"task == 'faq'", "task == 'faQ'"},
        {"task == 'a'", "task == 'a '"},
        {"n == 1 && flag", "n == 1 || flag"},
        {"n < 1", "n <= 1"},
        {"n == 1", "text.tokens == 1"},
        {"task in ['a', 'b']", "task in ['a', 'c']"},
        {"bucket(user.id, 10) == 1", "bucket(user.id, 11) == 1"},
        {"flag && pii.any || match.regulated", "flag && (pii.any || match.regulated)"},
        {"has(flag)", "flag"},
        {"true", "false"},
    };
    for (size_t i = 0; i < sizeof differ / sizeof differ[0]; i++)
        if (hash_of(differ[i][0]) == hash_of(differ[i][1]))
            fail_msg("'%s' and '%s' should hash differently", differ[i][0], differ[i][1]);
}

static void test_refs_are_distinct_slots_in_first_use_order(void **state) {
    (void)state;
    rr_expr *e = compile_ok("task == 'faq' && (n > 1 || has(flag)) && n < 9 && task != 'x' "
                            "|| bucket(user.id, 10) == 3 || retrieval.margin >= thr.faq_margin");
    const int want[] = {S_TASK, S_N, S_FLAG, S_USER, S_MARGIN, S_THR};
    assert_int_equal(rr_expr_ref_count(e), 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(rr_expr_ref(e, i), want[i]);
    assert_int_equal(rr_expr_ref(e, 6), -1);
    rr_expr_free(e);
    e = compile_ok("flag && false || 1 == 1");
    assert_int_equal(rr_expr_ref_count(e), 0);
    assert_int_equal(rr_expr_ref(e, 0), -1);
    rr_expr_free(e);
}

static void test_resolver_called_once_per_identifier(void **state) {
    (void)state;
    rr_alloc a = libc_alloc();
    rr_expr *e;
    int calls = 0;
    assert_int_equal(rr_expr_compile(&a, "n > 1 && has(n) && flag", resolve, &calls, &e, NULL),
                     RR_OK);
    assert_int_equal(calls, 3);
    rr_expr_free(e);
}

/* ---- diagnostics ----------------------------------------------------------------------- */

static void test_syntax_errors_name_the_problem_and_column(void **state) {
    (void)state;
    expect_error("", "empty expression", 1);
    expect_error("   ", "empty expression", 4);
    expect_error("(task == 'faq'", "expected ')' but found end of expression", 15);
    expect_error("(n == 1 flag", "expected ')' but found 'flag'", 9);
    expect_error("n == 1 flag", "expected end of expression but found 'flag'", 8);
    expect_error("n == 1)", "expected end of expression but found ')'", 7);
    expect_error("n ==", "expected a value but found end of expression", 5);
    expect_error("n == )", "expected a value but found ')'", 6);
    expect_error("in", "expected a value but found 'in'", 1);
    expect_error("flag && && pii.any", "expected a value but found '&&'", 9);
    expect_error("n < 1 < 2", "comparisons do not chain; add parentheses", 7);
    expect_error("n == 1 in [1]", "comparisons do not chain; add parentheses", 8);
    expect_error("n = 1", "unexpected '=' (did you mean '=='?)", 3);
    expect_error("flag & pii.any", "unexpected '&' (did you mean '&&'?)", 6);
    expect_error("flag | pii.any", "unexpected '|' (did you mean '||'?)", 6);
    expect_error("n == #", "unexpected character '#'", 6);
    expect_error("n == 1 \x01", "unexpected character '\\x01'", 8);
    expect_error("task == 'faq", "unterminated string", 9);
    expect_error("task == \"faq\\\"", "unterminated string", 9);
    expect_error("task == 'faq\\", "unterminated string", 9);
    expect_error("task == 'a\\q'", "invalid escape '\\q' in string", 11);
    expect_error("n == 1.", "expected a digit after '.' in number", 8);
    expect_error("n == 1.e5", "expected a digit after '.' in number", 8);
    expect_error("n == 1e", "malformed exponent in number", 7);
    expect_error("n == 1e+", "malformed exponent in number", 7);
    expect_error("n == 1x", "unexpected 'x' after number", 7);
    expect_error("n == 1.5.2", "unexpected '.' after number", 9);
    expect_error("n == 1e999", "number '1e999' is out of range", 6);
    expect_error("has flag", "expected '(' after 'has' but found 'flag'", 5);
    expect_error("has(1)", "expected an identifier inside has() but found '1'", 5);
    expect_error("has(flag", "expected ')' but found end of expression", 9);
    expect_error("bucket user.id", "expected '(' after 'bucket' but found 'user.id'", 8);
    expect_error("bucket(user.id n) == 1", "expected ',' after the bucket key but found 'n'", 16);
    expect_error("n in 1", "expected '[' after 'in' but found '1'", 6);
    expect_error("n in [1 2]", "expected ',' or ']' but found '2'", 9);
    expect_error("n in [1,]", "expected a string or number literal in the list but found ']'", 9);
    expect_error("n in [x]", "expected a string or number literal in the list but found 'x'", 7);
    expect_error("n in [-x]", "expected a number after '-' but found 'x'", 8);
    expect_error("n in [1", "expected ',' or ']' but found end of expression", 8);
}

static void test_type_errors_name_operator_side_and_column(void **state) {
    (void)state;
    expect_error("foo.bar == 1", "unknown identifier 'foo.bar'", 1);
    expect_error("n > 1 && has(nope)", "unknown identifier 'nope'", 14);
    expect_error("true.x", "unknown identifier 'true.x'", 1);
    expect_error("tenant.tier < 3", "type error: '<' needs numbers, left side is string", 13);
    expect_error("n >= task", "type error: '>=' needs numbers, right side is string", 3);
    expect_error("flag <= 1", "type error: '<=' needs numbers, left side is bool", 6);
    expect_error("task == n", "type error: '==' compares string with number", 6);
    expect_error("flag != 'x'", "type error: '!=' compares bool with string", 6);
    expect_error("n", "condition must be bool, found number", 1);
    expect_error("  (task)", "condition must be bool, found string", 3);
    expect_error("bucket(user.id, 10)", "condition must be bool, found number", 1);
    expect_error("n && flag", "type error: '&&' needs bools, left side is number", 3);
    expect_error("flag || task", "type error: '||' needs bools, right side is string", 6);
    expect_error("flag && pii.any && n", "type error: '&&' needs bools, right side is number", 17);
    expect_error("!n", "type error: '!' needs a bool, found number", 1);
    expect_error("-task == 'a'", "type error: unary '-' needs a number, found string", 1);
    expect_error("-flag", "type error: unary '-' needs a number, found bool", 1);
    expect_error("n in [1, 'a']", "'in' list mixes strings and numbers", 10);
    expect_error("task in ['a', -1]", "'in' list mixes strings and numbers", 15);
    expect_error("n in ['a']", "type error: 'in' list holds strings, left side is number", 3);
    expect_error("task in [1, 2]", "type error: 'in' list holds numbers, left side is string", 6);
    expect_error("flag in [1]", "type error: 'in' needs a string or number on the left, found bool",
                 6);
    expect_error("bucket(flag, 10) == 1",
                 "type error: bucket key must be a string or number, found bool", 8);
    expect_error("bucket(user.id, 0) == 1", "bucket size must be an integer literal in 1..1000000",
                 17);
    expect_error("bucket(user.id, 1000001) == 1",
                 "bucket size must be an integer literal in 1..1000000", 17);
    expect_error("bucket(user.id, 2.5) == 1",
                 "bucket size must be an integer literal in 1..1000000", 17);
    expect_error("bucket(user.id, n) == 1", "bucket size must be an integer literal in 1..1000000",
                 17);
    expect_error("bucket(user.id, -5) == 1", "bucket size must be an integer literal in 1..1000000",
                 17);
    /* Columns count code points: 'é' is two bytes but one column. */
    expect_error("'é' == 1", "type error: '==' compares string with number", 5);
    expect_error("task == 'ü' && nöpe", "unexpected character '\\xC3'", 17);
}

static void test_long_identifier_is_truncated_in_message(void **state) {
    (void)state;
    char src[300], want[300];
    memset(src, 'a', 200);
    src[200] = 0;
    snprintf(want, sizeof want, "unknown identifier '%.64s...'", src);
    expect_error(src, want, 1);
}

/* ---- limits ------------------------------------------------------------------------------ */

static void test_parser_depth_is_bounded(void **state) {
    (void)state;
    char src[1024];
    size_t o = 0;
    for (int i = 0; i < 200; i++)
        src[o++] = '(';
    memcpy(src + o, "flag", 4);
    o += 4;
    for (int i = 0; i < 200; i++)
        src[o++] = ')';
    src[o] = 0;
    expect_error(src, "expression too deeply nested", 101);
    memset(src, '!', 500);
    strcpy(src + 500, "flag");
    expect_error(src, "expression too deeply nested", 101);
    memset(src, '-', 500);
    strcpy(src + 500, "n > 1");
    expect_error(src, "expression too deeply nested", 101);
    /* Within the bound, nesting is fine and folds away. */
    o = 0;
    for (int i = 0; i < 90; i++)
        src[o++] = '(';
    strcpy(src + o, "flag");
    o += 4;
    for (int i = 0; i < 90; i++)
        src[o++] = ')';
    strcpy(src + o, " && true");
    assert_int_equal(hash_of(src), hash_of("flag"));
}

/* flag == (flag == (... (flag == flag))): each level holds one more operand on the stack. */
static void build_eq_chain(char *src, int levels) {
    size_t o = 0;
    for (int i = 0; i < levels; i++)
        o += (size_t)sprintf(src + o, "flag == (");
    o += (size_t)sprintf(src + o, "flag == flag");
    for (int i = 0; i < levels; i++)
        src[o++] = ')';
    src[o] = 0;
}

static void test_stack_need_is_bounded(void **state) {
    (void)state;
    char src[2048];
    rr_value s[S__COUNT];
    defaults(s);
    build_eq_chain(src, RR_EXPR_MAX_STACK - 2);
    rr_expr *e = compile_ok(src); /* needs exactly RR_EXPR_MAX_STACK */
    s[S_FLAG] = vbool(1);
    assert_int_equal(rr_expr_eval(e, s), 1);
    s[S_FLAG] = vbool(0); /* false == (false == ...) alternates with the level count */
    assert_int_equal(rr_expr_eval(e, s), (RR_EXPR_MAX_STACK - 2) % 2 == 0);
    rr_expr_free(e);
    build_eq_chain(src, RR_EXPR_MAX_STACK - 1);
    /* The outermost comparison is the one that needs 65 slots: it starts at column 1. */
    expect_error(src, "expression too deeply nested", 1);
    build_eq_chain(src, 80);
    /* Level j from the inside needs j + 2 slots, so the 63rd level is the innermost one that
     * is too deep: the 18th "flag == (" from the left, 9 columns each. */
    expect_error(src, "expression too deeply nested", 1 + 17 * 9);
}

static void test_invalid_arguments(void **state) {
    (void)state;
    rr_alloc a = libc_alloc();
    rr_expr *e;
    rr_expr_diag d;
    assert_int_equal(rr_expr_compile(&a, NULL, resolve, NULL, &e, &d), RR_EINVAL);
    assert_int_equal(d.code, RR_EINVAL);
    assert_int_equal(rr_expr_compile(&a, "flag", NULL, NULL, &e, &d), RR_EINVAL);
    assert_int_equal(rr_expr_compile(&a, "flag", resolve, NULL, NULL, &d), RR_EINVAL);
    assert_int_equal(rr_expr_compile(&a, "flag +", resolve, NULL, &e, NULL), RR_EEXPR);
    rr_expr_free(NULL);
    assert_int_equal(rr_expr_constant(NULL), -1);
    assert_int_equal(rr_expr_ref_count(NULL), 0);
}

/* ---- allocation failure ---------------------------------------------------------------- */

typedef struct fail_alloc {
    int budget; /* allocations left before failing */
    int live;
} fail_alloc;

static void *fa_malloc(size_t n, void *ud) {
    fail_alloc *f = ud;
    if (f->budget-- <= 0)
        return NULL;
    f->live++;
    return malloc(n);
}
static void *fa_realloc(void *p, size_t n, void *ud) {
    fail_alloc *f = ud;
    if (f->budget-- <= 0)
        return NULL;
    if (!p)
        f->live++;
    return realloc(p, n);
}
static void fa_free(void *p, void *ud) {
    fail_alloc *f = ud;
    if (p)
        f->live--;
    free(p);
}

static void test_allocation_failure_returns_enomem_and_leaks_nothing(void **state) {
    (void)state;
    /* Long enough to grow every scratch array past its first capacity. */
    char src[4096];
    size_t o = (size_t)sprintf(src, "task in ['a', 'b', 'c'] && bucket(user.id, 7) == 3");
    for (int i = 0; i < 40; i++)
        o += (size_t)sprintf(src + o, " || (n == %d && tenant.tier != 'x%d')", i, i);
    int budget = 0;
    for (;; budget++) {
        fail_alloc f = {budget, 0};
        rr_allocator pub = {.version = RR_ALLOCATOR_VERSION,
                            .user_data = &f,
                            .malloc_fn = fa_malloc,
                            .realloc_fn = fa_realloc,
                            .free_fn = fa_free};
        rr_alloc a;
        rr_alloc_init(&a, &pub);
        rr_expr *e = NULL;
        rr_expr_diag d;
        int rc = rr_expr_compile(&a, src, resolve, NULL, &e, &d);
        if (rc == RR_OK) {
            rr_value s[S__COUNT];
            defaults(s);
            s[S_N] = vnum(39);
            assert_int_equal(rr_expr_eval(e, s), 1);
            rr_expr_free(e);
            assert_int_equal(f.live, 0);
            break;
        }
        assert_int_equal(rc, RR_ENOMEM);
        assert_int_equal(d.code, RR_ENOMEM);
        assert_string_equal(d.message, "out of memory");
        assert_null(e);
        assert_int_equal(f.live, 0);
    }
    assert_true(budget >= 5); /* every growth path was exercised */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_and_binds_tighter_than_or),
        cmocka_unit_test(test_not_binds_looser_than_comparison),
        cmocka_unit_test(test_short_circuit_skips_right_side),
        cmocka_unit_test(test_numeric_operators_follow_ieee),
        cmocka_unit_test(test_string_equality_compares_length_and_bytes),
        cmocka_unit_test(test_bool_equality),
        cmocka_unit_test(test_in_list_small_and_large),
        cmocka_unit_test(test_in_identifier_matches_trimmed_comma_separated_items),
        cmocka_unit_test(test_in_identifier_empty_lists_and_items_hold_nothing),
        cmocka_unit_test(test_in_identifier_is_type_checked),
        cmocka_unit_test(test_in_identifier_reads_both_slots_and_hashes_by_them),
        cmocka_unit_test(test_arithmetic_precedence_and_associativity),
        cmocka_unit_test(test_arithmetic_follows_ieee_754),
        cmocka_unit_test(test_arithmetic_on_literals_folds),
        cmocka_unit_test(test_arithmetic_is_type_checked),
        cmocka_unit_test(test_has_reads_presence_not_value),
        cmocka_unit_test(test_absent_slots_evaluate_with_their_defaults),
        cmocka_unit_test(test_bucket_is_xxh3_of_key_bytes_mod_n),
        cmocka_unit_test(test_bucket_formats_number_keys_with_17_digits),
        cmocka_unit_test(test_constant_expressions_are_detected),
        cmocka_unit_test(test_hash_ignores_layout_and_canonical_rewrites),
        cmocka_unit_test(test_hash_differs_for_different_code_or_literals),
        cmocka_unit_test(test_refs_are_distinct_slots_in_first_use_order),
        cmocka_unit_test(test_resolver_called_once_per_identifier),
        cmocka_unit_test(test_syntax_errors_name_the_problem_and_column),
        cmocka_unit_test(test_type_errors_name_operator_side_and_column),
        cmocka_unit_test(test_long_identifier_is_truncated_in_message),
        cmocka_unit_test(test_parser_depth_is_bounded),
        cmocka_unit_test(test_stack_need_is_bounded),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_allocation_failure_returns_enomem_and_leaks_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
