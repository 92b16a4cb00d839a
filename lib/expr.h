/* The policy's condition language: parse, type-check, compile to bytecode, evaluate.
 *
 * Grammar (precedence low to high):
 *   expr    := or
 *   or      := and ( "||" and )*
 *   and     := not ( "&&" not )*
 *   not     := "!" not | cmp
 *   cmp     := primary ( ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) primary
 *                      | "in" list )?
 *   primary := NUMBER | STRING | "true" | "false" | IDENT | "(" expr ")"
 *            | "has" "(" IDENT ")" | "bucket" "(" expr "," NUMBER ")"
 *   list    := "[" ( literal ( "," literal )* )? "]"     -- all strings or all numbers
 *   IDENT   := [A-Za-z_][A-Za-z0-9_.]*      (dots allowed: tenant.tier, thr.faq_margin)
 *   STRING  := '...' or "..." with \\ \' \" \n \t escapes
 * Types: bool, number, string. == and != need equal types; < <= > >= need numbers;
 * && || ! need bools; `x in [...]` needs x's type to equal the list's. The whole
 * expression must be bool. bucket(key, n): key is a string (or number, formatted with
 * %.17g), n an integer literal in 1..1000000; result is xxh3_64(key) % n, a number.
 * has(ident) is true when the identifier's slot is present (an attribute the request set).
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
typedef int (*rr_expr_resolve_fn)(void *ud, const char *name, size_t len, int *slot,
                                  rr_type *type);

typedef struct rr_expr rr_expr;

/* Diagnostics from compilation: message plus 1-based column inside the source. */
typedef struct rr_expr_diag {
    int code;        /* RR_EEXPR or RR_ENOMEM */
    uint32_t column; /* 1-based; 0 if not applicable */
    char message[256];
} rr_expr_diag;

#define RR_EXPR_MAX_STACK 64

/* Compile `src` (NUL-terminated). Returns RR_OK and *out, or an error code with `diag`
 * filled. The result must be bool. */
int rr_expr_compile(const rr_alloc *a, const char *src, rr_expr_resolve_fn resolve, void *ud,
                    rr_expr **out, rr_expr_diag *diag);
void rr_expr_free(rr_expr *e);

/* Evaluate against `slots` (indexed by the resolver's slot numbers). Allocates nothing.
 * Returns 1 (true) or 0 (false). */
int rr_expr_eval(const rr_expr *e, const rr_value *slots);

/* -1 when the value depends on slots; 0 or 1 when it is constant false / true. */
int rr_expr_constant(const rr_expr *e);
/* A hash of the compiled form: equal for expressions that compile to the same code
 * (whitespace, redundant parentheses ignored). */
uint64_t rr_expr_hash(const rr_expr *e);
/* Distinct slot indexes the expression reads, in first-use order. */
size_t rr_expr_ref_count(const rr_expr *e);
int rr_expr_ref(const rr_expr *e, size_t i);

#endif
