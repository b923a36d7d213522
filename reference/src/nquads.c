/* nquads.c - strict N-Quads subset parser for export bundles (see harmony/nquads.h). */
#include "harmony/nquads.h"

#include <stdlib.h>
#include <string.h>

#include "harmony/alloc.h"

typedef struct {
  const char *p, *end; /* the current line, without its end */
  size_t line;
  const hm_nq_limits *lim;
  hm_nq_error *err;
} cursor;

static int fail(cursor *c, int rc, const char *msg) {
  if (c->err) {
    c->err->line = c->line;
    c->err->message = msg;
  }
  return rc;
}

static void term_free(hm_nq_term *t) {
  hm_free(t->value);
  hm_free(t->datatype);
  hm_free(t->lang);
  memset(t, 0, sizeof *t);
}

static void skip_ws(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) c->p++;
}

static int iri_char_ok(unsigned char ch) {
  if (ch <= 0x20) return 0;
  return !strchr("<>\"{}|^`\\", ch);
}

/* <iri> at c->p; *out hm_malloc'd without the brackets. */
static int parse_iri(cursor *c, char **out, size_t *len) {
  if (c->p >= c->end || *c->p != '<') return fail(c, HM_ERR_DECODE, "expected <iri>");
  const char *s = ++c->p;
  while (c->p < c->end && *c->p != '>') {
    if (!iri_char_ok((unsigned char)*c->p)) return fail(c, HM_ERR_DECODE, "invalid character in IRI");
    c->p++;
  }
  if (c->p >= c->end) return fail(c, HM_ERR_DECODE, "unterminated IRI");
  size_t n = (size_t)(c->p - s);
  if (n == 0) return fail(c, HM_ERR_DECODE, "empty IRI");
  if (n > c->lim->max_term) return fail(c, HM_ERR_RANGE, "term too long");
  c->p++; /* '>' */
  *out = hm_strndup(s, n);
  if (!*out) return HM_ERR_NOMEM;
  if (len) *len = n;
  return HM_OK;
}

static int label_char(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
         ch == '-' || ch == '.';
}

