/* The layered decision: features -> eligibility -> task -> routing rules -> reroute when
 * denied. Allocates only while the request's and decision's scratch grows (warm-up). */
#include "classify.h"
#include "router.h"

#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static bool grow(const rr_alloc *a, void **p, size_t *cap, size_t need, size_t elem) {
    if (*cap >= need)
        return true;
    size_t n = need < 16 ? 16 : need;
    void *q = rr_realloc(a, *p, *cap * elem, n * elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static int size_scratch(const rr_router *r, rr_request *q) {
    size_t nden = r->nmodels + r->nroutes + r->ntools;
    if (!grow(&q->a, (void **)&q->slots, &q->capslots, r->nslots, sizeof *q->slots) ||
        !grow(&q->a, (void **)&q->denied, &q->capdenied, nden, 1) ||
        !grow(&q->a, (void **)&q->ev_ptrs, &q->capevptrs, q->nev, sizeof *q->ev_ptrs))
        return RR_ENOMEM;
    if (!grow(&q->a, (void **)&q->ev_lens, &q->caplens, q->nev, sizeof *q->ev_lens))
        return RR_ENOMEM;
    if (!q->md) {
        q->md = pcre2_match_data_create(1, q->gctx);
        if (!q->md)
            return RR_ENOMEM;
    }
    return RR_OK;
}

static inline unsigned lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? c + 32u : c;
}

/* ASCII \w (PCRE2's \b without UCP): 1 for [A-Za-z0-9_]. */
#define W8(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || \
               ((c) >= '0' && (c) <= '9') || (c) == '_')
#define W_ROW(b)                                                                           \
    W8(b + 0), W8(b + 1), W8(b + 2), W8(b + 3), W8(b + 4), W8(b + 5), W8(b + 6), W8(b + 7),   \
        W8(b + 8), W8(b + 9), W8(b + 10), W8(b + 11), W8(b + 12), W8(b + 13), W8(b + 14),    \
        W8(b + 15)
static const uint8_t is_w[256] = {W_ROW(0),   W_ROW(16),  W_ROW(32),  W_ROW(48),
                                  W_ROW(64),  W_ROW(80),  W_ROW(96),  W_ROW(112)};

static inline void mark_at(uint64_t *bits, const unsigned char *t, size_t i) {
    int b = rr_prefix_bit(lower(t[i]), lower(t[i + 1]), lower(t[i + 2]));
    bits[b >> 6] |= 1ull << (b & 63);
}

/* Patterns match caselessly in UTF mode, where k and s also match U+212A and U+017F: a text
 * holding either gets every prefix bit, so no pattern is skipped. */
static bool has_fold_letters(const unsigned char *t, size_t n) {
    for (const unsigned char *p = t, *e = t + n; (p = memchr(p, 0xC5, (size_t)(e - p))); p++)
        if (p + 1 < e && p[1] == 0xBF)
            return true;
    for (const unsigned char *p = t, *e = t + n; (p = memchr(p, 0xE2, (size_t)(e - p))); p++)
        if (p + 2 < e && p[1] == 0x84 && p[2] == 0xAA)
            return true;
    return false;
}

/* Mark the 3-letter prefix of every word start. SSE2 (every x86-64) finds the word bytes of
 * 16 bytes at a time; word starts are then the set bits of mask & ~(mask << 1). */
static void mark_word_starts(uint64_t *bits, const unsigned char *t, size_t n) {
    memset(bits, 0, 64 * sizeof *bits);
    if (n < 3)
        return;
    if (has_fold_letters(t, n)) {
        memset(bits, 0xff, 64 * sizeof *bits);
        return;
    }
    size_t end = n - 2, i = 0; /* a start at i needs t[i + 2] */
    unsigned prev = 0;
#ifdef __SSE2__
    const __m128i a = _mm_set1_epi8('a'), z = _mm_set1_epi8(25), zero = _mm_set1_epi8('0'),
                  nine = _mm_set1_epi8(9), us = _mm_set1_epi8('_'), x20 = _mm_set1_epi8(0x20);
    for (; i + 16 <= end; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(t + i));
        __m128i l = _mm_sub_epi8(_mm_or_si128(x, x20), a);
        __m128i d = _mm_sub_epi8(x, zero);
        __m128i w = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(l, z), l),
                                              _mm_cmpeq_epi8(_mm_min_epu8(d, nine), d)),
                                 _mm_cmpeq_epi8(x, us));
        unsigned m = (unsigned)_mm_movemask_epi8(w);
        unsigned starts = m & ~((m << 1) | prev);
        prev = (m >> 15) & 1;
        while (starts) {
            mark_at(bits, t, i + (size_t)__builtin_ctz(starts));
            starts &= starts - 1;
        }
    }
