/* JSON Schema (2020-12, 2019-09, draft-07): compile a schema once into an immutable tree of
 * nodes with pre-resolved references, then validate instances against it without
 * allocating (annotation bitsets and regex match data live in the caller's verdict).
 *
 * Compilation first indexes every document it meets (the root, registered remotes, the
 * built-in meta-schemas): base URIs from "$id", anchors, dynamic anchors and the dialect
 * of each resource. Nodes are then built on demand from the root, following "$ref"s
 * through that index, and memoised by their JSON value so recursive schemas are graphs. */
#include "schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

enum sch_dialect { D_07 = 7, D_2019 = 2019, D_2020 = 2020 };

/* Vocabularies; a custom meta-schema's "$vocabulary" may leave some out. */
enum {
    V_CORE = 1u << 0,
    V_APPLICATOR = 1u << 1,
    V_UNEVALUATED = 1u << 2,
    V_VALIDATION = 1u << 3,
    V_FORMAT_ASSERT = 1u << 4,
    V_ALL = V_CORE | V_APPLICATOR | V_UNEVALUATED | V_VALIDATION
};

/* Instance type bits. */
enum { T_NULL = 1, T_BOOL = 2, T_OBJ = 4, T_ARR = 8, T_NUM = 16, T_STR = 32, T_INT = 64 };

/* Keywords in evaluation order. unevaluated* come last: they need every other keyword's
 * annotations from the same schema object. */
enum sch_kw {
    K_REF,
    K_DYNREF,
    K_TYPE,
    K_CONST,
    K_ENUM,
    K_MULTOF,
    K_MIN,
    K_MAX,
    K_XMIN,
    K_XMAX,
    K_MINLEN,
    K_MAXLEN,
    K_PATTERN,
    K_FORMAT,
    K_MINITEMS,
    K_MAXITEMS,
    K_UNIQUE,
    K_ITEMS,
    K_CONTAINS,
    K_MINPROPS,
    K_MAXPROPS,
    K_REQUIRED,
    K_DEPREQ,
    K_PROPS,
    K_PROPNAMES,
    K_DEPSCH,
    K_ALLOF,
    K_ANYOF,
    K_ONEOF,
    K_NOT,
    K_IF,
    K_UNITEMS,
    K_UNPROPS,
    K__COUNT
};
#define KB(k) (1ull << (k))
#define K_NUM_MASK (KB(K_MULTOF) | KB(K_MIN) | KB(K_MAX) | KB(K_XMIN) | KB(K_XMAX))
#define K_STR_MASK (KB(K_MINLEN) | KB(K_MAXLEN) | KB(K_PATTERN) | KB(K_FORMAT))
#define K_ARR_MASK                                                                                 \
    (KB(K_MINITEMS) | KB(K_MAXITEMS) | KB(K_UNIQUE) | KB(K_ITEMS) | KB(K_CONTAINS) | KB(K_UNITEMS))
#define K_OBJ_MASK                                                                                 \
    (KB(K_MINPROPS) | KB(K_MAXPROPS) | KB(K_REQUIRED) | KB(K_DEPREQ) | KB(K_PROPS) |               \
     KB(K_PROPNAMES) | KB(K_DEPSCH) | KB(K_UNPROPS))
#define K_ANY_MASK (((1ull << K__COUNT) - 1) & ~(K_NUM_MASK | K_STR_MASK | K_ARR_MASK | K_OBJ_MASK))

typedef struct sch_node sch_node;
typedef struct sch_res sch_res;

/* A number kept both ways so integer limits compare exactly with integer instances. */
typedef struct sch_num {
    double d;
    int64_t i;
    bool is_int;
} sch_num;

typedef struct sch_dyn {
    const char *name;
    const sch_node *node;
    const json_t *js;
    struct sch_dyn *next;
} sch_dyn;

/* A schema resource (a document root or a subschema with "$id"): the unit of the dynamic
 * scope that "$dynamicRef" searches. */
struct sch_res {
    const char *uri;
    int dialect;
    uint32_t vocab;
    bool format_assert;
    sch_dyn *dyn; /* "$dynamicAnchor"s (and 2019-09's "$recursiveAnchor" as "") */
};

typedef struct sch_prop {
    const char *name;
    size_t len;
    const sch_node *node;
    uint64_t w8; /* first 8 bytes, zero-padded: most keys compare in one instruction */
} sch_prop;

typedef struct sch_pat {
    pcre2_code *re;
    const char *src;
    const sch_node *node; /* NULL for "pattern" */
} sch_pat;

/* The first min(n, 8) bytes of s as a zero-padded little-endian word, with fixed-size
 * loads only (a variable-length memcpy is a call). */
static inline uint64_t word8(const char *s, size_t n) {
    uint64_t w = 0;
    if (n >= 8) {
        memcpy(&w, s, 8);
    } else if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + n - 4, 4);
        w = (uint64_t)lo | ((uint64_t)hi << ((n - 4) * 8));
    } else if (n) {
        w = (uint64_t)(unsigned char)s[0] | ((uint64_t)(unsigned char)s[n / 2] << (n / 2 * 8)) |
            ((uint64_t)(unsigned char)s[n - 1] << ((n - 1) * 8));
    }
    return w;
}

static inline uint32_t prop_slot(uint64_t w, size_t len, uint64_t mult, unsigned shift) {
    return (uint32_t)(((w ^ ((uint64_t)len << 56)) * mult) >> shift);
}

typedef struct sch_strs {
    const char *name; /* dependentRequired: the trigger property */
    size_t len;
    const char **v;
    size_t *vlen;
    size_t n;
} sch_strs;

enum { B_NONE = 0, B_TRUE = 1, B_FALSE = 2 };

struct sch_node {
    uint64_t kw;
    uint8_t boolean;
    uint8_t types;
    bool uneval;      /* has unevaluatedItems/Properties: collect annotations */
    bool deps_compat; /* dependentRequired/Schemas came from "dependencies" */
    bool items_array; /* draft-07 / 2019-09 "items": [...] with "additionalItems" */
    bool ref_is_recursive;
    const sch_res *res;
    const char *ptr; /* location in its document, for messages */
    const sch_node *ref, *dynref;
    const char *dyn_name; /* non-NULL: search the dynamic scope for this anchor */
    const json_t *cnst;
    const json_t *enm;
    sch_num multof, min, max, xmin, xmax;
    uint64_t minlen, maxlen, minitems, maxitems, minprops, maxprops;
    uint64_t mincontains, maxcontains;
    bool has_maxcontains;
    bool req_in_props;   /* every "required" name is in "properties": checked in that pass */
    bool enum_strings;   /* every "enum" value is a string: compared without jansson calls */
    const char **enum_s; /* when enum_strings: the values, lengths and first 8 bytes */
    size_t *enum_len;
    uint64_t *enum_w8;
    size_t nenum;
    uint64_t str_inline; /* string keywords the fast check settles without a call */
    uint64_t req_mask;   /* bit i: props[i] is required */
    sch_pat pattern;
    int format;
    const char *format_name;
    const sch_node **prefix;
    size_t nprefix;
    const sch_node *items, *contains;
    sch_strs required;
    sch_strs *depreq;
    size_t ndepreq;
    sch_prop *props;
    size_t nprops;
    uint32_t *prop_hash; /* open-addressing index into props when nprops is large */
    uint32_t prop_hash_mask;
    uint8_t *prop_perfect; /* small nprops: collision-free slot -> index + 1 */
    uint64_t prop_mult;
    unsigned prop_shift;
    sch_pat *pats;
    size_t npats;
    const sch_node *addprops, *propnames;
    sch_prop *depsch;
    size_t ndepsch;
    const sch_node **allof, **anyof, **oneof;
    size_t nallof, nanyof, noneof;
    const sch_node *not_, *if_, *then_, *else_;
    const sch_node *unitems, *unprops;
};

typedef struct sch_blk sch_blk;

struct rr_schema {
    rr_alloc a;
    sch_blk *arena;
    json_t **docs;
    size_t ndocs, capdocs;
    const sch_node *root;
    sch_node node_true, node_false;
    const char *dialect_name;
    uint32_t flags;
    uint32_t max_depth;
    uint32_t max_eval_depth;
    uint64_t max_bytes;
    bool has_dynamic;
    pcre2_general_context *gctx;
    pcre2_compile_context *cctx;
    pcre2_match_context *mctx;
    pcre2_code **codes; /* every compiled pattern, freed with the schema */
    size_t ncodes, capcodes;
};

/* Arena for everything a compiled schema keeps; freed at once with the schema. */
void *sch_arena_alloc(const rr_alloc *a, sch_blk **head, size_t n);
void sch_arena_free(const rr_alloc *a, sch_blk **head);

/* JSON equality as JSON Schema defines it (1 == 1.0; object key order ignored). */
bool sch_json_equal(const json_t *a, const json_t *b);
uint64_t sch_json_hash(const json_t *j);

/* Compile an ECMA-262 pattern with PCRE2 (translated where the dialects differ). NULL on
 * error, with PCRE2's message in msg. */
pcre2_code *sch_regex_compile(const rr_schema *s, const char *src, size_t len, char *msg,
                              size_t msgsz, bool *oom);

/* The evaluator calls these for every property and item. In position-independent code,
 * reaching them through the GOT instead of the PLT saves a jump each (about 6% of a typical
 * validation); clang has no such attribute and keeps the PLT. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__PIC__)
#define RR_NOPLT __attribute__((noplt))
void *json_object_iter(json_t *object) RR_NOPLT;
void *json_object_iter_next(json_t *object, void *iter) RR_NOPLT;
const char *json_object_iter_key(void *iter) RR_NOPLT;
size_t json_object_iter_key_len(void *iter) RR_NOPLT;
json_t *json_object_iter_value(void *iter) RR_NOPLT;
json_t *json_array_get(const json_t *array, size_t index) RR_NOPLT;
size_t json_array_size(const json_t *array) RR_NOPLT;
size_t json_object_size(const json_t *object) RR_NOPLT;
const char *json_string_value(const json_t *string) RR_NOPLT;
size_t json_string_length(const json_t *string) RR_NOPLT;
json_int_t json_integer_value(const json_t *integer) RR_NOPLT;
double json_real_value(const json_t *real) RR_NOPLT;
double json_number_value(const json_t *json) RR_NOPLT;
json_t *json_object_getn(const json_t *object, const char *key, size_t key_len) RR_NOPLT;
#endif

#define NOEV SIZE_MAX
#define DEFAULT_MAX_DEPTH 512u
#define DEFAULT_MAX_BYTES (16u * 1024u * 1024u)
#define ROOT_BASE "rr://schema/root.json"

/* ------------------------------------------------------------------------------------
 * Arena
 * ---------------------------------------------------------------------------------- */

struct sch_blk {
    sch_blk *next;
    size_t used, cap;
    max_align_t data[];
};

void *sch_arena_alloc(const rr_alloc *a, sch_blk **head, size_t n) {
    n = (n + 15) & ~(size_t)15;
    sch_blk *b = *head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = rr_malloc(a, sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = *head;
        b->used = 0;
        b->cap = cap;
        *head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void sch_arena_free(const rr_alloc *a, sch_blk **head) {
    sch_blk *b = *head;
    while (b) {
        sch_blk *next = b->next;
        rr_free(a, b);
        b = next;
    }
    *head = NULL;
}

/* ------------------------------------------------------------------------------------
 * JSON equality and hashing (numbers by value, so 1 == 1.0)
 * ---------------------------------------------------------------------------------- */

static bool num_equal(const json_t *a, const json_t *b) {
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    return json_number_value(a) == json_number_value(b);
}

bool sch_json_equal(const json_t *a, const json_t *b) {
    if (a == b)
        return true;
    if (json_is_number(a) && json_is_number(b))
        return num_equal(a, b);
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!sch_json_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        for (void *it = json_object_iter((json_t *)a); it;
             it = json_object_iter_next((json_t *)a, it)) {
            const json_t *o =
                json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
            if (!o || !sch_json_equal(json_object_iter_value(it), o))
                return false;
        }
        return true;
    }
    default:
        return true; /* true, false, null: same type is enough */
    }
}

uint64_t sch_json_hash(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_INTEGER:
    case JSON_REAL: {
        double d = json_number_value(j);
        if (d == 0)
            d = 0; /* -0 and 0 are equal */
        return XXH3_64bits(&d, sizeof d);
    }
    case JSON_STRING:
        return XXH3_64bits(json_string_value(j), json_string_length(j)) ^ 0x5bd1e995u;
    case JSON_ARRAY: {
        uint64_t h = 0xa0761d6478bd642full;
        for (size_t i = 0; i < json_array_size(j); i++)
            h = (h ^ sch_json_hash(json_array_get(j, i))) * 0x100000001b3ull + i;
        return h;
    }
    case JSON_OBJECT: {
        uint64_t h = 0xe7037ed1a0b428dbull;
        for (void *it = json_object_iter((json_t *)j); it;
             it = json_object_iter_next((json_t *)j, it)) {
            uint64_t k = XXH3_64bits(json_object_iter_key(it), json_object_iter_key_len(it));
            h += (k * 0x9e3779b97f4a7c15ull) ^ sch_json_hash(json_object_iter_value(it));
        }
        return h;
    }
    case JSON_TRUE:
        return 2;
    case JSON_FALSE:
        return 3;
    default:
        return 1;
    }
}

/* ------------------------------------------------------------------------------------
 * Regular expressions: ECMA-262 on top of PCRE2
 * ---------------------------------------------------------------------------------- */

/* ECMA-262's \s also matches these; PCRE2 without UCP only knows ASCII white space, and
 * UCP would also widen \d and \w, which ECMA-262 keeps ASCII. (\uHHHH: ALT_BSUX syntax.) */
#define ECMA_SPACE                                                                                 \
    "\\t\\n\\x0b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029"                                \
    "\\u202f\\u205f\\u3000\\ufeff"

/* ECMA-262 spells Unicode properties long ("Letter"); PCRE2 10.42 wants short names. */
static const struct {
    const char *ecma, *pcre;
} prop_names[] = {{"Letter", "L"},
                  {"Lowercase_Letter", "Ll"},
                  {"Uppercase_Letter", "Lu"},
                  {"Titlecase_Letter", "Lt"},
                  {"Modifier_Letter", "Lm"},
                  {"Other_Letter", "Lo"},
                  {"Mark", "M"},
                  {"Number", "N"},
                  {"Decimal_Number", "Nd"},
                  {"digit", "Nd"},
                  {"Letter_Number", "Nl"},
                  {"Other_Number", "No"},
                  {"Punctuation", "P"},
                  {"Symbol", "S"},
                  {"Separator", "Z"},
                  {"Space_Separator", "Zs"},
                  {"Other", "C"},
                  {"Control", "Cc"}};

static size_t translate_prop(rr_buf *b, const char *src, size_t len, size_t i) {
    /* src[i] is 'p' or 'P' after a backslash; returns the index of the last byte used */
    if (i + 1 >= len || src[i + 1] != '{')
        return 0;
    const char *close = memchr(src + i + 2, '}', len - i - 2);
    if (!close)
        return 0;
    size_t n = (size_t)(close - (src + i + 2));
    for (size_t k = 0; k < RR_ARRAY_LEN(prop_names); k++) {
        if (strlen(prop_names[k].ecma) == n && memcmp(prop_names[k].ecma, src + i + 2, n) == 0) {
            rr_buf_putc(b, '\\');
            rr_buf_putc(b, src[i]);
            rr_buf_printf(b, "{%s}", prop_names[k].pcre);
            return (size_t)(close - src);
        }
    }
    return 0;
}

/* Rewrite what PCRE2 reads differently: \s, \S, long property names, [] and [^]. */
static bool regex_translate(rr_buf *b, const char *src, size_t len) {
    bool in_class = false;
    for (size_t i = 0; i < len; i++) {
        char ch = src[i];
        if (ch == '\\' && i + 1 < len) {
            char e = src[i + 1];
            size_t end;
            if (e == 's' || e == 'S') {
                if (in_class && e == 's')
                    rr_buf_puts(b, ECMA_SPACE);
                else if (in_class)
                    rr_buf_put(b, "\\S", 2); /* rare; PCRE2's ASCII meaning */
                else
                    rr_buf_puts(b, e == 's' ? "[" ECMA_SPACE "]" : "[^" ECMA_SPACE "]");
            } else if ((e == 'p' || e == 'P') && (end = translate_prop(b, src, len, i + 1))) {
                i = end;
                continue;
            } else {
                rr_buf_put(b, src + i, 2);
            }
            i++;
            continue;
        }
        if (ch == '[' && !in_class) {
            if (i + 1 < len && src[i + 1] == ']') { /* ECMA: empty class matches nothing */
                rr_buf_puts(b, "(?!)");
                i++;
                continue;
            }
            if (i + 2 < len && src[i + 1] == '^' && src[i + 2] == ']') { /* anything */
                rr_buf_puts(b, "[\\s\\S]");
                i += 2;
                continue;
            }
            in_class = true;
        } else if (ch == ']' && in_class) {
            in_class = false;
        }
        rr_buf_putc(b, ch);
    }
    return !b->oom;
}

pcre2_code *sch_regex_compile(const rr_schema *s, const char *src, size_t len, char *msg,
                              size_t msgsz, bool *oom) {
    *oom = false;
    rr_buf b;
    rr_buf_init(&b, &s->a);
    if (!regex_translate(&b, src, len)) {
        rr_buf_free(&b);
        snprintf(msg, msgsz, "out of memory");
        *oom = true;
        return NULL;
    }
    int ec;
    PCRE2_SIZE eoff;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)(b.p ? b.p : ""), b.len,
                      PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX, &ec, &eoff, s->cctx);
    rr_buf_free(&b);
    if (!re) {
        *oom = ec == PCRE2_ERROR_HEAP_FAILED;
        PCRE2_UCHAR m[160];
        pcre2_get_error_message(ec, m, sizeof m);
        snprintf(msg, msgsz, "%s at offset %zu", (const char *)m, (size_t)eoff);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort: interpreter otherwise */
    return re;
}

static void *pcre_malloc(size_t n, void *ud) {
    return rr_malloc(ud, n);
}
static void pcre_free(void *p, void *ud) {
    rr_free(ud, p);
}

/* Built-in meta-schemas, written out from the published drafts so that "$ref"s to them
 * and "$schema"s naming them resolve without network access. */
#define META_2020 "https://json-schema.org/draft/2020-12/"
#define META_HDR(name, vocab)                                                                      \
    "{\"$schema\":\"" META_2020 "schema\",\"$id\":\"" META_2020 "meta/" name "\","                 \
    "\"$vocabulary\":{\"" META_2020 "vocab/" vocab "\":true},\"$dynamicAnchor\":\"meta\","         \
    "\"type\":[\"object\",\"boolean\"],"

