/* Find where the value at a JSON pointer starts in raw JSON text, for error messages.
 * Only used on error paths; tolerant of malformed input (returns 0/0 when lost). */
#include "router.h"

#include <string.h>

typedef struct {
    const char *s;
    size_t len, i;
} cur;

static void skip_ws(cur *c) {
    while (c->i < c->len && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' ||
                             c->s[c->i] == '\r'))
        c->i++;
}

/* Skip a string starting at '"'; returns false when unterminated. */
static bool skip_string(cur *c) {
    c->i++;
    while (c->i < c->len) {
        char ch = c->s[c->i++];
        if (ch == '\\')
            c->i++;
        else if (ch == '"')
            return true;
    }
    return false;
}

static bool skip_value(cur *c, int depth) {
    skip_ws(c);
    if (c->i >= c->len || depth > 512)
        return false;
    char ch = c->s[c->i];
    if (ch == '"')
        return skip_string(c);
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        c->i++;
        for (;;) {
            skip_ws(c);
            if (c->i >= c->len)
                return false;
            if (c->s[c->i] == close) {
                c->i++;
                return true;
            }
            if (ch == '{') {
                if (c->s[c->i] != '"' || !skip_string(c))
                    return false;
                skip_ws(c);
                if (c->i >= c->len || c->s[c->i] != ':')
                    return false;
                c->i++;
            }
            if (!skip_value(c, depth + 1))
                return false;
            skip_ws(c);
            if (c->i < c->len && c->s[c->i] == ',')
                c->i++;
        }
    }
    while (c->i < c->len && !strchr(",]} \t\r\n", c->s[c->i]))
        c->i++;
    return true;
}

/* Compare the raw JSON string at c (at '"') with a pointer token (unescaped ~0 ~1). */
static bool key_equals(const char *raw, size_t rawlen, const char *tok, size_t toklen) {
    size_t i = 0, j = 0;
    while (i < rawlen && j < toklen) {
        char want = tok[j];
        size_t step = 1;
        if (want == '~' && j + 1 < toklen) {
            want = tok[j + 1] == '1' ? '/' : '~';
            step = 2;
        }
        if (raw[i] == '\\' && i + 1 < rawlen) {
            /* Escaped keys are rare in policies; compare the escaped char literally. */
            i++;
        }
        if (raw[i] != want)
            return false;
        i++;
        j += step;
    }
    return i == rawlen && j == toklen;
}

void rr_json_locate(const char *text, size_t len, const char *pointer, uint32_t *line,
                    uint32_t *column) {
    *line = *column = 0;
    cur c = {text, len, 0};
    const char *p = pointer ? pointer : "";
    skip_ws(&c);
    while (*p == '/') {
        p++;
        const char *end = strchr(p, '/');
        size_t toklen = end ? (size_t)(end - p) : strlen(p);
        skip_ws(&c);
        if (c.i >= c.len)
            return;
        char open = c.s[c.i];
        if (open != '{' && open != '[')
            return;
        c.i++;
        bool found = false;
        long want_index = -1;
        if (open == '[') {
            want_index = 0;
            for (size_t k = 0; k < toklen; k++)
                want_index = want_index * 10 + (p[k] - '0');
        }
        for (long idx = 0;; idx++) {
            skip_ws(&c);
            if (c.i >= c.len || c.s[c.i] == '}' || c.s[c.i] == ']')
                return;
            if (open == '{') {
                if (c.s[c.i] != '"')
                    return;
                size_t kstart = c.i + 1;
                if (!skip_string(&c))
                    return;
                size_t kend = c.i - 1;
                skip_ws(&c);
                if (c.i >= c.len || c.s[c.i] != ':')
                    return;
                c.i++;
                if (key_equals(c.s + kstart, kend - kstart, p, toklen)) {
                    found = true;
                    break;
                }
            } else if (idx == want_index) {
                found = true;
                break;
            }
            if (!skip_value(&c, 0))
                return;
            skip_ws(&c);
            if (c.i < c.len && c.s[c.i] == ',')
                c.i++;
        }
        if (!found)
            return;
        p += toklen;
    }
    skip_ws(&c);
    uint32_t ln = 1, col = 1;
    for (size_t k = 0; k < c.i && k < len; k++) {
        if (text[k] == '\n') {
            ln++;
            col = 1;
        } else if (((unsigned char)text[k] & 0xC0) != 0x80) {
            col++;
        }
    }
    *line = ln;
    *column = col;
}