#endif
    for (; i < end; i++) {
        unsigned w = is_w[t[i]];
        if (w > prev)
            mark_at(bits, t, i);
        prev = w;
    }
}

static int match_sets(const rr_router *r, rr_request *q, const char *text, size_t len,
                      rr_error *err) {
    if (r->npatterns)
        mark_word_starts(q->word_starts, (const unsigned char *)text, len);
    for (size_t i = 0; i < r->npatterns; i++) {
        const rr_pattern_set *s = &r->patterns[i];
        bool hit = false;
        for (size_t k = 0; k < s->n && !hit; k++) {
            int32_t pb = s->prefix[k];
            if (pb >= 0 && !(q->word_starts[pb >> 6] & (1ull << (pb & 63))))
                continue; /* no word starts with the letters every match starts with */
            int rc = pcre2_match(s->codes[k], (PCRE2_SPTR)text, len, 0, PCRE2_NO_UTF_CHECK, q->md,
                                 r->mctx);
            if (rc >= 0) {
                hit = true;
            } else if (rc != PCRE2_ERROR_NOMATCH) {
                PCRE2_UCHAR8 msg[120];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return rr_err_at(err, rc == PCRE2_ERROR_NOMEMORY ? RR_ENOMEM : RR_ELIMIT,
                                 s->pointers[k], 0, 0, 0, "pattern failed on this request: %s",
                                 (const char *)msg);
            }
        }
        rr_value *v = &q->slots[s->slot];
        v->type = RR_T_BOOL;
        v->present = 1;
        v->u.b = hit;
    }
    return RR_OK;
}

static inline void set_num(rr_value *slots, int i, double d) {
    slots[i].type = RR_T_NUM;
    slots[i].present = 1;
    slots[i].u.num = d;
}

static inline void set_bool(rr_value *slots, int i, bool b) {
    slots[i].type = RR_T_BOOL;
    slots[i].present = 1;
    slots[i].u.b = b;
}

static int fill_retrieval(rr_request *q, rr_value *s, const char *text, size_t len) {
    double top1 = -INFINITY, top2 = -INFINITY, sum = 0;
    for (size_t i = 0; i < q->nev; i++) {
        double sc = q->ev[i].score;
        sum += sc;
        if (sc > top1) {
            top2 = top1;
            top1 = sc;
        } else if (sc > top2) {
            top2 = sc;
        }
        q->ev_ptrs[i] = rr_req_str(q, q->ev[i].text_off);
        q->ev_lens[i] = q->ev[i].text_len;
    }
    size_t k = q->nev;
    set_num(s, RR_SLOT_RETR_K, (double)k);
    set_num(s, RR_SLOT_RETR_TOP1, k ? top1 : 0);
    /* With one passage nothing competes with it, so the margin is the score itself. */
    set_num(s, RR_SLOT_RETR_MARGIN, k >= 2 ? top1 - top2 : (k ? top1 : 0));
    set_num(s, RR_SLOT_RETR_MEAN, k ? sum / (double)k : 0);
    set_bool(s, RR_SLOT_EVIDENCE_ANY, k > 0);
    double cov = 0;
    if (k) {
        cov = rr_coverage(text, len, q->ev_ptrs, q->ev_lens, k, &q->ev_set, &q->req_set);
        if (cov < 0)
            return RR_ENOMEM;
    }
    set_num(s, RR_SLOT_RETR_COVERAGE, cov);
    return RR_OK;
}