static const char meta_2020_schema[] =
    "{\"$schema\":\"" META_2020 "schema\",\"$id\":\"" META_2020 "schema\","
    "\"$vocabulary\":{\"" META_2020 "vocab/core\":true,\"" META_2020 "vocab/applicator\":true,"
    "\"" META_2020 "vocab/unevaluated\":true,\"" META_2020 "vocab/validation\":true,"
    "\"" META_2020 "vocab/meta-data\":true,\"" META_2020 "vocab/format-annotation\":true,"
    "\"" META_2020 "vocab/content\":true},\"$dynamicAnchor\":\"meta\","
    "\"allOf\":[{\"$ref\":\"meta/core\"},{\"$ref\":\"meta/applicator\"},"
    "{\"$ref\":\"meta/unevaluated\"},{\"$ref\":\"meta/validation\"},"
    "{\"$ref\":\"meta/meta-data\"},{\"$ref\":\"meta/format-annotation\"},"
    "{\"$ref\":\"meta/content\"}],\"type\":[\"object\",\"boolean\"],"
    "\"properties\":{\"definitions\":{\"type\":\"object\","
    "\"additionalProperties\":{\"$dynamicRef\":\"#meta\"}},"
    "\"dependencies\":{\"type\":\"object\",\"additionalProperties\":{\"anyOf\":["
    "{\"$dynamicRef\":\"#meta\"},{\"$ref\":\"meta/validation#/$defs/stringArray\"}]}},"
    "\"$recursiveAnchor\":{\"$ref\":\"meta/core#/$defs/anchorString\"},"
    "\"$recursiveRef\":{\"$ref\":\"meta/core#/$defs/uriReferenceString\"}}}";

static const char meta_2020_core[] = META_HDR(
    "core",
    "core") "\"properties\":{\"$id\":{\"$ref\":\"#/$defs/uriReferenceString\","
            "\"pattern\":\"^[^#]*#?$\"},\"$schema\":{\"$ref\":\"#/$defs/uriString\"},"
            "\"$ref\":{\"$ref\":\"#/$defs/uriReferenceString\"},"
            "\"$anchor\":{\"$ref\":\"#/$defs/anchorString\"},"
            "\"$dynamicRef\":{\"$ref\":\"#/$defs/uriReferenceString\"},"
            "\"$dynamicAnchor\":{\"$ref\":\"#/$defs/anchorString\"},"
            "\"$vocabulary\":{\"type\":\"object\",\"propertyNames\":{\"$ref\":\"#/$defs/"
            "uriString\"},"
            "\"additionalProperties\":{\"type\":\"boolean\"}},\"$comment\":{\"type\":\"string\"},"
            "\"$defs\":{\"type\":\"object\",\"additionalProperties\":{\"$dynamicRef\":\"#meta\"}}},"
            "\"$defs\":{\"anchorString\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z_][-A-Za-z0-9._"
            "]*$\"},"
            "\"uriString\":{\"type\":\"string\",\"format\":\"uri\"},"
            "\"uriReferenceString\":{\"type\":\"string\",\"format\":\"uri-reference\"}}}";

static const char meta_2020_applicator[] = META_HDR(
    "applicator",
    "applicator") "\"properties\":{\"prefixItems\":{\"$ref\":\"#/$defs/schemaArray\"},"
                  "\"items\":{\"$dynamicRef\":\"#meta\"},\"contains\":{\"$dynamicRef\":\"#meta\"},"
                  "\"additionalProperties\":{\"$dynamicRef\":\"#meta\"},"
                  "\"properties\":{\"type\":\"object\",\"additionalProperties\":{\"$dynamicRef\":"
                  "\"#meta\"}},"
                  "\"patternProperties\":{\"type\":\"object\",\"additionalProperties\":{\"$"
                  "dynamicRef\":"
                  "\"#meta\"},\"propertyNames\":{\"format\":\"regex\"}},"
                  "\"dependentSchemas\":{\"type\":\"object\",\"additionalProperties\":{\"$"
                  "dynamicRef\":"
                  "\"#meta\"}},\"propertyNames\":{\"$dynamicRef\":\"#meta\"},"
                  "\"if\":{\"$dynamicRef\":\"#meta\"},\"then\":{\"$dynamicRef\":\"#meta\"},"
                  "\"else\":{\"$dynamicRef\":\"#meta\"},\"allOf\":{\"$ref\":\"#/$defs/"
                  "schemaArray\"},"
                  "\"anyOf\":{\"$ref\":\"#/$defs/schemaArray\"},\"oneOf\":{\"$ref\":\"#/$defs/"
                  "schemaArray\"},"
                  "\"not\":{\"$dynamicRef\":\"#meta\"}},"
                  "\"$defs\":{\"schemaArray\":{\"type\":\"array\",\"minItems\":1,"
                  "\"items\":{\"$dynamicRef\":\"#meta\"}}}}";

static const char meta_2020_unevaluated[] =
    META_HDR("unevaluated",
             "unevaluated") "\"properties\":{\"unevaluatedItems\":{\"$dynamicRef\":\"#meta\"},"
                            "\"unevaluatedProperties\":{\"$dynamicRef\":\"#meta\"}}}";

static const char meta_2020_validation[] = META_HDR(
    "validation",
    "validation") "\"properties\":{\"type\":{\"anyOf\":[{\"$ref\":\"#/$defs/simpleTypes\"},"
                  "{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/simpleTypes\"},\"minItems\":1,"
                  "\"uniqueItems\":true}]},\"const\":true,\"enum\":{\"type\":\"array\",\"items\":"
                  "true},"
                  "\"multipleOf\":{\"type\":\"number\",\"exclusiveMinimum\":0},"
                  "\"maximum\":{\"type\":\"number\"},\"exclusiveMaximum\":{\"type\":\"number\"},"
                  "\"minimum\":{\"type\":\"number\"},\"exclusiveMinimum\":{\"type\":\"number\"},"
                  "\"maxLength\":{\"$ref\":\"#/$defs/nonNegativeInteger\"},"
                  "\"minLength\":{\"$ref\":\"#/$defs/nonNegativeIntegerDefault0\"},"
                  "\"pattern\":{\"type\":\"string\",\"format\":\"regex\"},"
                  "\"maxItems\":{\"$ref\":\"#/$defs/nonNegativeInteger\"},"
                  "\"minItems\":{\"$ref\":\"#/$defs/nonNegativeIntegerDefault0\"},"
                  "\"uniqueItems\":{\"type\":\"boolean\"},"
                  "\"maxContains\":{\"$ref\":\"#/$defs/nonNegativeInteger\"},"
                  "\"minContains\":{\"$ref\":\"#/$defs/nonNegativeInteger\"},"
                  "\"maxProperties\":{\"$ref\":\"#/$defs/nonNegativeInteger\"},"
                  "\"minProperties\":{\"$ref\":\"#/$defs/nonNegativeIntegerDefault0\"},"
                  "\"required\":{\"$ref\":\"#/$defs/stringArray\"},"
                  "\"dependentRequired\":{\"type\":\"object\",\"additionalProperties\":"
                  "{\"$ref\":\"#/$defs/stringArray\"}}},"
                  "\"$defs\":{\"nonNegativeInteger\":{\"type\":\"integer\",\"minimum\":0},"
                  "\"nonNegativeIntegerDefault0\":{\"$ref\":\"#/$defs/nonNegativeInteger\"},"
                  "\"simpleTypes\":{\"enum\":[\"array\",\"boolean\",\"integer\",\"null\","
                  "\"number\","
                  "\"object\",\"string\"]},\"stringArray\":{\"type\":\"array\",\"items\":"
                  "{\"type\":\"string\"},\"uniqueItems\":true}}}";

static const char meta_2020_meta_data[] = META_HDR(
    "meta-data",
    "meta-data") "\"properties\":{\"title\":{\"type\":\"string\"},\"description\":{\"type\":"
                 "\"string\"},"
                 "\"default\":true,\"deprecated\":{\"type\":\"boolean\"},"
                 "\"readOnly\":{\"type\":\"boolean\"},\"writeOnly\":{\"type\":\"boolean\"},"
                 "\"examples\":{\"type\":\"array\",\"items\":true}}}";

static const char meta_2020_format_annotation[] = META_HDR(
    "format-annotation", "format-annotation") "\"properties\":{\"format\":{\"type\":\"string\"}}}";

static const char meta_2020_format_assertion[] = META_HDR(
    "format-assertion", "format-assertion") "\"properties\":{\"format\":{\"type\":\"string\"}}}";

static const char meta_2020_content[] =
    META_HDR("content", "content") "\"properties\":{\"contentEncoding\":{\"type\":\"string\"},"
                                   "\"contentMediaType\":{\"type\":\"string\"},"
                                   "\"contentSchema\":{\"$dynamicRef\":\"#meta\"}}}";

#define D7_SELF "{\"$ref\":\"#\"}"
#define D7_NONNEG "{\"$ref\":\"#/definitions/nonNegativeInteger\"}"
#define D7_NONNEG0 "{\"$ref\":\"#/definitions/nonNegativeIntegerDefault0\"}"
#define D7_SARR "{\"$ref\":\"#/definitions/schemaArray\"}"
#define D7_SMAP "{\"type\":\"object\",\"additionalProperties\":" D7_SELF "}"

static const char meta_draft7[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
    "\"$id\":\"http://json-schema.org/draft-07/schema#\",\"definitions\":{"
    "\"schemaArray\":{\"type\":\"array\",\"minItems\":1,\"items\":" D7_SELF "},"
    "\"nonNegativeInteger\":{\"type\":\"integer\",\"minimum\":0},"
    "\"nonNegativeIntegerDefault0\":{\"allOf\":[" D7_NONNEG ",{\"default\":0}]},"
    "\"simpleTypes\":{\"enum\":[\"array\",\"boolean\",\"integer\",\"null\",\"number\","
    "\"object\",\"string\"]},\"stringArray\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"string\"},\"uniqueItems\":true,\"default\":[]}},"
    "\"type\":[\"object\",\"boolean\"],\"properties\":{"
    "\"$id\":{\"type\":\"string\",\"format\":\"uri-reference\"},"
    "\"$schema\":{\"type\":\"string\",\"format\":\"uri\"},"
    "\"$ref\":{\"type\":\"string\",\"format\":\"uri-reference\"},"
    "\"$comment\":{\"type\":\"string\"},\"title\":{\"type\":\"string\"},"
    "\"description\":{\"type\":\"string\"},\"default\":true,"
    "\"readOnly\":{\"type\":\"boolean\"},\"writeOnly\":{\"type\":\"boolean\"},"
    "\"examples\":{\"type\":\"array\",\"items\":true},"
    "\"multipleOf\":{\"type\":\"number\",\"exclusiveMinimum\":0},"
    "\"maximum\":{\"type\":\"number\"},\"exclusiveMaximum\":{\"type\":\"number\"},"
    "\"minimum\":{\"type\":\"number\"},\"exclusiveMinimum\":{\"type\":\"number\"},"
    "\"maxLength\":" D7_NONNEG ",\"minLength\":" D7_NONNEG0 ","
    "\"pattern\":{\"type\":\"string\",\"format\":\"regex\"},"
    "\"additionalItems\":" D7_SELF ",\"items\":{\"anyOf\":[" D7_SELF "," D7_SARR "]},"
    "\"maxItems\":" D7_NONNEG ",\"minItems\":" D7_NONNEG0 ","
    "\"uniqueItems\":{\"type\":\"boolean\"},\"contains\":" D7_SELF ","
    "\"maxProperties\":" D7_NONNEG ",\"minProperties\":" D7_NONNEG0 ","
    "\"required\":{\"$ref\":\"#/definitions/stringArray\"},"
    "\"additionalProperties\":" D7_SELF ",\"definitions\":" D7_SMAP ","
    "\"properties\":" D7_SMAP ",\"patternProperties\":{\"type\":\"object\","
    "\"additionalProperties\":" D7_SELF ",\"propertyNames\":{\"format\":\"regex\"}},"
    "\"dependencies\":{\"type\":\"object\",\"additionalProperties\":{\"anyOf\":[" D7_SELF
    ",{\"$ref\":\"#/definitions/stringArray\"}]}},"
    "\"propertyNames\":" D7_SELF ",\"const\":true,"
    "\"enum\":{\"type\":\"array\",\"items\":true},"
    "\"type\":{\"anyOf\":[{\"$ref\":\"#/definitions/simpleTypes\"},{\"type\":\"array\","
    "\"items\":{\"$ref\":\"#/definitions/simpleTypes\"},\"minItems\":1,"
    "\"uniqueItems\":true}]},\"format\":{\"type\":\"string\"},"
    "\"contentMediaType\":{\"type\":\"string\"},\"contentEncoding\":{\"type\":\"string\"},"
    "\"if\":" D7_SELF ",\"then\":" D7_SELF ",\"else\":" D7_SELF ","
    "\"allOf\":" D7_SARR ",\"anyOf\":" D7_SARR ",\"oneOf\":" D7_SARR ","
    "\"not\":" D7_SELF "},\"default\":true}";

static const struct {
    const char *uri;
    const char *text;
} builtin_docs[] = {
    {META_2020 "schema", meta_2020_schema},
    {META_2020 "meta/core", meta_2020_core},
    {META_2020 "meta/applicator", meta_2020_applicator},
    {META_2020 "meta/unevaluated", meta_2020_unevaluated},
    {META_2020 "meta/validation", meta_2020_validation},
    {META_2020 "meta/meta-data", meta_2020_meta_data},
    {META_2020 "meta/format-annotation", meta_2020_format_annotation},
    {META_2020 "meta/format-assertion", meta_2020_format_assertion},
    {META_2020 "meta/content", meta_2020_content},
    {"http://json-schema.org/draft-07/schema", meta_draft7},
};

/* ------------------------------------------------------------------------------------
 * Pointer-keyed hash map (compile time only)
 * ---------------------------------------------------------------------------------- */

typedef struct pmap_ent {
    const void *k;
    void *info; /* sch_info * */
    sch_node *node;
} pmap_ent;

typedef struct pmap {
    pmap_ent *e;
    size_t cap, n;
} pmap;

static size_t pmap_slot(const pmap *m, const void *k) {
    size_t h = (size_t)(((uintptr_t)k >> 4) * 0x9e3779b97f4a7c15ull);
    size_t i = h & (m->cap - 1);
    while (m->e[i].k && m->e[i].k != k)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static pmap_ent *pmap_find(const pmap *m, const void *k) {
    if (!m->cap)
        return NULL;
    size_t i = pmap_slot(m, k);
    return m->e[i].k ? &m->e[i] : NULL;
}

static pmap_ent *pmap_put(const rr_alloc *a, pmap *m, const void *k) {
    if ((m->n + 1) * 2 > m->cap) {
        pmap old = *m;
        m->cap = old.cap ? old.cap * 2 : 256;
        m->e = rr_calloc(a, m->cap, sizeof *m->e);
        if (!m->e) {
            *m = old;
            return NULL;
        }
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.e[i].k)
                m->e[pmap_slot(m, old.e[i].k)] = old.e[i], m->n++;
        rr_free(a, old.e);
    }
    size_t i = pmap_slot(m, k);
    if (!m->e[i].k) {
        m->e[i].k = k;
        m->n++;
    }
    return &m->e[i];
}

/* ------------------------------------------------------------------------------------
 * URIs (RFC 3986 reference resolution)
 * ---------------------------------------------------------------------------------- */

typedef struct uri_parts {
    const char *s;
    size_t scheme_end; /* index of ':' or 0 when no scheme */
    bool has_scheme, has_auth, has_query, has_frag;
    size_t auth_b, auth_e, path_b, path_e, query_b, query_e, frag_b, frag_e;
} uri_parts;

static bool is_scheme_char(char c, bool first) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return !first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.');
}

static void uri_split(const char *s, uri_parts *p) {
    memset(p, 0, sizeof *p);
    p->s = s;
    size_t n = strlen(s), i = 0;
    while (i < n && is_scheme_char(s[i], i == 0))
        i++;
    size_t pos = 0;
    if (i > 0 && i < n && s[i] == ':') {
        p->has_scheme = true;
        p->scheme_end = i;
        pos = i + 1;
    }
    if (pos + 1 < n + 1 && s[pos] == '/' && s[pos + 1] == '/') {
        p->has_auth = true;
        p->auth_b = pos + 2;
        pos += 2;
        while (pos < n && s[pos] != '/' && s[pos] != '?' && s[pos] != '#')
            pos++;
        p->auth_e = pos;
    }
    p->path_b = pos;
    while (pos < n && s[pos] != '?' && s[pos] != '#')
        pos++;
    p->path_e = pos;
    if (pos < n && s[pos] == '?') {
        p->has_query = true;
        p->query_b = ++pos;
        while (pos < n && s[pos] != '#')
            pos++;
        p->query_e = pos;
    }
    if (pos < n && s[pos] == '#') {
        p->has_frag = true;
        p->frag_b = pos + 1;
        p->frag_e = n;
    }
}

/* RFC 3986 5.2.4, writing the result to `out`. */
static void remove_dots(rr_buf *out, const char *in, size_t n) {
    size_t start = out->len, i = 0;
    while (i < n) {
        if (n - i >= 3 && memcmp(in + i, "../", 3) == 0) {
            i += 3;
        } else if (n - i >= 2 && memcmp(in + i, "./", 2) == 0) {
            i += 2;
        } else if (n - i >= 3 && memcmp(in + i, "/./", 3) == 0) {
            i += 2;
        } else if (n - i == 2 && memcmp(in + i, "/.", 2) == 0) {
            i += 1;
            rr_buf_putc(out, '/');
            i = n;
        } else if ((n - i >= 4 && memcmp(in + i, "/../", 4) == 0) ||
                   (n - i == 3 && memcmp(in + i, "/..", 3) == 0)) {
            bool last = n - i == 3;
            i += 3;
            while (out->len > start && out->p[out->len - 1] != '/')
                out->len--;
            if (out->len > start)
                out->len--;
            if (last) {
                rr_buf_putc(out, '/');
                i = n;
            }
        } else if ((n - i == 1 && in[i] == '.') || (n - i == 2 && memcmp(in + i, "..", 2) == 0)) {
            i = n;
        } else {
            size_t j = i + (in[i] == '/' ? 1 : 0);
            while (j < n && in[j] != '/')
                j++;
            rr_buf_put(out, in + i, j - i);
            i = j;
        }
    }
    if (out->p)
        out->p[out->len] = 0;
}

#define PART(p, b, e) (p).s + (p).b, (p).e - (p).b

/* Resolve `ref` against the absolute `base` into `out` (cleared first). */
static void uri_resolve(rr_buf *out, const char *base, const char *ref) {
    uri_parts B, R;
    uri_split(base, &B);
    uri_split(ref, &R);
    rr_buf_clear(out);
    const uri_parts *auth_from = &R, *query_from = &R;
    const uri_parts *scheme_from = R.has_scheme ? &R : &B;
    if (scheme_from->has_scheme) {
        rr_buf_put(out, scheme_from->s, scheme_from->scheme_end);
        rr_buf_putc(out, ':');
    }
    if (!R.has_scheme && !R.has_auth)
        auth_from = &B;
    if (auth_from->has_auth) {
        rr_buf_puts(out, "//");
        rr_buf_put(out, PART(*auth_from, auth_b, auth_e));
    }
    if (R.has_scheme || R.has_auth) {
        remove_dots(out, PART(R, path_b, path_e));
    } else if (R.path_e == R.path_b) {
        rr_buf_put(out, PART(B, path_b, path_e));
        if (!R.has_query)
            query_from = &B;
    } else if (R.s[R.path_b] == '/') {
        remove_dots(out, PART(R, path_b, path_e));
    } else {
        rr_buf merged;
        rr_buf_init(&merged, out->a);
        if (B.has_auth && B.path_e == B.path_b) {
            rr_buf_putc(&merged, '/');
        } else {
            size_t e = B.path_e;
            while (e > B.path_b && B.s[e - 1] != '/')
                e--;
            rr_buf_put(&merged, B.s + B.path_b, e - B.path_b);
        }
        rr_buf_put(&merged, PART(R, path_b, path_e));
        if (merged.oom)
            out->oom = true;
        else
            remove_dots(out, merged.p, merged.len);
        rr_buf_free(&merged);
    }
    if (query_from->has_query) {
        rr_buf_putc(out, '?');
        rr_buf_put(out, PART(*query_from, query_b, query_e));
    }
    if (R.has_frag) {
        rr_buf_putc(out, '#');
        rr_buf_put(out, PART(R, frag_b, frag_e));
    }
}

