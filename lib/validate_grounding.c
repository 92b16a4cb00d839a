/* Grounding validator: claims, citations, support. See validate_grounding.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "validate_grounding.h"

#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

/* For the per-word readers, which the compiler's size heuristics would leave out of line (a
 * call per word), and for the loop bodies compiled twice (HOT_AVX2). */
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Define RR_GROUNDING_PORTABLE to build (and test) the code other targets run, and
 * RR_GROUNDING_SSE2_ONLY for the code x86-64 CPUs without AVX2 run. */
#if defined(__SSE2__) && defined(__x86_64__) && !defined(RR_GROUNDING_PORTABLE)
#include <emmintrin.h>
#define LEX_SSE2 1
#endif

/* The loops over every byte and word are compiled twice, for the x86-64 baseline and, chosen
 * when the validator is built, for CPUs with AVX2 and BMI2: the same code (masks aside, built
 * 32 bytes at a time), whose three-operand encodings and BMI shifts run about a tenth
 * faster. */
#if defined(LEX_SSE2) && !defined(RR_GROUNDING_SSE2_ONLY) && defined(__GNUC__)
#include <immintrin.h>
#define HOT_AVX2 1
#define TARGET_AVX2 __attribute__((target("avx2,bmi,bmi2,popcnt")))
#endif

/* Distinct seeds keep the key spaces of terms, case-sensitive entities and bigrams apart in
 * the one table of the answer's keys. */
#define SEED_TERM 0x243f6a8885a308d3ull
#define SEED_ENT 0x13198a2e03707344ull
#define SEED_BIGRAM 0x082efa98ec4e6c89ull
#define SEED_ID 0xa4093822299f31d0ull

/* '\n', '!', '.', '?': the bytes that can end a sentence, as a mask over 0..63. */
#define SEG_BYTES ((1ull << '\n') | (1ull << '!') | (1ull << '.') | (1ull << '?'))

#define MAX_CITE_BYTES 256 /* a "[...]" longer than this is prose, not a citation */
#define MAX_CITE_ITEMS 32
#define STOP_BITS 10  /* 1024 slots for the stop words, */
#define STOP_PROBES 3 /* each within this many of its home slot */
#define ABBR_BITS 8   /* the same for abbreviations: 256 slots, */
#define ABBR_PROBES 3 /* 3 probes */

/* Words that carry no claim and are no entity when capitalised. Words under 3 bytes are
 * never content terms; the two-letter ones are listed only to keep "In", "It" from
 * counting as entities. */
static const char *const stop_words[] = {
    "of", "in", "on", "at", "to", "by", "is", "it", "an", "as", "be", "he", "we", "me", "my",
    "no", "or", "so", "up", "if", "do", "us", "am",
    "the", "and", "but", "then", "else", "this", "that", "these", "those", "its", "his",
    "her", "hers", "him", "she", "they", "them", "their", "theirs", "our", "ours", "you",
    "your", "yours", "mine", "not", "yes", "than", "too", "very", "can", "could", "would",
    "should", "will", "shall", "may", "might", "must", "there", "here", "what", "which",
    "who", "whom", "whose", "when", "where", "why", "how", "all", "any", "both", "each",
    "few", "more", "most", "other", "some", "such", "only", "own", "same", "just", "also",
    "into", "over", "under", "about", "after", "before", "again", "further", "once",
    "during", "while", "through", "down", "out", "off", "above", "below", "between",
    "because", "until", "against", "among", "per", "via", "are", "was", "were", "been",
    "being", "does", "did", "doing", "have", "has", "had", "having", "for", "with", "from",
    "upon", "onto", "within", "without", "since", "though", "although", "whether", "either",
    "neither", "nor", "yet", "however", "therefore", "thus", "hence", "itself", "himself",
    "herself", "themselves", "ourselves", "yourself", "myself", "don", "doesn",
    "didn", "isn", "wasn", "aren", "weren", "won", "couldn", "wouldn", "shouldn", "hasn",
    "haven", "hadn", "let", "like", "well", "now", "still", "even", "much", "many",
    "every", "another", "whatever", "whichever", "whoever", "etc", "according",
};

/* Lower-case words that a '.' follows without ending the sentence. */
static const char abbrevs[][8] = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "inc", "ltd", "co", "corp", "no",
    "nos", "approx", "cf", "al", "fig", "figs", "dept", "est", "gen", "col", "lt", "sgt",
    "capt", "rev", "gov", "sen", "rep", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "mt", "ft", "vol", "pp", "ch", "sec", "eq", "ref",
};

/* ---------------------------------------------------------------------------------------
 * Scratch tables: open addressing; a slot's tag is the key's upper 48 bits plus the table's
 * 16-bit generation, so clearing is O(1) and a slot stays 16 bytes.
 * ------------------------------------------------------------------------------------- */

#define GEN_MASK 0xFFFFull

typedef struct gslot {
    uint64_t tag; /* live iff (tag & GEN_MASK) == table gen */
    uint64_t val;
} gslot;

typedef struct gtable {
    gslot *slots;
    size_t cap, n;
    uint64_t gen;
} gtable;

enum { K_TERM = 1, K_NUM = 2, K_BIGRAM = 4, K_ENT = 8 };

typedef struct cite_item {
    size_t start, end; /* the id's bytes in the answer */
    int64_t ev;        /* resolved evidence index, -1 unknown */
} cite_item;

typedef struct cite {
    size_t start, end; /* the whole marker */
    uint32_t item0, nitems;
    uint32_t from_pattern;
} cite;

typedef struct claim_item {
    uint32_t key; /* index of the key: its row of s->bits */
    uint32_t kind;
    size_t start, end; /* first occurrence */
} claim_item;

/* The answer's keys (terms, bigrams, entities), looked up once per word of evidence: open
 * addressing on the whole 64-bit key (0 marks an empty slot, so key 0 is stored as 1),
 * probed from its top bits. Each key also has an entry in s->kinfo, where its slot is
 * kept so that clearing touches only the slots in use. */
typedef struct ktab {
    uint64_t *key;
    uint32_t *idx; /* the key's index */
    size_t cap;    /* a power of two, >= 64 once used */
    unsigned shift; /* 64 - log2(cap) */
} ktab;

typedef struct kinfo {
    uint64_t key;
    uint32_t slot;
    uint32_t seen; /* the sentence that last used it */
} kinfo;

typedef struct claim_ref {
    size_t item0, nitems; /* in s->ci */
    size_t c0, c1;        /* its citations: s->cites[c0..c1) */
} claim_ref;

struct rr_grounding {
    rr_alloc a;
    rr_grounding_config cfg; /* strings point at the owned copies below */
    char *name, *version, *pattern;
    pcre2_general_context *gctx;
    pcre2_code *re;
    pcre2_match_context *mctx;
    uint32_t group; /* capture group holding the id */
    /* Stop words' term keys by linear probing without wrap-around; free slots hold the
     * first word's key, so every probe compares against a stop word. */
    uint64_t stop[(1u << STOP_BITS) + STOP_PROBES - 1];
    /* Abbreviations as zero-padded 8-byte words, placed the same way. */
    uint64_t abbr[(1u << ABBR_BITS) + ABBR_PROBES - 1];
    bool avx2; /* run the loops compiled for AVX2 (HOT_AVX2) */
};

typedef struct tmasks {
    uint64_t *w, *f, *x, *t;
    size_t words; /* covering the text, without the zero words */
} tmasks;

struct rr_grounding_scratch {
    rr_alloc a;
    pcre2_general_context *gctx;
    pcre2_match_data *md;
    ktab ak;     /* the answer's keys (terms, bigrams, entities) -> index */
    kinfo *kinfo; /* by index */
    size_t capkinfo;
    gtable ids;  /* evidence id -> index */
    uint64_t *bits; /* per answer key, and one more row that absorbs misses: `words` words
                       of evidence bitset */
    size_t nkeys, capbits, words;
    cite *cites;
    size_t ncites, capcites;
    cite_item *items;
    size_t nitems, capitems;
    claim_item *ci; /* every claim's distinct items, claim after claim */
    size_t nci, capci;
    claim_ref *refs; /* parallel to claims */
    size_t caprefs;
    uint32_t *cnt; /* 3 counters per evidence: terms, bigrams, facts */
    uint64_t *pk;  /* the same packed (PK_*), per evidence */
    size_t capcnt, cappk;
    uint32_t *touched;
    uint64_t *cmask; /* evidence cited by the current claim */
    size_t capev, capwords;
    rr_grounding_claim *claims;
    size_t capclaims;
    uint64_t *mbuf; /* the masks of the text being read (m points into it) */
    size_t capm;
    tmasks m;
    bool oom;
    rr_grounding_result res;
};

static bool grow(rr_grounding_scratch *s, void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / elem) {
        s->oom = true;
        return false;
    }
    void *q = rr_realloc(&s->a, *p, *cap * elem, n * elem);
    if (!q) {
        s->oom = true;
        return false;
    }
    *p = q;
    *cap = n;
    return true;
}

/* Room in s->m for the masks of a text of `len` bytes. */
static bool masks_reserve(rr_grounding_scratch *s, size_t len) {
    size_t words = len / 64 + 3, cap = s->capm;
    if (words > SIZE_MAX / 4 || !grow(s, (void **)&s->mbuf, &cap, 4 * words, sizeof *s->mbuf))
        return false;
    s->capm = cap;
    s->m.w = s->mbuf;
    s->m.f = s->mbuf + words;
    s->m.x = s->mbuf + 2 * words;
    s->m.t = s->mbuf + 3 * words;
    return true;
}

static void gt_clear(gtable *t) {
    t->n = 0;
    if (++t->gen > GEN_MASK) {
        if (t->slots)
            memset(t->slots, 0, t->cap * sizeof *t->slots);
        t->gen = 1;
    }
}

static inline uint64_t gt_tag(const gtable *t, uint64_t key) { return (key & ~GEN_MASK) | t->gen; }
static inline size_t gt_home(uint64_t tag, size_t cap) { return (size_t)(tag >> 16) & (cap - 1); }

static inline gslot *gt_find(const gtable *t, uint64_t key) {
    if (!t->cap)
        return NULL;
    uint64_t tag = gt_tag(t, key);
    size_t m = t->cap - 1;
    for (size_t i = gt_home(tag, t->cap);; i = (i + 1) & m) {
        gslot *sl = &t->slots[i];
        if (sl->tag == tag)
            return sl;
        if ((sl->tag & GEN_MASK) != t->gen)
            return NULL;
    }
}

