/* httpsig.c - Harmony-Ed25519 HTTP request signatures (see harmony/httpsig.h). */
#include "harmony/httpsig.h"

#include <stdio.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"

static const char SCHEME[] = "Harmony-Ed25519 ";

int hm_httpsig_signing_input(char **out, size_t *len, const char *ts_text, const char *method,
                             const char *target) {
  if (!out || !ts_text || !method || !target) return HM_ERR_INVAL;
  *out = NULL;
  size_t a = strlen(ts_text), b = strlen(method), c = strlen(target);
  char *s = hm_malloc(a + b + c + 3);
  if (!s) return HM_ERR_NOMEM;
  memcpy(s, ts_text, a);
  s[a] = ':';
  memcpy(s + a + 1, method, b);
  s[a + 1 + b] = ':';
  memcpy(s + a + b + 2, target, c + 1);
  *out = s;
  if (len) *len = a + b + c + 2;
  return HM_OK;
}

int hm_httpsig_sign(char **header, size_t *len, int64_t ts, const char *method,
                    const char *target, const uint8_t seed[32]) {
  if (!header || !method || !target || !seed || ts < 0) return HM_ERR_INVAL;
  *header = NULL;
  uint8_t pk[32], sig[64];
  char did[HM_DIDKEY_MAX], tstext[24], b64[89];
  int rc = hm_ed25519_seed_keypair(pk, NULL, seed);
  if (rc == HM_OK) rc = hm_didkey_encode(did, sizeof did, pk);
  if (rc != HM_OK) return rc;
  snprintf(tstext, sizeof tstext, "%lld", (long long)ts);
  char *input = NULL;
  size_t ilen = 0;
  if ((rc = hm_httpsig_signing_input(&input, &ilen, tstext, method, target)) != HM_OK) return rc;
  rc = hm_ed25519_sign(sig, (const uint8_t *)input, ilen, seed);
  hm_free(input);
  if (rc == HM_OK) rc = hm_base64_encode(b64, sizeof b64, sig, 64, 0);
  if (rc != HM_OK) return rc;
  size_t n = strlen(SCHEME) + strlen(did) + 1 + strlen(tstext) + 1 + strlen(b64);
  char *h = hm_malloc(n + 1);
  if (!h) return HM_ERR_NOMEM;
  snprintf(h, n + 1, "%s%s %s %s", SCHEME, did, tstext, b64);
  *header = h;
  if (len) *len = n;
  return HM_OK;
}

/* JS parseInt(s, 10) for our purpose: skip leading whitespace, optional sign, digits
 * (at least one), trailing text ignored. Values beyond 2^53 lose precision in JS; we
 * saturate, which only matters for absurd timestamps that fail the window anyway. */
static int js_parse_int(const char *s, size_t n, long double *out) {
  size_t i = 0;
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' ||
                   s[i] == '\v'))
    i++;
  int neg = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (i >= n || s[i] < '0' || s[i] > '9') return -1;
  long double v = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
  *out = neg ? -v : v;
  return 0;
}

/* Node's Buffer.from(s, "base64"): both alphabets, other characters skipped, stop at
 * the first '='; leftover bits dropped. */
static size_t node_b64_decode(uint8_t *out, size_t cap, const char *in, size_t len) {
  uint32_t acc = 0;
  int bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < len && in[i] != '='; i++) {
    char c = in[i];
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else continue;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o < cap) out[o] = (uint8_t)(acc >> bits);
      o++;
    }
  }
  return o;
}

static int fail(hm_httpsig_result *res, int rc, const char *reason) {
  if (res) res->reason = reason;
  return rc;
}

