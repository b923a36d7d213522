/* fuzz/fuzz_nquads.c - harmony/nquads.h: the strict N-Quads parser of export bundles
 * (spec/http.md R-HTTP-23), the text a migration import decrypts.
 *
 * Input: N-Quads text (any bytes).
 * Invariants (besides no crash, no leak, no UB):
 *   - only HM_OK, HM_ERR_DECODE, HM_ERR_RANGE (HM_ERR_NOMEM never happens here); on an error
 *     the document is empty and the error names a line within the input;
 *   - on HM_OK every quad has the documented term kinds (subject IRI/blank, predicate IRI,
 *     graph none/IRI/blank), every value has len == strlen (no NUL) and literal values are
 *     valid UTF-8; every (subject, predicate) is found by hm_nq_object and counted >= 1,
 *     hm_nq_object returns the first quad of that pair in source order, and hm_nq_has finds
 *     every quad whose object is an IRI;
 *   - round trip: writing the quads back in the exporter's form (spec/crypto.md R-CRY-EXP-1,
 *     other control characters as \uXXXX) and parsing again gives the same quads;
 *   - limits: a parse under tight limits that succeeds gives the same quads as the default
 *     parse; a default parse that fails fails under tight limits too.
 */
#include <string.h>

#include "fuzz.h"
#include "harmony/alloc.h"
#include "harmony/nquads.h"

static int term_eq(const hm_nq_term *a, const hm_nq_term *b) {
  if (a->kind != b->kind) return 0;
  if (a->kind == HM_NQ_NONE) return 1;
  if (a->len != b->len || strcmp(a->value, b->value)) return 0;
  if (!a->datatype != !b->datatype || (a->datatype && strcmp(a->datatype, b->datatype))) return 0;
  if (!a->lang != !b->lang || (a->lang && strcmp(a->lang, b->lang))) return 0;
  return 1;
}

static int docs_eq(const hm_nq_doc *a, const hm_nq_doc *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++)
    if (!term_eq(&a->quads[i].s, &b->quads[i].s) || !term_eq(&a->quads[i].p, &b->quads[i].p) ||
        !term_eq(&a->quads[i].o, &b->quads[i].o) || !term_eq(&a->quads[i].g, &b->quads[i].g))
      return 0;
  return 1;
}

typedef struct {
  char *buf;
  size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->len + n + 1) * 2;
    char *nb = hm_realloc(b->buf, cap);
    FZ_CHECK(nb, "out of memory");
    b->buf = nb;
    b->cap = cap;
  }
  memcpy(b->buf + b->len, s, n);
  b->len += n;
  b->buf[b->len] = 0;
}

static void put_term(sbuf *b, const hm_nq_term *t) {
  if (t->kind == HM_NQ_IRI) {
    put(b, "<", 1);
    put(b, t->value, t->len);
    put(b, ">", 1);
  } else if (t->kind == HM_NQ_BLANK) {
    put(b, t->value, t->len);
  } else {
    put(b, "\"", 1);
    for (size_t i = 0; i < t->len; i++) {
      unsigned char c = (unsigned char)t->value[i];
      char esc[8];
      if (c == '\\') put(b, "\\\\", 2);
      else if (c == '"') put(b, "\\\"", 2);
      else if (c == '\n') put(b, "\\n", 2);
      else if (c == '\r') put(b, "\\r", 2);
      else if (c == '\t') put(b, "\\t", 2);
      else if (c < 0x20) {
        snprintf(esc, sizeof esc, "\\u%04X", c);
        put(b, esc, 6);
      } else {
        put(b, (const char *)&t->value[i], 1);
      }
    }
    put(b, "\"", 1);
    if (t->lang) {
      put(b, "@", 1);
      put(b, t->lang, strlen(t->lang));
    } else if (t->datatype) {
      put(b, "^^<", 3);
      put(b, t->datatype, strlen(t->datatype));
      put(b, ">", 1);
    }
  }
}

/* Well-formed UTF-8 (the parser's own check is stricter still: no overlongs, no surrogates). */
static int utf8_ok(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t k;
    if (c < 0x80) k = 0;
    else if (c >= 0xC2 && c <= 0xDF) k = 1;
    else if (c >= 0xE0 && c <= 0xEF) k = 2;
    else if (c >= 0xF0 && c <= 0xF4) k = 3;
    else return 0;
    if (i + k >= n && k) return 0;
    for (size_t j = 1; j <= k; j++)
      if ((s[i + j] & 0xC0) != 0x80) return 0;
    i += k + 1;
  }
  return 1;
}