static int fill_attrs(const rr_router *r, rr_request *q, rr_value *s, rr_error *err) {
    for (size_t i = 0; i < r->nattrs; i++) {
        const rr_attr_def *d = &r->attrs[i];
        rr_value *v = &s[d->slot];
        *v = d->def;
        v->present = 0;
        size_t klen = strlen(d->name);
        for (size_t k = 0; k < q->nattrs; k++) {
            const rr_req_attr *a = &q->attrs[k];
            if (a->key_len != klen || memcmp(rr_req_str(q, a->key_off), d->name, klen))
                continue;
            if (a->type != d->type) {
                static const char *const tn[] = {"", "bool", "number", "string"};
                return rr_err(err, RR_EINVAL,
                              "attribute '%s' is declared %s in the policy but the request set "
                              "a %s",
                              d->name, tn[d->type], tn[a->type]);
            }
            v->present = 1;
            if (a->type == RR_T_STR) {
                v->u.str = rr_req_str(q, a->str_off);
                v->len = a->str_len;
            } else if (a->type == RR_T_NUM) {
                v->u.num = a->num;
            } else {
                v->u.b = a->num != 0;
            }
            break;
        }
    }
    return RR_OK;
}

/* Run the policy's classifiers; fills their slots and the request's top-k results. */
static int run_classifiers(const rr_router *r, rr_request *q, const char *text, size_t len) {
    if (!r->nclassifiers)
        return RR_OK;
    size_t sd = (r->clf_scratch + sizeof(double) - 1) / sizeof(double);
    if (!grow(&q->a, (void **)&q->clf_buf, &q->clf_cap, sd + r->clf_maxlabels, sizeof(double)))
        return RR_ENOMEM;
    double *probs = q->clf_buf + sd;
    rr_value *s = q->slots;
    for (size_t i = 0; i < r->nclassifiers; i++) {
        const rr_classifier_def *d = &r->classifiers[i];
        rr_clf_result res;
        if (rr_classifier_predict(d->model, text, len, q->clf_buf, sd * sizeof(double), probs,
                                  &res) != RR_OK)
            return RR_EINVAL;
        q->clf[i].label = res.label;
        q->clf[i].p = res.p_top;
        for (int k = 0; k < RR_CLF_TOP; k++) {
            q->clf[i].top[k] = -1;
            q->clf[i].ptop[k] = 0;
        }
        for (size_t l = 0; l < d->nlabels; l++) {
            for (int k = 0; k < RR_CLF_TOP; k++) {
                if (q->clf[i].top[k] < 0 || probs[l] > q->clf[i].ptop[k]) {
                    for (int m = RR_CLF_TOP - 1; m > k; m--) {
                        q->clf[i].top[m] = q->clf[i].top[m - 1];
                        q->clf[i].ptop[m] = q->clf[i].ptop[m - 1];
                    }
                    q->clf[i].top[k] = (int32_t)l;
                    q->clf[i].ptop[k] = probs[l];
                    break;
                }
            }
        }
        switch (d->kind) {
        case RR_CLFK_TASK:
            set_num(s, d->slot_p, res.p_top);
            for (size_t l = 0; l < d->nlabels; l++)
                set_num(s, d->label_slots[l], probs[l]);
            break;
        case RR_CLFK_BINARY:
            set_num(s, d->slot_p, probs[rr_classifier_positive(d->model)]);
            break;
        default: {
            set_num(s, d->slot_p, res.p_top);
            const char *l = res.label >= 0 ? rr_classifier_label(d->model, (uint32_t)res.label)
                                           : "unknown";
            s[d->slot_label].type = RR_T_STR;
            s[d->slot_label].present = 1;
            s[d->slot_label].u.str = l;
            s[d->slot_label].len = (uint32_t)strlen(l);
        }
        }
    }
    return RR_OK;
}