static bool gt_rehash(rr_grounding_scratch *s, gtable *t) {
    size_t ncap = t->cap ? t->cap * 2 : 256;
    gslot *ns = rr_calloc(&s->a, ncap, sizeof *ns);
    if (!ns) {
        s->oom = true;
        return false;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if ((t->slots[i].tag & GEN_MASK) != t->gen)
            continue;
        size_t j = gt_home(t->slots[i].tag, ncap);
        while ((ns[j].tag & GEN_MASK) == t->gen)
            j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    rr_free(&s->a, t->slots);
    t->slots = ns;
    t->cap = ncap;
    return true;
}

/* Find or add `key`; *fresh tells which. NULL only on out-of-memory. */
static inline gslot *gt_put(rr_grounding_scratch *s, gtable *t, uint64_t key, bool *fresh) {
    if ((t->n + 1) * 2 > t->cap && !gt_rehash(s, t))
        return NULL;
    uint64_t tag = gt_tag(t, key);
    size_t m = t->cap - 1;
    for (size_t i = gt_home(tag, t->cap);; i = (i + 1) & m) {
        gslot *sl = &t->slots[i];
        if (sl->tag == tag) {
            *fresh = false;
            return sl;
        }
        if ((sl->tag & GEN_MASK) != t->gen) {
            sl->tag = tag;
            sl->val = 0;
            t->n++;
            *fresh = true;
            return sl;
        }
    }
}

static void gt_free(rr_grounding_scratch *s, gtable *t) {
    rr_free(&s->a, t->slots);
    memset(t, 0, sizeof *t);
}

static inline uint64_t kt_norm(uint64_t key) { return key ? key : 1; }

/* The slot holding k, or the empty one where it would go. */
static inline size_t kt_slot(const ktab *t, uint64_t k) {
    size_t i = (size_t)(k >> t->shift);
    while (t->key[i] != k && t->key[i] != 0)
        i = (i + 1) & (t->cap - 1);
    return i;
}

/* The index of `key`, or `none`. */
static inline uint32_t kt_find(const ktab *t, uint64_t key, uint32_t none) {
    uint64_t k = kt_norm(key);
    for (size_t i = (size_t)(k >> t->shift);; i = (i + 1) & (t->cap - 1)) {
        uint64_t x = t->key[i];
        if (x == k)
            return t->idx[i];
        if (!x)
            return none;
    }
}

/* Room for `more` keys beyond s->nkeys at a load of at most a half. */
static bool kt_reserve(rr_grounding_scratch *s, size_t more) {
    ktab *t = &s->ak;
    size_t need = s->nkeys + more;
    if (need > UINT32_MAX - 1 || need > SIZE_MAX / 4) {
        s->oom = true;
        return false;
    }
    if (!grow(s, (void **)&s->kinfo, &s->capkinfo, need, sizeof *s->kinfo))
        return false;
    if (need * 2 <= t->cap)
        return true;
    size_t cap = t->cap ? t->cap : 64;
    unsigned shift = t->cap ? t->shift : 58;
    for (; cap < need * 2; cap *= 2)
        shift--;
    uint64_t *key = rr_calloc(&s->a, cap, sizeof *key);
    uint32_t *idx = rr_malloc(&s->a, cap * sizeof *idx);
    if (!key || !idx) {
        rr_free(&s->a, key);
        rr_free(&s->a, idx);
        s->oom = true;
        return false;
    }
    rr_free(&s->a, t->key);
    rr_free(&s->a, t->idx);
    *t = (ktab){key, idx, cap, shift};
    for (size_t k = 0; k < s->nkeys; k++) {
        size_t i = kt_slot(t, s->kinfo[k].key);
        t->key[i] = s->kinfo[k].key;
        t->idx[i] = (uint32_t)k;
        s->kinfo[k].slot = (uint32_t)i;
    }
    return true;
}

static void kt_clear(rr_grounding_scratch *s) {
    for (size_t k = 0; k < s->nkeys; k++)
        s->ak.key[s->kinfo[k].slot] = 0;
    s->nkeys = 0;
}

/* ---------------------------------------------------------------------------------------
 * Bytes, tokens, hashes
 * ------------------------------------------------------------------------------------- */

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static inline bool is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' || c == 0;
}

/* Length of the UTF-8 sequence starting at p[i], clamped to the text. */
static inline size_t seq_len(const unsigned char *p, size_t i, size_t n) {
    unsigned char c = p[i];
    size_t k = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    return i + k <= n ? k : n - i;
}

/* Non-ASCII characters that separate words rather than spell them: Latin-1 punctuation
 * and spaces (U+0080..U+00BF), general punctuation (U+2000..U+206F: dashes, curly quotes,
 * ellipsis) and CJK punctuation (U+3000..U+303F). */
static inline bool is_wide_sep(const unsigned char *p, size_t i, size_t n) {
    unsigned char c = p[i];
    if (c == 0xC2)
        return true;
    if (i + 1 >= n)
        return false;
    return (c == 0xE2 && (p[i + 1] == 0x80 || p[i + 1] == 0x81)) || (c == 0xE3 && p[i + 1] == 0x80);
}

static inline bool is_word_byte(const unsigned char *p, size_t i, size_t n);

/* True when the ',' at p[i] separates thousands: exactly three digits follow it. */
static inline bool thousands_sep(const unsigned char *p, size_t i, size_t end) {
    return p[i] == ',' && i + 3 < end && is_digit(p[i + 1]) && is_digit(p[i + 2]) &&
           is_digit(p[i + 3]) && (i + 4 == end || !is_digit(p[i + 4]));
}

/* One multiply per 8 bytes of a token; its key is finished by term_key. */
static inline uint64_t fold8(uint64_t h, uint64_t w) {
    return (((h << 23) | (h >> 41)) ^ w) * 0x9E3779B97F4A7C15ull;
}

/* Brings the well-mixed high bits of a fold8 product down to the low ones, which pick
 * table slots. */
static inline uint64_t term_key(uint64_t h) { return h ^ (h >> 32); }

/* Keys derived from term keys, which already look random: one more fold each. Two pairs
 * meet only if rotl(a1 ^ a2, 23) == b1 ^ b2. */
static inline uint64_t bigram_key(uint64_t a, uint64_t b) {
    return term_key(fold8(a ^ SEED_BIGRAM, b));
}

typedef struct tok {
    size_t start, end;
    uint64_t term;  /* hash of the ASCII-lower-cased token (thousands separators dropped) */
    uint64_t caps;  /* non-zero iff the token has a capital; which ones, hashed */
    size_t n;       /* normalised length */
    uint32_t f;     /* T_* flags, stored once: byte-wise stores read back as one word
                       stall store forwarding in the hot loop */
} tok;

enum {
    T_NUM = 1,      /* starts with a digit */
    T_CONTENT = 2,  /* a content term */
    T_UPPER = 4,    /* starts with A-Z */
    T_ALLCAPS = 8,  /* >= 2 bytes, all A-Z/0-9, at least one letter */
    T_MIXED = 16,   /* letters and digits (identifier such as B2B, XJ220) */
    T_STOP = 32,    /* a stop word (set by lex_stop) */
    T_LONG = 64     /* >= 3 bytes: long enough to be a content term */
};

/* Case-sensitive key of a token, derived from its lower-case hash and where its capitals
 * are, so the bytes are not hashed twice. The multiply spreads that small number over the
 * word the term is folded with. */
static inline uint64_t ent_key(const tok *t) {
    return term_key(fold8(t->term, ((t->caps + (t->end - t->start)) ^ SEED_ENT) *
                                       0xff51afd7ed558ccdull));
}

/* A fixed number of compares answers without a data-dependent branch: whether a word is a
 * stop word is a coin toss the branch predictor would lose. */
static inline bool stop_has(const rr_grounding *g, uint64_t h) {
    const uint64_t *b = g->stop + (h >> (64 - STOP_BITS));
    bool hit = false;
    for (int j = 0; j < STOP_PROBES; j++)
        hit |= b[j] == h;
    return hit;
}

/* Byte classes. C_UPPER << 4 is the 0x20 that lower-cases an ASCII capital. Lead bytes
 * that may start a separating character (is_wide_sep) are C_MAYSEP, not C_WORD. */
enum { C_LOWER = 1, C_UPPER = 2, C_DIGIT = 4, C_HIGH = 8, C_WORD = 16, C_DOTCOMMA = 32,
       C_MAYSEP = 64 };

static const uint8_t byte_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 32, 0,
    20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 0, 0, 0, 0, 0, 0,
    0, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18,
    18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 18, 0, 0, 0, 0, 0,
    0, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17,
    17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 0, 0, 0, 0, 0,
    24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
    24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
    24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
    24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
    24, 24, 72, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
    24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
    24, 24, 72, 72, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
    24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
};

static inline bool is_word_byte(const unsigned char *p, size_t i, size_t n) {
    unsigned k = byte_class[p[i]];
    return (k & C_WORD) || ((k & C_MAYSEP) && !is_wide_sep(p, i, n));
}

/* The hash of a token is defined on its normalised bytes (ASCII lower-cased, thousands
 * commas dropped) packed little-endian into 64-bit words, zero-padded (words hold no zero
 * byte, so the padding marks the length), folded in order and finished by term_key: a
 * bijection of the one word of a token of up to 8 bytes, so those never collide. `caps` is
 * where its capitals are, a bit per normalised byte (positions past 64 folded in), so that
 * with the term and the length it names the case-sensitive token. lex_at computes both
 * from one 16-byte load; lex(), the byte path, the same for whatever lex_at leaves to it. */
typedef struct lexacc {
    uint64_t w, h, caps, cbits;
    size_t n, chunks; /* normalised bytes; completed 64-byte chunks of caps */
} lexacc;

static inline void acc_caps(lexacc *a) {
    a->caps = a->chunks ? fold8(a->caps, a->cbits) : a->cbits;
    a->chunks++;
    a->cbits = 0;
}

static inline void acc_put(lexacc *a, unsigned c, bool upper) {
    a->w |= (uint64_t)c << (8 * (a->n & 7));
    a->cbits |= (uint64_t)upper << (a->n & 63);
    a->n++;
    if (!(a->n & 7)) {
        a->h = fold8(a->h, a->w);
        a->w = 0;
    }
    if (!(a->n & 63))
        acc_caps(a);
}

static inline void acc_end(lexacc *a) {
    if (a->n & 7)
        a->h = fold8(a->h, a->w);
    if (a->n & 63)
        acc_caps(a);
}

/* Read the token that starts at p[i] (a word byte) into t: its end, class and hashes.
 * Digits joined by '.' or ',' stay one number ("3.5", "1,000"); a thousands ',' is dropped
 * so "1,000" and "1000" match while "3.5" and "35" stay apart. The token stops at `end`. */
static __attribute__((noinline)) void lex(const unsigned char *p, size_t i, size_t end,
                                          tok *t) {
    const size_t start = i;
    const bool num = is_digit(p[i]);
    unsigned seen = 0;
    lexacc a = {0, SEED_TERM, 0, 0, 0, 0};
    for (; i < end; i++) {
        unsigned c = p[i], k = byte_class[c];
        if (!(k & C_WORD)) {
            if (k & C_MAYSEP) {
                if (is_wide_sep(p, i, end))
                    break;
                k = C_HIGH;
            } else if (!(k & C_DOTCOMMA) || !is_digit(p[i - 1]) || i + 1 >= end ||
                       !is_digit(p[i + 1])) {
                break;
            } else if (num && thousands_sep(p, i, end)) {
                continue;
            }
        }
        seen |= k;
        acc_put(&a, c | ((k & C_UPPER) << 4), k & C_UPPER);
    }
    acc_end(&a);
    bool letters = seen & (C_LOWER | C_UPPER | C_HIGH);
    bool allcaps = !(seen & (C_LOWER | C_HIGH)) && letters && a.n >= 2;
    t->start = start;
    t->end = i;
    t->term = term_key(a.h);
    t->caps = a.caps;
    t->n = a.n;
    t->f = (num ? T_NUM : 0) | (is_upper(p[start]) ? T_UPPER : 0) | (allcaps ? T_ALLCAPS : 0) |
           (!num && letters && (seen & C_DIGIT) ? T_MIXED : 0) | (a.n >= 3 ? T_LONG : 0);
}

/* ---------------------------------------------------------------------------------------
 * Masks of a text, one bit per byte, 64 bytes a word. They tell, without reading a word
 * byte by byte, where each word starts and how far its plain part runs, so the words of a
 * passage are read independently of one another and each in a few instructions.
 *  w: bytes that belong to words as lex() reads them: ASCII letters and digits, non-ASCII
 *     bytes other than a separating character (is_wide_sep) and its continuation bytes, and
 *     a '.' or ',' between two digits. A word starts where a run of them does.
 *  f: plain bytes: ASCII letters and digits.
 *  x: an ASCII capital or a digit, or a byte a digit follows; evidence only (ev_starts).
 *  t: bytes that may end a sentence ('\n', '!', '.', '?'); the answer's only.
 * Each array has two words more than the text needs, zero, so that a 64-bit window may be
 * read from any byte of the text and the one after it.
 * ------------------------------------------------------------------------------------- */

