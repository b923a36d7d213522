/* nquads.h - a strict parser for the N-Quads subset that export bundles use
 * (spec/crypto.md R-CRY-EXP-1, spec/http.md R-HTTP-16, R-HTTP-22).
 *
 * One statement per line: `subject predicate object [graph] .` where
 *   subject   is <iri> or _:label
 *   predicate is <iri>
 *   object    is <iri>, _:label or "literal" optionally followed by @lang or ^^<iri>
 *   graph     is <iri> or _:label (optional; absent means the default graph)
 * Lines end with LF or CRLF; blank lines and lines whose first non-blank character is '#'
 * are skipped. An IRI may not contain controls, space, <, >, ", {, }, |, ^, ` or \ (no
 * \u escapes in IRIs). A literal understands the escapes \t \b \n \r \f \" \' \\ \uXXXX and
 * \UXXXXXXXX (no surrogates, no NUL); its decoded value must be valid UTF-8. Anything else
 * is an error naming the 1-based line. Nothing is stored for a failed parse.
 *
 * Limits (hm_nq_limits; 0 in a field = the default below) bound the number of quads, the
 * length of one line and of one decoded term, so a hostile bundle cannot make the parser
 * allocate more than a small multiple of its input.
 */
#ifndef HARMONY_NQUADS_H
#define HARMONY_NQUADS_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HM_NQ_DEFAULT_MAX_QUADS 500000u
#define HM_NQ_DEFAULT_MAX_LINE 65536u
#define HM_NQ_DEFAULT_MAX_TERM 32768u

typedef enum { HM_NQ_NONE = 0, HM_NQ_IRI, HM_NQ_BLANK, HM_NQ_LITERAL } hm_nq_kind;

typedef struct {
  hm_nq_kind kind;
  char *value;    /* IRI without <>, blank label with its "_:", or the decoded literal; NUL-terminated */
  size_t len;     /* strlen(value) (a decoded literal never contains NUL) */
  char *datatype; /* literal ^^<iri> without <>, or NULL */
  char *lang;     /* literal @lang without @, or NULL */
} hm_nq_term;

typedef struct {
  hm_nq_term s, p, o, g; /* g.kind == HM_NQ_NONE for the default graph */
  size_t line;           /* 1-based source line */
} hm_nq_quad;

typedef struct {
  hm_nq_quad *quads; /* in source order */
  size_t n;
  size_t *by_subject; /* indexes into quads sorted by (subject, source order); built by the parser */
} hm_nq_doc;

typedef struct {
  size_t max_quads; /* default HM_NQ_DEFAULT_MAX_QUADS */
  size_t max_line;  /* bytes of one line without its end; default HM_NQ_DEFAULT_MAX_LINE */
  size_t max_term;  /* bytes of one term's value; default HM_NQ_DEFAULT_MAX_TERM */
} hm_nq_limits;

typedef struct {
  size_t line;         /* 1-based line of the error (0 when not about a line) */
  const char *message; /* static text, e.g. "unterminated literal" */
} hm_nq_error;

/* Parse text[0..len) (need not be NUL-terminated; a NUL byte is an error) into *out.
 * limits may be NULL (defaults). Returns HM_OK (caller frees *out with hm_nq_doc_free),
 * HM_ERR_DECODE (syntax; err filled), HM_ERR_RANGE (a limit was exceeded; err filled) or
 * HM_ERR_NOMEM. On error *out is left empty. err may be NULL. */
int hm_nq_parse(hm_nq_doc *out, const char *text, size_t len, const hm_nq_limits *limits, hm_nq_error *err)
    HM_WARN_UNUSED;

/* Free everything the parser allocated; the doc becomes empty. NULL-safe. */
void hm_nq_doc_free(hm_nq_doc *doc);

/* The object of the first quad (in source order) with this subject and predicate, or NULL.
 * O(log n). Borrowed from doc. */
const hm_nq_term *hm_nq_object(const hm_nq_doc *doc, const char *subject, const char *predicate);

/* Number of quads with this subject and predicate (any object). */
size_t hm_nq_count(const hm_nq_doc *doc, const char *subject, const char *predicate);

/* 1 if some quad states subject <predicate> <object> with object an IRI equal to object. */
int hm_nq_has(const hm_nq_doc *doc, const char *subject, const char *predicate, const char *object);

#ifdef __cplusplus
}
#endif
#endif
