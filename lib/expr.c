/* Placeholder until the expression compiler lands: rejects every expression. */
#include "expr.h"
int rr_expr_compile(const rr_alloc *a, const char *src, rr_expr_resolve_fn resolve, void *ud,
                    rr_expr **out, rr_expr_diag *diag) {
    RR_UNUSED(a); RR_UNUSED(src); RR_UNUSED(resolve); RR_UNUSED(ud); RR_UNUSED(out);
    diag->code = RR_EEXPR; diag->column = 0; diag->message[0] = 0;
    return RR_EEXPR;
}
void rr_expr_free(rr_expr *e) { RR_UNUSED(e); }
int rr_expr_eval(const rr_expr *e, const rr_value *slots) { RR_UNUSED(e); RR_UNUSED(slots); return 0; }
int rr_expr_constant(const rr_expr *e) { RR_UNUSED(e); return -1; }
uint64_t rr_expr_hash(const rr_expr *e) { RR_UNUSED(e); return 0; }
size_t rr_expr_ref_count(const rr_expr *e) { RR_UNUSED(e); return 0; }
int rr_expr_ref(const rr_expr *e, size_t i) { RR_UNUSED(e); RR_UNUSED(i); return -1; }