typedef struct mcarry {
    uint64_t d, cont; /* last byte a digit; continuation bytes (bits 0-1) of a separator
                         begun in the previous block */
} mcarry;

/* The 64 bits of m from bit `at` on (one double-width shift where there is one). */
static inline uint64_t bits_at(const uint64_t *m, size_t at) {
    size_t b = at >> 6;
    unsigned o = at & 63;
#ifdef __SIZEOF_INT128__
    return (uint64_t)((((unsigned __int128)m[b + 1] << 64) | m[b]) >> o);
#else
    return (m[b] >> o) | (m[b + 1] << 1 << (63 - o));
#endif
}

/* How many runs of word bytes start in [a, b). */
static size_t runs_in(const tmasks *m, size_t a, size_t b) {
    size_t n = 0;
    for (size_t at = a; at < b; at += 64) {
        uint64_t w = bits_at(m->w, at), prev = at ? bits_at(m->w, at - 1) : 0;
        uint64_t starts = w & ~prev;
        n += (size_t)__builtin_popcountll(b - at < 64 ? starts & ((1ull << (b - at)) - 1) : starts);
    }
    return n;
}

/* The first bit of m set in [from, lim), or lim. */
static inline size_t next_set(const uint64_t *m, size_t from, size_t lim) {
    for (; from < lim; from += 64) {
        uint64_t b = bits_at(m, from);
        if (b) {
            size_t at = from + (size_t)__builtin_ctzll(b);
            return at < lim ? at : lim;
        }
    }
    return lim;
}

#ifdef LEX_SSE2
/* Separator leads among the non-ASCII bytes of the 64 at q: all of them (s) and the
 * three-byte ones (s3). */
static void mask_seps(const unsigned char *q, uint64_t *s, uint64_t *s3) {
    *s = *s3 = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(q + 16 * k));
        __m128i nv = _mm_loadu_si128((const __m128i *)(const void *)(q + 16 * k + 1));
        __m128i n80 = _mm_cmpeq_epi8(nv, _mm_set1_epi8((char)0x80));
        __m128i n81 = _mm_cmpeq_epi8(nv, _mm_set1_epi8((char)0x81));
        __m128i c2 = _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xC2));
        __m128i e = _mm_or_si128(
            _mm_and_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xE2)), _mm_or_si128(n80, n81)),
            _mm_and_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xE3)), n80));
        *s3 |= (uint64_t)(unsigned)_mm_movemask_epi8(e) << (16 * k);
        *s |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(c2, e)) << (16 * k);
    }
}

#else
/* Separator leads among the non-ASCII bytes of the 64 at q: all of them (s) and the
 * three-byte ones (s3). */
static void mask_seps(const unsigned char *q, uint64_t *s, uint64_t *s3) {
    *s = *s3 = 0;
    for (unsigned j = 0; j < 64; j++) {
        bool three = (q[j] == 0xE2 && (q[j + 1] == 0x80 || q[j + 1] == 0x81)) ||
                     (q[j] == 0xE3 && q[j + 1] == 0x80);
        *s3 |= (uint64_t)three << j;
        *s |= (uint64_t)(three || q[j] == 0xC2) << j;
    }
}
#endif

/* What relates neighbouring bytes, from the class masks of the 64 bytes at q. */
static ALWAYS_INLINE void mask_finish(const unsigned char *q, tmasks *m, size_t b, mcarry *c,
                                      bool seg, uint64_t A, uint64_t D, uint64_t H, uint64_t C,
                                      uint64_t E) {
    uint64_t next_digit = (D >> 1) | (uint64_t)is_digit(q[64]) << 63;
    uint64_t W = A | (C & ((D << 1) | c->d) & next_digit) | H, cont = c->cont;
    c->cont = 0;
    c->d = D >> 63;
    if (H) { /* non-ASCII text: rare in English, a branch well predicted */
        uint64_t S, S3;
        mask_seps(q, &S, &S3);
        W &= ~S;
        cont |= (S << 1) | (S3 << 2);
        c->cont = (S >> 63) | (S3 >> 62);
    }
    m->w[b] = W & ~cont;
    m->f[b] = A;
    if (seg)
        m->t[b] = E;
    else
        m->x[b] = E | D | next_digit;
}

#ifdef LEX_SSE2
/* Bytes of v in [lo, hi]: v shifted so that lo lands on -128, compared signed. */
static inline __m128i vin(__m128i v, unsigned char lo, unsigned char hi) {
    __m128i d = _mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - lo)));
    return _mm_cmplt_epi8(d, _mm_set1_epi8((char)(-128 + (hi - lo + 1))));
}

static inline uint64_t movemask16(__m128i x, unsigned k) {
    return (uint64_t)(unsigned)_mm_movemask_epi8(x) << (16 * k);
}

/* Masks of the 64 bytes at q (q[0..65) readable; q[64] is the byte after them) into word
 * b of m: m->t if `seg`, else m->x. Classes are compared 16 bytes at a time; what relates
 * neighbouring bytes (a '.' between digits, a digit next) is done on the 64-bit masks. */
static ALWAYS_INLINE void mask_block(const unsigned char *q, tmasks *m, size_t b, mcarry *c,
                                     bool seg) {
    uint64_t A = 0, D = 0, U = 0, C = 0, H = 0, E = 0;
    for (unsigned k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(q + 16 * k));
        __m128i dg = vin(v, '0', '9');
        A |= movemask16(_mm_or_si128(vin(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z'), dg), k);
        D |= movemask16(dg, k);
        H |= movemask16(v, k);
        C |= movemask16(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')),
                                     _mm_cmpeq_epi8(v, _mm_set1_epi8(','))), k);
        if (seg)
            E |= movemask16(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')),
                                                      _mm_cmpeq_epi8(v, _mm_set1_epi8('!'))),
                                         _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')),
                                                      _mm_cmpeq_epi8(v, _mm_set1_epi8('?')))),
                            k);
        else
            U |= movemask16(vin(v, 'A', 'Z'), k);
    }
    mask_finish(q, m, b, c, seg, A, D, H, C, seg ? E : U);
}

#ifdef HOT_AVX2
/* mask_block's constants for 32-byte vectors, made once per text and kept opaque to the
 * optimiser, which would otherwise rebuild every one for every block. */
typedef struct mk32 {
    __m256i dg_add, dg_lim, lc_add, al_lim, up_add, x20, dot, comma, nl, bang, quest;
} mk32;

TARGET_AVX2 static ALWAYS_INLINE mk32 mk32_make(void) {
    mk32 k = {_mm256_set1_epi8((char)(0x80 - '0')), _mm256_set1_epi8((char)(-128 + 10)),
              _mm256_set1_epi8((char)(0x80 - 'a')), _mm256_set1_epi8((char)(-128 + 26)),
              _mm256_set1_epi8((char)(0x80 - 'A')), _mm256_set1_epi8(0x20),
              _mm256_set1_epi8('.'), _mm256_set1_epi8(','), _mm256_set1_epi8('\n'),
              _mm256_set1_epi8('!'), _mm256_set1_epi8('?')};
    __asm__("" : "+x"(k.dg_add), "+x"(k.dg_lim), "+x"(k.lc_add), "+x"(k.al_lim), "+x"(k.up_add),
                 "+x"(k.x20));
    __asm__("" : "+x"(k.dot), "+x"(k.comma), "+x"(k.nl), "+x"(k.bang), "+x"(k.quest));
    return k;
}

TARGET_AVX2 static ALWAYS_INLINE uint64_t movemask32(__m256i x, unsigned k) {
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(x) << (32 * k);
}

/* mask_block, 32 bytes at a time. */
TARGET_AVX2 static ALWAYS_INLINE void mask_block32(const unsigned char *q, tmasks *m,
                                                   size_t b, mcarry *c, bool seg,
                                                   const mk32 *k) {
    uint64_t A = 0, D = 0, U = 0, C = 0, H = 0, E = 0;
    for (unsigned j = 0; j < 2; j++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32 * j));
        __m256i dg = _mm256_cmpgt_epi8(k->dg_lim, _mm256_add_epi8(v, k->dg_add));
        __m256i lc = _mm256_add_epi8(_mm256_or_si256(v, k->x20), k->lc_add);
        A |= movemask32(_mm256_or_si256(_mm256_cmpgt_epi8(k->al_lim, lc), dg), j);
        D |= movemask32(dg, j);
        H |= movemask32(v, j);
        C |= movemask32(_mm256_or_si256(_mm256_cmpeq_epi8(v, k->dot),
                                        _mm256_cmpeq_epi8(v, k->comma)), j);
        if (seg)
            E |= movemask32(_mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, k->nl),
                                                            _mm256_cmpeq_epi8(v, k->bang)),
                                            _mm256_or_si256(_mm256_cmpeq_epi8(v, k->dot),
                                                            _mm256_cmpeq_epi8(v, k->quest))),
                            j);
        else
            U |= movemask32(
                _mm256_cmpgt_epi8(k->al_lim, _mm256_add_epi8(v, k->up_add)), j);
    }
    mask_finish(q, m, b, c, seg, A, D, H, C, seg ? E : U);
}
#endif

#endif

#ifndef LEX_SSE2
/* The portable mask builder and word reader work on 8 bytes in a 64-bit word ("SWAR"): a
 * class test leaves 0x80 in the bytes that pass, gathered into 8 bits by one multiply. */
#define B01 0x0101010101010101ull
#define B7F 0x7F7F7F7F7F7F7F7Full
#define B80 0x8080808080808080ull

/* The 8 bytes at p, the first one lowest, whatever the host's byte order. */
static inline uint64_t le64(const unsigned char *p) {
    uint64_t x;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&x, p, 8);
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    memcpy(&x, p, 8);
    x = __builtin_bswap64(x);
#else
    x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | p[i];
#endif
    return x;
}

/* 0x80 in the ASCII bytes of x in [lo, hi]. */
static inline uint64_t swar_in(uint64_t x, unsigned char lo, unsigned char hi) {
    uint64_t l = x & B7F;
    return (l + B01 * (0x80u - lo)) & ~(l + B01 * (0x7Fu - hi)) & ~x & B80;
}

/* 0x80 in the bytes of x equal to c. */
static inline uint64_t swar_eq(uint64_t x, unsigned char c) {
    uint64_t y = x ^ (B01 * c);
    return ~(((y & B7F) + B7F) | y) & B80;
}

/* Bit i: byte i of x has 0x80 (x has no other bits). */
static inline uint64_t swar_gather(uint64_t x) { return ((x >> 7) * 0x0102040810204080ull) >> 56; }

/* mask_block, 8 bytes at a time. */
static ALWAYS_INLINE void mask_block_swar(const unsigned char *q, tmasks *m, size_t b,
                                          mcarry *c, bool seg) {
    uint64_t A = 0, D = 0, U = 0, C = 0, H = 0, E = 0;
    for (unsigned k = 0; k < 8; k++) {
        uint64_t x = le64(q + 8 * k), dg = swar_in(x, '0', '9'), dot = swar_eq(x, '.');
        unsigned sh = 8 * k;
        A |= swar_gather(swar_in(x | B01 * 0x20, 'a', 'z') | dg) << sh;
        D |= swar_gather(dg) << sh;
        H |= swar_gather(x & B80) << sh;
        C |= swar_gather(dot | swar_eq(x, ',')) << sh;
        if (seg)
            E |= swar_gather(dot | swar_eq(x, '\n') | swar_eq(x, '!') | swar_eq(x, '?')) << sh;
        else
            U |= swar_gather(swar_in(x, 'A', 'Z')) << sh;
    }
    mask_finish(q, m, b, c, seg, A, D, H, C, seg ? E : U);
}
#endif

/* The 64 bytes at p + at, and the byte after: in place, or near the end of the text a
 * copy in `tail` followed by zeros (no word, no digit, no separator). */