int rr_extract(const rr_router *r, rr_request *q, rr_error *err) {
    if (!q->has_text)
        return rr_err(err, RR_EINVAL, "the request has no text (call rr_request_set_text)");
    if (q->text_len > r->max_text_bytes)
        return rr_err(err, RR_ETOOBIG, "request text is %u bytes; the router's maximum is %llu",
                      (unsigned)q->text_len, (unsigned long long)r->max_text_bytes);
    int rc = size_scratch(r, q);
    if (rc != RR_OK)
        return rr_err(err, rc, "out of memory");
    const char *text = rr_req_str(q, q->text_off);
    size_t len = q->text_len;
    rr_value *s = q->slots;
    rr_text_features_extract(text, len, &q->tf, q->spans, RR_MAX_SPANS, &q->nspans);
    const rr_text_features *tf = &q->tf;
    set_num(s, RR_SLOT_TEXT_BYTES, tf->bytes);
    set_num(s, RR_SLOT_TEXT_CHARS, tf->chars);
    set_num(s, RR_SLOT_TEXT_WORDS, tf->words);
    set_num(s, RR_SLOT_TEXT_TOKENS, tf->tokens);
    set_num(s, RR_SLOT_TEXT_NUMBERS, tf->numbers);
    set_num(s, RR_SLOT_TEXT_QUESTIONS, tf->questions);
    set_num(s, RR_SLOT_TEXT_ENTITIES, tf->entities);
    set_num(s, RR_SLOT_TEXT_LINES, tf->lines);
    set_bool(s, RR_SLOT_PII_ANY, tf->pii_total > 0);
    set_num(s, RR_SLOT_PII_COUNT, tf->pii_total);
    for (int i = 0; i < RR_PII__COUNT; i++)
        set_bool(s, RR_SLOT_PII_FIRST + i, tf->pii[i] > 0);
    if ((rc = fill_retrieval(q, s, text, len)) != RR_OK)
        return rr_err(err, rc, "out of memory");
    set_bool(s, RR_SLOT_CONVERSATION, q->has_conv);
    s[RR_SLOT_TASK].type = RR_T_STR;
    s[RR_SLOT_TASK].present = 1;
    s[RR_SLOT_TASK].u.str = r->tasks[0];
    s[RR_SLOT_TASK].len = (uint32_t)strlen(r->tasks[0]);
    for (size_t i = 0; i < r->nthresholds; i++)
        set_num(s, r->thresholds[i].slot, r->thresholds[i].value);
    if ((rc = fill_attrs(r, q, s, err)) != RR_OK)
        return rc;
    if ((rc = run_classifiers(r, q, text, len)) != RR_OK)
        return rr_err(err, rc, rc == RR_ENOMEM ? "out of memory" : "classifier failed");
    return match_sets(r, q, text, len, err);
}

/* ---------------------------------------------------------------------------------------
 * Decision
 * ------------------------------------------------------------------------------------- */

int rr_decision_alloc(const rr_alloc *a, rr_decision **out) {
    rr_decision *d = rr_calloc(a, 1, sizeof *d);
    if (!d)
        return RR_ENOMEM;
    d->a = *a;
    rr_buf_init(&d->pool, &d->a);
    rr_buf_init(&d->reason, &d->a);
    rr_buf_init(&d->json, &d->a);
    *out = d;
    return RR_OK;
}

static int decision_size(const rr_router *r, rr_decision *d) {
    size_t nden = r->nmodels + r->nroutes + r->ntools;
    if (!grow(&d->a, (void **)&d->elig_fired, &d->capelig, r->nelig, sizeof *d->elig_fired) ||
        !grow(&d->a, (void **)&d->denied, &d->capdenied, nden, 1) ||
        !grow(&d->a, (void **)&d->slots, &d->capslots, r->nslots, sizeof *d->slots))
        return RR_ENOMEM;
    return RR_OK;
}

