/* test_json.c - the JSON DOM: parse, JS-exact stringify, builders, limits, allocation failure.
 * Expected strings were produced with Node 20 (JSON.stringify(JSON.parse(text))). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/json.h"
#include "hm_test_alloc.h"

static char *roundtrip(const char *text, size_t len) {
  hm_json *j = NULL;
  assert_int_equal(hm_json_parse(&j, text, len, 0, NULL), HM_OK);
  char *out = NULL;
  size_t n = 0;
  assert_int_equal(hm_json_stringify(&out, &n, j), HM_OK);
  assert_int_equal(n, strlen(out));
  hm_json_free(j);
  return out;
}

static char *str_of(const hm_json *j) {
  char *s = NULL;
  assert_int_equal(hm_json_stringify(&s, NULL, j), HM_OK);
  return s;
}

static const struct {
  const char *in, *out;
} JS_CASES[] = {
    {"{\"b\":1,\"a\":2,\"1\":3,\"0\":4}",
     "{\"0\":4,\"1\":3,\"b\":1,\"a\":2}"},
    {"{\"4294967295\":1,\"4294967294\":2,\"01\":3,\"1\":4,\"-1\":5,\"1.0\":6,\"10\":7,\"2\":8}",
     "{\"1\":4,\"2\":8,\"10\":7,\"4294967294\":2,\"4294967295\":1,\"01\":3,\"-1\":5,\"1.0\":6}"},
    {"{\"a\":1,\"b\":2,\"a\":3}",
     "{\"a\":3,\"b\":2}"},
    {"{\"a\":1,\"a\":{\"x\":1},\"b\":2,\"a\":[1]}",
     "{\"a\":[1],\"b\":2}"},
    {"{\"1\":1,\"0\":0,\"1\":2}",
     "{\"0\":0,\"1\":2}"},
    {"\"\\u0000\\u001f\\u007f\\u2028\\u2029/\\/\"",
     "\"\\u0000\\u001f\x7f""\xe2""\x80""\xa8""\xe2""\x80""\xa9""//\""},
    {"\"\\ud800\"",
     "\"\\ud800\""},
    {"\"\\udc00\"",
     "\"\\udc00\""},
    {"\"\\ud83d\\ude00\"",
     "\"\xf0""\x9f""\x98""\x80""\""},
    {"\"\\ud83d\\u0041\"",
     "\"\\ud83dA\""},
    {"\"\\ud800\\ud800\\udc00\"",
     "\"\\ud800\xf0""\x90""\x80""\x80""\""},
    {"\"\\uDBFF\\uDFFF\"",
     "\"\xf4""\x8f""\xbf""\xbf""\""},
    {"\"\\uD800x\"",
     "\"\\ud800x\""},
    {"\"\\b\\f\\n\\r\\t\\\"\\\\\"",
     "\"\\b\\f\\n\\r\\t\\\"\\\\\""},
    {"\"\\u00e9\\u20ac\"",
     "\"\xc3""\xa9""\xe2""\x82""\xac""\""},
    {"\"\xc3""\xa9""\xf0""\x9f""\x98""\x80""\xe2""\x80""\xa8""\x7f""\"",
     "\"\xc3""\xa9""\xf0""\x9f""\x98""\x80""\xe2""\x80""\xa8""\x7f""\""},
    {"[1e21,1e-7,0.1,5e-324,1.7976931348623157e308,-0,123456789012345680000,1e400,-1e400,1e-400,-1e-400]",
     "[1e+21,1e-7,0.1,5e-324,1.7976931348623157e+308,0,123456789012345680000,null,null,0,0]"},
    {"[1e20,123e18,1.5e-7,0.000001,0.0000001,100,1E+2,0.5,-0.0,9007199254740993,4.35,0.3,1.1e-6,123456.789e3]",
     "[100000000000000000000,123000000000000000000,1.5e-7,0.000001,1e-7,100,100,0.5,0,9007199254740992,4.35,0.3,0.0000011,123456789]"},
    {"[2.2250738585072014e-308,4.9406564584124654e-324,0.1e1,1.0,1.50,999999999999999999999,1e308,1.7976931348623158e308]",
     "[2.2250738585072014e-308,5e-324,1,1,1.5,1e+21,1e+308,1.7976931348623157e+308]"},
    {" { \"a\" : [ true , false , null ] , \"b\" : { } , \"c\" : [ ] } ",
     "{\"a\":[true,false,null],\"b\":{},\"c\":[]}"},
    {"{\"\":\"\",\"__proto__\":1,\"a b\":\"\\u0041\"}",
     "{\"\":\"\",\"__proto__\":1,\"a b\":\"A\"}"},
    {"{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16,\"k3\":33,\"17\":17,\"k17\":17}",
     "{\"17\":17,\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":33,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16,\"k17\":17}"},
};

/* Key order (integer-like first: "4294967295" and "01" are not), duplicates, escapes,
 * lone surrogates and numbers, each against Node's output. */
