/* "format" assertions for JSON Schema. Each check is a small hand-written recogniser of the
 * RFC grammar the format names; none allocates (except "regex", which compiles). */
#include "schema.h"

#include <string.h>

enum {
    F_DATE_TIME = 1,
    F_DATE,
    F_TIME,
    F_DURATION,
    F_EMAIL,
    F_IDN_EMAIL,
    F_HOSTNAME,
    F_IDN_HOSTNAME,
    F_IPV4,
    F_IPV6,
    F_URI,
    F_URI_REF,
    F_IRI,
    F_IRI_REF,
    F_UUID,
    F_REGEX,
    F_JSON_POINTER,
    F_REL_JSON_POINTER,
    F_URI_TEMPLATE
};

static const char *const format_names[] = {"",
                                           "date-time",
                                           "date",
                                           "time",
                                           "duration",
                                           "email",
                                           "idn-email",
                                           "hostname",
                                           "idn-hostname",
                                           "ipv4",
                                           "ipv6",
                                           "uri",
                                           "uri-reference",
                                           "iri",
                                           "iri-reference",
                                           "uuid",
                                           "regex",
                                           "json-pointer",
                                           "relative-json-pointer",
                                           "uri-template"};

int rr_format_id(const char *name) {
    for (size_t i = 1; i < RR_ARRAY_LEN(format_names); i++)
        if (strcmp(name, format_names[i]) == 0)
            return (int)i;
    return 0;
}

static bool dig(char c) {
    return c >= '0' && c <= '9';
}

