/* Feature extraction over request text and evidence. Allocation-free except the term set,
 * which grows during warm-up and is then reused. */
#ifndef RR_FEATURES_H
#define RR_FEATURES_H

#include "base.h"

typedef enum rr_pii_type {
    RR_PII_EMAIL = 0,
    RR_PII_PHONE,
    RR_PII_CARD, /* Luhn-valid 13..19 digits */
    RR_PII_IBAN, /* mod-97 valid */
    RR_PII_SSN,  /* US SSN, invalid ranges (000, 666, 9xx area; 00 group; 0000 serial) excluded */
    RR_PII_IPV4,
    RR_PII_IPV6,
    RR_PII__COUNT
} rr_pii_type;

/* "email", "phone", "card", "iban", "ssn", "ipv4", "ipv6" */
const char *rr_pii_name(rr_pii_type t);

typedef struct rr_pii_span {
    uint32_t type;       /* rr_pii_type */
    uint32_t start, end; /* byte offsets, end exclusive */
} rr_pii_span;

/* Text features. Definitions (the tests hold the implementation to them):
 *  - word: a maximal run of ASCII letters, ASCII digits and bytes >= 0x80 (so non-ASCII
 *    letters, and also non-ASCII punctuation, are word bytes); everything else separates
 *    words. Whitespace means the bytes <= 0x20 (space, tab, newline, other controls, NUL).
 *  - number: a word of ASCII digits only; "1,234.56" (digit words joined by single ',' or
 *    '.') counts once.
 *  - entity: (a) a name: a word that starts with an ASCII capital, has >= 2 bytes, follows
 *    whitespace, one of " ' ( [ or nothing, and does not start a sentence (no word
 *    before it since the last . ! ? or newline); a name right after another such word and
 *    one whitespace byte is part of it ("John Smith" counts once); (b) an identifier: a
 *    compound token (words joined by single '-' or '_') mixing ASCII letters and digits
 *    ("ORD-12345", "A4"), unless its first word already counts as a name or it overlaps a
 *    PII detection (the groups of "2001:db8::1" are not identifiers); (c) a URL:
 *    "scheme://..." (2..16 letters) or "www." up to the next whitespace; (d) an @handle
 *    not glued to a preceding word. Nothing inside a URL counts as another entity. Names
 *    do not depend on PII detection (an e-mail's local part may hold one).
 *  - lines: newline bytes, plus one for a last line without a newline (empty text: 0).
 *  - PII (details beside each detector in features.c). Detections never glue to an ASCII
 *    letter or digit; spans are in text order and never overlap.
 *    email: local part of 1..64 [A-Za-z0-9._%+-] (no leading, trailing or doubled dot),
 *      '@', two or more labels, the last one letters only (>= 2).
 *    Digit groups (digits joined by single ' ', '-', '.', or parentheses) are tried at each
 *    group in this order: ipv4 (dotted quad, octets 0..255 without leading zeros, not part
 *    of a longer dotted number), ssn (dashed 3-2-4; out-of-range SSNs such as 000-, 666-,
 *    9xx- are claimed by the shape and reported as nothing, never as a phone), card (13..19
 *    digits, Luhn-valid, one run or a group of 4 then groups of 3..6 with one separator),
 *    phone (7..15 digits and a phone shape: a leading '+country'; a "(2..4 digit)" area
 *    code; a North American 3-3-4 / 1-3-3-4 / dashed 3-4; or a trunk-prefix-0 number in
 *    groups of 2..4 with one separator). Never phones: bare digit runs (order numbers,
 *    "12345678"), dates (4-2-2, 2-2-4), times (':' is no separator), years, decimals,
 *    thousands groupings (1.234.567, 12 345 678), digits glued to a word ("ORD-555...").
 *    iban: 2 capitals, 2 check digits, 11..30 capitals/digits, compact or in groups of 4,
 *      mod-97 == 1 (a failing IBAN-shaped run is claimed, so it is not a card either).
 *    ipv6: 8 hex groups, or fewer with one "::", optional dotted-quad tail, at least one
 *      digit somewhere ("dead::beef" and "std::vector" are code, "10:30:00" is a time).
 *    An e-mail address wins over detections inside its local part. */