static bool uri_is_absolute(const char *u) {
    uri_parts p;
    uri_split(u, &p);
    return p.has_scheme;
}

/* ------------------------------------------------------------------------------------
 * Registry
 * ---------------------------------------------------------------------------------- */

typedef struct reg_ent {
    char *uri; /* without fragment */
    json_t *doc;
} reg_ent;

struct rr_schema_registry {
    rr_alloc a;
    reg_ent *e;
    size_t n, cap;
};

/* Copy `uri` without its fragment (a lookup key). */
static char *uri_key(const rr_alloc *a, const char *uri) {
    const char *h = strchr(uri, '#');
    return rr_strndup(a, uri, h ? (size_t)(h - uri) : strlen(uri));
}

int rr_schema_registry_new(rr_schema_registry **out, const rr_allocator *allocator) {
    if (!out)
        return RR_EINVAL;
    rr_alloc a;
    rr_alloc_init(&a, allocator);
    rr_schema_registry *r = rr_calloc(&a, 1, sizeof *r);
    if (!r)
        return RR_ENOMEM;
    r->a = a;
    *out = r;
    return RR_OK;
}

static json_t *reg_find(const rr_schema_registry *r, const char *key) {
    for (size_t i = 0; r && i < r->n; i++)
        if (strcmp(r->e[i].uri, key) == 0)
            return r->e[i].doc;
    return NULL;
}

int rr_schema_registry_add(rr_schema_registry *r, const char *uri, const char *json, size_t len,
                           rr_error *err) {
    if (!r || !uri || !json)
        return rr_err(err, RR_EINVAL, "registry, uri and json are required");
    if (!uri_is_absolute(uri))
        return rr_err(err, RR_EINVAL, "registry URI \"%s\" is not absolute", uri);
    char *key = uri_key(&r->a, uri);
    if (!key)
        return rr_err(err, RR_ENOMEM, "out of memory");
    if (reg_find(r, key)) {
        rr_free(&r->a, key);
        return rr_err(err, RR_EINVAL, "registry URI \"%s\" is already registered", uri);
    }
    json_error_t je;
    json_t *doc = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!doc && json_error_code(&je) == json_error_numeric_overflow)
        doc =
            json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    if (!doc) {
        rr_free(&r->a, key);
        return rr_err_at(err, RR_EJSON, "", (uint32_t)je.line, (uint32_t)je.column, 0,
                         "%s: line %d column %d: %s", uri, je.line, je.column, je.text);
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        reg_ent *e = rr_realloc(&r->a, r->e, r->cap * sizeof *e, cap * sizeof *e);
        if (!e) {
            json_decref(doc);
            rr_free(&r->a, key);
            return rr_err(err, RR_ENOMEM, "out of memory");
        }
        r->e = e;
        r->cap = cap;
    }
    r->e[r->n].uri = key;
    r->e[r->n].doc = doc;
    r->n++;
    return RR_OK;
}

void rr_schema_registry_free(rr_schema_registry *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        rr_free(&r->a, r->e[i].uri);
        json_decref(r->e[i].doc);
    }
    rr_free(&r->a, r->e);
    rr_alloc a = r->a;
    rr_free(&a, r);
}

/* ------------------------------------------------------------------------------------
 * Compiler: index documents, then build nodes
 * ---------------------------------------------------------------------------------- */

typedef struct sch_info {
    sch_res *res;
    const char *ptr;
} sch_info;

typedef struct uri_ent {
    const char *uri;
    json_t *target;
    bool dynamic; /* an anchor made by "$dynamicAnchor" */
} uri_ent;

typedef struct cc {
    rr_schema *s;
    sch_blk *tmp;
    pmap map;
    uri_ent *uris;
    size_t nuris, capuris;
    sch_res **res;
    size_t nres, capres;
    const rr_schema_registry *reg;
    rr_error *err;
    rr_buf buf;
    int default_dialect;
    int depth;  /* compile recursion */
    int wdepth; /* index walk recursion */
    bool failed;
    int code; /* the first failure's code */
} cc;

static int cc_fail(cc *c, int code, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int cc_fail(cc *c, int code, const char *ptr, const char *fmt, ...) {
    if (c->failed)
        return code;
    c->failed = true;
    c->code = code;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rr_err_at(c->err, code, ptr ? ptr : "", 0, 0, 0, "%s", msg);
}

static int cc_oom(cc *c) {
    return cc_fail(c, RR_ENOMEM, "", "out of memory while compiling the schema");
}

static char *cc_strndup(cc *c, sch_blk **arena, const char *s, size_t n) {
    char *d = sch_arena_alloc(&c->s->a, arena, n + 1);
    if (!d) {
        cc_oom(c);
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* `ptr` + "/" + escaped `seg`, in the compile arena. */
static const char *ptr_join(cc *c, const char *ptr, const char *seg, size_t n) {
    rr_buf b;
    rr_buf_init(&b, &c->s->a);
    rr_buf_puts(&b, ptr);
    rr_buf_putc(&b, '/');
    for (size_t i = 0; i < n; i++) {
        if (seg[i] == '~')
            rr_buf_puts(&b, "~0");
        else if (seg[i] == '/')
            rr_buf_puts(&b, "~1");
        else
            rr_buf_putc(&b, seg[i]);
    }
    const char *r = b.oom ? NULL : cc_strndup(c, &c->tmp, b.p, b.len);
    if (b.oom)
        cc_oom(c);
    rr_buf_free(&b);
    return r;
}

static const char *ptr_idx(cc *c, const char *ptr, size_t i) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%zu", i);
    return ptr_join(c, ptr, tmp, (size_t)n);
}

static bool keep_doc(cc *c, json_t *doc) {
    rr_schema *s = c->s;
    if (s->ndocs == s->capdocs) {
        size_t cap = s->capdocs ? s->capdocs * 2 : 8;
        json_t **d = rr_realloc(&s->a, s->docs, s->capdocs * sizeof *d, cap * sizeof *d);
        if (!d)
            return false;
        s->docs = d;
        s->capdocs = cap;
    }
    s->docs[s->ndocs++] = doc;
    return true;
}

static uri_ent *find_uri(cc *c, const char *uri) {
    for (size_t i = 0; i < c->nuris; i++)
        if (strcmp(c->uris[i].uri, uri) == 0)
            return &c->uris[i];
    return NULL;
}

static int add_uri(cc *c, const char *uri, size_t n, json_t *target, bool dynamic) {
    char *u = cc_strndup(c, &c->tmp, uri, n);
    if (!u)
        return RR_ENOMEM;
    uri_ent *old = find_uri(c, u);
    if (old)
        return RR_OK; /* first definition wins */
    if (c->nuris == c->capuris) {
        size_t cap = c->capuris ? c->capuris * 2 : 32;
        uri_ent *e = rr_realloc(&c->s->a, c->uris, c->capuris * sizeof *e, cap * sizeof *e);
        if (!e)
            return cc_oom(c);
        c->uris = e;
        c->capuris = cap;
    }
    c->uris[c->nuris++] = (uri_ent){u, target, dynamic};
    return RR_OK;
}

static int add_res(cc *c, sch_res *r) {
    if (c->nres == c->capres) {
        size_t cap = c->capres ? c->capres * 2 : 16;
        sch_res **e = rr_realloc(&c->s->a, c->res, c->capres * sizeof *e, cap * sizeof *e);
        if (!e)
            return cc_oom(c);
        c->res = e;
        c->capres = cap;
    }
    c->res[c->nres++] = r;
    return RR_OK;
}

static bool uri_eq(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '#')
        la--;
    if (lb && b[lb - 1] == '#')
        lb--;
    return la == lb && memcmp(a, b, la) == 0;
}

static json_t *find_doc(cc *c, const char *key, bool *owned);

/* The dialect and vocabularies a "$schema" URI selects. */
/* Vocabularies a custom meta-schema's "$vocabulary" turns on. Unknown required ones are an
 * error, as the spec asks. */
static int vocab_from_meta(cc *c, json_t *voc, const char *ptr, sch_res *r) {
    static const struct {
        const char *suffix;
        uint32_t bit;
    } known[] = {{"core", V_CORE},
                 {"applicator", V_APPLICATOR},
                 {"unevaluated", V_UNEVALUATED},
                 {"validation", V_VALIDATION},
                 {"format-assertion", V_FORMAT_ASSERT},
                 {"format-annotation", 0},
                 {"format", 0},
                 {"meta-data", 0},
                 {"content", 0}};
    const char *k;
    json_t *v;
    r->vocab = 0;
    json_object_foreach(voc, k, v) {
        bool found = false;
        for (size_t i = 0; i < RR_ARRAY_LEN(known) && !found; i++) {
            char full[128], full19[128];
            snprintf(full, sizeof full, "%svocab/%s", META_2020, known[i].suffix);
            snprintf(full19, sizeof full19, "https://json-schema.org/draft/2019-09/vocab/%s",
                     known[i].suffix);
            if (strcmp(k, full) == 0 || strcmp(k, full19) == 0) {
                found = true;
                r->vocab |= known[i].bit; /* format-assertion is implemented: even if optional */
            }
        }
        if (!found && json_is_true(v))
            return cc_fail(c, RR_ESCHEMA, ptr, "required vocabulary \"%s\" is not supported", k);
    }
    if (r->dialect == D_2019)
        r->vocab |= V_UNEVALUATED; /* part of the applicator vocabulary there */
    return RR_OK;
}

static bool known_dialect(const char *uri, sch_res *r) {
    int d = uri_eq(uri, META_2020 "schema")                               ? D_2020
            : uri_eq(uri, "https://json-schema.org/draft/2019-09/schema") ? D_2019
            : uri_eq(uri, "http://json-schema.org/draft-07/schema") ||
                    uri_eq(uri, "https://json-schema.org/draft-07/schema")
                ? D_07
                : 0;
    if (d) {
        r->dialect = d;
        r->vocab = V_ALL;
    }
    return d != 0;
}

/* The dialect and vocabularies a "$schema" URI selects: a known draft, or a registered
 * meta-schema (whose own "$schema" gives the dialect and "$vocabulary" the keywords). */
static int schema_dialect(cc *c, const char *uri, const char *ptr, int depth, sch_res *r) {
    if (known_dialect(uri, r))
        return RR_OK;
    char key[512];
    snprintf(key, sizeof key, "%.*s", (int)strcspn(uri, "#"), uri);
    bool owned = false;
    json_t *meta = depth < 8 ? find_doc(c, key, &owned) : NULL;
    if (!meta || !json_is_object(meta)) {
        if (owned)
            json_decref(meta);
        return cc_fail(c, RR_ESCHEMA, ptr, "unknown $schema \"%s\" (register it first)", uri);
    }
    json_t *ms = json_object_get(meta, "$schema");
    int rc = json_is_string(ms) && !uri_eq(json_string_value(ms), key)
                 ? schema_dialect(c, json_string_value(ms), ptr, depth + 1, r)
                 : (r->dialect = D_2020, r->vocab = V_ALL, RR_OK);
    json_t *voc = json_object_get(meta, "$vocabulary");
    if (rc == RR_OK && json_is_object(voc) && r->dialect != D_07)
        rc = vocab_from_meta(c, voc, ptr, r);
    if (owned)
        json_decref(meta);
    return rc;
}

static int walk(cc *c, json_t *s, sch_res *res, const char *ptr, const char *base);

static int walk_map(cc *c, json_t *obj, sch_res *res, const char *ptr, const char *kw) {
    json_t *m = json_object_get(obj, kw);
    if (!json_is_object(m))
        return RR_OK;
    const char *mp = ptr_join(c, ptr, kw, strlen(kw));
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        if (!mp || walk(c, v, res, ptr_join(c, mp, k, strlen(k)), NULL) != RR_OK)
            return RR_ESCHEMA;
    }
    return RR_OK;
}

static int walk_children(cc *c, json_t *s, sch_res *res, const char *ptr) {
    static const char *const single[] = {"additionalProperties",
                                         "propertyNames",
                                         "items",
                                         "additionalItems",
                                         "contains",
                                         "if",
                                         "then",
                                         "else",
                                         "not",
                                         "unevaluatedItems",
                                         "unevaluatedProperties",
                                         "contentSchema"};
    static const char *const arrays[] = {"prefixItems", "items", "allOf", "anyOf", "oneOf"};
    static const char *const maps[] = {
        "$defs",       "definitions", "properties", "patternProperties", "dependentSchemas",
        "dependencies"};
    for (size_t i = 0; i < RR_ARRAY_LEN(single); i++) {
        json_t *v = json_object_get(s, single[i]);
        if (v && !json_is_array(v) &&
            walk(c, v, res, ptr_join(c, ptr, single[i], strlen(single[i])), NULL) != RR_OK)
            return RR_ESCHEMA;
    }
    for (size_t i = 0; i < RR_ARRAY_LEN(arrays); i++) {
        json_t *a = json_object_get(s, arrays[i]);
        if (!json_is_array(a))
            continue;
        const char *ap = ptr_join(c, ptr, arrays[i], strlen(arrays[i]));
        for (size_t k = 0; ap && k < json_array_size(a); k++)
            if (walk(c, json_array_get(a, k), res, ptr_idx(c, ap, k), NULL) != RR_OK)
                return RR_ESCHEMA;
    }
    for (size_t i = 0; i < RR_ARRAY_LEN(maps); i++)
        if (walk_map(c, s, res, ptr, maps[i]) != RR_OK)
            return RR_ESCHEMA;
    return c->failed ? RR_ESCHEMA : RR_OK;
}

static sch_res *new_res(cc *c, const char *uri, size_t n, const sch_res *parent) {
    sch_res *r = sch_arena_alloc(&c->s->a, &c->s->arena, sizeof *r);
    char *u = r ? cc_strndup(c, &c->s->arena, uri, n) : NULL;
    if (!r || !u || add_res(c, r) != RR_OK) {
        cc_oom(c);
        return NULL;
    }
    r->uri = u;
    if (parent) {
        r->dialect = parent->dialect;
        r->vocab = parent->vocab;
    } else {
        r->dialect = c->default_dialect;
        r->vocab = V_ALL;
    }
    return r;
}

static int add_dyn(cc *c, sch_res *r, const char *name, json_t *js) {
    sch_dyn *d = sch_arena_alloc(&c->s->a, &c->s->arena, sizeof *d);
    if (!d)
        return cc_oom(c);
    d->name = name;
    d->js = js;
    d->next = r->dyn;
    r->dyn = d;
    return RR_OK;
}

/* Register the identifiers ("$id", anchors) of object schema `s`; returns its resource. */
static sch_res *walk_ids(cc *c, json_t *s, sch_res *res, const char *ptr, const char *base) {
    json_t *jid = json_object_get(s, "$id");
    json_t *jsch = json_object_get(s, "$schema");
    bool has_ref = json_object_get(s, "$ref") != NULL;
    int dialect = res ? res->dialect : c->default_dialect;
    const char *id = json_is_string(jid) ? json_string_value(jid) : NULL;
    if (dialect == D_07 && res && (has_ref || (id && id[0] == '#'))) {
        if (id && id[0] == '#' && !has_ref) {
            rr_buf_clear(&c->buf);
            rr_buf_puts(&c->buf, res->uri);
            rr_buf_puts(&c->buf, id);
            if (c->buf.oom || add_uri(c, c->buf.p, c->buf.len, s, false) != RR_OK)
                return NULL;
        }
        return res;
    }
    if (!base && !id)
        return res;
    uri_resolve(&c->buf, base ? base : res->uri, id ? id : "");
    if (c->buf.oom) {
        cc_oom(c);
        return NULL;
    }
    size_t n = strcspn(c->buf.p, "#");
    sch_res *r = new_res(c, c->buf.p, n, res);
    if (!r || add_uri(c, r->uri, n, s, false) != RR_OK)
        return NULL;
    if (json_is_string(jsch) && schema_dialect(c, json_string_value(jsch), ptr, 0, r) != RR_OK)
        return NULL;
    const char *hash = id ? strchr(id, '#') : NULL;
    if (r->dialect == D_07 && hash && hash[1]) {
        /* draft-07 "$id": "other.json#name" also names a plain-name fragment */
        uri_resolve(&c->buf, base ? base : res->uri, id);
        if (c->buf.oom || add_uri(c, c->buf.p, c->buf.len, s, false) != RR_OK)
            return NULL;
    }
    return r;
}

static int walk_anchors(cc *c, json_t *s, sch_res *res) {
    if (res->dialect == D_07)
        return RR_OK;
    json_t *a = json_object_get(s, "$anchor");
    json_t *d = res->dialect == D_2020 ? json_object_get(s, "$dynamicAnchor") : NULL;
    json_t *names[2] = {a, d};
    for (int i = 0; i < 2; i++) {
        if (!json_is_string(names[i]))
            continue;
        rr_buf_clear(&c->buf);
        rr_buf_printf(&c->buf, "%s#%s", res->uri, json_string_value(names[i]));
        if (c->buf.oom || add_uri(c, c->buf.p, c->buf.len, s, i == 1) != RR_OK)
            return cc_oom(c);
        if (i == 1 && add_dyn(c, res, json_string_value(d), s) != RR_OK)
            return RR_ENOMEM;
    }
    json_t *ra = json_object_get(s, "$recursiveAnchor");
    if (res->dialect == D_2019 && json_is_true(ra) && add_dyn(c, res, "", s) != RR_OK)
        return RR_ENOMEM;
    return RR_OK;
}

/* Index `s`: its info (resource, location) and every identifier inside it. `base` is the
 * retrieval URI when `s` is a document root, else NULL. */
static int walk(cc *c, json_t *s, sch_res *res, const char *ptr, const char *base) {
    if (!ptr || c->failed)
        return cc_oom(c);
    if (json_is_boolean(s))
        return RR_OK;
    pmap_ent *e = pmap_put(&c->s->a, &c->map, s);
    if (!e)
        return cc_oom(c);
    if (e->info)
        return RR_OK;
    sch_info *info = sch_arena_alloc(&c->s->a, &c->tmp, sizeof *info);
    if (!info)
        return cc_oom(c);
    e->info = info;
    info->ptr = ptr;
    info->res = res;
    if (!json_is_object(s))
        return RR_OK;
    if (++c->wdepth > 256)
        return cc_fail(c, RR_EDEPTH, ptr, "schema nested too deeply");
    sch_res *r = walk_ids(c, s, res, ptr, base);
    int rc = r ? walk_anchors(c, s, r) : RR_ESCHEMA;
    if (rc == RR_OK) {
        info->res = r;
        rc = walk_children(c, s, r, ptr);
    }
    c->wdepth--;
    return c->failed ? c->code : rc;
}

