/* Feature extraction over request text: counts, entities and PII detections in one pass.
 *
 * How it stays fast. The text is read in 64-byte blocks. SIMD compares turn each block into
 * 64-bit masks (one bit per byte: word byte, digit, capital, whitespace, ...), and plain
 * integer arithmetic on those masks counts words, numbers, lines, questions and names for the
 * whole block at once: word starts are W & ~(W << 1); adding a marker bit to the word mask
 * carries through the rest of its word and lands on the byte after it, which moves a
 * property from anywhere in a word to the word's end; adding the enders to the gap mask
 * carries through the gap into the next word, which tells whether a word starts a sentence.
 * Only words that could hold PII or form an identifier (digits next to a separator, '+',
 * long digit runs, letters mixed with digits, '-'/'_' joins) and the bytes '@', ':', '+'
 * and a '.' after a three-letter word ("www.") become events, handled one by one in text
 * order by scalar code that validates candidates. A plain scalar driver (RR_FEATURES_REFERENCE)
 * implements the same definitions word by word; the tests require every mask builder to match it
 * exactly.
 *
 * Conventions used by every detector:
 *  - Boundaries are ASCII: a detection must not be glued to an ASCII letter or digit, but
 *    non-ASCII bytes next to it (curly quotes, CJK text) act as separators.
 *  - Spans are reported in text order and never overlap. Once a detection ends at byte x,
 *    no other detection starts before x.
 *  - Precedence inside a run of digit groups (tried in this order at each group): IPv4,
 *    SSN, payment card, phone. A dashed 3-2-4 group is SSN-shaped and never a phone, even
 *    when the SSN ranges are invalid; a card is never a phone (a card needs 13..19
 *    Luhn-valid digits, a phone at most 15 digits with a phone shape). An e-mail address
 *    wins over anything detected inside its local part (those detections are withdrawn).
 *  - Every candidate scan is bounded (RFC length limits, at most 15..34 digits or
 *    characters) or never revisits bytes (claimed / cluster_end / done markers), so the
 *    whole pass is linear in the text length. */
#include "features.h"

#include <string.h>

/* ---- character classes ----------------------------------------------------------------- */

enum {
    C_LOWER = 1,
    C_UPPER = 2,
    C_DIGIT = 4,
    C_HIGH = 8,    /* non-ASCII byte: counts as a letter for words */
    C_NONHEX = 16, /* letters other than a-f/A-F, and non-ASCII */
    C_SPACE = 32,  /* bytes <= 0x20: space, controls, NUL */
    C_LOCAL = 64,  /* may appear in an e-mail local part */
    C_JOIN = 128,  /* '-' '_': join words into a compound token */
    C_ENDER = 256, /* . ! ? \n: end a sentence */
    C_OPEN = 512,  /* " ' ( [: a word after them is standalone */
    C_ALPHA = C_LOWER | C_UPPER,
    C_ALNUM = C_ALPHA | C_DIGIT,
    C_WORD = C_ALNUM | C_HIGH,
};

#define CLS(c)                                                                                     \
    (((c) >= 'a' && (c) <= 'z' ? C_LOWER | C_LOCAL | ((c) > 'f' ? C_NONHEX : 0) : 0) |             \
     ((c) >= 'A' && (c) <= 'Z' ? C_UPPER | C_LOCAL | ((c) > 'F' ? C_NONHEX : 0) : 0) |             \
     ((c) >= '0' && (c) <= '9' ? C_DIGIT | C_LOCAL : 0) | ((c) >= 0x80 ? C_HIGH | C_NONHEX : 0) |  \
     ((c) <= ' ' ? C_SPACE : 0) |                                                                  \
     ((c) == '?' || (c) == '\n' || (c) == '.' || (c) == '!' ? C_ENDER : 0) |                       \
     ((c) == '-' || (c) == '_' ? C_JOIN : 0) |                                                     \
     ((c) == '"' || (c) == '\'' || (c) == '(' || (c) == '[' ? C_OPEN : 0) |                        \
     ((c) == '.' || (c) == '_' || (c) == '%' || (c) == '+' || (c) == '-' ? C_LOCAL : 0))
#define CLS4(c) CLS(c), CLS((c) + 1), CLS((c) + 2), CLS((c) + 3)
#define CLS16(c) CLS4(c), CLS4((c) + 4), CLS4((c) + 8), CLS4((c) + 12)
#define CLS64(c) CLS16(c), CLS16((c) + 16), CLS16((c) + 32), CLS16((c) + 48)

static const uint16_t T[256] = {CLS64(0), CLS64(64), CLS64(128), CLS64(192)};

static inline bool is_digit(unsigned c) {
    return c - '0' < 10u;
}
static inline bool is_alnum(unsigned c) {
    return (T[c] & C_ALNUM) != 0;
}
static inline bool is_word(unsigned c) {
    return (T[c] & C_WORD) != 0;
}

static int hexval(unsigned c) {
    if (is_digit(c))
        return (int)(c - '0');
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? (int)(c - 'a' + 10) : -1;
}

const char *rr_pii_name(rr_pii_type t) {
    static const char *const names[RR_PII__COUNT] = {"email", "phone", "card", "iban",
                                                     "ssn",   "ipv4",  "ipv6"};
    return (unsigned)t < RR_PII__COUNT ? names[t] : "unknown";
}

uint32_t rr_token_estimate(uint32_t chars, uint32_t words) {
    uint32_t by_chars = (uint32_t)(((uint64_t)chars + 3) / 4);
    return by_chars > words ? by_chars : words;
}

/* Candidate validation runs for few words; kept out of line so the callers stay small. */
#if defined(__GNUC__)
#define RARE __attribute__((noinline))
#else
#define RARE
#endif

