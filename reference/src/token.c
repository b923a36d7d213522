/* token.c - session tokens (see harmony/token.h). */
#include "harmony/token.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/did.h"
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
  uint8_t pk[32], sk[64];
  int rc = hm_ed25519_seed_keypair(pk, sk, server_seed);
  if (rc == HM_OK) rc = hm_token_issue_sk(token, len, did, iat_ms, ttl_ms, sk);
  else *token = NULL;
  sodium_memzero(sk, sizeof sk);
  return rc;
}

int hm_token_issue_sk(char **token, size_t *len, const char *did, int64_t iat_ms, int64_t ttl_ms,
                      const uint8_t server_sk64[64]) {
  if (!token || !did || !server_sk64) return HM_ERR_INVAL;
  *token = NULL;
  if (ttl_ms <= 0) ttl_ms = HM_TOKEN_DEFAULT_TTL_MS;
  if (iat_ms < 0 || iat_ms > JS_SAFE_MAX - ttl_ms) return HM_ERR_RANGE;
  char *payload = NULL;
  size_t plen = 0;
  int rc = hm_token_payload(&payload, &plen, did, iat_ms, iat_ms + ttl_ms);
  if (rc != HM_OK) return rc;
  uint8_t sig[64];
  rc = hm_ed25519_sign_sk(sig, (const uint8_t *)payload, plen, server_sk64);
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

/* WHATWG forgiving-base64 decode (what atob does): ASCII whitespace removed, one or two
 * final '=' allowed when the length is a multiple of 4, length 1 mod 4 or any other
 * character fails, leftover bits dropped. out needs 3*len/4 + 3 bytes. */
static int atob_decode(uint8_t *out, size_t *outlen, const char *in, size_t len) {
  static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = 0, pad = 0, o = 0;
  uint32_t acc = 0;
  int bits = 0;
  /* count significant characters and trailing '=' first */
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r') continue;
    if (c == '=') {
      pad++;
      continue;
    }
    if (pad) return -1; /* '=' only at the end */
    n++;
  }
  if (pad > 2 || (pad && (n + pad) % 4 != 0)) return -1;
  if (n % 4 == 1) return -1;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '=') continue;
    const char *p = c ? strchr(A, c) : NULL;
    if (!p) return -1;
    acc = (acc << 6) | (uint32_t)(p - A);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  *outlen = o;
  return 0;
}

/* atob() yields one JS char per byte; TextEncoder and JSON.parse then see that
 * Latin-1 string, i.e. the UTF-8 encoding of each byte as U+00xx. out needs 2*len. */
static size_t latin1_to_utf8(uint8_t *out, const uint8_t *in, size_t len) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (in[i] < 0x80) {
      out[o++] = in[i];
    } else {
      out[o++] = (uint8_t)(0xc0 | (in[i] >> 6));
      out[o++] = (uint8_t)(0x80 | (in[i] & 0x3f));
    }
  }
  return o;
}

/* JS `exp < now` with exp taken from the parsed payload (ToNumber for the common kinds). */
static int js_expired(const hm_json *o, int64_t now_ms) {
  const hm_json *v = hm_json_object_getc(o, "exp");
  if (!v) return 0; /* undefined < now is false: never expires */
  double d;
  switch (hm_json_kind_of(v)) {
    case HM_JSON_NUMBER: d = hm_json_number(v); break;
    case HM_JSON_NULL:
    case HM_JSON_FALSE: d = 0; break;
    case HM_JSON_TRUE: d = 1; break;
    case HM_JSON_STRING: {
      size_t sl = 0;
      const char *str = hm_json_string(v, &sl);
      char buf[64];
      /* JS trims whitespace, "" is 0, otherwise the whole text must be a number */
      while (sl && (*str == ' ' || *str == '\t' || *str == '\n' || *str == '\r')) str++, sl--;
      while (sl && (str[sl - 1] == ' ' || str[sl - 1] == '\t' || str[sl - 1] == '\n' ||
                    str[sl - 1] == '\r'))
        sl--;
      if (sl == 0) {
        d = 0;
        break;
      }
      if (sl >= sizeof buf) return 0;
      memcpy(buf, str, sl);
      buf[sl] = 0;
      char *end = NULL;
      d = strtod(buf, &end);
      if (*end || isnan(d) || (buf[0] != '-' && buf[0] != '+' && buf[0] != '.' &&
                               (buf[0] < '0' || buf[0] > '9')))
        return 0; /* NaN: never expires */
      break;
    }
    default: return 0; /* arrays/objects: NaN in every case Harmony could meet */
  }
  return d < (double)now_ms;
}