/* The document registered (or built in) under `key`; *owned when the caller must
 * json_decref it (a built-in parsed just now). */
static json_t *find_doc(cc *c, const char *key, bool *owned) {
    *owned = false;
    json_t *d = reg_find(c->reg, key);
    if (d)
        return d;
    for (size_t i = 0; i < RR_ARRAY_LEN(builtin_docs); i++) {
        if (strcmp(builtin_docs[i].uri, key) == 0) {
            *owned = true;
            return json_loads(builtin_docs[i].text, 0, NULL);
        }
    }
    return NULL;
}

/* Make the document at `key` known; false if there is none. */
static bool load_doc(cc *c, const char *key) {
    bool owned;
    json_t *doc = find_doc(c, key, &owned);
    if (!doc)
        return false;
    if (owned ? !keep_doc(c, doc) : !keep_doc(c, json_incref(doc))) {
        json_decref(doc);
        cc_oom(c);
        return false;
    }
    pmap_ent *e = pmap_find(&c->map, doc);
    if (!e || !e->info) {
        char *uri_ptr = cc_strndup(c, &c->tmp, key, strlen(key));
        if (!uri_ptr)
            return false;
        char *p;
        rr_buf tmp;
        rr_buf_init(&tmp, &c->s->a);
        rr_buf_printf(&tmp, "%s#", key);
        p = tmp.oom ? NULL : cc_strndup(c, &c->tmp, tmp.p, tmp.len);
        rr_buf_free(&tmp);
        if (!p || walk(c, doc, NULL, p, uri_ptr) != RR_OK)
            return false;
    }
    return add_uri(c, key, strlen(key), doc, false) == RR_OK;
}

static size_t pct_decode(char *s) {
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        int h1, h2;
        if (s[i] == '%' && s[i + 1] && s[i + 2] &&
            sscanf((char[]){s[i + 1], s[i + 2], 0}, "%1x%1x", &h1, &h2) == 2) {
            s[o++] = (char)(h1 * 16 + h2);
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    s[o] = 0;
    return o;
}

/* Follow the JSON pointer `frag` ("/a/b") from `root`. */
static json_t *ptr_get(json_t *root, const char *frag, size_t len) {
    json_t *cur = root;
    size_t i = 0;
    char seg[512];
    while (cur && i < len) {
        if (frag[i] != '/')
            return NULL;
        i++;
        size_t n = 0;
        while (i < len && frag[i] != '/') {
            char ch = frag[i++];
            if (ch == '~' && i < len && (frag[i] == '0' || frag[i] == '1'))
                ch = frag[i++] == '0' ? '~' : '/';
            if (n + 1 >= sizeof seg)
                return NULL;
            seg[n++] = ch;
        }
        seg[n] = 0;
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, seg, n);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long k = strtoul(seg, &end, 10);
            if (!n || *end || (n > 1 && seg[0] == '0'))
                return NULL;
            cur = json_array_get(cur, k);
        } else {
            return NULL;
        }
    }
    return cur;
}

/* Resolve reference `ref` against `base` to a schema value. *dyn_name receives the
 * fragment when it names a "$dynamicAnchor" (NULL otherwise). */
static json_t *resolve_ref(cc *c, const char *base, const char *ref, const char *ptr,
                           const char **dyn_name) {
    *dyn_name = NULL;
    uri_resolve(&c->buf, base, ref);
    if (c->buf.oom) {
        cc_oom(c);
        return NULL;
    }
    char *abs = cc_strndup(c, &c->tmp, c->buf.p, c->buf.len);
    if (!abs)
        return NULL;
    char *hash = strchr(abs, '#');
    char *frag = hash ? hash + 1 : abs + strlen(abs);
    if (hash)
        *hash = 0;
    uri_ent *e = find_uri(c, abs);
    if (!e && (c->failed || !load_doc(c, abs) || !(e = find_uri(c, abs)))) {
        cc_fail(c, RR_ESCHEMA, ptr, "$ref \"%s\" names no known document (\"%s\")", ref, abs);
        return NULL;
    }
    json_t *root = e->target;
    size_t flen = pct_decode(frag);
    if (!flen)
        return root;
    if (frag[0] == '/') {
        json_t *t = ptr_get(root, frag, flen);
        if (!t) {
            cc_fail(c, RR_ESCHEMA, ptr, "$ref \"%s\": pointer does not exist", ref);
            return NULL;
        }
        pmap_ent *te = pmap_find(&c->map, t);
        if (!json_is_boolean(t) && (!te || !te->info)) {
            pmap_ent *re = pmap_find(&c->map, root);
            sch_info *ri = re ? re->info : NULL;
            rr_buf_clear(&c->buf);
            rr_buf_printf(&c->buf, "%s#%s", abs, frag);
            const char *tp = c->buf.oom ? NULL : cc_strndup(c, &c->tmp, c->buf.p, c->buf.len);
            if (!ri || walk(c, t, ri->res, tp, NULL) != RR_OK)
                return NULL;
        }
        return t;
    }
    rr_buf_clear(&c->buf);
    rr_buf_printf(&c->buf, "%s#%s", abs, frag);
    uri_ent *a = c->buf.oom ? NULL : find_uri(c, c->buf.p);
    if (!a) {
        cc_fail(c, RR_ESCHEMA, ptr, "$ref \"%s\": no anchor \"%s\" in \"%s\"", ref, frag, abs);
        return NULL;
    }
    if (a->dynamic)
        *dyn_name = cc_strndup(c, &c->s->arena, frag, flen);
    return a->target;
}

static sch_node *compile(cc *c, json_t *j);

static int bad(cc *c, const sch_node *n, const char *kw, const char *what) {
    const char *p = ptr_join(c, n->ptr, kw, strlen(kw));
    return cc_fail(c, RR_ESCHEMA, p ? p : n->ptr, "\"%s\" %s", kw, what);
}

static const sch_node *child(cc *c, json_t *j) {
    return c->failed ? NULL : compile(c, j);
}

static int get_nonneg(cc *c, sch_node *n, json_t *j, const char *kw, uint64_t *out) {
    json_t *v = json_object_get(j, kw);
    if (!v)
        return 0;
    double d = json_number_value(v);
    if (!json_is_number(v) || d < 0 || d != floor(d) || d > 9e18) {
        bad(c, n, kw, "must be a non-negative integer");
        return -1;
    }
    *out = json_is_integer(v) ? (uint64_t)json_integer_value(v) : (uint64_t)d;
    return 1;
}

static int get_num(cc *c, sch_node *n, json_t *j, const char *kw, sch_num *out) {
    json_t *v = json_object_get(j, kw);
    if (!v)
        return 0;
    if (!json_is_number(v)) {
        bad(c, n, kw, "must be a number");
        return -1;
    }
    out->d = json_number_value(v);
    out->is_int = json_is_integer(v);
    out->i = out->is_int ? json_integer_value(v) : 0;
    return 1;
}

static int get_strs(cc *c, sch_node *n, json_t *arr, const char *kw, sch_strs *out) {
    if (!json_is_array(arr))
        return bad(c, n, kw, "must be an array of strings");
    size_t k = json_array_size(arr);
    out->n = k;
    out->v = sch_arena_alloc(&c->s->a, &c->s->arena, (k + 1) * sizeof *out->v);
    out->vlen = sch_arena_alloc(&c->s->a, &c->s->arena, (k + 1) * sizeof *out->vlen);
    if (!out->v || !out->vlen)
        return cc_oom(c);
    for (size_t i = 0; i < k; i++) {
        json_t *s = json_array_get(arr, i);
        if (!json_is_string(s))
            return bad(c, n, kw, "must be an array of strings");
        out->v[i] = json_string_value(s);
        out->vlen[i] = json_string_length(s);
    }
    return RR_OK;
}

static const struct {
    const char *name;
    uint8_t bit;
} type_names[] = {{"null", T_NULL},  {"boolean", T_BOOL}, {"object", T_OBJ}, {"array", T_ARR},
                  {"number", T_NUM}, {"string", T_STR},   {"integer", T_INT}};

static int type_bit(json_t *v) {
    for (size_t i = 0; json_is_string(v) && i < RR_ARRAY_LEN(type_names); i++)
        if (strcmp(json_string_value(v), type_names[i].name) == 0)
            return type_names[i].bit;
    return 0;
}

static int compile_type(cc *c, sch_node *n, json_t *t) {
    if (json_is_array(t)) {
        size_t i;
        json_t *v;
        json_array_foreach(t, i, v) {
            int b = type_bit(v);
            if (!b)
                return bad(c, n, "type", "must name JSON types");
            n->types |= (uint8_t)b;
        }
    } else {
        int b = type_bit(t);
        if (!b)
            return bad(c, n, "type", "must be a JSON type name or an array of them");
        n->types = (uint8_t)b;
    }
    n->kw |= KB(K_TYPE);
    return RR_OK;
}

static int compile_numbers(cc *c, sch_node *n, json_t *j) {
    static const struct {
        const char *kw;
        int k;
        size_t off;
    } nums[] = {{"multipleOf", K_MULTOF, offsetof(sch_node, multof)},
                {"minimum", K_MIN, offsetof(sch_node, min)},
                {"maximum", K_MAX, offsetof(sch_node, max)},
                {"exclusiveMinimum", K_XMIN, offsetof(sch_node, xmin)},
                {"exclusiveMaximum", K_XMAX, offsetof(sch_node, xmax)}};
    for (size_t i = 0; i < RR_ARRAY_LEN(nums); i++) {
        int r = get_num(c, n, j, nums[i].kw, (sch_num *)((char *)n + nums[i].off));
        if (r < 0)
            return RR_ESCHEMA;
        if (r > 0)
            n->kw |= KB(nums[i].k);
    }
    if ((n->kw & KB(K_MULTOF)) && !(n->multof.d > 0))
        return bad(c, n, "multipleOf", "must be greater than 0");
    static const struct {
        const char *kw;
        int k;
        size_t off;
    } lens[] = {{"minLength", K_MINLEN, offsetof(sch_node, minlen)},
                {"maxLength", K_MAXLEN, offsetof(sch_node, maxlen)},
                {"minItems", K_MINITEMS, offsetof(sch_node, minitems)},
                {"maxItems", K_MAXITEMS, offsetof(sch_node, maxitems)},
                {"minProperties", K_MINPROPS, offsetof(sch_node, minprops)},
                {"maxProperties", K_MAXPROPS, offsetof(sch_node, maxprops)}};
    for (size_t i = 0; i < RR_ARRAY_LEN(lens); i++) {
        int r = get_nonneg(c, n, j, lens[i].kw, (uint64_t *)((char *)n + lens[i].off));
        if (r < 0)
            return RR_ESCHEMA;
        if (r > 0)
            n->kw |= KB(lens[i].k);
    }
    return RR_OK;
}

static int compile_pattern(cc *c, sch_node *n, const char *kw, json_t *v, sch_pat *out) {
    if (!json_is_string(v))
        return bad(c, n, kw, "must be a string");
    char msg[200];
    bool oom;
    out->src = json_string_value(v);
    out->re = sch_regex_compile(c->s, out->src, json_string_length(v), msg, sizeof msg, &oom);
    if (!out->re && oom)
        return cc_oom(c);
    if (!out->re) {
        char what[300];
        snprintf(what, sizeof what, "is not a valid regular expression: %s", msg);
        return bad(c, n, kw, what);
    }
    rr_schema *sc = c->s;
    if (sc->ncodes == sc->capcodes) {
        size_t cap = sc->capcodes ? sc->capcodes * 2 : 8;
        pcre2_code **v = rr_realloc(&sc->a, sc->codes, sc->capcodes * sizeof *v, cap * sizeof *v);
        if (!v) {
            pcre2_code_free(out->re);
            out->re = NULL;
            return cc_oom(c);
        }
        sc->codes = v;
        sc->capcodes = cap;
    }
    sc->codes[sc->ncodes++] = out->re;
    return RR_OK;
}

static int compile_validation(cc *c, sch_node *n, json_t *j) {
    json_t *v;
    if ((v = json_object_get(j, "type")) && compile_type(c, n, v) != RR_OK)
        return RR_ESCHEMA;
    if ((v = json_object_get(j, "const"))) {
        n->cnst = v;
        n->kw |= KB(K_CONST);
    }
    if ((v = json_object_get(j, "enum"))) {
        if (!json_is_array(v))
            return bad(c, n, "enum", "must be an array");
        n->enm = v;
        n->kw |= KB(K_ENUM);
    }
    if (compile_numbers(c, n, j) != RR_OK)
        return RR_ESCHEMA;
    if ((v = json_object_get(j, "pattern"))) {
        if (compile_pattern(c, n, "pattern", v, &n->pattern) != RR_OK)
            return RR_ESCHEMA;
        n->kw |= KB(K_PATTERN);
    }
    if ((v = json_object_get(j, "uniqueItems"))) {
        if (!json_is_boolean(v))
            return bad(c, n, "uniqueItems", "must be a boolean");
        if (json_is_true(v))
            n->kw |= KB(K_UNIQUE);
    }
    if ((v = json_object_get(j, "required"))) {
        if (get_strs(c, n, v, "required", &n->required) != RR_OK)
            return RR_ESCHEMA;
        if (n->required.n)
            n->kw |= KB(K_REQUIRED);
    }
    return RR_OK;
}

/* "dependentRequired" / "dependentSchemas", or draft-07's "dependencies" holding both. */
static int compile_deps(cc *c, sch_node *n, json_t *j, const char *kw, bool req, bool sch) {
    json_t *m = json_object_get(j, kw);
    if (!m)
        return RR_OK;
    if (!json_is_object(m))
        return bad(c, n, kw, "must be an object");
    size_t cap = json_object_size(m);
    sch_strs *dr = sch_arena_alloc(&c->s->a, &c->s->arena, (cap + 1) * sizeof *dr);
    sch_prop *ds = sch_arena_alloc(&c->s->a, &c->s->arena, (cap + 1) * sizeof *ds);
    if (!dr || !ds)
        return cc_oom(c);
    size_t ndr = 0, nds = 0;
    void *it;
    for (it = json_object_iter(m); it; it = json_object_iter_next(m, it)) {
        json_t *v = json_object_iter_value(it);
        const char *k = json_object_iter_key(it);
        size_t kl = json_object_iter_key_len(it);
        if (req && json_is_array(v)) {
            if (get_strs(c, n, v, kw, &dr[ndr]) != RR_OK)
                return RR_ESCHEMA;
            dr[ndr].name = k;
            dr[ndr++].len = kl;
        } else if (sch && (json_is_object(v) || json_is_boolean(v))) {
            ds[nds] = (sch_prop){k, kl, child(c, v), 0};
            if (!ds[nds++].node)
                return RR_ESCHEMA;
        } else {
            return bad(c, n, kw,
                       req && sch ? "values must be arrays of strings or schemas"
                       : req      ? "values must be arrays of strings"
                                  : "values must be schemas");
        }
    }
    if (ndr) {
        /* "dependencies" and "dependentRequired" may both be present: keep both. */
        sch_strs *all = sch_arena_alloc(&c->s->a, &c->s->arena, (n->ndepreq + ndr) * sizeof *all);
        if (!all)
            return cc_oom(c);
        if (n->ndepreq)
            memcpy(all, n->depreq, n->ndepreq * sizeof *all);
        memcpy(all + n->ndepreq, dr, ndr * sizeof *all);
        n->depreq = all;
        n->ndepreq += ndr;
        n->kw |= KB(K_DEPREQ);
    }
    if (nds) {
        sch_prop *all = sch_arena_alloc(&c->s->a, &c->s->arena, (n->ndepsch + nds) * sizeof *all);
        if (!all)
            return cc_oom(c);
        if (n->ndepsch)
            memcpy(all, n->depsch, n->ndepsch * sizeof *all);
        memcpy(all + n->ndepsch, ds, nds * sizeof *all);
        n->depsch = all;
        n->ndepsch += nds;
        n->kw |= KB(K_DEPSCH);
    }
    if (strcmp(kw, "dependencies") == 0)
        n->deps_compat = true;
    return RR_OK;
}

static int compile_list(cc *c, sch_node *n, json_t *j, const char *kw, int k, const sch_node ***out,
                        size_t *nout) {
    json_t *a = json_object_get(j, kw);
    if (!a)
        return RR_OK;
    if (!json_is_array(a) || (!json_array_size(a) && k >= 0))
        return bad(c, n, kw, "must be a non-empty array of schemas");
    size_t cnt = json_array_size(a);
    const sch_node **v = sch_arena_alloc(&c->s->a, &c->s->arena, (cnt + 1) * sizeof *v);
    if (!v)
        return cc_oom(c);
    for (size_t i = 0; i < cnt; i++)
        if (!(v[i] = child(c, json_array_get(a, i))))
            return RR_ESCHEMA;
    *out = v;
    *nout = cnt;
    if (k >= 0)
        n->kw |= KB(k);
    return RR_OK;
}

static int compile_one(cc *c, json_t *j, const char *kw, const sch_node **out) {
    json_t *v = json_object_get(j, kw);
    if (!v)
        return 0;
    *out = child(c, v);
    return *out ? 1 : -1;
}

static int build_prop_hash(cc *c, sch_node *n) {
    size_t cap = 16;
    while (cap < n->nprops * 2)
        cap *= 2;
    n->prop_hash = sch_arena_alloc(&c->s->a, &c->s->arena, cap * sizeof *n->prop_hash);
    if (!n->prop_hash)
        return cc_oom(c);
    n->prop_hash_mask = (uint32_t)(cap - 1);
    for (size_t i = 0; i < n->nprops; i++) {
        size_t h = (size_t)XXH3_64bits(n->props[i].name, n->props[i].len) & (cap - 1);
        while (n->prop_hash[h])
            h = (h + 1) & (cap - 1);
        n->prop_hash[h] = (uint32_t)(i + 1);
    }
    return RR_OK;
}

/* Up to 64 names: search a multiplier that maps (first 8 bytes, length) of every name to
 * its own slot, so a lookup is one multiply and one compare. */
static int build_prop_perfect(cc *c, sch_node *n) {
    if (!n->nprops)
        return RR_OK;
    unsigned bits = 3;
    while ((1u << bits) < 2 * n->nprops)
        bits++;
    for (; bits <= 10; bits++) {
        size_t cap = (size_t)1 << bits;
        uint8_t *t = sch_arena_alloc(&c->s->a, &c->s->arena, cap);
        if (!t)
            return cc_oom(c);
        for (uint64_t seed = 1; seed < 200; seed++) {
            uint64_t mult = (seed * 0x9e3779b97f4a7c15ull) | 1;
            memset(t, 0, cap);
            size_t i = 0;
            for (; i < n->nprops; i++) {
                uint32_t h = prop_slot(n->props[i].w8, n->props[i].len, mult, 64 - bits);
                if (t[h])
                    break;
                t[h] = (uint8_t)(i + 1);
            }
            if (i == n->nprops) {
                n->prop_perfect = t;
                n->prop_mult = mult;
                n->prop_shift = 64 - bits;
                return RR_OK;
            }
        }
    }
    return RR_OK; /* names that share 8-byte prefixes and lengths: linear search */
}