/* _:label; the label is [A-Za-z0-9_][A-Za-z0-9_.-]* not ending in '.'. */
static int parse_blank(cursor *c, char **out, size_t *len) {
  const char *s = c->p;
  c->p += 2;
  const char *l = c->p;
  while (c->p < c->end && label_char((unsigned char)*c->p)) c->p++;
  while (c->p > l && c->p[-1] == '.') c->p--; /* a trailing '.' ends the statement */
  size_t n = (size_t)(c->p - l);
  if (n == 0 || *l == '-' || *l == '.') return fail(c, HM_ERR_DECODE, "invalid blank node label");
  if (n + 2 > c->lim->max_term) return fail(c, HM_ERR_RANGE, "term too long");
  *out = hm_strndup(s, n + 2);
  if (!*out) return HM_ERR_NOMEM;
  if (len) *len = n + 2;
  return HM_OK;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static size_t utf8_put(char *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char b = s[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    size_t k;
    uint32_t cp;
    if (b >= 0xC2 && b <= 0xDF) {
      k = 1;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      k = 2;
      cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      k = 3;
      cp = b & 0x07;
    } else {
      return 0;
    }
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (s[i + j] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += k + 1;
  }
  return 1;
}

/* "literal" with optional @lang or ^^<iri>. */
static int parse_literal(cursor *c, hm_nq_term *t) {
  c->p++; /* opening quote */
  size_t cap = (size_t)(c->end - c->p) + 1;
  if (cap > c->lim->max_term * 4 + 1) cap = c->lim->max_term * 4 + 1; /* decoded bytes never exceed 4x */
  char *o = hm_malloc(cap + 4);
  if (!o) return HM_ERR_NOMEM;
  size_t k = 0;
  int rc = HM_OK;
  for (;;) {
    if (c->p >= c->end) {
      rc = fail(c, HM_ERR_DECODE, "unterminated literal");
      break;
    }
    char ch = *c->p++;
    if (ch == '"') break;
    if (ch == '\n' || ch == '\r') {
      rc = fail(c, HM_ERR_DECODE, "raw line break in literal");
      break;
    }
    if (k + 4 > c->lim->max_term) {
      rc = fail(c, HM_ERR_RANGE, "term too long");
      break;
    }
    if (ch != '\\') {
      o[k++] = ch;
      continue;
    }
    if (c->p >= c->end) {
      rc = fail(c, HM_ERR_DECODE, "unterminated escape");
      break;
    }
    char e = *c->p++;
    const char *simple = strchr("tbnrf\"'\\", e);
    if (simple && e) {
      static const char map[] = "\t\b\n\r\f\"'\\";
      o[k++] = map[simple - "tbnrf\"'\\"];
      continue;
    }
    if (e != 'u' && e != 'U') {
      rc = fail(c, HM_ERR_DECODE, "invalid escape in literal");
      break;
    }
    int digits = e == 'u' ? 4 : 8;
    if (c->end - c->p < digits) {
      rc = fail(c, HM_ERR_DECODE, "short \\u escape");
      break;
    }
    uint32_t cp = 0;
    for (int i = 0; i < digits; i++) {
      int h = hexval(c->p[i]);
      if (h < 0) {
        rc = fail(c, HM_ERR_DECODE, "invalid \\u escape");
        break;
      }
      cp = (cp << 4) | (uint32_t)h;
    }
    if (rc != HM_OK) break;
    c->p += digits;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      rc = fail(c, HM_ERR_DECODE, "escape is not a Unicode scalar value");
      break;
    }
    k += utf8_put(o + k, cp);
  }
  if (rc == HM_OK) {
    o[k] = 0;
    if (memchr(o, 0, k)) rc = fail(c, HM_ERR_DECODE, "NUL in literal");
    else if (!utf8_valid((const unsigned char *)o, k)) rc = fail(c, HM_ERR_DECODE, "invalid UTF-8 in literal");
  }
  if (rc != HM_OK) {
    hm_free(o);
    return rc;
  }
  t->kind = HM_NQ_LITERAL;
  t->value = o;
  t->len = k;
  if (c->p < c->end && *c->p == '@') {
    const char *s = ++c->p;
    while (c->p < c->end && ((*c->p >= 'a' && *c->p <= 'z') || (*c->p >= 'A' && *c->p <= 'Z'))) c->p++;
    if (c->p == s) return fail(c, HM_ERR_DECODE, "invalid language tag");
    while (c->p < c->end && *c->p == '-') {
      const char *sub = ++c->p;
      while (c->p < c->end && ((*c->p >= 'a' && *c->p <= 'z') || (*c->p >= 'A' && *c->p <= 'Z') ||
                               (*c->p >= '0' && *c->p <= '9')))
        c->p++;
      if (c->p == sub) return fail(c, HM_ERR_DECODE, "invalid language tag");
    }
    if ((size_t)(c->p - s) > 64) return fail(c, HM_ERR_RANGE, "language tag too long");
    t->lang = hm_strndup(s, (size_t)(c->p - s));
    if (!t->lang) return HM_ERR_NOMEM;
  } else if (c->end - c->p >= 2 && c->p[0] == '^' && c->p[1] == '^') {
    c->p += 2;
    return parse_iri(c, &t->datatype, NULL);
  }
  return HM_OK;
}

/* kinds: bit 1 IRI, bit 2 blank, bit 4 literal. */
static int parse_term(cursor *c, hm_nq_term *t, int kinds) {
  skip_ws(c);
  if (c->p >= c->end) return fail(c, HM_ERR_DECODE, "incomplete statement");
  if (*c->p == '<' && (kinds & 1)) {
    t->kind = HM_NQ_IRI;
    return parse_iri(c, &t->value, &t->len);
  }
  if ((kinds & 2) && c->end - c->p >= 2 && c->p[0] == '_' && c->p[1] == ':') {
    t->kind = HM_NQ_BLANK;
    return parse_blank(c, &t->value, &t->len);
  }
  if ((kinds & 4) && *c->p == '"') return parse_literal(c, t);
  return fail(c, HM_ERR_DECODE, (kinds & 4) ? "expected an IRI, blank node or literal" : "expected an IRI or blank node");
}

/* A term must be followed by whitespace, or directly by the final '.', or by a term that
 * starts with a delimiter (<, ", _ after >). N-Quads allows "<a><b>"; we accept it too. */
static int parse_line(cursor *c, hm_nq_quad *q) {
  int rc = parse_term(c, &q->s, 1 | 2);
  if (rc == HM_OK) rc = parse_term(c, &q->p, 1);
  if (rc == HM_OK) rc = parse_term(c, &q->o, 1 | 2 | 4);
  if (rc != HM_OK) return rc;
  skip_ws(c);
  if (c->p < c->end && *c->p != '.') {
    rc = parse_term(c, &q->g, 1 | 2);
    if (rc != HM_OK) return rc;
    skip_ws(c);
  }
  if (c->p >= c->end || *c->p != '.') return fail(c, HM_ERR_DECODE, "expected '.' at the end of the statement");
  c->p++;
  skip_ws(c);
  if (c->p < c->end && *c->p == '#') return HM_OK; /* trailing comment */
  if (c->p != c->end) return fail(c, HM_ERR_DECODE, "text after the end of the statement");
  return HM_OK;
}

static void quad_free(hm_nq_quad *q) {
  term_free(&q->s);
  term_free(&q->p);
  term_free(&q->o);
  term_free(&q->g);
}

void hm_nq_doc_free(hm_nq_doc *doc) {
  if (!doc) return;
  for (size_t i = 0; i < doc->n; i++) quad_free(&doc->quads[i]);
  hm_free(doc->quads);
  hm_free(doc->by_subject);
  memset(doc, 0, sizeof *doc);
}

/* Merge sort of the index (no global state, stable, O(n log n)). */
static int idx_cmp(const hm_nq_doc *d, size_t x, size_t y) {
  int c = strcmp(d->quads[x].s.value, d->quads[y].s.value);
  if (c) return c;
  c = strcmp(d->quads[x].p.value, d->quads[y].p.value);
  if (c) return c;
  return x < y ? -1 : x > y;
}

static int build_index(hm_nq_doc *d) {
  size_t n = d->n;
  d->by_subject = hm_malloc((n ? n : 1) * sizeof *d->by_subject);
  size_t *tmp = hm_malloc((n ? n : 1) * sizeof *tmp);
  if (!d->by_subject || !tmp) {
    hm_free(tmp);
    return HM_ERR_NOMEM;
  }
  for (size_t i = 0; i < n; i++) d->by_subject[i] = i;
  size_t *a = d->by_subject, *b = tmp;
  for (size_t w = 1; w < n; w *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * w) {
      size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) b[k++] = idx_cmp(d, a[i], a[j]) <= 0 ? a[i++] : a[j++];
      while (i < mid) b[k++] = a[i++];
      while (j < hi) b[k++] = a[j++];
    }
    size_t *t = a;
    a = b;
    b = t;
  }
  if (a != d->by_subject) {
    memcpy(d->by_subject, a, n * sizeof *a);
    hm_free(a);
  } else {
    hm_free(b);
  }
  return HM_OK;
}

