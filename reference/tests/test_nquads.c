/* test_nquads.c - the strict N-Quads parser of export bundles: terms, escapes, lookups,
 * syntax errors with line numbers, limits and allocation failures. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/nquads.h"
#include "hm_test_alloc.h"

#define HV "https://harmony.example/vocab#"
#define TYPE "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

static const char DOC[] =
    "<community:1> <" TYPE "> <" HV "Community> <community:1> .\n"
    "<community:1> <" HV "name> \"Caf\\u00e9 \\\"club\\\"\\n\" <community:1> .\r\n"
    "\n"
    "# a comment\n"
    "_:b0 <" HV "name> \"hi\"@en-GB <community:1> .\n"
    "<m:1> <" HV "timestamp> \"2026-01-01T00:00:00.000Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime> <g> .\n"
    "<m:1> <" HV "author> <harmony:member:7> .\n"
    "<community:1> <" HV "name> \"second\" <community:1> .";

static int parse(hm_nq_doc *d, const char *text, hm_nq_error *e) {
  return hm_nq_parse(d, text, strlen(text), NULL, e);
}

static void test_nq_parse_ok_terms(void **state) {
  (void)state;
  hm_nq_doc d;
  hm_nq_error e;
  assert_int_equal(parse(&d, DOC, &e), HM_OK);
  assert_int_equal(d.n, 6);
  assert_int_equal(d.quads[0].s.kind, HM_NQ_IRI);
  assert_string_equal(d.quads[0].o.value, HV "Community");
  assert_int_equal(d.quads[1].o.kind, HM_NQ_LITERAL);
  assert_string_equal(d.quads[1].o.value, "Caf\xc3\xa9 \"club\"\n");
  assert_int_equal(d.quads[1].line, 2);
  assert_int_equal(d.quads[2].s.kind, HM_NQ_BLANK);
  assert_string_equal(d.quads[2].s.value, "_:b0");
  assert_string_equal(d.quads[2].o.lang, "en-GB");
  assert_int_equal(d.quads[2].line, 5);
  assert_string_equal(d.quads[3].o.datatype, "http://www.w3.org/2001/XMLSchema#dateTime");
  assert_int_equal(d.quads[4].g.kind, HM_NQ_NONE); /* default graph */
  /* lookups: first in source order, counts, has */
  const hm_nq_term *t = hm_nq_object(&d, "community:1", HV "name");
  assert_non_null(t);
  assert_string_equal(t->value, "Caf\xc3\xa9 \"club\"\n");
  assert_int_equal(hm_nq_count(&d, "community:1", HV "name"), 2);
  assert_int_equal(hm_nq_count(&d, "community:1", HV "nope"), 0);
  assert_null(hm_nq_object(&d, "community:2", HV "name"));
  assert_true(hm_nq_has(&d, "community:1", TYPE, HV "Community"));
  assert_false(hm_nq_has(&d, "community:1", TYPE, HV "Channel"));
  assert_true(hm_nq_has(&d, "m:1", HV "author", "harmony:member:7"));
  hm_nq_doc_free(&d);
  assert_int_equal(d.n, 0);
  hm_nq_doc_free(NULL);
}

static void test_nq_parse_empty_ok(void **state) {
  (void)state;
  hm_nq_doc d;
  assert_int_equal(hm_nq_parse(&d, "", 0, NULL, NULL), HM_OK);
  assert_int_equal(d.n, 0);
  assert_null(hm_nq_object(&d, "a", "b"));
  hm_nq_doc_free(&d);
  assert_int_equal(parse(&d, "\n  \n# only a comment\n", NULL), HM_OK);
  assert_int_equal(d.n, 0);
  hm_nq_doc_free(&d);
}

static void test_nq_parse_errors_line(void **state) {
  (void)state;
  static const struct {
    const char *text;
    size_t line;
    int rc;
  } bad[] = {
      {"<a> <b> <c> <g>", 1, HM_ERR_DECODE},                   /* no final dot */
      {"<a> <b> <c> <g> .\n<a> <b> \"x <g> .", 2, HM_ERR_DECODE}, /* unterminated literal */
      {"<a> <b c> <c> .", 1, HM_ERR_DECODE},                   /* space in IRI */
      {"<a> _:p <c> .", 1, HM_ERR_DECODE},                     /* blank predicate */
      {"\"lit\" <b> <c> .", 1, HM_ERR_DECODE},                 /* literal subject */
      {"<a> <b> <c> \"g\" .", 1, HM_ERR_DECODE},               /* literal graph */
      {"<a> <b> \"\\q\" .", 1, HM_ERR_DECODE},                 /* bad escape */
      {"<a> <b> \"\\ud800\" .", 1, HM_ERR_DECODE},             /* surrogate */
      {"<a> <b> \"\\u0000\" .", 1, HM_ERR_DECODE},             /* NUL */
      {"<a> <b> \"\xff\" .", 1, HM_ERR_DECODE},                /* bad UTF-8 */
      {"<a> <b> \"\xc0\xaf\" .", 1, HM_ERR_DECODE},            /* overlong */
      {"<a> <b> <c> . x", 1, HM_ERR_DECODE},                   /* trailing text */
      {"<> <b> <c> .", 1, HM_ERR_DECODE},                      /* empty IRI */
      {"<a> <b> \"x\"@ .", 1, HM_ERR_DECODE},                  /* empty language */
      {"<a> <b> \"x\"^^\"y\" .", 1, HM_ERR_DECODE},            /* datatype not an IRI */
      {"<a> <b> <c> .\r\r\n", 1, HM_ERR_DECODE},               /* stray CR */
      {"<a> <b> _:. .", 1, HM_ERR_DECODE},                     /* bad label */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    hm_nq_doc d;
    hm_nq_error e;
    int rc = parse(&d, bad[i].text, &e);
    if (rc != bad[i].rc) fail_msg("case %zu: rc %d", i, rc);
    assert_int_equal(e.line, bad[i].line);
    assert_non_null(e.message);
    assert_int_equal(d.n, 0);
    assert_null(d.quads);
  }
  /* a NUL byte anywhere */
  hm_nq_doc d;
  assert_int_equal(hm_nq_parse(&d, "<a> <b> <c> .\0", 14, NULL, NULL), HM_ERR_DECODE);
  /* ... is reported on its own line */
  hm_nq_error ne;
  assert_int_equal(hm_nq_parse(&d, "<a> <b> <c> .\r\n# c\n<a> <b> \"x\0\" .\n", 34, NULL, &ne), HM_ERR_DECODE);
  assert_int_equal(ne.line, 3);
  assert_string_equal(ne.message, "NUL byte in input");
}