static void test_json_stringify_matches_js(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof JS_CASES / sizeof JS_CASES[0]; i++) {
    char *out = roundtrip(JS_CASES[i].in, strlen(JS_CASES[i].in));
    if (strcmp(out, JS_CASES[i].out) != 0) fail_msg("case %zu: got %s want %s", i, out, JS_CASES[i].out);
    hm_free(out);
  }
}

static void test_json_stringify_nul_in_string(void **state) {
  (void)state;
  const char text[] = "{\"a\\u0000b\":\"x\\u0000y\"}";
  char *out = roundtrip(text, sizeof text - 1);
  assert_string_equal(out, "{\"a\\u0000b\":\"x\\u0000y\"}");
  hm_free(out);
  hm_json *j = NULL;
  assert_int_equal(hm_json_parse(&j, text, sizeof text - 1, 0, NULL), HM_OK);
  size_t n;
  const char *s = hm_json_string(hm_json_object_get(j, "a\0b", 3), &n);
  assert_non_null(s);
  assert_int_equal(n, 3);
  assert_memory_equal(s, "x\0y", 3);
  hm_json_free(j);
}

static void test_json_format_number_known(void **state) {
  (void)state;
  static const struct {
    double d;
    const char *s;
  } nums[] = {
      {0.0, "0"},
      {-0.0, "0"},
      {1.0, "1"},
      {-1.0, "-1"},
      {0.1, "0.1"},
      {0.30000000000000004, "0.30000000000000004"},
      {0.33333333333333331, "0.3333333333333333"},
      {-0.33333333333333331, "-0.3333333333333333"},
      {1e21, "1e+21"},
      {1e-7, "1e-7"},
      {5e-324, "5e-324"},
      {1.7976931348623157e+308, "1.7976931348623157e+308"},
      {123456789012345680000.0, "123456789012345680000"},
      {9007199254740992.0, "9007199254740992"},
      {9007199254740994.0, "9007199254740994"},
      {2.2250738585072014e-308, "2.2250738585072014e-308"},
      {8.9884656743115795e+307, "8.98846567431158e+307"},
      {0.000001, "0.000001"},
      {1.5e-7, "1.5e-7"},
      {1e100, "1e+100"},
      {-1.5e-300, "-1.5e-300"},
      {255.0, "255"},
      {4294967295.0, "4294967295"},
      {4294967296.0, "4294967296"},
      {1000000000000000.5, "1000000000000000.5"},
      {0.000001234, "0.000001234"},
      {12345678.9, "12345678.9"},
      {9.2233720368547758e+18, "9223372036854776000"},
      {1e23, "1e+23"},
      {5e-7, "5e-7"},
      {100.125, "100.125"},
  };
  char buf[32];
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    size_t n = hm_json_format_number(buf, nums[i].d);
    assert_string_equal(buf, nums[i].s);
    assert_int_equal(n, strlen(nums[i].s));
  }
  hm_json_format_number(buf, NAN);
  assert_string_equal(buf, "NaN");
  hm_json_format_number(buf, -INFINITY);
  assert_string_equal(buf, "-Infinity");
}

/* Every power of two: the asymmetric rounding interval is where naive shortest-digit
 * search goes wrong; checks that the digits round-trip and are no longer than %.17g. */
