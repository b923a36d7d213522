/* vc.c - Harmony VCs, VPs and ZCAPs in two verification profiles (see harmony/vc.h).
 *
 * The compat paths mirror upstream's vc/zcap services decision by decision (including the
 * JavaScript coercions they rely on: truthiness, String.prototype.includes on a string
 * "type", `===` on parsed values); each such spot says which JS behaviour it reproduces.
 * The hardened paths are written as a list of explicit requirements instead. */
#include "harmony/vc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"

#define PURPOSE_VC "assertionMethod"
#define PURPOSE_VP "authentication"
#define PURPOSE_DELEGATE "capabilityDelegation"
#define PURPOSE_INVOKE "capabilityInvocation"
#define MAX_DATE_MS 8640000000000000LL /* ECMAScript TimeClip bound */

/* ---- result helpers -------------------------------------------------------- */

static int fail(hm_verify_result *res, int err, const char *reason, long idx) {
  if (res) {
    res->err = err;
    res->reason = reason;
    res->credential_index = idx;
  }
  return err;
}

static int ok(hm_verify_result *res) { return fail(res, HM_OK, "ok", -1); }

/* ---- time ------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : dm[m - 1];
}

int hm_iso8601_format(char buf[32], int64_t ms) {
  if (!buf) return HM_ERR_INVAL;
  int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  int64_t rem = ms - days * 86400000;
  int64_t y;
  unsigned mo, d;
  civil_from_days(days, &y, &mo, &d);
  if (y < 0 || y > 9999) return HM_ERR_RANGE;
  char tmp[96]; /* roomy for the compiler's range analysis; the result is 24 bytes */
  snprintf(tmp, sizeof tmp, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", (int)y, mo, d, (int)(rem / 3600000),
           (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
  memcpy(buf, tmp, 25);
  return HM_OK;
}

/* Reads exactly n decimal digits. */
static int digits(const char *s, size_t n, int *v) {
  int r = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    r = r * 10 + (s[i] - '0');
  }
  *v = r;
  return 1;
}

int hm_iso8601_parse_strict(const char *s, size_t len, int64_t *ms) {
  if (!s || !ms) return HM_ERR_INVAL;
  int y, mo, d, h, mi, se, frac = 0;
  if (len < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
      !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
      !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
    return HM_ERR_DECODE;
  size_t p = 19;
  if (s[p] == '.') {
    size_t f = 0;
    p++;
    while (p + f < len && f < 4 && s[p + f] >= '0' && s[p + f] <= '9') f++;
    if (f < 1 || f > 3) return HM_ERR_DECODE;
    digits(s + p, f, &frac);
    for (size_t k = f; k < 3; k++) frac *= 10;
    p += f;
  }
  int off = 0;
  if (p < len && s[p] == 'Z') {
    p++;
  } else if (p + 6 <= len && (s[p] == '+' || s[p] == '-')) {
    int oh, om;
    if (!digits(s + p + 1, 2, &oh) || s[p + 3] != ':' || !digits(s + p + 4, 2, &om) || oh > 23 || om > 59)
      return HM_ERR_DECODE;
    off = (oh * 60 + om) * (s[p] == '+' ? 1 : -1);
    p += 6;
  } else {
    return HM_ERR_DECODE;
  }
  if (p != len || mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo) || h > 23 ||
      mi > 59 || se > 59)
    return HM_ERR_DECODE;
  int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400000 + (int64_t)h * 3600000 +
              (int64_t)mi * 60000 + (int64_t)se * 1000 + frac;
  *ms = t - (int64_t)off * 60000;
  return HM_OK;
}

/* ECMAScript Date Time String Format, as V8 reads it (see vc.h for what is left out). */
static int js_date_parse(const char *s, size_t len, int64_t *ms) {
  size_t p = 0;
  int64_t y;
  int v, mo = 1, d = 1, h = 0, mi = 0, se = 0, frac = 0;
  if (len >= 7 && (s[0] == '+' || s[0] == '-')) {
    if (!digits(s + 1, 6, &v)) return 0;
    if (s[0] == '-' && v == 0) return 0; /* -000000 is not allowed */
    y = s[0] == '-' ? -(int64_t)v : v;
    p = 7;
  } else {
    if (len < 4 || !digits(s, 4, &v)) return 0;
    y = v;
    p = 4;
  }
  if (p < len && s[p] == '-') {
    if (p + 3 > len || !digits(s + p + 1, 2, &mo)) return 0;
    p += 3;
    if (p < len && s[p] == '-') {
      if (p + 3 > len || !digits(s + p + 1, 2, &d)) return 0;
      p += 3;
    }
  }
  int has_time = 0, off = 0;
  if (p < len && s[p] == 'T') {
    has_time = 1;
    if (p + 6 > len || !digits(s + p + 1, 2, &h) || s[p + 3] != ':' || !digits(s + p + 4, 2, &mi)) return 0;
    p += 6;
    if (p < len && s[p] == ':') {
      if (p + 3 > len || !digits(s + p + 1, 2, &se)) return 0;
      p += 3;
      if (p < len && s[p] == '.') {
        size_t f = 0;
        p++;
        while (p + f < len && s[p + f] >= '0' && s[p + f] <= '9') f++;
        if (f == 0) return 0;
        int tmp = 0; /* digits() succeeds: the loop above counted f >= 1 digits */
        digits(s + p, f < 3 ? f : 3, &tmp);
        for (size_t k = f; k < 3; k++) tmp *= 10;
        frac = tmp;
        p += f;
      }
    }
    if (p < len && s[p] == 'Z') {
      p++;
    } else if (p < len && (s[p] == '+' || s[p] == '-')) {
      int oh, om;
      if (p + 6 > len || !digits(s + p + 1, 2, &oh) || s[p + 3] != ':' || !digits(s + p + 4, 2, &om) || oh > 23 ||
          om > 59)
        return 0;
      off = (oh * 60 + om) * (s[p] == '+' ? 1 : -1);
      p += 6;
    } /* no offset: local time; we read it as UTC (a server in UTC) */
  }
  (void)has_time;
  if (p != len || mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y < 0 ? -y : y, (unsigned)mo) ||
      mi > 59 || se > 59 || h > 24 || (h == 24 && (mi || se || frac)))
    return 0;
  int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400000 + (int64_t)h * 3600000 +
              (int64_t)mi * 60000 + (int64_t)se * 1000 + frac - (int64_t)off * 60000;
  if (t > MAX_DATE_MS || t < -MAX_DATE_MS) return 0;
  *ms = t;
  return 1;
}

int hm_js_date_value(const hm_json *v, int64_t *ms) {
  if (!v || !ms) return 0; /* new Date(undefined): Invalid Date */
  switch (hm_json_kind_of(v)) {
  case HM_JSON_NULL:
  case HM_JSON_FALSE: *ms = 0; return 1;
  case HM_JSON_TRUE: *ms = 1; return 1;
  case HM_JSON_NUMBER: {
    double d = hm_json_number(v);
    if (!isfinite(d) || fabs(d) > (double)MAX_DATE_MS) return 0;
    *ms = (int64_t)trunc(d);
    return 1;
  }
  case HM_JSON_STRING: {
    size_t n;
    const char *s = hm_json_string(v, &n);
    return js_date_parse(s, n, ms);
  }
  case HM_JSON_ARRAY: /* ToPrimitive joins the elements: only the one-string case parses */
    if (hm_json_array_size(v) == 1 && hm_json_kind_of(hm_json_array_get(v, 0)) == HM_JSON_STRING)
      return hm_js_date_value(hm_json_array_get(v, 0), ms);
    return 0;
  default: return 0; /* "[object Object]" */
  }
}

/* ---- small JSON helpers ---------------------------------------------------- */

/* JavaScript truthiness of a property (NULL = undefined). */
static int js_truthy(const hm_json *v) {
  if (!v) return 0;
  switch (hm_json_kind_of(v)) {
  case HM_JSON_NULL:
  case HM_JSON_FALSE: return 0;
  case HM_JSON_NUMBER: {
    double d = hm_json_number(v);
    return d == d && d != 0;
  }
  case HM_JSON_STRING: {
    size_t n;
    hm_json_string(v, &n);
    return n != 0;
  }
  default: return 1;
  }
}