static int compile_props(cc *c, sch_node *n, json_t *j) {
    json_t *p = json_object_get(j, "properties");
    json_t *pp = json_object_get(j, "patternProperties");
    if ((p && !json_is_object(p)) || (pp && !json_is_object(pp)))
        return bad(c, n, p && !json_is_object(p) ? "properties" : "patternProperties",
                   "must be an object");
    n->nprops = json_object_size(p);
    n->props = sch_arena_alloc(&c->s->a, &c->s->arena, (n->nprops + 1) * sizeof *n->props);
    n->npats = json_object_size(pp);
    n->pats = sch_arena_alloc(&c->s->a, &c->s->arena, (n->npats + 1) * sizeof *n->pats);
    if (!n->props || !n->pats)
        return cc_oom(c);
    size_t i = 0;
    for (void *it = p ? json_object_iter(p) : NULL; it; it = json_object_iter_next(p, it), i++) {
        n->props[i] = (sch_prop){json_object_iter_key(it), json_object_iter_key_len(it),
                                 child(c, json_object_iter_value(it)), 0};
        n->props[i].w8 = word8(n->props[i].name, n->props[i].len);
        if (!n->props[i].node)
            return RR_ESCHEMA;
    }
    if (n->nprops > 64 ? build_prop_hash(c, n) != RR_OK : build_prop_perfect(c, n) != RR_OK)
        return RR_ESCHEMA;
    i = 0;
    for (void *it = pp ? json_object_iter(pp) : NULL; it; it = json_object_iter_next(pp, it), i++) {
        json_t *ks = json_stringn(json_object_iter_key(it), json_object_iter_key_len(it));
        int rc = ks ? compile_pattern(c, n, "patternProperties", ks, &n->pats[i]) : cc_oom(c);
        json_decref(ks);
        if (rc != RR_OK)
            return RR_ESCHEMA;
        n->pats[i].src = json_object_iter_key(it);
        if (!(n->pats[i].node = child(c, json_object_iter_value(it))))
            return RR_ESCHEMA;
    }
    int r = compile_one(c, j, "additionalProperties", &n->addprops);
    if (r < 0)
        return RR_ESCHEMA;
    if (p || pp || r)
        n->kw |= KB(K_PROPS);
    return RR_OK;
}

static int compile_items(cc *c, sch_node *n, json_t *j, int dialect) {
    json_t *items = json_object_get(j, "items");
    if (dialect == D_2020) {
        if (compile_list(c, n, j, "prefixItems", -1, &n->prefix, &n->nprefix) != RR_OK)
            return RR_ESCHEMA;
        if (items && json_is_array(items))
            return bad(c, n, "items", "must be a schema (use prefixItems for tuples)");
        if (compile_one(c, j, "items", &n->items) < 0)
            return RR_ESCHEMA;
    } else if (json_is_array(items)) {
        if (compile_list(c, n, j, "items", -1, &n->prefix, &n->nprefix) != RR_OK ||
            compile_one(c, j, "additionalItems", &n->items) < 0)
            return RR_ESCHEMA;
        n->items_array = true;
    } else if (compile_one(c, j, "items", &n->items) < 0) {
        return RR_ESCHEMA;
    }
    if (n->nprefix || n->items || json_object_get(j, "prefixItems") || json_is_array(items))
        n->kw |= KB(K_ITEMS);
    return RR_OK;
}

static int compile_contains(cc *c, sch_node *n, json_t *j, int dialect, bool validation) {
    int r = compile_one(c, j, "contains", &n->contains);
    if (r < 0)
        return RR_ESCHEMA;
    n->mincontains = 1;
    if (dialect != D_07 && validation) {
        if (get_nonneg(c, n, j, "minContains", &n->mincontains) < 0)
            return RR_ESCHEMA;
        int m = get_nonneg(c, n, j, "maxContains", &n->maxcontains);
        if (m < 0)
            return RR_ESCHEMA;
        n->has_maxcontains = m > 0;
    }
    if (r)
        n->kw |= KB(K_CONTAINS);
    return RR_OK;
}

static int compile_applicators(cc *c, sch_node *n, json_t *j, int dialect) {
    if (compile_list(c, n, j, "allOf", K_ALLOF, &n->allof, &n->nallof) != RR_OK ||
        compile_list(c, n, j, "anyOf", K_ANYOF, &n->anyof, &n->nanyof) != RR_OK ||
        compile_list(c, n, j, "oneOf", K_ONEOF, &n->oneof, &n->noneof) != RR_OK)
        return RR_ESCHEMA;
    int r;
    if ((r = compile_one(c, j, "not", &n->not_)) < 0)
        return RR_ESCHEMA;
    if (r)
        n->kw |= KB(K_NOT);
    if ((r = compile_one(c, j, "if", &n->if_)) < 0 || compile_one(c, j, "then", &n->then_) < 0 ||
        compile_one(c, j, "else", &n->else_) < 0)
        return RR_ESCHEMA;
    if (r)
        n->kw |= KB(K_IF);
    if ((r = compile_one(c, j, "propertyNames", &n->propnames)) < 0)
        return RR_ESCHEMA;
    if (r)
        n->kw |= KB(K_PROPNAMES);
    if (compile_props(c, n, j) != RR_OK || compile_items(c, n, j, dialect) != RR_OK)
        return RR_ESCHEMA;
    return RR_OK;
}

static int compile_unevaluated(cc *c, sch_node *n, json_t *j) {
    int a = compile_one(c, j, "unevaluatedItems", &n->unitems);
    int b = compile_one(c, j, "unevaluatedProperties", &n->unprops);
    if (a < 0 || b < 0)
        return RR_ESCHEMA;
    if (a)
        n->kw |= KB(K_UNITEMS);
    if (b)
        n->kw |= KB(K_UNPROPS);
    n->uneval = a || b;
    return RR_OK;
}

static int compile_format(cc *c, sch_node *n, json_t *j, const sch_res *r) {
    json_t *f = json_object_get(j, "format");
    if (!f)
        return RR_OK;
    if (!json_is_string(f))
        return bad(c, n, "format", "must be a string");
    bool assert = (c->s->flags & RR_SCHEMA_FORMAT_ASSERT) || (r->vocab & V_FORMAT_ASSERT);
    int id = rr_format_id(json_string_value(f));
    if (assert && id > 0) {
        n->format = id;
        n->format_name = json_string_value(f);
        n->kw |= KB(K_FORMAT);
    }
    return RR_OK;
}

static int compile_ref(cc *c, sch_node *n, json_t *j, const char *kw, int k) {
    json_t *r = json_object_get(j, kw);
    if (!r)
        return RR_OK;
    if (!json_is_string(r))
        return bad(c, n, kw, "must be a string");
    const char *dyn = NULL;
    const char *rp = ptr_join(c, n->ptr, kw, strlen(kw));
    json_t *t = resolve_ref(c, n->res->uri, json_string_value(r), rp, &dyn);
    if (!t)
        return RR_ESCHEMA;
    const sch_node *tn = child(c, t);
    if (!tn)
        return RR_ESCHEMA;
    if (k == K_REF) {
        n->ref = tn;
    } else {
        n->dynref = tn;
        if (strcmp(kw, "$recursiveRef") == 0) {
            json_t *ra = json_is_object(t) ? json_object_get(t, "$recursiveAnchor") : NULL;
            dyn = json_is_true(ra) ? "" : NULL;
            n->ref_is_recursive = true;
        }
        n->dyn_name = dyn;
        if (dyn)
            c->s->has_dynamic = true;
    }
    n->kw |= KB(k);
    return RR_OK;
}

/* Fast paths decided once both keyword groups are compiled. */
static int compile_fast_paths(cc *c, sch_node *n) {
    size_t ne = json_array_size(n->enm);
    if (n->kw & KB(K_ENUM)) {
        bool all = ne > 0;
        for (size_t i = 0; all && i < ne; i++)
            all = json_is_string(json_array_get(n->enm, i));
        if (all) {
            n->enum_s = sch_arena_alloc(&c->s->a, &c->s->arena, ne * sizeof *n->enum_s);
            n->enum_len = sch_arena_alloc(&c->s->a, &c->s->arena, ne * sizeof *n->enum_len);
            n->enum_w8 = sch_arena_alloc(&c->s->a, &c->s->arena, ne * sizeof *n->enum_w8);
            if (!n->enum_s || !n->enum_len || !n->enum_w8)
                return cc_oom(c);
            for (size_t i = 0; i < ne; i++) {
                n->enum_s[i] = json_string_value(json_array_get(n->enm, i));
                n->enum_len[i] = json_string_length(json_array_get(n->enm, i));
                n->enum_w8[i] = word8(n->enum_s[i], n->enum_len[i]);
            }
            n->enum_strings = true;
            n->nenum = ne;
        }
    }
    n->str_inline = KB(K_MINLEN) | KB(K_MAXLEN) | (n->enum_strings ? KB(K_ENUM) : 0);
    if (!(n->kw & KB(K_REQUIRED)) || !(n->kw & KB(K_PROPS)) || n->nprops > 64)
        return RR_OK;
    uint64_t mask = 0;
    for (size_t r = 0; r < n->required.n; r++) {
        size_t i = 0;
        while (i < n->nprops && !(n->props[i].len == n->required.vlen[r] &&
                                  memcmp(n->props[i].name, n->required.v[r], n->props[i].len) == 0))
            i++;
        if (i == n->nprops)
            return RR_OK;
        mask |= 1ull << i;
    }
    n->req_mask = mask;
    n->req_in_props = true;
    n->kw &= ~KB(K_REQUIRED);
    return RR_OK;
}

static int compile_keywords(cc *c, sch_node *n, json_t *j) {
    const sch_res *r = n->res;
    int d = r->dialect;
    if (compile_ref(c, n, j, "$ref", K_REF) != RR_OK)
        return RR_ESCHEMA;
    if (d == D_07 && n->ref)
        return RR_OK; /* draft-07: "$ref" overrides its siblings */
    if (d == D_2020 && compile_ref(c, n, j, "$dynamicRef", K_DYNREF) != RR_OK)
        return RR_ESCHEMA;
    if (d == D_2019 && compile_ref(c, n, j, "$recursiveRef", K_DYNREF) != RR_OK)
        return RR_ESCHEMA;
    bool val = r->vocab & V_VALIDATION, app = r->vocab & V_APPLICATOR;
    if (val && compile_validation(c, n, j) != RR_OK)
        return RR_ESCHEMA;
    if (compile_format(c, n, j, r) != RR_OK)
        return RR_ESCHEMA;
    if (app && compile_applicators(c, n, j, d) != RR_OK)
        return RR_ESCHEMA;
    if (app && compile_contains(c, n, j, d, val) != RR_OK)
        return RR_ESCHEMA;
    if (d != D_07) {
        if ((val && compile_deps(c, n, j, "dependentRequired", true, false) != RR_OK) ||
            (app && compile_deps(c, n, j, "dependentSchemas", false, true) != RR_OK))
            return RR_ESCHEMA;
        if ((r->vocab & V_UNEVALUATED) && compile_unevaluated(c, n, j) != RR_OK)
            return RR_ESCHEMA;
    }
    if (app && val && compile_deps(c, n, j, "dependencies", true, true) != RR_OK)
        return RR_ESCHEMA;
    return compile_fast_paths(c, n);
}

static sch_node *compile(cc *c, json_t *j) {
    if (json_is_true(j))
        return &c->s->node_true;
    if (json_is_false(j))
        return &c->s->node_false;
    pmap_ent *e = pmap_find(&c->map, j);
    if (e && e->node)
        return e->node;
    sch_info *info = e ? e->info : NULL;
    if (!info) {
        cc_fail(c, RR_ESCHEMA, "", "internal error: subschema was not indexed");
        return NULL;
    }
    if (!json_is_object(j)) {
        cc_fail(c, RR_ESCHEMA, info->ptr, "a schema must be an object or a boolean");
        return NULL;
    }
    sch_node *n = sch_arena_alloc(&c->s->a, &c->s->arena, sizeof *n);
    if (!n) {
        cc_oom(c);
        return NULL;
    }
    e->node = n;
    n->res = info->res;
    n->ptr = info->ptr;
    if (++c->depth > 1024) {
        cc_fail(c, RR_EDEPTH, info->ptr, "schema nested too deeply");
        return NULL;
    }
    int rc = compile_keywords(c, n, j);
    c->depth--;
    return rc == RR_OK && !c->failed ? n : NULL;
}

/* ------------------------------------------------------------------------------------
 * Evaluation
 * ---------------------------------------------------------------------------------- */

/* Locations are linked lists on the C stack, rendered only when a finding is reported.
 * s == NULL marks an array index held in len. */
typedef struct path {
    const struct path *up;
    const char *s;
    size_t len;
} path;

typedef struct scope {
    const struct scope *up;
    const sch_res *res;
} scope;

typedef struct vctx {
    rr_verdict *v;
    const rr_schema *s;
    const char *validator;
    rr_error *err;
    const scope *sc;
    uint32_t depth;
    uint32_t max_depth; /* copies of schema fields read by every node */
    bool dynamic;
    bool quiet;
} vctx;

#define KW(kp_, name)                                                                              \
    { (kp_), (name), sizeof(name) - 1 }

#define HAS_ZERO_BYTE(v) (((v)-0x0101010101010101ull) & ~(v)&0x8080808080808080ull)
#define HAS_BYTE(v, b) HAS_ZERO_BYTE((v) ^ (0x0101010101010101ull * (uint8_t)(b)))

/* Bytes of s that JSON pointers escape ('~' and '/'), eight at a time: keys rarely have any. */
static size_t count_escapes(const char *s, size_t n) {
    size_t c = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (!HAS_BYTE(w, '~') && !HAS_BYTE(w, '/'))
            continue;
        for (size_t k = 0; k < 8; k++)
            c += s[i + k] == '~' || s[i + k] == '/';
    }
    for (; i < n; i++)
        c += s[i] == '~' || s[i] == '/';
    return c;
}

static size_t seg_len(const path *p) {
    if (!p->s) {
        size_t n = 1;
        for (size_t x = p->len; x >= 10; x /= 10)
            n++;
        return n;
    }
    return p->len + count_escapes(p->s, p->len);
}

static void put_seg(char *w, const path *q, size_t n) {
    if (!q->s) {
        size_t x = q->len;
        for (size_t i = n; i-- > 0; x /= 10)
            w[i] = (char)('0' + x % 10);
    } else if (n == q->len) {
        memcpy(w, q->s, n);
    } else {
        for (size_t i = 0; i < q->len; i++) {
            char ch = q->s[i];
            if (ch == '~' || ch == '/') {
                *w++ = '~';
                *w++ = ch == '~' ? '0' : '1';
            } else {
                *w++ = ch;
            }
        }
    }
}

/* Append the JSON pointer of `p` to `b`, writing segments back to front. Segment lengths
 * are measured once (up to 64 levels; deeper paths measure again while writing). */
static void render(rr_buf *b, const path *p) {
    size_t lens[64], depth = 0, total = 0;
    for (const path *q = p; q; q = q->up, depth++) {
        size_t n = seg_len(q);
        if (depth < 64)
            lens[depth] = n;
        total += 1 + n;
    }
    if (!rr_buf_reserve(b, total))
        return;
    size_t end = b->len + total, k = 0;
    for (const path *q = p; q; q = q->up, k++) {
        size_t n = k < 64 ? lens[k] : seg_len(q);
        end -= n;
        put_seg(b->p + end, q, n);
        b->p[--end] = '/';
    }
    b->len += total;
    b->p[b->len] = 0;
}