static void test_json_format_number_roundtrip_sweep(void **state) {
  (void)state;
  char buf[32];
  for (int e = -1074; e <= 1023; e++) {
    double d = ldexp(1.0, e);
    hm_json_format_number(buf, d);
    assert_true(strtod(buf, NULL) == d);
  }
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 20000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double d;
    memcpy(&d, &x, sizeof d);
    if (!isfinite(d)) continue;
    hm_json_format_number(buf, d);
    assert_true(strtod(buf, NULL) == d || (d == 0 && strcmp(buf, "0") == 0));
  }
}

static void test_json_parse_rejects_invalid(void **state) {
  (void)state;
  static const char *bad[] = {
      "", " ", "01", "1.", ".5", "-", "+1", "[1,]", "{\"a\":1,}", "{a:1}", "'a'", "\"\\x\"", "\"\\u12\"",
      "\"a\tb\"", "tru", "nul", "[1 2]", "1 2", "{\"a\":1}x", "\"abc", "[", "{\"a\"", "{\"a\":}", "-01",
      "1e", "1e+", "0x1", "NaN", "Infinity", "[-]", "\"\\U0041\"", "\xef\xbb\xbf" "1", "[1]\x0c",
      "{\"a\" 1}", "{,}", "[,1]", "\"\\u00G0\"", "truex", "/*c*/1", "1//", "\"\x01\"",
      /* invalid UTF-8: overlong, encoded surrogate, > U+10FFFF, truncated, stray bytes */
      "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"", "\"\xff\"", "\"\x80\"",
      "\"\xe0\x80\xaf\"", "\"\xf0\x80\x80\xaf\"", "\"\xc3\"",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    hm_json *j = (hm_json *)1;
    hm_json_parse_info info = {0};
    int r = hm_json_parse(&j, bad[i], strlen(bad[i]), 0, &info);
    if (r != HM_ERR_JSON) fail_msg("case %zu (%s): got %d", i, bad[i], r);
    assert_null(j);
    assert_true(info.error_offset <= strlen(bad[i]));
  }
  hm_json *j;
  assert_int_equal(hm_json_parse(&j, "1\0", 2, 0, NULL), HM_ERR_JSON);
  assert_int_equal(hm_json_parse(&j, "\"a\0\"", 4, 0, NULL), HM_ERR_JSON);
  hm_json_parse_info info = {0};
  assert_int_equal(hm_json_parse(&j, "[1, x]", 6, 0, &info), HM_ERR_JSON);
  assert_int_equal(info.error_offset, 4);
  assert_int_equal(hm_json_parse(NULL, "1", 1, 0, NULL), HM_ERR_INVAL);
}

static void test_json_parse_scalars_top_level(void **state) {
  (void)state;
  hm_json *j;
  assert_int_equal(hm_json_parse(&j, " true ", 6, 0, NULL), HM_OK);
  assert_int_equal(hm_json_kind_of(j), HM_JSON_TRUE);
  hm_json_free(j);
  assert_int_equal(hm_json_parse(&j, "-0", 2, 0, NULL), HM_OK);
  assert_int_equal(hm_json_kind_of(j), HM_JSON_NUMBER);
  assert_true(signbit(hm_json_number(j)));
  hm_json_free(j);
  assert_int_equal(hm_json_parse(&j, "1e400", 5, 0, NULL), HM_OK);
  assert_true(isinf(hm_json_number(j)));
  char *s;
  assert_int_equal(hm_json_stringify(&s, NULL, j), HM_OK);
  assert_string_equal(s, "null");
  hm_free(s);
  hm_json_free(j);
  /* a long number literal goes through the heap copy path */
  char lit[400];
  memset(lit, '0', sizeof lit);
  lit[0] = '0';
  lit[1] = '.';
  lit[sizeof lit - 1] = '5';
  assert_int_equal(hm_json_parse(&j, lit, sizeof lit, 0, NULL), HM_OK);
  hm_json_free(j);
}