static inline const unsigned char *block_at(const unsigned char *p, size_t len, size_t at,
                                            unsigned char tail[96]) {
    if (at + 65 <= len)
        return p + at;
    memset(tail, 0, 96);
    memcpy(tail, p + at, len - at);
    return tail;
}

static ALWAYS_INLINE void masks_end(tmasks *m, size_t nb) {
    m->words = nb;
    for (size_t b = nb; b < nb + 2; b++)
        m->w[b] = m->f[b] = m->x[b] = m->t[b] = 0;
}

#ifdef HOT_AVX2
TARGET_AVX2 static void build_masks32(const unsigned char *p, size_t len, tmasks *m, bool seg) {
    const mk32 k = mk32_make();
    mcarry c = {0, 0};
    size_t nb = (len + 63) / 64;
    for (size_t b = 0; b < nb; b++) {
        unsigned char tail[96];
        const unsigned char *q = block_at(p, len, 64 * b, tail);
        if (seg)
            mask_block32(q, m, b, &c, true, &k);
        else
            mask_block32(q, m, b, &c, false, &k);
    }
    masks_end(m, nb);
}
#endif

/* Masks of p[0..len) into m, whose arrays hold len / 64 + 3 words; m->t only if `seg`.
 * `wide`: with 32-byte vectors (the caller runs on an AVX2 CPU). */
static ALWAYS_INLINE void build_masks(const unsigned char *p, size_t len, tmasks *m, bool seg,
                                      bool wide) {
#ifdef HOT_AVX2
    if (wide) {
        build_masks32(p, len, m, seg);
        return;
    }
#else
    (void)wide;
#endif
    mcarry c = {0, 0};
    size_t nb = (len + 63) / 64;
    for (size_t b = 0; b < nb; b++) {
        unsigned char tail[96];
        const unsigned char *q = block_at(p, len, 64 * b, tail);
#ifdef LEX_SSE2
        if (seg)
            mask_block(q, m, b, &c, true);
        else
            mask_block(q, m, b, &c, false);
#else
        if (seg)
            mask_block_swar(q, m, b, &c, true);
        else
            mask_block_swar(q, m, b, &c, false);
#endif
    }
    masks_end(m, nb);
}

/* The constants of the word reader, made once per text: left inside the loop, the compiler
 * rebuilds each one per word. */
typedef struct lexk {
#ifdef LEX_SSE2
    __m128i up_add, up_lim, dg_add, dg_lim, x20;
#else
    int unused;
#endif
} lexk;

static ALWAYS_INLINE lexk lexk_make(void) {
#ifdef LEX_SSE2
    lexk k = {_mm_set1_epi8((char)(0x80 - 'A')), _mm_set1_epi8((char)(-128 + 26)),
              _mm_set1_epi8((char)(0x80 - '0')), _mm_set1_epi8((char)(-128 + 10)),
              _mm_set1_epi8(0x20)};
    /* Opaque to the optimiser, which would otherwise rebuild them where they are used. */
    __asm__("" : "+x"(k.up_add), "+x"(k.up_lim), "+x"(k.dg_add), "+x"(k.dg_lim), "+x"(k.x20));
    return k;
#else
    return (lexk){0};
#endif
}

/* The word that starts at p[s], ended at `lim` at the latest, read from its plain run: the
 * usual word (at most 16 ASCII letters and digits; the text is readable up to `avail`) in a
 * few instructions with no branch on its length or spelling, anything else by lex(). Without
 * `full`, T_ALLCAPS is left out (reading evidence does not need it); `whole` says that
 * lim and avail are the end of the text the masks were built on, whose zero bits past it
 * then bound the word by themselves. */
static ALWAYS_INLINE void lex_at(const tmasks *m, const lexk *k, const unsigned char *p,
                                 size_t s, size_t lim, size_t avail, bool whole, bool full,
                                 tok *t) {
    size_t n = (size_t)__builtin_ctzll(~bits_at(m->f, s) | (1ull << 63));
    size_t e = s + n;
    /* A word byte right after the plain run (non-ASCII, or a '.' between digits) means the
     * word goes on: lex() reads it. */
    bool more = (m->w[e >> 6] >> (e & 63)) & 1;
    if (!whole) {
        more &= e < lim;
        n = e < lim ? n : lim - s;
    }
    if (__builtin_expect(n - 1 >= 16 || more, 0)) {
        lex(p, s, lim, t);
        return;
    }
    const unsigned char *src = p + s;
    unsigned char pad[16];
    if (__builtin_expect(s + 16 > avail, 0)) { /* the text's last bytes */
        memset(pad, 0, sizeof pad);
        memcpy(pad, src, avail - s);
        src = pad;
    }
#ifdef LEX_SSE2
    static const unsigned char keep[32] = {255, 255, 255, 255, 255, 255, 255, 255,
                                           255, 255, 255, 255, 255, 255, 255, 255};
    __m128i v = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)src),
                              _mm_loadu_si128((const __m128i *)(const void *)(keep + 16 - n)));
    __m128i up = _mm_cmplt_epi8(_mm_add_epi8(v, k->up_add), k->up_lim);
    __m128i lo = _mm_or_si128(v, _mm_and_si128(up, k->x20));
    unsigned U = (unsigned)_mm_movemask_epi8(up);
    unsigned D =
        (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_add_epi8(v, k->dg_add), k->dg_lim));
    uint64_t h = fold8(SEED_TERM, (uint64_t)_mm_cvtsi128_si64(lo));
    uint64_t h2 = fold8(h, (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(lo, lo)));
#else
    (void)k;
    uint64_t x0 = le64(src), x1 = le64(src + 8);
    x0 &= ~0ull >> (n >= 8 ? 0 : 64 - 8 * n);
    x1 &= n > 8 ? ~0ull >> (128 - 8 * n) : 0;
    uint64_t u0 = swar_in(x0, 'A', 'Z'), u1 = swar_in(x1, 'A', 'Z');
    unsigned U = (unsigned)(swar_gather(u0) | swar_gather(u1) << 8);
    unsigned D = (unsigned)(swar_gather(swar_in(x0, '0', '9')) |
                            swar_gather(swar_in(x1, '0', '9')) << 8);
    uint64_t h = fold8(SEED_TERM, x0 | u0 >> 2), h2 = fold8(h, x1 | u1 >> 2);
#endif
    unsigned num = D & 1, f = num * T_NUM | (U & 1) * T_UPPER | (unsigned)(n >= 3) * T_LONG;
    f |= (unsigned)(!num & (D != 0)) * T_MIXED;
    if (full) /* all capitals: no lower-case letter (a plain word's letters are A-Z, a-z) */
        f |= (unsigned)((n >= 2) & (U != 0) & ((U | D) == (1u << n) - 1)) * T_ALLCAPS;
    t->start = s;
    t->end = s + n;
    t->term = term_key(n > 8 ? h2 : h);
    t->caps = U;
    t->n = n;
    t->f = f;
}

/* Where the next word may start after t, one ended before `lim`: the bytes up to the next
 * word byte are separators the scan would skip one by one. */
static inline size_t next_word(const tmasks *m, const tok *t, size_t lim) {
    size_t at = t->end + (size_t)__builtin_ctzll(bits_at(m->w, t->end) | (1ull << 63));
    return at < lim ? at : lim;
}

/* Is the token a stop word? Kept out of lex(): reading evidence needs it only rarely. */
static inline bool is_stop(const rr_grounding *g, const tok *t) {
    /* A term key names the word (exactly up to 8 bytes): only a stop word has a stop word's
     * key, so neither length nor digits need checking. */
    return stop_has(g, t->term);
}

/* Sets T_STOP and T_CONTENT. */
static inline void lex_stop(const rr_grounding *g, tok *t) {
    bool stop = is_stop(g, t);
    bool content = (t->f & T_NUM) || ((t->f & T_LONG) && !stop);
    t->f |= (stop ? T_STOP : 0) | (content ? T_CONTENT : 0);
}

/* ---------------------------------------------------------------------------------------
 * Compiled configuration
 * ------------------------------------------------------------------------------------- */

static void *pcre_malloc(PCRE2_SIZE n, void *ud) { return rr_malloc((const rr_alloc *)ud, n); }
static void pcre_free(void *p, void *ud) { rr_free((const rr_alloc *)ud, p); }

/* Stop words are hashed by the tokeniser itself, so both sides agree byte for byte. */
/* For short words packed in an integer, whose bits differ in few places. */
static inline uint64_t word_hash(uint64_t x) {
    x *= 0x9E3779B97F4A7C15ull;
    x ^= x >> 32;
    return x * 0xff51afd7ed558ccdull;
}

/* Place keys[0..n) in slots[0 .. (1 << bits) + probes - 1) by linear probing from
 * home(key), each within `probes` slots, without wrap-around; free slots get keys[0] so
 * that a lookup never meets anything but a key of the set. False if one does not fit. */
static bool fixed_set_build(uint64_t *slots, size_t nslots, const uint64_t *keys, size_t n,
                            unsigned bits, unsigned probes, bool hashed) {
    bool used[1024 + 8] = {false};
    if (nslots > RR_ARRAY_LEN(used))
        return false;
    for (size_t i = 0; i < nslots; i++)
        slots[i] = keys[0];
    for (size_t k = 0; k < n; k++) {
        uint64_t h = hashed ? keys[k] : word_hash(keys[k]);
        size_t home = (size_t)(h >> (64 - bits)), j = 0;
        while (j < probes && used[home + j] && slots[home + j] != keys[k])
            j++;
        if (j == probes)
            return false;
        used[home + j] = true;
        slots[home + j] = keys[k];
    }
    return true;
}

static bool abbr_build(rr_grounding *g) {
    uint64_t keys[RR_ARRAY_LEN(abbrevs)];
    for (size_t k = 0; k < RR_ARRAY_LEN(abbrevs); k++)
        memcpy(&keys[k], abbrevs[k], 8);
    return fixed_set_build(g->abbr, RR_ARRAY_LEN(g->abbr), keys, RR_ARRAY_LEN(keys), ABBR_BITS,
                           ABBR_PROBES, false);
}

static bool stop_build(rr_grounding *g) {
    uint64_t keys[RR_ARRAY_LEN(stop_words)];
    for (size_t k = 0; k < RR_ARRAY_LEN(stop_words); k++) {
        /* Capitalised, as they may be met; the term key is the lower-case word's anyway. */
        unsigned char w[16];
        size_t n = strlen(stop_words[k]);
        memcpy(w, stop_words[k], n);
        w[0] = (unsigned char)(w[0] & ~0x20);
        tok t;
        lex(w, 0, n, &t);
        keys[k] = t.term;
    }
    return fixed_set_build(g->stop, RR_ARRAY_LEN(g->stop), keys, RR_ARRAY_LEN(keys), STOP_BITS,
                           STOP_PROBES, true);
}

static bool bad_thr(double x) { return !(x >= 0.0 && x <= 1.0); }