static int report(vctx *c, const char *code, const char *kw, const path *ip, const path *kp,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Record a finding unless the evaluation is only asking yes/no. Returns 0 (invalid) or
 * RR_ENOMEM. */
static int report(vctx *c, const char *code, const char *kw, const path *ip, const path *kp,
                  const char *fmt, ...) {
    if (c->quiet)
        return 0;
    rr_verdict *v = c->v;
    if (v->nfindings >= v->max_findings) {
        v->dropped_findings++;
        return 0;
    }
    rr_buf *t = &v->tmp;
    rr_buf_clear(t);
    render(t, ip);
    size_t ilen = t->len;
    path kwp = {kp, kw, kw ? strlen(kw) : 0};
    render(t, kw ? &kwp : kp);
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t mlen = n < 0 ? 0 : ((size_t)n >= sizeof msg ? sizeof msg - 1 : (size_t)n);
    if (t->oom)
        return RR_ENOMEM;
    int rc = rr_verdict_add_raw(v, c->validator, code, kw ? kw : "", t->p, ilen, t->p + ilen,
                                t->len - ilen, -1, -1, msg, mlen);
    return rc == RR_OK ? 0 : rc;
}

static const uint8_t json_type_bits[] = {
    [JSON_OBJECT] = T_OBJ,          [JSON_ARRAY] = T_ARR, [JSON_STRING] = T_STR,
    [JSON_INTEGER] = T_INT | T_NUM, [JSON_REAL] = T_NUM,  [JSON_TRUE] = T_BOOL,
    [JSON_FALSE] = T_BOOL,          [JSON_NULL] = T_NULL};

/* A table, not a switch: the type of the next value is unpredictable, and a mispredicted
 * jump table cost more than the rest of a typical node. */
static inline unsigned inst_type(const json_t *j) {
    unsigned t = json_type_bits[json_typeof(j)];
    if (t == T_NUM) {
        double d = json_real_value(j);
        if (isfinite(d) && d == floor(d))
            t |= T_INT;
    }
    return t;
}

/* Short keys and enum values: an inline loop beats a call to memcmp. */
static inline bool mem_eq(const char *a, const char *b, size_t n) {
    if (n > 16)
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static const char *type_name(unsigned t) {
    return t & T_OBJ    ? "object"
           : t & T_ARR  ? "array"
           : t & T_STR  ? "string"
           : t & T_INT  ? "integer"
           : t & T_NUM  ? "number"
           : t & T_BOOL ? "boolean"
                        : "null";
}

/* The keywords that apply to each JSON type (jansson's type enum indexes it). */
static const uint64_t type_kw[] = {[JSON_OBJECT] = K_ANY_MASK | K_OBJ_MASK,
                                   [JSON_ARRAY] = K_ANY_MASK | K_ARR_MASK,
                                   [JSON_STRING] = K_ANY_MASK | K_STR_MASK,
                                   [JSON_INTEGER] = K_ANY_MASK | K_NUM_MASK,
                                   [JSON_REAL] = K_ANY_MASK | K_NUM_MASK,
                                   [JSON_TRUE] = K_ANY_MASK,
                                   [JSON_FALSE] = K_ANY_MASK,
                                   [JSON_NULL] = K_ANY_MASK};

/* Annotation bitsets ("which properties / items were evaluated") live on the verdict's
 * word stack, addressed by offset because the stack may move when it grows. */
static size_t bits_push(vctx *c, size_t nbits) {
    size_t w = nbits / 64 + 1;
    if (!rr_verdict_words_reserve(c->v, w))
        return NOEV;
    size_t off = c->v->words_top;
    memset(c->v->words + off, 0, w * sizeof(uint64_t));
    c->v->words_top += w;
    return off;
}

static inline void bit_set(vctx *c, size_t ev, size_t i) {
    c->v->words[ev + i / 64] |= 1ull << (i % 64);
}

static inline bool bit_get(const vctx *c, size_t ev, size_t i) {
    return (c->v->words[ev + i / 64] >> (i % 64)) & 1;
}

static void bits_or(vctx *c, size_t dst, size_t src, size_t nbits) {
    for (size_t i = 0; i <= nbits / 64; i++)
        c->v->words[dst + i] |= c->v->words[src + i];
}

static size_t inst_size(const json_t *j) {
    return json_is_object(j) ? json_object_size(j) : json_is_array(j) ? json_array_size(j) : 0;
}

static int v_node(vctx *c, const sch_node *n, const json_t *j, const path *ip, const path *kp,
                  size_t ev);

static int fail_code(vctx *c, int code, const char *msg) {
    rr_err(c->err, code, "%s", msg);
    return code;
}

static int re_match(vctx *c, const pcre2_code *re, const char *s, size_t len) {
    pcre2_match_data *md = rr_verdict_match_data(c->v);
    if (!md)
        return fail_code(c, RR_ENOMEM, "out of memory");
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, c->s->mctx);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    PCRE2_UCHAR m[120];
    pcre2_get_error_message(rc, m, sizeof m);
    rr_err(c->err, RR_ELIMIT, "pattern matching failed: %s", (const char *)m);
    return RR_ELIMIT;
}

static void fmt_num(char *buf, size_t n, const json_t *j) {
    if (json_is_integer(j))
        snprintf(buf, n, "%lld", (long long)json_integer_value(j));
    else
        snprintf(buf, n, "%.17g", json_real_value(j));
}

static void fmt_lim(char *buf, size_t n, const sch_num *m) {
    if (m->is_int)
        snprintf(buf, n, "%lld", (long long)m->i);
    else
        snprintf(buf, n, "%.17g", m->d);
}

static int num_cmp(const json_t *j, const sch_num *m) {
    if (json_is_integer(j) && m->is_int) {
        json_int_t a = json_integer_value(j);
        return a < m->i ? -1 : a > m->i;
    }
    double a = json_number_value(j);
    return a < m->d ? -1 : a > m->d;
}

static bool is_multiple(const json_t *j, const sch_num *m) {
    if (json_is_integer(j) && m->is_int)
        return json_integer_value(j) % m->i == 0;
    double x = json_number_value(j), q = x / m->d;
    if (!isfinite(q)) {
        /* Overflow: still decidable when x is an integer and m divides 1. */
        double inv = 1.0 / m->d;
        return isfinite(x) && x == floor(x) && inv == floor(inv);
    }
    if (fabs(q) >= 9007199254740992.0)
        return true;
    return fabs(q - nearbyint(q)) < 1e-9;
}

static int v_number(vctx *c, const sch_node *n, int k, const json_t *j, const path *ip,
                    const path *kp) {
    char a[40], b[40];
    switch (k) {
    case K_MULTOF:
        if (is_multiple(j, &n->multof))
            return 1;
        fmt_num(a, sizeof a, j), fmt_lim(b, sizeof b, &n->multof);
        return report(c, "multipleOf", "multipleOf", ip, kp, "%s is not a multiple of %s", a, b);
    case K_MIN:
        if (num_cmp(j, &n->min) >= 0)
            return 1;
        fmt_num(a, sizeof a, j), fmt_lim(b, sizeof b, &n->min);
        return report(c, "minimum", "minimum", ip, kp, "%s is less than the minimum %s", a, b);
    case K_MAX:
        if (num_cmp(j, &n->max) <= 0)
            return 1;
        fmt_num(a, sizeof a, j), fmt_lim(b, sizeof b, &n->max);
        return report(c, "maximum", "maximum", ip, kp, "%s is greater than the maximum %s", a, b);
    case K_XMIN:
        if (num_cmp(j, &n->xmin) > 0)
            return 1;
        fmt_num(a, sizeof a, j), fmt_lim(b, sizeof b, &n->xmin);
        return report(c, "exclusiveMinimum", "exclusiveMinimum", ip, kp,
                      "%s is not greater than the exclusive minimum %s", a, b);
    default:
        if (num_cmp(j, &n->xmax) < 0)
            return 1;
        fmt_num(a, sizeof a, j), fmt_lim(b, sizeof b, &n->xmax);
        return report(c, "exclusiveMaximum", "exclusiveMaximum", ip, kp,
                      "%s is not less than the exclusive maximum %s", a, b);
    }
}

static size_t utf8_count(const char *s, size_t n) {
    size_t cont = 0;
    for (size_t i = 0; i < n; i++)
        cont += ((unsigned char)s[i] & 0xC0) == 0x80;
    return n - cont;
}

static int v_string(vctx *c, const sch_node *n, int k, const json_t *j, const path *ip,
                    const path *kp) {
    const char *s = json_string_value(j);
    size_t len = json_string_length(j);
    switch (k) {
    case K_MINLEN:
        if (len >= n->minlen * 4 || (len >= n->minlen && utf8_count(s, len) >= n->minlen))
            return 1;
        return report(c, "minLength", "minLength", ip, kp,
                      "string has %zu characters, fewer than minLength %llu", utf8_count(s, len),
                      (unsigned long long)n->minlen);
    case K_MAXLEN:
        if (len <= n->maxlen || utf8_count(s, len) <= n->maxlen)
            return 1;
        return report(c, "maxLength", "maxLength", ip, kp,
                      "string has %zu characters, more than maxLength %llu", utf8_count(s, len),
                      (unsigned long long)n->maxlen);
    case K_PATTERN: {
        int r = re_match(c, n->pattern.re, s, len);
        if (r != 0)
            return r;
        return report(c, "pattern", "pattern", ip, kp, "string does not match pattern \"%.80s\"",
                      n->pattern.src);
    }
    default: {
        int r = rr_format_check(&c->v->a, n->format, s, len);
        if (r != 0)
            return r;
        return report(c, "format", "format", ip, kp, "\"%.60s%s\" is not a valid %s", s,
                      len > 60 ? "..." : "", n->format_name);
    }
    }
}

static inline bool enum_has_str(const sch_node *n, const char *s, size_t len) {
    uint64_t w = word8(s, len);
    for (size_t i = 0; i < n->nenum; i++)
        if (n->enum_len[i] == len && n->enum_w8[i] == w &&
            (len <= 8 || mem_eq(n->enum_s[i] + 8, s + 8, len - 8)))
            return true;
    return false;
}

static int v_enum(vctx *c, const sch_node *n, const json_t *j, const path *ip, const path *kp) {
    size_t i, cnt = json_array_size(n->enm);
    if (n->enum_strings && json_is_string(j) &&
        enum_has_str(n, json_string_value(j), json_string_length(j)))
        return 1;
    for (i = 0; i < cnt && !n->enum_strings; i++)
        if (sch_json_equal(j, json_array_get(n->enm, i)))
            return 1;
    return report(c, "enum", "enum", ip, kp, "value is not one of the %zu allowed values", cnt);
}

/* uniqueItems: pairwise for short arrays, hash-sorted for long ones (never quadratic on
 * large model output). */
static void heap_sift(uint64_t *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && h[2 * l] > h[2 * m])
            m = l;
        if (l + 1 < n && h[2 * (l + 1)] > h[2 * m])
            m = l + 1;
        if (m == i)
            return;
        uint64_t t0 = h[2 * i], t1 = h[2 * i + 1];
        h[2 * i] = h[2 * m], h[2 * i + 1] = h[2 * m + 1];
        h[2 * m] = t0, h[2 * m + 1] = t1;
        i = m;
    }
}

static int find_duplicate(vctx *c, const json_t *j, size_t *da, size_t *db) {
    size_t n = json_array_size(j);
    if (n <= 16) {
        for (size_t a = 0; a < n; a++)
            for (size_t b = a + 1; b < n; b++)
                if (sch_json_equal(json_array_get(j, a), json_array_get(j, b)))
                    return *da = a, *db = b, 1;
        return 0;
    }
    size_t top = c->v->words_top;
    if (!rr_verdict_words_reserve(c->v, 2 * n))
        return RR_ENOMEM;
    uint64_t *h = c->v->words + top;
    for (size_t i = 0; i < n; i++)
        h[2 * i] = sch_json_hash(json_array_get(j, i)), h[2 * i + 1] = i;
    for (size_t i = n / 2; i-- > 0;)
        heap_sift(h, n, i);
    for (size_t end = n; end-- > 1;) {
        uint64_t t0 = h[0], t1 = h[1];
        h[0] = h[2 * end], h[1] = h[2 * end + 1];
        h[2 * end] = t0, h[2 * end + 1] = t1;
        heap_sift(h, end, 0);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n && h[2 * k] == h[2 * i]; k++)
            if (sch_json_equal(json_array_get(j, h[2 * i + 1]), json_array_get(j, h[2 * k + 1]))) {
                *da = h[2 * i + 1] < h[2 * k + 1] ? h[2 * i + 1] : h[2 * k + 1];
                *db = h[2 * i + 1] < h[2 * k + 1] ? h[2 * k + 1] : h[2 * i + 1];
                return 1;
            }
    return 0;
}

static int v_array_counts(vctx *c, const sch_node *n, int k, const json_t *j, const path *ip,
                          const path *kp) {
    size_t sz = json_array_size(j);
    if (k == K_MINITEMS) {
        if (sz >= n->minitems)
            return 1;
        return report(c, "minItems", "minItems", ip, kp, "array has %zu items, fewer than %llu", sz,
                      (unsigned long long)n->minitems);
    }
    if (k == K_MAXITEMS) {
        if (sz <= n->maxitems)
            return 1;
        return report(c, "maxItems", "maxItems", ip, kp, "array has %zu items, more than %llu", sz,
                      (unsigned long long)n->maxitems);
    }
    size_t a, b;
    int r = find_duplicate(c, j, &a, &b);
    if (r <= 0)
        return r < 0 ? r : 1;
    return report(c, "uniqueItems", "uniqueItems", ip, kp, "items %zu and %zu are equal", a, b);
}

static int v_items(vctx *c, const sch_node *n, const json_t *j, const path *ip, const path *kp,
                   size_t ev) {
    size_t sz = json_array_size(j);
    size_t np = n->nprefix < sz ? n->nprefix : sz;
    const char *pkw = n->items_array ? "items" : "prefixItems";
    const char *rkw = n->items_array ? "additionalItems" : "items";
    int ok = 1;
    path pk = {kp, pkw, n->items_array ? 5 : 11};
    for (size_t i = 0; i < np; i++) {
        path ii = {ip, NULL, i}, ki = {&pk, NULL, i};
        int r = v_node(c, n->prefix[i], json_array_get(j, i), &ii, &ki, NOEV);
        if (ev != NOEV)
            bit_set(c, ev, i);
        if (r <= 0 && (ok = r) < 0)
            return r;
        if (!r && c->quiet)
            return 0;
    }
    if (!n->items || sz <= np)
        return ok;
    path rk = {kp, rkw, n->items_array ? 15 : 5};
    if (n->items->boolean == B_FALSE) {
        int r =
            report(c, rkw, rkw, ip, kp, "array has %zu items, more than the %zu allowed", sz, np);
        return r < 0 ? r : 0;
    }
    for (size_t i = np; i < sz; i++) {
        path ii = {ip, NULL, i};
        int r = v_node(c, n->items, json_array_get(j, i), &ii, &rk, NOEV);
        if (ev != NOEV)
            bit_set(c, ev, i);
        if (r <= 0 && (ok = r) < 0)
            return r;
        if (!r && c->quiet)
            return 0;
    }
    return ok;
}

static int v_contains(vctx *c, const sch_node *n, const json_t *j, const path *ip, const path *kp,
                      size_t ev) {
    size_t sz = json_array_size(j), hits = 0;
    path ck = KW(kp, "contains");
    bool q = c->quiet;
    c->quiet = true;
    for (size_t i = 0; i < sz; i++) {
        path ii = {ip, NULL, i};
        int r = v_node(c, n->contains, json_array_get(j, i), &ii, &ck, NOEV);
        if (r < 0) {
            c->quiet = q;
            return r;
        }
        if (r) {
            hits++;
            if (ev != NOEV)
                bit_set(c, ev, i);
            else if (!n->has_maxcontains && hits >= n->mincontains)
                break;
        }
    }
    c->quiet = q;
    if (hits < n->mincontains) {
        if (n->mincontains == 1)
            return report(c, "contains", "contains", ip, kp, "no item matches \"contains\"");
        return report(c, "minContains", "minContains", ip, kp,
                      "%zu items match \"contains\", fewer than minContains %llu", hits,
                      (unsigned long long)n->mincontains);
    }
    if (n->has_maxcontains && hits > n->maxcontains)
        return report(c, "maxContains", "maxContains", ip, kp,
                      "%zu items match \"contains\", more than maxContains %llu", hits,
                      (unsigned long long)n->maxcontains);
    return 1;
}

static int v_required(vctx *c, const sch_strs *r, const json_t *j, const path *ip, const path *kp,
                      const char *code, const char *trigger) {
    int ok = 1;
    for (size_t i = 0; i < r->n; i++) {
        if (json_object_getn(j, r->v[i], r->vlen[i]))
            continue;
        int rc = trigger ? report(c, code, code, ip, kp,
                                  "property \"%.*s\" is required when \"%.60s\" is present",
                                  (int)(r->vlen[i] > 80 ? 80 : r->vlen[i]), r->v[i], trigger)
                         : report(c, code, code, ip, kp, "required property \"%.*s\" is missing",
                                  (int)(r->vlen[i] > 80 ? 80 : r->vlen[i]), r->v[i]);
        if (rc < 0)
            return rc;
        ok = 0;
        if (c->quiet)
            return 0;
    }
    return ok;
}

static int v_depreq(vctx *c, const sch_node *n, const json_t *j, const path *ip, const path *kp) {
    const char *kw = n->deps_compat ? "dependencies" : "dependentRequired";
    int ok = 1;
    for (size_t i = 0; i < n->ndepreq; i++) {
        const sch_strs *d = &n->depreq[i];
        if (!json_object_getn(j, d->name, d->len))
            continue;
        int r = v_required(c, d, j, ip, kp, kw, d->name);
        if (r <= 0 && (ok = r) < 0)
            return r;
        if (!r && c->quiet)
            return 0;
    }
    return ok;
}

/* Large "properties" (XXH3 index) or names that share prefixes (linear): out of line, so
 * the perfect-hash lookup below stays small enough to inline. */
static __attribute__((noinline)) const sch_prop *find_prop_slow(const sch_node *n, const char *k,
                                                                size_t kl) {
    if (n->prop_hash) {
        size_t h = (size_t)XXH3_64bits(k, kl) & n->prop_hash_mask;
        for (uint32_t x; (x = n->prop_hash[h]); h = (h + 1) & n->prop_hash_mask) {
            const sch_prop *p = &n->props[x - 1];
            if (p->len == kl && memcmp(p->name, k, kl) == 0)
                return p;
        }
        return NULL;
    }
    uint64_t w = word8(k, kl);
    for (size_t i = 0; i < n->nprops; i++) {
        const sch_prop *p = &n->props[i];
        if (p->len == kl && p->w8 == w && (kl <= 8 || mem_eq(p->name + 8, k + 8, kl - 8)))
            return p;
    }
    return NULL;
}

static inline const sch_prop *find_prop(const sch_node *n, const char *k, size_t kl) {
    if (!n->prop_perfect)
        return n->nprops ? find_prop_slow(n, k, kl) : NULL;
    uint64_t w = word8(k, kl);
    uint8_t x = n->prop_perfect[prop_slot(w, kl, n->prop_mult, n->prop_shift)];
    if (!x)
        return NULL;
    const sch_prop *p = &n->props[x - 1];
    if (p->len == kl && p->w8 == w && (kl <= 8 || mem_eq(p->name + 8, k + 8, kl - 8)))
        return p;
    return NULL;
}

/* properties, patternProperties and additionalProperties in one pass over the instance. */
static int v_prop(vctx *c, const sch_node *n, const char *k, size_t kl, const json_t *val,
                  const path *ip, const path *kp, bool *matched, uint64_t *seen) {
    path ik = {ip, k, kl};
    int ok = 1;
    const sch_prop *p = find_prop(n, k, kl);
    if (p) {
        *matched = true;
        size_t idx = (size_t)(p - n->props);
        if (idx < 64)
            *seen |= 1ull << idx;
        path k1 = KW(kp, "properties"), k2 = {&k1, p->name, p->len};
        ok = v_node(c, p->node, val, &ik, &k2, NOEV);
        if (ok < 0 || (!ok && c->quiet))
            return ok;
    }
    for (size_t i = 0; i < n->npats; i++) {
        int m = re_match(c, n->pats[i].re, k, kl);
        if (m < 0)
            return m;
        if (!m)
            continue;
        *matched = true;
        path k1 = KW(kp, "patternProperties"), k2 = {&k1, n->pats[i].src, strlen(n->pats[i].src)};
        int r = v_node(c, n->pats[i].node, val, &ik, &k2, NOEV);
        if (r <= 0 && (ok = r) < 0)
            return r;
        if (!r && c->quiet)
            return 0;
    }
    if (*matched || !n->addprops)
        return ok;
    *matched = true;
    if (n->addprops->boolean == B_FALSE)
        return report(c, "additionalProperties", "additionalProperties", ip, kp,
                      "property \"%.*s\" is not allowed", (int)(kl > 80 ? 80 : kl), k);
    path k1 = KW(kp, "additionalProperties");
    int r = v_node(c, n->addprops, val, &ik, &k1, NOEV);
    return r <= 0 ? r : ok;
}

static int v_props(vctx *c, const sch_node *n, const json_t *j, const path *ip, const path *kp,
                   size_t ev) {
    int ok = 1;
    size_t i = 0;
    uint64_t seen = 0;
    for (void *it = json_object_iter((json_t *)j); it;
         it = json_object_iter_next((json_t *)j, it), i++) {
        bool matched = false;
        int r = v_prop(c, n, json_object_iter_key(it), json_object_iter_key_len(it),
                       json_object_iter_value(it), ip, kp, &matched, &seen);
        if (matched && ev != NOEV)
            bit_set(c, ev, i);
        if (r <= 0 && (ok = r) < 0)
            return r;
        if (!r && c->quiet)
            return 0;
    }
    if (n->req_in_props && (seen & n->req_mask) != n->req_mask) {
        /* "required" folded into this pass; name the missing ones the slow way */
        int r = v_required(c, &n->required, j, ip, kp, "required", NULL);
        return r < 0 ? r : 0;
    }
    return ok;
}

static int v_propnames(vctx *c, const sch_node *n, const json_t *j, const path *ip,
                       const path *kp) {
    path pk = KW(kp, "propertyNames");
    for (void *it = json_object_iter((json_t *)j); it;
         it = json_object_iter_next((json_t *)j, it)) {
        const char *k = json_object_iter_key(it);
        size_t kl = json_object_iter_key_len(it);
        json_t *name = json_stringn_nocheck(k, kl);
        if (!name)
            return fail_code(c, RR_ENOMEM, "out of memory");
        bool q = c->quiet;
        c->quiet = true;
        int r = v_node(c, n->propnames, name, ip, &pk, NOEV);
        c->quiet = q;
        json_decref(name);
        if (r < 0)
            return r;
        if (!r)
            return report(c, "propertyNames", "propertyNames", ip, kp,
                          "property name \"%.*s\" is not allowed", (int)(kl > 80 ? 80 : kl), k);
    }
    return 1;
}