static void test_json_parse_dupkeys(void **state) {
  (void)state;
  const char *t = "{\"a\":1,\"b\":2,\"a\":3,\"b\":{\"c\":1}}";
  hm_json *j = NULL;
  hm_json_parse_info info = {0};
  assert_int_equal(hm_json_parse(&j, t, strlen(t), 0, &info), HM_OK);
  assert_int_equal(info.duplicate_keys, 2);
  assert_int_equal(info.first_duplicate_offset, 13);
  assert_int_equal(hm_json_object_size(j), 2);
  assert_int_equal(hm_json_number(hm_json_object_getc(j, "a")), 3);
  char *s;
  assert_int_equal(hm_json_stringify(&s, NULL, j), HM_OK);
  assert_string_equal(s, "{\"a\":3,\"b\":{\"c\":1}}");
  hm_free(s);
  hm_json_free(j);
  j = (hm_json *)1;
  assert_int_equal(hm_json_parse(&j, t, strlen(t), HM_JSON_REJECT_DUPKEYS, &info), HM_ERR_JSON_DUPKEY);
  assert_null(j);
  assert_int_equal(info.error_offset, 13);
  /* duplicates spelled differently are still duplicates */
  const char *t2 = "{\"\\u0061\":1,\"a\":2}";
  assert_int_equal(hm_json_parse(&j, t2, strlen(t2), HM_JSON_REJECT_DUPKEYS, NULL), HM_ERR_JSON_DUPKEY);
  /* nested objects each have their own key space */
  const char *t3 = "{\"a\":{\"a\":1},\"b\":{\"a\":2}}";
  assert_int_equal(hm_json_parse(&j, t3, strlen(t3), HM_JSON_REJECT_DUPKEYS, NULL), HM_OK);
  hm_json_free(j);
}

static char *nested(size_t depth) {
  char *t = malloc(2 * depth + 1);
  assert_non_null(t);
  for (size_t i = 0; i < depth; i++) {
    t[i] = '[';
    t[2 * depth - 1 - i] = ']';
  }
  t[2 * depth] = 0;
  return t;
}

static void test_json_parse_depth_limit(void **state) {
  (void)state;
  hm_json *j;
  char *t = nested(128);
  assert_int_equal(hm_json_parse(&j, t, strlen(t), 0, NULL), HM_OK);
  hm_json_free(j);
  free(t);
  t = nested(129);
  hm_json_parse_info info = {0};
  assert_int_equal(hm_json_parse(&j, t, strlen(t), 0, &info), HM_ERR_JSON_DEPTH);
  assert_int_equal(info.error_offset, 128);
  info.max_depth = 200;
  assert_int_equal(hm_json_parse(&j, t, strlen(t), 0, &info), HM_OK);
  hm_json_free(j);
  free(t);
  const char *o = "{\"a\":{\"b\":[1]}}";
  hm_json_parse_info i2 = {.max_depth = 2};
  assert_int_equal(hm_json_parse(&j, o, strlen(o), 0, &i2), HM_ERR_JSON_DEPTH);
  i2.max_depth = 3;
  assert_int_equal(hm_json_parse(&j, o, strlen(o), 0, &i2), HM_OK);
  hm_json_free(j);
  /* very deep input is refused early, not by exhausting the stack */
  t = nested(100000);
  assert_int_equal(hm_json_parse(&j, t, strlen(t), 0, NULL), HM_ERR_JSON_DEPTH);
  free(t);
}