int hm_nq_parse(hm_nq_doc *out, const char *text, size_t len, const hm_nq_limits *limits, hm_nq_error *err) {
  hm_nq_limits lim = {HM_NQ_DEFAULT_MAX_QUADS, HM_NQ_DEFAULT_MAX_LINE, HM_NQ_DEFAULT_MAX_TERM};
  if (limits) {
    if (limits->max_quads) lim.max_quads = limits->max_quads;
    if (limits->max_line) lim.max_line = limits->max_line;
    if (limits->max_term) lim.max_term = limits->max_term;
  }
  if (err) {
    err->line = 0;
    err->message = NULL;
  }
  if (!out || (!text && len)) return HM_ERR_INVAL;
  memset(out, 0, sizeof *out);
  cursor c = {NULL, NULL, 0, &lim, err};
  const char *nul = len ? memchr(text, 0, len) : NULL;
  if (nul) { /* name the line it is on, as for every other error (R-HTTP-15) */
    c.line = 1;
    for (const char *q = text; q < nul; q++) c.line += *q == '\n';
    return fail(&c, HM_ERR_DECODE, "NUL byte in input");
  }
  size_t cap = 0;
  const char *p = text, *end = text + len;
  int rc = HM_OK;
  while (rc == HM_OK && p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    c.line++;
    c.p = p;
    c.end = le;
    if (c.end > c.p && c.end[-1] == '\r') c.end--;
    p = nl ? nl + 1 : end;
    if ((size_t)(c.end - c.p) > lim.max_line) {
      rc = fail(&c, HM_ERR_RANGE, "line too long");
      break;
    }
    if (memchr(c.p, '\r', (size_t)(c.end - c.p))) {
      rc = fail(&c, HM_ERR_DECODE, "stray carriage return");
      break;
    }
    skip_ws(&c);
    if (c.p == c.end || *c.p == '#') continue;
    if (out->n == lim.max_quads) {
      rc = fail(&c, HM_ERR_RANGE, "too many statements");
      break;
    }
    if (out->n == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      if (ncap > lim.max_quads) ncap = lim.max_quads;
      hm_nq_quad *nq = hm_realloc(out->quads, ncap * sizeof *nq);
      if (!nq) {
        rc = HM_ERR_NOMEM;
        break;
      }
      out->quads = nq;
      cap = ncap;
    }
    hm_nq_quad *q = &out->quads[out->n];
    memset(q, 0, sizeof *q);
    q->line = c.line;
    rc = parse_line(&c, q);
    if (rc != HM_OK) {
      quad_free(q);
      break;
    }
    out->n++;
  }
  if (rc == HM_OK) rc = build_index(out);
  if (rc != HM_OK) {
    if (rc == HM_ERR_NOMEM && err && !err->message) {
      err->line = c.line;
      err->message = "out of memory";
    }
    hm_nq_doc_free(out);
  }
  return rc;
}