typedef struct rr_text_features {
    uint32_t bytes;
    uint32_t chars; /* UTF-8 code points: bytes minus continuation bytes 0x80..0xBF */
    uint32_t words;
    uint32_t tokens; /* rr_token_estimate(chars, words) */
    uint32_t numbers;
    uint32_t questions; /* '?' bytes */
    uint32_t entities;
    uint32_t lines;
    uint32_t pii[RR_PII__COUNT];
    uint32_t pii_total;
} rr_text_features;

/* Token estimate: max(ceil(chars / 4), words). About four characters per token holds for
 * English prose with BPE tokenizers; every word is at least one token, which keeps short
 * words, digits and CJK text from being underestimated. */
uint32_t rr_token_estimate(uint32_t chars, uint32_t words);

/* Extract text features. PII spans are written to spans[0..max_spans) (may be NULL / 0) in
 * text order; *nspans (may be NULL) receives the number written. Counts in `out` include
 * every detection even past max_spans. Text is UTF-8 (already checked; invalid bytes are
 * harmless, they only make `chars` approximate); NUL bytes count as whitespace; len is
 * capped at 4 GiB - 1. Allocation-free, linear time, thread-safe (no shared state). */
void rr_text_features_extract(const char *text, size_t len, rr_text_features *out,
                              rr_pii_span *spans, size_t max_spans, size_t *nspans);

/* Implementations of rr_text_features_extract, for tests and benchmarks: all give
 * identical results. AUTO picks the fastest the CPU supports (AVX-512BW, AVX2, else the
 * portable mask builder); REFERENCE is the plain word-by-word definition. */
enum {
    RR_FEATURES_AUTO = 0,
    RR_FEATURES_REFERENCE,
    RR_FEATURES_PORTABLE,
    RR_FEATURES_AVX2,
    RR_FEATURES_AVX512
};
/* Whether `impl` can run here; an unavailable impl given to _impl runs AUTO instead. */
bool rr_text_features_impl_available(int impl);
void rr_text_features_extract_impl(int impl, const char *text, size_t len, rr_text_features *out,
                                   rr_pii_span *spans, size_t max_spans, size_t *nspans);

/* Term sets, content terms and coverage are implemented in lib/terms.c. */

/* A set of 64-bit term hashes (open addressing), owned by the caller's scratch. */
typedef struct rr_termset {
    uint64_t *slots; /* 0 = empty */
    size_t cap;      /* power of two */
    size_t n;
    const rr_alloc *a;
} rr_termset;

void rr_termset_init(rr_termset *s, const rr_alloc *a);
void rr_termset_free(rr_termset *s);
void rr_termset_clear(rr_termset *s);
/* Returns false only when growing failed (out of memory). */
bool rr_termset_add(rr_termset *s, uint64_t h);
bool rr_termset_has(const rr_termset *s, uint64_t h);

/* Content terms: ASCII-lowercased words of >= 3 bytes that are not stop words (a fixed
 * English list), and every number; each hashed with xxh3-64 of its lower-cased bytes (in
 * 64-byte chunks, each seeded with the hash so far, for longer terms; never 0). Calls fn for
 * each. */
typedef void (*rr_term_fn)(void *ud, uint64_t hash, const char *term, size_t len);
void rr_content_terms(const char *text, size_t len, rr_term_fn fn, void *ud);

/* Coverage: the share of the request's distinct content terms found in any evidence text.
 * 0 when there is no evidence or the request has no content terms. `ev_set` and `req_set`
 * are scratch sets. Returns a negative value on out-of-memory. */
double rr_coverage(const char *text, size_t len, const char *const *ev_text, const size_t *ev_len,
                   size_t nev, rr_termset *ev_set, rr_termset *req_set);

#endif