static int compile_pattern(rr_grounding *g, rr_error *err) {
    g->gctx = pcre2_general_context_create(pcre_malloc, pcre_free, &g->a);
    if (!g->gctx)
        return rr_err(err, RR_ENOMEM, "grounding: out of memory");
    pcre2_compile_context *cc = pcre2_compile_context_create(g->gctx);
    if (!cc)
        return rr_err(err, RR_ENOMEM, "grounding: out of memory");
    int ec = 0;
    PCRE2_SIZE off = 0;
    g->re = pcre2_compile((PCRE2_SPTR)g->pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &off,
                          cc);
    pcre2_compile_context_free(cc);
    if (!g->re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return rr_err(err, RR_EREGEX, "grounding: citation_pattern at offset %zu: %s",
                      (size_t)off, (const char *)msg);
    }
    (void)pcre2_jit_compile(g->re, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
    uint32_t groups = 0;
    pcre2_pattern_info(g->re, PCRE2_INFO_CAPTURECOUNT, &groups);
    g->group = groups >= 1 ? 1 : 0;
    g->mctx = pcre2_match_context_create(g->gctx);
    if (!g->mctx)
        return rr_err(err, RR_ENOMEM, "grounding: out of memory");
    pcre2_set_match_limit(g->mctx, g->cfg.regex_match_limit ? g->cfg.regex_match_limit : 100000);
    pcre2_set_depth_limit(g->mctx, g->cfg.regex_depth_limit ? g->cfg.regex_depth_limit : 10000);
    return RR_OK;
}

int rr_grounding_new(rr_grounding **out, const rr_grounding_config *cfg, const rr_alloc *a,
                     rr_error *err) {
    static const rr_grounding_config defaults = RR_GROUNDING_CONFIG_INIT;
    if (!out || !a)
        return rr_err(err, RR_EINVAL, "grounding: NULL %s", out ? "allocator" : "out");
    if (!cfg)
        cfg = &defaults;
    if (bad_thr(cfg->support_min) || bad_thr(cfg->claim_support_min) || bad_thr(cfg->coverage_min))
        return rr_err(err, RR_EINVAL, "grounding: thresholds must be within [0, 1]");
    rr_grounding *g = rr_calloc(a, 1, sizeof *g);
    if (!g)
        return rr_err(err, RR_ENOMEM, "grounding: out of memory");
    g->a = *a;
    g->cfg = *cfg;
    g->name = rr_strdup(a, cfg->name ? cfg->name : "grounding");
    g->version = rr_strdup(a, cfg->version ? cfg->version : "1");
    bool has_pat = cfg->citation_pattern && *cfg->citation_pattern;
    g->pattern = has_pat ? rr_strdup(a, cfg->citation_pattern) : NULL;
    if (!g->name || !g->version || (has_pat && !g->pattern)) {
        rr_grounding_free(g);
        return rr_err(err, RR_ENOMEM, "grounding: out of memory");
    }
    g->cfg.name = g->name;
    g->cfg.version = g->version;
    g->cfg.citation_pattern = g->pattern;
#ifdef HOT_AVX2
    g->avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
              __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
#endif
    if (!stop_build(g) || !abbr_build(g)) { /* a fixed list outgrew its table: a build bug */
        rr_grounding_free(g);
        return rr_err(err, RR_ESTATE, "grounding: stop-word table overflow");
    }
    if (has_pat) {
        int rc = compile_pattern(g, err);
        if (rc != RR_OK) {
            rr_grounding_free(g);
            return rc;
        }
    }
    *out = g;
    return RR_OK;
}

void rr_grounding_free(rr_grounding *g) {
    if (!g)
        return;
    pcre2_match_context_free(g->mctx);
    pcre2_code_free(g->re);
    pcre2_general_context_free(g->gctx);
    rr_free(&g->a, g->name);
    rr_free(&g->a, g->version);
    rr_free(&g->a, g->pattern);
    rr_alloc a = g->a;
    rr_free(&a, g);
}

const char *rr_grounding_name(const rr_grounding *g) { return g ? g->name : ""; }
const char *rr_grounding_version(const rr_grounding *g) { return g ? g->version : ""; }

int rr_grounding_scratch_new(rr_grounding_scratch **out, const rr_alloc *a) {
    if (!out || !a)
        return RR_EINVAL;
    rr_grounding_scratch *s = rr_calloc(a, 1, sizeof *s);
    if (!s)
        return RR_ENOMEM;
    s->a = *a;
    s->gctx = pcre2_general_context_create(pcre_malloc, pcre_free, &s->a);
    s->md = s->gctx ? pcre2_match_data_create(2, s->gctx) : NULL;
    if (!s->md) {
        rr_grounding_scratch_free(s);
        return RR_ENOMEM;
    }
    *out = s;
    return RR_OK;
}

void rr_grounding_scratch_free(rr_grounding_scratch *s) {
    if (!s)
        return;
    pcre2_match_data_free(s->md);
    pcre2_general_context_free(s->gctx);
    rr_free(&s->a, s->ak.key);
    rr_free(&s->a, s->ak.idx);
    gt_free(s, &s->ids);
    void *bufs[] = {s->bits, s->cites,   s->items, s->ci,     s->refs,
                    s->cnt,  s->touched, s->cmask, s->claims, s->mbuf, s->kinfo, s->pk};
    for (size_t i = 0; i < RR_ARRAY_LEN(bufs); i++)
        rr_free(&s->a, bufs[i]);
    rr_alloc a = s->a;
    rr_free(&a, s);
}

const rr_grounding_result *rr_grounding_result_of(const rr_grounding_scratch *s) {
    return s ? &s->res : NULL;
}

/* ---------------------------------------------------------------------------------------
 * Evidence: the answer's keys are collected first; each passage is then read once and
 * marks, in the key's bitset, the keys it holds. Looking up in a small table of the
 * answer's keys costs less than indexing every passage, and memory follows the answer.
 * ------------------------------------------------------------------------------------- */

/* Where the words of block b start that can matter to the answer: those that may be an
 * entity (a capital first, or a digit in the first two bytes) or a term (a number, or 3
 * bytes and more). The rest ("a", "of") are neither, whatever they spell. */
static inline uint64_t ev_starts(const tmasks *m, size_t b) {
    uint64_t w = m->w[b], starts = w & ~((w << 1) | (b ? m->w[b - 1] >> 63 : 0));
    uint64_t w1 = (w >> 1) | (m->w[b + 1] << 63), w2 = (w >> 2) | (m->w[b + 1] << 62);
    return starts & (m->x[b] | (w1 & w2));
}

/* Marks passage e in the row of `key`; a key the answer lacks marks the spare row. */
static inline void ev_mark(rr_grounding_scratch *s, uint64_t key, size_t e) {
    uint32_t k = kt_find(&s->ak, key, (uint32_t)s->nkeys);
    s->bits[(size_t)k * s->words + e / 64] |= 1ull << (e % 64);
}

/* Bigrams are of consecutive content terms; one whose first term is not an answer term
 * cannot be an answer bigram, so only answer terms are carried forward. */
static ALWAYS_INLINE void ev_scan_one(const rr_grounding *g, rr_grounding_scratch *s,
                                      const char *text, size_t len, size_t e, bool wide) {
    const unsigned char *p = (const unsigned char *)text;
    const tmasks *m = &s->m;
    build_masks(p, len, &s->m, false, wide);
    const lexk kc = lexk_make();
    uint64_t prev = 0;
    bool have_prev = false;
    for (size_t b = 0; b < m->words; b++) {
        for (uint64_t bits = ev_starts(m, b); bits; bits &= bits - 1) {
            tok t;
            lex_at(m, &kc, p, 64 * b + (size_t)__builtin_ctzll(bits), len, len, true, false, &t);
            if (t.f & (T_UPPER | T_MIXED))
                ev_mark(s, ent_key(&t), e);
            if (!(t.f & (T_NUM | T_LONG)))
                continue;
            uint32_t k = kt_find(&s->ak, t.term, UINT32_MAX);
            if (k == UINT32_MAX) {
                /* Not an answer term: a stop word leaves the bigram chain as it is, any other
                 * term breaks it; only then does being a stop word matter. */
                if (have_prev && !is_stop(g, &t))
                    have_prev = false;
                continue;
            }
            s->bits[(size_t)k * s->words + e / 64] |= 1ull << (e % 64);
            if (have_prev)
                ev_mark(s, bigram_key(prev, t.term), e);
            prev = t.term;
            have_prev = true;
        }
    }
}

static void ev_scan_base(const rr_grounding *g, rr_grounding_scratch *s,
                         const rr_evidence_ref *ev, size_t nev) {
    for (size_t e = 0; e < nev; e++)
        ev_scan_one(g, s, ev[e].text, ev[e].len, e, false);
}

#ifdef HOT_AVX2
TARGET_AVX2 static void ev_scan_avx2(const rr_grounding *g, rr_grounding_scratch *s,
                                     const rr_evidence_ref *ev, size_t nev) {
    for (size_t e = 0; e < nev; e++)
        ev_scan_one(g, s, ev[e].text, ev[e].len, e, true);
}
#endif

static int ev_scan(const rr_grounding *g, rr_grounding_scratch *s, const rr_evidence_ref *ev,
                   size_t nev) {
    size_t n = (s->nkeys + 1) * s->words;
    size_t cap = s->capbits;
    if (!grow(s, (void **)&s->bits, &cap, n + 1, sizeof *s->bits))
        return RR_ENOMEM;
    s->capbits = cap;
    memset(s->bits, 0, n * sizeof *s->bits);
    if (s->nkeys == 0)
        return RR_OK;
    size_t longest = 0;
    for (size_t e = 0; e < nev; e++)
        longest = ev[e].len > longest ? ev[e].len : longest;
    if (!masks_reserve(s, longest))
        return RR_ENOMEM;
#ifdef HOT_AVX2
    if (g->avx2) {
        ev_scan_avx2(g, s, ev, nev);
        return RR_OK;
    }
#endif
    ev_scan_base(g, s, ev, nev);
    return RR_OK;
}

static int ids_index(rr_grounding_scratch *s, const rr_evidence_ref *ev, size_t nev) {
    gt_clear(&s->ids);
    for (size_t e = 0; e < nev && !s->oom; e++) {
        if (!ev[e].id)
            continue;
        bool fresh;
        uint64_t k = XXH3_64bits_withSeed(ev[e].id, strlen(ev[e].id), SEED_ID);
        /* Equal hashes of different ids are told apart when resolving (id_lookup). */
        gslot *sl;
        while ((sl = gt_put(s, &s->ids, k, &fresh)) && !fresh &&
               strcmp(ev[sl->val].id, ev[e].id) != 0)
            k = k * 31 + 1;
        if (sl && fresh)
            sl->val = (uint32_t)e;
    }
    return s->oom ? RR_ENOMEM : RR_OK;
}

static int64_t id_lookup(const rr_grounding_scratch *s, const rr_evidence_ref *ev,
                         const char *id, size_t n) {
    uint64_t k = XXH3_64bits_withSeed(id, n, SEED_ID);
    for (;;) {
        const gslot *sl = gt_find(&s->ids, k);
        if (!sl)
            return -1;
        const char *cand = ev[sl->val].id;
        if (strlen(cand) == n && memcmp(cand, id, n) == 0)
            return sl->val;
        k = k * 31 + 1;
    }
}

/* An id names a passage by its id, or failing that a number names it by 1-based position. */
static int64_t resolve(const rr_grounding_scratch *s, const rr_evidence_ref *ev, size_t nev,
                       const char *id, size_t n) {
    int64_t e = id_lookup(s, ev, id, n);
    if (e >= 0 || n == 0 || n > 9)
        return e;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)id[i]))
            return -1;
        v = v * 10 + (uint64_t)(id[i] - '0');
    }
    return v >= 1 && v <= nev ? (int64_t)v - 1 : -1;
}

/* ---------------------------------------------------------------------------------------
 * Citations
 * ------------------------------------------------------------------------------------- */

static bool add_item(rr_grounding_scratch *s, size_t a, size_t b) {
    if (!grow(s, (void **)&s->items, &s->capitems, s->nitems + 1, sizeof *s->items))
        return false;
    s->items[s->nitems++] = (cite_item){a, b, -1};
    return true;
}

static void trim(const unsigned char *p, size_t *a, size_t *b) {
    while (*a < *b && (p[*a] == ' ' || p[*a] == '\t'))
        (*a)++;
    while (*b > *a && (p[*b - 1] == ' ' || p[*b - 1] == '\t'))
        (*b)--;
}

