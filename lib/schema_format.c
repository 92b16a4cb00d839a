/* "format" assertions for JSON Schema. Each check is a small hand-written recogniser of the
 * RFC grammar the format names; none allocates (except "regex", which compiles). */
#include "schema.h"

#include <string.h>

enum {
    F_DATE_TIME = 1, F_DATE, F_TIME, F_DURATION, F_EMAIL, F_IDN_EMAIL, F_HOSTNAME,
    F_IDN_HOSTNAME, F_IPV4, F_IPV6, F_URI, F_URI_REF, F_IRI, F_IRI_REF, F_UUID, F_REGEX,
    F_JSON_POINTER, F_REL_JSON_POINTER, F_URI_TEMPLATE
};

static const char *const format_names[] = {
    "", "date-time", "date", "time", "duration", "email", "idn-email", "hostname",
    "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid",
    "regex", "json-pointer", "relative-json-pointer", "uri-template"};

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

static bool check_hostname_idn(const char *s, size_t n, bool idn) {
    if (n == 0 || n > 253)
        return false;
    size_t b = 0;
    for (size_t i = 0; i <= n; i++) {
        bool sep = i == n || s[i] == '.';
        if (idn && i + 2 < n && (unsigned char)s[i] == 0xE3 && (unsigned char)s[i + 1] == 0x80 &&
            (unsigned char)s[i + 2] == 0x82) /* U+3002 ideographic full stop */
            sep = true;
        if (!sep)
            continue;
        if (!hostname_label(s + b, i - b, idn))
            return false;
        if (i < n && s[i] != '.')
            i += 2;
        b = i + 1;
    }
    return true;
}

static bool atext(unsigned char c, bool idn) {
    return alpha((char)c) || dig((char)c) || strchr("!#$%&'*+-/=?^_`{|}~", c) ||
           (idn && c >= 0x80);
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
        if (!close || !check_ipv6(s + 1, (size_t)(close - s) - 1))
            return false;
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

static bool check_uri_template(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '}')
            return false;
        if (s[i] != '{')
            continue;
        size_t b = ++i;
        if (i < n && strchr("+#./;?&=,!@|", s[i]))
            i++;
        while (i < n && s[i] != '}') {
            unsigned char c = (unsigned char)s[i];
            if (!(alpha((char)c) || dig((char)c) || c == '_' || c == '%' || c == '.' ||
                  c == ',' || c == '*' || c == ':'))
                return false;
            i++;
        }
        if (i >= n || i == b)
            return false;
    }
    return true;
}

int rr_format_check(const rr_alloc *a, int id, const char *s, size_t n) {
    switch (id) {
    case F_DATE_TIME: return check_date_time(s, n);
    case F_DATE: return check_date(s, n);
    case F_TIME: return check_time(s, n);
    case F_DURATION: return check_duration(s, n);
    case F_EMAIL: return check_email(s, n, false);
    case F_IDN_EMAIL: return check_email(s, n, true);
    case F_HOSTNAME: return check_hostname_idn(s, n, false);
    case F_IDN_HOSTNAME: return check_hostname_idn(s, n, true);
    case F_IPV4: return check_ipv4(s, n);
    case F_IPV6: return check_ipv6(s, n);
    case F_URI: return check_uri_any(s, n, true, false);
    case F_URI_REF: return check_uri_any(s, n, false, false);
    case F_IRI: return check_uri_any(s, n, true, true);
    case F_IRI_REF: return check_uri_any(s, n, false, true);
    case F_UUID: return check_uuid(s, n);
    case F_REGEX: return rr_schema_regex_ok(a, s, n);
    case F_JSON_POINTER: return check_json_pointer(s, n);
    case F_REL_JSON_POINTER: return check_rel_json_pointer(s, n);
    case F_URI_TEMPLATE: return check_uri_template(s, n);
    default: return 1;
    }
}