static void decision_fresh(const rr_router *r, rr_decision *d) {
    d->router = r;
    d->nelig_fired = 0;
    d->reason_valid = d->json_valid = false;
    d->attempt = 1;
    d->retry = 0;
    d->esc_failure = d->esc_from = d->esc_skipped = -1;
    d->esc_how = RR_ESC_NONE;
    d->sticky_from = -1;
    d->sticky_tier = 0;
    d->usage_in = d->usage_out = 0;
    d->usage_latency_ms = 0;
    d->prior_cost_usd = d->prior_latency_ms = d->cost_usd = d->latency_ms = 0;
    rr_buf_clear(&d->pool);
}

/* Out of memory half-way: a decision the call allocated is freed, and a reused one is
 * emptied (its slots may point past its pool), so the caller never reads a half-made one. */
int rr_decision_failed(rr_decision *given, rr_decision *d, rr_error *err) {
    if (!given)
        rr_decision_free(d);
    else
        given->router = NULL;
    return rr_err(err, RR_ENOMEM, "out of memory");
}

static int decision_prepare(const rr_router *r, rr_request *q, rr_decision **dp) {
    if (!*dp && rr_decision_alloc(&q->a, dp) != RR_OK)
        return RR_ENOMEM;
    decision_fresh(r, *dp);
    return decision_size(r, *dp);
}

int rr_decision_copy_base(const rr_decision *src, rr_decision *dst) {
    const rr_router *r = src->router;
    decision_fresh(r, dst);
    if (decision_size(r, dst) != RR_OK)
        return RR_ENOMEM;
    dst->route = src->route;
    dst->rule = src->rule;
    dst->first_route = src->first_route;
    dst->task = src->task;
    dst->task_rule = src->task_rule;
    dst->reroute = src->reroute;
    dst->denied_kind = src->denied_kind;
    dst->denied_index = src->denied_index;
    if (src->nelig_fired) /* a policy without eligibility rules has no array at all */
        memcpy(dst->elig_fired, src->elig_fired, src->nelig_fired * sizeof *src->elig_fired);
    dst->nelig_fired = src->nelig_fired;
    memcpy(dst->denied, src->denied, r->nmodels + r->nroutes + r->ntools);
    memcpy(dst->slots, src->slots, r->nslots * sizeof *src->slots);
    dst->tf = src->tf;
    dst->has_conv = src->has_conv;
    memcpy(dst->clf, src->clf, sizeof dst->clf);
    dst->task_by_classifier = src->task_by_classifier;
    dst->ns = 0;
    /* Re-point copied attribute strings into dst's own pool. */
    rr_buf_put(&dst->pool, src->pool.p ? src->pool.p : "", src->pool.len);
    if (dst->pool.oom)
        return RR_ENOMEM;
    for (size_t i = 0; i < r->nattrs; i++) {
        rr_value *v = &dst->slots[r->attrs[i].slot];
        if (v->type == RR_T_STR && v->present && src->pool.p)
            v->u.str = dst->pool.p + (v->u.str - src->pool.p);
    }
    return RR_OK;
}

/* Which of (route, model, tools) eligibility denied for route i; -1 when allowed. */
int rr_route_denied(const rr_router *r, const uint8_t *den, int i, int *index) {
    const uint8_t *dm = den, *dr = den + r->nmodels, *dt = dr + r->nroutes;
    const rr_route_def *rt = &r->routes[i];
    if (dr[i]) {
        *index = i;
        return 0;
    }
    if (rt->model >= 0 && dm[rt->model]) {
        *index = rt->model;
        return 1;
    }
    for (size_t k = 0; k < rt->ntools; k++)
        if (dt[rt->tools[k]]) {
            *index = rt->tools[k];
            return 2;
        }
    return -1;
}