/* A JSON string without NUL bytes, as a C string (borrowed), or NULL. */
static const char *cstr(const hm_json *v) {
  size_t n;
  const char *s = hm_json_string(v, &n);
  if (!s || memchr(s, 0, n)) return NULL;
  return s;
}

static const hm_json *get(const hm_json *o, const char *k) { return hm_json_object_getc(o, k); }

static int is_object(const hm_json *v) { return hm_json_kind_of(v) == HM_JSON_OBJECT; }
static int is_array(const hm_json *v) { return v && hm_json_kind_of(v) == HM_JSON_ARRAY; }

static int array_has_string(const hm_json *a, const char *s) {
  for (size_t i = 0; i < hm_json_array_size(a); i++)
    if (hm_json_string_is(hm_json_array_get(a, i), s)) return 1;
  return 0;
}

/* JS `x.includes(s)` for the two shapes upstream meets: Array.prototype.includes (===) and
 * String.prototype.includes (substring). Returns -1 where JS would throw a TypeError. */
static int js_includes(const hm_json *x, const hm_json *needle) {
  if (is_array(x)) {
    for (size_t i = 0; i < hm_json_array_size(x); i++) {
      const hm_json *e = hm_json_array_get(x, i);
      hm_json_kind k = hm_json_kind_of(e);
      if (needle && k == hm_json_kind_of(needle) && k != HM_JSON_ARRAY && k != HM_JSON_OBJECT &&
          hm_json_equal(e, needle) && !(k == HM_JSON_NUMBER && hm_json_number(e) != hm_json_number(e)))
        return 1;
    }
    return 0;
  }
  if (hm_json_kind_of(x) == HM_JSON_STRING && x) {
    /* String(needle): only strings matter for Harmony; others are converted by JS, we
     * handle the string case and treat the rest as absent. */
    size_t hn, nn;
    const char *h = hm_json_string(x, &hn), *n = needle ? hm_json_string(needle, &nn) : NULL;
    if (!n) return 0;
    if (nn == 0) return 1;
    for (size_t i = 0; i + nn <= hn; i++)
      if (memcmp(h + i, n, nn) == 0) return 1;
    return 0;
  }
  return -1;
}

/* JS `a === b` for values taken from parsed JSON (distinct objects are never identical). */
static int js_strict_equal(const hm_json *a, const hm_json *b) {
  if (!a || !b) return a == b; /* undefined === undefined */
  hm_json_kind k = hm_json_kind_of(a);
  if (k != hm_json_kind_of(b)) return 0;
  if (k == HM_JSON_ARRAY || k == HM_JSON_OBJECT) return a == b;
  if (k == HM_JSON_NUMBER) return hm_json_number(a) == hm_json_number(b);
  return hm_json_equal(a, b);
}

/* ---- signing input, proofs ------------------------------------------------- */

int hm_proof_signing_input(char **out, size_t *len, const hm_json *doc) {
  if (!out || !is_object(doc)) return HM_ERR_INVAL;
  const hm_json *proof = get(doc, "proof");
  if (!is_object(proof)) return HM_ERR_STRUCTURE;
  static const char *const keys[3] = {"proofPurpose", "created", "verificationMethod"};
  const hm_json *vals[3] = {get(proof, keys[0]), get(proof, keys[1]), get(proof, keys[2])};
  return hm_json_stringify_spread(out, len, doc, "proof", keys, vals, 3);
}

int hm_proof_signing_input_for(char **out, size_t *len, const hm_json *doc, const char *purpose,
                               const char *created, const char *vm) {
  if (!out || !is_object(doc) || !purpose || !created || !vm) return HM_ERR_INVAL;
  static const char *const keys[3] = {"proofPurpose", "created", "verificationMethod"};
  hm_json *vals[3] = {hm_json_new_cstr(purpose), hm_json_new_cstr(created), hm_json_new_cstr(vm)};
  int r = HM_ERR_NOMEM;
  if (vals[0] && vals[1] && vals[2])
    r = hm_json_stringify_spread(out, len, doc, "proof", keys, (const hm_json *const *)vals, 3);
  for (int i = 0; i < 3; i++) hm_json_free(vals[i]);
  return r;
}

int hm_proof_attach(hm_json *doc, const uint8_t seed[32], const char *vm, const char *purpose,
                    const char *created) {
  if (!is_object(doc) || !seed || !vm || !purpose || !created) return HM_ERR_INVAL;
  char *msg = NULL;
  size_t mlen = 0;
  int r = hm_proof_signing_input_for(&msg, &mlen, doc, purpose, created, vm);
  if (r != HM_OK) return r;
  uint8_t sig[64];
  r = hm_ed25519_sign(sig, (const uint8_t *)msg, mlen, seed);
  hm_free(msg);
  if (r != HM_OK) return r;
  char pv[128];
  pv[0] = 'z';
  /* upstream's encoder: identical to the standard one except for an all-zero signature */
  r = hm_base58_encode_upstream(pv + 1, sizeof pv - 1, sig, sizeof sig);
  if (r != HM_OK) return r;
  hm_json *proof = hm_json_new_object();
  if (!proof) return HM_ERR_NOMEM;
  if ((r = hm_json_object_setc(proof, "type", hm_json_new_cstr(HM_PROOF_TYPE))) != HM_OK ||
      (r = hm_json_object_setc(proof, "created", hm_json_new_cstr(created))) != HM_OK ||
      (r = hm_json_object_setc(proof, "verificationMethod", hm_json_new_cstr(vm))) != HM_OK ||
      (r = hm_json_object_setc(proof, "proofPurpose", hm_json_new_cstr(purpose))) != HM_OK ||
      (r = hm_json_object_setc(proof, "proofValue", hm_json_new_cstr(pv))) != HM_OK) {
    hm_json_free(proof);
    return r == HM_ERR_INVAL ? HM_ERR_INVAL : HM_ERR_NOMEM;
  }
  return hm_json_object_setc(doc, "proof", proof);
}

int hm_vc_default_vm(char *out, size_t cap, const char *did) {
  if (!out || !did) return HM_ERR_INVAL;
  /* JS did.replace('did:key:', ''): the first occurrence anywhere, not only a prefix */
  const char *at = strstr(did, "did:key:");
  size_t dl = strlen(did), need = dl + 1 + dl + 1 - (at ? 8 : 0);
  if (cap < need) return HM_ERR_BUFSZ;
  memcpy(out, did, dl);
  out[dl] = '#';
  char *o = out + dl + 1;
  if (at) {
    size_t pre = (size_t)(at - did);
    memcpy(o, did, pre);
    strcpy(o + pre, at + 8);
  } else {
    strcpy(o, did);
  }
  return HM_OK;
}

/* ---- DID resolution and keys ---------------------------------------------- */

/* Every verification entry point wraps the caller's options in a vctx, whose first member
 * they are, so internal functions can reach a one-entry DID resolution cache through the
 * same pointer: a login usually resolves the holder twice (VP and self-issued VC), a ZCAP
 * chain its owner several times. */
typedef struct {
  hm_verify_opts opts;
  char *did;   /* cached DID (hm_strdup) */
  hm_json *doc; /* its document */
} vctx;

static vctx vctx_make(const hm_verify_opts *o) {
  vctx v;
  v.opts = *o;
  v.did = NULL;
  v.doc = NULL;
  return v;
}

static void vctx_clear(vctx *v) {
  hm_free(v->did);
  hm_json_free(v->doc);
  v->did = NULL;
  v->doc = NULL;
}

static int resolve_did(const hm_verify_opts *o, const char *did, hm_json **doc) {
  *doc = NULL;
  if (o->resolve) {
    int r = o->resolve(o->resolve_ctx, did, o->profile, doc);
    if (r == HM_OK && !is_object(*doc)) {
      hm_json_free(*doc);
      *doc = NULL;
      return HM_ERR_DID;
    }
    return r == HM_OK || r == HM_ERR_NOMEM ? r : HM_ERR_DID;
  }
  char *json = NULL;
  size_t len = 0;
  int r = hm_did_document(&json, &len, did, o->profile == HM_PROFILE_HARDENED ? HM_DID_HARDENED : HM_DID_COMPAT);
  if (r != HM_OK) return r == HM_ERR_NOMEM ? r : HM_ERR_DID;
  r = hm_json_parse(doc, json, len, 0, NULL);
  hm_free(json);
  return r == HM_OK || r == HM_ERR_NOMEM ? r : HM_ERR_DID;
}