int hm_httpsig_verify(hm_httpsig_result *res, const char *authorization, const char *method,
                      const char *target, int64_t now_ms, hm_httpsig_profile profile) {
  if (res) memset(res, 0, sizeof *res);
  if (!method || !target) return HM_ERR_INVAL;
  if (profile != HM_HTTPSIG_COMPAT && profile != HM_HTTPSIG_HARDENED) return HM_ERR_INVAL;
  const size_t sl = sizeof SCHEME - 1;
  if (!authorization || strncmp(authorization, SCHEME, sl) != 0)
    return fail(res, HM_ERR_STRUCTURE, HM_HTTPSIG_E_MISSING);

  /* split the rest on single spaces: exactly three parts */
  const char *rest = authorization + sl, *part[3];
  size_t plen[3];
  int nparts = 0;
  const char *p = rest;
  for (;;) {
    const char *sp = strchr(p, ' ');
    if (nparts == 3) return fail(res, HM_ERR_STRUCTURE, HM_HTTPSIG_E_MALFORMED);
    part[nparts] = p;
    plen[nparts] = sp ? (size_t)(sp - p) : strlen(p);
    nparts++;
    if (!sp) break;
    p = sp + 1;
  }
  if (nparts != 3) return fail(res, HM_ERR_STRUCTURE, HM_HTTPSIG_E_MALFORMED);
  if (profile == HM_HTTPSIG_HARDENED && (!plen[0] || !plen[1] || !plen[2]))
    return fail(res, HM_ERR_STRUCTURE, HM_HTTPSIG_E_MALFORMED);

  /* DID */
  char did[HM_HTTPSIG_DID_MAX];
  if (plen[0] < 12 || memcmp(part[0], "did:key:z6Mk", 12) != 0)
    return fail(res, HM_ERR_DID, HM_HTTPSIG_E_DID);
  if (plen[0] >= sizeof did) return fail(res, HM_ERR_DID, HM_HTTPSIG_E_DIDKEY);
  memcpy(did, part[0], plen[0]);
  did[plen[0]] = 0;
  uint8_t pk[32];
  int compat_key_ok = 1;
  if (profile == HM_HTTPSIG_HARDENED) {
    if (hm_didkey_decode(pk, NULL, did, HM_DID_HARDENED) != HM_OK)
      return fail(res, HM_ERR_DID, HM_HTTPSIG_E_DIDKEY);
  } else {
    uint8_t raw[96];
    size_t rawlen = 0;
    if (hm_base58_decode_upstream(raw, sizeof raw, &rawlen, did + 9, plen[0] - 9) != HM_OK ||
        rawlen < 2 || raw[0] != 0xed || raw[1] != 0x01)
      return fail(res, HM_ERR_DID, HM_HTTPSIG_E_DIDKEY);
    if (rawlen == 34)
      memcpy(pk, raw + 2, 32);
    else
      compat_key_ok = 0; /* noble throws on a key that is not 32 bytes: verification fails */
  }

  /* timestamp */
  long double tsv = 0;
  if (profile == HM_HTTPSIG_HARDENED) {
    if (plen[1] < 1 || plen[1] > 13 || (plen[1] > 1 && part[1][0] == '0'))
      return fail(res, HM_ERR_STRUCTURE, HM_HTTPSIG_E_TS);
    for (size_t i = 0; i < plen[1]; i++) {
      if (part[1][i] < '0' || part[1][i] > '9') return fail(res, HM_ERR_STRUCTURE, HM_HTTPSIG_E_TS);
      tsv = tsv * 10 + (part[1][i] - '0');
    }
  } else if (js_parse_int(part[1], plen[1], &tsv) != 0) {
    return fail(res, HM_ERR_STRUCTURE, HM_HTTPSIG_E_TS);
  }
  long double ts_ms = tsv < 1e12L ? tsv * 1000 : tsv;
  long double diff = (long double)now_ms - ts_ms;
  if (diff > HM_HTTPSIG_WINDOW_MS || diff < -HM_HTTPSIG_WINDOW_MS)
    return fail(res, HM_ERR_STALE, HM_HTTPSIG_E_WINDOW);

  /* signature */
  uint8_t sig[64];
  int sig_ok_len = 1;
  if (profile == HM_HTTPSIG_HARDENED) {
    uint8_t buf[66];
    size_t n = 0;
    if (hm_base64_decode(buf, sizeof buf, &n, part[2], plen[2], 0) != HM_OK || n != 64)
      return fail(res, HM_ERR_DECODE, HM_HTTPSIG_E_SIGENC);
    memcpy(sig, buf, 64);
  } else {
    size_t n = node_b64_decode(sig, sizeof sig, part[2], plen[2]);
    sig_ok_len = n == 64;
  }

  char tstext[32];
  if (plen[1] >= sizeof tstext) return fail(res, HM_ERR_STRUCTURE, HM_HTTPSIG_E_TS);
  memcpy(tstext, part[1], plen[1]);
  tstext[plen[1]] = 0;
  char *input = NULL;
  size_t ilen = 0;
  int rc = hm_httpsig_signing_input(&input, &ilen, tstext, method, target);
  if (rc != HM_OK) return rc;
  if (!compat_key_ok || !sig_ok_len)
    rc = HM_ERR_BADSIG;
  else
    rc = hm_ed25519_verify(sig, (const uint8_t *)input, ilen, pk,
                           profile == HM_HTTPSIG_HARDENED ? HM_ED25519_STRICT : HM_ED25519_ZIP215);
  hm_free(input);
  if (rc == HM_ERR_NOMEM) return rc;
  if (rc != HM_OK) return fail(res, rc, HM_HTTPSIG_E_SIG);
  if (res) {
    memcpy(res->did, did, plen[0] + 1);
    res->ts_ms = (int64_t)ts_ms;
    memcpy(res->sig, sig, 64);
  }
  return HM_OK;
}