static void test_json_object_set_js_semantics(void **state) {
  (void)state;
  hm_json *o = hm_json_new_object();
  assert_non_null(o);
  assert_int_equal(hm_json_object_setc(o, "b", hm_json_new_number(1)), HM_OK);
  assert_int_equal(hm_json_object_setc(o, "a", hm_json_new_cstr("x")), HM_OK);
  assert_int_equal(hm_json_object_setc(o, "10", hm_json_new_bool(1)), HM_OK);
  assert_int_equal(hm_json_object_setc(o, "2", hm_json_new_null()), HM_OK);
  assert_int_equal(hm_json_object_setc(o, "b", hm_json_new_number(-0.0)), HM_OK); /* keeps position */
  char *s;
  assert_int_equal(hm_json_stringify(&s, NULL, o), HM_OK);
  assert_string_equal(s, "{\"2\":null,\"10\":true,\"b\":0,\"a\":\"x\"}");
  hm_free(s);
  assert_int_equal(hm_json_object_remove(o, "b", 1), HM_OK);
  assert_int_equal(hm_json_object_remove(o, "b", 1), HM_ERR_NOT_FOUND);
  assert_int_equal(hm_json_object_remove(o, "10", 2), HM_OK);
  assert_int_equal(hm_json_object_setc(o, "b", hm_json_new_number(2.5)), HM_OK); /* re-added: at the end */
  assert_int_equal(hm_json_stringify(&s, NULL, o), HM_OK);
  assert_string_equal(s, "{\"2\":null,\"a\":\"x\",\"b\":2.5}");
  hm_free(s);
  assert_int_equal(hm_json_object_size(o), 3);
  size_t kl;
  assert_string_equal(hm_json_object_key_at(o, 0, &kl), "a"); /* insertion order: a, 2, b */
  assert_int_equal(kl, 1);
  assert_null(hm_json_object_getc(o, "zz"));
  /* ownership passes in every case */
  assert_int_equal(hm_json_object_setc(o, "n", NULL), HM_ERR_NOMEM);
  assert_int_equal(hm_json_object_set(o, "\xff", 1, hm_json_new_null()), HM_ERR_INVAL);
  assert_int_equal(hm_json_object_setc(NULL, "x", hm_json_new_null()), HM_ERR_INVAL);
  assert_int_equal(hm_json_array_append(o, hm_json_new_null()), HM_ERR_INVAL);
  assert_null(hm_json_new_string("\xc0\xaf", 2));
  /* lone surrogates (WTF-8) are accepted and printed as JS does; a split pair is not */
  hm_json *ls = hm_json_new_string("a\xed\xa0\x80", 4);
  assert_non_null(ls);
  assert_int_equal(hm_json_object_set(o, "\xed\xbf\xbf", 3, ls), HM_OK);
  assert_null(hm_json_new_string("\xed\xa0\x80\xed\xb0\x80", 6));
  assert_non_null(strstr((s = str_of(o)), "\"\\udfff\":\"a\\ud800\""));
  hm_free(s);
  assert_int_equal(hm_json_object_remove(o, "\xed\xbf\xbf", 3), HM_OK);
  assert_int_equal(hm_json_object_size(o), 3);
  hm_json_free(o);
}

static void test_json_array_and_accessors(void **state) {
  (void)state;
  hm_json *a = hm_json_new_array();
  for (int i = 0; i < 100; i++) assert_int_equal(hm_json_array_append(a, hm_json_new_number(i * 0.5)), HM_OK);
  assert_int_equal(hm_json_array_size(a), 100);
  assert_true(hm_json_number(hm_json_array_get(a, 99)) == 49.5);
  assert_null(hm_json_array_get(a, 100));
  assert_int_equal(hm_json_array_append(a, NULL), HM_ERR_NOMEM);
  assert_int_equal(hm_json_array_append(a, a), HM_ERR_INVAL); /* self-append refused, a not freed */
  assert_int_equal(hm_json_array_size(a), 100);
  hm_json *s = hm_json_new_cstr("s");
  assert_int_equal(hm_json_array_append(s, hm_json_new_null()), HM_ERR_INVAL);
  assert_int_equal(hm_json_kind_of(s), HM_JSON_STRING);
  assert_null(hm_json_string(hm_json_array_get(a, 0), NULL));
  hm_json_free(s);
  hm_json_free(a);
}

static void test_json_clone_equal(void **state) {
  (void)state;
  const char *t = "{\"z\":[1,{\"y\":\"\\ud800\"}],\"3\":null,\"a\":-0,\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,"
                  "\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12}";
  hm_json *j, *c;
  assert_int_equal(hm_json_parse(&j, t, strlen(t), 0, NULL), HM_OK);
  c = hm_json_clone(j);
  assert_non_null(c);
  assert_true(hm_json_equal(j, c));
  char *s1, *s2;
  assert_int_equal(hm_json_stringify(&s1, NULL, j), HM_OK);
  assert_int_equal(hm_json_stringify(&s2, NULL, c), HM_OK);
  assert_string_equal(s1, s2);
  assert_int_equal(hm_json_object_setc(c, "k5", hm_json_new_number(55)), HM_OK);
  assert_false(hm_json_equal(j, c));
  assert_true(hm_json_number(hm_json_object_getc(j, "k5")) == 5);
  assert_true(hm_json_number(hm_json_object_getc(c, "k12")) == 12);
  hm_free(s1);
  hm_free(s2);
  hm_json_free(j);
  hm_json_free(c);
}

