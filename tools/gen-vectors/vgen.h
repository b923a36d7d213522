/* tools/gen-vectors/vgen.h - framework shared by gen-vectors and check-vectors-c.
 *
 * A layer (one vectors/<layer>.json file) has case kinds. A kind names its input fields
 * and a compute function that reads those inputs from a case object and writes every
 * other field (outputs, "result", "error", per-profile verdicts). The generator builds the
 * inputs from labelled seeds and calls compute; the checker strips a case from the file
 * down to its inputs, calls compute again and compares the whole case. jansson is only the
 * container of the vector files; every signed JSON document goes through harmony/json.h.
 */
#ifndef HARMONY_VGEN_H
#define HARMONY_VGEN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"

typedef int (*vcompute)(json_t *c); /* 0 on success, -1 (after vdie-style message) otherwise */

typedef struct {
  const char *op;     /* value of the case's "op" field; NULL when the layer has one kind */
  const char *inputs; /* space-separated input field names ("x?" = optional) */
  vcompute fn;
} vkind;

typedef struct vfile vfile;

typedef struct {
  const char *name;      /* file name without .json */
  const char *algorithm;
  const char *source;
  const char *const *notes; /* flag, description, flag, description, ..., NULL */
  const vkind *kinds;
  void (*generate)(vfile *f);
} vlayer;

/* ---- all layers (defined in layers_*.c) ---- */
extern const vlayer *const VLAYERS[];
extern const size_t VLAYERS_N;

/* ---- generator side ---- */
/* New case appended to f (tc_id = next). flags: space-separated (may be ""). op must match
 * a kind (NULL for single-kind layers). Returns the borrowed case object to fill inputs. */
json_t *vcase(vfile *f, const char *op, const char *label, const char *comment, const char *flags);
/* Compute the case's outputs (calls its kind) and put keys into canonical order. Aborts the
 * program on an internal failure. */
void vrun(vfile *f, json_t *c);
/* seed(file,label) or derive(file,label,purpose) (vectors/README.md "Seeds"). */
void vseed(const vfile *f, const char *label, const char *purpose, uint8_t out[32]);

/* ---- shared by both ---- */
const vkind *vkind_find(const vlayer *L, const char *op);
/* Reorder keys: tc_id label comment flags op result error requirements, then the rest in order. */
json_t *vcanon(json_t *c);
/* Set the case's "requirements" (the R-CRY-* ids it exercises, reqs.c) from its finished
 * fields. Aborts when no id applies. */
void vset_requirements(const vlayer *L, json_t *c);

/* field helpers (abort on malformed input: vectors are our own files) */
void vset_hex(json_t *c, const char *key, const uint8_t *p, size_t n);
void vset_str(json_t *c, const char *key, const char *s);
void vset_strn(json_t *c, const char *key, const char *s, size_t n);
void vset_int(json_t *c, const char *key, int64_t v);
void vset_json(json_t *c, const char *key, json_t *v); /* steals v */
/* result "valid" (err ignored), "invalid"/"acceptable" with error CODE of err */
void vset_result(json_t *c, const char *result, int err);
/* {"valid": rc==0, "reason": null|CODE} */
json_t *vverdict(int rc);
/* result from compat/hardened codes: valid/valid, invalid/invalid or acceptable (+error). */
void vset_profiles(json_t *c, int compat_rc, int hardened_rc);

int vhas(json_t *c, const char *key);
size_t vget_hex(json_t *c, const char *key, uint8_t *out, size_t cap); /* exact len returned */
void vget_hex_fixed(json_t *c, const char *key, uint8_t *out, size_t n);
uint8_t *vget_hex_alloc(json_t *c, const char *key, size_t *n); /* hm_malloc'd */
const char *vget_str(json_t *c, const char *key, size_t *n);
int64_t vget_int(json_t *c, const char *key);
int64_t vget_iso(json_t *c, const char *key); /* ISO ms Z -> ms */
int vparse_iso(const char *s, size_t n, int64_t *ms);
void vfmt_iso(int64_t ms, char out[25]);

void vdie(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
