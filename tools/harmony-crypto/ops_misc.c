/* tools/harmony-crypto/ops_misc.c - DM and HTTP-signature ops. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/dm.h"
#include "harmony/httpsig.h"
#include "ops.h"

int op_dm_key(hc_ctx *c) {
  uint8_t sk[32], pk[32], key[32];
  int rc = hc_get_hex_fixed(c, "my_x25519_secret_key", sk, 32);
  if (!rc) rc = hc_get_hex_fixed(c, "their_x25519_public_key", pk, 32);
  if (!rc) {
    rc = hm_dm_key(key, sk, pk);
    if (rc) hc_fail(c, rc, "DM key: %s", hm_strerror(rc));
    else rc = hc_set_hex(c, "key", key, 32);
  }
  sodium_memzero(sk, sizeof sk);
  sodium_memzero(key, sizeof key);
  return rc;
}

static int dm_crypt(hc_ctx *c, int seal) {
  uint8_t key[32], nonce[24];
  uint8_t *in = NULL, *out = NULL;
  size_t n = 0, outn = 0;
  int rc = hc_get_hex_fixed(c, "key", key, 32);
  if (!rc) rc = hc_get_hex_fixed(c, "nonce", nonce, 24);
  if (!rc) rc = hc_get_hex_alloc(c, seal ? "plaintext" : "ciphertext", &in, &n);
  if (!rc && !seal && n < HM_AEAD_TAG_LEN) rc = hc_fail(c, HM_ERR_DECODE, "ciphertext shorter than the tag");
  if (!rc) {
    outn = seal ? n + HM_AEAD_TAG_LEN : n - HM_AEAD_TAG_LEN;
    if (!(out = hm_malloc(outn + 1))) rc = hc_fail(c, HM_ERR_NOMEM, "out of memory");
  }
  if (!rc) {
    rc = seal ? hm_dm_seal(out, key, nonce, in, n) : hm_dm_open(out, key, nonce, in, n);
    if (rc) hc_fail(c, rc, seal ? "sealing failed" : "opening failed (bad key, nonce or tag)");
    else rc = hc_set_hex(c, seal ? "ciphertext" : "plaintext", out, outn);
  }
  sodium_memzero(key, sizeof key);
  if (in) hm_free_secret(in, n);
  if (out) hm_free_secret(out, outn + 1);
  return rc;
}
int op_dm_encrypt(hc_ctx *c) { return dm_crypt(c, 1); }
int op_dm_decrypt(hc_ctx *c) { return dm_crypt(c, 0); }

/* Upstream's client (ui-app migration-client.ts): "Harmony-Ed25519 <did> <ts> <btoa(sig)>"
 * with sig = Ed25519(UTF-8("<ts>:<METHOD>:<url>")). The DID is taken as given. */
int op_http_signature(hc_ctx *c) {
  uint8_t seed[32], sig[64];
  const char *did, *method, *url;
  size_t didn, mn, un;
  int64_t ts;
  int rc = hc_get_hex_fixed(c, "seed32", seed, 32);
  if (!rc) rc = hc_get_str(c, "did", &did, &didn);
  if (!rc) rc = hc_get_int(c, "timestamp", &ts);
  if (!rc) rc = hc_get_str(c, "method", &method, &mn);
  if (!rc) rc = hc_get_str(c, "url", &url, &un);
  if (!rc && (strlen(did) != didn || strlen(method) != mn || strlen(url) != un))
    rc = hc_fail(c, HM_ERR_INVAL, "text fields must not contain NUL");
  char *input = NULL, *header = NULL, b64[128];
  size_t inlen = 0;
  if (!rc) {
    char tstext[32];
    snprintf(tstext, sizeof tstext, "%" PRId64, ts);
    rc = hm_httpsig_signing_input(&input, &inlen, tstext, method, url);
    if (rc) hc_fail(c, rc, "signing input");
    else if ((rc = hm_ed25519_sign(sig, (const uint8_t *)input, inlen, seed))) hc_fail(c, rc, "signing failed");
    else if ((rc = hm_base64_encode(b64, sizeof b64, sig, 64, 0))) hc_fail(c, rc, "base64");
    else {
      size_t cap = didn + strlen(b64) + 64;
      header = hm_malloc(cap);
      if (!header) rc = hc_fail(c, HM_ERR_NOMEM, "out of memory");
      else {
        snprintf(header, cap, "Harmony-Ed25519 %s %s %s", did, tstext, b64);
        rc = hc_set_str(c, "authorization", header);
      }
    }
  }
  hm_free(input);
  hm_free(header);
  sodium_memzero(seed, sizeof seed);
  return rc;
}
