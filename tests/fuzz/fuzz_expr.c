/* libFuzzer target: compile arbitrary bytes as a condition, evaluate on success, free.
 * Build: clang -fsanitize=fuzzer,address -Iinclude -Ilib -DXXH_INLINE_ALL lib/base.c
 *        lib/expr.c tests/fuzz/fuzz_expr.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

static const struct {
    const char *name;
    rr_type type;
} idents[] = {
    {"tenant.tier", RR_T_STR},
    {"task", RR_T_STR},
    {"user.id", RR_T_STR},
    {"pii.any", RR_T_BOOL},
    {"flag", RR_T_BOOL},
    {"match.regulated", RR_T_BOOL},
    {"n", RR_T_NUM},
    {"retrieval.margin", RR_T_NUM},
    {"thr.faq_margin", RR_T_NUM},
};
#define NIDENTS (sizeof idents / sizeof idents[0])

static int resolve(void *ud, const char *name, size_t len, int *slot, rr_type *type) {
    (void)ud;
    for (size_t i = 0; i < NIDENTS; i++) {
        if (strlen(idents[i].name) == len && memcmp(idents[i].name, name, len) == 0) {
            *slot = (int)i;
            *type = idents[i].type;
            return 0;
        }
    }
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *src = malloc(size + 1);
    if (!src)
        return 0;
    if (size)
        memcpy(src, data, size);
    src[size] = 0;
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_expr *e = NULL;
    rr_expr_diag d;
    int rc = rr_expr_compile(&a, src, resolve, NULL, &e, &d);
    if (rc == RR_OK) {
        /* Two slot sets, so both sides of every branch get exercised. */
        rr_value s[NIDENTS];
        static const char *const strs[] = {"regulated", "faq", "user-42"};
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < NIDENTS; i++) {
                memset(&s[i], 0, sizeof s[i]);
                s[i].type = (uint8_t)idents[i].type;
                s[i].present = (uint8_t)pass;
                if (idents[i].type == RR_T_STR) {
                    s[i].u.str = pass ? strs[i % 3] : "";
                    s[i].len = pass ? (uint32_t)strlen(strs[i % 3]) : 0;
                } else if (idents[i].type == RR_T_NUM) {
                    s[i].u.num = pass ? 0.15 * (double)i : 0;
                } else {
                    s[i].u.b = pass;
                }
            }
            int r = rr_expr_eval(e, s);
            int c = rr_expr_constant(e);
            if ((r != 0 && r != 1) || (c >= 0 && c != r))
                abort();
        }
        for (size_t i = 0; i < rr_expr_ref_count(e); i++)
            if (rr_expr_ref(e, i) < 0 || rr_expr_ref(e, i) >= (int)NIDENTS)
                abort();
        (void)rr_expr_hash(e);
        rr_expr_free(e);
    } else if (e != NULL || (rc != RR_EEXPR && rc != RR_ENOMEM) || d.code != rc ||
               (rc == RR_EEXPR && (d.message[0] == 0 || d.column > size + 1))) {
        abort();
    }
    free(src);
    return 0;
}
