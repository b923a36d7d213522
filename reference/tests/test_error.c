/* test_error.c - the error table is complete and consistent. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/error.h"
#include "hm_test_alloc.h"

static void test_error_names_unique(void **state) {
  (void)state;
  static const int all[] = {
#define ROW(name, value, code, wire, msg) value,
      HM_ERR_TABLE(ROW)
#undef ROW
  };
  size_t n = sizeof all / sizeof all[0];
  for (size_t i = 0; i < n; i++) {
    assert_true(all[i] <= 0);
    assert_string_not_equal(hm_strerror(all[i]), "unknown error");
    for (size_t j = i + 1; j < n; j++) {
      assert_int_not_equal(all[i], all[j]);
      assert_string_not_equal(hm_err_name(all[i]), hm_err_name(all[j]));
    }
  }
}

static void test_error_unknown(void **state) {
  (void)state;
  assert_string_equal(hm_strerror(-9999), "unknown error");
  assert_string_equal(hm_err_name(-9999), "UNKNOWN");
  assert_string_equal(hm_err_wire(-9999), "INTERNAL");
  assert_string_equal(hm_err_name(HM_ERR_BADSIG), "BAD_SIGNATURE");
  assert_string_equal(hm_err_wire(HM_ERR_BADSIG), "AUTH_INVALID");
}

static void test_alloc_fail_nth(void **state) {
  (void)state;
  hm_test_alloc_install();
  hm_test_alloc_fail_at(2);
  char *a = hm_strdup("x");
  char *b = hm_strdup("y");
  char *c = hm_strdup("z");
  assert_non_null(a);
  assert_null(b);
  assert_non_null(c);
  assert_int_equal(hm_test_alloc_outstanding(), 2);
  hm_free(a);
  hm_free_secret(c, 2);
  assert_int_equal(hm_test_alloc_outstanding(), 0);
  hm_set_allocator(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_names_unique),
      cmocka_unit_test(test_error_unknown),
      cmocka_unit_test(test_alloc_fail_nth),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