/* First position in by_subject whose (subject, predicate) >= (s, p). */
static size_t lower_bound(const hm_nq_doc *d, const char *s, const char *p) {
  size_t lo = 0, hi = d->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const hm_nq_quad *q = &d->quads[d->by_subject[mid]];
    int c = strcmp(q->s.value, s);
    if (!c) c = strcmp(q->p.value, p);
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int at(const hm_nq_doc *d, size_t pos, const char *s, const char *p) {
  if (pos >= d->n) return 0;
  const hm_nq_quad *q = &d->quads[d->by_subject[pos]];
  return !strcmp(q->s.value, s) && !strcmp(q->p.value, p);
}

const hm_nq_term *hm_nq_object(const hm_nq_doc *doc, const char *subject, const char *predicate) {
  if (!doc || !doc->by_subject || !subject || !predicate) return NULL;
  size_t pos = lower_bound(doc, subject, predicate);
  return at(doc, pos, subject, predicate) ? &doc->quads[doc->by_subject[pos]].o : NULL;
}

size_t hm_nq_count(const hm_nq_doc *doc, const char *subject, const char *predicate) {
  if (!doc || !doc->by_subject || !subject || !predicate) return 0;
  size_t pos = lower_bound(doc, subject, predicate), n = 0;
  while (at(doc, pos + n, subject, predicate)) n++;
  return n;
}

int hm_nq_has(const hm_nq_doc *doc, const char *subject, const char *predicate, const char *object) {
  if (!doc || !doc->by_subject || !subject || !predicate || !object) return 0;
  for (size_t pos = lower_bound(doc, subject, predicate); at(doc, pos, subject, predicate); pos++) {
    const hm_nq_term *o = &doc->quads[doc->by_subject[pos]].o;
    if (o->kind == HM_NQ_IRI && !strcmp(o->value, object)) return 1;
  }
  return 0;
}