/* Objects past the hash threshold: lookups, replacement, removal, order. */
static void test_json_object_many_keys(void **state) {
  (void)state;
  hm_json *o = hm_json_new_object();
  char k[16];
  for (int i = 0; i < 2000; i++) {
    snprintf(k, sizeof k, "key%d", i);
    assert_int_equal(hm_json_object_setc(o, k, hm_json_new_number(i)), HM_OK);
  }
  for (int i = 0; i < 2000; i += 3) {
    snprintf(k, sizeof k, "key%d", i);
    assert_true(hm_json_number(hm_json_object_getc(o, k)) == i);
  }
  for (int i = 0; i < 1990; i++) {
    snprintf(k, sizeof k, "key%d", i);
    assert_int_equal(hm_json_object_remove(o, k, strlen(k)), HM_OK);
  }
  assert_int_equal(hm_json_object_setc(o, "key1995", hm_json_new_number(-1)), HM_OK);
  char *s;
  assert_int_equal(hm_json_stringify(&s, NULL, o), HM_OK);
  assert_string_equal(s, "{\"key1990\":1990,\"key1991\":1991,\"key1992\":1992,\"key1993\":1993,\"key1994\":1994,"
                         "\"key1995\":-1,\"key1996\":1996,\"key1997\":1997,\"key1998\":1998,\"key1999\":1999}");
  hm_free(s);
  hm_json_free(o);
  /* 40 integer-like keys parsed in reverse come out ascending (heap sort buffer path) */
  char text[1024];
  size_t n = 0;
  text[n++] = '{';
  for (int i = 39; i >= 0; i--) n += (size_t)snprintf(text + n, sizeof text - n, "%s\"%d\":%d", i == 39 ? "" : ",", i, i);
  text[n++] = '}';
  hm_json *j;
  assert_int_equal(hm_json_parse(&j, text, n, 0, NULL), HM_OK);
  assert_int_equal(hm_json_stringify(&s, NULL, j), HM_OK);
  assert_true(strncmp(s, "{\"0\":0,\"1\":1,\"2\":2,", 19) == 0);
  assert_true(strstr(s, "\"38\":38,\"39\":39}") != NULL);
  hm_free(s);
  hm_json_free(j);
}

/* ---- allocation failure: every failing run returns NOMEM and frees everything ---- */

static const char *SWEEP_DOC =
    "{\"@context\":[\"https://www.w3.org/2018/credentials/v1\"],\"id\":\"urn:uuid:1\",\"2\":1,\"1\":2,"
    "\"type\":[\"VerifiableCredential\",\"IdentityAssertion\"],\"esc\":\"a\\n\\u00e9\\ud800\","
    "\"n\":[1e21,0.1,-0,1.5e-7,0.00000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000000000000000000001],"
    "\"big\":{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,"
    "\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16,\"k17\":17,\"k1\":99},"
    "\"deep\":[[[[{\"x\":[true,false,null]}]]]]}";

static void test_json_parse_alloc_failure_sweep(void **state) {
  (void)state;
  char *want = roundtrip(SWEEP_DOC, strlen(SWEEP_DOC));
  hm_test_alloc_install();
  long fails = 0;
  for (long n = 1;; n++) {
    hm_test_alloc_fail_at(n);
    long before = hm_test_alloc_count();
    hm_json *j = (hm_json *)1;
    int r = hm_json_parse(&j, SWEEP_DOC, strlen(SWEEP_DOC), 0, NULL);
    if (r == HM_OK) {
      assert_true(hm_test_alloc_count() - before < n); /* no failure was swallowed */
      hm_test_alloc_fail_at(0);
      char *s;
      assert_int_equal(hm_json_stringify(&s, NULL, j), HM_OK);
      assert_string_equal(s, want);
      hm_free(s);
      hm_json_free(j);
      break;
    }
    fails++;
    assert_int_equal(r, HM_ERR_NOMEM);
    assert_null(j);
    assert_int_equal(hm_test_alloc_outstanding(), 0);
  }
  assert_true(fails > 40);
  assert_int_equal(hm_test_alloc_outstanding(), 0);
  hm_set_allocator(NULL);
  hm_free(want);
}