int rr_ladder_find(const rr_router *r, const uint8_t *den, const int *start, size_t nstart,
                   int min_tier) {
    /* A route is queued at most once (marked when queued), so the queue never overflows. */
    int queue[RR_MAX_ROUTES], head = 0, tail = 0, idx;
    uint64_t seen[RR_MAX_ROUTES / 64] = {0};
#define RR_ENQUEUE(t)                                                                      \
    do {                                                                                   \
        int t_ = (t);                                                                      \
        if (!(seen[t_ >> 6] & (1ull << (t_ & 63)))) {                                      \
            seen[t_ >> 6] |= 1ull << (t_ & 63);                                            \
            queue[tail++] = t_;                                                            \
        }                                                                                  \
    } while (0)
    for (size_t k = 0; k < nstart; k++)
        RR_ENQUEUE(start[k]);
    while (head < tail) {
        int t = queue[head++];
        const rr_route_def *td = &r->routes[t];
        int tier = td->model >= 0 ? r->models[td->model].tier : 0;
        if (rr_route_denied(r, den, t, &idx) < 0 &&
            (min_tier <= 0 || (td->kind == RR_ROUTE_MODEL && tier >= min_tier)))
            return t;
        for (size_t k = 0; k < td->nesc; k++)
            RR_ENQUEUE(td->esc[k].target);
    }
#undef RR_ENQUEUE
    return -1;
}

/* The route's own "denied" target first, then the rest of its ladder. */
static int reroute(const rr_router *r, const uint8_t *den, int start, int *how) {
    const rr_route_def *s = &r->routes[start];
    int first[RR_F__COUNT], n = 0, denied_target = -1;
    for (size_t k = 0; k < s->nesc; k++)
        if (s->esc[k].failure == RR_F_DENIED)
            first[n++] = denied_target = s->esc[k].target;
    for (size_t k = 0; k < s->nesc; k++)
        if (s->esc[k].failure != RR_F_DENIED)
            first[n++] = s->esc[k].target;
    int t = rr_ladder_find(r, den, first, (size_t)n, 0);
    if (t < 0) {
        *how = RR_REROUTE_TERMINAL;
        return r->terminal_denied;
    }
    *how = t == denied_target ? RR_REROUTE_DENIED_TARGET : RR_REROUTE_LADDER;
    return t;
}

static int route_tier(const rr_router *r, int i) {
    return r->routes[i].model >= 0 ? r->models[r->routes[i].model].tier : 0;
}

/* options.sticky_tier: a conversation that already used tier T does not drop to a cheaper
 * model mid-conversation. Walk up the chosen route's ladder for the first allowed route at
 * tier >= T; terminal routes are left alone. */
static void keep_tier(const rr_router *r, const uint8_t *den, int last, rr_decision *d) {
    const rr_route_def *rt = &r->routes[d->route];
    if (rt->kind != RR_ROUTE_MODEL || route_tier(r, d->route) >= last)
        return;
    int first[RR_F__COUNT], n = 0;
    for (size_t k = 0; k < rt->nesc; k++)
        first[n++] = rt->esc[k].target;
    int t = rr_ladder_find(r, den, first, (size_t)n, last);
    if (t >= 0) {
        d->sticky_from = d->route;
        d->sticky_tier = last;
        d->route = t;
    }
}

static void snapshot(const rr_router *r, const rr_request *q, rr_decision *d) {
    memcpy(d->slots, q->slots, r->nslots * sizeof *d->slots);
    d->tf = q->tf;
    d->has_conv = q->has_conv;
    memcpy(d->clf, q->clf, r->nclassifiers * sizeof d->clf[0]);
    /* Attribute strings live in the request; copy them so the decision outlives a reset. */
    for (size_t i = 0; i < r->nattrs; i++) {
        rr_value *v = &d->slots[r->attrs[i].slot];
        if (v->type != RR_T_STR || !v->present)
            continue;
        size_t off = d->pool.len;
        rr_buf_put(&d->pool, v->u.str, v->len);
        rr_buf_putc(&d->pool, 0);
        v->u.str = (const char *)(uintptr_t)off; /* fixed up below, pool may move */
    }
    for (size_t i = 0; i < r->nattrs; i++) {
        rr_value *v = &d->slots[r->attrs[i].slot];
        if (v->type == RR_T_STR && v->present)
            v->u.str = d->pool.p ? d->pool.p + (uintptr_t)v->u.str : "";
    }
    d->conv_off = (uint32_t)d->pool.len;
    d->conv_len = q->has_conv ? q->conv_len : 0;
    if (q->has_conv) {
        rr_buf_put(&d->pool, rr_req_str(q, q->conv_off), q->conv_len);
        rr_buf_putc(&d->pool, 0);
    }
}