/* upstream: doc.verificationMethod.find(v => v.id === vmId) */
static const hm_json *find_vm(const hm_json *doc, const hm_json *vm_id) {
  const hm_json *vms = get(doc, "verificationMethod");
  for (size_t i = 0; i < hm_json_array_size(vms); i++) {
    const hm_json *vm = hm_json_array_get(vms, i);
    if (is_object(vm) && js_strict_equal(get(vm, "id"), vm_id)) return vm;
  }
  return NULL;
}

/* The VM relationship rule of the hardened profile (see vc.h). */
static int vm_in_relationship(const hm_json *doc, const char *did, const char *vm_id, const char *rel) {
  const hm_json *arr = get(doc, rel);
  if (is_array(arr)) {
    for (size_t i = 0; i < hm_json_array_size(arr); i++) {
      const hm_json *e = hm_json_array_get(arr, i);
      if (hm_json_string_is(e, vm_id) || (is_object(e) && hm_json_string_is(get(e, "id"), vm_id))) return 1;
    }
    return 0;
  }
  if (strcmp(rel, PURPOSE_DELEGATE) == 0 || strcmp(rel, PURPOSE_INVOKE) == 0) {
    char def[256];
    return hm_vc_default_vm(def, sizeof def, did) == HM_OK && strcmp(def, vm_id) == 0;
  }
  return 0;
}

/* Resolve signer_did and fetch the public key of proof.verificationMethod.
 * compat: upstream getPublicKeyFromDocument (no codec or length check; *klen may be != 32).
 * hardened: ed25519 multicodec, 32 bytes, VM type and relationship checked. */
/* R-CRY-DID-9: for capability checks upstream's server falls back to a minimal document
 * when its resolver returns nothing and the DID merely starts with "did:key:": one Ed25519
 * method whose publicKeyMultibase is the rest of the DID, in every relationship. Only the
 * compat profile reproduces it; hardened has no fallback. Builders take ownership of
 * their arguments even on failure, so only the final status needs checking. */
static int zcap_fallback_doc(const char *did, hm_json **out) {
  *out = NULL;
  if (strncmp(did, "did:key:", 8) != 0) return HM_ERR_DID;
  const char *mb = did + 8;
  size_t vl = strlen(did) + 1 + strlen(mb);
  char *vmid = hm_malloc(vl + 1);
  if (!vmid) return HM_ERR_NOMEM;
  snprintf(vmid, vl + 1, "%s#%s", did, mb);
  hm_json *doc = hm_json_new_object(), *vm = hm_json_new_object(), *vms = hm_json_new_array();
  int r = doc && vm && vms ? HM_OK : HM_ERR_NOMEM;
  if (r == HM_OK) r = hm_json_object_setc(vm, "id", hm_json_new_cstr(vmid));
  if (r == HM_OK) r = hm_json_object_setc(vm, "type", hm_json_new_cstr("Ed25519VerificationKey2020"));
  if (r == HM_OK) r = hm_json_object_setc(vm, "controller", hm_json_new_cstr(did));
  if (r == HM_OK) r = hm_json_object_setc(vm, "publicKeyMultibase", hm_json_new_cstr(mb));
  if (r == HM_OK) { r = hm_json_array_append(vms, vm); vm = NULL; }
  if (r == HM_OK) r = hm_json_object_setc(doc, "id", hm_json_new_cstr(did));
  if (r == HM_OK) { r = hm_json_object_setc(doc, "verificationMethod", vms); vms = NULL; }
  static const char *const rels[] = {"authentication", "assertionMethod", "capabilityDelegation",
                                     "capabilityInvocation"};
  for (size_t i = 0; r == HM_OK && i < sizeof rels / sizeof rels[0]; i++) {
    hm_json *a = hm_json_new_array();
    r = a ? hm_json_array_append(a, hm_json_new_cstr(vmid)) : HM_ERR_NOMEM;
    if (r == HM_OK) r = hm_json_object_setc(doc, rels[i], a);
    else hm_json_free(a);
  }
  if (r == HM_OK) r = hm_json_object_setc(doc, "keyAgreement", hm_json_new_array());
  hm_free(vmid);
  hm_json_free(vm);
  hm_json_free(vms);
  if (r != HM_OK) {
    hm_json_free(doc);
    return r;
  }
  *out = doc;
  return HM_OK;
}

/* The hardened did:key fast path: when nobody supplied a resolver and the proof names the
 * DID's own Ed25519 method (did#z..., the id the did:key document gives it) for a relationship
 * that method is in (authentication and assertionMethod list it; the capability relationships
 * are absent from a did:key document, so the default-VM rule of vm_in_relationship names
 * it), the slow path would build the document, find that method, check its type and
 * relationship and decode its publicKeyMultibase back to the very key the DID decodes to.
 * Only that success is short-cut (no document is built or parsed); every other case, and
 * every failure, takes the slow path, so the errors stay the same. */
static int didkey_fast_key(const hm_verify_opts *o, const char *did, const hm_json *proof, const char *rel,
                           uint8_t key[64], size_t *klen) {
  if (o->profile != HM_PROFILE_HARDENED || o->resolve || strncmp(did, "did:key:z", 9) != 0) return 0;
  if (strcmp(rel, PURPOSE_VP) && strcmp(rel, PURPOSE_VC) && strcmp(rel, PURPOSE_DELEGATE) && strcmp(rel, PURPOSE_INVOKE))
    return 0;
  const char *vm = is_object(proof) ? cstr(get(proof, "verificationMethod")) : NULL;
  size_t dl = strlen(did);
  if (!vm || strncmp(vm, did, dl) != 0 || vm[dl] != '#' || strcmp(vm + dl + 1, did + 8) != 0) return 0;
  uint8_t pk[32];
  if (hm_didkey_decode(pk, NULL, did, HM_DID_HARDENED) != HM_OK) return 0;
  memcpy(key, pk, 32);
  *klen = 32;
  return 1;
}

static int signer_key(const hm_verify_opts *o, const char *signer_did, const hm_json *proof, const char *rel,
                      uint8_t key[64], size_t *klen, hm_verify_result *res, long idx) {
  if (didkey_fast_key(o, signer_did, proof, rel, key, klen)) return HM_OK;
  vctx *cx = (vctx *)(uintptr_t)o; /* see vctx */
  hm_json *doc = NULL;
  if (cx->did && strcmp(cx->did, signer_did) == 0) {
    doc = cx->doc;
  } else {
    int r = resolve_did(o, signer_did, &doc);
    if (r == HM_ERR_DID && o->profile == HM_PROFILE_COMPAT &&
        (strcmp(rel, PURPOSE_DELEGATE) == 0 || strcmp(rel, PURPOSE_INVOKE) == 0))
      r = zcap_fallback_doc(signer_did, &doc);
    if (r == HM_ERR_NOMEM) return fail(res, r, "out of memory", idx);
    if (r != HM_OK) return fail(res, HM_ERR_DID, "signer DID does not resolve", idx);
    char *d = hm_strdup(signer_did);
    if (!d) {
      hm_json_free(doc);
      return fail(res, HM_ERR_NOMEM, "out of memory", idx);
    }
    vctx_clear(cx);
    cx->did = d;
    cx->doc = doc; /* owned by the cache from now on */
  }
  const hm_json *vm_id = is_object(proof) ? get(proof, "verificationMethod") : NULL;
  const hm_json *vm = find_vm(doc, vm_id);
  if (!vm) return fail(res, HM_ERR_NOT_FOUND, "verification method not found in the DID document", idx);
  size_t mbl;
  const char *mb = hm_json_string(get(vm, "publicKeyMultibase"), &mbl);
  uint8_t raw[128];
  size_t rawlen = 0;
  if (o->profile == HM_PROFILE_COMPAT) {
    /* upstream: startsWith('z'), base58 decode (throws on a bad character), skip the varint */
    if (!mb || mbl == 0 || mb[0] != 'z' ||
        hm_base58_decode_upstream(raw, sizeof raw, &rawlen, mb + 1, mbl - 1) != HM_OK)
      return fail(res, HM_ERR_NOT_FOUND, "verification method has no usable publicKeyMultibase", idx);
    size_t off = 0;
    while (off < rawlen && (raw[off] & 0x80)) off++;
    off++;
    *klen = off < rawlen ? rawlen - off : 0;
    if (*klen > 64) *klen = 64; /* longer keys fail verification anyway */
    memcpy(key, raw + (off < rawlen ? off : rawlen), *klen);
    return HM_OK;
  }
  const char *vmid = cstr(vm_id);
  if (!hm_json_string_is(get(vm, "type"), "Ed25519VerificationKey2020"))
    return fail(res, HM_ERR_UNSUPPORTED, "verification method is not an Ed25519VerificationKey2020", idx);
  if (!vmid || !vm_in_relationship(doc, signer_did, vmid, rel))
    return fail(res, HM_ERR_PURPOSE, "verification method not in the required relationship", idx);
  uint64_t codec;
  size_t used;
  if (!mb || hm_multibase_decode_b58(raw, sizeof raw, &rawlen, mb, mbl) != HM_OK ||
      hm_varint_decode(&codec, &used, raw, rawlen) != HM_OK || codec != 0xed || rawlen - used != 32)
    return fail(res, HM_ERR_UNSUPPORTED, "verification key is not a multibase ed25519 key of 32 bytes", idx);
  memcpy(key, raw + used, 32);
  *klen = 32;
  return HM_OK;
}

