/* token.c - session tokens (see harmony/token.h). */
#include "harmony/token.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/json.h"

#define JS_SAFE_MAX 9007199254740991LL /* 2^53 - 1 */

int hm_token_payload(char **json, size_t *len, const char *did, int64_t iat_ms, int64_t exp_ms) {
  if (!json || !did || !*did) return HM_ERR_INVAL;
  *json = NULL;
  if (iat_ms < 0 || exp_ms < 0 || iat_ms > JS_SAFE_MAX || exp_ms > JS_SAFE_MAX) return HM_ERR_RANGE;
  /* DIDs are printable ASCII (DID syntax; upstream's btoa() would throw on more). */
  for (const char *p = did; *p; p++)
    if (*p <= 0x20 || *p >= 0x7f) return HM_ERR_INVAL;
  hm_json *o = hm_json_new_object();
  if (!o) return HM_ERR_NOMEM;
  int rc = hm_json_object_setc(o, "did", hm_json_new_cstr(did));
  if (rc == HM_OK) rc = hm_json_object_setc(o, "iat", hm_json_new_number((double)iat_ms));
  if (rc == HM_OK) rc = hm_json_object_setc(o, "exp", hm_json_new_number((double)exp_ms));
  if (rc == HM_OK) rc = hm_json_stringify(json, len, o);
  hm_json_free(o);
  return rc;
}

int hm_token_issue(char **token, size_t *len, const char *did, int64_t iat_ms, int64_t ttl_ms,
                   const uint8_t server_seed[32]) {
  if (!token || !did || !server_seed) return HM_ERR_INVAL;
  *token = NULL;
  if (ttl_ms <= 0) ttl_ms = HM_TOKEN_DEFAULT_TTL_MS;
  if (iat_ms < 0 || iat_ms > JS_SAFE_MAX - ttl_ms) return HM_ERR_RANGE;
  char *payload = NULL;
  size_t plen = 0;
  int rc = hm_token_payload(&payload, &plen, did, iat_ms, iat_ms + ttl_ms);
  if (rc != HM_OK) return rc;
  uint8_t sig[64];
  rc = hm_ed25519_sign(sig, (const uint8_t *)payload, plen, server_seed);
  if (rc == HM_OK) {
    size_t l1 = hm_base64_encoded_len(plen, 0), l2 = hm_base64_encoded_len(64, 0);
    char *out = l1 && l2 ? hm_malloc(l1 + l2) : NULL; /* (l1-1) + '.' + (l2-1) + NUL */
    if (!out) {
      rc = HM_ERR_NOMEM;
    } else if ((rc = hm_base64_encode(out, l1, (const uint8_t *)payload, plen, 0)) == HM_OK) {
      out[l1 - 1] = '.';
      rc = hm_base64_encode(out + l1, l2, sig, 64, 0);
    }
    if (rc == HM_OK) {
      *token = out;
      if (len) *len = l1 + l2 - 1;
    } else {
      hm_free(out);
    }
  }
  hm_free(payload);
  return rc;
}

/* A claim number must be an integer that JS would print as such. */
static int get_int(const hm_json *o, const char *key, int64_t *out) {
  const hm_json *v = hm_json_object_getc(o, key);
  if (!v || hm_json_kind_of(v) != HM_JSON_NUMBER) return 0;
  double d = hm_json_number(v);
  if (!isfinite(d) || d != floor(d) || fabs(d) > (double)JS_SAFE_MAX) return 0;
  *out = (int64_t)d;
  return 1;
}

int hm_token_verify(hm_token_claims *claims, const char *token, size_t len,
                    const uint8_t server_pk[32], int64_t now_ms, hm_ed25519_mode mode) {
  if (claims) memset(claims, 0, sizeof *claims);
  if (!token || !server_pk) return HM_ERR_INVAL;
  const char *dot = memchr(token, '.', len);
  if (!dot || memchr(dot + 1, '.', len - (size_t)(dot - token) - 1)) return HM_ERR_TOKEN;
  size_t l1 = (size_t)(dot - token), l2 = len - l1 - 1;
  if (l1 == 0 || l2 == 0) return HM_ERR_TOKEN;

  uint8_t sig[66];
  size_t siglen = 0;
  if (hm_base64_decode(sig, sizeof sig, &siglen, dot + 1, l2, 0) != HM_OK || siglen != 64)
    return HM_ERR_TOKEN;
  size_t cap = hm_base64_decoded_maxlen(l1);
  uint8_t *payload = hm_malloc(cap ? cap : 1);
  if (!payload) return HM_ERR_NOMEM;
  size_t plen = 0;
  int rc = hm_base64_decode(payload, cap, &plen, token, l1, 0);
  if (rc != HM_OK) {
    hm_free(payload);
    return HM_ERR_TOKEN;
  }
  /* Signature first: nothing from an unauthenticated payload is trusted or parsed
   * beyond this point unless it verifies. */
  rc = hm_ed25519_verify(sig, payload, plen, server_pk, mode);
  if (rc != HM_OK) {
    hm_free(payload);
    return rc;
  }
  hm_json *o = NULL;
  rc = hm_json_parse(&o, (const char *)payload, plen, HM_JSON_REJECT_DUPKEYS, NULL);
  hm_free(payload);
  if (rc == HM_ERR_NOMEM) return rc;
  if (rc != HM_OK) return HM_ERR_TOKEN;
  int64_t iat = 0, exp = 0;
  size_t dlen = 0;
  const hm_json *dv = hm_json_object_getc(o, "did");
  const char *did = dv ? hm_json_string(dv, &dlen) : NULL;
  if (hm_json_kind_of(o) != HM_JSON_OBJECT || !did || dlen == 0 || memchr(did, 0, dlen) ||
      !get_int(o, "iat", &iat) || !get_int(o, "exp", &exp)) {
    rc = HM_ERR_TOKEN;
  } else if (exp < now_ms) {
    rc = HM_ERR_EXPIRED;
  } else if (iat > now_ms + HM_TOKEN_MAX_FUTURE_MS) {
    rc = HM_ERR_NOT_YET_VALID;
  } else if (claims) {
    claims->did = hm_strndup(did, dlen);
    if (!claims->did) rc = HM_ERR_NOMEM;
    claims->iat_ms = iat;
    claims->exp_ms = exp;
  }
  hm_json_free(o);
  if (rc != HM_OK && claims) hm_token_claims_clear(claims);
  return rc;
}

void hm_token_claims_clear(hm_token_claims *claims) {
  if (!claims) return;
  hm_free(claims->did);
  memset(claims, 0, sizeof *claims);
}