int rr_route(const rr_router *r, rr_request *q, rr_decision **dp, rr_error *err) {
    if (!r || !q || !dp)
        return rr_err(err, RR_EINVAL, "rr_route: %s is NULL",
                      !r ? "router" : !q ? "request" : "decision");
    uint64_t t0 = rr_now_ns();
    int rc = rr_extract(r, q, err);
    if (rc != RR_OK)
        return rc;
    rr_decision *d = *dp;
    if ((rc = decision_prepare(r, q, &d)) != RR_OK)
        return rr_decision_failed(*dp, d, err);
    rr_value *s = q->slots;
    uint8_t *den = q->denied;
    memset(den, 0, r->nmodels + r->nroutes + r->ntools);
    for (size_t i = 0; i < r->nelig; i++) {
        const rr_elig_rule *e = &r->elig[i];
        if (!rr_expr_eval(e->when, s))
            continue;
        d->elig_fired[d->nelig_fired++] = (int)i;
        for (size_t k = 0; k < e->n_models; k++)
            den[e->deny_models[k]] = 1;
        for (size_t k = 0; k < e->n_routes; k++)
            den[r->nmodels + e->deny_routes[k]] = 1;
        for (size_t k = 0; k < e->n_tools; k++)
            den[r->nmodels + r->nroutes + e->deny_tools[k]] = 1;
    }
    d->task = 0;
    d->task_rule = -1;
    for (size_t i = 0; i < r->ntask_rules; i++) {
        if (rr_expr_eval(r->task_rules[i].when, s)) {
            d->task = r->task_rules[i].task;
            d->task_rule = (int)i;
            break;
        }
    }
    d->task_by_classifier = false;
    if (d->task_rule < 0 && r->task_classifier >= 0) {
        /* No explicit task rule matched: the trained task classifier decides. */
        const rr_classifier_def *cd = &r->classifiers[r->task_classifier];
        int32_t l = q->clf[r->task_classifier].label;
        d->task = l >= 0 ? cd->label_task[l] : 0;
        d->task_by_classifier = true;
    }
    s[RR_SLOT_TASK].u.str = r->tasks[d->task];
    s[RR_SLOT_TASK].len = (uint32_t)strlen(r->tasks[d->task]);
    d->rule = -1;
    d->first_route = -1;
    d->reroute = RR_REROUTE_NONE;
    for (size_t i = 0; i < r->nrules; i++) {
        if (rr_expr_eval(r->rules[i].when, s)) {
            d->rule = (int)i;
            d->first_route = r->rules[i].route;
            break;
        }
    }
    if (d->rule < 0) {
        d->route = r->terminal_no_match;
        d->reroute = RR_REROUTE_NO_MATCH;
    } else {
        d->route = d->first_route;
        d->denied_kind = rr_route_denied(r, den, d->route, &d->denied_index);
        if (d->denied_kind >= 0)
            d->route = reroute(r, den, d->first_route, &d->reroute);
    }
    if (r->sticky_tier && q->last_tier > 0)
        keep_tier(r, den, q->last_tier, d);
    memcpy(d->denied, den, r->nmodels + r->nroutes + r->ntools);
    snapshot(r, q, d);
    if (d->pool.oom)
        return rr_decision_failed(*dp, d, err);
    d->ns = rr_now_ns() - t0;
    *dp = d;
    return RR_OK;
}

int rr_route_to(const rr_router *r, rr_request *q, const char *route_id, rr_decision **dp,
                rr_error *err) {
    if (!route_id)
        return rr_err(err, RR_EINVAL, "rr_route_to: NULL route id");
    int idx = -1;
    for (size_t i = 0; i < (r ? r->nroutes : 0); i++)
        if (!strcmp(r->routes[i].id, route_id))
            idx = (int)i;
    if (r && idx < 0)
        return rr_err(err, RR_ENOTFOUND, "rr_route_to: no route '%s' in policy %s", route_id,
                      r->name);
    int rc = rr_route(r, q, dp, err);
    if (rc != RR_OK)
        return rc;
    rr_decision *d = *dp;
    d->first_route = d->route;
    d->route = idx;
    d->reroute = RR_REROUTE_FORCED;
    d->sticky_from = -1;
    return RR_OK;
}

