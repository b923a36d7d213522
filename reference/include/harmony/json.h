/* harmony/json.h - a JSON DOM whose serialisation is byte-identical to JavaScript's
 * JSON.stringify(JSON.parse(text)).
 *
 * Every Harmony signature covers UTF-8(JSON.stringify(obj)) of an object as parsed from
 * the wire (crypto-facts §0.3), so this module reproduces the JavaScript object model:
 *   - object keys keep insertion order, except that integer-like keys ("0" .. "4294967294"
 *     in canonical form: no sign, no leading zero) are serialised first, in ascending
 *     numeric order, as JS property order demands;
 *   - a duplicate key keeps the position of its first occurrence and the value of its last
 *     (JSON.parse semantics), unless the caller asks to reject duplicates;
 *   - strings are sequences of UTF-16 code units; they are stored as WTF-8 (UTF-8 that may
 *     also hold a lone surrogate as a 3-byte sequence), so "\ud800" survives a round trip
 *     and is serialised back as \ud800 (lowercase hex), as JS does;
 *   - numbers are IEEE doubles; the serialiser prints them as Number.prototype.toString
 *     does (shortest round-trip digits, "1e+21", "1.5e-7", -0 as 0). Numeric literals out of
 *     double range parse to +-Infinity (as in JS) and are serialised as null.
 *
 * The parser is strict RFC 8259: no comments, no trailing commas, no leading zeros, no
 * BOM, no raw control characters in strings, only the escapes \" \\ \/ \b \f \n \r \t \uXXXX,
 * whitespace only space, tab, LF, CR, and the text must be valid UTF-8 (no overlong forms,
 * no encoded surrogates, nothing above U+10FFFF). Any JSON value may be the top level.
 * Number parsing uses strtod: the process must run with LC_NUMERIC "C" (the default).
 *
 * Memory: every allocation goes through harmony/alloc.h. Every function is safe on
 * allocation failure: it returns HM_ERR_NOMEM (or NULL) and leaks nothing.
 * Not thread-safe per value; distinct values may be used from distinct threads.
 */
#ifndef HARMONY_JSON_H
#define HARMONY_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hm_json hm_json;

typedef enum {
  HM_JSON_NULL,
  HM_JSON_FALSE,
  HM_JSON_TRUE,
  HM_JSON_NUMBER,
  HM_JSON_STRING,
  HM_JSON_ARRAY,
  HM_JSON_OBJECT
} hm_json_kind;

/* Parse flags. */
#define HM_JSON_REJECT_DUPKEYS 1u /* a repeated key in one object is HM_ERR_JSON_DUPKEY */

#define HM_JSON_DEFAULT_MAX_DEPTH 128

/* In/out details of a parse. Zero-initialise it, optionally set max_depth, pass it in. */
typedef struct {
  unsigned max_depth;            /* in: deepest allowed array/object nesting; 0 = 128 */
  size_t error_offset;           /* out: byte offset of the error (on failure) */
  size_t duplicate_keys;         /* out: duplicate keys seen (and merged JS-style) */
  size_t first_duplicate_offset; /* out: byte offset of the first duplicate key's string */
} hm_json_parse_info;

/* Parse text[0..len) (need not be NUL-terminated; a NUL byte is an error).
 * On HM_OK *out owns a new tree (free with hm_json_free). Errors: HM_ERR_JSON (syntax or
 * invalid UTF-8), HM_ERR_JSON_DEPTH (nesting beyond max_depth: a top-level array is depth 1),
 * HM_ERR_JSON_DUPKEY (with HM_JSON_REJECT_DUPKEYS), HM_ERR_NOMEM, HM_ERR_INVAL (NULL args).
 * On error *out is NULL; info (may be NULL) gets the error offset. */
int hm_json_parse(hm_json **out, const char *text, size_t len, unsigned flags, hm_json_parse_info *info);

/* JSON.stringify(v): a new NUL-terminated heap string in *out (free with hm_free), its length
 * without the NUL in *outlen (outlen may be NULL). Returns HM_OK, HM_ERR_NOMEM or HM_ERR_INVAL. */
int hm_json_stringify(char **out, size_t *outlen, const hm_json *v);

/* JSON.stringify({...obj without omit_key, keys[0]: vals[0], ..., keys[n-1]: vals[n-1]})
 * without copying obj: a key already in obj keeps its position and takes the new value;
 * a NULL vals[j] stands for JS undefined (the key is left out altogether). keys are
 * NUL-terminated UTF-8. This is the signing input of every Harmony proof (harmony/vc.h).
 * Returns HM_OK, HM_ERR_INVAL (obj not an object) or HM_ERR_NOMEM. */