/* One item of a bracket: digits, or "doc:" and an id. Returns false if it is neither. */
static bool parse_item(rr_grounding_scratch *s, const unsigned char *p, size_t a, size_t b,
                       bool whole) {
    trim(p, &a, &b);
    if (a == b)
        return false;
    if (b - a > 4 && memcmp(p + a, "doc:", 4) == 0) {
        a += 4;
        trim(p, &a, &b);
        for (size_t i = a; i < b; i++)
            if (p[i] == '[' || p[i] == '\n' || (!whole && p[i] == ','))
                return false;
        return a < b && add_item(s, a, b);
    }
    for (size_t i = a; i < b; i++)
        if (!is_digit(p[i]))
            return false;
    return b - a <= 9 && add_item(s, a, b);
}

/* "[1]", "[2, 3]", "[doc:abc]", "[doc:a, doc:b]". Returns the end of the marker, or 0. */
static size_t parse_bracket(rr_grounding_scratch *s, const unsigned char *p, size_t i,
                            size_t len) {
    size_t close = i + 1;
    while (close < len && close - i < MAX_CITE_BYTES && p[close] != ']' && p[close] != '[' &&
           p[close] != '\n')
        close++;
    if (close >= len || p[close] != ']')
        return 0;
    size_t mark = s->nitems;
    bool whole = close - i > 5 && memcmp(p + i + 1, "doc:", 4) == 0 &&
                 !memchr(p + i + 1, ',', close - i - 1);
    size_t a = i + 1;
    for (size_t k = i + 1; k <= close; k++) {
        if (k < close && (whole || p[k] != ','))
            continue;
        if (s->nitems - mark >= MAX_CITE_ITEMS || !parse_item(s, p, a, k, whole)) {
            s->nitems = mark;
            return 0;
        }
        a = k + 1;
    }
    if (!grow(s, (void **)&s->cites, &s->capcites, s->ncites + 1, sizeof *s->cites))
        return 0;
    s->cites[s->ncites++] = (cite){i, close + 1, (uint32_t)mark, (uint32_t)(s->nitems - mark), 0};
    return close + 1;
}

static void scan_brackets(rr_grounding_scratch *s, const unsigned char *p, size_t len) {
    for (size_t i = 0; i < len && !s->oom;) {
        const unsigned char *q = memchr(p + i, '[', len - i);
        if (!q)
            break;
        i = (size_t)(q - p);
        size_t end = parse_bracket(s, p, i, len);
        i = end ? end : i + 1;
    }
}

static int scan_pattern(const rr_grounding *g, rr_grounding_scratch *s, const unsigned char *p,
                        size_t len) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
    for (size_t at = 0; at <= len && !s->oom;) {
        int rc = pcre2_match(g->re, p, len, at, PCRE2_NO_UTF_CHECK, s->md, g->mctx);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0 && rc != 0)
            return rc == PCRE2_ERROR_NOMEMORY ? RR_ENOMEM : RR_ELIMIT;
        size_t m0 = ov[0], m1 = ov[1];
        size_t a = m0, b = m1;
        if (g->group && (rc == 0 || rc > 1) && ov[2] != PCRE2_UNSET) {
            a = ov[2];
            b = ov[3];
        }
        if (m1 > m0 && add_item(s, a, b) &&
            grow(s, (void **)&s->cites, &s->capcites, s->ncites + 1, sizeof *s->cites))
            s->cites[s->ncites++] =
                (cite){m0, m1, (uint32_t)(s->nitems - 1), 1, 1};
        at = m1 > m0 ? m1 : m1 + (m1 < len ? seq_len(p, m1, len) : 1);
    }
    return s->oom ? RR_ENOMEM : RR_OK;
}

static int cite_cmp(const void *x, const void *y) {
    const cite *a = x, *b = y;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->from_pattern != b->from_pattern)
        return a->from_pattern < b->from_pattern ? -1 : 1;
    return a->end < b->end ? -1 : a->end > b->end;
}

/* Markers sorted by position; one that overlaps an earlier marker is dropped. */
static int find_citations(const rr_grounding *g, rr_grounding_scratch *s, const char *answer,
                          size_t len, const rr_evidence_ref *ev, size_t nev) {
    const unsigned char *p = (const unsigned char *)answer;
    s->ncites = s->nitems = 0;
    scan_brackets(s, p, len);
    size_t nb = s->ncites;
    if (g->re) {
        int rc = scan_pattern(g, s, p, len);
        if (rc != RR_OK)
            return rc;
    }
    if (s->ncites > nb)
        qsort(s->cites, s->ncites, sizeof *s->cites, cite_cmp);
    size_t w = 0;
    for (size_t r = 0; r < s->ncites; r++)
        if (w == 0 || s->cites[r].start >= s->cites[w - 1].end)
            s->cites[w++] = s->cites[r];
    s->ncites = w;
    for (size_t i = 0; i < s->nitems; i++)
        s->items[i].ev = resolve(s, ev, nev, answer + s->items[i].start,
                                 s->items[i].end - s->items[i].start);
    return s->oom ? RR_ENOMEM : RR_OK;
}

/* ---------------------------------------------------------------------------------------
 * Sentences
 * ------------------------------------------------------------------------------------- */

typedef struct seg {
    size_t start, end, next;
    size_t c0; /* first citation at or after start */
    bool question;
} seg;

/* Is the '.' at `dot` part of an abbreviation or an initial ("e.g.", "U.S.", "J.", "Dr.")? */
static bool is_abbrev(const rr_grounding *g, const unsigned char *p, size_t dot, size_t start) {
    size_t a = dot;
    while (a > start && is_alpha(p[a - 1]))
        a--;
    size_t n = dot - a;
    if (n == 0 || (a > start && (p[a - 1] >= 0x80 || is_digit(p[a - 1]))))
        return false;
    if (n == 1)
        return true;
    if (n > 6)
        return false;
    unsigned char w[8] = {0};
    for (size_t i = 0; i < n; i++)
        w[i] = p[a + i] | 0x20;
    uint64_t x;
    memcpy(&x, w, 8);
    const uint64_t *b = g->abbr + (word_hash(x) >> (64 - ABBR_BITS));
    bool hit = false;
    for (int j = 0; j < ABBR_PROBES; j++)
        hit |= b[j] == x;
    return hit;
}

/* Skip closing quotes and parentheses after a terminator. */
static size_t skip_closers(const unsigned char *p, size_t j, size_t len) {
    for (;;) {
        if (j < len && (p[j] == '"' || p[j] == '\'' || p[j] == ')'))
            j++;
        else if (j + 2 < len && p[j] == 0xE2 && p[j + 1] == 0x80 &&
                 (p[j + 2] == 0x9D || p[j + 2] == 0x99))
            j += 3;
        else if (j + 1 < len && p[j] == 0xC2 && p[j + 1] == 0xBB)
            j += 2;
        else
            return j;
    }
}

static const cite *cite_at(const rr_grounding_scratch *s, size_t *ci, size_t i) {
    while (*ci < s->ncites && s->cites[*ci].end <= i)
        (*ci)++;
    return *ci < s->ncites && s->cites[*ci].start == i ? &s->cites[*ci] : NULL;
}

/* Citations right after a terminator ("... 1844. [1][2]") belong to that sentence. */
static size_t attach_citations(const rr_grounding_scratch *s, const unsigned char *p,
                               size_t len, size_t j, size_t ci) {
    size_t end = j;
    for (;;) {
        size_t k = end;
        while (k < len && (p[k] == ' ' || p[k] == '\t'))
            k++;
        const cite *c = cite_at(s, &ci, k);
        if (!c)
            return end;
        end = c->end;
    }
}

/* Does the terminator run p[i..j) end a sentence? */
static bool ends_sentence(const rr_grounding *g, const rr_grounding_scratch *s,
                          const unsigned char *p, size_t len,
                          size_t i, size_t j, size_t start, size_t ci) {
    size_t k = skip_closers(p, j, len);
    if (k < len && !is_space(p[k]) && p[k] != '\n' && !cite_at(s, &ci, k))
        return false; /* "3.5", "a.b", "?!x" */
    bool dots = true;
    for (size_t q = i; q < j; q++)
        dots &= p[q] == '.';
    if (!dots)
        return true;
    if (j == i + 1 && is_abbrev(g, p, i, start))
        return false;
    while (k < len && (p[k] == ' ' || p[k] == '\t'))
        k++;
    /* A lower-case word after the dot continues the sentence: unknown abbreviations. */
    return !(k < len && p[k] >= 'a' && p[k] <= 'z');
}


static inline size_t cite_start(const rr_grounding_scratch *s, size_t c) {
    return c < s->ncites ? s->cites[c].start : SIZE_MAX;
}

static void next_seg(const rr_grounding *g, const rr_grounding_scratch *s,
                     const unsigned char *p, size_t len,
                     size_t pos, size_t *ci, seg *out) {
    while (pos < len && (is_space(p[pos]) || p[pos] == '\n'))
        pos++;
    cite_at(s, ci, pos);
    *out = (seg){pos, len, len, *ci, false};
    size_t c = *ci, nc = cite_start(s, c);
    for (size_t i = pos; i < len;) {
        if (i >= nc) { /* inside or at a citation: its bytes end nothing */
            i = i > s->cites[c].end ? i : s->cites[c].end;
            nc = cite_start(s, ++c);
            continue;
        }
        size_t lim = nc < len ? nc : len;
        i = next_set(s->m.t, i, lim);
        if (i == lim)
            continue;
        if (p[i] == '\n') {
            out->end = i;
            out->next = i + 1;
            return;
        }
        size_t j = i;
        while (j < len && (p[j] == '.' || p[j] == '!' || p[j] == '?'))
            j++;
        if (ends_sentence(g, s, p, len, i, j, pos, c)) {
            out->question = memchr(p + i, '?', j - i) != NULL;
            out->end = attach_citations(s, p, len, skip_closers(p, j, len), c);
            out->next = out->end;
            return;
        }
        i = j;
    }
    out->question = out->end > pos && p[out->end - 1] == '?';
}

/* ---------------------------------------------------------------------------------------
 * Claims
 * ------------------------------------------------------------------------------------- */

typedef struct run {
    const rr_grounding *g;
    rr_grounding_scratch *s;
    const unsigned char *p;
    size_t len;
    const rr_evidence_ref *ev;
    size_t nev;
    struct rr_verdict *v;
    int rc;
    double sum;
    bool any_below_claim_min;
    uint32_t segno; /* sentences collected so far */
} run;

/* Messages are assembled by hand: printf's generality was a tenth of a check's time. */
typedef struct msg {
    char b[192];
    size_t n;
} msg;

static void msg_str(msg *m, const char *t) {
    size_t k = strlen(t);
    k = k < sizeof m->b - m->n ? k : sizeof m->b - m->n;
    memcpy(m->b + m->n, t, k);
    m->n += k;
}

static void msg_uint(msg *m, uint64_t x) {
    char d[20];
    size_t k = 0;
    do
        d[k++] = (char)('0' + x % 10);
    while ((x /= 10) && k < sizeof d);
    while (k && m->n < sizeof m->b)
        m->b[m->n++] = d[--k];
}

/* "%.2f" of x. For x in [0, 1] from its nearest hundredths, unless x * 100 lies so near a
 * half that its rounding error could decide which (then, and outside [0, 1], printf). */
static void msg_fix2(msg *m, double x) {
    double y = x * 100.0, f = y - floor(y);
    if (x >= 0.0 && x <= 1.0 && !signbit(x) && fabs(f - 0.5) > 1e-9 && sizeof m->b - m->n >= 4) {
        unsigned k = (unsigned)floor(y) + (f > 0.5);
        char *o = m->b + m->n;
        o[0] = (char)('0' + k / 100);
        o[1] = '.';
        o[2] = (char)('0' + k / 10 % 10);
        o[3] = (char)('0' + k % 10);
        m->n += 4;
        return;
    }
    char t[32];
    snprintf(t, sizeof t, "%.2f", x);
    msg_str(m, t);
}