/* Check proof.proofValue over doc's signing input with key. */
static int check_signature(const hm_verify_opts *o, const hm_json *doc, const hm_json *proof, const uint8_t *key,
                           size_t klen, hm_verify_result *res, long idx) {
  size_t pvl;
  const char *pv = hm_json_string(get(proof, "proofValue"), &pvl);
  uint8_t sig[128];
  size_t slen = 0;
  if (!pv) return fail(res, HM_ERR_BADSIG, "proofValue is not a string", idx);
  if (o->profile == HM_PROFILE_COMPAT) {
    /* proofValue.slice(1): drops one UTF-16 unit, unchecked. If that unit is the high half
     * of a pair the rest starts with a lone surrogate, which base58 decoding rejects. */
    size_t skip = 0;
    if (pvl) {
      unsigned char c = (unsigned char)pv[0];
      if (c >= 0xf0) return fail(res, HM_ERR_BADSIG, "proofValue is not base58", idx);
      skip = c < 0x80 ? 1 : c < 0xe0 ? 2 : 3;
      if (skip > pvl) skip = pvl;
    }
    int r = hm_base58_decode_upstream(sig, sizeof sig, &slen, pv + skip, pvl - skip);
    if (r != HM_OK || slen != 64) return fail(res, HM_ERR_BADSIG, "proofValue is not a 64-byte base58 signature", idx);
  } else {
    if (pvl < 2 || pv[0] != 'z' || hm_base58_decode(sig, sizeof sig, &slen, pv + 1, pvl - 1) != HM_OK || slen != 64)
      return fail(res, HM_ERR_BADSIG, "proofValue is not z + base58 of 64 bytes", idx);
  }
  if (klen != 32) return fail(res, HM_ERR_BADSIG, "public key is not 32 bytes", idx);
  char *msg = NULL;
  size_t mlen = 0;
  int r = hm_proof_signing_input(&msg, &mlen, doc);
  if (r != HM_OK) return fail(res, r, r == HM_ERR_NOMEM ? "out of memory" : "no proof object", idx);
  r = hm_ed25519_verify(sig, (const uint8_t *)msg, mlen, key,
                        o->profile == HM_PROFILE_COMPAT ? HM_ED25519_ZIP215 : HM_ED25519_STRICT);
  hm_free(msg);
  if (r == HM_OK) return HM_OK;
  if (r == HM_ERR_WEAK_KEY) return fail(res, r, "weak or invalid public key", idx);
  return fail(res, HM_ERR_BADSIG, "signature does not verify", idx);
}

/* Hardened checks on a proof object: type, purpose, created (strict ISO) -> *created_ms. */
static int hardened_proof_fields(const hm_json *proof, const char *purpose, int64_t *created_ms,
                                 hm_verify_result *res, long idx) {
  if (!is_object(proof)) return fail(res, HM_ERR_STRUCTURE, "proof is not an object", idx);
  if (!hm_json_string_is(get(proof, "type"), HM_PROOF_TYPE))
    return fail(res, HM_ERR_UNSUPPORTED, "proof.type is not Ed25519Signature2020", idx);
  if (!hm_json_string_is(get(proof, "proofPurpose"), purpose))
    return fail(res, HM_ERR_PURPOSE, "proof.proofPurpose does not fit", idx);
  size_t n;
  const char *c = hm_json_string(get(proof, "created"), &n);
  int64_t t;
  if (!c || hm_iso8601_parse_strict(c, n, &t) != HM_OK)
    return fail(res, HM_ERR_STRUCTURE, "proof.created is not an ISO 8601 UTC time", idx);
  if (!cstr(get(proof, "verificationMethod")))
    return fail(res, HM_ERR_STRUCTURE, "proof.verificationMethod is not a string", idx);
  if (created_ms) *created_ms = t;
  return HM_OK;
}

static int64_t window_ms(const hm_verify_opts *o) {
  return (int64_t)(o->freshness_s ? o->freshness_s : HM_DEFAULT_FRESHNESS_S) * 1000;
}

/* ---- VC -------------------------------------------------------------------- */

static int vc_verify_compat(const hm_json *vc, const hm_verify_opts *o, hm_verify_result *res, long idx) {
  /* 1. structure (upstream records it and goes on; the first failed check is what the
   *    server reports, so stopping here reports the same) */
  const hm_json *type = get(vc, "type");
  int inc = 0;
  if (type) {
    hm_json *needle = hm_json_new_cstr("VerifiableCredential");
    if (!needle) return fail(res, HM_ERR_NOMEM, "out of memory", idx);
    inc = js_includes(type, needle);
    hm_json_free(needle);
    if (hm_json_kind_of(type) == HM_JSON_NULL) inc = 0; /* type?.includes: null short-circuits */
  }
  const hm_json *cs = get(vc, "credentialSubject");
  if (!is_object(vc) || !js_truthy(get(vc, "@context")) || inc != 1 || !js_truthy(get(vc, "issuer")) ||
      !js_truthy(get(vc, "issuanceDate")) || !(is_object(cs) && js_truthy(get(cs, "id"))))
    return fail(res, HM_ERR_STRUCTURE, "credential structure", idx);
  /* 2. expiration: new Date(x) < new Date(); Invalid Date never compares less */
  const hm_json *exp = get(vc, "expirationDate");
  int64_t t;
  if (js_truthy(exp) && hm_js_date_value(exp, &t) && t < o->now_ms)
    return fail(res, HM_ERR_EXPIRED, "credential expired", idx);
  /* 3. issuer resolution (a non-string issuer makes upstream throw) */
  const char *issuer = cstr(get(vc, "issuer"));
  if (!issuer) return fail(res, HM_ERR_DID, "issuer is not a DID string", idx);
  uint8_t key[64];
  size_t klen;
  const hm_json *proof = get(vc, "proof");
  if (!proof || hm_json_kind_of(proof) == HM_JSON_NULL)
    return fail(res, HM_ERR_STRUCTURE, "credential has no proof", idx); /* upstream throws */
  int r = signer_key(o, issuer, proof, PURPOSE_VC, key, &klen, res, idx);
  if (r != HM_OK) return r;
  if (!is_object(proof)) return fail(res, HM_ERR_BADSIG, "proof is not an object", idx);
  /* 4. signature */
  if ((r = check_signature(o, vc, proof, key, klen, res, idx)) != HM_OK) return r;
  /* 5. revocation by credential id (=== against stored string ids) */
  const char *id = cstr(get(vc, "id"));
  if (o->is_revoked && id && o->is_revoked(o->revoked_ctx, id) != 0)
    return fail(res, HM_ERR_REVOKED, "credential revoked", idx);
  return HM_OK;
}

/* R-CRY-JSON-12: a codec object ({"__type":"Uint8Array",...}) anywhere in signed data makes
 * it invalid in the hardened profile. Upstream's parser would have turned it into bytes,
 * which sign as an index-keyed object, so such data never means what its text says. */