static inline unsigned popcount64(uint64_t x) {
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

static inline unsigned ctz64(uint64_t x) {
#if defined(__GNUC__)
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned n = 0;
    while (!(x & 1))
        x >>= 1, n++;
    return n;
#endif
}

/* Bits [lo, hi) of the block starting at b, for the byte range [lo, hi) of the text. */
static inline uint64_t range_bits(size_t lo, size_t hi, size_t b) {
    if (hi <= b || lo >= b + 64)
        return 0;
    unsigned l = lo > b ? (unsigned)(lo - b) : 0, h = hi - b >= 64 ? 64 : (unsigned)(hi - b);
    uint64_t upto = h == 64 ? ~0ull : (1ull << h) - 1;
    return upto & (~0ull << l);
}

/* ---- scanner state ---------------------------------------------------------------------- */

#define RECENT 16 /* detections remembered for withdrawal by an enclosing e-mail address */
#define RING 32   /* counted entity starts remembered for withdrawal by a later URL */

typedef struct scan {
    const unsigned char *p;
    size_t n;
    rr_text_features *f;
    rr_pii_span *spans;
    size_t max_spans;
    size_t claimed;            /* a detection ends here: no candidate starts before it */
    size_t cluster_end;        /* digit groups examined (or shape-claimed) up to here */
    size_t url_start, url_end; /* the last URL: no entities inside it */
    size_t done;               /* compounds before this offset have been visited */
    /* Block driver only: the current block, its bits inside a URL, and the names counted
     * in the previous block (a URL found now may start there). */
    bool blocks;
    size_t blk;
    uint64_t excl, prev_names;
    uint32_t ents[RING]; /* starts of counted entities that a later URL could cover */
    size_t nents;
    struct {
        uint32_t type, start, end;
    } recent[RECENT];
    size_t nrecent; /* total pushed; ring index = nrecent % RECENT */
} scan;

static void push_entity(scan *S, size_t start) {
    S->f->entities++;
    S->ents[S->nents++ % RING] = (uint32_t)start;
}

/* A URL covers [a, e): entities that start inside it do not count, including those counted
 * already (the scheme word before "://"; it starts at most 16 bytes back, so in this block
 * or the previous one). */
static void add_url(scan *S, size_t a, size_t e) {
    S->url_start = a, S->url_end = e;
    size_t floor = S->nents > RING ? S->nents - RING : 0;
    while (S->nents > floor && S->ents[(S->nents - 1) % RING] >= a) {
        S->nents--;
        S->f->entities--;
    }
    if (!S->blocks)
        return;
    S->excl |= range_bits(a, e, S->blk);
    if (a < S->blk && S->blk >= 64) {
        uint64_t gone = S->prev_names & range_bits(a, e, S->blk - 64);
        S->f->entities -= popcount64(gone);
        S->prev_names &= ~gone;
    }
}

static void emit(scan *S, rr_pii_type type, size_t start, size_t end) {
    rr_text_features *f = S->f;
    if (f->pii_total < S->max_spans) {
        rr_pii_span *sp = &S->spans[f->pii_total];
        sp->type = (uint32_t)type;
        sp->start = (uint32_t)start;
        sp->end = (uint32_t)end;
    }
    f->pii[type]++;
    f->pii_total++;
    size_t r = S->nrecent++ % RECENT;
    S->recent[r].type = (uint32_t)type;
    S->recent[r].start = (uint32_t)start;
    S->recent[r].end = (uint32_t)end;
    if (end > S->claimed)
        S->claimed = end;
}

/* Withdraw detections that end after `start` (they lie inside an e-mail address). */
static void withdraw_after(scan *S, size_t start) {
    size_t floor = S->nrecent > RECENT ? S->nrecent - RECENT : 0;
    while (S->nrecent > floor && S->recent[(S->nrecent - 1) % RECENT].end > start) {
        S->nrecent--;
        S->f->pii[S->recent[S->nrecent % RECENT].type]--;
        S->f->pii_total--;
    }
}

/* ---- digit groups: IPv4, SSN, card, phone ---------------------------------------------- */

/* How a digit group is joined to the previous one. START: first group of a cluster;
 * TIGHT: ")" directly followed by digits, or digits directly followed by "(". */
enum { SEP_START, SEP_SPACE, SEP_DASH, SEP_DOT, SEP_TIGHT };

typedef struct grp {
    uint32_t s, e; /* the digits */
    uint8_t sep;   /* SEP_* before this group */
    uint8_t paren; /* group written as "(digits)" */
} grp;

#define MAXG 48 /* groups parsed per window */
#define TAIL 20 /* no matcher consumes more than TAIL - 1 groups */

static inline size_t glen(const grp *g) {
    return g->e - g->s;
}
static inline size_t gstart(const grp *g) {
    return g->paren ? g->s - 1 : g->s;
}
static inline size_t gend(const grp *g) {
    return g->paren ? g->e + 1 : g->e;
}
/* A match may start at group k only at a token boundary, not inside "12-34" or "1.2". */
static inline bool open_before(const grp *g, size_t k) {
    return g[k].sep == SEP_START || g[k].sep == SEP_SPACE;
}
/* ... and end after group j only if the next group is not glued to it. */
static inline bool open_after(const grp *g, size_t ng, size_t j) {
    return j + 1 >= ng || g[j + 1].sep == SEP_SPACE;
}

/* Parse digit groups from `s` (a digit run not glued to ASCII letters). Separators between
 * groups: one ' ', '-' or '.', or parentheses ("(555) 123", "+44 (0)20", "(555)123"). */
static size_t parse_groups(const unsigned char *p, size_t n, size_t s, uint8_t sep, bool paren,
                           grp *g, size_t max) {
    size_t ng = 0;
    for (;;) {
        size_t e = s;
        while (e < n && is_digit(p[e]))
            e++;
        if ((e < n && is_alnum(p[e])) || (paren && (e >= n || p[e] != ')')))
            break;
        g[ng++] = (grp){(uint32_t)s, (uint32_t)e, sep, paren};
        size_t q = paren ? e + 1 : e;
        if (ng == max || q >= n)
            break;
        bool next_paren = false;
        if (p[q] == ' ' && q + 1 < n && p[q + 1] == '(') {
            next_paren = true, q += 2, sep = SEP_SPACE;
        } else if (p[q] == ' ' || p[q] == '-' || p[q] == '.') {
            sep = p[q] == ' ' ? SEP_SPACE : p[q] == '-' ? SEP_DASH : SEP_DOT;
            q++;
        } else if (p[q] == '(' && !paren) {
            next_paren = true, q++, sep = SEP_TIGHT;
        } else if (paren && is_digit(p[q])) {
            sep = SEP_TIGHT;
        } else {
            break;
        }
        if (q >= n || !is_digit(p[q]))
            break;
        s = q;
        paren = next_paren;
    }
    return ng;
}

/* Octets are 0..255 without leading zeros (as inet_pton requires). */
static bool octet_ok(const unsigned char *p, const grp *g) {
    size_t l = glen(g);
    if (g->paren || l == 0 || l > 3 || (l > 1 && p[g->s] == '0'))
        return false;
    unsigned v = 0;
    for (size_t i = g->s; i < g->e; i++)
        v = v * 10 + (p[i] - '0');
    return v <= 255;
}

static size_t match_ipv4(const unsigned char *p, const grp *g, size_t ng, size_t k) {
    if (k + 4 > ng || g[k].sep == SEP_DOT || g[k].sep == SEP_TIGHT)
        return 0;
    for (size_t i = 0; i < 4; i++)
        if (!octet_ok(p, &g[k + i]) || (i > 0 && g[k + i].sep != SEP_DOT))
            return 0;
    if (k + 4 < ng && (g[k + 4].sep == SEP_DOT || g[k + 4].sep == SEP_TIGHT))
        return 0; /* part of a longer dotted number */
    return 4;
}

static unsigned digits_value(const unsigned char *p, const grp *g) {
    unsigned v = 0;
    for (size_t i = g->s; i < g->e; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

/* Dashed 3-2-4. Returns 3 when the shape matches; *valid tells whether the number is in the
 * ranges the SSA issues (area not 000, 666 or 900-999; group not 00; serial not 0000). */
static size_t match_ssn(const unsigned char *p, const grp *g, size_t ng, size_t k, bool *valid) {
    if (k + 3 > ng || !open_before(g, k) || !open_after(g, ng, k + 2))
        return 0;
    if (glen(&g[k]) != 3 || glen(&g[k + 1]) != 2 || glen(&g[k + 2]) != 4 ||
        g[k + 1].sep != SEP_DASH || g[k + 2].sep != SEP_DASH || g[k].paren || g[k + 1].paren ||
        g[k + 2].paren)
        return 0;
    unsigned area = digits_value(p, &g[k]);
    *valid = area != 0 && area != 666 && area < 900 && digits_value(p, &g[k + 1]) != 0 &&
             digits_value(p, &g[k + 2]) != 0;
    return 3;
}

static bool luhn_ok(const unsigned char *p, const grp *g, size_t k, size_t j) {
    unsigned sum = 0, dbl = 0;
    for (size_t x = j + 1; x-- > k;) {
        for (size_t i = g[x].e; i-- > g[x].s;) {
            unsigned d = p[i] - '0';
            if (dbl)
                d = d * 2 > 9 ? d * 2 - 9 : d * 2;
            sum += d;
            dbl ^= 1;
        }
    }
    return sum % 10 == 0;
}

/* 13..19 digits, Luhn-valid: one run, or a first group of 4 followed by groups of 3..6
 * joined by one consistent separator (' ' or '-'); 4-4-4-4, 4-6-5, 4-4-4-4-3 all fit. */
static size_t match_card(const unsigned char *p, const grp *g, size_t ng, size_t k) {
    if (g[k].paren || !open_before(g, k))
        return 0;
    size_t l0 = glen(&g[k]);
    if (l0 >= 13 && l0 <= 19)
        return open_after(g, ng, k) && luhn_ok(p, g, k, k) ? 1 : 0;
    if (l0 != 4 || k + 1 >= ng || (g[k + 1].sep != SEP_SPACE && g[k + 1].sep != SEP_DASH))
        return 0;
    uint8_t sep = g[k + 1].sep;
    size_t digits = 4, best = 0;
    for (size_t j = k + 1; j < ng && g[j].sep == sep && !g[j].paren; j++) {
        size_t l = glen(&g[j]);
        if (l < 3 || l > 6 || digits + l > 19)
            break;
        digits += l;
        if (digits >= 13 && (sep == SEP_SPACE || open_after(g, ng, j)) && luhn_ok(p, g, k, j))
            best = j - k + 1;
    }
    return best;
}

/* "+<country> ...": up to 15 digits in groups joined by any separator; never stops inside
 * a glued run ("+1 555 123 4567 2024-01-15" ends before 2024). */
static size_t phone_intl(const grp *g, size_t ng) {
    size_t digits = 0, j = 0;
    while (j < ng && digits + glen(&g[j]) <= 15)
        digits += glen(&g[j++]);
    while (j > 1 && j < ng && g[j].sep != SEP_SPACE)
        digits -= glen(&g[--j]);
    if (j == 0 || (j < ng && g[j].sep != SEP_SPACE))
        return 0;
    return digits >= 7 ? j : 0;
}

/* "(area) local": a parenthesised group of 2..4 digits, then a local number whose groups
 * after the first share one separator; 7..15 digits in all. */
static size_t phone_paren(const grp *g, size_t ng, size_t k) {
    size_t l = glen(&g[k]);
    if (l < 2 || l > 4 || k + 1 >= ng || g[k + 1].paren)
        return 0;
    size_t digits = l + glen(&g[k + 1]), j = k + 2;
    uint8_t sep = j < ng ? g[j].sep : SEP_TIGHT;
    if (sep != SEP_TIGHT) {
        while (j < ng && g[j].sep == sep && !g[j].paren && digits + glen(&g[j]) <= 15)
            digits += glen(&g[j++]);
        if (sep != SEP_SPACE && !open_after(g, ng, j - 1))
            return 0;
    } else if (j < ng) {
        return 0;
    }
    return digits >= 7 && digits <= 15 ? j - k : 0;
}

/* Group lengths L[0..m) of a national number joined by `sep`. See phone_national. */
static bool phone_shape(const size_t *L, size_t m, uint8_t sep, bool lead0) {
    size_t digits = 0;
    for (size_t i = 0; i < m; i++)
        digits += L[i];
    if (digits < 7 || digits > 15)
        return false;
    if (m == 3 && ((L[0] == 4 && L[1] <= 2 && L[2] <= 2) || (L[0] <= 2 && L[1] <= 2 && L[2] == 4)))
        return false; /* y-m-d, d.m.y, m/d/y */
    if (m == 3 && sep == SEP_DASH && L[0] == 3 && L[1] == 2 && L[2] == 4)
        return false; /* SSN-shaped */
    if ((m == 3 && L[0] == 3 && L[1] == 3 && L[2] == 4) ||
        (m == 4 && L[0] == 1 && L[1] == 3 && L[2] == 3 && L[3] == 4) ||
        (m == 2 && sep == SEP_DASH && L[0] == 3 && L[1] == 4))
        return true; /* North American: 555-123-4567, 1 800 555 0199, 555-1234 */
    if (!lead0 || (sep != SEP_DASH && m < 3))
        return false;
    bool thousands = L[0] <= 3;
    for (size_t i = 1; i < m; i++)
        thousands = thousands && L[i] == 3;
    if (sep != SEP_DASH && thousands)
        return false; /* 1.234.567 / 12 345 678 */
    for (size_t i = 0; i < m; i++) {
        size_t max = sep == SEP_DASH && i == m - 1 ? 8 : 4;
        if (L[i] < 2 || L[i] > max)
            return false;
    }
    return true; /* trunk prefix 0: 020 7946 0958, 06 12 34 56 78, 06-12345678 */
}

/* Groups joined by one separator (' ', '-' or '.'): a North American shape, or a national
 * number with trunk prefix 0 in groups of 2..4 digits. A dashed or dotted run must match
 * whole; a spaced run may match a prefix ("555 123 4567 12"). */
static size_t phone_national(const unsigned char *p, const grp *g, size_t ng, size_t k) {
    if (k + 1 >= ng)
        return 0;
    uint8_t sep = g[k + 1].sep;
    if (sep != SEP_SPACE && sep != SEP_DASH && sep != SEP_DOT)
        return 0;
    size_t L[15], m = 0;
    for (size_t j = k; j < ng && m < 15 && (j == k || (g[j].sep == sep && !g[j].paren)); j++)
        L[m++] = glen(&g[j]);
    bool lead0 = p[g[k].s] == '0';
    if (sep != SEP_SPACE)
        return open_after(g, ng, k + m - 1) && phone_shape(L, m, sep, lead0) ? m : 0;
    for (; m >= 2; m--)
        if (phone_shape(L, m, sep, lead0))
            return m;
    return 0;
}

static size_t match_phone(const unsigned char *p, const grp *g, size_t ng, size_t k, bool plus) {
    if (!open_before(g, k))
        return 0;
    if (k == 0 && plus)
        return phone_intl(g, ng);
    if (g[k].paren)
        return phone_paren(g, ng, k);
    return phone_national(p, g, ng, k);
}

/* Try the matchers at group k in precedence order; emit; return groups consumed (0: none). */
static size_t match_at(scan *S, const grp *g, size_t ng, size_t k, bool plus) {
    const unsigned char *p = S->p;
    size_t m;
    bool valid = false;
    if ((m = match_ipv4(p, g, ng, k))) {
        emit(S, RR_PII_IPV4, g[k].s, g[k + 3].e);
        return m;
    }
    if (!(plus && k == 0)) {
        if ((m = match_ssn(p, g, ng, k, &valid))) {
            if (valid)
                emit(S, RR_PII_SSN, g[k].s, g[k + 2].e);
            return m;
        }
        if ((m = match_card(p, g, ng, k))) {
            emit(S, RR_PII_CARD, g[k].s, g[k + m - 1].e);
            return m;
        }
    }
    if ((m = match_phone(p, g, ng, k, plus))) {
        size_t start = plus && k == 0 ? g[0].s - 1 : gstart(&g[k]);
        emit(S, RR_PII_PHONE, start, gend(&g[k + m - 1]));
        return m;
    }
    return 0;
}

/* A run of digit groups starting at the digit word [s, e). Windows of MAXG groups overlap
 * by TAIL so a long run of numbers stays linear and loses no match at a window edge. */
RARE static void scan_cluster(scan *S, size_t s, size_t e) {
    const unsigned char *p = S->p;
    bool plus = s >= 1 && p[s - 1] == '+' && (s < 2 || !is_alnum(p[s - 2]));
    /* "(555)": only an area code of 2..4 digits is a parenthesised group */
    bool paren = !plus && s >= 1 && p[s - 1] == '(' && e < S->n && p[e] == ')' && e - s <= 4;
    uint8_t sep = SEP_START;
    grp g[MAXG];
    for (;;) {
        size_t ng = parse_groups(p, S->n, s, sep, paren, g, MAXG);
        size_t kmax = ng == MAXG ? MAXG - TAIL : ng, k = 0;
        while (k < kmax) {
            size_t m = match_at(S, g, ng, k, plus);
            k += m ? m : 1;
        }
        if (ng < MAXG) {
            S->cluster_end = gend(&g[ng - 1]);
            return;
        }
        s = g[k].s, sep = g[k].sep, paren = g[k].paren, plus = false;
    }
}

/* A digit run glued to a preceding token ("ORD-123", "v1.2", "1,234", "10:30") is never
 * the start of a detection. */
static bool attached(const unsigned char *p, size_t s) {
    if (s < 2)
        return false;
    unsigned c = p[s - 1];
    if (c == '-' || c == '.' || c == '/' || c == ',' || c == '_')
        return is_alnum(p[s - 2]);
    return c == ':' && is_digit(p[s - 2]);
}

/* ---- IPv6 ------------------------------------------------------------------------------- */

/* Dotted-quad tail of an IPv6 address ("::ffff:10.0.0.1"); returns its end or 0. */
static size_t ipv4_tail(const unsigned char *p, size_t n, size_t i) {
    for (int o = 0; o < 4; o++) {
        size_t s = i;
        while (i < n && is_digit(p[i]) && i - s < 4)
            i++;
        grp g = {(uint32_t)s, (uint32_t)i, 0, 0};
        if (!octet_ok(p, &g) || (o < 3 && (i + 1 >= n || p[i] != '.' || !is_digit(p[i + 1]))))
            return 0;
        if (o < 3)
            i++;
    }
    return i < n && (p[i] == '.' || is_alnum(p[i])) ? 0 : i;
}

/* An IPv6 address starting at s (a hex word, or "::"): 8 groups, or fewer with exactly one
 * "::". At least one group must contain a digit, so words like "add::" or "dead::beef" in
 * code are not addresses; "10:30:00" (no "::", 3 groups) is a time. Returns end or 0. */
static size_t ipv6_end(const unsigned char *p, size_t n, size_t s) {
    size_t i = s, groups = 0;
    bool dbl = false, digit = false;
    if (p[i] == ':') {
        if (i + 1 >= n || p[i + 1] != ':')
            return 0;
        dbl = true, i += 2;
    }
    for (;;) {
        size_t h = i;
        bool dig = false;
        while (h < n && h - i < 5 && hexval(p[h]) >= 0)
            dig |= is_digit(p[h++]);
        if (h == i)
            break;
        if (h + 1 < n && p[h] == '.' && is_digit(p[h + 1])) { /* "::ffff:10.0.0.1" */
            size_t e = groups <= 6 && (dbl || groups == 6) ? ipv4_tail(p, n, i) : 0;
            if (!e)
                return 0;
            groups += 2, i = e, digit = true;
            break;
        }
        if (h - i > 4 || (h < n && is_alnum(p[h])) || ++groups > 8)
            return 0;
        digit |= dig;
        i = h;
        if (i + 1 < n && p[i] == ':' && p[i + 1] == ':') {
            if (dbl)
                return 0;
            dbl = true, i += 2;
        } else if (i + 1 < n && p[i] == ':' && hexval(p[i + 1]) >= 0) {
            i++;
        } else {
            break;
        }
    }
    if (!digit || (dbl ? groups > 7 : groups != 8) || (i < n && is_alnum(p[i])))
        return 0;
    return i;
}

RARE static void try_ipv6(scan *S, size_t s) {
    size_t e = ipv6_end(S->p, S->n, s);
    if (e)
        emit(S, RR_PII_IPV6, s, e);
}

/* ---- IBAN -------------------------------------------------------------------------------- */

static bool iban_mod97(const char *b, size_t n) {
    unsigned r = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[(i + 4) % n]; /* country + check digits last */
        r = is_digit(c) ? (r * 10 + (c - '0')) % 97 : (r * 100 + (c - 'A' + 10)) % 97;
    }
    return r == 1;
}

/* Length of the uppercase/digit word at i (0 if it has other ASCII letters or is glued). */
static size_t upper_word(const unsigned char *p, size_t n, size_t i) {
    size_t s = i;
    while (i < n && (T[p[i]] & (C_UPPER | C_DIGIT)))
        i++;
    return i < n && is_alnum(p[i]) ? 0 : i - s;
}

/* Country code, 2 check digits, 11..30 uppercase/digit characters: written as one word or
 * in space-separated groups of 4 (the last 1..4). The shape claims its digits even when
 * the checksum fails, so a mistyped IBAN is not reported as a card or phone. */
RARE static void try_iban(scan *S, size_t s, size_t e) {
    const unsigned char *p = S->p;
    if (e - s < 4 || !(T[p[s]] & C_UPPER) || !(T[p[s + 1]] & C_UPPER) || !is_digit(p[s + 2]) ||
        !is_digit(p[s + 3]) || upper_word(p, S->n, s) != e - s)
        return;
    char b[34];
    size_t bl = 0, ends[9], cuts[9], ng = 0, pos = e;
    if (e - s >= 15 && e - s <= 34) {
        memcpy(b, p + s, e - s);
        bl = e - s, ends[0] = e, cuts[0] = bl, ng = 1;
    } else if (e - s == 4) {
        memcpy(b, p + s, 4);
        bl = 4, ends[0] = e, cuts[0] = 4, ng = 1;
        while (ng < 9 && pos + 1 < S->n && p[pos] == ' ') {
            size_t l = upper_word(p, S->n, pos + 1);
            if (l == 0 || l > 4 || bl + l > 34)
                break;
            memcpy(b + bl, p + pos + 1, l);
            bl += l, pos += 1 + l;
            ends[ng] = pos, cuts[ng++] = bl;
            if (l < 4)
                break;
        }
    }
    while (ng > 0 && cuts[ng - 1] >= 15) {
        if (iban_mod97(b, cuts[ng - 1])) {
            emit(S, RR_PII_IBAN, s, ends[ng - 1]);
            return;
        }
        if (S->cluster_end < ends[ng - 1])
            S->cluster_end = ends[ng - 1];
        ng--;
    }
}

/* ---- e-mail -------------------------------------------------------------------------------- */

/* Start of the local part ending before '@' at `at`: 1..64 bytes of [A-Za-z0-9._%+-], no
 * leading, trailing or doubled dot. Returns `at` when there is none. */
static size_t email_local(const unsigned char *p, size_t at) {
    size_t j = at;
    while (j > 0 && (T[p[j - 1]] & C_LOCAL) && at - j <= 64)
        j--;
    if (at - j > 64 || j == at || p[j] == '.' || p[at - 1] == '.')
        return at;
    for (size_t i = j + 1; i < at; i++)
        if (p[i] == '.' && p[i - 1] == '.')
            return at;
    return j;
}

/* End of the domain after '@': at least two labels of [A-Za-z0-9-] (1..63, no leading or
 * trailing '-'), at most 253 bytes, the last label letters only and >= 2 long. 0: none. */
static size_t email_domain(const unsigned char *p, size_t n, size_t at) {
    size_t i = at + 1, end = 0, labels = 0, tld = 0;
    for (;;) {
        size_t ls = i;
        bool alpha = true;
        while (i < n && (is_alnum(p[i]) || p[i] == '-')) {
            alpha = alpha && (T[p[i]] & C_ALPHA); /* no i++ here: && may skip it */
            i++;
        }
        if (i == ls || i - ls > 63 || p[ls] == '-' || p[i - 1] == '-' || i - at - 1 > 253)
            break;
        labels++, end = i, tld = alpha ? i - ls : 0;
        if (i + 1 < n && p[i] == '.' && is_alnum(p[i + 1]))
            i++;
        else
            break;
    }
    if (labels < 2 || tld < 2 ||
        (end < n && (is_alnum(p[end]) || p[end] == '-' || p[end] == '_' || p[end] == '@')))
        return 0;
    return end;
}

RARE static void on_at(scan *S, size_t at) {
    const unsigned char *p = S->p;
    size_t ls = email_local(p, at), end = ls < at ? email_domain(p, S->n, at) : 0;
    if (end) {
        withdraw_after(S, ls);
        emit(S, RR_PII_EMAIL, ls, end);
        if (S->cluster_end < end)
            S->cluster_end = end;
        return;
    }
    /* "@handle" (not glued to a preceding word) is an entity */
    if ((at == 0 || !is_word(p[at - 1])) && at + 1 < S->n &&
        (is_alnum(p[at + 1]) || p[at + 1] == '_') && at >= S->url_end && at >= S->claimed)
        S->f->entities++;
}

/* ---- words, names, identifiers, URLs --------------------------------------------------- */

/* A word starts a sentence when no word precedes it since the last . ! ? or newline. */
static bool sentence_start(const unsigned char *p, size_t s) {
    for (; s > 0; s--) {
        unsigned t = T[p[s - 1]];
        if (t & (C_WORD | C_ENDER))
            return !(t & C_WORD);
    }
    return true;
}

/* Name candidate: the word starting at s begins with an ASCII capital, has >= 2 bytes, is
 * standalone (after whitespace, one of " ' ( [, or nothing) and does not start a
 * sentence. The block driver computes the same predicate with masks. */
static bool name_candidate(const unsigned char *p, size_t n, size_t s) {
    return (T[p[s]] & C_UPPER) && s + 1 < n && is_word(p[s + 1]) &&
           (s == 0 || (T[p[s - 1]] & (C_SPACE | C_OPEN))) && !sentence_start(p, s);
}

/* A name counts unless it directly follows another candidate and one whitespace byte:
 * "John Smith" is one entity. */
static bool name_counted(const unsigned char *p, size_t n, size_t s) {
    if (!name_candidate(p, n, s))
        return false;
    if (s < 2 || !(T[p[s - 1]] & C_SPACE) || !is_word(p[s - 2]))
        return true;
    size_t ps = s - 2;
    while (ps > 0 && is_word(p[ps - 1]))
        ps--;
    return !name_candidate(p, n, ps);
}

/* "scheme://..." (2..16 ASCII letters) or "www." starts a URL: one entity, up to the next
 * whitespace; nothing inside it is another entity. */
static void try_url(scan *S, size_t s, size_t e) {
    const unsigned char *p = S->p;
    size_t n = S->n;
    bool scheme =
        e - s >= 2 && e - s <= 16 && e + 2 < n && p[e] == ':' && p[e + 1] == '/' && p[e + 2] == '/';
    for (size_t i = s; scheme && i < e; i++)
        scheme = (T[p[i]] & C_ALPHA) != 0;
    bool www =
        e - s == 3 && e + 1 < n && p[e] == '.' && p[s] == 'w' && p[s + 1] == 'w' && p[s + 2] == 'w';
    if ((!scheme && !www) || s < S->url_end || s < S->claimed)
        return;
    size_t i = e;
    while (i < n && !(T[p[i]] & C_SPACE))
        i++;
    S->f->entities++;
    add_url(S, s, i);
}

/* Is a digit group joined to the digits ending at e ("555 123", "555-1", "(555) 1")? */
static bool group_follows(const unsigned char *p, size_t n, size_t e) {
    if (e + 1 >= n)
        return false;
    unsigned c = p[e];
    if (c == ')' || c == '(' || c == ' ')
        return is_digit(p[e + 1]) ||
               (e + 2 < n && (p[e + 1] == ' ' || p[e + 1] == '(') && is_digit(p[e + 2]));
    return (c == '-' || c == '.') && is_digit(p[e + 1]);
}

/* PII candidates that start at an ASCII alphanumeric run [s, e) with flags f. */
static void pii_run(scan *S, size_t s, size_t e, unsigned f) {
    const unsigned char *p = S->p;
    if (e < S->n && p[e] == ':' && e - s <= 4 && s >= S->claimed && (s == 0 || p[s - 1] != ':')) {
        size_t i = s;
        while (i < e && hexval(p[i]) >= 0)
            i++;
        if (i == e)
            try_ipv6(S, s);
    }
    if ((f & C_ALNUM) == C_DIGIT) {
        /* one group of < 13 digits is neither a card nor, without '+', a phone */
        bool plus = s > 0 && p[s - 1] == '+';
        if (s >= S->claimed && s >= S->cluster_end && !attached(p, s) &&
            (group_follows(p, S->n, e) || e - s >= 13 || (plus && e - s >= 7)))
            scan_cluster(S, s, e);
    } else if ((f & C_UPPER) && (f & C_DIGIT) && !(f & C_LOWER) && s >= S->claimed &&
               s >= S->cluster_end) {
        try_iban(S, s, e);
    }
}

/* PII candidates of one word [s, e) with flags f: words holding non-ASCII bytes are
 * searched in their ASCII alphanumeric runs. */
static void word_candidates(scan *S, size_t s, size_t e, unsigned f) {
    const unsigned char *p = S->p;
    if (!(f & C_HIGH)) {
        if ((f & C_DIGIT) || (e < S->n && p[e] == ':'))
            pii_run(S, s, e, f);
        return;
    }
    for (size_t i = s; i < e;) {
        while (i < e && (T[p[i]] & C_HIGH))
            i++;
        size_t r = i;
        unsigned g = 0;
        while (i < e && !(T[p[i]] & C_HIGH))
            g |= T[p[i++]];
        if (i > r && ((g & C_DIGIT) || (i < S->n && p[i] == ':')))
            pii_run(S, r, i, g);
    }
}

static inline bool joiner_at(const scan *S, size_t i) {
    return i + 1 < S->n && (T[S->p[i]] & C_JOIN) && i > 0 && is_word(S->p[i - 1]) &&
           is_word(S->p[i + 1]);
}

/* Start of the compound token (words joined by single '-' or '_') holding byte i. */
static size_t compound_start(const scan *S, size_t i) {
    const unsigned char *p = S->p;
    for (;;) {
        while (i > 0 && is_word(p[i - 1]))
            i--;
        if (i < 2 || !joiner_at(S, i - 1))
            return i;
        i -= 1;
    }
}

/* Visit the compound starting at cs (one that holds a digit): PII candidates of each word;
 * an identifier entity when it mixes ASCII letters and digits ("ORD-12345", "A4"), unless
 * its first word already counts as a name or it overlaps a PII detection (the groups of
 * "2001:db8::1" are no identifiers). Returns the compound's end. */
static size_t visit_compound(scan *S, size_t cs) {
    const unsigned char *p = S->p;
    size_t s = cs, e;
    unsigned all = 0;
    for (;;) {
        unsigned f = 0;
        for (e = s; e < S->n && is_word(p[e]); e++)
            f |= T[p[e]];
        /* digits glued to the word before ("ORD-2024", "01" of 2024-01-15) start nothing */
        if ((f & C_WORD) != C_DIGIT || (e < S->n && p[e] == ':') || !attached(p, s))
            word_candidates(S, s, e, f);
        all |= f;
        if (!joiner_at(S, e))
            break;
        s = e + 1;
    }
    if ((all & C_ALPHA) && (all & C_DIGIT) && cs >= S->url_end && cs >= S->claimed &&
        !name_counted(p, S->n, cs))
        push_entity(S, cs);
    return e;
}

/* '@', ':' and '.', in text order with the words around them (other bytes are ignored). A
 * word before ':' or '.' that has not been visited (it has no digit) matters as a URL
 * scheme, "www" or an IPv6 group written in letters. */
static void on_punct(scan *S, size_t i) {
    const unsigned char *p = S->p;
    if (p[i] == '@') {
        on_at(S, i);
        return;
    }
    if (p[i] != ':' && p[i] != '.')
        return;
    if (i > 0 && is_word(p[i - 1]) && S->done < i) {
        size_t s = i - 1;
        unsigned f = T[p[s]];
        while (s > 0 && is_word(p[s - 1]))
            f |= T[p[--s]];
        if (p[i] == ':')
            word_candidates(S, s, i, f);
        try_url(S, s, i);
    }
    if (p[i] == ':' && i + 1 < S->n && p[i + 1] == ':' && i >= S->claimed &&
        (i == 0 || !(is_word(p[i - 1]) || p[i - 1] == ':')))
        try_ipv6(S, i);
}

/* ---- reference driver ------------------------------------------------------------------- */

/* The definitions, word by word: slower than the block driver and kept as the measure the
 * block driver is tested against. */
static void extract_reference(scan *S) {
    const unsigned char *p = S->p;
    rr_text_features *f = S->f;
    size_t n = S->n, i = 0, num_end = SIZE_MAX;
    while (i < n) {
        unsigned c = p[i];
        if (!is_word(c)) {
            f->questions += c == '?';
            f->lines += c == '\n';
            if (c == '@' || c == ':' || (c == '.' && i > 0 && p[i - 1] == 'w'))
                on_punct(S, i);
            i++;
            continue;
        }
        size_t s = i;
        unsigned fl = 0;
        for (; i < n && is_word(p[i]); i++) {
            fl |= T[p[i]];
            f->chars -= (p[i] & 0xC0) == 0x80;
        }
        f->words++;
        if ((fl & C_WORD) == C_DIGIT) { /* "1,234.5" is one number */
            f->numbers += !(s >= 2 && s - 1 == num_end && (p[s - 1] == ',' || p[s - 1] == '.'));
            num_end = i;
        }
        if ((fl & C_DIGIT) && i > S->done)
            S->done = visit_compound(S, compound_start(S, s));
        if (s >= S->url_end && name_counted(p, n, s))
            push_entity(S, s);
    }
}

/* ---- masks ------------------------------------------------------------------------------ */

/* One 64-bit mask per byte class, bit i for byte i of a block. */
enum {
    MW,  /* word bytes: ASCII letters and digits, bytes >= 0x80 */
    MD,  /* ASCII digits */
    MU,  /* ASCII capitals */
    MSP, /* whitespace: bytes <= 0x20 */
    MOP, /* openers: " ' ( [ */
    MEN, /* sentence enders: . ! ? \n */
    MJ,  /* joiners: - _ */
    MCD, /* , . */
    MAC, /* @ : + */
    MCT, /* UTF-8 continuation bytes 0x80..0xBF */
    MQ,  /* ? */
    NMASK
};

#define MB_(c)                                                                                     \
    ((CLS(c) & C_WORD ? 1u << MW : 0) | (CLS(c) & C_DIGIT ? 1u << MD : 0) |                        \
     (CLS(c) & C_UPPER ? 1u << MU : 0) | (CLS(c) & C_SPACE ? 1u << MSP : 0) |                      \
     (CLS(c) & C_OPEN ? 1u << MOP : 0) | (CLS(c) & C_ENDER ? 1u << MEN : 0) |                      \
     (CLS(c) & C_JOIN ? 1u << MJ : 0) | ((c) == ',' || (c) == '.' ? 1u << MCD : 0) |               \
     ((c) == '@' || (c) == ':' || (c) == '+' ? 1u << MAC : 0) |                                    \
     ((c) >= 0x80 && (c) < 0xC0 ? 1u << MCT : 0) | ((c) == '?' ? 1u << MQ : 0))
#define MB4(c) MB_(c), MB_((c) + 1), MB_((c) + 2), MB_((c) + 3)
#define MB16(c) MB4(c), MB4((c) + 4), MB4((c) + 8), MB4((c) + 12)
#define MB64(c) MB16(c), MB16((c) + 16), MB16((c) + 32), MB16((c) + 48)

/* The byte classes of the masks; every builder must agree with this table. */
static const uint16_t MB[256] = {MB64(0), MB64(64), MB64(128), MB64(192)};

/* Bit 0 of each byte of x, gathered into the low 8 bits. */
static inline uint64_t gather8(uint64_t x) {
    return ((x & 0x0101010101010101ull) * 0x0102040810204080ull) >> 56;
}

/* Portable builder: the class table, transposed eight bytes at a time. */
static void masks_portable(const unsigned char *p, size_t len, uint64_t *m) {
    unsigned char tail[64];
    if (len < 64) { /* NUL padding: it only sets MSP, which the caller masks off */
        memset(tail, 0, sizeof tail);
        memcpy(tail, p, len);
        p = tail;
    }
    memset(m, 0, NMASK * sizeof *m);
    for (unsigned c = 0; c < 64; c += 8) {
        uint64_t lo = 0, hi = 0;
        for (unsigned j = 0; j < 8; j++) {
            unsigned x = MB[p[c + j]];
            lo |= (uint64_t)(x & 0xFF) << (8 * j);
            hi |= (uint64_t)(x >> 8) << (8 * j);
        }
        for (unsigned k = 0; k < 8; k++)
            m[k] |= gather8(lo >> k) << c;
        for (unsigned k = 8; k < NMASK; k++)
            m[k] |= gather8(hi >> (k - 8)) << c;
    }
    if (len < 64)
        m[MSP] &= (1ull << len) - 1;
}

/* RR_FEATURES_PORTABLE_ONLY builds without the x86 paths (to test the portable build). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(RR_FEATURES_PORTABLE_ONLY)
#include <immintrin.h>
#define HAVE_X86 1

/* Vector constants live in memory so that compares take them as operands (set1 would be
 * rebuilt from a general register at every use inside the big block loop). */
enum {
    K_DQUOTE,
    K_QUOTE,
    K_LPAREN,
    K_LBRACKET,
    K_DOT,
    K_QMARK,
    K_NL,
    K_BANG,
    K_DASH,
    K_UNDER,
    K_COMMA,
    K_AT,
    K_COLON,
    K_PLUS,
    K_CASE,
    K_DIGIT_LO,
    K_DIGIT_N,
    K_UPPER_LO,
    K_UPPER_N,
    K_ALPHA_LO,
    K_ALPHA_N,
    K_WS_LO,
    K_WS_N,
    K_CONT_LO,
    K_CONT_N,
    NK
};
#define K64(c)                                                                                     \
    {                                                                                              \
        c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c,  \
            c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, \
            c, c, c, c, c                                                                          \
    }
/* Ranges [lo, lo + n) are tested as (v - lo) < n unsigned; AVX2 has only a signed compare,
 * so it biases both sides by 0x80: the _LO rows hold 0x80 - lo, the _N rows 0x80 + n. */
static const unsigned char K[NK][64] __attribute__((aligned(64))) = {
    K64('"'),        K64('\''),      K64('('),         K64('['),         K64('.'),
    K64('?'),        K64('\n'),      K64('!'),         K64('-'),         K64('_'),
    K64(','),        K64('@'),       K64(':'),         K64('+'),         K64(0x20),
    K64(0x80 - '0'), K64(0x80 + 10), K64(0x80 - 'A'),  K64(0x80 + 26),   K64(0x80 - 'a'),
    K64(0x80 + 26),  K64(0x80 - 0),  K64(0x80 + 0x21), K64(0x80 - 0x80), K64(0x80 + 0x40)};

#define AVX2 __attribute__((target("avx2")))
typedef const unsigned char (*ktab)[64];
#define k32(i) _mm256_load_si256((const __m256i *)(const void *)kt[i])
#define eq32(v, i) _mm256_cmpeq_epi8(v, k32(i))
#define in_range32(v, lo, n) _mm256_cmpgt_epi8(k32(n), _mm256_add_epi8(v, k32(lo)))
AVX2 static inline uint64_t mm32(__m256i v) {
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(v);
}
#define OR _mm256_or_si256

/* The classes of 32 bytes, one function each (shared compares are merged once inlined). */
AVX2 static inline __m256i c32_digit(__m256i v, ktab kt) {
    return in_range32(v, K_DIGIT_LO, K_DIGIT_N);
}
AVX2 static inline __m256i c32_word(__m256i v, ktab kt) {
    __m256i alpha = in_range32(OR(v, k32(K_CASE)), K_ALPHA_LO, K_ALPHA_N);
    return OR(OR(alpha, c32_digit(v, kt)), _mm256_cmpgt_epi8(_mm256_setzero_si256(), v));
}
AVX2 static inline __m256i c32_upper(__m256i v, ktab kt) {
    return in_range32(v, K_UPPER_LO, K_UPPER_N);
}
AVX2 static inline __m256i c32_space(__m256i v, ktab kt) {
    return in_range32(v, K_WS_LO, K_WS_N);
}
AVX2 static inline __m256i c32_open(__m256i v, ktab kt) {
    return OR(OR(eq32(v, K_DQUOTE), eq32(v, K_QUOTE)), OR(eq32(v, K_LPAREN), eq32(v, K_LBRACKET)));
}
AVX2 static inline __m256i c32_ender(__m256i v, ktab kt) {
    return OR(OR(eq32(v, K_DOT), eq32(v, K_BANG)), OR(eq32(v, K_QMARK), eq32(v, K_NL)));
}
AVX2 static inline __m256i c32_join(__m256i v, ktab kt) {
    return OR(eq32(v, K_DASH), eq32(v, K_UNDER));
}
AVX2 static inline __m256i c32_cd(__m256i v, ktab kt) {
    return OR(eq32(v, K_COMMA), eq32(v, K_DOT));
}
AVX2 static inline __m256i c32_ac(__m256i v, ktab kt) {
    return OR(OR(eq32(v, K_AT), eq32(v, K_COLON)), eq32(v, K_PLUS));
}
AVX2 static inline __m256i c32_cont(__m256i v, ktab kt) {
    return in_range32(v, K_CONT_LO, K_CONT_N);
}
AVX2 static inline __m256i c32_quest(__m256i v, ktab kt) {
    return eq32(v, K_QMARK);
}
#undef OR

#define BOTH(cls) (mm32(cls(v0, kt)) | mm32(cls(v1, kt)) << 32)
AVX2 static inline __attribute__((always_inline)) void masks_avx2(const unsigned char *p,
                                                                  uint64_t *m, ktab kt) {
    __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
    m[MW] = BOTH(c32_word);
    m[MD] = BOTH(c32_digit);
    m[MU] = BOTH(c32_upper);
    m[MSP] = BOTH(c32_space);
    m[MOP] = BOTH(c32_open);
    m[MEN] = BOTH(c32_ender);
    m[MJ] = BOTH(c32_join);
    m[MCD] = BOTH(c32_cd);
    m[MAC] = BOTH(c32_ac);
    m[MCT] = BOTH(c32_cont);
    m[MQ] = BOTH(c32_quest);
}
#undef BOTH

#define AVX512 __attribute__((target("avx512f,avx512bw")))
#define k64(i) _mm512_load_si512((const void *)kt[i])
#define eq64(v, i) _mm512_cmpeq_epi8_mask(v, k64(i))
/* The same biased compare as AVX2's, with the signed compare AVX-512BW also has. */
#define in_range64(v, lo, n) _mm512_cmplt_epi8_mask(_mm512_add_epi8(v, k64(lo)), k64(n))

AVX512 static inline __attribute__((always_inline)) void masks_avx512(const unsigned char *p,
                                                                      uint64_t *m, ktab kt) {
    __m512i v = _mm512_loadu_si512((const void *)p);
    uint64_t digit = in_range64(v, K_DIGIT_LO, K_DIGIT_N), dot = eq64(v, K_DOT);
    uint64_t q = eq64(v, K_QMARK);
    m[MW] = in_range64(_mm512_or_si512(v, k64(K_CASE)), K_ALPHA_LO, K_ALPHA_N) | digit |
            _mm512_movepi8_mask(v);
    m[MD] = digit;
    m[MU] = in_range64(v, K_UPPER_LO, K_UPPER_N);
    m[MSP] = in_range64(v, K_WS_LO, K_WS_N);
    m[MOP] = eq64(v, K_DQUOTE) | eq64(v, K_QUOTE) | eq64(v, K_LPAREN) | eq64(v, K_LBRACKET);
    m[MEN] = dot | eq64(v, K_BANG) | q | eq64(v, K_NL);
    m[MJ] = eq64(v, K_DASH) | eq64(v, K_UNDER);
    m[MCD] = eq64(v, K_COMMA) | dot;
    m[MAC] = eq64(v, K_AT) | eq64(v, K_COLON) | eq64(v, K_PLUS);
    m[MCT] = in_range64(v, K_CONT_LO, K_CONT_N);
    m[MQ] = q;
}

static bool cpu_avx2(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
           __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
}
static bool cpu_avx512(void) {
    return cpu_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}
#else
#define HAVE_X86 0
static bool cpu_avx2(void) {
    return false;
}
static bool cpu_avx512(void) {
    return false;
}
#endif

/* ---- block driver ----------------------------------------------------------------------- */

/* What one block passes to the next: its masks that are shifted in, and carries out of the
 * additions (each a 65th bit). */
typedef struct carry {
    uint64_t w, st, j, spop, ac, num, nam;
    uint64_t cd, cx, cs, cm, cn, ce;
    uint64_t words, questions, lines, conts, numbers, names; /* sums, stored at the end */
} carry;

static inline uint64_t addc(uint64_t a, uint64_t b, uint64_t *carry) {
#if HAVE_X86
    unsigned long long t;
    *carry = _addcarry_u64((unsigned char)*carry, a, b, &t);
    return t;
#else
    uint64_t s = a + b, t = s + *carry;
    *carry = (s < a) | (t < s);
    return t;
#endif
}

static inline unsigned popc(uint64_t x) {
#if defined(__GNUC__)
    return (unsigned)__builtin_popcountll(x);
#else
    return popcount64(x);
#endif
}

/* Positions that start 8 digits in a row; dn: the next block's digits. */
static inline uint64_t run8(uint64_t d, uint64_t dn) {
    uint64_t x1 = d & (d >> 1 | dn << 63), x1n = dn & dn >> 1;
    uint64_t x2 = x1 & (x1 >> 2 | x1n << 62), x2n = x1n & x1n >> 2;
    return x2 & (x2 >> 4 | x2n << 60);
}

/* A visit that would change nothing: a single word of digits, not before ':', ending inside
 * digit groups already examined or detected ("4111 1111 1111 1111": the groups after the
 * first). */
static bool visit_is_noop(const scan *S, size_t a) {
    const unsigned char *p = S->p;
    if ((a > S->cluster_end && a > S->claimed) || (a < S->n && (p[a] == ':' || (T[p[a]] & C_JOIN))))
        return false;
    size_t s = a - 1;
    while (s > 0 && is_digit(p[s - 1]))
        s--;
    return s < 2 || !(T[p[s - 1]] & C_JOIN) || !is_word(p[s - 2]);
}

/* Visit, in text order, the words ending at the bits of evw (at their after-byte; `digits`
 * marks words of digits only) and the punctuation at the bits of evp. */
static void block_events(scan *S, size_t b, uint64_t evw, uint64_t digits, uint64_t evp) {
    uint64_t ev = evw | evp;
    while (ev) {
        unsigned k = ctz64(ev);
        size_t a = b + k;
        if ((evw >> k & 1) && a > S->done && !((digits >> k & 1) && visit_is_noop(S, a)))
            S->done = visit_compound(S, compound_start(S, a - 1));
        if (evp >> k & 1)
            on_punct(S, a);
        ev &= ev - 1;
    }
}

/* x shifted up by k bits, the previous block's top bits coming in. */
#define UP(x, prev, k) ((x) << (k) | (prev) >> (64 - (k)))

/* One block: counts from its masks m (nx: the next block's, for lookahead); events; then
 * names, which a URL found by an event may exclude. Word properties move to
 * the byte after the word ("after-bit") by adding marker bits to W: the carry runs
 * through the rest of the word. */
static inline __attribute__((always_inline)) void block_body(scan *S, size_t b, const uint64_t *m,
                                                             const uint64_t *nx, carry *c) {
    uint64_t W = m[MW], D = m[MD], G = ~W, SP = m[MSP], EN = m[MEN], J = m[MJ];
    uint64_t ST = W & ~UP(W, c->w, 1), Wn = W >> 1 | nx[MW] << 63;
    uint64_t spop = SP | m[MOP];
    c->words += popc(ST);
    c->questions += popc(m[MQ]);
    c->lines += popc(EN & SP);
    c->conts += popc(m[MCT]);
    uint64_t dot = EN & m[MCD], evw = 0, digits = 0;
    if (D | c->cd | c->cs) {
        /* numbers: words of digits only (at their after-bit); "1,234.5" once */
        uint64_t withd = addc(W, D, &c->cd) & G, withx = addc(W, W & ~D, &c->cx) & G;
        uint64_t numsep;
        digits = withd & ~withx, numsep = digits & m[MCD];
        uint64_t merged = digits & addc(W, UP(numsep, c->num, 1) & W, &c->cm) & G;
        c->numbers += popc(digits) - popc(merged);
        /* events: words with digits that may be PII or part of an identifier */
        uint64_t pre = ST & (UP(m[MAC] | m[MOP], c->ac, 1) | (UP(J, c->j, 1) & UP(W, c->w, 2)));
        uint64_t long_or_pre = addc(W, pre | run8(D, nx[MD]), &c->cs) & G;
        /* a digit group may follow: " 1", " (1", "  1", "-1", ".1" (group_follows, widened) */
        uint64_t Dn = D >> 1 | nx[MD] << 63;
        uint64_t next = Dn | (spop >> 1 | (nx[MSP] | nx[MOP]) << 63);
        uint64_t group = (spop & next) | ((J | dot) & Dn);
        evw = (withd & withx) | (digits & (group | m[MAC] | (J & Wn) | long_or_pre));
        c->num = numsep;
    } else {
        /* no digit here and none carried in: the additions above would give no bit, and
         * their carries out are known (a word of letters at bit 63 has a non-digit) */
        c->cx = W >> 63, c->cm = 0, c->num = 0;
    }
    /* '@' ':' '+'; a '.' after a three-letter word ("www.") */
    uint64_t www = dot & UP(W, c->w, 1) & UP(W, c->w, 2) & UP(ST, c->st, 3);
    /* names: capitalised, >= 2 bytes, standalone, not starting a sentence; runs once */
    uint64_t sent = addc(G, EN, &c->ce) & ST, names = 0, after = 0;
    if (m[MU] | c->cn) {
        uint64_t cand = ST & m[MU] & Wn & UP(spop, c->spop, 1) & ~sent;
        after = addc(W, cand, &c->cn) & G & SP;
        names = cand & ~UP(after, c->nam, 1);
    }
    c->w = W, c->st = ST, c->j = J, c->spop = spop, c->ac = m[MAC] | m[MOP], c->nam = after;
    uint64_t evp = m[MAC] | www;
    S->blk = b;
    S->excl = S->url_end > b ? range_bits(S->url_start, S->url_end, b) : 0;
    if (evw | evp)
        block_events(S, b, evw, digits, evp);
    names &= ~S->excl;
    c->names += popc(names);
    S->prev_names = names;
}

/* Masks of the block at offset b of a text of n bytes with builder FULL (64 bytes at p). A
 * last partial block is read as the final 64 bytes of the text and shifted, so no byte past
 * the end is read; texts under 64 bytes use the portable builder. */
#define MASKS_AT(FULL, text, n, b, m)                                                              \
    do {                                                                                           \
        if ((n) < 64) {                                                                            \
            masks_portable((text) + (b), (n) - (b), (m));                                          \
        } else {                                                                                   \
            size_t t_ = (b) + 64 <= (n) ? (b) : (n)-64, sh_ = (b)-t_;                              \
            FULL((text) + t_, (m), kt);                                                            \
            if (sh_)                                                                               \
                for (int k_ = 0; k_ < NMASK; k_++)                                                 \
                    (m)[k_] >>= sh_;                                                               \
        }                                                                                          \
    } while (0)

/* The vector constants' table, through a pointer the compiler cannot see through, so that
 * it loads them (folded into the compares) instead of rebuilding each from an immediate. */
#if HAVE_X86
#define KTAB(kt)                                                                                   \
    ktab kt = K;                                                                                   \
    __asm__("" : "+r"(kt))
#else
#define KTAB(kt) const void *kt = NULL
#endif

/* The block loop, instantiated once per mask builder so that the builder and the block
 * arithmetic inline into one loop (vector constants are then loaded once per text). */
#define DEFINE_BLOCKS(NAME, ATTR, FULL)                                                            \
    ATTR static void NAME(scan *S) {                                                               \
        static const uint64_t zero[NMASK];                                                         \
        uint64_t buf[2][NMASK];                                                                    \
        carry c;                                                                                   \
        memset(&c, 0, sizeof c);                                                                   \
        c.ce = 1;            /* the text start starts a sentence */                                \
        c.spop = 1ull << 63; /* and a word there is standalone */                                  \
        size_t n = S->n;                                                                           \
        uint64_t *cur = buf[0], *nxt = buf[1];                                                     \
        KTAB(kt);                                                                                  \
        if (n)                                                                                     \
            MASKS_AT(FULL, S->p, n, 0, cur);                                                       \
        for (size_t b = 0; b < n; b += 64) {                                                       \
            if (b + 64 < n)                                                                        \
                MASKS_AT(FULL, S->p, n, b + 64, nxt);                                              \
            block_body(S, b, cur, b + 64 < n ? nxt : zero, &c);                                    \
            uint64_t *t = cur;                                                                     \
            cur = nxt, nxt = t;                                                                    \
        }                                                                                          \
        if (n && n % 64 == 0) /* words ending at the last byte: seen at their after-bit */         \
            block_body(S, n, zero, zero, &c);                                                      \
        rr_text_features *f = S->f;                                                                \
        f->words = (uint32_t)c.words, f->questions = (uint32_t)c.questions;                        \
        f->lines = (uint32_t)c.lines, f->numbers = (uint32_t)c.numbers;                            \
        f->chars -= (uint32_t)c.conts, f->entities += (uint32_t)c.names;                           \
    }

static inline __attribute__((always_inline)) void masks_full_portable(const unsigned char *p,
                                                                      uint64_t *m, const void *kt) {
    (void)kt;
    masks_portable(p, 64, m);
}

DEFINE_BLOCKS(blocks_portable, , masks_full_portable)
#if HAVE_X86
DEFINE_BLOCKS(blocks_avx2, __attribute__((target("avx2,bmi,bmi2,popcnt"))), masks_avx2)
DEFINE_BLOCKS(blocks_avx512, __attribute__((target("avx512f,avx512bw,avx2,bmi,bmi2,popcnt"))),
              masks_avx512)
#endif

static void extract_blocks(scan *S, int impl) {
#if HAVE_X86
    if (impl == RR_FEATURES_AVX512) {
        blocks_avx512(S);
        return;
    }
    if (impl == RR_FEATURES_AVX2) {
        blocks_avx2(S);
        return;
    }
#endif
    (void)impl;
    blocks_portable(S);
}

/* ---- entry points ------------------------------------------------------------------------ */

bool rr_text_features_impl_available(int impl) {
    switch (impl) {
    case RR_FEATURES_AUTO:
    case RR_FEATURES_REFERENCE:
    case RR_FEATURES_PORTABLE:
        return true;
    case RR_FEATURES_AVX2:
        return cpu_avx2();
    case RR_FEATURES_AVX512:
        return cpu_avx512();
    default:
        return false;
    }
}

void rr_text_features_extract_impl(int impl, const char *text, size_t len, rr_text_features *out,
                                   rr_pii_span *spans, size_t max_spans, size_t *nspans) {
    if (impl == RR_FEATURES_AUTO || !rr_text_features_impl_available(impl))
        impl = cpu_avx512() ? RR_FEATURES_AVX512
               : cpu_avx2() ? RR_FEATURES_AVX2
                            : RR_FEATURES_PORTABLE;
    memset(out, 0, sizeof *out);
    if (!text)
        len = 0;
    if (len > UINT32_MAX)
        len = UINT32_MAX; /* spans and counts are 32-bit; callers cap input far below */
    scan S;
    S.p = (const unsigned char *)text;
    S.n = len;
    S.f = out;
    S.spans = spans;
    S.max_spans = spans ? max_spans : 0;
    S.claimed = S.cluster_end = S.url_start = S.url_end = S.done = 0;
    S.blocks = impl != RR_FEATURES_REFERENCE;
    S.blk = 0;
    S.excl = S.prev_names = 0;
    S.nents = S.nrecent = 0;
    out->chars = (uint32_t)len; /* minus UTF-8 continuation bytes */
    if (S.blocks)
        extract_blocks(&S, impl);
    else
        extract_reference(&S);
    out->bytes = (uint32_t)len;
    out->tokens = rr_token_estimate(out->chars, out->words);
    out->lines += len > 0 && S.p[len - 1] != '\n';
    if (nspans)
        *nspans = out->pii_total < S.max_spans ? out->pii_total : S.max_spans;
}

void rr_text_features_extract(const char *text, size_t len, rr_text_features *out,
                              rr_pii_span *spans, size_t max_spans, size_t *nspans) {
    rr_text_features_extract_impl(RR_FEATURES_AUTO, text, len, out, spans, max_spans, nspans);
}