/* Record a finding whose message m holds; none formatted once the verdict is full. */
static void finding(run *r, const char *code, size_t a, size_t b, msg *m) {
    if (!r->v || r->rc != RR_OK)
        return;
    int rc = rr_verdict_add_raw(r->v, r->g->name, code, "", NULL, 0, NULL, 0, (int64_t)a,
                                (int64_t)b, m->b, m->n);
    if (rc != RR_OK)
        r->rc = rc;
}

/* Whether a finding would be stored: when not, the message is left empty. */
static bool finding_kept(const run *r) {
    return r->v && r->rc == RR_OK && r->v->nfindings < r->v->max_findings;
}

/* Count the segment's citations, report ids naming no passage; *c1 gets the end of its
 * citations. Returns whether one names a given passage. */
static bool seg_citations(run *r, const seg *sg, size_t *c1) {
    rr_grounding_scratch *s = r->s;
    bool cited = false;
    size_t c = sg->c0;
    for (; c < s->ncites && s->cites[c].start < sg->end; c++) {
        const cite *m = &s->cites[c];
        for (uint32_t k = 0; k < m->nitems; k++) {
            const cite_item *it = &s->items[m->item0 + k];
            r->s->res.citations++;
            if (it->ev >= 0) {
                cited = true;
                continue;
            }
            s->res.unknown_citations++;
            msg txt;
            txt.n = 0;
            if (finding_kept(r)) {
                msg_str(&txt, "citation names no evidence passage given (");
                msg_uint(&txt, r->nev);
                msg_str(&txt, " given)");
            }
            finding(r, "citation_unknown_id", it->start, it->end, &txt);
        }
    }
    *c1 = c;
    return cited;
}

/* The passages the claim cites, as a bitset in s->cmask. */
static void claim_mask(rr_grounding_scratch *s, const claim_ref *ref) {
    memset(s->cmask, 0, s->words * sizeof *s->cmask);
    for (size_t c = ref->c0; c < ref->c1; c++)
        for (uint32_t k = 0; k < s->cites[c].nitems; k++) {
            int64_t e = s->items[s->cites[c].item0 + k].ev;
            if (e >= 0)
                s->cmask[e / 64] |= 1ull << (e % 64);
        }
}

/* Collect `key` for the current sentence, once per sentence. Room for it in s->ak,
 * s->kinfo and s->ci is normally reserved for the whole sentence (seg_items). */
static ALWAYS_INLINE void claim_add(run *r, uint64_t key, uint32_t kind, size_t a,
                                    size_t b) {
    rr_grounding_scratch *s = r->s;
    ktab *t = &s->ak;
    if ((s->nkeys + 1) * 2 > t->cap || s->nci >= s->capci) {
        if (!kt_reserve(s, 1) || !grow(s, (void **)&s->ci, &s->capci, s->nci + 1, sizeof *s->ci))
            return;
    }
    uint64_t k = kt_norm(key);
    size_t i = kt_slot(t, k);
    uint32_t idx;
    if (t->key[i] == k) {
        idx = t->idx[i];
        if (s->kinfo[idx].seen == r->segno)
            return;
        s->kinfo[idx].seen = r->segno;
    } else {
        idx = (uint32_t)s->nkeys++;
        t->key[i] = k;
        t->idx[i] = idx;
        s->kinfo[idx] = (kinfo){k, (uint32_t)i, r->segno};
    }
    s->ci[s->nci++] = (claim_item){idx, kind, a, b};
}

/* Collect the distinct terms, bigrams and facts of the segment, skipping citations. */
static ALWAYS_INLINE void seg_items(run *r, const seg *sg) {
    rr_grounding_scratch *s = r->s;
    const unsigned char *p = r->p;
    /* At most three keys per word; words are runs of word bytes, each citation cutting
     * one more. */
    size_t cites = 0;
    for (size_t c = sg->c0; c < s->ncites && s->cites[c].start < sg->end; c++)
        cites++;
    size_t most = 3 * (runs_in(&s->m, sg->start, sg->end) + cites + 1);
    if (!kt_reserve(s, most) || !grow(s, (void **)&s->ci, &s->capci, s->nci + most, sizeof *s->ci))
        return;
    r->segno++;
    const lexk kc = lexk_make();
    uint64_t prev = 0;
    bool have_prev = false, first = true;
    size_t c = sg->c0, nc = cite_start(s, c);
    for (size_t i = sg->start; i < sg->end && !s->oom;) {
        if (i >= nc) {
            i = i > s->cites[c].end ? i : s->cites[c].end;
            nc = cite_start(s, ++c);
            continue;
        }
        size_t lim = nc < sg->end ? nc : sg->end; /* no token runs into a citation */
        if (!is_word_byte(p, i, lim)) {
            i += seq_len(p, i, lim);
            continue;
        }
        tok t;
        lex_at(&s->m, &kc, p, i, lim, r->len, false, true, &t);
        lex_stop(r->g, &t);
        i = next_word(&s->m, &t, lim);
        bool ent = !(t.f & T_NUM) && ((t.f & (T_MIXED | T_ALLCAPS)) ||
                                      ((t.f & T_UPPER) && !first && !(t.f & T_STOP) &&
                                                       t.end - t.start >= 2));
        first = false;
        if (ent)
            claim_add(r, ent_key(&t), K_ENT, t.start, t.end);
        if (!(t.f & T_CONTENT))
            continue;
        claim_add(r, t.term, (t.f & T_NUM) ? K_TERM | K_NUM : K_TERM, t.start, t.end);
        if (have_prev)
            claim_add(r, bigram_key(prev, t.term), K_BIGRAM, t.start, t.end);
        prev = t.term;
        have_prev = true;
    }
}

typedef struct tally {
    uint32_t nu, nb, nf, hu, hb, hf;
} tally;

static double support_of(const tally *t) {
    double f = t->nf ? (double)t->hf / t->nf : 1.0;
    if (!t->nu)
        return f;
    double u = (double)t->hu / t->nu;
    double b = t->nb ? (double)t->hb / t->nb : u;
    return f * (u + b) / 2.0;
}

static inline void tally_hit(tally *t, uint32_t kind) {
    t->hu += (kind & K_TERM) != 0;
    t->hb += (kind & K_BIGRAM) != 0;
    t->hf += (kind & (K_NUM | K_ENT)) != 0;
}

/* The passages holding key number k, or NULL when none does. */
static const uint64_t *ev_bits(const rr_grounding_scratch *s, uint32_t k) {
    const uint64_t *m = s->bits + (size_t)k * s->words;
    for (size_t w = 0; w < s->words; w++)
        if (m[w])
            return m;
    return NULL;
}

static void fact_missing(run *r, const claim_item *it, size_t nclaim) {
    bool num = it->kind & K_NUM;
    if (!(it->kind & (K_NUM | K_ENT)))
        return;
    if (num)
        r->s->res.unknown_numbers++;
    else
        r->s->res.unknown_entities++;
    msg m;
    m.n = 0;
    if (finding_kept(r)) {
        msg_str(&m, "claim ");
        msg_uint(&m, nclaim);
        msg_str(&m, num ? ": number appears in no evidence passage"
                        : ": name appears in no evidence passage");
    }
    finding(r, num ? "number_not_in_evidence" : "entity_not_in_evidence", it->start, it->end,
            &m);
}

/* Uncited claim: count hits per passage, then keep the passage that supports it best
 * (the lowest index on a tie, so the result does not depend on hash order). */
static void score_best(run *r, tally base, rr_grounding_claim *cl, size_t ntouched) {
    rr_grounding_scratch *s = r->s;
    cl->support = support_of(&base);
    cl->evidence = -1;
    cl->facts_found = 0;
    for (size_t k = 0; k < ntouched; k++) {
        uint32_t e = s->touched[k];
        uint32_t *c = &s->cnt[3 * (size_t)e];
        tally t = base;
        t.hu = c[0];
        t.hb = c[1];
        t.hf = c[2];
        double sup = support_of(&t);
        if (cl->evidence < 0 || sup > cl->support || (sup == cl->support && e < cl->evidence)) {
            cl->support = sup;
            cl->evidence = e;
            cl->facts_found = t.hf;
        }
        c[0] = c[1] = c[2] = 0;
    }
}

/* An item's terms, bigrams and facts as three 21-bit counters in one word, so that counting
 * it is one add: used for claims of fewer than PK_MAX items (any sentence under 1.4 MB: at
 * most three items per word of two bytes), longer ones counted field by field. */
#define PK_MAX (1u << 21)
#define PK(k) ((uint64_t)((k) & K_TERM) | (uint64_t)(((k) & K_BIGRAM) != 0) << 21 | \
               (uint64_t)(((k) & (K_NUM | K_ENT)) != 0) << 42)
static const uint64_t pk_of[16] = {PK(0), PK(1), PK(2),  PK(3),  PK(4),  PK(5),  PK(6),  PK(7),
                                   PK(8), PK(9), PK(10), PK(11), PK(12), PK(13), PK(14), PK(15)};

static inline void pk_unpack(uint64_t x, uint32_t *u, uint32_t *b, uint32_t *f) {
    *u = (uint32_t)(x & (PK_MAX - 1));
    *b = (uint32_t)(x >> 21 & (PK_MAX - 1));
    *f = (uint32_t)(x >> 42 & (PK_MAX - 1));
}

static void claim_score_wide(run *r, const claim_ref *ref, rr_grounding_claim *cl,
                             size_t nclaim);

static void claim_score(run *r, const claim_ref *ref, rr_grounding_claim *cl, size_t nclaim) {
    rr_grounding_scratch *s = r->s;
    if (ref->nitems >= PK_MAX) {
        claim_score_wide(r, ref, cl, nclaim);
        return;
    }
    const bool cited = cl->cited;
    const size_t words = s->words;
    uint64_t tot = 0, hit = 0;
    size_t ntouched = 0;
    for (size_t i = ref->item0; i < ref->item0 + ref->nitems; i++) {
        const claim_item *it = &s->ci[i];
        uint64_t inc = pk_of[it->kind & 15];
        tot += inc;
        const uint64_t *m = ev_bits(s, it->key);
        if (!m) {
            fact_missing(r, it, nclaim);
            continue;
        }
        for (size_t w = 0; w < words; w++) {
            if (cited) {
                if (m[w] & s->cmask[w]) {
                    hit += inc;
                    break;
                }
                continue;
            }
            for (uint64_t bits = m[w]; bits; bits &= bits - 1) {
                size_t e = w * 64 + (size_t)__builtin_ctzll(bits);
                if (!s->pk[e])
                    s->touched[ntouched++] = (uint32_t)e;
                s->pk[e] += inc;
            }
        }
    }
    tally t = {0};
    pk_unpack(tot, &t.nu, &t.nb, &t.nf);
    pk_unpack(hit, &t.hu, &t.hb, &t.hf);
    cl->terms = t.nu;
    cl->facts = t.nf;
    if (!cited) {
        for (size_t k = 0; k < ntouched; k++) {
            uint32_t e = s->touched[k];
            uint32_t *c = &s->cnt[3 * (size_t)e];
            pk_unpack(s->pk[e], &c[0], &c[1], &c[2]);
            s->pk[e] = 0;
        }
        score_best(r, t, cl, ntouched);
        return;
    }
    cl->support = support_of(&t);
    cl->facts_found = t.hf;
    cl->evidence = -1;
    for (size_t w = 0; w < words && cl->evidence < 0; w++)
        if (s->cmask[w])
            cl->evidence = (int64_t)(w * 64 + (size_t)__builtin_ctzll(s->cmask[w]));
}