static int has_codec_object(const hm_json *v, int depth) {
  if (depth > 256) return 1; /* the parser's depth limit is far below this */
  switch (hm_json_kind_of(v)) {
    case HM_JSON_OBJECT:
      if (hm_json_string_is(get(v, "__type"), "Uint8Array")) return 1;
      for (size_t i = 0; i < hm_json_object_size(v); i++)
        if (has_codec_object(hm_json_object_value_at(v, i), depth + 1)) return 1;
      return 0;
    case HM_JSON_ARRAY:
      for (size_t i = 0; i < hm_json_array_size(v); i++)
        if (has_codec_object(hm_json_array_get(v, i), depth + 1)) return 1;
      return 0;
    default:
      return 0;
  }
}

static int vc_verify_hardened(const hm_json *vc, const hm_verify_opts *o, hm_verify_result *res, long idx) {
  if (!is_object(vc)) return fail(res, HM_ERR_STRUCTURE, "credential is not an object", idx);
  if (has_codec_object(vc, 0)) return fail(res, HM_ERR_STRUCTURE, "credential contains a Uint8Array codec object", idx);
  const hm_json *ctx = get(vc, "@context"), *type = get(vc, "type"), *cs = get(vc, "credentialSubject");
  if (!is_array(ctx) || !array_has_string(ctx, HM_VC_CONTEXT))
    return fail(res, HM_ERR_STRUCTURE, "@context lacks the credentials context", idx);
  if (!cstr(get(vc, "id"))) return fail(res, HM_ERR_STRUCTURE, "credential id is not a string", idx);
  if (!is_array(type) || !array_has_string(type, "VerifiableCredential"))
    return fail(res, HM_ERR_STRUCTURE, "type lacks VerifiableCredential", idx);
  const char *issuer = cstr(get(vc, "issuer"));
  if (!issuer) return fail(res, HM_ERR_STRUCTURE, "issuer is not a string", idx);
  if (!is_object(cs) || !cstr(get(cs, "id")))
    return fail(res, HM_ERR_STRUCTURE, "credentialSubject.id is not a string", idx);
  size_t n;
  int64_t t;
  const char *s = hm_json_string(get(vc, "issuanceDate"), &n);
  if (!s || hm_iso8601_parse_strict(s, n, &t) != HM_OK)
    return fail(res, HM_ERR_STRUCTURE, "issuanceDate is not an ISO 8601 UTC time", idx);
  if (t > o->now_ms + window_ms(o)) return fail(res, HM_ERR_NOT_YET_VALID, "issuanceDate in the future", idx);
  const hm_json *exp = get(vc, "expirationDate");
  if (exp) {
    s = hm_json_string(exp, &n);
    if (!s || hm_iso8601_parse_strict(s, n, &t) != HM_OK)
      return fail(res, HM_ERR_STRUCTURE, "expirationDate is not an ISO 8601 UTC time", idx);
    if (t < o->now_ms) return fail(res, HM_ERR_EXPIRED, "credential expired", idx);
  }
  const hm_json *proof = get(vc, "proof");
  int r = hardened_proof_fields(proof, PURPOSE_VC, NULL, res, idx);
  if (r != HM_OK) return r;
  uint8_t key[64];
  size_t klen;
  if ((r = signer_key(o, issuer, proof, PURPOSE_VC, key, &klen, res, idx)) != HM_OK) return r;
  if ((r = check_signature(o, vc, proof, key, klen, res, idx)) != HM_OK) return r;
  if (o->is_revoked && o->is_revoked(o->revoked_ctx, cstr(get(vc, "id"))) != 0)
    return fail(res, HM_ERR_REVOKED, "credential revoked", idx);
  return HM_OK;
}

int hm_vc_verify(const hm_json *vc, const hm_verify_opts *opts, hm_verify_result *res) {
  if (!vc || !opts) return fail(res, HM_ERR_INVAL, "invalid argument", -1);
  vctx v = vctx_make(opts);
  int r = opts->profile == HM_PROFILE_HARDENED ? vc_verify_hardened(vc, &v.opts, res, -1)
                                                : vc_verify_compat(vc, &v.opts, res, -1);
  vctx_clear(&v);
  return r == HM_OK ? ok(res) : r;
}

/* ---- VP -------------------------------------------------------------------- */

static int vp_verify_compat(const hm_json *vp, const hm_verify_opts *o, hm_verify_result *res) {
  /* verifyPresentation: resolve holder, key of proof.verificationMethod, one signature */
  const char *holder = cstr(get(vp, "holder"));
  if (!holder) return fail(res, HM_ERR_DID, "holder is not a DID string", -1);
  const hm_json *proof = get(vp, "proof");
  uint8_t key[64];
  size_t klen;
  int r;
  if (!proof || hm_json_kind_of(proof) == HM_JSON_NULL) {
    /* upstream resolves the holder first, then throws on proof.verificationMethod */
    hm_json *doc = NULL;
    r = resolve_did(o, holder, &doc);
    hm_json_free(doc);
    if (r == HM_ERR_NOMEM) return fail(res, r, "out of memory", -1);
    if (r != HM_OK) return fail(res, HM_ERR_DID, "signer DID does not resolve", -1);
    return fail(res, HM_ERR_STRUCTURE, "presentation has no proof", -1);
  }
  if ((r = signer_key(o, holder, proof, PURPOSE_VP, key, &klen, res, -1)) != HM_OK) return r;
  if (!is_object(proof)) return fail(res, HM_ERR_BADSIG, "proof is not an object", -1);
  if ((r = check_signature(o, vp, proof, key, klen, res, -1)) != HM_OK) return r;
  /* for (const vc of vp.verifiableCredential): an array, or a string (iterated by
   * character: "" gives no credential, anything else fails); the rest throws */
  const hm_json *creds = get(vp, "verifiableCredential");
  if (hm_json_kind_of(creds) == HM_JSON_STRING && creds) {
    size_t n;
    hm_json_string(creds, &n);
    if (n == 0) return HM_OK;
    return fail(res, HM_ERR_STRUCTURE, "credential structure", 0);
  }
  if (!is_array(creds)) return fail(res, HM_ERR_STRUCTURE, "verifiableCredential is not a list", -1);
  for (size_t i = 0; i < hm_json_array_size(creds); i++)
    if ((r = vc_verify_compat(hm_json_array_get(creds, i), o, res, (long)i)) != HM_OK) return r;
  return HM_OK;
}

static int trusted(const hm_verify_opts *o, const char *issuer) {
  for (size_t i = 0; i < o->n_trusted_issuers; i++)
    if (o->trusted_issuers[i] && strcmp(o->trusted_issuers[i], issuer) == 0) return 1;
  return 0;
}

static int vp_verify_hardened(const hm_json *vp, const hm_verify_opts *o, hm_verify_result *res) {
  if (!is_object(vp)) return fail(res, HM_ERR_STRUCTURE, "presentation is not an object", -1);
  if (has_codec_object(vp, 0)) return fail(res, HM_ERR_STRUCTURE, "presentation contains a Uint8Array codec object", -1);
  const hm_json *ctx = get(vp, "@context"), *type = get(vp, "type");
  if (!is_array(ctx) || !array_has_string(ctx, HM_VC_CONTEXT))
    return fail(res, HM_ERR_STRUCTURE, "@context lacks the credentials context", -1);
  if (!is_array(type) || !array_has_string(type, "VerifiablePresentation"))
    return fail(res, HM_ERR_STRUCTURE, "type lacks VerifiablePresentation", -1);
  const char *holder = cstr(get(vp, "holder"));
  if (!holder) return fail(res, HM_ERR_STRUCTURE, "holder is not a string", -1);
  const hm_json *proof = get(vp, "proof");
  int64_t created;
  int r = hardened_proof_fields(proof, PURPOSE_VP, &created, res, -1);
  if (r != HM_OK) return r;
  int64_t w = window_ms(o);
  if (created > o->now_ms + w || created < o->now_ms - w)
    return fail(res, HM_ERR_STALE, "proof.created outside the freshness window", -1);
  uint8_t key[64];
  size_t klen;
  if ((r = signer_key(o, holder, proof, PURPOSE_VP, key, &klen, res, -1)) != HM_OK) return r;
  if ((r = check_signature(o, vp, proof, key, klen, res, -1)) != HM_OK) return r;
  const hm_json *creds = get(vp, "verifiableCredential");
  if (!is_array(creds)) return fail(res, HM_ERR_STRUCTURE, "verifiableCredential is not an array", -1);
  if (hm_json_array_size(creds) == 0) return fail(res, HM_ERR_EMPTY, "no credentials", -1);
  for (size_t i = 0; i < hm_json_array_size(creds); i++) {
    const hm_json *vc = hm_json_array_get(creds, i);
    if ((r = vc_verify_hardened(vc, o, res, (long)i)) != HM_OK) return r;
    if (strcmp(cstr(get(get(vc, "credentialSubject"), "id")), holder) != 0)
      return fail(res, HM_ERR_HOLDER, "credential subject is not the holder", (long)i);
    const char *issuer = cstr(get(vc, "issuer"));
    if (strcmp(issuer, holder) != 0 && !trusted(o, issuer))
      return fail(res, HM_ERR_UNTRUSTED, "credential issuer is neither the holder nor trusted", (long)i);
  }
  if (o->replay) {
    r = o->replay(o->replay_ctx, holder, cstr(get(proof, "proofValue")), created + w);
    if (r != HM_OK) return fail(res, HM_ERR_REPLAY, "presentation already used", -1);
  }
  return HM_OK;
}

