/* tools/harmony-crypto/common.h - shared plumbing of the harmony-crypto auditor tool.
 *
 * Every op is a function taking the parsed input object (jansson, used ONLY for the
 * outer stdin/stdout object) and filling an output object. Field getters record a
 * message in the context and return a negative HM_ERR_* code, which main() turns into
 * {"error": hm_err_name(rc), "message": msg} with exit status 1.
 */
#ifndef HARMONY_CRYPTO_TOOL_COMMON_H
#define HARMONY_CRYPTO_TOOL_COMMON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"

typedef struct {
  json_t *in;      /* borrowed: the input object */
  json_t *out;     /* owned by main: the result object */
  char msg[512];   /* message for an error exit */
} hc_ctx;

typedef int (*hc_op_fn)(hc_ctx *c);

typedef struct {
  const char *name;
  const char *in_fields;  /* space-separated; a trailing '?' marks an optional field */
  const char *out_fields; /* for --help only */
  const char *desc;
  hc_op_fn fn;
} hc_op;

/* Record an error message (printf-style) and return rc. */
int hc_fail(hc_ctx *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Getters. All return HM_OK or a negative code with c->msg set.
 * Missing or wrongly typed field: HM_ERR_STRUCTURE. Bad hex: HM_ERR_DECODE.
 * Wrong byte length: HM_ERR_INVAL. */
int hc_get_str(hc_ctx *c, const char *key, const char **s, size_t *len);
int hc_get_opt_str(hc_ctx *c, const char *key, const char **s, size_t *len); /* *s NULL if absent */
int hc_get_int(hc_ctx *c, const char *key, int64_t *v);
/* Decode hex field into a fixed-size buffer of exactly n bytes. */
int hc_get_hex_fixed(hc_ctx *c, const char *key, uint8_t *out, size_t n);
/* Decode hex field into a fresh hm_malloc'd buffer (never NULL on success, even if empty). */
int hc_get_hex_alloc(hc_ctx *c, const char *key, uint8_t **out, size_t *len);
/* ISO 8601 "YYYY-MM-DDTHH:MM:SS.mmmZ" -> ms since epoch. */
int hc_get_iso_ms(hc_ctx *c, const char *key, int64_t *ms, const char **text);
/* "compat" -> 0, "hardened" -> 1 (HM_PROFILE_* values). */
int hc_get_profile(hc_ctx *c, const char *key, int *profile);

/* Setters (all return HM_OK or HM_ERR_NOMEM). */
int hc_set_hex(hc_ctx *c, const char *key, const uint8_t *p, size_t len);
int hc_set_str(hc_ctx *c, const char *key, const char *s);
int hc_set_strn(hc_ctx *c, const char *key, const char *s, size_t len);
int hc_set_int(hc_ctx *c, const char *key, int64_t v);
/* {"valid": rc == HM_OK, "reason": null | hm_err_name(rc)} */
int hc_set_verdict(hc_ctx *c, int rc);

/* Parse an ISO 8601 ms/Z string; returns HM_OK or HM_ERR_DECODE. */
int hc_parse_iso_ms(const char *s, size_t len, int64_t *ms);

#endif