static void claim_score_wide(run *r, const claim_ref *ref, rr_grounding_claim *cl,
                             size_t nclaim) {
    rr_grounding_scratch *s = r->s;
    const bool cited = cl->cited;
    tally t = {0};
    size_t ntouched = 0;
    for (size_t i = ref->item0; i < ref->item0 + ref->nitems; i++) {
        const claim_item *it = &s->ci[i];
        t.nu += (it->kind & K_TERM) != 0;
        t.nb += (it->kind & K_BIGRAM) != 0;
        t.nf += (it->kind & (K_NUM | K_ENT)) != 0;
        const uint64_t *m = ev_bits(s, it->key);
        if (!m) {
            fact_missing(r, it, nclaim);
            continue;
        }
        for (size_t w = 0; w < s->words; w++) {
            if (cited) {
                if (m[w] & s->cmask[w]) {
                    tally_hit(&t, it->kind);
                    break;
                }
                continue;
            }
            for (uint64_t bits = m[w]; bits; bits &= bits - 1) {
                size_t e = w * 64 + (size_t)__builtin_ctzll(bits);
                uint32_t *c = &s->cnt[3 * e];
                if (!(c[0] | c[1] | c[2]))
                    s->touched[ntouched++] = (uint32_t)e;
                c[0] += (it->kind & K_TERM) != 0;
                c[1] += (it->kind & K_BIGRAM) != 0;
                c[2] += (it->kind & (K_NUM | K_ENT)) != 0;
            }
        }
    }
    cl->terms = t.nu;
    cl->facts = t.nf;
    if (!cited) {
        score_best(r, t, cl, ntouched);
        return;
    }
    cl->support = support_of(&t);
    cl->facts_found = t.hf;
    cl->evidence = -1;
    for (size_t w = 0; w < s->words && cl->evidence < 0; w++)
        if (s->cmask[w])
            cl->evidence = (int64_t)(w * 64 + (size_t)__builtin_ctzll(s->cmask[w]));
}

static bool has_claim_content(const rr_grounding_scratch *s, size_t from) {
    for (size_t i = from; i < s->nci; i++)
        if (s->ci[i].kind & (K_TERM | K_ENT))
            return true;
    return false;
}

/* First pass over a sentence: citations, and for a claim its items. */
static ALWAYS_INLINE void seg_collect(run *r, const seg *sg) {
    rr_grounding_scratch *s = r->s;
    size_t c1;
    bool cited = seg_citations(r, sg, &c1);
    if (sg->question) {
        s->res.questions++;
        return;
    }
    size_t item0 = s->nci;
    seg_items(r, sg);
    if (s->oom || !has_claim_content(s, item0)) {
        s->nci = item0; /* its keys stay in s->ak, harmlessly */
        return;
    }
    size_t n = s->res.nclaims;
    if (!grow(s, (void **)&s->claims, &s->capclaims, n + 1, sizeof *s->claims) ||
        !grow(s, (void **)&s->refs, &s->caprefs, n + 1, sizeof *s->refs))
        return;
    s->claims[n] = (rr_grounding_claim){.start = sg->start, .end = sg->end, .cited = cited};
    s->refs[n] = (claim_ref){item0, s->nci - item0, sg->c0, c1};
    s->res.nclaims++;
}

/* Second pass, once the evidence has been read: score the claim, report. */
static void claim_judge(run *r, size_t n) {
    rr_grounding_scratch *s = r->s;
    const rr_grounding_config *cfg = &r->g->cfg;
    rr_grounding_claim *cl = &s->claims[n];
    claim_mask(s, &s->refs[n]);
    claim_score(r, &s->refs[n], cl, n + 1);
    r->sum += cl->support;
    if (cl->cited)
        s->res.cited_claims++;
    if (cfg->claim_support_min > 0 && cl->support < cfg->claim_support_min)
        r->any_below_claim_min = true;
    if (cl->support < cfg->support_min) {
        msg m;
        m.n = 0;
        if (finding_kept(r)) {
            msg_str(&m, "claim ");
            msg_uint(&m, n + 1);
            msg_str(&m, ": support ");
            msg_fix2(&m, cl->support);
            msg_str(&m, " below ");
            msg_fix2(&m, cfg->support_min);
            msg_str(&m, " (");
            msg_uint(&m, cl->terms);
            msg_str(&m, " terms, ");
            msg_uint(&m, cl->facts_found);
            msg_str(&m, " of ");
            msg_uint(&m, cl->facts);
            msg_str(&m, " facts found)");
        }
        finding(r, "unsupported_claim", cl->start, cl->end, &m);
    }
    if (cfg->require_citations && !cl->cited) {
        msg m;
        m.n = 0;
        if (finding_kept(r)) {
            msg_str(&m, "claim ");
            msg_uint(&m, n + 1);
            msg_str(&m, " cites no evidence passage given");
        }
        finding(r, "uncited_claim", cl->start, cl->end, &m);
    }
}

/* ---------------------------------------------------------------------------------------
 * The check
 * ------------------------------------------------------------------------------------- */

/* Where UTF-8 validation has to start: past the ASCII prefix, skipped 64 bytes at a time. */
static size_t ascii_prefix(const char *t, size_t len) {
    size_t i = 0;
#ifdef LEX_SSE2
    for (; i + 64 <= len; i += 64) {
        const __m128i *q = (const __m128i *)(const void *)(t + i);
        __m128i x = _mm_or_si128(_mm_or_si128(_mm_loadu_si128(q), _mm_loadu_si128(q + 1)),
                                 _mm_or_si128(_mm_loadu_si128(q + 2), _mm_loadu_si128(q + 3)));
        if (_mm_movemask_epi8(x))
            break;
    }
#else
    (void)t;
    (void)len;
#endif
    return i;
}

/* rr_utf8_check, the ASCII prefix skipped. */
static size_t utf8_bad(const char *t, size_t len) {
    size_t a = ascii_prefix(t, len);
    return a + rr_utf8_check(t + a, len - a);
}

static int check_inputs(const char *answer, size_t len, const rr_evidence_ref *ev, size_t nev,
                        rr_error *err) {
    if (!answer && len)
        return rr_err(err, RR_EINVAL, "grounding: answer is NULL with length %zu", len);
    if (!ev && nev)
        return rr_err(err, RR_EINVAL, "grounding: evidence is NULL with count %zu", nev);
    size_t bad = len ? utf8_bad(answer, len) : 0;
    if (bad < len)
        return rr_err(err, RR_EUTF8, "grounding: answer: invalid UTF-8 at byte %zu", bad);
    for (size_t e = 0; e < nev; e++) {
        if (!ev[e].text && ev[e].len)
            return rr_err(err, RR_EINVAL, "grounding: evidence[%zu] text is NULL", e);
        bad = ev[e].len ? utf8_bad(ev[e].text, ev[e].len) : 0;
        if (bad < ev[e].len)
            return rr_err(err, RR_EUTF8, "grounding: evidence[%zu] (id \"%.64s\"): invalid UTF-8 "
                          "at byte %zu", e, ev[e].id ? ev[e].id : "", bad);
    }
    if (nev > UINT32_MAX)
        return rr_err(err, RR_ERANGE, "grounding: %zu evidence passages is too many", nev);
    return RR_OK;
}

/* Each buffer keeps its own capacity, so one that failed to grow is never taken for
 * grown. */
static bool reserve_per_evidence(rr_grounding_scratch *s, size_t nev) {
    size_t words = (nev + 63) / 64;
    if (!grow(s, (void **)&s->touched, &s->capev, nev + 1, sizeof *s->touched) ||
        !grow(s, (void **)&s->cnt, &s->capcnt, 3 * (nev + 1), sizeof *s->cnt) ||
        !grow(s, (void **)&s->pk, &s->cappk, nev + 1, sizeof *s->pk))
        return false;
    memset(s->cnt, 0, 3 * (nev + 1) * sizeof *s->cnt);
    memset(s->pk, 0, (nev + 1) * sizeof *s->pk);
    return grow(s, (void **)&s->cmask, &s->capwords, words + 1, sizeof *s->cmask);
}

static ALWAYS_INLINE void collect_body(run *r, bool wide) {
    rr_grounding_scratch *s = r->s;
    build_masks(r->p, r->len, &s->m, true, wide);
    size_t ci = 0;
    for (size_t pos = 0; pos < r->len && r->rc == RR_OK && !s->oom;) {
        seg sg;
        next_seg(r->g, s, r->p, r->len, pos, &ci, &sg);
        if (sg.start < sg.end)
            seg_collect(r, &sg);
        pos = sg.next > pos ? sg.next : pos + 1;
    }
}

static void collect_base(run *r) { collect_body(r, false); }

#ifdef HOT_AVX2
TARGET_AVX2 static void collect_avx2(run *r) { collect_body(r, true); }
#endif

static void collect(run *r) {
    rr_grounding_scratch *s = r->s;
    kt_clear(s);
    s->nci = 0;
    s->words = (r->nev + 63) / 64;
    if (!masks_reserve(s, r->len))
        return;
#ifdef HOT_AVX2
    if (r->g->avx2) {
        collect_avx2(r);
        return;
    }
#endif
    collect_base(r);
}

static void decide(run *r) {
    rr_grounding_scratch *s = r->s;
    const rr_grounding_config *cfg = &r->g->cfg;
    rr_grounding_result *res = &s->res;
    res->support = res->nclaims ? r->sum / (double)res->nclaims : 1.0;
    res->coverage = res->nclaims ? (double)res->cited_claims / (double)res->nclaims : 1.0;
    res->claims = s->claims;
    bool fail = (res->nclaims && res->support < cfg->support_min) || r->any_below_claim_min ||
                (cfg->require_citations && res->coverage < cfg->coverage_min) ||
                (cfg->fail_on_unknown_citation && res->unknown_citations) ||
                (cfg->fail_on_unknown_number && res->unknown_numbers) ||
                (cfg->fail_on_unknown_entity && res->unknown_entities);
    res->passed = !fail;
    if (!r->v)
        return;
    rr_verdict_set_score(r->v, "grounding_support", res->support);
    rr_verdict_set_score(r->v, "citation_coverage", res->coverage);
    if (fail)
        rr_verdict_fail(r->v, RR_FAIL_GROUNDING);
}

int rr_grounding_check(const rr_grounding *g, rr_grounding_scratch *s, const char *answer,
                       size_t len, const rr_evidence_ref *ev, size_t nev, struct rr_verdict *v,
                       rr_error *err) {
    if (!g || !s)
        return rr_err(err, RR_EINVAL, "grounding: NULL %s", g ? "scratch" : "validator");
    int rc = check_inputs(answer, len, ev, nev, err);
    if (rc != RR_OK)
        return rc;
    s->oom = false;
    memset(&s->res, 0, sizeof s->res);
    run r = {g, s, (const unsigned char *)(answer ? answer : ""), len, ev, nev, v, RR_OK, 0, false,
             0};
    if (!reserve_per_evidence(s, nev) || ids_index(s, ev, nev) != RR_OK)
        return rr_err(err, RR_ENOMEM, "grounding: out of memory");
    rc = find_citations(g, s, r.len ? answer : "", len, ev, nev);
    if (rc == RR_ELIMIT)
        return rr_err(err, rc, "grounding: citation_pattern hit a PCRE2 match or depth limit");
    if (rc != RR_OK)
        return rr_err(err, rc, "grounding: out of memory");
    collect(&r);
    if (!s->oom && r.rc == RR_OK && ev_scan(g, s, ev, nev) == RR_OK)
        for (size_t n = 0; n < s->res.nclaims && r.rc == RR_OK; n++)
            claim_judge(&r, n);
    if (s->oom || r.rc == RR_ENOMEM)
        return rr_err(err, RR_ENOMEM, "grounding: out of memory");
    if (r.rc != RR_OK)
        return rr_err(err, r.rc, "grounding: recording a finding failed");
    decide(&r);
    return RR_OK;
}