static bool hex(char c) {
    return dig(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* n ASCII digits at s as a number, or -1. */
static int num(const char *s, size_t n) {
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!dig(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* --- RFC 3339 dates and times --- */

static bool check_date(const char *s, size_t n) {
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return false;
    int y = num(s, 4), m = num(s + 5, 2), d = num(s + 8, 2);
    if (y < 0 || m < 1 || m > 12 || d < 1)
        return false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int max = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        max = 29;
    return d <= max;
}

static bool check_time(const char *s, size_t n) {
    if (n < 9 || s[2] != ':' || s[5] != ':')
        return false;
    int h = num(s, 2), mi = num(s + 3, 2), se = num(s + 6, 2);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
        return false;
    size_t i = 8;
    if (s[i] == '.') {
        size_t b = ++i;
        while (i < n && dig(s[i]))
            i++;
        if (i == b)
            return false;
    }
    if (i >= n)
        return false;
    int oh = 0, om = 0, sign = 0;
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
        /* UTC */
    } else if ((s[i] == '+' || s[i] == '-') && n - i == 6 && s[i + 3] == ':') {
        sign = s[i] == '+' ? 1 : -1;
        oh = num(s + i + 1, 2);
        om = num(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return false;
    } else {
        return false;
    }
    if (se == 60) {
        /* A leap second exists only at 23:59:60 UTC. */
        int utc = ((h * 60 + mi - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return false;
    }
    return true;
}

static bool check_date_time(const char *s, size_t n) {
    return n > 11 && (s[10] == 'T' || s[10] == 't') && check_date(s, 10) &&
           check_time(s + 11, n - 11);
}

/* ISO 8601 duration as RFC 3339 appendix A restricts it. */
static bool check_duration(const char *s, size_t n) {
    if (n < 3 || s[0] != 'P')
        return false;
    static const char date_units[] = "YMD", time_units[] = "HMS";
    size_t i = 1;
    bool in_time = false, any = false, week = false, time_any = false;
    const char *units = date_units;
    size_t next_unit = 0;
    while (i < n) {
        if (s[i] == 'T') {
            if (in_time || week)
                return false;
            in_time = true;
            units = time_units;
            next_unit = 0;
            i++;
            continue;
        }
        size_t b = i;
        while (i < n && dig(s[i]))
            i++;
        if (i == b || i >= n)
            return false;
        char u = s[i++];
        if (u == 'W' && !in_time) {
            if (any || i != n)
                return false;
            week = any = true;
            continue;
        }
        const char *p = strchr(units + next_unit, u);
        if (!p || !u)
            return false;
        /* RFC 3339 appendix A: units form one unbroken run (P1Y2D is not a duration) */
        bool first = in_time ? !time_any : !any;
        if (!first && (size_t)(p - units) != next_unit)
            return false;
        next_unit = (size_t)(p - units) + 1;
        any = true;
        if (in_time)
            time_any = true;
    }
    return any && (!in_time || time_any);
}

/* --- Internet addresses and names --- */

static bool check_ipv4(const char *s, size_t n) {
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t b = i;
        while (i < n && dig(s[i]))
            i++;
        size_t len = i - b;
        if (len == 0 || len > 3 || (len > 1 && s[b] == '0') || num(s + b, len) > 255)
            return false;
        if (part < 3) {
            if (i >= n || s[i] != '.')
                return false;
            i++;
        }
    }
    return i == n;
}

static bool check_ipv6(const char *s, size_t n) {
    if (n < 2)
        return false;
    size_t i = 0, groups = 0;
    bool compressed = false;
    if (s[0] == ':') {
        if (s[1] != ':')
            return false;
        compressed = true;
        i = 2;
        if (i == n)
            return true;
    }
    while (i < n) {
        size_t b = i;
        while (i < n && hex(s[i]))
            i++;
        if (i < n && s[i] == '.') {
            /* embedded IPv4 in the last 32 bits */
            if (!check_ipv4(s + b, n - b))
                return false;
            groups += 2;
            i = n;
            break;
        }
        if (i - b == 0 || i - b > 4)
            return false;
        groups++;
        if (i == n)
            break;
        if (s[i] != ':')
            return false;
        i++;
        if (i < n && s[i] == ':') {
            if (compressed)
                return false;
            compressed = true;
            i++;
            if (i == n)
                break;
        } else if (i == n) {
            return false;
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

static bool hostname_label(const char *s, size_t n, bool idn) {
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    if (n >= 4 && s[2] == '-' && s[3] == '-' &&
        !((s[0] == 'x' || s[0] == 'X') && (s[1] == 'n' || s[1] == 'N')))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 && idn)
            continue;
        if (!(alpha((char)c) || dig((char)c) || c == '-'))
            return false;
    }
    return true;
}

/* --- Internationalised host names (IDNA2008: RFC 5890-5893, 3492) ---
 * Character properties come from small range tables that cover the scripts the contextual
 * and bidi rules are about; that is enough for the rules, not a full Unicode database. */

#define MAX_LABEL_CPS 256

typedef struct range {
    uint32_t lo, hi;
} range;

static bool in_ranges(uint32_t c, const range *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (c >= r[i].lo && c <= r[i].hi)
            return true;
    return false;
}

static const range marks[] = {
    {0x300, 0x36F},   {0x483, 0x489},     {0x591, 0x5BD},     {0x5BF, 0x5BF},    {0x5C1, 0x5C2},
    {0x5C4, 0x5C5},   {0x5C7, 0x5C7},     {0x610, 0x61A},     {0x64B, 0x65F},    {0x670, 0x670},
    {0x6D6, 0x6DC},   {0x6DF, 0x6E4},     {0x6E7, 0x6E8},     {0x6EA, 0x6ED},    {0x711, 0x711},
    {0x730, 0x74A},   {0x7A6, 0x7B0},     {0x7EB, 0x7F3},     {0x816, 0x82D},    {0x859, 0x85B},
    {0x8D3, 0x8FF},   {0x900, 0x903},     {0x93A, 0x93C},     {0x93E, 0x94F},    {0x951, 0x957},
    {0x962, 0x963},   {0x981, 0x983},     {0x9BC, 0x9BC},     {0x9BE, 0x9CD},    {0x9D7, 0x9D7},
    {0x9E2, 0x9E3},   {0xA01, 0xA03},     {0xA3C, 0xA51},     {0xA70, 0xA71},    {0xA75, 0xA75},
    {0xA81, 0xA83},   {0xABC, 0xABC},     {0xABE, 0xACD},     {0xAE2, 0xAE3},    {0xB01, 0xB03},
    {0xB3C, 0xB3C},   {0xB3E, 0xB57},     {0xB62, 0xB63},     {0xB82, 0xB82},    {0xBBE, 0xBCD},
    {0xBD7, 0xBD7},   {0xC00, 0xC04},     {0xC3E, 0xC56},     {0xC62, 0xC63},    {0xC81, 0xC83},
    {0xCBC, 0xCBC},   {0xCBE, 0xCD6},     {0xCE2, 0xCE3},     {0xD00, 0xD03},    {0xD3B, 0xD3C},
    {0xD3E, 0xD4D},   {0xD57, 0xD57},     {0xD62, 0xD63},     {0xD82, 0xD83},    {0xDCA, 0xDDF},
    {0xDF2, 0xDF3},   {0xE31, 0xE31},     {0xE34, 0xE3A},     {0xE47, 0xE4E},    {0xEB1, 0xEB1},
    {0xEB4, 0xEBC},   {0xEC8, 0xECD},     {0xF18, 0xF19},     {0xF35, 0xF35},    {0xF37, 0xF37},
    {0xF39, 0xF39},   {0xF3E, 0xF3F},     {0xF71, 0xF84},     {0xF86, 0xF87},    {0xF8D, 0xFBC},
    {0xFC6, 0xFC6},   {0x102B, 0x103E},   {0x1056, 0x1059},   {0x135D, 0x135F},  {0x1712, 0x1714},
    {0x17B4, 0x17D3}, {0x180B, 0x180D},   {0x1A17, 0x1A1B},   {0x1AB0, 0x1AFF},  {0x1B00, 0x1B04},
    {0x1B34, 0x1B44}, {0x1DC0, 0x1DFF},   {0x20D0, 0x20F0},   {0x2CEF, 0x2CF1},  {0x2DE0, 0x2DFF},
    {0x302A, 0x302F}, {0x3099, 0x309A},   {0xA66F, 0xA672},   {0xA674, 0xA67D},  {0xA802, 0xA802},
    {0xA806, 0xA806}, {0xA80B, 0xA80B},   {0xA823, 0xA827},   {0xFB1E, 0xFB1E},  {0xFE00, 0xFE0F},
    {0xFE20, 0xFE2F}, {0x1D165, 0x1D169}, {0x1D16D, 0x1D172}, {0xE0100, 0xE01EF}};

static const range viramas[] = {
    {0x94D, 0x94D},     {0x9CD, 0x9CD},     {0xA4D, 0xA4D},     {0xACD, 0xACD},
    {0xB4D, 0xB4D},     {0xBCD, 0xBCD},     {0xC4D, 0xC4D},     {0xCCD, 0xCCD},
    {0xD3B, 0xD3C},     {0xD4D, 0xD4D},     {0xDCA, 0xDCA},     {0xE3A, 0xE3A},
    {0xEBA, 0xEBA},     {0xF84, 0xF84},     {0x1039, 0x103A},   {0x1714, 0x1714},
    {0x1734, 0x1734},   {0x17D2, 0x17D2},   {0x1A60, 0x1A60},   {0x1B44, 0x1B44},
    {0x1BAA, 0x1BAB},   {0x1BF2, 0x1BF3},   {0x2D7F, 0x2D7F},   {0xA806, 0xA806},
    {0xA8C4, 0xA8C4},   {0xA953, 0xA953},   {0xA9C0, 0xA9C0},   {0xAAF6, 0xAAF6},
    {0xABED, 0xABED},   {0x10A3F, 0x10A3F}, {0x11046, 0x11046}, {0x1107F, 0x1107F},
    {0x110B9, 0x110B9}, {0x11133, 0x11134}, {0x111C0, 0x111C0}, {0x11235, 0x11235},
    {0x112EA, 0x112EA}, {0x1134D, 0x1134D}, {0x11442, 0x11442}, {0x114C2, 0x114C2},
    {0x115BF, 0x115BF}, {0x1163F, 0x1163F}, {0x116B6, 0x116B6}, {0x1172B, 0x1172B},
    {0x11839, 0x11839}, {0x119E0, 0x119E0}, {0x11A34, 0x11A34}, {0x11A47, 0x11A47},
    {0x11A99, 0x11A99}, {0x11C3F, 0x11C3F}, {0x11D44, 0x11D45}, {0x11D97, 0x11D97}};

static const range kana_han[] = {{0x3005, 0x3007}, {0x3041, 0x309F}, {0x30A0, 0x30FA},
                                 {0x30FC, 0x30FF}, {0x31F0, 0x31FF}, {0x3400, 0x4DBF},
                                 {0x4E00, 0x9FFF}, {0xF900, 0xFAFF}, {0x20000, 0x2FFFF}};

static const range arabic_letters[] = {{0x620, 0x64A}, {0x66E, 0x66F}, {0x671, 0x6D3},
                                       {0x6D5, 0x6D5}, {0x6FA, 0x6FC}, {0x6FF, 0x6FF},
                                       {0x750, 0x77F}, {0x8A0, 0x8C9}};

#define IN(c, table) in_ranges((c), (table), sizeof(table) / sizeof((table)[0]))

static bool is_mark(uint32_t c) {
    return c >= 0x300 && IN(c, marks);
}

enum { BD_L, BD_R, BD_AL, BD_AN, BD_EN, BD_NSM, BD_ON };

static int bidi_class(uint32_t c) {
    if ((c >= '0' && c <= '9') || (c >= 0x6F0 && c <= 0x6F9))
        return BD_EN;
    if ((c >= 0x660 && c <= 0x669) || c == 0x66B || c == 0x66C)
        return BD_AN;
    if (is_mark(c))
        return BD_NSM;
    if ((c >= 0x590 && c <= 0x5FF) || (c >= 0x7C0 && c <= 0x85F) || (c >= 0xFB1D && c <= 0xFB4F))
        return BD_R;
    if ((c >= 0x600 && c <= 0x7BF) || (c >= 0x860 && c <= 0x8FF) || (c >= 0xFB50 && c <= 0xFDFF) ||
        (c >= 0xFE70 && c <= 0xFEFF))
        return BD_AL;
    if (c == '-' || c == 0x200C || c == 0x200D)
        return BD_ON;
    return BD_L;
}

static size_t utf8_decode(const char *s, size_t n, uint32_t *out, size_t max) {
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        if (k == max)
            return SIZE_MAX;
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
        if (i + len > n)
            return SIZE_MAX;
        for (size_t j = 1; j < len; j++)
            cp = (cp << 6) | ((unsigned char)s[i + j] & 0x3Fu);
        out[k] = cp;
        i += len;
    }
    return k;
}

enum { PB = 36, PTMIN = 1, PTMAX = 26, PSKEW = 38, PDAMP = 700 };

static uint32_t puny_adapt(uint32_t delta, uint32_t points, bool first) {
    delta = first ? delta / PDAMP : delta / 2;
    delta += delta / points;
    uint32_t k = 0;
    while (delta > ((PB - PTMIN) * PTMAX) / 2) {
        delta /= PB - PTMIN;
        k += PB;
    }
    return k + (PB - PTMIN + 1) * delta / (delta + PSKEW);
}

static uint32_t puny_t(uint32_t k, uint32_t bias) {
    return k <= bias ? PTMIN : k >= bias + PTMAX ? PTMAX : k - bias;
}

/* RFC 3492 decoding; SIZE_MAX when `in` is not Punycode. */
static size_t puny_decode(const char *in, size_t n, uint32_t *out, size_t max) {
    size_t b = 0, k = 0;
    for (size_t j = 0; j < n; j++)
        if (in[j] == '-')
            b = j;
    for (size_t j = 0; j < b; j++) {
        if ((unsigned char)in[j] >= 0x80 || k == max)
            return SIZE_MAX;
        out[k++] = (unsigned char)in[j];
    }
    uint32_t cp = 128, i = 0, bias = 72;
    for (size_t pos = b > 0 ? b + 1 : 0; pos < n;) {
        uint32_t oldi = i, w = 1;
        for (uint32_t kk = PB;; kk += PB) {
            if (pos >= n)
                return SIZE_MAX;
            char c = in[pos++];
            uint32_t d = c >= 'a' && c <= 'z'   ? (uint32_t)(c - 'a')
                         : c >= 'A' && c <= 'Z' ? (uint32_t)(c - 'A')
                         : c >= '0' && c <= '9' ? (uint32_t)(c - '0' + 26)
                                                : PB;
            if (d >= PB || d > (UINT32_MAX - i) / w)
                return SIZE_MAX;
            i += d * w;
            uint32_t t = puny_t(kk, bias);
            if (d < t)
                break;
            if (w > UINT32_MAX / (PB - t))
                return SIZE_MAX;
            w *= PB - t;
        }
        bias = puny_adapt(i - oldi, (uint32_t)k + 1, oldi == 0);
        if (i / (k + 1) > 0x10FFFF - cp || k == max)
            return SIZE_MAX;
        cp += i / (uint32_t)(k + 1);
        i %= (uint32_t)(k + 1);
        memmove(out + i + 1, out + i, (k - i) * sizeof *out);
        out[i++] = cp;
        k++;
    }
    return k;
}

/* RFC 3492 encoding of cps into out (lower case); its length, or SIZE_MAX if too long. */
static size_t puny_encode(const uint32_t *cps, size_t n, char *out, size_t max) {
    size_t o = 0, h, b = 0;
    for (size_t j = 0; j < n; j++)
        if (cps[j] < 0x80) {
            if (o == max)
                return SIZE_MAX;
            out[o++] = (char)cps[j];
            b++;
        }
    h = b;
    if (b) {
        if (o == max)
            return SIZE_MAX;
        out[o++] = '-';
    }
    uint32_t cp = 128, delta = 0, bias = 72;
    while (h < n) {
        uint32_t m = UINT32_MAX;
        for (size_t j = 0; j < n; j++)
            if (cps[j] >= cp && cps[j] < m)
                m = cps[j];
        delta += (m - cp) * (uint32_t)(h + 1);
        cp = m;
        for (size_t j = 0; j < n; j++) {
            if (cps[j] < cp)
                delta++;
            if (cps[j] != cp)
                continue;
            uint32_t q = delta;
            for (uint32_t k = PB;; k += PB) {
                uint32_t t = puny_t(k, bias);
                if (q < t)
                    break;
                uint32_t d = t + (q - t) % (PB - t);
                if (o == max)
                    return SIZE_MAX;
                out[o++] = (char)(d < 26 ? 'a' + d : '0' + d - 26);
                q = (q - t) / (PB - t);
            }
            if (o == max)
                return SIZE_MAX;
            out[o++] = (char)(q < 26 ? 'a' + q : '0' + q - 26);
            bias = puny_adapt(delta, (uint32_t)h + 1, h == b);
            delta = 0;
            h++;
        }
        delta++;
        cp++;
    }
    return o;
}

static bool is_disallowed(uint32_t c) {
    /* ASCII other than LDH (lower case), C1 controls, Latin-1 punctuation and symbols, the
     * RFC 5892 section 2.6 exceptions, surrogates */
    return c < 0x2D || (c > 0x2D && c < 0x30) || (c > 0x39 && c < 0x61) || (c > 0x7A && c < 0xA0) ||
           (c >= 0xA0 && c <= 0xBF && c != 0xB7) || c == 0xD7 || c == 0xF7 || c == 0x640 ||
           c == 0x7FA || c == 0x302E || c == 0x302F || (c >= 0x3031 && c <= 0x3035) ||
           c == 0x303B || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF;
}

/* RFC 5892 appendix A contextual rules for one code point. */
static bool context_ok(const uint32_t *cp, size_t n, size_t i) {
    uint32_t c = cp[i], prev = i ? cp[i - 1] : 0, next = i + 1 < n ? cp[i + 1] : 0;
    switch (c) {
    case 0xB7:
        return prev == 'l' && next == 'l';
    case 0x375:
        return next && ((next >= 0x370 && next <= 0x3FF && next != 0x375) ||
                        (next >= 0x1F00 && next <= 0x1FFF));
    case 0x5F3:
    case 0x5F4:
        return prev >= 0x590 && prev <= 0x5FF;
    case 0x200D:
        return i && IN(prev, viramas);
    case 0x200C: {
        if (i && IN(prev, viramas))
            return true;
        size_t a = i, z = i + 1;
        while (a > 0 && is_mark(cp[a - 1]))
            a--;
        while (z < n && is_mark(cp[z]))
            z++;
        return a > 0 && IN(cp[a - 1], arabic_letters) && z < n && IN(cp[z], arabic_letters);
    }
    case 0x30FB:
        for (size_t k = 0; k < n; k++)
            if (cp[k] != 0x30FB && IN(cp[k], kana_han))
                return true;
        return false;
    default:
        return true;
    }
}

/* RFC 5893 rules for one label of a domain that contains right-to-left text. */
static bool bidi_ok(const uint32_t *cp, size_t n) {
    int first = bidi_class(cp[0]);
    if (first != BD_L && first != BD_R && first != BD_AL)
        return false;
    bool rtl = first != BD_L, en = false, an = false;
    int last = -1;
    for (size_t i = 0; i < n; i++) {
        int b = bidi_class(cp[i]);
        if (rtl ? b == BD_L : (b == BD_R || b == BD_AL || b == BD_AN))
            return false;
        en |= b == BD_EN;
        an |= b == BD_AN;
        if (b != BD_NSM)
            last = b;
    }
    if (rtl)
        return !(en && an) && (last == BD_R || last == BD_AL || last == BD_EN || last == BD_AN);
    return last == BD_L || last == BD_EN;
}

static bool ulabel_ok(const uint32_t *cp, size_t n) {
    if (n == 0 || cp[0] == '-' || cp[n - 1] == '-' || (n >= 4 && cp[2] == '-' && cp[3] == '-'))
        return false;
    if (is_mark(cp[0]))
        return false;
    bool arabic_digits = false, ext_digits = false;
    for (size_t i = 0; i < n; i++) {
        if (is_disallowed(cp[i]) || !context_ok(cp, n, i))
            return false;
        arabic_digits |= cp[i] >= 0x660 && cp[i] <= 0x669;
        ext_digits |= cp[i] >= 0x6F0 && cp[i] <= 0x6F9;
    }
    return !(arabic_digits && ext_digits);
}

typedef struct idn_label {
    uint32_t cp[MAX_LABEL_CPS];
    size_t n;
    size_t alen; /* length of the label's ASCII (A-label) form */
} idn_label;

/* Decode one label (ASCII, A-label or U-label) and check it alone. */
static bool idn_label_check(const char *s, size_t len, bool idn, idn_label *l) {
    bool ascii = true;
    for (size_t i = 0; i < len; i++)
        ascii &= (unsigned char)s[i] < 0x80;
    if (!ascii && !idn)
        return false;
    if (ascii) {
        if (!hostname_label(s, len, false))
            return false;
        bool xn =
            len >= 4 && (s[0] | 0x20) == 'x' && (s[1] | 0x20) == 'n' && s[2] == '-' && s[3] == '-';
        l->alen = len;
        if (!xn) {
            l->n = utf8_decode(s, len, l->cp, MAX_LABEL_CPS);
            for (size_t i = 0; i < l->n; i++)
                l->cp[i] |= (l->cp[i] >= 'A' && l->cp[i] <= 'Z') ? 0x20 : 0;
            return true;
        }
        l->n = puny_decode(s + 4, len - 4, l->cp, MAX_LABEL_CPS);
        if (l->n == SIZE_MAX || l->n == 0)
            return false;
        bool any_wide = false;
        for (size_t i = 0; i < l->n; i++)
            any_wide |= l->cp[i] >= 0x80;
        char re[64];
        size_t rl = puny_encode(l->cp, l->n, re, sizeof re);
        if (!any_wide || rl != len - 4)
            return false;
        for (size_t i = 0; i < rl; i++)
            if ((re[i] | 0x20) != (s[4 + i] | 0x20))
                return false;
        return ulabel_ok(l->cp, l->n);
    }
    l->n = utf8_decode(s, len, l->cp, MAX_LABEL_CPS);
    if (l->n == SIZE_MAX || !ulabel_ok(l->cp, l->n))
        return false;
    char a[64];
    size_t al = puny_encode(l->cp, l->n, a, sizeof a);
    if (al == SIZE_MAX || al + 4 > 63)
        return false;
    l->alen = al + 4;
    return true;
}

/* Length in bytes of an IDNA label separator at s (".", U+3002, U+FF0E, U+FF61), or 0. */
static size_t idn_sep(const unsigned char *s, size_t n, bool idn) {
    if (n >= 1 && s[0] == '.')
        return 1;
    if (!idn || n < 3)
        return 0;
    if ((s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x82) ||
        (s[0] == 0xEF && s[1] == 0xBC && s[2] == 0x8E) ||
        (s[0] == 0xEF && s[1] == 0xBD && s[2] == 0xA1))
        return 3;
    return 0;
}

static bool check_hostname_idn(const char *s, size_t n, bool idn) {
    if (n == 0 || n > 1024)
        return false;
    idn_label l;
    size_t total = 0, b = 0;
    bool bidi_domain = false;
    /* pass 1: each label alone; pass 2: bidi rules when any label is right-to-left */
    for (int pass = 0; pass < 2; pass++) {
        total = 0;
        b = 0;
        for (size_t i = 0; i <= n;) {
            size_t sep = i < n ? idn_sep((const unsigned char *)s + i, n - i, idn) : 0;
            if (i < n && !sep) {
                i++;
                continue;
            }
            if (!idn_label_check(s + b, i - b, idn, &l))
                return false;
            total += l.alen + 1;
            for (size_t k = 0; pass == 0 && k < l.n; k++) {
                int bc = bidi_class(l.cp[k]);
                bidi_domain |= bc == BD_R || bc == BD_AL || bc == BD_AN;
            }
            if (pass == 1 && !bidi_ok(l.cp, l.n))
                return false;
            i += sep ? sep : 1;
            b = i;
        }
        if (total - 1 > 253)
            return false;
        if (!bidi_domain)
            break;
    }
    return true;
}

static bool atext(unsigned char c, bool idn) {
    return alpha((char)c) || dig((char)c) || strchr("!#$%&'*+-/=?^_`{|}~", c) || (idn && c >= 0x80);
}

static bool check_email(const char *s, size_t n, bool idn) {
    const char *at = NULL;
    size_t i = 0;
    if (n && s[0] == '"') {
        for (i = 1; i < n && s[i] != '"'; i++)
            if (s[i] == '\\')
                i++;
        if (i >= n)
            return false;
        i++;
    } else {
        for (; i < n && s[i] != '@'; i++) {
            if (s[i] == '.') {
                if (i == 0 || s[i - 1] == '.' || i + 1 >= n || s[i + 1] == '@')
                    return false;
            } else if (!atext((unsigned char)s[i], idn)) {
                return false;
            }
        }
        if (i == 0)
            return false;
    }
    if (i >= n || s[i] != '@')
        return false;
    at = s + i + 1;
    size_t dn = n - i - 1;
    if (dn >= 2 && at[0] == '[' && at[dn - 1] == ']') {
        if (dn > 7 && strncmp(at + 1, "IPv6:", 5) == 0)
            return check_ipv6(at + 6, dn - 7);
        return check_ipv4(at + 1, dn - 2);
    }
    return check_hostname_idn(at, dn, idn);
}

/* --- URIs (RFC 3986) and IRIs (RFC 3987) --- */

static bool unreserved(unsigned char c, bool iri) {
    return alpha((char)c) || dig((char)c) || strchr("-._~", c) || (iri && c >= 0x80);
}

static bool sub_delim(unsigned char c) {
    return c && strchr("!$&'()*+,;=", c);
}

/* Characters in s[0..n) are all pchar-ish (plus `extra`), with valid %-escapes. */
static bool uri_chars(const char *s, size_t n, const char *extra, bool iri) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n + 0 || !hex(s[i + 1]) || !hex(s[i + 2]))
                return false;
            i += 2;
        } else if (!unreserved(c, iri) && !sub_delim(c) && !(c && strchr(extra, c))) {
            return false;
        }
    }
    return true;
}

static bool check_authority(const char *s, size_t n, bool iri) {
    const char *at = memchr(s, '@', n);
    if (at) {
        if (!uri_chars(s, (size_t)(at - s), ":", iri))
            return false;
        n -= (size_t)(at - s) + 1;
        s = at + 1;
    }
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return false;
        size_t in = (size_t)(close - s) - 1;
        bool future = in > 3 && (s[1] == 'v' || s[1] == 'V') && hex(s[2]);
        if (future) { /* "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
            size_t k = 2;
            while (k <= in && hex(s[k]))
                k++;
            if (k > in || s[k] != '.' || k == in || !uri_chars(s + k + 1, in - k, ":", false))
                return false;
        } else if (!check_ipv6(s + 1, in)) {
            return false;
        }
        size_t rest = n - (size_t)(close - s) - 1;
        if (rest && close[1] != ':')
            return false;
        return rest <= 1 || num(close + 2, rest - 1) >= 0;
    }
    const char *colon = memchr(s, ':', n);
    size_t hn = colon ? (size_t)(colon - s) : n;
    if (colon) {
        for (size_t i = hn + 1; i < n; i++)
            if (!dig(s[i]))
                return false;
    }
    return uri_chars(s, hn, "", iri);
}

static bool check_uri_any(const char *s, size_t n, bool need_scheme, bool iri) {
    size_t i = 0;
    while (i < n && (alpha(s[i]) || (i > 0 && (dig(s[i]) || strchr("+-.", s[i])))))
        i++;
    bool has_scheme = i > 0 && i < n && s[i] == ':';
    if (need_scheme && !has_scheme)
        return false;
    size_t p = has_scheme ? i + 1 : 0;
    if (!has_scheme) {
        /* a relative reference's first segment may not contain ':' */
        size_t k = 0;
        while (k < n && !strchr("/?#", s[k]))
            k++;
        if (memchr(s, ':', k))
            return false;
    }
    size_t end = n;
    const char *hash = memchr(s + p, '#', n - p);
    if (hash) {
        end = (size_t)(hash - s);
        if (!uri_chars(hash + 1, n - end - 1, ":@/?", iri))
            return false;
    }
    const char *q = memchr(s + p, '?', end - p);
    size_t pend = q ? (size_t)(q - s) : end;
    if (q && !uri_chars(q + 1, end - pend - 1, ":@/?", iri))
        return false;
    if (pend - p >= 2 && s[p] == '/' && s[p + 1] == '/') {
        size_t a = p + 2, e = a;
        while (e < pend && s[e] != '/')
            e++;
        if (!check_authority(s + a, e - a, iri))
            return false;
        p = e;
    }
    return uri_chars(s + p, pend - p, ":@/", iri);
}

static bool check_uuid(const char *s, size_t n) {
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !hex(s[i]))
            return false;
    }
    return true;
}