static int verify_compat(hm_token_claims *claims, const char *token, size_t len,
                         const uint8_t server_pk[32], int64_t now_ms) {
  /* token.split('.'): the first two parts, the rest ignored */
  const char *dot = memchr(token, '.', len);
  if (!dot) return HM_ERR_TOKEN;
  size_t l1 = (size_t)(dot - token);
  const char *p2 = dot + 1;
  const char *dot2 = memchr(p2, '.', len - l1 - 1);
  size_t l2 = dot2 ? (size_t)(dot2 - p2) : len - l1 - 1;

  uint8_t sig[128];
  size_t siglen = 0;
  if (l2 > 160 || atob_decode(sig, &siglen, p2, l2) != 0) return HM_ERR_TOKEN;
  uint8_t *raw = hm_malloc(l1 / 4 * 3 + 4);
  if (!raw) return HM_ERR_NOMEM;
  size_t rawlen = 0;
  if (atob_decode(raw, &rawlen, token, l1) != 0) {
    hm_free(raw);
    return HM_ERR_TOKEN;
  }
  uint8_t *text = hm_malloc(2 * rawlen + 1);
  if (!text) {
    hm_free(raw);
    return HM_ERR_NOMEM;
  }
  size_t tlen = latin1_to_utf8(text, raw, rawlen);
  hm_free(raw);
  hm_json *o = NULL;
  int rc = hm_json_parse(&o, (const char *)text, tlen, 0, NULL);
  if (rc != HM_OK) {
    hm_free(text);
    return rc == HM_ERR_NOMEM ? rc : HM_ERR_TOKEN;
  }
  if (hm_json_kind_of(o) == HM_JSON_OBJECT && js_expired(o, now_ms)) {
    rc = HM_ERR_EXPIRED;
  } else if (siglen != 64) {
    rc = HM_ERR_BADSIG; /* noble throws on a wrong length; upstream catches it as false */
  } else {
    rc = hm_ed25519_verify(sig, text, tlen, server_pk, HM_ED25519_ZIP215);
  }
  if (rc == HM_OK && claims) {
    size_t dlen = 0;
    const hm_json *dv = hm_json_object_getc(o, "did");
    const char *did = dv ? hm_json_string(dv, &dlen) : NULL;
    if (did) {
      claims->did = hm_strndup(did, dlen);
      if (!claims->did) rc = HM_ERR_NOMEM;
    }
    (void)get_int(o, "iat", &claims->iat_ms);
    (void)get_int(o, "exp", &claims->exp_ms);
  }
  hm_json_free(o);
  hm_free(text);
  return rc;
}

static int verify_hardened(hm_token_claims *claims, const char *token, size_t len,
                           const uint8_t server_pk[32], int64_t now_ms, int64_t max_lifetime_ms) {
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
  /* Signature first: nothing from an unauthenticated payload is parsed unless it verifies. */
  rc = hm_ed25519_verify(sig, payload, plen, server_pk, HM_ED25519_STRICT);
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
  uint8_t dpk[32];
  if (hm_json_kind_of(o) != HM_JSON_OBJECT || hm_json_object_size(o) != 3 || !did ||
      dlen == 0 || dlen >= HM_DIDKEY_MAX || memchr(did, 0, dlen) || !get_int(o, "iat", &iat) ||
      !get_int(o, "exp", &exp)) {
    rc = HM_ERR_TOKEN;
  } else if (hm_didkey_decode(dpk, NULL, did, HM_DID_HARDENED) != HM_OK) {
    rc = HM_ERR_TOKEN;
  } else if (exp < now_ms) {
    rc = HM_ERR_EXPIRED;
  } else if (iat > now_ms + HM_TOKEN_MAX_FUTURE_MS) {
    rc = HM_ERR_NOT_YET_VALID;
  } else if (exp - iat > max_lifetime_ms || exp < iat) {
    rc = HM_ERR_TOKEN;
  } else if (claims) {
    claims->did = hm_strndup(did, dlen);
    if (!claims->did) rc = HM_ERR_NOMEM;
    claims->iat_ms = iat;
    claims->exp_ms = exp;
  }
  hm_json_free(o);
  return rc;
}

int hm_token_verify_ex(hm_token_claims *claims, const char *token, size_t len,
                       const uint8_t server_pk[32], int64_t now_ms, int64_t max_lifetime_ms,
                       hm_token_profile profile) {
  if (claims) memset(claims, 0, sizeof *claims);
  if (!token || !server_pk) return HM_ERR_INVAL;
  if (max_lifetime_ms <= 0) max_lifetime_ms = HM_TOKEN_DEFAULT_TTL_MS;
  int rc;
  if (profile == HM_TOKEN_COMPAT)
    rc = verify_compat(claims, token, len, server_pk, now_ms);
  else if (profile == HM_TOKEN_HARDENED)
    rc = verify_hardened(claims, token, len, server_pk, now_ms, max_lifetime_ms);
  else
    rc = HM_ERR_INVAL;
  if (rc != HM_OK && claims) hm_token_claims_clear(claims);
  return rc;
}

int hm_token_verify(hm_token_claims *claims, const char *token, size_t len,
                    const uint8_t server_pk[32], int64_t now_ms, hm_ed25519_mode mode) {
  if (mode == HM_ED25519_ZIP215)
    return hm_token_verify_ex(claims, token, len, server_pk, now_ms, 0, HM_TOKEN_COMPAT);
  if (mode == HM_ED25519_STRICT)
    return hm_token_verify_ex(claims, token, len, server_pk, now_ms, 0, HM_TOKEN_HARDENED);
  if (claims) memset(claims, 0, sizeof *claims);
  return HM_ERR_INVAL;
}

void hm_token_claims_clear(hm_token_claims *claims) {
  if (!claims) return;
  hm_free(claims->did);
  memset(claims, 0, sizeof *claims);
}
