/* Feature extraction: one hand-written pass over the text that counts words, numbers,
 * entities and lines, and finds PII candidates cheaply (an '@', a run of digits, a hex word
 * before ':', two capitals and two digits), validating only there. Every candidate scan is
 * bounded (RFC length limits, at most 15..34 digits or characters) or never revisits bytes
 * (claimed / cluster_end markers), so the whole pass is linear in the text length.
 *
 * Conventions used by every detector:
 *  - Boundaries are ASCII: a detection must not be glued to an ASCII letter or digit, but
 *    non-ASCII bytes next to it (curly quotes, CJK text) act as separators.
 *  - Spans are reported in text order and never overlap. Once a detection ends at byte x,
 *    no other detection starts before x.
 *  - Precedence inside a run of digit groups (tried in this order at each group):
 *    IPv4, SSN, payment card, phone. A dashed 3-2-4 group is SSN-shaped and never a phone,
 *    even when the SSN ranges are invalid; a card is never a phone (a card needs 13..19
 *    Luhn-valid digits, a phone at most 15 digits with a phone shape). An e-mail address
 *    wins over anything detected inside its local part (those detections are withdrawn). */
#include "features.h"

#include <string.h>
#include <xxhash.h>

/* ---- character classes ----------------------------------------------------------------- */

enum {
    C_LOWER = 1,
    C_UPPER = 2,
    C_DIGIT = 4,
    C_HIGH = 8,     /* non-ASCII byte: counts as a letter for words */
    C_NONHEX = 16,  /* letters other than a-f/A-F, and non-ASCII */
    C_SPACE = 32,   /* whitespace and NUL */
    C_LOCAL = 64,   /* may appear in an e-mail local part */
    C_JOIN = 128,   /* '-' '_': join words into a compound token */
    C_ENDER = 256,  /* . ! ? \n: end a sentence */
    C_OPEN = 512,   /* quotes, brackets, '*': a word after them is standalone */
    C_ALPHA = C_LOWER | C_UPPER,
    C_ALNUM = C_ALPHA | C_DIGIT,
    C_WORD = C_ALNUM | C_HIGH,
};

#define CLS(c)                                                                             \
    (((c) >= 'a' && (c) <= 'z' ? C_LOWER | C_LOCAL | ((c) > 'f' ? C_NONHEX : 0) : 0) |     \
     ((c) >= 'A' && (c) <= 'Z' ? C_UPPER | C_LOCAL | ((c) > 'F' ? C_NONHEX : 0) : 0) |     \
     ((c) >= '0' && (c) <= '9' ? C_DIGIT | C_LOCAL : 0) | ((c) >= 0x80 ? C_HIGH | C_NONHEX : 0) | \
     ((c) == ' ' || ((c) >= 9 && (c) <= 13) || (c) == 0 ? C_SPACE : 0) |                   \
     ((c) == '?' || (c) == '\n' || (c) == '.' || (c) == '!' ? C_ENDER : 0) |               \
     ((c) == '-' || (c) == '_' ? C_JOIN : 0) |                                             \
     ((c) == '"' || (c) == '\'' || (c) == '(' || (c) == '[' || (c) == '{' || (c) == '<' ||   \
              (c) == '*'                                                                   \
          ? C_OPEN                                                                         \
          : 0) |                                                                           \
     ((c) == '.' || (c) == '_' || (c) == '%' || (c) == '+' || (c) == '-' ? C_LOCAL : 0))
#define CLS4(c) CLS(c), CLS((c) + 1), CLS((c) + 2), CLS((c) + 3)
#define CLS16(c) CLS4(c), CLS4((c) + 4), CLS4((c) + 8), CLS4((c) + 12)
#define CLS64(c) CLS16(c), CLS16((c) + 16), CLS16((c) + 32), CLS16((c) + 48)

static const uint16_t T[256] = {CLS64(0), CLS64(64), CLS64(128), CLS64(192)};

static inline bool is_digit(unsigned c) { return c - '0' < 10u; }
static inline bool is_alnum(unsigned c) { return (T[c] & C_ALNUM) != 0; }

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

/* ---- scanner state ---------------------------------------------------------------------- */

#define RECENT 16 /* detections remembered for withdrawal by an enclosing e-mail address */