static void test_json_stringify_clone_alloc_failure_sweep(void **state) {
  (void)state;
  hm_json *j;
  /* 40 index keys force the heap sort buffer in stringify */
  char text[2048];
  size_t n = (size_t)snprintf(text, sizeof text, "{\"a\":\"%s\"", "long string long string long string long string "
                                                                     "long string long string long string long string");
  for (int i = 39; i >= 0; i--) n += (size_t)snprintf(text + n, sizeof text - n, ",\"%d\":[%d,{\"q\":\"\\u0001\"}]", i, i);
  text[n++] = '}';
  assert_int_equal(hm_json_parse(&j, text, n, 0, NULL), HM_OK);
  char *want;
  assert_int_equal(hm_json_stringify(&want, NULL, j), HM_OK);
  hm_test_alloc_install();
  for (long k = 1;; k++) {
    hm_test_alloc_fail_at(k);
    char *s = (char *)1;
    int r = hm_json_stringify(&s, NULL, j);
    if (r == HM_OK) {
      assert_string_equal(s, want);
      hm_free(s);
      break;
    }
    assert_int_equal(r, HM_ERR_NOMEM);
    assert_null(s);
    assert_int_equal(hm_test_alloc_outstanding(), 0);
  }
  for (long k = 1;; k++) {
    hm_test_alloc_fail_at(k);
    hm_json *c = hm_json_clone(j);
    if (c) {
      hm_test_alloc_fail_at(0);
      assert_true(hm_json_equal(c, j));
      hm_json_free(c);
      break;
    }
    assert_int_equal(hm_test_alloc_outstanding(), 0);
  }
  assert_int_equal(hm_test_alloc_outstanding(), 0);
  hm_set_allocator(NULL);
  hm_free(want);
  hm_json_free(j);
}

static int build_doc(hm_json **out) {
  hm_json *o = hm_json_new_object();
  if (!o) return HM_ERR_NOMEM;
  int r = HM_OK;
  char k[16];
  for (int i = 0; i < 20 && r == HM_OK; i++) {
    snprintf(k, sizeof k, "k%d", i);
    r = hm_json_object_setc(o, k, hm_json_new_number(i));
  }
  hm_json *a = hm_json_new_array();
  if (r == HM_OK && a) r = hm_json_array_append(a, hm_json_new_cstr("x"));
  if (r == HM_OK) r = hm_json_object_setc(o, "arr", a);
  else hm_json_free(a);
  if (r == HM_OK) r = hm_json_object_setc(o, "k3", hm_json_new_cstr("replaced"));
  if (r != HM_OK) {
    hm_json_free(o);
    return r;
  }
  *out = o;
  return HM_OK;
}

static void test_json_builder_alloc_failure_sweep(void **state) {
  (void)state;
  hm_test_alloc_install();
  for (long n = 1;; n++) {
    hm_test_alloc_fail_at(n);
    hm_json *o = NULL;
    int r = build_doc(&o);
    if (r == HM_OK) {
      hm_test_alloc_fail_at(0);
      assert_true(hm_json_string_is(hm_json_object_getc(o, "k3"), "replaced"));
      assert_int_equal(hm_json_object_size(o), 21);
      hm_json_free(o);
      break;
    }
    assert_int_equal(r, HM_ERR_NOMEM);
    assert_int_equal(hm_test_alloc_outstanding(), 0);
  }
  assert_int_equal(hm_test_alloc_outstanding(), 0);
  hm_set_allocator(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_stringify_matches_js),
      cmocka_unit_test(test_json_stringify_nul_in_string),
      cmocka_unit_test(test_json_format_number_known),
      cmocka_unit_test(test_json_format_number_roundtrip_sweep),
      cmocka_unit_test(test_json_parse_rejects_invalid),
      cmocka_unit_test(test_json_parse_scalars_top_level),
      cmocka_unit_test(test_json_parse_dupkeys),
      cmocka_unit_test(test_json_parse_depth_limit),
      cmocka_unit_test(test_json_object_set_js_semantics),
      cmocka_unit_test(test_json_array_and_accessors),
      cmocka_unit_test(test_json_clone_equal),
      cmocka_unit_test(test_json_object_many_keys),
      cmocka_unit_test(test_json_parse_alloc_failure_sweep),
      cmocka_unit_test(test_json_stringify_clone_alloc_failure_sweep),
      cmocka_unit_test(test_json_builder_alloc_failure_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
