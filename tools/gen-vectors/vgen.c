/* tools/gen-vectors/vgen.c - shared helpers of gen-vectors and check-vectors-c. */
#include "vgen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "vfile.h"

void vdie(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "gen-vectors: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

const vkind *vkind_find(const vlayer *L, const char *op) {
  for (const vkind *k = L->kinds; k->fn; k++) {
    if (!op && !k->op) return k;
    if (op && k->op && !strcmp(op, k->op)) return k;
  }
  return NULL;
}

void vseed(const vfile *f, const char *label, const char *purpose, uint8_t out[32]) {
  char buf[1024];
  int n = purpose ? snprintf(buf, sizeof buf, "harmony-vectors/%s/%s/%s", f->layer->name, label, purpose)
                  : snprintf(buf, sizeof buf, "harmony-vectors/%s/%s", f->layer->name, label);
  if (n < 0 || (size_t)n >= sizeof buf) vdie("label too long");
  crypto_hash_sha256(out, (const unsigned char *)buf, (unsigned long long)n);
}

json_t *vcase(vfile *f, const char *op, const char *label, const char *comment, const char *flags) {
  if (!vkind_find(f->layer, op)) vdie("%s: no kind %s", f->layer->name, op ? op : "(default)");
  json_t *c = json_object();
  json_object_set_new(c, "tc_id", json_integer((json_int_t)(json_array_size(f->tests) + 1)));
  json_object_set_new(c, "label", json_string(label));
  json_object_set_new(c, "comment", json_string(comment));
  json_t *fl = json_array();
  const char *p = flags;
  while (p && *p) {
    size_t n = strcspn(p, " ");
    if (n) {
      json_array_append_new(fl, json_stringn(p, n));
      int known = 0;
      for (const char *const *nt = f->layer->notes; nt && *nt; nt += 2)
        if (strlen(*nt) == n && !strncmp(*nt, p, n)) known = 1;
      if (!known) vdie("%s: flag %.*s has no note", f->layer->name, (int)n, p);
    }
    p += n;
    while (*p == ' ') p++;
  }
  json_object_set_new(c, "flags", fl);
  if (op) json_object_set_new(c, "op", json_string(op));
  /* labels are unique per file (they name the seeds) */
  size_t i;
  json_t *o;
  json_array_foreach(f->tests, i, o) {
    if (!strcmp(json_string_value(json_object_get(o, "label")), label)) vdie("%s: duplicate label %s", f->layer->name, label);
  }
  json_array_append_new(f->tests, c);
  return c;
}

json_t *vcanon(json_t *c) {
  static const char *const first[] = {"tc_id", "label", "comment", "flags", "op", "result", "error", "requirements", NULL};
  json_t *n = json_object();
  for (const char *const *k = first; *k; k++) {
    json_t *v = json_object_get(c, *k);
    if (v) json_object_set(n, *k, v);
  }
  const char *key;
  json_t *v;
  json_object_foreach(c, key, v) {
    if (!json_object_get(n, key)) json_object_set(n, key, v);
  }
  return n;
}

void vrun(vfile *f, json_t *c) {
  size_t last = json_array_size(f->tests) - 1;
  if (json_array_get(f->tests, last) != c) vdie("vrun: not the last case");
  const char *op = json_string_value(json_object_get(c, "op"));
  const vkind *k = vkind_find(f->layer, op);
  if (k->fn(c)) vdie("%s tc %zu (%s): compute failed", f->layer->name, last + 1,
                     json_string_value(json_object_get(c, "label")));
  if (!json_object_get(c, "result")) vdie("%s tc %zu: no result", f->layer->name, last + 1);
  vset_requirements(f->layer, c);
  json_array_set_new(f->tests, last, vcanon(c));
}

/* ---- setters ---- */
void vset_json(json_t *c, const char *key, json_t *v) {
  if (!v || json_object_set_new(c, key, v)) vdie("cannot set %s", key);
}
void vset_hex(json_t *c, const char *key, const uint8_t *p, size_t n) {
  char *s = hm_malloc(2 * n + 1);
  if (!s || hm_hex_encode(s, 2 * n + 1, p, n)) vdie("hex %s", key);
  vset_json(c, key, json_string(s));
  hm_free(s);
}
void vset_str(json_t *c, const char *key, const char *s) { vset_json(c, key, json_string(s)); }
void vset_strn(json_t *c, const char *key, const char *s, size_t n) { vset_json(c, key, json_stringn(s, n)); }
void vset_int(json_t *c, const char *key, int64_t v) { vset_json(c, key, json_integer((json_int_t)v)); }
void vset_result(json_t *c, const char *result, int err) {
  vset_str(c, "result", result);
  if (strcmp(result, "valid")) vset_str(c, "error", hm_err_name(err));
  else json_object_del(c, "error");
}
json_t *vverdict(int rc) {
  json_t *o = json_object();
  json_object_set_new(o, "valid", json_boolean(rc == HM_OK));
  json_object_set_new(o, "reason", rc == HM_OK ? json_null() : json_string(hm_err_name(rc)));
  return o;
}
void vset_profiles(json_t *c, int compat_rc, int hardened_rc) {
  vset_json(c, "compat", vverdict(compat_rc));
  vset_json(c, "hardened", vverdict(hardened_rc));
  if (compat_rc == HM_OK && hardened_rc == HM_OK) vset_result(c, "valid", 0);
  else if (compat_rc != HM_OK && hardened_rc != HM_OK) vset_result(c, "invalid", hardened_rc);
  else if (compat_rc == HM_OK) vset_result(c, "acceptable", hardened_rc);
  else vdie("hardened accepts what compat refuses (%s)", hm_err_name(compat_rc));
}

/* ---- getters ---- */
int vhas(json_t *c, const char *key) { return json_object_get(c, key) != NULL; }
const char *vget_str(json_t *c, const char *key, size_t *n) {
  json_t *v = json_object_get(c, key);
  if (!json_is_string(v)) vdie("field %s missing or not a string", key);
  if (n) *n = json_string_length(v);
  return json_string_value(v);
}
int64_t vget_int(json_t *c, const char *key) {
  json_t *v = json_object_get(c, key);
  if (!json_is_integer(v)) vdie("field %s missing or not an integer", key);
  return (int64_t)json_integer_value(v);
}
uint8_t *vget_hex_alloc(json_t *c, const char *key, size_t *n) {
  size_t sl;
  const char *s = vget_str(c, key, &sl);
  uint8_t *b = hm_malloc(sl / 2 + 1);
  if (!b || hm_hex_decode(b, sl / 2 + 1, n, s, sl)) vdie("field %s: bad hex", key);
  return b;
}
size_t vget_hex(json_t *c, const char *key, uint8_t *out, size_t cap) {
  size_t n;
  uint8_t *b = vget_hex_alloc(c, key, &n);
  if (n > cap) vdie("field %s: %zu bytes, at most %zu", key, n, cap);
  memcpy(out, b, n);
  hm_free(b);
  return n;
}
void vget_hex_fixed(json_t *c, const char *key, uint8_t *out, size_t n) {
  if (vget_hex(c, key, out, n) != n) vdie("field %s: want %zu bytes", key, n);
}

static int digits(const char *s, int n, int *v) {
  *v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    *v = *v * 10 + (s[i] - '0');
  }
  return 1;
}
int vparse_iso(const char *s, size_t len, int64_t *ms) {
  int Y, M, D, h, m, sec, milli;
  if (len != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' ||
      s[23] != 'Z')
    return HM_ERR_DECODE;
  if (!digits(s, 4, &Y) || !digits(s + 5, 2, &M) || !digits(s + 8, 2, &D) || !digits(s + 11, 2, &h) ||
      !digits(s + 14, 2, &m) || !digits(s + 17, 2, &sec) || !digits(s + 20, 3, &milli))
    return HM_ERR_DECODE;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 59) return HM_ERR_DECODE;
  int y = Y - (M <= 2);
  int era = (y >= 0 ? y : y - 399) / 400;
  int yoe = y - era * 400;
  int doy = (153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = (int64_t)era * 146097 + doe - 719468;
  *ms = ((days * 86400 + h * 3600 + m * 60 + sec) * 1000) + milli;
  return HM_OK;
}
int64_t vget_iso(json_t *c, const char *key) {
  size_t n;
  const char *s = vget_str(c, key, &n);
  int64_t ms;
  if (vparse_iso(s, n, &ms)) vdie("field %s: not ISO ms Z", key);
  return ms;
}
void vfmt_iso(int64_t ms, char out[25]) {
  if (ms < 0) vdie("negative time");
  int64_t days = ms / 86400000, rem = ms % 86400000;
  /* civil from days (Hinnant) */
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
  char buf[64];
  snprintf(buf, sizeof buf, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", (unsigned)y % 10000, (unsigned)m % 100,
           (unsigned)d % 100, (unsigned)(rem / 3600000) % 100, (unsigned)(rem / 60000 % 60),
           (unsigned)(rem / 1000 % 60), (unsigned)(rem % 1000));
  memcpy(out, buf, 25);
}