static bool check_json_pointer(const char *s, size_t n) {
    if (n && s[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '~' && (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1')))
            return false;
    return true;
}

static bool check_rel_json_pointer(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && dig(s[i]))
        i++;
    if (i == 0 || (i > 1 && s[0] == '0'))
        return false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        size_t b = ++i;
        while (i < n && dig(s[i]))
            i++;
        if (i == b || (i - b > 1 && s[b] == '0') || (s[b] == '0' && s[b - 1] == '-'))
            return false;
    }
    if (i < n && s[i] == '#')
        return i + 1 == n;
    return check_json_pointer(s + i, n - i);
}

static bool varchar_at(const char *s, size_t n, size_t *i) {
    char c = s[*i];
    if (alpha(c) || dig(c) || c == '_') {
        (*i)++;
        return true;
    }
    if (c == '%' && *i + 2 < n && hex(s[*i + 1]) && hex(s[*i + 2])) {
        *i += 3;
        return true;
    }
    return false;
}

/* RFC 6570 level 4: varname [":" 1-9999 | "*"], comma separated. */
static bool template_expr(const char *s, size_t n, size_t *pi) {
    size_t i = *pi;
    if (i < n && strchr("+#./;?&=,!@|", s[i]) && s[i])
        i++;
    for (;;) {
        if (i >= n || !varchar_at(s, n, &i))
            return false;
        while (i < n && (s[i] == '.' || alpha(s[i]) || dig(s[i]) || s[i] == '_' || s[i] == '%')) {
            if (s[i] == '.')
                i++;
            if (i >= n || !varchar_at(s, n, &i))
                return false;
        }
        if (i < n && s[i] == ':') {
            size_t b = ++i;
            while (i < n && dig(s[i]))
                i++;
            if (i == b || i - b > 4 || s[b] == '0')
                return false;
        } else if (i < n && s[i] == '*') {
            i++;
        }
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        if (i < n && s[i] == '}') {
            *pi = i + 1;
            return true;
        }
        return false;
    }
}

static bool check_uri_template(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '{') {
            i++;
            if (!template_expr(s, n, &i))
                return false;
            continue;
        }
        if (c == '%') {
            if (i + 2 >= n || !hex(s[i + 1]) || !hex(s[i + 2]))
                return false;
            i += 3;
            continue;
        }
        if (c <= 0x20 || c == 0x7f || strchr("\"<>\\^`{|}", c))
            return false;
        i++;
    }
    return true;
}

