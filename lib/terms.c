/* Content terms, term sets and retrieval coverage (declared in features.h). Kept apart from
 * the PII / text scanners in features.c: these are shared with the grounding validator. */
#include "features.h"

#include <string.h>
#include <xxhash.h>

void rr_termset_init(rr_termset *s, const rr_alloc *a) {
    memset(s, 0, sizeof *s);
    s->a = a;
}

void rr_termset_free(rr_termset *s) {
    if (s->slots)
        rr_free(s->a, s->slots);
    s->slots = NULL;
    s->cap = s->n = 0;
}

void rr_termset_clear(rr_termset *s) {
    if (s->slots && s->n)
        memset(s->slots, 0, s->cap * sizeof *s->slots);
    s->n = 0;
}

static void insert(uint64_t *slots, size_t cap, uint64_t h, size_t *n) {
    size_t i = (size_t)h & (cap - 1);
    while (slots[i] && slots[i] != h)
        i = (i + 1) & (cap - 1);
    if (!slots[i]) {
        slots[i] = h;
        (*n)++;
    }
}

bool rr_termset_add(rr_termset *s, uint64_t h) {
    if (!h)
        h = 1;
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint64_t *ns = rr_calloc(s->a, cap, sizeof *ns);
        if (!ns)
            return false;
        size_t n = 0;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i])
                insert(ns, cap, s->slots[i], &n);
        if (s->slots)
            rr_free(s->a, s->slots);
        s->slots = ns;
        s->cap = cap;
        s->n = n;
    }
    insert(s->slots, s->cap, h, &s->n);
    return true;
}

bool rr_termset_has(const rr_termset *s, uint64_t h) {
    if (!s->cap)
        return false;
    if (!h)
        h = 1;
    size_t i = (size_t)h & (s->cap - 1);
    while (s->slots[i]) {
        if (s->slots[i] == h)
            return true;
        i = (i + 1) & (s->cap - 1);
    }
    return false;
}

/* A fixed English stop-word list (terms are compared lower-cased), packed little-endian
 * into 64-bit words and sorted per length for a binary search: about, above, after, again,
 * all, also, and, any, are, because, been, before, being, below, between, both, but, can,
 * could, did, does, during, each, few, for, from, further, get, got, had, has, have, hello,
 * her, here, him, his, how, into, its, just, know, let, like, many, may, more, most, much,
 * need, new, nor, not, now, off, old, once, one, only, onto, other, our, out, over, own,
 * please, put, same, say, see, shall, she, should, some, such, than, thank, thanks, that,
 * the, their, them, then, there, these, they, this, those, through, too, two, under, until,
 * use, very, want, was, way, were, what, when, where, which, while, who, why, will, with,
 * would, you, your. */
static const uint64_t stop3[] = {0x646168ull, 0x646964ull, 0x646c6full, 0x646e61ull, 0x656573ull, 0x656873ull, 0x656874ull, 0x656e6full, 0x657261ull, 0x657375ull, 0x66666full, 0x6c6c61ull, 0x6d6968ull, 0x6e6163ull, 0x6e776full, 0x6f6877ull, 0x6f6f74ull, 0x6f7774ull, 0x726568ull, 0x726f66ull, 0x726f6eull, 0x72756full, 0x736168ull, 0x736177ull, 0x736968ull, 0x737469ull, 0x746567ull, 0x74656cull, 0x746f67ull, 0x746f6eull, 0x747562ull, 0x74756full, 0x747570ull, 0x756f79ull, 0x776566ull, 0x77656eull, 0x776f68ull, 0x776f6eull, 0x79616dull, 0x796173ull, 0x796177ull, 0x796877ull, 0x796e61ull};
static const uint64_t stop4[] = {0x6465656eull, 0x65636e6full, 0x656b696cull, 0x656d6173ull, 0x656d6f73ull, 0x65726568ull, 0x65726577ull, 0x65726f6dull, 0x65766168ull, 0x68636165ull, 0x6863756dull, 0x68637573ull, 0x68746977ull, 0x68746f62ull, 0x6c6c6977ull, 0x6d656874ull, 0x6d6f7266ull, 0x6e616874ull, 0x6e656562ull, 0x6e656874ull, 0x6e656877ull, 0x6f736c61ull, 0x6f746e69ull, 0x6f746e6full, 0x7265766full, 0x72756f79ull, 0x73656f64ull, 0x73696874ull, 0x74616874ull, 0x74616877ull, 0x746e6177ull, 0x74736f6dull, 0x7473756aull, 0x776f6e6bull, 0x79656874ull, 0x796c6e6full, 0x796e616dull, 0x79726576ull};
static const uint64_t stop5[] = {0x646c756f63ull, 0x646c756f77ull, 0x656c696877ull, 0x6572656874ull, 0x6572656877ull, 0x6573656874ull, 0x65736f6874ull, 0x65766f6261ull, 0x676e696562ull, 0x6863696877ull, 0x6b6e616874ull, 0x6c69746e75ull, 0x6c6c616873ull, 0x6e69616761ull, 0x6f6c6c6568ull, 0x7265646e75ull, 0x726568746full, 0x7265746661ull, 0x7269656874ull, 0x74756f6261ull, 0x776f6c6562ull};
static const uint64_t stop6[] = {0x646c756f6873ull, 0x65726f666562ull, 0x657361656c70ull, 0x676e69727564ull, 0x736b6e616874ull};
static const uint64_t stop7[] = {0x65737561636562ull, 0x6867756f726874ull, 0x6e656577746562ull, 0x72656874727566ull};
static const struct {
    const uint64_t *w;
    size_t n;
} stop_by_len[] = {
    {NULL, 0}, {NULL, 0}, {NULL, 0},
    {stop3, sizeof stop3 / sizeof stop3[0]},
    {stop4, sizeof stop4 / sizeof stop4[0]},
    {stop5, sizeof stop5 / sizeof stop5[0]},
    {stop6, sizeof stop6 / sizeof stop6[0]},
    {stop7, sizeof stop7 / sizeof stop7[0]},
};

