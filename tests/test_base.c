#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "base.h"

static void test_utf8_check_finds_first_bad_byte(void **state) {
    (void)state;
    assert_int_equal(rr_utf8_check("hello", 5), 5);
    assert_int_equal(rr_utf8_check("h\xc3\xa9llo", 6), 6);
    assert_int_equal(rr_utf8_check("abc\xff", 4), 3);
    assert_int_equal(rr_utf8_check("abcdefghij\xc3", 11), 10);     /* truncated */
    assert_int_equal(rr_utf8_check("\xed\xa0\x80", 3), 0);          /* surrogate */
    assert_int_equal(rr_utf8_check("\xc0\xaf", 2), 0);              /* overlong */
    assert_int_equal(rr_utf8_check("\xf4\x90\x80\x80", 4), 0);      /* > U+10FFFF */
    assert_int_equal(rr_utf8_check("a\0b", 3), 3);                  /* NUL is valid */
}

static void test_buf_json_escapes_controls_and_quotes(void **state) {
    (void)state;
    rr_alloc a;
    rr_alloc_init(&a, NULL);
    rr_buf b;
    rr_buf_init(&b, &a);
    rr_buf_json_str(&b, "a\"b\\c\n\x01", 7);
    assert_string_equal(b.p, "\"a\\\"b\\\\c\\n\\u0001\"");
    rr_buf_clear(&b);
    rr_buf_json_num(&b, 0.1);
    rr_buf_putc(&b, ' ');
    rr_buf_json_num(&b, 42);
    rr_buf_putc(&b, ' ');
    rr_buf_json_num(&b, NAN);
    assert_string_equal(b.p, "0.1 42 null");
    rr_buf_free(&b);
}

static void test_err_prefixes_pointer(void **state) {
    (void)state;
    rr_error e = RR_ERROR_INIT;
    int rc = rr_err_at(&e, RR_EPOLICY, "/routes/x", 3, 7, 0, "unknown key '%s'", "foo");
    assert_int_equal(rc, RR_EPOLICY);
    assert_int_equal(e.code, RR_EPOLICY);
    assert_string_equal(e.pointer, "/routes/x");
    assert_string_equal(e.message, "/routes/x: unknown key 'foo'");
    assert_int_equal(e.line, 3);
    assert_int_equal(e.column, 7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_check_finds_first_bad_byte),
        cmocka_unit_test(test_buf_json_escapes_controls_and_quotes),
        cmocka_unit_test(test_err_prefixes_pointer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