int rr_format_check(const rr_alloc *a, int id, const char *s, size_t n) {
    switch (id) {
    case F_DATE_TIME:
        return check_date_time(s, n);
    case F_DATE:
        return check_date(s, n);
    case F_TIME:
        return check_time(s, n);
    case F_DURATION:
        return check_duration(s, n);
    case F_EMAIL:
        return check_email(s, n, false);
    case F_IDN_EMAIL:
        return check_email(s, n, true);
    case F_HOSTNAME:
        return check_hostname_idn(s, n, false);
    case F_IDN_HOSTNAME:
        return check_hostname_idn(s, n, true);
    case F_IPV4:
        return check_ipv4(s, n);
    case F_IPV6:
        return check_ipv6(s, n);
    case F_URI:
        return check_uri_any(s, n, true, false);
    case F_URI_REF:
        return check_uri_any(s, n, false, false);
    case F_IRI:
        return check_uri_any(s, n, true, true);
    case F_IRI_REF:
        return check_uri_any(s, n, false, true);
    case F_UUID:
        return check_uuid(s, n);
    case F_REGEX:
        return rr_schema_regex_ok(a, s, n);
    case F_JSON_POINTER:
        return check_json_pointer(s, n);
    case F_REL_JSON_POINTER:
        return check_rel_json_pointer(s, n);
    case F_URI_TEMPLATE:
        return check_uri_template(s, n);
    default:
        return 1;
    }
}