static void check_doc(const hm_nq_doc *d) {
  for (size_t i = 0; i < d->n; i++) {
    const hm_nq_quad *q = &d->quads[i];
    FZ_CHECK(q->s.kind == HM_NQ_IRI || q->s.kind == HM_NQ_BLANK, "quad %zu subject kind %d", i, q->s.kind);
    FZ_CHECK(q->p.kind == HM_NQ_IRI, "quad %zu predicate kind %d", i, q->p.kind);
    FZ_CHECK(q->o.kind != HM_NQ_NONE, "quad %zu has no object", i);
    FZ_CHECK(q->g.kind == HM_NQ_NONE || q->g.kind == HM_NQ_IRI || q->g.kind == HM_NQ_BLANK, "graph kind");
    const hm_nq_term *ts[4] = {&q->s, &q->p, &q->o, &q->g};
    for (int k = 0; k < 4; k++) {
      if (ts[k]->kind == HM_NQ_NONE) continue;
      FZ_CHECK(ts[k]->value && strlen(ts[k]->value) == ts[k]->len, "quad %zu term %d length", i, k);
    }
    if (q->o.kind == HM_NQ_LITERAL)
      FZ_CHECK(utf8_ok((const unsigned char *)q->o.value, q->o.len), "quad %zu literal not UTF-8", i);
    FZ_CHECK(i == 0 || q->line > d->quads[i - 1].line, "lines not increasing");
    const hm_nq_term *first = hm_nq_object(d, q->s.value, q->p.value);
    FZ_CHECK(first, "quad %zu not found by hm_nq_object", i);
    FZ_CHECK(hm_nq_count(d, q->s.value, q->p.value) >= 1, "count");
    if (q->o.kind == HM_NQ_IRI) FZ_CHECK(hm_nq_has(d, q->s.value, q->p.value, q->o.value), "hm_nq_has quad %zu", i);
    /* the first in source order */
    size_t j = 0;
    while (strcmp(d->quads[j].s.value, q->s.value) || strcmp(d->quads[j].p.value, q->p.value)) j++;
    FZ_CHECK(first == &d->quads[j].o, "hm_nq_object is not the first in source order for quad %zu", i);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  hm_nq_doc d, t, r;
  hm_nq_error e;
  int rc = hm_nq_parse(&d, text, size, NULL, &e);
  FZ_CHECK(rc == HM_OK || rc == HM_ERR_DECODE || rc == HM_ERR_RANGE, "rc %d", rc);
  hm_nq_limits tight = {8, 200, 40};
  int trc = hm_nq_parse(&t, text, size, &tight, NULL);
  FZ_CHECK(trc == HM_OK || trc == HM_ERR_DECODE || trc == HM_ERR_RANGE, "tight rc %d", trc);
  if (rc != HM_OK) {
    FZ_CHECK(d.n == 0 && !d.quads, "failed parse left quads");
    FZ_CHECK(e.message, "no error message");
    size_t lines = 1;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    FZ_CHECK(e.line <= lines, "error line %zu beyond %zu lines", e.line, lines);
    FZ_CHECK(trc != HM_OK, "tight limits accepted what the defaults refused");
    return 0;
  }
  check_doc(&d);
  if (trc == HM_OK) {
    FZ_CHECK(docs_eq(&d, &t), "tight and default parses differ");
    hm_nq_doc_free(&t);
  }
  sbuf b = {NULL, 0, 0};
  put(&b, "", 0);
  for (size_t i = 0; i < d.n; i++) {
    const hm_nq_quad *q = &d.quads[i];
    put_term(&b, &q->s);
    put(&b, " ", 1);
    put_term(&b, &q->p);
    put(&b, " ", 1);
    put_term(&b, &q->o);
    if (q->g.kind != HM_NQ_NONE) {
      put(&b, " ", 1);
      put_term(&b, &q->g);
    }
    put(&b, " .\n", 3);
  }
  hm_nq_limits wide = {0, (size_t)1 << 30, 0}; /* escaping may lengthen a line, never a term */
  int rrc = hm_nq_parse(&r, b.buf, b.len, &wide, &e);
  FZ_CHECK(rrc == HM_OK, "re-parse of the written quads failed: line %zu %s", e.line, e.message ? e.message : "");
  FZ_CHECK(docs_eq(&d, &r), "round trip changed the quads");
  hm_nq_doc_free(&r);
  hm_free(b.buf);
  hm_nq_doc_free(&d);
  return 0;
}