void rr_decision_free(rr_decision *d) {
    if (!d)
        return;
    rr_buf_free(&d->pool);
    rr_buf_free(&d->reason);
    rr_buf_free(&d->json);
    rr_free(&d->a, d->elig_fired);
    rr_free(&d->a, d->denied);
    rr_free(&d->a, d->slots);
    rr_alloc a = d->a;
    rr_free(&a, d);
}

/* Getters */

static const rr_route_def *droute(const rr_decision *d) {
    return (d && d->router && d->route >= 0) ? &d->router->routes[d->route] : NULL;
}

const char *rr_decision_route(const rr_decision *d) {
    const rr_route_def *r = droute(d);
    return r ? r->id : "";
}
const char *rr_decision_route_version(const rr_decision *d) {
    const rr_route_def *r = droute(d);
    return r ? r->version : "";
}
rr_route_kind rr_decision_kind(const rr_decision *d) {
    const rr_route_def *r = droute(d);
    return r ? (rr_route_kind)r->kind : RR_ROUTE_HUMAN;
}
const char *rr_decision_model(const rr_decision *d) {
    const rr_route_def *r = droute(d);
    return (r && r->model >= 0) ? d->router->models[r->model].id : "";
}
const char *rr_decision_prompt(const rr_decision *d) {
    const rr_route_def *r = droute(d);
    return r ? r->prompt : "";
}
const char *rr_decision_output_mode(const rr_decision *d) {
    const rr_route_def *r = droute(d);
    return r ? r->output_mode : "text";
}
size_t rr_decision_tool_count(const rr_decision *d) {
    const rr_route_def *r = droute(d);
    return r ? r->ntools : 0;
}
const char *rr_decision_tool(const rr_decision *d, size_t i) {
    const rr_route_def *r = droute(d);
    return (r && i < r->ntools) ? d->router->tools[r->tools[i]] : NULL;
}
int64_t rr_decision_context_tokens(const rr_decision *d) {
    const rr_route_def *r = droute(d);
    return r ? r->context_tokens : 0;
}
size_t rr_decision_validator_count(const rr_decision *d) {
    const rr_route_def *r = droute(d);
    return r ? r->nvalidators : 0;
}
const char *rr_decision_validator(const rr_decision *d, size_t i) {
    const rr_route_def *r = droute(d);
    return (r && i < r->nvalidators) ? d->router->validators[r->validators[i]].name : NULL;
}
size_t rr_decision_escalation_count(const rr_decision *d) {
    const rr_route_def *r = droute(d);
    return r ? r->nesc : 0;
}
int rr_decision_escalation(const rr_decision *d, size_t i, const char **failure,
                           const char **target) {
    const rr_route_def *r = droute(d);
    if (!r || i >= r->nesc)
        return RR_ERANGE;
    if (failure)
        *failure = rr_failure_name(r->esc[i].failure);
    if (target)
        *target = d->router->routes[r->esc[i].target].id;
    return RR_OK;
}
const char *rr_decision_task(const rr_decision *d) {
    return (d && d->router) ? d->router->tasks[d->task] : "";
}
const char *rr_decision_rule(const rr_decision *d) {
    return (d && d->router && d->rule >= 0) ? d->router->rules[d->rule].id : "";
}
const char *rr_decision_message(const rr_decision *d) {
    const rr_route_def *r = droute(d);
    return (r && r->message) ? r->message : "";
}
int rr_decision_tier(const rr_decision *d) {
    const rr_route_def *r = droute(d);
    return (r && r->model >= 0) ? d->router->models[r->model].tier : 0;
}

uint64_t rr_decision_route_ns(const rr_decision *d) {
    return d ? d->ns : 0;
}