static int v_depsch(vctx *c, const sch_node *n, const json_t *j, const path *ip, const path *kp,
                    size_t ev) {
    path dk = n->deps_compat ? (path)KW(kp, "dependencies") : (path)KW(kp, "dependentSchemas");
    int ok = 1;
    for (size_t i = 0; i < n->ndepsch; i++) {
        const sch_prop *d = &n->depsch[i];
        if (!json_object_getn(j, d->name, d->len))
            continue;
        path k2 = {&dk, d->name, d->len};
        int r = v_node(c, d->node, j, ip, &k2, ev);
        if (r <= 0 && (ok = r) < 0)
            return r;
        if (!r && c->quiet)
            return 0;
    }
    return ok;
}

static int v_allof(vctx *c, const sch_node *n, const json_t *j, const path *ip, const path *kp,
                   size_t ev) {
    path ak = KW(kp, "allOf");
    int ok = 1;
    for (size_t i = 0; i < n->nallof; i++) {
        path ki = {&ak, NULL, i};
        int r = v_node(c, n->allof[i], j, ip, &ki, ev);
        if (r <= 0 && (ok = r) < 0)
            return r;
        if (!r && c->quiet)
            return 0;
    }
    return ok;
}

/* Evaluate `sub` quietly into a fresh annotation set merged into `ev` on success. */
static int v_try(vctx *c, const sch_node *sub, const json_t *j, const path *ip, const path *kp,
                 size_t ev, bool keep) {
    size_t top = c->v->words_top, nb = inst_size(j);
    size_t mine = NOEV;
    if (ev != NOEV && (mine = bits_push(c, nb)) == NOEV)
        return fail_code(c, RR_ENOMEM, "out of memory");
    bool q = c->quiet;
    c->quiet = true;
    int r = v_node(c, sub, j, ip, kp, mine);
    c->quiet = q;
    if (r > 0 && mine != NOEV)
        bits_or(c, ev, mine, nb);
    if (!keep || r <= 0)
        c->v->words_top = top;
    return r;
}

static int v_anyof(vctx *c, const sch_node *n, const json_t *j, const path *ip, const path *kp,
                   size_t ev) {
    path ak = KW(kp, "anyOf");
    bool any = false;
    for (size_t i = 0; i < n->nanyof; i++) {
        path ki = {&ak, NULL, i};
        int r = v_try(c, n->anyof[i], j, ip, &ki, ev, false);
        if (r < 0)
            return r;
        if (r) {
            any = true;
            if (ev == NOEV)
                break; /* annotations from later branches are only needed for unevaluated* */
        }
    }
    if (any)
        return 1;
    return report(c, "anyOf", "anyOf", ip, kp, "value matches none of the %zu alternatives",
                  n->nanyof);
}

static int v_oneof(vctx *c, const sch_node *n, const json_t *j, const path *ip, const path *kp,
                   size_t ev) {
    path ok_ = KW(kp, "oneOf");
    size_t first = SIZE_MAX, second = SIZE_MAX, top = c->v->words_top, nb = inst_size(j);
    size_t mine = NOEV;
    if (ev != NOEV && (mine = bits_push(c, nb)) == NOEV)
        return fail_code(c, RR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n->noneof && second == SIZE_MAX; i++) {
        path ki = {&ok_, NULL, i};
        int r = v_try(c, n->oneof[i], j, ip, &ki, first == SIZE_MAX ? mine : NOEV, false);
        if (r < 0) {
            c->v->words_top = top;
            return r;
        }
        if (r)
            *(first == SIZE_MAX ? &first : &second) = i;
    }
    if (first != SIZE_MAX && second == SIZE_MAX && mine != NOEV)
        bits_or(c, ev, mine, nb);
    c->v->words_top = top;
    if (first == SIZE_MAX)
        return report(c, "oneOf", "oneOf", ip, kp, "value matches none of the %zu alternatives",
                      n->noneof);
    if (second != SIZE_MAX)
        return report(c, "oneOf", "oneOf", ip, kp,
                      "value matches more than one alternative (%zu and %zu)", first, second);
    return 1;
}

static int v_not(vctx *c, const sch_node *n, const json_t *j, const path *ip, const path *kp) {
    path nk = KW(kp, "not");
    int r = v_try(c, n->not_, j, ip, &nk, NOEV, false);
    if (r < 0)
        return r;
    if (!r)
        return 1;
    return report(c, "not", "not", ip, kp, "value must not match the \"not\" schema");
}

static int v_if(vctx *c, const sch_node *n, const json_t *j, const path *ip, const path *kp,
                size_t ev) {
    path ik = KW(kp, "if");
    int r = v_try(c, n->if_, j, ip, &ik, ev, false);
    if (r < 0)
        return r;
    const sch_node *next = r ? n->then_ : n->else_;
    if (!next)
        return 1;
    path nk = r ? (path)KW(kp, "then") : (path)KW(kp, "else");
    return v_node(c, next, j, ip, &nk, ev);
}

static int v_unevaluated(vctx *c, const sch_node *n, int k, const json_t *j, const path *ip,
                         const path *kp, size_t ev) {
    bool props = k == K_UNPROPS;
    const char *kw = props ? "unevaluatedProperties" : "unevaluatedItems";
    const sch_node *sub = props ? n->unprops : n->unitems;
    path uk = {kp, kw, strlen(kw)};
    int ok = 1;
    size_t i = 0;
    void *it = props ? json_object_iter((json_t *)j) : NULL;
    size_t sz = props ? 0 : json_array_size(j);
    for (;; i++) {
        if (props ? !it : i >= sz)
            break;
        const json_t *val = props ? json_object_iter_value(it) : json_array_get(j, i);
        const char *key = props ? json_object_iter_key(it) : NULL;
        size_t kl = props ? json_object_iter_key_len(it) : i;
        if (props)
            it = json_object_iter_next((json_t *)j, it);
        if (bit_get(c, ev, i))
            continue;
        int r;
        if (sub->boolean == B_FALSE) {
            r = props ? report(c, kw, kw, ip, kp, "property \"%.*s\" is not allowed here",
                               (int)(kl > 80 ? 80 : kl), key)
                      : report(c, kw, kw, ip, kp, "item %zu is not allowed here", i);
        } else {
            path ii = {ip, key, kl};
            r = v_node(c, sub, val, &ii, &uk, NOEV);
        }
        bit_set(c, ev, i);
        if (r <= 0 && (ok = r) < 0)
            return r;
        if (!r && c->quiet)
            return 0;
    }
    return ok;
}

static int v_type(vctx *c, const sch_node *n, unsigned t, const path *ip, const path *kp) {
    if (n->types & t)
        return 1;
    char want[80] = "";
    for (size_t i = 0; i < RR_ARRAY_LEN(type_names); i++) {
        if (n->types & type_names[i].bit) {
            if (want[0])
                strncat(want, " or ", sizeof want - strlen(want) - 1);
            strncat(want, type_names[i].name, sizeof want - strlen(want) - 1);
        }
    }
    return report(c, "type", "type", ip, kp, "expected %s, got %s", want, type_name(t));
}

static const sch_node *dyn_target(const vctx *c, const sch_node *n) {
    const sch_node *t = n->dynref;
    if (!n->dyn_name)
        return t;
    /* The outermost resource in the dynamic scope that declares the anchor wins. */
    for (const scope *s = c->sc; s; s = s->up) {
        for (const sch_dyn *d = s->res ? s->res->dyn : NULL; d; d = d->next)
            if (d->node && strcmp(d->name, n->dyn_name) == 0) {
                t = d->node;
                break;
            }
    }
    return t;
}

static int v_kw(vctx *c, const sch_node *n, int k, const json_t *j, unsigned t, const path *ip,
                const path *kp, size_t ev) {
    switch (k) {
    case K_REF: {
        path rk = KW(kp, "$ref");
        return v_node(c, n->ref, j, ip, &rk, ev);
    }
    case K_DYNREF: {
        path rk = n->ref_is_recursive ? (path)KW(kp, "$recursiveRef") : (path)KW(kp, "$dynamicRef");
        return v_node(c, dyn_target(c, n), j, ip, &rk, ev);
    }
    case K_TYPE:
        return v_type(c, n, t, ip, kp);
    case K_CONST:
        return sch_json_equal(j, n->cnst) ? 1
                                          : report(c, "const", "const", ip, kp,
                                                   "value does not equal the \"const\" value");
    case K_ENUM:
        return v_enum(c, n, j, ip, kp);
    case K_MULTOF:
    case K_MIN:
    case K_MAX:
    case K_XMIN:
    case K_XMAX:
        return v_number(c, n, k, j, ip, kp);
    case K_MINLEN:
    case K_MAXLEN:
    case K_PATTERN:
    case K_FORMAT:
        return v_string(c, n, k, j, ip, kp);
    case K_MINITEMS:
    case K_MAXITEMS:
    case K_UNIQUE:
        return v_array_counts(c, n, k, j, ip, kp);
    case K_ITEMS:
        return v_items(c, n, j, ip, kp, ev);
    case K_CONTAINS:
        return v_contains(c, n, j, ip, kp, ev);
    case K_MINPROPS:
        if (json_object_size(j) >= n->minprops)
            return 1;
        return report(c, "minProperties", "minProperties", ip, kp,
                      "object has %zu properties, fewer than %llu", json_object_size(j),
                      (unsigned long long)n->minprops);
    case K_MAXPROPS:
        if (json_object_size(j) <= n->maxprops)
            return 1;
        return report(c, "maxProperties", "maxProperties", ip, kp,
                      "object has %zu properties, more than %llu", json_object_size(j),
                      (unsigned long long)n->maxprops);
    case K_REQUIRED:
        return v_required(c, &n->required, j, ip, kp, "required", NULL);
    case K_DEPREQ:
        return v_depreq(c, n, j, ip, kp);
    case K_PROPS:
        return v_props(c, n, j, ip, kp, ev);
    case K_PROPNAMES:
        return v_propnames(c, n, j, ip, kp);
    case K_DEPSCH:
        return v_depsch(c, n, j, ip, kp, ev);
    case K_ALLOF:
        return v_allof(c, n, j, ip, kp, ev);
    case K_ANYOF:
        return v_anyof(c, n, j, ip, kp, ev);
    case K_ONEOF:
        return v_oneof(c, n, j, ip, kp, ev);
    case K_NOT:
        return v_not(c, n, j, ip, kp);
    case K_IF:
        return v_if(c, n, j, ip, kp, ev);
    default:
        return v_unevaluated(c, n, k, j, ip, kp, ev);
    }
}

static int v_node(vctx *c, const sch_node *n, const json_t *j, const path *ip, const path *kp,
                  size_t ev) {
    if (n->boolean)
        return n->boolean == B_TRUE
                   ? 1
                   : report(c, "false", NULL, ip, kp, "no value is allowed here (schema is false)");
    if (c->depth >= c->max_depth)
        return fail_code(c, RR_EDEPTH,
                         "schema evaluation nested too deeply "
                         "(recursive $ref that does not consume the instance?)");
    unsigned t = inst_type(j);
    uint64_t m = n->kw & type_kw[json_typeof(j)];
    if ((m & KB(K_TYPE)) && (n->types & t)) /* the commonest keyword, settled inline */
        m &= ~KB(K_TYPE);
    if (!m)
        return 1; /* leaves like {"type": "boolean"} end here */
    const scope *saved = c->sc;
    scope sc;
    if (c->dynamic && n->res != c->sc->res) {
        sc.up = c->sc;
        sc.res = n->res;
        c->sc = &sc;
    }
    size_t top = 0, own = ev, nb = 0;
    bool pushed = n->uneval && (t & (T_OBJ | T_ARR));
    if (pushed) {
        /* unevaluated* see only annotations from this schema object and below */
        top = c->v->words_top;
        nb = inst_size(j);
        if ((own = bits_push(c, nb)) == NOEV) {
            c->sc = saved;
            return fail_code(c, RR_ENOMEM, "out of memory");
        }
    }
    c->depth++;
    int ok = 1;
    while (m) {
        int k = __builtin_ctzll(m);
        m &= m - 1;
        int r = v_kw(c, n, k, j, t, ip, kp, own);
        if (r < 0) {
            ok = r;
            break;
        }
        if (!r) {
            ok = 0;
            if (c->quiet)
                break;
        }
    }
    c->depth--;
    if (pushed) {
        if (ok > 0 && ev != NOEV)
            bits_or(c, ev, own, nb);
        c->v->words_top = top;
    }
    c->sc = saved;
    return ok;
}

/* ------------------------------------------------------------------------------------
 * Fast check: the valid case without locations, annotations or dispatch
 *
 * Most outputs are valid, and a valid instance produces no findings, so the first pass
 * only asks yes/no: no paths are built, the commonest keywords of each instance type are
 * checked inline, and a child that is a leaf ({"type": ...}) is settled without a call.
 * Keywords it does not handle inline go through v_kw quietly; a schema object with
 * unevaluated* keywords is handed whole to v_node, which keeps its annotations. It
 * returns 1 only when v_node would: every keyword is checked, and depth is counted as
 * v_node counts it. Anything else (invalid, or an error) makes the caller run v_node,
 * which then produces the findings or the error exactly as before.
 * ---------------------------------------------------------------------------------- */

static int f_deep(vctx *c, const sch_node *n, const json_t *j, int jt, uint64_t m);

/* Strings with only enum (of strings) / minLength / maxLength left (n->str_inline): no
 * call, no depth. */
static inline __attribute__((always_inline)) int f_str(const sch_node *n, const char *s, size_t len,
                                                       uint64_t m) {
    if ((m & KB(K_ENUM)) && !enum_has_str(n, s, len))
        return 0;
    if ((m & KB(K_MINLEN)) && len < n->minlen * 4 &&
        (len < n->minlen || utf8_count(s, len) < n->minlen))
        return 0;
    if ((m & KB(K_MAXLEN)) && len > n->maxlen && utf8_count(s, len) > n->maxlen)
        return 0;
    return 1;
}

/* One schema against one value. Inline where it is called for members and items, so a
 * leaf ({"type": ...}, a string enum, a length limit) costs no call. No depth check here:
 * f_deep hands a node to v_node before its children could reach the limit. */
static inline __attribute__((always_inline)) int f_child(vctx *c, const sch_node *n,
                                                         const json_t *j) {
    int jt = json_typeof(j);
    uint64_t m = n->kw & type_kw[jt];
    if (!m)
        return n->boolean != B_FALSE; /* boolean schemas have no keywords */
    if (m & KB(K_TYPE)) {
        /* an integral real is an "integer" too: only then is inst_type needed */
        if (!(n->types & json_type_bits[jt]) && !(jt == JSON_REAL && (n->types & inst_type(j))))
            return 0;
        if (!(m &= ~KB(K_TYPE)))
            return 1;
    }
    if (jt == JSON_STRING && !(m & ~n->str_inline))
        return f_str(n, json_string_value(j), json_string_length(j), m);
    return f_deep(c, n, j, jt, m);
}

/* Keywords left in m, quietly through the general evaluator. */
static int f_rest(vctx *c, const sch_node *n, const json_t *j, uint64_t m) {
    unsigned t = inst_type(j);
    while (m) {
        int k = __builtin_ctzll(m);
        m &= m - 1;
        int r = v_kw(c, n, k, j, t, NULL, NULL, NOEV);
        if (r <= 0)
            return r;
    }
    return 1;
}

/* properties + additionalProperties (+ required folded in) in one pass over the members. */
static int f_props(vctx *c, const sch_node *n, const json_t *j) {
    uint64_t seen = 0;
    for (void *it = json_object_iter((json_t *)j); it;
         it = json_object_iter_next((json_t *)j, it)) {
        const char *k = json_object_iter_key(it);
        size_t kl = json_object_iter_key_len(it);
        const sch_prop *p = find_prop(n, k, kl);
        const sch_node *sub;
        if (p) {
            size_t idx = (size_t)(p - n->props);
            if (idx < 64)
                seen |= 1ull << idx;
            sub = p->node;
        } else if (!(sub = n->addprops)) {
            continue;
        }
        int r = f_child(c, sub, json_object_iter_value(it));
        if (r <= 0)
            return r;
    }
    return !n->req_in_props || (seen & n->req_mask) == n->req_mask;
}

static int f_items(vctx *c, const sch_node *n, const json_t *j) {
    size_t sz = json_array_size(j);
    for (size_t i = 0; i < sz; i++) {
        int r = f_child(c, n->items, json_array_get(j, i));
        if (r <= 0)
            return r;
    }
    return 1;
}

static __attribute__((noinline)) int f_deep(vctx *c, const sch_node *n, const json_t *j, int jt,
                                            uint64_t m) {
    /* Annotations for unevaluated*, or children at the depth limit: v_node's business. */
    if ((n->uneval && (jt == JSON_OBJECT || jt == JSON_ARRAY)) || c->depth + 1 >= c->max_depth)
        return v_node(c, n, j, NULL, NULL, NOEV);
    c->depth++;
    int r = 1;
    if (m & KB(K_REF)) {
        r = f_child(c, n->ref, j);
        m &= ~KB(K_REF);
    }
    if (r > 0 && jt == JSON_OBJECT && (m & KB(K_PROPS)) && !n->npats) {
        r = f_props(c, n, j);
        m &= ~KB(K_PROPS);
    } else if (r > 0 && jt == JSON_ARRAY && (m & KB(K_ITEMS)) && !n->nprefix && n->items) {
        r = f_items(c, n, j);
        m &= ~KB(K_ITEMS);
    } else if (r > 0 && jt == JSON_STRING && (m & n->str_inline)) {
        r = f_str(n, json_string_value(j), json_string_length(j), m & n->str_inline);
        m &= ~n->str_inline;
    }
    if (r > 0 && m)
        r = f_rest(c, n, j, m);
    c->depth--;
    return r;
}

static int f_node(vctx *c, const sch_node *n, const json_t *j) {
    return f_child(c, n, j);
}

/* ------------------------------------------------------------------------------------
 * Public API: compile
 * ---------------------------------------------------------------------------------- */

int rr_schema_options_init(rr_schema_options *opts, unsigned int version) {
    if (!opts || version != RR_SCHEMA_OPTIONS_VERSION)
        return RR_EINVAL;
    memset(opts, 0, sizeof *opts);
    opts->version = RR_SCHEMA_OPTIONS_VERSION;
    return RR_OK;
}

void rr_schema_free(rr_schema *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->ncodes; i++)
        pcre2_code_free(s->codes[i]);
    for (size_t i = 0; i < s->ndocs; i++)
        json_decref(s->docs[i]);
    rr_free(&s->a, s->codes);
    rr_free(&s->a, s->docs);
    pcre2_match_context_free(s->mctx);
    pcre2_compile_context_free(s->cctx);
    pcre2_general_context_free(s->gctx);
    sch_arena_free(&s->a, &s->arena);
    rr_alloc a = s->a;
    rr_free(&a, s);
}

