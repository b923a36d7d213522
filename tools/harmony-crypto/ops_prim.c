/* tools/harmony-crypto/ops_prim.c - primitive and codec ops of harmony-crypto. */
#include <string.h>

#include <sodium.h>

#include "common.h"
#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "ops.h"

int op_base58_encode(hc_ctx *c) {
  uint8_t *in;
  size_t n;
  int rc = hc_get_hex_alloc(c, "bytes", &in, &n);
  if (rc) return rc;
  if (n > HM_BASE58_MAX_INPUT) {
    hm_free(in);
    return hc_fail(c, HM_ERR_RANGE, "at most %d bytes", HM_BASE58_MAX_INPUT);
  }
  size_t cap = hm_base58_encoded_maxlen(n);
  char *out = hm_malloc(cap);
  if (!out) {
    hm_free(in);
    return hc_fail(c, HM_ERR_NOMEM, "out of memory");
  }
  rc = hm_base58_encode_upstream(out, cap, in, n);
  if (rc == HM_OK) rc = hc_set_str(c, "encoded", out);
  else hc_fail(c, rc, "base58 encoding failed");
  hm_free(out);
  hm_free(in);
  return rc;
}

int op_base58_decode(hc_ctx *c) {
  const char *s;
  size_t n;
  int rc = hc_get_str(c, "encoded", &s, &n);
  if (rc) return rc;
  if (n > HM_BASE58_MAX_INPUT) return hc_fail(c, HM_ERR_RANGE, "at most %d characters", HM_BASE58_MAX_INPUT);
  uint8_t *out = hm_malloc(n + 2);
  if (!out) return hc_fail(c, HM_ERR_NOMEM, "out of memory");
  size_t len = 0;
  rc = hm_base58_decode_upstream(out, n + 2, &len, s, n);
  if (rc == HM_OK) rc = hc_set_hex(c, "bytes", out, len);
  else hc_fail(c, rc, "not base58btc text");
  hm_free(out);
  return rc;
}

int op_ed25519_sign(hc_ctx *c) {
  uint8_t seed[32], sig[64];
  uint8_t *msg = NULL;
  size_t n;
  int rc = hc_get_hex_fixed(c, "seed32", seed, 32);
  if (!rc) rc = hc_get_hex_alloc(c, "message", &msg, &n);
  if (!rc) {
    rc = hm_ed25519_sign(sig, msg, n, seed);
    if (rc) hc_fail(c, rc, "signing failed");
    else rc = hc_set_hex(c, "signature", sig, 64);
  }
  sodium_memzero(seed, sizeof seed);
  hm_free(msg);
  return rc;
}

int op_ed25519_verify(hc_ctx *c) {
  uint8_t *pk = NULL, *msg = NULL, *sig = NULL;
  size_t pkn, msgn, sign;
  const char *mode;
  hm_ed25519_mode m = HM_ED25519_STRICT;
  int rc = hc_get_str(c, "mode", &mode, NULL);
  if (!rc) {
    if (!strcmp(mode, "strict")) m = HM_ED25519_STRICT;
    else if (!strcmp(mode, "zip215")) m = HM_ED25519_ZIP215;
    else rc = hc_fail(c, HM_ERR_INVAL, "field \"mode\" must be \"strict\" or \"zip215\"");
  }
  if (!rc) rc = hc_get_hex_alloc(c, "public_key", &pk, &pkn);
  if (!rc) rc = hc_get_hex_alloc(c, "message", &msg, &msgn);
  if (!rc) rc = hc_get_hex_alloc(c, "signature", &sig, &sign);
  if (!rc) {
    int v;
    /* Upstream's verify turns a wrong-length key or signature into false, not an error. */
    if (pkn != 32) v = HM_ERR_WEAK_KEY;
    else if (sign != 64) v = HM_ERR_BADSIG;
    else v = hm_ed25519_verify(sig, msg, msgn, pk, m);
    if (v != HM_OK && v != HM_ERR_BADSIG && v != HM_ERR_WEAK_KEY) rc = hc_fail(c, v, "verification error");
    else rc = hc_set_verdict(c, v);
  }
  hm_free(pk);
  hm_free(msg);
  hm_free(sig);
  return rc;
}

