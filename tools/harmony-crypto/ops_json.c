/* tools/harmony-crypto/ops_json.c - stringify and BIP-39 ops. */
#include <string.h>

#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/bip39.h"
#include "harmony/json.h"
#include "ops.h"

int op_stringify(hc_ctx *c) {
  const char *s;
  size_t n;
  int rc = hc_get_str(c, "json", &s, &n);
  if (rc) return rc;
  hm_json *v = NULL;
  hm_json_parse_info info;
  memset(&info, 0, sizeof info);
  /* JSON.parse semantics: duplicate keys are merged (first position, last value). */
  rc = hm_json_parse(&v, s, n, 0, &info);
  if (rc) return hc_fail(c, rc, "json: %s at byte %zu", hm_strerror(rc), info.error_offset);
  char *out = NULL;
  size_t outn = 0;
  rc = hm_json_stringify(&out, &outn, v);
  hm_json_free(v);
  if (rc) return hc_fail(c, rc, "stringify failed");
  rc = hc_set_strn(c, "json", out, outn);
  hm_free(out);
  return rc;
}

int op_entropy_mnemonic(hc_ctx *c) {
  uint8_t ent[32];
  uint8_t *e = NULL;
  size_t n = 0;
  int rc = hc_get_hex_alloc(c, "entropy", &e, &n);
  if (rc) return rc;
  if (n != 16 && n != 20 && n != 24 && n != 28 && n != 32) {
    hm_free_secret(e, n);
    return hc_fail(c, HM_ERR_INVAL, "entropy must be 16, 20, 24, 28 or 32 bytes");
  }
  memcpy(ent, e, n);
  hm_free_secret(e, n);
  char words[HM_BIP39_MNEMONIC_MAX];
  rc = hm_bip39_entropy_to_mnemonic(words, sizeof words, ent, n);
  if (rc) hc_fail(c, rc, "entropy to mnemonic failed");
  else rc = hc_set_str(c, "mnemonic", words);
  sodium_memzero(ent, sizeof ent);
  sodium_memzero(words, sizeof words);
  return rc;
}
