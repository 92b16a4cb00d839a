/* Internal foundation shared by every module: allocator, errors, growable buffer, UTF-8. */
#ifndef RR_BASE_H
#define RR_BASE_H

#include "routeright.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Resolved allocator (never NULL function pointers). Copy it by value into each object. */
typedef struct rr_alloc {
    void *(*malloc_fn)(size_t, void *);
    void *(*realloc_fn)(void *, size_t, void *);
    void (*free_fn)(void *, void *);
    void *ud;
} rr_alloc;

/* Fill `a` from a public allocator (NULL or partially-filled = libc). */
void rr_alloc_init(rr_alloc *a, const rr_allocator *pub);
void *rr_malloc(const rr_alloc *a, size_t n);
void *rr_calloc(const rr_alloc *a, size_t n, size_t size);
void *rr_realloc(const rr_alloc *a, void *p, size_t old_size, size_t new_size);
void rr_free(const rr_alloc *a, void *p);
char *rr_strdup(const rr_alloc *a, const char *s);
char *rr_strndup(const rr_alloc *a, const char *s, size_t n);

/* Fill `err` (may be NULL). Returns `code` so callers can `return rr_err(...)`. The message
 * is prefixed with "<pointer>: " when pointer is non-empty. */
int rr_err(rr_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int rr_err_at(rr_error *err, int code, const char *pointer, uint32_t line, uint32_t column,
              uint32_t expr_column, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Growable byte buffer; always NUL-terminated when p != NULL. Failure is sticky (`oom`). */
typedef struct rr_buf {
    char *p;
    size_t len, cap;
    const rr_alloc *a;
    bool oom;
} rr_buf;

void rr_buf_init(rr_buf *b, const rr_alloc *a);
void rr_buf_free(rr_buf *b);
static inline void rr_buf_clear(rr_buf *b) {
    b->len = 0;
    b->oom = false;
    if (b->p)
        b->p[0] = 0;
}
bool rr_buf_reserve(rr_buf *b, size_t extra);
void rr_buf_put(rr_buf *b, const void *s, size_t n);
void rr_buf_puts(rr_buf *b, const char *s);
void rr_buf_putc(rr_buf *b, char c);
void rr_buf_printf(rr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append `s` (n bytes) as a JSON string literal with quotes, escaping as RFC 8259 asks. */
void rr_buf_json_str(rr_buf *b, const char *s, size_t n);
/* Append "k":"v" (both escaped). */
void rr_buf_json_kv(rr_buf *b, const char *k, const char *v);
/* Append a number as JSON: integers without a fraction, others with %.17g trimmed;
 * non-finite values as null. */
void rr_buf_json_num(rr_buf *b, double v);

/* Returns the byte offset of the first invalid UTF-8 sequence, or `len` if all valid. */
size_t rr_utf8_check(const char *s, size_t len);

/* Monotonic nanoseconds. */
uint64_t rr_now_ns(void);

#define RR_UNUSED(x) (void)(x)
#define RR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
