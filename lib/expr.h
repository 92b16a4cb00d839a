/* The policy's condition language: parse, type-check, compile to bytecode, evaluate.
 *
 * Grammar (precedence low to high):
 *   expr    := or
 *   or      := and ( "||" and )*
 *   and     := not ( "&&" not )*
 *   not     := "!" not | cmp
 *   cmp     := sum ( ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) sum
 *                  | "in" list | "in" IDENT )?
 *   sum     := term ( ( "+" | "-" ) term )*
 *   term    := unary ( ( "*" | "/" ) unary )*
 *   unary   := "-" unary | primary
 *   primary := NUMBER | STRING | "true" | "false" | IDENT | "(" expr ")"
 *            | "has" "(" IDENT ")" | "bucket" "(" expr "," NUMBER ")"
 *   list    := "[" ( literal ( "," literal )* )? "]"     -- all strings or all numbers
 *   IDENT   := [A-Za-z_][A-Za-z0-9_.]*      (dots allowed: tenant.tier, thr.faq_margin)
 *   STRING  := '...' or "..." with \\ \' \" \n \t escapes
 * Types: bool, number, string. == and != need equal types; < <= > >= need numbers;
 * && || ! need bools; `x in [...]` needs x's type to equal the list's. `x in IDENT` needs
 * a string x and a string identifier holding a comma-separated list (a request attribute
 * such as allowed_categories = "billing, technical"): true when x equals one of the items,
 * compared by bytes after trimming spaces and tabs around each item; empty items match
 * nothing, so an empty list is false. It evaluates without allocating. The whole
 * expression must be bool. bucket(key, n): key is a string (or number, formatted with
 * %.17g), n an integer literal in 1..1000000; result is xxh3_64(key) % n, a number.
 * has(ident) is true when the identifier's slot is present (an attribute the request set).
 * Arithmetic (+ - * /, left-associative, * and / binding tighter) needs numbers and
 * follows IEEE 754 doubles: x / 0 is an infinity (NaN for 0 / 0), and a comparison with
 * NaN is false except !=. It exists for checks such as
 * `total <= items_total + thr.sum_tolerance`. Negative numbers are allowed in `in` lists.
 * NUMBER is decimal: digits, optional "." digits, optional exponent; never inf or NaN.
 * Comparisons do not chain (`a < b < c` is an error); `!` binds looser than comparison,
 * so `!x == y` means `!(x == y)`.
 *
 * Canonical form: constant subtrees fold (`1 == 1`, `!false`, `'a' in ['a']`, `2 * 3`,
 * `x && false`, `true && x` -> x), `&&`/`||` chains flatten regardless of parentheses,
 * literal-first comparisons are mirrored (`1 < x` -> `x > 1`), `in` lists are sorted and
 * deduplicated. Evaluation has no side effects, so folding never changes a result.
 *
 * A compiled rr_expr is immutable: any number of threads may evaluate it at once.
 */
#ifndef RR_EXPR_H
#define RR_EXPR_H

#include "base.h"

typedef enum rr_type { RR_T_BOOL = 1, RR_T_NUM = 2, RR_T_STR = 3 } rr_type;

/* A slot value at evaluation time. Strings are borrowed (not NUL-terminated necessarily). */
typedef struct rr_value {
    uint8_t type;    /* rr_type */
    uint8_t present; /* for has(); absent slots still carry a default value */
    uint32_t len;    /* string length */
    union {
        double num;
        int b;
        const char *str;
    } u;
} rr_value;

/* Resolve identifier name[0..len) to a slot index and type. Return 0 if known, -1 if
 * unknown (the compiler then reports "unknown identifier"). */
typedef int (*rr_expr_resolve_fn)(void *ud, const char *name, size_t len, int *slot, rr_type *type);

typedef struct rr_expr rr_expr;

/* Diagnostics from compilation: message plus 1-based column inside the source. Columns
 * count UTF-8 code points (not bytes), so they match what an editor shows. */
typedef struct rr_expr_diag {
    int code;        /* RR_EEXPR or RR_ENOMEM */
    uint32_t column; /* 1-based; 0 if not applicable */
    char message[256];
} rr_expr_diag;

/* Operand-stack bound of the evaluator; compilation rejects expressions that would need
 * more ("expression too deeply nested"). */
#define RR_EXPR_MAX_STACK 64
/* Parser nesting bound (parentheses, '!', unary '-', bucket()), so hostile input cannot
 * exhaust the C stack; deeper input fails with "expression too deeply nested". */
#define RR_EXPR_MAX_DEPTH 100

/* Compile `src` (NUL-terminated, at most 4 MiB). Returns RR_OK and *out, or an error code
 * with `diag` filled (diag may be NULL): RR_EEXPR (syntax, unknown identifier, type error,
 * nesting; column set), RR_ENOMEM, RR_EINVAL (NULL a / src / resolve / out). The result
 * must be bool. The resolver is called once per identifier occurrence, during this call
 * only; `name` points into `src` and is not NUL-terminated. All memory comes from `a`. */
int rr_expr_compile(const rr_alloc *a, const char *src, rr_expr_resolve_fn resolve, void *ud,
                    rr_expr **out, rr_expr_diag *diag);
/* NULL is a no-op. */
void rr_expr_free(rr_expr *e);

/* Evaluate against `slots` (indexed by the resolver's slot numbers). Allocates nothing.
 * Returns 1 (true) or 0 (false). Every slot the expression reads (rr_expr_ref) must exist
 * and hold the type the resolver reported; the value is read even when `present` is 0
 * (absent slots carry their default). `slots` may be NULL when rr_expr_ref_count is 0.
 * bucket() on a number key formats it with "%.17g" ('.' as decimal point whatever the
 * locale; -0 as "0"); that formatting is the only slow step (~100 ns). */
int rr_expr_eval(const rr_expr *e, const rr_value *slots);

/* -1 when the value depends on slots; 0 or 1 when it is constant false / true. */
int rr_expr_constant(const rr_expr *e);
/* A hash of the compiled form, literal values included: equal for expressions that
 * compile to the same code (whitespace, redundant parentheses, the canonicalisations
 * above), identical on every platform. */
uint64_t rr_expr_hash(const rr_expr *e);
/* Distinct slot indexes the expression reads (has() included), in first-use order, after
 * folding: `x && false` reads nothing. rr_expr_ref returns -1 when i is out of range. */
size_t rr_expr_ref_count(const rr_expr *e);
int rr_expr_ref(const rr_expr *e, size_t i);

#endif