int hm_json_stringify_spread(char **out, size_t *outlen, const hm_json *obj, const char *omit_key,
                             const char *const keys[], const hm_json *const vals[], size_t n);

/* Format a double exactly as JavaScript's Number.prototype.toString (NaN -> "NaN",
 * Infinity -> "Infinity"; JSON.stringify maps both to null itself). buf needs 32 bytes;
 * returns the length written (NUL-terminated). */
size_t hm_json_format_number(char buf[32], double d);

/* ---- constructors: a new value, or NULL on allocation failure ---- */
hm_json *hm_json_new_null(void);
hm_json *hm_json_new_bool(int b);
hm_json *hm_json_new_number(double d);
/* s[0..len) must be valid UTF-8 (NUL bytes allowed) or canonical WTF-8 (a lone surrogate as
 * a 3-byte sequence, as hm_json_string returns it for a parsed "\udxxx"; a surrogate pair
 * must be the 4-byte form); otherwise NULL. The bytes are copied. */
hm_json *hm_json_new_string(const char *s, size_t len);
/* 1 when s[0..len) is text hm_json_new_string accepts (canonical WTF-8: UTF-8 plus lone
 * surrogates), else 0. Lets callers tell bad input from out-of-memory. */
int hm_json_text_valid(const char *s, size_t len);
hm_json *hm_json_new_cstr(const char *s); /* NUL-terminated convenience */
hm_json *hm_json_new_array(void);
hm_json *hm_json_new_object(void);

/* Deep copy (key order, duplicates already merged, lone surrogates all kept). NULL on NOMEM. */
hm_json *hm_json_clone(const hm_json *v);
/* Free v and everything below it. NULL is a no-op. */
void hm_json_free(hm_json *v);

/* ---- accessors ---- */
hm_json_kind hm_json_kind_of(const hm_json *v);
/* Number value; 0 when v is not a number. */
double hm_json_number(const hm_json *v);
/* String bytes (WTF-8, NUL-terminated, may contain NULs) and length; NULL if not a string.
 * The pointer is owned by v. */
const char *hm_json_string(const hm_json *v, size_t *len);
/* 1 if v is a string equal to the NUL-terminated s, else 0. */
int hm_json_string_is(const hm_json *v, const char *s);

size_t hm_json_array_size(const hm_json *a);          /* 0 if not an array */
hm_json *hm_json_array_get(const hm_json *a, size_t i); /* borrowed; NULL if out of range */
/* Append val to the array. Ownership of val passes to the callee in every case: on failure
 * (a is not an array, val is NULL, no memory) val is freed and an error returned
 * (HM_ERR_INVAL or HM_ERR_NOMEM; a NULL val gives HM_ERR_NOMEM, so constructor calls can be
 * nested without checks). The one exception: val == a gives HM_ERR_INVAL and frees nothing. */
int hm_json_array_append(hm_json *a, hm_json *val);

size_t hm_json_object_size(const hm_json *o); /* 0 if not an object */
/* i-th member in insertion order (not the serialisation order). Borrowed pointers. */
const char *hm_json_object_key_at(const hm_json *o, size_t i, size_t *klen);
hm_json *hm_json_object_value_at(const hm_json *o, size_t i);
/* Lookup by exact key bytes; borrowed pointer or NULL. */
hm_json *hm_json_object_get(const hm_json *o, const char *key, size_t klen);
hm_json *hm_json_object_getc(const hm_json *o, const char *key); /* NUL-terminated key */
/* Set key to val with JS semantics: an existing key keeps its position and gets the new
 * value (the old one is freed); a new key is appended. key must be UTF-8 or canonical WTF-8
 * (as for hm_json_new_string).
 * Ownership of val always passes to the callee, as for hm_json_array_append.
 * Returns HM_OK, HM_ERR_NOMEM or HM_ERR_INVAL. */
int hm_json_object_set(hm_json *o, const char *key, size_t klen, hm_json *val);
int hm_json_object_setc(hm_json *o, const char *key, hm_json *val);
/* Remove key (value freed). A later set of the same key appends it at the end, as in JS.
 * Returns HM_OK or HM_ERR_NOT_FOUND (HM_ERR_INVAL if o is not an object). */
int hm_json_object_remove(hm_json *o, const char *key, size_t klen);

/* Deep equality: same kinds, numbers equal as doubles (so 0 == -0), strings byte-equal,
 * arrays element-wise, objects with the same key set and equal values (order ignored). */
int hm_json_equal(const hm_json *a, const hm_json *b);

#ifdef __cplusplus
}
#endif
#endif