int hm_vp_verify(const hm_json *vp, const hm_verify_opts *opts, hm_verify_result *res) {
  if (!vp || !opts) return fail(res, HM_ERR_INVAL, "invalid argument", -1);
  vctx v = vctx_make(opts);
  int r = opts->profile == HM_PROFILE_HARDENED ? vp_verify_hardened(vp, &v.opts, res) : vp_verify_compat(vp, &v.opts, res);
  vctx_clear(&v);
  return r == HM_OK ? ok(res) : r;
}

/* ---- ZCAP ------------------------------------------------------------------ */

static const hm_json *chain_find(const hm_json *chain, const hm_json *id, long *idx) {
  for (size_t i = 0; i < hm_json_array_size(chain); i++) {
    const hm_json *c = hm_json_array_get(chain, i);
    if (is_object(c) && js_strict_equal(get(c, "id"), id)) {
      if (idx) *idx = (long)i;
      return c;
    }
  }
  return NULL;
}

static int zcap_verify_compat(const hm_json *inv, const hm_json *chain, const hm_verify_opts *o, hm_verify_result *res) {
  if (!is_object(inv)) return fail(res, HM_ERR_STRUCTURE, "invocation is not an object", -1);
  if (!is_array(chain)) return fail(res, HM_ERR_STRUCTURE, "chain is not an array", -1);
  const hm_json *cap = chain_find(chain, get(inv, "capability"), NULL);
  if (!cap) return fail(res, HM_ERR_CHAIN, "capability not found in chain", -1);
  if (!js_strict_equal(get(inv, "invoker"), get(cap, "invoker")))
    return fail(res, HM_ERR_HOLDER, "invoker does not match capability", -1);
  const char *invoker = cstr(get(inv, "invoker"));
  if (!invoker) return fail(res, HM_ERR_DID, "invoker is not a DID string", -1);
  const hm_json *proof = get(inv, "proof");
  if (!proof || hm_json_kind_of(proof) == HM_JSON_NULL)
    return fail(res, HM_ERR_STRUCTURE, "invocation has no proof", -1);
  uint8_t key[64];
  size_t klen;
  int r = signer_key(o, invoker, proof, PURPOSE_INVOKE, key, &klen, res, -1);
  if (r != HM_OK) return r;
  if (!is_object(proof)) return fail(res, HM_ERR_BADSIG, "proof is not an object", -1);
  if ((r = check_signature(o, inv, proof, key, klen, res, -1)) != HM_OK) return r;
  int inc = js_includes(get(cap, "allowedAction"), get(inv, "action"));
  if (inc != 1) return fail(res, inc < 0 ? HM_ERR_STRUCTURE : HM_ERR_ACTION, "action not in allowedAction", -1);
  for (size_t i = 0; i < hm_json_array_size(chain); i++) {
    const hm_json *c = hm_json_array_get(chain, i);
    if (!is_object(c)) return fail(res, HM_ERR_STRUCTURE, "chain entry is not an object", (long)i);
    const char *id = cstr(get(c, "id"));
    if (o->is_revoked && id && o->is_revoked(o->revoked_ctx, id) != 0)
      return fail(res, HM_ERR_REVOKED, "capability revoked", (long)i);
    const hm_json *cav = get(c, "caveats");
    if (js_truthy(cav)) {
      if (!is_array(cav) && hm_json_kind_of(cav) != HM_JSON_STRING)
        return fail(res, HM_ERR_STRUCTURE, "caveats not iterable", (long)i); /* upstream throws */
      for (size_t k = 0; k < hm_json_array_size(cav); k++) {
        const hm_json *cv = hm_json_array_get(cav, k);
        int64_t t;
        if (hm_json_string_is(get(cv, "type"), "harmony:Expiry") && hm_js_date_value(get(cv, "value"), &t) &&
            t < o->now_ms)
          return fail(res, HM_ERR_EXPIRED, "capability expired", (long)i);
      }
    }
    const char *delegator = cstr(get(c, "delegator"));
    if (!delegator) return fail(res, HM_ERR_DID, "delegator is not a DID string", (long)i);
    const hm_json *cp = get(c, "proof");
    if (!cp || hm_json_kind_of(cp) == HM_JSON_NULL)
      return fail(res, HM_ERR_STRUCTURE, "capability has no proof", (long)i);
    if ((r = signer_key(o, delegator, cp, PURPOSE_DELEGATE, key, &klen, res, (long)i)) != HM_OK) return r;
    if (!is_object(cp)) return fail(res, HM_ERR_BADSIG, "proof is not an object", (long)i);
    if ((r = check_signature(o, c, cp, key, klen, res, (long)i)) != HM_OK) return r;
  }
  for (size_t i = 0; i < hm_json_array_size(chain); i++) {
    const hm_json *pc = get(hm_json_array_get(chain, i), "parentCapability");
    if (js_truthy(pc) && !chain_find(chain, pc, NULL))
      return fail(res, HM_ERR_CHAIN, "parent capability missing from chain", (long)i);
  }
  return HM_OK;
}

/* every element of child (array of strings) is in parent */
static int actions_subset(const hm_json *child, const hm_json *parent) {
  if (!is_array(child) || !is_array(parent)) return 0;
  for (size_t i = 0; i < hm_json_array_size(child); i++) {
    const char *a = cstr(hm_json_array_get(child, i));
    if (!a || !array_has_string(parent, a)) return 0;
  }
  return 1;
}

/* every key of child is in parent with an equal value */
static int scope_narrower(const hm_json *child, const hm_json *parent) {
  if (!is_object(child) || !is_object(parent)) return 0;
  for (size_t i = 0; i < hm_json_object_size(child); i++) {
    size_t kl;
    const char *k = hm_json_object_key_at(child, i, &kl);
    const hm_json *pv = hm_json_object_get(parent, k, kl);
    if (!pv || !hm_json_equal(pv, hm_json_object_value_at(child, i))) return 0;
  }
  return 1;
}