static void test_nq_parse_limits(void **state) {
  (void)state;
  hm_nq_doc d;
  hm_nq_error e;
  hm_nq_limits lim = {2, 0, 0};
  const char *three = "<a> <b> <c> .\n<a> <b> <d> .\n<a> <b> <e> .\n";
  assert_int_equal(hm_nq_parse(&d, three, strlen(three), &lim, &e), HM_ERR_RANGE);
  assert_int_equal(e.line, 3);
  lim = (hm_nq_limits){0, 10, 0};
  assert_int_equal(hm_nq_parse(&d, three, strlen(three), &lim, &e), HM_ERR_RANGE);
  assert_int_equal(e.line, 1);
  lim = (hm_nq_limits){0, 0, 4};
  const char *lit = "<a> <b> \"12345\" .";
  assert_int_equal(hm_nq_parse(&d, lit, strlen(lit), &lim, &e), HM_ERR_RANGE);
  const char *iri = "<a> <bbbbb> <c> .";
  assert_int_equal(hm_nq_parse(&d, iri, strlen(iri), &lim, &e), HM_ERR_RANGE);
  lim = (hm_nq_limits){3, 0, 0};
  assert_int_equal(hm_nq_parse(&d, three, strlen(three), &lim, &e), HM_OK);
  assert_int_equal(d.n, 3);
  hm_nq_doc_free(&d);
}

static void test_nq_index_many_subjects(void **state) {
  (void)state;
  /* 500 subjects in reverse order, two names each: lookups find the first in source order */
  size_t cap = 500 * 80 + 1, k = 0;
  char *text = hm_malloc(cap);
  assert_non_null(text);
  for (int i = 499; i >= 0; i--) k += (size_t)snprintf(text + k, cap - k, "<s%d> <p> \"a%d\" .\n<s%d> <p> \"b\" .\n", i, i, i);
  hm_nq_doc d;
  assert_int_equal(hm_nq_parse(&d, text, k, NULL, NULL), HM_OK);
  assert_int_equal(d.n, 1000);
  for (int i = 0; i < 500; i += 37) {
    char s[16], want[16];
    snprintf(s, sizeof s, "s%d", i);
    snprintf(want, sizeof want, "a%d", i);
    const hm_nq_term *t = hm_nq_object(&d, s, "p");
    assert_non_null(t);
    assert_string_equal(t->value, want);
    assert_int_equal(hm_nq_count(&d, s, "p"), 2);
  }
  hm_nq_doc_free(&d);
  hm_free(text);
}

static void test_nq_parse_alloc_failures(void **state) {
  (void)state;
  hm_test_alloc_install();
  for (long n = 1;; n++) {
    hm_test_alloc_fail_at(n);
    long before = hm_test_alloc_count();
    hm_nq_doc d;
    int rc = parse(&d, DOC, NULL);
    if (rc == HM_OK) {
      assert_true(hm_test_alloc_count() - before < n); /* no failure was swallowed */
      hm_test_alloc_fail_at(0);
      assert_int_equal(d.n, 6);
      hm_nq_doc_free(&d);
      break;
    }
    assert_int_equal(rc, HM_ERR_NOMEM);
    assert_int_equal(d.n, 0);
    assert_int_equal(hm_test_alloc_outstanding(), 0);
    assert_true(n < 1000);
  }
  hm_test_alloc_fail_at(0);
  assert_int_equal(hm_test_alloc_outstanding(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nq_parse_ok_terms),     cmocka_unit_test(test_nq_parse_empty_ok),
      cmocka_unit_test(test_nq_parse_errors_line),  cmocka_unit_test(test_nq_parse_limits),
      cmocka_unit_test(test_nq_index_many_subjects), cmocka_unit_test(test_nq_parse_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