static int schema_init(rr_schema *s, const rr_schema_options *o) {
    s->flags = o ? o->flags : 0;
    s->max_depth = o && o->max_depth ? o->max_depth : DEFAULT_MAX_DEPTH;
    s->max_bytes = o && o->max_instance_bytes ? o->max_instance_bytes : DEFAULT_MAX_BYTES;
    s->max_eval_depth = s->max_depth * 4 > 1024 ? s->max_depth * 4 : 1024;
    s->node_true.boolean = B_TRUE;
    s->node_false.boolean = B_FALSE;
    s->gctx = pcre2_general_context_create(pcre_malloc, pcre_free, &s->a);
    s->cctx = s->gctx ? pcre2_compile_context_create(s->gctx) : NULL;
    s->mctx = s->gctx ? pcre2_match_context_create(s->gctx) : NULL;
    if (!s->cctx || !s->mctx)
        return RR_ENOMEM;
    pcre2_set_compile_extra_options(s->cctx, PCRE2_EXTRA_ALT_BSUX);
    /* Patterns come from schemas that may be hostile: bound backtracking. */
    pcre2_set_match_limit(s->mctx, 1000000);
    pcre2_set_depth_limit(s->mctx, 10000);
    return RR_OK;
}

static int default_dialect(const rr_schema_options *o) {
    if (!o || !o->default_draft || o->default_draft == RR_SCHEMA_DRAFT_2020_12)
        return D_2020;
    if (o->default_draft == RR_SCHEMA_DRAFT_2019_09)
        return D_2019;
    if (o->default_draft == RR_SCHEMA_DRAFT_07)
        return D_07;
    return -1;
}

static const char *dialect_name(int d) {
    return d == D_07 ? "draft-07" : d == D_2019 ? "2019-09" : "2020-12";
}

/* Compile every "$dynamicAnchor" of every resource met, so $dynamicRef can jump to any. */
static int compile_dynamic(cc *c) {
    for (size_t i = 0; i < c->nres; i++)
        for (sch_dyn *d = c->res[i]->dyn; d; d = d->next)
            if (!d->node && !(d->node = compile(c, (json_t *)d->js)))
                return RR_ESCHEMA;
    return RR_OK;
}

static int compile_root(rr_schema *s, json_t *doc, const rr_schema_options *o, rr_error *err) {
    cc c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.err = err;
    c.reg = o ? o->registry : NULL;
    c.default_dialect = default_dialect(o);
    rr_buf_init(&c.buf, &s->a);
    int rc = RR_OK;
    if (c.default_dialect < 0)
        rc = rr_err(err, RR_EINVAL, "unknown default_draft %u", o->default_draft);
    else if (walk(&c, doc, NULL, "", ROOT_BASE) != RR_OK || !(s->root = compile(&c, doc)) ||
             compile_dynamic(&c) != RR_OK || c.buf.oom)
        rc = c.failed ? c.code : cc_oom(&c);
    if (rc == RR_OK) {
        pmap_ent *e = pmap_find(&c.map, doc);
        sch_info *info = e ? e->info : NULL;
        s->dialect_name = dialect_name(info && info->res ? info->res->dialect : c.default_dialect);
    }
    rr_free(&s->a, c.map.e);
    rr_free(&s->a, c.uris);
    rr_free(&s->a, c.res);
    rr_buf_free(&c.buf);
    sch_arena_free(&s->a, &c.tmp);
    return rc;
}

int rr_schema_new(rr_schema **out, const char *json, size_t len, const rr_schema_options *opts,
                  rr_error *err) {
    if (!out || (!json && len))
        return rr_err(err, RR_EINVAL, "out and json are required");
    if (opts && opts->version != RR_SCHEMA_OPTIONS_VERSION)
        return rr_err(err, RR_EINVAL, "unknown rr_schema_options version %u", opts->version);
    rr_alloc a;
    rr_alloc_init(&a, opts ? opts->allocator : NULL);
    rr_schema *s = rr_calloc(&a, 1, sizeof *s);
    if (!s)
        return rr_err(err, RR_ENOMEM, "out of memory");
    s->a = a;
    if (schema_init(s, opts) != RR_OK) {
        rr_schema_free(s);
        return rr_err(err, RR_ENOMEM, "out of memory");
    }
    json_error_t je;
    json_t *doc = json_loadb(json ? json : "", len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!doc && json_error_code(&je) == json_error_numeric_overflow)
        doc =
            json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    if (!doc) {
        rr_schema_free(s);
        return rr_err_at(err, RR_EJSON, "", (uint32_t)je.line, (uint32_t)je.column, 0,
                         "schema is not JSON: line %d column %d: %s", je.line, je.column, je.text);
    }
    if (!keep_doc(&(cc){.s = s}, doc)) {
        json_decref(doc);
        rr_schema_free(s);
        return rr_err(err, RR_ENOMEM, "out of memory");
    }
    int rc = compile_root(s, doc, opts, err);
    if (rc != RR_OK) {
        rr_schema_free(s);
        return rc;
    }
    *out = s;
    return RR_OK;
}

const char *rr_schema_dialect(const rr_schema *s) {
    return s ? s->dialect_name : "";
}

/* ------------------------------------------------------------------------------------
 * Public API: validate
 * ---------------------------------------------------------------------------------- */

static int validate_parsed(const rr_schema *s, const json_t *inst, rr_verdict *v,
                           const char *validator, rr_error *err, uint64_t t0) {
    vctx c = {.v = v,
              .s = s,
              .validator = validator,
              .err = err,
              .max_depth = s->max_eval_depth,
              .dynamic = s->has_dynamic};
    scope root = {NULL, NULL};
    c.sc = &root;
    size_t top = v->words_top;
    int r = 0;
    if (!s->has_dynamic) {
        c.quiet = true;
        r = f_node(&c, s->root, inst);
        c.quiet = false;
        c.depth = 0;
        v->words_top = top;
    }
    if (r <= 0) /* invalid or an error: the full evaluation says where and why */
        r = v_node(&c, s->root, inst, NULL, NULL, NOEV);
    v->words_top = top;
    if (r < 0)
        return r;
    if (!r)
        rr_verdict_fail(v, RR_FAIL_SCHEMA);
    rr_verdict_ran(v, validator, s->dialect_name, "schema", r, rr_now_ns() - t0);
    return RR_OK;
}

int rr_schema_validate_json(const rr_schema *s, const json_t *inst, rr_verdict *v,
                            const char *validator, rr_error *err) {
    if (!s || !inst || !v)
        return rr_err(err, RR_EINVAL, "schema, instance and verdict are required");
    return validate_parsed(s, inst, v, validator ? validator : "schema", err, rr_now_ns());
}

int rr_schema_check_json(const rr_schema *s, const json_t *inst, rr_verdict *v) {
    vctx c = {.v = v,
              .s = s,
              .validator = "schema",
              .max_depth = s->max_eval_depth,
              .dynamic = s->has_dynamic,
              .quiet = true};
    scope root = {NULL, NULL};
    c.sc = &root;
    size_t top = v->words_top;
    int r = s->has_dynamic ? 0 : f_node(&c, s->root, inst);
    if (r <= 0) {
        c.depth = 0;
        v->words_top = top;
        r = v_node(&c, s->root, inst, NULL, NULL, NOEV);
    }
    v->words_top = top;
    return r;
}

/* Deeper than `max`? Counts brackets outside strings; cheap enough to run before jansson
 * so a hostile 100,000-deep document is refused without recursion. String bodies, most of
 * a model's output, are skipped with memchr. */
static bool too_deep(const char *s, size_t len, uint32_t max) {
    uint32_t d = 0;
    const char *p = s, *end = s + len;
    while (p < end) {
        char ch = *p++;
        if (ch == '"') {
            for (;;) {
                const char *q = memchr(p, '"', (size_t)(end - p));
                if (!q)
                    return false;
                size_t bs = 0;
                while (q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\')
                    bs++;
                p = q + 1;
                if (!(bs & 1))
                    break;
            }
        } else if (ch == '[' || ch == '{') {
            if (++d > max)
                return true;
        } else if ((ch == ']' || ch == '}') && d) {
            d--;
        }
    }
    return false;
}

enum { LEX_OK, LEX_MORE, LEX_BAD };

static int lex_string(const char *s, size_t len, size_t *pi) {
    size_t i = *pi + 1;
    for (;;) {
        if (i >= len)
            return LEX_MORE;
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"')
            break;
        if (ch < 0x20)
            return LEX_BAD;
        if (ch == '\\') {
            if (++i >= len)
                return LEX_MORE;
            if (s[i] == 'u') {
                for (int k = 0; k < 4; k++) {
                    if (++i >= len)
                        return LEX_MORE;
                    if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
                        return LEX_BAD;
                }
            } else if (!s[i] || !strchr("\"\\/bfnrt", s[i])) {
                return LEX_BAD;
            }
        }
        i++;
    }
    *pi = i + 1;
    return LEX_OK;
}

#define IS_DIGIT(ch) ((ch) >= '0' && (ch) <= '9')

static int lex_number(const char *s, size_t len, size_t *pi) {
    size_t i = *pi;
    if (s[i] == '-' && ++i >= len)
        return LEX_MORE;
    if (s[i] == '0')
        i++;
    else if (IS_DIGIT(s[i]))
        while (i < len && IS_DIGIT(s[i]))
            i++;
    else
        return LEX_BAD;
    if (i < len && s[i] == '.') {
        if (++i >= len)
            return LEX_MORE;
        if (!IS_DIGIT(s[i]))
            return LEX_BAD;
        while (i < len && IS_DIGIT(s[i]))
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        if (++i >= len)
            return LEX_MORE;
        if ((s[i] == '+' || s[i] == '-') && ++i >= len)
            return LEX_MORE;
        if (!IS_DIGIT(s[i]))
            return LEX_BAD;
        while (i < len && IS_DIGIT(s[i]))
            i++;
    }
    *pi = i;
    return LEX_OK;
}

static int lex_literal(const char *s, size_t len, size_t *pi) {
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(lits[k]), i = *pi, m = 0;
        while (m < n && i + m < len && s[i + m] == lits[k][m])
            m++;
        if (m == n) {
            *pi = i + n;
            return LEX_OK;
        }
        if (i + m == len && m > 0)
            return LEX_MORE;
    }
    return LEX_BAD;
}

enum { S_VALUE, S_ARR_FIRST, S_OBJ_FIRST, S_OBJ_KEY, S_COLON, S_AFTER };

/* Is `s` a proper prefix of some JSON text (it stops early rather than going wrong)?
 * Containers are tracked as a bit stack on the verdict's words (1 = object). */
typedef struct prefix_st {
    uint64_t *st; /* bit stack of open containers, 1 = object */
    uint32_t d, maxd;
    int state;
} prefix_st;

enum { STEP_ON, STEP_MORE, STEP_BAD };

/* A value starts at s[*i] (state S_VALUE or S_ARR_FIRST). */
static int prefix_value(prefix_st *p, const char *s, size_t len, size_t *i) {
    char ch = s[*i];
    if (p->state == S_ARR_FIRST && ch == ']') {
        p->d--, (*i)++, p->state = S_AFTER;
        return STEP_ON;
    }
    if (ch == '{' || ch == '[') {
        if (p->d >= p->maxd)
            return STEP_BAD;
        uint64_t bit = 1ull << (p->d % 64);
        p->st[p->d / 64] = ch == '{' ? p->st[p->d / 64] | bit : p->st[p->d / 64] & ~bit;
        p->d++, (*i)++;
        p->state = ch == '{' ? S_OBJ_FIRST : S_ARR_FIRST;
        return STEP_ON;
    }
    int r = ch == '"'                     ? lex_string(s, len, i)
            : (ch == '-' || IS_DIGIT(ch)) ? lex_number(s, len, i)
                                          : lex_literal(s, len, i);
    p->state = S_AFTER;
    return r == LEX_OK ? STEP_ON : r == LEX_MORE ? STEP_MORE : STEP_BAD;
}

/* One token of the grammar after the value-start states. */
static int prefix_step(prefix_st *p, const char *s, size_t len, size_t *i) {
    char ch = s[*i];
    bool top_obj = p->d && ((p->st[(p->d - 1) / 64] >> ((p->d - 1) % 64)) & 1);
    switch (p->state) {
    case S_ARR_FIRST:
    case S_VALUE:
        return prefix_value(p, s, len, i);
    case S_OBJ_FIRST:
    case S_OBJ_KEY:
        if (p->state == S_OBJ_FIRST && ch == '}') {
            p->d--, (*i)++, p->state = S_AFTER;
            return STEP_ON;
        }
        if (ch != '"')
            return STEP_BAD;
        p->state = S_COLON;
        int r = lex_string(s, len, i);
        return r == LEX_OK ? STEP_ON : r == LEX_MORE ? STEP_MORE : STEP_BAD;
    case S_COLON:
        if (ch != ':')
            return STEP_BAD;
        (*i)++, p->state = S_VALUE;
        return STEP_ON;
    default:
        if (!p->d)
            return STEP_BAD;
        if (ch == ',')
            p->state = top_obj ? S_OBJ_KEY : S_VALUE;
        else if ((ch == ']' && !top_obj) || (ch == '}' && top_obj))
            p->d--;
        else
            return STEP_BAD;
        (*i)++;
        return STEP_ON;
    }
}

/* Is `s` a proper prefix of some JSON text (it stops early rather than going wrong)?
 * The container stack lives on the verdict's words. */
static bool json_is_prefix(rr_verdict *v, const char *s, size_t len, uint32_t maxd) {
    if (!rr_verdict_words_reserve(v, maxd / 64 + 2))
        return false;
    prefix_st p = {v->words + v->words_top, 0, maxd, S_VALUE};
    bool any = false;
    for (size_t i = 0;;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i >= len)
            return any && !(p.d == 0 && p.state == S_AFTER);
        any = true;
        int r = prefix_step(&p, s, len, &i);
        if (r != STEP_ON)
            return r == STEP_MORE;
    }
}

/* A UTF-8 sequence cut off by the end of the text (not a bad byte). */
static bool utf8_cut(const char *s, size_t n) {
    unsigned char c0 = (unsigned char)s[0];
    size_t need = c0 >= 0xF0 && c0 <= 0xF4 ? 4 : c0 >= 0xE0 ? 3 : c0 >= 0xC2 ? 2 : 0;
    if (!need || n >= need)
        return false;
    for (size_t i = 1; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            return false;
    return true;
}

int rr_schema_parse_instance(const rr_schema *s, const char *text, size_t len, rr_verdict *v,
                             json_t **out, bool *truncated, rr_error *err) {
    *truncated = false;
    if (len > s->max_bytes)
        return rr_err(err, RR_ETOOBIG, "instance is %zu bytes, over the %llu-byte limit", len,
                      (unsigned long long)s->max_bytes);
    if (too_deep(text, len, s->max_depth))
        return rr_err(err, RR_EDEPTH, "instance nests deeper than %u levels", s->max_depth);
    json_error_t je;
    size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_t *j = json_loadb(text, len, flags, &je);
    if (!j && json_error_code(&je) == json_error_numeric_overflow)
        j = json_loadb(text, len, flags | JSON_DECODE_INT_AS_REAL, &je);
    if (j) {
        *out = j;
        return RR_OK;
    }
    enum json_error_code code = json_error_code(&je);
    if (code == json_error_out_of_memory)
        return rr_err(err, RR_ENOMEM, "out of memory while parsing the instance");
    size_t bad = code == json_error_invalid_utf8 ? rr_utf8_check(text, len) : len;
    if (bad < len && !utf8_cut(text + bad, len - bad))
        return rr_err(err, RR_EUTF8, "instance has invalid UTF-8 at byte offset %zu", bad);
    *truncated = json_is_prefix(v, text, bad, s->max_depth);
    rr_err_at(err, RR_EJSON, "", (uint32_t)je.line, (uint32_t)je.column, 0,
              "%s at line %d column %d: %s", *truncated ? "JSON ends early" : "not JSON", je.line,
              je.column, je.text);
    if (err)
        err->reserved_ = (uint32_t)(je.position < 0 ? 0 : je.position);
    return RR_EJSON;
}

int rr_schema_validate(const rr_schema *s, const char *instance, size_t len, rr_verdict *v,
                       rr_error *err) {
    if (!s || !v || (!instance && len))
        return rr_err(err, RR_EINVAL, "schema, instance and verdict are required");
    uint64_t t0 = rr_now_ns();
    rr_verdict_clear(v);
    json_t *j = NULL;
    bool truncated;
    rr_error perr = RR_ERROR_INIT;
    int rc = rr_schema_parse_instance(s, instance ? instance : "", len, v, &j, &truncated, &perr);
    if (rc == RR_EJSON) {
        int64_t pos = (int64_t)perr.reserved_;
        rc = rr_verdict_add(v, "schema", truncated ? "truncated_json" : "invalid_json", "", "", 0,
                            "", 0, pos, pos, "%s", perr.message);
        rr_verdict_fail(v, truncated ? RR_FAIL_TRUNCATED : RR_FAIL_SCHEMA);
        rr_verdict_ran(v, "schema", s->dialect_name, "schema", 0, rr_now_ns() - t0);
        return rc == RR_OK ? RR_OK : rr_err(err, rc, "out of memory");
    }
    if (rc != RR_OK) {
        if (err)
            *err = perr;
        return rc;
    }
    rc = validate_parsed(s, j, v, "schema", err, t0);
    json_decref(j);
    if (rc != RR_OK)
        rr_verdict_clear(v);
    return rc;
}

/* Format "regex": the pattern must compile and use only escapes ECMA-262 (with the "u"
 * flag) knows; PCRE2 accepts more, e.g. \a or \Z. */
int rr_schema_regex_ok(const rr_alloc *a, const char *s, size_t len) {
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] == '\\') {
            char e = s[++i];
            if (((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) &&
                !strchr("dDwWsSbBfnrtvcxukpP0", e))
                return 0;
        } else if (s[i] == '(' && s[i + 1] == '?') {
            /* PCRE/Python-only groups: (?P...), (?#...), global flags like (?i) */
            size_t k = i + 2;
            if (k < len && (s[k] == 'P' || s[k] == '#'))
                return 0;
            while (k < len && s[k] >= 'a' && s[k] <= 'z')
                k++;
            if (k > i + 2 && k < len && s[k] == ')')
                return 0;
        }
    }
    pcre2_general_context *g = pcre2_general_context_create(pcre_malloc, pcre_free, (void *)a);
    pcre2_compile_context *cc_ = g ? pcre2_compile_context_create(g) : NULL;
    rr_buf b;
    rr_buf_init(&b, a);
    if (!cc_ || !regex_translate(&b, s, len)) {
        rr_buf_free(&b);
        pcre2_compile_context_free(cc_);
        pcre2_general_context_free(g);
        return RR_ENOMEM;
    }
    pcre2_set_compile_extra_options(cc_, PCRE2_EXTRA_ALT_BSUX);
    int ec;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(b.p ? b.p : ""), b.len, PCRE2_UTF | PCRE2_ALT_BSUX,
                                   &ec, &eoff, cc_);
    int ok = re != NULL;
    pcre2_code_free(re);
    rr_buf_free(&b);
    pcre2_compile_context_free(cc_);
    pcre2_general_context_free(g);
    return ok;
}