static int hardened_cap(const hm_json *c, const hm_verify_opts *o, const hm_zcap_expect *e, hm_verify_result *res,
                        long idx) {
  const hm_json *ctx = get(c, "@context");
  if (!is_array(ctx) || !array_has_string(ctx, HM_ZCAP_CONTEXT))
    return fail(res, HM_ERR_STRUCTURE, "capability @context lacks the zcap context", idx);
  if (!cstr(get(c, "id")) || !cstr(get(c, "invoker")) || !cstr(get(c, "delegator")) ||
      !is_array(get(c, "allowedAction")) || !is_object(get(c, "scope")))
    return fail(res, HM_ERR_STRUCTURE, "capability fields missing or mistyped", idx);
  const hm_json *cav = get(c, "caveats");
  if (cav && !is_array(cav)) return fail(res, HM_ERR_STRUCTURE, "caveats is not an array", idx);
  for (size_t k = 0; k < hm_json_array_size(cav); k++) {
    const hm_json *cv = hm_json_array_get(cav, k);
    if (!hm_json_string_is(get(cv, "type"), "harmony:Expiry"))
      return fail(res, HM_ERR_UNSUPPORTED, "unknown caveat type", idx);
    size_t n;
    int64_t t;
    const char *s = hm_json_string(get(cv, "value"), &n);
    if (!s || hm_iso8601_parse_strict(s, n, &t) != HM_OK)
      return fail(res, HM_ERR_STRUCTURE, "expiry caveat is not an ISO 8601 UTC time", idx);
    if (t < o->now_ms) return fail(res, HM_ERR_EXPIRED, "capability expired", idx);
  }
  if (o->is_revoked && o->is_revoked(o->revoked_ctx, cstr(get(c, "id"))) != 0)
    return fail(res, HM_ERR_REVOKED, "capability revoked", idx);
  if (e->scope) {
    const hm_json *sc = get(c, "scope");
    int root = get(c, "parentCapability") == NULL;
    for (size_t i = 0; i < hm_json_object_size(e->scope); i++) {
      size_t kl;
      const char *k = hm_json_object_key_at(e->scope, i, &kl);
      const hm_json *v = hm_json_object_get(sc, k, kl);
      if ((root && !v) || (v && !hm_json_equal(v, hm_json_object_value_at(e->scope, i))))
        return fail(res, HM_ERR_SCOPE, "capability scope does not cover the expected scope", idx);
    }
  }
  const hm_json *proof = get(c, "proof");
  int r = hardened_proof_fields(proof, PURPOSE_DELEGATE, NULL, res, idx);
  if (r != HM_OK) return r;
  uint8_t key[64];
  size_t klen;
  if ((r = signer_key(o, cstr(get(c, "delegator")), proof, PURPOSE_DELEGATE, key, &klen, res, idx)) != HM_OK) return r;
  return check_signature(o, c, proof, key, klen, res, idx);
}

static int zcap_verify_hardened(const hm_json *inv, const hm_json *chain, const hm_verify_opts *o,
                                const hm_zcap_expect *e, hm_verify_result *res) {
  if (!e || !e->invoker) return fail(res, HM_ERR_INVAL, "hardened ZCAP verification needs an expected invoker", -1);
  if (!is_object(inv)) return fail(res, HM_ERR_STRUCTURE, "invocation is not an object", -1);
  if (has_codec_object(inv, 0) || has_codec_object(chain, 0))
    return fail(res, HM_ERR_STRUCTURE, "capability data contains a Uint8Array codec object", -1);
  const char *capid = cstr(get(inv, "capability")), *invoker = cstr(get(inv, "invoker"));
  const char *action = cstr(get(inv, "action")), *target = cstr(get(inv, "target"));
  if (!capid || !invoker || !action || !target)
    return fail(res, HM_ERR_STRUCTURE, "invocation fields missing or mistyped", -1);
  if (!is_array(chain) || hm_json_array_size(chain) == 0) return fail(res, HM_ERR_CHAIN, "empty chain", -1);
  size_t n = hm_json_array_size(chain);
  for (size_t i = 0; i < n; i++) {
    const hm_json *c = hm_json_array_get(chain, i);
    if (!is_object(c) || !cstr(get(c, "id"))) return fail(res, HM_ERR_STRUCTURE, "chain entry without id", (long)i);
    for (size_t j = 0; j < i; j++)
      if (hm_json_equal(get(c, "id"), get(hm_json_array_get(chain, j), "id")))
        return fail(res, HM_ERR_CHAIN, "duplicate capability id in chain", (long)i);
  }
  if (strcmp(invoker, e->invoker) != 0) return fail(res, HM_ERR_HOLDER, "invoker is not the expected DID", -1);
  if (e->action && strcmp(action, e->action) != 0)
    return fail(res, HM_ERR_ACTION, "invoked action is not the expected one", -1);
  if (e->target && strcmp(target, e->target) != 0)
    return fail(res, HM_ERR_SCOPE, "invocation target is not the expected one", -1);
  long ci = -1;
  const hm_json *cap = chain_find(chain, get(inv, "capability"), &ci);
  if (!cap) return fail(res, HM_ERR_CHAIN, "capability not found in chain", -1);
  if (!hm_json_string_is(get(cap, "invoker"), invoker))
    return fail(res, HM_ERR_HOLDER, "invoker does not match capability", -1);
  if (!array_has_string(get(cap, "allowedAction"), action))
    return fail(res, HM_ERR_ACTION, "action not in allowedAction", -1);
  const hm_json *proof = get(inv, "proof");
  int r = hardened_proof_fields(proof, PURPOSE_INVOKE, NULL, res, -1);
  if (r != HM_OK) return r;
  uint8_t key[64];
  size_t klen;
  if ((r = signer_key(o, invoker, proof, PURPOSE_INVOKE, key, &klen, res, -1)) != HM_OK) return r;
  if ((r = check_signature(o, inv, proof, key, klen, res, -1)) != HM_OK) return r;
  /* walk from the invoked capability to its root; every chain entry must be on the path */
  size_t on_path = 0;
  const hm_json *c = cap;
  long idx = ci;
  for (;;) {
    if (++on_path > n) return fail(res, HM_ERR_CHAIN, "capability chain has a cycle", idx);
    if ((r = hardened_cap(c, o, e, res, idx)) != HM_OK) return r;
    const hm_json *pid = get(c, "parentCapability");
    if (!pid) { /* root: its delegator's signature was checked above; it is a trust anchor
                 * when it was delegated by the expected owner (R-CRY-ZCAP-10). Our server's
                 * roots are delegated by the server to the creator (R-CRY-ZCAP-15), so a root
                 * need not be self-delegated. */
      const char *owner = cstr(get(c, "delegator"));
      if (e->root_owner && strcmp(owner, e->root_owner) != 0)
        return fail(res, HM_ERR_UNTRUSTED, "root capability owner is not the expected one", idx);
      break;
    }
    long pi = -1;
    const hm_json *parent = chain_find(chain, pid, &pi);
    if (!parent) return fail(res, HM_ERR_CHAIN, "parent capability missing from chain", idx);
    if (!hm_json_equal(get(c, "delegator"), get(parent, "invoker")))
      return fail(res, HM_ERR_CHAIN, "delegator is not the parent's invoker", idx);
    if (!actions_subset(get(c, "allowedAction"), get(parent, "allowedAction")))
      return fail(res, HM_ERR_ATTENUATION, "allowedAction wider than the parent's", idx);
    if (!scope_narrower(get(c, "scope"), get(parent, "scope")))
      return fail(res, HM_ERR_ATTENUATION, "scope wider than the parent's", idx);
    /* no caveat rule here: hardened_cap() enforces the caveats of every capability on
     * the path (R-CRY-ZCAP-12), so a child that omits its parent's caveats gains nothing */
    c = parent;
    idx = pi;
  }
  if (on_path != n) return fail(res, HM_ERR_CHAIN, "chain holds capabilities off the path", -1);
  return HM_OK;
}

int hm_zcap_verify_invocation(const hm_json *invocation, const hm_json *chain, const hm_verify_opts *opts,
                              const hm_zcap_expect *expect, hm_verify_result *res) {
  if (!invocation || !chain || !opts) return fail(res, HM_ERR_INVAL, "invalid argument", -1);
  vctx v = vctx_make(opts);
  int r = opts->profile == HM_PROFILE_HARDENED ? zcap_verify_hardened(invocation, chain, &v.opts, expect, res)
                                                : zcap_verify_compat(invocation, chain, &v.opts, res);
  vctx_clear(&v);
  return r == HM_OK ? ok(res) : r;
}

/* ---- issuing --------------------------------------------------------------- */

static int random_urn(char out[48]) {
  uint8_t b[16];
  hm_random_bytes(b, sizeof b);
  memcpy(out, "urn:uuid:", 9);
  return hm_hex_encode(out + 9, 48 - 9, b, sizeof b);
}

/* Appends a string member (ownership rules of hm_json_object_setc). */
static int set_str(hm_json *o, const char *k, const char *v) { return hm_json_object_setc(o, k, hm_json_new_cstr(v)); }

