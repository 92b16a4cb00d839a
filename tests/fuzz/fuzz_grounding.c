/* libFuzzer target: the grounding validator. The first byte picks options; the rest is
 * "<answer>\n--\n<evidence 1>\n--\n<evidence 2>..." (NUL bytes and invalid UTF-8 allowed).
 * Checks that every result is in range, spans lie inside the answer, the verdict agrees with
 * the result, and a second scratch gives the same answer (determinism). */
#include <stdint.h>
#include <string.h>

#include "base.h"
#include "validate_grounding.h"
#include "verdict.h"

#define MAX_EV 80
#define SEP "\n--\n"

static void require(int ok) {
    if (!ok)
        __builtin_trap();
}

static size_t split(const char *p, size_t n, const char **part, size_t *plen, size_t max) {
    size_t k = 0;
    while (k < max) {
        const char *s = NULL;
        for (size_t i = 0; i + 4 <= n; i++)
            if (memcmp(p + i, SEP, 4) == 0) {
                s = p + i;
                break;
            }
        part[k] = p;
        plen[k] = s ? (size_t)(s - p) : n;
        k++;
        if (!s)
            break;
        n -= plen[k - 1] + 4;
        p = s + 4;
    }
    return k;
}

static void check_result(const rr_grounding_result *r, const struct rr_verdict *v, size_t len,
                         size_t nev) {
    require(r->support >= 0.0 && r->support <= 1.0);
    require(r->coverage >= 0.0 && r->coverage <= 1.0);
    require(r->cited_claims <= r->nclaims && r->unknown_citations <= r->citations);
    size_t prev_end = 0;
    for (size_t i = 0; i < r->nclaims; i++) {
        const rr_grounding_claim *c = &r->claims[i];
        require(c->start < c->end && c->end <= len && c->start >= prev_end);
        require(c->support >= 0.0 && c->support <= 1.0);
        require(c->evidence >= -1 && c->evidence < (int64_t)nev);
        require(c->facts_found <= c->facts);
        prev_end = c->end;
    }
    require(v->passed == r->passed);
    for (size_t i = 0; i < v->nfindings; i++) {
        const rr_finding *f = &v->findings[i];
        require(f->span_start >= 0 && f->span_start <= f->span_end &&
                f->span_end <= (int64_t)len);
        require(f->code && f->code[0] && f->msg_len > 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t opt = data[0];
    const char *part[MAX_EV + 1];
    size_t plen[MAX_EV + 1];
    size_t np = split((const char *)data + 1, size - 1, part, plen, MAX_EV + 1);
    static const char *const ids[] = {"1", "2", "a", "doc-1", NULL};
    rr_evidence_ref ev[MAX_EV];
    size_t nev = 0;
    /* bit 6: repeat the passages up to 70, to cross the 64-passage bitset word */
    size_t want = (opt & 64) ? 70 : np - 1;
    for (size_t i = 0; np > 1 && i < want && i < MAX_EV; i++) {
        size_t k = 1 + i % (np - 1);
        ev[nev++] = (rr_evidence_ref){ids[(i + (opt >> 3)) % 5], part[k], plen[k]};
    }
    rr_grounding_config cfg = RR_GROUNDING_CONFIG_INIT;
    cfg.require_citations = opt & 1;
    cfg.citation_pattern = (opt & 2) ? "\\(src: ?([^)]{1,20})\\)" : NULL;
    cfg.claim_support_min = (opt & 4) ? 0.3 : 0.0;
    cfg.support_min = (opt & 128) ? 0.9 : 0.5;
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_grounding *g = NULL;
    rr_grounding_scratch *s1 = NULL, *s2 = NULL;
    require(rr_grounding_new(&g, &cfg, &a, NULL) == RR_OK);
    require(rr_grounding_scratch_new(&s1, &a) == RR_OK);
    require(rr_grounding_scratch_new(&s2, &a) == RR_OK);
    struct rr_verdict v;
    rr_verdict_init(&v, &a);
    rr_error err = RR_ERROR_INIT;
    int rc = rr_grounding_check(g, s1, part[0], plen[0], ev, nev, &v, &err);
    require(rc == RR_OK || rc == RR_EUTF8 || rc == RR_ELIMIT);
    if (rc != RR_OK) {
        require(err.code == rc && err.message[0]);
    } else {
        const rr_grounding_result *r1 = rr_grounding_result_of(s1);
        check_result(r1, &v, plen[0], nev);
        size_t nf = v.nfindings;
        double sup = r1->support;
        rr_verdict_clear(&v);
        require(rr_grounding_check(g, s2, part[0], plen[0], ev, nev, &v, NULL) == RR_OK);
        require(rr_grounding_result_of(s2)->support == sup && v.nfindings == nf);
    }
    rr_verdict_release(&v);
    rr_grounding_scratch_free(s1);
    rr_grounding_scratch_free(s2);
    rr_grounding_free(g);
    return 0;
}
