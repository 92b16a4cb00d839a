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

/* A fixed English stop-word list; terms are compared lower-cased. */
static const char *const stop[] = {
    "the", "and", "for", "are", "but", "not", "you", "your", "all", "any", "can", "had", "her",
    "was", "one", "our", "out", "has", "have", "him", "his", "how", "its", "may", "new", "now",
    "old", "see", "two", "who", "did", "does", "get", "got", "let", "put", "say", "she", "too",
    "use", "way", "what", "when", "where", "which", "why", "with", "this", "that", "these",
    "those", "from", "they", "them", "then", "than", "there", "their", "here", "been", "being",
    "were", "will", "would", "could", "should", "shall", "about", "into", "onto", "over",
    "under", "also", "just", "only", "some", "such", "very", "more", "most", "much", "many",
    "each", "other", "own", "same", "both", "few", "nor", "off", "once", "again", "further",
    "while", "after", "before", "above", "below", "between", "through", "during", "until",
    "because", "if", "please", "thanks", "thank", "hello", "need", "want", "like", "know"};

static bool is_stop(const char *w, size_t n) {
    char low[16];
    if (n >= sizeof low)
        return false;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)((w[i] >= 'A' && w[i] <= 'Z') ? w[i] + 32 : w[i]);
    for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++)
        if (stop[i][0] == low[0] && !strncmp(stop[i], low, n) && stop[i][n] == 0)
            return true;
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
        /* Hash the ASCII-lower-cased term; long terms hash in chunks of the buffer. */
        size_t m = n < sizeof low ? n : sizeof low;
        for (size_t k = 0; k < m; k++)
            low[k] = (char)((p[s + k] >= 'A' && p[s + k] <= 'Z') ? p[s + k] + 32 : p[s + k]);
        uint64_t h = XXH3_64bits_withSeed(low, m, n > m ? XXH3_64bits(text + s + m, n - m) : 0);
        fn(ud, h ? h : 1, text + s, n);
    }
}

typedef struct {
    rr_termset *set;
    bool oom;
} add_ctx;

static void add_term(void *ud, uint64_t h, const char *t, size_t n) {
    (void)t;
    (void)n;
    add_ctx *c = ud;
    if (!rr_termset_add(c->set, h))
        c->oom = true;
}

double rr_coverage(const char *text, size_t len, const char *const *ev_text,
                   const size_t *ev_len, size_t nev, rr_termset *ev_set, rr_termset *req_set) {
    if (!nev)
        return 0;
    rr_termset_clear(ev_set);
    rr_termset_clear(req_set);
    add_ctx ce = {ev_set, false}, cr = {req_set, false};
    for (size_t i = 0; i < nev; i++)
        rr_content_terms(ev_text[i], ev_len[i], add_term, &ce);
    rr_content_terms(text, len, add_term, &cr);
    if (ce.oom || cr.oom)
        return -1;
    if (!req_set->n)
        return 0;
    size_t found = 0;
    for (size_t i = 0; i < req_set->cap; i++)
        if (req_set->slots[i] && rr_termset_has(ev_set, req_set->slots[i]))
            found++;
    return (double)found / (double)req_set->n;
}