static int str_array(hm_json **out, const char *a, const char *b) {
  hm_json *arr = hm_json_new_array();
  if (!arr) return HM_ERR_NOMEM;
  int r = hm_json_array_append(arr, hm_json_new_cstr(a));
  if (r == HM_OK && b) r = hm_json_array_append(arr, hm_json_new_cstr(b));
  if (r != HM_OK) {
    hm_json_free(arr);
    return r;
  }
  *out = arr;
  return HM_OK;
}

static int sign_with_default_vm(hm_json *doc, const uint8_t seed[32], const char *did, const char *purpose,
                                const char *created) {
  char vm[512];
  int r = hm_vc_default_vm(vm, sizeof vm, did);
  if (r != HM_OK) return r == HM_ERR_BUFSZ ? HM_ERR_INVAL : r;
  return hm_proof_attach(doc, seed, vm, purpose, created);
}

int hm_vc_issue(hm_json **out, const hm_vc_issue_params *p) {
  if (!out || !p || !p->issuer_did || !p->issuer_seed || !p->subject_did || !p->type) return HM_ERR_INVAL;
  if (p->claims && !is_object(p->claims)) return HM_ERR_INVAL;
  *out = NULL;
  char idbuf[48], datebuf[32];
  const char *id = p->id, *issued = p->issuance_date;
  int r;
  if (!id) {
    if ((r = random_urn(idbuf)) != HM_OK) return r;
    id = idbuf;
  }
  if (!issued) {
    if ((r = hm_iso8601_format(datebuf, p->now_ms)) != HM_OK) return r;
    issued = datebuf;
  }
  hm_json *vc = hm_json_new_object(), *arr = NULL, *cs = NULL;
  if (!vc) return HM_ERR_NOMEM;
  if ((r = str_array(&arr, HM_VC_CONTEXT, NULL)) != HM_OK || (r = hm_json_object_setc(vc, "@context", arr)) != HM_OK ||
      (r = set_str(vc, "id", id)) != HM_OK || (r = str_array(&arr, "VerifiableCredential", p->type)) != HM_OK ||
      (r = hm_json_object_setc(vc, "type", arr)) != HM_OK || (r = set_str(vc, "issuer", p->issuer_did)) != HM_OK ||
      (r = set_str(vc, "issuanceDate", issued)) != HM_OK)
    goto fail;
  if (!(cs = hm_json_new_object())) {
    r = HM_ERR_NOMEM;
    goto fail;
  }
  if ((r = set_str(cs, "id", p->subject_did)) != HM_OK) {
    hm_json_free(cs);
    goto fail;
  }
  for (size_t i = 0; i < hm_json_object_size(p->claims); i++) { /* {id, ...claims} */
    size_t kl;
    const char *k = hm_json_object_key_at(p->claims, i, &kl);
    if ((r = hm_json_object_set(cs, k, kl, hm_json_clone(hm_json_object_value_at(p->claims, i)))) != HM_OK) {
      hm_json_free(cs);
      goto fail;
    }
  }
  if ((r = hm_json_object_setc(vc, "credentialSubject", cs)) != HM_OK) goto fail;
  if (p->expiration_date && p->expiration_date[0] && (r = set_str(vc, "expirationDate", p->expiration_date)) != HM_OK)
    goto fail;
  if ((r = sign_with_default_vm(vc, p->issuer_seed, p->issuer_did, PURPOSE_VC, p->created ? p->created : issued)) != HM_OK)
    goto fail;
  *out = vc;
  return HM_OK;
fail:
  hm_json_free(vc);
  return r;
}

int hm_vp_create(hm_json **out, const char *holder, const uint8_t seed[32], const hm_json *credentials,
                 const char *created, int64_t now_ms) {
  if (!out || !holder || !seed || (credentials && !is_array(credentials))) return HM_ERR_INVAL;
  *out = NULL;
  char datebuf[32];
  int r;
  if (!created) {
    if ((r = hm_iso8601_format(datebuf, now_ms)) != HM_OK) return r;
    created = datebuf;
  }
  hm_json *vp = hm_json_new_object(), *arr = NULL;
  if (!vp) return HM_ERR_NOMEM;
  if ((r = str_array(&arr, HM_VC_CONTEXT, NULL)) != HM_OK || (r = hm_json_object_setc(vp, "@context", arr)) != HM_OK ||
      (r = str_array(&arr, "VerifiablePresentation", NULL)) != HM_OK ||
      (r = hm_json_object_setc(vp, "type", arr)) != HM_OK || (r = set_str(vp, "holder", holder)) != HM_OK ||
      (r = hm_json_object_setc(vp, "verifiableCredential",
                               credentials ? hm_json_clone(credentials) : hm_json_new_array())) != HM_OK ||
      (r = sign_with_default_vm(vp, seed, holder, PURPOSE_VP, created)) != HM_OK) {
    hm_json_free(vp);
    return r;
  }
  *out = vp;
  return HM_OK;
}

int hm_zcap_create(hm_json **out, const hm_json *parent, const char *signer_did, const uint8_t signer_seed[32],
                   const char *invoker_did, const hm_json *allowed_action, const hm_json *scope,
                   const hm_json *caveats, const char *id, const char *created) {
  if (!out || !signer_did || !signer_seed || !is_array(allowed_action) || !is_object(scope) || !created ||
      (caveats && !is_array(caveats)) || (parent && !is_object(parent)))
    return HM_ERR_INVAL;
  *out = NULL;
  const char *delegator = signer_did, *invoker = invoker_did ? invoker_did : signer_did;
  if (parent) {
    delegator = cstr(get(parent, "invoker"));
    if (!delegator || !cstr(get(parent, "id")) || !invoker_did) return HM_ERR_INVAL;
    if (!actions_subset(allowed_action, get(parent, "allowedAction")) || !scope_narrower(scope, get(parent, "scope")))
      return HM_ERR_ATTENUATION;
  }
  char idbuf[48];
  int r;
  if (!id) {
    if ((r = random_urn(idbuf)) != HM_OK) return r;
    id = idbuf;
  }
  hm_json *cap = hm_json_new_object(), *arr = NULL;
  if (!cap) return HM_ERR_NOMEM;
  if ((r = str_array(&arr, HM_ZCAP_CONTEXT, NULL)) != HM_OK || (r = hm_json_object_setc(cap, "@context", arr)) != HM_OK ||
      (r = set_str(cap, "id", id)) != HM_OK ||
      (parent && (r = set_str(cap, "parentCapability", cstr(get(parent, "id")))) != HM_OK) ||
      (r = set_str(cap, "invoker", invoker)) != HM_OK || (r = set_str(cap, "delegator", delegator)) != HM_OK ||
      (r = hm_json_object_setc(cap, "allowedAction", hm_json_clone(allowed_action))) != HM_OK ||
      (r = hm_json_object_setc(cap, "scope", hm_json_clone(scope))) != HM_OK ||
      (parent && caveats && (r = hm_json_object_setc(cap, "caveats", hm_json_clone(caveats))) != HM_OK) ||
      (r = sign_with_default_vm(cap, signer_seed, delegator, PURPOSE_DELEGATE, created)) != HM_OK) {
    hm_json_free(cap);
    return r;
  }
  *out = cap;
  return HM_OK;
}

int hm_zcap_invoke(hm_json **out, const hm_json *cap, const uint8_t seed[32], const char *action, const char *target,
                   const char *created) {
  if (!out || !is_object(cap) || !seed || !action || !target || !created) return HM_ERR_INVAL;
  *out = NULL;
  const char *capid = cstr(get(cap, "id")), *invoker = cstr(get(cap, "invoker"));
  if (!capid || !invoker) return HM_ERR_INVAL;
  hm_json *inv = hm_json_new_object();
  if (!inv) return HM_ERR_NOMEM;
  int r;
  if ((r = set_str(inv, "capability", capid)) != HM_OK || (r = set_str(inv, "invoker", invoker)) != HM_OK ||
      (r = set_str(inv, "action", action)) != HM_OK || (r = set_str(inv, "target", target)) != HM_OK ||
      (r = sign_with_default_vm(inv, seed, invoker, PURPOSE_INVOKE, created)) != HM_OK) {
    hm_json_free(inv);
    return r;
  }
  *out = inv;
  return HM_OK;
}