int op_x25519(hc_ctx *c) {
  uint8_t sk[32], pk[32], shared[32];
  int rc = hc_get_hex_fixed(c, "secret_key", sk, 32);
  if (!rc) rc = hc_get_hex_fixed(c, "public_key", pk, 32);
  if (!rc) {
    rc = hm_x25519(shared, sk, pk);
    if (rc) hc_fail(c, rc, "X25519 failed (all-zero shared secret: low-order public key)");
    else rc = hc_set_hex(c, "shared_secret", shared, 32);
  }
  sodium_memzero(sk, sizeof sk);
  sodium_memzero(shared, sizeof shared);
  return rc;
}

int op_hkdf(hc_ctx *c) {
  uint8_t *ikm = NULL, *salt = NULL, *info = NULL, *okm = NULL;
  size_t ikmn = 0, saltn = 0, infon = 0;
  int64_t len = 0;
  int rc = hc_get_hex_alloc(c, "ikm", &ikm, &ikmn);
  if (!rc) rc = hc_get_hex_alloc(c, "salt", &salt, &saltn);
  if (!rc) rc = hc_get_hex_alloc(c, "info", &info, &infon);
  if (!rc) rc = hc_get_int(c, "length", &len);
  if (!rc && (len < 1 || len > (int64_t)HM_HKDF_SHA256_MAX))
    rc = hc_fail(c, HM_ERR_RANGE, "length must be 1..%u", HM_HKDF_SHA256_MAX);
  if (!rc && !(okm = hm_malloc((size_t)len))) rc = hc_fail(c, HM_ERR_NOMEM, "out of memory");
  if (!rc) {
    /* An empty salt is passed as "no salt": both mean 32 zero bytes (RFC 5869). */
    rc = hm_hkdf_sha256(okm, (size_t)len, ikm, ikmn, saltn ? salt : NULL, saltn, info, infon);
    if (rc) hc_fail(c, rc, "HKDF failed");
    else rc = hc_set_hex(c, "okm", okm, (size_t)len);
  }
  if (okm) hm_free_secret(okm, (size_t)len);
  if (ikm) hm_free_secret(ikm, ikmn);
  hm_free(salt);
  hm_free(info);
  return rc;
}

typedef int (*seal_fn)(uint8_t *, const uint8_t *, const uint8_t *, const uint8_t *, size_t,
                       const uint8_t *, size_t);
typedef int (*open_fn)(uint8_t *, const uint8_t *, const uint8_t *, const uint8_t *, size_t,
                       const uint8_t *, size_t);

static int aead(hc_ctx *c, int seal, size_t nonce_len, seal_fn sf, open_fn of) {
  uint8_t key[32], nonce[24];
  uint8_t *in = NULL, *out = NULL;
  size_t n = 0, outn = 0;
  int rc = hc_get_hex_fixed(c, "key", key, 32);
  if (!rc) rc = hc_get_hex_fixed(c, "nonce", nonce, nonce_len);
  if (!rc) rc = hc_get_hex_alloc(c, seal ? "plaintext" : "ciphertext", &in, &n);
  if (!rc && !seal && n < HM_AEAD_TAG_LEN)
    rc = hc_fail(c, HM_ERR_DECODE, "ciphertext shorter than the 16-byte tag");
  if (!rc) {
    outn = seal ? n + HM_AEAD_TAG_LEN : n - HM_AEAD_TAG_LEN;
    if (!(out = hm_malloc(outn + 1))) rc = hc_fail(c, HM_ERR_NOMEM, "out of memory");
  }
  if (!rc) {
    rc = seal ? sf(out, key, nonce, in, n, NULL, 0) : of(out, key, nonce, in, n, NULL, 0);
    if (rc) hc_fail(c, rc, seal ? "sealing failed" : "opening failed (bad key, nonce or tag)");
    else rc = hc_set_hex(c, seal ? "ciphertext" : "plaintext", out, outn);
  }
  sodium_memzero(key, sizeof key);
  if (in) hm_free_secret(in, n);
  if (out) hm_free_secret(out, outn + 1);
  return rc;
}

int op_xchacha_seal(hc_ctx *c) { return aead(c, 1, 24, hm_xchacha_seal, hm_xchacha_open); }
int op_xchacha_open(hc_ctx *c) { return aead(c, 0, 24, hm_xchacha_seal, hm_xchacha_open); }
int op_aes256gcm_seal(hc_ctx *c) { return aead(c, 1, 12, hm_aes256gcm_seal, hm_aes256gcm_open); }
int op_aes256gcm_open(hc_ctx *c) { return aead(c, 0, 12, hm_aes256gcm_seal, hm_aes256gcm_open); }
