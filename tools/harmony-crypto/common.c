/* tools/harmony-crypto/common.c - field getters/setters for the auditor tool. */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"

int hc_fail(hc_ctx *c, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->msg, sizeof c->msg, fmt, ap);
  va_end(ap);
  return rc;
}

int hc_get_opt_str(hc_ctx *c, const char *key, const char **s, size_t *len) {
  json_t *v = json_object_get(c->in, key);
  *s = NULL;
  if (len) *len = 0;
  if (!v) return HM_OK;
  if (!json_is_string(v)) return hc_fail(c, HM_ERR_STRUCTURE, "field \"%s\" must be a string", key);
  *s = json_string_value(v);
  if (len) *len = json_string_length(v);
  return HM_OK;
}

int hc_get_str(hc_ctx *c, const char *key, const char **s, size_t *len) {
  int rc = hc_get_opt_str(c, key, s, len);
  if (rc) return rc;
  if (!*s) return hc_fail(c, HM_ERR_STRUCTURE, "missing field \"%s\"", key);
  return HM_OK;
}

int hc_get_int(hc_ctx *c, const char *key, int64_t *v) {
  json_t *j = json_object_get(c->in, key);
  if (!j) return hc_fail(c, HM_ERR_STRUCTURE, "missing field \"%s\"", key);
  if (!json_is_integer(j)) return hc_fail(c, HM_ERR_STRUCTURE, "field \"%s\" must be an integer", key);
  *v = (int64_t)json_integer_value(j);
  return HM_OK;
}

int hc_get_hex_alloc(hc_ctx *c, const char *key, uint8_t **out, size_t *len) {
  const char *s;
  size_t n;
  int rc = hc_get_str(c, key, &s, &n);
  if (rc) return rc;
  uint8_t *buf = hm_malloc(n / 2 + 1);
  if (!buf) return hc_fail(c, HM_ERR_NOMEM, "out of memory");
  rc = hm_hex_decode(buf, n / 2 + 1, len, s, n);
  if (rc) {
    hm_free(buf);
    return hc_fail(c, HM_ERR_DECODE, "field \"%s\" is not valid hex", key);
  }
  *out = buf;
  return HM_OK;
}

int hc_get_hex_fixed(hc_ctx *c, const char *key, uint8_t *out, size_t n) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = hc_get_hex_alloc(c, key, &buf, &len);
  if (rc) return rc;
  if (len != n) {
    hm_free_secret(buf, len);
    return hc_fail(c, HM_ERR_INVAL, "field \"%s\" must be %zu bytes, got %zu", key, n, len);
  }
  memcpy(out, buf, n);
  hm_free_secret(buf, len);
  return HM_OK;
}

static int digits(const char *s, int n, int *v) {
  *v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    *v = *v * 10 + (s[i] - '0');
  }
  return 1;
}

int hc_parse_iso_ms(const char *s, size_t len, int64_t *ms) {
  /* Exactly the form Date.prototype.toISOString gives: YYYY-MM-DDTHH:MM:SS.mmmZ */
  int Y, M, D, h, m, sec, milli;
  if (len != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s[19] != '.' || s[23] != 'Z')
    return HM_ERR_DECODE;
  if (!digits(s, 4, &Y) || !digits(s + 5, 2, &M) || !digits(s + 8, 2, &D) || !digits(s + 11, 2, &h) ||
      !digits(s + 14, 2, &m) || !digits(s + 17, 2, &sec) || !digits(s + 20, 3, &milli))
    return HM_ERR_DECODE;
  static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 59) return HM_ERR_DECODE;
  int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
  if (M == 2 && D == 29 && !leap) return HM_ERR_DECODE;
  /* days from civil (Howard Hinnant's algorithm), no timezone or libc state involved */
  int y = Y - (M <= 2);
  int era = (y >= 0 ? y : y - 399) / 400;
  int yoe = y - era * 400;
  int doy = (153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = (int64_t)era * 146097 + doe - 719468;
  *ms = ((days * 86400 + h * 3600 + m * 60 + sec) * 1000) + milli;
  return HM_OK;
}

int hc_get_iso_ms(hc_ctx *c, const char *key, int64_t *ms, const char **text) {
  const char *s;
  size_t n;
  int rc = hc_get_str(c, key, &s, &n);
  if (rc) return rc;
  if (hc_parse_iso_ms(s, n, ms))
    return hc_fail(c, HM_ERR_DECODE, "field \"%s\" must be an ISO 8601 time like 2025-06-01T12:00:00.000Z",
                   key);
  if (text) *text = s;
  return HM_OK;
}

int hc_get_profile(hc_ctx *c, const char *key, int *profile) {
  const char *s;
  int rc = hc_get_str(c, key, &s, NULL);
  if (rc) return rc;
  if (!strcmp(s, "compat")) *profile = 0;
  else if (!strcmp(s, "hardened")) *profile = 1;
  else return hc_fail(c, HM_ERR_INVAL, "field \"%s\" must be \"compat\" or \"hardened\"", key);
  return HM_OK;
}

static int set(hc_ctx *c, const char *key, json_t *v) {
  if (!v || json_object_set_new(c->out, key, v)) return hc_fail(c, HM_ERR_NOMEM, "out of memory");
  return HM_OK;
}

int hc_set_hex(hc_ctx *c, const char *key, const uint8_t *p, size_t len) {
  size_t cap = hm_hex_encoded_len(len);
  char *s = hm_malloc(cap);
  if (!s) return hc_fail(c, HM_ERR_NOMEM, "out of memory");
  int rc = hm_hex_encode(s, cap, p, len);
  if (rc) {
    hm_free(s);
    return hc_fail(c, rc, "hex encoding failed");
  }
  rc = set(c, key, json_stringn(s, 2 * len));
  hm_free_secret(s, cap);
  return rc;
}

int hc_set_str(hc_ctx *c, const char *key, const char *s) { return set(c, key, json_string(s)); }
int hc_set_strn(hc_ctx *c, const char *key, const char *s, size_t len) {
  json_t *v = json_stringn(s, len);
  if (!v) return hc_fail(c, HM_ERR_INTERNAL, "output \"%s\" is not valid UTF-8", key);
  return set(c, key, v);
}
int hc_set_int(hc_ctx *c, const char *key, int64_t v) { return set(c, key, json_integer((json_int_t)v)); }

int hc_set_verdict(hc_ctx *c, int rc) {
  int r = set(c, "valid", json_boolean(rc == HM_OK));
  if (r) return r;
  return set(c, "reason", rc == HM_OK ? json_null() : json_string(hm_err_name(rc)));
}