typedef struct scan {
    const unsigned char *p;
    size_t n;
    rr_text_features *f;
    rr_pii_span *spans;
    size_t max_spans;
    size_t claimed;     /* a detection ends here: no candidate starts before it */
    size_t cluster_end; /* digit groups examined (or shape-claimed) up to here */
    size_t url_end;     /* inside a URL until here: no entities */
    size_t done;        /* words before this offset have been examined */
    size_t num_end;     /* end of the previous all-digit word (SIZE_MAX: none) */
    size_t cap_end;     /* end of the previous capitalised entity word (SIZE_MAX: none) */
    struct {
        uint32_t type, start, end;
    } recent[RECENT];
    size_t nrecent; /* total pushed; ring index = nrecent % RECENT */
} scan;

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

static inline size_t glen(const grp *g) { return g->e - g->s; }
static inline size_t gstart(const grp *g) { return g->paren ? g->s - 1 : g->s; }
static inline size_t gend(const grp *g) { return g->paren ? g->e + 1 : g->e; }
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

static size_t match_phone(const unsigned char *p, const grp *g, size_t ng, size_t k,
                          bool plus) {
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
static void scan_cluster(scan *S, size_t s, size_t e) {
    const unsigned char *p = S->p;
    bool plus = s >= 1 && p[s - 1] == '+' && (s < 2 || !is_alnum(p[s - 2]));
    bool paren = !plus && s >= 1 && p[s - 1] == '(' && e < S->n && p[e] == ')';
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
        if (h < n && p[h] == '.') {
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

static void try_ipv6(scan *S, size_t s) {
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
static void try_iban(scan *S, size_t s, size_t e) {
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
        while (i < n && (is_alnum(p[i]) || p[i] == '-'))
            alpha = alpha && (T[p[i++]] & C_ALPHA);
        if (i == ls || i - ls > 63 || p[ls] == '-' || p[i - 1] == '-' || i - at - 1 > 253)
            break;
        labels++, end = i, tld = alpha ? i - ls : 0;
        if (i + 1 < n && p[i] == '.' && is_alnum(p[i + 1]))
            i++;
        else
            break;
    }
    if (labels < 2 || tld < 2 || (end < n && (is_alnum(p[end]) || p[end] == '-' ||
                                             p[end] == '_' || p[end] == '@')))
        return 0;
    return end;
}

static void on_at(scan *S, size_t at) {
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
    if ((at == 0 || !(T[p[at - 1]] & C_WORD)) && at + 1 < S->n &&
        (is_alnum(p[at + 1]) || p[at + 1] == '_') && at >= S->url_end && at >= S->claimed)
        S->f->entities++;
}

/* ---- words and entities ------------------------------------------------------------------ */

static inline bool standalone_before(const unsigned char *p, size_t s) {
    return s == 0 || (T[p[s - 1]] & (C_SPACE | C_OPEN));
}

/* A word starts a sentence when no word precedes it since the last . ! ? or newline. */
static bool sentence_start(const unsigned char *p, size_t s) {
    for (; s > 0; s--) {
        unsigned t = T[p[s - 1]];
        if (t & (C_WORD | C_ENDER))
            return !(t & C_WORD);
    }
    return true;
}

/* "scheme://..." or "www." starts a URL: one entity, up to the next whitespace. */
static void try_url(scan *S, size_t s, size_t e, unsigned f) {
    const unsigned char *p = S->p;
    size_t n = S->n;
    bool scheme = e + 2 < n && p[e] == ':' && p[e + 1] == '/' && p[e + 2] == '/' &&
                  !(f & (C_DIGIT | C_HIGH));
    bool www = e - s == 3 && e + 1 < n && p[e] == '.' && p[s] == 'w' && p[s + 1] == 'w' &&
               p[s + 2] == 'w';
    if ((!scheme && !www) || s < S->url_end || s < S->claimed)
        return;
    size_t i = e;
    while (i < n && !(T[p[i]] & C_SPACE))
        i++;
    S->url_end = i;
    S->f->entities++;
}

/* Is a digit group joined to the digits ending at e ("555 123", "555-1", "(555) 1")? */
static bool group_follows(const unsigned char *p, size_t n, size_t e) {
    if (e + 1 >= n)
        return false;
    unsigned c = p[e];
    if (c == ')' || c == '(' || c == ' ')
        return is_digit(p[e + 1]) || (e + 2 < n && (p[e + 1] == ' ' || p[e + 1] == '(') &&
                                      is_digit(p[e + 2]));
    return (c == '-' || c == '.') && is_digit(p[e + 1]);
}

/* PII candidates that start at an ASCII alphanumeric run [s, e) with flags f. */
static void pii_run(scan *S, size_t s, size_t e, unsigned f) {
    const unsigned char *p = S->p;
    if (e < S->n && p[e] == ':' && e - s <= 4 && s >= S->claimed &&
        (s == 0 || p[s - 1] != ':')) {
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

/* Numbers and PII candidates of one word [s, e) with flags f. Words holding non-ASCII
 * bytes are searched for PII in their ASCII alphanumeric runs. */
static void word_pii(scan *S, size_t s, size_t e, unsigned f) {
    const unsigned char *p = S->p;
    if ((f & C_WORD) == C_DIGIT) {
        unsigned before = s ? p[s - 1] : 0; /* "1,234.5" is one number */
        S->f->numbers += !((s - 1 == S->num_end) & ((before == ',') | (before == '.')));
        S->num_end = e;
    }
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

static size_t word_end(const scan *S, size_t i) {
    while (i < S->n && (T[S->p[i]] & C_WORD))
        i++;
    return i;
}

static inline bool joiner_at(const scan *S, size_t i) {
    return (T[S->p[i]] & C_JOIN) && i > 0 && i + 1 < S->n && (T[S->p[i - 1]] & C_WORD) &&
           (T[S->p[i + 1]] & C_WORD);
}

/* Numbers, PII and URL of one word [s, e) with C_* flags f; continuation bytes. */
static inline void word_step(scan *S, size_t s, size_t e, unsigned f) {
    const unsigned char *p = S->p;
    if (f & C_HIGH)
        for (size_t j = s; j < e; j++)
            S->f->chars -= (p[j] & 0xC0) == 0x80;
    bool colon = e < S->n && p[e] == ':';
    if (f & (C_DIGIT | C_HIGH) || colon)
        word_pii(S, s, e, f);
    if (colon || (e - s == 3 && e < S->n && p[e] == '.'))
        try_url(S, s, e, f);
}

/* A compound token is words joined by single '-' or '_' ("ORD-12345", "two-factor"). It
 * is at most one entity: an identifier when it mixes ASCII letters and digits, else a name
 * when its first word is capitalised (>= 2 bytes), standalone and not starting a
 * sentence; names separated by one space count once ("John Smith"). Nothing inside a URL
 * or a PII detection is an entity. `all`: the C_* flags of the compound [cs, e). */
static inline void compound_entity(scan *S, size_t cs, size_t e, unsigned all, size_t first_len) {
    const unsigned char *p = S->p;
    if (cs < S->claimed || cs < S->url_end)
        return;
    if ((all & C_ALPHA) && (all & C_DIGIT)) {
        S->f->entities++;
    } else if ((T[p[cs]] & C_UPPER) && first_len >= 2 && standalone_before(p, cs) &&
               !sentence_start(p, cs)) {
        if (!(S->cap_end != SIZE_MAX && cs == S->cap_end + 1 && p[cs - 1] == ' '))
            S->f->entities++;
        S->cap_end = e;
    }
}

/* Visit the compound starting at cs (one holding a digit, capital or non-ASCII byte:
 * plain lowercase compounds are never PII, entities or numbers, so the block scan only
 * counts their words). Returns its end. */
static size_t visit_compound(scan *S, size_t cs) {
    const unsigned char *p = S->p;
    size_t s = cs, e = cs, first_len = 0;
    unsigned all = 0;
    for (;;) {
        e = word_end(S, s);
        unsigned f = 0;
        for (size_t j = s; j < e; j++)
            f |= T[p[j]];
        word_step(S, s, e, f);
        if (s == cs)
            first_len = e - s;
        all |= f;
        if (e >= S->n || !joiner_at(S, e))
            break;
        s = e + 1;
    }
    compound_entity(S, cs, e, all, first_len);
    return e;
}

/* Start of the compound holding byte i (a word byte). */
static size_t compound_start(const scan *S, size_t i) {
    const unsigned char *p = S->p;
    for (;;) {
        while (i > 0 && (T[p[i - 1]] & C_WORD))
            i--;
        if (i < 2 || !joiner_at(S, i - 1))
            return i;
        i -= 1;
    }
}

/* '@', ':' and "www." are examined in text order with the words around them. The plain
 * word before ':' or '.' has not been visited: it matters as a URL scheme, "www" or an
 * IPv6 group. */
static void on_punct(scan *S, size_t i) {
    const unsigned char *p = S->p;
    if (p[i] == '@') {
        on_at(S, i);
        return;
    }
    if (i > 0 && (T[p[i - 1]] & C_WORD) && S->done < i) {
        size_t s = i - 1;
        while (s > 0 && (T[p[s - 1]] & C_WORD))
            s--;
        if (p[i] == ':')
            pii_run(S, s, i, C_LOWER | C_NONHEX);
        try_url(S, s, i, C_LOWER);
        S->done = i;
    }
    if (p[i] == ':' && i + 1 < S->n && p[i + 1] == ':' && i >= S->claimed &&
        (i == 0 || !(T[p[i - 1]] & C_WORD || p[i - 1] == ':')))
        try_ipv6(S, i);
}

/* ---- block scan ------------------------------------------------------------------------ */

/* Bit i of each mask describes byte i of a 64-byte block. `todo` marks the bytes the
 * scalar code must look at: digits, capitals and non-ASCII bytes (their compound needs a
 * closer look), '@', ':', and a '.' after a 'w' (for "www."). */
typedef struct masks {
    uint64_t word, todo, digit, quest, nl;
} masks;

/* Portable mask builder for the up to 64 bytes at text + b. */
static void masks_scalar(const unsigned char *text, size_t b, size_t len, masks *m) {
    const unsigned char *p = text + b;
    m->word = m->todo = m->digit = m->quest = m->nl = 0;
    for (size_t i = 0; i < len && i < 64; i++) {
        unsigned c = p[i], t = T[c], before = b + i > 0 ? text[b + i - 1] : 0;
        bool todo = (t & (C_DIGIT | C_UPPER | C_HIGH)) || c == '@' || c == ':' ||
                    (c == '.' && before == 'w');
        m->word |= (uint64_t)((t & C_WORD) != 0) << i;
        m->todo |= (uint64_t)todo << i;
        m->digit |= (uint64_t)((t & C_DIGIT) != 0) << i;
        m->quest |= (uint64_t)(c == '?') << i;
        m->nl |= (uint64_t)(c == '\n') << i;
    }
}

#if defined(__SSE2__)
#include <emmintrin.h>
#define HAVE_SSE2 1

/* (v - lo) < n as unsigned bytes, with the signed compare SSE2 has. */
static inline __m128i in_range(__m128i v, unsigned char lo, unsigned char n) {
    __m128i b = _mm_add_epi8(v, _mm_set1_epi8((char)(unsigned char)(0x80u - lo)));
    return _mm_cmplt_epi8(b, _mm_set1_epi8((char)(unsigned char)(0x80u + n)));
}

static inline __m128i eq(__m128i v, char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); }
static inline uint64_t movemask(__m128i v) { return (uint64_t)(unsigned)_mm_movemask_epi8(v); }
static inline __m128i load16(const unsigned char *p) {
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* 16 bytes v; `before` holds the byte preceding each of them (for "w."). */
static inline void masks16(__m128i v, __m128i before, unsigned sh, masks *m) {
    __m128i high = _mm_cmplt_epi8(v, _mm_setzero_si128());
    __m128i digit = in_range(v, '0', 10);
    __m128i alpha = in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 26);
    __m128i slow = _mm_or_si128(_mm_or_si128(high, digit), in_range(v, 'A', 26));
    __m128i wdot = _mm_and_si128(eq(v, '.'), eq(before, 'w'));
    __m128i punct = _mm_or_si128(_mm_or_si128(eq(v, '@'), eq(v, ':')), wdot);
    m->word |= movemask(_mm_or_si128(_mm_or_si128(high, digit), alpha)) << sh;
    m->todo |= movemask(_mm_or_si128(slow, punct)) << sh;
    m->digit |= movemask(digit) << sh;
    m->quest |= movemask(eq(v, '?')) << sh;
    m->nl |= movemask(eq(v, '\n')) << sh;
}

/* Masks of the 64 bytes at p, which is the start of the text when `first`. */
static void masks64_sse2(const unsigned char *p, bool first, masks *m) {
    m->word = m->todo = m->digit = m->quest = m->nl = 0;
    __m128i v = load16(p);
    masks16(v, first ? _mm_slli_si128(v, 1) : load16(p - 1), 0, m);
    masks16(load16(p + 16), load16(p + 15), 16, m);
    masks16(load16(p + 32), load16(p + 31), 32, m);
    masks16(load16(p + 48), load16(p + 47), 48, m);
}
#else
#define HAVE_SSE2 0
#endif

#if HAVE_SSE2 && defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define HAVE_AVX2 1

#define AVX2 __attribute__((target("avx2")))
AVX2 static inline __m256i in_range32(__m256i v, unsigned char lo, unsigned char n) {
    __m256i b = _mm256_add_epi8(v, _mm256_set1_epi8((char)(unsigned char)(0x80u - lo)));
    return _mm256_cmpgt_epi8(_mm256_set1_epi8((char)(unsigned char)(0x80u + n)), b);
}
AVX2 static inline __m256i eq32(__m256i v, char c) {
    return _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c));
}
AVX2 static inline uint64_t movemask32(__m256i v) {
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(v);
}

AVX2 static inline void masks32(__m256i v, __m256i before, unsigned sh, masks *m) {
    __m256i high = _mm256_cmpgt_epi8(_mm256_setzero_si256(), v);
    __m256i digit = in_range32(v, '0', 10);
    __m256i alpha = in_range32(_mm256_or_si256(v, _mm256_set1_epi8(0x20)), 'a', 26);
    __m256i slow = _mm256_or_si256(_mm256_or_si256(high, digit), in_range32(v, 'A', 26));
    __m256i wdot = _mm256_and_si256(eq32(v, '.'), eq32(before, 'w'));
    __m256i punct = _mm256_or_si256(_mm256_or_si256(eq32(v, '@'), eq32(v, ':')), wdot);
    m->word |= movemask32(_mm256_or_si256(_mm256_or_si256(high, digit), alpha)) << sh;
    m->todo |= movemask32(_mm256_or_si256(slow, punct)) << sh;
    m->digit |= movemask32(digit) << sh;
    m->quest |= movemask32(eq32(v, '?')) << sh;
    m->nl |= movemask32(eq32(v, '\n')) << sh;
}

AVX2 static void masks64_avx2(const unsigned char *p, bool first, masks *m) {
    m->word = m->todo = m->digit = m->quest = m->nl = 0;
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i before;
    if (first) /* v shifted up one byte across the lanes, a zero byte first */
        before = _mm256_alignr_epi8(v, _mm256_permute2x128_si256(v, v, 0x08), 15);
    else
        before = _mm256_loadu_si256((const __m256i *)(const void *)(p - 1));
    masks32(v, before, 0, m);
    masks32(_mm256_loadu_si256((const __m256i *)(const void *)(p + 32)),
            _mm256_loadu_si256((const __m256i *)(const void *)(p + 31)), 32, m);
}

static bool cpu_has_avx2(void) { return __builtin_cpu_supports("avx2"); }
#else
#define HAVE_AVX2 0
static bool cpu_has_avx2(void) { return false; }
#endif

/* Mask builders: the scalar one always exists and defines the result; the vector ones
 * must agree with it bit for bit (the tests compare them). */
enum { MASKS_SCALAR, MASKS_SSE2, MASKS_AVX2 };

/* Masks of the block at offset b of a text of n bytes. A last partial block is read as
 * the final 64 bytes of the text and shifted, so nothing is copied or read past the end. */
static void masks_block(int impl, const unsigned char *text, size_t n, size_t b, masks *m) {
    if (n < 64 || impl == MASKS_SCALAR) {
        masks_scalar(text, b, n - b, m);
        return;
    }
    size_t t = b + 64 <= n ? b : n - 64, sh = b - t;
#if HAVE_AVX2
    if (impl == MASKS_AVX2)
        masks64_avx2(text + t, t == 0, m);
    else
#endif
#if HAVE_SSE2
        masks64_sse2(text + t, t == 0, m);
#else
        masks_scalar(text, t, 64, m);
#endif
    m->word >>= sh, m->todo >>= sh, m->digit >>= sh, m->quest >>= sh, m->nl >>= sh;
}

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

static inline unsigned clz64(uint64_t x) {
#if defined(__GNUC__)
    return (unsigned)__builtin_clzll(x);
#else
    unsigned n = 0;
    while (!(x >> 63))
        x <<= 1, n++;
    return n;
#endif
}

/* compound_entity for a single capitalised word [s, e) whose preceding byte has class tb:
 * the same rules, with the sentence test starting from the byte already loaded. */
static inline void cap_entity(scan *S, size_t s, size_t e, unsigned tb) {
    const unsigned char *p = S->p;
    if (e - s < 2 || !(tb & (C_SPACE | C_OPEN)) || s < S->claimed || s < S->url_end)
        return;
    size_t j = s - 1;
    unsigned t = tb;
    while (!(t & (C_WORD | C_ENDER)) && j > 0)
        t = T[p[--j]];
    if (!(t & C_WORD))
        return; /* an ender or the start of the text: a sentence starts here */
    S->f->entities += !(s == S->cap_end + 1 && p[s - 1] == ' ');
    S->cap_end = e;
}

/* The two commonest marked words, without byte loops: all digits, or a capital followed by
 * lowercase letters; single words (no '-'/'_' join) inside the block. Returns the word's
 * end, or 0 when the general path must run. */
static size_t visit_fast(scan *S, size_t b, const masks *m, unsigned k) {
    const unsigned char *p = S->p;
    uint64_t w = m->word, below = ~w & ((1ull << k) - 1), above = ~w >> k;
    if (!below || !above)
        return 0; /* the word may cross the block edge (it never starts at bit 0) */
    unsigned lo = 64 - clz64(below), len = k - lo + ctz64(above);
    size_t s = b + lo, e = s + len;
    unsigned after = e < S->n ? p[e] : 0, tb = T[p[s - 1]];
    if ((tb | T[after]) & C_JOIN)
        return 0;
    uint64_t lenmask = (2ull << (len - 1)) - 1; /* len <= 63 */
    if (!(~m->digit >> lo & lenmask)) {
        word_step(S, s, e, C_DIGIT);
        return e;
    }
    if ((m->todo >> lo & lenmask) != 1 || !(T[p[s]] & C_UPPER))
        return 0;
    if (after == ':')
        word_step(S, s, e, C_UPPER | C_LOWER | C_NONHEX);
    cap_entity(S, s, e, tb);
    return e;
}

/* Count the block's words, questions and lines from its masks, then visit in text order
 * every marked byte not already covered by a visited compound. `pw` is bit 63 of the
 * previous block's word mask. */
static void scan_block(scan *S, size_t b, const masks *m, uint64_t pw) {
    uint64_t w = m->word, todo = m->todo;
    S->f->words += popcount64(w & ~(w << 1 | pw));
    if (m->quest)
        S->f->questions += popcount64(m->quest);
    if (m->nl)
        S->f->lines += popcount64(m->nl);
    if (S->done > b)
        todo &= S->done - b >= 64 ? 0 : ~0ull << (S->done - b);
    while (todo) {
        unsigned k = ctz64(todo);
        size_t i = b + k;
        if (!(w >> k & 1)) {
            on_punct(S, i);
            todo &= todo - 1;
            continue;
        }
        size_t e = visit_fast(S, b, m, k);
        S->done = e ? e : visit_compound(S, compound_start(S, i));
        todo &= S->done - b >= 64 ? 0 : ~0ull << (S->done - b);
    }
}

/* rr_text_features_extract with a chosen mask builder (tests compare them). */
void rr_text_features_extract_impl(const char *text, size_t len, rr_text_features *out,
                                   rr_pii_span *spans, size_t max_spans, size_t *nspans,
                                   int impl);

void rr_text_features_extract_impl(const char *text, size_t len, rr_text_features *out,
                                   rr_pii_span *spans, size_t max_spans, size_t *nspans,
                                   int impl) {
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
    S.claimed = S.cluster_end = S.url_end = S.done = 0;
    S.num_end = S.cap_end = SIZE_MAX;
    S.nrecent = 0;
    out->chars = (uint32_t)len; /* word_step subtracts continuation bytes */
    uint64_t pw = 0;
    for (size_t b = 0; b < len; b += 64) {
        masks m;
        masks_block(impl, S.p, len, b, &m);
        scan_block(&S, b, &m, pw);
        pw = m.word >> 63;
    }
    out->bytes = (uint32_t)len;
    out->tokens = rr_token_estimate(out->chars, out->words);
    if (len > 0 && S.p[len - 1] != '\n')
        out->lines++;
    if (nspans)
        *nspans = out->pii_total < S.max_spans ? out->pii_total : S.max_spans;
}

void rr_text_features_extract(const char *text, size_t len, rr_text_features *out,
                              rr_pii_span *spans, size_t max_spans, size_t *nspans) {
    int impl = cpu_has_avx2() ? MASKS_AVX2 : HAVE_SSE2 ? MASKS_SSE2 : MASKS_SCALAR;
    rr_text_features_extract_impl(text, len, out, spans, max_spans, nspans, impl);
}
