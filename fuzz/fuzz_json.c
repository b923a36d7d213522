/* fuzz/fuzz_json.c - harmony/json.h: parse, stringify, round trip, and a differential
 * against jansson (a second, independent strict parser).
 *
 * Invariants:
 *   1. parse never crashes; on failure *out is NULL and error_offset <= len.
 *   2. stringify(parse(x)) = s1 reparses, and stringify(parse(s1)) == s1 (a fixpoint);
 *      clone(v) stringifies to s1 and hm_json_equal(v, clone(v)) holds.
 *   3. With HM_JSON_REJECT_DUPKEYS the parse succeeds iff the default parse succeeded
 *      with duplicate_keys == 0.
 *   4. Differential (both parsers reject duplicate keys, same depth limit 2048):
 *      - jansson accepts => we accept, and the two trees are equal (numbers compared as
 *        doubles, strings byte for byte);
 *      - we accept and jansson rejects only for its documented extra restrictions:
 *        "\u0000" in a string, lone surrogate escapes (we keep them as WTF-8, as JS does),
 *        integers beyond int64 and reals beyond double range (we give JS's +-Infinity),
 *        a \u0000 in an object key;
 *      - an input with a raw NUL byte is not compared (jansson reads it as end of input);
 *        we must reject it.
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "harmony/alloc.h"
#include "harmony/json.h"

#define DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

static int same_tree(const hm_json *h, const json_t *j) {
  switch (hm_json_kind_of(h)) {
  case HM_JSON_NULL:
    return json_is_null(j);
  case HM_JSON_TRUE:
    return json_is_true(j);
  case HM_JSON_FALSE:
    return json_is_false(j);
  case HM_JSON_NUMBER: {
    if (!json_is_number(j)) return 0;
    double a = hm_json_number(h);
    double b = json_is_integer(j) ? (double)json_integer_value(j) : json_real_value(j);
    return a == b || (isnan(a) && isnan(b));
  }
  case HM_JSON_STRING: {
    size_t hl = 0;
    const char *hs = hm_json_string(h, &hl);
    return json_is_string(j) && json_string_length(j) == hl && memcmp(json_string_value(j), hs, hl) == 0;
  }
  case HM_JSON_ARRAY: {
    size_t n = hm_json_array_size(h);
    if (!json_is_array(j) || json_array_size(j) != n) return 0;
    for (size_t i = 0; i < n; i++)
      if (!same_tree(hm_json_array_get(h, i), json_array_get(j, i))) return 0;
    return 1;
  }
  case HM_JSON_OBJECT: {
    size_t n = hm_json_object_size(h);
    if (!json_is_object(j) || json_object_size(j) != n) return 0;
    for (size_t i = 0; i < n; i++) {
      size_t kl = 0;
      const char *k = hm_json_object_key_at(h, i, &kl);
      json_t *jv = json_object_getn(j, k, kl);
      if (!jv || !same_tree(hm_json_object_value_at(h, i), jv)) return 0;
    }
    return 1;
  }
  }
  return 0;
}

/* jansson's rejections that are documented differences, not bugs (see top). */
static int documented_difference(const char *jansson_text) {
  static const char *const ok[] = {"\\u0000 is not allowed", "invalid Unicode", "too big integer",
                                   "too big negative integer", "real number overflow", "NUL byte in object key"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (strstr(jansson_text, ok[i])) return 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  hm_json_parse_info info = {.max_depth = DEPTH};
  hm_json *v = NULL;
  int rc = hm_json_parse(&v, text, size, 0, &info);
  FZ_CHECK(rc == HM_OK || rc == HM_ERR_JSON || rc == HM_ERR_JSON_DEPTH, "parse rc=%d", rc);
  if (rc != HM_OK) FZ_CHECK(v == NULL && info.error_offset <= size);

  /* 3. duplicate-key flag */
  hm_json_parse_info info2 = {.max_depth = DEPTH};
  hm_json *v2 = NULL;
  int rc2 = hm_json_parse(&v2, text, size, HM_JSON_REJECT_DUPKEYS, &info2);
  if (rc == HM_OK && info.duplicate_keys == 0) FZ_CHECK(rc2 == HM_OK, "strict parse rc=%d", rc2);
  if (rc == HM_OK && info.duplicate_keys > 0) FZ_CHECK(rc2 == HM_ERR_JSON_DUPKEY, "dup rc=%d", rc2);
  if (rc != HM_OK) FZ_CHECK(rc2 != HM_OK);
  if (rc2 == HM_OK) FZ_CHECK(hm_json_equal(v, v2));
  hm_json_free(v2);

  /* 2. round trip */
  if (rc == HM_OK) {
    char *s1 = NULL, *s2 = NULL, *s3 = NULL;
    size_t l1 = 0, l2 = 0, l3 = 0;
    FZ_CHECK(hm_json_stringify(&s1, &l1, v) == HM_OK && s1 && strlen(s1) <= l1);
    hm_json *w = NULL;
    hm_json_parse_info wi = {.max_depth = DEPTH};
    int rw = hm_json_parse(&w, s1, l1, 0, &wi);
    FZ_CHECK(rw == HM_OK, "stringify output does not reparse (rc=%d at %zu): %.200s", rw, wi.error_offset, s1);
    FZ_CHECK(wi.duplicate_keys == 0, "stringify emitted a duplicate key");
    FZ_CHECK(hm_json_stringify(&s2, &l2, w) == HM_OK);
    FZ_CHECK(l1 == l2 && memcmp(s1, s2, l1) == 0, "not a fixpoint:\n%.300s\n%.300s", s1, s2);
    hm_json *c = hm_json_clone(v);
    FZ_CHECK(c != NULL);
    FZ_CHECK(hm_json_equal(v, c), "clone differs");
    FZ_CHECK(hm_json_stringify(&s3, &l3, c) == HM_OK && l3 == l1 && memcmp(s1, s3, l1) == 0);
    hm_json_free(c);
    hm_json_free(w);
    hm_free(s1);
    hm_free(s2);
    hm_free(s3);
  }

  /* 4. differential against jansson. jansson's buffer reader takes a raw NUL byte for the
   * end of the input; a raw NUL is never valid JSON, so we must reject it ourselves. */
  if (memchr(text, 0, size) != NULL) {
    FZ_CHECK(rc != HM_OK, "accepted a raw NUL byte");
    hm_json_free(v);
    return 0;
  }
  json_error_t err;
  json_t *j = json_loadb(text, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
  hm_json *vs = NULL;
  hm_json_parse_info is = {.max_depth = DEPTH};
  int rs = hm_json_parse(&vs, text, size, HM_JSON_REJECT_DUPKEYS, &is);
  if (j) {
    FZ_CHECK(rs == HM_OK, "jansson accepts, we reject (rc=%d at offset %zu): %.200s", rs, is.error_offset, text);
    FZ_CHECK(same_tree(vs, j), "jansson and we parse to different values: %.200s", text);
  } else if (rs == HM_OK) {
    FZ_CHECK(documented_difference(err.text), "we accept, jansson rejects (\"%s\" at %d): %.200s", err.text,
             err.position, text);
  }
  json_decref(j);
  hm_json_free(vs);
  hm_json_free(v);
  return 0;
}