static bool is_stop(const char *w, size_t n) {
    if (n >= sizeof stop_by_len / sizeof stop_by_len[0])
        return false;
    uint64_t key = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)w[i];
        key |= (uint64_t)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch) << (8 * i);
    }
    size_t lo = 0, hi = stop_by_len[n].n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint64_t v = stop_by_len[n].w[mid];
        if (v == key)
            return true;
        if (v < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static inline bool word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

void rr_content_terms(const char *text, size_t len, rr_term_fn fn, void *ud) {
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    char low[64];
    while (i < len) {
        while (i < len && !word_byte(p[i]))
            i++;
        size_t s = i;
        bool digits = true;
        while (i < len && word_byte(p[i])) {
            digits &= p[i] >= '0' && p[i] <= '9';
            i++;
        }
        size_t n = i - s;
        if (!n || (!digits && (n < 3 || is_stop(text + s, n))))
            continue;
        /* xxh3 of the ASCII-lower-cased term; a term longer than the buffer is hashed in
         * buffer-sized chunks, each seeded with the hash so far. */
        uint64_t h = 0;
        for (size_t off = 0; off < n;) {
            size_t m = n - off < sizeof low ? n - off : sizeof low;
            for (size_t k = 0; k < m; k++) {
                unsigned char ch = p[s + off + k];
                low[k] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
            }
            h = XXH3_64bits_withSeed(low, m, h);
            off += m;
        }
        fn(ud, h ? h : 1, text + s, n);
    }
}

typedef struct {
    rr_termset *set;
    const rr_termset *only; /* when set: add only terms it holds */
    bool oom;
} add_ctx;

static void add_term(void *ud, uint64_t h, const char *t, size_t n) {
    (void)t;
    (void)n;
    add_ctx *c = ud;
    if (c->only && !rr_termset_has(c->only, h))
        return;
    if (!rr_termset_add(c->set, h))
        c->oom = true;
}

double rr_coverage(const char *text, size_t len, const char *const *ev_text,
                   const size_t *ev_len, size_t nev, rr_termset *ev_set, rr_termset *req_set) {
    if (!nev)
        return 0;
    rr_termset_clear(ev_set);
    rr_termset_clear(req_set);
    /* The request's terms, then the ones of them found in some evidence: memory follows the
     * request, not the evidence. */
    add_ctx cr = {req_set, NULL, false}, ce = {ev_set, req_set, false};
    rr_content_terms(text, len, add_term, &cr);
    if (cr.oom)
        return -1;
    if (!req_set->n)
        return 0;
    for (size_t i = 0; i < nev; i++)
        rr_content_terms(ev_text[i], ev_len[i], add_term, &ce);
    if (ce.oom)
        return -1;
    return (double)ev_set->n / (double)req_set->n;
}
