#define _POSIX_C_SOURCE 200809L
#include "base.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *libc_malloc(size_t n, void *ud) {
    RR_UNUSED(ud);
    return malloc(n);
}
static void *libc_realloc(void *p, size_t n, void *ud) {
    RR_UNUSED(ud);
    return realloc(p, n);
}
static void libc_free(void *p, void *ud) {
    RR_UNUSED(ud);
    free(p);
}

void rr_alloc_init(rr_alloc *a, const rr_allocator *pub) {
    if (pub && pub->malloc_fn && pub->free_fn) {
        a->malloc_fn = pub->malloc_fn;
        a->realloc_fn = pub->realloc_fn; /* may be NULL: rr_realloc emulates */
        a->free_fn = pub->free_fn;
        a->ud = pub->user_data;
    } else {
        a->malloc_fn = libc_malloc;
        a->realloc_fn = libc_realloc;
        a->free_fn = libc_free;
        a->ud = NULL;
    }
}

void *rr_malloc(const rr_alloc *a, size_t n) {
    return a->malloc_fn(n ? n : 1, a->ud);
}

void *rr_calloc(const rr_alloc *a, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t total = n * size;
    void *p = rr_malloc(a, total);
    if (p && total)
        memset(p, 0, total);
    return p;
}

void *rr_realloc(const rr_alloc *a, void *p, size_t old_size, size_t new_size) {
    if (!p)
        return rr_malloc(a, new_size);
    if (a->realloc_fn)
        return a->realloc_fn(p, new_size ? new_size : 1, a->ud);
    void *q = rr_malloc(a, new_size);
    if (!q)
        return NULL;
    memcpy(q, p, old_size < new_size ? old_size : new_size);
    a->free_fn(p, a->ud);
    return q;
}

void rr_free(const rr_alloc *a, void *p) {
    if (p)
        a->free_fn(p, a->ud);
}

char *rr_strndup(const rr_alloc *a, const char *s, size_t n) {
    char *d = rr_malloc(a, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *rr_strdup(const rr_alloc *a, const char *s) {
    return rr_strndup(a, s ? s : "", s ? strlen(s) : 0);
}

static void err_fill(rr_error *err, int code, const char *pointer, uint32_t line, uint32_t column,
                     uint32_t expr_column, const char *fmt, va_list ap) {
    err->code = code;
    err->line = line;
    err->column = column;
    err->expr_column = expr_column;
    snprintf(err->pointer, sizeof err->pointer, "%s", pointer ? pointer : "");
    size_t off = 0;
    if (pointer && *pointer) {
        int n = snprintf(err->message, sizeof err->message, "%s: ", pointer);
        off = n < 0 ? 0 : (size_t)n;
        if (off >= sizeof err->message)
            off = sizeof err->message - 1;
    }
    vsnprintf(err->message + off, sizeof err->message - off, fmt, ap);
}

int rr_err(rr_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err_fill(err, code, NULL, 0, 0, 0, fmt, ap);
        va_end(ap);
    }
    return code;
}

int rr_err_at(rr_error *err, int code, const char *pointer, uint32_t line, uint32_t column,
              uint32_t expr_column, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err_fill(err, code, pointer, line, column, expr_column, fmt, ap);
        va_end(ap);
    }
    return code;
}

void rr_buf_init(rr_buf *b, const rr_alloc *a) {
    memset(b, 0, sizeof *b);
    b->a = a;
}

void rr_buf_free(rr_buf *b) {
    if (b->p)
        rr_free(b->a, b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

bool rr_buf_reserve(rr_buf *b, size_t extra) {
    if (b->oom)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = rr_realloc(b->a, b->p, b->cap, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void rr_buf_put(rr_buf *b, const void *s, size_t n) {
    if (!rr_buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void rr_buf_puts(rr_buf *b, const char *s) {
    rr_buf_put(b, s, strlen(s));
}

void rr_buf_putc(rr_buf *b, char c) {
    rr_buf_put(b, &c, 1);
}

void rr_buf_printf(rr_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        rr_buf_put(b, tmp, (size_t)n);
        return;
    }
    if (!rr_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void rr_buf_json_str(rr_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (!rr_buf_reserve(b, n + 2))
        return;
    rr_buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rr_buf_put(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        rr_buf_put(b, esc, el);
    }
    rr_buf_put(b, s + run, n - run);
    rr_buf_putc(b, '"');
}

void rr_buf_json_kv(rr_buf *b, const char *k, const char *v) {
    rr_buf_json_str(b, k, strlen(k));
    rr_buf_putc(b, ':');
    rr_buf_json_str(b, v, strlen(v));
}

void rr_buf_json_num(rr_buf *b, double v) {
    if (!isfinite(v)) {
        rr_buf_puts(b, "null");
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        rr_buf_printf(b, "%.0f", v);
        return;
    }
    /* Shortest of %.15g / %.17g that round-trips. */
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v)
        snprintf(tmp, sizeof tmp, "%.17g", v);
    rr_buf_puts(b, tmp);
}

size_t rr_utf8_check(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        /* Fast path over ASCII, 8 bytes at a time. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (i + n > len)
            return i;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n;
    }
    return len;
}

uint64_t rr_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
